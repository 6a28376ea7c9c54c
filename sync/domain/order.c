/* order: orders, lines, lifecycle, linked stock effects (see order.h). */
#include "order.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "approval.h"
#include "catalog.h"
#include "cmd.h"
#include "customer.h"
#include "effect.h"
#include "fulfil.h"
#include "idem.h"
#include "lifecycle.h"
#include "log.h"
#include "money.h"
#include "own.h"
#include "payment.h"
#include "quota.h"
#include "rec.h"
#include "req.h"
#include "stock.h"

static int s_own(store_t *st, const op_t *op, int create, err_t *err);
static int s_effects_here(store_t *st, const char *id, err_t *err);

static const char *const s_channels[] = { "store", "online", "b2b", NULL };
static const char *const s_initial[] = { "draft", "pending_approval",
	"confirmed", "completed", NULL };
/* A fulfilment order is created allocated (fulfil.h). */
static const char *const s_child_initial[] = { "allocated", NULL };

/* Checks lines [{sku, qty, unit_price}] against the limits of money.h and
 * sums them into *total. With prices_required = 0 a missing unit_price is
 * allowed (to be quoted). A local request and a remote op get the same
 * checks: a line or a total over its limit is refused (ERR_UNPROCESSABLE)
 * where it is written and quarantined where it arrives. */
static int
s_check_lines(const json_t *lines, int prices_required, int64_t *total,
    err_t *err)
{
	static const char *const allowed[] = { "sku", "qty", "unit_price",
		NULL };
	size_t i;
	json_t *l;
	const char *sku;
	int64_t qty, price;
	money_sum_t sum = 0;
	char text[MONEY_TEXT_MAX];

	if (!json_is_array(lines) || json_array_size(lines) == 0 ||
	    json_array_size(lines) > MONEY_LINES_MAX)
		return err_set(err, ERR_BAD_REQUEST,
		    "lines: must be an array of 1 to %d lines",
		    MONEY_LINES_MAX);
	json_array_foreach(lines, i, l) {
		if (!json_is_object(l))
			return err_set(err, ERR_BAD_REQUEST,
			    "lines[%zu]: must be an object", i);
		if (req_only(l, allowed, err) ||
		    req_text(l, "sku", REQ_ID_MAX, 1, &sku, err) ||
		    money_req_int(l, "qty", 1, MONEY_QTY_MAX, "line", 1, 0,
			&qty, err) ||
		    money_req_int(l, "unit_price", 0, MONEY_PRICE_MAX, "unit",
			prices_required, -1, &price, err))
			return err_prefix(err, "lines[%zu]", i);
		/* At most 10^18 a line and 200 lines: exact in 128 bits. */
		if (price >= 0)
			sum += (money_sum_t)qty * price;
	}
	if (sum > MONEY_TOTAL_MAX)
		return err_set(err, ERR_UNPROCESSABLE,
		    "lines: total %s exceeds the limit of %lld per order",
		    money_text(sum, text, sizeof text),
		    (long long)MONEY_TOTAL_MAX);
	*total = (int64_t)sum;
	return 0;
}

/* Checks fulfil_site of a create: a site id, or "" for an online or b2b
 * order that head office allocates (fulfil.h), which is no fulfilment
 * order itself (parent: NULL). */
static int
s_check_fulfil(const json_t *f, const char *channel, const char *parent,
    err_t *err)
{
	const char *s = json_string_value(json_object_get(f, "fulfil_site"));

	if (s != NULL && s[0] == '\0') {
		if (parent != NULL)
			return err_set(err, ERR_BAD_REQUEST,
			    "fulfil_site: a fulfilment order names the site "
			    "that fulfils it");
		if (strcmp(channel, "store") == 0)
			return err_set(err, ERR_BAD_REQUEST,
			    "fulfil_site: a store sale is fulfilled by a site");
		return 0;
	}
	if (req_text(f, "fulfil_site", OP_SITE_MAX, 1, &s, err))
		return -1;
	if (!op_site_valid(s))
		return err_set(err, ERR_BAD_REQUEST,
		    "fulfil_site: not a site id");
	return 0;
}

/* Checks the fields of a create op (also what a request becomes). A
 * fulfilment order (with a parent, fulfil.h) is created allocated. */
static int
s_check_create(const json_t *f, int64_t *total, err_t *err)
{
	static const char *const allowed[] = { "site", "channel", "customer",
		"currency", "fulfil_site", "on_account", "note", "status",
		"lines", "parent", "rights", "backorder", "approval", NULL };
	const char *s, *channel, *parent;
	int b;

	if (req_only(f, allowed, err) ||
	    req_text(f, "site", OP_SITE_MAX, 1, &s, err) ||
	    req_enum(f, "channel", s_channels, 1, &channel, err) ||
	    req_text(f, "customer", REQ_ID_MAX, 0, &s, err) ||
	    req_currency(f, "currency", 1, &s, err) ||
	    req_text(f, "parent", ORDER_ID_MAX, 0, &parent, err) ||
	    s_check_fulfil(f, channel, parent, err) ||
	    req_bool(f, "on_account", 0, &b, err) ||
	    req_text(f, "note", REQ_TEXT_MAX, 0, &s, err) ||
	    req_enum(f, "status", parent != NULL ? s_child_initial : s_initial,
		1, &s, err) ||
	    s_check_lines(json_object_get(f, "lines"), 1, total, err) ||
	    quota_order_check(f, err) || approval_check_create(f, err))
		return -1;
	return 0;
}

