/*
 * cli: commands for people at a site — customers, orders, payments, stock,
 * transfers, quotas, cases, alerts, reports — over the same resources as
 * the HTTP API.
 *
 * Each command is a row of s_commands: a noun and verb, the API call it
 * makes, and how its options become the JSON request. The call runs
 * in-process on the site's database (no daemon needed, the hub or not);
 * a running daemon pushes what was written within its next tick. Results
 * print as readable tables, or as the API's JSON with --json.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "apply.h"
#include "args.h"
#include "node.h"

/* How an option becomes a request field. */
typedef enum {
	OPT_TEXT,  /* "--name Li" -> "name": "Li" */
	OPT_INT,   /* "--qty 3" -> "qty": 3 */
	OPT_BOOL,  /* "--on-account yes|no" -> true/false */
	OPT_LIST,  /* "--tags a,b" -> ["a", "b"] */
	OPT_LINES, /* "--line SKU:QTY[:PRICE]" repeated -> lines */
	OPT_QUERY, /* goes to the query string of a GET */
} opt_kind_t;

typedef struct {
	const char *flag;  /* without "--" */
	const char *field; /* JSON name */
	opt_kind_t kind;
} opt_t;

typedef struct {
	const char *noun, *verb;
	const char *method;
	const char *path; /* %s: the positional id */
	const char *help;
	opt_t opts[14];
} command_t;

