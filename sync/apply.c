/* apply: dispatches an op to the merge rule of its entity (see apply.h). */
#include "apply.h"

#include <string.h>

#include "aftersales.h"
#include "catalog.h"
#include "customer.h"
#include "invoice.h"
#include "order.h"
#include "payment.h"
#include "stock.h"

static const struct {
	const char *entity;
	int (*apply)(store_t *, const op_t *, err_t *);
	int hq_only;        /* head-office data: single writer */
} s_rules[] = {
	{ STOCK_ENTITY, stock_apply, 0 },
	{ CUSTOMER_ENTITY, customer_apply, 0 },
	{ PRODUCT_ENTITY, catalog_apply_product, 1 },
	{ PRICE_ENTITY, catalog_apply_price, 1 },
	{ SAFETY_ENTITY, catalog_apply_safety, 1 },
	{ ORDER_ENTITY, order_apply, 0 },
	{ PAYMENT_ENTITY, payment_apply, 0 },
	{ INVOICE_ENTITY, invoice_apply, 0 },
	{ CASE_ENTITY, case_apply, 0 },
};

#define NRULES (sizeof s_rules / sizeof s_rules[0])

int
apply_op(store_t *store, const op_t *op, err_t *err)
{
	size_t i;

	for (i = 0; i < NRULES; i++)
		if (strcmp(op->entity, s_rules[i].entity) == 0)
			return s_rules[i].apply(store, op, err);
	return err_set(err, ERR_BAD_REQUEST, "unknown entity '%s'", op->entity);
}

int
apply_may_write(const char *role, const char *entity)
{
	size_t i;

	for (i = 0; i < NRULES; i++)
		if (strcmp(entity, s_rules[i].entity) == 0)
			return !s_rules[i].hq_only || strcmp(role, "hq") == 0;
	return 1;   /* unknown entities are refused by apply_op itself */
}
