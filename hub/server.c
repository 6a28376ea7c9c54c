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
 * must say HELLO first; then it may PUSH (received into the inbox in one
 * transaction with the other PUSHes waiting, acknowledged only after its
 * commit, applied after: s_apply_slice), PULL (credit for OPS batches,
 * streamed as long as credit lasts and again whenever the log grows),
 * BACKFILL (one batch of what it became entitled to see, proto.h) and
 * PING. A revoked site's session is closed within a second (at once when
 * there is something to stream to it), answered 403 and its connection
 * cut (peer.h). So is the connection of a session replaced by a newer
 * one of its site, of one that has acknowledged none of its OPS in flight
 * for SESSION_STALL_MS, and of one silent for SESSION_IDLE_MS: what libzmq
 * queued for it is freed. A site moved to another region (bl-hub region)
 * has its session ended and its connection cut within a second too, so
 * that it comes back streamed by its new region.
 */
#include <assert.h>
#include <errno.h>
#include <malloc.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "chain.h"
#include "hub.h"
#include "log.h"
#include "peer.h"
#include "pgstore.h"
#include "proto.h"
#include "text.h"
#include "zsock.h"

#ifdef __SANITIZE_ADDRESS__
/* The sanitizer's allocator's malloc_trim (sanitizer/allocator_interface.h,
 * which GCC does not ship). */
void __sanitizer_purge_allocator(void);
#endif

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define SESSION_IDLE_MS (120 * 1000)
/* A session heard from within this is live (nodes PING every 2 s): a
 * second copy of its site is refused while it is. */
#define SESSION_LIVE_MS (7 * 1000)
/* A hub of a cluster marks its live sessions as seen in PostgreSQL this
 * often (s_sessions_seen): a copy of a site connected to another hub is
 * refused while the site's row was seen within SESSION_LIVE_MS plus this
 * (s_cluster_live_session). */
#define SESSION_SEEN_EVERY_MS 2000
/* OPS batches a node may have in flight, and their size: what one
 * connection can pin in the hub's memory (a reader that never reads) is
 * at most SESSION_CREDIT_MAX x (OPS_BATCH_BYTES + one op), 2 MB. A batch
 * stays in flight until a PULL's cursor reaches past it, so a node that
 * sends PULLs without reading gains no credit (s_on_credit). A PULL with
 * restart forgets what was in flight, so whatever a peer sends, libzmq
 * queues at most SESSION_QUEUE_MAX messages for it (ZMQ_SNDHWM; a send
 * beyond is refused and retried later), besides the one it is sending:
 * about 4 MB of OPS. */
#define SESSION_CREDIT_MAX 8
#define OPS_BATCH_BYTES (256 * 1024)
#define SESSION_QUEUE_MAX (2 * SESSION_CREDIT_MAX)
/* A session with OPS in flight that has acknowledged none of them (a
 * PULL whose cursor reaches past one) for this long is stalled: it is
 * ended and its connection cut (peer.h), which frees what it pinned. A
 * node PULLs after each batch it applies, within seconds; this allows a
 * batch of 256 kB over a link of 40 kbit/s. Tests shorten it with
 * BL_TEST_SESSION_STALL_MS. */
#define SESSION_STALL_MS (60 * 1000)
/* Connections waiting to be accepted (libzmq's default is 100): a hub
 * restart sees every site reconnect at once. The kernel caps it at
 * net.core.somaxconn. (libzmq's ZMQ_MAX_SOCKETS counts sockets, of which
 * the hub has two; what bounds its connections is the descriptor limit,
 * which bl-hub run raises.) */
#define SYNC_BACKLOG 4096
/* After a connection is cut, how long before the memory it held, freed
 * meanwhile by libzmq, is given back to the system (malloc_trim). */
#define TRIM_AFTER_MS 2000
/* How often ops quarantined for a clock ahead are tried again. */
#define QUARANTINE_RETRY_MS (60 * 1000)
#define RID_MAX 256
/* Sessions are found by the routing id libzmq gives each connection, at
 * every message: 10,000 sites PINGing every 2 s are 5,000 lookups a
 * second, so a hash of the ids, not a walk of the list. */
#define SESSION_BUCKETS 16384
/* DIGESTs a session may send at once, then one more every
 * DIGEST_EVERY_MS: an honest check needs about 2 log2(n) per hole. */
#define DIGEST_BURST 256
#define DIGEST_EVERY_MS 100
/* BACKFILLs likewise (a node asks for one batch at a time, as it applies
 * them), and the lsns a batch of a region's or a site's stock looks
 * through at most, so that an answer costs a bounded scan of the log. */
#define BACKFILL_BURST 64
#define BACKFILL_EVERY_MS 10
#define BACKFILL_SCAN 20000
/* The lsns one OPS batch looks through at most (s_stream): a store that
 * sees few of the log's ops gets them in batches that each cost a bounded
 * scan, so that its catch-up never holds the hub's loop for long. A
 * batch that ends at the bound, full or not, moves the cursor to it.
 * Tests shorten it with BL_TEST_STREAM_SCAN. */
#define STREAM_SCAN 50000
/* A session's requests refused for their pace, or BACKFILLs refused for
 * what they ask, are logged once this long (the first at once, then how
 * many more), not a line each: a peer that floods would otherwise grow
 * the log without bound. */
#define PACE_LOG_MS (10 * 1000)
/* PUSHes taken in one transaction at most (s_on_push): those waiting in
 * the ROUTER together share it and its fsync, each acknowledged once the
 * COMMIT is done. */
#define GROUP_MAX 64
/* A hub of a cluster holds the shared log's append lock for its group's
 * whole transaction (pgstore.h), and applies all of it there: its group
 * closes once it holds this many ops, so that another hub's write waits
 * for about one such group (PostgreSQL grants the lock in the order it
 * was asked), not for a flood (test_cluster_flood). */
#define GROUP_SHARED_OPS 4096
/* A group is closed as well before the ops of its PUSHes would pass an
 * eighth of the WAL bound (wal_bound_mb, ckpt.h; a PUSH larger than that
 * is a group of its own), and a slice of the backlog once its rows pass a
 * sixteenth (it writes the ops again, with what they change): a
 * transaction, the group's with its inline slice, then stays under a
 * quarter of the bound, which the checkpointer needs (it checkpoints in
 * the writer from three quarters on), however large the ops one site
 * pushes, as long as one PUSH is no more than that (PROTO_BATCH_BYTES,
 * 1 MB, the nodes' batches; PROTO_MAX_MSG, 8 MB, a hostile site's, is
 * more than the smallest bounds allow). */
#define GROUP_BOUND_SHARE 8
#define SLICE_BOUND_SHARE 16
/* The ops received and acknowledged are applied afterwards, in slices of
 * at most APPLY_SLICE a transaction (s_apply_slice): once no PUSH was
 * taken for APPLY_QUIET_MS, so that a burst of PUSHes is taken in first,
 * but never later than APPLY_WAIT_MS after the backlog last was empty:
 * from then on one slice every APPLY_GAP_MS, PUSHes or not, between two
 * groups, until none waits, so that the loop alternates taking in and
 * applying and no pattern of PUSHes (a site's steady trickle) holds the
 * applying back for everyone (s_on_apply);
 * before a session is served what the hub holds (HELLO, PULL, BACKFILL,
 * DIGEST, FETCH, RELAY), when no more than APPLY_SETTLE_MAX wait, so that
 * what a node pushed is applied before its sync ends; and at once, as
 * PUSHes come, while more than APPLY_BACKLOG_MAX wait (about 300 MB of
 * the database), so that what the state lags behind what was
 * acknowledged stays bounded under any load. */
#define APPLY_SLICE VISIBILITY_APPLY_SLICE
#define APPLY_QUIET_MS 20
#define APPLY_WAIT_MS 100
/* A group that brings the backlog to no more than this is applied in its
 * own transaction, before it is acknowledged: what a quiet hub
 * acknowledges it shows at once, as a hub that applied at once did. */
#define APPLY_NOW_MAX 1000
#define APPLY_SETTLE_MAX APPLY_SLICE
#define APPLY_BACKLOG_MAX 1000000
/* A slice that failed (storage) is tried again after this long. Between
 * two slices applied in the background, the database is left alone this
 * long, so that a command (bl-hub enroll, ...) waiting for it gets in. */
#define APPLY_RETRY_MS 1000
#define APPLY_GAP_MS 5
/* What a hub stopping applies of its backlog at most (systemd gives it 30
 * s, deploy/bl-hub.service.in). */
#define APPLY_STOP_MS (20 * 1000)

typedef enum {
	SESSION_START,	/* connected, no HELLO yet */
	SESSION_READY,	/* HELLO accepted */
	SESSION_CLOSED, /* refused for good (revoked, version) */
} session_state_t;

/* Refusals of a kind a session was answered, logged once every
 * PACE_LOG_MS (s_refused). */
typedef struct {
	uint64_t logged_ms;		   /* a refusal last logged; 0: none */
	uint64_t refused_ms;		   /* the last refusal */
	uint64_t refused;		   /* refused since, not logged */
	int status;			   /* the last refusal's */
	char reason[PROTO_REASON_MAX + 1]; /* likewise */
} refusals_t;

/* A kind of request a session may send a burst of, then one more every
 * so often (s_paced). */
typedef struct {
	uint64_t refill_ms; /* the last refill */
	unsigned spent;	    /* how many of the burst are spent */
	refusals_t over;    /* those refused 503 */
} pace_t;

typedef struct session {
	struct session *next, **prev_next; /* the list of every session */
	struct session *bucket_next;	   /* the one of its bucket */
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
	uint64_t ack_owed; /* a PUSH_ACK its queue refused: sent again */
	uint64_t last_rx_ms;
	uint64_t waiting_ms; /* OPS in flight since, none acked; 0: none */
	uint64_t inflight[SESSION_CREDIT_MAX]; /* cursor_after of each */
	int ninflight;			       /* OPS not acked yet */
	peer_t *peer;	  /* its connection, to cut it (peer.h) */
	int peer_warned;  /* a failure to note it was logged */
	pace_t digests;	  /* DIGESTs answered (s_paced) */
	pace_t backfills; /* BACKFILLs answered, likewise */

	/* BACKFILLs refused 403 (s_may_backfill) */
	refusals_t forbidden;
} session_t;

