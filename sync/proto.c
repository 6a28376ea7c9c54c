/* proto: sync protocol messages (see proto.h for the grammar). */
#include "proto.h"

#include <string.h>

#include "text.h"

static const char *const s_names[] = {
	[PROTO_HELLO] = "HELLO",
	[PROTO_WELCOME] = "WELCOME",
	[PROTO_PUSH] = "PUSH",
	[PROTO_PUSH_ACK] = "PUSH_ACK",
	[PROTO_PULL] = "PULL",
	[PROTO_OPS] = "OPS",
	[PROTO_PING] = "PING",
	[PROTO_PONG] = "PONG",
	[PROTO_ERROR] = "ERROR",
	[PROTO_BYE] = "BYE",
	[PROTO_RELAY] = "RELAY",
	[PROTO_RELAY_ACK] = "RELAY_ACK",
	[PROTO_DIGEST] = "DIGEST",
	[PROTO_FETCH] = "FETCH",
	[PROTO_BACKFILL] = "BACKFILL",
	[PROTO_BACKFILL_OPS] = "BACKFILL_OPS",
};

/* Number of elements each message type has, type included. */
static const size_t s_arity[] = {
	[PROTO_HELLO] = 8,
	[PROTO_WELCOME] = 7,
	[PROTO_PUSH] = 3,
	[PROTO_PUSH_ACK] = 2,
	[PROTO_PULL] = 4,
	[PROTO_OPS] = 7,
	[PROTO_PING] = 6,
	[PROTO_PONG] = 4,
	[PROTO_ERROR] = 3,
	[PROTO_BYE] = 1,
	[PROTO_RELAY] = 4,
	[PROTO_RELAY_ACK] = 3,
	[PROTO_DIGEST] = 6,
	[PROTO_FETCH] = 3,
	[PROTO_BACKFILL] = 3,
	[PROTO_BACKFILL_OPS] = 6,
};

const char *
proto_type_name(int type)
{
	if (type < PROTO_HELLO || type > PROTO_BACKFILL_OPS)
		return "?";
	return s_names[type];
}

/* Whether s is an incarnation: 1 to PROTO_INCARNATION_MAX upper-case hex
 * digits (a HELLO of protocol 2 has none, and is refused as too old). */
static int
s_incarnation_valid(const char *s)
{
	size_t n = strspn(s, "0123456789ABCDEF");

	return s[n] == '\0' && n >= 1 && n <= PROTO_INCARNATION_MAX;
}

/* Whether s is exactly n lower-case hex digits. */
static int
s_hex_valid(const char *s, size_t n)
{
	return strlen(s) == n && strspn(s, "0123456789abcdef") == n;
}

/* Whether key is a backfill's: "order:" and 1 to OP_KEY_MAX bytes,
 * "region:" and 1 to PROTO_REGION_MAX, or "site:" and a site id. */
static int
s_key_valid(const char *key)
{
	if (strncmp(key, "order:", 6) == 0)
		return strlen(key + 6) >= 1 && strlen(key + 6) <= OP_KEY_MAX;
	if (strncmp(key, "region:", 7) == 0)
		return strlen(key + 7) >= 1 &&
		    strlen(key + 7) <= PROTO_REGION_MAX;
	if (strncmp(key, "site:", 5) == 0)
		return op_site_valid(key + 5);
	return 0;
}

static int
s_batch(cbr_t *r, proto_msg_t *msg, err_t *err)
{
	if (cbr_array(r, &msg->nops, err))
		return -1;
	if (msg->nops > PROTO_MAX_BATCH)
		return err_set(err, ERR_TOO_LARGE,
		    "proto: batch of %zu ops (max %d)", msg->nops,
		    PROTO_MAX_BATCH);
	msg->ops_left = msg->nops;
	return 0;
}

