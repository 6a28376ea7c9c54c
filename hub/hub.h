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
#include "args.h"
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
/* Records site's report (disk borrowed), sent by its clock at sent_ms,
 * received at now_ms by ours. */
void health_report(health_t *health, const char *site, const proto_disk_t *disk,
    uint64_t sent_ms, uint64_t now_ms);
/* 1 with site's clock minus ours at its last report in *offset_ms, 0 when
 * it has not reported since the hub started. */
int health_clock_offset(health_t *health, const char *site, int64_t *offset_ms);
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

/* store_logged_fn (arg unused): once op is logged and applied, tags it with
 * its order family's root (op_log.vis_order) and keeps order_sites, who
 * may see the family now (hub/visibility.c). visibility_attach sets it on
 * a hub's store; every hub command that writes ops opens its store so. */
int visibility_logged(void *arg, store_t *store, const op_t *op, err_t *err);
void visibility_attach(store_t *store);

/* In the open transaction: applies the next ops the hub received and
 * acknowledged (store_apply_received), at least one batch and about max
 * ops or max_bytes of them (0: any), *done of them, each as visibility_of
 * and visibility_family decide who may receive it. 0, or -1 with err
 * (roll back). */
int visibility_apply_received(store_t *store, size_t max, size_t max_bytes,
    size_t *done, err_t *err);

/* Applies every op received and not applied yet, a slice a transaction:
 * for a command that reads the log as the record (bl-hub audit), which
 * then holds every op the hub acknowledged. 0, or -1 with err. */
#define VISIBILITY_APPLY_SLICE 4000
int visibility_apply_all(store_t *store, err_t *err);

/* store_family_fn (arg unused), what visibility_logged decides and keeps
 * once op is applied, before it is logged: its family's root into root
 * (OP_KEY_MAX + 1 bytes, "" for none, or for a family that cannot grow,
 * whose ops visibility_of places), and order_sites. For ops applied from
 * the inbox (store_apply_received), logged with it at once. */
int visibility_family(void *arg, store_t *store, const op_t *op, char *root,
    err_t *err);

/* Where an op of the hub's quarantine came from, for its retry: its
 * origin's role in the registry ("" for a site not enrolled, which no rule
 * lets write) and who may receive it. */
typedef struct {
	char site[OP_SITE_MAX + 1]; /* "": nothing kept */
	char region[64];	    /* its movements' region ("*": all) */
} hub_site_cache_t;
typedef struct {
	char role[16];
	hub_vis_t vis;
	hub_site_cache_t site; /* hub_vis_of's, within one transaction */
} hub_from_t;

/* store_from_fn over a hub_from_t (arg), which holds what from points to. */
void hub_from_of(void *arg, store_t *store, const op_t *op,
    ingest_from_t *from);

/* The same, for ops whose role the caller knows (store_apply_received):
 * only who may receive op, what the registry said of a site kept in
 * arg's cache. The registry does not change under a transaction: a
 * hub_from_t zeroed at its start serves it. */
void hub_vis_of(void *arg, store_t *store, const op_t *op, ingest_from_t *from);

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
/* Records that site has reported what it holds of our ops (its empty
 * RELAY was taken), having seen our ops up to seen; ends the recovery when
 * nothing more is awaited. */
int recover_reported(recover_t *recover, const char *site, uint64_t seen,
    err_t *err);
/* Adds recovering (and recover_waiting: whom) to a status object. */
void recover_status(recover_t *recover, json_t *status);
/* For bl-hub restore: the store (a restored hub's) waits for its sites. */
int recover_mark_restored(store_t *store, err_t *err);
/* For a command on the store (beside the daemon or without it): holds
 * the store's writes, as the daemon does, while meta recovering says the
 * hub waits for its sites; each then refuses with the daemon's reason. */
int recover_hold(store_t *store, err_t *err);
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

/* The descriptor limit the hub runs with (bl-hub run raises it): each
 * connected site takes one, SERVER_FD_RESERVE are kept for the rest
 * (databases, HTTP clients, libzmq's own). Logs how many sites that leaves
 * room for, and warns when more are enrolled; GET /v1/status shows it as
 * sites_max (absent until set). */
