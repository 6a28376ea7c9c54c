/*
 * pgstore: a hub of a cluster keeps its hub.db as a projection of the
 * shared op log in PostgreSQL (pglog.h), position for position.
 *
 * Every op of the shared log has a gseq; in each hub's hub.db it is logged
 * at lsn == gseq, so a node's cursor (an lsn) means the same op on every
 * hub and a node that moves to another hub resumes exactly. Two paths keep
 * it so, both through the store's shared-log hooks (store_set_shared):
 *
 * - Writing. Each write transaction of the hub (a group of PUSHes, an API
 *   command, the allocator, a CLI command) first takes the shared log's
 *   append lock (pglog_begin), copies what other hubs appended into
 *   hub.db (tailing, below), and then logs its ops from the log's head + 1
 *   on (store_set_lsn_floor): the merge rules decide on the state every
 *   hub has at that position. Just before hub.db's COMMIT, the ops it
 *   logged are appended to the shared log with exactly those gseqs, and
 *   PostgreSQL commits; only then does hub.db commit and the PUSH get its
 *   PUSH_ACK. Ops the hub quarantined (its clock, a rule, an order not
 *   held yet) take no gseq: they are held in the shared log outside the
 *   order (pglog_hold_in, in the same PostgreSQL transaction), so what was
 *   acknowledged survives this hub; every hub copies the held ops into
 *   its own quarantine every few seconds, and the first whose retry
 *   applies one appends it, which ends its hold.
 * - Tailing. What the other hubs appended is applied in gseq order, each
 *   op through store_ingest_from with the same merge rules, its role from
 *   the registry, its clock not checked again (the appending hub's clock
 *   admitted it), logged at lsn == gseq; meta pg_applied is the last gseq
 *   applied, in the same transaction. An op of the log that this hub
 *   quarantined itself when a site pushed it here gives way to it
 *   (store_unquarantine): the log's order is every hub's decision. An op
 *   the log holds that hub.db lacks below the head (a row lost from
 *   hub.db) goes back to its gseq when the site pushes it again.
 *
 * If hub.db's COMMIT fails after PostgreSQL's, the ops are in the shared
 * log and the next tail brings them in; the hub's own seq follows its ops
 * back (store_ingest_from reserves their seqs).
 *
 * A pgstore_t is owned by the store it is attached to (store_close frees
 * it) and uses its one libpq connection from the store's thread only. The
 * connection is opened when first needed and again after it is lost, so
 * a hub whose PostgreSQL is out of reach still serves reads; its writes
 * then fail with ERR_UNAVAILABLE.
 */
#ifndef BL_HUB_PGSTORE_H
#define BL_HUB_PGSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "cluster.h"
#include "err.h"
#include "pglog.h"
#include "store.h"

/* Ops read from the shared log per hub.db transaction when tailing. */
#define PGSTORE_TAIL_BATCH 2000

/* Attaches the shared log at uri (borrowed, copied) to st: from now on
 * st's write transactions go through it (above), and st owns it. 0, or
 * -1 with err (out of memory only: nothing is connected yet). */
int pgstore_attach(store_t *st, const char *uri, err_t *err);

/* Outside a transaction: applies what the shared log holds after meta
 * pg_applied, in transactions of PGSTORE_TAIL_BATCH ops, until it has
 * caught up with the head it read first. *applied (may be NULL) gets how
 * many ops were read. 0, or -1 with err (what was applied stays). A store
 * without a shared log does nothing. */
int pgstore_tail(store_t *st, size_t *applied, err_t *err);

/* The last gseq hub.db holds of the shared log (meta pg_applied), 0 for
 * none or a store without a shared log. */
uint64_t pgstore_applied(store_t *st);

/* In st's open transaction, whether or not a shared log is attached:
 * records that hub.db holds the shared log up to gseq (meta pg_applied),
 * for bl-hub migrate, whose hub.db becomes the log's first projection
 * (its lsns the log's gseqs). 0, or -1 with err. */
int pgstore_set_applied(store_t *st, uint64_t gseq, err_t *err);

/* Whether st has a shared log attached. */
int pgstore_attached(const store_t *st);

/* Inside an append (pglog_begin ... pglog_commit on log, borrowed): holds
 * in the shared log (pglog_hold_in) what st's quarantine holds that was
 * quarantined at since_ms or later (0: all of it). 0, or -1 with err, the
 * append then rolled back. */
int pgstore_hold_quarantined(store_t *st, pglog_t *log, uint64_t since_ms,
    err_t *err);

/* One live session per site across the cluster (cluster.h,
 * live_sessions), on the registry's connection, with this hub's site id
 * as its name. On a hub on its own: 0, nothing done. Else as
 * cluster_session_claim and cluster_sessions_seen; a lost connection is
 * reopened at the next call. */
int pgstore_session_claim(store_t *st, const char *site,
    const char *incarnation, uint64_t live_ms, char *holder, size_t holder_size,
    char *holder_hub, size_t hub_size, err_t *err);
int pgstore_sessions_seen(store_t *st, const char *const *sites, size_t n,
    cluster_taken_fn taken, void *arg, err_t *err);

/* How many held ops of other hubs the tail copied into this hub's
 * quarantine since the last call (0 on a hub on its own): the caller
 * retries them at once, as this hub's clock and rules may pass what the
 * holding hub's did not. */
size_t pgstore_held_new(store_t *st);

#endif
