/*
 * retain: how long a node keeps other sites' ops.
 *
 * The state those ops produced stays, and so does each op's identity (the
 * duplicate check, a few bytes in op_seen); the op goes once it is older
 * than the window (config retain_days, default RETAIN_DEFAULT_DAYS; 0 keeps
 * everything).
 * Own ops are kept for good (store_retain says why), and head office keeps
 * everything for audit: the hub never runs this.
 *
 * The daemon runs a pass a minute after it starts and every hour, one short
 * transaction per event-loop turn so its tills never wait behind a pass;
 * `bl-node prune` runs one at once.
 */
#include <stdlib.h>

#include "log.h"
#include "node.h"

#define RETAIN_EVERY_S 3600
#define RETAIN_FIRST_S 60

struct retain {
	store_t *store;
	struct event *timer;
	int days;
	int running; /* a pass is under way */
	uint64_t after_lsn, before_hlc, started_ms;
	int64_t dropped;
};

static uint64_t
s_cutoff(store_t *st, int days)
{
	uint64_t now = store_wall_ms(st), window = (uint64_t)days * 86400000;

	return hlc_pack(now > window ? now - window : 0, 0);
}

int
retain_pass(store_t *st, int days, int64_t *dropped, err_t *err)
{
	uint64_t after = 0, before = s_cutoff(st, days);
	int64_t n;
	int rc;

	*dropped = 0;
	while ((rc = store_retain(st, before, &after, &n, err)) == 1)
		*dropped += n;
	return rc;
}

/* One step of a pass per turn of the loop; the timer fires again at once
 * while the pass lasts, then in an hour. */
static void
s_on_timer(evutil_socket_t fd, short what, void *arg)
{
	retain_t *r = arg;
	struct timeval next = { RETAIN_EVERY_S, 0 }, now = { 0, 0 };
	int64_t n = 0;
	err_t err;
	int rc;

	(void)fd;
	(void)what;
	if (!r->running) {
		r->running = 1;
		r->after_lsn = 0;
		r->dropped = 0;
		r->before_hlc = s_cutoff(r->store, r->days);
		r->started_ms = hlc_wall_ms();
	}
	rc = store_retain(r->store, r->before_hlc, &r->after_lsn, &n, &err);
	r->dropped += n;
	if (rc == 1) {
		evtimer_add(r->timer, &now);
		return;
	}
	r->running = 0;
	if (rc < 0)
		log_warn("retain: %s; next pass in %d min", err.msg,
		    RETAIN_EVERY_S / 60);
	else if (r->dropped > 0)
		log_info("retain: dropped %lld ops of other sites "
			 "older than %d days in %llu ms",
		    (long long)r->dropped, r->days,
		    (unsigned long long)(hlc_wall_ms() - r->started_ms));
	evtimer_add(r->timer, &next);
}

retain_t *
retain_start(struct event_base *base, store_t *st, int days)
{
	retain_t *r;
	struct timeval first = { RETAIN_FIRST_S, 0 };

	if (days == 0)
		return NULL;
	if ((r = calloc(1, sizeof *r)) == NULL)
		fatal("retain: out of memory");
	r->store = st;
	r->days = days;
	r->timer = evtimer_new(base, s_on_timer, r);
	evtimer_add(r->timer, &first);
	return r;
}

void
retain_stop(retain_t **self_p)
{
	if (self_p == NULL || *self_p == NULL)
		return;
	event_free((*self_p)->timer);
	free(*self_p);
	*self_p = NULL;
}
