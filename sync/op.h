/*
 * op: the unit of replication, and its canonical CBOR form.
 *
 * Every change to replicated state is an op created at one site:
 *
 *   op = [origin, seq, hlc, entity, key, kind, fields]
 *
 * origin  text   site id that created it (e.g. "S001")
 * seq     uint   that site's log position, 1, 2, 3... never reused
 * hlc     uint   hybrid logical clock at creation (see hlc.h)
 * entity  text   what it changes ("stock_movement", "customer", ...)
 * key     text   id of the record it changes, unique across sites
 * kind    text   what it does to the record ("add", "set", ...)
 * fields  map    the facts, text keys, integer/text/bool/null/array values
 *
 * (origin, seq) identifies an op everywhere; receiving it twice is a no-op.
 * The encoding is deterministic (see codec.h), so the bytes of an op are the
 * same at every replica and can be hashed and signed.
 */
#ifndef BL_OP_H
#define BL_OP_H

#include <jansson.h>
#include <stdint.h>

#include "codec.h"
#include "err.h"

#define OP_SITE_MAX 16	   /* bytes in a site id */
#define OP_NAME_MAX 32	   /* bytes in an entity or kind name */
#define OP_KEY_MAX 64	   /* bytes in a record key */
#define OP_MAX_BYTES 65536 /* encoded size of one op */
#define OP_HASH_BYTES 32   /* op_hash: BLAKE2b-256 */

typedef struct {
	char origin[OP_SITE_MAX + 1];
	uint64_t seq;
	uint64_t hlc;
	char entity[OP_NAME_MAX + 1];
	char key[OP_KEY_MAX + 1];
	char kind[OP_NAME_MAX + 1];
	json_t *fields; /* owned JSON object; op_clear releases it */
} op_t;

/* Releases fields and zeroes the op. Accepts a zeroed op. */
void op_clear(op_t *op);

/* Appends the canonical encoding of op to w. Fails (ERR_BAD_REQUEST) on a
 * field value CBOR of ours cannot carry, e.g. a real number. */
int op_encode(const op_t *op, cbw_t *w, err_t *err);

/* Reads one op at r's position into *op (fields owned by op; release with
 * op_clear). On failure *op is left cleared and err says what was wrong,
 * prefixed "op". The op's exact bytes run from r->pos before the call to
 * r->pos after it, which is what callers store and forward. */
int op_decode(cbr_t *r, op_t *op, err_t *err);

/* As op_decode, but leaves op->fields NULL: the fields are checked as
 * op_decode checks them, to the same errors, and nothing is built. For a
 * receiver that keeps the op's bytes and decodes them in full when it
 * applies them (the hub's inbox, store.h). */
int op_decode_head(cbr_t *r, op_t *op, err_t *err);

/* Checks that a site id is 1..OP_SITE_MAX bytes of [A-Za-z0-9_]. No '-':
 * it separates a record id's site from the rest ("S001-000123"), so the
 * site that owns an id is what comes before its first '-' (own.h). */
int op_site_valid(const char *site);

/* An op's content hash, BLAKE2b-256 of its canonical bytes (body, len)
 * into out. Two ops under one (origin, seq) are the same op only when
 * their hashes are equal. */
void op_hash(const uint8_t *body, size_t len, uint8_t out[OP_HASH_BYTES]);

#endif
