/*
 * test_core_rules: the sync core stands alone. This file is built with the
 * core's include path only and linked with libblcore.a only: no business
 * code. A test rule table ("note": a text kept in meta; "hq_note": the same,
 * head-office data) drives the store: a local write is applied and logged,
 * a remote op is applied once whatever how often it comes, an op its rule
 * refuses is quarantined and writes nothing, an entity without a rule is
 * quarantined with its reason, and who may write what follows the table.
 */
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "hlc.h"
#include "op.h"
#include "store.h"

/* The test domain's one rule: meta[note:KEY] = fields.text; refuses a
 * note without text (checking before it writes, as every rule must). */
static int
s_note_apply(store_t *st, const op_t *op, err_t *err)
{
	const char *text = json_string_value(
	    json_object_get(op->fields, "text"));
	char name[128];

	if (text == NULL)
		return err_set(err, ERR_BAD_REQUEST, "text: required");
	snprintf(name, sizeof name, "note:%s", op->key);
	return store_meta_set_text(st, name, text, err);
}

static const store_rule_t s_rules[] = {
	{ "note", s_note_apply, 0, 1 },
	{ "hq_note", s_note_apply, 1, 1 },
};
static const store_rules_t s_test_rules = { s_rules, 2 };

static store_t *
s_open(const char *dir)
{
	char path[4200];
	store_t *st;
	err_t err;

	snprintf(path, sizeof path, "%s/node.db", dir);
	st = store_open(path, STORE_NODE, 1, &s_test_rules, &err);
	if (st == NULL) {
		CHECK_MSG(0, "store_open: %s", err.msg);
		return NULL;
	}
	if (store_begin(st, &err) ||
	    store_meta_set_text(st, "site", "S001", &err) ||
	    store_commit(st, &err)) {
		CHECK_MSG(0, "site: %s", err.msg);
		store_close(&st);
	}
	return st;
}

/* Ingests a remote op of origin/seq in its own transaction. */
static int
s_ingest(store_t *st, const char *origin, uint64_t seq, const char *entity,
    const char *key, json_t *fields, err_t *why)
{
	op_t op;
	cbw_t w;
	ingest_result_t res = INGEST_DUPLICATE;
	err_t err;

	memset(&op, 0, sizeof op);
	snprintf(op.origin, sizeof op.origin, "%s", origin);
	snprintf(op.entity, sizeof op.entity, "%s", entity);
	snprintf(op.key, sizeof op.key, "%s", key);
	snprintf(op.kind, sizeof op.kind, "set");
	op.seq = seq;
	/* A fixed stamp: the same op again is the same bytes (an op's
	 * identity is its content). */
	op.hlc = hlc_pack(UINT64_C(1700000000000), (uint32_t)seq);
	op.fields = fields;
	cbw_init(&w);
	err_clear(why);
	if (op_encode(&op, &w, &err) || store_begin(st, &err) ||
	    store_ingest(st, &op, w.data, w.len, &res, why) ||
	    store_commit(st, &err))
		CHECK_MSG(0, "ingest %s/%llu: %s", origin,
		    (unsigned long long)seq, err.msg);
	cbw_free(&w);
	json_decref(fields);
	return (int)res;
}

static void
s_note(store_t *st, const char *key, char *out, size_t size)
{
	char name[128];
	err_t err;

	snprintf(name, sizeof name, "note:%s", key);
	if (store_meta_get_text(st, name, "", out, size, &err))
		snprintf(out, size, "(unreadable: %s)", err.msg);
}

TEST(a_local_write_is_applied_by_the_given_rule_and_logged)
{
	store_t *st = s_open(harness_tmpdir());
	json_t *fields = json_pack("{s:s}", "text", "hello");
	char text[64];
	err_t err;

	REQUIRE(st != NULL);
	REQUIRE_EQ_INT(store_begin(st, &err), 0);
	CHECK_EQ_INT(store_append_local(st, "note", "n1", "set", fields, NULL,
			 &err),
	    0);
	CHECK_EQ_INT(store_commit(st, &err), 0);
	s_note(st, "n1", text, sizeof text);
	CHECK_STR(text, "hello");
	CHECK_EQ_INT(
	    store_query_int(st,
		store_stmt(st,
		    "SELECT count(*) FROM "
		    "op_log WHERE origin = 'S001' AND entity = 'note'"),
		-1),
	    1);
	/* A local write its rule refuses fails and leaves nothing. */
	json_object_del(fields, "text");
	REQUIRE_EQ_INT(store_begin(st, &err), 0);
	CHECK_EQ_INT(store_append_local(st, "note", "n2", "set", fields, NULL,
			 &err),
	    -1);
	CHECK_STR(err.msg, "text: required");
	store_rollback(st);
	CHECK_EQ_INT(store_query_int(st,
			 store_stmt(st,
			     "SELECT count(*) FROM "
			     "op_log"),
			 -1),
	    1);
	json_decref(fields);
	store_close(&st);
}

