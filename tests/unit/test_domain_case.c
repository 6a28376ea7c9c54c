/*
 * test_domain_case: who may write a case (own.h), on a small history run
 * by dh_rule_run (three orders and twice, the same state every time): its
 * site, under its own id, on an order it is a party to; another site's
 * create of its id, however early its clock, is refused everywhere.
 *
 * Then returns against orders (effect.h): refused where they are opened
 * or completed when they would take back more than was sold, with exact
 * texts, and counted at most what was sold when only the merge puts them
 * together, with the over_return alert.
 */
#include <stdio.h>
#include <stdlib.h>

#include "aftersales.h"
#include "alert.h"
#include "catalog.h"
#include "domain_harness.h"
#include "domain_read.h"
#include "harness.h"
#include "order.h"
#include "stock.h"
#include "store.h"

/* ---- who may write a case (own.h) ----
 * Each history runs in order, reversed and shuffled (dh_rule_run), so each
 * verdict below is the rule's, not the arrival order's. */

/* A case is opened under its site's own id, by a party to the order it
 * names: another site's create of its id, with a clock that would win the
 * tie-break of creates, is refused, as is a case on an order the site is
 * no party to. The site that opened it moves it; head office may comment
 * and update it too. A case of the order's fulfilling site is taken also
 * where it arrives before the order (it waits for it, own.h). */
TEST(case_is_written_by_its_site_and_the_orders_parties)
{
	dh_history_t h = { 0 };
	store_t *st;
	json_t *c;
	char *got;
	json_t *o2 = dh_order_fields("S001", "online", "confirmed", "SKU-A", 1,
	    100);

	json_object_set_new(o2, "fulfil_site", json_string("S002"));
	dh_add(&h, "S001", 1, dh_at(1, 0), ORDER_ENTITY, "S001-O-1", "create",
	    dh_order_fields("S001", "store", "draft", "SKU-A", 1, 100), 1);
	dh_add(&h, "S001", 2, dh_at(1, 1), ORDER_ENTITY, "S001-O-2", "create",
	    o2, 1);
	dh_add(&h, "S001", 3, dh_at(2, 0), CASE_ENTITY, "S001-K-T", "create",
	    json_pack("{s:s, s:s, s:s, s:[{s:s, s:i}]}", "kind", "return",
		"site", "S001", "order", "S001-O-1", "lines", "sku", "SKU-A",
		"qty", 1),
	    1);
	dh_add(&h, "S002", 1, 1, CASE_ENTITY, "S001-K-T", "create",
	    json_pack("{s:s, s:s}", "kind", "complaint", "site", "S002"), 0);
	dh_add(&h, "S002", 2, dh_at(3, 0), CASE_ENTITY, "S001-K-T", "comment",
	    json_pack("{s:s}", "text", "mine"), 0);
	dh_add(&h, "HQ", 1, dh_at(3, 1), CASE_ENTITY, "S001-K-T", "comment",
	    json_pack("{s:s}", "text", "called the customer"), 1);
	dh_add(&h, "HQ", 2, dh_at(3, 2), CASE_ENTITY, "S001-K-T", "transition",
	    json_pack("{s:s}", "to", "rejected"), 0);
	dh_add(&h, "S001", 4, dh_at(4, 0), CASE_ENTITY, "S001-K-T",
	    "transition", json_pack("{s:s}", "to", "in_progress"), 1);
	dh_add(&h, "W001", 1, dh_at(4, 1), CASE_ENTITY, "W001-K-1", "create",
	    json_pack("{s:s, s:s, s:s}", "kind", "complaint", "site", "W001",
		"order", "S001-O-1"),
	    0);
	dh_add(&h, "S002", 3, dh_at(4, 2), CASE_ENTITY, "S002-K-2", "create",
	    json_pack("{s:s, s:s, s:s}", "kind", "complaint", "site", "S002",
		"order", "S001-O-2"),
	    1);
	if ((st = dh_rule_run(&h)) != NULL) {
		c = t_get(st, case_get, "S001-K-T");
		CHECK_STR(json_string_value(json_object_get(c, "site")),
		    "S001");
		CHECK_STR(json_string_value(json_object_get(c, "kind")),
		    "return");
		CHECK_STR(json_string_value(json_object_get(c, "status")),
		    "in_progress");
		CHECK_EQ_INT(json_array_size(json_object_get(c, "comments")),
		    1);
		json_decref(c);
		c = t_get(st, case_get, "S002-K-2");
		CHECK_STR(json_string_value(json_object_get(c, "order")),
		    "S001-O-2");
		json_decref(c);
		got = dh_quarantined(st);
		CHECK_STR(got,
		    "'HQ'|2|'apply op HQ/2: case S001-K-T: HQ may not move it: "
		    "only the site that opened it may'\n"
		    "'S002'|1|'apply op S002/1: case S001-K-T: S002 creates "
		    "records only under its own ids (S002-...)'\n"
		    "'S002'|2|'apply op S002/2: case S001-K-T: S002 may not "
		    "comment on it: only the site that opened it or head office "
		    "may'\n"
		    "'W001'|1|'apply op W001/1: case W001-K-1: order S001-O-1: "
		    "W001 may not open a case on it: only its creating site "
		    "S001, its fulfilling site S001 or head office may'\n");
		free(got);
		store_close(&st);
	}
	dh_history_free(&h);
}

