-- Stock: immutable movements (a grow-only set keyed by id) and on-hand per
-- (site, sku) as their sum, kept in the same transaction as each movement.

CREATE TABLE stock_movements (
	id      TEXT PRIMARY KEY,
	site    TEXT NOT NULL,
	sku     TEXT NOT NULL,
	delta   INTEGER NOT NULL,
	reason  TEXT NOT NULL,
	ref     TEXT,
	hlc     INTEGER NOT NULL,
	origin  TEXT NOT NULL,
	seq     INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE stock (
	site      TEXT NOT NULL,
	sku       TEXT NOT NULL,
	on_hand   INTEGER NOT NULL DEFAULT 0,
	reserved  INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (site, sku)
) WITHOUT ROWID;
