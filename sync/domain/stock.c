/* stock: movements and on-hand (see stock.h). */
#include "stock.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "effect.h"
#include "log.h"
#include "order.h"
#include "own.h"
#include "rec.h"
#include "req.h"
#include "transfer.h"

#define SKU_MAX 64
#define REF_MAX 64
#define DELTA_MAX 1000000000LL

/* A reason and the sign its delta must have: +1, -1, or 0 for either. */
static const struct {
	const char *name;
	int sign;
} s_reasons[] = {
	{ "receipt", 1 },
	{ "sale", -1 },
	{ "return", 1 },
	{ "adjustment", 0 },
	{ "transfer_out", -1 },
	{ "transfer_in", 1 },
	{ "count", 0 },
};

#define NREASONS (sizeof s_reasons / sizeof s_reasons[0])

/* A validated movement; strings borrowed from the JSON it came from. */
typedef struct {
	const char *site;
	const char *sku;
	long long delta;
	const char *reason;
	const char *ref;
	const char *order;    /* a return against this order (effect.h) */
	const char *to;	      /* a transfer_out's destination */
	const char *transfer; /* the transfer_out a transfer_in receives */
} movement_t;

/* A transfer's legs: the out leg "T-to-DEST" at the sender names its
 * destination in its id; the destination's receipt "DEST-T-in" names that
 * out leg (own.h: a site receives only what is sent to it). */
#define TO_TAG "-to-"
#define IN_TAG "-in"

/* Checks a movement's fields; the same rules hold for a local request and a
 * remote op, so every replica accepts or refuses the same movements. */
static int
s_movement_parse(const json_t *f, movement_t *m, err_t *err)
{
	json_t *delta;
	size_t i;

	if (req_text(f, "site", OP_SITE_MAX, 1, &m->site, err) ||
	    req_text(f, "sku", SKU_MAX, 1, &m->sku, err) ||
	    req_text(f, "reason", 32, 1, &m->reason, err) ||
	    req_text(f, "ref", REF_MAX, 0, &m->ref, err) ||
	    req_text(f, "order", REQ_ID_MAX, 0, &m->order, err) ||
	    req_text(f, "to", OP_SITE_MAX, 0, &m->to, err) ||
	    req_text(f, "transfer", OP_KEY_MAX, 0, &m->transfer, err))
		return -1;
	if (!op_site_valid(m->site))
		return err_set(err, ERR_BAD_REQUEST,
		    "site: '%s' is not a site id", m->site);
	delta = json_object_get(f, "delta");
	if (delta == NULL || json_is_null(delta))
		return err_set(err, ERR_BAD_REQUEST, "delta: missing");
	if (!json_is_integer(delta))
		return err_set(err, ERR_BAD_REQUEST,
		    "delta: must be an integer");
	m->delta = json_integer_value(delta);
	if (m->delta == 0 || m->delta > DELTA_MAX || m->delta < -DELTA_MAX)
		return err_set(err, ERR_BAD_REQUEST,
		    "delta: must be non-zero and within ±%lld", DELTA_MAX);
	for (i = 0; i < NREASONS; i++)
		if (strcmp(m->reason, s_reasons[i].name) == 0)
			break;
	if (i == NREASONS)
		return err_set(err, ERR_BAD_REQUEST,
		    "reason: '%s' is not one of receipt, sale, return, adjustment, transfer_out, transfer_in, count",
		    m->reason);
	if ((s_reasons[i].sign > 0 && m->delta < 0) ||
	    (s_reasons[i].sign < 0 && m->delta > 0))
		return err_set(err, ERR_BAD_REQUEST, "delta: a %s must be %s",
		    m->reason, s_reasons[i].sign > 0 ? "positive" : "negative");
	if (m->order != NULL && strcmp(m->reason, "return") != 0)
		return err_set(err, ERR_BAD_REQUEST,
		    "order: only a return names the order it is against");
	if (m->to != NULL && strcmp(m->reason, "transfer_out") != 0)
		return err_set(err, ERR_BAD_REQUEST,
		    "to: only a transfer_out names its destination");
	if (m->to != NULL && !op_site_valid(m->to))
		return err_set(err, ERR_BAD_REQUEST,
		    "to: '%s' is not a site id", m->to);
	if (m->to != NULL && strcmp(m->to, m->site) == 0)
		return err_set(err, ERR_BAD_REQUEST,
		    "to: a transfer goes to another site");
	if (m->to != NULL && own_is_hq(m->to))
		return err_set(err, ERR_UNPROCESSABLE,
		    "to: %s is head office, which receives no transfers",
		    m->to);
	if (m->transfer != NULL && strcmp(m->reason, "transfer_in") != 0)
		return err_set(err, ERR_BAD_REQUEST,
		    "transfer: only a transfer_in names the transfer it "
		    "receives");
	return 0;
}

/* The last "-to-" in id, or NULL. */
static const char *
s_last_to(const char *id)
{
	const char *at = strstr(id, TO_TAG), *next;

	while (at != NULL && (next = strstr(at + 1, TO_TAG)) != NULL)
		at = next;
	return at;
}

/* Who may write movement m as op (own.h): its site's own, under its own
 * ids; a transfer's out leg is "REF-to-DEST", its receipt "DEST-REF-in"
 * at DEST, naming an out leg addressed to DEST. Decided from the op alone,
 * so the same everywhere, at sites that never see the other leg too. */
