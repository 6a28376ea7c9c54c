/* approval: thresholds, the need for approval, decisions (see approval.h). */
#include "approval.h"

#include <stdio.h>
#include <string.h>

#include "catalog.h"
#include "cmd.h"
#include "customer.h"
#include "lifecycle.h"
#include "money.h"
#include "order.h"
#include "own.h"
#include "rec.h"
#include "req.h"

static const char *const s_tiers[] = { "retail", "member", "vip", "wholesale",
	NULL };

/* ---- thresholds ---- */

/* Checks threshold fields f ({percent, tier?, category?}) and writes the
 * key they are recorded under into key (OP_KEY_MAX + 1 bytes). */
static int
s_check_threshold(const json_t *f, char *key, size_t size, err_t *err)
{
	static const char *const allowed[] = { "percent", "tier", "category",
		NULL };
	const char *tier, *category;
	int64_t percent;

	if (req_only(f, allowed, err) ||
	    req_int(f, "percent", 0, 100, 1, 0, &percent, err) ||
	    req_enum(f, "tier", s_tiers, 0, &tier, err) ||
	    req_text(f, "category", CATALOG_CATEGORY_MAX, 0, &category, err))
		return -1;
	if (tier != NULL && category != NULL)
		return err_set(err, ERR_BAD_REQUEST,
		    "tier, category: a threshold is a tier's or a category's, "
		    "not both");
	if (tier != NULL)
		snprintf(key, size, "tier/%s", tier);
	else if (category != NULL)
		snprintf(key, size, "category/%s", category);
	else
		snprintf(key, size, "default");
	return 0;
}

int
approval_apply_threshold(store_t *st, const op_t *op, err_t *err)
{
	const json_t *f = op->fields;
	char key[OP_KEY_MAX + 1];
	sqlite3_stmt *s;

	if (strcmp(op->kind, "set") != 0)
		return err_set(err, ERR_BAD_REQUEST,
		    "approval threshold %s: unknown kind '%s'", op->key,
		    op->kind);
	if (s_check_threshold(f, key, sizeof key, err))
		return err_prefix(err, "approval threshold %s", op->key);
	if (strcmp(key, op->key) != 0)
		return err_set(err, ERR_BAD_REQUEST,
		    "approval threshold %s: its fields make it %s", op->key,
		    key);
	s = store_stmt(st,
	    "INSERT INTO approval_thresholds(key, tier, category, percent, "
	    "hlc, origin) VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
	    "ON CONFLICT(key) DO UPDATE SET percent = excluded.percent, "
	    "hlc = excluded.hlc, origin = excluded.origin "
	    "WHERE (excluded.hlc, excluded.origin) > "
	    "(approval_thresholds.hlc, approval_thresholds.origin)");
	sqlite3_bind_text(s, 1, op->key, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, json_string_value(json_object_get(f, "tier")),
	    -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3,
	    json_string_value(json_object_get(f, "category")), -1,
	    SQLITE_STATIC);
	sqlite3_bind_int64(s, 4,
	    json_integer_value(json_object_get(f, "percent")));
	sqlite3_bind_int64(s, 5, (int64_t)op->hlc);
	sqlite3_bind_text(s, 6, op->origin, -1, SQLITE_STATIC);
	return store_step(st, s, "approval threshold", err);
}

/* The thresholds of key (every one when NULL), as an array. */
static json_t *
s_threshold_items(store_t *st, const char *key)
{
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT percent, tier, category FROM approval_thresholds "
	    "WHERE ?1 IS NULL OR key = ?1 "
	    "ORDER BY category IS NOT NULL, tier IS NOT NULL, key");
	json_t *items = json_array(), *t;

	if (key != NULL)
		sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	while (store_row(st, s)) {
		t = json_pack("{s:I}", "percent",
		    (json_int_t)sqlite3_column_int64(s, 0));
		if (sqlite3_column_type(s, 1) != SQLITE_NULL)
			json_object_set_new(t, "tier",
			    json_string(
				(const char *)sqlite3_column_text(s, 1)));
		if (sqlite3_column_type(s, 2) != SQLITE_NULL)
			json_object_set_new(t, "category",
			    json_string(
				(const char *)sqlite3_column_text(s, 2)));
		json_array_append_new(items, t);
	}
	sqlite3_reset(s);
	return items;
}

