/*
 * store: one replica's SQLite database and its op log.
 *
 * A store owns one sqlite3 handle and its prepared statements. It opens the
 * database in WAL mode with synchronous=FULL and a busy timeout, applies the
 * embedded migrations, and keeps the replica's identity, clock and counters
 * in the meta table.
 *
 * Writes happen inside store_begin/store_commit (BEGIN IMMEDIATE, so the CLI
 * and a daemon can share the file). Within one transaction a caller may
 * append several local ops (a sale and its stock movements) and ingest
 * remote ops; the clock and the next seq are read at begin and written back
 * at commit, in the same transaction as the ops that used them, so neither
 * ever goes back, even across a crash.
 */
#ifndef BL_STORE_H
#define BL_STORE_H

#include <jansson.h>
#include <sqlite3.h>
#include <stdint.h>

#include "ckpt.h"
#include "err.h"
#include "hlc.h"
#include "op.h"
#include "schema.h"

typedef struct store store_t;

typedef enum {
	STORE_NODE,
	STORE_HUB,
} store_side_t;

/*
 * The merge rules a store applies: the domain's, passed in, so that this
 * core knows no business entity. A rule is called inside the store's
 * transaction for every op the replica accepts, local or remote, exactly
 * once per (origin, seq). It must be deterministic and order-independent:
 * the state is a function of the set of ops applied, never of their
 * arrival order, which is what makes every replica converge. It checks the
 * whole op before its first write, so a refusal (-1 with ERR_BAD_REQUEST or
 * ERR_UNPROCESSABLE naming the field) has written nothing and the store
 * quarantines a refused remote op; ERR_INTERNAL means storage failed
 * mid-way and the transaction is rolled back.
 *
 * A stamp ahead of the receiver's clock by more than its bound (hlc.h)
 * decides only last-writer-wins claims, which it would win unfairly: an op
 * of a rule marked lww is held in the quarantine until real time reaches
 * its stamp. Every other op (events, sums, max-registers, and creates,
 * whose earliest stamp wins) is applied at once, so no sale, payment or
 * movement ever waits for a clock; the receiver's own clock is not pulled
 * forward by it.
 */
typedef int (*store_apply_fn)(store_t *store, const op_t *op, err_t *err);

typedef struct {
	const char *entity;
	store_apply_fn apply;
	int hq_only; /* head-office data: the hq role writes it */
	int lww;     /* its ops claim last-writer-wins registers */
} store_rule_t;

typedef struct {
	const store_rule_t *rule;
	size_t n;
} store_rules_t;

/* Opens (creating if create) the database at path and migrates it; rules
 * (borrowed, outliving the store) are what it applies. Returns the store,
 * owned by the caller (store_close), or NULL with err set. */
store_t *store_open(const char *path, store_side_t side, int create,
    const store_rules_t *rules, err_t *err);

/* Whether a site of role ("store", "warehouse", "hq") may write entity
 * under the store's rules: head-office data has the hq role as its single
 * writer. An entity without a rule is refused when applied. */
int store_may_write(const store_t *store, const char *role, const char *entity);

/* Closes the database and frees the store; accepts NULL, nulls *self_p. */
void store_close(store_t **self_p);

/* For daemons: keeps the WAL under bound_mb (0: the default) from a
 * background thread (ckpt.h) instead of inside whichever commit crosses the
 * autocheckpoint size; disk_low_mb: free disk below it is reported (0: the
 * default). store_close stops it. -1 with err when it cannot start (SQLite's
 * autocheckpoint then stays). */
int store_checkpoint_in_background(store_t *store, int bound_mb,
    int disk_low_mb, err_t *err);

/* The database's and WAL's sizes, free disk and the checkpointer's
 * progress (ckpt.h). */
void store_health(store_t *store, ckpt_health_t *health);

/* Borrowed handle for queries the store does not wrap. Its SQL knows
 * hlc_ms(stamp), the milliseconds of a clock stamp (hlc.h). */
sqlite3 *store_db(store_t *store);

