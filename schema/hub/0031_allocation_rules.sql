-- Head office's allocation of online and b2b orders (hub/allocate.c).
--
-- alloc_rules: the sites the allocator may choose, each with its priority
-- (lower first). No row: every active warehouse, priority 0.
-- alloc_settings: one row; split = 1 lets an order be split over several
-- sites when no single site has every line.
CREATE TABLE alloc_rules (
	site      TEXT PRIMARY KEY,
	priority  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE alloc_settings (
	id          INTEGER PRIMARY KEY CHECK (id = 1),
	split       INTEGER NOT NULL,
	updated_ms  INTEGER NOT NULL       -- unix ms, 0 never set
);
INSERT INTO alloc_settings(id, split, updated_ms) VALUES (1, 1, 0);

-- alloc_queue: the orders the allocator has to look at, due at due_ms
-- (unix ms; 0: now). An online or b2b order without a fulfilling site
-- is queued by the triggers below whenever its history or a child's
-- history grows, in the transaction that applied the op, so the
-- allocator finds its work by this table's index and never reads the
-- orders it has nothing to do for. It takes a row out once the order is
-- allocated, cancelled with its children, or not confirmed yet; one that
-- cannot be allocated stays, due again later, with why (failed, since
-- failed_ms: an allocation_failed alert).
CREATE TABLE alloc_queue (
	order_id   TEXT PRIMARY KEY,
	due_ms     INTEGER NOT NULL,
	tries      INTEGER NOT NULL DEFAULT 0,
	failed     TEXT,
	failed_ms  INTEGER
) WITHOUT ROWID;
CREATE INDEX alloc_queue_due ON alloc_queue (due_ms);

-- A new status history entry of an unallocated order, or of a child of
-- one (its create, a release, a shipment), makes the order due now. The
-- orders row is written before its first history entry (order.c).
CREATE TRIGGER alloc_wake AFTER INSERT ON order_history
BEGIN
	INSERT INTO alloc_queue(order_id, due_ms)
		SELECT coalesce(o.parent, o.id), 0 FROM orders o
		WHERE o.id = NEW.order_id AND (o.parent IS NOT NULL OR
		    (o.fulfil_site = '' AND o.channel IN ('online', 'b2b')))
		ON CONFLICT(order_id) DO UPDATE SET due_ms = 0;
END;
