/*
 * order: orders, their lines and their lifecycle.
 *
 * An order is created once, with its lines, at one site (which owns the
 * lines). Its status is a max-register over its status history, an
 * immutable set of entries: every replica shows the highest-ranked status
 * it has seen (lifecycle.h), so a cancellation concurrent with a shipment
 * resolves to shipped everywhere; GET /v1/alerts reports the conflict.
 *
 * Who writes what (own.h): the order is created under its site's own id;
 * its creator or head office confirms and cancels it, its fulfilling site
 * allocates, picks and ships it, any of the three records it delivered or
 * completed. A move by anyone else is refused wherever it arrives.
 *
 * Linked effects are written in the same transaction as their cause, as
 * ops of their own, by the order's fulfilling site, whose goods they are:
 * its sale movements when the goods leave (a store sale confirmed, any
 * other order shipped), their restock when it is cancelled after they had
 * left; in the command that makes the move there, or, when another site
 * made it, in the transaction that applies that site's op at the
 * fulfilling site's node.
 * What those movements count in on hand follows the order's merged
 * status, not the arrival order (effect.h): a cancellation that loses to
 * a completion leaves no restock behind, one that wins over a concurrent
 * confirmation leaves no sale. Reservations are derived: an allocated or
 * picked order reserves its lines at its fulfilling site, and stops when
 * it moves on or is cancelled.
 *
 * Allocation (fulfil.h): an online or b2b order created without a
 * fulfilling site has fulfil_site "" and no stock effects; head office
 * covers its lines with fulfilment orders, children created only by head
 * office with parent set and status allocated, whose fulfilling site may
 * also cancel them (a release). Money and quantities are summed over
 * orders with no parent (reports, exposure), never twice; a payment on a
 * child counts in its parent's paid. A parent's status counts its
 * children's progress (schema/0035_order_status.sql).
 *
 * Ops: entity "order", kind "create" {site, channel, customer?, currency,
 * fulfil_site, on_account, note?, status, parent?, lines: [{sku, qty,
 * unit_price}], rights?: [{quota, sku, qty}], backorder?} (rights and
 * backorder: quota.h); kind "transition" {to, tracking?, reason?}.
 */
#ifndef BL_ORDER_H
#define BL_ORDER_H

#include <jansson.h>
#include <stdint.h>

#include "err.h"
#include "money.h"
#include "op.h"
#include "store.h"

#define ORDER_ENTITY "order"
/* The longest order id: "SITE-ORDER-back-200", a movement its fulfilling
 * site derives from it, must be an op key (OP_KEY_MAX). */
#define ORDER_ID_MAX (OP_KEY_MAX - OP_SITE_MAX - 1 - 9)
/* Status ranks (lifecycle.c, SPEC §4 with pending_approval, approval.h):
 * never written as numbers elsewhere. Schema 0027 moved the stored ranks
 * when pending_approval came in between draft and confirmed. */
#define ORDER_RANK_DRAFT 0
#define ORDER_RANK_PENDING_APPROVAL 1
#define ORDER_RANK_CONFIRMED 2
#define ORDER_RANK_ALLOCATED 3
#define ORDER_RANK_PICKED 4
#define ORDER_RANK_CANCELLED 5
#define ORDER_RANK_SHIPPED 6
#define ORDER_RANK_DELIVERED 7
#define ORDER_RANK_COMPLETED 8
/* A rank as SQL text, for queries: "rank = " ORDER_SQL(ORDER_RANK_SHIPPED). */
#define ORDER_SQL_(n) #n
#define ORDER_SQL(n) ORDER_SQL_(n)

/* What payments and invoices need to know of an order. Paid is the sum of
 * any number of payments (a merge may bring many), so it and the balance
 * are exact sums, narrowed where they are shown (money.h). */
