/* codec: deterministic CBOR writer and strict bounded reader (see codec.h). */
#include "codec.h"

#include <assert.h>
#include <cbor.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "text.h"

/* ---- writer ---- */

void
cbw_init(cbw_t *w)
{
	memset(w, 0, sizeof *w);
}

void
cbw_free(cbw_t *w)
{
	free(w->data);
	memset(w, 0, sizeof *w);
}

void
cbw_reset(cbw_t *w)
{
	w->len = 0;
}

static void
s_reserve(cbw_t *w, size_t more)
{
	size_t cap;
	uint8_t *data;

	if (w->len + more <= w->cap)
		return;
	cap = w->cap ? w->cap : 256;
	while (cap < w->len + more)
		cap *= 2;
	data = realloc(w->data, cap);
	if (data == NULL)
		fatal("codec: out of memory growing a buffer to %zu bytes",
		    cap);
	w->data = data;
	w->cap = cap;
}

/* Every libcbor header encoder writes at most 9 bytes. */
#define HEADER_MAX 9
#define PUT_HEADER(w, call)                 \
	do {                                \
		size_t n_;                  \
		s_reserve((w), HEADER_MAX); \
		n_ = call;                  \
		assert(n_ > 0);             \
		(w)->len += n_;             \
	} while (0)

void
cbw_uint(cbw_t *w, uint64_t v)
{
	PUT_HEADER(w, cbor_encode_uint(v, w->data + w->len, HEADER_MAX));
}

void
cbw_int(cbw_t *w, int64_t v)
{
	if (v >= 0)
		cbw_uint(w, (uint64_t)v);
	else
		PUT_HEADER(w,
		    cbor_encode_negint((uint64_t)(-(v + 1)), w->data + w->len,
			HEADER_MAX));
}

void
cbw_text(cbw_t *w, const char *s, size_t n)
{
	PUT_HEADER(w,
	    cbor_encode_string_start(n, w->data + w->len, HEADER_MAX));
	cbw_raw(w, s, n);
}

void
cbw_str(cbw_t *w, const char *s)
{
	cbw_text(w, s, strlen(s));
}

void
cbw_array(cbw_t *w, size_t count)
{
	PUT_HEADER(w,
	    cbor_encode_array_start(count, w->data + w->len, HEADER_MAX));
}

void
cbw_map(cbw_t *w, size_t count)
{
	PUT_HEADER(w,
	    cbor_encode_map_start(count, w->data + w->len, HEADER_MAX));
}

void
cbw_bool(cbw_t *w, int v)
{
	PUT_HEADER(w, cbor_encode_bool(v != 0, w->data + w->len, HEADER_MAX));
}

void
cbw_null(cbw_t *w)
{
	PUT_HEADER(w, cbor_encode_null(w->data + w->len, HEADER_MAX));
}

void
cbw_raw(cbw_t *w, const void *bytes, size_t n)
{
	if (n == 0)
		return;
	s_reserve(w, n);
	memcpy(w->data + w->len, bytes, n);
	w->len += n;
}

/* Deterministic key order for text keys: shorter first, then bytewise. This
 * equals the bytewise order of the encoded keys, as RFC 8949 §4.2.1 asks,
 * because the header encodes the length and grows with it. */
static int
s_key_cmp(const char *a, size_t an, const char *b, size_t bn)
{
	if (an != bn)
		return an < bn ? -1 : 1;
	return memcmp(a, b, an);
}

static int
s_key_qsort_cmp(const void *pa, const void *pb)
{
	const char *a = *(const char *const *)pa, *b = *(const char *const *)pb;

	return s_key_cmp(a, strlen(a), b, strlen(b));
}

