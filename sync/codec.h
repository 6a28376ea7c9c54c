/*
 * codec: deterministic CBOR writing and strict, bounded CBOR reading.
 *
 * Everything on the wire and in the op log is CBOR built with these calls.
 * The writer emits the deterministic encoding of RFC 8949 §4.2: shortest
 * integer and length headers, definite lengths only, map keys sorted by their
 * encoded bytes, no floating point. The reader accepts exactly that encoding
 * and nothing else, so one value has one byte string and op hashes are stable.
 *
 * The reader is a pull parser over libcbor's cbor_stream_decode: it decodes
 * one item header at a time and never allocates on the sender's say-so. A
 * declared count larger than the bytes left, a string longer than the
 * caller's limit, nesting deeper than CODEC_MAX_DEPTH, a non-minimal header
 * and trailing bytes are all refused with a message naming the byte offset.
 */
#ifndef BL_CODEC_H
#define BL_CODEC_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define CODEC_MAX_DEPTH 8   /* nesting of arrays/maps in a value */
#define CODEC_MAX_TEXT 4096 /* bytes in one text value */

/* Growable output buffer. The writer owns data; cbw_free releases it. Out of
 * memory is fatal: a replica that cannot allocate a few bytes cannot go on. */
typedef struct {
	uint8_t *data;
	size_t len;
	size_t cap;
} cbw_t;

void cbw_init(cbw_t *w);
void cbw_free(cbw_t *w);
void cbw_reset(cbw_t *w); /* len = 0, keeps the memory */
void cbw_uint(cbw_t *w, uint64_t v);
void cbw_int(cbw_t *w, int64_t v);
void cbw_text(cbw_t *w, const char *s, size_t n);
void cbw_str(cbw_t *w, const char *s); /* NUL-terminated text */
void cbw_array(cbw_t *w, size_t count);
void cbw_map(cbw_t *w, size_t count);
void cbw_bool(cbw_t *w, int v);
void cbw_null(cbw_t *w);
void cbw_raw(cbw_t *w, const void *bytes, size_t n); /* pre-encoded items */

/* Writes a JSON value deterministically: objects become maps with sorted
 * keys. Returns -1 with ERR_BAD_REQUEST for a real number, which no field of
 * ours may carry (money is integer minor units), or nesting past
 * CODEC_MAX_DEPTH. On failure w may hold a partial item. */
int cbw_json(cbw_t *w, const json_t *value, err_t *err);

/* Reader over a borrowed buffer; pos is the offset of the next item. */
typedef struct {
	const uint8_t *buf;
	size_t len;
	size_t pos;
} cbr_t;

void cbr_init(cbr_t *r, const void *buf, size_t len);

/* Each reads one item of the named type; on any failure returns -1 with
 * ERR_BAD_REQUEST and a message such as
 * "cbor: expected array at byte 0, got text". */
int cbr_array(cbr_t *r, size_t *count, err_t *err);
int cbr_map(cbr_t *r, size_t *count, err_t *err);
int cbr_uint(cbr_t *r, uint64_t *v, err_t *err);
int cbr_int(cbr_t *r, int64_t *v, err_t *err);

/* Reads a text string of at most max bytes. *s points into the buffer (not
 * NUL-terminated, borrowed for the buffer's lifetime). Embedded NULs are
 * refused so the text can safely become a C string. */
int cbr_text(cbr_t *r, const char **s, size_t *n, size_t max, err_t *err);

/* Copies a text string of at most size-1 bytes into dst, NUL-terminated. */
int cbr_text_copy(cbr_t *r, char *dst, size_t size, err_t *err);

/* Reads any value (integer, text, bool, null, array, map with text keys in
 * deterministic order) into a new JSON value owned by the caller. */
int cbr_json(cbr_t *r, json_t **out, err_t *err);

/* Skips one complete item, checking it as cbr_json would. */
int cbr_skip(cbr_t *r, err_t *err);

/* Fails unless every byte has been read. */
int cbr_end(const cbr_t *r, err_t *err);

#endif
