-- An op's identity is (origin, seq, content): a second op under a used
-- (origin, seq) whose bytes differ is not a duplicate. It is refused, never
-- applied nor passed on, and kept here with why, so that nothing is dropped
-- silently: a restored or copied data folder, or a forger. Alerted
-- (op_conflict) and counted in status. hash is op_hash() of body.
CREATE TABLE op_conflicts (
	origin  TEXT NOT NULL,
	seq     INTEGER NOT NULL,
	hash    BLOB NOT NULL,
	body    BLOB NOT NULL,
	reason  TEXT NOT NULL,
	at      INTEGER NOT NULL,       -- unix ms when refused
	PRIMARY KEY (origin, seq, hash)
) WITHOUT ROWID;
