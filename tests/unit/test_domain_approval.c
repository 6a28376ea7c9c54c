/*
 * test_domain_approval: approvals of special prices (approval.h).
 *
 * The threshold arithmetic is exact integer math, checked at its
 * boundary: a line exactly at the threshold needs no approval, a minor
 * unit more does. The order status ranks are the lifecycle's, and schema
 * 0027 moves the ranks a database stored before so that its histories
 * keep their meaning.
 *
 * At a store (its own replica, head office's thresholds ingested as ops):
 * which threshold applies (category's, else tier's, else the default),
 * the answer and its exact reason, a draft that asks for approval when it
 * is confirmed, the moves refused while pending with their exact texts.
 * At head office: the decisions and their refusals, and the approvals
 * listed by status.
 *
 * The rule: a shipment of a pending order by its fulfilling site, head
 * office's approval and the order's create, in every one of the six
 * arrival orders, end the same: the shipment applied once the approval is
 * held, or quarantined with its exact reason when head office rejected
 * the order instead; a site's own confirmation or decision refused
 * everywhere. Then random histories of such orders (seeded, BL_SEED
 * replays one), ingested in random orders and batches: the same state.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "apply.h"
#include "approval.h"
#include "catalog.h"
#include "domain_harness.h"
#include "domain_read.h"
#include "harness.h"
#include "lifecycle.h"
#include "order.h"
#include "schema.h"
#include "store.h"

/* ---- the arithmetic ---- */

TEST(threshold_arithmetic_is_exact_at_the_boundary)
{
	char buf[32];

	/* 20% of 1000 is 200: 800 is at the threshold, 799 beyond it. */
	CHECK_EQ_INT(approval_below(800, 1000, 20), 0);
	CHECK_EQ_INT(approval_below(799, 1000, 20), 1);
	/* Not below at all. */
	CHECK_EQ_INT(approval_below(1000, 1000, 0), 0);
	CHECK_EQ_INT(approval_below(1200, 1000, 0), 0);
	/* 0%: any discount; 100%: none, not even a free line. */
	CHECK_EQ_INT(approval_below(999, 1000, 0), 1);
	CHECK_EQ_INT(approval_below(0, 1000, 100), 0);
	CHECK_EQ_INT(approval_below(0, 1000, 99), 1);
	/* A third off 3: 1/3 is more than 33%, less than 34%. */
	CHECK_EQ_INT(approval_below(2, 3, 33), 1);
	CHECK_EQ_INT(approval_below(2, 3, 34), 0);
	/* At the largest price a line may carry, one minor unit counts. */
	CHECK_EQ_INT(approval_below(1000000000000 - 1, 1000000000000, 0), 1);
	CHECK_EQ_INT(approval_below(800000000000, 1000000000000, 20), 0);
	CHECK_EQ_INT(approval_below(800000000000 - 1, 1000000000000, 20), 1);

	/* Shown rounded up to a tenth: never at the threshold when over. */
	approval_percent_text(700, 1000, buf, sizeof buf);
	CHECK_STR(buf, "30");
	approval_percent_text(799, 1000, buf, sizeof buf);
	CHECK_STR(buf, "20.1");
	approval_percent_text(7999, 10000, buf, sizeof buf);
	CHECK_STR(buf, "20.1");
	approval_percent_text(2, 3, buf, sizeof buf);
	CHECK_STR(buf, "33.4");
	approval_percent_text(0, 1000, buf, sizeof buf);
	CHECK_STR(buf, "100");
}

/* ---- ranks ---- */

