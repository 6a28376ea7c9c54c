/*
 * test_ckpt: the WAL stays bounded. Why the old checkpointer did nothing
 * (a connection that has not read the database sees no WAL and still
 * reports success), that the checkpointer copies frames and keeps the WAL
 * under its bound under a steady writer, that an idle WAL is truncated, that
 * a reader holding an old snapshot is reported with its reason and the
 * report clears once it is gone; the problem texts; the config's limits;
 * and retention: other sites' old ops go, own ops and identities stay.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "apply.h"
#include "ckpt.h"
#include "conf.h"
#include "harness.h"
#include "hlc.h"
#include "stock.h"
#include "store.h"

static store_t *
s_open(const char *dir, const char *site)
{
	char path[4200];
	err_t err;
	store_t *st;

	snprintf(path, sizeof path, "%s/node.db", dir);
	st = store_open(path, STORE_NODE, 1, &apply_rules, &err);
	if (st == NULL) {
		CHECK_MSG(0, "store_open: %s", err.msg);
		return NULL;
	}
	if (store_begin(st, &err) ||
	    store_meta_set_text(st, "site", site, &err) ||
	    store_commit(st, &err)) {
		CHECK_MSG(0, "set site: %s", err.msg);
		store_close(&st);
	}
	return st;
}

/* One local write of a few pages: a stock movement. */
static int
s_write(store_t *st, int i)
{
	json_t *req = json_pack("{s:s, s:i, s:s}", "sku", "TEA", "delta", 1 + i,
	    "reason", "receipt");
	json_t *out = NULL;
	int created, rc;
	err_t err;

	rc = stock_record(st, req, &out, &created, &err);
	json_decref(req);
	json_decref(out);
	return rc;
}

static int64_t
s_wal_bytes(store_t *st)
{
	char wal[4200];
	struct stat sb;

	snprintf(wal, sizeof wal, "%s-wal", store_path(st));
	return stat(wal, &sb) == 0 ? (int64_t)sb.st_size : 0;
}

/* Waits up to ms for cond over the store's health. */
#define WAIT_FOR(st, h, cond, ms)                   \
	do {                                        \
		int waited_ = 0;                    \
		store_health((st), &(h));           \
		while (!(cond) && waited_ < (ms)) { \
			usleep(20000);              \
			waited_ += 20;              \
			store_health((st), &(h));   \
		}                                   \
	} while (0)

TEST(a_connection_that_has_not_read_sees_no_wal_and_checkpoints_nothing)
{
	const char *dir = harness_tmpdir();
	store_t *st = s_open(dir, "S001");
	sqlite3 *fresh;
	int nlog = 0, ncopied = 0, i;

	REQUIRE(st != NULL);
	for (i = 0; i < 20; i++)
		REQUIRE_EQ_INT(s_write(st, i), 0);
	REQUIRE(sqlite3_open(store_path(st), &fresh) == SQLITE_OK);
	/* The old checkpointer's call: success, and nothing done. */
	CHECK_EQ_INT(sqlite3_wal_checkpoint_v2(fresh, NULL,
			 SQLITE_CHECKPOINT_PASSIVE, &nlog, &ncopied),
	    SQLITE_OK);
	CHECK_EQ_INT(nlog, -1);
	CHECK_EQ_INT(ncopied, -1);
	/* After one read the same call copies the WAL. */
	CHECK_EQ_INT(sqlite3_exec(fresh, "SELECT 1 FROM sqlite_schema LIMIT 1",
			 NULL, NULL, NULL),
	    SQLITE_OK);
	CHECK_EQ_INT(sqlite3_wal_checkpoint_v2(fresh, NULL,
			 SQLITE_CHECKPOINT_PASSIVE, &nlog, &ncopied),
	    SQLITE_OK);
	CHECK(nlog > 0);
	CHECK_EQ_INT(ncopied, nlog);
	sqlite3_close(fresh);
	store_close(&st);
}

TEST(the_checkpointer_keeps_a_busy_writers_wal_under_its_bound)
{
	const char *dir = harness_tmpdir();
	store_t *st = s_open(dir, "S001");
	ckpt_health_t h;
	int64_t max = 0, bound = 4 * 1024 * 1024;
	int i;
	err_t err;

	REQUIRE(st != NULL);
	REQUIRE_EQ_INT(store_checkpoint_in_background(st, 4, 1, &err), 0);
	/* Each write is a few frames; 4000 of them would be some 50 MB of
	 * WAL with nothing checkpointed. */
	for (i = 0; i < 4000; i++) {
		REQUIRE_EQ_INT(s_write(st, i), 0);
		if (s_wal_bytes(st) > max)
			max = s_wal_bytes(st);
	}
	store_health(st, &h);
	CHECK_MSG(max < bound, "WAL reached %lld B, bound %lld B",
	    (long long)max, (long long)bound);
	CHECK(h.running);
	CHECK(h.rounds > 0);
	CHECK(h.frames_written > 10000);
	CHECK(h.frames_copied > 0);
	CHECK_STR(h.problem, "");
	CHECK_EQ_INT(h.wal_bound_bytes, bound);
	CHECK(h.db_bytes > 100 * 1024);
	store_close(&st);
}

