/* aftersales: after-sales cases (see aftersales.h). */
#include "aftersales.h"

#include <string.h>

#include "catalog.h"
#include "cmd.h"
#include "effect.h"
#include "idem.h"
#include "lifecycle.h"
#include "lww.h"
#include "order.h"
#include "own.h"
#include "rec.h"
#include "req.h"
#include "stock.h"

static const char *const s_kinds[] = { "return", "exchange", "complaint",
	"repair", NULL };

static int
s_check_lines(const json_t *lines, err_t *err)
{
	static const char *const allowed[] = { "sku", "qty", NULL };
	size_t i;
	json_t *l;
	const char *sku;
	int64_t qty;

	if (lines == NULL)
		return 0;
	if (!json_is_array(lines) || json_array_size(lines) > 200)
		return err_set(err, ERR_BAD_REQUEST,
		    "lines: must be an array of at most 200 lines");
	json_array_foreach(lines, i, l) {
		if (!json_is_object(l) || req_only(l, allowed, err) ||
		    req_text(l, "sku", REQ_ID_MAX, 1, &sku, err) ||
		    req_int(l, "qty", 1, 1000000, 1, 0, &qty, err)) {
			if (!json_is_object(l))
				err_set(err, ERR_BAD_REQUEST,
				    "must be an object");
			return err_prefix(err, "lines[%zu]", i);
		}
	}
	return 0;
}

static int
s_check_create(const json_t *f, err_t *err)
{
	static const char *const allowed[] = { "kind", "site", "order",
		"customer", "description", "lines", NULL };
	const char *s;

	return req_only(f, allowed, err) ||
	    req_enum(f, "kind", s_kinds, 1, &s, err) ||
	    req_text(f, "site", OP_SITE_MAX, 1, &s, err) ||
	    req_text(f, "order", REQ_ID_MAX, 0, &s, err) ||
	    req_text(f, "customer", REQ_ID_MAX, 0, &s, err) ||
	    req_text(f, "description", REQ_TEXT_MAX, 0, &s, err) ||
	    s_check_lines(json_object_get(f, "lines"), err);
}

static int
s_check_set(const json_t *set, err_t *err)
{
	static const char *const allowed[] = { "assignee", "resolution",
		"rating", NULL };
	const char *s;
	int64_t n;

	if (!json_is_object(set))
		return err_set(err, ERR_BAD_REQUEST, "set: must be an object");
	return req_only(set, allowed, err) ||
	    req_text(set, "assignee", REQ_ID_MAX, 0, &s, err) ||
	    req_text(set, "resolution", REQ_TEXT_MAX, 0, &s, err) ||
	    req_int(set, "rating", 1, 5, 0, 0, &n, err);
}

static int
s_history(store_t *st, const op_t *op, const char *table_sql,
    const char *status, err_t *err)
{
	sqlite3_stmt *s = store_stmt(st, table_sql);

	sqlite3_bind_text(s, 1, op->key, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, op->origin, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, (int64_t)op->seq);
	sqlite3_bind_int64(s, 4, (int64_t)op->hlc);
	sqlite3_bind_text(s, 5, status, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 6, lifecycle_rank(&lifecycle_case, status));
	return store_step(st, s, "case", err);
}

#define HISTORY_SQL                                            \
	"INSERT OR IGNORE INTO case_history(case_id, origin, " \
	"seq, hlc, status, rank) VALUES (?, ?, ?, ?, ?, ?)"

