/* group: group commit of a daemon's writes (see group.h). */
#include "group.h"

#include <assert.h>
#include <stdlib.h>

#include "log.h"

/* A group that loses its transaction this many times answers what is
 * left with the error: the disk is failing, not one write. */
#define GROUP_TRIES 3

typedef struct entry {
	group_run_fn run;
	group_done_fn done;
	void *arg;
	struct entry *next;
} entry_t;

struct group {
	store_t *store;	       /* borrowed */
	struct event *ev;      /* the zero-timeout run */
	entry_t *head, **tail; /* gathered, in the order they came */
	int running;	       /* inside s_run */
	group_committed_fn committed;
	void *committed_arg;
	group_stats_t stats;
};

/* Answers e (rc, err) and frees it. */
static void
s_done(group_t *g, entry_t *e, int rc, const err_t *err)
{
	if (rc != 0)
		g->stats.failed++;
	e->done(e->arg, rc, err);
	free(e);
}

/* Answers every write of list (rc, err). */
static void
s_done_all(group_t *g, entry_t *list, int rc, const err_t *err)
{
	entry_t *e;

	while ((e = list) != NULL) {
		list = e->next;
		s_done(g, e, rc, err);
	}
}

/* Runs e in a savepoint of the open transaction: 0 when it is kept; -1
 * with err when it failed, rolled back, and *lost when its failure cost
 * the whole transaction (the store is then out of it). */
static int
s_run_one(group_t *g, entry_t *e, int *lost, err_t *err)
{
	store_mark_t mark;

	*lost = 0;
	err_clear(err);
	if (store_savepoint(g->store, &mark, err)) {
		store_rollback(g->store);
		*lost = 1;
		return -1;
	}
	if (e->run(e->arg, g->store, err) == 0 &&
	    store_release(g->store, &mark, err) == 0)
		return 0;
	if (err->code == ERR_OK)
		err_set(err, ERR_INTERNAL, "write failed without a reason");
	*lost = store_rollback_to(g->store, &mark) != 0;
	return -1;
}

/* The run (group.h): the gathered writes in one transaction. */
static void
s_run(group_t *g)
{
	entry_t *list = g->head, *e, **pp;
	uint64_t n;
	int tries = 0, lost;
	err_t err;

	assert(!g->running);
	g->head = NULL;
	g->tail = &g->head;
	if (list == NULL)
		return;
	g->running = 1;
again:
	if (store_begin(g->store, &err)) {
		s_done_all(g, list, -1, &err);
		goto out;
	}
	n = 0;
	for (pp = &list; (e = *pp) != NULL;) {
		if (s_run_one(g, e, &lost, &err) == 0) {
			n++;
			pp = &e->next;
			continue;
		}
		/* Answered now: the others do not wait for its failure. */
		*pp = e->next;
		s_done(g, e, -1, &err);
		if (!lost)
			continue;
		/* The writes before it were undone with it; none is
		 * answered yet. */
		log_warn("group commit: a failed write cost the transaction "
			 "of %llu others, run again: %s",
		    (unsigned long long)n, err.msg);
		if (++tries < GROUP_TRIES)
			goto again;
		s_done_all(g, list, -1, &err);
		goto out;
	}
	if (n == 0) {
		store_rollback(g->store); /* every write failed */
		goto out;
	}
	if (store_commit(g->store, &err)) {
		log_warn("group commit: %llu writes: %s", (unsigned long long)n,
		    err.msg);
		s_done_all(g, list, -1, &err);
		goto out;
	}
	g->stats.commits++;
	g->stats.writes += n;
	if (n > g->stats.largest)
		g->stats.largest = n;
	s_done_all(g, list, 0, NULL);
	if (g->committed != NULL)
		g->committed(g->committed_arg);
out:
	g->running = 0;
}

static void
s_on_run(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	s_run(arg);
}

group_t *
group_new(struct event_base *base, store_t *store)
{
	group_t *g = calloc(1, sizeof *g);

	if (g == NULL || (g->ev = evtimer_new(base, s_on_run, g)) == NULL)
		fatal("group: out of memory");
	g->store = store;
	g->tail = &g->head;
	return g;
}

void
group_set_committed(group_t *g, group_committed_fn fn, void *arg)
{
	g->committed = fn;
	g->committed_arg = arg;
}

void
group_add(group_t *g, group_run_fn run, group_done_fn done, void *arg)
{
	static const struct timeval now = { 0, 0 };
	entry_t *e = calloc(1, sizeof *e);

	if (e == NULL)
		fatal("group: out of memory");
	e->run = run;
	e->done = done;
	e->arg = arg;
	/* The first of a group schedules its run: a timer already due makes
	 * the loop poll without waiting and run it after every event that
	 * poll finds ready (the writes that join it). */
	if (g->head == NULL && evtimer_add(g->ev, &now) != 0)
		fatal("group: cannot schedule a commit");
	*g->tail = e;
	g->tail = &e->next;
}

void
group_flush(group_t *g)
{
	evtimer_del(g->ev);
	while (g->head != NULL)
		s_run(g);
}

void
group_stats(const group_t *g, group_stats_t *stats)
{
	*stats = g->stats;
}

void
group_destroy(group_t **self_p)
{
	group_t *g;

	if (self_p == NULL || *self_p == NULL)
		return;
	g = *self_p;
	group_flush(g);
	event_free(g->ev);
	free(g);
	*self_p = NULL;
}
