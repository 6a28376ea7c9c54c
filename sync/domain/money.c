/* money: order limits and exact sums (see money.h). */
#include "money.h"

#include <assert.h>

#include "req.h"

const char *
money_text(money_sum_t v, char *buf, size_t size)
{
	char digits[MONEY_TEXT_MAX];
	size_t n = 0;
	/* Negated digit by digit: -v would overflow for the smallest v. */
	int neg = v < 0;

	assert(size >= MONEY_TEXT_MAX);
	do {
		int d = (int)(v % 10);

		digits[n++] = (char)('0' + (neg ? -d : d));
		v /= 10;
	} while (v != 0);
	if (neg)
		digits[n++] = '-';
	for (size_t i = 0; i < n; i++)
		buf[i] = digits[n - 1 - i];
	buf[n] = '\0';
	return buf;
}

int
money_fit(money_sum_t v, const char *what, int64_t *out, err_t *err)
{
	char text[MONEY_TEXT_MAX];

	if (v > INT64_MAX)
		return err_set(err, ERR_UNPROCESSABLE,
		    "%s: %s exceeds the largest representable amount %lld",
		    what, money_text(v, text, sizeof text),
		    (long long)INT64_MAX);
	if (v < INT64_MIN)
		return err_set(err, ERR_UNPROCESSABLE,
		    "%s: %s is below the smallest representable amount %lld",
		    what, money_text(v, text, sizeof text),
		    (long long)INT64_MIN);
	*out = (int64_t)v;
	return 0;
}

int
money_json_set(json_t *obj, const char *name, money_sum_t v, err_t *err)
{
	int64_t n;

	if (money_fit(v, name, &n, err))
		return -1;
	json_object_set_new(obj, name, json_integer(n));
	return 0;
}

int
money_req_int(const json_t *obj, const char *name, int64_t min, int64_t limit,
    const char *what, int required, int64_t dflt, int64_t *out, err_t *err)
{
	json_t *v = json_object_get(obj, name);

	if (json_is_integer(v) && json_integer_value(v) > limit) {
		*out = dflt;
		return err_set(err, ERR_UNPROCESSABLE,
		    "%s: %lld exceeds the limit of %lld per %s", name,
		    (long long)json_integer_value(v), (long long)limit, what);
	}
	return req_int(obj, name, min, limit, required, dflt, out, err);
}
