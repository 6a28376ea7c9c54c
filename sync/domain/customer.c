/* customer: customers, tiers, tags, points (see customer.h). */
#include "customer.h"

#include <string.h>

#include "cmd.h"
#include "idem.h"
#include "lww.h"
#include "own.h"
#include "rec.h"
#include "req.h"

static const char *const s_tiers[] = { "retail", "member", "vip", "wholesale",
	NULL };

/* The LWW fields and the statement that writes each. */
static const struct {
	const char *name;
	const char *sql;
} s_fields[] = {
	{ "name", "UPDATE customers SET name = ?2 WHERE id = ?1" },
	{ "phone", "UPDATE customers SET phone = ?2 WHERE id = ?1" },
	{ "email", "UPDATE customers SET email = ?2 WHERE id = ?1" },
	{ "address", "UPDATE customers SET address = ?2 WHERE id = ?1" },
	{ "tier", "UPDATE customers SET tier = ?2 WHERE id = ?1" },
	{ "credit_limit",
	    "UPDATE customers SET credit_limit = ?2 WHERE id = ?1" },
	{ "currency", "UPDATE customers SET currency = ?2 WHERE id = ?1" },
	{ "region", "UPDATE customers SET region = ?2 WHERE id = ?1" },
};
#define NFIELDS (sizeof s_fields / sizeof s_fields[0])

/* Checks the "set" object of a customer op or request. */
static int
s_check_set(const json_t *set, err_t *err)
{
	const char *s;
	int64_t n;
	size_t i;
	const char *names[NFIELDS + 1];

	for (i = 0; i < NFIELDS; i++)
		names[i] = s_fields[i].name;
	names[NFIELDS] = NULL;
	if (!json_is_object(set))
		return err_set(err, ERR_BAD_REQUEST, "set: must be an object");
	if (json_is_null(json_object_get(set, "tier")))
		return err_set(err, ERR_BAD_REQUEST,
		    "tier: cannot be cleared; set retail instead");
	if (req_only(set, names, err) ||
	    req_text(set, "name", REQ_TEXT_MAX, 0, &s, err) ||
	    req_text(set, "phone", 32, 0, &s, err) ||
	    req_text(set, "email", 254, 0, &s, err) ||
	    req_text(set, "address", REQ_TEXT_MAX, 0, &s, err) ||
	    req_enum(set, "tier", s_tiers, 0, &s, err) ||
	    req_int(set, "credit_limit", 0, INT64_C(1) << 50, 0, 0, &n, err) ||
	    req_currency(set, "currency", 0, &s, err) ||
	    req_text(set, "region", CUSTOMER_REGION_MAX, 0, &s, err))
		return -1;
	if ((s = json_string_value(json_object_get(set, "email"))) != NULL &&
	    strchr(s, '@') == NULL)
		return err_set(err, ERR_BAD_REQUEST,
		    "email: '%s' is not an e-mail address", s);
	return 0;
}

static int
s_check_tag(const json_t *v, const char *what, err_t *err)
{
	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    json_string_length(v) > REQ_ID_MAX)
		return err_set(err, ERR_BAD_REQUEST,
		    "%s: tags must be strings of 1 to %d characters", what,
		    REQ_ID_MAX);
	return 0;
}

static int
s_bind_value(sqlite3_stmt *s, int i, const json_t *v)
{
	if (json_is_integer(v))
		return sqlite3_bind_int64(s, i, json_integer_value(v));
	if (json_is_string(v))
		return sqlite3_bind_text(s, i, json_string_value(v), -1,
		    SQLITE_TRANSIENT);
	return sqlite3_bind_null(s, i);
}

