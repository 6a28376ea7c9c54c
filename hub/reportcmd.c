/*
 * reportcmd: bl-hub report sales|stock|receivables|alerts|sites, head
 * office's reports on the command line, as a table for people, the API's
 * JSON, or CSV for spreadsheets and scripts.
 *
 * Each report is the API's resource called in-process (api_call, as
 * bl-node's commands do), so the command line and the console show the
 * same figures: sales, stock and receivables on the hub's database
 * whether the hub runs or not. alerts and sites also carry what only the
 * running daemon knows (connections, silences, disks): beside a running
 * hub they are asked of it over its HTTP API (daemon_ask); without one,
 * from the database alone, and the link column says unknown.
 *
 * Rows gain names where a key has one (a site's, a product's, a
 * customer's). Money is shown in major units of its currency (8750 CNY
 * is 87.50; JPY has no minor unit, KWD three: ISO 4217), next to the
 * currency; JSON keeps the API's integers in minor units.
 *
 * CSV is RFC 4180: a header row, CRLF line ends, a field quoted when it
 * holds a comma, a quote (doubled) or a line break, UTF-8 throughout.
 * --bom starts it with a UTF-8 byte order mark, for Microsoft Excel: it
 * opens a .csv without one in the Windows code page (GBK on a Chinese
 * Windows), which garbles every name that is not ASCII. LibreOffice Calc
 * and scripts need none, and a script would read the mark as part of the
 * first header, so it is not the default.
 */
#include <event2/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "hub.h"
#include "log.h"
#include "prog.h"
#include "runlock.h"
#include "text.h"

typedef enum {
	COL_TEXT,
	COL_INT,
	COL_MONEY, /* minor units; the row's "currency" */
	COL_TIME,  /* unix ms */
	COL_BOOL,
} col_kind_t;

typedef struct {
	const char *key;  /* in the row object */
	const char *head; /* the column's header */
	col_kind_t kind;
} col_t;

#define COLS_MAX 16

/* The cell of col in row, as text, into buf. */
static void
s_cell(const json_t *row, const col_t *col, char *buf, size_t size)
{
	const json_t *v = json_object_get(row, col->key);

	buf[0] = '\0';
	if (v == NULL || json_is_null(v))
		return;
	switch (col->kind) {
	case COL_TEXT:
		if (json_is_string(v))
			snprintf(buf, size, "%s", json_string_value(v));
		else if (json_is_integer(v))
			snprintf(buf, size, "%lld",
			    (long long)json_integer_value(v));
		break;
	case COL_INT:
		snprintf(buf, size, "%lld", (long long)json_integer_value(v));
		break;
	case COL_MONEY:
		hub_format_money(json_integer_value(v),
		    json_string_value(json_object_get(row, "currency")), buf,
		    size);
		break;
	case COL_TIME:
		hub_format_ms((uint64_t)json_integer_value(v), buf, size);
		break;
	case COL_BOOL:
		snprintf(buf, size, "%s", json_is_true(v) ? "yes" : "no");
	}
}

/* Whether code point c takes two columns of a terminal (East Asian
 * wide and fullwidth). */
static int
s_wide(uint32_t c)
{
	return (c >= 0x1100 && c <= 0x115f) ||
	    (c >= 0x2e80 && c <= 0xa4cf && c != 0x303f) ||
	    (c >= 0xac00 && c <= 0xd7a3) || (c >= 0xf900 && c <= 0xfaff) ||
	    (c >= 0xfe30 && c <= 0xfe4f) || (c >= 0xff00 && c <= 0xff60) ||
	    (c >= 0xffe0 && c <= 0xffe6) || (c >= 0x20000 && c <= 0x3fffd);
}