static int
s_movement_own(const op_t *op, const movement_t *m, err_t *err)
{
	char want[2 * OP_KEY_MAX + 8];
	size_t n;

	if (own_create(op, "stock movement", err) ||
	    own_here(op, "stock movement", "site",
		"a site moves only its own stock", err))
		return -1;
	if (m->to != NULL) {
		if (m->ref == NULL)
			return err_set(err, ERR_BAD_REQUEST,
			    "stock movement %s: ref: a transfer_out to %s "
			    "names its transfer",
			    op->key, m->to);
		snprintf(want, sizeof want, "%s" TO_TAG "%s", m->ref, m->to);
		if (strcmp(op->key, want) != 0)
			return err_set(err, ERR_BAD_REQUEST,
			    "stock movement %s: a transfer_out to %s has the "
			    "id %s",
			    op->key, m->to, want);
		/* Its receipt's id must fit too. */
		n = strlen(m->to) + 1 + strlen(m->ref) + strlen(IN_TAG);
		if (n > OP_KEY_MAX)
			return err_set(err, ERR_BAD_REQUEST,
			    "stock movement %s: its receipt's id %s-%s" IN_TAG
			    " would be %zu bytes (max %d)",
			    op->key, m->to, m->ref, n, OP_KEY_MAX);
	}
	if (m->transfer != NULL) {
		const char *at = s_last_to(m->transfer);
		int stem;

		if (at == NULL || strcmp(at + strlen(TO_TAG), op->origin) != 0)
			return err_set(err, ERR_FORBIDDEN,
			    "stock movement %s: receives transfer %s, which "
			    "is not addressed to %s (a site receives only what "
			    "is sent to it)",
			    op->key, m->transfer, op->origin);
		stem = (int)(at - m->transfer);
		snprintf(want, sizeof want, "%s-%.*s" IN_TAG, op->origin, stem,
		    m->transfer);
		if (m->ref == NULL || (int)strlen(m->ref) != stem ||
		    strncmp(m->ref, m->transfer, (size_t)stem) != 0 ||
		    strcmp(op->key, want) != 0)
			return err_set(err, ERR_BAD_REQUEST,
			    "stock movement %s: the receipt of transfer %s has "
			    "ref %.*s and the id %s",
			    op->key, m->transfer, stem, m->transfer, want);
	}
	return 0;
}

static int
s_add_on_hand(store_t *st, const char *site, const char *sku, long long delta,
    err_t *err)
{
	sqlite3_stmt *s = store_stmt(st,
	    "INSERT INTO stock(site, sku, on_hand) VALUES (?1, ?2, ?3) "
	    "ON CONFLICT(site, sku) DO UPDATE SET on_hand = on_hand + ?3");
	int rc;

	sqlite3_bind_text(s, 1, site, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, sku, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, delta);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return err_set(err, ERR_INTERNAL, "stock %s/%s: %s", site, sku,
		    sqlite3_errmsg(store_db(st)));
	return 0;
}

/* Inserts the movement of op unless its id is taken, counting its delta
 * until effect_sync says otherwise: 1 inserted, 0 taken, -1 on a storage
 * failure. effect and order say which order it is an effect of (NULL:
 * none). */
static int
s_insert_movement(store_t *st, const op_t *op, const movement_t *m,
    const char *effect, const char *order, err_t *err)
{
	sqlite3_stmt *s = store_stmt(st,
	    "INSERT INTO stock_movements"
	    "(id, site, sku, delta, reason, ref, hlc, origin, seq, "
	    "order_id, effect, counted) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?4) "
	    "ON CONFLICT(id) DO NOTHING");
	int rc;

	sqlite3_bind_text(s, 1, op->key, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, m->site, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, m->sku, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, m->delta);
	sqlite3_bind_text(s, 5, m->reason, -1, SQLITE_STATIC);
	if (m->ref != NULL)
		sqlite3_bind_text(s, 6, m->ref, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 7, (int64_t)op->hlc);
	sqlite3_bind_text(s, 8, op->origin, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 9, (int64_t)op->seq);
	if (effect != NULL) {
		sqlite3_bind_text(s, 10, order, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 11, effect, -1, SQLITE_STATIC);
	}
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return err_set(err, ERR_INTERNAL, "stock movement %s: %s",
		    op->key, sqlite3_errmsg(store_db(st)));
	return sqlite3_changes(store_db(st)) > 0;
}

/* Removes movement id and what it counted at (site, sku); a position only
 * it made goes too, or the state would depend on arrival order. */
static int
s_undo_movement(store_t *st, const char *id, const char *site, const char *sku,
    long long counted, err_t *err)
{
	sqlite3_stmt *s;

	if (s_add_on_hand(st, site, sku, -counted, err))
		return -1;
	s = store_stmt(st, "DELETE FROM stock_movements WHERE id = ?");
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	if (store_step(st, s, "undo stock movement", err))
		return -1;
	s = store_stmt(st,
	    "DELETE FROM stock WHERE site = ?1 AND "
	    "sku = ?2 AND NOT EXISTS (SELECT 1 FROM stock_movements m "
	    "WHERE m.site = ?1 AND m.sku = ?2)");
	sqlite3_bind_text(s, 1, site, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, sku, -1, SQLITE_STATIC);
	return store_step(st, s, "undo stock position", err);
}

