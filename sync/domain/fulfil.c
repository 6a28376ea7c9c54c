/* fulfil: fulfilment orders of online and b2b orders (see fulfil.h). */
#include "fulfil.h"

#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "hlc.h"
#include "lifecycle.h"
#include "order.h"

/* SQL reads better as written than as clang-format would fold it. */
/* clang-format off */
/* In SQL: the status rank of order c (a table alias), NULL without
 * history. A correlated lookup by the history's key, never the
 * order_status view, which would group the whole history. */
#define RANK_OF(c) \
	"(SELECT max(rank) FROM order_history h WHERE h.order_id = " c ".id)"
#define CANCELLED ORDER_SQL(ORDER_RANK_CANCELLED)

/* The lines of the live children of ?1, oldest child first. */
#define LIVE_LINES_SQL \
	"SELECT c.id, c.fulfil_site, l.sku, l.qty, l.unit_price " \
	"FROM orders c JOIN order_lines l ON l.order_id = c.id " \
	"WHERE c.parent = ?1 AND " RANK_OF("c") " != " CANCELLED " " \
	"ORDER BY c.created_hlc, c.id, l.line"

/* The oldest child of ?1 that shipped or went further, with its site and
 * status rank. */
#define SHIPPED_CHILD_SQL \
	"SELECT c.id, c.fulfil_site, " RANK_OF("c") " FROM orders c " \
	"WHERE c.parent = ? AND " RANK_OF("c") " >= " \
	ORDER_SQL(ORDER_RANK_SHIPPED) " ORDER BY c.created_hlc, c.id LIMIT 1"

/* Every child of ?1 with its site and status rank, oldest first. */
#define CHILDREN_SQL \
	"SELECT c.id, c.fulfil_site, " RANK_OF("c") " FROM orders c " \
	"WHERE c.parent = ? ORDER BY c.created_hlc, c.id"

/* The fulfilment of ?1 that site ?2 may release: a live one, one not
 * shipped first. */
#define RELEASABLE_SQL \
	"SELECT c.id FROM (SELECT id, created_hlc, " RANK_OF("o") " AS r " \
	"FROM orders o WHERE o.parent = ?1 AND o.fulfil_site = ?2) c " \
	"WHERE c.r != " CANCELLED " ORDER BY c.r > " CANCELLED ", " \
	"c.created_hlc, c.id LIMIT 1"
/* clang-format on */

int
fulfil_cover(store_t *st, const char *parent, fulfil_line_t *lines, size_t *n,
    err_t *err)
{
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT line, sku, qty, unit_price FROM order_lines "
	    "WHERE order_id = ? ORDER BY line");
	size_t i;

	*n = 0;
	sqlite3_bind_text(s, 1, parent, -1, SQLITE_STATIC);
	while (*n < MONEY_LINES_MAX && store_row(st, s)) {
		fulfil_line_t *l = &lines[(*n)++];

		memset(l, 0, sizeof *l);
		l->line = sqlite3_column_int(s, 0);
		snprintf(l->sku, sizeof l->sku, "%s",
		    (const char *)sqlite3_column_text(s, 1));
		l->qty = sqlite3_column_int64(s, 2);
		l->unit_price = sqlite3_column_int64(s, 3);
	}
	sqlite3_reset(s);
	s = store_stmt(st, LIVE_LINES_SQL);
	sqlite3_bind_text(s, 1, parent, -1, SQLITE_STATIC);
	while (store_row(st, s)) {
		const char *sku = (const char *)sqlite3_column_text(s, 2);

		for (i = 0; i < *n; i++) {
			fulfil_line_t *l = &lines[i];

			if (l->child[0] != '\0' || strcmp(l->sku, sku) != 0 ||
			    l->qty != sqlite3_column_int64(s, 3) ||
			    l->unit_price != sqlite3_column_int64(s, 4))
				continue;
			snprintf(l->child, sizeof l->child, "%s",
			    (const char *)sqlite3_column_text(s, 0));
			snprintf(l->site, sizeof l->site, "%s",
			    (const char *)sqlite3_column_text(s, 1));
			break;
		}
	}
	sqlite3_reset(s);
	return store_read_error(st, err);
}

