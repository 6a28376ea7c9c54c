/*
 * lww: last-writer-wins registers, one per (entity, key, field).
 *
 * A write carries the (hlc, origin) of its op; it wins over the register's
 * stamp when (hlc, origin) is greater. The stamps live in lww_stamps; the
 * value lives in the entity's own table, which the caller updates when
 * lww_claim says the write wins. Arrival order therefore never matters.
 */
#ifndef BL_LWW_H
#define BL_LWW_H

#include "err.h"
#include "op.h"
#include "store.h"

/* Returns 1 when op's write to field wins (stamp recorded), 0 when a later
 * write is already in place, -1 on a storage error. */
int lww_claim(store_t *store, const char *entity, const char *key,
    const char *field, const op_t *op, err_t *err);

#endif