static int
s_apply_create(store_t *st, const op_t *op, err_t *err)
{
	const json_t *f = op->fields, *l;
	sqlite3_stmt *s;
	size_t i;

	if (s_check_create(f, err))
		return err_prefix(err, "case %s", op->key);
	/* Opened here, under its own id, about an order it is a party to
	 * (own.h): its returns count against that order. */
	if (own_here(op, "case", "site", "a site opens only its own cases",
		err) ||
	    own_create(op, "case", err))
		return -1;
	if (json_object_get(f, "order") != NULL &&
	    own_order_party(st, op,
		json_string_value(json_object_get(f, "order")),
		OWN_CREATOR | OWN_FULFILLER | OWN_HQ, "open a case on it", err))
		return own_waiting(err) ? -1
					: err_prefix(err, "case %s", op->key);
	/* The earliest create defines the case, whatever arrives first. */
	s = store_stmt(st,
	    "INSERT INTO cases(id, kind, order_id, customer, site, "
	    "description, created_hlc, created_origin) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
	    "ON CONFLICT(id) DO UPDATE SET kind = excluded.kind, "
	    "order_id = excluded.order_id, customer = excluded.customer, "
	    "site = excluded.site, description = excluded.description, "
	    "created_hlc = excluded.created_hlc, "
	    "created_origin = excluded.created_origin "
	    "WHERE (excluded.created_hlc, excluded.created_origin) < "
	    "(cases.created_hlc, cases.created_origin)");
	sqlite3_bind_text(s, 1, op->key, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, json_string_value(json_object_get(f, "kind")),
	    -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, json_string_value(json_object_get(f, "order")),
	    -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4,
	    json_string_value(json_object_get(f, "customer")), -1,
	    SQLITE_STATIC);
	sqlite3_bind_text(s, 5, json_string_value(json_object_get(f, "site")),
	    -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 6,
	    json_string_value(json_object_get(f, "description")), -1,
	    SQLITE_STATIC);
	sqlite3_bind_int64(s, 7, (int64_t)op->hlc);
	sqlite3_bind_text(s, 8, op->origin, -1, SQLITE_STATIC);
	if (store_step(st, s, "case", err))
		return -1;
	if (sqlite3_changes(store_db(st)) > 0) {
		s = store_stmt(st, "DELETE FROM case_lines WHERE case_id = ?");
		sqlite3_bind_text(s, 1, op->key, -1, SQLITE_STATIC);
		if (store_step(st, s, "case", err))
			return -1;
		json_array_foreach(json_object_get(f, "lines"), i, l) {
			s = store_stmt(st,
			    "INSERT INTO case_lines(case_id, line, "
			    "sku, qty) VALUES (?, ?, ?, ?)");
			sqlite3_bind_text(s, 1, op->key, -1, SQLITE_STATIC);
			sqlite3_bind_int(s, 2, (int)i + 1);
			sqlite3_bind_text(s, 3,
			    json_string_value(json_object_get(l, "sku")), -1,
			    SQLITE_STATIC);
			sqlite3_bind_int64(s, 4,
			    json_integer_value(json_object_get(l, "qty")));
			if (store_step(st, s, "case", err))
				return -1;
		}
	}
	return s_history(st, op, HISTORY_SQL, "open", err);
}

static const struct {
	const char *name;
	const char *sql;
} s_fields[] = {
	{ "assignee", "UPDATE cases SET assignee = ?2 WHERE id = ?1" },
	{ "resolution", "UPDATE cases SET resolution = ?2 WHERE id = ?1" },
	{ "rating", "UPDATE cases SET rating = ?2 WHERE id = ?1" },
};

static int
s_apply_update(store_t *st, const op_t *op, err_t *err)
{
	const json_t *set = json_object_get(op->fields, "set"), *v;
	sqlite3_stmt *s;
	size_t i;
	int wins;

	if (s_check_set(set, err))
		return err_prefix(err, "case %s", op->key);
	/* An update may arrive before the create: keep a stub row. */
	s = store_stmt(st,
	    "INSERT OR IGNORE INTO cases(id, kind, site, "
	    "created_hlc) VALUES (?, 'complaint', '', 9223372036854775807)");
	sqlite3_bind_text(s, 1, op->key, -1, SQLITE_STATIC);
	if (store_step(st, s, "case", err))
		return -1;
	for (i = 0; i < sizeof s_fields / sizeof s_fields[0]; i++) {
		if ((v = json_object_get(set, s_fields[i].name)) == NULL)
			continue;
		if ((wins = lww_claim(st, CASE_ENTITY, op->key,
			 s_fields[i].name, op, err)) < 0)
			return -1;
		if (!wins)
			continue;
		s = store_stmt(st, s_fields[i].sql);
		sqlite3_bind_text(s, 1, op->key, -1, SQLITE_STATIC);
		if (json_is_integer(v))
			sqlite3_bind_int64(s, 2, json_integer_value(v));
		else
			sqlite3_bind_text(s, 2, json_string_value(v), -1,
			    SQLITE_STATIC);
		if (store_step(st, s, "case", err))
			return -1;
	}
	return 0;
}

/* Whether op may change its case (own.h): the site that opened it (its
 * id's), and head office but for a transition, whose completion records
 * the returns at the site that writes it. */
