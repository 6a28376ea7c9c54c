/*
 * catalog: head-office data — products, tier prices, safety stock.
 *
 * Single writer: only the hq role writes these (the hub refuses such ops
 * from any other site, and a node's API refuses to create them). Each record
 * is a last-writer-wins register by (hlc, origin).
 *
 * Ops: entity "product" key SKU {name, unit, active, category?};
 *      entity "price" key TIER/SKU {tier, sku, amount, currency};
 *      entity "safety_stock" key SITE/SKU {site, sku, qty}.
 */
#ifndef BL_CATALOG_H
#define BL_CATALOG_H

#include <jansson.h>
#include <stdint.h>

#include "err.h"
#include "op.h"
#include "store.h"

#define PRODUCT_ENTITY "product"
#define PRICE_ENTITY "price"
#define SAFETY_ENTITY "safety_stock"
/* Bytes in a product's category (an approval threshold's key names it). */
#define CATALOG_CATEGORY_MAX 48

int catalog_apply_product(store_t *store, const op_t *op, err_t *err);
int catalog_apply_price(store_t *store, const op_t *op, err_t *err);
int catalog_apply_safety(store_t *store, const op_t *op, err_t *err);

/* PUT /v1/products/{sku} {name, unit?, active?, category?} (head office
 * only). */
int catalog_put_product(store_t *store, const char *sku, const json_t *req,
    json_t **out, err_t *err);
/* PUT /v1/prices/{tier}/{sku} {amount, currency} (head office only). */
int catalog_put_price(store_t *store, const char *tier, const char *sku,
    const json_t *req, json_t **out, err_t *err);
/* PUT /v1/safety-stock/{site}/{sku} {qty} (head office only). */
int catalog_put_safety(store_t *store, const char *site, const char *sku,
    const json_t *req, json_t **out, err_t *err);

/* GET /v1/products/{sku}: the product with its prices (rec_get_fn). */
int catalog_product(store_t *store, const char *sku, json_t **out, err_t *err);

/* GET /v1/products: every product (rec_list_fn, no filters). */
int catalog_products(store_t *store, const json_t *query, json_t **out,
    err_t *err);

/* GET /v1/prices?sku=: every price, or those of sku (rec_list_fn). */
int catalog_prices(store_t *store, const json_t *query, json_t **out,
    err_t *err);

/* Whether sku is in the catalog here. */
int catalog_has(store_t *store, const char *sku);

/* The unit price of sku for a customer (NULL: walk-in), from the customer's
 * tier price list, falling back to retail. Fails with a message naming
 * `field` when there is no price in `currency`. */
int catalog_quote(store_t *store, const char *customer, const char *sku,
    const char *currency, const char *field, int64_t *amount, err_t *err);

/* The list price of sku in currency for tier, as catalog_quote finds it
 * (the tier's price, else retail's): 1 with *amount and the tier it is
 * from in used (size bytes), 0 when there is none. A failed read is kept
 * as store_row keeps it. */
int catalog_list_price(store_t *store, const char *tier, const char *sku,
    const char *currency, int64_t *amount, char *used, size_t size);

/* The category of sku into buf (size bytes): 1, or 0 when it has none or
 * is not in the catalog here. */
int catalog_category(store_t *store, const char *sku, char *buf, size_t size);

#endif