/* Returns a cached prepared statement for sql, reset and with bindings
 * cleared. sql must be a string literal, or static (it is cached by
 * address); the cache grows with the number of distinct statements. The
 * store owns the statement. One that does not prepare (the database is not
 * what our SQL expects) is kept as a read error (store_row) and answered
 * with a statement that gives no row and writes nothing. */
sqlite3_stmt *store_stmt(store_t *store, const char *sql);

/* The version of the replicated schema, exchanged in HELLO: the highest
 * migration number both sides apply. */
int store_schema_version(void);

/* The database file's path. Borrowed. */
const char *store_path(store_t *store);

/* This replica's site id, as recorded at init ("" before). Borrowed. */
const char *store_site(store_t *store);

/* Whether this replica writes as head office (meta role = hq, the hub). */
int store_is_hq(store_t *store);

/* The wall clock this store reads, in ms (see store_set_wall). */
uint64_t store_wall_ms(store_t *store);

/* Sets the wall clock the store reads (tests); NULL restores the real one. */
void store_set_wall(store_t *store, uint64_t (*wall_ms)(void));

/* Called inside the transaction once op is logged and applied here: a
 * local write, or another site's op applied now (also on a retry from the
 * quarantine); never for a duplicate nor a refused op. -1 with err fails
 * the op's write, and the caller rolls back. The hub records there who may
 * receive the op (hub/visibility.c). fn NULL: none; arg is borrowed. */
typedef int (
    *store_logged_fn)(void *arg, store_t *store, const op_t *op, err_t *err);
void store_set_logged(store_t *store, store_logged_fn fn, void *arg);

/*
 * A log shared with other hubs (the hub of a cluster, hub/pgstore.c): the
 * store numbers its log as the shared one does, and what a transaction
 * logs reaches the shared log before the transaction commits.
 *
 * begin runs before each write transaction's BEGIN IMMEDIATE and stores
 * in *first_lsn the lsn its first logged op must take (0: none; the ops
 * after it follow on); commit runs inside the transaction just before
 * COMMIT with that lsn; abort runs when the transaction rolls back after
 * begin succeeded. begin and commit return 0, or -1 with err: the
 * transaction is then not begun, or rolled back. What the hooks run on
 * the store themselves (their own transactions) runs without them. arg
 * is theirs; store_close calls destroy(arg) once.
 */
typedef struct {
	int (
	    *begin)(void *arg, store_t *store, uint64_t *first_lsn, err_t *err);
	int (
	    *commit)(void *arg, store_t *store, uint64_t first_lsn, err_t *err);
	void (*abort)(void *arg, store_t *store);
	void (*destroy)(void *arg);
	void *arg;
} store_shared_t;

/* Sets the hooks (copied; the store owns arg from now on, above). */
void store_set_shared(store_t *store, const store_shared_t *shared);

/* The hooks set, NULL when none. Borrowed from store. */
const store_shared_t *store_shared(const store_t *store);

/* Inside a transaction: the next op logged takes lsn at least (0: the
 * next after the last, as always). For a hub that copies the shared log
 * into its own, position for position. */
void store_set_lsn_floor(store_t *store, uint64_t lsn);

/* Transactions. begin is BEGIN IMMEDIATE and loads the clock and seq; commit
 * persists them and commits; rollback discards everything since begin. */
int store_begin(store_t *store, err_t *err);
int store_commit(store_t *store, err_t *err);
void store_rollback(store_t *store);

/* A restored or copied node (store_open finds its database file bound
 * elsewhere than it was) gives new ids a random tag of this many hex
 * digits ("S001-1A2B3C4D-000101") until store_confirmed. */
#define STORE_TAG_MAX 8

/* A node's incarnation: which copy of its data folder this is, hex digits
 * made at the first binding and made anew when the database is found
 * bound elsewhere (restored or copied). The hub allows one live session
 * per site and refuses a second incarnation while one lives (proto.h).
 * "" at the hub. Borrowed. */
#define STORE_INCARNATION_LEN 16
const char *store_incarnation(const store_t *store);

