/*
 * test_store: a replica's database. Migrations bring a new file to the
 * side's latest version; ingesting is idempotent by (origin, seq); ops the
 * clock or the merge rules refuse are quarantined with their reason and
 * change nothing; stock_record is idempotent by id and refuses bad requests
 * with the field named; and two ops claiming one movement id resolve the
 * same way whatever order they arrive in.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apply.h"
#include "customer.h"
#include "domain_read.h"
#include "harness.h"
#include "hlc.h"
#include "op.h"
#include "schema.h"
#include "stock.h"
#include "store.h"

/* The fixed wall clock every store here reads. */
#define WALL0 1700000000000ull

static uint64_t s_wall_now = WALL0;

static uint64_t
s_wall(void)
{
	return s_wall_now;
}

/* Opens a fresh store named name in dir with site id site (or none when
 * NULL) and the fixed wall clock. Returns NULL after recording a failure. */
static store_t *
s_open(const char *dir, const char *name, store_side_t side, const char *site)
{
	char path[4200];
	err_t err;
	store_t *st;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	err_clear(&err);
	st = store_open(path, side, 1, &apply_rules, &err);
	if (st == NULL) {
		harness_fail(__FILE__, __LINE__, "store_open %s: %s", path,
		    err.msg);
		return NULL;
	}
	store_set_wall(st, s_wall);
	if (site != NULL &&
	    (store_begin(st, &err) ||
		store_meta_set_text(st, "site", site, &err) ||
		store_commit(st, &err))) {
		harness_fail(__FILE__, __LINE__, "set site: %s", err.msg);
		store_close(&st);
	}
	return st;
}

