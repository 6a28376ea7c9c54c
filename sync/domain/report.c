/* report: sales and stock reports (see report.h). */
#include "report.h"

#include <stdlib.h>
#include <string.h>

#include "money.h"
#include "order.h"
#include "rec.h"
#include "req.h"
#include "stock.h"

/* Validates a YYYY-MM-DD day. */
static int
s_day_valid(const char *d)
{
	int y, m, dd;
	char extra;

	return strlen(d) == 10 &&
	    sscanf(d, "%4d-%2d-%2d%c", &y, &m, &dd, &extra) == 3 && m >= 1 &&
	    m <= 12 && dd >= 1 && dd <= 31;
}

/* One group of the sales report as its rows come: the group's key and
 * currency (NULL before the first row), its orders, and its quantity and
 * amount summed exactly. */
typedef struct {
	char *key;
	char *currency;
	int64_t orders;
	money_sum_t qty;
	money_sum_t total;
} s_group_t;

/* Appends group g (if any) to items as {name: key, currency, orders, qty,
 * total} and empties it: 0, or -1 with ERR_UNPROCESSABLE naming the group
 * when its qty or total does not fit in int64. */
static int
s_group_end(s_group_t *g, const char *name, json_t *items, err_t *err)
{
	char what[160];
	int64_t qty, total;
	int rc = 0;

	if (g->key == NULL)
		return 0;
	snprintf(what, sizeof what, "report sales: %s %s, %s", name, g->key,
	    g->currency);
	if (money_fit(g->qty, "qty", &qty, err) ||
	    money_fit(g->total, "total", &total, err))
		rc = err_prefix(err, "%s", what);
	else
		json_array_append_new(items,
		    json_pack("{s:s, s:s, s:I, s:I, s:I}", name, g->key,
			"currency", g->currency, "orders",
			(json_int_t)g->orders, "qty", (json_int_t)qty, "total",
			(json_int_t)total));
	free(g->key);
	free(g->currency);
	memset(g, 0, sizeof *g);
	return rc;
}

/*
 * The SQL gives one row per group, currency and order: an order's lines in
 * a group sum to at most the order's total, which fits (money.h), so SQLite
 * never overflows. The groups' sums over their orders have no such bound:
 * they are summed here, exactly, and a group whose total does not fit in
 * int64 is an error that names it, never a wrapped or a missing row.
 */