/* The id of op is taken by another movement (of its own site: own.h). The
 * one with the lower (hlc, origin, seq) is the fact: *undone = 0 when that
 * is the one held (nothing done), 1 when it is op's and the held one was
 * undone, its order (if it was an effect of one) copied into
 * undone_order. */
static int
s_claim(store_t *st, const op_t *op, int *undone, char *undone_order,
    size_t size, err_t *err)
{
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT site, sku, counted, hlc, origin, "
	    "order_id, seq FROM stock_movements WHERE id = ?");
	char site[OP_SITE_MAX + 1], sku[SKU_MAX + 1];
	long long counted;
	uint64_t hlc;
	int older, c;

	sqlite3_bind_text(s, 1, op->key, -1, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_ROW) {
		sqlite3_reset(s);
		return err_set(err, ERR_INTERNAL, "stock movement %s: %s",
		    op->key, sqlite3_errmsg(store_db(st)));
	}
	hlc = (uint64_t)sqlite3_column_int64(s, 3);
	c = strcmp((const char *)sqlite3_column_text(s, 4), op->origin);
	older = hlc < op->hlc ||
	    (hlc == op->hlc &&
		(c < 0 ||
		    (c == 0 &&
			(uint64_t)sqlite3_column_int64(s, 6) <= op->seq)));
	snprintf(site, sizeof site, "%s", sqlite3_column_text(s, 0));
	snprintf(sku, sizeof sku, "%s", sqlite3_column_text(s, 1));
	counted = sqlite3_column_int64(s, 2);
	if (sqlite3_column_type(s, 5) != SQLITE_NULL)
		snprintf(undone_order, size, "%s", sqlite3_column_text(s, 5));
	sqlite3_reset(s);
	*undone = !older;
	return older ? 0
		     : s_undo_movement(st, op->key, site, sku, counted, err);
}

/* At the destination's node, applying another site's transfer_out to it:
 * records its receipt, "DEST-REF-in", in the same transaction, once (its
 * id says whether it is there). Until then the goods are in transit. The
 * hub and the other sites record nothing: the receipt comes from the
 * destination like any of its movements. */
static int
s_receive(store_t *st, const op_t *op, const movement_t *m, err_t *err)
{
	char id[OP_KEY_MAX + 1];
	sqlite3_stmt *s;
	json_t *f;
	int64_t held;
	int rc;

	if (m->to == NULL || strcmp(m->to, store_site(st)) != 0 ||
	    strcmp(op->origin, store_site(st)) == 0 || store_is_hq(st))
		return 0;
	snprintf(id, sizeof id, "%s-%s" IN_TAG, m->to, m->ref);
	s = store_stmt(st, "SELECT count(*) FROM stock_movements WHERE id = ?");
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	if (store_query_int64(st, s, 0, &held, err))
		return -1;
	if (held > 0)
		return 0;
	f = json_pack("{s:s, s:s, s:I, s:s, s:s, s:s}", "site", m->to, "sku",
	    m->sku, "delta", (json_int_t)-m->delta, "reason", "transfer_in",
	    "ref", m->ref, "transfer", op->key);
	rc = store_append_local(st, STOCK_ENTITY, id, "add", f, NULL, err);
	json_decref(f);
	return rc;
}

/* Records movement m of op as the rules say, on hand written as it goes:
 * inserts it unless its id is taken (then the claim decides), moves on
 * hand, makes what it and a movement it undid count follow their orders,
 * and receives a transfer sent here. What a bulk holds back is written
 * first (flush), as the claim and the orders read what it counts. */
static int
s_record_now(store_t *st, const op_t *op, const movement_t *m,
    const char *effect, const char *order, int flush, err_t *err)
{
	char undone_order[OP_KEY_MAX + 1] = "";
	int rc, undone;

	if (flush && store_flush_held(st, err))
		return -1;
	for (;;) {
		/* The common case, a new id, costs one insert. */
		rc = s_insert_movement(st, op, m, effect, order, err);
		if (rc < 0)
			return -1;
		if (rc == 1)
			break;
		if (s_claim(st, op, &undone, undone_order, sizeof undone_order,
			err))
			return -1;
		if (!undone)
			return 0;
	}
	if (s_add_on_hand(st, m->site, m->sku, m->delta, err))
		return -1;
	/* What it and the one it replaced count follows their orders. */
	if (undone_order[0] != '\0' &&
	    (effect == NULL || strcmp(undone_order, order) != 0) &&
	    effect_sync(st, undone_order, err))
		return -1;
	/* A new movement that replaced none linked to an order changes only
	 * what it counts itself, unless it is a return (effect.h). */
	if (effect != NULL &&
	    (undone_order[0] != '\0' ? effect_sync(st, order, err)
				     : effect_sync_added(st, order, effect,
					   op->key, m->site, m->delta, err)))
		return -1;
	return s_receive(st, op, m, err);
}

