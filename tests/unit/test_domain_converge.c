/*
 * test_domain_converge: every entity's merge rule converges, whatever the
 * order, on one random history over all entities at once.
 *
 * A generator makes a few thousand ops from S001, S002, W001 and HQ (each
 * with its own seq and hybrid clock; clocks interleave and sometimes tie
 * across origins), every one written by whom the ownership rules let
 * write it (own.h): stock movements of each site's own stock (some ids
 * recorded again by their site, some returns naming an order the site is
 * no party to, its own business), customers (created under their site's
 * ids, their shared fields changed anywhere: LWW fields, add-wins tags
 * with the add instances the writer had seen, points), head-office
 * products, prices and safety stock, orders and their transitions by the
 * party that makes each (the creator or head office confirms and cancels,
 * the fulfilling site ships; cancelled against shipped included) with the
 * sale and restock movements the fulfilling site records once it sees
 * them, payments and refunds and invoices by the order's parties, after-
 * sales cases with the return movements their site records at their
 * completion; a few ops every replica must quarantine; the forgeries of
 * the ownership issue, which every replica must quarantine too, the same
 * reason everywhere (a move of an order by a site that may not make it, a
 * payment on an order of a site no party to it, another site's stock
 * moved, a create under another site's id with a clock that would win,
 * the receipt of a transfer sent elsewhere, another site's case or
 * invoice changed, a move of an order that never comes); and, played on
 * purpose, the races of issue 10: a cancellation that loses to a
 * completion, one that wins over a till's confirmation, one sale returned
 * by two of its parties, one order paid in full by two. Four replicas
 * take their canonical bytes in four random orders with random
 * duplicates, two of them first in partial subsets; an op that arrives
 * before the order it needs waits for it and is taken up again once the
 * order is held, as the daemons do (domain_harness.h).
 *
 * After every merge (each ingest transaction) of every replica, the merged
 * state must not contradict itself (effect.h): on hand is what the
 * movements count; a sale counts while its order's final status says the
 * goods are out, a restock never once the order is known; returns count
 * oldest first up to what their order sold, at most that per order and
 * sku; every order paid over its total has its overpaid alert, and every
 * return beyond what was sold its over_return alert, with their exact
 * texts. At the end every replicated table and every API view
 * (domain_harness.h's snapshot) must be byte-identical, and equal to a
 * model for on-hand (effects included), points, order status and the
 * quarantine; every order's sales take out what its final status says;
 * ingesting everything again must change nothing.
 *
 * The second test runs the same property with creates that reuse existing
 * ids: a site's own again (the earliest still defines the record), and
 * another site's, some at the same clock value, some at a clock that would
 * win: forgeries, refused everywhere. Before ownership it found the
 * clashing-create bugs of test_domain_customer.c, test_domain_order.c and
 * test_domain_case.c.
 *
 * A failure names the table or view that differs, its first differing line
 * and the seed; BL_SEED=N replays it.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aftersales.h"
#include "alert.h"
#include "catalog.h"
#include "customer.h"
#include "domain_harness.h"
#include "domain_read.h"
#include "effect.h"
#include "harness.h"
#include "hlc.h"
#include "invoice.h"
#include "lifecycle.h"
#include "op.h"
#include "order.h"
#include "own.h"
#include "payment.h"
#include "stock.h"
#include "store.h"
#define N_OPS 3200 /* ops of the random history */
#define N_ORIGINS 4
#define N_REPLICAS 4
#define HQ 3		  /* index of the head-office origin */
#define N_SHARED_MOVES 30 /* movement ids several origins may claim */
#define N_SHARED_PAYS 12  /* payment ids several origins may claim */

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

/* Which creates may reuse the id of an existing record, as a till given a
 * used client id would: the site's own (a later create of its own id,
 * which changes nothing of what the earliest defines) or another site's,
 * a forgery every replica refuses (own.h). */
#define CLASH_CUSTOMERS 1
#define CLASH_ORDERS 2
#define CLASH_INVOICES 4
#define CLASH_CASES 8

/* What a movement is to the order it names (effect.h). */
#define EFF_NONE 0
#define EFF_SALE 1
#define EFF_RESTOCK 2
#define EFF_RETURN 3

/* A valid movement op, for the on-hand model. */
typedef struct {
	char id[OP_KEY_MAX + 1];
	uint64_t hlc;
	int origin;
	int site; /* index into s_origins (a movement at head office: HQ) */
	int sku;
	long long delta;
	int effect; /* EFF_*: EFF_NONE also for a site no party to the order */
	int order;  /* index into orders when effect is not EFF_NONE */
} move_t;

/* What the model knows of an order: the create that defines it (its
 * lowest (hlc, origin)), its parties, and what its fulfilling site has
 * recorded of its goods. */
typedef struct {
	uint64_t hlc;
	int origin;  /* of the defining create, -1 before one */
	int owner;   /* the site whose id it is: its creator */
	int fulfil;  /* its fulfilling site */
	int channel; /* index into s_channels */
	int n;	     /* lines */
	int sku[3];
	int qty[3];
	int sold;	  /* the fulfilling site recorded its sale */
	int restocked;	  /* ... and the restock of its cancellation */
	unsigned reached; /* bit r: some op of the history moved it to rank r */
	long long total;
} gen_order_t;

/* A case as the generator last created it: returns goods (a return or an
 * exchange) or not, of qty x sku (qty 0: no lines), against order (-1:
 * none). */
typedef struct {
	int returns;
	int order;
	int sku;
	int qty;
} gen_case_t;

typedef struct {
	dh_history_t h;
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
	gen_order_t *ord; /* one per orders.v */
	gen_case_t *cas;  /* one per cases.v */
	size_t cap_ord, cap_cas;
} gen_t;

/* The next clock value of origin o: the wall advances with the step, with
 * jitter so that origins interleave, and one time in eight the origin lands
 * exactly on the latest value another origin issued. */
static uint64_t
s_clock(gen_t *g, int o)
{
	uint64_t wall = DH_WALL0 - 3 * DH_HOUR_MS + g->step * 2 +
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
static dh_op_t *
s_emit(gen_t *g, int o, const char *entity, const char *key, const char *kind,
    json_t *fields, int valid)
{
	uint64_t seq = ++g->seq[o];

	return dh_add(&g->h, s_origins[o], seq, s_clock(g, o), entity, key,
	    kind, fields, valid);
}

/* Emits a forgery of origin o with its next seq and a tiny clock, one
 * that would win every (hlc, origin) tie-break of creates: refused
 * everywhere all the same (own.h). fields taken. */
static void
s_forge(gen_t *g, int o, const char *entity, const char *key, const char *kind,
    json_t *fields)
{
	uint64_t seq = ++g->seq[o];

	dh_add(&g->h, s_origins[o], seq, 1 + harness_rand_below(1000), entity,
	    key, kind, fields, 0);
}

/* Now and then, when g->clash has mask, makes another origin create the
 * same record at the same clock value as op (a site trying to take it
 * over): a forgery every replica refuses. */
static void
s_twin(gen_t *g, const dh_op_t *op, int mask)
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
	g->last[o2] = hlc;
	dh_add(&g->h, s_origins[o2], ++g->seq[o2], hlc, entity, key, "create",
	    f, 0);
}

/* A record id of origin o, unique: "S001-O000042". */
static void
s_new_id(gen_t *g, int o, const char *what, char *buf, size_t size)
{
	snprintf(buf, size, "%s-%s%06llu", s_origins[o], what,
	    (unsigned long long)(g->seq[o] + 1));
}

/* The index of origin name in s_origins. */
static int
s_origin_index(const char *name)
{
	int o;

	for (o = 0; o < N_ORIGINS; o++)
		if (strcmp(s_origins[o], name) == 0)
			return o;
	abort();
}

/* The origin whose namespace id is in ("S001-..."). */
static int
s_owner(const char *id)
{
	char site[OP_SITE_MAX + 1];
	size_t n = strcspn(id, "-");

	snprintf(site, sizeof site, "%.*s", (int)n, id);
	return s_origin_index(site);
}

