/*
 * test_domain_stock: the stock movement's merge rules, each on one small
 * hand-picked history run by dh_rule_run (three orders and twice, the same
 * state every time) and then checked against what the rule says: on-hand
 * is a PN-counter over the movements that win their id, it may go negative
 * (with an alert), a claim of a movement id that loses leaves no row, only
 * a return names the order it is against (effect.h), a site moves only its
 * own stock under its own ids, and a transfer is received only by its
 * destination, whose node records the receipt itself (own.h, stock.h).
 */
#include <stdlib.h>

#include "alert.h"
#include "domain_harness.h"
#include "domain_read.h"
#include "effect.h"
#include "harness.h"
#include "order.h"
#include "stock.h"
#include "store.h"

/* On-hand is a PN-counter over the movements that win their id: it goes
 * negative after a merge (no sale refused) and raises negative_stock. Two
 * claims of one id by its site with equal clocks: the lower seq's is the
 * movement. Another site's claim of the id, or its movement of this
 * site's stock, is refused (own.h), whatever its clock. */
TEST(rule_stock_pn_counter_goes_negative_with_alert)
{
	dh_history_t h = { 0 };
	store_t *st;
	json_t *l, *a, *it, *q;
	char *got;

	dh_add(&h, "S001", 1, dh_at(1, 0), STOCK_ENTITY, "S001-M-1", "add",
	    json_pack("{s:s, s:s, s:i, s:s}", "site", "S001", "sku", "SKU-A",
		"delta", 5, "reason", "receipt"),
	    1);
	dh_add(&h, "S001", 2, dh_at(2, 0), STOCK_ENTITY, "S001-M-2", "add",
	    json_pack("{s:s, s:s, s:i, s:s}", "site", "S001", "sku", "SKU-A",
		"delta", -3, "reason", "sale"),
	    1);
	dh_add(&h, "S001", 3, dh_at(2, 1), STOCK_ENTITY, "S001-M-3", "add",
	    json_pack("{s:s, s:s, s:i, s:s}", "site", "S001", "sku", "SKU-A",
		"delta", -4, "reason", "sale"),
	    1);
	dh_add(&h, "S001", 4, dh_at(3, 0), STOCK_ENTITY, "S001-MV-X", "add",
	    json_pack("{s:s, s:s, s:i, s:s}", "site", "S001", "sku", "SKU-A",
		"delta", -9, "reason", "adjustment"),
	    1);
	dh_add(&h, "S001", 5, dh_at(3, 0), STOCK_ENTITY, "S001-MV-X", "add",
	    json_pack("{s:s, s:s, s:i, s:s}", "site", "S001", "sku", "SKU-A",
		"delta", -2, "reason", "adjustment"),
	    1);
	dh_add(&h, "S002", 1, dh_at(4, 0), STOCK_ENTITY, "S002-M-4", "add",
	    json_pack("{s:s, s:s, s:i, s:s}", "site", "S002", "sku", "SKU-B",
		"delta", 4, "reason", "receipt"),
	    1);
	/* S002's claim of S001's id with a clock of 1, and its movement of
	 * S001's stock under its own id. */
	dh_add(&h, "S002", 2, 1, STOCK_ENTITY, "S001-MV-X", "add",
	    json_pack("{s:s, s:s, s:i, s:s}", "site", "S002", "sku", "SKU-A",
		"delta", 50, "reason", "receipt"),
	    0);
	dh_add(&h, "S002", 3, dh_at(5, 0), STOCK_ENTITY, "S002-M-5", "add",
	    json_pack("{s:s, s:s, s:i, s:s}", "site", "S001", "sku", "SKU-A",
		"delta", -777, "reason", "adjustment"),
	    0);
	if ((st = dh_rule_run(&h)) != NULL) {
		q = json_pack("{s:s, s:s}", "site", "S001", "sku", "SKU-A");
		l = t_list(st, stock_list, q);
		json_decref(q);
		CHECK_EQ_INT(json_integer_value(json_object_get(
				 json_array_get(json_object_get(l, "items"), 0),
				 "on_hand")),
		    -11);
		json_decref(l);
		CHECK_EQ_INT(
		    store_query_int(st,
			store_stmt(st,
			    "SELECT count(*) FROM stock_movements WHERE id = "
			    "'S001-MV-X' AND origin = 'S001' AND seq = 4 AND "
			    "delta = -9"),
			-1),
		    1);
		a = t_list_where(st, alert_list, "kind", "negative_stock");
		CHECK_EQ_INT(json_array_size(json_object_get(a, "items")), 1);
		it = json_array_get(json_object_get(a, "items"), 0);
		CHECK_STR(json_string_value(json_object_get(it, "id")),
		    "negative_stock:S001:SKU-A");
		CHECK_STR(json_string_value(json_object_get(it, "message")),
		    "S001 SKU-A on hand -11: more sold than recorded, count it");
		json_decref(a);
		got = dh_quarantined(st);
		CHECK_STR(got,
		    "'S002'|2|'apply op S002/2: stock movement S001-MV-X: S002 "
		    "creates records only under its own ids (S002-...)'\n"
		    "'S002'|3|'apply op S002/3: stock movement S002-M-5: "
		    "recorded at S001 but written by S002 (a site moves only "
		    "its own stock)'\n");
		free(got);
		store_close(&st);
	}
	dh_history_free(&h);
}