static int
s_may_change(const op_t *op, err_t *err)
{
	int tr = strcmp(op->kind, "transition") == 0;

	if (own_in(op->key, op->origin) || (!tr && own_is_hq(op->origin)))
		return 0;
	return err_set(err, ERR_FORBIDDEN,
	    "case %s: %s may not %s it: only the site that opened it%s may",
	    op->key, op->origin,
	    tr					   ? "move"
		: strcmp(op->kind, "comment") == 0 ? "comment on"
						   : "update",
	    tr ? "" : " or head office");
}

int
case_apply(store_t *st, const op_t *op, err_t *err)
{
	const json_t *f = op->fields;
	static const char *const comment_fields[] = { "text", "author", NULL };
	static const char *const tr_fields[] = { "to", NULL };
	const char *s1, *s2;
	sqlite3_stmt *s;

	if (strcmp(op->kind, "create") == 0)
		return s_apply_create(st, op, err);
	if ((strcmp(op->kind, "update") == 0 ||
		strcmp(op->kind, "comment") == 0 ||
		strcmp(op->kind, "transition") == 0) &&
	    s_may_change(op, err))
		return -1;
	if (strcmp(op->kind, "update") == 0)
		return s_apply_update(st, op, err);
	if (strcmp(op->kind, "comment") == 0) {
		if (req_only(f, comment_fields, err) ||
		    req_text(f, "text", REQ_TEXT_MAX, 1, &s1, err) ||
		    req_text(f, "author", REQ_ID_MAX, 0, &s2, err))
			return err_prefix(err, "case %s", op->key);
		s = store_stmt(st,
		    "INSERT OR IGNORE INTO case_comments(case_id, "
		    "origin, seq, hlc, author, text) VALUES (?, ?, ?, ?, ?, ?)");
		sqlite3_bind_text(s, 1, op->key, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, op->origin, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 3, (int64_t)op->seq);
		sqlite3_bind_int64(s, 4, (int64_t)op->hlc);
		sqlite3_bind_text(s, 5, s2, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 6, s1, -1, SQLITE_STATIC);
		return store_step(st, s, "case", err);
	}
	if (strcmp(op->kind, "transition") == 0) {
		if (req_only(f, tr_fields, err) ||
		    req_text(f, "to", REQ_ID_MAX, 1, &s1, err))
			return err_prefix(err, "case %s", op->key);
		if (lifecycle_rank(&lifecycle_case, s1) < 0)
			return err_set(err, ERR_BAD_REQUEST,
			    "case %s: to: '%s' is not a case status", op->key,
			    s1);
		return s_history(st, op, HISTORY_SQL, s1, err);
	}
	return err_set(err, ERR_BAD_REQUEST, "case %s: unknown kind '%s'",
	    op->key, op->kind);
}

static int
s_rank(store_t *st, const char *id)
{
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT max(rank) FROM case_history "
	    "WHERE case_id = ?");

	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	return (int)store_query_int(st, s, 0);
}

static void
s_opt(json_t *o, const char *name, sqlite3_stmt *s, int col)
{
	if (sqlite3_column_type(s, col) == SQLITE_INTEGER)
		json_object_set_new(o, name,
		    json_integer(sqlite3_column_int64(s, col)));
	else if (sqlite3_column_type(s, col) == SQLITE_TEXT)
		json_object_set_new(o, name,
		    json_string((const char *)sqlite3_column_text(s, col)));
}

