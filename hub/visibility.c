/*
 * visibility: who may receive an op (SPEC §5), decided when the hub logs it.
 *
 * Catalog, prices, safety stock and customers go to every site (a member
 * card works at every store, offline too). Orders, their payments and
 * invoices go to the site that created the order and the site that fulfils
 * it; a case to the site that opened it and its order's fulfilling site.
 * Stock movements go to every site of the moving site's region, and a
 * warehouse's to every site; a transfer's out leg also to the site it is
 * sent to, which records its receipt. Head office receives everything.
 * Anything the hub cannot place (an order it has not seen) goes to
 * everyone: shown too widely rather than lost.
 */
#include <string.h>

#include "hub.h"

static void
s_copy(char *dst, size_t size, const unsigned char *src)
{
	snprintf(dst, size, "%s", src != NULL ? (const char *)src : "");
}

/* The creating and fulfilling sites of order id; 0 when unknown here. */
static int
s_order_sites(store_t *st, const char *id, hub_vis_t *v)
{
	sqlite3_stmt *q = store_stmt(st,
	    "SELECT site, fulfil_site FROM orders "
	    "WHERE id = ?");
	int found = 0;

	sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
	if (store_row(st, q)) {
		s_copy(v->site, sizeof v->site, sqlite3_column_text(q, 0));
		s_copy(v->site2, sizeof v->site2, sqlite3_column_text(q, 1));
		found = 1;
	}
	sqlite3_reset(q);
	return found;
}

/* Sets the stock visibility of a movement at site. */
static void
s_stock(store_t *st, const char *site, hub_vis_t *v)
{
	sqlite3_stmt *q = store_stmt(st,
	    "SELECT role, region FROM sites "
	    "WHERE id = ?");

	snprintf(v->site, sizeof v->site, "%s", site);
	snprintf(v->region, sizeof v->region, "default");
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
}

static const char *
s_field(const op_t *op, const char *name)
{
	const char *v = json_string_value(json_object_get(op->fields, name));

	return v != NULL ? v : "";
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

void
visibility_of(store_t *st, const op_t *op, hub_vis_t *v)
{
	sqlite3_stmt *q;
	int restricted = 0;

	memset(v, 0, sizeof *v);
	if (strcmp(op->entity, "stock_movement") == 0) {
		s_stock(st, s_field(op, "site"), v);
		/* A transfer's out leg also goes to its destination, whose
		 * node records the receipt (stock.c). */
		snprintf(v->site2, sizeof v->site2, "%s", s_field(op, "to"));
		restricted = 1;
	} else if (strcmp(op->entity, "order") == 0) {
		if (strcmp(op->kind, "create") == 0) {
			snprintf(v->site, sizeof v->site, "%s",
			    s_field(op, "site"));
			snprintf(v->site2, sizeof v->site2, "%s",
			    s_field(op, "fulfil_site"));
			restricted = 1;
		} else {
			restricted = s_order_sites(st, op->key, v);
		}
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
	}
	s_finish(v, restricted);
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
