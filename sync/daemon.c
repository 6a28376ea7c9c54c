/* daemon: a program's daemon around its event loop (see daemon.h). */
#include "daemon.h"

#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "log.h"
#include "prog.h"
#include "runlock.h"

#define DAEMON_REPLY_MAX (4 * 1024 * 1024) /* daemon_ask: a status is 2 KB */

/* SIGTERM, SIGINT: logs it and stops the loop (arg, the base). */
static void
s_on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	log_info("signal %d: stopping", (int)sig);
	event_base_loopbreak(arg);
}

/* Runs base until SIGTERM or SIGINT. Borrows base. */
static void
s_loop(struct event_base *base)
{
	struct event *term, *intr;

	signal(SIGPIPE, SIG_IGN);
	term = evsignal_new(base, SIGTERM, s_on_signal, base);
	intr = evsignal_new(base, SIGINT, s_on_signal, base);
	event_add(term, NULL);
	event_add(intr, NULL);
	event_base_dispatch(base);
	event_free(term);
	event_free(intr);
}

/* Starts store's background checkpointer with conf's limits; -1 with err
 * only on a bad setting. Borrows both. */
static int
s_checkpoints(store_t *st, const conf_t *conf, err_t *err)
{
	int bound, low;
	err_t why;

	if (conf_disk_limits(conf, &bound, &low, err))
		return -1;
	if (store_checkpoint_in_background(st, bound, low, &why))
		log_warn("%s; SQLite checkpoints inside commits instead",
		    why.msg);
	return 0;
}

int
daemon_private_dir(const char *dir, err_t *err)
{
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return err_set(err, ERR_INTERNAL, "%s: %s", dir,
		    strerror(errno));
	/* mkdir leaves an existing directory as it was, often 0755. */
	if (chmod(dir, 0700) != 0)
		return err_set(err, ERR_INTERNAL,
		    "%s: cannot make it private (chmod 700): %s", dir,
		    strerror(errno));
	return 0;
}

/* Logs a warning when dir, the data directory, lets group or others in;
 * -1 with err when it cannot be looked at. */
static int
s_check_private(const char *dir, err_t *err)
{
	struct stat sb;

	if (stat(dir, &sb) != 0)
		return err_set(err, ERR_INTERNAL, "%s: %s", dir,
		    strerror(errno));
	if ((sb.st_mode & 077) != 0)
		log_warn("%s: mode %03o lets other local users read customers' "
			 "data; chmod 700 it",
		    dir, (unsigned)(sb.st_mode & 0777));
	return 0;
}

int
daemon_run(const daemon_spec_t *spec, const args_t *args, void *arg)
{
	daemon_t d;
	const char *const *o;
	int rc = 1, lock = -1;
	long holder;
	err_t err;

	memset(&d, 0, sizeof d);
	err_clear(&err);
	d.dir = args_get(args, "data", ".");
	if (conf_load(d.dir, &d.conf, &err))
		goto out;
	for (o = spec->overrides; *o != NULL; o++)
		conf_set(&d.conf, *o, args_get(args, *o, NULL));
	if (spec->check(&d.conf, &err) || s_check_private(d.dir, &err))
		goto out;
	if ((lock = runlock_take(d.dir, &holder, &err)) < 0) {
		if (err.code == ERR_CONFLICT && holder > 0)
			err_set(&err, ERR_CONFLICT,
			    "%s: already served by process %ld", d.dir, holder);
		else if (err.code == ERR_CONFLICT)
			err_set(&err, ERR_CONFLICT,
			    "%s: already served by another process", d.dir);
		goto out;
	}
	if (keys_load(d.dir, spec->key, &d.keys, &err))
		goto out;
	if ((d.store = spec->open(d.dir, &err)) == NULL ||
	    s_checkpoints(d.store, &d.conf, &err))
		goto out;
	if ((d.base = event_base_new()) == NULL)
		fatal("daemon: cannot create an event loop");
	if (spec->start(&d, arg, &err))
		goto out;
	s_loop(d.base);
	rc = 0;
out:
	if (rc != 0)
		prog_fail(1, &err);
	spec->stop(arg);
	if (d.base != NULL)
		event_base_free(d.base);
	store_close(&d.store);
	keys_free(&d.keys);
	if (lock >= 0)
		close(lock);
	return rc;
}

/* ---- asking a running daemon ---- */

/* Reads name's port from DIR/ports ("http=PORT" lines); -1 with err. */
static int
s_read_port(const char *dir, const char *name, int *port, err_t *err)
{
	char path[4096], line[128], *end;
	size_t n = strlen(name);
	FILE *f;
	long p = -1;

	snprintf(path, sizeof path, "%s/ports", dir);
	if ((f = fopen(path, "r")) == NULL)
		return err_set(err, ERR_UNAVAILABLE, "read %s: %s", path,
		    strerror(errno));
	while (p < 0 && fgets(line, sizeof line, f) != NULL)
		if (strncmp(line, name, n) == 0 && line[n] == '=') {
			p = strtol(line + n + 1, &end, 10);
			if (*end != '\n' || p <= 0 || p > 65535)
				p = 0;
		}
	fclose(f);
	if (p <= 0)
		return err_set(err, ERR_UNAVAILABLE,
		    "read %s: no %s port in it", path, name);
	*port = (int)p;
	return 0;
}

/* Connects to host:port, each step within timeout_ms. The caller closes
 * the socket. -1 with err. */
