/*
 * bench: the benchmark run (see bench.h). Steps, in order:
 *   ceilings     SQLite batched inserts; DEALER->ROUTER over CURVE; the
 *                floor of a durable sale (a bare transaction of its rows)
 *   sale         durable store sales through a node's HTTP API, one till,
 *                with the hub's data on a tmpfs (another file system)
 *   sweep        durable sales from 1, 4, 16 and 64 tills at once at one
 *                node (group commit); then the hub must hold exactly the
 *                sales answered 201. The hub's data goes back to the disk.
 *   propagation  a sale at one store visible at another through the hub
 *   soak         tills at a steady rate with the hub up, down, up again:
 *                the WAL of every replica, bytes written per sale and op
 *   sites        simulated sites held connected to one hub
 *   ingest       simulated sites pushing a store's op mix concurrently
 *   catch-up     a fresh bl-node pulling 1,000,000 ops; then retention
 *                (bl-node prune) and what it gives back
 *   growth       ingest again with 5,000,000 ops in the hub log
 *   ingest-pg    the ingest step against a hub of a cluster on a
 *                PostgreSQL of its own (tests/pg.sh, fsync on)
 *
 * Every replica's WAL is watched through the whole run (disk.c): figures
 * count only with checkpoints running and the WAL bounded.
 */
#include "bench.h"
#include "apply.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api.h"
#include "hlc.h"

static char s_dir[4096], s_bin[4096];
static char s_shm[4096]; /* the hub's data on a tmpfs: its folder, or "" */
static char s_hub_pub[64], s_endpoint[128];
static pid_t s_hub_pid;
static int s_hub_http;
/* The PostgreSQL cluster of the ingest-pg step: tests/pg.sh, the folder
 * it runs in ("" when none runs), where its server log is kept, and the
 * process that started it (the one that stops it). */
static char s_pg_sh[4096], s_pg_dir[64], s_pg_log[4096];
static pid_t s_pg_owner;

static void
s_path(char *buf, size_t size, const char *name)
{
	if (snprintf(buf, size, "%s/%s", s_dir, name) >= (int)size)
		bench_die("path too long: %s/%s", s_dir, name);
}

static void
s_prog(char *buf, size_t size, const char *name)
{
	if (snprintf(buf, size, "%s/%s", s_bin, name) >= (int)size)
		bench_die("path too long: %s/%s", s_bin, name);
}

static void
s_hub_start(void)
{
	char hub[4096], data[4096], log[4096], ports[4096], listen[128];
	char *argv[] = { hub, "run", "--data", data, "--listen", listen, NULL };

	s_prog(hub, sizeof hub, "bl-hub");
	s_path(data, sizeof data, "hub");
	s_path(log, sizeof log, "hub.log");
	s_path(ports, sizeof ports, "hub/ports");
	unlink(ports);
	snprintf(listen, sizeof listen, "%s",
	    s_endpoint[0] ? s_endpoint : "tcp://127.0.0.1:0");
	s_hub_pid = bench_spawn(argv, log);
	s_hub_http = bench_port(data, "http");
	snprintf(s_endpoint, sizeof s_endpoint, "tcp://127.0.0.1:%d",
	    bench_port(data, "sync"));
}

static void
s_hub_stop(void)
{
	bench_stop(s_hub_pid);
	s_hub_pid = 0;
}

/* Removes the hub's data from the tmpfs (at exit too). */
static void
s_shm_clean(void)
{
	char cmd[4200];

	if (s_shm[0] == '\0')
		return;
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_shm);
	if (system(cmd) != 0)
		fprintf(stderr, "bench: could not remove %s\n", s_shm);
	s_shm[0] = '\0';
}

/* Before the hub is made: DIR/hub becomes a link to a folder on /dev/shm,
 * a file system of its own, so that the hub's fsyncs do not queue with
 * the node's on one disk (head office never shares a store's disk).
 * Returns whether it could (else the hub stays on the disk). */
static int
s_hub_on_tmpfs(void)
{
	char link[4096], target[4200];

	snprintf(s_shm, sizeof s_shm, "/dev/shm/blbench.XXXXXX");
	if (mkdtemp(s_shm) == NULL) {
		s_shm[0] = '\0';
		return 0;
	}
	atexit(s_shm_clean);
	snprintf(target, sizeof target, "%s/hub", s_shm);
	s_path(link, sizeof link, "hub");
	if (mkdir(target, 0700) != 0 || symlink(target, link) != 0) {
		s_shm_clean();
		return 0;
	}
	return 1;
}

/* Moves the hub's data from the tmpfs back to DIR/hub on the disk (the
 * hub stopped, then started again on the same port): the later steps
 * measure what the hub writes to its disk. */
static void
s_hub_to_disk(void)
{
	char link[4096], cmd[16384];

	if (s_shm[0] == '\0')
		return;
	s_hub_stop();
	s_path(link, sizeof link, "hub");
	snprintf(cmd, sizeof cmd, "rm '%s' && cp -a '%s/hub' '%s'", link, s_shm,
	    link);
	if (system(cmd) != 0)
		bench_die("move the hub's data to %s", link);
	s_shm_clean();
	s_hub_start();
}

/* Hub head-office data written in-process before the hub runs: 200
 * products with retail prices. */
static void
s_catalog(void)
{
	char path[4096], json[128], url[64];
	store_t *st;
	api_t *api;
	json_t *req, *out;
	err_t err;
	int i;

	s_path(path, sizeof path, "hub/hub.db");
	if ((st = store_open(path, STORE_HUB, 0, &apply_rules, &err)) == NULL)
		bench_die("%s", err.msg);
	api = api_new(NULL, st, "hq");
	for (i = 0; i < 200; i++) {
		snprintf(url, sizeof url, "/v1/products/SKU%d", i);
		req = json_pack("{s:s}", "name", "bench product");
		if (api_call(api, "PUT", url, NULL, req, &out) >= 300)
			bench_die("catalog: %s", json_dumps(out, 0));
		json_decref(req);
		json_decref(out);
		snprintf(url, sizeof url, "/v1/prices/retail/SKU%d", i);
		snprintf(json, sizeof json,
		    "{\"amount\":%d,\"currency\":\"CNY\"}", 100 + i);
		req = json_loads(json, 0, NULL);
		if (api_call(api, "PUT", url, NULL, req, &out) >= 300)
			bench_die("price: %s", json_dumps(out, 0));
		json_decref(req);
		json_decref(out);
	}
	api_destroy(&api);
	store_close(&st);
}

/* A node: init, enroll with role; returns its directory in dir. */
static void
s_node_init(const char *site, const char *role, char *dir, size_t size)
{
	char node[4096], hub[4096], hubdir[4096], key[128];
	char *init[] = { node, "init", "--data", dir, "--site", (char *)site,
		"--hub", s_endpoint, "--hub-key", s_hub_pub, "--http",
		"127.0.0.1:0", NULL };
	char *enroll[] = { hub, "enroll", "--data", hubdir, "--site",
		(char *)site, "--role", (char *)role, "--key", key, NULL };

	s_prog(node, sizeof node, "bl-node");
	s_prog(hub, sizeof hub, "bl-hub");
	s_path(hubdir, sizeof hubdir, "hub");
	s_path(dir, size, site);
	if (bench_run_capture(init, key, sizeof key) != 0)
		bench_die("init %s", site);
	if (bench_run(enroll, NULL, NULL) != 0)
		bench_die("enroll %s", site);
}

