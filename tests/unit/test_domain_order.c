/*
 * test_domain_order: the merge rules of orders and of what hangs off them,
 * payments and invoices, each on one small hand-picked history run by
 * dh_rule_run (three orders and twice, the same state every time) and then
 * checked against what the rule says: order status is a max-register
 * (shipped beats a concurrent cancellation, with an alert), paid is the sum
 * of payments (concurrent refunds may go below zero: over_refund).
 *
 * Then the order's stock and money after a merge (effect.h): a
 * cancellation that loses to a completion leaves no restock (whether it
 * arrived first, alone, or last), one that wins over a confirmation leaves
 * no sale, and a double charge raises overpaid with the amount to refund.
 *
 * Then who may write what (own.h): an order, a payment, an invoice under
 * its site's own id; the order's moves by the party that makes them; each
 * verdict the same in every order, also where an op arrives before the
 * order it needs (it waits for it). Two creates of one invoice id by its
 * site resolve to the earlier clock, whichever arrived first.
 *
 * The last ones are about money that cannot overflow (money.h): orders
 * over the limits quarantined with exact reasons, and sums over many
 * records (a report's group, a receivables bucket, an order's payments)
 * exact, or refused with an error naming what does not fit, never an
 * empty answer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "api.h"
#include "catalog.h"
#include "customer.h"
#include "domain_harness.h"
#include "domain_read.h"
#include "harness.h"
#include "invoice.h"
#include "money.h"
#include "order.h"
#include "payment.h"
#include "report.h"
#include "stock.h"
#include "store.h"

/* Order status is a max-register: a cancellation concurrent with a shipment
 * resolves to shipped (even with the later clock) and raises the alert; a
 * plain cancellation raises none. */
TEST(rule_order_status_max_register_shipped_beats_cancelled)
{
	dh_history_t h = { 0 };
	store_t *st;
	json_t *o, *a;

	dh_add(&h, "S001", 1, dh_at(1, 0), ORDER_ENTITY, "S001-O-1", "create",
	    json_pack("{s:s, s:s, s:s, s:s, s:s, s:[{s:s, s:i, s:i}]}", "site",
		"S001", "channel", "online", "currency", "CNY", "fulfil_site",
		"W001", "status", "confirmed", "lines", "sku", "SKU-A", "qty",
		2, "unit_price", 500),
	    1);
	dh_add(&h, "W001", 1, dh_at(2, 0), ORDER_ENTITY, "S001-O-1",
	    "transition", json_pack("{s:s}", "to", "allocated"), 1);
	dh_add(&h, "W001", 2, dh_at(4, 0), ORDER_ENTITY, "S001-O-1",
	    "transition",
	    json_pack("{s:s, s:s}", "to", "shipped", "tracking", "SF1"), 1);
	dh_add(&h, "S001", 2, dh_at(5, 0), ORDER_ENTITY, "S001-O-1",
	    "transition",
	    json_pack("{s:s, s:s}", "to", "cancelled", "reason", "asked"), 1);
	dh_add(&h, "S002", 1, dh_at(1, 0), ORDER_ENTITY, "S002-O-2", "create",
	    json_pack("{s:s, s:s, s:s, s:s, s:s, s:[{s:s, s:i, s:i}]}", "site",
		"S002", "channel", "store", "currency", "CNY", "fulfil_site",
		"S002", "status", "draft", "lines", "sku", "SKU-B", "qty", 1,
		"unit_price", 300),
	    1);
	dh_add(&h, "S002", 2, dh_at(2, 0), ORDER_ENTITY, "S002-O-2",
	    "transition", json_pack("{s:s}", "to", "cancelled"), 1);
	/* Only the fulfilling site ships, only the creator or head office
	 * cancels: S002 shipping S001's order, W001 cancelling it, head
	 * office shipping S002's, are refused everywhere (own.h), also
	 * where they arrive before the order (they wait for it). */
	dh_add(&h, "S002", 3, dh_at(3, 0), ORDER_ENTITY, "S001-O-1",
	    "transition", json_pack("{s:s}", "to", "shipped"), 0);
	dh_add(&h, "W001", 3, dh_at(3, 1), ORDER_ENTITY, "S001-O-1",
	    "transition", json_pack("{s:s}", "to", "cancelled"), 0);
	dh_add(&h, "HQ", 1, dh_at(3, 2), ORDER_ENTITY, "S002-O-2", "transition",
	    json_pack("{s:s}", "to", "shipped"), 0);
	if ((st = dh_rule_run(&h)) != NULL) {
		o = t_get(st, order_get, "S001-O-1");
		CHECK_STR(json_string_value(json_object_get(o, "status")),
		    "shipped");
		CHECK_EQ_INT(json_array_size(json_object_get(o, "history")), 4);
		CHECK_EQ_INT(json_integer_value(json_object_get(o, "total")),
		    1000);
		json_decref(o);
		o = t_get(st, order_get, "S002-O-2");
		CHECK_STR(json_string_value(json_object_get(o, "status")),
		    "cancelled");
		json_decref(o);
		CHECK_EQ_INT(dh_alerts(st, "conflicting_transition",
				 "S001-O-1"),
		    1);
		CHECK_EQ_INT(dh_alerts(st, "conflicting_transition",
				 "S002-O-2"),
		    0);
		a = t_list_where(st, alert_list, "kind",
		    "conflicting_transition");
		o = json_array_get(json_object_get(a, "items"), 0);
		CHECK_STR(json_string_value(json_object_get(o, "id")),
		    "conflicting_transition:S001:S001-O-1");
		CHECK_STR(json_string_value(json_object_get(o, "message")),
		    "order S001-O-1 was cancelled at S001 but shipped at W001: goods "
		    "left, open a return if needed");
		json_decref(a);
		{
			char *got = dh_quarantined(st);

			CHECK_STR(got,
			    "'HQ'|1|'apply op HQ/1: order S002-O-2: HQ may not "
			    "ship it: only its fulfilling site S002 may'\n"
			    "'S002'|3|'apply op S002/3: order S001-O-1: S002 "
			    "may not ship it: only its fulfilling site W001 "
			    "may'\n"
			    "'W001'|3|'apply op W001/3: order S001-O-1: W001 "
			    "may not cancel it: only its creating site S001 or "
			    "head office may'\n");
			free(got);
		}
		store_close(&st);
	}
	dh_history_free(&h);
}

/* Paid is the sum of payments; two refunds written concurrently (at the
 * store and at head office) can take it below zero, which only the merge
 * shows: over_refund. A site takes payments only on orders it is a party
 * to (own.h). */
