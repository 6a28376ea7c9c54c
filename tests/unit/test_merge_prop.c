/*
 * test_merge_prop: the merge laws, checked on random histories.
 *
 * A generator makes ~2000 stock movement ops from four origins, each with its
 * own seq and hybrid clock (clocks that sometimes tie across origins), some
 * movement ids claimed several times by the site they belong to, a few ops
 * every replica must quarantine (zero delta, unknown entity, and forgeries:
 * another site's id claimed, with a tiny clock now and then, or another
 * site's stock moved: own.h) and a few stamped far ahead, which every
 * replica applies all the same (store.h). Their canonical bytes are then
 * fed to replicas:
 *
 *   commutative  four stores, four random orders with random duplicates,
 *                end in the same state;
 *   correct      that state equals a model computed here (per id the valid
 *                op with the lowest (hlc, origin, seq) wins; on-hand sums
 *                the winners);
 *   idempotent   ingesting everything again changes nothing;
 *   associative  (A + B) + C equals A + (B + C), replicas merged through the
 *                bytes they hold.
 *
 * "State" is stock_list as JSON with sorted keys, stock_movements ordered by
 * id, the quarantine and the op log (origin, seq, body), not local details
 * such as arrival order. The seed is printed on failure; BL_SEED replays.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply.h"
#include "domain_read.h"
#include "harness.h"
#include "hlc.h"
#include "op.h"
#include "stock.h"
#include "store.h"

#define N_OPS 2000
#define N_ORIGINS 4
#define N_SKUS 6
#define N_SHARED 40 /* movement ids several origins may claim */
#define BATCH 100   /* ops per transaction */
#define WALL0 1700000000000ull

static const char *const s_origins[N_ORIGINS] = { "S001", "S002", "S003",
	"S004" };
static const char *const s_skus[N_SKUS] = { "A", "B", "C", "D1", "E-2", "F" };
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
#define N_REASONS (sizeof s_reasons / sizeof s_reasons[0])

/* One generated op: its bytes, and what the model needs to know. */
typedef struct {
	uint8_t *body;
	size_t len;
	int valid; /* every replica must apply it */
	char id[OP_KEY_MAX + 1];
	int origin; /* index into s_origins */
	uint64_t seq;
	uint64_t hlc;
	char site[OP_SITE_MAX + 1];
	char sku[16];
	long long delta;
} gen_op_t;

typedef struct {
	gen_op_t *ops;
	size_t n;
} history_t;

static uint64_t
s_wall(void)
{
	return WALL0;
}

/* ---- generation ---- */

static void
s_encode(gen_op_t *g, const op_t *op)
{
	cbw_t w;
	err_t err;

	cbw_init(&w);
	if (op_encode(op, &w, &err)) {
		fprintf(stderr, "test_merge_prop: op_encode: %s\n", err.msg);
		abort();
	}
	g->body = w.data; /* taken over from the writer */
	g->len = w.len;
}

/* Makes the history. cross_site: whether a site reusing one of its ids may
 * record it for different skus (else a shared id names one site/sku). Such
 * claims use a sku of their own, so that a claim which loses leaves no
 * (site, sku) that other movements also touch. */