/* The case id, or NULL when there is none (or a read failed). */
static json_t *
s_read(store_t *st, const char *id)
{
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT kind, order_id, customer, site, "
	    "description, assignee, resolution, rating, created_hlc "
	    "FROM cases WHERE id = ? AND site != ''");
	json_t *o = NULL, *arr;

	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	if (store_row(st, s)) {
		o = json_pack("{s:s, s:s, s:s, s:I}", "id", id, "kind",
		    (const char *)sqlite3_column_text(s, 0), "site",
		    (const char *)sqlite3_column_text(s, 3), "created_ms",
		    (json_int_t)hlc_ms((uint64_t)sqlite3_column_int64(s, 8)));
		s_opt(o, "order", s, 1);
		s_opt(o, "customer", s, 2);
		s_opt(o, "description", s, 4);
		s_opt(o, "assignee", s, 5);
		s_opt(o, "resolution", s, 6);
		s_opt(o, "rating", s, 7);
	}
	sqlite3_reset(s);
	if (o == NULL)
		return NULL;
	json_object_set_new(o, "status",
	    json_string(lifecycle_name(&lifecycle_case, s_rank(st, id))));
	arr = json_array();
	s = store_stmt(st,
	    "SELECT sku, qty FROM case_lines WHERE case_id = ? "
	    "ORDER BY line");
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	while (store_row(st, s))
		json_array_append_new(arr,
		    json_pack("{s:s, s:I}", "sku",
			(const char *)sqlite3_column_text(s, 0), "qty",
			(json_int_t)sqlite3_column_int64(s, 1)));
	sqlite3_reset(s);
	json_object_set_new(o, "lines", arr);
	arr = json_array();
	s = store_stmt(st,
	    "SELECT origin, hlc, author, text FROM case_comments "
	    "WHERE case_id = ? ORDER BY hlc, origin, seq");
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	while (store_row(st, s)) {
		json_t *c = json_pack("{s:s, s:I, s:s}", "site",
		    (const char *)sqlite3_column_text(s, 0), "at_ms",
		    (json_int_t)hlc_ms((uint64_t)sqlite3_column_int64(s, 1)),
		    "text", (const char *)sqlite3_column_text(s, 3));

		s_opt(c, "author", s, 2);
		json_array_append_new(arr, c);
	}
	sqlite3_reset(s);
	json_object_set_new(o, "comments", arr);
	arr = json_array();
	s = store_stmt(st,
	    "SELECT status, origin, hlc FROM case_history "
	    "WHERE case_id = ? ORDER BY hlc, origin, seq");
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	while (store_row(st, s))
		json_array_append_new(arr,
		    json_pack("{s:s, s:s, s:I}", "status",
			(const char *)sqlite3_column_text(s, 0), "site",
			(const char *)sqlite3_column_text(s, 1), "at_ms",
			(json_int_t)hlc_ms(
			    (uint64_t)sqlite3_column_int64(s, 2))));
	sqlite3_reset(s);
	json_object_set_new(o, "history", arr);
	return o;
}

int
case_get(store_t *st, const char *id, json_t **out, err_t *err)
{
	return rec_found(st, s_read(st, id), "case", id, out, err);
}

int
case_list(store_t *st, const json_t *query, json_t **out, err_t *err)
{
	const char *status = req_query(query, "status");

	sqlite3_stmt *s = store_stmt(st,
	    "SELECT c.id FROM cases c WHERE "
	    "c.site != '' AND (?1 IS NULL OR (SELECT max(rank) FROM case_history "
	    "h WHERE h.case_id = c.id) = ?1) ORDER BY c.created_hlc, c.id");

	if (status != NULL && lifecycle_rank(&lifecycle_case, status) < 0)
		return err_set(err, ERR_BAD_REQUEST,
		    "status: '%s' is not a case status", status);
	if (status != NULL)
		sqlite3_bind_int(s, 1, lifecycle_rank(&lifecycle_case, status));
	return rec_items_by_id(st, s, s_read, out, err);
}

/* ---- commands ---- */

/* The qty of sku on the return and exchange cases of order other than
 * self (NULL: none) that are still open: neither rejected nor completed
 * (a completed one is counted by its return movements). */
static int64_t
s_pending(store_t *st, const char *order, const char *self, const char *sku)
{
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT coalesce(sum(l.qty), 0) "
	    "FROM cases c JOIN case_lines l ON l.case_id = c.id "
	    "WHERE c.order_id = ?1 AND l.sku = ?2 AND c.id IS NOT ?3 "
	    "AND c.site != '' AND c.kind IN ('return', 'exchange') "
	    "AND NOT EXISTS (SELECT 1 FROM case_history h "
	    "WHERE h.case_id = c.id AND h.status IN "
	    "('rejected', 'completed', 'closed'))");

	sqlite3_bind_text(s, 1, order, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, sku, -1, SQLITE_STATIC);
	if (self != NULL)
		sqlite3_bind_text(s, 3, self, -1, SQLITE_STATIC);
	return store_query_int(st, s, 0);
}

/* Refuses (ERR_UNPROCESSABLE, naming the line and the quantities) lines
 * of a return or exchange against order that would take back more of a
 * sku than the order sold (effect_sold), with what earlier returns take:
 * those recorded (effect_returned), the earlier lines of these lines and,
 * when a case is opened (open = 1), the other cases still open; self is
 * the case the lines are of (NULL when it is being opened). A merge can
 * still bring more back than was sold; effect.h counts it at most once
 * and GET /v1/alerts says so. */
