/* report: sales and stock reports (see report.h). */
#include "report.h"

#include <string.h>

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
#define SALES(KEY) \
	"SELECT " KEY " AS k, o.currency, count(DISTINCT o.id), " \
	"sum(l.qty), sum(l.qty * l.unit_price) FROM orders o " \
	"JOIN order_status s ON s.order_id = o.id " \
	"JOIN order_lines l ON l.order_id = o.id " \
	"WHERE s.rank >= " ORDER_SQL(ORDER_RANK_CONFIRMED) \
	" AND s.rank != " ORDER_SQL(ORDER_RANK_CANCELLED) " " \
	"AND (?1 IS NULL OR " \
	"date(hlc_ms(o.created_hlc) / 1000, 'unixepoch') >= ?1) " \
	"AND (?2 IS NULL OR " \
	"date(hlc_ms(o.created_hlc) / 1000, 'unixepoch') <= ?2) " \
	"GROUP BY k, o.currency ORDER BY k, o.currency"
		/* clang-format on */
		{ "site", SALES("o.site") },
		{ "sku", SALES("l.sku") },
		{ "customer", SALES("coalesce(o.customer, '(walk-in)')") },
		{ "day",
		    SALES("date(hlc_ms(o.created_hlc) / 1000, 'unixepoch')") },
#undef SALES
	};
	sqlite3_stmt *s;
	json_t *items;
	size_t i;

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
	while (store_row(st, s))
		json_array_append_new(items,
		    json_pack("{s:s, s:s, s:I, s:I, s:I}", group,
			(const char *)sqlite3_column_text(s, 0), "currency",
			(const char *)sqlite3_column_text(s, 1), "orders",
			(json_int_t)sqlite3_column_int64(s, 2), "qty",
			(json_int_t)sqlite3_column_int64(s, 3), "total",
			(json_int_t)sqlite3_column_int64(s, 4)));
	sqlite3_reset(s);
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