static int
s_history_add(store_t *st, const op_t *op, const char *status,
    const char *tracking, const char *reason, err_t *err)
{
	sqlite3_stmt *s = store_stmt(st,
	    "INSERT OR IGNORE INTO order_history"
	    "(order_id, origin, seq, hlc, status, rank, tracking, reason) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)");

	sqlite3_bind_text(s, 1, op->key, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, op->origin, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, (int64_t)op->seq);
	sqlite3_bind_int64(s, 4, (int64_t)op->hlc);
	sqlite3_bind_text(s, 5, status, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 6, lifecycle_rank(&lifecycle_order, status));
	sqlite3_bind_text(s, 7, tracking, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 8, reason, -1, SQLITE_STATIC);
	return store_step(st, s, "order", err);
}

/* Binds the columns of orders for create op (fields f, checked; its total)
 * to s's ?1 to ?12, in the order of the table (id first). */
static void
s_bind_order(sqlite3_stmt *s, const op_t *op, const json_t *f, int64_t total)
{
	sqlite3_bind_text(s, 1, op->key, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, json_string_value(json_object_get(f, "site")),
	    -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3,
	    json_string_value(json_object_get(f, "channel")), -1,
	    SQLITE_STATIC);
	sqlite3_bind_text(s, 4,
	    json_string_value(json_object_get(f, "customer")), -1,
	    SQLITE_STATIC);
	sqlite3_bind_text(s, 5,
	    json_string_value(json_object_get(f, "currency")), -1,
	    SQLITE_STATIC);
	sqlite3_bind_text(s, 6,
	    json_string_value(json_object_get(f, "fulfil_site")), -1,
	    SQLITE_STATIC);
	sqlite3_bind_int(s, 7, json_is_true(json_object_get(f, "on_account")));
	sqlite3_bind_text(s, 8, json_string_value(json_object_get(f, "note")),
	    -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 9, total);
	sqlite3_bind_int64(s, 10, (int64_t)op->hlc);
	sqlite3_bind_text(s, 11, op->origin, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 12,
	    json_string_value(json_object_get(f, "parent")), -1, SQLITE_STATIC);
}

/* Create: the earliest create of an id (by hlc, origin) defines the order,
 * whatever the arrival order; later duplicates only add their history.
 * *fresh says whether the order was not held before (nothing of an earlier
 * create to replace: lines, spends, approval). */
static int
s_apply_create(store_t *st, const op_t *op, int *fresh, err_t *err)
{
	const json_t *f = op->fields, *l;
	sqlite3_stmt *s;
	int64_t total;
	size_t i;
	int replace;

	*fresh = 0;
	if (s_check_create(f, &total, err))
		return err_prefix(err, "order %s", op->key);
	/* Rights only of its creator's quotas on its stock (quota.h). */
	if (s_own(st, op, 1, err) || quota_order_verify(st, op, err))
		return -1;
	/* Insert; or replace a create that loses to this one by (hlc,
	 * origin), or leave a winner in place. */
	s = store_stmt(st,
	    "INSERT INTO orders(id, site, channel, customer, "
	    "currency, fulfil_site, on_account, note, total, created_hlc, "
	    "created_origin, parent) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, "
	    "?9, ?10, ?11, ?12) ON CONFLICT(id) DO NOTHING");
	s_bind_order(s, op, f, total);
	if (store_step(st, s, "order", err))
		return -1;
	*fresh = replace = sqlite3_changes(store_db(st)) > 0;
	if (!replace) {
		s = store_stmt(st,
		    "UPDATE orders SET (site, channel, customer, currency, "
		    "fulfil_site, on_account, note, total, created_hlc, "
		    "created_origin, parent) = (?2, ?3, ?4, ?5, ?6, ?7, ?8, "
		    "?9, ?10, ?11, ?12) WHERE id = ?1 AND (?10, ?11) < "
		    "(created_hlc, created_origin)");
		s_bind_order(s, op, f, total);
		if (store_step(st, s, "order", err))
			return -1;
		replace = sqlite3_changes(store_db(st)) > 0;
	}
	if (replace) {
		/* A new order has no lines yet. */
		if (!*fresh) {
			s = store_stmt(st,
			    "DELETE FROM order_lines WHERE order_id = ?");
			sqlite3_bind_text(s, 1, op->key, -1, SQLITE_STATIC);
			if (store_step(st, s, "order", err))
				return -1;
		}
		json_array_foreach(json_object_get(f, "lines"), i, l) {
			s = store_stmt(st,
			    "INSERT INTO order_lines(order_id, line, "
			    "sku, qty, unit_price) VALUES (?, ?, ?, ?, ?)");
			sqlite3_bind_text(s, 1, op->key, -1, SQLITE_STATIC);
			sqlite3_bind_int(s, 2, (int)i + 1);
			sqlite3_bind_text(s, 3,
			    json_string_value(json_object_get(l, "sku")), -1,
			    SQLITE_STATIC);
			sqlite3_bind_int64(s, 4,
			    json_integer_value(json_object_get(l, "qty")));
			sqlite3_bind_int64(s, 5,
			    json_integer_value(
				json_object_get(l, "unit_price")));
			if (store_step(st, s, "order", err))
				return -1;
		}
		/* What it spends of its site's quotas (quota.h). */
		if (quota_order_apply(st, op, *fresh, err))
			return -1;
	}
	return s_history_add(st, op,
	    json_string_value(json_object_get(f, "status")), NULL, NULL, err);
}

static int
s_check_transition(const json_t *f, err_t *err)
{
	static const char *const allowed[] = { "to", "tracking", "reason",
		"decision", "comment", NULL };
	const char *s;

	if (req_only(f, allowed, err) ||
	    req_text(f, "to", REQ_ID_MAX, 1, &s, err) ||
	    req_text(f, "tracking", REQ_ID_MAX, 0, &s, err) ||
	    req_text(f, "reason", REQ_TEXT_MAX, 0, &s, err))
		return -1;
	if (lifecycle_rank(&lifecycle_order,
		json_string_value(json_object_get(f, "to"))) < 0)
		return err_set(err, ERR_BAD_REQUEST,
		    "to: '%s' is not an order status",
		    json_string_value(json_object_get(f, "to")));
	/* Head office's decision on an approval (approval.h). */
	return approval_check_transition(f, err);
}