static int
s_write_json(cbw_t *w, const json_t *v, int depth, err_t *err)
{
	size_t i, n;
	const char **keys;
	const char *key;
	json_t *item;

	switch (json_typeof(v)) {
	case JSON_INTEGER: cbw_int(w, (int64_t)json_integer_value(v)); return 0;
	case JSON_STRING:
		cbw_text(w, json_string_value(v), json_string_length(v));
		return 0;
	case JSON_TRUE: cbw_bool(w, 1); return 0;
	case JSON_FALSE: cbw_bool(w, 0); return 0;
	case JSON_NULL: cbw_null(w); return 0;
	case JSON_REAL:
		return err_set(err, ERR_BAD_REQUEST,
		    "encode: floating-point number not allowed");
	case JSON_ARRAY:
		if (depth >= CODEC_MAX_DEPTH)
			return err_set(err, ERR_BAD_REQUEST,
			    "encode: nesting deeper than %d", CODEC_MAX_DEPTH);
		n = json_array_size(v);
		cbw_array(w, n);
		for (i = 0; i < n; i++)
			if (s_write_json(w, json_array_get(v, i), depth + 1,
				err))
				return -1;
		return 0;
	case JSON_OBJECT:
		if (depth >= CODEC_MAX_DEPTH)
			return err_set(err, ERR_BAD_REQUEST,
			    "encode: nesting deeper than %d", CODEC_MAX_DEPTH);
		n = json_object_size(v);
		keys = malloc((n ? n : 1) * sizeof *keys);
		if (keys == NULL)
			fatal("codec: out of memory");
		i = 0;
		json_object_foreach((json_t *)v, key, item)
			keys[i++] = key;
		qsort(keys, n, sizeof *keys, s_key_qsort_cmp);
		cbw_map(w, n);
		for (i = 0; i < n; i++) {
			cbw_str(w, keys[i]);
			if (s_write_json(w, json_object_get(v, keys[i]),
				depth + 1, err)) {
				free(keys);
				return -1;
			}
		}
		free(keys);
		return 0;
	}
	return err_set(err, ERR_BAD_REQUEST, "encode: unsupported JSON type");
}

int
cbw_json(cbw_t *w, const json_t *value, err_t *err)
{
	return s_write_json(w, value, 0, err);
}

/* ---- reader ---- */

typedef enum {
	ITEM_NONE,
	ITEM_UINT,
	ITEM_NEGINT,
	ITEM_BYTES,
	ITEM_TEXT,
	ITEM_ARRAY,
	ITEM_MAP,
	ITEM_TAG,
	ITEM_FLOAT,
	ITEM_BOOL,
	ITEM_NULL,
	ITEM_UNDEF,
	ITEM_INDEFINITE,
	ITEM_BREAK,
} item_type_t;

static const char *const s_type_names[] = {
	[ITEM_NONE] = "nothing",
	[ITEM_UINT] = "unsigned integer",
	[ITEM_NEGINT] = "negative integer",
	[ITEM_BYTES] = "byte string",
	[ITEM_TEXT] = "text",
	[ITEM_ARRAY] = "array",
	[ITEM_MAP] = "map",
	[ITEM_TAG] = "tag",
	[ITEM_FLOAT] = "float",
	[ITEM_BOOL] = "bool",
	[ITEM_NULL] = "null",
	[ITEM_UNDEF] = "undefined",
	[ITEM_INDEFINITE] = "indefinite-length item",
	[ITEM_BREAK] = "break",
};

/* One decoded item header, filled by the stream callbacks below. */
typedef struct {
	item_type_t type;
	uint64_t value;	    /* integer value, count, or bool */
	const uint8_t *str; /* text/bytes payload, borrowed */
	size_t str_len;
} item_t;

