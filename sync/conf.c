/* conf: config and ports files (see conf.h). */
#include "conf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ckpt.h"

int
conf_load(const char *dir, conf_t *conf, err_t *err)
{
	char path[4096], *line = NULL;
	size_t cap = 0, n;
	int lineno = 0, rc = 0;
	FILE *f;

	memset(conf, 0, sizeof *conf);
	snprintf(path, sizeof path, "%s/config", dir);
	f = fopen(path, "r");
	if (f == NULL)
		return err_set(err, ERR_INTERNAL, "read config %s: %s%s", path,
		    strerror(errno),
		    errno == ENOENT ? " (run init first)" : "");
	/* Whole lines, however long: a setting is taken whole or refused,
	 * never cut (a cut token would be another token). */
	while (rc == 0 && getline(&line, &cap, f) >= 0) {
		char *eq;

		lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		eq = strchr(line, '=');
		if (eq == NULL)
			continue;
		*eq = '\0';
		if ((n = strlen(line)) >= sizeof conf->items[0].name)
			rc = err_set(err, ERR_BAD_REQUEST,
			    "read config %s: line %d: a name of %zu bytes, "
			    "more than the %zu allowed",
			    path, lineno, n, sizeof conf->items[0].name - 1);
		else if ((n = strlen(eq + 1)) >= CONF_VALUE_MAX)
			rc = err_set(err, ERR_BAD_REQUEST,
			    "config %s: %zu bytes, more than the %d a setting may hold",
			    line, n, CONF_VALUE_MAX - 1);
		else if (conf_set(conf, line, eq + 1) != 0)
			rc = err_set(err, ERR_BAD_REQUEST,
			    "read config %s: more than %d settings", path,
			    CONF_MAX);
	}
	if (rc == 0 && ferror(f))
		rc = err_set(err, ERR_INTERNAL, "read config %s: %s", path,
		    strerror(errno));
	free(line);
	fclose(f);
	return rc;
}

static int
s_write_atomic(const char *path, const char *text, mode_t mode, err_t *err)
{
	char tmp[4200];
	int fd;
	size_t n = strlen(text);

	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, mode);
	if (fd < 0)
		return err_set(err, ERR_INTERNAL, "write %s: %s", tmp,
		    strerror(errno));
	if (write(fd, text, n) != (ssize_t)n || fsync(fd) != 0) {
		err_set(err, ERR_INTERNAL, "write %s: %s", tmp,
		    strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	if (rename(tmp, path) != 0)
		return err_set(err, ERR_INTERNAL, "rename %s: %s", tmp,
		    strerror(errno));
	return 0;
}

int
conf_save(const char *dir, const conf_t *conf, err_t *err)
{
	char path[4096], text[CONF_MAX * (CONF_VALUE_MAX + 80)];
	size_t off = 0;
	int i;

	snprintf(path, sizeof path, "%s/config", dir);
	text[0] = '\0';
	for (i = 0; i < conf->n; i++)
		off += (size_t)snprintf(text + off, sizeof text - off,
		    "%s=%s\n", conf->items[i].name, conf->items[i].value);
	return s_write_atomic(path, text, 0600, err);
}

const char *
conf_get(const conf_t *conf, const char *name, const char *dflt)
{
	int i;

	for (i = 0; i < conf->n; i++)
		if (strcmp(conf->items[i].name, name) == 0)
			return conf->items[i].value;
	return dflt;
}

int
conf_get_int(const conf_t *conf, const char *name, long long dflt,
    long long min, long long max, long long *out, err_t *err)
{
	const char *v = conf_get(conf, name, NULL);
	char *end;
	long long n;

	if (v == NULL) {
		*out = dflt;
		return 0;
	}
	errno = 0;
	n = strtoll(v, &end, 10);
	if (v[0] == '\0' || *end != '\0' || errno != 0 || n < min || n > max)
		return err_set(err, ERR_BAD_REQUEST,
		    "config %s: '%s' is not a whole number from %lld to %lld",
		    name, v, min, max);
	*out = n;
	return 0;
}

int
conf_disk_limits(const conf_t *conf, int *wal_bound_mb, int *disk_low_mb,
    err_t *err)
{
	long long bound, low;

	if (conf_get_int(conf, "wal_bound_mb", CKPT_DEFAULT_BOUND_MB, 4,
		1024 * 1024, &bound, err) ||
	    conf_get_int(conf, "disk_low_mb", CKPT_DEFAULT_DISK_LOW_MB, 1,
		1024LL * 1024 * 1024, &low, err))
		return -1;
	*wal_bound_mb = (int)bound;
	*disk_low_mb = (int)low;
	return 0;
}

int
conf_set(conf_t *conf, const char *name, const char *value)
{
	int i;

	if (value == NULL)
		return 0;
	for (i = 0; i < conf->n; i++)
		if (strcmp(conf->items[i].name, name) == 0)
			break;
	if (i == conf->n) {
		if (conf->n == CONF_MAX)
			return -1;
		conf->n++;
	}
	snprintf(conf->items[i].name, sizeof conf->items[i].name, "%s", name);
	snprintf(conf->items[i].value, sizeof conf->items[i].value, "%s",
	    value);
	return 0;
}

int
conf_write_ports(const char *dir, int sync_port, int http_port, err_t *err)
{
	char path[4096], text[64];
	int n = 0;

	snprintf(path, sizeof path, "%s/ports", dir);
	text[0] = '\0';
	if (sync_port >= 0)
		n += snprintf(text + n, sizeof text - (size_t)n, "sync=%d\n",
		    sync_port);
	if (http_port >= 0)
		snprintf(text + n, sizeof text - (size_t)n, "http=%d\n",
		    http_port);
	return s_write_atomic(path, text, 0600, err);
}

int
conf_split_hostport(const char *hp, char *host, size_t size, int *port,
    err_t *err)
{
	const char *colon = strrchr(hp, ':');
	char *end;
	long p;

	if (colon == NULL || colon == hp || (size_t)(colon - hp) >= size)
		return err_set(err, ERR_BAD_REQUEST,
		    "address '%s': expected HOST:PORT", hp);
	p = strtol(colon + 1, &end, 10);
	if (*end != '\0' || colon[1] == '\0' || p < 0 || p > 65535)
		return err_set(err, ERR_BAD_REQUEST,
		    "address '%s': port must be 0 to 65535", hp);
	memcpy(host, hp, (size_t)(colon - hp));
	host[colon - hp] = '\0';
	*port = (int)p;
	return 0;
}
