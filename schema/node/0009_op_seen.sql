-- Retention at a node (node/retain.c): other sites' ops older than the
-- window leave op_log, and their identity stays here, so a copy that comes
-- again (a pull from the start after head office was restored) is still a
-- duplicate. A few bytes an op instead of the whole op.
CREATE TABLE op_seen (
	origin  TEXT NOT NULL,
	seq     INTEGER NOT NULL,
	PRIMARY KEY (origin, seq)
) WITHOUT ROWID;
