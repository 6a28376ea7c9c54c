/*
 * blmangle: a relay between nodes and the hub that drops, delays,
 * duplicates and reorders sync messages, for process tests of a bad link.
 *
 *   blmangle [-c] [-s SEED] [-p PCT] [-d PCT] [-l PCT] [-u PCT] [-r PCT]
 *            [-w HOLD_MS] LISTEN_PORT HUB_PORT HUB_DIR NODE_DIR...
 *
 * The link is CURVE-encrypted, so a byte relay cannot touch single
 * messages; this one ends CURVE on both sides with the real keys from the
 * test's data folders. It binds a ROUTER on 127.0.0.1:LISTEN_PORT as a
 * CURVE server with the hub's key pair (HUB_DIR/hub.key), so the nodes'
 * pinned hub key holds, and admits, through its own ZAP handler, only the
 * keys of the NODE_DIRs, naming each connection by the node's site in the
 * ZAP User-Id. For each node connection (routing id) it opens a DEALER to
 * the hub at 127.0.0.1:HUB_PORT as a CURVE client with that node's key
 * pair (NODE_DIR/node.key), so the hub authenticates the node as itself
 * and sees one connection for each of the node's. A connection whose node
 * is gone (the hub's answer cannot be routed) is closed towards the hub
 * too, and what was held for it is lost, as a dropped line loses it.
 *
 * Each message, in each direction, is forwarded, or with the given
 * percentages: dropped (-d), delayed (-l: held HOLD_MS/4 to HOLD_MS, 400 by
 * default, while later ones pass), duplicated (-u: sent twice in a row) or
 * reordered (-r: sent right after the next message of that direction, or
 * after HOLD_MS when none comes). -p sets all four. The choices come from a
 * PRNG per node and direction seeded from SEED (-s, else $BL_MANGLE_SEED,
 * else the clock), printed at start, so one seed gives every node the same
 * sequence of choices again, message by message.
 *
 * Every action but a forward is logged on stderr with the node, direction
 * and message type. SIGUSR1 stops the mangling: what is held goes out at
 * once, in order, and from then on every message is forwarded as it comes.
 * SIGUSR2 starts it (again); with -c the relay starts calm, forwarding
 * everything until then, so that a test can set its sites up first.
 * Held and duplicated messages of PUSH, PULL, OPS and the like are logged
 * with what tells where the session stood (ops in the batch, cursors).
 * SIGTERM or SIGINT ends the relay; it prints one line per action with its
 * counts per direction and message type, and one of the messages it lost
 * itself (their connection closed, or a full queue), and exits 0. Exits 1
 * with a line on stderr when it cannot start, 2 on bad usage.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "conf.h"
#include "keys.h"
#include "op.h"
#include "proto.h"
#include "zsock.h"

#define MANGLE_MAX_NODES 16
#define MANGLE_MAX_CONNS 64 /* open at once; the idlest one gives way */
#define MANGLE_RID_MAX 256
#define MANGLE_HOLD_MS 400 /* default longest hold */
#define MANGLE_POLL_MS 100 /* longest wait without a message */
#define ZAP_ENDPOINT "inproc://zeromq.zap.01"

enum { UP, DOWN, NDIRS }; /* node -> hub, hub -> node */
enum { FORWARD, DROP, DELAY, DUP, REORDER, LOST, NACTS };
#define NTYPES 24 /* types counted by number; 0: not a sync message */

static const char *const s_dir_names[NDIRS] = { "up", "down" };
static const char *const s_act_names[NACTS] = { "forwarded", "dropped",
	"delayed", "duplicated", "reordered", "lost" };

/* A node we relay for: its keys, and a PRNG per direction shared by its
 * connections. */
struct node {
	char site[OP_SITE_MAX + 1];
	keypair_t keys;
	uint64_t rng[NDIRS];
};

/* One connection of a node to us, joined to a DEALER of ours to the hub;
 * a free slot has no dealer. id numbers the connections from 1. */
struct link {
	struct node *node;
	unsigned id;
	uint8_t rid[MANGLE_RID_MAX];
	size_t rid_len;
	void *dealer;
	uint64_t last_ms; /* last message either way */
};

