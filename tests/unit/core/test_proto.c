/*
 * test_proto: protocol messages. PING carries the node's disk and decodes
 * back to the same figures; a PING of protocol 1 (no disk) is refused with
 * an exact reason; HELLO carries the data folder's incarnation, and a
 * HELLO of protocol 2 (without one) still decodes so that its sender can
 * be told to upgrade; PUSH carries its batch's signature, checked for
 * shape; WELCOME, OPS and RELAY carry what a restored hub needs to get
 * its own ops back (the hub's seq, whether it is recovering, its
 * signatures); DIGEST and FETCH carry anti-entropy; BYE ends a session;
 * texts too long for the wire are cut whole characters at a time, so the
 * receiver never sees broken UTF-8.
 */
#include <string.h>

#include "harness.h"
#include "proto.h"

TEST(ping_carries_the_disk)
{
	proto_disk_t disk = { 2813952, 16777216, 83735572480ull,
		"checkpoint /srv/bl/node.db: WAL 5120 frames" };
	proto_msg_t m;
	cbw_t w;
	err_t err;

	cbw_init(&w);
	proto_ping(&w, 1796051274186ull, &disk);
	REQUIRE_EQ_INT(proto_decode(w.data, w.len, &m, &err), 0);
	CHECK_EQ_INT(m.type, PROTO_PING);
	CHECK_EQ_UINT(m.ms, 1796051274186ull);
	CHECK_EQ_UINT(m.disk.db_bytes, 2813952);
	CHECK_EQ_UINT(m.disk.wal_bytes, 16777216);
	CHECK_EQ_UINT(m.disk.free_bytes, 83735572480ull);
	CHECK_STR(m.disk.problem,
	    "checkpoint /srv/bl/node.db: WAL 5120 frames");
	cbw_free(&w);
}

TEST(a_ping_of_protocol_1_is_refused_with_its_reason)
{
	proto_msg_t m;
	cbw_t w;
	err_t err;

	cbw_init(&w);
	cbw_array(&w, 2);
	cbw_uint(&w, PROTO_PING);
	cbw_uint(&w, 1796051274186ull);
	CHECK_EQ_INT(proto_decode(w.data, w.len, &m, &err), -1);
	CHECK_EQ_INT(err.code, ERR_BAD_REQUEST);
	CHECK_STR(err.msg, "proto: PING with 2 elements, expected 6");
	cbw_free(&w);
}

/* 64 lower-case hex digits: a signing key. */
#define KEY64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

TEST(hello_carries_the_incarnation)
{
	proto_msg_t m;
	cbw_t w;
	err_t err;

	cbw_init(&w);
	proto_hello(&w, "S001", 12, 40, 7000, "0A1B2C3D4E5F6071", KEY64);
	REQUIRE_EQ_INT(proto_decode(w.data, w.len, &m, &err), 0);
	CHECK_EQ_INT(m.type, PROTO_HELLO);
	CHECK_STR(m.site, "S001");
	CHECK_EQ_UINT(m.version, PROTO_VERSION);
	CHECK_EQ_UINT(m.seq, 40);
	CHECK_EQ_UINT(m.cursor, 7000);
	CHECK_STR(m.incarnation, "0A1B2C3D4E5F6071");
	CHECK_STR(m.sign_key, KEY64);
	/* A signing key that is not 64 lower-case hex digits: refused. */
	proto_hello(&w, "S001", 12, 40, 7000, "0A1B", "abc");
	CHECK_EQ_INT(proto_decode(w.data, w.len, &m, &err), -1);
	CHECK_STR(err.msg, "proto: HELLO: signing key is not 64 hex digits");
	/* Not upper-case hex digits, or none: refused. */
	proto_hello(&w, "S001", 12, 40, 7000, "0a1b", KEY64);
	CHECK_EQ_INT(proto_decode(w.data, w.len, &m, &err), -1);
	CHECK_STR(err.msg,
	    "proto: HELLO: incarnation is not 1 to 32 hex digits");
	proto_hello(&w, "S001", 12, 40, 7000, "", KEY64);
	CHECK_EQ_INT(proto_decode(w.data, w.len, &m, &err), -1);
	/* Protocol 2: six elements, no incarnation. */
	cbw_reset(&w);
	cbw_array(&w, 6);
	cbw_uint(&w, PROTO_HELLO);
	cbw_str(&w, "S001");
	cbw_uint(&w, 2);
	cbw_uint(&w, 12);
	cbw_uint(&w, 40);
	cbw_uint(&w, 7000);
	REQUIRE_EQ_INT(proto_decode(w.data, w.len, &m, &err), 0);
	CHECK_EQ_UINT(m.version, 2);
	CHECK_STR(m.incarnation, "");
	cbw_free(&w);
}