static int
s_check_returnable(store_t *st, const char *order, const char *self,
    const json_t *lines, int open, err_t *err)
{
	const json_t *l, *k;
	size_t i, j;

	json_array_foreach(lines, i, l) {
		const char *sku = json_string_value(json_object_get(l, "sku"));
		int64_t qty = json_integer_value(json_object_get(l, "qty"));
		int64_t sold, earlier;

		if (effect_sold(st, order, sku, &sold, err))
			return -1;
		earlier = effect_returned(st, order, sku) +
		    (open ? s_pending(st, order, self, sku) : 0);
		for (j = 0; j < i; j++) {
			k = json_array_get(lines, j);
			if (strcmp(json_string_value(json_object_get(k, "sku")),
				sku) == 0)
				earlier += json_integer_value(
				    json_object_get(k, "qty"));
		}
		if (earlier + qty > sold)
			return err_set(err, ERR_UNPROCESSABLE,
			    "lines[%zu]: return of %lld %s exceeds what order %s sold: %lld sold, %lld on earlier returns",
			    i, (long long)qty, sku, order, (long long)sold,
			    (long long)earlier);
	}
	return store_read_error(st, err);
}

/* Whether a case of kind with lines puts goods back: a return or an
 * exchange. */
static int
s_returns_goods(const char *kind)
{
	return kind != NULL &&
	    (strcmp(kind, "return") == 0 || strcmp(kind, "exchange") == 0);
}

static int
s_create(store_t *st, void *arg, err_t *err)
{
	int r;
	cmd_t *c = arg;
	static const char *const allowed[] = { "id", "kind", "order",
		"customer", "description", "lines", "assignee", NULL };
	const char *id, *order, *assignee;
	char idbuf[OP_KEY_MAX + 1], scoped[OP_KEY_MAX + 1];
	order_info_t info;
	json_t *f, *l;
	size_t i;
	int rc = -1;

	/* Scoped by this site; its return movements' ids add "-ret-N". */
	if (req_only(c->req, allowed, err) ||
	    req_text(c->req, "id", OP_KEY_MAX, 0, &id, err) ||
	    own_scope(st, id, OP_KEY_MAX - 8, scoped, &id, err) ||
	    req_text(c->req, "assignee", REQ_ID_MAX, 0, &assignee, err))
		return -1;
	/* A retry answers what was recorded; a reused id is refused. */
	if ((r = idem_replay(st, "case", id, c->req, case_get, &c->out, err)) !=
	    0)
		return r > 0 ? 0 : -1;
	f = json_deep_copy(c->req);
	json_object_del(f, "id");
	json_object_del(f, "assignee");
	json_object_set_new(f, "site", json_string(store_site(st)));
	if (s_check_create(f, err))
		goto out;
	if ((order = json_string_value(json_object_get(f, "order"))) != NULL &&
	    order_lookup(st, order, "order", &info, err))
		goto out;
	json_array_foreach(json_object_get(f, "lines"), i, l) {
		const char *sku = json_string_value(json_object_get(l, "sku"));

		if (!catalog_has(st, sku)) {
			err_set(err, ERR_NOT_FOUND,
			    "lines[%zu].sku: %s is not in the catalog", i, sku);
			goto out;
		}
	}
	if (order != NULL &&
	    s_returns_goods(json_string_value(json_object_get(f, "kind"))) &&
	    s_check_returnable(st, order, NULL, json_object_get(f, "lines"), 1,
		err))
		goto out;
	if (cmd_create_op(st, c, "case", CASE_ENTITY, "create", &id, idbuf, f,
		err))
		goto out;
	if (assignee != NULL) {
		json_t *u = json_pack("{s:{s:s}}", "set", "assignee", assignee);

		rc = store_append_local(st, CASE_ENTITY, id, "update", u, NULL,
		    err);
		json_decref(u);
		if (rc)
			goto out;
		rc = -1;
	}
	rc = case_get(st, id, &c->out, err);
out:
	json_decref(f);
	return rc;
}

int
case_create(store_t *st, const json_t *req, json_t **out, int *created,
    err_t *err)
{
	return cmd_run(st, s_create, req, NULL, NULL, out, created, err);
}

