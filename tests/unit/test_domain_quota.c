/*
 * test_domain_quota: escrowed stock quotas (quota.h).
 *
 * The rule on small hand-picked histories, each run in three orders and
 * twice (dh_rule_run, and the quota views compared across the orders):
 * who may grant, recall and return (exact reasons where a forgery is
 * quarantined); only the holder spends, on the quota's warehouse and
 * sku (a create spending another's quota is refused everywhere, waiting
 * for the grant where it is not held yet); a holder's spends count in its
 * seq order up to what was granted, the excess promised to nobody and
 * alerted; a cancelled order's spend stays spent, and frees the
 * warehouse's stock; a return gives back what is unspent, and spends
 * written after it count nothing; the holder's node returns a recalled
 * quota by itself, whether the recall or the grant arrives first.
 *
 * The commands at a warehouse and at a store, with their exact errors:
 * a grant over what the warehouse has available (422), a grant or recall
 * by someone else (403), an order without rights left (409, the backorder
 * message), the backorder, an order of a sku not under quota.
 *
 * And a randomized merge test with a fixed seed (BL_SEED replays it): two
 * holders spending four quotas (and forging spends of the other's),
 * cancellations, shipments, recalls and returns, in several arrival
 * orders, checked against a model computed from the ops alone: the
 * figures, the warehouse's free stock and the overspend alerts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "domain_harness.h"
#include "domain_read.h"
#include "harness.h"
#include "lifecycle.h"
#include "order.h"
#include "quota.h"
#include "stock.h"
#include "store.h"

/* ---- building histories ---- */

#define AT(minute) dh_at((minute), 0)

static dh_op_t *
s_grant(dh_history_t *h, const char *origin, uint64_t seq, uint64_t at,
    const char *id, const char *warehouse, const char *site, int64_t qty,
    int valid)
{
	return dh_add(h, origin, seq, at, QUOTA_ENTITY, id, "grant",
	    json_pack("{s:s, s:s, s:s, s:I}", "warehouse", warehouse, "site",
		site, "sku", "BOX", "qty", (json_int_t)qty),
	    valid);
}

/* A recall or a return. */
static dh_op_t *
s_end(dh_history_t *h, const char *origin, uint64_t seq, uint64_t at,
    const char *kind, const char *id, const char *warehouse, const char *site,
    int valid)
{
	return dh_add(h, origin, seq, at, QUOTA_ENTITY, id, kind,
	    json_pack("{s:s, s:s}", "warehouse", warehouse, "site", site),
	    valid);
}

/* site's online order id of qty BOX, fulfilled at fulfil, confirmed;
 * rights (taken, may be NULL) as its create carries them, and a
 * backorder when backorder. */
static dh_op_t *
s_order(dh_history_t *h, const char *site, uint64_t seq, uint64_t at,
    const char *id, const char *fulfil, int64_t qty, json_t *rights,
    int backorder, int valid)
{
	json_t *f = json_pack("{s:s, s:s, s:s, s:s, s:s, s:[{s:s, s:I, s:i}]}",
	    "site", site, "channel", "online", "currency", "CNY", "fulfil_site",
	    fulfil, "status", "confirmed", "lines", "sku", "BOX", "qty",
	    (json_int_t)qty, "unit_price", 100);

	if (rights != NULL)
		json_object_set_new(f, "rights", rights);
	if (backorder)
		json_object_set_new(f, "backorder", json_true());
	return dh_add(h, site, seq, at, ORDER_ENTITY, id, "create", f, valid);
}

/* [{quota, sku BOX, qty}]. */
static json_t *
s_rights(const char *quota, int64_t qty)
{
	return json_pack("[{s:s, s:s, s:I}]", "quota", quota, "sku", "BOX",
	    "qty", (json_int_t)qty);
}

static dh_op_t *
s_move(dh_history_t *h, const char *origin, uint64_t seq, uint64_t at,
    const char *id, const char *to)
{
	return dh_add(h, origin, seq, at, ORDER_ENTITY, id, "transition",
	    json_pack("{s:s}", "to", to), 1);
}

/* ---- reading a replica ---- */

/* Quota id as "granted spent returned available status", or "-". */
static char *
s_fig(store_t *st, const char *id)
{
	json_t *q = NULL;
	err_t err;
	char buf[128];

	if (quota_get(st, id, &q, &err) != 0)
		return strdup("-");
	snprintf(buf, sizeof buf, "%lld %lld %lld %lld %s",
	    (long long)json_integer_value(json_object_get(q, "granted")),
	    (long long)json_integer_value(json_object_get(q, "spent")),
	    (long long)json_integer_value(json_object_get(q, "returned")),
	    (long long)json_integer_value(json_object_get(q, "available")),
	    json_string_value(json_object_get(q, "status")));
	json_decref(q);
	return strdup(buf);
}

#define CHECK_FIG(st, id, want)                 \
	do {                                    \
		char *got_ = s_fig((st), (id)); \
		CHECK_STR(got_, (want));        \
		free(got_);                     \
	} while (0)

/* Everything quotas show on st, as text (caller frees): their tables and
 * the API's views of them. */
static char *
s_views(store_t *st)
{
	static const char *const tables[] = {
		"SELECT * FROM quotas ORDER BY id",
		"SELECT * FROM quota_recalls ORDER BY quota, origin, seq",
		"SELECT * FROM quota_returns ORDER BY quota, origin, seq",
		"SELECT * FROM quota_spends ORDER BY order_id, quota, sku",
		"SELECT * FROM quota_backorders ORDER BY order_id",
	};
	dh_text_t t = { NULL, 0, 0 };
	size_t i;

	for (i = 0; i < sizeof tables / sizeof tables[0]; i++) {
		dh_text_add(&t, "-- %s\n", tables[i]);
		dh_dump_sql(st, tables[i], &t);
	}
	dh_text_add(&t, "-- quota_list\n");
	dh_text_json(&t, t_list(st, quota_list, NULL));
	dh_text_add(&t, "-- quota_stock_list\n");
	dh_text_json(&t, t_list(st, quota_stock_list, NULL));
	return dh_text_take(&t);
}

