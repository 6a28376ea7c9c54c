/*
 * aftersales: after-sales cases — returns, exchanges, complaints, repairs.
 *
 * A case is opened at any site, under its own id; one naming an order only
 * by a party to it (its creator or fulfilling site) or head office. The
 * site that opened it moves it; it and head office update and comment on
 * it (own.h). Its assignee, resolution and rating are
 * last-writer-wins fields; comments are immutable; its status is a
 * max-register over open < in_progress < rejected < completed < closed.
 * Completing a return or an exchange records, in the same transaction, the
 * return movements of its lines at the completing site, each naming the
 * case's order. A return or exchange against an order may not take back
 * more of a sku than the order sold, less what earlier returns take: it
 * is refused (422, "lines[0]: return of 50 TEA exceeds what order O-1
 * sold: 2 sold, 2 on earlier returns") when the case is opened, and when
 * it is completed ("to: case K-1 cannot be completed: lines[0]: ...").
 * Returns at two sites that only a merge puts together count at most what
 * was sold, with an alert (effect.h).
 *
 * Ops: entity "case", kind "create" {kind, site, order?, customer?,
 * description?, lines?: [{sku, qty}]}; "update" {set: {assignee?,
 * resolution?, rating?}}; "comment" {text, author?}; "transition" {to}.
 */
#ifndef BL_AFTERSALES_H
#define BL_AFTERSALES_H

#include <jansson.h>

#include "err.h"
#include "op.h"
#include "store.h"

#define CASE_ENTITY "case"

int case_apply(store_t *store, const op_t *op, err_t *err);

int case_create(store_t *store, const json_t *req, json_t **out, int *created,
    err_t *err);
/* PATCH {assignee?, resolution?, rating?} */
int case_patch(store_t *store, const char *id, const json_t *req, json_t **out,
    err_t *err);
/* POST .../comments {text, author?} */
int case_comment(store_t *store, const char *id, const json_t *req,
    json_t **out, err_t *err);
/* POST .../transition {to} */
int case_transition(store_t *store, const char *id, const json_t *req,
    json_t **out, err_t *err);

/* GET /v1/cases/{id} (rec_get_fn). */
int case_get(store_t *store, const char *id, json_t **out, err_t *err);

/* GET /v1/cases?status=: every case, or those in status (rec_list_fn; 400
 * for a status cases do not have). */
int case_list(store_t *store, const json_t *query, json_t **out, err_t *err);

#endif
