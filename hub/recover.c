/*
 * recover: a hub restored from a backup takes its own ops back from the
 * nodes before it writes anything of its own (proto.h, RELAY).
 *
 * Two duties, one purpose. The hub signs its own chain as it writes
 * (recover_sign, after every write and at each tick): at least every
 * PROTO_SIGN_EVERY of its ops and at its head, kept in push_sigs like a
 * site's. The stream hands the signatures to the nodes, which can then
 * prove to a restored hub which ops of its own are genuine.
 *
 * And after `bl-hub restore` (recover_mark_restored), meta recovering is
 * 1: the store holds every write of the hub's own (store_hold_writes)
 * until each enrolled, unrevoked site but the hub itself has reported
 * (recover_reported, when its empty RELAY is taken) and the hub holds
 * every seq of its own a site reported having seen, or an operator ends
 * the wait (`bl-hub recover --done` sets recovering to 0; the daemon reads
 * it at each tick). Reports are kept in recover_reports, so a hub
 * restarted meanwhile does not wait for them again. The sign key lives in
 * sodium_malloc and is wiped by recover_destroy.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "chain.h"
#include "hub.h"
#include "log.h"

struct recover {
	store_t *store;			 /* borrowed */
	uint8_t sign_pk[CHAIN_PK_BYTES]; /* the hub's, chain.h */
	uint8_t *sign_sk;		 /* sodium_malloc */
	uint64_t signed_seq;		 /* our own chain is signed to here */
	int recovering;			 /* writes held */
};

/* The sites still to report, "S001, S002" (at most a few named, then how
 * many more) into buf; the count in *n. */
static int
s_waiting(store_t *st, char *buf, size_t size, int *n, err_t *err)
{
	sqlite3_stmt *q = store_stmt(st,
	    "SELECT id FROM sites WHERE revoked_at IS NULL AND id != ?1 "
	    "AND id NOT IN (SELECT site FROM recover_reports) ORDER BY id");
	size_t len = 0;

	buf[0] = '\0';
	*n = 0;
	sqlite3_bind_text(q, 1, store_site(st), -1, SQLITE_STATIC);
	while (store_row(st, q)) {
		if (++*n <= 5 && len < size) {
			snprintf(buf + len, size - len, "%s%s",
			    *n > 1 ? ", " : "", sqlite3_column_text(q, 0));
			len = strlen(buf);
		}
	}
	sqlite3_reset(q);
	if (store_read_error(st, err))
		return err_prefix(err, "recover: sites to report");
	if (*n > 5 && len < size)
		snprintf(buf + len, size - len, " and %d more", *n - 5);
	return 0;
}

recover_t *
recover_new(store_t *store, const keypair_t *keys, err_t *err)
{
	recover_t *rc = calloc(1, sizeof *rc);
	sqlite3_stmt *q;

	if (rc == NULL) {
		err_set(err, ERR_INTERNAL, "recover: out of memory");
		return NULL;
	}
	rc->store = store;
	if (keys_sign_pair(keys, rc->sign_pk, &rc->sign_sk, err))
		goto fail;
	q = store_stmt(store,
	    "SELECT coalesce(max(seq), 0) FROM push_sigs WHERE origin = ?");
	sqlite3_bind_text(q, 1, store_site(store), -1, SQLITE_STATIC);
	rc->signed_seq = (uint64_t)store_query_int(store, q, 0);
	if (store_read_error(store, err) || recover_tick(rc, err))
		goto fail;
	return rc;
fail:
	recover_destroy(&rc);
	return NULL;
}

void
recover_destroy(recover_t **self_p)
{
	recover_t *rc = *self_p;

	if (rc == NULL)
		return;
	if (rc->sign_sk != NULL)
		sodium_free(rc->sign_sk); /* wipes it */
	free(rc);
	*self_p = NULL;
}

const uint8_t *
recover_sign_pk(const recover_t *rc)
{
	return rc->sign_pk;
}

int
recover_recovering(const recover_t *rc)
{
	return rc->recovering;
}

