/* catalog: products, tier prices, safety stock (see catalog.h). */
#include "catalog.h"

#include <string.h>

#include "cmd.h"
#include "customer.h"
#include "money.h"
#include "rec.h"
#include "req.h"

static json_t *s_prices(store_t *st, const char *sku);

static const char *const s_tiers[] = { "retail", "member", "vip", "wholesale",
	NULL };

static int
s_check_product(const json_t *f, err_t *err)
{
	static const char *const allowed[] = { "name", "unit", "active",
		"category", NULL };
	const char *s;
	int b;

	return req_only(f, allowed, err) ||
	    req_text(f, "name", REQ_TEXT_MAX, 1, &s, err) ||
	    req_text(f, "unit", 16, 0, &s, err) ||
	    req_bool(f, "active", 1, &b, err) ||
	    req_text(f, "category", CATALOG_CATEGORY_MAX, 0, &s, err);
}

int
catalog_apply_product(store_t *st, const op_t *op, err_t *err)
{
	sqlite3_stmt *s;
	int active;

	if (strcmp(op->kind, "set") != 0)
		return err_set(err, ERR_BAD_REQUEST,
		    "product %s: unknown kind '%s'", op->key, op->kind);
	if (s_check_product(op->fields, err))
		return err_prefix(err, "product %s", op->key);
	req_bool(op->fields, "active", 1, &active, NULL);
	s = store_stmt(st,
	    "INSERT INTO products(sku, name, unit, active, hlc, "
	    "origin, category) VALUES (?1, ?2, coalesce(?3, 'each'), ?4, ?5, "
	    "?6, ?7) ON CONFLICT(sku) DO UPDATE SET name = excluded.name, "
	    "unit = excluded.unit, active = excluded.active, hlc = excluded.hlc, "
	    "origin = excluded.origin, category = excluded.category "
	    "WHERE (excluded.hlc, excluded.origin) > "
	    "(products.hlc, products.origin)");
	sqlite3_bind_text(s, 1, op->key, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2,
	    json_string_value(json_object_get(op->fields, "name")), -1,
	    SQLITE_STATIC);
	sqlite3_bind_text(s, 3,
	    json_string_value(json_object_get(op->fields, "unit")), -1,
	    SQLITE_STATIC);
	sqlite3_bind_int(s, 4, active);
	sqlite3_bind_int64(s, 5, (int64_t)op->hlc);
	sqlite3_bind_text(s, 6, op->origin, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 7,
	    json_string_value(json_object_get(op->fields, "category")), -1,
	    SQLITE_STATIC);
	return store_step(st, s, "product", err);
}

static int
s_check_price(const json_t *f, err_t *err)
{
	static const char *const allowed[] = { "tier", "sku", "amount",
		"currency", NULL };
	const char *s;
	int64_t n;

	return req_only(f, allowed, err) ||
	    req_enum(f, "tier", s_tiers, 1, &s, err) ||
	    req_text(f, "sku", REQ_ID_MAX, 1, &s, err) ||
	    /* A price is what an order line may carry (money.h). */
	    req_int(f, "amount", 0, MONEY_PRICE_MAX, 1, 0, &n, err) ||
	    req_currency(f, "currency", 1, &s, err);
}

