/*
 * pgstore: hub.db as a projection of the shared op log (see pgstore.h for
 * the positions and the two paths that keep them).
 *
 * Owns its libpq connections (a pglog_t, and a cluster_t for the registry
 * when the tail needs a site early; each reopened after a loss) and the
 * URI; the store owns the pgstore_t through its shared-log hooks.
 */
#include "pgstore.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "codec.h"
#include "hlc.h"
#include "hub.h"
#include "log.h"
#include "op.h"
#include "pglog.h"

#define META_APPLIED "pg_applied"
#define META_HELD "pg_held" /* the last hold number copied (s_copy_held) */

typedef struct {
	char *uri;
	pglog_t *log;		   /* NULL until needed, and after a loss */
	cluster_t *registry;	   /* the same, for the registry's calls */
	uint64_t registry_lost_ms; /* its last loss: reopened after a pause */
	int tailing;	   /* a tail runs: its transactions take no lock */
	uint64_t head;	   /* the shared log's head at the open append */
	uint64_t begun_ms; /* when the open append's transaction began */
	uint64_t held_ms;  /* when the held ops were last copied */
	size_t held_new;   /* held ops copied since pgstore_held_new */
} pgstore_t;

/* How often a hub copies the ops other hubs hold back into its own
 * quarantine (s_copy_held). */
#define HELD_EVERY_MS 5000

static int s_begin(void *arg, store_t *st, uint64_t *first_lsn, err_t *err);

/* The connection, opened when there is none. */
static pglog_t *
s_log(pgstore_t *ps, err_t *err)
{
	if (ps->log == NULL && (ps->log = pglog_open(ps->uri, err)) == NULL)
		return NULL;
	return ps->log;
}

/* After a failure: a lost connection is closed, to be reopened. */
static void
s_failed(pgstore_t *ps, const err_t *err)
{
	if (err->code == ERR_UNAVAILABLE)
		pglog_close(&ps->log);
}

static pgstore_t *
s_of(const store_t *st)
{
	const store_shared_t *h = store_shared(st);

	return h != NULL && h->begin == s_begin ? h->arg : NULL;
}

uint64_t
pgstore_applied(store_t *st)
{
	int64_t v = 0;

	if (s_of(st) == NULL ||
	    store_meta_get_int(st, META_APPLIED, 0, &v, NULL) != 0)
		return 0;
	return (uint64_t)v;
}

int
pgstore_set_applied(store_t *st, uint64_t gseq, err_t *err)
{
	assert(gseq <= INT64_MAX);
	return store_meta_set_int(st, META_APPLIED, (int64_t)gseq, err);
}

int
pgstore_attached(const store_t *st)
{
	return s_of(st) != NULL;
}

/* ---- tailing ---- */

/* What one tail transaction carries through pglog_read's callback. */
typedef struct {
	pgstore_t *ps;
	store_t *st;
	uint64_t last; /* the last gseq applied */
	int waiting;   /* stopped at an op whose origin is not copied yet */
	hub_from_t from;
} tail_t;

/* After a loss, the registry's connection is tried again only this much
 * later: its calls run on the hub's loop (a HELLO's claim, the tick's
 * marks), and a server that drops packets makes a connect wait for its
 * timeout. */
#define REGISTRY_RETRY_MS 10000

/* The registry's connection, opened when there is none and the last loss
 * is REGISTRY_RETRY_MS old. */
static cluster_t *
s_registry(pgstore_t *ps, err_t *err)
{
	uint64_t now = hlc_wall_ms();

	if (ps->registry != NULL)
		return ps->registry;
	if (now - ps->registry_lost_ms < REGISTRY_RETRY_MS) {
		err_set(err, ERR_UNAVAILABLE,
		    "registry: lost %llu ms ago, tried again after %d ms",
		    (unsigned long long)(now - ps->registry_lost_ms),
		    REGISTRY_RETRY_MS);
		return NULL;
	}
	if ((ps->registry = cluster_open(ps->uri, err)) == NULL)
		ps->registry_lost_ms = now;
	return ps->registry;
}

/* After a failure on it: a lost connection is closed, to be reopened. */
static void
s_registry_failed(pgstore_t *ps, const err_t *err)
{
	if (err->code == ERR_UNAVAILABLE && ps->registry != NULL) {
		cluster_close(&ps->registry);
		ps->registry_lost_ms = hlc_wall_ms();
	}
}