int
proto_decode(const uint8_t *buf, size_t len, proto_msg_t *msg, err_t *err)
{
	cbr_t *r = &msg->reader;
	size_t n;
	uint64_t type, status, recovering, restart, done = 0;
	int rc = 0;

	memset(msg, 0, sizeof *msg);
	if (len > PROTO_MAX_MSG)
		return err_set(err, ERR_TOO_LARGE,
		    "proto: message of %zu bytes (max %d)", len, PROTO_MAX_MSG);
	cbr_init(r, buf, len);
	if (cbr_array(r, &n, err))
		return err_prefix(err, "proto");
	if (n == 0)
		return err_set(err, ERR_BAD_REQUEST, "proto: empty message");
	if (cbr_uint(r, &type, err))
		return err_prefix(err, "proto: message type");
	if (type < PROTO_HELLO || type > PROTO_BACKFILL_OPS)
		return err_set(err, ERR_BAD_REQUEST,
		    "proto: unknown message type %llu",
		    (unsigned long long)type);
	msg->type = (proto_type_t)type;
	/* A HELLO of protocol 2 (6 elements) still decodes, so that its
	 * sender is told which side to upgrade. */
	if (n != s_arity[type] && !(type == PROTO_HELLO && n == 6))
		return err_set(err, ERR_BAD_REQUEST,
		    "proto: %s with %zu elements, expected %zu", s_names[type],
		    n, s_arity[type]);
	switch (msg->type) {
	case PROTO_HELLO:
		rc = cbr_text_copy(r, msg->site, sizeof msg->site, err) ||
		    cbr_uint(r, &msg->version, err) ||
		    cbr_uint(r, &msg->schema, err) ||
		    cbr_uint(r, &msg->seq, err) ||
		    cbr_uint(r, &msg->cursor, err) ||
		    (n == 8 &&
			(cbr_text_copy(r, msg->incarnation,
			     sizeof msg->incarnation, err) ||
			    cbr_text_copy(r, msg->sign_key,
				sizeof msg->sign_key, err)));
		if (rc == 0 && n == 8 && !s_incarnation_valid(msg->incarnation))
			return err_set(err, ERR_BAD_REQUEST,
			    "proto: HELLO: incarnation is not 1 to %d "
			    "hex digits",
			    PROTO_INCARNATION_MAX);
		if (rc == 0 && n == 8 &&
		    !s_hex_valid(msg->sign_key, PROTO_SIGN_KEY_HEX))
			return err_set(err, ERR_BAD_REQUEST,
			    "proto: HELLO: signing key is not %d hex digits",
			    PROTO_SIGN_KEY_HEX);
		break;
	case PROTO_WELCOME:
		rc = cbr_text_copy(r, msg->site, sizeof msg->site, err) ||
		    cbr_uint(r, &msg->seq, err) ||
		    cbr_uint(r, &msg->head, err) ||
		    cbr_uint(r, &msg->hub_seq, err) ||
		    cbr_uint(r, &recovering, err) ||
		    cbr_text_copy(r, msg->region, sizeof msg->region, err);
		if (rc == 0 && recovering > 1)
			return err_set(err, ERR_BAD_REQUEST,
			    "proto: WELCOME: recovering is %llu, not 0 or 1",
			    (unsigned long long)recovering);
		msg->recovering = (int)recovering;
		break;
	case PROTO_PUSH:
	case PROTO_RELAY:
		rc = cbr_text_copy(r, msg->sig, sizeof msg->sig, err) ||
		    (type == PROTO_RELAY && cbr_uint(r, &msg->hub_seq, err)) ||
		    s_batch(r, msg, err);
		if (rc == 0 && !s_hex_valid(msg->sig, PROTO_SIG_HEX))
			return err_set(err, ERR_BAD_REQUEST,
			    "proto: %s: signature is not %d hex digits",
			    s_names[type], PROTO_SIG_HEX);
		break;
	case PROTO_PUSH_ACK: rc = cbr_uint(r, &msg->seq, err); break;
	case PROTO_RELAY_ACK:
		rc = cbr_uint(r, &msg->seq, err) ||
		    cbr_uint(r, &recovering, err);
		if (rc == 0 && recovering > 1)
			return err_set(err, ERR_BAD_REQUEST,
			    "proto: RELAY_ACK: recovering is %llu, not 0 or 1",
			    (unsigned long long)recovering);
		msg->recovering = (int)recovering;
		break;
	case PROTO_PULL:
		rc = cbr_uint(r, &msg->cursor, err) ||
		    cbr_uint(r, &msg->credit, err) ||
		    cbr_uint(r, &restart, err);
		if (rc == 0 && restart > 1)
			return err_set(err, ERR_BAD_REQUEST,
			    "proto: PULL: restart is %llu, not 0 or 1",
			    (unsigned long long)restart);
		msg->restart = (int)restart;
		break;
	case PROTO_OPS:
		rc = cbr_uint(r, &msg->cursor_from, err) ||
		    cbr_uint(r, &msg->cursor, err) ||
		    cbr_uint(r, &msg->head, err) ||
		    cbr_uint(r, &msg->sig_seq, err) ||
		    cbr_text_copy(r, msg->sig, sizeof msg->sig, err) ||
		    s_batch(r, msg, err);
		if (rc == 0 && (msg->sig_seq == 0) != (msg->sig[0] == '\0'))
			return err_set(err, ERR_BAD_REQUEST,
			    "proto: OPS: a signature needs its seq and a seq "
			    "its signature");
		if (rc == 0 && msg->sig[0] != '\0' &&
		    !s_hex_valid(msg->sig, PROTO_SIG_HEX))
			return err_set(err, ERR_BAD_REQUEST,
			    "proto: OPS: signature is not %d hex digits",
			    PROTO_SIG_HEX);
		break;
	case PROTO_PING:
		rc = cbr_uint(r, &msg->ms, err) ||
		    cbr_uint(r, &msg->disk.db_bytes, err) ||
		    cbr_uint(r, &msg->disk.wal_bytes, err) ||
		    cbr_uint(r, &msg->disk.free_bytes, err) ||
		    cbr_text_copy(r, msg->disk.problem,
			sizeof msg->disk.problem, err);
		break;
	case PROTO_PONG:
		rc = cbr_uint(r, &msg->ms, err) ||
		    cbr_uint(r, &msg->hub_ms, err) ||
		    cbr_uint(r, &msg->head, err);
		break;
	case PROTO_ERROR:
		rc = cbr_uint(r, &status, err) ||
		    cbr_text_copy(r, msg->reason, sizeof msg->reason, err);
		if (rc == 0 && (status < 100 || status > 599))
			return err_set(err, ERR_BAD_REQUEST,
			    "proto: ERROR status %llu not 3 digits",
			    (unsigned long long)status);
		msg->status = (int)status;
		break;
	case PROTO_BYE: break;
	case PROTO_DIGEST:
		rc = cbr_text_copy(r, msg->site, sizeof msg->site, err) ||
		    cbr_uint(r, &msg->lo, err) || cbr_uint(r, &msg->hi, err) ||
		    cbr_uint(r, &msg->count, err) ||
		    cbr_text_copy(r, msg->chain, sizeof msg->chain, err);
		if (rc == 0 &&
		    (msg->lo > msg->hi || msg->lo == 0 ||
			msg->count > msg->hi - msg->lo + 1))
			return err_set(err, ERR_BAD_REQUEST,
			    "proto: DIGEST: %llu ops in seqs %llu-%llu",
			    (unsigned long long)msg->count,
			    (unsigned long long)msg->lo,
			    (unsigned long long)msg->hi);
		if (rc == 0 && msg->chain[0] != '\0' &&
		    !s_hex_valid(msg->chain, PROTO_CHAIN_HEX))
			return err_set(err, ERR_BAD_REQUEST,
			    "proto: DIGEST: chain is not %d hex digits",
			    PROTO_CHAIN_HEX);
		break;
	case PROTO_FETCH:
		rc = cbr_text_copy(r, msg->site, sizeof msg->site, err) ||
		    cbr_uint(r, &msg->lo, err);
		break;
	case PROTO_BACKFILL:
	case PROTO_BACKFILL_OPS:
		rc = cbr_text_copy(r, msg->key, sizeof msg->key, err) ||
		    (type == PROTO_BACKFILL_OPS &&
			(cbr_uint(r, &msg->cursor_from, err) ||
			    cbr_uint(r, &msg->cursor, err) ||
			    cbr_uint(r, &done, err) || s_batch(r, msg, err))) ||
		    (type == PROTO_BACKFILL && cbr_uint(r, &msg->cursor, err));
		if (rc == 0 && !s_key_valid(msg->key))
			return err_set(err, ERR_BAD_REQUEST,
			    "proto: %s: key is not order:ID, region:NAME or "
			    "site:ID",
			    s_names[type]);
		if (rc == 0 && done > 1)
			return err_set(err, ERR_BAD_REQUEST,
			    "proto: BACKFILL_OPS: done is %llu, not 0 or 1",
			    (unsigned long long)done);
		if (rc == 0 && msg->cursor < msg->cursor_from)
			return err_set(err, ERR_BAD_REQUEST,
			    "proto: BACKFILL_OPS: next %llu before from %llu",
			    (unsigned long long)msg->cursor,
			    (unsigned long long)msg->cursor_from);
		msg->done = (int)done;
		break;
	}
	if (rc)
		return err_prefix(err, "proto: %s", s_names[type]);
	/* A batch is checked to the end by proto_next_op. */
	if (msg->type != PROTO_PUSH && msg->type != PROTO_OPS &&
	    msg->type != PROTO_RELAY && msg->type != PROTO_BACKFILL_OPS &&
	    cbr_end(r, err))
		return err_prefix(err, "proto: %s", s_names[type]);
	return 0;
}

