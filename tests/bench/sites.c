/*
 * sites: simulated sites sharing the bench process — a realistic op mix
 * generated in memory, pushed to a real hub over CURVE with the same
 * protocol and flow as bl-node (HELLO, then one PUSH batch in flight at a
 * time per site), or merely held connected, from the bench process or from
 * children of it (sites_hold_child).
 */
#include "bench.h"

#include <assert.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>
#include <zmq.h>

#include "chain.h"
#include "hlc.h"
#include "keys.h"
#include "proto.h"

/* Encoded ops of one site, in seq order. */
struct site {
	char id[OP_SITE_MAX + 1];
	char pub[41], sec[41];
	cbw_t ops;
	size_t *off;	 /* start of op i in ops; off[n] = ops.len */
	uint8_t *chains; /* chain after op i (chain.h), 32 bytes each */
	uint8_t *sign_sk;
	char sign_pk[PROTO_SIGN_KEY_HEX + 1];
	long n;
	void *dealer;
	long next;     /* first op not acknowledged */
	long inflight; /* ops in the PUSH in flight, 0 if none */
	int done;
};

static void
s_add(site_t *s, long *i, const char *entity, const char *key, const char *kind,
    json_t *fields, uint64_t *hlc)
{
	op_t op;

	memset(&op, 0, sizeof op);
	snprintf(op.origin, sizeof op.origin, "%s", s->id);
	op.seq = (uint64_t)*i + 1;
	op.hlc = ++*hlc;
	snprintf(op.entity, sizeof op.entity, "%s", entity);
	snprintf(op.key, sizeof op.key, "%s", key);
	snprintf(op.kind, sizeof op.kind, "%s", kind);
	op.fields = fields;
	s->off[*i] = s->ops.len;
	if (op_encode(&op, &s->ops, NULL) != 0)
		bench_die("encode");
	op_clear(&op);
	++*i;
}

/* The mix a store sends: sales (an order of 1-3 lines, its stock
 * movements, its payment) with a receipt every tenth sale. */
static void
s_generate(site_t *s, long n, unsigned seed)
{
	uint64_t hlc = hlc_pack(hlc_wall_ms() - 60000, 0);
	unsigned r = seed;
	long i = 0, sale = 0;
	char key[64], order[64];
	uint8_t c[CHAIN_BYTES];

	cbw_init(&s->ops);
	s->off = calloc((size_t)n + 8, sizeof *s->off);
	while (i < n - 8) {
		int lines = 1 + (int)((r = r * 1103515245 + 12345) >> 16) % 3,
		    k;
		json_t *l = json_array();
		long total = 0;

		if (sale % 10 == 0) {
			snprintf(key, sizeof key, "%s-r%ld", s->id, sale);
			s_add(s, &i, "stock_movement", key, "add",
			    json_pack("{s:s, s:s, s:i, s:s}", "site", s->id,
				"sku", "SKU1", "delta", 100, "reason",
				"receipt"),
			    &hlc);
		}
		for (k = 0; k < lines; k++) {
			int price = 100 + (int)((r >> (k + 3)) % 5000);

			json_array_append_new(l,
			    json_pack("{s:s+, s:i, s:i}", "sku", "SKU",
				(k == 0		 ? "1"
					: k == 1 ? "2"
						 : "3"),
				"qty", k + 1, "unit_price", price));
			total += (long)(k + 1) * price;
		}
		snprintf(order, sizeof order, "%s-s%ld", s->id, sale);
		s_add(s, &i, "order", order, "create",
		    json_pack("{s:s, s:s, s:s, s:s, s:b, s:s, s:o}", "site",
			s->id, "channel", "store", "currency", "CNY",
			"fulfil_site", s->id, "on_account", 0, "status",
			"completed", "lines", l),
		    &hlc);
		for (k = 0; k < lines; k++) {
			char mkey[80];

			snprintf(mkey, sizeof mkey, "%s-out-%d", order, k + 1);
			s_add(s, &i, "stock_movement", mkey, "add",
			    json_pack("{s:s, s:s+, s:i, s:s, s:s}", "site",
				s->id, "sku", "SKU",
				(k == 0		 ? "1"
					: k == 1 ? "2"
						 : "3"),
				"delta", -(k + 1), "reason", "sale", "ref",
				order),
			    &hlc);
		}
		snprintf(key, sizeof key, "%s-p%ld", s->id, sale);
		s_add(s, &i, "payment", key, "add",
		    json_pack("{s:s, s:s, s:I, s:s, s:s}", "order", order,
			"method", "card", "amount", (json_int_t)total,
			"currency", "CNY", "site", s->id),
		    &hlc);
		sale++;
	}
	s->n = i;
	s->off[i] = s->ops.len;
	/* Its chain, as bl-node keeps it, to sign each batch with. */
	s->chains = malloc((size_t)s->n * CHAIN_BYTES);
	chain_start(s->id, c);
	for (i = 0; i < s->n; i++) {
		chain_next(c, s->ops.data + s->off[i],
		    s->off[i + 1] - s->off[i], c);
		memcpy(s->chains + i * CHAIN_BYTES, c, CHAIN_BYTES);
	}
}

