/*
 * test_codec: the deterministic CBOR writer, the strict reader and the op
 * envelope on top of them. Ops round-trip; known ops encode to hand-computed
 * golden bytes; and every kind of input the reader must refuse is refused
 * with its exact error text, leaving the op cleared.
 */
#include <stdio.h>
#include <string.h>

#include "codec.h"
#include "harness.h"
#include "op.h"
#include "text.h"

/* ---- helpers ---- */

/* Fills op with the envelope used throughout: S001/1 at hlc 0x10000, a
 * stock movement keyed S001-000001. fields is taken over by op. */
static void
s_op_init(op_t *op, json_t *fields)
{
	memset(op, 0, sizeof *op);
	snprintf(op->origin, sizeof op->origin, "S001");
	op->seq = 1;
	op->hlc = 0x10000;
	snprintf(op->entity, sizeof op->entity, "stock_movement");
	snprintf(op->key, sizeof op->key, "S001-000001");
	snprintf(op->kind, sizeof op->kind, "add");
	op->fields = fields;
}

/* The canonical bytes of the envelope of s_op_init, up to the fields:
 * [ "S001", 1, 65536, "stock_movement", "S001-000001", "add", ... */
static const uint8_t s_head[] = {
	0x87,			      /* array(7) */
	0x64, 'S', '0', '0', '1',     /* "S001" */
	0x01,			      /* seq 1 */
	0x1a, 0x00, 0x01, 0x00, 0x00, /* hlc 65536 */
	0x6e, 's', 't', 'o', 'c', 'k', '_', 'm', 'o', 'v', 'e', 'm', 'e', 'n',
	't', /* "stock_movement" */
	0x6b, 'S', '0', '0', '1', '-', '0', '0', '0', '0', '0', '1', 0x63, 'a',
	'd', 'd', /* "add" */
};
#define HEAD_LEN 43 /* offset of the fields map */

/* Builds s_head followed by tail into w. */
static void
s_with_fields(cbw_t *w, const uint8_t *tail, size_t n)
{
	cbw_init(w);
	cbw_raw(w, s_head, sizeof s_head);
	cbw_raw(w, tail, n);
}

/* Decodes buf expecting failure with exactly msg; checks that the op comes
 * back cleared. Returns 1 when all held. */
static int
s_decode_fails(const char *file, int line, const void *buf, size_t len,
    err_code_t code, const char *msg)
{
	cbr_t r;
	op_t op;
	err_t err;
	int ok = 1;

	memset(&op, 0xa5, sizeof op);
	err_clear(&err);
	cbr_init(&r, buf, len);
	if (op_decode(&r, &op, &err) == 0) {
		harness_fail(file, line,
		    "op_decode accepted bad input; want \"%s\"", msg);
		op_clear(&op);
		return 0;
	}
	ok &= harness_check_int(file, line, "err.code", "code", err.code, code);
	ok &= harness_check_str(file, line, "err.msg", "msg", err.msg, msg);
	ok &= harness_check_int(file, line, "op.fields", "NULL",
	    op.fields != NULL, 0);
	ok &= harness_check_str(file, line, "op.origin", "\"\"", op.origin, "");
	ok &= harness_check_uint(file, line, "op.seq", "0", op.seq, 0);
	return ok;
}

#define DECODE_FAILS(buf, len, code, msg) \
	s_decode_fails(__FILE__, __LINE__, (buf), (len), (code), (msg))

/* Same for one JSON value through cbr_json. */
static int
s_json_fails(const char *file, int line, const void *buf, size_t len,
    const char *msg)
{
	cbr_t r;
	json_t *v = NULL;
	err_t err;
	int ok = 1;

	err_clear(&err);
	cbr_init(&r, buf, len);
	if (cbr_json(&r, &v, &err) == 0) {
		harness_fail(file, line,
		    "cbr_json accepted bad input; want \"%s\"", msg);
		json_decref(v);
		return 0;
	}
	ok &= harness_check_int(file, line, "err.code", "ERR_BAD_REQUEST",
	    err.code, ERR_BAD_REQUEST);
	ok &= harness_check_str(file, line, "err.msg", "msg", err.msg, msg);
	return ok;
}

#define JSON_FAILS(buf, len, msg) \
	s_json_fails(__FILE__, __LINE__, (buf), (len), (msg))

/* ---- round trips ---- */

TEST(envelope_head_is_what_the_offsets_assume)
{
	op_t op;
	cbw_t w;
	err_t err;

	s_op_init(&op, NULL);
	cbw_init(&w);
	err_clear(&err);
	CHECK_EQ_INT(op_encode(&op, &w, &err), 0);
	CHECK_EQ_INT(sizeof s_head, HEAD_LEN);
	/* NULL fields encode as the empty map. */
	CHECK_MEM(w.data, w.len,
	    "\x87\x64S001\x01\x1a\x00\x01\x00\x00"
	    "\x6estock_movement\x6bS001-000001\x63"
	    "add\xa0",
	    HEAD_LEN + 1);
	cbw_free(&w);
	op_clear(&op);
}

TEST(ops_round_trip)
{
	static const char *fields_json =
	    "{\"zero\":0, \"one\":1, \"neg\":-1, \"m24\":-24, \"m25\":-25,"
	    " \"big\":4294967296, \"n256\":-256,"
	    " \"min\":-9223372036854775808, \"max\":9223372036854775807,"
	    " \"text\":\"h\\u00e9llo w\\u00f6rld\", \"empty\":\"\","
	    " \"t\":true, \"f\":false, \"n\":null, \"\":\"empty key\","
	    " \"arr\":[1, [2, [3, []]], {\"k\":\"v\"}, null, false],"
	    " \"map\":{\"z\":1, \"a\":{\"b\":[], \"aa\":{}}, \"B\":-7}}";
	op_t op, back;
	cbw_t w, again;
	cbr_t r;
	err_t err;
	json_error_t jerr;
	json_t *fields = json_loads(fields_json, 0, &jerr);

	REQUIRE_MSG(fields != NULL, "bad test JSON: %s", jerr.text);
	s_op_init(&op, fields);
	op.seq = UINT64_MAX;
	op.hlc = 0xfffffffffffffffeull;
	snprintf(op.origin, sizeof op.origin, "abcdefghijklMN_9");
	cbw_init(&w);
	cbw_init(&again);
	err_clear(&err);
	REQUIRE_EQ_INT(op_encode(&op, &w, &err), 0);
	cbr_init(&r, w.data, w.len);
	REQUIRE_MSG(op_decode(&r, &back, &err) == 0, "decode: %s", err.msg);
	CHECK_EQ_UINT(r.pos, w.len);
	CHECK_EQ_INT(cbr_end(&r, &err), 0);
	CHECK_STR(back.origin, "abcdefghijklMN_9");
	CHECK_EQ_UINT(back.seq, UINT64_MAX);
	CHECK_EQ_UINT(back.hlc, 0xfffffffffffffffeull);
	CHECK_STR(back.entity, "stock_movement");
	CHECK_STR(back.key, "S001-000001");
	CHECK_STR(back.kind, "add");
	CHECK(json_equal(back.fields, fields));
	CHECK_EQ_INT(json_integer_value(json_object_get(back.fields, "min")),
	    INT64_MIN);
	CHECK_EQ_INT(json_integer_value(json_object_get(back.fields, "max")),
	    INT64_MAX);
	/* The decoded op encodes to the same bytes: one value, one encoding. */
	CHECK_EQ_INT(op_encode(&back, &again, &err), 0);
	CHECK_MEM(again.data, again.len, w.data, w.len);
	op_clear(&back);
	CHECK(back.fields == NULL);
	op_clear(&op);
	cbw_free(&w);
	cbw_free(&again);
}

