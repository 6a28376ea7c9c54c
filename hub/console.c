/*
 * console: head office's web console, served by bl-hub run on its HTTP
 * port beside the API.
 *
 *   GET  /                    the console (index.html)
 *   GET  /console/NAME        its script, style sheet... (hub/console/)
 *   GET  /console/chart.js    Chart.js, read from where Debian's
 *                             libjs-chart.js puts it (console_chartjs)
 *   POST /console/login       {user, password} -> {user, role, csrf} and
 *                             the session cookie
 *   GET  /console/session     who is logged in: {login, user, role, csrf}
 *   POST /console/logout      ends the session (needs the CSRF header)
 *
 * The pages hold no data: the console's script reads the JSON API under
 * /v1/, the same resources integrations use. The console's own files are
 * compiled into bl-hub (hub/console/embed.sh), or read from console_dir
 * when the config names one.
 *
 * Who may call the API (the guard, api.h). Where the API asks for no
 * token (bound to loopback without one) the console asks for no login,
 * as the API works there; writes that a browser sends from a page of
 * another site (an Origin other than the hub's) and requests naming a
 * host other than loopback (DNS rebinding) are refused. Where the API
 * asks for a token (any other address needs one), a request without an
 * Authorization header needs a console session: the cookie bl_session
 * (HttpOnly, SameSite=Strict, Secure with cookie_secure=yes), and for a
 * write also the header X-CSRF-Token with the session's CSRF token and a
 * manager's role. A request with the bearer token is served as before.
 */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hub.h"
#include "log.h"
#include "text.h"

typedef struct {
	const char *name;
	const unsigned char *data;
	size_t size;
} console_file_t;

#include "console_files.h" /* s_console_files[], from hub/console/ */

#define CONSOLE_COOKIE "bl_session"
#define CONSOLE_FILE_MAX (4 * 1024 * 1024)
#define CONSOLE_CSP                                                  \
	"default-src 'self'; script-src 'self'; style-src 'self'; "  \
	"img-src 'self' data:; connect-src 'self'; frame-ancestors " \
	"'none'; base-uri 'none'; form-action 'self'"

struct console {
	store_t *store;
	server_t *server;
	api_t *api;
	login_t *login;
	char dir[CONF_VALUE_MAX];     /* console_dir, "" for the built-in */
	char chartjs[CONF_VALUE_MAX]; /* console_chartjs */
	int secure_cookie;
	uint64_t silent_after_ms;
};

/* ---- replies ---- */

static void
s_headers(struct evhttp_request *req, const char *type)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	evhttp_add_header(h, "Content-Type", type);
	evhttp_add_header(h, "Cache-Control", "no-cache");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(h, "X-Frame-Options", "DENY");
	evhttp_add_header(h, "Referrer-Policy", "no-referrer");
	evhttp_add_header(h, "Content-Security-Policy", CONSOLE_CSP);
}

static void
s_send(struct evhttp_request *req, int status, const char *type,
    const void *data, size_t len)
{
	struct evbuffer *buf = evbuffer_new();

	if (buf == NULL)
		fatal("console: out of memory");
	s_headers(req, type);
	evbuffer_add(buf, data, len);
	evhttp_send_reply(req, status, NULL, buf);
	evbuffer_free(buf);
}

/* Sends o (stolen) as JSON. */
static void
s_json(struct evhttp_request *req, int status, json_t *o)
{
	char *text = json_dumps(o, JSON_COMPACT);

	json_decref(o);
	if (text == NULL)
		fatal("console: out of memory");
	s_send(req, status, "application/json", text, strlen(text));
	free(text);
}

static void
s_error(struct evhttp_request *req, int status, const char *code,
    const char *msg)
{
	char text[ERR_MSG_MAX];

	snprintf(text, sizeof text, "%s", msg);
	text_clean(text);
	s_json(req, status,
	    json_pack("{s:{s:s, s:s}}", "error", "code", code, "message",
		text));
}

/* ---- requests ---- */

