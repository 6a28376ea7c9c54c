/*
 * bl-hub: head office. Commands: init, key, enroll, revoke, run, backup,
 * restore.
 *
 * A hub whose config has store= is one of a cluster on PostgreSQL
 * (cluster.h): init --store creates or joins it, enroll, revoke and
 * region write PostgreSQL, the shared truth, before the local hub.db,
 * and run keeps hub.db's sites a copy of the shared registry
 * (clusterpoll.c). migrate makes a hub on its own a cluster's first
 * (migrate.c).
 *
 * Every failure prints one line, "bl-hub: COMMAND: what: why", and exits 1
 * (runtime) or 2 (bad usage).
 */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "apply.h"
#include "args.h"
#include "backup.h"
#include "cluster.h"
#include "daemon.h"
#include "hub.h"
#include "log.h"
#include "operator.h"
#include "own.h"
#include "pgstore.h"
#include "prog.h"
#include "site.h"

static void
s_db_path(const char *dir, char *path, size_t size)
{
	snprintf(path, size, "%s/%s", dir, HUB_DB);
}

/* Opens the hub's store in dir (hub_open) and begins a transaction; the
 * caller owns the store and ends the transaction (s_end). NULL with err
 * (nothing left open). */
static store_t *
s_begin(const char *dir, err_t *err)
{
	store_t *st = hub_open(dir, err);

	if (st != NULL && store_begin(st, err))
		store_close(&st);
	return st;
}

/* Ends s_begin's transaction: commits it when err is clear, else rolls it
 * back; closes *st. Returns the command's exit status: 0, or 1 with err
 * printed. */
static int
s_end(store_t **st, err_t *err)
{
	if (err->code != ERR_OK || store_commit(*st, err)) {
		store_rollback(*st);
		store_close(st);
		return prog_fail(1, err);
	}
	store_close(st);
	return 0;
}

/* The hub's store with what it acknowledged and has not applied yet
 * applied (visibility_apply_all), as the daemon does once PUSHes pause:
 * the log is then the whole record the audit reads. */
static store_t *
s_open_applied(const char *dir, err_t *err)
{
	store_t *st = hub_open(dir, err);

	if (st != NULL && visibility_apply_all(st, err))
		store_close(&st);
	return st;
}

/* audit [--site ID]: every site's log against its chain and signatures;
 * quarantine list|retry (operator.h), a retry taking each op as its origin
 * would send it (hub_from_of): a running hub streams what was applied
 * within a second. */
static int
s_audit(const args_t *a)
{
	return operator_audit(a, s_open_applied, 1);
}

static int
s_quarantine_list(const args_t *a)
{
	return operator_quarantine_list(a, hub_open);
}

static int
s_quarantine_retry(const args_t *a)
{
	hub_from_t from;

	memset(&from, 0, sizeof from);
	return operator_quarantine_retry(a, hub_open, hub_from_of, &from);
}

/* init's --site: 0, or -1 with err (ERR_BAD_REQUEST). */
static int
s_init_site_check(const char *site, err_t *err)
{
	if (!op_site_valid(site))
		return err_set(err, ERR_BAD_REQUEST,
		    "--site '%s': use 1-16 of A-Z a-z 0-9 _", site);
	/* Every replica tells head office by its id (own.h). */
	if (!own_is_hq(site))
		return err_set(err, ERR_BAD_REQUEST,
		    "--site '%s': head office's id begins with " OWN_HQ_PREFIX,
		    site);
	return 0;
}

static int s_init_cluster(const args_t *a);

static int
s_init(const args_t *a)
{
	const char *dir = args_get(a, "data", NULL);
	const char *site = args_get(a, "site", HUB_DEFAULT_SITE);
	char path[4096], pub[KEYS_Z85_LEN + 1];
	store_t *st = NULL;
	conf_t conf;
	err_t err;
	sqlite3_stmt *s;

	err_clear(&err);
	if (args_has(a, "store"))
		return s_init_cluster(a);
	if (args_has(a, "key")) {
		err_set(&err, ERR_BAD_REQUEST,
		    "--key joins a cluster: it needs --store postgresql://...");
		return prog_fail(PROG_EXIT_USAGE, &err);
	}
	s_db_path(dir, path, sizeof path);
	if (s_init_site_check(site, &err))
		return prog_fail(PROG_EXIT_USAGE, &err);
	if (access(path, F_OK) == 0) {
		err_set(&err, ERR_CONFLICT, "%s: already holds a hub", dir);
		return prog_fail(1, &err);
	}
	if (daemon_private_dir(dir, &err) ||
	    keys_generate(dir, HUB_KEY, pub, &err))
		return prog_fail(1, &err);
	memset(&conf, 0, sizeof conf);
	conf_set(&conf, "site", site);
	conf_set(&conf, "listen", args_get(a, "listen", HUB_DEFAULT_LISTEN));
	conf_set(&conf, "http", args_get(a, "http", HUB_DEFAULT_HTTP));
	if (conf_save(dir, &conf, &err))
		return prog_fail(1, &err);
	st = store_open(path, STORE_HUB, 1, &apply_rules, &err);
	if (st == NULL || store_begin(st, &err) ||
	    store_meta_set_text(st, "site", site, &err) ||
	    store_meta_set_text(st, "role", "hq", &err))
		goto fail;
	s = store_stmt(st,
	    "INSERT INTO sites(id, role, pubkey, name, "
	    "enrolled_at) VALUES (?, 'hq', ?, 'head office', ?)");
	sqlite3_bind_text(s, 1, site, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, pub, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, (int64_t)hlc_wall_ms());
	if (sqlite3_step(s) != SQLITE_DONE) {
		err_set(&err, ERR_INTERNAL, "register %s: %s", site,
		    sqlite3_errmsg(store_db(st)));
		sqlite3_reset(s);
		goto fail;
	}
	sqlite3_reset(s);
	if (store_commit(st, &err))
		goto fail;
	store_close(&st);
	printf("%s\n", pub);
	return 0;
fail:
	if (st != NULL)
		store_rollback(st);
	store_close(&st);
	return prog_fail(1, &err);
}