/* ---- movements held back in a bulk (store.h) ----
 *
 * A plain movement (linked to no order, no transfer) applied in a bulk is
 * held: its row joins the next insert of HELD_ROWS rows in one statement,
 * and what it adds to on hand a sum per (site, sku), written once. An
 * insert in which an id is taken (a claim, or the same movement again:
 * rare) is undone whole; its rows are then inserted one by one, and those
 * whose id is taken are left out of their sums and recorded after the
 * sums are written, as s_record_now records a movement at once. The rules
 * make the state the same whatever order movements come in, so this
 * later one is as good as theirs. */

/* Rows held at most (one insert), and positions whose sums are held at
 * most: a full table is written and starts again, so memory stays
 * bounded (about 120 kB). */
#define HELD_ROWS 64
#define HELD_MAX 1024
#define HELD_SLOTS (2 * HELD_MAX) /* open addressing, a power of two */
/* A row's parameters: id, site, sku, delta, reason, ref, hlc, origin,
 * seq. */
#define HELD_ROW_PARAMS 9

typedef struct {
	char site[OP_SITE_MAX + 1];
	char sku[SKU_MAX + 1];
	long long delta;
	size_t rows; /* movements counted in it: none, no position made */
} held_pos_t;

typedef struct {
	char id[OP_KEY_MAX + 1];
	char origin[OP_SITE_MAX + 1];
	uint64_t seq, hlc;
	char site[OP_SITE_MAX + 1];
	char sku[SKU_MAX + 1];
	char reason[32 + 1];
	char ref[REF_MAX + 1];
	int has_ref;
	long long delta;
	held_pos_t *pos; /* its sum */
	int late;	 /* its id was taken: recorded after the sums */
} held_row_t;

typedef struct {
	size_t n;
	held_pos_t pos[HELD_MAX];
	uint16_t slot[HELD_SLOTS]; /* index + 1 into pos; 0: free */
	size_t nrows;
	held_row_t row[HELD_ROWS];
} held_t;

/* Copies src into dst of size bytes, cut to fit (what it copies was
 * checked to fit): snprintf's cost, per field of every movement held,
 * without its format. */
static void
s_copy(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (n >= size)
		n = size - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* The statement inserting HELD_ROWS rows, built once. Static: cached by
 * its address (store_stmt). A taken id undoes it whole (ABORT). */
static const char *
s_held_sql(void)
{
	static char sql[64 + HELD_ROWS * (14 * HELD_ROW_PARAMS + 16)];
	size_t len, k, i;

	if (sql[0] != '\0')
		return sql;
	len = (size_t)snprintf(sql, sizeof sql,
	    "INSERT INTO stock_movements(id, site, sku, delta, reason, ref, "
	    "hlc, origin, seq, counted) VALUES ");
	for (k = 0; k < HELD_ROWS; k++) {
		for (i = 1; i <= HELD_ROW_PARAMS; i++)
			len += (size_t)snprintf(sql + len, sizeof sql - len,
			    "%s?%zu", i == 1 ? (k > 0 ? ", (" : "(") : ", ",
			    k * HELD_ROW_PARAMS + i);
		len += (size_t)snprintf(sql + len, sizeof sql - len, ", ?%zu)",
		    k * HELD_ROW_PARAMS + 4);
	}
	return sql;
}

/* Binds row r at the k-th place of s. */
static void
s_held_bind(sqlite3_stmt *s, int k, const held_row_t *r)
{
	int p = k * HELD_ROW_PARAMS;

	sqlite3_bind_text(s, p + 1, r->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, p + 2, r->site, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, p + 3, r->sku, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, p + 4, r->delta);
	sqlite3_bind_text(s, p + 5, r->reason, -1, SQLITE_STATIC);
	if (r->has_ref)
		sqlite3_bind_text(s, p + 6, r->ref, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, p + 6);
	sqlite3_bind_int64(s, p + 7, (int64_t)r->hlc);
	sqlite3_bind_text(s, p + 8, r->origin, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, p + 9, (int64_t)r->seq);
}

/* Inserts held rows from..to-1 (HELD_ROWS of them, or one) in one
 * statement: 1 when they are in, 0 when an id among them is taken (none
 * is in then), -1 with err. */
static int
s_held_insert(store_t *st, held_t *h, size_t from, size_t to, err_t *err)
{
	sqlite3_stmt *s = to - from == HELD_ROWS
	    ? store_stmt(st, s_held_sql())
	    : store_stmt(st,
		  "INSERT INTO stock_movements(id, site, sku, delta, reason, "
		  "ref, hlc, origin, seq, counted) VALUES (?1, ?2, ?3, ?4, "
		  "?5, ?6, ?7, ?8, ?9, ?4)");
	size_t k;
	int rc;

	assert(to - from == HELD_ROWS || to - from == 1);
	for (k = from; k < to; k++)
		s_held_bind(s, (int)(k - from), &h->row[k]);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc == SQLITE_DONE)
		return 1;
	if (rc == SQLITE_CONSTRAINT_PRIMARYKEY)
		return 0;
	return err_set(err, ERR_INTERNAL, "stock movement %s: %s",
	    h->row[from].id, sqlite3_errmsg(store_db(st)));
}

/* store_held_fn: inserts the rows held one by one, writes each sum as
 * s_add_on_hand would have (a sum of 0 still makes its position, as its
 * movements would have), then records the rows whose id was taken, in
 * order; frees h. */
