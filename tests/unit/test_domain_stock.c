/*
 * test_domain_stock: the stock movement's merge rules, each on one small
 * hand-picked history run by dh_rule_run (three orders and twice, the same
 * state every time) and then checked against what the rule says: on-hand
 * is a PN-counter over the movements that win their id, it may go negative
 * (with an alert), a claim of a movement id that loses leaves no row, and
 * only a return names the order it is against (effect.h).
 */
#include <stdlib.h>

#include "alert.h"
#include "domain_harness.h"
#include "domain_read.h"
#include "harness.h"
#include "stock.h"
#include "store.h"

/* On-hand is a PN-counter over the movements that win their id: it goes
 * negative after a merge (no sale refused) and raises negative_stock. Two
 * claims of one id with equal clocks: the lower origin's is the movement. */
TEST(rule_stock_pn_counter_goes_negative_with_alert)
{
	dh_history_t h = { 0 };
	store_t *st;
	json_t *l, *a, *it, *q;

	dh_add(&h, "S001", 1, dh_at(1, 0), STOCK_ENTITY, "M-1", "add",
	    json_pack("{s:s, s:s, s:i, s:s}", "site", "S001", "sku", "SKU-A",
		"delta", 5, "reason", "receipt"),
	    1);
	dh_add(&h, "S001", 2, dh_at(2, 0), STOCK_ENTITY, "M-2", "add",
	    json_pack("{s:s, s:s, s:i, s:s}", "site", "S001", "sku", "SKU-A",
		"delta", -3, "reason", "sale"),
	    1);
	dh_add(&h, "S002", 1, dh_at(2, 0), STOCK_ENTITY, "M-3", "add",
	    json_pack("{s:s, s:s, s:i, s:s}", "site", "S001", "sku", "SKU-A",
		"delta", -4, "reason", "sale"),
	    1);
	dh_add(&h, "W001", 1, dh_at(3, 0), STOCK_ENTITY, "MV-X", "add",
	    json_pack("{s:s, s:s, s:i, s:s}", "site", "S001", "sku", "SKU-A",
		"delta", -2, "reason", "adjustment"),
	    1);
	dh_add(&h, "S002", 2, dh_at(3, 0), STOCK_ENTITY, "MV-X", "add",
	    json_pack("{s:s, s:s, s:i, s:s}", "site", "S001", "sku", "SKU-A",
		"delta", -9, "reason", "adjustment"),
	    1);
	dh_add(&h, "S002", 3, dh_at(4, 0), STOCK_ENTITY, "M-4", "add",
	    json_pack("{s:s, s:s, s:i, s:s}", "site", "S002", "sku", "SKU-B",
		"delta", 4, "reason", "receipt"),
	    1);
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
			    "SELECT count(*) FROM stock_movements WHERE id = 'MV-X' "
			    "AND origin = 'S002' AND delta = -9"),
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
		store_close(&st);
	}
	dh_history_free(&h);
}

/* A movement id claimed at two sites: the losing claim must leave nothing,
 * not even an on-hand row of 0, whichever claim arrived first. */
TEST(rule_losing_movement_claim_leaves_no_row)
{
	dh_history_t h = { 0 };
	store_t *st;
	char *got;

	dh_add(&h, "S001", 1, dh_at(1, 0), STOCK_ENTITY, "MV-1", "add",
	    json_pack("{s:s, s:s, s:i, s:s}", "site", "S001", "sku", "SKU-A",
		"delta", 5, "reason", "receipt"),
	    1);
	dh_add(&h, "S002", 1, dh_at(2, 0), STOCK_ENTITY, "MV-1", "add",
	    json_pack("{s:s, s:s, s:i, s:s}", "site", "S002", "sku", "SKU-B",
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

	dh_add(&h, "S001", 1, dh_at(1, 0), STOCK_ENTITY, "M-1", "add",
	    dh_move_fields("S001", "SKU-A", 5, "receipt", NULL, "O-9"), 0);
	dh_add(&h, "S001", 2, dh_at(2, 0), STOCK_ENTITY, "K-9-ret-1", "add",
	    dh_move_fields("S001", "SKU-A", 3, "return", "K-9", "O-9"), 1);
	if ((st = dh_rule_run(&h)) != NULL) {
		got = dh_quarantined(st);
		CHECK_STR(got,
		    "'S001'|1|'apply op S001/1: stock movement M-1: order: "
		    "only a return names the order it is against'\n");
		free(got);
		got = dh_rows(st,
		    "SELECT id, order_id, effect, delta, counted "
		    "FROM stock_movements");
		CHECK_STR(got, "'K-9-ret-1'|'O-9'|'return'|3|3\n");
		free(got);
		CHECK_EQ_INT(dh_on_hand(st, "S001", "SKU-A"), 3);
		store_close(&st);
	}
	dh_history_free(&h);
}
