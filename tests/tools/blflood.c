/*
 * blflood: a site that floods the hub, for process tests of the hub's
 * inbox (hub/server.c: what is acknowledged is applied under any load).
 *
 *   blflood DIR NBIG BIGSIZE TRICKLE_MS TRICKLE_S
 *
 * As the site of node directory DIR, with its real CURVE and signing keys,
 * and as a site the hub holds nothing of yet (its ops start at seq 1):
 * says HELLO, pipelines NBIG PUSHes of BIGSIZE receipts each (sku FLOOD,
 * one unit each) without waiting for their PUSH_ACKs, then pushes one
 * receipt every TRICKLE_MS ms for TRICKLE_S s. With PAD=N in the
 * environment, each receipt carries 14 extra fields of N bytes (large ops).
 * Prints "big phase: A acks E errors, seq S" and "done: ..., acknowledged
 * to K" once every PUSH is acknowledged or 10 s pass without a PUSH_ACK;
 * exits 0, or 1 when DIR cannot be read.
 */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "apply.h"
#include "chain.h"
#include "conf.h"
#include "hlc.h"
#include "keys.h"
#include "op.h"
#include "proto.h"
#include "store.h"

/* The flooding site, its chain and next seq. */
typedef struct {
	const char *site;
	uint8_t chain[CHAIN_BYTES];
	uint64_t seq, hlc;
	uint8_t *sign_sk; /* sodium_malloc'd by keys_sign_pair */
	char *pad;	  /* PAD bytes of 'x', or NULL */
	int acks, errors;
	uint64_t acked; /* the highest seq a PUSH_ACK covered */
} flood_t;

/* Writes into w one PUSH of n new receipts, signed at its last. */
static int
s_batch(flood_t *f, cbw_t *w, size_t n)
{
	char sig_hex[PROTO_SIG_HEX + 1], name[16];
	uint8_t sig[CHAIN_SIG_BYTES];
	cbw_t ops;
	err_t err;
	size_t i;
	int q, rc = -1;

	cbw_init(&ops);
	for (i = 0; i < n; i++) {
		size_t start = ops.len;
		op_t op;

		memset(&op, 0, sizeof op);
		snprintf(op.origin, sizeof op.origin, "%s", f->site);
		op.seq = ++f->seq;
		op.hlc = f->hlc++;
		snprintf(op.entity, sizeof op.entity, "stock_movement");
		snprintf(op.key, sizeof op.key, "%s-fl%llu", f->site,
		    (unsigned long long)op.seq);
		snprintf(op.kind, sizeof op.kind, "add");
		op.fields = json_pack("{s:s,s:s,s:i,s:s}", "site", f->site,
		    "sku", "FLOOD", "delta", 1, "reason", "receipt");
		for (q = 0; f->pad != NULL && q < 14; q++) {
			snprintf(name, sizeof name, "n%d", q);
			json_object_set_new(op.fields, name,
			    json_string(f->pad));
		}
		if (op_encode(&op, &ops, &err)) {
			fprintf(stderr, "blflood: %s\n", err.msg);
			op_clear(&op);
			goto out;
		}
		op_clear(&op);
		chain_next(f->chain, ops.data + start, ops.len - start,
		    f->chain);
	}
	chain_sign(f->sign_sk, f->site, f->seq, f->chain, sig);
	sodium_bin2hex(sig_hex, sizeof sig_hex, sig, sizeof sig);
	proto_push_begin(w, n, sig_hex);
	cbw_raw(w, ops.data, ops.len);
	rc = 0;
out:
	cbw_free(&ops);
	return rc;
}

static uint64_t
s_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Reads what the hub answered, waiting up to wait_ms for the first. */
static void
s_drain(flood_t *f, void *dealer, int wait_ms)
{
	static uint8_t buf[1 << 23];
	proto_msg_t m;
	err_t err;
	int n;

	zmq_setsockopt(dealer, ZMQ_RCVTIMEO, &wait_ms, sizeof wait_ms);
	while ((n = zmq_recv(dealer, buf, sizeof buf, 0)) >= 0) {
		if (n <= (int)sizeof buf &&
		    proto_decode(buf, (size_t)n, &m, &err) == 0) {
			if (m.type == PROTO_PUSH_ACK) {
				f->acks++;
				if (m.seq > f->acked)
					f->acked = m.seq;
			}
			if (m.type == PROTO_ERROR) {
				f->errors++;
				printf("ERROR %d %s\n", m.status, m.reason);
			}
		}
		wait_ms = 0;
		zmq_setsockopt(dealer, ZMQ_RCVTIMEO, &wait_ms, sizeof wait_ms);
	}
}

