/*
 * alert: what needs a person's attention, derived from the replica.
 *
 * Alerts are computed from the merged state when asked for, never stored:
 * every replica that has seen the same ops shows the same alerts, and an
 * alert goes away by itself when the state that raised it is fixed (a
 * count that corrects an oversell, a payment that settles a receivable).
 *
 * Kinds: negative_stock (oversold after a merge), low_stock (available
 * below the safety stock head office set), conflicting_transition (an order
 * both cancelled and shipped), over_refund (refunds above payments),
 * overpaid (payments above the order's total, taken at two sites or
 * twice: "order O-1 paid 6000 on a total of 3000: refund 3000"),
 * over_return (returns against an order above what it sold of a sku,
 * which count only up to it, effect.h: "order O-1: 4 TEA returned, 2
 * sold: 2 not put back in stock, check the returns"),
 * credit_limit (a customer owing more than the limit on account),
 * overdue_receivable, quarantined (an op refused, with its reason),
 * op_conflict (a different op under an (origin, seq) already held: a
 * restored or copied data folder, or a forgery; store.h),
 * quota_overspent (an order of a warehouse's stock by a holder of quotas
 * on it that no counted right covers, not promised: quota.h),
 * transfer_discrepancy (a transfer received short or over, until head
 * office reconciles it: transfer.h), and disk, about this replica's own
 * machine rather than its ops (subject checkpoint, wal_over_bound or
 * disk_low; see ckpt.h).
 */
#ifndef BL_ALERT_H
#define BL_ALERT_H

#include <jansson.h>
#include <stdint.h>

#include "store.h"

/* GET /v1/alerts?kind=: {"items": [{id, kind, site, subject, message,
 * at}...]} at the store's wall clock, grouped by kind in alphabetical
 * order, each kind in its own stable order (the same at every replica);
 * only those of kind when it is given (rec_list_fn). */
int alert_list(store_t *store, const json_t *query, json_t **out, err_t *err);

#endif
