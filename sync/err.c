/* err: error record helpers (see err.h). */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "text.h"

int
err_set(err_t *err, err_code_t code, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return -1;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	va_end(ap);
	err->msg[text_fit(err->msg, sizeof err->msg - 1)] = '\0';
	return -1;
}

int
err_prefix(err_t *err, const char *fmt, ...)
{
	char prefix[ERR_MSG_MAX], old[ERR_MSG_MAX];
	va_list ap;

	if (err == NULL)
		return -1;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof prefix, fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof old);
	/* Bounded by design: a long one is cut, between characters. */
	text_printf(err->msg, sizeof err->msg, "%s: %s", prefix, old);
	return -1;
}

void
err_clear(err_t *err)
{
	if (err == NULL)
		return;
	err->code = ERR_OK;
	err->msg[0] = '\0';
}
