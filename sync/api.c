/* api: HTTP/JSON resources of a replica (see api.h). */
#include "api.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "conf.h"
#include "log.h"
#include "stock.h"

#define API_MAX_BODY (1024 * 1024)

struct api {
	struct evhttp *http;
	store_t *store;
	char role[16];
	char token[128];
	api_status_fn status_fn;
	api_write_fn write_fn;
	void *hook_arg;
};

static const char *
s_code_name(err_code_t code)
{
	switch (code) {
	case ERR_BAD_REQUEST: return "bad_request";
	case ERR_FORBIDDEN: return "forbidden";
	case ERR_NOT_FOUND: return "not_found";
	case ERR_CONFLICT: return "conflict";
	case ERR_TOO_LARGE: return "too_large";
	case ERR_UNPROCESSABLE: return "unprocessable";
	case ERR_UPGRADE: return "upgrade_required";
	case ERR_UNAVAILABLE: return "unavailable";
	default: return "internal";
	}
}

/* Sends body (stolen) with status. */
static void
s_reply(struct evhttp_request *req, int status, json_t *body)
{
	struct evbuffer *buf = evbuffer_new();
	char *text = json_dumps(body, JSON_COMPACT);

	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "application/json");
	evbuffer_add(buf, text, strlen(text));
	evbuffer_add(buf, "\n", 1);
	evhttp_send_reply(req, status, NULL, buf);
	evbuffer_free(buf);
	free(text);
	json_decref(body);
}

static void
s_reply_error(struct evhttp_request *req, const err_t *err)
{
	int status = err->code >= 400 && err->code <= 599 ? (int)err->code : 500;

	s_reply(req, status, json_pack("{s:{s:s, s:s}}", "error", "code",
	    s_code_name(err->code), "message", err->msg));
}

/* Parses the request body as a JSON object. */
static json_t *
s_body(struct evhttp_request *req, err_t *err)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t n = evbuffer_get_length(in);
	json_error_t jerr;
	json_t *v;

	if (n == 0) {
		err_set(err, ERR_BAD_REQUEST, "body: empty, expected JSON");
		return NULL;
	}
	v = json_loadb((const char *)evbuffer_pullup(in, -1), n,
	    JSON_REJECT_DUPLICATES, &jerr);
	if (v == NULL) {
		err_set(err, ERR_BAD_REQUEST, "body: invalid JSON at line %d: %s",
		    jerr.line, jerr.text);
		return NULL;
	}
	if (!json_is_object(v)) {
		json_decref(v);
		err_set(err, ERR_BAD_REQUEST, "body: must be a JSON object");
		return NULL;
	}
	return v;
}

static const char *
s_query(struct evkeyvalq *q, const char *name)
{
	const char *v = evhttp_find_header(q, name);

	return v != NULL && v[0] != '\0' ? v : NULL;
}

static void
s_get_status(api_t *api, struct evhttp_request *req)
{
	store_t *st = api->store;
	int64_t cursor = 0, seq = 0;
	json_t *o;

	store_meta_get_int(st, "cursor", &cursor);
	store_meta_get_int(st, "seq", &seq);
	o = json_pack("{s:s, s:s, s:I, s:I, s:I}", "site", store_site(st),
	    "role", api->role, "cursor", (json_int_t)cursor,
	    "last_seq", (json_int_t)seq,
	    "quarantined", (json_int_t)store_quarantine_count(st));
	if (api->status_fn != NULL)
		api->status_fn(api->hook_arg, o);
	s_reply(req, 200, o);
}

static void
s_get_stock(api_t *api, struct evhttp_request *req, struct evkeyvalq *q)
{
	s_reply(req, 200, stock_list(api->store, s_query(q, "site"),
	    s_query(q, "sku")));
}

static void
s_post_movement(api_t *api, struct evhttp_request *req)
{
	err_t err;
	json_t *body, *out;
	int created;

	err_clear(&err);
	body = s_body(req, &err);
	if (body == NULL || stock_record(api->store, body, &out, &created,
	    &err)) {
		json_decref(body);
		s_reply_error(req, &err);
		return;
	}
	json_decref(body);
	if (created && api->write_fn != NULL)
		api->write_fn(api->hook_arg);
	s_reply(req, created ? 201 : 200, out);
}

