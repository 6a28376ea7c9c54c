/*
 * fulfil: fulfilment orders, the children head office allocates an online
 * or b2b order to (hub/allocate.c decides where; README, "Allocation of
 * online orders").
 *
 * An online or b2b order created without a fulfilling site has
 * fulfil_site "": it is a parent, and no site holds its goods, so it has
 * no stock effects of its own (effect.h: only an order's fulfilling site
 * records them). Head office covers its lines with child orders, each an
 * order create under head office's id ("HQ-F<n>") with parent = the
 * order, fulfil_site = the chosen site, status allocated, the parent's
 * lines it covers (sku, qty, unit_price) and the reason of the choice in
 * its note ("W002: all lines available, region east"). A child is an
 * order like any other at its fulfilling site: it reserves its lines
 * there, is picked and shipped there, and its sale is recorded there.
 * Its fulfilling site may also cancel it with a reason, a *release*
 * (order.c's rule allows it to the fulfiller of an order with a parent;
 * the parent is fixed at create, so the verdict does not depend on the
 * order ops arrive in), and head office allocates those lines again,
 * elsewhere.
 *
 * What this module owns: which lines of a parent its live children (those
 * not cancelled) cover; the parent as people see it (its fulfilments, one
 * history of the parent and its children); the release command; and what
 * the children mean for the parent's commands. None of it is stored: it
 * is read from the children, so it converges as they do. A child's
 * verdicts never depend on holding its parent: a site may hold a child
 * before it holds the parent, or never.
 *
 * The parent's status, as every figure counts it and GET shows it, is the
 * order_status view (schema/0035_order_status.sql): the highest of its own
 * rank, the lowest rank of its live children when they cover all its
 * lines (a parent whose fulfilments all shipped is shipped), and shipped
 * when it was cancelled but a child shipped anyway: a fulfilment's
 * shipment outranks the parent's cancellation, as a shipment outranks a
 * cancellation of one order (the goods left), and raises the alert
 * conflicting_transition on the parent. So the command refuses that
 * cancellation when it knows of the shipment (fulfil_check_move); made
 * where the shipment was not known yet, it loses.
 *
 * Money is owed on the parent: payments and invoices are taken on it, not
 * on a fulfilment (fulfil_check_payee). A payment that arrives on a child
 * anyway (an old or a forged site's op, which the rules still accept from
 * a party to the child) counts in the parent's paid and balance, and in
 * its customer's exposure (order.c), so no money leaves view.
 */
#ifndef BL_FULFIL_H
#define BL_FULFIL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "money.h"
#include "op.h"
#include "req.h"
#include "store.h"

/* The prefix of the ids head office gives the fulfilment orders it
 * writes, after its own: "HQ-F42". */
#define FULFIL_ID_PREFIX "F"

/* One line of a parent order and the live child that covers it. */
typedef struct {
	int line; /* the parent's line number, from 1 */
	char sku[REQ_ID_MAX + 1];
	int64_t qty;
	int64_t unit_price;
	char child[OP_KEY_MAX + 1]; /* "" when no live child covers it */
	char site[OP_SITE_MAX + 1]; /* that child's fulfilling site */
} fulfil_line_t;

/* The lines of parent (at most MONEY_LINES_MAX) into lines, *n of them,
 * each with the live child covering it. A child's line covers the first
 * line of the parent with its sku, qty and unit price that no other
 * covers, children taken oldest first (by create stamp, then id): the
 * same answer on every replica holding the same children. 0, or -1 with
 * err (ERR_INTERNAL) when a read failed; *n = 0 when parent is not held. */
int fulfil_cover(store_t *store, const char *parent, fulfil_line_t *lines,
    size_t *n, err_t *err);

/* For GET /v1/orders/{id}: adds to o (order id as order.c shows it,
 * borrowed; parent, its parent as read with it, NULL for none) what
 * allocation says of it. A child gets "parent". A parent
 * with children gets "fulfilments": [{id, site, status, lines: [{sku,
 * qty}]}] (every child, released ones too, oldest first), "fulfil_site"
 * of its single live child when it has one, and one "history" of its own
 * entries and its children's, by time: a child's create as "allocated"
 * at its site with its reason, a release as "released" at that site with
 * its reason, and every later move as it is, each naming the child
 * ("fulfilment"). Its status is order.c's, read from order_status. 0, or
 * -1 with err when a read failed. */
int fulfil_show(store_t *store, const char *id, const char *parent, json_t *o,
    err_t *err);

/* Whether order id may move to status to (borrowed), as far as its
 * children say: 0, or -1 with ERR_CONFLICT when to is cancelled and a
 * child shipped or went further ("to: order S1-O1 cannot be cancelled:
 * its fulfilment HQ-F2 is shipped at W1; open a return instead", the
 * oldest such child), or with err when a read failed. */
int fulfil_check_move(store_t *store, const char *id, const char *to,
    err_t *err);

/* Whether money may be taken on order (borrowed): 0 for an order with no
 * parent (or not held: the caller says so); -1 with ERR_UNPROCESSABLE for
 * a fulfilment, naming the order to use with act ("take payments on",
 * "invoice"): "order: HQ-F2 is a fulfilment of order S1-O1; take
 * payments on S1-O1"; -1 with err when a read failed. */
int fulfil_check_payee(store_t *store, const char *order, const char *act,
    err_t *err);

/* fulfil_check_payee of order held here with parent (as read with it,
 * order_lookup; "" for none), without reading it again. */
int fulfil_check_payee_of(const char *order, const char *parent,
    const char *act, err_t *err);

/* POST /v1/orders/{id}/release {reason}: this site gives back its
 * fulfilment of an order, id naming the child, or the parent (then its
 * child that this site fulfils and that is not cancelled), by moving the
 * child to cancelled with reason; head office then allocates its lines
 * again elsewhere. Answers the child (rec_change_fn). 404 "order: X not
 * found"; 403 "order X: W002 may not release it: only its fulfilling site
 * W001 may" for a child of another site and "order X: W002 may not
 * release it: no fulfilment of it is allocated to W002" for any other
 * order; 422 when the child cannot be cancelled any more (shipped). */
int fulfil_release(store_t *store, const char *id, const json_t *req,
    json_t **out, err_t *err);

#endif
