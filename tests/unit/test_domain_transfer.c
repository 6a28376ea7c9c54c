/*
 * test_domain_transfer: transfers between sites as documents
 * (sync/domain/transfer.h).
 *
 * First the merge rule: one transfer's ops (create, ship with the source's
 * transfer_out, receive with the destination's transfer_in, head office's
 * reconcile) ingested in every order of its document ops, and in shuffled
 * orders of all its ops, one op per transaction, give the same state, the
 * same stock and the same alerts everywhere; a receipt that arrives before
 * the create it needs waits for it (own.h) and then passes. Then the
 * discrepancy arithmetic (short, over, in full), what is in transit, who
 * may write which op (each refusal's exact reason, in every order), and
 * the commands with their exact errors at the source, the destination and
 * head office, their ops carried from one replica to the next as the hub
 * would.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "catalog.h"
#include "codec.h"
#include "domain_harness.h"
#include "domain_read.h"
#include "harness.h"
#include "stock.h"
#include "store.h"
#include "transfer.h"

#define CHECK_REFUSED(rc, out, err, code_, msg_)   \
	do {                                       \
		CHECK_EQ_INT((rc), -1);            \
		CHECK((out) == NULL);              \
		CHECK_EQ_INT((err).code, (code_)); \
		CHECK_STR((err).msg, (msg_));      \
	} while (0)

/* ---- one transfer's history ---- */

/* The ops of a transfer of 10 TEA from S001 to S002, received as recv
 * (0: not received), reconciled by head office when reconcile is set, in
 * h; S001 had 20 TEA. Index i of h: 0 the receipt of the 20, 1 create,
 * 2 ship, 3 its transfer_out, 4 receive, 5 its transfer_in, 6 reconcile. */
static void
s_history(dh_history_t *h, int shipped, int64_t recv, int reconcile)
{
	dh_add(h, "S001", 1, dh_at(1, 0), STOCK_ENTITY, "S001-M-1", "add",
	    dh_move_fields("S001", "TEA", 20, "receipt", NULL, NULL), 1);
	dh_add(h, "S001", 2, dh_at(2, 0), TRANSFER_ENTITY, "S001-T1", "create",
	    json_pack("{s:s, s:s, s:i, s:s}", "site", "S001", "sku", "TEA",
		"qty", 10, "to_site", "S002"),
	    1);
	if (!shipped)
		return;
	dh_add(h, "S001", 3, dh_at(3, 0), TRANSFER_ENTITY, "S001-T1", "ship",
	    json_object(), 1);
	dh_add(h, "S001", 4, dh_at(3, 1), STOCK_ENTITY,
	    "S001-T1" TRANSFER_SENT_TAG, "add",
	    dh_move_fields("S001", "TEA", -10, "transfer_out", "S001-T1", NULL),
	    1);
	if (recv <= 0)
		return;
	dh_add(h, "S002", 1, dh_at(4, 0), TRANSFER_ENTITY, "S001-T1", "receive",
	    json_pack("{s:I}", "qty", (json_int_t)recv), 1);
	dh_add(h, "S002", 2, dh_at(4, 1), STOCK_ENTITY,
	    "S002-S001-T1" TRANSFER_RECEIVED_TAG, "add",
	    dh_move_fields("S002", "TEA", recv, "transfer_in", "S001-T1", NULL),
	    1);
	if (!reconcile)
		return;
	dh_add(h, "HQ", 1, dh_at(5, 0), TRANSFER_ENTITY, "S001-T1", "reconcile",
	    json_pack("{s:s}", "note", "2 broken in the van"), 1);
}

/* What a replica shows of transfers beyond the common snapshot: their
 * tables, every transfer as GET shows it, and the list. Caller frees. */
static char *
s_transfer_state(store_t *st)
{
	dh_text_t t = { NULL, 0, 0 };
	json_t *ids;
	size_t i;
	json_t *id;

	dh_dump_sql(st, "SELECT * FROM transfers ORDER BY id", &t);
	dh_dump_sql(st,
	    "SELECT * FROM transfer_history "
	    "ORDER BY transfer_id, origin, seq",
	    &t);
	ids = t_list(st, transfer_list, NULL);
	json_array_foreach(json_object_get(ids, "items"), i, id) {
		const char *key = json_string_value(json_object_get(id, "id"));

		dh_text_add(&t, "%s: ", key);
		dh_text_json(&t, t_get(st, transfer_get, key));
	}
	dh_text_json(&t, ids);
	return dh_text_take(&t);
}

/* Ingests the ops idx[0..n) of h into a new replica dir/name, one op per
 * transaction (the waiting ones retried after each, as the daemons do);
 * its snapshot into snap and its transfers into *extra. NULL after a
 * failure, else the replica (caller closes). */