TEST(order_ranks_are_the_lifecycles_and_0027_keeps_old_histories)
{
	static const char *const names[] = { "draft", "pending_approval",
		"confirmed", "allocated", "picked", "cancelled", "shipped",
		"delivered", "completed" };
	static const int ranks[] = { ORDER_RANK_DRAFT,
		ORDER_RANK_PENDING_APPROVAL, ORDER_RANK_CONFIRMED,
		ORDER_RANK_ALLOCATED, ORDER_RANK_PICKED, ORDER_RANK_CANCELLED,
		ORDER_RANK_SHIPPED, ORDER_RANK_DELIVERED,
		ORDER_RANK_COMPLETED };
	/* What a database before 0027 stored: the same names, one rank
	 * fewer from confirmed on. */
	static const char *const old[] = { "draft", "confirmed", "allocated",
		"picked", "cancelled", "shipped", "delivered", "completed" };
	const char *dir = harness_tmpdir();
	char path[4200], *got;
	sqlite3 *db = NULL;
	store_t *st;
	err_t err;
	size_t i;
	int k;

	CHECK_EQ_INT(lifecycle_order.count, 9);
	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		CHECK_EQ_INT(lifecycle_rank(&lifecycle_order, names[i]),
		    ranks[i]);
		CHECK_STR(lifecycle_name(&lifecycle_order, ranks[i]), names[i]);
	}
	/* A node's database at version 26, with a history of every old
	 * status, then opened by this build. */
	snprintf(path, sizeof path, "%s/old.db", dir);
	REQUIRE(sqlite3_open(path, &db) == SQLITE_OK);
	for (k = 0; k < schema_migration_count; k++)
		if (schema_migrations[k].number < 27 &&
		    schema_migrations[k].side != SCHEMA_HUB)
			CHECK_EQ_INT(sqlite3_exec(db, schema_migrations[k].sql,
					 NULL, NULL, NULL),
			    SQLITE_OK);
	CHECK_EQ_INT(sqlite3_exec(db, "PRAGMA user_version = 26", NULL, NULL,
			 NULL),
	    SQLITE_OK);
	for (i = 0; i < sizeof old / sizeof old[0]; i++) {
		char *sql = sqlite3_mprintf(
		    "INSERT INTO order_history(order_id, origin, seq, hlc, "
		    "status, rank) VALUES ('S001-O-%d', 'S001', %d, 1, %Q, "
		    "%d)",
		    (int)i, (int)i + 1, old[i], (int)i);

		CHECK_EQ_INT(sqlite3_exec(db, sql, NULL, NULL, NULL),
		    SQLITE_OK);
		sqlite3_free(sql);
	}
	sqlite3_close(db);
	st = store_open(path, STORE_NODE, 0, &apply_rules, &err);
	REQUIRE_MSG(st != NULL, "store_open: %s", err.msg);
	got = dh_rows(st,
	    "SELECT count(*) FROM order_history WHERE rank != "
	    "CASE status WHEN 'draft' THEN 0 WHEN 'confirmed' THEN 2 "
	    "WHEN 'allocated' THEN 3 WHEN 'picked' THEN 4 "
	    "WHEN 'cancelled' THEN 5 WHEN 'shipped' THEN 6 "
	    "WHEN 'delivered' THEN 7 WHEN 'completed' THEN 8 END");
	CHECK_STR(got, "0\n");
	free(got);
	store_close(&st);
}

/* ---- at a store ---- */

/* An op of head office's at minute m (seq m), for the replicas below. */
static void
s_hq(dh_history_t *h, uint64_t m, const char *entity, const char *key,
    json_t *fields)
{
	dh_add(h, "HQ", m, dh_at(m, 0), entity, key, "set", fields, 1);
}

/* Head office's catalog and thresholds: BOX (no category) 1000 retail,
 * 900 vip; TEA (category gift) 1000 retail; PEN (no price in CNY);
 * thresholds: 20% by default, 10% for tier vip, 50% for category gift. */
static void
s_catalog(dh_history_t *h)
{
	s_hq(h, 1, PRODUCT_ENTITY, "BOX", json_pack("{s:s}", "name", "Box"));
	s_hq(h, 2, PRODUCT_ENTITY, "TEA",
	    json_pack("{s:s, s:s}", "name", "Tea", "category", "gift"));
	s_hq(h, 3, PRODUCT_ENTITY, "PEN", json_pack("{s:s}", "name", "Pen"));
	s_hq(h, 4, PRICE_ENTITY, "retail/BOX",
	    json_pack("{s:s, s:s, s:i, s:s}", "tier", "retail", "sku", "BOX",
		"amount", 1000, "currency", "CNY"));
	s_hq(h, 5, PRICE_ENTITY, "vip/BOX",
	    json_pack("{s:s, s:s, s:i, s:s}", "tier", "vip", "sku", "BOX",
		"amount", 900, "currency", "CNY"));
	s_hq(h, 6, PRICE_ENTITY, "retail/TEA",
	    json_pack("{s:s, s:s, s:i, s:s}", "tier", "retail", "sku", "TEA",
		"amount", 1000, "currency", "CNY"));
	s_hq(h, 7, APPROVAL_ENTITY, "default",
	    json_pack("{s:i}", "percent", 20));
	s_hq(h, 8, APPROVAL_ENTITY, "tier/vip",
	    json_pack("{s:i, s:s}", "percent", 10, "tier", "vip"));
	s_hq(h, 9, APPROVAL_ENTITY, "category/gift",
	    json_pack("{s:i, s:s}", "percent", 50, "category", "gift"));
}

