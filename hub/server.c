/*
 * server: the hub's sync endpoint.
 *
 * One ROUTER socket with CURVE carries every node. Before it binds, a ZAP
 * handler is bound on inproc://zeromq.zap.01 in the same context (without
 * one, libzmq accepts any client that knows the hub key). The handler admits
 * a client only if its public key is enrolled and not revoked, and names it
 * by site id in the ZAP User-Id; every message's site is read back from that
 * User-Id, never from the routing id or the message.
 *
 * Each routing id has a session, driven by the table in s_handle: a session
 * must say HELLO first; then it may PUSH (ingested in one transaction and
 * acknowledged only after commit), PULL (credit for OPS batches, streamed as
 * long as credit lasts and again whenever the log grows) and PING. A revoked
 * site's session is closed within a second and answered 403 from then on.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "chain.h"
#include "hub.h"
#include "log.h"
#include "proto.h"
#include "text.h"
#include "zsock.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define SESSION_IDLE_MS (120 * 1000)
/* A session heard from within this is live (nodes PING every 2 s): a
 * second copy of its site is refused while it is. */
#define SESSION_LIVE_MS (7 * 1000)
/* OPS batches a node may have in flight, and their size: what one
 * connection can pin in the hub's memory (a reader that never reads) is
 * at most SESSION_CREDIT_MAX x (OPS_BATCH_BYTES + one op), 2 MB. */
#define SESSION_CREDIT_MAX 8
#define OPS_BATCH_BYTES (256 * 1024)
/* How often ops quarantined for a clock ahead are tried again. */
#define QUARANTINE_RETRY_MS (60 * 1000)
#define RID_MAX 256

typedef enum {
	SESSION_START,	/* connected, no HELLO yet */
	SESSION_READY,	/* HELLO accepted */
	SESSION_CLOSED, /* refused for good (revoked, version) */
} session_state_t;

typedef struct session {
	struct session *next;
	uint8_t rid[RID_MAX];
	size_t rid_len;
	char site[OP_SITE_MAX + 1];
	char role[16]; /* from the registry at HELLO */
	char region[64];
	char incarnation[PROTO_INCARNATION_MAX + 1]; /* from HELLO */
	uint8_t sign_pk[CHAIN_PK_BYTES];	     /* pinned, chain.h */
	session_state_t state;
	uint64_t own_seq;  /* node's own max seq at HELLO */
	uint64_t held_seq; /* the site's max seq the hub held then */
	uint64_t sent;	   /* hub lsn up to which OPS were sent */
	uint64_t credit;   /* OPS batches the node will still accept */
	int streaming;	   /* a PULL has opened the stream */
	int gone;	   /* peer unreachable: dropped at next tick */
	uint64_t last_rx_ms;
} session_t;

struct server {
	struct event_base *base;
	store_t *store;
	void *ctx, *router, *zap;
	zev_t *router_ev, *zap_ev;
	struct event *tick;
	session_t *sessions;
	cbw_t out; /* scratch for outgoing messages */
	uint64_t ops_in, ops_out;
	health_t *health;    /* what sites report of their disks */
	uint64_t retried_ms; /* the quarantine's last automatic retry */
	uint64_t started_ms; /* when this hub process started */
	uint64_t silent_ms;  /* a site not heard from this long is alerted */
};

/* ---- ZAP ---- */

/* Looks up an active site by Z85 public key; fills site. */
static int
s_site_for_key(server_t *srv, const char *z85, char *site, size_t size)
{
	sqlite3_stmt *s = store_stmt(srv->store,
	    "SELECT id FROM sites "
	    "WHERE pubkey = ? AND revoked_at IS NULL");
	int found = 0;

	sqlite3_bind_text(s, 1, z85, -1, SQLITE_STATIC);
	if (store_row(srv->store, s)) {
		snprintf(site, size, "%s", sqlite3_column_text(s, 0));
		found = 1;
	}
	sqlite3_reset(s);
	return found;
}

static void
s_zap_send(void *sock, const char *text, int more)
{
	zmq_send(sock, text, strlen(text), more ? ZMQ_SNDMORE : 0);
}

/* Answers one ZAP request: version, request id, domain, address, identity,
 * mechanism, credentials -> version, request id, status, text, user id,
 * metadata. */
