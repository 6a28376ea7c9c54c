/*
 * proto: the sync protocol between a node (DEALER) and the hub (ROUTER).
 *
 * Every message is one ZeroMQ frame holding a CBOR array, deterministic
 * encoding, integers only:
 *
 *   HELLO    = [1, site, proto_version, schema_version, own_max_seq, cursor,
 *               incarnation, sign_key]
 *   WELCOME  = [2, hub_site, held_seq, head, hub_seq, recovering, region]
 *   PUSH     = [3, signature, [op, ...]]
 *   PUSH_ACK = [4, up_to_seq]
 *   PULL     = [5, cursor, credit, restart]
 *   OPS      = [6, cursor_from, cursor_after, head, sig_seq, signature,
 *               [op, ...]]
 *   PING     = [7, sent_ms, db_bytes, wal_bytes, disk_free_bytes,
 *               disk_problem]
 *   PONG     = [8, echoed_ms, hub_wall_ms, head]
 *   ERROR    = [9, status, reason]
 *   BYE      = [10]
 *   RELAY    = [11, signature, seen, [op, ...]]
 *   RELAY_ACK= [12, up_to_seq, recovering]
 *   DIGEST   = [13, origin, lo, hi, count, chain]
 *   FETCH    = [14, origin, seq]
 *   BACKFILL = [15, key, after]
 *   BACKFILL_OPS = [16, key, from, next, done, [op, ...]]
 *
 * A session: the node sends HELLO; the hub answers WELCOME with the highest
 * seq of this site it holds (held_seq) and its log head, or ERROR. The node
 * then PUSHes its ops above held_seq in order; the hub commits each batch and
 * answers PUSH_ACK with the highest seq it now holds. The node PULLs from its
 * cursor with a credit of batches; the hub streams OPS while credit lasts,
 * including later ops as they arrive, and each OPS carries the cursor it
 * follows on from and the one the node reaches once it has applied it. A
 * PULL on an open stream adds credit (the node sends one per transaction
 * of batches applied, a credit for each) and says how far the node has
 * applied.
 *
 * The stream is go-back-N: a node applies only a batch that follows on from
 * its cursor and drops any other (a duplicate, or one after a lost batch).
 * When it sees a batch beyond its cursor, or no progress while PONG says
 * the hub's head is ahead (lost batches, or lost PULLs whose credit the hub
 * never got), it PULLs again with restart 1: the hub streams anew from the
 * node's cursor with that credit and forgets what it had in flight.
 *
 * own_max_seq is the highest seq of its own ops the node saw the hub
 * confirm: the hub streams none of the node's own ops back except those it
 * holds above that, and of other sites' ops only those the node may see
 * (hub/visibility.c). When held_seq is above own_max_seq (a lost ack, a
 * data folder restored or copied), the node pushes nothing until those ops
 * came back and were compared with its own under the same seqs (store.h:
 * a different one of its own is renumbered).
 *
 * sign_key is the node's Ed25519 public key (chain.h), pinned by the hub
 * at the site's first HELLO; signature is the node's over its chain up to
 * the batch's last op, checked before the hub commits the batch.
 *
 * incarnation names the copy of the node's data folder (store.h): one live
 * session per site; a second HELLO of the same incarnation replaces the
 * first, one of another incarnation is refused (409) while the first
 * lives, naming both.
 *
 * A restored hub gets its own ops back from the nodes (RELAY). The hub
 * signs its own chain as it writes (chain.h: at least every
 * PROTO_SIGN_EVERY of its ops and at its head); an OPS batch carries the
 * hub's signature over its own chain up to sig_seq, the highest op of its
 * own in the batch it has signed (0 and "" when none), and the node keeps
 * it. WELCOME gives hub_seq, the highest op of its own the hub holds, and
 * recovering, 1 after `bl-hub restore` until every site has reported. A
 * node holding ops of the hub's above hub_seq sends them back in RELAY
 * batches, in seq order with no gap, each ending at an op the hub signed
 * and carrying that signature; the hub checks chain and signature before
 * it takes them and answers RELAY_ACK. Every RELAY also says the highest
 * seq of the hub's own the node has seen (held, dropped by retention, or
 * quarantined). While the hub is recovering, the node always sends a
 * RELAY, empty when it holds nothing more: that is its report, and it
 * sends one again every few seconds until a RELAY_ACK says the hub is
 * recovering no more. The hub writes nothing of its own until every site
 * has reported and it holds every seq of its own a site has seen
 * (hub/recover.c), so it never reuses a seq of its own.
 *
 * Anti-entropy (node/entropy.c): a node sends DIGEST of its own ops with
 * seq in [lo, hi]: how many it holds and its chain at hi (hex, "" when it
 * does not hold hi); the hub answers DIGEST with its own figures for the
 * same range. The node bisects where they differ, down to one seq: an op
 * the hub lacks is pushed again (a PUSH of that op alone, signed), one the
 * node lacks it asks for with FETCH, which the hub answers with an OPS
 * batch of that op (cursor unchanged). Agreeing ranges cost a count and a
 * lookup on each side.
 *
 * Backfill: what a node may see grows when head office allocates it an
 * order (a child order whose fulfil_site is the node's site), moves it
 * to another region (WELCOME says the site's region now) or moves a store
 * into its region (head office's op site_region, sync/domain/site.h). The
 * stream decides at send time, so it brings what comes next; what was
 * logged before, the node asks for by key: "order:ID", the ops of order
 * ID's family (hub/visibility.c: the order, its children, their payments,
 * invoices and cases), "region:NAME", the stock movements of region
 * NAME's sites, or "site:ID", the stock movements at site ID (logged for
 * the region it was in then). BACKFILL asks for the ops of key with lsn
 * above after; BACKFILL_OPS answers with one bounded batch of them, in
 * lsn order, never the node's own: from is the request's after, next the
 * lsn the hub has looked up to (the next request's after), done 1 when
 * nothing more is logged for key. A node applies each answer as it
 * applies OPS (idempotent, in one transaction with its after) and asks
 * again until done, one key at a time, so a backfill streams on the
 * node's demand like a catch-up. A key the site may not see now (an
 * order order_sites does not give it, a region not its own, a store of
 * another region than its own) is refused with 403, whose reason begins
 * "backfill: " and which ends only that backfill, not the session. More
 * BACKFILLs than the hub's pace allows are refused with 503 (the hub
 * logs them once per session every 10 s, with how many).
 *
 * BYE: the node ends its session (a one-shot sync done, a daemon
 * stopping); the hub forgets it at once, so that the next session of the
 * site, of another copy of its data folder too, is not taken for a twin.
 *
 * PING also reports the node's disk (its database and WAL sizes, free
 * space, 0 when unknown, and its first disk problem or "", see ckpt.h),
 * which the hub shows per site. ERROR carries a 3-digit status (see err.h)
 * and a readable reason; 403 and 426 end the session (but for a refused
 * BACKFILL, above).
 */
