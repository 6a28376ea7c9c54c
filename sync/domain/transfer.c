/* transfer: transfers between sites as documents (see transfer.h). */
#include "transfer.h"

#include <stdio.h>
#include <string.h>

#include "catalog.h"
#include "cmd.h"
#include "idem.h"
#include "lifecycle.h"
#include "own.h"
#include "rec.h"
#include "req.h"
#include "stock.h"

_Static_assert(TRANSFER_ID_MAX + OP_SITE_MAX + 1 +
	    (int)sizeof TRANSFER_RECEIVED_TAG - 1 ==
	OP_KEY_MAX,
    "TRANSFER_ID_MAX: room for the receipt's id");
_Static_assert(TRANSFER_RANK_RECONCILED == 3,
    "transfer ranks: lifecycle_transfer's order");

/* A transfer as this replica holds it. */
typedef struct {
	char from[OP_SITE_MAX + 1];
	char to[OP_SITE_MAX + 1];
	char sku[REQ_ID_MAX + 1];
	long long qty;
	int rank;	    /* its status */
	long long received; /* the receipt's qty, -1 before one is held */
} s_transfer_t;

/* ---- the merge rule ---- */

/* Checks the fields of a create op (also what a request becomes): a qty of
 * one sku from one site to another, neither head office. */
static int
s_check_create(const json_t *f, err_t *err)
{
	static const char *const allowed[] = { "site", "sku", "qty", "to_site",
		NULL };
	const char *site, *sku, *to;
	int64_t qty;

	if (req_only(f, allowed, err) ||
	    req_text(f, "site", OP_SITE_MAX, 1, &site, err) ||
	    req_text(f, "sku", REQ_ID_MAX, 1, &sku, err) ||
	    req_int(f, "qty", 1, TRANSFER_QTY_MAX, 1, 0, &qty, err) ||
	    req_text(f, "to_site", OP_SITE_MAX, 1, &to, err))
		return -1;
	if (!op_site_valid(site))
		return err_set(err, ERR_BAD_REQUEST,
		    "site: '%s' is not a site id", site);
	if (!op_site_valid(to))
		return err_set(err, ERR_BAD_REQUEST,
		    "to_site: '%s' is not a site id", to);
	if (strcmp(to, site) == 0)
		return err_set(err, ERR_BAD_REQUEST,
		    "to_site: a transfer goes to another site");
	if (own_is_hq(site))
		return err_set(err, ERR_UNPROCESSABLE,
		    "site: %s is head office, which sends no transfers", site);
	if (own_is_hq(to))
		return err_set(err, ERR_UNPROCESSABLE,
		    "to_site: %s is head office, which receives no transfers",
		    to);
	return 0;
}

/* Adds op's entry to its transfer's history: status, with what was
 * received (qty >= 0) or head office's note (not NULL). */
static int
s_history_add(store_t *st, const op_t *op, int rank, long long qty,
    const char *note, err_t *err)
{
	sqlite3_stmt *s = store_stmt(st,
	    "INSERT OR IGNORE INTO transfer_history"
	    "(transfer_id, origin, seq, hlc, status, rank, qty, note) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)");

	sqlite3_bind_text(s, 1, op->key, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, op->origin, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, (int64_t)op->seq);
	sqlite3_bind_int64(s, 4, (int64_t)op->hlc);
	sqlite3_bind_text(s, 5, lifecycle_name(&lifecycle_transfer, rank), -1,
	    SQLITE_STATIC);
	sqlite3_bind_int(s, 6, rank);
	if (qty >= 0)
		sqlite3_bind_int64(s, 7, qty);
	if (note != NULL)
		sqlite3_bind_text(s, 8, note, -1, SQLITE_STATIC);
	return store_step(st, s, "transfer", err);
}

/* Create: under the source's own id, as its own transfer; the earliest
 * create of an id (by hlc, origin) defines it, whatever the arrival
 * order (two creates of one id come only from a restored source). */