int
pgstore_session_claim(store_t *st, const char *site, const char *incarnation,
    uint64_t live_ms, char *holder, size_t holder_size, char *holder_hub,
    size_t hub_size, err_t *err)
{
	pgstore_t *ps = s_of(st);
	int rc;

	if (ps == NULL)
		return 0;
	if (s_registry(ps, err) == NULL)
		return -1;
	rc = cluster_session_claim(ps->registry, site, incarnation,
	    store_site(st), live_ms, holder, holder_size, holder_hub, hub_size,
	    err);
	if (rc < 0)
		s_registry_failed(ps, err);
	return rc;
}

int
pgstore_sessions_seen(store_t *st, const char *const *sites, size_t n,
    cluster_taken_fn taken, void *arg, err_t *err)
{
	pgstore_t *ps = s_of(st);

	if (ps == NULL || n == 0)
		return 0;
	if (s_registry(ps, err) == NULL ||
	    cluster_sessions_seen(ps->registry, store_site(st), sites, n, taken,
		arg, err) != 0) {
		s_registry_failed(ps, err);
		return -1;
	}
	return 0;
}

/* An op of the shared log from a site this hub's registry copy does not
 * have: enrolled on another hub a moment ago, before the regular copy
 * (clusterpoll.c, every second) brought it. Its row is copied now, in the
 * tail's transaction, so that the tail, and the writes waiting on it, go
 * on at once. 1 when copied; 0 when the registry has no such site or did
 * not answer (logged). */
static int
s_copy_site(pgstore_t *ps, store_t *st, const char *site)
{
	int found = 0;
	err_t err;

	if (s_registry(ps, &err) == NULL ||
	    cluster_copy_site(ps->registry, store_db(st), site, &found, &err) !=
		0) {
		log_warn("shared log: copy site %s from the registry: %s", site,
		    err.msg);
		s_registry_failed(ps, &err);
		return 0;
	}
	if (found)
		log_info("shared log: site %s copied from the registry ahead "
			 "of the regular copy",
		    site);
	return found;
}

/* Applies one op of the shared log at lsn == its gseq. */
static int
s_tail_row(void *arg, const pglog_row_t *row, err_t *err)
{
	tail_t *t = arg;
	ingest_from_t in;
	ingest_result_t res;
	op_t op;
	cbr_t r;
	err_t why;

	memset(&op, 0, sizeof op);
	cbr_init(&r, row->op.body, row->op.body_len);
	if (op_decode(&r, &op, &why) != 0) {
		/* The appending hub decoded it: never here. */
		log_warn("shared log: gseq %llu (%s/%llu) does not decode, "
			 "skipped: %s",
		    (unsigned long long)row->gseq, row->op.origin,
		    (unsigned long long)row->op.seq, why.msg);
		t->last = row->gseq;
		return 0;
	}
	memset(&in, 0, sizeof in);
	hub_from_of(&t->from, t->st, &op, &in);
	if (t->from.role[0] == '\0' &&
	    s_copy_site(t->ps, t->st, row->op.origin) == 1) {
		memset(&t->from, 0, sizeof t->from);
		hub_from_of(&t->from, t->st, &op, &in);
	}
	if (t->from.role[0] == '\0') {
		/* Not in the registry, or PostgreSQL did not answer: the
		 * next tail tries again, and writes wait until it passes. */
		op_clear(&op);
		t->waiting = 1;
		return err_set(err, ERR_UNAVAILABLE,
		    "tail: op %s/%llu: site %s not in the registry's copy",
		    row->op.origin, (unsigned long long)row->op.seq,
		    row->op.origin);
	}
	/* The shared log's op is the cluster's decision: a copy this hub
	 * quarantined when a site pushed it here (its clock ahead of ours,
	 * its order not held yet) gives way to it, and the op takes its
	 * gseq here as on every other hub. */
	if (store_unquarantine(t->st, &op, row->op.body, row->op.body_len, NULL,
		err) != 0) {
		op_clear(&op);
		return -1;
	}
	in.admitted = 1;
	store_set_lsn_floor(t->st, row->gseq);
	if (store_ingest_from(t->st, &op, row->op.body, row->op.body_len, &in,
		&res, &why) != 0) {
		op_clear(&op);
		*err = why;
		return -1;
	}
	if (res == INGEST_QUARANTINED || res == INGEST_CONFLICT)
		log_warn("shared log: gseq %llu: %s",
		    (unsigned long long)row->gseq, why.msg);
	op_clear(&op);
	t->last = row->gseq;
	return 0;
}

/* One transaction of the tail: up to PGSTORE_TAIL_BATCH ops after
 * pg_applied, no further than upto. *n: how many were read. */
