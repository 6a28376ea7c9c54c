/* store: a replica's SQLite database and op log (see store.h). */
#include "store.h"

#include <assert.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "chain.h"
#include "log.h"

#define STORE_BUSY_MS 10000 /* the CLI and a daemon share the file */
/* Bytes (store_open). At most 128 KiB - 1: SQLite copies the journal to
 * its temporary file in one write of up to this size, and the unix VFS
 * writes 17 bits' worth (0x1ffff) of a buffer per call, so a bigger
 * setting fails the first spill with SQLITE_FULL ("database or disk is
 * full"; 4 MB did so on a hub of a cluster, whose group savepoint holds
 * a whole group's apply). */
#define STORE_STMTJRNL_SPILL (128 * 1024 - 1)

typedef struct {
	const char *sql; /* the literal's address is the key */
	sqlite3_stmt *stmt;
} stmt_slot_t;

struct store {
	sqlite3 *db;
	char *path;
	ckpt_t *ckpt; /* daemons: the background checkpointer */
	store_side_t side;
	const store_rules_t *rules;
	char site[OP_SITE_MAX + 1];
	uint64_t (*wall_ms)(void);
	stmt_slot_t *stmts;    /* the statement cache (store_stmt) */
	sqlite3_stmt *nothing; /* stands in for one that did not prepare */
	size_t cap, nstmts;
	/* Loaded at begin, saved at commit. */
	int in_txn;
	hlc_t clock;
	uint64_t next_seq;
	int dirty;
	err_t read_err;	      /* the first failed read (store_row) */
	int quarantine_empty; /* -1: not looked at in this transaction */
	int seen_empty;	      /* op_seen, likewise */
	int inbox_empty;      /* the hub's op_inbox, likewise */
	char id_tag[STORE_TAG_MAX + 1]; /* store_new_id's, "" when none */
	char incarnation[STORE_INCARNATION_LEN + 1]; /* node: see store.h */
	char hold[ERR_MSG_MAX]; /* "" or why local writes are held */
	store_logged_fn logged; /* store_set_logged, NULL when none */
	void *logged_arg;
	store_shared_t shared_hooks;  /* store_set_shared's */
	const store_shared_t *shared; /* &shared_hooks, NULL when none */
	int in_shared;		      /* a hook runs: no hooks inside it */
	uint64_t shared_lsn;	      /* the begin hook's first lsn */
	uint64_t lsn_floor;	      /* store_set_lsn_floor */
	/* Writes held back in a bulk (store_hold), and whose they are. */
	int bulk;
	store_held_fn held_fn; /* NULL: nothing held */
	void *held_arg;
	const store_rule_t *held_rule;
	const store_rule_t *applying; /* the rule s_apply runs, or NULL */
	int depth;		      /* applies running, one inside another */
	/* The chain value last computed (s_chain_of), so that a batch of
	 * one site's ops in seq order reads none back; forgotten at
	 * rollback. */
	struct {
		char origin[OP_SITE_MAX + 1];
		uint64_t seq;
		uint8_t value[CHAIN_BYTES];
	} chain;
	/* The hub's inbox (store_receive): the new ops of the batch being
	 * received, written as one row by store_receive_end, and the row
	 * read last (s_inbox_row), kept for the rest of the transaction.
	 * Both are forgotten when it ends or rolls back (s_inbox_forget). */
	struct {
		char origin[OP_SITE_MAX + 1];
		char role[16];
		uint64_t first, n;
		int chained;
		cbw_t ops, ends, chains;
	} run;
	/* The inbox row that last failed to apply (store_apply_received)
	 * and how many times in a row: kept across transactions, so that
	 * the ROW_FAILS_MAX-th failure moves it out of the way. */
	struct {
		int64_t id;
		char origin[OP_SITE_MAX + 1];
		uint64_t first;
		int fails;
	} failed;
	struct {
		int valid;
		char origin[OP_SITE_MAX + 1];
		uint64_t first, last;
		cbw_t ops, ends;
	} row;
};

static int s_backfill_chains(store_t *st, err_t *err);
static void s_inbox_forget(store_t *st);
static int s_inbox_chain(store_t *st, const char *origin, uint64_t seq,
    uint8_t out[CHAIN_BYTES], err_t *err);
static int s_inbox_op(store_t *st, const char *origin, uint64_t seq,
    const uint8_t **body, size_t *len, err_t *err);
static int s_held_end(store_t *st, int write, err_t *err);

static int
s_exec(store_t *st, const char *sql, err_t *err)
{
	char *msg = NULL;

	if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		err_set(err, ERR_INTERNAL, "sqlite: %s", msg ? msg : "?");
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

/* s_exec of one statement that every transaction runs (BEGIN, COMMIT, a
 * savepoint), prepared once in the statement cache instead of parsed on
 * each call; the same errors. */
static int
s_exec_cached(store_t *st, const char *sql, err_t *err)
{
	sqlite3_stmt *s = store_stmt(st, sql);
	int rc;

	if (s == st->nothing) /* did not prepare: let SQLite say why */
		return s_exec(st, sql, err);
	if ((rc = sqlite3_step(s)) != SQLITE_DONE && rc != SQLITE_ROW)
		err_set(err, ERR_INTERNAL, "sqlite: %s",
		    sqlite3_errmsg(st->db));
	sqlite3_reset(s);
	return rc != SQLITE_DONE && rc != SQLITE_ROW ? -1 : 0;
}

int
store_schema_version(void)
{
	int i, v = 0;

	for (i = 0; i < schema_migration_count; i++)
		if (schema_migrations[i].side == SCHEMA_BOTH)
			v = schema_migrations[i].number;
	return v;
}

/* Applies the migrations of this side above the database's user_version, all
 * in one transaction. */
static int
s_migrate(store_t *st, err_t *err)
{
	sqlite3_stmt *stmt;
	int i, version, latest = 0;
	schema_side_t mine = st->side == STORE_HUB ? SCHEMA_HUB : SCHEMA_NODE;

	for (i = 0; i < schema_migration_count; i++)
		latest = schema_migrations[i].number;
	if (s_exec(st, "BEGIN IMMEDIATE", err))
		return -1;
	if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &stmt,
		NULL) != SQLITE_OK)
		goto fail_sqlite;
	if (sqlite3_step(stmt) != SQLITE_ROW) {
		sqlite3_finalize(stmt);
		goto fail_sqlite;
	}
	version = sqlite3_column_int(stmt, 0);
	sqlite3_finalize(stmt);
	if (version > latest) {
		err_set(err, ERR_UPGRADE,
		    "schema version %d is newer than this program's %d; upgrade the program",
		    version, latest);
		goto fail;
	}
	for (i = 0; i < schema_migration_count; i++) {
		const schema_migration_t *m = &schema_migrations[i];
		char pragma[64];

		if (m->number <= version)
			continue;
		if (m->side != SCHEMA_BOTH && m->side != mine)
			continue;
		if (s_exec(st, m->sql, err)) {
			err_prefix(err, "migration %s", m->name);
			goto fail;
		}
		snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d",
		    m->number);
		if (s_exec(st, pragma, err))
			goto fail;
	}
	return s_exec(st, "COMMIT", err);
fail_sqlite:
	err_set(err, ERR_INTERNAL, "migrate: %s", sqlite3_errmsg(st->db));
fail:
	s_exec(st, "ROLLBACK", NULL);
	return -1;
}

/* hlc_ms(x): the milliseconds of a clock stamp, in SQL as in C (hlc.h). */
static void
s_sql_hlc_ms(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	(void)argc;
	if (sqlite3_value_type(argv[0]) == SQLITE_NULL)
		sqlite3_result_null(ctx);
	else
		sqlite3_result_int64(ctx,
		    (sqlite3_int64)hlc_ms(
			(uint64_t)sqlite3_value_int64(argv[0])));
}

/* op_hash(body): an op's content hash, in SQL as in C (op.h). */
static void
s_sql_op_hash(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	uint8_t h[OP_HASH_BYTES];

	(void)argc;
	if (sqlite3_value_type(argv[0]) != SQLITE_BLOB) {
		sqlite3_result_null(ctx);
		return;
	}
	op_hash(sqlite3_value_blob(argv[0]),
	    (size_t)sqlite3_value_bytes(argv[0]), h);
	sqlite3_result_blob(ctx, h, sizeof h, SQLITE_TRANSIENT);
}

/* ---- which copy of the data this is ---- */

/* Where the database file lives: this machine (its machine id, or its
 * host name), the file's device and inode, and when the file was created
 * (where the file system keeps it; a restore in place may be given the
 * inode of the file it replaces). A file put back from a backup, or a
 * folder copied to another place or machine, lives elsewhere. */
static void
s_binding(const char *path, char *buf, size_t size)
{
	char machine[128] = "";
	struct statx sb;
	FILE *f;

	if ((f = fopen("/etc/machine-id", "r")) != NULL) {
		if (fgets(machine, sizeof machine, f) == NULL)
			machine[0] = '\0';
		fclose(f);
	}
	machine[strcspn(machine, "\r\n")] = '\0';
	if (machine[0] == '\0' && gethostname(machine, sizeof machine) != 0)
		snprintf(machine, sizeof machine, "?");
	machine[sizeof machine - 1] = '\0';
	memset(&sb, 0, sizeof sb);
	if (statx(AT_FDCWD, path, 0, STATX_INO | STATX_BTIME, &sb) != 0 ||
	    !(sb.stx_mask & STATX_BTIME))
		memset(&sb.stx_btime, 0, sizeof sb.stx_btime);
	snprintf(buf, size, "%s:%u.%u:%llu:%lld.%09u", machine,
	    sb.stx_dev_major, sb.stx_dev_minor, (unsigned long long)sb.stx_ino,
	    (long long)sb.stx_btime.tv_sec, sb.stx_btime.tv_nsec);
}

/* Fills buf (size bytes, an odd number) with random upper-case hex. */
static void
s_random_hex(char *buf, size_t size)
{
	uint8_t r[32];
	size_t i;

	assert(size % 2 == 1 && size / 2 <= sizeof r);
	randombytes_buf(r, size / 2);
	for (i = 0; i < size / 2; i++)
		snprintf(buf + 2 * i, 3, "%02X", r[i]);
}

/* A node's database bound elsewhere than it was is a restored or copied
 * one: the seq counter and ids may have gone back to numbers the hub
 * already holds. From now until the hub has told us what it holds
 * (store_confirmed), new ids carry a random tag, so none can equal an id
 * made before; the ops the hub holds under our seqs are compared when they
 * come back (s_displace), and the copy gets an incarnation of its own (the
 * hub lets one incarnation of a site in at a time). Rebinds; logs what it
 * found. */
static int
s_check_binding(store_t *st, err_t *err)
{
	char was[256], now[256], tag[STORE_TAG_MAX + 1];

	s_binding(st->path, now, sizeof now);
	if (store_meta_get_text(st, "bound", "", was, sizeof was, err) ||
	    store_meta_get_text(st, "incarnation", "", st->incarnation,
		sizeof st->incarnation, err))
		return -1;
	if (strcmp(was, now) == 0 && st->incarnation[0] != '\0')
		return 0;
	if (s_exec(st, "BEGIN IMMEDIATE", err))
		return -1;
	/* Another process may have rebound it meanwhile. */
	if (store_meta_get_text(st, "bound", "", was, sizeof was, err))
		goto fail;
	if (store_meta_get_text(st, "incarnation", "", st->incarnation,
		sizeof st->incarnation, err))
		goto fail;
	if (sodium_init() < 0) {
		err_set(err, ERR_INTERNAL, "libsodium init failed");
		goto fail;
	}
	if ((strcmp(was, now) != 0 && was[0] != '\0') ||
	    st->incarnation[0] == '\0') {
		/* A new copy of the data folder (or the first binding). */
		s_random_hex(st->incarnation, sizeof st->incarnation);
		if (store_meta_set_text(st, "incarnation", st->incarnation,
			err))
			goto fail;
	}
	if (strcmp(was, now) != 0 && was[0] != '\0') {
		s_random_hex(tag, sizeof tag);
		if (store_meta_set_text(st, "id_tag", tag, err) ||
		    store_meta_set_int(st, "restored_at",
			(int64_t)st->wall_ms(), err))
			goto fail;
		log_warn("%s: restored or copied (bound to %s, now %s): new "
			 "ids carry %s until the hub confirms our sequence",
		    st->path, was, now, tag);
	}
	if (store_meta_set_text(st, "bound", now, err) ||
	    s_exec(st, "COMMIT", err))
		goto fail;
	return 0;
fail:
	s_exec(st, "ROLLBACK", NULL);
	return err_prefix(err, "check binding");
}