static void
s_generate(history_t *h, int cross_site)
{
	hlc_t clocks[N_ORIGINS];
	uint64_t seqs[N_ORIGINS] = { 0 };
	size_t i;
	int o;

	h->n = N_OPS;
	h->ops = calloc(N_OPS, sizeof *h->ops);
	if (h->ops == NULL)
		abort();
	for (o = 0; o < N_ORIGINS; o++)
		hlc_init(&clocks[o], 0, HLC_DEFAULT_MAX_DRIFT_MS);
	for (i = 0; i < N_OPS; i++) {
		gen_op_t *g = &h->ops[i];
		op_t op;
		uint64_t wall, roll;
		int shared = 0, r, sign;
		long long mag;

		memset(&op, 0, sizeof op);
		o = (int)harness_rand_below(N_ORIGINS);
		g->origin = o;
		snprintf(op.origin, sizeof op.origin, "%s", s_origins[o]);
		op.seq = ++seqs[o];
		/* Coarse, slightly skewed walls so that clocks of different
		 * origins often land on the same value. */
		wall = WALL0 - 400000 + i / 8 +
		    (uint64_t)o * harness_rand_below(2);
		op.hlc = hlc_tick(&clocks[o], wall);
		snprintf(op.entity, sizeof op.entity, "%s", STOCK_ENTITY);
		snprintf(op.kind, sizeof op.kind, "add");

		g->valid = 1;
		roll = harness_rand_below(100);
		if (roll < 15) {
			/* One of the ids a site records more than once; now
			 * and then another site claims it: a forgery. */
			int owner = o;

			if (harness_rand_below(4) == 0) {
				owner = (o + 1 +
					    (int)harness_rand_below(
						N_ORIGINS - 1)) %
				    N_ORIGINS;
				g->valid = 0;
				if (harness_rand_below(2))
					op.hlc = 1 + harness_rand_below(1000);
			}
			shared = 1 + (int)harness_rand_below(N_SHARED);
			snprintf(op.key, sizeof op.key, "%s-X-%02d",
			    s_origins[owner], shared - 1);
		} else {
			snprintf(op.key, sizeof op.key, "%s-%06llu",
			    s_origins[o], (unsigned long long)op.seq);
		}
		snprintf(g->id, sizeof g->id, "%s", op.key);
		if (shared && !cross_site) {
			snprintf(g->site, sizeof g->site, "%s", s_origins[o]);
			snprintf(g->sku, sizeof g->sku, "%s",
			    s_skus[(shared - 1) % N_SKUS]);
		} else if (shared) {
			snprintf(g->site, sizeof g->site, "%s", s_origins[o]);
			snprintf(g->sku, sizeof g->sku, "Z%04zu", i);
		} else if (harness_rand_below(50) == 0) {
			/* Another site's stock moved: a forgery. */
			snprintf(g->site, sizeof g->site, "%s",
			    s_origins[(o + 1) % N_ORIGINS]);
			snprintf(g->sku, sizeof g->sku, "%s",
			    s_skus[harness_rand_below(N_SKUS)]);
			g->valid = 0;
		} else {
			snprintf(g->site, sizeof g->site, "%s", s_origins[o]);
			snprintf(g->sku, sizeof g->sku, "%s",
			    s_skus[harness_rand_below(N_SKUS)]);
		}
		r = (int)harness_rand_below(N_REASONS);
		sign = s_reasons[r].sign ? s_reasons[r].sign
					 : (harness_rand_below(2) ? 1 : -1);
		mag = 1 + (long long)harness_rand_below(20);
		g->delta = sign * mag;
		g->seq = op.seq;
		/* A few ops no replica may apply. */
		roll = harness_rand_below(100);
		if (roll < 2) {
			g->delta = 0;
			g->valid = 0;
		} else if (roll < 3) {
			snprintf(op.entity, sizeof op.entity, "no_such_entity");
			g->valid = 0;
		} else if (roll < 4) {
			/* Far ahead of every replica's wall: applied all the
			 * same (a movement claims no last-writer-wins
			 * register, store.h); no clock is pulled forward. */
			op.hlc = hlc_pack(WALL0 + HLC_DEFAULT_MAX_DRIFT_MS + 1 +
				harness_rand_below(100000),
			    0);
		}
		g->hlc = op.hlc;
		op.fields = json_pack("{s:s, s:s, s:I, s:s}", "site", g->site,
		    "sku", g->sku, "delta", (json_int_t)g->delta, "reason",
		    s_reasons[r].name);
		if (harness_rand_below(3) == 0)
			json_object_set_new(op.fields, "ref",
			    json_sprintf("R%zu", i));
		s_encode(g, &op);
		op_clear(&op);
	}
}

static void
s_history_free(history_t *h)
{
	size_t i;

	for (i = 0; i < h->n; i++)
		free(h->ops[i].body);
	free(h->ops);
	memset(h, 0, sizeof *h);
}

/* ---- the model ---- */

typedef struct {
	const char *site;
	const char *sku;
	long long on_hand;
} model_row_t;

