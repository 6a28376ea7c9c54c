/*
 * allocate: head office allocates online and b2b orders to the sites that
 * fulfil them (README, "Allocation of online orders"; what a fulfilment
 * order is: sync/domain/fulfil.h).
 *
 * An online or b2b order created without a fulfilling site waits in
 * alloc_queue (schema/hub/0031): the hub's triggers queue it, in the
 * transaction that applied the op, whenever its history or a child's
 * grows (created, confirmed, cancelled; a child created, released,
 * shipped). The daemon looks at what is due every second (allocate_tick):
 * one index probe when nothing waits. Each order due is decided in one
 * transaction of its own, and every fulfilment order it writes goes
 * through the command path of any write at the hub (order_create_in, an
 * op of head office's), so it reaches its site as any op does.
 *
 * The decision, for the lines of a confirmed order that no live child
 * covers yet:
 *   candidates  the sites the rules list (alloc_rules), or with none every
 *               active warehouse at priority 0; never a revoked site, nor
 *               one that released this order before;
 *   available   on hand less reserved, as the hub's stock view has it
 *               (stock_list), less what the site's quotas promised
 *               stores and not yet took (quota_free), less what this
 *               decision already took;
 *   one site    the first candidate with every line available, in the
 *               order: in the customer's region first, then by priority
 *               (lower first), then by site id;
 *   split       when no site has every line and the rules allow it: each
 *               line to the first candidate (same order) that has it, one
 *               child per site;
 *   otherwise   the lines no site has are left; the order stays queued,
 *               due again after ALLOC_RETRY_MS, and raises one
 *               allocation_failed alert (its message, and since when,
 *               change only when the reason does).
 * The reason is the child's note ("W002: all lines available, region
 * east"), so it is in the order's history everywhere the child goes. An
 * order cancelled by its creator or head office has its live children
 * that have not shipped cancelled by head office, with that reason.
 *
 * Progress is seen: GET /v1/status "allocation" counts what was written
 * and waits, each decision and each new failure is a log line, and a
 * failure is an alert.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fulfil.h"
#include "hub.h"
#include "lifecycle.h"
#include "log.h"
#include "order.h"
#include "prog.h"
#include "quota.h"
#include "req.h"
#include "stock.h"

#define ALLOC_BATCH 32	    /* orders decided per tick at most */
#define ALLOC_RETRY_MS 5000 /* an order not allocated is due again after */
#define ALLOC_SITES_MAX 256 /* sites in the rules */
#define ALLOC_PRIORITY_MAX 1000000
#define ALLOC_REASON_MAX 512 /* a child's note */

struct allocator {
	store_t *store;
	uint64_t runs;	    /* ticks that found work */
	uint64_t written;   /* fulfilment orders written */
	uint64_t cancelled; /* fulfilments cancelled with their order */
	uint64_t failed;    /* decisions that left lines */
	uint64_t last_ms;   /* when it last decided something */
	char
	    last_error[ERR_MSG_MAX]; /* the last storage failure, logged once */
};

/* ---- rules ---- */

/* A candidate site, in the order of preference. */
typedef struct {
	char site[OP_SITE_MAX + 1];
	char region[64];
	int64_t priority;
	int in_region; /* in the customer's region */
} s_cand_t;

/* The candidates for order (its customer in region cregion, NULL when
 * none), in the order of preference, into c (ALLOC_SITES_MAX); *n of
 * them. */
static int
s_candidates(store_t *st, const char *order, const char *cregion, s_cand_t *c,
    size_t *n, err_t *err)
{
	/* clang-format off */
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT s.id, s.region, coalesce(r.priority, 0), "
	    "coalesce(s.region = ?2, 0) AS here FROM sites s "
	    "LEFT JOIN alloc_rules r ON r.site = s.id "
	    "WHERE s.revoked_at IS NULL AND s.role IN ('store', 'warehouse') "
	    "AND CASE WHEN EXISTS (SELECT 1 FROM alloc_rules) "
	    "THEN r.site IS NOT NULL ELSE s.role = 'warehouse' END "
	    "AND s.id NOT IN (SELECT c.fulfil_site FROM orders c "
	    "WHERE c.parent = ?1 AND EXISTS (SELECT 1 FROM order_history h "
	    "WHERE h.order_id = c.id AND h.origin = c.fulfil_site AND h.rank = "
	    ORDER_SQL(ORDER_RANK_CANCELLED) ")) "
	    "ORDER BY here DESC, 3, s.id LIMIT " ORDER_SQL(ALLOC_SITES_MAX));
	/* clang-format on */

	*n = 0;
	sqlite3_bind_text(s, 1, order, -1, SQLITE_STATIC);
	if (cregion != NULL)
		sqlite3_bind_text(s, 2, cregion, -1, SQLITE_STATIC);
	while (*n < ALLOC_SITES_MAX && store_row(st, s)) {
		s_cand_t *x = &c[(*n)++];

		snprintf(x->site, sizeof x->site, "%s",
		    (const char *)sqlite3_column_text(s, 0));
		snprintf(x->region, sizeof x->region, "%s",
		    (const char *)sqlite3_column_text(s, 1));
		x->priority = sqlite3_column_int64(s, 2);
		x->in_region = sqlite3_column_int(s, 3);
	}
	sqlite3_reset(s);
	return store_read_error(st, err);
}

