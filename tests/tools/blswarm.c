/*
 * blswarm: many sites from one process, for process tests of what the hub
 * spends on them.
 *
 *   blswarm keys N PREFIX       prints N lines "SITE PUBLIC SECRET": sites
 *                               PREFIX0001..., new CURVE key pairs
 *   blswarm stall KEYS HUB HUB_KEY CURSOR [PULLS [restart]]
 *                               one stalled reader per line of KEYS
 *   blswarm watch KEYS HUB HUB_KEY
 *                               one honest reader, the first line's site
 *   blswarm hold KEYS HUB HUB_KEY
 *                               one idle session per line of KEYS
 *
 * HUB is tcp://HOST:PORT, HUB_KEY the hub's public key (Z85).
 *
 * stall: every site connects and says HELLO; once every one has its
 * answer waiting (it is never read), each PULLs from CURSOR with more
 * credit than the hub grants, PULLS times (default 1, 200 ms apart: a
 * reader asking again without reading; with restart, each PULL asks the
 * hub to stream anew from CURSOR, forgetting what it has in flight), and
 * reads nothing ever. A socket keeps one message (ZMQ_RCVHWM 1: the unread
 * WELCOME) and a small kernel buffer, so libzmq stops reading the
 * connection at the first OPS and the rest stays on the hub's side; nor
 * does it answer the hub's heartbeats from then on. No socket reconnects once cut. Prints "ANSWERED k of N",
 * then "STALLED k of N" once the PULLs are out, then holds the connections
 * until killed; exits 1 at once when some site got no answer.
 *
 * watch: an honest reader that also sees its connection end. HELLO, PULL
 * with credit 8, then reads every OPS and gives the credit back (PULL 1),
 * as a node does. One line per event, each ending with the wall clock in
 * unix ms: "WELCOME T", "OPS n T", "ERROR status reason T",
 * "DISCONNECTED T" (the socket monitor saw the connection end; it does not
 * reconnect). Exits 0 after DISCONNECTED, 1 when none came within 120 s.
 *
 * hold: every site connects, says HELLO and reads its answer; prints
 * "WELCOMED k of N" once all have one (or after 90 s), then keeps the
 * sessions open, reading what comes, until killed; exits 1 at once when
 * some site got no WELCOME.
 *
 * A site takes two descriptors (its socket's mailbox and its connection):
 * blswarm lifts its own limit to the hard one and refuses, saying so, more
 * sites than that leaves room for.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "keys.h"
#include "op.h"
#include "proto.h"
#include "store.h"

#define SWARM_MAX 10000
#define SWARM_INCARNATION "5A4E"   /* any hex: each site has one copy */
#define SWARM_CREDIT 1000	   /* more than the hub grants */
#define SWARM_STALL_WAIT_MS 90000  /* for every session to pull */
#define SWARM_WATCH_WAIT_MS 120000 /* for the watched one to end */
#define SWARM_WATCH_CREDIT 8
#define SWARM_FD_SPARE 64 /* descriptors besides two a site */

typedef struct {
	char site[OP_SITE_MAX + 1];
	char pub[KEYS_Z85_LEN + 1];
	char sec[KEYS_Z85_LEN + 1];
} swarm_key_t;

static uint64_t
s_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int
s_keys(int n, const char *prefix)
{
	char pub[KEYS_Z85_LEN + 1], sec[KEYS_Z85_LEN + 1];
	int i;

	if (n < 1 || n > SWARM_MAX || strlen(prefix) > OP_SITE_MAX - 5) {
		fprintf(stderr,
		    "blswarm: keys: 1 to %d sites, a prefix of "
		    "at most %d characters\n",
		    SWARM_MAX, OP_SITE_MAX - 5);
		return 2;
	}
	for (i = 1; i <= n; i++) {
		if (zmq_curve_keypair(pub, sec) != 0) {
			fprintf(stderr, "blswarm: keys: %s\n",
			    zmq_strerror(zmq_errno()));
			return 1;
		}
		printf("%s%04d %s %s\n", prefix, i, pub, sec);
	}
	sodium_memzero(sec, sizeof sec);
	return 0;
}

/* Reads up to max lines "SITE PUBLIC SECRET" of path into keys (the caller
 * frees *keys); the count, or -1 after saying why. */