int
customer_apply(store_t *st, const op_t *op, err_t *err)
{
	const json_t *f = op->fields, *set, *v, *adds, *rm;
	sqlite3_stmt *s;
	int64_t delta;
	size_t i, j;
	int create = strcmp(op->kind, "create") == 0;

	if (!create && strcmp(op->kind, "update") != 0)
		return err_set(err, ERR_BAD_REQUEST,
		    "customer %s: unknown kind '%s'", op->key, op->kind);
	/* A customer's shared fields may be changed anywhere (a member card
	 * works at every store), but it is created, and so owned, only under
	 * its creating site's id: no other site's create can take it over
	 * (own.h). */
	if (create && own_create(op, "customer", err))
		return -1;
	set = json_object_get(f, "set");
	if (set != NULL && s_check_set(set, err))
		return err_prefix(err, "customer %s", op->key);
	if (req_int(f, "points_delta", -(INT64_C(1) << 40), INT64_C(1) << 40, 0,
		0, &delta, err))
		return err_prefix(err, "customer %s", op->key);
	adds = json_object_get(f, "tags_add");
	rm = json_object_get(f, "tags_remove");
	if ((adds != NULL && !json_is_array(adds)) ||
	    (rm != NULL && !json_is_array(rm)))
		return err_set(err, ERR_BAD_REQUEST,
		    "customer %s: tags_add and tags_remove must be arrays",
		    op->key);

	json_array_foreach(adds, i, v)
		if (s_check_tag(v, "tags_add", err))
			return err_prefix(err, "customer %s", op->key);
	json_array_foreach(rm, i, v) {
		json_t *seen = json_object_get(v, "adds"), *inst;

		if (s_check_tag(json_object_get(v, "tag"), "tags_remove", err))
			return err_prefix(err, "customer %s", op->key);
		if (!json_is_array(seen))
			return err_set(err, ERR_BAD_REQUEST,
			    "customer %s: tags_remove: adds must be an array",
			    op->key);
		json_array_foreach(seen, j, inst)
			if (!json_is_string(json_array_get(inst, 0)) ||
			    !json_is_integer(json_array_get(inst, 1)))
				return err_set(err, ERR_BAD_REQUEST,
				    "customer %s: tags_remove: adds are [origin, seq]",
				    op->key);
	}

	/* Checked: from here on only storage can fail. The record exists
	 * from its first op; its creating site is that of the earliest
	 * create, whatever arrives first. */
	s = store_stmt(st,
	    "INSERT INTO customers(id, site, created_hlc, "
	    "created_origin) VALUES (?1, ?2, ?3, ?2) ON CONFLICT(id) DO UPDATE "
	    "SET site = excluded.site, created_hlc = excluded.created_hlc, "
	    "created_origin = excluded.created_origin "
	    "WHERE excluded.site IS NOT NULL AND (customers.created_hlc IS NULL "
	    "OR (excluded.created_hlc, excluded.created_origin) < "
	    "(customers.created_hlc, customers.created_origin))");
	sqlite3_bind_text(s, 1, op->key, -1, SQLITE_STATIC);
	if (create) {
		sqlite3_bind_text(s, 2, op->origin, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 3, (int64_t)op->hlc);
	}
	if (store_step(st, s, "customer", err))
		return -1;

	for (i = 0; set != NULL && i < NFIELDS; i++) {
		int wins;

		if ((v = json_object_get(set, s_fields[i].name)) == NULL)
			continue;
		wins = lww_claim(st, CUSTOMER_ENTITY, op->key, s_fields[i].name,
		    op, err);
		if (wins < 0)
			return -1;
		if (!wins)
			continue;
		s = store_stmt(st, s_fields[i].sql);
		sqlite3_bind_text(s, 1, op->key, -1, SQLITE_STATIC);
		s_bind_value(s, 2, v);
		if (store_step(st, s, "customer", err))
			return -1;
	}
	if (delta != 0) {
		s = store_stmt(st,
		    "UPDATE customers SET points = points + ?2 "
		    "WHERE id = ?1");
		sqlite3_bind_text(s, 1, op->key, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, delta);
		if (store_step(st, s, "customer", err))
			return -1;
	}
	json_array_foreach(adds, i, v) {
		s = store_stmt(st,
		    "INSERT OR IGNORE INTO customer_tag_adds"
		    "(customer, tag, origin, seq) VALUES (?, ?, ?, ?)");
		sqlite3_bind_text(s, 1, op->key, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, json_string_value(v), -1,
		    SQLITE_STATIC);
		sqlite3_bind_text(s, 3, op->origin, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 4, (int64_t)op->seq);
		if (store_step(st, s, "customer", err))
			return -1;
	}
	json_array_foreach(rm, i, v) {
		json_t *tag = json_object_get(v, "tag"), *seen, *inst;

		seen = json_object_get(v, "adds");
		json_array_foreach(seen, j, inst) {
			json_t *o = json_array_get(inst, 0),
			       *q = json_array_get(inst, 1);

			s = store_stmt(st,
			    "INSERT OR IGNORE INTO customer_tag_removes"
			    "(customer, tag, origin, seq) VALUES (?, ?, ?, ?)");
			sqlite3_bind_text(s, 1, op->key, -1, SQLITE_STATIC);
			sqlite3_bind_text(s, 2, json_string_value(tag), -1,
			    SQLITE_STATIC);
			sqlite3_bind_text(s, 3, json_string_value(o), -1,
			    SQLITE_STATIC);
			sqlite3_bind_int64(s, 4, json_integer_value(q));
			if (store_step(st, s, "customer", err))
				return -1;
		}
	}
	return 0;
}

