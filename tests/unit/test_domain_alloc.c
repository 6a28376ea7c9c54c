/*
 * test_domain_alloc: the rules of allocation's orders (sync/domain/
 * fulfil.h, order.c): an online order without a fulfilling site, the
 * fulfilment orders head office writes for it, and releases.
 *
 * First one history run by dh_rule_run (three orders and twice, the same
 * state every time): only head office creates a fulfilment order; its
 * fulfilling site, and no other, may cancel it (a release), also where
 * the release arrives before the fulfilment (it waits for it); a
 * fulfilment's verdicts never need its parent. Then what the parent
 * shows: its fulfilments, the status they reached together, one history
 * with the reasons; and what is summed: the parent once, never its
 * children.
 *
 * Then the commands at the sites: the fulfilling site records the sale
 * when it ships its fulfilment, the parent records none anywhere; a
 * release by the parent's id or the child's, with its refusals; a
 * fulfilment order written at head office only; a customer's region, a
 * last-writer-wins field.
 *
 * Last, in every arrival order of their ops (each permutation on a new
 * replica): a parent cancelled while a fulfilment shipped is shipped, in
 * its status, the status filter, the sales (the shipped lines only),
 * the exposure and the alert conflicting_transition; a payment on a
 * fulfilment counts in its parent's paid, balance and exposure. And the
 * commands that refuse both where they know better: cancelling a parent
 * whose fulfilment shipped (409), money on a fulfilment (422).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alert.h"
#include "catalog.h"
#include "customer.h"
#include "domain_harness.h"
#include "domain_read.h"
#include "fulfil.h"
#include "harness.h"
#include "invoice.h"
#include "order.h"
#include "payment.h"
#include "report.h"
#include "stock.h"
#include "store.h"

#define CHECK_REFUSED(rc, out, err, code_, msg_)   \
	do {                                       \
		CHECK_EQ_INT((rc), -1);            \
		CHECK((out) == NULL);              \
		CHECK_EQ_INT((err).code, (code_)); \
		CHECK_STR((err).msg, (msg_));      \
	} while (0)

/* S001's online order S001-P1 without a fulfilling site: 2 TEA at 100 and
 * 1 MUG at 300. */
static json_t *
s_parent_fields(void)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:[{s:s, s:i, s:i}, "
			 "{s:s, s:i, s:i}]}",
	    "site", "S001", "channel", "online", "currency", "CNY",
	    "fulfil_site", "", "status", "confirmed", "lines", "sku", "TEA",
	    "qty", 2, "unit_price", 100, "sku", "MUG", "qty", 1, "unit_price",
	    300);
}

/* A fulfilment order of parent for site, of one line, with its reason. */
static json_t *
s_child_fields(const char *site, const char *parent, const char *sku, int qty,
    int price, const char *note)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:[{s:s, s:i, "
			 "s:i}]}",
	    "site", "HQ", "channel", "online", "currency", "CNY", "fulfil_site",
	    site, "status", "allocated", "parent", parent, "note", note,
	    "lines", "sku", sku, "qty", qty, "unit_price", price);
}

/* The history of S001-P1: allocated to W001 (TEA) and W002 (MUG); W001
 * ships TEA and records its sale; W002 releases MUG, which head office
 * allocates again to W001, which ships it. Then what nobody may do. */