store_t *
store_open(const char *path, store_side_t side, int create,
    const store_rules_t *rules, err_t *err)
{
	store_t *st;
	/* One thread owns a store: no per-call mutex. */
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX |
	    (create ? SQLITE_OPEN_CREATE : 0);

	/* Before SQLite initialises: no global memory statistics (a mutex
	 * on every allocation we do not need), and statement journals kept
	 * in memory up to STORE_STMTJRNL_SPILL: a group commit's savepoint
	 * per write (group.h) journals each page the write touches, and with
	 * SQLite's default of 64 KB a sale's spilled into a temporary file (a
	 * pwrite per page: 7.6% of a node's samples at 64 tills). Bigger ones
	 * still spill, so memory stays bounded; see STORE_STMTJRNL_SPILL for
	 * its bound. */
	static int configured;

	if (!configured) {
		sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
		sqlite3_config(SQLITE_CONFIG_STMTJRNL_SPILL,
		    STORE_STMTJRNL_SPILL);
		configured = 1;
	}
	st = calloc(1, sizeof *st);
	if (st == NULL)
		fatal("store: out of memory");
	st->side = side;
	st->rules = rules;
	st->wall_ms = hlc_wall_ms;
	st->path = strdup(path);
	if (sqlite3_open_v2(path, &st->db, flags, NULL) != SQLITE_OK) {
		err_set(err, ERR_INTERNAL, "open database %s: %s", path,
		    st->db ? sqlite3_errmsg(st->db) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(st->db, STORE_BUSY_MS);
	sqlite3_extended_result_codes(st->db, 1);
	if (sqlite3_create_function(st->db, "hlc_ms", 1,
		SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, NULL,
		s_sql_hlc_ms, NULL, NULL) != SQLITE_OK ||
	    sqlite3_create_function(st->db, "op_hash", 1,
		SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, NULL,
		s_sql_op_hash, NULL, NULL) != SQLITE_OK) {
		err_set(err, ERR_INTERNAL, "open database %s: functions: %s",
		    path, sqlite3_errmsg(st->db));
		goto fail;
	}
	if (s_exec(st,
		"PRAGMA journal_mode = WAL;"
		"PRAGMA synchronous = FULL;"
		"PRAGMA cache_size = -32768;" /* 32 MB: indexes of a busy log */
		"PRAGMA foreign_keys = ON;",
		err) ||
	    s_migrate(st, err)) {
		err_prefix(err, "open database %s", path);
		goto fail;
	}
	if (store_meta_get_text(st, "site", "", st->site, sizeof st->site,
		err) ||
	    (st->site[0] != '\0' && side == STORE_NODE &&
		s_check_binding(st, err)) ||
	    (st->site[0] != '\0' && s_backfill_chains(st, err))) {
		err_prefix(err, "open database %s", path);
		goto fail;
	}
	return st;
fail:
	store_close(&st);
	return NULL;
}

void
store_close(store_t **self_p)
{
	store_t *st;
	size_t k;

	if (self_p == NULL || *self_p == NULL)
		return;
	st = *self_p;
	s_held_end(st, 0, NULL);
	if (st->shared != NULL && st->shared->destroy != NULL)
		st->shared->destroy(st->shared->arg);
	ckpt_stop(&st->ckpt);
	cbw_free(&st->run.ops);
	cbw_free(&st->run.ends);
	cbw_free(&st->run.chains);
	cbw_free(&st->row.ops);
	cbw_free(&st->row.ends);
	free(st->path);
	for (k = 0; k < st->cap; k++)
		sqlite3_finalize(st->stmts[k].stmt);
	free(st->stmts);
	sqlite3_finalize(st->nothing);
	if (st->db != NULL)
		sqlite3_close(st->db);
	free(st);
	*self_p = NULL;
}

int
store_checkpoint_in_background(store_t *st, int bound_mb, int disk_low_mb,
    err_t *err)
{
	if (st->ckpt != NULL)
		return 0;
	st->ckpt = ckpt_start(st->db, STORE_BUSY_MS, st->path, bound_mb,
	    disk_low_mb, err);
	return st->ckpt != NULL ? 0 : -1;
}

void
store_health(store_t *st, ckpt_health_t *h)
{
	ckpt_health(st->ckpt, st->path, h);
}

sqlite3 *
store_db(store_t *st)
{
	return st->db;
}

const char *
store_path(store_t *st)
{
	return st->path;
}

const char *
store_site(store_t *st)
{
	return st->site;
}

int
store_is_hq(store_t *st)
{
	/* A failed read answers "no" and is kept, as store_row keeps it: the
	 * command that asked cannot commit. */
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT value = 'hq' FROM meta WHERE name = 'role'");
	int hq = store_row(st, s) && sqlite3_column_int(s, 0);

	sqlite3_reset(s);
	return hq;
}

uint64_t
store_wall_ms(store_t *st)
{
	return st->wall_ms();
}

void
store_set_wall(store_t *st, uint64_t (*wall_ms)(void))
{
	st->wall_ms = wall_ms ? wall_ms : hlc_wall_ms;
}

void
store_set_logged(store_t *st, store_logged_fn fn, void *arg)
{
	st->logged = fn;
	st->logged_arg = arg;
}

/* The statement cache: an open-addressing hash keyed by the SQL text's
 * address (every caller passes a literal), grown to keep it at most half
 * full. Any number of distinct statements is fine; the lookup stays one
 * or two probes on the hot path. */
static size_t
s_slot(const char *sql, size_t cap)
{
	return (size_t)(((uintptr_t)sql >> 3) * 0x9E3779B97F4A7C15ull) &
	    (cap - 1);
}

static void
s_cache_put(store_t *st, const char *sql, sqlite3_stmt *stmt)
{
	size_t i;

	if (2 * (st->nstmts + 1) > st->cap) {
		size_t old = st->cap, k;
		stmt_slot_t *was = st->stmts;

		st->cap = old ? 2 * old : 256;
		if ((st->stmts = calloc(st->cap, sizeof *st->stmts)) == NULL)
			fatal("store: out of memory");
		st->nstmts = 0;
		for (k = 0; k < old; k++)
			if (was[k].sql != NULL)
				s_cache_put(st, was[k].sql, was[k].stmt);
		free(was);
	}
	for (i = s_slot(sql, st->cap); st->stmts[i].sql != NULL;
	     i = (i + 1) & (st->cap - 1))
		;
	st->stmts[i].sql = sql;
	st->stmts[i].stmt = stmt;
	st->nstmts++;
}

/* A statement that does not prepare: our SQL is fixed, so the database
 * is not what it should be (a table dropped by hand, a file damaged).
 * Kept as a read error, so that the request fails with it and no
 * transaction commits; the caller gets a statement that answers no row
 * and writes nothing, and the daemon goes on serving. */
static sqlite3_stmt *
s_unpreparable(store_t *st, const char *sql)
{
	if (st->read_err.code == ERR_OK) {
		err_set(&st->read_err, ERR_INTERNAL, "prepare %.60s: %s", sql,
		    sqlite3_errmsg(st->db));
		log_warn("%s: %s", st->path, st->read_err.msg);
	}
	if (st->nothing == NULL &&
	    sqlite3_prepare_v2(st->db, "SELECT NULL WHERE 0", -1, &st->nothing,
		NULL) != SQLITE_OK)
		fatal("store %s: cannot prepare even an empty query: %s",
		    st->path, sqlite3_errmsg(st->db));
	sqlite3_reset(st->nothing);
	return st->nothing;
}

sqlite3_stmt *
store_stmt(store_t *st, const char *sql)
{
	size_t i;
	sqlite3_stmt *stmt;

	for (i = st->cap ? s_slot(sql, st->cap) : 0;
	     st->cap && st->stmts[i].sql != NULL; i = (i + 1) & (st->cap - 1)) {
		if (st->stmts[i].sql == sql) {
			stmt = st->stmts[i].stmt;
			sqlite3_reset(stmt);
			sqlite3_clear_bindings(stmt);
			return stmt;
		}
	}
	if (sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
		&stmt, NULL) != SQLITE_OK)
		return s_unpreparable(st, sql);
	s_cache_put(st, sql, stmt);
	return stmt;
}

int
store_step(store_t *st, sqlite3_stmt *stmt, const char *what, err_t *err)
{
	int rc = sqlite3_step(stmt);

	sqlite3_reset(stmt);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return err_set(err, ERR_INTERNAL, "%s: %s", what,
		    sqlite3_errmsg(st->db));
	return 0;
}

int
store_row(store_t *st, sqlite3_stmt *stmt)
{
	int rc = sqlite3_step(stmt);

	if (rc == SQLITE_ROW)
		return 1;
	if (rc != SQLITE_DONE && st->read_err.code == ERR_OK) {
		const char *sql = sqlite3_sql(stmt);

		err_set(&st->read_err, ERR_INTERNAL, "read %.60s: %s",
		    sql != NULL ? sql : "?", sqlite3_errmsg(st->db));
		log_warn("%s: %s", st->path, st->read_err.msg);
	}
	return 0;
}

int
store_read_error(store_t *st, err_t *err)
{
	if (st->read_err.code == ERR_OK)
		return 0;
	if (err != NULL)
		*err = st->read_err;
	return -1;
}

void
store_read_clear(store_t *st)
{
	err_clear(&st->read_err);
}

int64_t
store_query_int(store_t *st, sqlite3_stmt *stmt, int64_t dflt)
{
	int64_t v = dflt;

	if (store_row(st, stmt) && sqlite3_column_type(stmt, 0) != SQLITE_NULL)
		v = sqlite3_column_int64(stmt, 0);
	sqlite3_reset(stmt);
	return v;
}

int
store_query_int64(store_t *st, sqlite3_stmt *stmt, int64_t dflt, int64_t *out,
    err_t *err)
{
	int rc = sqlite3_step(stmt);

	*out = dflt;
	if (rc == SQLITE_ROW && sqlite3_column_type(stmt, 0) != SQLITE_NULL)
		*out = sqlite3_column_int64(stmt, 0);
	sqlite3_reset(stmt);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return err_set(err, ERR_INTERNAL, "query: %s",
		    sqlite3_errmsg(st->db));
	return 0;
}

/* ---- meta ---- */

/* Steps the meta read s of name: 1 with a row, 0 without, -1 with err. */
static int
s_meta_row(store_t *st, sqlite3_stmt *s, const char *name, err_t *err)
{
	int rc;

	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(s)) == SQLITE_ROW)
		return 1;
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return err_set(err, ERR_INTERNAL, "read %s: %s", name,
		    sqlite3_errmsg(st->db));
	return 0;
}

int
store_meta_get_int(store_t *st, const char *name, int64_t dflt, int64_t *out,
    err_t *err)
{
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT value FROM meta WHERE name = ?");
	int r = s_meta_row(st, s, name, err);

	*out = dflt;
	if (r > 0) {
		*out = sqlite3_column_int64(s, 0);
		sqlite3_reset(s);
	}
	return r < 0 ? -1 : 0;
}

int
store_meta_get_text(store_t *st, const char *name, const char *dflt, char *buf,
    size_t size, err_t *err)
{
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT value FROM meta WHERE name = ?");
	int r = s_meta_row(st, s, name, err);
	const char *v;

	snprintf(buf, size, "%s", dflt);
	if (r > 0) {
		v = (const char *)sqlite3_column_text(s, 0);
		snprintf(buf, size, "%s", v ? v : "");
		sqlite3_reset(s);
	}
	return r < 0 ? -1 : 0;
}

static int
s_meta_step(store_t *st, sqlite3_stmt *s, const char *name, err_t *err)
{
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return err_set(err, ERR_INTERNAL, "save %s: %s", name,
		    sqlite3_errmsg(st->db));
	return 0;
}

int
store_meta_set_int(store_t *st, const char *name, int64_t value, err_t *err)
{
	sqlite3_stmt *s = store_stmt(st,
	    "INSERT INTO meta(name, value) VALUES (?, ?) "
	    "ON CONFLICT(name) DO UPDATE SET value = excluded.value");

	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, value);
	return s_meta_step(st, s, name, err);
}

int
store_meta_set_text(store_t *st, const char *name, const char *value,
    err_t *err)
{
	sqlite3_stmt *s = store_stmt(st,
	    "INSERT INTO meta(name, value) VALUES (?, ?) "
	    "ON CONFLICT(name) DO UPDATE SET value = excluded.value");

	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, value, -1, SQLITE_STATIC);
	if (s_meta_step(st, s, name, err))
		return -1;
	if (strcmp(name, "site") == 0)
		snprintf(st->site, sizeof st->site, "%s", value);
	return 0;
}

