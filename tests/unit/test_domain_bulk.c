/*
 * test_domain_bulk: ops applied in a bulk (store.h), as a node applies the
 * batches it pulls, leave exactly the state the same ops applied one by
 * one leave: the stock on hand a bulk holds back and writes once per
 * (site, sku) (stock.c) is written before a claim of a movement id undoes
 * a movement, at a savepoint and when more positions are held than the
 * table takes, and a rollback drops it; the rows of held movements,
 * inserted 64 in one statement, are recorded as they would have been at
 * once when an id among them is taken. (Every rule's histories are also
 * applied in bulks, in a shuffled order, by dh_rule_run.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain_harness.h"
#include "harness.h"
#include "stock.h"
#include "store.h"

/* Ingests the ops idx[0..n) of h into st in one transaction, a bulk when
 * bulk is set. 0, or -1 after recording a failure. */
static int
s_ingest(store_t *st, const dh_history_t *h, const size_t *idx, size_t n,
    int bulk)
{
	ingest_result_t res;
	err_t err;
	size_t i;

	if (!CHECK_MSG(store_begin(st, &err) == 0, "begin: %s", err.msg))
		return -1;
	if (bulk)
		store_bulk_begin(st);
	for (i = 0; i < n; i++) {
		const dh_op_t *g = &h->ops[idx[i]];

		if (!CHECK_MSG(store_ingest(st, &g->op, g->body, g->len, &res,
				   &err) == 0,
			"ingest %s/%llu: %s", g->op.origin,
			(unsigned long long)g->op.seq, err.msg)) {
			store_rollback(st);
			return -1;
		}
	}
	if (!CHECK_MSG(store_commit(st, &err) == 0, "commit: %s", err.msg))
		return -1;
	return 0;
}

/* Ingests h in order into two new replicas, one op by one and in one
 * bulk, and checks their states are the same. Returns the bulk's replica
 * (caller closes), or NULL after a failure. */
static store_t *
s_both(const dh_history_t *h, const char *name)
{
	char one[64], bulk[64];
	size_t *idx = malloc((h->n + 1) * sizeof *idx), i;
	store_t *a, *b = NULL;
	dh_snapshot_t sa, sb;

	if (idx == NULL)
		abort();
	for (i = 0; i < h->n; i++)
		idx[i] = i;
	memset(&sa, 0, sizeof sa);
	memset(&sb, 0, sizeof sb);
	snprintf(one, sizeof one, "%s-one-by-one", name);
	snprintf(bulk, sizeof bulk, "%s-bulk", name);
	if ((a = dh_open(harness_tmpdir(), one)) != NULL &&
	    (b = dh_open(harness_tmpdir(), bulk)) != NULL &&
	    s_ingest(a, h, idx, h->n, 0) == 0 &&
	    s_ingest(b, h, idx, h->n, 1) == 0) {
		dh_snapshot(a, &sa);
		dh_snapshot(b, &sb);
		if (!dh_same(&sa, &sb, one, bulk))
			store_close(&b);
	} else {
		store_close(&b);
	}
	dh_snapshot_free(&sa);
	dh_snapshot_free(&sb);
	store_close(&a);
	free(idx);
	return b;
}

/* A movement that made its position alone, undone by a claim of its id
 * that arrives later in the same bulk and wins (an older clock): one by
 * one, the undo takes the position away and the winner makes it again
 * with its own delta; what the bulk held of the first must be written
 * before the undo, or it would count too. */
TEST(a_claim_undoing_a_held_movement_sees_it_written)
{
	dh_history_t h = { 0 };
	store_t *st;

	dh_add(&h, "S001", 1, dh_at(5, 0), STOCK_ENTITY, "S001-MV-L", "add",
	    dh_move_fields("S001", "SKU-L", 5, "receipt", NULL, NULL), 1);
	dh_add(&h, "S001", 2, dh_at(1, 0), STOCK_ENTITY, "S001-MV-L", "add",
	    dh_move_fields("S001", "SKU-L", 3, "receipt", NULL, NULL), 1);
	dh_add(&h, "S001", 3, dh_at(6, 0), STOCK_ENTITY, "S001-MV-M", "add",
	    dh_move_fields("S001", "SKU-M", 2, "receipt", NULL, NULL), 1);
	if ((st = s_both(&h, "claim")) != NULL) {
		CHECK_EQ_INT(dh_on_hand(st, "S001", "SKU-L"), 3);
		CHECK_EQ_INT(dh_on_hand(st, "S001", "SKU-M"), 2);
		store_close(&st);
	}
	dh_history_free(&h);
}

