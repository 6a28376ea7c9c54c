/*
 * disk: what the benchmark watches of the disk, so that every figure is
 * taken with checkpoints running and the WAL bounded: bytes a process wrote
 * to storage (the kernel's count, WAL and checkpoints alike), a thread that
 * samples every replica's WAL size through the whole run, and the live size
 * of a database (pages in use).
 */
#include "bench.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

long long
bench_write_bytes(pid_t pid)
{
	return bench_proc_value(pid, "io", "write_bytes");
}

#define WATCH_MAX 8

static struct {
	pthread_t thread;
	pthread_mutex_t lock;
	int stop, n;
	char path[WATCH_MAX][4200];
	long long max[WATCH_MAX];
} s_watch = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void *
s_sampler(void *arg)
{
	struct stat sb;
	int i;

	(void)arg;
	for (;;) {
		pthread_mutex_lock(&s_watch.lock);
		if (s_watch.stop) {
			pthread_mutex_unlock(&s_watch.lock);
			return NULL;
		}
		for (i = 0; i < s_watch.n; i++)
			if (stat(s_watch.path[i], &sb) == 0 &&
			    sb.st_size > s_watch.max[i])
				s_watch.max[i] = sb.st_size;
		pthread_mutex_unlock(&s_watch.lock);
		usleep(20000);
	}
}

void
bench_wal_watch(const char *db_path)
{
	pthread_mutex_lock(&s_watch.lock);
	if (s_watch.n == 0 &&
	    pthread_create(&s_watch.thread, NULL, s_sampler, NULL) != 0)
		bench_die("wal watch: cannot start a thread");
	if (s_watch.n == WATCH_MAX)
		bench_die("wal watch: more than %d databases", WATCH_MAX);
	snprintf(s_watch.path[s_watch.n], sizeof s_watch.path[0], "%s-wal",
	    db_path);
	s_watch.max[s_watch.n++] = 0;
	pthread_mutex_unlock(&s_watch.lock);
}

long long
bench_wal_max(const char *db_path, int reset)
{
	char wal[4200];
	long long m = -1;
	int i;

	snprintf(wal, sizeof wal, "%s-wal", db_path);
	pthread_mutex_lock(&s_watch.lock);
	for (i = 0; i < s_watch.n; i++)
		if (strcmp(s_watch.path[i], wal) == 0) {
			m = s_watch.max[i];
			if (reset)
				s_watch.max[i] = 0;
		}
	pthread_mutex_unlock(&s_watch.lock);
	return m;
}

void
bench_wal_unwatch(void)
{
	pthread_mutex_lock(&s_watch.lock);
	s_watch.stop = 1;
	pthread_mutex_unlock(&s_watch.lock);
	if (s_watch.n > 0)
		pthread_join(s_watch.thread, NULL);
}

long long
bench_db_live_bytes(const char *db_path)
{
	sqlite3 *db;
	sqlite3_stmt *s;
	long long v[3] = { 0, 0, 0 };
	const char *q[3] = { "PRAGMA page_count", "PRAGMA freelist_count",
		"PRAGMA page_size" };
	int i;

	if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK)
		bench_die("open %s: %s", db_path, sqlite3_errmsg(db));
	sqlite3_busy_timeout(db, 10000);
	for (i = 0; i < 3; i++) {
		if (sqlite3_prepare_v2(db, q[i], -1, &s, NULL) != SQLITE_OK ||
		    sqlite3_step(s) != SQLITE_ROW)
			bench_die("%s %s: %s", db_path, q[i],
			    sqlite3_errmsg(db));
		v[i] = sqlite3_column_int64(s, 0);
		sqlite3_finalize(s);
	}
	sqlite3_close(db);
	return (v[0] - v[1]) * v[2];
}