TEST(ops_round_trip_back_to_back_in_one_buffer)
{
	op_t a, b, out;
	cbw_t w;
	cbr_t r;
	err_t err;
	size_t first_end;

	s_op_init(&a, json_pack("{s:i}", "delta", 3));
	s_op_init(&b, json_pack("{s:[i,s]}", "x", -1, "y"));
	b.seq = 2;
	b.hlc = 0x10001;
	cbw_init(&w);
	err_clear(&err);
	CHECK_EQ_INT(op_encode(&a, &w, &err), 0);
	first_end = w.len;
	CHECK_EQ_INT(op_encode(&b, &w, &err), 0);
	cbr_init(&r, w.data, w.len);
	REQUIRE_EQ_INT(op_decode(&r, &out, &err), 0);
	/* The op's bytes run from the old position to the new one. */
	CHECK_EQ_UINT(r.pos, first_end);
	CHECK(json_equal(out.fields, a.fields));
	op_clear(&out);
	CHECK_EQ_INT(cbr_end(&r, &err), -1);
	REQUIRE_EQ_INT(op_decode(&r, &out, &err), 0);
	CHECK_EQ_UINT(out.seq, 2);
	CHECK_EQ_UINT(out.hlc, 0x10001);
	CHECK(json_equal(out.fields, b.fields));
	CHECK_EQ_INT(cbr_end(&r, &err), 0);
	op_clear(&out);
	op_clear(&a);
	op_clear(&b);
	cbw_free(&w);
}

TEST(integers_use_the_shortest_header_and_read_back)
{
	static const struct {
		int64_t v;
		const char *bytes;
		size_t n;
	} cases[] = {
		{ 0, "\x00", 1 },
		{ 23, "\x17", 1 },
		{ 24, "\x18\x18", 2 },
		{ 255, "\x18\xff", 2 },
		{ 256, "\x19\x01\x00", 3 },
		{ 65535, "\x19\xff\xff", 3 },
		{ 65536, "\x1a\x00\x01\x00\x00", 5 },
		{ 4294967295LL, "\x1a\xff\xff\xff\xff", 5 },
		{ 4294967296LL, "\x1b\x00\x00\x00\x01\x00\x00\x00\x00", 9 },
		{ INT64_MAX, "\x1b\x7f\xff\xff\xff\xff\xff\xff\xff", 9 },
		{ -1, "\x20", 1 },
		{ -24, "\x37", 1 },
		{ -25, "\x38\x18", 2 },
		{ -256, "\x38\xff", 2 },
		{ -257, "\x39\x01\x00", 3 },
		{ -65537, "\x3a\x00\x01\x00\x00", 5 },
		{ -4294967297LL, "\x3b\x00\x00\x00\x01\x00\x00\x00\x00", 9 },
		{ INT64_MIN, "\x3b\x7f\xff\xff\xff\xff\xff\xff\xff", 9 },
	};
	size_t i;
	cbw_t w;
	cbr_t r;
	err_t err;
	int64_t v;

	cbw_init(&w);
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		cbw_reset(&w);
		cbw_int(&w, cases[i].v);
		if (!CHECK_MEM(w.data, w.len, cases[i].bytes, cases[i].n))
			harness_fail(__FILE__, __LINE__, "value %lld",
			    (long long)cases[i].v);
		cbr_init(&r, w.data, w.len);
		v = 0;
		err_clear(&err);
		CHECK_EQ_INT(cbr_int(&r, &v, &err), 0);
		CHECK_EQ_INT(v, cases[i].v);
		CHECK_EQ_INT(cbr_end(&r, &err), 0);
	}
	/* The full unsigned range through cbr_uint. */
	cbw_reset(&w);
	cbw_uint(&w, UINT64_MAX);
	CHECK_MEM(w.data, w.len, "\x1b\xff\xff\xff\xff\xff\xff\xff\xff", 9);
	cbr_init(&r, w.data, w.len);
	{
		uint64_t u = 0;

		CHECK_EQ_INT(cbr_uint(&r, &u, &err), 0);
		CHECK_EQ_UINT(u, UINT64_MAX);
		/* ...which cbr_int refuses rather than wrapping. */
		cbr_init(&r, w.data, w.len);
		CHECK_EQ_INT(cbr_int(&r, &v, &err), -1);
		CHECK_STR(err.msg, "cbor: integer out of range at byte 0");
		CHECK_EQ_UINT(r.pos, 0);
	}
	/* -2^64, the most negative CBOR integer, does not fit either. */
	cbr_init(&r, "\x3b\xff\xff\xff\xff\xff\xff\xff\xff", 9);
	CHECK_EQ_INT(cbr_int(&r, &v, &err), -1);
	CHECK_STR(err.msg, "cbor: integer out of range at byte 0");
	cbw_free(&w);
}

/* ---- golden bytes ---- */