/* A site not revoked, as the tick read the registry (s_reg_read). */
typedef struct {
	char id[OP_SITE_MAX + 1];
	char region[64]; /* as session_t's */
} reg_site_t;

struct server {
	struct event_base *base;
	store_t *store;
	void *ctx, *router, *zap;
	zev_t *router_ev, *zap_ev;
	struct event *tick;
	session_t *sessions;
	session_t *by_rid[SESSION_BUCKETS]; /* s_rid_bucket */
	cbw_t out;			    /* scratch for outgoing messages */
	uint64_t ops_in, ops_out;
	health_t *health;      /* what sites report of their disks */
	uint64_t retried_ms;   /* the quarantine's last automatic retry */
	uint64_t started_ms;   /* when this hub process started */
	uint64_t silent_ms;    /* a site not heard from this long is alerted */
	uint64_t stall_ms;     /* SESSION_STALL_MS, or the test's */
	uint64_t stream_scan;  /* STREAM_SCAN, or the test's */
	uint64_t cut, stalled; /* connections cut; of them, stalled */
	uint64_t trim_ms;      /* when to give freed memory back, 0: no */
	recover_t *recover;    /* our signatures; a restored hub's wait */
	uint64_t sites_max;    /* connections the descriptors allow, 0: unset */
	/* PUSHes taken in the open transaction, acknowledged at its COMMIT
	 * (s_group_end), which comes before any other message is handled
	 * and at the end of the ROUTER's burst. */
	struct {
		int open;
		size_t n;
		session_t *session[GROUP_MAX];
		uint64_t held[GROUP_MAX]; /* what each PUSH_ACK says */
		uint64_t ops;		  /* new ops received in it */
		size_t bytes;		  /* of its PUSHes' ops */
	} group;
	size_t group_bytes;	/* a group closes past this */
	size_t slice_bytes;	/* a slice of the backlog ends past this */
	uint64_t backlog;	/* ops received, not applied yet */
	uint64_t pushed_ms;	/* a PUSH last taken */
	uint64_t waiting_ms;	/* since when the backlog is not empty, 0 */
	uint64_t applied;	/* ops applied from the inbox */
	struct event *apply_ev; /* the next slice of the backlog */
	reg_site_t *reg;	/* the tick's read of the registry */
	size_t nreg, reg_cap;
	uint64_t seen_ms;	      /* live sessions last marked as seen */
	char seen_error[ERR_MSG_MAX]; /* why marking them fails, "" */
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

/* Logs what r (the session's) holds refused and not logged yet, when
 * there is some: "N more refused in T s", T from the last line to the
 * last refusal. */
static void
s_refusals_log(const session_t *s, refusals_t *r)
{
	if (r->refused == 0)
		return;
	log_warn("site %s: %d %s: %llu more refused in %llu s",
	    s->site[0] ? s->site : "?", r->status, r->reason,
	    (unsigned long long)r->refused,
	    (unsigned long long)((r->refused_ms - r->logged_ms) / 1000));
	r->refused = 0;
}

/* One more request refused with status for reason at now, counted in r:
 * the first (of the session, or since they stopped) is logged at once,
 * the others once every PACE_LOG_MS with how many (s_refusals_log;
 * s_refusals_quiet when they stop). */
static void
s_refused(const session_t *s, refusals_t *r, int status, const char *reason,
    uint64_t now)
{
	r->status = status;
	snprintf(r->reason, sizeof r->reason, "%s", reason);
	r->refused_ms = now;
	if (r->logged_ms == 0) {
		log_warn("site %s: %d %s (more such refusals: a line every "
			 "%d s)",
		    s->site[0] ? s->site : "?", status, reason,
		    PACE_LOG_MS / 1000);
		r->logged_ms = now;
		return;
	}
	r->refused++;
	if (now - r->logged_ms >= PACE_LOG_MS) {
		s_refusals_log(s, r);
		r->logged_ms = now;
	}
}

/* At each tick, and as a session goes (end): refusals that stopped a
 * PACE_LOG_MS ago are logged, and the next one is logged at once again. */
static void
s_refusals_quiet(const session_t *s, refusals_t *r, uint64_t now, int end)
{
	if (r->logged_ms == 0 || (!end && now - r->refused_ms < PACE_LOG_MS))
		return;
	s_refusals_log(s, r);
	r->logged_ms = 0;
}

/* s_refusals_quiet of each kind of s's. */
static void
s_session_quiet(session_t *s, uint64_t now, int end)
{
	s_refusals_quiet(s, &s->digests.over, now, end);
	s_refusals_quiet(s, &s->backfills.over, now, end);
	s_refusals_quiet(s, &s->forbidden, now, end);
}

/* The bucket of a routing id in srv->by_rid (FNV-1a). */
static session_t **
s_rid_bucket(server_t *srv, const uint8_t *rid, size_t len)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ rid[i]) * 16777619u;
	return &srv->by_rid[h % SESSION_BUCKETS];
}

/* The session of routing id rid; with create, a new one when there is
 * none (NULL for an id longer than RID_MAX). srv owns it until
 * s_session_drop. */
static session_t *
s_session(server_t *srv, const uint8_t *rid, size_t len, int create)
{
	session_t **bucket = s_rid_bucket(srv, rid, len), *s;

	for (s = *bucket; s != NULL; s = s->bucket_next)
		if (s->rid_len == len && memcmp(s->rid, rid, len) == 0)
			return s;
	if (!create || len > RID_MAX)
		return NULL;
	s = calloc(1, sizeof *s);
	if (s == NULL)
		fatal("hub: out of memory");
	memcpy(s->rid, rid, len);
	s->rid_len = len;
	s->peer = peer_new();
	s->next = srv->sessions;
	if (s->next != NULL)
		s->next->prev_next = &s->next;
	s->prev_next = &srv->sessions;
	srv->sessions = s;
	s->bucket_next = *bucket;
	*bucket = s;
	return s;
}