static int
s_load(const char *path, swarm_key_t **keys, int max)
{
	FILE *f = fopen(path, "r");
	swarm_key_t k;
	int n = 0;

	*keys = calloc((size_t)max, sizeof **keys);
	if (f == NULL || *keys == NULL) {
		fprintf(stderr, "blswarm: open %s: %s\n", path,
		    f == NULL ? "cannot read it" : "out of memory");
		if (f != NULL)
			fclose(f);
		free(*keys);
		*keys = NULL;
		return -1;
	}
	while (
	    n < max && fscanf(f, "%16s %40s %40s", k.site, k.pub, k.sec) == 3)
		(*keys)[n++] = k;
	fclose(f);
	sodium_memzero(&k, sizeof k);
	if (n > 0)
		return n;
	fprintf(stderr, "blswarm: %s: no \"SITE PUBLIC SECRET\" line\n", path);
	free(*keys);
	*keys = NULL;
	return -1;
}

/* A DEALER of site k connected to hub that does not reconnect; rcvhwm
 * and rcvbuf 0 leave libzmq's defaults. NULL after saying why. */
static void *
s_dealer(void *ctx, const swarm_key_t *k, const char *hub, const char *hub_key,
    int rcvhwm, int rcvbuf)
{
	void *d = zmq_socket(ctx, ZMQ_DEALER);
	int zero = 0, never = -1;

	if (d == NULL ||
	    zmq_setsockopt(d, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
	    zmq_setsockopt(d, ZMQ_RECONNECT_IVL, &never, sizeof never) != 0 ||
	    zmq_setsockopt(d, ZMQ_CURVE_SERVERKEY, hub_key, KEYS_Z85_LEN) !=
		0 ||
	    zmq_setsockopt(d, ZMQ_CURVE_PUBLICKEY, k->pub, KEYS_Z85_LEN) != 0 ||
	    zmq_setsockopt(d, ZMQ_CURVE_SECRETKEY, k->sec, KEYS_Z85_LEN) != 0 ||
	    (rcvhwm > 0 &&
		zmq_setsockopt(d, ZMQ_RCVHWM, &rcvhwm, sizeof rcvhwm) != 0) ||
	    (rcvbuf > 0 &&
		zmq_setsockopt(d, ZMQ_RCVBUF, &rcvbuf, sizeof rcvbuf) != 0) ||
	    zmq_connect(d, hub) != 0) {
		fprintf(stderr, "blswarm: site %s: socket to %s: %s\n", k->site,
		    hub, zmq_strerror(zmq_errno()));
		if (d != NULL)
			zmq_close(d);
		return NULL;
	}
	return d;
}

/* Sends w on d; -1 after saying why. */
static int
s_send(void *d, const cbw_t *w, const char *site)
{
	if (zmq_send(d, w->data, w->len, ZMQ_DONTWAIT) == (int)w->len)
		return 0;
	fprintf(stderr, "blswarm: site %s: send: %s\n", site,
	    zmq_strerror(zmq_errno()));
	return -1;
}

/* Sends site's HELLO, a new signing key each time (the hub pins the
 * first). */
static int
s_hello(void *d, const char *site, cbw_t *w)
{
	uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
	char hex[PROTO_SIGN_KEY_HEX + 1];

	crypto_sign_keypair(pk, sk);
	sodium_memzero(sk, sizeof sk);
	sodium_bin2hex(hex, sizeof hex, pk, sizeof pk);
	proto_hello(w, site, (uint64_t)store_schema_version(), 0, 0,
	    SWARM_INCARNATION, hex);
	return s_send(d, w, site);
}

/* Receives one message of d (ready to read) and decodes it into m; -1
 * after saying why. */
static int
s_recv(void *d, const char *site, proto_msg_t *m, zmq_msg_t *buf)
{
	err_t err;

	if (zmq_msg_recv(buf, d, ZMQ_DONTWAIT) < 0) {
		fprintf(stderr, "blswarm: site %s: receive: %s\n", site,
		    zmq_strerror(zmq_errno()));
		return -1;
	}
	if (proto_decode(zmq_msg_data(buf), zmq_msg_size(buf), m, &err)) {
		fprintf(stderr, "blswarm: site %s: %s\n", site, err.msg);
		return -1;
	}
	return 0;
}

/* A context for n sites: libzmq's default is 1023 sockets, and each site
 * takes two descriptors. NULL after saying why. */
static void *
s_context(int n)
{
	struct rlimit rl;
	void *ctx;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur < (rlim_t)n * 2 + SWARM_FD_SPARE) {
		fprintf(stderr,
		    "blswarm: %d sites: need %d descriptors, the limit is "
		    "%llu\n",
		    n, n * 2 + SWARM_FD_SPARE, (unsigned long long)rl.rlim_cur);
		return NULL;
	}
	ctx = zmq_ctx_new();
	if (ctx == NULL || zmq_ctx_set(ctx, ZMQ_MAX_SOCKETS, n + 16) != 0) {
		fprintf(stderr, "blswarm: %d sockets: %s\n", n,
		    zmq_strerror(zmq_errno()));
		if (ctx != NULL)
			zmq_ctx_term(ctx);
		return NULL;
	}
	return ctx;
}

