/*
 * cluster: what the hubs of a cluster share in PostgreSQL besides the op
 * log (pglog.h): the cluster's hub key and the site registry, and the copy
 * of that registry each hub keeps in its own hub.db.
 *
 *   cluster_meta(key text primary key, value text)
 *       schema_version = '1'; hub_key = the cluster's hub public key (Z85),
 *       recorded by the first hub (cluster_claim), checked for every other
 *   sites(id text primary key, role, pubkey text unique, name, region,
 *         enrolled_at bigint, revoked_at bigint, sign_key bytea,
 *         version bigint unique)
 *   sequence sites_version
 *
 * Every insert or update of a site takes the next value of sites_version
 * as the row's version, so a hub that has copied every row up to version V
 * finds what changed since with "version > V" (cluster_changes). That is
 * only sound if versions become visible in order: nextval() is not
 * transactional, so without more a transaction that took 41 could commit
 * after one that took 42, and a poller that saw 42 would never look at 41
 * again (the op log's outbox gap, pglog.h). Every write here therefore
 * runs in a transaction that first takes pg_advisory_xact_lock(
 * CLUSTER_WRITE_LOCK_KEY): writers take their versions and commit one at a
 * time, and PostgreSQL marks a transaction committed before it releases
 * its locks, so the next writer's versions are higher and become visible
 * later. A rolled-back write leaves a hole in the versions, which "version
 * > V" does not mind. The same lock makes each write's checks (id taken,
 * key taken, site active) and its change one atomic step across hubs.
 *
 * The local copy: hub.db's sites table holds the same columns but version.
 * cluster_copy and cluster_site_save upsert PostgreSQL's rows into it (a
 * sign_key PostgreSQL does not have yet keeps the local one), so the
 * running server's own checks (hub/server.c: the ZAP handler's key lookup,
 * revocation and region moves each second) act on every hub's enrollments.
 * A site's signing key is pinned by the hub it first says HELLO to, in
 * hub.db; cluster_publish_sign_keys brings such pins to PostgreSQL, where
 * the first one recorded wins and comes back to every hub as a change.
 *
 * One cluster_t is one libpq connection, used by one thread at a time,
 * never across fork(). Failures are err_t "operation: object: cause"; a
 * lost connection is ERR_UNAVAILABLE and stays lost: close and reopen.
 */
#ifndef BL_HUB_CLUSTER_H
#define BL_HUB_CLUSTER_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "keys.h"

#define CLUSTER_SCHEMA_VERSION 1
/* Every registry write takes it (see above). Schema creation takes
 * PGLOG_SCHEMA_LOCK_KEY, as pglog's does. Decimal without a suffix:
 * cluster.c pastes it into its SQL. */
#define CLUSTER_WRITE_LOCK_KEY 7400140003
#define CLUSTER_SIGN_KEY_BYTES 32 /* a site's Ed25519 public key */
#define CLUSTER_HQ_PREFIX "HQ"	  /* cluster_next_hq: HQ2, HQ3 ... */

typedef struct cluster cluster_t;

/* One site of the registry. Strings are borrowed: the caller's when it
 * passes a site in, the result's when cluster_changes passes one to its
 * callback (valid during the call only). */
typedef struct {
	const char *id;		 /* 1-16 of A-Z a-z 0-9 _ */
	const char *role;	 /* store, warehouse or hq */
	const char *pubkey;	 /* its CURVE public key, Z85 */
	const char *name;	 /* NULL: none */
	const char *region;	 /* "default" unless enrolled in another */
	uint64_t enrolled_at;	 /* unix ms */
	uint64_t revoked_at;	 /* unix ms; 0 while active */
	const uint8_t *sign_key; /* CLUSTER_SIGN_KEY_BYTES; NULL: not pinned */
	uint64_t version;	 /* read only: set by the registry */
} cluster_site_t;

/* Called by cluster_changes for each site, in version order. 0 to go on,
 * or -1 with err filled to stop. */
typedef int (
    *cluster_site_fn)(void *arg, const cluster_site_t *site, err_t *err);

/* Connects to uri (borrowed, copied: a libpq URI or key=value string).
 * Returns a cluster_t the caller frees with cluster_close, or NULL with
 * err: ERR_UNAVAILABLE when the server cannot be reached or refuses us
 * ("open postgresql://u@db:5432/x: connection to server at ... failed:
 * Connection refused"; a password in the URI is never repeated). Does not
 * touch the schema. */
