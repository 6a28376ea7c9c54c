/*
 * bl-node: a store's or warehouse's replica. Commands: init, key, run,
 * sync, status, backup, restore, and for people at the site: stock, move.
 *
 * Every failure prints one line, "bl-node: COMMAND: what: why", and exits 1
 * (runtime) or 2 (bad usage).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "apply.h"
#include "args.h"
#include "backup.h"
#include "daemon.h"
#include "log.h"
#include "node.h"
#include "operator.h"
#include "own.h"
#include "prog.h"
#include "runlock.h"
#include "stock.h"

static store_t *
s_open(const char *dir, err_t *err)
{
	char path[4096];

	snprintf(path, sizeof path, "%s/%s", dir, NODE_DB);
	if (access(path, F_OK) != 0) {
		err_set(err, ERR_NOT_FOUND,
		    "%s: no node here (run bl-node init)", dir);
		return NULL;
	}
	return store_open(path, STORE_NODE, 0, &apply_rules, err);
}

/* The --hub endpoints (one or more, in the order the node tries them),
 * each checked, joined by spaces into hubs (size bytes) as the config's
 * hub holds them: 0, or -1 with err. */
static int
s_hubs(const args_t *a, char *hubs, size_t size, err_t *err)
{
	const char *hub;
	size_t off = 0, len;
	int i;

	hubs[0] = '\0';
	for (i = 0; (hub = args_nth(a, "hub", i)) != NULL; i++) {
		len = strlen(hub);
		if (i == CLIENT_HUBS_MAX)
			return err_set(err, ERR_BAD_REQUEST,
			    "--hub: at most %d endpoints", CLIENT_HUBS_MAX);
		if (strncmp(hub, "tcp://", 6) != 0 ||
		    strpbrk(hub, " \t") != NULL)
			return err_set(err, ERR_BAD_REQUEST,
			    "--hub '%s': expected tcp://HOST:PORT", hub);
		if (len >= CLIENT_HUB_MAX || off + len + 1 >= size)
			return err_set(err, ERR_BAD_REQUEST,
			    "--hub '%s': too long (an endpoint takes at most "
			    "%d characters, all of them %zu)",
			    hub, CLIENT_HUB_MAX - 1, size - 1);
		off += (size_t)snprintf(hubs + off, size - off, "%s%s",
		    i > 0 ? " " : "", hub);
	}
	return 0;
}

static int
s_init(const args_t *a)
{
	const char *dir = args_get(a, "data", NULL);
	const char *site = args_get(a, "site", NULL);
	const char *hub_key = args_get(a, "hub-key", NULL);
	char path[4096], pub[KEYS_Z85_LEN + 1], hubs[CONF_VALUE_MAX];
	store_t *st;
	conf_t conf;
	err_t err;

	err_clear(&err);
	if (site == NULL || !args_has(a, "hub") || hub_key == NULL) {
		err_set(&err, ERR_BAD_REQUEST,
		    "--site, --hub and --hub-key are required");
		return prog_fail(PROG_EXIT_USAGE, &err);
	}
	if (!op_site_valid(site)) {
		err_set(&err, ERR_BAD_REQUEST,
		    "--site '%s': use 1-16 of A-Z a-z 0-9 _", site);
		return prog_fail(PROG_EXIT_USAGE, &err);
	}
	if (s_hubs(a, hubs, sizeof hubs, &err))
		return prog_fail(PROG_EXIT_USAGE, &err);
	if (!keys_valid_z85(hub_key)) {
		err_set(&err, ERR_BAD_REQUEST,
		    "--hub-key: not a Z85 CURVE public key (40 characters, from bl-hub init or key)");
		return prog_fail(PROG_EXIT_USAGE, &err);
	}
	snprintf(path, sizeof path, "%s/%s", dir, NODE_DB);
	if (access(path, F_OK) == 0) {
		err_set(&err, ERR_CONFLICT, "%s: already holds a node", dir);
		return prog_fail(1, &err);
	}
	if (daemon_private_dir(dir, &err) ||
	    keys_generate(dir, NODE_KEY, pub, &err))
		return prog_fail(1, &err);
	memset(&conf, 0, sizeof conf);
	conf_set(&conf, "site", site);
	conf_set(&conf, "hub", hubs);
	conf_set(&conf, "hub_key", hub_key);
	conf_set(&conf, "http", args_get(a, "http", NODE_DEFAULT_HTTP));
	if (conf_save(dir, &conf, &err))
		return prog_fail(1, &err);
	st = store_open(path, STORE_NODE, 1, &apply_rules, &err);
	if (st == NULL || store_begin(st, &err) ||
	    store_meta_set_text(st, "site", site, &err) ||
	    store_commit(st, &err)) {
		store_close(&st);
		return prog_fail(1, &err);
	}
	store_close(&st);
	printf("%s\n", pub);
	return 0;
}