/* Whether the rules let an order be split. */
static int
s_split(store_t *st)
{
	return (int)store_query_int(st,
	    store_stmt(st, "SELECT split FROM alloc_settings WHERE id = 1"), 1);
}

int
allocate_rules_get(void *store, const json_t *query, json_t **out, err_t *err)
{
	store_t *st = store;
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT s.id, coalesce(r.priority, 0), s.region, "
	    "s.revoked_at IS NOT NULL FROM sites s "
	    "LEFT JOIN alloc_rules r ON r.site = s.id WHERE CASE WHEN EXISTS "
	    "(SELECT 1 FROM alloc_rules) THEN r.site IS NOT NULL ELSE "
	    "s.role = 'warehouse' AND s.revoked_at IS NULL END "
	    "ORDER BY 2, s.id");
	json_t *sites = json_array(), *x;
	int64_t rules = store_query_int(st,
	    store_stmt(st, "SELECT count(*) FROM alloc_rules"), 0);

	(void)query;
	while (store_row(st, s)) {
		x = json_pack("{s:s, s:I, s:s}", "site",
		    (const char *)sqlite3_column_text(s, 0), "priority",
		    (json_int_t)sqlite3_column_int64(s, 1), "region",
		    (const char *)sqlite3_column_text(s, 2));
		if (sqlite3_column_int(s, 3))
			json_object_set_new(x, "revoked", json_true());
		json_array_append_new(sites, x);
	}
	sqlite3_reset(s);
	*out = json_pack("{s:o, s:b, s:b, s:I}", "sites", sites, "split",
	    s_split(st), "default", rules == 0, "updated_ms",
	    (json_int_t)store_query_int(st,
		store_stmt(st,
		    "SELECT updated_ms FROM alloc_settings WHERE id = 1"),
		0));
	if (store_read_error(st, err)) {
		json_decref(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

/* Checks one entry of a PUT's sites against the registry. */
static int
s_check_rule_site(store_t *st, const json_t *e, size_t i, const json_t *all,
    err_t *err)
{
	static const char *const allowed[] = { "site", "priority", NULL };
	const char *site, *role = NULL;
	int64_t prio;
	int revoked = 0;
	size_t j;
	sqlite3_stmt *s;

	if (!json_is_object(e))
		return err_set(err, ERR_BAD_REQUEST,
		    "sites[%zu]: must be an object", i);
	if (req_only(e, allowed, err) ||
	    req_text(e, "site", OP_SITE_MAX, 1, &site, err) ||
	    req_int(e, "priority", 0, ALLOC_PRIORITY_MAX, 0, 0, &prio, err))
		return err_prefix(err, "sites[%zu]", i);
	for (j = 0; j < i; j++)
		if (strcmp(json_string_value(
			       json_object_get(json_array_get(all, j), "site")),
			site) == 0)
			return err_set(err, ERR_BAD_REQUEST,
			    "sites[%zu]: site: %s is listed twice", i, site);
	s = store_stmt(st,
	    "SELECT role, revoked_at IS NOT NULL FROM sites WHERE id = ?");
	sqlite3_bind_text(s, 1, site, -1, SQLITE_STATIC);
	if (store_row(st, s)) {
		role = strcmp((const char *)sqlite3_column_text(s, 0), "hq") ==
			0
		    ? NULL
		    : "";
		revoked = sqlite3_column_int(s, 1);
	}
	sqlite3_reset(s);
	if (store_read_error(st, err))
		return -1;
	if (role == NULL)
		return err_set(err, ERR_UNPROCESSABLE,
		    "sites[%zu]: site: %s is not an enrolled store or "
		    "warehouse",
		    i, site);
	if (revoked)
		return err_set(err, ERR_UNPROCESSABLE,
		    "sites[%zu]: site: %s is revoked", i, site);
	return 0;
}

/* The PUT's transaction: the rules replaced, every waiting order due. */
static int
s_put(store_t *st, void *arg, err_t *err)
{
	const json_t *body = arg, *e;
	sqlite3_stmt *s;
	size_t i;
	int split;

	if (req_bool(body, "split", 1, &split, err))
		return -1;
	json_array_foreach(json_object_get(body, "sites"), i, e)
		if (s_check_rule_site(st, e, i, json_object_get(body, "sites"),
			err))
			return -1;
	if (store_step(st, store_stmt(st, "DELETE FROM alloc_rules"),
		"allocation rules", err))
		return -1;
	json_array_foreach(json_object_get(body, "sites"), i, e) {
		s = store_stmt(st,
		    "INSERT INTO alloc_rules(site, priority) VALUES (?, ?)");
		sqlite3_bind_text(s, 1,
		    json_string_value(json_object_get(e, "site")), -1,
		    SQLITE_STATIC);
		sqlite3_bind_int64(s, 2,
		    json_integer_value(json_object_get(e, "priority")));
		if (store_step(st, s, "allocation rules", err))
			return -1;
	}
	s = store_stmt(st,
	    "UPDATE alloc_settings SET split = ?, updated_ms = ? WHERE id = 1");
	sqlite3_bind_int(s, 1, split);
	sqlite3_bind_int64(s, 2, (int64_t)store_wall_ms(st));
	if (store_step(st, s, "allocation rules", err))
		return -1;
	return store_step(st,
	    store_stmt(st, "UPDATE alloc_queue SET due_ms = 0"),
	    "allocation rules", err);
}

int
allocate_rules_put(void *store, const json_t *body, json_t **out, err_t *err)
{
	static const char *const allowed[] = { "sites", "split", NULL };
	store_t *st = store;
	const json_t *sites = json_object_get(body, "sites");

	*out = NULL;
	if (req_only(body, allowed, err))
		return -1;
	if (sites == NULL || json_is_null(sites))
		return err_set(err, ERR_BAD_REQUEST, "sites: missing");
	if (!json_is_array(sites) || json_array_size(sites) > ALLOC_SITES_MAX)
		return err_set(err, ERR_BAD_REQUEST,
		    "sites: must be an array of at most %d sites",
		    ALLOC_SITES_MAX);
	if (store_txn(st, s_put, (void *)body, err))
		return -1;
	log_info("allocation: rules set: %zu sites%s, split %s",
	    json_array_size(sites),
	    json_array_size(sites) == 0 ? " (every active warehouse)" : "",
	    json_is_false(json_object_get(body, "split")) ? "no" : "yes");
	return allocate_rules_get(st, NULL, out, err);
}

/* ---- deciding ---- */

/* One uncovered line of the order being decided. */
typedef struct {
	const fulfil_line_t *l;
	int site; /* index of its candidate, -1 none yet */
} s_want_t;

/* What the candidates have available of a sku (per candidate). */
typedef struct {
	char sku[REQ_ID_MAX + 1];
	int64_t *avail; /* per candidate, less what this decision took */
} s_avail_t;

/* The order being decided, with what it needs. */
typedef struct {
	allocator_t *a;
	const char *id;
	char site[OP_SITE_MAX + 1]; /* its creating site */
	char channel[16];
	char currency[4];
	char customer[OP_KEY_MAX + 1]; /* "" without one */
	char cregion[64];	       /* the customer's, "" without one */
	int rank;
	fulfil_line_t *lines;
	size_t nlines;
	s_want_t *want;
	size_t nwant;
	s_cand_t *cands;
	size_t ncands;
	s_avail_t *skus;
	size_t nskus;
	char failed[2 * ERR_MSG_MAX]; /* why lines were left, "" if none */
} s_order_t;

static void
s_order_free(s_order_t *o)
{
	size_t i;

	for (i = 0; i < o->nskus; i++)
		free(o->skus[i].avail);
	free(o->skus);
	free(o->want);
	free(o->lines);
	free(o->cands);
}

/* Reads order o->id: 1 when it is one head office allocates (held, no
 * parent, fulfil_site ""), 0 when not, -1 with err. */
static int
s_read_order(store_t *st, s_order_t *o, err_t *err)
{
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT o.site, o.channel, o.currency, o.customer, "
	    "(SELECT max(rank) FROM order_history h WHERE h.order_id = o.id), "
	    "(SELECT region FROM customers c WHERE c.id = o.customer) "
	    "FROM orders o WHERE o.id = ? AND o.parent IS NULL AND "
	    "o.fulfil_site = '' AND o.channel IN ('online', 'b2b')");
	int found = 0;

	sqlite3_bind_text(s, 1, o->id, -1, SQLITE_STATIC);
	if (store_row(st, s)) {
		found = 1;
		snprintf(o->site, sizeof o->site, "%s",
		    (const char *)sqlite3_column_text(s, 0));
		snprintf(o->channel, sizeof o->channel, "%s",
		    (const char *)sqlite3_column_text(s, 1));
		snprintf(o->currency, sizeof o->currency, "%s",
		    (const char *)sqlite3_column_text(s, 2));
		if (sqlite3_column_type(s, 3) != SQLITE_NULL)
			snprintf(o->customer, sizeof o->customer, "%s",
			    (const char *)sqlite3_column_text(s, 3));
		o->rank = sqlite3_column_type(s, 4) == SQLITE_NULL
		    ? -1
		    : sqlite3_column_int(s, 4);
		if (sqlite3_column_type(s, 5) != SQLITE_NULL)
			snprintf(o->cregion, sizeof o->cregion, "%s",
			    (const char *)sqlite3_column_text(s, 5));
	}
	sqlite3_reset(s);
	return store_read_error(st, err) ? -1 : found;
}

/* Fills o->skus with what each candidate has available of each sku the
 * uncovered lines want, from the hub's stock view. */
static int
s_read_stock(store_t *st, s_order_t *o, err_t *err)
{
	size_t i, j, k;
	json_t *q, *list, *row;

	o->skus = calloc(o->nwant, sizeof *o->skus);
	if (o->skus == NULL)
		return err_set(err, ERR_INTERNAL, "allocate: out of memory");
	for (i = 0; i < o->nwant; i++) {
		const char *sku = o->want[i].l->sku;
		s_avail_t *a;

		for (j = 0; j < o->nskus; j++)
			if (strcmp(o->skus[j].sku, sku) == 0)
				break;
		if (j < o->nskus)
			continue;
		a = &o->skus[o->nskus++];
		snprintf(a->sku, sizeof a->sku, "%s", sku);
		if ((a->avail = calloc(o->ncands + 1, sizeof *a->avail)) ==
		    NULL)
			return err_set(err, ERR_INTERNAL,
			    "allocate: out of memory");
		q = json_pack("{s:s}", "sku", sku);
		if (stock_list(st, q, &list, err)) {
			json_decref(q);
			return -1;
		}
		json_decref(q);
		json_array_foreach(json_object_get(list, "items"), k, row) {
			const char *site = json_string_value(
			    json_object_get(row, "site"));

			/* Less what its quotas promised stores (quota.h):
			 * an online order never takes a promised unit. */
			for (j = 0; j < o->ncands; j++)
				if (strcmp(o->cands[j].site, site) == 0)
					a->avail[j] = quota_free(st, site, sku);
		}
		json_decref(list);
	}
	return store_read_error(st, err);
}

/* What is available of sku at candidate c. */
static int64_t *
s_avail(s_order_t *o, const char *sku, size_t c)
{
	size_t j;

	for (j = 0; j < o->nskus; j++)
		if (strcmp(o->skus[j].sku, sku) == 0)
			return &o->skus[j].avail[c];
	return NULL; /* every wanted sku was read */
}

/* Whether candidate c has every uncovered line available. */
static int
s_has_all(s_order_t *o, size_t c)
{
	size_t i, j;
	int64_t need;

	for (i = 0; i < o->nwant; i++) {
		need = 0;
		for (j = 0; j < o->nwant; j++)
			if (strcmp(o->want[j].l->sku, o->want[i].l->sku) == 0)
				need += o->want[j].l->qty;
		if (*s_avail(o, o->want[i].l->sku, c) < need)
			return 0;
	}
	return 1;
}

/* "lines 1, 3" of the wanted lines assigned to candidate c (or, c < 0,
 * those assigned to none) into buf. */
static void
s_line_list(const s_order_t *o, int c, char *buf, size_t size)
{
	size_t i, off, count = 0;

	for (i = 0; i < o->nwant; i++)
		count += o->want[i].site == c;
	off = (size_t)snprintf(buf, size, count == 1 ? "line" : "lines");
	count = 0;
	for (i = 0; i < o->nwant && off < size; i++)
		if (o->want[i].site == c)
			off += (size_t)snprintf(buf + off, size - off, "%s%d",
			    count++ == 0 ? " " : ", ", o->want[i].l->line);
}

/* The reason of choosing candidate c for what it was given: "W002: all
 * lines available, region east". */
static void
s_reason(const s_order_t *o, int c, int split, char *buf, size_t size)
{
	const s_cand_t *x = &o->cands[c];
	char lines[256];
	size_t n = 0;

	if (!split && o->nwant == o->nlines)
		snprintf(lines, sizeof lines, "all lines");
	else
		s_line_list(o, c, lines, sizeof lines);
	n = (size_t)snprintf(buf, size, "%s: %s available%s, region %s",
	    x->site, lines, split ? ", split" : "", x->region);
	if (n < size && o->cregion[0] != '\0' && !x->in_region)
		snprintf(buf + n, size - n, " (customer in %s)", o->cregion);
}

/* Writes the child of order o for the lines assigned to candidate c, with
 * reason as its note, as head office (order_create_in). */
static int
s_write_child(store_t *st, s_order_t *o, int c, const char *reason, err_t *err)
{
	json_t *req, *lines = json_array(), *out = NULL;
	char id[32];
	size_t i;
	int created, rc;

	for (i = 0; i < o->nwant; i++)
		if (o->want[i].site == c)
			json_array_append_new(lines,
			    json_pack("{s:s, s:I, s:I}", "sku",
				o->want[i].l->sku, "qty",
				(json_int_t)o->want[i].l->qty, "unit_price",
				(json_int_t)o->want[i].l->unit_price));
	snprintf(id, sizeof id, FULFIL_ID_PREFIX "%llu",
	    (unsigned long long)store_next_seq(st));
	req = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o}", "id", id,
	    "parent", o->id, "channel", o->channel, "currency", o->currency,
	    "fulfil_site", o->cands[c].site, "status", "allocated", "note",
	    reason, "lines", lines);
	if (o->customer[0] != '\0')
		json_object_set_new(req, "customer", json_string(o->customer));
	rc = order_create_in(st, req, &out, &created, err);
	if (rc == 0)
		log_info("allocation: order %s: %s %s", o->id,
		    json_string_value(json_object_get(out, "id")), reason);
	json_decref(out);
	json_decref(req);
	if (rc)
		return err_prefix(err, "allocate order %s to %s", o->id,
		    o->cands[c].site);
	o->a->written++;
	return 0;
}

