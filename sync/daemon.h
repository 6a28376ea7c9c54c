/*
 * daemon: what bl-hub run and bl-node run share around their event loop.
 */
#ifndef BL_DAEMON_H
#define BL_DAEMON_H

#include <event2/event.h>

#include "conf.h"
#include "store.h"

/* Runs base until SIGTERM or SIGINT (logged), then returns; a peer that
 * hangs up never raises SIGPIPE. Borrows base. */
void daemon_loop(struct event_base *base);

/* Starts store's background checkpointer with the WAL bound and low-disk
 * level of conf (wal_bound_mb, disk_low_mb). -1 with err on a bad setting;
 * a checkpointer that cannot start is logged and SQLite's autocheckpoint
 * stays. */
int daemon_checkpoints(store_t *store, const conf_t *conf, err_t *err);

#endif