int
catalog_apply_price(store_t *st, const op_t *op, err_t *err)
{
	sqlite3_stmt *s;
	const json_t *f = op->fields;

	if (strcmp(op->kind, "set") != 0)
		return err_set(err, ERR_BAD_REQUEST,
		    "price %s: unknown kind '%s'", op->key, op->kind);
	if (s_check_price(f, err))
		return err_prefix(err, "price %s", op->key);
	s = store_stmt(st,
	    "INSERT INTO prices(tier, sku, amount, currency, hlc, "
	    "origin) VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
	    "ON CONFLICT(tier, sku) DO UPDATE SET amount = excluded.amount, "
	    "currency = excluded.currency, hlc = excluded.hlc, "
	    "origin = excluded.origin WHERE (excluded.hlc, excluded.origin) > "
	    "(prices.hlc, prices.origin)");
	sqlite3_bind_text(s, 1, json_string_value(json_object_get(f, "tier")),
	    -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, json_string_value(json_object_get(f, "sku")),
	    -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3,
	    json_integer_value(json_object_get(f, "amount")));
	sqlite3_bind_text(s, 4,
	    json_string_value(json_object_get(f, "currency")), -1,
	    SQLITE_STATIC);
	sqlite3_bind_int64(s, 5, (int64_t)op->hlc);
	sqlite3_bind_text(s, 6, op->origin, -1, SQLITE_STATIC);
	return store_step(st, s, "price", err);
}

static int
s_check_safety(const json_t *f, err_t *err)
{
	static const char *const allowed[] = { "site", "sku", "qty", NULL };
	const char *s;
	int64_t n;

	if (req_only(f, allowed, err) ||
	    req_text(f, "site", OP_SITE_MAX, 1, &s, err) ||
	    req_text(f, "sku", REQ_ID_MAX, 1, &s, err) ||
	    req_int(f, "qty", 0, 1000000000, 1, 0, &n, err))
		return -1;
	if (!op_site_valid(json_string_value(json_object_get(f, "site"))))
		return err_set(err, ERR_BAD_REQUEST, "site: not a site id");
	return 0;
}

int
catalog_apply_safety(store_t *st, const op_t *op, err_t *err)
{
	sqlite3_stmt *s;
	const json_t *f = op->fields;

	if (strcmp(op->kind, "set") != 0)
		return err_set(err, ERR_BAD_REQUEST,
		    "safety stock %s: unknown kind '%s'", op->key, op->kind);
	if (s_check_safety(f, err))
		return err_prefix(err, "safety stock %s", op->key);
	s = store_stmt(st,
	    "INSERT INTO safety_stock(site, sku, qty, hlc, origin) "
	    "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(site, sku) DO UPDATE SET "
	    "qty = excluded.qty, hlc = excluded.hlc, origin = excluded.origin "
	    "WHERE (excluded.hlc, excluded.origin) > "
	    "(safety_stock.hlc, safety_stock.origin)");
	sqlite3_bind_text(s, 1, json_string_value(json_object_get(f, "site")),
	    -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, json_string_value(json_object_get(f, "sku")),
	    -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, json_integer_value(json_object_get(f, "qty")));
	sqlite3_bind_int64(s, 4, (int64_t)op->hlc);
	sqlite3_bind_text(s, 5, op->origin, -1, SQLITE_STATIC);
	return store_step(st, s, "safety stock", err);
}

/* ---- commands: one op each, head office only ---- */

/* The step of every put, in its command's transaction (cmd_run): c->kind
 * is the entity, c->id the record's key, c->req the op's fields. What it
 * depends on is checked in the same transaction, and the answer read back
 * there. */
static int
s_put_step(store_t *st, void *arg, err_t *err)
{
	cmd_t *c = arg;
	const char *sku = json_string_value(json_object_get(c->req, "sku"));

	if (!store_is_hq(st))
		return err_set(err, ERR_FORBIDDEN,
		    "%s %s: head office data is written at the hub only",
		    c->kind, c->id);
	if (strcmp(c->kind, PRICE_ENTITY) == 0 && !catalog_has(st, sku))
		return err_set(err, ERR_NOT_FOUND,
		    "sku: %s is not in the catalog", sku);
	if (store_append_local(st, c->kind, c->id, "set", (json_t *)c->req,
		NULL, err))
		return -1;
	c->created = 1;
	if (strcmp(c->kind, PRODUCT_ENTITY) == 0)
		return catalog_product(st, c->id, &c->out, err);
	if (strcmp(c->kind, PRICE_ENTITY) == 0)
		return rec_items(st, s_prices(st, sku), &c->out, err);
	c->out = json_deep_copy(c->req);
	return 0;
}