/* A replica of site name holding h, role "hq" when hq. */
static store_t *
s_replica(const char *name, const dh_history_t *h, int hq)
{
	store_t *st = dh_open(harness_tmpdir(), name);
	size_t counts[INGEST_RESULTS] = { 0 }, *idx, i;
	err_t err;

	if (st == NULL)
		return NULL;
	if (hq &&
	    (store_begin(st, &err) ||
		store_meta_set_text(st, "role", "hq", &err) ||
		store_commit(st, &err))) {
		CHECK_MSG(0, "role of %s: %s", name, err.msg);
		store_close(&st);
		return NULL;
	}
	if ((idx = calloc(h->n + 1, sizeof *idx)) == NULL)
		abort();
	for (i = 0; i < h->n; i++)
		idx[i] = i;
	if (dh_ingest(st, h, idx, h->n, counts) != 0)
		store_close(&st);
	free(idx);
	return st;
}

/* METHOD path with body (JSON text or NULL) on st as role: "STATUS" and
 * then the answer's status and approval reason, or its error message
 * (caller frees). *out (may be NULL) gets the answer. */
static char *
s_call(store_t *st, const char *role, const char *method, const char *path,
    const char *body, json_t **out)
{
	api_t *api = api_new(NULL, st, role);
	json_t *b = body != NULL ? json_loads(body, 0, NULL) : NULL, *o = NULL;
	const json_t *e, *a;
	char *text;
	int status;

	if (body != NULL && b == NULL)
		abort();
	status = api_call(api, method, path, NULL, b, &o);
	e = json_object_get(json_object_get(o, "error"), "message");
	a = json_object_get(json_object_get(o, "approval"), "reason");
	if (e != NULL)
		text = sqlite3_mprintf("%d %s", status, json_string_value(e));
	else if (json_object_get(o, "status") != NULL)
		text = sqlite3_mprintf("%d %s%s%s", status,
		    json_string_value(json_object_get(o, "status")),
		    a != NULL ? " " : "",
		    a != NULL ? json_string_value(a) : "");
	else
		text = sqlite3_mprintf("%d", status);
	if (out != NULL)
		*out = o;
	else
		json_decref(o);
	json_decref(b);
	api_destroy(&api);
	return text;
}

/* The ids of the approvals st lists with status (NULL: all), space
 * separated, in a static buffer. */
static const char *
s_ids(store_t *st, const char *status)
{
	static char buf[512];
	json_t *l = t_list_where(st, approval_list, "status", status), *it;
	size_t i, n = 0;

	buf[0] = '\0';
	json_array_foreach(json_object_get(l, "items"), i, it)
		n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s",
		    n > 0 ? " " : "",
		    json_string_value(json_object_get(it, "id")));
	json_decref(l);
	return buf;
}

#define CALL_IS(st, method, path, body, want)                               \
	do {                                                                \
		char *got_ = s_call(st, "store", method, path, body, NULL); \
		CHECK_STR(got_, want);                                      \
		sqlite3_free(got_);                                         \
	} while (0)