/* Columns a terminal gives s. */
static size_t
s_width(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t w = 0, left = strlen(s), n, i;
	uint32_t c;

	while (left > 0) {
		n = text_utf8_len(p, left);
		if (n == 0) { /* not UTF-8: one column, as '?' would take */
			n = 1;
			c = '?';
		} else {
			static const unsigned char lead[] = { 0, 0x7f, 0x1f,
				0x0f, 0x07 };

			c = p[0] & lead[n];
			for (i = 1; i < n; i++)
				c = (c << 6) | (p[i] & 0x3f);
		}
		w += s_wide(c) ? 2 : 1;
		p += n;
		left -= n;
	}
	return w;
}

static void
s_table(const json_t *rows, const col_t *cols, int ncols)
{
	size_t width[COLS_MAX], i, w;
	char cell[1024];
	json_t *row;
	int k;

	for (k = 0; k < ncols; k++)
		width[k] = strlen(cols[k].head);
	json_array_foreach(rows, i, row)
		for (k = 0; k < ncols; k++) {
			s_cell(row, &cols[k], cell, sizeof cell);
			if ((w = s_width(cell)) > width[k])
				width[k] = w;
		}
	for (k = 0; k < ncols; k++)
		printf("%-*s%s", (int)width[k], cols[k].head,
		    k + 1 < ncols ? "  " : "\n");
	json_array_foreach(rows, i, row)
		for (k = 0; k < ncols; k++) {
			s_cell(row, &cols[k], cell, sizeof cell);
			/* Numbers right-aligned, text left. */
			if (cols[k].kind == COL_INT ||
			    cols[k].kind == COL_MONEY)
				printf("%*s%s", (int)width[k], cell,
				    k + 1 < ncols ? "  " : "\n");
			else
				printf("%s%*s%s", cell,
				    (int)(width[k] - s_width(cell)), "",
				    k + 1 < ncols ? "  " : "\n");
		}
	if (json_array_size(rows) == 0)
		printf("(none)\n");
}

/* One CSV field, quoted when RFC 4180 says it must be. */
static void
s_csv_field(const char *s)
{
	if (strpbrk(s, ",\"\r\n") == NULL) {
		fputs(s, stdout);
		return;
	}
	putchar('"');
	for (; *s != '\0'; s++) {
		if (*s == '"')
			putchar('"');
		putchar(*s);
	}
	putchar('"');
}

static void
s_csv(const json_t *rows, const col_t *cols, int ncols, int bom)
{
	char cell[1024];
	json_t *row;
	size_t i;
	int k;

	if (bom)
		fputs("\xef\xbb\xbf", stdout);
	for (k = 0; k < ncols; k++) {
		s_csv_field(cols[k].head);
		fputs(k + 1 < ncols ? "," : "\r\n", stdout);
	}
	json_array_foreach(rows, i, row)
		for (k = 0; k < ncols; k++) {
			s_cell(row, &cols[k], cell, sizeof cell);
			s_csv_field(cell);
			fputs(k + 1 < ncols ? "," : "\r\n", stdout);
		}
}

/* ---- the reports ---- */

/* What one report run holds. */
typedef struct {
	const char *dir;
	const char *which;
	store_t *store; /* NULL when asked of the daemon */
	api_t *api;
	err_t err;
} run_t;

/* GET path with query in-process: 0 with *out, or -1 with err. */
static int
s_get(run_t *r, const char *path, const json_t *query, json_t **out)
{
	int status = api_call(r->api, "GET", path, query, NULL, out);

	if (status == 200)
		return 0;
	err_set(&r->err, status == 400 ? ERR_BAD_REQUEST : ERR_INTERNAL, "%s",
	    json_string_value(
		json_object_get(json_object_get(*out, "error"), "message")));
	json_decref(*out);
	*out = NULL;
	return -1;
}

/* Sets "name" of row to the "name" of GET prefix/id, when it has one. */
static void
s_name_of(run_t *r, json_t *row, const char *prefix, const char *id)
{
	char path[512], *enc = evhttp_uriencode(id, -1, 0);
	json_t *o = NULL;

	snprintf(path, sizeof path, "%s/%s", prefix, enc != NULL ? enc : "");
	free(enc);
	if (api_call(r->api, "GET", path, NULL, NULL, &o) == 200 &&
	    json_is_string(json_object_get(o, "name")))
		json_object_set(row, "name", json_object_get(o, "name"));
	json_decref(o);
}

