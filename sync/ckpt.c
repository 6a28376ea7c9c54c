/* ckpt: a replica's WAL kept bounded by a checkpointer thread (see ckpt.h). */
#include "ckpt.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>

#include "hlc.h"
#include "log.h"
#include "text.h"

#define CKPT_LOOK_MS 1000	 /* the thread looks at least this often */
#define CKPT_IDLE_MS 5000	 /* no commit for this long: truncate */
#define CKPT_WARN_EVERY_MS 60000 /* a problem that lasts is logged again */
#define CKPT_STALL_MS 3000	 /* over a quarter this long: a problem */
#define CKPT_WRITER_WAIT_MS 2000 /* longest the writer waits in FULL */
#define CKPT_FULL_RETRY_MS 10000 /* after a FULL that could not finish */
#define CKPT_SUMMARY_MS 600000	 /* a line saying checkpoints progress */

struct ckpt {
	sqlite3 *writer;    /* borrowed: the connection that commits */
	int writer_busy_ms; /* its busy timeout, restored after FULL */
	sqlite3 *db;	    /* the thread's own connection */
	char *path;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* on CLOCK_MONOTONIC */
	int page_size;
	int64_t bound_bytes, disk_low_bytes;
	int soft_frames; /* a quarter of the bound, in frames */
	int wake_frames; /* the hook wakes the thread past this */
	/* Under lock: the writer's hook and the thread share these, and
	 * ckpt_health reads them. Intervals are on the monotonic clock. */
	int stop;
	int due;		/* the hook saw wake_frames */
	int hook_frames;	/* frames in the WAL at the last commit */
	int max_frames;		/* the most the WAL has held */
	int inline_frames;	/* past this, the writer checkpoints */
	int reader_blocks;	/* the writer's own round could not finish */
	uint64_t full_retry_at; /* no FULL from the writer before this */
	uint64_t frames_written, frames_copied, rounds, inline_rounds;
	uint64_t last_commit_at;
	int64_t wal_frames, last_ckpt_ms; /* last_ckpt_ms: wall clock */
	char problem[ERR_MSG_MAX];
	char hook_error[ERR_MSG_MAX]; /* the writer's round failed */
	/* The thread's own. */
	uint64_t warned_at, summary_at, summary_rounds, summary_copied;
	uint64_t behind_since; /* since when the WAL is behind, 0 */
	int prev_nlog;	       /* frames in the WAL at the last round */
};

static uint64_t
s_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Updates the counters from a checkpoint's result; call with the lock.
 * What has been copied is everything the writer appended less what the
 * WAL still holds uncopied (nCkpt alone restarts from 0 with the WAL,
 * unseen between rounds). An estimate: the writer may have committed since
 * the checkpoint read nLog. A round that copied everything lifts the
 * writer's restraint after a reader (below). */
static void
s_count(ckpt_t *ck, int nlog, int ncopied)
{
	uint64_t left, copied;

	if (nlog < 0 || ncopied < 0)
		return;
	left = (uint64_t)(nlog - ncopied);
	copied = ck->frames_written > left ? ck->frames_written - left : 0;
	if (copied > ck->frames_copied) {
		ck->frames_copied = copied;
		ck->rounds++;
		ck->last_ckpt_ms = (int64_t)hlc_wall_ms();
	}
	ck->wal_frames = nlog;
	if (ncopied == nlog) {
		ck->reader_blocks = 0;
		ck->inline_frames = 2 * ck->soft_frames;
	}
}

/* Runs in the writer after each commit (SQLite's WAL hook; the commit's
 * locks are released, and SQLite's own autocheckpoint checkpoints from
 * here too): counts what the commit appended, wakes the thread once enough
 * has gathered, and past half the bound checkpoints itself (see ckpt.h). */
