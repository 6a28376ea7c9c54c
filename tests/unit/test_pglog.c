/*
 * test_pglog: the hubs' shared op log in PostgreSQL (hub/pglog.c).
 *
 * Runs against the database $BL_PG_URI names, which tests/run.sh starts
 * (tests/pg.sh) for `make test`; without it the whole program prints one
 * SKIP line and "RESULT 0 0". By hand:
 *
 *   D=$(mktemp -d); U=$(tests/pg.sh start $D)
 *   BL_PG_URI=$U build/san/tests/unit/test_pglog; tests/pg.sh stop $D
 *
 * The database is shared by the tests of one run and kept between runs of
 * one cluster, so every test writes origins of its own (s_origin) and
 * counts gseqs from the head it found; nothing else may append meanwhile.
 *
 * The concurrency proof forks writer processes that append batches of
 * random size while reader processes tail the log by "gseq > last seen",
 * and checks that no reader ever sees a gseq other than last + 1. The same
 * check run over appends without the advisory lock (pglog_set_unordered)
 * shows it catches the outbox gap.
 */
#include <errno.h>
#include <libpq-fe.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "pglog.h"
#include "text.h"

/* The concurrency runs. */
#define CW_WRITERS 4
#define CW_READERS 2
#define CW_OPS 2000	     /* per writer, ordered run */
#define CW_OPS_UNORDERED 500 /* per writer, unordered run */
#define CW_OPS_HELD 500	     /* per writer, holding run */
#define CW_MAX_BATCH 50
#define CW_MAX_PAUSE_US 2000
#define CW_READ_LIMIT 100
#define CW_DEADLINE_S 60
#define CW_UNORDERED_ROUNDS 5

static const char *s_uri;
static char s_tag[32]; /* this run's, in every origin it writes */

/* Without a database the whole program is skipped, before the harness's
 * main runs: counted neither passed nor failed. */
__attribute__((constructor(200))) static void
s_setup(void)
{
	s_uri = getenv("BL_PG_URI");
	if (s_uri == NULL || s_uri[0] == '\0') {
		printf("SKIP test_pglog: BL_PG_URI is not set (make test sets "
		       "it; or start a cluster with tests/pg.sh)\n");
		printf("RESULT 0 0\n");
		exit(0);
	}
	snprintf(s_tag, sizeof s_tag, "t%ld-%lld", (long)getpid(),
	    (long long)time(NULL));
}

static double
s_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* "t1234-1700000000-NAME": an origin no other test or run writes. */
static const char *
s_origin(const char *name)
{
	static char buf[8][64];
	static int next;
	char *b = buf[next++ % 8];

	snprintf(b, sizeof buf[0], "%s-%s", s_tag, name);
	return b;
}

