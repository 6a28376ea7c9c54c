/*
 * client: the node's link to the hub (see node.h).
 *
 * The DEALER socket reconnects by itself with exponential backoff (libzmq's
 * reconnect interval, 100 ms up to 5 s). A socket monitor tells us when a
 * CURVE handshake succeeds (start a session: HELLO), fails (the hub refused
 * our key, or the hub key we pinned is wrong) or the link drops. Every
 * session starts from what is durable: ops the hub has acknowledged are
 * known from WELCOME, and the pull cursor is stored in the same transaction
 * as the ops it covers, so a crash or a cut link at any point loses nothing
 * and repeats nothing that matters (a repeat is a no-op). A batch that
 * applies nothing new moves the cursor in memory only, saved with the ack:
 * pulling that stretch again brings nothing either.
 *
 * With several hub endpoints (the hubs of a cluster, one shared log) the
 * DEALER is connected to one at a time, and moves to the next, in the
 * config's order and wrapping around, when a session with it fails (the
 * rows marked "move" below): it disconnects, waits s_retry_later's
 * backoff with jitter, so that the stores of a chain do not all land on
 * the surviving hub at once, connects the next and starts the session
 * over from what is durable. The cursor is a position in the shared log,
 * so it resumes exactly there. A refusal stays a refusal (the hubs share
 * one registry), but the next endpoint is still tried at the backoff's
 * pace. With one endpoint nothing moves: libzmq reconnects to it.
 *
 * Session table (state x event -> action, next state):
 *   DOWN   handshake ok   -> send HELLO                     HELLO
 *   HELLO  WELCOME        -> push unacked, PULL with credit READY
 *   READY  PUSH_ACK       -> record ack, push more          READY
 *   READY  RELAY_ACK      -> give the hub more of its own   READY
 *   READY  caught up      -> DIGEST of our ops (entropy.c)  READY
 *   READY  DIGEST         -> bisect, push again or FETCH    READY
 *   READY  OPS            -> apply + cursor in one txn, PULL 1 more  READY
 *   READY  backfill due   -> BACKFILL of the oldest key      READY
 *   READY  BACKFILL_OPS   -> apply + its after in one txn, next one  READY
 *   READY  local write    -> push if nothing in flight      READY
 *   any    PONG           -> note clock offset              same
 *   READY  ERROR backfill -> drop the key (403) or wait      READY
 *   HELLO  no WELCOME in time -> HELLO again (or move)      HELLO
 *   READY  no PUSH_ACK in time -> HELLO again (or move)     HELLO
 *   any    ERROR 403/426  -> record refusal (and move)      REFUSED
 *   any    other ERROR    -> HELLO again in a second (or move)  DOWN
 *   any    disconnected   -> forget in-flight state         DOWN
 *   DOWN   no session for LINK_LOST_MS -> move              DOWN
 *   any    auth failed    -> record refusal (and move)      REFUSED
 * "Move" is for several endpoints only (s_move): the next is connected
 * after the backoff, in state DOWN, or REFUSED, which stays until a hub
 * takes the handshake.
 */
#include <assert.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "chain.h"
#include "log.h"
#include "node.h"
#include "proto.h"
#include "site.h"
#include "text.h"
#include "zev.h"
#include "zsock.h"

#define PULL_WINDOW 8 /* OPS batches in flight (the hub's most) */
/* OPS batches that wait, one after the other, are applied in one
 * transaction (one COMMIT and fsync for them all), at most this many and
 * for at most APPLY_TXN_MS, so that a till's write queued behind a
 * catch-up waits no longer than that (s_on_ops). */
#define APPLY_BATCHES_MAX PULL_WINDOW
#define APPLY_TXN_MS 60
#define PING_EVERY_MS 2000
#define RETRY_HELLO_MS 1000		  /* the first retry after an error */
#define RETRY_HELLO_MAX_MS 15000	  /* doubling up to this */
#define QUARANTINE_RETRY_MS (60 * 1000)	  /* clock-ahead ops tried again */
#define ANSWER_WAIT_MS 10000		  /* for a WELCOME or PUSH_ACK */
#define LAST_SYNC_SAVE_MS (5 * 60 * 1000) /* idle: last_sync saved */
#define ENTROPY_EVERY_MS (60 * 60 * 1000) /* anti-entropy, once caught up */
#define RELAY_AGAIN_MS 5000 /* a recovering hub hears from us this often */
#define PULL_STALL_MS 3000  /* behind the hub's head without a batch: again */
#define LINK_LOST_MS 3000   /* no session so long: the next hub endpoint */

struct client {
	struct event_base *base;
	store_t *store;
	char hub[CLIENT_HUB_MAX]; /* the endpoint in use, hubs[at] */
	char hubs[CLIENT_HUBS_MAX][CLIENT_HUB_MAX]; /* in the config's order */
	int nhubs, at;
	int linked;	  /* the DEALER is connected to hub (not moving) */
	int dropped;	  /* a session with hub was up, and dropped */
	uint64_t link_ms; /* hub connected, or its session dropped */
	char site[OP_SITE_MAX + 1];
	void *ctx, *dealer, *monitor;
	zev_t *dealer_ev, *monitor_ev;
	struct event *tick;
	struct event *push_soon; /* coalesces writes into one PUSH */
	link_state_t state;
	int connected;			/* CURVE session established */
	int tcp_connects;		/* TCP connects since last handshake */
	uint64_t push_inflight;		/* highest seq in the unacked PUSH, 0 */
	char hub_site[OP_SITE_MAX + 1]; /* the hub's own site, at WELCOME */
	uint64_t relay_from;		/* the hub holds its own ops to here */
	int relay_inflight;		/* a RELAY unanswered */
	int relay_report;		/* a restored hub waits for our RELAY */
	int hub_recovering;		/* as WELCOME or RELAY_ACK said */
	int relay_stopped;		/* the hub refused a RELAY: not again */
	uint64_t relay_ms;		/* the last RELAY sent */
	uint64_t pulled_ms;		/* the stream last moved or restarted */
	uint64_t asked_ms;		/* the last DIGEST or FETCH sent */
	entropy_t *entropy;		/* our ops against the hub's */
	uint64_t entropy_ms; /* its last start, 0: this session's due */
	int fetching;	     /* an OPS answering FETCH is due */
	uint64_t acked;	     /* highest own seq the hub holds */
	uint64_t acked_saved, acked_saved_ms; /* last written to meta */
	uint64_t welcome_head;	/* hub head announced at WELCOME */
	uint64_t reconcile_seq; /* hub holds our ops up to it, unvouched */
	uint64_t head;		/* latest hub head seen */
	uint64_t cursor;
	uint64_t cursor_saved; /* last read from or written to meta */
	uint64_t last_rx_ms, last_ping_ms, retry_at_ms;
	uint64_t hello_ms, push_ms; /* when the HELLO / PUSH in flight went */
	uint64_t retry_ms;	    /* the next wait after an error */
	uint64_t retried_ms;	    /* the quarantine's last retry */
	char backfill[PROTO_KEY_MAX + 1]; /* the BACKFILL unanswered, "" */
	uint64_t backfill_after;	  /* what it asked from */
	uint64_t backfill_ms;		  /* when it went */
	uint64_t backfill_wait_ms;	  /* none sent before (a 5xx) */
	uint8_t *sign_sk; /* signs our pushes (chain.h), sodium_malloc'd */
	char sign_pk[PROTO_SIGN_KEY_HEX + 1]; /* its public key, hex */
	int64_t clock_offset_ms;
	uint64_t last_sync_ms; /* last caught up; saved with acks */
	uint64_t last_sync_saved;
	char refusal[ERR_MSG_MAX];
	char last_error[ERR_MSG_MAX]; /* the last ERROR or why in doubt */
	cbw_t out;
	client_progress_fn progress;
	void *progress_arg;
};

static void
s_progress(client_t *c)
{
	if (c->progress != NULL)
		c->progress(c, c->progress_arg);
}