TEST(golden_stock_movement_op)
{
	/* {"site":"S001","sku":"A","delta":-2,"reason":"sale"}: keys sort
	 * shortest first, so sku(3) < site(4) < delta(5) < reason(6). */
	static const uint8_t fields[] = {
		0xa4, /* map(4) */
		0x63,
		's',
		'k',
		'u',
		0x61,
		'A',
		0x64,
		's',
		'i',
		't',
		'e',
		0x64,
		'S',
		'0',
		'0',
		'1',
		0x65,
		'd',
		'e',
		'l',
		't',
		'a',
		0x21, /* -2 */
		0x66,
		'r',
		'e',
		'a',
		's',
		'o',
		'n',
		0x64,
		's',
		'a',
		'l',
		'e',
	};
	uint8_t want[sizeof s_head + sizeof fields];
	op_t op, back;
	cbw_t w;
	cbr_t r;
	err_t err;

	memcpy(want, s_head, sizeof s_head);
	memcpy(want + sizeof s_head, fields, sizeof fields);
	/* Insertion order deliberately not the canonical one. */
	s_op_init(&op,
	    json_pack("{s:s, s:s, s:i, s:s}", "reason", "sale", "site", "S001",
		"delta", -2, "sku", "A"));
	cbw_init(&w);
	err_clear(&err);
	CHECK_EQ_INT(op_encode(&op, &w, &err), 0);
	CHECK_MEM(w.data, w.len, want, sizeof want);
	CHECK_EQ_INT(sizeof want, 79);
	/* And the golden bytes decode back to the op. */
	cbr_init(&r, want, sizeof want);
	REQUIRE_EQ_INT(op_decode(&r, &back, &err), 0);
	CHECK_EQ_UINT(r.pos, sizeof want);
	CHECK_EQ_UINT(back.hlc, 0x10000);
	CHECK(json_equal(back.fields, op.fields));
	op_clear(&back);
	op_clear(&op);
	cbw_free(&w);
}

TEST(golden_nested_fields_and_extremes)
{
	/* Same-length keys sort bytewise ("B" < "a" < "b" < "z"), shorter
	 * before longer ("z" < "aa"), also inside nested maps. */
	static const uint8_t want[] = {
		0x87, 0x64, 'W', '-', '0', '9', /* "W-09" */
		0x18, 0x2a,			/* seq 42 */
		0x1b, 0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00, 0x68, 'c',
		'u', 's', 't', 'o', 'm', 'e', 'r', 0x62, 'c', '7', 0x63, 's',
		'e', 't', 0xa6,	 /* map(6) */
		0x61, 'B', 0xf6, /* "B": null */
		0x61, 'a', 0xf5, /* "a": true */
		0x61, 'b', 0xf4, /* "b": false */
		0x61, 'z', 0x83, /* "z": [ */
		0x3b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* min */
		0x1b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* max */
		0x80,						      /* [] ] */
		0x62, 'a', 'a', 0xa2,		       /* "aa": { */
		0x61, 'y', 0x60,		       /* "y": "" */
		0x62, 'x', 'x', 0xa0,		       /* "xx": {} } */
		0x63, 'n', 'a', 'm', 0x62, 0xc3, 0xa9, /* "nam": "é" */
	};
	op_t op;
	cbw_t w;
	err_t err;

	memset(&op, 0, sizeof op);
	snprintf(op.origin, sizeof op.origin, "W-09");
	op.seq = 42;
	op.hlc = 0x0000018bcfe56800ull;
	snprintf(op.entity, sizeof op.entity, "customer");
	snprintf(op.key, sizeof op.key, "c7");
	snprintf(op.kind, sizeof op.kind, "set");
	op.fields = json_pack("{s:s, s:{s:{}, s:s}, s:[I,I,[]], s:b, s:b, s:n}",
	    "nam", "\xc3\xa9", "aa", "xx", "y", "", "z", (json_int_t)INT64_MIN,
	    (json_int_t)INT64_MAX, "b", 0, "a", 1, "B");
	REQUIRE(op.fields != NULL);
	cbw_init(&w);
	err_clear(&err);
	CHECK_EQ_INT(op_encode(&op, &w, &err), 0);
	CHECK_MEM(w.data, w.len, want, sizeof want);
	op_clear(&op);
	cbw_free(&w);
}

/* ---- refused input, with exact texts ---- */

TEST(truncated_input_is_refused_at_every_length)
{
	op_t op;
	cbw_t w;
	cbr_t r;
	err_t err;
	size_t n;

	s_op_init(&op,
	    json_pack("{s:s, s:s, s:i, s:s}", "site", "S001", "sku", "A",
		"delta", -2, "reason", "sale"));
	cbw_init(&w);
	err_clear(&err);
	REQUIRE_EQ_INT(op_encode(&op, &w, &err), 0);
	for (n = 0; n < w.len; n++) {
		op_t out;

		cbr_init(&r, w.data, n);
		err_clear(&err);
		if (!CHECK_MSG(op_decode(&r, &out, &err) == -1,
			"prefix of %zu of %zu bytes decoded", n, w.len)) {
			op_clear(&out);
			break;
		}
		CHECK_EQ_INT(err.code, ERR_BAD_REQUEST);
		CHECK(out.fields == NULL);
	}
	/* The exact texts at a few cut points. The last item, "sale", starts
	 * 5 bytes before the end. */
	DECODE_FAILS(w.data, w.len - 1, ERR_BAD_REQUEST,
	    "op: cbor: truncated at byte 74");
	DECODE_FAILS(w.data, 3, ERR_BAD_REQUEST,
	    "cbor: array of 7 items at byte 0 exceeds the 2 bytes left");
	/* Cut inside the hlc's 4-byte argument. */
	DECODE_FAILS(w.data, 9, ERR_BAD_REQUEST,
	    "op: cbor: truncated at byte 7");
	/* Nothing left for the fields. */
	DECODE_FAILS(w.data, HEAD_LEN, ERR_BAD_REQUEST,
	    "op: cbor: truncated at byte 43");
	/* The reader level, on empty input. */
	{
		size_t cnt;

		cbr_init(&r, "", 0);
		CHECK_EQ_INT(cbr_array(&r, &cnt, &err), -1);
		CHECK_STR(err.msg, "cbor: truncated at byte 0");
	}
	op_clear(&op);
	cbw_free(&w);
}

TEST(counts_larger_than_the_input_are_refused_before_allocating)
{
	cbr_t r;
	err_t err;
	size_t n = 0;

	/* 2^32 - 1 items claimed by a 5-byte header with nothing after it. */
	cbr_init(&r, "\x9a\xff\xff\xff\xff", 5);
	err_clear(&err);
	CHECK_EQ_INT(cbr_array(&r, &n, &err), -1);
	CHECK_EQ_INT(err.code, ERR_BAD_REQUEST);
	CHECK_STR(err.msg,
	    "cbor: array of 4294967295 items at byte 0 exceeds the 0 bytes left");
	/* 2^32 items (9-byte header) followed by a few bytes. */
	cbr_init(&r, "\x9b\x00\x00\x00\x01\x00\x00\x00\x00\x01\x02", 11);
	CHECK_EQ_INT(cbr_array(&r, &n, &err), -1);
	CHECK_STR(err.msg,
	    "cbor: array of 4294967296 items at byte 0 exceeds the 2 bytes left");
	/* A map needs two bytes per pair: 3 pairs in 5 bytes is refused. */
	cbr_init(&r,
	    "\xa3\x61"
	    "a\x01\x61"
	    "b",
	    6);
	CHECK_EQ_INT(cbr_map(&r, &n, &err), -1);
	CHECK_STR(err.msg,
	    "cbor: map of 3 pairs at byte 0 exceeds the 5 bytes left");
	/* Through op_decode, as the first item of an op. */
	DECODE_FAILS("\x9a\xff\xff\xff\xff", 5, ERR_BAD_REQUEST,
	    "cbor: array of 4294967295 items at byte 0 exceeds the 0 bytes left");
	/* Same claim for the fields map, which cannot hold 2^32 pairs. */
	{
		cbw_t w;

		s_with_fields(&w, (const uint8_t *)"\xba\xff\xff\xff\xff\x00",
		    6);
		DECODE_FAILS(w.data, w.len, ERR_BAD_REQUEST,
		    "op: cbor: map of 4294967295 pairs at byte 43 exceeds the 1 bytes left");
		cbw_free(&w);
	}
	/* A text claiming far more bytes than there are is truncated. */
	JSON_FAILS("\x7b\x00\x00\x00\x00\xff\xff\xff\xff"
		   "abc",
	    12, "cbor: truncated at byte 0");
}