static const command_t s_commands[] = {
	{ "customer", "add", "POST", "/v1/customers",
	    "--name N [--phone P] [--email E] [--address A] [--region R] [--tier retail|member|vip|wholesale] [--credit-limit MINOR] [--currency C] [--tags a,b] [--id ID]",
	    { { "name", "name", OPT_TEXT }, { "phone", "phone", OPT_TEXT },
		{ "email", "email", OPT_TEXT },
		{ "address", "address", OPT_TEXT },
		{ "region", "region", OPT_TEXT }, { "tier", "tier", OPT_TEXT },
		{ "credit-limit", "credit_limit", OPT_INT },
		{ "currency", "currency", OPT_TEXT },
		{ "tags", "tags", OPT_LIST }, { "id", "id", OPT_TEXT } } },
	{ "customer", "edit", "PATCH", "/v1/customers/%s",
	    "ID [--name N] [--phone P] [--region R] [--tier T] ... [--tags-add a,b] [--tags-remove c] [--points DELTA]",
	    { { "name", "name", OPT_TEXT }, { "phone", "phone", OPT_TEXT },
		{ "email", "email", OPT_TEXT },
		{ "address", "address", OPT_TEXT },
		{ "region", "region", OPT_TEXT }, { "tier", "tier", OPT_TEXT },
		{ "credit-limit", "credit_limit", OPT_INT },
		{ "currency", "currency", OPT_TEXT },
		{ "tags-add", "tags_add", OPT_LIST },
		{ "tags-remove", "tags_remove", OPT_LIST },
		{ "points", "points_delta", OPT_INT } } },
	{ "customer", "show", "GET", "/v1/customers/%s", "ID", { { 0 } } },
	{ "customer", "list", "GET", "/v1/customers", "[--q TEXT]",
	    { { "q", "q", OPT_QUERY } } },
	{ "customer", "orders", "GET", "/v1/customers/%s/orders", "ID",
	    { { 0 } } },
	{ "order", "create", "POST", "/v1/orders",
	    "--channel store|online|b2b --currency C --line SKU:QTY[:PRICE]... [--customer ID] [--status draft|confirmed|completed] [--fulfil-site S] [--on-account yes] [--note T] [--backorder yes] [--id ID]",
	    { { "channel", "channel", OPT_TEXT },
		{ "currency", "currency", OPT_TEXT },
		{ "line", "lines", OPT_LINES },
		{ "customer", "customer", OPT_TEXT },
		{ "status", "status", OPT_TEXT },
		{ "fulfil-site", "fulfil_site", OPT_TEXT },
		{ "on-account", "on_account", OPT_BOOL },
		{ "note", "note", OPT_TEXT },
		{ "backorder", "backorder", OPT_BOOL },
		{ "id", "id", OPT_TEXT } } },
	{ "order", "show", "GET", "/v1/orders/%s", "ID", { { 0 } } },
	{ "order", "list", "GET", "/v1/orders",
	    "[--status S] [--site S] [--customer ID]",
	    { { "status", "status", OPT_QUERY }, { "site", "site", OPT_QUERY },
		{ "customer", "customer", OPT_QUERY } } },
	{ "order", "move", "POST", "/v1/orders/%s/transition",
	    "ID --to STATUS [--tracking T] [--reason R]",
	    { { "to", "to", OPT_TEXT }, { "tracking", "tracking", OPT_TEXT },
		{ "reason", "reason", OPT_TEXT } } },
	{ "order", "release", "POST", "/v1/orders/%s/release",
	    "ID --reason R  (give back this site's fulfilment of an online order)",
	    { { "reason", "reason", OPT_TEXT } } },
	{ "payment", "take", "POST", "/v1/payments",
	    "--order ID --method cash|card|alipay|wechat|bank_transfer|gift_card --amount MINOR --currency C [--id ID]  (negative amount: refund)",
	    { { "order", "order", OPT_TEXT }, { "method", "method", OPT_TEXT },
		{ "amount", "amount", OPT_INT },
		{ "currency", "currency", OPT_TEXT },
		{ "id", "id", OPT_TEXT } } },
	{ "payment", "list", "GET", "/v1/payments", "[--order ID]",
	    { { "order", "order", OPT_QUERY } } },
	{ "stock", "receive", "POST", "/v1/stock/movements",
	    "--sku SKU --qty N [--ref PO] [--id ID]",
	    { { "sku", "sku", OPT_TEXT }, { "qty", "delta", OPT_INT },
		{ "ref", "ref", OPT_TEXT }, { "id", "id", OPT_TEXT } } },
	{ "stock", "count", "POST", "/v1/stock/counts", "--sku SKU --counted N",
	    { { "sku", "sku", OPT_TEXT }, { "counted", "counted", OPT_INT },
		{ "id", "id", OPT_TEXT } } },
	{ "stock", "transfer", "POST", "/v1/stock/transfers",
	    "--sku SKU --qty N --to SITE [--id ID]",
	    { { "sku", "sku", OPT_TEXT }, { "qty", "qty", OPT_INT },
		{ "to", "to_site", OPT_TEXT }, { "id", "id", OPT_TEXT } } },
	{ "stock", "list", "GET", "/v1/stock", "[--site S] [--sku SKU]",
	    { { "site", "site", OPT_QUERY }, { "sku", "sku", OPT_QUERY } } },
	{ "quota", "grant", "POST", "/v1/quotas",
	    "--site S --sku SKU --qty N [--warehouse W] [--id ID]   (rights on this warehouse's stock)",
	    { { "site", "site", OPT_TEXT }, { "sku", "sku", OPT_TEXT },
		{ "qty", "qty", OPT_INT },
		{ "warehouse", "warehouse", OPT_TEXT },
		{ "id", "id", OPT_TEXT } } },
	{ "quota", "list", "GET", "/v1/quotas",
	    "[--site S] [--sku SKU] [--warehouse W]",
	    { { "site", "site", OPT_QUERY }, { "sku", "sku", OPT_QUERY },
		{ "warehouse", "warehouse", OPT_QUERY } } },
	{ "quota", "show", "GET", "/v1/quotas/%s", "ID", { { 0 } } },
	{ "quota", "recall", "POST", "/v1/quotas/%s/recall",
	    "ID [--reason R]   (the holder returns its unused rights at its next sync)",
	    { { "reason", "reason", OPT_TEXT } } },
	{ "quota", "return", "POST", "/v1/quotas/%s/return",
	    "ID   (at the holder: give back the unused rights)", { { 0 } } },
	{ "transfer", "create", "POST", "/v1/transfers",
	    "--sku SKU --qty N --to SITE [--id ID]   (from this site)",
	    { { "sku", "sku", OPT_TEXT }, { "qty", "qty", OPT_INT },
		{ "to", "to_site", OPT_TEXT }, { "id", "id", OPT_TEXT } } },
	{ "transfer", "ship", "POST", "/v1/transfers/%s/ship",
	    "ID   (at its source: the goods leave, in transit)", { { 0 } } },
	{ "transfer", "receive", "POST", "/v1/transfers/%s/receive",
	    "ID --qty N   (at its destination: what arrived)",
	    { { "qty", "qty", OPT_INT } } },
	{ "transfer", "show", "GET", "/v1/transfers/%s", "ID", { { 0 } } },
	{ "transfer", "list", "GET", "/v1/transfers",
	    "[--status requested|shipped|received|reconciled] [--sku SKU] [--site S]",
	    { { "status", "status", OPT_QUERY }, { "sku", "sku", OPT_QUERY },
		{ "site", "site", OPT_QUERY } } },
	{ "product", "list", "GET", "/v1/products", "", { { 0 } } },
	{ "product", "show", "GET", "/v1/products/%s", "SKU", { { 0 } } },
	{ "invoice", "issue", "POST", "/v1/invoices",
	    "--order ID [--due-days N]",
	    { { "order", "order", OPT_TEXT },
		{ "due-days", "due_days", OPT_INT },
		{ "id", "id", OPT_TEXT } } },
	{ "invoice", "show", "GET", "/v1/invoices/%s", "ID", { { 0 } } },
	{ "invoice", "move", "POST", "/v1/invoices/%s/transition",
	    "ID --to paid|void", { { "to", "to", OPT_TEXT } } },
	{ "case", "open", "POST", "/v1/cases",
	    "--kind return|exchange|complaint|repair [--order ID] [--customer ID] [--line SKU:QTY]... [--description T] [--assignee A]",
	    { { "kind", "kind", OPT_TEXT }, { "order", "order", OPT_TEXT },
		{ "customer", "customer", OPT_TEXT },
		{ "line", "lines", OPT_LINES },
		{ "description", "description", OPT_TEXT },
		{ "assignee", "assignee", OPT_TEXT },
		{ "id", "id", OPT_TEXT } } },
	{ "case", "show", "GET", "/v1/cases/%s", "ID", { { 0 } } },
	{ "case", "list", "GET", "/v1/cases", "[--status S]",
	    { { "status", "status", OPT_QUERY } } },
	{ "case", "edit", "PATCH", "/v1/cases/%s",
	    "ID [--assignee A] [--resolution T] [--rating 1-5]",
	    { { "assignee", "assignee", OPT_TEXT },
		{ "resolution", "resolution", OPT_TEXT },
		{ "rating", "rating", OPT_INT } } },
	{ "case", "note", "POST", "/v1/cases/%s/comments",
	    "ID --text T [--author A]",
	    { { "text", "text", OPT_TEXT },
		{ "author", "author", OPT_TEXT } } },
	{ "case", "move", "POST", "/v1/cases/%s/transition", "ID --to STATUS",
	    { { "to", "to", OPT_TEXT } } },
	{ "approval", "list", "GET", "/v1/approvals",
	    "[--status pending|approved|rejected|cancelled|draft]",
	    { { "status", "status", OPT_QUERY } } },
	{ "alerts", "", "GET", "/v1/alerts", "[--kind K]",
	    { { "kind", "kind", OPT_QUERY } } },
	{ "report", "sales", "GET", "/v1/reports/sales",
	    "[--group site|sku|customer|day] [--from YYYY-MM-DD] [--to YYYY-MM-DD]",
	    { { "group", "group", OPT_QUERY }, { "from", "from", OPT_QUERY },
		{ "to", "to", OPT_QUERY } } },
	{ "report", "stock", "GET", "/v1/reports/stock", "", { { 0 } } },
	{ "report", "receivables", "GET", "/v1/reports/receivables", "",
	    { { 0 } } },
};