static int
s_send(client_t *c)
{
	int rc = zmq_send(c->dealer, c->out.data, c->out.len, ZMQ_DONTWAIT);

	zev_kick(c->dealer_ev);
	if (rc < 0) {
		log_debug("send to hub: %s", zmq_strerror(zmq_errno()));
		return -1;
	}
	return 0;
}

/* The meta value name (0 when absent) into *out; -1, logged, when the
 * store cannot be read (the caller leaves its step for the next event). */
static int
s_meta(store_t *st, const char *name, uint64_t *out)
{
	int64_t v;
	err_t err;

	if (store_meta_get_int(st, name, 0, &v, &err)) {
		log_warn("sync: %s", err.msg);
		return -1;
	}
	*out = (uint64_t)v;
	return 0;
}

static void
s_hello(client_t *c)
{
	uint64_t durable;

	/* The cursor in memory may be ahead of the saved one (batches that
	 * applied nothing, s_on_ops); another session of this site may have
	 * pulled further. */
	if (s_meta(c->store, "cursor", &durable))
		return;
	c->cursor_saved = durable;
	if (durable > c->cursor)
		c->cursor = durable;
	/* What the hub has confirmed, not what we hold: the hub sends back
	 * every op of ours it holds above it, so that what we recorded
	 * after a restore, or a copy's, is compared with what it holds
	 * under the same seqs before we push (store_ingest renumbers ours
	 * where they differ). */
	proto_hello(&c->out, c->site, (uint64_t)store_schema_version(),
	    c->acked, c->cursor, store_incarnation(c->store), c->sign_pk);
	c->push_inflight = 0;
	c->relay_inflight = 0;
	c->fetching = 0;
	c->backfill[0] = '\0';
	c->entropy_ms = 0;
	entropy_reset(c->entropy);
	c->hello_ms = hlc_wall_ms();
	if (s_send(c) == 0)
		c->state = LINK_HELLO;
}

/* Starts a session again later: after an error the wait doubles from
 * RETRY_HELLO_MS up to RETRY_HELLO_MAX_MS, give or take a fifth at random,
 * so that stores refused together (a hub restarting, a twin) do not all
 * come back at once. A WELCOME resets it. */
static void
s_retry_later(client_t *c)
{
	uint64_t wait;

	if (c->retry_ms < RETRY_HELLO_MS)
		c->retry_ms = RETRY_HELLO_MS;
	wait = c->retry_ms * 4 / 5 +
	    randombytes_uniform((uint32_t)(c->retry_ms * 2 / 5 + 1));
	c->retry_at_ms = hlc_wall_ms() + wait;
	c->state = LINK_DOWN;
	if (c->retry_ms < RETRY_HELLO_MAX_MS)
		c->retry_ms *= 2;
}

/* What a session had in flight, forgotten: the link to the hub is gone. */
static void
s_forget_session(client_t *c)
{
	c->connected = 0;
	c->push_inflight = 0;
	c->relay_inflight = 0;
	c->fetching = 0;
	c->backfill[0] = '\0';
	entropy_reset(c->entropy);
}

/* Leaves the endpoint in use for the next of the list (wrapping around),
 * why saying what failed, with several endpoints only: the link is cut
 * now and the next endpoint connected by the tick once s_retry_later's
 * wait is over (s_link). REFUSED stays until a hub takes our handshake. */
static void
s_move(client_t *c, const char *why)
{
	link_state_t state = c->state;
	int next = (c->at + 1) % c->nhubs;

	assert(c->nhubs > 1);
	log_warn("hub %s: %s: trying %s", c->hub, why, c->hubs[next]);
	if (c->linked && zmq_disconnect(c->dealer, c->hub) != 0)
		log_warn("hub %s: disconnect: %s", c->hub,
		    zmq_strerror(zmq_errno()));
	c->linked = 0;
	c->at = next;
	snprintf(c->hub, sizeof c->hub, "%s", c->hubs[next]);
	s_forget_session(c);
	c->tcp_connects = 0;
	s_retry_later(c);
	if (state == LINK_REFUSED)
		c->state = LINK_REFUSED;
}

/* Connects the endpoint in use, a move's wait over; one that cannot be
 * connected (a malformed endpoint in the config) is passed over. */
static void
s_link(client_t *c)
{
	char why[ERR_MSG_MAX];

	c->link_ms = hlc_wall_ms();
	c->dropped = 0;
	if (zmq_connect(c->dealer, c->hub) == 0) {
		c->linked = 1;
		return;
	}
	text_printf(why, sizeof why, "connect: %s", zmq_strerror(zmq_errno()));
	s_move(c, why);
}

static void s_save_int(client_t *c, const char *name, uint64_t v);

/* Signs our chain up to seq (chain.h) into sig, hex: 0, or -1 logged
 * (the push waits: an unsigned batch would be refused). */
static int
s_sign(client_t *c, uint64_t seq, char sig[PROTO_SIG_HEX + 1])
{
	uint8_t chain[CHAIN_BYTES], raw[CHAIN_SIG_BYTES];
	err_t err;

	if (store_chain_at(c->store, c->site, seq, chain, &err)) {
		log_warn("push: %s", err.msg);
		return -1;
	}
	chain_sign(c->sign_sk, c->site, seq, chain, raw);
	sodium_bin2hex(sig, PROTO_SIG_HEX + 1, raw, sizeof raw);
	return 0;
}

/* Whether what the hub holds of ours is known: after a WELCOME that said
 * it holds more than we saw confirmed, once the pull has brought it all
 * (the cursor reached the head of then). Then it is all confirmed. */
static int
s_reconciled(client_t *c)
{
	if (c->reconcile_seq == 0)
		return 1;
	if (c->cursor < c->welcome_head)
		return 0;
	log_info("our ops up to seq %llu compared with the hub's: pushing "
		 "from there",
	    (unsigned long long)c->reconcile_seq);
	c->acked = c->reconcile_seq;
	c->reconcile_seq = 0;
	s_save_int(c, "acked", c->acked);
	c->acked_saved = c->acked;
	return 1;
}

/* Sends the next batch of own ops the hub has not acknowledged, if no push
 * is in flight. */
static void
s_push(client_t *c)
{
	sqlite3_stmt *q;
	size_t n = 0;
	uint64_t last = 0;
	cbw_t batch;
	char sig[PROTO_SIG_HEX + 1];

	if (c->state != LINK_READY || c->push_inflight != 0 || !s_reconciled(c))
		return;
	q = store_stmt(c->store,
	    "SELECT seq, body FROM op_log "
	    "WHERE origin = ? AND seq > ? ORDER BY seq LIMIT ?");
	sqlite3_bind_text(q, 1, c->site, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, (int64_t)c->acked);
	sqlite3_bind_int(q, 3, PROTO_MAX_BATCH);
	cbw_init(&batch);
	while (store_row(c->store, q)) {
		last = (uint64_t)sqlite3_column_int64(q, 0);
		cbw_raw(&batch, sqlite3_column_blob(q, 1),
		    (size_t)sqlite3_column_bytes(q, 1));
		n++;
		if (batch.len >= PROTO_BATCH_BYTES)
			break;
	}
	sqlite3_reset(q);
	if (n > 0 && s_sign(c, last, sig) == 0) {
		proto_push_begin(&c->out, n, sig);
		cbw_raw(&c->out, batch.data, batch.len);
		if (s_send(c) == 0) {
			c->push_inflight = last;
			c->push_ms = hlc_wall_ms();
		}
	}
	cbw_free(&batch);
}

static void
s_save_int(client_t *c, const char *name, uint64_t v)
{
	err_t err;

	if (store_begin(c->store, &err) == 0 &&
	    store_meta_set_int(c->store, name, (int64_t)v, &err) == 0 &&
	    store_commit(c->store, &err) == 0)
		return;
	store_rollback(c->store);
	log_warn("save %s: %s", name, err.msg);
}

/* Inside a transaction: the cursor moved by batches that applied nothing
 * (s_on_ops), unless another session of this site pulled further. */