TEST(rule_payments_sum_and_concurrent_refunds_raise_over_refund)
{
	dh_history_t h = { 0 };
	store_t *st;
	json_t *o, *a, *it;

	dh_add(&h, "S001", 1, dh_at(1, 0), ORDER_ENTITY, "S001-O-3", "create",
	    json_pack("{s:s, s:s, s:s, s:s, s:s, s:[{s:s, s:i, s:i}]}", "site",
		"S001", "channel", "store", "currency", "CNY", "fulfil_site",
		"S001", "status", "completed", "lines", "sku", "SKU-B", "qty",
		1, "unit_price", 1000),
	    1);
	dh_add(&h, "S001", 2, dh_at(2, 0), PAYMENT_ENTITY, "S001-P-1", "add",
	    json_pack("{s:s, s:s, s:i, s:s, s:s}", "order", "S001-O-3",
		"method", "card", "amount", 1000, "currency", "CNY", "site",
		"S001"),
	    1);
	dh_add(&h, "S001", 3, dh_at(3, 0), PAYMENT_ENTITY, "S001-P-2", "add",
	    json_pack("{s:s, s:s, s:i, s:s, s:s}", "order", "S001-O-3",
		"method", "card", "amount", -600, "currency", "CNY", "site",
		"S001"),
	    1);
	dh_add(&h, "HQ", 1, dh_at(3, 0), PAYMENT_ENTITY, "HQ-P-3", "add",
	    json_pack("{s:s, s:s, s:i, s:s, s:s}", "order", "S001-O-3",
		"method", "cash", "amount", -700, "currency", "CNY", "site",
		"HQ"),
	    1);
	/* A refund of S001's sale at S002, no party to it: refused. */
	dh_add(&h, "S002", 1, dh_at(3, 1), PAYMENT_ENTITY, "S002-P-6", "add",
	    json_pack("{s:s, s:s, s:i, s:s, s:s}", "order", "S001-O-3",
		"method", "cash", "amount", -1000, "currency", "CNY", "site",
		"S002"),
	    0);
	dh_add(&h, "S002", 2, dh_at(4, 0), ORDER_ENTITY, "S002-O-4", "create",
	    json_pack("{s:s, s:s, s:s, s:s, s:s, s:[{s:s, s:i, s:i}]}", "site",
		"S002", "channel", "store", "currency", "CNY", "fulfil_site",
		"S002", "status", "completed", "lines", "sku", "SKU-C", "qty",
		2, "unit_price", 250),
	    1);
	dh_add(&h, "S002", 3, dh_at(5, 0), PAYMENT_ENTITY, "S002-P-4", "add",
	    json_pack("{s:s, s:s, s:i, s:s, s:s}", "order", "S002-O-4",
		"method", "cash", "amount", 500, "currency", "CNY", "site",
		"S002"),
	    1);
	dh_add(&h, "HQ", 2, dh_at(5, 0), PAYMENT_ENTITY, "HQ-P-5", "add",
	    json_pack("{s:s, s:s, s:i, s:s, s:s}", "order", "S002-O-4",
		"method", "cash", "amount", -200, "currency", "CNY", "site",
		"HQ"),
	    1);
	if ((st = dh_rule_run(&h)) != NULL) {
		o = t_get(st, order_get, "S001-O-3");
		CHECK_EQ_INT(json_integer_value(json_object_get(o, "paid")),
		    -300);
		CHECK_EQ_INT(json_integer_value(json_object_get(o, "balance")),
		    1300);
		json_decref(o);
		o = t_get(st, order_get, "S002-O-4");
		CHECK_EQ_INT(json_integer_value(json_object_get(o, "paid")),
		    300);
		json_decref(o);
		a = t_list_where(st, alert_list, "kind", "over_refund");
		CHECK_EQ_INT(json_array_size(json_object_get(a, "items")), 1);
		it = json_array_get(json_object_get(a, "items"), 0);
		CHECK_STR(json_string_value(json_object_get(it, "subject")),
		    "S001-O-3");
		CHECK_STR(json_string_value(json_object_get(it, "message")),
		    "order S001-O-3 refunded 300 more than was paid");
		json_decref(a);
		{
			char *got = dh_quarantined(st);

			CHECK_STR(got,
			    "'S002'|1|'apply op S002/1: payment S002-P-6: "
			    "order S001-O-3: S002 may not take a payment or "
			    "refund on it: only its creating site S001, its "
			    "fulfilling site S001 or head office may'\n");
			free(got);
		}
		store_close(&st);
	}
	dh_history_free(&h);
}

/* Checks that a domain call (its return rc, its answer out) refused with
 * err's code and exact message, and answered nothing. */
#define CHECK_REFUSED(rc, out, err, code_, msg_)   \
	do {                                       \
		CHECK_EQ_INT((rc), -1);            \
		CHECK((out) == NULL);              \
		CHECK_EQ_INT((err).code, (code_)); \
		CHECK_STR((err).msg, (msg_));      \
	} while (0)

/* ---- stock and money follow the merged order (effect.h) ---- */

/* The sale and restock movements of an order and what each counts. */
#define LINKED_SQL                                              \
	"SELECT id, site, delta, counted FROM stock_movements " \
	"WHERE order_id IS NOT NULL ORDER BY id"

/* Adds S001's till sale id of qty TEA, confirmed at minute with its sale
 * movement (ops seq, seq + 1), as order.c writes it. */
static void
s_till_sale(dh_history_t *h, uint64_t seq, uint64_t minute, const char *id,
    int qty)
{
	char mid[32];

	snprintf(mid, sizeof mid, "%s-out-1", id);
	dh_add(h, "S001", seq, dh_at(minute, 0), ORDER_ENTITY, id, "create",
	    dh_order_fields("S001", "store", "confirmed", "TEA", qty, 1500), 1);
	dh_add(h, "S001", seq + 1, dh_at(minute, 1), STOCK_ENTITY, mid, "add",
	    dh_move_fields("S001", "TEA", -qty, "sale", id, NULL), 1);
}

/* Adds S001's cancellation of its till sale id of qty TEA at minute, with
 * the restock of its goods (ops seq, seq + 1). */
