/* site: the region head office puts each site in (see site.h). */
#include "site.h"

#include <stdio.h>
#include <string.h>

#include "own.h"
#include "proto.h"
#include "req.h"

static const char *const s_roles[] = { "store", "warehouse", NULL };

int
site_region_valid(const char *name)
{
	size_t n = strspn(name,
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-");

	return name[n] == '\0' && n >= 1 && n <= PROTO_REGION_MAX;
}

/* Checks a move of site: fields f ({region, role}); fills region and
 * role, borrowed from f. */
static int
s_check(const char *site, const json_t *f, const char **region,
    const char **role, err_t *err)
{
	static const char *const allowed[] = { "region", "role", NULL };

	if (!op_site_valid(site) || own_is_hq(site))
		return err_set(err, ERR_BAD_REQUEST,
		    "key: '%s' is not the id of a store or warehouse", site);
	if (req_only(f, allowed, err) ||
	    req_text(f, "region", PROTO_REGION_MAX, 1, region, err) ||
	    req_enum(f, "role", s_roles, 1, role, err))
		return -1;
	if (!site_region_valid(*region))
		return err_set(err, ERR_BAD_REQUEST,
		    "region: '%s': use 1-%d of A-Z a-z 0-9 _ -", *region,
		    PROTO_REGION_MAX);
	return 0;
}

int
site_region_apply(store_t *st, const op_t *op, err_t *err)
{
	const char *region, *role;
	sqlite3_stmt *s;

	if (strcmp(op->kind, "set") != 0)
		return err_set(err, ERR_BAD_REQUEST,
		    "site region %s: unknown kind '%s'", op->key, op->kind);
	if (s_check(op->key, op->fields, &region, &role, err))
		return err_prefix(err, "site region %s", op->key);
	s = store_stmt(st,
	    "INSERT INTO site_regions(site, region, role, hlc, origin) "
	    "VALUES (?1, ?2, ?3, ?4, ?5) "
	    "ON CONFLICT(site) DO UPDATE SET region = excluded.region, "
	    "role = excluded.role, hlc = excluded.hlc, "
	    "origin = excluded.origin "
	    "WHERE (excluded.hlc, excluded.origin) > "
	    "(site_regions.hlc, site_regions.origin)");
	sqlite3_bind_text(s, 1, op->key, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, region, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, role, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, (int64_t)op->hlc);
	sqlite3_bind_text(s, 5, op->origin, -1, SQLITE_STATIC);
	return store_step(st, s, "site region", err);
}

int
site_region_record(store_t *st, const char *site, const char *role,
    const char *region, err_t *err)
{
	json_t *fields;
	const char *r, *o;
	int rc;

	if (!store_is_hq(st))
		return err_set(err, ERR_FORBIDDEN,
		    "site region %s: head office data is written at the hub "
		    "only",
		    site);
	if (!site_region_valid(region))
		return err_set(err, ERR_BAD_REQUEST,
		    "site region %s: region: '%s': use 1-%d of A-Z a-z 0-9 _ -",
		    site, region, PROTO_REGION_MAX);
	fields = json_pack("{s:s, s:s}", "region", region, "role", role);
	if (fields == NULL)
		return err_set(err, ERR_BAD_REQUEST,
		    "site region %s: role: not UTF-8 text", site);
	rc = s_check(site, fields, &r, &o, err) ||
	    store_append_local(st, SITE_REGION_ENTITY, site, "set", fields,
		NULL, err);
	json_decref(fields);
	return rc ? -1 : 0;
}

int
site_region_moves_into(const op_t *op, const char *region, const char *self,
    char *site)
{
	const char *to, *role;

	if (strcmp(op->entity, SITE_REGION_ENTITY) != 0 ||
	    strcmp(op->kind, "set") != 0 || !op_site_valid(op->key) ||
	    strcmp(op->key, self) == 0)
		return 0;
	to = json_string_value(json_object_get(op->fields, "region"));
	role = json_string_value(json_object_get(op->fields, "role"));
	if (to == NULL || role == NULL || strcmp(to, region) != 0 ||
	    strcmp(role, "store") != 0)
		return 0;
	snprintf(site, OP_SITE_MAX + 1, "%.*s", OP_SITE_MAX, op->key);
	return 1;
}

int
site_region_moved_in(store_t *st, const char *region, const char *self,
    int (*fn)(void *arg, const char *site, err_t *err), void *arg, err_t *err)
{
	sqlite3_stmt *q = store_stmt(st,
	    "SELECT site FROM site_regions "
	    "WHERE region = ? AND role = 'store' AND site != ? ORDER BY site");
	char site[OP_SITE_MAX + 1];
	int rc = 0;

	sqlite3_bind_text(q, 1, region, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, self, -1, SQLITE_STATIC);
	while (rc == 0 && store_row(st, q)) {
		snprintf(site, sizeof site, "%s", sqlite3_column_text(q, 0));
		rc = fn(arg, site, err);
	}
	sqlite3_reset(q);
	if (rc)
		return -1;
	return store_read_error(st, err);
}