static int
s_save_cursor(client_t *c, err_t *err)
{
	int64_t durable;

	if (c->cursor <= c->cursor_saved)
		return 0;
	if (store_meta_get_int(c->store, "cursor", 0, &durable, err))
		return -1;
	if ((uint64_t)durable >= c->cursor)
		return 0;
	return store_meta_set_int(c->store, "cursor", (int64_t)c->cursor, err);
}

/* Saves the ack, the time of the last full sync and the cursor of
 * batches that applied nothing, kept in memory between saves: one small
 * commit every few seconds of traffic, one every LAST_SYNC_SAVE_MS on an
 * idle link. A failed save is tried again with the next one, not at every
 * tick. */
static void
s_save_progress(client_t *c, uint64_t now)
{
	err_t err;

	c->acked_saved_ms = now;
	if (store_begin(c->store, &err) == 0 &&
	    store_meta_set_int(c->store, "acked", (int64_t)c->acked, &err) ==
		0 &&
	    (c->last_sync_ms == 0 ||
		store_meta_set_int(c->store, "last_sync",
		    (int64_t)c->last_sync_ms, &err) == 0) &&
	    s_save_cursor(c, &err) == 0 && store_commit(c->store, &err) == 0) {
		c->acked_saved = c->acked;
		c->last_sync_saved = c->last_sync_ms;
		if (c->cursor > c->cursor_saved)
			c->cursor_saved = c->cursor;
		return;
	}
	store_rollback(c->store);
	log_warn("save sync progress: %s", err.msg);
}

/* ---- backfill (proto.h) ---- */

/* Asks for key's ops from the start, in the caller's transaction, unless
 * it is asked for already. */
static int
s_want(client_t *c, const char *key, err_t *err)
{
	sqlite3_stmt *q = store_stmt(c->store,
	    "INSERT OR IGNORE INTO backfills(key, after, since) "
	    "VALUES (?, 0, ?)");

	sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, (int64_t)hlc_wall_ms());
	if (store_step(c->store, q, "backfill", err))
		return -1;
	if (sqlite3_changes(store_db(c->store)) > 0)
		log_info("backfill %s: asked for", key);
	return 0;
}

/* Asks for the stock movements at site (a site_region_moved_in step). */
static int
s_want_site(void *arg, const char *site, err_t *err)
{
	char key[PROTO_KEY_MAX + 1];

	snprintf(key, sizeof key, "site:%s", site);
	return s_want(arg, key, err);
}

/* What an op just taken (new here) makes ours to see, asked for in the
 * transaction that takes it: the rest of the family of a child order head
 * office allocated to this site; the earlier stock movements of a store
 * head office moved into this site's region (site.h), logged for its old
 * region. */
static int
s_entitled(client_t *c, const op_t *op, ingest_result_t res, err_t *err)
{
	const char *parent, *fulfil;
	char key[PROTO_KEY_MAX + 1], region[PROTO_REGION_MAX + 1],
	    site[OP_SITE_MAX + 1];

	if (res != INGEST_APPLIED && res != INGEST_QUARANTINED)
		return 0;
	if (strcmp(op->entity, SITE_REGION_ENTITY) == 0) {
		if (store_meta_get_text(c->store, "region", "", region,
			sizeof region, err))
			return -1;
		return site_region_moves_into(op, region, c->site, site)
		    ? s_want_site(c, site, err)
		    : 0;
	}
	if (strcmp(op->entity, "order") != 0 || strcmp(op->kind, "create") != 0)
		return 0;
	parent = json_string_value(json_object_get(op->fields, "parent"));
	fulfil = json_string_value(json_object_get(op->fields, "fulfil_site"));
	if (parent == NULL || parent[0] == '\0' ||
	    strlen(parent) > OP_KEY_MAX || fulfil == NULL ||
	    strcmp(fulfil, c->site) != 0)
		return 0;
	snprintf(key, sizeof key, "order:%s", parent);
	return s_want(c, key, err);
}

/* Ingests the ops of an OPS or BACKFILL_OPS batch in the caller's
 * transaction, a bulk (store.h: nothing here reads stock on hand). 0, or
 * -1 with err (a storage failure or a malformed op): the caller rolls
 * back. */
static int
s_ingest_batch(client_t *c, proto_msg_t *m, err_t *err)
{
	ingest_result_t res;
	const uint8_t *body;
	size_t len;
	err_t why;
	op_t op;
	int rc;

	store_bulk_begin(c->store);
	while ((rc = proto_next_op(m, &op, &body, &len, err)) == 1) {
		err_clear(&why);
		if (store_ingest(c->store, &op, body, len, &res, &why)) {
			op_clear(&op);
			*err = why;
			return -1;
		}
		if (res == INGEST_QUARANTINED)
			log_warn("quarantined: %s", why.msg);
		else if (res == INGEST_CONFLICT)
			log_warn("refused: %s", why.msg);
		rc = s_entitled(c, &op, res, err);
		op_clear(&op);
		if (rc)
			return -1;
	}
	return rc;
}

/* What WELCOME says our region is, in its transaction: the first is
 * recorded; another means head office moved this site, whose new
 * region's stock is then asked for, and the earlier stock of each store
 * head office moved into that region before (site.h), which was logged
 * for the region it was in then. */
static int
s_on_region(client_t *c, const char *region, err_t *err)
{
	char was[PROTO_REGION_MAX + 1], key[PROTO_KEY_MAX + 1];

	if (store_meta_get_text(c->store, "region", "", was, sizeof was, err))
		return -1;
	if (strcmp(was, region) == 0)
		return 0;
	if (was[0] != '\0') {
		log_info("head office moved this site from region %s to %s",
		    was, region);
		snprintf(key, sizeof key, "region:%s", region);
		if (s_want(c, key, err) ||
		    site_region_moved_in(c->store, region, c->site, s_want_site,
			c, err))
			return -1;
	}
	return store_meta_set_text(c->store, "region", region, err);
}

/* Asks for the next batch of the oldest backfill, when none is in
 * flight: one key at a time, one batch at a time, each asked once the
 * last is applied. */
static void
s_backfill(client_t *c)
{
	sqlite3_stmt *q;
	uint64_t now = hlc_wall_ms();

	if (c->state != LINK_READY || c->backfill[0] != '\0' ||
	    now < c->backfill_wait_ms)
		return;
	q = store_stmt(c->store,
	    "SELECT key, after FROM backfills ORDER BY since, key LIMIT 1");
	if (store_row(c->store, q)) {
		snprintf(c->backfill, sizeof c->backfill, "%s",
		    sqlite3_column_text(q, 0));
		c->backfill_after = (uint64_t)sqlite3_column_int64(q, 1);
	}
	sqlite3_reset(q);
	if (c->backfill[0] == '\0')
		return;
	proto_backfill(&c->out, c->backfill, c->backfill_after);
	if (s_send(c) != 0) {
		c->backfill[0] = '\0'; /* the tick tries again */
		return;
	}
	c->backfill_ms = now;
}

/* Forgets key's backfill (done, or refused), in a transaction of its
 * own. */
static void
s_unwant(client_t *c, const char *key)
{
	sqlite3_stmt *q = store_stmt(c->store,
	    "DELETE FROM backfills WHERE key = ?");
	err_t err;

	sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
	if (store_begin(c->store, &err) == 0 &&
	    store_step(c->store, q, "backfill", &err) == 0 &&
	    store_commit(c->store, &err) == 0)
		return;
	store_rollback(c->store);
	log_warn("backfill %s: %s", key, err.msg);
}

/* Applies one batch of the backfill in flight, and moves its after (or
 * forgets it, done) in the same transaction; then asks for the next. */
