/* invoice: invoices and receivables (see invoice.h). */
#include "invoice.h"

#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "fulfil.h"
#include "idem.h"
#include "lifecycle.h"
#include "money.h"
#include "order.h"
#include "own.h"
#include "rec.h"
#include "req.h"

static int
s_history(store_t *st, const op_t *op, const char *status, err_t *err)
{
	sqlite3_stmt *s = store_stmt(st,
	    "INSERT OR IGNORE INTO invoice_history"
	    "(invoice_id, origin, seq, hlc, status, rank) VALUES (?, ?, ?, ?, ?, ?)");

	sqlite3_bind_text(s, 1, op->key, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, op->origin, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, (int64_t)op->seq);
	sqlite3_bind_int64(s, 4, (int64_t)op->hlc);
	sqlite3_bind_text(s, 5, status, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 6, lifecycle_rank(&lifecycle_invoice, status));
	return store_step(st, s, "invoice", err);
}

int
invoice_apply(store_t *st, const op_t *op, err_t *err)
{
	static const char *const create_fields[] = { "order", "site", "amount",
		"currency", "due_days", NULL };
	static const char *const tr_fields[] = { "to", NULL };
	const json_t *f = op->fields;
	const char *s1;
	int64_t amount, due;
	sqlite3_stmt *s;
	int64_t issued = (int64_t)hlc_ms(op->hlc);

	if (strcmp(op->kind, "transition") == 0) {
		if (req_only(f, tr_fields, err) ||
		    req_text(f, "to", REQ_ID_MAX, 1, &s1, err))
			return err_prefix(err, "invoice %s", op->key);
		if (lifecycle_rank(&lifecycle_invoice, s1) < 0)
			return err_set(err, ERR_BAD_REQUEST,
			    "invoice %s: to: '%s' is not an invoice status",
			    op->key, s1);
		/* Its issuer (its id's site) or head office settles it. */
		if (!own_in(op->key, op->origin) && !own_is_hq(op->origin))
			return err_set(err, ERR_FORBIDDEN,
			    "invoice %s: %s may not mark it %s: only its "
			    "issuing site or head office may",
			    op->key, op->origin, s1);
		return s_history(st, op, s1, err);
	}
	if (strcmp(op->kind, "create") != 0)
		return err_set(err, ERR_BAD_REQUEST,
		    "invoice %s: unknown kind '%s'", op->key, op->kind);
	if (req_only(f, create_fields, err) ||
	    req_text(f, "order", REQ_ID_MAX, 1, &s1, err) ||
	    req_text(f, "site", OP_SITE_MAX, 1, &s1, err) ||
	    money_req_int(f, "amount", 0, MONEY_TOTAL_MAX, "invoice", 1, 0,
		&amount, err) ||
	    req_currency(f, "currency", 1, &s1, err) ||
	    req_int(f, "due_days", 0, 3650, 1, 0, &due, err))
		return err_prefix(err, "invoice %s", op->key);
	/* Issued under its own id by a party to the order (own.h). */
	if (own_here(op, "invoice", "site",
		"a site issues only its own invoices", err) ||
	    own_create(op, "invoice", err))
		return -1;
	if (own_order_party(st, op,
		json_string_value(json_object_get(f, "order")),
		OWN_CREATOR | OWN_FULFILLER | OWN_HQ, "invoice it", err))
		return own_waiting(err)
		    ? -1
		    : err_prefix(err, "invoice %s", op->key);
	/* Two creates of one id (a client id reused at two sites): the lower
	 * (hlc, origin) is the invoice, whatever the arrival order. */
	s = store_stmt(st,
	    "INSERT INTO invoices(id, order_id, site, amount, "
	    "currency, issued_ms, due_ms, created_hlc, created_origin) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT(id) DO "
	    "UPDATE SET order_id = excluded.order_id, site = excluded.site, "
	    "amount = excluded.amount, currency = excluded.currency, "
	    "issued_ms = excluded.issued_ms, due_ms = excluded.due_ms, "
	    "created_hlc = excluded.created_hlc, "
	    "created_origin = excluded.created_origin "
	    "WHERE (excluded.created_hlc, excluded.created_origin) < "
	    "(invoices.created_hlc, invoices.created_origin)");
	sqlite3_bind_text(s, 1, op->key, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, json_string_value(json_object_get(f, "order")),
	    -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, json_string_value(json_object_get(f, "site")),
	    -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, amount);
	sqlite3_bind_text(s, 5,
	    json_string_value(json_object_get(f, "currency")), -1,
	    SQLITE_STATIC);
	sqlite3_bind_int64(s, 6, issued);
	sqlite3_bind_int64(s, 7, issued + due * DAY_MS);
	sqlite3_bind_int64(s, 8, (int64_t)op->hlc);
	sqlite3_bind_text(s, 9, op->origin, -1, SQLITE_STATIC);
	if (store_step(st, s, "invoice", err))
		return -1;
	return s_history(st, op, "issued", err);
}