/* proto_next_op, with decode op_decode or op_decode_head. */
static int
s_next_op(proto_msg_t *msg, op_t *op, const uint8_t **body, size_t *len,
    int (*decode)(cbr_t *, op_t *, err_t *), err_t *err)
{
	cbr_t *r = &msg->reader;
	size_t start = r->pos;

	if (msg->ops_left == 0) {
		if (cbr_end(r, err))
			return err_prefix(err, "proto: %s", s_names[msg->type]);
		return 0;
	}
	if (decode(r, op, err))
		return err_prefix(err, "proto: %s op %zu", s_names[msg->type],
		    msg->nops - msg->ops_left);
	msg->ops_left--;
	*body = r->buf + start;
	*len = r->pos - start;
	return 1;
}

int
proto_next_op(proto_msg_t *msg, op_t *op, const uint8_t **body, size_t *len,
    err_t *err)
{
	return s_next_op(msg, op, body, len, op_decode, err);
}

int
proto_next_op_head(proto_msg_t *msg, op_t *op, const uint8_t **body,
    size_t *len, err_t *err)
{
	return s_next_op(msg, op, body, len, op_decode_head, err);
}

void
proto_hello(cbw_t *w, const char *site, uint64_t schema, uint64_t own_max_seq,
    uint64_t cursor, const char *incarnation, const char *sign_key)
{
	cbw_reset(w);
	cbw_array(w, 8);
	cbw_uint(w, PROTO_HELLO);
	cbw_str(w, site);
	cbw_uint(w, PROTO_VERSION);
	cbw_uint(w, schema);
	cbw_uint(w, own_max_seq);
	cbw_uint(w, cursor);
	cbw_str(w, incarnation);
	cbw_str(w, sign_key);
}

