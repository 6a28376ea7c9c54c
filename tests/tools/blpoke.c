/*
 * blpoke: a misbehaving node, for process tests of the hub's input checks.
 *
 *   blpoke DIR CASE
 *
 * Connects to the hub configured in node directory DIR with that node's
 * real CURVE keys, sends one crafted message (after a valid HELLO where the
 * case needs one) and prints the hub's answer as one line: "ERROR 403 ..."
 * or the message type. Exits 0 when an answer came, 1 when none did.
 * CASE backfill=KEY asks for a backfill of KEY ("order:ID", "region:NAME",
 * "site:ID"); backfills=N:KEY asks for it N times at once, without
 * waiting, and prints how the hub answered: "BACKFILL_OPS a, ERROR 503 r,
 * other o".
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "apply.h"
#include "chain.h"
#include "conf.h"
#include "keys.h"
#include "op.h"
#include "proto.h"
#include "store.h"

static void *s_dealer;
static uint8_t *s_sign_sk;		       /* keys_sign_pair */
static char s_sign_pk[PROTO_SIGN_KEY_HEX + 1]; /* hex */

/* The batch a case pushes: its ops' bytes and where each starts. */
static cbw_t s_ops;
static size_t s_off[8], s_nops;

/* Starts the next op of the batch (its bytes follow in s_ops). */
static void
s_next_op(void)
{
	s_off[s_nops++] = s_ops.len;
}

/* The chain the hub holds of site up to seq (chain.h), from the hub's
 * database named by BL_HUB_DB, as the site itself would know it from what
 * it pushed; chain(0) for seq 0 or without one. */