static void
s_till_cancel(dh_history_t *h, uint64_t seq, uint64_t minute, const char *id,
    int qty)
{
	char mid[32];

	snprintf(mid, sizeof mid, "%s-back-1", id);
	dh_add(h, "S001", seq, dh_at(minute, 0), ORDER_ENTITY, id, "transition",
	    json_pack("{s:s}", "to", "cancelled"), 1);
	dh_add(h, "S001", seq + 1, dh_at(minute, 1), STOCK_ENTITY, mid, "add",
	    dh_move_fields("S001", "TEA", qty, "return", id, NULL), 1);
}

/* The race of issue 10: S001 receives 10 TEA and sells 2 (O-1); head
 * office completes the sale (op 3) while S001 cancels it (ops 4, 5). */
static void
s_lost_cancellation(dh_history_t *h)
{
	dh_add(h, "S001", 1, dh_at(1, 0), STOCK_ENTITY, "S001-RCV-1", "add",
	    dh_move_fields("S001", "TEA", 10, "receipt", NULL, NULL), 1);
	s_till_sale(h, 2, 2, "S001-O-1", 2);
	dh_add(h, "HQ", 1, dh_at(3, 0), ORDER_ENTITY, "S001-O-1", "transition",
	    json_pack("{s:s}", "to", "completed"), 1);
	s_till_cancel(h, 4, 4, "S001-O-1", 2);
}

/* A store sale of 2 TEA: S001 cancels it (restocking) while head office
 * completes it. Completed wins the merge, so the goods left: the restock
 * counts nothing and S001 shows 10 - 2, whatever the arrival order; the
 * alert's advice to open a return is then right (before, the goods were
 * back on the shelf and a return would have added them twice). A plain
 * cancellation (O-2) still nets to nothing. */
TEST(rule_cancellation_that_loses_to_a_completion_leaves_no_restock)
{
	dh_history_t h = { 0 };
	store_t *st;
	char *got;

	s_lost_cancellation(&h);
	s_till_sale(&h, 6, 5, "S001-O-2", 1);
	s_till_cancel(&h, 8, 6, "S001-O-2", 1);
	if ((st = dh_rule_run(&h)) != NULL) {
		CHECK_EQ_INT(dh_on_hand(st, "S001", "TEA"), 8);
		got = dh_rows(st, LINKED_SQL);
		CHECK_STR(got,
		    "'S001-O-1-back-1'|'S001'|2|0\n"
		    "'S001-O-1-out-1'|'S001'|-2|-2\n"
		    "'S001-O-2-back-1'|'S001'|1|0\n"
		    "'S001-O-2-out-1'|'S001'|-1|0\n");
		free(got);
		got = dh_alert_message(st, "conflicting_transition",
		    "S001-O-1");
		CHECK_STR(got,
		    "order S001-O-1 was cancelled at S001 but completed at HQ: "
		    "goods left, open a return if needed");
		free(got);
		CHECK_EQ_INT(dh_alerts(st, "conflicting_transition", NULL), 1);
		store_close(&st);
	}
	dh_history_free(&h);
}

/* The store sees its cancellation alone first: the goods are back (10).
 * Head office's completion then arrives and takes them out again (8); a
 * replica that gets the completion first ends the same. */
TEST(cancellation_seen_alone_first_is_undone_when_the_completion_arrives)
{
	dh_history_t h = { 0 };
	store_t *st;
	size_t store_ops[] = { 0, 1, 2, 4, 5 }, hq_op[] = { 3 };
	size_t counts[INGEST_RESULTS] = { 0 };

	s_lost_cancellation(&h);
	st = dh_open(harness_tmpdir(), "S009");
	REQUIRE(st != NULL);
	REQUIRE(dh_ingest(st, &h, store_ops, 5, counts) == 0);
	CHECK_EQ_INT(dh_on_hand(st, "S001", "TEA"), 10);
	REQUIRE(dh_ingest(st, &h, hq_op, 1, counts) == 0);
	CHECK_EQ_INT(dh_on_hand(st, "S001", "TEA"), 8);
	store_close(&st);

	st = dh_open(harness_tmpdir(), "S008");
	REQUIRE(st != NULL);
	REQUIRE(dh_ingest(st, &h, hq_op, 1, counts) == 0);
	REQUIRE(dh_ingest(st, &h, store_ops, 5, counts) == 0);
	CHECK_EQ_INT(dh_on_hand(st, "S001", "TEA"), 8);
	store_close(&st);
	dh_history_free(&h);
}

/* Head office cancels S001's till sale: head office records no movement
 * of S001's stock (own.h), the cancelled sale counts nothing, so S001 is
 * back at 10 everywhere; S001's node, applying the cancellation, records
 * the restock of its goods itself (order.c), once. */
TEST(cancellation_elsewhere_is_restocked_by_the_site_the_goods_left)
{
	dh_history_t h = { 0 };
	store_t *st = dh_open(harness_tmpdir(), "HQ");
	size_t idx[4] = { 0, 1, 2, 3 }, counts[INGEST_RESULTS] = { 0 };
	json_t *req = json_pack("{s:s}", "to", "cancelled"), *out = NULL;
	err_t err;
	char *got;

	REQUIRE(st != NULL);
	dh_add(&h, "S001", 1, dh_at(1, 0), STOCK_ENTITY, "S001-RCV-1", "add",
	    dh_move_fields("S001", "TEA", 10, "receipt", NULL, NULL), 1);
	s_till_sale(&h, 2, 2, "S001-O-1", 2);
	REQUIRE(dh_ingest(st, &h, idx, 3, counts) == 0);
	CHECK_EQ_INT(dh_on_hand(st, "S001", "TEA"), 8);
	CHECK_MSG(order_transition(st, "S001-O-1", req, &out, &err) == 0,
	    "cancel S001-O-1: %s", err.msg);
	got = dh_rows(st, LINKED_SQL);
	CHECK_STR(got, "'S001-O-1-out-1'|'S001'|-2|0\n");
	free(got);
	CHECK_EQ_INT(dh_on_hand(st, "S001", "TEA"), 10);
	CHECK_EQ_INT(dh_on_hand(st, "HQ", "TEA"), 0);
	json_decref(out);
	store_close(&st);

	/* At S001: its own ops, then head office's cancellation. */
	dh_add(&h, "HQ", 1, dh_at(3, 0), ORDER_ENTITY, "S001-O-1", "transition",
	    json_pack("{s:s}", "to", "cancelled"), 1);
	st = dh_open(harness_tmpdir(), "S001");
	REQUIRE(st != NULL);
	REQUIRE(dh_ingest(st, &h, idx, 4, counts) == 0);
	REQUIRE(dh_ingest(st, &h, idx + 3, 1, counts) == 0);
	got = dh_rows(st,
	    "SELECT m.id, m.site, m.delta, m.counted, l.origin, l.seq FROM "
	    "stock_movements m JOIN op_log l ON l.key = m.id "
	    "WHERE m.order_id IS NOT NULL ORDER BY m.id");
	CHECK_STR(got,
	    "'S001-O-1-back-1'|'S001'|2|0|'S001'|4\n"
	    "'S001-O-1-out-1'|'S001'|-2|0|'S001'|3\n");
	free(got);
	CHECK_EQ_INT(dh_on_hand(st, "S001", "TEA"), 10);
	json_decref(req);
	store_close(&st);
	dh_history_free(&h);
}