static void
s_allocation_history(dh_history_t *h)
{
	dh_add(h, "W001", 1, dh_at(0, 0), STOCK_ENTITY, "W001-RCV-1", "add",
	    dh_move_fields("W001", "TEA", 10, "receipt", NULL, NULL), 1);
	dh_add(h, "S001", 1, dh_at(1, 0), ORDER_ENTITY, "S001-P1", "create",
	    s_parent_fields(), 1);
	dh_add(h, "HQ", 1, dh_at(2, 0), ORDER_ENTITY, "HQ-F1", "create",
	    s_child_fields("W001", "S001-P1", "TEA", 2, 100,
		"W001: line 1 available, split, region east"),
	    1);
	dh_add(h, "HQ", 2, dh_at(2, 1), ORDER_ENTITY, "HQ-F2", "create",
	    s_child_fields("W002", "S001-P1", "MUG", 1, 300,
		"W002: line 2 available, split, region west"),
	    1);
	dh_add(h, "W001", 2, dh_at(3, 0), ORDER_ENTITY, "HQ-F1", "transition",
	    json_pack("{s:s, s:s}", "to", "shipped", "tracking", "SF1"), 1);
	dh_add(h, "W001", 3, dh_at(3, 1), STOCK_ENTITY, "W001-HQ-F1-out-1",
	    "add", dh_move_fields("W001", "TEA", -2, "sale", "HQ-F1", NULL), 1);
	dh_add(h, "W002", 1, dh_at(4, 0), ORDER_ENTITY, "HQ-F2", "transition",
	    json_pack("{s:s, s:s}", "to", "cancelled", "reason", "no mugs"), 1);
	dh_add(h, "HQ", 3, dh_at(5, 0), ORDER_ENTITY, "HQ-F3", "create",
	    s_child_fields("W001", "S001-P1", "MUG", 1, 300,
		"W001: line 2 available, region east"),
	    1);
	dh_add(h, "W001", 4, dh_at(6, 0), ORDER_ENTITY, "HQ-F3", "transition",
	    json_pack("{s:s}", "to", "shipped"), 1);
	/* An ordinary order W001 fulfils: W001 may not cancel it. */
	dh_add(h, "S001", 2, dh_at(1, 1), ORDER_ENTITY, "S001-O2", "create",
	    json_pack("{s:s, s:s, s:s, s:s, s:s, s:[{s:s, s:i, s:i}]}", "site",
		"S001", "channel", "online", "currency", "CNY", "fulfil_site",
		"W001", "status", "confirmed", "lines", "sku", "TEA", "qty", 1,
		"unit_price", 100),
	    1);
	dh_add(h, "W001", 5, dh_at(7, 0), ORDER_ENTITY, "S001-O2", "transition",
	    json_pack("{s:s}", "to", "cancelled"), 0);
	/* A store allocating, a site releasing another's fulfilment, and
	 * creates the rules refuse wherever they arrive. */
	dh_add(h, "S001", 3, dh_at(7, 1), ORDER_ENTITY, "S001-F9", "create",
	    json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:[{s:s, s:i, s:i}]}",
		"site", "S001", "channel", "online", "currency", "CNY",
		"fulfil_site", "S001", "status", "allocated", "parent",
		"S001-P1", "lines", "sku", "TEA", "qty", 2, "unit_price", 100),
	    0);
	dh_add(h, "W002", 2, dh_at(7, 2), ORDER_ENTITY, "HQ-F1", "transition",
	    json_pack("{s:s}", "to", "cancelled"), 0);
	dh_add(h, "HQ", 4, dh_at(7, 3), ORDER_ENTITY, "HQ-F4", "create",
	    json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:[{s:s, s:i, s:i}]}",
		"site", "HQ", "channel", "online", "currency", "CNY",
		"fulfil_site", "W001", "status", "confirmed", "parent",
		"S001-P1", "lines", "sku", "TEA", "qty", 2, "unit_price", 100),
	    0);
	dh_add(h, "HQ", 5, dh_at(7, 4), ORDER_ENTITY, "HQ-F5", "create",
	    s_child_fields("", "S001-P1", "TEA", 2, 100, "nowhere"), 0);
	dh_add(h, "S001", 4, dh_at(7, 5), ORDER_ENTITY, "S001-P2", "create",
	    dh_order_fields("S001", "store", "confirmed", "TEA", 1, 100), 1);
	{
		json_t *f = dh_order_fields("S001", "store", "confirmed", "TEA",
		    1, 100);

		json_object_set_new(f, "fulfil_site", json_string(""));
		dh_add(h, "S001", 5, dh_at(7, 6), ORDER_ENTITY, "S001-P3",
		    "create", f, 0);
	}
}

TEST(rule_fulfilments_by_head_office_released_by_their_site_in_any_order)
{
	dh_history_t h = { 0 };
	store_t *st;
	json_t *o, *r;
	char *got, *text;

	s_allocation_history(&h);
	if ((st = dh_rule_run(&h)) == NULL) {
		dh_history_free(&h);
		return;
	}
	got = dh_quarantined(st);
	CHECK_STR(got,
	    "'HQ'|4|'apply op HQ/4: order HQ-F4: status: 'confirmed' is "
	    "not one of allocated'\n"
	    "'HQ'|5|'apply op HQ/5: order HQ-F5: fulfil_site: a fulfilment "
	    "order names the site that fulfils it'\n"
	    "'S001'|3|'apply op S001/3: order S001-F9: S001 may not allocate "
	    "order S001-P1: only head office may'\n"
	    "'S001'|5|'apply op S001/5: order S001-P3: fulfil_site: a store "
	    "sale is fulfilled by a site'\n"
	    "'W001'|5|'apply op W001/5: order S001-O2: W001 may not cancel "
	    "it: only its creating site S001 or head office may'\n"
	    "'W002'|2|'apply op W002/2: order HQ-F1: W002 may not cancel it: "
	    "only its creating site HQ, its fulfilling site W001 or head "
	    "office may'\n");
	free(got);

	/* The parent: its fulfilments, their status, one history. */
	o = t_get(st, order_get, "S001-P1");
	REQUIRE(o != NULL);
	CHECK_STR(json_string_value(json_object_get(o, "status")), "shipped");
	CHECK_STR(json_string_value(json_object_get(o, "fulfil_site")), "");
	text = dh_dump(json_deep_copy(json_object_get(o, "fulfilments")));
	CHECK_STR(text,
	    "[{\"id\":\"HQ-F1\",\"lines\":[{\"qty\":2,\"sku\":\"TEA\"}],"
	    "\"site\":\"W001\",\"status\":\"shipped\"},"
	    "{\"id\":\"HQ-F2\",\"lines\":[{\"qty\":1,\"sku\":\"MUG\"}],"
	    "\"site\":\"W002\",\"status\":\"cancelled\"},"
	    "{\"id\":\"HQ-F3\",\"lines\":[{\"qty\":1,\"sku\":\"MUG\"}],"
	    "\"site\":\"W001\",\"status\":\"shipped\"}]");
	free(text);
	{
		dh_text_t t = { NULL, 0, 0 };
		size_t i;
		json_t *e;

		json_array_foreach(json_object_get(o, "history"), i, e) {
			dh_text_add(&t, "%s@%s",
			    json_string_value(json_object_get(e, "status")),
			    json_string_value(json_object_get(e, "site")));
			if (json_object_get(e, "reason") != NULL)
				dh_text_add(&t, "(%s)",
				    json_string_value(
					json_object_get(e, "reason")));
			if (json_object_get(e, "fulfilment") != NULL)
				dh_text_add(&t, "[%s]",
				    json_string_value(
					json_object_get(e, "fulfilment")));
			dh_text_add(&t, "\n");
		}
		text = dh_text_take(&t);
		CHECK_STR(text,
		    "confirmed@S001\n"
		    "allocated@W001(W001: line 1 available, split, region "
		    "east)[HQ-F1]\n"
		    "allocated@W002(W002: line 2 available, split, region "
		    "west)[HQ-F2]\n"
		    "shipped@W001[HQ-F1]\n"
		    "released@W002(no mugs)[HQ-F2]\n"
		    "allocated@W001(W001: line 2 available, region east)"
		    "[HQ-F3]\n"
		    "shipped@W001[HQ-F3]\n");
		free(text);
	}
	json_decref(o);
	o = t_get(st, order_get, "HQ-F2");
	REQUIRE(o != NULL);
	CHECK_STR(json_string_value(json_object_get(o, "parent")), "S001-P1");
	CHECK_STR(json_string_value(json_object_get(o, "status")), "cancelled");
	json_decref(o);

	/* Stock: W001's sale of the fulfilment counts once; nothing for the
	 * parent. Sales: the parent once, its fulfilments never. */
	CHECK_EQ_INT(dh_on_hand(st, "W001", "TEA"), 8);
	got = dh_rows(st,
	    "SELECT id, order_id, counted FROM stock_movements "
	    "WHERE order_id IS NOT NULL ORDER BY id");
	CHECK_STR(got, "'W001-HQ-F1-out-1'|'HQ-F1'|-2\n");
	free(got);
	r = t_list_where(st, report_sales, "group", "sku");
	text = dh_dump(r);
	CHECK_STR(text,
	    "{\"group\":\"sku\",\"items\":[{\"currency\":\"CNY\","
	    "\"orders\":1,\"qty\":1,\"sku\":\"MUG\",\"total\":300},"
	    "{\"currency\":\"CNY\",\"orders\":3,\"qty\":4,\"sku\":\"TEA\","
	    "\"total\":400}]}");
	free(text);
	{
		size_t applied, refused;

		dh_waited(&applied, &refused);
		CHECK_MSG(applied > 0,
		    "a release that came before its fulfilment waited for it");
	}
	store_close(&st);
	dh_history_free(&h);
}