static void
s_held_chain(const char *site, uint64_t seq, uint8_t out[CHAIN_BYTES])
{
	const char *path = getenv("BL_HUB_DB");
	sqlite3 *db;
	sqlite3_stmt *q;

	chain_start(site, out);
	if (seq == 0 || path == NULL ||
	    sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		return;
	if (sqlite3_prepare_v2(db,
		"SELECT chain FROM op_log WHERE origin = ?1 AND seq = ?2 "
		"UNION ALL SELECT chain FROM quarantine WHERE origin = ?1 AND "
		"seq = ?2",
		-1, &q, NULL) == SQLITE_OK) {
		sqlite3_bind_text(q, 1, site, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 2, (int64_t)seq);
		if (sqlite3_step(q) == SQLITE_ROW &&
		    sqlite3_column_bytes(q, 0) == CHAIN_BYTES)
			memcpy(out, sqlite3_column_blob(q, 0), CHAIN_BYTES);
		sqlite3_finalize(q);
	}
	sqlite3_close(db);
}

/* What WELCOME said: the hub's own site and the highest op of its own. */
static char s_hub_site[OP_SITE_MAX + 1];
static uint64_t s_hub_seq;

/* Writes the PUSH (or RELAY) of the batch, first op seq first, into w,
 * signed as site would sign it, with this node's key (spoil: one bit of
 * the signature flipped). */
static void
s_signed_batch(cbw_t *w, const char *site, uint64_t first, int spoil, int relay)
{
	uint8_t chain[CHAIN_BYTES], sig[CHAIN_SIG_BYTES];
	char hex[PROTO_SIG_HEX + 1];
	size_t i, end;

	s_held_chain(site, first - 1, chain);
	for (i = 0; i < s_nops; i++) {
		end = i + 1 < s_nops ? s_off[i + 1] : s_ops.len;
		chain_next(chain, s_ops.data + s_off[i], end - s_off[i], chain);
	}
	chain_sign(s_sign_sk, site, first + s_nops - 1, chain, sig);
	sig[0] ^= (uint8_t)(spoil != 0);
	sodium_bin2hex(hex, sizeof hex, sig, sizeof sig);
	if (relay)
		proto_relay_begin(w, s_nops, hex, first + s_nops - 1);
	else
		proto_push_begin(w, s_nops, hex);
	cbw_raw(w, s_ops.data, s_ops.len);
}

static void
s_push_batch(cbw_t *w, const char *site, uint64_t first, int spoil)
{
	s_signed_batch(w, site, first, spoil, 0);
}
static char s_inc[PROTO_INCARNATION_MAX + 1] = "B10C";

/* The incarnation of the node in dir (its node.db, opened as the node
 * opens it: a first open makes it), so that the hub takes this session
 * for that node's. */
static void
s_read_incarnation(const char *dir)
{
	char path[4096];
	store_t *st;
	err_t err;

	snprintf(path, sizeof path, "%s/node.db", dir);
	if ((st = store_open(path, STORE_NODE, 0, &apply_rules, &err)) ==
	    NULL) {
		fprintf(stderr, "blpoke: %s\n", err.msg);
		exit(1);
	}
	snprintf(s_inc, sizeof s_inc, "%s", store_incarnation(st));
	store_close(&st);
}

static int
s_send(const cbw_t *w)
{
	return zmq_send(s_dealer, w->data, w->len, 0) < 0 ? -1 : 0;
}

/* Receives one reply within 5 s and prints it; returns its type or -1. */
static int
s_reply(int print)
{
	uint8_t buf[65536];
	int n, timeout = 5000;
	proto_msg_t m;
	err_t err;

	zmq_setsockopt(s_dealer, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
	n = zmq_recv(s_dealer, buf, sizeof buf, 0);
	if (n < 0) {
		printf("no answer\n");
		return -1;
	}
	if (proto_decode(buf, (size_t)n, &m, &err)) {
		printf("undecodable answer: %s\n", err.msg);
		return -1;
	}
	if (m.type == PROTO_WELCOME) {
		snprintf(s_hub_site, sizeof s_hub_site, "%s", m.site);
		s_hub_seq = m.hub_seq;
	}
	if (print) {
		if (m.type == PROTO_ERROR)
			printf("ERROR %d %s\n", m.status, m.reason);
		else
			printf("%s\n", proto_type_name(m.type));
	}
	return m.type;
}

/* Sends n BACKFILLs of key as fast as the hub answers them (8 in flight:
 * the hub queues at most 16 messages for a peer and drops what is over),
 * takes their n answers within 5 s each, of whatever size, and prints how
 * many of each kind came. 0, or 1 when an answer is missing. */
static int
s_backfills(const char *key, long n)
{
	long i, sent = 0, answered = 0, refused = 0, other = 0;
	int timeout = 5000;
	proto_msg_t m;
	zmq_msg_t msg;
	err_t err;
	cbw_t w;

	cbw_init(&w);
	proto_backfill(&w, key, 0);
	zmq_setsockopt(s_dealer, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
	for (i = 0; i < n; i++) {
		while (sent < n && sent - i < 8 && s_send(&w) == 0)
			sent++;
		zmq_msg_init(&msg);
		if (zmq_msg_recv(&msg, s_dealer, 0) < 0) {
			zmq_msg_close(&msg);
			break;
		}
		if (proto_decode(zmq_msg_data(&msg), zmq_msg_size(&msg), &m,
			&err))
			other++;
		else if (m.type == PROTO_BACKFILL_OPS)
			answered++;
		else if (m.type == PROTO_ERROR && m.status == ERR_UNAVAILABLE)
			refused++;
		else
			other++;
		zmq_msg_close(&msg);
	}
	cbw_free(&w);
	printf("BACKFILL_OPS %ld, ERROR 503 %ld, other %ld%s\n", answered,
	    refused, other, i < n ? ", then no answer" : "");
	return i < n;
}

/* Appends a receipt of delta POKE at origin, as op origin/seq. */
static void
s_op(cbw_t *w, const char *origin, uint64_t seq, int delta)
{
	op_t op;

	memset(&op, 0, sizeof op);
	snprintf(op.origin, sizeof op.origin, "%s", origin);
	op.seq = seq;
	op.hlc = (uint64_t)1 << 40;
	snprintf(op.entity, sizeof op.entity, "stock_movement");
	snprintf(op.key, sizeof op.key, "%s-poke-%llu", origin,
	    (unsigned long long)seq);
	snprintf(op.kind, sizeof op.kind, "add");
	op.fields = json_pack("{s:s, s:s, s:i, s:s}", "site", origin, "sku",
	    "POKE", "delta", delta, "reason", "receipt");
	op_encode(&op, w, NULL);
	op_clear(&op);
}

int
main(int argc, char **argv)
{
	conf_t conf;
	keypair_t kp;
	err_t err;
	cbw_t w;
	const char *c;
	const char *site;

	if (argc != 3) {
		fprintf(stderr, "usage: blpoke DIR CASE\n");
		return 2;
	}
	c = argv[2];
	if (conf_load(argv[1], &conf, &err) ||
	    keys_load(argv[1], "node", &kp, &err)) {
		fprintf(stderr, "blpoke: %s\n", err.msg);
		return 1;
	}
	site = conf_get(&conf, "site", "?");
	s_read_incarnation(argv[1]);
	{
		uint8_t pk[CHAIN_PK_BYTES];

		if (keys_sign_pair(&kp, pk, &s_sign_sk, &err)) {
			fprintf(stderr, "blpoke: %s\n", err.msg);
			return 1;
		}
		sodium_bin2hex(s_sign_pk, sizeof s_sign_pk, pk, sizeof pk);
	}
	cbw_init(&s_ops);
	void *ctx = zmq_ctx_new();
	s_dealer = zmq_socket(ctx, ZMQ_DEALER);
	zmq_setsockopt(s_dealer, ZMQ_CURVE_SERVERKEY,
	    conf_get(&conf, "hub_key", ""), KEYS_Z85_LEN);
	zmq_setsockopt(s_dealer, ZMQ_CURVE_PUBLICKEY, kp.public_z85,
	    KEYS_Z85_LEN);
	zmq_setsockopt(s_dealer, ZMQ_CURVE_SECRETKEY, kp.secret_z85,
	    KEYS_Z85_LEN);
	zmq_connect(s_dealer, conf_get(&conf, "hub", ""));
	cbw_init(&w);

	if (strcmp(c, "garbage") == 0) {
		cbw_raw(&w, "\xff\x00garbage", 9);
	} else if (strcmp(c, "truncated") == 0) {
		proto_hello(&w, site, (uint64_t)store_schema_version(), 0, 0,
		    s_inc, s_sign_pk);
		w.len -= 2;
	} else if (strcmp(c, "huge-count") == 0) {
		cbw_raw(&w, "\x9b\x00\x00\x00\x10\x00\x00\x00\x00", 9);
	} else if (strcmp(c, "old-node") == 0) {
		proto_hello(&w, site, (uint64_t)store_schema_version() - 1, 0,
		    0, s_inc, s_sign_pk);
	} else if (strcmp(c, "other-site") == 0) {
		proto_hello(&w, "S999", (uint64_t)store_schema_version(), 0, 0,
		    s_inc, s_sign_pk);
	} else if (strcmp(c, "push-first") == 0) {
		s_next_op();
		s_op(&s_ops, site, 1, 1);
		s_push_batch(&w, site, 1, 0);
	} else {
		/* Cases after a valid HELLO. */
		proto_hello(&w, site, (uint64_t)store_schema_version(), 0, 0,
		    s_inc, s_sign_pk);
		s_send(&w);
		if (s_reply(0) != PROTO_WELCOME) {
			printf("no WELCOME\n");
			return 1;
		}
		if (strcmp(c, "relay-forged") == 0) {
			/* A product as if head office had written it next,
			 * given back to the hub as its own: signed with this
			 * node's key, not the hub's. */
			op_t op;

			memset(&op, 0, sizeof op);
			snprintf(op.origin, sizeof op.origin, "%s", s_hub_site);
			op.seq = s_hub_seq + 1;
			op.hlc = (uint64_t)1 << 40;
			snprintf(op.entity, sizeof op.entity, "product");
			snprintf(op.key, sizeof op.key, "FORGED");
			snprintf(op.kind, sizeof op.kind, "set");
			op.fields = json_pack("{s:s}", "name", "Forged");
			s_next_op();
			op_encode(&op, &s_ops, NULL);
			op_clear(&op);
			s_signed_batch(&w, s_hub_site, s_hub_seq + 1, 0, 1);
		} else if (strcmp(c, "digest-other") == 0) {
			/* Another site's ops are not ours to compare. */
			proto_digest(&w, "S001", 1, 10, 10, "");
		} else if (strcmp(c, "fetch-other") == 0) {
			proto_fetch(&w, "S001", 1);
		} else if (strncmp(c, "backfills=", 10) == 0 &&
		    strchr(c, ':') != NULL) {
			int rc = s_backfills(strchr(c, ':') + 1,
			    strtol(c + 10, NULL, 10));

			cbw_free(&w);
			keys_free(&kp);
			zmq_close(s_dealer);
			zmq_ctx_term(ctx);
			return rc;
		} else if (strncmp(c, "backfill=", 9) == 0) {
			/* The ops of an order or a region this site may
			 * not see. */
			proto_backfill(&w, c + 9, 0);
		} else if (strcmp(c, "relay-other") == 0) {
			/* Another site's op given back as the hub's own. */
			s_next_op();
			s_op(&s_ops, "S999", 1, 1);
			s_signed_batch(&w, "S999", 1, 0, 1);
		} else if (strcmp(c, "forged-origin") == 0) {
			s_next_op();
			s_op(&s_ops, "S999", 1, 1);
			s_push_batch(&w, "S999", 1, 0);
		} else if (strcmp(c, "replay") == 0) {
			/* The same batch twice, as a retry after a lost ack
			 * would: acknowledged twice, held once. (Seq 1 is
			 * taken by the far-future case, which runs first.) */
			s_next_op();
			s_op(&s_ops, site, 2, 1);
			s_next_op();
			s_op(&s_ops, site, 3, 1);
			s_push_batch(&w, site, 2, 0);
			s_send(&w);
			if (s_reply(0) != PROTO_PUSH_ACK) {
				printf("no PUSH_ACK\n");
				return 1;
			}
		} else if (strcmp(c, "rewrite") == 0) {
			/* Another op under seq 2, held since the replay case:
			 * what a restored or copied data folder, or a forger,
			 * would send. */
			s_next_op();
			s_op(&s_ops, site, 2, 9);
			s_push_batch(&w, site, 2, 0);
		} else if (strcmp(c, "next") == 0 ||
		    strcmp(c, "bad-signature") == 0) {
			/* Seq 4 honestly signed, or with a signature that
			 * does not match. */
			s_next_op();
			s_op(&s_ops, site, 4, 1);
			s_push_batch(&w, site, 4, strcmp(c, "next") != 0);
		} else if (strcmp(c, "stall") == 0) {
			/* A reader that asks for everything and never reads:
			 * what it pins in the hub's memory must stay bounded.
			 * Prints PULLED and holds the connection 20 s. */
			proto_pull(&w, 0, 1000, 0);
			s_send(&w);
			printf("PULLED\n");
			fflush(stdout);
			sleep(20);
			cbw_free(&w);
			return 0;
		} else if (strcmp(c, "gap") == 0) {
			s_next_op();
			s_op(&s_ops, site, 1000, 1);
			s_push_batch(&w, site, 1000, 0);
		} else if (strcmp(c, "bad-op") == 0) {
			s_next_op();
			cbw_raw(&s_ops, "\x83\x01\x02\x03", 4);
			s_push_batch(&w, site, 1, 0);
		} else if (strcmp(c, "far-future") == 0) {
			op_t op;

			memset(&op, 0, sizeof op);
			snprintf(op.origin, sizeof op.origin, "%s", site);
			op.seq = 1;
			op.hlc = hlc_pack(hlc_wall_ms() + 3600 * 1000, 0);
			/* A name change: a last-writer-wins claim, which
			 * waits for its stamp (a sale would not). */
			snprintf(op.entity, sizeof op.entity, "customer");
			snprintf(op.key, sizeof op.key, "FUTURE-1");
			snprintf(op.kind, sizeof op.kind, "update");
			op.fields = json_pack("{s:{s:s}}", "set", "name",
			    "Future");
			s_next_op();
			op_encode(&op, &s_ops, NULL);
			op_clear(&op);
			s_push_batch(&w, site, 1, 0);
		} else if (strcmp(c, "big-order") == 0) {
			/* An order whose every line is within the limits
			 * (qty 10^6, unit price 10^12) and whose total,
			 * 5 x 10^18, fits in int64 but is over the limit of
			 * an order (sync/domain/money.h): what an old or a
			 * forged node may send. Two such orders overflowed the
			 * hub's sales report. Seq 1: a site that pushed
			 * nothing yet. */
			op_t op;
			json_t *lines = json_array();

			memset(&op, 0, sizeof op);
			snprintf(op.origin, sizeof op.origin, "%s", site);
			op.seq = 1;
			op.hlc = hlc_pack(hlc_wall_ms(), 0);
			snprintf(op.entity, sizeof op.entity, "order");
			snprintf(op.key, sizeof op.key, "BIG-%s", site);
			snprintf(op.kind, sizeof op.kind, "create");
			for (int i = 0; i < 5; i++)
				json_array_append_new(lines,
				    json_pack("{s:s, s:I, s:I}", "sku", "BOX",
					"qty", (json_int_t)1000000,
					"unit_price",
					(json_int_t)1000000000000));
			op.fields = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}",
			    "site", site, "channel", "store", "currency", "CNY",
			    "fulfil_site", site, "status", "confirmed", "lines",
			    lines);
			s_next_op();
			op_encode(&op, &s_ops, NULL);
			op_clear(&op);
			s_push_batch(&w, site, 1, 0);
		} else {
			fprintf(stderr, "blpoke: unknown case %s\n", c);
			return 2;
		}
	}
	s_send(&w);
	int rc = s_reply(1) < 0;
	cbw_free(&w);
	keys_free(&kp);
	zmq_close(s_dealer);
	zmq_ctx_term(ctx);
	return rc;
}