/* dh_rule_run, and the quota views the same after h is ingested in order
 * (twice), reversed and shuffled. Returns the first replica (caller
 * closes), or NULL after a failure. */
static store_t *
s_run(const dh_history_t *h)
{
	store_t *st = dh_rule_run(h), *other;
	size_t *idx = malloc(h->n * sizeof *idx), i, round;
	size_t counts[INGEST_RESULTS] = { 0 };
	const char *dir = harness_tmpdir();
	char *want, *got;

	if (st == NULL || idx == NULL) {
		free(idx);
		return st;
	}
	want = s_views(st);
	for (round = 0; round < 2; round++) {
		for (i = 0; i < h->n; i++)
			idx[i] = round == 0 ? h->n - 1 - i : i;
		if (round == 1)
			dh_shuffle(idx, h->n);
		other = dh_open(dir, round == 0 ? "R8" : "R9");
		if (other == NULL || dh_ingest(other, h, idx, h->n, counts)) {
			store_close(&other);
			break;
		}
		got = s_views(other);
		dh_same_text("quota views", "in order", want,
		    round == 0 ? "reversed" : "shuffled", got);
		free(got);
		store_close(&other);
	}
	free(want);
	free(idx);
	return st;
}

/* ---- the rule ---- */

/* A grant is written by its warehouse or head office, under the writer's
 * own id, to another site; anything else is refused everywhere, with the
 * reason. */
TEST(rule_quota_who_grants)
{
	dh_history_t h = { 0 };
	store_t *st;
	char *got;

	s_grant(&h, "W001", 1, AT(1), "W001-Q1", "W001", "S001", 6, 1);
	s_grant(&h, "HQ", 1, AT(2), "HQ-Q2", "W001", "S002", 3, 1);
	s_grant(&h, "S001", 1, AT(3), "S001-Q3", "W001", "S002", 1, 0);
	s_grant(&h, "W002", 1, AT(4), "W002-Q4", "W001", "S002", 1, 0);
	s_grant(&h, "W001", 2, AT(5), "S001-Q5", "W001", "S002", 1, 0);
	s_grant(&h, "W001", 3, AT(6), "W001-Q6", "W001", "W001", 1, 0);
	s_grant(&h, "W001", 4, AT(7), "W001-Q7", "W001", "HQ", 1, 0);
	st = s_run(&h);
	REQUIRE(st != NULL);
	CHECK_FIG(st, "W001-Q1", "6 0 0 6 open");
	CHECK_FIG(st, "HQ-Q2", "3 0 0 3 open");
	CHECK_FIG(st, "S001-Q3", "-");
	got = dh_quarantined(st);
	CHECK_STR(got,
	    "'S001'|1|'apply op S001/1: quota S001-Q3: S001 may not grant "
	    "rights on W001's stock: only W001 or head office may'\n"
	    "'W001'|2|'apply op W001/2: quota S001-Q5: W001 creates records "
	    "only under its own ids (W001-...)'\n"
	    "'W001'|3|'apply op W001/3: quota W001-Q6: site: W001 needs no "
	    "rights on its own stock'\n"
	    "'W001'|4|'apply op W001/4: quota W001-Q7: site: HQ is head "
	    "office, which holds no rights'\n"
	    "'W002'|1|'apply op W002/1: quota W002-Q4: W002 may not grant "
	    "rights on W001's stock: only W001 or head office may'\n");
	free(got);
	store_close(&st);
	dh_history_free(&h);
}

/* Only the holder spends: another site's order naming the quota, or an
 * order naming a quota of another warehouse or sku, is refused wherever
 * it arrives (it waits for the grant where the grant is not held yet, and
 * one naming a grant never held waits for good); a cancelled order's
 * spend stays spent; spends are checked against the order's own lines and
 * fulfilling site. */