/* SQLite's ORDER BY site, sku on plain ASCII text. */
static int
s_row_cmp(const void *pa, const void *pb)
{
	const model_row_t *a = pa, *b = pb;
	int c = strcmp(a->site, b->site);

	return c != 0 ? c : strcmp(a->sku, b->sku);
}

/* What stock_list should say: per id the valid op with the lowest
 * (hlc, origin, seq) wins, and on-hand per (site, sku) sums the winners. */
static json_t *
s_model(const history_t *h)
{
	const gen_op_t **win;
	model_row_t *rows;
	size_t i, j, nwin = 0, nrows = 0;
	json_t *items = json_array();

	win = calloc(h->n, sizeof *win);
	if (win == NULL)
		abort();
	for (i = 0; i < h->n; i++) {
		const gen_op_t *g = &h->ops[i];

		if (!g->valid)
			continue;
		for (j = 0; j < nwin; j++)
			if (strcmp(win[j]->id, g->id) == 0)
				break;
		if (j == nwin)
			win[nwin++] = g;
		else if (g->hlc < win[j]->hlc ||
		    (g->hlc == win[j]->hlc &&
			(strcmp(s_origins[g->origin],
			     s_origins[win[j]->origin]) < 0 ||
			    (g->origin == win[j]->origin &&
				g->seq < win[j]->seq))))
			win[j] = g;
	}
	rows = calloc(nwin ? nwin : 1, sizeof *rows);
	if (rows == NULL)
		abort();
	for (j = 0; j < nwin; j++) {
		for (i = 0; i < nrows; i++)
			if (strcmp(rows[i].site, win[j]->site) == 0 &&
			    strcmp(rows[i].sku, win[j]->sku) == 0)
				break;
		if (i == nrows) {
			rows[nrows].site = win[j]->site;
			rows[nrows].sku = win[j]->sku;
			nrows++;
		}
		rows[i].on_hand += win[j]->delta;
	}
	free(win);
	qsort(rows, nrows, sizeof *rows, s_row_cmp);
	for (i = 0; i < nrows; i++)
		json_array_append_new(items,
		    json_pack("{s:s, s:s, s:I, s:i, s:I}", "site", rows[i].site,
			"sku", rows[i].sku, "on_hand",
			(json_int_t)rows[i].on_hand, "reserved", 0, "available",
			(json_int_t)rows[i].on_hand));
	free(rows);
	return json_pack("{s:o}", "items", items);
}

/* ---- replicas ---- */

static store_t *
s_replica(const char *dir, const char *name)
{
	char path[4200];
	err_t err;
	store_t *st;

	snprintf(path, sizeof path, "%s/%s.db", dir, name);
	err_clear(&err);
	st = store_open(path, STORE_HUB, 1, &apply_rules, &err);
	if (st == NULL) {
		harness_fail(__FILE__, __LINE__, "store_open %s: %s", path,
		    err.msg);
		return NULL;
	}
	store_set_wall(st, s_wall);
	if (store_begin(st, &err) ||
	    store_meta_set_text(st, "site", name, &err) ||
	    store_commit(st, &err)) {
		harness_fail(__FILE__, __LINE__, "set site: %s", err.msg);
		store_close(&st);
	}
	return st;
}

/* Counts of what ingesting returned. */
typedef struct {
	long applied, duplicate, quarantined;
} tally_t;

/* Ingests bodies[order[0..n-1]] the way a session does: decode each op from
 * its bytes, ingest with those bytes, BATCH ops per transaction. Returns 0,
 * or -1 after recording a failure. */