/* ---- transactions ---- */

/* What store_begin reads of meta, in one read: the clock, the last seq,
 * the id tag and the drift bound, each its default when absent (as
 * store_meta_get_int and _text have them). */
static int
s_begin_meta(store_t *st, int64_t *last, int64_t *seq, int64_t *drift,
    err_t *err)
{
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT (SELECT coalesce(value, 0) FROM meta WHERE name = 'hlc'), "
	    "(SELECT coalesce(value, 0) FROM meta WHERE name = 'seq'), "
	    "(SELECT coalesce(value, '') FROM meta WHERE name = 'id_tag'), "
	    "(SELECT coalesce(value, 0) FROM meta WHERE name = "
	    "'max_drift_ms')");
	int rc = sqlite3_step(s);

	if (rc == SQLITE_ROW) {
		if (sqlite3_column_type(s, 0) != SQLITE_NULL)
			*last = sqlite3_column_int64(s, 0);
		if (sqlite3_column_type(s, 1) != SQLITE_NULL)
			*seq = sqlite3_column_int64(s, 1);
		snprintf(st->id_tag, sizeof st->id_tag, "%s",
		    sqlite3_column_type(s, 2) != SQLITE_NULL
			? (const char *)sqlite3_column_text(s, 2)
			: "");
		if (sqlite3_column_type(s, 3) != SQLITE_NULL)
			*drift = sqlite3_column_int64(s, 3);
	} else if (rc != SQLITE_DONE) { /* no row: it did not prepare */
		err_set(err, ERR_INTERNAL, "read meta: %s",
		    sqlite3_errmsg(st->db));
	}
	sqlite3_reset(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

void
store_set_shared(store_t *st, const store_shared_t *shared)
{
	assert(st->shared == NULL && !st->in_txn);
	st->shared_hooks = *shared;
	st->shared = &st->shared_hooks;
}

const store_shared_t *
store_shared(const store_t *st)
{
	return st->shared;
}

void
store_set_lsn_floor(store_t *st, uint64_t lsn)
{
	assert(st->in_txn);
	st->lsn_floor = lsn;
}

/* The shared log's commit hook, inside the transaction (store_set_shared):
 * 0 when there is none or it ran well. */
static int
s_shared_commit(store_t *st, err_t *err)
{
	int rc;

	if (st->shared == NULL || st->in_shared || st->shared_lsn == 0)
		return 0;
	st->in_shared = 1;
	rc = st->shared->commit(st->shared->arg, st, st->shared_lsn, err);
	st->in_shared = 0;
	if (rc == 0)
		st->shared_lsn = 0; /* done: nothing to abort */
	return rc;
}

/* The shared log's abort hook, once, when its begin hook ran. */
static void
s_shared_abort(store_t *st)
{
	if (st->shared == NULL || st->in_shared || st->shared_lsn == 0)
		return;
	st->shared_lsn = 0;
	st->in_shared = 1;
	st->shared->abort(st->shared->arg, st);
	st->in_shared = 0;
}

int
store_begin(store_t *st, err_t *err)
{
	int64_t last = 0, seq = 0, drift = HLC_DEFAULT_MAX_DRIFT_MS;
	int rc;

	assert(!st->in_txn);
	store_read_clear(st);
	st->shared_lsn = 0;
	if (st->shared != NULL && !st->in_shared) {
		st->in_shared = 1;
		rc = st->shared->begin(st->shared->arg, st, &st->shared_lsn,
		    err);
		st->in_shared = 0;
		if (rc != 0)
			return err_prefix(err, "begin");
	}
	st->lsn_floor = st->shared_lsn;
	if (s_exec_cached(st, "BEGIN IMMEDIATE", err)) {
		s_shared_abort(st);
		return err_prefix(err, "begin");
	}
	/* Re-read each time: another process may have written since. */
	if (s_begin_meta(st, &last, &seq, &drift, err)) {
		s_exec(st, "ROLLBACK", NULL);
		s_shared_abort(st);
		return err_prefix(err, "begin");
	}
	hlc_init(&st->clock, (uint64_t)last, (uint64_t)drift);
	st->next_seq = (uint64_t)seq + 1;
	st->dirty = 0;
	st->quarantine_empty = -1;
	st->seen_empty = -1;
	st->inbox_empty = -1;
	s_inbox_forget(st);
	st->in_txn = 1;
	return 0;
}

/* Saves the clock and the last seq a transaction used, in one write. */
static int
s_commit_meta(store_t *st, err_t *err)
{
	sqlite3_stmt *s = store_stmt(st,
	    "INSERT INTO meta(name, value) VALUES ('hlc', ?1), ('seq', ?2) "
	    "ON CONFLICT(name) DO UPDATE SET value = excluded.value");

	sqlite3_bind_int64(s, 1, (int64_t)hlc_last(&st->clock));
	sqlite3_bind_int64(s, 2, (int64_t)(st->next_seq - 1));
	return s_meta_step(st, s, "hlc and seq", err);
}

int
store_commit(store_t *st, err_t *err)
{
	assert(st->in_txn);
	/* What the transaction wrote was decided on what it read. */
	if (store_read_error(st, err)) {
		store_rollback(st);
		return err_prefix(err, "commit");
	}
	if (s_held_end(st, 1, err) || store_receive_end(st, err)) {
		store_rollback(st);
		return err_prefix(err, "commit");
	}
	if (st->dirty && s_commit_meta(st, err)) {
		store_rollback(st);
		return -1;
	}
	if (s_shared_commit(st, err)) {
		store_rollback(st);
		return err_prefix(err, "commit");
	}
	if (s_exec_cached(st, "COMMIT", err)) {
		store_rollback(st);
		return err_prefix(err, "commit");
	}
	s_inbox_forget(st);
	st->in_txn = 0;
	st->bulk = 0;
	return 0;
}

void
store_rollback(store_t *st)
{
	if (st->in_txn)
		s_shared_abort(st);
	st->chain.seq = 0;
	s_inbox_forget(st);
	s_held_end(st, 0, NULL);
	st->bulk = 0;
	if (!st->in_txn)
		return;
	if (!sqlite3_get_autocommit(st->db))
		s_exec(st, "ROLLBACK", NULL);
	st->in_txn = 0;
}

/* ---- merge rules ---- */

static const store_rule_t *
s_rule(const store_t *st, const char *entity)
{
	size_t i;

	for (i = 0; i < st->rules->n; i++)
		if (strcmp(entity, st->rules->rule[i].entity) == 0)
			return &st->rules->rule[i];
	return NULL;
}

/* Applies op by its entity's rule, once what another rule holds back is
 * written (store.h). */
static int
s_apply(store_t *st, const op_t *op, err_t *err)
{
	const store_rule_t *r = s_rule(st, op->entity), *was = st->applying;
	int rc;

	if (r == NULL)
		return err_set(err, ERR_BAD_REQUEST, "unknown entity '%s'",
		    op->entity);
	if (st->held_rule != NULL && st->held_rule != r &&
	    store_flush_held(st, err))
		return -1;
	st->applying = r;
	st->depth++;
	rc = r->apply(st, op, err);
	st->depth--;
	st->applying = was;
	return rc;
}

/* Whether op's stamp may be applied now (store.h): 0 when it is within
 * the clock's bound (the clock observes it) or decides no last-writer-wins
 * claim (the clock stays where it is), -1 with why when it must wait. */
static int
s_clock_admits(store_t *st, const op_t *op, err_t *why)
{
	const store_rule_t *r = s_rule(st, op->entity);

	if (hlc_observe(&st->clock, op->hlc, st->wall_ms(), why) == 0)
		return 0;
	if (r != NULL && !r->lww) {
		log_info("op %s/%llu applied with its stamp ahead: %s",
		    op->origin, (unsigned long long)op->seq, why->msg);
		err_clear(why);
		return 0;
	}
	return -1;
}

int
store_may_write(const store_t *st, const char *role, const char *entity)
{
	const store_rule_t *r = s_rule(st, entity);

	return r == NULL || !r->hq_only || strcmp(role, "hq") == 0;
}

/* ---- the op log ---- */

/* Whether this replica keeps origin's chain: the hub every site's, a node
 * its own. */
static int
s_keeps_chain(const store_t *st, const char *origin)
{
	return st->side == STORE_HUB || strcmp(origin, st->site) == 0;
}

/* The chain value held for (origin, seq), from the log or the quarantine,
 * or chain(0) for seq 0: 1 with it in out, 0 when none is held, -1 with
 * err. */
static int
s_chain_held(store_t *st, const char *origin, uint64_t seq,
    uint8_t out[CHAIN_BYTES], err_t *err)
{
	sqlite3_stmt *s;
	int found = 0;

	if (seq == 0) {
		chain_start(origin, out);
		return 1;
	}
	if (strcmp(st->chain.origin, origin) == 0 && st->chain.seq == seq &&
	    seq != 0) {
		memcpy(out, st->chain.value, CHAIN_BYTES);
		return 1;
	}
	s = store_stmt(st,
	    "SELECT chain FROM op_log WHERE origin = ?1 AND seq = ?2 "
	    "UNION ALL SELECT chain FROM quarantine WHERE origin = ?1 AND "
	    "seq = ?2 LIMIT 1");
	sqlite3_bind_text(s, 1, origin, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (int64_t)seq);
	if (store_row(st, s) && sqlite3_column_bytes(s, 0) == CHAIN_BYTES) {
		memcpy(out, sqlite3_column_blob(s, 0), CHAIN_BYTES);
		found = 1;
	}
	sqlite3_reset(s);
	if (store_read_error(st, err))
		return -1;
	/* At the hub, an op received and not applied yet is held too. */
	if (!found && st->side == STORE_HUB)
		return s_inbox_chain(st, origin, seq, out, err);
	return found;
}

/* chain(op's seq) for op (exact bytes body, len) into out, when this
 * replica keeps its origin's chain and holds the one before: 1, else 0
 * (the column stays NULL); -1 with err. */
static int
s_chain_of(store_t *st, const op_t *op, const uint8_t *body, size_t len,
    uint8_t out[CHAIN_BYTES], err_t *err)
{
	uint8_t prev[CHAIN_BYTES];
	int r;

	if (!s_keeps_chain(st, op->origin))
		return 0;
	if ((r = s_chain_held(st, op->origin, op->seq - 1, prev, err)) <= 0)
		return r;
	chain_next(prev, body, len, out);
	snprintf(st->chain.origin, sizeof st->chain.origin, "%s", op->origin);
	st->chain.seq = op->seq;
	memcpy(st->chain.value, out, CHAIN_BYTES);
	return 1;
}

int
store_chain_at(store_t *st, const char *origin, uint64_t seq,
    uint8_t out[CHAIN_BYTES], err_t *err)
{
	int r = s_chain_held(st, origin, seq, out, err);

	if (r == 0)
		return err_set(err, ERR_INTERNAL,
		    "chain of %s at seq %llu: not held here", origin,
		    (unsigned long long)seq);
	return r < 0 ? -1 : 0;
}

int
store_digest(store_t *st, const char *origin, uint64_t lo, uint64_t hi,
    uint64_t *count, char chain_hex[65], err_t *err)
{
	/* What is quarantined is held as much (its seq is taken), and at
	 * the hub what it received and has not applied yet. */
	sqlite3_stmt *s = st->side == STORE_HUB
	    ? store_stmt(st,
		  "SELECT (SELECT count(*) FROM op_log WHERE origin = ?1 AND "
		  "seq BETWEEN ?2 AND ?3) + (SELECT count(*) FROM quarantine "
		  "WHERE origin = ?1 AND seq BETWEEN ?2 AND ?3) + (SELECT "
		  "coalesce(sum(min(last, ?3) - max(first, ?2) + 1), 0) FROM "
		  "op_inbox WHERE origin = ?1 AND last >= ?2 AND first <= ?3)")
	    : store_stmt(st,
		  "SELECT (SELECT count(*) FROM op_log WHERE origin = ?1 AND "
		  "seq BETWEEN ?2 AND ?3) + (SELECT count(*) FROM quarantine "
		  "WHERE origin = ?1 AND seq BETWEEN ?2 AND ?3)");
	uint8_t c[CHAIN_BYTES];
	int r;

	if (store_receive_end(st, err))
		return -1;
	sqlite3_bind_text(s, 1, origin, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (int64_t)lo);
	sqlite3_bind_int64(s, 3, (int64_t)hi);
	*count = (uint64_t)store_query_int(st, s, 0);
	chain_hex[0] = '\0';
	if (store_read_error(st, err))
		return err_prefix(err, "digest of %s/%llu-%llu", origin,
		    (unsigned long long)lo, (unsigned long long)hi);
	if ((r = s_chain_held(st, origin, hi, c, err)) < 0)
		return -1;
	if (r > 0)
		sodium_bin2hex(chain_hex, 2 * CHAIN_BYTES + 1, c, CHAIN_BYTES);
	return 0;
}

/* Recomputes origin's chain from seq from on, in the log and the
 * quarantine (ops of ours renumbered, or ours coming back from the hub in
 * between; a log kept before chains were): 0, or -1 with err. */
static int
s_rechain_origin(store_t *st, const char *origin, uint64_t from, err_t *err)
{
	sqlite3_stmt *s;
	struct link {
		int64_t seq;
		uint8_t chain[CHAIN_BYTES];
	} *links = NULL, *l;
	uint8_t c[CHAIN_BYTES];
	size_t n = 0, cap = 0, i;
	int r, rc = -1;

	if ((r = s_chain_held(st, origin, from - 1, c, err)) <= 0)
		return r;
	/* Read all first: each update below writes the rows read. */
	s = store_stmt(st,
	    "SELECT seq, body FROM op_log WHERE origin = ?1 AND seq >= ?2 "
	    "UNION ALL SELECT seq, body FROM quarantine WHERE origin = ?1 "
	    "AND seq >= ?2 ORDER BY 1");
	sqlite3_bind_text(s, 1, origin, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (int64_t)from);
	while (store_row(st, s)) {
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			if ((l = realloc(links, cap * sizeof *l)) == NULL)
				fatal("store: out of memory");
			links = l;
		}
		chain_next(c, sqlite3_column_blob(s, 1),
		    (size_t)sqlite3_column_bytes(s, 1), c);
		links[n].seq = sqlite3_column_int64(s, 0);
		memcpy(links[n].chain, c, CHAIN_BYTES);
		n++;
	}
	sqlite3_reset(s);
	st->chain.seq = 0;
	if (store_read_error(st, err))
		goto out;
	for (i = 0; i < 2 * n; i++) {
		s = store_stmt(st,
		    i < n
			? "UPDATE op_log SET chain = ?3 WHERE origin = ?1 AND "
			  "seq = ?2"
			: "UPDATE quarantine SET chain = ?3 WHERE origin = ?1 "
			  "AND seq = ?2");
		sqlite3_bind_text(s, 1, origin, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, links[i % n].seq);
		sqlite3_bind_blob(s, 3, links[i % n].chain, CHAIN_BYTES,
		    SQLITE_STATIC);
		if (store_step(st, s, "rechain", err))
			goto out;
	}
	rc = 0;
out:
	free(links);
	return rc;
}