typedef struct {
	char currency[4];
	char customer[OP_KEY_MAX + 1];
	int64_t total; /* at most MONEY_TOTAL_MAX for an order written now */
	money_sum_t paid;
	money_sum_t balance; /* total - paid */
	int rank; /* status rank as counted and shown (the order_status
		   * view, fulfil.h), -1 without history yet */
	char parent[OP_KEY_MAX + 1]; /* "" but for a fulfilment (fulfil.h) */
} order_info_t;

int order_apply(store_t *store, const op_t *op, err_t *err);

/* POST /v1/orders {id?, channel, customer?, currency, lines, fulfil_site?,
 * status?, on_account?, note?, payments?: [{method, amount, id?}],
 * parent?}. Without fulfil_site a store sale is this site's, an online or
 * b2b order unallocated (""). parent (with status allocated and a
 * fulfil_site) makes a fulfilment order, at head office only (403
 * "parent: only head office creates fulfilment orders").
 * Idempotent by id (scoped by this site, own_scope; the full id at most
 * ORDER_ID_MAX bytes). Payments given here are recorded in the same
 * transaction (a till sale: order, movements and payments at once). A line
 * or a total over the limits of money.h is refused with ERR_UNPROCESSABLE
 * ("lines[0]: qty: 2000000 exceeds the limit of 1000000 per line", "lines:
 * total 5000000000000000000 exceeds the limit of 1000000000000000 per
 * order"); so is a create op of another site, which is quarantined. */
int order_create(store_t *store, const json_t *req, json_t **out, int *created,
    err_t *err);

/* order_create's step inside the caller's transaction (hub/allocate.c:
 * all of one allocation in one transaction); same answers. */
int order_create_in(store_t *store, const json_t *req, json_t **out,
    int *created, err_t *err);

/* POST /v1/orders/{id}/transition {to, tracking?, reason?}. */
int order_transition(store_t *store, const char *id, const json_t *req,
    json_t **out, err_t *err);

/* order_transition's step inside the caller's transaction (a release,
 * fulfil.c; head office cancelling fulfilments, hub/allocate.c). */
int order_transition_in(store_t *store, const char *id, const json_t *req,
    json_t **out, err_t *err);

/* GET /v1/orders/{id}: the order with lines, total, paid, balance, status
 * and history (rec_get_fn); 422 naming the order when its paid or balance
 * does not fit in int64 (money_fit). */
int order_get(store_t *store, const char *id, json_t **out, err_t *err);

/* GET /v1/orders?status=&site=&since=&customer= (since: unix ms; 400 for
 * a status orders do not have or a since that is not a time; 422 naming an
 * order whose paid or balance does not fit in int64; rec_list_fn). */
int order_list(store_t *store, const json_t *query, json_t **out, err_t *err);

/* GET /v1/customers/{id}/orders: the customer's orders (404 for a
 * customer not known here; rec_get_fn). */
int order_of_customer(store_t *store, const char *customer, json_t **out,
    err_t *err);

/* Where order id stands in allocation (fulfil.h): 1 when it is held,
 * with whether it is a fulfilment order (it has a parent) into *child
 * and its fulfilling site ("" for none) into fulfil; 0 when it is not
 * held; -1 with err when the read failed. */
int order_placement(store_t *store, const char *id, int *child,
    char fulfil[OP_SITE_MAX + 1], err_t *err);

/* Fills info; returns 0, or -1 with ERR_NOT_FOUND naming field. */
int order_lookup(store_t *store, const char *id, const char *field,
    order_info_t *info, err_t *err);

/* The status rank from which an order of channel has its goods gone: a
 * store sale's at confirmation (the customer takes them at the till), any
 * other order's at shipment. */
int order_leave_rank(const char *channel);

/* Outstanding balance of a customer's orders on account that are not
 * cancelled, exact. A failed read counts as nothing and is kept as
 * store_row keeps it (the transaction then does not commit). */
money_sum_t order_exposure(store_t *store, const char *customer);

#endif
