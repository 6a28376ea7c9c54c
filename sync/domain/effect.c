/* effect: the stock effects of orders (see effect.h). */
#include "effect.h"

#include <stdlib.h>
#include <string.h>

#include "order.h"
#include "own.h"
#include "req.h"
#include "stock.h"

/* Whether id is ref followed by tag and a line number ("O-1" "-out-" "2"),
 * or that after site and '-' ("W001-" "O-1" "-out-" "2"): the ids order.c
 * derives for an order's movements at the site that records them. */
static int
s_derived(const char *id, const char *site, const char *ref, const char *tag)
{
	size_t n = strlen(ref), t = strlen(tag), k = strlen(site);
	const char *p;

	if (strncmp(id, site, k) == 0 && id[k] == '-' &&
	    strncmp(id + k + 1, ref, n) == 0)
		id += k + 1;
	if (strncmp(id, ref, n) != 0 || strncmp(id + n, tag, t) != 0 ||
	    id[n + t] == '\0')
		return 0;
	for (p = id + n + t; *p != '\0'; p++)
		if (*p < '0' || *p > '9')
			return 0;
	return 1;
}

const char *
effect_of(const char *id, const char *site, const char *reason, const char *ref,
    const char *order, const char **order_out)
{
	*order_out = NULL;
	if (order != NULL) {
		*order_out = order;
		return EFFECT_RETURN;
	}
	if (ref == NULL)
		return NULL;
	*order_out = ref;
	if (strcmp(reason, "sale") == 0 && s_derived(id, site, ref, "-out-"))
		return EFFECT_SALE;
	if (strcmp(reason, "return") == 0 && s_derived(id, site, ref, "-back-"))
		return EFFECT_RESTOCK;
	*order_out = NULL;
	return NULL;
}

int
effect_goods_left(const char *channel, int rank)
{
	return rank != ORDER_RANK_CANCELLED &&
	    rank >= order_leave_rank(channel);
}

/* An order as effect_sync needs it. */
typedef struct {
	int left;		      /* its goods left */
	char site[OP_SITE_MAX + 1];   /* where it was created */
	char fulfil[OP_SITE_MAX + 1]; /* where it is fulfilled */
} s_order_t;

/* Whether order is held here (*o filled). 1 held, 0 not, -1 with err on a
 * failed read. */
static int
s_order(store_t *st, const char *order, s_order_t *o, err_t *err)
{
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT channel, (SELECT max(rank) "
	    "FROM order_history h WHERE h.order_id = o.id), site, fulfil_site "
	    "FROM orders o WHERE o.id = ?");
	int held = 0;

	memset(o, 0, sizeof *o);
	sqlite3_bind_text(s, 1, order, -1, SQLITE_STATIC);
	if (store_row(st, s)) {
		held = 1;
		o->left = sqlite3_column_type(s, 1) != SQLITE_NULL &&
		    effect_goods_left((const char *)sqlite3_column_text(s, 0),
			sqlite3_column_int(s, 1));
		snprintf(o->site, sizeof o->site, "%s",
		    sqlite3_column_text(s, 2));
		snprintf(o->fulfil, sizeof o->fulfil, "%s",
		    sqlite3_column_text(s, 3));
	}
	sqlite3_reset(s);
	return store_read_error(st, err) ? -1 : held;
}

/* Whether a movement of effect at site is an effect of order o (invariant
 * 5): a sale or restock at its fulfilling site, a return at one of its
 * parties or head office. */
static int
s_party(const s_order_t *o, const char *effect, const char *site)
{
	if (strcmp(effect, EFFECT_RETURN) != 0)
		return strcmp(site, o->fulfil) == 0;
	return strcmp(site, o->site) == 0 || strcmp(site, o->fulfil) == 0 ||
	    own_is_hq(site);
}

/* What a movement of effect at site, of delta, counts (invariants 2, 3
 * and 5), unless it is a return recorded by a party of its order, which
 * s_plan counts against the order's other returns (invariant 4). held:
 * whether the order (o) is held here. */
static int64_t
s_want(int held, const s_order_t *o, const char *effect, const char *site,
    int64_t delta)
{
	if (!held || !s_party(o, effect, site))
		return delta;
	if (strcmp(effect, EFFECT_SALE) == 0)
		return o->left ? delta : 0;
	return 0; /* a restock never counts on top of its voided sale */
}

/* A movement whose counted changes. */
typedef struct {
	char id[OP_KEY_MAX + 1];
	int64_t counted;
} recount_t;

