/*
 * domain_read: the domain's reads as the tests use them, a record or a
 * list as JSON (caller owns), or NULL after printing why the read failed;
 * a test compares what it gets, so a failed read fails it.
 */
#ifndef BL_TEST_DOMAIN_READ_H
#define BL_TEST_DOMAIN_READ_H

#include <stdio.h>

#include "rec.h"

/* What fn lists under query (NULL: no filters). */
static inline json_t *
t_list(store_t *st, rec_list_fn fn, const json_t *query)
{
	json_t *out = NULL;
	err_t err;

	if (fn(st, query, &out, &err) != 0) {
		printf("# list failed: %s\n", err.msg);
		return NULL;
	}
	return out;
}

/* What fn lists with one filter, name = value (none when value is NULL). */
static inline json_t *
t_list_where(store_t *st, rec_list_fn fn, const char *name, const char *value)
{
	json_t *q = value != NULL ? json_pack("{s:s}", name, value) : NULL;
	json_t *out = t_list(st, fn, q);

	json_decref(q);
	return out;
}

/* The record fn finds under id. */
static inline json_t *
t_get(store_t *st, rec_get_fn fn, const char *id)
{
	json_t *out = NULL;
	err_t err;

	if (fn(st, id, &out, &err) != 0) {
		printf("# get %s failed: %s\n", id, err.msg);
		return NULL;
	}
	return out;
}

#endif
