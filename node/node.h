/*
 * bl-node: the program each store and warehouse runs. Private header.
 *
 * node/main.c holds the commands; node/client.c the link to the hub: a
 * CURVE DEALER socket and the session state machine that pushes this site's
 * ops and pulls everyone else's. The same client serves the daemon (`run`,
 * forever, reconnecting) and the one-shot `sync` and `status` probes.
 */
#ifndef BL_NODE_H
#define BL_NODE_H

#include <event2/event.h>
#include <jansson.h>
#include <stdio.h>

#include "codec.h"
#include "conf.h"
#include "keys.h"
#include "proto.h"
#include "store.h"

#define NODE_DEFAULT_HTTP "127.0.0.1:7411"
#define NODE_DB "node.db"
#define NODE_KEY "node"

typedef struct client client_t;

/* Hub endpoints a node may fail over between (config "hub", separated by
 * spaces, in the order tried), and the bytes of one with its NUL. */
#define CLIENT_HUBS_MAX 8
#define CLIENT_HUB_MAX 256

/* Link states, in the order a session goes through them. */
typedef enum {
	LINK_DOWN,    /* no CURVE session with the hub */
	LINK_HELLO,   /* connected, HELLO sent, waiting for WELCOME */
	LINK_READY,   /* pushing and pulling */
	LINK_REFUSED, /* the hub refused us; see client_refusal */
} link_state_t;

/* Called after every event that may change progress (welcome, ack, ops,
 * refusal, disconnect). */
typedef void (*client_progress_fn)(client_t *client, void *arg);

/* Connects to one of conf's hubs with keys in base's loop: the one that
 * last welcomed this site when it is still listed, else the first; it moves
 * to the next when a session with it fails (client.c). Borrows all
 * arguments. */
client_t *client_new(struct event_base *base, store_t *store,
    const conf_t *conf, const keypair_t *keys, err_t *err);
void client_set_progress(client_t *client, client_progress_fn fn, void *arg);

/* A local write committed: push it now if the link is up. */
void client_wrote(client_t *client);

link_state_t client_state(const client_t *client);

/* Whether, since the last WELCOME, every own op is acknowledged, the
 * pull cursor has reached the hub head announced then and no backfill is
 * pending (proto.h). */
int client_caught_up(const client_t *client);

/* Why the hub refused us ("" if it has not); borrowed. */
const char *client_refusal(const client_t *client);

/* The last ERROR from the hub, or a hint of why it does not answer ("" if
 * none); borrowed. */
const char *client_last_error(const client_t *client);

/* The hub endpoint in use; borrowed. */
const char *client_hub(const client_t *client);

/* Adds this node's own alerts to GET /v1/alerts: "clock" when its clock is
 * off from head office's by more than an op may be ahead (items borrowed). */
void client_alerts(client_t *client, json_t *items);

/* Adds the link's part of GET /v1/status, with the site's region and the
 * backfills pending. */
void client_status(client_t *client, json_t *status);

void client_destroy(client_t **self_p);

/* Retention of other sites' ops at this node (retain.c). */
typedef struct retain retain_t;

#define RETAIN_DEFAULT_DAYS 90

/* Runs a whole pass now: drops other sites' ops older than days (0: all of
 * them), keeping their identities and the state they produced. *dropped counts them. 0, or -1 with err. */
int retain_pass(store_t *store, int days, int64_t *dropped, err_t *err);

/* Daemon: a pass a minute after start and every hour, in base's loop.
 * days 0 keeps everything (returns NULL). Borrows base and store. */
retain_t *retain_start(struct event_base *base, store_t *store, int days);
void retain_stop(retain_t **self_p);

/* What a node gives back to a hub restored from a backup (relay.c). */
/* Keeps the hub's signature (hex) over its own chain at seq, in the
 * caller's transaction. 0, or -1 with err. */
int relay_keep_sig(store_t *store, uint64_t seq, const char *hex, err_t *err);
/* The highest seq of the hub's own (origin hub) seen here: held, dropped
 * by retention or quarantined. 0, or -1 with err. */
int relay_seen(store_t *store, const char *hub, uint64_t *seen, err_t *err);
/* Builds in w (reset) the next RELAY of the hub's own ops (origin hub)
 * above from: 1 with *last its last seq and *n its ops, 0 when there is
 * none to give, -1 with err. */
int relay_next(store_t *store, const char *hub, uint64_t from, cbw_t *w,
    uint64_t *last, size_t *n, err_t *err);

/* Anti-entropy of this node's own ops with the hub's (entropy.c). The
 * client drives it: entropy_start with the seq the hub confirmed,
 * entropy_next builds the next DIGEST into w (1, or 0 when nothing is due,
 * -1 with err), entropy_on_digest reads the hub's answer into a step to
 * take. */
typedef struct entropy entropy_t;
typedef struct {
	enum { ENTROPY_NONE, ENTROPY_PUSH, ENTROPY_FETCH } kind;
	uint64_t seq; /* the op to push again or fetch */
} entropy_step_t;
entropy_t *entropy_new(const char *site);
void entropy_destroy(entropy_t **self_p);
void entropy_start(entropy_t *entropy, uint64_t acked);
/* The link dropped: nothing is in flight any more. */
void entropy_reset(entropy_t *entropy);
int entropy_busy(const entropy_t *entropy);
/* Whether a DIGEST or FETCH waits for its answer. */
int entropy_waiting(const entropy_t *entropy);
int entropy_next(entropy_t *entropy, store_t *store, cbw_t *w, err_t *err);
int entropy_on_digest(entropy_t *entropy, store_t *store, const proto_msg_t *m,
    entropy_step_t *step, err_t *err);
/* The OPS that answered a FETCH was applied. */
void entropy_on_fetched(entropy_t *entropy);
/* Adds "entropy": {pushed_again, fetched, diverged, checking}. */
void entropy_status(const entropy_t *entropy, json_t *status);

/* The commands for people (cli.c): whether noun is one, its usage lines,
 * and running argv = {noun, verb, options...}; returns the exit status. */
int cli_is_command(const char *noun);
void cli_usage(FILE *out);
int cli_run(int argc, char **argv);

#endif
