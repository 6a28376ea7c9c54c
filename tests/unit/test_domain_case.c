/*
 * test_domain_case: the after-sales case's merge rule for a create of one
 * id by two origins, on a small history run by dh_rule_run (three orders
 * and twice, the same state every time).
 *
 * It is the smallest reproduction of a bug the converge test
 * (test_domain_converge.c) once found: two creates of one case id with
 * equal clocks that kept whichever arrived first.
 */
#include "aftersales.h"
#include "domain_harness.h"
#include "domain_read.h"
#include "harness.h"
#include "store.h"

/* ---- creates that clash: the same record at every replica ----
 * Each history runs in order, reversed and shuffled (dh_rule_run), so the
 * winner below is the rule's, not the arrival order's. */

/* Two creates of one case id with equal clocks: the lower origin's defines
 * the case (site, kind, description, lines). */
TEST(case_create_tie_goes_to_the_lower_origin)
{
	dh_history_t h = { 0 };
	store_t *st;
	json_t *c;

	dh_add(&h, "S001", 1, dh_at(1, 0), CASE_ENTITY, "K-T", "create",
	    json_pack("{s:s, s:s, s:[{s:s, s:i}]}", "kind", "return", "site",
		"S001", "lines", "sku", "SKU-A", "qty", 1),
	    1);
	dh_add(&h, "S002", 1, dh_at(1, 0), CASE_ENTITY, "K-T", "create",
	    json_pack("{s:s, s:s}", "kind", "complaint", "site", "S002"), 1);
	if ((st = dh_rule_run(&h)) != NULL) {
		c = t_get(st, case_get, "K-T");
		CHECK_STR(json_string_value(json_object_get(c, "site")),
		    "S001");
		CHECK_STR(json_string_value(json_object_get(c, "kind")),
		    "return");
		json_decref(c);
		store_close(&st);
	}
	dh_history_free(&h);
}