#ifndef BL_PROTO_H
#define BL_PROTO_H

#include <stdint.h>

#include "codec.h"
#include "err.h"
#include "op.h"

/* 2: PING reports the disk; 3: HELLO incarnation; 4: RELAY, the hub's
 * signatures in OPS; 5: DIGEST and FETCH, what RELAY saw; 6: WELCOME's
 * region, BACKFILL and BACKFILL_OPS */
#define PROTO_VERSION 6
#define PROTO_SIGN_EVERY 512 /* the hub signs its chain at least this often */
#define PROTO_INCARNATION_MAX 32 /* hex digits */
#define PROTO_SIGN_KEY_HEX 64	 /* an Ed25519 public key, lower-case hex */
#define PROTO_SIG_HEX 128	 /* an Ed25519 signature, lower-case hex */
#define PROTO_CHAIN_HEX 64	 /* a chain value (chain.h), lower-case hex */
#define PROTO_MAX_MSG (8 * 1024 * 1024) /* bytes in one message */
#define PROTO_MAX_BATCH 2000		/* ops in one PUSH or OPS */
#define PROTO_BATCH_BYTES (1024 * 1024) /* soft bytes in one batch */
#define PROTO_REASON_MAX 255
#define PROTO_REGION_MAX 63 /* bytes in a region name */
/* A backfill's key: "order:" and an order id, "region:" and a name, or
 * "site:" and a site id. */
#define PROTO_KEY_MAX 70

typedef enum {
	PROTO_HELLO = 1,
	PROTO_WELCOME,
	PROTO_PUSH,
	PROTO_PUSH_ACK,
	PROTO_PULL,
	PROTO_OPS,
	PROTO_PING,
	PROTO_PONG,
	PROTO_ERROR,
	PROTO_BYE,
	PROTO_RELAY,
	PROTO_RELAY_ACK,
	PROTO_DIGEST,
	PROTO_FETCH,
	PROTO_BACKFILL,
	PROTO_BACKFILL_OPS,
} proto_type_t;

/* A node's disk, as PING reports it. */
typedef struct {
	uint64_t db_bytes, wal_bytes, free_bytes; /* 0: unknown */
	char problem[PROTO_REASON_MAX + 1];	  /* "" when none */
} proto_disk_t;

/* A decoded message. Text is copied in; a batch (PUSH, OPS) is read lazily
 * with proto_next_op from the buffer passed to proto_decode, which must stay
 * alive until then. */