sites_t *
sites_new(const char *hub_db, const char *prefix, int count, long ops_each,
    int generate)
{
	sites_t *ss = calloc(1, sizeof *ss);
	sqlite3 *db;
	int i;

	ss->n = count;
	ss->site = calloc((size_t)count, sizeof *ss->site);
	if (sqlite3_open(hub_db, &db) != SQLITE_OK)
		bench_die("open %s", hub_db);
	sqlite3_busy_timeout(db, 10000);
	sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	for (i = 0; i < count; i++) {
		site_t *s = &ss->site[i];
		char sql[512];

		snprintf(s->id, sizeof s->id, "%s%04d", prefix, i + 1);
		zmq_curve_keypair(s->pub, s->sec);
		{
			keypair_t kp = { "", s->sec };
			uint8_t pk[CHAIN_PK_BYTES];
			err_t err;

			if (keys_sign_pair(&kp, pk, &s->sign_sk, &err))
				bench_die("%s", err.msg);
			sodium_bin2hex(s->sign_pk, sizeof s->sign_pk, pk,
			    sizeof pk);
		}
		snprintf(sql, sizeof sql,
		    "INSERT INTO sites(id, role, pubkey, name, "
		    "enrolled_at) VALUES ('%s', 'store', '%s', 'bench', 0)",
		    s->id, s->pub);
		if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
			bench_die("enroll %s: %s", s->id, sqlite3_errmsg(db));
		if (generate)
			s_generate(s, ops_each, (unsigned)i * 7919u + 1);
	}
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(db);
	return ss;
}

/* Connects every site's DEALER to the hub with its keys. */
static void
s_connect(sites_t *ss, void *ctx, const char *endpoint, const char *hub_pub)
{
	int i, zero = 0, hwm = 10000;

	for (i = 0; i < ss->n; i++) {
		site_t *s = &ss->site[i];

		s->dealer = zmq_socket(ctx, ZMQ_DEALER);
		if (s->dealer == NULL)
			bench_die("socket %d: %s", i,
			    zmq_strerror(zmq_errno()));
		zmq_setsockopt(s->dealer, ZMQ_CURVE_SERVERKEY, hub_pub, 40);
		zmq_setsockopt(s->dealer, ZMQ_CURVE_PUBLICKEY, s->pub, 40);
		zmq_setsockopt(s->dealer, ZMQ_CURVE_SECRETKEY, s->sec, 40);
		zmq_setsockopt(s->dealer, ZMQ_LINGER, &zero, sizeof zero);
		zmq_setsockopt(s->dealer, ZMQ_SNDHWM, &hwm, sizeof hwm);
		if (zmq_connect(s->dealer, endpoint) != 0)
			bench_die("connect %s: %s", endpoint,
			    zmq_strerror(zmq_errno()));
	}
}

