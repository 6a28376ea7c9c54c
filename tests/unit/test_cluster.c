/*
 * test_cluster: the hubs' shared registry in PostgreSQL (hub/cluster.c)
 * and its copy in a hub's hub.db.
 *
 * Runs against the server $BL_PG_URI names, which tests/run.sh starts
 * (tests/pg.sh) for `make test`; without it the whole program prints one
 * SKIP line and "RESULT 0 0". Every test makes a database of its own
 * there (s_db) and drops it at its end, so each starts from nothing. By
 * hand:
 *
 *   D=$(mktemp -d); U=$(tests/pg.sh start $D)
 *   BL_PG_URI=$U build/san/tests/unit/test_cluster; tests/pg.sh stop $D
 *
 * The concurrency test forks writers that enroll sites while the test
 * tails the registry by "version > last seen", and checks that it sees
 * every site exactly once: no version may become visible after a higher
 * one (cluster.h).
 */
#include <libpq-fe.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "apply.h"
#include "cluster.h"
#include "harness.h"
#include "store.h"
#include "text.h"

static const char *s_uri;

__attribute__((constructor(200))) static void
s_setup(void)
{
	s_uri = getenv("BL_PG_URI");
	if (s_uri == NULL || s_uri[0] == '\0') {
		printf("SKIP test_cluster: BL_PG_URI is not set (make test "
		       "sets it; or start a cluster with tests/pg.sh)\n");
		printf("RESULT 0 0\n");
		exit(0);
	}
}

static void
s_quiet(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/* Runs sql (one text parameter param, or none when NULL) on a connection
 * of the test's own to uri. */
static int
s_sql(const char *uri, const char *sql, const char *param)
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
	res = param != NULL
	    ? PQexecParams(c, sql, 1, NULL, &param, NULL, NULL, 0)
	    : PQexec(c, sql);
	st = PQresultStatus(res);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		harness_fail(__FILE__, __LINE__, "%s: %s", sql,
		    PQresultErrorMessage(res));
	PQclear(res);
	PQfinish(c);
	return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : -1;
}

/* A database of the running test's own. */
typedef struct {
	char name[64];
	char uri[512];
} db_t;

/* Creates database bl_cluster_PID_TAG (dropped first if a run before left
 * it) and its URI: s_uri with the database replaced. */
static int
s_db(db_t *db, const char *tag)
{
	const char *host = strstr(s_uri, "://");
	char sql[160];
	size_t end;

	if (host == NULL)
		return harness_fail(__FILE__, __LINE__,
			   "BL_PG_URI %s: not a URI", s_uri),
		       -1;
	snprintf(db->name, sizeof db->name, "bl_cluster_%ld_%s", (long)getpid(),
	    tag);
	end = strcspn(host + 3, "/?") + (size_t)(host + 3 - s_uri);
	snprintf(db->uri, sizeof db->uri, "%.*s/%s%s", (int)end, s_uri,
	    db->name,
	    s_uri[end] == '/' ? s_uri + end + strcspn(s_uri + end, "?")
			      : s_uri + end);
	snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", db->name);
	if (s_sql(s_uri, sql, NULL))
		return -1;
	snprintf(sql, sizeof sql, "CREATE DATABASE %s", db->name);
	return s_sql(s_uri, sql, NULL);
}

static void
s_db_drop(const db_t *db)
{
	char sql[160];

	snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)",
	    db->name);
	s_sql(s_uri, sql, NULL);
}

/* Opens db's registry with its schema made; NULL after a failure. */
static cluster_t *
s_open(const db_t *db)
{
	err_t err;
	cluster_t *c = cluster_open(db->uri, &err);

	if (c == NULL) {
		harness_fail(__FILE__, __LINE__, "open: %s", err.msg);
		return NULL;
	}
	if (cluster_init_schema(c, &err)) {
		harness_fail(__FILE__, __LINE__, "init schema: %s", err.msg);
		cluster_close(&c);
	}
	return c;
}

/* A well-formed public key, different for each n. */
static const char *
s_key(unsigned n)
{
	static char buf[8][KEYS_Z85_LEN + 1];
	static int next;
	char *b = buf[next++ % 8];
	uint8_t raw[32];

	memset(raw, 0, sizeof raw);
	memcpy(raw, &n, sizeof n);
	raw[31] = 0x5a;
	zmq_z85_encode(b, raw, sizeof raw);
	return b;
}

