/*
 * test_group: group commit (group.h) over a node's store, with real sales
 * (order_create, whose command becomes a savepoint of the group's
 * transaction).
 *
 * One failing sale in a group fails alone: it is answered at once, before
 * the COMMIT, with its own error; the others are answered only once their
 * COMMIT is on disk (a second connection sees them then), and the failed
 * one leaves nothing behind, not even a gap in the node's op sequence or
 * an id. A repeated id in one group is a create and its replay. A COMMIT
 * that fails answers every write of the group with its error and records
 * nothing. A write whose failure cost the whole transaction is answered
 * alone, and those that ran before it run again and are committed.
 */
#include <event2/event.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply.h"
#include "group.h"
#include "harness.h"
#include "hlc.h"
#include "order.h"
#include "store.h"

/* Head office's products TEA and CUP, as the node receives them. */
static int
s_catalog(store_t *st, err_t *err)
{
	static const char *const skus[] = { "TEA", "CUP" };
	ingest_result_t res;
	op_t op;
	cbw_t w;
	int i, rc = 0;

	for (i = 0; i < 2 && rc == 0; i++) {
		memset(&op, 0, sizeof op);
		snprintf(op.origin, sizeof op.origin, "HQ");
		op.seq = (uint64_t)i + 1;
		op.hlc = hlc_pack(hlc_wall_ms() - 1000, (uint16_t)i);
		snprintf(op.entity, sizeof op.entity, "product");
		snprintf(op.key, sizeof op.key, "%s", skus[i]);
		snprintf(op.kind, sizeof op.kind, "set");
		op.fields = json_pack("{s:s}", "name", skus[i]);
		cbw_init(&w);
		rc = op_encode(&op, &w, err) ||
		    store_ingest(st, &op, w.data, w.len, &res, err) ||
		    res != INGEST_APPLIED;
		cbw_free(&w);
		op_clear(&op);
	}
	return rc ? -1 : 0;
}

/* A node replica S001 in a fresh directory, with the catalog; its path
 * into path. */
static store_t *
s_node(char *path, size_t size)
{
	store_t *st;
	err_t err;

	snprintf(path, size, "%s/node.db", harness_tmpdir());
	st = store_open(path, STORE_NODE, 1, &apply_rules, &err);
	if (!CHECK_MSG(st != NULL, "store_open: %s", err.msg))
		return NULL;
	if (store_begin(st, &err) ||
	    store_meta_set_text(st, "site", "S001", &err) ||
	    s_catalog(st, &err) || store_commit(st, &err)) {
		CHECK_MSG(0, "site: %s", err.msg);
		store_rollback(st);
		store_close(&st);
	}
	return st;
}

/* The first column of sql's first row, as another process reads it: what
 * is committed. */
static long long
s_committed(const char *path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *s;
	long long v = -1;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) ==
		SQLITE_OK &&
	    sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK) {
		if (sqlite3_step(s) == SQLITE_ROW)
			v = sqlite3_column_int64(s, 0);
		sqlite3_finalize(s);
	}
	sqlite3_close(db);
	return v;
}

/* One write of a test: a sale (id may be NULL, method its payment's), or
 * a special step. */
typedef struct {
	const char *path; /* the database, for s_committed */
	const char *id;
	const char *method;
	enum { SALE, LOSE_TXN, LOSE_TXN_INNER, BREAK_COMMIT } what;
	int runs;	       /* times run */
	int answered;	       /* order of its answer, 1 first; 0 not yet */
	int rc;		       /* as answered */
	char msg[ERR_MSG_MAX]; /* its error */
	long long seen;	       /* orders committed when it was answered */
	int created;	       /* the sale's */
	char order[64];	       /* the sale's id */
	int *order_of_answers; /* shared counter */
} w_t;

