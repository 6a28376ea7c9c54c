/*
 * backup: a replica's database copied while its daemon serves, and put
 * back in place of a lost one.
 *
 * A backup is one consistent snapshot: SQLite's online backup API copies
 * the pages from a read transaction held from the first step to the last,
 * so writers committing meanwhile (WAL mode: a reader never blocks them)
 * neither restart the copy nor leak into it. The copy goes in steps of
 * BACKUP_STEP_PAGES with a BACKUP_STEP_MS pause between, so tills share the
 * disk with it; the checkpointer cannot copy the WAL past the snapshot
 * while it lasts, as with any reader. The copy is written to FILE.tmp,
 * records when its snapshot was taken (meta backup_at, ms), is made a
 * single file (rollback journal, no -wal beside it), is synced and only
 * then renamed to FILE: FILE is never half a backup.
 *
 * A restore takes the data directory's run lock (runlock.h), so it never
 * replaces the database under a daemon, checks that the file is a
 * Branchline database of the same side (a hub's holds meta role hq, a
 * node's none) and site (DIR/config's) and no newer than this program,
 * then removes the database's -wal and -shm and renames a synced copy of
 * the file into place. A node restored this way finds its database bound
 * elsewhere at its next open (store.h, STORE_TAG_MAX) and takes a new
 * incarnation and an id tag by itself.
 *
 * Files are 0600 whatever the umask: a backup holds customers' data.
 */
#ifndef BL_BACKUP_H
#define BL_BACKUP_H

#include <stdint.h>

#include "args.h"
#include "err.h"
#include "op.h"
#include "store.h"

#define BACKUP_STEP_PAGES 256
#define BACKUP_STEP_MS 2

/* What a backup or a restore did. */
typedef struct {
	int64_t pages;	     /* pages in the copy */
	int64_t bytes;	     /* the copy's size */
	double seconds;	     /* how long it took */
	int64_t taken_at_ms; /* its snapshot's wall clock; 0: not recorded */
	char site[OP_SITE_MAX + 1]; /* the site whose database it is */
} backup_stats_t;

/* Copies the database at db_path to the file to, as above. An existing
 * to is refused (ERR_CONFLICT) unless force. *stats is filled on success.
 * -1 with err "what: path: why"; a failure leaves no FILE.tmp behind and
 * an existing FILE as it was. */
int backup_to(const char *db_path, const char *to, int force,
    backup_stats_t *stats, err_t *err);

/* Replaces the database DIR/db_name of side with the file from, as above.
 * The daemon holding DIR's run lock is refused, "DIR: the daemon (process
 * PID) is running; stop it first", as is a file of the other side or of
 * another site, naming both. *stats gets the file's site, size, pages and
 * backup_at. -1 with err; the database is untouched unless the final
 * rename was reached. */
int backup_restore(const char *dir, const char *db_name, store_side_t side,
    const char *from, backup_stats_t *stats, err_t *err);

/* The programs' commands over them: "backup --data DIR --to FILE
 * [--force]" and "restore --data DIR --from FILE", printing their one line
 * ("backed up DIR/node.db to FILE: N pages (B bytes) in T s", "restored
 * DIR/node.db from FILE (taken at ...)"). Return the exit status, after
 * prog_fail on a failure. */
int backup_cmd(const args_t *args, const char *db_name);
int backup_restore_cmd(const args_t *args, const char *db_name,
    store_side_t side);

#endif