/* Holds every local write: store_append_local then fails with
 * ERR_UNAVAILABLE and reason (copied, "operation: object: cause"), until
 * a hold with "" lifts it. A restored hub holds its writes so as not to
 * reuse a seq of its own (hub/recover.c). */
void store_hold_writes(store_t *store, const char *reason);

/* The hub has told this node what it holds of the node's own ops, and the
 * node's seq counter is past it: ids no longer need a tag. Inside a
 * transaction. */
int store_confirmed(store_t *store, err_t *err);

/* Named values in meta. get_* return 0 with the value, or dflt when the
 * name is absent, in the output; or -1 with err on a storage error. */
int store_meta_get_int(store_t *store, const char *name, int64_t dflt,
    int64_t *out, err_t *err);
int store_meta_get_text(store_t *store, const char *name, const char *dflt,
    char *buf, size_t size, err_t *err);
int store_meta_set_int(store_t *store, const char *name, int64_t value,
    err_t *err);
int store_meta_set_text(store_t *store, const char *name, const char *value,
    err_t *err);

/* Runs fn inside one transaction: commits when it returns 0, rolls back
 * (and returns -1 with its err) when it fails. Inside a transaction
 * already open (a group commit's, group.h) it runs fn in a savepoint of
 * it instead: a failure undoes what fn did and nothing else, and what it
 * did is committed with the transaction. Should the failure have cost the
 * whole transaction (store_rollback_to), the store is left out of any. */
int store_txn(store_t *store, int (*fn)(store_t *, void *, err_t *), void *arg,
    err_t *err);

/*
 * Savepoints: a part of the open transaction that can fail alone. A mark
 * (the caller's, on its stack) records where the transaction is, in the
 * database (SAVEPOINT) and in the store's memory: the next seq, which the
 * next op and id take, and the clock. Marks nest and are ended innermost
 * first, each once: by store_release, which keeps what was done since, or
 * by store_rollback_to, which undoes it there and in memory, so that the
 * next op takes the seq and the id a failed one would have taken and the
 * log stays gapless. A read that failed since the mark (store_row) makes
 * store_release refuse, as store_commit does; store_rollback_to forgets
 * it, with what was decided on it.
 *
 * SQLite drops the whole transaction on some failures (a full disk, an
 * I/O error): store_rollback_to then returns -1, the store is out of any
 * transaction (as after store_rollback), and everything done since
 * store_begin is gone, not only what followed the mark.
 */
typedef struct {
	uint64_t next_seq;
	hlc_t clock;
	int dirty;
} store_mark_t;

/* Inside a transaction: sets mark. -1 with err when it cannot, or when a
 * failed read is kept (nothing more is decided on it). */
int store_savepoint(store_t *store, store_mark_t *mark, err_t *err);
/* Keeps what was done since mark: 0, or -1 with err (a read failed since,
 * SQLite refused, or the transaction is gone), the mark then still to end
 * with store_rollback_to. */
int store_release(store_t *store, store_mark_t *mark, err_t *err);
/* Undoes what was done since mark: 0, or -1 when the whole transaction is
 * gone (see above), also when an inner part found it gone already. */
int store_rollback_to(store_t *store, const store_mark_t *mark);

/*
 * Writes held back while many ops are applied in one transaction (a node
 * applying the batches it pulled from the hub): a rule whose ops add to a
 * few rows (stock on hand, stock.c) sums in memory what each op adds and
 * writes the sums once. The state is the one each op writing its own
 * gives: what is held is written before an op of another rule is applied,
 * before a savepoint is set and before the transaction commits, and
 * dropped with what a rollback undoes. A rule may hold writes only in a
 * bulk (store_bulk), whose caller reads nothing such a rule writes between
 * the ops it ingests.
 */

/* Inside a transaction: writes may be held back until it ends. */
void store_bulk_begin(store_t *store);
/* Whether they may now: in a bulk, by the rule of an op applied by
 * itself, not of one another rule's apply records on its way. */
int store_bulk(const store_t *store);

/* Writes (write 1) or drops (write 0) what arg holds, and frees arg: 0,
 * or -1 with err when writing failed (the transaction is then to roll
 * back). */