TEST(rule_quota_only_the_holder_spends)
{
	dh_history_t h = { 0 };
	store_t *st;
	json_t *o;
	char *got;

	s_grant(&h, "W001", 1, AT(1), "W001-Q1", "W001", "S001", 5, 1);
	s_order(&h, "S001", 1, AT(2), "S001-O-1", "W001", 3,
	    s_rights("W001-Q1", 3), 0, 1);
	s_order(&h, "S001", 2, AT(3), "S001-O-2", "W001", 1,
	    s_rights("W001-Q1", 1), 0, 1);
	s_order(&h, "S002", 1, AT(4), "S002-O-1", "W001", 2,
	    s_rights("W001-Q1", 2), 0, 0);
	s_move(&h, "S001", 3, AT(5), "S001-O-2", "cancelled");
	/* A quota on W002's stock, one on CUP, both S001's. */
	dh_add(&h, "HQ", 1, AT(1), QUOTA_ENTITY, "HQ-Q8", "grant",
	    json_pack("{s:s, s:s, s:s, s:i}", "warehouse", "W002", "site",
		"S001", "sku", "BOX", "qty", 5),
	    1);
	dh_add(&h, "HQ", 2, AT(1), QUOTA_ENTITY, "HQ-Q9", "grant",
	    json_pack("{s:s, s:s, s:s, s:i}", "warehouse", "W001", "site",
		"S001", "sku", "CUP", "qty", 5),
	    1);
	s_order(&h, "S001", 8, AT(10), "S001-O-8", "W001", 1,
	    s_rights("HQ-Q8", 1), 0, 0);
	s_order(&h, "S001", 9, AT(11), "S001-O-9", "W001", 1,
	    s_rights("HQ-Q9", 1), 0, 0);
	s_order(&h, "S001", 10, AT(12), "S001-O-10", "W001", 1,
	    s_rights("W001-Q404", 1), 0, 0);
	/* Refused from the op alone. */
	s_order(&h, "S001", 4, AT(6), "S001-O-3", "W002", 1,
	    s_rights("W001-Q1", 1), 0, 0);
	s_order(&h, "S001", 5, AT(7), "S001-O-4", "W001", 1,
	    s_rights("W001-Q1", 2), 0, 0);
	s_order(&h, "S001", 6, AT(8), "S001-O-5", "S001", 1,
	    s_rights("W001-Q1", 1), 0, 0);
	s_order(&h, "S001", 7, AT(9), "S001-O-6", "W001", 1,
	    s_rights("W001-Q1", 1), 1, 0);
	st = s_run(&h);
	REQUIRE(st != NULL);
	CHECK_FIG(st, "W001-Q1", "5 4 0 1 open");
	CHECK_FIG(st, "HQ-Q8", "5 0 0 5 open");
	CHECK_FIG(st, "HQ-Q9", "5 0 0 5 open");
	o = t_get(st, order_get, "S001-O-1");
	got = dh_dump(json_incref(json_object_get(o, "rights")));
	CHECK_STR(got, "[{\"qty\":3,\"quota\":\"W001-Q1\",\"sku\":\"BOX\"}]");
	free(got);
	json_decref(o);
	got = dh_quarantined(st);
	CHECK_STR(got,
	    "'S001'|4|'apply op S001/4: order S001-O-3: rights[0]: quota "
	    "W001-Q1 is not one of W002's stock'\n"
	    "'S001'|5|'apply op S001/5: order S001-O-4: rights: sku BOX: 2 "
	    "rights spent on 1 ordered'\n"
	    "'S001'|6|'apply op S001/6: order S001-O-5: rights: only an order "
	    "fulfilled at another site spends rights'\n"
	    "'S001'|7|'apply op S001/7: order S001-O-6: rights: a backorder "
	    "spends no rights'\n"
	    "'S001'|8|'apply op S001/8: order S001-O-8: rights[0]: quota "
	    "HQ-Q8 is on W002's stock, not on W001's, which fulfils the "
	    "order'\n"
	    "'S001'|9|'apply op S001/9: order S001-O-9: rights[0]: quota "
	    "HQ-Q9 is on CUP, not on BOX'\n"
	    "'S001'|10|'apply op S001/10: order S001-O-10: rights[0]: quota "
	    "W001-Q404: not held here yet, to tell whether S001 holds it'\n"
	    "'S002'|1|'apply op S002/1: order S002-O-1: rights[0]: quota "
	    "W001-Q1 is S001's, not S002's: only its holder spends it'\n");
	free(got);
	store_close(&st);
	dh_history_free(&h);
}

/* Recall and return: by head office or the warehouse, and by the holder;
 * a return gives back what is unspent, spends the holder wrote after it
 * count nothing (and are alerted, promised to nobody), and a spend
 * cancelled after it stays spent. Forgeries are refused with their
 * reasons. */
TEST(rule_quota_recall_and_return)
{
	dh_history_t h = { 0 };
	store_t *st;
	char *got;

	s_grant(&h, "W001", 1, AT(1), "W001-Q1", "W001", "S001", 5, 1);
	s_grant(&h, "HQ", 1, AT(1), "HQ-Q2", "W001", "S002", 4, 1);
	s_order(&h, "S001", 1, AT(2), "S001-O-1", "W001", 2,
	    s_rights("W001-Q1", 2), 0, 1);
	s_end(&h, "HQ", 2, AT(3), "recall", "W001-Q1", "W001", "S001", 1);
	s_end(&h, "S001", 2, AT(4), "return", "W001-Q1", "W001", "S001", 1);
	s_order(&h, "S001", 3, AT(5), "S001-O-2", "W001", 1,
	    s_rights("W001-Q1", 1), 0, 1);
	/* The warehouse recalls head office's grant on its stock. */
	s_end(&h, "W001", 2, AT(6), "recall", "HQ-Q2", "W001", "S002", 1);
	/* Forgeries. */
	s_end(&h, "S002", 1, AT(7), "recall", "W001-Q1", "W001", "S001", 0);
	s_end(&h, "W001", 3, AT(8), "return", "W001-Q1", "W001", "S001", 0);
	s_end(&h, "W002", 1, AT(9), "recall", "W001-Q1", "W002", "S001", 0);
	st = s_run(&h);
	REQUIRE(st != NULL);
	CHECK_FIG(st, "W001-Q1", "5 2 3 0 returned");
	CHECK_FIG(st, "HQ-Q2", "4 0 0 4 recalled");
	got = dh_alert_message(st, "quota_overspent", "S001-O-2");
	CHECK_STR(got,
	    "order S001-O-2: 1 of its 1 BOX over S001's rights on W001's "
	    "stock, not promised");
	free(got);
	CHECK_EQ_INT(dh_alerts(st, "quota_overspent", NULL), 1);
	got = dh_quarantined(st);
	CHECK_STR(got,
	    "'S002'|1|'apply op S002/1: quota W001-Q1: S002 may not recall "
	    "it: only W001 or head office may'\n"
	    "'W001'|3|'apply op W001/3: quota W001-Q1: W001 may not return "
	    "it: only its holder S001 may'\n"
	    "'W002'|1|'apply op W002/1: quota W001-Q1: names warehouse W002, "
	    "but its id is not W002's or head office's'\n");
	free(got);
	store_close(&st);

	/* The spend cancelled after the return stays spent. */
	s_move(&h, "S001", 4, AT(10), "S001-O-1", "cancelled");
	st = s_run(&h);
	REQUIRE(st != NULL);
	CHECK_FIG(st, "W001-Q1", "5 2 3 0 returned");
	store_close(&st);
	dh_history_free(&h);
}

/* The holder's node returns a recalled quota itself, in the transaction
 * that applies the recall, or the grant when the recall came first; once,
 * and only its own. */