static json_t *
s_tags(store_t *st, const char *id)
{
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT DISTINCT tag FROM "
	    "customer_tag_adds a WHERE customer = ?1 AND NOT EXISTS ("
	    "SELECT 1 FROM customer_tag_removes r WHERE r.customer = a.customer "
	    "AND r.tag = a.tag AND r.origin = a.origin AND r.seq = a.seq) "
	    "ORDER BY tag");
	json_t *tags = json_array();

	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	while (store_row(st, s))
		json_array_append_new(tags,
		    json_string((const char *)sqlite3_column_text(s, 0)));
	sqlite3_reset(s);
	return tags;
}

/* Adds column i of s to o under name, as integer, text or null. */
static void
s_column(json_t *o, const char *name, sqlite3_stmt *s, int i)
{
	switch (sqlite3_column_type(s, i)) {
	case SQLITE_INTEGER:
		json_object_set_new(o, name,
		    json_integer(sqlite3_column_int64(s, i)));
		break;
	case SQLITE_TEXT:
		json_object_set_new(o, name,
		    json_string((const char *)sqlite3_column_text(s, i)));
		break;
	default: json_object_set_new(o, name, json_null()); break;
	}
}

#define CUSTOMER_COLUMNS                          \
	"id, name, phone, email, address, tier, " \
	"credit_limit, currency, points, site, region"

/* The customer id, or NULL when there is none (or a read failed). */
static json_t *
s_read(store_t *st, const char *id)
{
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT " CUSTOMER_COLUMNS " FROM customers WHERE id = ?");
	json_t *o = NULL;

	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	if (store_row(st, s)) {
		/* s_tags uses another statement: copy the row first. */
		json_t *row = json_object();
		int i;

		for (i = 0; i < sqlite3_column_count(s); i++)
			s_column(row, sqlite3_column_name(s, i), s, i);
		sqlite3_reset(s);
		json_object_set_new(row, "tags", s_tags(st, id));
		return row;
	}
	sqlite3_reset(s);
	return o;
}

int
customer_get(store_t *st, const char *id, json_t **out, err_t *err)
{
	return rec_found(st, s_read(st, id), "customer", id, out, err);
}

int
customer_list(store_t *st, const json_t *query, json_t **out, err_t *err)
{
	const char *q = req_query(query, "q");

	sqlite3_stmt *s = store_stmt(st,
	    "SELECT " CUSTOMER_COLUMNS
	    " FROM customers WHERE ?1 IS NULL OR instr(name, ?1) > 0 "
	    "OR instr(phone, ?1) > 0 ORDER BY id");

	if (q != NULL)
		sqlite3_bind_text(s, 1, q, -1, SQLITE_STATIC);
	return rec_items_by_id(st, s, s_read, out, err);
}

void
customer_tier(store_t *st, const char *id, char *buf, size_t size)
{
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT tier FROM customers WHERE id = ?");

	snprintf(buf, size, "retail");
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	if (store_row(st, s) && sqlite3_column_text(s, 0) != NULL)
		snprintf(buf, size, "%s", sqlite3_column_text(s, 0));
	sqlite3_reset(s);
}

/* ---- commands ---- */

static const char *const s_set_names[] = { "name", "phone", "email", "address",
	"tier", "credit_limit", "currency", "region", NULL };

/* Splits a request into the op fields: "set" from the plain fields. */
static json_t *
s_op_fields(const json_t *req)
{
	json_t *set = json_object(), *v;
	const char *const *n;

	for (n = s_set_names; *n != NULL; n++)
		if ((v = json_object_get(req, *n)) != NULL)
			json_object_set(set, *n, v);
	return json_pack("{s:o}", "set", set);
}