TEST(store_prices_below_the_threshold_ask_for_approval_offline)
{
	dh_history_t h = { 0 };
	store_t *st;

	s_catalog(&h);
	st = s_replica("S001", &h, 0);
	REQUIRE(st != NULL);
	CALL_IS(st, "POST", "/v1/customers",
	    "{\"id\":\"V\",\"name\":\"Vip\",\"tier\":\"vip\"}", "201");
	/* Exactly at the default threshold: nothing to approve. */
	CALL_IS(st, "POST", "/v1/orders",
	    "{\"id\":\"O-1\",\"channel\":\"store\",\"currency\":\"CNY\","
	    "\"status\":\"confirmed\",\"lines\":[{\"sku\":\"BOX\",\"qty\":1,"
	    "\"unit_price\":800}]}",
	    "201 confirmed");
	/* One minor unit more. */
	CALL_IS(st, "POST", "/v1/orders",
	    "{\"id\":\"O-2\",\"channel\":\"store\",\"currency\":\"CNY\","
	    "\"status\":\"confirmed\",\"lines\":[{\"sku\":\"BOX\",\"qty\":1,"
	    "\"unit_price\":799}]}",
	    "201 pending_approval lines[0]: BOX at 799 is 20.1% below the "
	    "retail price 1000 (threshold 20%)");
	/* A vip: the vip price and the tier's threshold, 10% of 900 = 90. */
	CALL_IS(st, "POST", "/v1/orders",
	    "{\"id\":\"O-3\",\"channel\":\"store\",\"customer\":\"S001-V\","
	    "\"currency\":\"CNY\",\"status\":\"completed\",\"lines\":[{\"sku\":"
	    "\"BOX\",\"qty\":1,\"unit_price\":810}]}",
	    "201 completed");
	CALL_IS(st, "POST", "/v1/orders",
	    "{\"id\":\"O-4\",\"channel\":\"store\",\"customer\":\"S001-V\","
	    "\"currency\":\"CNY\",\"status\":\"completed\",\"lines\":[{\"sku\":"
	    "\"BOX\",\"qty\":1,\"unit_price\":809}]}",
	    "201 pending_approval lines[0]: BOX at 809 is 10.2% below the vip "
	    "price 900 (threshold 10% for tier vip)");
	/* A category's threshold wins over the tier's and the default. */
	CALL_IS(st, "POST", "/v1/orders",
	    "{\"id\":\"O-5\",\"channel\":\"store\",\"customer\":\"S001-V\","
	    "\"currency\":\"CNY\",\"status\":\"confirmed\",\"lines\":[{\"sku\":"
	    "\"TEA\",\"qty\":1,\"unit_price\":500}]}",
	    "201 confirmed");
	CALL_IS(st, "POST", "/v1/orders",
	    "{\"id\":\"O-6\",\"channel\":\"online\",\"currency\":\"CNY\","
	    "\"status\":\"confirmed\",\"lines\":[{\"sku\":\"PEN\",\"qty\":1,"
	    "\"unit_price\":1},{\"sku\":\"TEA\",\"qty\":2,\"unit_price\":499},"
	    "{\"sku\":\"BOX\",\"qty\":1,\"unit_price\":1}]}",
	    "201 pending_approval lines[1]: TEA at 499 is 50.1% below the "
	    "retail price 1000 (threshold 50% for category gift); and 1 more "
	    "line");
	/* A draft stays a draft, and asks when it is confirmed. */
	CALL_IS(st, "POST", "/v1/orders",
	    "{\"id\":\"O-7\",\"channel\":\"online\",\"currency\":\"CNY\","
	    "\"lines\":[{\"sku\":\"BOX\",\"qty\":1,\"unit_price\":700}]}",
	    "201 draft lines[0]: BOX at 700 is 30% below the retail price 1000 "
	    "(threshold 20%)");
	CALL_IS(st, "POST", "/v1/orders/S001-O-7/transition",
	    "{\"to\":\"confirmed\"}",
	    "200 pending_approval lines[0]: BOX at 700 is 30% below the "
	    "retail price 1000 (threshold 20%)");
	/* Pending: neither shipped nor confirmed here; its site may cancel
	 * it, and sell other orders meanwhile. */
	CALL_IS(st, "POST", "/v1/orders/S001-O-7/transition",
	    "{\"to\":\"shipped\"}",
	    "409 order S001-O-7: pending approval: it cannot be shipped "
	    "before head office approves it");
	CALL_IS(st, "POST", "/v1/orders/S001-O-7/transition",
	    "{\"to\":\"allocated\"}",
	    "409 order S001-O-7: pending approval: it cannot be allocated "
	    "before head office approves it");
	CALL_IS(st, "POST", "/v1/orders/S001-O-7/transition",
	    "{\"to\":\"confirmed\"}",
	    "409 order S001-O-7: pending approval: only head office's "
	    "approval confirms it");
	CALL_IS(st, "POST", "/v1/orders/S001-O-4/transition",
	    "{\"to\":\"completed\"}",
	    "409 order S001-O-4: pending approval: it cannot be completed "
	    "before head office approves it");
	CALL_IS(st, "POST", "/v1/orders/S001-O-7/transition",
	    "{\"to\":\"confirmed\",\"decision\":\"approved\"}",
	    "400 decision: head office decides with POST "
	    "/v1/approvals/S001-O-7/decision");
	CALL_IS(st, "POST", "/v1/orders/S001-O-1/transition",
	    "{\"to\":\"pending_approval\"}",
	    "422 to: order S001-O-1 needs no approval: its prices are within "
	    "head office's thresholds");
	CALL_IS(st, "POST", "/v1/orders",
	    "{\"id\":\"O-8\",\"channel\":\"store\",\"currency\":\"CNY\","
	    "\"status\":\"pending_approval\",\"lines\":[{\"sku\":\"BOX\","
	    "\"qty\":1}]}",
	    "422 status: pending_approval is for an order whose prices need "
	    "head office's approval, and this one's do not");
	CALL_IS(st, "POST", "/v1/orders/S001-O-2/transition",
	    "{\"to\":\"cancelled\"}",
	    "200 cancelled lines[0]: BOX at 799 is 20.1% below the retail "
	    "price 1000 (threshold 20%)");
	/* No sale left the store for a pending order: only O-1's. */
	CHECK_EQ_INT(dh_on_hand(st, "S001", "BOX"), -2);
	/* Decisions are head office's. */
	CALL_IS(st, "POST", "/v1/approvals/S001-O-7/decision",
	    "{\"approve\":true}",
	    "403 approval S001-O-7: head office decides approvals, at the hub");
	CALL_IS(st, "PUT", "/v1/approval/threshold", "{\"percent\":5}",
	    "403 approval threshold default: head office data is written at "
	    "the hub only");
	/* What the store holds, by approval status. */
	CHECK_STR(s_ids(st, "pending"), "S001-O-4 S001-O-6 S001-O-7");
	CHECK_STR(s_ids(st, "cancelled"), "S001-O-2");
	CHECK_STR(s_ids(st, "approved"), "");
	store_close(&st);
	dh_history_free(&h);
}