TEST(rule_quota_holder_returns_what_is_recalled)
{
	dh_history_t h = { 0 };
	size_t fwd[4] = { 0, 1, 2, 3 }, back[4] = { 3, 2, 1, 0 };
	size_t counts[INGEST_RESULTS] = { 0 };
	store_t *st;
	char *got;
	int k;

	s_grant(&h, "W001", 1, AT(1), "W001-Q1", "W001", "S001", 5, 1);
	s_grant(&h, "W001", 2, AT(2), "W001-Q2", "W001", "S002", 5, 1);
	s_end(&h, "HQ", 1, AT(3), "recall", "W001-Q1", "W001", "S001", 1);
	s_end(&h, "HQ", 2, AT(4), "recall", "W001-Q2", "W001", "S002", 1);
	for (k = 0; k < 2; k++) {
		st = dh_open(harness_tmpdir(), "S001");
		REQUIRE(st != NULL);
		REQUIRE(dh_ingest(st, &h, k == 0 ? fwd : back, 4, counts) == 0);
		REQUIRE(dh_ingest(st, &h, fwd, 4, counts) == 0);
		CHECK_FIG(st, "W001-Q1", "5 0 5 0 returned");
		CHECK_FIG(st, "W001-Q2", "5 0 0 5 recalled");
		got = dh_rows(st,
		    "SELECT origin, seq, entity, key FROM op_log WHERE "
		    "origin = 'S001'");
		CHECK_STR(got, "'S001'|1|'quota'|'W001-Q1'\n");
		free(got);
		store_close(&st);
	}
	dh_history_free(&h);
}

/* ---- the commands ---- */

/* A replica of site with BOX and CUP in the catalog. */
static store_t *
s_site(const char *site)
{
	dh_history_t h = { 0 };
	size_t idx[2] = { 0, 1 }, counts[INGEST_RESULTS] = { 0 };
	store_t *st = dh_open(harness_tmpdir(), site);

	dh_add(&h, "HQ", 1, dh_at(1, 0), PRODUCT_ENTITY, "BOX", "set",
	    json_pack("{s:s}", "name", "Box"), 1);
	dh_add(&h, "HQ", 2, dh_at(1, 1), PRODUCT_ENTITY, "CUP", "set",
	    json_pack("{s:s}", "name", "Cup"), 1);
	if (st != NULL && dh_ingest(st, &h, idx, 2, counts) != 0)
		store_close(&st);
	dh_history_free(&h);
	return st;
}

/* Runs a create (fn) of the JSON text req on st: its status (201, 200 for
 * a retry, or the error's code) and *out (the answer, or the error's
 * message as a JSON string; caller frees). */
static int
s_create(store_t *st, rec_create_fn fn, const char *req, json_t **out)
{
	json_t *r = json_loads(req, 0, NULL);
	err_t err;
	int created = 0, rc;

	if (r == NULL) {
		*out = json_string("(bad JSON in the test)");
		return 0;
	}
	rc = fn(st, r, out, &created, &err);
	json_decref(r);
	if (rc != 0) {
		*out = json_string(err.msg);
		return (int)err.code;
	}
	return created ? 201 : 200;
}

/* The error message or the answer's field name, as text. */
static const char *
s_text(const json_t *out, const char *name)
{
	return json_is_string(out)
	    ? json_string_value(out)
	    : json_string_value(json_object_get(out, name));
}

/* At a warehouse: a grant within what it has available, one over it (422),
 * one on a sku not in the catalog (404), one on another's stock (403), a
 * retry of the first (200), and a recall. */
TEST(command_grant_at_the_warehouse)
{
	store_t *st = s_site("W001");
	json_t *out = NULL, *req;
	err_t err;

	REQUIRE(st != NULL);
	CHECK_EQ_INT(
	    s_create(st, stock_record,
		"{\"sku\":\"BOX\",\"delta\":10,\"reason\":\"receipt\"}", &out),
	    201);
	json_decref(out);
	CHECK_EQ_INT(s_create(st, quota_grant,
			 "{\"id\":\"Q1\",\"site\":\"S001\",\"sku\":\"BOX\","
			 "\"qty\":6}",
			 &out),
	    201);
	CHECK_STR(s_text(out, "id"), "W001-Q1");
	CHECK_FIG(st, "W001-Q1", "6 0 0 6 open");
	json_decref(out);
	CHECK_EQ_INT(s_create(st, quota_grant,
			 "{\"site\":\"S002\",\"sku\":\"BOX\",\"qty\":5}", &out),
	    422);
	CHECK_STR(s_text(out, ""),
	    "qty: 5 BOX would promise 11 of W001's stock, over the 10 "
	    "available (6 already promised)");
	json_decref(out);
	CHECK_EQ_INT(s_create(st, quota_grant,
			 "{\"site\":\"S002\",\"sku\":\"NOPE\",\"qty\":1}",
			 &out),
	    404);
	CHECK_STR(s_text(out, ""), "sku: NOPE is not in the catalog");
	json_decref(out);
	CHECK_EQ_INT(s_create(st, quota_grant,
			 "{\"id\":\"Q9\",\"warehouse\":\"W002\",\"site\":"
			 "\"S002\",\"sku\":\"BOX\",\"qty\":1}",
			 &out),
	    403);
	CHECK_STR(s_text(out, ""),
	    "quota W001-Q9: W001 may not grant rights on W002's stock: only "
	    "W002 or head office may");
	json_decref(out);
	CHECK_EQ_INT(s_create(st, quota_grant,
			 "{\"site\":\"W001\",\"sku\":\"BOX\",\"qty\":1}", &out),
	    422);
	CHECK_STR(s_text(out, ""),
	    "site: W001 needs no rights on its own stock");
	json_decref(out);
	CHECK_EQ_INT(s_create(st, quota_grant,
			 "{\"id\":\"Q1\",\"site\":\"S001\",\"sku\":\"BOX\","
			 "\"qty\":6}",
			 &out),
	    200);
	json_decref(out);
	CHECK_EQ_INT(s_create(st, quota_grant,
			 "{\"site\":\"S002\",\"sku\":\"BOX\",\"qty\":4}", &out),
	    201);
	json_decref(out);
	CHECK_EQ_INT(quota_free(st, "W001", "BOX"), 0);
	/* The stock's promised list: all of it promised. */
	out = t_list(st, quota_stock_list, NULL);
	{
		char *got = dh_dump(
		    json_incref(json_object_get(out, "promised")));

		CHECK_STR(got,
		    "[{\"available\":10,\"free\":0,\"promised\":10,\"site\":"
		    "\"W001\",\"sku\":\"BOX\"}]");
		free(got);
	}
	json_decref(out);
	req = json_object();
	CHECK_MSG(quota_recall(st, "W001-Q1", req, &out, &err) == 0,
	    "recall: %s", err.msg);
	CHECK_STR(s_text(out, "status"), "recalled");
	json_decref(out);
	CHECK_EQ_INT(quota_return(st, "W001-Q1", req, &out, &err), -1);
	CHECK_STR(err.msg,
	    "quota W001-Q1: W001 may not return it: only its holder S001 may");
	CHECK_EQ_INT(quota_recall(st, "W001-NONE", req, &out, &err), -1);
	CHECK_STR(err.msg, "quota W001-NONE: not found");
	json_decref(req);
	store_close(&st);
}

