/*
 * test_domain_prop: every entity's merge rule converges, whatever the order.
 *
 * SPEC §4 promises that a replica's state is a pure function of the set of
 * ops it has seen. This file checks that over all entities at once:
 *
 *   converge  a generator makes a few thousand ops from S001, S002, W001 and
 *             HQ (each with its own seq and hybrid clock; clocks interleave
 *             and sometimes tie across origins): stock movements (some ids
 *             claimed by several origins), customers (LWW fields, add-wins
 *             tags with the add instances the writer had seen, points),
 *             head-office products, prices and safety stock, orders and
 *             their transitions (cancelled against shipped included),
 *             payments and refunds, invoices, after-sales cases, and a few
 *             ops every replica must quarantine. Four replicas take their
 *             canonical bytes in four random orders with random duplicates,
 *             two of them first in partial subsets. Every replicated table
 *             (ordered by its primary key) and every API view (stock, customers,
 *             orders one by one, alerts, payments, invoices, cases, catalog)
 *             must then be byte-identical, and equal to a model for on-hand,
 *             points, order status and the quarantine.
 *   rules     one small hand-picked history per rule (LWW field, add-wins
 *             tags, points counter, order max-register, PN-counter stock,
 *             over-refund, head-office LWW price, quarantine), ingested in
 *             three orders and twice: same state, and the state the rule
 *             says.
 *
 * Replicas run on a fixed wall clock (WALL0; the ops' clocks are behind it)
 * so that the one local column, quarantine.at, and the clock-ahead reason
 * are the same everywhere; alerts are asked for at that time too.
 *
 * A converge failure names the table or view that differs, its first
 * differing line and the seed; BL_SEED=N replays it. The tests at its end
 * are the smallest reproductions of bugs it once found: creates of one id
 * by two origins (customers, orders, cases with equal clocks; invoices
 * always) that kept whichever arrived first, and a customer op with tier
 * null that failed as a storage error instead of being quarantined.
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
#include "domain_read.h"
#include "harness.h"
#include "hlc.h"
#include "invoice.h"
#include "lifecycle.h"
#include "op.h"
#include "order.h"
#include "payment.h"
#include "stock.h"
#include "store.h"

#define N_OPS 3200 /* ops of the random history */
#define N_ORIGINS 4
#define N_REPLICAS 4
#define HQ 3		  /* index of the head-office origin */
#define BATCH 200	  /* ops per ingest transaction */
#define N_SHARED_MOVES 30 /* movement ids several origins may claim */
#define N_SHARED_PAYS 12  /* payment ids several origins may claim */
#define WALL0 UINT64_C(1700000000000)
#define NOW_MS ((int64_t)WALL0)
#define HOUR_MS UINT64_C(3600000)

static const char *const s_origins[N_ORIGINS] = { "S001", "S002", "W001",
	"HQ" };
static const char *const s_sites[] = { "S001", "S002", "W001" };
#define N_SITES 3
static const char *const s_skus[] = { "SKU-A", "SKU-B", "SKU-C", "SKU-D",
	"SKU-E" };
#define N_SKUS 5
static const char *const s_tags[] = { "newsletter", "promo", "vip-club",
	"wholesale" };
#define N_TAGS 4
static const char *const s_tiers[] = { "retail", "member", "vip", "wholesale" };
static const char *const s_channels[] = { "store", "online", "b2b" };
static const char *const s_methods[] = { "cash", "card", "alipay", "wechat",
	"bank_transfer", "gift_card" };
static const char *const s_case_kinds[] = { "return", "exchange", "complaint",
	"repair" };
static const char *const s_case_status[] = { "open", "in_progress", "rejected",
	"completed", "closed" };