/* Decides order o (read, confirmed, with uncovered lines): assigns
 * o->want[].site and writes the children; what is left says o->failed. */
static int
s_decide(store_t *st, s_order_t *o, err_t *err)
{
	size_t i, c;
	int chosen = -1, split, wrote;
	char reason[ALLOC_REASON_MAX], left[256];

	if ((o->cands = calloc(ALLOC_SITES_MAX, sizeof *o->cands)) == NULL)
		return err_set(err, ERR_INTERNAL, "allocate: out of memory");
	if (s_candidates(st, o->id, o->cregion[0] != '\0' ? o->cregion : NULL,
		o->cands, &o->ncands, err) ||
	    s_read_stock(st, o, err))
		return -1;
	if (o->ncands == 0) {
		snprintf(o->failed, sizeof o->failed,
		    "order %s: no site to allocate it to (no active "
		    "warehouse or site in the rules that has not released it)",
		    o->id);
		return 0;
	}
	for (c = 0; c < o->ncands && chosen < 0; c++)
		if (s_has_all(o, c))
			chosen = (int)c;
	if (chosen >= 0) {
		for (i = 0; i < o->nwant; i++)
			o->want[i].site = chosen;
		s_reason(o, chosen, 0, reason, sizeof reason);
		return s_write_child(st, o, chosen, reason, err);
	}
	if (!(split = s_split(st))) {
		snprintf(o->failed, sizeof o->failed,
		    "order %s: no site has every line available, and the "
		    "rules do not allow a split",
		    o->id);
		return 0;
	}
	/* Each line to the first candidate that has it, in order. */
	for (i = 0; i < o->nwant; i++)
		for (c = 0; c < o->ncands; c++) {
			int64_t *av = s_avail(o, o->want[i].l->sku, c);

			if (*av >= o->want[i].l->qty) {
				*av -= o->want[i].l->qty;
				o->want[i].site = (int)c;
				break;
			}
		}
	/* One child per site, in the order of preference. */
	for (c = 0; c < o->ncands; c++) {
		wrote = 0;
		for (i = 0; i < o->nwant; i++)
			wrote = wrote || o->want[i].site == (int)c;
		if (!wrote)
			continue;
		s_reason(o, (int)c, 1, reason, sizeof reason);
		if (s_write_child(st, o, (int)c, reason, err))
			return -1;
	}
	for (i = 0; i < o->nwant; i++)
		if (o->want[i].site < 0)
			break;
	if (i < o->nwant) {
		s_line_list(o, -1, left, sizeof left);
		snprintf(o->failed, sizeof o->failed,
		    "order %s: %s available at no site", o->id, left);
	}
	return 0;
}