/* ---- at head office ---- */

/* Order S001-O-9 as S001 writes it, pending: online, fulfilled by W001,
 * one BOX at 700 (seq 1 of S001, minute 20). */
static void
s_pending_order(dh_history_t *h, int valid)
{
	json_t *f = dh_order_fields("S001", "online", "pending_approval", "BOX",
	    1, 700);

	json_object_set_new(f, "fulfil_site", json_string("W001"));
	json_object_set_new(f, "approval",
	    json_pack("{s:s}", "reason",
		"lines[0]: BOX at 700 is 30% below the retail price 1000 "
		"(threshold 20%)"));
	dh_add(h, "S001", 1, dh_at(20, 0), ORDER_ENTITY, "S001-O-9", "create",
	    f, valid);
}

TEST(head_office_decides_once_with_a_comment_and_lists_by_status)
{
	dh_history_t h = { 0 };
	store_t *hq;
	json_t *o, *l;
	char *got;

	s_catalog(&h);
	s_pending_order(&h, 1);
	dh_add(&h, "S001", 2, dh_at(21, 0), ORDER_ENTITY, "S001-O-10", "create",
	    dh_order_fields("S001", "store", "confirmed", "BOX", 1, 1000), 1);
	{
		json_t *f = dh_order_fields("S001", "store", "pending_approval",
		    "BOX", 2, 100);

		json_object_set_new(f, "approval",
		    json_pack("{s:s}", "reason", "lines[0]: too cheap"));
		dh_add(&h, "S001", 3, dh_at(22, 0), ORDER_ENTITY, "S001-O-11",
		    "create", f, 1);
	}
	hq = s_replica("HQ", &h, 1);
	REQUIRE(hq != NULL);
	CALL_IS(hq, "POST", "/v1/approvals/S001-O-9/decision", "{}",
	    "400 approve: must be true or false");
	CALL_IS(hq, "POST", "/v1/approvals/S001-O-9/decision",
	    "{\"approve\":false}", "400 comment: a rejection says why");
	CALL_IS(hq, "POST", "/v1/approvals/S001-O-9/decision",
	    "{\"approve\":true,\"note\":\"x\"}", "400 note: unknown field");
	CALL_IS(hq, "POST", "/v1/approvals/S001-O-99/decision",
	    "{\"approve\":true}", "404 order: S001-O-99 not found");
	CALL_IS(hq, "POST", "/v1/approvals/S001-O-10/decision",
	    "{\"approve\":true}",
	    "422 approval S001-O-10: order S001-O-10 needs no approval");
	CALL_IS(hq, "POST", "/v1/orders/S001-O-9/transition",
	    "{\"to\":\"confirmed\"}",
	    "409 order S001-O-9: pending approval: head office decides it with "
	    "POST /v1/approvals/S001-O-9/decision");
	got = s_call(hq, "hq", "POST", "/v1/approvals/S001-O-9/decision",
	    "{\"approve\":true,\"comment\":\"regular customer\"}", &o);
	CHECK_STR(got, "200 approved");
	sqlite3_free(got);
	CHECK_STR(json_string_value(json_object_get(o, "comment")),
	    "regular customer");
	CHECK_STR(json_string_value(json_object_get(o, "decided_by")), "HQ");
	CHECK(json_integer_value(json_object_get(o, "decided_at_ms")) >
	    (json_int_t)(DH_WALL0 - 1000));
	json_decref(o);
	CALL_IS(hq, "POST", "/v1/approvals/S001-O-9/decision",
	    "{\"approve\":false,\"comment\":\"no\"}",
	    "409 approval S001-O-9: already approved");
	got = s_call(hq, "hq", "POST", "/v1/approvals/S001-O-11/decision",
	    "{\"approve\":false,\"comment\":\"below cost\"}", NULL);
	CHECK_STR(got, "200 rejected");
	sqlite3_free(got);
	o = t_get(hq, order_get, "S001-O-11");
	CHECK_STR(json_string_value(json_object_get(o, "status")), "cancelled");
	got = dh_dump(json_incref(json_object_get(o, "approval")));
	CHECK(got != NULL && strstr(got, "\"comment\":\"below cost\"") &&
	    strstr(got, "\"status\":\"rejected\""));
	free(got);
	json_decref(o);
	o = t_get(hq, order_get, "S001-O-9");
	CHECK_STR(json_string_value(json_object_get(o, "status")), "confirmed");
	json_decref(o);
	/* Filters are exact. */
	l = t_list_where(hq, approval_list, "status", "approved");
	CHECK_EQ_INT(json_array_size(json_object_get(l, "items")), 1);
	CHECK_STR(json_string_value(
		      json_object_get(json_array_get(json_object_get(l,
							 "items"),
					  0),
			  "id")),
	    "S001-O-9");
	json_decref(l);
	l = t_list_where(hq, approval_list, "status", "rejected");
	CHECK_EQ_INT(json_array_size(json_object_get(l, "items")), 1);
	CHECK_STR(json_string_value(
		      json_object_get(json_array_get(json_object_get(l,
							 "items"),
					  0),
			  "id")),
	    "S001-O-11");
	json_decref(l);
	l = t_list_where(hq, approval_list, "status", "pending");
	CHECK_EQ_INT(json_array_size(json_object_get(l, "items")), 0);
	json_decref(l);
	l = t_list(hq, approval_list, NULL);
	CHECK_EQ_INT(json_array_size(json_object_get(l, "items")), 2);
	json_decref(l);
	{
		json_t *q = json_pack("{s:s}", "status", "done");
		err_t err;

		l = NULL;
		CHECK_EQ_INT(approval_list(hq, q, &l, &err), -1);
		CHECK_STR(err.msg,
		    "status: 'done' is not an approval status (pending, "
		    "approved, rejected, cancelled, draft)");
		json_decref(q);
	}
	/* Thresholds are set at head office. */
	CALL_IS(hq, "PUT", "/v1/approval/threshold",
	    "{\"percent\":15,\"tier\":\"member\"}", "200");
	CALL_IS(hq, "PUT", "/v1/approval/threshold",
	    "{\"percent\":15,\"tier\":\"member\",\"category\":\"gift\"}",
	    "400 tier, category: a threshold is a tier's or a category's, not "
	    "both");
	CALL_IS(hq, "PUT", "/v1/approval/threshold", "{\"percent\":101}",
	    "400 percent: must be an integer from 0 to 100");
	CALL_IS(hq, "PUT", "/v1/approval/threshold",
	    "{\"percent\":5,\"tier\":\"gold\"}",
	    "400 tier: 'gold' is not one of retail, member, vip, wholesale");
	l = t_list(hq, approval_thresholds, NULL);
	got = dh_dump(json_incref(json_object_get(l, "items")));
	CHECK_STR(got,
	    "[{\"percent\":20},{\"percent\":15,\"tier\":\"member\"},"
	    "{\"percent\":10,\"tier\":\"vip\"},{\"category\":\"gift\","
	    "\"percent\":50}]");
	free(got);
	json_decref(l);
	store_close(&hq);
	dh_history_free(&h);
}