/* The value of the cookie CONSOLE_COOKIE into buf, or NULL. */
static const char *
s_cookie(struct evhttp_request *req, char *buf, size_t size)
{
	const char *h = evhttp_find_header(evhttp_request_get_input_headers(
					       req),
	    "Cookie");
	size_t n = strlen(CONSOLE_COOKIE), len;

	while (h != NULL && *h != '\0') {
		while (*h == ' ' || *h == ';')
			h++;
		len = strcspn(h, ";");
		if (len > n && strncmp(h, CONSOLE_COOKIE, n) == 0 &&
		    h[n] == '=') {
			if (len - n - 1 >= size)
				return NULL;
			memcpy(buf, h + n + 1, len - n - 1);
			buf[len - n - 1] = '\0';
			return buf;
		}
		h += len;
	}
	return NULL;
}

/* The client's address, for the limit on failed logins. */
static void
s_peer(struct evhttp_request *req, char *buf, size_t size)
{
	struct evhttp_connection *c = evhttp_request_get_connection(req);
	char *addr = NULL;
	ev_uint16_t port;

	if (c != NULL)
		evhttp_connection_get_peer(c, &addr, &port);
	snprintf(buf, size, "%s", addr != NULL ? addr : "?");
}

/* Whether the Host header names a loopback address. */
static int
s_host_loopback(struct evhttp_request *req)
{
	const char *h = evhttp_find_header(evhttp_request_get_input_headers(
					       req),
	    "Host");
	size_t n;

	if (h == NULL)
		return 1; /* HTTP/1.0 without one: no browser's */
	n = h[0] == '[' ? strcspn(h, "]") + 1 : strcspn(h, ":");
	return (n == 9 && strncmp(h, "127.0.0.1", n) == 0) ||
	    (n == 9 && strncmp(h, "localhost", n) == 0) ||
	    (n == 5 && strncmp(h, "[::1]", n) == 0);
}

/* Whether an Origin header, when there is one, is this host's own. */
static int
s_same_origin(struct evhttp_request *req, char *origin, size_t size)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	const char *o = evhttp_find_header(in, "Origin");
	const char *host = evhttp_find_header(in, "Host");

	snprintf(origin, size, "%s", o != NULL ? o : "");
	if (o == NULL)
		return 1;
	if (host == NULL)
		return 0;
	if (strncmp(o, "http://", 7) == 0)
		o += 7;
	else if (strncmp(o, "https://", 8) == 0)
		o += 8;
	else
		return 0;
	return strcmp(o, host) == 0;
}

/* The API's guard (api.h). */
static int
s_guard(void *arg, struct evhttp_request *req, int locked, int writes,
    err_t *err)
{
	console_t *c = arg;
	char origin[256], cookie[LOGIN_TOKEN_HEX + 2];
	login_who_t who;

	if (writes && !s_same_origin(req, origin, sizeof origin)) {
		err_set(err, ERR_FORBIDDEN,
		    "write: sent from a page of another site (Origin %s)",
		    origin);
		return 403;
	}
	if (!locked) {
		if (!s_host_loopback(req)) {
			err_set(err, ERR_FORBIDDEN,
			    "host: this hub answers only to loopback names");
			return 403;
		}
		return 0;
	}
	if (login_find(c->login, s_cookie(req, cookie, sizeof cookie),
		hlc_wall_ms(), &who, err))
		return err->code == ERR_FORBIDDEN ? 401 : 500;
	if (!writes)
		return 0;
	if (!login_csrf_ok(&who,
		evhttp_find_header(evhttp_request_get_input_headers(req),
		    "X-CSRF-Token"))) {
		err_set(err, ERR_FORBIDDEN,
		    "csrf: missing or wrong X-CSRF-Token header for this session");
		return 403;
	}
	if (strcmp(who.role, "manager") != 0) {
		err_set(err, ERR_FORBIDDEN,
		    "write: %s is a %s; only a manager may change anything",
		    who.user, who.role);
		return 403;
	}
	return 0;
}

/* ---- login ---- */

