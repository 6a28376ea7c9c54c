/*
 * domain_harness: the shared half of the domain's merge tests, as
 * domain_harness.h describes it.
 *
 * Owns the list of tables and views a snapshot holds (a new replicated
 * table or API view is added here, and every test compares it) and the
 * fixed wall clock of the replicas.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aftersales.h"
#include "alert.h"
#include "apply.h"
#include "catalog.h"
#include "customer.h"
#include "domain_harness.h"
#include "domain_read.h"
#include "harness.h"
#include "hlc.h"
#include "invoice.h"
#include "order.h"
#include "own.h"
#include "payment.h"
#include "stock.h"

#define BATCH 200 /* ops per ingest transaction */
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* The replicas' wall clock: always DH_WALL0. */
static uint64_t
s_wall(void)
{
	return DH_WALL0;
}

/* ---- text ---- */

void
dh_text_add(dh_text_t *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		size_t room = t->cap - t->len;

		va_start(ap, fmt);
		n = vsnprintf(t->p == NULL ? NULL : t->p + t->len, room, fmt,
		    ap);
		va_end(ap);
		if (n < 0)
			abort();
		if ((size_t)n < room) {
			t->len += (size_t)n;
			return;
		}
		t->cap = t->cap * 2 + (size_t)n + 256;
		t->p = realloc(t->p, t->cap);
		if (t->p == NULL)
			abort();
	}
}

/* Returns the text (caller frees), never NULL. */
char *
dh_text_take(dh_text_t *t)
{
	char *p = t->p;

	if (p == NULL && (p = strdup("")) == NULL)
		abort();
	memset(t, 0, sizeof *t);
	return p;
}

/* Appends v as sorted, compact JSON and a newline; takes v. */
void
dh_text_json(dh_text_t *t, json_t *v)
{
	char *s;

	if (v == NULL) {
		dh_text_add(t, "null\n");
		return;
	}
	s = json_dumps(v, JSON_SORT_KEYS | JSON_COMPACT);
	dh_text_add(t, "%s\n", s ? s : "?");
	free(s);
	json_decref(v);
}

/* ---- histories ---- */

/* Encodes an op built from the arguments, decodes its bytes back into the
 * history (as a receiver would see it) and returns it. fields is taken. */
dh_op_t *
dh_add(dh_history_t *h, const char *origin, uint64_t seq, uint64_t hlc,
    const char *entity, const char *key, const char *kind, json_t *fields,
    int valid)
{
	op_t op;
	cbw_t w;
	cbr_t r;
	err_t err;
	dh_op_t *g;

	if (h->n == h->cap) {
		h->cap = h->cap * 2 + 64;
		h->ops = realloc(h->ops, h->cap * sizeof *h->ops);
		if (h->ops == NULL)
			abort();
	}
	g = &h->ops[h->n];
	memset(g, 0, sizeof *g);
	memset(&op, 0, sizeof op);
	snprintf(op.origin, sizeof op.origin, "%s", origin);
	op.seq = seq;
	op.hlc = hlc;
	snprintf(op.entity, sizeof op.entity, "%s", entity);
	snprintf(op.key, sizeof op.key, "%s", key);
	snprintf(op.kind, sizeof op.kind, "%s", kind);
	op.fields = fields;
	cbw_init(&w);
	if (op_encode(&op, &w, &err)) {
		fprintf(stderr, "domain_harness: op_encode: %s\n", err.msg);
		abort();
	}
	op_clear(&op);
	cbr_init(&r, w.data, w.len);
	if (op_decode(&r, &g->op, &err)) {
		fprintf(stderr, "domain_harness: op_decode: %s\n", err.msg);
		abort();
	}
	g->body = w.data; /* taken over from the writer */
	g->len = w.len;
	g->valid = valid;
	if (valid)
		h->n_valid++;
	else
		h->n_invalid++;
	h->n++;
	return g;
}

json_t *
dh_order_fields(const char *site, const char *channel, const char *status,
    const char *sku, int64_t qty, int64_t price)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:[{s:s, s:I, s:I}]}",
	    "site", site, "channel", channel, "currency", "CNY", "fulfil_site",
	    site, "status", status, "lines", "sku", sku, "qty", (json_int_t)qty,
	    "unit_price", (json_int_t)price);
}

