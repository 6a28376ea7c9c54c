/*
 * pglog: the hubs' shared op log in PostgreSQL, through libpq.
 *
 * Several bl-hub processes on several machines append the ops their sites
 * push to one table, op_log, and tail it to keep their own projections. The
 * table gives every op a gseq: one total order over all hubs, dense (1, 2,
 * 3, ... with no holes) and the position nodes and hubs resume from. A log
 * a hub on its own was migrated into keeps its lsns as gseqs, holes
 * included (pglog_import_in): readers rely on gseq order only.
 *
 *   op_log(gseq bigint primary key, origin text, seq bigint,
 *          hash bytea (32 bytes), body bytea, unique (origin, seq))
 *   op_held(origin text, seq bigint, hash, body, reason text,
 *          hseq bigint unique, primary key (origin, seq))   (below)
 *   pglog_meta(key text primary key, value bigint)   schema_version = 1
 *
 * Commit order equals gseq order. A reader tails the log with "gseq >
 * last seen, in order"; that is only sound if a row can never become
 * visible after a row with a higher gseq. PostgreSQL sequences do not give
 * this: nextval() is not transactional, so a transaction that took 41 may
 * commit after one that took 42, and a reader that saw 42 moves past 41 for
 * good (the outbox gap). pglog_append therefore takes a transaction-level
 * advisory lock (pg_advisory_xact_lock(PGLOG_APPEND_LOCK_KEY)) first, then
 * reads max(gseq) and numbers its ops from there, all inside the lock.
 * The lock is released only after the transaction's commit is visible
 * (PostgreSQL marks it committed before it releases its locks), so the
 * next appender sees those rows, numbers after them, and commits after
 * them: gseqs become visible in order, on the primary and, since commit
 * records reach the WAL in the same order, on a streaming replica too.
 * Numbering with max+1 rather than a sequence also keeps the log dense: a
 * batch that rolls back frees its numbers for the next, so a reader can
 * check that every gseq is the last one plus 1. The price is that appends
 * from all hubs are serialized, one batch at a time; batches amortize it.
 * The other way out, streaming only below the oldest transaction still in
 * flight (pg_snapshot_xmin), lets appends run in parallel but makes every
 * reader reason about snapshots and leaves holes; one lock is simpler to
 * prove, and the concurrent test in tests/unit/test_pglog.c proves it.
 *
 * Idempotent replay: a node that fails over to another hub re-pushes what
 * the dead hub may already have appended. An op whose (origin, seq) is
 * stored with the same hash is a duplicate: it gets its stored gseq back
 * and is not stored twice. One with another hash is a conflict: reported
 * for that op, never stored, and the rest of the batch goes on.
 *
 * One pglog_t is one libpq connection with its prepared statements, used
 * by one thread at a time (libpq's rule), never across fork(). Every
 * PostgreSQL failure is an err_t; a lost connection is ERR_UNAVAILABLE and
 * stays lost: the caller closes the pglog_t and opens another.
 */
#ifndef BL_HUB_PGLOG_H
#define BL_HUB_PGLOG_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define PGLOG_HASH_BYTES 32 /* an op's content hash */
#define PGLOG_SCHEMA_VERSION 1
/* The advisory lock keys, in PostgreSQL's one-bigint key space: every
 * appender takes the first, schema creation the second. Decimal without a
 * suffix: pglog.c pastes them into its SQL. */
#define PGLOG_APPEND_LOCK_KEY 7400140001
#define PGLOG_SCHEMA_LOCK_KEY 7400140002

typedef struct pglog pglog_t;

/* One op as appended or read. All pointers are borrowed. */
typedef struct {
	const char *origin; /* site id that wrote it, NUL-terminated */
	uint64_t seq;	    /* its seq at the origin, at most INT64_MAX */
	uint8_t hash[PGLOG_HASH_BYTES];
	const uint8_t *body; /* the op's CBOR as the hub stores it */
	size_t body_len;
} pglog_op_t;