TEST(an_idle_wal_is_truncated)
{
	const char *dir = harness_tmpdir();
	store_t *st = s_open(dir, "S001");
	ckpt_health_t h;
	uint64_t written;
	err_t err;
	int i;

	REQUIRE(st != NULL);
	REQUIRE_EQ_INT(store_checkpoint_in_background(st, 0, 0, &err), 0);
	for (i = 0; i < 50; i++)
		REQUIRE_EQ_INT(s_write(st, i), 0);
	CHECK(s_wal_bytes(st) > 0);
	/* Nothing committed for five seconds: folded back, space returned. */
	WAIT_FOR(st, h, h.wal_bytes == 0, 9000);
	CHECK_EQ_INT(h.wal_bytes, 0);
	/* A quiet till: the next sale after a truncation is counted too. */
	written = h.frames_written;
	REQUIRE_EQ_INT(s_write(st, 99), 0);
	store_health(st, &h);
	CHECK_MSG(h.frames_written > written,
	    "frames written %llu, before %llu",
	    (unsigned long long)h.frames_written, (unsigned long long)written);
	store_close(&st);
}

TEST(a_reader_holding_an_old_snapshot_is_reported_and_the_report_clears)
{
	const char *dir = harness_tmpdir();
	store_t *st = s_open(dir, "S001");
	ckpt_health_t h;
	ckpt_problem_t p[CKPT_PROBLEMS_MAX];
	sqlite3 *reader;
	sqlite3_stmt *q;
	char want[512];
	int64_t max = 0;
	err_t err;
	int i, n;

	REQUIRE(st != NULL);
	REQUIRE_EQ_INT(store_checkpoint_in_background(st, 4, 1, &err), 0);
	REQUIRE_EQ_INT(s_write(st, 0), 0);
	REQUIRE(sqlite3_open(store_path(st), &reader) == SQLITE_OK);
	REQUIRE(sqlite3_prepare_v2(reader, "SELECT * FROM op_log", -1, &q,
		    NULL) == SQLITE_OK);
	REQUIRE_EQ_INT(sqlite3_step(q), SQLITE_ROW); /* snapshot held */
	for (i = 1; i < 3000; i++)
		REQUIRE_EQ_INT(s_write(st, i), 0);
	WAIT_FOR(st, h, h.problem[0] != '\0', 10000);
	snprintf(want, sizeof want, "checkpoint %s: WAL ", store_path(st));
	CHECK_MSG(strncmp(h.problem, want, strlen(want)) == 0, "problem: '%s'",
	    h.problem);
	CHECK_MSG(strstr(h.problem,
		      " s: a reader holds an older snapshot "
		      "open") != NULL,
	    "problem: '%s'", h.problem);
	n = ckpt_problems(&h, store_path(st), p);
	CHECK(n >= 2);
	CHECK_STR(p[0].kind, "checkpoint");
	CHECK_STR(p[1].kind, "wal_over_bound");
	snprintf(want, sizeof want, "WAL of %s is %lld MB, over its 4 MB bound",
	    store_path(st), (long long)(h.wal_bytes / (1024 * 1024)));
	CHECK_STR(p[1].msg, want);
	/* The reader goes: the next round checkpoints, the next commit
	 * starts the WAL over and trims the file. */
	sqlite3_finalize(q);
	sqlite3_close(reader);
	WAIT_FOR(st, h, h.problem[0] == '\0', 15000);
	CHECK_STR(h.problem, "");
	REQUIRE_EQ_INT(s_write(st, 0), 0);
	REQUIRE_EQ_INT(s_write(st, 1), 0);
	CHECK_MSG(s_wal_bytes(st) <= 4 * 1024 * 1024,
	    "WAL still %lld B after the reader left",
	    (long long)s_wal_bytes(st));
	/* And the writer helps again: a busy writer stays under the bound. */
	for (i = 0; i < 3000; i++) {
		REQUIRE_EQ_INT(s_write(st, i), 0);
		if (s_wal_bytes(st) > max)
			max = s_wal_bytes(st);
	}
	CHECK_MSG(max <= 4 * 1024 * 1024,
	    "WAL reached %lld B after the reader "
	    "left",
	    (long long)max);
	store_close(&st);
}