/* Claims inside a full insert of held rows (64): one id claimed back by
 * an older clock, whose loser made its position alone (gone, and the
 * winner's made), one claimed in vain by a newer one. The rows around
 * them are in, and the claims recorded as they would have been at once. */
TEST(claims_inside_a_full_insert_are_recorded_as_at_once)
{
	dh_history_t h = { 0 };
	char key[64], sku[32];
	store_t *st;
	uint64_t seq = 0;
	int i;

	for (i = 1; i <= 100; i++) {
		snprintf(key, sizeof key, "S001-C-%d", i);
		snprintf(sku, sizeof sku, i == 3 ? "SKU-LONE" : "SKU-%d",
		    i % 5);
		++seq;
		dh_add(&h, "S001", seq, dh_at(10, (uint32_t)seq), STOCK_ENTITY,
		    key, "add",
		    dh_move_fields("S001", sku, i, "receipt", NULL, NULL), 1);
		if (i != 30)
			continue;
		++seq;
		dh_add(&h, "S001", seq, dh_at(1, 0), STOCK_ENTITY, "S001-C-3",
		    "add",
		    dh_move_fields("S001", "SKU-OTHER", 7, "receipt", NULL,
			NULL),
		    1);
		++seq;
		dh_add(&h, "S001", seq, dh_at(20, 0), STOCK_ENTITY, "S001-C-5",
		    "add",
		    dh_move_fields("S001", "SKU-0", 1000, "receipt", NULL,
			NULL),
		    1);
	}
	if ((st = s_both(&h, "chunk")) != NULL) {
		CHECK_EQ_INT(dh_on_hand(st, "S001", "SKU-OTHER"), 7);
		CHECK_EQ_INT(store_query_int(st,
				 store_stmt(st,
				     "SELECT count(*) FROM stock WHERE sku = "
				     "'SKU-LONE'"),
				 -1),
		    0);
		CHECK_EQ_INT(store_query_int(st,
				 store_stmt(st,
				     "SELECT count(*) FROM stock_movements"),
				 -1),
		    100);
		store_close(&st);
	}
	dh_history_free(&h);
}

/* The same movements again, in a bulk, after their ops left the log and
 * their rows stayed (the hub's log repaired by anti-entropy, a node
 * fetching back an op of its own): each is a claim its own movement wins,
 * nothing is counted twice, in a full insert (64) or one by one. */
TEST(movements_applied_again_are_not_counted_twice)
{
	dh_history_t h = { 0 };
	char key[64];
	store_t *st = dh_open(harness_tmpdir(), "S008");
	size_t idx[70];
	int i;

	REQUIRE(st != NULL);
	for (i = 0; i < 70; i++) {
		snprintf(key, sizeof key, "S001-A-%d", i);
		dh_add(&h, "S001", (uint64_t)i + 1, dh_at(1, (uint32_t)i),
		    STOCK_ENTITY, key, "add",
		    dh_move_fields("S001", i % 2 ? "SKU-A" : "SKU-B", 1,
			"receipt", NULL, NULL),
		    1);
		idx[i] = (size_t)i;
	}
	REQUIRE(s_ingest(st, &h, idx, 70, 0) == 0);
	CHECK_EQ_INT(dh_on_hand(st, "S001", "SKU-A"), 35);
	REQUIRE(sqlite3_exec(store_db(st), "DELETE FROM op_log", NULL, NULL,
		    NULL) == SQLITE_OK);
	REQUIRE(s_ingest(st, &h, idx, 70, 1) == 0);
	CHECK_EQ_INT(dh_on_hand(st, "S001", "SKU-A"), 35);
	CHECK_EQ_INT(dh_on_hand(st, "S001", "SKU-B"), 35);
	CHECK_EQ_INT(store_query_int(st,
			 store_stmt(st, "SELECT count(*) FROM stock_movements"),
			 -1),
	    70);
	store_close(&st);
	dh_history_free(&h);
}

