/* payment: payments and refunds (see payment.h). */
#include "payment.h"

#include <string.h>

#include "cmd.h"
#include "fulfil.h"
#include "idem.h"
#include "money.h"
#include "order.h"
#include "own.h"
#include "rec.h"
#include "req.h"

static const char *const s_methods[] = { "cash", "card", "alipay", "wechat",
	"bank_transfer", "gift_card", NULL };

static int
s_check(const json_t *f, err_t *err)
{
	static const char *const allowed[] = { "order", "method", "amount",
		"currency", "site", NULL };
	const char *s;
	int64_t amount;

	if (req_only(f, allowed, err) ||
	    req_text(f, "order", REQ_ID_MAX, 1, &s, err) ||
	    req_enum(f, "method", s_methods, 1, &s, err) ||
	    req_int(f, "amount", -MONEY_PAYMENT_MAX, MONEY_PAYMENT_MAX, 1, 0,
		&amount, err) ||
	    req_currency(f, "currency", 1, &s, err) ||
	    req_text(f, "site", OP_SITE_MAX, 1, &s, err))
		return -1;
	if (amount == 0)
		return err_set(err, ERR_BAD_REQUEST,
		    "amount: must not be zero");
	return 0;
}

int
payment_apply(store_t *st, const op_t *op, err_t *err)
{
	const json_t *f = op->fields;
	sqlite3_stmt *s;
	int rc;

	if (strcmp(op->kind, "add") != 0)
		return err_set(err, ERR_BAD_REQUEST,
		    "payment %s: unknown kind '%s'", op->key, op->kind);
	if (s_check(f, err))
		return err_prefix(err, "payment %s", op->key);
	/* A site takes only its own payments, under its own ids, on orders
	 * it is a party to (own.h): anything else is a forgery, refused
	 * wherever it arrives. */
	if (own_here(op, "payment", "site",
		"a site records only its own payments", err) ||
	    own_create(op, "payment", err))
		return -1;
	if (own_order_party(st, op,
		json_string_value(json_object_get(f, "order")),
		OWN_CREATOR | OWN_FULFILLER | OWN_HQ,
		"take a payment or refund on it", err))
		return own_waiting(err)
		    ? -1
		    : err_prefix(err, "payment %s", op->key);
	/* Two ops claiming one id: the lower (hlc, origin) is the payment. */
	s = store_stmt(st,
	    "INSERT INTO payments(id, order_id, method, amount, "
	    "currency, site, hlc, origin) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
	    "ON CONFLICT(id) DO UPDATE SET order_id = excluded.order_id, "
	    "method = excluded.method, amount = excluded.amount, "
	    "currency = excluded.currency, site = excluded.site, "
	    "hlc = excluded.hlc, origin = excluded.origin "
	    "WHERE (excluded.hlc, excluded.origin) < (payments.hlc, payments.origin)");
	sqlite3_bind_text(s, 1, op->key, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, json_string_value(json_object_get(f, "order")),
	    -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, json_string_value(json_object_get(f, "method")),
	    -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4,
	    json_integer_value(json_object_get(f, "amount")));
	sqlite3_bind_text(s, 5,
	    json_string_value(json_object_get(f, "currency")), -1,
	    SQLITE_STATIC);
	sqlite3_bind_text(s, 6, json_string_value(json_object_get(f, "site")),
	    -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 7, (int64_t)op->hlc);
	sqlite3_bind_text(s, 8, op->origin, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return err_set(err, ERR_INTERNAL, "payment %s: %s", op->key,
		    sqlite3_errmsg(store_db(st)));
	return 0;
}

/* The payment id, or NULL when there is none (or a read failed). */
static json_t *
s_read(store_t *st, const char *id)
{
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT order_id, method, amount, "
	    "currency, site, hlc FROM payments WHERE id = ?");
	json_t *o = NULL;

	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	if (store_row(st, s))
		o = json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:I}", "id", id,
		    "order", (const char *)sqlite3_column_text(s, 0), "method",
		    (const char *)sqlite3_column_text(s, 1), "amount",
		    (json_int_t)sqlite3_column_int64(s, 2), "currency",
		    (const char *)sqlite3_column_text(s, 3), "site",
		    (const char *)sqlite3_column_text(s, 4), "at_ms",
		    (json_int_t)hlc_ms((uint64_t)sqlite3_column_int64(s, 5)));
	sqlite3_reset(s);
	return o;
}

/* The payment id, for a retried create (rec_get_fn). */
static int
s_get(store_t *st, const char *id, json_t **out, err_t *err)
{
	return rec_found(st, s_read(st, id), "payment", id, out, err);
}

/* Adds the order's paid and balance as they stand now: 0, or -1 with err
 * when the order is gone (a failed read) or its paid or balance does not
 * fit in int64 (never left out silently). Takes p, also on failure. */