static void
s_on_backfill_ops(client_t *c, proto_msg_t *m)
{
	sqlite3_stmt *q;
	err_t err;

	if (strcmp(m->key, c->backfill) != 0 ||
	    m->cursor_from != c->backfill_after) {
		log_debug("hub %s: backfill %s from %llu dropped (not asked)",
		    c->hub, m->key, (unsigned long long)m->cursor_from);
		return;
	}
	c->backfill[0] = '\0';
	q = store_stmt(c->store,
	    m->done ? "DELETE FROM backfills WHERE key = ?1"
		    : "UPDATE backfills SET after = ?2 WHERE key = ?1");
	if (store_begin(c->store, &err) || s_ingest_batch(c, m, &err))
		goto fail;
	sqlite3_bind_text(q, 1, m->key, -1, SQLITE_STATIC);
	if (!m->done)
		sqlite3_bind_int64(q, 2, (int64_t)m->cursor);
	if (store_step(c->store, q, "backfill", &err) ||
	    store_commit(c->store, &err))
		goto fail;
	log_info("backfill %s: %zu ops, up to lsn %llu%s", m->key, m->nops,
	    (unsigned long long)m->cursor, m->done ? ": done" : "");
	s_backfill(c);
	return;
fail:
	store_rollback(c->store);
	log_warn("backfill %s: apply ops from hub: %s", m->key, err.msg);
	s_retry_later(c);
}

/* Gives a hub that lacks ops of its own we hold (restored from a backup)
 * the next batch of them (relay.c); a hub still recovering hears from us
 * once we have nothing more, by an empty RELAY (proto.h). */
static void
s_relay(client_t *c)
{
	char no_sig[PROTO_SIG_HEX + 1]; /* an empty batch signs nothing */
	uint64_t last = 0;
	size_t n = 0;
	err_t err;
	int rc;

	if (c->relay_inflight || c->relay_stopped || c->hub_site[0] == '\0')
		return;
	rc = relay_next(c->store, c->hub_site, c->relay_from, &c->out, &last,
	    &n, &err);
	if (rc < 0) {
		log_warn("%s", err.msg);
		return;
	}
	if (rc == 0 && !c->relay_report)
		return;
	if (rc == 0) {
		uint64_t seen = 0;

		if (relay_seen(c->store, c->hub_site, &seen, &err)) {
			log_warn("%s", err.msg);
			return;
		}
		memset(no_sig, '0', PROTO_SIG_HEX);
		no_sig[PROTO_SIG_HEX] = '\0';
		proto_relay_begin(&c->out, 0, no_sig, seen);
	} else
		log_warn("hub %s lacks ops of its own we hold: giving back "
			 "%s/%llu-%llu",
		    c->hub, c->hub_site, (unsigned long long)c->relay_from + 1,
		    (unsigned long long)last);
	if (s_send(c) == 0) {
		c->relay_inflight = 1;
		c->relay_ms = hlc_wall_ms();
		if (rc == 0)
			c->relay_report = 0;
	}
}

static void
s_on_relay_ack(client_t *c, const proto_msg_t *m)
{
	c->relay_inflight = 0;
	c->hub_recovering = m->recovering;
	if (m->seq > c->relay_from)
		c->relay_from = m->seq;
	s_relay(c);
}

static void
s_on_welcome(client_t *c, const proto_msg_t *m)
{
	uint64_t own;
	err_t err;

	if (s_meta(c->store, "seq", &own))
		return;
	if (m->seq > own)
		/* Restored from an old backup: the hub holds ops of ours we
		 * lost. Never reuse their seqs; they come back by pull. */
		log_warn(
		    "hub holds our ops up to seq %llu, we have %llu: recovering them",
		    (unsigned long long)m->seq, (unsigned long long)own);
	/* From here our counter is past what the hub holds: new ids need no
	 * tag any more (store.h). With several endpoints, the one that
	 * welcomes us is the first tried next time (client_new). */
	if (store_begin(c->store, &err) ||
	    (m->seq > own &&
		store_meta_set_int(c->store, "seq", (int64_t)m->seq, &err)) ||
	    store_confirmed(c->store, &err) ||
	    s_on_region(c, m->region, &err) ||
	    (c->nhubs > 1 &&
		store_meta_set_text(c->store, "hub_endpoint", c->hub, &err)) ||
	    store_commit(c->store, &err)) {
		/* Going on could hand out their seqs again. */
		store_rollback(c->store);
		log_warn("recover seq: %s", err.msg);
		s_retry_later(c);
		return;
	}
	if (m->head < c->cursor) {
		/* The hub's log is shorter than what we pulled: it was restored
		 * from a backup and numbers new ops again from there. Pull it
		 * all again; what we have is skipped as duplicates. */
		log_warn(
		    "hub log head %llu is behind our cursor %llu: pulling again from 0",
		    (unsigned long long)m->head, (unsigned long long)c->cursor);
		c->cursor = 0;
		c->cursor_saved = 0;
		s_save_int(c, "cursor", 0);
	}
	c->welcome_head = m->head;
	c->head = m->head;
	c->retry_ms = 0;
	c->last_error[0] = '\0';
	if (m->seq > c->acked) {
		/* The hub holds ops of ours we never saw confirmed (a lost
		 * ack, a restored or copied data folder). They come back
		 * with the pull; nothing is pushed until the cursor reaches
		 * this head and each was compared with ours. */
		c->reconcile_seq = m->seq;
		log_info("hub holds our ops up to seq %llu, confirmed %llu: "
			 "comparing them before we push",
		    (unsigned long long)m->seq, (unsigned long long)c->acked);
	} else {
		/* What the hub holds is what counts, even below our last ack
		 * (a hub restored from backup): the rest is pushed again. */
		c->reconcile_seq = 0;
		c->acked = m->seq;
		s_save_int(c, "acked", c->acked);
		c->acked_saved = c->acked;
	}
	c->state = LINK_READY;
	c->refusal[0] = '\0';
	log_info(
	    "hub %s (%s) welcomes us: it holds our seq %llu, head %llu, our cursor %llu",
	    c->hub, m->site, (unsigned long long)m->seq,
	    (unsigned long long)m->head, (unsigned long long)c->cursor);
	s_push(c);
	proto_pull(&c->out, c->cursor, PULL_WINDOW, 1);
	s_send(c);
	c->pulled_ms = hlc_wall_ms();
	snprintf(c->hub_site, sizeof c->hub_site, "%s", m->site);
	c->relay_from = m->hub_seq;
	c->relay_report = m->recovering;
	c->hub_recovering = m->recovering;
	c->relay_stopped = 0;
	s_relay(c);
	c->backfill_wait_ms = 0;
	s_backfill(c);
}

static void
s_on_push_ack(client_t *c, const proto_msg_t *m)
{
	/* Kept in memory and saved by the tick: an fsync per ack would cost
	 * every till sale a second durable write. WELCOME is the truth after
	 * a restart anyway. */
	if (m->seq > c->acked)
		c->acked = m->seq;
	c->push_inflight = 0;
	s_push(c);
}

/* Asks the hub to stream anew from our cursor (proto.h, go-back-N): a
 * batch was lost, or credit was. At most once per PULL_STALL_MS. */
static void
s_pull_again(client_t *c, const char *why)
{
	uint64_t now = hlc_wall_ms();

	if (now - c->pulled_ms < PULL_STALL_MS)
		return;
	log_info("hub %s: pulling again from cursor %llu: %s", c->hub,
	    (unsigned long long)c->cursor, why);
	proto_pull(&c->out, c->cursor, PULL_WINDOW, 1);
	if (s_send(c) == 0)
		c->pulled_ms = now;
}

/* ---- applying OPS ---- */

/* Applies batch m's hub signature and ops in the open transaction: 0, or
 * -1 with err (the caller rolls back). */
static int
s_apply_ops(client_t *c, proto_msg_t *m, err_t *err)
{
	if (m->sig_seq > 0 && relay_keep_sig(c->store, m->sig_seq, m->sig, err))
		return -1;
	return s_ingest_batch(c, m, err);
}

static void s_handle(client_t *c, zmq_msg_t *msg);

/* Applies one OPS batch, and the batches of the stream waiting right
 * behind it (APPLY_BATCHES_MAX, APPLY_TXN_MS), in one transaction that
 * also moves the cursor past them; then gives the hub as much credit as
 * batches were applied. A batch of the stream that does not follow on
 * from our cursor is dropped (go-back-N, proto.h); the answer to FETCH
 * (from and after the same) is applied where it stands, alone, and asks
 * no credit. The first message waiting that is not such a batch is
 * handled once the transaction is over. */
