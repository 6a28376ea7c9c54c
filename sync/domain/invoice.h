/*
 * invoice: invoices for orders, and receivables.
 *
 * An invoice is numbered by the site that issues it ("S001-INV-000001",
 * from that site's own counter, so numbers never clash across sites): a
 * party to its order (its creator or fulfilling site) or head office;
 * its issuer or head office marks it paid or void (own.h). Its
 * status is a max-register over issued < paid < void (a void after payment
 * is a credit note). Receivables are the issued, unpaid invoices, aged by
 * days since issue into 0-30, 31-60, 61-90 and 90+ buckets; one past its
 * due date is an overdue alert.
 *
 * Ops: entity "invoice", kind "create" {order, site, amount, currency,
 * due_days}; kind "transition" {to}.
 */
#ifndef BL_INVOICE_H
#define BL_INVOICE_H

#include <jansson.h>
#include <stdint.h>

#include "err.h"
#include "op.h"
#include "store.h"

#define INVOICE_ENTITY "invoice"
#define DAY_MS (INT64_C(86400) * 1000)

int invoice_apply(store_t *store, const op_t *op, err_t *err);

/* POST /v1/invoices {id?, order, due_days?}: for the order's total (an
 * amount over MONEY_TOTAL_MAX, of an order written before that limit, is
 * refused with 422, as is such an invoice op of another site). */
int invoice_create(store_t *store, const json_t *req, json_t **out,
    int *created, err_t *err);

/* POST /v1/invoices/{id}/transition {to}. */
int invoice_transition(store_t *store, const char *id, const json_t *req,
    json_t **out, err_t *err);

/* GET /v1/invoices/{id} (rec_get_fn). */
int invoice_get(store_t *store, const char *id, json_t **out, err_t *err);

/* GET /v1/reports/receivables: outstanding invoices with their age bucket
 * at the store's wall clock, and totals per bucket and currency, summed
 * exactly: 422 naming the currency and bucket whose total does not fit in
 * int64 (rec_list_fn, no filters). */
int invoice_receivables(store_t *store, const json_t *query, json_t **out,
    err_t *err);

#endif
