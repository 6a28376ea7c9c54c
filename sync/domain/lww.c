/* lww: last-writer-wins stamps (see lww.h). */
#include "lww.h"

int
lww_claim(store_t *st, const char *entity, const char *key, const char *field,
    const op_t *op, err_t *err)
{
	sqlite3_stmt *s = store_stmt(st,
	    "INSERT INTO lww_stamps(entity, key, field, hlc, origin) "
	    "VALUES (?1, ?2, ?3, ?4, ?5) "
	    "ON CONFLICT(entity, key, field) DO UPDATE SET hlc = excluded.hlc, "
	    "origin = excluded.origin "
	    "WHERE (excluded.hlc, excluded.origin) > (lww_stamps.hlc, lww_stamps.origin)");
	int rc;

	sqlite3_bind_text(s, 1, entity, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, field, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, (int64_t)op->hlc);
	sqlite3_bind_text(s, 5, op->origin, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return err_set(err, ERR_INTERNAL, "lww %s %s.%s: %s", entity,
		    key, field, sqlite3_errmsg(store_db(st)));
	return sqlite3_changes(store_db(st)) > 0;
}