static pid_t
s_node_run(const char *dir, int *http)
{
	char node[4096], log[4200], ports[4200];
	char *argv[] = { node, "run", "--data", (char *)dir, NULL };
	pid_t pid;

	s_prog(node, sizeof node, "bl-node");
	snprintf(log, sizeof log, "%s.log", dir);
	snprintf(ports, sizeof ports, "%s/ports", dir);
	unlink(ports);
	pid = bench_spawn(argv, log);
	*http = bench_port(dir, "http");
	return pid;
}

/* Waits until a node's API answers 200 with at least `want` items. */
static void
s_wait_items(int port, const char *path, int want)
{
	static char body[1 << 16];
	http_conn_t c;
	int i;

	for (i = 0; i < 600; i++) {
		if (http_open(&c, port) == 0 &&
		    http_do(&c, "GET", path, NULL, body, sizeof body) == 200) {
			json_t *v = json_loads(body, 0, NULL);
			int n = (int)json_array_size(
			    json_object_get(v, "items"));

			json_decref(v);
			http_close(&c);
			if (n >= want)
				return;
		} else {
			http_close(&c);
		}
		usleep(100000);
	}
	bench_die("port %d %s: fewer than %d items after 60 s", port, path,
	    want);
}

static int
s_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
s_pct(double *v, int n, double p)
{
	int i = (int)ceil(p * n) - 1;

	return v[i < 0 ? 0 : i >= n ? n - 1 : i];
}

/* A till sale: an order of two lines, completed, paid by card. */
static void
s_sale_json(char *buf, size_t size, const char *id, int i)
{
	snprintf(buf, size,
	    "{\"id\":\"%s\",\"channel\":\"store\","
	    "\"currency\":\"CNY\",\"status\":\"completed\",\"lines\":["
	    "{\"sku\":\"SKU%d\",\"qty\":1},{\"sku\":\"SKU%d\",\"qty\":2}],"
	    "\"payments\":[{\"method\":\"card\",\"amount\":%d}]}",
	    id, i % 200, (i + 7) % 200,
	    (100 + i % 200) + 2 * (100 + (i + 7) % 200));
}

static void
s_sales(int port, int n, double *p50, double *p99)
{
	double *lat = calloc((size_t)n, sizeof *lat), t;
	char json[512], id[64], body[4096];
	http_conn_t c;
	int i, status;

	if (http_open(&c, port) != 0)
		bench_die("sale: connect");
	for (i = 0; i < n; i++) {
		snprintf(id, sizeof id, "sale-%d", i);
		s_sale_json(json, sizeof json, id, i);
		t = bench_now();
		status = http_do(&c, "POST", "/v1/orders", json, body,
		    sizeof body);
		lat[i] = (bench_now() - t) * 1000;
		if (status != 201)
			bench_die("sale %d: %d %s", i, status, body);
	}
	http_close(&c);
	qsort(lat, (size_t)n, sizeof *lat, s_cmp);
	*p50 = s_pct(lat, n, 0.5);
	*p99 = s_pct(lat, n, 0.99);
	free(lat);
}

/* ---- the sweep: tills at once at one node ---- */

#define SWEEP_SECONDS 4.0 /* at each level */

/* One till of the sweep: its own keep-alive connection, a sale at a time,
 * until `until`. */
typedef struct {
	pthread_t th;
	int port, conns, n; /* n: which of the level's conns */
	double until;
	double *lat; /* ms of each sale answered 201 */
	long nlat, cap;
	long other;	/* answered otherwise, or not at all */
	char fail[512]; /* the first of those */
} till_t;

static void *
s_till(void *arg)
{
	till_t *t = arg;
	http_conn_t *c = malloc(sizeof *c);
	char json[512], id[64], body[4096];
	double t0;
	long k;
	int status;

	if (c == NULL || http_open(c, t->port) != 0) {
		t->other++;
		snprintf(t->fail, sizeof t->fail, "connect to port %d",
		    t->port);
		free(c);
		return NULL;
	}
	for (k = 0; bench_now() < t->until; k++) {
		snprintf(id, sizeof id, "sw%d-%d-%ld", t->conns, t->n, k);
		s_sale_json(json, sizeof json, id, (int)(k * 64 + t->n));
		t0 = bench_now();
		status = http_do(c, "POST", "/v1/orders", json, body,
		    sizeof body);
		if (status == 201) {
			if (t->nlat == t->cap) {
				t->cap = t->cap ? 2 * t->cap : 4096;
				t->lat = realloc(t->lat,
				    (size_t)t->cap * sizeof *t->lat);
				if (t->lat == NULL)
					bench_die("sweep: out of memory");
			}
			t->lat[t->nlat++] = (bench_now() - t0) * 1000;
			continue;
		}
		if (t->other++ == 0)
			snprintf(t->fail, sizeof t->fail, "sale %s: %d %.400s",
			    id, status, status < 0 ? "no answer" : body);
		if (status < 0)
			break;
	}
	http_close(c);
	free(c);
	return NULL;
}

/* What one level of the sweep gave. */
typedef struct {
	int conns;
	long ok, other; /* answered 201; otherwise or not at all */
	double per_s, p50, p99;
	char fail[512]; /* the first failure, "" */
} level_t;

/* conns tills at once, SWEEP_SECONDS long, at the node on port: durable
 * sales a second (each answered 201 once its commit is on disk) and the
 * latency of each. */
static void
s_sweep_level(int port, int conns, level_t *out)
{
	till_t *t = calloc((size_t)conns, sizeof *t);
	double start = bench_now(), elapsed, *all;
	long n = 0, i, j;

	memset(out, 0, sizeof *out);
	out->conns = conns;
	for (i = 0; i < conns; i++) {
		t[i].port = port;
		t[i].conns = conns;
		t[i].n = (int)i;
		t[i].until = start + SWEEP_SECONDS;
		if (pthread_create(&t[i].th, NULL, s_till, &t[i]) != 0)
			bench_die("sweep: cannot start a till");
	}
	for (i = 0; i < conns; i++) {
		pthread_join(t[i].th, NULL);
		n += t[i].nlat;
	}
	elapsed = bench_now() - start;
	if ((all = calloc((size_t)n + 1, sizeof *all)) == NULL)
		bench_die("sweep: out of memory");
	for (i = 0, n = 0; i < conns; i++) {
		for (j = 0; j < t[i].nlat; j++)
			all[n++] = t[i].lat[j];
		out->other += t[i].other;
		if (out->fail[0] == '\0' && t[i].fail[0] != '\0')
			snprintf(out->fail, sizeof out->fail, "%s", t[i].fail);
		free(t[i].lat);
	}
	out->ok = n;
	out->per_s = (double)n / elapsed;
	if (n > 0) {
		qsort(all, (size_t)n, sizeof *all, s_cmp);
		out->p50 = s_pct(all, (int)n, 0.5);
		out->p99 = s_pct(all, (int)n, 0.99);
	}
	free(all);
	free(t);
}