static json_t *
s_sale(const char *id, const char *method)
{
	json_t *r = json_pack("{s:s, s:s, s:s, s:[{s:s, s:i, s:i}, {s:s, s:i, "
			      "s:i}], s:[{s:s, s:i}]}",
	    "channel", "store", "currency", "CNY", "status", "completed",
	    "lines", "sku", "TEA", "qty", 1, "unit_price", 300, "sku", "CUP",
	    "qty", 2, "unit_price", 100, "payments", "method", method, "amount",
	    500);

	if (id != NULL)
		json_object_set_new(r, "id", json_string(id));
	return r;
}

/* As SQLite does on a full disk or an I/O error: the whole transaction
 * is gone under this write. */
static int
s_lose(store_t *st, void *arg, err_t *err)
{
	(void)arg;
	sqlite3_exec(store_db(st), "ROLLBACK", NULL, NULL, NULL);
	return err_set(err, ERR_INTERNAL, "disk I/O error (simulated)");
}

static int
s_run(void *arg, store_t *st, err_t *err)
{
	w_t *w = arg;
	json_t *req, *out = NULL;
	int rc;

	w->runs++;
	if (w->what == LOSE_TXN)
		return s_lose(st, NULL, err);
	if (w->what == LOSE_TXN_INNER) /* as in a command (cmd_run) */
		return store_txn(st, s_lose, NULL, err);
	if (w->what == BREAK_COMMIT)
		/* A deferred key: RELEASE takes it, COMMIT refuses it. */
		return sqlite3_exec(store_db(st),
			   "INSERT INTO t_child(p) VALUES ('nobody')", NULL,
			   NULL, NULL) == SQLITE_OK
		    ? 0
		    : err_set(err, ERR_INTERNAL, "insert: %s",
			  sqlite3_errmsg(store_db(st)));
	req = s_sale(w->id, w->method);
	rc = order_create(st, req, &out, &w->created, err);
	if (rc == 0)
		snprintf(w->order, sizeof w->order, "%s",
		    json_string_value(json_object_get(out, "id")));
	json_decref(req);
	json_decref(out);
	return rc;
}

static void
s_done(void *arg, int rc, const err_t *err)
{
	w_t *w = arg;

	CHECK_MSG(w->answered == 0, "write %s answered twice",
	    w->id ? w->id : "?");
	w->answered = ++*w->order_of_answers;
	w->rc = rc;
	snprintf(w->msg, sizeof w->msg, "%s", rc == 0 ? "" : err->msg);
	w->seen = s_committed(w->path, "SELECT count(*) FROM orders");
}

/* Adds ws[0..n) to g, in that order. */
static void
s_add(group_t *g, w_t *ws, int n, const char *path, int *counter)
{
	int i;

	for (i = 0; i < n; i++) {
		ws[i].path = path;
		ws[i].order_of_answers = counter;
		group_add(g, s_run, s_done, &ws[i]);
	}
}

/* The node's own op log has no gap and every op is chained. */
static void
s_check_log(store_t *st)
{
	CHECK_EQ_INT(
	    store_query_int(st,
		store_stmt(st,
		    "SELECT max(seq) FROM op_log WHERE origin = 'S001'"),
		-1),
	    store_query_int(st,
		store_stmt(st,
		    "SELECT count(*) FROM op_log WHERE origin = 'S001'"),
		-2));
	CHECK_EQ_INT(store_query_int(st,
			 store_stmt(st,
			     "SELECT count(*) FROM op_log WHERE origin = "
			     "'S001' AND chain IS NULL"),
			 -1),
	    0);
}

/* A sale whose payment is refused after its order's ops were written, in
 * a group between two good ones (the second without an id: the node makes
 * it, from the seq the failed one would have taken). */