static cluster_site_t
s_site(const char *id, const char *role, const char *key)
{
	cluster_site_t s;

	memset(&s, 0, sizeof s);
	s.id = id;
	s.role = role;
	s.pubkey = key;
	s.name = id;
	s.region = "default";
	s.enrolled_at = 1700000000000ull;
	return s;
}

/* Rows read back by cluster_changes, copied. */
#define MAX_ROWS 16
typedef struct {
	size_t n;
	struct {
		char id[32], role[16], region[64], name[64];
		uint64_t revoked_at, version;
		int has_key;
		uint8_t key[CLUSTER_SIGN_KEY_BYTES];
	} r[MAX_ROWS];
} rows_t;

static int
s_collect(void *arg, const cluster_site_t *site, err_t *err)
{
	rows_t *rows = arg;

	if (rows->n == MAX_ROWS)
		return err_set(err, ERR_INTERNAL, "collect: more than %d",
		    MAX_ROWS);
	text_printf(rows->r[rows->n].id, sizeof rows->r[0].id, "%s", site->id);
	text_printf(rows->r[rows->n].role, sizeof rows->r[0].role, "%s",
	    site->role);
	text_printf(rows->r[rows->n].region, sizeof rows->r[0].region, "%s",
	    site->region);
	text_printf(rows->r[rows->n].name, sizeof rows->r[0].name, "%s",
	    site->name != NULL ? site->name : "(null)");
	rows->r[rows->n].revoked_at = site->revoked_at;
	rows->r[rows->n].version = site->version;
	rows->r[rows->n].has_key = site->sign_key != NULL;
	if (site->sign_key != NULL)
		memcpy(rows->r[rows->n].key, site->sign_key,
		    CLUSTER_SIGN_KEY_BYTES);
	rows->n++;
	return 0;
}

static int
s_changes(cluster_t *c, uint64_t after, size_t limit, rows_t *rows)
{
	err_t err;
	size_t n = 99;

	memset(rows, 0, sizeof *rows);
	if (cluster_changes(c, after, limit, s_collect, rows, &n, &err))
		return harness_fail(__FILE__, __LINE__, "changes: %s", err.msg),
		       -1;
	if (n != rows->n)
		return harness_fail(__FILE__, __LINE__, "n_read %zu, rows %zu",
			   n, rows->n),
		       -1;
	return 0;
}

/* The highest version in the registry (0: none). */
static uint64_t
s_head(cluster_t *c)
{
	rows_t rows;
	uint64_t v = 0, after = 0;

	do {
		if (s_changes(c, after, MAX_ROWS, &rows))
			return 0;
		if (rows.n > 0)
			v = after = rows.r[rows.n - 1].version;
	} while (rows.n == MAX_ROWS);
	return v;
}

TEST(schema_idempotent_and_versioned)
{
	db_t db;
	cluster_t *c;
	err_t err;
	char key[KEYS_Z85_LEN + 1] = "x";

	REQUIRE(s_db(&db, "schema") == 0);
	c = s_open(&db);
	if (c != NULL) {
		/* Again, with the tables there: nothing changes. */
		CHECK_EQ_INT(cluster_init_schema(c, &err), 0);
		CHECK_EQ_INT(cluster_hub_key(c, key, &err), 0);
		CHECK_STR(key, "");
		/* The op log came with it. */
		CHECK_EQ_INT(s_sql(db.uri, "SELECT count(*) FROM op_log", NULL),
		    0);
		REQUIRE(s_sql(db.uri,
			    "UPDATE cluster_meta SET value = '2' "
			    "WHERE key = 'schema_version'",
			    NULL) == 0);
		CHECK_EQ_INT(cluster_init_schema(c, &err), -1);
		CHECK_EQ_INT(err.code, ERR_UPGRADE);
		CHECK_STR(err.msg,
		    "init schema: cluster_meta: schema version 2, this build "
		    "knows 1");
		/* The connection is usable after the refusal. */
		CHECK_EQ_INT(cluster_hub_key(c, key, &err), 0);
		cluster_close(&c);
	}
	s_db_drop(&db);
}

