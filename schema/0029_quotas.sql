-- Escrowed stock quotas (sync/domain/quota.h): the rights a warehouse or
-- head office grants a site to promise the warehouse's stock of a sku,
-- and what spends and gives them back. Each table is a set of immutable
-- facts; every figure (spent, returned, available, promised) is derived
-- from them by a query, so it is a function of the set of ops.

-- Grants: one per id; of two creates of an id, the lower (hlc, origin).
CREATE TABLE quotas (
	id         TEXT PRIMARY KEY,
	warehouse  TEXT NOT NULL,      -- whose stock the rights are on
	site       TEXT NOT NULL,      -- the holder, fixed at the grant
	sku        TEXT NOT NULL,
	qty        INTEGER NOT NULL,   -- rights granted
	hlc        INTEGER NOT NULL,
	origin     TEXT NOT NULL       -- the granter: the warehouse or head office
) WITHOUT ROWID;
CREATE INDEX quotas_holder ON quotas (site, warehouse, sku);
CREATE INDEX quotas_stock ON quotas (warehouse, sku);

-- Recalls (by head office or the warehouse) and returns (by the holder),
-- each the op that wrote it; they count only when the fields they name
-- are the grant's.
CREATE TABLE quota_recalls (
	quota      TEXT NOT NULL,
	origin     TEXT NOT NULL,
	seq        INTEGER NOT NULL,
	hlc        INTEGER NOT NULL,
	warehouse  TEXT NOT NULL,
	site       TEXT NOT NULL,
	reason     TEXT,
	PRIMARY KEY (quota, origin, seq)
) WITHOUT ROWID;

CREATE TABLE quota_returns (
	quota      TEXT NOT NULL,
	origin     TEXT NOT NULL,
	seq        INTEGER NOT NULL,
	hlc        INTEGER NOT NULL,
	warehouse  TEXT NOT NULL,
	site       TEXT NOT NULL,
	PRIMARY KEY (quota, origin, seq)
) WITHOUT ROWID;

-- What the create op that defines an order spends (its "rights"), with
-- that op's origin and seq, and whether it is a backorder.
CREATE TABLE quota_spends (
	order_id  TEXT NOT NULL,
	quota     TEXT NOT NULL,
	sku       TEXT NOT NULL,
	qty       INTEGER NOT NULL,
	origin    TEXT NOT NULL,
	seq       INTEGER NOT NULL,
	PRIMARY KEY (order_id, quota, sku)
) WITHOUT ROWID;
CREATE INDEX quota_spends_quota ON quota_spends (quota);

CREATE TABLE quota_backorders (
	order_id  TEXT PRIMARY KEY
) WITHOUT ROWID;