static int
s_feed(store_t *st, uint8_t *const *bodies, const size_t *lens,
    const size_t *order, size_t n, tally_t *tally)
{
	size_t i;
	err_t err;

	for (i = 0; i < n; i++) {
		const uint8_t *b = bodies[order[i]];
		size_t len = lens[order[i]];
		ingest_result_t res;
		cbr_t r;
		op_t op;

		if (i % BATCH == 0 && store_begin(st, &err))
			return harness_fail(__FILE__, __LINE__, "begin: %s",
				   err.msg) -
			    1;
		cbr_init(&r, b, len);
		if (op_decode(&r, &op, &err) || cbr_end(&r, &err)) {
			store_rollback(st);
			return harness_fail(__FILE__, __LINE__,
				   "decode of generated op %zu: %s", order[i],
				   err.msg) -
			    1;
		}
		if (store_ingest(st, &op, b, len, &res, &err)) {
			op_clear(&op);
			store_rollback(st);
			return harness_fail(__FILE__, __LINE__, "ingest: %s",
				   err.msg) -
			    1;
		}
		op_clear(&op);
		if (res == INGEST_APPLIED)
			tally->applied++;
		else if (res == INGEST_DUPLICATE)
			tally->duplicate++;
		else
			tally->quarantined++;
		if ((i % BATCH == BATCH - 1 || i == n - 1) &&
		    store_commit(st, &err))
			return harness_fail(__FILE__, __LINE__, "commit: %s",
				   err.msg) -
			    1;
	}
	return 0;
}

/* Feeds a subset of the history (indices idx[0..n-1]) in that order. */
static int
s_feed_history(store_t *st, const history_t *h, const size_t *idx, size_t n,
    tally_t *tally)
{
	uint8_t **bodies = malloc(h->n * sizeof *bodies);
	size_t *lens = malloc(h->n * sizeof *lens), i;
	int rc;

	if (bodies == NULL || lens == NULL)
		abort();
	for (i = 0; i < h->n; i++) {
		bodies[i] = h->ops[i].body;
		lens[i] = h->ops[i].len;
	}
	rc = s_feed(st, bodies, lens, idx, n, tally);
	free(bodies);
	free(lens);
	return rc;
}

/* Feeds everything src holds (its log and its quarantine) into dst, in a
 * random order: merging two replicas through their bytes. */
static int
s_merge_into(store_t *dst, store_t *src, tally_t *tally)
{
	sqlite3_stmt *s;
	uint8_t **bodies = NULL;
	size_t *lens = NULL, *order = NULL, n = 0, cap = 0, i;
	int rc = -1;

	if (sqlite3_prepare_v2(store_db(src),
		"SELECT body FROM op_log "
		"UNION ALL SELECT body FROM quarantine",
		-1, &s, NULL) != SQLITE_OK)
		return harness_fail(__FILE__, __LINE__, "select bodies: %s",
			   sqlite3_errmsg(store_db(src))) -
		    1;
	while (sqlite3_step(s) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? 2 * cap : 256;
			bodies = realloc(bodies, cap * sizeof *bodies);
			lens = realloc(lens, cap * sizeof *lens);
			if (bodies == NULL || lens == NULL)
				abort();
		}
		lens[n] = (size_t)sqlite3_column_bytes(s, 0);
		bodies[n] = malloc(lens[n] ? lens[n] : 1);
		if (bodies[n] == NULL)
			abort();
		memcpy(bodies[n], sqlite3_column_blob(s, 0), lens[n]);
		n++;
	}
	sqlite3_finalize(s);
	order = calloc(n ? n : 1, sizeof *order);
	if (order == NULL)
		abort();
	for (i = 0; i < n; i++)
		order[i] = i;
	for (i = n; i > 1; i--) {
		size_t j = harness_rand_below(i), t = order[i - 1];

		order[i - 1] = order[j];
		order[j] = t;
	}
	rc = s_feed(dst, bodies, lens, order, n, tally);
	for (i = 0; i < n; i++)
		free(bodies[i]);
	free(bodies);
	free(lens);
	free(order);
	return rc;
}