static store_t *
s_replay(const char *dir, const dh_history_t *h, const size_t *idx, size_t n,
    const char *name, dh_snapshot_t *snap, char **extra)
{
	size_t counts[INGEST_RESULTS] = { 0 }, i;
	store_t *st = dh_open(dir, name);

	if (st == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		if (dh_ingest(st, h, idx + i, 1, counts) != 0) {
			store_close(&st);
			return NULL;
		}
	CHECK_EQ_UINT(counts[INGEST_APPLIED], h->n_valid);
	CHECK_EQ_UINT(counts[INGEST_QUARANTINED], h->n_invalid);
	dh_snapshot(st, snap);
	*extra = s_transfer_state(st);
	return st;
}

/* Next permutation of v[0..n) in lexical order; 0 after the last. */
static int
s_next_perm(size_t *v, size_t n)
{
	size_t i = n - 1, j = n - 1, t;

	while (i > 0 && v[i - 1] >= v[i])
		i--;
	if (i == 0)
		return 0;
	while (v[j] <= v[i - 1])
		j--;
	t = v[i - 1];
	v[i - 1] = v[j];
	v[j] = t;
	for (j = n - 1; i < j; i++, j--) {
		t = v[i];
		v[i] = v[j];
		v[j] = t;
	}
	return 1;
}

/* Replays h in every order of its document ops (each movement right after
 * the op that wrote it) and in `shuffles` shuffled orders of all its ops,
 * each against the in-order replica, which it returns (caller closes), or
 * NULL after a failure. ndocs: how many document ops h has (2 to 4). */
static store_t *
s_all_orders(const dh_history_t *h, size_t ndocs, int shuffles)
{
	/* Document op k: its index in h, and its movement's (0: none). */
	static const size_t doc[4] = { 1, 2, 4, 6 }, leg[4] = { 0, 3, 5, 0 };
	const char *dir = harness_tmpdir();
	dh_snapshot_t ref, snap;
	size_t perm[4] = { 0, 1, 2, 3 }, idx[16], n, k, i;
	store_t *first, *st;
	char *ref_extra, *extra, name[64];
	int runs = 0, ok = 1;

	memset(&ref, 0, sizeof ref);
	for (i = 0; i < h->n; i++)
		idx[i] = i;
	if ((first = s_replay(dir, h, idx, h->n, "in-order", &ref,
		 &ref_extra)) == NULL)
		return NULL;
	do {
		n = 0;
		idx[n++] = 0;
		for (k = 0; k < ndocs; k++) {
			idx[n++] = doc[perm[k]];
			if (leg[perm[k]] != 0)
				idx[n++] = leg[perm[k]];
		}
		snprintf(name, sizeof name, "order-%d", runs++);
		memset(&snap, 0, sizeof snap);
		if ((st = s_replay(dir, h, idx, n, name, &snap, &extra)) ==
		    NULL) {
			ok = 0;
			break;
		}
		ok = dh_same(&ref, &snap, "in-order", name) &&
		    dh_same_text("transfers", "in-order", ref_extra, name,
			extra) &&
		    ok;
		dh_snapshot_free(&snap);
		free(extra);
		store_close(&st);
	} while (ok && s_next_perm(perm, ndocs));
	for (k = 0; ok && k < (size_t)shuffles; k++) {
		for (i = 0; i < h->n; i++)
			idx[i] = i;
		dh_shuffle(idx, h->n);
		snprintf(name, sizeof name, "shuffled-%zu", k);
		memset(&snap, 0, sizeof snap);
		if ((st = s_replay(dir, h, idx, h->n, name, &snap, &extra)) ==
		    NULL) {
			ok = 0;
			break;
		}
		ok = dh_same(&ref, &snap, "in-order", name) &&
		    dh_same_text("transfers", "in-order", ref_extra, name,
			extra) &&
		    ok;
		dh_snapshot_free(&snap);
		free(extra);
		store_close(&st);
	}
	dh_snapshot_free(&ref);
	free(ref_extra);
	if (!ok)
		store_close(&first);
	return first;
}

/* The value of key of transfer id on st, as sorted compact JSON (caller
 * frees). */
static char *
s_field(store_t *st, const char *id, const char *key)
{
	json_t *t = t_get(st, transfer_get, id);
	char *v = json_dumps(json_object_get(t, key),
	    JSON_SORT_KEYS | JSON_COMPACT | JSON_ENCODE_ANY);

	json_decref(t);
	return v;
}

/* Checks one field of transfer id on st against want (JSON text). */
#define CHECK_FIELD(st, id, key, want)                   \
	do {                                             \
		char *got_ = s_field((st), (id), (key)); \
		CHECK_STR(got_, (want));                 \
		free(got_);                              \
	} while (0)

/* ---- the merge rule ---- */

/* A short receipt, in every order of create, ship and receive (and in
 * shuffled orders of all their ops): the same document, stock and alert
 * everywhere. Sent 10, received 8: discrepancy -2, alerted; on hand 10 at
 * the source and 8 at the destination, nothing in transit. */
TEST(every_arrival_order_of_create_ship_receive_converges)
{
	dh_history_t h = { 0 };
	store_t *st;
	char *got;
	size_t applied0, refused0, applied, refused;

	dh_waited(&applied0, &refused0);
	s_history(&h, 1, 8, 0);
	if ((st = s_all_orders(&h, 3, 40)) != NULL) {
		CHECK_FIELD(st, "S001-T1", "status", "\"received\"");
		CHECK_FIELD(st, "S001-T1", "qty_sent", "10");
		CHECK_FIELD(st, "S001-T1", "qty_received", "8");
		CHECK_FIELD(st, "S001-T1", "discrepancy", "-2");
		CHECK_FIELD(st, "S001-T1", "in_transit", "0");
		CHECK_FIELD(st, "S001-T1", "history",
		    "[{\"at_ms\":1699996520000,\"site\":\"S001\",\"status\":"
		    "\"requested\"},{\"at_ms\":1699996580000,\"site\":\"S001\","
		    "\"status\":\"shipped\"},{\"at_ms\":1699996640000,\"qty\":8,"
		    "\"site\":\"S002\",\"status\":\"received\"}]");
		CHECK_EQ_INT(dh_on_hand(st, "S001", "TEA"), 10);
		CHECK_EQ_INT(dh_on_hand(st, "S002", "TEA"), 8);
		got = dh_alert_message(st, "transfer_discrepancy", "S001-T1");
		CHECK_STR(got,
		    "transfer S001-T1: 10 TEA sent by S001, 8 received at S002, "
		    "discrepancy -2: head office reconciles it");
		free(got);
		got = dh_dump(t_list_where(st, alert_list, "kind",
		    "transfer_discrepancy"));
		CHECK_STR(got,
		    "{\"items\":[{\"at\":1699996640000,\"id\":"
		    "\"transfer_discrepancy:S002:S001-T1\",\"kind\":"
		    "\"transfer_discrepancy\",\"message\":\"transfer S001-T1: 10 "
		    "TEA sent by S001, 8 received at S002, discrepancy -2: head "
		    "office reconciles it\",\"site\":\"S002\",\"subject\":"
		    "\"S001-T1\"}]}");
		free(got);
		got = dh_quarantined(st);
		CHECK_STR(got, "");
		free(got);
		store_close(&st);
	}
	/* Some order had the receipt before the create: it waited, then
	 * passed. */
	dh_waited(&applied, &refused);
	CHECK(applied > applied0);
	CHECK_EQ_UINT(refused, refused0);
	dh_history_free(&h);
}

/* Head office's reconciliation closes it, in every order of the four
 * document ops: reconciled everywhere, the alert gone, the stock as the
 * legs left it. */
TEST(every_arrival_order_with_the_reconciliation_converges)
{
	dh_history_t h = { 0 };
	store_t *st;

	s_history(&h, 1, 8, 1);
	if ((st = s_all_orders(&h, 4, 20)) != NULL) {
		CHECK_FIELD(st, "S001-T1", "status", "\"reconciled\"");
		CHECK_FIELD(st, "S001-T1", "discrepancy", "-2");
		CHECK_EQ_INT(dh_alerts(st, "transfer_discrepancy", NULL), 0);
		CHECK_EQ_INT(dh_on_hand(st, "S001", "TEA"), 10);
		CHECK_EQ_INT(dh_on_hand(st, "S002", "TEA"), 8);
		CHECK_FIELD(st, "S001-T1", "history",
		    "[{\"at_ms\":1699996520000,\"site\":\"S001\",\"status\":"
		    "\"requested\"},{\"at_ms\":1699996580000,\"site\":\"S001\","
		    "\"status\":\"shipped\"},{\"at_ms\":1699996640000,\"qty\":8,"
		    "\"site\":\"S002\",\"status\":\"received\"},{\"at_ms\":"
		    "1699996700000,\"note\":\"2 broken in the van\",\"site\":"
		    "\"HQ\",\"status\":\"reconciled\"}]");
		store_close(&st);
	}
	dh_history_free(&h);
}

/* Shipped, not received: 10 in transit, on the destination's stock row
 * (a row of nothing on hand where it has none) and in the transfer; the
 * source's on hand is down by 10 already. A listing by status and sku
 * finds it. */
TEST(shipped_and_not_received_is_in_transit_at_the_destination)
{
	dh_history_t h = { 0 };
	store_t *st;
	json_t *q;
	char *got;

	s_history(&h, 1, 0, 0);
	if ((st = s_all_orders(&h, 2, 10)) != NULL) {
		got = dh_dump(t_list(st, stock_list, NULL));
		CHECK_STR(got,
		    "{\"items\":[{\"available\":10,\"on_hand\":10,\"reserved\":"
		    "0,\"site\":\"S001\",\"sku\":\"TEA\"},{\"available\":0,"
		    "\"in_transit\":10,\"on_hand\":0,\"reserved\":0,\"site\":"
		    "\"S002\",\"sku\":\"TEA\"}]}");
		free(got);
		CHECK_FIELD(st, "S001-T1", "in_transit", "10");
		CHECK_FIELD(st, "S001-T1", "qty_sent", "10");
		CHECK_FIELD(st, "S001-T1", "qty_received", "null");
		CHECK_FIELD(st, "S001-T1", "discrepancy", "null");
		q = json_pack("{s:s, s:s, s:s}", "status", "shipped", "sku",
		    "TEA", "site", "S002");
		got = dh_dump(t_list(st, transfer_list, q));
		json_decref(q);
		CHECK_STR(got,
		    "{\"items\":[{\"created_ms\":1699996520000,\"discrepancy\":"
		    "null,\"from_site\":\"S001\",\"id\":\"S001-T1\","
		    "\"in_transit\":10,\"qty\":10,\"qty_received\":null,"
		    "\"qty_sent\":10,\"sku\":\"TEA\",\"status\":\"shipped\","
		    "\"to_site\":\"S002\"}]}");
		free(got);
		got = dh_dump(
		    t_list_where(st, transfer_list, "status", "received"));
		CHECK_STR(got, "{\"items\":[]}");
		free(got);
		got = dh_dump(t_list_where(st, stock_list, "site", "S001"));
		CHECK_STR(got,
		    "{\"items\":[{\"available\":10,\"on_hand\":10,\"reserved\":"
		    "0,\"site\":\"S001\",\"sku\":\"TEA\"}]}");
		free(got);
		store_close(&st);
	}
	dh_history_free(&h);
}

/* The discrepancy is received - sent: an over receipt raises the alert
 * with a plus sign, a receipt in full none. */
TEST(discrepancy_is_received_less_sent)
{
	static const struct {
		int64_t recv;
		const char *discrepancy;
		int alerts;
	} cases[] = { { 12, "2", 1 }, { 10, "0", 0 }, { 1, "-9", 1 } };
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		dh_history_t h = { 0 };
		store_t *st;
		char *got;

		s_history(&h, 1, cases[i].recv, 0);
		if ((st = dh_rule_run(&h)) != NULL) {
			CHECK_FIELD(st, "S001-T1", "discrepancy",
			    cases[i].discrepancy);
			CHECK_EQ_INT(dh_alerts(st, "transfer_discrepancy",
					 "S001-T1"),
			    cases[i].alerts);
			CHECK_EQ_INT(dh_on_hand(st, "S002", "TEA"),
			    cases[i].recv);
			if (cases[i].recv == 12) {
				got = dh_alert_message(st,
				    "transfer_discrepancy", "S001-T1");
				CHECK_STR(got,
				    "transfer S001-T1: 10 TEA sent by S001, 12 "
				    "received at S002, discrepancy +2: head "
				    "office reconciles it");
				free(got);
			}
			store_close(&st);
		}
		dh_history_free(&h);
	}
}