/* The other way round: head office cancels a draft store sale while the
 * till confirms it (its sale movement). Cancelled outranks confirmed, so
 * the sale counts nothing: the stock says the goods are there, as the
 * status says, with or without a restock. */
TEST(rule_cancellation_that_wins_over_a_confirmation_leaves_no_sale)
{
	dh_history_t h = { 0 };
	store_t *st;
	char *got;

	dh_add(&h, "S001", 1, dh_at(1, 0), STOCK_ENTITY, "S001-RCV-1", "add",
	    dh_move_fields("S001", "TEA", 10, "receipt", NULL, NULL), 1);
	dh_add(&h, "S001", 2, dh_at(2, 0), ORDER_ENTITY, "S001-O-1", "create",
	    dh_order_fields("S001", "store", "draft", "TEA", 3, 1500), 1);
	dh_add(&h, "HQ", 1, dh_at(3, 0), ORDER_ENTITY, "S001-O-1", "transition",
	    json_pack("{s:s}", "to", "cancelled"), 1);
	dh_add(&h, "S001", 3, dh_at(4, 0), ORDER_ENTITY, "S001-O-1",
	    "transition", json_pack("{s:s}", "to", "confirmed"), 1);
	dh_add(&h, "S001", 4, dh_at(4, 1), STOCK_ENTITY, "S001-O-1-out-1",
	    "add", dh_move_fields("S001", "TEA", -3, "sale", "S001-O-1", NULL),
	    1);
	if ((st = dh_rule_run(&h)) != NULL) {
		CHECK_EQ_INT(dh_on_hand(st, "S001", "TEA"), 10);
		got = dh_rows(st, LINKED_SQL);
		CHECK_STR(got, "'S001-O-1-out-1'|'S001'|-3|0\n");
		free(got);
		CHECK_EQ_INT(dh_alerts(st, "conflicting_transition", NULL), 0);
		store_close(&st);
	}
	dh_history_free(&h);
}

/* Two full payments of one order at two sites (each under the balance it
 * knew): paid 6000 on a total of 3000, alerted with the amount to refund.
 * An order paid exactly raises nothing, and where the merge is known a
 * further payment is refused. */
TEST(rule_double_charge_raises_overpaid_with_the_refund)
{
	dh_history_t h = { 0 };
	store_t *st;
	json_t *o, *req, *out = NULL;
	err_t err;
	int created;
	char *got;

	dh_add(&h, "S001", 1, dh_at(1, 0), ORDER_ENTITY, "S001-O-1", "create",
	    dh_order_fields("S001", "store", "completed", "TEA", 2, 1500), 1);
	dh_add(&h, "S001", 2, dh_at(2, 0), PAYMENT_ENTITY, "S001-P-1", "add",
	    json_pack("{s:s, s:s, s:i, s:s, s:s}", "order", "S001-O-1",
		"method", "card", "amount", 3000, "currency", "CNY", "site",
		"S001"),
	    1);
	dh_add(&h, "HQ", 1, dh_at(2, 0), PAYMENT_ENTITY, "HQ-P-2", "add",
	    json_pack("{s:s, s:s, s:i, s:s, s:s}", "order", "S001-O-1",
		"method", "bank_transfer", "amount", 3000, "currency", "CNY",
		"site", "HQ"),
	    1);
	dh_add(&h, "S001", 3, dh_at(3, 0), ORDER_ENTITY, "S001-O-2", "create",
	    dh_order_fields("S001", "store", "completed", "TEA", 1, 1500), 1);
	dh_add(&h, "S001", 4, dh_at(4, 0), PAYMENT_ENTITY, "S001-P-3", "add",
	    json_pack("{s:s, s:s, s:i, s:s, s:s}", "order", "S001-O-2",
		"method", "cash", "amount", 1500, "currency", "CNY", "site",
		"S001"),
	    1);
	if ((st = dh_rule_run(&h)) != NULL) {
		o = t_get(st, order_get, "S001-O-1");
		CHECK_EQ_INT(json_integer_value(json_object_get(o, "paid")),
		    6000);
		CHECK_EQ_INT(json_integer_value(json_object_get(o, "balance")),
		    -3000);
		json_decref(o);
		got = dh_dump(t_list_where(st, alert_list, "kind", "overpaid"));
		CHECK_STR(got,
		    "{\"items\":[{\"at\":1699996520000,\"id\":"
		    "\"overpaid:S001:S001-O-1\",\"kind\":\"overpaid\",\"message\":"
		    "\"order S001-O-1 paid 6000 on a total of 3000: refund "
		    "3000\",\"site\":\"S001\",\"subject\":\"S001-O-1\"}]}");
		free(got);
		req = json_pack("{s:s, s:s, s:i, s:s}", "order", "S001-O-2",
		    "method", "cash", "amount", 1, "currency", "CNY");
		CHECK_REFUSED(payment_create(st, req, &out, &created, &err),
		    out, err, ERR_UNPROCESSABLE,
		    "amount: 1 exceeds the balance 0 of order S001-O-2");
		json_decref(req);
		store_close(&st);
	}
	dh_history_free(&h);
}

/* ---- who may create and move an order or an invoice (own.h) ----
 * Each history runs in order, reversed and shuffled (dh_rule_run), so each
 * verdict below is the rule's, not the arrival order's. */

/* An order is created under its site's own id: another site's create of
 * that id, with a clock that would win the tie-break of creates, is
 * refused everywhere, and so is a confirmation by a site that neither
 * created it nor is head office; the order stays S002's. */
