/*
 * test_inbox: the hub's inbox (store.h, schema/hub/0039). A batch's new
 * ops are received as one row and held from then on as a logged op is:
 * their (origin, seq) taken, their chain kept, the same op again a
 * duplicate and another under its seq a conflict. Applied later, row by
 * row, each op is logged with the chain and the visibility it would have
 * had at once, or quarantined with the same reason, and the inbox is
 * empty again; an op that no longer decodes is quarantined, not left to
 * hold up the rest; a rollback forgets what it received.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply.h"
#include "catalog.h"
#include "chain.h"
#include "harness.h"
#include "hlc.h"
#include "op.h"
#include "stock.h"
#include "store.h"

#define WALL0 1700000000000ull

static uint64_t
s_wall(void)
{
	return WALL0;
}

static store_t *
s_open_hub(void)
{
	char path[4200];
	err_t err;
	store_t *st;

	snprintf(path, sizeof path, "%s/hub.db", harness_tmpdir());
	if ((st = store_open(path, STORE_HUB, 1, &apply_rules, &err)) == NULL) {
		harness_fail(__FILE__, __LINE__, "store_open: %s", err.msg);
		return NULL;
	}
	store_set_wall(st, s_wall);
	if (store_begin(st, &err) ||
	    store_meta_set_text(st, "site", "HQ", &err) ||
	    store_meta_set_text(st, "role", "hq", &err) ||
	    store_commit(st, &err)) {
		harness_fail(__FILE__, __LINE__, "set site: %s", err.msg);
		store_close(&st);
	}
	return st;
}

static int64_t
s_int(store_t *st, const char *sql)
{
	sqlite3_stmt *s;
	int64_t n = -1;

	if (sqlite3_prepare_v2(store_db(st), sql, -1, &s, NULL) != SQLITE_OK)
		return -2;
	if (sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return n;
}

/* A receipt of S001 at seq, of delta units of sku A, encoded into w. */
static void
s_receipt(cbw_t *w, uint64_t seq, long long delta)
{
	op_t op;
	char id[32];
	err_t err;

	memset(&op, 0, sizeof op);
	snprintf(op.origin, sizeof op.origin, "S001");
	op.seq = seq;
	op.hlc = hlc_pack(WALL0 - 1000 + seq, 0);
	snprintf(op.entity, sizeof op.entity, "%s", STOCK_ENTITY);
	snprintf(id, sizeof id, "S001-r%llu", (unsigned long long)seq);
	snprintf(op.key, sizeof op.key, "%s", id);
	snprintf(op.kind, sizeof op.kind, "add");
	op.fields = json_pack("{s:s, s:s, s:I, s:s}", "site", "S001", "sku",
	    "A", "delta", (json_int_t)delta, "reason", "receipt");
	cbw_reset(w);
	if (op_encode(&op, w, &err))
		harness_fail(__FILE__, __LINE__, "encode: %s", err.msg);
	op_clear(&op);
}

/* Receives the op encoded in w as S001's, a store; returns the result or
 * -1 after recording a failure. */
static int
s_receive(store_t *st, const cbw_t *w, int fresh, err_t *err)
{
	op_t op;
	cbr_t r;
	ingest_result_t res = INGEST_DUPLICATE;
	int rc;

	cbr_init(&r, w->data, w->len);
	if (op_decode_head(&r, &op, err))
		return harness_fail(__FILE__, __LINE__, "decode: %s",
			   err->msg) -
		    1;
	rc = store_receive(st, &op, w->data, w->len, "store", fresh, &res, err);
	op_clear(&op);
	if (rc != 0)
		return harness_fail(__FILE__, __LINE__, "receive: %s",
			   err->msg) -
		    1;
	return (int)res;
}