/* What each linked movement of order should count, in the order effect.h
 * says returns are counted (by sku, then oldest first); those that count
 * otherwise now are added to *v (*n of them, caller frees). The order is
 * read only when it has movements (an order's create and most of its
 * moves have none yet). */
static int
s_plan(store_t *st, const char *order, recount_t **v, size_t *n, err_t *err)
{
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT m.id, m.sku, m.delta, m.counted, m.effect, "
	    "(SELECT coalesce(sum(l.qty), 0) FROM order_lines l "
	    "WHERE l.order_id = m.order_id AND l.sku = m.sku), m.site "
	    "FROM stock_movements m WHERE m.order_id = ? "
	    "ORDER BY m.sku, m.hlc, m.origin, m.id");
	s_order_t o;
	int held = -1;
	char sku[REQ_ID_MAX + 1] = "";
	int64_t room = 0, want;
	size_t cap = 0;

	sqlite3_bind_text(s, 1, order, -1, SQLITE_STATIC);
	while (store_row(st, s)) {
		const char *msku = (const char *)sqlite3_column_text(s, 1);
		const char *effect = (const char *)sqlite3_column_text(s, 4);
		const char *msite = (const char *)sqlite3_column_text(s, 6);
		int64_t delta = sqlite3_column_int64(s, 2);

		/* Another statement than s: s stays where it is. */
		if (held < 0 && (held = s_order(st, order, &o, err)) < 0) {
			sqlite3_reset(s);
			return -1;
		}
		if (held && strcmp(effect, EFFECT_RETURN) == 0 &&
		    s_party(&o, effect, msite)) {
			/* What the order sold of this sku, less what older
			 * returns of it already put back. */
			if (strcmp(msku, sku) != 0) {
				snprintf(sku, sizeof sku, "%s", msku);
				room = o.left ? sqlite3_column_int64(s, 5) : 0;
			}
			want = delta < room ? delta : room;
			room -= want;
		} else {
			want = s_want(held, &o, effect, msite, delta);
		}
		if (want == sqlite3_column_int64(s, 3))
			continue;
		if (*n == cap) {
			cap = cap * 2 + 8;
			if ((*v = realloc(*v, cap * sizeof **v)) == NULL)
				abort();
		}
		snprintf((*v)[*n].id, sizeof(*v)[*n].id, "%s",
		    (const char *)sqlite3_column_text(s, 0));
		(*v)[(*n)++].counted = want;
	}
	sqlite3_reset(s);
	return store_read_error(st, err);
}

int
effect_sync(store_t *st, const char *order, err_t *err)
{
	recount_t *v = NULL;
	size_t n = 0, i;
	int rc = -1;

	if (s_plan(st, order, &v, &n, err))
		goto out;
	for (i = 0; i < n; i++)
		if (stock_recount(st, v[i].id, v[i].counted, err))
			goto out;
	rc = 0;
out:
	free(v);
	return rc;
}

int
effect_sync_added(store_t *st, const char *order, const char *effect,
    const char *id, const char *site, int64_t delta, err_t *err)
{
	s_order_t o;
	int held;
	int64_t want;

	/* A return takes room from the order's other returns. */
	if (strcmp(effect, EFFECT_RETURN) == 0)
		return effect_sync(st, order, err);
	if ((held = s_order(st, order, &o, err)) < 0)
		return -1;
	want = s_want(held, &o, effect, site, delta);
	return want == delta ? 0 : stock_recount(st, id, want, err);
}

int
effect_sold(store_t *st, const char *order, const char *sku, int64_t *sold,
    err_t *err)
{
	sqlite3_stmt *s;
	s_order_t o;
	int held = s_order(st, order, &o, err);

	*sold = 0;
	if (held < 0)
		return -1;
	if (!held)
		return err_set(err, ERR_NOT_FOUND, "order: %s not found",
		    order);
	if (!o.left)
		return 0;
	s = store_stmt(st,
	    "SELECT coalesce(sum(qty), 0) FROM "
	    "order_lines WHERE order_id = ? AND sku = ?");
	sqlite3_bind_text(s, 1, order, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, sku, -1, SQLITE_STATIC);
	return store_query_int64(st, s, 0, sold, err);
}

int64_t
effect_returned(store_t *st, const char *order, const char *sku)
{
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT coalesce(sum(m.delta), 0) FROM stock_movements m "
	    "JOIN orders o ON o.id = m.order_id WHERE m.order_id = ? "
	    "AND m.effect = '" EFFECT_RETURN "' AND m.sku = ? "
	    "AND " EFFECT_PARTY_SQL("m", "o"));

	sqlite3_bind_text(s, 1, order, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, sku, -1, SQLITE_STATIC);
	return store_query_int(st, s, 0);
}