TEST(order_create_under_another_sites_id_is_refused)
{
	dh_history_t h = { 0 };
	store_t *st;
	json_t *o;
	char *got;

	dh_add(&h, "S002", 1, dh_at(1, 0), ORDER_ENTITY, "S002-O-T", "create",
	    json_pack("{s:s, s:s, s:s, s:s, s:s, s:[{s:s, s:i, s:i}]}", "site",
		"S002", "channel", "store", "currency", "CNY", "fulfil_site",
		"S002", "status", "draft", "lines", "sku", "SKU-B", "qty", 2,
		"unit_price", 300),
	    1);
	dh_add(&h, "W001", 1, 1, ORDER_ENTITY, "S002-O-T", "create",
	    json_pack("{s:s, s:s, s:s, s:s, s:s, s:[{s:s, s:i, s:i}]}", "site",
		"W001", "channel", "online", "currency", "CNY", "fulfil_site",
		"W001", "status", "draft", "lines", "sku", "SKU-A", "qty", 1,
		"unit_price", 1),
	    0);
	dh_add(&h, "S001", 1, dh_at(1, 0), ORDER_ENTITY, "S002-O-T",
	    "transition", json_pack("{s:s}", "to", "confirmed"), 0);
	dh_add(&h, "HQ", 1, dh_at(1, 1), ORDER_ENTITY, "S002-O-T", "transition",
	    json_pack("{s:s}", "to", "confirmed"), 1);
	if ((st = dh_rule_run(&h)) != NULL) {
		o = t_get(st, order_get, "S002-O-T");
		CHECK_STR(json_string_value(json_object_get(o, "site")),
		    "S002");
		CHECK_EQ_INT(json_integer_value(json_object_get(o, "total")),
		    600);
		CHECK_STR(json_string_value(json_object_get(o, "status")),
		    "confirmed");
		json_decref(o);
		got = dh_quarantined(st);
		CHECK_STR(got,
		    "'S001'|1|'apply op S001/1: order S002-O-T: S001 may not "
		    "confirm it: only its creating site S002 or head office "
		    "may'\n"
		    "'W001'|1|'apply op W001/1: order S002-O-T: W001 creates "
		    "records only under its own ids (W001-...)'\n");
		free(got);
		store_close(&st);
	}
	dh_history_free(&h);
}

/* Two creates of one invoice id by its site (a site restored from a
 * backup re-issues its numbers): the earlier clock's defines the invoice
 * (order, amount, due date) at every replica. Another site's create of
 * the id is refused, as is its transition of it; head office may settle
 * it. */
TEST(invoice_create_clash_goes_to_the_earlier_clock)
{
	dh_history_t h = { 0 };
	store_t *st;
	json_t *inv;
	char *got;

	dh_add(&h, "S001", 1, dh_at(1, 0), INVOICE_ENTITY, "S001-INV-T",
	    "create",
	    json_pack("{s:s, s:s, s:i, s:s, s:i}", "order", "S001-O-1", "site",
		"S001", "amount", 100, "currency", "CNY", "due_days", 30),
	    1);
	dh_add(&h, "S001", 2, dh_at(2, 0), INVOICE_ENTITY, "S001-INV-T",
	    "create",
	    json_pack("{s:s, s:s, s:i, s:s, s:i}", "order", "S001-O-2", "site",
		"S001", "amount", 900, "currency", "CNY", "due_days", 0),
	    1);
	dh_add(&h, "S002", 1, 1, INVOICE_ENTITY, "S001-INV-T", "create",
	    json_pack("{s:s, s:s, s:i, s:s, s:i}", "order", "S002-O-2", "site",
		"S002", "amount", 5, "currency", "CNY", "due_days", 0),
	    0);
	dh_add(&h, "S002", 2, dh_at(3, 0), INVOICE_ENTITY, "S001-INV-T",
	    "transition", json_pack("{s:s}", "to", "void"), 0);
	dh_add(&h, "HQ", 1, dh_at(3, 1), INVOICE_ENTITY, "S001-INV-T",
	    "transition", json_pack("{s:s}", "to", "paid"), 1);
	if ((st = dh_rule_run(&h)) != NULL) {
		inv = t_get(st, invoice_get, "S001-INV-T");
		CHECK_EQ_INT(json_integer_value(json_object_get(inv, "amount")),
		    100);
		CHECK_STR(json_string_value(json_object_get(inv, "order")),
		    "S001-O-1");
		CHECK_STR(json_string_value(json_object_get(inv, "status")),
		    "paid");
		json_decref(inv);
		got = dh_quarantined(st);
		CHECK_STR(got,
		    "'S002'|1|'apply op S002/1: invoice S001-INV-T: S002 "
		    "creates records only under its own ids (S002-...)'\n"
		    "'S002'|2|'apply op S002/2: invoice S001-INV-T: S002 may not "
		    "mark it void: only its issuing site or head office may'\n");
		free(got);
		store_close(&st);
	}
	dh_history_free(&h);
}

/* ---- money: limits, and sums that cannot overflow (money.h) ---- */

/* An order create op's fields: site's confirmed store sale of n lines of
 * sku at qty x price. */
static json_t *
s_order_fields(const char *site, const char *sku, int n, json_int_t qty,
    json_int_t price)
{
	json_t *lines = json_array();
	int i;

	for (i = 0; i < n; i++)
		json_array_append_new(lines,
		    json_pack("{s:s, s:I, s:I}", "sku", sku, "qty", qty,
			"unit_price", price));
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}", "site", site,
	    "channel", "store", "currency", "CNY", "fulfil_site", site,
	    "status", "confirmed", "lines", lines);
}

/* Orders over the limits, from other sites, are quarantined with the same
 * exact reason everywhere; an order of exactly the limit is applied. The
 * two orders of 5 x 10^18 each fit in int64, their sum does not: they are
 * the two that once emptied head office's sales report by sku. */
