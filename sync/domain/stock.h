/*
 * stock: stock movements and on-hand per (site, sku).
 *
 * A movement is an immutable fact keyed by its id (grow-only set); on-hand
 * is the sum of what a site's movements of a sku count (a PN-counter),
 * maintained in the same transaction as each movement. On-hand may go
 * negative after a merge: a recorded sale is never refused at merge time.
 *
 * A site moves only its own stock, under its own ids (own.h): a
 * movement's site is its origin and its id is in its origin's namespace;
 * anything else is refused wherever it arrives. Two ops of one site
 * claiming the same movement id (a restored site recording again)
 * resolve deterministically: the op with the lower (hlc, origin, seq) is
 * the movement, the other is ignored, whatever the arrival order.
 *
 * A transfer is two movements, each written by the site it moves: the
 * sender's out leg "T-to-DEST" (reason transfer_out, ref T, to DEST),
 * which the hub also sends to DEST, and DEST's receipt "DEST-T-in"
 * (reason transfer_in, ref T, transfer "T-to-DEST"), which DEST's node
 * records in the transaction that applies the out leg; until then the
 * goods are in transit. A receipt names the out leg it receives, whose id
 * names its destination: a site can receive only what is sent to it.
 *
 * A transfer document (transfer.h) moves stock by two ordinary movements
 * instead, each recorded here by the site it moves, under its own id, in
 * the transaction of the document's op: the source's transfer_out "T-sent"
 * (ref T, no to: no node records a receipt for it) when it ships, and the
 * destination's transfer_in "DEST-T-received" (ref T, no transfer), of the
 * quantity it counted, when it receives.
 *
 * A movement an order caused (its sale, the restock of its cancellation,
 * a return against it) counts in on hand what the order's merged state
 * says, which may be less than its delta (effect.h): on hand is the sum of
 * what the movements count, and this module keeps it so.
 *
 * Op: entity "stock_movement", kind "add", fields {site, sku, delta,
 * reason, ref?, order?, to?, transfer?}; order only on a return, naming
 * the order it is against; to only on a transfer_out, transfer only on a
 * transfer_in.
 */
#ifndef BL_STOCK_H
#define BL_STOCK_H

#include <jansson.h>
#include <stdint.h>

#include "err.h"
#include "op.h"
#include "store.h"

#define STOCK_ENTITY "stock_movement"

/* Merge rule for STOCK_ENTITY ops (called by apply_op). In a bulk
 * (store.h) a movement linked to no order and no transfer is held: its
 * row is inserted with the next ones, 64 a statement, and what it adds to
 * on hand summed per (site, sku) and written once. */
int stock_apply(store_t *store, const op_t *op, err_t *err);

/* Records a movement written at this site from a request object
 * {id?, site?, sku, delta, reason, ref?}; a client's id is scoped by this
 * site (own_scope), and a site other than this one is refused (403).
 * Idempotent by id: a repeat returns the recorded movement with *created
 * = 0. On success *out is a new JSON object of the movement (caller owns).
 * Runs its own transaction. */
int stock_record(store_t *store, const json_t *request, json_t **out,
    int *created, err_t *err);

/* The same inside a transaction the caller opened (and commits or rolls
 * back), for writes that go together: an import, a sale and its movements. */
int stock_record_in(store_t *store, const json_t *request, json_t **out,
    int *created, err_t *err);

/* stock_record_in for a return against order (after-sales cases): the
 * movement names the order, and counts at most what the order sold
 * (effect.h). *out shows the order. */
int stock_return_in(store_t *store, const json_t *request, const char *order,
    json_t **out, int *created, err_t *err);

/* Inside a transaction: records movement id of this site (ref, the order
 * it is an effect of, order.c) as stock_record_in does a request {id,
 * sku, delta, reason, ref} whose id the caller knows is not recorded yet,
 * without reading it back: no answer is built. Borrows everything. 0, or
 * -1 with err (the op refused, or storage failed). */
int stock_add_in(store_t *store, const char *id, const char *sku, int64_t delta,
    const char *reason, const char *ref, err_t *err);

/* Inside a transaction: makes recorded movement id count counted in on
 * hand, moving its (site, sku) by the difference (effect_sync). 0, or -1
 * with err (ERR_INTERNAL) when storage fails or id is not recorded. */
int stock_recount(store_t *store, const char *id, int64_t counted, err_t *err);

/* POST /v1/stock/transfers {id?, sku, qty, to_site}: the out leg here; the
 * destination records its receipt when it gets it. *out is {id, sku, qty,
 * from_site, to_site, status: "in_transit", receipt (the id the
 * destination will record), movements: [the out leg]}. */
int stock_transfer(store_t *store, const json_t *request, json_t **out,
    int *created, err_t *err);

/* POST /v1/stock/counts {id?, sku, counted}: records the difference to the
 * on-hand known here as a count movement (none when it matches). */
int stock_count(store_t *store, const json_t *request, json_t **out,
    int *created, err_t *err);

/* GET /v1/stock?site=&sku=: on hand, reserved and available per site and
 * sku, and in_transit on the rows transfer documents' goods are on their
 * way to (transfer_in_transit; rec_list_fn). */
int stock_list(store_t *store, const json_t *query, json_t **out, err_t *err);

#endif
