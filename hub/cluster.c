/*
 * cluster: the hubs' shared registry in PostgreSQL and its copy in each
 * hub.db (see cluster.h for the tables and why every write takes
 * CLUSTER_WRITE_LOCK_KEY).
 *
 * Owns one libpq connection. Statements go through PQexecParams with text
 * parameters and text results: the registry's values are short texts and
 * numbers, and a hub runs a handful of these a second at most, so nothing
 * is prepared. Every PGresult is checked with PQresultStatus and cleared
 * on every path; a failed write transaction is rolled back before the
 * call returns, so the connection stays usable unless it is lost.
 */
#include "cluster.h"

#include <assert.h>
#include <libpq-fe.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "op.h"
#include "pg.h"
#include "pglog.h"
#include "text.h"

#define KEY_SHOWN 8 /* characters of a key in a message */

#define STR_(x) #x
#define STR(x) STR_(x)

struct cluster {
	PGconn *conn;
	char *uri;		 /* as given: pglog_open needs it too */
	char shown[ERR_MSG_MAX]; /* without its password, for messages */
};

_Static_assert(CLUSTER_SCHEMA_VERSION == 1, "s_schema_sql stores version 1");
_Static_assert(CLUSTER_SIGN_KEY_BYTES == 32, "s_schema_sql checks 32 bytes");
static const char s_schema_sql[] =
    "CREATE TABLE IF NOT EXISTS cluster_meta ("
    " key text PRIMARY KEY,"
    " value text NOT NULL);"
    "CREATE SEQUENCE IF NOT EXISTS sites_version;"
    "CREATE TABLE IF NOT EXISTS sites ("
    " id text PRIMARY KEY,"
    " role text NOT NULL CHECK (role IN ('store', 'warehouse', 'hq')),"
    " pubkey text NOT NULL UNIQUE,"
    " name text,"
    " region text NOT NULL DEFAULT 'default',"
    " enrolled_at bigint NOT NULL,"
    " revoked_at bigint,"
    " sign_key bytea CHECK (octet_length(sign_key) = 32),"
    " version bigint NOT NULL UNIQUE);"
    "CREATE TABLE IF NOT EXISTS live_sessions ("
    " site text PRIMARY KEY,"
    " incarnation text NOT NULL,"
    " hub text NOT NULL,"
    " seen_ms bigint NOT NULL);"
    "INSERT INTO cluster_meta (key, value) VALUES ('schema_version', '1') "
    "ON CONFLICT (key) DO NOTHING";

/* Runs sql with n text parameters (values borrowed; NULL is SQL NULL),
 * results in text, and returns its result, which the caller PQclears, or NULL with err
 * prefixed by what when it did not complete. */