TEST(order_ops_over_the_limits_quarantined_with_exact_reasons)
{
	dh_history_t h = { 0 };
	store_t *st;
	json_t *o;
	char *got;

	dh_add(&h, "S001", 1, dh_at(1, 0), ORDER_ENTITY, "S001-O-OK", "create",
	    s_order_fields("S001", "BOX", 1, 2, 500), 1);
	dh_add(&h, "S001", 2, dh_at(2, 0), ORDER_ENTITY, "S001-O-MAX", "create",
	    s_order_fields("S001", "TEA", 1, 1000, MONEY_PRICE_MAX), 1);
	dh_add(&h, "S002", 1, dh_at(3, 0), ORDER_ENTITY, "S002-BIG-1", "create",
	    s_order_fields("S002", "BOX", 5, MONEY_QTY_MAX, MONEY_PRICE_MAX),
	    0);
	dh_add(&h, "W001", 1, dh_at(3, 0), ORDER_ENTITY, "W001-BIG-2", "create",
	    s_order_fields("W001", "BOX", 5, MONEY_QTY_MAX, MONEY_PRICE_MAX),
	    0);
	dh_add(&h, "S002", 2, dh_at(4, 0), ORDER_ENTITY, "S002-Q-1", "create",
	    s_order_fields("S002", "BOX", 1, MONEY_QTY_MAX + 1, 1), 0);
	dh_add(&h, "S002", 3, dh_at(5, 0), ORDER_ENTITY, "S002-P-1", "create",
	    s_order_fields("S002", "BOX", 1, 1, MONEY_PRICE_MAX + 1), 0);
	/* 200 lines of 10^18 each: past int64 while it is summed. */
	dh_add(&h, "S002", 4, dh_at(6, 0), ORDER_ENTITY, "S002-T-1", "create",
	    s_order_fields("S002", "BOX", MONEY_LINES_MAX, MONEY_QTY_MAX,
		MONEY_PRICE_MAX),
	    0);
	dh_add(&h, "W001", 2, dh_at(7, 0), INVOICE_ENTITY, "W001-INV-B",
	    "create",
	    json_pack("{s:s, s:s, s:I, s:s, s:i}", "order", "S001-O-MAX",
		"site", "W001", "amount", (json_int_t)MONEY_TOTAL_MAX + 1,
		"currency", "CNY", "due_days", 30),
	    0);
	if ((st = dh_rule_run(&h)) != NULL) {
		got = dh_quarantined(st);
		CHECK_STR(got,
		    "'S002'|1|'apply op S002/1: order S002-BIG-1: lines: total "
		    "5000000000000000000 exceeds the limit of 1000000000000000 "
		    "per order'\n"
		    "'S002'|2|'apply op S002/2: order S002-Q-1: lines[0]: qty: "
		    "1000001 exceeds the limit of 1000000 per line'\n"
		    "'S002'|3|'apply op S002/3: order S002-P-1: lines[0]: "
		    "unit_price: 1000000000001 exceeds the limit of "
		    "1000000000000 per unit'\n"
		    "'S002'|4|'apply op S002/4: order S002-T-1: lines: total "
		    "200000000000000000000 exceeds the limit of "
		    "1000000000000000 per order'\n"
		    "'W001'|1|'apply op W001/1: order W001-BIG-2: lines: total "
		    "5000000000000000000 exceeds the limit of 1000000000000000 "
		    "per order'\n"
		    "'W001'|2|'apply op W001/2: invoice W001-INV-B: amount: "
		    "1000000000000001 exceeds the limit of 1000000000000000 per "
		    "invoice'\n");
		free(got);
		o = t_get(st, order_get, "S001-O-MAX");
		CHECK_EQ_INT(json_integer_value(json_object_get(o, "total")),
		    MONEY_TOTAL_MAX);
		json_decref(o);
		got = dh_dump(t_list_where(st, report_sales, "group", "sku"));
		CHECK_STR(got,
		    "{\"group\":\"sku\",\"items\":[{\"currency\":\"CNY\","
		    "\"orders\":1,\"qty\":2,\"sku\":\"BOX\",\"total\":1000},"
		    "{\"currency\":\"CNY\",\"orders\":1,\"qty\":1000,\"sku\":"
		    "\"TEA\",\"total\":1000000000000000}]}");
		free(got);
		store_close(&st);
	}
	dh_history_free(&h);
}

/* Runs sql on st (a state no op makes now: what the rules before the
 * limits of money.h let a site write, or a row no rule writes). */
static void
s_exec(store_t *st, char *sql)
{
	char *msg = NULL;

	CHECK_MSG(sqlite3_exec(store_db(st), sql, NULL, NULL, &msg) ==
		SQLITE_OK,
	    "%s: %s", sql, msg ? msg : "?");
	sqlite3_free(msg);
	sqlite3_free(sql);
}

/* Order id of site as the rules before the limits let it be written: a
 * confirmed sale of n lines of sku at qty x price (and so of any total
 * that fitted in int64). */
static void
s_legacy_order(store_t *st, const char *id, const char *site, const char *sku,
    int n, int64_t qty, int64_t price)
{
	/* The sum of its lines, which the rules checked fitted (a row they
	 * never wrote is stored with total 0). */
	money_sum_t total = (money_sum_t)n * qty * price;
	int i;

	s_exec(st,
	    sqlite3_mprintf("INSERT INTO orders(id, site, channel, currency, "
			    "fulfil_site, total, created_hlc) VALUES "
			    "(%Q, %Q, 'store', 'CNY', %Q, %lld, %lld)",
		id, site, site, (long long)(total <= INT64_MAX ? total : 0),
		(long long)dh_at(1, 0)));
	s_exec(st,
	    sqlite3_mprintf("INSERT INTO order_history(order_id, origin, seq, "
			    "hlc, status, rank) VALUES "
			    "(%Q, %Q, 1, %lld, 'confirmed', %d)",
		id, site, (long long)dh_at(1, 0), ORDER_RANK_CONFIRMED));
	for (i = 1; i <= n; i++)
		s_exec(st,
		    sqlite3_mprintf("INSERT INTO order_lines(order_id, line, "
				    "sku, qty, unit_price) VALUES "
				    "(%Q, %d, %Q, %lld, %lld)",
			id, i, sku, (long long)qty, (long long)price));
}

/* status and error message (or the JSON answer) of GET path?group=group
 * through the API, as "STATUS TEXT" (caller frees). */
static char *
s_api_get(store_t *st, const char *path, const char *group)
{
	api_t *api = api_new(NULL, st, "store");
	json_t *q = json_pack("{s:s}", "group", group), *out = NULL;
	int status = api_call(api, "GET", path, q, NULL, &out);
	const char *msg = json_string_value(
	    json_object_get(json_object_get(out, "error"), "message"));
	char *text = msg != NULL ? strdup(msg) : dh_dump(json_incref(out));
	char *r = NULL;

	if (asprintf(&r, "%d %s", status, text) < 0)
		abort();
	free(text);
	json_decref(out);
	json_decref(q);
	api_destroy(&api);
	return r;
}

/* Two orders written before the limits, each of 5 x 10^18: their sum does
 * not fit in int64. The report by site sums every group exactly (S002's
 * 5 x 10^18 + 5 included); the report by sku refuses with an error that
 * names the group (422), where SQLite's sum() used to fail the whole
 * statement and the report came back empty. */
