/* operator: audit and quarantine commands (see operator.h). */
#include "operator.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "prog.h"

int
operator_audit(const args_t *a, operator_open_fn open, int signed_)
{
	int broken = 0, rc;
	store_t *st;
	err_t err;

	if ((st = open(args_get(a, "data", "."), &err)) == NULL)
		return prog_fail(1, &err);
	/* A node keeps the chain of its own ops only (store.h): the other
	 * sites' it holds are theirs to prove, at the hub. */
	rc = audit_run(st, signed_ ? args_get(a, "site", NULL) : store_site(st),
	    signed_, stdout, &broken, &err);
	store_close(&st);
	if (rc)
		return prog_fail(1, &err);
	return broken > 0 ? 1 : 0;
}

/* Prints the quarantined ops of origin (NULL: all). */
static int
s_list(store_t *st, const char *origin)
{
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT origin, seq, at, reason FROM quarantine "
	    "WHERE ?1 IS NULL OR origin = ?1 ORDER BY origin, seq");
	char stamp[32];
	time_t t;
	int n = 0;
	err_t err;

	if (origin != NULL)
		sqlite3_bind_text(s, 1, origin, -1, SQLITE_STATIC);
	while (store_row(st, s)) {
		t = (time_t)(sqlite3_column_int64(s, 2) / 1000);
		strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S UTC",
		    gmtime(&t));
		printf("%s/%lld %s: %s\n", sqlite3_column_text(s, 0),
		    (long long)sqlite3_column_int64(s, 1), stamp,
		    sqlite3_column_text(s, 3));
		n++;
	}
	sqlite3_reset(s);
	if (store_read_error(st, &err))
		return prog_fail(1, &err);
	printf("%d quarantined\n", n);
	return 0;
}

int
operator_quarantine_list(const args_t *a, operator_open_fn open)
{
	store_t *st;
	err_t err;
	int rc;

	if ((st = open(args_get(a, "data", "."), &err)) == NULL)
		return prog_fail(1, &err);
	rc = s_list(st, args_get(a, "origin", NULL));
	store_close(&st);
	return rc;
}

int
operator_quarantine_retry(const args_t *a, operator_open_fn open,
    store_from_fn from_of, void *arg)
{
	store_t *st = NULL;
	const char *seq_text = args_get(a, "seq", NULL);
	char *end = NULL;
	uint64_t seq = 0;
	int applied, kept, rc;
	err_t err;

	if (seq_text != NULL) {
		seq = strtoull(seq_text, &end, 10);
		if (*end != '\0' || seq == 0) {
			err_set(&err, ERR_BAD_REQUEST,
			    "--seq: '%s' is not a seq", seq_text);
			return prog_fail(PROG_EXIT_USAGE, &err);
		}
	}
	if ((st = open(args_get(a, "data", "."), &err)) == NULL)
		return prog_fail(1, &err);
	rc = store_quarantine_retry(st, args_get(a, "origin", NULL), seq, 0,
	    from_of, arg, &applied, &kept, &err);
	store_close(&st);
	if (rc)
		return prog_fail(1, &err);
	printf("retried %d: %d applied, %d still quarantined\n", applied + kept,
	    applied, kept);
	return 0;
}