int
fulfil_check_move(store_t *st, const char *id, const char *to, err_t *err)
{
	sqlite3_stmt *s;
	char child[OP_KEY_MAX + 1] = "", site[OP_SITE_MAX + 1] = "";
	int rank = -1;

	if (strcmp(to, "cancelled") != 0)
		return 0;
	s = store_stmt(st, SHIPPED_CHILD_SQL);
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	if (store_row(st, s)) {
		snprintf(child, sizeof child, "%s",
		    (const char *)sqlite3_column_text(s, 0));
		snprintf(site, sizeof site, "%s",
		    (const char *)sqlite3_column_text(s, 1));
		rank = sqlite3_column_int(s, 2);
	}
	sqlite3_reset(s);
	if (store_read_error(st, err))
		return -1;
	if (child[0] == '\0')
		return 0;
	return err_set(err, ERR_CONFLICT,
	    "to: order %s cannot be cancelled: its fulfilment %s is %s at "
	    "%s; open a return instead",
	    id, child, lifecycle_name(&lifecycle_order, rank), site);
}

int
fulfil_check_payee(store_t *st, const char *order, const char *act, err_t *err)
{
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT parent FROM orders WHERE id = ? AND parent IS NOT NULL");
	char parent[OP_KEY_MAX + 1] = "";

	sqlite3_bind_text(s, 1, order, -1, SQLITE_STATIC);
	if (store_row(st, s))
		snprintf(parent, sizeof parent, "%s",
		    (const char *)sqlite3_column_text(s, 0));
	sqlite3_reset(s);
	if (store_read_error(st, err))
		return -1;
	return fulfil_check_payee_of(order, parent, act, err);
}

int
fulfil_check_payee_of(const char *order, const char *parent, const char *act,
    err_t *err)
{
	if (parent[0] == '\0')
		return 0;
	return err_set(err, ERR_UNPROCESSABLE,
	    "order: %s is a fulfilment of order %s; %s %s", order, parent, act,
	    parent);
}

/* The history of parent id and of its children, by time, into an array
 * (caller owns); NULL when a read failed (kept on the store). */
static json_t *
s_history(store_t *st, const char *id)
{
	/* clang-format off */
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT h.status, h.origin, h.hlc, h.tracking, h.reason, h.seq, "
	    "h.rank, NULL, NULL, NULL, NULL, NULL FROM order_history h "
	    "WHERE h.order_id = ?1 UNION ALL "
	    "SELECT h.status, h.origin, h.hlc, h.tracking, h.reason, h.seq, "
	    "h.rank, c.id, c.fulfil_site, c.note, c.created_hlc, "
	    "c.created_origin FROM orders c JOIN order_history h "
	    "ON h.order_id = c.id WHERE c.parent = ?1 ORDER BY 3, 2, 6");
	/* clang-format on */
	json_t *hist = json_array(), *h;

	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	while (store_row(st, s)) {
		const char *status = (const char *)sqlite3_column_text(s, 0);
		const char *site = (const char *)sqlite3_column_text(s, 1);
		const char *reason = (const char *)sqlite3_column_text(s, 4);
		const char *child = (const char *)sqlite3_column_text(s, 7);

		if (child != NULL) {
			const char *fulfil = (const char *)
			    sqlite3_column_text(s, 8);

			if (sqlite3_column_int64(s, 2) ==
				sqlite3_column_int64(s, 10) &&
			    strcmp(site,
				(const char *)sqlite3_column_text(s, 11)) ==
				0) {
				/* The child's create: the allocation. */
				status = "allocated";
				site = fulfil;
				reason = (const char *)sqlite3_column_text(s,
				    9);
			} else if (sqlite3_column_int(s, 6) ==
				ORDER_RANK_CANCELLED &&
			    strcmp(site, fulfil) == 0) {
				status = "released";
			}
		}
		h = json_pack("{s:s, s:s, s:I}", "status", status, "site", site,
		    "at_ms",
		    (json_int_t)hlc_ms((uint64_t)sqlite3_column_int64(s, 2)));
		if (sqlite3_column_type(s, 3) != SQLITE_NULL)
			json_object_set_new(h, "tracking",
			    json_string(
				(const char *)sqlite3_column_text(s, 3)));
		if (reason != NULL)
			json_object_set_new(h, "reason", json_string(reason));
		if (child != NULL)
			json_object_set_new(h, "fulfilment",
			    json_string(child));
		json_array_append_new(hist, h);
	}
	sqlite3_reset(s);
	if (store_read_error(st, NULL)) {
		json_decref(hist);
		return NULL;
	}
	return hist;
}