/* Whether origin o is a party to order oi: its creator, its fulfilling
 * site or head office (own.h). */
static int
s_party(const gen_t *g, size_t oi, int o)
{
	return o == g->ord[oi].owner || o == g->ord[oi].fulfil || o == HQ;
}

/* A party to order oi, picked: o when it is one. */
static int
s_a_party(const gen_t *g, size_t oi, int o)
{
	static const int hq = HQ;
	const int pick[3] = { g->ord[oi].owner, g->ord[oi].fulfil, hq };

	return s_party(g, oi, o) ? o : pick[harness_rand_below(3)];
}

/* Who may move order oi to rank (order.c's s_movers): 1 when o may. */
static int
s_may_move(const gen_t *g, size_t oi, int o, int rank)
{
	const gen_order_t *x = &g->ord[oi];
	int creator = o == x->owner || o == HQ;

	if (rank == ORDER_RANK_ALLOCATED || rank == ORDER_RANK_PICKED ||
	    rank == ORDER_RANK_SHIPPED)
		return o == x->fulfil;
	if (rank >= ORDER_RANK_SHIPPED) /* delivered, completed */
		return creator || o == x->fulfil;
	return creator; /* draft, confirmed, cancelled */
}

/* Records valid movement op of origin o for the model. */
static void
s_move_add(gen_t *g, const dh_op_t *op, int o, int site, int sku,
    long long delta, int effect, int order)
{
	move_t *m;

	if (g->n_moves == g->cap_moves) {
		g->cap_moves = g->cap_moves * 2 + 64;
		g->moves = realloc(g->moves, g->cap_moves * sizeof *g->moves);
		if (g->moves == NULL)
			abort();
	}
	m = &g->moves[g->n_moves++];
	snprintf(m->id, sizeof m->id, "%s", op->op.key);
	m->hlc = op->op.hlc;
	m->origin = o;
	m->site = site;
	m->sku = sku;
	m->delta = delta;
	m->effect = effect;
	m->order = order;
}

/* A movement of origin o's own stock under its own id. Now and then an id
 * it records again (a shared one, which names one sku); now and then a
 * return naming an order o is no party to, which is o's own business and
 * counts as written (effect.h). */
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
	int sku = (int)harness_rand_below(N_SKUS);
	json_t *f;
	dh_op_t *op;
	size_t oi;

	if (harness_rand_below(8) == 0) {
		/* A shared id names one sku wherever it is claimed, so that
		 * a claim which loses leaves no row of its own. */
		int k = (int)harness_rand_below(N_SHARED_MOVES);

		snprintf(key, sizeof key, "%s-MV-%02d", s_origins[o], k);
		sku = k % N_SKUS;
	} else {
		s_new_id(g, o, "M", key, sizeof key);
	}
	f = json_pack("{s:s, s:s, s:I, s:s}", "site", s_origins[o], "sku",
	    s_skus[sku], "delta", (json_int_t)delta, "reason",
	    s_reasons[r].name);
	if (g->orders.n > 0 && harness_rand_below(30) == 0 &&
	    !s_party(g, oi = (size_t)harness_rand_below(g->orders.n), o)) {
		json_object_set_new(f, "reason", json_string("return"));
		json_object_set_new(f, "delta",
		    json_integer(delta < 0 ? -delta : delta));
		json_object_set_new(f, "order",
		    json_string(g->orders.v[oi].id));
		delta = delta < 0 ? -delta : delta;
	} else if (harness_rand_below(3) == 0) {
		json_object_set_new(f, "ref", json_string("REF-1"));
	}
	op = s_emit(g, o, STOCK_ENTITY, key, "add", f, 1);
	s_move_add(g, op, o, o, sku, delta, EFF_NONE, -1);
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

/* A customer op of origin o: a create of its own, or a change of any
 * customer's shared fields, tags and points (a member card works at every
 * store). With CLASH_CUSTOMERS a create now and then reuses an existing
 * id: o's own again, or another site's, a forgery refused everywhere. */