cluster_t *cluster_open(const char *uri, err_t *err);

/* Closes the connection and frees *self_p (NULL accepted); nulls it. */
void cluster_close(cluster_t **self_p);

/* The URI as messages show it, its password left out. Borrowed from c. */
const char *cluster_uri(const cluster_t *c);

/* Creates everything the hubs share when it does not exist: the op log
 * (pglog_init_schema, over a connection of its own it closes again), then
 * cluster_meta, sites and sites_version in one transaction under
 * PGLOG_SCHEMA_LOCK_KEY, so hubs initializing at once do not race. 0; or
 * -1 with err: ERR_UPGRADE when a stored schema version is not this
 * build's ("init schema: cluster_meta: schema version 2, this build
 * knows 1"), ERR_UNAVAILABLE on a lost connection, else ERR_INTERNAL. */
int cluster_init_schema(cluster_t *c, err_t *err);

/* The cluster's hub public key into z85 (KEYS_Z85_LEN + 1 bytes), "" when
 * no hub has claimed the cluster yet. 0, or -1 with err. */
int cluster_hub_key(cluster_t *c, char *z85, err_t *err);

/* Checks hub_pub (Z85, borrowed) against the cluster's hub key: 0 when it
 * is that key or none is recorded yet; -1 with err otherwise:
 * ERR_FORBIDDEN "join postgresql://...: hub key AbCdEfGh... is not this
 * cluster's (IjKlMnOp...)" (the first 8 characters of each). */
int cluster_check_key(cluster_t *c, const char *hub_pub, err_t *err);

/* One transaction: records hub_pub as the cluster's hub key when none is
 * (the first hub), else checks it as cluster_check_key does; then, when
 * hq is not NULL, enrolls hq (the hub's own head-office site) as
 * cluster_enroll does. Nothing is recorded when either fails. 0, or -1
 * with err as those say. */
int cluster_claim(cluster_t *c, const char *hub_pub, const cluster_site_t *hq,
    err_t *err);

/* Enrolls site (borrowed; its version and revoked_at are ignored: a new
 * site is active) with a new version. -1 with err when nothing was
 * recorded: ERR_CONFLICT "site S001: already enrolled" when the id is
 * taken, revoked or not, or "site S002: key already enrolled as S001"
 * (bl-hub enroll's own texts); ERR_UNAVAILABLE on a lost connection, else
 * ERR_INTERNAL. */
int cluster_enroll(cluster_t *c, const cluster_site_t *site, err_t *err);

/* Revokes site (an active store or warehouse) as of at_ms, with a new
 * version. -1 with err: ERR_NOT_FOUND "site S009: not an enrolled, active
 * store or warehouse" when it is not one; as cluster_enroll otherwise. */
int cluster_revoke(cluster_t *c, const char *site, uint64_t at_ms, err_t *err);

/* Moves site (an active store or warehouse) to region, with a new version
 * when that is not where it was. Stores the region it was in into was
 * (was_size bytes) and its role into role (role_size bytes): equal to
 * region means nothing changed. -1 with err as cluster_revoke says. */
int cluster_set_region(cluster_t *c, const char *site, const char *region,
    char *was, size_t was_size, char *role, size_t role_size, err_t *err);

/* Calls fn(arg, site, err) for the sites whose version is after `after`,
 * in version order, at most limit of them (limit > 0); stores how many in
 * *n_read (may be NULL). 0; or -1 with err from fn, or from PostgreSQL
 * as cluster_enroll says. */
int cluster_changes(cluster_t *c, uint64_t after, size_t limit,
    cluster_site_fn fn, void *arg, size_t *n_read, err_t *err);

/* The first of HQ2, HQ3 ... that no site of the registry has (revoked
 * sites keep their ids), into id (size bytes, at least OP_SITE_MAX + 1):
 * the hq site id of a hub joining without --site. 0, or -1 with err. */
int cluster_next_hq(cluster_t *c, char *id, size_t size, err_t *err);

/* ---- moving a hub on its own into a cluster (bl-hub migrate) ---- */

/* 0 when the database holds no cluster: no hub key, no op in op_log, no
 * site. -1 with err otherwise: ERR_CONFLICT "postgresql://...: holds a
 * cluster already (hub key AbCdEfGh..., 12 ops, 4 sites)" ("no hub key"
 * when none), or as cluster_enroll says. The schema must exist
 * (cluster_init_schema). */
int cluster_check_empty(cluster_t *c, err_t *err);