TEST(claim_then_other_key_refused)
{
	db_t db;
	cluster_t *c;
	err_t err;
	char key[KEYS_Z85_LEN + 1], want[1024];
	const char *k1 = s_key(1), *k2 = s_key(2);
	cluster_site_t hq = s_site("HQ", "hq", k1);
	cluster_site_t hq2 = s_site("HQ2", "hq", s_key(3));
	rows_t rows;

	REQUIRE(s_db(&db, "claim") == 0);
	c = s_open(&db);
	if (c != NULL) {
		CHECK_EQ_INT(cluster_check_key(c, k2, &err), 0);
		CHECK_EQ_INT(cluster_claim(c, k1, &hq, &err), 0);
		CHECK_EQ_INT(cluster_hub_key(c, key, &err), 0);
		CHECK_STR(key, k1);
		snprintf(want, sizeof want,
		    "join %s: hub key %.8s... is not this cluster's (%.8s...)",
		    db.uri, k2, k1);
		CHECK_EQ_INT(cluster_check_key(c, k2, &err), -1);
		CHECK_EQ_INT(err.code, ERR_FORBIDDEN);
		CHECK_STR(err.msg, want);
		/* Refused whole: the hq site it came with is not enrolled. */
		CHECK_EQ_INT(cluster_claim(c, k2, &hq2, &err), -1);
		CHECK_STR(err.msg, want);
		/* The right key joins, with its own hq site. */
		CHECK_EQ_INT(cluster_claim(c, k1, &hq2, &err), 0);
		/* A taken hq id: the claim is refused with enroll's text. */
		CHECK_EQ_INT(cluster_claim(c, k1, &hq2, &err), -1);
		CHECK_STR(err.msg, "site HQ2: already enrolled");
		if (s_changes(c, 0, MAX_ROWS, &rows) == 0) {
			CHECK_EQ_UINT(rows.n, 2);
			CHECK_STR(rows.r[0].id, "HQ");
			CHECK_STR(rows.r[1].id, "HQ2");
			CHECK_STR(rows.r[1].role, "hq");
		}
		cluster_close(&c);
	}
	s_db_drop(&db);
}

TEST(password_never_shown)
{
	err_t err;
	cluster_t *c;

	/* Nothing listens on port 1. */
	c = cluster_open("postgresql://u:s3cret@127.0.0.1:1/x", &err);
	CHECK(c == NULL);
	CHECK_EQ_INT(err.code, ERR_UNAVAILABLE);
	CHECK_MSG(strncmp(err.msg, "open postgresql://u@127.0.0.1:1/x: ", 35) ==
		0,
	    "%s", err.msg);
	CHECK(strstr(err.msg, "s3cret") == NULL);
	cluster_close(&c);
}