/* Signs our chain at seq and keeps the signature. In a transaction. */
static int
s_sign_at(recover_t *rc, uint64_t seq, err_t *err)
{
	const char *own = store_site(rc->store);
	uint8_t chain[CHAIN_BYTES], sig[CHAIN_SIG_BYTES];
	sqlite3_stmt *q;

	if (store_chain_at(rc->store, own, seq, chain, err))
		return -1;
	chain_sign(rc->sign_sk, own, seq, chain, sig);
	q = store_stmt(rc->store,
	    "INSERT OR IGNORE INTO push_sigs(origin, seq, chain, sig, at) "
	    "VALUES (?, ?, ?, ?, ?)");
	sqlite3_bind_text(q, 1, own, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, (int64_t)seq);
	sqlite3_bind_blob(q, 3, chain, sizeof chain, SQLITE_TRANSIENT);
	sqlite3_bind_blob(q, 4, sig, sizeof sig, SQLITE_TRANSIENT);
	sqlite3_bind_int64(q, 5, (int64_t)hlc_wall_ms());
	return store_step(rc->store, q, "keep the hub's signature", err);
}

int
recover_sign(recover_t *rc, err_t *err)
{
	uint64_t max = 0, seq;

	if (store_origin_max_seq(rc->store, store_site(rc->store), &max, err))
		return -1;
	if (max <= rc->signed_seq)
		return 0;
	if (store_begin(rc->store, err))
		return err_prefix(err, "sign our chain");
	for (seq = (rc->signed_seq / PROTO_SIGN_EVERY + 1) * PROTO_SIGN_EVERY;
	     seq < max; seq += PROTO_SIGN_EVERY)
		if (s_sign_at(rc, seq, err))
			goto fail;
	if (s_sign_at(rc, max, err) || store_commit(rc->store, err))
		goto fail;
	rc->signed_seq = max;
	return 0;
fail:
	store_rollback(rc->store);
	return err_prefix(err, "sign our chain to seq %llu",
	    (unsigned long long)max);
}

/* What a recovery still waits for, as "waiting for S001, S002 to
 * reconnect" or "its ops 41-57, seen by S002, have not come back from a
 * store", into buf; "" when nothing (it may end). */
static int
s_awaited(store_t *st, char *buf, size_t size, err_t *err)
{
	char waiting[128], who[OP_SITE_MAX + 1] = "";
	uint64_t held = 0, seen = 0;
	sqlite3_stmt *q;
	int n = 0;

	buf[0] = '\0';
	if (s_waiting(st, waiting, sizeof waiting, &n, err))
		return -1;
	if (n > 0) {
		snprintf(buf, size, "waiting for %s to reconnect", waiting);
		return 0;
	}
	q = store_stmt(st,
	    "SELECT site, seen FROM recover_reports ORDER BY seen DESC, site "
	    "LIMIT 1");
	if (store_row(st, q)) {
		snprintf(who, sizeof who, "%s", sqlite3_column_text(q, 0));
		seen = (uint64_t)sqlite3_column_int64(q, 1);
	}
	sqlite3_reset(q);
	if (store_read_error(st, err) ||
	    store_origin_max_seq(st, store_site(st), &held, err))
		return err_prefix(err, "recover: what is awaited");
	if (seen > held)
		snprintf(buf, size,
		    "its ops %llu-%llu, seen by %s, have not come back from a "
		    "store",
		    (unsigned long long)held + 1, (unsigned long long)seen,
		    who);
	return 0;
}

/* Ends the recovery: our writes go on from the seqs we hold. */
static int
s_end(store_t *st, err_t *err)
{
	if (store_begin(st, err) ||
	    store_meta_set_int(st, "recovering", 0, err) ||
	    store_commit(st, err)) {
		store_rollback(st);
		return err_prefix(err, "recover: end");
	}
	return 0;
}

/* Holds st's writes of the hub's own while it waits for awaited, with
 * the reason every refused write gives. */
static void
s_hold(store_t *st, const char *awaited)
{
	char reason[ERR_MSG_MAX];

	snprintf(reason, sizeof reason,
	    "write: head office is recovering from a backup: %s "
	    "(bl-hub recover --done ends the wait)",
	    awaited);
	store_hold_writes(st, reason);
}

