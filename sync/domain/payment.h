/*
 * payment: payments and refunds against orders.
 *
 * A payment is an immutable fact keyed by its id; a refund is a payment
 * with a negative amount. It is recorded at the site that writes it, under
 * its own id, on an order that site is a party to (its creator or its
 * fulfilling site) or by head office (own.h). An order's paid amount is the sum of its payments
 * (computed when read, so it is the same whatever order they arrived in),
 * and split payments are simply several payments. A refund larger than
 * what was paid is refused where it is written; when only a merge produces
 * one, GET /v1/alerts reports the over-refund.
 *
 * Op: entity "payment", kind "add", fields {order, method, amount,
 * currency, site}.
 */
#ifndef BL_PAYMENT_H
#define BL_PAYMENT_H

#include <jansson.h>

#include "err.h"
#include "op.h"
#include "store.h"

#define PAYMENT_ENTITY "payment"

int payment_apply(store_t *store, const op_t *op, err_t *err);

/* POST /v1/payments {id?, order, method, amount, currency}. Idempotent by
 * id. *out is the payment with the order's new paid and balance. */
int payment_create(store_t *store, const json_t *req, json_t **out,
    int *created, err_t *err);

/* The same inside a transaction the caller opened (a till sale records its
 * order, stock movements and payments together). out NULL: no answer is
 * wanted, and a new payment is not read back. */
int payment_record_in(store_t *store, const json_t *req, json_t **out,
    int *created, err_t *err);

/* GET /v1/payments?order=: {"items": [...]} of an order's payments, or of
 * all (rec_list_fn). */
int payment_list(store_t *store, const json_t *query, json_t **out, err_t *err);

#endif
