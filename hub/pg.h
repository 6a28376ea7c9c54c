/*
 * pg: what the hub's PostgreSQL modules (pglog, cluster) share about
 * libpq: one way to connect, one way to turn a failure into an err_t, one
 * way to end a failed transaction. Each module still owns its connection.
 */
#ifndef BL_HUB_PG_H
#define BL_HUB_PG_H

#include <libpq-fe.h>
#include <stddef.h>

#include "err.h"

/* Connects to uri (borrowed; a libpq URI or key=value string) with a
 * 10 s connect timeout and TCP keepalives (a server gone away is noticed
 * within half a minute), limits the server enforces on the session (5 s
 * for a lock, 30 s for a statement, 15 s idle inside a transaction, after
 * which the server ends the session and frees its locks), the server's
 * notices dropped. Returns the
 * connection, which the caller PQfinishes, or NULL with err:
 * ERR_UNAVAILABLE when the server cannot be reached or refuses us ("open
 * postgresql://u@db/x: connection to server at ... failed: Connection
 * refused"; a password in the URI is never repeated), ERR_INTERNAL when
 * out of memory. */
PGconn *pg_connect(const char *uri, err_t *err);

/* Copies uri into buf (size bytes) without the password of a URI's
 * user:password@. */
void pg_redact(char *buf, size_t size, const char *uri);

/* Fills err for a failed call on conn: what (printf-formatted), then
 * PostgreSQL's primary message, from res or, when res is NULL or carries
 * none, the connection's, its first line without "ERROR:  ".
 * ERR_UNAVAILABLE ("...: connection lost: ...") when the connection is
 * gone, or a wait for a lock or a statement ran out of time; else
 * ERR_INTERNAL. Returns -1. */
int pg_fail(PGconn *conn, const PGresult *res, err_t *err, const char *what,
    ...) __attribute__((format(printf, 4, 5)));

/* Ends a failed transaction on conn, if one is open; its own failure adds
 * nothing to the error already reported. */
void pg_rollback(PGconn *conn);

#endif
