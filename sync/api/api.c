/* api: HTTP/JSON resources of a replica (see api.h). */
#include "api.h"

#include <arpa/inet.h>
#include <assert.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "conf.h"
#include "group.h"
#include "log.h"
#include "text.h"

#include "aftersales.h"
#include "alert.h"
#include "approval.h"
#include "catalog.h"
#include "customer.h"
#include "fulfil.h"
#include "invoice.h"
#include "order.h"
#include "payment.h"
#include "quota.h"
#include "rec.h"
#include "report.h"
#include "req.h"
#include "stock.h"
#include "transfer.h"

#define API_MAX_BODY (1024 * 1024)
#define API_TOKEN_HASH crypto_generichash_BYTES /* BLAKE2b-256 */

struct api {
	struct evhttp *http;
	struct event_base *base; /* borrowed; NULL: api_call only */
	store_t *store;
	group_t *group; /* HTTP writes' group commit, or NULL (api.h) */
	char role[16];
	/* The bearer token, kept as its hash only: has_token says whether
	 * one was configured. Wiped by api_destroy. */
	int has_token;
	unsigned char token_hash[API_TOKEN_HASH];
	api_status_fn status_fn;
	api_write_fn write_fn;
	api_alerts_fn alerts_fn;
	void *hook_arg;
	/* Resources only the program serves (the hub's sites, its
	 * allocation rules): a GET (fn), or a PUT (put) with a body. */
	struct {
		const char *path;
		api_get_fn fn;
		api_put_fn put;
		void *arg;
	} gets[API_GETS_MAX];
	int ngets;
	/* The hub's console: who may call without a token, and its pages
	 * (api.h). */
	api_guard_fn guard_fn;
	void *guard_arg;
	api_page_fn page_fn;
	void *page_arg;
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
	case ERR_METHOD: return "method_not_allowed";
	case ERR_UNAVAILABLE: return "unavailable";
	default: return "internal";
	}
}

/* Sends body (stolen) with status. */
static void
s_reply(struct evhttp_request *req, int status, json_t *body)
{
	struct evbuffer *buf = evbuffer_new();
	char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;

	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "application/json");
	if (text == NULL) {
		/* Never expected (answers are built from valid text), but a
		 * daemon must not die on it. */
		status = 500;
		text = strdup("{\"error\":{\"code\":\"internal\","
			      "\"message\":\"answer could not be encoded\"}}");
	}
	evbuffer_add(buf, text, strlen(text));
	evbuffer_add(buf, "\n", 1);
	evhttp_send_reply(req, status, NULL, buf);
	evbuffer_free(buf);
	free(text);
	json_decref(body);
}

/* ---- resources ---- */

/* One call of a resource, from HTTP or from the command line. */
typedef struct {
	api_t *api;
	store_t *store;
	const char *args[2]; /* the path's * segments */
	const json_t *query; /* object of strings */
	const json_t *body;  /* object, or NULL without a body */
} call_t;

/* The resources the API serves itself rather than a domain module: they
 * add what the program knows (its session, its sites' disks). */
typedef int (*handler_t)(call_t *c, json_t **out, err_t *err);

static int
h_status(call_t *c, json_t **out, err_t *err)
{
	store_t *st = c->store;
	int64_t cursor = 0, seq = 0;
	ckpt_health_t health;

	if (store_meta_get_int(st, "cursor", 0, &cursor, err) ||
	    store_meta_get_int(st, "seq", 0, &seq, err))
		return err_prefix(err, "status");
	*out = json_pack("{s:s, s:s, s:I, s:I, s:I}", "site", store_site(st),
	    "role", c->api->role, "cursor", (json_int_t)cursor, "last_seq",
	    (json_int_t)seq, "quarantined",
	    (json_int_t)store_quarantine_count(st));
	store_health(st, &health);
	json_object_set_new(*out, "disk",
	    ckpt_health_json(&health, store_path(st)));
	if (c->api->group != NULL) {
		group_stats_t g;

		group_stats(c->api->group, &g);
		json_object_set_new(*out, "group_commit",
		    json_pack("{s:I, s:I, s:I, s:I}", "commits",
			(json_int_t)g.commits, "writes", (json_int_t)g.writes,
			"failed", (json_int_t)g.failed, "largest",
			(json_int_t)g.largest));
	}
	if (c->api->status_fn != NULL)
		c->api->status_fn(c->api->hook_arg, *out);
	return 0;
}