typedef int (*store_held_fn)(void *arg, store_t *store, int write, err_t *err);

/* Inside a rule's apply in a bulk: the arg fn holds, or NULL when fn holds
 * nothing. */
void *store_held(store_t *store, store_held_fn fn);
/* Inside a rule's apply in a bulk, nothing being held: fn holds arg (the
 * store owns it until it calls fn) for the rule applying. */
void store_hold(store_t *store, store_held_fn fn, void *arg);
/* Writes what is held now (a rule's step that reads what it holds): 0, or
 * -1 with err (then roll back). */
int store_flush_held(store_t *store, err_t *err);

/* Inside a transaction: a new record id, "SITE-NNNNNN" from the seq of the
 * next local op: unique across sites and readable on a receipt. */
void store_new_id(store_t *store, char *buf, size_t size);

/* Inside a transaction: the seq the next local op will get. */
uint64_t store_next_seq(const store_t *store);

/* Inside a transaction: creates an op of this site (next seq, clock tick),
 * logs and applies it. fields is borrowed. On failure nothing of this op is
 * kept, err says why, and the caller should roll back. If out is non-NULL it
 * receives a copy of the op (caller clears it). */
int store_append_local(store_t *store, const char *entity, const char *key,
    const char *kind, json_t *fields, op_t *out, err_t *err);

/* Result of ingesting one remote op. */
typedef enum {
	INGEST_APPLIED,	    /* new, logged and applied */
	INGEST_DUPLICATE,   /* already logged or quarantined: nothing done */
	INGEST_QUARANTINED, /* new but refused; kept with the reason */
	INGEST_CONFLICT,    /* another op holds its (origin, seq): refused,
			       kept in op_conflicts with the reason */
} ingest_result_t;
#define INGEST_RESULTS (INGEST_CONFLICT + 1)

/* Inside a transaction: takes an op received from elsewhere, with its exact
 * encoded bytes. An op's identity is (origin, seq, content): the same op
 * again is INGEST_DUPLICATE, also when it was quarantined or dropped by
 * retention; a different op under a held (origin, seq) is never applied,
 * kept in op_conflicts and INGEST_CONFLICT returned with the reason in err
 * (ERR_CONFLICT). An op whose clock is too far ahead or that the merge
 * rules refuse is quarantined with reason in err and INGEST_QUARANTINED
 * returned. -1 only on a storage failure. */
int store_ingest(store_t *store, const op_t *op, const uint8_t *body,
    size_t len, ingest_result_t *result, err_t *err);

/* Inside a transaction: keeps an op refused as a conflict (a different op
 * holds its origin and seq) with its reason; idempotent by (origin, seq,
 * content). Callers that refuse a whole batch record it this way in a
 * transaction of its own. */
int store_conflict(store_t *store, const op_t *op, const uint8_t *body,
    size_t len, const char *reason, err_t *err);

/* Inside a transaction: takes what the quarantine holds under op's
 * (origin, seq) out, for op (body, len) to be ingested instead: at a hub
 * of a cluster, the shared log's op is every hub's decision (hub/
 * pgstore.h). A held op other than op is kept as a conflict ("the shared
 * log holds another op under this seq"). *removed (may be NULL): whether
 * there was one. 0, or -1 with err. */
int store_unquarantine(store_t *store, const op_t *op, const uint8_t *body,
    size_t len, int *removed, err_t *err);

/* Inside a transaction: keeps a refused op with its reason, unapplied; it
 * still counts as received. Idempotent by (origin, seq). */
int store_quarantine(store_t *store, const op_t *op, const uint8_t *body,
    size_t len, const char *reason, err_t *err);

/* Who may receive an op (the hub decides; NULL fields: no restriction). */
typedef struct {
	const char *site;   /* a site that sees it (creator, ...) */
	const char *site2;  /* another (the fulfilling site, ...) */
	const char *region; /* every site of this region; "*": all */
} op_vis_t;