/* Who may write which op, each verdict the same in every order: another
 * site's create under the source's id or of the source's transfer, a ship
 * by anyone but the source, a receipt by anyone but the destination
 * (also when it arrives before the create: it waits, then is refused), a
 * reconciliation by anyone but head office, and head office as a source
 * or a destination. A receipt naming a transfer never created waits. */
TEST(ownership_refusals_with_exact_reasons)
{
	dh_history_t h = { 0 };
	store_t *st;
	char *got;

	s_history(&h, 1, 0, 0);
	dh_add(&h, "S003", 1, dh_at(2, 1), TRANSFER_ENTITY, "S001-T1", "create",
	    json_pack("{s:s, s:s, s:i, s:s}", "site", "S003", "sku", "TEA",
		"qty", 1, "to_site", "S002"),
	    0);
	dh_add(&h, "S003", 2, dh_at(2, 2), TRANSFER_ENTITY, "S003-T2", "create",
	    json_pack("{s:s, s:s, s:i, s:s}", "site", "S001", "sku", "TEA",
		"qty", 1, "to_site", "S003"),
	    0);
	dh_add(&h, "S002", 3, dh_at(3, 2), TRANSFER_ENTITY, "S001-T1", "ship",
	    json_object(), 0);
	dh_add(&h, "S003", 3, dh_at(3, 3), TRANSFER_ENTITY, "S001-T1",
	    "receive", json_pack("{s:i}", "qty", 10), 0);
	dh_add(&h, "S001", 5, dh_at(3, 4), TRANSFER_ENTITY, "S001-T1",
	    "receive", json_pack("{s:i}", "qty", 10), 0);
	dh_add(&h, "S001", 6, dh_at(3, 5), TRANSFER_ENTITY, "S001-T1",
	    "reconcile", json_pack("{s:s}", "note", "mine"), 0);
	dh_add(&h, "S001", 7, dh_at(3, 6), TRANSFER_ENTITY, "S001-T3", "create",
	    json_pack("{s:s, s:s, s:i, s:s}", "site", "S001", "sku", "TEA",
		"qty", 1, "to_site", "HQ"),
	    0);
	dh_add(&h, "HQ", 1, dh_at(3, 7), TRANSFER_ENTITY, "HQ-T4", "create",
	    json_pack("{s:s, s:s, s:i, s:s}", "site", "HQ", "sku", "TEA", "qty",
		1, "to_site", "S001"),
	    0);
	dh_add(&h, "S001", 8, dh_at(3, 8), TRANSFER_ENTITY, "S001-T5", "create",
	    json_pack("{s:s, s:s, s:i, s:s}", "site", "S001", "sku", "TEA",
		"qty", 0, "to_site", "S002"),
	    0);
	dh_add(&h, "S002", 4, dh_at(3, 9), TRANSFER_ENTITY, "S001-NEVER",
	    "receive", json_pack("{s:i}", "qty", 3), 0);
	dh_add(&h, "S002", 5, dh_at(3, 10), TRANSFER_ENTITY, "S001-T1",
	    "receive", json_pack("{s:i}", "qty", -1), 0);
	if ((st = dh_rule_run(&h)) != NULL) {
		CHECK_FIELD(st, "S001-T1", "status", "\"shipped\"");
		CHECK_FIELD(st, "S001-T1", "to_site", "\"S002\"");
		got = dh_quarantined(st);
		CHECK_STR(got,
		    "'HQ'|1|'apply op HQ/1: transfer HQ-T4: site: HQ is head "
		    "office, which sends no transfers'\n"
		    "'S001'|5|'apply op S001/5: transfer S001-T1: S001 may not "
		    "receive it: only its destination S002 may'\n"
		    "'S001'|6|'apply op S001/6: transfer S001-T1: S001 may not "
		    "reconcile it: only head office may'\n"
		    "'S001'|7|'apply op S001/7: transfer S001-T3: to_site: HQ is "
		    "head office, which receives no transfers'\n"
		    "'S001'|8|'apply op S001/8: transfer S001-T5: qty: must be "
		    "an integer from 1 to 1000000000'\n"
		    "'S002'|3|'apply op S002/3: transfer S001-T1: S002 may not "
		    "ship it: only its source S001 may'\n"
		    "'S002'|4|'apply op S002/4: transfer S001-NEVER: not held "
		    "here yet, to tell whether S002 is its destination'\n"
		    "'S002'|5|'apply op S002/5: transfer S001-T1: qty: must be "
		    "an integer from 1 to 1000000000'\n"
		    "'S003'|1|'apply op S003/1: transfer S001-T1: S003 creates "
		    "records only under its own ids (S003-...)'\n"
		    "'S003'|2|'apply op S003/2: transfer S003-T2: recorded at "
		    "S001 but written by S003 (a site creates only its own "
		    "transfers)'\n"
		    "'S003'|3|'apply op S003/3: transfer S001-T1: S003 may not "
		    "receive it: only its destination S002 may'\n");
		free(got);
		store_close(&st);
	}
	dh_history_free(&h);
}