/* Who moves an order to each status (own.h), by rank: its creator or
 * head office decide it (confirm, cancel), its fulfilling site handles the
 * goods (allocate, pick, ship), and any of them may record that it was
 * delivered or completed. */
static const struct {
	unsigned who;
	const char *act;
} s_movers[] = {
	{ OWN_CREATOR | OWN_HQ, "move it to draft" },
	{ OWN_CREATOR | OWN_HQ, "ask head office's approval" },
	{ OWN_CREATOR | OWN_HQ, "confirm it" },
	{ OWN_FULFILLER, "allocate it" },
	{ OWN_FULFILLER, "pick it" },
	{ OWN_CREATOR | OWN_HQ, "cancel it" },
	{ OWN_FULFILLER, "ship it" },
	{ OWN_CREATOR | OWN_FULFILLER | OWN_HQ, "mark it delivered" },
	{ OWN_CREATOR | OWN_FULFILLER | OWN_HQ, "complete it" },
};

int
order_placement(store_t *st, const char *id, int *child,
    char fulfil[OP_SITE_MAX + 1], err_t *err)
{
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT parent IS NOT NULL, fulfil_site FROM orders WHERE id = ?");
	int held = 0;

	*child = 0;
	fulfil[0] = '\0';
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	if (store_row(st, s)) {
		held = 1;
		*child = sqlite3_column_int(s, 0);
		snprintf(fulfil, OP_SITE_MAX + 1, "%s",
		    (const char *)sqlite3_column_text(s, 1));
	}
	sqlite3_reset(s);
	return store_read_error(st, err) ? -1 : held;
}

/* Whether order id may be a fulfilment order (fulfil.h), whose
 * fulfilling site may cancel it too (a release): 1 when its id is head
 * office's (only head office creates them) and it is not held here, or
 * held with a parent; 0 when not; -1 with err when a read failed. The
 * parent is fixed at create, so the verdict does not depend on arrival
 * order: one not held yet waits for it (own.h). */
static int
s_may_release(store_t *st, const char *id, err_t *err)
{
	char owner[OP_SITE_MAX + 1], fulfil[OP_SITE_MAX + 1];
	int held, child;

	own_owner(id, owner, sizeof owner);
	if (!own_is_hq(owner))
		return 0;
	if ((held = order_placement(st, id, &child, fulfil, err)) < 0)
		return -1;
	return !held || child;
}

/* Whether op (checked) may do what it does to its order (own.h): a create
 * under its own id, as its own order, short enough for the ids of its
 * movements, and a fulfilment order only by head office; a transition by
 * the party s_movers names, or a release by a fulfilment order's
 * fulfilling site. */
static int
s_own(store_t *st, const op_t *op, int create, err_t *err)
{
	const char *parent;
	unsigned who;
	int rank, r;

	if (create) {
		if (own_create(op, "order", err) ||
		    own_here(op, "order", "site",
			"a site creates only its own orders", err))
			return -1;
		if (strlen(op->key) > ORDER_ID_MAX)
			return err_set(err, ERR_BAD_REQUEST,
			    "order %s: id: at most %d bytes (its movements' "
			    "ids are made from it)",
			    op->key, ORDER_ID_MAX);
		parent = json_string_value(
		    json_object_get(op->fields, "parent"));
		if (parent != NULL && !own_is_hq(op->origin))
			return err_set(err, ERR_FORBIDDEN,
			    "order %s: %s may not allocate order %s: only "
			    "head office may",
			    op->key, op->origin, parent);
		return 0;
	}
	rank = lifecycle_rank(&lifecycle_order,
	    json_string_value(json_object_get(op->fields, "to")));
	assert(rank >= 0 && rank < (int)(sizeof s_movers / sizeof *s_movers));
	who = s_movers[rank].who;
	if (rank == ORDER_RANK_CANCELLED) {
		if ((r = s_may_release(st, op->key, err)) < 0)
			return -1;
		if (r)
			who |= OWN_FULFILLER;
	}
	if (own_order_party(st, op, op->key, who, s_movers[rank].act, err))
		return -1;
	/* An order whose prices wait for head office (approval.h). */
	return approval_own(st, op, rank, err);
}

int
order_apply(store_t *st, const op_t *op, err_t *err)
{
	const json_t *f = op->fields;
	int fresh = 0;

	if (strcmp(op->kind, "create") == 0) {
		if (s_apply_create(st, op, &fresh, err))
			return -1;
	} else if (strcmp(op->kind, "transition") == 0) {
		if (s_check_transition(f, err))
			return err_prefix(err, "order %s", op->key);
		if (s_own(st, op, 0, err))
			return -1;
		if (s_history_add(st, op,
			json_string_value(json_object_get(f, "to")),
			json_string_value(json_object_get(f, "tracking")),
			json_string_value(json_object_get(f, "reason")), err))
			return -1;
	} else {
		return err_set(err, ERR_BAD_REQUEST,
		    "order %s: unknown kind '%s'", op->key, op->kind);
	}
	if (approval_apply_order(st, op, fresh, err))
		return -1;
	/* Its stock effects follow what the order now is (effect.h). */
	if (effect_sync(st, op->key, err))
		return -1;
	/* At the fulfilling site's node, another site's op that makes the
	 * goods leave, or cancels what had left, is recorded there, in the
	 * same transaction (its own ops record theirs in the command). */
	if (strcmp(op->origin, store_site(st)) == 0 || store_is_hq(st))
		return 0;
	return s_effects_here(st, op->key, err);
}