/* The site registry by id: {id: {name, region}}. */
static json_t *
s_sites(run_t *r)
{
	sqlite3_stmt *q = store_stmt(r->store,
	    "SELECT id, name, region FROM sites");
	json_t *m = json_object();

	while (store_row(r->store, q))
		json_object_set_new(m, (const char *)sqlite3_column_text(q, 0),
		    json_pack("{s:s?, s:s?}", "name",
			(const char *)sqlite3_column_text(q, 1), "region",
			(const char *)sqlite3_column_text(q, 2)));
	sqlite3_reset(q);
	return m;
}

static int
s_sales(run_t *r, const args_t *a, json_t **out, col_t *cols, int *ncols)
{
	const char *group = args_get(a, "group", "site");
	json_t *q = json_object(), *sites, *row;
	size_t i;
	int n = 0;

	json_object_set_new(q, "group", json_string(group));
	if (args_has(a, "from"))
		json_object_set_new(q, "from",
		    json_string(args_get(a, "from", "")));
	if (args_has(a, "to"))
		json_object_set_new(q, "to",
		    json_string(args_get(a, "to", "")));
	if (s_get(r, "/v1/reports/sales", q, out)) {
		json_decref(q);
		return -1;
	}
	json_decref(q);
	group = json_string_value(json_object_get(*out, "group"));
	sites = s_sites(r);
	json_array_foreach(json_object_get(*out, "items"), i, row) {
		const char *key = json_string_value(
		    json_object_get(row, group));

		if (strcmp(group, "site") == 0)
			json_object_set(row, "name",
			    json_object_get(json_object_get(sites, key),
				"name"));
		else if (strcmp(group, "sku") == 0)
			s_name_of(r, row, "/v1/products", key);
		else if (strcmp(group, "customer") == 0)
			s_name_of(r, row, "/v1/customers", key);
	}
	json_decref(sites);
	cols[n++] = (col_t){ group, group, COL_TEXT };
	if (strcmp(group, "day") != 0)
		cols[n++] = (col_t){ "name", "name", COL_TEXT };
	cols[n++] = (col_t){ "currency", "currency", COL_TEXT };
	cols[n++] = (col_t){ "orders", "orders", COL_INT };
	cols[n++] = (col_t){ "qty", "qty", COL_INT };
	cols[n++] = (col_t){ "total", "total", COL_MONEY };
	*ncols = n;
	return 0;
}

static int
s_stock(run_t *r, json_t **out, col_t *cols, int *ncols)
{
	static const col_t c[] = { { "site", "site", COL_TEXT },
		{ "region", "region", COL_TEXT }, { "sku", "sku", COL_TEXT },
		{ "name", "name", COL_TEXT }, { "on_hand", "on_hand", COL_INT },
		{ "reserved", "reserved", COL_INT },
		{ "available", "available", COL_INT },
		{ "safety_stock", "safety_stock", COL_INT },
		{ "state", "state", COL_TEXT } };
	json_t *sites, *products = NULL, *row, *p;
	size_t i, k;

	if (s_get(r, "/v1/reports/stock", NULL, out) ||
	    s_get(r, "/v1/products", NULL, &products))
		return -1;
	sites = s_sites(r);
	json_array_foreach(json_object_get(*out, "items"), i, row) {
		const char *site = json_string_value(
		    json_object_get(row, "site"));
		const char *sku = json_string_value(
		    json_object_get(row, "sku"));
		json_int_t avail = json_integer_value(
		    json_object_get(row, "available"));
		json_int_t on_hand = json_integer_value(
		    json_object_get(row, "on_hand"));
		json_t *safety = json_object_get(row, "safety_stock");

		json_object_set(row, "region",
		    json_object_get(json_object_get(sites, site), "region"));
		json_array_foreach(json_object_get(products, "items"), k, p)
			if (strcmp(json_string_value(json_object_get(p, "sku")),
				sku) == 0)
				json_object_set(row, "name",
				    json_object_get(p, "name"));
		json_object_set_new(row, "state",
		    json_string(on_hand < 0 || avail < 0 ? "negative"
			    : safety != NULL &&
				avail < json_integer_value(safety)
			    ? "low"
			    : "ok"));
	}
	json_decref(sites);
	json_decref(products);
	memcpy(cols, c, sizeof c);
	*ncols = sizeof c / sizeof c[0];
	return 0;
}