/* Frees gone, taking it out of the list and of its bucket. */
static void
s_session_drop(server_t *srv, session_t *gone)
{
	session_t **p = s_rid_bucket(srv, gone->rid, gone->rid_len);

	while (*p != gone) {
		assert(*p != NULL);
		p = &(*p)->bucket_next;
	}
	*p = gone->bucket_next;
	*gone->prev_next = gone->next;
	if (gone->next != NULL)
		gone->next->prev_next = gone->prev_next;
	s_session_quiet(gone, 0, 1);
	peer_destroy(&gone->peer);
	free(gone);
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

/* Ends session s (dropped at the next tick) and cuts its connection
 * (peer.h), so that libzmq frees what it still holds for it; why, for the
 * log line, says what for. A connection already gone is no failure. */
static void
s_cut(server_t *srv, session_t *s, const char *why)
{
	const char *site = s->site[0] ? s->site : "?";
	err_t err;

	s->gone = 1;
	if (peer_cut(s->peer, &err) == 0) {
		srv->cut++;
		if (srv->trim_ms == 0)
			srv->trim_ms = hlc_wall_ms() + TRIM_AFTER_MS;
		log_info("site %s: %s: connection %s cut", site, why,
		    peer_name(s->peer));
	} else if (err.code == ERR_NOT_FOUND) {
		log_info("site %s: %s: %s", site, why, err.msg);
	} else {
		log_warn("site %s: %s: %s", site, why, err.msg);
	}
}

/* A PULL: the node has applied every batch up to cursor, which leave the
 * in-flight list, and asks for credit more batches. It never has more than
 * SESSION_CREDIT_MAX in flight, counted by what it acknowledged, not by
 * what it asked: a reader that PULLs without reading pins no more. Only an
 * acknowledgement restarts the stall clock (SESSION_STALL_MS). */
static void
s_on_credit(session_t *s, uint64_t cursor, uint64_t credit)
{
	int acked = 0;

	while (acked < s->ninflight && s->inflight[acked] <= cursor)
		acked++;
	memmove(s->inflight, s->inflight + acked,
	    (size_t)(s->ninflight - acked) * sizeof *s->inflight);
	s->ninflight -= acked;
	if (acked > 0)
		s->waiting_ms = s->ninflight > 0 ? hlc_wall_ms() : 0;
	if (credit > SESSION_CREDIT_MAX)
		credit = SESSION_CREDIT_MAX;
	s->credit += credit;
	if (s->credit > (uint64_t)(SESSION_CREDIT_MAX - s->ninflight))
		s->credit = (uint64_t)(SESSION_CREDIT_MAX - s->ninflight);
}

/* Sends OPS batches while the session has credit and the log has ops it
 * has not seen. A node's own ops are not echoed back, except those the hub
 * held above what the node had at HELLO (a node restored from an old
 * backup gets them back; what it pushes later comes after them). */
/* The latest signature over our own chain at or below seq (proto.h, OPS):
 * its seq in *sig_seq and hex in sig, or 0 and "". */
static void
s_own_sig(server_t *srv, uint64_t seq, uint64_t *sig_seq,
    char sig[PROTO_SIG_HEX + 1])
{
	sqlite3_stmt *q = store_stmt(srv->store,
	    "SELECT seq, sig FROM push_sigs WHERE origin = ? AND seq <= ? "
	    "ORDER BY seq DESC LIMIT 1");

	*sig_seq = 0;
	sig[0] = '\0';
	sqlite3_bind_text(q, 1, store_site(srv->store), -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, (int64_t)seq);
	if (seq > 0 && store_row(srv->store, q) &&
	    sqlite3_column_bytes(q, 1) == CHAIN_SIG_BYTES) {
		*sig_seq = (uint64_t)sqlite3_column_int64(q, 0);
		sodium_bin2hex(sig, PROTO_SIG_HEX + 1,
		    sqlite3_column_blob(q, 1), CHAIN_SIG_BYTES);
	}
	sqlite3_reset(q);
}

/* The log's last lsn, 0 when empty; at a hub of a cluster the shared
 * log's last position applied here, which may be past it when the ops
 * there were quarantined (pgstore.h). */
static uint64_t
s_head(server_t *srv)
{
	return (uint64_t)store_query_int(srv->store,
	    store_stmt(srv->store,
		"SELECT max(ifnull((SELECT max(lsn) FROM op_log), 0), "
		"ifnull((SELECT value FROM meta WHERE name = 'pg_applied'), "
		"0))"),
	    0);
}

/* Sends s what it may see of the log up to head (s_head, read once by a
 * caller that streams to every session), as far as its credit goes. */
static int
s_stream_to(server_t *srv, session_t *s, uint64_t head)
{
	sqlite3_stmt *q;
	uint64_t last, own_max, sig_seq, upto;
	char sig[PROTO_SIG_HEX + 1];
	size_t n, bytes;
	cbw_t batch;
	int rc;

	if (s->state != SESSION_READY || !s->streaming || s->gone)
		return 0;
	/* Nothing more for a site revoked since its last batch: revoke acts
	 * when it returns, not at the next tick. */
	if (s->sent < head && !s_site_active(srv, s->site, NULL)) {
		health_forget(srv->health, s->site);
		s->state = SESSION_CLOSED;
		s_send_error(srv, s, ERR_FORBIDDEN, "site revoked");
		s_cut(srv, s, "revoked");
		return 0;
	}
	cbw_init(&batch);
	while (s->credit > 0 && s->sent < head) {
		/* What this site may see (visibility.c): head office all;
		 * an op of an order family if order_sites lists the site
		 * now, another by the tags it was logged with. */
		q = store_stmt(srv->store,
		    "SELECT lsn, body, CASE origin WHEN ?8 THEN seq END "
		    "FROM op_log WHERE lsn > ?1 AND lsn <= ?9 AND "
		    "NOT (origin = ?2 AND (seq <= ?3 OR "
		    "seq > ?5)) AND (?6 = 'hq' OR CASE WHEN vis_order IS NOT NULL "
		    "THEN EXISTS (SELECT 1 FROM order_sites WHERE order_id = "
		    "vis_order AND site = ?2) ELSE (vis_site IS NULL AND "
		    "vis_site2 IS NULL AND vis_region IS NULL) OR vis_site = ?2 "
		    "OR vis_site2 = ?2 OR vis_region = '*' OR vis_region = ?7 "
		    "END) ORDER BY lsn LIMIT ?4");
		sqlite3_bind_int64(q, 1, (int64_t)s->sent);
		sqlite3_bind_text(q, 2, s->site, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 3, (int64_t)s->own_seq);
		sqlite3_bind_int(q, 4, PROTO_MAX_BATCH);
		sqlite3_bind_int64(q, 5, (int64_t)s->held_seq);
		sqlite3_bind_text(q, 6, s->role, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 7, s->region, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 8, store_site(srv->store), -1,
		    SQLITE_STATIC);
		upto = head - s->sent > srv->stream_scan
		    ? s->sent + srv->stream_scan
		    : head;
		sqlite3_bind_int64(q, 9, (int64_t)upto);
		cbw_reset(&batch);
		own_max = 0;
		n = 0;
		bytes = 0;
		last = upto;
		while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
			cbw_raw(&batch, sqlite3_column_blob(q, 1),
			    (size_t)sqlite3_column_bytes(q, 1));
			last = (uint64_t)sqlite3_column_int64(q, 0);
			if (sqlite3_column_type(q, 2) == SQLITE_INTEGER &&
			    (uint64_t)sqlite3_column_int64(q, 2) > own_max)
				own_max = (uint64_t)sqlite3_column_int64(q, 2);
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
		 * everything up to its bound (the LIMIT also ends in DONE). */
		if (rc == SQLITE_DONE && n < PROTO_MAX_BATCH)
			last = upto;
		s_own_sig(srv, own_max, &sig_seq, sig);
		proto_ops_begin(&srv->out, s->sent, last, head, sig_seq, sig,
		    n);
		cbw_raw(&srv->out, batch.data, batch.len);
		if (s_send(srv, s) != 0)
			break; /* queue full or peer gone: resume later */
		s->sent = last;
		s->credit--;
		srv->ops_out += n;
		assert(s->ninflight < SESSION_CREDIT_MAX);
		s->inflight[s->ninflight++] = last;
		if (s->waiting_ms == 0)
			s->waiting_ms = hlc_wall_ms();
	}
	cbw_free(&batch);
	return 0;
}

static int
s_stream(server_t *srv, session_t *s)
{
	if (s->state != SESSION_READY || !s->streaming || s->gone)
		return 0;
	return s_stream_to(srv, s, s_head(srv));
}

/* A signed batch as the hub takes it (proto.h): PUSH carries the
 * session's site's own ops, RELAY ops of the hub's own given back by a
 * node. */
typedef struct {
	const char *what;	/* "push" or "relay", for messages */
	const char *origin;	/* every op's */
	const char *not_origin; /* why an op of another origin is refused */
	const uint8_t *pk;	/* the key its chain is signed with */
	const char *role;	/* the origin's, for the merge rules */
	int relay;		/* RELAY: a conflict is not recorded */
} batch_t;

/* Where one batch's part of the open transaction begins (a savepoint),
 * so that a refused batch is undone alone (s_part_undo). */
typedef struct {
	store_mark_t mark;
} part_t;

static void s_group_lost(server_t *srv, const char *why);

/* Undoes what the refused batch did since part; when the whole
 * transaction went with it, the group it was part of is lost too. */
static void
s_part_undo(server_t *srv, part_t *part)
{
	if (store_rollback_to(srv->store, &part->mark) != 0)
		s_group_lost(srv, "the transaction was rolled back");
}

/* Keeps op, refused as a conflict, in the open transaction (its batch was
 * undone), logs it and answers 409 with the reason: the node must not go
 * on sending a log that differs from the hub's. */
static void
s_keep_conflict(server_t *srv, session_t *s, const batch_t *b, const op_t *op,
    const uint8_t *body, size_t len, const char *reason)
{
	char msg[PROTO_REASON_MAX + 1];
	err_t err;

	log_warn("site %s: %s refused: %s", s->site, b->what, reason);
	if (srv->group.open &&
	    store_conflict(srv->store, op, body, len, reason, &err))
		log_warn("site %s: keeping a conflicting op failed: %s",
		    s->site, err.msg);
	text_printf(msg, sizeof msg, "%s: %s", b->what, reason);
	s_send_error(srv, s, ERR_CONFLICT, msg);
}

/* Inside the batch's transaction: the origin's chain up to last, as the
 * hub now holds it, must be what its key signed. Keeps the signature and
 * returns 0; or answers 403 (500 when storage failed) and returns -1,
 * the caller undoing the batch. */
static int
s_check_signature(server_t *srv, session_t *s, const batch_t *b,
    const proto_msg_t *msg, uint64_t first, uint64_t last)
{
	uint8_t chain[CHAIN_BYTES], sig[CHAIN_SIG_BYTES];
	char reason[PROTO_REASON_MAX + 1];
	sqlite3_stmt *q;
	err_t err;

	if (store_chain_at(srv->store, b->origin, last, chain, &err) ||
	    sodium_hex2bin(sig, sizeof sig, msg->sig, PROTO_SIG_HEX, NULL, NULL,
		NULL) != 0 ||
	    !chain_verify(b->pk, b->origin, last, chain, sig)) {
		snprintf(reason, sizeof reason,
		    "%s: ops %s/%llu-%llu: the signature does not match "
		    "them (altered on the way, or not signed by %s's key)",
		    b->what, b->origin, (unsigned long long)first,
		    (unsigned long long)last, b->origin);
		log_warn("site %s: %s", s->site, reason);
		s_send_error(srv, s, ERR_FORBIDDEN, reason);
		return -1;
	}
	q = store_stmt(srv->store,
	    "INSERT OR REPLACE INTO push_sigs(origin, seq, chain, sig, at) "
	    "VALUES (?, ?, ?, ?, ?)");
	sqlite3_bind_text(q, 1, b->origin, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, (int64_t)last);
	sqlite3_bind_blob(q, 3, chain, sizeof chain, SQLITE_TRANSIENT);
	sqlite3_bind_blob(q, 4, sig, sizeof sig, SQLITE_TRANSIENT);
	sqlite3_bind_int64(q, 5, (int64_t)hlc_wall_ms());
	if (store_step(srv->store, q, "keep a batch signature", &err)) {
		log_warn("site %s: %s failed: %s", s->site, b->what, err.msg);
		snprintf(reason, sizeof reason, "%s: hub storage failure",
		    b->what);
		s_send_error(srv, s, ERR_INTERNAL, reason);
		return -1;
	}
	return 0;
}

/* Takes a signed batch into the open transaction, in a part of its own
 * (part): every op of b's origin, in seq order with no gap, received into
 * the inbox (store_receive) to be applied after the COMMIT (s_apply_slice);
 * its ops' fields are checked but not decoded. 0 with the highest seq of
 * the origin now held in *up_to and the new ops in *taken (the caller
 * answers once committed); or -1 after answering ERROR, what the batch
 * did undone. */
static int
s_take_batch(server_t *srv, session_t *s, proto_msg_t *msg, const batch_t *b,
    part_t *part, uint64_t *up_to, uint64_t *taken)
{
	err_t err, why;
	op_t op;
	const uint8_t *body;
	size_t len;
	uint64_t held, first = 0, last = 0;
	ingest_result_t res;
	int rc;
	char reason[ERR_MSG_MAX];

	err_clear(&err);
	*taken = 0;
	if (store_origin_max_seq(srv->store, b->origin, &held, &err))
		goto fail_internal;
	while ((rc = proto_next_op_head(msg, &op, &body, &len, &err)) == 1) {
		if (strcmp(op.origin, b->origin) != 0) {
			snprintf(reason, sizeof reason, "%s: op %s/%llu: %s",
			    b->what, op.origin, (unsigned long long)op.seq,
			    b->not_origin);
			s_part_undo(srv, part);
			s_send_error(srv, s, ERR_FORBIDDEN, reason);
			return -1;
		}
		if (op.seq > held + 1) {
			snprintf(reason, sizeof reason,
			    "%s: op %s/%llu: gap, the hub holds up to %llu",
			    b->what, op.origin, (unsigned long long)op.seq,
			    (unsigned long long)held);
			s_part_undo(srv, part);
			s_send_error(srv, s, ERR_CONFLICT, reason);
			return -1;
		}
		err_clear(&why);
		if (first == 0)
			first = op.seq;
		last = op.seq;
		/* Above what the hub holds of its origin, it is new. */
		if (store_receive(srv->store, &op, body, len, b->role,
			op.seq > held, &res, &why)) {
			err = why;
			goto fail_internal;
		}
		if (res == INGEST_CONFLICT && b->relay) {
			/* Nothing proves it ours (its signature covers a chain
			 * we do not hold): refused, not kept. */
			s_part_undo(srv, part);
			snprintf(reason, sizeof reason,
			    "relay: op %s/%llu: differs from the op of ours "
			    "held under this seq",
			    op.origin, (unsigned long long)op.seq);
			s_send_error(srv, s, ERR_CONFLICT, reason);
			return -1;
		}
		if (res == INGEST_CONFLICT) {
			/* The node's log is not the one the hub holds: nothing
			 * of this batch is taken; the op stays on record. */
			s_part_undo(srv, part);
			s_keep_conflict(srv, s, b, &op, body, len, why.msg);
			return -1;
		}
		if (op.seq > held)
			held = op.seq;
		if (res == INGEST_APPLIED)
			++*taken;
	}
	if (rc < 0) {
		s_part_undo(srv, part);
		s_send_error(srv, s, ERR_BAD_REQUEST, err.msg);
		return -1;
	}
	/* Its new ops, one row. */
	if (store_receive_end(srv->store, &err))
		goto fail_internal;
	if (msg->nops > 0 && s_check_signature(srv, s, b, msg, first, last)) {
		s_part_undo(srv, part);
		return -1;
	}
	if (store_release(srv->store, &part->mark, &err))
		goto fail_internal;
	*up_to = held;
	return 0;
fail_internal:
	s_part_undo(srv, part);
	log_warn("site %s: %s failed: %s", s->site, b->what, err.msg);
	snprintf(reason, sizeof reason, "%s: hub storage failure", b->what);
	s_send_error(srv, s, ERR_INTERNAL, reason);
	return -1;
}

/* Opens the group's transaction if it is not open, and a part of it for
 * one batch: 0, or -1 after answering 500 (what: "push", "relay"). */
static int
s_part_begin(server_t *srv, session_t *s, const char *what, part_t *part)
{
	char reason[64];
	err_t err;

	if (!srv->group.open) {
		if (store_begin(srv->store, &err))
			goto fail;
		srv->group.open = 1;
		srv->group.n = 0;
		srv->group.ops = 0;
		srv->group.bytes = 0;
	}
	if (store_savepoint(srv->store, &part->mark, &err) == 0)
		return 0;
	s_group_lost(srv, err.msg);
fail:
	log_warn("site %s: %s failed: %s", s->site, what, err.msg);
	snprintf(reason, sizeof reason, "%s: hub storage failure", what);
	s_send_error(srv, s, ERR_INTERNAL, reason);
	return -1;
}

/* Commits the group's transaction and answers each PUSH it holds: then,
 * and only then, PUSH_ACK; 500 to all when the COMMIT fails. What was
 * received is applied in the same transaction when that is little work
 * (APPLY_NOW_MAX), else after (s_apply_schedule); in a savepoint, so that
 * an apply that fails is undone alone (logged, tried again by the
 * backlog's timer) and the PUSHes are committed and acknowledged all the
 * same. */
static void s_apply_schedule(server_t *srv);
static void s_push_ack(server_t *srv, session_t *s, uint64_t held);
static int s_apply_in(server_t *srv, size_t max, size_t *done, err_t *err);

static void
s_group_end(server_t *srv)
{
	uint64_t applied = 0;
	store_mark_t mark;
	size_t done;
	err_t err;
	size_t i;
	int failed, all, tries = 0;

	if (!srv->group.open)
		return;
	srv->group.open = 0;
	err_clear(&err);
	/* A hub of a cluster acknowledges a PUSH once its ops are in the
	 * shared log, which takes what this transaction logs (pgstore.h):
	 * all of it is applied now. */
	all = pgstore_attached(srv->store);
	if ((all || srv->backlog + srv->group.ops <= APPLY_NOW_MAX) &&
	    srv->backlog + srv->group.ops > 0) {
		if (store_savepoint(srv->store, &mark, &err)) {
			store_rollback(srv->store);
			goto end;
		}
		/* One slice: all of it, unless its bytes end it first. */
		/* A row that fails is moved out of the way the third time
		 * (store_apply_received): all of it is applied here. */
		do {
			if ((failed = s_apply_in(srv, APPLY_SLICE, &done,
				 &err)) == 0)
				applied += done;
		} while (all && (failed ? ++tries < 3 : done > 0));
		if (all && failed) {
			store_rollback(srv->store);
			goto end;
		}
		if (failed || store_release(srv->store, &mark, &err)) {
			log_warn("apply received ops: %s", err.msg);
			/* The PUSHes before the mark stay; the backlog's
			 * timer tries the apply again. */
			applied = 0;
			if (store_rollback_to(srv->store, &mark))
				goto end; /* the transaction is gone */
			err_clear(&err);
		}
	}
end:
	if (err.code != ERR_OK || store_commit(srv->store, &err)) {
		log_warn("push: commit of %zu batches: %s", srv->group.n,
		    err.msg);
		for (i = 0; i < srv->group.n; i++)
			s_send_error(srv, srv->group.session[i], ERR_INTERNAL,
			    "push: hub storage failure");
		srv->group.n = 0;
		return;
	}
	srv->ops_in += srv->group.ops;
	srv->backlog += srv->group.ops;
	srv->backlog = applied >= srv->backlog ? 0 : srv->backlog - applied;
	srv->applied += applied;
	for (i = 0; i < srv->group.n; i++)
		s_push_ack(srv, srv->group.session[i], srv->group.held[i]);
	srv->group.n = 0;
	if (applied > 0)
		server_notify(srv);
	s_apply_schedule(srv);
}

/* Sends PUSH_ACK up to held to s. One that libzmq refuses (the peer's
 * queue full: it pipelines PUSHes and reads nothing meanwhile) is owed,
 * and sent again at the next tick (s_ack_owed): a PUSH_ACK covers every
 * seq up to its own, so the highest refused is all that is owed. */
static void
s_push_ack(server_t *srv, session_t *s, uint64_t held)
{
	proto_push_ack(&srv->out, held);
	if (s_send(srv, s) == 0) {
		if (held >= s->ack_owed)
			s->ack_owed = 0;
	} else if (!s->gone && held > s->ack_owed) {
		s->ack_owed = held;
	}
}

/* At each tick: the PUSH_ACK s is owed, if any, sent again. */
static void
s_ack_owed(server_t *srv, session_t *s)
{
	if (s->ack_owed != 0 && !s->gone)
		s_push_ack(srv, s, s->ack_owed);
}

/* The group's transaction is gone (SQLite dropped it): every PUSH it held
 * is answered 500, none acknowledged. */
static void
s_group_lost(server_t *srv, const char *why)
{
	size_t i;

	log_warn("push: %zu batches lost with their transaction: %s",
	    srv->group.n, why);
	store_rollback(srv->store);
	for (i = 0; i < srv->group.n; i++)
		s_send_error(srv, srv->group.session[i], ERR_INTERNAL,
		    "push: hub storage failure");
	srv->group.open = 0;
	srv->group.n = 0;
}

/* The zev burst of the ROUTER is over: the PUSHes it took are committed
 * and acknowledged before any other event runs. */
static void
s_on_router_after(void *arg)
{
	s_group_end(arg);
}

/* A PUSH: the session's site's own ops, taken into the group. */
static void
s_on_push(server_t *srv, session_t *s, proto_msg_t *msg)
{
	char not_origin[64];
	batch_t b = { "push", s->site, not_origin, s->sign_pk, s->role, 0 };
	part_t part;
	uint64_t held, taken;
	size_t bytes = msg->reader.len - msg->reader.pos;

	snprintf(not_origin, sizeof not_origin,
	    "origin is not the authenticated site %s", s->site);
	/* One that would take the group past its bytes starts the next. */
	if (srv->group.open && srv->group.n > 0 &&
	    srv->group.bytes + bytes > srv->group_bytes)
		s_group_end(srv);
	if (s_part_begin(srv, s, "push", &part) ||
	    s_take_batch(srv, s, msg, &b, &part, &held, &taken))
		return;
	srv->pushed_ms = hlc_wall_ms();
	srv->group.session[srv->group.n] = s;
	srv->group.held[srv->group.n++] = held;
	srv->group.ops += taken;
	srv->group.bytes += bytes;
	if (srv->group.n == GROUP_MAX || srv->group.bytes >= srv->group_bytes ||
	    (srv->group.ops >= GROUP_SHARED_OPS &&
		pgstore_attached(srv->store)))
		s_group_end(srv);
}

/* A RELAY: ops of ours a node gives back to a hub restored from a backup
 * (proto.h), proven by our own signature; an empty one is the node's
 * report, with the highest seq of ours it has seen (recover.c). In a
 * transaction of its own (no PUSH is in a group when it is handled). */
static void
s_on_relay(server_t *srv, session_t *s, proto_msg_t *msg)
{
	const char *own = store_site(srv->store);
	char not_origin[64];
	batch_t b = { "relay", own, not_origin, recover_sign_pk(srv->recover),
		"hq", 1 };
	part_t part;
	uint64_t held, taken;
	err_t err;

	assert(!srv->group.open);
	snprintf(not_origin, sizeof not_origin,
	    "not an op of this hub's own (%s)", own);
	if (s_part_begin(srv, s, "relay", &part))
		return;
	if (s_take_batch(srv, s, msg, &b, &part, &held, &taken)) {
		if (srv->group.open) {
			store_rollback(srv->store);
			srv->group.open = 0;
		}
		return;
	}
	srv->group.open = 0;
	if (store_commit(srv->store, &err)) {
		log_warn("site %s: relay failed: %s", s->site, err.msg);
		s_send_error(srv, s, ERR_INTERNAL,
		    "relay: hub storage failure");
		return;
	}
	srv->backlog += taken;
	srv->ops_in += taken;
	s_apply_schedule(srv);
	if (msg->nops > 0)
		log_info("site %s gave back %zu ops of ours", s->site,
		    msg->nops);
	else if (recover_reported(srv->recover, s->site, msg->hub_seq, &err))
		log_warn("%s", err.msg); /* it reports again */
	proto_relay_ack(&srv->out, held, recover_recovering(srv->recover));
	s_send(srv, s);
}

/* ---- applying what was received ---- */

/* In the open transaction: applies about max ops of the inbox, no more
 * than a slice's bytes, *done of them (visibility_apply_received). */
static int
s_apply_in(server_t *srv, size_t max, size_t *done, err_t *err)
{
	return visibility_apply_received(srv->store, max, srv->slice_bytes,
	    done, err);
}

/* Applies the next slice of the backlog in a transaction of its own and
 * streams it: 0, or -1 when it failed (logged; tried again later). */
static int
s_apply_slice(server_t *srv)
{
	size_t done = 0;
	err_t err;

	assert(!srv->group.open);
	if (store_begin(srv->store, &err) ||
	    s_apply_in(srv, APPLY_SLICE, &done, &err) ||
	    store_commit(srv->store, &err)) {
		store_rollback(srv->store);
		log_warn("apply received ops: %s", err.msg);
		return -1;
	}
	srv->applied += done;
	if (done == 0 || done >= srv->backlog)
		srv->backlog = 0;
	else
		srv->backlog -= done;
	if (srv->backlog == 0)
		srv->waiting_ms = 0;
	if (done > 0)
		server_notify(srv);
	return 0;
}

/* Applies the whole backlog now when no more than max wait (0: any): 0,
 * or -1 when a slice failed. */
static int
s_apply_upto(server_t *srv, uint64_t max)
{
	if (srv->group.open || (max > 0 && srv->backlog > max))
		return 0;
	while (srv->backlog > 0)
		if (s_apply_slice(srv))
			return -1;
	return 0;
}

/* Before a session is served what the hub holds: what waits to be
 * applied is, unless that is more than a moment's work. */
static void
s_settle(server_t *srv)
{
	s_group_end(srv);
	if (srv->backlog > 0)
		s_apply_upto(srv, APPLY_SETTLE_MAX);
}

/* The backlog's timer: a slice once PUSHes have paused for
 * APPLY_QUIET_MS, or once the backlog has not been empty for
 * APPLY_WAIT_MS, whatever comes; then the next after APPLY_GAP_MS, until
 * none waits. The timer runs between two groups (s_group_end commits one
 * before any other event), so that a steady trickle of PUSHes is taken in
 * and applied in turn: the wait for a pause is bounded, and the applying
 * goes on under any pattern of PUSHes. */
static void
s_on_apply(evutil_socket_t fd, short what, void *arg)
{
	server_t *srv = arg;
	uint64_t now = hlc_wall_ms(), quiet = srv->pushed_ms + APPLY_QUIET_MS;
	uint64_t due;
	struct timeval tv = { 0, 0 };

	(void)fd;
	(void)what;
	if (srv->backlog == 0) {
		srv->waiting_ms = 0;
		return;
	}
	if (srv->waiting_ms == 0)
		srv->waiting_ms = now;
	due = srv->waiting_ms + APPLY_WAIT_MS;
	if (now < quiet && now < due) {
		/* PUSHes still come: they are taken in first, for a while. */
		tv.tv_usec = (suseconds_t)((quiet < due ? quiet : due) - now) *
		    1000;
	} else if (s_apply_slice(srv)) {
		tv.tv_sec = APPLY_RETRY_MS / 1000;
	} else if (srv->backlog == 0) {
		return;
	} else {
		tv.tv_usec = APPLY_GAP_MS * 1000;
	}
	event_add(srv->apply_ev, &tv);
}

/* A hub stopping: the backlog, slice by slice, for up to APPLY_STOP_MS;
 * a failure or the rest is left for the next start. */
static void
s_apply_before_stop(server_t *srv)
{
	uint64_t until = hlc_wall_ms() + APPLY_STOP_MS, applied = 0;
	size_t done = 1;
	err_t err;

	log_info("applying the %llu ops received, before stopping",
	    (unsigned long long)srv->backlog);
	while (done > 0 && hlc_wall_ms() < until) {
		if (store_begin(srv->store, &err) ||
		    s_apply_in(srv, APPLY_SLICE, &done, &err) ||
		    store_commit(srv->store, &err)) {
			store_rollback(srv->store);
			log_warn("apply received ops: %s", err.msg);
			return;
		}
		applied += done;
	}
	if (done > 0)
		log_info("%llu ops applied, the rest will be when it starts",
		    (unsigned long long)applied);
}

/* After a COMMIT that received ops: beyond APPLY_BACKLOG_MAX they are
 * applied at once, slice by slice; else once PUSHes pause. */
static void
s_apply_schedule(server_t *srv)
{
	struct timeval tv = { 0, APPLY_QUIET_MS * 1000 };

	if (srv->backlog == 0)
		srv->waiting_ms = 0;
	else if (srv->waiting_ms == 0)
		srv->waiting_ms = hlc_wall_ms();
	while (srv->backlog > APPLY_BACKLOG_MAX)
		if (s_apply_slice(srv))
			break;
	if (srv->backlog > 0 && !event_pending(srv->apply_ev, EV_TIMEOUT, NULL))
		event_add(srv->apply_ev, &tv);
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
		log_info("site %s: session replaced by a newer one", site);
		/* And its connection, unless the newer one came on it. */
		if (peer_same(o->peer, s->peer))
			o->gone = 1;
		else
			s_cut(srv, o, "replaced");
	}
	return 0;
}

