/*
 * visibility: who may receive an op (SPEC §5), decided when the hub logs it.
 *
 * Catalog, prices, safety stock, customers and head office's moves of
 * sites between regions (site.h) go to every site (a member card works
 * at every store, offline too). Orders, their payments and invoices go
 * to the site that created the order and the site that fulfils it; a
 * case to the site that opened it and its order's fulfilling site. Stock
 * movements go to every site of the moving site's region, and a
 * warehouse's to every site; a transfer's out leg also to the site it is
 * sent to, which records its receipt. A transfer document's ops go to its
 * source and its destination; a quota's (head office's own too) to its
 * warehouse and its holder. Head office receives everything.
 * Anything the hub cannot place (an order it has not seen) goes to
 * everyone: shown too widely rather than lost.
 *
 * An order family (an order, its child fulfilment orders, and the
 * payments, invoices and cases of any of them) is decided at send time
 * instead: visibility_family tags each of its ops with the family's root
 * order (op_log.vis_order) and keeps order_sites, who may see the family
 * now, in the transaction that logs the op: the root's creator and
 * fulfilling site, and each child's fulfilling site until that site
 * releases the child (moves it to cancelled). The stream sends a tagged
 * op to the sites order_sites lists when it sends it (hub/server.c).
 *
 * Only a family that may grow needs that: one whose root head office
 * allocates (created with no fulfilling site, fulfil.h), which alone gets
 * children. Any other root (a store's sale, an order a site fulfils) has
 * its creator and its fulfilling site for good, which is what
 * visibility_of names for its ops, its payments and its invoices: those
 * go by vis_site and vis_site2, untagged, costing the log no entry in its
 * index by family (schema/hub/0032) and the stream no lookup. A case goes
 * to whoever opened it, so it is tagged whatever its family.
 */
#include <string.h>

#include "aftersales.h"
#include "hub.h"
#include "invoice.h"
#include "order.h"
#include "payment.h"
#include "quota.h"
#include "transfer.h"

static void
s_copy(char *dst, size_t size, const unsigned char *src)
{
	snprintf(dst, size, "%s", src != NULL ? (const char *)src : "");
}

/* The two sites of record key as sql (two columns, the key bound as
 * ?1) reads them into v; 0 when the record is unknown here. */
static int
s_row_sites(store_t *st, const char *sql, const char *key, hub_vis_t *v)
{
	sqlite3_stmt *q = store_stmt(st, sql);
	int found = 0;

	sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
	if (store_row(st, q)) {
		s_copy(v->site, sizeof v->site, sqlite3_column_text(q, 0));
		s_copy(v->site2, sizeof v->site2, sqlite3_column_text(q, 1));
		found = 1;
	}
	sqlite3_reset(q);
	return found;
}

/* The creating and fulfilling sites of order id; 0 when unknown here. */
static int
s_order_sites(store_t *st, const char *id, hub_vis_t *v)
{
	return s_row_sites(st,
	    "SELECT site, fulfil_site FROM orders "
	    "WHERE id = ?",
	    id, v);
}

/* Sets the stock visibility of a movement at site; cache (may be NULL)
 * keeps what the registry said of the last site asked. */
static void
s_stock(store_t *st, const char *site, hub_vis_t *v, hub_site_cache_t *cache)
{
	sqlite3_stmt *q;

	snprintf(v->site, sizeof v->site, "%s", site);
	if (cache != NULL && cache->site[0] != '\0' &&
	    strcmp(cache->site, site) == 0) {
		snprintf(v->region, sizeof v->region, "%s", cache->region);
		return;
	}
	snprintf(v->region, sizeof v->region, "default");
	q = store_stmt(st, "SELECT role, region FROM sites WHERE id = ?");
	sqlite3_bind_text(q, 1, site, -1, SQLITE_STATIC);
	if (store_row(st, q)) {
		if (strcmp((const char *)sqlite3_column_text(q, 0),
			"warehouse") == 0)
			snprintf(v->region, sizeof v->region, "*");
		else
			s_copy(v->region, sizeof v->region,
			    sqlite3_column_text(q, 1));
	}
	sqlite3_reset(q);
	if (cache != NULL && store_read_error(st, NULL) == 0) {
		snprintf(cache->site, sizeof cache->site, "%s", site);
		snprintf(cache->region, sizeof cache->region, "%s", v->region);
	}
}

static const char *
s_field(const op_t *op, const char *name)
{
	const char *v = json_string_value(json_object_get(op->fields, name));

	return v != NULL ? v : "";
}

