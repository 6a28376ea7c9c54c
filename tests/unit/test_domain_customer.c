/*
 * test_domain_customer: the customer's merge rules, each on one small
 * hand-picked history run by dh_rule_run (three orders and twice, the same
 * state every time) and then checked against what the rule says: LWW per
 * field, add-wins tags, points as a counter.
 *
 * A customer belongs to its creating site: no other site's create can
 * take it over (own.h). The regression at the end is the smallest
 * reproduction of a bug the converge test (test_domain_converge.c) once
 * found: a customer op with tier null that failed as a storage error
 * instead of being quarantined.
 */
#include <stdlib.h>

#include "customer.h"
#include "domain_harness.h"
#include "domain_read.h"
#include "harness.h"
#include "store.h"

/* LWW per field: the later (hlc, origin) wins, a tie goes to the greater
 * origin, and fields not written keep their own winner. */
TEST(rule_lww_field_later_hlc_wins_tie_to_greater_origin)
{
	dh_history_t h = { 0 };
	store_t *st;
	json_t *c;

	dh_add(&h, "S001", 1, dh_at(1, 0), CUSTOMER_ENTITY, "S001-C-1",
	    "create",
	    json_pack("{s:{s:s, s:s}}", "set", "name", "Ann", "phone", "111"),
	    1);
	dh_add(&h, "S002", 1, dh_at(3, 0), CUSTOMER_ENTITY, "S001-C-1",
	    "update", json_pack("{s:{s:s}}", "set", "name", "Bea"), 1);
	dh_add(&h, "W001", 1, dh_at(3, 0), CUSTOMER_ENTITY, "S001-C-1",
	    "update",
	    json_pack("{s:{s:s, s:s}}", "set", "name", "Cat", "tier", "vip"),
	    1);
	dh_add(&h, "S001", 2, dh_at(2, 5), CUSTOMER_ENTITY, "S001-C-1",
	    "update",
	    json_pack("{s:{s:s, s:s}}", "set", "name", "Dee", "tier", "member"),
	    1);
	dh_add(&h, "HQ", 1, dh_at(4, 0), CUSTOMER_ENTITY, "S001-C-1", "update",
	    json_pack("{s:{s:n}}", "set", "phone"), 1);
	if ((st = dh_rule_run(&h)) != NULL) {
		c = t_get(st, customer_get, "S001-C-1");
		CHECK_STR(json_string_value(json_object_get(c, "name")), "Cat");
		CHECK_STR(json_string_value(json_object_get(c, "tier")), "vip");
		CHECK(json_is_null(json_object_get(c, "phone")));
		CHECK_STR(json_string_value(json_object_get(c, "site")),
		    "S001");
		json_decref(c);
		store_close(&st);
	}
	dh_history_free(&h);
}

/* Add-wins OR-set: a remove takes only the add instances it names, so an
 * add it had not seen survives; a tag whose every add was seen goes. */
TEST(rule_or_set_concurrent_add_survives_remove)
{
	dh_history_t h = { 0 };
	store_t *st;
	char *tags;

	dh_add(&h, "S001", 1, dh_at(1, 0), CUSTOMER_ENTITY, "S001-C-2",
	    "create",
	    json_pack("{s:{s:s}, s:[s, s]}", "set", "name", "Eve", "tags_add",
		"vip-club", "promo"),
	    1);
	dh_add(&h, "S002", 1, dh_at(2, 0), CUSTOMER_ENTITY, "S001-C-2",
	    "update", json_pack("{s:[s]}", "tags_add", "vip-club"), 1);
	dh_add(&h, "W001", 1, dh_at(2, 0), CUSTOMER_ENTITY, "S001-C-2",
	    "update",
	    json_pack("{s:[{s:s, s:[[s, i]]}, {s:s, s:[[s, i]]}]}",
		"tags_remove", "tag", "vip-club", "adds", "S001", 1, "tag",
		"promo", "adds", "S001", 1),
	    1);
	/* A remove naming an add that never happened removes nothing. */
	dh_add(&h, "W001", 2, dh_at(3, 0), CUSTOMER_ENTITY, "S001-C-2",
	    "update",
	    json_pack("{s:[s], s:[{s:s, s:[[s, i]]}]}", "tags_add",
		"newsletter", "tags_remove", "tag", "newsletter", "adds",
		"W001", 1),
	    1);
	if ((st = dh_rule_run(&h)) != NULL) {
		json_t *c = t_get(st, customer_get, "S001-C-2");

		tags = dh_dump(json_incref(json_object_get(c, "tags")));
		json_decref(c);
		CHECK_STR(tags, "[\"newsletter\",\"vip-club\"]");
		free(tags);
		store_close(&st);
	}
	dh_history_free(&h);
}

