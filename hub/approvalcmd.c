/*
 * approvalcmd: bl-hub approval list|approve|reject, head office's
 * decisions on special prices on the command line (sync/domain/approval.h).
 *
 *   bl-hub approval list    --data DIR [--status S] [--json]
 *   bl-hub approval approve --data DIR --order ID [--comment TEXT]
 *   bl-hub approval reject  --data DIR --order ID --comment TEXT
 *   bl-hub approval threshold --data DIR [--percent N [--tier T |
 *                                         --category C]] [--json]
 *
 * Each is the API's resource called in-process on the hub's database
 * (api_call, as reportcmd.c does): GET /v1/approvals, POST
 * /v1/approvals/{id}/decision, GET and PUT /v1/approval/threshold, with
 * the API's checks and messages. A
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

/* An approval listed for people, as in GET /v1/approvals; a cell without
 * a value is blank, and the reason, last, as long as it is. */
static const hub_col_t s_cols[] = { { "id", "order", HUB_COL_TEXT },
	{ "site", "site", HUB_COL_TEXT },
	{ "customer", "customer", HUB_COL_TEXT },
	{ "status", "status", HUB_COL_TEXT },
	{ "decided_at_ms", "decided", HUB_COL_TIME },
	{ "comment", "comment", HUB_COL_TEXT },
	{ "reason", "reason", HUB_COL_TEXT } };
static const hub_table_t s_table = { s_cols, sizeof s_cols / sizeof s_cols[0],
	"" };

int
approvalcmd_list(const args_t *a)
{
	static const char *const filters[] = { "status", NULL };

	return hub_list(a, "/v1/approvals", filters, &s_table);
}

/* approve or reject the order of --order. */
static int
s_decide(const args_t *a, int approve)
{
	const char *order = args_get(a, "order", NULL);
	char path[512], *enc;
	json_t *body, *out;
	err_t err;
	int rc;

	if (order == NULL || order[0] == '\0') {
		err_set(&err, ERR_BAD_REQUEST, "--order ID is required");
		return prog_fail(PROG_EXIT_USAGE, &err);
	}
	enc = evhttp_uriencode(order, -1, 0);
	snprintf(path, sizeof path, "/v1/approvals/%s/decision",
	    enc != NULL ? enc : "");
	free(enc);
	body = json_pack("{s:b}", "approve", approve);
	hub_args_fields(a, (const char *const[]){ "comment", NULL }, body);
	rc = hub_call(a, "POST", path, NULL, body, &out, &err);
	json_decref(body);
	if (rc)
		return hub_fail(&err);
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

/* A threshold listed for people, as in GET /v1/approval/threshold. */
static const hub_col_t s_threshold_cols[] = {
	{ "tier", "tier", HUB_COL_TEXT },
	{ "category", "category", HUB_COL_TEXT },
	{ "percent", "percent", HUB_COL_TEXT },
};
static const hub_table_t s_threshold_table = { s_threshold_cols,
	sizeof s_threshold_cols / sizeof s_threshold_cols[0], "" };

/* Without --percent lists the thresholds; with it sets one (the default,
 * or a tier's or a category's), as PUT /v1/approval/threshold. */
int
approvalcmd_threshold(const args_t *a)
{
	const char *percent = args_get(a, "percent", NULL);
	char *end = NULL;
	long long n;
	json_t *body;
	err_t err;
	int rc;

	if (percent == NULL)
		return hub_call_print(a, "GET", "/v1/approval/threshold", NULL,
		    NULL, &s_threshold_table);
	n = strtoll(percent, &end, 10);
	if (percent[0] == '\0' || *end != '\0' || n < 0 || n > 100) {
		err_set(&err, ERR_BAD_REQUEST,
		    "--percent '%s': a whole number from 0 to 100", percent);
		return prog_fail(PROG_EXIT_USAGE, &err);
	}
	body = json_pack("{s:I}", "percent", (json_int_t)n);
	hub_args_fields(a, (const char *const[]){ "tier", "category", NULL },
	    body);
	rc = hub_call_print(a, "PUT", "/v1/approval/threshold", NULL, body,
	    &s_threshold_table);
	json_decref(body);
	return rc;
}