void
proto_welcome(cbw_t *w, const char *hub_site, uint64_t held_seq, uint64_t head,
    uint64_t hub_seq, int recovering, const char *region)
{
	cbw_reset(w);
	cbw_array(w, 7);
	cbw_uint(w, PROTO_WELCOME);
	cbw_str(w, hub_site);
	cbw_uint(w, held_seq);
	cbw_uint(w, head);
	cbw_uint(w, hub_seq);
	cbw_uint(w, recovering ? 1 : 0);
	cbw_str(w, region);
}

void
proto_push_begin(cbw_t *w, size_t n, const char *sig)
{
	cbw_reset(w);
	cbw_array(w, 3);
	cbw_uint(w, PROTO_PUSH);
	cbw_str(w, sig);
	cbw_array(w, n);
}

void
proto_relay_begin(cbw_t *w, size_t n, const char *sig, uint64_t seen)
{
	cbw_reset(w);
	cbw_array(w, 4);
	cbw_uint(w, PROTO_RELAY);
	cbw_str(w, sig);
	cbw_uint(w, seen);
	cbw_array(w, n);
}

void
proto_push_ack(cbw_t *w, uint64_t up_to_seq)
{
	cbw_reset(w);
	cbw_array(w, 2);
	cbw_uint(w, PROTO_PUSH_ACK);
	cbw_uint(w, up_to_seq);
}