static int
s_authorized(api_t *api, struct evhttp_request *req)
{
	const char *auth;

	if (api->token[0] == '\0')
		return 1;
	auth = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Authorization");
	return auth != NULL && strncmp(auth, "Bearer ", 7) == 0 &&
	    strcmp(auth + 7, api->token) == 0;
}

static void
s_dispatch(struct evhttp_request *req, void *arg)
{
	api_t *api = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = evhttp_uri_get_path(uri);
	const char *query = evhttp_uri_get_query(uri);
	enum evhttp_cmd_type method = evhttp_request_get_command(req);
	struct evkeyvalq q;
	err_t err;

	TAILQ_INIT(&q);
	if (query != NULL && evhttp_parse_query_str(query, &q) != 0) {
		err_set(&err, ERR_BAD_REQUEST, "query: malformed");
		s_reply_error(req, &err);
		return;
	}
	if (!s_authorized(api, req)) {
		err_set(&err, ERR_FORBIDDEN, "%s: missing or wrong bearer token",
		    path ? path : "/");
		s_reply_error(req, &err);
	} else if (path == NULL) {
		err_set(&err, ERR_NOT_FOUND, "no path");
		s_reply_error(req, &err);
	} else if (strcmp(path, "/v1/status") == 0 && method == EVHTTP_REQ_GET) {
		s_get_status(api, req);
	} else if (strcmp(path, "/v1/stock") == 0 && method == EVHTTP_REQ_GET) {
		s_get_stock(api, req, &q);
	} else if (strcmp(path, "/v1/stock/movements") == 0 &&
	    method == EVHTTP_REQ_POST) {
		s_post_movement(api, req);
	} else {
		err_set(&err, ERR_NOT_FOUND, "%s: no such resource or method",
		    path);
		s_reply_error(req, &err);
	}
	evhttp_clear_headers(&q);
}

api_t *
api_new(struct event_base *base, store_t *store, const char *role)
{
	api_t *api = calloc(1, sizeof *api);

	if (api == NULL || (api->http = evhttp_new(base)) == NULL)
		fatal("api: out of memory");
	api->store = store;
	snprintf(api->role, sizeof api->role, "%s", role);
	evhttp_set_max_body_size(api->http, API_MAX_BODY);
	evhttp_set_allowed_methods(api->http, EVHTTP_REQ_GET |
	    EVHTTP_REQ_POST | EVHTTP_REQ_PUT | EVHTTP_REQ_PATCH |
	    EVHTTP_REQ_DELETE);
	evhttp_set_gencb(api->http, s_dispatch, api);
	return api;
}

void
api_set_hooks(api_t *api, api_status_fn status, api_write_fn wrote,
    void *arg)
{
	api->status_fn = status;
	api->write_fn = wrote;
	api->hook_arg = arg;
}

int
api_bind(api_t *api, const char *hostport, const char *token,
    int *bound_port, err_t *err)
{
	char host[256];
	int port;
	struct evhttp_bound_socket *bs;
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;

	if (conf_split_hostport(hostport, host, sizeof host, &port, err))
		return err_prefix(err, "http");
	if (strcmp(host, "127.0.0.1") != 0 && strcmp(host, "localhost") != 0 &&
	    strcmp(host, "::1") != 0 && (token == NULL || token[0] == '\0'))
		return err_set(err, ERR_BAD_REQUEST,
		    "http %s: binding beyond loopback needs token= in the config",
		    hostport);
	snprintf(api->token, sizeof api->token, "%s", token ? token : "");
	bs = evhttp_bind_socket_with_handle(api->http, host, (uint16_t)port);
	if (bs == NULL)
		return err_set(err, ERR_UNAVAILABLE,
		    "http %s: cannot bind (in use or not an address here)",
		    hostport);
	if (getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&ss,
	    &len) != 0)
		return err_set(err, ERR_INTERNAL, "http %s: getsockname failed",
		    hostport);
	*bound_port = ss.ss_family == AF_INET6 ?
	    ntohs(((struct sockaddr_in6 *)&ss)->sin6_port) :
	    ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return 0;
}

void
api_destroy(api_t **self_p)
{
	if (self_p == NULL || *self_p == NULL)
		return;
	evhttp_free((*self_p)->http);
	free(*self_p);
	*self_p = NULL;
}