static void
s_on_zap(void *sock, void *arg)
{
	server_t *srv = arg;
	zmq_msg_t frames[8];
	int n = 0, more = 1, ok = 0;
	char site[OP_SITE_MAX + 1] = "", z85[KEYS_Z85_LEN + 1] = "";

	while (more && n < 8) {
		size_t size = sizeof more;

		zmq_msg_init(&frames[n]);
		if (zmq_msg_recv(&frames[n], sock, 0) < 0) {
			zmq_msg_close(&frames[n]);
			break;
		}
		zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &size);
		n++;
	}
	while (more) { /* drain an overlong request */
		size_t size = sizeof more;
		zmq_msg_t extra;

		zmq_msg_init(&extra);
		zmq_msg_recv(&extra, sock, 0);
		zmq_msg_close(&extra);
		zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &size);
	}
	if (n == 7 && zmq_msg_size(&frames[5]) == 5 &&
	    memcmp(zmq_msg_data(&frames[5]), "CURVE", 5) == 0 &&
	    zmq_msg_size(&frames[6]) == 32 &&
	    zmq_z85_encode(z85, zmq_msg_data(&frames[6]), 32) != NULL)
		ok = s_site_for_key(srv, z85, site, sizeof site);
	if (n >= 2) {
		s_zap_send(sock, "1.0", 1);
		zmq_send(sock, zmq_msg_data(&frames[1]),
		    zmq_msg_size(&frames[1]), ZMQ_SNDMORE);
		s_zap_send(sock, ok ? "200" : "400", 1);
		s_zap_send(sock, ok ? "OK" : "key not enrolled or revoked", 1);
		s_zap_send(sock, ok ? site : "", 1);
		s_zap_send(sock, "", 0);
	}
	if (!ok)
		log_warn("refused connection: key %s not enrolled or revoked",
		    z85[0] ? z85 : "(none)");
	else
		log_debug("admitted site %s", site);
	while (n > 0)
		zmq_msg_close(&frames[--n]);
}

/* Whether site is enrolled and not revoked; fills the session's role and
 * region when s is not NULL. */
static int
s_site_active(server_t *srv, const char *site, session_t *s)
{
	sqlite3_stmt *q = store_stmt(srv->store,
	    "SELECT role, region "
	    "FROM sites WHERE id = ? AND revoked_at IS NULL");
	int active = 0;

	sqlite3_bind_text(q, 1, site, -1, SQLITE_STATIC);
	if (store_row(srv->store, q)) {
		active = 1;
		if (s != NULL) {
			snprintf(s->role, sizeof s->role, "%s",
			    sqlite3_column_text(q, 0));
			snprintf(s->region, sizeof s->region, "%s",
			    sqlite3_column_text(q, 1));
		}
	}
	sqlite3_reset(q);
	return active;
}

/* ---- sessions ---- */

static session_t *
s_session(server_t *srv, const uint8_t *rid, size_t len, int create)
{
	session_t *s;

	for (s = srv->sessions; s != NULL; s = s->next)
		if (s->rid_len == len && memcmp(s->rid, rid, len) == 0)
			return s;
	if (!create || len > RID_MAX)
		return NULL;
	s = calloc(1, sizeof *s);
	if (s == NULL)
		fatal("hub: out of memory");
	memcpy(s->rid, rid, len);
	s->rid_len = len;
	s->next = srv->sessions;
	srv->sessions = s;
	return s;
}

static void
s_session_drop(server_t *srv, session_t *gone)
{
	session_t **p;

	for (p = &srv->sessions; *p != NULL; p = &(*p)->next) {
		if (*p == gone) {
			*p = gone->next;
			free(gone);
			return;
		}
	}
}

/* Sends srv->out to a session. Returns 0, or -1 when the peer is gone
 * (session dropped) or its queue is full (try again later). */