/* The two sites op names in its fields a and b into v; 1 (restricted). */
static int
s_field_sites(const op_t *op, const char *a, const char *b, hub_vis_t *v)
{
	snprintf(v->site, sizeof v->site, "%s", s_field(op, a));
	snprintf(v->site2, sizeof v->site2, "%s", s_field(op, b));
	return 1;
}

/* Fills v->vis from the site names v holds ("" = none). */
static void
s_finish(hub_vis_t *v, int restricted)
{
	memset(&v->vis, 0, sizeof v->vis);
	if (!restricted)
		return;
	v->vis.site = v->site[0] ? v->site : NULL;
	v->vis.site2 = v->site2[0] ? v->site2 : NULL;
	v->vis.region = v->region[0] ? v->region : NULL;
	/* A restriction that names nobody would hide the op from all. */
	if (v->vis.site == NULL && v->vis.site2 == NULL &&
	    v->vis.region == NULL)
		memset(&v->vis, 0, sizeof v->vis);
}

/* visibility_of, with what the registry said of a site kept in cache
 * (NULL: none). */
static void
s_visibility(store_t *st, const op_t *op, hub_vis_t *v, hub_site_cache_t *cache)
{
	sqlite3_stmt *q;
	int restricted = 0;

	memset(v, 0, sizeof *v);
	if (strcmp(op->entity, "stock_movement") == 0) {
		s_stock(st, s_field(op, "site"), v, cache);
		/* A transfer's out leg also goes to its destination, whose
		 * node records the receipt (stock.c). */
		snprintf(v->site2, sizeof v->site2, "%s", s_field(op, "to"));
		restricted = 1;
	} else if (strcmp(op->entity, "order") == 0) {
		restricted = strcmp(op->kind, "create") == 0
		    ? s_field_sites(op, "site", "fulfil_site", v)
		    : s_order_sites(st, op->key, v);
	} else if (strcmp(op->entity, "payment") == 0) {
		restricted = s_order_sites(st, s_field(op, "order"), v);
	} else if (strcmp(op->entity, "invoice") == 0) {
		const char *order = s_field(op, "order");
		char found[OP_KEY_MAX + 1] = "";

		if (order[0] == '\0') {
			q = store_stmt(st,
			    "SELECT order_id FROM invoices "
			    "WHERE id = ?");
			sqlite3_bind_text(q, 1, op->key, -1, SQLITE_STATIC);
			if (store_row(st, q))
				s_copy(found, sizeof found,
				    sqlite3_column_text(q, 0));
			sqlite3_reset(q);
			order = found;
		}
		restricted = s_order_sites(st, order, v);
	} else if (strcmp(op->entity, "case") == 0) {
		char site[OP_SITE_MAX + 1] = "", order[OP_KEY_MAX + 1] = "";

		if (strcmp(op->kind, "create") == 0) {
			snprintf(site, sizeof site, "%s", s_field(op, "site"));
			snprintf(order, sizeof order, "%s",
			    s_field(op, "order"));
		} else {
			q = store_stmt(st,
			    "SELECT site, order_id FROM cases "
			    "WHERE id = ? AND site != ''");
			sqlite3_bind_text(q, 1, op->key, -1, SQLITE_STATIC);
			if (store_row(st, q)) {
				s_copy(site, sizeof site,
				    sqlite3_column_text(q, 0));
				s_copy(order, sizeof order,
				    sqlite3_column_text(q, 1));
			}
			sqlite3_reset(q);
		}
		if (site[0] != '\0') {
			hub_vis_t o;

			memset(&o, 0, sizeof o);
			snprintf(v->site, sizeof v->site, "%s", site);
			if (order[0] != '\0' && s_order_sites(st, order, &o))
				snprintf(v->site2, sizeof v->site2, "%s",
				    o.site2);
			restricted = 1;
		}
	} else if (strcmp(op->entity, TRANSFER_ENTITY) == 0) {
		/* To its source and destination, fixed at its create. */
		restricted = strcmp(op->kind, "create") == 0
		    ? s_field_sites(op, "site", "to_site", v)
		    : s_row_sites(st,
			  "SELECT site, to_site FROM transfers WHERE id = ?",
			  op->key, v);
	} else if (strcmp(op->entity, QUOTA_ENTITY) == 0) {
		/* To the quota's holder and warehouse, which each of its ops
		 * names (quota.h). */
		restricted = s_field_sites(op, "site", "warehouse", v);
	}
	s_finish(v, restricted);
}

void
visibility_of(store_t *st, const op_t *op, hub_vis_t *v)
{
	s_visibility(st, op, v, NULL);
}

void
hub_vis_of(void *arg, store_t *store, const op_t *op, ingest_from_t *from)
{
	hub_from_t *r = arg;

	s_visibility(store, op, &r->vis, &r->site);
	from->vis = &r->vis.vis;
}