static int
h_alerts(call_t *c, json_t **out, err_t *err)
{
	const char *kind = req_query(c->query, "kind");
	json_t *items, *it;
	size_t i;

	if (alert_list(c->store, c->query, out, err))
		return -1;
	if (c->api->alerts_fn == NULL)
		return 0;
	/* The program's own (a hub's sites' disks and twins), filtered by
	 * kind as the domain's were. */
	items = json_object_get(*out, "items");
	c->api->alerts_fn(c->api->hook_arg, items);
	for (i = json_array_size(items); kind != NULL && i-- > 0;) {
		it = json_array_get(items, i);
		if (strcmp(json_string_value(json_object_get(it, "kind")),
			kind) != 0)
			json_array_remove(items, i);
	}
	return 0;
}

/* What a route calls, by kind (rec.h): the kind says which arguments the
 * function takes and how a success is answered. */
typedef enum {
	ROUTE_OWN,    /* handler_t: the API's own */
	ROUTE_LIST,   /* rec_list_fn(query): 200 */
	ROUTE_GET,    /* rec_get_fn(segment 1): 200 */
	ROUTE_CREATE, /* rec_create_fn(body): 201, or 200 for a retry */
	ROUTE_CHANGE, /* rec_change_fn(segment 1, body): 200 */
	ROUTE_ADD,    /* rec_change_fn(segment 1, body): 201 (adds to it) */
	ROUTE_PUT,    /* rec_put_fn(segments 1 and 2, body): 200 */
} route_kind_t;

/* The routes: method, path with * for one segment, kind and function.
 * Routes with a body write; after a success the program pushes. */