/* A replica whose site is name, with meta role hq when hq. */
static store_t *
s_open(const char *name, int hq)
{
	store_t *st = dh_open(harness_tmpdir(), name);
	err_t err;

	if (st != NULL && hq &&
	    (store_begin(st, &err) ||
		store_meta_set_text(st, "role", "hq", &err) ||
		store_commit(st, &err))) {
		CHECK_MSG(0, "role of %s: %s", name, err.msg);
		store_close(&st);
	}
	return st;
}

/* At W001's node: shipping its fulfilment records the sale there, once;
 * the parent it does not even hold. A release by the parent's id finds
 * W001's live fulfilment; its refusals change nothing. */
TEST(fulfilling_site_records_the_sale_and_releases_by_either_id)
{
	dh_history_t h = { 0 };
	store_t *st = s_open("W001", 0);
	size_t idx[] = { 0, 1, 2 }, counts[INGEST_RESULTS] = { 0 };
	json_t *req, *out = NULL;
	err_t err;
	char *got;
	int64_t seq;

	REQUIRE(st != NULL);
	dh_add(&h, "W001", 1, dh_at(0, 0), STOCK_ENTITY, "W001-RCV-1", "add",
	    dh_move_fields("W001", "TEA", 10, "receipt", NULL, NULL), 1);
	dh_add(&h, "HQ", 1, dh_at(2, 0), ORDER_ENTITY, "HQ-F1", "create",
	    s_child_fields("W001", "S001-P1", "TEA", 2, 100, "W001: why"), 1);
	dh_add(&h, "HQ", 2, dh_at(2, 1), ORDER_ENTITY, "HQ-F3", "create",
	    s_child_fields("W001", "S001-P1", "MUG", 1, 300, "W001: why"), 1);
	REQUIRE(dh_ingest(st, &h, idx, 3, counts) == 0);
	CHECK_EQ_INT(counts[INGEST_APPLIED], 3);
	req = json_pack("{s:s}", "to", "shipped");
	CHECK_MSG(order_transition(st, "HQ-F1", req, &out, &err) == 0,
	    "ship HQ-F1: %s", err.msg);
	json_decref(out);
	json_decref(req);
	got = dh_rows(st,
	    "SELECT id, site, delta, counted FROM stock_movements "
	    "WHERE order_id IS NOT NULL ORDER BY id");
	CHECK_STR(got, "'W001-HQ-F1-out-1'|'W001'|-2|-2\n");
	free(got);

	/* Refusals: no reason; an order not held; nothing written. */
	CHECK_EQ_INT(store_meta_get_int(st, "seq", 0, &seq, &err), 0);
	req = json_object();
	CHECK_REFUSED(fulfil_release(st, "S001-P1", req, &out, &err), out, err,
	    ERR_BAD_REQUEST, "reason: missing");
	json_decref(req);
	req = json_pack("{s:s}", "reason", "r");
	CHECK_REFUSED(fulfil_release(st, "S001-NOPE", req, &out, &err), out,
	    err, ERR_NOT_FOUND, "order: S001-NOPE not found");
	CHECK_REFUSED(fulfil_release(st, "HQ-F1", req, &out, &err), out, err,
	    ERR_UNPROCESSABLE,
	    "to: order HQ-F1 is shipped; it can move to delivered, completed");
	{
		int64_t after;

		CHECK_EQ_INT(store_meta_get_int(st, "seq", 0, &after, &err), 0);
		CHECK_EQ_INT(after, seq);
	}
	json_decref(req);

	/* By the parent's id, which W001 does not hold: its live
	 * fulfilment, HQ-F3. */
	req = json_pack("{s:s}", "reason", "mugs broken");
	CHECK_MSG(fulfil_release(st, "S001-P1", req, &out, &err) == 0,
	    "release S001-P1: %s", err.msg);
	CHECK_STR(json_string_value(json_object_get(out, "id")), "HQ-F3");
	CHECK_STR(json_string_value(json_object_get(out, "status")),
	    "cancelled");
	json_decref(out);
	/* Again: what W001 still fulfils of it has shipped. */
	CHECK_REFUSED(fulfil_release(st, "S001-P1", req, &out, &err), out, err,
	    ERR_UNPROCESSABLE,
	    "to: order HQ-F1 is shipped; it can move to delivered, completed");
	json_decref(req);
	CHECK_EQ_INT(dh_on_hand(st, "W001", "TEA"), 8);
	store_close(&st);
	dh_history_free(&h);
}