/* ---- returns never put back more than was sold (effect.h) ---- */

/* Checks that a domain call (its return rc, its answer out) refused with
 * ERR_UNPROCESSABLE and the exact message, and answered nothing. */
#define CHECK_422(rc, out, err, msg_)                        \
	do {                                                 \
		CHECK_EQ_INT((rc), -1);                      \
		CHECK((out) == NULL);                        \
		CHECK_EQ_INT((err).code, ERR_UNPROCESSABLE); \
		CHECK_STR((err).msg, (msg_));                \
	} while (0)

/* Opens a case at st from its JSON text: 0, or -1 with err (out NULL). */
static int
s_open(store_t *st, const char *text, json_t **out, err_t *err)
{
	json_t *req = json_loads(text, 0, NULL);
	int created, rc;

	if (req == NULL)
		abort(); /* a test's own JSON text: programmer error */
	rc = case_create(st, req, out, &created, err);
	json_decref(req);
	return rc;
}

/* Opens a case at st from its JSON text, checking that it is taken. */
static void
s_open_ok(store_t *st, const char *text)
{
	json_t *out = NULL;
	err_t err;

	CHECK_MSG(s_open(st, text, &out, &err) == 0, "open %s: %s", text,
	    err.msg);
	json_decref(out);
}

/* Moves case id at st to status to: 0, or -1 with err (out NULL). */
static int
s_move(store_t *st, const char *id, const char *to, json_t **out, err_t *err)
{
	json_t *req = json_pack("{s:s}", "to", to);
	int rc = case_transition(st, id, req, out, err);

	json_decref(req);
	return rc;
}

/* A replica named site holding TEA in the catalog and S002's store sales
 * S002-O-1 (2 TEA), S002-O-3 (2 TEA), both confirmed, and S002-O-2, a
 * draft of 1 TEA: nothing of it sold. The replica opens cases on them: it
 * is S002 itself, or head office (own.h). */