/* The step of a put, in its command's transaction: c->id is the key. */
static int
s_put_step(store_t *st, void *arg, err_t *err)
{
	cmd_t *c = arg;
	json_t *items;

	if (!store_is_hq(st))
		return err_set(err, ERR_FORBIDDEN,
		    "approval threshold %s: head office data is written at "
		    "the hub only",
		    c->id);
	if (store_append_local(st, APPROVAL_ENTITY, c->id, "set",
		(json_t *)c->req, NULL, err))
		return -1;
	items = s_threshold_items(st, c->id);
	c->out = json_incref(json_array_get(items, 0));
	json_decref(items);
	if (c->out == NULL)
		return store_read_error(st, err) ? -1
						 : err_set(err, ERR_INTERNAL,
						       "approval threshold %s: "
						       "not recorded",
						       c->id);
	return 0;
}

int
approval_put_threshold(store_t *st, const json_t *req, json_t **out,
    int *created, err_t *err)
{
	char key[OP_KEY_MAX + 1];

	*out = NULL;
	*created = 0;
	if (!json_is_object(req))
		return err_set(err, ERR_BAD_REQUEST,
		    "body: must be a JSON object");
	if (s_check_threshold(req, key, sizeof key, err))
		return -1;
	return cmd_run(st, s_put_step, req, key, APPROVAL_ENTITY, out, NULL,
	    err);
}

int
approval_thresholds(store_t *st, const json_t *query, json_t **out, err_t *err)
{
	(void)query; /* no filters */
	return rec_items(st, s_threshold_items(st, NULL), out, err);
}

/* ---- the arithmetic ---- */

int
approval_below(int64_t price, int64_t list, int percent)
{
	/* Both at most MONEY_PRICE_MAX (10^12): exact in 128 bits, and in
	 * 64 too; no floating point anywhere. */
	return price < list &&
	    (money_sum_t)(list - price) * 100 > (money_sum_t)percent * list;
}

void
approval_percent_text(int64_t price, int64_t list, char *buf, size_t size)
{
	money_sum_t num = (money_sum_t)(list - price) * 1000;
	int64_t tenths = list > 0 ? (int64_t)((num + list - 1) / list) : 0;

	if (tenths % 10 == 0)
		snprintf(buf, size, "%lld", (long long)(tenths / 10));
	else
		snprintf(buf, size, "%lld.%lld", (long long)(tenths / 10),
		    (long long)(tenths % 10));
}

/* The threshold that applies to a line of sku's category (NULL: none) for
 * a customer of tier: 1 with *percent and its scope (" for category tea",
 * " for tier vip", "" for the default) in scope, 0 when none is set. */
static int
s_threshold(store_t *st, const char *category, const char *tier, int *percent,
    char *scope, size_t size)
{
	/* At most three rows; the most specific is picked here (category,
	 * then tier, then the default) rather than by an ORDER BY, which
	 * would build a temporary b-tree for every line of every sale; three
	 * lookups by the key, as "key IN (...)" builds one too. */
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT percent, tier, category FROM approval_thresholds "
	    "WHERE key = 'category/' || ?1 UNION ALL "
	    "SELECT percent, tier, category FROM approval_thresholds "
	    "WHERE key = 'tier/' || ?2 UNION ALL "
	    "SELECT percent, tier, category FROM approval_thresholds "
	    "WHERE key = 'default'");
	int found = 0, rank, best = 4;

	if (category != NULL)
		sqlite3_bind_text(s, 1, category, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, tier, -1, SQLITE_STATIC);
	while (store_row(st, s)) {
		rank = (sqlite3_column_type(s, 2) == SQLITE_NULL) * 2 +
		    (sqlite3_column_type(s, 1) == SQLITE_NULL);
		if (rank >= best)
			continue;
		best = rank;
		found = 1;
		*percent = sqlite3_column_int(s, 0);
		if (sqlite3_column_type(s, 2) != SQLITE_NULL)
			snprintf(scope, size, " for category %s",
			    sqlite3_column_text(s, 2));
		else if (sqlite3_column_type(s, 1) != SQLITE_NULL)
			snprintf(scope, size, " for tier %s",
			    sqlite3_column_text(s, 1));
		else
			scope[0] = '\0';
	}
	sqlite3_reset(s);
	return found;
}