static int
s_send(server_t *srv, session_t *s)
{
	if (zmq_send(srv->router, s->rid, s->rid_len,
		ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
	    zmq_send(srv->router, srv->out.data, srv->out.len, ZMQ_DONTWAIT) <
		0) {
		if (zmq_errno() == EHOSTUNREACH) {
			log_debug("session %s gone", s->site);
			s->gone = 1;
		}
		return -1;
	}
	return 0;
}

static void
s_send_error(server_t *srv, session_t *s, int status, const char *reason)
{
	log_warn("site %s: %d %s", s->site[0] ? s->site : "?", status, reason);
	proto_error(&srv->out, status, reason);
	s_send(srv, s);
}

/* Sends OPS batches while the session has credit and the log has ops it
 * has not seen. A node's own ops are not echoed back, except those the hub
 * held above what the node had at HELLO (a node restored from an old
 * backup gets them back; what it pushes later comes after them). */
static int
s_stream(server_t *srv, session_t *s)
{
	sqlite3_stmt *q;
	uint64_t head, last;
	size_t n, bytes;
	cbw_t batch;
	int rc;

	if (s->state != SESSION_READY || !s->streaming || s->gone)
		return 0;
	head = (uint64_t)store_query_int(srv->store,
	    store_stmt(srv->store, "SELECT max(lsn) FROM op_log"), 0);
	/* Nothing more for a site revoked since its last batch: revoke acts
	 * when it returns, not at the next tick. */
	if (s->sent < head && !s_site_active(srv, s->site, NULL)) {
		health_forget(srv->health, s->site);
		s->state = SESSION_CLOSED;
		s_send_error(srv, s, ERR_FORBIDDEN, "site revoked");
		return 0;
	}
	cbw_init(&batch);
	while (s->credit > 0 && s->sent < head) {
		/* What this site may see (visibility.c): head office all. */
		q = store_stmt(srv->store,
		    "SELECT lsn, body FROM op_log "
		    "WHERE lsn > ?1 AND NOT (origin = ?2 AND (seq <= ?3 OR "
		    "seq > ?5)) AND (?6 = 'hq' OR (vis_site IS NULL AND "
		    "vis_site2 IS NULL AND vis_region IS NULL) OR vis_site = ?2 "
		    "OR vis_site2 = ?2 OR vis_region = '*' OR vis_region = ?7) "
		    "ORDER BY lsn LIMIT ?4");
		sqlite3_bind_int64(q, 1, (int64_t)s->sent);
		sqlite3_bind_text(q, 2, s->site, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 3, (int64_t)s->own_seq);
		sqlite3_bind_int(q, 4, PROTO_MAX_BATCH);
		sqlite3_bind_int64(q, 5, (int64_t)s->held_seq);
		sqlite3_bind_text(q, 6, s->role, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 7, s->region, -1, SQLITE_STATIC);
		cbw_reset(&batch);
		n = 0;
		bytes = 0;
		last = head;
		while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
			cbw_raw(&batch, sqlite3_column_blob(q, 1),
			    (size_t)sqlite3_column_bytes(q, 1));
			last = (uint64_t)sqlite3_column_int64(q, 0);
			n++;
			bytes = batch.len;
			if (bytes >= OPS_BATCH_BYTES)
				break;
		}
		sqlite3_reset(q);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
			/* Never move a cursor past ops we failed to read. */
			log_warn("site %s: read log: %s", s->site,
			    sqlite3_errmsg(store_db(srv->store)));
			break;
		}
		/* A batch that ran out of rows before its limit scanned
		 * everything up to head (the LIMIT also ends in DONE). */
		if (rc == SQLITE_DONE && n < PROTO_MAX_BATCH)
			last = head;
		proto_ops_begin(&srv->out, last, head, n);
		cbw_raw(&srv->out, batch.data, batch.len);
		if (s_send(srv, s) != 0)
			break; /* queue full or peer gone: resume later */
		s->sent = last;
		s->credit--;
		srv->ops_out += n;
	}
	cbw_free(&batch);
	return 0;
}

/* Keeps op, refused as a conflict, in a transaction of its own (its batch
 * was rolled back), logs it and answers 409 with the reason: the node must
 * not go on pushing a log that differs from the hub's. */
static void
s_keep_conflict(server_t *srv, session_t *s, const op_t *op,
    const uint8_t *body, size_t len, const char *reason)
{
	char msg[PROTO_REASON_MAX + 1];
	err_t err;

	log_warn("site %s: push refused: %s", s->site, reason);
	if (store_begin(srv->store, &err) ||
	    store_conflict(srv->store, op, body, len, reason, &err) ||
	    store_commit(srv->store, &err)) {
		store_rollback(srv->store);
		log_warn("site %s: keeping a conflicting op failed: %s",
		    s->site, err.msg);
	}
	text_printf(msg, sizeof msg, "push: %s", reason);
	s_send_error(srv, s, ERR_CONFLICT, msg);
}

/* Inside the push's transaction: the site's chain up to last, as the hub
 * now holds it, must be what the site signed. Keeps the signature and
 * returns 0; or rolls back, answers 403 and returns -1. */
static int
s_check_signature(server_t *srv, session_t *s, const proto_msg_t *msg,
    uint64_t first, uint64_t last)
{
	uint8_t chain[CHAIN_BYTES], sig[CHAIN_SIG_BYTES];
	char reason[PROTO_REASON_MAX + 1];
	sqlite3_stmt *q;
	err_t err;

	if (store_chain_at(srv->store, s->site, last, chain, &err) ||
	    sodium_hex2bin(sig, sizeof sig, msg->sig, PROTO_SIG_HEX, NULL, NULL,
		NULL) != 0 ||
	    !chain_verify(s->sign_pk, s->site, last, chain, sig)) {
		store_rollback(srv->store);
		snprintf(reason, sizeof reason,
		    "push: ops %s/%llu-%llu: the signature does not match "
		    "them (altered on the way, or not signed by %s's key)",
		    s->site, (unsigned long long)first,
		    (unsigned long long)last, s->site);
		log_warn("site %s: %s", s->site, reason);
		s_send_error(srv, s, ERR_FORBIDDEN, reason);
		return -1;
	}
	q = store_stmt(srv->store,
	    "INSERT OR REPLACE INTO push_sigs(origin, seq, chain, sig, at) "
	    "VALUES (?, ?, ?, ?, ?)");
	sqlite3_bind_text(q, 1, s->site, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, (int64_t)last);
	sqlite3_bind_blob(q, 3, chain, sizeof chain, SQLITE_TRANSIENT);
	sqlite3_bind_blob(q, 4, sig, sizeof sig, SQLITE_TRANSIENT);
	sqlite3_bind_int64(q, 5, (int64_t)hlc_wall_ms());
	if (store_step(srv->store, q, "keep a push signature", &err)) {
		store_rollback(srv->store);
		log_warn("site %s: push failed: %s", s->site, err.msg);
		s_send_error(srv, s, ERR_INTERNAL, "push: hub storage failure");
		return -1;
	}
	return 0;
}