static void
s_gen_customer(gen_t *g, int o)
{
	char key[OP_KEY_MAX + 1];
	int create = g->customers.n == 0 || harness_rand_below(4) == 0;
	int valid = 1;
	size_t ci;
	json_t *f = json_object(), *adds = NULL, *rms = NULL;
	int64_t delta = 0;
	dh_op_t *op;
	size_t i;
	int t;

	if (create && (g->clash & CLASH_CUSTOMERS) && g->customers.n > 0 &&
	    harness_rand_below(4) == 0) {
		ci = (size_t)harness_rand_below(g->customers.n);
		valid = s_owner(g->customers.v[ci].id) == o;
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
	if (!valid) {
		/* Another site's id: a forgery, with a clock that would win
		 * the tie-break of creates; nothing of it counts. */
		s_forge(g, o, CUSTOMER_ENTITY, g->customers.v[ci].id, "create",
		    f);
		json_decref(adds);
		return;
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

/* Whether an order of channel in status rank has had its goods leave
 * (effect.h, SPEC §4): a store sale from confirmed on, any other order
 * from shipped on, unless cancelled. The model's own copy of the rule. */
static int
s_left(int channel, int rank)
{
	int cancelled = lifecycle_rank(&lifecycle_order, "cancelled");

	return rank != cancelled &&
	    rank >= lifecycle_rank(&lifecycle_order,
			strcmp(s_channels[channel], "store") == 0 ? "confirmed"
								  : "shipped");
}

/* The create of order oi by origin o at hlc: it defines the order when it
 * is the earliest by (hlc, origin) (store.h's rule for clashing creates). */
static void
s_order_claim(gen_t *g, size_t oi, uint64_t hlc, int o, const gen_order_t *c)
{
	gen_order_t *x = &g->ord[oi];

	if (x->origin >= 0 &&
	    (x->hlc < hlc ||
		(x->hlc == hlc &&
		    strcmp(s_origins[x->origin], s_origins[o]) <= 0)))
		return;
	x->hlc = hlc;
	x->origin = o;
	x->channel = c->channel;
	x->n = c->n;
	memcpy(x->sku, c->sku, sizeof x->sku);
	memcpy(x->qty, c->qty, sizeof x->qty);
	x->total = c->total;
}

/* The movements the fulfilling site of order oi records for every line,
 * as order.c does when it sees the order's goods leave (EFF_SALE) or a
 * cancellation after they had (EFF_RESTOCK): at its own site, under
 * "ORDER-out-N" when the order is its own, else "SITE-ORDER-out-N". */
static void
s_gen_effect(gen_t *g, size_t oi, int effect)
{
	gen_order_t *x = &g->ord[oi];
	const char *id = g->orders.v[oi].id;
	char key[2 * OP_KEY_MAX]; /* the generator's ids are short */
	int l, sign = effect == EFF_SALE ? -1 : 1, f = x->fulfil;
	dh_op_t *op;

	for (l = 0; l < x->n; l++) {
		if (f == x->owner)
			snprintf(key, sizeof key, "%s-%s-%d", id,
			    effect == EFF_SALE ? "out" : "back", l + 1);
		else
			snprintf(key, sizeof key, "%s-%s-%s-%d", s_origins[f],
			    id, effect == EFF_SALE ? "out" : "back", l + 1);
		op = s_emit(g, f, STOCK_ENTITY, key, "add",
		    json_pack("{s:s, s:s, s:I, s:s, s:s}", "site", s_origins[f],
			"sku", s_skus[x->sku[l]], "delta",
			(json_int_t)(sign * x->qty[l]), "reason",
			effect == EFF_SALE ? "sale" : "return", "ref", id),
		    1);
		s_move_add(g, op, f, f, x->sku[l], sign * x->qty[l], effect,
		    (int)oi);
	}
}

/* What order oi's fulfilling site records once it sees an op move the
 * order to rank: its sale when that makes the goods leave, their restock
 * when it cancels an order whose sale it recorded; once each. */
static void
s_fulfil_sees(gen_t *g, size_t oi, int rank)
{
	gen_order_t *x = &g->ord[oi];

	if (!x->sold && s_left(x->channel, rank)) {
		x->sold = 1;
		s_gen_effect(g, oi, EFF_SALE);
	} else if (x->sold && !x->restocked && rank == ORDER_RANK_CANCELLED) {
		x->restocked = 1;
		s_gen_effect(g, oi, EFF_RESTOCK);
	}
}

/* A create of an order of channel in status by origin o, fulfilled at
 * fulfil (-1: any site), of a new id or, when may_reuse and the history
 * reuses ids, of an existing one: o's own again (the same parties), or
 * another site's, a forgery; returns its index in orders. */
static size_t
s_order_create(gen_t *g, int o, int channel, const char *status, int may_reuse,
    int fulfil)
{
	char key[OP_KEY_MAX + 1];
	json_t *f, *lines = json_array();
	rec_t *cust = s_rec_pick(&g->customers), *rec;
	gen_order_t c;
	dh_op_t *op;
	size_t oi;
	int i, reuse = 0;

	memset(&c, 0, sizeof c);
	c.n = 1 + (int)harness_rand_below(3);
	for (i = 0; i < c.n; i++) {
		long long price = 100 + (long long)harness_rand_below(1900);

		c.sku[i] = (int)harness_rand_below(N_SKUS);
		c.qty[i] = 1 + (int)harness_rand_below(5);
		c.total += c.qty[i] * price;
		json_array_append_new(lines,
		    json_pack("{s:s, s:I, s:I}", "sku", s_skus[c.sku[i]], "qty",
			(json_int_t)c.qty[i], "unit_price", (json_int_t)price));
	}
	c.channel = channel;
	if (may_reuse && (g->clash & CLASH_ORDERS) && g->orders.n > 0 &&
	    harness_rand_below(5) == 0) {
		rec = s_rec_pick(&g->orders);
		reuse = 1;
	} else {
		s_new_id(g, o, "O", key, sizeof key);
		rec = s_rec_add(&g->orders, key, -1);
		if (g->orders.n > g->cap_ord) {
			g->cap_ord = g->orders.cap;
			g->ord = realloc(g->ord, g->cap_ord * sizeof *g->ord);
			if (g->ord == NULL)
				abort();
		}
		memset(&g->ord[g->orders.n - 1], 0, sizeof *g->ord);
		g->ord[g->orders.n - 1].origin = -1;
		g->ord[g->orders.n - 1].owner = o;
		g->ord[g->orders.n - 1].fulfil = fulfil >= 0
		    ? fulfil
		    : s_origin_index(PICK(s_sites));
	}
	oi = (size_t)(rec - g->orders.v);
	f = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}", "site", s_origins[o],
	    "channel", s_channels[c.channel], "currency", "CNY", "fulfil_site",
	    s_origins[g->ord[oi].fulfil], "status", status, "lines", lines);
	if (cust != NULL && harness_rand_below(2)) {
		json_object_set_new(f, "customer", json_string(cust->id));
		if (harness_rand_below(3) == 0)
			json_object_set_new(f, "on_account", json_true());
	}
	if (harness_rand_below(4) == 0)
		json_object_set_new(f, "note", json_string("ring twice"));
	if (reuse && g->ord[oi].owner != o) {
		/* Another site's order: a forgery; nothing of it counts. */
		s_forge(g, o, ORDER_ENTITY, rec->id, "create", f);
		return oi;
	}
	g->ord[oi].reached |= 1u << lifecycle_rank(&lifecycle_order, status);
	if (lifecycle_rank(&lifecycle_order, status) > rec->value)
		rec->value = lifecycle_rank(&lifecycle_order, status);
	op = s_emit(g, o, ORDER_ENTITY, rec->id, "create", f, 1);
	s_order_claim(g, oi, op->op.hlc, o, &c);
	s_twin(g, op, CLASH_ORDERS);
	/* A sale taken at the till leaves with its creation. */
	s_fulfil_sees(g, oi, lifecycle_rank(&lifecycle_order, status));
	return oi;
}

static void
s_gen_order_create(gen_t *g, int o)
{
	static const char *const initial[] = { "draft", "confirmed",
		"completed" };
	int channel = (int)harness_rand_below(NELEM(s_channels));

	s_order_create(g, o, channel, PICK(initial), 1, -1);
}

/* A move of order oi to status to by origin o, who may make it (a forged
 * move is s_gen_invalid's), and what its fulfilling site records once it
 * sees it. */
static void
s_order_move(gen_t *g, int o, size_t oi, const char *to)
{
	rec_t *rec = &g->orders.v[oi];
	json_t *f = json_pack("{s:s}", "to", to);
	int rank = lifecycle_rank(&lifecycle_order, to);

	assert(s_may_move(g, oi, o, rank));
	if (strcmp(to, "shipped") == 0 && harness_rand_below(2))
		json_object_set_new(f, "tracking", json_string("SF123"));
	if (strcmp(to, "cancelled") == 0 && harness_rand_below(2))
		json_object_set_new(f, "reason", json_string("customer asked"));
	if (rank > rec->value)
		rec->value = rank;
	g->ord[oi].reached |= 1u << rank;
	s_emit(g, o, ORDER_ENTITY, rec->id, "transition", f, 1);
	s_fulfil_sees(g, oi, rank);
}

/* A move of an order by a party that may make it: mostly o, else whoever
 * makes that move (the fulfilling site ships). */
static void
s_gen_order_transition(gen_t *g, int o)
{
	size_t oi = (size_t)harness_rand_below(g->orders.n);
	uint64_t r = harness_rand_below(10);
	const char *to = r < 3 ? "cancelled"
	    : r < 6
	    ? "shipped"
	    : lifecycle_name(&lifecycle_order,
		  (int)harness_rand_below((uint64_t)lifecycle_order.count));
	int rank = lifecycle_rank(&lifecycle_order, to);

	if (g->ord[oi].origin < 0) /* only forgeries of it so far */
		return;
	if (!s_may_move(g, oi, o, rank))
		o = rank == ORDER_RANK_ALLOCATED || rank == ORDER_RANK_PICKED ||
			rank == ORDER_RANK_SHIPPED
		    ? g->ord[oi].fulfil
		    : harness_rand_below(2) ? g->ord[oi].owner
					    : HQ;
	s_order_move(g, o, oi, to);
}

/* A payment (a refund when amount < 0) of origin o, a party to order oi:
 * under an id of its own, now and then one it records again. */
static void
s_pay(gen_t *g, int o, size_t oi, long long amount)
{
	char key[OP_KEY_MAX + 1];

	assert(s_party(g, oi, o));
	if (harness_rand_below(6) == 0)
		snprintf(key, sizeof key, "%s-PAY-%02d", s_origins[o],
		    (int)harness_rand_below(N_SHARED_PAYS));
	else
		s_new_id(g, o, "P", key, sizeof key);
	s_emit(g, o, PAYMENT_ENTITY, key, "add",
	    json_pack("{s:s, s:s, s:I, s:s, s:s}", "order", g->orders.v[oi].id,
		"method", PICK(s_methods), "amount", (json_int_t)amount,
		"currency", "CNY", "site", s_origins[o]),
	    1);
}

static void
s_gen_payment(gen_t *g, int o)
{
	size_t oi = (size_t)harness_rand_below(g->orders.n);

	s_pay(g, s_a_party(g, oi, o), oi,
	    harness_rand_below(5) == 0
		? -(long long)(100 + harness_rand_below(6000))
		: (long long)(100 + harness_rand_below(5000)));
}

/* An invoice op: a party to an order issues one under its own number,
 * its issuer or head office settles one. With CLASH_INVOICES a create
 * now and then reuses a number: its issuer's own again, or another
 * site's, a forgery. */
static void
s_gen_invoice(gen_t *g, int o)
{
	char key[OP_KEY_MAX + 1];
	size_t oi = (size_t)harness_rand_below(g->orders.n);
	rec_t *rec;
	json_t *f;

	if (g->invoices.n > 0 && harness_rand_below(2) == 0) {
		rec = s_rec_pick(&g->invoices);
		if (o != HQ && s_owner(rec->id) != o)
			o = s_owner(rec->id);
		s_emit(g, o, INVOICE_ENTITY, rec->id, "transition",
		    json_pack("{s:s}", "to", PICK(s_invoice_status)), 1);
		return;
	}
	o = s_a_party(g, oi, o);
	f = json_pack("{s:s, s:s, s:I, s:s, s:I}", "order", g->orders.v[oi].id,
	    "site", s_origins[o], "amount",
	    (json_int_t)(100 + harness_rand_below(9000)), "currency", "CNY",
	    "due_days",
	    (json_int_t)harness_rand_below(3) * harness_rand_below(30));
	if ((g->clash & CLASH_INVOICES) && g->invoices.n > 0 &&
	    harness_rand_below(5) == 0) {
		rec = s_rec_pick(&g->invoices);
		if (s_owner(rec->id) != o) {
			s_forge(g, o, INVOICE_ENTITY, rec->id, "create", f);
			return;
		}
	} else {
		snprintf(key, sizeof key, "%s-INV-%06llu", s_origins[o],
		    (unsigned long long)(g->seq[o] + 1));
		rec = s_rec_add(&g->invoices, key, 0);
	}
	s_emit(g, o, INVOICE_ENTITY, rec->id, "create", f, 1);
}

/* A create by origin o of case kind, against order (-1: none; o must then
 * be a party to it), of qty x sku (qty 0: no lines), of a new id or, when
 * may_reuse and the history reuses ids, of an existing one: o's own again,
 * or another site's, a forgery; returns its index in cases (or -1 for a
 * forgery). */
static long
s_case_open(gen_t *g, int o, const char *kind, int order, int sku, int qty,
    int may_reuse)
{
	char key[OP_KEY_MAX + 1];
	rec_t *rec;
	gen_case_t c = { 0, order, sku, qty };
	json_t *f;

	assert(order < 0 || s_party(g, (size_t)order, o));
	c.returns = strcmp(kind, "return") == 0 ||
	    strcmp(kind, "exchange") == 0;
	f = json_pack("{s:s, s:s}", "kind", kind, "site", s_origins[o]);
	if (order >= 0)
		json_object_set_new(f, "order",
		    json_string(g->orders.v[order].id));
	if (g->customers.n > 0 && harness_rand_below(2))
		json_object_set_new(f, "customer",
		    json_string(s_rec_pick(&g->customers)->id));
	if (harness_rand_below(2))
		json_object_set_new(f, "description",
		    json_string("screen cracked"));
	if (qty > 0)
		json_object_set_new(f, "lines",
		    json_pack("[{s:s, s:I}]", "sku", s_skus[sku], "qty",
			(json_int_t)qty));
	if (may_reuse && (g->clash & CLASH_CASES) && g->cases.n > 0 &&
	    harness_rand_below(5) == 0) {
		rec = s_rec_pick(&g->cases);
		if (s_owner(rec->id) != o) {
			s_forge(g, o, CASE_ENTITY, rec->id, "create", f);
			return -1;
		}
	} else {
		s_new_id(g, o, "K", key, sizeof key);
		rec = s_rec_add(&g->cases, key, 0);
		if (g->cases.n > g->cap_cas) {
			g->cap_cas = g->cases.cap;
			g->cas = realloc(g->cas, g->cap_cas * sizeof *g->cas);
			if (g->cas == NULL)
				abort();
		}
	}
	g->cas[rec - g->cases.v] = c;
	s_twin(g, s_emit(g, o, CASE_ENTITY, rec->id, "create", f, 1),
	    CLASH_CASES);
	return (long)(rec - g->cases.v);
}

/* A move of case ci to status to by the site that opened it; completing a
 * return puts its goods back there, against its order (aftersales.c),
 * which counts them as far as the order sold. */
static void
s_case_move(gen_t *g, size_t ci, const char *to)
{
	const gen_case_t *x = &g->cas[ci];
	const char *id = g->cases.v[ci].id;
	int o = s_owner(id);
	char mid[2 * OP_KEY_MAX]; /* the generator's ids are short */
	json_t *f;
	dh_op_t *op;

	s_emit(g, o, CASE_ENTITY, id, "transition",
	    json_pack("{s:s}", "to", to), 1);
	if (strcmp(to, "completed") != 0 || !x->returns || x->qty == 0)
		return;
	snprintf(mid, sizeof mid, "%s-ret-1", id);
	f = json_pack("{s:s, s:s, s:I, s:s, s:s}", "site", s_origins[o], "sku",
	    s_skus[x->sku], "delta", (json_int_t)x->qty, "reason", "return",
	    "ref", id);
	if (x->order >= 0)
		json_object_set_new(f, "order",
		    json_string(g->orders.v[x->order].id));
	op = s_emit(g, o, STOCK_ENTITY, mid, "add", f, 1);
	s_move_add(g, op, o, o, x->sku, x->qty,
	    x->order >= 0 ? EFF_RETURN : EFF_NONE, x->order);
}

static void
s_gen_case(gen_t *g, int o)
{
	uint64_t r = harness_rand_below(4);
	const char *kind;
	int order = -1, sku = 0, qty = 0;
	size_t ci;
	json_t *f;

	if (g->cases.n == 0 || r == 0) {
		kind = harness_rand_below(2) ? "return" : PICK(s_case_kinds);
		if (g->orders.n > 0 && harness_rand_below(3) != 0) {
			order = (int)(g->orders.n - 1 -
			    harness_rand_below(
				g->orders.n < 6 ? g->orders.n : 6));
			o = s_a_party(g, (size_t)order, o);
		}
		if (harness_rand_below(3) != 0) {
			/* Mostly a sku of the order's. */
			sku = order >= 0 && g->ord[order].n > 0 &&
				harness_rand_below(4) != 0
			    ? g->ord[order].sku[harness_rand_below(
				  (uint64_t)g->ord[order].n)]
			    : (int)harness_rand_below(N_SKUS);
			qty = 1 + (int)harness_rand_below(3);
		}
		s_case_open(g, o, kind, order, sku, qty, 1);
		return;
	}
	/* Mostly one of the latest cases, so that returns are completed
	 * while their orders are recent. */
	ci = harness_rand_below(2) ? (size_t)harness_rand_below(g->cases.n)
				   : g->cases.n - 1 -
		(size_t)harness_rand_below(g->cases.n < 4 ? g->cases.n : 4);
	/* The site that opened it, or head office, changes it. */
	if (o != HQ)
		o = s_owner(g->cases.v[ci].id);
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
		s_emit(g, o, CASE_ENTITY, g->cases.v[ci].id, "update",
		    json_pack("{s:o}", "set", set), 1);
	} else if (r == 2) {
		f = json_pack("{s:s}", "text",
		    harness_rand_below(2) ? "called the customer"
					  : "parts ordered");
		if (harness_rand_below(2))
			json_object_set_new(f, "author", json_string("ana"));
		s_emit(g, o, CASE_ENTITY, g->cases.v[ci].id, "comment", f, 1);
	} else {
		s_case_move(g, ci,
		    harness_rand_below(2) ? "completed" : PICK(s_case_status));
	}
}

