-- The replica core, at the hub and at every node.

-- Small named values: this replica's site id and role, its clock, its next
-- op seq, the pull cursor and what the hub acknowledged.
CREATE TABLE meta (
	name  TEXT PRIMARY KEY,
	value
) WITHOUT ROWID;

-- Every op this replica has accepted, its own and others'. lsn is the local
-- arrival order; at the hub it is the hub sequence number nodes pull by.
CREATE TABLE op_log (
	lsn     INTEGER PRIMARY KEY,
	origin  TEXT NOT NULL,
	seq     INTEGER NOT NULL,
	hlc     INTEGER NOT NULL,
	entity  TEXT NOT NULL,
	key     TEXT NOT NULL,
	body    BLOB NOT NULL,          -- canonical CBOR of the op
	UNIQUE (origin, seq)
);

-- Ops received but not applied, with why. They count as received (the hub
-- acknowledges them, a node's cursor moves past them) so they never block
-- the ops behind them.
CREATE TABLE quarantine (
	origin  TEXT NOT NULL,
	seq     INTEGER NOT NULL,
	body    BLOB NOT NULL,
	reason  TEXT NOT NULL,
	at      INTEGER NOT NULL,       -- unix ms when quarantined
	PRIMARY KEY (origin, seq)
) WITHOUT ROWID;
