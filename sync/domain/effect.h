/*
 * effect: the stock effects of orders, a function of their merged state.
 *
 * SPEC §4: after a merge every linked effect follows the final merged
 * state, whatever the arrival order. The movements an order causes are
 * immutable facts like any other (stock.h); what each one counts in on
 * hand (stock_movements.counted) is decided here, from the order as this
 * replica has merged it, and decided again whenever the order or one of
 * its movements changes. The invariants this module owns:
 *
 *   1. On hand of (site, sku) is the sum of counted of its movements.
 *   2. A movement that is no effect of an order, or whose order this
 *      replica does not hold, counts its delta.
 *   3. For an order held here, "its goods left" when its status is a store
 *      sale's confirmed or later, or any order's shipped or later, and it
 *      is not cancelled (a cancellation that lost to a shipment or a
 *      completion is not the status). Then each sale movement (id
 *      ORDER-out-N) counts its delta, otherwise none does; a restock
 *      (ORDER-back-N, written by a cancellation) never counts on top: the
 *      voided sale already puts the goods back, and a cancellation that
 *      lost leaves nothing behind. So an order's stock effect per line is
 *      -qty while its goods are out and 0 otherwise, whether its
 *      cancellation arrived first, alone, last, or never.
 *   4. What an order sold of a sku is the qty of its lines of that sku
 *      while its goods left, 0 otherwise. Returns against it (movements
 *      that name the order, written by after-sales cases) count oldest
 *      first by (hlc, origin, id) until they reach what it sold; beyond
 *      that they count nothing, and GET /v1/alerts says so (over_return).
 *
 *   5. Only the order's parties record its effects (own.h): its sales and
 *      restocks are recorded by its fulfilling site (order.c), its returns
 *      by its creating or fulfilling site or head office (aftersales.c).
 *      A movement that names the order from any other site is that site's
 *      own business: it counts its delta, as one no order caused (rule 2),
 *      and takes nothing of what the order sold from the parties' returns.
 *
 * Each counted is a function of the movement and of the ops of its order
 * (and, for a return, of the other returns against that order), never of
 * arrival order, so every replica that has seen the same ops counts the
 * same. A site that receives a neighbour's movements but not the order
 * (SPEC §5) counts them as written (rule 2).
 */
#ifndef BL_EFFECT_H
#define BL_EFFECT_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "own.h"
#include "store.h"

/* How a movement is linked to an order, as stored in
 * stock_movements.effect. */
#define EFFECT_SALE "sale"
#define EFFECT_RESTOCK "restock"
#define EFFECT_RETURN "return"

/* Which effect of which order a movement at site is, from its fields: a
 * return that names its order (order, not NULL), or a sale or restock by
 * its id (ref-out-N with reason sale, ref-back-N with reason return, or
 * either after "SITE-" when the site that records it is not the order's
 * creator, order.c). Returns the effect (EFFECT_*) with *order pointing
 * into order or ref (borrowed), or NULL for a movement no order caused. */
const char *effect_of(const char *id, const char *site, const char *reason,
    const char *ref, const char *order, const char **order_out);

/* In SQL: whether return movement m (a table alias) was recorded by a party
 * of its order o (invariant 5). */
#define EFFECT_PARTY_SQL(m, o)                        \
	"(" m ".site = " o ".site OR " m ".site = " o \
	".fulfil_site OR " OWN_HQ_SQL(m ".site") ")"

/* Recounts every movement linked to order and moves on hand by the
 * differences (invariants 1 to 4). Called when the order's ops or its
 * movements change, inside the transaction that changed them. 0, or -1
 * with err on a storage failure. */
int effect_sync(store_t *store, const char *order, err_t *err);

/* effect_sync after one change only: movement id, of effect (EFFECT_*) of
 * order at site, was just inserted counting its delta, and nothing else
 * linked to order changed since the last effect_sync. A sale or a restock
 * changes what no other movement counts (invariants 3 to 5: they depend
 * on the order's state and lines and on the other returns, never on
 * sales or restocks), so only its own counted is decided, by the same
 * rule effect_sync applies; a return recounts the order's returns
 * (effect_sync). What a till sale's movements cost: one read of the
 * order each. 0, or -1 with err on a storage failure. */
int effect_sync_added(store_t *store, const char *order, const char *effect,
    const char *id, const char *site, int64_t delta, err_t *err);

/* Whether an order of channel in status rank has had its goods leave. */
int effect_goods_left(const char *channel, int rank);

/* What order sold of sku (invariant 4) into *sold: 0, or -1 with
 * ERR_NOT_FOUND when the order is not held here ("order: O-1 not found")
 * and ERR_INTERNAL when a read failed. */
int effect_sold(store_t *store, const char *order, const char *sku,
    int64_t *sold, err_t *err);

/* The quantity of sku returned against order, as recorded (the sum of the
 * deltas of its return movements, counted or not). A failed read counts
 * as nothing and is kept as store_row keeps it. */
int64_t effect_returned(store_t *store, const char *order, const char *sku);

#endif