static int
s_receivables(run_t *r, json_t **out, col_t *cols, int *ncols)
{
	static const col_t c[] = { { "invoice", "invoice", COL_TEXT },
		{ "order", "order", COL_TEXT }, { "site", "site", COL_TEXT },
		{ "currency", "currency", COL_TEXT },
		{ "amount", "amount", COL_MONEY },
		{ "age_days", "age_days", COL_INT },
		{ "bucket", "bucket", COL_TEXT },
		{ "overdue", "overdue", COL_BOOL } };

	if (s_get(r, "/v1/reports/receivables", NULL, out))
		return -1;
	memcpy(cols, c, sizeof c);
	*ncols = sizeof c / sizeof c[0];
	return 0;
}

/* GET path of the daemon running on dir, or NULL in *out when none
 * runs; -1 with err when one runs and did not answer. */
static int
s_daemon(run_t *r, const char *path, json_t **out)
{
	long pid;

	*out = NULL;
	if (runlock_holder(r->dir, &pid, &r->err))
		return -1;
	if (pid == 0)
		return 0;
	return daemon_ask(r->dir, path, 5000, out, &r->err);
}

static int
s_alerts(run_t *r, json_t **out, col_t *cols, int *ncols)
{
	static const col_t c[] = { { "at", "at", COL_TIME },
		{ "kind", "kind", COL_TEXT }, { "site", "site", COL_TEXT },
		{ "subject", "subject", COL_TEXT },
		{ "message", "message", COL_TEXT } };

	if (s_daemon(r, "/v1/alerts", out))
		return -1;
	if (*out == NULL) {
		if (s_get(r, "/v1/alerts", NULL, out))
			return -1;
		fprintf(stderr,
		    "bl-hub: report alerts: the hub is not running here: "
		    "without the sites' silences, disks and twins\n");
	}
	memcpy(cols, c, sizeof c);
	*ncols = sizeof c / sizeof c[0];
	return 0;
}

static int
s_site_rows(run_t *r, json_t **out, col_t *cols, int *ncols)
{
	static const col_t c[] = { { "site", "site", COL_TEXT },
		{ "name", "name", COL_TEXT }, { "role", "role", COL_TEXT },
		{ "region", "region", COL_TEXT }, { "link", "link", COL_TEXT },
		{ "silent", "silent", COL_BOOL },
		{ "last_contact_ms", "last_contact", COL_TIME },
		{ "last_push_ms", "last_push", COL_TIME },
		{ "ops_held", "ops_held", COL_INT },
		{ "quarantined", "quarantined", COL_INT },
		{ "conflicts", "conflicts", COL_INT },
		{ "clock_offset_ms", "clock_offset_ms", COL_INT },
		{ "ops_waiting_max", "ops_waiting_max", COL_INT },
		{ "disk_problem", "disk_problem", COL_TEXT } };
	json_t *row;
	conf_t conf;
	long long silent;
	size_t i;

	if (s_daemon(r, "/v1/sites/sync", out))
		return -1;
	if (*out == NULL &&
	    (conf_load(r->dir, &conf, &r->err) ||
		conf_get_int(&conf, "silent_after_s",
		    SERVER_SILENT_DEFAULT_MS / 1000, 5, 365LL * 86400, &silent,
		    &r->err) ||
		sitesync_list(r->store, NULL, (uint64_t)silent * 1000,
		    hlc_wall_ms(), out, &r->err)))
		return -1;
	json_array_foreach(json_object_get(*out, "items"), i, row) {
		json_t *disk = json_object_get(row, "disk");
		const char *p = json_string_value(
		    json_object_get(disk, "problem"));

		if (p != NULL && p[0] != '\0')
			json_object_set_new(row, "disk_problem",
			    json_string(p));
	}
	memcpy(cols, c, sizeof c);
	*ncols = sizeof c / sizeof c[0];
	return 0;
}