TEST(text_over_its_limit_is_refused)
{
	cbw_t w;
	cbr_t r;
	err_t err;
	char big[CODEC_MAX_TEXT + 2];
	json_t *v = NULL;
	const char *s;
	size_t n;

	/* A 17-byte origin, one over OP_SITE_MAX. */
	cbw_init(&w);
	cbw_array(&w, 7);
	cbw_str(&w, "S0000000000000001");
	cbw_uint(&w, 1);
	cbw_uint(&w, 1);
	cbw_str(&w, "stock_movement");
	cbw_str(&w, "k");
	cbw_str(&w, "add");
	cbw_map(&w, 0);
	DECODE_FAILS(w.data, w.len, ERR_BAD_REQUEST,
	    "op: origin: cbor: text of 17 bytes at byte 1 exceeds the limit of 16");
	/* A 65-byte key, one over OP_KEY_MAX. */
	memset(big, 'k', 65);
	big[65] = '\0';
	cbw_reset(&w);
	cbw_array(&w, 7);
	cbw_str(&w, "S001");
	cbw_uint(&w, 1);
	cbw_uint(&w, 1);
	cbw_str(&w, "e");
	cbw_str(&w, big);
	cbw_str(&w, "add");
	cbw_map(&w, 0);
	DECODE_FAILS(w.data, w.len, ERR_BAD_REQUEST,
	    "op: key: cbor: text of 65 bytes at byte 10 exceeds the limit of 64");
	/* Exactly 64 is fine. */
	big[64] = '\0';
	cbw_reset(&w);
	cbw_array(&w, 7);
	cbw_str(&w, "S001");
	cbw_uint(&w, 1);
	cbw_uint(&w, 1);
	cbw_str(&w, "e");
	cbw_str(&w, big);
	cbw_str(&w, "add");
	cbw_map(&w, 0);
	{
		op_t op;

		cbr_init(&r, w.data, w.len);
		err_clear(&err);
		CHECK_EQ_INT(op_decode(&r, &op, &err), 0);
		CHECK_EQ_UINT(strlen(op.key), 64);
		op_clear(&op);
	}
	/* A field value of CODEC_MAX_TEXT + 1 bytes; CODEC_MAX_TEXT passes. */
	memset(big, 'x', sizeof big);
	cbw_reset(&w);
	cbw_text(&w, big, CODEC_MAX_TEXT + 1);
	JSON_FAILS(w.data, w.len,
	    "cbor: text of 4097 bytes at byte 0 exceeds the limit of 4096");
	cbw_reset(&w);
	cbw_text(&w, big, CODEC_MAX_TEXT);
	cbr_init(&r, w.data, w.len);
	CHECK_EQ_INT(cbr_json(&r, &v, &err), 0);
	CHECK_EQ_UINT(json_string_length(v), CODEC_MAX_TEXT);
	json_decref(v);
	/* cbr_text with a caller's limit; the position stays put. */
	cbr_init(&r,
	    "\x63"
	    "abc",
	    4);
	CHECK_EQ_INT(cbr_text(&r, &s, &n, 2, &err), -1);
	CHECK_STR(err.msg,
	    "cbor: text of 3 bytes at byte 0 exceeds the limit of 2");
	CHECK_EQ_UINT(r.pos, 0);
	CHECK_EQ_INT(cbr_text(&r, &s, &n, 3, &err), 0);
	CHECK_EQ_UINT(n, 3);
	CHECK(memcmp(s, "abc", 3) == 0);
	cbw_free(&w);
}

TEST(wrong_types_are_refused)
{
	cbw_t w;
	cbr_t r;
	err_t err;
	size_t n;

	/* Text where the op array should be. */
	cbr_init(&r, "\x64S001", 5);
	err_clear(&err);
	CHECK_EQ_INT(cbr_array(&r, &n, &err), -1);
	CHECK_STR(err.msg, "cbor: expected array at byte 0, got text");
	CHECK_EQ_UINT(r.pos, 0);
	DECODE_FAILS("\x64S001", 5, ERR_BAD_REQUEST,
	    "cbor: expected array at byte 0, got text");
	/* seq as text. */
	DECODE_FAILS("\x87\x64S001\x61"
		     "1",
	    8, ERR_BAD_REQUEST,
	    "op: cbor: expected unsigned integer at byte 6, got text");
	/* seq negative. */
	DECODE_FAILS("\x87\x64S001\x20", 7, ERR_BAD_REQUEST,
	    "cbor: array of 7 items at byte 0 exceeds the 6 bytes left");
	{
		static const uint8_t neg_seq[] = { 0x87, 0x64, 'S', '0', '0',
			'1', 0x20, 0x01, 0x61, 'e', 0x61, 'k', 0x61, 'a',
			0xa0 };

		DECODE_FAILS(neg_seq, sizeof neg_seq, ERR_BAD_REQUEST,
		    "op: cbor: expected unsigned integer at byte 6, got negative integer");
	}
	/* Fields as an array, and as text. */
	s_with_fields(&w, (const uint8_t *)"\x80", 1);
	DECODE_FAILS(w.data, w.len, ERR_BAD_REQUEST,
	    "op: cbor: expected map at byte 43, got array");
	cbw_free(&w);
	s_with_fields(&w, (const uint8_t *)"\x61x", 2);
	DECODE_FAILS(w.data, w.len, ERR_BAD_REQUEST,
	    "op: cbor: expected map at byte 43, got text");
	cbw_free(&w);
	/* A map key that is not text. */
	s_with_fields(&w, (const uint8_t *)"\xa1\x01\x02", 3);
	DECODE_FAILS(w.data, w.len, ERR_BAD_REQUEST,
	    "op: cbor: expected text at byte 44, got unsigned integer");
	cbw_free(&w);
	/* Wrong arity. */
	DECODE_FAILS("\x86\x64S001\x01\x01\x61"
		     "e\x61k\x61"
		     "a",
	    14, ERR_BAD_REQUEST, "op: 6 elements at byte 0, expected 7");
	/* Values CBOR has but our fields may not carry. */
	JSON_FAILS("\x42\x01\x02", 3,
	    "cbor: unsupported byte string at byte 0");
	JSON_FAILS("\xc1\x01", 2, "cbor: unsupported tag at byte 0");
	JSON_FAILS("\xf7", 1, "cbor: unsupported undefined at byte 0");
	JSON_FAILS("\xf0", 1, "cbor: malformed at byte 0");
	JSON_FAILS("\x1c", 1, "cbor: malformed at byte 0");
	/* A 64-bit integer beyond int64 inside fields. */
	s_with_fields(&w,
	    (const uint8_t *)"\xa1\x61x\x1b\x80\x00\x00\x00\x00\x00\x00\x00",
	    12);
	DECODE_FAILS(w.data, w.len, ERR_BAD_REQUEST,
	    "op: cbor: integer out of range at byte 46");
	cbw_free(&w);
}