static int
s_connect(const char *host, int port, int timeout_ms, err_t *err)
{
	struct addrinfo hints, *ai = NULL, *a;
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	char service[16];
	int fd = -1, rc, why = 0;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(service, sizeof service, "%d", port);
	if ((rc = getaddrinfo(host, service, &hints, &ai)) != 0)
		return err_set(err, ERR_UNAVAILABLE, "%s", gai_strerror(rc));
	for (a = ai; a != NULL && fd < 0; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC,
		    a->ai_protocol);
		if (fd < 0) {
			why = errno;
			continue;
		}
		if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) !=
			0 ||
		    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) !=
			0 ||
		    connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
			why = errno;
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(ai);
	if (fd < 0)
		return err_set(err, ERR_UNAVAILABLE, "%s",
		    why == EINPROGRESS || why == EAGAIN ? "timed out"
							: strerror(why));
	return fd;
}

/* Sends the n bytes of buf on fd; -1 with err. */
static int
s_send_all(int fd, const char *buf, size_t n, err_t *err)
{
	ssize_t w;

	while (n > 0) {
		if ((w = send(fd, buf, n, MSG_NOSIGNAL)) < 0) {
			if (errno == EINTR)
				continue;
			return err_set(err, ERR_UNAVAILABLE, "send: %s",
			    errno == EAGAIN ? "timed out" : strerror(errno));
		}
		buf += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads fd to its end into *buf (NUL-terminated, caller frees) of *len
 * bytes, at most DAEMON_REPLY_MAX; -1 with err. */
static int
s_recv_all(int fd, char **buf, size_t *len, err_t *err)
{
	size_t cap = 4096;
	ssize_t r;
	char *p;

	*len = 0;
	if ((*buf = malloc(cap)) == NULL)
		fatal("daemon: out of memory");
	for (;;) {
		if (*len + 1 == cap) {
			if (cap >= DAEMON_REPLY_MAX)
				return err_set(err, ERR_TOO_LARGE,
				    "answer over %d bytes", DAEMON_REPLY_MAX);
			cap *= 2;
			if ((p = realloc(*buf, cap)) == NULL)
				fatal("daemon: out of memory");
			*buf = p;
		}
		r = recv(fd, *buf + *len, cap - 1 - *len, 0);
		if (r == 0)
			break;
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return err_set(err, ERR_UNAVAILABLE, "receive: %s",
			    errno == EAGAIN ? "timed out" : strerror(errno));
		*len += (size_t)r;
	}
	(*buf)[*len] = '\0';
	return 0;
}

/* Reads an HTTP/1.x answer of len bytes: *out the JSON object of its
 * body when the status is 200; otherwise -1 with err naming the status
 * and the API's message, ERR_UNAVAILABLE when asking again may help. */
static int
s_answer(const char *text, size_t len, json_t **out, err_t *err)
{
	const char *body = strstr(text, "\r\n\r\n");
	const char *msg;
	err_code_t code = ERR_UNAVAILABLE;
	json_error_t jerr;
	json_t *o;
	int status;

	if (sscanf(text, "HTTP/1.%*d %d", &status) != 1 || body == NULL)
		return err_set(err, ERR_UNAVAILABLE, "not an HTTP answer");
	body += 4;
	o = json_loadb(body, len - (size_t)(body - text), 0, &jerr);
	if (status != 200) {
		msg = json_string_value(
		    json_object_get(json_object_get(o, "error"), "message"));
		/* A wrong token is final; asking again would not help. */
		if (status == 401 || status == 403)
			code = ERR_FORBIDDEN;
		else if (status < 500)
			code = ERR_BAD_REQUEST;
		err_set(err, code, "answered %d: %s", status,
		    msg != NULL ? msg : "(no message)");
		json_decref(o);
		return -1;
	}
	if (!json_is_object(o)) {
		err_set(err, ERR_UNAVAILABLE, "answer: not a JSON object: %s",
		    o == NULL ? jerr.text : "another type");
		json_decref(o);
		return -1;
	}
	*out = o;
	return 0;
}

int
daemon_ask(const char *dir, const char *path, int timeout_ms, json_t **out,
    err_t *err)
{
	char host[256], req[1024], *reply = NULL;
	const char *token;
	size_t len = 0;
	conf_t conf;
	int port = 0, fd = -1, rc = -1, bound;

	*out = NULL;
	if (conf_load(dir, &conf, err) ||
	    conf_split_hostport(conf_get(&conf, "http", "127.0.0.1:0"), host,
		sizeof host, &bound, err) ||
	    s_read_port(dir, "http", &port, err))
		goto out;
	/* A daemon bound to every address answers on loopback. */
	if (host[0] == '\0' || strcmp(host, "0.0.0.0") == 0 ||
	    strcmp(host, "*") == 0)
		snprintf(host, sizeof host, "127.0.0.1");
	else if (strcmp(host, "::") == 0 || strcmp(host, "[::]") == 0)
		snprintf(host, sizeof host, "::1");
	token = conf_get(&conf, "token", NULL);
	if ((size_t)snprintf(req, sizeof req,
		"GET %s HTTP/1.0\r\nHost: %s:%d\r\n%s%s%s\r\n", path, host,
		port, token != NULL ? "Authorization: Bearer " : "",
		token != NULL ? token : "",
		token != NULL ? "\r\n" : "") >= sizeof req) {
		err_set(err, ERR_BAD_REQUEST, "request over %zu bytes",
		    sizeof req);
		goto fail;
	}
	if ((fd = s_connect(host, port, timeout_ms, err)) < 0 ||
	    s_send_all(fd, req, strlen(req), err) ||
	    s_recv_all(fd, &reply, &len, err) || s_answer(reply, len, out, err))
		goto fail;
	rc = 0;
	goto out;
fail:
	err_prefix(err, "GET http://%s:%d%s", host, port, path);
out:
	if (fd >= 0)
		close(fd);
	free(reply);
	sodium_memzero(req, sizeof req); /* the token */
	sodium_memzero(&conf, sizeof conf);
	return rc;
}