static int
s_rank(store_t *st, const char *id)
{
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT max(rank) FROM invoice_history "
	    "WHERE invoice_id = ?");

	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	return (int)store_query_int(st, s, 0);
}

int
invoice_get(store_t *st, const char *id, json_t **out, err_t *err)
{
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT order_id, site, amount, "
	    "currency, issued_ms, due_ms FROM invoices WHERE id = ?");
	json_t *o = NULL;

	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	if (store_row(st, s))
		o = json_pack("{s:s, s:s, s:s, s:I, s:s, s:I, s:I}", "id", id,
		    "order", (const char *)sqlite3_column_text(s, 0), "site",
		    (const char *)sqlite3_column_text(s, 1), "amount",
		    (json_int_t)sqlite3_column_int64(s, 2), "currency",
		    (const char *)sqlite3_column_text(s, 3), "issued_ms",
		    (json_int_t)sqlite3_column_int64(s, 4), "due_ms",
		    (json_int_t)sqlite3_column_int64(s, 5));
	sqlite3_reset(s);
	if (o != NULL)
		json_object_set_new(o, "status",
		    json_string(
			lifecycle_name(&lifecycle_invoice, s_rank(st, id))));
	return rec_found(st, o, "invoice", id, out, err);
}

static int
s_create(store_t *st, void *arg, err_t *err)
{
	int r;
	cmd_t *c = arg;
	static const char *const allowed[] = { "id", "order", "due_days",
		NULL };
	const char *id, *order;
	char idbuf[OP_KEY_MAX + 1], scoped[OP_KEY_MAX + 1];
	order_info_t info;
	int64_t due, n = 0;
	json_t *f;
	int rc;

	if (req_only(c->req, allowed, err) ||
	    req_text(c->req, "id", OP_KEY_MAX, 0, &id, err) ||
	    own_scope(st, id, REQ_ID_MAX, scoped, &id, err) ||
	    req_text(c->req, "order", REQ_ID_MAX, 1, &order, err) ||
	    req_int(c->req, "due_days", 0, 3650, 0, 30, &due, err))
		return -1;
	/* A retry answers what was recorded; a reused id is refused. */
	if ((r = idem_replay(st, "invoice", id, c->req, invoice_get, &c->out,
		 err)) != 0)
		return r > 0 ? 0 : -1;
	/* The parent is invoiced, not a fulfilment (fulfil.h). */
	if (order_lookup(st, order, "order", &info, err) ||
	    fulfil_check_payee(st, order, "invoice", err))
		return -1;
	if (info.rank < ORDER_RANK_CONFIRMED ||
	    info.rank == ORDER_RANK_CANCELLED)
		return err_set(err, ERR_UNPROCESSABLE,
		    "order: %s is %s; only a confirmed order is invoiced",
		    order,
		    info.rank < 0
			? "draft"
			: lifecycle_name(&lifecycle_order, info.rank));
	if (id == NULL) {
		/* Numbered per issuing site, from its own counter. */
		sqlite3_stmt *q = store_stmt(st,
		    "SELECT max(CAST(substr(id, "
		    "length(?1) + 6) AS INTEGER)) FROM invoices WHERE site = ?1 "
		    "AND id LIKE ?1 || '-INV-%'");
		int64_t known;

		/* The counter, or what came back from the hub if higher (a
		 * site restored from an old backup never reuses a number). */
		if (store_meta_get_int(st, "invoice_seq", 0, &n, err))
			return -1;
		sqlite3_bind_text(q, 1, store_site(st), -1, SQLITE_STATIC);
		known = store_query_int(st, q, 0);
		if (known > n)
			n = known;
		if (store_meta_set_int(st, "invoice_seq", n + 1, err))
			return -1;
		snprintf(idbuf, sizeof idbuf, "%s-INV-%06lld", store_site(st),
		    (long long)(n + 1));
		id = idbuf;
	}
	f = json_pack("{s:s, s:s, s:I, s:s, s:I}", "order", order, "site",
	    store_site(st), "amount", (json_int_t)info.total, "currency",
	    info.currency, "due_days", (json_int_t)due);
	rc = store_append_local(st, INVOICE_ENTITY, id, "create", f, NULL,
		 err) ||
	    idem_record(st, "invoice", id, c->req, err);
	json_decref(f);
	if (rc || invoice_get(st, id, &c->out, err))
		return -1;
	c->created = 1;
	return 0;
}

