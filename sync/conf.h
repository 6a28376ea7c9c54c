/*
 * conf: a data directory's config file and ports file.
 *
 * DIR/config holds "name=value" lines written by init (site, hub, hub_key,
 * listen, http, token...). DIR/ports is written by a running daemon once its
 * sockets are bound ("sync=PORT", "http=PORT"), atomically, so scripts and
 * tests read real ports without racing the daemon.
 */
#ifndef BL_CONF_H
#define BL_CONF_H

#include "err.h"

#define CONF_MAX 32
#define CONF_VALUE_MAX 512

typedef struct {
	int n;
	struct {
		char name[64];
		char value[CONF_VALUE_MAX];
	} items[CONF_MAX];
} conf_t;

/* Loads DIR/config; a missing file is an error naming it. */
int conf_load(const char *dir, conf_t *conf, err_t *err);

/* Writes DIR/config atomically (0600: it may hold the API token). */
int conf_save(const char *dir, const conf_t *conf, err_t *err);

/* Returns the value of name, or dflt when absent. Borrowed. */
const char *conf_get(const conf_t *conf, const char *name, const char *dflt);

/* Reads name as a whole number in [min, max] into *out, or dflt when
 * absent; -1 with err naming the setting when it is not one. */
int conf_get_int(const conf_t *conf, const char *name, long long dflt,
    long long min, long long max, long long *out, err_t *err);

/* The WAL bound and low-disk level in MB (wal_bound_mb, at least 4, and
 * disk_low_mb; ckpt.h has the defaults); -1 with err on a bad setting. */
int conf_disk_limits(const conf_t *conf, int *wal_bound_mb, int *disk_low_mb,
    err_t *err);

/* Sets name (replacing); a NULL value is ignored. Returns -1 when full. */
int conf_set(conf_t *conf, const char *name, const char *value);

/* Writes DIR/ports atomically: "sync=N\nhttp=N\n"; a port < 0 is omitted. */
int conf_write_ports(const char *dir, int sync_port, int http_port, err_t *err);

/* Splits "HOST:PORT" into host (size bytes) and port. */
int conf_split_hostport(const char *hp, char *host, size_t size, int *port,
    err_t *err);

#endif