void
hub_from_of(void *arg, store_t *store, const op_t *op, ingest_from_t *from)
{
	hub_from_t *r = arg;
	sqlite3_stmt *q = store_stmt(store,
	    "SELECT role FROM sites WHERE id = ?");

	r->role[0] = '\0';
	sqlite3_bind_text(q, 1, op->origin, -1, SQLITE_STATIC);
	if (store_row(store, q))
		snprintf(r->role, sizeof r->role, "%s",
		    sqlite3_column_text(q, 0));
	sqlite3_reset(q);
	visibility_of(store, op, &r->vis);
	from->role = r->role;
	from->vis = &r->vis.vis;
}

/* ---- who may see an order family now (schema/hub/0032) ---- */

/* The root of order id's family into root (OP_KEY_MAX + 1 bytes): its
 * parent, or itself; "" when the hub does not hold it. *fixed: whether
 * the family is for good its root's creator's and fulfilling site's (a
 * root with a fulfilling site, which no child is made for). */
static void
s_root(store_t *st, const char *id, char *root, int *fixed)
{
	sqlite3_stmt *q = store_stmt(st,
	    "SELECT coalesce(nullif(parent, ''), id), "
	    "coalesce(parent, '') = '' AND fulfil_site != '' FROM orders "
	    "WHERE id = ?");

	root[0] = '\0';
	*fixed = 0;
	if (id[0] == '\0')
		return;
	sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
	if (store_row(st, q)) {
		s_copy(root, OP_KEY_MAX + 1, sqlite3_column_text(q, 0));
		*fixed = sqlite3_column_int(q, 1);
	}
	sqlite3_reset(q);
}

/* Lets site ("" for none) see root's family from now on. */
static int
s_grant(store_t *st, const char *root, const char *site, err_t *err)
{
	sqlite3_stmt *q = store_stmt(st,
	    "INSERT OR IGNORE INTO order_sites(order_id, site) VALUES (?, ?)");

	if (site[0] == '\0')
		return 0;
	sqlite3_bind_text(q, 1, root, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, site, -1, SQLITE_STATIC);
	return store_step(st, q, "order sites", err);
}

/* A child order moved to cancelled by its fulfilling site, which so
 * releases it (a cancellation that lost to a shipment releases nothing):
 * that site sees root's family no more, unless it created the root, is
 * the root's fulfilling site, or fulfils another child not cancelled. */
static int
s_release(store_t *st, const op_t *op, const char *root, err_t *err)
{
	sqlite3_stmt *q = store_stmt(st,
	    "DELETE FROM order_sites WHERE order_id = ?1 AND site = ?3 "
	    "AND (SELECT max(rank) FROM order_history WHERE order_id = ?2) "
	    "= ?4 AND ?3 = (SELECT fulfil_site FROM orders WHERE id = ?2) "
	    "AND NOT EXISTS (SELECT 1 FROM orders WHERE id = ?1 "
	    "AND (site = ?3 OR fulfil_site = ?3)) "
	    "AND NOT EXISTS (SELECT 1 FROM orders c WHERE c.parent = ?1 "
	    "AND c.fulfil_site = ?3 AND c.id != ?2 AND coalesce((SELECT "
	    "max(rank) FROM order_history h WHERE h.order_id = c.id), -1) "
	    "!= ?4)");

	sqlite3_bind_text(q, 1, root, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, op->key, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, op->origin, -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 4, ORDER_RANK_CANCELLED);
	return store_step(st, q, "order sites", err);
}

/* Tags head office's own op, logged with no visibility, as visibility_of
 * would have tagged the same op of a site (a quota grant to its holder and
 * warehouse, a transfer's reconciliation to its two sites, ...). */
static int
s_tag_own(store_t *st, const op_t *op, err_t *err)
{
	sqlite3_stmt *q;
	hub_vis_t v;

	visibility_of(st, op, &v);
	if (v.vis.site == NULL && v.vis.site2 == NULL && v.vis.region == NULL)
		return store_read_error(st, err);
	q = store_stmt(st,
	    "UPDATE op_log SET vis_site = ?, vis_site2 = ?, vis_region = ? "
	    "WHERE origin = ? AND seq = ?");
	sqlite3_bind_text(q, 1, v.vis.site, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, v.vis.site2, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, v.vis.region, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, op->origin, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 5, (int64_t)op->seq);
	return store_step(st, q, "own op visibility", err);
}

/* Where the order an op of another entity is about is held, once the op
 * is applied. */
