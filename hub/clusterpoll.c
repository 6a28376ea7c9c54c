/*
 * clusterpoll: a running hub's copy of the cluster's shared registry
 * (cluster.h), kept by a thread of its own.
 *
 * On each connection the thread first brings the cluster's schema to this
 * build's (cluster_init_schema: idempotent additions an older hub works
 * with), so a cluster upgrades as its hubs restart. Once a second it
 * copies the sites changed in PostgreSQL since the last version it copied
 * into hub.db's sites table (revocations, regions, signing keys, sites
 * enrolled on other hubs), one SQLite transaction per batch, and
 * publishes the signing keys this hub pinned when their count changed. The server reads that table on its own: its
 * ZAP handler admits a key enrolled on any hub, and its tick cuts a
 * revoked or moved site's session, so every hub acts within seconds.
 *
 * Why a thread: libpq calls block, for up to the connect timeout when the
 * server is gone and longer when the network drops packets, and the hub's
 * loop must go on serving its sites meanwhile. The thread has its own
 * PostgreSQL and SQLite connections; the loop only reads its status,
 * under a mutex. Its SQLite transactions take the write lock only once
 * PostgreSQL has answered, so a slow PostgreSQL never holds hub.db.
 *
 * Failures never stop the hub: the first is logged at once, then one line
 * a minute at most while it lasts, and one when it works again; a lost
 * connection is reopened at the next round. Each start copies from
 * version 0 (rows already the same are not written), so what a command
 * wrote while no daemon ran is taken up too. GET /v1/status shows it.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cluster.h"
#include "hub.h"
#include "log.h"
#include "text.h"

#define CLUSTERPOLL_EVERY_MS 1000
#define CLUSTERPOLL_LOG_EVERY_MS 60000
#define CLUSTERPOLL_BATCH 1000 /* sites per SQLite transaction */
#define CLUSTERPOLL_BUSY_MS 10000

struct clusterpoll {
	char *uri;
	sqlite3 *db;	    /* the thread's connection to hub.db */
	cluster_t *cluster; /* the thread's; NULL while not connected */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* on CLOCK_MONOTONIC */
	int stop;	     /* under lock */
	/* The thread's own. */
	uint64_t seen;		   /* the highest version copied */
	int64_t pinned;		   /* local pins at the last publish; -1 */
	uint64_t failing_since_ms; /* 0 while all is well */
	uint64_t logged_ms;	   /* the last failure line */
	uint64_t failures;	   /* since that line */
	/* Under lock, for clusterpoll_status. */
	uint64_t version;
	uint64_t polled_ms; /* the last round that completed; 0: none */
	char error[ERR_MSG_MAX];
};

static uint64_t
s_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Runs sql (no rows) on the thread's hub.db connection. */
static int
s_local(clusterpoll_t *cp, const char *sql, err_t *err)
{
	if (sqlite3_exec(cp->db, sql, NULL, NULL, NULL) == SQLITE_OK)
		return 0;
	return err_set(err, ERR_INTERNAL, "registry copy: %s: %s", sql,
	    sqlite3_errmsg(cp->db));
}

/* Records a failed round: shown by status, logged as the file's header
 * says; a lost connection is dropped, to be reopened next round. */
static void
s_failed(clusterpoll_t *cp, const err_t *err)
{
	uint64_t now = s_mono_ms();

	if (err->code == ERR_UNAVAILABLE)
		cluster_close(&cp->cluster);
	pthread_mutex_lock(&cp->lock);
	snprintf(cp->error, sizeof cp->error, "%s", err->msg);
	pthread_mutex_unlock(&cp->lock);
	if (cp->failing_since_ms == 0) {
		cp->failing_since_ms = now;
		cp->logged_ms = now;
		cp->failures = 0;
		log_warn("registry: %s (retried every second)", err->msg);
		return;
	}
	cp->failures++;
	if (now - cp->logged_ms < CLUSTERPOLL_LOG_EVERY_MS)
		return;
	log_warn("registry: failing for %llu s, %llu more failures: %s",
	    (unsigned long long)((now - cp->failing_since_ms) / 1000),
	    (unsigned long long)cp->failures, err->msg);
	cp->logged_ms = now;
	cp->failures = 0;
}

