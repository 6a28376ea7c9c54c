/*
 * group: group commit of a daemon's writes, in its libevent loop.
 *
 * A store answers a till only once its write is on disk, and one fsync
 * costs what the rest of a sale costs several times over. Writes that
 * arrive together therefore share a transaction and its fsync:
 *
 *   group_add   keeps a write (its run and done functions); the first of
 *               a group schedules the group's run as a zero-timeout event,
 *               so every write already readable in this turn of the loop
 *               (those that came while the last commit was on the disk)
 *               joins the group before it runs.
 *   the run     BEGIN IMMEDIATE; each write, in the order they came, in a
 *               savepoint of its own (store.h): kept when it succeeds,
 *               rolled back and answered at once when it fails; one COMMIT
 *               (one fsync); then every write that succeeded is answered.
 *
 * Invariants:
 * - The group's transaction begins and ends inside one callback, the run:
 *   whenever the loop runs anything else, no transaction of the group is
 *   open. Nothing else on the same store (the sync session applying
 *   pulled ops or reading what to push, its timers, retention, the
 *   checkpointer's hook, the API's reads) ever sees or writes inside a
 *   group, and none of it needs to know that groups exist.
 * - A write is answered as done only after the COMMIT that holds it:
 *   durability is that of a transaction of its own.
 * - A write that fails leaves nothing, in the database or in the store's
 *   memory (the next seq and ids, the clock: store_rollback_to), and is
 *   answered at once; it never fails or delays another.
 * - A COMMIT that fails answers every write of the group with its error,
 *   and nothing of the group is recorded.
 * - When SQLite drops the whole transaction under a failing write (a full
 *   disk, an I/O error), that write is answered with its error and the
 *   writes that succeeded before it in the group, answered nothing yet,
 *   run again in a new transaction; a second such loss answers them all
 *   with the error. A write therefore runs more than once only when its
 *   first run left nothing.
 * - Writes run one after another in the order they came, each seeing those
 *   before it: the same id twice in a group is a create and its replay.
 */
#ifndef BL_GROUP_H
#define BL_GROUP_H

#include <event2/event.h>

#include "err.h"
#include "store.h"

typedef struct group group_t;

/* A write: runs inside the group's transaction, in its own savepoint.
 * 0 keeps what it wrote; -1 with err undoes it (and only it). It may run
 * again after a lost transaction (above). */
typedef int (*group_run_fn)(void *arg, store_t *store, err_t *err);

/* Called once for each write added: rc 0 when its write is committed, or
 * -1 with err (its own failure, the group's failed COMMIT, or a BEGIN that
 * failed). The caller's arg is its own again afterwards. */
typedef void (*group_done_fn)(void *arg, int rc, const err_t *err);

/* Called after a COMMIT that holds at least one write (a node pushes). */
typedef void (*group_committed_fn)(void *arg);

/* What the groups have done since group_new. */
typedef struct {
	uint64_t commits; /* groups committed */
	uint64_t writes;  /* writes committed in them */
	uint64_t failed;  /* writes answered with an error */
	uint64_t largest; /* the most writes one commit held */
} group_stats_t;

/* A group over store in base's loop; borrows both, owned by the caller
 * (group_destroy). */
group_t *group_new(struct event_base *base, store_t *store);

/* Calls fn(arg) after each COMMIT that holds a write; fn NULL: none. */
void group_set_committed(group_t *group, group_committed_fn fn, void *arg);

/* Adds a write to the next group; run and done are called later, from the
 * loop (or group_flush), never from inside group_add. arg is borrowed
 * until done is called. */
void group_add(group_t *group, group_run_fn run, group_done_fn done, void *arg);

/* Runs the writes gathered now, without waiting for the loop. */
void group_flush(group_t *group);

void group_stats(const group_t *group, group_stats_t *stats);

/* Runs what is gathered (every write is answered), then frees the group;
 * accepts NULL, nulls *self_p. */
void group_destroy(group_t **self_p);

#endif
