-- The stock effects of orders follow their final merged state (SPEC §4,
-- sync/domain/effect.h). A movement keeps its delta, what was recorded,
-- and gains what it counts in on hand: on hand is the sum of counted.
--   order_id  the order a movement is an effect of, NULL for none: its
--             sale (id ORDER-out-N, reason sale, ref ORDER), the restock
--             of its cancellation (id ORDER-back-N, reason return, ref
--             ORDER), or a return against it (the op names the order)
--   effect    'sale', 'restock' or 'return'; NULL for none
--   counted   the delta, or less when the order's merged state says so
ALTER TABLE stock_movements ADD COLUMN order_id TEXT;
ALTER TABLE stock_movements ADD COLUMN effect TEXT;
ALTER TABLE stock_movements ADD COLUMN counted INTEGER NOT NULL DEFAULT 0;
UPDATE stock_movements SET counted = delta;

-- The sales and restocks already recorded, recognised by their ids as the
-- rules recognise them (returns written before could not name the order).
UPDATE stock_movements SET order_id = ref, effect = 'sale'
	WHERE reason = 'sale' AND ref IS NOT NULL
	AND length(id) > length(ref) + 5
	AND substr(id, 1, length(ref) + 5) = ref || '-out-'
	AND substr(id, length(ref) + 6) NOT GLOB '*[^0-9]*';
UPDATE stock_movements SET order_id = ref, effect = 'restock'
	WHERE reason = 'return' AND ref IS NOT NULL
	AND length(id) > length(ref) + 6
	AND substr(id, 1, length(ref) + 6) = ref || '-back-'
	AND substr(id, length(ref) + 7) NOT GLOB '*[^0-9]*';

-- Counted as the rule counts them (effect.c): for an order known here, a
-- sale counts while the order's status says its goods left (a store sale
-- from confirmed on, any other order from shipped on; never cancelled,
-- rank 4) and a restock never does. An order not known here: as written.
UPDATE stock_movements SET counted = CASE
	WHEN effect = 'restock' THEN 0
	WHEN (SELECT s.rank != 4 AND s.rank >= CASE o.channel
		WHEN 'store' THEN 1 ELSE 5 END
		FROM orders o JOIN order_status s ON s.order_id = o.id
		WHERE o.id = stock_movements.order_id) THEN delta
	ELSE 0 END
	WHERE effect IS NOT NULL
	AND order_id IN (SELECT id FROM orders);
UPDATE stock SET on_hand = on_hand - (SELECT coalesce(sum(m.delta - m.counted), 0)
	FROM stock_movements m WHERE m.site = stock.site AND m.sku = stock.sku);

-- Only linked movements are indexed: a plain movement writes no more pages.
-- Returns, rare, once more for what the alerts and the checks of a new
-- return read (all returns of an order and sku).
CREATE INDEX stock_movements_order ON stock_movements (order_id)
	WHERE order_id IS NOT NULL;
CREATE INDEX stock_movements_return ON stock_movements (order_id, sku)
	WHERE effect = 'return';