/* Runs the put of fields (stolen) as entity/key. */
static int
s_put(store_t *st, const char *entity, const char *key, json_t *fields,
    json_t **out, err_t *err)
{
	int rc = cmd_run(st, s_put_step, fields, key, entity, out, NULL, err);

	json_decref(fields);
	return rc;
}

int
catalog_put_product(store_t *st, const char *sku, const json_t *req,
    json_t **out, err_t *err)
{
	if (strlen(sku) > REQ_ID_MAX || sku[0] == '\0')
		return err_set(err, ERR_BAD_REQUEST,
		    "sku: must be 1 to %d characters", REQ_ID_MAX);
	if (s_check_product(req, err))
		return -1;
	return s_put(st, PRODUCT_ENTITY, sku, json_deep_copy(req), out, err);
}

int
catalog_put_price(store_t *st, const char *tier, const char *sku,
    const json_t *req, json_t **out, err_t *err)
{
	char key[OP_KEY_MAX + 1];
	json_t *f = json_deep_copy(req);

	json_object_set_new(f, "tier", json_string(tier));
	json_object_set_new(f, "sku", json_string(sku));
	if (s_check_price(f, err)) {
		json_decref(f);
		return -1;
	}
	snprintf(key, sizeof key, "%s/%s", tier, sku);
	return s_put(st, PRICE_ENTITY, key, f, out, err);
}

int
catalog_put_safety(store_t *st, const char *site, const char *sku,
    const json_t *req, json_t **out, err_t *err)
{
	char key[OP_KEY_MAX + 1];
	json_t *f = json_deep_copy(req);

	json_object_set_new(f, "site", json_string(site));
	json_object_set_new(f, "sku", json_string(sku));
	if (s_check_safety(f, err)) {
		json_decref(f);
		return -1;
	}
	snprintf(key, sizeof key, "%s/%s", site, sku);
	return s_put(st, SAFETY_ENTITY, key, f, out, err);
}

/* ---- queries ---- */

static json_t *
s_product_row(sqlite3_stmt *s)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:b}", "sku",
	    (const char *)sqlite3_column_text(s, 0), "name",
	    (const char *)sqlite3_column_text(s, 1), "unit",
	    (const char *)sqlite3_column_text(s, 2), "active",
	    sqlite3_column_int(s, 3));

	if (sqlite3_column_type(s, 4) != SQLITE_NULL)
		json_object_set_new(o, "category",
		    json_string((const char *)sqlite3_column_text(s, 4)));
	return o;
}

/* The prices of sku (of every sku when NULL), as an array. */
static json_t *
s_prices(store_t *st, const char *sku)
{
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT tier, sku, amount, currency "
	    "FROM prices WHERE ?1 IS NULL OR sku = ?1 ORDER BY sku, tier");
	json_t *items = json_array();

	if (sku != NULL)
		sqlite3_bind_text(s, 1, sku, -1, SQLITE_STATIC);
	while (store_row(st, s))
		json_array_append_new(items,
		    json_pack("{s:s, s:s, s:I, s:s}", "tier",
			(const char *)sqlite3_column_text(s, 0), "sku",
			(const char *)sqlite3_column_text(s, 1), "amount",
			(json_int_t)sqlite3_column_int64(s, 2), "currency",
			(const char *)sqlite3_column_text(s, 3)));
	sqlite3_reset(s);
	return items;
}

int
catalog_product(store_t *st, const char *sku, json_t **out, err_t *err)
{
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT sku, name, unit, active, category "
	    "FROM products WHERE sku = ?");
	json_t *o = NULL;

	sqlite3_bind_text(s, 1, sku, -1, SQLITE_STATIC);
	if (store_row(st, s))
		o = s_product_row(s);
	sqlite3_reset(s);
	if (o != NULL)
		json_object_set_new(o, "prices",
		    json_pack("{s:o}", "items", s_prices(st, sku)));
	return rec_found(st, o, "product", sku, out, err);
}