TEST(sales_report_sums_exactly_or_names_the_group_that_does_not_fit)
{
	store_t *st = dh_open(harness_tmpdir(), "S009");
	json_t *q, *req, *out = NULL;
	err_t err;
	char *got;
	int created;

	REQUIRE(st != NULL);
	s_legacy_order(st, "BIG-1", "S001", "BOX", 5, MONEY_QTY_MAX,
	    MONEY_PRICE_MAX);
	s_legacy_order(st, "BIG-2", "S002", "BOX", 5, MONEY_QTY_MAX,
	    MONEY_PRICE_MAX);
	s_legacy_order(st, "SMALL", "S002", "TEA", 1, 1, 5);

	got = dh_dump(t_list_where(st, report_sales, "group", "site"));
	CHECK_STR(got,
	    "{\"group\":\"site\",\"items\":[{\"currency\":\"CNY\",\"orders\":1,"
	    "\"qty\":5000000,\"site\":\"S001\",\"total\":5000000000000000000},"
	    "{\"currency\":\"CNY\",\"orders\":2,\"qty\":5000001,\"site\":"
	    "\"S002\",\"total\":5000000000000000005}]}");
	free(got);

	q = json_pack("{s:s}", "group", "sku");
	CHECK_REFUSED(report_sales(st, q, &out, &err), out, err,
	    ERR_UNPROCESSABLE,
	    "report sales: sku BOX, CNY: total: 10000000000000000000 exceeds "
	    "the largest representable amount 9223372036854775807");
	json_decref(q);

	got = s_api_get(st, "/v1/reports/sales", "sku");
	CHECK_STR(got,
	    "422 report sales: sku BOX, CNY: total: 10000000000000000000 "
	    "exceeds the largest representable amount 9223372036854775807");
	free(got);
	/* Nor can such an order be invoiced: over the limit of an invoice. */
	req = json_pack("{s:s}", "order", "BIG-1");
	CHECK_REFUSED(invoice_create(st, req, &out, &created, &err), out, err,
	    ERR_UNPROCESSABLE,
	    "invoice S009-INV-000001: amount: 5000000000000000000 exceeds the "
	    "limit of 1000000000000000 per invoice");
	json_decref(req);
	got = s_api_get(st, "/v1/reports/sales", "customer");
	CHECK_STR(got,
	    "422 report sales: customer (walk-in), CNY: total: "
	    "10000000000000000005 exceeds the largest representable amount "
	    "9223372036854775807");
	free(got);
	store_close(&st);
}

/* A report whose SQL fails mid-way (here SQLite's sum() overflowing inside
 * one order, a row no rule writes: the lines of an order always fitted in
 * int64 together) is a storage failure, answered 500 with the reason: never
 * a 200 with the rows that came before, or none. */
TEST(sales_report_sql_failure_is_a_500_never_an_empty_list)
{
	store_t *st = dh_open(harness_tmpdir(), "S009");
	json_t *q, *out = NULL;
	err_t err;
	char *got;

	REQUIRE(st != NULL);
	s_legacy_order(st, "A-1", "S001", "TEA", 1, 1, 5);
	s_legacy_order(st, "BAD", "S002", "BOX", 2, 5000000, MONEY_PRICE_MAX);
	q = json_pack("{s:s}", "group", "site");
	CHECK_REFUSED(report_sales(st, q, &out, &err), out, err, ERR_INTERNAL,
	    "read SELECT o.site AS k, o.currency, sum(l.qty), sum(l.qty * "
	    "l.un: integer overflow");
	json_decref(q);
	got = s_api_get(st, "/v1/reports/sales", "site");
	CHECK_STR(got,
	    "500 read SELECT o.site AS k, o.currency, sum(l.qty), sum(l.qty * "
	    "l.un: integer overflow");
	free(got);
	store_close(&st);
}

/* Invoice id for order of amount, issued at the replicas' wall clock. */
static void
s_legacy_invoice(store_t *st, const char *id, int64_t amount)
{
	s_exec(st,
	    sqlite3_mprintf("INSERT INTO invoices(id, order_id, site, amount, "
			    "currency, issued_ms, due_ms) VALUES "
			    "(%Q, 'O-1', 'S001', %lld, 'CNY', %lld, %lld)",
		id, (long long)amount, (long long)DH_WALL0,
		(long long)(DH_WALL0 + 30 * DAY_MS)));
	s_exec(st,
	    sqlite3_mprintf("INSERT INTO invoice_history(invoice_id, origin, "
			    "seq, hlc, status, rank) VALUES "
			    "(%Q, 'S001', 1, %lld, 'issued', 0)",
		id, (long long)dh_at(1, 0)));
}

/* Receivables per bucket are summed exactly: seven invoices of 2^60 (the
 * most an invoice op carried before the limits) show 7 x 2^60; an eighth
 * takes the bucket to 2^63, which no int64 holds: refused, naming the
 * currency and the bucket. */
TEST(receivables_totals_exact_or_refused_naming_the_bucket)
{
	store_t *st = dh_open(harness_tmpdir(), "S009");
	json_t *out = NULL;
	err_t err;
	char id[16], *got;
	int i;

	REQUIRE(st != NULL);
	for (i = 1; i <= 7; i++) {
		snprintf(id, sizeof id, "INV-%d", i);
		s_legacy_invoice(st, id, INT64_C(1) << 60);
	}
	got = dh_dump(json_incref(
	    json_object_get((out = t_list(st, invoice_receivables, NULL)),
		"totals")));
	CHECK_STR(got,
	    "{\"CNY\":{\"0-30\":8070450532247928832,\"31-60\":0,\"61-90\":0,"
	    "\"90+\":0}}");
	free(got);
	json_decref(out);
	s_legacy_invoice(st, "INV-8", INT64_C(1) << 60);
	CHECK_REFUSED(invoice_receivables(st, NULL, &out, &err), out, err,
	    ERR_UNPROCESSABLE,
	    "report receivables: CNY 0-30 days: total: 9223372036854775808 "
	    "exceeds the largest representable amount 9223372036854775807");
	store_close(&st);
}

/* Paid is the sum of any number of payments, each within its limit: 8193
 * payments of 2^50 from its site are each valid, and together past int64.
 * The order then reads as an error naming it and its paid; a list shows
 * it with paid and balance null and the reason (never without it, never
 * failing for everyone); 8192 refunds of 2^50 make paid exactly the
 * smallest int64, which fits, and the balance past the largest, which
 * does not. Other orders read as before, and the over-refund is alerted. */