/* The races of issue 10, played on purpose (the random mix makes them
 * too rarely to count on): a store a, and b, head office or a site that
 * fulfils a's order, each writing what it knows.
 *   lost cancellation  a's store sale, confirmed: head office completes it
 *                      while a cancels it (a, where the goods left,
 *                      restocking);
 *   won cancellation   a's draft store sale: head office cancels it while
 *                      a's till confirms it (its sale);
 *   double return      a's completed store sale: a returns all but one of
 *                      what it sold of a sku, b all of it, later;
 *   double charge      a's completed store sale paid in full at a and at
 *                      b. */
static void
s_gen_race(gen_t *g)
{
	int a = (int)harness_rand_below(N_SITES);
	int b = (a + 1 + (int)harness_rand_below(N_ORIGINS - 1)) % N_ORIGINS;
	int fb = b == HQ ? a : b; /* b fulfils a's order, or head office */
	size_t oi;
	long c1, c2;
	int sold, l;
	const gen_order_t *x;

	switch (harness_rand_below(4)) {
	case 0:
		oi = s_order_create(g, a, 0, "confirmed", 0, a);
		s_order_move(g, HQ, oi, "completed");
		s_order_move(g, a, oi, "cancelled");
		break;
	case 1:
		oi = s_order_create(g, a, 0, "draft", 0, a);
		s_order_move(g, HQ, oi, "cancelled");
		s_order_move(g, a, oi, "confirmed");
		break;
	case 2:
		oi = s_order_create(g, a, 0, "completed", 0, fb);
		x = &g->ord[oi];
		for (sold = 0, l = 0; l < x->n; l++)
			sold += x->sku[l] == x->sku[0] ? x->qty[l] : 0;
		c1 = s_case_open(g, a, "return", (int)oi, x->sku[0],
		    sold > 1 ? sold - 1 : 1, 0);
		c2 = s_case_open(g, b, "exchange", (int)oi, x->sku[0], sold, 0);
		s_case_move(g, (size_t)c1, "completed");
		g->step += 30; /* b's completion is the later, by the clock */
		s_case_move(g, (size_t)c2, "completed");
		break;
	default:
		oi = s_order_create(g, a, 0, "completed", 0, fb);
		s_pay(g, a, oi, g->ord[oi].total);
		s_pay(g, b, oi, g->ord[oi].total);
		break;
	}
}