/* At a store holding 6 rights on W001's BOX: orders spend them, offline;
 * the one that would overspend is refused with the backorder message and
 * writes nothing; a backorder spends nothing; a sku not under quota is
 * ordered as before; a cancellation gives no rights back; the store
 * cannot grant or recall; it returns what is left, and after that orders
 * of BOX from W001 need rights it no longer has. */
TEST(command_orders_spend_rights_at_the_store)
{
	dh_history_t h = { 0 };
	size_t idx[1] = { 0 }, counts[INGEST_RESULTS] = { 0 };
	store_t *st = s_site("S001");
	json_t *out = NULL, *req;
	err_t err;
	char *got;

	REQUIRE(st != NULL);
	s_grant(&h, "W001", 1, AT(2), "W001-Q1", "W001", "S001", 6, 1);
	REQUIRE(dh_ingest(st, &h, idx, 1, counts) == 0);
	CHECK_EQ_INT(s_create(st, order_create,
			 "{\"id\":\"O1\",\"channel\":\"online\",\"currency\":"
			 "\"CNY\",\"fulfil_site\":\"W001\",\"status\":"
			 "\"confirmed\",\"lines\":[{\"sku\":\"BOX\",\"qty\":4,"
			 "\"unit_price\":100}]}",
			 &out),
	    201);
	got = dh_dump(json_incref(json_object_get(out, "rights")));
	CHECK_STR(got, "[{\"qty\":4,\"quota\":\"W001-Q1\",\"sku\":\"BOX\"}]");
	free(got);
	json_decref(out);
	CHECK_EQ_INT(
	    s_create(st, order_create,
		"{\"id\":\"O2\",\"channel\":\"online\",\"currency\":"
		"\"CNY\",\"fulfil_site\":\"W001\",\"lines\":[{\"sku\":"
		"\"CUP\",\"qty\":1,\"unit_price\":100},{\"sku\":\"BOX\","
		"\"qty\":3,\"unit_price\":100}]}",
		&out),
	    409);
	CHECK_STR(s_text(out, ""),
	    "lines[1]: sku BOX: 3 wanted, 2 rights left on W001's stock; send "
	    "\"backorder\": true to order it as a backorder, or wait for the "
	    "link");
	json_decref(out);
	/* Nothing of it was written. */
	got = dh_rows(st, "SELECT id FROM orders ORDER BY id");
	CHECK_STR(got, "'S001-O1'\n");
	free(got);
	CHECK_EQ_INT(s_create(st, order_create,
			 "{\"id\":\"O2\",\"channel\":\"online\",\"currency\":"
			 "\"CNY\",\"fulfil_site\":\"W001\",\"backorder\":true,"
			 "\"lines\":[{\"sku\":\"BOX\",\"qty\":3,\"unit_price\":"
			 "100}]}",
			 &out),
	    201);
	CHECK_EQ_INT(json_is_true(json_object_get(out, "backorder")), 1);
	CHECK_EQ_INT(json_object_get(out, "rights") == NULL, 1);
	json_decref(out);
	CHECK_EQ_INT(
	    s_create(st, order_create,
		"{\"id\":\"O3\",\"channel\":\"online\",\"currency\":"
		"\"CNY\",\"fulfil_site\":\"W001\",\"lines\":[{\"sku\":"
		"\"BOX\",\"qty\":1,\"unit_price\":100},{\"sku\":\"CUP\","
		"\"qty\":9,\"unit_price\":100}]}",
		&out),
	    201);
	json_decref(out);
	CHECK_FIG(st, "W001-Q1", "6 5 0 1 open");
	CHECK_EQ_INT(s_create(st, order_create,
			 "{\"channel\":\"online\",\"currency\":\"CNY\","
			 "\"fulfil_site\":\"W001\",\"lines\":[{\"sku\":\"BOX\","
			 "\"qty\":2,\"unit_price\":100}]}",
			 &out),
	    409);
	CHECK_STR(s_text(out, ""),
	    "lines[0]: sku BOX: 2 wanted, 1 right left on W001's stock; send "
	    "\"backorder\": true to order it as a backorder, or wait for the "
	    "link");
	json_decref(out);
	/* A cancelled order's spend stays spent (quota.h). */
	req = json_pack("{s:s}", "to", "cancelled");
	CHECK_MSG(order_transition(st, "S001-O3", req, &out, &err) == 0,
	    "cancel: %s", err.msg);
	json_decref(out);
	json_decref(req);
	CHECK_FIG(st, "W001-Q1", "6 5 0 1 open");
	/* The store neither grants nor recalls. */
	CHECK_EQ_INT(s_create(st, quota_grant,
			 "{\"id\":\"Q2\",\"warehouse\":\"W001\",\"site\":"
			 "\"S002\",\"sku\":\"BOX\",\"qty\":1}",
			 &out),
	    403);
	CHECK_STR(s_text(out, ""),
	    "quota S001-Q2: S001 may not grant rights on W001's stock: only "
	    "W001 or head office may");
	json_decref(out);
	req = json_object();
	CHECK_EQ_INT(quota_recall(st, "W001-Q1", req, &out, &err), -1);
	CHECK_STR(err.msg,
	    "quota W001-Q1: S001 may not recall it: only W001 or head office "
	    "may");
	CHECK_MSG(quota_return(st, "W001-Q1", req, &out, &err) == 0,
	    "return: %s", err.msg);
	json_decref(out);
	json_decref(req);
	CHECK_FIG(st, "W001-Q1", "6 5 1 0 returned");
	CHECK_EQ_INT(s_create(st, order_create,
			 "{\"channel\":\"online\",\"currency\":\"CNY\","
			 "\"fulfil_site\":\"W001\",\"lines\":[{\"sku\":\"BOX\","
			 "\"qty\":1,\"unit_price\":100}]}",
			 &out),
	    409);
	CHECK_STR(s_text(out, ""),
	    "lines[0]: sku BOX: 1 wanted, 0 rights left on W001's stock; send "
	    "\"backorder\": true to order it as a backorder, or wait for the "
	    "link");
	json_decref(out);
	/* Its own rights, as GET /v1/stock shows them. */
	out = t_list(st, quota_stock_list, NULL);
	got = dh_dump(json_incref(json_object_get(out, "rights")));
	CHECK_STR(got,
	    "[{\"available\":0,\"held\":5,\"site\":\"S001\",\"sku\":\"BOX\","
	    "\"spent\":5,\"warehouse\":\"W001\"}]");
	free(got);
	json_decref(out);
	store_close(&st);
	dh_history_free(&h);
}