/* The same across the hubs of a cluster (cluster.h, live_sessions): the
 * site is claimed for this incarnation in PostgreSQL, and a copy of it
 * connected to another hub makes s refused as above. PostgreSQL out of
 * reach refuses nothing (logged): each hub still keeps its own sessions
 * one per site, and the shared log still keeps each (origin, seq) once.
 * Returns 1 when s was refused. */
static int
s_cluster_live_session(server_t *srv, session_t *s, const char *site,
    const char *incarnation)
{
	char reason[PROTO_REASON_MAX + 1], holder[PROTO_INCARNATION_MAX + 1];
	char holder_hub[OP_SITE_MAX + 1];
	err_t err;
	int rc;

	rc = pgstore_session_claim(srv->store, site, incarnation,
	    SESSION_LIVE_MS + SESSION_SEEN_EVERY_MS, holder, sizeof holder,
	    holder_hub, sizeof holder_hub, &err);
	if (rc < 0)
		log_warn("site %s: hello: %s", site, err.msg);
	if (rc <= 0)
		return 0;
	snprintf(reason, sizeof reason,
	    "hello: site %s incarnation %s refused: incarnation %s of this "
	    "site is connected to hub %s (a copy of its data folder running "
	    "at the same time?)",
	    site, incarnation, holder, holder_hub);
	health_twin(srv->health, site, reason, hlc_wall_ms());
	s_send_error(srv, s, ERR_CONFLICT, reason);
	return 1;
}

