/* own: who may write what (see own.h). */
#include "own.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* OWN_HQ_SQL compares the first 2 bytes. */
_Static_assert(sizeof OWN_HQ_PREFIX - 1 == 2, "OWN_HQ_SQL: prefix length");

int
own_is_hq(const char *site)
{
	return strncmp(site, OWN_HQ_PREFIX, strlen(OWN_HQ_PREFIX)) == 0;
}

int
own_in(const char *id, const char *site)
{
	size_t n = strlen(site);

	return n > 0 && strncmp(id, site, n) == 0 && id[n] == '-' &&
	    id[n + 1] != '\0';
}

void
own_owner(const char *id, char *buf, size_t size)
{
	const char *dash = strchr(id, '-');
	size_t n = dash != NULL ? (size_t)(dash - id) : 0;

	buf[0] = '\0';
	if (n == 0 || n > OP_SITE_MAX || n + 1 > size)
		return;
	memcpy(buf, id, n);
	buf[n] = '\0';
	if (!op_site_valid(buf))
		buf[0] = '\0';
}

int
own_create(const op_t *op, const char *what, err_t *err)
{
	if (own_in(op->key, op->origin))
		return 0;
	return err_set(err, ERR_FORBIDDEN,
	    "%s %s: %s creates records only under its own ids (%s-...)", what,
	    op->key, op->origin, op->origin);
}

int
own_here(const op_t *op, const char *what, const char *field, const char *why,
    err_t *err)
{
	const char *site = json_string_value(
	    json_object_get(op->fields, field));

	if (site != NULL && strcmp(site, op->origin) == 0)
		return 0;
	return err_set(err, ERR_FORBIDDEN,
	    "%s %s: recorded at %s but written by %s (%s)", what, op->key,
	    site != NULL ? site : "no site", op->origin, why);
}

/* The fulfilling site of order into buf: 1 when the order is held, 0 when
 * not, -1 with err when the read failed. */
static int
s_fulfil_site(store_t *st, const char *order, char *buf, size_t size,
    err_t *err)
{
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT fulfil_site FROM orders WHERE id = ?");
	int held = 0;

	sqlite3_bind_text(s, 1, order, -1, SQLITE_STATIC);
	if (store_row(st, s)) {
		snprintf(buf, size, "%s", sqlite3_column_text(s, 0));
		held = 1;
	}
	sqlite3_reset(s);
	return store_read_error(st, err) ? -1 : held;
}

int
own_order_party(store_t *st, const op_t *op, const char *order, unsigned who,
    const char *act, err_t *err)
{
	char owner[OP_SITE_MAX + 1], fulfil[OP_SITE_MAX + 1] = "";
	char part[3][48], list[160];
	size_t n = 0, np = 0, i;
	int held = 0;

	own_owner(order, owner, sizeof owner);
	if ((who & OWN_CREATOR) && strcmp(owner, op->origin) == 0)
		return 0;
	if ((who & OWN_HQ) && own_is_hq(op->origin))
		return 0;
	if (who & OWN_FULFILLER) {
		held = s_fulfil_site(st, order, fulfil, sizeof fulfil, err);
		if (held < 0)
			return -1;
		if (held && strcmp(fulfil, op->origin) == 0)
			return 0;
		if (!held)
			return err_set(err, ERR_NOT_FOUND,
			    "order %s: " OWN_WAITING
			    ", to tell whether %s fulfils it",
			    order, op->origin);
	}
	/* Who may, as a list: "its creating site S001, its fulfilling site
	 * S002 or head office". */
	if (who & OWN_CREATOR)
		snprintf(part[np++], sizeof part[0], "its creating site %s",
		    owner[0] != '\0' ? owner : "(none)");
	if (who & OWN_FULFILLER)
		snprintf(part[np++], sizeof part[0], "its fulfilling site %s",
		    fulfil[0] != '\0' ? fulfil : "(none yet)");
	if (who & OWN_HQ)
		snprintf(part[np++], sizeof part[0], "head office");
	list[0] = '\0';
	for (i = 0; i < np; i++)
		n += (size_t)snprintf(list + n, sizeof list - n, "%s%s",
		    i == 0	      ? ""
			: i + 1 == np ? " or "
				      : ", ",
		    part[i]);
	return err_set(err, ERR_FORBIDDEN,
	    "order %s: %s may not %s: only %s may", order, op->origin, act,
	    list);
}

int
own_waiting(const err_t *err)
{
	return err->code == ERR_NOT_FOUND && strstr(err->msg, OWN_WAITING);
}

int
own_scope(store_t *st, const char *id, size_t max, char *buf, const char **out,
    err_t *err)
{
	const char *site = store_site(st);
	size_t n;

	*out = NULL;
	if (id == NULL)
		return 0;
	if (max > OP_KEY_MAX)
		max = OP_KEY_MAX;
	if (own_in(id, site)) {
		n = strlen(id);
		if (n > max)
			return err_set(err, ERR_BAD_REQUEST,
			    "id: %s is %zu bytes, at most %zu", id, n, max);
		snprintf(buf, OP_KEY_MAX + 1, "%s", id);
	} else {
		n = strlen(site) + 1 + strlen(id);
		if (n > max)
			return err_set(err, ERR_BAD_REQUEST,
			    "id: %s-%s is %zu bytes, at most %zu with the "
			    "site's prefix",
			    site, id, n, max);
		/* n fits, checked above. */
		memcpy(buf, site, strlen(site));
		buf[strlen(site)] = '-';
		memcpy(buf + strlen(site) + 1, id, strlen(id) + 1);
	}
	*out = buf;
	return 0;
}

