/*
 * quotacmd: bl-hub quota grant|list|recall, head office's side of the
 * escrowed stock quotas (sync/domain/quota.h) on the command line.
 *
 *   bl-hub quota grant  --data DIR --warehouse W --site S --sku SKU --qty N
 *                       [--id ID] [--json]
 *   bl-hub quota list   --data DIR [--site S] [--sku SKU] [--warehouse W]
 *                       [--json]
 *   bl-hub quota recall --data DIR --id QUOTA [--reason TEXT] [--json]
 *
 * Each is the API's resource called in-process on the hub's database
 * (api_call, as bl-node's commands and bl-hub report do), so the command
 * line and the HTTP API answer alike, with the same checks and messages,
 * whether the hub runs or not: POST /v1/quotas, GET /v1/quotas and POST
 * /v1/quotas/{id}/recall. A grant or recall is head office's op in one
 * transaction of its own (BEGIN IMMEDIATE, beside a running daemon, which
 * signs and streams what a command wrote within a second). A hub restored
 * from a backup writes nothing of its own until it has recovered
 * (recover.c): grant and recall then refuse, as the API does.
 */
#include <event2/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub.h"
#include "prog.h"

/* The columns of a quota for people, as GET /v1/quotas has them. */
static const char *const s_cols[] = { "id", "warehouse", "site", "sku",
	"granted", "spent", "returned", "available", "status" };
#define NCOLS (sizeof s_cols / sizeof s_cols[0])

static void
s_cell(const json_t *row, const char *key, char *buf, size_t size)
{
	const json_t *v = json_object_get(row, key);

	if (json_is_string(v))
		snprintf(buf, size, "%s", json_string_value(v));
	else if (json_is_integer(v))
		snprintf(buf, size, "%lld", (long long)json_integer_value(v));
	else
		snprintf(buf, size, "-");
}

/* Prints rows (quotas) as a table, "(none)" without any. */
static void
s_table(const json_t *rows)
{
	size_t width[NCOLS], i, k;
	char cell[128];
	json_t *row;

	for (k = 0; k < NCOLS; k++)
		width[k] = strlen(s_cols[k]);
	json_array_foreach(rows, i, row)
		for (k = 0; k < NCOLS; k++) {
			s_cell(row, s_cols[k], cell, sizeof cell);
			if (strlen(cell) > width[k])
				width[k] = strlen(cell);
		}
	/* The last column unpadded: no trailing blanks. */
	for (k = 0; k < NCOLS; k++)
		printf("%-*s%s", k + 1 < NCOLS ? (int)width[k] : 0, s_cols[k],
		    k + 1 < NCOLS ? "  " : "\n");
	json_array_foreach(rows, i, row)
		for (k = 0; k < NCOLS; k++) {
			s_cell(row, s_cols[k], cell, sizeof cell);
			printf("%-*s%s", k + 1 < NCOLS ? (int)width[k] : 0,
			    cell, k + 1 < NCOLS ? "  " : "\n");
		}
	if (json_array_size(rows) == 0)
		printf("(none)\n");
}

/* Runs method path (query, body may be NULL) on the hub's store of --data
 * as head office, holding writes while it recovers from a backup; prints
 * the answer's items (or the one quota) as a table or, with --json, as
 * the API's JSON. Returns the exit status: 0, 1 with the API's message,
 * 2 for a bad request. */
static int
s_run(const args_t *a, const char *method, const char *path,
    const json_t *query, const json_t *body)
{
	json_t *out = NULL, *rows;
	store_t *st;
	api_t *api;
	int64_t recovering = 0;
	int status;
	err_t err;

	err_clear(&err);
	if ((st = hub_open(args_get(a, "data", "."), &err)) == NULL)
		return prog_fail(1, &err);
	/* As the daemon holds its writes while it recovers (recover.c). */
	if (store_meta_get_int(st, "recovering", 0, &recovering, &err)) {
		store_close(&st);
		return prog_fail(1, &err);
	}
	if (recovering)
		store_hold_writes(st,
		    "write: head office is recovering from a backup (bl-hub "
		    "recover says whom it waits for)");
	api = api_new(NULL, st, "hq");
	status = api_call(api, method, path, query, body, &out);
	api_destroy(&api);
	store_close(&st);
	if (status != 200 && status != 201) {
		err_set(&err, status == 400 ? ERR_BAD_REQUEST : ERR_INTERNAL,
		    "%s",
		    json_string_value(
			json_object_get(json_object_get(out, "error"),
			    "message")));
		json_decref(out);
		return prog_fail(status == 400 ? PROG_EXIT_USAGE : 1, &err);
	}
	if (args_has(a, "json")) {
		char *text = json_dumps(out, JSON_COMPACT);

		printf("%s\n", text != NULL ? text : "");
		free(text);
	} else if ((rows = json_object_get(out, "items")) != NULL) {
		s_table(rows);
	} else {
		rows = json_pack("[O]", out);
		s_table(rows);
		json_decref(rows);
	}
	json_decref(out);
	return 0;
}

/* Sets name in o to --flag's value, when given; an integer when num. */
static int
s_opt(const args_t *a, const char *flag, const char *name, int num, json_t *o)
{
	const char *v = args_get(a, flag, NULL);
	char *end;
	long long n;
	err_t err;

	if (v == NULL)
		return 0;
	if (!num) {
		json_object_set_new(o, name, json_string(v));
		return 0;
	}
	n = strtoll(v, &end, 10);
	if (v[0] == '\0' || *end != '\0') {
		err_set(&err, ERR_BAD_REQUEST, "--%s '%s': not an integer",
		    flag, v);
		return prog_fail(PROG_EXIT_USAGE, &err);
	}
	json_object_set_new(o, name, json_integer(n));
	return 0;
}

int
quotacmd_grant(const args_t *a)
{
	json_t *body = json_object();
	int rc;

	if ((rc = s_opt(a, "id", "id", 0, body)) == 0 &&
	    (rc = s_opt(a, "warehouse", "warehouse", 0, body)) == 0 &&
	    (rc = s_opt(a, "site", "site", 0, body)) == 0 &&
	    (rc = s_opt(a, "sku", "sku", 0, body)) == 0 &&
	    (rc = s_opt(a, "qty", "qty", 1, body)) == 0)
		rc = s_run(a, "POST", "/v1/quotas", NULL, body);
	json_decref(body);
	return rc;
}

int
quotacmd_list(const args_t *a)
{
	json_t *query = json_object();
	int rc;

	if ((rc = s_opt(a, "site", "site", 0, query)) == 0 &&
	    (rc = s_opt(a, "sku", "sku", 0, query)) == 0 &&
	    (rc = s_opt(a, "warehouse", "warehouse", 0, query)) == 0)
		rc = s_run(a, "GET", "/v1/quotas", query, NULL);
	json_decref(query);
	return rc;
}

int
quotacmd_recall(const args_t *a)
{
	const char *id = args_get(a, "id", NULL);
	json_t *body = json_object();
	char path[512], *enc;
	err_t err;
	int rc;

	if (id == NULL || id[0] == '\0') {
		json_decref(body);
		err_set(&err, ERR_BAD_REQUEST, "--id QUOTA is required");
		return prog_fail(PROG_EXIT_USAGE, &err);
	}
	enc = evhttp_uriencode(id, -1, 0);
	snprintf(path, sizeof path, "/v1/quotas/%s/recall",
	    enc != NULL ? enc : "");
	free(enc);
	if ((rc = s_opt(a, "reason", "reason", 0, body)) == 0)
		rc = s_run(a, "POST", path, NULL, body);
	json_decref(body);
	return rc;
}
