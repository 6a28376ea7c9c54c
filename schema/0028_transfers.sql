-- Transfers between sites as documents (sync/domain/transfer.h). A
-- transfer is created once, at its source, under the source's id; its
-- status is a max-register over its history, an immutable event set, as
-- an order's is. What is in transit, the quantity received, the
-- discrepancy and the alert on it are derived by queries, so they too are
-- a function of the set of ops.
CREATE TABLE transfers (
	id              TEXT PRIMARY KEY,
	site            TEXT NOT NULL,    -- the source: creates and ships it
	to_site         TEXT NOT NULL,    -- the destination: receives it
	sku             TEXT NOT NULL,
	qty             INTEGER NOT NULL, -- asked for, and sent when shipped
	created_hlc     INTEGER NOT NULL,
	created_origin  TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX transfers_to_site ON transfers (to_site);

-- One entry per status op: requested (the create), shipped, received
-- (qty: what arrived), reconciled (note: head office's).
CREATE TABLE transfer_history (
	transfer_id  TEXT NOT NULL,
	origin       TEXT NOT NULL,
	seq          INTEGER NOT NULL,
	hlc          INTEGER NOT NULL,
	status       TEXT NOT NULL,
	rank         INTEGER NOT NULL,
	qty          INTEGER,
	note         TEXT,
	PRIMARY KEY (transfer_id, origin, seq)
) WITHOUT ROWID;