/* ---- a hub of a cluster on PostgreSQL (cluster.h) ---- */

/* What init --store made in its data directory, for s_init_undo. */
typedef struct {
	const char *dir;
	int dir_made; /* the directory itself */
	int keys;     /* hub.key and hub.pub */
	int conf;     /* config */
	int db;	      /* hub.db and its -wal, -shm, -journal */
} init_made_t;

/* Removes what a failed init --store made, so that nothing is left
 * half-made; what was there before stays. */
static void
s_init_undo(const init_made_t *m)
{
	static const char *const db_files[] = { HUB_DB, HUB_DB "-wal",
		HUB_DB "-shm", HUB_DB "-journal" };
	char path[4096];
	size_t i;

	for (i = 0; m->db && i < sizeof db_files / sizeof db_files[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", m->dir, db_files[i]);
		unlink(path);
	}
	if (m->keys) {
		snprintf(path, sizeof path, "%s/%s.key", m->dir, HUB_KEY);
		unlink(path);
		snprintf(path, sizeof path, "%s/%s.pub", m->dir, HUB_KEY);
		unlink(path);
	}
	if (m->conf) {
		snprintf(path, sizeof path, "%s/config", m->dir);
		unlink(path);
		snprintf(path, sizeof path, "%s/config.tmp", m->dir);
		unlink(path);
	}
	if (m->dir_made)
		rmdir(m->dir);
}

/* Whether DIR/NAME exists. */
static int
s_exists(const char *dir, const char *name)
{
	char path[4096];

	snprintf(path, sizeof path, "%s/%s", dir, name);
	return access(path, F_OK) == 0;
}

/* Loads the key pair --key names (DIR/hub.key, with DIR/hub.pub beside
 * it) into kp and checks that they are one pair. -1 with err. */
static int
s_init_load_key(const char *file, keypair_t *kp, err_t *err)
{
	char dir[4096], name[256];
	const char *slash = strrchr(file, '/');
	const char *base = slash != NULL ? slash + 1 : file;
	size_t len = strlen(base);

	if (len <= 4 || strcmp(base + len - 4, ".key") != 0 ||
	    len - 4 >= sizeof name)
		return err_set(err, ERR_BAD_REQUEST,
		    "--key '%s': name the hub's secret key file (DIR/%s.key)",
		    file, HUB_KEY);
	if (slash == NULL)
		snprintf(dir, sizeof dir, ".");
	else if (slash == file)
		snprintf(dir, sizeof dir, "/");
	else
		snprintf(dir, sizeof dir, "%.*s", (int)(slash - file), file);
	snprintf(name, sizeof name, "%.*s", (int)(len - 4), base);
	if (keys_load(dir, name, kp, err))
		return -1;
	if (!keys_pair_ok(kp)) {
		keys_free(kp);
		return err_set(err, ERR_FORBIDDEN,
		    "--key '%s': %s/%s.pub beside it is not its public key",
		    file, dir, name);
	}
	return 0;
}

/* A public key for a joining hub's own hq site row: sites.pubkey is
 * UNIQUE and every hub of a cluster shares one CURVE key pair, so each
 * joined hub's row gets 32 random bytes, a Curve25519 public key whose
 * secret nobody has: nothing ever connects with it. Only the first hub's
 * row holds the hub key, as a hub on its own does. */
static int
s_unused_pubkey(char *z85, err_t *err)
{
	uint8_t raw[32];

	randombytes_buf(raw, sizeof raw);
	if (zmq_z85_encode(z85, raw, sizeof raw) == NULL)
		return err_set(err, ERR_INTERNAL, "keys: Z85 encoding failed");
	return 0;
}

/* init --data DIR --store URI [--key HUBDIR/hub.key] [--site ID]: the
 * first hub of a cluster (its hub key pair generated, as init does) or
 * one joining it (the pair --key names copied, checked against the
 * cluster's). Both register their hq site in PostgreSQL and hub.db, copy
 * the registry into hub.db and keep store=URI in the config. Everything
 * that can be checked is checked before DIR is touched (PostgreSQL
 * reachable, the key the cluster's), and a later failure removes what
 * was made. */
static int
s_init_cluster(const args_t *a)
{
	const char *dir = args_get(a, "data", NULL);
	const char *uri = args_get(a, "store", "");
	const char *key = args_get(a, "key", NULL);
	char path[4096], site[OP_SITE_MAX + 1], pub[KEYS_Z85_LEN + 1];
	char hq_pub[KEYS_Z85_LEN + 1], claimed[KEYS_Z85_LEN + 1];
	init_made_t made = { dir, 0, 0, 0, 0 };
	cluster_site_t hq;
	cluster_t *c = NULL;
	store_t *st = NULL;
	keypair_t kp;
	conf_t conf;
	err_t err;
	uint64_t last = 0;
	size_t n = 0;

	err_clear(&err);
	memset(&kp, 0, sizeof kp);
	/* The URI may hold a password: it is not repeated. */
	if (strncmp(uri, "postgresql://", 13) != 0 &&
	    strncmp(uri, "postgres://", 11) != 0)
		err_set(&err, ERR_BAD_REQUEST,
		    "--store: not a postgresql://USER@HOST:PORT/DATABASE URI");
	else if (args_has(a, "site"))
		s_init_site_check(args_get(a, "site", NULL), &err);
	if (err.code == ERR_OK && strlen(uri) >= CONF_VALUE_MAX)
		err_set(&err, ERR_BAD_REQUEST,
		    "--store: longer than the %d bytes a setting holds",
		    CONF_VALUE_MAX - 1);
	if (err.code != ERR_OK)
		return prog_fail(PROG_EXIT_USAGE, &err);
	s_db_path(dir, path, sizeof path);
	if (access(path, F_OK) == 0) {
		err_set(&err, ERR_CONFLICT, "%s: already holds a hub", dir);
		return prog_fail(1, &err);
	}
	if (key != NULL && s_init_load_key(key, &kp, &err))
		return prog_fail(err.code == ERR_BAD_REQUEST ? PROG_EXIT_USAGE
							     : 1,
		    &err);
	if ((c = cluster_open(uri, &err)) == NULL ||
	    cluster_init_schema(c, &err))
		goto fail;
	if (key != NULL) {
		snprintf(pub, sizeof pub, "%s", kp.public_z85);
		if (cluster_check_key(c, pub, &err))
			goto fail;
	} else {
		if (cluster_hub_key(c, claimed, &err))
			goto fail;
		if (claimed[0] != '\0') {
			err_set(&err, ERR_CONFLICT,
			    "%s: holds a cluster already (hub key "
			    "%.8s...): join it with --key HUB_DIR/%s.key",
			    cluster_uri(c), claimed, HUB_KEY);
			goto fail;
		}
	}
	if (args_has(a, "site"))
		snprintf(site, sizeof site, "%s", args_get(a, "site", NULL));
	else if (key == NULL)
		snprintf(site, sizeof site, "%s", HUB_DEFAULT_SITE);
	else if (cluster_next_hq(c, site, sizeof site, &err))
		goto fail;
	/* From here on DIR changes: s_init_undo knows what was made. */
	made.dir_made = access(dir, F_OK) != 0;
	if (daemon_private_dir(dir, &err))
		goto fail;
	made.keys = !s_exists(dir, HUB_KEY ".key") &&
	    !s_exists(dir, HUB_KEY ".pub");
	if (key != NULL ? keys_save(dir, HUB_KEY, &kp, &err)
			: keys_generate(dir, HUB_KEY, pub, &err))
		goto fail;
	if (key == NULL)
		snprintf(hq_pub, sizeof hq_pub, "%s", pub);
	else if (s_unused_pubkey(hq_pub, &err))
		goto fail;
	memset(&conf, 0, sizeof conf);
	conf_set(&conf, "site", site);
	conf_set(&conf, "listen", args_get(a, "listen", HUB_DEFAULT_LISTEN));
	conf_set(&conf, "http", args_get(a, "http", HUB_DEFAULT_HTTP));
	conf_set(&conf, HUB_CONF_STORE, uri);
	made.conf = !s_exists(dir, "config");
	if (conf_save(dir, &conf, &err))
		goto fail;
	made.db = 1;
	memset(&hq, 0, sizeof hq);
	hq.id = site;
	hq.role = "hq";
	hq.pubkey = hq_pub;
	hq.name = "head office";
	hq.region = "default";
	hq.enrolled_at = hlc_wall_ms();
	/* hub.db first, uncommitted; then PostgreSQL in one transaction
	 * (the claim and the hq site); hub.db's commit last. */
	st = store_open(path, STORE_HUB, 1, &apply_rules, &err);
	if (st == NULL || store_begin(st, &err) ||
	    store_meta_set_text(st, "site", site, &err) ||
	    store_meta_set_text(st, "role", "hq", &err) ||
	    cluster_site_save(store_db(st), &hq, NULL, &err))
		goto fail;
	do {
		if (cluster_copy(c, store_db(st), last, 1000, &last, &n, NULL,
			&err))
			goto fail;
	} while (n == 1000);
	if (cluster_claim(c, pub, &hq, &err) || store_commit(st, &err))
		goto fail;
	store_close(&st);
	cluster_close(&c);
	keys_free(&kp);
	printf("%s\n", pub);
	return 0;
fail:
	if (st != NULL)
		store_rollback(st);
	store_close(&st);
	cluster_close(&c);
	keys_free(&kp);
	s_init_undo(&made);
	return prog_fail(1, &err);
}

/* The registry of the cluster the hub in dir belongs to, into *c (caller
 * closes), or NULL when its config has no store= (a hub on its own, or
 * no hub there: the command's own opening says so). -1 with err. */
static int
s_cluster_of(const char *dir, cluster_t **c, err_t *err)
{
	char path[4096];
	conf_t conf;
	const char *uri;

	*c = NULL;
	s_db_path(dir, path, sizeof path);
	if (access(path, F_OK) != 0)
		return 0;
	/* A hub restored into a folder of its own may have no config:
	 * then it is one on its own. */
	snprintf(path, sizeof path, "%s/config", dir);
	if (access(path, F_OK) != 0 && errno == ENOENT)
		return 0;
	if (conf_load(dir, &conf, err))
		return -1;
	if ((uri = conf_get(&conf, HUB_CONF_STORE, NULL)) == NULL)
		return 0;
	*c = cluster_open(uri, err);
	return *c != NULL ? 0 : -1;
}

static int
s_key(const args_t *a)
{
	char pub[KEYS_Z85_LEN + 1];
	err_t err;

	if (keys_load_public(args_get(a, "data", "."), HUB_KEY, pub, &err))
		return prog_fail(1, &err);
	printf("%s\n", pub);
	return 0;
}

/* --region's name: 1 to PROTO_REGION_MAX of A-Z a-z 0-9 _ - (site.h),
 * or -1 with err (ERR_BAD_REQUEST). */
static int
s_region_check(const char *name, err_t *err)
{
	if (site_region_valid(name))
		return 0;
	return err_set(err, ERR_BAD_REQUEST,
	    "--region '%s': use 1-%d of A-Z a-z 0-9 _ -", name,
	    PROTO_REGION_MAX);
}

/* enroll, revoke and region on a hub of a cluster (c: its registry,
 * closed here), their arguments checked: PostgreSQL first, the shared
 * truth, then hub.db as the registry has it now. The daemon's poller may
 * copy the change into hub.db first: hub.db takes it as a copy, not as a
 * fresh check, so that is no error. Same output and messages as on a hub
 * of its own. */
static int
s_enroll_cluster(const args_t *a, cluster_t **c)
{
	cluster_site_t row;
	store_t *st;
	err_t err;

	memset(&row, 0, sizeof row);
	row.id = args_get(a, "site", NULL);
	row.role = args_get(a, "role", NULL);
	row.pubkey = args_get(a, "key", NULL);
	row.name = args_get(a, "name", row.id);
	row.region = args_get(a, "region", "default");
	row.enrolled_at = hlc_wall_ms();
	if (cluster_enroll(*c, &row, &err)) {
		cluster_close(c);
		return prog_fail(1, &err);
	}
	cluster_close(c);
	if ((st = s_begin(args_get(a, "data", "."), &err)) == NULL)
		return prog_fail(1, &err);
	err_clear(&err);
	cluster_site_save(store_db(st), &row, NULL, &err);
	if (s_end(&st, &err))
		return 1;
	printf("enrolled %s as %s in region %s\n", row.id, row.role,
	    row.region);
	return 0;
}

static int
s_revoke_cluster(const args_t *a, cluster_t **c)
{
	const char *site = args_get(a, "site", NULL);
	uint64_t at = hlc_wall_ms();
	store_t *st;
	sqlite3_stmt *s;
	err_t err;

	if (cluster_revoke(*c, site, at, &err)) {
		cluster_close(c);
		return prog_fail(1, &err);
	}
	cluster_close(c);
	if ((st = s_begin(args_get(a, "data", "."), &err)) == NULL)
		return prog_fail(1, &err);
	err_clear(&err);
	s = store_stmt(st,
	    "UPDATE sites SET revoked_at = ? "
	    "WHERE id = ? AND revoked_at IS NULL");
	sqlite3_bind_int64(s, 1, (int64_t)at);
	sqlite3_bind_text(s, 2, site, -1, SQLITE_STATIC);
	store_step(st, s, "revoke", &err);
	if (s_end(&st, &err))
		return 1;
	printf("revoked %s\n", site);
	return 0;
}

/* The hq op that tells every node of the move (s_region) is recorded by
 * the hub that made the move in PostgreSQL, once. */
static int
s_region_cluster(const args_t *a, cluster_t **c)
{
	const char *site = args_get(a, "site", NULL);
	const char *region = args_get(a, "region", NULL);
	char was[PROTO_REGION_MAX + 1] = "", role[16] = "";
	store_t *st;
	sqlite3_stmt *s;
	err_t err;

	if (cluster_set_region(*c, site, region, was, sizeof was, role,
		sizeof role, &err)) {
		cluster_close(c);
		return prog_fail(1, &err);
	}
	cluster_close(c);
	if (strcmp(was, region) == 0) {
		printf("%s is in region %s already\n", site, region);
		return 0;
	}
	if ((st = s_begin(args_get(a, "data", "."), &err)) == NULL)
		return prog_fail(1, &err);
	err_clear(&err);
	s = store_stmt(st, "UPDATE sites SET region = ? WHERE id = ?");
	sqlite3_bind_text(s, 1, region, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, site, -1, SQLITE_STATIC);
	if (store_step(st, s, "region", &err) == 0 &&
	    recover_hold(st, &err) == 0)
		site_region_record(st, site, role, region, &err);
	if (s_end(&st, &err))
		return 1;
	printf("moved %s from region %s to %s\n", site, was, region);
	return 0;
}

static int
s_enroll(const args_t *a)
{
	const char *site = args_get(a, "site", NULL);
	const char *role = args_get(a, "role", NULL);
	const char *key = args_get(a, "key", NULL);
	const char *region = args_get(a, "region", "default");
	cluster_t *c;
	store_t *st;
	sqlite3_stmt *s;
	err_t err;
	int rc;

	err_clear(&err);
	if (site == NULL || role == NULL || key == NULL) {
		err_set(&err, ERR_BAD_REQUEST,
		    "--site, --role and --key are required");
		return prog_fail(PROG_EXIT_USAGE, &err);
	}
	if (!op_site_valid(site)) {
		err_set(&err, ERR_BAD_REQUEST,
		    "--site '%s': use 1-16 of A-Z a-z 0-9 _", site);
		return prog_fail(PROG_EXIT_USAGE, &err);
	}
	if (strcmp(role, "store") != 0 && strcmp(role, "warehouse") != 0 &&
	    strcmp(role, "hq") != 0) {
		err_set(&err, ERR_BAD_REQUEST,
		    "--role '%s': must be store, warehouse or hq", role);
		return prog_fail(PROG_EXIT_USAGE, &err);
	}
	/* Ids beginning with HQ are head office's, and only theirs: every
	 * replica grants head office's rights by the id (own.h). */
	if (own_is_hq(site) != (strcmp(role, "hq") == 0)) {
		err_set(&err, ERR_BAD_REQUEST,
		    strcmp(role, "hq") == 0
			? "--site '%s': a head office id begins with " OWN_HQ_PREFIX
			: "--site '%s': ids beginning with " OWN_HQ_PREFIX
			  " are kept for head office (--role hq)",
		    site);
		return prog_fail(PROG_EXIT_USAGE, &err);
	}
	if (!keys_valid_z85(key)) {
		err_set(&err, ERR_BAD_REQUEST,
		    "--key: not a Z85 CURVE public key (40 characters, from bl-node init or key)");
		return prog_fail(PROG_EXIT_USAGE, &err);
	}
	if (s_region_check(region, &err))
		return prog_fail(PROG_EXIT_USAGE, &err);
	if (s_cluster_of(args_get(a, "data", "."), &c, &err))
		return prog_fail(1, &err);
	if (c != NULL)
		return s_enroll_cluster(a, &c);
	if ((st = s_begin(args_get(a, "data", "."), &err)) == NULL)
		return prog_fail(1, &err);
	s = store_stmt(st,
	    "SELECT (SELECT count(*) FROM sites WHERE id = ?1), "
	    "(SELECT id FROM sites WHERE pubkey = ?2)");
	sqlite3_bind_text(s, 1, site, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, key, -1, SQLITE_STATIC);
	if (!store_row(st, s))
		store_read_error(st, &err);
	else if (sqlite3_column_int(s, 0) > 0)
		err_set(&err, ERR_CONFLICT, "site %s: already enrolled", site);
	else if (sqlite3_column_type(s, 1) != SQLITE_NULL)
		err_set(&err, ERR_CONFLICT,
		    "site %s: key already enrolled as %s", site,
		    sqlite3_column_text(s, 1));
	sqlite3_reset(s);
	if (err.code != ERR_OK)
		goto fail;
	s = store_stmt(st,
	    "INSERT INTO sites(id, role, pubkey, name, region, "
	    "enrolled_at) VALUES (?, ?, ?, ?, ?, ?)");
	sqlite3_bind_text(s, 1, site, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, role, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, args_get(a, "name", site), -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, region, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 6, (int64_t)hlc_wall_ms());
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		err_set(&err, ERR_INTERNAL, "site %s: %s", site,
		    sqlite3_errmsg(store_db(st)));
		goto fail;
	}
	if (store_commit(st, &err))
		goto fail;
	store_close(&st);
	printf("enrolled %s as %s in region %s\n", site, role, region);
	return 0;
fail:
	store_rollback(st);
	store_close(&st);
	return prog_fail(1, &err);
}

