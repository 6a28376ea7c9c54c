/*
 * rec: the shapes of the calls the API makes of a domain module, one per
 * kind of route (list, get, create, change, put), and the one way a lookup
 * ends. The API's route table names a module's functions by these types,
 * so a new resource is a line in that table, not a handler.
 *
 * Every function of these shapes returns 0 with *out (caller owns), or -1
 * with err: ERR_NOT_FOUND for a record that is not there, ERR_INTERNAL
 * (answered 500) when storage failed under a read, and the module's own
 * refusals (400, 409, 422) for bad requests.
 */
#ifndef BL_REC_H
#define BL_REC_H

#include <jansson.h>

#include "err.h"
#include "store.h"

/* GET of a collection; query is an object of strings (the filters). */
typedef int (*rec_list_fn)(store_t *store, const json_t *query, json_t **out,
    err_t *err);

/* GET of one record by id. */
typedef int (
    *rec_get_fn)(store_t *store, const char *id, json_t **out, err_t *err);

/* POST of a new record; *created is 0 when the request's id was already
 * recorded by this same request (an idempotent retry). */
typedef int (*rec_create_fn)(store_t *store, const json_t *req, json_t **out,
    int *created, err_t *err);

/* A change (PATCH, a transition, a comment) of the record id. */
typedef int (*rec_change_fn)(store_t *store, const char *id, const json_t *req,
    json_t **out, err_t *err);

/* PUT of a record keyed by two path segments (a tier's price of a sku). */
typedef int (*rec_put_fn)(store_t *store, const char *key1, const char *key2,
    const json_t *req, json_t **out, err_t *err);

/* Ends a lookup of `what` id that produced rec (stolen, NULL when there was
 * no row): -1 with the store's read error when a read failed under it, -1
 * with ERR_NOT_FOUND "what id: not found" without a record, else 0 with
 * *out = rec. */
int rec_found(store_t *store, json_t *rec, const char *what, const char *id,
    json_t **out, err_t *err);

/* Ends a listing of items (stolen): -1 with the store's read error when a
 * read failed under it (the list would be short), else 0 with
 * *out = {"items": items}. */
int rec_items(store_t *store, json_t *items, json_t **out, err_t *err);

/* Ends a listing whose statement ids (cached and bound) gives the records'
 * ids in its first column: reads each with read (a record, or NULL), in
 * the statement's order, after the statement is done (read may use
 * statements of its own), then as rec_items. */
int rec_items_by_id(store_t *store, sqlite3_stmt *ids,
    json_t *(*read)(store_t *, const char *), json_t **out, err_t *err);

#endif