/* A site whose claim another hub took while this hub holds a live
 * session of it (cluster_sessions_seen): the same incarnation moved there,
 * and its session here ends; another one got in there while this hub did
 * not mark its own (its loop or PostgreSQL stalled), and both are live: a
 * twin, alerted, and the session here is cut, so that it comes back to
 * the claim and is refused while the other lives. */
static void
s_claim_taken(void *arg, const char *site, const char *incarnation,
    const char *hub)
{
	server_t *srv = arg;
	char reason[PROTO_REASON_MAX + 1];
	session_t *s;

	for (s = srv->sessions; s != NULL; s = s->next) {
		if (s->state != SESSION_READY || s->gone ||
		    strcmp(s->site, site) != 0)
			continue;
		if (strcmp(s->incarnation, incarnation) == 0) {
			s_cut(srv, s, "moved to another hub of the cluster");
			continue;
		}
		snprintf(reason, sizeof reason,
		    "site %s incarnation %s cut: incarnation %s of this site "
		    "got in at hub %s meanwhile (a copy of its data folder "
		    "running at the same time?)",
		    site, s->incarnation, incarnation, hub);
		health_twin(srv->health, site, reason, hlc_wall_ms());
		s->state = SESSION_CLOSED;
		s_send_error(srv, s, ERR_CONFLICT, reason);
		s_cut(srv, s, "twin");
	}
}

/* Every SESSION_SEEN_EVERY_MS on a hub of a cluster: the sites of its
 * live sessions marked as seen in PostgreSQL (s_cluster_live_session),
 * those another hub took since ended (s_claim_taken). A failure is
 * logged when it starts and when it ends. */