/* ---- queries ---- */

/* The exact sum of the payments of order id (each within
 * MONEY_PAYMENT_MAX, but any number of them), with those of its children:
 * money taken on a fulfilment is the parent's (fulfil.h). A failed read
 * is kept as store_row keeps it. */
static money_sum_t
s_paid(store_t *st, const char *id)
{
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT amount FROM payments WHERE order_id = ?1 UNION ALL "
	    "SELECT p.amount FROM orders c JOIN payments p "
	    "ON p.order_id = c.id WHERE c.parent = ?1");
	money_sum_t paid = 0;

	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	while (store_row(st, s))
		paid += sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return paid;
}

/* An order as order_lookup (columns 0 to 4) and s_read (all) read it: one
 * statement, prepared once. */
static const char s_order_sql[] =
    "SELECT currency, customer, total, "
    "(SELECT rank FROM order_status WHERE order_id = ?1), parent, site, "
    "channel, fulfil_site, on_account, note, created_hlc "
    "FROM orders WHERE id = ?1";

int
order_lookup(store_t *st, const char *id, const char *field, order_info_t *info,
    err_t *err)
{
	sqlite3_stmt *s = store_stmt(st, s_order_sql);
	int found = 0;

	memset(info, 0, sizeof *info);
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	if (store_row(st, s)) {
		found = 1;
		snprintf(info->currency, sizeof info->currency, "%s",
		    sqlite3_column_text(s, 0));
		if (sqlite3_column_type(s, 1) != SQLITE_NULL)
			snprintf(info->customer, sizeof info->customer, "%s",
			    sqlite3_column_text(s, 1));
		info->total = sqlite3_column_int64(s, 2);
		info->rank = sqlite3_column_type(s, 3) == SQLITE_NULL
		    ? -1
		    : sqlite3_column_int(s, 3);
		if (sqlite3_column_type(s, 4) != SQLITE_NULL)
			snprintf(info->parent, sizeof info->parent, "%s",
			    sqlite3_column_text(s, 4));
	}
	sqlite3_reset(s);
	if (!found)
		return err_set(err, ERR_NOT_FOUND, "%s: %s not found", field,
		    id);
	info->paid = s_paid(st, id);
	info->balance = info->total - info->paid;
	return 0;
}

money_sum_t
order_exposure(store_t *st, const char *customer)
{
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT o.id, o.total FROM orders o "
	    "JOIN order_status s ON s.order_id = o.id "
	    "WHERE o.customer = ? AND o.on_account = 1 AND o.parent IS NULL "
	    "AND s.rank != " ORDER_SQL(ORDER_RANK_CANCELLED));
	money_sum_t owed = 0;

	sqlite3_bind_text(s, 1, customer, -1, SQLITE_STATIC);
	while (store_row(st, s))
		owed += sqlite3_column_int64(s, 1) -
		    s_paid(st, (const char *)sqlite3_column_text(s, 0));
	sqlite3_reset(s);
	return owed;
}

/* Narrows paid and balance (total - paid) of order id for the API: 0, or
 * -1 with ERR_UNPROCESSABLE naming the order when one does not fit in
 * int64 ("order O-1: paid: 9223372036854775808 exceeds the largest
 * representable amount 9223372036854775807"). */
static int
s_fit_paid(const char *id, int64_t total, money_sum_t paid, int64_t *paid_out,
    int64_t *balance_out, err_t *err)
{
	if (money_fit(paid, "paid", paid_out, err) ||
	    money_fit(total - paid, "balance", balance_out, err))
		return err_prefix(err, "order %s", id);
	return 0;
}

/* Milliseconds of an hlc, the "at" of history entries. */
static json_int_t
s_ms(sqlite3_stmt *s, int col)
{
	return (json_int_t)hlc_ms((uint64_t)sqlite3_column_int64(s, col));
}

static void
s_opt_text(json_t *o, const char *name, sqlite3_stmt *s, int col)
{
	if (sqlite3_column_type(s, col) != SQLITE_NULL)
		json_object_set_new(o, name,
		    json_string((const char *)sqlite3_column_text(s, col)));
}

/* The lines of order id, each with its amount. A line's qty and unit price
 * were within the limits of money.h when its op was applied, so its amount
 * is at most 10^18; it is still computed exactly and narrowed, so that a
 * row that is not what the rules wrote is an error, not a wrapped amount.
 * NULL with err when an amount does not fit. */
static json_t *
s_lines(store_t *st, const char *id, err_t *err)
{
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT line, sku, qty, unit_price FROM order_lines "
	    "WHERE order_id = ? ORDER BY line");
	json_t *lines = json_array(), *l;

	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	while (store_row(st, s)) {
		l = json_pack("{s:i, s:s, s:I, s:I}", "line",
		    sqlite3_column_int(s, 0), "sku",
		    (const char *)sqlite3_column_text(s, 1), "qty",
		    (json_int_t)sqlite3_column_int64(s, 2), "unit_price",
		    (json_int_t)sqlite3_column_int64(s, 3));
		json_array_append_new(lines, l);
		if (money_json_set(l, "amount",
			(money_sum_t)sqlite3_column_int64(s, 2) *
			    sqlite3_column_int64(s, 3),
			err)) {
			err_prefix(err, "order %s: lines[%zu]", id,
			    json_array_size(lines) - 1);
			sqlite3_reset(s);
			json_decref(lines);
			return NULL;
		}
	}
	sqlite3_reset(s);
	return lines;
}