TEST(enroll_revoke_region_texts)
{
	db_t db;
	cluster_t *c;
	err_t err;
	char was[64], role[16];
	cluster_site_t s1 = s_site("S001", "store", s_key(11));
	cluster_site_t s2 = s_site("S002", "store", s_key(11));
	cluster_site_t hq = s_site("HQ", "hq", s_key(10));
	uint64_t v;

	REQUIRE(s_db(&db, "texts") == 0);
	c = s_open(&db);
	if (c != NULL) {
		CHECK_EQ_INT(cluster_enroll(c, &hq, &err), 0);
		CHECK_EQ_INT(cluster_enroll(c, &s1, &err), 0);
		CHECK_EQ_INT(cluster_enroll(c, &s1, &err), -1);
		CHECK_EQ_INT(err.code, ERR_CONFLICT);
		CHECK_STR(err.msg, "site S001: already enrolled");
		CHECK_EQ_INT(cluster_enroll(c, &s2, &err), -1);
		CHECK_EQ_INT(err.code, ERR_CONFLICT);
		CHECK_STR(err.msg, "site S002: key already enrolled as S001");

		CHECK_EQ_INT(cluster_set_region(c, "S001", "north", was,
				 sizeof was, role, sizeof role, &err),
		    0);
		CHECK_STR(was, "default");
		CHECK_STR(role, "store");
		v = s_head(c);
		/* Where it is already: no new version. */
		CHECK_EQ_INT(cluster_set_region(c, "S001", "north", was,
				 sizeof was, role, sizeof role, &err),
		    0);
		CHECK_STR(was, "north");
		CHECK_EQ_UINT(s_head(c), v);
		CHECK_EQ_INT(cluster_set_region(c, "HQ", "north", was,
				 sizeof was, role, sizeof role, &err),
		    -1);
		CHECK_EQ_INT(err.code, ERR_NOT_FOUND);
		CHECK_STR(err.msg,
		    "site HQ: not an enrolled, active store or warehouse");

		CHECK_EQ_INT(cluster_revoke(c, "S001", 1700000005000ull, &err),
		    0);
		CHECK_EQ_INT(cluster_revoke(c, "S001", 1700000006000ull, &err),
		    -1);
		CHECK_EQ_INT(err.code, ERR_NOT_FOUND);
		CHECK_STR(err.msg,
		    "site S001: not an enrolled, active store or warehouse");
		CHECK_EQ_INT(cluster_revoke(c, "HQ", 1, &err), -1);
		CHECK_STR(err.msg,
		    "site HQ: not an enrolled, active store or warehouse");
		CHECK_EQ_INT(cluster_revoke(c, "NOPE", 1, &err), -1);
		CHECK_STR(err.msg,
		    "site NOPE: not an enrolled, active store or warehouse");
		CHECK_EQ_INT(cluster_set_region(c, "S001", "south", was,
				 sizeof was, role, sizeof role, &err),
		    -1);
		CHECK_STR(err.msg,
		    "site S001: not an enrolled, active store or warehouse");
		/* A revoked site's id and key stay taken. */
		CHECK_EQ_INT(cluster_enroll(c, &s1, &err), -1);
		CHECK_STR(err.msg, "site S001: already enrolled");
		cluster_close(&c);
	}
	s_db_drop(&db);
}

TEST(changes_after_a_version)
{
	db_t db;
	cluster_t *c;
	err_t err;
	char was[64], role[16];
	cluster_site_t s[3] = { s_site("S001", "store", s_key(21)),
		s_site("S002", "store", s_key(22)),
		s_site("W001", "warehouse", s_key(23)) };
	rows_t rows;
	uint64_t v;
	size_t i;

	REQUIRE(s_db(&db, "changes") == 0);
	c = s_open(&db);
	if (c != NULL) {
		s[1].name = NULL;
		s[2].region = "east";
		for (i = 0; i < 3; i++)
			CHECK_EQ_INT(cluster_enroll(c, &s[i], &err), 0);
		REQUIRE(s_changes(c, 0, MAX_ROWS, &rows) == 0);
		REQUIRE(rows.n == 3);
		/* Strictly increasing, in the order written. */
		for (i = 0; i < 3; i++)
			CHECK_STR(rows.r[i].id, s[i].id);
		CHECK(rows.r[0].version < rows.r[1].version);
		CHECK(rows.r[1].version < rows.r[2].version);
		CHECK_STR(rows.r[1].name, "(null)");
		CHECK_STR(rows.r[2].region, "east");
		CHECK_EQ_UINT(rows.r[0].revoked_at, 0);
		v = rows.r[2].version;
		/* The limit. */
		REQUIRE(s_changes(c, 0, 2, &rows) == 0);
		CHECK_EQ_UINT(rows.n, 2);
		/* Nothing after the head. */
		REQUIRE(s_changes(c, v, MAX_ROWS, &rows) == 0);
		CHECK_EQ_UINT(rows.n, 0);

		/* Exactly the rows changed after v, in the order changed. */
		CHECK_EQ_INT(cluster_set_region(c, "W001", "west", was,
				 sizeof was, role, sizeof role, &err),
		    0);
		CHECK_EQ_INT(cluster_revoke(c, "S001", 1700000009000ull, &err),
		    0);
		REQUIRE(s_changes(c, v, MAX_ROWS, &rows) == 0);
		REQUIRE(rows.n == 2);
		CHECK_STR(rows.r[0].id, "W001");
		CHECK_STR(rows.r[0].region, "west");
		CHECK_EQ_UINT(rows.r[0].revoked_at, 0);
		CHECK_STR(rows.r[1].id, "S001");
		CHECK_EQ_UINT(rows.r[1].revoked_at, 1700000009000ull);
		CHECK(rows.r[0].version > v);
		CHECK(rows.r[1].version > rows.r[0].version);
		REQUIRE(s_changes(c, rows.r[0].version, MAX_ROWS, &rows) == 0);
		CHECK_EQ_UINT(rows.n, 1);
		CHECK_EQ_INT(cluster_changes(c, (uint64_t)INT64_MAX + 1, 1,
				 s_collect, &rows, NULL, &err),
		    -1);
		CHECK_EQ_INT(err.code, ERR_BAD_REQUEST);
		cluster_close(&c);
	}
	s_db_drop(&db);
}