TEST(received_ops_are_held_and_applied_as_if_ingested)
{
	store_t *st = s_open_hub();
	cbw_t w;
	err_t err;
	uint64_t max = 0, count = 0, i;
	uint8_t c[CHAIN_BYTES], want[CHAIN_BYTES];
	char hex[65];
	size_t done = 0, quarantined = 0;
	store_hub_t hub = { NULL, NULL, NULL };

	REQUIRE(st != NULL);
	cbw_init(&w);
	/* One batch of three new ops: one row. */
	REQUIRE(store_begin(st, &err) == 0);
	chain_start("S001", want);
	for (i = 1; i <= 3; i++) {
		s_receipt(&w, i, 10);
		chain_next(want, w.data, w.len, want);
		CHECK_EQ_INT(s_receive(st, &w, 1, &err), INGEST_APPLIED);
	}
	CHECK_EQ_INT(store_receive_end(st, &err), 0);
	CHECK_EQ_INT(store_commit(st, &err), 0);
	CHECK_EQ_INT(s_int(st, "SELECT count(*) FROM op_inbox"), 1);
	CHECK_EQ_INT(s_int(st, "SELECT count(*) FROM op_log"), 0);

	/* Held: its seqs, its chain, its count in a digest. */
	CHECK_EQ_INT(store_origin_max_seq(st, "S001", &max, &err), 0);
	CHECK_EQ_UINT(max, 3);
	CHECK_EQ_INT(store_chain_at(st, "S001", 3, c, &err), 0);
	CHECK_MEM(c, sizeof c, want, sizeof want);
	CHECK_EQ_INT(store_digest(st, "S001", 2, 9, &count, hex, &err), 0);
	CHECK_EQ_UINT(count, 2);

	/* The same op again is a duplicate; another under its seq a
	 * conflict, kept, nothing of it taken. */
	REQUIRE(store_begin(st, &err) == 0);
	s_receipt(&w, 2, 10);
	CHECK_EQ_INT(s_receive(st, &w, 0, &err), INGEST_DUPLICATE);
	s_receipt(&w, 2, 99);
	CHECK_EQ_INT(s_receive(st, &w, 0, &err), INGEST_CONFLICT);
	CHECK_STR(err.msg,
	    "op S001/2: differs from the op held under this seq (a restored "
	    "or copied data folder, or a forgery)");
	CHECK_EQ_INT(store_commit(st, &err), 0);
	CHECK_EQ_INT(store_conflict_count(st), 1);

	/* A batch that follows on chains on from the held one. */
	REQUIRE(store_begin(st, &err) == 0);
	s_receipt(&w, 4, 1);
	chain_next(want, w.data, w.len, want);
	CHECK_EQ_INT(s_receive(st, &w, 1, &err), INGEST_APPLIED);
	CHECK_EQ_INT(store_commit(st, &err), 0); /* writes what is kept */
	CHECK_EQ_INT(s_int(st, "SELECT count(*) FROM op_inbox"), 2);
	CHECK_EQ_INT(store_chain_at(st, "S001", 4, c, &err), 0);
	CHECK_MEM(c, sizeof c, want, sizeof want);

	/* Applied row by row: logged with their chains, applied once. */
	REQUIRE(store_begin(st, &err) == 0);
	CHECK_EQ_INT(store_apply_received(st, 2, 0, &hub, &done, &quarantined,
			 &err),
	    0);
	CHECK_EQ_UINT(done, 3); /* the first row whole */
	CHECK_EQ_INT(store_apply_received(st, 10, 0, &hub, &done, &quarantined,
			 &err),
	    0);
	CHECK_EQ_UINT(done, 1);
	CHECK_EQ_UINT(quarantined, 0);
	CHECK_EQ_INT(store_commit(st, &err), 0);
	CHECK_EQ_INT(s_int(st, "SELECT count(*) FROM op_inbox"), 0);
	CHECK_EQ_INT(s_int(st, "SELECT count(*) FROM op_log"), 4);
	CHECK_EQ_INT(s_int(st, "SELECT sum(on_hand) FROM stock"), 31);
	CHECK_EQ_INT(store_chain_at(st, "S001", 4, c, &err), 0);
	CHECK_MEM(c, sizeof c, want, sizeof want);
	CHECK_EQ_INT(store_origin_max_seq(st, "S001", &max, &err), 0);
	CHECK_EQ_UINT(max, 4);
	/* Logged, it is still a duplicate. */
	REQUIRE(store_begin(st, &err) == 0);
	s_receipt(&w, 4, 1);
	CHECK_EQ_INT(s_receive(st, &w, 0, &err), INGEST_DUPLICATE);
	CHECK_EQ_INT(store_commit(st, &err), 0);
	cbw_free(&w);
	store_close(&st);
}