/* The replica's replicated state as text (malloc'd); see the top comment. */
static char *
s_state(store_t *st)
{
	static const char *const queries[] = {
		"SELECT id, site, sku, delta, reason, ref, hlc, origin, seq "
		"FROM stock_movements ORDER BY id",
		"SELECT origin, seq, reason, hex(body) FROM quarantine "
		"ORDER BY origin, seq",
		"SELECT origin, seq, hlc, entity, key, hex(body) FROM op_log "
		"ORDER BY origin, seq",
	};
	char *buf = NULL, *list_json;
	size_t size = 0, q;
	int c;
	FILE *f = open_memstream(&buf, &size);
	json_t *list;

	if (f == NULL)
		abort();
	list = t_list(st, stock_list, NULL);
	list_json = json_dumps(list, JSON_SORT_KEYS | JSON_COMPACT);
	fprintf(f, "stock %s\n", list_json);
	free(list_json);
	json_decref(list);
	for (q = 0; q < sizeof queries / sizeof queries[0]; q++) {
		sqlite3_stmt *s;

		if (sqlite3_prepare_v2(store_db(st), queries[q], -1, &s,
			NULL) != SQLITE_OK) {
			fprintf(f, "query failed: %s\n",
			    sqlite3_errmsg(store_db(st)));
			continue;
		}
		while (sqlite3_step(s) == SQLITE_ROW) {
			fprintf(f, "%zu", q);
			for (c = 0; c < sqlite3_column_count(s); c++)
				fprintf(f, " %s",
				    sqlite3_column_type(s, c) == SQLITE_NULL
					? "NULL"
					: (const char *)sqlite3_column_text(s,
					      c));
			fputc('\n', f);
		}
		sqlite3_finalize(s);
	}
	fclose(f);
	return buf;
}

/* Checks two states are equal, naming the first differing line. */
static int
s_check_same(const char *file, int line, const char *what, const char *a,
    const char *b)
{
	size_t i = 0, start = 0;

	if (a == NULL || b == NULL)
		return harness_fail(file, line, "%s: no state", what);
	if (strcmp(a, b) == 0)
		return 1;
	while (a[i] != '\0' && a[i] == b[i]) {
		if (a[i] == '\n')
			start = i + 1;
		i++;
	}
	/* Show the differing line from a little before the first difference
	 * (the stock line is long). */
	if (i - start > 80)
		start = i - 80;
	return harness_fail(file, line,
	    "%s: states differ at byte %zu:\n#   one:   ...%.200s\n#   other: ...%.200s",
	    what, i, a + start, b + start);
}

#define CHECK_SAME(what, a, b) \
	s_check_same(__FILE__, __LINE__, (what), (a), (b))

/* A random order of all ops with about 10% of them delivered twice more. */
static size_t *
s_order_with_duplicates(size_t n, size_t *count)
{
	size_t extra = n / 10, total = n + extra, i;
	size_t *order = malloc(total * sizeof *order);

	if (order == NULL)
		abort();
	for (i = 0; i < n; i++)
		order[i] = i;
	for (i = 0; i < extra; i++)
		order[n + i] = harness_rand_below(n);
	for (i = total; i > 1; i--) {
		size_t j = harness_rand_below(i), t = order[i - 1];

		order[i - 1] = order[j];
		order[j] = t;
	}
	*count = total;
	return order;
}

/* ---- the properties ---- */

#define N_REPLICAS 4