static const struct {
	const char *entity;
	const char *sql;
} s_about_order[] = {
	{ PAYMENT_ENTITY, "SELECT order_id FROM payments WHERE id = ?" },
	{ INVOICE_ENTITY, "SELECT order_id FROM invoices WHERE id = ?" },
	{ CASE_ENTITY, "SELECT order_id FROM cases WHERE id = ?" },
};

int
visibility_family(void *arg, store_t *st, const op_t *op, char *root,
    err_t *err)
{
	char order[OP_KEY_MAX + 1] = "";
	sqlite3_stmt *q;
	size_t i;
	int fixed = 0;

	(void)arg;
	root[0] = '\0';
	if (strcmp(op->entity, ORDER_ENTITY) == 0 &&
	    strcmp(op->kind, "create") == 0) {
		const char *granted = "";

		/* A child: its fulfilling site joins its root's family. */
		snprintf(root, OP_KEY_MAX + 1, "%s", s_field(op, "parent"));
		if (root[0] == '\0') {
			snprintf(root, OP_KEY_MAX + 1, "%s", op->key);
			granted = s_field(op, "site");
			if (s_grant(st, root, granted, err))
				return -1;
		}
		/* A store's own sale, fulfilled where it was made: one row. */
		if (strcmp(s_field(op, "fulfil_site"), granted) != 0 &&
		    s_grant(st, root, s_field(op, "fulfil_site"), err))
			return -1;
		fixed = granted[0] != '\0' && s_field(op, "fulfil_site")[0];
	} else if (strcmp(op->entity, ORDER_ENTITY) == 0) {
		s_root(st, op->key, root, &fixed);
		if (root[0] != '\0' && strcmp(root, op->key) != 0 &&
		    strcmp(op->kind, "transition") == 0 &&
		    strcmp(s_field(op, "to"), "cancelled") == 0 &&
		    s_release(st, op, root, err))
			return -1;
	} else {
		for (i = 0; i < sizeof s_about_order / sizeof s_about_order[0];
		     i++) {
			if (strcmp(op->entity, s_about_order[i].entity) != 0)
				continue;
			q = store_stmt(st, s_about_order[i].sql);
			sqlite3_bind_text(q, 1, op->key, -1, SQLITE_STATIC);
			if (store_row(st, q) &&
			    sqlite3_column_type(q, 0) == SQLITE_TEXT)
				s_copy(order, sizeof order,
				    sqlite3_column_text(q, 0));
			sqlite3_reset(q);
			s_root(st, order, root, &fixed);
			/* A case goes to whoever opened it (visibility_of). */
			if (strcmp(op->entity, CASE_ENTITY) == 0)
				fixed = 0;
		}
	}
	/* Not of an order family that may grow, or of an order not held
	 * here: the op goes by vis_site, vis_site2 and vis_region
	 * (visibility_of). */
	if (fixed)
		root[0] = '\0';
	return store_read_error(st, err);
}

int
visibility_logged(void *arg, store_t *st, const op_t *op, err_t *err)
{
	char root[OP_KEY_MAX + 1];
	sqlite3_stmt *q;

	/* The hub logs its own writes without deciding who may see them
	 * (store_append_local): they go where the same op of a site would. */
	if (strcmp(op->origin, store_site(st)) == 0 && s_tag_own(st, op, err))
		return -1;
	if (visibility_family(arg, st, op, root, err))
		return -1;
	if (root[0] == '\0')
		return 0;
	q = store_stmt(st,
	    "UPDATE op_log SET vis_order = ? WHERE origin = ? AND seq = ?");
	sqlite3_bind_text(q, 1, root, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, op->origin, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, (int64_t)op->seq);
	return store_step(st, q, "order visibility", err);
}

int
visibility_apply_received(store_t *st, size_t max, size_t max_bytes,
    size_t *done, err_t *err)
{
	hub_from_t from;
	store_hub_t hub = { hub_vis_of, visibility_family, &from };
	size_t quarantined = 0;

	/* What the registry said is kept for this transaction only. */
	memset(&from, 0, sizeof from);
	return store_apply_received(st, max, max_bytes, &hub, done,
	    &quarantined, err);
}

int
visibility_apply_all(store_t *st, err_t *err)
{
	size_t done = 1;
	int failed = 0;

	/* A row that fails is tried again: the store moves it out of the
	 * way the third time (store_apply_received). */
	do {
		if (store_begin(st, err) ||
		    visibility_apply_received(st, VISIBILITY_APPLY_SLICE, 0,
			&done, err) ||
		    store_commit(st, err)) {
			store_rollback(st);
			if (++failed < 3)
				continue;
			return err_prefix(err, "apply received ops");
		}
		failed = 0;
	} while (done > 0);
	return 0;
}

void
visibility_attach(store_t *st)
{
	store_set_logged(st, visibility_logged, NULL);
}