/* A store that forges its spends (review F1): S666, holding 6 rights on
 * W001's 10 BOX (S001 holds 3), spends 4, then 50, then 1 more, orders 7
 * with no rights, orders 5 as a backorder, and spends S001's quota. In
 * every arrival order: the spend of S001's quota is refused; S666's
 * spends count in its seq order up to the 6 granted (4, then 2 of the
 * 50, then none) and the rest is promised to nobody and alerted, as the
 * order without rights is (not the one S666 wrote before it held rights,
 * nor its backorder); W001's free stock is what its grants left, so its
 * next honest grant goes through. S666 then cancels its 50: its 2 rights
 * stay spent, W001's stock they promised is free again. */
TEST(rule_quota_spends_count_up_to_the_grant)
{
	static const char *const over[][2] = {
		{ "S666-O-B", "48 of its 50 BOX" },
		{ "S666-O-C", "7 of its 7 BOX" },
		{ "S666-O-D", "1 of its 1 BOX" },
	};
	dh_history_t h = { 0 };
	size_t *idx, i, counts[INGEST_RESULTS] = { 0 };
	store_t *st;
	json_t *out;
	char *got, want[160];

	dh_add(&h, "W001", 1, AT(1), STOCK_ENTITY, "W001-RCV", "add",
	    dh_move_fields("W001", "BOX", 10, "receipt", NULL, NULL), 1);
	s_order(&h, "S666", 1, AT(1), "S666-O-0", "W001", 2, NULL, 0, 1);
	s_grant(&h, "W001", 2, AT(2), "W001-Q1", "W001", "S666", 6, 1);
	s_grant(&h, "W001", 3, AT(2), "W001-Q2", "W001", "S001", 3, 1);
	s_order(&h, "S666", 2, AT(3), "S666-O-A", "W001", 4,
	    s_rights("W001-Q1", 4), 0, 1);
	s_order(&h, "S666", 3, AT(4), "S666-O-B", "W001", 50,
	    s_rights("W001-Q1", 50), 0, 1);
	s_order(&h, "S666", 4, AT(5), "S666-O-C", "W001", 7, NULL, 0, 1);
	s_order(&h, "S666", 5, AT(6), "S666-O-D", "W001", 1,
	    s_rights("W001-Q1", 1), 0, 1);
	s_order(&h, "S666", 6, AT(7), "S666-O-E", "W001", 8,
	    s_rights("W001-Q2", 4), 0, 0);
	s_order(&h, "S666", 7, AT(8), "S666-O-F", "W001", 5, NULL, 1, 1);
	st = s_run(&h);
	REQUIRE(st != NULL);
	CHECK_FIG(st, "W001-Q1", "6 6 0 0 open");
	CHECK_FIG(st, "W001-Q2", "3 0 0 3 open");
	/* 10 available, 6 promised to S666's orders, 3 to S001. */
	CHECK_EQ_INT(quota_free(st, "W001", "BOX"), 1);
	CHECK_EQ_INT(dh_alerts(st, "quota_overspent", NULL), 3);
	for (i = 0; i < sizeof over / sizeof over[0]; i++) {
		snprintf(want, sizeof want,
		    "order %s: %s over S666's rights on W001's stock, not "
		    "promised",
		    over[i][0], over[i][1]);
		got = dh_alert_message(st, "quota_overspent", over[i][0]);
		CHECK_STR(got, want);
		free(got);
	}
	got = dh_quarantined(st);
	CHECK_STR(got,
	    "'S666'|6|'apply op S666/6: order S666-O-E: rights[0]: quota "
	    "W001-Q2 is S001's, not S666's: only its holder spends it'\n");
	free(got);
	store_close(&st);

	/* Head office's view: it may grant the 1 left, then no more. */
	st = s_site("HQ2");
	REQUIRE(st != NULL);
	idx = malloc(h.n * sizeof *idx);
	REQUIRE(idx != NULL);
	for (i = 0; i < h.n; i++)
		idx[i] = i;
	REQUIRE(dh_ingest(st, &h, idx, h.n, counts) == 0);
	free(idx);
	CHECK_EQ_INT(s_create(st, quota_grant,
			 "{\"warehouse\":\"W001\",\"site\":\"S002\",\"sku\":"
			 "\"BOX\",\"qty\":1}",
			 &out),
	    201);
	json_decref(out);
	CHECK_EQ_INT(s_create(st, quota_grant,
			 "{\"warehouse\":\"W001\",\"site\":\"S002\",\"sku\":"
			 "\"BOX\",\"qty\":1}",
			 &out),
	    422);
	CHECK_STR(s_text(out, ""),
	    "qty: 1 BOX would promise 11 of W001's stock, over the 10 "
	    "available (10 already promised)");
	json_decref(out);
	store_close(&st);

	/* S666 cancels its 50: 2 rights stay spent, 2 BOX free again. */
	s_move(&h, "S666", 8, AT(9), "S666-O-B", "cancelled");
	st = s_run(&h);
	REQUIRE(st != NULL);
	CHECK_FIG(st, "W001-Q1", "6 6 0 0 open");
	CHECK_EQ_INT(quota_free(st, "W001", "BOX"), 3);
	CHECK_EQ_INT(dh_alerts(st, "quota_overspent", NULL), 2);
	CHECK_EQ_INT(dh_alerts(st, "quota_overspent", "S666-O-B"), 0);
	store_close(&st);
	dh_history_free(&h);
}