TEST(bad_envelope_values_are_refused)
{
	cbw_t w;
	static const char *bad_sites[] = { "", "S 01", "S/01", "S-01",
		"S\xc3\xa9" };
	size_t i;
	char want[128];

	cbw_init(&w);
	for (i = 0; i < sizeof bad_sites / sizeof bad_sites[0]; i++) {
		cbw_reset(&w);
		cbw_array(&w, 7);
		cbw_str(&w, bad_sites[i]);
		cbw_uint(&w, 1);
		cbw_uint(&w, 1);
		cbw_str(&w, "e");
		cbw_str(&w, "k");
		cbw_str(&w, "a");
		cbw_map(&w, 0);
		snprintf(want, sizeof want, "op: bad origin site id '%s'",
		    bad_sites[i]);
		DECODE_FAILS(w.data, w.len, ERR_BAD_REQUEST, want);
	}
	cbw_reset(&w);
	cbw_array(&w, 7);
	cbw_str(&w, "S001");
	cbw_uint(&w, 0);
	cbw_uint(&w, 1);
	cbw_str(&w, "e");
	cbw_str(&w, "k");
	cbw_str(&w, "a");
	cbw_map(&w, 0);
	DECODE_FAILS(w.data, w.len, ERR_BAD_REQUEST,
	    "op S001/0: seq must be positive");
	cbw_free(&w);
}

TEST(deep_nesting_is_refused)
{
	cbw_t w;
	cbr_t r;
	err_t err;
	json_t *v = NULL, *deep, *inner;
	int i;

	/* fields = {"a": [[[ ... 100 levels ... ]]]}. The fields map is level
	 * 1; the array at level 9 (byte 46 + 7) is one too many. */
	cbw_init(&w);
	cbw_raw(&w, s_head, sizeof s_head);
	cbw_map(&w, 1);
	cbw_str(&w, "a");
	for (i = 0; i < 99; i++)
		cbw_array(&w, 1);
	cbw_array(&w, 0);
	DECODE_FAILS(w.data, w.len, ERR_BAD_REQUEST,
	    "op: cbor: nesting deeper than 8 at byte 53");

	/* The bound exactly, on a bare value: 8 nested arrays read and write,
	 * 9 do not, on either side. */
	cbw_reset(&w);
	for (i = 0; i < 7; i++)
		cbw_array(&w, 1);
	cbw_array(&w, 0);
	cbr_init(&r, w.data, w.len);
	err_clear(&err);
	CHECK_EQ_INT(cbr_json(&r, &v, &err), 0);
	CHECK_STR(err.msg, "");
	cbw_reset(&w);
	CHECK_EQ_INT(cbw_json(&w, v, &err), 0);
	CHECK_EQ_UINT(w.len, 8);
	deep = json_array();
	json_array_append_new(deep, v);
	cbw_reset(&w);
	CHECK_EQ_INT(cbw_json(&w, deep, &err), -1);
	CHECK_EQ_INT(err.code, ERR_BAD_REQUEST);
	CHECK_STR(err.msg, "encode: nesting deeper than 8");
	json_decref(deep);
	cbw_reset(&w);
	for (i = 0; i < 8; i++)
		cbw_array(&w, 1);
	cbw_array(&w, 0);
	JSON_FAILS(w.data, w.len, "cbor: nesting deeper than 8 at byte 8");
	/* Maps count as nesting too, on the writer as well. */
	deep = json_object();
	inner = deep;
	for (i = 0; i < 8; i++) {
		json_t *next = json_object();

		json_object_set_new(inner, "k", next);
		inner = next;
	}
	cbw_reset(&w);
	CHECK_EQ_INT(cbw_json(&w, deep, &err), -1);
	CHECK_STR(err.msg, "encode: nesting deeper than 8");
	/* op_encode refuses such fields the same way. */
	{
		op_t op;

		s_op_init(&op, deep);
		cbw_reset(&w);
		CHECK_EQ_INT(op_encode(&op, &w, &err), -1);
		CHECK_STR(err.msg, "encode: nesting deeper than 8");
		op_clear(&op);
	}
	cbw_free(&w);
}

TEST(non_shortest_encodings_are_refused)
{
	cbw_t w;

	/* seq 1 written with a 1-byte argument. */
	DECODE_FAILS("\x87\x64S001\x18\x01", 8, ERR_BAD_REQUEST,
	    "op: cbor: non-shortest encoding at byte 6");
	/* hlc 255 written with a 2-byte argument. */
	{
		static const uint8_t b[] = { 0x87, 0x64, 'S', '0', '0', '1',
			0x01, 0x19, 0x00, 0xff, 0x61, 'e', 0x61, 'k', 0x61, 'a',
			0xa0 };

		DECODE_FAILS(b, sizeof b, ERR_BAD_REQUEST,
		    "op: cbor: non-shortest encoding at byte 7");
	}
	/* The origin's length in a 1-byte argument. */
	DECODE_FAILS("\x87\x78\x04S001\x01\x01\x61"
		     "e\x61k\x61"
		     "a\xa0",
	    16, ERR_BAD_REQUEST,
	    "op: origin: cbor: non-shortest encoding at byte 1");
	/* The op array's own count. */
	DECODE_FAILS("\x98\x07\x64S001", 7, ERR_BAD_REQUEST,
	    "cbor: non-shortest encoding at byte 0");
	/* The fields map's count, and a negative integer inside it. */
	s_with_fields(&w, (const uint8_t *)"\xb8\x01\x61x\x01", 5);
	DECODE_FAILS(w.data, w.len, ERR_BAD_REQUEST,
	    "op: cbor: non-shortest encoding at byte 43");
	cbw_free(&w);
	s_with_fields(&w, (const uint8_t *)"\xa1\x61x\x39\x00\x10", 6);
	DECODE_FAILS(w.data, w.len, ERR_BAD_REQUEST,
	    "op: cbor: non-shortest encoding at byte 46");
	cbw_free(&w);
	/* 64-bit argument holding a 32-bit value. */
	JSON_FAILS("\x1b\x00\x00\x00\x00\xff\xff\xff\xff", 9,
	    "cbor: non-shortest encoding at byte 0");
}