static int
s_apply_create(store_t *st, const op_t *op, err_t *err)
{
	const json_t *f = op->fields;
	sqlite3_stmt *s;

	if (s_check_create(f, err))
		return err_prefix(err, "transfer %s", op->key);
	if (own_create(op, "transfer", err) ||
	    own_here(op, "transfer", "site",
		"a site creates only its own transfers", err))
		return -1;
	if (strlen(op->key) > TRANSFER_ID_MAX)
		return err_set(err, ERR_BAD_REQUEST,
		    "transfer %s: id: at most %d bytes (its movements' ids are "
		    "made from it)",
		    op->key, TRANSFER_ID_MAX);
	s = store_stmt(st,
	    "INSERT INTO transfers(id, site, to_site, sku, qty, created_hlc, "
	    "created_origin) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) "
	    "ON CONFLICT(id) DO UPDATE SET site = excluded.site, "
	    "to_site = excluded.to_site, sku = excluded.sku, "
	    "qty = excluded.qty, created_hlc = excluded.created_hlc, "
	    "created_origin = excluded.created_origin "
	    "WHERE (excluded.created_hlc, excluded.created_origin) < "
	    "(transfers.created_hlc, transfers.created_origin)");
	sqlite3_bind_text(s, 1, op->key, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, json_string_value(json_object_get(f, "site")),
	    -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3,
	    json_string_value(json_object_get(f, "to_site")), -1,
	    SQLITE_STATIC);
	sqlite3_bind_text(s, 4, json_string_value(json_object_get(f, "sku")),
	    -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 5, json_integer_value(json_object_get(f, "qty")));
	sqlite3_bind_int64(s, 6, (int64_t)op->hlc);
	sqlite3_bind_text(s, 7, op->origin, -1, SQLITE_STATIC);
	if (store_step(st, s, "transfer", err))
		return -1;
	return s_history_add(st, op, TRANSFER_RANK_REQUESTED, -1, NULL, err);
}

/* Whether op's origin is transfer id's destination: 0 when it is; -1 with
 * ERR_FORBIDDEN naming it when not; -1 with ERR_NOT_FOUND "not held here
 * yet" (own.h) when the create that fixes it is not held here. */
static int
s_destination(store_t *st, const op_t *op, err_t *err)
{
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT to_site FROM transfers WHERE id = ?");
	char to[OP_SITE_MAX + 1] = "";
	int held = 0;

	sqlite3_bind_text(s, 1, op->key, -1, SQLITE_STATIC);
	if (store_row(st, s)) {
		snprintf(to, sizeof to, "%s", sqlite3_column_text(s, 0));
		held = 1;
	}
	sqlite3_reset(s);
	if (store_read_error(st, err))
		return -1;
	if (!held)
		return err_set(err, ERR_NOT_FOUND,
		    "transfer %s: " OWN_WAITING
		    ", to tell whether %s is its destination",
		    op->key, op->origin);
	if (strcmp(to, op->origin) != 0)
		return err_set(err, ERR_FORBIDDEN,
		    "transfer %s: %s may not receive it: only its destination "
		    "%s may",
		    op->key, op->origin, to);
	return 0;
}

int
transfer_apply(store_t *st, const op_t *op, err_t *err)
{
	static const char *const none[] = { NULL };
	static const char *const qty_only[] = { "qty", NULL };
	static const char *const note_only[] = { "note", NULL };
	char source[OP_SITE_MAX + 1];
	const char *note;
	int64_t qty;

	if (strcmp(op->kind, "create") == 0)
		return s_apply_create(st, op, err);
	if (strcmp(op->kind, "ship") == 0) {
		if (req_only(op->fields, none, err))
			return err_prefix(err, "transfer %s", op->key);
		/* Its source owns its id: the op alone tells. */
		own_owner(op->key, source, sizeof source);
		if (strcmp(source, op->origin) != 0)
			return err_set(err, ERR_FORBIDDEN,
			    "transfer %s: %s may not ship it: only its source "
			    "%s may",
			    op->key, op->origin,
			    source[0] != '\0' ? source : "(none)");
		return s_history_add(st, op, TRANSFER_RANK_SHIPPED, -1, NULL,
		    err);
	}
	if (strcmp(op->kind, "receive") == 0) {
		if (req_only(op->fields, qty_only, err) ||
		    req_int(op->fields, "qty", 1, TRANSFER_QTY_MAX, 1, 0, &qty,
			err))
			return err_prefix(err, "transfer %s", op->key);
		if (s_destination(st, op, err))
			return -1;
		return s_history_add(st, op, TRANSFER_RANK_RECEIVED, qty, NULL,
		    err);
	}
	if (strcmp(op->kind, "reconcile") == 0) {
		if (req_only(op->fields, note_only, err) ||
		    req_text(op->fields, "note", REQ_TEXT_MAX, 1, &note, err))
			return err_prefix(err, "transfer %s", op->key);
		if (!own_is_hq(op->origin))
			return err_set(err, ERR_FORBIDDEN,
			    "transfer %s: %s may not reconcile it: only head "
			    "office may",
			    op->key, op->origin);
		return s_history_add(st, op, TRANSFER_RANK_RECONCILED, -1, note,
		    err);
	}
	return err_set(err, ERR_BAD_REQUEST, "transfer %s: unknown kind '%s'",
	    op->key, op->kind);
}

