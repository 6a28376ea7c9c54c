/*
 * migrate: bl-hub migrate --data DIR --to postgresql://URI, which moves a
 * hub on its own (hub.db) to PostgreSQL, as the first hub of a cluster
 * (cluster.h) holding everything it held, so that its nodes resume as if
 * nothing happened.
 *
 * What it keeps: a node's cursor is an lsn of hub.db's op_log, and a hub
 * of a cluster logs the shared log's op at gseq N at lsn N (pgstore.h).
 * So every op_log row goes to PostgreSQL with gseq == its lsn
 * (pglog_import_in), holes staying holes, and hub.db, unchanged, is
 * already the projection of that log: meta pg_applied is set to the last
 * lsn. The registry gets the hub's key and its hq site (cluster_claim),
 * then every other site as hub.db has it (cluster_import_sites).
 *
 * The order, and what a failure leaves:
 * 1. Refusals that change nothing: a daemon holding DIR/run.lock (taken
 *    here until the end, so none starts meanwhile), DIR a hub of a
 *    cluster already (store= in its config), PostgreSQL out of reach, a
 *    database holding a cluster (cluster_check_empty). Only the schema is
 *    created first (IF NOT EXISTS: nothing changes where it exists).
 * 2. The hub's inbox applied (visibility_apply_all): every op it
 *    acknowledged is then in op_log.
 * 3. PostgreSQL: the claim, the sites, the op log (one transaction under
 *    the append lock, read from hub.db in batches of MIGRATE_BATCH). A
 *    failure from here on removes what was written (cluster_forget),
 *    leaving the database as it was found, or says what to do when even
 *    that fails.
 * 4. hub.db's pg_applied, then the config's store=URI, last: until then
 *    the hub is still one on its own, and pg_applied means nothing there.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster.h"
#include "conf.h"
#include "hub.h"
#include "keys.h"
#include "op.h"
#include "pglog.h"
#include "pgstore.h"
#include "prog.h"
#include "runlock.h"

#define MIGRATE_BATCH 1000 /* ops read from hub.db and sent at a time */

/* One batch of op_log rows, copied out of SQLite (its column pointers
 * last only until the next step). */
typedef struct {
	pglog_row_t rows[MIGRATE_BATCH];
	char *origins[MIGRATE_BATCH];
	uint8_t *bodies[MIGRATE_BATCH];
	size_t n;
} batch_t;

static void
s_batch_clear(batch_t *b)
{
	size_t i;

	for (i = 0; i < b->n; i++) {
		free(b->origins[i]);
		free(b->bodies[i]);
	}
	b->n = 0;
}

/* Reads up to MIGRATE_BATCH rows of op_log after lsn `after` into b. */
static int
s_batch_read(store_t *st, uint64_t after, batch_t *b, err_t *err)
{
	sqlite3_stmt *q = store_stmt(st,
	    "SELECT lsn, origin, seq, body FROM op_log WHERE lsn > ? "
	    "ORDER BY lsn LIMIT ?");
	pglog_row_t *r;
	size_t len;
	int rc;

	sqlite3_bind_int64(q, 1, (int64_t)after);
	sqlite3_bind_int(q, 2, MIGRATE_BATCH);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		r = &b->rows[b->n];
		memset(r, 0, sizeof *r);
		r->gseq = (uint64_t)sqlite3_column_int64(q, 0);
		r->op.seq = (uint64_t)sqlite3_column_int64(q, 2);
		len = (size_t)sqlite3_column_bytes(q, 3);
		b->origins[b->n] = strdup(
		    (const char *)sqlite3_column_text(q, 1));
		b->bodies[b->n] = malloc(len + 1);
		if (b->origins[b->n] == NULL || b->bodies[b->n] == NULL) {
			free(b->origins[b->n]);
			free(b->bodies[b->n]);
			sqlite3_reset(q);
			return err_set(err, ERR_INTERNAL,
			    "read op_log after lsn %llu: out of memory",
			    (unsigned long long)after);
		}
		if (len > 0)
			memcpy(b->bodies[b->n], sqlite3_column_blob(q, 3), len);
		r->op.origin = b->origins[b->n];
		r->op.body = b->bodies[b->n];
		r->op.body_len = len;
		op_hash(r->op.body, len, r->op.hash);
		b->n++;
	}
	sqlite3_reset(q);
	if (rc != SQLITE_DONE)
		return err_set(err, ERR_INTERNAL,
		    "read op_log after lsn %llu: %s", (unsigned long long)after,
		    sqlite3_errmsg(store_db(st)));
	return 0;
}