static void
s_cb_u8(void *c, uint8_t v)
{
	item_t *i = c;
	i->type = ITEM_UINT;
	i->value = v;
}
static void
s_cb_u16(void *c, uint16_t v)
{
	item_t *i = c;
	i->type = ITEM_UINT;
	i->value = v;
}
static void
s_cb_u32(void *c, uint32_t v)
{
	item_t *i = c;
	i->type = ITEM_UINT;
	i->value = v;
}
static void
s_cb_u64(void *c, uint64_t v)
{
	item_t *i = c;
	i->type = ITEM_UINT;
	i->value = v;
}
static void
s_cb_n8(void *c, uint8_t v)
{
	item_t *i = c;
	i->type = ITEM_NEGINT;
	i->value = v;
}
static void
s_cb_n16(void *c, uint16_t v)
{
	item_t *i = c;
	i->type = ITEM_NEGINT;
	i->value = v;
}
static void
s_cb_n32(void *c, uint32_t v)
{
	item_t *i = c;
	i->type = ITEM_NEGINT;
	i->value = v;
}
static void
s_cb_n64(void *c, uint64_t v)
{
	item_t *i = c;
	i->type = ITEM_NEGINT;
	i->value = v;
}
static void
s_cb_text(void *c, cbor_data d, size_t n)
{
	item_t *i = c;
	i->type = ITEM_TEXT;
	i->str = d;
	i->str_len = n;
	i->value = n;
}
static void
s_cb_bytes(void *c, cbor_data d, size_t n)
{
	item_t *i = c;
	i->type = ITEM_BYTES;
	i->str = d;
	i->str_len = n;
	i->value = n;
}
static void
s_cb_indef(void *c)
{
	((item_t *)c)->type = ITEM_INDEFINITE;
}
static void
s_cb_array(void *c, size_t n)
{
	item_t *i = c;
	i->type = ITEM_ARRAY;
	i->value = n;
}
static void
s_cb_map(void *c, size_t n)
{
	item_t *i = c;
	i->type = ITEM_MAP;
	i->value = n;
}
static void
s_cb_tag(void *c, uint64_t v)
{
	item_t *i = c;
	i->type = ITEM_TAG;
	i->value = v;
}
static void
s_cb_f4(void *c, float v)
{
	(void)v;
	((item_t *)c)->type = ITEM_FLOAT;
}
static void
s_cb_f8(void *c, double v)
{
	(void)v;
	((item_t *)c)->type = ITEM_FLOAT;
}
static void
s_cb_null(void *c)
{
	((item_t *)c)->type = ITEM_NULL;
}
static void
s_cb_undef(void *c)
{
	((item_t *)c)->type = ITEM_UNDEF;
}
static void
s_cb_bool(void *c, bool v)
{
	item_t *i = c;
	i->type = ITEM_BOOL;
	i->value = v;
}
static void
s_cb_break(void *c)
{
	((item_t *)c)->type = ITEM_BREAK;
}

static const struct cbor_callbacks s_callbacks = {
	.uint8 = s_cb_u8,
	.uint16 = s_cb_u16,
	.uint32 = s_cb_u32,
	.uint64 = s_cb_u64,
	.negint8 = s_cb_n8,
	.negint16 = s_cb_n16,
	.negint32 = s_cb_n32,
	.negint64 = s_cb_n64,
	.byte_string_start = s_cb_indef,
	.byte_string = s_cb_bytes,
	.string = s_cb_text,
	.string_start = s_cb_indef,
	.indef_array_start = s_cb_indef,
	.array_start = s_cb_array,
	.indef_map_start = s_cb_indef,
	.map_start = s_cb_map,
	.tag = s_cb_tag,
	.float2 = s_cb_f4,
	.float4 = s_cb_f4,
	.float8 = s_cb_f8,
	.undefined = s_cb_undef,
	.null = s_cb_null,
	.boolean = s_cb_bool,
	.indef_break = s_cb_break,
};

/* Size of the shortest header that carries argument v. */
static size_t
s_min_header(uint64_t v)
{
	if (v < 24)
		return 1;
	if (v <= 0xff)
		return 2;
	if (v <= 0xffff)
		return 3;
	if (v <= 0xffffffffu)
		return 5;
	return 9;
}

/* Decodes the next item header at r->pos into *it and advances past it (for
 * strings, past the payload too). Refuses truncation, malformed bytes,
 * indefinite lengths, non-shortest headers, and counts that cannot fit in
 * the bytes left (every element takes at least one byte). */
static int
s_next(cbr_t *r, item_t *it, err_t *err)
{
	struct cbor_decoder_result res;
	size_t at = r->pos, left = r->len - r->pos, header;

	memset(it, 0, sizeof *it);
	if (left == 0)
		return err_set(err, ERR_BAD_REQUEST,
		    "cbor: truncated at byte %zu", at);
	res = cbor_stream_decode(r->buf + at, left, &s_callbacks, it);
	if (res.status == CBOR_DECODER_NEDATA)
		return err_set(err, ERR_BAD_REQUEST,
		    "cbor: truncated at byte %zu", at);
	if (res.status != CBOR_DECODER_FINISHED || it->type == ITEM_NONE)
		return err_set(err, ERR_BAD_REQUEST,
		    "cbor: malformed at byte %zu", at);
	if (it->type == ITEM_INDEFINITE || it->type == ITEM_BREAK)
		return err_set(err, ERR_BAD_REQUEST,
		    "cbor: indefinite length at byte %zu", at);
	header = res.read;
	if (it->type == ITEM_TEXT || it->type == ITEM_BYTES)
		header -= it->str_len;
	switch (it->type) {
	case ITEM_UINT:
	case ITEM_NEGINT:
	case ITEM_TEXT:
	case ITEM_BYTES:
	case ITEM_ARRAY:
	case ITEM_MAP:
	case ITEM_TAG:
		if (header != s_min_header(it->value))
			return err_set(err, ERR_BAD_REQUEST,
			    "cbor: non-shortest encoding at byte %zu", at);
		break;
	default: break;
	}
	r->pos += res.read;
	if (it->type == ITEM_ARRAY && it->value > r->len - r->pos)
		return err_set(err, ERR_BAD_REQUEST,
		    "cbor: array of %llu items at byte %zu exceeds the %zu bytes left",
		    (unsigned long long)it->value, at, r->len - r->pos);
	if (it->type == ITEM_MAP && it->value > (r->len - r->pos) / 2)
		return err_set(err, ERR_BAD_REQUEST,
		    "cbor: map of %llu pairs at byte %zu exceeds the %zu bytes left",
		    (unsigned long long)it->value, at, r->len - r->pos);
	return 0;
}