/* Ingests a PUSH in one transaction: every op must come from the session's
 * site, in seq order with no gap; a bad op is quarantined, not fatal. */
static void
s_on_push(server_t *srv, session_t *s, proto_msg_t *msg)
{
	err_t err, why;
	op_t op;
	const uint8_t *body;
	size_t len;
	uint64_t held, first = 0, last = 0;
	ingest_result_t res;
	hub_vis_t vis;
	ingest_from_t from;
	int rc;
	char reason[ERR_MSG_MAX];

	err_clear(&err);
	if (store_begin(srv->store, &err))
		goto fail_internal;
	store_origin_max_seq(srv->store, s->site, &held, &err);
	while ((rc = proto_next_op(msg, &op, &body, &len, &err)) == 1) {
		if (strcmp(op.origin, s->site) != 0) {
			snprintf(reason, sizeof reason,
			    "push: op %s/%llu: origin is not the authenticated site %s",
			    op.origin, (unsigned long long)op.seq, s->site);
			op_clear(&op);
			store_rollback(srv->store);
			s_send_error(srv, s, ERR_FORBIDDEN, reason);
			return;
		}
		if (op.seq > held + 1) {
			snprintf(reason, sizeof reason,
			    "push: op %s/%llu: gap, the hub holds up to %llu",
			    op.origin, (unsigned long long)op.seq,
			    (unsigned long long)held);
			op_clear(&op);
			store_rollback(srv->store);
			s_send_error(srv, s, ERR_CONFLICT, reason);
			return;
		}
		err_clear(&why);
		if (first == 0)
			first = op.seq;
		last = op.seq;
		visibility_of(srv->store, &op, &vis);
		from.role = s->role;
		from.vis = &vis.vis;
		if (store_ingest_from(srv->store, &op, body, len, &from, &res,
			&why)) {
			op_clear(&op);
			err = why;
			goto fail_internal;
		}
		if (res == INGEST_CONFLICT) {
			/* The node's log is not the one the hub holds: nothing
			 * of this batch is taken; the op stays on record. */
			store_rollback(srv->store);
			s_keep_conflict(srv, s, &op, body, len, why.msg);
			op_clear(&op);
			return;
		}
		if (res == INGEST_QUARANTINED)
			log_warn("site %s: quarantined: %s", s->site, why.msg);
		if (op.seq > held)
			held = op.seq;
		if (res != INGEST_DUPLICATE)
			srv->ops_in++;
		op_clear(&op);
	}
	if (rc < 0) {
		store_rollback(srv->store);
		s_send_error(srv, s, ERR_BAD_REQUEST, err.msg);
		return;
	}
	if (msg->nops > 0 && s_check_signature(srv, s, msg, first, last))
		return;
	if (store_commit(srv->store, &err))
		goto fail_internal;
	proto_push_ack(&srv->out, held);
	s_send(srv, s);
	server_notify(srv);
	return;
fail_internal:
	store_rollback(srv->store);
	log_warn("site %s: push failed: %s", s->site, err.msg);
	s_send_error(srv, s, ERR_INTERNAL, "push: hub storage failure");
}

/* One live session per site. Another live session of the same
 * incarnation (a restarted daemon whose old connection has not timed out)
 * is replaced by s; one of another incarnation (a copy of the data folder
 * running at the same time) makes s refused, naming both, alerted. Returns
 * 1 when s was refused. */
static int
s_one_live_session(server_t *srv, session_t *s, const char *site,
    const char *incarnation)
{
	char reason[PROTO_REASON_MAX + 1];
	uint64_t now = hlc_wall_ms();
	session_t *o;

	for (o = srv->sessions; o != NULL; o = o->next) {
		if (o == s || o->state != SESSION_READY || o->gone ||
		    strcmp(o->site, site) != 0 ||
		    now - o->last_rx_ms > SESSION_LIVE_MS)
			continue;
		if (strcmp(o->incarnation, incarnation) != 0) {
			snprintf(reason, sizeof reason,
			    "hello: site %s incarnation %s refused: incarnation "
			    "%s of this site is connected (a copy of its data "
			    "folder running at the same time?)",
			    site, incarnation, o->incarnation);
			health_twin(srv->health, site, reason, now);
			s_send_error(srv, s, ERR_CONFLICT, reason);
			return 1;
		}
		s_send_error(srv, o, ERR_CONFLICT,
		    "session replaced by a newer one of this data folder");
		o->gone = 1;
		log_info("site %s: session replaced by a newer one", site);
	}
	return 0;
}