/* On hand of sku at site as the store on port sees it (-1: not known). */
static long
s_on_hand(http_conn_t *c, const char *site, const char *sku)
{
	char path[128], body[4096];
	json_t *v;
	long n = -1;

	snprintf(path, sizeof path, "/v1/stock?site=%s&sku=%s", site, sku);
	if (http_do(c, "GET", path, NULL, body, sizeof body) == 200 &&
	    (v = json_loads(body, 0, NULL)) != NULL) {
		json_t *row = json_array_get(json_object_get(v, "items"), 0);

		if (row != NULL)
			n = (long)json_integer_value(
			    json_object_get(row, "on_hand"));
		json_decref(v);
	}
	return n;
}

/* A till sale of one PROP unit at one store, until the other store sees
 * that stock movement (what another store may see of a sale: SPEC §5). */
static void
s_propagation(int from, int to, int n, double *p50, double *p99)
{
	double *lat = calloc((size_t)n, sizeof *lat), t;
	char json[512], body[8192];
	http_conn_t a, b;
	long want;
	int i;

	if (http_open(&a, from) != 0 || http_open(&b, to) != 0)
		bench_die("propagation: connect");
	/* A stock to sell from, known at both stores. */
	http_do(&a, "POST", "/v1/stock/movements",
	    "{\"id\":\"prop-stock\","
	    "\"sku\":\"SKU7\",\"delta\":100000,\"reason\":\"receipt\"}",
	    body, sizeof body);
	t = bench_now();
	while ((want = s_on_hand(&a, "S001", "SKU7")) !=
	    s_on_hand(&b, "S001", "SKU7")) {
		if (bench_now() - t > 30)
			bench_die("propagation: stores do not agree on SKU7");
		usleep(10000);
	}
	for (i = 0; i < n; i++) {
		snprintf(json, sizeof json,
		    "{\"id\":\"prop-%d\",\"channel\":"
		    "\"store\",\"currency\":\"CNY\",\"status\":\"completed\","
		    "\"lines\":[{\"sku\":\"SKU7\",\"qty\":1}],\"payments\":"
		    "[{\"method\":\"cash\",\"amount\":107}]}",
		    i);
		want--;
		t = bench_now();
		if (http_do(&a, "POST", "/v1/orders", json, body,
			sizeof body) != 201)
			bench_die("propagation sale %d: %s", i, body);
		while (s_on_hand(&b, "S001", "SKU7") != want) {
			if (bench_now() - t > 10)
				bench_die(
				    "propagation: sale %d not at the other "
				    "store after 10 s",
				    i);
			usleep(200);
		}
		lat[i] = (bench_now() - t) * 1000;
		usleep(20000); /* light load */
	}
	http_close(&a);
	http_close(&b);
	qsort(lat, (size_t)n, sizeof *lat, s_cmp);
	*p50 = s_pct(lat, n, 0.5);
	*p99 = s_pct(lat, n, 0.99);
	free(lat);
}

#define SOAK_PHASE_S 15
#define SOAK_RATE 200 /* sales a second */

typedef struct {
	long sales;
	long long node_bytes, hub_bytes, node_db_growth, wal_max;
} soak_t;

/* One phase: SOAK_RATE sales a second for SOAK_PHASE_S seconds. */
static void
s_soak_phase(http_conn_t *c, long *n)
{
	char json[512], id[64], body[4096];
	double t0;
	int s, i, status;

	for (s = 0; s < SOAK_PHASE_S; s++) {
		t0 = bench_now();
		for (i = 0; i < SOAK_RATE; i++, (*n)++) {
			snprintf(id, sizeof id, "soak-%ld", *n);
			s_sale_json(json, sizeof json, id, (int)*n);
			status = http_do(c, "POST", "/v1/orders", json, body,
			    sizeof body);
			if (status != 201)
				bench_die("soak sale %ld: %d %s", *n, status,
				    body);
		}
		if (bench_now() - t0 < 1)
			usleep((useconds_t)((1 - (bench_now() - t0)) * 1e6));
	}
}

static long
s_hub_orders_of(const char *site)
{
	char path[4096], sql[128];
	sqlite3 *db;
	sqlite3_stmt *s;
	long n = -1;

	s_path(path, sizeof path, "hub/hub.db");
	snprintf(sql, sizeof sql,
	    "SELECT count(*) FROM orders WHERE site = '%s'", site);
	sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
	sqlite3_busy_timeout(db, 10000);
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return n;
}

/* Waits (up to 120 s) until the hub holds want sales of site, and reads
 * again a second later, when a sale recorded but never answered would
 * have come too: 1 when it holds exactly want, else 0 and why. */
static int
s_hub_exact(const char *site, long want, char *why, size_t size)
{
	double t = bench_now();
	long have;

	while (s_hub_orders_of(site) < want && bench_now() - t < 120)
		usleep(100000);
	usleep(1000000);
	if ((have = s_hub_orders_of(site)) == want)
		return 1;
	snprintf(why, size,
	    "the hub holds %ld sales of %s, %ld were answered 201", have, site,
	    want);
	return 0;
}

/* Tills at a steady rate at the store on port (pid node, database
 * node_db) with the hub up, then down, then up again; waits until the hub
 * holds want_before + every soak sale of S001. */
static void
s_soak(int port, pid_t node, const char *node_db, long want_before, soak_t *out)
{
	char hub_db[4096];
	long long n0 = bench_write_bytes(node),
		  h0 = bench_write_bytes(s_hub_pid);
	long long h1, db0, node_wal, hub_wal;
	struct stat sb;
	http_conn_t c;
	double t;

	s_path(hub_db, sizeof hub_db, "hub/hub.db");
	memset(out, 0, sizeof *out);
	db0 = stat(node_db, &sb) == 0 ? sb.st_size : 0;
	bench_wal_max(node_db, 1);
	bench_wal_max(hub_db, 1);
	if (http_open(&c, port) != 0)
		bench_die("soak: connect");
	s_soak_phase(&c, &out->sales);
	h1 = bench_write_bytes(s_hub_pid) - h0;
	s_hub_stop();
	s_soak_phase(&c, &out->sales);
	s_hub_start();
	s_soak_phase(&c, &out->sales);
	http_close(&c);
	t = bench_now();
	while (s_hub_orders_of("S001") < want_before + out->sales) {
		if (bench_now() - t > 120)
			bench_die("soak: the hub lacks sales after 120 s");
		usleep(100000);
	}
	out->node_bytes = bench_write_bytes(node) - n0;
	out->hub_bytes = h1 + bench_write_bytes(s_hub_pid);
	out->node_db_growth = (stat(node_db, &sb) == 0 ? sb.st_size : 0) - db0;
	node_wal = bench_wal_max(node_db, 0);
	hub_wal = bench_wal_max(hub_db, 0);
	out->wal_max = node_wal > hub_wal ? node_wal : hub_wal;
}

/* Brings the hub log (hub stopped) to `total` ops by ingesting stock
 * movements of filler sites in-process: the real ingest path, without the
 * network. */