/* The order id into *out, or NULL when there is none (or a read failed):
 * 0; -1 with err when one of its amounts does not fit in int64. */
static int
s_read(store_t *st, const char *id, json_t **out, err_t *err)
{
	/* The order with its rank, as order_lookup reads it. */
	sqlite3_stmt *s = store_stmt(st, s_order_sql);
	json_t *o = NULL, *lines, *hist;
	int64_t paid, balance, total = 0;
	int rank = -1;
	char parent[OP_KEY_MAX + 1] = "";

	*out = NULL;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	if (store_row(st, s)) {
		total = sqlite3_column_int64(s, 2);
		if (sqlite3_column_type(s, 3) != SQLITE_NULL)
			rank = sqlite3_column_int(s, 3);
		if (sqlite3_column_type(s, 4) != SQLITE_NULL)
			snprintf(parent, sizeof parent, "%s",
			    (const char *)sqlite3_column_text(s, 4));
		o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:I, s:I}", "id",
		    id, "site", (const char *)sqlite3_column_text(s, 5),
		    "channel", (const char *)sqlite3_column_text(s, 6),
		    "currency", (const char *)sqlite3_column_text(s, 0),
		    "fulfil_site", (const char *)sqlite3_column_text(s, 7),
		    "on_account", sqlite3_column_int(s, 8), "total",
		    (json_int_t)total, "created_ms", s_ms(s, 10));
		s_opt_text(o, "customer", s, 1);
		s_opt_text(o, "note", s, 9);
	}
	sqlite3_reset(s);
	if (o == NULL)
		goto done;
	json_object_set_new(o, "status",
	    json_string(
		rank >= 0 ? lifecycle_name(&lifecycle_order, rank) : "draft"));
	approval_show(st, id, o);
	if (s_fit_paid(id, total, s_paid(st, id), &paid, &balance, err) ||
	    (lines = s_lines(st, id, err)) == NULL) {
		json_decref(o);
		return -1;
	}
	json_object_set_new(o, "paid", json_integer(paid));
	json_object_set_new(o, "balance", json_integer(balance));
	json_object_set_new(o, "lines", lines);

	hist = json_array();
	s = store_stmt(st,
	    "SELECT status, origin, hlc, tracking, reason "
	    "FROM order_history WHERE order_id = ? ORDER BY hlc, origin, seq");
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	while (store_row(st, s)) {
		json_t *h = json_pack("{s:s, s:s, s:I}", "status",
		    (const char *)sqlite3_column_text(s, 0), "site",
		    (const char *)sqlite3_column_text(s, 1), "at_ms",
		    s_ms(s, 2));

		s_opt_text(h, "tracking", s, 3);
		s_opt_text(h, "reason", s, 4);
		json_array_append_new(hist, h);
	}
	sqlite3_reset(s);
	json_object_set_new(o, "history", hist);
	quota_order_show(st, id, o);
	/* A fulfilment order's parent; a parent's fulfilments (fulfil.h). */
	if (fulfil_show(st, id, parent[0] != '\0' ? parent : NULL, o, err)) {
		json_decref(o);
		return -1;
	}
done:
	*out = o;
	return 0;
}

int
order_get(store_t *st, const char *id, json_t **out, err_t *err)
{
	json_t *o;

	if (s_read(st, id, &o, err)) {
		*out = NULL;
		return -1;
	}
	return rec_found(st, o, "order", id, out, err);
}

/* The orders in status rank `in` (all when < 0) of site (NULL: any; an order belongs
 * to its own and its fulfilling site) created at since_ms or later, of
 * customer (NULL: any). */
static int
s_list(store_t *st, int in, const char *site, int64_t since_ms,
    const char *customer, json_t **out, err_t *err)
{
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT o.id, o.site, o.channel, "
	    "o.customer, o.currency, o.total, s.rank, o.created_hlc, "
	    "o.fulfil_site, o.parent "
	    "FROM orders o LEFT JOIN order_status s ON s.order_id = o.id "
	    "WHERE (?1 IS NULL OR s.rank = ?1) "
	    "AND (?2 IS NULL OR o.site = ?2 OR o.fulfil_site = ?2) "
	    "AND o.created_hlc >= ?3 AND (?4 IS NULL OR (o.customer = ?4 "
	    "AND o.parent IS NULL)) ORDER BY o.created_hlc, o.id");
	json_t *items = json_array();

	if (in >= 0)
		sqlite3_bind_int(s, 1, in);
	if (site != NULL)
		sqlite3_bind_text(s, 2, site, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3,
	    (sqlite3_int64)hlc_pack((uint64_t)since_ms, 0));
	if (customer != NULL)
		sqlite3_bind_text(s, 4, customer, -1, SQLITE_STATIC);
	while (store_row(st, s)) {
		const char *id = (const char *)sqlite3_column_text(s, 0);
		int64_t total = sqlite3_column_int64(s, 5), paid, balance;
		int rank = sqlite3_column_type(s, 6) == SQLITE_NULL
		    ? 0
		    : sqlite3_column_int(s, 6);
		json_t *o;
		err_t why;
		int fits = s_fit_paid(id, total, s_paid(st, id), &paid,
			       &balance, &why) == 0;

		o = json_pack(
		    "{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:s, s:I}", "id",
		    id, "site", (const char *)sqlite3_column_text(s, 1),
		    "channel", (const char *)sqlite3_column_text(s, 2),
		    "fulfil_site", (const char *)sqlite3_column_text(s, 8),
		    "currency", (const char *)sqlite3_column_text(s, 4),
		    "total", (json_int_t)total, "paid", (json_int_t)paid,
		    "balance", (json_int_t)balance, "status",
		    lifecycle_name(&lifecycle_order, rank), "created_ms",
		    s_ms(s, 7));
		s_opt_text(o, "customer", s, 3);
		/* A fulfilment order names its parent (fulfil.h). */
		s_opt_text(o, "parent", s, 9);
		if (!fits) {
			/* Listed, never left out: one order whose payments
			 * cannot be shown must not blank everyone's list. */
			json_object_set_new(o, "paid", json_null());
			json_object_set_new(o, "balance", json_null());
			json_object_set_new(o, "error", json_string(why.msg));
		}
		json_array_append_new(items, o);
	}
	sqlite3_reset(s);
	return rec_items(st, items, out, err);
}

