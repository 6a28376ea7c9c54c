-- Ops the hub has received from its sites and acknowledged, not applied
-- yet (hub/server.c, store.h). A PUSH is acknowledged once its new ops
-- are committed here, as one row: ops first to last of origin, their
-- exact bytes one after the other (ends: where each ends, 4 bytes each,
-- big-endian), their chain values (chains: 32 bytes each; empty when the
-- hub keeps none for them), the last one's (chain) and the role of the
-- site that sent them. They are applied in bulk afterwards, row by row
-- in the order received, each op then logged in op_log or quarantined as
-- it would have been at once, and the row taken out. Until then an op
-- here is held as much as a logged one: its (origin, seq) is taken, its
-- chain counts, the same op again is a duplicate and another op under
-- its seq a conflict.
CREATE TABLE op_inbox (
	id      INTEGER PRIMARY KEY,
	origin  TEXT NOT NULL,
	first   INTEGER NOT NULL,
	last    INTEGER NOT NULL,
	role    TEXT NOT NULL,
	chain   BLOB,
	ends    BLOB NOT NULL,
	chains  BLOB NOT NULL,
	ops     BLOB NOT NULL,     -- last: read through only when needed
	UNIQUE (origin, last)
);