#define SERVER_FD_RESERVE 256
void server_set_fd_limit(server_t *server, uint64_t limit);

/* Fills the hub part of GET /v1/status. */
void server_status(server_t *server, json_t *status);

void server_destroy(server_t **self_p);

/* ---- head office's console, its users and reports ---- */

/* The console bl-hub run serves at / on its HTTP port (console.c): its
 * pages, its login and the API's guard, plus GET /v1/sites/sync. Config:
 * console (yes|no), console_dir, console_chartjs, cookie_secure and the
 * login's settings (login_conf_read). console_check checks them before
 * the daemon opens anything; console_new borrows everything it is given
 * and plugs itself into api (the caller destroys the api first). */
#define CONSOLE_CHARTJS_DEFAULT "/usr/share/javascript/chart.js/chart.min.js"
typedef struct console console_t;
int console_check(const conf_t *conf, err_t *err);
console_t *console_new(store_t *store, server_t *server, api_t *api,
    const conf_t *conf, uint64_t silent_after_ms, err_t *err);
void console_destroy(console_t **self_p);

/* Head office's console users (users.c): a name of 1-USERS_NAME_MAX of
 * A-Z a-z 0-9 . _ - @, a role (viewer, manager) and a password of
 * USERS_PASSWORD_MIN to USERS_PASSWORD_MAX bytes, kept as
 * crypto_pwhash_str. Each returns 0, or -1 with err. */
#define USERS_NAME_MAX 64
#define USERS_PASSWORD_MIN 8
#define USERS_PASSWORD_MAX 1024
int users_name_valid(const char *name);
int users_add(store_t *store, const char *name, const char *role,
    const char *password, err_t *err);
int users_remove(store_t *store, const char *name, err_t *err);
/* {"items": [{name, role, created_ms}]} into *out (caller owns). */
int users_list(store_t *store, json_t **out, err_t *err);
/* name's role into role ("" when there is no such user), and a stamp of
 * this user's password (a hash of its stored hash): a password changed,
 * or the user removed and added again, changes it. */
#define USERS_STAMP_BYTES 16
int users_role(store_t *store, const char *name, char *role, size_t size,
    unsigned char stamp[USERS_STAMP_BYTES], err_t *err);
/* 0 with name's role when password is name's; -1 with ERR_FORBIDDEN
 * "login: wrong user name or password" when it is not, or there is no
 * such user (which costs as much time). */
int users_check(store_t *store, const char *name, const char *password,
    char *role, size_t size, err_t *err);
/* bl-hub user add|list|remove. */
int users_cmd_add(const args_t *args);
int users_cmd_list(const args_t *args);
int users_cmd_remove(const args_t *args);

/* The console's sessions and its limit on failed logins (login.c). */
#define LOGIN_TOKEN_HEX 64 /* a session or CSRF token: 256 bits, hex */
#define LOGIN_IDLE_DEFAULT_S 1800
#define LOGIN_MAX_DEFAULT_S (12 * 3600)
#define LOGIN_FAILURES_DEFAULT 5
#define LOGIN_LOCKOUT_DEFAULT_S 300
typedef struct login login_t;
typedef struct {
	long long idle_s;	/* session_idle_s: ends unused this long */
	long long max_s;	/* session_max_s: ends this long after login */
	long long max_failures; /* login_max_failures within login_lockout_s */
	long long lockout_s;	/* login_lockout_s */
} login_conf_t;
typedef struct {
	char user[USERS_NAME_MAX + 1];
	char role[16];
	char csrf[LOGIN_TOKEN_HEX + 1];
} login_who_t;
/* The login's settings from conf; -1 with err naming a bad one. */
int login_conf_read(const conf_t *conf, login_conf_t *lc, err_t *err);
login_t *login_new(store_t *store, const login_conf_t *conf);
void login_destroy(login_t **self_p);
long long login_max_s(const login_t *login);
/* Logs name in from addr at now: 0 with a new session, its token into
 * cookie (size bytes, at least LOGIN_TOKEN_HEX + 1) and who; -1 with
 * err: ERR_FORBIDDEN for a wrong name or password, and with *retry_s > 0
 * when name or addr failed too often (nothing checked), ERR_INTERNAL. */
