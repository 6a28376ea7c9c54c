/*
 * api: the HTTP/JSON API a replica serves (libevent evhttp + Jansson).
 *
 * Node and hub serve the same resources over their own replica; the program
 * adds what only it knows (link state, ...) through the status hook, and
 * learns of committed local writes through the write hook (a node pushes
 * them at once). Errors answer {"error":{"code":"...","message":"..."}} with
 * a 4xx/5xx status; a bad request never changes anything.
 *
 * Bound to 127.0.0.1 by default. Binding any other address requires a token;
 * every request must then carry "Authorization: Bearer TOKEN", exactly: the
 * scheme "Bearer", one space and the whole token, nothing before or after.
 * A token is 1 to API_TOKEN_MAX bytes of visible ASCII (! to ~). The api
 * keeps only its BLAKE2b hash and compares the hash of what a request
 * presents with it in constant time, whatever the length presented.
 *
 * The api borrows the event base and the store; it owns its evhttp.
 */
#ifndef BL_API_H
#define BL_API_H

#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>

#include "err.h"
#include "store.h"

typedef struct api api_t;

/* Fills a status object with what the program knows (role, hub link...). */
typedef void (*api_status_fn)(void *arg, json_t *status);
/* Called after a local write has committed. */
typedef void (*api_write_fn)(void *arg);
/* Appends to items the alerts only the program knows (the hub: what its
 * sites report of their disks). Called with the status hook's arg. */
typedef void (*api_alerts_fn)(void *arg, json_t *items);
/* Answers a read-only resource only the program serves: *out (caller
 * owns), or -1 with err. query is an object of strings or NULL. */
typedef int (
    *api_get_fn)(void *arg, const json_t *query, json_t **out, err_t *err);

/* Answers a write only the program serves, kept in its own tables (the
 * hub's allocation rules): *out (caller owns), or -1 with err. body is
 * the request's JSON object. */
typedef int (
    *api_put_fn)(void *arg, const json_t *body, json_t **out, err_t *err);

#define API_GETS_MAX 8	  /* GET and PUT resources of the program */
#define API_TOKEN_MAX 256 /* bytes in the API bearer token */

/* With base NULL the api serves only api_call (the command line). */
api_t *api_new(struct event_base *base, store_t *store, const char *role);

/* Runs one request in-process: method ("GET"...), path ("/v1/orders/X"),
 * query (object of strings, may be NULL), body (object or NULL). Returns
 * the HTTP status; *out (caller owns) is the answer or the error object. */
int api_call(api_t *api, const char *method, const char *path,
    const json_t *query, const json_t *body, json_t **out);
void api_set_hooks(api_t *api, api_status_fn status, api_write_fn wrote,
    void *arg);

/* Group commit (group.h) for the HTTP writes of the routes above: writes
 * that arrive in one turn of the loop share one transaction and one
 * fsync, each in a savepoint of its own, and each is answered once the
 * COMMIT that holds it is done (the write hook is called once per
 * commit). A daemon's api only (base not NULL); api_call, which the
 * command line uses, keeps a transaction per call. GET /v1/status then
 * shows "group_commit": {commits, writes, failed, largest}. */
void api_group_writes(api_t *api);
void api_set_alerts_hook(api_t *api, api_alerts_fn alerts);

/* Serves GET path (exact; a literal that outlives the api) with fn(arg). */
void api_add_get(api_t *api, const char *path, api_get_fn fn, void *arg);

/* Serves PUT path (exact; a literal that outlives the api) with fn(arg,
 * body); a GET of the same path may be served beside it. Nothing is
 * pushed after it: the write hook is not called. */
void api_add_put(api_t *api, const char *path, api_put_fn fn, void *arg);

/*
 * The hub's console (hub/console.c) plugs in here. A guard decides every
 * request under /v1/ that a bearer token did not authorize: one without
 * an Authorization header when a token is configured (locked 1), and
 * every request when none is (locked 0). It returns 0 to serve it, or
 * the HTTP status to refuse it with (401, 403) and why in err. A request
 * presenting a wrong token is refused 403 before any guard, as without
 * one, so integrations see the same API whatever the console does.
 * writes says whether the method changes anything (not GET).
 */
typedef int (*api_guard_fn)(void *arg, struct evhttp_request *req, int locked,
    int writes, err_t *err);
void api_set_guard(api_t *api, api_guard_fn fn, void *arg);

/* Answers every HTTP request whose path is not under /v1/ (the console's
 * pages and its login) with fn(arg, req), which must reply; without it
 * such a path is a 404 as any unknown resource. */
typedef void (*api_page_fn)(void *arg, struct evhttp_request *req);
void api_set_pages(api_t *api, api_page_fn fn, void *arg);

/* Whether the API asks for a token (api_bind was given one). */
int api_locked(const api_t *api);

/* Checks the config's API token (NULL or "" for none): -1 with err naming
 * the setting when it is longer than API_TOKEN_MAX bytes or holds a byte
 * outside visible ASCII. The daemons call it before they serve anything. */
int api_token_check(const char *token, err_t *err);

/* Binds HOST:PORT (port 0 picks one); *bound_port receives the real port.
 * token may be NULL or "" only for a loopback host; a token api_token_check
 * refuses is refused here too. The api keeps the token's hash, not token. */
int api_bind(api_t *api, const char *hostport, const char *token,
    int *bound_port, err_t *err);

void api_destroy(api_t **self_p);

#endif
