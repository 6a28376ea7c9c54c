/* zev: ZeroMQ socket in a libevent loop (see zev.h). */
#include "zev.h"

#include <stdlib.h>
#include <zmq.h>

#include "log.h"

struct zev {
	void *sock;
	struct event *ev;
	zev_ready_fn on_ready;
	void (*after)(void *arg); /* zev_set_after, NULL when none */
	void *arg;
};

static int
s_pollin(void *sock)
{
	int events = 0;
	size_t size = sizeof events;

	if (zmq_getsockopt(sock, ZMQ_EVENTS, &events, &size) != 0)
		return 0;
	return (events & ZMQ_POLLIN) != 0;
}

static void
s_on_event(evutil_socket_t fd, short what, void *arg)
{
	zev_t *z = arg;
	int n;

	(void)fd;
	(void)what;
	for (n = 0; n < ZEV_BURST && s_pollin(z->sock); n++)
		z->on_ready(z->sock, z->arg);
	if (n > 0 && z->after != NULL)
		z->after(z->arg);
	if (s_pollin(z->sock))
		event_active(z->ev, EV_READ, 0);
}

zev_t *
zev_new(struct event_base *base, void *sock, zev_ready_fn on_ready, void *arg)
{
	zev_t *z = calloc(1, sizeof *z);
	int fd;
	size_t size = sizeof fd;

	if (z == NULL)
		fatal("zev: out of memory");
	if (zmq_getsockopt(sock, ZMQ_FD, &fd, &size) != 0)
		fatal("zev: ZMQ_FD: %s", zmq_strerror(zmq_errno()));
	z->sock = sock;
	z->on_ready = on_ready;
	z->arg = arg;
	z->ev = event_new(base, fd, EV_READ | EV_PERSIST, s_on_event, z);
	if (z->ev == NULL || event_add(z->ev, NULL) != 0)
		fatal("zev: cannot watch socket");
	/* Messages may already be waiting: the edge has passed. */
	event_active(z->ev, EV_READ, 0);
	return z;
}

void
zev_set_after(zev_t *z, void (*after)(void *arg))
{
	z->after = after;
}

void
zev_kick(zev_t *z)
{
	if (s_pollin(z->sock))
		event_active(z->ev, EV_READ, 0);
}

void
zev_destroy(zev_t **self_p)
{
	if (self_p == NULL || *self_p == NULL)
		return;
	event_free((*self_p)->ev);
	free(*self_p);
	*self_p = NULL;
}