static int
s_held_write(void *arg, store_t *st, int write, err_t *err)
{
	held_t *h = arg;
	size_t k, i;
	int rc = 0, in;

	for (k = 0; write && rc == 0 && k < h->nrows; k++) {
		if ((in = s_held_insert(st, h, k, k + 1, err)) < 0)
			rc = -1;
		else if (in == 0) {
			h->row[k].late = 1;
			h->row[k].pos->delta -= h->row[k].delta;
			h->row[k].pos->rows--;
		}
	}
	for (i = 0; write && rc == 0 && i < h->n; i++)
		if (h->pos[i].rows > 0)
			rc = s_add_on_hand(st, h->pos[i].site, h->pos[i].sku,
			    h->pos[i].delta, err);
	for (k = 0; write && rc == 0 && k < h->nrows; k++) {
		held_row_t *r = &h->row[k];
		op_t op;
		movement_t m;

		if (!r->late)
			continue;
		memset(&op, 0, sizeof op);
		memset(&m, 0, sizeof m);
		s_copy(op.origin, sizeof op.origin, r->origin);
		s_copy(op.key, sizeof op.key, r->id);
		op.seq = r->seq;
		op.hlc = r->hlc;
		m.site = r->site;
		m.sku = r->sku;
		m.delta = r->delta;
		m.reason = r->reason;
		m.ref = r->has_ref ? r->ref : NULL;
		rc = s_record_now(st, &op, &m, NULL, NULL, 0, err);
	}
	free(h);
	return rc;
}

/* FNV-1a of site and sku, NUL between. */
static uint32_t
s_held_hash(const char *site, const char *sku)
{
	uint32_t x = 2166136261u;

	for (; *site != '\0'; site++)
		x = (x ^ (uint8_t)*site) * 16777619u;
	x *= 16777619u;
	for (; *sku != '\0'; sku++)
		x = (x ^ (uint8_t)*sku) * 16777619u;
	return x;
}

/* The sum held for (site, sku) in h, made if new (h has room). */
static held_pos_t *
s_held_pos(held_t *h, const char *site, const char *sku)
{
	held_pos_t *p;
	uint32_t i;

	for (i = s_held_hash(site, sku) & (HELD_SLOTS - 1); h->slot[i] != 0;
	     i = (i + 1) & (HELD_SLOTS - 1)) {
		p = &h->pos[h->slot[i] - 1];
		if (strcmp(p->site, site) == 0 && strcmp(p->sku, sku) == 0)
			return p;
	}
	p = &h->pos[h->n++];
	snprintf(p->site, sizeof p->site, "%s", site);
	snprintf(p->sku, sizeof p->sku, "%s", sku);
	h->slot[i] = (uint16_t)h->n;
	return p;
}

/* In a bulk: holds plain movement m of op (store_hold), writing what is
 * held first when the table is full, and inserting the rows when
 * HELD_ROWS are held (all of them in: the sums stay held). 0, or -1 with
 * err. */
static int
s_hold_movement(store_t *st, const op_t *op, const movement_t *m, err_t *err)
{
	held_t *h = store_held(st, s_held_write);
	held_row_t *r;
	int rc;

	if (h != NULL && h->n == HELD_MAX) {
		if (store_flush_held(st, err))
			return -1;
		h = NULL;
	}
	if (h == NULL) {
		if ((h = calloc(1, sizeof *h)) == NULL)
			fatal("stock: out of memory");
		store_hold(st, s_held_write, h);
	}
	r = &h->row[h->nrows++];
	s_copy(r->id, sizeof r->id, op->key);
	s_copy(r->origin, sizeof r->origin, op->origin);
	r->seq = op->seq;
	r->hlc = op->hlc;
	s_copy(r->site, sizeof r->site, m->site);
	s_copy(r->sku, sizeof r->sku, m->sku);
	s_copy(r->reason, sizeof r->reason, m->reason);
	r->has_ref = m->ref != NULL;
	s_copy(r->ref, sizeof r->ref, r->has_ref ? m->ref : "");
	r->delta = m->delta;
	r->pos = s_held_pos(h, m->site, m->sku);
	r->pos->delta += m->delta;
	r->pos->rows++;
	if (h->nrows < HELD_ROWS)
		return 0;
	if ((rc = s_held_insert(st, h, 0, HELD_ROWS, err)) < 0)
		return -1;
	if (rc == 0) /* an id taken: one by one, and its claim */
		return store_flush_held(st, err);
	h->nrows = 0;
	return 0;
}

int
stock_apply(store_t *st, const op_t *op, err_t *err)
{
	movement_t m;
	const char *effect, *order;

	if (strcmp(op->kind, "add") != 0)
		return err_set(err, ERR_BAD_REQUEST,
		    "stock movement %s: unknown kind '%s'", op->key, op->kind);
	if (s_movement_parse(op->fields, &m, err))
		return err_prefix(err, "stock movement %s", op->key);
	if (s_movement_own(op, &m, err))
		return -1;
	effect = effect_of(op->key, m.site, m.reason, m.ref, m.order, &order);
	/* In a bulk, a movement linked to no order and no transfer is held;
	 * any other sees everything before it written. */
	if (store_bulk(st) && effect == NULL && m.to == NULL &&
	    m.transfer == NULL)
		return s_hold_movement(st, op, &m, err);
	return s_record_now(st, op, &m, effect, order, 1, err);
}

