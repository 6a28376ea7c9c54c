/* audit: each site's log against its chain and signatures (see audit.h). */
#include "audit.h"

#include <sodium.h>
#include <string.h>

#include "chain.h"
#include "log.h"

/* A signed batch end, read ahead of the walk. */
typedef struct {
	uint64_t seq;
	uint8_t chain[CHAIN_BYTES];
	uint8_t sig[CHAIN_SIG_BYTES];
} signed_t;

/* Reads origin's signatures (all of them, by seq) into *out; their
 * number, or -1. */
static long
s_signatures(store_t *st, const char *origin, signed_t **out, err_t *err)
{
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT seq, chain, sig FROM push_sigs WHERE origin = ? "
	    "ORDER BY seq");
	signed_t *v = NULL, *g;
	long n = 0, cap = 0;

	sqlite3_bind_text(s, 1, origin, -1, SQLITE_STATIC);
	while (store_row(st, s)) {
		if (sqlite3_column_bytes(s, 1) != CHAIN_BYTES ||
		    sqlite3_column_bytes(s, 2) != CHAIN_SIG_BYTES)
			continue; /* cannot verify: the walk reports it */
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			if ((g = realloc(v, (size_t)cap * sizeof *g)) == NULL)
				fatal("audit: out of memory");
			v = g;
		}
		v[n].seq = (uint64_t)sqlite3_column_int64(s, 0);
		memcpy(v[n].chain, sqlite3_column_blob(s, 1), CHAIN_BYTES);
		memcpy(v[n].sig, sqlite3_column_blob(s, 2), CHAIN_SIG_BYTES);
		n++;
	}
	sqlite3_reset(s);
	*out = v;
	if (store_read_error(st, err)) {
		free(v);
		*out = NULL;
		return -1;
	}
	return n;
}

/* The site's pinned signing key into pk: 1, or 0 when it has none. */
static int
s_sign_key(store_t *st, const char *origin, uint8_t pk[CHAIN_PK_BYTES])
{
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT sign_key FROM sites WHERE id = ?");
	int found = 0;

	sqlite3_bind_text(s, 1, origin, -1, SQLITE_STATIC);
	if (store_row(st, s) && sqlite3_column_bytes(s, 0) == CHAIN_PK_BYTES) {
		memcpy(pk, sqlite3_column_blob(s, 0), CHAIN_PK_BYTES);
		found = 1;
	}
	sqlite3_reset(s);
	return found;
}

/* Walks origin's ops; writes its one line; 1 when it verifies, 0 when
 * not, -1 with err. */
static int
s_audit_origin(store_t *st, const char *origin, int signed_, FILE *out,
    err_t *err)
{
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT seq, body, chain FROM op_log WHERE origin = ?1 "
	    "UNION ALL SELECT seq, body, chain FROM quarantine "
	    "WHERE origin = ?1 ORDER BY 1");
	uint8_t c[CHAIN_BYTES], pk[CHAIN_PK_BYTES];
	signed_t *sigs = NULL;
	long nsigs = 0, k = 0;
	uint64_t prev = 0, seq = 0;
	int has_key = 0, ok = 1;
	char why[256] = "";

	if (signed_) {
		has_key = s_sign_key(st, origin, pk);
		if ((nsigs = s_signatures(st, origin, &sigs, err)) < 0)
			return -1;
	}
	chain_start(origin, c);
	sqlite3_bind_text(s, 1, origin, -1, SQLITE_STATIC);
	while (ok && store_row(st, s)) {
		seq = (uint64_t)sqlite3_column_int64(s, 0);
		if (seq != prev + 1) {
			snprintf(why, sizeof why,
			    "op %s/%llu: missing (the log goes from %llu to "
			    "%llu)",
			    origin, (unsigned long long)(prev + 1),
			    (unsigned long long)prev, (unsigned long long)seq);
			ok = 0;
			break;
		}
		chain_next(c, sqlite3_column_blob(s, 1),
		    (size_t)sqlite3_column_bytes(s, 1), c);
		if (sqlite3_column_bytes(s, 2) != CHAIN_BYTES ||
		    sodium_memcmp(sqlite3_column_blob(s, 2), c, CHAIN_BYTES) !=
			0) {
			snprintf(why, sizeof why,
			    "op %s/%llu: its bytes do not give the chain kept "
			    "with it (altered, or the chain was)",
			    origin, (unsigned long long)seq);
			ok = 0;
			break;
		}
		while (k < nsigs && sigs[k].seq < seq)
			k++; /* a signature of a seq not held: below */
		if (k < nsigs && sigs[k].seq == seq) {
			if (sodium_memcmp(sigs[k].chain, c, CHAIN_BYTES) != 0 ||
			    !has_key ||
			    !chain_verify(pk, origin, seq, c, sigs[k].sig)) {
				snprintf(why, sizeof why,
				    "ops %s/..%llu: the batch's signature does "
				    "not match the ops held",
				    origin, (unsigned long long)seq);
				ok = 0;
				break;
			}
			k++;
		}
		prev = seq;
	}
	sqlite3_reset(s);
	if (store_read_error(st, err)) {
		free(sigs);
		return -1;
	}
	if (ok && k < nsigs) {
		snprintf(why, sizeof why,
		    "op %s/%llu: signed by the site but not held (removed)",
		    origin, (unsigned long long)sigs[k].seq);
		ok = 0;
	}
	if (ok && has_key && nsigs > 0 && sigs[nsigs - 1].seq < prev) {
		snprintf(why, sizeof why,
		    "op %s/%llu: after the last batch the site signed (%llu): "
		    "not the site's (inserted?)",
		    origin, (unsigned long long)(sigs[nsigs - 1].seq + 1),
		    (unsigned long long)sigs[nsigs - 1].seq);
		ok = 0;
	}
	if (ok)
		fprintf(out,
		    "%s: %llu ops, chain and %ld signatures verified\n", origin,
		    (unsigned long long)prev, nsigs);
	else
		fprintf(out, "%s: BROKEN: %s\n", origin, why);
	free(sigs);
	return ok;
}

int
audit_run(store_t *st, const char *origin, int signed_, FILE *out, int *broken,
    err_t *err)
{
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT origin FROM op_log WHERE ?1 IS NULL OR origin = ?1 "
	    "UNION SELECT origin FROM quarantine WHERE ?1 IS NULL OR "
	    "origin = ?1 ORDER BY 1");
	char **origins = NULL, **g;
	size_t n = 0, i;
	int r, rc = 0;

	*broken = 0;
	if (origin != NULL)
		sqlite3_bind_text(s, 1, origin, -1, SQLITE_STATIC);
	while (store_row(st, s)) {
		if ((g = realloc(origins, (n + 1) * sizeof *g)) == NULL ||
		    (g[n] = strdup((const char *)sqlite3_column_text(s, 0))) ==
			NULL)
			fatal("audit: out of memory");
		origins = g;
		n++;
	}
	sqlite3_reset(s);
	if (store_read_error(st, err))
		rc = -1;
	for (i = 0; rc == 0 && i < n; i++) {
		/* The hub's own ops are its own: chained, not signed. */
		r = s_audit_origin(st, origins[i],
		    signed_ && strcmp(origins[i], store_site(st)) != 0, out,
		    err);
		if (r < 0)
			rc = -1;
		else if (r == 0)
			(*broken)++;
	}
	if (rc == 0 && n == 0 && origin != NULL)
		fprintf(out, "%s: no ops held\n", origin);
	for (i = 0; i < n; i++)
		free(origins[i]);
	free(origins);
	return rc;
}