TEST(a_refused_received_op_is_quarantined_with_its_reason)
{
	store_t *st = s_open_hub();
	cbw_t w;
	op_t op;
	err_t err;
	size_t done = 0, quarantined = 0;
	store_hub_t hub = { NULL, NULL, NULL };

	REQUIRE(st != NULL);
	cbw_init(&w);
	/* A store writes no catalog: refused where it is applied. */
	memset(&op, 0, sizeof op);
	snprintf(op.origin, sizeof op.origin, "S001");
	op.seq = 1;
	op.hlc = hlc_pack(WALL0 - 1000, 0);
	snprintf(op.entity, sizeof op.entity, "%s", PRODUCT_ENTITY);
	snprintf(op.key, sizeof op.key, "TEA");
	snprintf(op.kind, sizeof op.kind, "set");
	op.fields = json_pack("{s:s}", "name", "Tea");
	REQUIRE(op_encode(&op, &w, &err) == 0);
	op_clear(&op);
	REQUIRE(store_begin(st, &err) == 0);
	CHECK_EQ_INT(s_receive(st, &w, 1, &err), INGEST_APPLIED);
	s_receipt(&w, 2, 5);
	CHECK_EQ_INT(s_receive(st, &w, 1, &err), INGEST_APPLIED);
	CHECK_EQ_INT(store_apply_received(st, 100, 0, &hub, &done, &quarantined,
			 &err),
	    0);
	CHECK_EQ_INT(store_commit(st, &err), 0);
	CHECK_EQ_UINT(done, 2);
	CHECK_EQ_UINT(quarantined, 1);
	CHECK_EQ_INT(store_quarantine_count(st), 1);
	CHECK_EQ_INT(s_int(st, "SELECT count(*) FROM op_log"), 1);
	CHECK_EQ_INT(s_int(st,
			 "SELECT count(*) FROM quarantine WHERE reason = "
			 "'apply op S001/1: a store may not write product "
			 "(head office data)' AND length(chain) = 32"),
	    1);
	cbw_free(&w);
	store_close(&st);
}

TEST(a_rollback_forgets_what_was_received)
{
	store_t *st = s_open_hub();
	cbw_t w;
	err_t err;
	uint64_t max = 9;
	store_mark_t mark;

	REQUIRE(st != NULL);
	cbw_init(&w);
	REQUIRE(store_begin(st, &err) == 0);
	s_receipt(&w, 1, 1);
	CHECK_EQ_INT(s_receive(st, &w, 1, &err), INGEST_APPLIED);
	store_rollback(st);
	REQUIRE(store_begin(st, &err) == 0);
	REQUIRE(store_savepoint(st, &mark, &err) == 0);
	CHECK_EQ_INT(s_receive(st, &w, 1, &err), INGEST_APPLIED);
	CHECK_EQ_INT(store_receive_end(st, &err), 0);
	CHECK_EQ_INT(store_rollback_to(st, &mark), 0);
	CHECK_EQ_INT(store_commit(st, &err), 0);
	CHECK_EQ_INT(s_int(st, "SELECT count(*) FROM op_inbox"), 0);
	CHECK_EQ_INT(store_origin_max_seq(st, "S001", &max, &err), 0);
	CHECK_EQ_UINT(max, 0);
	cbw_free(&w);
	store_close(&st);
}

/* An op the inbox holds that does not decode as the op received under its
 * seq (a decoder made stricter since) is quarantined with why, and the
 * ops behind it are applied: nothing is held up by it. */
TEST(an_op_that_no_longer_decodes_is_quarantined_not_blocking)
{
	store_t *st = s_open_hub();
	cbw_t w, two;
	err_t err;
	size_t done = 0, quarantined = 0;
	store_hub_t hub = { NULL, NULL, NULL };
	sqlite3_stmt *s;
	uint8_t ends[8];
	uint32_t n;

	REQUIRE(st != NULL);
	cbw_init(&w);
	cbw_init(&two);
	REQUIRE(store_begin(st, &err) == 0);
	s_receipt(&w, 1, 3);
	CHECK_EQ_INT(s_receive(st, &w, 1, &err), INGEST_APPLIED);
	s_receipt(&w, 2, 4);
	CHECK_EQ_INT(s_receive(st, &w, 1, &err), INGEST_APPLIED);
	CHECK_EQ_INT(store_commit(st, &err), 0);
	/* The row now holds op 2's bytes under seq 1 too. */
	cbw_raw(&two, w.data, w.len);
	cbw_raw(&two, w.data, w.len);
	n = (uint32_t)w.len;
	ends[0] = (uint8_t)(n >> 24);
	ends[1] = (uint8_t)(n >> 16);
	ends[2] = (uint8_t)(n >> 8);
	ends[3] = (uint8_t)n;
	n *= 2;
	ends[4] = (uint8_t)(n >> 24);
	ends[5] = (uint8_t)(n >> 16);
	ends[6] = (uint8_t)(n >> 8);
	ends[7] = (uint8_t)n;
	REQUIRE(sqlite3_prepare_v2(store_db(st),
		    "UPDATE op_inbox SET ops = ?, ends = ?", -1, &s,
		    NULL) == SQLITE_OK);
	sqlite3_bind_blob(s, 1, two.data, (int)two.len, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, ends, sizeof ends, SQLITE_STATIC);
	CHECK_EQ_INT(sqlite3_step(s), SQLITE_DONE);
	sqlite3_finalize(s);
	REQUIRE(store_begin(st, &err) == 0);
	CHECK_EQ_INT(store_apply_received(st, 100, 0, &hub, &done, &quarantined,
			 &err),
	    0);
	CHECK_EQ_INT(store_commit(st, &err), 0);
	CHECK_EQ_UINT(done, 2);
	CHECK_EQ_UINT(quarantined, 1);
	CHECK_EQ_INT(s_int(st, "SELECT count(*) FROM op_inbox"), 0);
	CHECK_EQ_INT(s_int(st,
			 "SELECT count(*) FROM quarantine WHERE seq = 1 AND "
			 "reason = 'apply op S001/1: not the op received "
			 "under this seq'"),
	    1);
	CHECK_EQ_INT(s_int(st, "SELECT sum(on_hand) FROM stock"), 4);
	cbw_free(&w);
	cbw_free(&two);
	store_close(&st);
}