static void
s_run(int cross_site)
{
	const char *dir = harness_tmpdir();
	history_t h;
	store_t *rep[N_REPLICAS] = { NULL };
	store_t *p[3] = { NULL }, *left = NULL, *right = NULL, *r23 = NULL;
	char *state[N_REPLICAS] = { NULL }, *again = NULL, *sl = NULL,
	     *sr = NULL, *model_json = NULL, *got_json = NULL;
	size_t *order, count, i, *part[3], npart[3] = { 0 };
	tally_t t;
	json_t *model, *got;
	long expect_valid = 0, dups;
	int k;
	char name[16];

	s_generate(&h, cross_site);
	for (i = 0; i < h.n; i++)
		expect_valid += h.ops[i].valid;
	/* The generator makes what the test needs: contested ids and
	 * invalid ops. */
	CHECK(expect_valid > (long)h.n * 9 / 10 && expect_valid < (long)h.n);

	/* Commutative: four replicas, four random orders, duplicates. */
	for (k = 0; k < N_REPLICAS; k++) {
		snprintf(name, sizeof name, "R%d", k);
		rep[k] = s_replica(dir, name);
		if (rep[k] == NULL)
			goto out;
		order = s_order_with_duplicates(h.n, &count);
		memset(&t, 0, sizeof t);
		if (s_feed_history(rep[k], &h, order, count, &t)) {
			free(order);
			goto out;
		}
		free(order);
		CHECK_EQ_INT(t.applied, expect_valid);
		CHECK_EQ_INT(t.quarantined, (long)h.n - expect_valid);
		CHECK_EQ_INT(t.duplicate, (long)(count - h.n));
		CHECK_EQ_INT(store_quarantine_count(rep[k]),
		    (long)h.n - expect_valid);
		state[k] = s_state(rep[k]);
	}
	for (k = 1; k < N_REPLICAS; k++)
		if (!CHECK_SAME("replica R0 vs another order", state[0],
			state[k]))
			harness_fail(__FILE__, __LINE__, "replica R%d", k);

	/* Correct: the converged stock is the model's. */
	model = s_model(&h);
	got = t_list(rep[0], stock_list, NULL);
	if (!json_equal(model, got)) {
		model_json = json_dumps(model, JSON_SORT_KEYS | JSON_COMPACT);
		got_json = json_dumps(got, JSON_SORT_KEYS | JSON_COMPACT);
		CHECK_SAME("stock_list vs model", got_json, model_json);
	}
	json_decref(model);
	json_decref(got);

	/* Idempotent: everything again, in yet another order. */
	order = s_order_with_duplicates(h.n, &count);
	memset(&t, 0, sizeof t);
	if (s_feed_history(rep[0], &h, order, count, &t) == 0) {
		CHECK_EQ_INT(t.applied, 0);
		CHECK_EQ_INT(t.quarantined, 0);
		CHECK_EQ_INT(t.duplicate, (long)count);
		again = s_state(rep[0]);
		CHECK_SAME("state after ingesting everything again", again,
		    state[0]);
	}
	free(order);

	/* Associative: split the history into three random parts held by
	 * three replicas, then merge them grouped both ways. */
	for (k = 0; k < 3; k++) {
		part[k] = malloc(h.n * sizeof *part[k]);
		if (part[k] == NULL)
			abort();
	}
	for (i = 0; i < h.n; i++) {
		k = (int)harness_rand_below(3);
		part[k][npart[k]++] = i;
	}
	for (k = 0; k < 3; k++) {
		snprintf(name, sizeof name, "P%d", k);
		p[k] = s_replica(dir, name);
		memset(&t, 0, sizeof t);
		if (p[k] == NULL ||
		    s_feed_history(p[k], &h, part[k], npart[k], &t))
			break;
	}
	for (k = 0; k < 3; k++)
		free(part[k]);
	if (k < 3)
		goto out;
	left = s_replica(dir, "L");
	right = s_replica(dir, "R");
	r23 = s_replica(dir, "R23");
	if (left == NULL || right == NULL || r23 == NULL)
		goto out;
	memset(&t, 0, sizeof t);
	/* (P0 + P1) + P2 */
	if (s_merge_into(left, p[0], &t) || s_merge_into(left, p[1], &t) ||
	    s_merge_into(left, p[2], &t))
		goto out;
	/* P0 + (P1 + P2) */
	if (s_merge_into(r23, p[1], &t) || s_merge_into(r23, p[2], &t) ||
	    s_merge_into(right, p[0], &t) || s_merge_into(right, r23, &t))
		goto out;
	sl = s_state(left);
	sr = s_state(right);
	CHECK_SAME("(A + B) + C vs A + (B + C)", sl, sr);
	/* ...and both equal the replicas that got everything at once. */
	CHECK_SAME("merged parts vs whole", sl, state[0]);
	dups = t.duplicate;
	CHECK_EQ_INT(dups, 0);

out:
	for (k = 0; k < N_REPLICAS; k++) {
		store_close(&rep[k]);
		free(state[k]);
	}
	for (k = 0; k < 3; k++)
		store_close(&p[k]);
	store_close(&left);
	store_close(&right);
	store_close(&r23);
	free(again);
	free(sl);
	free(sr);
	free(model_json);
	free(got_json);
	s_history_free(&h);
}

TEST(merge_is_commutative_idempotent_associative_and_correct)
{
	s_run(0);
}

/* A site reusing one of its ids may record it for another sku; see
 * test_store.c same_id_for_different_sku_converges_in_any_order for the
 * two-op case. */
TEST(merge_converges_when_reused_ids_name_different_skus)
{
	s_run(1);
}