static void
s_on_ops(client_t *c, proto_msg_t *m)
{
	int fetched = m->cursor_from == m->cursor, waiting = 0;
	uint64_t cursor = m->cursor, head = m->head, batches = 1;
	uint64_t started = hlc_wall_ms();
	sqlite3_int64 changes = sqlite3_total_changes64(store_db(c->store));
	zmq_msg_t next;
	proto_msg_t nm;
	err_t err;
	int64_t durable = 0;
	int written;

	if (!fetched && m->cursor_from != c->cursor) {
		log_debug("hub %s: batch from cursor %llu dropped (ours: %llu)",
		    c->hub, (unsigned long long)m->cursor_from,
		    (unsigned long long)c->cursor);
		if (m->cursor_from > c->cursor)
			s_pull_again(c, "a batch was lost on the way");
		return;
	}
	if (fetched && c->fetching) {
		c->fetching = 0;
		entropy_on_fetched(c->entropy);
	}
	if (store_begin(c->store, &err) || s_apply_ops(c, m, &err))
		goto fail;
	while (!fetched && batches < APPLY_BATCHES_MAX &&
	    hlc_wall_ms() - started < APPLY_TXN_MS) {
		zmq_msg_init(&next);
		if (zmq_msg_recv(&next, c->dealer, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&next);
			break;
		}
		waiting = 1;
		c->last_rx_ms = hlc_wall_ms();
		if (proto_decode(zmq_msg_data(&next), zmq_msg_size(&next), &nm,
			NULL) ||
		    nm.type != PROTO_OPS || nm.cursor_from == nm.cursor ||
		    nm.cursor_from != cursor)
			break;
		if (s_apply_ops(c, &nm, &err))
			goto fail;
		cursor = nm.cursor;
		head = nm.head;
		batches++;
		zmq_msg_close(&next);
		waiting = 0;
	}
	/* Another session of this site (a `status` probe beside the daemon)
	 * may have pulled further: the cursor never moves back. */
	if (store_meta_get_int(c->store, "cursor", 0, &durable, &err))
		goto fail;
	if ((uint64_t)durable > cursor)
		cursor = (uint64_t)durable;
	else if (fetched)
		cursor = c->cursor;
	/* Nothing written (every op held already, such as our own coming
	 * back, or batches empty at the hub's scan bound): pulling this
	 * stretch again after a crash brings nothing new, so the cursor waits
	 * in memory to be saved with the ack (s_save_progress), and the
	 * transaction commits nothing durable. */
	written = sqlite3_total_changes64(store_db(c->store)) != changes;
	if ((written &&
		store_meta_set_int(c->store, "cursor", (int64_t)cursor,
		    &err)) ||
	    store_commit(c->store, &err))
		goto fail;
	c->cursor = cursor;
	c->cursor_saved = written ? cursor : (uint64_t)durable;
	c->head = head;
	if (!fetched) {
		c->pulled_ms = hlc_wall_ms();
		proto_pull(&c->out, c->cursor, batches, 0);
		s_send(c);
	}
	if (c->reconcile_seq != 0)
		s_push(c); /* once what the hub holds of ours is here */
	/* A child allocated to us asks for its family. */
	s_backfill(c);
	goto out;
fail:
	store_rollback(c->store);
	log_warn("apply ops from hub: %s", err.msg);
	/* Start over from the durable cursor. */
	s_retry_later(c);
out:
	if (waiting) {
		s_handle(c, &next);
		zmq_msg_close(&next);
	}
}

static void
s_on_error(client_t *c, const proto_msg_t *m)
{
	char why[ERR_MSG_MAX];

	log_warn("hub %s: error %d: %s", c->hub, m->status, m->reason);
	if (c->relay_inflight && strncmp(m->reason, "relay:", 6) == 0) {
		/* The hub's history of its own differs from what we hold
		 * (it wrote again under seqs we saw), or it refuses what we
		 * gave: nothing more of it this session; our other traffic
		 * goes on. */
		c->relay_inflight = 0;
		c->relay_report = 0;
		c->relay_stopped = 1;
		return;
	}
	if (c->backfill[0] != '\0' && strncmp(m->reason, "backfill:", 9) == 0) {
		/* Not ours to see (any more): that backfill is dropped; a
		 * hub that cannot answer now is asked again in a second. The
		 * session goes on. */
		if (m->status == ERR_FORBIDDEN ||
		    m->status == ERR_BAD_REQUEST) {
			log_warn("backfill %s: dropped: %s", c->backfill,
			    m->reason);
			s_unwant(c, c->backfill);
		} else {
			c->backfill_wait_ms = hlc_wall_ms() + RETRY_HELLO_MS;
		}
		c->backfill[0] = '\0';
		s_backfill(c);
		return;
	}
	if (m->status == ERR_FORBIDDEN || m->status == ERR_UPGRADE) {
		text_printf(c->refusal, sizeof c->refusal, "hub %s refused: %s",
		    c->hub, m->reason);
		c->state = LINK_REFUSED;
		if (c->nhubs > 1)
			s_move(c, "refused us");
		return;
	}
	text_printf(c->last_error, sizeof c->last_error, "hub %s: error %d: %s",
	    c->hub, m->status, m->reason);
	if (c->nhubs > 1) {
		text_printf(why, sizeof why, "error %d: %s", m->status,
		    m->reason);
		s_move(c, why);
	} else {
		s_retry_later(c);
	}
}

/* Pushes our op seq again, alone and signed: the hub lacks it
 * (anti-entropy). The hub's PUSH_ACK answers it. */
static void
s_push_one(client_t *c, uint64_t seq)
{
	sqlite3_stmt *q = store_stmt(c->store,
	    "SELECT body FROM op_log WHERE origin = ? AND seq = ?");
	char sig[PROTO_SIG_HEX + 1];
	cbw_t op;

	cbw_init(&op);
	sqlite3_bind_text(q, 1, c->site, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, (int64_t)seq);
	if (store_row(c->store, q))
		cbw_raw(&op, sqlite3_column_blob(q, 0),
		    (size_t)sqlite3_column_bytes(q, 0));
	sqlite3_reset(q);
	if (op.len > 0 && s_sign(c, seq, sig) == 0) {
		proto_push_begin(&c->out, 1, sig);
		cbw_raw(&c->out, op.data, op.len);
		s_send(c);
	}
	cbw_free(&op);
}

/* Sends the next DIGEST of anti-entropy, starting a check when this
 * session has caught up and none ran for ENTROPY_EVERY_MS. */
static void
s_entropy(client_t *c, uint64_t now)
{
	uint64_t own;
	err_t err;
	int rc;

	if (c->state != LINK_READY || c->fetching)
		return;
	if ((c->entropy_ms == 0 || now - c->entropy_ms >= ENTROPY_EVERY_MS) &&
	    !entropy_busy(c->entropy) && s_meta(c->store, "seq", &own) == 0 &&
	    c->acked >= own && c->cursor >= c->welcome_head &&
	    c->push_inflight == 0) {
		c->entropy_ms = now;
		entropy_start(c->entropy, c->acked);
	}
	if ((rc = entropy_next(c->entropy, c->store, &c->out, &err)) < 0)
		log_warn("anti-entropy: %s", err.msg);
	else if (rc > 0) {
		c->asked_ms = now;
		s_send(c);
	}
}

static void
s_on_digest(client_t *c, const proto_msg_t *m)
{
	entropy_step_t step;
	err_t err;

	if (entropy_on_digest(c->entropy, c->store, m, &step, &err)) {
		log_warn("anti-entropy: %s", err.msg);
		return;
	}
	if (step.kind == ENTROPY_PUSH)
		s_push_one(c, step.seq);
	else if (step.kind == ENTROPY_FETCH) {
		proto_fetch(&c->out, c->site, step.seq);
		c->asked_ms = hlc_wall_ms();
		if (s_send(c) == 0)
			c->fetching = 1;
	}
}

