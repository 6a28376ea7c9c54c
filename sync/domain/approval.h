/*
 * approval: head office's approval of special prices.
 *
 * Thresholds are head-office data (single writer, the hq role; a
 * last-writer-wins register per key, like prices), replicated to every
 * site, so a store decides offline: a default, one per customer tier, one
 * per product category, each a whole percent from 0 to 100.
 *
 * At an order's create (any site, offline too), a line priced below the
 * customer's tier price (catalog_list_price: the tier's, else retail;
 * retail without a customer) by more than the threshold that applies to
 * it (its product's category's, else the tier's, else the default; none
 * configured: no approval) makes the order need head office's approval.
 * The create op then carries approval {reason}, and the order is created
 * pending_approval where confirmed or completed was asked; a draft stays a
 * draft and asks for approval when it is confirmed (its confirmation
 * writes pending_approval instead). "More than" is exact integer
 * arithmetic: (list - price) * 100 > percent * list; a line exactly at
 * the threshold needs none.
 *
 * Head office decides, alone (approval_decide): a transition of the order
 * by head office to confirmed (approve) or cancelled (reject), carrying
 * decision and comment. The rule, in every replica (approval_own, called
 * by order.c's ownership rule): an order that needs approval is confirmed
 * only by head office, and no other site moves it to allocated, picked,
 * shipped, delivered or completed unless head office's confirmation
 * (its approval) is held. Such a move arriving before the approval waits
 * in the quarantine (reason "order ID: " OWN_APPROVAL ": it cannot be
 * shipped before head office approves it") and own_retry_arrived takes it
 * up once the approval is held: so the verdict is a function of the set
 * of ops, whatever the arrival order. A shipment that head office never
 * approves (a rejection) stays quarantined, and alerted, everywhere.
 *
 * The creating store decides whether its order needs approval, from the
 * thresholds it holds: the hub cannot tell what a store knew offline.
 *
 * Ops: entity "approval_threshold", key "default", "tier/TIER" or
 * "category/CATEGORY", kind "set" {percent, tier?, category?}; the order
 * create's approval {reason}; the order transition's decision ("approved"
 * with to confirmed, "rejected" with to cancelled) and comment, head
 * office's only.
 */
#ifndef BL_APPROVAL_H
#define BL_APPROVAL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "op.h"
#include "store.h"

#define APPROVAL_ENTITY "approval_threshold"

/* The rule of entity approval_threshold (apply.c). */
int approval_apply_threshold(store_t *store, const op_t *op, err_t *err);

/* PUT /v1/approval/threshold {percent, tier?, category?}: head office only
 * (403 elsewhere); answers the threshold as recorded (200: *created 0). */
int approval_put_threshold(store_t *store, const json_t *req, json_t **out,
    int *created, err_t *err);

/* GET /v1/approval/threshold: {items: [{percent, tier?, category?}]}, the
 * default first, then tiers, then categories (rec_list_fn). */
int approval_thresholds(store_t *store, const json_t *query, json_t **out,
    err_t *err);

/* Whether a line at price is below list by more than percent: (list -
 * price) * 100 > percent * list, exact. */
int approval_below(int64_t price, int64_t list, int percent);

/* How far price is below list, in percent rounded up to a tenth, as text
 * into buf: "30", "29.9"; so a price over a whole-percent threshold never
 * shows as at it. */
void approval_percent_text(int64_t price, int64_t list, char *buf, size_t size);

/* For order.c's create command: checks the priced lines of fields (the
 * create op being built) for the thresholds held here; when one needs
 * approval, sets fields' approval {reason} and turns a status confirmed
 * or completed into pending_approval. customer may be NULL. 0, or -1 with
 * err when a read failed. */
int approval_check_lines(store_t *store, const char *customer,
    const char *currency, json_t *fields, err_t *err);

/* For order.c's create rule: approval {reason} well formed (400), and
 * consistent with status (422: pending_approval needs it; with it, the
 * order is created draft or pending_approval). */
int approval_check_create(const json_t *fields, err_t *err);

/* For order.c's transition rule: decision and comment well formed (400):
 * "approved" goes with to confirmed, "rejected" with cancelled, a comment
 * only with a decision. */
int approval_check_transition(const json_t *fields, err_t *err);

/* For order.c's ownership rule, once the party is checked: what op (a
 * transition to rank) may do to an order that needs approval (see the
 * top). -1 with ERR_FORBIDDEN (a decision not by head office, a
 * confirmation by another site), with own.h's "not held here yet" when
 * the order is not held (own_retry_arrived takes it up), or with
 * ERR_CONFLICT "order ID: pending approval: it cannot be shipped before
 * head office approves it" while the approval is not held. */
int approval_own(store_t *store, const op_t *op, int rank, err_t *err);

/* For order.c's rule, after an order op is applied: records the need of
 * the create that defines the order, and a transition's decision. fresh:
 * op is a create that made its order (held nowhere before). */
int approval_apply_order(store_t *store, const op_t *op, int fresh, err_t *err);

/* For order.c's transition command, before the lifecycle check, on order
 * id in status rank (-1: none yet) and request req: refuses a decision
 * (they go through approval_decide) and a move the approval forbids (409,
 * the rule's text), and turns the confirmation of a draft that needs
 * approval into pending_approval: then *fields is the request to record
 * (caller owns), else NULL (record req). */
int approval_on_move(store_t *store, const char *id, int rank,
    const json_t *req, json_t **fields, err_t *err);

/* For order.c's read: sets order's approval {reason, status, comment?,
 * decided_at_ms?, decided_by?} when order id needs approval. A failed
 * read is kept as store_row keeps it. */
void approval_show(store_t *store, const char *id, json_t *order);

/* GET /v1/approvals?status=pending|approved|rejected|cancelled|draft:
 * {items: [{id, site, customer?, status, reason, comment?,
 * decided_at_ms?, decided_by?}]}, oldest order first, over the orders held
 * here (rec_list_fn); 400 for another status. */
int approval_list(store_t *store, const json_t *query, json_t **out,
    err_t *err);

/* POST /v1/approvals/{id}/decision {approve, comment?} (a rejection needs
 * a comment): head office only (403 elsewhere); 404 for an order not
 * held, 422 for one that needs no approval, 409 for one not pending
 * (decided, cancelled, a draft). Answers the approval as listed
 * (rec_change_fn). */
int approval_decide(store_t *store, const char *id, const json_t *req,
    json_t **out, err_t *err);

#endif