TEST(next_free_hq_id)
{
	db_t db;
	cluster_t *c;
	err_t err;
	char id[OP_SITE_MAX + 1];
	cluster_site_t hq = s_site("HQ", "hq", s_key(30));
	cluster_site_t hq2 = s_site("HQ2", "hq", s_key(32));
	cluster_site_t hq4 = s_site("HQ4", "hq", s_key(34));
	cluster_site_t hq3 = s_site("HQ3", "hq", s_key(33));

	REQUIRE(s_db(&db, "nexthq") == 0);
	c = s_open(&db);
	if (c != NULL) {
		CHECK_EQ_INT(cluster_next_hq(c, id, sizeof id, &err), 0);
		CHECK_STR(id, "HQ2");
		CHECK_EQ_INT(cluster_enroll(c, &hq, &err), 0);
		CHECK_EQ_INT(cluster_next_hq(c, id, sizeof id, &err), 0);
		CHECK_STR(id, "HQ2");
		CHECK_EQ_INT(cluster_enroll(c, &hq2, &err), 0);
		CHECK_EQ_INT(cluster_enroll(c, &hq4, &err), 0);
		CHECK_EQ_INT(cluster_next_hq(c, id, sizeof id, &err), 0);
		CHECK_STR(id, "HQ3");
		CHECK_EQ_INT(cluster_enroll(c, &hq3, &err), 0);
		CHECK_EQ_INT(cluster_next_hq(c, id, sizeof id, &err), 0);
		CHECK_STR(id, "HQ5");
		cluster_close(&c);
	}
	s_db_drop(&db);
}

/* A hub's store in a fresh directory; NULL after a failure. */
static store_t *
s_hub_store(void)
{
	char path[4200];
	err_t err;
	store_t *st;

	snprintf(path, sizeof path, "%s/hub.db", harness_tmpdir());
	st = store_open(path, STORE_HUB, 1, &apply_rules, &err);
	if (st == NULL)
		harness_fail(__FILE__, __LINE__, "store_open: %s", err.msg);
	return st;
}

static char *
s_local_text(store_t *st, const char *sql)
{
	static char buf[256];
	sqlite3_stmt *s;

	buf[0] = '\0';
	if (sqlite3_prepare_v2(store_db(st), sql, -1, &s, NULL) != SQLITE_OK)
		return buf;
	if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0))
		text_printf(buf, sizeof buf, "%s", sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	return buf;
}

