/*
 * apply: the domain's merge rules, one per entity, as the table the store
 * applies (store_rules_t, see store.h). Each entity owns its rule in its own
 * module (stock.c, ...); this module only lists them, with which entities
 * are head-office data (written by the hq role only).
 */
#ifndef BL_APPLY_H
#define BL_APPLY_H

#include "store.h"

/* Every entity of the order-management domain. */
extern const store_rules_t apply_rules;

#endif
