/*
 * blforge: an enrolled site gone bad, for process tests of ownership.
 *
 *   blforge DIR < OPS
 *
 * Speaks the protocol as the node whose data directory is DIR: connects
 * to its hub with the node's real CURVE keys, says HELLO, and pushes the
 * ops read from standard input, one JSON object a line,
 *
 *   {"entity": E, "key": K, "kind": KIND, "fields": {...}, "hlc": N?}
 *
 * as one batch in the site's own name (origin DIR's site, the seqs after
 * the highest the hub holds of it, each op's clock now unless "hlc" gives
 * one, a tiny one for instance), chained and signed with the node's real
 * signing key over the chain the hub holds, as the site itself would.
 * Nothing it sends is forged but what the ops say. The site's own node is
 * never run beside it: blforge is how this site writes.
 *
 * Prints one line per op, "pushed SITE/SEQ ENTITY KEY KIND", then the
 * hub's answer: "PUSH_ACK N" or "ERROR 403 ...". Exits 0 on PUSH_ACK, 1
 * otherwise, 2 on bad usage or input. The hub's database, named by
 * BL_HUB_DB, tells where the site's chain stands (read only).
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "apply.h"
#include "chain.h"
#include "conf.h"
#include "hlc.h"
#include "keys.h"
#include "op.h"
#include "proto.h"
#include "store.h"

#define MAX_OPS 64

/* The highest seq of site the hub holds (logged or quarantined) and its
 * chain there, from the hub's database at BL_HUB_DB: what the site itself
 * knows of what it pushed. -1 when the database cannot be read. */
static int
s_held(const char *site, uint64_t *seq, uint8_t chain[CHAIN_BYTES])
{
	const char *path = getenv("BL_HUB_DB");
	sqlite3 *db;
	sqlite3_stmt *q;
	int rc = -1;

	*seq = 0;
	chain_start(site, chain);
	if (path == NULL ||
	    sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_prepare_v2(db,
		"SELECT seq, chain FROM (SELECT seq, chain FROM op_log WHERE "
		"origin = ?1 UNION ALL SELECT seq, chain FROM quarantine WHERE "
		"origin = ?1) ORDER BY seq DESC LIMIT 1",
		-1, &q, NULL) == SQLITE_OK) {
		sqlite3_bind_text(q, 1, site, -1, SQLITE_STATIC);
		rc = 0;
		if (sqlite3_step(q) == SQLITE_ROW) {
			*seq = (uint64_t)sqlite3_column_int64(q, 0);
			if (sqlite3_column_bytes(q, 1) == CHAIN_BYTES)
				memcpy(chain, sqlite3_column_blob(q, 1),
				    CHAIN_BYTES);
			else
				rc = -1;
		}
		sqlite3_finalize(q);
	}
	sqlite3_close(db);
	return rc;
}

/* Receives one message within 5 s into *m (buf holds it); the type, or -1
 * after printing why none came. */