/* Copies the batches changed since cp->seen; *changed: rows of hub.db
 * that changed. */
static int
s_copy(clusterpoll_t *cp, size_t *changed, err_t *err)
{
	size_t n = CLUSTERPOLL_BATCH, batch_changed;
	uint64_t last;

	*changed = 0;
	while (n == CLUSTERPOLL_BATCH) {
		/* Deferred: the first upsert takes the write lock, after
		 * PostgreSQL answered. */
		if (s_local(cp, "BEGIN", err))
			return -1;
		if (cluster_copy(cp->cluster, cp->db, cp->seen,
			CLUSTERPOLL_BATCH, &last, &n, &batch_changed, err) ||
		    s_local(cp, "COMMIT", err)) {
			sqlite3_exec(cp->db, "ROLLBACK", NULL, NULL, NULL);
			return -1;
		}
		cp->seen = last;
		*changed += batch_changed;
	}
	return 0;
}

/* Publishes this hub's pins when their count changed since the last
 * publish (a pin is never taken back, so a new one changes it). */
static int
s_publish(clusterpoll_t *cp, err_t *err)
{
	sqlite3_stmt *s;
	int64_t count = -1;
	size_t published = 0;

	if (sqlite3_prepare_v2(cp->db,
		"SELECT count(*) FROM sites WHERE sign_key IS NOT NULL", -1, &s,
		NULL) != SQLITE_OK)
		return err_set(err, ERR_INTERNAL, "registry copy: pins: %s",
		    sqlite3_errmsg(cp->db));
	if (sqlite3_step(s) == SQLITE_ROW)
		count = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	if (count < 0)
		return err_set(err, ERR_INTERNAL, "registry copy: pins: %s",
		    sqlite3_errmsg(cp->db));
	if (count == cp->pinned)
		return 0;
	if (cluster_publish_sign_keys(cp->cluster, cp->db, &published, err))
		return -1;
	cp->pinned = count;
	if (published > 0)
		log_info("registry: %zu signing keys pinned here published",
		    published);
	return 0;
}

static void
s_round(clusterpoll_t *cp)
{
	size_t changed = 0;
	err_t err;

	/* On each connection, the schema brought to this build's (its
	 * additions are idempotent and compatible with older hubs), so that
	 * a cluster upgrades as its hubs restart on the new build. */
	if (cp->cluster == NULL) {
		if ((cp->cluster = cluster_open(cp->uri, &err)) == NULL) {
			s_failed(cp, &err);
			return;
		}
		/* One that fails (this hub's role may not alter the tables;
		 * their owner's runs it) leaves the copy going. */
		if (cluster_init_schema(cp->cluster, &err) != 0) {
			log_warn(
			    "registry: bring the schema to this build's: %s",
			    err.msg);
			if (err.code == ERR_UNAVAILABLE) {
				s_failed(cp, &err);
				return;
			}
		}
	}
	if (s_copy(cp, &changed, &err) || s_publish(cp, &err)) {
		s_failed(cp, &err);
		return;
	}
	pthread_mutex_lock(&cp->lock);
	cp->version = cp->seen;
	cp->polled_ms = s_mono_ms();
	cp->error[0] = '\0';
	pthread_mutex_unlock(&cp->lock);
	if (cp->failing_since_ms != 0) {
		log_info("registry: %s answers again after %llu s",
		    cluster_uri(cp->cluster),
		    (unsigned long long)((s_mono_ms() - cp->failing_since_ms) /
			1000));
		cp->failing_since_ms = 0;
	}
	if (changed > 0)
		log_info("registry: %zu sites changed, at version %llu",
		    changed, (unsigned long long)cp->seen);
}

