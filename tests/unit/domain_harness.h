/*
 * domain_harness: what the domain's merge tests (tests/unit/test_domain_*.c)
 * share: histories of ops, node replicas on a fixed wall clock, the state a
 * replica shows as text, and the runner of the small per-rule histories.
 *
 * SPEC §4 promises that a replica's state is a pure function of the set of
 * ops it has seen. The tests check it by feeding one history to several
 * replicas in different orders and comparing what they show:
 *
 *   history   ops built from their fields (dh_add), encoded to canonical
 *             bytes and decoded back as a receiver sees them, each marked
 *             valid (every replica applies it) or not (every replica
 *             quarantines it);
 *   replica   a node store whose own site is no origin of the history, on
 *             the fixed wall clock DH_WALL0 (the ops' clocks are behind
 *             it), so that the one local column, quarantine.at, the
 *             clock-ahead reason and the alerts, asked for at that time,
 *             are the same everywhere;
 *   snapshot  every replicated table, ordered by its primary key, and every
 *             API view (stock, customers, orders one by one, alerts,
 *             payments, invoices, cases, catalog) as text; two snapshots
 *             must be byte-identical, and a difference is reported as the
 *             part that differs, its first differing line and the seed;
 *   rule run  a hand-picked history ingested in three orders (in order,
 *             reversed, shuffled) and twice: the same state every time.
 *
 * Randomness (the shuffled order, the generators of the tests) comes from
 * harness_rand(): the seed is printed on failure and BL_SEED replays it.
 * Setup failures that leave no test to run (encoding an op, memory) abort;
 * everything else is a recorded check failure.
 */
#ifndef BL_TEST_DOMAIN_HARNESS_H
#define BL_TEST_DOMAIN_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "op.h"
#include "store.h"

/* The replicas' wall clock, in ms. */
#define DH_WALL0 UINT64_C(1700000000000)
#define DH_HOUR_MS UINT64_C(3600000)

/* ---- text ---- */

/* A growable NUL-terminated string; { NULL, 0, 0 } is the empty one. */
typedef struct {
	char *p;
	size_t len;
	size_t cap;
} dh_text_t;