TEST(push_carries_its_signature)
{
	proto_msg_t m;
	cbw_t w;
	err_t err;

	cbw_init(&w);
	proto_push_begin(&w, 0, KEY64 KEY64);
	REQUIRE_EQ_INT(proto_decode(w.data, w.len, &m, &err), 0);
	CHECK_EQ_INT(m.type, PROTO_PUSH);
	CHECK_STR(m.sig, KEY64 KEY64);
	CHECK_EQ_UINT(m.nops, 0);
	/* Not 128 lower-case hex digits: refused. */
	proto_push_begin(&w, 0, KEY64);
	CHECK_EQ_INT(proto_decode(w.data, w.len, &m, &err), -1);
	CHECK_STR(err.msg, "proto: PUSH: signature is not 128 hex digits");
	/* BYE has nothing more. */
	proto_bye(&w);
	REQUIRE_EQ_INT(proto_decode(w.data, w.len, &m, &err), 0);
	CHECK_EQ_INT(m.type, PROTO_BYE);
	CHECK_STR(proto_type_name(PROTO_BYE), "BYE");
	cbw_free(&w);
}

TEST(a_restored_hub_gets_its_own_ops_back)
{
	proto_msg_t m;
	cbw_t w;
	err_t err;

	cbw_init(&w);
	proto_welcome(&w, "HQ", 6, 900, 41, 1, "east");
	REQUIRE_EQ_INT(proto_decode(w.data, w.len, &m, &err), 0);
	CHECK_STR(m.site, "HQ");
	CHECK_STR(m.region, "east");
	CHECK_EQ_UINT(m.seq, 6);
	CHECK_EQ_UINT(m.head, 900);
	CHECK_EQ_UINT(m.hub_seq, 41);
	CHECK_EQ_INT(m.recovering, 1);
	/* recovering is a flag. */
	cbw_reset(&w);
	cbw_array(&w, 7);
	cbw_uint(&w, PROTO_WELCOME);
	cbw_str(&w, "HQ");
	cbw_uint(&w, 6);
	cbw_uint(&w, 900);
	cbw_uint(&w, 41);
	cbw_uint(&w, 2);
	cbw_str(&w, "east");
	CHECK_EQ_INT(proto_decode(w.data, w.len, &m, &err), -1);
	CHECK_STR(err.msg, "proto: WELCOME: recovering is 2, not 0 or 1");
	/* OPS: the hub's latest signature of its own chain, or none. */
	proto_ops_begin(&w, 12, 13, 900, 40, KEY64 KEY64, 0);
	REQUIRE_EQ_INT(proto_decode(w.data, w.len, &m, &err), 0);
	CHECK_EQ_UINT(m.sig_seq, 40);
	CHECK_STR(m.sig, KEY64 KEY64);
	proto_ops_begin(&w, 12, 13, 900, 0, "", 0);
	REQUIRE_EQ_INT(proto_decode(w.data, w.len, &m, &err), 0);
	CHECK_EQ_UINT(m.sig_seq, 0);
	CHECK_STR(m.sig, "");
	proto_ops_begin(&w, 12, 13, 900, 40, "", 0);
	CHECK_EQ_INT(proto_decode(w.data, w.len, &m, &err), -1);
	CHECK_STR(err.msg,
	    "proto: OPS: a signature needs its seq and a seq its signature");
	proto_ops_begin(&w, 12, 13, 900, 40, KEY64, 0);
	CHECK_EQ_INT(proto_decode(w.data, w.len, &m, &err), -1);
	CHECK_STR(err.msg, "proto: OPS: signature is not 128 hex digits");
	/* RELAY is shaped as PUSH; RELAY_ACK as PUSH_ACK. */
	proto_relay_begin(&w, 0, KEY64 KEY64, 57);
	REQUIRE_EQ_INT(proto_decode(w.data, w.len, &m, &err), 0);
	CHECK_EQ_INT(m.type, PROTO_RELAY);
	CHECK_EQ_UINT(m.hub_seq, 57); /* the hub's own ops seen */
	CHECK_STR(proto_type_name(PROTO_RELAY), "RELAY");
	proto_relay_begin(&w, 0, "x", 57);
	CHECK_EQ_INT(proto_decode(w.data, w.len, &m, &err), -1);
	CHECK_STR(err.msg, "proto: RELAY: signature is not 128 hex digits");
	proto_relay_ack(&w, 41, 1);
	REQUIRE_EQ_INT(proto_decode(w.data, w.len, &m, &err), 0);
	CHECK_EQ_INT(m.type, PROTO_RELAY_ACK);
	CHECK_EQ_UINT(m.seq, 41);
	CHECK_EQ_INT(m.recovering, 1);
	cbw_free(&w);
}