#define NCOMMANDS (sizeof s_commands / sizeof s_commands[0])

/* Parses "SKU:QTY[:PRICE]" into a line object, or NULL. */
static json_t *
s_line(const char *text, char *why, size_t size)
{
	char buf[256], *sku, *qty, *price, *end;
	long long q, p;
	json_t *l;

	snprintf(buf, sizeof buf, "%s", text);
	sku = strtok(buf, ":");
	qty = strtok(NULL, ":");
	price = strtok(NULL, ":");
	if (sku == NULL || qty == NULL) {
		snprintf(why, size, "--line '%s': expected SKU:QTY[:PRICE]",
		    text);
		return NULL;
	}
	errno = 0;
	q = strtoll(qty, &end, 10);
	if (*end != '\0' || errno != 0) {
		snprintf(why, size, "--line '%s': QTY is not an integer", text);
		return NULL;
	}
	l = json_pack("{s:s, s:I}", "sku", sku, "qty", (json_int_t)q);
	if (price != NULL) {
		p = strtoll(price, &end, 10);
		if (*end != '\0') {
			json_decref(l);
			snprintf(why, size,
			    "--line '%s': PRICE is not an integer", text);
			return NULL;
		}
		json_object_set_new(l, "unit_price", json_integer(p));
	}
	return l;
}