int login_open(login_t *login, const char *addr, const char *name,
    const char *password, uint64_t now, char *cookie, size_t size,
    login_who_t *who, long long *retry_s, err_t *err);
/* The session of cookie (NULL: none) at now, into who: -1 with
 * ERR_FORBIDDEN when there is none, it expired or its user is gone. */
int login_find(login_t *login, const char *cookie, uint64_t now,
    login_who_t *who, err_t *err);
void login_close(login_t *login, const char *cookie);
/* Whether presented (NULL: none) is who's CSRF token. */
int login_csrf_ok(const login_who_t *who, const char *presented);

/* GET /v1/sites/sync (sitesync.c): every site's sync health into *out
 * (caller owns); server NULL on the command line. */
int sitesync_list(store_t *store, server_t *server, uint64_t silent_after_ms,
    uint64_t now, json_t **out, err_t *err);

/* bl-hub report sales|stock|receivables|alerts|sites (reportcmd.c). */
int reportcmd_sales(const args_t *args);
int reportcmd_stock(const args_t *args);
int reportcmd_receivables(const args_t *args);
int reportcmd_alerts(const args_t *args);
int reportcmd_sites(const args_t *args);

/* bl-hub approval list|approve|reject|threshold (approvalcmd.c). */
int approvalcmd_list(const args_t *args);
int approvalcmd_threshold(const args_t *args);
int approvalcmd_approve(const args_t *args);
int approvalcmd_reject(const args_t *args);

/* ---- allocation of online and b2b orders (allocate.c) ---- */

/* The allocator of a running hub over store (borrowed): allocate_new
 * (caller owns; allocate_destroy accepts NULL and nulls *self_p). */
typedef struct allocator allocator_t;
allocator_t *allocate_new(store_t *store);
void allocate_destroy(allocator_t **self_p);
/* Decides the orders due in alloc_queue (at most a batch), each in a
 * transaction of its own, writing their fulfilment orders as head
 * office; *wrote: ops written (the caller streams them). Cheap when
 * nothing is due: one index probe. 0, or -1 with err when storage
 * failed (what was decided before it stays). */
int allocate_tick(allocator_t *allocator, int *wrote, err_t *err);
/* Adds "allocation" {waiting, failing, written, cancelled, runs,
 * last_ms} to GET /v1/status. */
void allocate_status(allocator_t *allocator, json_t *status);
/* Adds an allocation_failed alert per order left unallocated, with why
 * and since when (GET /v1/alerts). */
void allocate_alerts(store_t *store, json_t *items);
/* GET /v1/allocation/rules (api_get_fn; arg: the store): {sites:
 * [{site, priority, region}], split, default, updated_ms}; with no rules
 * (default) the sites are every active warehouse at priority 0. */
int allocate_rules_get(void *store, const json_t *query, json_t **out,
    err_t *err);
/* PUT /v1/allocation/rules (api_put_fn; arg: the store) {sites: [{site,
 * priority?}], split?}: replaces the rules (split defaults to true) and
 * makes every waiting order due; answers as the GET. 400 or 422 naming
 * the entry ("sites[0]: site: W009 is not an enrolled store or
 * warehouse"), nothing changed. */
int allocate_rules_put(void *store, const json_t *body, json_t **out,
    err_t *err);
/* bl-hub allocation rules --site SITE[:PRIORITY]... [--split yes|no] and
 * bl-hub allocation show [--json]. */
int allocate_cmd_rules(const args_t *args);
int allocate_cmd_show(const args_t *args);

/* bl-hub transfer list|reconcile (transfercmd.c): head office's side of
 * the transfer documents, through the API in-process. */
int transfercmd_list(const args_t *args);
int transfercmd_reconcile(const args_t *args);

/* bl-hub quota grant|list|recall (quotacmd.c): head office's side of the
 * escrowed stock quotas, through the API in-process. */
int quotacmd_grant(const args_t *args);
int quotacmd_list(const args_t *args);
int quotacmd_recall(const args_t *args);

/* What the commands for people share (cmdline.c): the hub's store in
 * dir (caller owns; NULL with err), a time in UTC for people
 * ("2026-11-30 20:13:20", "-" for 0), and money in major units of its
 * currency ("87.50" for 8750 CNY, ISO 4217's minor units). */
