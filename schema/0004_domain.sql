-- The order-management domain. Each table holds state derived from ops by
-- the merge rule named beside it; derived figures (paid, reserved, alerts)
-- are computed by queries, so they too are a function of the set of ops.

-- Per-field last-writer-wins stamps: the (hlc, origin) that last set a field
-- of a record. Used by customers, orders' notes and cases (lww.c).
CREATE TABLE lww_stamps (
	entity  TEXT NOT NULL,
	key     TEXT NOT NULL,
	field   TEXT NOT NULL,
	hlc     INTEGER NOT NULL,
	origin  TEXT NOT NULL,
	PRIMARY KEY (entity, key, field)
) WITHOUT ROWID;

-- Customers: fields LWW, points a counter of deltas, tags an add-wins
-- observed-remove set (an add instance is the op that added it).
CREATE TABLE customers (
	id            TEXT PRIMARY KEY,
	name          TEXT,
	phone         TEXT,
	email         TEXT,
	address       TEXT,
	tier          TEXT NOT NULL DEFAULT 'retail',
	credit_limit  INTEGER,
	currency      TEXT,
	points        INTEGER NOT NULL DEFAULT 0,
	site          TEXT,              -- where it was created
	created_hlc   INTEGER
) WITHOUT ROWID;

CREATE TABLE customer_tag_adds (
	customer  TEXT NOT NULL,
	tag       TEXT NOT NULL,
	origin    TEXT NOT NULL,
	seq       INTEGER NOT NULL,
	PRIMARY KEY (customer, tag, origin, seq)
) WITHOUT ROWID;

CREATE TABLE customer_tag_removes (
	customer  TEXT NOT NULL,
	tag       TEXT NOT NULL,
	origin    TEXT NOT NULL,     -- of the add instance removed
	seq       INTEGER NOT NULL,
	PRIMARY KEY (customer, tag, origin, seq)
) WITHOUT ROWID;

-- Head-office data: single writer (the hq role), LWW per record.
CREATE TABLE products (
	sku     TEXT PRIMARY KEY,
	name    TEXT NOT NULL,
	unit    TEXT NOT NULL DEFAULT 'each',
	active  INTEGER NOT NULL DEFAULT 1,
	hlc     INTEGER NOT NULL,
	origin  TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE prices (
	tier      TEXT NOT NULL,
	sku       TEXT NOT NULL,
	amount    INTEGER NOT NULL,
	currency  TEXT NOT NULL,
	hlc       INTEGER NOT NULL,
	origin    TEXT NOT NULL,
	PRIMARY KEY (tier, sku)
) WITHOUT ROWID;

CREATE TABLE safety_stock (
	site    TEXT NOT NULL,
	sku     TEXT NOT NULL,
	qty     INTEGER NOT NULL,
	hlc     INTEGER NOT NULL,
	origin  TEXT NOT NULL,
	PRIMARY KEY (site, sku)
) WITHOUT ROWID;

-- Orders: created once with their lines; status is a max-register over the
-- status history, an immutable event set.
CREATE TABLE orders (
	id           TEXT PRIMARY KEY,
	site         TEXT NOT NULL,       -- creating site
	channel      TEXT NOT NULL,
	customer     TEXT,
	currency     TEXT NOT NULL,
	fulfil_site  TEXT NOT NULL,
	on_account   INTEGER NOT NULL DEFAULT 0,
	note         TEXT,
	total        INTEGER NOT NULL,
	created_hlc  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX orders_customer ON orders (customer);

CREATE TABLE order_lines (
	order_id    TEXT NOT NULL,
	line        INTEGER NOT NULL,
	sku         TEXT NOT NULL,
	qty         INTEGER NOT NULL,
	unit_price  INTEGER NOT NULL,
	PRIMARY KEY (order_id, line)
) WITHOUT ROWID;

CREATE TABLE order_history (
	order_id  TEXT NOT NULL,
	origin    TEXT NOT NULL,
	seq       INTEGER NOT NULL,
	hlc       INTEGER NOT NULL,
	status    TEXT NOT NULL,
	rank      INTEGER NOT NULL,
	tracking  TEXT,
	reason    TEXT,
	PRIMARY KEY (order_id, origin, seq)
) WITHOUT ROWID;

-- Status of an order = the highest rank in its history.
CREATE VIEW order_status AS
	SELECT order_id, max(rank) AS rank FROM order_history GROUP BY order_id;

-- Payments and refunds (negative amounts): immutable, keyed by id.
CREATE TABLE payments (
	id        TEXT PRIMARY KEY,
	order_id  TEXT NOT NULL,
	method    TEXT NOT NULL,
	amount    INTEGER NOT NULL,
	currency  TEXT NOT NULL,
	site      TEXT NOT NULL,
	hlc       INTEGER NOT NULL,
	origin    TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX payments_order ON payments (order_id);

-- Invoices: numbered by the issuing site; status a max-register.
CREATE TABLE invoices (
	id          TEXT PRIMARY KEY,
	order_id    TEXT NOT NULL,
	site        TEXT NOT NULL,
	amount      INTEGER NOT NULL,
	currency    TEXT NOT NULL,
	issued_ms   INTEGER NOT NULL,
	due_ms      INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE invoice_history (
	invoice_id  TEXT NOT NULL,
	origin      TEXT NOT NULL,
	seq         INTEGER NOT NULL,
	hlc         INTEGER NOT NULL,
	status      TEXT NOT NULL,
	rank        INTEGER NOT NULL,
	PRIMARY KEY (invoice_id, origin, seq)
) WITHOUT ROWID;

-- After-sales cases: fields LWW (assignee, resolution, rating), status a
-- max-register over the history, comments immutable.
CREATE TABLE cases (
	id           TEXT PRIMARY KEY,
	kind         TEXT NOT NULL,
	order_id     TEXT,
	customer     TEXT,
	site         TEXT NOT NULL,
	description  TEXT,
	assignee     TEXT,
	resolution   TEXT,
	rating       INTEGER,
	created_hlc  INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE case_lines (
	case_id  TEXT NOT NULL,
	line     INTEGER NOT NULL,
	sku      TEXT NOT NULL,
	qty      INTEGER NOT NULL,
	PRIMARY KEY (case_id, line)
) WITHOUT ROWID;

CREATE TABLE case_history (
	case_id  TEXT NOT NULL,
	origin   TEXT NOT NULL,
	seq      INTEGER NOT NULL,
	hlc      INTEGER NOT NULL,
	status   TEXT NOT NULL,
	rank     INTEGER NOT NULL,
	PRIMARY KEY (case_id, origin, seq)
) WITHOUT ROWID;

CREATE TABLE case_comments (
	case_id  TEXT NOT NULL,
	origin   TEXT NOT NULL,
	seq      INTEGER NOT NULL,
	hlc      INTEGER NOT NULL,
	author   TEXT,
	text     TEXT NOT NULL,
	PRIMARY KEY (case_id, origin, seq)
) WITHOUT ROWID;

CREATE INDEX stock_movements_ref ON stock_movements (ref);