static int
s_tail_batch(pgstore_t *ps, store_t *st, uint64_t upto, size_t *n, err_t *err)
{
	tail_t t;
	int64_t from = 0;
	size_t limit = PGSTORE_TAIL_BATCH;
	err_t read_err;

	*n = 0;
	memset(&t, 0, sizeof t);
	t.ps = ps;
	t.st = st;
	if (store_begin(st, err))
		return -1;
	if (store_meta_get_int(st, META_APPLIED, 0, &from, err))
		goto fail;
	if ((uint64_t)from >= upto) {
		store_rollback(st);
		return 0;
	}
	if (upto - (uint64_t)from < limit)
		limit = (size_t)(upto - (uint64_t)from);
	t.last = (uint64_t)from;
	err_clear(&read_err);
	if (pglog_read(ps->log, (uint64_t)from, limit, s_tail_row, &t, n,
		&read_err) != 0 &&
	    !t.waiting) {
		*err = read_err;
		s_failed(ps, err);
		goto fail;
	}
	if (t.last > (uint64_t)from &&
	    store_meta_set_int(st, META_APPLIED, (int64_t)t.last, err))
		goto fail;
	if (store_commit(st, err))
		return -1;
	if (t.waiting) {
		*err = read_err;
		return -1;
	}
	return 0;
fail:
	store_rollback(st);
	return -1;
}

/* Applies the shared log up to upto (its head, read by the caller). */
static int
s_tail_to(pgstore_t *ps, store_t *st, uint64_t upto, size_t *applied,
    err_t *err)
{
	size_t n;
	int rc = 0;

	ps->tailing = 1;
	do {
		if ((rc = s_tail_batch(ps, st, upto, &n, err)) != 0)
			break;
		if (applied != NULL)
			*applied += n;
	} while (n > 0);
	ps->tailing = 0;
	return rc;
}

/* One held op of the shared log into this hub's quarantine, unless the
 * hub holds it already, logged or quarantined. */
static int
s_copy_held_row(void *arg, const pglog_row_t *row, err_t *err)
{
	store_t *st = arg;
	pgstore_t *ps = s_of(st);
	sqlite3_stmt *q = store_stmt(st,
	    "SELECT (SELECT count(*) FROM op_log WHERE origin = ?1 AND "
	    "seq = ?2) + (SELECT count(*) FROM quarantine WHERE origin = ?1 "
	    "AND seq = ?2)");
	int64_t held = 0;
	op_t op;
	cbr_t r;

	sqlite3_bind_text(q, 1, row->op.origin, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, (int64_t)row->op.seq);
	if (store_query_int64(st, q, 0, &held, err) != 0)
		return -1;
	if (held > 0)
		return 0;
	memset(&op, 0, sizeof op);
	cbr_init(&r, row->op.body, row->op.body_len);
	if (op_decode(&r, &op, err) != 0)
		return err_prefix(err, "held op %s/%llu", row->op.origin,
		    (unsigned long long)row->op.seq);
	if (store_quarantine(st, &op, row->op.body, row->op.body_len,
		row->reason, err) != 0) {
		op_clear(&op);
		return -1;
	}
	op_clear(&op);
	ps->held_new++;
	return 0;
}

size_t
pgstore_held_new(store_t *st)
{
	pgstore_t *ps = s_of(st);
	size_t n;

	if (ps == NULL)
		return 0;
	n = ps->held_new;
	ps->held_new = 0;
	return n;
}

/* Every HELD_EVERY_MS: the ops other hubs held back (pglog.h, op_held)
 * since the last copy into this hub's quarantine, so that its retries
 * take them in when they pass even if the hub that acknowledged them is
 * gone. One transaction, with meta pg_held, the last hold number copied:
 * each round reads only what is new. */
static int
s_copy_held(pgstore_t *ps, store_t *st, err_t *err)
{
	uint64_t now = hlc_wall_ms(), last;
	int64_t after = 0;

	if (now - ps->held_ms < HELD_EVERY_MS)
		return 0;
	ps->held_ms = now;
	if (store_begin(st, err))
		return -1;
	if (store_meta_get_int(st, META_HELD, 0, &after, err) ||
	    pglog_held(ps->log, (uint64_t)after, s_copy_held_row, st, &last,
		NULL, err) != 0) {
		s_failed(ps, err);
		store_rollback(st);
		return err_prefix(err, "copy held ops");
	}
	if (last > (uint64_t)after &&
	    store_meta_set_int(st, META_HELD, (int64_t)last, err)) {
		store_rollback(st);
		return err_prefix(err, "copy held ops");
	}
	return store_commit(st, err);
}

