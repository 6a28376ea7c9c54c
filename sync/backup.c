/* backup: online backups of a replica and restores (see backup.h). */
#include "backup.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "hlc.h"
#include "prog.h"
#include "runlock.h"
#include "schema.h"

#define BACKUP_BUSY_MAX 5000 /* steps in a row answered busy: 10 s */

static double
s_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Syncs path (a file, or a directory after a rename in it); -1 with err. */
static int
s_fsync(const char *path, err_t *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fsync(fd) != 0) {
		err_set(err, ERR_INTERNAL, "sync %s: %s", path,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* Syncs the directory holding path, so a rename into it lasts. */
static int
s_fsync_dir(const char *path, err_t *err)
{
	char copy[4096];

	snprintf(copy, sizeof copy, "%s", path);
	return s_fsync(dirname(copy), err);
}

/* Removes the files SQLite may keep beside path (-wal, -shm, -journal),
 * and path itself when file_too; a missing one is fine. -1 with err on
 * the first that cannot go. */
static int
s_remove(const char *path, int file_too, err_t *err)
{
	static const char *const suffix[] = { "-wal", "-shm", "-journal", "" };
	size_t i, n = file_too ? 4 : 3;
	char p[4096];

	for (i = 0; i < n; i++) {
		snprintf(p, sizeof p, "%s%s", path, suffix[i]);
		if (unlink(p) != 0 && errno != ENOENT)
			return err_set(err, ERR_INTERNAL, "remove %s: %s", p,
			    strerror(errno));
	}
	return 0;
}

/* Makes path a new empty file, 0600 whatever the umask, for SQLite to
 * fill or the caller to write; a leftover of a failed run goes first.
 * Returns the descriptor (caller closes), or -1 with err. */
static int
s_create_private(const char *path, err_t *err)
{
	int fd;

	if (s_remove(path, 1, err))
		return -1;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || fchmod(fd, 0600) != 0) {
		err_set(err, ERR_INTERNAL, "create %s: %s", path,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Runs sql on db; -1 with err "what: sqlite message". */
static int
s_exec(sqlite3 *db, const char *sql, const char *what, err_t *err)
{
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return err_set(err, ERR_INTERNAL, "%s: %s", what,
		    sqlite3_errmsg(db));
	return 0;
}

/* What the database db (at path, for messages) says of itself: its site
 * and role ("" without one), backup_at (0 without), and its schema
 * version. -1 with err "PATH: not a Branchline database (why)". */
static int
s_inspect(sqlite3 *db, const char *path, backup_stats_t *stats, char *role,
    size_t role_size, int *version, err_t *err)
{
	sqlite3_stmt *s = NULL;
	int rc = -1;

	if (sqlite3_prepare_v2(db,
		"SELECT (SELECT value FROM meta WHERE name = 'site'), "
		"(SELECT value FROM meta WHERE name = 'role'), "
		"(SELECT value FROM meta WHERE name = 'backup_at'), "
		"(SELECT user_version FROM pragma_user_version)",
		-1, &s, NULL) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_ROW) {
		err_set(err, ERR_BAD_REQUEST,
		    "%s: not a Branchline database (%s)", path,
		    sqlite3_errmsg(db));
		goto out;
	}
	if (sqlite3_column_type(s, 0) != SQLITE_TEXT ||
	    sqlite3_column_bytes(s, 0) == 0 ||
	    (size_t)sqlite3_column_bytes(s, 0) >= sizeof stats->site) {
		err_set(err, ERR_BAD_REQUEST,
		    "%s: not a Branchline database (no site in its meta)",
		    path);
		goto out;
	}
	snprintf(stats->site, sizeof stats->site, "%s",
	    (const char *)sqlite3_column_text(s, 0));
	snprintf(role, role_size, "%s",
	    sqlite3_column_type(s, 1) == SQLITE_TEXT
		? (const char *)sqlite3_column_text(s, 1)
		: "");
	stats->taken_at_ms = sqlite3_column_int64(s, 2);
	*version = sqlite3_column_int(s, 3);
	rc = 0;
out:
	sqlite3_finalize(s);
	return rc;
}

/* Copies src's main database into dst's from a read transaction held
 * throughout (backup.h); *pages gets the count. -1 with err. */
static int
s_copy(sqlite3 *src, sqlite3 *dst, const char *db_path, int64_t *pages,
    err_t *err)
{
	sqlite3_backup *b;
	int rc, busy = 0;

	if ((b = sqlite3_backup_init(dst, "main", src, "main")) == NULL)
		return err_set(err, ERR_INTERNAL, "copy %s: %s", db_path,
		    sqlite3_errmsg(dst));
	do {
		rc = sqlite3_backup_step(b, BACKUP_STEP_PAGES);
		busy = rc == SQLITE_BUSY || rc == SQLITE_LOCKED ? busy + 1 : 0;
		if (rc != SQLITE_DONE)
			sqlite3_sleep(BACKUP_STEP_MS);
	} while ((rc == SQLITE_OK || busy > 0) && busy < BACKUP_BUSY_MAX);
	*pages = sqlite3_backup_pagecount(b);
	sqlite3_backup_finish(b);
	if (rc != SQLITE_DONE)
		return err_set(err, ERR_INTERNAL, "copy %s: %s", db_path,
		    sqlite3_errstr(rc));
	return 0;
}

int
backup_to(const char *db_path, const char *to, int force, backup_stats_t *stats,
    err_t *err)
{
	char tmp[4096], role[16];
	sqlite3 *src = NULL, *dst = NULL;
	sqlite3_stmt *s = NULL;
	struct stat a, b;
	double t0 = s_now();
	int fd, version, rc = -1, made = 0;

	memset(stats, 0, sizeof *stats);
	if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", to) >= sizeof tmp)
		return err_set(err, ERR_BAD_REQUEST,
		    "backup to %s: path too long", to);
	if (stat(to, &a) == 0) {
		if (stat(db_path, &b) == 0 && a.st_dev == b.st_dev &&
		    a.st_ino == b.st_ino)
			return err_set(err, ERR_BAD_REQUEST,
			    "%s: is the database itself", to);
		if (!force)
			return err_set(err, ERR_CONFLICT,
			    "%s: already exists (--force replaces it)", to);
	}
	if ((fd = s_create_private(tmp, err)) < 0)
		return -1;
	close(fd);
	made = 1;
	/* Read-write, though it only reads: a read-only last connection
	 * would leave the WAL and its index behind. */
	if (sqlite3_open_v2(db_path, &src, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK) {
		err_set(err, ERR_INTERNAL, "open %s: %s", db_path,
		    src != NULL ? sqlite3_errmsg(src) : "out of memory");
		goto out;
	}
	sqlite3_busy_timeout(src, 10000);
	/* The snapshot: a read transaction from here to the last page. */
	if (s_exec(src, "BEGIN", db_path, err) ||
	    s_inspect(src, db_path, stats, role, sizeof role, &version, err))
		goto out;
	stats->taken_at_ms = (int64_t)hlc_wall_ms();
	if (sqlite3_open_v2(tmp, &dst, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK) {
		err_set(err, ERR_INTERNAL, "open %s: %s", tmp,
		    dst != NULL ? sqlite3_errmsg(dst) : "out of memory");
		goto out;
	}
	if (s_copy(src, dst, db_path, &stats->pages, err))
		goto out;
	if (s_exec(src, "COMMIT", db_path, err))
		goto out;
	/* One file, whatever the source's journal, saying when it was taken. */
	if (s_exec(dst, "PRAGMA journal_mode = DELETE", tmp, err))
		goto out;
	if (sqlite3_prepare_v2(dst,
		"INSERT INTO meta(name, value) VALUES ('backup_at', ?) "
		"ON CONFLICT(name) DO UPDATE SET value = excluded.value",
		-1, &s, NULL) != SQLITE_OK) {
		err_set(err, ERR_INTERNAL, "%s: %s", tmp, sqlite3_errmsg(dst));
		goto out;
	}
	sqlite3_bind_int64(s, 1, stats->taken_at_ms);
	if (sqlite3_step(s) != SQLITE_DONE) {
		err_set(err, ERR_INTERNAL, "%s: backup_at: %s", tmp,
		    sqlite3_errmsg(dst));
		goto out;
	}
	sqlite3_finalize(s);
	s = NULL;
	if (sqlite3_close(dst) != SQLITE_OK) {
		err_set(err, ERR_INTERNAL, "close %s: %s", tmp,
		    sqlite3_errmsg(dst));
		goto out;
	}
	dst = NULL;
	if (s_fsync(tmp, err))
		goto out;
	if (stat(tmp, &a) != 0) {
		err_set(err, ERR_INTERNAL, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	stats->bytes = (int64_t)a.st_size;
	if (rename(tmp, to) != 0) {
		err_set(err, ERR_INTERNAL, "rename %s to %s: %s", tmp, to,
		    strerror(errno));
		goto out;
	}
	made = 0;
	if (s_fsync_dir(to, err))
		goto out;
	stats->seconds = s_now() - t0;
	rc = 0;
out:
	sqlite3_finalize(s);
	if (dst != NULL)
		sqlite3_close(dst);
	if (src != NULL)
		sqlite3_close(src);
	if (made)
		s_remove(tmp, 1, NULL);
	return rc;
}

/* Copies the file from into to, a new 0600 file, and syncs it; -1 with
 * err. */
static int
s_copy_file(const char *from, const char *to, err_t *err)
{
	char buf[65536];
	ssize_t n, w;
	int in, out, rc = -1;

	if ((in = open(from, O_RDONLY | O_CLOEXEC)) < 0)
		return err_set(err, ERR_NOT_FOUND, "%s: %s", from,
		    strerror(errno));
	if ((out = s_create_private(to, err)) < 0) {
		close(in);
		return -1;
	}
	while ((n = read(in, buf, sizeof buf)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err_set(err, ERR_INTERNAL, "read %s: %s", from,
			    strerror(errno));
			goto out;
		}
		for (w = 0; w < n;) {
			ssize_t k = write(out, buf + w, (size_t)(n - w));

			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0) {
				err_set(err, ERR_INTERNAL, "write %s: %s", to,
				    strerror(errno));
				goto out;
			}
			w += k;
		}
	}
	if (fsync(out) != 0) {
		err_set(err, ERR_INTERNAL, "sync %s: %s", to, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	close(in);
	if (close(out) != 0 && rc == 0)
		rc = err_set(err, ERR_INTERNAL, "close %s: %s", to,
		    strerror(errno));
	return rc;
}

/* Checks the copy of from at tmp: a sound Branchline database of side and
 * site, no newer than this program. Fills stats; -1 with err. */
static int
s_check_copy(const char *tmp, const char *from, store_side_t side,
    const char *site, backup_stats_t *stats, err_t *err)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	char role[16];
	int i, version, latest = 0, rc = -1;

	for (i = 0; i < schema_migration_count; i++)
		latest = schema_migrations[i].number;
	if (sqlite3_open_v2(tmp, &db, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK) {
		err_set(err, ERR_INTERNAL, "open %s: %s", tmp,
		    db != NULL ? sqlite3_errmsg(db) : "out of memory");
		goto out;
	}
	if (s_inspect(db, from, stats, role, sizeof role, &version, err))
		goto out;
	if (side == STORE_NODE && strcmp(role, "hq") == 0) {
		err_set(err, ERR_BAD_REQUEST,
		    "%s: holds head office's database (site %s), not a node's",
		    from, stats->site);
		goto out;
	}
	if (side == STORE_HUB && strcmp(role, "hq") != 0) {
		err_set(err, ERR_BAD_REQUEST,
		    "%s: holds a node's database (site %s), not head office's",
		    from, stats->site);
		goto out;
	}
	if (strcmp(stats->site, site) != 0) {
		err_set(err, ERR_BAD_REQUEST,
		    "%s: holds the database of site %s, not of %s", from,
		    stats->site, site);
		goto out;
	}
	if (version > latest) {
		err_set(err, ERR_UPGRADE,
		    "%s: schema version %d is newer than this program's %d; "
		    "upgrade the program",
		    from, version, latest);
		goto out;
	}
	if (sqlite3_prepare_v2(db,
		"SELECT (SELECT page_count FROM pragma_page_count), "
		"(SELECT quick_check FROM pragma_quick_check)",
		-1, &s, NULL) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_ROW) {
		err_set(err, ERR_BAD_REQUEST, "%s: damaged: %s", from,
		    sqlite3_errmsg(db));
		goto out;
	}
	if (strcmp((const char *)sqlite3_column_text(s, 1) ?: "", "ok") != 0) {
		err_set(err, ERR_BAD_REQUEST, "%s: damaged: %s", from,
		    (const char *)sqlite3_column_text(s, 1));
		goto out;
	}
	stats->pages = sqlite3_column_int64(s, 0);
	rc = 0;
out:
	sqlite3_finalize(s);
	if (db != NULL && sqlite3_close(db) != SQLITE_OK && rc == 0)
		rc = err_set(err, ERR_INTERNAL, "close %s: %s", tmp,
		    sqlite3_errmsg(db));
	return rc;
}

int
backup_restore(const char *dir, const char *db_name, store_side_t side,
    const char *from, backup_stats_t *stats, err_t *err)
{
	char db[4096], tmp[4096];
	const char *site;
	struct stat sb;
	conf_t conf;
	long holder;
	int lock, rc = -1, made = 0;
	double t0 = s_now();

	memset(stats, 0, sizeof *stats);
	if ((size_t)snprintf(db, sizeof db, "%s/%s", dir, db_name) >=
		sizeof db ||
	    (size_t)snprintf(tmp, sizeof tmp, "%s.restore", db) >= sizeof tmp)
		return err_set(err, ERR_BAD_REQUEST,
		    "restore %s: path too long", dir);
	if ((lock = runlock_take(dir, &holder, err)) < 0) {
		if (err->code != ERR_CONFLICT)
			return -1;
		if (holder > 0)
			return err_set(err, ERR_CONFLICT,
			    "%s: the daemon (process %ld) is running; stop it "
			    "first",
			    dir, holder);
		return err_set(err, ERR_CONFLICT,
		    "%s: the daemon is running; stop it first", dir);
	}
	if (conf_load(dir, &conf, err))
		goto out;
	if ((site = conf_get(&conf, "site", NULL)) == NULL) {
		err_set(err, ERR_BAD_REQUEST, "%s/config: no site in it", dir);
		goto out;
	}
	made = 1;
	/* The checks open the copy: what SQLite left beside it goes too. */
	if (s_copy_file(from, tmp, err) ||
	    s_check_copy(tmp, from, side, site, stats, err) ||
	    s_remove(tmp, 0, err))
		goto out;
	/* The old WAL must not meet the new file: it goes first. */
	if (s_remove(db, 0, err) || rename(tmp, db) != 0) {
		if (err->code == ERR_OK)
			err_set(err, ERR_INTERNAL, "rename %s to %s: %s", tmp,
			    db, strerror(errno));
		goto out;
	}
	made = 0;
	if (s_fsync_dir(db, err))
		goto out;
	if (stat(db, &sb) != 0) {
		err_set(err, ERR_INTERNAL, "%s: %s", db, strerror(errno));
		goto out;
	}
	stats->bytes = (int64_t)sb.st_size;
	stats->seconds = s_now() - t0;
	rc = 0;
out:
	if (made)
		s_remove(tmp, 1, NULL);
	close(lock);
	return rc;
}

/* "YYYY-MM-DD HH:MM:SS UTC" of ms since the epoch into buf. */
static void
s_stamp(int64_t ms, char *buf, size_t size)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, size, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(buf, size, "%lld ms", (long long)ms);
}

int
backup_cmd(const args_t *a, const char *db_name)
{
	const char *dir = args_get(a, "data", ".");
	const char *to = args_get(a, "to", NULL);
	char db[4096];
	backup_stats_t st;
	err_t err;

	err_clear(&err);
	if (to == NULL) {
		err_set(&err, ERR_BAD_REQUEST, "--to FILE is required");
		return prog_fail(PROG_EXIT_USAGE, &err);
	}
	if ((size_t)snprintf(db, sizeof db, "%s/%s", dir, db_name) >=
	    sizeof db) {
		err_set(&err, ERR_BAD_REQUEST, "--data %s: path too long", dir);
		return prog_fail(PROG_EXIT_USAGE, &err);
	}
	if (access(db, F_OK) != 0) {
		err_set(&err, ERR_NOT_FOUND, "%s: %s", db, strerror(errno));
		return prog_fail(1, &err);
	}
	if (backup_to(db, to, args_has(a, "force"), &st, &err))
		return prog_fail(1, &err);
	printf("backed up %s to %s: %lld pages (%lld bytes) in %.1f s\n", db,
	    to, (long long)st.pages, (long long)st.bytes, st.seconds);
	return 0;
}

int
backup_restore_cmd(const args_t *a, const char *db_name, store_side_t side)
{
	const char *dir = args_get(a, "data", ".");
	const char *from = args_get(a, "from", NULL);
	char stamp[64];
	backup_stats_t st;
	err_t err;

	err_clear(&err);
	if (from == NULL) {
		err_set(&err, ERR_BAD_REQUEST, "--from FILE is required");
		return prog_fail(PROG_EXIT_USAGE, &err);
	}
	if (backup_restore(dir, db_name, side, from, &st, &err))
		return prog_fail(1, &err);
	if (st.taken_at_ms > 0) {
		s_stamp(st.taken_at_ms, stamp, sizeof stamp);
		printf("restored %s/%s from %s (taken at %s)\n", dir, db_name,
		    from, stamp);
	} else {
		printf("restored %s/%s from %s (a copy that does not say when "
		       "it was taken)\n",
		    dir, db_name, from);
	}
	return 0;
}