static PGresult *
s_query(cluster_t *c, const char *sql, int n, const char *const *values,
    const char *what, err_t *err)
{
	/* Without parameters through PQexec, which takes several
	 * statements (the schema's). */
	PGresult *res = n == 0
	    ? PQexec(c->conn, sql)
	    : PQexecParams(c->conn, sql, n, NULL, values, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(res);

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return res;
	pg_fail(c->conn, res, err, "%s", what);
	PQclear(res);
	return NULL;
}

/* s_query for a statement whose rows, if any, are not read. */
static int
s_exec(cluster_t *c, const char *sql, int n, const char *const *values,
    const char *what, err_t *err)
{
	PGresult *res = s_query(c, sql, n, values, what, err);

	if (res == NULL)
		return -1;
	PQclear(res);
	return 0;
}

/* Begins a registry write: a transaction holding CLUSTER_WRITE_LOCK_KEY,
 * so that its versions commit in order (cluster.h). */
static int
s_begin_write(cluster_t *c, const char *what, err_t *err)
{
	char msg[ERR_MSG_MAX];

	text_printf(msg, sizeof msg, "%s: begin", what);
	if (s_exec(c, "BEGIN ISOLATION LEVEL READ COMMITTED", 0, NULL, msg,
		err))
		return -1;
	text_printf(msg, sizeof msg, "%s: lock", what);
	if (s_exec(c,
		"SELECT pg_advisory_xact_lock(" STR(CLUSTER_WRITE_LOCK_KEY) ")",
		0, NULL, msg, err)) {
		pg_rollback(c->conn);
		return -1;
	}
	return 0;
}

/* Commits the write s_begin_write began; checks that it did commit (a
 * COMMIT of a failed transaction completes as ROLLBACK). */
static int
s_commit(cluster_t *c, const char *what, err_t *err)
{
	PGresult *res = PQexec(c->conn, "COMMIT");
	int rc = 0;

	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		rc = pg_fail(c->conn, res, err, "%s: commit", what);
	else if (strcmp(PQcmdStatus(res), "COMMIT") != 0)
		rc = err_set(err, ERR_INTERNAL, "%s: commit: completed as %s",
		    what, PQcmdStatus(res));
	PQclear(res);
	if (rc != 0)
		pg_rollback(c->conn);
	return rc;
}

cluster_t *
cluster_open(const char *uri, err_t *err)
{
	cluster_t *c;

	assert(uri != NULL);
	c = calloc(1, sizeof *c);
	if (c == NULL || (c->uri = strdup(uri)) == NULL) {
		free(c);
		err_set(err, ERR_INTERNAL, "open: out of memory");
		return NULL;
	}
	pg_redact(c->shown, sizeof c->shown, uri);
	if ((c->conn = pg_connect(uri, err)) == NULL) {
		cluster_close(&c);
		return NULL;
	}
	return c;
}

void
cluster_close(cluster_t **self_p)
{
	cluster_t *c;

	if (self_p == NULL || *self_p == NULL)
		return;
	c = *self_p;
	PQfinish(c->conn);
	if (c->uri != NULL) {
		/* It may hold a password. */
		sodium_memzero(c->uri, strlen(c->uri));
		free(c->uri);
	}
	free(c);
	*self_p = NULL;
}

const char *
cluster_uri(const cluster_t *c)
{
	return c->shown;
}

int
cluster_init_schema(cluster_t *c, err_t *err)
{
	PGresult *res = NULL;
	pglog_t *log;
	int rc;

	if ((log = pglog_open(c->uri, err)) == NULL)
		return -1;
	rc = pglog_init_schema(log, err);
	pglog_close(&log);
	if (rc != 0)
		return -1;
	if (s_exec(c, "BEGIN ISOLATION LEVEL READ COMMITTED", 0, NULL,
		"init schema: begin", err) ||
	    s_exec(c,
		"SELECT pg_advisory_xact_lock(" STR(PGLOG_SCHEMA_LOCK_KEY) ")",
		0, NULL, "init schema: lock", err) ||
	    s_exec(c, s_schema_sql, 0, NULL, "init schema: create", err))
		goto fail;
	res = s_query(c,
	    "SELECT value FROM cluster_meta WHERE key = 'schema_version'", 0,
	    NULL, "init schema: cluster_meta", err);
	if (res == NULL)
		goto fail;
	if (PQntuples(res) != 1) {
		err_set(err, ERR_INTERNAL,
		    "init schema: cluster_meta: no schema version");
		goto fail;
	}
	if (strcmp(PQgetvalue(res, 0, 0), STR(CLUSTER_SCHEMA_VERSION)) != 0) {
		err_set(err, ERR_UPGRADE,
		    "init schema: cluster_meta: schema version %s, this build "
		    "knows %d",
		    PQgetvalue(res, 0, 0), CLUSTER_SCHEMA_VERSION);
		goto fail;
	}
	PQclear(res);
	return s_commit(c, "init schema", err);
fail:
	PQclear(res);
	pg_rollback(c->conn);
	return -1;
}

int
cluster_hub_key(cluster_t *c, char *z85, err_t *err)
{
	PGresult *res = s_query(c,
	    "SELECT value FROM cluster_meta WHERE key = 'hub_key'", 0, NULL,
	    "hub key: cluster_meta", err);

	if (res == NULL)
		return -1;
	z85[0] = '\0';
	if (PQntuples(res) == 1)
		text_printf(z85, KEYS_Z85_LEN + 1, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

int
cluster_check_key(cluster_t *c, const char *hub_pub, err_t *err)
{
	char have[KEYS_Z85_LEN + 1];

	if (cluster_hub_key(c, have, err))
		return -1;
	if (have[0] == '\0' || strcmp(have, hub_pub) == 0)
		return 0;
	return err_set(err, ERR_FORBIDDEN,
	    "join %s: hub key %.*s... is not this cluster's (%.*s...)",
	    c->shown, KEY_SHOWN, hub_pub, KEY_SHOWN, have);
}

/* Enrolls site inside a write transaction (cluster_enroll). */
static int
s_enroll_locked(cluster_t *c, const cluster_site_t *site, err_t *err)
{
	char at[24], key_hex[2 * CLUSTER_SIGN_KEY_BYTES + 1];
	const char *values[7];
	PGresult *res;
	int rc = 0;

	assert(site->id != NULL && site->role != NULL && site->pubkey != NULL &&
	    site->region != NULL);
	values[0] = site->id;
	values[1] = site->pubkey;
	res = s_query(c,
	    "SELECT (SELECT count(*) FROM sites WHERE id = $1), "
	    "(SELECT id FROM sites WHERE pubkey = $2)",
	    2, values, "enroll: sites", err);
	if (res == NULL)
		return -1;
	if (strcmp(PQgetvalue(res, 0, 0), "0") != 0)
		rc = err_set(err, ERR_CONFLICT, "site %s: already enrolled",
		    site->id);
	else if (!PQgetisnull(res, 0, 1))
		rc = err_set(err, ERR_CONFLICT,
		    "site %s: key already enrolled as %s", site->id,
		    PQgetvalue(res, 0, 1));
	PQclear(res);
	if (rc != 0)
		return -1;
	snprintf(at, sizeof at, "%llu", (unsigned long long)site->enrolled_at);
	if (site->sign_key != NULL)
		sodium_bin2hex(key_hex, sizeof key_hex, site->sign_key,
		    CLUSTER_SIGN_KEY_BYTES);
	values[0] = site->id;
	values[1] = site->role;
	values[2] = site->pubkey;
	values[3] = site->name;
	values[4] = site->region;
	values[5] = at;
	values[6] = site->sign_key != NULL ? key_hex : NULL;
	return s_exec(c,
	    "INSERT INTO sites (id, role, pubkey, name, region, enrolled_at, "
	    "sign_key, version) VALUES ($1, $2, $3, $4, $5, $6, "
	    "decode($7, 'hex'), nextval('sites_version'))",
	    7, values, "enroll: sites", err);
}

int
cluster_claim(cluster_t *c, const char *hub_pub, const cluster_site_t *hq,
    err_t *err)
{
	const char *values[1] = { hub_pub };

	if (s_begin_write(c, "claim", err))
		return -1;
	if (s_exec(c,
		"INSERT INTO cluster_meta (key, value) VALUES ('hub_key', $1) "
		"ON CONFLICT (key) DO NOTHING",
		1, values, "claim: cluster_meta", err) ||
	    cluster_check_key(c, hub_pub, err) ||
	    (hq != NULL && s_enroll_locked(c, hq, err))) {
		pg_rollback(c->conn);
		return -1;
	}
	return s_commit(c, "claim", err);
}

int
cluster_enroll(cluster_t *c, const cluster_site_t *site, err_t *err)
{
	if (s_begin_write(c, "enroll", err))
		return -1;
	if (s_enroll_locked(c, site, err)) {
		pg_rollback(c->conn);
		return -1;
	}
	return s_commit(c, "enroll", err);
}

int
cluster_revoke(cluster_t *c, const char *site, uint64_t at_ms, err_t *err)
{
	char at[24];
	const char *values[2] = { site, at };
	PGresult *res;
	int rc = 0;

	snprintf(at, sizeof at, "%llu", (unsigned long long)at_ms);
	if (s_begin_write(c, "revoke", err))
		return -1;
	res = s_query(c,
	    "UPDATE sites SET revoked_at = $2, "
	    "version = nextval('sites_version') "
	    "WHERE id = $1 AND revoked_at IS NULL AND role <> 'hq'",
	    2, values, "revoke: sites", err);
	if (res == NULL)
		rc = -1;
	else if (strcmp(PQcmdTuples(res), "0") == 0)
		rc = err_set(err, ERR_NOT_FOUND,
		    "site %s: not an enrolled, active store or warehouse",
		    site);
	PQclear(res);
	if (rc != 0) {
		pg_rollback(c->conn);
		return -1;
	}
	return s_commit(c, "revoke", err);
}

int
cluster_set_region(cluster_t *c, const char *site, const char *region,
    char *was, size_t was_size, char *role, size_t role_size, err_t *err)
{
	const char *values[2] = { site, region };
	PGresult *res;
	int rc = 0;

	if (s_begin_write(c, "region", err))
		return -1;
	res = s_query(c,
	    "SELECT region, role FROM sites "
	    "WHERE id = $1 AND revoked_at IS NULL AND role <> 'hq'",
	    1, values, "region: sites", err);
	if (res == NULL)
		rc = -1;
	else if (PQntuples(res) != 1)
		rc = err_set(err, ERR_NOT_FOUND,
		    "site %s: not an enrolled, active store or warehouse",
		    site);
	else {
		text_printf(was, was_size, "%s", PQgetvalue(res, 0, 0));
		text_printf(role, role_size, "%s", PQgetvalue(res, 0, 1));
	}
	PQclear(res);
	if (rc == 0 && strcmp(was, region) != 0)
		rc = s_exec(c,
		    "UPDATE sites SET region = $2, "
		    "version = nextval('sites_version') WHERE id = $1",
		    2, values, "region: sites", err);
	if (rc != 0) {
		pg_rollback(c->conn);
		return -1;
	}
	return s_commit(c, "region", err);
}

/* Reads the decimal at (row, col) of a text result into *v. */
static int
s_uint(const PGresult *res, int row, int col, uint64_t *v)
{
	const char *text = PQgetvalue(res, row, col);
	char *end;

	if (PQgetisnull(res, row, col) || text[0] < '0' || text[0] > '9')
		return -1;
	*v = strtoull(text, &end, 10);
	return *end == '\0' ? 0 : -1;
}

/* The registry's columns, in the order s_each_site reads them. */
#define SITE_COLUMNS                                    \
	"id, role, pubkey, name, region, enrolled_at, " \
	"coalesce(revoked_at, 0), encode(sign_key, 'hex'), version"

/* Calls fn(arg, site, err) for each row of res (SITE_COLUMNS), what names
 * the caller's read in errors; *n_read (may be NULL) counts them. */
static int
s_each_site(PGresult *res, const char *what, cluster_site_fn fn, void *arg,
    size_t *n_read, err_t *err)
{
	uint8_t key[CLUSTER_SIGN_KEY_BYTES];
	cluster_site_t site;
	int i, rows = PQntuples(res);

	for (i = 0; i < rows; i++) {
		memset(&site, 0, sizeof site);
		site.id = PQgetvalue(res, i, 0);
		site.role = PQgetvalue(res, i, 1);
		site.pubkey = PQgetvalue(res, i, 2);
		site.name = PQgetisnull(res, i, 3) ? NULL
						   : PQgetvalue(res, i, 3);
		site.region = PQgetvalue(res, i, 4);
		if (s_uint(res, i, 5, &site.enrolled_at) ||
		    s_uint(res, i, 6, &site.revoked_at) ||
		    s_uint(res, i, 8, &site.version))
			return err_set(err, ERR_INTERNAL,
			    "%s: site %s: bad number", what, site.id);
		if (!PQgetisnull(res, i, 7)) {
			if (PQgetlength(res, i, 7) !=
				2 * CLUSTER_SIGN_KEY_BYTES ||
			    sodium_hex2bin(key, sizeof key,
				PQgetvalue(res, i, 7),
				2 * CLUSTER_SIGN_KEY_BYTES, NULL, NULL,
				NULL) != 0)
				return err_set(err, ERR_INTERNAL,
				    "%s: site %s: bad sign_key", what, site.id);
			site.sign_key = key;
		}
		if (fn(arg, &site, err) != 0)
			return -1;
		if (n_read != NULL)
			(*n_read)++;
	}
	return 0;
}

int
cluster_changes(cluster_t *c, uint64_t after, size_t limit, cluster_site_fn fn,
    void *arg, size_t *n_read, err_t *err)
{
	char after_s[24], limit_s[24];
	const char *values[2] = { after_s, limit_s };
	PGresult *res;
	int rc;

	assert(limit > 0 && fn != NULL);
	if (n_read != NULL)
		*n_read = 0;
	if (after > INT64_MAX)
		return err_set(err, ERR_BAD_REQUEST,
		    "changes after %llu: past %lld", (unsigned long long)after,
		    (long long)INT64_MAX);
	if (limit > INT64_MAX)
		limit = INT64_MAX;
	snprintf(after_s, sizeof after_s, "%llu", (unsigned long long)after);
	snprintf(limit_s, sizeof limit_s, "%zu", limit);
	res = s_query(c,
	    "SELECT " SITE_COLUMNS " FROM sites WHERE version > $1 "
	    "ORDER BY version LIMIT $2",
	    2, values, "changes: sites", err);
	if (res == NULL)
		return -1;
	rc = s_each_site(res, "changes: sites", fn, arg, n_read, err);
	PQclear(res);
	return rc;
}

int
cluster_next_hq(cluster_t *c, char *id, size_t size, err_t *err)
{
	/* Among the count + 1 numbers from 2 one is free. */
	PGresult *res = s_query(c,
	    "SELECT '" CLUSTER_HQ_PREFIX "' || n FROM generate_series(2, "
	    "(SELECT count(*) FROM sites) + 2) AS n "
	    "WHERE NOT EXISTS (SELECT 1 FROM sites "
	    "WHERE id = '" CLUSTER_HQ_PREFIX "' || n) ORDER BY n LIMIT 1",
	    0, NULL, "next hq id: sites", err);
	int rc = 0;

	if (res == NULL)
		return -1;
	if (PQntuples(res) != 1 || (size_t)PQgetlength(res, 0, 0) >= size ||
	    !op_site_valid(PQgetvalue(res, 0, 0)))
		rc = err_set(err, ERR_INTERNAL, "next hq id: sites: none free");
	else
		text_printf(id, size, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return rc;
}

/* ---- moving a hub on its own into a cluster ---- */

int
cluster_check_empty(cluster_t *c, err_t *err)
{
	PGresult *res = s_query(c,
	    "SELECT (SELECT value FROM cluster_meta WHERE key = 'hub_key'), "
	    "(SELECT count(*) FROM op_log), (SELECT count(*) FROM sites)",
	    0, NULL, "check: cluster", err);
	char key[64];
	int rc = 0;

	if (res == NULL)
		return -1;
	if (PQntuples(res) != 1)
		rc = err_set(err, ERR_INTERNAL, "check: cluster: no row");
	else if (!PQgetisnull(res, 0, 0) ||
	    strcmp(PQgetvalue(res, 0, 1), "0") != 0 ||
	    strcmp(PQgetvalue(res, 0, 2), "0") != 0) {
		if (PQgetisnull(res, 0, 0))
			text_printf(key, sizeof key, "no hub key");
		else
			text_printf(key, sizeof key, "hub key %.*s...",
			    KEY_SHOWN, PQgetvalue(res, 0, 0));
		rc = err_set(err, ERR_CONFLICT,
		    "%s: holds a cluster already (%s, %s ops, %s sites)",
		    c->shown, key, PQgetvalue(res, 0, 1),
		    PQgetvalue(res, 0, 2));
	}
	PQclear(res);
	return rc;
}

/* Imports one site of db inside the write transaction: enrolled as
 * cluster_enroll does, then its revocation, if any, kept. */
static int
s_import_locked(cluster_t *c, const cluster_site_t *site, err_t *err)
{
	char at[24];
	const char *values[2] = { site->id, at };

	if (s_enroll_locked(c, site, err))
		return -1;
	if (site->revoked_at == 0)
		return 0;
	snprintf(at, sizeof at, "%llu", (unsigned long long)site->revoked_at);
	return s_exec(c, "UPDATE sites SET revoked_at = $2 WHERE id = $1", 2,
	    values, "import: sites", err);
}

int
cluster_import_sites(cluster_t *c, sqlite3 *db, const char *except, size_t *n,
    err_t *err)
{
	sqlite3_stmt *s = NULL;
	cluster_site_t site;
	int step, rc = -1;

	*n = 0;
	if (sqlite3_prepare_v2(db,
		"SELECT id, role, pubkey, name, region, enrolled_at, "
		"revoked_at, sign_key FROM sites WHERE id IS NOT ?1 "
		"ORDER BY id",
		-1, &s, NULL) != SQLITE_OK)
		return err_set(err, ERR_INTERNAL, "import sites: %s",
		    sqlite3_errmsg(db));
	sqlite3_bind_text(s, 1, except, -1, SQLITE_STATIC);
	if (s_begin_write(c, "import sites", err))
		goto out;
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		memset(&site, 0, sizeof site);
		site.id = (const char *)sqlite3_column_text(s, 0);
		site.role = (const char *)sqlite3_column_text(s, 1);
		site.pubkey = (const char *)sqlite3_column_text(s, 2);
		site.name = (const char *)sqlite3_column_text(s, 3);
		site.region = (const char *)sqlite3_column_text(s, 4);
		site.enrolled_at = (uint64_t)sqlite3_column_int64(s, 5);
		site.revoked_at = (uint64_t)sqlite3_column_int64(s, 6);
		if (sqlite3_column_bytes(s, 7) == CLUSTER_SIGN_KEY_BYTES)
			site.sign_key = sqlite3_column_blob(s, 7);
		if (site.id == NULL || site.role == NULL ||
		    site.pubkey == NULL || site.region == NULL) {
			err_set(err, ERR_INTERNAL,
			    "import sites: a site without id, role, key or "
			    "region");
			goto fail;
		}
		if (s_import_locked(c, &site, err))
			goto fail;
		(*n)++;
	}
	if (step != SQLITE_DONE) {
		err_set(err, ERR_INTERNAL, "import sites: %s",
		    sqlite3_errmsg(db));
		goto fail;
	}
	rc = s_commit(c, "import sites", err);
	goto out;
fail:
	pg_rollback(c->conn);
out:
	sqlite3_finalize(s);
	if (rc != 0)
		*n = 0;
	return rc;
}

/* Inside a transaction: 0 when the cluster's hub key is hub_pub, -1 with
 * err (ERR_FORBIDDEN) when it is another or none. */
static int
s_is_ours(cluster_t *c, const char *hub_pub, err_t *err)
{
	char have[KEYS_Z85_LEN + 1];

	if (cluster_hub_key(c, have, err))
		return -1;
	if (strcmp(have, hub_pub) == 0)
		return 0;
	return err_set(err, ERR_FORBIDDEN,
	    "forget %s: the cluster is not hub key %.*s...'s (%s%.*s)",
	    c->shown, KEY_SHOWN, hub_pub, have[0] != '\0' ? "" : "none",
	    KEY_SHOWN, have);
}

int
cluster_forget(cluster_t *c, const char *hub_pub, err_t *err)
{
	if (s_begin_write(c, "forget", err))
		return -1;
	if (s_exec(c,
		"SELECT pg_advisory_xact_lock(" STR(PGLOG_APPEND_LOCK_KEY) ")",
		0, NULL, "forget: lock", err) ||
	    s_is_ours(c, hub_pub, err) ||
	    s_exec(c, "DELETE FROM op_log", 0, NULL, "forget: op_log", err) ||
	    s_exec(c, "DELETE FROM sites", 0, NULL, "forget: sites", err) ||
	    s_exec(c, "DELETE FROM cluster_meta WHERE key = 'hub_key'", 0, NULL,
		"forget: cluster_meta", err)) {
		pg_rollback(c->conn);
		return -1;
	}
	return s_commit(c, "forget", err);
}

/* ---- the copy in hub.db ---- */

static const char s_save_sql[] =
    "INSERT INTO sites (id, role, pubkey, name, region, enrolled_at, "
    "revoked_at, sign_key) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
    "ON CONFLICT (id) DO UPDATE SET role = excluded.role, "
    "pubkey = excluded.pubkey, name = excluded.name, "
    "region = excluded.region, enrolled_at = excluded.enrolled_at, "
    "revoked_at = excluded.revoked_at, "
    "sign_key = coalesce(excluded.sign_key, sign_key) "
    "WHERE role IS NOT excluded.role OR pubkey IS NOT excluded.pubkey "
    "OR name IS NOT excluded.name OR region IS NOT excluded.region "
    "OR enrolled_at IS NOT excluded.enrolled_at "
    "OR revoked_at IS NOT excluded.revoked_at "
    "OR (excluded.sign_key IS NOT NULL "
    "AND sign_key IS NOT excluded.sign_key)";

/* Runs s_save_sql (prepared on db as s) for site. */
static int
s_save(sqlite3 *db, sqlite3_stmt *s, const cluster_site_t *site, int *changed,
    err_t *err)
{
	int rc;

	sqlite3_bind_text(s, 1, site->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, site->role, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, site->pubkey, -1, SQLITE_STATIC);
	if (site->name != NULL)
		sqlite3_bind_text(s, 4, site->name, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, 4);
	sqlite3_bind_text(s, 5, site->region, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 6, (int64_t)site->enrolled_at);
	if (site->revoked_at != 0)
		sqlite3_bind_int64(s, 7, (int64_t)site->revoked_at);
	else
		sqlite3_bind_null(s, 7);
	if (site->sign_key != NULL)
		sqlite3_bind_blob(s, 8, site->sign_key, CLUSTER_SIGN_KEY_BYTES,
		    SQLITE_STATIC);
	else
		sqlite3_bind_null(s, 8);
	rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		err_set(err, ERR_INTERNAL, "copy site %s: %s", site->id,
		    sqlite3_errmsg(db));
	else if (changed != NULL)
		*changed = sqlite3_changes(db) > 0;
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
cluster_site_save(sqlite3 *db, const cluster_site_t *site, int *changed,
    err_t *err)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(db, s_save_sql, -1, &s, NULL) != SQLITE_OK)
		return err_set(err, ERR_INTERNAL, "copy site %s: %s", site->id,
		    sqlite3_errmsg(db));
	rc = s_save(db, s, site, changed, err);
	sqlite3_finalize(s);
	return rc;
}

typedef struct {
	sqlite3 *db;
	sqlite3_stmt *stmt;
	uint64_t last;
	size_t changed;
} copy_t;

static int
s_copy_one(void *arg, const cluster_site_t *site, err_t *err)
{
	copy_t *cp = arg;
	int changed = 0;

	if (s_save(cp->db, cp->stmt, site, &changed, err))
		return -1;
	cp->last = site->version;
	cp->changed += (size_t)changed;
	return 0;
}

int
cluster_copy(cluster_t *c, sqlite3 *db, uint64_t after, size_t limit,
    uint64_t *last, size_t *n_read, size_t *changed, err_t *err)
{
	copy_t cp = { db, NULL, after, 0 };
	int rc;

	if (sqlite3_prepare_v2(db, s_save_sql, -1, &cp.stmt, NULL) != SQLITE_OK)
		return err_set(err, ERR_INTERNAL, "copy sites: %s",
		    sqlite3_errmsg(db));
	rc = cluster_changes(c, after, limit, s_copy_one, &cp, n_read, err);
	sqlite3_finalize(cp.stmt);
	*last = cp.last;
	if (changed != NULL)
		*changed = cp.changed;
	return rc;
}

int
cluster_copy_site(cluster_t *c, sqlite3 *db, const char *id, int *found,
    err_t *err)
{
	copy_t cp = { db, NULL, 0, 0 };
	const char *values[1] = { id };
	size_t n = 0;
	PGresult *res;
	int rc;

	*found = 0;
	if ((res = s_query(c,
		 "SELECT " SITE_COLUMNS " FROM sites WHERE id = $1", 1, values,
		 "copy site: sites", err)) == NULL)
		return -1;
	if (sqlite3_prepare_v2(db, s_save_sql, -1, &cp.stmt, NULL) !=
	    SQLITE_OK) {
		PQclear(res);
		return err_set(err, ERR_INTERNAL, "copy site %s: %s", id,
		    sqlite3_errmsg(db));
	}
	rc = s_each_site(res, "copy site: sites", s_copy_one, &cp, &n, err);
	sqlite3_finalize(cp.stmt);
	PQclear(res);
	*found = n > 0;
	return rc;
}

/* A growing text. */
typedef struct {
	char *text;
	size_t len, cap;
} buf_t;

static int
s_buf_add(buf_t *b, const char *s)
{
	size_t n = strlen(s);
	char *grown;

	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap == 0 ? 1024 : b->cap;

		while (cap < b->len + n + 1)
			cap *= 2;
		if ((grown = realloc(b->text, cap)) == NULL)
			return -1;
		b->text = grown;
		b->cap = cap;
	}
	memcpy(b->text + b->len, s, n + 1);
	b->len += n;
	return 0;
}

int
cluster_publish_sign_keys(cluster_t *c, sqlite3 *db, size_t *published,
    err_t *err)
{
	buf_t ids = { NULL, 0, 0 }, keys = { NULL, 0, 0 };
	char hex[2 * CLUSTER_SIGN_KEY_BYTES + 1];
	const char *values[2];
	sqlite3_stmt *s = NULL;
	PGresult *res = NULL;
	size_t n = 0;
	int rc = -1, step;

	if (published != NULL)
		*published = 0;
	if (sqlite3_prepare_v2(db,
		"SELECT id, sign_key FROM sites WHERE sign_key IS NOT NULL "
		"ORDER BY id",
		-1, &s, NULL) != SQLITE_OK) {
		err_set(err, ERR_INTERNAL, "publish signing keys: %s",
		    sqlite3_errmsg(db));
		goto out;
	}
	/* Two array literals, '{S001,S002}' and '{hex,hex}': a site id is
	 * of A-Z a-z 0-9 _ only (checked), so neither needs quoting. */
	if (s_buf_add(&ids, "{") || s_buf_add(&keys, "{"))
		goto oom;
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(s, 0);

		if (id == NULL || !op_site_valid(id) ||
		    sqlite3_column_bytes(s, 1) != CLUSTER_SIGN_KEY_BYTES)
			continue;
		sodium_bin2hex(hex, sizeof hex, sqlite3_column_blob(s, 1),
		    CLUSTER_SIGN_KEY_BYTES);
		if ((n > 0 &&
			(s_buf_add(&ids, ",") || s_buf_add(&keys, ","))) ||
		    s_buf_add(&ids, id) || s_buf_add(&keys, hex))
			goto oom;
		n++;
	}
	if (step != SQLITE_DONE) {
		err_set(err, ERR_INTERNAL, "publish signing keys: %s",
		    sqlite3_errmsg(db));
		goto out;
	}
	if (n == 0) {
		rc = 0;
		goto out;
	}
	if (s_buf_add(&ids, "}") || s_buf_add(&keys, "}"))
		goto oom;
	values[0] = ids.text;
	values[1] = keys.text;
	if (s_begin_write(c, "publish signing keys", err))
		goto out;
	res = s_query(c,
	    "UPDATE sites AS s SET sign_key = decode(v.k, 'hex'), "
	    "version = nextval('sites_version') "
	    "FROM unnest($1::text[], $2::text[]) AS v(id, k) "
	    "WHERE s.id = v.id AND s.sign_key IS NULL",
	    2, values, "publish signing keys: sites", err);
	if (res == NULL) {
		pg_rollback(c->conn);
		goto out;
	}
	n = strtoul(PQcmdTuples(res), NULL, 10);
	rc = s_commit(c, "publish signing keys", err);
	if (rc == 0 && published != NULL)
		*published = n;
	goto out;
oom:
	err_set(err, ERR_INTERNAL, "publish signing keys: out of memory");
out:
	PQclear(res);
	sqlite3_finalize(s);
	free(ids.text);
	free(keys.text);
	return rc;
}