/* The lines of child id as [{sku, qty}] (caller owns). */
static json_t *
s_child_lines(store_t *st, const char *id)
{
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT sku, qty FROM order_lines "
	    "WHERE order_id = ? ORDER BY line");
	json_t *lines = json_array();

	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	while (store_row(st, s))
		json_array_append_new(lines,
		    json_pack("{s:s, s:I}", "sku",
			(const char *)sqlite3_column_text(s, 0), "qty",
			(json_int_t)sqlite3_column_int64(s, 1)));
	sqlite3_reset(s);
	return lines;
}

int
fulfil_show(store_t *st, const char *id, const char *parent, json_t *o,
    err_t *err)
{
	sqlite3_stmt *s;
	json_t *fulfilments, *f, *hist;
	const char *live_site = NULL;
	size_t i, live = 0;
	int rank;

	if (parent != NULL)
		json_object_set_new(o, "parent", json_string(parent));
	s = store_stmt(st, CHILDREN_SQL);
	fulfilments = json_array();
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	while (store_row(st, s)) {
		rank = sqlite3_column_type(s, 2) == SQLITE_NULL
		    ? ORDER_RANK_ALLOCATED
		    : sqlite3_column_int(s, 2);
		json_array_append_new(fulfilments,
		    json_pack("{s:s, s:s, s:s}", "id",
			(const char *)sqlite3_column_text(s, 0), "site",
			(const char *)sqlite3_column_text(s, 1), "status",
			lifecycle_name(&lifecycle_order, rank)));
	}
	sqlite3_reset(s);
	if (json_array_size(fulfilments) == 0) {
		json_decref(fulfilments);
		return store_read_error(st, err);
	}
	json_array_foreach(fulfilments, i, f) {
		json_object_set_new(f, "lines",
		    s_child_lines(st,
			json_string_value(json_object_get(f, "id"))));
		if (strcmp(json_string_value(json_object_get(f, "status")),
			"cancelled") != 0) {
			live++;
			live_site = json_string_value(
			    json_object_get(f, "site"));
		}
	}
	json_object_set_new(o, "fulfilments", fulfilments);
	if (live == 1)
		json_object_set_new(o, "fulfil_site", json_string(live_site));
	if ((hist = s_history(st, id)) != NULL)
		json_object_set_new(o, "history", hist);
	return store_read_error(st, err);
}

/* ---- release ---- */

static int
s_release(store_t *st, void *arg, err_t *err)
{
	static const char *const allowed[] = { "reason", NULL };
	cmd_t *c = arg;
	const char *reason, *me = store_site(st);
	char child[OP_KEY_MAX + 1] = "", fulfil[OP_SITE_MAX + 1];
	sqlite3_stmt *s;
	json_t *req;
	int held, is_child, rc;

	if (req_only(c->req, allowed, err) ||
	    req_text(c->req, "reason", REQ_TEXT_MAX, 1, &reason, err))
		return -1;
	/* The parent named: this site's fulfilment of it, which needs only
	 * the child held here. */
	s = store_stmt(st, RELEASABLE_SQL);
	sqlite3_bind_text(s, 1, c->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, me, -1, SQLITE_STATIC);
	if (store_row(st, s))
		snprintf(child, sizeof child, "%s",
		    (const char *)sqlite3_column_text(s, 0));
	sqlite3_reset(s);
	if (store_read_error(st, err))
		return -1;
	if (child[0] == '\0') {
		if ((held = order_placement(st, c->id, &is_child, fulfil,
			 err)) < 0)
			return -1;
		if (!held)
			return err_set(err, ERR_NOT_FOUND,
			    "order: %s not found", c->id);
		if (!is_child)
			return err_set(err, ERR_FORBIDDEN,
			    "order %s: %s may not release it: no fulfilment "
			    "of it is allocated to %s",
			    c->id, me, me);
		if (strcmp(fulfil, me) != 0)
			return err_set(err, ERR_FORBIDDEN,
			    "order %s: %s may not release it: only its "
			    "fulfilling site %s may",
			    c->id, me, fulfil);
		snprintf(child, sizeof child, "%s", c->id);
	}
	req = json_pack("{s:s, s:s}", "to", "cancelled", "reason", reason);
	rc = order_transition_in(st, child, req, &c->out, err);
	json_decref(req);
	return rc;
}

int
fulfil_release(store_t *st, const char *id, const json_t *req, json_t **out,
    err_t *err)
{
	return cmd_run(st, s_release, req, id, NULL, out, NULL, err);
}