static void
s_set_cookie(console_t *c, struct evhttp_request *req, const char *value,
    long long max_age)
{
	char h[256];

	snprintf(h, sizeof h,
	    "%s=%s; Path=/; Max-Age=%lld; HttpOnly; SameSite=Strict%s",
	    CONSOLE_COOKIE, value, max_age, c->secure_cookie ? "; Secure" : "");
	evhttp_add_header(evhttp_request_get_output_headers(req), "Set-Cookie",
	    h);
}

/* Whether the request's body is JSON by its Content-Type: a form of
 * another site cannot send one without the browser asking first. */
static int
s_is_json(struct evhttp_request *req)
{
	const char *t = evhttp_find_header(evhttp_request_get_input_headers(
					       req),
	    "Content-Type");

	return t != NULL && strncmp(t, "application/json", 16) == 0;
}

static void
s_login(console_t *c, struct evhttp_request *req, int locked)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t n = evbuffer_get_length(in);
	char addr[128], cookie[LOGIN_TOKEN_HEX + 1], origin[256];
	const char *user, *password;
	long long retry;
	login_who_t who;
	json_t *body;
	err_t err;
	int rc;

	if (!locked) {
		s_error(req, 400, "bad_request",
		    "login: this hub asks for none (its API is open on loopback)");
		return;
	}
	if (!s_is_json(req) || !s_same_origin(req, origin, sizeof origin)) {
		s_error(req, 400, "bad_request",
		    "login: send {\"user\", \"password\"} as application/json from the console");
		return;
	}
	body = json_loadb((const char *)evbuffer_pullup(in, -1), n, 0, NULL);
	user = json_string_value(json_object_get(body, "user"));
	password = json_string_value(json_object_get(body, "password"));
	if (user == NULL || password == NULL || !users_name_valid(user)) {
		json_decref(body);
		s_error(req, 401, "unauthorized",
		    "login: wrong user name or password");
		return;
	}
	s_peer(req, addr, sizeof addr);
	rc = login_open(c->login, addr, user, password, hlc_wall_ms(), cookie,
	    sizeof cookie, &who, &retry, &err);
	/* The password is wiped wherever it was: the parsed copy and the
	 * request's bytes. */
	sodium_memzero((char *)password, strlen(password));
	sodium_memzero(evbuffer_pullup(in, -1), n);
	if (rc) {
		json_decref(body);
		if (retry > 0) {
			char h[32];

			snprintf(h, sizeof h, "%lld", retry);
			evhttp_add_header(evhttp_request_get_output_headers(
					      req),
			    "Retry-After", h);
			s_error(req, 429, "too_many_requests", err.msg);
		} else if (err.code == ERR_FORBIDDEN) {
			s_error(req, 401, "unauthorized", err.msg);
		} else {
			log_warn("console: login: %s", err.msg);
			s_error(req, 500, "internal", err.msg);
		}
		return;
	}
	json_decref(body);
	s_set_cookie(c, req, cookie, login_max_s(c->login));
	sodium_memzero(cookie, sizeof cookie);
	s_json(req, 200,
	    json_pack("{s:b, s:s, s:s, s:s}", "login", 1, "user", who.user,
		"role", who.role, "csrf", who.csrf));
}

static void
s_session(console_t *c, struct evhttp_request *req, int locked)
{
	char cookie[LOGIN_TOKEN_HEX + 2];
	login_who_t who;
	err_t err;

	if (!locked) {
		s_json(req, 200,
		    json_pack("{s:b, s:n, s:s, s:s}", "login", 0, "user",
			"role", "manager", "csrf", ""));
		return;
	}
	if (login_find(c->login, s_cookie(req, cookie, sizeof cookie),
		hlc_wall_ms(), &who, &err)) {
		s_error(req, err.code == ERR_FORBIDDEN ? 401 : 500,
		    err.code == ERR_FORBIDDEN ? "unauthorized" : "internal",
		    err.msg);
		return;
	}
	s_json(req, 200,
	    json_pack("{s:b, s:s, s:s, s:s}", "login", 1, "user", who.user,
		"role", who.role, "csrf", who.csrf));
}