/* A quarantined op that waited for an order. */
typedef struct {
	char origin[OP_SITE_MAX + 1];
	uint64_t seq;
} s_waiting_t;

/* In SQL: the order a quarantine row's reason waits for. The reason is
 * "apply op O/S: order ID: " OWN_WAITING "...", as store.c prefixes what
 * own_order_party says. */
#define WAITING_ORDER_SQL                                         \
	"substr(q.reason, instr(q.reason, ': order ') + 8, "      \
	"instr(q.reason, ': " OWN_WAITING "') - instr(q.reason, " \
	"': order ') - 8)"

/* The same for a transfer's receipt waiting for the transfer's create
 * (transfer.h): "apply op O/S: transfer ID: " OWN_WAITING "...". */
#define WAITING_TRANSFER_SQL                                      \
	"substr(q.reason, instr(q.reason, ': transfer ') + 11, "  \
	"instr(q.reason, ': " OWN_WAITING "') - instr(q.reason, " \
	"': transfer ') - 11)"

/* The same for an order's create waiting for a quota its rights name
 * (quota.h): "apply op O/S: order ID: rights[N]: quota Q: " OWN_WAITING
 * "...". */
#define WAITING_QUOTA_SQL                                         \
	"substr(q.reason, instr(q.reason, ': quota ') + 8, "      \
	"instr(q.reason, ': " OWN_WAITING "') - instr(q.reason, " \
	"': quota ') - 8)"

/* The same for an op waiting for head office's approval of its order
 * (approval.h): "apply op O/S: order ID: " OWN_APPROVAL ": ...". */
#define APPROVAL_ORDER_SQL                                           \
	"substr(q.reason, instr(q.reason, ': order ') + 8, "         \
	"instr(q.reason, ': " OWN_APPROVAL ": ') - instr(q.reason, " \
	"': order ') - 8)"

/* Adds the quarantined ops s selects (origin, seq; its ?1 the limit) to
 * v, which holds *n of at most STORE_RETRY_MAX. */
static void
s_collect(store_t *st, sqlite3_stmt *s, s_waiting_t *v, size_t *n)
{
	sqlite3_bind_int(s, 1, STORE_RETRY_MAX);
	while (*n < STORE_RETRY_MAX && store_row(st, s)) {
		snprintf(v[*n].origin, sizeof v[*n].origin, "%s",
		    sqlite3_column_text(s, 0));
		v[(*n)++].seq = (uint64_t)sqlite3_column_int64(s, 1);
	}
	sqlite3_reset(s);
}

/* The quarantined ops whose wait is over into v, *n of them (at most
 * STORE_RETRY_MAX). */
static void
s_arrived(store_t *st, s_waiting_t *v, size_t *n)
{
	*n = 0;
	s_collect(st,
	    store_stmt(st,
		"SELECT q.origin, q.seq FROM quarantine q "
		"WHERE instr(reason, ': " OWN_WAITING "') > 0 AND (EXISTS "
		"(SELECT 1 FROM orders o WHERE o.id = " WAITING_ORDER_SQL ") "
		"OR EXISTS (SELECT 1 FROM transfers t "
		"WHERE t.id = " WAITING_TRANSFER_SQL ") "
		"OR EXISTS (SELECT 1 FROM quotas g "
		"WHERE g.id = " WAITING_QUOTA_SQL ")) "
		"ORDER BY q.origin, q.seq LIMIT ?"),
	    v, n);
	/* Those waiting for head office's approval, once it is held. */
	s_collect(st,
	    store_stmt(st,
		"SELECT q.origin, q.seq FROM quarantine q "
		"WHERE instr(reason, ': " OWN_APPROVAL ": ') > 0 AND EXISTS "
		"(SELECT 1 FROM order_history h WHERE h.order_id = " APPROVAL_ORDER_SQL
		" AND h.status = 'confirmed' AND " OWN_HQ_SQL(
		    "h.origin") ") ORDER BY q.origin, q.seq LIMIT ?"),
	    v, n);
}

int
own_retry_arrived(store_t *st, store_from_fn from_of, void *arg, int *applied,
    int *kept, err_t *err)
{
	s_waiting_t *v;
	size_t n, i, done = 0;
	int a, k, got, rc = 0;

	/* By the partial indexes (schema 0024, 0027): nothing waiting
	 * costs two lookups, whatever else the quarantine holds. */
	if (store_query_int(st,
		store_stmt(st,
		    "SELECT EXISTS (SELECT 1 FROM quarantine WHERE "
		    "instr(reason, ': " OWN_WAITING "') > 0) OR EXISTS "
		    "(SELECT 1 FROM quarantine WHERE "
		    "instr(reason, ': " OWN_APPROVAL ": ') > 0)"),
		0) == 0)
		return store_read_error(st, err);
	if ((v = calloc(STORE_RETRY_MAX, sizeof *v)) == NULL)
		return err_set(err, ERR_INTERNAL, "retry: out of memory");
	/* Read first, then retry: a retry writes the quarantine. Again
	 * while a round applied something others may have waited for (an
	 * order's op for the order, whose create waited for a quota), up to
	 * STORE_RETRY_MAX ops in all. */
	do {
		s_arrived(st, v, &n);
		if (store_read_error(st, err)) {
			rc = -1;
			break;
		}
		for (got = 0, i = 0; i < n && done < STORE_RETRY_MAX; i++) {
			if ((rc = store_quarantine_retry(st, v[i].origin,
				 v[i].seq, 0, from_of, arg, &a, &k, err)) != 0)
				break;
			done++;
			got += a;
			*applied += a;
			*kept += k;
		}
	} while (rc == 0 && got > 0 && done < STORE_RETRY_MAX);
	free(v);
	return rc;
}