/* An origin that is none of the parties to order oi, or -1. */
static int
s_no_party(const gen_t *g, size_t oi)
{
	int o = (int)harness_rand_below(N_ORIGINS), k;

	for (k = 0; k < N_ORIGINS; k++, o = (o + 1) % N_ORIGINS)
		if (!s_party(g, oi, o))
			return o;
	return -1;
}

/* A forgery of origin o every replica must refuse (own.h), each kind for
 * its own reason: a move of an order it may not make, a payment on an
 * order it is no party to, its movement of another site's stock, its
 * create under another site's id with a clock of its own choosing, its
 * receipt of a transfer sent elsewhere, its change of another site's case
 * or invoice, a move of an order that never exists. */
static void
s_gen_forgery(gen_t *g, int o)
{
	char key[OP_KEY_MAX + 1];
	size_t oi = (size_t)harness_rand_below(g->orders.n);
	const char *order = g->orders.v[oi].id;
	int rank, p, other = (o + 1) % N_SITES;

	s_new_id(g, o, "F", key, sizeof key);
	switch (harness_rand_below(9)) {
	case 0: /* a move it may not make */
		rank = (int)harness_rand_below((uint64_t)lifecycle_order.count);
		if (s_may_move(g, oi, o, rank))
			return;
		s_emit(g, o, ORDER_ENTITY, order, "transition",
		    json_pack("{s:s}", "to",
			lifecycle_name(&lifecycle_order, rank)),
		    0);
		break;
	case 1: /* money on an order it is no party to */
		if ((p = s_no_party(g, oi)) < 0)
			return;
		s_new_id(g, p, "F", key, sizeof key);
		s_emit(g, p, PAYMENT_ENTITY, key, "add",
		    json_pack("{s:s, s:s, s:i, s:s, s:s}", "order", order,
			"method", "cash", "amount", -100, "currency", "CNY",
			"site", s_origins[p]),
		    0);
		break;
	case 2: /* another site's stock */
		s_emit(g, o, STOCK_ENTITY, key, "add",
		    json_pack("{s:s, s:s, s:i, s:s}", "site",
			s_sites[other == o ? (other + 1) % N_SITES : other],
			"sku", "SKU-A", "delta", -777, "reason", "adjustment"),
		    0);
		break;
	case 3: /* another site's ids, with a clock that would win */
		snprintf(key, sizeof key, "%s-M%06llu",
		    s_origins[(o + 1) % N_ORIGINS],
		    (unsigned long long)harness_rand_below(1000));
		s_forge(g, o, STOCK_ENTITY, key, "add",
		    json_pack("{s:s, s:s, s:i, s:s}", "site", s_origins[o],
			"sku", "SKU-A", "delta", 500, "reason", "receipt"));
		break;
	case 4:
		snprintf(key, sizeof key, "%s-P%06llu",
		    s_origins[(o + 1) % N_ORIGINS],
		    (unsigned long long)harness_rand_below(1000));
		s_forge(g, o, PAYMENT_ENTITY, key, "add",
		    json_pack("{s:s, s:s, s:i, s:s, s:s}", "order", order,
			"method", "cash", "amount", 1, "currency", "CNY",
			"site", s_origins[o]));
		break;
	case 5: /* a receipt of a transfer sent to another site */
		snprintf(key, sizeof key, "%s-%s-T1-in", s_origins[o],
		    s_sites[other]);
		s_emit(g, o, STOCK_ENTITY, key, "add",
		    json_pack("{s:s, s:s, s:i, s:s, s:s, s:s}", "site",
			s_origins[o], "sku", "SKU-A", "delta", 3, "reason",
			"transfer_in", "ref", "X-T1", "transfer",
			"X-T1-to-NOBODY"),
		    0);
		break;
	case 6: /* another site's case */
		if (g->cases.n == 0 || o == HQ ||
		    s_owner(g->cases.v[0].id) == o)
			return;
		s_emit(g, o, CASE_ENTITY, g->cases.v[0].id, "comment",
		    json_pack("{s:s}", "text", "mine now"), 0);
		break;
	case 7: /* another site's invoice */
		if (g->invoices.n == 0 || o == HQ ||
		    s_owner(g->invoices.v[0].id) == o)
			return;
		s_emit(g, o, INVOICE_ENTITY, g->invoices.v[0].id, "transition",
		    json_pack("{s:s}", "to", "void"), 0);
		break;
	default: /* an order that never exists: it waits everywhere */
		snprintf(key, sizeof key, "%s-NEVER",
		    s_origins[(o + 1) % N_ORIGINS]);
		s_emit(g, o, ORDER_ENTITY, key, "transition",
		    json_pack("{s:s}", "to", "shipped"), 0);
		break;
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
		    json_pack("{s:s, s:s, s:i, s:s}", "site", s_origins[o],
			"sku", "SKU-A", "delta", 0, "reason", "adjustment"),
		    0);
		break;
	case 1:
		s_emit(g, o, STOCK_ENTITY, key, "add",
		    json_pack("{s:s, s:s, s:i, s:s}", "site", s_origins[o],
			"sku", "SKU-A", "delta", 3, "reason", "sale"),
		    0);
		break;
	case 2:
		s_emit(g, o, STOCK_ENTITY, key, "remove",
		    json_pack("{s:s, s:s, s:i, s:s}", "site", s_origins[o],
			"sku", "SKU-A", "delta", 3, "reason", "receipt"),
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
		/* Far ahead of every replica's wall, the origin's clock left
		 * alone: a customer's field change waits (store.h)... */
		seq = ++g->seq[o];
		dh_add(&g->h, s_origins[o], seq,
		    hlc_pack(DH_WALL0 + HLC_DEFAULT_MAX_DRIFT_MS + 1 +
			    harness_rand_below(100000),
			0),
		    CUSTOMER_ENTITY, key, "update",
		    json_pack("{s:{s:s}}", "set", "name", "Ahead"), 0);
		/* ...a movement as far ahead is applied all the same. */
		s_new_id(g, o, "MA", key, sizeof key);
		seq = ++g->seq[o];
		s_move_add(g,
		    dh_add(&g->h, s_origins[o], seq,
			hlc_pack(DH_WALL0 + HLC_DEFAULT_MAX_DRIFT_MS + 1 +
				harness_rand_below(100000),
			    0),
			STOCK_ENTITY, key, "add",
			json_pack("{s:s, s:s, s:i, s:s}", "site", s_origins[o],
			    "sku", s_skus[0], "delta", 5, "reason", "receipt"),
			1),
		    o, o, 0, 5, EFF_NONE, -1);
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
		} else if (r < 45 && g->orders.n > 0) {
			s_gen_forgery(g, o);
		} else if (r < 55 && g->customers.n > 0) {
			s_gen_race(g);
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
		} else if (r < 870) {
			s_gen_invoice(g, o);
		} else {
			s_gen_case(g, o);
		}
	}
}