/* Builds the request body and query from the options. */
static int
s_build(const command_t *c, const args_t *a, json_t *body, json_t *query,
    char *why, size_t size)
{
	const opt_t *o;
	const char *v;
	char *end;
	long long n;
	int i;

	for (o = c->opts; o->flag != NULL; o++) {
		if (o->kind == OPT_LINES) {
			json_t *lines = json_array(), *l;

			for (i = 0; (v = args_nth(a, o->flag, i)) != NULL;
			     i++) {
				if ((l = s_line(v, why, size)) == NULL) {
					json_decref(lines);
					return -1;
				}
				json_array_append_new(lines, l);
			}
			if (i > 0)
				json_object_set_new(body, o->field, lines);
			else
				json_decref(lines);
			continue;
		}
		if ((v = args_get(a, o->flag, NULL)) == NULL)
			continue;
		switch (o->kind) {
		case OPT_TEXT:
			json_object_set_new(body, o->field, json_string(v));
			break;
		case OPT_QUERY:
			json_object_set_new(query, o->field, json_string(v));
			break;
		case OPT_INT:
			errno = 0;
			n = strtoll(v, &end, 10);
			if (*end != '\0' || errno != 0 || v[0] == '\0') {
				snprintf(why, size, "--%s '%s': not an integer",
				    o->flag, v);
				return -1;
			}
			json_object_set_new(body, o->field, json_integer(n));
			break;
		case OPT_BOOL:
			if (strcmp(v, "yes") != 0 && strcmp(v, "no") != 0 &&
			    strcmp(v, "true") != 0 && strcmp(v, "false") != 0) {
				snprintf(why, size,
				    "--%s '%s': must be yes or no", o->flag, v);
				return -1;
			}
			json_object_set_new(body, o->field,
			    json_boolean(strcmp(v, "yes") == 0 ||
				strcmp(v, "true") == 0));
			break;
		case OPT_LIST: {
			json_t *list = json_array();
			char buf[1024], *tok, *save = NULL;

			snprintf(buf, sizeof buf, "%s", v);
			for (tok = strtok_r(buf, ",", &save); tok != NULL;
			     tok = strtok_r(NULL, ",", &save))
				json_array_append_new(list, json_string(tok));
			json_object_set_new(body, o->field, list);
			break;
		}
		case OPT_LINES: break;
		}
	}
	/* A receipt is a stock movement with its reason. */
	if (strcmp(c->path, "/v1/stock/movements") == 0)
		json_object_set_new(body, "reason", json_string("receipt"));
	return 0;
}

