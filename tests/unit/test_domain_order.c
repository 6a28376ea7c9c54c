/*
 * test_domain_order: the merge rules of orders and of what hangs off them,
 * payments and invoices, each on one small hand-picked history run by
 * dh_rule_run (three orders and twice, the same state every time) and then
 * checked against what the rule says: order status is a max-register
 * (shipped beats a concurrent cancellation, with an alert), paid is the sum
 * of payments (concurrent refunds may go below zero: over_refund).
 *
 * The regressions at the end are the smallest reproductions of bugs the
 * converge test (test_domain_converge.c) once found: two creates of one
 * order id with equal clocks, and of one invoice id with any clocks, that
 * kept whichever arrived first.
 */
#include <stdlib.h>

#include "alert.h"
#include "domain_harness.h"
#include "domain_read.h"
#include "harness.h"
#include "invoice.h"
#include "order.h"
#include "payment.h"
#include "store.h"

/* Order status is a max-register: a cancellation concurrent with a shipment
 * resolves to shipped (even with the later clock) and raises the alert; a
 * plain cancellation raises none. */
TEST(rule_order_status_max_register_shipped_beats_cancelled)
{
	dh_history_t h = { 0 };
	store_t *st;
	json_t *o, *a;

	dh_add(&h, "S001", 1, dh_at(1, 0), ORDER_ENTITY, "O-1", "create",
	    json_pack("{s:s, s:s, s:s, s:s, s:s, s:[{s:s, s:i, s:i}]}", "site",
		"S001", "channel", "online", "currency", "CNY", "fulfil_site",
		"W001", "status", "confirmed", "lines", "sku", "SKU-A", "qty",
		2, "unit_price", 500),
	    1);
	dh_add(&h, "W001", 1, dh_at(2, 0), ORDER_ENTITY, "O-1", "transition",
	    json_pack("{s:s}", "to", "allocated"), 1);
	dh_add(&h, "W001", 2, dh_at(4, 0), ORDER_ENTITY, "O-1", "transition",
	    json_pack("{s:s, s:s}", "to", "shipped", "tracking", "SF1"), 1);
	dh_add(&h, "S001", 2, dh_at(5, 0), ORDER_ENTITY, "O-1", "transition",
	    json_pack("{s:s, s:s}", "to", "cancelled", "reason", "asked"), 1);
	dh_add(&h, "S002", 1, dh_at(1, 0), ORDER_ENTITY, "O-2", "create",
	    json_pack("{s:s, s:s, s:s, s:s, s:s, s:[{s:s, s:i, s:i}]}", "site",
		"S002", "channel", "store", "currency", "CNY", "fulfil_site",
		"S002", "status", "draft", "lines", "sku", "SKU-B", "qty", 1,
		"unit_price", 300),
	    1);
	dh_add(&h, "S002", 2, dh_at(2, 0), ORDER_ENTITY, "O-2", "transition",
	    json_pack("{s:s}", "to", "cancelled"), 1);
	if ((st = dh_rule_run(&h)) != NULL) {
		o = t_get(st, order_get, "O-1");
		CHECK_STR(json_string_value(json_object_get(o, "status")),
		    "shipped");
		CHECK_EQ_INT(json_array_size(json_object_get(o, "history")), 4);
		CHECK_EQ_INT(json_integer_value(json_object_get(o, "total")),
		    1000);
		json_decref(o);
		o = t_get(st, order_get, "O-2");
		CHECK_STR(json_string_value(json_object_get(o, "status")),
		    "cancelled");
		json_decref(o);
		CHECK_EQ_INT(dh_alerts(st, "conflicting_transition", "O-1"), 1);
		CHECK_EQ_INT(dh_alerts(st, "conflicting_transition", "O-2"), 0);
		a = t_list_where(st, alert_list, "kind",
		    "conflicting_transition");
		o = json_array_get(json_object_get(a, "items"), 0);
		CHECK_STR(json_string_value(json_object_get(o, "id")),
		    "conflicting_transition:S001:O-1");
		CHECK_STR(json_string_value(json_object_get(o, "message")),
		    "order O-1 was cancelled at S001 but shipped at W001: goods "
		    "left, open a return if needed");
		json_decref(a);
		store_close(&st);
	}
	dh_history_free(&h);
}

/* Paid is the sum of payments; two refunds written concurrently can take it
 * below zero, which only the merge shows: over_refund. */
