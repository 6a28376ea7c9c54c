/*
 * audit: re-verifies what a replica holds of each site's log against the
 * site's hash chain and, at the hub, the signatures it pushed (chain.h).
 *
 * For each origin it walks the ops held (log and quarantine) in seq order
 * from 1: a seq missing, an op whose bytes do not give its kept chain
 * value, a signed batch whose chain or signature does not match, and ops
 * after the last signed batch of a site that signs are each named, with
 * the first that breaks the chain of its origin. One line per origin goes
 * to out: "S001: 1234 ops, chain and 56 signatures verified" or what broke.
 */
#ifndef BL_AUDIT_H
#define BL_AUDIT_H

#include <stdio.h>

#include "store.h"

/* Audits origin (NULL: every origin held) in store, reading the pushed
 * signatures and the sites' keys when signed (the hub). *broken counts the
 * origins whose log does not verify. -1 with err on a storage error. */
int audit_run(store_t *store, const char *origin, int signed_, FILE *out,
    int *broken, err_t *err);

#endif
