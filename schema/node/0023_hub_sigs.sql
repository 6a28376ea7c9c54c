-- The hub's signatures over its own chain (proto.h, OPS), so that this
-- node can hand a hub restored from a backup its own ops back (RELAY)
-- with the proof that the hub wrote them.
CREATE TABLE hub_sigs (
	seq     INTEGER PRIMARY KEY,
	sig     BLOB NOT NULL
);