TEST(one_commit_past_half_the_bound_is_checkpointed_by_the_writer)
{
	const char *dir = harness_tmpdir();
	store_t *st = s_open(dir, "S001");
	ckpt_health_t h;
	err_t err;

	REQUIRE(st != NULL);
	REQUIRE_EQ_INT(store_checkpoint_in_background(st, 4, 1, &err), 0);
	/* About 800 pages in one commit: past half of 4 MB at once, so the
	 * writer's hook checkpoints (unless the thread's once-a-second round
	 * happens to hold the copy just then: a second commit settles it). */
	REQUIRE_EQ_INT(
	    sqlite3_exec(store_db(st),
		"CREATE TABLE big(x);"
		"WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c "
		"WHERE i < 800) INSERT INTO big SELECT randomblob(3500) FROM c",
		NULL, NULL, NULL),
	    SQLITE_OK);
	store_health(st, &h);
	if (h.inline_rounds == 0)
		REQUIRE_EQ_INT(sqlite3_exec(store_db(st),
				   "INSERT INTO big "
				   "SELECT randomblob(3500) FROM big",
				   NULL, NULL, NULL),
		    SQLITE_OK);
	store_health(st, &h);
	CHECK(h.inline_rounds >= 1);
	CHECK(h.frames_written >= 800);
	CHECK(h.wal_max_bytes >= 800 * 4096);
	/* All copied by then: the next commit starts the WAL over. */
	CHECK_EQ_UINT(h.frames_copied, h.frames_written);
	store_close(&st);
}

TEST(problem_texts_name_the_file_and_the_figures)
{
	ckpt_health_t h;
	ckpt_problem_t p[CKPT_PROBLEMS_MAX];

	memset(&h, 0, sizeof h);
	h.wal_bytes = 80 * 1024 * 1024;
	h.wal_bound_bytes = 64 * 1024 * 1024;
	h.disk_free_bytes = 300 * 1024 * 1024;
	h.disk_low_bytes = 1024 * 1024 * 1024;
	REQUIRE_EQ_INT(ckpt_problems(&h, "/srv/bl/node.db", p), 2);
	CHECK_STR(p[0].kind, "wal_over_bound");
	CHECK_STR(p[0].msg,
	    "WAL of /srv/bl/node.db is 80 MB, over its 64 MB bound");
	CHECK_STR(p[1].kind, "disk_low");
	CHECK_STR(p[1].msg,
	    "disk of /srv/bl/node.db: 300 MB free, below 1024 MB");
	h.wal_bytes = 1024;
	h.disk_free_bytes = -1; /* unknown: no alarm */
	CHECK_EQ_INT(ckpt_problems(&h, "/srv/bl/node.db", p), 0);
	/* A data folder named in GBK, not UTF-8: the text stays clean. */
	h.wal_bytes = 80 * 1024 * 1024;
	REQUIRE_EQ_INT(ckpt_problems(&h, "/srv/\xc0\xb2\xff\xfe/node.db", p),
	    1);
	CHECK_STR(p[0].msg,
	    "WAL of /srv/?\?\?\?/node.db is 80 MB, over its 64 MB bound");
}

TEST(disk_limits_come_from_the_config_and_bad_ones_are_refused)
{
	conf_t conf;
	int bound = 0, low = 0;
	err_t err;

	memset(&conf, 0, sizeof conf);
	CHECK_EQ_INT(conf_disk_limits(&conf, &bound, &low, &err), 0);
	CHECK_EQ_INT(bound, CKPT_DEFAULT_BOUND_MB);
	CHECK_EQ_INT(low, CKPT_DEFAULT_DISK_LOW_MB);
	conf_set(&conf, "wal_bound_mb", "16");
	conf_set(&conf, "disk_low_mb", "200");
	CHECK_EQ_INT(conf_disk_limits(&conf, &bound, &low, &err), 0);
	CHECK_EQ_INT(bound, 16);
	CHECK_EQ_INT(low, 200);
	conf_set(&conf, "wal_bound_mb", "2");
	CHECK_EQ_INT(conf_disk_limits(&conf, &bound, &low, &err), -1);
	CHECK_STR(err.msg,
	    "config wal_bound_mb: '2' is not a whole number from 4 to 1048576");
	conf_set(&conf, "wal_bound_mb", "64MB");
	CHECK_EQ_INT(conf_disk_limits(&conf, &bound, &low, &err), -1);
	CHECK_STR(err.msg,
	    "config wal_bound_mb: '64MB' is not a whole number from 4 to 1048576");
}

