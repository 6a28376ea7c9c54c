-- Per-order visibility (hub/visibility.c). The ops of an order family (an
-- order, its child fulfilment orders, and the payments, invoices and cases
-- of any of them) carry vis_order, the family's root order; order_sites
-- lists the sites that may see that family now: its creator, its
-- fulfilling site when it has one, and the fulfilling site of every child
-- not released. The stream sends such an op to a site only while
-- order_sites lists the site, so a site allocated an order later gets what
-- comes next (and the rest by a backfill, proto.h), and one that released
-- it gets nothing more. Ops logged before this migration keep vis_order
-- NULL and are sent by vis_site, vis_site2 and vis_region as before.
ALTER TABLE op_log ADD COLUMN vis_order TEXT;
-- A backfill reads a family's ops in lsn order.
CREATE INDEX op_log_vis_order ON op_log (vis_order, lsn)
	WHERE vis_order IS NOT NULL;

CREATE TABLE order_sites (
	order_id TEXT NOT NULL, -- the family's root order
	site     TEXT NOT NULL,
	PRIMARY KEY (order_id, site)
) WITHOUT ROWID;

-- Orders held before this have no children: their creator and fulfilling
-- site see them, as before.
INSERT OR IGNORE INTO order_sites (order_id, site)
	SELECT id, site FROM orders WHERE site != ''
	UNION SELECT id, fulfil_site FROM orders WHERE fulfil_site != '';