static int
s_key(const args_t *a)
{
	char pub[KEYS_Z85_LEN + 1];
	err_t err;

	if (keys_load_public(args_get(a, "data", "."), NODE_KEY, pub, &err))
		return prog_fail(1, &err);
	printf("%s\n", pub);
	return 0;
}

/* audit: this store's own log against its chain; quarantine list|retry
 * (operator.h). */
static int
s_audit(const args_t *a)
{
	return operator_audit(a, s_open, 0);
}

static int
s_quarantine_list(const args_t *a)
{
	return operator_quarantine_list(a, s_open);
}

static int
s_quarantine_retry(const args_t *a)
{
	return operator_quarantine_retry(a, s_open, NULL, NULL);
}

/* Opens what every networked command needs: config, keys, store. */
static int
s_open_all(const char *dir, conf_t *conf, keypair_t *keys, store_t **st,
    err_t *err)
{
	memset(keys, 0, sizeof *keys);
	if (conf_load(dir, conf, err) || keys_load(dir, NODE_KEY, keys, err))
		return -1;
	if ((*st = s_open(dir, err)) == NULL) {
		keys_free(keys);
		return -1;
	}
	return 0;
}

/* Ops quarantined until their order is held (own.h) are taken up again
 * once it is: here after a sync round, in the daemon every second. Returns
 * how many were applied (what they made this site record is to push). */
static int
s_retry_waiting(store_t *st)
{
	int applied = 0, kept = 0;
	err_t err;

	if (own_retry_arrived(st, NULL, NULL, &applied, &kept, &err))
		log_warn("quarantine: ops waiting for their order: %s",
		    err.msg);
	else if (applied + kept > 0)
		log_info("quarantine: %d ops that waited for their order "
			 "applied, %d refused",
		    applied, kept);
	return applied;
}

/* ---- sync: one round, then exit ---- */

typedef struct {
	struct event_base *base;
	int done;
} oneshot_t;

static void
s_sync_progress(client_t *c, void *arg)
{
	oneshot_t *o = arg;

	if (client_caught_up(c) || client_refusal(c)[0] != '\0') {
		o->done = 1;
		event_base_loopbreak(o->base);
	}
}

static void
s_on_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

/* Runs the client until caught up, refused, or timeout seconds. */
static int
s_round(const char *dir, int timeout, int *caught_up, char *why,
    size_t why_size, json_t *status)
{
	conf_t conf;
	keypair_t keys;
	store_t *st = NULL;
	client_t *c;
	oneshot_t o = { 0 };
	struct event *timer;
	struct timeval tv = { timeout, 0 };
	int bound, low;
	err_t err;

	log_set_quiet(1); /* a one-shot round reports its own failure */
	if (s_open_all(dir, &conf, &keys, &st, &err)) {
		snprintf(why, why_size, "%s", err.msg);
		return -1;
	}
	/* As in the daemon (daemon.h): a long catch-up's commits do not wait
	 * for the WAL's copy into the database, which a thread makes. */
	if (conf_disk_limits(&conf, &bound, &low, &err) ||
	    store_checkpoint_in_background(st, bound, low, &err))
		log_warn("%s; SQLite checkpoints inside commits instead",
		    err.msg);
	o.base = event_base_new();
	c = client_new(o.base, st, &conf, &keys, &err);
	if (c == NULL) {
		snprintf(why, why_size, "%s", err.msg);
		event_base_free(o.base);
		store_close(&st);
		keys_free(&keys);
		return -1;
	}
	client_set_progress(c, s_sync_progress, &o);
	timer = evtimer_new(o.base, s_on_timeout, o.base);
	evtimer_add(timer, &tv);
	event_base_dispatch(o.base);
	*caught_up = client_caught_up(c);
	if (client_refusal(c)[0] != '\0')
		snprintf(why, why_size, "%s", client_refusal(c));
	else if (!*caught_up && client_last_error(c)[0] != '\0')
		snprintf(why, why_size, "%s", client_last_error(c));
	else if (!*caught_up && client_state(c) == LINK_DOWN)
		snprintf(why, why_size, "hub %s: no reply within %d s",
		    client_hub(c), timeout);
	else if (!*caught_up)
		snprintf(why, why_size, "hub %s: not caught up within %d s",
		    client_hub(c), timeout);
	if (status != NULL)
		client_status(c, status);
	event_free(timer);
	client_destroy(&c);
	s_retry_waiting(st);
	event_base_free(o.base);
	store_close(&st);
	keys_free(&keys);
	return 0;
}