/* A movement id claimed twice for two skus: the losing claim must leave
 * nothing, not even an on-hand row of 0, whichever claim arrived first. */
TEST(rule_losing_movement_claim_leaves_no_row)
{
	dh_history_t h = { 0 };
	store_t *st;
	char *got;

	dh_add(&h, "S001", 1, dh_at(1, 0), STOCK_ENTITY, "S001-MV-1", "add",
	    json_pack("{s:s, s:s, s:i, s:s}", "site", "S001", "sku", "SKU-A",
		"delta", 5, "reason", "receipt"),
	    1);
	dh_add(&h, "S001", 2, dh_at(2, 0), STOCK_ENTITY, "S001-MV-1", "add",
	    json_pack("{s:s, s:s, s:i, s:s}", "site", "S001", "sku", "SKU-B",
		"delta", 3, "reason", "receipt"),
	    1);
	if ((st = dh_rule_run(&h)) != NULL) {
		got = dh_dump(t_list(st, stock_list, NULL));
		CHECK_STR(got,
		    "{\"items\":[{\"available\":5,\"on_hand\":5,"
		    "\"reserved\":0,\"site\":\"S001\",\"sku\":\"SKU-A\"}]}");
		free(got);
		store_close(&st);
	}
	dh_history_free(&h);
}

/* Only a return names the order it is against (effect.h); any other
 * movement that does is refused everywhere. A return whose order this
 * replica does not hold (a neighbour's, SPEC §5) counts as written. */
TEST(rule_only_a_return_names_an_order_and_counts_as_written_without_it)
{
	dh_history_t h = { 0 };
	store_t *st;
	char *got;

	dh_add(&h, "S001", 1, dh_at(1, 0), STOCK_ENTITY, "S001-M-1", "add",
	    dh_move_fields("S001", "SKU-A", 5, "receipt", NULL, "S001-O-9"), 0);
	dh_add(&h, "S001", 2, dh_at(2, 0), STOCK_ENTITY, "S001-K-9-ret-1",
	    "add",
	    dh_move_fields("S001", "SKU-A", 3, "return", "S001-K-9",
		"S001-O-9"),
	    1);
	if ((st = dh_rule_run(&h)) != NULL) {
		got = dh_quarantined(st);
		CHECK_STR(got,
		    "'S001'|1|'apply op S001/1: stock movement S001-M-1: order: "
		    "only a return names the order it is against'\n");
		free(got);
		got = dh_rows(st,
		    "SELECT id, order_id, effect, delta, counted "
		    "FROM stock_movements");
		CHECK_STR(got, "'S001-K-9-ret-1'|'S001-O-9'|'return'|3|3\n");
		free(got);
		CHECK_EQ_INT(dh_on_hand(st, "S001", "SKU-A"), 3);
		store_close(&st);
	}
	dh_history_free(&h);
}

/* A sale or restock movement that arrives after its order is counted by
 * effect_sync_added alone (its own count, not the order's others): it must
 * count what a full recount (effect_sync) says, in every arrival order. A
 * store sale completed (its sale counts), one cancelled after its
 * confirmation (neither its sale nor its restock counts), an online order
 * whose goods have not left (its sale waits), a sale of an order never
 * held and another site's movement naming S001's order (each counts its
 * delta). */