int
order_list(store_t *st, const json_t *query, json_t **out, err_t *err)
{
	const char *status = req_query(query, "status");
	const char *since = req_query(query, "since");
	char *end = NULL;
	long long since_ms = 0;
	int rank = -1;

	if (status != NULL &&
	    (rank = lifecycle_rank(&lifecycle_order, status)) < 0)
		return err_set(err, ERR_BAD_REQUEST,
		    "status: '%s' is not an order status", status);
	if (since != NULL) {
		since_ms = strtoll(since, &end, 10);
		if (*end != '\0' || since_ms < 0 ||
		    since_ms > (INT64_MAX >> HLC_COUNTER_BITS))
			return err_set(err, ERR_BAD_REQUEST,
			    "since: '%s' is not a time in unix milliseconds",
			    since);
	}
	return s_list(st, rank, req_query(query, "site"), since_ms,
	    req_query(query, "customer"), out, err);
}

int
order_of_customer(store_t *st, const char *customer, json_t **out, err_t *err)
{
	json_t *cust;

	if (customer_get(st, customer, &cust, err))
		return -1;
	json_decref(cust);
	return s_list(st, -1, NULL, 0, customer, out, err);
}

/* ---- commands ---- */

/* The id of the movement this site records for a line of order id with
 * tag ("out", "back") is this stem and the line number: "ORDER-out-1" when
 * the order is this site's own, else "SITE-ORDER-out-1", so that it is in
 * this site's namespace (own.h) and one fact however often it is recorded
 * (effect.h reads both). */
static void
s_effect_stem(store_t *st, const char *id, const char *tag, char *buf,
    size_t size)
{
	if (own_in(id, store_site(st)))
		snprintf(buf, size, "%s-%s-", id, tag);
	else
		snprintf(buf, size, "%s-%s-%s-", store_site(st), id, tag);
}

/* A line of an order whose movement here is not recorded yet. */
typedef struct {
	int line;
	char sku[REQ_ID_MAX + 1];
	int64_t qty;
} move_line_t;

/* Records, for each line of order id that has none yet, one movement here:
 * goods leaving (sign -1, reason sale, tag "out") or coming back when a
 * cancellation takes them back (sign +1, reason return, tag "back"). */
static int
s_move_lines(store_t *st, const char *id, const char *tag, int sign,
    const char *reason, err_t *err)
{
	/* Recorded once: a line whose movement is there (even of lines an
	 * earlier create of the id defined) is left; ?2 is the stem of its
	 * id (s_effect_stem). */
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT line, sku, qty FROM order_lines l WHERE order_id = ?1 "
	    "AND NOT EXISTS (SELECT 1 FROM stock_movements m "
	    "WHERE m.id = ?2 || l.line) ORDER BY line");
	move_line_t *v = NULL;
	size_t n = 0, cap = 0, i;
	int rc = 0;
	/* Room for the line number (never needed: ORDER_ID_MAX). */
	char mid[OP_KEY_MAX + 16], stem[OP_KEY_MAX + 1];

	s_effect_stem(st, id, tag, stem, sizeof stem);
	/* Read first: recording a movement steps other statements. */
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, stem, -1, SQLITE_STATIC);
	while (store_row(st, s)) {
		if (n == cap) {
			cap = cap * 2 + 4;
			if ((v = realloc(v, cap * sizeof *v)) == NULL)
				fatal("order: out of memory");
		}
		v[n].line = sqlite3_column_int(s, 0);
		snprintf(v[n].sku, sizeof v[n].sku, "%s",
		    (const char *)sqlite3_column_text(s, 1));
		v[n++].qty = sqlite3_column_int64(s, 2);
	}
	sqlite3_reset(s);
	for (i = 0; i < n && rc == 0; i++) {
		snprintf(mid, sizeof mid, "%s%d", stem, v[i].line);
		rc = stock_add_in(st, mid, v[i].sku, sign * v[i].qty, reason,
		    id, err);
	}
	free(v);
	return rc != 0 ? -1 : store_read_error(st, err);
}

int
order_leave_rank(const char *channel)
{
	return strcmp(channel, "store") == 0 ? ORDER_RANK_CONFIRMED
					     : ORDER_RANK_SHIPPED;
}

/* The movements order id's merged state asks of this site, when it is the
 * order's fulfilling site (the goods are its own: own.h): its sale once
 * its goods have left, their restock when it is cancelled after they had.
 * Each is recorded once (s_move_lines); what they count follows the
 * order's final state (effect.h). Elsewhere nothing. */