int
stock_recount(store_t *st, const char *id, int64_t counted, err_t *err)
{
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT site, sku, counted FROM "
	    "stock_movements WHERE id = ?");
	char site[OP_SITE_MAX + 1], sku[SKU_MAX + 1];
	int64_t was = 0;
	int found;

	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	if ((found = store_row(st, s)) != 0) {
		snprintf(site, sizeof site, "%s", sqlite3_column_text(s, 0));
		snprintf(sku, sizeof sku, "%s", sqlite3_column_text(s, 1));
		was = sqlite3_column_int64(s, 2);
	}
	sqlite3_reset(s);
	if (!found)
		return store_read_error(st, err)
		    ? -1
		    : err_set(err, ERR_INTERNAL,
			  "recount stock movement %s: not recorded", id);
	s = store_stmt(st,
	    "UPDATE stock_movements SET counted = ? "
	    "WHERE id = ?");
	sqlite3_bind_int64(s, 1, counted);
	sqlite3_bind_text(s, 2, id, -1, SQLITE_STATIC);
	if (store_step(st, s, "recount stock movement", err))
		return -1;
	return s_add_on_hand(st, site, sku, counted - was, err);
}

/* Builds the JSON of recorded movement id, or NULL if there is none. */
static json_t *
s_movement_json(store_t *st, const char *id)
{
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT site, sku, delta, reason, ref, origin, hlc, "
	    "CASE WHEN effect = '" EFFECT_RETURN "' THEN order_id END "
	    "FROM stock_movements WHERE id = ?");
	json_t *o = NULL;

	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	if (store_row(st, s)) {
		o = json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:I}", "id", id,
		    "site", (const char *)sqlite3_column_text(s, 0), "sku",
		    (const char *)sqlite3_column_text(s, 1), "delta",
		    (json_int_t)sqlite3_column_int64(s, 2), "reason",
		    (const char *)sqlite3_column_text(s, 3), "origin",
		    (const char *)sqlite3_column_text(s, 5), "hlc",
		    (json_int_t)sqlite3_column_int64(s, 6));
		if (sqlite3_column_type(s, 4) != SQLITE_NULL)
			json_object_set_new(o, "ref",
			    json_string(
				(const char *)sqlite3_column_text(s, 4)));
		if (sqlite3_column_type(s, 7) != SQLITE_NULL)
			json_object_set_new(o, "order",
			    json_string(
				(const char *)sqlite3_column_text(s, 7)));
	}
	sqlite3_reset(s);
	return o;
}