/* ---- queries ---- */

/* SQL reads better as written than as clang-format would fold it. */
/* clang-format off */
/* In SQL: the status rank of transfer t (an alias), and the qty of its
 * receipt: the earliest receive entry's, by (hlc, origin, seq). */
#define RANK_SQL(t)                                      \
	"(SELECT max(h.rank) FROM transfer_history h WHERE " \
	"h.transfer_id = " t ".id)"
#define RECEIVED_SQL(t)                                                \
	"(SELECT h.qty FROM transfer_history h WHERE h.transfer_id = " t \
	".id AND h.rank = " TRANSFER_SQL(TRANSFER_RANK_RECEIVED)         \
	" ORDER BY h.hlc, h.origin, h.seq LIMIT 1)"
/* clang-format on */

/* Transfer id as held here into *t: 1 held, 0 not, -1 with err when a read
 * failed. */
static int
s_load(store_t *st, const char *id, s_transfer_t *t, err_t *err)
{
	sqlite3_stmt *s = store_stmt(st,
	    /* clang-format off */
	    "SELECT t.site, t.to_site, t.sku, t.qty, " RANK_SQL("t") ", "
	    RECEIVED_SQL("t") " FROM transfers t WHERE t.id = ?");
	/* clang-format on */
	int held = 0;

	memset(t, 0, sizeof *t);
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	if (store_row(st, s)) {
		snprintf(t->from, sizeof t->from, "%s",
		    sqlite3_column_text(s, 0));
		snprintf(t->to, sizeof t->to, "%s", sqlite3_column_text(s, 1));
		snprintf(t->sku, sizeof t->sku, "%s",
		    sqlite3_column_text(s, 2));
		t->qty = sqlite3_column_int64(s, 3);
		t->rank = sqlite3_column_int(s, 4);
		t->received = sqlite3_column_type(s, 5) == SQLITE_NULL
		    ? -1
		    : sqlite3_column_int64(s, 5);
		held = 1;
	}
	sqlite3_reset(s);
	return store_read_error(st, err) ? -1 : held;
}

/* Like s_load, answering 404 "transfer: ID not found" when not held. */
static int
s_find(store_t *st, const char *id, s_transfer_t *t, err_t *err)
{
	int held = s_load(st, id, t, err);

	if (held < 0)
		return -1;
	if (!held)
		return err_set(err, ERR_NOT_FOUND, "transfer: %s not found",
		    id);
	return 0;
}

/* The history of transfer id, oldest first. */
static json_t *
s_history(store_t *st, const char *id)
{
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT status, origin, hlc, qty, note "
	    "FROM transfer_history WHERE transfer_id = ? "
	    "ORDER BY hlc, origin, seq");
	json_t *hist = json_array(), *h;

	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	while (store_row(st, s)) {
		h = json_pack("{s:s, s:s, s:I}", "status",
		    (const char *)sqlite3_column_text(s, 0), "site",
		    (const char *)sqlite3_column_text(s, 1), "at_ms",
		    (json_int_t)hlc_ms((uint64_t)sqlite3_column_int64(s, 2)));
		if (sqlite3_column_type(s, 3) != SQLITE_NULL)
			json_object_set_new(h, "qty",
			    json_integer(sqlite3_column_int64(s, 3)));
		if (sqlite3_column_type(s, 4) != SQLITE_NULL)
			json_object_set_new(h, "note",
			    json_string(
				(const char *)sqlite3_column_text(s, 4)));
		json_array_append_new(hist, h);
	}
	sqlite3_reset(s);
	return hist;
}

/* Transfer id as the API shows it, without its history; NULL when it is
 * not held here (or a read failed, kept as store_row keeps it). */