/* This site's own chain from seq from on. */
static int
s_rechain(store_t *st, uint64_t from, err_t *err)
{
	return s_rechain_origin(st, st->site, from, err);
}

/* Chains what was logged before chains were kept (the hub: every origin;
 * a node: its own), once, in one transaction, at open. */
static int
s_backfill_chains(store_t *st, err_t *err)
{
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT origin, min(seq) FROM (SELECT origin, seq FROM op_log "
	    "WHERE chain IS NULL UNION ALL SELECT origin, seq FROM "
	    "quarantine WHERE chain IS NULL) WHERE ?1 OR origin = ?2 "
	    "GROUP BY origin");
	char(*origins)[OP_SITE_MAX + 1] = NULL;
	uint64_t *from = NULL;
	size_t n = 0, i;
	int64_t done;
	int rc = -1;

	/* Once per database: the scan below reads the whole log. */
	if (store_meta_get_int(st, "chains_complete", 0, &done, err))
		return -1;
	if (done)
		return 0;
	sqlite3_bind_int(s, 1, st->side == STORE_HUB);
	sqlite3_bind_text(s, 2, st->site, -1, SQLITE_STATIC);
	while (store_row(st, s)) {
		if ((origins = realloc(origins, (n + 1) * sizeof *origins)) ==
			NULL ||
		    (from = realloc(from, (n + 1) * sizeof *from)) == NULL)
			fatal("store: out of memory");
		snprintf(origins[n], sizeof origins[n], "%s",
		    sqlite3_column_text(s, 0));
		from[n] = (uint64_t)sqlite3_column_int64(s, 1);
		n++;
	}
	sqlite3_reset(s);
	if (store_read_error(st, err))
		goto out;
	if (n > 0)
		log_info("%s: chaining the ops of %zu sites logged before "
			 "chains were kept",
		    st->path, n);
	if (store_begin(st, err))
		goto out;
	for (i = 0; i < n; i++)
		if (s_rechain_origin(st, origins[i], from[i], err)) {
			store_rollback(st);
			goto out;
		}
	if (store_meta_set_int(st, "chains_complete", 1, err)) {
		store_rollback(st);
		goto out;
	}
	rc = store_commit(st, err);
out:
	free(origins);
	free(from);
	return rc;
}

/* The lsn an op is logged at: the next after the last, or the floor a
 * hub copying a shared log sets (store_set_lsn_floor), parameter 20. */
#define S_LSN "max(ifnull((SELECT max(lsn) FROM op_log), 0) + 1, ?20)"

static int
s_log_insert(store_t *st, const op_t *op, const uint8_t *body, size_t len,
    err_t *err)
{
	sqlite3_stmt *s = store_stmt(st,
	    "INSERT INTO op_log(origin, seq, hlc, entity, key, body, chain, "
	    "lsn) VALUES (?, ?, ?, ?, ?, ?, ?, " S_LSN ")");
	uint8_t chain[CHAIN_BYTES];
	int rc;

	sqlite3_bind_int64(s, 20, (int64_t)st->lsn_floor);

	if ((rc = s_chain_of(st, op, body, len, chain, err)) < 0)
		return -1;
	if (rc > 0)
		sqlite3_bind_blob(s, 7, chain, CHAIN_BYTES, SQLITE_TRANSIENT);

	sqlite3_bind_text(s, 1, op->origin, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (int64_t)op->seq);
	sqlite3_bind_int64(s, 3, (int64_t)op->hlc);
	sqlite3_bind_text(s, 4, op->entity, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, op->key, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 6, body, (int)len, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return err_set(err, ERR_INTERNAL, "log op %s/%llu: %s",
		    op->origin, (unsigned long long)op->seq,
		    sqlite3_errmsg(st->db));
	return 0;
}

int
store_append_local(store_t *st, const char *entity, const char *key,
    const char *kind, json_t *fields, op_t *out, err_t *err)
{
	op_t op;
	cbw_t w;
	int rc = -1;

	assert(st->in_txn);
	memset(&op, 0, sizeof op);
	if (st->hold[0] != '\0')
		return err_set(err, ERR_UNAVAILABLE, "%s", st->hold);
	if (strlen(entity) > OP_NAME_MAX || strlen(kind) > OP_NAME_MAX)
		return err_set(err, ERR_BAD_REQUEST, "op: name too long");
	if (key[0] == '\0' || strlen(key) > OP_KEY_MAX)
		return err_set(err, ERR_BAD_REQUEST,
		    "id: must be 1 to %d bytes", OP_KEY_MAX);
	if (st->site[0] == '\0')
		return err_set(err, ERR_INTERNAL,
		    "write: replica has no site id");
	/* Each fits, checked above (and st->site is as long as an origin). */
	memcpy(op.origin, st->site, strlen(st->site) + 1);
	memcpy(op.entity, entity, strlen(entity) + 1);
	memcpy(op.key, key, strlen(key) + 1);
	memcpy(op.kind, kind, strlen(kind) + 1);
	op.seq = st->next_seq;
	op.hlc = hlc_tick(&st->clock, st->wall_ms());
	op.fields = fields;
	cbw_init(&w);
	if (op_encode(&op, &w, err))
		goto out;
	if (w.len > OP_MAX_BYTES) {
		err_set(err, ERR_TOO_LARGE, "write %s %s: %zu bytes (max %d)",
		    entity, key, w.len, OP_MAX_BYTES);
		goto out;
	}
	/* A refusal fails the caller's whole transaction. */
	if (s_apply(st, &op, err) ||
	    s_log_insert(st, &op, w.data, w.len, err) ||
	    (st->logged != NULL && st->logged(st->logged_arg, st, &op, err)))
		goto out;
	st->next_seq++;
	st->dirty = 1;
	if (out != NULL) {
		*out = op;
		json_incref(fields);
	}
	rc = 0;
out:
	cbw_free(&w);
	return rc;
}

int
store_txn(store_t *st, int (*fn)(store_t *, void *, err_t *), void *arg,
    err_t *err)
{
	store_mark_t mark;

	if (st->in_txn) {
		/* A part of the caller's transaction (a group's). */
		if (store_savepoint(st, &mark, err))
			return -1;
		if (fn(st, arg, err) || store_release(st, &mark, err)) {
			store_rollback_to(st, &mark);
			return -1;
		}
		return 0;
	}
	if (store_begin(st, err))
		return -1;
	if (fn(st, arg, err) || store_commit(st, err)) {
		store_rollback(st);
		return -1;
	}
	return 0;
}

/* ---- writes held back in a bulk (store.h) ---- */

/* Ends what is held: written (write 1) or dropped. 0, or -1 with err when
 * writing failed. */
static int
s_held_end(store_t *st, int write, err_t *err)
{
	store_held_fn fn = st->held_fn;

	if (fn == NULL)
		return 0;
	st->held_fn = NULL;
	st->held_rule = NULL;
	return fn(st->held_arg, st, write, err);
}

void
store_bulk_begin(store_t *st)
{
	assert(st->in_txn);
	st->bulk = 1;
}

int
store_bulk(const store_t *st)
{
	/* An op a rule records on its way (store_append_local inside an
	 * apply) is written as it goes: that rule may read it next. */
	return st->bulk && st->depth <= 1;
}

void *
store_held(store_t *st, store_held_fn fn)
{
	return st->held_fn == fn ? st->held_arg : NULL;
}

void
store_hold(store_t *st, store_held_fn fn, void *arg)
{
	assert(st->bulk && st->applying != NULL && st->held_fn == NULL);
	st->held_fn = fn;
	st->held_arg = arg;
	st->held_rule = st->applying;
}

int
store_flush_held(store_t *st, err_t *err)
{
	return s_held_end(st, 1, err);
}

/* ---- savepoints ---- */

/* One name for every mark: marks nest strictly, and SQLite releases or
 * rolls back to the innermost savepoint of a name. */
int
store_savepoint(store_t *st, store_mark_t *mark, err_t *err)
{
	assert(st->in_txn);
	/* What is held back belongs before the mark. */
	if (s_held_end(st, 1, err) || store_read_error(st, err) ||
	    s_exec_cached(st, "SAVEPOINT part", err))
		return err_prefix(err, "savepoint");
	mark->next_seq = st->next_seq;
	mark->clock = st->clock;
	mark->dirty = st->dirty;
	return 0;
}

int
store_release(store_t *st, store_mark_t *mark, err_t *err)
{
	(void)mark;
	if (!st->in_txn) /* lost under an inner part (store_txn) */
		return err_set(err, ERR_INTERNAL,
		    "release: the transaction was rolled back");
	if (store_read_error(st, err) || s_exec_cached(st, "RELEASE part", err))
		return err_prefix(err, "release");
	return 0;
}

int
store_rollback_to(store_t *st, const store_mark_t *mark)
{
	if (!st->in_txn)
		return -1; /* lost under an inner part (store_txn) */
	/* What was decided on a failed read goes with the rest; the caches
	 * of this transaction may describe rows that go too. */
	store_read_clear(st);
	st->chain.seq = 0;
	st->quarantine_empty = -1;
	st->seen_empty = -1;
	st->inbox_empty = -1;
	s_inbox_forget(st);
	s_held_end(st, 0, NULL); /* all of it came after the mark */
	if (sqlite3_get_autocommit(st->db) ||
	    s_exec(st, "ROLLBACK TO part; RELEASE part", NULL)) {
		/* SQLite dropped the whole transaction. */
		store_rollback(st);
		return -1;
	}
	st->next_seq = mark->next_seq;
	st->clock = mark->clock;
	st->dirty = mark->dirty;
	return 0;
}

void
store_hold_writes(store_t *st, const char *reason)
{
	snprintf(st->hold, sizeof st->hold, "%s", reason);
}

const char *
store_incarnation(const store_t *st)
{
	return st->incarnation;
}

int
store_confirmed(store_t *st, err_t *err)
{
	assert(st->in_txn);
	if (st->id_tag[0] == '\0')
		return 0;
	st->id_tag[0] = '\0';
	return store_meta_set_text(st, "id_tag", "", err);
}

void
store_new_id(store_t *st, char *buf, size_t size)
{
	assert(st->in_txn);
	if (st->id_tag[0] != '\0')
		snprintf(buf, size, "%s-%s-%06llu", st->site, st->id_tag,
		    (unsigned long long)st->next_seq);
	else
		snprintf(buf, size, "%s-%06llu", st->site,
		    (unsigned long long)st->next_seq);
}

uint64_t
store_next_seq(const store_t *st)
{
	assert(st->in_txn);
	return st->next_seq;
}

int
store_unquarantine(store_t *st, const op_t *op, const uint8_t *body, size_t len,
    int *removed, err_t *err)
{
	sqlite3_stmt *s = store_stmt(st,
	    "DELETE FROM quarantine WHERE origin = ? AND seq = ? "
	    "RETURNING body = ?, body");
	op_t held;
	cbr_t r;
	int rc, same = 1;
	cbw_t other;

	assert(st->in_txn);
	cbw_init(&other);
	sqlite3_bind_text(s, 1, op->origin, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (int64_t)op->seq);
	sqlite3_bind_blob(s, 3, body, (int)len, SQLITE_STATIC);
	if (removed != NULL)
		*removed = 0;
	if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (removed != NULL)
			*removed = 1;
		same = sqlite3_column_int(s, 0);
		if (!same)
			cbw_raw(&other, sqlite3_column_blob(s, 1),
			    (size_t)sqlite3_column_bytes(s, 1));
		rc = sqlite3_step(s);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		cbw_free(&other);
		return err_set(err, ERR_INTERNAL, "unquarantine op %s/%llu: %s",
		    op->origin, (unsigned long long)op->seq,
		    sqlite3_errmsg(st->db));
	}
	st->chain.seq = 0; /* what it chained is no longer held */
	if (same) {
		cbw_free(&other);
		return 0;
	}
	/* The op this hub held is kept on record, as any conflict is. */
	memset(&held, 0, sizeof held);
	cbr_init(&r, other.data, other.len);
	rc = op_decode(&r, &held, err) != 0 ||
	    store_conflict(st, &held, other.data, other.len,
		"the shared log holds another op under this seq", err) != 0;
	op_clear(&held);
	cbw_free(&other);
	return rc ? -1 : 0;
}

