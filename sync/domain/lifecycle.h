/*
 * lifecycle: statuses with ranks and allowed transitions.
 *
 * Orders, invoices, cases and transfers each have a fixed list of
 * statuses. The merge rule is a max-register: a record's status is the
 * highest-ranked status in its history, whatever the order the history
 * arrived in. Allowed moves are checked only where a status change is
 * written (a site may only move a status forward along them); merging
 * never refuses.
 */
#ifndef BL_LIFECYCLE_H
#define BL_LIFECYCLE_H

#include "err.h"

typedef struct {
	const char *name;
	const char *next; /* allowed targets, space separated */
} lifecycle_status_t;

typedef struct {
	const char *what;		    /* "order", for messages */
	const lifecycle_status_t *statuses; /* in rank order, rank = index */
	int count;
} lifecycle_t;

extern const lifecycle_t lifecycle_order;
extern const lifecycle_t lifecycle_invoice;
extern const lifecycle_t lifecycle_case;
extern const lifecycle_t lifecycle_transfer;

/* Rank of status, or -1 when it is not one. */
int lifecycle_rank(const lifecycle_t *lc, const char *status);

/* Name of rank (asserts it is valid). */
const char *lifecycle_name(const lifecycle_t *lc, int rank);

/* Checks a move from rank `from` to status `to`; -1 with ERR_UNPROCESSABLE
 * ("transition: order S001-000004 is shipped; it can move to delivered,
 * completed") or ERR_BAD_REQUEST for an unknown status. */
int lifecycle_check(const lifecycle_t *lc, const char *id, int from,
    const char *to, err_t *err);

#endif