static int
s_revoke(const args_t *a)
{
	const char *site = args_get(a, "site", NULL);
	cluster_t *c;
	store_t *st;
	sqlite3_stmt *s;
	err_t err;
	int changed;

	err_clear(&err);
	if (site == NULL) {
		err_set(&err, ERR_BAD_REQUEST, "--site is required");
		return prog_fail(PROG_EXIT_USAGE, &err);
	}
	if (s_cluster_of(args_get(a, "data", "."), &c, &err))
		return prog_fail(1, &err);
	if (c != NULL)
		return s_revoke_cluster(a, &c);
	if ((st = s_begin(args_get(a, "data", "."), &err)) == NULL)
		return prog_fail(1, &err);
	s = store_stmt(st,
	    "UPDATE sites SET revoked_at = ? "
	    "WHERE id = ? AND revoked_at IS NULL AND role != 'hq'");
	sqlite3_bind_int64(s, 1, (int64_t)hlc_wall_ms());
	sqlite3_bind_text(s, 2, site, -1, SQLITE_STATIC);
	if (store_step(st, s, "revoke", &err) == 0 &&
	    (changed = sqlite3_changes(store_db(st))) == 0)
		err_set(&err, ERR_NOT_FOUND,
		    "site %s: not an enrolled, active store or warehouse",
		    site);
	if (s_end(&st, &err))
		return 1;
	printf("revoked %s\n", site);
	return 0;
}