int
main(int argc, char **argv)
{
	char path[4096], inc[PROTO_INCARNATION_MAX + 1];
	char sign_pk[PROTO_SIGN_KEY_HEX + 1];
	uint8_t pk[CHAIN_PK_BYTES];
	flood_t f;
	keypair_t kp;
	conf_t conf;
	store_t *st;
	cbw_t w;
	err_t err;
	void *ctx, *dealer;
	int i, linger = 0, nbig, bigsize, trickle_ms, trickle_s;
	uint64_t until, before;

	if (argc != 6) {
		fprintf(stderr,
		    "usage: blflood DIR NBIG BIGSIZE TRICKLE_MS "
		    "TRICKLE_S\n");
		return 2;
	}
	memset(&f, 0, sizeof f);
	nbig = atoi(argv[2]);
	bigsize = atoi(argv[3]);
	trickle_ms = atoi(argv[4]);
	trickle_s = atoi(argv[5]);
	if (getenv("PAD") != NULL && atoi(getenv("PAD")) > 0) {
		size_t padn = (size_t)atoi(getenv("PAD"));

		if ((f.pad = malloc(padn + 1)) == NULL)
			return 1;
		memset(f.pad, 'x', padn);
		f.pad[padn] = '\0';
	}
	if (sodium_init() < 0 || conf_load(argv[1], &conf, &err) ||
	    keys_load(argv[1], "node", &kp, &err) ||
	    keys_sign_pair(&kp, pk, &f.sign_sk, &err)) {
		fprintf(stderr, "blflood: %s\n", err.msg);
		return 1;
	}
	f.site = conf_get(&conf, "site", "?");
	sodium_bin2hex(sign_pk, sizeof sign_pk, pk, sizeof pk);
	snprintf(path, sizeof path, "%s/node.db", argv[1]);
	if ((st = store_open(path, STORE_NODE, 0, &apply_rules, &err)) ==
	    NULL) {
		fprintf(stderr, "blflood: %s\n", err.msg);
		return 1;
	}
	snprintf(inc, sizeof inc, "%s", store_incarnation(st));
	store_close(&st);
	chain_start(f.site, f.chain);
	f.hlc = hlc_pack(hlc_wall_ms(), 0);
	ctx = zmq_ctx_new();
	dealer = zmq_socket(ctx, ZMQ_DEALER);
	zmq_setsockopt(dealer, ZMQ_CURVE_SERVERKEY,
	    conf_get(&conf, "hub_key", ""), KEYS_Z85_LEN);
	zmq_setsockopt(dealer, ZMQ_CURVE_PUBLICKEY, kp.public_z85,
	    KEYS_Z85_LEN);
	zmq_setsockopt(dealer, ZMQ_CURVE_SECRETKEY, kp.secret_z85,
	    KEYS_Z85_LEN);
	zmq_setsockopt(dealer, ZMQ_LINGER, &linger, sizeof linger);
	if (zmq_connect(dealer, conf_get(&conf, "hub", "")) != 0) {
		fprintf(stderr, "blflood: connect: %s\n", zmq_strerror(errno));
		return 1;
	}
	cbw_init(&w);
	proto_hello(&w, f.site, (uint64_t)store_schema_version(), 0, 0, inc,
	    sign_pk);
	zmq_send(dealer, w.data, w.len, 0);
	s_drain(&f, dealer, 3000);
	for (i = 0; i < nbig; i++) {
		cbw_reset(&w);
		if (s_batch(&f, &w, (size_t)bigsize))
			return 1;
		zmq_send(dealer, w.data, w.len, 0);
	}
	s_drain(&f, dealer, 3000);
	printf("big phase: %d acks %d errors, seq %llu\n", f.acks, f.errors,
	    (unsigned long long)f.seq);
	fflush(stdout);
	until = s_now_ms() + (uint64_t)trickle_s * 1000;
	while (s_now_ms() < until) {
		cbw_reset(&w);
		if (s_batch(&f, &w, 1))
			return 1;
		zmq_send(dealer, w.data, w.len, 0);
		s_drain(&f, dealer, trickle_ms);
	}
	/* The last PUSH_ACKs, as long as each wait of 10 s brings one. */
	while (f.acked < f.seq) {
		before = f.acked;
		s_drain(&f, dealer, 10000);
		if (f.acked == before)
			break;
	}
	printf("done: %d acks %d errors, seq %llu, acknowledged to %llu\n",
	    f.acks, f.errors, (unsigned long long)f.seq,
	    (unsigned long long)f.acked);
	cbw_free(&w);
	zmq_close(dealer);
	zmq_ctx_term(ctx);
	sodium_free(f.sign_sk);
	free(f.pad);
	return 0;
}
