/*
 * idem: client-chosen ids as idempotency keys.
 *
 * A create that carries an id is remembered by the hash of its request
 * (canonical CBOR, BLAKE2b). The same request again returns the recorded
 * record and records nothing; a different request under a used id, or an
 * id already used by a record made elsewhere, is refused with 409.
 */
#ifndef BL_IDEM_H
#define BL_IDEM_H

#include <jansson.h>

#include "err.h"
#include "rec.h"
#include "store.h"

/* Inside a transaction, before creating `what` (entity name for messages)
 * under id: returns 0 when id is new, 1 when this exact request already
 * created it (answer with the record), -1 with ERR_CONFLICT otherwise.
 * exists says whether a record with this id is known here. */
int idem_check(store_t *store, const char *what, const char *id,
    const json_t *request, int exists, err_t *err);

/* The usual use of idem_check in a create: looks the record up with get
 * and returns 1 with *out = the recorded record (a retry: answer it), 0
 * when id is NULL or new, -1 with ERR_CONFLICT for a reused id or with
 * get's error when the lookup failed otherwise than "not found". */
int idem_replay(store_t *store, const char *what, const char *id,
    const json_t *request, rec_get_fn get, json_t **out, err_t *err);

/* Inside the creating transaction: remembers the request for id, when the
 * client chose it (the request has an "id"); otherwise does nothing. */
int idem_record(store_t *store, const char *what, const char *id,
    const json_t *request, err_t *err);

#endif
