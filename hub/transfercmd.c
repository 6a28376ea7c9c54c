/*
 * transfercmd: bl-hub transfer list|reconcile, head office's side of the
 * transfer documents (sync/domain/transfer.h) on the command line.
 *
 * Each is the API's resource called in-process on the hub's database
 * (api_call, as bl-node's commands and bl-hub report do), so the command
 * line and the HTTP API answer alike, whether the hub runs or not. list
 * reads GET /v1/transfers. reconcile writes POST
 * /v1/transfers/{id}/reconcile as head office in one transaction of its
 * own (BEGIN IMMEDIATE, beside a running daemon, which signs and streams
 * what a command wrote within a second: hub/server.c). A hub restored from
 * a backup writes nothing of its own until it has recovered (recover.c):
 * reconcile then refuses, as the API does.
 */
#include <event2/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub.h"
#include "prog.h"

/* The columns of a transfer listed for people, as in GET /v1/transfers. */
static const char *const s_cols[] = { "id", "from_site", "to_site", "sku",
	"qty", "status", "qty_sent", "qty_received", "discrepancy",
	"in_transit" };
#define NCOLS (sizeof s_cols / sizeof s_cols[0])

/* The cell of key in row as text into buf: "-" for null. */
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

/* Prints rows (transfers) as a table, "(none)" without any. */
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

/* Runs method path (query, body may be NULL) on the hub of a's --data as
 * head office: 0 with *out, or -1 with err carrying the API's message. */
static int
s_call(const args_t *a, const char *method, const char *path,
    const json_t *query, const json_t *body, json_t **out, err_t *err)
{
	store_t *st;
	api_t *api;
	int status;

	*out = NULL;
	if ((st = hub_open(args_get(a, "data", "."), err)) == NULL)
		return -1;
	if (body != NULL) {
		int64_t on = 0;
		char line[256];

		if (store_meta_get_int(st, "recovering", 0, &on, err) ||
		    (on && recover_describe(st, 0, line, sizeof line, err))) {
			store_close(&st);
			return -1;
		}
		if (on) {
			store_close(&st);
			return err_set(err, ERR_UNAVAILABLE,
			    "write: head office is %s (bl-hub recover --done "
			    "ends the wait)",
			    line);
		}
	}
	api = api_new(NULL, st, "hq");
	status = api_call(api, method, path, query, body, out);
	api_destroy(&api);
	store_close(&st);
	if (status < 400)
		return 0;
	err_set(err, (err_code_t)status, "%s",
	    json_string_value(
		json_object_get(json_object_get(*out, "error"), "message")));
	json_decref(*out);
	*out = NULL;
	return -1;
}

/* Prints out as compact JSON. */
static void
s_json(const json_t *out)
{
	char *text = json_dumps(out, JSON_COMPACT);

	printf("%s\n", text != NULL ? text : "null");
	free(text);
}

int
transfercmd_list(const args_t *a)
{
	static const char *const filters[] = { "status", "sku", "site", NULL };
	json_t *q = json_object(), *out;
	err_t err;
	size_t i;
	int rc;

	for (i = 0; filters[i] != NULL; i++)
		if (args_has(a, filters[i]))
			json_object_set_new(q, filters[i],
			    json_string(args_get(a, filters[i], "")));
	rc = s_call(a, "GET", "/v1/transfers", q, NULL, &out, &err);
	json_decref(q);
	if (rc != 0)
		return prog_fail(err.code == ERR_BAD_REQUEST ? PROG_EXIT_USAGE
							     : 1,
		    &err);
	if (args_has(a, "json"))
		s_json(out);
	else
		s_table(json_object_get(out, "items"));
	json_decref(out);
	return 0;
}

int
transfercmd_reconcile(const args_t *a)
{
	const char *id = args_get(a, "id", NULL);
	char path[512], *enc;
	json_t *body, *out;
	err_t err;
	int rc;

	if (id == NULL || !args_has(a, "note")) {
		err_set(&err, ERR_BAD_REQUEST, "%s is required",
		    id == NULL ? "--id TRANSFER" : "--note TEXT");
		return prog_fail(PROG_EXIT_USAGE, &err);
	}
	enc = evhttp_uriencode(id, -1, 0);
	snprintf(path, sizeof path, "/v1/transfers/%s/reconcile",
	    enc != NULL ? enc : "");
	free(enc);
	body = json_pack("{s:s}", "note", args_get(a, "note", ""));
	rc = s_call(a, "POST", path, NULL, body, &out, &err);
	json_decref(body);
	if (rc != 0)
		return prog_fail(1, &err);
	if (args_has(a, "json"))
		s_json(out);
	else
		printf("transfer %s reconciled: %lld %s sent by %s, %lld "
		       "received at %s, discrepancy %+lld\n",
		    json_string_value(json_object_get(out, "id")),
		    (long long)json_integer_value(json_object_get(out, "qty")),
		    json_string_value(json_object_get(out, "sku")),
		    json_string_value(json_object_get(out, "from_site")),
		    (long long)json_integer_value(
			json_object_get(out, "qty_received")),
		    json_string_value(json_object_get(out, "to_site")),
		    (long long)json_integer_value(
			json_object_get(out, "discrepancy")));
	json_decref(out);
	return 0;
}