static const char *const s_invoice_status[] = { "issued", "paid", "void" };
static const struct {
	const char *name;
	int sign; /* +1, -1, or 0 for either */
} s_reasons[] = {
	{ "receipt", 1 },
	{ "sale", -1 },
	{ "return", 1 },
	{ "adjustment", 0 },
	{ "transfer_out", -1 },
	{ "transfer_in", 1 },
	{ "count", 0 },
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define PICK(a) ((a)[harness_rand_below(NELEM(a))])

static uint64_t
s_wall(void)
{
	return WALL0;
}

/* ---- text ---- */

/* A growable NUL-terminated string. */
typedef struct {
	char *p;
	size_t len;
	size_t cap;
} text_t;

static void s_text_add(text_t *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
s_text_add(text_t *t, const char *fmt, ...)
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
static char *
s_text_take(text_t *t)
{
	char *p = t->p;

	if (p == NULL && (p = strdup("")) == NULL)
		abort();
	memset(t, 0, sizeof *t);
	return p;
}

/* Appends v as sorted, compact JSON and a newline; takes v. */
static void
s_text_json(text_t *t, json_t *v)
{
	char *s;

	if (v == NULL) {
		s_text_add(t, "null\n");
		return;
	}
	s = json_dumps(v, JSON_SORT_KEYS | JSON_COMPACT);
	s_text_add(t, "%s\n", s ? s : "?");
	free(s);
	json_decref(v);
}

/* ---- histories ---- */

/* One op as every replica receives it: decoded from its canonical bytes. */
typedef struct {
	op_t op;
	uint8_t *body;
	size_t len;
	int valid; /* every replica must apply it (else quarantine) */
} gen_op_t;

typedef struct {
	gen_op_t *ops;
	size_t n;
	size_t cap;
	size_t n_valid;
	size_t n_invalid;
} history_t;

/* Encodes an op built from the arguments, decodes its bytes back into the
 * history (as a receiver would see it) and returns it. fields is taken. */
static gen_op_t *
s_add(history_t *h, const char *origin, uint64_t seq, uint64_t hlc,
    const char *entity, const char *key, const char *kind, json_t *fields,
    int valid)
{
	op_t op;
	cbw_t w;
	cbr_t r;
	err_t err;
	gen_op_t *g;

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
		fprintf(stderr, "test_domain_prop: op_encode: %s\n", err.msg);
		abort();
	}
	op_clear(&op);
	cbr_init(&r, w.data, w.len);
	if (op_decode(&r, &g->op, &err)) {
		fprintf(stderr, "test_domain_prop: op_decode: %s\n", err.msg);
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

static void
s_history_free(history_t *h)
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
static store_t *
s_open(const char *dir, const char *name)
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

/* Ingests the ops idx[0..n) of h in that order, BATCH per transaction,
 * adding to counts[INGEST_*]. Returns 0, or -1 after recording a failure. */
static int
s_ingest(store_t *st, const history_t *h, const size_t *idx, size_t n,
    size_t counts[3])
{
	size_t i, j;
	err_t err;
	ingest_result_t res;

	for (i = 0; i < n; i += BATCH) {
		if (store_begin(st, &err))
			return CHECK_MSG(0, "store_begin: %s", err.msg) - 1;
		for (j = i; j < n && j < i + BATCH; j++) {
			const gen_op_t *g = &h->ops[idx[j]];

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
	}
	return 0;
}

static void
s_shuffle(size_t *v, size_t n)
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
#define N_TABLES NELEM(s_tables)

/* The API views compared as sorted compact JSON. */
static const char *const s_views[] = { "stock_list", "customer_list",
	"order_list", "order_get", "alert_list", "payment_list", "invoice_get",
	"invoice_receivables", "case_list", "case_get", "catalog_products",
	"catalog_prices" };
#define N_VIEWS NELEM(s_views)
#define N_PARTS (N_TABLES + N_VIEWS)

typedef struct {
	char *part[N_PARTS];
} snapshot_t;

static const char *
s_part_name(size_t i)
{
	return i < N_TABLES ? s_tables[i].name : s_views[i - N_TABLES];
}

/* The text of the part called name. */
static const char *
s_part(const snapshot_t *snap, const char *name)
{
	size_t i;

	for (i = 0; i < N_PARTS; i++)
		if (strcmp(s_part_name(i), name) == 0)
			return snap->part[i];
	abort(); /* a name this file does not know: programmer error */
}

/* Appends the rows of sql, one line each, columns typed and '|'-separated. */
static void
s_dump_sql(store_t *st, const char *sql, text_t *t)
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
				s_text_add(t, "|");
			switch (sqlite3_column_type(s, i)) {
			case SQLITE_NULL: s_text_add(t, "NULL"); break;
			case SQLITE_INTEGER:
				s_text_add(t, "%lld",
				    (long long)sqlite3_column_int64(s, i));
				break;
			case SQLITE_TEXT:
				s_text_add(t, "'%s'",
				    (const char *)sqlite3_column_text(s, i));
				break;
			case SQLITE_BLOB:
				b = sqlite3_column_blob(s, i);
				len = sqlite3_column_bytes(s, i);
				s_text_add(t, "x'");
				for (k = 0; k < len; k++)
					s_text_add(t, "%02x", b[k]);
				s_text_add(t, "'");
				break;
			default:
				s_text_add(t, "%.17g",
				    sqlite3_column_double(s, i));
				break;
			}
		}
		s_text_add(t, "\n");
	}
	CHECK_MSG(rc == SQLITE_DONE, "step %s: %s", sql, sqlite3_errmsg(db));
	sqlite3_finalize(s);
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
s_view(store_t *st, size_t v, text_t *t)
{
	json_t *ids, *id;
	size_t i;
	const char *name = s_views[v];

	if (strcmp(name, "stock_list") == 0) {
		s_text_json(t, t_list(st, stock_list, NULL));
	} else if (strcmp(name, "customer_list") == 0) {
		s_text_json(t, t_list(st, customer_list, NULL));
	} else if (strcmp(name, "order_list") == 0) {
		s_text_json(t, t_list(st, order_list, NULL));
	} else if (strcmp(name, "order_get") == 0) {
		ids = s_ids(st,
		    "SELECT id FROM orders UNION "
		    "SELECT order_id FROM order_history ORDER BY 1");
		json_array_foreach(ids, i, id) {
			s_text_add(t, "%s: ", json_string_value(id));
			s_text_json(t,
			    t_get(st, order_get, json_string_value(id)));
		}
		json_decref(ids);
	} else if (strcmp(name, "alert_list") == 0) {
		s_text_json(t, t_list(st, alert_list, NULL));
	} else if (strcmp(name, "payment_list") == 0) {
		s_text_json(t, t_list(st, payment_list, NULL));
	} else if (strcmp(name, "invoice_get") == 0) {
		ids = s_ids(st,
		    "SELECT id FROM invoices UNION "
		    "SELECT invoice_id FROM invoice_history ORDER BY 1");
		json_array_foreach(ids, i, id) {
			s_text_add(t, "%s: ", json_string_value(id));
			s_text_json(t,
			    t_get(st, invoice_get, json_string_value(id)));
		}
		json_decref(ids);
	} else if (strcmp(name, "invoice_receivables") == 0) {
		s_text_json(t, t_list(st, invoice_receivables, NULL));
	} else if (strcmp(name, "case_list") == 0) {
		s_text_json(t, t_list(st, case_list, NULL));
	} else if (strcmp(name, "case_get") == 0) {
		ids = s_ids(st,
		    "SELECT id FROM cases UNION "
		    "SELECT case_id FROM case_history UNION "
		    "SELECT case_id FROM case_comments ORDER BY 1");
		json_array_foreach(ids, i, id) {
			s_text_add(t, "%s: ", json_string_value(id));
			s_text_json(t,
			    t_get(st, case_get, json_string_value(id)));
		}
		json_decref(ids);
	} else if (strcmp(name, "catalog_products") == 0) {
		s_text_json(t, t_list(st, catalog_products, NULL));
	} else if (strcmp(name, "catalog_prices") == 0) {
		s_text_json(t, t_list(st, catalog_prices, NULL));
	}
}

static void
s_snapshot(store_t *st, snapshot_t *snap)
{
	size_t i;

	for (i = 0; i < N_PARTS; i++) {
		text_t t = { NULL, 0, 0 };

		if (i < N_TABLES)
			s_dump_sql(st, s_tables[i].sql, &t);
		else
			s_view(st, i - N_TABLES, &t);
		snap->part[i] = s_text_take(&t);
	}
}

static void
s_snapshot_free(snapshot_t *snap)
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
static int
s_same_text(const char *what, const char *an, const char *x, const char *bn,
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
static int
s_same(const snapshot_t *a, const snapshot_t *b, const char *an, const char *bn)
{
	text_t others = { NULL, 0, 0 };
	char *list;
	size_t i;
	int same = 1;

	for (i = 0; i < N_PARTS; i++) {
		if (strcmp(a->part[i], b->part[i]) == 0)
			continue;
		if (same)
			s_same_text(s_part_name(i), an, a->part[i], bn,
			    b->part[i]);
		else
			s_text_add(&others, " %s", s_part_name(i));
		same = 0;
	}
	list = s_text_take(&others);
	if (list[0] != '\0')
		printf("#     %s and %s also differ in:%s\n", an, bn, list);
	free(list);
	return same;
}

/* ---- the random history ---- */

/* An id the generator made, and what the model knows of it. */
typedef struct {
	char id[OP_KEY_MAX + 1];
	int64_t value; /* customers: points; orders: status rank */
} rec_t;

typedef struct {
	rec_t *v;
	size_t n;
	size_t cap;
} recs_t;

static rec_t *
s_rec_add(recs_t *r, const char *id, int64_t value)
{
	if (r->n == r->cap) {
		r->cap = r->cap * 2 + 32;
		r->v = realloc(r->v, r->cap * sizeof *r->v);
		if (r->v == NULL)
			abort();
	}
	snprintf(r->v[r->n].id, sizeof r->v[r->n].id, "%s", id);
	r->v[r->n].value = value;
	return &r->v[r->n++];
}

static rec_t *
s_rec_pick(const recs_t *r)
{
	return r->n == 0 ? NULL : &r->v[harness_rand_below(r->n)];
}

/* An add instance of a tag: the op that added it. */
typedef struct {
	size_t customer; /* index into customers */
	int tag;
	int origin;
	uint64_t seq;
} tag_add_t;

/* Which creates may reuse the id of an existing record (another origin's
 * or their own), as two tills given the same client id would. */
#define CLASH_CUSTOMERS 1
#define CLASH_ORDERS 2
#define CLASH_INVOICES 4
#define CLASH_CASES 8

/* A valid movement op, for the on-hand model. */
typedef struct {
	char id[OP_KEY_MAX + 1];
	uint64_t hlc;
	int origin;
	int site;
	int sku;
	long long delta;
} move_t;

typedef struct {
	history_t h;
	int clash; /* CLASH_*: creates that reuse existing ids */
	uint64_t seq[N_ORIGINS];
	uint64_t last[N_ORIGINS];
	uint64_t recent; /* latest clock value any origin issued */
	size_t step;
	recs_t customers, orders, invoices, cases;
	tag_add_t *tag_adds;
	size_t n_tag_adds, cap_tag_adds;
	move_t *moves;
	size_t n_moves, cap_moves;
} gen_t;

/* The next clock value of origin o: the wall advances with the step, with
 * jitter so that origins interleave, and one time in eight the origin lands
 * exactly on the latest value another origin issued. */
static uint64_t
s_clock(gen_t *g, int o)
{
	uint64_t wall = WALL0 - 3 * HOUR_MS + g->step * 2 +
	    harness_rand_below(40);
	uint64_t hlc = hlc_pack(wall, (uint32_t)harness_rand_below(3));

	if (harness_rand_below(8) == 0 && g->recent > g->last[o])
		hlc = g->recent;
	if (hlc <= g->last[o])
		hlc = g->last[o] + 1;
	g->last[o] = hlc;
	if (hlc > g->recent)
		g->recent = hlc;
	return hlc;
}

/* Emits an op of origin o with its next seq and clock; fields taken. */
static gen_op_t *
s_emit(gen_t *g, int o, const char *entity, const char *key, const char *kind,
    json_t *fields, int valid)
{
	uint64_t seq = ++g->seq[o];

	return s_add(&g->h, s_origins[o], seq, s_clock(g, o), entity, key, kind,
	    fields, valid);
}

/* Now and then, when g->clash has mask, makes another origin create the
 * same record at the same clock value as op (two tills given one client id
 * at once): its own site, no tags or points of its own. */
static void
s_twin(gen_t *g, const gen_op_t *op, int mask)
{
	int o2 = (int)harness_rand_below(N_ORIGINS);
	char entity[OP_NAME_MAX + 1], key[OP_KEY_MAX + 1];
	uint64_t hlc = op->op.hlc;
	json_t *f;

	if (!(g->clash & mask) || harness_rand_below(3) != 0 ||
	    strcmp(s_origins[o2], op->op.origin) == 0 || g->last[o2] >= hlc)
		return;
	snprintf(entity, sizeof entity, "%s", op->op.entity);
	snprintf(key, sizeof key, "%s", op->op.key);
	f = json_deep_copy(op->op.fields);
	if (json_object_get(f, "site") != NULL)
		json_object_set_new(f, "site", json_string(s_origins[o2]));
	json_object_del(f, "tags_add");
	json_object_del(f, "tags_remove");
	json_object_del(f, "points_delta");
	g->last[o2] = hlc;
	s_add(&g->h, s_origins[o2], ++g->seq[o2], hlc, entity, key, "create", f,
	    1);
}

/* A record id of origin o, unique: "S001-O000042". */
static void
s_new_id(gen_t *g, int o, const char *what, char *buf, size_t size)
{
	snprintf(buf, size, "%s-%s%06llu", s_origins[o], what,
	    (unsigned long long)(g->seq[o] + 1));
}

static void
s_gen_move(gen_t *g, int o)
{
	char key[OP_KEY_MAX + 1];
	/* Sales (index 1) a little more often, so some stock goes negative. */
	size_t r = harness_rand_below(4) == 0
	    ? 1
	    : (size_t)harness_rand_below(NELEM(s_reasons));
	int sign = s_reasons[r].sign ? s_reasons[r].sign
				     : (harness_rand_below(2) ? 1 : -1);
	long long delta = sign * (1 + (long long)harness_rand_below(20));
	int site = (int)harness_rand_below(N_SITES);
	int sku = (int)harness_rand_below(N_SKUS);
	json_t *f;
	gen_op_t *op;
	move_t *m;

	if (harness_rand_below(8) == 0) {
		/* A shared id names one (site, sku) wherever it is claimed,
		 * so that a claim which loses leaves no row of its own. */
		int k = (int)harness_rand_below(N_SHARED_MOVES);

		snprintf(key, sizeof key, "MV-%02d", k);
		site = k % N_SITES;
		sku = k % N_SKUS;
	} else {
		s_new_id(g, o, "M", key, sizeof key);
	}
	f = json_pack("{s:s, s:s, s:I, s:s}", "site", s_sites[site], "sku",
	    s_skus[sku], "delta", (json_int_t)delta, "reason",
	    s_reasons[r].name);
	if (harness_rand_below(3) == 0)
		json_object_set_new(f, "ref", json_string("REF-1"));
	op = s_emit(g, o, STOCK_ENTITY, key, "add", f, 1);
	if (g->n_moves == g->cap_moves) {
		g->cap_moves = g->cap_moves * 2 + 64;
		g->moves = realloc(g->moves, g->cap_moves * sizeof *g->moves);
		if (g->moves == NULL)
			abort();
	}
	m = &g->moves[g->n_moves++];
	snprintf(m->id, sizeof m->id, "%s", key);
	m->hlc = op->op.hlc;
	m->origin = o;
	m->site = site;
	m->sku = sku;
	m->delta = delta;
}

/* A random "set" object of customer fields (possibly empty). */
static json_t *
s_customer_set(int create)
{
	json_t *set = json_object();
	char buf[64];

	if (create || harness_rand_below(2) == 0) {
		snprintf(buf, sizeof buf, "Name %llu",
		    (unsigned long long)harness_rand_below(1000));
		json_object_set_new(set, "name", json_string(buf));
	}
	if (harness_rand_below(3) == 0) {
		snprintf(buf, sizeof buf, "138%08llu",
		    (unsigned long long)harness_rand_below(100000000));
		json_object_set_new(set, "phone", json_string(buf));
	}
	if (harness_rand_below(4) == 0)
		json_object_set_new(set, "tier", json_string(PICK(s_tiers)));
	if (harness_rand_below(5) == 0) {
		snprintf(buf, sizeof buf, "c%llu@example.com",
		    (unsigned long long)harness_rand_below(100));
		json_object_set_new(set, "email", json_string(buf));
	}
	if (harness_rand_below(6) == 0)
		json_object_set_new(set, "address",
		    json_string(
			harness_rand_below(2) ? "1 High St" : "2 Low St"));
	if (harness_rand_below(5) == 0)
		json_object_set_new(set, "credit_limit",
		    json_integer((json_int_t)harness_rand_below(5) * 1000));
	if (harness_rand_below(8) == 0)
		json_object_set_new(set, "currency",
		    json_string(harness_rand_below(2) ? "CNY" : "EUR"));
	if (harness_rand_below(12) == 0) /* clearing a field */
		json_object_set_new(set, "address", json_null());
	return set;
}

static void
s_gen_customer(gen_t *g, int o)
{
	char key[OP_KEY_MAX + 1];
	int create = g->customers.n == 0 || harness_rand_below(4) == 0;
	size_t ci;
	json_t *f = json_object(), *adds = NULL, *rms = NULL;
	int64_t delta = 0;
	gen_op_t *op;
	size_t i;
	int t;

	if (create && (g->clash & CLASH_CUSTOMERS) && g->customers.n > 0 &&
	    harness_rand_below(4) == 0) {
		ci = (size_t)harness_rand_below(g->customers.n);
	} else if (create) {
		s_new_id(g, o, "C", key, sizeof key);
		s_rec_add(&g->customers, key, 0);
		ci = g->customers.n - 1;
	} else {
		ci = (size_t)harness_rand_below(g->customers.n);
	}
	if (create || harness_rand_below(3) != 0)
		json_object_set_new(f, "set", s_customer_set(create));
	if (harness_rand_below(3) == 0) {
		adds = json_array();
		for (t = 0; t < N_TAGS; t++)
			if (harness_rand_below(3) == 0)
				json_array_append_new(adds,
				    json_string(s_tags[t]));
		json_object_set(f, "tags_add", adds);
	}
	if (!create && harness_rand_below(3) == 0) {
		/* Remove a tag: only the add instances this writer has seen
		 * (a random part of those made so far), now and then one it
		 * made up. */
		json_t *seen = json_array();

		t = (int)harness_rand_below(N_TAGS);
		for (i = 0; i < g->n_tag_adds; i++) {
			const tag_add_t *a = &g->tag_adds[i];

			if (a->customer == ci && a->tag == t &&
			    harness_rand_below(3) != 0)
				json_array_append_new(seen,
				    json_pack("[s, I]", s_origins[a->origin],
					(json_int_t)a->seq));
		}
		if (harness_rand_below(10) == 0)
			json_array_append_new(seen,
			    json_pack("[s, I]", "S009", (json_int_t)7));
		rms = json_pack("[{s:s, s:o}]", "tag", s_tags[t], "adds", seen);
		json_object_set_new(f, "tags_remove", rms);
	}
	if (harness_rand_below(3) == 0) {
		delta = (int64_t)harness_rand_below(401) - 150;
		json_object_set_new(f, "points_delta", json_integer(delta));
	}
	op = s_emit(g, o, CUSTOMER_ENTITY, g->customers.v[ci].id,
	    create ? "create" : "update", f, 1);
	g->customers.v[ci].value += delta;
	for (i = 0; adds != NULL && i < json_array_size(adds); i++) {
		tag_add_t *a;

		if (g->n_tag_adds == g->cap_tag_adds) {
			g->cap_tag_adds = g->cap_tag_adds * 2 + 64;
			g->tag_adds = realloc(g->tag_adds,
			    g->cap_tag_adds * sizeof *g->tag_adds);
			if (g->tag_adds == NULL)
				abort();
		}
		a = &g->tag_adds[g->n_tag_adds++];
		a->customer = ci;
		for (t = 0; t < N_TAGS; t++)
			if (strcmp(s_tags[t],
				json_string_value(json_array_get(adds, i))) ==
			    0)
				a->tag = t;
		a->origin = o;
		a->seq = op->op.seq;
	}
	json_decref(adds);
	if (create) /* last: it may move the history, and op with it */
		s_twin(g, op, CLASH_CUSTOMERS);
}

static void
s_gen_catalog(gen_t *g)
{
	char key[OP_KEY_MAX + 1], name[64];
	const char *sku = PICK(s_skus);
	uint64_t r = harness_rand_below(3);
	json_t *f;

	if (r == 0) {
		snprintf(name, sizeof name, "Product %s v%llu", sku,
		    (unsigned long long)harness_rand_below(50));
		f = json_pack("{s:s}", "name", name);
		if (harness_rand_below(2))
			json_object_set_new(f, "unit",
			    json_string(
				harness_rand_below(2) ? "each" : "box"));
		if (harness_rand_below(2))
			json_object_set_new(f, "active",
			    json_boolean(harness_rand_below(4) != 0));
		s_emit(g, HQ, PRODUCT_ENTITY, sku, "set", f, 1);
	} else if (r == 1) {
		const char *tier = PICK(s_tiers);

		snprintf(key, sizeof key, "%s/%s", tier, sku);
		f = json_pack("{s:s, s:s, s:I, s:s}", "tier", tier, "sku", sku,
		    "amount", (json_int_t)(100 + harness_rand_below(2000)),
		    "currency", "CNY");
		s_emit(g, HQ, PRICE_ENTITY, key, "set", f, 1);
	} else {
		const char *site = PICK(s_sites);

		snprintf(key, sizeof key, "%s/%s", site, sku);
		f = json_pack("{s:s, s:s, s:I}", "site", site, "sku", sku,
		    "qty", (json_int_t)harness_rand_below(30));
		s_emit(g, HQ, SAFETY_ENTITY, key, "set", f, 1);
	}
}

static void
s_gen_order_create(gen_t *g, int o)
{
	static const char *const initial[] = { "draft", "confirmed",
		"completed" };
	char key[OP_KEY_MAX + 1];
	const char *status = PICK(initial);
	json_t *f, *lines = json_array();
	rec_t *cust = s_rec_pick(&g->customers), *rec;
	uint64_t i, n = 1 + harness_rand_below(3);

	for (i = 0; i < n; i++)
		json_array_append_new(lines,
		    json_pack("{s:s, s:I, s:I}", "sku", PICK(s_skus), "qty",
			(json_int_t)(1 + harness_rand_below(5)), "unit_price",
			(json_int_t)(100 + harness_rand_below(1900))));
	f = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}", "site", s_origins[o],
	    "channel", PICK(s_channels), "currency", "CNY", "fulfil_site",
	    PICK(s_sites), "status", status, "lines", lines);
	if (cust != NULL && harness_rand_below(2)) {
		json_object_set_new(f, "customer", json_string(cust->id));
		if (harness_rand_below(3) == 0)
			json_object_set_new(f, "on_account", json_true());
	}
	if (harness_rand_below(4) == 0)
		json_object_set_new(f, "note", json_string("ring twice"));
	if ((g->clash & CLASH_ORDERS) && g->orders.n > 0 &&
	    harness_rand_below(5) == 0) {
		rec = s_rec_pick(&g->orders);
	} else {
		s_new_id(g, o, "O", key, sizeof key);
		rec = s_rec_add(&g->orders, key, -1);
	}
	if (lifecycle_rank(&lifecycle_order, status) > rec->value)
		rec->value = lifecycle_rank(&lifecycle_order, status);
	s_twin(g, s_emit(g, o, ORDER_ENTITY, rec->id, "create", f, 1),
	    CLASH_ORDERS);
}

static void
s_gen_order_transition(gen_t *g, int o)
{
	rec_t *rec = s_rec_pick(&g->orders);
	uint64_t r = harness_rand_below(10);
	const char *to = r < 3 ? "cancelled"
	    : r < 6
	    ? "shipped"
	    : lifecycle_name(&lifecycle_order, (int)harness_rand_below(8));
	json_t *f = json_pack("{s:s}", "to", to);

	if (strcmp(to, "shipped") == 0 && harness_rand_below(2))
		json_object_set_new(f, "tracking", json_string("SF123"));
	if (strcmp(to, "cancelled") == 0 && harness_rand_below(2))
		json_object_set_new(f, "reason", json_string("customer asked"));
	if (lifecycle_rank(&lifecycle_order, to) > rec->value)
		rec->value = lifecycle_rank(&lifecycle_order, to);
	s_emit(g, o, ORDER_ENTITY, rec->id, "transition", f, 1);
}

static void
s_gen_payment(gen_t *g, int o)
{
	char key[OP_KEY_MAX + 1];
	rec_t *order = s_rec_pick(&g->orders);
	json_int_t amount = harness_rand_below(5) == 0
	    ? -(json_int_t)(100 + harness_rand_below(6000))
	    : (json_int_t)(100 + harness_rand_below(5000));

	if (harness_rand_below(6) == 0)
		snprintf(key, sizeof key, "PAY-%02d",
		    (int)harness_rand_below(N_SHARED_PAYS));
	else
		s_new_id(g, o, "P", key, sizeof key);
	s_emit(g, o, PAYMENT_ENTITY, key, "add",
	    json_pack("{s:s, s:s, s:I, s:s, s:s}", "order", order->id, "method",
		PICK(s_methods), "amount", amount, "currency", "CNY", "site",
		s_origins[o]),
	    1);
}

static void
s_gen_invoice(gen_t *g, int o)
{
	char key[OP_KEY_MAX + 1];
	rec_t *rec;

	if (g->invoices.n > 0 && harness_rand_below(2) == 0) {
		rec = s_rec_pick(&g->invoices);
		s_emit(g, o, INVOICE_ENTITY, rec->id, "transition",
		    json_pack("{s:s}", "to", PICK(s_invoice_status)), 1);
		return;
	}
	if ((g->clash & CLASH_INVOICES) && g->invoices.n > 0 &&
	    harness_rand_below(5) == 0) {
		rec = s_rec_pick(&g->invoices);
	} else {
		snprintf(key, sizeof key, "%s-INV-%06llu", s_origins[o],
		    (unsigned long long)(g->seq[o] + 1));
		rec = s_rec_add(&g->invoices, key, 0);
	}
	s_emit(g, o, INVOICE_ENTITY, rec->id, "create",
	    json_pack("{s:s, s:s, s:I, s:s, s:I}", "order",
		s_rec_pick(&g->orders)->id, "site", s_origins[o], "amount",
		(json_int_t)(100 + harness_rand_below(9000)), "currency", "CNY",
		"due_days",
		(json_int_t)harness_rand_below(3) * harness_rand_below(30)),
	    1);
}

static void
s_gen_case(gen_t *g, int o)
{
	char key[OP_KEY_MAX + 1];
	rec_t *rec;
	uint64_t r = harness_rand_below(4);
	json_t *f;

	if (g->cases.n == 0 || r == 0) {
		if ((g->clash & CLASH_CASES) && g->cases.n > 0 &&
		    harness_rand_below(5) == 0) {
			rec = s_rec_pick(&g->cases);
		} else {
			s_new_id(g, o, "K", key, sizeof key);
			rec = s_rec_add(&g->cases, key, 0);
		}
		f = json_pack("{s:s, s:s}", "kind", PICK(s_case_kinds), "site",
		    s_origins[o]);
		if (g->orders.n > 0 && harness_rand_below(2))
			json_object_set_new(f, "order",
			    json_string(s_rec_pick(&g->orders)->id));
		if (g->customers.n > 0 && harness_rand_below(2))
			json_object_set_new(f, "customer",
			    json_string(s_rec_pick(&g->customers)->id));
		if (harness_rand_below(2))
			json_object_set_new(f, "description",
			    json_string("screen cracked"));
		if (harness_rand_below(2))
			json_object_set_new(f, "lines",
			    json_pack("[{s:s, s:I}]", "sku", PICK(s_skus),
				"qty",
				(json_int_t)(1 + harness_rand_below(3))));
		s_twin(g, s_emit(g, o, CASE_ENTITY, rec->id, "create", f, 1),
		    CLASH_CASES);
		return;
	}
	rec = s_rec_pick(&g->cases);
	if (r == 1) {
		json_t *set = json_object();

		if (harness_rand_below(2))
			json_object_set_new(set, "assignee",
			    json_string(PICK(s_origins)));
		if (harness_rand_below(2))
			json_object_set_new(set, "resolution",
			    json_string(
				harness_rand_below(2) ? "refund" : "replace"));
		if (harness_rand_below(2) || json_object_size(set) == 0)
			json_object_set_new(set, "rating",
			    json_integer(
				(json_int_t)(1 + harness_rand_below(5))));
		s_emit(g, o, CASE_ENTITY, rec->id, "update",
		    json_pack("{s:o}", "set", set), 1);
	} else if (r == 2) {
		f = json_pack("{s:s}", "text",
		    harness_rand_below(2) ? "called the customer"
					  : "parts ordered");
		if (harness_rand_below(2))
			json_object_set_new(f, "author", json_string("ana"));
		s_emit(g, o, CASE_ENTITY, rec->id, "comment", f, 1);
	} else {
		s_emit(g, o, CASE_ENTITY, rec->id, "transition",
		    json_pack("{s:s}", "to", PICK(s_case_status)), 1);
	}
}

/* An op no replica may apply, each kind for its own reason. */
static void
s_gen_invalid(gen_t *g, int o)
{
	char key[OP_KEY_MAX + 1];
	const char *order = g->orders.n ? s_rec_pick(&g->orders)->id : "X-O1";
	const char *cust = g->customers.n ? s_rec_pick(&g->customers)->id
					  : "X-C1";
	uint64_t seq;

	s_new_id(g, o, "BAD", key, sizeof key);
	switch (harness_rand_below(14)) {
	case 0:
		s_emit(g, o, STOCK_ENTITY, key, "add",
		    json_pack("{s:s, s:s, s:i, s:s}", "site", "S001", "sku",
			"SKU-A", "delta", 0, "reason", "adjustment"),
		    0);
		break;
	case 1:
		s_emit(g, o, STOCK_ENTITY, key, "add",
		    json_pack("{s:s, s:s, s:i, s:s}", "site", "S001", "sku",
			"SKU-A", "delta", 3, "reason", "sale"),
		    0);
		break;
	case 2:
		s_emit(g, o, STOCK_ENTITY, key, "remove",
		    json_pack("{s:s, s:s, s:i, s:s}", "site", "S001", "sku",
			"SKU-A", "delta", 3, "reason", "receipt"),
		    0);
		break;
	case 3:
		s_emit(g, o, CUSTOMER_ENTITY, cust, "update",
		    json_pack("{s:{s:s}}", "set", "tier", "platinum"), 0);
		break;
	case 4:
		s_emit(g, o, CUSTOMER_ENTITY, cust, "update",
		    json_pack("{s:{s:s}}", "set", "email", "no-at-sign"), 0);
		break;
	case 5:
		s_emit(g, o, ORDER_ENTITY, key, "create",
		    json_pack("{s:s, s:s, s:s, s:s, s:s, s:[]}", "site",
			s_origins[o], "channel", "store", "currency", "CNY",
			"fulfil_site", "S001", "status", "draft", "lines"),
		    0);
		break;
	case 6:
		s_emit(g, o, ORDER_ENTITY, order, "transition",
		    json_pack("{s:s}", "to", "teleported"), 0);
		break;
	case 7:
		s_emit(g, o, PAYMENT_ENTITY, key, "add",
		    json_pack("{s:s, s:s, s:i, s:s, s:s}", "order", order,
			"method", "cash", "amount", 0, "currency", "CNY",
			"site", s_origins[o]),
		    0);
		break;
	case 8:
		s_emit(g, o, INVOICE_ENTITY, key, "transition",
		    json_pack("{s:s}", "to", "lost"), 0);
		break;
	case 9:
		s_emit(g, o, CASE_ENTITY, key, "update",
		    json_pack("{s:{s:i}}", "set", "rating", 9), 0);
		break;
	case 10: s_emit(g, o, "widget", key, "add", json_object(), 0); break;
	case 11:
		/* Far ahead of every replica's wall; the origin's clock is
		 * left alone. */
		seq = ++g->seq[o];
		s_add(&g->h, s_origins[o], seq,
		    hlc_pack(WALL0 + HLC_DEFAULT_MAX_DRIFT_MS + 1 +
			    harness_rand_below(100000),
			0),
		    STOCK_ENTITY, key, "add",
		    json_pack("{s:s, s:s, s:i, s:s}", "site", "S001", "sku",
			"SKU-A", "delta", 5, "reason", "receipt"),
		    0);
		break;
	case 12:
		s_emit(g, o, PRODUCT_ENTITY, "SKU-A", "set",
		    json_pack("{s:s, s:s}", "name", "Odd", "colour", "red"), 0);
		break;
	default:
		s_emit(g, o, CASE_ENTITY, key, "create",
		    json_pack("{s:s, s:s}", "kind", "refund", "site",
			s_origins[o]),
		    0);
		break;
	}
}

static void
s_generate(gen_t *g, size_t n, int clash)
{
	memset(g, 0, sizeof *g);
	g->clash = clash;
	for (g->step = 0; g->h.n < n; g->step++) {
		int o = (int)harness_rand_below(N_ORIGINS);
		uint64_t r = harness_rand_below(1000);

		if (r < 15) {
			s_gen_invalid(g, o);
		} else if (o == HQ && r < 500) {
			s_gen_catalog(g);
		} else if (r < 300 || g->customers.n == 0) {
			if (r < 300)
				s_gen_move(g, o);
			else
				s_gen_customer(g, o);
		} else if (r < 480) {
			s_gen_customer(g, o);
		} else if (r < 600 || g->orders.n == 0) {
			s_gen_order_create(g, o);
		} else if (r < 740) {
			s_gen_order_transition(g, o);
		} else if (r < 830) {
			s_gen_payment(g, o);
		} else if (r < 900) {
			s_gen_invoice(g, o);
		} else {
			s_gen_case(g, o);
		}
	}
}

static void
s_gen_free(gen_t *g)
{
	s_history_free(&g->h);
	free(g->customers.v);
	free(g->orders.v);
	free(g->invoices.v);
	free(g->cases.v);
	free(g->tag_adds);
	free(g->moves);
	memset(g, 0, sizeof *g);
}

/* ---- the model ---- */

static int
s_rec_cmp(const void *a, const void *b)
{
	return strcmp(((const rec_t *)a)->id, ((const rec_t *)b)->id);
}

/* What "SELECT site, sku, on_hand FROM stock WHERE on_hand != 0" should
 * show: per movement id the op with the lowest (hlc, origin) counts. */
static char *
s_model_stock(const gen_t *g)
{
	long long on_hand[N_SITES][N_SKUS];
	text_t t = { NULL, 0, 0 };
	size_t i, j;
	int s, k;

	memset(on_hand, 0, sizeof on_hand);
	for (i = 0; i < g->n_moves; i++) {
		const move_t *m = &g->moves[i];
		int wins = 1;

		for (j = 0; j < g->n_moves && wins; j++) {
			const move_t *o = &g->moves[j];

			if (j != i && strcmp(o->id, m->id) == 0 &&
			    (o->hlc < m->hlc ||
				(o->hlc == m->hlc &&
				    strcmp(s_origins[o->origin],
					s_origins[m->origin]) < 0)))
				wins = 0;
		}
		if (wins)
			on_hand[m->site][m->sku] += m->delta;
	}
	for (s = 0; s < N_SITES; s++)
		for (k = 0; k < N_SKUS; k++)
			if (on_hand[s][k] != 0)
				s_text_add(&t, "'%s'|'%s'|%lld\n", s_sites[s],
				    s_skus[k], on_hand[s][k]);
	return s_text_take(&t);
}

/* id|value of recs sorted by id, as the SQL dumps print them. */
static char *
s_model_recs(const recs_t *r)
{
	rec_t *v = malloc((r->n + 1) * sizeof *v);
	text_t t = { NULL, 0, 0 };
	size_t i;

	if (v == NULL)
		abort();
	memcpy(v, r->v, r->n * sizeof *v);
	qsort(v, r->n, sizeof *v, s_rec_cmp);
	for (i = 0; i < r->n; i++)
		s_text_add(&t, "'%s'|%lld\n", v[i].id, (long long)v[i].value);
	free(v);
	return s_text_take(&t);
}

static int
s_gen_op_cmp(const void *a, const void *b)
{
	const gen_op_t *x = *(const gen_op_t *const *)a;
	const gen_op_t *y = *(const gen_op_t *const *)b;
	int c = strcmp(x->op.origin, y->op.origin);

	if (c != 0)
		return c;
	return (x->op.seq > y->op.seq) - (x->op.seq < y->op.seq);
}

/* "origin|seq" of the ops every replica must quarantine, by (origin, seq). */
static char *
s_model_quarantine(const history_t *h)
{
	const gen_op_t **v = malloc((h->n + 1) * sizeof *v);
	text_t t = { NULL, 0, 0 };
	size_t i, n = 0;

	if (v == NULL)
		abort();
	for (i = 0; i < h->n; i++)
		if (!h->ops[i].valid)
			v[n++] = &h->ops[i];
	qsort(v, n, sizeof *v, s_gen_op_cmp);
	for (i = 0; i < n; i++)
		s_text_add(&t, "'%s'|%llu\n", v[i]->op.origin,
		    (unsigned long long)v[i]->op.seq);
	free(v);
	return s_text_take(&t);
}

/* Checks that sql on st prints exactly want (which is freed). */
static void
s_check_query(store_t *st, const char *what, const char *sql, char *want)
{
	text_t t = { NULL, 0, 0 };
	char *got;

	s_dump_sql(st, sql, &t);
	got = s_text_take(&t);
	s_same_text(what, "replica", got, "model", want);
	free(got);
	free(want);
}

/* Prints what the history holds, one "#" line, so a reader sees what the
 * property covered. */
static void
s_print_mix(const history_t *h)
{
	static const char *const entities[] = { STOCK_ENTITY, CUSTOMER_ENTITY,
		PRODUCT_ENTITY, PRICE_ENTITY, SAFETY_ENTITY, ORDER_ENTITY,
		PAYMENT_ENTITY, INVOICE_ENTITY, CASE_ENTITY };
	size_t count[NELEM(entities) + 1], i, e, ties = 0;

	memset(count, 0, sizeof count);
	for (i = 0; i < h->n; i++) {
		for (e = 0; e < NELEM(entities); e++)
			if (strcmp(h->ops[i].op.entity, entities[e]) == 0)
				break;
		count[e]++;
		if (i > 0 && h->ops[i].op.hlc == h->ops[i - 1].op.hlc)
			ties++;
	}
	printf("#   %zu ops (%zu to quarantine), %zu clock ties with the "
	       "op before:",
	    h->n, h->n_invalid, ties);
	for (e = 0; e < NELEM(entities); e++)
		printf(" %s %zu,", entities[e], count[e]);
	printf(" other %zu\n", count[NELEM(entities)]);
}

/* Whether alert_list groups its items by kind in sorted order, as alert.h
 * says. (Within a kind the order is each query's key: a quarantined op by
 * origin then numeric seq, so "HQ/9" comes before "HQ/81"; that is the same
 * on every replica, which the snapshots check.) */
static int
s_alerts_sorted(store_t *st)
{
	json_t *a = t_list(st, alert_list, NULL), *items;
	size_t i;
	int ok = 1;

	items = json_object_get(a, "items");
	for (i = 1; i < json_array_size(items) && ok; i++) {
		const char *kx = json_string_value(
		    json_object_get(json_array_get(items, i - 1), "kind"));
		const char *ky = json_string_value(
		    json_object_get(json_array_get(items, i), "kind"));

		ok = CHECK_MSG(strcmp(kx, ky) <= 0,
		    "alert_list: kind %s listed before %s", kx, ky);
	}
	json_decref(a);
	return ok;
}

/* ---- the property ---- */

/* Generates a history, feeds it to N_REPLICAS replicas in different orders
 * (two of them first in partial subsets), and checks they converge to the
 * same state, the model's, and that ingesting everything again changes
 * nothing. */
static void
s_converge(int clash)
{
	static const char *const names[N_REPLICAS] = { "R1", "R2", "R3", "R4" };
	const char *dir = harness_tmpdir();
	store_t *rep[N_REPLICAS] = { NULL };
	snapshot_t snap[N_REPLICAS], again;
	gen_t g;
	size_t *idx = NULL, n, total, i, k, round;
	const char *alerts;
	int ok = 1;

	memset(snap, 0, sizeof snap);
	memset(&again, 0, sizeof again);
	s_generate(&g, N_OPS, clash);
	n = g.h.n;
	CHECK(g.h.n_invalid > 10);
	s_print_mix(&g.h);
	idx = malloc((n + n / 4 + 1) * sizeof *idx);
	if (idx == NULL)
		abort();
	for (k = 0; k < N_REPLICAS && ok; k++) {
		size_t counts[3] = { 0, 0, 0 }, fed = 0;

		if ((rep[k] = s_open(dir, names[k])) == NULL) {
			ok = 0;
			break;
		}
		/* Replicas 3 and 4 first see a few partial subsets. */
		for (round = 0; k >= 2 && round < 3 && ok; round++) {
			size_t m = 0;

			for (i = 0; i < n; i++)
				if (harness_rand_below(4) == 0)
					idx[m++] = i;
			s_shuffle(idx, m);
			ok = s_ingest(rep[k], &g.h, idx, m, counts) == 0;
			fed += m;
		}
		/* Then everything, in its own order, with duplicates. */
		for (i = 0; i < n; i++)
			idx[i] = i;
		total = n + (size_t)harness_rand_below(n / 4);
		for (i = n; i < total; i++)
			idx[i] = (size_t)harness_rand_below(n);
		s_shuffle(idx, total);
		if (ok)
			ok = s_ingest(rep[k], &g.h, idx, total, counts) == 0;
		fed += total;
		if (!ok)
			break;
		CHECK_MSG(counts[INGEST_APPLIED] == g.h.n_valid &&
			counts[INGEST_QUARANTINED] == g.h.n_invalid &&
			counts[INGEST_DUPLICATE] == fed - n,
		    "%s: applied %zu of %zu valid, quarantined %zu of %zu invalid, "
		    "%zu duplicates of %zu (seed %llu)",
		    names[k], counts[INGEST_APPLIED], g.h.n_valid,
		    counts[INGEST_QUARANTINED], g.h.n_invalid,
		    counts[INGEST_DUPLICATE], fed - n,
		    (unsigned long long)harness_seed());
		s_snapshot(rep[k], &snap[k]);
	}
	if (!ok)
		goto out;

	/* Converged: every part identical across replicas. */
	for (k = 1; k < N_REPLICAS; k++)
		s_same(&snap[0], &snap[k], names[0], names[k]);

	/* The state is the model's, not just a common one. */
	s_check_query(rep[0], "on-hand",
	    "SELECT site, sku, on_hand FROM stock "
	    "WHERE on_hand != 0 ORDER BY site, sku",
	    s_model_stock(&g));
	s_check_query(rep[0], "points",
	    "SELECT id, points FROM customers "
	    "ORDER BY id",
	    s_model_recs(&g.customers));
	s_check_query(rep[0], "order status",
	    "SELECT order_id, max(rank) "
	    "FROM order_history GROUP BY order_id ORDER BY order_id",
	    s_model_recs(&g.orders));
	s_check_query(rep[0], "quarantine",
	    "SELECT origin, seq FROM quarantine "
	    "ORDER BY origin, seq",
	    s_model_quarantine(&g.h));
	CHECK_EQ_INT(store_quarantine_count(rep[0]), g.h.n_invalid);
	/* The history is rich enough to mean something: the conflicts the
	 * rules exist for did happen. */
	alerts = s_part(&snap[0], "alert_list");
	CHECK(strstr(alerts, "\"conflicting_transition\"") != NULL);
	CHECK(strstr(alerts, "\"over_refund\"") != NULL);
	CHECK(strstr(alerts, "\"negative_stock\"") != NULL);
	CHECK(strstr(alerts, "\"quarantined\"") != NULL);
	CHECK(
	    strstr(s_part(&snap[0], "customer_list"), "\"tags\":[\"") != NULL);
	CHECK(s_alerts_sorted(rep[0]));

	/* Idempotent: everything once more changes nothing. */
	{
		size_t counts[3] = { 0, 0, 0 };

		for (i = 0; i < n; i++)
			idx[i] = i;
		s_shuffle(idx, n);
		if (s_ingest(rep[0], &g.h, idx, n, counts) == 0) {
			CHECK_EQ_UINT(counts[INGEST_DUPLICATE], n);
			s_snapshot(rep[0], &again);
			s_same(&snap[0], &again, "R1", "R1 after all again");
		}
	}
out:
	for (k = 0; k < N_REPLICAS; k++) {
		store_close(&rep[k]);
		s_snapshot_free(&snap[k]);
	}
	s_snapshot_free(&again);
	free(idx);
	s_gen_free(&g);
}

TEST(all_entities_converge_in_any_order_with_duplicates_and_subsets)
{
	s_converge(0);
}

/* ---- per-rule histories ---- */

/* A clock value minutes after the start of the small histories. */
static uint64_t
s_t(uint64_t minute, uint32_t counter)
{
	return hlc_pack(WALL0 - HOUR_MS + minute * 60000, counter);
}

/* Ingests h into three new replicas (in order, reversed, shuffled) and
 * twice into the first; checks the four states are equal. Returns the first
 * replica for the caller's checks (caller closes), or NULL on failure. */
static store_t *
s_rule_run(const history_t *h)
{
	const char *dir = harness_tmpdir();
	static const char *const names[3] = { "in-order", "reversed",
		"shuffled" };
	store_t *rep[3] = { NULL, NULL, NULL };
	snapshot_t snap[3], again;
	size_t *idx = malloc((h->n + 1) * sizeof *idx), i, k;
	int ok = 1;

	if (idx == NULL)
		abort();
	memset(snap, 0, sizeof snap);
	memset(&again, 0, sizeof again);
	for (k = 0; k < 3 && ok; k++) {
		size_t counts[3] = { 0, 0, 0 };

		for (i = 0; i < h->n; i++)
			idx[i] = k == 1 ? h->n - 1 - i : i;
		if (k == 2)
			s_shuffle(idx, h->n);
		ok = (rep[k] = s_open(dir, names[k])) != NULL &&
		    s_ingest(rep[k], h, idx, h->n, counts) == 0;
		if (ok) {
			CHECK_EQ_UINT(counts[INGEST_APPLIED], h->n_valid);
			CHECK_EQ_UINT(counts[INGEST_QUARANTINED], h->n_invalid);
			s_snapshot(rep[k], &snap[k]);
		}
	}
	if (ok) {
		size_t counts[3] = { 0, 0, 0 };

		for (i = 0; i < h->n; i++)
			idx[i] = i;
		if (s_ingest(rep[0], h, idx, h->n, counts) == 0) {
			CHECK_EQ_UINT(counts[INGEST_DUPLICATE], h->n);
			s_snapshot(rep[0], &again);
			ok = s_same(&snap[0], &again, "in-order",
			    "in-order twice");
		} else {
			ok = 0;
		}
		ok = s_same(&snap[0], &snap[1], names[0], names[1]) && ok;
		ok = s_same(&snap[0], &snap[2], names[0], names[2]) && ok;
	}
	for (k = 0; k < 3; k++) {
		if (k > 0 || !ok)
			store_close(&rep[k]);
		s_snapshot_free(&snap[k]);
	}
	s_snapshot_free(&again);
	free(idx);
	return rep[0];
}

/* v as sorted compact JSON (caller frees), or NULL for NULL; takes v. */
static char *
s_dump(json_t *v)
{
	char *s = v ? json_dumps(v, JSON_SORT_KEYS | JSON_COMPACT) : NULL;

	json_decref(v);
	return s;
}

/* The number of alerts of kind about subject. */
static int
s_alerts(store_t *st, const char *kind, const char *subject)
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

/* LWW per field: the later (hlc, origin) wins, a tie goes to the greater
 * origin, and fields not written keep their own winner. */
TEST(rule_lww_field_later_hlc_wins_tie_to_greater_origin)
{
	history_t h = { 0 };
	store_t *st;
	json_t *c;

	s_add(&h, "S001", 1, s_t(1, 0), CUSTOMER_ENTITY, "C-1", "create",
	    json_pack("{s:{s:s, s:s}}", "set", "name", "Ann", "phone", "111"),
	    1);
	s_add(&h, "S002", 1, s_t(3, 0), CUSTOMER_ENTITY, "C-1", "update",
	    json_pack("{s:{s:s}}", "set", "name", "Bea"), 1);
	s_add(&h, "W001", 1, s_t(3, 0), CUSTOMER_ENTITY, "C-1", "update",
	    json_pack("{s:{s:s, s:s}}", "set", "name", "Cat", "tier", "vip"),
	    1);
	s_add(&h, "S001", 2, s_t(2, 5), CUSTOMER_ENTITY, "C-1", "update",
	    json_pack("{s:{s:s, s:s}}", "set", "name", "Dee", "tier", "member"),
	    1);
	s_add(&h, "HQ", 1, s_t(4, 0), CUSTOMER_ENTITY, "C-1", "update",
	    json_pack("{s:{s:n}}", "set", "phone"), 1);
	if ((st = s_rule_run(&h)) != NULL) {
		c = t_get(st, customer_get, "C-1");
		CHECK_STR(json_string_value(json_object_get(c, "name")), "Cat");
		CHECK_STR(json_string_value(json_object_get(c, "tier")), "vip");
		CHECK(json_is_null(json_object_get(c, "phone")));
		CHECK_STR(json_string_value(json_object_get(c, "site")),
		    "S001");
		json_decref(c);
		store_close(&st);
	}
	s_history_free(&h);
}

/* Add-wins OR-set: a remove takes only the add instances it names, so an
 * add it had not seen survives; a tag whose every add was seen goes. */
TEST(rule_or_set_concurrent_add_survives_remove)
{
	history_t h = { 0 };
	store_t *st;
	char *tags;

	s_add(&h, "S001", 1, s_t(1, 0), CUSTOMER_ENTITY, "C-2", "create",
	    json_pack("{s:{s:s}, s:[s, s]}", "set", "name", "Eve", "tags_add",
		"vip-club", "promo"),
	    1);
	s_add(&h, "S002", 1, s_t(2, 0), CUSTOMER_ENTITY, "C-2", "update",
	    json_pack("{s:[s]}", "tags_add", "vip-club"), 1);
	s_add(&h, "W001", 1, s_t(2, 0), CUSTOMER_ENTITY, "C-2", "update",
	    json_pack("{s:[{s:s, s:[[s, i]]}, {s:s, s:[[s, i]]}]}",
		"tags_remove", "tag", "vip-club", "adds", "S001", 1, "tag",
		"promo", "adds", "S001", 1),
	    1);
	/* A remove naming an add that never happened removes nothing. */
	s_add(&h, "W001", 2, s_t(3, 0), CUSTOMER_ENTITY, "C-2", "update",
	    json_pack("{s:[s], s:[{s:s, s:[[s, i]]}]}", "tags_add",
		"newsletter", "tags_remove", "tag", "newsletter", "adds",
		"W001", 1),
	    1);
	if ((st = s_rule_run(&h)) != NULL) {
		json_t *c = t_get(st, customer_get, "C-2");

		tags = s_dump(json_incref(json_object_get(c, "tags")));
		json_decref(c);
		CHECK_STR(tags, "[\"newsletter\",\"vip-club\"]");
		free(tags);
		store_close(&st);
	}
	s_history_free(&h);
}

/* Points are a counter: the sum of every delta, whatever the order. */
TEST(rule_points_are_the_sum_of_deltas)
{
	history_t h = { 0 };
	store_t *st;
	json_t *c;

	s_add(&h, "S001", 1, s_t(1, 0), CUSTOMER_ENTITY, "C-3", "create",
	    json_pack("{s:{s:s}, s:i}", "set", "name", "Fay", "points_delta",
		100),
	    1);
	s_add(&h, "S002", 1, s_t(2, 0), CUSTOMER_ENTITY, "C-3", "update",
	    json_pack("{s:i}", "points_delta", -30), 1);
	s_add(&h, "W001", 1, s_t(2, 0), CUSTOMER_ENTITY, "C-3", "update",
	    json_pack("{s:i}", "points_delta", 5), 1);
	s_add(&h, "S001", 2, s_t(3, 0), CUSTOMER_ENTITY, "C-3", "update",
	    json_pack("{s:i}", "points_delta", 7), 1);
	if ((st = s_rule_run(&h)) != NULL) {
		c = t_get(st, customer_get, "C-3");
		CHECK_EQ_INT(json_integer_value(json_object_get(c, "points")),
		    82);
		json_decref(c);
		store_close(&st);
	}
	s_history_free(&h);
}

/* Order status is a max-register: a cancellation concurrent with a shipment
 * resolves to shipped (even with the later clock) and raises the alert; a
 * plain cancellation raises none. */
TEST(rule_order_status_max_register_shipped_beats_cancelled)
{
	history_t h = { 0 };
	store_t *st;
	json_t *o, *a;

	s_add(&h, "S001", 1, s_t(1, 0), ORDER_ENTITY, "O-1", "create",
	    json_pack("{s:s, s:s, s:s, s:s, s:s, s:[{s:s, s:i, s:i}]}", "site",
		"S001", "channel", "online", "currency", "CNY", "fulfil_site",
		"W001", "status", "confirmed", "lines", "sku", "SKU-A", "qty",
		2, "unit_price", 500),
	    1);
	s_add(&h, "W001", 1, s_t(2, 0), ORDER_ENTITY, "O-1", "transition",
	    json_pack("{s:s}", "to", "allocated"), 1);
	s_add(&h, "W001", 2, s_t(4, 0), ORDER_ENTITY, "O-1", "transition",
	    json_pack("{s:s, s:s}", "to", "shipped", "tracking", "SF1"), 1);
	s_add(&h, "S001", 2, s_t(5, 0), ORDER_ENTITY, "O-1", "transition",
	    json_pack("{s:s, s:s}", "to", "cancelled", "reason", "asked"), 1);
	s_add(&h, "S002", 1, s_t(1, 0), ORDER_ENTITY, "O-2", "create",
	    json_pack("{s:s, s:s, s:s, s:s, s:s, s:[{s:s, s:i, s:i}]}", "site",
		"S002", "channel", "store", "currency", "CNY", "fulfil_site",
		"S002", "status", "draft", "lines", "sku", "SKU-B", "qty", 1,
		"unit_price", 300),
	    1);
	s_add(&h, "S002", 2, s_t(2, 0), ORDER_ENTITY, "O-2", "transition",
	    json_pack("{s:s}", "to", "cancelled"), 1);
	if ((st = s_rule_run(&h)) != NULL) {
		o = t_get(st, order_get, "O-1");
		CHECK_STR(json_string_value(json_object_get(o, "status")),
		    "shipped");
		CHECK_EQ_INT(json_array_size(json_object_get(o, "history")), 4);
		CHECK_EQ_INT(json_integer_value(json_object_get(o, "total")),
		    1000);
		json_decref(o);
		o = t_get(st, order_get, "O-2");
		CHECK_STR(json_string_value(json_object_get(o, "status")),
		    "cancelled");
		json_decref(o);
		CHECK_EQ_INT(s_alerts(st, "conflicting_transition", "O-1"), 1);
		CHECK_EQ_INT(s_alerts(st, "conflicting_transition", "O-2"), 0);
		a = t_list_where(st, alert_list, "kind",
		    "conflicting_transition");
		o = json_array_get(json_object_get(a, "items"), 0);
		CHECK_STR(json_string_value(json_object_get(o, "id")),
		    "conflicting_transition:S001:O-1");
		CHECK_STR(json_string_value(json_object_get(o, "message")),
		    "order O-1 was cancelled at S001 but shipped at W001: goods "
		    "left, open a return if needed");
		json_decref(a);
		store_close(&st);
	}
	s_history_free(&h);
}

/* On-hand is a PN-counter over the movements that win their id: it goes
 * negative after a merge (no sale refused) and raises negative_stock. Two
 * claims of one id with equal clocks: the lower origin's is the movement. */
TEST(rule_stock_pn_counter_goes_negative_with_alert)
{
	history_t h = { 0 };
	store_t *st;
	json_t *l, *a, *it, *q;

	s_add(&h, "S001", 1, s_t(1, 0), STOCK_ENTITY, "M-1", "add",
	    json_pack("{s:s, s:s, s:i, s:s}", "site", "S001", "sku", "SKU-A",
		"delta", 5, "reason", "receipt"),
	    1);
	s_add(&h, "S001", 2, s_t(2, 0), STOCK_ENTITY, "M-2", "add",
	    json_pack("{s:s, s:s, s:i, s:s}", "site", "S001", "sku", "SKU-A",
		"delta", -3, "reason", "sale"),
	    1);
	s_add(&h, "S002", 1, s_t(2, 0), STOCK_ENTITY, "M-3", "add",
	    json_pack("{s:s, s:s, s:i, s:s}", "site", "S001", "sku", "SKU-A",
		"delta", -4, "reason", "sale"),
	    1);
	s_add(&h, "W001", 1, s_t(3, 0), STOCK_ENTITY, "MV-X", "add",
	    json_pack("{s:s, s:s, s:i, s:s}", "site", "S001", "sku", "SKU-A",
		"delta", -2, "reason", "adjustment"),
	    1);
	s_add(&h, "S002", 2, s_t(3, 0), STOCK_ENTITY, "MV-X", "add",
	    json_pack("{s:s, s:s, s:i, s:s}", "site", "S001", "sku", "SKU-A",
		"delta", -9, "reason", "adjustment"),
	    1);
	s_add(&h, "S002", 3, s_t(4, 0), STOCK_ENTITY, "M-4", "add",
	    json_pack("{s:s, s:s, s:i, s:s}", "site", "S002", "sku", "SKU-B",
		"delta", 4, "reason", "receipt"),
	    1);
	if ((st = s_rule_run(&h)) != NULL) {
		q = json_pack("{s:s, s:s}", "site", "S001", "sku", "SKU-A");
		l = t_list(st, stock_list, q);
		json_decref(q);
		CHECK_EQ_INT(json_integer_value(json_object_get(
				 json_array_get(json_object_get(l, "items"), 0),
				 "on_hand")),
		    -11);
		json_decref(l);
		CHECK_EQ_INT(
		    store_query_int(st,
			store_stmt(st,
			    "SELECT count(*) FROM stock_movements WHERE id = 'MV-X' "
			    "AND origin = 'S002' AND delta = -9"),
			-1),
		    1);
		a = t_list_where(st, alert_list, "kind", "negative_stock");
		CHECK_EQ_INT(json_array_size(json_object_get(a, "items")), 1);
		it = json_array_get(json_object_get(a, "items"), 0);
		CHECK_STR(json_string_value(json_object_get(it, "id")),
		    "negative_stock:S001:SKU-A");
		CHECK_STR(json_string_value(json_object_get(it, "message")),
		    "S001 SKU-A on hand -11: more sold than recorded, count it");
		json_decref(a);
		store_close(&st);
	}
	s_history_free(&h);
}

/* Paid is the sum of payments; two refunds written concurrently can take it
 * below zero, which only the merge shows: over_refund. */
TEST(rule_payments_sum_and_concurrent_refunds_raise_over_refund)
{
	history_t h = { 0 };
	store_t *st;
	json_t *o, *a, *it;

	s_add(&h, "S001", 1, s_t(1, 0), ORDER_ENTITY, "O-3", "create",
	    json_pack("{s:s, s:s, s:s, s:s, s:s, s:[{s:s, s:i, s:i}]}", "site",
		"S001", "channel", "store", "currency", "CNY", "fulfil_site",
		"S001", "status", "completed", "lines", "sku", "SKU-B", "qty",
		1, "unit_price", 1000),
	    1);
	s_add(&h, "S001", 2, s_t(2, 0), PAYMENT_ENTITY, "P-1", "add",
	    json_pack("{s:s, s:s, s:i, s:s, s:s}", "order", "O-3", "method",
		"card", "amount", 1000, "currency", "CNY", "site", "S001"),
	    1);
	s_add(&h, "S001", 3, s_t(3, 0), PAYMENT_ENTITY, "P-2", "add",
	    json_pack("{s:s, s:s, s:i, s:s, s:s}", "order", "O-3", "method",
		"card", "amount", -600, "currency", "CNY", "site", "S001"),
	    1);
	s_add(&h, "S002", 1, s_t(3, 0), PAYMENT_ENTITY, "P-3", "add",
	    json_pack("{s:s, s:s, s:i, s:s, s:s}", "order", "O-3", "method",
		"cash", "amount", -700, "currency", "CNY", "site", "S002"),
	    1);
	s_add(&h, "S002", 2, s_t(4, 0), ORDER_ENTITY, "O-4", "create",
	    json_pack("{s:s, s:s, s:s, s:s, s:s, s:[{s:s, s:i, s:i}]}", "site",
		"S002", "channel", "store", "currency", "CNY", "fulfil_site",
		"S002", "status", "completed", "lines", "sku", "SKU-C", "qty",
		2, "unit_price", 250),
	    1);
	s_add(&h, "S002", 3, s_t(5, 0), PAYMENT_ENTITY, "P-4", "add",
	    json_pack("{s:s, s:s, s:i, s:s, s:s}", "order", "O-4", "method",
		"cash", "amount", 500, "currency", "CNY", "site", "S002"),
	    1);
	s_add(&h, "S001", 4, s_t(5, 0), PAYMENT_ENTITY, "P-5", "add",
	    json_pack("{s:s, s:s, s:i, s:s, s:s}", "order", "O-4", "method",
		"cash", "amount", -200, "currency", "CNY", "site", "S001"),
	    1);
	if ((st = s_rule_run(&h)) != NULL) {
		o = t_get(st, order_get, "O-3");
		CHECK_EQ_INT(json_integer_value(json_object_get(o, "paid")),
		    -300);
		CHECK_EQ_INT(json_integer_value(json_object_get(o, "balance")),
		    1300);
		json_decref(o);
		o = t_get(st, order_get, "O-4");
		CHECK_EQ_INT(json_integer_value(json_object_get(o, "paid")),
		    300);
		json_decref(o);
		a = t_list_where(st, alert_list, "kind", "over_refund");
		CHECK_EQ_INT(json_array_size(json_object_get(a, "items")), 1);
		it = json_array_get(json_object_get(a, "items"), 0);
		CHECK_STR(json_string_value(json_object_get(it, "subject")),
		    "O-3");
		CHECK_STR(json_string_value(json_object_get(it, "message")),
		    "order O-3 refunded 300 more than was paid");
		json_decref(a);
		store_close(&st);
	}
	s_history_free(&h);
}

/* Head-office data is LWW per record: the later write of the price, the
 * product and the safety stock is what every replica shows. */
TEST(rule_head_office_price_product_safety_stock_last_writer_wins)
{
	history_t h = { 0 };
	store_t *st;
	char *got;
	json_t *a, *it;

	s_add(&h, "HQ", 1, s_t(1, 0), PRICE_ENTITY, "retail/SKU-A", "set",
	    json_pack("{s:s, s:s, s:i, s:s}", "tier", "retail", "sku", "SKU-A",
		"amount", 100, "currency", "CNY"),
	    1);
	s_add(&h, "HQ", 2, s_t(2, 0), PRICE_ENTITY, "retail/SKU-A", "set",
	    json_pack("{s:s, s:s, s:i, s:s}", "tier", "retail", "sku", "SKU-A",
		"amount", 120, "currency", "CNY"),
	    1);
	s_add(&h, "HQ", 3, s_t(3, 0), PRODUCT_ENTITY, "SKU-A", "set",
	    json_pack("{s:s}", "name", "Tea v1"), 1);
	s_add(&h, "HQ", 4, s_t(4, 0), PRODUCT_ENTITY, "SKU-A", "set",
	    json_pack("{s:s, s:s, s:b}", "name", "Tea v2", "unit", "box",
		"active", 0),
	    1);
	s_add(&h, "HQ", 5, s_t(5, 0), SAFETY_ENTITY, "S001/SKU-A", "set",
	    json_pack("{s:s, s:s, s:i}", "site", "S001", "sku", "SKU-A", "qty",
		10),
	    1);
	s_add(&h, "HQ", 6, s_t(6, 0), SAFETY_ENTITY, "S001/SKU-A", "set",
	    json_pack("{s:s, s:s, s:i}", "site", "S001", "sku", "SKU-A", "qty",
		3),
	    1);
	s_add(&h, "HQ", 7, s_t(7, 0), PRICE_ENTITY, "member/SKU-A", "set",
	    json_pack("{s:s, s:s, s:i, s:s}", "tier", "member", "sku", "SKU-A",
		"amount", 90, "currency", "CNY"),
	    1);
	if ((st = s_rule_run(&h)) != NULL) {
		got = s_dump(t_list_where(st, catalog_prices, "sku", "SKU-A"));
		CHECK_STR(got,
		    "{\"items\":[{\"amount\":90,\"currency\":\"CNY\","
		    "\"sku\":\"SKU-A\",\"tier\":\"member\"},{\"amount\":120,"
		    "\"currency\":\"CNY\",\"sku\":\"SKU-A\",\"tier\":\"retail\"}]}");
		free(got);
		got = s_dump(t_list(st, catalog_products, NULL));
		CHECK_STR(got,
		    "{\"items\":[{\"active\":false,\"name\":\"Tea v2\","
		    "\"sku\":\"SKU-A\",\"unit\":\"box\"}]}");
		free(got);
		a = t_list_where(st, alert_list, "kind", "low_stock");
		it = json_array_get(json_object_get(a, "items"), 0);
		CHECK_STR(json_string_value(json_object_get(it, "message")),
		    "S001 SKU-A available 0, below the safety stock 3");
		json_decref(a);
		store_close(&st);
	}
	s_history_free(&h);
}

/* Refused ops are quarantined with the same exact reason everywhere, never
 * applied, and do not block the ops behind them. */
TEST(rule_invalid_ops_quarantined_with_exact_reasons)
{
	history_t h = { 0 };
	store_t *st;
	text_t t = { NULL, 0, 0 };
	char *got;

	s_add(&h, "S001", 1, s_t(1, 0), STOCK_ENTITY, "M-9", "add",
	    json_pack("{s:s, s:s, s:i, s:s}", "site", "S001", "sku", "SKU-A",
		"delta", 0, "reason", "count"),
	    0);
	s_add(&h, "S001", 2, hlc_pack(WALL0 + 400000, 0), STOCK_ENTITY, "M-10",
	    "add",
	    json_pack("{s:s, s:s, s:i, s:s}", "site", "S001", "sku", "SKU-A",
		"delta", 1, "reason", "receipt"),
	    0);
	s_add(&h, "S001", 3, s_t(3, 0), STOCK_ENTITY, "M-11", "add",
	    json_pack("{s:s, s:s, s:i, s:s}", "site", "S001", "sku", "SKU-A",
		"delta", 2, "reason", "receipt"),
	    1);
	s_add(&h, "S002", 1, s_t(1, 0), "widget", "W-1", "add", json_object(),
	    0);
	s_add(&h, "S002", 2, s_t(2, 0), ORDER_ENTITY, "O-1", "transition",
	    json_pack("{s:s}", "to", "teleported"), 0);
	s_add(&h, "W001", 1, s_t(2, 0), CUSTOMER_ENTITY, "C-1", "update",
	    json_pack("{s:{s:s}}", "set", "tier", "platinum"), 0);
	if ((st = s_rule_run(&h)) != NULL) {
		s_dump_sql(st,
		    "SELECT origin, seq, reason FROM quarantine "
		    "ORDER BY origin, seq",
		    &t);
		got = s_text_take(&t);
		CHECK_STR(got,
		    "'S001'|1|'apply op S001/1: stock movement M-9: delta: must be "
		    "non-zero and within ±1000000000'\n"
		    "'S001'|2|'apply op S001/2: clock 400000 ms ahead (max 300000 "
		    "ms)'\n"
		    "'S002'|1|'apply op S002/1: unknown entity 'widget''\n"
		    "'S002'|2|'apply op S002/2: order O-1: to: 'teleported' is not "
		    "an order status'\n"
		    "'W001'|1|'apply op W001/1: customer C-1: tier: 'platinum' is "
		    "not one of retail, member, vip, wholesale'\n");
		free(got);
		CHECK_EQ_INT(s_alerts(st, "quarantined", NULL), 5);
		CHECK_EQ_INT(store_query_int(st,
				 store_stmt(st, "SELECT count(*) FROM op_log"),
				 -1),
		    1);
		CHECK_EQ_INT(store_query_int(st,
				 store_stmt(st,
				     "SELECT count(*) FROM customers"),
				 -1),
		    0);
		store_close(&st);
	}
	s_history_free(&h);
}

/* A movement id claimed at two sites: the losing claim must leave nothing,
 * not even an on-hand row of 0, whichever claim arrived first. */
TEST(rule_losing_movement_claim_leaves_no_row)
{
	history_t h = { 0 };
	store_t *st;
	char *got;

	s_add(&h, "S001", 1, s_t(1, 0), STOCK_ENTITY, "MV-1", "add",
	    json_pack("{s:s, s:s, s:i, s:s}", "site", "S001", "sku", "SKU-A",
		"delta", 5, "reason", "receipt"),
	    1);
	s_add(&h, "S002", 1, s_t(2, 0), STOCK_ENTITY, "MV-1", "add",
	    json_pack("{s:s, s:s, s:i, s:s}", "site", "S002", "sku", "SKU-B",
		"delta", 3, "reason", "receipt"),
	    1);
	if ((st = s_rule_run(&h)) != NULL) {
		got = s_dump(t_list(st, stock_list, NULL));
		CHECK_STR(got,
		    "{\"items\":[{\"available\":5,\"on_hand\":5,"
		    "\"reserved\":0,\"site\":\"S001\",\"sku\":\"SKU-A\"}]}");
		free(got);
		store_close(&st);
	}
	s_history_free(&h);
}

/* ---- creates that clash: the same record at every replica ----
 * Each history runs in order, reversed and shuffled (s_rule_run), so the
 * winner below is the rule's, not the arrival order's. */

/* Two creates of one order id with equal clocks (two tills given the same
 * client id at once), and a transition of a third site at that same clock:
 * the lower origin's create defines the order (S002 over W001), however
 * the transition sorts. */
TEST(order_create_tie_with_same_clock_transition)
{
	history_t h = { 0 };
	store_t *st;
	json_t *o;

	s_add(&h, "W001", 1, s_t(1, 0), ORDER_ENTITY, "O-T", "create",
	    json_pack("{s:s, s:s, s:s, s:s, s:s, s:[{s:s, s:i, s:i}]}", "site",
		"W001", "channel", "online", "currency", "CNY", "fulfil_site",
		"W001", "status", "draft", "lines", "sku", "SKU-A", "qty", 1,
		"unit_price", 100),
	    1);
	s_add(&h, "S001", 1, s_t(1, 0), ORDER_ENTITY, "O-T", "transition",
	    json_pack("{s:s}", "to", "confirmed"), 1);
	s_add(&h, "S002", 1, s_t(1, 0), ORDER_ENTITY, "O-T", "create",
	    json_pack("{s:s, s:s, s:s, s:s, s:s, s:[{s:s, s:i, s:i}]}", "site",
		"S002", "channel", "store", "currency", "CNY", "fulfil_site",
		"S002", "status", "draft", "lines", "sku", "SKU-B", "qty", 2,
		"unit_price", 300),
	    1);
	if ((st = s_rule_run(&h)) != NULL) {
		o = t_get(st, order_get, "O-T");
		CHECK_STR(json_string_value(json_object_get(o, "site")),
		    "S002");
		CHECK_EQ_INT(json_integer_value(json_object_get(o, "total")),
		    600);
		json_decref(o);
		store_close(&st);
	}
	s_history_free(&h);
}

/* Two creates of one case id with equal clocks: the lower origin's defines
 * the case (site, kind, description, lines). */
TEST(case_create_tie_goes_to_the_lower_origin)
{
	history_t h = { 0 };
	store_t *st;
	json_t *c;

	s_add(&h, "S001", 1, s_t(1, 0), CASE_ENTITY, "K-T", "create",
	    json_pack("{s:s, s:s, s:[{s:s, s:i}]}", "kind", "return", "site",
		"S001", "lines", "sku", "SKU-A", "qty", 1),
	    1);
	s_add(&h, "S002", 1, s_t(1, 0), CASE_ENTITY, "K-T", "create",
	    json_pack("{s:s, s:s}", "kind", "complaint", "site", "S002"), 1);
	if ((st = s_rule_run(&h)) != NULL) {
		c = t_get(st, case_get, "K-T");
		CHECK_STR(json_string_value(json_object_get(c, "site")),
		    "S001");
		CHECK_STR(json_string_value(json_object_get(c, "kind")),
		    "return");
		json_decref(c);
		store_close(&st);
	}
	s_history_free(&h);
}

/* Two creates of one customer id with equal clocks: the lower origin is
 * the creating site. */
TEST(customer_create_tie_goes_to_the_lower_origin)
{
	history_t h = { 0 };
	store_t *st;
	json_t *c;

	s_add(&h, "S001", 1, s_t(1, 0), CUSTOMER_ENTITY, "C-T", "create",
	    json_pack("{s:{s:s}}", "set", "name", "Gus"), 1);
	s_add(&h, "S002", 1, s_t(1, 0), CUSTOMER_ENTITY, "C-T", "create",
	    json_pack("{s:{s:s}}", "set", "phone", "222"), 1);
	if ((st = s_rule_run(&h)) != NULL) {
		c = t_get(st, customer_get, "C-T");
		CHECK_STR(json_string_value(json_object_get(c, "site")),
		    "S001");
		json_decref(c);
		store_close(&st);
	}
	s_history_free(&h);
}

/* Two creates of one invoice id (invoice_create takes a client id; a site
 * restored from a backup re-issues its numbers): the earlier clock's
 * defines the invoice (order, amount, site, due date) at every replica. */
TEST(invoice_create_clash_goes_to_the_earlier_clock)
{
	history_t h = { 0 };
	store_t *st;
	json_t *inv;

	s_add(&h, "S001", 1, s_t(1, 0), INVOICE_ENTITY, "INV-T", "create",
	    json_pack("{s:s, s:s, s:i, s:s, s:i}", "order", "O-1", "site",
		"S001", "amount", 100, "currency", "CNY", "due_days", 30),
	    1);
	s_add(&h, "S002", 1, s_t(2, 0), INVOICE_ENTITY, "INV-T", "create",
	    json_pack("{s:s, s:s, s:i, s:s, s:i}", "order", "O-2", "site",
		"S002", "amount", 900, "currency", "CNY", "due_days", 0),
	    1);
	if ((st = s_rule_run(&h)) != NULL) {
		inv = t_get(st, invoice_get, "INV-T");
		CHECK_EQ_INT(json_integer_value(json_object_get(inv, "amount")),
		    100);
		json_decref(inv);
		store_close(&st);
	}
	s_history_free(&h);
}

/* A remote customer op setting tier to null is refused by the rule, so it
 * is quarantined like any bad op. Were it to reach the NOT NULL of
 * customers.tier it would be a storage failure: the whole batch rolled
 * back and retried for ever, blocking its origin's ops behind it. A local
 * PATCH {"tier": null} is a 400. */
TEST(customer_tier_null_is_quarantined_not_a_storage_failure)
{
	history_t h = { 0 };
	store_t *st = s_open(harness_tmpdir(), "R1");
	ingest_result_t res = INGEST_DUPLICATE;
	err_t err;
	int rc;

	REQUIRE(st != NULL);
	s_add(&h, "W001", 1, s_t(1, 0), CUSTOMER_ENTITY, "C-1", "update",
	    json_pack("{s:{s:n}}", "set", "tier"), 0);
	s_add(&h, "W001", 2, s_t(2, 0), CUSTOMER_ENTITY, "C-1", "update",
	    json_pack("{s:{s:s}}", "set", "name", "Hal"), 1);
	REQUIRE(store_begin(st, &err) == 0);
	err_clear(&err);
	rc = store_ingest(st, &h.ops[0].op, h.ops[0].body, h.ops[0].len, &res,
	    &err);
	CHECK_MSG(rc == 0 && res == INGEST_QUARANTINED,
	    "ingest W001/1: rc %d, result %d: %s", rc, (int)res, err.msg);
	if (rc == 0) {
		rc = store_ingest(st, &h.ops[1].op, h.ops[1].body, h.ops[1].len,
		    &res, &err);
		CHECK_MSG(rc == 0 && res == INGEST_APPLIED,
		    "ingest W001/2: rc %d, result %d: %s", rc, (int)res,
		    err.msg);
	}
	if (rc == 0)
		CHECK_EQ_INT(store_commit(st, &err), 0);
	else
		store_rollback(st);
	store_close(&st);
	s_history_free(&h);
}

/* The random property again with creates of customers, orders, invoices
 * and cases that reuse existing ids, some by two origins at one clock
 * value; fails on the bugs above. */
TEST(all_entities_converge_when_creates_reuse_ids)
{
	s_converge(
	    CLASH_CUSTOMERS | CLASH_ORDERS | CLASH_INVOICES | CLASH_CASES);
}