static int
s_effects_here(store_t *st, const char *id, err_t *err)
{
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT o.channel, o.fulfil_site = ?2, (SELECT max(rank) FROM "
	    "order_history h WHERE h.order_id = o.id), (SELECT count(*) FROM "
	    "stock_movements m WHERE m.order_id = o.id AND m.effect = "
	    "'" EFFECT_SALE "' AND m.site = ?2) FROM orders o WHERE o.id = ?1");
	char channel[16] = "";
	int here = 0, rank = -1, sold = 0;

	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, store_site(st), -1, SQLITE_STATIC);
	if (store_row(st, s)) {
		snprintf(channel, sizeof channel, "%s",
		    sqlite3_column_text(s, 0));
		here = sqlite3_column_int(s, 1);
		rank = sqlite3_column_type(s, 2) == SQLITE_NULL
		    ? -1
		    : sqlite3_column_int(s, 2);
		sold = sqlite3_column_int(s, 3) > 0;
	}
	sqlite3_reset(s);
	if (store_read_error(st, err))
		return -1;
	if (!here || rank < 0)
		return 0;
	if (effect_goods_left(channel, rank))
		return s_move_lines(st, id, "out", -1, "sale", err);
	if (rank == ORDER_RANK_CANCELLED && sold)
		return s_move_lines(st, id, "back", 1, "return", err);
	return 0;
}

/* Payments taken with the order ([{method, amount, id?}...]): a till sale
 * is one transaction, order, stock and money together. */
static int
s_pay(store_t *st, const char *id, const char *currency, const json_t *payments,
    err_t *err)
{
	static const char *const allowed[] = { "id", "method", "amount", NULL };
	json_t *p, *req;
	size_t i;
	int created, rc;

	if (payments == NULL)
		return 0;
	if (!json_is_array(payments) || json_array_size(payments) > 20)
		return err_set(err, ERR_BAD_REQUEST,
		    "payments: must be an array of at most 20 payments");
	json_array_foreach(payments, i, p) {
		if (!json_is_object(p) || req_only(p, allowed, err)) {
			if (json_is_object(p))
				return err_prefix(err, "payments[%zu]", i);
			return err_set(err, ERR_BAD_REQUEST,
			    "payments[%zu]: must be an object", i);
		}
		req = json_copy(p); /* only its own keys change */
		json_object_set_new(req, "order", json_string(id));
		json_object_set_new(req, "currency", json_string(currency));
		/* The sale answers with the order, not the payments. */
		rc = payment_record_in(st, req, NULL, &created, err);
		json_decref(req);
		if (rc)
			return err_prefix(err, "payments[%zu]", i);
	}
	return 0;
}

/* Whether create fields f, without a fulfilling site, are of an order
 * head office allocates: an online or b2b one. */
static int
s_unallocated(const json_t *f)
{
	const char *channel = json_string_value(json_object_get(f, "channel"));

	return channel != NULL &&
	    (strcmp(channel, "online") == 0 || strcmp(channel, "b2b") == 0);
}

/* A request's parent (fulfil.h): only head office writes fulfilment
 * orders (hub/allocate.c), of an order it holds that head office
 * allocates. */
static int
s_check_parent(store_t *st, const char *parent, err_t *err)
{
	char fulfil[OP_SITE_MAX + 1];
	int held, child;

	if (!store_is_hq(st))
		return err_set(err, ERR_FORBIDDEN,
		    "parent: only head office creates fulfilment orders");
	if ((held = order_placement(st, parent, &child, fulfil, err)) < 0)
		return -1;
	if (!held)
		return err_set(err, ERR_NOT_FOUND, "parent: %s not found",
		    parent);
	if (child)
		return err_set(err, ERR_UNPROCESSABLE,
		    "parent: %s is a fulfilment order itself", parent);
	if (fulfil[0] != '\0')
		return err_set(err, ERR_UNPROCESSABLE,
		    "parent: %s is fulfilled by %s, not allocated by head "
		    "office",
		    parent, fulfil);
	return 0;
}