static int64_t
s_count(store_t *st, const char *table)
{
	char sql[128];
	sqlite3_stmt *stmt;
	int64_t n = -1;

	snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
	if (sqlite3_prepare_v2(store_db(st), sql, -1, &stmt, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(stmt) == SQLITE_ROW)
		n = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	return n;
}

/* Runs a one-value query and returns its text (malloc'd) or NULL. */
static char *
s_query_text(store_t *st, const char *sql)
{
	sqlite3_stmt *stmt;
	char *out = NULL;

	if (sqlite3_prepare_v2(store_db(st), sql, -1, &stmt, NULL) != SQLITE_OK)
		return NULL;
	if (sqlite3_step(stmt) == SQLITE_ROW &&
	    sqlite3_column_type(stmt, 0) != SQLITE_NULL)
		out = strdup((const char *)sqlite3_column_text(stmt, 0));
	sqlite3_finalize(stmt);
	return out;
}

/* stock_list of everything as compact JSON with sorted keys (malloc'd). */
static char *
s_stock_json(store_t *st)
{
	json_t *list = t_list(st, stock_list, NULL);
	char *s = json_dumps(list, JSON_SORT_KEYS | JSON_COMPACT);

	json_decref(list);
	return s;
}

/* Compares the store's stock_list with the JSON text want. */
static int
s_check_stock(const char *file, int line, store_t *st, const char *want)
{
	json_t *got = t_list(st, stock_list, NULL), *exp;
	json_error_t jerr;
	char *g;
	int ok;

	exp = json_loads(want, 0, &jerr);
	if (exp == NULL) {
		json_decref(got);
		return harness_fail(file, line, "bad expected JSON: %s",
		    jerr.text);
	}
	ok = json_equal(got, exp);
	if (!ok) {
		g = json_dumps(got, JSON_SORT_KEYS | JSON_COMPACT);
		harness_fail(file, line,
		    "stock_list:\n#   got:  %s\n#   want: %s", g, want);
		free(g);
	}
	json_decref(got);
	json_decref(exp);
	return ok;
}

#define CHECK_STOCK(st, want) s_check_stock(__FILE__, __LINE__, (st), (want))

/* Builds a stock movement op. */
static void
s_movement_op(op_t *op, const char *origin, uint64_t seq, uint64_t hlc,
    const char *id, const char *site, const char *sku, long long delta,
    const char *reason)
{
	memset(op, 0, sizeof *op);
	snprintf(op->origin, sizeof op->origin, "%s", origin);
	op->seq = seq;
	op->hlc = hlc;
	snprintf(op->entity, sizeof op->entity, "%s", STOCK_ENTITY);
	snprintf(op->key, sizeof op->key, "%s", id);
	snprintf(op->kind, sizeof op->kind, "add");
	op->fields = json_pack("{s:s, s:s, s:I, s:s}", "site", site, "sku", sku,
	    "delta", (json_int_t)delta, "reason", reason);
}

/* Builds a customer update setting name: a last-writer-wins claim. */
static void
s_customer_op(op_t *op, const char *origin, uint64_t seq, uint64_t hlc,
    const char *id, const char *name)
{
	memset(op, 0, sizeof *op);
	snprintf(op->origin, sizeof op->origin, "%s", origin);
	op->seq = seq;
	op->hlc = hlc;
	snprintf(op->entity, sizeof op->entity, "%s", CUSTOMER_ENTITY);
	snprintf(op->key, sizeof op->key, "%s", id);
	snprintf(op->kind, sizeof op->kind, "update");
	op->fields = json_pack("{s:{s:s}}", "set", "name", name);
}

/* Encodes op and ingests it in its own transaction. Returns the result,
 * or -1 after recording a failure; err receives the quarantine reason. */
static int
s_ingest(store_t *st, const op_t *op, err_t *err)
{
	cbw_t w;
	ingest_result_t res = INGEST_DUPLICATE;
	int rc;

	cbw_init(&w);
	err_clear(err);
	if (op_encode(op, &w, err)) {
		cbw_free(&w);
		return harness_fail(__FILE__, __LINE__, "op_encode: %s",
			   err->msg) -
		    1;
	}
	if (store_begin(st, err)) {
		cbw_free(&w);
		return harness_fail(__FILE__, __LINE__, "begin: %s", err->msg) -
		    1;
	}
	rc = store_ingest(st, op, w.data, w.len, &res, err);
	cbw_free(&w);
	if (rc != 0) {
		store_rollback(st);
		return harness_fail(__FILE__, __LINE__, "ingest: %s",
			   err->msg) -
		    1;
	}
	{
		err_t cerr;

		if (store_commit(st, &cerr))
			return harness_fail(__FILE__, __LINE__, "commit: %s",
				   cerr.msg) -
			    1;
	}
	return (int)res;
}

/* ---- migrations ---- */

static int
s_user_version(store_t *st)
{
	char *v = s_query_text(st, "PRAGMA user_version");
	int n = v ? atoi(v) : -1;

	free(v);
	return n;
}

static int
s_has_table(store_t *st, const char *name)
{
	sqlite3_stmt *stmt;
	int found = 0;

	if (sqlite3_prepare_v2(store_db(st),
		"SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
		-1, &stmt, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
	found = sqlite3_step(stmt) == SQLITE_ROW;
	sqlite3_finalize(stmt);
	return found;
}

/* The highest migration number a side applies, from the embedded table. */
static int
s_latest_for(schema_side_t side)
{
	int i, v = 0;

	for (i = 0; i < schema_migration_count; i++)
		if (schema_migrations[i].side == SCHEMA_BOTH ||
		    schema_migrations[i].side == side)
			if (schema_migrations[i].number > v)
				v = schema_migrations[i].number;
	return v;
}

TEST(migrations_bring_a_node_to_its_latest_version)
{
	const char *dir = harness_tmpdir();
	char path[4200];
	store_t *st;
	err_t err;
	int64_t v = 0;

	st = s_open(dir, "node.db", STORE_NODE, "S001");
	REQUIRE(st != NULL);
	CHECK(s_latest_for(SCHEMA_NODE) >= 2);
	CHECK_EQ_INT(s_user_version(st), s_latest_for(SCHEMA_NODE));
	CHECK_EQ_INT(s_has_table(st, "meta"), 1);
	CHECK_EQ_INT(s_has_table(st, "op_log"), 1);
	CHECK_EQ_INT(s_has_table(st, "quarantine"), 1);
	CHECK_EQ_INT(s_has_table(st, "stock_movements"), 1);
	CHECK_EQ_INT(s_has_table(st, "stock"), 1);
	/* The hub's own tables and columns stay at the hub. */
	CHECK_EQ_INT(s_has_table(st, "sites"), 0);
	CHECK_EQ_INT(s_has_table(st, "order_sites"), 0);
	CHECK_EQ_INT(s_has_table(st, "backfills"), 1);
	CHECK_EQ_INT(
	    store_query_int(st,
		store_stmt(st,
		    "SELECT count(*) FROM "
		    "pragma_table_info('op_log') WHERE name LIKE 'vis_%'"),
		-1),
	    0);
	CHECK_EQ_INT(s_has_table(st, "op_seen"), 1);
	err_clear(&err);
	CHECK_EQ_INT(store_begin(st, &err), 0);
	CHECK_EQ_INT(store_meta_set_int(st, "probe", 77, &err), 0);
	CHECK_EQ_INT(store_commit(st, &err), 0);
	store_close(&st);

	/* Reopening migrates nothing and keeps the data. */
	snprintf(path, sizeof path, "%s/node.db", dir);
	st = store_open(path, STORE_NODE, 0, &apply_rules, &err);
	REQUIRE_MSG(st != NULL, "reopen: %s", err.msg);
	CHECK_EQ_INT(s_user_version(st), s_latest_for(SCHEMA_NODE));
	CHECK_EQ_INT(store_meta_get_int(st, "probe", 0, &v, &err), 0);
	CHECK_EQ_INT(v, 77);
	CHECK_STR(store_site(st), "S001");
	/* An absent name answers the default given. */
	v = 5;
	CHECK_EQ_INT(store_meta_get_int(st, "no such name", -9, &v, &err), 0);
	CHECK_EQ_INT(v, -9);
	store_close(&st);
}

TEST(migrations_bring_a_hub_to_its_latest_version)
{
	store_t *st = s_open(harness_tmpdir(), "hub.db", STORE_HUB, "HUB");

	REQUIRE(st != NULL);
	CHECK(s_latest_for(SCHEMA_HUB) >= 3);
	CHECK_EQ_INT(s_user_version(st), s_latest_for(SCHEMA_HUB));
	CHECK_EQ_INT(s_has_table(st, "sites"), 1);
	CHECK_EQ_INT(s_has_table(st, "op_log"), 1);
	CHECK_EQ_INT(s_has_table(st, "stock"), 1);
	/* Who may receive each op, the node's retention: each side its own. */
	CHECK_EQ_INT(
	    store_query_int(st,
		store_stmt(st,
		    "SELECT count(*) FROM "
		    "pragma_table_info('op_log') WHERE name LIKE 'vis_%'"),
		-1),
	    4);
	CHECK_EQ_INT(s_has_table(st, "order_sites"), 1);
	CHECK_EQ_INT(s_has_table(st, "backfills"), 0);
	CHECK_EQ_INT(s_has_table(st, "op_seen"), 0);
	store_close(&st);
	/* The replicated schema version counts common migrations only. */
	CHECK_EQ_INT(store_schema_version(), s_latest_for(SCHEMA_BOTH));
	CHECK(store_schema_version() >= 2);
}

TEST(a_newer_database_or_a_missing_file_is_refused)
{
	const char *dir = harness_tmpdir();
	char path[4200], want[4400];
	sqlite3 *db = NULL;
	store_t *st;
	err_t err;
	int latest = 0, i;

	for (i = 0; i < schema_migration_count; i++)
		if (schema_migrations[i].number > latest)
			latest = schema_migrations[i].number;
	snprintf(path, sizeof path, "%s/future.db", dir);
	REQUIRE(sqlite3_open(path, &db) == SQLITE_OK);
	CHECK_EQ_INT(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL,
			 NULL),
	    SQLITE_OK);
	sqlite3_close(db);
	err_clear(&err);
	st = store_open(path, STORE_NODE, 0, &apply_rules, &err);
	CHECK(st == NULL);
	store_close(&st);
	CHECK_EQ_INT(err.code, ERR_UPGRADE);
	snprintf(want, sizeof want,
	    "open database %s: schema version 99 is newer than this program's %d; upgrade the program",
	    path, latest);
	CHECK_STR(err.msg, want);

	snprintf(path, sizeof path, "%s/absent.db", dir);
	err_clear(&err);
	st = store_open(path, STORE_NODE, 0, &apply_rules, &err);
	CHECK(st == NULL);
	CHECK_EQ_INT(err.code, ERR_INTERNAL);
	snprintf(want, sizeof want,
	    "open database %s: unable to open database file", path);
	CHECK_STR(err.msg, want);
	/* Nothing was created. */
	CHECK(access(path, F_OK) != 0);
}

/* ---- ingest ---- */

/* A savepoint whose journal outgrows the part SQLite keeps in memory
 * (STORE_STMTJRNL_SPILL) goes on in a temporary file: a hub of a cluster
 * applies a whole group of PUSHes under one. With the bound past the
 * 128 KiB the unix VFS writes in one call (it was 4 MB), the first spill
 * failed with SQLITE_FULL, "database or disk is full". */
TEST(a_savepoint_past_the_journal_in_memory_spills_to_a_file)
{
	store_t *st = s_open(harness_tmpdir(), "hub.db", STORE_HUB, "HUB");
	store_mark_t mark;
	sqlite3 *db;
	err_t err;

	REQUIRE(st != NULL);
	db = store_db(st);
	/* 6 MB of rows, committed: pages the savepoint then changes, each
	 * journaled (4 KB and its number) before it is. */
	REQUIRE_EQ_INT(sqlite3_exec(db,
			   "CREATE TABLE big(x BLOB);"
			   "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL "
			   "SELECT i + 1 FROM n WHERE i < 1500) "
			   "INSERT INTO big SELECT zeroblob(4000) FROM n",
			   NULL, NULL, NULL),
	    SQLITE_OK);
	REQUIRE_EQ_INT(store_begin(st, &err), 0);
	REQUIRE_EQ_INT(store_savepoint(st, &mark, &err), 0);
	CHECK_MSG(sqlite3_exec(db, "UPDATE big SET x = randomblob(4000)", NULL,
		      NULL, NULL) == SQLITE_OK,
	    "update under the savepoint: %s", sqlite3_errmsg(db));
	CHECK_EQ_INT(store_release(st, &mark, &err), 0);
	CHECK_EQ_INT(store_commit(st, &err), 0);
	store_close(&st);
}

TEST(ingest_is_idempotent)
{
	store_t *st = s_open(harness_tmpdir(), "hub.db", STORE_HUB, "HUB");
	op_t op;
	err_t err;
	uint64_t max = 0;

	REQUIRE(st != NULL);
	s_movement_op(&op, "S001", 1, hlc_pack(WALL0 - 1000, 0), "S001-000001",
	    "S001", "A", 5, "receipt");
	CHECK_EQ_INT(s_ingest(st, &op, &err), INGEST_APPLIED);
	CHECK_STR(err.msg, "");
	CHECK_EQ_INT(s_ingest(st, &op, &err), INGEST_DUPLICATE);
	CHECK_EQ_INT(s_ingest(st, &op, &err), INGEST_DUPLICATE);
	CHECK_STOCK(st,
	    "{\"items\":[{\"site\":\"S001\",\"sku\":\"A\","
	    "\"on_hand\":5,\"reserved\":0,\"available\":5}]}");
	CHECK_EQ_INT(s_count(st, "op_log"), 1);
	CHECK_EQ_INT(s_count(st, "stock_movements"), 1);
	CHECK_EQ_INT(store_quarantine_count(st), 0);
	CHECK_EQ_INT(store_origin_max_seq(st, "S001", &max, &err), 0);
	CHECK_EQ_UINT(max, 1);
	/* The logged body is the op's exact encoding. */
	{
		cbw_t w;
		sqlite3_stmt *s;

		cbw_init(&w);
		CHECK_EQ_INT(op_encode(&op, &w, &err), 0);
		REQUIRE(
		    sqlite3_prepare_v2(store_db(st),
			"SELECT body FROM op_log WHERE origin = 'S001' AND seq = 1",
			-1, &s, NULL) == SQLITE_OK);
		if (CHECK_EQ_INT(sqlite3_step(s), SQLITE_ROW))
			CHECK_MEM(sqlite3_column_blob(s, 0),
			    (size_t)sqlite3_column_bytes(s, 0), w.data, w.len);
		sqlite3_finalize(s);
		cbw_free(&w);
	}
	/* The same movement id again under a new seq is a new op, but the
	 * movement is not counted twice. */
	op.seq = 2;
	op.hlc = hlc_pack(WALL0 - 500, 0);
	CHECK_EQ_INT(s_ingest(st, &op, &err), INGEST_APPLIED);
	CHECK_STOCK(st,
	    "{\"items\":[{\"site\":\"S001\",\"sku\":\"A\","
	    "\"on_hand\":5,\"reserved\":0,\"available\":5}]}");
	CHECK_EQ_INT(s_count(st, "op_log"), 2);
	op_clear(&op);
	store_close(&st);
}

/* An op's identity is (origin, seq, content): a different op under a held
 * (origin, seq) is a conflict, wherever the held one is kept (the log, the
 * quarantine, retention's identities), never a duplicate. */
TEST(a_different_op_under_a_held_seq_is_a_conflict_not_a_duplicate)
{
	store_t *st = s_open(harness_tmpdir(), "node.db", STORE_NODE, "S009");
	op_t op, other;
	err_t err;
	uint64_t before;

	REQUIRE(st != NULL);
	s_movement_op(&op, "S001", 1, hlc_pack(WALL0 - 1000, 0), "S001-000001",
	    "S001", "A", 5, "receipt");
	s_movement_op(&other, "S001", 1, hlc_pack(WALL0 - 1000, 0),
	    "S001-000001", "S001", "A", 500, "receipt");
	CHECK_EQ_INT(s_ingest(st, &op, &err), INGEST_APPLIED);
	CHECK_EQ_INT(s_ingest(st, &other, &err), INGEST_CONFLICT);
	CHECK_EQ_INT(err.code, ERR_CONFLICT);
	CHECK_STR(err.msg,
	    "op S001/1: differs from the op held under this seq (a restored "
	    "or copied data folder, or a forgery)");
	/* Kept once however often it comes; nothing of it applied. */
	CHECK_EQ_INT(s_ingest(st, &other, &err), INGEST_CONFLICT);
	CHECK_EQ_INT(store_conflict_count(st), 1);
	CHECK_EQ_INT(s_count(st, "op_log"), 1);
	CHECK_STOCK(st,
	    "{\"items\":[{\"site\":\"S001\",\"sku\":\"A\","
	    "\"on_hand\":5,\"reserved\":0,\"available\":5}]}");
	CHECK_EQ_INT(s_ingest(st, &op, &err), INGEST_DUPLICATE);

	/* Held in the quarantine: an op from too far ahead, then another
	 * under its seq. */
	op_clear(&op);
	op_clear(&other);
	s_customer_op(&op, "S001", 2, hlc_pack(WALL0 + 3600000, 0), "S001-C-1",
	    "Ada");
	s_customer_op(&other, "S001", 2, hlc_pack(WALL0 - 900, 0), "S001-C-1",
	    "Ada");
	CHECK_EQ_INT(s_ingest(st, &op, &err), INGEST_QUARANTINED);
	CHECK_EQ_INT(s_ingest(st, &other, &err), INGEST_CONFLICT);
	CHECK_EQ_INT(s_ingest(st, &op, &err), INGEST_DUPLICATE);
	CHECK_EQ_INT(store_conflict_count(st), 2);

	/* Held by retention as an identity with its content hash. */
	op_clear(&op);
	op_clear(&other);
	s_movement_op(&op, "S001", 3, hlc_pack(WALL0 - 800, 0), "S001-000003",
	    "S001", "B", 2, "receipt");
	s_movement_op(&other, "S001", 3, hlc_pack(WALL0 - 800, 0),
	    "S001-000003", "S001", "B", 3, "receipt");
	CHECK_EQ_INT(s_ingest(st, &op, &err), INGEST_APPLIED);
	{
		uint64_t after = 0;
		int64_t dropped = 0;

		before = hlc_pack(WALL0, 0);
		CHECK_EQ_INT(store_retain(st, before, &after, &dropped, &err),
		    1);
		CHECK_EQ_INT(dropped, 2); /* S001/1 and S001/3 */
	}
	CHECK_EQ_INT(s_count(st, "op_log"), 0);
	CHECK_EQ_INT(s_ingest(st, &op, &err), INGEST_DUPLICATE);
	CHECK_EQ_INT(s_ingest(st, &other, &err), INGEST_CONFLICT);
	CHECK_EQ_INT(store_conflict_count(st), 3);
	op_clear(&op);
	op_clear(&other);
	store_close(&st);
}

/* An op refused for a clock ahead passes once real time has reached its
 * stamp; one the rules refuse stays, with its reason, however often it is
 * retried. */
TEST(quarantined_ops_are_retried_when_their_stamp_comes)
{
	store_t *st = s_open(harness_tmpdir(), "node.db", STORE_NODE, "S009");
	op_t op;
	err_t err;
	char *reason;
	int applied = -1, kept = -1;

	REQUIRE(st != NULL);
	s_customer_op(&op, "S002", 1, hlc_pack(WALL0 + 3600000, 0), "S002-C-1",
	    "Ada");
	CHECK_EQ_INT(s_ingest(st, &op, &err), INGEST_QUARANTINED);
	op_clear(&op);
	s_movement_op(&op, "S002", 2, hlc_pack(WALL0 - 1000, 0), "S002-000002",
	    "S002", "A", 5, "stolen");
	CHECK_EQ_INT(s_ingest(st, &op, &err), INGEST_QUARANTINED);
	op_clear(&op);
	/* Not yet: nothing moves. */
	CHECK_EQ_INT(store_quarantine_retry(st, NULL, 0, 1, NULL, NULL,
			 &applied, &kept, &err),
	    0);
	CHECK_EQ_INT(applied, 0);
	CHECK_EQ_INT(kept, 0);
	CHECK_EQ_INT(store_quarantine_count(st), 2);
	/* An hour later the clock's refusal is lifted, the rule's is not. */
	s_wall_now = WALL0 + 3600000;
	CHECK_EQ_INT(store_quarantine_retry(st, NULL, 0, 1, NULL, NULL,
			 &applied, &kept, &err),
	    0);
	CHECK_EQ_INT(applied, 1);
	CHECK_EQ_INT(kept, 0);
	reason = s_query_text(st,
	    "SELECT name FROM customers WHERE id = 'S002-C-1'");
	CHECK_STR(reason, "Ada");
	free(reason);
	CHECK_EQ_INT(store_quarantine_retry(st, "S002", 2, 0, NULL, NULL,
			 &applied, &kept, &err),
	    0);
	CHECK_EQ_INT(applied, 0);
	CHECK_EQ_INT(kept, 1);
	CHECK_EQ_INT(store_quarantine_count(st), 1);
	s_wall_now = WALL0;
	store_close(&st);
}

/* The hub chains every site's ops as it takes them; a log kept before
 * chains were (chain NULL) is chained once at the next open, to the same
 * values. */
TEST(chains_are_kept_and_backfilled_at_open)
{
	store_t *st = s_open(harness_tmpdir(), "hub.db", STORE_HUB, "HUB");
	char path[4200], *before, *after;
	op_t op;
	err_t err;
	uint64_t i;

	REQUIRE(st != NULL);
	for (i = 1; i <= 3; i++) {
		s_movement_op(&op, "S001", i, hlc_pack(WALL0 - 1000 + i, 0),
		    i == 1	 ? "S001-M-1"
			: i == 2 ? "S001-M-2"
				 : "S001-M-3",
		    "S001", "A", 1, "receipt");
		CHECK_EQ_INT(s_ingest(st, &op, &err), INGEST_APPLIED);
		op_clear(&op);
	}
	before = s_query_text(st,
	    "SELECT group_concat(hex(chain), ',') FROM "
	    "(SELECT chain FROM op_log WHERE origin = 'S001' ORDER BY seq)");
	CHECK_EQ_INT((int)strlen(before), 3 * 64 + 2);
	REQUIRE(sqlite3_exec(store_db(st),
		    "UPDATE op_log SET chain = NULL; UPDATE meta SET value = 0 "
		    "WHERE name = 'chains_complete'",
		    NULL, NULL, NULL) == SQLITE_OK);
	snprintf(path, sizeof path, "%s", store_path(st));
	store_close(&st);
	st = store_open(path, STORE_HUB, 0, &apply_rules, &err);
	REQUIRE_MSG(st != NULL, "reopen: %s", err.msg);
	after = s_query_text(st,
	    "SELECT group_concat(hex(chain), ',') FROM "
	    "(SELECT chain FROM op_log WHERE origin = 'S001' ORDER BY seq)");
	CHECK_STR(after, before);
	free(before);
	free(after);
	store_close(&st);
}

TEST(ingest_quarantines_an_op_from_too_far_ahead)
{
	store_t *st = s_open(harness_tmpdir(), "hub.db", STORE_HUB, "HUB");
	op_t op;
	err_t err;
	char *reason;
	uint64_t max = 0;
	int64_t hlc_before = -1, hlc_after = -2;

	REQUIRE(st != NULL);
	s_customer_op(&op, "S002", 7, hlc_pack(WALL0 + 300001, 0), "S002-C-7",
	    "Ada");
	CHECK_EQ_INT(store_meta_get_int(st, "hlc", -1, &hlc_before, &err), 0);
	CHECK_EQ_INT(hlc_before, -1); /* never written */
	CHECK_EQ_INT(s_ingest(st, &op, &err), INGEST_QUARANTINED);
	CHECK_EQ_INT(err.code, ERR_UNPROCESSABLE);
	CHECK_STR(err.msg,
	    "apply op S002/7: clock 300001 ms ahead (max 300000 ms)");
	CHECK_EQ_INT(store_quarantine_count(st), 1);
	reason = s_query_text(st,
	    "SELECT reason FROM quarantine "
	    "WHERE origin = 'S002' AND seq = 7");
	CHECK_STR(reason,
	    "apply op S002/7: clock 300001 ms ahead (max 300000 ms)");
	free(reason);
	reason = s_query_text(st, "SELECT at FROM quarantine");
	CHECK_STR(reason, "1700000000000");
	free(reason);
	CHECK_EQ_INT(s_count(st, "op_log"), 0);
	CHECK_EQ_INT(s_count(st, "customers"), 0);
	/* The refused clock did not leak into the persisted one. */
	hlc_after = -2;
	CHECK_EQ_INT(store_meta_get_int(st, "hlc", 0, &hlc_after, &err), 0);
	CHECK((uint64_t)hlc_after < op.hlc);
	/* Quarantined counts as received: again is a duplicate. */
	CHECK_EQ_INT(s_ingest(st, &op, &err), INGEST_DUPLICATE);
	CHECK_EQ_INT(store_quarantine_count(st), 1);
	CHECK_EQ_INT(store_origin_max_seq(st, "S002", &max, &err), 0);
	CHECK_EQ_UINT(max, 7);
	/* Right at the bound it is accepted. */
	op_clear(&op);
	s_customer_op(&op, "S002", 8, hlc_pack(WALL0 + 300000, 0), "S002-C-8",
	    "Bea");
	CHECK_EQ_INT(s_ingest(st, &op, &err), INGEST_APPLIED);
	CHECK_EQ_INT(store_quarantine_count(st), 1);
	CHECK_EQ_INT(s_count(st, "customers"), 1);
	op_clear(&op);
	store_close(&st);
}

/* What a shared log's hooks saw (store_set_shared). */
typedef struct {
	int begins, commits, aborts, destroyed;
	uint64_t first;	    /* the lsn begin gives */
	uint64_t committed; /* the first lsn commit was given */
	int64_t logged;	    /* op_log rows from it on, at commit */
	int fail_commit;
} shared_seen_t;

static int
s_shared_begin(void *arg, store_t *st, uint64_t *first_lsn, err_t *err)
{
	shared_seen_t *h = arg;

	(void)st;
	(void)err;
	h->begins++;
	*first_lsn = h->first;
	return 0;
}

static int
s_shared_commit(void *arg, store_t *st, uint64_t first_lsn, err_t *err)
{
	shared_seen_t *h = arg;
	sqlite3_stmt *q;

	h->commits++;
	h->committed = first_lsn;
	sqlite3_prepare_v2(store_db(st),
	    "SELECT count(*) FROM op_log WHERE lsn >= ?", -1, &q, NULL);
	sqlite3_bind_int64(q, 1, (int64_t)first_lsn);
	h->logged = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int64(q, 0)
						  : -1;
	sqlite3_finalize(q);
	if (h->fail_commit)
		return err_set(err, ERR_UNAVAILABLE, "shared log: gone");
	return 0;
}

static void
s_shared_abort(void *arg, store_t *st)
{
	(void)st;
	((shared_seen_t *)arg)->aborts++;
}

static void
s_shared_destroy(void *arg)
{
	((shared_seen_t *)arg)->destroyed++;
}

/* A store with a shared log (hub/pgstore.h) logs a transaction's ops from
 * the lsn its begin hook gives, shows them to its commit hook before
 * COMMIT, rolls back when that hook fails, and logs an op at the floor a
 * copying hub sets; an op admitted by another hub is not refused for its
 * stamp. */
TEST(a_shared_log_numbers_and_sees_each_transaction)
{
	store_t *st = s_open(harness_tmpdir(), "hub.db", STORE_HUB, "HUB");
	shared_seen_t seen = { 0, 0, 0, 0, 10, 0, -1, 0 };
	store_shared_t hooks = { s_shared_begin, s_shared_commit,
		s_shared_abort, s_shared_destroy, &seen };
	ingest_from_t in = { "store", NULL, 1 };
	ingest_result_t res;
	int64_t hlc = 0;
	cbw_t w;
	op_t op;
	err_t err;

	REQUIRE(st != NULL);
	store_set_shared(st, &hooks);
	s_movement_op(&op, "S001", 1, hlc_pack(WALL0, 0), "S001-m1", "S001",
	    "TEA", -1, "sale");
	CHECK_EQ_INT(s_ingest(st, &op, &err), INGEST_APPLIED);
	op_clear(&op);
	CHECK_EQ_INT(seen.begins, 1);
	CHECK_EQ_INT(seen.commits, 1);
	CHECK_EQ_UINT(seen.committed, 10);
	CHECK_EQ_INT(seen.logged, 1);
	CHECK_EQ_INT(seen.aborts, 0);
	CHECK_EQ_INT(s_count(st, "op_log WHERE lsn = 10"), 1);

	/* The commit hook fails: nothing is kept, and abort is told. */
	seen.first = 20;
	seen.fail_commit = 1;
	s_movement_op(&op, "S001", 2, hlc_pack(WALL0, 1), "S001-m2", "S001",
	    "TEA", -1, "sale");
	cbw_init(&w);
	REQUIRE(op_encode(&op, &w, &err) == 0);
	CHECK_EQ_INT(store_begin(st, &err), 0);
	CHECK_EQ_INT(store_ingest(st, &op, w.data, w.len, &res, &err), 0);
	CHECK_EQ_INT(store_commit(st, &err), -1);
	CHECK_STR(err.msg, "commit: shared log: gone");
	CHECK_EQ_INT(seen.logged, 1);
	CHECK_EQ_INT(seen.aborts, 1);
	CHECK_EQ_INT(s_count(st, "op_log"), 1);

	/* A copying hub sets the floor per op, its hooks aside (first 0). */
	seen.first = 0;
	seen.fail_commit = 0;
	CHECK_EQ_INT(store_begin(st, &err), 0);
	store_set_lsn_floor(st, 50);
	CHECK_EQ_INT(store_ingest_from(st, &op, w.data, w.len, &in, &res, &err),
	    0);
	CHECK_EQ_INT(res, INGEST_APPLIED);
	CHECK_EQ_INT(store_commit(st, &err), 0);
	CHECK_EQ_INT(s_count(st, "op_log WHERE lsn = 50 AND seq = 2"), 1);
	cbw_free(&w);
	op_clear(&op);

	/* Admitted by another hub's clock: applied, stamp ahead or not. */
	s_customer_op(&op, "S001", 3, hlc_pack(WALL0 + 600000, 0), "S001-C-3",
	    "Ada");
	cbw_init(&w);
	REQUIRE(op_encode(&op, &w, &err) == 0);
	CHECK_EQ_INT(store_begin(st, &err), 0);
	CHECK_EQ_INT(store_ingest_from(st, &op, w.data, w.len, &in, &res, &err),
	    0);
	CHECK_EQ_INT(res, INGEST_APPLIED);
	CHECK_EQ_INT(store_commit(st, &err), 0);
	CHECK_EQ_INT(s_count(st, "op_log WHERE lsn = 51 AND seq = 3"), 1);
	CHECK_EQ_INT(store_quarantine_count(st), 0);
	cbw_free(&w);
	op_clear(&op);
	/* Within the bound, the clock observes it as any op. */
	s_customer_op(&op, "S001", 4, hlc_pack(WALL0 + 1000, 0), "S001-C-3",
	    "Bo");
	cbw_init(&w);
	REQUIRE(op_encode(&op, &w, &err) == 0);
	CHECK_EQ_INT(store_begin(st, &err), 0);
	CHECK_EQ_INT(store_ingest_from(st, &op, w.data, w.len, &in, &res, &err),
	    0);
	CHECK_EQ_INT(res, INGEST_APPLIED);
	CHECK_EQ_INT(store_commit(st, &err), 0);
	CHECK_EQ_INT(store_meta_get_int(st, "hlc", 0, &hlc, &err), 0);
	CHECK((uint64_t)hlc >= op.hlc &&
	    (uint64_t)hlc < hlc_pack(WALL0 + 2000, 0));
	cbw_free(&w);
	op_clear(&op);
	store_close(&st);
	CHECK_EQ_INT(seen.destroyed, 1);
}

/* A stamp ahead decides no claim of a movement, a payment or an order's
 * create (store.h): they are applied at once, and the receiver's clock is
 * not pulled forward by them. */
TEST(ingest_applies_events_stamped_ahead_at_once)
{
	store_t *st = s_open(harness_tmpdir(), "hub.db", STORE_HUB, "HUB");
	op_t op;
	err_t err;
	int64_t hlc_after = -2;

	REQUIRE(st != NULL);
	s_movement_op(&op, "S002", 1, hlc_pack(WALL0 + 86400000, 0),
	    "S002-000001", "S002", "A", 5, "receipt");
	CHECK_EQ_INT(s_ingest(st, &op, &err), INGEST_APPLIED);
	CHECK_EQ_INT(store_quarantine_count(st), 0);
	CHECK_STOCK(st,
	    "{\"items\":[{\"site\":\"S002\",\"sku\":\"A\","
	    "\"on_hand\":5,\"reserved\":0,\"available\":5}]}");
	CHECK_EQ_INT(store_meta_get_int(st, "hlc", 0, &hlc_after, &err), 0);
	CHECK((uint64_t)hlc_after < hlc_pack(WALL0 + 300000, 0));
	op_clear(&op);
	/* The same store's name change, as far ahead, waits. */
	s_customer_op(&op, "S002", 2, hlc_pack(WALL0 + 86400000, 1), "S002-C-1",
	    "Ada");
	CHECK_EQ_INT(s_ingest(st, &op, &err), INGEST_QUARANTINED);
	CHECK_STR(err.msg,
	    "apply op S002/2: clock 86400000 ms ahead (max 300000 ms)");
	op_clear(&op);
	store_close(&st);
}

TEST(ingest_quarantines_what_the_merge_rules_refuse)
{
	store_t *st = s_open(harness_tmpdir(), "hub.db", STORE_HUB, "HUB");
	op_t op;
	err_t err;

	REQUIRE(st != NULL);
	/* An entity no rule knows. */
	memset(&op, 0, sizeof op);
	snprintf(op.origin, sizeof op.origin, "S001");
	op.seq = 2;
	op.hlc = hlc_pack(WALL0, 0);
	snprintf(op.entity, sizeof op.entity, "no_such_entity");
	snprintf(op.key, sizeof op.key, "c1");
	snprintf(op.kind, sizeof op.kind, "set");
	op.fields = json_pack("{s:s}", "name", "Ada");
	CHECK_EQ_INT(s_ingest(st, &op, &err), INGEST_QUARANTINED);
	CHECK_EQ_INT(err.code, ERR_BAD_REQUEST);
	CHECK_STR(err.msg, "apply op S001/2: unknown entity 'no_such_entity'");
	CHECK_EQ_INT(store_quarantine_count(st), 1);
	op_clear(&op);

	/* A stock movement of an unknown kind, and one with a zero delta. */
	s_movement_op(&op, "S001", 3, hlc_pack(WALL0, 1), "S001-m3", "S001",
	    "A", 5, "receipt");
	snprintf(op.kind, sizeof op.kind, "remove");
	CHECK_EQ_INT(s_ingest(st, &op, &err), INGEST_QUARANTINED);
	CHECK_STR(err.msg,
	    "apply op S001/3: stock movement S001-m3: unknown kind 'remove'");
	op_clear(&op);
	s_movement_op(&op, "S001", 4, hlc_pack(WALL0, 2), "S001-m4", "S001",
	    "A", 0, "adjustment");
	CHECK_EQ_INT(s_ingest(st, &op, &err), INGEST_QUARANTINED);
	CHECK_STR(err.msg,
	    "apply op S001/4: stock movement S001-m4: delta: must be non-zero and within ±1000000000");
	op_clear(&op);
	/* A sale that adds stock. */
	s_movement_op(&op, "S001", 5, hlc_pack(WALL0, 3), "S001-m5", "S001",
	    "A", 2, "sale");
	CHECK_EQ_INT(s_ingest(st, &op, &err), INGEST_QUARANTINED);
	CHECK_STR(err.msg,
	    "apply op S001/5: stock movement S001-m5: delta: a sale must be negative");
	op_clear(&op);

	CHECK_EQ_INT(store_quarantine_count(st), 4);
	CHECK_EQ_INT(s_count(st, "op_log"), 0);
	CHECK_EQ_INT(s_count(st, "stock_movements"), 0);
	CHECK_STOCK(st, "{\"items\":[]}");
	/* A good op behind them still goes through. */
	s_movement_op(&op, "S001", 6, hlc_pack(WALL0, 4), "S001-m6", "S001",
	    "A", -2, "sale");
	CHECK_EQ_INT(s_ingest(st, &op, &err), INGEST_APPLIED);
	CHECK_STOCK(st,
	    "{\"items\":[{\"site\":\"S001\",\"sku\":\"A\","
	    "\"on_hand\":-2,\"reserved\":0,\"available\":-2}]}");
	op_clear(&op);
	store_close(&st);
}

/* store_set_logged: what the hook saw, and whether it fails. */
typedef struct {
	int calls;
	char last[OP_SITE_MAX + 32]; /* "origin/seq" of the last op */
	int fail;
} s_logged_t;

static int
s_on_logged(void *arg, store_t *st, const op_t *op, err_t *err)
{
	s_logged_t *l = arg;

	(void)st;
	l->calls++;
	snprintf(l->last, sizeof l->last, "%s/%llu", op->origin,
	    (unsigned long long)op->seq);
	if (l->fail)
		return err_set(err, ERR_INTERNAL, "hook: %s refused", l->last);
	return 0;
}

TEST(the_logged_hook_sees_each_op_once_it_is_applied)
{
	store_t *st = s_open(harness_tmpdir(), "hub.db", STORE_HUB, "HUB");
	s_logged_t l = { 0, "", 0 };
	json_t *f;
	op_t op;
	err_t err;

	REQUIRE(st != NULL);
	store_set_logged(st, s_on_logged, &l);
	/* Another site's op applied: once, not again as a duplicate. */
	s_movement_op(&op, "S001", 1, hlc_pack(WALL0, 0), "S001-m1", "S001",
	    "A", 5, "receipt");
	CHECK_EQ_INT(s_ingest(st, &op, &err), INGEST_APPLIED);
	CHECK_EQ_INT(s_ingest(st, &op, &err), INGEST_DUPLICATE);
	CHECK_EQ_INT(l.calls, 1);
	CHECK_STR(l.last, "S001/1");
	op_clear(&op);
	/* A refused op is not logged: no call. */
	s_movement_op(&op, "S001", 2, hlc_pack(WALL0, 1), "S001-m2", "S001",
	    "A", 2, "sale");
	CHECK_EQ_INT(s_ingest(st, &op, &err), INGEST_QUARANTINED);
	CHECK_EQ_INT(l.calls, 1);
	op_clear(&op);
	/* A local write: once, inside its transaction. */
	f = json_pack("{s:s, s:s, s:i, s:s}", "site", "HUB", "sku", "A",
	    "delta", 3, "reason", "receipt");
	REQUIRE_EQ_INT(store_begin(st, &err), 0);
	CHECK_EQ_INT(store_append_local(st, STOCK_ENTITY, "HUB-m1", "add", f,
			 NULL, &err),
	    0);
	CHECK_EQ_INT(store_commit(st, &err), 0);
	CHECK_EQ_INT(l.calls, 2);
	CHECK_STR(l.last, "HUB/1");
	/* A hook that fails fails the write: nothing of it is kept. */
	l.fail = 1;
	REQUIRE_EQ_INT(store_begin(st, &err), 0);
	CHECK_EQ_INT(store_append_local(st, STOCK_ENTITY, "HUB-m2", "add", f,
			 NULL, &err),
	    -1);
	CHECK_STR(err.msg, "hook: HUB/2 refused");
	store_rollback(st);
	CHECK_EQ_INT(s_count(st, "op_log"), 2);
	json_decref(f);
	store_close(&st);
}

/* ---- stock_record ---- */

static json_t *
s_req(const char *json)
{
	json_error_t jerr;
	json_t *v = json_loads(json, JSON_DECODE_ANY, &jerr);

	if (v == NULL)
		harness_fail(__FILE__, __LINE__, "bad test JSON %s: %s", json,
		    jerr.text);
	return v;
}

TEST(stock_record_is_idempotent_by_id)
{
	store_t *st = s_open(harness_tmpdir(), "node.db", STORE_NODE, "S001");
	json_t *req, *out = NULL, *again = NULL;
	int created = -1;
	err_t err;

	REQUIRE(st != NULL);
	req = s_req("{\"id\":\"m1\",\"sku\":\"A\",\"delta\":5,"
		    "\"reason\":\"receipt\",\"ref\":\"PO-9\"}");
	err_clear(&err);
	CHECK_EQ_INT(stock_record(st, req, &out, &created, &err), 0);
	CHECK_EQ_INT(created, 1);
	REQUIRE(out != NULL);
	/* The client's id is scoped by the site (own.h). */
	CHECK_STR(json_string_value(json_object_get(out, "id")), "S001-m1");
	CHECK_STR(json_string_value(json_object_get(out, "site")), "S001");
	CHECK_STR(json_string_value(json_object_get(out, "origin")), "S001");
	CHECK_STR(json_string_value(json_object_get(out, "ref")), "PO-9");
	CHECK_EQ_INT(json_integer_value(json_object_get(out, "delta")), 5);
	CHECK_EQ_INT(json_integer_value(json_object_get(out, "hlc")),
	    (int64_t)hlc_pack(WALL0, 0));

	/* The same request again: the recorded movement, nothing new. */
	created = -1;
	CHECK_EQ_INT(stock_record(st, req, &again, &created, &err), 0);
	CHECK_EQ_INT(created, 0);
	CHECK(again != NULL && json_equal(again, out));
	CHECK_EQ_INT(s_count(st, "stock_movements"), 1);
	CHECK_EQ_INT(s_count(st, "op_log"), 1);
	CHECK_STOCK(st,
	    "{\"items\":[{\"site\":\"S001\",\"sku\":\"A\","
	    "\"on_hand\":5,\"reserved\":0,\"available\":5}]}");
	json_decref(again);
	json_decref(req);

	/* The same id saying something else is a conflict. */
	req = s_req("{\"id\":\"m1\",\"sku\":\"A\",\"delta\":6,"
		    "\"reason\":\"receipt\",\"ref\":\"PO-9\"}");
	again = NULL;
	created = -1;
	CHECK_EQ_INT(stock_record(st, req, &again, &created, &err), -1);
	CHECK_EQ_INT(err.code, ERR_CONFLICT);
	CHECK_STR(err.msg,
	    "stock movement S001-m1: id already used for a different movement");
	CHECK(again == NULL);
	CHECK_EQ_INT(created, 0);
	json_decref(req);
	/* Also when only the ref differs, or the ref is left out. */
	req = s_req("{\"id\":\"m1\",\"sku\":\"A\",\"delta\":5,"
		    "\"reason\":\"receipt\"}");
	CHECK_EQ_INT(stock_record(st, req, &again, &created, &err), -1);
	CHECK_EQ_INT(err.code, ERR_CONFLICT);
	json_decref(req);
	CHECK_EQ_INT(s_count(st, "stock_movements"), 1);
	CHECK_EQ_INT(s_count(st, "op_log"), 1);
	CHECK_STOCK(st,
	    "{\"items\":[{\"site\":\"S001\",\"sku\":\"A\","
	    "\"on_hand\":5,\"reserved\":0,\"available\":5}]}");
	json_decref(out);

	/* Without an id one is made from the site and the op's seq. */
	req = s_req("{\"sku\":\"A\",\"delta\":-2,\"reason\":\"sale\"}");
	out = NULL;
	CHECK_EQ_INT(stock_record(st, req, &out, &created, &err), 0);
	CHECK_EQ_INT(created, 1);
	CHECK_STR(json_string_value(json_object_get(out, "id")), "S001-000002");
	CHECK(json_object_get(out, "ref") == NULL);
	CHECK_STOCK(st,
	    "{\"items\":[{\"site\":\"S001\",\"sku\":\"A\","
	    "\"on_hand\":3,\"reserved\":0,\"available\":3}]}");
	json_decref(out);
	json_decref(req);
	store_close(&st);
}

TEST(stock_record_refuses_bad_requests_naming_the_field)
{
	static const struct {
		const char *req;
		const char *msg;
	} cases[] = {
		{ "{\"delta\":5,\"reason\":\"receipt\"}", "sku: missing" },
		{ "{\"sku\":null,\"delta\":5,\"reason\":\"receipt\"}",
		    "sku: missing" },
		{ "{\"sku\":\"\",\"delta\":5,\"reason\":\"receipt\"}",
		    "sku: must be 1 to 64 characters" },
		{ "{\"sku\":7,\"delta\":5,\"reason\":\"receipt\"}",
		    "sku: must be a string" },
		{ "{\"sku\":\"A\",\"reason\":\"receipt\"}", "delta: missing" },
		{ "{\"sku\":\"A\",\"delta\":\"5\",\"reason\":\"receipt\"}",
		    "delta: must be an integer" },
		{ "{\"sku\":\"A\",\"delta\":5.0,\"reason\":\"receipt\"}",
		    "delta: must be an integer" },
		{ "{\"sku\":\"A\",\"delta\":0,\"reason\":\"adjustment\"}",
		    "delta: must be non-zero and within ±1000000000" },
		{ "{\"sku\":\"A\",\"delta\":1000000001,\"reason\":\"receipt\"}",
		    "delta: must be non-zero and within ±1000000000" },
		{ "{\"sku\":\"A\",\"delta\":3,\"reason\":\"sale\"}",
		    "delta: a sale must be negative" },
		{ "{\"sku\":\"A\",\"delta\":-3,\"reason\":\"receipt\"}",
		    "delta: a receipt must be positive" },
		{ "{\"sku\":\"A\",\"delta\":5}", "reason: missing" },
		{ "{\"sku\":\"A\",\"delta\":5,\"reason\":\"gift\"}",
		    "reason: 'gift' is not one of receipt, sale, return, adjustment, transfer_out, transfer_in, count" },
		{ "{\"sku\":\"A\",\"delta\":5,\"reason\":\"receipt\",\"site\":\"S 1\"}",
		    "site: 'S 1' is not a site id" },
		{ "{\"sku\":\"A\",\"delta\":5,\"reason\":\"receipt\",\"ref\":9}",
		    "ref: must be a string" },
		{ "{\"id\":\"\",\"sku\":\"A\",\"delta\":5,\"reason\":\"receipt\"}",
		    "id: must be 1 to 64 characters" },
		{ "[1]", "stock movement: body must be a JSON object" },
	};
	store_t *st = s_open(harness_tmpdir(), "node.db", STORE_NODE, "S001");
	json_t *req, *out;
	char *before, *after;
	int created;
	size_t i;
	err_t err;
	int64_t seq_before = -1, seq_after = -1;

	REQUIRE(st != NULL);
	/* Some state to leave unchanged. */
	req = s_req(
	    "{\"id\":\"m0\",\"sku\":\"A\",\"delta\":4,\"reason\":\"receipt\"}");
	REQUIRE_EQ_INT(stock_record(st, req, &out, &created, &err), 0);
	json_decref(out);
	json_decref(req);
	before = s_stock_json(st);
	CHECK_EQ_INT(store_meta_get_int(st, "seq", 0, &seq_before, &err), 0);
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		req = s_req(cases[i].req);
		if (req == NULL)
			continue;
		out = (json_t *)&out; /* must be reset to NULL */
		created = -1;
		err_clear(&err);
		if (!CHECK_EQ_INT(stock_record(st, req, &out, &created, &err),
			-1))
			harness_fail(__FILE__, __LINE__, "accepted %s",
			    cases[i].req);
		CHECK_EQ_INT(err.code, ERR_BAD_REQUEST);
		if (!CHECK_STR(err.msg, cases[i].msg))
			harness_fail(__FILE__, __LINE__, "for %s",
			    cases[i].req);
		CHECK(out == NULL);
		CHECK_EQ_INT(created, 0);
		json_decref(req);
	}
	after = s_stock_json(st);
	CHECK_STR(after, before);
	CHECK_EQ_INT(s_count(st, "stock_movements"), 1);
	CHECK_EQ_INT(s_count(st, "op_log"), 1);
	CHECK_EQ_INT(store_meta_get_int(st, "seq", 0, &seq_after, &err), 0);
	CHECK_EQ_INT(seq_after, seq_before);
	free(before);
	free(after);
	store_close(&st);
}

/* ---- conflicting ops for one movement id ---- */

/* Ingests a then b into one fresh store and b then a into another; checks
 * both end with stock want, the movement of op winner ("ORIGIN/SEQ"), and
 * identical stock_list and stock_movements. */
static void
s_both_orders(const char *file, int line, const op_t *a, const op_t *b,
    const char *winner, const char *want)
{
	const char *dir = harness_tmpdir();
	store_t *x = s_open(dir, "x.db", STORE_HUB, "HUB");
	store_t *y = s_open(dir, "y.db", STORE_HUB, "HUB");
	json_t *lx, *ly;
	char *ox, *oy;
	err_t err;

	if (x == NULL || y == NULL)
		goto out;
	harness_check_int(file, line, "ingest a", "INGEST_APPLIED",
	    s_ingest(x, a, &err), INGEST_APPLIED);
	harness_check_int(file, line, "ingest b", "INGEST_APPLIED",
	    s_ingest(x, b, &err), INGEST_APPLIED);
	harness_check_int(file, line, "ingest b", "INGEST_APPLIED",
	    s_ingest(y, b, &err), INGEST_APPLIED);
	harness_check_int(file, line, "ingest a", "INGEST_APPLIED",
	    s_ingest(y, a, &err), INGEST_APPLIED);
	lx = t_list(x, stock_list, NULL);
	ly = t_list(y, stock_list, NULL);
	if (!json_equal(lx, ly)) {
		char *sx = json_dumps(lx, JSON_SORT_KEYS | JSON_COMPACT);
		char *sy = json_dumps(ly, JSON_SORT_KEYS | JSON_COMPACT);

		harness_fail(file, line,
		    "stock_list depends on arrival order:\n#   a then b: %s\n#   b then a: %s",
		    sx, sy);
		free(sx);
		free(sy);
	}
	json_decref(lx);
	json_decref(ly);
	s_check_stock(file, line, x, want);
	ox = s_query_text(x,
	    "SELECT group_concat(id || ',' || origin || ',' || seq || ',' || "
	    "delta || ',' || site || ',' || sku, ';') FROM stock_movements");
	oy = s_query_text(y,
	    "SELECT group_concat(id || ',' || origin || ',' || seq || ',' || "
	    "delta || ',' || site || ',' || sku, ';') FROM stock_movements");
	harness_check_str(file, line, "movements a then b", "b then a", ox, oy);
	free(ox);
	free(oy);
	ox = s_query_text(x,
	    "SELECT origin || '/' || seq FROM stock_movements "
	    "WHERE id = 'S001-dup-1'");
	harness_check_str(file, line, "winning op", "winner", ox, winner);
	free(ox);
out:
	store_close(&x);
	store_close(&y);
}

/* One site recording one movement id twice (a restored site recording
 * again): the lower clock is the movement, whatever the order. */
TEST(same_id_twice_resolves_to_the_lower_hlc_in_any_order)
{
	op_t a, b;

	/* S001/2 is later, so S001/1 stands. */
	s_movement_op(&a, "S001", 1, hlc_pack(WALL0 - 2000, 0), "S001-dup-1",
	    "S001", "A", 5, "receipt");
	s_movement_op(&b, "S001", 2, hlc_pack(WALL0 - 1000, 0), "S001-dup-1",
	    "S001", "A", 7, "receipt");
	s_both_orders(__FILE__, __LINE__, &a, &b, "S001/1",
	    "{\"items\":[{\"site\":\"S001\",\"sku\":\"A\",\"on_hand\":5,"
	    "\"reserved\":0,\"available\":5}]}");
	/* Reversed clocks: now S001/2 wins. */
	b.hlc = hlc_pack(WALL0 - 3000, 0);
	s_both_orders(__FILE__, __LINE__, &a, &b, "S001/2",
	    "{\"items\":[{\"site\":\"S001\",\"sku\":\"A\",\"on_hand\":7,"
	    "\"reserved\":0,\"available\":7}]}");
	op_clear(&a);
	op_clear(&b);
}

TEST(same_id_and_same_hlc_resolves_to_the_lower_seq_in_any_order)
{
	op_t a, b;

	s_movement_op(&a, "S001", 4, hlc_pack(WALL0 - 2000, 3), "S001-dup-1",
	    "S001", "A", -1, "sale");
	s_movement_op(&b, "S001", 9, hlc_pack(WALL0 - 2000, 3), "S001-dup-1",
	    "S001", "A", -4, "sale");
	s_both_orders(__FILE__, __LINE__, &a, &b, "S001/4",
	    "{\"items\":[{\"site\":\"S001\",\"sku\":\"A\",\"on_hand\":-1,"
	    "\"reserved\":0,\"available\":-1}]}");
	op_clear(&a);
	op_clear(&b);
}

/* One id recorded for two skus: the loser's effect is undone, and a
 * position only it made goes too, so stock_list is the same whatever
 * arrived first. */
TEST(same_id_for_different_sku_converges_in_any_order)
{
	op_t a, b;

	s_movement_op(&a, "S001", 1, hlc_pack(WALL0 - 2000, 0), "S001-dup-1",
	    "S001", "A", 5, "receipt");
	s_movement_op(&b, "S001", 2, hlc_pack(WALL0 - 1000, 0), "S001-dup-1",
	    "S001", "B", 7, "receipt");
	s_both_orders(__FILE__, __LINE__, &a, &b, "S001/1",
	    "{\"items\":[{\"site\":\"S001\",\"sku\":\"A\",\"on_hand\":5,"
	    "\"reserved\":0,\"available\":5}]}");
	op_clear(&a);
	op_clear(&b);
}

/* Another site claiming the id, with any clock, in any order: refused
 * (own.h), the owner's movement stands. */
TEST(same_id_from_another_site_is_refused_in_any_order)
{
	const char *dir = harness_tmpdir();
	store_t *x = s_open(dir, "x.db", STORE_HUB, "HUB");
	store_t *y = s_open(dir, "y.db", STORE_HUB, "HUB");
	op_t a, b;
	err_t err;
	char *got;

	REQUIRE(x != NULL && y != NULL);
	s_movement_op(&a, "S001", 1, hlc_pack(WALL0 - 2000, 0), "S001-dup-1",
	    "S001", "A", 5, "receipt");
	s_movement_op(&b, "S002", 1, hlc_pack(WALL0 - 9000, 0), "S001-dup-1",
	    "S002", "A", 7, "receipt");
	CHECK_EQ_INT(s_ingest(x, &a, &err), INGEST_APPLIED);
	CHECK_EQ_INT(s_ingest(x, &b, &err), INGEST_QUARANTINED);
	CHECK_STR(err.msg,
	    "apply op S002/1: stock movement S001-dup-1: S002 creates records "
	    "only under its own ids (S002-...)");
	CHECK_EQ_INT(s_ingest(y, &b, &err), INGEST_QUARANTINED);
	CHECK_EQ_INT(s_ingest(y, &a, &err), INGEST_APPLIED);
	CHECK_STOCK(x,
	    "{\"items\":[{\"site\":\"S001\",\"sku\":\"A\",\"on_hand\":5,"
	    "\"reserved\":0,\"available\":5}]}");
	CHECK_STOCK(y,
	    "{\"items\":[{\"site\":\"S001\",\"sku\":\"A\",\"on_hand\":5,"
	    "\"reserved\":0,\"available\":5}]}");
	got = s_query_text(y,
	    "SELECT origin || '/' || seq FROM stock_movements");
	CHECK_STR(got, "S001/1");
	free(got);
	op_clear(&a);
	op_clear(&b);
	store_close(&x);
	store_close(&y);
}

/* A site restored from an old backup gets its own later ops back from the
 * hub; it must never hand out their seqs again. */
TEST(own_op_coming_back_moves_the_next_local_seq_past_it)
{
	store_t *st = s_open(harness_tmpdir(), "node.db", STORE_NODE, "S001");
	op_t back, out;
	err_t err;
	json_t *fields;
	int64_t seq = 0;

	REQUIRE(st != NULL);
	s_movement_op(&back, "S001", 3, hlc_pack(WALL0 - 5000, 0),
	    "S001-000003", "S001", "A", 4, "receipt");
	CHECK_EQ_INT(s_ingest(st, &back, &err), INGEST_APPLIED);
	op_clear(&back);
	CHECK_EQ_INT(store_meta_get_int(st, "seq", 0, &seq, &err), 0);
	CHECK_EQ_INT(seq, 3);
	memset(&out, 0, sizeof out);
	fields = json_pack("{s:s, s:s, s:i, s:s}", "site", "S001", "sku", "A",
	    "delta", 1, "reason", "receipt");
	REQUIRE_EQ_INT(store_begin(st, &err), 0);
	CHECK_EQ_INT(store_append_local(st, STOCK_ENTITY, "S001-n1", "add",
			 fields, &out, &err),
	    0);
	CHECK_EQ_INT(store_commit(st, &err), 0);
	json_decref(fields);
	CHECK_EQ_UINT(out.seq, 4);
	/* ...and its clock is above the op that came back. */
	CHECK_MSG(out.hlc > hlc_pack(WALL0 - 5000, 0), "hlc %llu",
	    (unsigned long long)out.hlc);
	CHECK_EQ_UINT(out.hlc, hlc_pack(WALL0, 0));
	op_clear(&out);
	CHECK_STOCK(st,
	    "{\"items\":[{\"site\":\"S001\",\"sku\":\"A\","
	    "\"on_hand\":5,\"reserved\":0,\"available\":5}]}");
	store_close(&st);
}

/* store_ingest bumps the next local seq past an own op that comes back (a
 * site restored from an old backup), but only when the op is applied. An
 * own op that comes back and is quarantined keeps its (origin, seq) in the
 * quarantine, and the next local op is handed the same seq: two different
 * ops then share one (origin, seq), and every other replica drops the new
 * one as a duplicate. */
TEST(own_op_quarantined_on_return_still_reserves_its_seq)
{
	store_t *st = s_open(harness_tmpdir(), "node.db", STORE_NODE, "S001");
	op_t back, out;
	err_t err;
	json_t *fields;
	uint64_t held = 0;

	REQUIRE(st != NULL);
	/* Our own S001/3 returns with a zero delta: quarantined. */
	s_movement_op(&back, "S001", 3, hlc_pack(WALL0 - 5000, 0),
	    "S001-000003", "S001", "A", 0, "adjustment");
	CHECK_EQ_INT(s_ingest(st, &back, &err), INGEST_QUARANTINED);
	CHECK_EQ_INT(store_origin_max_seq(st, "S001", &held, &err), 0);
	CHECK_EQ_UINT(held, 3);
	op_clear(&back);
	/* Three local writes: none may reuse seq 3. */
	memset(&out, 0, sizeof out);
	fields = json_pack("{s:s, s:s, s:i, s:s}", "site", "S001", "sku", "A",
	    "delta", 1, "reason", "receipt");
	REQUIRE_EQ_INT(store_begin(st, &err), 0);
	CHECK_EQ_INT(store_append_local(st, STOCK_ENTITY, "S001-n1", "add",
			 fields, NULL, &err),
	    0);
	CHECK_EQ_INT(store_append_local(st, STOCK_ENTITY, "S001-n2", "add",
			 fields, NULL, &err),
	    0);
	CHECK_EQ_INT(store_append_local(st, STOCK_ENTITY, "S001-n3", "add",
			 fields, &out, &err),
	    0);
	CHECK_EQ_INT(store_commit(st, &err), 0);
	json_decref(fields);
	CHECK_MSG(out.seq > 3,
	    "third local op after S001/3 came back got seq %llu",
	    (unsigned long long)out.seq);
	CHECK_EQ_INT(
	    store_query_int(st,
		store_stmt(st,
		    "SELECT count(*) FROM op_log JOIN quarantine USING (origin, seq)"),
		-1),
	    0);
	op_clear(&out);
	store_close(&st);
}

/* The daemons look every second for ops waiting for their order (own.h),
 * and every minute for ops whose stamp has come: by partial indexes, never
 * by reading the whole quarantine, which a flood of refused ops can make
 * large. */
/* The query plan of sql in st, its steps joined into plan (size bytes). */
static void
s_plan(store_t *st, const char *sql, char *plan, size_t size)
{
	char explain[512];
	sqlite3_stmt *q = NULL;

	plan[0] = '\0';
	snprintf(explain, sizeof explain, "EXPLAIN QUERY PLAN %s", sql);
	REQUIRE(sqlite3_prepare_v2(store_db(st), explain, -1, &q, NULL) ==
	    SQLITE_OK);
	while (sqlite3_step(q) == SQLITE_ROW)
		snprintf(plan + strlen(plan), size - strlen(plan), "%s; ",
		    sqlite3_column_text(q, 3));
	sqlite3_finalize(q);
}

TEST(quarantined_ops_due_a_retry_are_found_by_an_index)
{
	store_t *st = s_open(harness_tmpdir(), "hub.db", STORE_HUB, "HQ");
	char plan[512];

	REQUIRE(st != NULL);
	s_plan(st,
	    "SELECT EXISTS (SELECT 1 FROM quarantine WHERE "
	    "instr(reason, ': not held here yet') > 0)",
	    plan, sizeof plan);
	CHECK_MSG(strstr(plan, "USING INDEX quarantine_waiting") != NULL,
	    "plan: %s", plan);
	/* And the ops held for their clock, retried every minute. */
	s_plan(st,
	    "SELECT body FROM quarantine WHERE reason LIKE '%ms ahead (max %' "
	    "ORDER BY origin, seq",
	    plan, sizeof plan);
	CHECK_MSG(strstr(plan, "USING INDEX quarantine_clock") != NULL,
	    "plan: %s", plan);
	store_close(&st);
}