static void
s_sessions_seen(server_t *srv, uint64_t now)
{
	const char **sites = NULL;
	size_t n = 0, cap = 0;
	session_t *s;
	err_t err;

	if (!pgstore_attached(srv->store) ||
	    now - srv->seen_ms < SESSION_SEEN_EVERY_MS)
		return;
	srv->seen_ms = now;
	for (s = srv->sessions; s != NULL; s = s->next) {
		if (s->state != SESSION_READY || s->gone ||
		    now - s->last_rx_ms > SESSION_LIVE_MS)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			if ((sites = realloc(sites, cap * sizeof *sites)) ==
			    NULL)
				fatal("hub: out of memory");
		}
		sites[n++] = s->site;
	}
	if (pgstore_sessions_seen(srv->store, sites, n, s_claim_taken, srv,
		&err) != 0) {
		if (strcmp(srv->seen_error, err.msg) != 0)
			log_warn("live sessions: %s", err.msg);
		snprintf(srv->seen_error, sizeof srv->seen_error, "%s",
		    err.msg);
	} else if (srv->seen_error[0] != '\0') {
		log_info("live sessions: marked again");
		srv->seen_error[0] = '\0';
	}
	free(sites);
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
	uint64_t held = 0, head, hub_seq = 0;
	int schema = store_schema_version();
	err_t err;

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
	/* A node that comes from another hub of the cluster finds here all
	 * that hub had (pgstore.h). */
	if (pgstore_tail(srv->store, NULL, &err)) {
		log_warn("site %s: hello: %s", site, err.msg);
		/* Behind what the node has seen: it would pull everything
		 * again; another hub serves it better. */
		if ((head = s_head(srv)) < msg->cursor) {
			snprintf(reason, sizeof reason,
			    "hello: this hub holds the shared log up to %llu, "
			    "behind cursor %llu, and cannot read it now",
			    (unsigned long long)head,
			    (unsigned long long)msg->cursor);
			s_send_error(srv, s, ERR_UNAVAILABLE, reason);
			return;
		}
	}
	/* Claimed last, once nothing else refuses it: a refused HELLO
	 * leaves no claim behind. */
	if (s_cluster_live_session(srv, s, site, msg->incarnation)) {
		snprintf(s->site, sizeof s->site, "%s", site);
		return;
	}
	store_origin_max_seq(srv->store, site, &held, NULL);
	head = s_head(srv);
	snprintf(s->site, sizeof s->site, "%s", site);
	snprintf(s->incarnation, sizeof s->incarnation, "%s", msg->incarnation);
	s->state = SESSION_READY;
	s->ack_owed = 0;
	s->own_seq = msg->seq;
	s->held_seq = held;
	s->sent = msg->cursor;
	s->credit = 0;
	s->streaming = 0;
	store_origin_max_seq(srv->store, store_site(srv->store), &hub_seq,
	    NULL);
	proto_welcome(&srv->out, store_site(srv->store), held, head, hub_seq,
	    recover_recovering(srv->recover), s->region);
	s_send(srv, s);
	log_info(
	    "site %s connected: holds seq %llu, hub holds %llu, cursor %llu of %llu",
	    site, (unsigned long long)msg->seq, (unsigned long long)held,
	    (unsigned long long)msg->cursor, (unsigned long long)head);
}

/* Anti-entropy covers a site's own ops (it holds them all): 0, or -1
 * after answering 403 for another origin. */
static int
s_only_own(server_t *srv, session_t *s, const char *what, const char *origin)
{
	char reason[PROTO_REASON_MAX + 1];

	if (strcmp(origin, s->site) == 0)
		return 0;
	snprintf(reason, sizeof reason,
	    "%s: %s: anti-entropy covers only a site's own ops", what, origin);
	s_send_error(srv, s, ERR_FORBIDDEN, reason);
	return -1;
}

/* Counts one more of what's requests (pace, the session's) when the
 * session has not spent its burst of them: one comes back every every_ms.
 * 0, or -1 after answering 503 with why (logged by s_refused). */
static int
s_paced(server_t *srv, session_t *s, pace_t *pace, const char *what,
    unsigned burst, unsigned every_ms)
{
	uint64_t now = hlc_wall_ms(), refill;
	char reason[PROTO_REASON_MAX + 1];

	refill = (now - pace->refill_ms) / every_ms;
	if (refill > 0) {
		pace->spent = refill >= pace->spent
		    ? 0
		    : pace->spent - (unsigned)refill;
		pace->refill_ms = now;
	}
	if (pace->spent >= burst) {
		snprintf(reason, sizeof reason,
		    "%s: more than %u at once: one more every %u ms", what,
		    burst, every_ms);
		s_refused(s, &pace->over, ERR_UNAVAILABLE, reason, now);
		proto_error(&srv->out, ERR_UNAVAILABLE, reason);
		s_send(srv, s);
		return -1;
	}
	pace->spent++;
	return 0;
}

/* Anti-entropy (proto.h): the hub's digest of the same range of the
 * session's own ops. Only a site's own: it holds them all. */
static void
s_on_digest(server_t *srv, session_t *s, const proto_msg_t *msg)
{
	char chain[PROTO_CHAIN_HEX + 1];
	uint64_t count = 0;
	err_t err;

	/* A digest costs a count over the range: a burst, then a pace. */
	if (s_only_own(srv, s, "digest", msg->site) ||
	    s_paced(srv, s, &s->digests, "digest", DIGEST_BURST,
		DIGEST_EVERY_MS))
		return;
	if (store_digest(srv->store, s->site, msg->lo, msg->hi, &count, chain,
		&err)) {
		log_warn("site %s: %s", s->site, err.msg);
		s_send_error(srv, s, ERR_INTERNAL,
		    "digest: hub storage failure");
		return;
	}
	proto_digest(&srv->out, s->site, msg->lo, msg->hi, count, chain);
	s_send(srv, s);
}

/* Anti-entropy: one op of the session's own the node lacks, sent back
 * as an OPS batch that leaves its cursor where the stream has it. */
static void
s_on_fetch(server_t *srv, session_t *s, const proto_msg_t *msg)
{
	sqlite3_stmt *q = store_stmt(srv->store,
	    "SELECT body FROM op_log WHERE origin = ? AND seq = ?");
	uint64_t head = s_head(srv);
	size_t n = 0;
	cbw_t op;

	if (s_only_own(srv, s, "fetch", msg->site))
		return;
	cbw_init(&op);
	sqlite3_bind_text(q, 1, s->site, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, (int64_t)msg->lo);
	if (store_row(srv->store, q)) {
		cbw_raw(&op, sqlite3_column_blob(q, 0),
		    (size_t)sqlite3_column_bytes(q, 0));
		n = 1;
	}
	sqlite3_reset(q);
	/* From and to the same cursor: the node tells it from the stream. */
	proto_ops_begin(&srv->out, s->sent, s->sent, head, 0, "", n);
	cbw_raw(&srv->out, op.data, op.len);
	cbw_free(&op);
	s_send(srv, s);
	log_info("site %s: gave back its op %s/%llu%s", s->site, s->site,
	    (unsigned long long)msg->lo, n ? "" : " (not held here either)");
}

/* Whether the session's site may see key's ops now (proto.h, BACKFILL):
 * head office all; an order's family if order_sites lists the site for
 * it; a region's stock if it is the site's region in the registry now; a
 * site's stock if that site is a warehouse or in the same region now.
 * 0, or -1 after answering 403 with why (logged by s_refused). */
static int
s_may_backfill(server_t *srv, session_t *s, const char *key)
{
	char reason[PROTO_REASON_MAX + 1], region[sizeof s->region] = "";
	sqlite3_stmt *q;
	int may = 0;

	if (strcmp(s->role, "hq") == 0)
		return 0;
	if (strncmp(key, "order:", 6) == 0) {
		q = store_stmt(srv->store,
		    "SELECT 1 FROM order_sites WHERE order_id = ? AND site = ?");
		sqlite3_bind_text(q, 1, key + 6, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 2, s->site, -1, SQLITE_STATIC);
		may = store_row(srv->store, q);
		sqlite3_reset(q);
		snprintf(reason, sizeof reason,
		    "backfill: %s: site %s may not see this order", key,
		    s->site);
	} else if (strncmp(key, "site:", 5) == 0) {
		char other[sizeof s->region] = "", id[OP_SITE_MAX + 1];

		/* A site id (proto_decode): its 1 to OP_SITE_MAX bytes. */
		snprintf(id, sizeof id, "%.*s", OP_SITE_MAX, key + 5);
		q = store_stmt(srv->store,
		    "SELECT a.region, b.region, b.role = 'warehouse' "
		    "FROM sites a, sites b WHERE a.id = ? AND b.id = ?");
		sqlite3_bind_text(q, 1, s->site, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 2, id, -1, SQLITE_STATIC);
		if (store_row(srv->store, q)) {
			snprintf(region, sizeof region, "%s",
			    sqlite3_column_text(q, 0));
			snprintf(other, sizeof other, "%s",
			    sqlite3_column_text(q, 1));
			may = sqlite3_column_int(q, 2) ||
			    strcmp(region, other) == 0;
			snprintf(reason, sizeof reason,
			    "backfill: site:%s: site %s is in region %s, %s "
			    "in %s",
			    id, s->site, region, id, other);
		} else {
			snprintf(reason, sizeof reason,
			    "backfill: site:%s: no such site", id);
		}
		sqlite3_reset(q);
	} else {
		q = store_stmt(srv->store,
		    "SELECT region FROM sites WHERE id = ?");
		sqlite3_bind_text(q, 1, s->site, -1, SQLITE_STATIC);
		if (store_row(srv->store, q))
			snprintf(region, sizeof region, "%s",
			    sqlite3_column_text(q, 0));
		sqlite3_reset(q);
		may = strcmp(region, key + 7) == 0;
		snprintf(reason, sizeof reason,
		    "backfill: %s: site %s is in region %s", key, s->site,
		    region);
	}
	if (may)
		return 0;
	s_refused(s, &s->forbidden, ERR_FORBIDDEN, reason, hlc_wall_ms());
	proto_error(&srv->out, ERR_FORBIDDEN, reason);
	s_send(srv, s);
	return -1;
}

/* What each kind of backfill key (proto.h) reads: the ops of the name
 * after its prefix (?1) with lsn in (?2, ?5], not of origin ?3, at most
 * ?4, in lsn order. An order's family is read by its index (vis_order,
 * lsn); a region's stock, and a site's, by lsn, at most BACKFILL_SCAN
 * lsns a batch (scan), so that no answer scans the whole log. */
static const struct {
	const char *prefix;
	int scan;
	const char *sql;
} s_backfill_keys[] = {
	{ "order:", 0,
	    "SELECT lsn, body FROM op_log WHERE vis_order = ?1 AND lsn > ?2 "
	    "AND lsn <= ?5 AND origin != ?3 ORDER BY lsn LIMIT ?4" },
	{ "region:", 1,
	    "SELECT lsn, body FROM op_log WHERE lsn > ?2 AND lsn <= ?5 AND "
	    "vis_region = ?1 AND entity = 'stock_movement' AND origin != ?3 "
	    "ORDER BY lsn LIMIT ?4" },
	{ "site:", 1,
	    "SELECT lsn, body FROM op_log WHERE lsn > ?2 AND lsn <= ?5 AND "
	    "vis_site = ?1 AND entity = 'stock_movement' AND origin != ?3 "
	    "ORDER BY lsn LIMIT ?4" },
};

/* Backfill (proto.h): one batch of the ops of msg's key the session's
 * site may see now, with lsn above msg's after, in lsn order, never the
 * site's own (s_backfill_keys). */