static void
s_fill(long total)
{
	char path[4096], key[64];
	store_t *st;
	err_t err;
	cbw_t w;
	long have, i;
	uint64_t hlc = hlc_pack(hlc_wall_ms() - 3600 * 1000, 0);

	s_path(path, sizeof path, "hub/hub.db");
	if ((st = store_open(path, STORE_HUB, 0, &apply_rules, &err)) == NULL)
		bench_die("%s", err.msg);
	have = store_query_int(st,
	    store_stmt(st, "SELECT count(*) FROM op_log"), 0);
	i = store_query_int(st,
	    store_stmt(st,
		"SELECT count(*) FROM op_log "
		"WHERE origin LIKE 'FILL%'"),
	    0);
	cbw_init(&w);
	while (have < total) {
		if (store_begin(st, &err))
			bench_die("%s", err.msg);
		for (long k = 0; k < 5000 && have < total; k++, have++, i++) {
			op_t op;
			cbr_t r;
			ingest_result_t res;

			memset(&op, 0, sizeof op);
			snprintf(op.origin, sizeof op.origin, "FILL%02ld",
			    i % 16);
			op.seq = (uint64_t)(i / 16) + 1;
			op.hlc = ++hlc;
			snprintf(op.entity, sizeof op.entity, "stock_movement");
			snprintf(op.key, sizeof op.key, "%s-fill-%ld",
			    op.origin, i);
			snprintf(op.kind, sizeof op.kind, "add");
			snprintf(key, sizeof key, "SKU%ld", i % 200);
			op.fields = json_pack("{s:s, s:s, s:i, s:s}", "site",
			    op.origin, "sku", key, "delta", 1, "reason",
			    "receipt");
			cbw_reset(&w);
			op_encode(&op, &w, NULL);
			cbr_init(&r, w.data, w.len);
			if (store_ingest(st, &op, w.data, w.len, &res, &err) !=
			    0)
				bench_die("fill: %s", err.msg);
			op_clear(&op);
		}
		if (store_commit(st, &err))
			bench_die("%s", err.msg);
	}
	cbw_free(&w);
	store_close(&st);
}

/* One number the hub's database answers sql with (the hub may be running:
 * a reader of its WAL). */
