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

/* A quota for people, as GET /v1/quotas has it. */
static const hub_col_t s_cols[] = { { "id", "id", HUB_COL_TEXT },
	{ "warehouse", "warehouse", HUB_COL_TEXT },
	{ "site", "site", HUB_COL_TEXT }, { "sku", "sku", HUB_COL_TEXT },
	{ "granted", "granted", HUB_COL_TEXT },
	{ "spent", "spent", HUB_COL_TEXT },
	{ "returned", "returned", HUB_COL_TEXT },
	{ "available", "available", HUB_COL_TEXT },
	{ "status", "status", HUB_COL_TEXT } };
static const hub_table_t s_table = { s_cols, sizeof s_cols / sizeof s_cols[0],
	"-" };

/* Sets flag in o to --flag's value as an integer, when given; else the
 * exit status of a usage error. */
static int
s_int(const args_t *a, const char *flag, json_t *o)
{
	const char *v = args_get(a, flag, NULL);
	char *end;
	long long n;
	err_t err;

	if (v == NULL)
		return 0;
	n = strtoll(v, &end, 10);
	if (v[0] == '\0' || *end != '\0') {
		err_set(&err, ERR_BAD_REQUEST, "--%s '%s': not an integer",
		    flag, v);
		return prog_fail(PROG_EXIT_USAGE, &err);
	}
	json_object_set_new(o, flag, json_integer(n));
	return 0;
}

int
quotacmd_grant(const args_t *a)
{
	static const char *const fields[] = { "id", "warehouse", "site", "sku",
		NULL };
	json_t *body = json_object();
	int rc;

	hub_args_fields(a, fields, body);
	if ((rc = s_int(a, "qty", body)) == 0)
		rc = hub_call_print(a, "POST", "/v1/quotas", NULL, body,
		    &s_table);
	json_decref(body);
	return rc;
}

int
quotacmd_list(const args_t *a)
{
	static const char *const filters[] = { "site", "sku", "warehouse",
		NULL };

	return hub_list(a, "/v1/quotas", filters, &s_table);
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
	hub_args_fields(a, (const char *const[]){ "reason", NULL }, body);
	rc = hub_call_print(a, "POST", path, NULL, body, &s_table);
	json_decref(body);
	return rc;
}