json_t *
dh_move_fields(const char *site, const char *sku, int64_t delta,
    const char *reason, const char *ref, const char *order)
{
	json_t *f = json_pack("{s:s, s:s, s:I, s:s}", "site", site, "sku", sku,
	    "delta", (json_int_t)delta, "reason", reason);

	if (ref != NULL)
		json_object_set_new(f, "ref", json_string(ref));
	if (order != NULL)
		json_object_set_new(f, "order", json_string(order));
	return f;
}

void
dh_history_free(dh_history_t *h)
{
	size_t i;

	for (i = 0; i < h->n; i++) {
		op_clear(&h->ops[i].op);
		free(h->ops[i].body);
	}
	free(h->ops);
	memset(h, 0, sizeof *h);
}

/* ---- replicas ---- */

/* Opens a new node replica in dir whose own site (name) is no origin of
 * the history, on the fixed wall clock. */
store_t *
dh_open(const char *dir, const char *name)
{
	char path[4096];
	store_t *st;
	err_t err;

	snprintf(path, sizeof path, "%s/%s.db", dir, name);
	st = store_open(path, STORE_NODE, 1, &apply_rules, &err);
	if (!CHECK_MSG(st != NULL, "store_open %s: %s", path, err.msg))
		return NULL;
	store_set_wall(st, s_wall);
	if (store_begin(st, &err) ||
	    store_meta_set_text(st, "site", name, &err) ||
	    store_commit(st, &err)) {
		CHECK_MSG(0, "set site of %s: %s", path, err.msg);
		store_close(&st);
	}
	return st;
}

/* Ops taken up again once their order was held: applied, refused. */
static size_t s_waited[2];

void
dh_waited(size_t *applied, size_t *refused)
{
	*applied = s_waited[0];
	*refused = s_waited[1];
}

/* The check run after each ingest transaction (dh_check_each_merge). */
static dh_check_fn s_check;
static void *s_check_arg;
/* dh_ingest's transactions are bulks (store.h), as a node's pulls are. */
static int s_bulk;

void
dh_check_each_merge(dh_check_fn fn, void *arg)
{
	s_check = fn;
	s_check_arg = arg;
}

/* Ingests the ops idx[0..n) of h in that order, BATCH per transaction,
 * adding to counts[INGEST_*]. Returns 0, or -1 after recording a failure. */
int
dh_ingest(store_t *st, const dh_history_t *h, const size_t *idx, size_t n,
    size_t counts[INGEST_RESULTS])
{
	size_t i, j;
	err_t err;
	ingest_result_t res;
	int applied, kept;

	for (i = 0; i < n; i += BATCH) {
		if (store_begin(st, &err))
			return CHECK_MSG(0, "store_begin: %s", err.msg) - 1;
		if (s_bulk)
			store_bulk_begin(st);
		for (j = i; j < n && j < i + BATCH; j++) {
			const dh_op_t *g = &h->ops[idx[j]];

			if (store_ingest(st, &g->op, g->body, g->len, &res,
				&err)) {
				store_rollback(st);
				return CHECK_MSG(0, "store_ingest %s/%llu: %s",
					   g->op.origin,
					   (unsigned long long)g->op.seq,
					   err.msg) -
				    1;
			}
			counts[res]++;
		}
		if (store_commit(st, &err))
			return CHECK_MSG(0, "store_commit: %s", err.msg) - 1;
		/* As the daemons do: what waited for its order is taken up
		 * again once the order is held (own.h). */
		applied = kept = 0;
		if (own_retry_arrived(st, NULL, NULL, &applied, &kept, &err))
			return CHECK_MSG(0, "own_retry_arrived: %s", err.msg) -
			    1;
		counts[INGEST_QUARANTINED] -= (size_t)applied;
		counts[INGEST_APPLIED] += (size_t)applied;
		s_waited[0] += (size_t)applied;
		s_waited[1] += (size_t)kept;
		if (s_check != NULL)
			s_check(st, s_check_arg);
	}
	return 0;
}