static void
s_send(site_t *s, cbw_t *w)
{
	if (zmq_send(s->dealer, w->data, w->len, 0) < 0)
		bench_die("send %s: %s", s->id, zmq_strerror(zmq_errno()));
}

/* Sends the next batch of s, as bl-node does. */
static void
s_push_next(site_t *s, cbw_t *w)
{
	long k = s->next, end = s->next;
	uint8_t sig[CHAIN_SIG_BYTES];
	char hex[PROTO_SIG_HEX + 1];

	while (end < s->n && end - k < PROTO_MAX_BATCH &&
	    s->off[end] - s->off[k] < PROTO_BATCH_BYTES)
		end++;
	chain_sign(s->sign_sk, s->id, (uint64_t)end,
	    s->chains + (end - 1) * CHAIN_BYTES, sig);
	sodium_bin2hex(hex, sizeof hex, sig, sizeof sig);
	proto_push_begin(w, (size_t)(end - k), hex);
	cbw_raw(w, s->ops.data + s->off[k], s->off[end] - s->off[k]);
	s->inflight = end - k;
	s_send(s, w);
}

/* Runs every site's session until each got WELCOME (push = 0) or had all
 * its ops acknowledged (push = 1). Returns seconds from the first PUSH to
 * the last PUSH_ACK (push) or to the last WELCOME. */
static double
s_drive(sites_t *ss, int push, double timeout)
{
	struct zmq_pollitem_t *items = calloc((size_t)ss->n, sizeof *items);
	int i, left = ss->n;
	double t0 = 0, start = bench_now();
	cbw_t w;
	proto_msg_t m;
	err_t err;
	uint8_t *buf = malloc(1 << 20);

	cbw_init(&w);
	for (i = 0; i < ss->n; i++) {
		items[i].socket = ss->site[i].dealer;
		items[i].events = ZMQ_POLLIN;
		proto_hello(&w, ss->site[i].id,
		    (uint64_t)store_schema_version(), 0, 0, "B0",
		    ss->site[i].sign_pk);
		s_send(&ss->site[i], &w);
	}
	while (left > 0) {
		if (bench_now() - start > timeout)
			bench_die("sites: %d of %d not done within %.0f s",
			    left, ss->n, timeout);
		if (zmq_poll(items, ss->n, 1000) < 0)
			bench_die("poll: %s", zmq_strerror(zmq_errno()));
		for (i = 0; i < ss->n; i++) {
			site_t *s = &ss->site[i];
			int n;

			if (!(items[i].revents & ZMQ_POLLIN))
				continue;
			n = zmq_recv(s->dealer, buf, 1 << 20, ZMQ_DONTWAIT);
			if (n < 0 ||
			    proto_decode(buf, (size_t)n, &m, &err) != 0)
				continue;
			if (m.type == PROTO_ERROR)
				bench_die("site %s: hub error %d %s", s->id,
				    m.status, m.reason);
			if (m.type == PROTO_WELCOME) {
				if (!push) {
					s->done = 1;
					left--;
				} else {
					if (t0 == 0)
						t0 = bench_now();
					s_push_next(s, &w);
				}
			} else if (m.type == PROTO_PUSH_ACK && push) {
				s->next += s->inflight;
				s->inflight = 0;
				if (s->next >= s->n) {
					s->done = 1;
					left--;
				} else {
					s_push_next(s, &w);
				}
			}
		}
	}
	free(buf);
	free(items);
	cbw_free(&w);
	return bench_now() - (push ? t0 : start);
}

