/*
 * relay: what this node gives back to a hub restored from a backup (proto.h,
 * RELAY): the hub's own ops it lost, with the hub's signature that proves
 * it wrote them.
 *
 * The hub signs its own chain as it writes, and each OPS batch carries its
 * latest signature (relay_keep_sig keeps it, in the batch's transaction).
 * relay_next reads the hub's ops this node holds above what the hub still
 * has, in seq order with no gap, and ends the batch at the highest one the
 * hub signed: the hub recomputes its chain over them and checks the
 * signature before it takes any, so a node can give back only what the
 * hub wrote. Ops this node never received (not visible to it) or dropped
 * (retain.c) end the run; another node gives those.
 */
#include <sodium.h>
#include <string.h>

#include "chain.h"
#include "node.h"
#include "proto.h"

int
relay_keep_sig(store_t *st, uint64_t seq, const char *hex, err_t *err)
{
	uint8_t sig[CHAIN_SIG_BYTES];
	sqlite3_stmt *q;

	if (sodium_hex2bin(sig, sizeof sig, hex, strlen(hex), NULL, NULL,
		NULL) != 0)
		return err_set(err, ERR_BAD_REQUEST,
		    "keep the hub's signature at seq %llu: not %d hex digits",
		    (unsigned long long)seq, PROTO_SIG_HEX);
	q = store_stmt(st,
	    "INSERT OR IGNORE INTO hub_sigs(seq, sig) VALUES (?, ?)");
	sqlite3_bind_int64(q, 1, (int64_t)seq);
	sqlite3_bind_blob(q, 2, sig, sizeof sig, SQLITE_TRANSIENT);
	return store_step(st, q, "keep the hub's signature", err);
}

int
relay_seen(store_t *st, const char *hub, uint64_t *seen, err_t *err)
{
	sqlite3_stmt *q = store_stmt(st,
	    "SELECT max(m) FROM (SELECT max(seq) AS m FROM op_log WHERE "
	    "origin = ?1 UNION ALL SELECT max(seq) FROM op_seen WHERE "
	    "origin = ?1 UNION ALL SELECT max(seq) FROM quarantine WHERE "
	    "origin = ?1)");

	sqlite3_bind_text(q, 1, hub, -1, SQLITE_STATIC);
	*seen = (uint64_t)store_query_int(st, q, 0);
	if (store_read_error(st, err))
		return err_prefix(err, "the hub's ops seen here");
	return 0;
}

int
relay_next(store_t *st, const char *hub, uint64_t from, cbw_t *w,
    uint64_t *last, size_t *n, err_t *err)
{
	sqlite3_stmt *q = store_stmt(st,
	    "SELECT o.seq, o.body, s.sig FROM op_log o LEFT JOIN hub_sigs s "
	    "ON s.seq = o.seq WHERE o.origin = ? AND o.seq > ? "
	    "ORDER BY o.seq LIMIT ?");
	char sig[PROTO_SIG_HEX + 1] = "";
	size_t count = 0, len = 0;
	uint64_t expect = from + 1;
	cbw_t ops;
	int rc;

	*n = 0;
	cbw_init(&ops);
	sqlite3_bind_text(q, 1, hub, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, (int64_t)from);
	sqlite3_bind_int(q, 3, PROTO_MAX_BATCH);
	while (store_row(st, q)) {
		if ((uint64_t)sqlite3_column_int64(q, 0) != expect)
			break; /* a gap: not ours to give past it */
		cbw_raw(&ops, sqlite3_column_blob(q, 1),
		    (size_t)sqlite3_column_bytes(q, 1));
		count++;
		if (sqlite3_column_bytes(q, 2) == CHAIN_SIG_BYTES) {
			sodium_bin2hex(sig, sizeof sig,
			    sqlite3_column_blob(q, 2), CHAIN_SIG_BYTES);
			*n = count;
			*last = expect;
			len = ops.len;
			if (len >= PROTO_BATCH_BYTES)
				break;
		}
		if (ops.len >= PROTO_MAX_MSG / 2)
			break;
		expect++;
	}
	sqlite3_reset(q);
	rc = store_read_error(st, err);
	if (rc == 0 && *n > 0) {
		uint64_t seen = 0;

		if ((rc = relay_seen(st, hub, &seen, err)) != 0)
			goto out;
		proto_relay_begin(w, *n, sig, seen);
		cbw_raw(w, ops.data, len);
	}
out:
	cbw_free(&ops);
	if (rc)
		return err_prefix(err, "relay the hub's ops above %llu",
		    (unsigned long long)from);
	return *n > 0;
}
