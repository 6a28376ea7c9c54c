/*
 * approvalcmd: bl-hub approval list|approve|reject, head office's
 * decisions on special prices on the command line (sync/domain/approval.h).
 *
 *   bl-hub approval list    --data DIR [--status S] [--json]
 *   bl-hub approval approve --data DIR --order ID [--comment TEXT]
 *   bl-hub approval reject  --data DIR --order ID --comment TEXT
 *
 * Each is the API's resource called in-process on the hub's database
 * (api_call, as reportcmd.c does): GET /v1/approvals and POST
 * /v1/approvals/{id}/decision, with the API's checks and messages. A
 * decision written beside a running hub is head office's op like one
 * written through its HTTP API: the daemon signs it and streams it to the
 * order's sites at its next tick, within a second. A hub restored from a
 * backup writes nothing of its own until its sites have reported (meta
 * recovering, recover.c): neither does this command.
 */
#include <event2/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub.h"
#include "prog.h"

/* The hub's store of --data, in *st; -1 with err. */
static int
s_open(const args_t *a, store_t **st, err_t *err)
{
	*st = hub_open(args_get(a, "data", "."), err);
	return *st == NULL ? -1 : 0;
}

/* method path with body on the hub's store; 0 with *out (caller owns), or
 * -1 with err: the API's message, ERR_BAD_REQUEST for a 400. */
static int
s_call(store_t *st, const char *method, const char *path, const json_t *query,
    const json_t *body, json_t **out, err_t *err)
{
	api_t *api = api_new(NULL, st, "hq");
	int status = api_call(api, method, path, query, body, out);

	api_destroy(&api);
	if (status == 200 || status == 201)
		return 0;
	err_set(err,
	    status == 400	? ERR_BAD_REQUEST
		: status == 404 ? ERR_NOT_FOUND
		: status == 409 ? ERR_CONFLICT
		: status == 422 ? ERR_UNPROCESSABLE
		: status == 503 ? ERR_UNAVAILABLE
				: ERR_INTERNAL,
	    "%s",
	    json_string_value(
		json_object_get(json_object_get(*out, "error"), "message")));
	json_decref(*out);
	*out = NULL;
	return -1;
}

/* The columns of the list, in order: key and header. */
static const char *const s_cols[][2] = { { "id", "order" }, { "site", "site" },
	{ "customer", "customer" }, { "status", "status" },
	{ "decided_at_ms", "decided" }, { "comment", "comment" },
	{ "reason", "reason" } };
#define NCOLS (sizeof s_cols / sizeof s_cols[0])

/* Cell k of row as text into buf. */
static void
s_cell(const json_t *row, size_t k, char *buf, size_t size)
{
	const json_t *v = json_object_get(row, s_cols[k][0]);

	if (json_is_integer(v))
		hub_format_ms((uint64_t)json_integer_value(v), buf, size);
	else
		snprintf(buf, size, "%s",
		    json_is_string(v) ? json_string_value(v) : "");
}

/* The rows as a table, one line each; the last column (the reason) as
 * long as it is. */
static void
s_table(const json_t *rows)
{
	size_t width[NCOLS], i, k, w;
	char cell[1100];
	json_t *row;

	for (k = 0; k < NCOLS; k++)
		width[k] = strlen(s_cols[k][1]);
	json_array_foreach(rows, i, row)
		for (k = 0; k + 1 < NCOLS; k++) {
			s_cell(row, k, cell, sizeof cell);
			if ((w = strlen(cell)) > width[k])
				width[k] = w;
		}
	for (k = 0; k < NCOLS; k++)
		printf("%-*s%s", k + 1 < NCOLS ? (int)width[k] : 0,
		    s_cols[k][1], k + 1 < NCOLS ? "  " : "\n");
	json_array_foreach(rows, i, row)
		for (k = 0; k < NCOLS; k++) {
			s_cell(row, k, cell, sizeof cell);
			printf("%-*s%s", k + 1 < NCOLS ? (int)width[k] : 0,
			    cell, k + 1 < NCOLS ? "  " : "\n");
		}
	if (json_array_size(rows) == 0)
		printf("(none)\n");
}

int
approvalcmd_list(const args_t *a)
{
	json_t *q = json_object(), *out = NULL;
	store_t *st;
	err_t err;
	int rc;

	err_clear(&err);
	if (args_has(a, "status"))
		json_object_set_new(q, "status",
		    json_string(args_get(a, "status", "")));
	if (s_open(a, &st, &err)) {
		json_decref(q);
		return prog_fail(1, &err);
	}
	rc = s_call(st, "GET", "/v1/approvals", q, NULL, &out, &err);
	store_close(&st);
	json_decref(q);
	if (rc)
		return prog_fail(err.code == ERR_BAD_REQUEST ? PROG_EXIT_USAGE
							     : 1,
		    &err);
	if (args_has(a, "json")) {
		char *text = json_dumps(out, JSON_COMPACT);

		printf("%s\n", text != NULL ? text : "");
		free(text);
	} else {
		s_table(json_object_get(out, "items"));
	}
	json_decref(out);
	return 0;
}

/* approve or reject the order of --order. */
static int
s_decide(const args_t *a, int approve)
{
	const char *order = args_get(a, "order", NULL);
	char path[512], *enc;
	json_t *body, *out = NULL;
	store_t *st;
	int64_t recovering = 0;
	err_t err;
	int rc;

	err_clear(&err);
	if (order == NULL || order[0] == '\0') {
		err_set(&err, ERR_BAD_REQUEST, "--order ID is required");
		return prog_fail(PROG_EXIT_USAGE, &err);
	}
	if (s_open(a, &st, &err))
		return prog_fail(1, &err);
	/* As the daemon holds its writes while it recovers (recover.c). */
	if (store_meta_get_int(st, "recovering", 0, &recovering, &err) == 0 &&
	    recovering)
		store_hold_writes(st,
		    "write: head office is recovering from a backup (bl-hub "
		    "recover says whom it waits for)");
	if (err.code != ERR_OK) {
		store_close(&st);
		return prog_fail(1, &err);
	}
	enc = evhttp_uriencode(order, -1, 0);
	snprintf(path, sizeof path, "/v1/approvals/%s/decision",
	    enc != NULL ? enc : "");
	free(enc);
	body = json_pack("{s:b}", "approve", approve);
	if (args_has(a, "comment"))
		json_object_set_new(body, "comment",
		    json_string(args_get(a, "comment", "")));
	rc = s_call(st, "POST", path, NULL, body, &out, &err);
	json_decref(body);
	store_close(&st);
	if (rc)
		return prog_fail(err.code == ERR_BAD_REQUEST ? PROG_EXIT_USAGE
							     : 1,
		    &err);
	printf("%s %s: order %s\n", approve ? "approved" : "rejected", order,
	    approve ? "confirmed" : "cancelled");
	json_decref(out);
	return 0;
}

int
approvalcmd_approve(const args_t *a)
{
	return s_decide(a, 1);
}

int
approvalcmd_reject(const args_t *a)
{
	return s_decide(a, 0);
}