/* Enrolls every site of db's sites (db borrowed, read only) but the one
 * whose id is except (the hq site cluster_claim enrolled), as db has it:
 * role, key, name, region, enrolled_at, revoked_at and sign_key, each
 * with a new version, all in one write transaction. *n gets how many. 0,
 * or -1 with err as cluster_enroll says (nothing recorded). */
int cluster_import_sites(cluster_t *c, sqlite3 *db, const char *except,
    size_t *n, err_t *err);

/* Undoes a migration that failed after it claimed the cluster for
 * hub_pub: in one transaction under the registry's and the op log's
 * locks, removes every op of op_log, every site and the hub key, so the
 * database holds no cluster again, as cluster_check_empty found it. -1
 * with err, nothing removed: ERR_FORBIDDEN when the cluster is not
 * hub_pub's, or as cluster_enroll says. */
int cluster_forget(cluster_t *c, const char *hub_pub, err_t *err);

/* ---- the copy in a hub's hub.db (db borrowed; the caller owns the
 * transaction each runs in) ---- */

/* Inserts site into db's sites, or replaces its row: every column as the
 * registry has it, but a sign_key the registry does not have keeps the
 * local one. *changed (may be NULL) says whether the row changed. 0, or
 * -1 with err ("copy site S001: UNIQUE constraint failed: sites.pubkey"). */
int cluster_site_save(sqlite3 *db, const cluster_site_t *site, int *changed,
    err_t *err);

/* Copies the sites changed after version `after` into db, at most limit
 * of them (cluster_changes, then cluster_site_save each). *last gets the
 * highest version copied (after when none), *n_read how many were read
 * (fewer than limit: caught up) and *changed (may be NULL) how many rows
 * of db that changed. 0, or -1 with err. */
int cluster_copy(cluster_t *c, sqlite3 *db, uint64_t after, size_t limit,
    uint64_t *last, size_t *n_read, size_t *changed, err_t *err);

/* Copies site id's row, as the registry has it now, into db (as
 * cluster_site_save); *found says whether the registry has it. For a
 * reader that meets a site the copy has not brought yet (pgstore.c's
 * tail); the regular copy brings the same row again, unchanged. 0, or -1
 * with err. */
int cluster_copy_site(cluster_t *c, sqlite3 *db, const char *id, int *found,
    err_t *err);

/* Publishes the signing keys db has pinned (sites.sign_key) to the
 * registry rows that have none yet, in one transaction; the registry's
 * keys are never replaced. *published (may be NULL) gets how many rows it
 * set. 0, or -1 with err. */
int cluster_publish_sign_keys(cluster_t *c, sqlite3 *db, size_t *published,
    err_t *err);

/* ---- one live session per site, across the hubs ----
 *
 *   live_sessions(site text primary key, incarnation, hub, seen_ms bigint)
 *
 * Each hub keeps one live session per site among its own (server.c); a
 * copy of a site's data folder connected to another hub at the same time
 * would pass that, so a hub of a cluster also claims the site here when
 * it welcomes it, and refreshes seen_ms for its live sessions every few
 * seconds. Times are PostgreSQL's clock, one for every hub. */

/* Claims site for incarnation at hub (all borrowed): 0 when claimed (no
 * row, the same incarnation's, hub's own, whose sessions hub itself
 * judges, or one not seen for live_ms); 1 when
 * another incarnation holds it, seen within live_ms, holder and holder_hub
 * then naming it (sizes in bytes); -1 with err as cluster_enroll says. */
int cluster_session_claim(cluster_t *c, const char *site,
    const char *incarnation, const char *hub, uint64_t live_ms, char *holder,
    size_t holder_size, char *holder_hub, size_t hub_size, err_t *err);

/* Called by cluster_sessions_seen for a site another hub has claimed
 * since (strings valid during the call only). */
typedef void (*cluster_taken_fn)(void *arg, const char *site,
    const char *incarnation, const char *hub);

/* Marks the n sites (borrowed ids) whose sessions hub holds live as seen
 * now, those whose row is still hub's, and calls taken(arg, ...) for each
 * of them whose row another hub claimed since (the node moved there, or a
 * copy of it got in while this hub did not mark it: both live now). 0, or
 * -1 with err. */
int cluster_sessions_seen(cluster_t *c, const char *hub,
    const char *const *sites, size_t n, cluster_taken_fn taken, void *arg,
    err_t *err);

#endif