static void
s_gen_free(gen_t *g)
{
	dh_history_free(&g->h);
	free(g->customers.v);
	free(g->orders.v);
	free(g->invoices.v);
	free(g->cases.v);
	free(g->tag_adds);
	free(g->moves);
	free(g->ord);
	free(g->cas);
	memset(g, 0, sizeof *g);
}

/* ---- the model ---- */

static int
s_rec_cmp(const void *a, const void *b)
{
	return strcmp(((const rec_t *)a)->id, ((const rec_t *)b)->id);
}

/* Whether move a is older than move b by (hlc, origin), then id. */
static int
s_move_older(const move_t *a, const move_t *b)
{
	int c;

	if (a->hlc != b->hlc)
		return a->hlc < b->hlc;
	c = strcmp(s_origins[a->origin], s_origins[b->origin]);
	return c != 0 ? c < 0 : strcmp(a->id, b->id) < 0;
}

static int
s_return_cmp(const void *x, const void *y)
{
	const move_t *a = *(const move_t *const *)x;
	const move_t *b = *(const move_t *const *)y;

	if (a->order != b->order)
		return a->order < b->order ? -1 : 1;
	if (a->sku != b->sku)
		return a->sku < b->sku ? -1 : 1;
	return s_move_older(a, b) ? -1 : s_move_older(b, a);
}

/* What the order of move m sold of its sku: its lines' qty while its goods
 * are out by its final status (the model's max rank). */
static long long
s_model_sold(const gen_t *g, const move_t *m)
{
	const gen_order_t *x = &g->ord[m->order];
	long long sold = 0;
	int l;

	if (!s_left(x->channel, (int)g->orders.v[m->order].value))
		return 0;
	for (l = 0; l < x->n; l++)
		if (x->sku[l] == m->sku)
			sold += x->qty[l];
	return sold;
}

/* What "SELECT site, sku, on_hand FROM stock WHERE on_hand != 0" should
 * show: per movement id the op with the lowest (hlc, origin) is the
 * movement, and it counts by effect.h's rules, here written again from
 * the generator's knowledge of every order: a sale while its order's goods
 * are out, a restock never, returns oldest first up to what was sold. */
static char *
s_model_stock(const gen_t *g)
{
	static const int by_name[N_ORIGINS] = { HQ, 0, 1, 2 };
	long long on_hand[N_ORIGINS][N_SKUS], room = 0;
	const move_t **ret = malloc((g->n_moves + 1) * sizeof *ret);
	dh_text_t t = { NULL, 0, 0 };
	size_t i, j, n_ret = 0;
	int s, k;

	if (ret == NULL)
		abort();
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
		if (!wins)
			continue;
		if (m->effect == EFF_NONE)
			on_hand[m->site][m->sku] += m->delta;
		else if (m->effect == EFF_SALE &&
		    s_left(g->ord[m->order].channel,
			(int)g->orders.v[m->order].value))
			on_hand[m->site][m->sku] += m->delta;
		else if (m->effect == EFF_RETURN)
			ret[n_ret++] = m;
	}
	qsort(ret, n_ret, sizeof *ret, s_return_cmp);
	for (i = 0; i < n_ret; i++) {
		long long c;

		if (i == 0 || ret[i]->order != ret[i - 1]->order ||
		    ret[i]->sku != ret[i - 1]->sku)
			room = s_model_sold(g, ret[i]);
		c = ret[i]->delta < room ? ret[i]->delta : room;
		room -= c;
		on_hand[ret[i]->site][ret[i]->sku] += c;
	}
	free(ret);
	for (i = 0; i < N_ORIGINS; i++)
		for (s = by_name[i], k = 0; k < N_SKUS; k++)
			if (on_hand[s][k] != 0)
				dh_text_add(&t, "'%s'|'%s'|%lld\n",
				    s_origins[s], s_skus[k], on_hand[s][k]);
	return dh_text_take(&t);
}

/* id|value of recs sorted by id, as the SQL dumps print them. */
static char *
s_model_recs(const recs_t *r)
{
	rec_t *v = malloc((r->n + 1) * sizeof *v);
	dh_text_t t = { NULL, 0, 0 };
	size_t i;

	if (v == NULL)
		abort();
	memcpy(v, r->v, r->n * sizeof *v);
	qsort(v, r->n, sizeof *v, s_rec_cmp);
	for (i = 0; i < r->n; i++)
		dh_text_add(&t, "'%s'|%lld\n", v[i].id, (long long)v[i].value);
	free(v);
	return dh_text_take(&t);
}

static int
s_gen_op_cmp(const void *a, const void *b)
{
	const dh_op_t *x = *(const dh_op_t *const *)a;
	const dh_op_t *y = *(const dh_op_t *const *)b;
	int c = strcmp(x->op.origin, y->op.origin);

	if (c != 0)
		return c;
	return (x->op.seq > y->op.seq) - (x->op.seq < y->op.seq);
}

/* "origin|seq" of the ops every replica must quarantine, by (origin, seq). */
static char *
s_model_quarantine(const dh_history_t *h)
{
	const dh_op_t **v = malloc((h->n + 1) * sizeof *v);
	dh_text_t t = { NULL, 0, 0 };
	size_t i, n = 0;

	if (v == NULL)
		abort();
	for (i = 0; i < h->n; i++)
		if (!h->ops[i].valid)
			v[n++] = &h->ops[i];
	qsort(v, n, sizeof *v, s_gen_op_cmp);
	for (i = 0; i < n; i++)
		dh_text_add(&t, "'%s'|%llu\n", v[i]->op.origin,
		    (unsigned long long)v[i]->op.seq);
	free(v);
	return dh_text_take(&t);
}

/* Checks that sql on st prints exactly want (which is freed). */
static void
s_check_query(store_t *st, const char *what, const char *sql, char *want)
{
	dh_text_t t = { NULL, 0, 0 };
	char *got;

	dh_dump_sql(st, sql, &t);
	got = dh_text_take(&t);
	dh_same_text(what, "replica", got, "model", want);
	free(got);
	free(want);
}

/* Prints what the history holds, one "#" line, so a reader sees what the
 * property covered. */
static void
s_print_mix(const dh_history_t *h)
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

/* ---- invariants: merged state never contradicts itself ---- */

/* SQL reads better as written than as clang-format would fold it. */
/* clang-format off */

/* In SQL: whether order o's goods are out (effect.h) by its final status,
 * the highest rank of its history, and what the order of id order sold of
 * sku: its lines' qty while its goods are out, 0 otherwise. */
#define CANCELLED ORDER_SQL(ORDER_RANK_CANCELLED)
#define RANK_SQL(o)                                     \
	"(SELECT max(rank) FROM order_history h WHERE " \
	"h.order_id = " o ".id)"
#define GONE_SQL(o)                                                       \
	"(" RANK_SQL(o) " != " CANCELLED " AND " RANK_SQL(o) " >= (CASE " o \
	".channel WHEN 'store' THEN " ORDER_SQL(ORDER_RANK_CONFIRMED)         \
	" ELSE " ORDER_SQL(ORDER_RANK_SHIPPED) " END))"
/* Whether movement m, linked to its order o, was recorded by a party that
 * makes it an effect of o (effect.h, invariant 5). */
#define PARTY_SQL(m, o)                                        \
	"(CASE WHEN " m ".effect = 'return' THEN " EFFECT_PARTY_SQL( \
	    m, o) " ELSE " m ".site = " o ".fulfil_site END)"
