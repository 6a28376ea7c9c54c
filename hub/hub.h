/*
 * bl-hub: head office. Private header of the hub program.
 *
 * The hub is a replica like any node (its own writes carry the hq site id)
 * whose op log is the consolidated one: lsn in op_log is the hub sequence
 * number nodes pull by. hub/main.c holds the commands; hub/server.c the sync
 * endpoint (ZAP handler, ROUTER socket, one session per connected node).
 */
#ifndef BL_HUB_H
#define BL_HUB_H

#include <event2/event.h>

#include "api.h"
#include "conf.h"
#include "keys.h"
#include "proto.h"
#include "store.h"
#include "zev.h"

#define HUB_DEFAULT_LISTEN "tcp://0.0.0.0:7400"
#define HUB_DEFAULT_HTTP "127.0.0.1:7410"
#define HUB_DEFAULT_SITE "HQ"
#define HUB_DB "hub.db"
#define HUB_KEY "hub"

typedef struct server server_t;
typedef struct health health_t;

/* What each site last reported of its own disk (hub/health.c). */
health_t *health_new(void);
void health_destroy(health_t **self_p);
/* Records site's report (disk borrowed) at now_ms. */
void health_report(health_t *health, const char *site, const proto_disk_t *disk,
    uint64_t now_ms);
/* When site last reported (unix ms), 0 when it has not since the hub
 * started. */
uint64_t health_last_heard(health_t *health, const char *site);
/* Forgets site's report (a revoked site). */
void health_forget(health_t *health, const char *site);
/* {reported_ms, db_bytes, wal_bytes, free_bytes, problem} of site, or JSON
 * null before it has reported (new reference). */
json_t *health_json(health_t *health, const char *site);
/* Records that a second copy of site's data folder was refused (reason,
 * borrowed) at now_ms; logged now and then. */
void health_twin(health_t *health, const char *site, const char *reason,
    uint64_t now_ms);
/* Appends, for each site still enrolled (enrolled(arg, site) says), a
 * "disk" alert when it reports a problem and a "twin_incarnation" alert
 * when a copy of its data folder was refused within the last day (at
 * now_ms). */
void health_alerts(health_t *health, json_t *items,
    int (*enrolled)(void *arg, const char *site), void *arg, uint64_t now_ms);

/* Who may receive an op: the names, and op_vis_t pointing into them. */
typedef struct {
	char site[OP_SITE_MAX + 1];
	char site2[OP_SITE_MAX + 1];
	char region[64];
	op_vis_t vis;
} hub_vis_t;

/* Decides who may receive op (hub/visibility.c), from what the hub's
 * replica knows before applying it. */
void visibility_of(store_t *store, const op_t *op, hub_vis_t *vis);

/* Where an op of the hub's quarantine came from, for its retry: its
 * origin's role in the registry ("" for a site not enrolled, which no rule
 * lets write) and who may receive it. */
typedef struct {
	char role[16];
	hub_vis_t vis;
} hub_from_t;

/* store_from_fn over a hub_from_t (arg), which holds what from points to. */
void hub_from_of(void *arg, store_t *store, const op_t *op,
    ingest_from_t *from);

/* How a hub restored from a backup takes its own ops back (hub/recover.c).
 * recover_new derives the hub's signing key from keys (borrowed) and
 * holds the store's writes when meta recovering says so; the caller owns
 * the result (recover_destroy). Each call returns 0, or -1 with err. */
typedef struct recover recover_t;
recover_t *recover_new(store_t *store, const keypair_t *keys, err_t *err);
void recover_destroy(recover_t **self_p);
/* The hub's Ed25519 public key, which its own chain is signed with. */
const uint8_t *recover_sign_pk(const recover_t *recover);
/* Signs the hub's own chain up to its head (at least every
 * PROTO_SIGN_EVERY ops), in a transaction of its own. */
int recover_sign(recover_t *recover, err_t *err);
/* Re-reads meta recovering (bl-hub recover --done may have ended it) and
 * ends the wait once every site reported; holds or lifts writes. */
int recover_tick(recover_t *recover, err_t *err);
/* Whether writes are held for a recovery. */
int recover_recovering(const recover_t *recover);
/* Records that site has reported what it holds of our ops (its RELAY was
 * taken); ends the recovery when it was the last. */
int recover_reported(recover_t *recover, const char *site, err_t *err);
/* Adds recovering (and recover_waiting: whom) to a status object. */
void recover_status(recover_t *recover, json_t *status);
/* For bl-hub restore: the store (a restored hub's) waits for its sites. */
int recover_mark_restored(store_t *store, err_t *err);
/* For bl-hub recover: describes the recovery into buf, and with done ends
 * it first. */
int recover_describe(store_t *store, int done, char *buf, size_t size,
    err_t *err);

/* Starts the sync endpoint on `listen` in base's loop: binds the ZAP
 * handler first, then the CURVE ROUTER. *bound_port gets the real port.
 * Borrows base, store and keys. NULL with err on failure. */
server_t *server_new(struct event_base *base, store_t *store,
    const keypair_t *keys, const char *listen, int *bound_port, err_t *err);

/* Streams new ops to every session with credit (after a local write). */
void server_notify(server_t *server);

/* Retries quarantined ops (store_quarantine_retry: origin NULL for any,
 * seq 0 for any, due_only for those refused for a clock ahead whose stamp
 * has come), each as its origin's role and visibility have it; streams
 * what was applied. The daemon does it with due_only every minute. */
int server_quarantine_retry(server_t *server, const char *origin, uint64_t seq,
    int due_only, int *applied, int *kept, err_t *err);

/* GET /v1/sites: every enrolled site with its role, region, whether it is
 * connected now and its last disk report. */
int server_sites(void *server, const json_t *query, json_t **out, err_t *err);

/* Adds the sites' disk problems, copies refused and silences to GET
 * /v1/alerts. */
void server_alerts(server_t *server, json_t *items);

/* A store or warehouse not heard from for ms is alerted (silent_site);
 * SERVER_SILENT_DEFAULT_MS unless the config's silent_after_s says. */
#define SERVER_SILENT_DEFAULT_MS (60 * 60 * 1000)
void server_set_silent_after(server_t *server, uint64_t ms);

/* Fills the hub part of GET /v1/status. */
void server_status(server_t *server, json_t *status);

void server_destroy(server_t **self_p);

#endif