/* Whether two optional texts are the same (both absent, or equal). */
static int
s_same_text(const char *a, const char *b)
{
	return (a == NULL && b == NULL) ||
	    (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Whether a recorded movement says the same as a request repeating its id. */
static int
s_same_movement(const json_t *rec, const movement_t *m)
{
	return strcmp(json_string_value(json_object_get(rec, "site")),
		   m->site) == 0 &&
	    strcmp(json_string_value(json_object_get(rec, "sku")), m->sku) ==
	    0 &&
	    json_integer_value(json_object_get(rec, "delta")) == m->delta &&
	    strcmp(json_string_value(json_object_get(rec, "reason")),
		m->reason) == 0 &&
	    s_same_text(json_string_value(json_object_get(rec, "ref")),
		m->ref) &&
	    s_same_text(json_string_value(json_object_get(rec, "order")),
		m->order);
}

/* stock_record_in, for a return against order when it is not NULL. */
static int
s_record_in(store_t *st, const json_t *req, const char *order, json_t **out,
    int *created, err_t *err)
{
	json_t *fields = NULL, *rec;
	const char *id = NULL;
	char idbuf[OP_KEY_MAX + 1], scoped[OP_KEY_MAX + 1];
	movement_t m;
	int rc = -1;

	*out = NULL;
	*created = 0;
	if (!json_is_object(req))
		return err_set(err, ERR_BAD_REQUEST,
		    "stock movement: body must be a JSON object");
	/* A client's id is scoped by this site (own.h). */
	if (req_text(req, "id", OP_KEY_MAX, 0, &id, err) ||
	    own_scope(st, id, OP_KEY_MAX, scoped, &id, err))
		return -1;
	fields = json_pack("{s:O?, s:O?, s:O?}", "sku",
	    json_object_get(req, "sku"), "delta", json_object_get(req, "delta"),
	    "reason", json_object_get(req, "reason"));
	if (json_object_get(req, "site") != NULL)
		json_object_set(fields, "site", json_object_get(req, "site"));
	else
		json_object_set_new(fields, "site",
		    json_string(store_site(st)));
	if (json_object_get(req, "ref") != NULL &&
	    !json_is_null(json_object_get(req, "ref")))
		json_object_set(fields, "ref", json_object_get(req, "ref"));
	if (json_object_get(req, "to") != NULL)
		json_object_set(fields, "to", json_object_get(req, "to"));
	if (order != NULL)
		json_object_set_new(fields, "order", json_string(order));
	if (s_movement_parse(fields, &m, err))
		goto out;
	if (id != NULL && (rec = s_movement_json(st, id)) != NULL) {
		if (!s_same_movement(rec, &m)) {
			json_decref(rec);
			err_set(err, ERR_CONFLICT,
			    "stock movement %s: id already used for a different movement",
			    id);
			goto out;
		}
		*out = rec;
		rc = 0;
		goto out;
	}
	if (id == NULL) {
		/* A readable, globally unique id (store_new_id). */
		store_new_id(st, idbuf, sizeof idbuf);
		id = idbuf;
	}
	if (store_append_local(st, STOCK_ENTITY, id, "add", fields, NULL, err))
		goto out;
	*out = s_movement_json(st, id);
	*created = 1;
	rc = 0;
out:
	json_decref(fields);
	return rc;
}

int
stock_record_in(store_t *st, const json_t *req, json_t **out, int *created,
    err_t *err)
{
	return s_record_in(st, req, NULL, out, created, err);
}

int
stock_return_in(store_t *st, const json_t *req, const char *order, json_t **out,
    int *created, err_t *err)
{
	return s_record_in(st, req, order, out, created, err);
}

int
stock_add_in(store_t *st, const char *id, const char *sku, int64_t delta,
    const char *reason, const char *ref, err_t *err)
{
	/* The fields s_record_in makes of {id, sku, delta, reason, ref}. */
	json_t *f = json_pack("{s:s, s:I, s:s, s:s, s:s}", "sku", sku, "delta",
	    (json_int_t)delta, "reason", reason, "site", store_site(st), "ref",
	    ref);
	int rc;

	if (f == NULL)
		return err_set(err, ERR_BAD_REQUEST,
		    "stock movement %s: sku, reason and ref must be UTF-8 text",
		    id);
	rc = store_append_local(st, STOCK_ENTITY, id, "add", f, NULL, err);
	json_decref(f);
	return rc;
}

static int
s_record(store_t *st, void *arg, err_t *err)
{
	cmd_t *c = arg;

	return stock_record_in(st, c->req, &c->out, &c->created, err);
}

int
stock_record(store_t *st, const json_t *req, json_t **out, int *created,
    err_t *err)
{
	if (!json_is_object(req)) {
		*out = NULL;
		*created = 0;
		return err_set(err, ERR_BAD_REQUEST,
		    "stock movement: body must be a JSON object");
	}
	return cmd_run(st, s_record, req, NULL, NULL, out, created, err);
}

int
stock_list(store_t *st, const json_t *query, json_t **out, err_t *err)
{
	const char *site = req_query(query, "site");
	const char *sku = req_query(query, "sku");

	/* Reserved is derived: the lines of allocated or picked orders, at
	 * their fulfilling site (order.h); a parent shown allocated has no
	 * site, its fulfilments reserve (fulfil.h). */
	sqlite3_stmt *s = store_stmt(st,
	    /* clang-format off */
	    "WITH res AS (SELECT o.fulfil_site AS site, l.sku AS sku, "
	    "sum(l.qty) AS qty FROM orders o "
	    "JOIN order_status os ON os.order_id = o.id "
	    "JOIN order_lines l ON l.order_id = o.id "
	    "WHERE o.fulfil_site != '' AND os.rank IN (" ORDER_SQL(ORDER_RANK_ALLOCATED) ", "
	    ORDER_SQL(ORDER_RANK_PICKED) ") GROUP BY 1, 2), "
	    "k AS (SELECT site, sku FROM stock UNION SELECT site, sku FROM res) "
	    "SELECT k.site, k.sku, coalesce(st.on_hand, 0), coalesce(res.qty, 0) "
	    "FROM k LEFT JOIN stock st ON st.site = k.site AND st.sku = k.sku "
	    "LEFT JOIN res ON res.site = k.site AND res.sku = k.sku "
	    "WHERE (?1 IS NULL OR k.site = ?1) AND (?2 IS NULL OR k.sku = ?2) "
	    "ORDER BY k.site, k.sku");
	/* clang-format on */
	json_t *items = json_array();

	if (site != NULL)
		sqlite3_bind_text(s, 1, site, -1, SQLITE_STATIC);
	if (sku != NULL)
		sqlite3_bind_text(s, 2, sku, -1, SQLITE_STATIC);
	while (store_row(st, s)) {
		json_int_t on_hand = sqlite3_column_int64(s, 2);
		json_int_t reserved = sqlite3_column_int64(s, 3);

		json_array_append_new(items,
		    json_pack("{s:s, s:s, s:I, s:I, s:I}", "site",
			(const char *)sqlite3_column_text(s, 0), "sku",
			(const char *)sqlite3_column_text(s, 1), "on_hand",
			on_hand, "reserved", reserved, "available",
			on_hand - reserved));
	}
	sqlite3_reset(s);
	/* Goods on their way, on their destination's rows (transfer.h). */
	if (transfer_in_transit(st, site, sku, items, err)) {
		json_decref(items);
		return -1;
	}
	return rec_items(st, items, out, err);
}

/* The on-hand of sku at site as this replica knows it. */
static int64_t
s_on_hand(store_t *st, const char *site, const char *sku)
{
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT on_hand FROM stock "
	    "WHERE site = ? AND sku = ?");

	sqlite3_bind_text(s, 1, site, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, sku, -1, SQLITE_STATIC);
	return store_query_int(st, s, 0);
}

/* Records each movement of moves (an array of requests) in the open
 * transaction, collecting the recorded movements into c->out.items. */
static int
s_record_all(store_t *st, json_t *moves, cmd_t *c, err_t *err)
{
	json_t *m, *out, *items = json_array();
	size_t i;
	int created;

	json_array_foreach(moves, i, m) {
		if (stock_record_in(st, m, &out, &created, err)) {
			json_decref(items);
			return -1;
		}
		json_array_append_new(items, out);
	}
	json_object_set_new(c->out, "movements", items);
	return 0;
}

/* A transfer records its out leg here, "T-to-DEST", naming the
 * destination; the destination's node records the receipt, "DEST-T-in",
 * when it applies it (s_receive). Until then the goods are in transit. */
static int
s_transfer(store_t *st, void *arg, err_t *err)
{
	cmd_t *c = arg;
	static const char *const allowed[] = { "id", "sku", "qty", "to_site",
		NULL };
	const char *id, *sku, *to;
	char idbuf[OP_KEY_MAX + 1], out_id[OP_KEY_MAX + 1],
	    in_id[OP_KEY_MAX + 1];
	int64_t qty;
	json_t *moves;
	int rc;

	if (req_only(c->req, allowed, err) ||
	    req_text(c->req, "id", OP_KEY_MAX, 0, &id, err) ||
	    req_text(c->req, "sku", SKU_MAX, 1, &sku, err) ||
	    req_int(c->req, "qty", 1, DELTA_MAX, 1, 0, &qty, err) ||
	    req_text(c->req, "to_site", OP_SITE_MAX, 1, &to, err))
		return -1;
	if (!op_site_valid(to))
		return err_set(err, ERR_BAD_REQUEST,
		    "to_site: '%s' is not a site id", to);
	if (strcmp(to, store_site(st)) == 0)
		return err_set(err, ERR_BAD_REQUEST,
		    "to_site: a transfer goes to another site");
	/* The legs' ids are made from the transfer's: it leaves room for
	 * "-to-DEST" (and "DEST-" ... "-in", as long). */
	if (own_scope(st, id, OP_KEY_MAX - strlen(TO_TAG) - strlen(to), idbuf,
		&id, err))
		return -1;
	if (id == NULL) {
		store_new_id(st, idbuf, sizeof idbuf);
		id = idbuf;
	}
	if (snprintf(out_id, sizeof out_id, "%s" TO_TAG "%s", id, to) >=
		(int)sizeof out_id ||
	    snprintf(in_id, sizeof in_id, "%s-%s" IN_TAG, to, id) >=
		(int)sizeof in_id)
		return err_set(err, ERR_BAD_REQUEST,
		    "id: %s: too long for a transfer to %s", id, to);
	moves = json_pack("[{s:s, s:s, s:I, s:s, s:s, s:s}]", "id", out_id,
	    "sku", sku, "delta", (json_int_t)-qty, "reason", "transfer_out",
	    "ref", id, "to", to);
	c->out = json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:s}", "id", id,
	    "sku", sku, "qty", (json_int_t)qty, "from_site", store_site(st),
	    "to_site", to, "status", "in_transit", "receipt", in_id);
	rc = s_record_all(st, moves, c, err);
	json_decref(moves);
	return rc;
}