/* A cancellation crossing a shipment (review F2): W001 has 9 BOX and
 * grants S001 6 (Q1) and 3 (Q2); S001 spends Q1 on O-A, which W001 ships
 * while S001 cancels it, and Q2 on O-B, which S001 cancels. In every
 * arrival order the rights stay spent (S001 cannot spend Q1 a second
 * time), O-A's shipment wins (its goods left, alerted), and O-B's goods
 * never leave: its 3 BOX are W001's to sell or grant again. */
TEST(rule_quota_cancellation_gives_no_rights_back)
{
	dh_history_t h = { 0 };
	store_t *st;
	json_t *o;

	dh_add(&h, "W001", 1, AT(1), STOCK_ENTITY, "W001-RCV", "add",
	    dh_move_fields("W001", "BOX", 9, "receipt", NULL, NULL), 1);
	s_grant(&h, "W001", 2, AT(2), "W001-Q1", "W001", "S001", 6, 1);
	s_grant(&h, "W001", 3, AT(2), "W001-Q2", "W001", "S001", 3, 1);
	s_order(&h, "S001", 1, AT(3), "S001-O-A", "W001", 6,
	    s_rights("W001-Q1", 6), 0, 1);
	s_order(&h, "S001", 2, AT(3), "S001-O-B", "W001", 3,
	    s_rights("W001-Q2", 3), 0, 1);
	s_move(&h, "W001", 4, AT(4), "S001-O-A", "shipped");
	dh_add(&h, "W001", 5, AT(4), STOCK_ENTITY, "W001-S001-O-A-out-1", "add",
	    dh_move_fields("W001", "BOX", -6, "sale", "S001-O-A", NULL), 1);
	s_move(&h, "S001", 3, AT(5), "S001-O-A", "cancelled");
	s_move(&h, "S001", 4, AT(5), "S001-O-B", "cancelled");
	st = s_run(&h);
	REQUIRE(st != NULL);
	CHECK_FIG(st, "W001-Q1", "6 6 0 0 open");
	CHECK_FIG(st, "W001-Q2", "3 3 0 0 open");
	o = t_get(st, order_get, "S001-O-A");
	CHECK_STR(json_string_value(json_object_get(o, "status")), "shipped");
	json_decref(o);
	CHECK_EQ_INT(dh_alerts(st, "conflicting_transition", "S001-O-A"), 1);
	/* On hand 3, nothing promised: all free. */
	CHECK_EQ_INT(quota_free(st, "W001", "BOX"), 3);
	CHECK_EQ_INT(dh_alerts(st, "quota_overspent", NULL), 0);
	store_close(&st);
	dh_history_free(&h);
}

/* ---- merge laws, randomized ---- */

#define R_QUOTAS 4
#define R_ORDERS 30
#define R_STEPS 90
#define R_ROUNDS 5

/* W001-Q1 to S001, W001-Q2 to S002, HQ-Q3 to S001, HQ-Q4 to S002. */
static const struct {
	const char *id, *origin, *holder;
} s_q[R_QUOTAS] = {
	{ "W001-Q1", "W001", "S001" },
	{ "W001-Q2", "W001", "S002" },
	{ "HQ-Q3", "HQ", "S001" },
	{ "HQ-Q4", "HQ", "S002" },
};

static const char *const s_origins[] = { "W001", "HQ", "S001", "S002" };

/* A random history and what the rule must derive from it. */
typedef struct {
	dh_history_t h;
	uint64_t seq[4]; /* of each of s_origins */
	uint32_t step;	 /* clock counter: every op later than the last */
	int64_t granted[R_QUOTAS];
	uint64_t returned_seq[R_QUOTAS]; /* the holder's first return, 0 */
	int recalled[R_QUOTAS];
	int n;
	struct {
		char id[32];
		const char *site; /* its creator */
		int quota;	  /* the quota its rights name, -1: backorder */
		int64_t qty;
		uint64_t seq; /* of its create */
		int rank;     /* merged: the highest of its statuses */
	} order[R_ORDERS];
} model_t;

/* The next seq of origin, and the next clock. */
static uint64_t
s_next(model_t *m, const char *origin, uint64_t *at)
{
	int i;

	for (i = 0; strcmp(s_origins[i], origin) != 0; i++)
		;
	*at = dh_at(1, ++m->step);
	return ++m->seq[i];
}

static int
s_rank(const char *status)
{
	return lifecycle_rank(&lifecycle_order, status);
}

/* One random step: an order spending one of its creator's quotas (or a
 * backorder), a cancellation by its creator, a shipment by the warehouse,
 * a recall by the warehouse or head office, a return by the holder, or a
 * forged order spending the other holder's quota (refused, in no model:
 * every other op is valid). */