/* ---- the rule, in every arrival order ---- */

/* Ingests ops idx[0..3) of h one at a time into a new replica (so what
 * waited is taken up after each, as the daemons do) and returns its
 * state as text: the order as shown, the quarantine. */
static char *
s_state_after(const dh_history_t *h, const size_t *idx, size_t n,
    const char *name)
{
	store_t *st = dh_open(harness_tmpdir(), name);
	dh_text_t t = { NULL, 0, 0 };
	size_t counts[INGEST_RESULTS] = { 0 }, i;
	json_t *o;
	char *q;

	if (st == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		if (dh_ingest(st, h, &idx[i], 1, counts) != 0)
			break;
	o = t_get(st, order_get, "S001-O-9");
	json_object_del(o, "created_ms");
	dh_text_json(&t, o);
	q = dh_quarantined(st);
	dh_text_add(&t, "%s", q);
	free(q);
	store_close(&st);
	return dh_text_take(&t);
}

/* Every arrival order of the first three ops of h (the create, head
 * office's decision, the shipment) and then the rest: the same state;
 * returns it (caller frees). */
static char *
s_every_order(const dh_history_t *h)
{
	static const size_t perm[6][3] = { { 0, 1, 2 }, { 0, 2, 1 },
		{ 1, 0, 2 }, { 1, 2, 0 }, { 2, 0, 1 }, { 2, 1, 0 } };
	size_t idx[16], i, k;
	char *first = NULL, *got, name[16];

	if (h->n > sizeof idx / sizeof idx[0])
		abort();
	for (k = 0; k < 6; k++) {
		/* The catalog first, then the three in this order. */
		for (i = 0; i + 3 < h->n; i++)
			idx[i] = i;
		for (i = 0; i < 3; i++)
			idx[h->n - 3 + i] = h->n - 3 + perm[k][i];
		snprintf(name, sizeof name, "perm%zu", k);
		got = s_state_after(h, idx, h->n, name);
		if (first == NULL) {
			first = got;
			continue;
		}
		dh_same_text("state", "perm0", first, name, got);
		free(got);
	}
	return first;
}

TEST(rule_shipment_waits_for_the_approval_in_every_arrival_order)
{
	dh_history_t h = { 0 };
	store_t *st;
	char *got;

	s_catalog(&h);
	s_pending_order(&h, 1);
	dh_add(&h, "HQ", 10, dh_at(30, 0), ORDER_ENTITY, "S001-O-9",
	    "transition",
	    json_pack("{s:s, s:s, s:s}", "to", "confirmed", "decision",
		"approved", "comment", "ok for this customer"),
	    1);
	dh_add(&h, "W001", 1, dh_at(40, 0), ORDER_ENTITY, "S001-O-9",
	    "transition",
	    json_pack("{s:s, s:s}", "to", "shipped", "tracking", "SF1"), 1);
	got = s_every_order(&h);
	CHECK(got != NULL && strstr(got, "\"status\":\"shipped\"") != NULL);
	CHECK(got != NULL &&
	    strstr(got,
		"\"approval\":{\"comment\":\"ok for this customer\","
		"\"decided_at_ms\":") != NULL);
	/* Nothing left in the quarantine: the last line of the state is
	 * the order's. */
	CHECK(got != NULL && strstr(got, "apply op") == NULL);
	free(got);
	st = dh_rule_run(&h);
	CHECK(st != NULL);
	store_close(&st);
	dh_history_free(&h);
}

TEST(rule_shipment_of_a_rejected_order_stays_quarantined_everywhere)
{
	dh_history_t h = { 0 };
	store_t *st;
	char *got;

	s_catalog(&h);
	s_pending_order(&h, 1);
	dh_add(&h, "HQ", 10, dh_at(30, 0), ORDER_ENTITY, "S001-O-9",
	    "transition",
	    json_pack("{s:s, s:s, s:s}", "to", "cancelled", "decision",
		"rejected", "comment", "below cost"),
	    1);
	dh_add(&h, "W001", 1, dh_at(40, 0), ORDER_ENTITY, "S001-O-9",
	    "transition", json_pack("{s:s}", "to", "shipped"), 0);
	got = s_every_order(&h);
	CHECK(got != NULL && strstr(got, "\"status\":\"cancelled\"") != NULL);
	CHECK(got != NULL &&
	    strstr(got,
		"'W001'|1|'apply op W001/1: order S001-O-9: pending approval: "
		"it cannot be shipped before head office approves it'\n") !=
		NULL);
	free(got);
	st = dh_rule_run(&h);
	CHECK(st != NULL);
	store_close(&st);
	dh_history_free(&h);
}

TEST(rule_a_site_neither_confirms_nor_decides_a_pending_order)
{
	dh_history_t h = { 0 };
	store_t *st;
	char *got;

	s_catalog(&h);
	s_pending_order(&h, 1);
	/* Its creator confirming it, or deciding; head office deciding a
	 * move that does not go with the decision; an order whose create
	 * is pending without saying why. */
	dh_add(&h, "S001", 2, dh_at(21, 0), ORDER_ENTITY, "S001-O-9",
	    "transition", json_pack("{s:s}", "to", "confirmed"), 0);
	dh_add(&h, "S001", 3, dh_at(22, 0), ORDER_ENTITY, "S001-O-9",
	    "transition",
	    json_pack("{s:s, s:s, s:s}", "to", "confirmed", "decision",
		"approved", "comment", "self-service"),
	    0);
	dh_add(&h, "HQ", 10, dh_at(23, 0), ORDER_ENTITY, "S001-O-9",
	    "transition",
	    json_pack("{s:s, s:s}", "to", "cancelled", "decision", "approved"),
	    0);
	dh_add(&h, "S001", 4, dh_at(24, 0), ORDER_ENTITY, "S001-O-12", "create",
	    dh_order_fields("S001", "store", "pending_approval", "BOX", 1, 10),
	    0);
	/* Its creator may still cancel it. */
	dh_add(&h, "S001", 5, dh_at(25, 0), ORDER_ENTITY, "S001-O-9",
	    "transition", json_pack("{s:s}", "to", "cancelled"), 1);
	st = dh_rule_run(&h);
	REQUIRE(st != NULL);
	got = dh_quarantined(st);
	CHECK_STR(got,
	    "'HQ'|10|'apply op HQ/10: order S001-O-9: decision: approved "
	    "moves the order to confirmed, not cancelled'\n"
	    "'S001'|2|'apply op S001/2: order S001-O-9: S001 may not confirm "
	    "it: its prices wait for head office's approval'\n"
	    "'S001'|3|'apply op S001/3: order S001-O-9: S001 may not decide "
	    "its approval: only head office may'\n"
	    "'S001'|4|'apply op S001/4: order S001-O-12: status: "
	    "pending_approval is for an order whose prices need head office's "
	    "approval, and this one's do not'\n");
	free(got);
	got = dh_rows(st,
	    "SELECT order_id, reason FROM order_approvals ORDER BY 1");
	CHECK_STR(got,
	    "'S001-O-9'|'lines[0]: BOX at 700 is 30% below the retail price "
	    "1000 (threshold 20%)'\n");
	free(got);
	store_close(&st);
	dh_history_free(&h);
}

/* Random histories of orders that need approval: creates by S001 (some
 * fulfilled by W001), head office's decisions, shipments, confirmations,
 * cancellations and completions by every party, some allowed and some not,
 * some before the decision. Ingested in random orders, in random batches
 * (so what waits is taken up at different times), every replica ends in
 * the same state, tables and views. */
TEST(random_histories_of_pending_orders_converge)
{
	static const char *const moves[] = { "confirmed", "shipped",
		"completed", "cancelled", "allocated", "delivered" };
	static const char *const sites[] = { "S001", "W001", "HQ" };
	dh_history_t h = { 0 };
	uint64_t seq[3] = { 100, 100, 100 }, m = 30;
	dh_snapshot_t first, snap;
	size_t *idx, i, k, n, counts[INGEST_RESULTS];
	int o, j;

	s_catalog(&h);
	for (o = 0; o < 12; o++) {
		char id[32];
		json_t *f = dh_order_fields("S001", "online",
		    harness_rand_below(4) ? "pending_approval" : "draft", "BOX",
		    1, 500);

		snprintf(id, sizeof id, "S001-R-%d", o);
		json_object_set_new(f, "fulfil_site",
		    json_string(harness_rand_below(2) ? "W001" : "S001"));
		json_object_set_new(f, "approval",
		    json_pack("{s:s}", "reason", "too cheap"));
		dh_add(&h, "S001", seq[0]++, dh_at(m++, 0), ORDER_ENTITY, id,
		    "create", f, 1);
		for (j = 0; j < 6; j++) {
			uint64_t who = harness_rand_below(3);
			const char *to = moves[harness_rand_below(6)];
			json_t *t = json_pack("{s:s}", "to", to);

			if (who == 2 &&
			    (strcmp(to, "confirmed") == 0 ||
				strcmp(to, "cancelled") == 0)) {
				json_object_set_new(t, "decision",
				    json_string(to[1] == 'o' ? "approved"
							     : "rejected"));
				json_object_set_new(t, "comment",
				    json_string("random"));
			}
			dh_add(&h, sites[who], seq[who]++, dh_at(m++, who),
			    ORDER_ENTITY, id, "transition", t, 1);
		}
	}
	if ((idx = calloc(h.n, sizeof *idx)) == NULL)
		abort();
	memset(&first, 0, sizeof first);
	for (k = 0; k < 4; k++) {
		char name[16];
		store_t *st;

		snprintf(name, sizeof name, "rand%zu", k);
		REQUIRE((st = dh_open(harness_tmpdir(), name)) != NULL);
		for (i = 0; i < h.n; i++)
			idx[i] = i;
		if (k > 0)
			dh_shuffle(idx, h.n);
		memset(counts, 0, sizeof counts);
		for (i = 0; i < h.n; i += n) {
			n = 1 + (size_t)harness_rand_below(5);
			if (n > h.n - i)
				n = h.n - i;
			if (dh_ingest(st, &h, idx + i, n, counts) != 0)
				break;
		}
		memset(&snap, 0, sizeof snap);
		dh_snapshot(st, k == 0 ? &first : &snap);
		if (k == 0) {
			/* The history means something: moves waited for an
			 * approval that never came, others passed after it. */
			char *got = dh_rows(st,
			    "SELECT (SELECT count(*) > 0 FROM quarantine WHERE "
			    "instr(reason, ': pending approval: ') > 0), "
			    "(SELECT count(*) > 0 FROM order_history h WHERE "
			    "h.rank > " ORDER_SQL(
				ORDER_RANK_CONFIRMED) " AND "
						      "h.rank != " ORDER_SQL(
							  ORDER_RANK_CANCELLED) ")");

			CHECK_STR(got, "1|1\n");
			free(got);
		}
		if (k > 0) {
			dh_same(&first, &snap, "rand0", name);
			dh_snapshot_free(&snap);
		}
		store_close(&st);
	}
	dh_snapshot_free(&first);
	free(idx);
	dh_history_free(&h);
}