static int
s_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
	ckpt_t *ck = arg;
	int nlog = -1, ncopied = -1, rc, mode = SQLITE_CHECKPOINT_PASSIVE;
	uint64_t now = s_mono_ms();

	pthread_mutex_lock(&ck->lock);
	if (frames < ck->hook_frames) {
		/* The commit started the WAL over: all it holds is new, and
		 * whatever held the last one up is gone. */
		ck->frames_written += (uint64_t)frames;
		ck->reader_blocks = 0;
		ck->inline_frames = 2 * ck->soft_frames;
	} else {
		ck->frames_written += (uint64_t)(frames - ck->hook_frames);
	}
	ck->hook_frames = frames;
	if (frames > ck->max_frames)
		ck->max_frames = frames;
	ck->last_commit_at = now;
	if (frames < ck->inline_frames) {
		if (frames >= ck->wake_frames && !ck->due) {
			ck->due = 1;
			pthread_cond_signal(&ck->cond);
		}
		pthread_mutex_unlock(&ck->lock);
		return SQLITE_OK;
	}
	/* Three quarters and no reader known in the way: the thread's own
	 * round holds the copy up while the writer goes on; wait for it
	 * (not for ever: a FULL that cannot finish is not tried again soon). */
	if (frames >= 3 * ck->soft_frames && !ck->reader_blocks &&
	    now >= ck->full_retry_at)
		mode = SQLITE_CHECKPOINT_FULL;
	pthread_mutex_unlock(&ck->lock);
	if (mode == SQLITE_CHECKPOINT_FULL)
		sqlite3_busy_timeout(db, CKPT_WRITER_WAIT_MS);
	rc = sqlite3_wal_checkpoint_v2(db, name, mode, &nlog, &ncopied);
	if (mode == SQLITE_CHECKPOINT_FULL)
		sqlite3_busy_timeout(db, ck->writer_busy_ms);
	pthread_mutex_lock(&ck->lock);
	if (rc == SQLITE_BUSY && mode == SQLITE_CHECKPOINT_FULL)
		ck->full_retry_at = now + CKPT_FULL_RETRY_MS;
	if (rc != SQLITE_OK && rc != SQLITE_BUSY)
		snprintf(ck->hook_error, sizeof ck->hook_error,
		    "checkpoint %s (by the writer): %s", ck->path,
		    sqlite3_errmsg(db));
	else
		ck->hook_error[0] = '\0';
	/* PASSIVE busy: the thread is at it, fine. */
	if (nlog >= 0) {
		s_count(ck, nlog, ncopied);
		ck->inline_rounds++;
		/* We are the only writer: only a reader of an older snapshot
		 * keeps the copy from finishing. Trying again at every commit
		 * would only slow the tills: try once the WAL has grown. */
		if (ncopied < nlog) {
			ck->reader_blocks = 1;
			ck->inline_frames = frames + ck->soft_frames;
		}
	}
	pthread_mutex_unlock(&ck->lock);
	return SQLITE_OK;
}

/* Records the thread's verdict; logs a problem when it starts, again while
 * it lasts, and its end. */
static void
s_verdict(ckpt_t *ck, const char *problem, uint64_t now)
{
	int had;

	pthread_mutex_lock(&ck->lock);
	had = ck->problem[0] != '\0';
	snprintf(ck->problem, sizeof ck->problem, "%s", problem);
	pthread_mutex_unlock(&ck->lock);
	if (problem[0] != '\0' &&
	    (!had || now - ck->warned_at >= CKPT_WARN_EVERY_MS)) {
		log_warn("%s", problem);
		ck->warned_at = now;
	} else if (problem[0] == '\0' && had) {
		log_info("checkpoint %s: the WAL is checkpointed again",
		    ck->path);
	}
}

/* Why a WAL stays over a quarter of its bound. */
static const char *
s_why_behind(ckpt_t *ck, int nlog, int ncopied)
{
	int blocks;

	pthread_mutex_lock(&ck->lock);
	blocks = ck->reader_blocks;
	pthread_mutex_unlock(&ck->lock);
	if (blocks || ncopied < nlog)
		return blocks ? "a reader holds an older snapshot open"
			      : "the writer outruns the checkpoints";
	return "all copied, but a reader keeps it from starting over";
}

