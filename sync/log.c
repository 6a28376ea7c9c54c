/* log: stderr diagnostics (see log.h). */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static const char *s_progname = "bl";
static int s_debug = -1;
static int s_quiet;

void
log_set_quiet(int quiet)
{
	s_quiet = quiet;
}

void
log_init(const char *progname)
{
	s_progname = progname;
	s_debug = getenv("BL_DEBUG") != NULL;
}

const char *
log_progname(void)
{
	return s_progname;
}

static void
s_vlog(const char *level, const char *fmt, va_list ap)
{
	char stamp[32];
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
	/* One line at a time: the checkpointer logs from its own thread. */
	flockfile(stderr);
	fprintf(stderr, "%s %s: %s", stamp, s_progname, level);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	funlockfile(stderr);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	if (s_quiet)
		return;
	va_start(ap, fmt);
	s_vlog("", fmt, ap);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;

	if (s_quiet)
		return;
	va_start(ap, fmt);
	s_vlog("warning: ", fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (s_debug < 0)
		s_debug = getenv("BL_DEBUG") != NULL;
	if (!s_debug)
		return;
	va_start(ap, fmt);
	s_vlog("debug: ", fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	s_vlog("fatal: ", fmt, ap);
	va_end(ap);
	exit(1);
}