static int
s_count(store_t *st, void *arg, err_t *err)
{
	cmd_t *c = arg;
	static const char *const allowed[] = { "id", "sku", "counted", NULL };
	const char *id, *sku;
	int64_t counted, on_hand, diff;
	json_t *moves;
	int rc;

	if (req_only(c->req, allowed, err) ||
	    req_text(c->req, "id", REQ_ID_MAX, 0, &id, err) ||
	    req_text(c->req, "sku", SKU_MAX, 1, &sku, err) ||
	    req_int(c->req, "counted", 0, DELTA_MAX, 1, 0, &counted, err))
		return -1;
	/* On hand is a sum of movements: checked, not assumed small. */
	on_hand = s_on_hand(st, store_site(st), sku);
	if (__builtin_sub_overflow(counted, on_hand, &diff))
		return err_set(err, ERR_UNPROCESSABLE,
		    "counted: %lld less the %lld on hand cannot be represented",
		    (long long)counted, (long long)on_hand);
	c->out = json_pack("{s:s, s:s, s:I, s:I}", "site", store_site(st),
	    "sku", sku, "counted", (json_int_t)counted, "adjustment",
	    (json_int_t)diff);
	if (diff == 0) {
		json_object_set_new(c->out, "movements", json_array());
		return 0;
	}
	moves = json_pack("[{s:s, s:I, s:s}]", "sku", sku, "delta",
	    (json_int_t)diff, "reason", "count");
	if (id != NULL)
		json_object_set_new(json_array_get(moves, 0), "id",
		    json_string(id));
	rc = s_record_all(st, moves, c, err);
	json_decref(moves);
	return rc;
}

/* Transfers and counts always answer 201 (*created = 1), as they always
 * have: a retry's movements tell by their ids that they were known. */
int
stock_transfer(store_t *st, const json_t *req, json_t **out, int *created,
    err_t *err)
{
	int rc = cmd_run(st, s_transfer, req, NULL, NULL, out, NULL, err);

	*created = rc == 0;
	return rc;
}

int
stock_count(store_t *st, const json_t *req, json_t **out, int *created,
    err_t *err)
{
	int rc = cmd_run(st, s_count, req, NULL, NULL, out, NULL, err);

	*created = rc == 0;
	return rc;
}