static int
s_stall(const char *path, const char *hub, const char *hub_key, uint64_t cursor,
    int pulls, int restart)
{
	swarm_key_t *keys;
	void **socks;
	zmq_pollitem_t *items;
	int n = s_load(path, &keys, SWARM_MAX), in = 0, pulled = 0, i, k;
	uint64_t until;
	void *ctx;
	cbw_t w;

	if (n < 0)
		return 1;
	ctx = s_context(n);
	socks = calloc((size_t)n, sizeof *socks);
	items = calloc((size_t)n, sizeof *items);
	if (ctx == NULL || socks == NULL || items == NULL)
		return 1;
	cbw_init(&w);
	for (i = 0; i < n; i++) {
		/* One message at most in libzmq's queue (the WELCOME, never
		 * read), a small kernel buffer: libzmq stops reading at the
		 * first OPS, and the rest stays on the hub's side. */
		socks[i] = s_dealer(ctx, &keys[i], hub, hub_key, 1, 4096);
		if (socks[i] == NULL || s_hello(socks[i], keys[i].site, &w))
			return 1;
		items[i].socket = socks[i];
		items[i].events = ZMQ_POLLIN;
	}
	/* Every site in first (its answer waiting, unread), then every PULL
	 * at once: the stalls start together. */
	until = s_now_ms() + SWARM_STALL_WAIT_MS;
	while (in < n && s_now_ms() < until) {
		if (zmq_poll(items, n, 100) < 0) {
			fprintf(stderr, "blswarm: stall: poll: %s\n",
			    zmq_strerror(zmq_errno()));
			return 1;
		}
		for (i = 0; i < n; i++)
			if (items[i].revents & ZMQ_POLLIN) {
				items[i].events = 0;
				in++;
			}
	}
	printf("ANSWERED %d of %d\n", in, n);
	proto_pull(&w, cursor, SWARM_CREDIT, restart);
	for (k = 0; k < pulls; k++) {
		for (i = 0; i < n; i++)
			if (items[i].events == 0 &&
			    s_send(socks[i], &w, keys[i].site) == 0)
				pulled += k == 0;
		if (k + 1 < pulls)
			usleep(200 * 1000);
	}
	printf("STALLED %d of %d\n", pulled, n);
	fflush(stdout);
	sodium_memzero(keys, (size_t)n * sizeof *keys);
	free(keys);
	cbw_free(&w);
	if (pulled < n)
		return 1;
	for (;;) /* hold every connection until killed */
		pause();
}

static int
s_hold(const char *path, const char *hub, const char *hub_key)
{
	swarm_key_t *keys;
	zmq_pollitem_t *items;
	int n = s_load(path, &keys, SWARM_MAX), welcomed = 0, i;
	uint64_t until;
	void *ctx;
	cbw_t w;

	if (n < 0)
		return 1;
	ctx = s_context(n);
	items = calloc((size_t)n, sizeof *items);
	if (ctx == NULL || items == NULL)
		return 1;
	cbw_init(&w);
	for (i = 0; i < n; i++) {
		items[i].socket = s_dealer(ctx, &keys[i], hub, hub_key, 0, 0);
		if (items[i].socket == NULL ||
		    s_hello(items[i].socket, keys[i].site, &w))
			return 1;
		items[i].events = ZMQ_POLLIN;
	}
	/* Then read whatever comes, so that every session stays sound. */
	until = s_now_ms() + SWARM_STALL_WAIT_MS;
	for (;;) {
		if (zmq_poll(items, n, 100) < 0) {
			fprintf(stderr, "blswarm: hold: poll: %s\n",
			    zmq_strerror(zmq_errno()));
			return 1;
		}
		for (i = 0; i < n; i++) {
			proto_msg_t m;
			zmq_msg_t buf;

			if (!(items[i].revents & ZMQ_POLLIN))
				continue;
			zmq_msg_init(&buf);
			if (s_recv(items[i].socket, keys[i].site, &m, &buf) ==
			    0) {
				if (m.type == PROTO_WELCOME)
					welcomed++;
				else if (m.type == PROTO_ERROR)
					fprintf(stderr,
					    "blswarm: site %s: %d %s\n",
					    keys[i].site, m.status, m.reason);
			}
			zmq_msg_close(&buf);
		}
		if (until > 0 && (welcomed >= n || s_now_ms() >= until)) {
			printf("WELCOMED %d of %d\n", welcomed, n);
			if (welcomed < n)
				return 1;
			until = 0;
			sodium_memzero(keys, (size_t)n * sizeof *keys);
		}
	}
}