void
dh_shuffle(size_t *v, size_t n)
{
	size_t i, j, t;

	for (i = n; i > 1; i--) {
		j = (size_t)harness_rand_below(i);
		t = v[i - 1];
		v[i - 1] = v[j];
		v[j] = t;
	}
}

/* ---- snapshots: the state a replica shows, as text ---- */

/* Every replicated table, all columns but local ones, by primary key. */
static const struct {
	const char *name;
	const char *sql;
} s_tables[] = {
	{ "stock_movements", "SELECT * FROM stock_movements ORDER BY id" },
	{ "stock", "SELECT * FROM stock ORDER BY site, sku" },
	{ "customers", "SELECT * FROM customers ORDER BY id" },
	{ "customer_tag_adds",
	    "SELECT * FROM customer_tag_adds "
	    "ORDER BY customer, tag, origin, seq" },
	{ "customer_tag_removes",
	    "SELECT * FROM customer_tag_removes "
	    "ORDER BY customer, tag, origin, seq" },
	{ "lww_stamps",
	    "SELECT * FROM lww_stamps ORDER BY entity, key, field" },
	{ "products", "SELECT * FROM products ORDER BY sku" },
	{ "prices", "SELECT * FROM prices ORDER BY tier, sku" },
	{ "safety_stock", "SELECT * FROM safety_stock ORDER BY site, sku" },
	{ "orders", "SELECT * FROM orders ORDER BY id" },
	{ "order_lines", "SELECT * FROM order_lines ORDER BY order_id, line" },
	{ "order_history",
	    "SELECT * FROM order_history "
	    "ORDER BY order_id, origin, seq" },
	{ "approval_thresholds",
	    "SELECT * FROM approval_thresholds ORDER BY key" },
	{ "order_approvals",
	    "SELECT * FROM order_approvals ORDER BY order_id" },
	{ "approval_decisions",
	    "SELECT * FROM approval_decisions "
	    "ORDER BY order_id, origin, seq" },
	{ "payments", "SELECT * FROM payments ORDER BY id" },
	{ "invoices", "SELECT * FROM invoices ORDER BY id" },
	{ "invoice_history",
	    "SELECT * FROM invoice_history "
	    "ORDER BY invoice_id, origin, seq" },
	{ "cases", "SELECT * FROM cases ORDER BY id" },
	{ "case_lines", "SELECT * FROM case_lines ORDER BY case_id, line" },
	{ "case_history",
	    "SELECT * FROM case_history "
	    "ORDER BY case_id, origin, seq" },
	{ "case_comments",
	    "SELECT * FROM case_comments "
	    "ORDER BY case_id, origin, seq" },
	{ "quarantine",
	    "SELECT origin, seq, body, reason FROM quarantine "
	    "ORDER BY origin, seq" },
	{ "op_log",
	    "SELECT origin, seq, hlc, entity, key, body FROM op_log "
	    "ORDER BY origin, seq" },
};
#define N_TABLES DH_N_TABLES
_Static_assert(NELEM(s_tables) == DH_N_TABLES, "DH_N_TABLES: s_tables");

/* The API views compared as sorted compact JSON. */
static const char *const s_views[] = { "stock_list", "customer_list",
	"order_list", "order_get", "alert_list", "payment_list", "invoice_get",
	"invoice_receivables", "case_list", "case_get", "catalog_products",
	"catalog_prices" };
#define N_VIEWS DH_N_VIEWS
_Static_assert(NELEM(s_views) == DH_N_VIEWS, "DH_N_VIEWS: s_views");
#define N_PARTS DH_N_PARTS

static const char *
s_part_name(size_t i)
{
	return i < N_TABLES ? s_tables[i].name : s_views[i - N_TABLES];
}

/* The text of the part called name. */
const char *
dh_part(const dh_snapshot_t *snap, const char *name)
{
	size_t i;

	for (i = 0; i < N_PARTS; i++)
		if (strcmp(s_part_name(i), name) == 0)
			return snap->part[i];
	abort(); /* a name this file does not know: programmer error */
}