/* ---- the commands ---- */

/* Ingests into to every op from's log holds of origin (as the hub would
 * carry them); 0, or -1 after recording a failure. */
static int
s_carry(store_t *from, store_t *to, const char *origin)
{
	sqlite3_stmt *s;
	ingest_result_t res;
	err_t err;
	int rc = 0;

	if (sqlite3_prepare_v2(store_db(from),
		"SELECT body FROM op_log WHERE origin = ? ORDER BY seq", -1, &s,
		NULL) != SQLITE_OK)
		return CHECK_MSG(0, "prepare: %s",
			   sqlite3_errmsg(store_db(from))) -
		    1;
	sqlite3_bind_text(s, 1, origin, -1, SQLITE_STATIC);
	if (store_begin(to, &err)) {
		sqlite3_finalize(s);
		return CHECK_MSG(0, "store_begin: %s", err.msg) - 1;
	}
	while (rc == 0 && sqlite3_step(s) == SQLITE_ROW) {
		const void *body = sqlite3_column_blob(s, 0);
		size_t len = (size_t)sqlite3_column_bytes(s, 0);
		op_t op;
		cbr_t r;

		memset(&op, 0, sizeof op);
		cbr_init(&r, body, len);
		if (op_decode(&r, &op, &err) ||
		    store_ingest(to, &op, body, len, &res, &err))
			rc = CHECK_MSG(0, "carry %s: %s", origin, err.msg) - 1;
		else if (res == INGEST_QUARANTINED || res == INGEST_CONFLICT)
			rc = CHECK_MSG(0, "carry %s/%llu: refused: %s", origin,
				 (unsigned long long)op.seq, err.msg) -
			    1;
		op_clear(&op);
	}
	sqlite3_finalize(s);
	if (rc != 0) {
		store_rollback(to);
		return -1;
	}
	if (store_commit(to, &err))
		return CHECK_MSG(0, "store_commit: %s", err.msg) - 1;
	return 0;
}