int
report_sales(store_t *st, const json_t *query, json_t **out, err_t *err)
{
	const char *group = req_query(query, "group");
	const char *from = req_query(query, "from");
	const char *to = req_query(query, "to");
	static const struct {
		const char *name;
		const char *sql;
	} groups[] = {
/* SQL reads better as written than as clang-format would fold it. */
/* clang-format off */
/* Line l of order o counts unless o was cancelled itself and counts as a
 * sale only because a fulfilment shipped anyway (order_status, fulfil.h):
 * then only the lines its shipped fulfilments cover count, lines alike
 * one for one, as fulfil_cover matches them. */
#define SOLD_LINE \
	"((SELECT max(h.rank) FROM order_history h WHERE h.order_id = o.id) " \
	"!= " ORDER_SQL(ORDER_RANK_CANCELLED) " OR " \
	"(SELECT count(*) FROM order_lines q WHERE q.order_id = o.id " \
	"AND q.sku = l.sku AND q.qty = l.qty AND q.unit_price = l.unit_price " \
	"AND q.line <= l.line) <= (SELECT count(*) FROM orders c " \
	"JOIN order_lines q ON q.order_id = c.id WHERE c.parent = o.id " \
	"AND q.sku = l.sku AND q.qty = l.qty AND q.unit_price = l.unit_price " \
	"AND (SELECT max(h.rank) FROM order_history h WHERE h.order_id = c.id) " \
	">= " ORDER_SQL(ORDER_RANK_SHIPPED) "))"
#define SALES(KEY) \
	"SELECT " KEY " AS k, o.currency, sum(l.qty), " \
	"sum(l.qty * l.unit_price) FROM orders o " \
	"JOIN order_status s ON s.order_id = o.id " \
	"JOIN order_lines l ON l.order_id = o.id " \
	"WHERE o.parent IS NULL " \
	"AND s.rank >= " ORDER_SQL(ORDER_RANK_CONFIRMED) \
	" AND s.rank != " ORDER_SQL(ORDER_RANK_CANCELLED) " AND " SOLD_LINE " " \
	"AND (?1 IS NULL OR " \
	"date(hlc_ms(o.created_hlc) / 1000, 'unixepoch') >= ?1) " \
	"AND (?2 IS NULL OR " \
	"date(hlc_ms(o.created_hlc) / 1000, 'unixepoch') <= ?2) " \
	"GROUP BY k, o.currency, o.id ORDER BY k, o.currency"
		/* clang-format on */
		{ "site", SALES("o.site") },
		{ "sku", SALES("l.sku") },
		{ "customer", SALES("coalesce(o.customer, '(walk-in)')") },
		{ "day",
		    SALES("date(hlc_ms(o.created_hlc) / 1000, 'unixepoch')") },
#undef SALES
#undef SOLD_LINE
	};
	sqlite3_stmt *s;
	json_t *items;
	s_group_t g;
	size_t i;
	int failed = 0;

	if (group == NULL)
		group = "site";
	for (i = 0; i < sizeof groups / sizeof groups[0]; i++)
		if (strcmp(groups[i].name, group) == 0)
			break;
	if (i == sizeof groups / sizeof groups[0])
		return err_set(err, ERR_BAD_REQUEST,
		    "group: '%s' is not one of site, sku, customer, day",
		    group);
	if ((from != NULL && !s_day_valid(from)) ||
	    (to != NULL && !s_day_valid(to)))
		return err_set(err, ERR_BAD_REQUEST,
		    "%s: '%s' is not a YYYY-MM-DD day",
		    from != NULL && !s_day_valid(from) ? "from" : "to",
		    from != NULL && !s_day_valid(from) ? from : to);
	s = store_stmt(st, groups[i].sql);
	if (from != NULL)
		sqlite3_bind_text(s, 1, from, -1, SQLITE_STATIC);
	if (to != NULL)
		sqlite3_bind_text(s, 2, to, -1, SQLITE_STATIC);
	items = json_array();
	memset(&g, 0, sizeof g);
	while (store_row(st, s)) {
		const char *key = (const char *)sqlite3_column_text(s, 0);
		const char *cur = (const char *)sqlite3_column_text(s, 1);

		key = key != NULL ? key : "";
		cur = cur != NULL ? cur : "";
		if (g.key == NULL || strcmp(g.key, key) != 0 ||
		    strcmp(g.currency, cur) != 0) {
			if (s_group_end(&g, group, items, err)) {
				failed = 1;
				break;
			}
			g.key = strdup(key);
			g.currency = strdup(cur);
			if (g.key == NULL || g.currency == NULL) {
				err_set(err, ERR_INTERNAL,
				    "report sales: out of memory");
				failed = 1;
				break;
			}
		}
		g.orders++;
		g.qty += sqlite3_column_int64(s, 2);
		g.total += sqlite3_column_int64(s, 3);
	}
	sqlite3_reset(s);
	if (failed || s_group_end(&g, group, items, err)) {
		free(g.key);
		free(g.currency);
		json_decref(items);
		*out = NULL;
		return -1;
	}
	return rec_found(st,
	    json_pack("{s:s, s:o}", "group", group, "items", items), "report",
	    "sales", out, err);
}

int
report_stock(store_t *st, const json_t *query, json_t **out, err_t *err)
{
	json_t *list, *row;
	sqlite3_stmt *s;
	size_t i;

	(void)query; /* no filters */
	if (stock_list(st, NULL, &list, err))
		return -1;

	json_array_foreach(json_object_get(list, "items"), i, row) {
		s = store_stmt(st,
		    "SELECT qty FROM safety_stock WHERE site = ? "
		    "AND sku = ?");
		sqlite3_bind_text(s, 1,
		    json_string_value(json_object_get(row, "site")), -1,
		    SQLITE_TRANSIENT);
		sqlite3_bind_text(s, 2,
		    json_string_value(json_object_get(row, "sku")), -1,
		    SQLITE_TRANSIENT);
		if (store_row(st, s))
			json_object_set_new(row, "safety_stock",
			    json_integer(sqlite3_column_int64(s, 0)));
		sqlite3_reset(s);
	}
	return rec_found(st, list, "report", "stock", out, err);
}