#define SOLD_SQL(order, sku)                                              \
	"(SELECT CASE WHEN " GONE_SQL("so") " THEN (SELECT coalesce("      \
	"sum(l.qty), 0) FROM order_lines l WHERE l.order_id = so.id AND " \
	"l.sku = " sku ") ELSE 0 END FROM orders so WHERE so.id = " order ")"

/* A query with what it is about. */
typedef struct {
	const char *what;
	const char *sql;
} named_sql_t;

/* Each query lists what breaks its invariant: it must list nothing. */
static const named_sql_t s_invariants[] = {
	{ "on hand of every position is the sum of what its movements count",
	    "SELECT s.site, s.sku, s.on_hand, m.c FROM stock s LEFT JOIN "
	    "(SELECT site, sku, sum(counted) AS c FROM stock_movements "
	    "GROUP BY site, sku) m ON m.site = s.site AND m.sku = s.sku "
	    "WHERE m.c IS NULL OR m.c != s.on_hand UNION ALL "
	    "SELECT site, sku, NULL, sum(counted) FROM stock_movements m "
	    "WHERE NOT EXISTS (SELECT 1 FROM stock s WHERE s.site = m.site "
	    "AND s.sku = m.sku) GROUP BY site, sku" },
	{ "a movement no order held here caused counts its delta, as one "
	  "from a site no party to its order",
	    "SELECT m.id, m.effect, m.delta, m.counted FROM stock_movements m "
	    "LEFT JOIN orders o ON o.id = m.order_id WHERE m.counted != "
	    "m.delta AND (m.effect IS NULL OR o.id IS NULL OR NOT "
	    PARTY_SQL("m", "o") ")" },
	{ "an order's sales count while its final status says its goods are "
	  "out, its restocks never",
	    "SELECT m.id, m.effect, m.delta, m.counted, o.channel, "
	    RANK_SQL("o") " FROM stock_movements m JOIN orders o "
	    "ON o.id = m.order_id WHERE m.effect IN ('sale', 'restock') "
	    "AND m.site = o.fulfil_site AND m.counted != CASE WHEN m.effect = 'sale' AND " GONE_SQL("o")
	    " THEN m.delta ELSE 0 END" },
	{ "returns against an order count oldest first up to what it sold",
	    "WITH r AS (SELECT m.id, m.order_id, m.sku, m.delta, m.counted, "
	    "coalesce(sum(m.counted) OVER (PARTITION BY m.order_id, m.sku "
	    "ORDER BY m.hlc, m.origin, m.id ROWS BETWEEN UNBOUNDED PRECEDING "
	    "AND 1 PRECEDING), 0) AS before FROM stock_movements m JOIN "
	    "orders o ON o.id = m.order_id WHERE m.effect = 'return' AND "
	    EFFECT_PARTY_SQL("m", "o") ") SELECT r.id, r.delta, r.counted, r.before, "
	    SOLD_SQL("r.order_id", "r.sku") " AS sold FROM r "
	    "WHERE r.counted != max(0, min(r.delta, sold - r.before))" },
	{ "what is returned per order and sku counts at most what was sold",
	    "SELECT m.order_id, m.sku, sum(m.counted), "
	    SOLD_SQL("m.order_id", "m.sku") " AS sold FROM stock_movements m "
	    "JOIN orders o ON o.id = m.order_id WHERE m.effect = 'return' "
	    "AND " EFFECT_PARTY_SQL("m", "o") " GROUP BY m.order_id, m.sku "
	    "HAVING sum(m.counted) > sold" },
};

/* The alerts every order paid over its total, and every return beyond
 * what was sold, must raise, in alert_list's order, as "'ID'|'MESSAGE'"
 * lines; computed here from the payments, lines and statuses. */
static const named_sql_t s_alerts_due[] = {
	{ "overpaid",
	    "SELECT 'overpaid:' || o.site || ':' || o.id, 'order ' || o.id || "
	    "' paid ' || p.paid || ' on a total of ' || o.total || "
	    "': refund ' || (p.paid - o.total) FROM orders o JOIN (SELECT "
	    "order_id, sum(amount) AS paid FROM payments GROUP BY order_id) p "
	    "ON p.order_id = o.id WHERE p.paid > o.total ORDER BY o.id" },
	{ "over_return",
	    "WITH r AS (SELECT m.order_id, m.sku, sum(m.delta) AS n, "
	    SOLD_SQL("m.order_id", "m.sku") " AS sold FROM stock_movements m "
	    "JOIN orders po ON po.id = m.order_id WHERE m.effect = 'return' "
	    "AND " EFFECT_PARTY_SQL("m", "po") " GROUP BY m.order_id, m.sku) "
	    "SELECT 'over_return:' || o.site || ':' || r.order_id || '/' || "
	    "r.sku, 'order ' || r.order_id || ': ' || r.n || ' ' || r.sku || "
	    "' returned, ' || r.sold || ' sold: ' || (r.n - r.sold) || "
	    "' not put back in stock, check the returns' FROM r JOIN orders o "
	    "ON o.id = r.order_id WHERE r.n > r.sold "
	    "ORDER BY r.order_id, r.sku" },
};

/* Once the whole history is in (and no create reused an id, which may
 * swap an order's lines after its sale movements were written): every
 * order's sale movements take out exactly what its final status says. */
static const char s_final_effects[] =
    "WITH k AS (SELECT order_id, sku FROM order_lines UNION SELECT "
    "order_id, sku FROM stock_movements WHERE effect IN ('sale', "
    "'restock') AND order_id IN (SELECT id FROM orders)) "
    "SELECT k.order_id, k.sku, " SOLD_SQL("k.order_id", "k.sku") " AS sold, "
    "(SELECT coalesce(sum(counted), 0) FROM stock_movements m JOIN orders "
    "o ON o.id = m.order_id WHERE m.order_id = k.order_id AND m.sku = k.sku "
    "AND m.effect IN ('sale', 'restock') AND m.site = o.fulfil_site) AS c "
    "FROM k WHERE c != -sold";
/* clang-format on */

/* Checks that sql lists nothing on st; fails with what it lists. */
static int
s_none(store_t *st, const char *what, const char *sql)
{
	char *got = dh_rows(st, sql);
	int ok = CHECK_MSG(got[0] == '\0', "%s (seed %llu): broken by %.600s",
	    what, (unsigned long long)harness_seed(), got);

	free(got);
	return ok;
}

/* The alerts of kind st lists, as "'ID'|'MESSAGE'" lines. */
static char *
s_alert_lines(store_t *st, const char *kind)
{
	json_t *a = t_list_where(st, alert_list, "kind", kind), *it;
	dh_text_t t = { NULL, 0, 0 };
	size_t i;

	json_array_foreach(json_object_get(a, "items"), i, it)
		dh_text_add(&t, "'%s'|'%s'\n",
		    json_string_value(json_object_get(it, "id")),
		    json_string_value(json_object_get(it, "message")));
	json_decref(a);
	return dh_text_take(&t);
}

/* The invariants, after every merge of every replica (dh_ingest runs it
 * after each transaction, in whatever order and subset the replica is
 * being fed). After the first failure of a run (*failed, an int set to 0
 * at its start) it stays quiet: one broken invariant would otherwise fail
 * every merge after it. */
static void
s_check_invariants(store_t *st, void *arg)
{
	int *failed = arg;
	char *want, *got;
	size_t i;

	for (i = 0; i < NELEM(s_invariants) && !*failed; i++)
		*failed = !s_none(st, s_invariants[i].what,
		    s_invariants[i].sql);
	for (i = 0; i < NELEM(s_alerts_due) && !*failed; i++) {
		want = dh_rows(st, s_alerts_due[i].sql);
		got = s_alert_lines(st, s_alerts_due[i].what);
		*failed = !dh_same_text(s_alerts_due[i].what, "alert_list", got,
		    "due", want);
		free(want);
		free(got);
	}
}

/* What the history must have made for the invariants to mean something:
 * the races they are about. Each query counts one; it must count some. */