TEST(remote_ops_apply_once_and_refusals_are_quarantined)
{
	store_t *st = s_open(harness_tmpdir());
	char text[64];
	err_t why;

	REQUIRE(st != NULL);
	CHECK_EQ_INT(s_ingest(st, "S002", 1, "note", "a",
			 json_pack("{s:s}", "text", "one"), &why),
	    INGEST_APPLIED);
	CHECK_EQ_INT(s_ingest(st, "S002", 1, "note", "a",
			 json_pack("{s:s}", "text", "one"), &why),
	    INGEST_DUPLICATE);
	s_note(st, "a", text, sizeof text);
	CHECK_STR(text, "one");
	/* Refused by its rule: quarantined with the reason, nothing
	 * written. */
	CHECK_EQ_INT(s_ingest(st, "S002", 2, "note", "b",
			 json_pack("{s:i}", "n", 1), &why),
	    INGEST_QUARANTINED);
	CHECK_STR(why.msg, "apply op S002/2: text: required");
	s_note(st, "b", text, sizeof text);
	CHECK_STR(text, "");
	/* An entity the table does not know. */
	CHECK_EQ_INT(s_ingest(st, "S002", 3, "order", "o1",
			 json_pack("{s:s}", "text", "x"), &why),
	    INGEST_QUARANTINED);
	CHECK_STR(why.msg, "apply op S002/3: unknown entity 'order'");
	CHECK_EQ_INT(store_quarantine_count(st), 2);
	/* A quarantined op that comes again is a duplicate. */
	CHECK_EQ_INT(s_ingest(st, "S002", 3, "order", "o1",
			 json_pack("{s:s}", "text", "x"), &why),
	    INGEST_DUPLICATE);
	store_close(&st);
}

TEST(who_may_write_follows_the_rule_table)
{
	store_t *st = s_open(harness_tmpdir());

	REQUIRE(st != NULL);
	CHECK(store_may_write(st, "store", "note"));
	CHECK(!store_may_write(st, "store", "hq_note"));
	CHECK(!store_may_write(st, "warehouse", "hq_note"));
	CHECK(store_may_write(st, "hq", "hq_note"));
	/* No rule: allowed here, refused when applied (above). */
	CHECK(store_may_write(st, "store", "order"));
	store_close(&st);
}

TEST(the_statement_cache_grows_past_any_fixed_size)
{
	static char sql[600][40];
	store_t *st = s_open(harness_tmpdir());
	int i, ok = 1;

	REQUIRE(st != NULL);
	/* 600 distinct statements (the old cache held 96 and then killed
	 * the daemon), each asked for twice: the second is the cached one. */
	for (i = 0; i < 600; i++)
		snprintf(sql[i], sizeof sql[i], "SELECT %d + 1", i);
	for (i = 0; i < 1200; i++) {
		sqlite3_stmt *s = store_stmt(st, sql[i % 600]);

		ok &= store_query_int(st, s, -1) == i % 600 + 1;
	}
	CHECK(ok);
	CHECK(store_stmt(st, sql[7]) == store_stmt(st, sql[7]));
	store_close(&st);
}

TEST(a_failed_read_is_kept_fails_the_commit_and_never_passes_for_no_row)
{
	store_t *st = s_open(harness_tmpdir());
	static const char q[] = "SELECT value FROM gone WHERE name = 'x'";
	json_t *fields = json_pack("{s:s}", "text", "kept?");
	err_t err;

	REQUIRE(st != NULL);
	REQUIRE_EQ_INT(sqlite3_exec(store_db(st),
			   "CREATE TABLE gone(name, "
			   "value); INSERT INTO gone VALUES ('x', 1)",
			   NULL, NULL, NULL),
	    SQLITE_OK);
	CHECK_EQ_INT(store_query_int(st, store_stmt(st, q), -1), 1);
	CHECK_EQ_INT(store_read_error(st, &err), 0);
	/* Dropped behind the daemon's back: the cached statement fails. */
	REQUIRE_EQ_INT(sqlite3_exec(store_db(st), "DROP TABLE gone", NULL, NULL,
			   NULL),
	    SQLITE_OK);
	CHECK_EQ_INT(store_row(st, store_stmt(st, q)), 0);
	CHECK_EQ_INT(store_read_error(st, &err), -1);
	CHECK_EQ_INT(err.code, ERR_INTERNAL);
	CHECK_STR(err.msg,
	    "read SELECT value FROM gone WHERE name = 'x': no such table: gone");
	/* A statement that no longer prepares does not kill the process. */
	store_read_clear(st);
	CHECK_EQ_INT(store_row(st,
			 store_stmt(st, "SELECT name FROM gone ORDER BY name")),
	    0);
	CHECK_EQ_INT(store_read_error(st, &err), -1);
	CHECK_STR(err.msg,
	    "prepare SELECT name FROM gone ORDER BY name: no such table: gone");
	/* A transaction that read through a failure does not commit. */
	REQUIRE_EQ_INT(store_begin(st, &err), 0);
	CHECK_EQ_INT(store_append_local(st, "note", "n9", "set", fields, NULL,
			 &err),
	    0);
	(void)store_query_int(st, store_stmt(st, q), -1);
	CHECK_EQ_INT(store_commit(st, &err), -1);
	CHECK_STR(err.msg,
	    "commit: read SELECT value FROM gone WHERE name = 'x': no such table: gone");
	CHECK_EQ_INT(store_query_int(st,
			 store_stmt(st,
			     "SELECT count(*) FROM "
			     "op_log WHERE key = 'n9'"),
			 -1),
	    0);
	json_decref(fields);
	store_close(&st);
}