static const struct {
	const char *method;
	const char *path;
	route_kind_t kind;
	union {
		handler_t own;
		rec_list_fn list;
		rec_get_fn get;
		rec_create_fn create;
		rec_change_fn change;
		rec_put_fn put;
	} fn;
} s_routes[] = {
	{ "GET", "/v1/status", ROUTE_OWN, { .own = h_status } },
	{ "GET", "/v1/products", ROUTE_LIST, { .list = catalog_products } },
	{ "GET", "/v1/products/*", ROUTE_GET, { .get = catalog_product } },
	{ "PUT", "/v1/products/*", ROUTE_CHANGE,
	    { .change = catalog_put_product } },
	{ "GET", "/v1/prices", ROUTE_LIST, { .list = catalog_prices } },
	{ "PUT", "/v1/prices/*/*", ROUTE_PUT, { .put = catalog_put_price } },
	{ "PUT", "/v1/safety-stock/*/*", ROUTE_PUT,
	    { .put = catalog_put_safety } },
	/* Approvals of special prices (approval.h); the PUT answers 200. */
	{ "GET", "/v1/approval/threshold", ROUTE_LIST,
	    { .list = approval_thresholds } },
	{ "PUT", "/v1/approval/threshold", ROUTE_CREATE,
	    { .create = approval_put_threshold } },
	{ "GET", "/v1/approvals", ROUTE_LIST, { .list = approval_list } },
	{ "POST", "/v1/approvals/*/decision", ROUTE_CHANGE,
	    { .change = approval_decide } },
	{ "GET", "/v1/customers", ROUTE_LIST, { .list = customer_list } },
	{ "POST", "/v1/customers", ROUTE_CREATE,
	    { .create = customer_create } },
	{ "GET", "/v1/customers/*", ROUTE_GET, { .get = customer_get } },
	{ "PATCH", "/v1/customers/*", ROUTE_CHANGE,
	    { .change = customer_patch } },
	{ "GET", "/v1/customers/*/orders", ROUTE_GET,
	    { .get = order_of_customer } },
	{ "GET", "/v1/orders", ROUTE_LIST, { .list = order_list } },
	{ "POST", "/v1/orders", ROUTE_CREATE, { .create = order_create } },
	{ "GET", "/v1/orders/*", ROUTE_GET, { .get = order_get } },
	{ "POST", "/v1/orders/*/transition", ROUTE_CHANGE,
	    { .change = order_transition } },
	{ "POST", "/v1/orders/*/release", ROUTE_CHANGE,
	    { .change = fulfil_release } },
	{ "GET", "/v1/payments", ROUTE_LIST, { .list = payment_list } },
	{ "POST", "/v1/payments", ROUTE_CREATE, { .create = payment_create } },
	/* stock_list's rows, with the quotas' rights and promises. */
	{ "GET", "/v1/stock", ROUTE_LIST, { .list = quota_stock_list } },
	{ "POST", "/v1/stock/movements", ROUTE_CREATE,
	    { .create = stock_record } },
	{ "POST", "/v1/stock/transfers", ROUTE_CREATE,
	    { .create = stock_transfer } },
	{ "POST", "/v1/stock/counts", ROUTE_CREATE, { .create = stock_count } },
	{ "GET", "/v1/transfers", ROUTE_LIST, { .list = transfer_list } },
	{ "POST", "/v1/transfers", ROUTE_CREATE,
	    { .create = transfer_create } },
	{ "GET", "/v1/transfers/*", ROUTE_GET, { .get = transfer_get } },
	{ "POST", "/v1/transfers/*/ship", ROUTE_CHANGE,
	    { .change = transfer_ship } },
	{ "POST", "/v1/transfers/*/receive", ROUTE_CHANGE,
	    { .change = transfer_receive } },
	{ "POST", "/v1/transfers/*/reconcile", ROUTE_CHANGE,
	    { .change = transfer_reconcile } },
	{ "GET", "/v1/quotas", ROUTE_LIST, { .list = quota_list } },
	{ "POST", "/v1/quotas", ROUTE_CREATE, { .create = quota_grant } },
	{ "GET", "/v1/quotas/*", ROUTE_GET, { .get = quota_get } },
	{ "POST", "/v1/quotas/*/recall", ROUTE_CHANGE,
	    { .change = quota_recall } },
	{ "POST", "/v1/quotas/*/return", ROUTE_CHANGE,
	    { .change = quota_return } },
	{ "POST", "/v1/invoices", ROUTE_CREATE, { .create = invoice_create } },
	{ "GET", "/v1/invoices/*", ROUTE_GET, { .get = invoice_get } },
	{ "POST", "/v1/invoices/*/transition", ROUTE_CHANGE,
	    { .change = invoice_transition } },
	{ "GET", "/v1/cases", ROUTE_LIST, { .list = case_list } },
	{ "POST", "/v1/cases", ROUTE_CREATE, { .create = case_create } },
	{ "GET", "/v1/cases/*", ROUTE_GET, { .get = case_get } },
	{ "PATCH", "/v1/cases/*", ROUTE_CHANGE, { .change = case_patch } },
	{ "POST", "/v1/cases/*/transition", ROUTE_CHANGE,
	    { .change = case_transition } },
	{ "POST", "/v1/cases/*/comments", ROUTE_ADD,
	    { .change = case_comment } },
	{ "GET", "/v1/alerts", ROUTE_OWN, { .own = h_alerts } },
	{ "GET", "/v1/reports/sales", ROUTE_LIST, { .list = report_sales } },
	{ "GET", "/v1/reports/stock", ROUTE_LIST, { .list = report_stock } },
	{ "GET", "/v1/reports/receivables", ROUTE_LIST,
	    { .list = invoice_receivables } },
};

#define ROUTES (sizeof s_routes / sizeof s_routes[0])