/* The site's signing key (hex, from its HELLO over the CURVE session that
 * authenticated it) is pinned the first time and must be the same ever
 * after: a key that changes could disown what was signed. 0, or -1 after
 * answering 403. */
static int
s_pin_sign_key(server_t *srv, session_t *s, const char *site, const char *hex)
{
	char reason[PROTO_REASON_MAX + 1];
	sqlite3_stmt *q;
	err_t err;
	int pinned = 0, same = 0;

	if (sodium_hex2bin(s->sign_pk, sizeof s->sign_pk, hex,
		PROTO_SIGN_KEY_HEX, NULL, NULL, NULL) != 0)
		return -1; /* proto_decode checked it */
	q = store_stmt(srv->store, "SELECT sign_key FROM sites WHERE id = ?");
	sqlite3_bind_text(q, 1, site, -1, SQLITE_STATIC);
	if (store_row(srv->store, q) &&
	    sqlite3_column_type(q, 0) != SQLITE_NULL) {
		pinned = 1;
		same = sqlite3_column_bytes(q, 0) == CHAIN_PK_BYTES &&
		    memcmp(sqlite3_column_blob(q, 0), s->sign_pk,
			CHAIN_PK_BYTES) == 0;
	}
	sqlite3_reset(q);
	if (pinned && !same) {
		snprintf(reason, sizeof reason,
		    "hello: site %s signs with another key than the one pinned "
		    "at its first connection (re-enroll the site)",
		    site);
		s_send_error(srv, s, ERR_FORBIDDEN, reason);
		s->state = SESSION_CLOSED;
		return -1;
	}
	if (pinned)
		return 0;
	q = store_stmt(srv->store,
	    "UPDATE sites SET sign_key = ? WHERE id = ?");
	sqlite3_bind_blob(q, 1, s->sign_pk, CHAIN_PK_BYTES, SQLITE_TRANSIENT);
	sqlite3_bind_text(q, 2, site, -1, SQLITE_STATIC);
	if (store_begin(srv->store, &err) ||
	    store_step(srv->store, q, "pin a signing key", &err) ||
	    store_commit(srv->store, &err)) {
		store_rollback(srv->store);
		log_warn("site %s: %s", site, err.msg);
		s_send_error(srv, s, ERR_INTERNAL,
		    "hello: hub storage failure");
		return -1;
	}
	log_info("site %s: signing key pinned", site);
	return 0;
}

static void
s_on_hello(server_t *srv, session_t *s, proto_msg_t *msg, const char *site)
{
	char reason[PROTO_REASON_MAX + 1];
	uint64_t held = 0, head;
	int schema = store_schema_version();

	if (strcmp(msg->site, site) != 0) {
		snprintf(reason, sizeof reason,
		    "hello: site %s claimed, but this key is enrolled as %s",
		    msg->site, site);
		s_send_error(srv, s, ERR_FORBIDDEN, reason);
		s->state = SESSION_CLOSED;
		return;
	}
	if (msg->version != PROTO_VERSION || msg->schema != (uint64_t)schema) {
		int node_older = msg->version != PROTO_VERSION
		    ? msg->version < PROTO_VERSION
		    : msg->schema < (uint64_t)schema;

		snprintf(reason, sizeof reason,
		    "hello: node protocol %llu schema %llu, hub protocol %d schema %d: upgrade the %s",
		    (unsigned long long)msg->version,
		    (unsigned long long)msg->schema, PROTO_VERSION, schema,
		    node_older ? "node" : "hub");
		s_send_error(srv, s, ERR_UPGRADE, reason);
		s->state = SESSION_CLOSED;
		return;
	}
	if (!s_site_active(srv, site, s)) {
		snprintf(reason, sizeof reason, "hello: site %s revoked", site);
		s_send_error(srv, s, ERR_FORBIDDEN, reason);
		s->state = SESSION_CLOSED;
		return;
	}
	if (s_one_live_session(srv, s, site, msg->incarnation)) {
		snprintf(s->site, sizeof s->site, "%s", site);
		return;
	}
	if (s_pin_sign_key(srv, s, site, msg->sign_key))
		return;
	store_origin_max_seq(srv->store, site, &held, NULL);
	head = (uint64_t)store_query_int(srv->store,
	    store_stmt(srv->store, "SELECT max(lsn) FROM op_log"), 0);
	snprintf(s->site, sizeof s->site, "%s", site);
	snprintf(s->incarnation, sizeof s->incarnation, "%s", msg->incarnation);
	s->state = SESSION_READY;
	s->own_seq = msg->seq;
	s->held_seq = held;
	s->sent = msg->cursor;
	s->credit = 0;
	s->streaming = 0;
	proto_welcome(&srv->out, store_site(srv->store), held, head);
	s_send(srv, s);
	log_info(
	    "site %s connected: holds seq %llu, hub holds %llu, cursor %llu of %llu",
	    site, (unsigned long long)msg->seq, (unsigned long long)held,
	    (unsigned long long)msg->cursor, (unsigned long long)head);
}

