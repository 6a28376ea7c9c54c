/*
 * zev: a ZeroMQ socket watched by a libevent loop.
 *
 * ZMQ_FD is edge-triggered and its readability does not mean a message is
 * waiting. The watcher therefore drains: on every wakeup it calls on_ready
 * while ZMQ_EVENTS reports ZMQ_POLLIN (at most ZEV_BURST times, then it
 * re-arms itself so one busy socket cannot starve the loop). Whoever sends
 * or receives on the socket outside the callback must call zev_kick, which
 * re-checks ZMQ_EVENTS and activates the watcher if a message is waiting.
 *
 * The zev borrows the socket and the event base; it owns only its event.
 */
#ifndef BL_ZEV_H
#define BL_ZEV_H

#include <event2/event.h>

#define ZEV_BURST 256

typedef struct zev zev_t;

/* on_ready is called once per waiting message; it must receive exactly one
 * message (all its frames) from sock. */
typedef void (*zev_ready_fn)(void *sock, void *arg);

zev_t *zev_new(struct event_base *base, void *sock, zev_ready_fn on_ready,
    void *arg);

/* Calls after(arg) once at the end of every wakeup that called on_ready,
 * when the burst is over (the socket drained, or ZEV_BURST reached), so
 * that what the burst gathered is finished before any other event runs.
 * NULL: nothing. */
void zev_set_after(zev_t *zev, void (*after)(void *arg));
void zev_kick(zev_t *zev);
void zev_destroy(zev_t **self_p);

#endif