/* Whether route r writes (takes a body, and the program pushes after). */
static int
s_writes(size_t r)
{
	return s_routes[r].kind >= ROUTE_CREATE;
}

/* Calls route r; *status is the success status of its kind. */
static int
s_call(size_t r, call_t *c, json_t **out, int *status, err_t *err)
{
	int created = 1, rc = -1;

	*status = 200;
	switch (s_routes[r].kind) {
	case ROUTE_OWN: rc = s_routes[r].fn.own(c, out, err); break;
	case ROUTE_LIST:
		rc = s_routes[r].fn.list(c->store, c->query, out, err);
		break;
	case ROUTE_GET:
		rc = s_routes[r].fn.get(c->store, c->args[0], out, err);
		break;
	case ROUTE_CREATE:
		rc = s_routes[r].fn.create(c->store, c->body, out, &created,
		    err);
		*status = created ? 201 : 200;
		break;
	case ROUTE_CHANGE:
	case ROUTE_ADD:
		rc = s_routes[r].fn.change(c->store, c->args[0], c->body, out,
		    err);
		if (s_routes[r].kind == ROUTE_ADD)
			*status = 201;
		break;
	case ROUTE_PUT:
		rc = s_routes[r].fn.put(c->store, c->args[0], c->args[1],
		    c->body, out, err);
		break;
	}
	return rc;
}

#define SEGMENT_MAX 128

static int
s_count_stars(const char *pattern)
{
	int n = 0;

	for (; *pattern != '\0'; pattern++)
		n += *pattern == '*';
	return n;
}

/* Matches path against pattern, copying * segments into args. */
static int
s_match(const char *pattern, const char *path, char args[2][SEGMENT_MAX])
{
	int n = 0;

	while (*pattern != '\0' && *path != '\0') {
		if (*pattern == '*') {
			size_t len = strcspn(path, "/");

			if (len == 0 || len >= SEGMENT_MAX || n == 2)
				return 0;
			memcpy(args[n], path, len);
			args[n][len] = '\0';
			n++;
			path += len;
			pattern++;
		} else if (*pattern++ != *path++) {
			return 0;
		}
	}
	return *pattern == '\0' && *path == '\0';
}

/* The route of method and path: its index, with c's path arguments set
 * (decoded into decoded, which must outlive c); or -1, with err set when
 * the path or the missing body is refused. *path_known says whether any
 * route has this path. */
static int
s_route(const char *method, const char *path, const json_t *body, call_t *c,
    char decoded[2][SEGMENT_MAX], int *path_known, err_t *err)
{
	char args[2][SEGMENT_MAX];
	size_t i;
	int k, nargs;

	*path_known = 0;
	for (i = 0; i < ROUTES; i++) {
		if (!s_match(s_routes[i].path, path, args))
			continue;
		*path_known = 1;
		if (strcmp(s_routes[i].method, method) != 0)
			continue;
		nargs = s_count_stars(s_routes[i].path);
		for (k = 0; k < nargs; k++) {
			char *d = evhttp_uridecode(args[k], 0, NULL);

			snprintf(decoded[k], SEGMENT_MAX, "%s", d ? d : "");
			free(d);
			c->args[k] = decoded[k];
			if (!text_ok(decoded[k]))
				return err_set(err, ERR_BAD_REQUEST,
				    "path: segment %d is not UTF-8 text",
				    k + 1);
		}
		if (s_writes(i) && body == NULL)
			return err_set(err, ERR_BAD_REQUEST,
			    "body: expected a JSON object");
		return (int)i;
	}
	return -1;
}

/* Runs route r for c: 0 with *out (caller owns) and the success status,
 * or -1 with err and *out NULL. */
static int
s_run_route(api_t *api, size_t r, call_t *c, json_t **out, int *status,
    err_t *err)
{
	int rc;

	store_read_clear(api->store);
	rc = s_call(r, c, out, status, err);
	/* A read that failed is a storage failure, whatever the handler
	 * made of its missing rows (a 404, an empty list). */
	if (store_read_error(api->store, err))
		rc = -1;
	if (rc != 0) {
		json_decref(*out);
		*out = NULL;
	}
	return rc;
}