static int
s_create(store_t *st, void *arg, err_t *err)
{
	int r;
	cmd_t *c = arg;
	static const char *const allowed[] = { "id", "channel", "customer",
		"currency", "lines", "fulfil_site", "status", "on_account",
		"note", "payments", "parent", "backorder", NULL };
	const char *id, *customer, *currency, *status, *channel, *parent;
	char idbuf[OP_KEY_MAX + 1], scoped[OP_KEY_MAX + 1];
	json_t *f, *lines, *l;
	int64_t total, price, limit;
	money_sum_t owed;
	char text[MONEY_TEXT_MAX];
	size_t i;
	int rc = -1;

	/* Scoped by this site, and shorter than other ids: movement ids are
	 * derived from it. */
	if (req_only(c->req, allowed, err) ||
	    req_text(c->req, "id", OP_KEY_MAX, 0, &id, err) ||
	    own_scope(st, id, ORDER_ID_MAX, scoped, &id, err))
		return -1;
	/* A retry answers what was recorded; a reused id is refused. */
	if ((r = idem_replay(st, "order", id, c->req, order_get, &c->out,
		 err)) != 0)
		return r > 0 ? 0 : -1;
	/* The op's fields: the request's, its lines copied (pricing sets
	 * their unit prices; the request stays as it came, idem_record). */
	f = json_copy((json_t *)c->req);
	if ((lines = json_object_get(c->req, "lines")) != NULL)
		json_object_set_new(f, "lines", json_deep_copy(lines));
	json_object_del(f, "id");
	json_object_del(f, "payments");
	json_object_set_new(f, "site", json_string(store_site(st)));
	/* An online or b2b order without a fulfilling site is head office's
	 * to allocate (fulfil.h); a store sale is this site's. */
	if (json_object_get(f, "fulfil_site") == NULL)
		json_object_set_new(f, "fulfil_site",
		    json_string(s_unallocated(f) ? "" : store_site(st)));
	if (json_object_get(f, "status") == NULL)
		json_object_set_new(f, "status", json_string("draft"));
	if (req_enum(f, "channel", s_channels, 1, &channel, err) ||
	    req_text(f, "customer", REQ_ID_MAX, 0, &customer, err) ||
	    req_currency(f, "currency", 1, &currency, err) ||
	    req_text(f, "parent", ORDER_ID_MAX, 0, &parent, err) ||
	    (parent != NULL && s_check_parent(st, parent, err)) ||
	    req_enum(f, "status", parent != NULL ? s_child_initial : s_initial,
		1, &status, err) ||
	    s_check_lines(json_object_get(f, "lines"), 0, &total, err))
		goto out;
	if (customer != NULL) {
		json_t *cust;

		if (customer_get(st, customer, &cust, err)) {
			if (err->code == ERR_NOT_FOUND)
				err_set(err, ERR_NOT_FOUND,
				    "customer: %s not found", customer);
			goto out;
		}
		json_decref(cust);
	}
	if (strcmp(status, "completed") == 0 && strcmp(channel, "store") != 0) {
		err_set(err, ERR_UNPROCESSABLE,
		    "status: only a store sale can be created completed");
		goto out;
	}
	/* Price every line: given, or quoted from the customer's tier. */
	lines = json_object_get(f, "lines");
	json_array_foreach(lines, i, l) {
		const char *sku = json_string_value(json_object_get(l, "sku"));
		char field[48];

		snprintf(field, sizeof field, "lines[%zu].sku", i);
		if (!catalog_has(st, sku)) {
			err_set(err, ERR_NOT_FOUND,
			    "%s: %s is not in the catalog", field, sku);
			goto out;
		}
		if (json_object_get(l, "unit_price") == NULL) {
			snprintf(field, sizeof field, "lines[%zu].unit_price",
			    i);
			if (catalog_quote(st, customer, sku, currency, field,
				&price, err))
				goto out;
			json_object_set_new(l, "unit_price",
			    json_integer(price));
		}
	}
	/* A price too far below the tier's waits for head office
	 * (approval.h): approval {reason}, status pending_approval. A
	 * fulfilment order copies the prices of its parent, which was
	 * confirmed (approved) before it was allocated (fulfil.h). */
	if ((parent == NULL &&
		approval_check_lines(st, customer, currency, f, err)) ||
	    s_check_create(f, &total, err))
		goto out;
	if (json_is_true(json_object_get(f, "on_account"))) {
		json_t *cust;

		if (customer == NULL) {
			err_set(err, ERR_BAD_REQUEST,
			    "on_account: an order on account needs a customer");
			goto out;
		}
		if (customer_get(st, customer, &cust, err))
			goto out;
		limit = json_integer_value(
		    json_object_get(cust, "credit_limit"));
		if (!json_is_integer(json_object_get(cust, "credit_limit")))
			limit = 0;
		json_decref(cust);
		owed = order_exposure(st, customer) + total;
		if (owed > limit) {
			err_set(err, ERR_UNPROCESSABLE,
			    "on_account: customer %s would owe %s, over the credit limit %lld",
			    customer, money_text(owed, text, sizeof text),
			    (long long)limit);
			goto out;
		}
	}
	/* Its lines spend this site's rights on the fulfilling site's stock,
	 * or it is refused (quota.h). */
	if (quota_order_spend(st, f, err))
		goto out;
	if (cmd_create_op(st, c, "order", ORDER_ENTITY, "create", &id, idbuf, f,
		err) ||
	    s_effects_here(st, id, err) ||
	    s_pay(st, id, currency, json_object_get(c->req, "payments"), err))
		goto out;
	rc = order_get(st, id, &c->out, err);
out:
	json_decref(f);
	return rc;
}

int
order_create(store_t *st, const json_t *req, json_t **out, int *created,
    err_t *err)
{
	return cmd_run(st, s_create, req, NULL, NULL, out, created, err);
}

int
order_create_in(store_t *st, const json_t *req, json_t **out, int *created,
    err_t *err)
{
	cmd_t c = { req, NULL, NULL, NULL, 0 };

	*out = NULL;
	*created = 0;
	if (s_create(st, &c, err)) {
		json_decref(c.out);
		return -1;
	}
	*out = c.out;
	*created = c.created;
	return 0;
}

static int
s_transition(store_t *st, void *arg, err_t *err)
{
	cmd_t *c = arg;
	order_info_t info;
	const char *to;
	json_t *moved = NULL;
	int rc;

	if (order_lookup(st, c->id, "order", &info, err))
		return -1;
	if (s_check_transition(c->req, err))
		return -1;
	/* A move an approval forbids is refused; a draft that needs one
	 * asks for it when confirmed (approval.h). */
	if (approval_on_move(st, c->id, info.rank, c->req, &moved, err))
		return -1;
	to = json_string_value(json_object_get(moved ? moved : c->req, "to"));
	/* A parent whose fulfilment shipped is not cancelled (fulfil.h). */
	if (fulfil_check_move(st, c->id, to, err)) {
		json_decref(moved);
		return -1;
	}
	/* The rule refuses a move this site may not make (s_movers). */
	rc = lifecycle_check(&lifecycle_order, c->id,
		 info.rank < 0 ? 0 : info.rank, to, err) ||
	    store_append_local(st, ORDER_ENTITY, c->id, "transition",
		moved ? moved : (json_t *)c->req, NULL, err) ||
	    s_effects_here(st, c->id, err);
	json_decref(moved);
	if (rc)
		return -1;
	return order_get(st, c->id, &c->out, err);
}

int
order_transition(store_t *st, const char *id, const json_t *req, json_t **out,
    err_t *err)
{
	return cmd_run(st, s_transition, req, id, NULL, out, NULL, err);
}

int
order_transition_in(store_t *st, const char *id, const json_t *req,
    json_t **out, err_t *err)
{
	cmd_t c = { req, id, NULL, NULL, 0 };

	*out = NULL;
	if (s_transition(st, &c, err)) {
		json_decref(c.out);
		return -1;
	}
	*out = c.out;
	return 0;
}