/* The creator of an unallocated order records no movement for it, even
 * once completed; head office alone writes fulfilment orders, of an order
 * it allocates; the parent then follows its fulfilment. */
TEST(fulfilment_orders_only_at_head_office_and_the_parent_moves_nothing)
{
	store_t *st = s_open("S001", 0), *hq;
	json_t *req, *out = NULL, *o;
	err_t err;
	int created;
	char *got;

	REQUIRE(st != NULL);
	REQUIRE((hq = s_open("HQ", 1)) != NULL);
	req = json_pack("{s:s}", "name", "Tea");
	CHECK_MSG(catalog_put_product(hq, "TEA", req, &out, &err) == 0,
	    "TEA: %s", err.msg);
	json_decref(out);
	json_decref(req);

	/* At head office: an online order without a fulfilling site. */
	req = json_pack("{s:s, s:s, s:s, s:s, s:[{s:s, s:i, s:i}]}", "id", "P1",
	    "channel", "online", "currency", "CNY", "status", "confirmed",
	    "lines", "sku", "TEA", "qty", 2, "unit_price", 100);
	CHECK_MSG(order_create(hq, req, &out, &created, &err) == 0,
	    "create P1: %s", err.msg);
	CHECK_STR(json_string_value(json_object_get(out, "fulfil_site")), "");
	json_decref(out);
	json_decref(req);
	req = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:[{s:s, s:i, s:i}]}",
	    "channel", "online", "currency", "CNY", "status", "allocated",
	    "fulfil_site", "W001", "parent", "HQ-NOPE", "note", "x", "lines",
	    "sku", "TEA", "qty", 2, "unit_price", 100);
	CHECK_REFUSED(order_create(hq, req, &out, &created, &err), out, err,
	    ERR_NOT_FOUND, "parent: HQ-NOPE not found");
	CHECK_REFUSED(order_create(st, req, &out, &created, &err), out, err,
	    ERR_FORBIDDEN,
	    "parent: only head office creates fulfilment orders");
	json_object_set_new(req, "parent", json_string("HQ-P1"));
	CHECK_MSG(order_create(hq, req, &out, &created, &err) == 0,
	    "create the fulfilment: %s", err.msg);
	CHECK_STR(json_string_value(json_object_get(out, "parent")), "HQ-P1");
	json_decref(out);
	json_decref(req);
	o = t_get(hq, order_get, "HQ-P1");
	REQUIRE(o != NULL);
	CHECK_STR(json_string_value(json_object_get(o, "fulfil_site")), "W001");
	CHECK_STR(json_string_value(json_object_get(o, "status")), "allocated");
	json_decref(o);

	/* At S001: its own online order, confirmed then completed by it. */
	req = json_pack("{s:s, s:s, s:s, s:s, s:[{s:s, s:i, s:i}]}", "id", "P2",
	    "channel", "b2b", "currency", "CNY", "status", "confirmed", "lines",
	    "sku", "TEA", "qty", 2, "unit_price", 100);
	CHECK_EQ_INT(order_create(st, req, &out, &created, &err), -1);
	CHECK_STR(err.msg, "lines[0].sku: TEA is not in the catalog");
	json_decref(req);
	{
		/* The catalog reaches S001 as head office's op. */
		dh_history_t h = { 0 };
		size_t idx[] = { 0 }, counts[INGEST_RESULTS] = { 0 };

		dh_add(&h, "HQ", 1, dh_at(0, 0), PRODUCT_ENTITY, "TEA", "set",
		    json_pack("{s:s}", "name", "Tea"), 1);
		REQUIRE(dh_ingest(st, &h, idx, 1, counts) == 0);
		dh_history_free(&h);
	}
	req = json_pack("{s:s, s:s, s:s, s:s, s:[{s:s, s:i, s:i}]}", "id", "P2",
	    "channel", "b2b", "currency", "CNY", "status", "confirmed", "lines",
	    "sku", "TEA", "qty", 2, "unit_price", 100);
	CHECK_MSG(order_create(st, req, &out, &created, &err) == 0,
	    "create P2: %s", err.msg);
	CHECK_STR(json_string_value(json_object_get(out, "fulfil_site")), "");
	json_decref(out);
	json_decref(req);
	req = json_pack("{s:s}", "to", "completed");
	CHECK_MSG(order_transition(st, "S001-P2", req, &out, &err) == 0,
	    "complete P2: %s", err.msg);
	json_decref(out);
	json_decref(req);
	req = json_pack("{s:s}", "to", "shipped");
	CHECK_REFUSED(order_transition(st, "S001-P2", req, &out, &err), out,
	    err, ERR_UNPROCESSABLE,
	    "to: order S001-P2 is completed, which is final");
	json_decref(req);
	got = dh_rows(st, "SELECT count(*) FROM stock_movements");
	CHECK_STR(got, "0\n");
	free(got);
	store_close(&st);
	store_close(&hq);
}