/* ---- beside a running daemon ---- */

/* A daemon serving the data directory has the one session to the hub a
 * site may hold: sync and status ask it over its HTTP API instead of
 * opening a second one, which the hub would take for the same data folder
 * reconnecting and swap for the daemon's. */

#define DAEMON_POLL_MS 100    /* between two questions to the daemon */
#define DAEMON_ANSWER_MS 2000 /* for one answer */

static void
s_nap(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Asks the daemon serving dir (process pid, -1 unknown) for its status,
 * again every DAEMON_POLL_MS while it does not answer (it may be
 * starting) until wait_ms have passed; a refusal (a wrong token) is
 * final. 0 with *out (caller owns), or -1
 * with err "daemon of DIR (process PID): GET URL: why". */
static int
s_daemon_status(const char *dir, long pid, int wait_ms, json_t **out,
    err_t *err)
{
	uint64_t until = hlc_wall_ms() + (uint64_t)wait_ms;

	while (daemon_ask(dir, "/v1/status", DAEMON_ANSWER_MS, out, err)) {
		if (err->code != ERR_UNAVAILABLE || hlc_wall_ms() >= until) {
			if (pid > 0)
				return err_prefix(err,
				    "daemon of %s (process %ld)", dir, pid);
			return err_prefix(err, "daemon of %s", dir);
		}
		s_nap(DAEMON_POLL_MS);
	}
	return 0;
}

/* bl-node sync beside the daemon: waits until it reports itself caught up
 * (client_caught_up), refused, or timeout seconds, with the reasons a
 * round of our own gives. */
static int
s_sync_by_daemon(const char *dir, long pid, int timeout)
{
	uint64_t until = hlc_wall_ms() + (uint64_t)timeout * 1000;
	const char *hub, *link, *why;
	json_t *o;
	err_t err;

	err_clear(&err);
	for (;;) {
		if (s_daemon_status(dir, pid, timeout * 1000, &o, &err))
			return prog_fail(1, &err);
		if (json_is_true(json_object_get(o, "caught_up"))) {
			json_decref(o);
			return 0;
		}
		if (json_object_get(o, "refusal") != NULL ||
		    hlc_wall_ms() >= until)
			break;
		json_decref(o);
		s_nap(DAEMON_POLL_MS);
	}
	hub = json_string_value(json_object_get(o, "hub")) ?: "?";
	link = json_string_value(json_object_get(o, "hub_link")) ?: "";
	if ((why = json_string_value(json_object_get(o, "refusal"))) != NULL ||
	    (why = json_string_value(json_object_get(o, "hub_error"))) != NULL)
		err_set(&err, ERR_UNAVAILABLE, "%s", why);
	else if (strcmp(link, "down") == 0)
		err_set(&err, ERR_UNAVAILABLE, "hub %s: no reply within %d s",
		    hub, timeout);
	else
		err_set(&err, ERR_UNAVAILABLE,
		    "hub %s: not caught up within %d s", hub, timeout);
	json_decref(o);
	return prog_fail(1, &err);
}

static int
s_sync(const args_t *a)
{
	const char *dir = args_get(a, "data", ".");
	int timeout = atoi(args_get(a, "timeout", "10")), caught_up = 0;
	char why[ERR_MSG_MAX] = "";
	long pid;
	err_t err;

	if (timeout <= 0) {
		err_set(&err, ERR_BAD_REQUEST,
		    "--timeout: must be a positive number of seconds");
		return prog_fail(PROG_EXIT_USAGE, &err);
	}
	if (runlock_holder(dir, &pid, &err))
		return prog_fail(1, &err);
	if (pid != 0)
		return s_sync_by_daemon(dir, pid, timeout);
	if (s_round(dir, timeout, &caught_up, why, sizeof why, NULL) != 0 ||
	    !caught_up) {
		err_set(&err, ERR_UNAVAILABLE, "%s", why);
		return prog_fail(1, &err);
	}
	return 0;
}

/* ---- status ---- */

/* The "disk" part of status: what the files use, against the bounds set
 * in the config (the daemon's checkpointer reports its own progress in
 * GET /v1/status). */
static int
s_disk(const char *dir, store_t *st, json_t *o, err_t *err)
{
	ckpt_health_t h;
	conf_t conf;
	int bound, low;

	if (conf_load(dir, &conf, err) ||
	    conf_disk_limits(&conf, &bound, &low, err))
		return -1;
	store_health(st, &h);
	h.wal_bound_bytes = (int64_t)bound * 1024 * 1024;
	h.disk_low_bytes = (int64_t)low * 1024 * 1024;
	json_object_set_new(o, "disk", ckpt_health_json(&h, store_path(st)));
	return 0;
}

static void
s_print_disk(const json_t *disk)
{
	const json_t *w;
	size_t i;

	printf("database       %.1f MB, WAL %.1f MB (bound %.0f MB), "
	       "%.1f GB free\n",
	    json_integer_value(json_object_get(disk, "db_bytes")) / 1048576.0,
	    json_integer_value(json_object_get(disk, "wal_bytes")) / 1048576.0,
	    json_integer_value(json_object_get(disk, "wal_bound_bytes")) /
		1048576.0,
	    json_integer_value(json_object_get(disk, "free_bytes")) /
		1073741824.0);
	json_array_foreach(json_object_get(disk, "warnings"), i, w)
		printf("warning        %s\n", json_string_value(w));
}

/* Status without a daemon: the replica's counters, and a short round of
 * our own to tell whether the hub is reachable (it syncs, too). *out is
 * the caller's. */
static int
s_status_here(const char *dir, json_t **out, err_t *err)
{
	store_t *st;
	json_t *o, *link;
	int64_t seq = 0, last_sync = 0, cursor = 0;
	int caught_up = 0;
	char why[ERR_MSG_MAX] = "";

	if ((st = s_open(dir, err)) == NULL)
		return -1;
	if (store_meta_get_int(st, "seq", 0, &seq, err) ||
	    store_meta_get_int(st, "last_sync", 0, &last_sync, err) ||
	    store_meta_get_int(st, "cursor", 0, &cursor, err)) {
		store_close(&st);
		return -1;
	}
	o = json_pack("{s:s, s:I, s:I, s:I, s:I}", "site", store_site(st),
	    "last_seq", (json_int_t)seq, "cursor", (json_int_t)cursor,
	    "quarantined", (json_int_t)store_quarantine_count(st),
	    "last_sync_ms", (json_int_t)last_sync);
	if (s_disk(dir, st, o, err)) {
		json_decref(o);
		store_close(&st);
		return -1;
	}
	store_close(&st);
	link = json_object();
	s_round(dir, 2, &caught_up, why, sizeof why, link);
	json_object_update(o, link);
	json_decref(link);
	json_object_set_new(o, "hub_reachable",
	    json_boolean(caught_up ||
		strcmp(json_string_value(json_object_get(o, "hub_link")) ?: "",
		    "up") == 0));
	if (!caught_up && why[0] != '\0')
		json_object_set_new(o, "hub_problem", json_string(why));
	*out = o;
	return 0;
}

/* Status from the daemon serving dir (process pid): its own view, with
 * the fields the command adds. *out is the caller's. */
static int
s_status_by_daemon(const char *dir, long pid, json_t **out, err_t *err)
{
	const char *problem;
	json_t *o;

	if (s_daemon_status(dir, pid, DAEMON_ANSWER_MS, &o, err))
		return -1;
	if (pid > 0)
		json_object_set_new(o, "daemon_pid", json_integer(pid));
	json_object_set_new(o, "hub_reachable",
	    json_boolean(
		strcmp(json_string_value(json_object_get(o, "hub_link")) ?: "",
		    "up") == 0));
	problem = json_string_value(json_object_get(o, "refusal"));
	if (problem == NULL)
		problem = json_string_value(json_object_get(o, "hub_error"));
	if (problem != NULL)
		json_object_set_new(o, "hub_problem", json_string(problem));
	*out = o;
	return 0;
}

static void
s_print_status(const json_t *o)
{
	int64_t last_sync = json_integer_value(
	    json_object_get(o, "last_sync_ms"));
	int64_t pid = json_integer_value(json_object_get(o, "daemon_pid"));
	const json_t *b;
	size_t i;

	printf("site           %s\n",
	    json_string_value(json_object_get(o, "site")));
	if (pid != 0)
		printf("daemon         running (process %lld)\n",
		    (long long)pid);
	printf("hub            %s (%s)\n",
	    json_string_value(json_object_get(o, "hub")),
	    json_is_true(json_object_get(o, "hub_reachable")) ? "reachable"
							      : "unreachable");
	/* The endpoints it fails over between, when there are several. */
	if (json_array_size(json_object_get(o, "hubs")) > 1) {
		printf("hubs          ");
		json_array_foreach(json_object_get(o, "hubs"), i, b)
			printf(" %s", json_string_value(b));
		printf("\n");
	}
	if (json_object_get(o, "hub_problem"))
		printf("hub problem    %s\n",
		    json_string_value(json_object_get(o, "hub_problem")));
	if (json_object_get(o, "clock_problem"))
		printf("CLOCK PROBLEM  %s\n",
		    json_string_value(json_object_get(o, "clock_problem")));
	if (last_sync > 0) {
		time_t t = (time_t)(last_sync / 1000);
		char stamp[32];

		strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S UTC",
		    gmtime(&t));
		printf("last sync      %s\n", stamp);
	} else {
		printf("last sync      never\n");
	}
	printf("waiting push   %lld ops\n",
	    (long long)json_integer_value(json_object_get(o, "pending_push")));
	printf("quarantined    %lld ops\n",
	    (long long)json_integer_value(json_object_get(o, "quarantined")));
	/* What head office newly let this site see, still coming
	 * (proto.h, backfill). */
	if (json_object_get(o, "region") != NULL)
		printf("region         %s\n",
		    json_string_value(json_object_get(o, "region")));
	if (json_array_size(json_object_get(o, "backfills")) == 0)
		printf("backfills      none pending\n");
	json_array_foreach(json_object_get(o, "backfills"), i, b)
		printf("backfill       %s, applied up to hub lsn %lld\n",
		    json_string_value(json_object_get(b, "key")),
		    (long long)json_integer_value(json_object_get(b, "after")));
	s_print_disk(json_object_get(o, "disk"));
}