/* region --site ID --region NAME: moves a store or warehouse to another
 * region. A running hub sees it within a second: it cuts the site's open
 * session (server.c), which comes back streamed by its new region and
 * backfills the new region's stock (proto.h). The move is also head
 * office's op (site.h), in the same transaction, which tells every node:
 * those of the new region backfill the site's earlier stock. A restored
 * hub still recovering writes nothing of its own (recover.c): it refuses. */
static int
s_region(const args_t *a)
{
	const char *site = args_get(a, "site", NULL);
	const char *region = args_get(a, "region", NULL);
	char was[PROTO_REGION_MAX + 64] = "", role[16] = "";
	cluster_t *c;
	store_t *st;
	sqlite3_stmt *s;
	err_t err;

	err_clear(&err);
	if (site == NULL || region == NULL) {
		err_set(&err, ERR_BAD_REQUEST,
		    "--site and --region are required");
		return prog_fail(PROG_EXIT_USAGE, &err);
	}
	if (s_region_check(region, &err))
		return prog_fail(PROG_EXIT_USAGE, &err);
	if (s_cluster_of(args_get(a, "data", "."), &c, &err))
		return prog_fail(1, &err);
	if (c != NULL)
		return s_region_cluster(a, &c);
	if ((st = s_begin(args_get(a, "data", "."), &err)) == NULL)
		return prog_fail(1, &err);
	s = store_stmt(st,
	    "SELECT region, role FROM sites "
	    "WHERE id = ? AND revoked_at IS NULL AND role != 'hq'");
	sqlite3_bind_text(s, 1, site, -1, SQLITE_STATIC);
	if (store_row(st, s)) {
		snprintf(was, sizeof was, "%s", sqlite3_column_text(s, 0));
		snprintf(role, sizeof role, "%s", sqlite3_column_text(s, 1));
	} else if (store_read_error(st, &err) == 0)
		err_set(&err, ERR_NOT_FOUND,
		    "site %s: not an enrolled, active store or warehouse",
		    site);
	sqlite3_reset(s);
	if (err.code == ERR_OK && strcmp(was, region) != 0) {
		s = store_stmt(st, "UPDATE sites SET region = ? WHERE id = ?");
		sqlite3_bind_text(s, 1, region, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, site, -1, SQLITE_STATIC);
		if (store_step(st, s, "region", &err) == 0 &&
		    recover_hold(st, &err) == 0)
			site_region_record(st, site, role, region, &err);
	}
	if (s_end(&st, &err))
		return 1;
	if (strcmp(was, region) == 0)
		printf("%s is in region %s already\n", site, region);
	else
		printf("moved %s from region %s to %s\n", site, was, region);
	return 0;
}