/* A customer's region is a last-writer-wins field: the latest stamp wins
 * wherever it arrives; an empty one is refused. */
TEST(rule_customer_region_is_last_writer_wins)
{
	dh_history_t h = { 0 };
	store_t *st;
	json_t *c;

	dh_add(&h, "S001", 1, dh_at(1, 0), CUSTOMER_ENTITY, "S001-C1", "create",
	    json_pack("{s:{s:s, s:s}}", "set", "name", "Li", "region", "east"),
	    1);
	dh_add(&h, "S002", 1, dh_at(3, 0), CUSTOMER_ENTITY, "S001-C1", "update",
	    json_pack("{s:{s:s}}", "set", "region", "west"), 1);
	dh_add(&h, "S003", 1, dh_at(2, 0), CUSTOMER_ENTITY, "S001-C1", "update",
	    json_pack("{s:{s:s}}", "set", "region", "north"), 1);
	dh_add(&h, "S003", 2, dh_at(4, 0), CUSTOMER_ENTITY, "S001-C1", "update",
	    json_pack("{s:{s:s}}", "set", "region", ""), 0);
	if ((st = dh_rule_run(&h)) != NULL) {
		c = t_get(st, customer_get, "S001-C1");
		CHECK_STR(json_string_value(json_object_get(c, "region")),
		    "west");
		json_decref(c);
		{
			char *got = dh_quarantined(st);

			CHECK_STR(got,
			    "'S003'|2|'apply op S003/2: customer S001-C1: "
			    "region: must be 1 to 63 characters'\n");
			free(got);
		}
		store_close(&st);
	}
	dh_history_free(&h);
}

/* ---- every arrival order ---- */

/* The next permutation of v[0..n) in lexicographic order: 1, or 0 after
 * the last. */
static int
s_next_order(size_t *v, size_t n)
{
	size_t i, j, x;

	if (n < 2)
		return 0;
	for (i = n - 1; i > 0 && v[i - 1] >= v[i]; i--)
		;
	if (i == 0)
		return 0;
	for (j = n - 1; v[j] <= v[i - 1]; j--)
		;
	x = v[i - 1];
	v[i - 1] = v[j];
	v[j] = x;
	for (j = n - 1; i < j; i++, j--) {
		x = v[i];
		v[i] = v[j];
		v[j] = x;
	}
	return 1;
}

/* Copies file from to file to: 0, or -1 after recording a failure. */
static int
s_copy(const char *from, const char *to)
{
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
	char buf[65536];
	size_t n;
	int rc = 0;

	if (in == NULL || out == NULL)
		rc = -1;
	while (rc == 0 && (n = fread(buf, 1, sizeof buf, in)) > 0)
		if (fwrite(buf, 1, n, out) != n)
			rc = -1;
	if (in != NULL && ferror(in))
		rc = -1;
	if (in != NULL)
		fclose(in);
	if (out != NULL && fclose(out) != 0)
		rc = -1;
	return CHECK_MSG(rc == 0, "copy %s to %s failed", from, to) ? 0 : -1;
}

/* Ingests h (at most 6 ops) into a new replica in every order of its
 * ops, and checks each time that every op was applied and that what
 * figures writes of the replica is want: the rules decide from the set of
 * ops, whatever order they come in. Stops at the first difference, which
 * it shows with the order that made it. Each replica starts as a copy of
 * one new empty replica (the schema made once). */
static void
s_every_order(const dh_history_t *h, void (*figures)(store_t *, dh_text_t *),
    const char *want)
{
	const char *dir = harness_tmpdir();
	size_t idx[6], i, runs = 0, all = 1;
	char name[32], path[4096], empty[4096];
	store_t *st;
	int ok = 1;

	REQUIRE(h->n <= 6 && h->n_invalid == 0);
	for (i = 0; i < h->n; i++) {
		idx[i] = i;
		all *= i + 1;
	}
	REQUIRE((st = dh_open(dir, "empty")) != NULL);
	store_close(&st);
	snprintf(empty, sizeof empty, "%s/empty.db", dir);
	do {
		size_t counts[INGEST_RESULTS] = { 0 };
		dh_text_t t = { NULL, 0, 0 };
		char *got;

		snprintf(name, sizeof name, "order%zu", runs++);
		snprintf(path, sizeof path, "%s/%s.db", dir, name);
		if (s_copy(empty, path) || (st = dh_open(dir, name)) == NULL)
			return;
		/* Durability is not what is tested here: no fsync. */
		sqlite3_exec(store_db(st), "PRAGMA synchronous = OFF", NULL,
		    NULL, NULL);
		ok = dh_ingest(st, h, idx, h->n, counts) == 0 &&
		    CHECK_EQ_UINT(counts[INGEST_APPLIED], h->n);
		if (ok) {
			figures(st, &t);
			got = dh_text_take(&t);
			if (strcmp(got, want) != 0) {
				ok = CHECK_STR(got, want);
				printf("# in the order of ops");
				for (i = 0; i < h->n; i++)
					printf(" %zu", idx[i]);
				printf("\n");
			}
			free(got);
		}
		store_close(&st);
		unlink(path);
	} while (ok && s_next_order(idx, h->n));
	if (ok)
		CHECK_EQ_UINT(runs, all);
}