int
pgstore_tail(store_t *st, size_t *applied, err_t *err)
{
	pgstore_t *ps = s_of(st);
	uint64_t head;
	int rc;

	if (applied != NULL)
		*applied = 0;
	if (ps == NULL)
		return 0;
	if (s_log(ps, err) == NULL)
		return err_prefix(err, "tail");
	if (pglog_head(ps->log, &head, err) != 0) {
		s_failed(ps, err);
		return err_prefix(err, "tail");
	}
	if ((rc = s_tail_to(ps, st, head, applied, err)) != 0)
		return rc;
	ps->tailing = 1;
	rc = s_copy_held(ps, st, err);
	ps->tailing = 0;
	return rc;
}

/* ---- writing: the store's hooks ---- */

/* Before BEGIN IMMEDIATE: the append lock, then the log's head applied,
 * and this transaction's ops logged from the head + 1 on. */
static int
s_begin(void *arg, store_t *st, uint64_t *first_lsn, err_t *err)
{
	pgstore_t *ps = arg;

	*first_lsn = 0;
	if (ps->tailing)
		return 0;
	/* What is there now is applied before the lock: a hub far behind
	 * (one just started) does not hold every other hub's appends while
	 * it catches up. Under the lock, only what came meanwhile. */
	if (pgstore_tail(st, NULL, err) != 0)
		return -1;
	if (pglog_begin(ps->log, &ps->head, err) != 0) {
		s_failed(ps, err);
		return -1;
	}
	if (s_tail_to(ps, st, ps->head, NULL, err) != 0) {
		pglog_abort(ps->log);
		s_failed(ps, err);
		return -1;
	}
	*first_lsn = ps->head + 1;
	ps->begun_ms = hlc_wall_ms();
	return 0;
}

/* Moves op, logged at lsn in this transaction, to gseq, where the shared
 * log has it: appended now (appended), gseq is the one after `after`, the
 * last gseq appended before it; held before, gseq is at most `after`, the
 * head, and must be a hole here. Rows are placed in lsn order and never
 * move up, so a move never lands on a row still to be moved. 0, or -1
 * with err. */
static int
s_place(store_t *st, const pglog_op_t *op, uint64_t lsn, uint64_t gseq,
    int appended, uint64_t after, err_t *err)
{
	sqlite3_stmt *q;

	if (appended ? gseq != after + 1 : gseq > after || gseq > lsn)
		return err_set(err, ERR_INTERNAL,
		    "append op %s/%llu to the shared log: it is at gseq %llu, "
		    "logged here at %llu after %llu",
		    op->origin, (unsigned long long)op->seq,
		    (unsigned long long)gseq, (unsigned long long)lsn,
		    (unsigned long long)after);
	if (gseq == lsn)
		return 0;
	q = store_stmt(st, "UPDATE op_log SET lsn = ? WHERE lsn = ?");
	sqlite3_bind_int64(q, 1, (int64_t)gseq);
	sqlite3_bind_int64(q, 2, (int64_t)lsn);
	return store_step(st, q, "place an op at its gseq", err);
}

int
pgstore_hold_quarantined(store_t *st, pglog_t *log, uint64_t since_ms,
    err_t *err)
{
	sqlite3_stmt *q = store_stmt(st,
	    "SELECT origin, seq, body, reason FROM quarantine WHERE at >= ?");
	pglog_op_t op;
	int rc;

	sqlite3_bind_int64(q, 1, (int64_t)since_ms);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		memset(&op, 0, sizeof op);
		op.origin = (const char *)sqlite3_column_text(q, 0);
		op.seq = (uint64_t)sqlite3_column_int64(q, 1);
		op.body = sqlite3_column_blob(q, 2);
		op.body_len = (size_t)sqlite3_column_bytes(q, 2);
		op_hash(op.body, op.body_len, op.hash);
		if (pglog_hold_in(log, &op,
			(const char *)sqlite3_column_text(q, 3), err) != 0) {
			sqlite3_reset(q);
			return -1;
		}
	}
	sqlite3_reset(q);
	if (rc == SQLITE_DONE)
		return 0;
	pglog_abort(log);
	return err_set(err, ERR_INTERNAL,
	    "hold quarantined ops in the shared log: read: %s",
	    sqlite3_errmsg(store_db(st)));
}

/* Just before COMMIT: the ops this transaction logged, appended with the
 * gseqs their lsns are, then PostgreSQL's COMMIT. */