TEST(copy_into_hub_db_and_publish_pins)
{
	db_t db;
	cluster_t *c;
	store_t *st;
	err_t err;
	char was[64], role[16];
	cluster_site_t s1 = s_site("S001", "store", s_key(41));
	cluster_site_t s2 = s_site("S002", "store", s_key(42));
	uint8_t pin[CLUSTER_SIGN_KEY_BYTES];
	uint64_t last = 0;
	size_t n = 0, changed = 0, published = 9;
	int row_changed = -1;

	REQUIRE(s_db(&db, "copy") == 0);
	c = s_open(&db);
	st = s_hub_store();
	if (c != NULL && st != NULL) {
		sqlite3 *h = store_db(st);

		CHECK_EQ_INT(cluster_enroll(c, &s1, &err), 0);
		CHECK_EQ_INT(cluster_enroll(c, &s2, &err), 0);
		CHECK_EQ_INT(cluster_copy(c, h, 0, 100, &last, &n, &changed,
				 &err),
		    0);
		CHECK_EQ_UINT(n, 2);
		CHECK_EQ_UINT(changed, 2);
		CHECK_STR(s_local_text(st,
			      "SELECT group_concat(id || ':' || role || ':' || "
			      "region, ' ') FROM sites"),
		    "S001:store:default S002:store:default");
		/* Nothing after last; the same rows again change nothing. */
		CHECK_EQ_INT(cluster_copy(c, h, last, 100, &last, &n, &changed,
				 &err),
		    0);
		CHECK_EQ_UINT(n, 0);
		CHECK_EQ_INT(cluster_copy(c, h, 0, 100, &last, &n, &changed,
				 &err),
		    0);
		CHECK_EQ_UINT(changed, 0);

		/* A pin made here survives a copy of a row without one, and
		 * is published; a second publish has nothing to do. */
		memset(pin, 0xab, sizeof pin);
		s1.sign_key = pin;
		s1.revoked_at = 0;
		CHECK_EQ_INT(cluster_site_save(h, &s1, &row_changed, &err), 0);
		CHECK_EQ_INT(row_changed, 1);
		s1.sign_key = NULL;
		CHECK_EQ_INT(cluster_set_region(c, "S001", "north", was,
				 sizeof was, role, sizeof role, &err),
		    0);
		CHECK_EQ_INT(cluster_copy(c, h, last, 100, &last, &n, &changed,
				 &err),
		    0);
		CHECK_EQ_UINT(changed, 1);
		CHECK_STR(
		    s_local_text(st,
			"SELECT region || ' ' || hex(sign_key) FROM sites "
			"WHERE id = 'S001'"),
		    "north ABABABABABABABABABABABABABABABABABABABABABABABABABAB"
		    "ABABABABABAB");
		CHECK_EQ_INT(cluster_publish_sign_keys(c, h, &published, &err),
		    0);
		CHECK_EQ_UINT(published, 1);
		CHECK_EQ_INT(cluster_publish_sign_keys(c, h, &published, &err),
		    0);
		CHECK_EQ_UINT(published, 0);
		/* Another hub pinned S002 with another key first: the
		 * registry's key wins everywhere. */
		REQUIRE(s_sql(db.uri,
			    "UPDATE sites SET sign_key = decode(repeat('cd', "
			    "32), 'hex'), version = nextval('sites_version') "
			    "WHERE id = 'S002'",
			    NULL) == 0);
		memset(pin, 0xef, sizeof pin);
		s2.sign_key = pin;
		CHECK_EQ_INT(cluster_site_save(h, &s2, NULL, &err), 0);
		CHECK_EQ_INT(cluster_publish_sign_keys(c, h, &published, &err),
		    0);
		CHECK_EQ_UINT(published, 0);
		CHECK_EQ_INT(cluster_copy(c, h, last, 100, &last, &n, &changed,
				 &err),
		    0);
		CHECK_EQ_UINT(n, 2); /* S001's pin, S002's */
		CHECK_STR(s_local_text(st,
			      "SELECT hex(sign_key) FROM sites WHERE id = "
			      "'S002'"),
		    "CDCDCDCDCDCDCDCDCDCDCDCDCDCDCDCDCDCDCDCDCDCDCDCDCDCDCDCD"
		    "CDCDCDCD");
		/* Revocation is copied as such. */
		CHECK_EQ_INT(cluster_revoke(c, "S002", 1700000007000ull, &err),
		    0);
		CHECK_EQ_INT(cluster_copy(c, h, last, 100, &last, &n, &changed,
				 &err),
		    0);
		CHECK_STR(s_local_text(st,
			      "SELECT revoked_at FROM sites WHERE id = 'S002'"),
		    "1700000007000");
	}
	store_close(&st);
	cluster_close(&c);
	s_db_drop(&db);
}

TEST(connection_loss_reported)
{
	db_t db;
	cluster_t *c;
	err_t err;
	char key[KEYS_Z85_LEN + 1];
	char sql[256];

	REQUIRE(s_db(&db, "lost") == 0);
	c = s_open(&db);
	if (c != NULL) {
		snprintf(sql, sizeof sql,
		    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
		    "WHERE datname = '%s'",
		    db.name);
		REQUIRE(s_sql(s_uri, sql, NULL) == 0);
		CHECK_EQ_INT(cluster_hub_key(c, key, &err), -1);
		CHECK_EQ_INT(err.code, ERR_UNAVAILABLE);
		CHECK_MSG(strncmp(err.msg,
			      "hub key: cluster_meta: connection lost: ", 40) ==
			0,
		    "%s", err.msg);
		cluster_close(&c);
	}
	s_db_drop(&db);
}