int
catalog_products(store_t *st, const json_t *query, json_t **out, err_t *err)
{
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT sku, name, unit, active, category "
	    "FROM products ORDER BY sku");
	json_t *items = json_array();

	(void)query; /* no filters */
	while (store_row(st, s))
		json_array_append_new(items, s_product_row(s));
	sqlite3_reset(s);
	return rec_items(st, items, out, err);
}

int
catalog_prices(store_t *st, const json_t *query, json_t **out, err_t *err)
{
	return rec_items(st, s_prices(st, req_query(query, "sku")), out, err);
}

int
catalog_has(store_t *st, const char *sku)
{
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT count(*) FROM products "
	    "WHERE sku = ?");

	sqlite3_bind_text(s, 1, sku, -1, SQLITE_STATIC);
	return store_query_int(st, s, 0) > 0;
}

/* The price of sku in currency for tier, else for retail: 1 with *amount
 * and the tier it came from in used (when used is not NULL), 0 when
 * neither has one. At most two rows match (the key is tier and sku);
 * the preferred one is picked here rather than by an ORDER BY, which
 * would build a temporary b-tree on every sale's line. Two lookups by the
 * key, not "tier IN (?2, 'retail')": an IN list of values builds a
 * temporary b-tree too, on every sale's line. */
static int
s_tier_price(store_t *st, const char *tier, const char *sku,
    const char *currency, int64_t *amount, char *used, size_t size)
{
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT amount, 1 FROM prices WHERE tier = ?2 AND sku = ?1 AND "
	    "currency = ?3 UNION ALL SELECT amount, 0 FROM prices "
	    "WHERE tier = 'retail' AND sku = ?1 AND currency = ?3 "
	    "AND ?2 != 'retail'");
	int found = 0;

	sqlite3_bind_text(s, 1, sku, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, tier, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, currency, -1, SQLITE_STATIC);
	while (store_row(st, s)) {
		int own = sqlite3_column_int(s, 1);

		if (found && !own)
			continue; /* retail, and the tier's own is in hand */
		*amount = sqlite3_column_int64(s, 0);
		if (used != NULL)
			snprintf(used, size, "%s", own ? tier : "retail");
		found = 1;
		if (own)
			break;
	}
	sqlite3_reset(s);
	return found;
}

int
catalog_quote(store_t *st, const char *customer, const char *sku,
    const char *currency, const char *field, int64_t *amount, err_t *err)
{
	char tier[16] = "retail";
	int found;

	if (customer != NULL)
		customer_tier(st, customer, tier, sizeof tier);
	found = s_tier_price(st, tier, sku, currency, amount, NULL, 0);
	if (!found && strcmp(tier, "retail") == 0)
		return err_set(err, ERR_UNPROCESSABLE,
		    "%s: no %s price for %s in tier retail", field, currency,
		    sku);
	if (!found)
		return err_set(err, ERR_UNPROCESSABLE,
		    "%s: no %s price for %s in tier %s or retail", field,
		    currency, sku, tier);
	return 0;
}

int
catalog_list_price(store_t *st, const char *tier, const char *sku,
    const char *currency, int64_t *amount, char *used, size_t size)
{
	return s_tier_price(st, tier, sku, currency, amount, used, size);
}

int
catalog_category(store_t *st, const char *sku, char *buf, size_t size)
{
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT category FROM products "
	    "WHERE sku = ? AND category IS NOT NULL");
	int found = 0;

	buf[0] = '\0';
	sqlite3_bind_text(s, 1, sku, -1, SQLITE_STATIC);
	if (store_row(st, s)) {
		snprintf(buf, size, "%s", sqlite3_column_text(s, 0));
		found = 1;
	}
	sqlite3_reset(s);
	return found;
}