/* Copies hub.db's op_log to the shared log at uri, gseq == lsn, in one
 * transaction, and holds what its quarantine holds; *n gets how many ops,
 * *last the last lsn (0: none). */
static int
s_import_ops(store_t *st, const char *uri, const char *shown, size_t *n,
    uint64_t *last, err_t *err)
{
	batch_t *b;
	pglog_t *p;
	uint64_t head = 0;
	int rc = -1;

	*n = 0;
	*last = 0;
	if ((b = calloc(1, sizeof *b)) == NULL)
		return err_set(err, ERR_INTERNAL, "import ops: out of memory");
	if ((p = pglog_open(uri, err)) == NULL)
		goto out;
	if (pglog_begin(p, &head, err) != 0)
		goto out;
	if (head != 0) {
		err_set(err, ERR_CONFLICT,
		    "%s: op_log holds ops up to gseq %llu: another hub "
		    "appended meanwhile",
		    shown, (unsigned long long)head);
		pglog_abort(p);
		goto out;
	}
	for (;;) {
		if (s_batch_read(st, *last, b, err) != 0) {
			pglog_abort(p);
			goto out;
		}
		if (b->n == 0)
			break;
		if (pglog_import_in(p, b->rows, b->n, err) != 0)
			goto out;
		*n += b->n;
		*last = b->rows[b->n - 1].gseq;
		s_batch_clear(b);
	}
	/* What its quarantine holds is held there, as a hub of a cluster
	 * holds what it quarantines. */
	if (pgstore_hold_quarantined(st, p, 0, err) != 0)
		goto out;
	rc = pglog_commit(p, err);
out:
	s_batch_clear(b);
	free(b);
	pglog_close(&p);
	if (rc != 0)
		*n = 0;
	return rc;
}

/* The hub's own hq site, as hub.db's registry has it, into *hq; its
 * strings point into buf (size bytes) and key (CLUSTER_SIGN_KEY_BYTES). */
static int
s_hq_site(store_t *st, cluster_site_t *hq, char *buf, size_t size, uint8_t *key,
    err_t *err)
{
	sqlite3_stmt *q = store_stmt(st,
	    "SELECT id, role, pubkey, coalesce(name, ''), region, "
	    "enrolled_at, coalesce(revoked_at, 0), sign_key, name IS NULL "
	    "FROM sites WHERE id = ?");
	const char *col[5];
	size_t i, off = 0, len;
	int rc = 0;

	memset(hq, 0, sizeof *hq);
	sqlite3_bind_text(q, 1, store_site(st), -1, SQLITE_STATIC);
	if (!store_row(st, q)) {
		if (store_read_error(st, err) == 0)
			err_set(err, ERR_NOT_FOUND,
			    "hub.db: site %s: not in its own registry",
			    store_site(st));
		sqlite3_reset(q);
		return -1;
	}
	for (i = 0; i < 5; i++) {
		const char *v = (const char *)sqlite3_column_text(q, (int)i);

		len = strlen(v != NULL ? v : "");
		if (off + len + 1 > size) {
			rc = err_set(err, ERR_INTERNAL,
			    "hub.db: site %s: row too long", store_site(st));
			break;
		}
		memcpy(buf + off, v != NULL ? v : "", len + 1);
		col[i] = buf + off;
		off += len + 1;
	}
	if (rc == 0) {
		hq->id = col[0];
		hq->role = col[1];
		hq->pubkey = col[2];
		hq->name = sqlite3_column_int(q, 8) ? NULL : col[3];
		hq->region = col[4];
		hq->enrolled_at = (uint64_t)sqlite3_column_int64(q, 5);
		hq->revoked_at = (uint64_t)sqlite3_column_int64(q, 6);
		if (sqlite3_column_bytes(q, 7) == CLUSTER_SIGN_KEY_BYTES) {
			memcpy(key, sqlite3_column_blob(q, 7),
			    CLUSTER_SIGN_KEY_BYTES);
			hq->sign_key = key;
		}
	}
	sqlite3_reset(q);
	return rc;
}

/* Refusals of what the arguments say (exit 2). */
static int
s_check_args(const char *uri, err_t *err)
{
	if (uri == NULL)
		return err_set(err, ERR_BAD_REQUEST,
		    "--to postgresql://USER@HOST:PORT/DATABASE is required");
	/* The URI may hold a password: it is not repeated. */
	if (strncmp(uri, "postgresql://", 13) != 0 &&
	    strncmp(uri, "postgres://", 11) != 0)
		return err_set(err, ERR_BAD_REQUEST,
		    "--to: not a postgresql://USER@HOST:PORT/DATABASE URI");
	if (strlen(uri) >= CONF_VALUE_MAX)
		return err_set(err, ERR_BAD_REQUEST,
		    "--to: longer than the %d bytes a setting holds",
		    CONF_VALUE_MAX - 1);
	return 0;
}