int
approval_check_lines(store_t *st, const char *customer, const char *currency,
    json_t *f, err_t *err)
{
	const json_t *lines = json_object_get(f, "lines"), *l;
	const char *status = json_string_value(json_object_get(f, "status"));
	char tier[16] = "retail", used[16], category[CATALOG_CATEGORY_MAX + 1];
	char scope[CATALOG_CATEGORY_MAX + 32], pct[32];
	char first[REQ_TEXT_MAX / 2] = "", reason[REQ_TEXT_MAX / 2 + 64];
	int percent, has_category, n = 0;
	int64_t price, list;
	size_t i;

	if (customer != NULL)
		customer_tier(st, customer, tier, sizeof tier);
	json_array_foreach(lines, i, l) {
		const char *sku = json_string_value(json_object_get(l, "sku"));

		price = json_integer_value(json_object_get(l, "unit_price"));
		has_category = catalog_category(st, sku, category,
		    sizeof category);
		if (!s_threshold(st, has_category ? category : NULL, tier,
			&percent, scope, sizeof scope) ||
		    !catalog_list_price(st, tier, sku, currency, &list, used,
			sizeof used) ||
		    !approval_below(price, list, percent))
			continue;
		if (n++ > 0)
			continue;
		approval_percent_text(price, list, pct, sizeof pct);
		snprintf(first, sizeof first,
		    "lines[%zu]: %s at %lld is %s%% below the %s price %lld "
		    "(threshold %d%%%s)",
		    i, sku, (long long)price, pct, used, (long long)list,
		    percent, scope);
	}
	if (store_read_error(st, err))
		return -1;
	if (n == 0)
		return 0;
	if (n > 1)
		snprintf(reason, sizeof reason, "%s; and %d more line%s", first,
		    n - 1, n > 2 ? "s" : "");
	else
		snprintf(reason, sizeof reason, "%s", first);
	json_object_set_new(f, "approval",
	    json_pack("{s:s}", "reason", reason));
	if (status != NULL &&
	    (strcmp(status, "confirmed") == 0 ||
		strcmp(status, "completed") == 0))
		json_object_set_new(f, "status",
		    json_string(lifecycle_name(&lifecycle_order,
			ORDER_RANK_PENDING_APPROVAL)));
	return 0;
}

/* ---- the rule ---- */

int
approval_check_create(const json_t *f, err_t *err)
{
	static const char *const allowed[] = { "reason", NULL };
	const json_t *a = json_object_get(f, "approval");
	const char *status = json_string_value(json_object_get(f, "status"));
	const char *reason;
	int rank = status != NULL ? lifecycle_rank(&lifecycle_order, status)
				  : -1;

	if (a != NULL) {
		if (!json_is_object(a))
			return err_set(err, ERR_BAD_REQUEST,
			    "approval: must be an object {reason}");
		if (req_only(a, allowed, err) ||
		    req_text(a, "reason", REQ_TEXT_MAX, 1, &reason, err))
			return err_prefix(err, "approval");
	}
	if (rank == ORDER_RANK_PENDING_APPROVAL && a == NULL)
		return err_set(err, ERR_UNPROCESSABLE,
		    "status: pending_approval is for an order whose prices "
		    "need head office's approval, and this one's do not");
	if (a != NULL && rank != ORDER_RANK_DRAFT &&
	    rank != ORDER_RANK_PENDING_APPROVAL)
		return err_set(err, ERR_UNPROCESSABLE,
		    "status: an order whose prices need head office's "
		    "approval is created draft or pending_approval, not %s",
		    status != NULL ? status : "(none)");
	return 0;
}

int
approval_check_transition(const json_t *f, err_t *err)
{
	static const char *const decisions[] = { "approved", "rejected", NULL };
	const char *decision, *comment;
	const char *to = json_string_value(json_object_get(f, "to"));

	if (req_enum(f, "decision", decisions, 0, &decision, err) ||
	    req_text(f, "comment", REQ_TEXT_MAX, 0, &comment, err))
		return -1;
	if (decision == NULL && comment != NULL)
		return err_set(err, ERR_BAD_REQUEST,
		    "comment: goes with a decision");
	if (decision != NULL &&
	    strcmp(to,
		strcmp(decision, "approved") == 0 ? "confirmed"
						  : "cancelled") != 0)
		return err_set(err, ERR_BAD_REQUEST,
		    "decision: %s moves the order to %s, not %s", decision,
		    strcmp(decision, "approved") == 0 ? "confirmed"
						      : "cancelled",
		    to);
	return 0;
}