/* Cancels, as head office, the live children of cancelled order o that
 * have not shipped. */
static int
s_cancel_children(store_t *st, s_order_t *o, err_t *err)
{
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT c.id FROM orders c WHERE c.parent = ? AND "
	    "(SELECT max(rank) FROM order_history h WHERE h.order_id = c.id) "
	    "< " ORDER_SQL(ORDER_RANK_CANCELLED) " ORDER BY c.id");
	char(*ids)[OP_KEY_MAX + 1] = NULL;
	size_t n = 0, i;
	json_t *req, *out;
	char reason[128];
	int rc = 0;

	sqlite3_bind_text(s, 1, o->id, -1, SQLITE_STATIC);
	while (store_row(st, s)) {
		if ((ids = realloc(ids, (n + 1) * sizeof *ids)) == NULL)
			abort();
		snprintf(ids[n++], sizeof ids[0], "%s",
		    (const char *)sqlite3_column_text(s, 0));
	}
	sqlite3_reset(s);
	if (store_read_error(st, err)) {
		free(ids);
		return -1;
	}
	snprintf(reason, sizeof reason, "order %s cancelled", o->id);
	req = json_pack("{s:s, s:s}", "to", "cancelled", "reason", reason);
	for (i = 0; i < n && rc == 0; i++) {
		out = NULL;
		if ((rc = order_transition_in(st, ids[i], req, &out, err)) ==
		    0) {
			log_info("allocation: order %s cancelled: its "
				 "fulfilment %s cancelled",
			    o->id, ids[i]);
			o->a->cancelled++;
		}
		json_decref(out);
	}
	json_decref(req);
	free(ids);
	return rc;
}