/* Adds to t the status and paid/balance of order id, as GET shows it. */
static void
s_order_text(store_t *st, const char *id, dh_text_t *t)
{
	json_t *o = NULL;
	err_t err;

	if (order_get(st, id, &o, &err) != 0) {
		dh_text_add(t, "%s: %s\n", id, err.msg);
		return;
	}
	dh_text_add(t, "%s: %s paid %lld balance %lld\n", id,
	    json_string_value(json_object_get(o, "status")),
	    (long long)json_integer_value(json_object_get(o, "paid")),
	    (long long)json_integer_value(json_object_get(o, "balance")));
	json_decref(o);
}

/* Adds to t the ids GET /v1/orders?status=status lists. */
static void
s_listed_text(store_t *st, const char *status, dh_text_t *t)
{
	json_t *l = t_list_where(st, order_list, "status", status), *o;
	size_t i;

	dh_text_add(t, "?status=%s:", status);
	json_array_foreach(json_object_get(l, "items"), i, o)
		dh_text_add(t, " %s",
		    json_string_value(json_object_get(o, "id")));
	dh_text_add(t, "\n");
	json_decref(l);
}

/* Adds to t the alerts of kind, "subject: message" each. */
static void
s_alerts_text(store_t *st, const char *kind, dh_text_t *t)
{
	json_t *l = t_list_where(st, alert_list, "kind", kind), *a;
	size_t i;

	json_array_foreach(json_object_get(l, "items"), i, a)
		dh_text_add(t, "%s %s: %s\n", kind,
		    json_string_value(json_object_get(a, "subject")),
		    json_string_value(json_object_get(a, "message")));
	json_decref(l);
}

/* Adds to t what customer S001-C1 owes on account (order_exposure). */
static void
s_exposure_text(store_t *st, dh_text_t *t)
{
	char text[MONEY_TEXT_MAX];

	dh_text_add(t, "exposure %s\n",
	    money_text(order_exposure(st, "S001-C1"), text, sizeof text));
}

/* S001's online order id on account of customer S001-C1, without a
 * fulfilling site, of lines TEA 2 x price and, with mug, MUG 1 x 300. */
