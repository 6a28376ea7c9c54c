/* apply: dispatches an op to the merge rule of its entity (see apply.h). */
#include "apply.h"

#include <string.h>

#include "stock.h"

static const struct {
	const char *entity;
	int (*apply)(store_t *, const op_t *, err_t *);
} s_rules[] = {
	{ STOCK_ENTITY, stock_apply },
};

int
apply_op(store_t *store, const op_t *op, err_t *err)
{
	size_t i;

	for (i = 0; i < sizeof s_rules / sizeof s_rules[0]; i++)
		if (strcmp(op->entity, s_rules[i].entity) == 0)
			return s_rules[i].apply(store, op, err);
	return err_set(err, ERR_BAD_REQUEST, "unknown entity '%s'", op->entity);
}