/* Takes order id off the queue (done), or keeps it due again later with
 * why (o->failed); the alert's time moves only when why changes. */
static int
s_requeue(store_t *st, const char *id, const char *failed, err_t *err)
{
	sqlite3_stmt *s;
	uint64_t now = store_wall_ms(st);

	if (failed == NULL || failed[0] == '\0') {
		s = store_stmt(st,
		    "DELETE FROM alloc_queue WHERE order_id = ?");
		sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
		return store_step(st, s, "allocation queue", err);
	}
	s = store_stmt(st,
	    "INSERT INTO alloc_queue(order_id, due_ms, tries, failed, "
	    "failed_ms) VALUES (?1, ?2, 1, ?3, ?4) ON CONFLICT(order_id) DO "
	    "UPDATE SET due_ms = ?2, tries = tries + 1, failed = ?3, "
	    "failed_ms = CASE WHEN failed IS ?3 THEN failed_ms ELSE ?4 END");
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (int64_t)(now + ALLOC_RETRY_MS));
	sqlite3_bind_text(s, 3, failed, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, (int64_t)now);
	return store_step(st, s, "allocation queue", err);
}

/* s_requeue of order arg (an s_order_t) with its failed, in a
 * transaction of its own. */
static int
s_requeue_txn(store_t *st, void *arg, err_t *err)
{
	const s_order_t *o = arg;

	return s_requeue(st, o->id, o->failed, err);
}

