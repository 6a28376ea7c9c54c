/*
 * ckpt: keeps a replica's write-ahead log bounded, and says so.
 *
 * SQLite appends every commit to DIR/x.db-wal; only a checkpoint copies the
 * frames back into the database file, and only a write that finds the whole
 * WAL copied (and no reader in it) starts the WAL over from its beginning.
 * A daemon hands this to a thread with its own connection, so a till's
 * commit does not wait for checkpoint I/O:
 *
 *   - the writer's WAL hook wakes the thread once CKPT_WAKE_FRAMES have
 *     gathered; the thread also looks once a second. Its rounds are
 *     PASSIVE: they never block the writer;
 *   - a writer that commits back to back can outrun PASSIVE for ever (the
 *     WAL starts over only at a commit that finds it all copied), so past
 *     half the bound the writer's own hook checkpoints after its commit,
 *     as SQLite's autocheckpoint would: then no one else writes, the copy
 *     completes, and the next commit starts the WAL over. Only that commit
 *     pays the copy, and the health counts such rounds. At three quarters
 *     the writer waits (FULL) for a round of the thread's to end rather
 *     than pass the bound, unless a reader is known to be in the way;
 *   - an idle WAL (no commit for a few seconds) is folded back with
 *     TRUNCATE, returning its disk space; journal_size_limit trims the
 *     file after a restart under load.
 *
 * Invariants owned here: every checkpoint's result and frame counts are
 * read; a WAL that stays over a quarter of its bound with frames left to
 * copy for CKPT_STALL_MS (a reader holding an old snapshot, an I/O error)
 * is logged with its reason and reported by ckpt_health until it recovers;
 * without such a report the WAL file stays under the bound.
 */
#ifndef BL_CKPT_H
#define BL_CKPT_H

#include <jansson.h>
#include <sqlite3.h>
#include <stdint.h>

#include "err.h"

#define CKPT_WAKE_FRAMES 1000	      /* SQLite's own autocheckpoint */
#define CKPT_DEFAULT_BOUND_MB 64      /* documented WAL bound */
#define CKPT_DEFAULT_DISK_LOW_MB 1024 /* free disk below: alert */
#define CKPT_BUSY_MS 100	      /* longest TRUNCATE waits */

typedef struct ckpt ckpt_t;

/* What a replica's files use and how its checkpoints fare. */
typedef struct {
	int64_t db_bytes;	 /* the database file; -1 unknown */
	int64_t wal_bytes;	 /* its -wal file; 0 when absent */
	int64_t disk_free_bytes; /* free to us on its file system; -1 */
	int64_t wal_bound_bytes; /* the documented bound */
	int64_t disk_low_bytes;	 /* free disk below this is a problem */
	int running;		 /* a background checkpointer runs */
	uint64_t rounds;	 /* checkpoint rounds that did work */
	uint64_t inline_rounds;	 /* of which the writer ran (overload) */
	uint64_t frames_written; /* WAL frames the writer appended */
	uint64_t frames_copied;	 /* of those, checkpointed (an estimate:
	                              a page written by several commits is
	                              copied once) */
	int page_size;
	int64_t wal_frames;	   /* frames in the WAL at the last look */
	int64_t wal_max_bytes;	   /* the most the WAL has held since start */
	int64_t last_ckpt_ms;	   /* wall ms of the last round with work */
	char problem[ERR_MSG_MAX]; /* "" while all is well */
} ckpt_health_t;

/* Starts the checkpointer of writer (the connection that commits, owned by
 * the caller and used from one thread, with busy timeout writer_busy_ms)
 * on the database at path. bound_mb
 * and disk_low_mb: 0 takes the defaults. Replaces SQLite's autocheckpoint
 * with a WAL hook on writer. Returns NULL with err when the thread or its
 * connection cannot start; the autocheckpoint then stays in place. */
ckpt_t *ckpt_start(sqlite3 *writer, int writer_busy_ms, const char *path,
    int bound_mb, int disk_low_mb, err_t *err);

/* Stops the thread, closes its connection and frees; accepts NULL and
 * nulls *self_p. The writer connection must still be open. */
void ckpt_stop(ckpt_t **self_p);

/* Fills h for the database at path: file sizes and free disk from the file
 * system, counters and problem from ck (which may be NULL: no checkpointer,
 * e.g. a one-shot command). Safe from the writer's thread. */
void ckpt_health(ckpt_t *ck, const char *path, ckpt_health_t *h);

/* A problem health shows: kind is "checkpoint" (the checkpointer's own
 * report), "wal_over_bound" or "disk_low"; msg a one-line message. */
typedef struct {
	const char *kind;
	char msg[ERR_MSG_MAX];
} ckpt_problem_t;

#define CKPT_PROBLEMS_MAX 3

/* Fills out with the problems h shows for the database at path; returns
 * how many (0 when all is well). */
int ckpt_problems(const ckpt_health_t *h, const char *path,
    ckpt_problem_t out[CKPT_PROBLEMS_MAX]);

/* The "disk" object of GET /v1/status (new reference). */
json_t *ckpt_health_json(const ckpt_health_t *h, const char *path);

#endif