/* ---- run ---- */

/* What bl-hub run starts in the daemon's loop (daemon.h); s_stop frees. */
typedef struct {
	server_t *server;
	api_t *api;
	struct event *waiting;	  /* retries ops that waited for their order */
	store_t *store;		  /* the daemon's, borrowed */
	console_t *console;	  /* the console at / (hub.h) */
	allocator_t *alloc;	  /* allocates online orders (allocate.c) */
	struct event *allocating; /* runs it every second */
	clusterpoll_t *poll;	  /* a cluster's hub: the registry's copy */
	struct event *tailing;	  /* and the shared log's (pgstore.h) */
	int tail_failing;	  /* the last tail failed (logged once) */
} hub_run_t;

/* A hub of a cluster: every TAIL_EVERY_MS, what the other hubs appended
 * to the shared log is applied here and streamed to the sites. A failure
 * is logged when it starts and when it ends, not every time. */
#define TAIL_EVERY_MS 100
static void
s_on_tailing(evutil_socket_t fd, short what, void *arg)
{
	hub_run_t *h = arg;
	size_t applied = 0;
	err_t err;

	(void)fd;
	(void)what;
	if (pgstore_tail(h->store, &applied, &err)) {
		if (!h->tail_failing)
			log_warn("shared log: %s (retried every %d ms)",
			    err.msg, TAIL_EVERY_MS);
		h->tail_failing = 1;
	} else if (h->tail_failing) {
		log_info("shared log: tailing again");
		h->tail_failing = 0;
	}
	if (applied > 0)
		server_notify(h->server);
}

