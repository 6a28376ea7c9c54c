-- The status of an order as everyone counts it (sync/domain/fulfil.h):
-- sales, exposure, reservations, GET /v1/orders?status= and the alerts
-- read this view, and GET /v1/orders/{id} shows it, so they all agree.
--
-- An ordinary order or a fulfilment order (a child, with a parent): the
-- highest rank in its own history, a max-register, as before.
--
-- An order head office allocates (fulfil_site '', no parent): the highest
-- of
--   * its own rank;
--   * the lowest rank of its live children (not cancelled) when they
--     cover every one of its lines (a line of the parent is covered when
--     a live child has a line with its sku, qty and unit price; lines
--     alike count one for one, as fulfil_cover matches them), so a
--     parent whose fulfilments all shipped is shipped;
--   * shipped, when its own rank is cancelled and one of its children
--     reached shipped or beyond: a fulfilment's shipment outranks the
--     parent's cancellation, as a shipment outranks a cancellation of
--     one order (SPEC §4: the goods left); the alert conflicting_transition
--     reports it.
-- Everything here is read from the orders, their lines and histories, so
-- the status is a function of the set of ops, whatever their order.
--
-- Ranks as in sync/domain/order.h: cancelled 5, shipped 6. A view of one
-- row per order without grouping, so SQLite folds it into the query that
-- joins it and computes the status of the orders that query reads only.
DROP VIEW order_status;
CREATE VIEW order_status AS
SELECT o.id AS order_id,
	CASE WHEN o.fulfil_site != '' OR o.parent IS NOT NULL THEN
		(SELECT max(h.rank) FROM order_history h
		 WHERE h.order_id = o.id)
	ELSE (SELECT max(p.own,
		    CASE WHEN p.low IS NOT NULL AND p.covered THEN p.low
		    ELSE -1 END,
		    CASE WHEN p.own = 5 AND p.shipped THEN 6 ELSE -1 END)
		FROM (SELECT
		    (SELECT max(h.rank) FROM order_history h
		     WHERE h.order_id = o.id) AS own,
		    (SELECT min(k.r) FROM (SELECT (SELECT max(h.rank)
			 FROM order_history h WHERE h.order_id = c.id) AS r
			 FROM orders c WHERE c.parent = o.id) k
		     WHERE k.r != 5) AS low,
		    EXISTS (SELECT 1 FROM orders c WHERE c.parent = o.id
			AND (SELECT max(h.rank) FROM order_history h
			     WHERE h.order_id = c.id) >= 6) AS shipped,
		    NOT EXISTS (SELECT 1 FROM order_lines l
			WHERE l.order_id = o.id
			AND (SELECT count(*) FROM order_lines q
			     WHERE q.order_id = o.id AND q.sku = l.sku
			     AND q.qty = l.qty
			     AND q.unit_price = l.unit_price) >
			    (SELECT count(*) FROM orders c
			     JOIN order_lines q ON q.order_id = c.id
			     WHERE c.parent = o.id AND q.sku = l.sku
			     AND q.qty = l.qty
			     AND q.unit_price = l.unit_price
			     AND (SELECT max(h.rank) FROM order_history h
				  WHERE h.order_id = c.id) != 5)) AS covered) p)
	END AS rank
FROM orders o
WHERE EXISTS (SELECT 1 FROM order_history h WHERE h.order_id = o.id);