static int
s_reply(void *dealer, uint8_t *buf, size_t size, proto_msg_t *m)
{
	int n, timeout = 5000;
	err_t err;

	zmq_setsockopt(dealer, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
	n = zmq_recv(dealer, buf, size, 0);
	if (n < 0) {
		printf("no answer\n");
		return -1;
	}
	if (proto_decode(buf, (size_t)n, m, &err)) {
		printf("undecodable answer: %s\n", err.msg);
		return -1;
	}
	return m->type;
}

/* Reads the ops of stdin into ops (each its origin, seq and clock set),
 * encoded one after the other into w, off[i] where op i starts. Returns
 * how many, or -1 after printing why. */
static int
s_read_ops(const char *site, uint64_t first, cbw_t *w, size_t *off)
{
	char line[65536];
	uint64_t hlc = hlc_pack(hlc_wall_ms(), 0);
	int n = 0;

	while (fgets(line, sizeof line, stdin) != NULL) {
		json_error_t jerr;
		json_t *o;
		op_t op;

		if (line[strspn(line, " \t\r\n")] == '\0')
			continue;
		if (n == MAX_OPS) {
			fprintf(stderr, "blforge: more than %d ops\n", MAX_OPS);
			return -1;
		}
		if ((o = json_loads(line, 0, &jerr)) == NULL ||
		    !json_is_string(json_object_get(o, "entity")) ||
		    !json_is_string(json_object_get(o, "key")) ||
		    !json_is_string(json_object_get(o, "kind")) ||
		    !json_is_object(json_object_get(o, "fields"))) {
			fprintf(stderr,
			    "blforge: line %d: want {entity, key, kind, "
			    "fields, hlc?}\n",
			    n + 1);
			json_decref(o);
			return -1;
		}
		memset(&op, 0, sizeof op);
		snprintf(op.origin, sizeof op.origin, "%s", site);
		op.seq = first + (uint64_t)n;
		op.hlc = json_is_integer(json_object_get(o, "hlc"))
		    ? (uint64_t)json_integer_value(json_object_get(o, "hlc"))
		    : hlc++;
		snprintf(op.entity, sizeof op.entity, "%s",
		    json_string_value(json_object_get(o, "entity")));
		snprintf(op.key, sizeof op.key, "%s",
		    json_string_value(json_object_get(o, "key")));
		snprintf(op.kind, sizeof op.kind, "%s",
		    json_string_value(json_object_get(o, "kind")));
		op.fields = json_incref(json_object_get(o, "fields"));
		off[n] = w->len;
		if (op_encode(&op, w, NULL)) {
			fprintf(stderr, "blforge: line %d: cannot encode\n",
			    n + 1);
			op_clear(&op);
			json_decref(o);
			return -1;
		}
		printf("pushed %s/%llu %s %s %s\n", site,
		    (unsigned long long)op.seq, op.entity, op.key, op.kind);
		op_clear(&op);
		json_decref(o);
		n++;
	}
	return n;
}

int
main(int argc, char **argv)
{
	static uint8_t buf[1 << 20];
	char path[4096], inc[PROTO_INCARNATION_MAX + 1];
	char sign_pk[PROTO_SIGN_KEY_HEX + 1], sig_hex[PROTO_SIG_HEX + 1];
	uint8_t pk[CHAIN_PK_BYTES], chain[CHAIN_BYTES], sig[CHAIN_SIG_BYTES];
	uint8_t *sign_sk = NULL;
	size_t off[MAX_OPS], i, end;
	const char *site;
	proto_msg_t m;
	uint64_t held;
	keypair_t kp;
	conf_t conf;
	store_t *st;
	cbw_t ops, w;
	err_t err;
	void *ctx, *dealer;
	int n, rc = 1, linger = 1000;

	if (argc != 2) {
		fprintf(stderr, "usage: blforge DIR < OPS\n");
		return 2;
	}
	if (conf_load(argv[1], &conf, &err) ||
	    keys_load(argv[1], "node", &kp, &err) ||
	    keys_sign_pair(&kp, pk, &sign_sk, &err)) {
		fprintf(stderr, "blforge: %s\n", err.msg);
		return 1;
	}
	site = conf_get(&conf, "site", "?");
	sodium_bin2hex(sign_pk, sizeof sign_pk, pk, sizeof pk);
	/* The node's incarnation, so that the hub takes this session for
	 * that node's (its node.db, never run). */
	snprintf(path, sizeof path, "%s/node.db", argv[1]);
	if ((st = store_open(path, STORE_NODE, 0, &apply_rules, &err)) ==
	    NULL) {
		fprintf(stderr, "blforge: %s\n", err.msg);
		return 1;
	}
	snprintf(inc, sizeof inc, "%s", store_incarnation(st));
	store_close(&st);
	if (s_held(site, &held, chain)) {
		fprintf(stderr,
		    "blforge: BL_HUB_DB: cannot read the chain "
		    "the hub holds\n");
		return 2;
	}
	cbw_init(&ops);
	if ((n = s_read_ops(site, held + 1, &ops, off)) <= 0) {
		if (n == 0)
			fprintf(stderr, "blforge: no ops on stdin\n");
		cbw_free(&ops);
		return 2;
	}

	ctx = zmq_ctx_new();
	dealer = zmq_socket(ctx, ZMQ_DEALER);
	zmq_setsockopt(dealer, ZMQ_CURVE_SERVERKEY,
	    conf_get(&conf, "hub_key", ""), KEYS_Z85_LEN);
	zmq_setsockopt(dealer, ZMQ_CURVE_PUBLICKEY, kp.public_z85,
	    KEYS_Z85_LEN);
	zmq_setsockopt(dealer, ZMQ_CURVE_SECRETKEY, kp.secret_z85,
	    KEYS_Z85_LEN);
	zmq_setsockopt(dealer, ZMQ_LINGER, &linger, sizeof linger);
	zmq_connect(dealer, conf_get(&conf, "hub", ""));
	memset(&m, 0, sizeof m);
	cbw_init(&w);
	proto_hello(&w, site, (uint64_t)store_schema_version(), held, 0, inc,
	    sign_pk);
	zmq_send(dealer, w.data, w.len, 0);
	if (s_reply(dealer, buf, sizeof buf, &m) != PROTO_WELCOME) {
		if (m.type == PROTO_ERROR)
			printf("ERROR %d %s\n", m.status, m.reason);
		else
			printf("no WELCOME\n");
		goto out;
	}
	/* The batch: chained after what the hub holds, signed at its end. */
	for (i = 0; i < (size_t)n; i++) {
		end = i + 1 < (size_t)n ? off[i + 1] : ops.len;
		chain_next(chain, ops.data + off[i], end - off[i], chain);
	}
	chain_sign(sign_sk, site, held + (uint64_t)n, chain, sig);
	sodium_bin2hex(sig_hex, sizeof sig_hex, sig, sizeof sig);
	cbw_reset(&w);
	proto_push_begin(&w, (size_t)n, sig_hex);
	cbw_raw(&w, ops.data, ops.len);
	zmq_send(dealer, w.data, w.len, 0);
	/* Stream traffic may come first (OPS the hub sends unasked): wait
	 * for the answer to the push. */
	for (;;) {
		int type = s_reply(dealer, buf, sizeof buf, &m);

		if (type < 0)
			break;
		if (type == PROTO_PUSH_ACK) {
			printf("PUSH_ACK %llu\n", (unsigned long long)m.seq);
			rc = 0;
			break;
		}
		if (type == PROTO_ERROR) {
			printf("ERROR %d %s\n", m.status, m.reason);
			break;
		}
	}
	/* Goodbye, so the hub forgets this session at once. */
	cbw_reset(&w);
	proto_bye(&w);
	zmq_send(dealer, w.data, w.len, 0);
out:
	cbw_free(&w);
	cbw_free(&ops);
	keys_free(&kp);
	sodium_free(sign_sk);
	zmq_close(dealer);
	zmq_ctx_term(ctx);
	return rc;
}