/* Handles one message of the hub's, msg (borrowed), received at
 * c->last_rx_ms. */
static void
s_handle(client_t *c, zmq_msg_t *msg)
{
	proto_msg_t m;
	err_t err;
	uint64_t own;

	/* Between a move and the next connect: what the endpoint left still
	 * had on its way to us. */
	if (!c->linked)
		return;
	if (proto_decode(zmq_msg_data(msg), zmq_msg_size(msg), &m, &err)) {
		log_warn("hub %s: bad message: %s", c->hub, err.msg);
		return;
	}
	switch (m.type) {
	case PROTO_WELCOME:
		if (c->state == LINK_HELLO)
			s_on_welcome(c, &m);
		break;
	case PROTO_PUSH_ACK:
		if (c->state == LINK_READY)
			s_on_push_ack(c, &m);
		break;
	case PROTO_OPS:
		if (c->state == LINK_READY)
			s_on_ops(c, &m);
		break;
	case PROTO_DIGEST:
		if (c->state == LINK_READY)
			s_on_digest(c, &m);
		break;
	case PROTO_RELAY_ACK:
		if (c->state == LINK_READY)
			s_on_relay_ack(c, &m);
		break;
	case PROTO_BACKFILL_OPS:
		if (c->state == LINK_READY)
			s_on_backfill_ops(c, &m);
		break;
	case PROTO_PONG:
		c->clock_offset_ms = (int64_t)m.hub_ms -
		    (int64_t)(m.ms + (c->last_rx_ms - m.ms) / 2);
		/* Behind the hub and nothing moving: batches or credit were
		 * lost on the way (proto.h). */
		if (m.head > c->head)
			c->head = m.head;
		if (c->state == LINK_READY && c->head > c->cursor &&
		    c->last_rx_ms - c->pulled_ms >= PULL_STALL_MS)
			s_pull_again(c, "no batch while the hub is ahead");
		break;
	case PROTO_ERROR: s_on_error(c, &m); break;
	default:
		log_warn("hub %s: unexpected %s", c->hub,
		    proto_type_name(m.type));
		break;
	}
	/* In memory only: saved with the next ack or at the end (an idle
	 * node must not fsync for every PONG). */
	if (c->state == LINK_READY && s_meta(c->store, "seq", &own) == 0 &&
	    c->acked >= own && c->cursor >= c->welcome_head)
		c->last_sync_ms = hlc_wall_ms();
	s_entropy(c, hlc_wall_ms());
	s_progress(c);
}

static void
s_on_dealer(void *sock, void *arg)
{
	client_t *c = arg;
	zmq_msg_t msg;

	zmq_msg_init(&msg);
	if (zmq_msg_recv(&msg, sock, ZMQ_DONTWAIT) >= 0) {
		c->last_rx_ms = hlc_wall_ms();
		s_handle(c, &msg);
	}
	zmq_msg_close(&msg);
}

/* Socket monitor: two frames, [u16 event, u32 value] and the endpoint. */
static void
s_on_monitor(void *sock, void *arg)
{
	client_t *c = arg;
	zmq_msg_t head, addr;
	uint16_t event = 0;
	uint32_t value = 0;

	zmq_msg_init(&head);
	zmq_msg_init(&addr);
	if (zmq_msg_recv(&head, sock, ZMQ_DONTWAIT) < 0 ||
	    zmq_msg_recv(&addr, sock, ZMQ_DONTWAIT) < 0 ||
	    zmq_msg_size(&head) != 6)
		goto out;
	memcpy(&event, zmq_msg_data(&head), 2);
	memcpy(&value, (uint8_t *)zmq_msg_data(&head) + 2, 4);
	/* Between a move and the next connect: the endpoint left, going. */
	if (!c->linked)
		goto out;
	switch (event) {
	case ZMQ_EVENT_CONNECTED: c->tcp_connects++; break;
	case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
		c->connected = 1;
		c->tcp_connects = 0;
		c->refusal[0] = '\0';
		c->state = LINK_DOWN; /* the tick retries if HELLO fails */
		s_hello(c);
		break;
	case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
		text_printf(c->refusal, sizeof c->refusal,
		    "hub %s refused this node's key (status %u): not enrolled, or revoked",
		    c->hub, value);
		c->state = LINK_REFUSED;
		if (c->nhubs > 1)
			s_move(c, "refused this node's key");
		break;
	case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
	case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
		text_printf(c->refusal, sizeof c->refusal,
		    "hub %s: CURVE handshake failed: is --hub-key the hub's key?",
		    c->hub);
		c->state = LINK_REFUSED;
		if (c->nhubs > 1)
			s_move(c, "CURVE handshake failed");
		break;
	case ZMQ_EVENT_DISCONNECTED:
		if (c->connected) {
			c->link_ms = hlc_wall_ms(); /* LINK_LOST_MS from here */
			c->dropped = 1;
		}
		if (c->state != LINK_REFUSED)
			c->state = LINK_DOWN;
		s_forget_session(c);
		/* A hub that drops us right after TCP connects, before any
		 * handshake, is most likely refusing our CURVE hello: a hint
		 * for the report, not a refusal (it may be a relay in front of
		 * a hub that is down). */
		if (c->tcp_connects >= 3)
			text_printf(c->last_error, sizeof c->last_error,
			    "hub %s: CURVE handshake failed: is --hub-key the hub's key?",
			    c->hub);
		break;
	default: break;
	}
	s_progress(c);
out:
	zmq_msg_close(&head);
	zmq_msg_close(&addr);
}

/* PING, carrying this node's disk as the hub shows it per site. */
static void
s_ping(client_t *c, uint64_t now)
{
	ckpt_health_t h;
	ckpt_problem_t p[CKPT_PROBLEMS_MAX];
	proto_disk_t disk;

	store_health(c->store, &h);
	memset(&disk, 0, sizeof disk);
	disk.db_bytes = h.db_bytes > 0 ? (uint64_t)h.db_bytes : 0;
	disk.wal_bytes = h.wal_bytes > 0 ? (uint64_t)h.wal_bytes : 0;
	disk.free_bytes = h.disk_free_bytes > 0 ? (uint64_t)h.disk_free_bytes
						: 0;
	if (ckpt_problems(&h, store_path(c->store), p) > 0)
		snprintf(disk.problem, sizeof disk.problem, "%s", p[0].msg);
	proto_ping(&c->out, now, &disk);
}