/* Whether order id is held (1) or not (0), and whether it needs approval
 * (*needs); -1 with err when the read failed. */
static int
s_needs(store_t *st, const char *id, int *needs, err_t *err)
{
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT EXISTS (SELECT 1 FROM order_approvals a "
	    "WHERE a.order_id = o.id) FROM orders o WHERE o.id = ?");
	int held = 0;

	*needs = 0;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	if (store_row(st, s)) {
		held = 1;
		*needs = sqlite3_column_int(s, 0);
	}
	sqlite3_reset(s);
	return store_read_error(st, err) ? -1 : held;
}

/* Whether head office's confirmation of order id, its approval, is held
 * here. A failed read is kept as store_row keeps it. */
static int
s_approved(store_t *st, const char *id)
{
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT count(*) FROM order_history h WHERE h.order_id = ? "
	    "AND h.rank = " ORDER_SQL(ORDER_RANK_CONFIRMED) " AND " OWN_HQ_SQL(
		"h.origin"));

	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	return store_query_int(st, s, 0) > 0;
}

/* The text of a move the approval forbids while it is not held; the same
 * at the command (409) and in the rule's quarantine reason (own.h). */
static int
s_pending(const char *id, int rank, err_t *err)
{
	return err_set(err, ERR_CONFLICT,
	    "order %s: " OWN_APPROVAL
	    ": it cannot be %s before head office approves it",
	    id, lifecycle_name(&lifecycle_order, rank));
}

int
approval_own(store_t *st, const op_t *op, int rank, err_t *err)
{
	int held, needs;

	if (own_is_hq(op->origin))
		return 0;
	if (json_object_get(op->fields, "decision") != NULL)
		return err_set(err, ERR_FORBIDDEN,
		    "order %s: %s may not decide its approval: only head "
		    "office may",
		    op->key, op->origin);
	if (rank == ORDER_RANK_DRAFT || rank == ORDER_RANK_PENDING_APPROVAL ||
	    rank == ORDER_RANK_CANCELLED)
		return 0;
	if ((held = s_needs(st, op->key, &needs, err)) < 0)
		return -1;
	if (!held)
		return err_set(err, ERR_NOT_FOUND,
		    "order %s: " OWN_WAITING
		    ", to tell whether it waits for head office's approval",
		    op->key);
	if (!needs)
		return 0;
	if (rank == ORDER_RANK_CONFIRMED)
		return err_set(err, ERR_FORBIDDEN,
		    "order %s: %s may not confirm it: its prices wait for "
		    "head office's approval",
		    op->key, op->origin);
	if (s_approved(st, op->key))
		return 0;
	if (store_read_error(st, err))
		return -1;
	return s_pending(op->key, rank, err);
}

/* Whether op, a create of its order, is the one that defines it (order.c:
 * the earliest by (hlc, origin)). */
static int
s_defines(store_t *st, const op_t *op)
{
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT count(*) FROM orders WHERE id = ? "
	    "AND created_hlc = ? AND created_origin = ?");

	sqlite3_bind_text(s, 1, op->key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (int64_t)op->hlc);
	sqlite3_bind_text(s, 3, op->origin, -1, SQLITE_STATIC);
	return store_query_int(st, s, 0) > 0;
}

