/* quota: escrowed stock quotas (see quota.h). */
#include "quota.h"

#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "cmd.h"
#include "idem.h"
#include "log.h"
#include "order.h"
#include "own.h"
#include "rec.h"
#include "req.h"
#include "stock.h"

/* ---- checks, the same for a request and for an op ---- */

/* The warehouse and holder a quota op names: two sites, neither head
 * office, not the same one. */
static int
s_check_sites(const json_t *f, const char **warehouse, const char **site,
    err_t *err)
{
	if (req_text(f, "warehouse", OP_SITE_MAX, 1, warehouse, err) ||
	    req_text(f, "site", OP_SITE_MAX, 1, site, err))
		return -1;
	if (!op_site_valid(*warehouse))
		return err_set(err, ERR_BAD_REQUEST,
		    "warehouse: '%s' is not a site id", *warehouse);
	if (!op_site_valid(*site))
		return err_set(err, ERR_BAD_REQUEST,
		    "site: '%s' is not a site id", *site);
	if (own_is_hq(*warehouse))
		return err_set(err, ERR_UNPROCESSABLE,
		    "warehouse: %s is head office, which holds no stock",
		    *warehouse);
	if (own_is_hq(*site))
		return err_set(err, ERR_UNPROCESSABLE,
		    "site: %s is head office, which holds no rights", *site);
	if (strcmp(*warehouse, *site) == 0)
		return err_set(err, ERR_UNPROCESSABLE,
		    "site: %s needs no rights on its own stock", *site);
	return 0;
}

/* The fields of a grant: {warehouse, site, sku, qty}. */
static int
s_check_grant(const json_t *f, err_t *err)
{
	static const char *const allowed[] = { "warehouse", "site", "sku",
		"qty", NULL };
	const char *w, *s, *sku;
	int64_t qty;

	if (req_only(f, allowed, err) || s_check_sites(f, &w, &s, err) ||
	    req_text(f, "sku", REQ_ID_MAX, 1, &sku, err) ||
	    req_int(f, "qty", 1, QUOTA_QTY_MAX, 1, 0, &qty, err))
		return -1;
	return 0;
}

/* The fields of a recall {warehouse, site, reason?} (reason 1) or of a
 * return {warehouse, site} (reason 0). */
static int
s_check_end(const json_t *f, int reason, err_t *err)
{
	static const char *const recall[] = { "warehouse", "site", "reason",
		NULL };
	static const char *const ret[] = { "warehouse", "site", NULL };
	const char *w, *s, *why;

	if (req_only(f, reason ? recall : ret, err) ||
	    s_check_sites(f, &w, &s, err) ||
	    req_text(f, "reason", REQ_TEXT_MAX, 0, &why, err))
		return -1;
	return 0;
}

/* Who may grant rights on warehouse's stock: the warehouse, head office. */
static int
s_may_grant(const char *id, const char *writer, const char *warehouse,
    err_t *err)
{
	if (strcmp(writer, warehouse) == 0 || own_is_hq(writer))
		return 0;
	return err_set(err, ERR_FORBIDDEN,
	    "quota %s: %s may not grant rights on %s's stock: only %s or head "
	    "office may",
	    id, writer, warehouse, warehouse);
}

static int
s_may_recall(const char *id, const char *writer, const char *warehouse,
    err_t *err)
{
	if (strcmp(writer, warehouse) == 0 || own_is_hq(writer))
		return 0;
	return err_set(err, ERR_FORBIDDEN,
	    "quota %s: %s may not recall it: only %s or head office may", id,
	    writer, warehouse);
}

static int
s_may_return(const char *id, const char *writer, const char *site, err_t *err)
{
	if (strcmp(writer, site) == 0)
		return 0;
	return err_set(err, ERR_FORBIDDEN,
	    "quota %s: %s may not return it: only its holder %s may", id,
	    writer, site);
}

/* A quota's id is its granter's: the warehouse's own or head office's
 * (a grant is written by one of them under its own id), so an op naming
 * another warehouse than the id's is refused from the op alone. */
static int
s_id_of(const char *id, const char *warehouse, err_t *err)
{
	char owner[OP_SITE_MAX + 1];

	own_owner(id, owner, sizeof owner);
	if (owner[0] != '\0' &&
	    (own_is_hq(owner) || strcmp(owner, warehouse) == 0))
		return 0;
	return err_set(err, ERR_FORBIDDEN,
	    "quota %s: names warehouse %s, but its id is not %s's or head "
	    "office's",
	    id, warehouse, warehouse);
}

static const char *
s_str(const json_t *f, const char *name)
{
	return json_string_value(json_object_get(f, name));
}

/* ---- derived figures ---- */

/* The figures of the quotas fq selects (SQL, the columns of quotas), as
 * quota.h defines them:
 *   spc(quota, order_id, sku, qty, counted, seq, gone, reserved, cancelled):
 *       each spend that counts, with what of it counts (capped at what was
 *       granted, in the holder's seq order);
 *   fig(id, warehouse, site, sku, granted, hlc, origin, returned,
 *       recalled, spent, pending). */
