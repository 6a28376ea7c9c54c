/*
 * own: who may write what (SPEC §4, "Ownership" and "Identifiers").
 *
 * Every record has an owner fixed when it is created: the site whose
 * namespace its id is in. A site id is letters, digits and '_' (op.h), so
 * the owner of "S001-000123", "S001-1A2B3C4D-000101" or "S001-TILL7" is
 * S001, whatever follows the first '-'. Every rule refuses a create whose
 * id is outside its origin's namespace: no site can create, replace or
 * shadow a record under another site's id, whatever clock it stamps. The
 * API scopes a client's id by its site (own_scope), so the same client id
 * at two sites names two records.
 *
 * Head office is a site whose id begins with OWN_HQ_PREFIX: bl-hub keeps
 * such ids for the hq role (init, enroll), so every replica tells head
 * office from the op alone.
 *
 * Each entity's rule says who may change what (stock.c, order.c,
 * payment.c, invoice.c, aftersales.c, customer.c; README's table), and
 * decides from immutable facts only: the op, its record's namespace, and
 * fields fixed at the record's create (an order's fulfilling site). So the
 * verdict on an op is the same at every replica whatever the order ops
 * arrive in, with one case handled here: an op only an order's fulfilling
 * site may write, arriving where the order is not held yet. It is
 * quarantined "not held here yet" (own_order_party), and own_retry_arrived
 * takes it up again once the order is held, when it passes or is refused
 * as everywhere else. A transfer's receipt, which only the destination
 * fixed at the transfer's create may write, waits for that create the
 * same way (transfer.h), and an order's create spending rights waits for
 * the grants they name, which tell who holds them (quota.h). In practice it does not happen: an honest site
 * writes about an order only once it holds it, the hub logs ops in one
 * order and streams them in that order, and an order's ops go where the
 * order goes. It happens to ops replayed out of order (a hub recovering
 * from its sites, the randomized tests) and to forgeries that name an
 * order before it exists; the daemons retry every second.
 */
#ifndef BL_OWN_H
#define BL_OWN_H

#include <stddef.h>

#include "err.h"
#include "op.h"
#include "store.h"

/* Head office's ids begin with this (bl-hub init and enroll keep them for
 * the hq role). */
#define OWN_HQ_PREFIX "HQ"

/* In SQL: whether the site in column col is head office's. */
#define OWN_HQ_SQL(col) "(substr(" col ", 1, 2) = '" OWN_HQ_PREFIX "')"

/* In the reason of an op quarantined until its order is held. */
#define OWN_WAITING "not held here yet"

/* In the reason of an op quarantined until head office approves its order
 * ("order ID: pending approval: ...", approval.h); own_retry_arrived takes
 * it up once head office's confirmation of the order is held. */
#define OWN_APPROVAL "pending approval"

/* Who of an order's parties may do something (own_order_party). */
#define OWN_CREATOR 1u	 /* its creating site: its id's namespace */
#define OWN_FULFILLER 2u /* its fulfilling site, fixed at its create */
#define OWN_HQ 4u	 /* head office */

/* Whether site is head office's. */
int own_is_hq(const char *site);

/* Whether id is in site's namespace: "SITE-" and at least one more byte. */
int own_in(const char *id, const char *site);

/* The owner of id (what comes before its first '-') into buf, OP_SITE_MAX
 * + 1 bytes; "" when id has no valid site prefix. */
void own_owner(const char *id, char *buf, size_t size);

/* For a rule: refuses (ERR_FORBIDDEN) an op that makes a record (what:
 * "order", ...) under a key outside its origin's namespace: "order
 * S001-9: S666 creates records only under its own ids (S666-...)". */
int own_create(const op_t *op, const char *what, err_t *err);

/* For a rule: refuses (ERR_FORBIDDEN) an op whose field (site, a record's
 * "where") names another site than its origin: "stock movement S666-1:
 * recorded at S002 but written by S666 (a site moves only its own
 * stock)"; why is
 * the parenthesis' text. */
int own_here(const op_t *op, const char *what, const char *field,
    const char *why, err_t *err);

/* For a rule: whether op's origin may act (act: "ship it", ...) on order
 * as one of who (OWN_*): 0 when it may; -1 with ERR_FORBIDDEN naming who
 * may ("order S001-7: S666 may not ship it: only its fulfilling site
 * S002 may"); -1 with ERR_NOT_FOUND ("order S001-7: not held here yet ...")
 * when only the order's create can tell and it is not held here (the op is
 * quarantined and own_retry_arrived takes it up); ERR_INTERNAL when a read
 * failed. */
int own_order_party(store_t *store, const op_t *op, const char *order,
    unsigned who, const char *act, err_t *err);

/* Whether err is own_order_party's "not held here yet": callers leave it
 * as it is (own_retry_arrived reads the order from it), refusals they
 * prefix with their record. */
int own_waiting(const err_t *err);

/* The id a create at this store records for a client's id (borrowed; NULL
 * when the client chose none, then *out = NULL): id itself when it is in
 * this site's namespace, else "SITE-id", written into buf (OP_KEY_MAX + 1
 * bytes) and *out pointing to it. -1 with ERR_BAD_REQUEST when that is
 * longer than max bytes ("id: S001-... is 70 bytes, at most 64 with the
 * site's prefix"). */
int own_scope(store_t *store, const char *id, size_t max, char *buf,
    const char **out, err_t *err);

/* Retries, each in a transaction of its own (store_quarantine_retry, from_of
 * and arg as there), the quarantined ops that waited for an order (or a
 * transfer, or a quota) now held here, or for head office's approval of
 * their order now held (approval.h), in rounds while a round applies
 * something others may wait for (at most STORE_RETRY_MAX ops a call); adds
 * to *applied and *kept. Outside a transaction. 0, or -1 with err when
 * storage failed. Its cost when nothing waits is a count of the
 * quarantine; else one pass over the quarantine, as the retry of ops
 * stamped ahead. The daemons call it every second, a one-shot sync after
 * its round. */
int own_retry_arrived(store_t *store, store_from_fn from_of, void *arg,
    int *applied, int *kept, err_t *err);

#endif
