/* idem: idempotency keys (see idem.h). */
#include "idem.h"

#include <sodium.h>
#include <string.h>

#include "codec.h"

#define HASH_BYTES 16

static int
s_hash(const json_t *req, uint8_t out[HASH_BYTES], err_t *err)
{
	cbw_t w;
	int rc = 0;

	cbw_init(&w);
	if (cbw_json(&w, req, err))
		rc = -1;
	else
		crypto_generichash(out, HASH_BYTES, w.data, w.len, NULL, 0);
	cbw_free(&w);
	return rc;
}

int
idem_check(store_t *st, const char *what, const char *id, const json_t *req,
    int exists, err_t *err)
{
	sqlite3_stmt *s;
	uint8_t h[HASH_BYTES];
	int same = -1;

	if (!exists)
		return 0;
	if (s_hash(req, h, err))
		return -1;
	s = store_stmt(st,
	    "SELECT hash FROM requests WHERE entity = ? AND id = ?");
	sqlite3_bind_text(s, 1, what, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, id, -1, SQLITE_STATIC);
	if (store_row(st, s))
		same = sqlite3_column_bytes(s, 0) == HASH_BYTES &&
		    memcmp(sqlite3_column_blob(s, 0), h, HASH_BYTES) == 0;
	sqlite3_reset(s);
	if (same == 1)
		return 1;
	return err_set(err, ERR_CONFLICT, "id: %s %s already exists%s", what,
	    id, same == 0 ? " with different content" : "");
}

int
idem_replay(store_t *st, const char *what, const char *id, const json_t *req,
    rec_get_fn get, json_t **out, err_t *err)
{
	json_t *known = NULL;
	int r;

	if (id == NULL)
		return 0;
	if (get(st, id, &known, err) != 0) {
		if (err->code != ERR_NOT_FOUND)
			return -1;
		err_clear(err);
	}
	r = idem_check(st, what, id, req, known != NULL, err);
	if (r > 0)
		*out = known;
	else
		json_decref(known);
	return r;
}

int
idem_record(store_t *st, const char *what, const char *id, const json_t *req,
    err_t *err)
{
	sqlite3_stmt *s = store_stmt(st,
	    "INSERT OR REPLACE INTO requests"
	    "(entity, id, hash) VALUES (?, ?, ?)");
	uint8_t h[HASH_BYTES];
	int rc;

	if (json_object_get(req, "id") == NULL)
		return 0; /* the id was ours: nobody can retry with it */
	if (s_hash(req, h, err))
		return -1;
	sqlite3_bind_text(s, 1, what, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, id, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 3, h, HASH_BYTES, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return err_set(err, ERR_INTERNAL, "remember request %s: %s", id,
		    sqlite3_errmsg(store_db(st)));
	return 0;
}