int
recover_tick(recover_t *rc, err_t *err)
{
	char awaited[160];
	int64_t on = 0;

	if (store_meta_get_int(rc->store, "recovering", 0, &on, err))
		return err_prefix(err, "recover");
	if (on && s_awaited(rc->store, awaited, sizeof awaited, err))
		return -1;
	if (on && awaited[0] == '\0') {
		/* Every site has reported, and we hold what they saw. */
		if (s_end(rc->store, err))
			return -1;
		log_info("recovered from a backup: every site has reported; "
			 "head office writes again");
		on = 0;
	}
	if (on) {
		s_hold(rc->store, awaited);
		if (!rc->recovering)
			log_warn("restored from a backup: head office writes "
				 "nothing of its own meanwhile: %s",
			    awaited);
	} else if (rc->recovering) {
		store_hold_writes(rc->store, "");
		log_info("recovery from a backup ended: head office writes "
			 "again");
	}
	rc->recovering = on != 0;
	return 0;
}

int
recover_reported(recover_t *rc, const char *site, uint64_t seen, err_t *err)
{
	sqlite3_stmt *q;

	if (!rc->recovering)
		return 0;
	q = store_stmt(rc->store,
	    "INSERT OR REPLACE INTO recover_reports(site, at, seen) "
	    "VALUES (?, ?, ?)");
	sqlite3_bind_text(q, 1, site, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, (int64_t)hlc_wall_ms());
	sqlite3_bind_int64(q, 3, (int64_t)seen);
	if (store_begin(rc->store, err) ||
	    store_step(rc->store, q, "keep a site's report", err) ||
	    store_commit(rc->store, err)) {
		store_rollback(rc->store);
		return err_prefix(err, "recover: site %s reported", site);
	}
	log_info("recover: site %s has reported (it saw our ops up to %llu)",
	    site, (unsigned long long)seen);
	return recover_tick(rc, err);
}

void
recover_status(recover_t *rc, json_t *status)
{
	char awaited[160];
	err_t err;

	json_object_set_new(status, "recovering", json_boolean(rc->recovering));
	if (rc->recovering &&
	    s_awaited(rc->store, awaited, sizeof awaited, &err) == 0)
		json_object_set_new(status, "recover_waiting",
		    json_string(awaited));
}

int
recover_mark_restored(store_t *store, err_t *err)
{
	if (store_begin(store, err) ||
	    store_step(store, store_stmt(store, "DELETE FROM recover_reports"),
		"forget the sites' reports", err) ||
	    store_meta_set_int(store, "recovering", 1, err) ||
	    store_commit(store, err)) {
		store_rollback(store);
		return err_prefix(err, "recover: mark restored");
	}
	return 0;
}

int
recover_hold(store_t *store, err_t *err)
{
	char awaited[160];
	int64_t on = 0;

	if (store_meta_get_int(store, "recovering", 0, &on, err))
		return err_prefix(err, "recover");
	if (!on)
		return 0;
	if (s_awaited(store, awaited, sizeof awaited, err))
		return -1;
	/* Nothing awaited: the daemon ends the wait at its next tick. */
	s_hold(store, awaited[0] ? awaited : "ending");
	return 0;
}

int
recover_describe(store_t *store, int done, char *buf, size_t size, err_t *err)
{
	char awaited[160];
	int64_t on = 0;

	if (store_meta_get_int(store, "recovering", 0, &on, err))
		return err_prefix(err, "recover");
	if (!on) {
		snprintf(buf, size, "not recovering from a backup");
		return 0;
	}
	if (s_awaited(store, awaited, sizeof awaited, err))
		return -1;
	if (!done) {
		snprintf(buf, size, "recovering from a backup: %s",
		    awaited[0] ? awaited : "ending");
		return 0;
	}
	if (s_end(store, err))
		return -1;
	snprintf(buf, size,
	    "recovery ended by hand (%s): head office writes again from the "
	    "seqs it holds; a store that saw others keeps them and reports "
	    "each as a conflict (op_conflict)",
	    awaited[0] ? awaited : "nothing awaited");
	return 0;
}