TEST(group_one_failing_write_fails_alone)
{
	char path[4096], want[64];
	struct event_base *base = event_base_new();
	store_t *st = s_node(path, sizeof path);
	group_t *g;
	group_stats_t stats;
	w_t w[3] = {
		{ .id = "a", .method = "card" },
		{ .id = "b", .method = "bitcoin" },
		{ .id = NULL, .method = "cash" },
	};
	int counter = 0;
	long long seq;

	REQUIRE(st != NULL && base != NULL);
	g = group_new(base, st);
	s_add(g, w, 3, path, &counter);
	CHECK_EQ_INT(w[0].runs + w[1].runs + w[2].runs, 0); /* not yet */
	event_base_loop(base, EVLOOP_ONCE);
	CHECK_EQ_INT(counter, 3);
	/* The failed one first, before the COMMIT; the others after it. */
	CHECK_EQ_INT(w[1].answered, 1);
	CHECK_EQ_INT(w[1].rc, -1);
	CHECK_STR(w[1].msg,
	    "payments[0]: method: 'bitcoin' is not one of cash, card, alipay, "
	    "wechat, bank_transfer, gift_card");
	CHECK_EQ_INT(w[1].seen, 0);
	CHECK_EQ_INT(w[0].rc, 0);
	CHECK_EQ_INT(w[0].created, 1);
	CHECK_EQ_INT(w[0].seen, 2);
	CHECK_EQ_INT(w[2].rc, 0);
	CHECK_EQ_INT(w[2].seen, 2);
	CHECK_EQ_INT(w[0].runs + w[1].runs + w[2].runs, 3);
	/* Nothing of b; the made id is the seq of its order's op. */
	CHECK_EQ_INT(s_committed(path,
			 "SELECT count(*) FROM op_log WHERE key = 'S001-b'"),
	    0);
	seq = s_committed(path,
	    "SELECT max(seq) FROM op_log WHERE entity = 'order' AND key NOT "
	    "LIKE '%-a'");
	snprintf(want, sizeof want, "S001-%06lld", seq);
	CHECK_STR(w[2].order, want);
	s_check_log(st);
	group_stats(g, &stats);
	CHECK_EQ_INT(stats.commits, 1);
	CHECK_EQ_INT(stats.writes, 2);
	CHECK_EQ_INT(stats.failed, 1);
	CHECK_EQ_INT(stats.largest, 2);
	group_destroy(&g);
	CHECK(g == NULL);
	store_close(&st);
	event_base_free(base);
}

/* The same id twice in one group: the first creates, the second replays;
 * one sale is recorded. */
TEST(group_same_id_twice_is_a_replay)
{
	char path[4096];
	struct event_base *base = event_base_new();
	store_t *st = s_node(path, sizeof path);
	group_t *g;
	w_t w[2] = {
		{ .id = "x", .method = "card" },
		{ .id = "x", .method = "card" },
	};
	int counter = 0;

	REQUIRE(st != NULL && base != NULL);
	g = group_new(base, st);
	s_add(g, w, 2, path, &counter);
	group_flush(g);
	CHECK_EQ_INT(counter, 2);
	CHECK_EQ_INT(w[0].rc, 0);
	CHECK_EQ_INT(w[1].rc, 0);
	CHECK_EQ_INT(w[0].created, 1);
	CHECK_EQ_INT(w[1].created, 0);
	CHECK_STR(w[1].order, "S001-x");
	CHECK_EQ_INT(s_committed(path, "SELECT count(*) FROM orders"), 1);
	CHECK_EQ_INT(s_committed(path, "SELECT count(*) FROM payments"), 1);
	group_destroy(&g);
	store_close(&st);
	event_base_free(base);
}

/* A COMMIT that fails (a deferred foreign key, checked only there):
 * every write of the group is answered with its error, none recorded;
 * the next group commits. */
