/* cmd: one command, one transaction (see cmd.h). */
#include "cmd.h"

#include "idem.h"

int
cmd_run(store_t *st, int (*fn)(store_t *, void *, err_t *), const json_t *req,
    const char *id, const char *kind, json_t **out, int *created, err_t *err)
{
	cmd_t c = { req, id, kind, NULL, 0 };

	*out = NULL;
	if (created != NULL)
		*created = 0;
	if (!json_is_object(req))
		return err_set(err, ERR_BAD_REQUEST,
		    "body: must be a JSON object");
	if (store_txn(st, fn, &c, err)) {
		json_decref(c.out);
		return -1;
	}
	*out = c.out;
	if (created != NULL)
		*created = c.created;
	return 0;
}

int
cmd_create_op(store_t *st, cmd_t *c, const char *what, const char *entity,
    const char *kind, const char **id, char *idbuf, json_t *fields, err_t *err)
{
	if (*id == NULL) {
		store_new_id(st, idbuf, OP_KEY_MAX + 1);
		*id = idbuf;
	}
	if (store_append_local(st, entity, *id, kind, fields, NULL, err) ||
	    idem_record(st, what, *id, c->req, err))
		return -1;
	c->created = 1;
	return 0;
}