static int
s_create(store_t *st, void *arg, err_t *err)
{
	int r;
	cmd_t *c = arg;
	static const char *const allowed[] = { "id", "name", "phone", "email",
		"address", "tier", "credit_limit", "currency", "tags", "points",
		"region", NULL };
	json_t *fields, *tags;
	char idbuf[OP_KEY_MAX + 1], scoped[OP_KEY_MAX + 1];
	const char *id, *name;
	int64_t points;
	size_t i;
	json_t *t;

	if (req_only(c->req, allowed, err) ||
	    req_text(c->req, "id", OP_KEY_MAX, 0, &id, err) ||
	    own_scope(st, id, REQ_ID_MAX, scoped, &id, err) ||
	    req_text(c->req, "name", REQ_TEXT_MAX, 1, &name, err) ||
	    req_int(c->req, "points", 0, INT64_C(1) << 40, 0, 0, &points, err))
		return -1;
	/* A retry answers what was recorded; a reused id is refused. */
	if ((r = idem_replay(st, "customer", id, c->req, customer_get, &c->out,
		 err)) != 0)
		return r > 0
		    ? 0
		    : -1; /* repeated create: same answer, nothing recorded */
	fields = s_op_fields(c->req);
	if (s_check_set(json_object_get(fields, "set"), err)) {
		json_decref(fields);
		return -1;
	}
	tags = json_object_get(c->req, "tags");
	if (tags != NULL) {
		if (!json_is_array(tags)) {
			json_decref(fields);
			return err_set(err, ERR_BAD_REQUEST,
			    "tags: must be an array");
		}
		json_array_foreach(tags, i, t) {
			if (s_check_tag(t, "tags", err)) {
				json_decref(fields);
				return -1;
			}
		}
		json_object_set(fields, "tags_add", tags);
	}
	if (points != 0)
		json_object_set_new(fields, "points_delta",
		    json_integer(points));
	r = cmd_create_op(st, c, "customer", CUSTOMER_ENTITY, "create", &id,
		idbuf, fields, err) ||
	    customer_get(st, id, &c->out, err);
	json_decref(fields);
	return r ? -1 : 0;
}

int
customer_create(store_t *st, const json_t *req, json_t **out, int *created,
    err_t *err)
{
	return cmd_run(st, s_create, req, NULL, NULL, out, created, err);
}

/* The add instances of tag present here: what a removal observed. */
static json_t *
s_observed(store_t *st, const char *id, const char *tag)
{
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT origin, seq FROM "
	    "customer_tag_adds a WHERE customer = ?1 AND tag = ?2 AND NOT EXISTS ("
	    "SELECT 1 FROM customer_tag_removes r WHERE r.customer = a.customer "
	    "AND r.tag = a.tag AND r.origin = a.origin AND r.seq = a.seq) "
	    "ORDER BY origin, seq");
	json_t *adds = json_array();

	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, tag, -1, SQLITE_STATIC);
	while (store_row(st, s))
		json_array_append_new(adds,
		    json_pack("[s, I]", (const char *)sqlite3_column_text(s, 0),
			(json_int_t)sqlite3_column_int64(s, 1)));
	sqlite3_reset(s);
	return adds;
}

static int
s_patch(store_t *st, void *arg, err_t *err)
{
	cmd_t *c = arg;
	static const char *const allowed[] = { "name", "phone", "email",
		"address", "tier", "credit_limit", "currency", "tags_add",
		"tags_remove", "points_delta", "region", NULL };
	json_t *fields, *v, *rm;
	int64_t delta;
	size_t i;
	int rc = -1;

	if (customer_get(st, c->id, &c->out, err))
		return -1;
	json_decref(c->out);
	c->out = NULL;
	if (req_only(c->req, allowed, err) ||
	    req_int(c->req, "points_delta", -(INT64_C(1) << 40),
		INT64_C(1) << 40, 0, 0, &delta, err))
		return -1;
	fields = s_op_fields(c->req);
	if (s_check_set(json_object_get(fields, "set"), err))
		goto out;
	if (delta != 0)
		json_object_set_new(fields, "points_delta",
		    json_integer(delta));
	if ((v = json_object_get(c->req, "tags_add")) != NULL) {
		if (!json_is_array(v)) {
			err_set(err, ERR_BAD_REQUEST,
			    "tags_add: must be an array");
			goto out;
		}
		json_object_set(fields, "tags_add", v);
	}
	if ((v = json_object_get(c->req, "tags_remove")) != NULL) {
		json_t *t;

		if (!json_is_array(v)) {
			err_set(err, ERR_BAD_REQUEST,
			    "tags_remove: must be an array");
			goto out;
		}
		rm = json_array();
		json_array_foreach(v, i, t) {
			if (s_check_tag(t, "tags_remove", err)) {
				json_decref(rm);
				goto out;
			}
			json_array_append_new(rm,
			    json_pack("{s:O, s:o}", "tag", t, "adds",
				s_observed(st, c->id, json_string_value(t))));
		}
		json_object_set_new(fields, "tags_remove", rm);
	}
	if (store_append_local(st, CUSTOMER_ENTITY, c->id, "update", fields,
		NULL, err))
		goto out;
	rc = customer_get(st, c->id, &c->out, err);
out:
	json_decref(fields);
	return rc;
}

int
customer_patch(store_t *st, const char *id, const json_t *req, json_t **out,
    err_t *err)
{
	return cmd_run(st, s_patch, req, id, NULL, out, NULL, err);
}