double
sites_push(sites_t *ss, const char *endpoint, const char *hub_pub, long *ops)
{
	void *ctx = zmq_ctx_new();
	double t;
	int i;

	*ops = 0;
	for (i = 0; i < ss->n; i++)
		*ops += ss->site[i].n;
	s_connect(ss, ctx, endpoint, hub_pub);
	t = s_drive(ss, 1, 600);
	for (i = 0; i < ss->n; i++)
		zmq_close(ss->site[i].dealer);
	zmq_ctx_term(ctx);
	return t;
}

void *
sites_hold(sites_t *ss, const char *endpoint, const char *hub_pub)
{
	void *ctx = zmq_ctx_new();

	zmq_ctx_set(ctx, ZMQ_MAX_SOCKETS, ss->n + 64);
	zmq_ctx_set(ctx, ZMQ_IO_THREADS, 2);
	s_connect(ss, ctx, endpoint, hub_pub);
	s_drive(ss, 0, 120);
	return ctx;
}

/* Keeps every session of ss alive (the hub ends one silent for 2 minutes):
 * a PING from each site every SITES_PING_MS, spread evenly, and every
 * answer read. Never returns. bl-node PINGs every 2 s; 10,000 sites doing
 * so (5,000 PINGs a second, CURVE both ways) with the hub and the sites on
 * the same 2 cores starve the handshakes of the last thousands. */
#define SITES_PING_MS 30000
static void
s_keep(sites_t *ss)
{
	zmq_pollitem_t *items = calloc((size_t)ss->n, sizeof *items);
	proto_disk_t disk;
	double t0 = bench_now();
	long sent = 0, due;
	char buf[4096];
	cbw_t w;
	int i;

	memset(&disk, 0, sizeof disk);
	cbw_init(&w);
	for (i = 0; i < ss->n; i++) {
		items[i].socket = ss->site[i].dealer;
		items[i].events = ZMQ_POLLIN;
	}
	for (;;) {
		due = (long)((bench_now() - t0) * 1000 / SITES_PING_MS * ss->n);
		for (; sent < due; sent++) {
			proto_ping(&w, hlc_wall_ms(), &disk);
			zmq_send(ss->site[sent % ss->n].dealer, w.data, w.len,
			    ZMQ_DONTWAIT);
		}
		if (zmq_poll(items, ss->n, 200) < 0)
			bench_die("poll: %s", zmq_strerror(zmq_errno()));
		for (i = 0; i < ss->n; i++)
			if (items[i].revents & ZMQ_POLLIN)
				while (zmq_recv(ss->site[i].dealer, buf,
					   sizeof buf, ZMQ_DONTWAIT) >= 0)
					;
	}
}

pid_t
sites_hold_child(sites_t *ss, int from, int count, const char *endpoint,
    const char *hub_pub)
{
	int pfd[2];
	pid_t pid;
	char c;

	assert(from >= 0 && count > 0 && from + count <= ss->n);
	if (pipe(pfd) != 0)
		bench_die("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		bench_die("fork: %s", strerror(errno));
	if (pid == 0) {
		sites_t part = { count, ss->site + from };

		close(pfd[0]);
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* not outliving the bench */
		sites_hold(&part, endpoint, hub_pub);
		if (write(pfd[1], "1", 1) != 1)
			_exit(1);
		s_keep(&part); /* until killed */
	}
	close(pfd[1]);
	if (read(pfd[0], &c, 1) != 1)
		bench_die("sites %d to %d: the process holding them failed",
		    from + 1, from + count);
	close(pfd[0]);
	return pid;
}

void
sites_release(sites_t *ss, void *ctx)
{
	int i;

	for (i = 0; i < ss->n; i++)
		zmq_close(ss->site[i].dealer);
	zmq_ctx_term(ctx);
}

void
sites_free(sites_t *ss)
{
	int i;

	for (i = 0; i < ss->n; i++) {
		cbw_free(&ss->site[i].ops);
		free(ss->site[i].off);
		free(ss->site[i].chains);
		sodium_free(ss->site[i].sign_sk);
	}
	free(ss->site);
	free(ss);
}