static int
s_status(const args_t *a)
{
	const char *dir = args_get(a, "data", ".");
	json_t *o;
	long pid;
	err_t err;

	if (runlock_holder(dir, &pid, &err) ||
	    (pid != 0 ? s_status_by_daemon(dir, pid, &o, &err)
		      : s_status_here(dir, &o, &err)))
		return prog_fail(1, &err);
	if (args_has(a, "json")) {
		char *text = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);

		printf("%s\n", text);
		free(text);
	} else {
		s_print_status(o);
	}
	json_decref(o);
	return 0;
}

/* ---- run: the daemon ---- */

/* What bl-node run starts in the daemon's loop (daemon.h); s_stop frees. */
typedef struct {
	retain_t *retain;
	client_t *client;
	api_t *api;
	struct event *waiting; /* retries ops that waited for their order */
	store_t *store;	       /* the daemon's, borrowed */
} node_run_t;

static void
s_on_waiting(evutil_socket_t fd, short what, void *arg)
{
	node_run_t *n = arg;

	(void)fd;
	(void)what;
	if (s_retry_waiting(n->store) > 0)
		client_wrote(n->client);
}

/* The API's hooks; arg is the client. */
static void
s_api_status(void *client, json_t *status)
{
	client_status(client, status);
}

static void
s_api_wrote(void *client)
{
	client_wrote(client);
}