TEST(rule_payments_sum_and_concurrent_refunds_raise_over_refund)
{
	dh_history_t h = { 0 };
	store_t *st;
	json_t *o, *a, *it;

	dh_add(&h, "S001", 1, dh_at(1, 0), ORDER_ENTITY, "O-3", "create",
	    json_pack("{s:s, s:s, s:s, s:s, s:s, s:[{s:s, s:i, s:i}]}", "site",
		"S001", "channel", "store", "currency", "CNY", "fulfil_site",
		"S001", "status", "completed", "lines", "sku", "SKU-B", "qty",
		1, "unit_price", 1000),
	    1);
	dh_add(&h, "S001", 2, dh_at(2, 0), PAYMENT_ENTITY, "P-1", "add",
	    json_pack("{s:s, s:s, s:i, s:s, s:s}", "order", "O-3", "method",
		"card", "amount", 1000, "currency", "CNY", "site", "S001"),
	    1);
	dh_add(&h, "S001", 3, dh_at(3, 0), PAYMENT_ENTITY, "P-2", "add",
	    json_pack("{s:s, s:s, s:i, s:s, s:s}", "order", "O-3", "method",
		"card", "amount", -600, "currency", "CNY", "site", "S001"),
	    1);
	dh_add(&h, "S002", 1, dh_at(3, 0), PAYMENT_ENTITY, "P-3", "add",
	    json_pack("{s:s, s:s, s:i, s:s, s:s}", "order", "O-3", "method",
		"cash", "amount", -700, "currency", "CNY", "site", "S002"),
	    1);
	dh_add(&h, "S002", 2, dh_at(4, 0), ORDER_ENTITY, "O-4", "create",
	    json_pack("{s:s, s:s, s:s, s:s, s:s, s:[{s:s, s:i, s:i}]}", "site",
		"S002", "channel", "store", "currency", "CNY", "fulfil_site",
		"S002", "status", "completed", "lines", "sku", "SKU-C", "qty",
		2, "unit_price", 250),
	    1);
	dh_add(&h, "S002", 3, dh_at(5, 0), PAYMENT_ENTITY, "P-4", "add",
	    json_pack("{s:s, s:s, s:i, s:s, s:s}", "order", "O-4", "method",
		"cash", "amount", 500, "currency", "CNY", "site", "S002"),
	    1);
	dh_add(&h, "S001", 4, dh_at(5, 0), PAYMENT_ENTITY, "P-5", "add",
	    json_pack("{s:s, s:s, s:i, s:s, s:s}", "order", "O-4", "method",
		"cash", "amount", -200, "currency", "CNY", "site", "S001"),
	    1);
	if ((st = dh_rule_run(&h)) != NULL) {
		o = t_get(st, order_get, "O-3");
		CHECK_EQ_INT(json_integer_value(json_object_get(o, "paid")),
		    -300);
		CHECK_EQ_INT(json_integer_value(json_object_get(o, "balance")),
		    1300);
		json_decref(o);
		o = t_get(st, order_get, "O-4");
		CHECK_EQ_INT(json_integer_value(json_object_get(o, "paid")),
		    300);
		json_decref(o);
		a = t_list_where(st, alert_list, "kind", "over_refund");
		CHECK_EQ_INT(json_array_size(json_object_get(a, "items")), 1);
		it = json_array_get(json_object_get(a, "items"), 0);
		CHECK_STR(json_string_value(json_object_get(it, "subject")),
		    "O-3");
		CHECK_STR(json_string_value(json_object_get(it, "message")),
		    "order O-3 refunded 300 more than was paid");
		json_decref(a);
		store_close(&st);
	}
	dh_history_free(&h);
}

/* ---- creates that clash: the same record at every replica ----
 * Each history runs in order, reversed and shuffled (dh_rule_run), so the
 * winner below is the rule's, not the arrival order's. */

/* Two creates of one order id with equal clocks (two tills given the same
 * client id at once), and a transition of a third site at that same clock:
 * the lower origin's create defines the order (S002 over W001), however
 * the transition sorts. */
TEST(order_create_tie_with_same_clock_transition)
{
	dh_history_t h = { 0 };
	store_t *st;
	json_t *o;

	dh_add(&h, "W001", 1, dh_at(1, 0), ORDER_ENTITY, "O-T", "create",
	    json_pack("{s:s, s:s, s:s, s:s, s:s, s:[{s:s, s:i, s:i}]}", "site",
		"W001", "channel", "online", "currency", "CNY", "fulfil_site",
		"W001", "status", "draft", "lines", "sku", "SKU-A", "qty", 1,
		"unit_price", 100),
	    1);
	dh_add(&h, "S001", 1, dh_at(1, 0), ORDER_ENTITY, "O-T", "transition",
	    json_pack("{s:s}", "to", "confirmed"), 1);
	dh_add(&h, "S002", 1, dh_at(1, 0), ORDER_ENTITY, "O-T", "create",
	    json_pack("{s:s, s:s, s:s, s:s, s:s, s:[{s:s, s:i, s:i}]}", "site",
		"S002", "channel", "store", "currency", "CNY", "fulfil_site",
		"S002", "status", "draft", "lines", "sku", "SKU-B", "qty", 2,
		"unit_price", 300),
	    1);
	if ((st = dh_rule_run(&h)) != NULL) {
		o = t_get(st, order_get, "O-T");
		CHECK_STR(json_string_value(json_object_get(o, "site")),
		    "S002");
		CHECK_EQ_INT(json_integer_value(json_object_get(o, "total")),
		    600);
		json_decref(o);
		store_close(&st);
	}
	dh_history_free(&h);
}

/* Two creates of one invoice id (invoice_create takes a client id; a site
 * restored from a backup re-issues its numbers): the earlier clock's
 * defines the invoice (order, amount, site, due date) at every replica. */
TEST(invoice_create_clash_goes_to_the_earlier_clock)
{
	dh_history_t h = { 0 };
	store_t *st;
	json_t *inv;

	dh_add(&h, "S001", 1, dh_at(1, 0), INVOICE_ENTITY, "INV-T", "create",
	    json_pack("{s:s, s:s, s:i, s:s, s:i}", "order", "O-1", "site",
		"S001", "amount", 100, "currency", "CNY", "due_days", 30),
	    1);
	dh_add(&h, "S002", 1, dh_at(2, 0), INVOICE_ENTITY, "INV-T", "create",
	    json_pack("{s:s, s:s, s:i, s:s, s:i}", "order", "O-2", "site",
		"S002", "amount", 900, "currency", "CNY", "due_days", 0),
	    1);
	if ((st = dh_rule_run(&h)) != NULL) {
		inv = t_get(st, invoice_get, "INV-T");
		CHECK_EQ_INT(json_integer_value(json_object_get(inv, "amount")),
		    100);
		json_decref(inv);
		store_close(&st);
	}
	dh_history_free(&h);
}