int
invoice_create(store_t *st, const json_t *req, json_t **out, int *created,
    err_t *err)
{
	return cmd_run(st, s_create, req, NULL, NULL, out, created, err);
}

static int
s_transition(store_t *st, void *arg, err_t *err)
{
	cmd_t *c = arg;
	static const char *const allowed[] = { "to", NULL };
	const char *to;
	json_t *inv;

	if (invoice_get(st, c->id, &inv, err))
		return -1;
	json_decref(inv);
	if (req_only(c->req, allowed, err) ||
	    req_text(c->req, "to", REQ_ID_MAX, 1, &to, err) ||
	    lifecycle_check(&lifecycle_invoice, c->id, s_rank(st, c->id), to,
		err) ||
	    store_append_local(st, INVOICE_ENTITY, c->id, "transition",
		(json_t *)c->req, NULL, err))
		return -1;
	return invoice_get(st, c->id, &c->out, err);
}

int
invoice_transition(store_t *st, const char *id, const json_t *req, json_t **out,
    err_t *err)
{
	return cmd_run(st, s_transition, req, id, NULL, out, NULL, err);
}

/* The totals of one currency's receivables per age bucket, exact. */
typedef struct {
	char currency[4];
	money_sum_t bucket[4];
} s_totals_t;

int
invoice_receivables(store_t *st, const json_t *query, json_t **out, err_t *err)
{
	int64_t now_ms = (int64_t)store_wall_ms(st);
	static const char *const buckets[] = { "0-30", "31-60", "61-90",
		"90+" };
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT i.id, i.order_id, i.site, "
	    "i.amount, i.currency, i.issued_ms, i.due_ms FROM invoices i "
	    "WHERE (SELECT max(rank) FROM invoice_history h "
	    "WHERE h.invoice_id = i.id) = 0 AND NOT EXISTS (SELECT 1 FROM "
	    "orders o WHERE o.id = i.order_id AND o.parent IS NOT NULL) "
	    "ORDER BY i.issued_ms, i.id");
	json_t *items = json_array(), *totals = json_object(), *t;
	s_totals_t *acc = NULL, *a;
	size_t n = 0, i;
	int b, rc = -1;
	int64_t v;
	char what[64];

	(void)query; /* no filters */
	while (store_row(st, s)) {
		int64_t age = (now_ms - sqlite3_column_int64(s, 5)) / DAY_MS;
		const char *cur = (const char *)sqlite3_column_text(s, 4);

		b = age <= 30 ? 0 : age <= 60 ? 1 : age <= 90 ? 2 : 3;
		/* Few currencies: a linear search, in order of appearance. */
		for (i = 0; i < n && strcmp(acc[i].currency, cur) != 0; i++)
			;
		if (i == n) {
			if ((a = realloc(acc, (n + 1) * sizeof *acc)) == NULL) {
				err_set(err, ERR_INTERNAL,
				    "report receivables: out of memory");
				sqlite3_reset(s);
				goto out;
			}
			acc = a;
			memset(&acc[n], 0, sizeof acc[n]);
			snprintf(acc[n].currency, sizeof acc[n].currency, "%s",
			    cur);
			n++;
		}
		acc[i].bucket[b] += sqlite3_column_int64(s, 3);
		json_array_append_new(items,
		    json_pack("{s:s, s:s, s:s, s:I, s:s, s:I, s:s, s:b}",
			"invoice", (const char *)sqlite3_column_text(s, 0),
			"order", (const char *)sqlite3_column_text(s, 1),
			"site", (const char *)sqlite3_column_text(s, 2),
			"amount", (json_int_t)sqlite3_column_int64(s, 3),
			"currency", cur, "age_days", (json_int_t)age, "bucket",
			buckets[b], "overdue",
			now_ms > sqlite3_column_int64(s, 6)));
	}
	sqlite3_reset(s);
	/* A total that does not fit is an error naming it, not a wrap. */
	for (i = 0; i < n; i++) {
		t = json_object();
		json_object_set_new(totals, acc[i].currency, t);
		for (b = 0; b < 4; b++) {
			snprintf(what, sizeof what,
			    "report receivables: %s %s days: total",
			    acc[i].currency, buckets[b]);
			if (money_fit(acc[i].bucket[b], what, &v, err))
				goto out;
			json_object_set_new(t, buckets[b], json_integer(v));
		}
	}
	rc = rec_found(st,
	    json_pack("{s:o, s:o}", "items", items, "totals", totals), "report",
	    "receivables", out, err);
	items = totals = NULL;
out:
	json_decref(items);
	json_decref(totals);
	free(acc);
	if (rc)
		*out = NULL;
	return rc;
}