/* Return movements for the lines of a completed return or exchange, each
 * naming the case's order (if it has one), against which it counts
 * (effect.h). */
static int
s_return_lines(store_t *st, const char *id, err_t *err)
{
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT l.line, l.sku, l.qty, c.order_id "
	    "FROM case_lines l JOIN cases c ON c.id = l.case_id "
	    "WHERE l.case_id = ? AND c.kind IN ('return', 'exchange') "
	    "ORDER BY l.line");
	json_t *moves = json_array(), *m, *out;
	char mid[OP_KEY_MAX + 1];
	const char *order;
	size_t i;
	int created, rc = 0;

	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	while (store_row(st, s)) {
		snprintf(mid, sizeof mid, "%s-ret-%d", id,
		    sqlite3_column_int(s, 0));
		m = json_pack("{s:s, s:s, s:I, s:s, s:s}", "id", mid, "sku",
		    (const char *)sqlite3_column_text(s, 1), "delta",
		    (json_int_t)sqlite3_column_int64(s, 2), "reason", "return",
		    "ref", id);
		if (sqlite3_column_type(s, 3) != SQLITE_NULL)
			json_object_set_new(m, "order",
			    json_string(
				(const char *)sqlite3_column_text(s, 3)));
		json_array_append_new(moves, m);
	}
	sqlite3_reset(s);
	json_array_foreach(moves, i, m) {
		order = json_string_value(json_object_get(m, "order"));
		rc = order != NULL
		    ? stock_return_in(st, m, order, &out, &created, err)
		    : stock_record_in(st, m, &out, &created, err);
		if (rc != 0)
			break;
		json_decref(out);
	}
	json_decref(moves);
	return rc;
}

static int
s_change(store_t *st, void *arg, err_t *err)
{
	cmd_t *c = arg;
	static const char *const comment_allowed[] = { "text", "author", NULL };
	static const char *const tr_allowed[] = { "to", NULL };
	json_t *existing, *f = NULL;
	const char *s1, *order;
	int rc = -1;

	if (case_get(st, c->id, &existing, err))
		return -1;
	if (strcmp(c->kind, "update") == 0) {
		if (s_check_set(c->req, err))
			goto out;
		f = json_pack("{s:O}", "set", c->req);
	} else if (strcmp(c->kind, "comment") == 0) {
		if (req_only(c->req, comment_allowed, err) ||
		    req_text(c->req, "text", REQ_TEXT_MAX, 1, &s1, err) ||
		    req_text(c->req, "author", REQ_ID_MAX, 0, &s1, err))
			goto out;
		f = json_incref((json_t *)c->req);
	} else {
		if (req_only(c->req, tr_allowed, err) ||
		    req_text(c->req, "to", REQ_ID_MAX, 1, &s1, err) ||
		    lifecycle_check(&lifecycle_case, c->id, s_rank(st, c->id),
			s1, err))
			goto out;
		/* What was returned since the case was opened may leave
		 * less to return than it asks. */
		order = json_string_value(json_object_get(existing, "order"));
		if (strcmp(s1, "completed") == 0 && order != NULL &&
		    s_returns_goods(
			json_string_value(json_object_get(existing, "kind"))) &&
		    s_check_returnable(st, order, c->id,
			json_object_get(existing, "lines"), 0, err)) {
			err_prefix(err, "to: case %s cannot be completed",
			    c->id);
			goto out;
		}
		f = json_incref((json_t *)c->req);
	}
	if (store_append_local(st, CASE_ENTITY, c->id, c->kind, f, NULL, err))
		goto out;
	if (strcmp(c->kind, "transition") == 0 &&
	    strcmp(s1, "completed") == 0 && s_return_lines(st, c->id, err))
		goto out;
	rc = case_get(st, c->id, &c->out, err);
out:
	json_decref(existing);
	json_decref(f);
	return rc;
}

int
case_patch(store_t *st, const char *id, const json_t *req, json_t **out,
    err_t *err)
{
	return cmd_run(st, s_change, req, id, "update", out, NULL, err);
}

int
case_comment(store_t *st, const char *id, const json_t *req, json_t **out,
    err_t *err)
{
	return cmd_run(st, s_change, req, id, "comment", out, NULL, err);
}

int
case_transition(store_t *st, const char *id, const json_t *req, json_t **out,
    err_t *err)
{
	return cmd_run(st, s_change, req, id, "transition", out, NULL, err);
}