static json_t *
s_read(store_t *st, const char *id)
{
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT created_hlc FROM transfers "
	    "WHERE id = ?");
	s_transfer_t t;
	int64_t created = 0;
	json_t *o;
	int shipped;

	if (s_load(st, id, &t, NULL) != 1)
		return NULL;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	if (store_row(st, s))
		created = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	shipped = t.rank >= TRANSFER_RANK_SHIPPED;
	o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:I, s:I}", "id", id,
	    "sku", t.sku, "from_site", t.from, "to_site", t.to, "qty",
	    (json_int_t)t.qty, "status",
	    lifecycle_name(&lifecycle_transfer, t.rank), "in_transit",
	    (json_int_t)(t.rank == TRANSFER_RANK_SHIPPED ? t.qty : 0),
	    "created_ms", (json_int_t)hlc_ms((uint64_t)created));
	json_object_set_new(o, "qty_sent",
	    shipped ? json_integer(t.qty) : json_null());
	json_object_set_new(o, "qty_received",
	    t.received >= 0 ? json_integer(t.received) : json_null());
	json_object_set_new(o, "discrepancy",
	    t.received >= 0 ? json_integer(t.received - t.qty) : json_null());
	return o;
}

int
transfer_get(store_t *st, const char *id, json_t **out, err_t *err)
{
	json_t *o = s_read(st, id);

	if (o != NULL)
		json_object_set_new(o, "history", s_history(st, id));
	return rec_found(st, o, "transfer", id, out, err);
}

int
transfer_list(store_t *st, const json_t *query, json_t **out, err_t *err)
{
	const char *status = req_query(query, "status");
	const char *sku = req_query(query, "sku");
	const char *site = req_query(query, "site");
	sqlite3_stmt *s;
	int rank = -1;

	if (status != NULL &&
	    (rank = lifecycle_rank(&lifecycle_transfer, status)) < 0)
		return err_set(err, ERR_BAD_REQUEST,
		    "status: '%s' is not a transfer status (requested, "
		    "shipped, received, reconciled)",
		    status);
	s = store_stmt(st,
	    /* clang-format off */
	    "SELECT t.id FROM transfers t "
	    "WHERE (?1 IS NULL OR " RANK_SQL("t") " = ?1) "
	    "AND (?2 IS NULL OR t.sku = ?2) "
	    "AND (?3 IS NULL OR t.site = ?3 OR t.to_site = ?3) "
	    "ORDER BY t.created_hlc, t.id");
	/* clang-format on */
	if (rank >= 0)
		sqlite3_bind_int(s, 1, rank);
	if (sku != NULL)
		sqlite3_bind_text(s, 2, sku, -1, SQLITE_STATIC);
	if (site != NULL)
		sqlite3_bind_text(s, 3, site, -1, SQLITE_STATIC);
	return rec_items_by_id(st, s, s_read, out, err);
}

/* Where (site, sku) sorts against row's, as the stock list orders. */
static int
s_row_cmp(const json_t *row, const char *site, const char *sku)
{
	int c = strcmp(json_string_value(json_object_get(row, "site")), site);

	return c != 0
	    ? c
	    : strcmp(json_string_value(json_object_get(row, "sku")), sku);
}

int
transfer_in_transit(store_t *st, const char *site, const char *sku,
    json_t *items, err_t *err)
{
	sqlite3_stmt *s = store_stmt(st,
	    /* clang-format off */
	    "SELECT t.to_site, t.sku, sum(t.qty) FROM transfers t "
	    "WHERE " RANK_SQL("t") " = " TRANSFER_SQL(TRANSFER_RANK_SHIPPED)
	    " AND (?1 IS NULL OR t.to_site = ?1) "
	    "AND (?2 IS NULL OR t.sku = ?2) GROUP BY 1, 2 ORDER BY 1, 2");
	/* clang-format on */
	size_t i = 0;

	if (site != NULL)
		sqlite3_bind_text(s, 1, site, -1, SQLITE_STATIC);
	if (sku != NULL)
		sqlite3_bind_text(s, 2, sku, -1, SQLITE_STATIC);
	/* Both lists are in (site, sku) order: one merge pass. */
	while (store_row(st, s)) {
		const char *to = (const char *)sqlite3_column_text(s, 0);
		const char *k = (const char *)sqlite3_column_text(s, 1);
		json_int_t qty = sqlite3_column_int64(s, 2);
		int c = 1;

		while (i < json_array_size(items) &&
		    (c = s_row_cmp(json_array_get(items, i), to, k)) < 0)
			i++;
		if (i == json_array_size(items) || c > 0)
			json_array_insert_new(items, i,
			    json_pack("{s:s, s:s, s:i, s:i, s:i}", "site", to,
				"sku", k, "on_hand", 0, "reserved", 0,
				"available", 0));
		json_object_set_new(json_array_get(items, i), "in_transit",
		    json_integer(qty));
	}
	sqlite3_reset(s);
	return store_read_error(st, err);
}

