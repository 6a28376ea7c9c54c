/*
 * cmdline: what the hub's commands for people share (users, reports):
 * opening the hub's store of a data folder, and times and money written
 * for people.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "apply.h"
#include "hub.h"

store_t *
hub_open(const char *dir, err_t *err)
{
	char path[4096];
	store_t *st;

	snprintf(path, sizeof path, "%s/%s", dir, HUB_DB);
	if (access(path, F_OK) != 0) {
		err_set(err, ERR_NOT_FOUND, "%s: no hub here (run bl-hub init)",
		    dir);
		return NULL;
	}
	/* Who may receive what it writes (visibility.c). */
	if ((st = store_open(path, STORE_HUB, 0, &apply_rules, err)) != NULL)
		visibility_attach(st);
	return st;
}

void
hub_format_ms(uint64_t ms, char *buf, size_t size)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (ms == 0 || gmtime_r(&t, &tm) == NULL)
		snprintf(buf, size, "-");
	else
		strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm);
}

/* Digits after the point of an ISO 4217 currency's major unit. */
static int
s_exponent(const char *currency)
{
	static const char *const zero[] = { "BIF", "CLP", "DJF", "GNF", "ISK",
		"JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV",
		"XAF", "XOF", "XPF" };
	static const char *const three[] = { "BHD", "IQD", "JOD", "KWD", "LYD",
		"OMR", "TND" };
	size_t i;

	for (i = 0; i < sizeof zero / sizeof zero[0]; i++)
		if (strcmp(currency, zero[i]) == 0)
			return 0;
	for (i = 0; i < sizeof three / sizeof three[0]; i++)
		if (strcmp(currency, three[i]) == 0)
			return 3;
	if (strcmp(currency, "CLF") == 0 || strcmp(currency, "UYW") == 0)
		return 4;
	return 2;
}

void
hub_format_money(int64_t minor, const char *currency, char *buf, size_t size)
{
	char digits[32];
	int e = s_exponent(currency != NULL ? currency : "");
	uint64_t u = minor < 0 ? (uint64_t)0 - (uint64_t)minor
			       : (uint64_t)minor;
	size_t n;

	snprintf(digits, sizeof digits, "%0*llu", e + 1, (unsigned long long)u);
	n = strlen(digits);
	if (e == 0)
		snprintf(buf, size, "%s%s", minor < 0 ? "-" : "", digits);
	else
		snprintf(buf, size, "%s%.*s.%s", minor < 0 ? "-" : "",
		    (int)(n - (size_t)e), digits, digits + n - (size_t)e);
}
