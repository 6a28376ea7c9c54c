/*
 * fuzz_op: op_decode on arbitrary bytes.
 *
 * Whatever the input, op_decode must not crash, leak or read out of bounds;
 * on failure it leaves the op cleared with a message. When it accepts a
 * prefix of the input, that prefix must be canonical: op_encode of the
 * decoded op gives exactly the bytes consumed, the op's fields are within
 * the envelope's limits, and decoding the re-encoding gives the same op.
 * Anything else aborts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "fuzz.h"
#include "op.h"

static void
s_fail(const char *what, const uint8_t *data, size_t size)
{
	size_t i;

	fprintf(stderr, "fuzz_op: %s; input (%zu bytes):", what, size);
	for (i = 0; i < size && i < 256; i++)
		fprintf(stderr, "%s%02x", i % 32 ? " " : "\n  ", data[i]);
	fprintf(stderr, "\n");
	abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cbr_t r;
	cbw_t w;
	op_t op, again;
	err_t err;

	cbr_init(&r, data, size);
	memset(&err, 0, sizeof err);
	if (op_decode(&r, &op, &err) != 0) {
		if (op.fields != NULL || op.origin[0] != '\0' || op.seq != 0)
			s_fail("op not cleared after a failed decode", data,
			    size);
		if (err.msg[0] == '\0' ||
		    (err.code != ERR_BAD_REQUEST && err.code != ERR_TOO_LARGE))
			s_fail("failed decode without a message or with an "
			       "unexpected code",
			    data, size);
		return 0;
	}
	if (r.pos == 0 || r.pos > size)
		s_fail("decoded op with an impossible length", data, size);
	if (!op_site_valid(op.origin) || op.seq == 0 ||
	    strlen(op.entity) > OP_NAME_MAX || strlen(op.kind) > OP_NAME_MAX ||
	    strlen(op.key) > OP_KEY_MAX || !json_is_object(op.fields) ||
	    r.pos > OP_MAX_BYTES)
		s_fail("decoded op breaks the envelope's limits", data, size);

	cbw_init(&w);
	if (op_encode(&op, &w, &err) != 0)
		s_fail("decoded op does not encode", data, size);
	if ((w.len != r.pos || memcmp(w.data, data, w.len) != 0))
		s_fail("accepted bytes are not the canonical encoding", data,
		    size);

	cbr_init(&r, w.data, w.len);
	if (op_decode(&r, &again, &err) != 0 || r.pos != w.len ||
	    strcmp(again.origin, op.origin) != 0 || again.seq != op.seq ||
	    again.hlc != op.hlc || strcmp(again.entity, op.entity) != 0 ||
	    strcmp(again.key, op.key) != 0 ||
	    strcmp(again.kind, op.kind) != 0 ||
	    !json_equal(again.fields, op.fields))
		s_fail("re-encoded op does not decode to the same op", data,
		    size);
	op_clear(&again);
	op_clear(&op);
	cbw_free(&w);
	return 0;
}

/* Valid ops to mutate: every value type, nesting, limits. */
void
fuzz_seeds(fuzz_add_fn add)
{
	static const char *const fields[] = {
		"{}",
		"{\"site\":\"S001\",\"sku\":\"A\",\"delta\":-2,\"reason\":\"sale\"}",
		"{\"site\":\"S001\",\"sku\":\"B-7\",\"delta\":5,\"reason\":\"receipt\",\"ref\":\"PO-1\"}",
		("{\"i\":0,\"n\":-1,\"big\":4294967296,\"min\":-9223372036854775808,"
		 "\"max\":9223372036854775807,\"t\":true,\"f\":false,\"z\":null}"),
		"{\"a\":[1,[2,[3,[4,[5,[6]]]]]],\"m\":{\"x\":{\"y\":{\"z\":\"deep\"}}}}",
		"{\"name\":\"caf\\u00e9 \\u4e2d\\u6587\",\"\":\"\",\"list\":[\"a\",\"bb\",\"ccc\"]}",
	};
	static const struct {
		const char *origin, *entity, *key, *kind;
		uint64_t seq, hlc;
	} envs[] = {
		{ "S001", "stock_movement", "S001-000001", "add", 1, 0x10000 },
		{ "W-09_x", "customer", "c7", "set", 23, 0x18bcfe5680000ull },
		{ "abcdefghijklmnop", "e", "k", "a", 0xffffffffffffffffull,
		    0xffffffffull },
	};
	size_t i, j;
	json_error_t jerr;
	err_t err;
	cbw_t w;

	cbw_init(&w);
	for (i = 0; i < sizeof envs / sizeof envs[0]; i++) {
		for (j = 0; j < sizeof fields / sizeof fields[0]; j++) {
			op_t op;

			if ((i + j) % 2 && j > 1)
				continue;
			memset(&op, 0, sizeof op);
			snprintf(op.origin, sizeof op.origin, "%s",
			    envs[i].origin);
			snprintf(op.entity, sizeof op.entity, "%s",
			    envs[i].entity);
			snprintf(op.key, sizeof op.key, "%s", envs[i].key);
			snprintf(op.kind, sizeof op.kind, "%s", envs[i].kind);
			op.seq = envs[i].seq;
			op.hlc = envs[i].hlc;
			op.fields = json_loads(fields[j], 0, &jerr);
			if (op.fields == NULL) {
				fprintf(stderr, "fuzz_op: seed JSON: %s\n",
				    jerr.text);
				abort();
			}
			cbw_reset(&w);
			if (op_encode(&op, &w, &err) != 0) {
				fprintf(stderr, "fuzz_op: seed: %s\n", err.msg);
				abort();
			}
			add(w.data, w.len);
			op_clear(&op);
		}
	}
	cbw_free(&w);
}