/* The session table: what each message does in each state. */
static void
s_handle(server_t *srv, session_t *s, proto_msg_t *msg, const char *site)
{
	if (s->state == SESSION_CLOSED) {
		s_send_error(srv, s, ERR_FORBIDDEN,
		    "session closed by the hub");
		return;
	}
	switch (msg->type) {
	case PROTO_HELLO: s_on_hello(srv, s, msg, site); break;
	case PROTO_BYE:
		/* Gone now, not when the heartbeat notices. */
		s->gone = 1;
		log_debug("site %s: session ended", s->site);
		break;
	case PROTO_PING:
		/* Only a site that said HELLO and is still enrolled. */
		if (s->state == SESSION_READY)
			health_report(srv->health, s->site, &msg->disk,
			    hlc_wall_ms());
		proto_pong(&srv->out, msg->ms, hlc_wall_ms());
		s_send(srv, s);
		break;
	case PROTO_PUSH:
		if (s->state != SESSION_READY)
			goto need_hello;
		/* Revocation acts at once, not at the next tick. */
		if (!s_site_active(srv, s->site, NULL)) {
			s->state = SESSION_CLOSED;
			s_send_error(srv, s, ERR_FORBIDDEN,
			    "push: site revoked");
			break;
		}
		s_on_push(srv, s, msg);
		break;
	case PROTO_PULL:
		if (s->state != SESSION_READY)
			goto need_hello;
		if (!s->streaming) {
			s->sent = msg->cursor;
			s->streaming = 1;
		}
		s->credit += msg->credit;
		if (s->credit > SESSION_CREDIT_MAX)
			s->credit = SESSION_CREDIT_MAX;
		s_stream(srv, s);
		break;
	default:
		s_send_error(srv, s, ERR_BAD_REQUEST,
		    "unexpected message from a node");
		break;
	}
	return;
need_hello:
	s_send_error(srv, s, ERR_BAD_REQUEST, "send HELLO first");
}

static void
s_on_router(void *sock, void *arg)
{
	server_t *srv = arg;
	zmq_msg_t rid, body;
	int more = 0;
	size_t size = sizeof more;
	session_t *s;
	const char *site;
	proto_msg_t msg;
	err_t err;

	zmq_msg_init(&rid);
	zmq_msg_init(&body);
	if (zmq_msg_recv(&rid, sock, ZMQ_DONTWAIT) < 0)
		goto out;
	zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &size);
	if (!more || zmq_msg_recv(&body, sock, ZMQ_DONTWAIT) < 0)
		goto out;
	zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &size);
	while (more) { /* a node sends one frame; drop extras */
		zmq_msg_t extra;

		zmq_msg_init(&extra);
		zmq_msg_recv(&extra, sock, 0);
		zmq_msg_close(&extra);
		zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &size);
	}
	site = zmq_msg_gets(&body, "User-Id");
	s = s_session(srv, zmq_msg_data(&rid), zmq_msg_size(&rid), 1);
	if (s == NULL || site == NULL || site[0] == '\0')
		goto out;
	/* The identity is the ZAP User-Id of this very message: a session
	 * whose routing id now carries another site starts over. */
	if (s->state != SESSION_START && strcmp(s->site, site) != 0) {
		log_warn("routing id of site %s now carries %s: new session",
		    s->site, site);
		memset(s->site, 0, sizeof s->site);
		s->state = SESSION_START;
		s->streaming = 0;
		s->credit = 0;
	}
	s->last_rx_ms = hlc_wall_ms();
	err_clear(&err);
	if (proto_decode(zmq_msg_data(&body), zmq_msg_size(&body), &msg,
		&err)) {
		if (s->site[0] == '\0')
			snprintf(s->site, sizeof s->site, "%s", site);
		s_send_error(srv, s, err.code, err.msg);
		goto out;
	}
	s_handle(srv, s, &msg, site);
out:
	zmq_msg_close(&rid);
	zmq_msg_close(&body);
}

/* Once a second: close sessions of revoked sites, forget idle ones, retry
 * streams that stopped on a full queue. */
int
server_quarantine_retry(server_t *srv, const char *origin, uint64_t seq,
    int due_only, int *applied, int *kept, err_t *err)
{
	hub_from_t r;

	memset(&r, 0, sizeof r);
	if (store_quarantine_retry(srv->store, origin, seq, due_only,
		hub_from_of, &r, applied, kept, err))
		return -1;
	if (*applied > 0) {
		log_info("quarantine: %d ops applied on retry, %d kept",
		    *applied, *kept);
		server_notify(srv);
	}
	return 0;
}

