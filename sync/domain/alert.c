/* alert: derived alerts (see alert.h). */
#include "alert.h"

#include <stdio.h>
#include <string.h>

#include "effect.h"
#include "invoice.h"
#include "order.h"
#include "quota.h"
#include "rec.h"
#include "req.h"
#include "transfer.h"

/* SQL reads better as written than as clang-format would fold it. */
/* clang-format off */
/* One query per kind; each row is (site, subject, message, at_ms). Sums of
 * money over many records are taken in floating point (total()), which
 * never overflows: the condition is decided the same everywhere, and an
 * amount beyond 2^53 is shown as "about N". */
/* Paid per order as owed: a payment on a fulfilment order counts on its
 * parent (fulfil.h). Rows (order_id, paid, at). */
#define PAID_SQL \
	"(SELECT coalesce(c.parent, y.order_id) AS order_id, " \
	"total(y.amount) AS paid, hlc_ms(max(y.hlc)) AS at FROM payments y " \
	"LEFT JOIN orders c ON c.id = y.order_id GROUP BY 1)"
/* The children of order o (fulfil.h) with their history entries. */
#define CHILD_HISTORY_SQL \
	"orders c JOIN order_history h ON h.order_id = c.id " \
	"WHERE c.parent = o.id"
static const struct {
	const char *kind;
	const char *sql;
} s_queries[] = {
	/* An order cancelled whose goods left anyway: shipped (or further)
	 * itself, or, an order head office allocates, one of its
	 * fulfilments (its status counts them: order_status). */
	{ "conflicting_transition",
	    "SELECT o.site, o.id, 'order ' || o.id || ' was cancelled at ' || "
	    "(SELECT group_concat(DISTINCT origin) FROM order_history h WHERE "
	    "h.order_id = o.id AND h.rank = " ORDER_SQL(ORDER_RANK_CANCELLED) ") || ' but ' || "
	    "coalesce((SELECT status || ' at ' || origin FROM order_history h "
	    "WHERE h.order_id = o.id AND h.rank > " ORDER_SQL(ORDER_RANK_CANCELLED) " "
	    "ORDER BY rank DESC, origin LIMIT 1), "
	    "(SELECT 'its fulfilment ' || c.id || ' was ' || h.status || ' at ' || "
	    "h.origin FROM " CHILD_HISTORY_SQL " AND h.rank > " ORDER_SQL(ORDER_RANK_CANCELLED) " "
	    "ORDER BY h.rank DESC, c.created_hlc, c.id, h.origin LIMIT 1)) || "
	    "': goods left, open a return if needed', "
	    "hlc_ms(max((SELECT max(hlc) FROM order_history h WHERE h.order_id = o.id), "
	    "coalesce((SELECT max(h.hlc) FROM " CHILD_HISTORY_SQL "), 0))) "
	    "FROM orders o JOIN order_status s ON s.order_id = o.id "
	    "WHERE s.rank > " ORDER_SQL(ORDER_RANK_CANCELLED) " AND EXISTS (SELECT 1 FROM order_history h "
	    "WHERE h.order_id = o.id AND h.rank = " ORDER_SQL(ORDER_RANK_CANCELLED) ")" },
	{ "credit_limit",
	    "SELECT c.site, c.id, 'customer ' || c.id || ' owes ' || "
	    "(CASE WHEN abs(e.owed) < 9007199254740992 THEN CAST(e.owed AS INTEGER) "
	    "ELSE printf('about %.0f', e.owed) END) || "
	    "' on account, over the credit limit ' || c.credit_limit, e.at "
	    "FROM customers c JOIN (SELECT o.customer, total(o.total - "
	    "(SELECT total(amount) FROM payments p WHERE "
	    "p.order_id = o.id OR p.order_id IN (SELECT k.id FROM orders k "
	    "WHERE k.parent = o.id))) AS owed, hlc_ms(max(o.created_hlc)) AS at "
	    "FROM orders o JOIN order_status s ON s.order_id = o.id "
	    "WHERE o.on_account = 1 AND o.parent IS NULL "
	    "AND s.rank != " ORDER_SQL(ORDER_RANK_CANCELLED) " GROUP BY o.customer) e "
	    "ON e.customer = c.id WHERE c.credit_limit IS NOT NULL "
	    "AND e.owed > c.credit_limit" },
	{ "low_stock",
	    "SELECT ss.site, ss.sku, ss.site || ' ' || ss.sku || ' available ' || "
	    "(coalesce(st.on_hand, 0) - coalesce(r.qty, 0)) || ', below the "
	    "safety stock ' || ss.qty, hlc_ms(ss.hlc) "
	    "FROM safety_stock ss LEFT JOIN stock st ON st.site = ss.site AND "
	    "st.sku = ss.sku LEFT JOIN (SELECT o.fulfil_site AS site, l.sku, "
	    "sum(l.qty) AS qty FROM orders o JOIN order_status s ON "
	    "s.order_id = o.id JOIN order_lines l ON l.order_id = o.id "
	    "WHERE s.rank IN (" ORDER_SQL(ORDER_RANK_ALLOCATED) ", "
	    ORDER_SQL(ORDER_RANK_PICKED) ") GROUP BY 1, 2) r ON r.site = ss.site AND "
	    "r.sku = ss.sku WHERE coalesce(st.on_hand, 0) >= 0 AND "
	    "coalesce(st.on_hand, 0) - coalesce(r.qty, 0) < ss.qty" },
	{ "negative_stock",
	    "SELECT st.site, st.sku, st.site || ' ' || st.sku || ' on hand ' || "
	    "st.on_hand || ': more sold than recorded, count it', "
	    "hlc_ms((SELECT max(hlc) FROM stock_movements m WHERE m.site = st.site "
	    "AND m.sku = st.sku)) FROM stock st WHERE st.on_hand < 0" },
	{ "op_conflict",
	    "SELECT origin, origin || '/' || seq, min(reason), min(at) "
	    "FROM op_conflicts GROUP BY origin, seq" },
	{ "over_refund",
	    "SELECT o.site, o.id, 'order ' || o.id || ' refunded ' || "
	    "(CASE WHEN abs(p.paid) < 9007199254740992 THEN CAST(-p.paid AS INTEGER) "
	    "ELSE printf('about %.0f', -p.paid) END) || "
	    "' more than was paid', p.at FROM orders o "
	    "JOIN " PAID_SQL " p ON p.order_id = o.id "
	    "WHERE p.paid < 0" },
	{ "over_return",
	    "SELECT o.site, r.order_id || '/' || r.sku, 'order ' || r.order_id || "
	    "': ' || r.returned || ' ' || r.sku || ' returned, ' || r.counted || "
	    "' sold: ' || (r.returned - r.counted) || ' not put back in stock, "
	    "check the returns', r.at FROM (SELECT m.order_id, m.sku, "
	    "sum(m.delta) AS returned, sum(m.counted) AS counted, "
	    "hlc_ms(max(m.hlc)) AS at FROM stock_movements m "
	    "JOIN orders po ON po.id = m.order_id "
	    "WHERE m.effect = '" EFFECT_RETURN "' AND " EFFECT_PARTY_SQL("m", "po")
	    " GROUP BY m.order_id, m.sku) r JOIN orders o ON o.id = r.order_id "
	    "WHERE r.returned > r.counted ORDER BY r.order_id, r.sku" },
	{ "overdue_receivable",
	    "SELECT i.site, i.id, 'invoice ' || i.id || ' for order ' || "
	    "i.order_id || ': ' || i.amount || ' ' || i.currency || ' overdue "
	    "since ' || date(i.due_ms / 1000, 'unixepoch'), i.due_ms "
	    "FROM invoices i WHERE i.due_ms < ?1 AND (SELECT max(rank) FROM "
	    "invoice_history h WHERE h.invoice_id = i.id) = 0" },
	{ "overpaid",
	    "SELECT o.site, o.id, 'order ' || o.id || ' paid ' || "
	    "(CASE WHEN abs(p.paid) < 9007199254740992 THEN CAST(p.paid AS INTEGER) "
	    "ELSE printf('about %.0f', p.paid) END) || ' on a total of ' || "
	    "o.total || ': refund ' || "
	    "(CASE WHEN abs(p.paid) < 9007199254740992 "
	    "THEN CAST(p.paid AS INTEGER) - o.total "
	    "ELSE printf('about %.0f', p.paid - o.total) END), p.at "
	    "FROM orders o JOIN " PAID_SQL " p "
	    "ON p.order_id = o.id WHERE p.paid > o.total ORDER BY o.id" },
	{ "quarantined",
	    "SELECT origin, origin || '/' || seq, reason, at FROM quarantine" },
	{ "quota_overspent", quota_overspent_sql },
	{ "transfer_discrepancy",
	    "SELECT t.to_site, t.id, 'transfer ' || t.id || ': ' || t.qty || "
	    "' ' || t.sku || ' sent by ' || t.site || ', ' || r.qty || "
	    "' received at ' || t.to_site || ', discrepancy ' || "
	    "printf('%+d', r.qty - t.qty) || ': head office reconciles it', "
	    "hlc_ms(r.hlc) FROM transfers t JOIN transfer_history r "
	    "ON r.transfer_id = t.id AND r.rank = " TRANSFER_SQL(TRANSFER_RANK_RECEIVED) " "
	    "WHERE NOT EXISTS (SELECT 1 FROM transfer_history e WHERE "
	    "e.transfer_id = t.id AND e.rank = " TRANSFER_SQL(TRANSFER_RANK_RECEIVED) " AND "
	    "(e.hlc, e.origin, e.seq) < (r.hlc, r.origin, r.seq)) "
	    "AND (SELECT max(h.rank) FROM transfer_history h WHERE "
	    "h.transfer_id = t.id) = " TRANSFER_SQL(TRANSFER_RANK_RECEIVED) " "
	    "AND r.qty != t.qty ORDER BY t.id" },
};
/* clang-format on */