/* ---- output for people ---- */

static void
s_scalar(const json_t *v, char *buf, size_t size)
{
	if (json_is_string(v))
		snprintf(buf, size, "%s", json_string_value(v));
	else if (json_is_integer(v))
		snprintf(buf, size, "%lld", (long long)json_integer_value(v));
	else if (json_is_true(v))
		snprintf(buf, size, "yes");
	else if (json_is_false(v))
		snprintf(buf, size, "no");
	else if (json_is_array(v) && json_array_size(v) > 0 &&
	    json_is_string(json_array_get(v, 0))) {
		size_t i, off = 0;
		json_t *e;

		buf[0] = '\0';
		json_array_foreach(v, i, e)
			off += (size_t)snprintf(buf + off,
			    off < size ? size - off : 0, "%s%s", i ? ", " : "",
			    json_string_value(e));
	} else
		snprintf(buf, size, "-");
}

/* A table of objects: a column per key of the first row. */
static void
s_table(const json_t *rows, const char *indent)
{
	const char *keys[16];
	size_t width[16], nkeys = 0, i, k;
	const char *key;
	json_t *v, *row;
	char cell[256];

	if (json_array_size(rows) == 0) {
		printf("%s(none)\n", indent);
		return;
	}
	json_object_foreach(json_array_get(rows, 0), key, v) {
		if (nkeys < 16 && !json_is_object(v) &&
		    !(json_is_array(v) &&
			json_is_object(json_array_get(v, 0)))) {
			keys[nkeys] = key;
			width[nkeys++] = strlen(key);
		}
	}
	json_array_foreach(rows, i, row)
		for (k = 0; k < nkeys; k++) {
			s_scalar(json_object_get(row, keys[k]), cell,
			    sizeof cell);
			if (strlen(cell) > width[k])
				width[k] = strlen(cell);
		}
	printf("%s", indent);
	for (k = 0; k < nkeys; k++) {
		char up[64];
		size_t j;

		for (j = 0; keys[k][j] != '\0' && j < sizeof up - 1; j++)
			up[j] = (char)(keys[k][j] >= 'a' && keys[k][j] <= 'z'
				? keys[k][j] - 32
				: keys[k][j]);
		up[j] = '\0';
		printf("%-*s  ", (int)width[k], up);
	}
	printf("\n");
	json_array_foreach(rows, i, row) {
		printf("%s", indent);
		for (k = 0; k < nkeys; k++) {
			s_scalar(json_object_get(row, keys[k]), cell,
			    sizeof cell);
			printf("%-*s  ", (int)width[k], cell);
		}
		printf("\n");
	}
}

static void
s_print(const json_t *v)
{
	const char *key;
	json_t *f;
	char cell[1024];

	if (json_is_array(json_object_get(v, "items")) &&
	    json_object_size(v) <= 2) {
		s_table(json_object_get(v, "items"), "");
		return;
	}
	json_object_foreach((json_t *)v, key, f) {
		if (json_is_array(f) &&
		    (json_array_size(f) == 0 ||
			json_is_object(json_array_get(f, 0)))) {
			printf("%s:\n", key);
			s_table(f, "  ");
		} else if (json_is_object(f)) {
			printf("%s:\n", key);
			if (json_is_array(json_object_get(f, "items")))
				s_table(json_object_get(f, "items"), "  ");
			else {
				const char *k2;
				json_t *g;

				json_object_foreach(f, k2, g) {
					s_scalar(g, cell, sizeof cell);
					printf("  %-14s %s\n", k2, cell);
				}
			}
		} else {
			s_scalar(f, cell, sizeof cell);
			printf("%-16s %s\n", key, cell);
		}
	}
}

int
cli_is_command(const char *noun)
{
	size_t i;

	for (i = 0; i < NCOMMANDS; i++)
		if (strcmp(s_commands[i].noun, noun) == 0)
			return 1;
	return 0;
}

