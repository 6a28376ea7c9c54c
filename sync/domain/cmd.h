/*
 * cmd: a JSON command of a domain module, run in one transaction.
 *
 * Every create, change and transition of the API follows the same path: a
 * request object in, one transaction (BEGIN IMMEDIATE ... COMMIT) that
 * checks, appends its ops and applies them, and the resulting record out.
 * The module writes only the step (fn); cmd_run owns the transaction and
 * the answer. Inside a transaction already open (a node's group commit,
 * group.h) the command is a savepoint of it (store_txn), and its write is
 * durable once that transaction commits.
 */
#ifndef BL_CMD_H
#define BL_CMD_H

#include <jansson.h>

#include "err.h"
#include "store.h"

typedef struct {
	const json_t *req; /* the request, borrowed */
	const char *id;	   /* the record acted on (NULL for a create) */
	const char *kind;  /* which change, for modules with several */
	json_t *out;	   /* the answer the step builds, owned */
	int created;	   /* the step recorded something new */
} cmd_t;

/* Runs fn (which receives the cmd_t) in one transaction. On success *out
 * is the answer (caller owns) and *created, when not NULL, whether a new
 * record was made; on failure nothing was written and err says why. */
int cmd_run(store_t *store, int (*fn)(store_t *, void *, err_t *),
    const json_t *req, const char *id, const char *kind, json_t **out,
    int *created, err_t *err);

/* Inside a create step: the record's id (the client's, *id, or when it is
 * NULL a new "SITE-NNNNNN" written into idbuf, OP_KEY_MAX + 1 bytes), the
 * op that creates it (entity, kind; fields borrowed), and the idempotency
 * record of c's request under what. *id ends up naming the id used, and c
 * is marked created. */
int cmd_create_op(store_t *store, cmd_t *c, const char *what,
    const char *entity, const char *kind, const char **id, char *idbuf,
    json_t *fields, err_t *err);

#endif
