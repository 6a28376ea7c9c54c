/*
 * err: the error record every fallible call fills.
 *
 * A runtime failure is reported as a code plus a one-line message that reads
 * "operation: object: cause" with the actual values, e.g.
 * "apply op S001/42: clock 9 s ahead (max 5 s)". The caller owns the err_t
 * (usually on its stack) and passes it down; callees only write it.
 */
#ifndef BL_ERR_H
#define BL_ERR_H

#include <stddef.h>

#define ERR_MSG_MAX 256

/* Error classes. The numeric value doubles as the 3-digit wire status of an
 * ERROR message and maps onto HTTP statuses, so one code travels everywhere. */
typedef enum {
	ERR_OK = 0,
	ERR_BAD_REQUEST = 400, /* malformed input: the sender must fix it */
	ERR_FORBIDDEN = 403,   /* authenticated, but not allowed */
	ERR_NOT_FOUND = 404,
	ERR_METHOD = 405,   /* known resource, other method */
	ERR_CONFLICT = 409, /* clashes with what is recorded */
	ERR_TOO_LARGE = 413,
	ERR_UNPROCESSABLE = 422, /* well formed but against a business rule */
	ERR_UPGRADE = 426,	 /* protocol or schema version mismatch */
	ERR_INTERNAL = 500,	 /* our fault: storage, resources */
	ERR_UNAVAILABLE = 503,	 /* a peer cannot be reached */
} err_code_t;

typedef struct {
	err_code_t code;
	char msg[ERR_MSG_MAX];
} err_t;

/* Records code and a printf-formatted message in err (which may be NULL).
 * Always returns -1 so callers can write `return err_set(...)`. */
int err_set(err_t *err, err_code_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefixes err's message with "prefix: " (printf-formatted), keeping its code;
 * used when a caller adds the object it was working on. Returns -1. */
int err_prefix(err_t *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Resets err to ERR_OK with an empty message. */
void err_clear(err_t *err);

#endif