/* What pglog_append did with one op of a batch. */
typedef enum {
	PGLOG_APPENDED = 1, /* stored now, with a new gseq */
	PGLOG_DUPLICATE,    /* stored before with the same hash: that gseq */
	PGLOG_CONFLICT,	    /* stored before with another hash: not stored */
} pglog_status_t;

/* A row read back: the op's pointers point into pglog_read's result and
 * are valid only during the callback. */
typedef struct {
	uint64_t gseq; /* 0 for a held op */
	pglog_op_t op;
	const char *reason; /* pglog_held's: why it is held; else NULL */
	uint64_t hseq;	    /* pglog_held's: its hold number; else 0 */
} pglog_row_t;

/* Called by pglog_read for each row, in gseq order, with arg as given.
 * Returns 0 to go on, or -1 with err filled to stop the read. */
typedef int (*pglog_row_fn)(void *arg, const pglog_row_t *row, err_t *err);

/* Connects to uri (borrowed; a libpq URI or key=value string). Returns a
 * pglog_t the caller frees with pglog_close, or NULL with err:
 * ERR_UNAVAILABLE when the server cannot be reached or refuses us
 * ("open postgresql://u@db:5432/x: connection to server at ... failed:
 * Connection refused"; a password in the URI is not repeated). Does not
 * touch the schema. */
pglog_t *pglog_open(const char *uri, err_t *err);

/* Closes the connection and frees *self_p (NULL accepted); nulls it. */
void pglog_close(pglog_t **self_p);

/* Creates op_log and pglog_meta if they do not exist, in one transaction
 * under PGLOG_SCHEMA_LOCK_KEY, so hubs initializing at once do not race.
 * 0; or -1 with err: ERR_UPGRADE when the stored schema version is not
 * PGLOG_SCHEMA_VERSION ("init schema: pglog_meta: schema version 2, this
 * build knows 1"), ERR_UNAVAILABLE on a lost connection, else
 * ERR_INTERNAL. */
int pglog_init_schema(pglog_t *p, err_t *err);

/* Appends the n ops (borrowed) in one transaction and returns only after
 * its COMMIT. For each op i, status[i] says what became of it and
 * gseqs[i] is its gseq: the new one, the stored one of a duplicate, or the
 * stored one of the op it conflicts with. Ops appended get consecutive
 * gseqs in batch order, after every gseq committed before. n == 0 does
 * nothing.
 *
 * Returns 0 once committed. Conflicts do not fail the batch: the call
 * still returns 0, and err then holds ERR_CONFLICT naming the first one
 * ("append op S001/42: conflict: hash 0102030405060708... differs from
 * 1112131415161718... at gseq 17", then " (and 2 more)" when there are
 * more); without conflicts err is cleared. Returns -1 with err when
 * nothing was committed (gseqs and status then undefined):
 * ERR_BAD_REQUEST for an op without origin or with a seq past INT64_MAX,
 * ERR_UNAVAILABLE on a lost connection (during COMMIT the outcome is then
 * unknown: re-appending the batch is safe, it comes back as duplicates),
 * else ERR_INTERNAL. */
int pglog_append(pglog_t *p, const pglog_op_t *ops, size_t n, uint64_t *gseqs,
    pglog_status_t *status, err_t *err);

/* An append in steps, for a hub that decides what to append while it
 * holds the lock (hub/pgstore.c): pglog_begin opens the transaction, takes
 * the append lock and stores the highest committed gseq in *head; then
 * pglog_append_in, any number of times, appends as pglog_append says, the
 * first op appended taking *head + 1; pglog_commit commits, or
 * pglog_abort rolls back (nothing happened; it accepts a pglog_t with no
 * transaction open). Other hubs' appends wait meanwhile: keep it short.
 * Each returns 0, or -1 with err as pglog_append says, the transaction
 * then rolled back. */
