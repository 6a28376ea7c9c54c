/*
 * fuzz_apply: arbitrary ops through store_ingest, the merge rules of every
 * entity — what a replica does with whatever a peer pushes.
 *
 * An input is [envelope byte][JSON fields]: the byte picks the entity, kind
 * and key of one of the seed ops below and, with its high bits, the origin;
 * the rest is the op's fields as JSON text. Mutating JSON text, rather than
 * CBOR, reaches deep into every rule's validation with odd but well-formed
 * values. The op goes through the canonical encoding and store_ingest into
 * one in-memory replica. Whatever it holds: no crash, leak or sanitizer
 * report; it is applied, a duplicate, or quarantined with a reason — never
 * a storage failure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply.h"
#include "codec.h"
#include "fuzz.h"
#include "op.h"
#include "store.h"

static store_t *s_store;

static void
s_close(void)
{
	store_close(&s_store);
}

static store_t *
s_replica(void)
{
	err_t err;

	if (s_store != NULL)
		return s_store;
	s_store = store_open(":memory:", STORE_NODE, 1, &apply_rules, &err);
	if (s_store == NULL || store_begin(s_store, &err) ||
	    store_meta_set_text(s_store, "site", "FUZZ", &err) ||
	    store_commit(s_store, &err)) {
		fprintf(stderr, "fuzz_apply: replica: %s\n", err.msg);
		abort();
	}
	atexit(s_close);
	return s_store;
}

static const struct {
	const char *entity, *key, *kind, *fields;
} s_seeds[] = {
	{ "stock_movement", "m1", "add",
	    "{\"site\":\"S001\",\"sku\":\"TEA\",\"delta\":-2,\"reason\":\"sale\"}" },
	{ "customer", "C1", "create",
	    "{\"set\":{\"name\":\"Li\",\"phone\":\"138\",\"tier\":\"vip\",\"credit_limit\":5000},\"tags_add\":[\"gold\"],\"points_delta\":10}" },
	{ "customer", "C1", "update",
	    "{\"tags_remove\":[{\"tag\":\"gold\",\"adds\":[[\"S001\",1]]}],\"points_delta\":-3}" },
	{ "product", "TEA", "set",
	    "{\"name\":\"Green tea\",\"unit\":\"box\",\"active\":true}" },
	{ "price", "vip/TEA", "set",
	    "{\"tier\":\"vip\",\"sku\":\"TEA\",\"amount\":990,\"currency\":\"CNY\"}" },
	{ "safety_stock", "S001/TEA", "set",
	    "{\"site\":\"S001\",\"sku\":\"TEA\",\"qty\":5}" },
	{ "order", "O1", "create",
	    "{\"site\":\"S001\",\"channel\":\"online\",\"customer\":\"C1\",\"currency\":\"CNY\",\"fulfil_site\":\"W001\",\"on_account\":true,\"status\":\"confirmed\",\"lines\":[{\"sku\":\"TEA\",\"qty\":2,\"unit_price\":990}]}" },
	{ "order", "O1", "transition",
	    "{\"to\":\"shipped\",\"tracking\":\"SF123\"}" },
	{ "payment", "P1", "add",
	    "{\"order\":\"O1\",\"method\":\"card\",\"amount\":-500,\"currency\":\"CNY\",\"site\":\"S001\"}" },
	{ "invoice", "S001-INV-000001", "create",
	    "{\"order\":\"O1\",\"site\":\"S001\",\"amount\":1980,\"currency\":\"CNY\",\"due_days\":30}" },
	{ "invoice", "S001-INV-000001", "transition", "{\"to\":\"paid\"}" },
	{ "case", "K1", "create",
	    "{\"kind\":\"return\",\"site\":\"S001\",\"order\":\"O1\",\"lines\":[{\"sku\":\"TEA\",\"qty\":1}]}" },
	{ "case", "K1", "update",
	    "{\"set\":{\"assignee\":\"amy\",\"rating\":4}}" },
	{ "case", "K1", "comment", "{\"text\":\"customer called\"}" },
	{ "case", "K1", "transition", "{\"to\":\"completed\"}" },
};

#define NSEEDS (sizeof s_seeds / sizeof s_seeds[0])

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const origins[] = { "S001", "S002", "W001", "HQ" };
	static uint64_t seq;
	store_t *st = s_replica();
	json_error_t jerr;
	op_t op;
	err_t err;
	cbw_t w;
	ingest_result_t res;
	size_t pick;
	int changes;

	if (size < 1)
		return 0;
	pick = data[0] % NSEEDS;
	memset(&op, 0, sizeof op);
	op.fields = json_loadb((const char *)data + 1, size - 1,
	    JSON_REJECT_DUPLICATES, &jerr);
	if (op.fields == NULL || !json_is_object(op.fields)) {
		json_decref(op.fields);
		return 0;
	}
	snprintf(op.origin, sizeof op.origin, "%s", origins[data[0] >> 6]);
	op.seq = ++seq;
	op.hlc = (0x18bcfe5680000ull + seq) << 4;
	snprintf(op.entity, sizeof op.entity, "%s", s_seeds[pick].entity);
	snprintf(op.key, sizeof op.key, "%s", s_seeds[pick].key);
	snprintf(op.kind, sizeof op.kind, "%s", s_seeds[pick].kind);
	cbw_init(&w);
	if (op_encode(&op, &w, &err) != 0) { /* a real number: refused */
		op_clear(&op);
		cbw_free(&w);
		return 0;
	}
	if (store_begin(st, &err) != 0) {
		fprintf(stderr, "fuzz_apply: begin: %s\n", err.msg);
		abort();
	}
	memset(&err, 0, sizeof err);
	changes = sqlite3_total_changes(store_db(st));
	if (store_ingest(st, &op, w.data, w.len, &res, &err) != 0) {
		fprintf(stderr, "fuzz_apply: storage failure: %s\n", err.msg);
		abort();
	}
	if (res == INGEST_QUARANTINED && err.msg[0] == '\0') {
		fprintf(stderr, "fuzz_apply: quarantined without a reason\n");
		abort();
	}
	/* A refused op writes nothing but its log row (taken back) and its
	 * quarantine row: the rules check before they write (apply.h). */
	if (res == INGEST_QUARANTINED &&
	    sqlite3_total_changes(store_db(st)) - changes > 3) {
		fprintf(stderr,
		    "fuzz_apply: refused %s %s op wrote %d rows: %s\n",
		    op.entity, op.kind,
		    sqlite3_total_changes(store_db(st)) - changes, err.msg);
		abort();
	}
	if (store_commit(st, &err) != 0) {
		fprintf(stderr, "fuzz_apply: commit: %s\n", err.msg);
		abort();
	}
	op_clear(&op);
	cbw_free(&w);
	return 0;
}

/* Each seed op, from each origin. */
void
fuzz_seeds(fuzz_add_fn add)
{
	uint8_t buf[1024];
	size_t i, n;
	unsigned o;

	for (i = 0; i < NSEEDS; i++) {
		for (o = 0; o < 4; o++) {
			n = strlen(s_seeds[i].fields);
			buf[0] = (uint8_t)((o << 6) | i);
			memcpy(buf + 1, s_seeds[i].fields, n);
			add(buf, n + 1);
		}
	}
}