/* A row that fails to apply (its ends do not fit its ops: storage damage,
 * or a rule failing on it) is undone alone: the rows before it are
 * applied and kept, the slice that meets it first fails with why, and the
 * third time in a row its ops are quarantined with why and the rows behind
 * it applied. Nothing is dropped, nothing held up for good. */
TEST(a_row_that_fails_is_retried_then_quarantined_not_blocking)
{
	store_t *st = s_open_hub();
	cbw_t w;
	err_t err;
	size_t done = 0, quarantined = 0;
	store_hub_t hub = { NULL, NULL, NULL };

	REQUIRE(st != NULL);
	cbw_init(&w);
	REQUIRE(store_begin(st, &err) == 0);
	s_receipt(&w, 1, 3);
	CHECK_EQ_INT(s_receive(st, &w, 1, &err), INGEST_APPLIED);
	CHECK_EQ_INT(store_commit(st, &err), 0);
	CHECK_EQ_INT(sqlite3_exec(store_db(st),
			 "INSERT INTO op_inbox(origin, first, last, role, "
			 "chain, ends, chains, ops) VALUES ('S002', 1, 1, "
			 "'store', NULL, x'00000010', x'', x'00')",
			 NULL, NULL, NULL),
	    SQLITE_OK);
	REQUIRE(store_begin(st, &err) == 0);
	s_receipt(&w, 2, 4);
	CHECK_EQ_INT(s_receive(st, &w, 1, &err), INGEST_APPLIED);
	CHECK_EQ_INT(store_commit(st, &err), 0);
	CHECK_EQ_INT(s_int(st, "SELECT count(*) FROM op_inbox"), 3);

	/* The row before it is applied; the slice ends at it. */
	REQUIRE(store_begin(st, &err) == 0);
	CHECK_EQ_INT(store_apply_received(st, 100, 0, &hub, &done, &quarantined,
			 &err),
	    0);
	CHECK_EQ_INT(store_commit(st, &err), 0);
	CHECK_EQ_UINT(done, 1);
	CHECK_EQ_INT(s_int(st, "SELECT sum(on_hand) FROM stock"), 3);
	CHECK_EQ_INT(s_int(st, "SELECT count(*) FROM op_inbox"), 2);

	/* First in the slice, it fails it, with why. */
	REQUIRE(store_begin(st, &err) == 0);
	CHECK_EQ_INT(store_apply_received(st, 100, 0, &hub, &done, &quarantined,
			 &err),
	    -1);
	CHECK_STR(err.msg,
	    "apply received op S002/1: its ends do not fit its row");
	store_rollback(st);
	CHECK_EQ_INT(s_int(st, "SELECT count(*) FROM op_inbox"), 2);

	/* The third time, it is quarantined and the row behind it applied. */
	REQUIRE(store_begin(st, &err) == 0);
	CHECK_EQ_INT(store_apply_received(st, 100, 0, &hub, &done, &quarantined,
			 &err),
	    0);
	CHECK_EQ_INT(store_commit(st, &err), 0);
	CHECK_EQ_UINT(done, 2);
	CHECK_EQ_UINT(quarantined, 1);
	CHECK_EQ_INT(s_int(st, "SELECT count(*) FROM op_inbox"), 0);
	CHECK_EQ_INT(
	    s_int(st,
		"SELECT count(*) FROM quarantine WHERE origin = 'S002' "
		"AND seq = 1 AND reason = 'apply op S002/1: its inbox "
		"row failed 3 times: apply received op S002/1: its "
		"ends do not fit its row'"),
	    1);
	CHECK_EQ_INT(s_int(st, "SELECT sum(on_hand) FROM stock"), 7);
	cbw_free(&w);
	store_close(&st);
}