/* The answer to a failed method path: the error object into *out (caller
 * owns); returns its status. An err without a code says the path or its
 * method is unknown. */
static int
s_fail(const char *method, const char *path, int path_known, err_t *err,
    json_t **out)
{
	int status;

	if (err->code == ERR_OK) {
		if (path_known)
			err_set(err, ERR_METHOD,
			    "%s %s: method not allowed here", method, path);
		else
			err_set(err, ERR_NOT_FOUND, "%s: no such resource",
			    path);
	}
	text_clean(err->msg);
	status = err->code >= 400 && err->code <= 599 ? (int)err->code : 500;
	/* A till is told; whoever keeps the machine must see it too (a full
	 * disk, a failed read). */
	if (status >= 500)
		log_warn("%s %s: %d %s", method, path, status, err->msg);
	*out = json_pack("{s:{s:s, s:s}}", "error", "code",
	    s_code_name(err->code), "message", err->msg);
	return status;
}

int
api_call(api_t *api, const char *method, const char *path, const json_t *query,
    const json_t *body, json_t **out)
{
	char decoded[2][SEGMENT_MAX];
	int status = 200, path_known, r, i;
	err_t err;
	call_t c;

	err_clear(&err);
	*out = NULL;
	memset(&c, 0, sizeof c);
	c.api = api;
	c.store = api->store;
	c.query = query;
	c.body = body;
	r = s_route(method, path, body, &c, decoded, &path_known, &err);
	if (r >= 0 &&
	    s_run_route(api, (size_t)r, &c, out, &status, &err) == 0) {
		if (s_writes((size_t)r) && api->write_fn != NULL)
			api->write_fn(api->hook_arg);
		return status;
	}
	for (i = 0; r < 0 && err.code == ERR_OK && i < api->ngets; i++) {
		if (strcmp(api->gets[i].path, path) != 0)
			continue;
		path_known = 1;
		if (strcmp(method, api->gets[i].put != NULL ? "PUT" : "GET") !=
		    0)
			continue;
		if (api->gets[i].put != NULL) {
			if (body == NULL) {
				err_set(&err, ERR_BAD_REQUEST,
				    "body: expected a JSON object");
				break;
			}
			if (api->gets[i].put(api->gets[i].arg, body, out,
				&err) != 0)
				break;
			return status;
		}
		if (api->gets[i].fn(api->gets[i].arg, query, out, &err) != 0)
			break;
		return status;
	}
	json_decref(*out);
	return s_fail(method, path, path_known, &err, out);
}

/* ---- HTTP ---- */

static const char *
s_method(enum evhttp_cmd_type m)
{
	switch (m) {
	case EVHTTP_REQ_GET: return "GET";
	case EVHTTP_REQ_POST: return "POST";
	case EVHTTP_REQ_PUT: return "PUT";
	case EVHTTP_REQ_PATCH: return "PATCH";
	case EVHTTP_REQ_DELETE: return "DELETE";
	default: return "OTHER";
	}
}

/* The offset of the first of the n bytes of token outside visible ASCII
 * (! to ~), or n when there is none. */
static size_t
s_token_bad_byte(const char *token, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)token[i] < '!' ||
		    (unsigned char)token[i] > '~')
			break;
	return i;
}

/* BLAKE2b-256 of the n bytes of token into out: what the api keeps of its
 * token, and what it compares a presented one by. */
static void
s_token_hash(const char *token, size_t n, unsigned char out[API_TOKEN_HASH])
{
	int rc = crypto_generichash(out, API_TOKEN_HASH,
	    (const unsigned char *)token, n, NULL, 0);

	assert(rc == 0); /* fails only on sizes out of BLAKE2b's range */
	(void)rc;
}