/* Appends the rows of sql, one line each, columns typed and '|'-separated. */
void
dh_dump_sql(store_t *st, const char *sql, dh_text_t *t)
{
	sqlite3 *db = store_db(st);
	sqlite3_stmt *s;
	int i, n, rc;

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
		CHECK_MSG(0, "prepare %s: %s", sql, sqlite3_errmsg(db));
		return;
	}
	n = sqlite3_column_count(s);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		for (i = 0; i < n; i++) {
			const unsigned char *b;
			int k, len;

			if (i > 0)
				dh_text_add(t, "|");
			switch (sqlite3_column_type(s, i)) {
			case SQLITE_NULL: dh_text_add(t, "NULL"); break;
			case SQLITE_INTEGER:
				dh_text_add(t, "%lld",
				    (long long)sqlite3_column_int64(s, i));
				break;
			case SQLITE_TEXT:
				dh_text_add(t, "'%s'",
				    (const char *)sqlite3_column_text(s, i));
				break;
			case SQLITE_BLOB:
				b = sqlite3_column_blob(s, i);
				len = sqlite3_column_bytes(s, i);
				dh_text_add(t, "x'");
				for (k = 0; k < len; k++)
					dh_text_add(t, "%02x", b[k]);
				dh_text_add(t, "'");
				break;
			default:
				dh_text_add(t, "%.17g",
				    sqlite3_column_double(s, i));
				break;
			}
		}
		dh_text_add(t, "\n");
	}
	CHECK_MSG(rc == SQLITE_DONE, "step %s: %s", sql, sqlite3_errmsg(db));
	sqlite3_finalize(s);
}

char *
dh_rows(store_t *st, const char *sql)
{
	dh_text_t t = { NULL, 0, 0 };

	dh_dump_sql(st, sql, &t);
	return dh_text_take(&t);
}

/* The first column of sql's rows as a JSON array of strings. */
static json_t *
s_ids(store_t *st, const char *sql)
{
	sqlite3_stmt *s;
	json_t *ids = json_array();

	if (sqlite3_prepare_v2(store_db(st), sql, -1, &s, NULL) != SQLITE_OK) {
		CHECK_MSG(0, "prepare %s: %s", sql,
		    sqlite3_errmsg(store_db(st)));
		return ids;
	}
	while (sqlite3_step(s) == SQLITE_ROW)
		json_array_append_new(ids,
		    json_string((const char *)sqlite3_column_text(s, 0)));
	sqlite3_finalize(s);
	return ids;
}

static void
s_view(store_t *st, size_t v, dh_text_t *t)
{
	json_t *ids, *id;
	size_t i;
	const char *name = s_views[v];

	if (strcmp(name, "stock_list") == 0) {
		dh_text_json(t, t_list(st, stock_list, NULL));
	} else if (strcmp(name, "customer_list") == 0) {
		dh_text_json(t, t_list(st, customer_list, NULL));
	} else if (strcmp(name, "order_list") == 0) {
		dh_text_json(t, t_list(st, order_list, NULL));
	} else if (strcmp(name, "order_get") == 0) {
		ids = s_ids(st,
		    "SELECT id FROM orders UNION "
		    "SELECT order_id FROM order_history ORDER BY 1");
		json_array_foreach(ids, i, id) {
			dh_text_add(t, "%s: ", json_string_value(id));
			dh_text_json(t,
			    t_get(st, order_get, json_string_value(id)));
		}
		json_decref(ids);
	} else if (strcmp(name, "alert_list") == 0) {
		dh_text_json(t, t_list(st, alert_list, NULL));
	} else if (strcmp(name, "payment_list") == 0) {
		dh_text_json(t, t_list(st, payment_list, NULL));
	} else if (strcmp(name, "invoice_get") == 0) {
		ids = s_ids(st,
		    "SELECT id FROM invoices UNION "
		    "SELECT invoice_id FROM invoice_history ORDER BY 1");
		json_array_foreach(ids, i, id) {
			dh_text_add(t, "%s: ", json_string_value(id));
			dh_text_json(t,
			    t_get(st, invoice_get, json_string_value(id)));
		}
		json_decref(ids);
	} else if (strcmp(name, "invoice_receivables") == 0) {
		dh_text_json(t, t_list(st, invoice_receivables, NULL));
	} else if (strcmp(name, "case_list") == 0) {
		dh_text_json(t, t_list(st, case_list, NULL));
	} else if (strcmp(name, "case_get") == 0) {
		ids = s_ids(st,
		    "SELECT id FROM cases UNION "
		    "SELECT case_id FROM case_history UNION "
		    "SELECT case_id FROM case_comments ORDER BY 1");
		json_array_foreach(ids, i, id) {
			dh_text_add(t, "%s: ", json_string_value(id));
			dh_text_json(t,
			    t_get(st, case_get, json_string_value(id)));
		}
		json_decref(ids);
	} else if (strcmp(name, "catalog_products") == 0) {
		dh_text_json(t, t_list(st, catalog_products, NULL));
	} else if (strcmp(name, "catalog_prices") == 0) {
		dh_text_json(t, t_list(st, catalog_prices, NULL));
	}
}