static void
s_on_tick(evutil_socket_t fd, short what, void *arg)
{
	server_t *srv = arg;
	session_t *s, *next;
	uint64_t now = hlc_wall_ms();
	(void)fd;
	(void)what;
	/* Ops refused for a clock ahead pass once real time reaches them. */
	if (now - srv->retried_ms >= QUARANTINE_RETRY_MS) {
		int applied, kept;
		err_t err;

		srv->retried_ms = now;
		if (server_quarantine_retry(srv, NULL, 0, 1, &applied, &kept,
			&err))
			log_warn("quarantine: retry: %s", err.msg);
	}
	for (s = srv->sessions; s != NULL; s = next) {
		next = s->next;
		if (s->gone || now - s->last_rx_ms > SESSION_IDLE_MS) {
			s_session_drop(srv, s);
			continue;
		}
		if (s->state == SESSION_CLOSED || s->site[0] == '\0')
			continue;
		if (!s_site_active(srv, s->site, NULL)) {
			char reason[128];

			snprintf(reason, sizeof reason, "site %s revoked",
			    s->site);
			health_forget(srv->health, s->site);
			s->state = SESSION_CLOSED;
			s_send_error(srv, s, ERR_FORBIDDEN, reason);
			continue;
		}
		s_stream(srv, s);
	}
	zev_kick(srv->router_ev);
}

void
server_notify(server_t *srv)
{
	session_t *s;

	for (s = srv->sessions; s != NULL; s = s->next)
		s_stream(srv, s);
	zev_kick(srv->router_ev);
}

int
server_sites(void *arg, const json_t *query, json_t **out, err_t *err)
{
	server_t *srv = arg;
	sqlite3_stmt *q = store_stmt(srv->store,
	    "SELECT id, role, region, "
	    "name, revoked_at FROM sites ORDER BY id");
	json_t *items = json_array();
	session_t *s;
	int rc;

	(void)query;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(q, 0);
		int connected = 0;

		for (s = srv->sessions; s != NULL; s = s->next)
			connected |= s->state == SESSION_READY &&
			    strcmp(s->site, id) == 0;
		json_array_append_new(items,
		    json_pack("{s:s, s:s, s:s, s:s?, s:b, s:b, s:o}", "site",
			id, "role", (const char *)sqlite3_column_text(q, 1),
			"region", (const char *)sqlite3_column_text(q, 2),
			"name", (const char *)sqlite3_column_text(q, 3),
			"revoked", sqlite3_column_type(q, 4) != SQLITE_NULL,
			"connected", connected, "disk",
			health_json(srv->health, id)));
	}
	sqlite3_reset(q);
	if (rc != SQLITE_DONE) {
		json_decref(items);
		log_warn("sites: %s", sqlite3_errmsg(store_db(srv->store)));
		return err_set(err, ERR_INTERNAL, "sites: %s",
		    sqlite3_errmsg(store_db(srv->store)));
	}
	*out = json_pack("{s:o}", "items", items);
	return 0;
}

static int
s_enrolled(void *arg, const char *site)
{
	return s_site_active(arg, site, NULL);
}

/* A duration for people: "2 h 5 min", "12 min", "40 s". */
static void
s_duration(uint64_t ms, char *buf, size_t size)
{
	uint64_t s = ms / 1000;

	if (s >= 3600)
		snprintf(buf, size, "%llu h %llu min",
		    (unsigned long long)(s / 3600),
		    (unsigned long long)(s % 3600 / 60));
	else if (s >= 60)
		snprintf(buf, size, "%llu min", (unsigned long long)(s / 60));
	else
		snprintf(buf, size, "%llu s", (unsigned long long)s);
}

/* Appends a silent_site alert for every active store or warehouse not
 * heard from (a PING every few seconds while connected) for silent_ms; a
 * hub that restarted counts from its start, as it cannot know better. */
static void
s_silent_alerts(server_t *srv, json_t *items, uint64_t now)
{
	sqlite3_stmt *q = store_stmt(srv->store,
	    "SELECT id FROM sites WHERE revoked_at IS NULL AND role != 'hq' "
	    "ORDER BY id");
	char id[64], msg[200], for_[32], after[32];
	uint64_t heard, since;

	s_duration(srv->silent_ms, after, sizeof after);
	while (store_row(srv->store, q)) {
		const char *site = (const char *)sqlite3_column_text(q, 0);

		heard = health_last_heard(srv->health, site);
		since = heard > srv->started_ms ? heard : srv->started_ms;
		if (now - since < srv->silent_ms)
			continue;
		s_duration(now - since, for_, sizeof for_);
		snprintf(msg, sizeof msg,
		    heard == 0 ? "site %s not heard from since the hub started "
				 "%s ago (alerted after %s)"
			       : "site %s silent for %s (alerted after %s)",
		    site, for_, after);
		snprintf(id, sizeof id, "silent_site:%s:%s", site, site);
		json_array_append_new(items,
		    json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "id", id,
			"kind", "silent_site", "site", site, "subject", site,
			"message", msg, "at", (json_int_t)since));
	}
	sqlite3_reset(q);
}