/* Whether order id's last failure was why (so it was logged already). */
static int
s_failed_before(store_t *st, const char *id, const char *why)
{
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT failed IS ? FROM alloc_queue WHERE order_id = ?");

	sqlite3_bind_text(s, 1, why, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, id, -1, SQLITE_STATIC);
	return (int)store_query_int(st, s, 0);
}

/* One queued order, in its own transaction (arg: an s_order_t with a and
 * id set). */
static int
s_one(store_t *st, void *arg, err_t *err)
{
	s_order_t *o = arg;
	size_t i;
	int r;

	if ((r = s_read_order(st, o, err)) < 0)
		return -1;
	if (r == 0)
		return s_requeue(st, o->id, NULL, err);
	if (o->rank == ORDER_RANK_CANCELLED)
		return s_cancel_children(st, o, err) ||
			s_requeue(st, o->id, NULL, err)
		    ? -1
		    : 0;
	/* Not confirmed yet (a draft, one waiting for approval), or past
	 * what allocation is for: its next move queues it again. */
	if (o->rank < ORDER_RANK_CONFIRMED || o->rank > ORDER_RANK_CANCELLED)
		return s_requeue(st, o->id, NULL, err);
	if ((o->lines = calloc(MONEY_LINES_MAX, sizeof *o->lines)) == NULL ||
	    (o->want = calloc(MONEY_LINES_MAX, sizeof *o->want)) == NULL)
		return err_set(err, ERR_INTERNAL, "allocate: out of memory");
	if (fulfil_cover(st, o->id, o->lines, &o->nlines, err))
		return -1;
	for (i = 0; i < o->nlines; i++)
		if (o->lines[i].child[0] == '\0') {
			o->want[o->nwant].l = &o->lines[i];
			o->want[o->nwant++].site = -1;
		}
	if (o->nwant > 0 && s_decide(st, o, err))
		return -1;
	if (o->failed[0] != '\0') {
		o->a->failed++;
		if (!s_failed_before(st, o->id, o->failed))
			log_warn("allocation: %s; trying again every %d s",
			    o->failed, ALLOC_RETRY_MS / 1000);
	}
	return s_requeue(st, o->id, o->failed, err);
}

allocator_t *
allocate_new(store_t *store)
{
	allocator_t *a = calloc(1, sizeof *a);

	if (a == NULL)
		fatal("allocate: out of memory");
	a->store = store;
	return a;
}