/* Points are a counter: the sum of every delta, whatever the order. */
TEST(rule_points_are_the_sum_of_deltas)
{
	dh_history_t h = { 0 };
	store_t *st;
	json_t *c;

	dh_add(&h, "S001", 1, dh_at(1, 0), CUSTOMER_ENTITY, "S001-C-3",
	    "create",
	    json_pack("{s:{s:s}, s:i}", "set", "name", "Fay", "points_delta",
		100),
	    1);
	dh_add(&h, "S002", 1, dh_at(2, 0), CUSTOMER_ENTITY, "S001-C-3",
	    "update", json_pack("{s:i}", "points_delta", -30), 1);
	dh_add(&h, "W001", 1, dh_at(2, 0), CUSTOMER_ENTITY, "S001-C-3",
	    "update", json_pack("{s:i}", "points_delta", 5), 1);
	dh_add(&h, "S001", 2, dh_at(3, 0), CUSTOMER_ENTITY, "S001-C-3",
	    "update", json_pack("{s:i}", "points_delta", 7), 1);
	if ((st = dh_rule_run(&h)) != NULL) {
		c = t_get(st, customer_get, "S001-C-3");
		CHECK_EQ_INT(json_integer_value(json_object_get(c, "points")),
		    82);
		json_decref(c);
		store_close(&st);
	}
	dh_history_free(&h);
}

/* ---- who owns a customer ----
 * Each history runs in order, reversed and shuffled (dh_rule_run), so the
 * owner below is the rule's, not the arrival order's. */

/* A customer belongs to the site that created it, under its own id
 * (own.h): another site's create of that id, with a clock that would win
 * the tie-break of creates, is refused everywhere; its changes of the
 * shared fields are taken, and the owner stays. */
TEST(customer_owner_never_changes)
{
	dh_history_t h = { 0 };
	store_t *st;
	json_t *c;
	char *got;

	dh_add(&h, "S001", 1, dh_at(2, 0), CUSTOMER_ENTITY, "S001-C-T",
	    "create", json_pack("{s:{s:s}}", "set", "name", "Gus"), 1);
	dh_add(&h, "S002", 1, 1, CUSTOMER_ENTITY, "S001-C-T", "create",
	    json_pack("{s:{s:s, s:s}}", "set", "name", "Mallory", "phone",
		"666"),
	    0);
	dh_add(&h, "S002", 2, dh_at(3, 0), CUSTOMER_ENTITY, "S001-C-T",
	    "update", json_pack("{s:{s:s}}", "set", "phone", "222"), 1);
	if ((st = dh_rule_run(&h)) != NULL) {
		c = t_get(st, customer_get, "S001-C-T");
		CHECK_STR(json_string_value(json_object_get(c, "site")),
		    "S001");
		CHECK_STR(json_string_value(json_object_get(c, "name")), "Gus");
		CHECK_STR(json_string_value(json_object_get(c, "phone")),
		    "222");
		json_decref(c);
		got = dh_quarantined(st);
		CHECK_STR(got,
		    "'S002'|1|'apply op S002/1: customer S001-C-T: S002 creates "
		    "records only under its own ids (S002-...)'\n");
		free(got);
		store_close(&st);
	}
	dh_history_free(&h);
}

/* A remote customer op setting tier to null is refused by the rule, so it
 * is quarantined like any bad op. Were it to reach the NOT NULL of
 * customers.tier it would be a storage failure: the whole batch rolled
 * back and retried for ever, blocking its origin's ops behind it. A local
 * PATCH {"tier": null} is a 400. */
TEST(customer_tier_null_is_quarantined_not_a_storage_failure)
{
	dh_history_t h = { 0 };
	store_t *st = dh_open(harness_tmpdir(), "R1");
	ingest_result_t res = INGEST_DUPLICATE;
	err_t err;
	int rc;

	REQUIRE(st != NULL);
	dh_add(&h, "W001", 1, dh_at(1, 0), CUSTOMER_ENTITY, "S001-C-1",
	    "update", json_pack("{s:{s:n}}", "set", "tier"), 0);
	dh_add(&h, "W001", 2, dh_at(2, 0), CUSTOMER_ENTITY, "S001-C-1",
	    "update", json_pack("{s:{s:s}}", "set", "name", "Hal"), 1);
	REQUIRE(store_begin(st, &err) == 0);
	err_clear(&err);
	rc = store_ingest(st, &h.ops[0].op, h.ops[0].body, h.ops[0].len, &res,
	    &err);
	CHECK_MSG(rc == 0 && res == INGEST_QUARANTINED,
	    "ingest W001/1: rc %d, result %d: %s", rc, (int)res, err.msg);
	if (rc == 0) {
		rc = store_ingest(st, &h.ops[1].op, h.ops[1].body, h.ops[1].len,
		    &res, &err);
		CHECK_MSG(rc == 0 && res == INGEST_APPLIED,
		    "ingest W001/2: rc %d, result %d: %s", rc, (int)res,
		    err.msg);
	}
	if (rc == 0)
		CHECK_EQ_INT(store_commit(st, &err), 0);
	else
		store_rollback(st);
	store_close(&st);
	dh_history_free(&h);
}