/* clang-format off */
#define S_WITH(fq) \
	"WITH fq AS (" fq "), " \
	"rt AS (SELECT r.quota AS quota, min(r.seq) AS seq FROM fq " \
	"JOIN quota_returns r ON r.quota = fq.id AND r.origin = fq.site " \
	"AND r.site = fq.site AND r.warehouse = fq.warehouse GROUP BY r.quota), " \
	"sp0 AS (SELECT s.quota AS quota, s.order_id AS order_id, s.sku AS sku, " \
	"s.qty AS qty, s.seq AS seq, fq.qty AS granted, o.channel AS channel, " \
	"(SELECT max(h.rank) FROM order_history h " \
	"WHERE h.order_id = o.id) AS rank FROM fq " \
	"JOIN quota_spends s ON s.quota = fq.id AND s.origin = fq.site " \
	"AND s.sku = fq.sku JOIN orders o ON o.id = s.order_id " \
	"AND o.site = fq.site AND o.fulfil_site = fq.warehouse " \
	"LEFT JOIN rt ON rt.quota = fq.id " \
	"WHERE rt.seq IS NULL OR s.seq < rt.seq), " \
	"spc AS (SELECT quota, order_id, sku, qty, seq, " \
	"max(0, min(qty, granted - (sum(qty) OVER (PARTITION BY quota " \
	"ORDER BY seq, order_id ROWS UNBOUNDED PRECEDING) - qty))) AS counted, " \
	"rank >= (CASE channel WHEN 'store' THEN " \
	ORDER_SQL(ORDER_RANK_CONFIRMED) " ELSE " ORDER_SQL(ORDER_RANK_SHIPPED) \
	" END) AS gone, rank IN (" ORDER_SQL(ORDER_RANK_ALLOCATED) ", " \
	ORDER_SQL(ORDER_RANK_PICKED) ") AS reserved, " \
	"rank = " ORDER_SQL(ORDER_RANK_CANCELLED) " AS cancelled FROM sp0), " \
	"fig AS (SELECT fq.id AS id, fq.warehouse AS warehouse, fq.site AS site, " \
	"fq.sku AS sku, fq.qty AS granted, fq.hlc AS hlc, fq.origin AS origin, " \
	"rt.seq IS NOT NULL AS returned, EXISTS (SELECT 1 FROM quota_recalls c " \
	"WHERE c.quota = fq.id AND c.warehouse = fq.warehouse AND c.site = fq.site " \
	"AND (c.origin = fq.warehouse OR " OWN_HQ_SQL("c.origin") ")) AS recalled, " \
	"coalesce((SELECT sum(spc.counted) FROM spc WHERE spc.quota = fq.id), 0) " \
	"AS spent, coalesce((SELECT sum(spc.counted) FROM spc " \
	"WHERE spc.quota = fq.id AND NOT spc.gone AND NOT spc.reserved " \
	"AND NOT spc.cancelled), 0) AS pending " \
	"FROM fq LEFT JOIN rt ON rt.quota = fq.id) "

/* The figures of the quotas matching the filters ?1 id, ?2 warehouse, ?3
 * holder, ?4 sku, ?5 holder or warehouse (NULL: any). */
#define S_FIG \
	S_WITH("SELECT * FROM quotas q WHERE (?1 IS NULL OR q.id = ?1) " \
	"AND (?2 IS NULL OR q.warehouse = ?2) AND (?3 IS NULL OR q.site = ?3) " \
	"AND (?4 IS NULL OR q.sku = ?4) " \
	"AND (?5 IS NULL OR q.site = ?5 OR q.warehouse = ?5)")

/* In SQL over fig: what the holder gave back, and the outstanding (I). */
#define S_RETURNED \
	"(CASE WHEN returned THEN max(0, granted - spent) ELSE 0 END)"
#define S_OUTSTANDING \
	"((CASE WHEN returned THEN 0 ELSE max(0, granted - spent) END) + pending)"

#define S_COLS \
	"SELECT id, warehouse, site, sku, granted, spent, returned, recalled, " \
	"hlc, origin FROM fig "
/* clang-format on */

/* The rows of quota_overspent_sql (quota.h): per order of a holder at the
 * warehouse, not a backorder, not cancelled and whose goods have not
 * left, each sku of it on which it holds quotas of that warehouse granted
 * before the order, or spends rights, with what of its lines no counted
 * right covers. */
/* clang-format off */
const char quota_overspent_sql[] = S_WITH("SELECT * FROM quotas")
	", ol AS (SELECT o.id AS id, o.site AS site, o.fulfil_site AS w, "
	"o.created_hlc AS hlc, l.sku AS sku, sum(l.qty) AS ordered, "
	"o.channel AS channel, (SELECT max(h.rank) FROM order_history h "
	"WHERE h.order_id = o.id) AS rank FROM orders o "
	"JOIN order_lines l ON l.order_id = o.id "
	"WHERE EXISTS (SELECT 1 FROM quotas) AND o.fulfil_site NOT IN ('', o.site) "
	"AND NOT EXISTS (SELECT 1 FROM quota_backorders b WHERE b.order_id = o.id) "
	"GROUP BY o.id, l.sku), "
	"ov AS (SELECT id, site, w, hlc, sku, ordered, ordered - "
	"coalesce((SELECT sum(spc.counted) FROM spc WHERE spc.order_id = ol.id "
	"AND spc.sku = ol.sku), 0) AS over FROM ol "
	"WHERE rank != " ORDER_SQL(ORDER_RANK_CANCELLED) " AND rank < (CASE "
	"channel WHEN 'store' THEN " ORDER_SQL(ORDER_RANK_CONFIRMED) " ELSE "
	ORDER_SQL(ORDER_RANK_SHIPPED) " END) AND (EXISTS (SELECT 1 FROM quotas q "
	"WHERE q.site = ol.site AND q.warehouse = ol.w AND q.sku = ol.sku "
	"AND q.hlc < ol.hlc) OR EXISTS (SELECT 1 FROM quota_spends s "
	"WHERE s.order_id = ol.id AND s.sku = ol.sku))) "
	"SELECT site, id, 'order ' || id || ': ' || group_concat(over || "
	"' of its ' || ordered || ' ' || sku, ', ') || ' over ' || site || "
	"'''s rights on ' || w || '''s stock, not promised', hlc_ms(hlc) "
	"FROM (SELECT * FROM ov WHERE over > 0 ORDER BY id, sku) "
	"GROUP BY id ORDER BY id";