/* ---- commands ---- */

static int
s_create(store_t *st, void *arg, err_t *err)
{
	cmd_t *c = arg;
	static const char *const allowed[] = { "id", "sku", "qty", "to_site",
		NULL };
	const char *id, *sku;
	char idbuf[OP_KEY_MAX + 1], scoped[OP_KEY_MAX + 1];
	json_t *f;
	int r, rc = -1;

	/* Scoped by this site, and short enough for its legs' ids. */
	if (req_only(c->req, allowed, err) ||
	    req_text(c->req, "id", OP_KEY_MAX, 0, &id, err) ||
	    own_scope(st, id, TRANSFER_ID_MAX, scoped, &id, err))
		return -1;
	/* A retry answers what was recorded; a reused id is refused. */
	if ((r = idem_replay(st, "transfer", id, c->req, transfer_get, &c->out,
		 err)) != 0)
		return r > 0 ? 0 : -1;
	f = json_pack("{s:s, s:O?, s:O?, s:O?}", "site", store_site(st), "sku",
	    json_object_get(c->req, "sku"), "qty",
	    json_object_get(c->req, "qty"), "to_site",
	    json_object_get(c->req, "to_site"));
	if (f == NULL)
		return err_set(err, ERR_INTERNAL, "transfer: out of memory");
	/* Absent fields are null in f, and missing to the checks. */
	if (s_check_create(f, err))
		goto out;
	sku = json_string_value(json_object_get(f, "sku"));
	if (!catalog_has(st, sku)) {
		err_set(err, ERR_NOT_FOUND, "sku: %s is not in the catalog",
		    sku);
		goto out;
	}
	if (cmd_create_op(st, c, "transfer", TRANSFER_ENTITY, "create", &id,
		idbuf, f, err))
		goto out;
	rc = transfer_get(st, id, &c->out, err);
out:
	json_decref(f);
	return rc;
}

int
transfer_create(store_t *st, const json_t *req, json_t **out, int *created,
    err_t *err)
{
	return cmd_run(st, s_create, req, NULL, NULL, out, created, err);
}

/* Records this site's leg of transfer id, as stock.c records any movement
 * of its own: movement mid, delta of t's sku, reason, ref the transfer.
 * Recorded once: a leg already there is left (stock_record_in). */
static int
s_leg(store_t *st, const char *id, const s_transfer_t *t, const char *mid,
    long long delta, const char *reason, err_t *err)
{
	json_t *m = json_pack("{s:s, s:s, s:I, s:s, s:s}", "id", mid, "sku",
	    t->sku, "delta", (json_int_t)delta, "reason", reason, "ref", id);
	json_t *out = NULL;
	int created, rc;

	if (m == NULL)
		return err_set(err, ERR_INTERNAL, "transfer: out of memory");
	rc = stock_record_in(st, m, &out, &created, err);
	json_decref(m);
	json_decref(out);
	return rc != 0 ? err_prefix(err, "transfer %s", id) : 0;
}

static int
s_ship(store_t *st, void *arg, err_t *err)
{
	cmd_t *c = arg;
	static const char *const none[] = { NULL };
	char mid[OP_KEY_MAX + 1];
	s_transfer_t t;
	json_t *f;
	int rc;

	if (req_only(c->req, none, err) || s_find(st, c->id, &t, err))
		return -1;
	if (strcmp(t.from, store_site(st)) != 0)
		return err_set(err, ERR_FORBIDDEN,
		    "ship: transfer %s comes from %s: only %s may ship it",
		    c->id, t.from, t.from);
	if (t.rank >= TRANSFER_RANK_SHIPPED)
		return err_set(err, ERR_CONFLICT,
		    "ship: transfer %s is %s: it was shipped already (%lld "
		    "sent), nothing recorded",
		    c->id, lifecycle_name(&lifecycle_transfer, t.rank), t.qty);
	snprintf(mid, sizeof mid, "%s" TRANSFER_SENT_TAG, c->id);
	f = json_object();
	rc = store_append_local(st, TRANSFER_ENTITY, c->id, "ship", f, NULL,
		 err) ||
	    s_leg(st, c->id, &t, mid, -t.qty, "transfer_out", err);
	json_decref(f);
	return rc != 0 ? -1 : transfer_get(st, c->id, &c->out, err);
}