/* Whether req may be served: always without a token; with one, only when
 * it has exactly one Authorization header, and that reads "Bearer ", one
 * space, then 1 to API_TOKEN_MAX bytes of visible ASCII whose hash is the
 * token's. The syntax checks reveal nothing of the token; the one
 * comparison that does is of two fixed-size hashes, in constant time, so
 * neither the token's length nor how much of it matched shows in the
 * timing. (libevent strips spaces and tabs around a header's value before
 * we see it, as HTTP says: they are not part of the value.) */
static int
s_authorized(api_t *api, struct evhttp_request *req)
{
	struct evkeyvalq *headers = evhttp_request_get_input_headers(req);
	struct evkeyval *h;
	const char *auth = NULL;
	unsigned char presented[API_TOKEN_HASH];
	size_t n;
	int ok;

	if (!api->has_token)
		return 1;
	TAILQ_FOREACH(h, headers, next) {
		if (evutil_ascii_strcasecmp(h->key, "Authorization") != 0)
			continue;
		if (auth != NULL)
			return 0; /* two of them: which would we believe? */
		auth = h->value;
	}
	if (auth == NULL || strncmp(auth, "Bearer ", 7) != 0)
		return 0;
	auth += 7;
	n = strlen(auth);
	if (n == 0 || n > API_TOKEN_MAX || s_token_bad_byte(auth, n) != n)
		return 0;
	s_token_hash(auth, n, presented);
	ok = sodium_memcmp(presented, api->token_hash, API_TOKEN_HASH) == 0;
	sodium_memzero(presented, sizeof presented);
	return ok;
}

static void
s_error_reply(struct evhttp_request *req, int status, const char *code,
    const char *msg)
{
	char text[ERR_MSG_MAX];

	snprintf(text, sizeof text, "%s", msg);
	text_clean(text);
	s_reply(req, status,
	    json_pack("{s:{s:s, s:s}}", "error", "code", code, "message",
		text));
}

/* An HTTP write waiting for its group's commit (api_group_writes). */
typedef struct {
	api_t *api;
	struct evhttp_request *req; /* answered by s_pending_done */
	size_t route;
	call_t c; /* its args point into decoded */
	char decoded[2][SEGMENT_MAX];
	const char *method; /* a literal (s_method) */
	char *path;
	json_t *query, *body; /* owned */
	json_t *out;	      /* the answer once it ran, owned */
	int status;
} pending_t;

/* In the group's transaction (group.h): runs the write's route. */
static int
s_pending_run(void *arg, store_t *store, err_t *err)
{
	pending_t *p = arg;

	(void)store;
	json_decref(p->out); /* run again after a lost transaction */
	p->out = NULL;
	return s_run_route(p->api, p->route, &p->c, &p->out, &p->status, err);
}

/* The write is committed (rc 0) or failed: answers it and frees p. */
static void
s_pending_done(void *arg, int rc, const err_t *err)
{
	pending_t *p = arg;
	json_t *out = p->out;
	int status = p->status;
	err_t why;

	if (rc != 0) {
		json_decref(out);
		why = *err;
		status = s_fail(p->method, p->path, 1, &why, &out);
	}
	s_reply(p->req, status, out);
	json_decref(p->query);
	json_decref(p->body);
	free(p->path);
	free(p);
}

/* After a group's COMMIT: the program's write hook, as after a write. */
static void
s_committed(void *arg)
{
	api_t *api = arg;

	if (api->write_fn != NULL)
		api->write_fn(api->hook_arg);
}

/* Hands req, a write of a route of ours, to the group commit: 1 when it
 * is taken (query and body stolen), 0 when it is not such a write (the
 * caller serves it). */
