/*
 * daemon: what bl-hub run and bl-node run share around their event loop.
 */
#ifndef BL_DAEMON_H
#define BL_DAEMON_H

#include <event2/event.h>

/* Runs base until SIGTERM or SIGINT (logged), then returns; a peer that
 * hangs up never raises SIGPIPE. Borrows base. */
void daemon_loop(struct event_base *base);

#endif