void
server_alerts(server_t *srv, json_t *items)
{
	uint64_t now = hlc_wall_ms();

	health_alerts(srv->health, items, s_enrolled, srv, now);
	s_silent_alerts(srv, items, now);
}

void
server_set_silent_after(server_t *srv, uint64_t ms)
{
	srv->silent_ms = ms;
}

void
server_status(server_t *srv, json_t *status)
{
	session_t *s;
	json_int_t n = 0;

	for (s = srv->sessions; s != NULL; s = s->next)
		n += s->state == SESSION_READY;
	json_object_set_new(status, "sessions", json_integer(n));
	json_object_set_new(status, "ops_received",
	    json_integer((json_int_t)srv->ops_in));
	json_object_set_new(status, "ops_sent",
	    json_integer((json_int_t)srv->ops_out));
}

server_t *
server_new(struct event_base *base, store_t *store, const keypair_t *keys,
    const char *listen, int *bound_port, err_t *err)
{
	server_t *srv = calloc(1, sizeof *srv);
	int one = 1, hwm = 1000;
	char endpoint[256], *colon;
	size_t size = sizeof endpoint;
	struct timeval second = { 1, 0 };

	if (srv == NULL)
		fatal("hub: out of memory");
	srv->base = base;
	srv->store = store;
	srv->health = health_new();
	srv->started_ms = hlc_wall_ms();
	srv->silent_ms = SERVER_SILENT_DEFAULT_MS;
	cbw_init(&srv->out);
	srv->ctx = zmq_ctx_new();
	/* The ZAP handler must exist before the CURVE server accepts. */
	srv->zap = zmq_socket(srv->ctx, ZMQ_REP);
	if (zmq_bind(srv->zap, ZAP_ENDPOINT) != 0) {
		err_set(err, ERR_INTERNAL, "zap: bind %s: %s", ZAP_ENDPOINT,
		    zmq_strerror(zmq_errno()));
		goto fail;
	}
	/* Linger, message size and heartbeats as at every node (zsock.h). */
	if ((srv->router = zsock_new(srv->ctx, ZMQ_ROUTER, err)) == NULL)
		goto fail;
	if (zsock_set(srv->router, ZMQ_CURVE_SERVER, "ZMQ_CURVE_SERVER", &one,
		sizeof one, err) ||
	    zsock_set(srv->router, ZMQ_CURVE_SECRETKEY, "ZMQ_CURVE_SECRETKEY",
		keys->secret_z85, KEYS_Z85_LEN, err) ||
	    zsock_set(srv->router, ZMQ_ZAP_DOMAIN, "ZMQ_ZAP_DOMAIN",
		"branchline", 10, err) ||
	    zsock_set(srv->router, ZMQ_ROUTER_MANDATORY, "ZMQ_ROUTER_MANDATORY",
		&one, sizeof one, err) ||
	    zsock_set(srv->router, ZMQ_SNDHWM, "ZMQ_SNDHWM", &hwm, sizeof hwm,
		err))
		goto fail;
	if (zmq_bind(srv->router, listen) != 0) {
		err_set(err, ERR_UNAVAILABLE, "sync: bind %s: %s", listen,
		    zmq_strerror(zmq_errno()));
		goto fail;
	}
	zmq_getsockopt(srv->router, ZMQ_LAST_ENDPOINT, endpoint, &size);
	colon = strrchr(endpoint, ':');
	*bound_port = colon ? atoi(colon + 1) : -1;
	srv->zap_ev = zev_new(base, srv->zap, s_on_zap, srv);
	srv->router_ev = zev_new(base, srv->router, s_on_router, srv);
	srv->tick = event_new(base, -1, EV_PERSIST, s_on_tick, srv);
	event_add(srv->tick, &second);
	return srv;
fail:
	server_destroy(&srv);
	return NULL;
}

void
server_destroy(server_t **self_p)
{
	server_t *srv;
	int zero = 0;

	if (self_p == NULL || *self_p == NULL)
		return;
	srv = *self_p;
	while (srv->sessions != NULL)
		s_session_drop(srv, srv->sessions);
	if (srv->tick != NULL)
		event_free(srv->tick);
	zev_destroy(&srv->router_ev);
	zev_destroy(&srv->zap_ev);
	if (srv->router != NULL)
		zmq_close(srv->router); /* zsock_new set no linger */
	if (srv->zap != NULL) {
		zmq_setsockopt(srv->zap, ZMQ_LINGER, &zero, sizeof zero);
		zmq_close(srv->zap);
	}
	if (srv->ctx != NULL)
		zmq_ctx_term(srv->ctx);
	cbw_free(&srv->out);
	health_destroy(&srv->health);
	free(srv);
	*self_p = NULL;
}