/* A replica dir/site holding head office's catalog (TEA). */
static store_t *
s_site(const char *dir, const char *site)
{
	dh_history_t h = { 0 };
	size_t idx[1] = { 0 }, counts[INGEST_RESULTS] = { 0 };
	store_t *st = dh_open(dir, site);
	err_t err;

	if (st == NULL)
		return NULL;
	/* Written by another head-office site than the replica HQ, whose
	 * own log it would otherwise start. */
	dh_add(&h, "HQ0", 1, dh_at(1, 0), PRODUCT_ENTITY, "TEA", "set",
	    json_pack("{s:s}", "name", "Green tea"), 1);
	if (dh_ingest(st, &h, idx, 1, counts) != 0)
		store_close(&st);
	dh_history_free(&h);
	if (st != NULL && strcmp(site, "HQ") == 0 &&
	    (store_begin(st, &err) ||
		store_meta_set_text(st, "role", "hq", &err) ||
		store_commit(st, &err))) {
		CHECK_MSG(0, "role hq: %s", err.msg);
		store_close(&st);
	}
	return st;
}

/* Runs a command that takes a request, returning its rc; the request is
 * taken. */
static int
s_run(int (*fn)(store_t *, const char *, const json_t *, json_t **, err_t *),
    store_t *st, const char *id, json_t *req, json_t **out, err_t *err)
{
	int rc = fn(st, id, req, out, err);

	json_decref(req);
	return rc;
}