static int
s_expect(cbr_t *r, item_t *it, item_type_t want, err_t *err)
{
	size_t at = r->pos;

	if (s_next(r, it, err))
		return -1;
	if (it->type != want) {
		r->pos = at;
		return err_set(err, ERR_BAD_REQUEST,
		    "cbor: expected %s at byte %zu, got %s", s_type_names[want],
		    at, s_type_names[it->type]);
	}
	return 0;
}

void
cbr_init(cbr_t *r, const void *buf, size_t len)
{
	r->buf = buf;
	r->len = len;
	r->pos = 0;
}

int
cbr_array(cbr_t *r, size_t *count, err_t *err)
{
	item_t it;

	if (s_expect(r, &it, ITEM_ARRAY, err))
		return -1;
	*count = (size_t)it.value;
	return 0;
}

int
cbr_map(cbr_t *r, size_t *count, err_t *err)
{
	item_t it;

	if (s_expect(r, &it, ITEM_MAP, err))
		return -1;
	*count = (size_t)it.value;
	return 0;
}

int
cbr_uint(cbr_t *r, uint64_t *v, err_t *err)
{
	item_t it;

	if (s_expect(r, &it, ITEM_UINT, err))
		return -1;
	*v = it.value;
	return 0;
}

/* The integer item it, read at byte at, into *v: -1 with r->pos back at
 * it when it is no integer or does not fit in 64 signed bits. */
static int
s_int_of(cbr_t *r, const item_t *it, size_t at, int64_t *v, err_t *err)
{
	if (it->type == ITEM_UINT && it->value <= INT64_MAX) {
		*v = (int64_t)it->value;
		return 0;
	}
	if (it->type == ITEM_NEGINT && it->value <= INT64_MAX) {
		*v = -1 - (int64_t)it->value;
		return 0;
	}
	r->pos = at;
	if (it->type == ITEM_UINT || it->type == ITEM_NEGINT)
		return err_set(err, ERR_BAD_REQUEST,
		    "cbor: integer out of range at byte %zu", at);
	return err_set(err, ERR_BAD_REQUEST,
	    "cbor: expected integer at byte %zu, got %s", at,
	    s_type_names[it->type]);
}

int
cbr_int(cbr_t *r, int64_t *v, err_t *err)
{
	item_t it;
	size_t at = r->pos;

	if (s_next(r, &it, err))
		return -1;
	return s_int_of(r, &it, at, v, err);
}

/* Whether s[0..n) is all UTF-8 (CBOR text must be). */
static int
s_utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0, k;

	while (i < n) {
		if (s[i] < 0x80) { /* ASCII, most of our texts */
			i++;
			continue;
		}
		if ((k = text_utf8_len(s + i, n - i)) == 0)
			return 0;
		i += k;
	}
	return 1;
}

/* The text item it, read at byte at: at most max bytes, no NUL, UTF-8;
 * else -1 with r->pos back at it. */
static int
s_text_ok(cbr_t *r, const item_t *it, size_t at, size_t max, err_t *err)
{
	if (it->str_len > max) {
		r->pos = at;
		return err_set(err, ERR_BAD_REQUEST,
		    "cbor: text of %zu bytes at byte %zu exceeds the limit of %zu",
		    it->str_len, at, max);
	}
	if (memchr(it->str, '\0', it->str_len) != NULL) {
		r->pos = at;
		return err_set(err, ERR_BAD_REQUEST,
		    "cbor: text with a NUL byte at byte %zu", at);
	}
	if (!s_utf8_valid(it->str, it->str_len)) {
		r->pos = at;
		return err_set(err, ERR_BAD_REQUEST,
		    "cbor: text at byte %zu is not UTF-8", at);
	}
	return 0;
}

