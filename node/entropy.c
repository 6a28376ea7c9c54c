/*
 * entropy: anti-entropy of this node's own ops with the hub's (proto.h,
 * DIGEST and FETCH).
 *
 * Once a session has caught up, and then every ENTROPY_EVERY_MS, the node
 * compares what it holds of its own ops with what the hub holds, over
 * [1, the seq the hub confirmed]: a range digest on each side is a count
 * and the chain at the range's end, so ranges that agree cost a lookup.
 * Where they differ the range is split in halves, down to one seq: an op
 * the hub lacks (lost with a disk, or deleted) is pushed again, one the
 * node lacks is fetched back. Two different ops under one seq cannot be
 * repaired here: that is logged and counted as a divergence (the hub
 * keeps such an op as a conflict when it is pushed). Ranges are taken in
 * seq order, so the first divergence is found first; as a chain covers
 * every op before it, ranges past a divergence are compared by count
 * only, and each divergence is reported once a check. One request is in
 * flight at a time; pending ranges wait on a small stack, deepest first,
 * so a check of n ops needs about log2(n) round trips per hole.
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "node.h"
#include "proto.h"

#define ENTROPY_STACK 128 /* ranges waiting: 2 per level of 64 */

struct entropy {
	char site[OP_SITE_MAX + 1];
	struct {
		uint64_t lo, hi;
	} stack[ENTROPY_STACK];
	int n;
	int inflight;	      /* a DIGEST or FETCH unanswered */
	uint64_t pushed;      /* ops given to the hub again */
	uint64_t fetched;     /* ops got back */
	uint64_t diverged;    /* ops that differ, in the last check */
	uint64_t diverged_at; /* the first of them this check, 0: none */
};

entropy_t *
entropy_new(const char *site)
{
	entropy_t *e = calloc(1, sizeof *e);

	if (e == NULL)
		fatal("entropy: out of memory");
	snprintf(e->site, sizeof e->site, "%s", site);
	return e;
}

void
entropy_destroy(entropy_t **self_p)
{
	free(*self_p);
	*self_p = NULL;
}

static void
s_want(entropy_t *e, uint64_t lo, uint64_t hi)
{
	if (lo > hi || e->n == ENTROPY_STACK)
		return;
	e->stack[e->n].lo = lo;
	e->stack[e->n].hi = hi;
	e->n++;
}

void
entropy_start(entropy_t *e, uint64_t acked)
{
	e->n = 0;
	e->inflight = 0;
	e->diverged = 0;
	e->diverged_at = 0;
	s_want(e, 1, acked);
}

void
entropy_reset(entropy_t *e)
{
	e->inflight = 0;
}

int
entropy_waiting(const entropy_t *e)
{
	return e->inflight;
}

int
entropy_busy(const entropy_t *e)
{
	return e->inflight || e->n > 0;
}

int
entropy_next(entropy_t *e, store_t *st, cbw_t *w, err_t *err)
{
	char chain[PROTO_CHAIN_HEX + 1];
	uint64_t count;

	if (e->inflight || e->n == 0)
		return 0;
	e->n--;
	if (store_digest(st, e->site, e->stack[e->n].lo, e->stack[e->n].hi,
		&count, chain, err))
		return -1;
	proto_digest(w, e->site, e->stack[e->n].lo, e->stack[e->n].hi, count,
	    chain);
	e->inflight = 1;
	return 1;
}

int
entropy_on_digest(entropy_t *e, store_t *st, const proto_msg_t *m,
    entropy_step_t *step, err_t *err)
{
	char chain[PROTO_CHAIN_HEX + 1];
	uint64_t count, mid;

	e->inflight = 0;
	step->kind = ENTROPY_NONE;
	step->seq = m->lo;
	if (strcmp(m->site, e->site) != 0)
		return 0;
	if (store_digest(st, e->site, m->lo, m->hi, &count, chain, err))
		return -1;
	/* Past a divergence every chain differs: counts tell holes. */
	if (count == m->count &&
	    ((e->diverged_at != 0 && m->lo > e->diverged_at) ||
		strcmp(chain, m->chain) == 0))
		return 0; /* this range agrees */
	if (m->lo < m->hi) {
		mid = m->lo + (m->hi - m->lo) / 2;
		s_want(e, mid + 1, m->hi);
		s_want(e, m->lo, mid);
		return 0;
	}
	if (count == 1 && m->count == 0) {
		log_warn("anti-entropy: the hub lacks our op %s/%llu: "
			 "pushing it again",
		    e->site, (unsigned long long)m->lo);
		step->kind = ENTROPY_PUSH;
		e->pushed++;
	} else if (count == 0 && m->count == 1) {
		log_warn("anti-entropy: we lack our op %s/%llu, which the hub "
			 "holds: fetching it",
		    e->site, (unsigned long long)m->lo);
		step->kind = ENTROPY_FETCH;
		e->inflight = 1;
		e->fetched++;
	} else {
		log_warn("anti-entropy: op %s/%llu differs between the hub and "
			 "us: not repaired here",
		    e->site, (unsigned long long)m->lo);
		e->diverged++;
		if (e->diverged_at == 0)
			e->diverged_at = m->lo;
	}
	return 0;
}

void
entropy_on_fetched(entropy_t *e)
{
	e->inflight = 0;
}

void
entropy_status(const entropy_t *e, json_t *status)
{
	json_object_set_new(status, "entropy",
	    json_pack("{s:I, s:I, s:I, s:b}", "pushed_again",
		(json_int_t)e->pushed, "fetched", (json_int_t)e->fetched,
		"diverged", (json_int_t)e->diverged, "checking",
		entropy_busy(e)));
}