TEST(unsorted_and_duplicate_map_keys_are_refused)
{
	cbw_t w;

	/* "delta" (5 bytes) before "sku" (3 bytes): longer key first. */
	s_with_fields(&w,
	    (const uint8_t *)"\xa2\x65"
			     "delta\x01\x63sku\x61"
			     "A",
	    14);
	DECODE_FAILS(w.data, w.len, ERR_BAD_REQUEST,
	    "op: cbor: map key at byte 51 duplicate or out of order");
	cbw_free(&w);
	/* Same length, bytewise out of order. */
	s_with_fields(&w,
	    (const uint8_t *)"\xa2\x61"
			     "b\x01\x61"
			     "a\x02",
	    7);
	DECODE_FAILS(w.data, w.len, ERR_BAD_REQUEST,
	    "op: cbor: map key at byte 47 duplicate or out of order");
	cbw_free(&w);
	/* Duplicate. */
	s_with_fields(&w,
	    (const uint8_t *)"\xa2\x61"
			     "a\x01\x61"
			     "a\x02",
	    7);
	DECODE_FAILS(w.data, w.len, ERR_BAD_REQUEST,
	    "op: cbor: map key at byte 47 duplicate or out of order");
	cbw_free(&w);
	/* Inside a nested map, at the reader level. */
	JSON_FAILS("\xa1\x61m\xa2\x62zz\x01\x61y\x02", 11,
	    "cbor: map key at byte 8 duplicate or out of order");
}

TEST(floats_are_refused_on_both_sides)
{
	cbw_t w;
	err_t err;
	json_t *v;

	/* half, single and double precision field values. */
	s_with_fields(&w, (const uint8_t *)"\xa1\x61x\xf9\x3e\x00", 6);
	DECODE_FAILS(w.data, w.len, ERR_BAD_REQUEST,
	    "op: cbor: unsupported float at byte 46");
	cbw_free(&w);
	JSON_FAILS("\xfa\x3f\xc0\x00\x00", 5,
	    "cbor: unsupported float at byte 0");
	JSON_FAILS("\x82\x01\xfb\x3f\xf8\x00\x00\x00\x00\x00\x00", 11,
	    "cbor: unsupported float at byte 2");
	/* The writer refuses a JSON real, alone or nested. */
	cbw_init(&w);
	err_clear(&err);
	v = json_real(1.5);
	CHECK_EQ_INT(cbw_json(&w, v, &err), -1);
	CHECK_EQ_INT(err.code, ERR_BAD_REQUEST);
	CHECK_STR(err.msg, "encode: floating-point number not allowed");
	json_decref(v);
	err_clear(&err);
	v = json_pack("{s:i, s:[i, f]}", "a", 1, "price", 2, 9.99);
	CHECK_EQ_INT(cbw_json(&w, v, &err), -1);
	CHECK_STR(err.msg, "encode: floating-point number not allowed");
	/* And op_encode with such fields. */
	{
		op_t op;

		s_op_init(&op, v);
		cbw_reset(&w);
		err_clear(&err);
		CHECK_EQ_INT(op_encode(&op, &w, &err), -1);
		CHECK_STR(err.msg, "encode: floating-point number not allowed");
		op_clear(&op);
	}
	/* fields that are not an object at all. */
	{
		op_t op;

		s_op_init(&op, json_array());
		cbw_reset(&w);
		CHECK_EQ_INT(op_encode(&op, &w, &err), -1);
		CHECK_STR(err.msg, "op: fields are not a map");
		op_clear(&op);
	}
	cbw_free(&w);
}

TEST(indefinite_lengths_are_refused)
{
	cbw_t w;
	size_t n;
	cbr_t r;
	err_t err;

	/* An indefinite-length op array. */
	cbr_init(&r, "\x9f\x64S001\xff", 7);
	err_clear(&err);
	CHECK_EQ_INT(cbr_array(&r, &n, &err), -1);
	CHECK_STR(err.msg, "cbor: indefinite length at byte 0");
	DECODE_FAILS("\x9f\x64S001\xff", 7, ERR_BAD_REQUEST,
	    "cbor: indefinite length at byte 0");
	/* An indefinite fields map. */
	s_with_fields(&w, (const uint8_t *)"\xbf\xff", 2);
	DECODE_FAILS(w.data, w.len, ERR_BAD_REQUEST,
	    "op: cbor: indefinite length at byte 43");
	cbw_free(&w);
	/* An indefinite array and an indefinite text inside fields. */
	s_with_fields(&w, (const uint8_t *)"\xa1\x61x\x9f\x01\xff", 6);
	DECODE_FAILS(w.data, w.len, ERR_BAD_REQUEST,
	    "op: cbor: indefinite length at byte 46");
	cbw_free(&w);
	s_with_fields(&w,
	    (const uint8_t *)"\xa1\x61x\x7f\x61"
			     "a\xff",
	    7);
	DECODE_FAILS(w.data, w.len, ERR_BAD_REQUEST,
	    "op: cbor: indefinite length at byte 46");
	cbw_free(&w);
	/* A stray break. */
	JSON_FAILS("\xff", 1, "cbor: indefinite length at byte 0");
}

TEST(trailing_bytes_are_reported_by_cbr_end)
{
	op_t op;
	cbw_t w;
	cbr_t r;
	err_t err;

	s_op_init(&op, json_pack("{s:i}", "delta", 1));
	cbw_init(&w);
	err_clear(&err);
	CHECK_EQ_INT(op_encode(&op, &w, &err), 0);
	op_clear(&op);
	cbw_raw(&w, "\x00\x01", 2);
	cbr_init(&r, w.data, w.len);
	REQUIRE_EQ_INT(op_decode(&r, &op, &err), 0);
	CHECK_EQ_UINT(r.pos, w.len - 2);
	CHECK_EQ_INT(cbr_end(&r, &err), -1);
	CHECK_EQ_INT(err.code, ERR_BAD_REQUEST);
	CHECK_STR(err.msg, "cbor: 2 trailing bytes at byte 51");
	op_clear(&op);
	/* After one more item there is one byte left. */
	CHECK_EQ_INT(cbr_skip(&r, &err), 0);
	CHECK_EQ_INT(cbr_end(&r, &err), -1);
	CHECK_STR(err.msg, "cbor: 1 trailing bytes at byte 52");
	CHECK_EQ_INT(cbr_skip(&r, &err), 0);
	err_clear(&err);
	CHECK_EQ_INT(cbr_end(&r, &err), 0);
	CHECK_STR(err.msg, "");
	cbw_free(&w);
}