TEST(rule_a_new_sale_or_restock_counts_what_a_full_recount_says)
{
	dh_history_t h = { 0 };
	store_t *st;
	err_t err;
	char *before, *after;
	static const char *const orders[] = { "S001-O-1", "S001-O-2",
		"S001-O-3", "S001-O-4", NULL };
	static const char rows[] =
	    "SELECT id, counted FROM stock_movements ORDER BY id";
	size_t i;

	dh_add(&h, "S001", 1, dh_at(1, 0), ORDER_ENTITY, "S001-O-1", "create",
	    dh_order_fields("S001", "store", "completed", "SKU-A", 2, 10), 1);
	dh_add(&h, "S001", 2, dh_at(1, 1), STOCK_ENTITY, "S001-O-1-out-1",
	    "add",
	    dh_move_fields("S001", "SKU-A", -2, "sale", "S001-O-1", NULL), 1);
	dh_add(&h, "S001", 3, dh_at(2, 0), ORDER_ENTITY, "S001-O-2", "create",
	    dh_order_fields("S001", "store", "confirmed", "SKU-A", 3, 10), 1);
	dh_add(&h, "S001", 4, dh_at(2, 1), STOCK_ENTITY, "S001-O-2-out-1",
	    "add",
	    dh_move_fields("S001", "SKU-A", -3, "sale", "S001-O-2", NULL), 1);
	dh_add(&h, "S001", 5, dh_at(3, 0), ORDER_ENTITY, "S001-O-2",
	    "transition", json_pack("{s:s}", "to", "cancelled"), 1);
	dh_add(&h, "S001", 6, dh_at(3, 1), STOCK_ENTITY, "S001-O-2-back-1",
	    "add",
	    dh_move_fields("S001", "SKU-A", 3, "return", "S001-O-2", NULL), 1);
	dh_add(&h, "S001", 7, dh_at(4, 0), ORDER_ENTITY, "S001-O-3", "create",
	    dh_order_fields("S001", "online", "confirmed", "SKU-A", 4, 10), 1);
	dh_add(&h, "S001", 8, dh_at(4, 1), STOCK_ENTITY, "S001-O-3-out-1",
	    "add",
	    dh_move_fields("S001", "SKU-A", -4, "sale", "S001-O-3", NULL), 1);
	dh_add(&h, "S001", 9, dh_at(5, 0), STOCK_ENTITY, "S001-O-4-out-1",
	    "add",
	    dh_move_fields("S001", "SKU-A", -5, "sale", "S001-O-4", NULL), 1);
	dh_add(&h, "S002", 1, dh_at(5, 1), STOCK_ENTITY, "S002-S001-O-1-out-1",
	    "add",
	    dh_move_fields("S002", "SKU-A", -6, "sale", "S001-O-1", NULL), 1);
	if ((st = dh_rule_run(&h)) != NULL) {
		before = dh_rows(st, rows);
		CHECK_STR(before,
		    "'S001-O-1-out-1'|-2\n'S001-O-2-back-1'|0\n"
		    "'S001-O-2-out-1'|0\n'S001-O-3-out-1'|0\n"
		    "'S001-O-4-out-1'|-5\n'S002-S001-O-1-out-1'|-6\n");
		CHECK_EQ_INT(dh_on_hand(st, "S001", "SKU-A"), -7);
		CHECK_EQ_INT(dh_on_hand(st, "S002", "SKU-A"), -6);
		/* A full recount of every order changes nothing. */
		REQUIRE(store_begin(st, &err) == 0);
		for (i = 0; orders[i] != NULL; i++)
			CHECK_MSG(effect_sync(st, orders[i], &err) == 0,
			    "effect_sync %s: %s", orders[i], err.msg);
		after = dh_rows(st, rows);
		CHECK_STR(after, before);
		CHECK_EQ_INT(dh_on_hand(st, "S001", "SKU-A"), -7);
		store_rollback(st);
		free(before);
		free(after);
		store_close(&st);
	}
	dh_history_free(&h);
}

/* The fields of a transfer's leg at site: its out leg (to) or receipt
 * (transfer). Caller owns. */
static json_t *
s_leg(const char *site, int64_t delta, const char *ref, const char *to,
    const char *transfer)
{
	json_t *f = dh_move_fields(site, "SKU-A", delta,
	    to != NULL ? "transfer_out" : "transfer_in", ref, NULL);

	if (to != NULL)
		json_object_set_new(f, "to", json_string(to));
	if (transfer != NULL)
		json_object_set_new(f, "transfer", json_string(transfer));
	return f;
}

/* A transfer's out leg names its destination in its id, and only that
 * destination may receive it, under the one id of its receipt: decided
 * from each op alone, so the same everywhere, at sites that never see the
 * other leg too. */