/* Every second: ops quarantined until their order is held (own.h), as
 * their sites' roles and visibility have them, taken up again once it is;
 * what passes is streamed. */
static void
s_on_waiting(evutil_socket_t fd, short what, void *arg)
{
	hub_run_t *h = arg;
	hub_from_t from;
	int applied = 0, kept = 0;
	err_t err;

	(void)fd;
	(void)what;
	memset(&from, 0, sizeof from);
	if (own_retry_arrived(h->store, hub_from_of, &from, &applied, &kept,
		&err))
		log_warn("quarantine: ops waiting for their order: %s",
		    err.msg);
	else if (applied + kept > 0)
		log_info("quarantine: %d ops that waited for their order "
			 "applied, %d refused",
		    applied, kept);
	if (applied > 0)
		server_notify(h->server);
}

/* Every second: the online and b2b orders due for allocation are
 * decided (allocate.c); what it wrote is streamed. */
static void
s_on_allocating(evutil_socket_t fd, short what, void *arg)
{
	hub_run_t *h = arg;
	int wrote = 0;
	err_t err;

	(void)fd;
	(void)what;
	if (allocate_tick(h->alloc, &wrote, &err))
		log_warn("allocation: %s", err.msg);
	if (wrote > 0)
		server_notify(h->server);
}

/* The API's hooks; arg is the hub_run_t. */
static void
s_status(void *arg, json_t *status)
{
	hub_run_t *h = arg;

	server_status(h->server, status);
	allocate_status(h->alloc, status);
	if (h->poll != NULL)
		clusterpoll_status(h->poll, status);
}

static void
s_alerts(void *arg, json_t *items)
{
	hub_run_t *h = arg;

	server_alerts(h->server, items);
	allocate_alerts(h->store, items);
}

static void
s_wrote(void *arg)
{
	hub_run_t *h = arg;

	server_notify(h->server);
}

/* One connection per site: lift the soft descriptor limit (often 1024) to
 * the hard one so thousands of sites can stay connected, and say how many
 * that is. A hub that cannot is still a hub: the failure is logged. The
 * limit it runs with, or 0 when it cannot read it. */
static unsigned long long
s_raise_fd_limit(void)
{
	struct rlimit rl;
	unsigned long long was;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
		log_warn("descriptors: read the limit: %s", strerror(errno));
		return 0;
	}
	was = (unsigned long long)rl.rlim_cur;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
			log_warn("descriptors: raise the limit from %llu to "
				 "%llu: %s",
			    was, (unsigned long long)rl.rlim_max,
			    strerror(errno));
			return was;
		}
	}
	if ((unsigned long long)rl.rlim_cur == was)
		log_info("descriptors: limit %llu, the hard limit", was);
	else
		log_info("descriptors: limit %llu, raised from %llu",
		    (unsigned long long)rl.rlim_cur, was);
	return (unsigned long long)rl.rlim_cur;
}

/* The setting run checks before it opens anything: the API token. */
static int
s_check(const conf_t *conf, err_t *err)
{
	return api_token_check(conf_get(conf, "token", NULL), err) ||
	    console_check(conf, err);
}

/* Starts the sync endpoint and the API over the daemon's store, keeping
 * both in arg (a hub_run_t) for s_stop. The token is checked (s_check). */
static int
s_start(daemon_t *d, void *arg, err_t *err)
{
	hub_run_t *h = arg;
	int sync_port = -1, http_port = -1;
	long long silent;
	unsigned long long fds;

	/* A store or warehouse not heard from this long is alerted. */
	if (conf_get_int(&d->conf, "silent_after_s",
		SERVER_SILENT_DEFAULT_MS / 1000, 5, 365LL * 86400, &silent,
		err))
		return -1;
	fds = s_raise_fd_limit();
	/* A hub of a cluster copies the shared registry into hub.db's
	 * sites from now on (clusterpoll.c); PostgreSQL out of reach is
	 * logged and retried, never a reason not to serve. */
	if (conf_get(&d->conf, HUB_CONF_STORE, NULL) != NULL &&
	    (h->poll = clusterpoll_start(conf_get(&d->conf, HUB_CONF_STORE,
					     NULL),
		 store_path(d->store), err)) == NULL)
		return -1;
	h->server = server_new(d->base, d->store, &d->keys,
	    conf_get(&d->conf, "listen", HUB_DEFAULT_LISTEN), &sync_port, err);
	if (h->server == NULL)
		return -1;
	server_set_silent_after(h->server, (uint64_t)silent * 1000);
	if (fds > 0)
		server_set_fd_limit(h->server, fds);
	h->store = d->store;
	h->waiting = event_new(d->base, -1, EV_PERSIST, s_on_waiting, h);
	if (h->waiting == NULL ||
	    event_add(h->waiting, &(struct timeval){ 1, 0 }) != 0)
		return err_set(err, ERR_INTERNAL, "run: cannot start a timer");
	if (pgstore_attached(d->store)) {
		h->tailing = event_new(d->base, -1, EV_PERSIST, s_on_tailing,
		    h);
		if (h->tailing == NULL ||
		    event_add(h->tailing,
			&(struct timeval){ 0, TAIL_EVERY_MS * 1000 }) != 0)
			return err_set(err, ERR_INTERNAL,
			    "run: cannot start a timer");
	}
	h->alloc = allocate_new(d->store);
	h->allocating = event_new(d->base, -1, EV_PERSIST, s_on_allocating, h);
	if (h->allocating == NULL ||
	    event_add(h->allocating, &(struct timeval){ 1, 0 }) != 0)
		return err_set(err, ERR_INTERNAL, "run: cannot start a timer");
	h->api = api_new(d->base, d->store, "hq");
	api_set_hooks(h->api, s_status, s_wrote, h);
	api_set_alerts_hook(h->api, s_alerts);
	api_add_get(h->api, "/v1/sites", server_sites, h->server);
	api_add_get(h->api, "/v1/allocation/rules", allocate_rules_get,
	    d->store);
	api_add_put(h->api, "/v1/allocation/rules", allocate_rules_put,
	    d->store);
	/* The console at /, and GET /v1/sites/sync (hub.h). */
	if ((h->console = console_new(d->store, h->server, h->api, &d->conf,
		 (uint64_t)silent * 1000, err)) == NULL)
		return -1;
	if (api_bind(h->api, conf_get(&d->conf, "http", HUB_DEFAULT_HTTP),
		conf_get(&d->conf, "token", NULL), &http_port, err) ||
	    conf_write_ports(d->dir, sync_port, http_port, err))
		return -1;
	log_info("hub %s ready: sync port %d, http port %d",
	    store_site(d->store), sync_port, http_port);
	return 0;
}