/* The source creates and ships, the destination receives short, head
 * office reconciles, each where it may, with every refusal's exact text;
 * their ops carried between the replicas as the hub would. */
TEST(commands_at_source_destination_and_head_office)
{
	const char *dir = harness_tmpdir();
	store_t *s1 = s_site(dir, "S001"), *s2 = s_site(dir, "S002");
	store_t *hq = s_site(dir, "HQ");
	json_t *req, *out = NULL;
	err_t err;
	int created, rc;
	char *got;

	if (s1 == NULL || s2 == NULL || hq == NULL)
		goto done;
	req = json_pack("{s:s, s:i, s:s}", "sku", "TEA", "delta", 20, "reason",
	    "receipt");
	CHECK_EQ_INT(stock_record(s1, req, &out, &created, &err), 0);
	json_decref(req);
	json_decref(out);

	/* Created at the source: its id scoped, requested; a retry is the
	 * same transfer, a different request under its id a 409. */
	req = json_pack("{s:s, s:s, s:i, s:s}", "id", "T1", "sku", "TEA", "qty",
	    10, "to_site", "S002");
	CHECK_EQ_INT(transfer_create(s1, req, &out, &created, &err), 0);
	CHECK_EQ_INT(created, 1);
	CHECK_STR(json_string_value(json_object_get(out, "id")), "S001-T1");
	CHECK_STR(json_string_value(json_object_get(out, "status")),
	    "requested");
	json_decref(out);
	CHECK_EQ_INT(transfer_create(s1, req, &out, &created, &err), 0);
	CHECK_EQ_INT(created, 0);
	json_decref(out);
	json_decref(req);
	out = NULL;
	req = json_pack("{s:s, s:s, s:i, s:s}", "id", "T1", "sku", "TEA", "qty",
	    11, "to_site", "S002");
	CHECK_REFUSED(transfer_create(s1, req, &out, &created, &err), out, err,
	    ERR_CONFLICT,
	    "id: transfer S001-T1 already exists with different "
	    "content");
	json_decref(req);
	req = json_pack("{s:s, s:i, s:s}", "sku", "TEA", "qty", 0, "to_site",
	    "S002");
	CHECK_REFUSED(transfer_create(s1, req, &out, &created, &err), out, err,
	    ERR_BAD_REQUEST, "qty: must be an integer from 1 to 1000000000");
	json_decref(req);
	req = json_pack("{s:s, s:i, s:s}", "sku", "TEA", "qty", -4, "to_site",
	    "S002");
	CHECK_REFUSED(transfer_create(s1, req, &out, &created, &err), out, err,
	    ERR_BAD_REQUEST, "qty: must be an integer from 1 to 1000000000");
	json_decref(req);
	req = json_pack("{s:s, s:i, s:s}", "sku", "TEA", "qty", 1, "to_site",
	    "HQ");
	CHECK_REFUSED(transfer_create(s1, req, &out, &created, &err), out, err,
	    ERR_UNPROCESSABLE,
	    "to_site: HQ is head office, which receives no transfers");
	json_decref(req);
	req = json_pack("{s:s, s:i, s:s}", "sku", "TEA", "qty", 1, "to_site",
	    "S001");
	CHECK_REFUSED(transfer_create(s1, req, &out, &created, &err), out, err,
	    ERR_BAD_REQUEST, "to_site: a transfer goes to another site");
	json_decref(req);
	req = json_pack("{s:s, s:i, s:s}", "sku", "NOPE", "qty", 1, "to_site",
	    "S002");
	CHECK_REFUSED(transfer_create(s1, req, &out, &created, &err), out, err,
	    ERR_NOT_FOUND, "sku: NOPE is not in the catalog");
	json_decref(req);
	req = json_pack("{s:s, s:i, s:s}", "sku", "TEA", "qty", 1, "to_site",
	    "S001");
	CHECK_REFUSED(transfer_create(hq, req, &out, &created, &err), out, err,
	    ERR_UNPROCESSABLE,
	    "site: HQ is head office, which sends no "
	    "transfers");
	json_decref(req);

	/* Not the source's to receive, nor a site's to reconcile. */
	CHECK_REFUSED(s_run(transfer_receive, s1, "S001-T1",
			  json_pack("{s:i}", "qty", 10), &out, &err),
	    out, err, ERR_FORBIDDEN,
	    "receive: transfer S001-T1 goes to S002: only S002 may receive it");
	CHECK_REFUSED(s_run(transfer_reconcile, s1, "S001-T1",
			  json_pack("{s:s}", "note", "x"), &out, &err),
	    out, err, ERR_FORBIDDEN,
	    "reconcile: transfer S001-T1: only head office reconciles "
	    "transfers (at the hub)");
	CHECK_REFUSED(s_run(transfer_ship, s1, "S001-NOPE", json_object(), &out,
			  &err),
	    out, err, ERR_NOT_FOUND, "transfer: S001-NOPE not found");

	/* The destination knows of it before it is shipped: 409. */
	if (s_carry(s1, s2, "S001") != 0)
		goto done;
	CHECK_REFUSED(s_run(transfer_receive, s2, "S001-T1",
			  json_pack("{s:i}", "qty", 10), &out, &err),
	    out, err, ERR_CONFLICT,
	    "receive: transfer S001-T1 is requested: S001 has not shipped it "
	    "yet");

	/* Shipped: on hand down by 10 at once, in transit; twice is a 409
	 * that records nothing; only the source ships. */
	rc = s_run(transfer_ship, s1, "S001-T1", json_object(), &out, &err);
	CHECK_EQ_INT(rc, 0);
	CHECK_STR(json_string_value(json_object_get(out, "status")), "shipped");
	CHECK_EQ_INT(json_integer_value(json_object_get(out, "in_transit")),
	    10);
	json_decref(out);
	out = NULL;
	CHECK_EQ_INT(dh_on_hand(s1, "S001", "TEA"), 10);
	CHECK_REFUSED(s_run(transfer_ship, s1, "S001-T1", json_object(), &out,
			  &err),
	    out, err, ERR_CONFLICT,
	    "ship: transfer S001-T1 is shipped: it was shipped already (10 "
	    "sent), nothing recorded");
	CHECK_EQ_INT(dh_on_hand(s1, "S001", "TEA"), 10);
	CHECK_REFUSED(s_run(transfer_ship, s2, "S001-T1", json_object(), &out,
			  &err),
	    out, err, ERR_FORBIDDEN,
	    "ship: transfer S001-T1 comes from S001: only S001 may ship it");
	got = dh_rows(s1,
	    "SELECT id, site, delta, reason, ref FROM stock_movements "
	    "WHERE reason LIKE 'transfer%'");
	CHECK_STR(got, "'S001-T1-sent'|'S001'|-10|'transfer_out'|'S001-T1'\n");
	free(got);

	/* Received short at the destination: +8 there, discrepancy -2;
	 * a second receipt is a 409. */
	if (s_carry(s1, s2, "S001") != 0)
		goto done;
	CHECK_REFUSED(s_run(transfer_receive, s2, "S001-T1",
			  json_pack("{s:i}", "qty", 0), &out, &err),
	    out, err, ERR_BAD_REQUEST,
	    "qty: must be an integer from 1 to 1000000000");
	rc = s_run(transfer_receive, s2, "S001-T1",
	    json_pack("{s:i}", "qty", 8), &out, &err);
	CHECK_EQ_INT(rc, 0);
	CHECK_STR(json_string_value(json_object_get(out, "status")),
	    "received");
	CHECK_EQ_INT(json_integer_value(json_object_get(out, "discrepancy")),
	    -2);
	json_decref(out);
	out = NULL;
	CHECK_EQ_INT(dh_on_hand(s2, "S002", "TEA"), 8);
	CHECK_REFUSED(s_run(transfer_receive, s2, "S001-T1",
			  json_pack("{s:i}", "qty", 2), &out, &err),
	    out, err, ERR_CONFLICT,
	    "receive: transfer S001-T1 is received: it was received already "
	    "(8 of 10), nothing recorded");
	CHECK_EQ_INT(dh_on_hand(s2, "S002", "TEA"), 8);
	got = dh_rows(s2,
	    "SELECT id, site, delta, reason, ref FROM stock_movements "
	    "WHERE site = 'S002'");
	CHECK_STR(got,
	    "'S002-S001-T1-received'|'S002'|8|'transfer_in'|'S001-T1'\n");
	free(got);
	CHECK_EQ_INT(dh_alerts(s2, "transfer_discrepancy", "S001-T1"), 1);

	/* Head office: a note is required; it closes the transfer once. */
	if (s_carry(s1, hq, "S001") != 0 || s_carry(s2, hq, "S002") != 0)
		goto done;
	CHECK_EQ_INT(dh_alerts(hq, "transfer_discrepancy", "S001-T1"), 1);
	CHECK_REFUSED(s_run(transfer_reconcile, hq, "S001-T1", json_object(),
			  &out, &err),
	    out, err, ERR_BAD_REQUEST, "note: missing");
	rc = s_run(transfer_reconcile, hq, "S001-T1",
	    json_pack("{s:s}", "note", "2 broken in the van"), &out, &err);
	CHECK_EQ_INT(rc, 0);
	CHECK_STR(json_string_value(json_object_get(out, "status")),
	    "reconciled");
	json_decref(out);
	out = NULL;
	CHECK_REFUSED(s_run(transfer_reconcile, hq, "S001-T1",
			  json_pack("{s:s}", "note", "again"), &out, &err),
	    out, err, ERR_CONFLICT,
	    "reconcile: transfer S001-T1 was reconciled already");
	CHECK_EQ_INT(dh_alerts(hq, "transfer_discrepancy", NULL), 0);

	/* Back at both sites: reconciled, the alert gone there too. */
	if (s_carry(hq, s1, "HQ") != 0 || s_carry(hq, s2, "HQ") != 0 ||
	    s_carry(s2, s1, "S002") != 0)
		goto done;
	CHECK_FIELD(s1, "S001-T1", "status", "\"reconciled\"");
	CHECK_FIELD(s2, "S001-T1", "status", "\"reconciled\"");
	CHECK_EQ_INT(dh_alerts(s2, "transfer_discrepancy", NULL), 0);

	/* A transfer shipped but not received, and one received in full,
	 * are not head office's to reconcile. */
	req = json_pack("{s:s, s:s, s:i, s:s}", "id", "T2", "sku", "TEA", "qty",
	    2, "to_site", "S002");
	CHECK_EQ_INT(transfer_create(s1, req, &out, &created, &err), 0);
	json_decref(req);
	json_decref(out);
	CHECK_EQ_INT(s_run(transfer_ship, s1, "S001-T2", json_object(), &out,
			 &err),
	    0);
	json_decref(out);
	out = NULL;
	if (s_carry(s1, hq, "S001") != 0 || s_carry(s1, s2, "S001") != 0)
		goto done;
	CHECK_REFUSED(s_run(transfer_reconcile, hq, "S001-T2",
			  json_pack("{s:s}", "note", "x"), &out, &err),
	    out, err, ERR_CONFLICT,
	    "reconcile: transfer S001-T2 is shipped: only a received transfer "
	    "is reconciled");
	CHECK_EQ_INT(s_run(transfer_receive, s2, "S001-T2",
			 json_pack("{s:i}", "qty", 2), &out, &err),
	    0);
	json_decref(out);
	out = NULL;
	if (s_carry(s2, hq, "S002") != 0)
		goto done;
	CHECK_REFUSED(s_run(transfer_reconcile, hq, "S001-T2",
			  json_pack("{s:s}", "note", "x"), &out, &err),
	    out, err, ERR_CONFLICT,
	    "reconcile: transfer S001-T2 was received in full (2 of 2): "
	    "nothing to reconcile");
	CHECK_EQ_INT(dh_on_hand(hq, "S001", "TEA"), 8);
	CHECK_EQ_INT(dh_on_hand(hq, "S002", "TEA"), 10);
done:
	store_close(&s1);
	store_close(&s2);
	store_close(&hq);
}
