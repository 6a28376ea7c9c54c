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

/* A transfer listed for people, as in GET /v1/transfers. */
static const hub_col_t s_cols[] = { { "id", "id", HUB_COL_TEXT },
	{ "from_site", "from_site", HUB_COL_TEXT },
	{ "to_site", "to_site", HUB_COL_TEXT }, { "sku", "sku", HUB_COL_TEXT },
	{ "qty", "qty", HUB_COL_TEXT }, { "status", "status", HUB_COL_TEXT },
	{ "qty_sent", "qty_sent", HUB_COL_TEXT },
	{ "qty_received", "qty_received", HUB_COL_TEXT },
	{ "discrepancy", "discrepancy", HUB_COL_TEXT },
	{ "in_transit", "in_transit", HUB_COL_TEXT } };
static const hub_table_t s_table = { s_cols, sizeof s_cols / sizeof s_cols[0],
	"-" };

int
transfercmd_list(const args_t *a)
{
	static const char *const filters[] = { "status", "sku", "site", NULL };

	return hub_list(a, "/v1/transfers", filters, &s_table);
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
	rc = hub_call(a, "POST", path, NULL, body, &out, &err);
	json_decref(body);
	if (rc != 0)
		return prog_fail(1, &err);
	if (args_has(a, "json"))
		hub_print_json(out);
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