/* Appends printf-style text to t. */
void dh_text_add(dh_text_t *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Returns the text (caller frees), never NULL, and empties t. */
char *dh_text_take(dh_text_t *t);

/* Appends v as sorted, compact JSON and a newline ("null" for NULL); takes
 * v. */
void dh_text_json(dh_text_t *t, json_t *v);

/* ---- histories ---- */

/* One op as every replica receives it: decoded from its canonical bytes. */
typedef struct {
	op_t op;
	uint8_t *body;
	size_t len;
	int valid; /* every replica must apply it (else quarantine) */
} dh_op_t;

/* The ops of a history; { 0 } is the empty one, freed by
 * dh_history_free. */
typedef struct {
	dh_op_t *ops;
	size_t n;
	size_t cap;
	size_t n_valid;
	size_t n_invalid;
} dh_history_t;

/* Encodes an op built from the arguments, decodes its bytes back into h (as
 * a receiver would see it) and returns it, owned by h and valid until the
 * next dh_add. fields is taken. */
dh_op_t *dh_add(dh_history_t *h, const char *origin, uint64_t seq, uint64_t hlc,
    const char *entity, const char *key, const char *kind, json_t *fields,
    int valid);

/* Frees the ops of h and empties it. */
void dh_history_free(dh_history_t *h);

/* A clock value minute minutes after the start of the small histories (an
 * hour before DH_WALL0), with the given logical counter. */
uint64_t dh_at(uint64_t minute, uint32_t counter);

/* The fields of an order create: site's order of one line, qty x sku at
 * price, of channel ("store", "online", "b2b"), fulfilled at site, created
 * in status. Caller owns (dh_add takes it). */
json_t *dh_order_fields(const char *site, const char *channel,
    const char *status, const char *sku, int64_t qty, int64_t price);

/* The fields of a stock movement at site; ref and order (a return against
 * it) may be NULL. Caller owns (dh_add takes it). */
json_t *dh_move_fields(const char *site, const char *sku, int64_t delta,
    const char *reason, const char *ref, const char *order);

/* ---- replicas ---- */

/* Opens a new node replica dir/name.db whose own site is name, on the fixed
 * wall clock (caller closes with store_close). Returns NULL after recording
 * a failure. */
store_t *dh_open(const char *dir, const char *name);

/* Ingests the ops idx[0..n) of h into st in that order, a few hundred per
 * transaction, adding to counts[INGEST_*]; after each, as the daemons do,
 * retries the ops that waited for an order now held (own_retry_arrived:
 * one applied then moves from QUARANTINED to APPLIED) and runs the check
 * of dh_check_each_merge. Returns 0, or -1 after recording a failure (the
 * failing transaction rolled back). */
int dh_ingest(store_t *st, const dh_history_t *h, const size_t *idx, size_t n,
    size_t counts[INGEST_RESULTS]);

/* How many ops, over every dh_ingest of the test so far, waited for their
 * order and, once it was held, were applied (*applied) or refused
 * (*refused). */
void dh_waited(size_t *applied, size_t *refused);

/* A check of a replica's state that must hold after every merge: once
 * set, dh_ingest runs fn(st, arg) after each transaction it commits (a
 * merge of a few hundred ops, in whatever order it was given them). NULL
 * stops it. */
typedef void (*dh_check_fn)(store_t *st, void *arg);
void dh_check_each_merge(dh_check_fn fn, void *arg);

/* Shuffles v[0..n) with harness_rand(). */
void dh_shuffle(size_t *v, size_t n);

/* ---- snapshots: the state a replica shows, as text ---- */

#define DH_N_TABLES 24 /* replicated tables in a snapshot */
#define DH_N_VIEWS 12  /* API views in a snapshot */
#define DH_N_PARTS (DH_N_TABLES + DH_N_VIEWS)

/* The parts of a replica's state, each owned by the snapshot; all NULL
 * (memset to 0) before dh_snapshot and after dh_snapshot_free. */
typedef struct {
	char *part[DH_N_PARTS];
} dh_snapshot_t;

/* Takes the snapshot of st into snap (free with dh_snapshot_free). */
void dh_snapshot(store_t *st, dh_snapshot_t *snap);

/* Frees the parts of snap; a zeroed snapshot is fine. */
void dh_snapshot_free(dh_snapshot_t *snap);

/* The text of the part called name (a table such as "stock" or a view such
 * as "alert_list"), borrowed from snap. Aborts on a name the snapshot does
 * not have. */
const char *dh_part(const dh_snapshot_t *snap, const char *name);

/* Appends the rows of sql on st to t, one line each, columns typed and
 * '|'-separated (NULL, 12, 'text', x'0a'). A failing query is recorded. */
void dh_dump_sql(store_t *st, const char *sql, dh_text_t *t);

/* The rows of sql on st as dh_dump_sql prints them (caller frees). */
char *dh_rows(store_t *st, const char *sql);

/* Checks that texts x (of an) and y (of bn) are identical; a difference
 * names what differs, its first differing line in each and the seed.
 * Returns 1 when equal. */
int dh_same_text(const char *what, const char *an, const char *x,
    const char *bn, const char *y);

/* Checks that two snapshots are identical, part by part: the first part
 * that differs is shown line against line, the others only named. Returns
 * 1 when equal. */
int dh_same(const dh_snapshot_t *a, const dh_snapshot_t *b, const char *an,
    const char *bn);

/* ---- the per-rule runner ---- */

/* Ingests h into three new replicas (in order, reversed, shuffled) and
 * twice into the first; checks that every op was applied or quarantined as
 * marked, that the second time changed nothing and that the three states
 * are equal. Returns the first replica for the caller's checks of what the
 * rule says (caller closes), or NULL after a failure. */
store_t *dh_rule_run(const dh_history_t *h);

/* v as sorted compact JSON (caller frees), or NULL for NULL; takes v. */
char *dh_dump(json_t *v);

/* The number of alerts of kind on st about subject (any subject when
 * NULL). */
int dh_alerts(store_t *st, const char *kind, const char *subject);

/* The message of the alert of kind about subject on st (caller frees), or
 * NULL when there is none. */
char *dh_alert_message(store_t *st, const char *kind, const char *subject);

/* On hand of sku at site on st, 0 when it has no position. */
int64_t dh_on_hand(store_t *st, const char *site, const char *sku);

/* The ops st quarantined, one line each by origin and seq:
 * 'ORIGIN'|SEQ|'REASON' (caller frees). */
char *dh_quarantined(store_t *st);

#endif