TEST(retention_drops_other_sites_old_ops_and_keeps_own_ops_and_identities)
{
	const char *dir = harness_tmpdir();
	store_t *st = s_open(dir, "S001");
	uint64_t after = 0, now = hlc_wall_ms();
	int64_t dropped = 0, total = 0;
	op_t op;
	cbw_t w;
	ingest_result_t res;
	err_t err;
	int i, rc;

	REQUIRE(st != NULL);
	REQUIRE_EQ_INT(s_write(st, 0), 0);
	/* Three movements of S002: two old, one recent. */
	REQUIRE_EQ_INT(store_begin(st, &err), 0);
	for (i = 1; i <= 3; i++) {
		char key[32];

		memset(&op, 0, sizeof op);
		snprintf(op.origin, sizeof op.origin, "S002");
		snprintf(op.entity, sizeof op.entity, STOCK_ENTITY);
		snprintf(key, sizeof key, "S002-00000%d", i);
		snprintf(op.key, sizeof op.key, "%s", key);
		snprintf(op.kind, sizeof op.kind, "add");
		op.seq = (uint64_t)i;
		op.hlc = hlc_pack(i < 3 ? now - 10 * 86400000ull : now, 0);
		op.fields = json_pack("{s:s, s:s, s:i, s:s}", "site", "S002",
		    "sku", "TEA", "delta", 10, "reason", "receipt");
		cbw_init(&w);
		REQUIRE_EQ_INT(op_encode(&op, &w, &err), 0);
		REQUIRE_EQ_INT(store_ingest(st, &op, w.data, w.len, &res, &err),
		    0);
		CHECK_EQ_INT(res, INGEST_APPLIED);
		cbw_free(&w);
		op_clear(&op);
	}
	REQUIRE_EQ_INT(store_commit(st, &err), 0);
	while ((rc = store_retain(st, hlc_pack(now - 86400000ull, 0), &after,
		    &dropped, &err)) == 1)
		total += dropped;
	CHECK_EQ_INT(rc, 0);
	CHECK_EQ_INT(total, 2);
	CHECK_EQ_INT(store_query_int(st,
			 store_stmt(st,
			     "SELECT group_concat("
			     "seq) FROM op_log WHERE origin = 'S002'"),
			 -1),
	    3);
	CHECK_EQ_INT(store_query_int(st,
			 store_stmt(st,
			     "SELECT count(*) FROM "
			     "op_seen WHERE origin = 'S002' AND seq IN (1, 2)"),
			 -1),
	    2);
	CHECK_EQ_INT(store_query_int(st,
			 store_stmt(st,
			     "SELECT count(*) FROM "
			     "op_log WHERE origin = 'S001'"),
			 -1),
	    1);
	CHECK_EQ_INT(store_query_int(st,
			 store_stmt(st,
			     "SELECT on_hand FROM "
			     "stock WHERE site = 'S002' AND sku = 'TEA'"),
			 -1),
	    30);
	/* A dropped op that comes again is still a duplicate. */
	memset(&op, 0, sizeof op);
	snprintf(op.origin, sizeof op.origin, "S002");
	snprintf(op.entity, sizeof op.entity, STOCK_ENTITY);
	snprintf(op.key, sizeof op.key, "S002-000001");
	snprintf(op.kind, sizeof op.kind, "add");
	op.seq = 1;
	op.hlc = hlc_pack(now - 10 * 86400000ull, 0);
	op.fields = json_pack("{s:s, s:s, s:i, s:s}", "site", "S002", "sku",
	    "TEA", "delta", 10, "reason", "receipt");
	cbw_init(&w);
	REQUIRE_EQ_INT(op_encode(&op, &w, &err), 0);
	REQUIRE_EQ_INT(store_begin(st, &err), 0);
	REQUIRE_EQ_INT(store_ingest(st, &op, w.data, w.len, &res, &err), 0);
	REQUIRE_EQ_INT(store_commit(st, &err), 0);
	CHECK_EQ_INT(res, INGEST_DUPLICATE);
	CHECK_EQ_INT(store_query_int(st,
			 store_stmt(st,
			     "SELECT on_hand FROM "
			     "stock WHERE site = 'S002' AND sku = 'TEA'"),
			 -1),
	    30);
	cbw_free(&w);
	op_clear(&op);
	store_close(&st);
}