static void
s_logout(console_t *c, struct evhttp_request *req, int locked)
{
	char cookie[LOGIN_TOKEN_HEX + 2];
	const char *value;
	login_who_t who;
	err_t err;

	if (!locked) {
		s_json(req, 200, json_pack("{s:b}", "login", 0));
		return;
	}
	value = s_cookie(req, cookie, sizeof cookie);
	if (login_find(c->login, value, hlc_wall_ms(), &who, &err)) {
		s_error(req, 401, "unauthorized", err.msg);
		return;
	}
	if (!login_csrf_ok(&who,
		evhttp_find_header(evhttp_request_get_input_headers(req),
		    "X-CSRF-Token"))) {
		s_error(req, 403, "forbidden",
		    "csrf: missing or wrong X-CSRF-Token header for this session");
		return;
	}
	login_close(c->login, value);
	s_set_cookie(c, req, "", 0);
	s_json(req, 200, json_pack("{s:b}", "login", 0));
}

/* ---- files ---- */

static const char *
s_type(const char *name)
{
	const char *dot = strrchr(name, '.');

	if (dot == NULL)
		return "application/octet-stream";
	if (strcmp(dot, ".html") == 0)
		return "text/html; charset=utf-8";
	if (strcmp(dot, ".css") == 0)
		return "text/css; charset=utf-8";
	if (strcmp(dot, ".js") == 0)
		return "text/javascript; charset=utf-8";
	if (strcmp(dot, ".svg") == 0)
		return "image/svg+xml";
	if (strcmp(dot, ".png") == 0)
		return "image/png";
	return "application/octet-stream";
}

/* Reads path (at most CONSOLE_FILE_MAX bytes) into *data (caller frees):
 * 0, or -1 with err. */
static int
s_read(const char *path, char **data, size_t *len, err_t *err)
{
	FILE *f = fopen(path, "rb");
	struct stat st;

	*data = NULL;
	if (f == NULL)
		return err_set(err, ERR_NOT_FOUND, "read %s: %s", path,
		    strerror(errno));
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > CONSOLE_FILE_MAX) {
		fclose(f);
		return err_set(err, ERR_NOT_FOUND,
		    "read %s: not a file of at most %d bytes", path,
		    CONSOLE_FILE_MAX);
	}
	if ((*data = malloc((size_t)st.st_size + 1)) == NULL)
		fatal("console: out of memory");
	*len = fread(*data, 1, (size_t)st.st_size, f);
	fclose(f);
	if (*len != (size_t)st.st_size) {
		free(*data);
		*data = NULL;
		return err_set(err, ERR_INTERNAL, "read %s: short read", path);
	}
	return 0;
}

/* Serves the file of the console named name (no slash in it). */
static void
s_file(console_t *c, struct evhttp_request *req, const char *name)
{
	char path[2 * CONF_VALUE_MAX], *data = NULL;
	size_t i, len = 0;
	err_t err;

	if (strcmp(name, "chart.js") == 0 || c->dir[0] != '\0') {
		if (strcmp(name, "chart.js") == 0)
			snprintf(path, sizeof path, "%s", c->chartjs);
		else
			snprintf(path, sizeof path, "%s/%s", c->dir, name);
		if (s_read(path, &data, &len, &err)) {
			log_warn("console: %s", err.msg);
			s_error(req, 404, "not_found", err.msg);
			return;
		}
		s_send(req, 200, s_type(name), data, len);
		free(data);
		return;
	}
	for (i = 0; i < sizeof s_console_files / sizeof s_console_files[0]; i++)
		if (strcmp(s_console_files[i].name, name) == 0) {
			s_send(req, 200, s_type(name), s_console_files[i].data,
			    s_console_files[i].size);
			return;
		}
	s_error(req, 404, "not_found", "console: no such file");
}

