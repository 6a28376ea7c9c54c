/*
 * operator: what an IT person asks of a replica's data folder, the same
 * for bl-hub and bl-node: `audit` (audit.h) and `quarantine list|retry`.
 * Each opens the store of --data with the program's open, prints its
 * result on stdout and returns the exit status; a failure is one line on
 * stderr through prog_fail.
 */
#ifndef BL_OPERATOR_H
#define BL_OPERATOR_H

#include "args.h"
#include "store.h"

/* How a program opens the store of its data folder: NULL with err. */
typedef store_t *(*operator_open_fn)(const char *dir, err_t *err);

/* audit [--site ID]: 0 when every origin verifies, 1 when one does not
 * (or on a storage error). signed_: the replica keeps pushed signatures
 * and every site's chain (the hub); a node audits its own log only. */
int operator_audit(const args_t *args, operator_open_fn open, int signed_);

/* quarantine list [--origin O]: one line per quarantined op, "O/SEQ
 * at-time: reason", then their number. */
int operator_quarantine_list(const args_t *args, operator_open_fn open);

/* quarantine retry [--origin O] [--seq N]: ingests them again
 * (store_quarantine_retry, from_of as the program knows where ops come
 * from) and says how many were applied and kept. */
int operator_quarantine_retry(const args_t *args, operator_open_fn open,
    store_from_fn from_of, void *arg);

#endif
