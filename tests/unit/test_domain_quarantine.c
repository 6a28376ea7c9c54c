/*
 * test_domain_quarantine: ops that no replica may apply (a bad field, a
 * clock too far ahead, an unknown entity or status) on one small history
 * run by dh_rule_run (three orders and twice, the same state every time):
 * each is quarantined with the same exact reason everywhere, raises an
 * alert, is never applied, and does not block the ops behind it.
 */
#include <stdlib.h>

#include "customer.h"
#include "domain_harness.h"
#include "harness.h"
#include "hlc.h"
#include "order.h"
#include "payment.h"
#include "stock.h"
#include "store.h"

/* Refused ops are quarantined with the same exact reason everywhere, never
 * applied, and do not block the ops behind them. */
TEST(rule_invalid_ops_quarantined_with_exact_reasons)
{
	dh_history_t h = { 0 };
	store_t *st;
	char *got;

	dh_add(&h, "S001", 1, dh_at(1, 0), STOCK_ENTITY, "S001-M-9", "add",
	    json_pack("{s:s, s:s, s:i, s:s}", "site", "S001", "sku", "SKU-A",
		"delta", 0, "reason", "count"),
	    0);
	/* A name change stamped ahead waits (a sale would not: store.h). */
	dh_add(&h, "S001", 2, hlc_pack(DH_WALL0 + 400000, 0), CUSTOMER_ENTITY,
	    "S001-C-2", "update", json_pack("{s:{s:s}}", "set", "name", "Ada"),
	    0);
	dh_add(&h, "S001", 3, dh_at(3, 0), STOCK_ENTITY, "S001-M-11", "add",
	    json_pack("{s:s, s:s, s:i, s:s}", "site", "S001", "sku", "SKU-A",
		"delta", 2, "reason", "receipt"),
	    1);
	dh_add(&h, "S002", 1, dh_at(1, 0), "widget", "S002-W-1", "add",
	    json_object(), 0);
	dh_add(&h, "S002", 2, dh_at(2, 0), ORDER_ENTITY, "S001-O-1",
	    "transition", json_pack("{s:s}", "to", "teleported"), 0);
	dh_add(&h, "W001", 1, dh_at(2, 0), CUSTOMER_ENTITY, "S001-C-1",
	    "update", json_pack("{s:{s:s}}", "set", "tier", "platinum"), 0);
	/* A refund labelled as another site's. */
	dh_add(&h, "W001", 2, dh_at(3, 0), PAYMENT_ENTITY, "W001-P-9", "add",
	    json_pack("{s:s, s:s, s:i, s:s, s:s}", "order", "S001-O-1",
		"method", "cash", "amount", -500, "currency", "CNY", "site",
		"S001"),
	    0);
	if ((st = dh_rule_run(&h)) != NULL) {
		got = dh_quarantined(st);
		CHECK_STR(got,
		    "'S001'|1|'apply op S001/1: stock movement S001-M-9: delta: must be "
		    "non-zero and within ±1000000000'\n"
		    "'S001'|2|'apply op S001/2: clock 400000 ms ahead (max 300000 "
		    "ms)'\n"
		    "'S002'|1|'apply op S002/1: unknown entity 'widget''\n"
		    "'S002'|2|'apply op S002/2: order S001-O-1: to: 'teleported' is not "
		    "an order status'\n"
		    "'W001'|1|'apply op W001/1: customer S001-C-1: tier: 'platinum' is "
		    "not one of retail, member, vip, wholesale'\n"
		    "'W001'|2|'apply op W001/2: payment W001-P-9: recorded at S001 but "
		    "written by W001 (a site records only its own payments)'\n");
		free(got);
		CHECK_EQ_INT(dh_alerts(st, "quarantined", NULL), 6);
		CHECK_EQ_INT(store_query_int(st,
				 store_stmt(st, "SELECT count(*) FROM op_log"),
				 -1),
		    1);
		CHECK_EQ_INT(store_query_int(st,
				 store_stmt(st,
				     "SELECT count(*) FROM customers"),
				 -1),
		    0);
		store_close(&st);
	}
	dh_history_free(&h);
}