/* A message held back: delayed until due_ms, or (reorder) until the next
 * message of its link and direction has gone, or due_ms if none comes.
 * The link is named by id: it may be closed before the message is due. */
struct held {
	struct held *next;
	unsigned link;
	int dir, type, reorder;
	uint64_t due_ms;
	zmq_msg_t msg;
};

static struct node s_nodes[MANGLE_MAX_NODES];
static int s_nnodes;
static struct link s_links[MANGLE_MAX_CONNS];
static unsigned s_last_id;
static struct held *s_held; /* in the order held */
static void *s_ctx, *s_router, *s_zap;
static char s_hub_ep[64];
static char s_hub_pub[KEYS_Z85_LEN + 1];
static int s_pct[NACTS]; /* per action but FORWARD and LOST */
static int s_hold_ms = MANGLE_HOLD_MS;
static uint64_t s_start_ms;
static unsigned long long s_count[NACTS][NDIRS][NTYPES];
static volatile sig_atomic_t s_stop, s_calm_asked;
static int s_calm; /* forwarding everything: -c, SIGUSR1 */

static void s_note(const struct link *l, int dir, int type, const char *what,
    ...) __attribute__((format(printf, 4, 5)));

static uint64_t
s_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* splitmix64: small, seedable, and the same on every machine. */
static uint64_t
s_rand(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void
s_on_signal(int sig)
{
	if (sig == SIGUSR1)
		s_calm_asked = 1;
	else if (sig == SIGUSR2)
		s_calm_asked = 0;
	else
		s_stop = 1;
}

/* The name of message type t for people: "PUSH", "11" for one newer
 * than this build knows, "other" for what is not a sync message. The
 * returned text lives until the next call. */
static const char *
s_type_name(int type)
{
	static char num[16];

	if (type == 0)
		return "other";
	if (strcmp(proto_type_name(type), "?") != 0)
		return proto_type_name(type);
	snprintf(num, sizeof num, "%d", type);
	return num;
}

/* One line on stderr: time since start, the node and connection ("S001.2";
 * l NULL: every one), direction and message type (type < 0: none), and
 * what. */
static void
s_note(const struct link *l, int dir, int type, const char *what, ...)
{
	uint64_t t = s_now_ms() - s_start_ms;
	va_list ap;

	fprintf(stderr, "blmangle: +%llu.%03llu s ",
	    (unsigned long long)(t / 1000), (unsigned long long)(t % 1000));
	if (l != NULL)
		fprintf(stderr, "%s.%u ", l->node->site, l->id);
	if (type >= 0)
		fprintf(stderr, "%s %s ", s_dir_names[dir], s_type_name(type));
	va_start(ap, what);
	vfprintf(stderr, what, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* The type of a sync message, [type, ...] in CBOR: 0 when it is not one
 * (it is forwarded all the same; the peers judge it). */
static int
s_type_of(zmq_msg_t *msg)
{
	const uint8_t *p = zmq_msg_data(msg);
	size_t n = zmq_msg_size(msg), at;

	if (n < 2 || (p[0] & 0xe0) != 0x80)
		return 0;
	at = (p[0] & 0x1f) < 24 ? 1 : (p[0] & 0x1f) == 24 ? 2 : n;
	if (at >= n || p[at] < PROTO_HELLO || p[at] >= NTYPES)
		return 0;
	return p[at];
}

/* What msg carries that tells where a session stands, for the log:
 * "(cursor 12, credit 1) ", "(2 ops, to cursor 40 of 52) ", or "". */
static void
s_what(zmq_msg_t *msg, int type, char *buf, size_t size)
{
	proto_msg_t m;
	err_t err;

	buf[0] = '\0';
	if (type == 0 ||
	    proto_decode(zmq_msg_data(msg), zmq_msg_size(msg), &m, &err))
		return;
	switch (m.type) {
	case PROTO_HELLO:
		snprintf(buf, size, "(own seq %llu, cursor %llu) ",
		    (unsigned long long)m.seq, (unsigned long long)m.cursor);
		break;
	case PROTO_PULL:
		snprintf(buf, size, "(cursor %llu, credit %llu) ",
		    (unsigned long long)m.cursor, (unsigned long long)m.credit);
		break;
	case PROTO_WELCOME:
		snprintf(buf, size, "(hub holds seq %llu, head %llu) ",
		    (unsigned long long)m.seq, (unsigned long long)m.head);
		break;
	case PROTO_PUSH: snprintf(buf, size, "(%zu ops) ", m.nops); break;
	case PROTO_PUSH_ACK:
		snprintf(buf, size, "(up to seq %llu) ",
		    (unsigned long long)m.seq);
		break;
	case PROTO_OPS:
		snprintf(buf, size, "(%zu ops, to cursor %llu of %llu) ",
		    m.nops, (unsigned long long)m.cursor,
		    (unsigned long long)m.head);
		break;
	case PROTO_ERROR:
		snprintf(buf, size, "(%d %.60s) ", m.status, m.reason);
		break;
	default: break;
	}
}

/* The open link numbered id, or NULL. */
static struct link *
s_link(unsigned id)
{
	int i;

	for (i = 0; i < MANGLE_MAX_CONNS; i++)
		if (s_links[i].dealer != NULL && s_links[i].id == id)
			return &s_links[i];
	return NULL;
}

/* Closes l both ways: its DEALER to the hub goes, so the hub sees the
 * node's connection end. */
static void
s_link_close(struct link *l, const char *why)
{
	s_note(l, UP, -1, "closed: %s", why);
	zmq_close(l->dealer);
	l->dealer = NULL;
}

/* Sends msg (taken) on at once over link id, to the hub or to the node. A
 * message whose link is closed, or one the socket will not take, is lost
 * and counted so; a node that cannot be reached closes its link. */
static void
s_send_now(unsigned id, int dir, int type, zmq_msg_t *msg)
{
	struct link *l = s_link(id);
	int rc;

	if (l == NULL) {
		fprintf(stderr,
		    "blmangle: connection %u %s %s: lost: the "
		    "connection is closed\n",
		    id, s_dir_names[dir], s_type_name(type));
		s_count[LOST][dir][type]++;
		zmq_msg_close(msg);
		return;
	}
	l->last_ms = s_now_ms();
	if (dir == UP)
		rc = zmq_msg_send(msg, l->dealer, ZMQ_DONTWAIT);
	else if ((rc = zmq_send(s_router, l->rid, l->rid_len,
		      ZMQ_SNDMORE | ZMQ_DONTWAIT)) >= 0)
		rc = zmq_msg_send(msg, s_router, ZMQ_DONTWAIT);
	if (rc < 0) {
		int e = zmq_errno();

		s_note(l, dir, type, "lost: send: %s", zmq_strerror(e));
		s_count[LOST][dir][type]++;
		zmq_msg_close(msg);
		if (dir == DOWN && e == EHOSTUNREACH)
			s_link_close(l, "the node is gone");
	}
}

/* Sends what reorder held back on link id in direction dir: it comes
 * right after the message that just went. */
static void
s_release_reordered(unsigned id, int dir)
{
	struct held **p = &s_held, *h;

	while ((h = *p) != NULL) {
		if (h->link != id || h->dir != dir || !h->reorder) {
			p = &h->next;
			continue;
		}
		*p = h->next;
		s_send_now(id, dir, h->type, &h->msg);
		free(h);
	}
}

/* Sends msg (taken) on now, then whatever waits to come after it. */
static void
s_deliver(unsigned id, int dir, int type, zmq_msg_t *msg)
{
	s_send_now(id, dir, type, msg);
	s_release_reordered(id, dir);
}

/* Holds msg (taken) back until due_ms, or until the next message when
 * reorder is set. */
static void
s_hold(struct link *l, int dir, int type, int reorder, uint64_t due_ms,
    zmq_msg_t *msg)
{
	struct held *h = calloc(1, sizeof *h), **p;

	if (h == NULL) {
		fprintf(stderr, "blmangle: out of memory\n");
		exit(1);
	}
	h->link = l->id;
	h->dir = dir;
	h->type = type;
	h->reorder = reorder;
	h->due_ms = due_ms;
	zmq_msg_init(&h->msg);
	zmq_msg_move(&h->msg, msg);
	for (p = &s_held; *p != NULL; p = &(*p)->next)
		;
	*p = h;
}

/* Sends every held message that is due (all of them when all is set), in
 * the order held, reordered ones after the message they waited for. */
static void
s_release_due(int all)
{
	uint64_t now = s_now_ms();
	struct held **p = &s_held, *h;

	while ((h = *p) != NULL) {
		if (!all && h->due_ms > now) {
			p = &h->next;
			continue;
		}
		*p = h->next;
		s_deliver(h->link, h->dir, h->type, &h->msg);
		free(h);
		p = &s_held; /* s_deliver may have taken others */
	}
}

/* Decides what happens to msg (taken) from l in direction dir. */
static void
s_mangle(struct link *l, int dir, zmq_msg_t *msg)
{
	int type = s_type_of(msg), act = FORWARD, a, sum = 0, r;
	uint64_t hold = 0;
	zmq_msg_t copy;
	char what[96];

	/* Calm, the streams stand still: the n-th mangled message of a link
	 * meets the same choice in every run of a seed. */
	r = s_calm ? 100 : (int)(s_rand(&l->node->rng[dir]) % 100);
	if (!s_calm)
		hold = (uint64_t)s_hold_ms / 4 +
		    s_rand(&l->node->rng[dir]) %
			(uint64_t)(s_hold_ms - s_hold_ms / 4 + 1);
	for (a = DROP; a <= REORDER; a++) {
		sum += s_pct[a];
		if (r < sum) {
			act = a;
			break;
		}
	}
	s_count[act][dir][type]++;
	if (act != FORWARD)
		s_what(msg, type, what, sizeof what);
	switch (act) {
	case DROP:
		s_note(l, dir, type, "%sdropped", what);
		zmq_msg_close(msg);
		break;
	case DELAY:
		s_note(l, dir, type, "%sdelayed %llu ms", what,
		    (unsigned long long)hold);
		s_hold(l, dir, type, 0, s_now_ms() + hold, msg);
		break;
	case REORDER:
		s_note(l, dir, type, "%sheld to go after the next one", what);
		s_hold(l, dir, type, 1, s_now_ms() + (uint64_t)s_hold_ms, msg);
		break;
	case DUP:
		s_note(l, dir, type, "%sduplicated", what);
		zmq_msg_init(&copy);
		if (zmq_msg_copy(&copy, msg) != 0) {
			fprintf(stderr, "blmangle: copy: %s\n",
			    zmq_strerror(zmq_errno()));
			exit(1);
		}
		s_send_now(l->id, dir, type, msg);
		s_deliver(l->id, dir, type, &copy);
		break;
	default: s_deliver(l->id, dir, type, msg); break;
	}
}

/* Opens a link for a new connection of node n (routing id rid): a DEALER
 * to the hub with n's keys. When every slot is taken the idlest link gives
 * way. NULL, with a line on stderr, when libzmq refuses. */
static struct link *
s_link_open(struct node *n, const void *rid, size_t rid_len)
{
	struct link *l = NULL;
	err_t err;
	int i;

	for (i = 0; i < MANGLE_MAX_CONNS; i++)
		if (s_links[i].dealer == NULL) {
			l = &s_links[i];
			break;
		} else if (l == NULL || s_links[i].last_ms < l->last_ms)
			l = &s_links[i];
	if (l->dealer != NULL)
		s_link_close(l, "the idlest, to make room");
	memset(l, 0, sizeof *l);
	l->node = n;
	l->id = ++s_last_id;
	l->last_ms = s_now_ms();
	memcpy(l->rid, rid, rid_len);
	l->rid_len = rid_len;
	if ((l->dealer = zsock_new(s_ctx, ZMQ_DEALER, &err)) == NULL ||
	    zsock_set(l->dealer, ZMQ_CURVE_SERVERKEY, "ZMQ_CURVE_SERVERKEY",
		s_hub_pub, KEYS_Z85_LEN, &err) ||
	    zsock_set(l->dealer, ZMQ_CURVE_PUBLICKEY, "ZMQ_CURVE_PUBLICKEY",
		n->keys.public_z85, KEYS_Z85_LEN, &err) ||
	    zsock_set(l->dealer, ZMQ_CURVE_SECRETKEY, "ZMQ_CURVE_SECRETKEY",
		n->keys.secret_z85, KEYS_Z85_LEN, &err)) {
		fprintf(stderr, "blmangle: %s: %s\n", n->site, err.msg);
		if (l->dealer != NULL)
			zmq_close(l->dealer);
		l->dealer = NULL;
		return NULL;
	}
	if (zmq_connect(l->dealer, s_hub_ep) != 0) {
		fprintf(stderr, "blmangle: %s: connect %s: %s\n", n->site,
		    s_hub_ep, zmq_strerror(zmq_errno()));
		zmq_close(l->dealer);
		l->dealer = NULL;
		return NULL;
	}
	s_note(l, UP, -1, "connected: a new link to the hub");
	return l;
}

/* Answers one ZAP request: admits the key of a node we relay for, named
 * by its site, and refuses any other. */
static void
s_on_zap(void)
{
	zmq_msg_t f[8];
	int n = 0, more = 1, i, found = -1;
	size_t size;
	char z85[KEYS_Z85_LEN + 1] = "";
	const char *site;

	while (more && n < 8) {
		zmq_msg_init(&f[n]);
		if (zmq_msg_recv(&f[n], s_zap, 0) < 0) {
			zmq_msg_close(&f[n]);
			break;
		}
		size = sizeof more;
		zmq_getsockopt(s_zap, ZMQ_RCVMORE, &more, &size);
		n++;
	}
	if (n == 7 && zmq_msg_size(&f[6]) == 32 &&
	    zmq_z85_encode(z85, zmq_msg_data(&f[6]), 32) != NULL)
		for (i = 0; i < s_nnodes; i++)
			if (strcmp(z85, s_nodes[i].keys.public_z85) == 0)
				found = i;
	if (found < 0)
		fprintf(stderr, "blmangle: refused key %s\n",
		    z85[0] ? z85 : "(none)");
	site = found >= 0 ? s_nodes[found].site : "";
	if (n >= 2 &&
	    (zmq_send(s_zap, "1.0", 3, ZMQ_SNDMORE) < 0 ||
		zmq_send(s_zap, zmq_msg_data(&f[1]), zmq_msg_size(&f[1]),
		    ZMQ_SNDMORE) < 0 ||
		zmq_send(s_zap, found >= 0 ? "200" : "400", 3, ZMQ_SNDMORE) <
		    0 ||
		zmq_send(s_zap, "", 0, ZMQ_SNDMORE) < 0 ||
		zmq_send(s_zap, site, strlen(site), ZMQ_SNDMORE) < 0 ||
		zmq_send(s_zap, "", 0, 0) < 0))
		fprintf(stderr, "blmangle: zap reply: %s\n",
		    zmq_strerror(zmq_errno()));
	while (n > 0)
		zmq_msg_close(&f[--n]);
}

/* Takes every message waiting from the nodes. */
static void
s_on_router(void)
{
	zmq_msg_t rid, body;
	const char *site;
	struct node *n;
	struct link *l;
	int more, i;
	size_t size;

	for (;;) {
		zmq_msg_init(&rid);
		zmq_msg_init(&body);
		if (zmq_msg_recv(&rid, s_router, ZMQ_DONTWAIT) < 0 ||
		    zmq_msg_recv(&body, s_router, ZMQ_DONTWAIT) < 0)
			break;
		size = sizeof more;
		zmq_getsockopt(s_router, ZMQ_RCVMORE, &more, &size);
		n = NULL;
		l = NULL;
		site = more ? NULL : zmq_msg_gets(&body, "User-Id");
		while (more) { /* a node sends one frame: drop extras */
			zmq_msg_t extra;

			zmq_msg_init(&extra);
			if (zmq_msg_recv(&extra, s_router, 0) < 0)
				more = 0;
			else
				zmq_getsockopt(s_router, ZMQ_RCVMORE, &more,
				    &size);
			zmq_msg_close(&extra);
		}
		for (i = 0; site != NULL && i < s_nnodes; i++)
			if (strcmp(site, s_nodes[i].site) == 0)
				n = &s_nodes[i];
		for (i = 0; n != NULL && i < MANGLE_MAX_CONNS; i++)
			if (s_links[i].dealer != NULL &&
			    s_links[i].rid_len == zmq_msg_size(&rid) &&
			    memcmp(s_links[i].rid, zmq_msg_data(&rid),
				s_links[i].rid_len) == 0)
				l = &s_links[i];
		if (n == NULL || zmq_msg_size(&rid) > MANGLE_RID_MAX) {
			fprintf(stderr,
			    "blmangle: dropped a message from an "
			    "unknown peer or of several frames\n");
			zmq_msg_close(&rid);
			zmq_msg_close(&body);
			continue;
		}
		if (l == NULL &&
		    (l = s_link_open(n, zmq_msg_data(&rid),
			 zmq_msg_size(&rid))) == NULL) {
			zmq_msg_close(&rid);
			zmq_msg_close(&body);
			s_stop = 1;
			return;
		}
		zmq_msg_close(&rid);
		s_mangle(l, UP, &body);
	}
	zmq_msg_close(&rid);
	zmq_msg_close(&body);
}

/* Takes every message waiting from the hub for l (until l closes). */
static void
s_on_dealer(struct link *l)
{
	zmq_msg_t body;

	for (;;) {
		zmq_msg_init(&body);
		if (l->dealer == NULL ||
		    zmq_msg_recv(&body, l->dealer, ZMQ_DONTWAIT) < 0)
			break;
		l->last_ms = s_now_ms();
		s_mangle(l, DOWN, &body);
	}
	zmq_msg_close(&body);
}

/* Prints one line per action: its count in each direction, by type. */
static void
s_summary(void)
{
	unsigned long long total, n;
	int a, d, t;

	for (a = FORWARD; a < NACTS; a++) {
		total = 0;
		for (d = UP; d < NDIRS; d++)
			for (t = 0; t < NTYPES; t++)
				total += s_count[a][d][t];
		printf("blmangle: %s %llu", s_act_names[a], total);
		for (d = UP; d < NDIRS; d++) {
			printf(";  %s:", s_dir_names[d]);
			for (t = 0; t < NTYPES; t++)
				if ((n = s_count[a][d][t]) > 0)
					printf(" %s %llu", s_type_name(t), n);
		}
		printf("\n");
	}
	fflush(stdout);
}

/* Reads a whole number in [min, max] (what names it in the complaint);
 * exits 2 when text is not one. */
static unsigned long long
s_num_arg(const char *text, unsigned long long min, unsigned long long max,
    const char *what)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(text, &end, 10);
	if (*text < '0' || *text > '9' || *end != '\0' || errno != 0 ||
	    v < min || v > max) {
		fprintf(stderr, "blmangle: %s: not a %s (%llu to %llu)\n", text,
		    what, min, max);
		exit(2);
	}
	return v;
}

static int
s_pct_arg(const char *text)
{
	return (int)s_num_arg(text, 0, 100, "percentage");
}

/* Loads the hub's and the nodes' keys; 0, or -1 with a line on stderr. */
static int
s_load(const char *hub_dir, char **node_dirs, int n, keypair_t *hub)
{
	conf_t conf;
	err_t err;
	int i;

	if (n > MANGLE_MAX_NODES) {
		fprintf(stderr, "blmangle: at most %d nodes\n",
		    MANGLE_MAX_NODES);
		return -1;
	}
	if (keys_load(hub_dir, "hub", hub, &err)) {
		fprintf(stderr, "blmangle: hub: %s\n", err.msg);
		return -1;
	}
	memcpy(s_hub_pub, hub->public_z85, sizeof s_hub_pub);
	for (i = 0; i < n; i++) {
		struct node *nd = &s_nodes[i];

		if (conf_load(node_dirs[i], &conf, &err) ||
		    keys_load(node_dirs[i], "node", &nd->keys, &err)) {
			fprintf(stderr, "blmangle: node %s: %s\n", node_dirs[i],
			    err.msg);
			return -1;
		}
		snprintf(nd->site, sizeof nd->site, "%s",
		    conf_get(&conf, "site", "?"));
		s_nnodes++;
	}
	return 0;
}

/* The ZAP handler, then the CURVE server on LISTEN_PORT. */
static int
s_bind(const keypair_t *hub, int port)
{
	char ep[64];
	int one = 1;
	err_t err;

	snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", port);
	if ((s_zap = zmq_socket(s_ctx, ZMQ_REP)) == NULL ||
	    zmq_bind(s_zap, ZAP_ENDPOINT) != 0) {
		fprintf(stderr, "blmangle: zap: %s\n",
		    zmq_strerror(zmq_errno()));
		return -1;
	}
	if ((s_router = zsock_new(s_ctx, ZMQ_ROUTER, &err)) == NULL ||
	    zsock_set(s_router, ZMQ_CURVE_SERVER, "ZMQ_CURVE_SERVER", &one,
		sizeof one, &err) ||
	    zsock_set(s_router, ZMQ_CURVE_SECRETKEY, "ZMQ_CURVE_SECRETKEY",
		hub->secret_z85, KEYS_Z85_LEN, &err) ||
	    zsock_set(s_router, ZMQ_ZAP_DOMAIN, "ZMQ_ZAP_DOMAIN", "blmangle", 8,
		&err) ||
	    zsock_set(s_router, ZMQ_ROUTER_MANDATORY, "ZMQ_ROUTER_MANDATORY",
		&one, sizeof one, &err)) {
		fprintf(stderr, "blmangle: %s\n", err.msg);
		return -1;
	}
	if (zmq_bind(s_router, ep) != 0) {
		fprintf(stderr, "blmangle: bind %s: %s\n", ep,
		    zmq_strerror(zmq_errno()));
		return -1;
	}
	return 0;
}

/* Relays until SIGTERM: polls the nodes' side, the ZAP handler and every
 * DEALER, waking for the next held message that falls due. */
static void
s_run(void)
{
	zmq_pollitem_t items[2 + MANGLE_MAX_CONNS];
	unsigned owner[2 + MANGLE_MAX_CONNS];
	struct link *l;
	struct held *h;
	uint64_t now;
	long wait;
	int n, i;

	while (!s_stop) {
		if (s_calm_asked && !s_calm) {
			s_calm = 1;
			s_note(NULL, UP, -1,
			    "mangling stops, held messages go now");
			s_release_due(1);
		} else if (!s_calm_asked && s_calm) {
			s_calm = 0;
			s_note(NULL, UP, -1, "mangling starts");
		}
		memset(items, 0, sizeof items);
		items[0].socket = s_router;
		items[1].socket = s_zap;
		items[0].events = items[1].events = ZMQ_POLLIN;
		for (n = 2, i = 0; i < MANGLE_MAX_CONNS; i++) {
			if (s_links[i].dealer == NULL)
				continue;
			owner[n] = s_links[i].id;
			items[n].socket = s_links[i].dealer;
			items[n++].events = ZMQ_POLLIN;
		}
		wait = MANGLE_POLL_MS;
		now = s_now_ms();
		for (h = s_held; h != NULL; h = h->next)
			if (h->due_ms <= now)
				wait = 0;
			else if ((long)(h->due_ms - now) < wait)
				wait = (long)(h->due_ms - now);
		if (zmq_poll(items, n, wait) < 0) {
			if (zmq_errno() == EINTR)
				continue;
			fprintf(stderr, "blmangle: poll: %s\n",
			    zmq_strerror(zmq_errno()));
			return;
		}
		if (items[1].revents & ZMQ_POLLIN)
			s_on_zap();
		if (items[0].revents & ZMQ_POLLIN)
			s_on_router();
		/* A link may have closed since the poll (its node gone). */
		for (i = 2; i < n && !s_stop; i++)
			if ((items[i].revents & ZMQ_POLLIN) &&
			    (l = s_link(owner[i])) != NULL)
				s_on_dealer(l);
		s_release_due(0);
	}
}

int
main(int argc, char **argv)
{
	struct sigaction sa;
	keypair_t hub;
	const char *env = getenv("BL_MANGLE_SEED");
	uint64_t seed = 0, st;
	int opt, i, d, rc = 1, sum = 0, seeded = 0, port;
	struct held *h;
	const char *c;

	memset(&hub, 0, sizeof hub);
	while ((opt = getopt(argc, argv, "cs:p:d:l:u:r:w:")) != -1) {
		switch (opt) {
		case 'c': s_calm = s_calm_asked = 1; break;
		case 's':
			seed = s_num_arg(optarg, 0, UINT64_MAX, "seed");
			seeded = 1;
			break;
		case 'p':
			s_pct[DROP] = s_pct[DELAY] = s_pct[DUP] =
			    s_pct[REORDER] = s_pct_arg(optarg);
			break;
		case 'd': s_pct[DROP] = s_pct_arg(optarg); break;
		case 'l': s_pct[DELAY] = s_pct_arg(optarg); break;
		case 'u': s_pct[DUP] = s_pct_arg(optarg); break;
		case 'r': s_pct[REORDER] = s_pct_arg(optarg); break;
		case 'w':
			s_hold_ms = (int)s_num_arg(optarg, 4, 60000, "hold");
			break;
		default: goto usage;
		}
	}
	for (i = DROP; i <= REORDER; i++)
		sum += s_pct[i];
	if (sum > 100) {
		fprintf(stderr,
		    "blmangle: the percentages add up to %d, "
		    "more than 100\n",
		    sum);
		return 2;
	}
	if (argc - optind < 4) {
usage:
		fprintf(stderr,
		    "usage: blmangle [-c] [-s SEED] [-p PCT] [-d PCT] [-l PCT] "
		    "[-u PCT] [-r PCT] [-w HOLD_MS] LISTEN_PORT HUB_PORT "
		    "HUB_DIR NODE_DIR...\n");
		return 2;
	}
	if (!seeded)
		seed = env != NULL && *env != '\0'
		    ? s_num_arg(env, 0, UINT64_MAX, "seed")
		    : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	port = (int)s_num_arg(argv[optind], 1, 65535, "port");
	snprintf(s_hub_ep, sizeof s_hub_ep, "tcp://127.0.0.1:%d",
	    (int)s_num_arg(argv[optind + 1], 1, 65535, "port"));
	s_start_ms = s_now_ms();
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = s_on_signal; /* no SA_RESTART: zmq_poll wakes */
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL) != 0 ||
	    sigaction(SIGINT, &sa, NULL) != 0 ||
	    sigaction(SIGUSR1, &sa, NULL) != 0 ||
	    sigaction(SIGUSR2, &sa, NULL) != 0) {
		perror("blmangle: sigaction");
		return 1;
	}
	if ((s_ctx = zmq_ctx_new()) == NULL) {
		fprintf(stderr, "blmangle: zmq context: %s\n",
		    zmq_strerror(zmq_errno()));
		return 1;
	}
	if (s_load(argv[optind + 2], argv + optind + 3, argc - optind - 3,
		&hub) ||
	    s_bind(&hub, port))
		goto out;
	/* Each node and direction its own stream: what one link sees does
	 * not shift the choices of another. */
	for (i = 0; i < s_nnodes; i++)
		for (d = UP; d < NDIRS; d++) {
			st = seed ^ ((uint64_t)(d + 1) << 56);
			for (c = s_nodes[i].site; *c != '\0'; c++)
				st = st * 1099511628211ULL + (uint8_t)*c;
			s_nodes[i].rng[d] = s_rand(&st);
		}
	printf("blmangle: seed %llu: drop %d%% delay %d%% duplicate %d%% "
	       "reorder %d%%, hold up to %d ms, %s -> %s\n",
	    (unsigned long long)seed, s_pct[DROP], s_pct[DELAY], s_pct[DUP],
	    s_pct[REORDER], s_hold_ms, argv[optind], s_hub_ep);
	fflush(stdout);
	s_run();
	s_summary();
	rc = 0;
out:
	while ((h = s_held) != NULL) {
		s_held = h->next;
		zmq_msg_close(&h->msg);
		free(h);
	}
	for (i = 0; i < MANGLE_MAX_CONNS; i++)
		if (s_links[i].dealer != NULL)
			zmq_close(s_links[i].dealer);
	for (i = 0; i < s_nnodes; i++)
		keys_free(&s_nodes[i].keys);
	if (s_router != NULL)
		zmq_close(s_router);
	if (s_zap != NULL) {
		int zero = 0;

		zmq_setsockopt(s_zap, ZMQ_LINGER, &zero, sizeof zero);
		zmq_close(s_zap);
	}
	keys_free(&hub);
	zmq_ctx_term(s_ctx);
	return rc;
}