static uint64_t
s_mix(uint64_t z)
{
	z += 0x9e3779b97f4a7c15ull;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* The hash the tests give (origin's number w, seq): derived, so a reader
 * can check what it reads. */
static void
s_hash(uint8_t *hash, uint64_t w, uint64_t seq)
{
	int i;

	for (i = 0; i < PGLOG_HASH_BYTES; i++)
		hash[i] = (uint8_t)s_mix(w << 40 ^ seq << 8 ^ (uint64_t)i);
}

/* An op of origin with seq, body "op ORIGIN/SEQ" in body (64 bytes) and
 * every hash byte fill. */
static pglog_op_t
s_op(const char *origin, uint64_t seq, char *body, uint8_t fill)
{
	pglog_op_t op;

	memset(&op, 0, sizeof op);
	op.origin = origin;
	op.seq = seq;
	memset(op.hash, fill, sizeof op.hash);
	snprintf(body, 64, "op %s/%llu", origin, (unsigned long long)seq);
	op.body = (const uint8_t *)body;
	op.body_len = strlen(body);
	return op;
}

static pglog_t *
s_open(void)
{
	err_t err;
	pglog_t *p = pglog_open(s_uri, &err);

	if (p == NULL) {
		harness_fail(__FILE__, __LINE__, "open: %s", err.msg);
		return NULL;
	}
	if (pglog_init_schema(p, &err) != 0) {
		harness_fail(__FILE__, __LINE__, "init schema: %s", err.msg);
		pglog_close(&p);
	}
	return p;
}

static uint64_t
s_head(pglog_t *p)
{
	err_t err;
	uint64_t h = 0;

	if (pglog_head(p, &h, &err) != 0)
		harness_fail(__FILE__, __LINE__, "head: %s", err.msg);
	return h;
}

/* Rows read back, copied. */
#define MAX_ROWS 32
typedef struct {
	size_t n;
	struct {
		uint64_t gseq;
		char origin[64];
		uint64_t seq;
		uint8_t hash[PGLOG_HASH_BYTES];
		char body[64];
		size_t body_len;
	} r[MAX_ROWS];
} rows_t;

static int
s_collect(void *arg, const pglog_row_t *row, err_t *err)
{
	rows_t *rows = arg;

	if (rows->n == MAX_ROWS)
		return err_set(err, ERR_INTERNAL, "collect: more than %d rows",
		    MAX_ROWS);
	rows->r[rows->n].gseq = row->gseq;
	text_printf(rows->r[rows->n].origin, sizeof rows->r[0].origin, "%s",
	    row->op.origin);
	rows->r[rows->n].seq = row->op.seq;
	memcpy(rows->r[rows->n].hash, row->op.hash, PGLOG_HASH_BYTES);
	rows->r[rows->n].body_len = row->op.body_len;
	memcpy(rows->r[rows->n].body, row->op.body,
	    row->op.body_len < 64 ? row->op.body_len : 64);
	rows->n++;
	return 0;
}

/* Reads up to limit rows after `after` into rows. */
static int
s_read(pglog_t *p, uint64_t after, size_t limit, rows_t *rows)
{
	err_t err;
	size_t n = 99;

	memset(rows, 0, sizeof *rows);
	if (pglog_read(p, after, limit, s_collect, rows, &n, &err) != 0)
		return harness_fail(__FILE__, __LINE__, "read: %s", err.msg),
		       -1;
	if (n != rows->n)
		return harness_fail(__FILE__, __LINE__,
			   "read: n_read %zu, rows %zu", n, rows->n),
		       -1;
	return 0;
}

TEST(append_and_read_back)
{
	pglog_t *p = s_open();
	const char *a = s_origin("a");
	char bodies[3][64];
	pglog_op_t ops[3];
	uint64_t gseqs[3], h0;
	pglog_status_t st[3];
	rows_t rows;
	err_t err;
	int i;

	REQUIRE(p != NULL);
	h0 = s_head(p);
	for (i = 0; i < 3; i++)
		ops[i] = s_op(a, (uint64_t)i + 1, bodies[i], (uint8_t)(i + 1));
	REQUIRE_EQ_INT(pglog_append(p, ops, 3, gseqs, st, &err), 0);
	CHECK_EQ_INT(err.code, ERR_OK);
	CHECK_STR(err.msg, "");
	for (i = 0; i < 3; i++) {
		CHECK_EQ_INT(st[i], PGLOG_APPENDED);
		CHECK_EQ_UINT(gseqs[i], h0 + 1 + (uint64_t)i);
	}
	CHECK_EQ_UINT(s_head(p), h0 + 3);
	if (s_read(p, h0, 10, &rows) == 0) {
		REQUIRE_EQ_INT(rows.n, 3);
		for (i = 0; i < 3; i++) {
			CHECK_EQ_UINT(rows.r[i].gseq, h0 + 1 + (uint64_t)i);
			CHECK_STR(rows.r[i].origin, a);
			CHECK_EQ_UINT(rows.r[i].seq, (uint64_t)i + 1);
			CHECK_MEM(rows.r[i].hash, PGLOG_HASH_BYTES, ops[i].hash,
			    PGLOG_HASH_BYTES);
			CHECK_MEM(rows.r[i].body, rows.r[i].body_len,
			    ops[i].body, ops[i].body_len);
		}
	}
	pglog_close(&p);
	CHECK(p == NULL);
}

TEST(duplicate_gets_its_gseq_back)
{
	pglog_t *p = s_open();
	const char *d = s_origin("dup");
	char bodies[5][64];
	pglog_op_t first[2], again[3], twice[2];
	uint64_t g1[2], g2[3], g3[2], h0;
	pglog_status_t s1[2], s2[3], s3[2];
	rows_t rows;
	err_t err;

	REQUIRE(p != NULL);
	h0 = s_head(p);
	first[0] = s_op(d, 1, bodies[0], 0xa1);
	first[1] = s_op(d, 2, bodies[1], 0xa2);
	REQUIRE_EQ_INT(pglog_append(p, first, 2, g1, s1, &err), 0);
	/* A node failing over re-pushes what the dead hub appended, with
	 * something new in between. */
	again[0] = first[0];
	again[1] = s_op(d, 3, bodies[2], 0xa3);
	again[2] = first[1];
	REQUIRE_EQ_INT(pglog_append(p, again, 3, g2, s2, &err), 0);
	CHECK_EQ_INT(err.code, ERR_OK);
	CHECK_EQ_INT(s2[0], PGLOG_DUPLICATE);
	CHECK_EQ_UINT(g2[0], g1[0]);
	CHECK_EQ_INT(s2[1], PGLOG_APPENDED);
	CHECK_EQ_UINT(g2[1], h0 + 3);
	CHECK_EQ_INT(s2[2], PGLOG_DUPLICATE);
	CHECK_EQ_UINT(g2[2], g1[1]);
	/* The same op twice in one batch is stored once. */
	twice[0] = s_op(d, 4, bodies[3], 0xa4);
	twice[1] = s_op(d, 4, bodies[4], 0xa4);
	REQUIRE_EQ_INT(pglog_append(p, twice, 2, g3, s3, &err), 0);
	CHECK_EQ_INT(s3[0], PGLOG_APPENDED);
	CHECK_EQ_INT(s3[1], PGLOG_DUPLICATE);
	CHECK_EQ_UINT(g3[0], h0 + 4);
	CHECK_EQ_UINT(g3[1], h0 + 4);
	/* Nothing stored twice, no hole left by the duplicates. */
	CHECK_EQ_UINT(s_head(p), h0 + 4);
	if (s_read(p, h0, 10, &rows) == 0) {
		CHECK_EQ_INT(rows.n, 4);
		CHECK_EQ_UINT(rows.r[2].seq, 3);
		CHECK_EQ_UINT(rows.r[3].seq, 4);
	}
	pglog_close(&p);
}

TEST(conflict_reported_not_stored)
{
	pglog_t *p = s_open();
	const char *c = s_origin("c");
	char bodies[6][64], want[ERR_MSG_MAX];
	pglog_op_t ops[4];
	uint64_t gseqs[4], h0;
	pglog_status_t st[4];
	rows_t rows;
	err_t err;

	REQUIRE(p != NULL);
	h0 = s_head(p);
	ops[0] = s_op(c, 1, bodies[0], 0x11);
	ops[1] = s_op(c, 2, bodies[1], 0x12);
	REQUIRE_EQ_INT(pglog_append(p, ops, 2, gseqs, st, &err), 0);
	/* seq 1 again with another hash, between two new ops. */
	ops[0] = s_op(c, 3, bodies[2], 0x13);
	ops[1] = s_op(c, 1, bodies[3], 0x22);
	ops[2] = s_op(c, 4, bodies[4], 0x14);
	REQUIRE_EQ_INT(pglog_append(p, ops, 3, gseqs, st, &err), 0);
	CHECK_EQ_INT(err.code, ERR_CONFLICT);
	snprintf(want, sizeof want,
	    "append op %s/1: conflict: hash 2222222222222222... differs from "
	    "1111111111111111... at gseq %llu",
	    c, (unsigned long long)h0 + 1);
	CHECK_STR(err.msg, want);
	CHECK_EQ_INT(st[0], PGLOG_APPENDED);
	CHECK_EQ_UINT(gseqs[0], h0 + 3);
	CHECK_EQ_INT(st[1], PGLOG_CONFLICT);
	CHECK_EQ_UINT(gseqs[1], h0 + 1);
	CHECK_EQ_INT(st[2], PGLOG_APPENDED);
	CHECK_EQ_UINT(gseqs[2], h0 + 4);
	/* Two conflicts: the first is named, the other counted. */
	ops[0] = s_op(c, 2, bodies[5], 0x33);
	ops[1] = s_op(c, 1, bodies[3], 0x22);
	REQUIRE_EQ_INT(pglog_append(p, ops, 2, gseqs, st, &err), 0);
	CHECK_EQ_INT(err.code, ERR_CONFLICT);
	snprintf(want, sizeof want,
	    "append op %s/2: conflict: hash 3333333333333333... differs from "
	    "1212121212121212... at gseq %llu (and 1 more)",
	    c, (unsigned long long)h0 + 2);
	CHECK_STR(err.msg, want);
	/* The stored ops are the first ones, once each. */
	CHECK_EQ_UINT(s_head(p), h0 + 4);
	if (s_read(p, h0, 10, &rows) == 0) {
		REQUIRE_EQ_INT(rows.n, 4);
		CHECK_EQ_UINT(rows.r[0].seq, 1);
		CHECK_EQ_INT(rows.r[0].hash[0], 0x11);
		CHECK_EQ_UINT(rows.r[1].seq, 2);
		CHECK_EQ_INT(rows.r[1].hash[0], 0x12);
	}
	pglog_close(&p);
}

/* A batch larger than one statement carries (pglog.c sends a batch in
 * statements of a few thousand ops): ops stored before, a conflict, and
 * ops the batch holds twice on both sides of a statement's end keep the
 * contract, and the new ones still take consecutive gseqs in batch
 * order. */
#define BIG_BATCH 10000
/* What pglog_held saw: origins, seqs and reasons of ours. */
typedef struct {
	const char *origin;
	int n;
	uint64_t seq[4];
	char reason[4][64];
} held_seen_t;

static int
s_held_row(void *arg, const pglog_row_t *row, err_t *err)
{
	held_seen_t *h = arg;

	(void)err;
	if (strcmp(row->op.origin, h->origin) != 0 || h->n == 4)
		return 0;
	h->seq[h->n] = row->op.seq;
	snprintf(h->reason[h->n++], sizeof h->reason[0], "%s", row->reason);
	return 0;
}

/* A held op is kept once with its first reason, outside the order (no
 * gseq), read back by pglog_held, and leaves op_held when it is appended. */
TEST(held_ops_are_kept_until_appended)
{
	pglog_t *p = s_open();
	const char *o = s_origin("held");
	char bodies[2][64];
	pglog_op_t ops[2];
	uint64_t h0, h, gseqs[1], last, next;
	pglog_status_t st[1];
	held_seen_t seen;
	size_t n;
	err_t err;

	REQUIRE(p != NULL);
	h0 = s_head(p);
	ops[0] = s_op(o, 1, bodies[0], 0x41);
	ops[1] = s_op(o, 2, bodies[1], 0x42);
	REQUIRE_EQ_INT(pglog_begin(p, &h, &err), 0);
	CHECK_EQ_INT(pglog_hold_in(p, &ops[0], "clock ahead", &err), 0);
	CHECK_EQ_INT(pglog_hold_in(p, &ops[1], "order not held", &err), 0);
	CHECK_EQ_INT(pglog_hold_in(p, &ops[0], "another reason", &err), 0);
	REQUIRE_EQ_INT(pglog_commit(p, &err), 0);
	CHECK_EQ_UINT(s_head(p), h0);
	memset(&seen, 0, sizeof seen);
	seen.origin = o;
	CHECK_EQ_INT(pglog_held(p, 0, s_held_row, &seen, &last, NULL, &err), 0);
	REQUIRE_EQ_INT(seen.n, 2);
	CHECK_EQ_UINT(seen.seq[0], 1);
	CHECK_STR(seen.reason[0], "clock ahead");
	CHECK_EQ_UINT(seen.seq[1], 2);
	CHECK_STR(seen.reason[1], "order not held");
	/* Appended, the first leaves op_held; the second stays. */
	REQUIRE_EQ_INT(pglog_append(p, ops, 1, gseqs, st, &err), 0);
	CHECK_EQ_INT(st[0], PGLOG_APPENDED);
	CHECK_EQ_UINT(gseqs[0], h0 + 1);
	memset(&seen, 0, sizeof seen);
	seen.origin = o;
	CHECK_EQ_INT(pglog_held(p, 0, s_held_row, &seen, &last, NULL, &err), 0);
	REQUIRE_EQ_INT(seen.n, 1);
	CHECK_EQ_UINT(seen.seq[0], 2);
	/* Read on from the last hold number: only what was held since. */
	ops[0] = s_op(o, 3, bodies[0], 0x43);
	REQUIRE_EQ_INT(pglog_begin(p, &h, &err), 0);
	CHECK_EQ_INT(pglog_hold_in(p, &ops[0], "later", &err), 0);
	REQUIRE_EQ_INT(pglog_commit(p, &err), 0);
	memset(&seen, 0, sizeof seen);
	seen.origin = o;
	CHECK_EQ_INT(pglog_held(p, last, s_held_row, &seen, &next, &n, &err),
	    0);
	CHECK_EQ_UINT(n, 1);
	REQUIRE_EQ_INT(seen.n, 1);
	CHECK_EQ_UINT(seen.seq[0], 3);
	CHECK_STR(seen.reason[0], "later");
	CHECK(next > last);
	CHECK_EQ_INT(pglog_held(p, next, s_held_row, &seen, &last, &n, &err),
	    0);
	CHECK_EQ_UINT(n, 0);
	CHECK_EQ_UINT(last, next);
	pglog_close(&p);
}

TEST(big_batch_keeps_the_contract)
{
	pglog_t *p = s_open();
	const char *b = s_origin("big");
	static char bodies[BIG_BATCH][64];
	static pglog_op_t ops[BIG_BATCH];
	static uint64_t gseqs[BIG_BATCH];
	static pglog_status_t st[BIG_BATCH];
	char want[ERR_MSG_MAX];
	uint64_t h0, next;
	size_t i;
	err_t err;

	REQUIRE(p != NULL);
	h0 = s_head(p);
	for (i = 0; i < 100; i++)
		ops[i] = s_op(b, i + 1, bodies[i], (uint8_t)(i + 1));
	REQUIRE_EQ_INT(pglog_append(p, ops, 100, gseqs, st, &err), 0);
	/* seqs 1 to 9998 (1 to 100 stored, 50 of them with another hash),
	 * then seq 200 again as it is and seq 300 with another hash. */
	for (i = 0; i < BIG_BATCH - 2; i++)
		ops[i] = s_op(b, i + 1, bodies[i],
		    (uint8_t)(i + 1 == 50 ? 0xee : i + 1));
	ops[BIG_BATCH - 2] = s_op(b, 200, bodies[BIG_BATCH - 2], 200);
	ops[BIG_BATCH - 1] = s_op(b, 300, bodies[BIG_BATCH - 1], 0xee);
	REQUIRE_EQ_INT(pglog_append(p, ops, BIG_BATCH, gseqs, st, &err), 0);
	CHECK_EQ_INT(err.code, ERR_CONFLICT);
	snprintf(want, sizeof want,
	    "append op %s/50: conflict: hash eeeeeeeeeeeeeeee... differs from "
	    "3232323232323232... at gseq %llu (and 1 more)",
	    b, (unsigned long long)h0 + 50);
	CHECK_STR(err.msg, want);
	for (i = 0, next = h0 + 101; i < BIG_BATCH - 2; i++) {
		if (i < 100) {
			CHECK_EQ_INT(st[i],
			    i + 1 == 50 ? PGLOG_CONFLICT : PGLOG_DUPLICATE);
			CHECK_EQ_UINT(gseqs[i], h0 + i + 1);
		} else {
			CHECK_EQ_INT(st[i], PGLOG_APPENDED);
			CHECK_EQ_UINT(gseqs[i], next++);
		}
	}
	CHECK_EQ_INT(st[BIG_BATCH - 2], PGLOG_DUPLICATE);
	CHECK_EQ_UINT(gseqs[BIG_BATCH - 2], gseqs[199]);
	CHECK_EQ_INT(st[BIG_BATCH - 1], PGLOG_CONFLICT);
	CHECK_EQ_UINT(gseqs[BIG_BATCH - 1], gseqs[299]);
	CHECK_EQ_UINT(s_head(p), h0 + BIG_BATCH - 2);
	pglog_close(&p);
}

TEST(bad_op_refused_whole_batch)
{
	pglog_t *p = s_open();
	const char *b = s_origin("bad");
	char bodies[2][64], want[ERR_MSG_MAX];
	pglog_op_t ops[2];
	uint64_t gseqs[2], h0;
	pglog_status_t st[2];
	err_t err;

	REQUIRE(p != NULL);
	h0 = s_head(p);
	ops[0] = s_op(b, 1, bodies[0], 1);
	ops[1] = s_op(b, (uint64_t)INT64_MAX + 1, bodies[1], 2);
	CHECK_EQ_INT(pglog_append(p, ops, 2, gseqs, st, &err), -1);
	CHECK_EQ_INT(err.code, ERR_BAD_REQUEST);
	snprintf(want, sizeof want,
	    "append op %s/9223372036854775808: seq past 9223372036854775807",
	    b);
	CHECK_STR(err.msg, want);
	ops[1].origin = NULL;
	CHECK_EQ_INT(pglog_append(p, ops, 2, gseqs, st, &err), -1);
	CHECK_STR(err.msg, "append op 1 of batch: no origin");
	CHECK_EQ_UINT(s_head(p), h0);
	pglog_close(&p);
}

TEST(empty_read_and_empty_batch)
{
	pglog_t *p = s_open();
	uint64_t h0, gseq;
	pglog_status_t st;
	rows_t rows;
	err_t err;

	REQUIRE(p != NULL);
	h0 = s_head(p);
	if (s_read(p, h0, 10, &rows) == 0)
		CHECK_EQ_INT(rows.n, 0);
	CHECK_EQ_INT(pglog_append(p, NULL, 0, &gseq, &st, &err), 0);
	CHECK_EQ_INT(err.code, ERR_OK);
	CHECK_EQ_UINT(s_head(p), h0);
	pglog_close(&p);
}

TEST(read_limit_respected)
{
	pglog_t *p = s_open();
	const char *l = s_origin("limit");
	char bodies[10][64];
	pglog_op_t ops[10];
	uint64_t gseqs[10], h0;
	pglog_status_t st[10];
	rows_t rows;
	err_t err;
	int i;

	REQUIRE(p != NULL);
	h0 = s_head(p);
	for (i = 0; i < 10; i++)
		ops[i] = s_op(l, (uint64_t)i + 1, bodies[i], (uint8_t)i);
	REQUIRE_EQ_INT(pglog_append(p, ops, 10, gseqs, st, &err), 0);
	REQUIRE(s_read(p, h0, 4, &rows) == 0);
	CHECK_EQ_INT(rows.n, 4);
	CHECK_EQ_UINT(rows.r[0].gseq, h0 + 1);
	CHECK_EQ_UINT(rows.r[3].gseq, h0 + 4);
	REQUIRE(s_read(p, h0 + 4, 4, &rows) == 0);
	CHECK_EQ_INT(rows.n, 4);
	CHECK_EQ_UINT(rows.r[0].seq, 5);
	REQUIRE(s_read(p, h0 + 8, 4, &rows) == 0);
	CHECK_EQ_INT(rows.n, 2);
	CHECK_EQ_UINT(rows.r[1].gseq, h0 + 10);
	pglog_close(&p);
}

TEST(reconnect_after_close)
{
	pglog_t *p = s_open(), *none = NULL;
	const char *r = s_origin("reopen");
	char body[64];
	pglog_op_t op;
	uint64_t gseq, h0;
	pglog_status_t st;
	err_t err;

	REQUIRE(p != NULL);
	h0 = s_head(p);
	pglog_close(&p);
	CHECK(p == NULL);
	pglog_close(&p);
	pglog_close(&none);
	pglog_close(NULL);
	p = s_open();
	REQUIRE(p != NULL);
	CHECK_EQ_UINT(s_head(p), h0);
	op = s_op(r, 1, body, 7);
	CHECK_EQ_INT(pglog_append(p, &op, 1, &gseq, &st, &err), 0);
	CHECK_EQ_UINT(gseq, h0 + 1);
	pglog_close(&p);
}

TEST(open_refused_names_server)
{
	err_t err;
	pglog_t *p;

	/* Nothing listens on port 1; the password is not repeated. */
	p = pglog_open("postgresql://u:secret@127.0.0.1:1/x", &err);
	CHECK(p == NULL);
	CHECK_EQ_INT(err.code, ERR_UNAVAILABLE);
	CHECK_STR(err.msg,
	    "open postgresql://u@127.0.0.1:1/x: connection to server at "
	    "\"127.0.0.1\", port 1 failed: Connection refused");
	pglog_close(&p);
}

static void
s_quiet(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/* Runs sql (with one text parameter param, or none when it is NULL) on a
 * connection of the test's own to uri. */
static int
s_sql_at(const char *uri, const char *sql, const char *param)
{
	PGconn *c = PQconnectdb(uri);
	PGresult *res;
	ExecStatusType st;

	if (PQstatus(c) != CONNECTION_OK) {
		harness_fail(__FILE__, __LINE__, "connect: %s",
		    PQerrorMessage(c));
		PQfinish(c);
		return -1;
	}
	PQsetNoticeProcessor(c, s_quiet, NULL);
	if (param != NULL)
		res = PQexecParams(c, sql, 1, NULL, &param, NULL, NULL, 0);
	else
		res = PQexec(c, sql);
	st = PQresultStatus(res);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		harness_fail(__FILE__, __LINE__, "%s: %s", sql,
		    PQresultErrorMessage(res));
	PQclear(res);
	PQfinish(c);
	return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : -1;
}

/* The same on the test's database. */
static int
s_sql(const char *sql, const char *param)
{
	return s_sql_at(s_uri, sql, param);
}

TEST(connection_loss_reported)
{
	char uri[512], app[64];
	const char *o = s_origin("lost");
	char body[64];
	pglog_op_t op;
	uint64_t gseq, h;
	pglog_status_t st;
	pglog_t *p;
	err_t err;

	snprintf(app, sizeof app, "pglog_test_%ld", (long)getpid());
	snprintf(uri, sizeof uri, "%s%capplication_name=%s", s_uri,
	    strchr(s_uri, '?') != NULL ? '&' : '?', app);
	p = pglog_open(uri, &err);
	REQUIRE_MSG(p != NULL, "open: %s", err.msg);
	CHECK_EQ_INT(pglog_head(p, &h, &err), 0);
	REQUIRE(s_sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
		      "WHERE application_name = $1",
		    app) == 0);
	CHECK_EQ_INT(pglog_head(p, &h, &err), -1);
	printf("# after pg_terminate_backend: %s\n", err.msg);
	CHECK_EQ_INT(err.code, ERR_UNAVAILABLE);
	CHECK_MSG(strncmp(err.msg, "head: op_log: connection lost: ", 31) == 0,
	    "head after the server cut us: %s", err.msg);
	op = s_op(o, 1, body, 1);
	CHECK_EQ_INT(pglog_append(p, &op, 1, &gseq, &st, &err), -1);
	CHECK_EQ_INT(err.code, ERR_UNAVAILABLE);
	CHECK_MSG(strncmp(err.msg, "append: begin: connection lost: ", 32) == 0,
	    "append after the server cut us: %s", err.msg);
	pglog_close(&p);
	/* The caller's way back: open again. */
	p = s_open();
	REQUIRE(p != NULL);
	h = s_head(p);
	CHECK_EQ_INT(pglog_append(p, &op, 1, &gseq, &st, &err), 0);
	CHECK_EQ_UINT(gseq, h + 1);
	pglog_close(&p);
}

TEST(schema_version_checked)
{
	pglog_t *p = s_open();
	err_t err;

	REQUIRE(p != NULL);
	/* Idempotent. */
	CHECK_EQ_INT(pglog_init_schema(p, &err), 0);
	REQUIRE(s_sql("UPDATE pglog_meta SET value = 99 "
		      "WHERE key = 'schema_version'",
		    NULL) == 0);
	CHECK_EQ_INT(pglog_init_schema(p, &err), -1);
	CHECK_EQ_INT(err.code, ERR_UPGRADE);
	CHECK_STR(err.msg,
	    "init schema: pglog_meta: schema version 99, this build knows 1");
	s_sql("UPDATE pglog_meta SET value = 1 WHERE key = 'schema_version'",
	    NULL);
	/* The connection is usable after the refusal. */
	CHECK_EQ_INT(pglog_init_schema(p, &err), 0);
	pglog_close(&p);
}

/* s_uri with its database name replaced by db (into buf). */
static int
s_uri_for(char *buf, size_t size, const char *db)
{
	const char *host = strstr(s_uri, "://");
	size_t end;
	const char *slash;

	if (host == NULL)
		return harness_fail(__FILE__, __LINE__,
			   "BL_PG_URI %s: not a URI", s_uri),
		       -1;
	end = strcspn(host + 3, "/?") + (size_t)(host + 3 - s_uri);
	slash = s_uri + end;
	snprintf(buf, size, "%.*s/%s%s", (int)end, s_uri, db,
	    *slash == '/' ? slash + strcspn(slash, "?") : slash);
	return 0;
}

TEST(fresh_database_starts_at_one)
{
	char db[64], uri[512], create[128], drop[128], body[64];
	const char *f = s_origin("fresh");
	pglog_op_t op;
	uint64_t gseq, h = 99;
	pglog_status_t st;
	pglog_t *p;
	err_t err;

	snprintf(db, sizeof db, "bl_pglog_%ld", (long)getpid());
	snprintf(create, sizeof create, "CREATE DATABASE %s", db);
	snprintf(drop, sizeof drop, "DROP DATABASE IF EXISTS %s", db);
	REQUIRE(s_uri_for(uri, sizeof uri, db) == 0);
	REQUIRE(s_sql(drop, NULL) == 0 && s_sql(create, NULL) == 0);
	p = pglog_open(uri, &err);
	if (CHECK_MSG(p != NULL, "open %s: %s", uri, err.msg)) {
		/* Before the schema: refused, and the statements prepared
		 * so far do not get in the way afterwards. */
		CHECK_EQ_INT(pglog_head(p, &h, &err), -1);
		CHECK_STR(err.msg,
		    "prepare statement: pglog_max: relation "
		    "\"op_log\" does not exist");
		CHECK_EQ_INT(pglog_init_schema(p, &err), 0);
		CHECK_EQ_INT(pglog_head(p, &h, &err), 0);
		CHECK_EQ_UINT(h, 0);
		op = s_op(f, 1, body, 1);
		CHECK_EQ_INT(pglog_append(p, &op, 1, &gseq, &st, &err), 0);
		CHECK_EQ_UINT(gseq, 1);
		pglog_close(&p);
	}
	s_sql(drop, NULL);
}

/* "A/1:1 A/2:2 ...": origin/seq:hseq of each held op read, into arg (a
 * char[256]). */
static int
s_held_list(void *arg, const pglog_row_t *row, err_t *err)
{
	char *list = arg;
	size_t len = strlen(list);

	(void)err;
	snprintf(list + len, 256 - len, "%s%s/%llu:%llu", len ? " " : "",
	    row->op.origin, (unsigned long long)row->op.seq,
	    (unsigned long long)row->hseq);
	return 0;
}

/* A cluster made before op_held had hold numbers: init_schema numbers
 * its held ops in key order, and new holds go on from there. */
TEST(held_ops_numbered_on_upgrade)
{
	char db[64], uri[512], create[128], drop[128], list[256] = "";
	char body[64];
	pglog_op_t op;
	uint64_t h, last = 0;
	pglog_t *p;
	err_t err;

	snprintf(db, sizeof db, "bl_pglog_up_%ld", (long)getpid());
	snprintf(create, sizeof create, "CREATE DATABASE %s", db);
	snprintf(drop, sizeof drop, "DROP DATABASE IF EXISTS %s", db);
	REQUIRE(s_uri_for(uri, sizeof uri, db) == 0);
	REQUIRE(s_sql(drop, NULL) == 0 && s_sql(create, NULL) == 0);
	REQUIRE(s_sql_at(uri,
		    "CREATE TABLE op_held (origin text NOT NULL, "
		    "seq bigint NOT NULL, hash bytea NOT NULL, "
		    "body bytea NOT NULL, reason text NOT NULL, "
		    "PRIMARY KEY (origin, seq)); "
		    "INSERT INTO op_held VALUES "
		    "('B', 1, decode(repeat('00', 32), 'hex'), 'b', 'r'), "
		    "('A', 2, decode(repeat('00', 32), 'hex'), 'a', 'r'), "
		    "('A', 1, decode(repeat('00', 32), 'hex'), 'a', 'r')",
		    NULL) == 0);
	p = pglog_open(uri, &err);
	if (!CHECK_MSG(p != NULL, "open %s: %s", uri, err.msg)) {
		s_sql(drop, NULL);
		return;
	}
	CHECK_EQ_INT(pglog_init_schema(p, &err), 0);
	CHECK_EQ_INT(pglog_held(p, 0, s_held_list, list, &last, NULL, &err), 0);
	CHECK_STR(list, "A/1:1 A/2:2 B/1:3");
	CHECK_EQ_UINT(last, 3);
	/* Once more changes nothing; a new hold takes the next number. */
	CHECK_EQ_INT(pglog_init_schema(p, &err), 0);
	op = s_op("C", 1, body, 1);
	REQUIRE_EQ_INT(pglog_begin(p, &h, &err), 0);
	CHECK_EQ_INT(pglog_hold_in(p, &op, "new", &err), 0);
	REQUIRE_EQ_INT(pglog_commit(p, &err), 0);
	list[0] = '\0';
	CHECK_EQ_INT(pglog_held(p, 0, s_held_list, list, &last, NULL, &err), 0);
	CHECK_STR(list, "A/1:1 A/2:2 B/1:3 C/1:4");
	pglog_close(&p);
	s_sql(drop, NULL);
}

/* bl-hub migrate's import (pglog_import_in), on a database of its own:
 * rows keep the gseqs they carry, holes included; a gseq not above the
 * last, or an (origin, seq) held, rolls the whole import back; appends
 * after it number from the highest + 1. */
TEST(import_keeps_gseqs)
{
	char db[64], uri[512], create[128], drop[128], body[4][64];
	const char *o = s_origin("import");
	pglog_row_t rows[3];
	pglog_op_t op;
	uint64_t gseq, h = 99;
	pglog_status_t st;
	pglog_t *p;
	err_t err;
	int i;

	snprintf(db, sizeof db, "bl_pglog_import_%ld", (long)getpid());
	snprintf(create, sizeof create, "CREATE DATABASE %s", db);
	snprintf(drop, sizeof drop, "DROP DATABASE IF EXISTS %s", db);
	REQUIRE(s_uri_for(uri, sizeof uri, db) == 0);
	REQUIRE(s_sql(drop, NULL) == 0 && s_sql(create, NULL) == 0);
	p = pglog_open(uri, &err);
	if (!CHECK_MSG(p != NULL, "open %s: %s", uri, err.msg)) {
		s_sql(drop, NULL);
		return;
	}
	CHECK_EQ_INT(pglog_init_schema(p, &err), 0);
	for (i = 0; i < 3; i++) {
		memset(&rows[i], 0, sizeof rows[i]);
		rows[i].op = s_op(o, (uint64_t)i + 1, body[i], (uint8_t)i);
	}
	rows[0].gseq = 2;
	rows[1].gseq = 3;
	rows[2].gseq = 7; /* a hole: 4 to 6 */
	/* A gseq not above the last: nothing stays. */
	CHECK_EQ_INT(pglog_begin(p, &h, &err), 0);
	CHECK_EQ_UINT(h, 0);
	rows[1].gseq = 2;
	CHECK_EQ_INT(pglog_import_in(p, rows, 3, &err), -1);
	CHECK_EQ_INT(err.code, ERR_CONFLICT);
	CHECK_MSG(strstr(err.msg, ": gseq 2 is not above 2") != NULL, "%s",
	    err.msg);
	CHECK_EQ_UINT(s_head(p), 0);
	/* An (origin, seq) imported twice: nothing stays either. */
	rows[1].gseq = 3;
	rows[1].op.seq = 1;
	CHECK_EQ_INT(pglog_begin(p, &h, &err), 0);
	CHECK_EQ_INT(pglog_import_in(p, rows, 3, &err), -1);
	CHECK_EQ_INT(err.code, ERR_CONFLICT);
	CHECK_MSG(strstr(err.msg, "at gseq 3: op_log holds") != NULL, "%s",
	    err.msg);
	CHECK_EQ_UINT(s_head(p), 0);
	/* In two calls, holes kept. */
	rows[1].op.seq = 2;
	CHECK_EQ_INT(pglog_begin(p, &h, &err), 0);
	CHECK_EQ_INT(pglog_import_in(p, rows, 2, &err), 0);
	CHECK_EQ_INT(pglog_import_in(p, rows + 2, 1, &err), 0);
	CHECK_EQ_INT(pglog_commit(p, &err), 0);
	CHECK_EQ_UINT(s_head(p), 7);
	/* The next append takes the highest + 1; a duplicate its gseq. */
	op = s_op(o, 4, body[3], 4);
	CHECK_EQ_INT(pglog_append(p, &op, 1, &gseq, &st, &err), 0);
	CHECK_EQ_UINT(gseq, 8);
	CHECK_EQ_INT(pglog_append(p, &rows[2].op, 1, &gseq, &st, &err), 0);
	CHECK_EQ_INT(st, PGLOG_DUPLICATE);
	CHECK_EQ_UINT(gseq, 7);
	pglog_close(&p);
	s_sql(drop, NULL);
}

/* ---- the concurrency proof ---- */

typedef struct {
	uint64_t rows;	     /* rows read */
	uint64_t jumps;	     /* gseqs that were not the last one + 1 */
	uint64_t jump_from;  /* the first jump: last seen... */
	uint64_t jump_to;    /* ...and the gseq read next */
	uint64_t misordered; /* an origin's seq that was not its last + 1 */
	uint64_t bad;	     /* foreign origin, wrong hash or body */
	int failed;
	char msg[ERR_MSG_MAX];
} cw_reader_t;

typedef struct {
	uint64_t batches;
	int failed;
	char msg[ERR_MSG_MAX];
} cw_writer_t;

/* Shared by the test and its children (an anonymous shared mapping). */
/* What a concurrency run's writers do. */
typedef enum {
	CW_APPEND,	     /* append under the lock (pglog_append) */
	CW_APPEND_UNORDERED, /* append without it (pglog_set_unordered) */
	CW_HOLD,	     /* hold (pglog_hold_in), read by pglog_held */
} cw_mode_t;

typedef struct {
	atomic_int writers_done;
	cw_mode_t mode;
	uint64_t base; /* the head (a holding run: hold number) before it */
	uint64_t ops;  /* per writer */
	uint64_t seed;
	char origin[CW_WRITERS][64];
	cw_reader_t readers[CW_READERS];
	cw_writer_t writers[CW_WRITERS];
} cw_run_t;

static uint64_t
s_rng_next(uint64_t *state)
{
	*state += 0x9e3779b97f4a7c15ull;
	return s_mix(*state);
}

static void
s_body(char *body, size_t size, int w, uint64_t seq)
{
	snprintf(body, size, "w%d op %llu", w, (unsigned long long)seq);
}

/* A writer: CW ops of its origin in batches of random size with random
 * pauses. Exits 0, or 1 after writing why into its slot. */
static void
s_writer(cw_run_t *run, int w)
{
	cw_writer_t *me = &run->writers[w];
	static char bodies[CW_MAX_BATCH][32];
	pglog_op_t ops[CW_MAX_BATCH];
	uint64_t gseqs[CW_MAX_BATCH], rng, seq = 1;
	pglog_status_t st[CW_MAX_BATCH];
	size_t k, i;
	err_t err;
	pglog_t *p = pglog_open(s_uri, &err);

	if (p == NULL)
		goto fail;
	pglog_set_unordered(p, run->mode == CW_APPEND_UNORDERED);
	rng = run->seed ^ s_mix((uint64_t)w + 1);
	while (seq <= run->ops) {
		k = 1 + (size_t)(s_rng_next(&rng) % CW_MAX_BATCH);
		if (k > run->ops - seq + 1)
			k = (size_t)(run->ops - seq + 1);
		for (i = 0; i < k; i++) {
			memset(&ops[i], 0, sizeof ops[i]);
			ops[i].origin = run->origin[w];
			ops[i].seq = seq + i;
			s_hash(ops[i].hash, (uint64_t)w, seq + i);
			s_body(bodies[i], sizeof bodies[i], w, seq + i);
			ops[i].body = (const uint8_t *)bodies[i];
			ops[i].body_len = strlen(bodies[i]);
		}
		if (run->mode == CW_HOLD) {
			if (pglog_begin(p, &gseqs[0], &err) != 0)
				goto fail;
			for (i = 0; i < k; i++)
				if (pglog_hold_in(p, &ops[i], "held", &err) !=
				    0)
					goto fail;
			if (pglog_commit(p, &err) != 0)
				goto fail;
			me->batches++;
			seq += k;
			usleep(
			    (useconds_t)(s_rng_next(&rng) % CW_MAX_PAUSE_US));
			continue;
		}
		if (pglog_append(p, ops, k, gseqs, st, &err) != 0)
			goto fail;
		for (i = 0; i < k; i++)
			if (st[i] != PGLOG_APPENDED ||
			    gseqs[i] != gseqs[0] + i) {
				err_set(&err, ERR_INTERNAL,
				    "writer %d: op %llu: status %d gseq %llu",
				    w, (unsigned long long)(seq + i), st[i],
				    (unsigned long long)gseqs[i]);
				goto fail;
			}
		me->batches++;
		seq += k;
		usleep((useconds_t)(s_rng_next(&rng) % CW_MAX_PAUSE_US));
	}
	/* Not pglog_close: _exit skips the sanitizers' leak check, and the
	 * connection goes with the process. */
	_exit(0);
fail:
	me->failed = 1;
	text_printf(me->msg, sizeof me->msg, "%s", err.msg);
	_exit(1);
}

typedef struct {
	cw_run_t *run;
	cw_reader_t *me;
	uint64_t last;
	uint64_t seqs[CW_WRITERS]; /* each origin's last seq seen */
} cw_tail_t;

/* Counts row: of one of the run's writers, the next seq of its origin,
 * with the hash and body that writer gave it. */
static void
s_check_row(cw_tail_t *t, const pglog_row_t *row)
{
	uint8_t hash[PGLOG_HASH_BYTES];
	char body[32];
	int w;

	t->me->rows++;
	for (w = 0; w < CW_WRITERS; w++)
		if (strcmp(row->op.origin, t->run->origin[w]) == 0)
			break;
	if (w == CW_WRITERS) {
		t->me->bad++;
		return;
	}
	if (row->op.seq != t->seqs[w] + 1)
		t->me->misordered++;
	t->seqs[w] = row->op.seq;
	s_hash(hash, (uint64_t)w, row->op.seq);
	s_body(body, sizeof body, w, row->op.seq);
	if (memcmp(hash, row->op.hash, sizeof hash) != 0 ||
	    row->op.body_len != strlen(body) ||
	    memcmp(row->op.body, body, row->op.body_len) != 0)
		t->me->bad++;
}

static int
s_tail_row(void *arg, const pglog_row_t *row, err_t *err)
{
	cw_tail_t *t = arg;

	(void)err;
	if (row->gseq != t->last + 1 && t->me->jumps++ == 0) {
		t->me->jump_from = t->last;
		t->me->jump_to = row->gseq;
	}
	t->last = row->gseq;
	s_check_row(t, row);
	return 0;
}

/* A held op, read by hold number: hseqs have holes (a hold of a key held
 * already takes one too), so what shows a skip is an origin's seqs. */
static int
s_held_tail_row(void *arg, const pglog_row_t *row, err_t *err)
{
	cw_tail_t *t = arg;

	(void)err;
	if (row->gseq != 0 || row->hseq <= t->last)
		t->me->bad++;
	t->last = row->hseq;
	s_check_row(t, row);
	return 0;
}

/* A reader: tails the log from the run's base by "gseq > last seen" until
 * the writers are done and it has read everything. */
static void
s_reader(cw_run_t *run, int r)
{
	cw_tail_t t;
	double deadline = s_now() + CW_DEADLINE_S;
	size_t n;
	int done;
	err_t err;
	pglog_t *p = pglog_open(s_uri, &err);

	memset(&t, 0, sizeof t);
	t.run = run;
	t.me = &run->readers[r];
	t.last = run->base;
	if (p == NULL)
		goto fail;
	for (;;) {
		/* Read before the call: writers done then means that this
		 * read sees every row. */
		done = atomic_load(&run->writers_done);
		if (run->mode == CW_HOLD
			? pglog_held(p, t.last, s_held_tail_row, &t, &t.last,
			      &n, &err) != 0
			: pglog_read(p, t.last, CW_READ_LIMIT, s_tail_row, &t,
			      &n, &err) != 0)
			goto fail;
		if (n == 0 && done)
			break;
		if (s_now() > deadline) {
			err_set(&err, ERR_INTERNAL,
			    "reader %d: not done after %d s, at gseq %llu", r,
			    CW_DEADLINE_S, (unsigned long long)t.last);
			goto fail;
		}
		if (n == 0)
			usleep(200);
	}
	_exit(0);
fail:
	t.me->failed = 1;
	text_printf(t.me->msg, sizeof t.me->msg, "%s", err.msg);
	_exit(1);
}

static int
s_skip_row(void *arg, const pglog_row_t *row, err_t *err)
{
	(void)arg;
	(void)row;
	(void)err;
	return 0;
}

/* The last hold number in op_held now, from which a holding run reads. */
static uint64_t
s_held_head(pglog_t *p)
{
	uint64_t last = 0;
	err_t err;

	if (pglog_held(p, 0, s_skip_row, NULL, &last, NULL, &err) != 0)
		harness_fail(__FILE__, __LINE__, "held head: %s", err.msg);
	return last;
}

/* Runs CW_WRITERS writers of ops each and CW_READERS readers at once, in
 * mode; 0 when every child ran to its end. */
static int
s_concurrent(cw_run_t *run, uint64_t ops, cw_mode_t mode, const char *name)
{
	pid_t pids[CW_WRITERS + CW_READERS];
	int i, status, rc = 0;
	pglog_t *p = s_open();
	double t0;

	if (p == NULL)
		return -1;
	memset(run, 0, sizeof *run);
	run->base = mode == CW_HOLD ? s_held_head(p) : s_head(p);
	/* Not open across fork: the children must not share its socket. */
	pglog_close(&p);
	run->ops = ops;
	run->mode = mode;
	run->seed = harness_seed();
	for (i = 0; i < CW_WRITERS; i++)
		snprintf(run->origin[i], sizeof run->origin[i], "%s-%s-w%d",
		    s_tag, name, i);
	t0 = s_now();
	fflush(stdout);
	for (i = 0; i < CW_WRITERS + CW_READERS; i++) {
		pids[i] = fork();
		if (pids[i] < 0) {
			harness_fail(__FILE__, __LINE__, "fork: %s",
			    strerror(errno));
			rc = -1;
			break;
		}
		if (pids[i] == 0) {
			if (i < CW_READERS)
				s_reader(run, i);
			else
				s_writer(run, i - CW_READERS);
		}
	}
	/* Readers first in pids, so they tail from before the first write. */
	for (i = CW_READERS; i < CW_WRITERS + CW_READERS; i++)
		if (pids[i] > 0 && waitpid(pids[i], &status, 0) == pids[i] &&
		    !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
			harness_fail(__FILE__, __LINE__, "writer %d: %s",
			    i - CW_READERS, run->writers[i - CW_READERS].msg);
			rc = -1;
		}
	atomic_store(&run->writers_done, 1);
	for (i = 0; i < CW_READERS; i++)
		if (pids[i] > 0 && waitpid(pids[i], &status, 0) == pids[i] &&
		    !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
			harness_fail(__FILE__, __LINE__, "reader %d: %s", i,
			    run->readers[i].msg);
			rc = -1;
		}
	printf("# %s: %d writers x %llu ops in batches of 1-%d, seed %llu, "
	       "%d readers: %.2f s; readers read %llu and %llu rows, %llu "
	       "and %llu jumps\n",
	    mode == CW_HOLD		      ? "holding"
		: mode == CW_APPEND_UNORDERED ? "without the lock"
					      : "with the lock",
	    CW_WRITERS, (unsigned long long)ops, CW_MAX_BATCH,
	    (unsigned long long)run->seed, CW_READERS, s_now() - t0,
	    (unsigned long long)run->readers[0].rows,
	    (unsigned long long)run->readers[1].rows,
	    (unsigned long long)run->readers[0].jumps,
	    (unsigned long long)run->readers[1].jumps);
	return rc;
}

static cw_run_t *
s_map_run(void)
{
	void *m = mmap(NULL, sizeof(cw_run_t), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (m == MAP_FAILED) {
		harness_fail(__FILE__, __LINE__, "mmap: %s", strerror(errno));
		return NULL;
	}
	return m;
}

TEST(concurrent_readers_never_skip)
{
	cw_run_t *run = s_map_run();
	uint64_t total = (uint64_t)CW_WRITERS * CW_OPS;
	pglog_t *p;
	int r;

	REQUIRE(run != NULL);
	if (s_concurrent(run, CW_OPS, CW_APPEND, "cw") == 0) {
		for (r = 0; r < CW_READERS; r++) {
			cw_reader_t *rd = &run->readers[r];

			CHECK_MSG(rd->jumps == 0,
			    "reader %d: %llu gseq jumps, first from %llu to "
			    "%llu",
			    r, (unsigned long long)rd->jumps,
			    (unsigned long long)rd->jump_from,
			    (unsigned long long)rd->jump_to);
			CHECK_EQ_UINT(rd->rows, total);
			CHECK_EQ_UINT(rd->misordered, 0);
			CHECK_EQ_UINT(rd->bad, 0);
		}
		p = s_open();
		if (p != NULL)
			CHECK_EQ_UINT(s_head(p), run->base + total);
		pglog_close(&p);
	}
	munmap(run, sizeof *run);
}

/* Holds (pglog_hold_in) take their hold numbers under the append lock:
 * readers going by "hseq > last seen" (pglog_held, as every hub copies
 * held ops) read every held op of every writer, each origin's in order,
 * while writers hold concurrently. */
TEST(concurrent_held_readers_never_skip)
{
	cw_run_t *run = s_map_run();
	uint64_t total = (uint64_t)CW_WRITERS * CW_OPS_HELD;
	int r;

	REQUIRE(run != NULL);
	if (s_concurrent(run, CW_OPS_HELD, CW_HOLD, "hd") == 0)
		for (r = 0; r < CW_READERS; r++) {
			CHECK_EQ_UINT(run->readers[r].rows, total);
			CHECK_EQ_UINT(run->readers[r].misordered, 0);
			CHECK_EQ_UINT(run->readers[r].bad, 0);
		}
	munmap(run, sizeof *run);
}

/* The same check over appends that take their gseqs as a sequence would,
 * without the lock: a reader must see a jump, or the check above proves
 * nothing. Each round is a fresh run; one that shows a jump is enough. */
TEST(unordered_appends_show_the_gap)
{
	cw_run_t *run = s_map_run();
	uint64_t jumps = 0;
	int round;

	REQUIRE(run != NULL);
	for (round = 0; round < CW_UNORDERED_ROUNDS && jumps == 0; round++) {
		if (s_concurrent(run, CW_OPS_UNORDERED, CW_APPEND_UNORDERED,
			"un") != 0)
			break;
		jumps = run->readers[0].jumps + run->readers[1].jumps;
	}
	CHECK_MSG(jumps > 0,
	    "no reader saw a gseq jump in %d rounds without the lock", round);
	if (jumps > 0)
		printf("# without the lock: a reader skipped from gseq %llu "
		       "to %llu (round %d)\n",
		    (unsigned long long)(run->readers[0].jumps > 0
			    ? run->readers[0].jump_from
			    : run->readers[1].jump_from),
		    (unsigned long long)(run->readers[0].jumps > 0
			    ? run->readers[0].jump_to
			    : run->readers[1].jump_to),
		    round);
	munmap(run, sizeof *run);
}