TEST(text_with_nul_or_bad_utf8_is_refused)
{
	cbw_t w;

	/* A NUL inside the origin. */
	DECODE_FAILS("\x87\x64S\x00"
		     "01\x01\x01\x61"
		     "e\x61k\x61"
		     "a\xa0",
	    15, ERR_BAD_REQUEST,
	    "op: origin: cbor: text with a NUL byte at byte 1");
	/* Inside a field value and a field key. */
	s_with_fields(&w,
	    (const uint8_t *)"\xa1\x61x\x63"
			     "a\x00"
			     "b",
	    7);
	DECODE_FAILS(w.data, w.len, ERR_BAD_REQUEST,
	    "op: cbor: text with a NUL byte at byte 46");
	cbw_free(&w);
	s_with_fields(&w, (const uint8_t *)"\xa1\x62x\x00\x01", 5);
	DECODE_FAILS(w.data, w.len, ERR_BAD_REQUEST,
	    "op: cbor: text with a NUL byte at byte 44");
	cbw_free(&w);
	/* A field value that is not UTF-8 (a bare continuation byte, and an
	 * overlong encoding of NUL). */
	s_with_fields(&w,
	    (const uint8_t *)"\xa1\x61x\x62"
			     "a\x80",
	    6);
	DECODE_FAILS(w.data, w.len, ERR_BAD_REQUEST,
	    "op: cbor: text at byte 46 is not UTF-8");
	cbw_free(&w);
	JSON_FAILS("\x62\xc0\x80", 3, "cbor: text at byte 0 is not UTF-8");
	/* In the envelope too: a key that is not UTF-8 (CBOR text must be),
	 * which Jansson never sees. */
	DECODE_FAILS("\x87\x64S001\x01\x01\x61"
		     "e\x62\xbd\xa1\x61"
		     "a\xa0",
	    17, ERR_BAD_REQUEST, "op: key: cbor: text at byte 10 is not UTF-8");
}

TEST(text_must_be_shortest_form_utf8_without_surrogates)
{
	cbr_t r;
	const char *s;
	size_t n;
	err_t err;
	static const struct {
		const char *cbor;
		size_t len;
		int ok;
	} cases[] = {
		{ "\x63\xe4\xbb\x93", 4, 1 },	  /* U+4ED3 */
		{ "\x64\xf0\x9f\x98\x80", 5, 1 }, /* U+1F600 */
		{ "\x62\xc0\xaf", 3, 0 },	  /* overlong '/' */
		{ "\x63\xe0\x80\xaf", 4, 0 },	  /* overlong, 3 bytes */
		{ "\x63\xed\xa0\x80", 4, 0 },	  /* a surrogate */
		{ "\x64\xf4\x90\x80\x80", 5, 0 }, /* above U+10FFFF */
		{ "\x62\xe4\xbb", 3, 0 },	  /* cut short */
	};
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		cbr_init(&r, (const uint8_t *)cases[i].cbor, cases[i].len);
		if (cases[i].ok) {
			CHECK_MSG(cbr_text(&r, &s, &n, 64, &err) == 0,
			    "case %zu refused: %s", i, err.msg);
		} else {
			CHECK_MSG(cbr_text(&r, &s, &n, 64, &err) == -1,
			    "case %zu accepted", i);
			CHECK_STR(err.msg, "cbor: text at byte 0 is not UTF-8");
		}
	}
}

TEST(oversized_op_is_refused)
{
	op_t op, out;
	cbw_t w;
	cbr_t r;
	err_t err;
	char text[4001], name[16], want[96];
	int i;

	memset(text, 'x', sizeof text - 1);
	text[sizeof text - 1] = '\0';
	s_op_init(&op, json_object());
	for (i = 0; i < 17; i++) {
		snprintf(name, sizeof name, "f%02d", i);
		json_object_set_new(op.fields, name, json_string(text));
	}
	cbw_init(&w);
	err_clear(&err);
	REQUIRE_EQ_INT(op_encode(&op, &w, &err), 0);
	REQUIRE(w.len > OP_MAX_BYTES);
	/* 43 head + 1 map header + 17 * (4 key + 3 header + 4000) bytes. */
	CHECK_EQ_UINT(w.len, 43 + 1 + 17 * 4007);
	/* The reader never builds more than one op's worth of fields. */
	snprintf(want, sizeof want, "op: more than %d bytes", OP_MAX_BYTES);
	DECODE_FAILS(w.data, w.len, ERR_TOO_LARGE, want);
	/* One field fewer fits. */
	json_object_del(op.fields, "f16");
	cbw_reset(&w);
	REQUIRE_EQ_INT(op_encode(&op, &w, &err), 0);
	cbr_init(&r, w.data, w.len);
	CHECK_EQ_INT(op_decode(&r, &out, &err), 0);
	CHECK_EQ_UINT(json_object_size(out.fields), 16);
	op_clear(&out);
	op_clear(&op);
	cbw_free(&w);
}

/* A map key that is not UTF-8 cannot become a JSON key: json_object_set_new
 * refuses it. The reader must then refuse the op; instead it drops the pair
 * and accepts the op, so the fields applied differ from the op's bytes that
 * are logged, hashed and forwarded (they no longer round-trip). */
TEST(map_key_that_is_not_utf8_is_refused)
{
	cbw_t w;
	cbr_t r;
	err_t err;
	json_t *v = NULL;

	/* {"a": 1, "\xff": 2}: sorted, shortest form, only the key is bad. */
	s_with_fields(&w,
	    (const uint8_t *)"\xa2\x61"
			     "a\x01\x61\xff\x02",
	    7);
	DECODE_FAILS(w.data, w.len, ERR_BAD_REQUEST,
	    "op: cbor: text at byte 47 is not UTF-8");
	cbw_free(&w);
	/* At the reader level the pair must not vanish either. */
	cbr_init(&r, "\xa1\x62\xc0\x80\x01", 5);
	err_clear(&err);
	if (!CHECK_EQ_INT(cbr_json(&r, &v, &err), -1))
		CHECK_MSG(json_object_size(v) == 1,
		    "accepted map lost its pair: %zu keys",
		    json_object_size(v));
	json_decref(v);
}

/* Entity, key and kind end up in log lines and ERROR reasons, which are one
 * line each: a control character in them is refused, naming the field and
 * the byte. */
