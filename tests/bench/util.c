/* util: processes, clocks, HTTP client and workload writer (see bench.h). */
#include "apply.h"
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "api.h"

double
bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
bench_die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "bench: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(1);
}

pid_t
bench_spawn(char *const argv[], const char *log)
{
	pid_t pid = fork();

	if (pid < 0)
		bench_die("fork: %s", strerror(errno));
	if (pid == 0) {
		int fd = open(log ? log : "/dev/null",
		    O_WRONLY | O_CREAT | O_APPEND, 0644);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		/* A bench that dies (bench_die) leaves no hub or node behind
		 * to hold ports and CPU in the next run. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

int
bench_run(char *const argv[], const char *log, long *rss_kb)
{
	pid_t pid = bench_spawn(argv, log);
	struct rusage ru;
	int status;

	if (wait4(pid, &status, 0, &ru) < 0)
		bench_die("wait %s: %s", argv[0], strerror(errno));
	if (rss_kb != NULL)
		*rss_kb = ru.ru_maxrss;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

int
bench_run_capture(char *const argv[], char *out, size_t size)
{
	int pfd[2], status;
	pid_t pid;
	ssize_t n;

	if (pipe(pfd) != 0)
		bench_die("pipe: %s", strerror(errno));
	pid = fork();
	if (pid == 0) {
		dup2(pfd[1], 1);
		close(pfd[0]);
		close(pfd[1]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(pfd[1]);
	n = read(pfd[0], out, size - 1);
	out[n > 0 ? n : 0] = '\0';
	out[strcspn(out, "\n")] = '\0';
	close(pfd[0]);
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

void
bench_stop(pid_t pid)
{
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

long
bench_rss_kb(pid_t pid)
{
	return (long)bench_proc_value(pid, "status", "VmRSS");
}

long long
bench_proc_value(pid_t pid, const char *file, const char *key)
{
	char path[64], line[256];
	size_t n = strlen(key);
	long long v = -1;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL)
		if (strncmp(line, key, n) == 0 && line[n] == ':' &&
		    sscanf(line + n + 1, "%lld", &v) == 1)
			break;
	fclose(f);
	return v;
}

int
bench_port(const char *dir, const char *name)
{
	char path[4096], line[64];
	int i, port = -1;
	FILE *f;

	snprintf(path, sizeof path, "%s/ports", dir);
	for (i = 0; i < 200 && access(path, F_OK) != 0; i++)
		usleep(50000);
	if ((f = fopen(path, "r")) == NULL)
		bench_die("no %s", path);
	while (fgets(line, sizeof line, f) != NULL)
		if (strncmp(line, name, strlen(name)) == 0 &&
		    line[strlen(name)] == '=')
			port = atoi(line + strlen(name) + 1);
	fclose(f);
	if (port <= 0)
		bench_die("%s: no %s port", path, name);
	return port;
}

int
http_open(http_conn_t *c, int port)
{
	struct sockaddr_in a;
	int one = 1;

	memset(c, 0, sizeof *c);
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(0x7f000001);
	if (connect(c->fd, (struct sockaddr *)&a, sizeof a) != 0)
		return -1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return 0;
}

void
http_close(http_conn_t *c)
{
	if (c->fd > 0)
		close(c->fd);
	c->fd = -1;
}

int
http_do(http_conn_t *c, const char *method, const char *path, const char *json,
    char *body, size_t size)
{
	char req[8192];
	int n, status;
	size_t clen = json ? strlen(json) : 0;
	char *hdr_end, *cl;
	long want;

	/* A loopback name: without a token the hub answers no other
	 * (hub/console.c, against DNS rebinding). */
	n = snprintf(req, sizeof req,
	    "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	    "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
	    method, path, clen, json ? json : "");
	if (write(c->fd, req, (size_t)n) != n)
		return -1;
	c->len = 0;
	for (;;) {
		ssize_t r = read(c->fd, c->buf + c->len,
		    sizeof c->buf - 1 - c->len);

		if (r <= 0)
			return -1;
		c->len += (size_t)r;
		c->buf[c->len] = '\0';
		if ((hdr_end = strstr(c->buf, "\r\n\r\n")) == NULL)
			continue;
		cl = strcasestr(c->buf, "Content-Length:");
		want = cl && cl < hdr_end ? atol(cl + 15) : 0;
		if ((long)(c->len - (size_t)(hdr_end + 4 - c->buf)) >= want)
			break;
	}
	status = atoi(c->buf + 9);
	if (body != NULL)
		snprintf(body, size, "%s", hdr_end + 4);
	return status;
}

long
bench_write_workload(const char *node_dir, long n_orders, int seed)
{
	char path[4096], json[2048], id[64];
	store_t *st;
	api_t *api;
	json_t *req, *out;
	err_t err;
	long i, ops = 0;
	int64_t before = 0, after = 0;
	unsigned r = (unsigned)seed;

	snprintf(path, sizeof path, "%s/node.db", node_dir);
	if ((st = store_open(path, STORE_NODE, 0, &apply_rules, &err)) == NULL)
		bench_die("%s", err.msg);
	/* Preparing data, not measuring durability. */
	sqlite3_exec(store_db(st), "PRAGMA synchronous = OFF", NULL, NULL,
	    NULL);
	api = api_new(NULL, st, "site");
	if (store_meta_get_int(st, "seq", 0, &before, &err))
		bench_die("%s", err.msg);
	for (i = 0; i < n_orders; i++) {
		int lines = 1 + (int)((r = r * 1103515245 + 12345) >> 16) % 3,
		    k;
		size_t off;

		if (i % 10 == 0) {
			snprintf(json, sizeof json,
			    "{\"sku\":\"SKU%u\",\"delta\":100,"
			    "\"reason\":\"receipt\"}",
			    (r >> 8) % 200);
			req = json_loads(json, 0, NULL);
			if (api_call(api, "POST", "/v1/stock/movements", NULL,
				req, &out) >= 300)
				bench_die("workload receipt: %s",
				    json_dumps(out, 0));
			json_decref(req);
			json_decref(out);
		}
		snprintf(id, sizeof id, "%s-b%ld", store_site(st), i);
		off = (size_t)snprintf(json, sizeof json,
		    "{\"id\":\"%s\","
		    "\"channel\":\"store\",\"currency\":\"CNY\",\"status\":"
		    "\"completed\",\"lines\":[",
		    id);
		for (k = 0; k < lines; k++)
			off += (size_t)snprintf(json + off, sizeof json - off,
			    "%s{\"sku\":\"SKU%u\",\"qty\":%d,\"unit_price\":%u}",
			    k ? "," : "", (r >> (k + 4)) % 200, 1 + k,
			    100 + (r >> 3) % 5000);
		snprintf(json + off, sizeof json - off, "]}");
		req = json_loads(json, 0, NULL);
		if (api_call(api, "POST", "/v1/orders", NULL, req, &out) >= 300)
			bench_die("workload order: %s", json_dumps(out, 0));
		json_decref(req);
		snprintf(json, sizeof json,
		    "{\"order\":\"%s\",\"method\":\"card\","
		    "\"amount\":%lld,\"currency\":\"CNY\"}",
		    id,
		    (long long)json_integer_value(
			json_object_get(out, "total")));
		json_decref(out);
		req = json_loads(json, 0, NULL);
		if (api_call(api, "POST", "/v1/payments", NULL, req, &out) >=
		    300)
			bench_die("workload payment: %s", json_dumps(out, 0));
		json_decref(req);
		json_decref(out);
	}
	if (store_meta_get_int(st, "seq", 0, &after, &err))
		bench_die("%s", err.msg);
	ops = (long)(after - before);
	api_destroy(&api);
	store_close(&st);
	return ops;
}