static void
s_step(model_t *m)
{
	uint64_t seq, at;
	int q, o, r;
	const char *who;

	switch (harness_rand_below(8)) {
	case 0:
	case 1:
	case 2:
		if (m->n == R_ORDERS)
			break;
		o = m->n++;
		m->order[o].site = harness_rand_below(2) ? "S001" : "S002";
		/* Its own (S001: 0 and 2, S002: 1 and 3) or none. */
		r = (int)harness_rand_below(3);
		m->order[o].quota = r == 2
		    ? -1
		    : (strcmp(m->order[o].site, "S001") == 0 ? 0 : 1) + 2 * r;
		m->order[o].qty = 1 + (int64_t)harness_rand_below(3);
		m->order[o].rank = s_rank("confirmed");
		snprintf(m->order[o].id, sizeof m->order[o].id, "%s-O-%d",
		    m->order[o].site, o);
		m->order[o].seq = seq = s_next(m, m->order[o].site, &at);
		q = m->order[o].quota;
		s_order(&m->h, m->order[o].site, seq, at, m->order[o].id,
		    "W001", m->order[o].qty,
		    q >= 0 ? s_rights(s_q[q].id, m->order[o].qty) : NULL, q < 0,
		    1);
		break;
	case 3:
	case 4:
		if (m->n == 0)
			break;
		o = (int)harness_rand_below((uint64_t)m->n);
		r = harness_rand_below(2) ? s_rank("cancelled")
					  : s_rank("shipped");
		who = r == s_rank("cancelled") ? m->order[o].site : "W001";
		seq = s_next(m, who, &at);
		s_move(&m->h, who, seq, at, m->order[o].id,
		    lifecycle_name(&lifecycle_order, r));
		if (r > m->order[o].rank)
			m->order[o].rank = r;
		break;
	case 7: {
		char id[32];

		q = (int)harness_rand_below(R_QUOTAS);
		who = strcmp(s_q[q].holder, "S001") == 0 ? "S002" : "S001";
		seq = s_next(m, who, &at);
		snprintf(id, sizeof id, "%s-X-%llu", who,
		    (unsigned long long)seq);
		s_order(&m->h, who, seq, at, id, "W001", 1,
		    s_rights(s_q[q].id, 1), 0, 0);
		break;
	}
	case 5:
		q = (int)harness_rand_below(R_QUOTAS);
		who = harness_rand_below(2) ? "W001" : "HQ";
		seq = s_next(m, who, &at);
		s_end(&m->h, who, seq, at, "recall", s_q[q].id, "W001",
		    s_q[q].holder, 1);
		m->recalled[q] = 1;
		break;
	default:
		q = (int)harness_rand_below(R_QUOTAS);
		seq = s_next(m, s_q[q].holder, &at);
		s_end(&m->h, s_q[q].holder, seq, at, "return", s_q[q].id,
		    "W001", s_q[q].holder, 1);
		if (m->returned_seq[q] == 0)
			m->returned_seq[q] = seq;
		break;
	}
}

static void
s_generate(model_t *m)
{
	uint64_t seq, at;
	int q, i;

	memset(m, 0, sizeof *m);
	for (q = 0; q < R_QUOTAS; q++) {
		m->granted[q] = 3 + (int64_t)harness_rand_below(8);
		seq = s_next(m, s_q[q].origin, &at);
		s_grant(&m->h, s_q[q].origin, seq, at, s_q[q].id, "W001",
		    s_q[q].holder, m->granted[q], 1);
	}
	for (i = 0; i < R_STEPS; i++)
		s_step(m);
}

/* What of order o's spend counts (quota.h): its holder's spends of its
 * quota, in seq order (the model's order), up to what was granted; none
 * written after the holder's return. */
static int64_t
s_counted(const model_t *m, int o)
{
	int q = m->order[o].quota, i;
	int64_t before = 0, left;

	if (q < 0 ||
	    (m->returned_seq[q] != 0 && m->order[o].seq > m->returned_seq[q]))
		return 0;
	for (i = 0; i < o; i++)
		if (m->order[i].quota == q)
			before += m->order[i].qty;
	left = m->granted[q] - before;
	return left <= 0 ? 0 : left < m->order[o].qty ? left : m->order[o].qty;
}

/* What quota q shows, from the model alone (quota.h): a cancelled
 * order's spend stays spent. *outstanding: what it promises of W001's
 * stock. */
static void
s_expect(const model_t *m, int q, char *buf, size_t size, int64_t *outstanding)
{
	int64_t spent = 0, pending = 0, back;
	int o;

	for (o = 0; o < m->n; o++) {
		if (m->order[o].quota != q)
			continue;
		spent += s_counted(m, o);
		if (m->order[o].rank == s_rank("confirmed"))
			pending += s_counted(m, o);
	}
	*outstanding = (m->returned_seq[q] != 0 ? 0 : m->granted[q] - spent) +
	    pending;
	back = m->returned_seq[q] != 0 && m->granted[q] > spent
	    ? m->granted[q] - spent
	    : 0;
	snprintf(buf, size, "%lld %lld %lld %lld %s", (long long)m->granted[q],
	    (long long)spent, (long long)back,
	    (long long)(m->granted[q] - spent - back),
	    m->returned_seq[q] != 0 ? "returned"
		: m->recalled[q]    ? "recalled"
				    : "open");
}

/* Merge laws: every arrival order (in order twice, reversed, shuffled)
 * gives the same quota views, and what they show is the model's: only the
 * holder's spends count, up to what was granted, cancelled ones too, not
 * those written after the holder's return; W001's free stock is what its
 * quotas do not promise (it has none on hand: shipments here write no
 * movement), and every order whose spend does not count in full, neither
 * cancelled nor shipped, is alerted. */
TEST(merge_quota_randomized_against_the_model)
{
	model_t *m = calloc(1, sizeof *m);
	store_t *st;
	char want[128];
	int64_t out, promised;
	int round, q, o, over;

	REQUIRE(m != NULL);
	for (round = 0; round < R_ROUNDS; round++) {
		s_generate(m);
		st = s_run(&m->h);
		if (st == NULL) {
			dh_history_free(&m->h);
			break;
		}
		promised = 0;
		for (q = 0; q < R_QUOTAS; q++) {
			s_expect(m, q, want, sizeof want, &out);
			CHECK_FIG(st, s_q[q].id, want);
			promised += out;
		}
		CHECK_EQ_INT(quota_free(st, "W001", "BOX"), -promised);
		for (over = 0, o = 0; o < m->n; o++)
			if (m->order[o].quota >= 0 &&
			    m->order[o].rank == s_rank("confirmed") &&
			    s_counted(m, o) < m->order[o].qty)
				over++;
		CHECK_EQ_INT(dh_alerts(st, "quota_overspent", NULL), over);
		store_close(&st);
		dh_history_free(&m->h);
	}
	free(m);
}