/* ---- versions visible in order, with several writers ---- */

#define CW_WRITERS 3
#define CW_SITES 60 /* per writer */
#define CW_DEADLINE_S 60

typedef struct {
	uint64_t last;
	unsigned seen[CW_WRITERS][CW_SITES];
	uint64_t rows, backwards, foreign;
} cw_tail_t;

static int
s_tail(void *arg, const cluster_site_t *site, err_t *err)
{
	cw_tail_t *t = arg;
	unsigned w, i;

	(void)err;
	if (site->version <= t->last)
		t->backwards++;
	t->last = site->version;
	t->rows++;
	if (sscanf(site->id, "W%uN%u", &w, &i) != 2 || w >= CW_WRITERS ||
	    i >= CW_SITES)
		t->foreign++;
	else
		t->seen[w][i]++;
	return 0;
}

static void
s_writer(const db_t *db, unsigned w)
{
	char id[32];
	err_t err;
	cluster_site_t s;
	cluster_t *c = cluster_open(db->uri, &err);
	unsigned i;

	if (c == NULL)
		_exit(1);
	for (i = 0; i < CW_SITES; i++) {
		snprintf(id, sizeof id, "W%uN%u", w, i);
		s = s_site(id, "store", s_key(1000 + w * CW_SITES + i));
		if (cluster_enroll(c, &s, &err))
			_exit(2);
		if (i % 3 == 0 && cluster_revoke(c, id, 1, &err))
			_exit(3);
		usleep((useconds_t)(randombytes_uniform(2000)));
	}
	/* _exit: the connection goes with the process. */
	_exit(0);
}

TEST(versions_visible_in_order)
{
	db_t db;
	cluster_t *c;
	cw_tail_t *t;
	err_t err;
	pid_t pids[CW_WRITERS];
	unsigned w, i, once = 0;
	int status, running = CW_WRITERS, failed = 0;
	size_t n;
	time_t deadline = time(NULL) + CW_DEADLINE_S;

	REQUIRE(s_db(&db, "order") == 0);
	c = s_open(&db);
	t = calloc(1, sizeof *t);
	if (c != NULL && t != NULL) {
		fflush(stdout);
		for (w = 0; w < CW_WRITERS; w++)
			if ((pids[w] = fork()) == 0)
				s_writer(&db, w);
		for (;;) {
			/* Writers done before the read: it sees all. */
			int done = running == 0;

			if (cluster_changes(c, t->last, 50, s_tail, t, &n,
				&err)) {
				harness_fail(__FILE__, __LINE__, "tail: %s",
				    err.msg);
				break;
			}
			if (done && n == 0)
				break;
			while (
			    running > 0 && waitpid(-1, &status, WNOHANG) > 0) {
				running--;
				failed |= !WIFEXITED(status) ||
				    WEXITSTATUS(status) != 0;
			}
			if (time(NULL) > deadline) {
				harness_fail(__FILE__, __LINE__,
				    "not done after %d s", CW_DEADLINE_S);
				break;
			}
			if (n == 0)
				usleep(500);
		}
		CHECK_EQ_INT(failed, 0);
		CHECK_EQ_UINT(t->backwards, 0);
		CHECK_EQ_UINT(t->foreign, 0);
		/* Every site seen, as its last version only once the tail
		 * passed it: at least once, and no more often than written
		 * (enrolled, and revoked for every third). */
		for (w = 0; w < CW_WRITERS; w++)
			for (i = 0; i < CW_SITES; i++)
				if (t->seen[w][i] == 0 ||
				    t->seen[w][i] > (i % 3 == 0 ? 2u : 1u))
					once++;
		CHECK_EQ_UINT(once, 0);
		printf("# %llu rows tailed over %d writers\n",
		    (unsigned long long)t->rows, CW_WRITERS);
	}
	while (running > 0 && waitpid(-1, &status, 0) > 0)
		running--;
	free(t);
	cluster_close(&c);
	s_db_drop(&db);
}