int
store_quarantine(store_t *st, const op_t *op, const uint8_t *body, size_t len,
    const char *reason, err_t *err)
{
	sqlite3_stmt *s = store_stmt(st,
	    "INSERT OR IGNORE INTO quarantine(origin, seq, body, reason, at, "
	    "chain) VALUES (?, ?, ?, ?, ?, ?)");
	uint8_t chain[CHAIN_BYTES];
	int rc;

	/* A quarantined op is in its site's chain as much as any. */
	if ((rc = s_chain_of(st, op, body, len, chain, err)) < 0)
		return -1;
	if (rc > 0)
		sqlite3_bind_blob(s, 6, chain, CHAIN_BYTES, SQLITE_TRANSIENT);

	sqlite3_bind_text(s, 1, op->origin, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (int64_t)op->seq);
	sqlite3_bind_blob(s, 3, body, (int)len, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, reason, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 5, (int64_t)st->wall_ms());
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	st->quarantine_empty = 0;
	if (rc != SQLITE_DONE)
		return err_set(err, ERR_INTERNAL, "quarantine op %s/%llu: %s",
		    op->origin, (unsigned long long)op->seq,
		    sqlite3_errmsg(st->db));
	return 0;
}

/* Our own op coming back (a site restored from an old backup), applied or
 * quarantined: never hand out its seq again. */
static void
s_reserve_seq(store_t *st, const op_t *op)
{
	if (strcmp(op->origin, st->site) == 0 && op->seq >= st->next_seq)
		st->next_seq = op->seq + 1;
	st->dirty = 1;
}

int
store_ingest(store_t *st, const op_t *op, const uint8_t *body, size_t len,
    ingest_result_t *result, err_t *err)
{
	return store_ingest_from(st, op, body, len, NULL, result, err);
}

/* How a received op compares with what is held under its (origin, seq). */
typedef enum {
	HELD_NONE,  /* nothing: the op is new */
	HELD_SAME,  /* the same op: a duplicate */
	HELD_OTHER, /* a different op: a conflict */
} held_t;

/* Runs s, a cached query of one row whose column says whether the held op
 * is the same, bound with (origin, seq) as ?1, ?2; adds its answer to
 * *held. -1 with err on a storage error. */
static int
s_held_in(store_t *st, sqlite3_stmt *s, const op_t *op, held_t *held,
    err_t *err)
{
	int64_t v;

	sqlite3_bind_text(s, 1, op->origin, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (int64_t)op->seq);
	if (store_query_int64(st, s, -1, &v, err))
		return -1;
	if (v >= 0)
		*held = v ? HELD_SAME : HELD_OTHER;
	return 0;
}

/* What is held under op's (origin, seq) outside the log: quarantined (its
 * bytes compared), at the hub received and not applied yet (likewise), or
 * at a node dropped by retention with its identity kept (its hash
 * compared; an identity kept without one counts as the same). -1 with err
 * on a storage error (taking it for new would apply it twice). Whether
 * each table is empty is looked at once a transaction rather than once an
 * op. */
static int
s_held_elsewhere(store_t *st, const op_t *op, const uint8_t *body, size_t len,
    held_t *held, err_t *err)
{
	sqlite3_stmt *s;
	uint8_t hash[OP_HASH_BYTES];
	int64_t v;

	*held = HELD_NONE;
	if (st->quarantine_empty < 0) {
		if (store_query_int64(st,
			store_stmt(st,
			    "SELECT NOT EXISTS "
			    "(SELECT 1 FROM quarantine)"),
			1, &v, err))
			return -1;
		st->quarantine_empty = v != 0;
	}
	if (st->seen_empty < 0) {
		v = 1;
		if (st->side == STORE_NODE &&
		    store_query_int64(st,
			store_stmt(st,
			    "SELECT NOT EXISTS (SELECT 1 FROM op_seen)"),
			1, &v, err))
			return -1;
		st->seen_empty = v != 0;
	}
	if (!st->quarantine_empty) {
		s = store_stmt(st,
		    "SELECT body = ?3 FROM quarantine "
		    "WHERE origin = ?1 AND seq = ?2");
		sqlite3_bind_blob(s, 3, body, (int)len, SQLITE_STATIC);
		if (s_held_in(st, s, op, held, err))
			return -1;
	}
	if (st->side == STORE_HUB && *held == HELD_NONE) {
		if (store_receive_end(st, err))
			return -1;
		if (st->inbox_empty < 0) {
			if (store_query_int64(st,
				store_stmt(st,
				    "SELECT NOT EXISTS "
				    "(SELECT 1 FROM op_inbox)"),
				1, &v, err))
				return -1;
			st->inbox_empty = v != 0;
		}
		if (!st->inbox_empty) {
			const uint8_t *in = NULL;
			size_t n = 0;
			int r;

			if ((r = s_inbox_op(st, op->origin, op->seq, &in, &n,
				 err)) < 0)
				return -1;
			if (r > 0)
				*held = n == len && memcmp(in, body, len) == 0
				    ? HELD_SAME
				    : HELD_OTHER;
		}
	}
	if (!st->seen_empty && *held == HELD_NONE) {
		op_hash(body, len, hash);
		s = store_stmt(st,
		    "SELECT hash IS NULL OR hash = ?3 FROM op_seen "
		    "WHERE origin = ?1 AND seq = ?2");
		sqlite3_bind_blob(s, 3, hash, sizeof hash, SQLITE_STATIC);
		if (s_held_in(st, s, op, held, err))
			return -1;
	}
	return 0;
}

int
store_conflict(store_t *st, const op_t *op, const uint8_t *body, size_t len,
    const char *reason, err_t *err)
{
	sqlite3_stmt *s = store_stmt(st,
	    "INSERT OR IGNORE INTO op_conflicts"
	    "(origin, seq, hash, body, reason, at) "
	    "VALUES (?, ?, ?, ?, ?, ?)");
	uint8_t hash[OP_HASH_BYTES];

	op_hash(body, len, hash);
	sqlite3_bind_text(s, 1, op->origin, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (int64_t)op->seq);
	sqlite3_bind_blob(s, 3, hash, sizeof hash, SQLITE_STATIC);
	sqlite3_bind_blob(s, 4, body, (int)len, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, reason, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 6, (int64_t)st->wall_ms());
	return store_step(st, s, "keep a conflicting op", err);
}

/* Tables of the state that key rows by the op that made them (columns
 * origin and seq): a renumbered op takes its rows along. Read from the
 * schema, so the core needs no list of the domain's tables. */
#define SEQ_TABLES_SQL                                                         \
	"SELECT m.name FROM sqlite_master m WHERE m.type = 'table' "           \
	"AND m.name NOT IN ('op_log', 'quarantine', 'op_seen', "               \
	"'op_conflicts') AND EXISTS (SELECT 1 FROM pragma_table_info(m.name) " \
	"WHERE name = 'origin') AND EXISTS (SELECT 1 FROM "                    \
	"pragma_table_info(m.name) WHERE name = 'seq') ORDER BY m.name"

/* Renumbers this site's own op old, which the hub does not hold (it holds
 * another op under that seq: this data folder was restored or copied), to
 * the next free seq, with the state rows it keyed. Its ids and effects are
 * unchanged, so nothing recorded is lost; it is pushed under its new seq. */
static int
s_displace(store_t *st, uint64_t old, err_t *err)
{
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT body FROM op_log WHERE origin = ? AND seq = ?");
	sqlite3_stmt *t = NULL;
	uint64_t seq = st->next_seq;
	op_t op;
	cbr_t r;
	cbw_t w;
	char sql[256];
	int rc = -1;

	memset(&op, 0, sizeof op);
	cbw_init(&w);
	sqlite3_bind_text(s, 1, st->site, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (int64_t)old);
	if (!store_row(st, s)) {
		sqlite3_reset(s);
		store_read_error(st, err);
		return err_prefix(err, "renumber op %s/%llu", st->site,
		    (unsigned long long)old);
	}
	cbr_init(&r, sqlite3_column_blob(s, 0),
	    (size_t)sqlite3_column_bytes(s, 0));
	if (op_decode(&r, &op, err)) {
		sqlite3_reset(s);
		return err_prefix(err, "renumber op %s/%llu", st->site,
		    (unsigned long long)old);
	}
	sqlite3_reset(s);
	op.seq = seq;
	if (op_encode(&op, &w, err))
		goto out;
	s = store_stmt(st,
	    "UPDATE op_log SET seq = ?3, body = ?4 "
	    "WHERE origin = ?1 AND seq = ?2");
	sqlite3_bind_text(s, 1, st->site, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (int64_t)old);
	sqlite3_bind_int64(s, 3, (int64_t)seq);
	sqlite3_bind_blob(s, 4, w.data, (int)w.len, SQLITE_STATIC);
	if (store_step(st, s, "renumber an op", err))
		goto out;
	s = store_stmt(st, SEQ_TABLES_SQL);
	while (store_row(st, s)) {
		snprintf(sql, sizeof sql,
		    "UPDATE \"%s\" SET seq = ?3 WHERE origin = ?1 AND seq = ?2",
		    (const char *)sqlite3_column_text(s, 0));
		if (sqlite3_prepare_v2(st->db, sql, -1, &t, NULL) != SQLITE_OK)
			break;
		sqlite3_bind_text(t, 1, st->site, -1, SQLITE_STATIC);
		sqlite3_bind_int64(t, 2, (int64_t)old);
		sqlite3_bind_int64(t, 3, (int64_t)seq);
		if (sqlite3_step(t) != SQLITE_DONE)
			break;
		sqlite3_finalize(t);
		t = NULL;
	}
	sqlite3_reset(s);
	if (t != NULL || store_read_error(st, err)) {
		if (t != NULL)
			err_set(err, ERR_INTERNAL, "renumber op %s/%llu: %s",
			    st->site, (unsigned long long)old,
			    sqlite3_errmsg(st->db));
		sqlite3_finalize(t);
		goto out;
	}
	st->next_seq++;
	st->dirty = 1;
	st->chain.seq = 0;
	log_warn("op %s/%llu renumbered to %s/%llu: the hub holds another op "
		 "under its seq (this data folder was restored or copied)",
	    st->site, (unsigned long long)old, st->site,
	    (unsigned long long)seq);
	rc = 0;
out:
	op_clear(&op);
	cbw_free(&w);
	return rc;
}

