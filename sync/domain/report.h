/*
 * report: sales and stock reports over what this replica holds.
 *
 * A sale is a line of an order that reached confirmed and was not
 * cancelled in the end. Amounts are summed per currency, never converted.
 */
#ifndef BL_REPORT_H
#define BL_REPORT_H

#include <jansson.h>

#include "err.h"
#include "store.h"

/* GET /v1/reports/sales?group=site|sku|customer|day&from=&to= (days as
 * YYYY-MM-DD, inclusive); 400 for a bad group or day; 422 naming the first
 * group whose qty or total does not fit in int64 ("report sales: sku BOX,
 * CNY: total: 10000000000000000000 exceeds the largest representable
 * amount 9223372036854775807"), never a report without it (rec_list_fn). */
int report_sales(store_t *store, const json_t *query, json_t **out, err_t *err);

/* GET /v1/reports/stock: every position with safety stock beside it
 * (rec_list_fn, no filters). */
int report_stock(store_t *store, const json_t *query, json_t **out, err_t *err);

#endif