void
dh_snapshot(store_t *st, dh_snapshot_t *snap)
{
	size_t i;

	for (i = 0; i < N_PARTS; i++) {
		dh_text_t t = { NULL, 0, 0 };

		if (i < N_TABLES)
			dh_dump_sql(st, s_tables[i].sql, &t);
		else
			s_view(st, i - N_TABLES, &t);
		snap->part[i] = dh_text_take(&t);
	}
}

void
dh_snapshot_free(dh_snapshot_t *snap)
{
	size_t i;

	for (i = 0; i < N_PARTS; i++) {
		free(snap->part[i]);
		snap->part[i] = NULL;
	}
}

/* Length of the line starting at p. */
static int
s_line_len(const char *p)
{
	const char *e = strchr(p, '\n');

	return (int)(e ? (size_t)(e - p) : strlen(p));
}

/* Checks that texts x (of an) and y (of bn) are identical; a difference
 * names what differs, its first differing line in each and the seed.
 * Returns 1 when equal. */
int
dh_same_text(const char *what, const char *an, const char *x, const char *bn,
    const char *y)
{
	const char *lx, *ly;
	size_t k, line = 1;
	int nx, ny;

	if (strcmp(x, y) == 0)
		return 1;
	for (k = 0; x[k] != '\0' && x[k] == y[k]; k++)
		if (x[k] == '\n')
			line++;
	for (lx = x + k; lx > x && lx[-1] != '\n'; lx--)
		;
	ly = y + (lx - x);
	nx = s_line_len(lx);
	ny = s_line_len(ly);
	return CHECK_MSG(0,
	    "%s differs between %s and %s (seed %llu), "
	    "first at line %zu:\n#     %s: %.*s\n#     %s: %.*s",
	    what, an, bn, (unsigned long long)harness_seed(), line, an,
	    nx > 400 ? 400 : nx, lx, bn, ny > 400 ? 400 : ny, ly);
}

/* Checks that two snapshots are identical, part by part: the first part
 * that differs is shown line against line, the others only named. */
int
dh_same(const dh_snapshot_t *a, const dh_snapshot_t *b, const char *an,
    const char *bn)
{
	dh_text_t others = { NULL, 0, 0 };
	char *list;
	size_t i;
	int same = 1;

	for (i = 0; i < N_PARTS; i++) {
		if (strcmp(a->part[i], b->part[i]) == 0)
			continue;
		if (same)
			dh_same_text(s_part_name(i), an, a->part[i], bn,
			    b->part[i]);
		else
			dh_text_add(&others, " %s", s_part_name(i));
		same = 0;
	}
	list = dh_text_take(&others);
	if (list[0] != '\0')
		printf("#     %s and %s also differ in:%s\n", an, bn, list);
	free(list);
	return same;
}

/* ---- per-rule histories ---- */

/* A clock value minutes after the start of the small histories. */
uint64_t
dh_at(uint64_t minute, uint32_t counter)
{
	return hlc_pack(DH_WALL0 - DH_HOUR_MS + minute * 60000, counter);
}

/* Ingests h into four new replicas (in order, reversed, shuffled, and
 * shuffled in bulks as a node applies what it pulls, store.h) and twice
 * into the first; checks the five states are equal. Returns the first
 * replica for the caller's checks (caller closes), or NULL on failure. */
