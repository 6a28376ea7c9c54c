/*
 * pg: libpq helpers shared by the hub's PostgreSQL modules (see pg.h).
 */
#include "pg.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "text.h"

#define PG_CONNECT_TIMEOUT "10" /* seconds */

/* Copies the first line of msg into buf, without libpq's "ERROR:  " or
 * "FATAL:  " prefix; "unknown error" for an empty one. */
static void
s_first_line(char *buf, size_t size, const char *msg)
{
	static const char *const prefixes[] = { "ERROR:  ", "FATAL:  ",
		"PANIC:  " };
	size_t i, n;

	if (msg == NULL)
		msg = "";
	for (i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
		if (strncmp(msg, prefixes[i], strlen(prefixes[i])) == 0)
			msg += strlen(prefixes[i]);
	n = strcspn(msg, "\r\n");
	if (n == 0) {
		msg = "unknown error";
		n = strlen(msg);
	}
	text_printf(buf, size, "%.*s", (int)n, msg);
}

/* Drops the server's notices ("relation op_log already exists,
 * skipping"): libpq would print them on stderr. */
static void
s_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

void
pg_redact(char *buf, size_t size, const char *uri)
{
	const char *scheme = strstr(uri, "://");
	const char *at, *colon;
	size_t auth;

	text_printf(buf, size, "%s", uri);
	if (scheme == NULL)
		return;
	scheme += 3;
	auth = strcspn(scheme, "/?");
	at = memchr(scheme, '@', auth);
	if (at == NULL)
		return;
	colon = memchr(scheme, ':', (size_t)(at - scheme));
	if (colon == NULL)
		return;
	text_printf(buf, size, "%.*s%s", (int)(colon - uri), uri, at);
}

PGconn *
pg_connect(const char *uri, err_t *err)
{
	/* Keywords first, so that the same ones in uri win. */
	const char *const keys[] = { "connect_timeout", "keepalives",
		"keepalives_idle", "keepalives_interval", "keepalives_count",
		"fallback_application_name", "dbname", NULL };
	const char *const values[] = { PG_CONNECT_TIMEOUT, "1", "10", "5", "3",
		"bl-hub", uri, NULL };
	char shown[ERR_MSG_MAX], cause[ERR_MSG_MAX];
	PGconn *conn;

	assert(uri != NULL);
	pg_redact(shown, sizeof shown, uri);
	if ((conn = PQconnectdbParams(keys, values, 1)) == NULL) {
		err_set(err, ERR_INTERNAL, "open %s: out of memory", shown);
		return NULL;
	}
	if (PQstatus(conn) != CONNECTION_OK) {
		s_first_line(cause, sizeof cause, PQerrorMessage(conn));
		err_set(err, ERR_UNAVAILABLE, "open %s: %s", shown, cause);
		PQfinish(conn);
		return NULL;
	}
	PQsetNoticeProcessor(conn, s_notice, NULL);
	return conn;
}

int
pg_fail(PGconn *conn, const PGresult *res, err_t *err, const char *what, ...)
{
	char prefix[ERR_MSG_MAX], cause[ERR_MSG_MAX];
	const char *msg = NULL;
	va_list ap;
	int lost = PQstatus(conn) == CONNECTION_BAD;

	va_start(ap, what);
	vsnprintf(prefix, sizeof prefix, what, ap);
	va_end(ap);
	if (res != NULL)
		msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	if ((msg == NULL || msg[0] == '\0') && res != NULL)
		msg = PQresultErrorMessage(res);
	if (msg == NULL || msg[0] == '\0')
		msg = PQerrorMessage(conn);
	s_first_line(cause, sizeof cause, msg);
	return err_set(err, lost ? ERR_UNAVAILABLE : ERR_INTERNAL, "%s: %s%s",
	    prefix, lost ? "connection lost: " : "", cause);
}

void
pg_rollback(PGconn *conn)
{
	PGTransactionStatusType ts = PQtransactionStatus(conn);

	if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR)
		PQclear(PQexec(conn, "ROLLBACK"));
}
