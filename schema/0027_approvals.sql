-- Approvals of special prices (sync/domain/approval.h).

-- A new order status, pending_approval, comes in between draft and
-- confirmed (sync/domain/lifecycle.c, order.h's ORDER_RANK_*): every status
-- from confirmed on moves one rank up, so that a history written before
-- keeps its meaning (the status of an order is the highest rank in it).
UPDATE order_history SET rank = rank + 1 WHERE rank >= 1;

-- A product's category (PUT /v1/products/{sku}), which an approval
-- threshold may name. NULL: none.
ALTER TABLE products ADD COLUMN category TEXT;

-- Head office's thresholds: how far below the customer's tier price a line
-- may be priced without head office's approval, in whole percent. One
-- last-writer-wins register per key: 'default', 'tier/TIER' or
-- 'category/CATEGORY'.
CREATE TABLE approval_thresholds (
	key       TEXT PRIMARY KEY,
	tier      TEXT,
	category  TEXT,
	percent   INTEGER NOT NULL,
	hlc       INTEGER NOT NULL,
	origin    TEXT NOT NULL
) WITHOUT ROWID;

-- The orders whose create (the one that defines the order: the earliest,
-- order.c) says their prices need head office's approval, and why.
CREATE TABLE order_approvals (
	order_id  TEXT PRIMARY KEY,
	reason    TEXT NOT NULL
) WITHOUT ROWID;

-- Head office's decisions: the transitions that carry one (approved, to
-- confirmed; rejected, to cancelled), with their comment. Immutable.
CREATE TABLE approval_decisions (
	order_id  TEXT NOT NULL,
	origin    TEXT NOT NULL,
	seq       INTEGER NOT NULL,
	hlc       INTEGER NOT NULL,
	decision  TEXT NOT NULL,
	comment   TEXT,
	PRIMARY KEY (order_id, origin, seq)
) WITHOUT ROWID;

-- Ops quarantined until head office approves their order (own.h): the
-- daemons look for them every second by this index. The condition is the
-- one own_retry_arrived queries by.
CREATE INDEX quarantine_approval ON quarantine(origin, seq)
	WHERE instr(reason, ': pending approval: ') > 0;