int
approval_apply_order(store_t *st, const op_t *op, int fresh, err_t *err)
{
	const json_t *f = op->fields, *a;
	sqlite3_stmt *s;

	if (strcmp(op->kind, "create") == 0) {
		/* What the defining create says, whatever came first. A
		 * create that made its order defines it, and there is no
		 * approval of an earlier one to forget. */
		if (!fresh && !s_defines(st, op))
			return store_read_error(st, err);
		a = json_object_get(f, "approval");
		if (a == NULL && fresh)
			return 0;
		if (a != NULL) {
			s = store_stmt(st,
			    "INSERT OR REPLACE INTO order_approvals"
			    "(order_id, reason) VALUES (?, ?)");
			sqlite3_bind_text(s, 2,
			    json_string_value(json_object_get(a, "reason")), -1,
			    SQLITE_STATIC);
		} else {
			s = store_stmt(st,
			    "DELETE FROM order_approvals WHERE order_id = ?");
		}
		sqlite3_bind_text(s, 1, op->key, -1, SQLITE_STATIC);
		return store_step(st, s, "order approval", err);
	}
	if (json_object_get(f, "decision") == NULL)
		return 0;
	s = store_stmt(st,
	    "INSERT OR IGNORE INTO approval_decisions(order_id, origin, seq, "
	    "hlc, decision, comment) VALUES (?, ?, ?, ?, ?, ?)");
	sqlite3_bind_text(s, 1, op->key, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, op->origin, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, (int64_t)op->seq);
	sqlite3_bind_int64(s, 4, (int64_t)op->hlc);
	sqlite3_bind_text(s, 5,
	    json_string_value(json_object_get(f, "decision")), -1,
	    SQLITE_STATIC);
	sqlite3_bind_text(s, 6,
	    json_string_value(json_object_get(f, "comment")), -1,
	    SQLITE_STATIC);
	return store_step(st, s, "approval decision", err);
}

/* ---- approvals as shown ---- */

/* Where an approval stands: its status and, once decided, by whom and
 * when. */
typedef struct {
	const char *status; /* pending, approved, ... (static) */
	int64_t decided_hlc;
	char decided_by[OP_SITE_MAX + 1];
	const char *decision; /* approved, rejected, or NULL */
} s_state_t;

/* Whether s (hlc, origin of the first op that decided order id so) has
 * a row; if so decision, with when and by whom, into x. */
static int
s_decided(store_t *st, sqlite3_stmt *s, const char *id, const char *decision,
    s_state_t *x)
{
	int found;

	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	if ((found = store_row(st, s)) != 0) {
		x->status = decision;
		x->decision = decision;
		x->decided_hlc = sqlite3_column_int64(s, 0);
		snprintf(x->decided_by, sizeof x->decided_by, "%s",
		    sqlite3_column_text(s, 1));
	}
	sqlite3_reset(s);
	return found;
}

/* The decision of order id, from what is held: a rejection (head office's
 * cancellation that says so) first, since it outranks a concurrent
 * approval; then head office's confirmation; else what its status says. */
static void
s_state(store_t *st, const char *id, int rank, s_state_t *x)
{
	memset(x, 0, sizeof *x);
	if (s_decided(st,
		store_stmt(st,
		    "SELECT hlc, origin FROM approval_decisions "
		    "WHERE order_id = ? AND decision = 'rejected' "
		    "ORDER BY hlc, origin, seq LIMIT 1"),
		id, "rejected", x) ||
	    s_decided(st,
		store_stmt(st,
		    "SELECT hlc, origin FROM order_history h "
		    "WHERE h.order_id = ? "
		    "AND h.rank = " ORDER_SQL(ORDER_RANK_CONFIRMED) " AND " OWN_HQ_SQL(
			"h.origin") " ORDER BY hlc, origin, seq LIMIT 1"),
		id, "approved", x))
		return;
	x->status = rank == ORDER_RANK_PENDING_APPROVAL ? "pending"
	    : rank == ORDER_RANK_CANCELLED		? "cancelled"
							: "draft";
}

/* The approval of order id with reason into a new object (NULL when the
 * order needs none): {status, reason, comment?, decided_at_ms?,
 * decided_by?}. */
static json_t *
s_approval(store_t *st, const char *id)
{
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT a.reason, (SELECT max(rank) FROM order_history h "
	    "WHERE h.order_id = a.order_id) FROM order_approvals a "
	    "WHERE a.order_id = ?");
	json_t *o = NULL;
	int rank = ORDER_RANK_DRAFT;
	s_state_t x;

	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	if (store_row(st, s)) {
		o = json_pack("{s:s}", "reason",
		    (const char *)sqlite3_column_text(s, 0));
		if (sqlite3_column_type(s, 1) != SQLITE_NULL)
			rank = sqlite3_column_int(s, 1);
	}
	sqlite3_reset(s);
	if (o == NULL)
		return NULL;
	s_state(st, id, rank, &x);
	json_object_set_new(o, "status", json_string(x.status));
	if (x.decision == NULL)
		return o;
	json_object_set_new(o, "decided_at_ms",
	    json_integer((json_int_t)hlc_ms((uint64_t)x.decided_hlc)));
	json_object_set_new(o, "decided_by", json_string(x.decided_by));
	s = store_stmt(st,
	    "SELECT comment FROM approval_decisions WHERE order_id = ? "
	    "AND decision = ? AND comment IS NOT NULL "
	    "ORDER BY hlc, origin, seq LIMIT 1");
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, x.decision, -1, SQLITE_STATIC);
	if (store_row(st, s))
		json_object_set_new(o, "comment",
		    json_string((const char *)sqlite3_column_text(s, 0)));
	sqlite3_reset(s);
	return o;
}