/* The settings run checks before it opens anything: the API token and
 * the retention. */
static int
s_check(const conf_t *conf, err_t *err)
{
	long long days;

	if (api_token_check(conf_get(conf, "token", NULL), err) ||
	    conf_get_int(conf, "retain_days", RETAIN_DEFAULT_DAYS, 0, 36500,
		&days, err))
		return -1;
	return 0;
}

static void
s_api_alerts(void *arg, json_t *items)
{
	client_alerts(arg, items);
}

/* Starts retention, the link to the hub and the API over the daemon's
 * store, keeping them in arg (a node_run_t) for s_stop. The settings are
 * checked (s_check). */
static int
s_start(daemon_t *d, void *arg, err_t *err)
{
	node_run_t *n = arg;
	int http_port = -1;
	long long days;

	if (conf_get_int(&d->conf, "retain_days", RETAIN_DEFAULT_DAYS, 0, 36500,
		&days, err))
		return -1;
	n->retain = retain_start(d->base, d->store, (int)days);
	n->client = client_new(d->base, d->store, &d->conf, &d->keys, err);
	if (n->client == NULL)
		return -1;
	n->store = d->store;
	n->waiting = event_new(d->base, -1, EV_PERSIST, s_on_waiting, n);
	if (n->waiting == NULL ||
	    event_add(n->waiting, &(struct timeval){ 1, 0 }) != 0)
		return err_set(err, ERR_INTERNAL, "run: cannot start a timer");
	n->api = api_new(d->base, d->store, "site");
	/* Tills that sell at once share a commit's fsync (group.h). */
	api_group_writes(n->api);
	api_set_hooks(n->api, s_api_status, s_api_wrote, n->client);
	api_set_alerts_hook(n->api, s_api_alerts);
	if (api_bind(n->api, conf_get(&d->conf, "http", NODE_DEFAULT_HTTP),
		conf_get(&d->conf, "token", NULL), &http_port, err) ||
	    conf_write_ports(d->dir, -1, http_port, err))
		return -1;
	log_info("node %s ready: http port %d, hub %s", store_site(d->store),
	    http_port, conf_get(&d->conf, "hub", "?"));
	return 0;
}