store_t *hub_open(const char *dir, err_t *err);
void hub_format_ms(uint64_t ms, char *buf, size_t size);
void hub_format_money(int64_t minor, const char *currency, char *buf,
    size_t size);

/* A table of the API's rows for people: a column shows a row's value of
 * key under head, a string as it is and an integer in decimal (or, for
 * HUB_COL_TIME, as hub_format_ms has it); none is what a cell without a
 * value shows. Borrowed throughout; tables are static data. */
typedef enum { HUB_COL_TEXT, HUB_COL_TIME } hub_col_kind_t;
typedef struct {
	const char *key;
	const char *head;
	hub_col_kind_t kind;
} hub_col_t;
#define HUB_COLS_MAX 16
typedef struct {
	const hub_col_t *cols;
	size_t ncols; /* at most HUB_COLS_MAX */
	const char *none;
} hub_table_t;
/* Prints rows (a JSON array of objects, borrowed) as table: a header
 * line, a line a row, each column as wide as its widest cell and two
 * blanks apart, the last unpadded; "(none)" after the header without
 * rows. */
void hub_print_table(const json_t *rows, const hub_table_t *table);
/* Prints json (borrowed) compact, on a line of its own. */
void hub_print_json(const json_t *json);
/* Sets a field of o for each of flags (NULL-terminated) that a has: of
 * the same name, with the flag's value as a string. */
void hub_args_fields(const args_t *a, const char *const *flags, json_t *o);
/* Runs method path (query and body borrowed, NULL for none) through the
 * API in-process on the hub's store of a's --data, as head office and
 * as its daemon would: writes are held while the hub recovers from a
 * backup (recover_hold). 0 with the answer in *out (caller owns), or -1
 * with err (*out NULL): the API's message, with its status as the code. */
int hub_call(const args_t *a, const char *method, const char *path,
    const json_t *query, const json_t *body, json_t **out, err_t *err);
/* The exit status of a command that failed with err, which it prints:
 * PROG_EXIT_USAGE for a bad request, 1 for anything else. */
int hub_fail(const err_t *err);
/* hub_call, then prints the answer: with --json as the API's JSON, else
 * its items (or the one object it is) as table. Returns the command's
 * exit status: 0, or hub_fail's. */
int hub_call_print(const args_t *a, const char *method, const char *path,
    const json_t *query, const json_t *body, const hub_table_t *table);
/* GET path with the query of a's filters (hub_args_fields), printed as
 * hub_call_print does. */
int hub_list(const args_t *a, const char *path, const char *const *filters,
    const hub_table_t *table);

/* ---- a hub of a cluster on PostgreSQL (init --store) ---- */

/* The config setting that makes a hub one of a cluster: its PostgreSQL
 * URI (hub/cluster.h holds what the hubs share there). */
#define HUB_CONF_STORE "store"

/* bl-hub migrate --data DIR --to postgresql://URI (migrate.c): moves a
 * stopped hub on its own to PostgreSQL as the first hub of a cluster,
 * every op at gseq == its lsn, so its nodes resume as they were. Returns
 * the exit status; a failure prints one line. */
int migrate_cmd(const args_t *a);

/* A running hub's copy of the shared registry (clusterpoll.c): a thread
 * with its own connections copies what changed in PostgreSQL into
 * hub.db's sites once a second and publishes the signing keys pinned
 * here; PostgreSQL failures are logged and retried, never fatal.
 * clusterpoll_start copies uri and db_path (hub.db) and returns the
 * poller (caller owns: clusterpoll_stop, which accepts NULL, nulls
 * *self_p and waits for the thread), or NULL with err when its thread or
 * SQLite connection cannot start. clusterpoll_status adds "cluster":
 * {store, registry_version, last_poll_ms_ago (null before the first
 * round), error (null while all is well)} to GET /v1/status. */
typedef struct clusterpoll clusterpoll_t;
clusterpoll_t *clusterpoll_start(const char *uri, const char *db_path,
    err_t *err);
void clusterpoll_stop(clusterpoll_t **self_p);
void clusterpoll_status(clusterpoll_t *poll, json_t *status);

#endif
