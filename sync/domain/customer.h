/*
 * customer: customers and their tiers, tags and loyalty points.
 *
 * Created at any site, under its own id; that site owns it for good
 * (customers.site, never changed: another site's create of its id is
 * refused, own.h). Any site may change the rest. Each field (name, phone, email, address, tier,
 * credit_limit, currency, region) is a last-writer-wins register; points are a
 * counter of deltas; tags are an add-wins observed-remove set: a removal
 * takes away only the additions its site had seen, so a tag added
 * concurrently elsewhere survives.
 *
 * Op: entity "customer", kind "create" or "update", fields
 *   {set: {field: value...}, tags_add: [tag...],
 *    tags_remove: [{tag, adds: [[origin, seq]...]}...], points_delta: n}
 */
#ifndef BL_CUSTOMER_H
#define BL_CUSTOMER_H

#include <jansson.h>

#include "err.h"
#include "op.h"
#include "store.h"

#define CUSTOMER_ENTITY "customer"
/* A customer's region, the name sites are enrolled in (bl-hub enroll
 * --region): head office allocates online orders to a site of it first
 * (hub/allocate.c). */
#define CUSTOMER_REGION_MAX 63

int customer_apply(store_t *store, const op_t *op, err_t *err);

/* POST /v1/customers: {id?, name, phone?, email?, address?, tier?,
 * credit_limit?, currency?, region?, tags?, points?}. Idempotent by id.
 * *out is the customer (caller owns). */
int customer_create(store_t *store, const json_t *req, json_t **out,
    int *created, err_t *err);

/* PATCH /v1/customers/{id}: fields to set, tags_add, tags_remove,
 * points_delta. */
int customer_patch(store_t *store, const char *id, const json_t *req,
    json_t **out, err_t *err);

/* GET /v1/customers/{id}: the customer (rec_get_fn; 404 when unknown
 * here). */
int customer_get(store_t *store, const char *id, json_t **out, err_t *err);

/* GET /v1/customers?q=: {"items": [...]}, only those whose name or phone
 * contains q when it is given (rec_list_fn). */
int customer_list(store_t *store, const json_t *query, json_t **out,
    err_t *err);

/* Tier of a customer ("retail" when unknown). Writes into buf. */
void customer_tier(store_t *store, const char *id, char *buf, size_t size);

#endif