static void *
s_thread(void *arg)
{
	clusterpoll_t *cp = arg;
	struct timespec until;
	uint64_t next;

	pthread_mutex_lock(&cp->lock);
	while (!cp->stop) {
		pthread_mutex_unlock(&cp->lock);
		next = s_mono_ms() + CLUSTERPOLL_EVERY_MS;
		s_round(cp);
		pthread_mutex_lock(&cp->lock);
		while (!cp->stop && s_mono_ms() < next) {
			until.tv_sec = (time_t)(next / 1000);
			until.tv_nsec = (long)(next % 1000) * 1000000L;
			pthread_cond_timedwait(&cp->cond, &cp->lock, &until);
		}
	}
	pthread_mutex_unlock(&cp->lock);
	return NULL;
}

clusterpoll_t *
clusterpoll_start(const char *uri, const char *db_path, err_t *err)
{
	clusterpoll_t *cp = calloc(1, sizeof *cp);
	pthread_condattr_t attr;

	if (cp == NULL || (cp->uri = strdup(uri)) == NULL) {
		free(cp);
		err_set(err, ERR_INTERNAL, "registry copy: out of memory");
		return NULL;
	}
	cp->pinned = -1;
	if (sqlite3_open_v2(db_path, &cp->db, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK) {
		err_set(err, ERR_INTERNAL, "registry copy: open %s: %s",
		    db_path, sqlite3_errmsg(cp->db));
		sqlite3_close(cp->db);
		free(cp->uri);
		free(cp);
		return NULL;
	}
	sqlite3_busy_timeout(cp->db, CLUSTERPOLL_BUSY_MS);
	pthread_mutex_init(&cp->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&cp->cond, &attr);
	pthread_condattr_destroy(&attr);
	if (pthread_create(&cp->thread, NULL, s_thread, cp) != 0) {
		err_set(err, ERR_INTERNAL,
		    "registry copy: cannot start a thread");
		pthread_mutex_destroy(&cp->lock);
		pthread_cond_destroy(&cp->cond);
		sqlite3_close(cp->db);
		free(cp->uri);
		free(cp);
		return NULL;
	}
	return cp;
}

void
clusterpoll_stop(clusterpoll_t **self_p)
{
	clusterpoll_t *cp;

	if (self_p == NULL || *self_p == NULL)
		return;
	cp = *self_p;
	pthread_mutex_lock(&cp->lock);
	cp->stop = 1;
	pthread_cond_signal(&cp->cond);
	pthread_mutex_unlock(&cp->lock);
	pthread_join(cp->thread, NULL);
	pthread_mutex_destroy(&cp->lock);
	pthread_cond_destroy(&cp->cond);
	cluster_close(&cp->cluster);
	sqlite3_close(cp->db);
	free(cp->uri);
	free(cp);
	*self_p = NULL;
}

void
clusterpoll_status(clusterpoll_t *cp, json_t *status)
{
	json_t *o = json_object();
	uint64_t now = s_mono_ms();
	char error[ERR_MSG_MAX];

	pthread_mutex_lock(&cp->lock);
	json_object_set_new(o, "store", json_string("postgresql"));
	json_object_set_new(o, "registry_version",
	    json_integer((json_int_t)cp->version));
	json_object_set_new(o, "last_poll_ms_ago",
	    cp->polled_ms != 0 ? json_integer((json_int_t)(now - cp->polled_ms))
			       : json_null());
	snprintf(error, sizeof error, "%s", cp->error);
	pthread_mutex_unlock(&cp->lock);
	text_clean(error); /* PostgreSQL's words, for JSON */
	json_object_set_new(o, "error",
	    error[0] != '\0' ? json_string(error) : json_null());
	json_object_set_new(status, "cluster", o);
}