TEST(group_failed_commit_fails_every_write)
{
	char path[4096];
	struct event_base *base = event_base_new();
	store_t *st = s_node(path, sizeof path);
	group_t *g;
	group_stats_t stats;
	w_t w[3] = {
		{ .id = "a", .method = "card" },
		{ .what = BREAK_COMMIT },
		{ .id = "c", .method = "card" },
	};
	w_t next = { .id = "d", .method = "card" };
	int counter = 0, i;

	REQUIRE(st != NULL && base != NULL);
	REQUIRE(sqlite3_exec(store_db(st),
		    "CREATE TABLE t_parent(id TEXT PRIMARY KEY);"
		    "CREATE TABLE t_child(p TEXT REFERENCES t_parent(id) "
		    "DEFERRABLE INITIALLY DEFERRED)",
		    NULL, NULL, NULL) == SQLITE_OK);
	g = group_new(base, st);
	s_add(g, w, 3, path, &counter);
	group_flush(g);
	CHECK_EQ_INT(counter, 3);
	for (i = 0; i < 3; i++) {
		CHECK_EQ_INT(w[i].rc, -1);
		CHECK_STR(w[i].msg,
		    "commit: sqlite: FOREIGN KEY constraint failed");
	}
	CHECK_EQ_INT(s_committed(path, "SELECT count(*) FROM orders"), 0);
	CHECK_EQ_INT(s_committed(path,
			 "SELECT count(*) FROM op_log WHERE origin = 'S001'"),
	    0);
	CHECK_EQ_INT(s_committed(path,
			 "SELECT value FROM meta WHERE name = 'seq'"),
	    0);
	s_add(g, &next, 1, path, &counter);
	group_flush(g);
	CHECK_EQ_INT(next.rc, 0);
	CHECK_EQ_INT(next.seen, 1);
	s_check_log(st);
	group_stats(g, &stats);
	CHECK_EQ_INT(stats.commits, 1);
	CHECK_EQ_INT(stats.writes, 1);
	CHECK_EQ_INT(stats.failed, 3);
	group_destroy(&g);
	store_close(&st);
	event_base_free(base);
}

/* A write under which SQLite drops the whole transaction: it alone is
 * answered with its error; the one before it runs again, and both good
 * ones are committed in a new transaction. */
static void
s_lost(int what)
{
	char path[4096];
	struct event_base *base = event_base_new();
	store_t *st = s_node(path, sizeof path);
	group_t *g;
	w_t w[3] = {
		{ .id = "a", .method = "card" },
		{ .what = what },
		{ .id = "c", .method = "card" },
	};
	int counter = 0;

	REQUIRE(st != NULL && base != NULL);
	g = group_new(base, st);
	s_add(g, w, 3, path, &counter);
	group_flush(g);
	CHECK_EQ_INT(counter, 3);
	CHECK_EQ_INT(w[1].answered, 1);
	CHECK_EQ_INT(w[1].rc, -1);
	CHECK_STR(w[1].msg, "disk I/O error (simulated)");
	CHECK_EQ_INT(w[1].runs, 1);
	CHECK_EQ_INT(w[0].runs, 2);
	CHECK_EQ_INT(w[2].runs, 1);
	CHECK_EQ_INT(w[0].rc, 0);
	CHECK_EQ_INT(w[0].created, 1);
	CHECK_EQ_INT(w[2].rc, 0);
	CHECK_EQ_INT(w[0].seen, 2);
	CHECK_EQ_INT(s_committed(path, "SELECT count(*) FROM payments"), 2);
	s_check_log(st);
	group_destroy(&g);
	store_close(&st);
	event_base_free(base);
}

TEST(group_lost_transaction_runs_the_others_again)
{
	s_lost(LOSE_TXN);
}

/* The same, lost under a command's own part (store_txn inside the
 * write's): the store is already out of the transaction. */
TEST(group_lost_transaction_in_a_command)
{
	s_lost(LOSE_TXN_INNER);
}

/* Writes left when the group is destroyed (a daemon stopping) are run
 * and answered, not dropped. */
TEST(group_destroy_answers_what_is_gathered)
{
	char path[4096];
	struct event_base *base = event_base_new();
	store_t *st = s_node(path, sizeof path);
	group_t *g;
	w_t w = { .id = "a", .method = "card" };
	int counter = 0;

	REQUIRE(st != NULL && base != NULL);
	g = group_new(base, st);
	s_add(g, &w, 1, path, &counter);
	group_destroy(&g);
	CHECK_EQ_INT(counter, 1);
	CHECK_EQ_INT(w.rc, 0);
	CHECK_EQ_INT(w.seen, 1);
	store_close(&st);
	event_base_free(base);
}