void
allocate_destroy(allocator_t **self_p)
{
	if (self_p == NULL || *self_p == NULL)
		return;
	free(*self_p);
	*self_p = NULL;
}

int
allocate_tick(allocator_t *a, int *wrote, err_t *err)
{
	store_t *st = a->store;
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT order_id FROM alloc_queue WHERE due_ms <= ? "
	    "ORDER BY due_ms, order_id LIMIT " ORDER_SQL(ALLOC_BATCH));
	char ids[ALLOC_BATCH][OP_KEY_MAX + 1];
	uint64_t before = a->written + a->cancelled;
	size_t n = 0, i;
	s_order_t o;
	err_t why;
	int rc = 0;

	*wrote = 0;
	store_read_clear(st);
	sqlite3_bind_int64(s, 1, (int64_t)store_wall_ms(st));
	while (n < ALLOC_BATCH && store_row(st, s))
		snprintf(ids[n++], sizeof ids[0], "%s",
		    (const char *)sqlite3_column_text(s, 0));
	sqlite3_reset(s);
	if (store_read_error(st, err))
		return -1;
	if (n > 0)
		a->runs++;
	for (i = 0; i < n; i++) {
		memset(&o, 0, sizeof o);
		o.a = a;
		o.id = ids[i];
		if (store_txn(st, s_one, &o, &why) != 0) {
			/* Nothing of it was written (a hub recovering from a
			 * backup holds its writes): due again later, with
			 * why, and said once. */
			if (strcmp(why.msg, a->last_error) != 0)
				log_warn("allocation: order %s: %s", o.id,
				    why.msg);
			snprintf(a->last_error, sizeof a->last_error, "%s",
			    why.msg);
			snprintf(o.failed, sizeof o.failed,
			    "order %s: not allocated: %s", o.id, why.msg);
			if (store_txn(st, s_requeue_txn, &o, err) != 0)
				rc = -1;
			s_order_free(&o);
			continue;
		}
		a->last_ms = store_wall_ms(st);
		s_order_free(&o);
	}
	*wrote = (int)(a->written + a->cancelled - before);
	return rc;
}

/* ---- what people see ---- */

void
allocate_status(allocator_t *a, json_t *status)
{
	store_t *st = a->store;
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT count(*), count(failed) FROM alloc_queue");
	json_int_t waiting = 0, failing = 0;

	if (store_row(st, s)) {
		waiting = sqlite3_column_int64(s, 0);
		failing = sqlite3_column_int64(s, 1);
	}
	sqlite3_reset(s);
	json_object_set_new(status, "allocation",
	    json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "waiting", waiting,
		"failing", failing, "written", (json_int_t)a->written,
		"cancelled", (json_int_t)a->cancelled, "runs",
		(json_int_t)a->runs, "last_ms", (json_int_t)a->last_ms));
}

void
allocate_alerts(store_t *st, json_t *items)
{
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT q.order_id, coalesce(o.site, ''), q.failed, q.failed_ms "
	    "FROM alloc_queue q LEFT JOIN orders o ON o.id = q.order_id "
	    "WHERE q.failed IS NOT NULL ORDER BY q.order_id");
	char id[256];

	while (store_row(st, s)) {
		const char *order = (const char *)sqlite3_column_text(s, 0);
		const char *site = (const char *)sqlite3_column_text(s, 1);

		snprintf(id, sizeof id, "allocation_failed:%s:%s", site, order);
		json_array_append_new(items,
		    json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "id", id,
			"kind", "allocation_failed", "site", site, "subject",
			order, "message",
			(const char *)sqlite3_column_text(s, 2), "at",
			(json_int_t)sqlite3_column_int64(s, 3)));
	}
	sqlite3_reset(s);
}

/* ---- bl-hub allocation rules|show ---- */

/* Prints rules (allocate_rules_get's answer) for people. */
static void
s_print_rules(const json_t *rules)
{
	const json_t *x;
	size_t i;

	printf("split: %s\n",
	    json_is_true(json_object_get(rules, "split")) ? "yes" : "no");
	printf("sites%s:\n",
	    json_is_true(json_object_get(rules, "default"))
		? " (no rules: every active warehouse)"
		: "");
	printf("  %-16s  %-8s  %s\n", "SITE", "PRIORITY", "REGION");
	json_array_foreach(json_object_get(rules, "sites"), i, x)
		printf("  %-16s  %-8lld  %s%s\n",
		    json_string_value(json_object_get(x, "site")),
		    (long long)json_integer_value(
			json_object_get(x, "priority")),
		    json_string_value(json_object_get(x, "region")),
		    json_is_true(json_object_get(x, "revoked")) ? " (revoked)"
								: "");
	if (json_array_size(json_object_get(rules, "sites")) == 0)
		printf("  (none)\n");
}