static int
s_group_write(api_t *api, struct evhttp_request *req, const char *method,
    const char *path, json_t *query, json_t *body)
{
	pending_t *p;
	int r, known;
	err_t err;

	if (api->group == NULL || strcmp(method, "GET") == 0)
		return 0;
	if ((p = calloc(1, sizeof *p)) == NULL)
		fatal("api: out of memory");
	err_clear(&err);
	p->c.api = api;
	p->c.store = api->store;
	p->c.query = query;
	p->c.body = body;
	r = s_route(method, path, body, &p->c, p->decoded, &known, &err);
	if (r < 0 || !s_writes((size_t)r)) {
		free(p); /* refused or not a write: api_call says so */
		return 0;
	}
	p->api = api;
	p->req = req;
	p->route = (size_t)r;
	p->method = method;
	if ((p->path = strdup(path)) == NULL)
		fatal("api: out of memory");
	p->query = query;
	p->body = body;
	group_add(api->group, s_pending_run, s_pending_done, p);
	return 1;
}

static void
s_dispatch(struct evhttp_request *req, void *arg)
{
	api_t *api = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = evhttp_uri_get_path(uri);
	const char *query = evhttp_uri_get_query(uri);
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	struct evkeyvalq q;
	struct evkeyval *kv;
	json_t *qobj, *body = NULL, *out;
	json_error_t jerr;
	size_t n = evbuffer_get_length(in);
	char msg[ERR_MSG_MAX];
	int status, authorized;

	if (api->page_fn != NULL && path != NULL &&
	    strncmp(path, "/v1/", 4) != 0) {
		api->page_fn(api->page_arg, req);
		return;
	}
	authorized = s_authorized(api, req);
	if (!authorized &&
	    (api->guard_fn == NULL ||
		evhttp_find_header(evhttp_request_get_input_headers(req),
		    "Authorization") != NULL)) {
		s_error_reply(req, 403, "forbidden",
		    "authorization: missing or wrong bearer token");
		return;
	}
	/* What no token authorized, the guard decides (api.h). */
	if (api->guard_fn != NULL && !(api->has_token && authorized)) {
		err_t gerr;

		err_clear(&gerr);
		status = api->guard_fn(api->guard_arg, req, api->has_token,
		    evhttp_request_get_command(req) != EVHTTP_REQ_GET, &gerr);
		if (status != 0) {
			s_error_reply(req, status,
			    status == 401 ? "unauthorized" : "forbidden",
			    gerr.msg);
			return;
		}
	}
	TAILQ_INIT(&q);
	if (query != NULL && evhttp_parse_query_str(query, &q) != 0) {
		s_error_reply(req, 400, "bad_request", "query: malformed");
		return;
	}
	qobj = json_object();
	TAILQ_FOREACH(kv, &q, next)
		json_object_set_new(qobj, kv->key, json_string(kv->value));
	evhttp_clear_headers(&q);
	if (n > 0) {
		body = json_loadb((const char *)evbuffer_pullup(in, -1), n,
		    JSON_REJECT_DUPLICATES, &jerr);
		if (body == NULL || !json_is_object(body)) {
			if (body == NULL)
				snprintf(msg, sizeof msg,
				    "body: invalid JSON at line %d: %s",
				    jerr.line, jerr.text);
			else
				snprintf(msg, sizeof msg,
				    "body: must be a JSON object");
			json_decref(body);
			json_decref(qobj);
			s_error_reply(req, 400, "bad_request", msg);
			return;
		}
	}
	if (s_group_write(api, req, s_method(evhttp_request_get_command(req)),
		path ? path : "/", qobj, body))
		return;
	status = api_call(api, s_method(evhttp_request_get_command(req)),
	    path ? path : "/", qobj, body, &out);
	json_decref(qobj);
	json_decref(body);
	s_reply(req, status, out);
}

api_t *
api_new(struct event_base *base, store_t *store, const char *role)
{
	api_t *api = calloc(1, sizeof *api);

	if (api == NULL)
		fatal("api: out of memory");
	api->store = store;
	api->base = base;
	snprintf(api->role, sizeof api->role, "%s", role);
	if (base == NULL)
		return api; /* in-process calls only (the command line) */
	if ((api->http = evhttp_new(base)) == NULL)
		fatal("api: out of memory");
	/* Bounded requests; a client that stalls is dropped, not waited on. */
	evhttp_set_max_body_size(api->http, API_MAX_BODY);
	evhttp_set_max_headers_size(api->http, 16 * 1024);
	evhttp_set_timeout(api->http, 30);
	evhttp_set_allowed_methods(api->http,
	    EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
		EVHTTP_REQ_PATCH | EVHTTP_REQ_DELETE);
	evhttp_set_gencb(api->http, s_dispatch, api);
	return api;
}