/* Where an op comes from, as the hub knows it from the session. */
typedef struct {
	const char *role;    /* the sender's role, checked against the rule
				table's writers (store_may_write) */
	const op_vis_t *vis; /* who may receive it (NULL: everyone) */
	int admitted;	     /* another hub's clock admitted it into the
				shared log: not refused for its stamp here */
} ingest_from_t;

/* store_ingest at the hub: after the identity checks, an op whose sender's
 * role may not write its entity is quarantined ("apply op O/S: a ROLE may
 * not write ENTITY (head office data)"), and who may receive it is
 * recorded. Nodes keep no such columns. */
int store_ingest_from(store_t *store, const op_t *op, const uint8_t *body,
    size_t len, const ingest_from_t *from, ingest_result_t *result, err_t *err);

/* The chain value (chain.h) of origin's log up to seq as held here (the
 * hub keeps every site's, a node its own), 32 bytes into out; seq 0 gives
 * chain(0). -1 with err when it is not held. */
int store_chain_at(store_t *store, const char *origin, uint64_t seq,
    uint8_t out[32], err_t *err);

/* A range digest of origin's log (proto.h, DIGEST): how many of its ops
 * with seq in [lo, hi] the log holds, into *count, and its chain at hi as
 * lower-case hex into chain_hex (65 bytes), "" when hi is not held. An
 * index count and a lookup. 0, or -1 with err. */
int store_digest(store_t *store, const char *origin, uint64_t lo, uint64_t hi,
    uint64_t *count, char chain_hex[65], err_t *err);

/* Highest seq of origin this replica holds (logged or quarantined). */
int store_origin_max_seq(store_t *store, const char *origin, uint64_t *out,
    err_t *err);

/* Number of quarantined ops. */
int64_t store_quarantine_count(store_t *store);

/* Fills from for op, quarantined and now retried, as its first ingest had
 * it (the hub: the origin's role and who may receive it). */
typedef void (*store_from_fn)(void *arg, store_t *store, const op_t *op,
    ingest_from_t *from);

/* Retries quarantined ops in one transaction of its own: those of origin
 * (NULL: any) and seq (0: any); with due_only, only those refused for a
 * clock ahead whose stamp is within the bound now. Each is taken out and
 * ingested again (from_of, may be NULL, says where it came from): *applied
 * counts those applied now, *kept those quarantined again with their
 * reason. At most STORE_RETRY_MAX a call. -1 with err on a storage error,
 * nothing changed. */
#define STORE_RETRY_MAX 1000
int store_quarantine_retry(store_t *store, const char *origin, uint64_t seq,
    int due_only, store_from_fn from_of, void *arg, int *applied, int *kept,
    err_t *err);

/*
 * The hub's inbox (schema/hub/0039). The hub acknowledges a PUSH once its
 * ops are received, committed in the inbox, and applies them in bulk
 * afterwards (hub/server.c). A received op is held as much as a logged
 * one: its (origin, seq) is taken (store_origin_max_seq, store_digest),
 * its chain counts (store_chain_at), the same op again is a duplicate and
 * another op under its seq a conflict. Applied, it is logged in op_log or
 * quarantined exactly as store_ingest_from would have at once; until then
 * the log, which the hub streams from, does not show it.
 */

/* Inside a transaction, at the hub: takes op (its exact bytes body, len)
 * from a site of role (the session's; borrowed). fresh: the caller knows
 * nothing is held under its (origin, seq), whose seq is above
 * store_origin_max_seq's, and nothing is looked up. *result:
 * INGEST_APPLIED when it is new and kept for the inbox, to be applied by
 * store_apply_received; INGEST_DUPLICATE; or INGEST_CONFLICT (kept in
 * op_conflicts, the reason in err), as store_ingest says. -1 only on a
 * storage failure. The new ops of a batch, which follow on from each
 * other, are kept in memory and written as one row by store_receive_end
 * (what needs them reads them there, and store_commit writes what is
 * left): one write a batch, not one an op. */
int store_receive(store_t *store, const op_t *op, const uint8_t *body,
    size_t len, const char *role, int fresh, ingest_result_t *result,
    err_t *err);

/* Writes the ops store_receive kept, if any, as one row of the inbox: 0,
 * or -1 with err (then roll back). */