static int
s_with_order(store_t *st, json_t *p, json_t **out, err_t *err)
{
	const char *order;
	order_info_t info;

	*out = NULL;
	if (p == NULL)
		return store_read_error(st, err)
		    ? -1
		    : err_set(err, ERR_INTERNAL, "payment: not read back");
	order = json_string_value(json_object_get(p, "order"));
	if (order_lookup(st, order, "order", &info, err) ||
	    money_json_set(p, "order_paid", info.paid, err) ||
	    money_json_set(p, "order_balance", info.balance, err)) {
		err_prefix(err, "payment of order %s", order);
		json_decref(p);
		return -1;
	}
	*out = p;
	return 0;
}

/* Records the payment c->req; with answer, c->out is the payment with
 * its order's paid and balance, else a new payment is not read back. */
static int
s_record(store_t *st, cmd_t *c, int answer, err_t *err)
{
	int r;
	static const char *const allowed[] = { "id", "order", "method",
		"amount", "currency", NULL };
	const char *id, *order;
	char idbuf[OP_KEY_MAX + 1], scoped[OP_KEY_MAX + 1];
	json_t *f;
	order_info_t info;
	int64_t amount;
	char text[MONEY_TEXT_MAX];
	int rc = -1;

	if (req_only(c->req, allowed, err) ||
	    req_text(c->req, "id", OP_KEY_MAX, 0, &id, err) ||
	    own_scope(st, id, REQ_ID_MAX, scoped, &id, err))
		return -1;
	/* A retry answers what was recorded; a reused id is refused. */
	if ((r = idem_replay(st, "payment", id, c->req, s_get, &c->out, err)) !=
	    0) {
		if (r < 0)
			return -1;
		return s_with_order(st, c->out, &c->out, err);
	}
	f = json_copy((json_t *)c->req); /* only its own keys change */
	json_object_del(f, "id");
	json_object_set_new(f, "site", json_string(store_site(st)));
	if (s_check(f, err))
		goto out;
	order = json_string_value(json_object_get(f, "order"));
	amount = json_integer_value(json_object_get(f, "amount"));
	/* Money is owed on the parent, not on a fulfilment (fulfil.h). */
	if (order_lookup(st, order, "order", &info, err) ||
	    fulfil_check_payee_of(order, info.parent, "take payments on", err))
		goto out;
	if (strcmp(info.currency,
		json_string_value(json_object_get(f, "currency"))) != 0) {
		err_set(err, ERR_UNPROCESSABLE, "currency: order %s is in %s",
		    order, info.currency);
		goto out;
	}
	if (amount > 0 && info.rank == ORDER_RANK_CANCELLED) {
		err_set(err, ERR_UNPROCESSABLE, "order: %s is cancelled",
		    order);
		goto out;
	}
	if (amount > 0 && amount > info.balance) {
		err_set(err, ERR_UNPROCESSABLE,
		    "amount: %lld exceeds the balance %s of order %s",
		    (long long)amount,
		    money_text(info.balance, text, sizeof text), order);
		goto out;
	}
	if (amount < 0 && -amount > info.paid) {
		err_set(err, ERR_UNPROCESSABLE,
		    "amount: refund of %lld exceeds the %s paid on order %s",
		    (long long)-amount,
		    money_text(info.paid, text, sizeof text), order);
		goto out;
	}
	if (cmd_create_op(st, c, "payment", PAYMENT_ENTITY, "add", &id, idbuf,
		f, err) ||
	    (answer && s_with_order(st, s_read(st, id), &c->out, err)))
		goto out;
	rc = 0;
out:
	json_decref(f);
	return rc;
}

static int
s_create(store_t *st, void *arg, err_t *err)
{
	return s_record(st, arg, 1, err);
}

int
payment_record_in(store_t *st, const json_t *req, json_t **out, int *created,
    err_t *err)
{
	cmd_t c = { req, NULL, NULL, NULL, 0 };

	if (!json_is_object(req))
		return err_set(err, ERR_BAD_REQUEST,
		    "payment: must be an object");
	if (s_record(st, &c, out != NULL, err)) {
		json_decref(c.out);
		return -1;
	}
	if (out != NULL)
		*out = c.out;
	else
		json_decref(c.out);
	*created = c.created;
	return 0;
}

int
payment_create(store_t *st, const json_t *req, json_t **out, int *created,
    err_t *err)
{
	return cmd_run(st, s_create, req, NULL, NULL, out, created, err);
}

int
payment_list(store_t *st, const json_t *query, json_t **out, err_t *err)
{
	const char *order = req_query(query, "order");

	sqlite3_stmt *s = store_stmt(st,
	    "SELECT id FROM payments "
	    "WHERE ?1 IS NULL OR order_id = ?1 ORDER BY hlc, id");

	if (order != NULL)
		sqlite3_bind_text(s, 1, order, -1, SQLITE_STATIC);
	return rec_items_by_id(st, s, s_read, out, err);
}