int pglog_begin(pglog_t *p, uint64_t *head, err_t *err);
int pglog_append_in(pglog_t *p, const pglog_op_t *ops, size_t n,
    uint64_t *gseqs, pglog_status_t *status, err_t *err);
int pglog_commit(pglog_t *p, err_t *err);
void pglog_abort(pglog_t *p);

/* Inside pglog_begin ... pglog_commit, for bl-hub migrate: stores the n
 * rows (borrowed) each at the gseq it carries, in the order given; a hub
 * that becomes the log's first keeps its lsns as gseqs, so its nodes'
 * cursors stay valid. A gseq skipped stays a hole: readers need gseq
 * order only, and later appends number from the highest + 1. 0; or -1
 * with err, the transaction then rolled back: ERR_CONFLICT for a gseq
 * not above the highest one stored or imported ("import op S001/4: gseq
 * 17 is not above 17") or an (origin, seq) stored already ("import op
 * S001/4 at gseq 17: op_log holds S001/4"), ERR_BAD_REQUEST as
 * pglog_append says, else as pglog_append_in. */
int pglog_import_in(pglog_t *p, const pglog_row_t *rows, size_t n, err_t *err);

/*
 * Held ops: an op a hub acknowledged to its site but holds back from the
 * log (its stamp ahead of that hub's clock, its order not held yet, a rule
 * refused it) is kept in op_held(origin, seq, hash, body, reason), outside
 * the order, so that every hub knows it and any of them can take it in
 * once it passes: appending it (pglog_append_in) takes it out of op_held
 * in the same transaction.
 */

/* Inside pglog_begin ... pglog_commit: keeps op (borrowed) as held, with
 * reason; nothing when op_held has its (origin, seq) already. 0, or -1
 * with err, the transaction then rolled back. */
int pglog_hold_in(pglog_t *p, const pglog_op_t *op, const char *reason,
    err_t *err);

/* Held ops read per round trip by pglog_held. */
#define PGLOG_HELD_BATCH 1000

/* Calls fn(arg, row, err) for every held op whose hold number (hseq)
 * is after `after`, in hseq order, row.gseq 0 and row.hseq and
 * row.reason set; *last gets the highest hseq read (after when none),
 * *n_read (may be NULL) how many. Each hold takes the next hseq under the
 * append lock, so "after the last one read" is exact, as a tail by gseq
 * is; a hold appended since has left op_held. 0, or -1 with err (from
 * fn, or as pglog_read says), *last then the last row fn took. */
int pglog_held(pglog_t *p, uint64_t after, pglog_row_fn fn, void *arg,
    uint64_t *last, size_t *n_read, err_t *err);

/* Calls fn(arg, row, err) for the rows with gseq > after, in gseq order,
 * at most limit of them (limit > 0), and stores how many it called fn for
 * in *n_read (may be NULL). 0; or -1 with err from fn, or from PostgreSQL
 * as pglog_init_schema says, or ERR_INTERNAL for a row that is not what
 * pglog_append stores. */
int pglog_read(pglog_t *p, uint64_t after, size_t limit, pglog_row_fn fn,
    void *arg, size_t *n_read, err_t *err);

/* Stores the highest committed gseq (0 for an empty log) in *gseq. Every
 * gseq up to it is visible to reads after this call. 0, or -1 with err. */
int pglog_head(pglog_t *p, uint64_t *gseq, err_t *err);

/* TEST ONLY: with on != 0, p's later appends skip the advisory lock and
 * take their gseqs the way a sequence hands them out (reserved in a
 * statement of their own, committed before the batch's transaction, which
 * is what nextval does), so gseqs may become visible out of order. It
 * exists so that tests/unit/test_pglog.c can show its reader check catches
 * the outbox gap. Never mix it with ordered appenders on one log. */
void pglog_set_unordered(pglog_t *p, int on);

#endif