/* clang-format on */

/* The filters of S_FIG, by parameter number. */
typedef enum {
	F_ID = 1,
	F_WAREHOUSE = 2,
	F_SITE = 3, /* the holder */
	F_SKU = 4,
	F_EITHER = 5, /* the holder or the warehouse */
} filter_t;

/* Binds filter f of S_FIG to value (borrowed; NULL: any). */
static void
s_bind(sqlite3_stmt *s, filter_t f, const char *value)
{
	if (value != NULL)
		sqlite3_bind_text(s, (int)f, value, -1, SQLITE_STATIC);
}

/* A quota as the API shows it, from a row of S_COLS. */
static json_t *
s_row_json(sqlite3_stmt *s)
{
	int64_t granted = sqlite3_column_int64(s, 4);
	int64_t spent = sqlite3_column_int64(s, 5);
	int returned = sqlite3_column_int(s, 6);
	int64_t back = returned && granted > spent ? granted - spent : 0;
	const char *status = "open";

	if (returned)
		status = "returned";
	else if (sqlite3_column_int(s, 7))
		status = "recalled";
	return json_pack(
	    "{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:s, s:s, s:I}", "id",
	    (const char *)sqlite3_column_text(s, 0), "warehouse",
	    (const char *)sqlite3_column_text(s, 1), "site",
	    (const char *)sqlite3_column_text(s, 2), "sku",
	    (const char *)sqlite3_column_text(s, 3), "granted",
	    (json_int_t)granted, "spent", (json_int_t)spent, "returned",
	    (json_int_t)back, "available", (json_int_t)(granted - spent - back),
	    "status", status, "granted_by",
	    (const char *)sqlite3_column_text(s, 9), "granted_ms",
	    (json_int_t)hlc_ms((uint64_t)sqlite3_column_int64(s, 8)));
}

/* Quota id as the API shows it, or NULL when it is not held here (or a
 * read failed, kept as store_row keeps it). */
static json_t *
s_read(store_t *st, const char *id)
{
	sqlite3_stmt *s = store_stmt(st, S_FIG S_COLS);
	json_t *o = NULL;

	s_bind(s, F_ID, id);
	if (store_row(st, s))
		o = s_row_json(s);
	sqlite3_reset(s);
	return o;
}

int
quota_get(store_t *st, const char *id, json_t **out, err_t *err)
{
	return rec_found(st, s_read(st, id), "quota", id, out, err);
}

int
quota_list(store_t *st, const json_t *query, json_t **out, err_t *err)
{
	sqlite3_stmt *s = store_stmt(st,
	    S_FIG S_COLS "ORDER BY site, warehouse, sku, id");
	json_t *items = json_array();

	s_bind(s, F_SITE, req_query(query, "site"));
	s_bind(s, F_SKU, req_query(query, "sku"));
	s_bind(s, F_WAREHOUSE, req_query(query, "warehouse"));
	while (store_row(st, s))
		json_array_append_new(items, s_row_json(s));
	sqlite3_reset(s);
	return rec_items(st, items, out, err);
}

/* What warehouse has available of sku here: on hand less what orders
 * allocated or picked there reserve (as GET /v1/stock). */