/* A different op under a held (origin, seq): refused, kept with why. */
static int
s_conflict(store_t *st, const op_t *op, const uint8_t *body, size_t len,
    ingest_result_t *result, err_t *err)
{
	err_t why;

	err_set(&why, ERR_CONFLICT,
	    "op %s/%llu: differs from the op held under this seq (a restored "
	    "or copied data folder, or a forgery)",
	    op->origin, (unsigned long long)op->seq);
	if (store_conflict(st, op, body, len, why.msg, err))
		return -1;
	*result = INGEST_CONFLICT;
	if (err != NULL)
		*err = why;
	return 0;
}

/* Keeps op refused for why in the quarantine; its seq stays taken. */
static int
s_quarantined(store_t *st, const op_t *op, const uint8_t *body, size_t len,
    const err_t *why, ingest_result_t *result, err_t *err)
{
	if (store_quarantine(st, op, body, len, why->msg, err))
		return -1;
	s_reserve_seq(st, op);
	*result = INGEST_QUARANTINED;
	if (err != NULL)
		*err = *why;
	return 0;
}

/* An op from a role that may not write its entity: quarantined, unless
 * its (origin, seq) is already in the log (then held elsewhere said
 * nothing, and the log decides: same or conflict). */
static int
s_refuse_writer(store_t *st, const op_t *op, const uint8_t *body, size_t len,
    const char *role, ingest_result_t *result, err_t *err)
{
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT body = ?3 FROM op_log WHERE origin = ?1 AND seq = ?2");
	held_t held = HELD_NONE;
	err_t why;

	sqlite3_bind_blob(s, 3, body, (int)len, SQLITE_STATIC);
	if (s_held_in(st, s, op, &held, err))
		return -1;
	if (held == HELD_OTHER)
		return s_conflict(st, op, body, len, result, err);
	if (held == HELD_SAME) {
		*result = INGEST_DUPLICATE;
		return 0;
	}
	err_set(&why, ERR_FORBIDDEN,
	    "apply op %s/%llu: a %s may not write %s (head office data)",
	    op->origin, (unsigned long long)op->seq, role, op->entity);
	return s_quarantined(st, op, body, len, &why, result, err);
}

int
store_ingest_from(store_t *st, const op_t *op, const uint8_t *body, size_t len,
    const ingest_from_t *from, ingest_result_t *result, err_t *err)
{
	const op_vis_t *vis = from != NULL ? from->vis : NULL;
	sqlite3_stmt *s;
	uint8_t chain[CHAIN_BYTES];
	err_t why;
	held_t held;
	int rc, admits;

	assert(st->in_txn);
	if (s_held_elsewhere(st, op, body, len, &held, err))
		return err_prefix(err, "ingest op %s/%llu", op->origin,
		    (unsigned long long)op->seq);
	if (held == HELD_OTHER)
		return s_conflict(st, op, body, len, result, err);
	if (held == HELD_SAME) {
		*result = INGEST_DUPLICATE;
		return 0;
	}
	if (from != NULL && from->role != NULL &&
	    !store_may_write(st, from->role, op->entity))
		return s_refuse_writer(st, op, body, len, from->role, result,
		    err);
	/* Logging first doubles as the duplicate check: (origin, seq) is
	 * unique. An op refused below is taken out of the log again. */
	/* Who may receive it is kept at the hub only. */
	assert(vis == NULL || st->side == STORE_HUB);
	s = st->side == STORE_HUB
	    ? store_stmt(st,
		  "INSERT OR IGNORE INTO "
		  "op_log(origin, seq, hlc, entity, key, body, chain, vis_site, "
		  "vis_site2, vis_region, lsn) VALUES (?, ?, ?, ?, ?, ?, ?, ?, "
		  "?, ?, " S_LSN ")")
	    : store_stmt(st,
		  "INSERT OR IGNORE INTO op_log(origin, seq, hlc, "
		  "entity, key, body, chain, lsn) "
		  "VALUES (?, ?, ?, ?, ?, ?, ?, " S_LSN ")");
	sqlite3_bind_int64(s, 20, (int64_t)st->lsn_floor);
	if ((rc = s_chain_of(st, op, body, len, chain, err)) < 0)
		return err_prefix(err, "ingest op %s/%llu", op->origin,
		    (unsigned long long)op->seq);
	if (rc > 0)
		sqlite3_bind_blob(s, 7, chain, CHAIN_BYTES, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 1, op->origin, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (int64_t)op->seq);
	sqlite3_bind_int64(s, 3, (int64_t)op->hlc);
	sqlite3_bind_text(s, 4, op->entity, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, op->key, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 6, body, (int)len, SQLITE_STATIC);
	if (vis != NULL) {
		sqlite3_bind_text(s, 8, vis->site, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(s, 9, vis->site2, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(s, 10, vis->region, -1, SQLITE_TRANSIENT);
	}
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return err_set(err, ERR_INTERNAL, "log op %s/%llu: %s",
		    op->origin, (unsigned long long)op->seq,
		    sqlite3_errmsg(st->db));
	if (sqlite3_changes(st->db) == 0) {
		/* Held in the log: the same bytes, or a conflict. What was
		 * computed of its chain is not what is held. */
		st->chain.seq = 0;
		s = store_stmt(st,
		    "SELECT body = ?3 FROM op_log "
		    "WHERE origin = ?1 AND seq = ?2");
		sqlite3_bind_blob(s, 3, body, (int)len, SQLITE_STATIC);
		held = HELD_NONE;
		if (s_held_in(st, s, op, &held, err))
			return err_prefix(err, "ingest op %s/%llu", op->origin,
			    (unsigned long long)op->seq);
		if (held == HELD_OTHER && st->side == STORE_NODE &&
		    strcmp(op->origin, st->site) == 0) {
			/* The hub's op is the one under this seq: ours
			 * moves to a new one, and the hub's is taken. */
			if (s_displace(st, op->seq, err))
				return -1;
			return store_ingest_from(st, op, body, len, from,
			    result, err);
		}
		if (held == HELD_OTHER)
			return s_conflict(st, op, body, len, result, err);
		*result = INGEST_DUPLICATE;
		return 0;
	}
	err_clear(&why);
	/* A rule checks before it writes (store_apply_fn), so a refusal leaves
	 * nothing to undo but the log row. */
	/* The clock observes what it admits; another hub's admission
	 * stands (ingest_from_t), the clock staying where it is. */
	admits = s_clock_admits(st, op, &why) == 0;
	if (!admits && from != NULL && from->admitted) {
		err_clear(&why);
		admits = 1;
	}
	if (admits && s_apply(st, op, &why) == 0) {
		s_reserve_seq(st, op);
		*result = INGEST_APPLIED;
		if (st->logged != NULL &&
		    st->logged(st->logged_arg, st, op, err))
			return -1;
		/* One of ours back from the hub: the ones after it in our
		 * chain follow it now. */
		if (st->side == STORE_NODE && strcmp(op->origin, st->site) == 0)
			return s_rechain(st, op->seq + 1, err);
		return 0;
	}
	if (why.code == ERR_INTERNAL) {
		if (err != NULL)
			*err = why;
		return -1;
	}
	s = store_stmt(st, "DELETE FROM op_log WHERE origin = ? AND seq = ?");
	sqlite3_bind_text(s, 1, op->origin, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (int64_t)op->seq);
	if (store_step(st, s, "unlog a refused op", err))
		return -1;
	err_prefix(&why, "apply op %s/%llu", op->origin,
	    (unsigned long long)op->seq);
	return s_quarantined(st, op, body, len, &why, result, err);
}

/* ---- the hub's inbox (schema/hub/0039) ---- */

/* Forgets the batch being received and the row read last. */
static void
s_inbox_forget(store_t *st)
{
	st->run.n = 0;
	st->row.valid = 0;
}

static void
s_put32(cbw_t *w, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16),
		(uint8_t)(v >> 8), (uint8_t)v };

	cbw_raw(w, b, sizeof b);
}

static uint32_t
s_get32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
	    (uint32_t)b[2] << 8 | (uint32_t)b[3];
}

/* Reads the inbox row of origin that holds seq into st->row, unless it is
 * there: 1 when there is one, 0 when none, -1 with err. */
static int
s_inbox_row(store_t *st, const char *origin, uint64_t seq, err_t *err)
{
	sqlite3_stmt *s;
	size_t n;
	int found = 0, fits = 1;

	if (st->row.valid && strcmp(st->row.origin, origin) == 0 &&
	    st->row.first <= seq && seq <= st->row.last)
		return 1;
	if (store_receive_end(st, err))
		return -1;
	s = store_stmt(st,
	    "SELECT first, last, ends, ops FROM op_inbox "
	    "WHERE origin = ? AND last >= ? ORDER BY last LIMIT 1");
	sqlite3_bind_text(s, 1, origin, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (int64_t)seq);
	if (store_row(st, s) && (uint64_t)sqlite3_column_int64(s, 0) <= seq) {
		st->row.first = (uint64_t)sqlite3_column_int64(s, 0);
		st->row.last = (uint64_t)sqlite3_column_int64(s, 1);
		n = (size_t)sqlite3_column_bytes(s, 2);
		cbw_reset(&st->row.ends);
		cbw_raw(&st->row.ends, sqlite3_column_blob(s, 2), n);
		cbw_reset(&st->row.ops);
		cbw_raw(&st->row.ops, sqlite3_column_blob(s, 3),
		    (size_t)sqlite3_column_bytes(s, 3));
		snprintf(st->row.origin, sizeof st->row.origin, "%s", origin);
		fits = n == 4 * (st->row.last - st->row.first + 1) &&
		    s_get32(st->row.ends.data + n - 4) == st->row.ops.len;
		st->row.valid = found = fits;
	}
	sqlite3_reset(s);
	if (store_read_error(st, err))
		return -1;
	if (!fits)
		return err_set(err, ERR_INTERNAL,
		    "inbox row %s/%llu-%llu: its ends do not fit its ops",
		    origin, (unsigned long long)st->row.first,
		    (unsigned long long)st->row.last);
	return found;
}

/* The bytes of op (origin, seq) in the inbox into *body, *len (borrowed
 * until the next inbox read): 1, 0 when it is not there, -1 with err. */
static int
s_inbox_op(store_t *st, const char *origin, uint64_t seq, const uint8_t **body,
    size_t *len, err_t *err)
{
	uint64_t k;
	uint32_t from, to;
	int r;

	if ((r = s_inbox_row(st, origin, seq, err)) <= 0)
		return r;
	k = seq - st->row.first;
	from = k == 0 ? 0 : s_get32(st->row.ends.data + 4 * (k - 1));
	to = s_get32(st->row.ends.data + 4 * k);
	if (from > to || to > st->row.ops.len)
		return err_set(err, ERR_INTERNAL,
		    "inbox op %s/%llu: its ends do not fit its row", origin,
		    (unsigned long long)seq);
	*body = st->row.ops.data + from;
	*len = to - from;
	return 1;
}

/* The chain of (origin, seq) held in the inbox (or in the batch being
 * received) into out: 1, 0 when none is, -1 with err. */
static int
s_inbox_chain(store_t *st, const char *origin, uint64_t seq,
    uint8_t out[CHAIN_BYTES], err_t *err)
{
	sqlite3_stmt *s;
	size_t k;
	int found = 0;

	if (st->run.n > 0 && strcmp(st->run.origin, origin) == 0 &&
	    st->run.first <= seq && seq < st->run.first + st->run.n) {
		if (!st->run.chained)
			return 0;
		memcpy(out,
		    st->run.chains.data + CHAIN_BYTES * (seq - st->run.first),
		    CHAIN_BYTES);
		return 1;
	}
	s = store_stmt(st,
	    "SELECT first, last, chain, chains FROM op_inbox "
	    "WHERE origin = ? AND last >= ? ORDER BY last LIMIT 1");
	sqlite3_bind_text(s, 1, origin, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (int64_t)seq);
	if (store_row(st, s) && (uint64_t)sqlite3_column_int64(s, 0) <= seq) {
		k = (size_t)(seq - (uint64_t)sqlite3_column_int64(s, 0));
		if ((uint64_t)sqlite3_column_int64(s, 1) == seq &&
		    sqlite3_column_bytes(s, 2) == CHAIN_BYTES) {
			/* The last of a batch: the next one chains on. */
			memcpy(out, sqlite3_column_blob(s, 2), CHAIN_BYTES);
			found = 1;
		} else if ((size_t)sqlite3_column_bytes(s, 3) >=
		    CHAIN_BYTES * (k + 1)) {
			memcpy(out,
			    (const uint8_t *)sqlite3_column_blob(s, 3) +
				CHAIN_BYTES * k,
			    CHAIN_BYTES);
			found = 1;
		}
	}
	sqlite3_reset(s);
	if (store_read_error(st, err))
		return -1;
	return found;
}

