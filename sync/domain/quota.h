/*
 * quota: escrowed stock quotas, a bounded counter over a warehouse's stock
 * (Balegas et al., "Putting consistency back into eventual consistency",
 * EuroSys 2015).
 *
 * A warehouse W, or head office, grants a site S (the holder) the right to
 * promise N units of W's stock of a sku. S then confirms orders against
 * those rights with no link to anyone: only S spends them, so no merge of
 * concurrent writes can spend a right twice. Head office or W may recall
 * a quota; S's node returns its unused rights by itself, in the
 * transaction that applies the recall (or the grant, if the recall came
 * first), so they come back at S's next sync. S may also return them
 * unasked.
 *
 * Ops, entity "quota", key the quota's id:
 *   grant   {warehouse, site, sku, qty}, under the granter's own id; written
 *           by W itself or head office, nobody else
 *   recall  {warehouse, site, reason?}, by head office or W
 *   return  {warehouse, site}, by the holder S only
 * and the spend, in the order create op (order.h), written by S:
 *   rights: [{quota, sku, qty}], or backorder: true (spends nothing).
 * Every op is refused where it enters when its writer may not write it,
 * decided from the op alone (and the quota id's namespace); a recall or
 * return counts only when the warehouse and site it names are the
 * grant's. A create spending rights is refused (quarantined and alerted)
 * wherever it arrives when a quota it names is not held by the order's
 * creator, is not on the stock of the order's fulfil_site, or is of
 * another sku than the entry's: decided from the op and the grant, fixed
 * at its create, so the same everywhere. Where the grant is not held yet
 * the create waits, quarantined "not held here yet", as an order's ops
 * wait for their order (own.h), and own_retry_arrived takes it up once
 * the grant is held.
 *
 * When an order needs rights. An order created at S whose fulfil_site is
 * another site W spends rights on each line whose sku S has ever been
 * granted rights on by a quota of W known at S (returned ones too: a site
 * that has come under quota for (W, sku) stays under it). A site with no
 * grant of W and that sku orders as before, unchecked. Rights are spent
 * when the order is created, whatever its initial status (a draft holds
 * them too), so no later transition can promise without them. Without
 * enough rights the create is refused with 409, "lines[0]: sku BOX: 3
 * wanted, 1 right left on W001's stock; send \"backorder\": true to order
 * it as a backorder, or wait for the link"; "backorder": true creates it
 * as a backorder, spending nothing. Rights spent are spent for good: a
 * cancellation never gives them back to the holder (the holder's cancel
 * may lose to the warehouse's shipment, written concurrently, and the
 * same rights would then be spent twice); it frees the warehouse's stock
 * instead (pending, below), which the warehouse may sell or grant anew.
 *
 * What a quota q counts, derived from the set of ops (never arrival
 * order), at every replica:
 *   granted(q)   its grant's qty (of two grants under one id, the lower
 *                (hlc, origin))
 *   returned?    a return by the holder naming the grant's warehouse and
 *                site is held; the one with the lowest seq is the return
 *   spends       rights entries of order create ops naming q (only
 *                creates by q's holder, fulfilled at q's warehouse, of
 *                q's sku are held, as above), once q is returned only
 *                those written before the return (the holder's seq orders
 *                them); cancelled or not
 *   counted      of each spend, taken in the holder's seq order, what
 *                still fits in granted(q) after the spends before it: a
 *                holder that spends more than it was granted (a forged or
 *                broken node) promises only up to the grant; the excess
 *                is not promised, as a backorder is, and alerted
 *                (quota_overspent_sql)
 *   spent(q)     the sum of the counted spends, at most granted(q)
 *   returned(q)  granted - spent when returned (at least 0), else 0
 *   available(q) granted - spent - returned(q): what the holder may still
 *                spend (0 once returned)
 *   pending(q)   the counted spends of orders not cancelled whose goods
 *                have not left W (effect.h) and that W has not reserved
 *                (allocated, picked): promised, not yet counted anywhere
 *                else (a cancelled order's goods never leave: a
 *                cancellation that won means no shipment)
 *   outstanding(q) = (returned ? 0 : max(0, granted - spent)) + pending(q)
 *
 * The invariant. For a warehouse W and sku k, outstanding(W, k) is the sum
 * of outstanding(q) over W's quotas of k, and available(W, k) is W's on
 * hand of k less what orders allocated or picked at W reserve (GET
 * /v1/stock). A grant is written only when, in the writer's view,
 *
 *     outstanding(W, k) + qty <= available(W, k)            (I)
 *
 * and every step of the quota machinery keeps (I) where it held: a spend
 * moves rights from unspent to pending; W allocating a spent order moves
 * it from pending to reserved, shipping it from reserved to on hand, a
 * store sale leaving moves it from pending to on hand; a cancellation
 * drops a pending spend (the rights stay spent, W's free stock grows by
 * it); a return drops the unspent. What no counted right covers (an
 * overspend, an order of a holder without rights, a backorder) promises
 * nothing: W ships it from its free stock or not at all. So, while W's stock of k is otherwise moved
 * only by W within available - outstanding (the "free" of GET /v1/stock's
 * promised list), W can ship every order that spent rights and its on
 * hand stays at or above what it still has reserved: never an oversell.
 * (I) is checked in the writer's view: exact at W; head office's view of
 * W's stock may lag, and grants written concurrently by W and head office
 * on one (W, k) are each checked alone, so give one of them the granting
 * of each sku.
 */
#ifndef BL_QUOTA_H
#define BL_QUOTA_H

#include <jansson.h>
#include <stdint.h>

#include "err.h"
#include "op.h"
#include "store.h"

#define QUOTA_ENTITY "quota"
#define QUOTA_QTY_MAX 1000000000LL /* rights in one grant, one spend */
#define QUOTA_RIGHTS_MAX 200	   /* entries of an order's rights */

