-- The region head office put each site in (sync/domain/site.h): one
-- last-writer-wins register per site, written by head office's op
-- site_region when `bl-hub region` moves a site, and applied by every
-- replica, so that a node learns that a store moved into its region and
-- backfills that store's earlier stock movements ("site:ID", proto.h).
-- A site never moved has no row: its movements went to its region all
-- along.
CREATE TABLE site_regions (
	site    TEXT PRIMARY KEY,
	region  TEXT NOT NULL,
	role    TEXT NOT NULL, -- store or warehouse
	hlc     INTEGER NOT NULL,
	origin  TEXT NOT NULL
) WITHOUT ROWID;
