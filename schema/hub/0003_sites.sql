-- The hub's site registry: who may connect (CURVE public key, Z85) and with
-- which role. A revoked site keeps its row so its history stays explained.

CREATE TABLE sites (
	id          TEXT PRIMARY KEY,
	role        TEXT NOT NULL CHECK (role IN ('store', 'warehouse', 'hq')),
	pubkey      TEXT NOT NULL UNIQUE,
	name        TEXT,
	region      TEXT NOT NULL DEFAULT 'default',
	enrolled_at INTEGER NOT NULL,   -- unix ms
	revoked_at  INTEGER             -- unix ms, NULL while active
) WITHOUT ROWID;
