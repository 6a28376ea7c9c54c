-- What this node asks the hub to send again since it became entitled to
-- more (proto.h, BACKFILL): "order:ID", the family of an order allocated
-- to this site (a child order whose fulfil_site is this site was applied),
-- or "region:NAME", the stock movements of the region the site moved to
-- (a WELCOME named another region than meta region). after is the hub
-- lsn up to which the answers are applied, moved in the transaction that
-- applies them; the row goes once the hub says it is done.
CREATE TABLE backfills (
	key   TEXT PRIMARY KEY,
	after INTEGER NOT NULL DEFAULT 0,
	since INTEGER NOT NULL -- unix ms when the node became entitled
) WITHOUT ROWID;