static const named_sql_t s_races[] = {
	{ "a cancellation that lost, its restock uncounted",
	    "SELECT count(*) FROM stock_movements m JOIN order_status s "
	    "ON s.order_id = m.order_id WHERE m.effect = 'restock' AND "
	    "s.rank > " ORDER_SQL(ORDER_RANK_CANCELLED) },
	{ "a cancellation that won over a sale",
	    "SELECT count(*) FROM stock_movements m JOIN order_status s "
	    "ON s.order_id = m.order_id WHERE m.effect = 'sale' AND "
	    "s.rank = " ORDER_SQL(ORDER_RANK_CANCELLED) },
	{ "a sale returned twice beyond what it sold",
	    "SELECT count(*) FROM (SELECT 1 FROM stock_movements "
	    "WHERE effect = 'return' GROUP BY order_id, sku "
	    "HAVING count(*) > 1 AND sum(counted) < sum(delta))" },
	{ "a return counted in part",
	    "SELECT count(*) FROM stock_movements WHERE effect = 'return' "
	    "AND counted > 0 AND counted < delta" },
	{ "an order paid over its total",
	    "SELECT count(*) FROM orders o WHERE o.total < (SELECT "
	    "sum(amount) FROM payments p WHERE p.order_id = o.id)" },
};

/* Checks that the history made every race of s_races. */
static void
s_check_races_happened(store_t *st)
{
	size_t i;

	for (i = 0; i < NELEM(s_races); i++)
		CHECK_MSG(store_query_int(st, store_stmt(st, s_races[i].sql),
			      0) > 0,
		    "the history made no %s (seed %llu)", s_races[i].what,
		    (unsigned long long)harness_seed());
}

/* The forgeries the history made, each refused for its reason (own.h):
 * each query counts the quarantined ops whose reason says it; each must
 * count some. */
static const named_sql_t s_forgeries[] = {
	{ "a create under another site's id",
	    "SELECT count(*) FROM quarantine WHERE reason LIKE "
	    "'%creates records only under its own ids%'" },
	{ "a move of an order by a site that may not make it",
	    "SELECT count(*) FROM quarantine WHERE reason GLOB "
	    "'*: order *: * may not * it: only *'" },
	{ "a payment on an order of a site no party to it",
	    "SELECT count(*) FROM quarantine WHERE reason LIKE "
	    "'%may not take a payment or refund on it%'" },
	{ "a movement of another site's stock",
	    "SELECT count(*) FROM quarantine WHERE reason LIKE "
	    "'%(a site moves only its own stock)'" },
	{ "a receipt of a transfer sent elsewhere",
	    "SELECT count(*) FROM quarantine WHERE reason LIKE "
	    "'%(a site receives only what is sent to it)'" },
	{ "an op on an order that never came",
	    "SELECT count(*) FROM quarantine WHERE reason LIKE "
	    "'%-NEVER: " OWN_WAITING "%'" },
	{ "a site's return naming an order it is no party to, taken as its "
	  "own business",
	    "SELECT count(*) FROM stock_movements m JOIN orders o ON "
	    "o.id = m.order_id WHERE m.effect = 'return' AND NOT " EFFECT_PARTY_SQL(
		"m", "o") },
};

/* Checks that the history made every forgery of s_forgeries. */
static void
s_check_forgeries_refused(store_t *st)
{
	size_t i;

	for (i = 0; i < NELEM(s_forgeries); i++)
		CHECK_MSG(store_query_int(st,
			      store_stmt(st, s_forgeries[i].sql), 0) > 0,
		    "the history made no %s (seed %llu)", s_forgeries[i].what,
		    (unsigned long long)harness_seed());
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
	dh_snapshot_t snap[N_REPLICAS], again;
	gen_t g;
	size_t *idx = NULL, n, total, i, k, round;
	const char *alerts;
	int ok = 1, broken = 0;

	memset(snap, 0, sizeof snap);
	memset(&again, 0, sizeof again);
	dh_check_each_merge(s_check_invariants, &broken);
	s_generate(&g, N_OPS, clash);
	n = g.h.n;
	CHECK(g.h.n_invalid > 10);
	s_print_mix(&g.h);
	idx = malloc((n + n / 4 + 1) * sizeof *idx);
	if (idx == NULL)
		abort();
	for (k = 0; k < N_REPLICAS && ok; k++) {
		size_t counts[INGEST_RESULTS] = { 0 }, fed = 0;

		if ((rep[k] = dh_open(dir, names[k])) == NULL) {
			ok = 0;
			break;
		}
		/* Replicas 3 and 4 first see a few partial subsets. */
		for (round = 0; k >= 2 && round < 3 && ok; round++) {
			size_t m = 0;

			for (i = 0; i < n; i++)
				if (harness_rand_below(4) == 0)
					idx[m++] = i;
			dh_shuffle(idx, m);
			ok = dh_ingest(rep[k], &g.h, idx, m, counts) == 0;
			fed += m;
		}
		/* Then everything, in its own order, with duplicates. */
		for (i = 0; i < n; i++)
			idx[i] = i;
		total = n + (size_t)harness_rand_below(n / 4);
		for (i = n; i < total; i++)
			idx[i] = (size_t)harness_rand_below(n);
		dh_shuffle(idx, total);
		if (ok)
			ok = dh_ingest(rep[k], &g.h, idx, total, counts) == 0;
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
		dh_snapshot(rep[k], &snap[k]);
	}
	if (!ok)
		goto out;

	/* Converged: every part identical across replicas. */
	for (k = 1; k < N_REPLICAS; k++)
		dh_same(&snap[0], &snap[k], names[0], names[k]);

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
	alerts = dh_part(&snap[0], "alert_list");
	CHECK(strstr(alerts, "\"conflicting_transition\"") != NULL);
	CHECK(strstr(alerts, "\"over_refund\"") != NULL);
	CHECK(strstr(alerts, "\"negative_stock\"") != NULL);
	CHECK(strstr(alerts, "\"quarantined\"") != NULL);
	CHECK(
	    strstr(dh_part(&snap[0], "customer_list"), "\"tags\":[\"") != NULL);
	CHECK(s_alerts_sorted(rep[0]));
	s_check_races_happened(rep[0]);
	s_check_forgeries_refused(rep[0]);
	{
		size_t applied, refused;

		/* Some ops came before their order somewhere, waited, and
		 * got the verdict they get everywhere once it was held. */
		dh_waited(&applied, &refused);
		CHECK_MSG(applied > 0 && refused > 0,
		    "no op waited for its order and was then applied (%zu) "
		    "and refused (%zu) (seed %llu)",
		    applied, refused, (unsigned long long)harness_seed());
	}
	if (!clash)
		s_none(rep[0],
		    "every order's sales take out what its final status says",
		    s_final_effects);

	/* Idempotent: everything once more changes nothing. */
	{
		size_t counts[INGEST_RESULTS] = { 0 };

		for (i = 0; i < n; i++)
			idx[i] = i;
		dh_shuffle(idx, n);
		if (dh_ingest(rep[0], &g.h, idx, n, counts) == 0) {
			CHECK_EQ_UINT(counts[INGEST_DUPLICATE], n);
			dh_snapshot(rep[0], &again);
			dh_same(&snap[0], &again, "R1", "R1 after all again");
		}
	}
out:
	dh_check_each_merge(NULL, NULL);
	for (k = 0; k < N_REPLICAS; k++) {
		store_close(&rep[k]);
		dh_snapshot_free(&snap[k]);
	}
	dh_snapshot_free(&again);
	free(idx);
	s_gen_free(&g);
}

TEST(all_entities_converge_in_any_order_with_duplicates_and_subsets)
{
	s_converge(0);
}

/* The random property again with creates of customers, orders, invoices
 * and cases that reuse existing ids: their site's own, and other sites'
 * (forgeries, some at the same clock value, some with a clock that would
 * win the tie-break of creates). */
TEST(all_entities_converge_when_creates_reuse_ids)
{
	s_converge(
	    CLASH_CUSTOMERS | CLASH_ORDERS | CLASH_INVOICES | CLASH_CASES);
}
