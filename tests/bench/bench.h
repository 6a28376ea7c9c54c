/*
 * bench: Branchline's benchmark (make bench). One program measures, in one
 * run, our figures beside this machine's own SQLite and ZeroMQ ceilings,
 * prints a table and writes tests/bench/results.json. It reports; it never
 * gates CI (tests contain no timing assertions).
 *
 * bench.c orchestrates real bl-hub / bl-node processes; limits.c measures
 * the ceilings; util.c holds processes, clocks, a tiny HTTP client and the
 * workload writer.
 */
#ifndef BL_BENCH_H
#define BL_BENCH_H

#include <jansson.h>
#include <stdint.h>
#include <sys/types.h>

#include "store.h"

/* ---- util.c ---- */

double bench_now(void); /* monotonic seconds */
void bench_die(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

/* Runs argv (argv[0] a path) with output to log; returns the pid. */
pid_t bench_spawn(char *const argv[], const char *log);
/* Runs argv to completion; returns its exit status, and its peak RSS in kB
 * when rss_kb is not NULL. */
int bench_run(char *const argv[], const char *log, long *rss_kb);
/* Same, capturing the first line of stdout into out. */
int bench_run_capture(char *const argv[], char *out, size_t size);
void bench_stop(pid_t pid);   /* SIGTERM and reap */
long bench_rss_kb(pid_t pid); /* current VmRSS, kB */
/* The number after "key:" in /proc/PID/file, -1 when there is none. */
long long bench_proc_value(pid_t pid, const char *file, const char *key);
/* Waits for DIR/ports to exist and returns the named port. */
int bench_port(const char *dir, const char *name);

/* A keep-alive HTTP/1.1 connection to 127.0.0.1:port. */
typedef struct {
	int fd;
	char buf[1 << 16];
	size_t len;
} http_conn_t;

int http_open(http_conn_t *c, int port);
/* Sends one request; returns the status and copies the body (NUL-ended)
 * into body when not NULL; -1 on a broken connection. */
int http_do(http_conn_t *c, const char *method, const char *path,
    const char *json, char *body, size_t size);
void http_close(http_conn_t *c);

/* Writes a site's workload into its database in-process (real local-write
 * code paths, synchronous off while preparing): n_orders store sales of 1-3
 * lines with a payment each, and stock receipts; returns the ops written. */
long bench_write_workload(const char *node_dir, long n_orders, int seed);

/* ---- disk.c ---- */

/* Bytes pid has written to storage so far (/proc/PID/io), -1 unknown. */
long long bench_write_bytes(pid_t pid);
/* Watches the WAL of the database at db_path, sampled every 20 ms by a
 * thread until bench_wal_unwatch. */
void bench_wal_watch(const char *db_path);
/* The largest WAL seen for db_path (-1: not watched); reset starts over. */
long long bench_wal_max(const char *db_path, int reset);
void bench_wal_unwatch(void);
/* Bytes of the pages a database uses (its size less the free list). */
long long bench_db_live_bytes(const char *db_path);

/* ---- sites.c ---- */

typedef struct site site_t;
typedef struct {
	int n;
	site_t *site;
} sites_t;

/* count sites named PREFIX0001..., enrolled directly in the hub's
 * registry (hub_db) with fresh keys; with generate, each gets ops_each
 * ops of a store's mix in memory. */
sites_t *sites_new(const char *hub_db, const char *prefix, int count,
    long ops_each, int generate);
/* Pushes every site's ops concurrently; seconds from the first PUSH to the
 * last PUSH_ACK; *ops = ops pushed. */
double sites_push(sites_t *sites, const char *endpoint, const char *hub_pub,
    long *ops);
/* Connects all and waits for every WELCOME; returns the context to pass to
 * sites_release. */
void *sites_hold(sites_t *sites, const char *endpoint, const char *hub_pub);
void sites_release(sites_t *sites, void *ctx);
/* Holds sites from .. from + count - 1 connected from a child process
 * (each site takes two descriptors at its end, its socket's mailbox and its
 * connection: children keep 10,000 sites within a hard limit of 20,000).
 * Returns the child's pid once every one of them got its WELCOME; the child
 * holds them, each site PINGing every 2 s as bl-node does, until
 * bench_stop(pid). Dies when the child failed. */
pid_t sites_hold_child(sites_t *sites, int from, int count,
    const char *endpoint, const char *hub_pub);
void sites_free(sites_t *sites);

/* ---- limits.c ---- */

/* Batched inserts of op-sized rows into an op_log-shaped table in dir,
 * WAL + synchronous=FULL; rows per second. */
double limit_sqlite(const char *dir, long rows);
/* DEALER -> ROUTER over CURVE on loopback: messages per second of size
 * bytes, with the receiver in another thread. */
double limit_curve(long msgs, size_t size);
/* The floor of a durable sale: n transactions in dir, WAL +
 * synchronous=FULL, each writing the rows one till sale writes at a node
 * (four ops in the log, the order, two lines, its history, a payment, two
 * stock movements and the stock rows they change, the idempotency record,
 * the clock and seq); the ms each took, BEGIN to COMMIT, into lat_ms. */
void limit_commit_floor(const char *dir, int n, double *lat_ms);

#endif