store_t *
dh_rule_run(const dh_history_t *h)
{
	const char *dir = harness_tmpdir();
	static const char *const names[4] = { "in-order", "reversed",
		"shuffled", "shuffled-bulk" };
	store_t *rep[4] = { NULL, NULL, NULL, NULL };
	dh_snapshot_t snap[4], again;
	size_t *idx = malloc((h->n + 1) * sizeof *idx), i, k;
	int ok = 1;

	if (idx == NULL)
		abort();
	memset(snap, 0, sizeof snap);
	memset(&again, 0, sizeof again);
	for (k = 0; k < 4 && ok; k++) {
		size_t counts[INGEST_RESULTS] = { 0 };

		for (i = 0; i < h->n; i++)
			idx[i] = k == 1 ? h->n - 1 - i : i;
		if (k >= 2)
			dh_shuffle(idx, h->n);
		s_bulk = k == 3;
		ok = (rep[k] = dh_open(dir, names[k])) != NULL &&
		    dh_ingest(rep[k], h, idx, h->n, counts) == 0;
		s_bulk = 0;
		if (ok) {
			CHECK_EQ_UINT(counts[INGEST_APPLIED], h->n_valid);
			CHECK_EQ_UINT(counts[INGEST_QUARANTINED], h->n_invalid);
			dh_snapshot(rep[k], &snap[k]);
		}
	}
	if (ok) {
		size_t counts[INGEST_RESULTS] = { 0 };

		for (i = 0; i < h->n; i++)
			idx[i] = i;
		if (dh_ingest(rep[0], h, idx, h->n, counts) == 0) {
			CHECK_EQ_UINT(counts[INGEST_DUPLICATE], h->n);
			dh_snapshot(rep[0], &again);
			ok = dh_same(&snap[0], &again, "in-order",
			    "in-order twice");
		} else {
			ok = 0;
		}
		ok = dh_same(&snap[0], &snap[1], names[0], names[1]) && ok;
		ok = dh_same(&snap[0], &snap[2], names[0], names[2]) && ok;
		ok = dh_same(&snap[0], &snap[3], names[0], names[3]) && ok;
	}
	for (k = 0; k < 4; k++) {
		if (k > 0 || !ok)
			store_close(&rep[k]);
		dh_snapshot_free(&snap[k]);
	}
	dh_snapshot_free(&again);
	free(idx);
	return rep[0];
}

/* v as sorted compact JSON (caller frees), or NULL for NULL; takes v. */
char *
dh_dump(json_t *v)
{
	char *s = v ? json_dumps(v, JSON_SORT_KEYS | JSON_COMPACT) : NULL;

	json_decref(v);
	return s;
}

/* The number of alerts of kind about subject. */
int
dh_alerts(store_t *st, const char *kind, const char *subject)
{
	json_t *a = t_list_where(st, alert_list, "kind", kind), *it;
	size_t i;
	int n = 0;

	json_array_foreach(json_object_get(a, "items"), i, it)
		if (subject == NULL ||
		    strcmp(json_string_value(json_object_get(it, "subject")),
			subject) == 0)
			n++;
	json_decref(a);
	return n;
}

/* The message of the alert of kind about subject, or NULL. */
char *
dh_alert_message(store_t *st, const char *kind, const char *subject)
{
	json_t *a = t_list_where(st, alert_list, "kind", kind), *it;
	char *msg = NULL;
	size_t i;

	json_array_foreach(json_object_get(a, "items"), i, it)
		if (msg == NULL &&
		    strcmp(json_string_value(json_object_get(it, "subject")),
			subject) == 0 &&
		    (msg = strdup(json_string_value(
			 json_object_get(it, "message")))) == NULL)
			abort();
	json_decref(a);
	return msg;
}

/* On hand of sku at site, 0 without a position. */
int64_t
dh_on_hand(store_t *st, const char *site, const char *sku)
{
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT on_hand FROM stock WHERE site = ? AND sku = ?");

	sqlite3_bind_text(s, 1, site, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, sku, -1, SQLITE_STATIC);
	return store_query_int(st, s, 0);
}

/* The quarantined ops of st, one line each. */
char *
dh_quarantined(store_t *st)
{
	return dh_rows(st,
	    "SELECT origin, seq, reason FROM quarantine ORDER BY origin, seq");
}