TEST(order_paid_past_int64_is_an_error_naming_the_order)
{
	dh_history_t h = { 0 };
	store_t *st = dh_open(harness_tmpdir(), "S009");
	size_t *idx, i, counts[INGEST_RESULTS] = { 0 };
	uint64_t seq = 1;
	json_t *o, *out = NULL;
	err_t err;
	char pid[32], *got;

	REQUIRE(st != NULL);
	dh_add(&h, "S001", seq++, dh_at(1, 0), ORDER_ENTITY, "S001-O-P",
	    "create", s_order_fields("S001", "BOX", 1, 1, 1000), 1);
	dh_add(&h, "S001", seq++, dh_at(1, 0), ORDER_ENTITY, "S001-O-R",
	    "create", s_order_fields("S001", "BOX", 1, 1, 1000), 1);
	dh_add(&h, "S001", seq++, dh_at(1, 0), ORDER_ENTITY, "S001-O-OK",
	    "create", s_order_fields("S001", "BOX", 1, 1, 1000), 1);
	for (i = 0; i < 8193 + 8192; i++) {
		int refund = i >= 8193;

		snprintf(pid, sizeof pid, "S001-P-%zu", i);
		dh_add(&h, "S001", seq++, dh_at(2, (uint32_t)i), PAYMENT_ENTITY,
		    pid, "add",
		    json_pack("{s:s, s:s, s:I, s:s, s:s}", "order",
			refund ? "S001-O-R" : "S001-O-P", "method", "card",
			"amount",
			(json_int_t)(refund ? -MONEY_PAYMENT_MAX
					    : MONEY_PAYMENT_MAX),
			"currency", "CNY", "site", "S001"),
		    1);
	}
	idx = malloc(h.n * sizeof *idx);
	REQUIRE(idx != NULL);
	for (i = 0; i < h.n; i++)
		idx[i] = i;
	if (dh_ingest(st, &h, idx, h.n, counts) == 0) {
		CHECK_EQ_INT(counts[INGEST_APPLIED], h.n);
		CHECK_REFUSED(order_get(st, "S001-O-P", &out, &err), out, err,
		    ERR_UNPROCESSABLE,
		    "order S001-O-P: paid: 9224497936761618432 exceeds the largest "
		    "representable amount 9223372036854775807");
		CHECK_REFUSED(order_get(st, "S001-O-R", &out, &err), out, err,
		    ERR_UNPROCESSABLE,
		    "order S001-O-R: balance: 9223372036854776808 exceeds the "
		    "largest representable amount 9223372036854775807");
		/* A list shows such an order with the reason, and the rest
		 * as usual. */
		got = dh_dump(t_list(st, order_list, NULL));
		CHECK(strstr(got,
			  "\"balance\":null,\"channel\":\"store\","
			  "\"created_ms\"") != NULL);
		CHECK(
		    strstr(got,
			"\"error\":\"order S001-O-P: paid: 9224497936761618432 "
			"exceeds the largest representable amount "
			"9223372036854775807\"") != NULL);
		CHECK(strstr(got, "\"balance\":1000,") != NULL);
		free(got);
		o = t_get(st, order_get, "S001-O-OK");
		CHECK_EQ_INT(json_integer_value(json_object_get(o, "balance")),
		    1000);
		json_decref(o);
		got = dh_dump(t_list(st, report_sales, NULL));
		CHECK_STR(got,
		    "{\"group\":\"site\",\"items\":[{\"currency\":\"CNY\","
		    "\"orders\":3,\"qty\":3,\"site\":\"S001\",\"total\":"
		    "3000}]}");
		free(got);
		/* The alerts sum in floating point for their conditions: the
		 * refund beyond what was paid is alerted, with its amount. */
		got = dh_dump(
		    t_list_where(st, alert_list, "kind", "over_refund"));
		CHECK_STR(got,
		    "{\"items\":[{\"at\":1699996520000,\"id\":"
		    "\"over_refund:S001:S001-O-R\",\"kind\":\"over_refund\","
		    "\"message\":\"order S001-O-R refunded about "
		    "9223372036854775000 more than was paid\",\"site\":"
		    "\"S001\",\"subject\":\"S001-O-R\"}]}");
		free(got);
	}
	free(idx);
	store_close(&st);
	dh_history_free(&h);
}

/* A customer's exposure is summed exactly: an order on account written
 * before the limits, of nearly the largest int64, plus a new order of 1000
 * is over the credit limit of 1000 (it used to wrap to a negative amount
 * owed, and the order was taken). */
TEST(credit_limit_check_sums_exposure_exactly)
{
	dh_history_t h = { 0 };
	store_t *st = dh_open(harness_tmpdir(), "S009");
	size_t idx[2] = { 0, 1 }, counts[INGEST_RESULTS] = { 0 };
	json_t *req, *out = NULL;
	err_t err;
	int created;

	REQUIRE(st != NULL);
	dh_add(&h, "HQ", 1, dh_at(1, 0), PRODUCT_ENTITY, "BOX", "set",
	    json_pack("{s:s}", "name", "Carton"), 1);
	dh_add(&h, "S001", 1, dh_at(1, 0), CUSTOMER_ENTITY, "S001-C-1",
	    "create",
	    json_pack("{s:{s:s, s:i}}", "set", "name", "Tea House",
		"credit_limit", 1000),
	    1);
	if (dh_ingest(st, &h, idx, 2, counts) == 0) {
		s_legacy_order(st, "OLD-1", "S001", "BOX", 1, 1, 1);
		s_exec(st,
		    sqlite3_mprintf("UPDATE orders SET customer = 'S001-C-1', "
				    "on_account = 1, total = %lld "
				    "WHERE id = 'OLD-1'",
			(long long)(INT64_MAX - 500)));
		req =
		    json_pack("{s:s, s:s, s:s, s:b, s:s, s:[{s:s, s:i, s:i}]}",
			"channel", "b2b", "customer", "S001-C-1", "currency",
			"CNY", "on_account", 1, "status", "confirmed", "lines",
			"sku", "BOX", "qty", 1, "unit_price", 1000);
		CHECK_REFUSED(order_create(st, req, &out, &created, &err), out,
		    err, ERR_UNPROCESSABLE,
		    "on_account: customer S001-C-1 would owe 9223372036854776307, "
		    "over the credit limit 1000");
		json_decref(req);
	}
	store_close(&st);
	dh_history_free(&h);
}
