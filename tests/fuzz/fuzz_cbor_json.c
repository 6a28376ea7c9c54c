/*
 * fuzz_cbor_json: the generic value reader and writer on arbitrary bytes.
 *
 * cbr_json must refuse or accept any input without crashing, leaking or
 * reading out of bounds, and cbr_skip must agree with it (same verdict,
 * same length). An accepted value must be canonical: cbw_json writes back
 * exactly the bytes consumed. Reading a sequence of values to the end must
 * account for every byte (cbr_end). Anything else aborts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "fuzz.h"

static void
s_fail(const char *what, const uint8_t *data, size_t size)
{
	size_t i;

	fprintf(stderr, "fuzz_cbor_json: %s; input (%zu bytes):", what, size);
	for (i = 0; i < size && i < 256; i++)
		fprintf(stderr, "%s%02x", i % 32 ? " " : "\n  ", data[i]);
	fprintf(stderr, "\n");
	abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cbr_t r, s;
	cbw_t w;
	json_t *v;
	err_t err;
	size_t start;
	int rc, src, values = 0;

	cbr_init(&r, data, size);
	cbw_init(&w);
	/* Values back to back, as in a batch, until one is refused. */
	while (r.pos < size && values < 64) {
		start = r.pos;
		s = r;
		v = NULL;
		memset(&err, 0, sizeof err);
		rc = cbr_json(&r, &v, &err);
		src = cbr_skip(&s, &err);
		if ((rc == 0) != (src == 0))
			s_fail("cbr_json and cbr_skip disagree", data, size);
		if (rc != 0) {
			if (err.msg[0] == '\0' || err.code != ERR_BAD_REQUEST)
				s_fail("refused without a message or with an "
				       "unexpected code",
				    data, size);
			break;
		}
		if (s.pos != r.pos || r.pos <= start || r.pos > size)
			s_fail("cbr_json and cbr_skip consumed different "
			       "lengths",
			    data, size);
		cbw_reset(&w);
		if (cbw_json(&w, v, &err) != 0)
			s_fail("accepted value does not encode", data, size);
		if ((w.len != r.pos - start ||
			memcmp(w.data, data + start, w.len) != 0))
			s_fail("accepted bytes are not the canonical encoding",
			    data, size);
		json_decref(v);
		values++;
	}
	if (r.pos == size && cbr_end(&r, &err) != 0)
		s_fail("cbr_end refuses a fully read input", data, size);
	if (r.pos < size && cbr_end(&r, &err) == 0)
		s_fail("cbr_end accepts unread bytes", data, size);
	cbw_free(&w);
	return 0;
}

/* Canonical values to mutate. */
void
fuzz_seeds(fuzz_add_fn add)
{
	static const char *const values[] = {
		"0",
		"23",
		"24",
		"255",
		"256",
		"65536",
		"4294967296",
		"-1",
		"-24",
		"-25",
		"-9223372036854775808",
		"9223372036854775807",
		"\"\"",
		"\"S001\"",
		"\"caf\\u00e9\"",
		"true",
		"false",
		"null",
		"[]",
		"{}",
		"[1,\"two\",[3,[4]],{\"k\":null}]",
		"{\"a\":1,\"b\":[true,false],\"aa\":{\"x\":\"y\"},\"zzz\":-300}",
		"[[[[[[[[]]]]]]]]",
		"{\"site\":\"S001\",\"sku\":\"A\",\"delta\":-2,\"reason\":\"sale\"}",
	};
	size_t i;
	json_t *v;
	json_error_t jerr;
	err_t err;
	cbw_t w;

	cbw_init(&w);
	for (i = 0; i < sizeof values / sizeof values[0]; i++) {
		v = json_loads(values[i], JSON_DECODE_ANY, &jerr);
		if (v == NULL) {
			fprintf(stderr, "fuzz_cbor_json: seed %s: %s\n",
			    values[i], jerr.text);
			abort();
		}
		cbw_reset(&w);
		if (cbw_json(&w, v, &err) != 0) {
			fprintf(stderr, "fuzz_cbor_json: seed: %s\n", err.msg);
			abort();
		}
		add(w.data, w.len);
		json_decref(v);
	}
	/* A few values back to back. */
	cbw_reset(&w);
	cbw_int(&w, 7);
	cbw_str(&w, "x");
	cbw_array(&w, 0);
	add(w.data, w.len);
	cbw_free(&w);
}