/* The API's pages hook (api.h): everything not under /v1/. */
static void
s_pages(void *arg, struct evhttp_request *req)
{
	console_t *c = arg;
	const char *path = evhttp_uri_get_path(
	    evhttp_request_get_evhttp_uri(req));
	enum evhttp_cmd_type m = evhttp_request_get_command(req);
	int locked = api_locked(c->api);
	const char *name;

	if (path == NULL)
		path = "/";
	if (strcmp(path, "/console/login") == 0 && m == EVHTTP_REQ_POST)
		s_login(c, req, locked);
	else if (strcmp(path, "/console/logout") == 0 && m == EVHTTP_REQ_POST)
		s_logout(c, req, locked);
	else if (strcmp(path, "/console/session") == 0 && m == EVHTTP_REQ_GET)
		s_session(c, req, locked);
	else if (m != EVHTTP_REQ_GET)
		s_error(req, 405, "method_not_allowed",
		    "console: method not allowed here");
	else if (strcmp(path, "/") == 0 || strcmp(path, "/index.html") == 0)
		s_file(c, req, "index.html");
	else if (strncmp(path, "/console/", 9) == 0 &&
	    strchr((name = path + 9), '/') == NULL && name[0] != '.' &&
	    name[0] != '\0')
		s_file(c, req, name);
	else
		s_error(req, 404, "not_found", "console: no such page");
}

/* A yes/no setting: 0 with *out, or -1 with err naming it. */
static int
s_yes_no(const conf_t *conf, const char *name, int dflt, int *out, err_t *err)
{
	const char *v = conf_get(conf, name, NULL);

	if (v == NULL)
		*out = dflt;
	else if (strcmp(v, "yes") == 0)
		*out = 1;
	else if (strcmp(v, "no") == 0)
		*out = 0;
	else
		return err_set(err, ERR_BAD_REQUEST,
		    "config %s: '%s' is not yes or no", name, v);
	return 0;
}

int
console_check(const conf_t *conf, err_t *err)
{
	login_conf_t lc;
	int on, secure;

	return s_yes_no(conf, "console", 1, &on, err) ||
	    s_yes_no(conf, "cookie_secure", 0, &secure, err) ||
	    login_conf_read(conf, &lc, err);
}

/* GET /v1/sites/sync (sitesync.c) with the daemon's server. */
static int
s_sites_sync(void *arg, const json_t *query, json_t **out, err_t *err)
{
	console_t *c = arg;

	(void)query;
	return sitesync_list(c->store, c->server, c->silent_after_ms,
	    hlc_wall_ms(), out, err);
}

console_t *
console_new(store_t *store, server_t *server, api_t *api, const conf_t *conf,
    uint64_t silent_after_ms, err_t *err)
{
	console_t *c;
	login_conf_t lc;
	int on, secure;
	struct stat st;

	if (s_yes_no(conf, "console", 1, &on, err) ||
	    s_yes_no(conf, "cookie_secure", 0, &secure, err) ||
	    login_conf_read(conf, &lc, err))
		return NULL;
	if ((c = calloc(1, sizeof *c)) == NULL)
		fatal("console: out of memory");
	c->store = store;
	c->server = server;
	c->api = api;
	c->secure_cookie = secure;
	c->silent_after_ms = silent_after_ms;
	snprintf(c->dir, sizeof c->dir, "%s",
	    conf_get(conf, "console_dir", ""));
	snprintf(c->chartjs, sizeof c->chartjs, "%s",
	    conf_get(conf, "console_chartjs", CONSOLE_CHARTJS_DEFAULT));
	api_add_get(api, "/v1/sites/sync", s_sites_sync, c);
	if (!on) {
		log_info("console: off (console=no in the config)");
		return c;
	}
	c->login = login_new(store, &lc);
	api_set_guard(api, s_guard, c);
	api_set_pages(api, s_pages, c);
	if (stat(c->chartjs, &st) != 0)
		log_warn(
		    "console: %s: %s; charts show as tables (apt-get install libjs-chart.js)",
		    c->chartjs, strerror(errno));
	if (c->dir[0] != '\0')
		log_info("console: served from %s", c->dir);
	return c;
}

void
console_destroy(console_t **self_p)
{
	if (self_p == NULL || *self_p == NULL)
		return;
	login_destroy(&(*self_p)->login);
	free(*self_p);
	*self_p = NULL;
}