/* One round. Every result is read: nLog is the frames in the WAL, nCkpt
 * those of them already in the database file (both -1 when the connection
 * has no WAL open, which would make every checkpoint a silent no-op). idle:
 * nothing was committed for CKPT_IDLE_MS. */
static void
s_round(ckpt_t *ck, int idle, uint64_t now)
{
	char problem[ERR_MSG_MAX] = "";
	int nlog = -1, ncopied = -1, rc;

	/* A connection's pager learns that the database is in WAL mode when
	 * it first reads it; before that, a checkpoint finds no WAL and
	 * reports success having done nothing. Read first, every round (the
	 * WAL may have been reset by another process meanwhile). */
	rc = sqlite3_exec(ck->db, "SELECT 1 FROM sqlite_schema LIMIT 1", NULL,
	    NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_wal_checkpoint_v2(ck->db, NULL,
		    SQLITE_CHECKPOINT_PASSIVE, &nlog, &ncopied);
	/* Busy: another checkpoint is running (the writer's); next round. */
	if (rc == SQLITE_BUSY)
		return;
	pthread_mutex_lock(&ck->lock);
	s_count(ck, nlog, ncopied);
	pthread_mutex_unlock(&ck->lock);
	if (rc == SQLITE_OK && nlog > 0 && ncopied == nlog && idle) {
		/* All copied and nobody writing: give the space back. Busy
		 * means a reader; what is left is judged below. */
		rc = sqlite3_wal_checkpoint_v2(ck->db, NULL,
		    SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
		if (rc == SQLITE_OK) {
			nlog = ncopied = 0;
			pthread_mutex_lock(&ck->lock);
			ck->hook_frames = 0;
			ck->wal_frames = 0;
			pthread_mutex_unlock(&ck->lock);
		} else if (rc == SQLITE_BUSY) {
			rc = SQLITE_OK;
		}
	}
	if (rc != SQLITE_OK) {
		snprintf(problem, sizeof problem, "checkpoint %s: %s", ck->path,
		    sqlite3_errmsg(ck->db));
	} else if (nlog < 0) {
		snprintf(problem, sizeof problem,
		    "checkpoint %s: the checkpointer's connection sees no WAL",
		    ck->path);
	} else if (nlog >= ck->soft_frames &&
	    (ncopied < nlog || nlog > ck->prev_nlog)) {
		/* Over a quarter with frames left to copy, or all copied but
		 * growing (commits that do not start it over: a reader is in
		 * it). A busy moment is not a problem; staying there is. */
		if (ck->behind_since == 0)
			ck->behind_since = now;
		if (now - ck->behind_since >= CKPT_STALL_MS)
			snprintf(problem, sizeof problem,
			    "checkpoint %s: WAL %d frames (%lld MB), %d copied "
			    "for %llu s: %s",
			    ck->path, nlog,
			    (long long)nlog * (ck->page_size + 24) /
				(1024 * 1024),
			    ncopied,
			    (unsigned long long)(now - ck->behind_since) / 1000,
			    s_why_behind(ck, nlog, ncopied));
	} else {
		ck->behind_since = 0;
	}
	if (nlog >= 0)
		ck->prev_nlog = nlog;
	if (problem[0] == '\0') {
		pthread_mutex_lock(&ck->lock);
		snprintf(problem, sizeof problem, "%s", ck->hook_error);
		pthread_mutex_unlock(&ck->lock);
	}
	s_verdict(ck, problem, now);
}

/* Logs, every CKPT_SUMMARY_MS with work done, that checkpoints progress. */
static void
s_summary(ckpt_t *ck, uint64_t now)
{
	uint64_t rounds, copied;
	int64_t frames;

	if (now - ck->summary_at < CKPT_SUMMARY_MS)
		return;
	pthread_mutex_lock(&ck->lock);
	rounds = ck->rounds;
	copied = ck->frames_copied;
	frames = ck->wal_frames;
	pthread_mutex_unlock(&ck->lock);
	if (rounds != ck->summary_rounds)
		log_info(
		    "checkpoint %s: %llu rounds copied %llu frames in %d min; "
		    "WAL now %lld frames",
		    ck->path, (unsigned long long)(rounds - ck->summary_rounds),
		    (unsigned long long)(copied - ck->summary_copied),
		    CKPT_SUMMARY_MS / 60000, (long long)frames);
	ck->summary_at = now;
	ck->summary_rounds = rounds;
	ck->summary_copied = copied;
}

/* The size of the -wal file (0 when there is none). */
static int64_t
s_wal_file_bytes(const ckpt_t *ck)
{
	char wal[4200];
	struct stat sb;

	snprintf(wal, sizeof wal, "%s-wal", ck->path);
	return stat(wal, &sb) == 0 ? (int64_t)sb.st_size : 0;
}

static void *
s_thread(void *arg)
{
	ckpt_t *ck = arg;
	struct timespec until;
	uint64_t now, written, seen = UINT64_MAX;
	int idle;

	ck->summary_at = s_mono_ms();
	pthread_mutex_lock(&ck->lock);
	while (!ck->stop) {
		if (!ck->due) {
			clock_gettime(CLOCK_MONOTONIC, &until);
			until.tv_nsec += (long)CKPT_LOOK_MS * 1000000L;
			until.tv_sec += until.tv_nsec / 1000000000L;
			until.tv_nsec %= 1000000000L;
			pthread_cond_timedwait(&ck->cond, &ck->lock, &until);
		}
		if (ck->stop)
			break;
		ck->due = 0;
		now = s_mono_ms();
		idle = now - ck->last_commit_at >= CKPT_IDLE_MS;
		written = ck->frames_written;
		pthread_mutex_unlock(&ck->lock);
		/* Nothing committed since a round that left the WAL empty,
		 * and no other process has written one since: nothing to do.
		 * Even a round with nothing to copy marks the shared-memory
		 * file, which the kernel then writes to disk. */
		if (written != seen || s_wal_file_bytes(ck) != 0) {
			seen = written;
			s_round(ck, idle, now);
		}
		s_summary(ck, now);
		pthread_mutex_lock(&ck->lock);
	}
	pthread_mutex_unlock(&ck->lock);
	return NULL;
}

static int
s_pragma_int(sqlite3 *db, const char *sql, int *out)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		return -1;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 0 : -1;
}

ckpt_t *
ckpt_start(sqlite3 *writer, int writer_busy_ms, const char *path, int bound_mb,
    int disk_low_mb, err_t *err)
{
	ckpt_t *ck = calloc(1, sizeof *ck);
	char pragma[64];

	if (ck == NULL)
		fatal("ckpt: out of memory");
	ck->writer = writer;
	ck->writer_busy_ms = writer_busy_ms;
	ck->path = strdup(path);
	ck->bound_bytes = (int64_t)(bound_mb > 0 ? bound_mb
						 : CKPT_DEFAULT_BOUND_MB) *
	    1024 * 1024;
	ck->disk_low_bytes = (int64_t)(disk_low_mb > 0
				     ? disk_low_mb
				     : CKPT_DEFAULT_DISK_LOW_MB) *
	    1024 * 1024;
	ck->last_commit_at = s_mono_ms();
	if (ck->path == NULL)
		fatal("ckpt: out of memory");
	if (sqlite3_open_v2(path, &ck->db,
		SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
		NULL) != SQLITE_OK ||
	    s_pragma_int(ck->db, "PRAGMA page_size", &ck->page_size) != 0 ||
	    sqlite3_exec(ck->db, "PRAGMA synchronous = FULL", NULL, NULL,
		NULL) != SQLITE_OK) {
		err_set(err, ERR_INTERNAL, "checkpointer: open %s: %s", path,
		    ck->db ? sqlite3_errmsg(ck->db) : "out of memory");
		sqlite3_close(ck->db);
		free(ck->path);
		free(ck);
		return NULL;
	}
	sqlite3_busy_timeout(ck->db, CKPT_BUSY_MS);
	/* A quarter of the bound: behind past it; the writer helps at half,
	 * leaving room for large transactions. */
	ck->soft_frames = (int)(ck->bound_bytes / 4 / (ck->page_size + 24));
	ck->wake_frames = ck->soft_frames < CKPT_WAKE_FRAMES ? ck->soft_frames
							     : CKPT_WAKE_FRAMES;
	ck->inline_frames = 2 * ck->soft_frames;
	/* After a restart under load the writer trims the file to this. */
	snprintf(pragma, sizeof pragma, "PRAGMA journal_size_limit = %lld",
	    (long long)(ck->bound_bytes / 4));
	if (sqlite3_exec(writer, pragma, NULL, NULL, NULL) != SQLITE_OK) {
		err_set(err, ERR_INTERNAL,
		    "checkpointer: %s: set journal_size_limit: %s", path,
		    sqlite3_errmsg(writer));
		sqlite3_close(ck->db);
		free(ck->path);
		free(ck);
		return NULL;
	}
	pthread_mutex_init(&ck->lock, NULL);
	{
		pthread_condattr_t attr;

		/* Waits measured on the monotonic clock: a wall clock set
		 * back or forward must not stall or hurry the rounds. */
		pthread_condattr_init(&attr);
		pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
		pthread_cond_init(&ck->cond, &attr);
		pthread_condattr_destroy(&attr);
	}
	if (pthread_create(&ck->thread, NULL, s_thread, ck) != 0) {
		err_set(err, ERR_INTERNAL,
		    "checkpointer: %s: cannot start a thread", path);
		pthread_mutex_destroy(&ck->lock);
		pthread_cond_destroy(&ck->cond);
		sqlite3_close(ck->db);
		free(ck->path);
		free(ck);
		return NULL;
	}
	/* Replaces the autocheckpoint, which would run inside our commits. */
	sqlite3_wal_hook(writer, s_hook, ck);
	return ck;
}

void
ckpt_stop(ckpt_t **self_p)
{
	ckpt_t *ck;

	if (self_p == NULL || *self_p == NULL)
		return;
	ck = *self_p;
	pthread_mutex_lock(&ck->lock);
	ck->stop = 1;
	pthread_cond_signal(&ck->cond);
	pthread_mutex_unlock(&ck->lock);
	pthread_join(ck->thread, NULL);
	/* Back to SQLite's own autocheckpoint for whatever the writer still
	 * commits. */
	sqlite3_wal_autocheckpoint(ck->writer, CKPT_WAKE_FRAMES);
	pthread_mutex_destroy(&ck->lock);
	pthread_cond_destroy(&ck->cond);
	sqlite3_close(ck->db);
	free(ck->path);
	free(ck);
	*self_p = NULL;
}

void
ckpt_health(ckpt_t *ck, const char *path, ckpt_health_t *h)
{
	char wal[4096];
	struct stat sb;
	struct statvfs vfs;

	memset(h, 0, sizeof *h);
	h->db_bytes = stat(path, &sb) == 0 ? (int64_t)sb.st_size : -1;
	snprintf(wal, sizeof wal, "%s-wal", path);
	h->wal_bytes = stat(wal, &sb) == 0 ? (int64_t)sb.st_size : 0;
	h->disk_free_bytes = statvfs(path, &vfs) == 0
	    ? (int64_t)vfs.f_bavail * (int64_t)vfs.f_frsize
	    : -1;
	h->wal_bound_bytes = (int64_t)CKPT_DEFAULT_BOUND_MB * 1024 * 1024;
	h->disk_low_bytes = (int64_t)CKPT_DEFAULT_DISK_LOW_MB * 1024 * 1024;
	h->wal_frames = -1;
	if (ck == NULL)
		return;
	pthread_mutex_lock(&ck->lock);
	h->running = 1;
	h->wal_bound_bytes = ck->bound_bytes;
	h->disk_low_bytes = ck->disk_low_bytes;
	h->rounds = ck->rounds;
	h->inline_rounds = ck->inline_rounds;
	h->frames_written = ck->frames_written;
	h->frames_copied = ck->frames_copied;
	h->page_size = ck->page_size;
	h->wal_frames = ck->wal_frames;
	h->wal_max_bytes = ck->max_frames > 0
	    ? 32 + (int64_t)ck->max_frames * (ck->page_size + 24)
	    : 0;
	h->last_ckpt_ms = ck->last_ckpt_ms;
	snprintf(h->problem, sizeof h->problem, "%s", ck->problem);
	pthread_mutex_unlock(&ck->lock);
}

int
ckpt_problems(const ckpt_health_t *h, const char *path,
    ckpt_problem_t out[CKPT_PROBLEMS_MAX])
{
	int i, n = 0;

	if (h->problem[0] != '\0') {
		out[n].kind = "checkpoint";
		snprintf(out[n].msg, sizeof out[n].msg, "%s", h->problem);
		n++;
	}
	if (h->wal_bytes > h->wal_bound_bytes) {
		out[n].kind = "wal_over_bound";
		snprintf(out[n].msg, sizeof out[n].msg,
		    "WAL of %s is %lld MB, over its %lld MB bound", path,
		    (long long)(h->wal_bytes / (1024 * 1024)),
		    (long long)(h->wal_bound_bytes / (1024 * 1024)));
		n++;
	}
	if (h->disk_free_bytes >= 0 && h->disk_free_bytes < h->disk_low_bytes) {
		out[n].kind = "disk_low";
		snprintf(out[n].msg, sizeof out[n].msg,
		    "disk of %s: %lld MB free, below %lld MB", path,
		    (long long)(h->disk_free_bytes / (1024 * 1024)),
		    (long long)(h->disk_low_bytes / (1024 * 1024)));
		n++;
	}
	/* A path need not be UTF-8, and a long one may have been cut
	 * mid-character: JSON, PING and the logs want clean text. */
	for (i = 0; i < n; i++)
		text_clean(out[i].msg);
	return n;
}

json_t *
ckpt_health_json(const ckpt_health_t *h, const char *path)
{
	ckpt_problem_t p[CKPT_PROBLEMS_MAX];
	json_t *warnings = json_array();
	int i, n = ckpt_problems(h, path, p);

	for (i = 0; i < n; i++)
		json_array_append_new(warnings, json_string(p[i].msg));
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:s, s:I, s:I, s:I, s:I, "
			 "s:I, s:I, s:I, s:I, s:o}",
	    "db_bytes", (json_int_t)h->db_bytes, "wal_bytes",
	    (json_int_t)h->wal_bytes, "wal_bound_bytes",
	    (json_int_t)h->wal_bound_bytes, "free_bytes",
	    (json_int_t)h->disk_free_bytes, "low_bytes",
	    (json_int_t)h->disk_low_bytes, "checkpointer",
	    h->running ? "background" : "inline", "checkpoints",
	    (json_int_t)h->rounds, "checkpoints_by_writer",
	    (json_int_t)h->inline_rounds, "frames_written",
	    (json_int_t)h->frames_written, "frames_copied",
	    (json_int_t)h->frames_copied, "page_size", (json_int_t)h->page_size,
	    "wal_frames", (json_int_t)h->wal_frames, "wal_max_bytes",
	    (json_int_t)h->wal_max_bytes, "last_checkpoint_ms",
	    (json_int_t)h->last_ckpt_ms, "warnings", warnings);
}