TEST(digest_and_fetch_compare_a_sites_own_ops)
{
	proto_msg_t m;
	cbw_t w;
	err_t err;

	cbw_init(&w);
	proto_digest(&w, "S001", 1, 900, 899, KEY64);
	REQUIRE_EQ_INT(proto_decode(w.data, w.len, &m, &err), 0);
	CHECK_EQ_INT(m.type, PROTO_DIGEST);
	CHECK_STR(m.site, "S001");
	CHECK_EQ_UINT(m.lo, 1);
	CHECK_EQ_UINT(m.hi, 900);
	CHECK_EQ_UINT(m.count, 899);
	CHECK_STR(m.chain, KEY64);
	proto_digest(&w, "S001", 5, 5, 0, "");
	REQUIRE_EQ_INT(proto_decode(w.data, w.len, &m, &err), 0);
	CHECK_STR(m.chain, "");
	/* More ops than seqs, an empty range, seq 0, a short chain. */
	proto_digest(&w, "S001", 5, 6, 3, "");
	CHECK_EQ_INT(proto_decode(w.data, w.len, &m, &err), -1);
	CHECK_STR(err.msg, "proto: DIGEST: 3 ops in seqs 5-6");
	proto_digest(&w, "S001", 7, 6, 0, "");
	CHECK_EQ_INT(proto_decode(w.data, w.len, &m, &err), -1);
	CHECK_STR(err.msg, "proto: DIGEST: 0 ops in seqs 7-6");
	proto_digest(&w, "S001", 0, 6, 0, "");
	CHECK_EQ_INT(proto_decode(w.data, w.len, &m, &err), -1);
	CHECK_STR(err.msg, "proto: DIGEST: 0 ops in seqs 0-6");
	proto_digest(&w, "S001", 1, 6, 6, "abc");
	CHECK_EQ_INT(proto_decode(w.data, w.len, &m, &err), -1);
	CHECK_STR(err.msg, "proto: DIGEST: chain is not 64 hex digits");
	proto_fetch(&w, "S001", 42);
	REQUIRE_EQ_INT(proto_decode(w.data, w.len, &m, &err), 0);
	CHECK_EQ_INT(m.type, PROTO_FETCH);
	CHECK_EQ_UINT(m.lo, 42);
	CHECK_STR(proto_type_name(PROTO_FETCH), "FETCH");
	cbw_free(&w);
}