typedef struct {
	proto_type_t type;
	char site[OP_SITE_MAX + 1]; /* HELLO: node site; WELCOME: hub site */
	char region[PROTO_REGION_MAX + 1]; /* WELCOME */
	char key[PROTO_KEY_MAX + 1];	   /* BACKFILL, BACKFILL_OPS */
	int done;			   /* BACKFILL_OPS */
	uint64_t version;		   /* HELLO */
	char incarnation[PROTO_INCARNATION_MAX + 1]; /* HELLO */
	char sign_key[PROTO_SIGN_KEY_HEX + 1];	     /* HELLO */
	char sig[PROTO_SIG_HEX + 1];	 /* PUSH, RELAY; OPS: "" or one */
	uint64_t schema;		 /* HELLO */
	uint64_t seq;			 /* HELLO own_max_seq, WELCOME held_seq,
	                                 PUSH_ACK and RELAY_ACK up_to_seq */
	uint64_t hub_seq;		 /* WELCOME; RELAY: seen */
	int recovering;			 /* WELCOME, RELAY_ACK */
	uint64_t sig_seq;		 /* OPS: 0 when sig is "" */
	uint64_t lo, hi, count;		 /* DIGEST; FETCH: its seq in lo */
	char chain[PROTO_CHAIN_HEX + 1]; /* DIGEST: "" or a chain value */
	uint64_t cursor;		 /* HELLO, PULL; OPS cursor_after;
	                                 BACKFILL after; BACKFILL_OPS next */
	uint64_t cursor_from;		 /* OPS; BACKFILL_OPS from */
	int restart;			 /* PULL */
	uint64_t head;			 /* WELCOME, OPS, PONG */
	uint64_t credit;		 /* PULL */
	uint64_t ms;			 /* PING sent_ms, PONG echoed_ms */
	uint64_t hub_ms;		 /* PONG */
	proto_disk_t disk;		 /* PING */
	int status;			 /* ERROR */
	char reason[PROTO_REASON_MAX + 1];
	size_t nops; /* PUSH, OPS, RELAY, BACKFILL_OPS: ops in the batch */
	size_t ops_left;
	cbr_t reader; /* positioned at the next op */
} proto_msg_t;

/* Decodes one message. Checks size, shape, types and limits of everything
 * but the ops of a batch, which proto_next_op checks one by one. Returns -1
 * with ERR_BAD_REQUEST (or ERR_TOO_LARGE) and a "proto: ..." message. */
int proto_decode(const uint8_t *buf, size_t len, proto_msg_t *msg, err_t *err);

/* Returns the next op of a batch: 1 with *op filled (caller clears it) and
 * body/len spanning its exact bytes; 0 when the batch is done (and the
 * message fully read); -1 on a malformed op. */
int proto_next_op(proto_msg_t *msg, op_t *op, const uint8_t **body, size_t *len,
    err_t *err);

/* The same with op->fields left NULL, checked but not built (op_decode_head),
 * for a receiver that keeps the bytes and decodes them later. */
int proto_next_op_head(proto_msg_t *msg, op_t *op, const uint8_t **body,
    size_t *len, err_t *err);

/* Encoders: each resets w and writes one whole message (batches: the header;
 * the caller then appends exactly n op bodies with cbw_raw). */
void proto_hello(cbw_t *w, const char *site, uint64_t schema,
    uint64_t own_max_seq, uint64_t cursor, const char *incarnation,
    const char *sign_key);
void proto_welcome(cbw_t *w, const char *hub_site, uint64_t held_seq,
    uint64_t head, uint64_t hub_seq, int recovering, const char *region);
void proto_push_begin(cbw_t *w, size_t n, const char *sig);
void proto_push_ack(cbw_t *w, uint64_t up_to_seq);
void proto_pull(cbw_t *w, uint64_t cursor, uint64_t credit, int restart);
void proto_ops_begin(cbw_t *w, uint64_t cursor_from, uint64_t cursor_after,
    uint64_t head, uint64_t sig_seq, const char *sig, size_t n);
void proto_relay_begin(cbw_t *w, size_t n, const char *sig, uint64_t seen);
void proto_relay_ack(cbw_t *w, uint64_t up_to_seq, int recovering);
void proto_digest(cbw_t *w, const char *origin, uint64_t lo, uint64_t hi,
    uint64_t count, const char *chain);
void proto_fetch(cbw_t *w, const char *origin, uint64_t seq);
void proto_backfill(cbw_t *w, const char *key, uint64_t after);
void proto_backfill_ops_begin(cbw_t *w, const char *key, uint64_t from,
    uint64_t next, int done, size_t n);
void proto_ping(cbw_t *w, uint64_t sent_ms, const proto_disk_t *disk);
void proto_pong(cbw_t *w, uint64_t echoed_ms, uint64_t hub_ms, uint64_t head);
void proto_error(cbw_t *w, int status, const char *reason);
void proto_bye(cbw_t *w);

/* Name of a message type for logs ("HELLO"), "?" when unknown. */
const char *proto_type_name(int type);

#endif