void
api_set_hooks(api_t *api, api_status_fn status, api_write_fn wrote, void *arg)
{
	api->status_fn = status;
	api->write_fn = wrote;
	api->hook_arg = arg;
}

void
api_group_writes(api_t *api)
{
	assert(api->base != NULL);
	if (api->group != NULL)
		return;
	api->group = group_new(api->base, api->store);
	group_set_committed(api->group, s_committed, api);
}

void
api_set_alerts_hook(api_t *api, api_alerts_fn alerts)
{
	api->alerts_fn = alerts;
}

void
api_set_guard(api_t *api, api_guard_fn fn, void *arg)
{
	api->guard_fn = fn;
	api->guard_arg = arg;
}

void
api_set_pages(api_t *api, api_page_fn fn, void *arg)
{
	api->page_fn = fn;
	api->page_arg = arg;
}

int
api_locked(const api_t *api)
{
	return api->has_token;
}

void
api_add_get(api_t *api, const char *path, api_get_fn fn, void *arg)
{
	assert(api->ngets < API_GETS_MAX);
	api->gets[api->ngets].path = path;
	api->gets[api->ngets].fn = fn;
	api->gets[api->ngets].put = NULL;
	api->gets[api->ngets].arg = arg;
	api->ngets++;
}

void
api_add_put(api_t *api, const char *path, api_put_fn fn, void *arg)
{
	assert(api->ngets < API_GETS_MAX);
	api->gets[api->ngets].path = path;
	api->gets[api->ngets].fn = NULL;
	api->gets[api->ngets].put = fn;
	api->gets[api->ngets].arg = arg;
	api->ngets++;
}

int
api_token_check(const char *token, err_t *err)
{
	size_t n = token != NULL ? strlen(token) : 0, bad;

	if (n > API_TOKEN_MAX)
		return err_set(err, ERR_BAD_REQUEST,
		    "config token: %zu bytes, more than the %d allowed", n,
		    API_TOKEN_MAX);
	if ((bad = s_token_bad_byte(token, n)) != n)
		return err_set(err, ERR_BAD_REQUEST,
		    "config token: byte %zu of %zu is not visible ASCII (! to ~)",
		    bad + 1, n);
	return 0;
}

int
api_bind(api_t *api, const char *hostport, const char *token, int *bound_port,
    err_t *err)
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
	if (api_token_check(token, err))
		return -1;
	api->has_token = token != NULL && token[0] != '\0';
	if (api->has_token) {
		if (sodium_init() < 0)
			return err_set(err, ERR_INTERNAL,
			    "http %s: libsodium init failed", hostport);
		s_token_hash(token, strlen(token), api->token_hash);
	}
	bs = evhttp_bind_socket_with_handle(api->http, host, (uint16_t)port);
	if (bs == NULL)
		return err_set(err, ERR_UNAVAILABLE,
		    "http %s: cannot bind (in use or not an address here)",
		    hostport);
	if (getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&ss,
		&len) != 0)
		return err_set(err, ERR_INTERNAL, "http %s: getsockname failed",
		    hostport);
	*bound_port = ss.ss_family == AF_INET6
	    ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
	    : ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return 0;
}

void
api_destroy(api_t **self_p)
{
	if (self_p == NULL || *self_p == NULL)
		return;
	/* Writes gathered are committed and answered while their
	 * connections still live. */
	group_destroy(&(*self_p)->group);
	if ((*self_p)->http != NULL)
		evhttp_free((*self_p)->http);
	sodium_memzero((*self_p)->token_hash, sizeof(*self_p)->token_hash);
	free(*self_p);
	*self_p = NULL;
}