/* Frees what s_start kept in arg; any of it may be NULL. */
static void
s_stop(void *arg)
{
	hub_run_t *h = arg;

	if (h->waiting != NULL)
		event_free(h->waiting);
	h->waiting = NULL;
	if (h->allocating != NULL)
		event_free(h->allocating);
	h->allocating = NULL;
	if (h->tailing != NULL)
		event_free(h->tailing);
	h->tailing = NULL;
	allocate_destroy(&h->alloc);
	api_destroy(&h->api);
	console_destroy(&h->console);
	server_destroy(&h->server);
	clusterpoll_stop(&h->poll);
}

/* bl-hub run: the hub's daemon until SIGTERM or SIGINT (daemon.h). */
static int
s_run(const args_t *a)
{
	static const daemon_spec_t spec = { HUB_KEY, { "listen", "http", NULL },
		s_check, hub_open, s_start, s_stop };
	hub_run_t h;

	memset(&h, 0, sizeof h);
	return daemon_run(&spec, a, &h);
}

/* ---- backup and restore (backup.h) ---- */

static int
s_backup(const args_t *a)
{
	return backup_cmd(a, HUB_DB);
}

/* A restored hub waits for its sites before it writes (recover.c); one
 * of a cluster catches up from the shared log instead. */
static int
s_restore(const args_t *a)
{
	store_t *st;
	size_t applied = 0;
	err_t err;
	int rc = backup_restore_cmd(a, HUB_DB, STORE_HUB);

	if (rc != 0)
		return rc;
	if ((st = hub_open(args_get(a, "data", "."), &err)) == NULL)
		goto fail;
	/* A hub of a cluster has nothing to wait for: every op it wrote or
	 * acknowledged is in the shared log, and hub.db is that log's
	 * projection, caught up from it here (and before any write). */
	if (pgstore_attached(st)) {
		if (pgstore_tail(st, &applied, &err))
			goto fail;
		printf("caught up with the shared log: %zu ops applied, at "
		       "gseq %llu; nothing to wait for\n",
		    applied, (unsigned long long)pgstore_applied(st));
		store_close(&st);
		return 0;
	}
	if (recover_mark_restored(st, &err))
		goto fail;
	store_close(&st);
	printf("head office writes nothing of its own until every site has "
	       "reported (bl-hub recover)\n");
	return 0;
fail:
	store_close(&st);
	fprintf(stderr, "bl-hub: restore: %s\n", err.msg);
	return 1;
}

/* bl-hub recover [--done]: whom a restored hub waits for; --done ends the
 * wait (the running daemon sees it within a second). */
static int
s_recover(const args_t *a)
{
	char line[512];
	store_t *st;
	err_t err;

	if ((st = hub_open(args_get(a, "data", "."), &err)) == NULL ||
	    recover_describe(st, args_has(a, "done"), line, sizeof line,
		&err)) {
		store_close(&st);
		fprintf(stderr, "bl-hub: recover: %s\n", err.msg);
		return 1;
	}
	store_close(&st);
	printf("%s\n", line);
	return 0;
}

