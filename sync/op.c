/* op: op envelope and its canonical CBOR form (see op.h). */
#include "op.h"

#include <sodium.h>
#include <string.h>

#include "text.h"

#define OP_ARITY 7

static int s_decode(cbr_t *r, op_t *op, int fields, err_t *err);

void
op_clear(op_t *op)
{
	json_decref(op->fields);
	memset(op, 0, sizeof *op);
}

int
op_encode(const op_t *op, cbw_t *w, err_t *err)
{
	cbw_array(w, OP_ARITY);
	cbw_str(w, op->origin);
	cbw_uint(w, op->seq);
	cbw_uint(w, op->hlc);
	cbw_str(w, op->entity);
	cbw_str(w, op->key);
	cbw_str(w, op->kind);
	if (op->fields == NULL) {
		cbw_map(w, 0);
		return 0;
	}
	if (!json_is_object(op->fields))
		return err_set(err, ERR_BAD_REQUEST,
		    "op: fields are not a map");
	return cbw_json(w, op->fields, err);
}

int
op_site_valid(const char *site)
{
	size_t i, n = strlen(site);

	if (n == 0 || n > OP_SITE_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		char c = site[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			(c >= '0' && c <= '9') || c == '_'))
			return 0;
	}
	return 1;
}

/* op_decode, with (fields) or without (op_decode_head) building fields. */
static int
s_decode_capped(cbr_t *r, op_t *op, int fields, err_t *err)
{
	cbr_t sub;
	int rc, capped;

	memset(op, 0, sizeof *op);
	/* Read within the op's own limit: the fields tree is built only for
	 * what may be one op, whatever the size of the message around it. */
	capped = r->len - r->pos > OP_MAX_BYTES;
	cbr_init(&sub, r->buf + r->pos,
	    capped ? OP_MAX_BYTES : r->len - r->pos);
	rc = s_decode(&sub, op, fields, err);
	if (rc == 0)
		r->pos += sub.pos;
	else if (capped && err != NULL &&
	    (strstr(err->msg, "truncated") || strstr(err->msg, "bytes left")))
		err_set(err, ERR_TOO_LARGE, "op: more than %d bytes",
		    OP_MAX_BYTES);
	return rc;
}

int
op_decode(cbr_t *r, op_t *op, err_t *err)
{
	return s_decode_capped(r, op, 1, err);
}

int
op_decode_head(cbr_t *r, op_t *op, err_t *err)
{
	return s_decode_capped(r, op, 0, err);
}

/* Reads the envelope text called name (origin, entity, key or kind) into
 * dst, at most size - 1 bytes: UTF-8 (the reader checks that) without
 * control characters (text_ok), since these end up in log lines and ERROR
 * reasons, one line each. Errors name the field and the byte, e.g.
 * "key: cbor: text at byte 10 is not UTF-8". */
static int
s_text(cbr_t *r, const char *name, char *dst, size_t size, err_t *err)
{
	size_t ok;

	if (cbr_text_copy(r, dst, size, err))
		return err_prefix(err, "%s", name);
	ok = text_ok_len(dst);
	if (dst[ok] != '\0')
		return err_set(err, ERR_BAD_REQUEST,
		    "%s: control character at byte %zu", name,
		    r->pos - strlen(dst) + ok);
	return 0;
}

static int
s_decode(cbr_t *r, op_t *op, int fields, err_t *err)
{
	size_t n, start = r->pos;

	if (cbr_array(r, &n, err))
		goto fail;
	if (n != OP_ARITY) {
		err_set(err, ERR_BAD_REQUEST,
		    "op: %zu elements at byte %zu, expected %d", n, start,
		    OP_ARITY);
		goto fail;
	}
	if (s_text(r, "origin", op->origin, sizeof op->origin, err) ||
	    cbr_uint(r, &op->seq, err) || cbr_uint(r, &op->hlc, err) ||
	    s_text(r, "entity", op->entity, sizeof op->entity, err) ||
	    s_text(r, "key", op->key, sizeof op->key, err) ||
	    s_text(r, "kind", op->kind, sizeof op->kind, err))
		goto fail_prefix;
	if (!op_site_valid(op->origin)) {
		err_set(err, ERR_BAD_REQUEST, "op: bad origin site id '%s'",
		    op->origin);
		goto fail;
	}
	if (op->seq == 0) {
		err_set(err, ERR_BAD_REQUEST, "op %s/0: seq must be positive",
		    op->origin);
		goto fail;
	}
	{
		size_t at = r->pos, m;

		/* Peek that fields is a map before building it. */
		if (cbr_map(r, &m, err))
			goto fail_prefix;
		r->pos = at;
	}
	if (fields ? cbr_json(r, &op->fields, err) : cbr_skip(r, err))
		goto fail_prefix;
	return 0;
fail_prefix:
	err_prefix(err, "op");
fail:
	op_clear(op);
	return -1;
}

void
op_hash(const uint8_t *body, size_t len, uint8_t out[OP_HASH_BYTES])
{
	crypto_generichash(out, OP_HASH_BYTES, body, len, NULL, 0);
}