static store_t *
s_replica_with_sales(dh_history_t *h, const char *site)
{
	store_t *st = dh_open(harness_tmpdir(), site);
	size_t idx[7] = { 0, 1, 2, 3, 4, 5, 6 };
	size_t counts[INGEST_RESULTS] = { 0 };

	dh_add(h, "HQ", 1, dh_at(1, 0), PRODUCT_ENTITY, "TEA", "set",
	    json_pack("{s:s}", "name", "Green tea"), 1);
	dh_add(h, "S002", 1, dh_at(1, 0), ORDER_ENTITY, "S002-O-1", "create",
	    dh_order_fields("S002", "store", "confirmed", "TEA", 2, 1500), 1);
	dh_add(h, "S002", 2, dh_at(1, 1), STOCK_ENTITY, "S002-O-1-out-1", "add",
	    dh_move_fields("S002", "TEA", -2, "sale", "S002-O-1", NULL), 1);
	dh_add(h, "S002", 3, dh_at(1, 2), ORDER_ENTITY, "S002-O-2", "create",
	    dh_order_fields("S002", "store", "draft", "TEA", 1, 1500), 1);
	dh_add(h, "S002", 4, dh_at(1, 3), ORDER_ENTITY, "S002-O-3", "create",
	    dh_order_fields("S002", "store", "confirmed", "TEA", 2, 1500), 1);
	dh_add(h, "S002", 5, dh_at(1, 4), STOCK_ENTITY, "S002-O-3-out-1", "add",
	    dh_move_fields("S002", "TEA", -2, "sale", "S002-O-3", NULL), 1);
	dh_add(h, "S002", 6, dh_at(1, 5), ORDER_ENTITY, "S002-O-3",
	    "transition", json_pack("{s:s}", "to", "completed"), 1);
	if (st != NULL && dh_ingest(st, h, idx, 7, counts) != 0)
		store_close(&st);
	return st;
}

/* Where the case is opened, a return of more than the order sold is
 * refused, naming the line and the quantities: less what earlier returns
 * take (open cases included), with the case's own earlier lines, and
 * nothing at all of an order whose goods never left. A complaint takes
 * nothing back and is not limited. */
TEST(return_beyond_what_was_sold_refused_where_it_is_opened)
{
	dh_history_t h = { 0 };
	store_t *st = s_replica_with_sales(&h, "S002");
	json_t *out = NULL;
	err_t err;

	REQUIRE(st != NULL);
	CHECK_EQ_INT(dh_on_hand(st, "S002", "TEA"), -4);
	s_open_ok(st,
	    "{\"id\":\"K-1\",\"kind\":\"return\",\"order\":\"S002-O-1\","
	    "\"lines\":[{\"sku\":\"TEA\",\"qty\":2}]}");
	CHECK_422(s_open(st,
		      "{\"id\":\"K-2\",\"kind\":\"return\",\"order\":"
		      "\"S002-O-1\",\"lines\":[{\"sku\":\"TEA\",\"qty\":2}]}",
		      &out, &err),
	    out, err,
	    "lines[0]: return of 2 TEA exceeds what order S002-O-1 sold: 2 "
	    "sold, 2 on earlier returns");
	CHECK_422(s_open(st,
		      "{\"kind\":\"exchange\",\"order\":\"S002-O-1\","
		      "\"lines\":[{\"sku\":\"TEA\",\"qty\":50}]}",
		      &out, &err),
	    out, err,
	    "lines[0]: return of 50 TEA exceeds what order S002-O-1 sold: 2 "
	    "sold, 2 on earlier returns");
	/* The client's id is scoped by the site (own.h). */
	CHECK_EQ_INT(s_move(st, "S002-K-1", "completed", &out, &err), 0);
	json_decref(out);
	CHECK_EQ_INT(dh_on_hand(st, "S002", "TEA"), -2);
	CHECK_422(s_open(st,
		      "{\"kind\":\"return\",\"order\":\"S002-O-1\",\"lines\":"
		      "[{\"sku\":\"TEA\",\"qty\":1}]}",
		      &out, &err),
	    out, err,
	    "lines[0]: return of 1 TEA exceeds what order S002-O-1 sold: 2 "
	    "sold, 2 on earlier returns");
	CHECK_422(
	    s_open(st,
		"{\"kind\":\"return\",\"order\":\"S002-O-3\",\"lines\":"
		"[{\"sku\":\"TEA\",\"qty\":1},{\"sku\":\"TEA\",\"qty\":2}]}",
		&out, &err),
	    out, err,
	    "lines[1]: return of 2 TEA exceeds what order S002-O-3 sold: 2 "
	    "sold, 1 on earlier returns");
	CHECK_422(s_open(st,
		      "{\"kind\":\"return\",\"order\":\"S002-O-2\",\"lines\":"
		      "[{\"sku\":\"TEA\",\"qty\":1}]}",
		      &out, &err),
	    out, err,
	    "lines[0]: return of 1 TEA exceeds what order S002-O-2 sold: 0 "
	    "sold, 0 on earlier returns");
	s_open_ok(st,
	    "{\"kind\":\"complaint\",\"order\":\"S002-O-1\",\"lines\":"
	    "[{\"sku\":\"TEA\",\"qty\":5}]}");
	store_close(&st);
	dh_history_free(&h);
}