static int
s_commit(void *arg, store_t *st, uint64_t first_lsn, err_t *err)
{
	pgstore_t *ps = arg;
	sqlite3_stmt *q = store_stmt(st,
	    "SELECT lsn, origin, seq, body FROM op_log WHERE lsn >= ? "
	    "ORDER BY lsn");
	pglog_op_t *ops = NULL;
	uint64_t *lsns = NULL, *gseqs = NULL;
	pglog_status_t *status = NULL;
	char **origins = NULL;
	size_t n = 0, cap = 0, i;
	int rc, failed = -1;
	err_t conflicts;
	uint64_t last = ps->head; /* the last gseq appended */

	assert(first_lsn == ps->head + 1);
	sqlite3_bind_int64(q, 1, (int64_t)first_lsn);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			if ((ops = realloc(ops, cap * sizeof *ops)) == NULL ||
			    (lsns = realloc(lsns, cap * sizeof *lsns)) ==
				NULL ||
			    (origins = realloc(origins,
				 cap * sizeof *origins)) == NULL)
				fatal("hub: out of memory");
		}
		lsns[n] = (uint64_t)sqlite3_column_int64(q, 0);
		origins[n] = strdup((const char *)sqlite3_column_text(q, 1));
		ops[n].origin = origins[n];
		ops[n].seq = (uint64_t)sqlite3_column_int64(q, 2);
		ops[n].body_len = (size_t)sqlite3_column_bytes(q, 3);
		ops[n].body = malloc(ops[n].body_len + 1);
		if (origins[n] == NULL || ops[n].body == NULL)
			fatal("hub: out of memory");
		memcpy((uint8_t *)ops[n].body, sqlite3_column_blob(q, 3),
		    ops[n].body_len);
		op_hash(ops[n].body, ops[n].body_len, ops[n].hash);
		n++;
	}
	sqlite3_reset(q);
	if (rc != SQLITE_DONE) {
		err_set(err, ERR_INTERNAL, "append to the shared log: read: %s",
		    sqlite3_errmsg(store_db(st)));
		goto out;
	}
	if (n > 0) {
		gseqs = calloc(n, sizeof *gseqs);
		status = calloc(n, sizeof *status);
		if (gseqs == NULL || status == NULL)
			fatal("hub: out of memory");
		if (pglog_append_in(ps->log, ops, n, gseqs, status,
			&conflicts) != 0) {
			*err = conflicts;
			s_failed(ps, err);
			goto out;
		}
		/* The lock is held since the head was read, so what is new
		 * takes the next gseqs, in order: its lsns. An op the shared
		 * log held before (a hole in hub.db, an op another hub placed
		 * while this one quarantined its copy) goes where the log has
		 * it (s_place). Another op under a used seq fails it all. */
		for (i = 0; i < n; i++)
			if (status[i] == PGLOG_CONFLICT ||
			    s_place(st, &ops[i], lsns[i], gseqs[i],
				status[i] == PGLOG_APPENDED,
				status[i] == PGLOG_APPENDED ? last : ps->head,
				err) != 0) {
				if (status[i] == PGLOG_CONFLICT)
					*err = conflicts;
				pglog_abort(ps->log);
				goto out;
			} else if (status[i] == PGLOG_APPENDED)
				last = gseqs[i];
		if (last > ps->head &&
		    store_meta_set_int(st, META_APPLIED, (int64_t)last, err)) {
			pglog_abort(ps->log);
			goto out;
		}
	}
	/* What this transaction quarantined is held in the shared log, so
	 * that a PUSH is acknowledged only once every op of it is in
	 * PostgreSQL, applied or held. */
	if (pgstore_hold_quarantined(st, ps->log, ps->begun_ms, err) != 0) {
		s_failed(ps, err);
		goto out;
	}
	if (pglog_commit(ps->log, err) != 0) {
		s_failed(ps, err);
		goto out;
	}
	failed = 0;
out:
	for (i = 0; i < n; i++) {
		free(origins[i]);
		free((uint8_t *)ops[i].body);
	}
	free(origins);
	free(ops);
	free(lsns);
	free(gseqs);
	free(status);
	return failed;
}

static void
s_abort(void *arg, store_t *st)
{
	pgstore_t *ps = arg;

	(void)st;
	if (ps->log != NULL)
		pglog_abort(ps->log);
}

static void
s_destroy(void *arg)
{
	pgstore_t *ps = arg;

	pglog_close(&ps->log);
	cluster_close(&ps->registry);
	free(ps->uri);
	free(ps);
}

int
pgstore_attach(store_t *st, const char *uri, err_t *err)
{
	pgstore_t *ps = calloc(1, sizeof *ps);
	store_shared_t hooks = { s_begin, s_commit, s_abort, s_destroy, NULL };

	if (ps == NULL || (ps->uri = strdup(uri)) == NULL) {
		free(ps);
		return err_set(err, ERR_INTERNAL, "shared log: out of memory");
	}
	hooks.arg = ps;
	store_set_shared(st, &hooks);
	return 0;
}