static void
s_on_tick(evutil_socket_t fd, short what, void *arg)
{
	client_t *c = arg;
	uint64_t now = hlc_wall_ms();
	char why[ERR_MSG_MAX];

	(void)fd;
	(void)what;
	if (c->connected && c->state == LINK_DOWN && now >= c->retry_at_ms)
		s_hello(c);
	/* With several endpoints, a hub that answers neither our HELLO nor
	 * a PUSH, or with which no session stands for LINK_LOST_MS (nothing
	 * listens, or the link dropped and is not back), is left for the next
	 * (s_move), which is connected once the move's wait is over. */
	if (c->nhubs > 1 && c->connected &&
	    ((c->state == LINK_HELLO && now - c->hello_ms > ANSWER_WAIT_MS) ||
		(c->state == LINK_READY && c->push_inflight != 0 &&
		    now - c->push_ms > ANSWER_WAIT_MS))) {
		text_printf(why, sizeof why, "no answer within %d s",
		    ANSWER_WAIT_MS / 1000);
		s_move(c, why);
	}
	if (c->nhubs > 1 && c->linked && !c->connected &&
	    now - c->link_ms >= LINK_LOST_MS) {
		text_printf(why, sizeof why,
		    c->dropped ? "link down for %d s"
			       : "no session within %d s",
		    LINK_LOST_MS / 1000);
		s_move(c, why);
	}
	if (!c->linked && now >= c->retry_at_ms)
		s_link(c);
	/* An answer that never came (lost on the way, or the hub could not
	 * queue it): start the session over rather than wait for the link
	 * to drop. Every request is safe to ask again. */
	if (c->connected &&
	    ((c->state == LINK_HELLO && now - c->hello_ms > ANSWER_WAIT_MS) ||
		(c->state == LINK_READY && c->push_inflight != 0 &&
		    now - c->push_ms > ANSWER_WAIT_MS) ||
		(c->state == LINK_READY && c->relay_inflight &&
		    now - c->relay_ms > ANSWER_WAIT_MS) ||
		(c->state == LINK_READY && entropy_waiting(c->entropy) &&
		    now - c->asked_ms > ANSWER_WAIT_MS) ||
		(c->state == LINK_READY && c->backfill[0] != '\0' &&
		    now - c->backfill_ms > ANSWER_WAIT_MS))) {
		log_warn("hub %s: no answer within %d s: starting over", c->hub,
		    ANSWER_WAIT_MS / 1000);
		s_hello(c);
	}
	if (c->connected && c->state == LINK_READY &&
	    now - c->last_ping_ms >= PING_EVERY_MS) {
		s_ping(c, now);
		s_send(c);
		c->last_ping_ms = now;
		s_push(c);     /* retries a push whose send failed */
		s_backfill(c); /* likewise, and one that waited */
	}
	/* A hub still recovering may lack seqs another store has given back
	 * since: what we hold above them, and our report, again. */
	if (c->state == LINK_READY && c->hub_recovering &&
	    now - c->relay_ms >= RELAY_AGAIN_MS) {
		c->relay_report = 1;
		s_relay(c);
	}
	/* Ops refused for a clock ahead pass once real time reaches them. */
	if (now - c->retried_ms >= QUARANTINE_RETRY_MS) {
		int applied, kept;
		err_t err;

		c->retried_ms = now;
		if (store_quarantine_retry(c->store, NULL, 0, 1, NULL, NULL,
			&applied, &kept, &err))
			log_warn("quarantine: retry: %s", err.msg);
		else if (applied > 0)
			log_info("quarantine: %d ops applied on retry, %d kept",
			    applied, kept);
	}
	if (now - c->acked_saved_ms >= 5000 &&
	    (c->acked != c->acked_saved || c->cursor > c->cursor_saved ||
		c->last_sync_ms > c->last_sync_saved + LAST_SYNC_SAVE_MS))
		s_save_progress(c, now);
	zev_kick(c->dealer_ev);
	s_progress(c);
}

static void
s_on_push_soon(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	s_push(arg);
}

/* Splits the config's hub (endpoints separated by spaces, in the order
 * tried) into c->hubs, and starts at the one that last welcomed this site
 * when it is still listed, else the first. 0, or -1 with err. */
static int
s_hubs(client_t *c, const char *list, err_t *err)
{
	char last[CLIENT_HUB_MAX];
	const char *p = list;
	size_t n;
	int i;

	while (*(p += strspn(p, " \t")) != '\0') {
		n = strcspn(p, " \t");
		if (c->nhubs == CLIENT_HUBS_MAX)
			return err_set(err, ERR_BAD_REQUEST,
			    "config: hub: more than %d endpoints",
			    CLIENT_HUBS_MAX);
		if (n >= CLIENT_HUB_MAX)
			return err_set(err, ERR_BAD_REQUEST,
			    "config: hub '%.*s': longer than %d characters",
			    (int)n, p, CLIENT_HUB_MAX - 1);
		memcpy(c->hubs[c->nhubs], p, n);
		c->hubs[c->nhubs++][n] = '\0';
		p += n;
	}
	if (c->nhubs == 0)
		return err_set(err, ERR_BAD_REQUEST,
		    "config: hub: no endpoint (bl-node init --hub)");
	if (c->nhubs > 1 &&
	    store_meta_get_text(c->store, "hub_endpoint", "", last, sizeof last,
		err))
		return -1;
	for (i = 0; c->nhubs > 1 && i < c->nhubs; i++)
		if (strcmp(c->hubs[i], last) == 0)
			c->at = i;
	snprintf(c->hub, sizeof c->hub, "%s", c->hubs[c->at]);
	return 0;
}

client_t *
client_new(struct event_base *base, store_t *store, const conf_t *conf,
    const keypair_t *keys, err_t *err)
{
	client_t *c = calloc(1, sizeof *c);
	const char *hub = conf_get(conf, "hub", NULL);
	const char *hub_key = conf_get(conf, "hub_key", NULL);
	int one = 1, zero = 0, ivl = 100, ivl_max = 5000;
	uint8_t pk[CHAIN_PK_BYTES];
	int64_t acked = 0, last_sync = 0;
	struct timeval tick = { 0, 200 * 1000 };
	char monitor_ep[64];

	if (c == NULL)
		fatal("client: out of memory");
	if (hub == NULL || hub_key == NULL || !keys_valid_z85(hub_key)) {
		err_set(err, ERR_BAD_REQUEST,
		    "config: hub and a Z85 hub_key are required (bl-node init)");
		free(c);
		return NULL;
	}
	c->base = base;
	c->store = store;
	cbw_init(&c->out);
	if (s_hubs(c, hub, err)) {
		free(c);
		return NULL;
	}
	snprintf(c->site, sizeof c->site, "%s", store_site(store));
	c->entropy = entropy_new(c->site);
	if (store_meta_get_int(store, "acked", 0, &acked, err) ||
	    store_meta_get_int(store, "last_sync", 0, &last_sync, err)) {
		free(c);
		return NULL;
	}
	c->acked = c->acked_saved = (uint64_t)acked;
	c->last_sync_ms = c->last_sync_saved = (uint64_t)last_sync;
	if (keys_sign_pair(keys, pk, &c->sign_sk, err)) {
		free(c);
		return NULL;
	}
	sodium_bin2hex(c->sign_pk, sizeof c->sign_pk, pk, sizeof pk);
	c->ctx = zmq_ctx_new();
	/* Linger and message size as at the hub, heartbeats (zsock.h). */
	if ((c->dealer = zsock_new(c->ctx, ZMQ_DEALER, err)) == NULL) {
		client_destroy(&c);
		return NULL;
	}
	snprintf(monitor_ep, sizeof monitor_ep, "inproc://monitor-%p",
	    (void *)c);
	if (zsock_set(c->dealer, ZMQ_CURVE_SERVERKEY, "ZMQ_CURVE_SERVERKEY",
		hub_key, KEYS_Z85_LEN, err) ||
	    zsock_set(c->dealer, ZMQ_CURVE_PUBLICKEY, "ZMQ_CURVE_PUBLICKEY",
		keys->public_z85, KEYS_Z85_LEN, err) ||
	    zsock_set(c->dealer, ZMQ_CURVE_SECRETKEY, "ZMQ_CURVE_SECRETKEY",
		keys->secret_z85, KEYS_Z85_LEN, err) ||
	    zsock_set(c->dealer, ZMQ_IMMEDIATE, "ZMQ_IMMEDIATE", &one,
		sizeof one, err) ||
	    zsock_set(c->dealer, ZMQ_RECONNECT_IVL, "ZMQ_RECONNECT_IVL", &ivl,
		sizeof ivl, err) ||
	    zsock_set(c->dealer, ZMQ_RECONNECT_IVL_MAX, "ZMQ_RECONNECT_IVL_MAX",
		&ivl_max, sizeof ivl_max, err)) {
		client_destroy(&c);
		return NULL;
	}
	/* The monitor tells connects, drops and refused handshakes. */
	err_clear(err);
	if (zmq_socket_monitor(c->dealer, monitor_ep,
		ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED |
		    ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
		    ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
		    ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
		    ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) != 0 ||
	    (c->monitor = zmq_socket(c->ctx, ZMQ_PAIR)) == NULL ||
	    zsock_set(c->monitor, ZMQ_LINGER, "ZMQ_LINGER", &zero, sizeof zero,
		err) ||
	    zmq_connect(c->monitor, monitor_ep) != 0) {
		if (err->code == ERR_OK)
			err_set(err, ERR_INTERNAL, "sync monitor %s: %s",
			    monitor_ep, zmq_strerror(zmq_errno()));
		client_destroy(&c);
		return NULL;
	}
	if (zmq_connect(c->dealer, c->hub) != 0) {
		err_set(err, ERR_BAD_REQUEST, "hub %s: %s", c->hub,
		    zmq_strerror(zmq_errno()));
		client_destroy(&c);
		return NULL;
	}
	c->linked = 1;
	c->link_ms = hlc_wall_ms();
	c->monitor_ev = zev_new(base, c->monitor, s_on_monitor, c);
	c->dealer_ev = zev_new(base, c->dealer, s_on_dealer, c);
	c->tick = event_new(base, -1, EV_PERSIST, s_on_tick, c);
	event_add(c->tick, &tick);
	c->push_soon = evtimer_new(base, s_on_push_soon, c);
	return c;
}