/* This replica's own disk: the WAL over its bound, a checkpointer that
 * makes no progress, free space running out. Not derived from ops: each
 * replica reports its own machine. */
static void
s_disk_alerts(store_t *st, int64_t now_ms, json_t *items)
{
	ckpt_health_t h;
	ckpt_problem_t p[CKPT_PROBLEMS_MAX];
	char id[128];
	int i, n;

	store_health(st, &h);
	n = ckpt_problems(&h, store_path(st), p);
	for (i = 0; i < n; i++) {
		snprintf(id, sizeof id, "disk:%s:%s", store_site(st),
		    p[i].kind);
		json_array_append_new(items,
		    json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "id", id,
			"kind", "disk", "site", store_site(st), "subject",
			p[i].kind, "message", p[i].msg, "at",
			(json_int_t)now_ms));
	}
}

int
alert_list(store_t *st, const json_t *query, json_t **out, err_t *err)
{
	const char *kind = req_query(query, "kind");
	int64_t now_ms = (int64_t)store_wall_ms(st);
	json_t *items = json_array();
	size_t i;

	for (i = 0; i < sizeof s_queries / sizeof s_queries[0]; i++) {
		sqlite3_stmt *s;
		char id[256];

		if (kind != NULL && strcmp(kind, s_queries[i].kind) != 0)
			continue;
		s = store_stmt(st, s_queries[i].sql);
		if (sqlite3_bind_parameter_count(s) > 0)
			sqlite3_bind_int64(s, 1, now_ms);
		while (store_row(st, s)) {
			const char *site = (const char *)sqlite3_column_text(s,
			    0);
			const char *subject = (const char *)
			    sqlite3_column_text(s, 1);

			snprintf(id, sizeof id, "%s:%s:%s", s_queries[i].kind,
			    site ? site : "", subject ? subject : "");
			json_array_append_new(items,
			    json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "id",
				id, "kind", s_queries[i].kind, "site",
				site ? site : "", "subject",
				subject ? subject : "", "message",
				(const char *)sqlite3_column_text(s, 2), "at",
				(json_int_t)sqlite3_column_int64(s, 3)));
		}
		sqlite3_reset(s);
	}
	if (kind == NULL || strcmp(kind, "disk") == 0)
		s_disk_alerts(st, now_ms, items);
	return rec_items(st, items, out, err);
}
