/* rec: the end of a lookup (see rec.h). */
#include "rec.h"

int
rec_found(store_t *st, json_t *rec, const char *what, const char *id,
    json_t **out, err_t *err)
{
	*out = NULL;
	if (store_read_error(st, err)) {
		json_decref(rec);
		return -1;
	}
	if (rec == NULL)
		return err_set(err, ERR_NOT_FOUND, "%s %s: not found", what,
		    id);
	*out = rec;
	return 0;
}

int
rec_items(store_t *st, json_t *items, json_t **out, err_t *err)
{
	*out = NULL;
	if (store_read_error(st, err)) {
		json_decref(items);
		return -1;
	}
	*out = json_pack("{s:o}", "items", items);
	return 0;
}

int
rec_items_by_id(store_t *st, sqlite3_stmt *s,
    json_t *(*read)(store_t *, const char *), json_t **out, err_t *err)
{
	json_t *ids = json_array(), *items = json_array(), *id, *rec;
	size_t i;

	while (store_row(st, s))
		json_array_append_new(ids,
		    json_string((const char *)sqlite3_column_text(s, 0)));
	sqlite3_reset(s);
	json_array_foreach(ids, i, id)
		if ((rec = read(st, json_string_value(id))) != NULL)
			json_array_append_new(items, rec);
	json_decref(ids);
	return rec_items(st, items, out, err);
}