/* ---- one live session per site, across the hubs ---- */

/* PostgreSQL's clock in unix ms: one clock for every hub's rows. */
#define PG_NOW_MS "(extract(epoch FROM clock_timestamp()) * 1000)::bigint"

int
cluster_session_claim(cluster_t *c, const char *site, const char *incarnation,
    const char *hub, uint64_t live_ms, char *holder, size_t holder_size,
    char *holder_hub, size_t hub_size, err_t *err)
{
	char live_s[24];
	const char *values[4] = { site, incarnation, hub, live_s };
	PGresult *res;
	int claimed;

	snprintf(live_s, sizeof live_s, "%llu", (unsigned long long)live_ms);
	res = s_query(c,
	    "INSERT INTO live_sessions AS s (site, incarnation, hub, seen_ms) "
	    "VALUES ($1, $2, $3, " PG_NOW_MS ") "
	    "ON CONFLICT (site) DO UPDATE SET incarnation = excluded.incarnation, "
	    "hub = excluded.hub, seen_ms = excluded.seen_ms "
	    "WHERE s.incarnation = excluded.incarnation OR s.hub = excluded.hub "
	    "OR s.seen_ms < excluded.seen_ms - $4::bigint RETURNING 1",
	    4, values, "claim session: live_sessions", err);
	if (res == NULL)
		return -1;
	claimed = PQntuples(res) == 1;
	PQclear(res);
	if (claimed)
		return 0;
	res = s_query(c,
	    "SELECT incarnation, hub FROM live_sessions WHERE site = $1", 1,
	    values, "claim session: live_sessions", err);
	if (res == NULL)
		return -1;
	/* Gone between the two statements: "?" rather than a retry. */
	snprintf(holder, holder_size, "%s",
	    PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : "?");
	snprintf(holder_hub, hub_size, "%s",
	    PQntuples(res) == 1 ? PQgetvalue(res, 0, 1) : "?");
	PQclear(res);
	return 1;
}