static int64_t
s_available(store_t *st, const char *warehouse, const char *sku)
{
	/* clang-format off */
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT coalesce((SELECT on_hand FROM stock WHERE site = ?1 "
	    "AND sku = ?2), 0) - coalesce((SELECT sum(l.qty) FROM orders o "
	    "JOIN order_lines l ON l.order_id = o.id WHERE o.fulfil_site = ?1 "
	    "AND l.sku = ?2 AND (SELECT max(h.rank) FROM order_history h WHERE "
	    "h.order_id = o.id) IN (" ORDER_SQL(ORDER_RANK_ALLOCATED) ", "
	    ORDER_SQL(ORDER_RANK_PICKED) ")), 0)");
	/* clang-format on */

	sqlite3_bind_text(s, 1, warehouse, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, sku, -1, SQLITE_STATIC);
	return store_query_int(st, s, 0);
}

/* outstanding(warehouse, sku) of (I), as this replica knows it. */
static int64_t
s_outstanding(store_t *st, const char *warehouse, const char *sku)
{
	sqlite3_stmt *s = store_stmt(st,
	    S_FIG "SELECT coalesce(sum(" S_OUTSTANDING "), 0) FROM fig");

	s_bind(s, F_WAREHOUSE, warehouse);
	s_bind(s, F_SKU, sku);
	return store_query_int(st, s, 0);
}

int64_t
quota_free(store_t *st, const char *warehouse, const char *sku)
{
	return s_available(st, warehouse, sku) -
	    s_outstanding(st, warehouse, sku);
}

int
quota_stock_list(store_t *st, const json_t *query, json_t **out, err_t *err)
{
	const char *site = req_query(query, "site");
	const char *sku = req_query(query, "sku");
	sqlite3_stmt *s;
	json_t *rights = json_array(), *promised = json_array();
	struct {
		char w[OP_SITE_MAX + 1], sku[REQ_ID_MAX + 1];
		int64_t promised;
	} *rows = NULL, *p;
	size_t n = 0, i;

	if (stock_list(st, query, out, err)) {
		json_decref(rights);
		json_decref(promised);
		return -1;
	}
	s = store_stmt(st,
	    S_FIG
	    "SELECT site, warehouse, sku, sum(granted - " S_RETURNED "), "
	    "sum(spent), sum(granted - spent - " S_RETURNED ") FROM fig "
	    "GROUP BY site, warehouse, sku ORDER BY site, warehouse, sku");
	s_bind(s, F_EITHER, site);
	s_bind(s, F_SKU, sku);
	while (store_row(st, s))
		json_array_append_new(rights,
		    json_pack("{s:s, s:s, s:s, s:I, s:I, s:I}", "site",
			(const char *)sqlite3_column_text(s, 0), "warehouse",
			(const char *)sqlite3_column_text(s, 1), "sku",
			(const char *)sqlite3_column_text(s, 2), "held",
			(json_int_t)sqlite3_column_int64(s, 3), "spent",
			(json_int_t)sqlite3_column_int64(s, 4), "available",
			(json_int_t)sqlite3_column_int64(s, 5)));
	sqlite3_reset(s);
	/* The warehouses' side: read first, then each one's available
	 * (a statement of its own). */
	s = store_stmt(st,
	    S_FIG "SELECT warehouse, sku, sum(" S_OUTSTANDING ") FROM fig "
		  "GROUP BY warehouse, sku ORDER BY warehouse, sku");
	s_bind(s, F_WAREHOUSE, site);
	s_bind(s, F_SKU, sku);
	while (store_row(st, s)) {
		if ((p = realloc(rows, (n + 1) * sizeof *rows)) == NULL)
			fatal("quota: out of memory");
		rows = p;
		snprintf(rows[n].w, sizeof rows[n].w, "%s",
		    sqlite3_column_text(s, 0));
		snprintf(rows[n].sku, sizeof rows[n].sku, "%s",
		    sqlite3_column_text(s, 1));
		rows[n++].promised = sqlite3_column_int64(s, 2);
	}
	sqlite3_reset(s);
	for (i = 0; i < n; i++) {
		int64_t avail = s_available(st, rows[i].w, rows[i].sku);

		json_array_append_new(promised,
		    json_pack("{s:s, s:s, s:I, s:I, s:I}", "site", rows[i].w,
			"sku", rows[i].sku, "available", (json_int_t)avail,
			"promised", (json_int_t)rows[i].promised, "free",
			(json_int_t)(avail - rows[i].promised)));
	}
	free(rows);
	/* Only where there are quotas: a replica without any answers as
	 * stock_list does. */
	if (json_array_size(rights) > 0)
		json_object_set(*out, "rights", rights);
	if (json_array_size(promised) > 0)
		json_object_set(*out, "promised", promised);
	json_decref(rights);
	json_decref(promised);
	if (store_read_error(st, err)) {
		json_decref(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

/* ---- the merge rule ---- */

/* At the holder's node: a quota of its own that head office or its
 * warehouse has recalled, and that it has not returned, is returned now,
 * in the transaction that applied the recall (or the grant). */
static int
s_return_here(store_t *st, const char *id, err_t *err)
{
	sqlite3_stmt *s;
	json_t *o, *f;
	int rc;

	if (store_is_hq(st))
		return 0;
	s = store_stmt(st, S_FIG S_COLS);
	s_bind(s, F_ID, id);
	s_bind(s, F_SITE, store_site(st));
	o = NULL;
	if (store_row(st, s) && !sqlite3_column_int(s, 6) &&
	    sqlite3_column_int(s, 7))
		o = s_row_json(s);
	sqlite3_reset(s);
	if (store_read_error(st, err)) {
		json_decref(o);
		return -1;
	}
	if (o == NULL)
		return 0;
	f = json_pack("{s:O, s:O}", "warehouse",
	    json_object_get(o, "warehouse"), "site",
	    json_object_get(o, "site"));
	rc = store_append_local(st, QUOTA_ENTITY, id, "return", f, NULL, err);
	json_decref(f);
	json_decref(o);
	return rc;
}

static int
s_apply_grant(store_t *st, const op_t *op, err_t *err)
{
	const json_t *f = op->fields;
	sqlite3_stmt *s;

	if (s_check_grant(f, err))
		return err_prefix(err, "quota %s", op->key);
	if (own_create(op, "quota", err) ||
	    s_may_grant(op->key, op->origin, s_str(f, "warehouse"), err))
		return -1;
	/* Of two grants under one id, the lower (hlc, origin) is it. */
	s = store_stmt(st,
	    "INSERT INTO quotas(id, warehouse, site, sku, qty, hlc, origin) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
	    "warehouse = excluded.warehouse, site = excluded.site, "
	    "sku = excluded.sku, qty = excluded.qty, hlc = excluded.hlc, "
	    "origin = excluded.origin WHERE (excluded.hlc, excluded.origin) < "
	    "(quotas.hlc, quotas.origin)");
	sqlite3_bind_text(s, 1, op->key, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, s_str(f, "warehouse"), -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, s_str(f, "site"), -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, s_str(f, "sku"), -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 5, json_integer_value(json_object_get(f, "qty")));
	sqlite3_bind_int64(s, 6, (int64_t)op->hlc);
	sqlite3_bind_text(s, 7, op->origin, -1, SQLITE_STATIC);
	return store_step(st, s, "quota", err);
}

/* A recall (recall 1) or a return (0): an event of its own, which counts
 * when the warehouse and site it names are the grant's. */
static int
s_apply_end(store_t *st, const op_t *op, int recall, err_t *err)
{
	const json_t *f = op->fields;
	const char *w = s_str(f, "warehouse"), *site = s_str(f, "site");
	sqlite3_stmt *s;

	if (s_check_end(f, recall, err))
		return err_prefix(err, "quota %s", op->key);
	if ((recall ? s_may_recall(op->key, op->origin, w, err)
		    : s_may_return(op->key, op->origin, site, err)) ||
	    s_id_of(op->key, w, err))
		return -1;
	s = recall
	    ? store_stmt(st,
		  "INSERT OR IGNORE INTO quota_recalls(quota, origin, "
		  "seq, hlc, warehouse, site, reason) "
		  "VALUES (?, ?, ?, ?, ?, ?, ?)")
	    : store_stmt(st,
		  "INSERT OR IGNORE INTO quota_returns(quota, origin, "
		  "seq, hlc, warehouse, site) VALUES (?, ?, ?, ?, ?, ?)");
	sqlite3_bind_text(s, 1, op->key, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, op->origin, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, (int64_t)op->seq);
	sqlite3_bind_int64(s, 4, (int64_t)op->hlc);
	sqlite3_bind_text(s, 5, w, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 6, site, -1, SQLITE_STATIC);
	if (recall)
		sqlite3_bind_text(s, 7, s_str(f, "reason"), -1, SQLITE_STATIC);
	return store_step(st, s, "quota", err);
}

int
quota_apply(store_t *st, const op_t *op, err_t *err)
{
	int rc;

	if (strcmp(op->kind, "grant") == 0)
		rc = s_apply_grant(st, op, err);
	else if (strcmp(op->kind, "recall") == 0)
		rc = s_apply_end(st, op, 1, err);
	else if (strcmp(op->kind, "return") == 0)
		return s_apply_end(st, op, 0, err);
	else
		return err_set(err, ERR_BAD_REQUEST,
		    "quota %s: unknown kind '%s'", op->key, op->kind);
	if (rc != 0 || strcmp(op->origin, store_site(st)) == 0)
		return rc;
	return s_return_here(st, op->key, err);
}

/* ---- commands ---- */

static int
s_grant(store_t *st, void *arg, err_t *err)
{
	static const char *const allowed[] = { "id", "warehouse", "site", "sku",
		"qty", NULL };
	cmd_t *c = arg;
	const char *id, *w, *sku;
	char idbuf[OP_KEY_MAX + 1], scoped[OP_KEY_MAX + 1];
	json_t *f;
	int64_t qty, avail, promised;
	int r, rc = -1;

	if (req_only(c->req, allowed, err) ||
	    req_text(c->req, "id", OP_KEY_MAX, 0, &id, err) ||
	    own_scope(st, id, OP_KEY_MAX, scoped, &id, err))
		return -1;
	if ((r = idem_replay(st, "quota", id, c->req, quota_get, &c->out,
		 err)) != 0)
		return r > 0 ? 0 : -1;
	f = json_deep_copy(c->req);
	json_object_del(f, "id");
	if (json_object_get(f, "warehouse") == NULL)
		json_object_set_new(f, "warehouse",
		    json_string(store_site(st)));
	if (s_check_grant(f, err))
		goto out;
	if (id == NULL) {
		store_new_id(st, idbuf, sizeof idbuf);
		id = idbuf;
	}
	w = s_str(f, "warehouse");
	sku = s_str(f, "sku");
	qty = json_integer_value(json_object_get(f, "qty"));
	if (s_may_grant(id, store_site(st), w, err))
		goto out;
	if (!catalog_has(st, sku)) {
		err_set(err, ERR_NOT_FOUND, "sku: %s is not in the catalog",
		    sku);
		goto out;
	}
	/* (I), in this writer's view. */
	avail = s_available(st, w, sku);
	promised = s_outstanding(st, w, sku);
	if (store_read_error(st, err))
		goto out;
	if (promised + qty > avail) {
		err_set(err, ERR_UNPROCESSABLE,
		    "qty: %lld %s would promise %lld of %s's stock, over the "
		    "%lld available (%lld already promised)",
		    (long long)qty, sku, (long long)(promised + qty), w,
		    (long long)avail, (long long)promised);
		goto out;
	}
	if (cmd_create_op(st, c, "quota", QUOTA_ENTITY, "grant", &id, idbuf, f,
		err))
		goto out;
	rc = quota_get(st, id, &c->out, err);
out:
	json_decref(f);
	return rc;
}

int
quota_grant(store_t *st, const json_t *req, json_t **out, int *created,
    err_t *err)
{
	return cmd_run(st, s_grant, req, NULL, NULL, out, created, err);
}

/* A recall (c->kind "recall") or a return ("return") of quota c->id. */
static int
s_end(store_t *st, void *arg, err_t *err)
{
	static const char *const recall_allowed[] = { "reason", NULL };
	static const char *const return_allowed[] = { NULL };
	cmd_t *c = arg;
	int recall = strcmp(c->kind, "recall") == 0;
	const char *me = store_site(st), *reason, *status;
	json_t *q, *f;
	sqlite3_stmt *s;
	int64_t mine = 0;
	int rc;

	if (req_only(c->req, recall ? recall_allowed : return_allowed, err) ||
	    req_text(c->req, "reason", REQ_TEXT_MAX, 0, &reason, err))
		return -1;
	if (quota_get(st, c->id, &q, err))
		return -1;
	status = s_str(q, "status");
	if (recall ? s_may_recall(c->id, me, s_str(q, "warehouse"), err)
		   : s_may_return(c->id, me, s_str(q, "site"), err)) {
		json_decref(q);
		return -1;
	}
	/* Once is enough: a quota returned, or recalled by this site, is
	 * answered as it is. */
	if (recall && strcmp(status, "recalled") == 0) {
		s = store_stmt(st,
		    "SELECT count(*) FROM quota_recalls WHERE quota = ? AND "
		    "origin = ?");
		sqlite3_bind_text(s, 1, c->id, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, me, -1, SQLITE_STATIC);
		if (store_query_int64(st, s, 0, &mine, err)) {
			json_decref(q);
			return -1;
		}
	}
	if (strcmp(status, "returned") == 0 || mine > 0) {
		c->out = q;
		return 0;
	}
	f = json_pack("{s:O, s:O}", "warehouse",
	    json_object_get(q, "warehouse"), "site",
	    json_object_get(q, "site"));
	if (reason != NULL)
		json_object_set_new(f, "reason", json_string(reason));
	json_decref(q);
	rc = store_append_local(st, QUOTA_ENTITY, c->id, c->kind, f, NULL, err);
	json_decref(f);
	return rc != 0 ? -1 : quota_get(st, c->id, &c->out, err);
}

int
quota_recall(store_t *st, const char *id, const json_t *req, json_t **out,
    err_t *err)
{
	return cmd_run(st, s_end, req, id, "recall", out, NULL, err);
}

int
quota_return(store_t *st, const char *id, const json_t *req, json_t **out,
    err_t *err)
{
	return cmd_run(st, s_end, req, id, "return", out, NULL, err);
}

/* ---- the order's hooks ---- */

/* The qty the lines of an order create order of sku. */
static int64_t
s_ordered(const json_t *lines, const char *sku)
{
	const json_t *l;
	size_t i;
	int64_t n = 0;

	json_array_foreach(lines, i, l)
		if (strcmp(s_str(l, "sku"), sku) == 0)
			n += json_integer_value(json_object_get(l, "qty"));
	return n;
}

int
quota_order_check(const json_t *f, err_t *err)
{
	static const char *const allowed[] = { "quota", "sku", "qty", NULL };
	const json_t *rights = json_object_get(f, "rights");
	const json_t *lines = json_object_get(f, "lines"), *e, *e2;
	const char *site = s_str(f, "site"), *fulfil = s_str(f, "fulfil_site");
	const char *quota, *sku;
	char owner[OP_SITE_MAX + 1];
	int64_t qty, spent, ordered;
	size_t i, j;
	int backorder;

	if (req_bool(f, "backorder", 0, &backorder, err))
		return -1;
	if (rights == NULL || json_is_null(rights))
		return 0;
	if (backorder)
		return err_set(err, ERR_BAD_REQUEST,
		    "rights: a backorder spends no rights");
	if (site == NULL || fulfil == NULL || fulfil[0] == '\0' ||
	    strcmp(site, fulfil) == 0)
		return err_set(err, ERR_BAD_REQUEST,
		    "rights: only an order fulfilled at another site spends "
		    "rights");
	if (!json_is_array(rights) || json_array_size(rights) == 0 ||
	    json_array_size(rights) > QUOTA_RIGHTS_MAX)
		return err_set(err, ERR_BAD_REQUEST,
		    "rights: must be an array of 1 to %d entries",
		    QUOTA_RIGHTS_MAX);
	json_array_foreach(rights, i, e) {
		if (!json_is_object(e))
			return err_set(err, ERR_BAD_REQUEST,
			    "rights[%zu]: must be an object", i);
		if (req_only(e, allowed, err) ||
		    req_text(e, "quota", OP_KEY_MAX, 1, &quota, err) ||
		    req_text(e, "sku", REQ_ID_MAX, 1, &sku, err) ||
		    req_int(e, "qty", 1, QUOTA_QTY_MAX, 1, 0, &qty, err))
			return err_prefix(err, "rights[%zu]", i);
		own_owner(quota, owner, sizeof owner);
		if (owner[0] == '\0' ||
		    (!own_is_hq(owner) && strcmp(owner, fulfil) != 0))
			return err_set(err, ERR_BAD_REQUEST,
			    "rights[%zu]: quota %s is not one of %s's stock", i,
			    quota, fulfil);
		if ((ordered = s_ordered(lines, sku)) == 0)
			return err_set(err, ERR_BAD_REQUEST,
			    "rights[%zu]: sku %s is on no line", i, sku);
		spent = 0;
		json_array_foreach(rights, j, e2) {
			if (j < i && strcmp(s_str(e2, "quota"), quota) == 0 &&
			    strcmp(s_str(e2, "sku"), sku) == 0)
				return err_set(err, ERR_BAD_REQUEST,
				    "rights[%zu]: quota %s spent twice on %s",
				    i, quota, sku);
			if (j <= i && strcmp(s_str(e2, "sku"), sku) == 0)
				spent += json_integer_value(
				    json_object_get(e2, "qty"));
		}
		if (spent > ordered)
			return err_set(err, ERR_BAD_REQUEST,
			    "rights: sku %s: %lld rights spent on %lld "
			    "ordered",
			    sku, (long long)spent, (long long)ordered);
	}
	return 0;
}

/* A quota of this site the order may draw on, with what is left of it. */
typedef struct {
	char id[OP_KEY_MAX + 1];
	int64_t left;
} draw_t;

/* The quotas site holds of warehouse's sku, oldest grant first, into
 * *draws (caller frees) with what each has left to spend, less what
 * rights (this order's, so far) already take; *n of them, 0 when site is
 * not under quota for it. -1 with err when a read failed. */
static int
s_draws(store_t *st, const char *site, const char *warehouse, const char *sku,
    const json_t *rights, draw_t **draws, size_t *n, err_t *err)
{
	sqlite3_stmt *s = store_stmt(st,
	    S_FIG S_COLS "ORDER BY hlc, origin, id");
	draw_t *d;
	const json_t *e;
	size_t i;

	*draws = NULL;
	*n = 0;
	s_bind(s, F_WAREHOUSE, warehouse);
	s_bind(s, F_SITE, site);
	s_bind(s, F_SKU, sku);
	while (store_row(st, s)) {
		if ((d = realloc(*draws, (*n + 1) * sizeof *d)) == NULL)
			fatal("quota: out of memory");
		*draws = d;
		d += (*n)++;
		snprintf(d->id, sizeof d->id, "%s", sqlite3_column_text(s, 0));
		/* Returned or recalled: nothing more to spend. */
		d->left = sqlite3_column_int(s, 6) || sqlite3_column_int(s, 7)
		    ? 0
		    : sqlite3_column_int64(s, 4) - sqlite3_column_int64(s, 5);
		json_array_foreach(rights, i, e)
			if (strcmp(s_str(e, "quota"), d->id) == 0)
				d->left -= json_integer_value(
				    json_object_get(e, "qty"));
	}
	sqlite3_reset(s);
	return store_read_error(st, err);
}

/* Adds qty of quota for sku to rights (one entry per quota and sku). */
static void
s_spend(json_t *rights, const char *quota, const char *sku, int64_t qty)
{
	json_t *e;
	size_t i;

	json_array_foreach(rights, i, e) {
		if (strcmp(s_str(e, "quota"), quota) == 0 &&
		    strcmp(s_str(e, "sku"), sku) == 0) {
			json_object_set_new(e, "qty",
			    json_integer(
				json_integer_value(json_object_get(e, "qty")) +
				qty));
			return;
		}
	}
	json_array_append_new(rights,
	    json_pack("{s:s, s:s, s:I}", "quota", quota, "sku", sku, "qty",
		(json_int_t)qty));
}

int
quota_order_spend(store_t *st, json_t *f, err_t *err)
{
	const char *me = store_site(st), *w = s_str(f, "fulfil_site"), *sku;
	json_t *backorder = json_object_get(f, "backorder"), *rights, *l;
	draw_t *draws;
	size_t i, k, n;
	int64_t qty, left, take;
	int rc = 0;

	if (backorder != NULL && !json_is_true(backorder))
		json_object_del(f, "backorder");
	json_object_del(f, "rights");
	if (w == NULL || w[0] == '\0' || strcmp(w, me) == 0 ||
	    json_is_true(backorder))
		return 0;
	rights = json_array();
	json_array_foreach(json_object_get(f, "lines"), i, l) {
		sku = s_str(l, "sku");
		qty = json_integer_value(json_object_get(l, "qty"));
		if (s_draws(st, me, w, sku, rights, &draws, &n, err)) {
			rc = -1;
			break;
		}
		for (left = 0, k = 0; k < n; k++)
			left += draws[k].left > 0 ? draws[k].left : 0;
		if (n > 0 && left < qty) {
			rc = err_set(err, ERR_CONFLICT,
			    "lines[%zu]: sku %s: %lld wanted, %lld right%s "
			    "left on %s's stock; send \"backorder\": true to "
			    "order it as a backorder, or wait for the link",
			    i, sku, (long long)qty, (long long)left,
			    left == 1 ? "" : "s", w);
			free(draws);
			break;
		}
		for (k = 0; k < n && qty > 0; k++) {
			if (draws[k].left <= 0)
				continue;
			take = draws[k].left < qty ? draws[k].left : qty;
			s_spend(rights, draws[k].id, sku, take);
			qty -= take;
		}
		free(draws);
	}
	if (rc == 0 && json_array_size(rights) > QUOTA_RIGHTS_MAX)
		rc = err_set(err, ERR_UNPROCESSABLE,
		    "rights: the lines would spend %zu quotas, at most %d an "
		    "order",
		    json_array_size(rights), QUOTA_RIGHTS_MAX);
	if (rc == 0 && json_array_size(rights) > 0)
		json_object_set(f, "rights", rights);
	json_decref(rights);
	return rc;
}

int
quota_order_verify(store_t *st, const op_t *op, err_t *err)
{
	const char *fulfil = s_str(op->fields, "fulfil_site"), *quota, *sku;
	char w[OP_SITE_MAX + 1], holder[OP_SITE_MAX + 1], of[REQ_ID_MAX + 1];
	const json_t *e;
	sqlite3_stmt *s;
	size_t i;
	int held;

	json_array_foreach(json_object_get(op->fields, "rights"), i, e) {
		quota = s_str(e, "quota");
		sku = s_str(e, "sku");
		s = store_stmt(st,
		    "SELECT warehouse, site, sku FROM quotas WHERE id = ?");
		sqlite3_bind_text(s, 1, quota, -1, SQLITE_STATIC);
		held = 0;
		if (store_row(st, s)) {
			snprintf(w, sizeof w, "%s", sqlite3_column_text(s, 0));
			snprintf(holder, sizeof holder, "%s",
			    sqlite3_column_text(s, 1));
			snprintf(of, sizeof of, "%s",
			    sqlite3_column_text(s, 2));
			held = 1;
		}
		sqlite3_reset(s);
		if (store_read_error(st, err))
			return -1;
		/* own_retry_arrived takes it up once the grant is held. */
		if (!held)
			return err_set(err, ERR_NOT_FOUND,
			    "order %s: rights[%zu]: quota %s: " OWN_WAITING
			    ", to tell whether %s holds it",
			    op->key, i, quota, op->origin);
		if (strcmp(holder, op->origin) != 0)
			return err_set(err, ERR_FORBIDDEN,
			    "order %s: rights[%zu]: quota %s is %s's, not "
			    "%s's: only its holder spends it",
			    op->key, i, quota, holder, op->origin);
		if (fulfil == NULL || strcmp(w, fulfil) != 0)
			return err_set(err, ERR_FORBIDDEN,
			    "order %s: rights[%zu]: quota %s is on %s's stock, "
			    "not on %s's, which fulfils the order",
			    op->key, i, quota, w, fulfil != NULL ? fulfil : "");
		if (strcmp(of, sku) != 0)
			return err_set(err, ERR_FORBIDDEN,
			    "order %s: rights[%zu]: quota %s is on %s, not on "
			    "%s",
			    op->key, i, quota, of, sku);
	}
	return 0;
}

int
quota_order_apply(store_t *st, const op_t *op, int fresh, err_t *err)
{
	const json_t *e;
	sqlite3_stmt *s;
	size_t i;

	/* Only this rule writes them: a new order has none. */
	if (!fresh) {
		s = store_stmt(st,
		    "DELETE FROM quota_spends WHERE order_id = ?");
		sqlite3_bind_text(s, 1, op->key, -1, SQLITE_STATIC);
		if (store_step(st, s, "quota spends", err))
			return -1;
		s = store_stmt(st,
		    "DELETE FROM quota_backorders WHERE order_id = ?");
		sqlite3_bind_text(s, 1, op->key, -1, SQLITE_STATIC);
		if (store_step(st, s, "quota spends", err))
			return -1;
	}
	if (json_is_true(json_object_get(op->fields, "backorder"))) {
		s = store_stmt(st,
		    "INSERT INTO quota_backorders(order_id) VALUES (?)");
		sqlite3_bind_text(s, 1, op->key, -1, SQLITE_STATIC);
		if (store_step(st, s, "quota spends", err))
			return -1;
	}
	json_array_foreach(json_object_get(op->fields, "rights"), i, e) {
		s = store_stmt(st,
		    "INSERT INTO quota_spends(order_id, quota, sku, qty, "
		    "origin, seq) VALUES (?, ?, ?, ?, ?, ?)");
		sqlite3_bind_text(s, 1, op->key, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, s_str(e, "quota"), -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 3, s_str(e, "sku"), -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 4,
		    json_integer_value(json_object_get(e, "qty")));
		sqlite3_bind_text(s, 5, op->origin, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 6, (int64_t)op->seq);
		if (store_step(st, s, "quota spends", err))
			return -1;
	}
	return 0;
}

void
quota_order_show(store_t *st, const char *id, json_t *order)
{
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT count(*) FROM quota_backorders WHERE order_id = ?");
	json_t *rights = json_array();

	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	if (store_query_int(st, s, 0) > 0)
		json_object_set_new(order, "backorder", json_true());
	s = store_stmt(st,
	    "SELECT quota, sku, qty FROM quota_spends WHERE order_id = ? "
	    "ORDER BY quota, sku");
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	while (store_row(st, s))
		json_array_append_new(rights,
		    json_pack("{s:s, s:s, s:I}", "quota",
			(const char *)sqlite3_column_text(s, 0), "sku",
			(const char *)sqlite3_column_text(s, 1), "qty",
			(json_int_t)sqlite3_column_int64(s, 2)));
	sqlite3_reset(s);
	if (json_array_size(rights) > 0)
		json_object_set_new(order, "rights", rights);
	else
		json_decref(rights);
}
