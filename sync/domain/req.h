/*
 * req: reading fields of a JSON request or op, with errors that name them.
 *
 * Every domain module checks its input with these, so a till, the command
 * line and a remote op all get the same rules and the same messages:
 * "sku: missing", "qty: must be an integer from 1 to 1000000", ...
 * Returned strings are borrowed from the JSON object.
 */
#ifndef BL_REQ_H
#define BL_REQ_H

#include <jansson.h>
#include <stdint.h>

#include "err.h"

#define REQ_ID_MAX 64	  /* ids, skus, tags */
#define REQ_TEXT_MAX 1024 /* names, addresses, notes */

/* Text of 1..max bytes. Absent (or null) and not required: *out = NULL. */
int req_text(const json_t *obj, const char *name, size_t max, int required,
    const char **out, err_t *err);

/* Integer within [min, max]. Absent and not required: *out = dflt. */
int req_int(const json_t *obj, const char *name, int64_t min, int64_t max,
    int required, int64_t dflt, int64_t *out, err_t *err);

/* true/false. Absent: *out = dflt. */
int req_bool(const json_t *obj, const char *name, int dflt, int *out,
    err_t *err);

/* Text that must be one of the NULL-terminated choices. */
int req_enum(const json_t *obj, const char *name, const char *const *choices,
    int required, const char **out, err_t *err);

/* An ISO 4217 currency code in use ("CNY", "EUR"...). */
int req_currency(const json_t *obj, const char *name, int required,
    const char **out, err_t *err);

/* Whether code is an ISO 4217 currency code. */
int req_currency_valid(const char *code);

/* Refuses members of obj not in the NULL-terminated list, so a misspelt
 * field is an error rather than silently ignored. */
int req_only(const json_t *obj, const char *const *allowed, err_t *err);

/* A list's filter: the value of name in query (an object of strings, from
 * the URL), or NULL when it is absent or empty. Borrowed from query. */
const char *req_query(const json_t *query, const char *name);

#endif