/* Merge rule for QUOTA_ENTITY ops (apply.c). At the holder's node, a
 * recall of one of its quotas (or the grant of one already recalled)
 * applied from another site writes the holder's return, in the same
 * transaction. */
int quota_apply(store_t *store, const op_t *op, err_t *err);

/* POST /v1/quotas {id?, warehouse?, site, sku, qty}: a grant written
 * here, at the warehouse (warehouse defaults to this site) or head
 * office. 403 for any other writer ("quota S001-1: S001 may not grant
 * rights on W001's stock: only W001 or head office may"), 404 for a sku
 * not in the catalog, 422 when (I) would break ("qty: 5 BOX would promise
 * 11 of W001's stock, over the 10 available (6 already promised)"). *out
 * is the quota as quota_get shows it. Idempotent by id (scoped by this
 * site). */
int quota_grant(store_t *store, const json_t *req, json_t **out, int *created,
    err_t *err);

/* GET /v1/quotas/{id}: {id, warehouse, site, sku, granted, spent,
 * returned, available, status: open|recalled|returned, granted_by,
 * granted_ms} (rec_get_fn); 404 "quota ID: not found". */
int quota_get(store_t *store, const char *id, json_t **out, err_t *err);

/* GET /v1/quotas?site=&sku=&warehouse=: the quotas held here, each as
 * quota_get shows it, by holder, warehouse, sku and id (rec_list_fn). */
int quota_list(store_t *store, const json_t *query, json_t **out, err_t *err);

/* POST /v1/quotas/{id}/recall {reason?}: by head office or the quota's
 * warehouse (403 otherwise, 404 for a quota not held here). A quota
 * already returned, or already recalled by this site, is answered as it
 * is, writing nothing. *out as quota_get. */
int quota_recall(store_t *store, const char *id, const json_t *req,
    json_t **out, err_t *err);

/* POST /v1/quotas/{id}/return {}: the holder gives back its unused rights
 * unasked (403 for anyone else); a quota already returned is answered as
 * it is. *out as quota_get. */
int quota_return(store_t *store, const char *id, const json_t *req,
    json_t **out, err_t *err);

/* GET /v1/stock?site=&sku=: stock_list's items, plus
 *   rights:   [{site, warehouse, sku, held, spent, available}], per holder,
 *             warehouse and sku: rights held (granted less returned), spent
 *             and left to spend;
 *   promised: [{site, sku, available, promised, free}], per warehouse and
 *             sku under quota: its available, outstanding (I) and the
 *             difference, what it may still sell or grant.
 * The site filter takes a row whose holder or warehouse it names. Each
 * list is there only when it has rows: without quotas the answer is
 * stock_list's. */
int quota_stock_list(store_t *store, const json_t *query, json_t **out,
    err_t *err);

/* What warehouse may still sell of sku, or grant, without breaking (I),
 * as this replica knows it: available(W, sku) - outstanding(W, sku),
 * negative when (I) is broken here. For whoever takes a warehouse's stock
 * otherwise than through its rights (head office allocating an online
 * order to it). A failed read is kept as store_row keeps it. */
int64_t quota_free(store_t *store, const char *warehouse, const char *sku);

/* For alert.c, kind quota_overspent: one row (site, subject, message,
 * at_ms) per order, not a backorder, not cancelled, whose goods have not
 * left, of a holder of quotas on (its fulfil_site, a sku of its lines),
 * granted before the order or spent by it, whose lines of those skus no
 * counted right covers in full: "order S666-O1: 44 of its 50 BOX over
 * S666's rights on W001's stock, not promised". Takes no parameter. */
extern const char quota_overspent_sql[];

/* ---- the order's hooks (order.c) ---- */

/* Checks the rights and backorder fields of an order create op's fields
 * (also what a request becomes), from the op alone: rights [{quota, sku,
 * qty}] of 1 to QUOTA_RIGHTS_MAX entries, each quota once per sku, a sku
 * of its lines, spending at most the qty its lines order, a quota whose
 * id is head office's or its fulfilling site's; no rights on a backorder
 * or on an order fulfilled where it is created. -1 with err naming the
 * field ("rights[0]: ..."). */
int quota_order_check(const json_t *fields, err_t *err);

/* In the create command, fields (checked, priced, about to be written by
 * this site): sets its "rights" to what its lines spend of this site's
 * quotas of its fulfilling site, or refuses with ERR_CONFLICT and the
 * backorder message; drops a "backorder": false. Nothing when no line
 * needs rights. Inside the command's transaction. */
int quota_order_spend(store_t *store, json_t *fields, err_t *err);

/* In the create rule, for every create op (before it is applied): each
 * quota its rights name must be held here (else ERR_NOT_FOUND, "order
 * S666-O1: rights[0]: quota W001-Q1: not held here yet, to tell whether
 * S666 holds it": the op waits, own.h), held by op's origin, on the
 * stock of its fulfil_site and of the entry's sku (else ERR_FORBIDDEN,
 * "order S666-O3: rights[0]: quota W001-Q2 is S001's, not S666's: only
 * its holder spends it"). -1 with err. */
int quota_order_verify(store_t *store, const op_t *op, err_t *err);

/* In the create rule, when op is the create that defines its order: the
 * order's spends and backorder flag become op's. fresh: the order was not
 * held before op (it has none yet). */
int quota_order_apply(store_t *store, const op_t *op, int fresh, err_t *err);

/* Adds to order (GET /v1/orders/{id}) "backorder": true, and "rights" as
 * its create spent them, when it has them. A failed read is kept as
 * store_row keeps it. */
void quota_order_show(store_t *store, const char *id, json_t *order);

#endif