static json_t *
s_account_order(int64_t price, int mug)
{
	json_t *f = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:[{s:s, "
			      "s:i, s:I}]}",
	    "site", "S001", "channel", "online", "customer", "S001-C1",
	    "currency", "CNY", "fulfil_site", "", "status", "confirmed",
	    "on_account", 1, "lines", "sku", "TEA", "qty", 2, "unit_price",
	    (json_int_t)price);

	if (mug)
		json_array_append_new(json_object_get(f, "lines"),
		    json_pack("{s:s, s:i, s:i}", "sku", "MUG", "qty", 1,
			"unit_price", 300));
	return f;
}

/* S001 cancels S001-P1 (TEA 2 x 100, MUG 1 x 300) while W001 ships its
 * fulfilment of the TEA, HQ-F1; head office, seeing the cancellation,
 * cancels the MUG's, HQ-F2, which had not shipped. */
static void
s_crossing_history(dh_history_t *h)
{
	dh_add(h, "S001", 1, dh_at(1, 0), ORDER_ENTITY, "S001-P1", "create",
	    s_account_order(100, 1), 1);
	dh_add(h, "HQ", 1, dh_at(2, 0), ORDER_ENTITY, "HQ-F1", "create",
	    s_child_fields("W001", "S001-P1", "TEA", 2, 100, "W001: why"), 1);
	dh_add(h, "HQ", 2, dh_at(2, 1), ORDER_ENTITY, "HQ-F2", "create",
	    s_child_fields("W002", "S001-P1", "MUG", 1, 300, "W002: why"), 1);
	dh_add(h, "W001", 1, dh_at(3, 0), ORDER_ENTITY, "HQ-F1", "transition",
	    json_pack("{s:s, s:s}", "to", "shipped", "tracking", "SF1"), 1);
	dh_add(h, "S001", 2, dh_at(3, 1), ORDER_ENTITY, "S001-P1", "transition",
	    json_pack("{s:s, s:s}", "to", "cancelled", "reason", "changed"), 1);
	dh_add(h, "HQ", 3, dh_at(4, 0), ORDER_ENTITY, "HQ-F2", "transition",
	    json_pack("{s:s, s:s}", "to", "cancelled", "reason",
		"order S001-P1 cancelled"),
	    1);
}

static void
s_crossing_figures(store_t *st, dh_text_t *t)
{
	json_t *r;
	char *text;

	s_order_text(st, "S001-P1", t);
	s_order_text(st, "HQ-F1", t);
	s_order_text(st, "HQ-F2", t);
	s_listed_text(st, "shipped", t);
	s_listed_text(st, "cancelled", t);
	r = t_list_where(st, report_sales, "group", "sku");
	text = dh_dump(json_deep_copy(json_object_get(r, "items")));
	dh_text_add(t, "sales %s\n", text);
	free(text);
	json_decref(r);
	s_exposure_text(st, t);
	s_alerts_text(st, "conflicting_transition", t);
}

/* F3 of the review: the fulfilment's shipment outranks the parent's
 * cancellation wherever the parent's status counts, in every arrival
 * order. Only the shipped line is a sale; the parent is owed in full
 * (its balance is its total less what was paid). */
TEST(rule_fulfilment_shipped_outranks_parent_cancelled_in_every_order)
{
	dh_history_t h = { 0 };

	s_crossing_history(&h);
	s_every_order(&h, s_crossing_figures,
	    "S001-P1: shipped paid 0 balance 500\n"
	    "HQ-F1: shipped paid 0 balance 200\n"
	    "HQ-F2: cancelled paid 0 balance 300\n"
	    "?status=shipped: S001-P1 HQ-F1\n"
	    "?status=cancelled: HQ-F2\n"
	    "sales [{\"currency\":\"CNY\",\"orders\":1,\"qty\":2,\"sku\":"
	    "\"TEA\",\"total\":200}]\n"
	    "exposure 500\n"
	    "conflicting_transition S001-P1: order S001-P1 was cancelled at "
	    "S001 but its fulfilment HQ-F1 was shipped at W001: goods left, "
	    "open a return if needed\n");
	dh_history_free(&h);
}

/* The same crossing with one fulfilment of every line: the parent is
 * shipped with all its lines sold; without the shipment it is
 * cancelled and nothing counts. */
TEST(rule_parent_cancelled_before_any_shipment_stays_cancelled)
{
	dh_history_t h = { 0 };
	store_t *st;
	char *text;

	dh_add(&h, "S001", 1, dh_at(1, 0), ORDER_ENTITY, "S001-P1", "create",
	    s_account_order(100, 0), 1);
	dh_add(&h, "HQ", 1, dh_at(2, 0), ORDER_ENTITY, "HQ-F1", "create",
	    s_child_fields("W001", "S001-P1", "TEA", 2, 100, "W001: why"), 1);
	dh_add(&h, "W001", 1, dh_at(3, 0), ORDER_ENTITY, "HQ-F1", "transition",
	    json_pack("{s:s}", "to", "picked"), 1);
	dh_add(&h, "S001", 2, dh_at(3, 1), ORDER_ENTITY, "S001-P1",
	    "transition", json_pack("{s:s}", "to", "cancelled"), 1);
	dh_add(&h, "HQ", 2, dh_at(4, 0), ORDER_ENTITY, "HQ-F1", "transition",
	    json_pack("{s:s}", "to", "cancelled"), 1);
	if ((st = dh_rule_run(&h)) == NULL) {
		dh_history_free(&h);
		return;
	}
	{
		dh_text_t t = { NULL, 0, 0 };

		s_crossing_figures(st, &t);
		text = dh_text_take(&t);
		CHECK_STR(text,
		    "S001-P1: cancelled paid 0 balance 200\n"
		    "HQ-F1: cancelled paid 0 balance 200\n"
		    "HQ-F2: order HQ-F2: not found\n"
		    "?status=shipped:\n"
		    "?status=cancelled: S001-P1 HQ-F1\n"
		    "sales []\n"
		    "exposure 0\n");
		free(text);
	}
	store_close(&st);
	/* Had W001 shipped instead of picking, in every order: shipped. */
	dh_history_free(&h);
	dh_add(&h, "S001", 1, dh_at(1, 0), ORDER_ENTITY, "S001-P1", "create",
	    s_account_order(100, 0), 1);
	dh_add(&h, "HQ", 1, dh_at(2, 0), ORDER_ENTITY, "HQ-F1", "create",
	    s_child_fields("W001", "S001-P1", "TEA", 2, 100, "W001: why"), 1);
	dh_add(&h, "W001", 1, dh_at(3, 0), ORDER_ENTITY, "HQ-F1", "transition",
	    json_pack("{s:s}", "to", "shipped"), 1);
	dh_add(&h, "S001", 2, dh_at(3, 1), ORDER_ENTITY, "S001-P1",
	    "transition", json_pack("{s:s}", "to", "cancelled"), 1);
	dh_add(&h, "HQ", 2, dh_at(4, 0), ORDER_ENTITY, "HQ-F1", "transition",
	    json_pack("{s:s}", "to", "cancelled"), 1);
	s_every_order(&h, s_crossing_figures,
	    "S001-P1: shipped paid 0 balance 200\n"
	    "HQ-F1: shipped paid 0 balance 200\n"
	    "HQ-F2: order HQ-F2: not found\n"
	    "?status=shipped: S001-P1 HQ-F1\n"
	    "?status=cancelled:\n"
	    "sales [{\"currency\":\"CNY\",\"orders\":1,\"qty\":2,\"sku\":"
	    "\"TEA\",\"total\":200}]\n"
	    "exposure 200\n"
	    "conflicting_transition HQ-F1: order HQ-F1 was cancelled at HQ "
	    "but shipped at W001: goods left, open a return if needed\n"
	    "conflicting_transition S001-P1: order S001-P1 was cancelled at "
	    "S001 but its fulfilment HQ-F1 was shipped at W001: goods left, "
	    "open a return if needed\n");
	dh_history_free(&h);
}

/* W001 takes cash on delivery on its fulfilment HQ-F7 of S001-P2 (an old
 * site's op: the command refuses it now), then releases HQ-F7; S001
 * takes 500 more on S001-P2. */
static void
s_child_money_history(dh_history_t *h)
{
	dh_add(h, "S001", 1, dh_at(1, 0), ORDER_ENTITY, "S001-P2", "create",
	    s_account_order(1000, 0), 1);
	dh_add(h, "HQ", 1, dh_at(2, 0), ORDER_ENTITY, "HQ-F7", "create",
	    s_child_fields("W001", "S001-P2", "TEA", 2, 1000, "W001: why"), 1);
	dh_add(h, "W001", 1, dh_at(3, 0), PAYMENT_ENTITY, "W001-COD1", "add",
	    json_pack("{s:s, s:s, s:i, s:s, s:s}", "order", "HQ-F7", "method",
		"cash", "amount", 2000, "currency", "CNY", "site", "W001"),
	    1);
	dh_add(h, "W001", 2, dh_at(4, 0), ORDER_ENTITY, "HQ-F7", "transition",
	    json_pack("{s:s, s:s}", "to", "cancelled", "reason", "damaged"), 1);
	dh_add(h, "S001", 2, dh_at(5, 0), PAYMENT_ENTITY, "S001-PAY1", "add",
	    json_pack("{s:s, s:s, s:i, s:s, s:s}", "order", "S001-P2", "method",
		"card", "amount", 500, "currency", "CNY", "site", "S001"),
	    1);
}

static void
s_child_money_figures(store_t *st, dh_text_t *t)
{
	s_order_text(st, "S001-P2", t);
	s_order_text(st, "HQ-F7", t);
	s_exposure_text(st, t);
	s_alerts_text(st, "overpaid", t);
	s_alerts_text(st, "over_refund", t);
}

/* F4 of the review: money taken on a fulfilment, even a released one,
 * is its parent's: in its paid, balance, exposure and the overpaid alert,
 * in every arrival order. */
TEST(rule_payment_on_a_fulfilment_counts_on_its_parent_in_every_order)
{
	dh_history_t h = { 0 };

	s_child_money_history(&h);
	s_every_order(&h, s_child_money_figures,
	    "S001-P2: confirmed paid 2500 balance -500\n"
	    "HQ-F7: cancelled paid 2000 balance 0\n"
	    "exposure -500\n"
	    "overpaid S001-P2: order S001-P2 paid 2500 on a total of 2000: "
	    "refund 500\n");
	dh_history_free(&h);
}

/* The commands, where the site knows: S001 may not cancel a parent whose
 * fulfilment it knows shipped (409, the shipped fulfilment named);
 * W001 may take no payment nor invoice on a fulfilment (422, the parent
 * named). Nothing is written. */
TEST(commands_refuse_cancelling_a_shipped_parent_and_money_on_a_fulfilment)
{
	dh_history_t h = { 0 };
	store_t *s1 = s_open("S001", 0), *w1 = s_open("W001", 0);
	size_t idx[] = { 0, 1, 2, 3 }, counts[INGEST_RESULTS] = { 0 };
	json_t *req, *out = NULL;
	int64_t seq, after;
	int created;
	err_t err;

	REQUIRE(s1 != NULL && w1 != NULL);
	dh_add(&h, "S001", 1, dh_at(1, 0), ORDER_ENTITY, "S001-P1", "create",
	    s_account_order(100, 1), 1);
	dh_add(&h, "HQ", 1, dh_at(2, 0), ORDER_ENTITY, "HQ-F1", "create",
	    s_child_fields("W001", "S001-P1", "TEA", 2, 100, "W001: why"), 1);
	dh_add(&h, "HQ", 2, dh_at(2, 1), ORDER_ENTITY, "HQ-F2", "create",
	    s_child_fields("W002", "S001-P1", "MUG", 1, 300, "W002: why"), 1);
	dh_add(&h, "W001", 1, dh_at(3, 0), ORDER_ENTITY, "HQ-F1", "transition",
	    json_pack("{s:s}", "to", "delivered"), 1);
	REQUIRE(dh_ingest(s1, &h, idx, 4, counts) == 0);
	CHECK_EQ_INT(store_meta_get_int(s1, "seq", 0, &seq, &err), 0);
	req = json_pack("{s:s, s:s}", "to", "cancelled", "reason", "changed");
	CHECK_REFUSED(order_transition(s1, "S001-P1", req, &out, &err), out,
	    err, ERR_CONFLICT,
	    "to: order S001-P1 cannot be cancelled: its fulfilment HQ-F1 is "
	    "delivered at W001; open a return instead");
	json_decref(req);
	CHECK_EQ_INT(store_meta_get_int(s1, "seq", 0, &after, &err), 0);
	CHECK_EQ_INT(after, seq);
	{
		/* Shown as its fulfilments went: MUG not shipped yet. */
		json_t *o = t_get(s1, order_get, "S001-P1");

		CHECK_STR(json_string_value(json_object_get(o, "status")),
		    "allocated");
		json_decref(o);
	}

	memset(counts, 0, sizeof counts);
	REQUIRE(dh_ingest(w1, &h, idx, 2, counts) == 0);
	CHECK_EQ_INT(store_meta_get_int(w1, "seq", 0, &seq, &err), 0);
	req = json_pack("{s:s, s:s, s:s, s:i, s:s}", "id", "COD1", "order",
	    "HQ-F1", "method", "cash", "amount", 200, "currency", "CNY");
	CHECK_REFUSED(payment_create(w1, req, &out, &created, &err), out, err,
	    ERR_UNPROCESSABLE,
	    "order: HQ-F1 is a fulfilment of order S001-P1; take payments on "
	    "S001-P1");
	json_decref(req);
	req = json_pack("{s:s, s:s}", "id", "I1", "order", "HQ-F1");
	CHECK_REFUSED(invoice_create(w1, req, &out, &created, &err), out, err,
	    ERR_UNPROCESSABLE,
	    "order: HQ-F1 is a fulfilment of order S001-P1; invoice S001-P1");
	json_decref(req);
	CHECK_EQ_INT(store_meta_get_int(w1, "seq", 0, &after, &err), 0);
	CHECK_EQ_INT(after, seq);
	store_close(&s1);
	store_close(&w1);
	dh_history_free(&h);
}
