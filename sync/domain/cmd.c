/* cmd: one command, one transaction (see cmd.h). */
#include "cmd.h"

int
cmd_run(store_t *st, int (*fn)(store_t *, void *, err_t *),
    const json_t *req, const char *id, const char *kind, json_t **out,
    int *created, err_t *err)
{
	cmd_t c = { req, id, kind, NULL, 0 };

	*out = NULL;
	if (created != NULL)
		*created = 0;
	if (!json_is_object(req))
		return err_set(err, ERR_BAD_REQUEST, "body: must be a JSON object");
	if (store_txn(st, fn, &c, err)) {
		json_decref(c.out);
		return -1;
	}
	*out = c.out;
	if (created != NULL)
		*created = c.created;
	return 0;
}