/* bl-hub report WHICH: see the top of this file. */
static int
s_report(const args_t *a, const char *which)
{
	const char *format = args_get(a, "format", "table");
	col_t cols[COLS_MAX];
	json_t *out = NULL, *totals, *t;
	const char *cur;
	int ncols = 0, rc;
	run_t r;

	memset(&r, 0, sizeof r);
	r.dir = args_get(a, "data", ".");
	r.which = which;
	if (strcmp(which, "sales") != 0 &&
	    (args_has(a, "group") || args_has(a, "from") ||
		args_has(a, "to"))) {
		err_set(&r.err, ERR_BAD_REQUEST,
		    "--group, --from and --to are for report sales");
		return prog_fail(PROG_EXIT_USAGE, &r.err);
	}
	if (strcmp(format, "table") != 0 && strcmp(format, "json") != 0 &&
	    strcmp(format, "csv") != 0) {
		err_set(&r.err, ERR_BAD_REQUEST,
		    "--format '%s': must be table, json or csv", format);
		return prog_fail(PROG_EXIT_USAGE, &r.err);
	}
	if (args_has(a, "bom") && strcmp(format, "csv") != 0) {
		err_set(&r.err, ERR_BAD_REQUEST, "--bom is for --format csv");
		return prog_fail(PROG_EXIT_USAGE, &r.err);
	}
	if ((r.store = hub_open(r.dir, &r.err)) == NULL)
		return prog_fail(1, &r.err);
	r.api = api_new(NULL, r.store, "hq");
	if (strcmp(which, "sales") == 0)
		rc = s_sales(&r, a, &out, cols, &ncols);
	else if (strcmp(which, "stock") == 0)
		rc = s_stock(&r, &out, cols, &ncols);
	else if (strcmp(which, "receivables") == 0)
		rc = s_receivables(&r, &out, cols, &ncols);
	else if (strcmp(which, "alerts") == 0)
		rc = s_alerts(&r, &out, cols, &ncols);
	else
		rc = s_site_rows(&r, &out, cols, &ncols);
	api_destroy(&r.api);
	store_close(&r.store);
	if (rc != 0) {
		json_decref(out);
		return prog_fail(r.err.code == ERR_BAD_REQUEST ? PROG_EXIT_USAGE
							       : 1,
		    &r.err);
	}
	if (strcmp(format, "json") == 0) {
		char *text = json_dumps(out, JSON_COMPACT);

		printf("%s\n", text);
		free(text);
	} else if (strcmp(format, "csv") == 0) {
		s_csv(json_object_get(out, "items"), cols, ncols,
		    args_has(a, "bom"));
	} else {
		s_table(json_object_get(out, "items"), cols, ncols);
		totals = json_object_get(out, "totals");
		json_object_foreach(totals, cur, t) {
			const char *bucket;
			json_t *v;
			char money[64];

			printf("total %s:", cur);
			json_object_foreach(t, bucket, v) {
				hub_format_money(json_integer_value(v), cur,
				    money, sizeof money);
				printf("  %s %s", bucket, money);
			}
			printf("\n");
		}
	}
	json_decref(out);
	return 0;
}

int
reportcmd_sales(const args_t *a)
{
	return s_report(a, "sales");
}

int
reportcmd_stock(const args_t *a)
{
	return s_report(a, "stock");
}

int
reportcmd_receivables(const args_t *a)
{
	return s_report(a, "receivables");
}

int
reportcmd_alerts(const args_t *a)
{
	return s_report(a, "alerts");
}

int
reportcmd_sites(const args_t *a)
{
	return s_report(a, "sites");
}