/* A return opened here within what was sold, while head office returns
 * the same goods and its completion arrives first: completing this one is
 * refused (what is left to return changed since it was opened); it can
 * still be rejected. */
TEST(return_completion_refused_when_another_site_returned_first)
{
	dh_history_t h = { 0 };
	store_t *st = s_replica_with_sales(&h, "S002");
	size_t idx[3] = { 7, 8, 9 }, counts[INGEST_RESULTS] = { 0 };
	json_t *out = NULL;
	err_t err;

	REQUIRE(st != NULL);
	s_open_ok(st,
	    "{\"id\":\"K-L\",\"kind\":\"return\",\"order\":\"S002-O-1\","
	    "\"lines\":[{\"sku\":\"TEA\",\"qty\":2}]}");
	dh_add(&h, "HQ", 2, dh_at(2, 0), CASE_ENTITY, "HQ-K-W", "create",
	    json_pack("{s:s, s:s, s:s, s:[{s:s, s:i}]}", "kind", "return",
		"site", "HQ", "order", "S002-O-1", "lines", "sku", "TEA", "qty",
		2),
	    1);
	dh_add(&h, "HQ", 3, dh_at(3, 0), CASE_ENTITY, "HQ-K-W", "transition",
	    json_pack("{s:s}", "to", "completed"), 1);
	dh_add(&h, "HQ", 4, dh_at(3, 1), STOCK_ENTITY, "HQ-K-W-ret-1", "add",
	    dh_move_fields("HQ", "TEA", 2, "return", "HQ-K-W", "S002-O-1"), 1);
	REQUIRE(dh_ingest(st, &h, idx, 3, counts) == 0);
	CHECK_EQ_INT(dh_on_hand(st, "HQ", "TEA"), 2);
	CHECK_422(s_move(st, "S002-K-L", "completed", &out, &err), out, err,
	    "to: case S002-K-L cannot be completed: lines[0]: return of 2 TEA "
	    "exceeds what order S002-O-1 sold: 2 sold, 2 on earlier returns");
	CHECK_EQ_INT(s_move(st, "S002-K-L", "rejected", &out, &err), 0);
	json_decref(out);
	CHECK_EQ_INT(dh_on_hand(st, "S002", "TEA"), -4);
	store_close(&st);
	dh_history_free(&h);
}

/* Three parties return the same sale, each within what it knew: 1, 2 and
 * 50 TEA of the 2 sold (S001's online order, shipped by W001; S001, W001
 * and head office). Merged, the returns count oldest first up to what was
 * sold (1, then 1 of the 2, then none), the same at every replica and in
 * any order, and the alert says how much was not put back. A return
 * naming the order from S002, no party to it, is S002's own business: it
 * counts its delta at S002 and takes nothing of what was sold (effect.h,
 * invariant 5). */
