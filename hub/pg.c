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
/* What the server allows each statement, each wait for a lock, and a
 * transaction left idle (ms). */
#define PG_SERVER_LIMITS                                   \
	"-c lock_timeout=5000 -c statement_timeout=30000 " \
	"-c idle_in_transaction_session_timeout=15000"
/* SQLSTATEs of a wait that ran out (lock_not_available, query_canceled):
 * the server is there but busy, as unavailable as when it is not. */
#define PG_LOCK_TIMEOUT "55P03"
#define PG_CANCELED "57014"

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
	/* Keywords first, so that the same ones in uri win. A hub waits
	 * on PostgreSQL in its event loop: no wait is without a limit
	 * (PG_SERVER_LIMITS), and a hub stalled while it holds the append
	 * lock loses its session, and the lock, instead of freezing every
	 * other hub. */
	const char *const keys[] = { "connect_timeout", "keepalives",
		"keepalives_idle", "keepalives_interval", "keepalives_count",
		"fallback_application_name", "options", "dbname", NULL };
	const char *const values[] = { PG_CONNECT_TIMEOUT, "1", "10", "5", "3",
		"bl-hub", PG_SERVER_LIMITS, uri, NULL };
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
	const char *msg = NULL, *state;
	va_list ap;
	int lost = PQstatus(conn) == CONNECTION_BAD, busy;

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
	state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	busy = state != NULL &&
	    (strcmp(state, PG_LOCK_TIMEOUT) == 0 ||
		strcmp(state, PG_CANCELED) == 0);
	return err_set(err, lost || busy ? ERR_UNAVAILABLE : ERR_INTERNAL,
	    "%s: %s%s", prefix, lost ? "connection lost: " : "", cause);
}

void
pg_rollback(PGconn *conn)
{
	PGTransactionStatusType ts = PQtransactionStatus(conn);

	if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR)
		PQclear(PQexec(conn, "ROLLBACK"));
}