int
store_receive(store_t *st, const op_t *op, const uint8_t *body, size_t len,
    const char *role, int fresh, ingest_result_t *result, err_t *err)
{
	sqlite3_stmt *s;
	uint8_t chain[CHAIN_BYTES];
	held_t held = HELD_NONE;
	int rc;

	assert(st->in_txn && st->side == STORE_HUB);
	if (!fresh) {
		if (store_receive_end(st, err))
			return -1;
		s = store_stmt(st,
		    "SELECT body = ?3 FROM op_log "
		    "WHERE origin = ?1 AND seq = ?2");
		sqlite3_bind_blob(s, 3, body, (int)len, SQLITE_STATIC);
		if (s_held_in(st, s, op, &held, err) ||
		    (held == HELD_NONE &&
			s_held_elsewhere(st, op, body, len, &held, err)))
			return err_prefix(err, "receive op %s/%llu", op->origin,
			    (unsigned long long)op->seq);
		if (held == HELD_OTHER)
			return s_conflict(st, op, body, len, result, err);
		if (held == HELD_SAME) {
			*result = INGEST_DUPLICATE;
			return 0;
		}
	}
	/* A batch's new ops follow on from each other, in one row. */
	if (st->run.n > 0 &&
	    (strcmp(st->run.origin, op->origin) != 0 ||
		op->seq != st->run.first + st->run.n ||
		strcmp(st->run.role, role) != 0) &&
	    store_receive_end(st, err))
		return -1;
	if ((rc = s_chain_of(st, op, body, len, chain, err)) < 0)
		return err_prefix(err, "receive op %s/%llu", op->origin,
		    (unsigned long long)op->seq);
	if (st->run.n == 0) {
		snprintf(st->run.origin, sizeof st->run.origin, "%s",
		    op->origin);
		snprintf(st->run.role, sizeof st->run.role, "%s", role);
		st->run.first = op->seq;
		st->run.chained = rc > 0;
		cbw_reset(&st->run.ops);
		cbw_reset(&st->run.ends);
		cbw_reset(&st->run.chains);
	}
	if (st->run.ops.len + len > UINT32_MAX)
		return err_set(err, ERR_TOO_LARGE,
		    "receive op %s/%llu: its batch exceeds 4 GB", op->origin,
		    (unsigned long long)op->seq);
	cbw_raw(&st->run.ops, body, len);
	s_put32(&st->run.ends, (uint32_t)st->run.ops.len);
	if (st->run.chained && rc > 0)
		cbw_raw(&st->run.chains, chain, CHAIN_BYTES);
	else
		st->run.chained = 0;
	st->run.n++;
	st->inbox_empty = 0;
	/* One of ours given back (a restored hub): its seq is taken now. */
	s_reserve_seq(st, op);
	*result = INGEST_APPLIED;
	return 0;
}