/* More positions in one bulk than it holds at once (1024): the table is
 * written when full and starts again; every sum is right, positions
 * moved back to 0 included (a movement makes its position, whatever the
 * sum). */
TEST(more_positions_than_the_table_holds)
{
	dh_history_t h = { 0 };
	char key[64], sku[32];
	store_t *st;
	uint64_t seq = 0;
	int i;

	for (i = 0; i < 1500; i++) {
		snprintf(key, sizeof key, "S001-R-%d", i);
		snprintf(sku, sizeof sku, "SKU-%d", i % 1300);
		++seq;
		dh_add(&h, "S001", seq, dh_at(1, (uint32_t)seq), STOCK_ENTITY,
		    key, "add",
		    dh_move_fields("S001", sku, i < 1300 ? 2 : -2,
			i < 1300 ? "receipt" : "adjustment", NULL, NULL),
		    1);
	}
	if ((st = s_both(&h, "many")) != NULL) {
		CHECK_EQ_INT(dh_on_hand(st, "S001", "SKU-7"), 0);
		CHECK_EQ_INT(dh_on_hand(st, "S001", "SKU-250"), 2);
		CHECK_EQ_INT(dh_on_hand(st, "S001", "SKU-1299"), 2);
		CHECK_EQ_INT(store_query_int(st,
				 store_stmt(st, "SELECT count(*) FROM stock"),
				 -1),
		    1300);
		store_close(&st);
	}
	dh_history_free(&h);
}

/* What a bulk holds is written at a savepoint (it belongs before the
 * mark), kept by a release, and dropped by a rollback of the whole
 * transaction. */
TEST(held_sums_follow_savepoints_and_rollback)
{
	dh_history_t h = { 0 };
	store_t *st = dh_open(harness_tmpdir(), "S009");
	store_mark_t mark;
	ingest_result_t res;
	err_t err;

	REQUIRE(st != NULL);
	dh_add(&h, "S001", 1, dh_at(1, 0), STOCK_ENTITY, "S001-MV-1", "add",
	    dh_move_fields("S001", "SKU-A", 4, "receipt", NULL, NULL), 1);
	dh_add(&h, "S001", 2, dh_at(2, 0), STOCK_ENTITY, "S001-MV-2", "add",
	    dh_move_fields("S001", "SKU-A", 6, "receipt", NULL, NULL), 1);
	REQUIRE(store_begin(st, &err) == 0);
	store_bulk_begin(st);
	REQUIRE(store_ingest(st, &h.ops[0].op, h.ops[0].body, h.ops[0].len,
		    &res, &err) == 0);
	CHECK_EQ_INT(dh_on_hand(st, "S001", "SKU-A"), 0); /* held */
	REQUIRE(store_savepoint(st, &mark, &err) == 0);
	CHECK_EQ_INT(dh_on_hand(st, "S001", "SKU-A"), 4);
	REQUIRE(store_release(st, &mark, &err) == 0);
	REQUIRE(store_ingest(st, &h.ops[1].op, h.ops[1].body, h.ops[1].len,
		    &res, &err) == 0);
	store_rollback(st);
	CHECK_EQ_INT(dh_on_hand(st, "S001", "SKU-A"), 0);
	/* Not a bulk any more: the next transaction writes as it goes. */
	REQUIRE(store_begin(st, &err) == 0);
	CHECK(!store_bulk(st));
	REQUIRE(store_ingest(st, &h.ops[1].op, h.ops[1].body, h.ops[1].len,
		    &res, &err) == 0);
	CHECK_EQ_INT(dh_on_hand(st, "S001", "SKU-A"), 6);
	REQUIRE(store_commit(st, &err) == 0);
	CHECK_EQ_INT(dh_on_hand(st, "S001", "SKU-A"), 6);
	store_close(&st);
	dh_history_free(&h);
}