int
cluster_sessions_seen(cluster_t *c, const char *hub, const char *const *sites,
    size_t n, cluster_taken_fn taken, void *arg, err_t *err)
{
	buf_t ids = { NULL, 0, 0 };
	const char *values[2];
	PGresult *res;
	size_t i;
	int rc, row;

	if (n == 0)
		return 0;
	/* An array literal '{S001,S002}': a site id is of A-Z a-z 0-9 _
	 * only (enrolled so), so none needs quoting. */
	rc = s_buf_add(&ids, "{");
	for (i = 0; i < n && rc == 0; i++)
		rc = s_buf_add(&ids, i > 0 ? "," : "") ||
		    s_buf_add(&ids, sites[i]);
	if (rc != 0 || s_buf_add(&ids, "}") != 0) {
		free(ids.text);
		return err_set(err, ERR_INTERNAL,
		    "sessions seen: out of memory");
	}
	values[0] = hub;
	values[1] = ids.text;
	/* The rows still ours are marked; those another hub took since are
	 * returned. */
	res = s_query(c,
	    "WITH seen AS (UPDATE live_sessions SET seen_ms = " PG_NOW_MS " "
	    "WHERE hub = $1 AND site = ANY($2::text[]) RETURNING site) "
	    "SELECT site, incarnation, hub FROM live_sessions "
	    "WHERE site = ANY($2::text[]) AND hub <> $1 "
	    "AND site NOT IN (SELECT site FROM seen) ORDER BY site",
	    2, values, "sessions seen: live_sessions", err);
	free(ids.text);
	if (res == NULL)
		return -1;
	for (row = 0; row < PQntuples(res); row++)
		taken(arg, PQgetvalue(res, row, 0), PQgetvalue(res, row, 1),
		    PQgetvalue(res, row, 2));
	PQclear(res);
	return 0;
}