int
cbr_text(cbr_t *r, const char **s, size_t *n, size_t max, err_t *err)
{
	item_t it;
	size_t at = r->pos;

	if (s_expect(r, &it, ITEM_TEXT, err) || s_text_ok(r, &it, at, max, err))
		return -1;
	*s = (const char *)it.str;
	*n = it.str_len;
	return 0;
}

int
cbr_text_copy(cbr_t *r, char *dst, size_t size, err_t *err)
{
	const char *s;
	size_t n;

	assert(size > 0);
	if (cbr_text(r, &s, &n, size - 1, err))
		return -1;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return 0;
}

/* Reads one value at r into *out, a new JSON value; with out NULL it only
 * checks it, as strictly, building nothing. One walk does both, so what
 * the check passes decodes. Each item is decoded once: its header says
 * all (an integer's value, a text's bytes, checked here as cbr_text
 * checks them, hence the unchecked Jansson calls). */
static int
s_read_json(cbr_t *r, json_t **out, int depth, err_t *err)
{
	item_t it;
	size_t at = r->pos, i;
	json_t *v = NULL, *elem = NULL, **elem_out = out != NULL ? &elem : NULL;
	const char *prev_key = NULL, *key = NULL;
	size_t prev_len = 0, key_len = 0;
	int64_t iv = 0;

	if (s_next(r, &it, err))
		return -1;
	switch (it.type) {
	case ITEM_UINT:
	case ITEM_NEGINT:
		if (s_int_of(r, &it, at, &iv, err))
			return -1;
		if (out != NULL)
			v = json_integer(iv);
		break;
	case ITEM_TEXT:
		if (s_text_ok(r, &it, at, CODEC_MAX_TEXT, err))
			return -1;
		if (out != NULL)
			v = json_stringn_nocheck((const char *)it.str,
			    it.str_len);
		break;
	case ITEM_BOOL:
		if (out != NULL)
			v = json_boolean(it.value);
		break;
	case ITEM_NULL:
		if (out != NULL)
			v = json_null();
		break;
	case ITEM_ARRAY:
	case ITEM_MAP:
		if (depth >= CODEC_MAX_DEPTH)
			return err_set(err, ERR_BAD_REQUEST,
			    "cbor: nesting deeper than %d at byte %zu",
			    CODEC_MAX_DEPTH, at);
		if (out != NULL &&
		    (v = it.type == ITEM_ARRAY ? json_array()
					       : json_object()) == NULL)
			fatal("codec: out of memory");
		for (i = 0; i < it.value; i++) {
			size_t kat = r->pos;

			if (it.type == ITEM_MAP) {
				if (cbr_text(r, &key, &key_len, CODEC_MAX_TEXT,
					err))
					goto fail;
				if (prev_key != NULL &&
				    s_key_cmp(prev_key, prev_len, key,
					key_len) >= 0) {
					err_set(err, ERR_BAD_REQUEST,
					    "cbor: map key at byte %zu duplicate or out of order",
					    kat);
					goto fail;
				}
				prev_key = key;
				prev_len = key_len;
			}
			if (s_read_json(r, elem_out, depth + 1, err))
				goto fail;
			if (out == NULL)
				continue;
			if ((it.type == ITEM_ARRAY
				    ? json_array_append_new(v, elem)
				    : json_object_setn_new_nocheck(v, key,
					  key_len, elem)) != 0)
				fatal("codec: out of memory");
		}
		break;
	default:
		r->pos = at;
		return err_set(err, ERR_BAD_REQUEST,
		    "cbor: unsupported %s at byte %zu", s_type_names[it.type],
		    at);
	}
	if (out != NULL) {
		if (v == NULL)
			fatal("codec: out of memory");
		*out = v;
	}
	return 0;
fail:
	json_decref(v);
	return -1;
}

int
cbr_json(cbr_t *r, json_t **out, err_t *err)
{
	return s_read_json(r, out, 0, err);
}

int
cbr_skip(cbr_t *r, err_t *err)
{
	return s_read_json(r, NULL, 0, err);
}

int
cbr_end(const cbr_t *r, err_t *err)
{
	if (r->pos != r->len)
		return err_set(err, ERR_BAD_REQUEST,
		    "cbor: %zu trailing bytes at byte %zu", r->len - r->pos,
		    r->pos);
	return 0;
}