int store_receive_end(store_t *store, err_t *err);

/* Decides, at the hub, once op is applied and before it is logged, which
 * order family it belongs to: the family's root order into root
 * (OP_KEY_MAX + 1 bytes, "" for none), keeping who may see the family in
 * the same transaction (hub/visibility.c). -1 with err fails the op's
 * write. */
typedef int (*store_family_fn)(void *arg, store_t *store, const op_t *op,
    char *root, err_t *err);

/* What the hub tells store_apply_received of each op: who may receive it
 * and, once applied, its family. from_of's role is replaced by the one
 * the op was received with. Either may be NULL; arg is both's. */
typedef struct {
	store_from_fn from_of;
	store_family_fn family;
	void *arg;
} store_hub_t;

/* Inside a transaction, at the hub: applies the first rows of the inbox,
 * in the order received, whole, until max ops or more are, or the rows'
 * bytes reach max_bytes (0: no such bound), each op logged
 * or quarantined (logged at warn with its reason) as store_ingest_from
 * would have (one that no longer decodes as the op received under its
 * seq is quarantined so), and takes them out of the inbox. *done: how many,
 * *quarantined: of them refused. Each row is applied in a savepoint: one
 * that fails (damaged, or a rule failing on it) is undone alone and ends
 * the slice, what came before kept; the third time in a row it fails,
 * each of its ops is quarantined with the reason ("apply op O/S: its inbox
 * row failed 3 times: ...") and the rows behind it go on. -1 with err when
 * the first row failed, or on a storage failure (roll back: nothing is
 * lost, the inbox still holds them). */
int store_apply_received(store_t *store, size_t max, size_t max_bytes,
    const store_hub_t *hub, size_t *done, size_t *quarantined, err_t *err);

/* Ops refused as conflicts (store_conflict). */
int64_t store_conflict_count(store_t *store);

/* Steps a write statement to completion and resets it: 0, or -1 with
 * ERR_INTERNAL "what: sqlite message". (A row is fine: UPSERT ... RETURNING.) */
int store_step(store_t *store, sqlite3_stmt *stmt, const char *what,
    err_t *err);

/*
 * Reads. A read that fails must never pass for "no row": store_row steps a
 * read and answers 1 with a row, 0 when done, and also 0 on a storage
 * error, which it keeps on the store (the first one, with its message),
 * as SQLite keeps its error on the handle. store_commit then refuses to
 * commit what was decided on a failed read, and the API answers 500 with
 * it. store_begin and store_read_clear forget it.
 */
int store_row(store_t *store, sqlite3_stmt *stmt);

/* The kept read error: -1 with it in err (ERR_INTERNAL), or 0. */
int store_read_error(store_t *store, err_t *err);
void store_read_clear(store_t *store);

/* Runs a cached statement's first column as an integer, dflt when there
 * is no row (or a failed read, kept as store_row keeps it). */
int64_t store_query_int(store_t *store, sqlite3_stmt *stmt, int64_t dflt);

/* Runs a cached statement's first column as an integer into *out (dflt
 * when there is no row or it is NULL); -1 with err on a storage error. */
int store_query_int64(store_t *store, sqlite3_stmt *stmt, int64_t dflt,
    int64_t *out, err_t *err);

/* Retention at a node: in one transaction of its own, looks at the next
 * stretch of the log after *after_lsn and drops other sites' ops stamped
 * before before_hlc, keeping the state they produced and their identity
 * (origin, seq and content hash, in op_seen) so a copy that comes again is
 * still a duplicate, and a different op under its seq a conflict.
 * Own ops are never touched: the hub's recovery of a restored site, and the
 * audit of this site's own chain, depend on them. Returns 1 and moves
 * *after_lsn on (*dropped: ops dropped), 0 when the whole log has been
 * looked at, -1 with err. Call it repeatedly from 0 for a full pass;
 * each call is short, so a daemon interleaves it with its tills. */
int store_retain(store_t *store, uint64_t before_hlc, uint64_t *after_lsn,
    int64_t *dropped, err_t *err);

#endif
