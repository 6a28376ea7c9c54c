/*
 * transfer: stock moved between two sites as a document with its own id
 * and status.
 *
 * A transfer is created at its source, under the source's id (own.h), to
 * send qty of one sku to another site, its destination, fixed at the
 * create; neither is head office, which holds no stock of its own. Its
 * status is a max-register over its history, an immutable set of entries
 * (lifecycle_transfer): requested < shipped < received < reconciled.
 *
 *   create     at the source, by the source (requested).
 *   ship       by the source only: in the same transaction the source's
 *              transfer_out movement "T-sent" (-qty, ref T), recorded by
 *              stock.c's path like any movement of the source's own. The
 *              goods are in transit from then on.
 *   receive    {qty} by the destination only: in the same transaction its
 *              transfer_in movement "DEST-T-received" (+qty received, ref
 *              T). A receipt that differs from what was sent records the
 *              discrepancy (received - sent) and raises the alert
 *              transfer_discrepancy (alert.c) until head office closes it.
 *   reconcile  {note} by head office only, once received with a
 *              discrepancy: closes it.
 *
 * Who may do what is decided from immutable facts, so every replica
 * decides the same whatever the arrival order: the source is the owner of
 * the transfer's id, so a ship needs only the op; head office is told by
 * its site id; the destination is fixed at the create, and a receipt
 * arriving where the create is not held yet is quarantined "not held here
 * yet" and taken up again once it is (own_retry_arrived), exactly as an
 * order's fulfilling site's ops are (own.h).
 *
 * On hand stays the sum of movements (stock.h): each leg is one movement
 * whose id is made from the transfer's, recorded once however often its
 * op comes, so nothing is counted twice. Two receipts of one transfer (a
 * restored destination receiving again) resolve as two claims of one
 * movement id do: the earlier (hlc, origin, seq) is the receipt, for the
 * document as for the stock. What is in transit is derived: the qty of
 * every transfer whose status is shipped, shown at its destination's
 * stock row (GET /v1/stock, in_transit) and in GET /v1/transfers.
 *
 * These documents stand beside POST /v1/stock/transfers (stock.h), whose
 * destination's node records the receipt of the out leg itself, in full.
 *
 * Ops: entity "transfer", kind "create" {site, sku, qty, to_site}; kind
 * "ship" {}; kind "receive" {qty}; kind "reconcile" {note}.
 */
#ifndef BL_TRANSFER_H
#define BL_TRANSFER_H

#include <jansson.h>

#include "err.h"
#include "op.h"
#include "store.h"

#define TRANSFER_ENTITY "transfer"
/* The legs' ids are made from the transfer's: "T-sent" at the source,
 * "DEST-T-received" at the destination, which must be an op key. */
#define TRANSFER_SENT_TAG "-sent"
#define TRANSFER_RECEIVED_TAG "-received"
#define TRANSFER_ID_MAX (OP_KEY_MAX - OP_SITE_MAX - 1 - 9)
#define TRANSFER_QTY_MAX 1000000000LL

/* Status ranks (lifecycle_transfer), and as SQL text for queries. */
#define TRANSFER_RANK_REQUESTED 0
#define TRANSFER_RANK_SHIPPED 1
#define TRANSFER_RANK_RECEIVED 2
#define TRANSFER_RANK_RECONCILED 3
#define TRANSFER_SQL_(n) #n
#define TRANSFER_SQL(n) TRANSFER_SQL_(n)

/* Merge rule for TRANSFER_ENTITY ops (called by apply_op). */
int transfer_apply(store_t *store, const op_t *op, err_t *err);

/* POST /v1/transfers {id?, sku, qty, to_site}: a transfer from this site
 * (requested). Idempotent by id (scoped by this site, own_scope; the full
 * id at most TRANSFER_ID_MAX bytes). 400 for a qty out of 1 to
 * TRANSFER_QTY_MAX or a destination that is this site, 404 for a sku not
 * in the catalog, 422 at head office or to it. *out is the transfer
 * (caller owns). */
int transfer_create(store_t *store, const json_t *req, json_t **out,
    int *created, err_t *err);

/* POST /v1/transfers/{id}/ship {}: at the source, with its transfer_out
 * movement. 403 elsewhere (naming the source), 409 when it was shipped
 * already (nothing recorded). */
int transfer_ship(store_t *store, const char *id, const json_t *req,
    json_t **out, err_t *err);

/* POST /v1/transfers/{id}/receive {qty}: at the destination, with its
 * transfer_in movement of qty (1 to TRANSFER_QTY_MAX, else 400). 403
 * elsewhere (naming the destination), 409 before it is shipped or once it
 * was received. */
int transfer_receive(store_t *store, const char *id, const json_t *req,
    json_t **out, err_t *err);

/* POST /v1/transfers/{id}/reconcile {note}: at head office only (403
 * elsewhere), once received with a discrepancy (409 otherwise). */
int transfer_reconcile(store_t *store, const char *id, const json_t *req,
    json_t **out, err_t *err);

/* GET /v1/transfers/{id}: {id, sku, from_site, to_site, qty, status,
 * qty_sent, qty_received, discrepancy, in_transit, created_ms, history:
 * [{status, site, at_ms, qty?, note?}]}; qty_sent is null until shipped,
 * qty_received and discrepancy until received (rec_get_fn). */
int transfer_get(store_t *store, const char *id, json_t **out, err_t *err);

/* GET /v1/transfers?status=&sku=&site=: the transfers as transfer_get
 * shows them, without history, oldest first; site matches the source or
 * the destination (400 for a status transfers do not have; rec_list_fn). */
int transfer_list(store_t *store, const json_t *query, json_t **out,
    err_t *err);

/* For GET /v1/stock: sets "in_transit" on the rows of items (stock_list's
 * {site, sku, on_hand, reserved, available}, ordered by site and sku) of
 * each destination and sku that goods are on their way to, adding a row
 * of nothing on hand where there is none, in order; only rows of site and
 * sku when they are not NULL. 0, or -1 with err when a read failed. */
int transfer_in_transit(store_t *store, const char *site, const char *sku,
    json_t *items, err_t *err);

#endif