/* Frees what s_start kept in arg; any of it may be NULL. */
static void
s_stop(void *arg)
{
	node_run_t *n = arg;

	if (n->waiting != NULL)
		event_free(n->waiting);
	n->waiting = NULL;
	api_destroy(&n->api);
	retain_stop(&n->retain);
	client_destroy(&n->client);
}

/* bl-node run: the node's daemon until SIGTERM or SIGINT (daemon.h). */
static int
s_run(const args_t *a)
{
	static const daemon_spec_t spec = { NODE_KEY, { "http", NULL }, s_check,
		s_open, s_start, s_stop };
	node_run_t n = { NULL, NULL, NULL, NULL, NULL };

	return daemon_run(&spec, a, &n);
}

/* ---- backup and restore (backup.h) ---- */

static int
s_backup(const args_t *a)
{
	return backup_cmd(a, NODE_DB);
}

static int
s_restore(const args_t *a)
{
	return backup_restore_cmd(a, NODE_DB, STORE_NODE);
}

/* ---- for people at the site ---- */

static int
s_move(const args_t *a)
{
	store_t *st;
	json_t *req, *out;
	int created;
	char *end;
	long long delta;
	const char *d = args_get(a, "delta", NULL);
	err_t err;

	err_clear(&err);
	if (d == NULL || args_get(a, "sku", NULL) == NULL ||
	    args_get(a, "reason", NULL) == NULL) {
		err_set(&err, ERR_BAD_REQUEST,
		    "--sku, --delta and --reason are required");
		return prog_fail(PROG_EXIT_USAGE, &err);
	}
	errno = 0;
	delta = strtoll(d, &end, 10);
	if (*end != '\0' || errno != 0) {
		err_set(&err, ERR_BAD_REQUEST, "--delta '%s': not an integer",
		    d);
		return prog_fail(PROG_EXIT_USAGE, &err);
	}
	if ((st = s_open(args_get(a, "data", "."), &err)) == NULL)
		return prog_fail(1, &err);
	req = json_pack("{s:s, s:I, s:s}", "sku", args_get(a, "sku", ""),
	    "delta", (json_int_t)delta, "reason", args_get(a, "reason", ""));
	if (args_has(a, "id"))
		json_object_set_new(req, "id",
		    json_string(args_get(a, "id", "")));
	if (args_has(a, "ref"))
		json_object_set_new(req, "ref",
		    json_string(args_get(a, "ref", "")));
	if (stock_record(st, req, &out, &created, &err)) {
		json_decref(req);
		store_close(&st);
		return prog_fail(1, &err);
	}
	printf("%s %s: %s %+lld %s\n",
	    created ? "recorded" : "already recorded",
	    json_string_value(json_object_get(out, "id")),
	    json_string_value(json_object_get(out, "sku")),
	    (long long)json_integer_value(json_object_get(out, "delta")),
	    json_string_value(json_object_get(out, "reason")));
	json_decref(req);
	json_decref(out);
	store_close(&st);
	return 0;
}