void
approval_show(store_t *st, const char *id, json_t *order)
{
	json_t *a = s_approval(st, id);

	if (a != NULL)
		json_object_set_new(order, "approval", a);
}

/* The approval of order id as listed: {id, site, customer?, status,
 * reason, ...}, or NULL when the order needs none (or is not held). */
static json_t *
s_item(store_t *st, const char *id)
{
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT site, customer FROM orders WHERE id = ?");
	json_t *o = NULL, *a;

	if ((a = s_approval(st, id)) == NULL)
		return NULL;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	if (store_row(st, s)) {
		o = json_pack("{s:s, s:s}", "id", id, "site",
		    (const char *)sqlite3_column_text(s, 0));
		if (sqlite3_column_type(s, 1) != SQLITE_NULL)
			json_object_set_new(o, "customer",
			    json_string(
				(const char *)sqlite3_column_text(s, 1)));
		json_object_update(o, a);
	}
	sqlite3_reset(s);
	json_decref(a);
	return o;
}

int
approval_list(store_t *st, const json_t *query, json_t **out, err_t *err)
{
	static const char *const statuses[] = { "pending", "approved",
		"rejected", "cancelled", "draft", NULL };
	const char *want = req_query(query, "status");
	const char *const *p;
	sqlite3_stmt *s;
	json_t *all, *items, *it;
	size_t i;
	int rc;

	for (p = statuses; want != NULL && *p != NULL; p++)
		if (strcmp(*p, want) == 0)
			break;
	if (want != NULL && *p == NULL)
		return err_set(err, ERR_BAD_REQUEST,
		    "status: '%s' is not an approval status (pending, "
		    "approved, rejected, cancelled, draft)",
		    want);
	s = store_stmt(st,
	    "SELECT a.order_id FROM order_approvals a "
	    "JOIN orders o ON o.id = a.order_id "
	    "ORDER BY o.created_hlc, a.order_id");
	if ((rc = rec_items_by_id(st, s, s_item, &all, err)) != 0)
		return rc;
	items = json_array();
	json_array_foreach(json_object_get(all, "items"), i, it)
		if (want == NULL ||
		    strcmp(json_string_value(json_object_get(it, "status")),
			want) == 0)
			json_array_append(items, it);
	json_decref(all);
	return rec_items(st, items, out, err);
}

/* ---- commands ---- */

int
approval_on_move(store_t *st, const char *id, int rank, const json_t *req,
    json_t **fields, err_t *err)
{
	const char *to = json_string_value(json_object_get(req, "to"));
	int r = to != NULL ? lifecycle_rank(&lifecycle_order, to) : -1;
	int held, needs;

	*fields = NULL;
	if (json_object_get(req, "decision") != NULL ||
	    json_object_get(req, "comment") != NULL)
		return err_set(err, ERR_BAD_REQUEST,
		    "decision: head office decides with POST "
		    "/v1/approvals/%s/decision",
		    id);
	if (r < 0)
		return 0; /* the lifecycle check names it */
	if ((held = s_needs(st, id, &needs, err)) < 0)
		return -1;
	if (!held)
		return 0;
	if (!needs) {
		if (r == ORDER_RANK_PENDING_APPROVAL)
			return err_set(err, ERR_UNPROCESSABLE,
			    "to: order %s needs no approval: its prices are "
			    "within head office's thresholds",
			    id);
		return 0;
	}
	if (s_approved(st, id))
		return 0;
	if (store_read_error(st, err))
		return -1;
	if (rank == ORDER_RANK_PENDING_APPROVAL) {
		if (r == ORDER_RANK_CONFIRMED && store_is_hq(st))
			return err_set(err, ERR_CONFLICT,
			    "order %s: " OWN_APPROVAL
			    ": head office decides it with POST "
			    "/v1/approvals/%s/decision",
			    id, id);
		if (r == ORDER_RANK_CONFIRMED)
			return err_set(err, ERR_CONFLICT,
			    "order %s: " OWN_APPROVAL
			    ": only head office's approval confirms it",
			    id);
		/* The goods' moves; the lifecycle check names the others. */
		if (r > ORDER_RANK_CONFIRMED && r != ORDER_RANK_CANCELLED)
			return s_pending(id, r, err);
	}
	/* A draft confirmed asks for the approval instead. */
	if (rank <= ORDER_RANK_DRAFT && r == ORDER_RANK_CONFIRMED) {
		*fields = json_deep_copy(req);
		json_object_set_new(*fields, "to",
		    json_string(lifecycle_name(&lifecycle_order,
			ORDER_RANK_PENDING_APPROVAL)));
	}
	return 0;
}