static void
s_usage(void)
{
	fprintf(stderr,
	    "usage: bl-hub init   --data DIR [--listen tcp://HOST:PORT] [--http HOST:PORT] [--site ID]\n"
	    "       bl-hub init   --data DIR --store postgresql://URI [--key HUB_DIR/hub.key] [--listen ...] [--http ...] [--site ID]\n"
	    "              (the first hub of a cluster on PostgreSQL; with --key, another hub joining it)\n"
	    "       bl-hub migrate --data DIR --to postgresql://URI   (the hub stopped: it becomes a cluster's first)\n"
	    "       bl-hub key    --data DIR\n"
	    "       bl-hub enroll --data DIR --site ID --role store|warehouse|hq --key KEY [--name TEXT] [--region NAME]\n"
	    "       bl-hub revoke --data DIR --site ID\n"
	    "       bl-hub region --data DIR --site ID --region NAME   (moves a site; it backfills the region's stock, the region's sites its own)\n"
	    "       bl-hub run    --data DIR [--listen tcp://HOST:PORT] [--http HOST:PORT]\n"
	    "       bl-hub backup --data DIR --to FILE [--force]   (while the hub runs)\n"
	    "       bl-hub restore --data DIR --from FILE   (the hub stopped)\n"
	    "       bl-hub audit  --data DIR [--site ID]   (every site's log against what it signed)\n"
	    "       bl-hub recover --data DIR [--done]   (a restored hub: whom it waits for)\n"
	    "       bl-hub quarantine list|retry --data DIR [--origin SITE] [--seq N]\n"
	    "       bl-hub user add --data DIR --name NAME --role viewer|manager   (password from the terminal or stdin)\n"
	    "       bl-hub user list --data DIR [--json]\n"
	    "       bl-hub user remove --data DIR --name NAME\n"
	    "       bl-hub report sales|stock|receivables|alerts|sites --data DIR [--format table|json|csv] [--bom]\n"
	    "              [--group site|sku|customer|day] [--from YYYY-MM-DD] [--to YYYY-MM-DD]   (sales)\n"
	    "       bl-hub allocation rules --data DIR [--site SITE[:PRIORITY]]... [--split yes|no]\n"
	    "       bl-hub allocation show --data DIR [--json]   (rules and the orders waiting)\n"
	    "       bl-hub transfer list --data DIR [--status S] [--sku SKU] [--site S] [--json]\n"
	    "       bl-hub transfer reconcile --data DIR --id TRANSFER --note TEXT [--json]\n"
	    "       bl-hub approval list --data DIR [--status pending|approved|rejected|cancelled|draft] [--json]\n"
	    "       bl-hub approval approve --data DIR --order ID [--comment TEXT]\n"
	    "       bl-hub approval reject --data DIR --order ID --comment TEXT\n"
	    "       bl-hub approval threshold --data DIR [--percent N [--tier T | --category C]] [--json]\n"
	    "       bl-hub quota grant --data DIR --warehouse W --site S --sku SKU --qty N [--id ID] [--json]\n"
	    "       bl-hub quota list --data DIR [--site S] [--sku SKU] [--warehouse W] [--json]\n"
	    "       bl-hub quota recall --data DIR --id QUOTA [--reason TEXT] [--json]\n");
}

int
main(int argc, char **argv)
{
	static const char *const force_flag[] = { "force", NULL };
	static const char *const done_flag[] = { "done", NULL };
	static const char *const json_flag[] = { "json", NULL };
	static const char *const bom_flag[] = { "bom", NULL };
	static const prog_cmd_t cmds[] = {
		{ "init", s_init,
		    { "data", "listen", "http", "site", "store", "key", NULL },
		    NULL },
		{ "key", s_key, { "data", NULL }, NULL },
		{ "enroll", s_enroll,
		    { "data", "site", "role", "key", "name", "region", NULL },
		    NULL },
		{ "revoke", s_revoke, { "data", "site", NULL }, NULL },
		{ "region", s_region, { "data", "site", "region", NULL },
		    NULL },
		{ "run", s_run, { "data", "listen", "http", NULL }, NULL },
		/* A hub on its own to a cluster's first (migrate.c). */
		{ "migrate", migrate_cmd, { "data", "to", NULL }, NULL },
		{ "backup", s_backup, { "data", "to", NULL }, force_flag },
		{ "restore", s_restore, { "data", "from", NULL }, NULL },
		{ "recover", s_recover, { "data", NULL }, done_flag },
		{ "audit", s_audit, { "data", "site", NULL }, NULL },
		{ "quarantine list", s_quarantine_list,
		    { "data", "origin", NULL }, NULL },
		{ "quarantine retry", s_quarantine_retry,
		    { "data", "origin", "seq", NULL }, NULL },
		/* Head office's console users and reports (hub.h). */
		{ "user add", users_cmd_add, { "data", "name", "role", NULL },
		    NULL },
		{ "user list", users_cmd_list, { "data", NULL }, json_flag },
		{ "user remove", users_cmd_remove, { "data", "name", NULL },
		    NULL },
		{ "report sales", reportcmd_sales,
		    { "data", "group", "from", "to", "format", NULL },
		    bom_flag },
		/* --group, --from and --to are refused by name (reportcmd.c). */
		{ "report stock", reportcmd_stock,
		    { "data", "format", "group", "from", "to", NULL },
		    bom_flag },
		{ "report receivables", reportcmd_receivables,
		    { "data", "format", "group", "from", "to", NULL },
		    bom_flag },
		{ "report alerts", reportcmd_alerts,
		    { "data", "format", "group", "from", "to", NULL },
		    bom_flag },
		{ "report sites", reportcmd_sites,
		    { "data", "format", "group", "from", "to", NULL },
		    bom_flag },
		/* Allocation of online orders (allocate.c). */
		{ "allocation rules", allocate_cmd_rules,
		    { "data", "site", "split", NULL }, NULL },
		{ "allocation show", allocate_cmd_show, { "data", NULL },
		    json_flag },
		/* Transfer documents: head office's side (transfercmd.c). */
		{ "transfer list", transfercmd_list,
		    { "data", "status", "sku", "site", NULL }, json_flag },
		{ "transfer reconcile", transfercmd_reconcile,
		    { "data", "id", "note", NULL }, json_flag },
		/* Approvals of special prices (approvalcmd.c). */
		{ "approval list", approvalcmd_list, { "data", "status", NULL },
		    json_flag },
		{ "approval approve", approvalcmd_approve,
		    { "data", "order", "comment", NULL }, NULL },
		{ "approval reject", approvalcmd_reject,
		    { "data", "order", "comment", NULL }, NULL },
		{ "approval threshold", approvalcmd_threshold,
		    { "data", "percent", "tier", "category", NULL },
		    json_flag },
		/* Escrowed stock quotas (quotacmd.c). */
		{ "quota grant", quotacmd_grant,
		    { "data", "warehouse", "site", "sku", "qty", "id", NULL },
		    json_flag },
		{ "quota list", quotacmd_list,
		    { "data", "site", "sku", "warehouse", NULL }, json_flag },
		{ "quota recall", quotacmd_recall,
		    { "data", "id", "reason", NULL }, json_flag },
	};

	/* Whatever a command creates in the data directory (databases, their
	 * -wal and -shm, keys, config, ports) is for this user only. */
	umask(077);
	return prog_main("bl-hub", cmds, sizeof cmds / sizeof cmds[0], s_usage,
	    argc, argv);
}
