/*
 * daemon: what bl-hub run and bl-node run share: the data directory's
 * config, key pair and store, the store's checkpointer, the event loop and
 * its stop signals, the one-line failure and the teardown.
 *
 * The program plugs in what only it has through daemon_spec_t: how to open
 * its store, and a start and a stop hook for its sync end and its HTTP
 * API, so the core knows neither (the API lives above it, in sync/api).
 *
 * A data directory has one daemon: run holds DIR/run.lock (runlock.h) for
 * its life, and a second run on the same directory is refused naming the
 * process that serves it. The one-shot commands of a program whose daemon
 * runs ask it over its HTTP API (daemon_ask) rather than open a second
 * session to the peer beside it.
 *
 * The data directory holds customers' names and phones: it is for the
 * program's user only. init makes it 0700 (daemon_private_dir), the
 * programs run under umask 077 so what they create in it is 0600, and run
 * warns when the directory lets anyone else in.
 */
#ifndef BL_DAEMON_H
#define BL_DAEMON_H

#include <event2/event.h>

#include "args.h"
#include "conf.h"
#include "keys.h"
#include "store.h"

/* What daemon_run opens from the data directory and owns; the program's
 * hooks borrow it. */
typedef struct {
	const char *dir;	 /* --data, borrowed from the command line */
	conf_t conf;		 /* DIR/config with the command's overrides */
	keypair_t keys;		 /* the program's key pair in DIR */
	store_t *store;		 /* the program's replica */
	struct event_base *base; /* the loop the hooks start their parts in */
} daemon_t;

/* A program as a daemon. */
typedef struct {
	const char *key;	  /* its key pair's name in DIR ("hub") */
	const char *overrides[4]; /* up to 3 options of run that replace the
				     config setting of the same name,
				     NULL-ended */
	/* Checks the settings of conf (with run's overrides) before
	 * anything is opened or locked, so a bad one is reported as such
	 * even beside a running daemon; -1 with err. */
	int (*check)(const conf_t *conf, err_t *err);
	/* Opens the program's store in dir (caller owns it); NULL with err. */
	store_t *(*open)(const char *dir, err_t *err);
	/* Starts the program's parts in daemon->base, writes DIR/ports and
	 * logs that the daemon is ready; -1 with err. What it has started is
	 * kept in arg for stop. */
	int (*start)(daemon_t *daemon, void *arg, err_t *err);
	/* Frees what start kept in arg, also after a failed or no start
	 * (arg as it was passed in); runs before the loop, store and keys
	 * go. */
	void (*stop)(void *arg);
} daemon_spec_t;

/* Makes dir, a data directory at init, for this user only: creates it
 * 0700, or sets an existing one to 0700. -1 with err naming dir when it
 * cannot. */
int daemon_private_dir(const char *dir, err_t *err);

/* Runs the program spec describes (the run command, args its options)
 * until SIGTERM or SIGINT, which are logged; a peer that hangs up never
 * raises SIGPIPE. After the config and its check, it holds DIR/run.lock
 * from before it opens the store to the end; when another process holds
 * it, it fails with "DIR: already served by process PID". The store gets
 * its background checkpointer with the WAL bound and low-disk level of
 * the config (wal_bound_mb, disk_low_mb); one that cannot start is logged
 * and SQLite's autocheckpoint stays. A data
 * directory that group or others may enter is logged as a warning. Returns
 * the exit status: 0 after a stop signal, 1 after printing the failure
 * (prog_fail) of a bad config, missing keys or store, or a failed start.
 * spec and arg are borrowed. */
int daemon_run(const daemon_spec_t *spec, const args_t *args, void *arg);

/* Asks the daemon running on dir: GET path (a literal, "/v1/status") from
 * its HTTP API, at the port in DIR/ports and the host of the config's
 * http (a wildcard address is reached on loopback), with the config's
 * token as "Authorization: Bearer TOKEN", waiting up to timeout_ms for
 * each of connect, send and receive. Returns 0 with *out, the JSON object
 * of a 200 answer (caller owns it), or -1 with err: "GET URL: why", with
 * the status and the API's message when it answered another status.
 * Whether a daemon runs is runlock_holder's to say. */
int daemon_ask(const char *dir, const char *path, int timeout_ms, json_t **out,
    err_t *err);

#endif