int
transfer_ship(store_t *st, const char *id, const json_t *req, json_t **out,
    err_t *err)
{
	return cmd_run(st, s_ship, req, id, NULL, out, NULL, err);
}

static int
s_receive(store_t *st, void *arg, err_t *err)
{
	cmd_t *c = arg;
	static const char *const allowed[] = { "qty", NULL };
	char mid[OP_KEY_MAX + 1];
	s_transfer_t t;
	int64_t qty;
	json_t *f;
	int rc;

	if (req_only(c->req, allowed, err) || s_find(st, c->id, &t, err))
		return -1;
	if (strcmp(t.to, store_site(st)) != 0)
		return err_set(err, ERR_FORBIDDEN,
		    "receive: transfer %s goes to %s: only %s may receive it",
		    c->id, t.to, t.to);
	if (req_int(c->req, "qty", 1, TRANSFER_QTY_MAX, 1, 0, &qty, err))
		return -1;
	if (t.rank < TRANSFER_RANK_SHIPPED)
		return err_set(err, ERR_CONFLICT,
		    "receive: transfer %s is requested: %s has not shipped it "
		    "yet",
		    c->id, t.from);
	if (t.rank >= TRANSFER_RANK_RECEIVED)
		return err_set(err, ERR_CONFLICT,
		    "receive: transfer %s is %s: it was received already "
		    "(%lld of %lld), nothing recorded",
		    c->id, lifecycle_name(&lifecycle_transfer, t.rank),
		    t.received, t.qty);
	/* In this site's namespace: "DEST-T-received". */
	snprintf(mid, sizeof mid, "%s-%s" TRANSFER_RECEIVED_TAG, store_site(st),
	    c->id);
	f = json_pack("{s:I}", "qty", (json_int_t)qty);
	rc = store_append_local(st, TRANSFER_ENTITY, c->id, "receive", f, NULL,
		 err) ||
	    s_leg(st, c->id, &t, mid, qty, "transfer_in", err);
	json_decref(f);
	return rc != 0 ? -1 : transfer_get(st, c->id, &c->out, err);
}

int
transfer_receive(store_t *st, const char *id, const json_t *req, json_t **out,
    err_t *err)
{
	return cmd_run(st, s_receive, req, id, NULL, out, NULL, err);
}

static int
s_reconcile(store_t *st, void *arg, err_t *err)
{
	cmd_t *c = arg;
	static const char *const allowed[] = { "note", NULL };
	const char *note;
	s_transfer_t t;
	json_t *f;
	int rc;

	if (req_only(c->req, allowed, err))
		return -1;
	if (!store_is_hq(st))
		return err_set(err, ERR_FORBIDDEN,
		    "reconcile: transfer %s: only head office reconciles "
		    "transfers (at the hub)",
		    c->id);
	if (req_text(c->req, "note", REQ_TEXT_MAX, 1, &note, err) ||
	    s_find(st, c->id, &t, err))
		return -1;
	if (t.rank < TRANSFER_RANK_RECEIVED)
		return err_set(err, ERR_CONFLICT,
		    "reconcile: transfer %s is %s: only a received transfer "
		    "is reconciled",
		    c->id, lifecycle_name(&lifecycle_transfer, t.rank));
	if (t.rank >= TRANSFER_RANK_RECONCILED)
		return err_set(err, ERR_CONFLICT,
		    "reconcile: transfer %s was reconciled already", c->id);
	if (t.received == t.qty)
		return err_set(err, ERR_CONFLICT,
		    "reconcile: transfer %s was received in full (%lld of "
		    "%lld): nothing to reconcile",
		    c->id, t.received, t.qty);
	f = json_pack("{s:s}", "note", note);
	rc = store_append_local(st, TRANSFER_ENTITY, c->id, "reconcile", f,
	    NULL, err);
	json_decref(f);
	return rc != 0 ? -1 : transfer_get(st, c->id, &c->out, err);
}

int
transfer_reconcile(store_t *st, const char *id, const json_t *req, json_t **out,
    err_t *err)
{
	return cmd_run(st, s_reconcile, req, id, NULL, out, NULL, err);
}