/* The step of a decision, in its command's transaction: c->id is the
 * order, c->req the request. */
static int
s_decide_step(store_t *st, void *arg, err_t *err)
{
	cmd_t *c = arg;
	int approve = json_is_true(json_object_get(c->req, "approve"));
	const json_t *comment = json_object_get(c->req, "comment");
	json_t *a, *f;
	const char *status;
	int held, needs, rc;

	if (!store_is_hq(st))
		return err_set(err, ERR_FORBIDDEN,
		    "approval %s: head office decides approvals, at the hub",
		    c->id);
	if ((held = s_needs(st, c->id, &needs, err)) < 0)
		return -1;
	if (!held)
		return err_set(err, ERR_NOT_FOUND, "order: %s not found",
		    c->id);
	if (!needs)
		return err_set(err, ERR_UNPROCESSABLE,
		    "approval %s: order %s needs no approval", c->id, c->id);
	if ((a = s_approval(st, c->id)) == NULL)
		return store_read_error(st, err);
	status = json_string_value(json_object_get(a, "status"));
	if (strcmp(status, "pending") != 0) {
		rc = err_set(err, ERR_CONFLICT, "approval %s: %s", c->id,
		    strcmp(status, "approved") == 0	  ? "already approved"
			: strcmp(status, "rejected") == 0 ? "already rejected"
			: strcmp(status, "cancelled") == 0
			? "the order was cancelled before a decision"
			: "the order is a draft: its site asks for approval "
			  "when it confirms it");
		json_decref(a);
		return rc;
	}
	json_decref(a);
	f = json_pack("{s:s, s:s}", "to", approve ? "confirmed" : "cancelled",
	    "decision", approve ? "approved" : "rejected");
	if (comment != NULL)
		json_object_set(f, "comment", (json_t *)comment);
	rc = store_append_local(st, ORDER_ENTITY, c->id, "transition", f, NULL,
	    err);
	json_decref(f);
	if (rc)
		return -1;
	c->created = 1;
	if ((c->out = s_item(st, c->id)) == NULL)
		return store_read_error(st, err) ? -1
						 : err_set(err, ERR_INTERNAL,
						       "approval %s: not "
						       "recorded",
						       c->id);
	return 0;
}

int
approval_decide(store_t *st, const char *id, const json_t *req, json_t **out,
    err_t *err)
{
	static const char *const allowed[] = { "approve", "comment", NULL };
	const char *comment;

	*out = NULL;
	if (!json_is_object(req))
		return err_set(err, ERR_BAD_REQUEST,
		    "body: must be a JSON object");
	if (req_only(req, allowed, err) ||
	    req_text(req, "comment", REQ_TEXT_MAX, 0, &comment, err))
		return -1;
	if (!json_is_boolean(json_object_get(req, "approve")))
		return err_set(err, ERR_BAD_REQUEST,
		    "approve: must be true or false");
	if (!json_is_true(json_object_get(req, "approve")) && comment == NULL)
		return err_set(err, ERR_BAD_REQUEST,
		    "comment: a rejection says why");
	return cmd_run(st, s_decide_step, req, id, NULL, out, NULL, err);
}