TEST(backfill_asks_by_key_and_is_answered_in_batches)
{
	proto_msg_t m;
	cbw_t w;
	err_t err;

	cbw_init(&w);
	proto_backfill(&w, "order:S001-000042", 17);
	REQUIRE_EQ_INT(proto_decode(w.data, w.len, &m, &err), 0);
	CHECK_EQ_INT(m.type, PROTO_BACKFILL);
	CHECK_STR(m.key, "order:S001-000042");
	CHECK_EQ_UINT(m.cursor, 17);
	CHECK_STR(proto_type_name(PROTO_BACKFILL), "BACKFILL");
	proto_backfill_ops_begin(&w, "region:east", 17, 2400, 1, 0);
	REQUIRE_EQ_INT(proto_decode(w.data, w.len, &m, &err), 0);
	CHECK_EQ_INT(m.type, PROTO_BACKFILL_OPS);
	CHECK_STR(m.key, "region:east");
	CHECK_EQ_UINT(m.cursor_from, 17);
	CHECK_EQ_UINT(m.cursor, 2400);
	CHECK_EQ_INT(m.done, 1);
	CHECK_EQ_UINT(m.nops, 0);
	CHECK_STR(proto_type_name(PROTO_BACKFILL_OPS), "BACKFILL_OPS");
	proto_backfill(&w, "site:S2", 9);
	REQUIRE_EQ_INT(proto_decode(w.data, w.len, &m, &err), 0);
	CHECK_STR(m.key, "site:S2");
	CHECK_EQ_UINT(m.cursor, 9);
	/* A key of another kind, an empty name, a site key that is no site
	 * id, a flag, a next before from. */
	proto_backfill(&w, "customer:C1", 0);
	CHECK_EQ_INT(proto_decode(w.data, w.len, &m, &err), -1);
	CHECK_STR(err.msg,
	    "proto: BACKFILL: key is not order:ID, region:NAME or site:ID");
	proto_backfill(&w, "region:", 0);
	CHECK_EQ_INT(proto_decode(w.data, w.len, &m, &err), -1);
	CHECK_STR(err.msg,
	    "proto: BACKFILL: key is not order:ID, region:NAME or site:ID");
	proto_backfill(&w, "site:S-1", 0);
	CHECK_EQ_INT(proto_decode(w.data, w.len, &m, &err), -1);
	CHECK_STR(err.msg,
	    "proto: BACKFILL: key is not order:ID, region:NAME or site:ID");
	proto_backfill_ops_begin(&w, "site:ABCDEFGHIJKLMNOPQ", 0, 1, 1, 0);
	CHECK_EQ_INT(proto_decode(w.data, w.len, &m, &err), -1);
	CHECK_STR(err.msg,
	    "proto: BACKFILL_OPS: key is not order:ID, region:NAME or "
	    "site:ID");
	cbw_reset(&w);
	cbw_array(&w, 6);
	cbw_uint(&w, PROTO_BACKFILL_OPS);
	cbw_str(&w, "region:east");
	cbw_uint(&w, 17);
	cbw_uint(&w, 2400);
	cbw_uint(&w, 2);
	cbw_array(&w, 0);
	CHECK_EQ_INT(proto_decode(w.data, w.len, &m, &err), -1);
	CHECK_STR(err.msg, "proto: BACKFILL_OPS: done is 2, not 0 or 1");
	proto_backfill_ops_begin(&w, "region:east", 17, 16, 0, 0);
	CHECK_EQ_INT(proto_decode(w.data, w.len, &m, &err), -1);
	CHECK_STR(err.msg, "proto: BACKFILL_OPS: next 16 before from 17");
	cbw_free(&w);
}

TEST(long_texts_are_cut_between_characters)
{
	char text[300];
	proto_disk_t disk;
	proto_msg_t m;
	cbw_t w;
	err_t err;

	/* 254 ASCII bytes then a 3-byte character: 257 bytes, over 255. */
	memset(text, 'a', 254);
	strcpy(text + 254, "\xe4\xbb\x93");
	cbw_init(&w);
	proto_error(&w, 500, text);
	REQUIRE_EQ_INT(proto_decode(w.data, w.len, &m, &err), 0);
	CHECK_EQ_INT(strlen(m.reason), 254);
	/* A problem a snprintf cut mid-character is sent without the
	 * broken end. */
	memset(&disk, 0, sizeof disk);
	memset(disk.problem, 'b', 253);
	strcpy(disk.problem + 253, "\xe4\xbb");
	proto_ping(&w, 1, &disk);
	REQUIRE_EQ_INT(proto_decode(w.data, w.len, &m, &err), 0);
	CHECK_EQ_INT(strlen(m.disk.problem), 253);
	/* Whole characters at the end stay. */
	strcpy(disk.problem + 252, "\xc3\xa9");
	proto_ping(&w, 1, &disk);
	REQUIRE_EQ_INT(proto_decode(w.data, w.len, &m, &err), 0);
	CHECK_EQ_INT(strlen(m.disk.problem), 254);
	cbw_free(&w);
}
