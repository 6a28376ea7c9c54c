/*
 * runlock: one daemon per data directory.
 *
 * A daemon holds an exclusive flock(2) on DIR/run.lock (created 0600) for
 * its whole life and writes its process id into the file. The kernel drops
 * the lock when the process ends, however it ends, so a kill -9 leaves no
 * stale lock behind; the file itself stays. A restore takes the same lock
 * while it replaces the database, so no daemon starts on a half-replaced
 * one; the one-shot commands only look whether someone holds it
 * (runlock_holder) and then ask the daemon instead of opening a session of
 * their own.
 *
 * Looking takes a shared lock for an instant; a daemon starting in that
 * instant would find the file held, so runlock_take tries again for a
 * short while before it gives up.
 */
#ifndef BL_RUNLOCK_H
#define BL_RUNLOCK_H

#include "err.h"

#define RUNLOCK_FILE "run.lock"

/* Takes DIR/run.lock for this process and writes its id into it. Returns
 * the lock's descriptor, owned by the caller: the lock lasts until it is
 * closed or the process ends (it is not inherited across exec). -1 with
 * err: ERR_CONFLICT "DIR: held by process PID" with *holder its id (-1
 * when it has not written one) when another process holds it,
 * ERR_INTERNAL with *holder 0 when the file cannot be opened or locked. */
int runlock_take(const char *dir, long *holder, err_t *err);

/* Who holds DIR/run.lock: 0 with *holder its process id (-1 when it has
 * not written one), or 0 with *holder 0 when no process does (also when
 * the file does not exist: this never creates it); -1 with err when the
 * file cannot be looked at. */
int runlock_holder(const char *dir, long *holder, err_t *err);

#endif