/* Drops other sites' ops older than --days (default: the
 * config's retain_days) now, as the daemon does every hour. */
static int
s_prune(const args_t *a)
{
	const char *dir = args_get(a, "data", ".");
	const char *d = args_get(a, "days", NULL);
	long long days;
	int64_t dropped;
	store_t *st;
	conf_t conf;
	char *end;
	err_t err;

	err_clear(&err);
	if (d != NULL) {
		days = strtoll(d, &end, 10);
		if (d[0] == '\0' || *end != '\0' || days < 0 || days > 36500) {
			err_set(&err, ERR_BAD_REQUEST,
			    "--days '%s': a whole number of days from 0 to 36500",
			    d);
			return prog_fail(PROG_EXIT_USAGE, &err);
		}
	} else if (conf_load(dir, &conf, &err) ||
	    conf_get_int(&conf, "retain_days", RETAIN_DEFAULT_DAYS, 0, 36500,
		&days, &err)) {
		return prog_fail(1, &err);
	} else if (days == 0) {
		/* 0 in the config keeps everything; only an explicit --days 0
		 * drops every other site's op. */
		err_set(&err, ERR_BAD_REQUEST,
		    "%s/config: retain_days=0 keeps every op; give --days to prune",
		    dir);
		return prog_fail(1, &err);
	}
	if ((st = s_open(dir, &err)) == NULL)
		return prog_fail(1, &err);
	if (retain_pass(st, (int)days, &dropped, &err)) {
		store_close(&st);
		return prog_fail(1, &err);
	}
	store_close(&st);
	printf("dropped %lld ops of other sites older than %lld days\n",
	    (long long)dropped, days);
	return 0;
}

/* Records many movements from a file of JSON lines (a delivery, a count
 * sheet), all or nothing in one transaction. */
