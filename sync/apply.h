/*
 * apply: the merge rules; turns an op into replicated state.
 *
 * apply_op is called inside a store transaction for every op a replica
 * accepts, local or remote, exactly once per (origin, seq). It must be
 * deterministic and order-independent: the state is a function of the set
 * of ops applied, never of their arrival order, which is what makes every
 * replica converge. Each entity owns its rule in its own module (stock.c,
 * ...); this module only dispatches.
 *
 * A refused op returns -1 with ERR_BAD_REQUEST / ERR_UNPROCESSABLE and a
 * message naming the field. Every rule checks the whole op before its first
 * write, so a refusal has written nothing (no savepoint is needed on this
 * hot path); the caller quarantines a refused remote op. ERR_INTERNAL means
 * storage failed mid-way: the caller must roll back the transaction.
 */
#ifndef BL_APPLY_H
#define BL_APPLY_H

#include "err.h"
#include "op.h"
#include "store.h"

int apply_op(store_t *store, const op_t *op, err_t *err);

/* Whether a site of role ("store", "warehouse", "hq") may write entity:
 * head-office data (catalog, prices, safety stock) has the hq role as its
 * single writer. The hub checks every pushed op with this. */
int apply_may_write(const char *role, const char *entity);

#endif