int
store_receive_end(store_t *st, err_t *err)
{
	sqlite3_stmt *s;
	uint64_t last;
	int rc;

	if (st->run.n == 0)
		return 0;
	assert(st->in_txn && st->side == STORE_HUB);
	last = st->run.first + st->run.n - 1;
	s = store_stmt(st,
	    "INSERT INTO op_inbox(origin, first, last, role, chain, ends, "
	    "chains, ops) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
	sqlite3_bind_text(s, 1, st->run.origin, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (int64_t)st->run.first);
	sqlite3_bind_int64(s, 3, (int64_t)last);
	sqlite3_bind_text(s, 4, st->run.role, -1, SQLITE_STATIC);
	if (st->run.chained)
		sqlite3_bind_blob(s, 5,
		    st->run.chains.data + st->run.chains.len - CHAIN_BYTES,
		    CHAIN_BYTES, SQLITE_STATIC);
	sqlite3_bind_blob(s, 6, st->run.ends.data, (int)st->run.ends.len,
	    SQLITE_STATIC);
	sqlite3_bind_blob(s, 7,
	    st->run.chained ? (const void *)st->run.chains.data : "",
	    st->run.chained ? (int)st->run.chains.len : 0, SQLITE_STATIC);
	sqlite3_bind_blob(s, 8, st->run.ops.data, (int)st->run.ops.len,
	    SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	st->run.n = 0;
	if (rc != SQLITE_DONE)
		return err_set(err, ERR_INTERNAL,
		    "receive ops %s/%llu-%llu: %s", st->run.origin,
		    (unsigned long long)st->run.first, (unsigned long long)last,
		    sqlite3_errmsg(st->db));
	return 0;
}

/* Applies op of the inbox (its bytes body, len; chain as received, NULL
 * when none) as store_ingest_from applies a new op, its identity settled
 * when it was received: refused, it is quarantined; applied, it is logged
 * with who may receive it (from->vis) and its order family (hub->family),
 * both decided before the row is written, so that it is written once. */
static int
s_apply_received(store_t *st, const op_t *op, const uint8_t *body, size_t len,
    const uint8_t *chain, const ingest_from_t *from, const store_hub_t *hub,
    ingest_result_t *result, err_t *err)
{
	const op_vis_t *vis = from->vis;
	char root[OP_KEY_MAX + 1] = "";
	sqlite3_stmt *s;
	err_t why;
	int rc;

	err_clear(&why);
	if (from->role != NULL &&
	    !store_may_write(st, from->role, op->entity)) {
		err_set(&why, ERR_FORBIDDEN,
		    "apply op %s/%llu: a %s may not write %s (head office "
		    "data)",
		    op->origin, (unsigned long long)op->seq, from->role,
		    op->entity);
		return s_quarantined(st, op, body, len, &why, result, err);
	}
	if (s_clock_admits(st, op, &why) != 0 || s_apply(st, op, &why) != 0) {
		if (why.code == ERR_INTERNAL) {
			if (err != NULL)
				*err = why;
			return -1;
		}
		err_prefix(&why, "apply op %s/%llu", op->origin,
		    (unsigned long long)op->seq);
		return s_quarantined(st, op, body, len, &why, result, err);
	}
	s_reserve_seq(st, op);
	if (hub->family != NULL && hub->family(hub->arg, st, op, root, err))
		return -1;
	s = store_stmt(st,
	    "INSERT INTO op_log(origin, seq, hlc, entity, key, body, chain, "
	    "vis_site, vis_site2, vis_region, vis_order, lsn) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, " S_LSN ")");
	sqlite3_bind_int64(s, 20, (int64_t)st->lsn_floor);
	sqlite3_bind_text(s, 1, op->origin, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (int64_t)op->seq);
	sqlite3_bind_int64(s, 3, (int64_t)op->hlc);
	sqlite3_bind_text(s, 4, op->entity, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, op->key, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 6, body, (int)len, SQLITE_STATIC);
	if (chain != NULL)
		sqlite3_bind_blob(s, 7, chain, CHAIN_BYTES, SQLITE_STATIC);
	if (vis != NULL) {
		sqlite3_bind_text(s, 8, vis->site, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 9, vis->site2, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 10, vis->region, -1, SQLITE_STATIC);
	}
	if (root[0] != '\0')
		sqlite3_bind_text(s, 11, root, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return err_set(err, ERR_INTERNAL, "log op %s/%llu: %s",
		    op->origin, (unsigned long long)op->seq,
		    sqlite3_errmsg(st->db));
	if (chain != NULL) {
		/* The next op of its origin chains on from it. */
		snprintf(st->chain.origin, sizeof st->chain.origin, "%s",
		    op->origin);
		st->chain.seq = op->seq;
		memcpy(st->chain.value, chain, CHAIN_BYTES);
	}
	*result = INGEST_APPLIED;
	return 0;
}

/* Applies the ops of one inbox row (first of origin and on, bytes ops,
 * ends and chains as the row holds them; role its sender's): 0, or -1
 * with err. */
static int
s_apply_row(store_t *st, const char *origin, uint64_t first, const char *role,
    const uint8_t *ops, size_t ops_len, const uint8_t *ends, size_t n,
    const uint8_t *chains, const store_hub_t *hub, size_t *quarantined,
    err_t *err)
{
	size_t i;
	uint32_t from = 0, to;

	for (i = 0; i < n; i++, from = to) {
		ingest_from_t in = { role, NULL, 0 };
		ingest_result_t res;
		op_t op;
		cbr_t r;
		err_t why;

		to = s_get32(ends + 4 * i);
		if (to < from || to > ops_len)
			return err_set(err, ERR_INTERNAL,
			    "apply received op %s/%llu: its ends do not fit "
			    "its row",
			    origin, (unsigned long long)(first + i));
		cbr_init(&r, ops + from, to - from);
		err_clear(&why);
		if (op_decode(&r, &op, &why) || cbr_end(&r, &why) ||
		    strcmp(op.origin, origin) != 0 || op.seq != first + i) {
			/* It was checked when received (a decoder since made
			 * stricter?): kept, not applied, and nothing behind
			 * it held up. */
			op_clear(&op);
			snprintf(op.origin, sizeof op.origin, "%s", origin);
			op.seq = first + i;
			if (why.code == ERR_OK)
				err_set(&why, ERR_BAD_REQUEST,
				    "not the op received under this seq");
			err_prefix(&why, "apply op %s/%llu", origin,
			    (unsigned long long)op.seq);
			if (s_quarantined(st, &op, ops + from, to - from, &why,
				&res, err))
				return -1;
			log_warn("quarantined: %s", why.msg);
			++*quarantined;
			continue;
		}
		if (hub->from_of != NULL) {
			hub->from_of(hub->arg, st, &op, &in);
			in.role = role;
		}
		err_clear(&why);
		if (s_apply_received(st, &op, ops + from, to - from,
			chains != NULL ? chains + CHAIN_BYTES * i : NULL, &in,
			hub, &res, &why)) {
			if (err != NULL)
				*err = why;
			op_clear(&op);
			return -1;
		}
		if (res == INGEST_QUARANTINED) {
			log_warn("quarantined: %s", why.msg);
			++*quarantined;
		}
		op_clear(&op);
	}
	return 0;
}

/* An inbox row that failed to apply this many times in a row (not a
 * refused op, which is quarantined, but the row: damaged, or a rule that
 * fails on it) is moved out of the way, each of its ops quarantined with
 * why, so that the rows behind it are applied. */
#define ROW_FAILS_MAX 3

/* Counts a failure of inbox row id (origin, first): how many in a row. */
static int
s_row_failed(store_t *st, int64_t id, const char *origin, uint64_t first)
{
	if (st->failed.id != id || st->failed.first != first ||
	    strcmp(st->failed.origin, origin) != 0) {
		st->failed.id = id;
		snprintf(st->failed.origin, sizeof st->failed.origin, "%s",
		    origin);
		st->failed.first = first;
		st->failed.fails = 0;
	}
	return ++st->failed.fails;
}

/* Quarantines the count ops of the inbox row (origin, first; bytes ops,
 * ends as the row holds them) that failed for why ROW_FAILS_MAX times,
 * each under its seq with its bytes when its ends fit, none else: 0, or
 * -1 with err. */
static int
s_row_quarantine(store_t *st, const char *origin, uint64_t first,
    uint64_t count, const uint8_t *ops, size_t ops_len, const uint8_t *ends,
    size_t ends_len, const err_t *why, size_t *quarantined, err_t *err)
{
	static const uint8_t none[1];
	uint32_t from = 0, to;
	uint64_t i;

	for (i = 0; i < count; i++) {
		ingest_result_t res;
		op_t op;
		err_t reason, got;

		to = 4 * (i + 1) <= ends_len ? s_get32(ends + 4 * i) : from;
		if (to < from || to > ops_len)
			to = from;
		memset(&op, 0, sizeof op);
		snprintf(op.origin, sizeof op.origin, "%s", origin);
		op.seq = first + i;
		err_set(&reason, ERR_INTERNAL,
		    "apply op %s/%llu: its inbox row failed %d times: %s",
		    origin, (unsigned long long)op.seq, ROW_FAILS_MAX,
		    why->msg);
		/* got: the reason again, or why it could not be kept. */
		if (s_quarantined(st, &op, to > from ? ops + from : none,
			to - from, &reason, &res, &got)) {
			if (err != NULL)
				*err = got;
			return -1;
		}
		log_warn("quarantined: %s", reason.msg);
		++*quarantined;
		from = to;
	}
	return 0;
}

int
store_apply_received(store_t *st, size_t max, size_t max_bytes,
    const store_hub_t *hub, size_t *done, size_t *quarantined, err_t *err)
{
	sqlite3_stmt *s;
	int64_t last_id = 0, done_id = 0;
	store_mark_t mark;
	size_t n = 0, bytes = 0;
	cbw_t ops, ends, chains;
	int rc = -1;

	assert(st->in_txn && st->side == STORE_HUB);
	*done = *quarantined = 0;
	if (store_receive_end(st, err))
		return -1;
	/* Nothing the rules hold back is read in between (store_bulk). */
	store_bulk_begin(st);
	cbw_init(&ops);
	cbw_init(&ends);
	cbw_init(&chains);
	/* Row by row, in the order received, until max ops: a row is applied
	 * whole, in a savepoint of its own, then taken out. A row that fails
	 * is undone alone and ends the slice (the rows before it are kept):
	 * -1 when it is the first, tried again later; the ROW_FAILS_MAX-th
	 * time, it is quarantined instead and the slice goes on. */
	s = store_stmt(st,
	    "SELECT id, origin, first, last, role, ends, chains, ops "
	    "FROM op_inbox WHERE id > ? ORDER BY id LIMIT 1");
	while (n < max && (max_bytes == 0 || bytes < max_bytes)) {
		char origin[OP_SITE_MAX + 1], role[16];
		uint64_t first, count;
		int got, chained;
		size_t kept;
		err_t why;

		sqlite3_bind_int64(s, 1, last_id);
		if ((got = store_row(st, s)) != 0) {
			last_id = sqlite3_column_int64(s, 0);
			snprintf(origin, sizeof origin, "%s",
			    (const char *)sqlite3_column_text(s, 1));
			first = (uint64_t)sqlite3_column_int64(s, 2);
			count = (uint64_t)sqlite3_column_int64(s, 3) - first +
			    1;
			snprintf(role, sizeof role, "%s",
			    (const char *)sqlite3_column_text(s, 4));
			cbw_reset(&ends);
			cbw_raw(&ends, sqlite3_column_blob(s, 5),
			    (size_t)sqlite3_column_bytes(s, 5));
			cbw_reset(&chains);
			cbw_raw(&chains, sqlite3_column_blob(s, 6),
			    (size_t)sqlite3_column_bytes(s, 6));
			cbw_reset(&ops);
			cbw_raw(&ops, sqlite3_column_blob(s, 7),
			    (size_t)sqlite3_column_bytes(s, 7));
		}
		sqlite3_reset(s);
		if (store_read_error(st, err))
			goto out;
		if (!got)
			break;
		if (store_savepoint(st, &mark, err))
			goto out;
		kept = *quarantined;
		err_clear(&why);
		chained = chains.len == CHAIN_BYTES * count;
		if (ends.len != 4 * count)
			err_set(&why, ERR_INTERNAL,
			    "apply received ops %s/%llu-%llu: its ends do not "
			    "fit its row",
			    origin, (unsigned long long)first,
			    (unsigned long long)(first + count - 1));
		else if (s_apply_row(st, origin, first, role, ops.data, ops.len,
			     ends.data, (size_t)count,
			     chained ? chains.data : NULL, hub, quarantined,
			     &why) == 0 &&
		    store_release(st, &mark, &why) == 0) {
			n += (size_t)count;
			bytes += ops.len;
			done_id = last_id;
			continue;
		}
		*quarantined = kept;
		if (store_rollback_to(st, &mark)) {
			if (err != NULL) /* the transaction is gone */
				*err = why;
			goto out;
		}
		if (s_row_failed(st, last_id, origin, first) < ROW_FAILS_MAX) {
			log_warn("apply received ops: %s (failure %d of %d)",
			    why.msg, st->failed.fails, ROW_FAILS_MAX);
			if (n > 0)
				break;
			if (err != NULL)
				*err = why;
			goto out;
		}
		if (s_row_quarantine(st, origin, first, count, ops.data,
			ops.len, ends.data, ends.len, &why, quarantined, err))
			goto out;
		n += (size_t)count;
		bytes += ops.len;
		done_id = last_id;
	}
	if (done_id > 0) {
		s = store_stmt(st, "DELETE FROM op_inbox WHERE id <= ?");
		sqlite3_bind_int64(s, 1, done_id);
		if (store_step(st, s, "apply received ops", err))
			goto out;
		st->row.valid = 0;
	}
	*done = n;
	rc = 0;
out:
	cbw_free(&ops);
	cbw_free(&ends);
	cbw_free(&chains);
	return rc;
}

int
store_origin_max_seq(store_t *st, const char *origin, uint64_t *out, err_t *err)
{
	sqlite3_stmt *s = st->side == STORE_HUB
	    ? store_stmt(st,
		  "SELECT max(m) FROM (SELECT max(seq) AS m FROM op_log WHERE "
		  "origin = ?1 UNION ALL SELECT max(seq) FROM quarantine "
		  "WHERE origin = ?1 UNION ALL SELECT max(last) FROM op_inbox "
		  "WHERE origin = ?1)")
	    : store_stmt(st,
		  "SELECT max(m) FROM (SELECT max(seq) AS m FROM op_log WHERE "
		  "origin = ?1 UNION ALL SELECT max(seq) FROM quarantine "
		  "WHERE origin = ?1)");

	if (store_receive_end(st, err))
		return -1;
	sqlite3_bind_text(s, 1, origin, -1, SQLITE_STATIC);
	*out = (uint64_t)store_query_int(st, s, 0);
	return 0;
}

int64_t
store_quarantine_count(store_t *st)
{
	return store_query_int(st,
	    store_stmt(st, "SELECT count(*) FROM quarantine"), 0);
}

/* The reason hlc_observe gives a stamp too far ahead ("clock N ms ahead
 * (max M ms)"), as a LIKE pattern: the only refusal time can lift. */
#define CLOCK_AHEAD_LIKE "%ms ahead (max %"

/* A quarantined op read for a retry. */
typedef struct {
	uint8_t *body;
	size_t len;
} held_op_t;

int
store_quarantine_retry(store_t *st, const char *origin, uint64_t seq,
    int due_only, store_from_fn from_of, void *arg, int *applied, int *kept,
    err_t *err)
{
	sqlite3_stmt *s;
	held_op_t *held = NULL;
	ingest_from_t from;
	ingest_result_t res;
	size_t i, n = 0;
	err_t why;
	int rc = -1;

	*applied = *kept = 0;
	/* Nearly always empty: then no transaction (an idle replica writes
	 * nothing). A lookup, not a count: the quarantine may be large. */
	if (store_query_int(st,
		store_stmt(st,
		    due_only ? "SELECT EXISTS (SELECT 1 FROM quarantine WHERE "
			       "reason LIKE '" CLOCK_AHEAD_LIKE "')"
			     : "SELECT EXISTS (SELECT 1 FROM quarantine)"),
		0) == 0)
		return store_read_error(st, err);
	if ((held = calloc(STORE_RETRY_MAX, sizeof *held)) == NULL)
		fatal("store: out of memory");
	if (store_begin(st, err))
		goto out;
	/* Read first, then ingest: ingest writes the quarantine it reads. */
	/* The automatic retry reads only the clock's by their index (schema
	 * 0026); a retry by hand reads what it names. */
	s = store_stmt(st,
	    due_only
		? "SELECT body FROM quarantine WHERE "
		  "(?1 IS NULL OR origin = ?1) AND (?2 = 0 OR seq = ?2) AND "
		  "?3 AND reason LIKE '" CLOCK_AHEAD_LIKE "' "
		  "ORDER BY origin, seq LIMIT ?4"
		: "SELECT body FROM quarantine WHERE "
		  "(?1 IS NULL OR origin = ?1) AND (?2 = 0 OR seq = ?2) "
		  "AND ?3 = 0 ORDER BY origin, seq LIMIT ?4");
	if (origin != NULL)
		sqlite3_bind_text(s, 1, origin, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (int64_t)seq);
	sqlite3_bind_int(s, 3, due_only);
	sqlite3_bind_int(s, 4, STORE_RETRY_MAX);
	while (n < STORE_RETRY_MAX && store_row(st, s)) {
		held[n].len = (size_t)sqlite3_column_bytes(s, 0);
		if ((held[n].body = malloc(held[n].len + 1)) == NULL)
			fatal("store: out of memory");
		memcpy(held[n].body, sqlite3_column_blob(s, 0), held[n].len);
		n++;
	}
	sqlite3_reset(s);
	if (store_read_error(st, err))
		goto fail;
	for (i = 0; i < n; i++) {
		op_t op;
		cbr_t r;

		cbr_init(&r, held[i].body, held[i].len);
		if (op_decode(&r, &op, err))
			goto fail;
		if (due_only &&
		    hlc_ms(op.hlc) > st->wall_ms() + st->clock.max_drift_ms) {
			op_clear(&op);
			continue;
		}
		s = store_stmt(st,
		    "DELETE FROM quarantine WHERE origin = ? AND seq = ?");
		sqlite3_bind_text(s, 1, op.origin, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, (int64_t)op.seq);
		memset(&from, 0, sizeof from);
		if (from_of != NULL)
			from_of(arg, st, &op, &from);
		st->quarantine_empty = -1;
		if (store_step(st, s, "retry a quarantined op", err)) {
			op_clear(&op);
			goto fail;
		}
		if (store_ingest_from(st, &op, held[i].body, held[i].len,
			from_of != NULL ? &from : NULL, &res, &why)) {
			*err = why;
			op_clear(&op);
			goto fail;
		}
		if (res == INGEST_APPLIED)
			(*applied)++;
		else
			(*kept)++;
		op_clear(&op);
	}
	if (store_commit(st, err))
		goto out;
	rc = 0;
	goto out;
fail:
	store_rollback(st);
	*applied = *kept = 0;
out:
	for (i = 0; i < n; i++)
		free(held[i].body);
	free(held);
	return rc;
}

int64_t
store_conflict_count(store_t *st)
{
	return store_query_int(st,
	    store_stmt(st, "SELECT count(*) FROM op_conflicts"), 0);
}

/* ---- retention ---- */

#define RETAIN_CHUNK 10000 /* log rows looked at per transaction */

int
store_retain(store_t *st, uint64_t before_hlc, uint64_t *after_lsn,
    int64_t *dropped, err_t *err)
{
	/* Both over the same rows: other sites' ops of the stretch stamped
	 * before the cut. */
	static const char keep[] =
	    "INSERT OR IGNORE INTO op_seen(origin, seq, hash) "
	    "SELECT origin, seq, op_hash(body) FROM op_log "
	    "WHERE lsn > ?1 AND lsn <= ?2 AND origin != ?3 AND hlc < ?4";
	static const char drop[] = "DELETE FROM op_log WHERE lsn > ?1 AND "
				   "lsn <= ?2 AND origin != ?3 AND hlc < ?4";
	sqlite3_stmt *s;
	int64_t upper;
	int i;

	assert(!st->in_txn);
	assert(st->side == STORE_NODE);
	*dropped = 0;
	if (store_begin(st, err))
		return -1;
	/* The chunk: the next RETAIN_CHUNK rows of the log by lsn (a range
	 * of the primary key, cheap however long the log is). */
	s = store_stmt(st,
	    "SELECT max(lsn) FROM (SELECT lsn FROM op_log "
	    "WHERE lsn > ?1 ORDER BY lsn LIMIT ?2)");
	sqlite3_bind_int64(s, 1, (int64_t)*after_lsn);
	sqlite3_bind_int(s, 2, RETAIN_CHUNK);
	if (store_query_int64(st, s, -1, &upper, err))
		goto fail;
	if (upper < 0) {
		store_rollback(st);
		return 0; /* the whole log has been looked at */
	}
	/* The identity stays (op_seen), so a copy that comes again is still a
	 * duplicate; the op goes. */
	for (i = 0; i < 2; i++) {
		s = store_stmt(st, i == 0 ? keep : drop);
		sqlite3_bind_int64(s, 1, (int64_t)*after_lsn);
		sqlite3_bind_int64(s, 2, upper);
		sqlite3_bind_text(s, 3, st->site, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 4, (int64_t)before_hlc);
		if (store_step(st, s,
			i == 0 ? "retain: keep identities"
			       : "retain: drop old ops",
			err))
			goto fail;
	}
	*dropped = sqlite3_changes(st->db);
	if (store_commit(st, err))
		return -1;
	*after_lsn = (uint64_t)upper;
	return 1;
fail:
	store_rollback(st);
	return -1;
}