int
allocate_cmd_rules(const args_t *a)
{
	json_t *body, *sites = json_array(), *out = NULL;
	const char *v, *colon;
	char site[OP_SITE_MAX + 2], *end;
	const char *split = args_get(a, "split", "yes");
	long long prio;
	store_t *st;
	err_t err;
	int i, rc;

	err_clear(&err);
	for (i = 0; (v = args_nth(a, "site", i)) != NULL; i++) {
		colon = strchr(v, ':');
		prio = 0;
		end = NULL;
		if (colon != NULL)
			prio = strtoll(colon + 1, &end, 10);
		if ((colon != NULL && (colon[1] == '\0' || *end != '\0')) ||
		    (size_t)(colon != NULL ? colon - v : (long)strlen(v)) >=
			sizeof site) {
			json_decref(sites);
			err_set(&err, ERR_BAD_REQUEST,
			    "--site '%s': expected SITE or SITE:PRIORITY", v);
			return prog_fail(PROG_EXIT_USAGE, &err);
		}
		snprintf(site, sizeof site, "%.*s",
		    (int)(colon != NULL ? colon - v : (long)strlen(v)), v);
		json_array_append_new(sites,
		    json_pack("{s:s, s:I}", "site", site, "priority",
			(json_int_t)prio));
	}
	if (strcmp(split, "yes") != 0 && strcmp(split, "no") != 0) {
		json_decref(sites);
		err_set(&err, ERR_BAD_REQUEST,
		    "--split '%s': must be yes or no", split);
		return prog_fail(PROG_EXIT_USAGE, &err);
	}
	body = json_pack("{s:o, s:b}", "sites", sites, "split",
	    strcmp(split, "yes") == 0);
	if ((st = hub_open(args_get(a, "data", "."), &err)) == NULL) {
		json_decref(body);
		return prog_fail(1, &err);
	}
	rc = allocate_rules_put(st, body, &out, &err);
	json_decref(body);
	store_close(&st);
	if (rc)
		return prog_fail(1, &err);
	s_print_rules(out);
	json_decref(out);
	return 0;
}

int
allocate_cmd_show(const args_t *a)
{
	store_t *st;
	json_t *rules = NULL, *waiting;
	sqlite3_stmt *s;
	err_t err;
	char due[32], since[32];

	if ((st = hub_open(args_get(a, "data", "."), &err)) == NULL)
		return prog_fail(1, &err);
	if (allocate_rules_get(st, NULL, &rules, &err)) {
		store_close(&st);
		return prog_fail(1, &err);
	}
	waiting = json_array();
	s = store_stmt(st,
	    "SELECT order_id, due_ms, tries, failed, failed_ms "
	    "FROM alloc_queue ORDER BY due_ms, order_id");
	while (store_row(st, s)) {
		json_t *w = json_pack("{s:s, s:I, s:I}", "order",
		    (const char *)sqlite3_column_text(s, 0), "due_ms",
		    (json_int_t)sqlite3_column_int64(s, 1), "tries",
		    (json_int_t)sqlite3_column_int64(s, 2));

		if (sqlite3_column_type(s, 3) != SQLITE_NULL)
			json_object_set_new(w, "failed",
			    json_pack("{s:s, s:I}", "message",
				(const char *)sqlite3_column_text(s, 3),
				"since_ms",
				(json_int_t)sqlite3_column_int64(s, 4)));
		json_array_append_new(waiting, w);
	}
	sqlite3_reset(s);
	if (store_read_error(st, &err)) {
		json_decref(rules);
		json_decref(waiting);
		store_close(&st);
		return prog_fail(1, &err);
	}
	store_close(&st);
	json_object_set_new(rules, "waiting", waiting);
	if (args_has(a, "json")) {
		hub_print_json(rules);
	} else {
		size_t i;
		json_t *w;

		s_print_rules(rules);
		printf("waiting:\n");
		json_array_foreach(waiting, i, w) {
			json_t *f = json_object_get(w, "failed");

			hub_format_ms((uint64_t)json_integer_value(
					  json_object_get(w, "due_ms")),
			    due, sizeof due);
			hub_format_ms((uint64_t)json_integer_value(
					  json_object_get(f, "since_ms")),
			    since, sizeof since);
			printf("  %s  due %s  tries %lld%s%s%s%s\n",
			    json_string_value(json_object_get(w, "order")), due,
			    (long long)json_integer_value(
				json_object_get(w, "tries")),
			    f != NULL ? "  since " : "", f != NULL ? since : "",
			    f != NULL ? ": " : "",
			    f != NULL ? json_string_value(
					    json_object_get(f, "message"))
				      : "");
		}
		if (json_array_size(waiting) == 0)
			printf("  (none)\n");
	}
	json_decref(rules);
	return 0;
}
