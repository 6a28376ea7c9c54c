/*
 * money: the limits on what an order carries, and sums that cannot
 * overflow.
 *
 * Money is an int64 count of minor units, a quantity an int64 count. Two
 * kinds of arithmetic touch them:
 *
 *   one record   an order line's amount (qty x unit_price) and an order's
 *                total (the sum of its lines). These are bounded by the
 *                limits below, both where an order is written (refused
 *                with 422 naming the field and the limit) and where another
 *                site's op is applied (quarantined with the same message),
 *                so no stored line or total can overflow: a line is at most
 *                MONEY_QTY_MAX * MONEY_PRICE_MAX = 10^18 < 2^63.
 *
 *   many records an order's paid amount (any number of payments), a
 *                customer's exposure, a report's group, a receivables
 *                bucket. No limit on one record bounds these, so they are
 *                accumulated in a money_sum_t (128 bits: exact for 2^64
 *                int64 terms) and only narrowed to int64 where they are
 *                shown, by money_fit, which refuses a sum that does not fit
 *                with a clear error naming it. Never wrapped, never dropped.
 *
 * The limits are constants, the same at every replica: a merge rule must
 * refuse the same ops everywhere (store.h), so they are not per-site
 * settings. Changing one changes which ops every replica accepts.
 */
#ifndef BL_MONEY_H
#define BL_MONEY_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#ifndef __SIZEOF_INT128__
#error "money_sum_t needs a compiler with __int128 (GCC, Clang on 64 bits)"
#endif

/* Lines of one order. */
#define MONEY_LINES_MAX 200
/* qty of one order line (at least 1). */
#define MONEY_QTY_MAX INT64_C(1000000)
/* unit_price of one order line, in minor units: 10^12. */
#define MONEY_PRICE_MAX INT64_C(1000000000000)
/* An order's total, and so an invoice's amount, in minor units: 10^15. */
#define MONEY_TOTAL_MAX INT64_C(1000000000000000)
/* |amount| of one payment or refund, in minor units (2^50): where it is
 * written a payment is also at most the order's balance. */
#define MONEY_PAYMENT_MAX (INT64_C(1) << 50)

/* An exact sum of int64 values. Add with +=; narrow with money_fit. */
typedef __int128 money_sum_t;

/* Room for any money_sum_t as decimal text, sign and NUL included. */
#define MONEY_TEXT_MAX 41

/* Writes v in decimal into buf (size bytes, at least MONEY_TEXT_MAX) and
 * returns buf. */
const char *money_text(money_sum_t v, char *buf, size_t size);

/* Narrows v to *out: 0, or -1 with ERR_UNPROCESSABLE "what: V exceeds the
 * largest representable amount 9223372036854775807" (or "is below the
 * smallest ... -9223372036854775808") when it does not fit in int64. */
int money_fit(money_sum_t v, const char *what, int64_t *out, err_t *err);

/* Sets obj's member name to v as a JSON integer: 0, or -1 as money_fit
 * (what being name) with obj unchanged. */
int money_json_set(json_t *obj, const char *name, money_sum_t v, err_t *err);

/* Reads obj's integer member name as req_int does with min and max =
 * limit (400 "name: missing", "name: must be an integer from MIN to
 * LIMIT"), except that a well-formed integer above limit is against a
 * business limit, not malformed: ERR_UNPROCESSABLE "name: V exceeds the
 * limit of LIMIT per what". */
int money_req_int(const json_t *obj, const char *name, int64_t min,
    int64_t limit, const char *what, int required, int64_t dflt, int64_t *out,
    err_t *err);

#endif