static void
s_on_backfill(server_t *srv, session_t *s, const proto_msg_t *msg)
{
	size_t k = 0, plen = 0;
	uint64_t head, upto, next, last = 0;
	sqlite3_stmt *q;
	size_t n = 0;
	cbw_t batch;
	int rc = SQLITE_DONE;

	if (s_paced(srv, s, &s->backfills, "backfill", BACKFILL_BURST,
		BACKFILL_EVERY_MS) ||
	    s_may_backfill(srv, s, msg->key))
		return;
	/* proto_decode took only keys of these kinds. */
	for (k = 0; k < sizeof s_backfill_keys / sizeof s_backfill_keys[0];
	     k++) {
		plen = strlen(s_backfill_keys[k].prefix);
		if (strncmp(msg->key, s_backfill_keys[k].prefix, plen) == 0)
			break;
	}
	assert(k < sizeof s_backfill_keys / sizeof s_backfill_keys[0]);
	head = s_head(srv);
	upto = head;
	if (s_backfill_keys[k].scan && msg->cursor < head &&
	    head - msg->cursor > BACKFILL_SCAN)
		upto = msg->cursor + BACKFILL_SCAN;
	cbw_init(&batch);
	if (msg->cursor < head) {
		q = store_stmt(srv->store, s_backfill_keys[k].sql);
		sqlite3_bind_text(q, 1, msg->key + plen, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 2, (int64_t)msg->cursor);
		sqlite3_bind_text(q, 3, s->site, -1, SQLITE_STATIC);
		sqlite3_bind_int(q, 4, PROTO_MAX_BATCH);
		sqlite3_bind_int64(q, 5, (int64_t)upto);
		while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
			cbw_raw(&batch, sqlite3_column_blob(q, 1),
			    (size_t)sqlite3_column_bytes(q, 1));
			last = (uint64_t)sqlite3_column_int64(q, 0);
			if (++n == PROTO_MAX_BATCH ||
			    batch.len >= OPS_BATCH_BYTES)
				break;
		}
		sqlite3_reset(q);
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		log_warn("site %s: backfill %s: read log: %s", s->site,
		    msg->key, sqlite3_errmsg(store_db(srv->store)));
		s_send_error(srv, s, ERR_INTERNAL,
		    "backfill: hub storage failure");
		cbw_free(&batch);
		return;
	}
	/* A batch cut short ends at its last op; one that ran out of rows
	 * looked through upto. */
	next = rc == SQLITE_ROW ? last : upto;
	if (next < msg->cursor)
		next = msg->cursor; /* asked beyond our head */
	proto_backfill_ops_begin(&srv->out, msg->key, msg->cursor, next,
	    next >= head, n);
	cbw_raw(&srv->out, batch.data, batch.len);
	cbw_free(&batch);
	if (s_send(srv, s) == 0)
		srv->ops_out += n;
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
	/* PUSHes taken together are committed and acknowledged before any
	 * other message is handled; one that reads what the hub holds is
	 * served once what it received is applied (s_settle). */
	if (msg->type != PROTO_PUSH)
		s_group_end(srv);
	if (msg->type == PROTO_HELLO || msg->type == PROTO_PULL ||
	    msg->type == PROTO_BACKFILL || msg->type == PROTO_DIGEST ||
	    msg->type == PROTO_FETCH || msg->type == PROTO_RELAY)
		s_settle(srv);
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
			health_report(srv->health, s->site, &msg->disk, msg->ms,
			    hlc_wall_ms());
		/* The head lets the node tell a stalled stream (proto.h). */
		proto_pong(&srv->out, msg->ms, hlc_wall_ms(), s_head(srv));
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
			s_cut(srv, s, "revoked");
			break;
		}
		s_on_push(srv, s, msg);
		break;
	case PROTO_RELAY:
		if (s->state != SESSION_READY)
			goto need_hello;
		s_on_relay(srv, s, msg);
		break;
	case PROTO_DIGEST:
		if (s->state != SESSION_READY)
			goto need_hello;
		s_on_digest(srv, s, msg);
		break;
	case PROTO_FETCH:
		if (s->state != SESSION_READY)
			goto need_hello;
		s_on_fetch(srv, s, msg);
		break;
	case PROTO_BACKFILL:
		if (s->state != SESSION_READY)
			goto need_hello;
		s_on_backfill(srv, s, msg);
		break;
	case PROTO_PULL:
		if (s->state != SESSION_READY)
			goto need_hello;
		if (!s->streaming || msg->restart) {
			/* Go back to the node's cursor (proto.h): what was in
			 * flight is lost or will be dropped. */
			s->sent = msg->cursor;
			s->streaming = 1;
			s->credit = 0;
			s->ninflight = 0;
			s->waiting_ms = 0;
		}
		s_on_credit(s, msg->cursor, msg->credit);
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
		s->waiting_ms = 0;
		s->ninflight = 0;
	}
	s->last_rx_ms = hlc_wall_ms();
	/* The connection it came on, to cut it later (peer.h). One gone
	 * already has nothing to cut; libzmq not saying is worth a line. */
	err_clear(&err);
	if (peer_note(s->peer, &body, &err) != 0 && err.code == ERR_NOT_FOUND) {
		log_debug("site %s: %s", site, err.msg);
	} else if (err.code != ERR_OK && !s->peer_warned) {
		log_warn("site %s: %s", site, err.msg);
		s->peer_warned = 1;
	}
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

/* A session that has acknowledged none of its OPS in flight for
 * srv->stall_ms reads no more, or too slowly to be served: it is ended and
 * its connection cut, which frees the batches libzmq still holds for it.
 * 1 when it was. */
static int
s_stalled(server_t *srv, session_t *s, uint64_t now)
{
	if (s->waiting_ms == 0 || now < s->waiting_ms ||
	    now - s->waiting_ms < srv->stall_ms)
		return 0;
	log_warn("site %s: stalled: %d OPS batches unacknowledged for %llu ms "
		 "(limit %llu ms): session ended",
	    s->site, s->ninflight, (unsigned long long)(now - s->waiting_ms),
	    (unsigned long long)srv->stall_ms);
	srv->stalled++;
	s_cut(srv, s, "stalled");
	return 1;
}

/* SESSION_STALL_MS, or what a test sets in BL_TEST_SESSION_STALL_MS
 * (logged, as nothing else should set it). */
static uint64_t
s_stall_limit(void)
{
	const char *v = getenv("BL_TEST_SESSION_STALL_MS");
	char *end;
	unsigned long long ms;

	if (v == NULL)
		return SESSION_STALL_MS;
	errno = 0;
	ms = strtoull(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || ms == 0) {
		log_warn("BL_TEST_SESSION_STALL_MS=%s: not a count of ms, "
			 "stall limit stays %d ms",
		    v, SESSION_STALL_MS);
		return SESSION_STALL_MS;
	}
	log_info("stall limit %llu ms (BL_TEST_SESSION_STALL_MS)", ms);
	return ms;
}

/* STREAM_SCAN, or what a test sets in BL_TEST_STREAM_SCAN (logged, as
 * nothing else should set it). */
static uint64_t
s_stream_scan(void)
{
	const char *v = getenv("BL_TEST_STREAM_SCAN");
	char *end;
	unsigned long long n;

	if (v == NULL)
		return STREAM_SCAN;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || n == 0) {
		log_warn("BL_TEST_STREAM_SCAN=%s: not a count of lsns, a "
			 "batch's scan stays %d",
		    v, STREAM_SCAN);
		return STREAM_SCAN;
	}
	log_info("a batch's scan %llu lsns (BL_TEST_STREAM_SCAN)", n);
	return n;
}

/* Reads the sites not revoked, by id, into srv->reg, for the tick to
 * check each session against by a search (s_reg_find). -1 when the read
 * failed (logged): the tick then checks nothing this time. */
static int
s_reg_read(server_t *srv)
{
	sqlite3_stmt *q = store_stmt(srv->store,
	    "SELECT id, region FROM sites "
	    "WHERE revoked_at IS NULL ORDER BY id");
	int rc;

	srv->nreg = 0;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		reg_site_t *r;

		if (srv->nreg == srv->reg_cap) {
			size_t cap = srv->reg_cap ? 2 * srv->reg_cap : 64;
			reg_site_t *grown = realloc(srv->reg,
			    cap * sizeof *grown);

			if (grown == NULL)
				fatal("hub: out of memory");
			srv->reg = grown;
			srv->reg_cap = cap;
		}
		r = &srv->reg[srv->nreg++];
		snprintf(r->id, sizeof r->id, "%s", sqlite3_column_text(q, 0));
		snprintf(r->region, sizeof r->region, "%s",
		    sqlite3_column_text(q, 1));
	}
	sqlite3_reset(q);
	if (rc != SQLITE_DONE) {
		log_warn("tick: read sites: %s",
		    sqlite3_errmsg(store_db(srv->store)));
		return -1;
	}
	return 0;
}

static int
s_reg_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const reg_site_t *)elem)->id);
}

/* The site of srv->reg, NULL when it is revoked or was never enrolled.
 * SQLite orders TEXT by memcmp, as strcmp does. */
static const reg_site_t *
s_reg_find(const server_t *srv, const char *site)
{
	return srv->nreg == 0
	    ? NULL
	    : bsearch(site, srv->reg, srv->nreg, sizeof *srv->reg, s_reg_cmp);
}

/* A site moved to region since its HELLO (bl-hub region): its session
 * ends and its connection is cut, so that it comes back at once, streamed
 * by its new region, and WELCOME tells it (it backfills the region's
 * stock, proto.h). 1 when it was. */
static int
s_region_moved(server_t *srv, session_t *s, const char *region)
{
	char why[2 * sizeof s->region + 32];

	if (s->state != SESSION_READY || strcmp(region, s->region) == 0)
		return 0;
	snprintf(why, sizeof why, "moved from region %s to %s", s->region,
	    region);
	s_cut(srv, s, why);
	return 1;
}

/* Once a second: close sessions of revoked sites, forget idle ones, cut
 * stalled ones, retry streams that stopped on a full queue, sign what we
 * wrote, and retry the quarantine when due. */