void
client_set_progress(client_t *c, client_progress_fn fn, void *arg)
{
	c->progress = fn;
	c->progress_arg = arg;
}

void
client_wrote(client_t *c)
{
	/* Nothing in flight: the write goes at once, in the next turn of the
	 * loop (after the commit callback that called us). A PUSH in flight:
	 * what is written meanwhile waits for its PUSH_ACK and goes as one
	 * batch, so a burst of till writes costs the hub one commit per
	 * round trip, not one per sale (Nagle's rule, without a timer that
	 * every lone sale would wait for). */
	struct timeval now = { 0, 0 };

	if (c->push_inflight != 0)
		return;
	if (!evtimer_pending(c->push_soon, NULL))
		evtimer_add(c->push_soon, &now);
}

link_state_t
client_state(const client_t *c)
{
	return c->state;
}

int
client_caught_up(const client_t *c)
{
	uint64_t seq;

	/* A restored hub has what we hold of its own, and our report; our
	 * ops were compared with the hub's. */
	return c->state == LINK_READY && s_meta(c->store, "seq", &seq) == 0 &&
	    c->acked >= seq && c->cursor >= c->welcome_head &&
	    !c->relay_inflight && !c->relay_report && c->entropy_ms != 0 &&
	    !entropy_busy(c->entropy) &&
	    store_query_int(c->store,
		store_stmt(c->store, "SELECT count(*) FROM backfills"), 1) == 0;
}

const char *
client_refusal(const client_t *c)
{
	return c->refusal;
}

const char *
client_last_error(const client_t *c)
{
	return c->last_error;
}

const char *
client_hub(const client_t *c)
{
	return c->hub;
}

/* Whether this machine's clock is off from head office's by more than the
 * hub lets an op be ahead (then what it stamps of last-writer-wins claims
 * waits at the hub, store.h): 1 with
 * the problem in buf, else 0. */
static int
s_clock_problem(const client_t *c, char *buf, size_t size)
{
	int64_t off = c->clock_offset_ms;

	if (off >= -HLC_DEFAULT_MAX_DRIFT_MS && off <= HLC_DEFAULT_MAX_DRIFT_MS)
		return 0;
	snprintf(buf, size,
	    "this machine's clock is %lld s %s head office's (at most %d s "
	    "either way): %s; set the clock right",
	    (long long)(off < 0 ? -off : off) / 1000,
	    off < 0 ? "ahead of" : "behind", HLC_DEFAULT_MAX_DRIFT_MS / 1000,
	    off < 0 ? "changes to customers and cases made here wait at head "
		      "office until real time reaches them (sales, payments "
		      "and stock pass)"
		    : "customer and case changes from head office wait here");
	return 1;
}

/* "region" as the hub last said, and "backfills": [{key, after, since}]
 * pending, oldest first (proto.h). */
static void
s_backfill_status(client_t *c, json_t *status)
{
	sqlite3_stmt *q = store_stmt(c->store,
	    "SELECT key, after, since FROM backfills ORDER BY since, key");
	json_t *items = json_array();
	char region[PROTO_REGION_MAX + 1];
	err_t err;

	while (store_row(c->store, q))
		json_array_append_new(items,
		    json_pack("{s:s, s:I, s:I}", "key",
			(const char *)sqlite3_column_text(q, 0), "after",
			(json_int_t)sqlite3_column_int64(q, 1), "since",
			(json_int_t)sqlite3_column_int64(q, 2)));
	sqlite3_reset(q);
	json_object_set_new(status, "backfills", items);
	if (store_meta_get_text(c->store, "region", "", region, sizeof region,
		&err) == 0 &&
	    region[0] != '\0')
		json_object_set_new(status, "region", json_string(region));
}

void
client_status(client_t *c, json_t *status)
{
	static const char *const names[] = { "down", "connecting", "up",
		"refused" };
	char problem[ERR_MSG_MAX];
	uint64_t seq = 0;
	json_t *hubs;
	int i;

	s_meta(c->store, "seq", &seq); /* logged; 0 waiting when unreadable */
	json_object_set_new(status, "hub", json_string(c->hub));
	hubs = json_array();
	for (i = 0; i < c->nhubs; i++)
		json_array_append_new(hubs, json_string(c->hubs[i]));
	json_object_set_new(status, "hubs", hubs);
	entropy_status(c->entropy, status);
	json_object_set_new(status, "hub_link", json_string(names[c->state]));
	json_object_set_new(status, "caught_up",
	    json_boolean(client_caught_up(c)));
	json_object_set_new(status, "pending_push",
	    json_integer((json_int_t)(seq > c->acked ? seq - c->acked : 0)));
	json_object_set_new(status, "hub_head",
	    json_integer((json_int_t)c->head));
	json_object_set_new(status, "last_sync_ms",
	    json_integer((json_int_t)c->last_sync_ms));
	json_object_set_new(status, "clock_offset_ms",
	    json_integer(c->clock_offset_ms));
	if (s_clock_problem(c, problem, sizeof problem))
		json_object_set_new(status, "clock_problem",
		    json_string(problem));
	s_backfill_status(c, status);
	if (c->refusal[0] != '\0')
		json_object_set_new(status, "refusal", json_string(c->refusal));
	if (c->last_error[0] != '\0' && c->state != LINK_READY)
		json_object_set_new(status, "hub_error",
		    json_string(c->last_error));
}

void
client_alerts(client_t *c, json_t *items)
{
	char problem[ERR_MSG_MAX], id[64];

	if (!s_clock_problem(c, problem, sizeof problem))
		return;
	snprintf(id, sizeof id, "clock:%s:%s", c->site, c->site);
	json_array_append_new(items,
	    json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "id", id, "kind",
		"clock", "site", c->site, "subject", c->site, "message",
		problem, "at", (json_int_t)c->last_rx_ms));
}

void
client_destroy(client_t **self_p)
{
	client_t *c;

	if (self_p == NULL || *self_p == NULL)
		return;
	c = *self_p;
	if (c->acked != c->acked_saved || c->cursor > c->cursor_saved ||
	    c->last_sync_ms != c->last_sync_saved)
		s_save_progress(c, hlc_wall_ms());
	entropy_destroy(&c->entropy);
	if (c->tick != NULL)
		event_free(c->tick);
	if (c->push_soon != NULL)
		event_free(c->push_soon);
	zev_destroy(&c->dealer_ev);
	zev_destroy(&c->monitor_ev);
	if (c->dealer != NULL) {
		/* Tell the hub the session ends, and give that a moment to
		 * leave: a next session of this site is not a twin then. */
		if (c->connected && c->state != LINK_REFUSED) {
			int linger = 200;

			proto_bye(&c->out);
			zmq_setsockopt(c->dealer, ZMQ_LINGER, &linger,
			    sizeof linger);
			zmq_send(c->dealer, c->out.data, c->out.len,
			    ZMQ_DONTWAIT);
		}
		zmq_socket_monitor(c->dealer, NULL, 0);
		zmq_close(c->dealer);
	}
	if (c->monitor != NULL)
		zmq_close(c->monitor);
	if (c->ctx != NULL)
		zmq_ctx_term(c->ctx);
	cbw_free(&c->out);
	sodium_free(c->sign_sk);
	free(c);
	*self_p = NULL;
}
