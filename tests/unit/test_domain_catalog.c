/*
 * test_domain_catalog: the head office's data (products, prices, safety
 * stock) on one small hand-picked history run by dh_rule_run (three orders
 * and twice, the same state every time): the last writer wins per record,
 * and the safety stock it sets is what the low_stock alert compares with.
 */
#include <stdlib.h>

#include "alert.h"
#include "catalog.h"
#include "domain_harness.h"
#include "domain_read.h"
#include "harness.h"
#include "store.h"

/* Head-office data is LWW per record: the later write of the price, the
 * product and the safety stock is what every replica shows. */
TEST(rule_head_office_price_product_safety_stock_last_writer_wins)
{
	dh_history_t h = { 0 };
	store_t *st;
	char *got;
	json_t *a, *it;

	dh_add(&h, "HQ", 1, dh_at(1, 0), PRICE_ENTITY, "retail/SKU-A", "set",
	    json_pack("{s:s, s:s, s:i, s:s}", "tier", "retail", "sku", "SKU-A",
		"amount", 100, "currency", "CNY"),
	    1);
	dh_add(&h, "HQ", 2, dh_at(2, 0), PRICE_ENTITY, "retail/SKU-A", "set",
	    json_pack("{s:s, s:s, s:i, s:s}", "tier", "retail", "sku", "SKU-A",
		"amount", 120, "currency", "CNY"),
	    1);
	dh_add(&h, "HQ", 3, dh_at(3, 0), PRODUCT_ENTITY, "SKU-A", "set",
	    json_pack("{s:s}", "name", "Tea v1"), 1);
	dh_add(&h, "HQ", 4, dh_at(4, 0), PRODUCT_ENTITY, "SKU-A", "set",
	    json_pack("{s:s, s:s, s:b}", "name", "Tea v2", "unit", "box",
		"active", 0),
	    1);
	dh_add(&h, "HQ", 5, dh_at(5, 0), SAFETY_ENTITY, "S001/SKU-A", "set",
	    json_pack("{s:s, s:s, s:i}", "site", "S001", "sku", "SKU-A", "qty",
		10),
	    1);
	dh_add(&h, "HQ", 6, dh_at(6, 0), SAFETY_ENTITY, "S001/SKU-A", "set",
	    json_pack("{s:s, s:s, s:i}", "site", "S001", "sku", "SKU-A", "qty",
		3),
	    1);
	dh_add(&h, "HQ", 7, dh_at(7, 0), PRICE_ENTITY, "member/SKU-A", "set",
	    json_pack("{s:s, s:s, s:i, s:s}", "tier", "member", "sku", "SKU-A",
		"amount", 90, "currency", "CNY"),
	    1);
	if ((st = dh_rule_run(&h)) != NULL) {
		got = dh_dump(t_list_where(st, catalog_prices, "sku", "SKU-A"));
		CHECK_STR(got,
		    "{\"items\":[{\"amount\":90,\"currency\":\"CNY\","
		    "\"sku\":\"SKU-A\",\"tier\":\"member\"},{\"amount\":120,"
		    "\"currency\":\"CNY\",\"sku\":\"SKU-A\",\"tier\":\"retail\"}]}");
		free(got);
		got = dh_dump(t_list(st, catalog_products, NULL));
		CHECK_STR(got,
		    "{\"items\":[{\"active\":false,\"name\":\"Tea v2\","
		    "\"sku\":\"SKU-A\",\"unit\":\"box\"}]}");
		free(got);
		a = t_list_where(st, alert_list, "kind", "low_stock");
		it = json_array_get(json_object_get(a, "items"), 0);
		CHECK_STR(json_string_value(json_object_get(it, "message")),
		    "S001 SKU-A available 0, below the safety stock 3");
		json_decref(a);
		store_close(&st);
	}
	dh_history_free(&h);
}