static void
s_on_tick(evutil_socket_t fd, short what, void *arg)
{
	server_t *srv = arg;
	session_t *s, *next;
	uint64_t now = hlc_wall_ms(), head;
	int reg_ok;
	(void)fd;
	(void)what;
	/* What a CLI wrote of ours gets signed; `bl-hub recover --done`
	 * ends a wait. */
	{
		err_t err;

		if (recover_tick(srv->recover, &err) ||
		    recover_sign(srv->recover, &err))
			log_warn("%s", err.msg);
	}
	/* What cut connections held is freed as libzmq closes them, and
	 * malloc keeps it for later: give it back to the system. */
	if (srv->trim_ms != 0 && now >= srv->trim_ms) {
		srv->trim_ms = 0;
#ifdef __SANITIZE_ADDRESS__
		__sanitizer_purge_allocator(); /* it ignores malloc_trim */
#else
		malloc_trim(0);
#endif
	}
	/* Ops refused for a clock ahead pass once real time reaches them;
	 * those another hub of the cluster holds back are tried here as
	 * soon as they are copied. */
	if (now - srv->retried_ms >= QUARANTINE_RETRY_MS ||
	    pgstore_held_new(srv->store) > 0) {
		int applied, kept;
		err_t err;

		srv->retried_ms = now;
		if (server_quarantine_retry(srv, NULL, 0, 1, &applied, &kept,
			&err))
			log_warn("quarantine: retry: %s", err.msg);
	}
	/* One read of the registry and of the head for every session: a
	 * statement per session took 10,000 sessions 30,000 statements, and
	 * their file locks, a second. */
	reg_ok = s_reg_read(srv) == 0;
	head = s_head(srv);
	s_sessions_seen(srv, now);
	for (s = srv->sessions; s != NULL; s = next) {
		const reg_site_t *r;

		next = s->next;
		s_session_quiet(s, now, 0);
		if (s->gone || now - s->last_rx_ms > SESSION_IDLE_MS) {
			if (!s->gone)
				s_cut(srv, s, "idle");
			s_session_drop(srv, s);
			continue;
		}
		if (s_stalled(srv, s, now))
			continue;
		s_ack_owed(srv, s);
		if (s->state == SESSION_CLOSED || s->site[0] == '\0' || !reg_ok)
			continue;
		if ((r = s_reg_find(srv, s->site)) == NULL) {
			char reason[128];

			snprintf(reason, sizeof reason, "site %s revoked",
			    s->site);
			health_forget(srv->health, s->site);
			s->state = SESSION_CLOSED;
			s_send_error(srv, s, ERR_FORBIDDEN, reason);
			s_cut(srv, s, "revoked");
			continue;
		}
		if (s_region_moved(srv, s, r->region))
			continue;
		s_stream_to(srv, s, head);
	}
	zev_kick(srv->router_ev);
}

void
server_notify(server_t *srv)
{
	session_t *s;
	uint64_t head;
	err_t err;

	/* What we wrote is signed before it is streamed. */
	if (recover_sign(srv->recover, &err))
		log_warn("%s", err.msg);

	head = s_head(srv);
	for (s = srv->sessions; s != NULL; s = s->next)
		s_stream_to(srv, s, head);
	zev_kick(srv->router_ev);
}

int
server_sites(void *arg, const json_t *query, json_t **out, err_t *err)
{
	server_t *srv = arg;
	sqlite3_stmt *q = store_stmt(srv->store,
	    "SELECT id, role, region, "
	    "name, revoked_at FROM sites ORDER BY id");
	json_t *items = json_array(), *item;
	session_t *s;
	int64_t offset;
	int rc;

	(void)query;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(q, 0);
		int connected = 0;

		for (s = srv->sessions; s != NULL; s = s->next)
			connected |= s->state == SESSION_READY &&
			    strcmp(s->site, id) == 0;
		item = json_pack("{s:s, s:s, s:s, s:s?, s:b, s:b, s:o}", "site",
		    id, "role", (const char *)sqlite3_column_text(q, 1),
		    "region", (const char *)sqlite3_column_text(q, 2), "name",
		    (const char *)sqlite3_column_text(q, 3), "revoked",
		    sqlite3_column_type(q, 4) != SQLITE_NULL, "connected",
		    connected, "disk", health_json(srv->health, id));
		/* Measured at its last PING: better than a batch's stamp. */
		if (health_clock_offset(srv->health, id, &offset))
			json_object_set_new(item, "clock_offset_ms",
			    json_integer((json_int_t)offset));
		json_array_append_new(items, item);
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
server_set_fd_limit(server_t *srv, uint64_t limit)
{
	sqlite3_stmt *q = store_stmt(srv->store,
	    "SELECT count(*) FROM sites WHERE revoked_at IS NULL AND id != ?");
	uint64_t enrolled = 0;

	srv->sites_max = limit > SERVER_FD_RESERVE ? limit - SERVER_FD_RESERVE
						   : 1;
	sqlite3_bind_text(q, 1, store_site(srv->store), -1, SQLITE_STATIC);
	if (store_row(srv->store, q))
		enrolled = (uint64_t)sqlite3_column_int64(q, 0);
	sqlite3_reset(q);
	if (enrolled > srv->sites_max)
		log_warn("descriptors: room for %llu sites connected at once "
			 "(limit %llu less %d kept), %llu enrolled: raise the "
			 "hard limit (ulimit -Hn, LimitNOFILE)",
		    (unsigned long long)srv->sites_max,
		    (unsigned long long)limit, SERVER_FD_RESERVE,
		    (unsigned long long)enrolled);
	else
		log_info("descriptors: room for %llu sites connected at once "
			 "(limit %llu less %d kept), %llu enrolled",
		    (unsigned long long)srv->sites_max,
		    (unsigned long long)limit, SERVER_FD_RESERVE,
		    (unsigned long long)enrolled);
}

void
server_status(server_t *srv, json_t *status)
{
	session_t *s;
	json_int_t n = 0;

	for (s = srv->sessions; s != NULL; s = s->next)
		n += s->state == SESSION_READY;
	json_object_set_new(status, "sessions", json_integer(n));
	if (srv->sites_max > 0)
		json_object_set_new(status, "sites_max",
		    json_integer((json_int_t)srv->sites_max));
	json_object_set_new(status, "ops_received",
	    json_integer((json_int_t)srv->ops_in));
	/* Received and acknowledged, not applied yet (s_apply_slice). */
	json_object_set_new(status, "ops_to_apply",
	    json_integer((json_int_t)srv->backlog));
	json_object_set_new(status, "ops_applied",
	    json_integer((json_int_t)srv->applied));
	json_object_set_new(status, "ops_sent",
	    json_integer((json_int_t)srv->ops_out));
	json_object_set_new(status, "connections_cut",
	    json_integer((json_int_t)srv->cut));
	json_object_set_new(status, "sessions_stalled",
	    json_integer((json_int_t)srv->stalled));
	recover_status(srv->recover, status);
}

server_t *
server_new(struct event_base *base, store_t *store, const keypair_t *keys,
    const char *listen, int *bound_port, err_t *err)
{
	server_t *srv = calloc(1, sizeof *srv);
	int one = 1, hwm = SESSION_QUEUE_MAX, backlog = SYNC_BACKLOG;
	char endpoint[256], *colon;
	size_t size = sizeof endpoint;
	struct timeval second = { 1, 0 };
	ckpt_health_t disk;

	if (srv == NULL)
		fatal("hub: out of memory");
	srv->base = base;
	srv->store = store;
	store_health(store, &disk);
	srv->group_bytes = (size_t)disk.wal_bound_bytes / GROUP_BOUND_SHARE;
	srv->slice_bytes = (size_t)disk.wal_bound_bytes / SLICE_BOUND_SHARE;
	srv->health = health_new();
	srv->started_ms = hlc_wall_ms();
	srv->silent_ms = SERVER_SILENT_DEFAULT_MS;
	srv->stall_ms = s_stall_limit();
	srv->stream_scan = s_stream_scan();
	cbw_init(&srv->out);
	if ((srv->recover = recover_new(store, keys, err)) == NULL ||
	    recover_sign(srv->recover, err))
		goto fail;
	srv->ctx = zmq_ctx_new();
	/* The ZAP handler must exist before the CURVE server accepts. */
	srv->zap = zmq_socket(srv->ctx, ZMQ_REP);
	if (zmq_bind(srv->zap, ZAP_ENDPOINT) != 0) {
		err_set(err, ERR_INTERNAL, "zap: bind %s: %s", ZAP_ENDPOINT,
		    zmq_strerror(zmq_errno()));
		goto fail;
	}
	/* Linger and message size as at every node (zsock.h). */
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
		err) ||
	    zsock_set(srv->router, ZMQ_BACKLOG, "ZMQ_BACKLOG", &backlog,
		sizeof backlog, err))
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
	zev_set_after(srv->router_ev, s_on_router_after);
	srv->tick = event_new(base, -1, EV_PERSIST, s_on_tick, srv);
	event_add(srv->tick, &second);
	/* What was received before a restart is applied as PUSHes pause. */
	srv->apply_ev = evtimer_new(base, s_on_apply, srv);
	if (srv->apply_ev == NULL)
		fatal("hub: out of memory");
	srv->backlog = (uint64_t)store_query_int(store,
	    store_stmt(store,
		"SELECT coalesce(sum(last - first + 1), 0) FROM op_inbox"),
	    0);
	if (store_read_error(store, err))
		goto fail;
	s_apply_schedule(srv);
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
	/* What was acknowledged is applied before the hub stops, for up to
	 * APPLY_STOP_MS: the log is then the whole record for the commands
	 * and a backup (the rest, or what a hub killed held, is applied when
	 * it starts again). */
	if (srv->apply_ev != NULL && srv->backlog > 0 && !srv->group.open)
		s_apply_before_stop(srv);
	while (srv->sessions != NULL)
		s_session_drop(srv, srv->sessions);
	if (srv->tick != NULL)
		event_free(srv->tick);
	if (srv->apply_ev != NULL)
		event_free(srv->apply_ev);
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
	recover_destroy(&srv->recover);
	free(srv->reg);
	free(srv);
	*self_p = NULL;
}