static long
s_hub_int(const char *sql)
{
	char path[4096];
	sqlite3 *db;
	sqlite3_stmt *s;
	long n = 0;

	s_path(path, sizeof path, "hub/hub.db");
	sqlite3_open(path, &db);
	sqlite3_busy_timeout(db, 10000);
	sqlite3_prepare_v2(db, sql, -1, &s, NULL);
	if (sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return n;
}

static long
s_hub_log_count(void)
{
	return s_hub_int("SELECT count(*) FROM op_log");
}

/* The hub's highest lsn: how far it has applied (its op_log grows by one
 * row per op applied). */
static long
s_hub_applied(void)
{
	return s_hub_int("SELECT max(lsn) FROM op_log");
}

/* One run: the rate at which the hub acknowledged the pushes (each ack
 * after the COMMIT that holds the ops), and into *applied_per_s the rate
 * from the first push until the hub had also applied them all (logged in
 * op_log, merged into its state, streamable). */
static double
s_ingest_once(const char *prefix, int nsites, long ops_each, long *ops,
    double *applied_per_s)
{
	char db[4096];
	sites_t *ss;
	double t, t0;
	long before = s_hub_applied();

	s_path(db, sizeof db, "hub/hub.db");
	ss = sites_new(db, prefix, nsites, ops_each, 1);
	t0 = bench_now();
	t = sites_push(ss, s_endpoint, s_hub_pub, ops);
	sites_free(ss);
	while (s_hub_applied() < before + *ops) {
		if (bench_now() - t0 > 600)
			bench_die("ingest: the hub applied %ld of %ld ops in "
				  "600 s",
			    s_hub_applied() - before, *ops);
		usleep(20000);
	}
	*applied_per_s = (double)*ops / (bench_now() - t0);
	return (double)*ops / t;
}

/* The sites step: SITES_MAX simulated sites, enrolled at once, connected
 * SITES_EACH to a child process, each with a CURVE session (HELLO,
 * WELCOME) held open; the hub's RSS before any and at each count of
 * s_sites_at. */
#define SITES_MAX 10000
#define SITES_EACH 1000
#define SITES_STEPS 3
static const int s_sites_at[SITES_STEPS] = { 1000, 5000, 10000 };

typedef struct {
	int connected;		    /* sessions the hub counts at the end */
	double enroll_s;	    /* keys made and enrolled */
	double connect_s;	    /* to have every one counted by the hub */
	double base_mb;		    /* the hub's RSS before any */
	double rss_mb[SITES_STEPS]; /* at s_sites_at[i] */
} sites_run_t;

/* Waits up to 60 s for the hub to count n sessions; the count it has,
 * at most n (it may count a few stores just closed). */
static int
s_hub_sessions(int n)
{
	double until = bench_now() + 60;
	int got = 0;

	while (got < n && bench_now() < until) {
		http_conn_t c;
		char body[4096];
		json_t *v;

		usleep(200000);
		if (http_open(&c, s_hub_http) != 0)
			continue;
		if (http_do(&c, "GET", "/v1/status", NULL, body, sizeof body) !=
		    200)
			body[0] = '\0';
		http_close(&c);
		v = json_loads(body, 0, NULL);
		got = (int)json_integer_value(json_object_get(v, "sessions"));
		json_decref(v);
	}
	return got > n ? n : got;
}

static void
s_sites(sites_run_t *r)
{
	char db[4096];
	sites_t *ss;
	pid_t child[SITES_MAX / SITES_EACH];
	int i, k = 0, held = 0;
	double t = bench_now();

	s_path(db, sizeof db, "hub/hub.db");
	ss = sites_new(db, "C", SITES_MAX, 0, 0);
	r->enroll_s = bench_now() - t;
	r->base_mb = bench_rss_kb(s_hub_pid) / 1024.0;
	t = bench_now();
	for (i = 0; i < SITES_STEPS; i++) {
		while (held < s_sites_at[i]) {
			child[k++] = sites_hold_child(ss, held, SITES_EACH,
			    s_endpoint, s_hub_pub);
			held += SITES_EACH;
		}
		r->connected = s_hub_sessions(held);
		r->rss_mb[i] = bench_rss_kb(s_hub_pid) / 1024.0;
		printf("  %5d sites held, the hub counts %d, RSS %.1f MB, "
		       "%.1f s\n",
		    held, r->connected, r->rss_mb[i], bench_now() - t);
	}
	r->connect_s = bench_now() - t;
	while (k > 0)
		bench_stop(child[--k]);
	sites_free(ss);
}

/* What each 1,000 sites more cost the hub, from the first count to the
 * last. */
static double
s_sites_per_1k(const sites_run_t *r)
{
	return (r->rss_mb[SITES_STEPS - 1] - r->rss_mb[0]) * 1000 /
	    (s_sites_at[SITES_STEPS - 1] - s_sites_at[0]);
}

static double
s_median3(double r[3])
{
	double tmp;
	int i, j;

	for (i = 0; i < 3; i++)
		for (j = i + 1; j < 3; j++)
			if (r[j] < r[i]) {
				tmp = r[i];
				r[i] = r[j];
				r[j] = tmp;
			}
	return r[1];
}

/* The median of three runs by fresh sites (PREFIX A, B, C...): one run
 * swings by a fifth with what the disk and the other core are doing.
 * Acknowledged ops/s returned, applied ops/s in *applied. */
static double
s_ingest(const char *prefix, int nsites, long ops_each, long *ops,
    double *applied)
{
	double r[3], a[3];
	char p[8];
	int i;

	for (i = 0; i < 3; i++) {
		snprintf(p, sizeof p, "%s%c", prefix, 'A' + i);
		r[i] = s_ingest_once(p, nsites, ops_each, ops, &a[i]);
	}
	*applied = s_median3(a);
	return s_median3(r);
}

/* Stops the ingest-pg step's PostgreSQL cluster, keeps its server log
 * and removes its folder; does nothing when none runs. At exit too, so
 * that a bench that dies (bench_die) leaves no server behind; not in a
 * child of the bench (sites.c forks some), whose exit must not stop the
 * parent's cluster. No bench_die here: it may run inside exit(). */
static void
s_pg_stop(void)
{
	char cmd[16384];

	if (s_pg_dir[0] == '\0' || getpid() != s_pg_owner)
		return;
	snprintf(cmd, sizeof cmd,
	    "sh '%s' stop '%s'; cp '%s/log' '%s' 2>/dev/null; rm -rf '%s'",
	    s_pg_sh, s_pg_dir, s_pg_dir, s_pg_log, s_pg_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "bench: stop the PostgreSQL cluster in %s\n",
		    s_pg_dir);
	s_pg_dir[0] = '\0';
}

/* Starts a PostgreSQL cluster for the ingest-pg step (tests/pg.sh start
 * --fsync: every COMMIT waits for its WAL flush, as in production) and
 * stores its URI in uri. In /var/tmp: on the disk, unlike a tmpfs /tmp,
 * and world-traversable, which the server needs when it runs as nobody
 * (we are root). */
static void
s_pg_start(char *uri, size_t size)
{
	static int at_exit;
	char *argv[] = { "/bin/sh", s_pg_sh, "start", s_pg_dir, "--fsync",
		NULL };

	snprintf(s_pg_dir, sizeof s_pg_dir, "/var/tmp/blbench-pg.XXXXXX");
	if (mkdtemp(s_pg_dir) == NULL)
		bench_die("PostgreSQL: mkdtemp %s: %s", s_pg_dir,
		    strerror(errno));
	s_pg_owner = getpid();
	if (!at_exit++ && atexit(s_pg_stop) != 0)
		bench_die("PostgreSQL: atexit failed");
	if (bench_run_capture(argv, uri, size) != 0 ||
	    strncmp(uri, "postgresql://", 13) != 0)
		bench_die("PostgreSQL: %s start %s --fsync failed (make deps "
			  "installs postgresql)",
		    s_pg_sh, s_pg_dir);
}

/* The ingest step on PostgreSQL: a cluster of its own, one hub created on
 * it with init --store in DIR/pg/hub, the same simulated sites and op mix
 * as s_ingest's; then the hub and the cluster stopped. A hub of a cluster
 * applies a group's ops and appends them to the shared log before it
 * acknowledges: acknowledged is applied. The sites are enrolled in its
 * hub.db as s_ingest's are (sites.c), not in the cluster's registry: one
 * hub serves them all. Returns acknowledged ops/s (the median of three
 * runs) and stores applied ops/s in *applied. */
static double
s_ingest_pg(long *ops, double *applied)
{
	char top_dir[sizeof s_dir], pub[sizeof s_hub_pub];
	char endpoint[sizeof s_endpoint];
	char hub[4096], data[4096], uri[512];
	char *init[] = { hub, "init", "--data", data, "--store", uri,
		"--listen", "tcp://127.0.0.1:0", "--http", "127.0.0.1:0",
		NULL };
	double acked;

	s_pg_start(uri, sizeof uri);
	/* While the step runs, DIR is DIR/pg: every s_hub_ helper finds the
	 * PostgreSQL hub there. */
	memcpy(top_dir, s_dir, sizeof top_dir);
	memcpy(pub, s_hub_pub, sizeof pub);
	memcpy(endpoint, s_endpoint, sizeof endpoint);
	s_path(data, sizeof data, "pg");
	if (mkdir(data, 0755) != 0)
		bench_die("mkdir %s: %s", data, strerror(errno));
	snprintf(s_dir, sizeof s_dir, "%s", data);
	s_endpoint[0] = '\0';
	s_prog(hub, sizeof hub, "bl-hub");
	s_path(data, sizeof data, "hub");
	if (bench_run_capture(init, s_hub_pub, sizeof s_hub_pub) != 0)
		bench_die("hub init --store %s", uri);
	s_hub_start();
	acked = s_ingest("P", 16, 12500, ops, applied);
	s_hub_stop();
	s_pg_stop();
	memcpy(s_dir, top_dir, sizeof top_dir);
	memcpy(s_hub_pub, pub, sizeof pub);
	memcpy(s_endpoint, endpoint, sizeof endpoint);
	return acked;
}

int
main(int argc, char **argv)
{
	const char *top = argc > 1 ? argv[1] : ".";
	char hub[4096], data[4096], cmd[8192], s1[4096], s2[4096], cdir[4096];
	char *init[] = { hub, "init", "--data", data, "--listen",
		"tcp://127.0.0.1:0", "--http", "127.0.0.1:0", NULL };
	json_t *res = json_object();
	/* The ceilings are skipped by the ingest and catch-up runs. */
	double sqlite_lim = 0, curve_small = 0, curve_batch = 0;
	double floor50 = 0, floor99 = 0;
	double p50, p99, prop50, prop99, ingest, ingest5m, t, catchup, prune_s;
	double applied = 0, applied5m = 0, ingest_pg, applied_pg;
	double floor_ms[2000];
	long ops, rss_kb, swept = 0, unswept = 0;
	long long wb, sale_bytes, ingest_bytes, live_before, live_after;
	char hub_db[4096], s1_db[4200], s2_db[4200], s3_db[4200], f_db[4200];
	char s3[4096], key[64], why[512] = "";
	static const int sweep_conns[] = { 1, 4, 16, 64 };
	level_t level[4];
	soak_t soak;
	int http1, http2, http3, hub_tmpfs, hub_exact, i;
	sites_run_t sites;
	pid_t n1, n2, n3;
	struct rlimit rl;
	FILE *f;

	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	if (snprintf(s_dir, sizeof s_dir, "%s/build/bench", top) >=
		(int)sizeof s_dir ||
	    snprintf(s_bin, sizeof s_bin, "%s/build/rel", top) >=
		(int)sizeof s_bin ||
	    snprintf(s_pg_sh, sizeof s_pg_sh, "%s/tests/pg.sh", top) >=
		(int)sizeof s_pg_sh ||
	    snprintf(s_pg_log, sizeof s_pg_log, "%s/pg-server.log", s_dir) >=
		(int)sizeof s_pg_log ||
	    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", s_dir,
		s_dir) >= (int)sizeof cmd)
		bench_die("path too long: %s", top);
	if (system(cmd) != 0)
		bench_die("cannot make %s", s_dir);
	setvbuf(stdout, NULL, _IONBF, 0);

	if (argc > 2 &&
	    (strcmp(argv[2], "ingest") == 0 ||
		strcmp(argv[2], "catchup") == 0 ||
		strcmp(argv[2], "sites") == 0 ||
		strcmp(argv[2], "ingest-pg") == 0))
		goto steps;
	printf("ceilings ...\n");
	sqlite_lim = limit_sqlite(s_dir, 500000);
	curve_small = limit_curve(500000, 100);
	curve_batch = limit_curve(5000, 200 * 100);
	/* On the disk the nodes use, before anything else writes to it. */
	limit_commit_floor(s_dir, 2000, floor_ms);
	qsort(floor_ms, 2000, sizeof *floor_ms, s_cmp);
	floor50 = s_pct(floor_ms, 2000, 0.5);
	floor99 = s_pct(floor_ms, 2000, 0.99);

steps:
	if (argc > 2 && strcmp(argv[2], "catchup") == 0) {
		char node[4096];
		char *sync[] = { node, "sync", "--data", cdir, "--timeout",
			"600", NULL };

		s_prog(hub, sizeof hub, "bl-hub");
		s_path(data, sizeof data, "hub");
		if (bench_run_capture(init, s_hub_pub, sizeof s_hub_pub) != 0)
			bench_die("hub init");
		s_fill(1000000);
		s_hub_start();
		s_prog(node, sizeof node, "bl-node");
		s_node_init("HQF1", "hq", cdir, sizeof cdir);
		t = bench_now();
		if (bench_run(sync, NULL, &rss_kb) != 0)
			bench_die("catch-up sync failed");
		printf("catch-up of 1,000,000 ops: %.2f s, peak RSS %.1f MB\n",
		    bench_now() - t, rss_kb / 1024.0);
		s_hub_stop();
		return 0;
	}
	if (argc > 2 && strcmp(argv[2], "sites") == 0) {
		/* Iterating on the hub's connections: a hub and the sites. */
		s_prog(hub, sizeof hub, "bl-hub");
		s_path(data, sizeof data, "hub");
		if (bench_run_capture(init, s_hub_pub, sizeof s_hub_pub) != 0)
			bench_die("hub init");
		s_hub_start();
		s_sites(&sites);
		printf("%d sites connected in %.1f s (enrolled in %.1f s); "
		       "hub RSS %.1f MB before\n",
		    sites.connected, sites.connect_s, sites.enroll_s,
		    sites.base_mb);
		s_hub_stop();
		return 0;
	}
	if (argc > 2 && strcmp(argv[2], "ingest") == 0) {
		/* Iterating on the ingest path: a hub and the push only. */
		s_prog(hub, sizeof hub, "bl-hub");
		s_path(data, sizeof data, "hub");
		if (bench_run_capture(init, s_hub_pub, sizeof s_hub_pub) != 0)
			bench_die("hub init");
		s_hub_start();
		ingest = s_ingest("A", 16, 12500, &ops, &applied);
		printf("ingest %.0f ops/s acknowledged, %.0f ops/s applied "
		       "(%ld ops)\n",
		    ingest, applied, ops);
		s_hub_stop();
		return 0;
	}
	if (argc > 2 && strcmp(argv[2], "ingest-pg") == 0) {
		/* Iterating on a cluster's ingest: PostgreSQL, a hub on it,
		 * the push only. */
		ingest_pg = s_ingest_pg(&ops, &applied_pg);
		printf("ingest on PostgreSQL %.0f ops/s acknowledged, %.0f "
		       "ops/s applied (%ld ops)\n",
		    ingest_pg, applied_pg, ops);
		return 0;
	}

	printf("hub (its data on a tmpfs), catalog, three stores ...\n");
	s_prog(hub, sizeof hub, "bl-hub");
	s_path(data, sizeof data, "hub");
	hub_tmpfs = s_hub_on_tmpfs();
	if (bench_run_capture(init, s_hub_pub, sizeof s_hub_pub) != 0)
		bench_die("hub init");
	s_catalog();
	s_path(hub_db, sizeof hub_db, "hub/hub.db");
	bench_wal_watch(hub_db);
	s_hub_start();
	s_node_init("S001", "store", s1, sizeof s1);
	s_node_init("S002", "store", s2, sizeof s2);
	s_node_init("S003", "store", s3, sizeof s3);
	snprintf(s1_db, sizeof s1_db, "%s/node.db", s1);
	snprintf(s2_db, sizeof s2_db, "%s/node.db", s2);
	snprintf(s3_db, sizeof s3_db, "%s/node.db", s3);
	bench_wal_watch(s1_db);
	bench_wal_watch(s2_db);
	bench_wal_watch(s3_db);
	n1 = s_node_run(s1, &http1);
	n2 = s_node_run(s2, &http2);
	s_wait_items(http1, "/v1/products", 200);
	s_wait_items(http2, "/v1/products", 200);

	printf("sale latency ...\n");
	wb = bench_write_bytes(n1);
	s_sales(http1, 2000, &p50, &p99);
	sale_bytes = (bench_write_bytes(n1) - wb) / 2000;
	/* A store of its own (S003): the hub's count of its sales is then
	 * exactly the sweep's. */
	n3 = s_node_run(s3, &http3);
	s_wait_items(http3, "/v1/products", 200);
	for (i = 0; i < 4; i++) {
		printf("sales from %d tills at once ...\n", sweep_conns[i]);
		s_sweep_level(http3, sweep_conns[i], &level[i]);
		swept += level[i].ok;
		unswept += level[i].other;
		if (level[i].fail[0] != '\0')
			printf("  %ld not answered 201, the first: %s\n",
			    level[i].other, level[i].fail);
	}
	hub_exact = s_hub_exact("S003", swept, why, sizeof why);
	bench_stop(n3);
	s_hub_to_disk();
	printf("propagation ...\n");
	s_propagation(http1, http2, 200, &prop50, &prop99);
	if (argc <= 2 || strcmp(argv[2], "quick") != 0) {
		printf(
		    "soak: %d sales/s, %d s each with the hub up, down, up ...\n",
		    SOAK_RATE, SOAK_PHASE_S);
		s_soak(http1, n1, s1_db, 2000 + 200, &soak);
	}
	bench_stop(n1);
	bench_stop(n2);

	if (argc > 2 && strcmp(argv[2], "quick") == 0) {
		/* Iterating on the sale path: stop here. */
		printf("sale p50 %.3f ms p99 %.3f ms (floor %.3f / %.3f), "
		       "%lld bytes written, propagation p50 %.3f ms p99 "
		       "%.3f ms\n",
		    p50, p99, floor50, floor99, sale_bytes, prop50, prop99);
		for (i = 0; i < 4; i++)
			printf("%2d tills: %.0f sales/s, p50 %.3f ms, p99 "
			       "%.3f ms\n",
			    level[i].conns, level[i].per_s, level[i].p50,
			    level[i].p99);
		printf("hub holds exactly the %ld sales answered 201: %s %s\n",
		    swept, hub_exact ? "yes" : "NO", why);
		s_hub_stop();
		return 0;
	}

	printf("sites connected ...\n");
	s_sites(&sites);

	printf("ingest, empty log ...\n");
	wb = bench_write_bytes(s_hub_pid);
	ingest = s_ingest("A", 16, 12500, &ops, &applied);
	/* Three runs of ops each. */
	ingest_bytes = (bench_write_bytes(s_hub_pid) - wb) / (3 * ops);
	json_object_set_new(res, "ingest_ops", json_integer(ops));

	printf("fill the hub log to 1,000,000 ops ...\n");
	s_hub_stop();
	s_fill(1000000);
	s_hub_start();
	/* A head-office replica receives every op (a store only what it may
	 * see), so it pulls the whole million. */
	printf("catch-up of a fresh site ...\n");
	{
		char node[4096];
		char *sync[] = { node, "sync", "--data", cdir, "--timeout",
			"600", NULL };
		char *prune[] = { node, "prune", "--data", cdir, "--days", "0",
			NULL };
		long have = s_hub_log_count();

		s_prog(node, sizeof node, "bl-node");
		s_node_init("HQF1", "hq", cdir, sizeof cdir);
		snprintf(f_db, sizeof f_db, "%s/node.db", cdir);
		bench_wal_watch(f_db);
		t = bench_now();
		if (bench_run(sync, NULL, &rss_kb) != 0)
			bench_die("catch-up sync failed");
		catchup = (bench_now() - t) * 1e6 / (double)have;
		json_object_set_new(res, "catchup_ops", json_integer(have));
		/* Retention: what dropping every other site's op body gives
		 * back at a replica holding a million of them. */
		printf("retention: prune the caught-up replica ...\n");
		live_before = bench_db_live_bytes(f_db);
		t = bench_now();
		if (bench_run(prune, NULL, NULL) != 0)
			bench_die("prune failed");
		prune_s = bench_now() - t;
		live_after = bench_db_live_bytes(f_db);
	}

	printf("fill the hub log to 5,000,000 ops ...\n");
	s_hub_stop();
	s_fill(5000000);
	s_hub_start();
	printf("ingest, 5,000,000 ops in the log ...\n");
	ingest5m = s_ingest("B", 16, 12500, &ops, &applied5m);
	s_hub_stop();
	bench_wal_unwatch();
	printf("ingest on PostgreSQL (a cluster of its own, fsync on) ...\n");
	ingest_pg = s_ingest_pg(&ops, &applied_pg);

	json_object_set_new(res, "sqlite_limit_rows_per_s",
	    json_integer((json_int_t)sqlite_lim));
	json_object_set_new(res, "curve_limit_msgs_per_s",
	    json_integer((json_int_t)curve_small));
	json_object_set_new(res, "curve_limit_batch_msgs_per_s",
	    json_integer((json_int_t)curve_batch));
	json_object_set_new(res, "ingest_ops_per_s",
	    json_integer((json_int_t)ingest));
	json_object_set_new(res, "ingest_vs_sqlite_limit",
	    json_real(round(ingest / sqlite_lim * 1000) / 1000));
	/* Acknowledged is durable; applied is also merged and streamable
	 * (the hub applies its inbox in bulk behind the acks). */
	json_object_set_new(res, "ingest_applied_ops_per_s",
	    json_integer((json_int_t)applied));
	json_object_set_new(res, "ingest_5m_applied_ops_per_s",
	    json_integer((json_int_t)applied5m));
	/* A hub of a cluster acknowledges what it applied and appended. */
	json_object_set_new(res, "ingest_pg_ops_per_s",
	    json_integer((json_int_t)ingest_pg));
	json_object_set_new(res, "ingest_pg_vs_sqlite",
	    json_real(round(ingest_pg / applied * 1000) / 1000));
	json_object_set_new(res, "catchup_1m_s",
	    json_real(round(catchup * 100) / 100));
	json_object_set_new(res, "catchup_peak_rss_mb",
	    json_real(round(rss_kb / 1024.0 * 10) / 10));
	json_object_set_new(res, "sale_p50_ms",
	    json_real(round(p50 * 1000) / 1000));
	json_object_set_new(res, "sale_p99_ms",
	    json_real(round(p99 * 1000) / 1000));
	json_object_set_new(res, "sale_hub_on_tmpfs", json_boolean(hub_tmpfs));
	json_object_set_new(res, "commit_floor_p50_ms",
	    json_real(round(floor50 * 1000) / 1000));
	json_object_set_new(res, "commit_floor_p99_ms",
	    json_real(round(floor99 * 1000) / 1000));
	json_object_set_new(res, "sale_p99_vs_floor_p99",
	    json_real(round(p99 / floor99 * 100) / 100));
	for (i = 0; i < 4; i++) {
		snprintf(key, sizeof key, "sales_%d_per_s", level[i].conns);
		json_object_set_new(res, key,
		    json_integer((json_int_t)level[i].per_s));
		snprintf(key, sizeof key, "sales_%d_p50_ms", level[i].conns);
		json_object_set_new(res, key,
		    json_real(round(level[i].p50 * 1000) / 1000));
		snprintf(key, sizeof key, "sales_%d_p99_ms", level[i].conns);
		json_object_set_new(res, key,
		    json_real(round(level[i].p99 * 1000) / 1000));
	}
	json_object_set_new(res, "sales_answered_201", json_integer(swept));
	json_object_set_new(res, "sales_not_201", json_integer(unswept));
	json_object_set_new(res, "sales_hub_exact", json_boolean(hub_exact));
	if (!hub_exact)
		json_object_set_new(res, "sales_hub_failure", json_string(why));
	json_object_set_new(res, "propagation_p50_ms",
	    json_real(round(prop50 * 1000) / 1000));
	json_object_set_new(res, "propagation_p99_ms",
	    json_real(round(prop99 * 1000) / 1000));
	json_object_set_new(res, "sites_connected",
	    json_integer(sites.connected));
	json_object_set_new(res, "sites_hub_rss_mb",
	    json_real(round(sites.rss_mb[SITES_STEPS - 1] * 10) / 10));
	json_object_set_new(res, "sites_hub_rss_mb_none",
	    json_real(round(sites.base_mb * 10) / 10));
	for (i = 0; i < SITES_STEPS; i++) {
		snprintf(key, sizeof key, "sites_hub_rss_mb_%dk",
		    s_sites_at[i] / 1000);
		json_object_set_new(res, key,
		    json_real(round(sites.rss_mb[i] * 10) / 10));
	}
	json_object_set_new(res, "sites_rss_per_1k_mb",
	    json_real(round(s_sites_per_1k(&sites) * 10) / 10));
	json_object_set_new(res, "sites_connect_s",
	    json_real(round(sites.connect_s * 10) / 10));
	json_object_set_new(res, "sites_enroll_s",
	    json_real(round(sites.enroll_s * 10) / 10));
	json_object_set_new(res, "ingest_5m_ops_per_s",
	    json_integer((json_int_t)ingest5m));
	json_object_set_new(res, "ingest_growth_ratio",
	    json_real(round(ingest5m / ingest * 1000) / 1000));
	json_object_set_new(res, "sale_write_bytes", json_integer(sale_bytes));
	json_object_set_new(res, "ingest_write_bytes_per_op",
	    json_integer(ingest_bytes));
	json_object_set_new(res, "soak_sales", json_integer(soak.sales));
	json_object_set_new(res, "soak_wal_max_mb",
	    json_real(round(soak.wal_max / 1048576.0 * 10) / 10));
	json_object_set_new(res, "soak_node_write_bytes_per_sale",
	    json_integer(soak.node_bytes / soak.sales));
	json_object_set_new(res, "soak_node_db_growth_bytes_per_sale",
	    json_integer(soak.node_db_growth / soak.sales));
	json_object_set_new(res, "soak_hub_write_bytes_per_op",
	    json_integer(soak.hub_bytes / (3 * soak.sales)));
	json_object_set_new(res, "wal_max_hub_mb",
	    json_real(round(bench_wal_max(hub_db, 0) / 1048576.0 * 10) / 10));
	json_object_set_new(res, "wal_max_node_mb",
	    json_real(round(fmax(fmax(bench_wal_max(s1_db, 0),
				     bench_wal_max(s2_db, 0)),
				bench_wal_max(f_db, 0)) /
			  1048576.0 * 10) /
		10));
	json_object_set_new(res, "retain_live_mb_before",
	    json_real(round(live_before / 1048576.0 * 10) / 10));
	json_object_set_new(res, "retain_live_mb_after",
	    json_real(round(live_after / 1048576.0 * 10) / 10));
	json_object_set_new(res, "retain_prune_1m_s",
	    json_real(round(prune_s * 100) / 100));

	printf("\n%-28s %14s   %s\n", "measure", "result", "target");
	printf("%-28s %14.0f   %s\n", "sqlite_limit_rows_per_s", sqlite_lim,
	    "(ceiling)");
	printf("%-28s %14.0f   %s\n", "curve_limit_msgs_per_s", curve_small,
	    "(ceiling, 100 B)");
	printf("%-28s %14.0f   %s\n", "curve_limit_batch_msgs/s", curve_batch,
	    "(ceiling, 20 kB)");
	printf("%-28s %14.0f   >= 150000 (%.0f%% of sqlite ceiling)\n",
	    "ingest_ops_per_s", ingest, 100 * ingest / sqlite_lim);
	printf("%-28s %14.0f   (acknowledged and applied: merged, "
	       "streamable; %.0f at 5M)\n",
	    "ingest_applied_ops_per_s", applied, applied5m);
	printf("%-28s %14.0f   (a hub on PostgreSQL, fsync on: "
	       "acknowledged = applied; %.2f x sqlite applied)\n",
	    "ingest_pg_ops_per_s", ingest_pg, ingest_pg / applied);
	printf("%-28s %14.2f   <= 8\n", "catchup_1m_s", catchup);
	printf("%-28s %14.1f   <= 64\n", "catchup_peak_rss_mb",
	    rss_kb / 1024.0);
	printf("%-28s %14.3f   (ceiling: a bare sale-shaped commit)\n",
	    "commit_floor_p50_ms", floor50);
	printf("%-28s %14.3f   (ceiling)\n", "commit_floor_p99_ms", floor99);
	printf("%-28s %14.3f   <= 0.5 (floor p50 %.3f)%s\n", "sale_p50_ms", p50,
	    floor50, hub_tmpfs ? "" : " hub on the same disk");
	printf("%-28s %14.3f   <= 1.5 and <= 4 x floor p99 (%.1f x)\n",
	    "sale_p99_ms", p99, p99 / floor99);
	for (i = 0; i < 4; i++) {
		const char *target = "";

		if (level[i].conns == 16)
			target = ">= 8000";
		else if (level[i].conns == 64)
			target = ">= sales_16_per_s";
		snprintf(key, sizeof key, "sales_%d_per_s", level[i].conns);
		printf("%-28s %14.0f   %s (p50 %.3f ms)\n", key, level[i].per_s,
		    target, level[i].p50);
		snprintf(key, sizeof key, "sales_%d_p99_ms", level[i].conns);
		printf("%-28s %14.3f   %s\n", key, level[i].p99,
		    level[i].conns == 64 ? "<= 50" : "");
	}
	printf("%-28s %14s   %ld answered 201, %ld otherwise %s\n",
	    "sales_hub_exact", hub_exact ? "yes" : "NO", swept, unswept, why);
	printf("%-28s %14.3f   <= 5\n", "propagation_p50_ms", prop50);
	printf("%-28s %14.3f\n", "propagation_p99_ms", prop99);
	printf("%-28s %14d   >= 10000 (in %.1f s, enrolled in %.1f s)\n",
	    "sites_connected", sites.connected, sites.connect_s,
	    sites.enroll_s);
	printf("%-28s %14.1f   (none: %.1f", "sites_hub_rss_mb",
	    sites.rss_mb[SITES_STEPS - 1], sites.base_mb);
	for (i = 0; i < SITES_STEPS; i++)
		printf(", %dk: %.1f", s_sites_at[i] / 1000, sites.rss_mb[i]);
	printf(")\n%-28s %14.1f\n", "sites_rss_per_1k_mb",
	    s_sites_per_1k(&sites));
	printf("%-28s %14.3f   >= 0.8 (%.0f ops/s at 5M)\n",
	    "ingest_growth_ratio", ingest5m / ingest, ingest5m);
	printf("%-28s %14lld   (bytes written by the node per sale)\n",
	    "sale_write_bytes", sale_bytes);
	printf("%-28s %14lld   (bytes written by the hub per op)\n",
	    "ingest_write_bytes_per_op", ingest_bytes);
	printf("%-28s %14ld   (hub up, down, up)\n", "soak_sales", soak.sales);
	printf("%-28s %14.1f   < 64 (largest WAL, node and hub)\n",
	    "soak_wal_max_mb", soak.wal_max / 1048576.0);
	printf("%-28s %14lld\n", "soak_node_write_bytes/sale",
	    soak.node_bytes / soak.sales);
	printf("%-28s %14lld\n", "soak_node_db_growth/sale",
	    soak.node_db_growth / soak.sales);
	printf("%-28s %14lld\n", "soak_hub_write_bytes/op",
	    soak.hub_bytes / (3 * soak.sales));
	printf("%-28s %14.1f   < 64 (whole run, fill included)\n",
	    "wal_max_hub_mb", bench_wal_max(hub_db, 0) / 1048576.0);
	printf("%-28s %14.1f   < 64 (whole run)\n", "wal_max_node_mb",
	    fmax(fmax(bench_wal_max(s1_db, 0), bench_wal_max(s2_db, 0)),
		bench_wal_max(f_db, 0)) /
		1048576.0);
	printf("%-28s %14.1f   -> %.1f MB live after bl-node prune (%.2f s)\n",
	    "retain_live_mb_before", live_before / 1048576.0,
	    live_after / 1048576.0, prune_s);

	snprintf(cmd, sizeof cmd, "%s/tests/bench/results.json", top);
	if ((f = fopen(cmd, "w")) == NULL)
		bench_die("write %s: %s", cmd, strerror(errno));
	json_dumpf(res, f,
	    JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(6));
	fputc('\n', f);
	fclose(f);
	json_decref(res);
	printf("\nwrote %s\n", cmd);
	return 0;
}