void
cli_usage(FILE *out)
{
	size_t i;

	for (i = 0; i < NCOMMANDS; i++)
		fprintf(out, "       bl-node %s%s%s --data DIR %s [--json]\n",
		    s_commands[i].noun, s_commands[i].verb[0] ? " " : "",
		    s_commands[i].verb, s_commands[i].help);
}

int
cli_run(int argc, char **argv)
{
	static const char *const json_flag[] = { "json", NULL };
	const char *noun = argv[0], *verb = argc > 1 ? argv[1] : "";
	const command_t *c = NULL;
	const char *allowed[20];
	char path[512], why[ERR_MSG_MAX], dbpath[4096], name[64];
	json_t *body, *query, *out;
	store_t *st;
	api_t *api;
	args_t a;
	err_t err;
	size_t i;
	int k, status, skip;

	for (i = 0; i < NCOMMANDS; i++)
		if (strcmp(s_commands[i].noun, noun) == 0 &&
		    (s_commands[i].verb[0] == '\0' ||
			strcmp(s_commands[i].verb, verb) == 0))
			c = &s_commands[i];
	if (c == NULL) {
		fprintf(stderr, "bl-node: %s: unknown command '%s'; one of:\n",
		    noun, verb);
		for (i = 0; i < NCOMMANDS; i++)
			if (strcmp(s_commands[i].noun, noun) == 0)
				fprintf(stderr, "  bl-node %s %s %s\n", noun,
				    s_commands[i].verb, s_commands[i].help);
		return 2;
	}
	skip = c->verb[0] ? 2 : 1;
	snprintf(name, sizeof name, "%s%s%s", noun, c->verb[0] ? " " : "",
	    c->verb);
	allowed[0] = "data";
	for (k = 0; c->opts[k].flag != NULL; k++)
		allowed[k + 1] = c->opts[k].flag;
	allowed[k + 1] = NULL;
	if (args_parse(&a, argc - skip, argv + skip, allowed, json_flag,
		&err)) {
		fprintf(stderr, "bl-node: %s: %s\n", name, err.msg);
		return 2;
	}
	if (!args_has(&a, "data")) {
		fprintf(stderr, "bl-node: %s: --data DIR is required\n", name);
		return 2;
	}
	if ((strstr(c->path, "%s") != NULL) != (a.positional != NULL)) {
		fprintf(stderr, "bl-node: %s: %s\n", name,
		    a.positional ? "takes no id" : "which one? give its id");
		return 2;
	}
	snprintf(path, sizeof path, c->path, a.positional ? a.positional : "");
	body = json_object();
	query = json_object();
	if (s_build(c, &a, body, query, why, sizeof why)) {
		fprintf(stderr, "bl-node: %s: %s\n", name, why);
		json_decref(body);
		json_decref(query);
		return 2;
	}
	snprintf(dbpath, sizeof dbpath, "%s/%s", args_get(&a, "data", "."),
	    NODE_DB);
	st = store_open(dbpath, STORE_NODE, 0, &apply_rules, &err);
	if (st == NULL) {
		fprintf(stderr, "bl-node: %s: %s\n", name, err.msg);
		json_decref(body);
		json_decref(query);
		return 1;
	}
	api = api_new(NULL, st, "site");
	status = api_call(api, c->method, path, query,
	    strcmp(c->method, "GET") == 0 ? NULL : body, &out);
	if (status >= 400) {
		fprintf(stderr, "bl-node: %s: %s\n", name,
		    json_string_value(
			json_object_get(json_object_get(out, "error"),
			    "message")));
	} else if (args_has(&a, "json")) {
		char *text = json_dumps(out, JSON_COMPACT);

		printf("%s\n", text);
		free(text);
	} else {
		s_print(out);
	}
	json_decref(out);
	json_decref(body);
	json_decref(query);
	api_destroy(&api);
	store_close(&st);
	return status >= 400 ? 1 : 0;
}
