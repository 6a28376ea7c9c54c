/* apply: the domain's rule table (see apply.h). */
#include "apply.h"

#include "aftersales.h"
#include "approval.h"
#include "catalog.h"
#include "customer.h"
#include "invoice.h"
#include "order.h"
#include "payment.h"
#include "quota.h"
#include "site.h"
#include "stock.h"
#include "transfer.h"

static const store_rule_t s_rules[] = {
	/* entity, rule, hq_only, lww (store.h) */
	{ STOCK_ENTITY, stock_apply, 0, 0 },
	{ CUSTOMER_ENTITY, customer_apply, 0, 1 },
	{ PRODUCT_ENTITY, catalog_apply_product, 1, 1 },
	{ PRICE_ENTITY, catalog_apply_price, 1, 1 },
	{ SAFETY_ENTITY, catalog_apply_safety, 1, 1 },
	{ APPROVAL_ENTITY, approval_apply_threshold, 1, 1 },
	{ ORDER_ENTITY, order_apply, 0, 0 },
	{ PAYMENT_ENTITY, payment_apply, 0, 0 },
	{ INVOICE_ENTITY, invoice_apply, 0, 0 },
	{ CASE_ENTITY, case_apply, 0, 1 },
	{ TRANSFER_ENTITY, transfer_apply, 0, 0 },
	{ QUOTA_ENTITY, quota_apply, 0, 0 },
	{ SITE_REGION_ENTITY, site_region_apply, 1, 1 },
};

const store_rules_t apply_rules = { s_rules,
	sizeof s_rules / sizeof s_rules[0] };
