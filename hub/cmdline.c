/*
 * cmdline: what the hub's commands for people share (users, reports,
 * quotas, transfers, approvals): opening the hub's store of a data
 * folder, times and money written for people, and an API request run
 * in-process as head office with its answer printed as a table or JSON.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "apply.h"
#include "conf.h"
#include "hub.h"
#include "pgstore.h"
#include "prog.h"

/* Attaches the shared log of the cluster whose config in dir names one
 * (store=): 0, also when there is none (a hub on its own, or one restored
 * into a folder without a config), or -1 with err. */
static int
s_shared_log(const char *dir, store_t *st, err_t *err)
{
	char path[4096];
	const char *uri;
	conf_t conf;

	snprintf(path, sizeof path, "%s/config", dir);
	if (access(path, F_OK) != 0)
		return 0;
	if (conf_load(dir, &conf, err))
		return -1;
	if ((uri = conf_get(&conf, HUB_CONF_STORE, NULL)) == NULL)
		return 0;
	return pgstore_attach(st, uri, err);
}

store_t *
hub_open(const char *dir, err_t *err)
{
	char path[4096];
	store_t *st;

	snprintf(path, sizeof path, "%s/%s", dir, HUB_DB);
	if (access(path, F_OK) != 0) {
		err_set(err, ERR_NOT_FOUND, "%s: no hub here (run bl-hub init)",
		    dir);
		return NULL;
	}
	/* Who may receive what it writes (visibility.c). */
	if ((st = store_open(path, STORE_HUB, 0, &apply_rules, err)) == NULL)
		return NULL;
	visibility_attach(st);
	/* A hub of a cluster: what it writes goes through the shared log
	 * (pgstore.h). */
	if (s_shared_log(dir, st, err) != 0)
		store_close(&st);
	return st;
}

void
hub_format_ms(uint64_t ms, char *buf, size_t size)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (ms == 0 || gmtime_r(&t, &tm) == NULL)
		snprintf(buf, size, "-");
	else
		strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm);
}

/* Digits after the point of an ISO 4217 currency's major unit. */
static int
s_exponent(const char *currency)
{
	static const char *const zero[] = { "BIF", "CLP", "DJF", "GNF", "ISK",
		"JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV",
		"XAF", "XOF", "XPF" };
	static const char *const three[] = { "BHD", "IQD", "JOD", "KWD", "LYD",
		"OMR", "TND" };
	size_t i;

	for (i = 0; i < sizeof zero / sizeof zero[0]; i++)
		if (strcmp(currency, zero[i]) == 0)
			return 0;
	for (i = 0; i < sizeof three / sizeof three[0]; i++)
		if (strcmp(currency, three[i]) == 0)
			return 3;
	if (strcmp(currency, "CLF") == 0 || strcmp(currency, "UYW") == 0)
		return 4;
	return 2;
}

void
hub_format_money(int64_t minor, const char *currency, char *buf, size_t size)
{
	char digits[32];
	int e = s_exponent(currency != NULL ? currency : "");
	uint64_t u = minor < 0 ? (uint64_t)0 - (uint64_t)minor
			       : (uint64_t)minor;
	size_t n;

	snprintf(digits, sizeof digits, "%0*llu", e + 1, (unsigned long long)u);
	n = strlen(digits);
	if (e == 0)
		snprintf(buf, size, "%s%s", minor < 0 ? "-" : "", digits);
	else
		snprintf(buf, size, "%s%.*s.%s", minor < 0 ? "-" : "",
		    (int)(n - (size_t)e), digits, digits + n - (size_t)e);
}

/* The cell of col in row: the string itself, an integer written into buf,
 * or none. */
static const char *
s_cell(const json_t *row, const hub_col_t *col, const char *none, char *buf,
    size_t size)
{
	const json_t *v = json_object_get(row, col->key);

	if (json_is_string(v))
		return json_string_value(v);
	if (!json_is_integer(v))
		return none;
	if (col->kind == HUB_COL_TIME)
		hub_format_ms((uint64_t)json_integer_value(v), buf, size);
	else
		snprintf(buf, size, "%lld", (long long)json_integer_value(v));
	return buf;
}