TEST(rule_a_transfer_is_received_only_by_its_destination)
{
	dh_history_t h = { 0 };
	store_t *st;
	char *got;

	dh_add(&h, "S001", 1, dh_at(1, 0), STOCK_ENTITY, "S001-T1-to-S002",
	    "add", s_leg("S001", -3, "S001-T1", "S002", NULL), 1);
	dh_add(&h, "S002", 1, dh_at(2, 0), STOCK_ENTITY, "S002-S001-T1-in",
	    "add", s_leg("S002", 3, "S001-T1", NULL, "S001-T1-to-S002"), 1);
	/* W001 receiving what S001 sent S002. */
	dh_add(&h, "W001", 1, dh_at(2, 1), STOCK_ENTITY, "W001-S001-T1-in",
	    "add", s_leg("W001", 3, "S001-T1", NULL, "S001-T1-to-S002"), 0);
	/* An out leg whose id names another destination than its to. */
	dh_add(&h, "S001", 2, dh_at(3, 0), STOCK_ENTITY, "S001-T2-to-W001",
	    "add", s_leg("S001", -1, "S001-T2", "S002", NULL), 0);
	/* A receipt under another id than the one of its transfer. */
	dh_add(&h, "S002", 2, dh_at(3, 1), STOCK_ENTITY, "S002-T9", "add",
	    s_leg("S002", 3, "S001-T1", NULL, "S001-T1-to-S002"), 0);
	/* A transfer to head office, which has no node to receive it. */
	dh_add(&h, "S001", 3, dh_at(4, 0), STOCK_ENTITY, "S001-T3-to-HQ", "add",
	    s_leg("S001", -1, "S001-T3", "HQ", NULL), 0);
	if ((st = dh_rule_run(&h)) != NULL) {
		got = dh_quarantined(st);
		CHECK_STR(got,
		    "'S001'|2|'apply op S001/2: stock movement S001-T2-to-W001: "
		    "a transfer_out to S002 has the id S001-T2-to-S002'\n"
		    "'S001'|3|'apply op S001/3: stock movement S001-T3-to-HQ: "
		    "to: HQ is head office, which receives no transfers'\n"
		    "'S002'|2|'apply op S002/2: stock movement S002-T9: the "
		    "receipt of transfer S001-T1-to-S002 has ref S001-T1 and the "
		    "id S002-S001-T1-in'\n"
		    "'W001'|1|'apply op W001/1: stock movement W001-S001-T1-in: "
		    "receives transfer S001-T1-to-S002, which is not addressed "
		    "to W001 (a site receives only what is sent to it)'\n");
		free(got);
		CHECK_EQ_INT(dh_on_hand(st, "S001", "SKU-A"), -3);
		CHECK_EQ_INT(dh_on_hand(st, "S002", "SKU-A"), 3);
		CHECK_EQ_INT(dh_on_hand(st, "W001", "SKU-A"), 0);
		store_close(&st);
	}
	dh_history_free(&h);
}

/* The destination's node records the receipt itself, in the transaction
 * that applies the out leg, once; other replicas record nothing. */
TEST(the_destination_records_its_receipt_once)
{
	dh_history_t h = { 0 };
	store_t *dest, *other;
	size_t idx[] = { 0, 0 }, counts[INGEST_RESULTS] = { 0 };
	char *got;

	dh_add(&h, "S001", 1, dh_at(1, 0), STOCK_ENTITY, "S001-T1-to-S002",
	    "add", s_leg("S001", -3, "S001-T1", "S002", NULL), 1);
	dest = dh_open(harness_tmpdir(), "S002");
	other = dh_open(harness_tmpdir(), "W001");
	REQUIRE(dest != NULL && other != NULL);
	CHECK_EQ_INT(dh_ingest(dest, &h, idx, 2, counts), 0);
	CHECK_EQ_INT(dh_ingest(other, &h, idx, 1, counts), 0);
	got = dh_rows(dest,
	    "SELECT m.id, m.site, m.delta, m.reason, m.ref, l.origin, l.seq "
	    "FROM stock_movements m JOIN op_log l ON l.key = m.id "
	    "ORDER BY m.id");
	CHECK_STR(got,
	    "'S001-T1-to-S002'|'S001'|-3|'transfer_out'|'S001-T1'|'S001'|1\n"
	    "'S002-S001-T1-in'|'S002'|3|'transfer_in'|'S001-T1'|'S002'|1\n");
	free(got);
	CHECK_EQ_INT(dh_on_hand(dest, "S002", "SKU-A"), 3);
	got = dh_rows(other, "SELECT id FROM stock_movements");
	CHECK_STR(got, "'S001-T1-to-S002'\n");
	free(got);
	store_close(&dest);
	store_close(&other);
	dh_history_free(&h);
}