void
proto_relay_ack(cbw_t *w, uint64_t up_to_seq, int recovering)
{
	cbw_reset(w);
	cbw_array(w, 3);
	cbw_uint(w, PROTO_RELAY_ACK);
	cbw_uint(w, up_to_seq);
	cbw_uint(w, recovering ? 1 : 0);
}

void
proto_pull(cbw_t *w, uint64_t cursor, uint64_t credit, int restart)
{
	cbw_reset(w);
	cbw_array(w, 4);
	cbw_uint(w, PROTO_PULL);
	cbw_uint(w, cursor);
	cbw_uint(w, credit);
	cbw_uint(w, restart ? 1 : 0);
}

void
proto_ops_begin(cbw_t *w, uint64_t cursor_from, uint64_t cursor_after,
    uint64_t head, uint64_t sig_seq, const char *sig, size_t n)
{
	cbw_reset(w);
	cbw_array(w, 7);
	cbw_uint(w, PROTO_OPS);
	cbw_uint(w, cursor_from);
	cbw_uint(w, cursor_after);
	cbw_uint(w, head);
	cbw_uint(w, sig_seq);
	cbw_str(w, sig);
	cbw_array(w, n);
}

/* Writes text cut to at most PROTO_REASON_MAX bytes, whole characters only
 * (the reader refuses broken UTF-8). */
static void
s_text_cut(cbw_t *w, const char *text)
{
	cbw_text(w, text, text_fit(text, PROTO_REASON_MAX));
}

void
proto_ping(cbw_t *w, uint64_t sent_ms, const proto_disk_t *disk)
{
	cbw_reset(w);
	cbw_array(w, 6);
	cbw_uint(w, PROTO_PING);
	cbw_uint(w, sent_ms);
	cbw_uint(w, disk->db_bytes);
	cbw_uint(w, disk->wal_bytes);
	cbw_uint(w, disk->free_bytes);
	s_text_cut(w, disk->problem);
}

void
proto_pong(cbw_t *w, uint64_t echoed_ms, uint64_t hub_ms, uint64_t head)
{
	cbw_reset(w);
	cbw_array(w, 4);
	cbw_uint(w, PROTO_PONG);
	cbw_uint(w, echoed_ms);
	cbw_uint(w, hub_ms);
	cbw_uint(w, head);
}

void
proto_bye(cbw_t *w)
{
	cbw_reset(w);
	cbw_array(w, 1);
	cbw_uint(w, PROTO_BYE);
}

void
proto_error(cbw_t *w, int status, const char *reason)
{
	cbw_reset(w);
	cbw_array(w, 3);
	cbw_uint(w, PROTO_ERROR);
	cbw_uint(w, (uint64_t)status);
	s_text_cut(w, reason);
}

void
proto_digest(cbw_t *w, const char *origin, uint64_t lo, uint64_t hi,
    uint64_t count, const char *chain)
{
	cbw_reset(w);
	cbw_array(w, 6);
	cbw_uint(w, PROTO_DIGEST);
	cbw_str(w, origin);
	cbw_uint(w, lo);
	cbw_uint(w, hi);
	cbw_uint(w, count);
	cbw_str(w, chain);
}

void
proto_fetch(cbw_t *w, const char *origin, uint64_t seq)
{
	cbw_reset(w);
	cbw_array(w, 3);
	cbw_uint(w, PROTO_FETCH);
	cbw_str(w, origin);
	cbw_uint(w, seq);
}

void
proto_backfill(cbw_t *w, const char *key, uint64_t after)
{
	cbw_reset(w);
	cbw_array(w, 3);
	cbw_uint(w, PROTO_BACKFILL);
	cbw_str(w, key);
	cbw_uint(w, after);
}

void
proto_backfill_ops_begin(cbw_t *w, const char *key, uint64_t from,
    uint64_t next, int done, size_t n)
{
	cbw_reset(w);
	cbw_array(w, 6);
	cbw_uint(w, PROTO_BACKFILL_OPS);
	cbw_str(w, key);
	cbw_uint(w, from);
	cbw_uint(w, next);
	cbw_uint(w, done ? 1 : 0);
	cbw_array(w, n);
}