/* Prints the line of cells, each padded to its width but the last. */
static void
s_line(const char *const *cells, const size_t *width, size_t n)
{
	size_t k;

	for (k = 0; k < n; k++)
		printf("%-*s%s", k + 1 < n ? (int)width[k] : 0, cells[k],
		    k + 1 < n ? "  " : "\n");
}

void
hub_print_table(const json_t *rows, const hub_table_t *t)
{
	size_t n = t->ncols, width[HUB_COLS_MAX], i, k, w;
	const char *cells[HUB_COLS_MAX];
	char num[HUB_COLS_MAX][32];
	json_t *row;

	assert(n <= HUB_COLS_MAX);
	for (k = 0; k < n; k++) {
		cells[k] = t->cols[k].head;
		width[k] = strlen(cells[k]);
	}
	json_array_foreach(rows, i, row)
		for (k = 0; k < n; k++) {
			w = strlen(s_cell(row, &t->cols[k], t->none, num[k],
			    sizeof num[k]));
			if (w > width[k])
				width[k] = w;
		}
	s_line(cells, width, n);
	json_array_foreach(rows, i, row) {
		for (k = 0; k < n; k++)
			cells[k] = s_cell(row, &t->cols[k], t->none, num[k],
			    sizeof num[k]);
		s_line(cells, width, n);
	}
	if (json_array_size(rows) == 0)
		printf("(none)\n");
}

void
hub_print_json(const json_t *json)
{
	char *text = json_dumps(json, JSON_COMPACT);

	printf("%s\n", text != NULL ? text : "null");
	free(text);
}

void
hub_args_fields(const args_t *a, const char *const *flags, json_t *o)
{
	const char *v;

	for (; *flags != NULL; flags++)
		if ((v = args_get(a, *flags, NULL)) != NULL)
			json_object_set_new(o, *flags, json_string(v));
}

int
hub_call(const args_t *a, const char *method, const char *path,
    const json_t *query, const json_t *body, json_t **out, err_t *err)
{
	const char *msg;
	store_t *st;
	api_t *api;
	int status;

	*out = NULL;
	if ((st = hub_open(args_get(a, "data", "."), err)) == NULL)
		return -1;
	if (recover_hold(st, err)) {
		store_close(&st);
		return -1;
	}
	api = api_new(NULL, st, "hq");
	status = api_call(api, method, path, query, body, out);
	api_destroy(&api);
	store_close(&st);
	if (status < 400)
		return 0;
	msg = json_string_value(
	    json_object_get(json_object_get(*out, "error"), "message"));
	err_set(err, (err_code_t)status, "%s", msg != NULL ? msg : "failed");
	json_decref(*out);
	*out = NULL;
	return -1;
}

int
hub_fail(const err_t *err)
{
	return prog_fail(err->code == ERR_BAD_REQUEST ? PROG_EXIT_USAGE : 1,
	    err);
}

int
hub_call_print(const args_t *a, const char *method, const char *path,
    const json_t *query, const json_t *body, const hub_table_t *table)
{
	json_t *out, *rows;
	err_t err;

	if (hub_call(a, method, path, query, body, &out, &err))
		return hub_fail(&err);
	if (args_has(a, "json")) {
		hub_print_json(out);
	} else if ((rows = json_object_get(out, "items")) != NULL) {
		hub_print_table(rows, table);
	} else {
		rows = json_pack("[O]", out);
		hub_print_table(rows, table);
		json_decref(rows);
	}
	json_decref(out);
	return 0;
}

int
hub_list(const args_t *a, const char *path, const char *const *filters,
    const hub_table_t *table)
{
	json_t *query = json_object();
	int rc;

	hub_args_fields(a, filters, query);
	rc = hub_call_print(a, "GET", path, query, NULL, table);
	json_decref(query);
	return rc;
}
