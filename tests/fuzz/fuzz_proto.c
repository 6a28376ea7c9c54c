/*
 * fuzz_proto: proto_decode and proto_next_op on arbitrary bytes — what the
 * hub and a node do with every message that reaches them.
 *
 * Whatever the input: no crash, leak or out-of-bounds read; a refused
 * message has a message text and a 4xx code. An accepted message must be
 * canonical: encoding what was decoded gives back exactly the input.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "fuzz.h"
#include "proto.h"

static void
s_fail(const char *what, const uint8_t *data, size_t size)
{
	size_t i;

	fprintf(stderr, "fuzz_proto: %s; input (%zu bytes):", what, size);
	for (i = 0; i < size && i < 256; i++)
		fprintf(stderr, "%s%02x", i % 32 ? " " : "\n  ", data[i]);
	fprintf(stderr, "\n");
	abort();
}

/* 64 lower-case hex digits: a signing key; two make a signature. */
#define KEY64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* Re-encodes a decoded message (batch ops appended from ops). */
static void
s_encode(const proto_msg_t *m, const cbw_t *ops, size_t nops, cbw_t *w)
{
	switch (m->type) {
	case PROTO_HELLO:
		proto_hello(w, m->site, m->schema, m->seq, m->cursor,
		    m->incarnation, m->sign_key);
		/* proto_hello writes our version; the input's may differ. */
		cbw_reset(w);
		cbw_array(w, m->incarnation[0] != '\0' ? 8 : 6);
		cbw_uint(w, PROTO_HELLO);
		cbw_str(w, m->site);
		cbw_uint(w, m->version);
		cbw_uint(w, m->schema);
		cbw_uint(w, m->seq);
		cbw_uint(w, m->cursor);
		if (m->incarnation[0] != '\0') { /* protocol 3 on */
			cbw_str(w, m->incarnation);
			cbw_str(w, m->sign_key);
		}
		break;
	case PROTO_WELCOME:
		proto_welcome(w, m->site, m->seq, m->head, m->hub_seq,
		    m->recovering, m->region);
		break;
	case PROTO_PUSH:
		proto_push_begin(w, nops, m->sig);
		cbw_raw(w, ops->data, ops->len);
		break;
	case PROTO_RELAY:
		proto_relay_begin(w, nops, m->sig, m->hub_seq);
		cbw_raw(w, ops->data, ops->len);
		break;
	case PROTO_PUSH_ACK: proto_push_ack(w, m->seq); break;
	case PROTO_RELAY_ACK: proto_relay_ack(w, m->seq, m->recovering); break;
	case PROTO_DIGEST:
		proto_digest(w, m->site, m->lo, m->hi, m->count, m->chain);
		break;
	case PROTO_FETCH: proto_fetch(w, m->site, m->lo); break;
	case PROTO_BACKFILL: proto_backfill(w, m->key, m->cursor); break;
	case PROTO_BACKFILL_OPS:
		proto_backfill_ops_begin(w, m->key, m->cursor_from, m->cursor,
		    m->done, nops);
		cbw_raw(w, ops->data, ops->len);
		break;
	case PROTO_PULL: proto_pull(w, m->cursor, m->credit, m->restart); break;
	case PROTO_OPS:
		proto_ops_begin(w, m->cursor_from, m->cursor, m->head,
		    m->sig_seq, m->sig, nops);
		cbw_raw(w, ops->data, ops->len);
		break;
	case PROTO_PING: proto_ping(w, m->ms, &m->disk); break;
	case PROTO_PONG: proto_pong(w, m->ms, m->hub_ms, m->head); break;
	case PROTO_ERROR: proto_error(w, m->status, m->reason); break;
	case PROTO_BYE: proto_bye(w); break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	proto_msg_t m;
	op_t op;
	const uint8_t *body;
	size_t len, nops = 0;
	cbw_t ops, w;
	err_t err;
	int rc;

	memset(&err, 0, sizeof err);
	if (proto_decode(data, size, &m, &err) != 0) {
		if (err.msg[0] == '\0' || err.code < 400 || err.code > 499)
			s_fail("refused without a message or a 4xx code", data,
			    size);
		return 0;
	}
	cbw_init(&ops);
	while ((rc = proto_next_op(&m, &op, &body, &len, &err)) == 1) {
		if (body < data || body + len > data + size)
			s_fail("op body outside the message", data, size);
		cbw_raw(&ops, body, len);
		nops++;
		op_clear(&op);
	}
	if (rc == 0 &&
	    (m.type == PROTO_PUSH || m.type == PROTO_OPS ||
		m.type == PROTO_BACKFILL_OPS) &&
	    nops != m.nops)
		s_fail("batch ended early", data, size);
	if (rc == 0) {
		cbw_init(&w);
		s_encode(&m, &ops, nops, &w);
		if (w.len != size || memcmp(w.data, data, size) != 0)
			s_fail("accepted message is not canonical", data, size);
		cbw_free(&w);
	} else if (err.msg[0] == '\0') {
		s_fail("bad op without a message", data, size);
	}
	cbw_free(&ops);
	return 0;
}

/* One valid message of each type to mutate. */
void
fuzz_seeds(fuzz_add_fn add)
{
	cbw_t w, opw;
	op_t op;

	cbw_init(&w);
	cbw_init(&opw);
	memset(&op, 0, sizeof op);
	snprintf(op.origin, sizeof op.origin, "S001");
	op.seq = 7;
	op.hlc = 0x18bcfe5680000ull;
	snprintf(op.entity, sizeof op.entity, "stock_movement");
	snprintf(op.key, sizeof op.key, "S001-000007");
	snprintf(op.kind, sizeof op.kind, "add");
	op.fields = json_pack("{s:s, s:s, s:i, s:s}", "site", "S001", "sku",
	    "TEA", "delta", -2, "reason", "sale");
	op_encode(&op, &opw, NULL);
	op_clear(&op);

	proto_hello(&w, "S001", 4, 7, 12, "0A1B2C3D4E5F6071", KEY64);
	add(w.data, w.len);
	proto_welcome(&w, "HQ", 6, 900, 3, 1, "east");
	add(w.data, w.len);
	proto_backfill(&w, "order:S001-000042", 0);
	add(w.data, w.len);
	proto_backfill(&w, "region:east", 901);
	add(w.data, w.len);
	proto_backfill(&w, "site:S002", 0);
	add(w.data, w.len);
	proto_backfill_ops_begin(&w, "region:east", 901, 2400, 0, 2);
	cbw_raw(&w, opw.data, opw.len);
	cbw_raw(&w, opw.data, opw.len);
	add(w.data, w.len);
	proto_backfill_ops_begin(&w, "order:S001-000042", 0, 900, 1, 0);
	add(w.data, w.len);
	proto_relay_begin(&w, 1, KEY64 KEY64, 9);
	cbw_raw(&w, opw.data, opw.len);
	add(w.data, w.len);
	proto_relay_ack(&w, 3, 1);
	add(w.data, w.len);
	proto_digest(&w, "S001", 1, 900, 899, KEY64);
	add(w.data, w.len);
	proto_fetch(&w, "S001", 42);
	add(w.data, w.len);
	proto_push_begin(&w, 2, KEY64 KEY64);
	cbw_raw(&w, opw.data, opw.len);
	cbw_raw(&w, opw.data, opw.len);
	add(w.data, w.len);
	proto_push_ack(&w, 7);
	add(w.data, w.len);
	proto_pull(&w, 12, 4, 1);
	add(w.data, w.len);
	proto_ops_begin(&w, 12, 13, 900, 3, KEY64 KEY64, 1);
	cbw_raw(&w, opw.data, opw.len);
	add(w.data, w.len);
	{
		proto_disk_t disk = { 2813952, 16777216, 83735572480ull,
			"checkpoint /srv/bl/node.db: WAL 20480 frames" };

		proto_ping(&w, 1795637577320ull, &disk);
	}
	add(w.data, w.len);
	proto_pong(&w, 1795637577320ull, 1795637577330ull, 900);
	add(w.data, w.len);
	proto_error(&w, 403, "site S001 revoked");
	add(w.data, w.len);
	cbw_free(&w);
	cbw_free(&opw);
}