static int
s_watch(const char *path, const char *hub, const char *hub_key)
{
	swarm_key_t *keys;
	int n = s_load(path, &keys, 1), rc = 1;
	void *ctx = zmq_ctx_new(), *d = NULL, *mon = NULL;
	uint64_t until = s_now_ms() + SWARM_WATCH_WAIT_MS;
	const char *site;
	cbw_t w;

	if (n < 0 || ctx == NULL) {
		if (ctx != NULL)
			zmq_ctx_term(ctx);
		return 1;
	}
	site = keys[0].site;
	cbw_init(&w);
	if ((d = s_dealer(ctx, &keys[0], hub, hub_key, 0, 0)) == NULL)
		goto out;
	if (zmq_socket_monitor(d, "inproc://blswarm-watch",
		ZMQ_EVENT_DISCONNECTED) != 0 ||
	    (mon = zmq_socket(ctx, ZMQ_PAIR)) == NULL ||
	    zmq_connect(mon, "inproc://blswarm-watch") != 0) {
		fprintf(stderr, "blswarm: watch: monitor: %s\n",
		    zmq_strerror(zmq_errno()));
		goto out;
	}
	if (s_hello(d, site, &w))
		goto out;
	while (s_now_ms() < until) {
		zmq_pollitem_t items[2] = { { d, 0, ZMQ_POLLIN, 0 },
			{ mon, 0, ZMQ_POLLIN, 0 } };
		proto_msg_t m;
		zmq_msg_t buf;

		if (zmq_poll(items, 2, 100) < 0) {
			fprintf(stderr, "blswarm: watch: poll: %s\n",
			    zmq_strerror(zmq_errno()));
			goto out;
		}
		if (items[1].revents & ZMQ_POLLIN) {
			printf("DISCONNECTED %llu\n",
			    (unsigned long long)s_now_ms());
			rc = 0;
			goto out;
		}
		if (!(items[0].revents & ZMQ_POLLIN))
			continue;
		zmq_msg_init(&buf);
		if (s_recv(d, site, &m, &buf) != 0) {
			zmq_msg_close(&buf);
			goto out;
		}
		if (m.type == PROTO_WELCOME) {
			printf("WELCOME %llu\n",
			    (unsigned long long)s_now_ms());
			proto_pull(&w, 0, SWARM_WATCH_CREDIT, 0);
		} else if (m.type == PROTO_OPS) {
			printf("OPS %zu %llu\n", m.nops,
			    (unsigned long long)s_now_ms());
			proto_pull(&w, m.cursor, 1, 0);
		} else {
			if (m.type == PROTO_ERROR)
				printf("ERROR %d %s %llu\n", m.status, m.reason,
				    (unsigned long long)s_now_ms());
			w.len = 0;
		}
		zmq_msg_close(&buf);
		if (w.len > 0 && s_send(d, &w, site) != 0)
			goto out;
	}
	printf("TIMEOUT: no disconnect within %d s\n",
	    SWARM_WATCH_WAIT_MS / 1000);
out:
	if (mon != NULL)
		zmq_close(mon);
	if (d != NULL)
		zmq_close(d);
	zmq_ctx_term(ctx);
	cbw_free(&w);
	sodium_memzero(keys, sizeof *keys);
	free(keys);
	return rc;
}

int
main(int argc, char **argv)
{
	struct rlimit rl;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (sodium_init() < 0) {
		fprintf(stderr, "blswarm: libsodium: cannot start\n");
		return 1;
	}
	/* Two descriptors a site (its socket's mailbox and its
	 * connection). */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			perror("blswarm: raise the descriptor limit");
	}
	if (argc == 4 && strcmp(argv[1], "keys") == 0)
		return s_keys(atoi(argv[2]), argv[3]);
	if (argc >= 6 && argc <= 8 && strcmp(argv[1], "stall") == 0 &&
	    (argc < 8 || strcmp(argv[7], "restart") == 0))
		return s_stall(argv[2], argv[3], argv[4],
		    strtoull(argv[5], NULL, 10), argc >= 7 ? atoi(argv[6]) : 1,
		    argc == 8);
	if (argc == 5 && strcmp(argv[1], "watch") == 0)
		return s_watch(argv[2], argv[3], argv[4]);
	if (argc == 5 && strcmp(argv[1], "hold") == 0)
		return s_hold(argv[2], argv[3], argv[4]);
	fprintf(stderr,
	    "usage: blswarm keys N PREFIX\n"
	    "       blswarm stall KEYS tcp://HOST:PORT HUB_KEY "
	    "CURSOR [PULLS [restart]]\n"
	    "       blswarm watch KEYS tcp://HOST:PORT HUB_KEY\n"
	    "       blswarm hold KEYS tcp://HOST:PORT HUB_KEY\n");
	return 2;
}
