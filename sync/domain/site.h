/*
 * site: the region head office puts each site in, as every replica learns
 * it.
 *
 * The hub's registry (sites.region) decides where a stock movement goes
 * when the hub logs it (hub/visibility.c); a move (`bl-hub region`) is
 * also head office's op, in the transaction that changes the registry, so
 * that every node learns of it: entity "site_region", key the site's id,
 * kind "set" {region, role}, head-office data (the hq role writes it) and
 * a last-writer-wins register per site (site_regions, schema/0036). Every
 * site receives it.
 *
 * What a node does with it (node/client.c): a node of the region a store
 * moved into asks for that store's earlier stock movements ("site:ID",
 * proto.h), in the transaction that applies the op, since they were
 * logged for its old region; and a node that is itself moved asks for
 * those of every store it knows was moved into its new region. A
 * warehouse's movements go to every site whatever its region: its move
 * asks for nothing.
 */
#ifndef BL_SITE_H
#define BL_SITE_H

#include "err.h"
#include "op.h"
#include "store.h"

#define SITE_REGION_ENTITY "site_region"

/* The rule of entity site_region (apply.c). */
int site_region_apply(store_t *store, const op_t *op, err_t *err);

/* Whether name is a region's: 1 to PROTO_REGION_MAX (proto.h) of
 * A-Z a-z 0-9 _ -. */
int site_region_valid(const char *name);

/* Head office only, inside the caller's transaction: records that it
 * moved site, a "store" or "warehouse", to region, as its op (logged,
 * applied and, at the hub, sent to every site). -1 with err: ERR_FORBIDDEN
 * at a node, ERR_BAD_REQUEST for a bad argument, or the store's own (a
 * hub holding its writes, a storage failure); the caller rolls back. */
int site_region_record(store_t *store, const char *site, const char *role,
    const char *region, err_t *err);

/* Whether op (borrowed) moves a store other than self into region: 1 with
 * its id in site (OP_SITE_MAX + 1 bytes), else 0. For an op just
 * ingested, applied or not yet. */
int site_region_moves_into(const op_t *op, const char *region, const char *self,
    char *site);

/* Calls fn(arg, id, err) for each store other than self that head office
 * last moved into region, as this replica knows it, in id order; stops at
 * fn's -1. 0, or -1 with err (fn's, or a storage failure). */
int site_region_moved_in(store_t *store, const char *region, const char *self,
    int (*fn)(void *arg, const char *site, err_t *err), void *arg, err_t *err);

#endif