TEST(rule_returns_merged_past_what_was_sold_count_once_with_an_alert)
{
	static const struct {
		const char *site, *id;
		int qty;
	} r[] = { { "S001", "S001-K-1", 1 }, { "W001", "W001-K-2", 2 },
		{ "HQ", "HQ-K-3", 50 } };
	dh_history_t h = { 0 };
	store_t *st;
	char mid[32], *got;
	size_t i;
	json_t *f = dh_order_fields("S001", "online", "confirmed", "TEA", 2,
	    1500);

	json_object_set_new(f, "fulfil_site", json_string("W001"));
	dh_add(&h, "S001", 1, dh_at(1, 0), ORDER_ENTITY, "S001-O-1", "create",
	    f, 1);
	dh_add(&h, "W001", 4, dh_at(1, 1), ORDER_ENTITY, "S001-O-1",
	    "transition", json_pack("{s:s}", "to", "shipped"), 1);
	dh_add(&h, "W001", 5, dh_at(1, 2), STOCK_ENTITY, "W001-S001-O-1-out-1",
	    "add", dh_move_fields("W001", "TEA", -2, "sale", "S001-O-1", NULL),
	    1);
	dh_add(&h, "S001", 2, dh_at(1, 3), ORDER_ENTITY, "S001-O-1",
	    "transition", json_pack("{s:s}", "to", "completed"), 1);
	for (i = 0; i < 3; i++) {
		uint64_t seq = i == 0 ? 3 : 1;

		snprintf(mid, sizeof mid, "%s-ret-1", r[i].id);
		dh_add(&h, r[i].site, seq, dh_at(2, 0), CASE_ENTITY, r[i].id,
		    "create",
		    json_pack("{s:s, s:s, s:s, s:[{s:s, s:i}]}", "kind",
			"return", "site", r[i].site, "order", "S001-O-1",
			"lines", "sku", "TEA", "qty", r[i].qty),
		    1);
		dh_add(&h, r[i].site, seq + 1, dh_at(3 + i, 0), CASE_ENTITY,
		    r[i].id, "transition",
		    json_pack("{s:s}", "to", "completed"), 1);
		dh_add(&h, r[i].site, seq + 2, dh_at(3 + i, 1), STOCK_ENTITY,
		    mid, "add",
		    dh_move_fields(r[i].site, "TEA", r[i].qty, "return",
			r[i].id, "S001-O-1"),
		    1);
	}
	dh_add(&h, "S002", 1, dh_at(6, 0), STOCK_ENTITY, "S002-K-4-ret-1",
	    "add",
	    dh_move_fields("S002", "TEA", 5, "return", "S002-K-4", "S001-O-1"),
	    1);
	if ((st = dh_rule_run(&h)) != NULL) {
		got = dh_rows(st,
		    "SELECT id, site, delta, counted FROM stock_movements "
		    "WHERE effect = 'return' ORDER BY hlc");
		CHECK_STR(got,
		    "'S001-K-1-ret-1'|'S001'|1|1\n"
		    "'W001-K-2-ret-1'|'W001'|2|1\n"
		    "'HQ-K-3-ret-1'|'HQ'|50|0\n"
		    "'S002-K-4-ret-1'|'S002'|5|5\n");
		free(got);
		CHECK_EQ_INT(dh_on_hand(st, "S001", "TEA"), 1);
		CHECK_EQ_INT(dh_on_hand(st, "W001", "TEA"), -1);
		CHECK_EQ_INT(dh_on_hand(st, "HQ", "TEA"), 0);
		CHECK_EQ_INT(dh_on_hand(st, "S002", "TEA"), 5);
		got = dh_dump(
		    t_list_where(st, alert_list, "kind", "over_return"));
		CHECK_STR(got,
		    "{\"items\":[{\"at\":1699996700000,\"id\":"
		    "\"over_return:S001:S001-O-1/TEA\",\"kind\":\"over_return\","
		    "\"message\":\"order S001-O-1: 53 TEA returned, 2 sold: 51 "
		    "not put back in stock, check the returns\",\"site\":\"S001\","
		    "\"subject\":\"S001-O-1/TEA\"}]}");
		free(got);
		store_close(&st);
	}
	dh_history_free(&h);
}