static int
s_import(const args_t *a)
{
	const char *file = args_get(a, "file", NULL);
	FILE *f;
	store_t *st;
	char *line = NULL;
	size_t cap = 0;
	long lineno = 0, added = 0, repeated = 0;
	json_t *req, *out;
	json_error_t jerr;
	int created;
	err_t err;

	err_clear(&err);
	if (file == NULL) {
		err_set(&err, ERR_BAD_REQUEST,
		    "--file is required (- for stdin)");
		return prog_fail(PROG_EXIT_USAGE, &err);
	}
	f = strcmp(file, "-") == 0 ? stdin : fopen(file, "r");
	if (f == NULL) {
		err_set(&err, ERR_NOT_FOUND, "%s: %s", file, strerror(errno));
		return prog_fail(1, &err);
	}
	if ((st = s_open(args_get(a, "data", "."), &err)) == NULL ||
	    store_begin(st, &err))
		goto fail;
	while (getline(&line, &cap, f) > 0) {
		lineno++;
		if (line[strspn(line, " \t\r\n")] == '\0')
			continue;
		req = json_loads(line, JSON_REJECT_DUPLICATES, &jerr);
		if (req == NULL) {
			err_set(&err, ERR_BAD_REQUEST,
			    "%s line %ld: invalid JSON: %s", file, lineno,
			    jerr.text);
			goto fail;
		}
		if (stock_record_in(st, req, &out, &created, &err)) {
			json_decref(req);
			err_prefix(&err, "%s line %ld", file, lineno);
			goto fail;
		}
		json_decref(req);
		json_decref(out);
		if (created)
			added++;
		else
			repeated++;
	}
	if (store_commit(st, &err))
		goto fail;
	printf("imported %ld movements (%ld already recorded)\n", added,
	    repeated);
	free(line);
	store_close(&st);
	if (f != stdin)
		fclose(f);
	return 0;
fail:
	if (st != NULL)
		store_rollback(st);
	store_close(&st);
	free(line);
	if (f != stdin)
		fclose(f);
	return prog_fail(1, &err);
}

static void
s_usage(void)
{
	fprintf(stderr,
	    "usage: bl-node init   --data DIR --site ID --hub tcp://HOST:PORT [--hub ...] --hub-key KEY [--http HOST:PORT]\n"
	    "       bl-node key    --data DIR\n"
	    "       bl-node run    --data DIR [--http HOST:PORT]\n"
	    "       bl-node sync   --data DIR [--timeout SECONDS]\n"
	    "       bl-node status --data DIR [--json]\n"
	    "       bl-node backup --data DIR --to FILE [--force]   (while the daemon runs)\n"
	    "       bl-node restore --data DIR --from FILE   (the daemon stopped)\n"
	    "       bl-node audit  --data DIR   (this store's own log against its chain)\n"
	    "       bl-node quarantine list|retry --data DIR [--origin SITE] [--seq N]\n"
	    "       bl-node move   --data DIR --sku SKU --delta N --reason REASON [--id ID] [--ref TEXT]\n"
	    "       bl-node import --data DIR --file FILE|-   (JSON lines of movements, all or nothing)\n"
	    "       bl-node prune  --data DIR [--days N]   (drop other sites' ops older than N days)\n");
	cli_usage(stderr);
}

int
main(int argc, char **argv)
{
	static const char *const json_flag[] = { "json", NULL };
	static const char *const force_flag[] = { "force", NULL };
	static const prog_cmd_t cmds[] = {
		{ "init", s_init,
		    { "data", "site", "hub", "hub-key", "http", NULL }, NULL },
		{ "key", s_key, { "data", NULL }, NULL },
		{ "run", s_run, { "data", "http", NULL }, NULL },
		{ "sync", s_sync, { "data", "timeout", NULL }, NULL },
		{ "status", s_status, { "data", NULL }, json_flag },
		{ "backup", s_backup, { "data", "to", NULL }, force_flag },
		{ "restore", s_restore, { "data", "from", NULL }, NULL },
		{ "audit", s_audit, { "data", NULL }, NULL },
		{ "quarantine list", s_quarantine_list,
		    { "data", "origin", NULL }, NULL },
		{ "quarantine retry", s_quarantine_retry,
		    { "data", "origin", "seq", NULL }, NULL },
		{ "move", s_move,
		    { "data", "sku", "delta", "reason", "id", "ref", NULL },
		    NULL },
		{ "import", s_import, { "data", "file", NULL }, NULL },
		{ "prune", s_prune, { "data", "days", NULL }, NULL },
	};

	log_init("bl-node");
	/* Whatever a command creates in the data directory (databases, their
	 * -wal and -shm, keys, config, ports) is for this user only. */
	umask(077);
	if (argc >= 2 && cli_is_command(argv[1]))
		return cli_run(argc - 1, argv + 1);
	return prog_main("bl-node", cmds, sizeof cmds / sizeof cmds[0], s_usage,
	    argc, argv);
}