TEST(control_characters_in_names_are_refused)
{
	op_t op;
	cbw_t w;

	s_op_init(&op, json_object());
	snprintf(op.key, sizeof op.key, "S001\nFORGED log line");
	cbw_init(&w);
	REQUIRE_EQ_INT(op_encode(&op, &w, NULL), 0);
	DECODE_FAILS(w.data, w.len, ERR_BAD_REQUEST,
	    "op: key: control character at byte 32");
	op_clear(&op);
	s_op_init(&op, json_object());
	snprintf(op.kind, sizeof op.kind, "add\r");
	cbw_reset(&w);
	REQUIRE_EQ_INT(op_encode(&op, &w, NULL), 0);
	DECODE_FAILS(w.data, w.len, ERR_BAD_REQUEST,
	    "op: kind: control character at byte 43");
	op_clear(&op);
	cbw_free(&w);
}

/* Writes the op [origin, 1, 1, entity, key, kind, {}] into w, the texts as
 * given, valid or not. Offsets with origin "S001": entity's header at byte
 * 8; with entity "e", key's at 10; with key "k" too, kind's at 12. */
static void
s_envelope(cbw_t *w, const char *origin, const char *entity, const char *key,
    const char *kind)
{
	cbw_reset(w);
	cbw_array(w, 7);
	cbw_str(w, origin);
	cbw_uint(w, 1);
	cbw_uint(w, 1);
	cbw_str(w, entity);
	cbw_str(w, key);
	cbw_str(w, kind);
	cbw_map(w, 0);
}

/* Every text of the envelope (origin, entity, key, kind) is checked as a
 * field's text is, UTF-8 of bounded length, and for control characters (C0,
 * DEL and C1) besides; the error names the field and the byte. */
TEST(envelope_texts_are_refused_naming_the_field)
{
	static const struct {
		const char *origin, *entity, *key, *kind, *msg;
	} cases[] = {
		{ "S\xff"
		  "01",
		    "e", "k", "a",
		    "op: origin: cbor: text at byte 1 is not UTF-8" },
		{ "S001", "\xc3", "k", "a",
		    "op: entity: cbor: text at byte 8 is not UTF-8" },
		{ "S001", "e", "\xbd\xa1", "a",
		    "op: key: cbor: text at byte 10 is not UTF-8" },
		{ "S001", "e", "k", "ad\xed\xa0\x80", /* a surrogate */
		    "op: kind: cbor: text at byte 12 is not UTF-8" },
		{ "S\x01", "e", "k", "a",
		    "op: origin: control character at byte 3" },
		{ "S001", "e\x7f", "k", "a",
		    "op: entity: control character at byte 10" },
		/* U+009B, CSI: a terminal's escape sequence in one character. */
		{ "S001", "e",
		    "K-\xc2\x9b"
		    "31m",
		    "a", "op: key: control character at byte 13" },
		{ "S001", "e", "k", "a\tb",
		    "op: kind: control character at byte 14" },
		{ "S001", "entity-of-33-bytes-xxxxxxxxxxxxxx", "k", "a",
		    "op: entity: cbor: text of 33 bytes at byte 8 exceeds the "
		    "limit of 32" },
		{ "S001", "e", "k", "kind-of-33-bytes-xxxxxxxxxxxxxxxx",
		    "op: kind: cbor: text of 33 bytes at byte 12 exceeds the "
		    "limit of 32" },
	};
	cbw_t w;
	cbr_t r;
	op_t op;
	err_t err;
	size_t i;

	cbw_init(&w);
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		s_envelope(&w, cases[i].origin, cases[i].entity, cases[i].key,
		    cases[i].kind);
		CHECK_MSG(DECODE_FAILS(w.data, w.len, ERR_BAD_REQUEST,
			      cases[i].msg),
		    "case %zu", i);
	}
	/* Text that is not ASCII is welcome: a key in Chinese, with an
	 * accent and a non-breaking space (U+00A0, just past C1). */
	s_envelope(&w, "S001", "stock_movement",
	    "\xe4\xbb\x93-\xc3\xa9\xc2\xa0"
	    "1",
	    "add");
	cbr_init(&r, w.data, w.len);
	err_clear(&err);
	CHECK_MSG(op_decode(&r, &op, &err) == 0, "refused: %s", err.msg);
	CHECK_STR(op.key,
	    "\xe4\xbb\x93-\xc3\xa9\xc2\xa0"
	    "1");
	op_clear(&op);
	cbw_free(&w);
}

TEST(texts_are_cut_and_cleaned_whole_characters_at_a_time)
{
	char s[32];

	CHECK_EQ_UINT(text_fit("abc", 0), 0);
	CHECK_EQ_UINT(text_fit("abc", 2), 2);
	CHECK_EQ_UINT(text_fit("abc", 10), 3);
	/* U+1F600 (4 bytes) after "a": every cut inside it drops it. */
	CHECK_EQ_UINT(text_fit("a\xf0\x9f\x98\x80", 1), 1);
	CHECK_EQ_UINT(text_fit("a\xf0\x9f\x98\x80", 2), 1);
	CHECK_EQ_UINT(text_fit("a\xf0\x9f\x98\x80", 3), 1);
	CHECK_EQ_UINT(text_fit("a\xf0\x9f\x98\x80", 4), 1);
	CHECK_EQ_UINT(text_fit("a\xf0\x9f\x98\x80", 5), 5);
	/* Smaller than the one character there is. */
	CHECK_EQ_UINT(text_fit("\xe4\xbb\x93", 2), 0);
	snprintf(s, sizeof s, "ok \xe4\xbb\x93 \x01\n\xbd\xc0\xaf end");
	text_clean(s);
	CHECK_STR(s,
	    "ok \xe4\xbb\x93 ??"
	    "??"
	    "? end");
	CHECK(text_ok("ok \xe4\xbb\x93"));
	CHECK(!text_ok("tab\there"));
	CHECK(!text_ok("\xed\xa0\x80"));
}

/* C1 controls (U+0080-U+009F) are control characters too: refused by
 * text_ok, cleaned by text_clean; U+00A0 just after them is text. */
TEST(c1_controls_are_not_text)
{
	char s[32];

	CHECK(!text_ok("csi \xc2\x9b"
		       "31m"));
	CHECK(!text_ok("\xc2\x80"));
	CHECK(text_ok("nbsp \xc2\xa0"));
	CHECK_EQ_UINT(text_ok_len("ab\xc2\x9f"), 2);
	CHECK_EQ_UINT(text_ok_len("ab\x7f"), 2);
	CHECK_EQ_UINT(text_ok_len("ab\xff"), 2);
	CHECK_EQ_UINT(text_ok_len("\xe4\xbb\x93"), 3);
	snprintf(s, sizeof s,
	    "a\xc2\x9b"
	    "31m \xc2\xa0z");
	text_clean(s);
	CHECK_STR(s, "a??31m \xc2\xa0z");
}