/* The run lock for the whole migration: its descriptor, or -1 with err
 * when a daemon holds it. */
static int
s_lock(const char *dir, err_t *err)
{
	long holder;
	int lock = runlock_take(dir, &holder, err);

	if (lock >= 0 || err->code != ERR_CONFLICT)
		return lock;
	if (holder > 0)
		err_set(err, ERR_CONFLICT,
		    "%s: the daemon (process %ld) is running; stop it first",
		    dir, holder);
	else
		err_set(err, ERR_CONFLICT,
		    "%s: the daemon is running; stop it first", dir);
	return -1;
}

/* After PostgreSQL was written: removes it again (cluster_forget), or
 * adds to err what to do when that fails too. */
static void
s_undo(cluster_t *c, const char *pub, err_t *err)
{
	char was[ERR_MSG_MAX];
	err_t why;

	if (cluster_forget(c, pub, &why) == 0)
		return;
	snprintf(was, sizeof was, "%s", err->msg);
	err_set(err, err->code,
	    "%s keeps a part of the hub: drop and recreate that database "
	    "before migrating again; the hub is unchanged (%s; undo: %s)",
	    cluster_uri(c), was, why.msg);
}

int
migrate_cmd(const args_t *a)
{
	const char *dir = args_get(a, "data", ".");
	const char *uri = args_get(a, "to", NULL);
	char path[4096], pub[KEYS_Z85_LEN + 1], hq_buf[1024];
	uint8_t hq_key[CLUSTER_SIGN_KEY_BYTES];
	cluster_site_t hq;
	cluster_t *c = NULL;
	store_t *st = NULL;
	conf_t conf;
	err_t err;
	size_t nops = 0, nsites = 0;
	uint64_t last = 0;
	int lock = -1, claimed = 0, rc = 1;

	err_clear(&err);
	if (s_check_args(uri, &err))
		return prog_fail(PROG_EXIT_USAGE, &err);
	snprintf(path, sizeof path, "%s/%s", dir, HUB_DB);
	if (access(path, F_OK) != 0) {
		err_set(&err, ERR_NOT_FOUND,
		    "%s: no hub here (run bl-hub init)", dir);
		return prog_fail(1, &err);
	}
	if ((lock = s_lock(dir, &err)) < 0)
		return prog_fail(1, &err);
	if (conf_load(dir, &conf, &err))
		goto out;
	if (conf_get(&conf, HUB_CONF_STORE, NULL) != NULL) {
		err_set(&err, ERR_CONFLICT,
		    "%s: already a hub of a cluster (store= in its config)",
		    dir);
		goto out;
	}
	if (conf_set(&conf, HUB_CONF_STORE, uri) != 0) {
		err_set(&err, ERR_INTERNAL, "%s/config: too many settings",
		    dir);
		goto out;
	}
	if (keys_load_public(dir, HUB_KEY, pub, &err))
		goto out;
	if ((c = cluster_open(uri, &err)) == NULL ||
	    cluster_init_schema(c, &err) || cluster_check_empty(c, &err))
		goto out;
	if ((st = hub_open(dir, &err)) == NULL ||
	    visibility_apply_all(st, &err) ||
	    s_hq_site(st, &hq, hq_buf, sizeof hq_buf, hq_key, &err))
		goto out;
	/* PostgreSQL from here on: a failure undoes it (s_undo). */
	if (cluster_claim(c, pub, &hq, &err))
		goto out;
	claimed = 1;
	if (cluster_import_sites(c, store_db(st), hq.id, &nsites, &err) ||
	    s_import_ops(st, uri, cluster_uri(c), &nops, &last, &err))
		goto out;
	if (store_begin(st, &err))
		goto out;
	if (pgstore_set_applied(st, last, &err) || store_commit(st, &err)) {
		store_rollback(st);
		goto out;
	}
	/* Last: from now on the hub is one of the cluster. */
	if (conf_save(dir, &conf, &err))
		goto out;
	printf("migrated %zu ops and %zu sites to %s\n", nops, nsites + 1,
	    cluster_uri(c));
	rc = 0;
out:
	if (rc != 0 && claimed)
		s_undo(c, pub, &err);
	store_close(&st);
	cluster_close(&c);
	if (lock >= 0)
		close(lock);
	return rc != 0 ? prog_fail(1, &err) : 0;
}
