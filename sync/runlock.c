/* runlock: one daemon per data directory (see runlock.h). */
#include "runlock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define RUNLOCK_TRIES 10   /* a look (or a holder's id) is an instant */
#define RUNLOCK_WAIT_MS 20 /* between two tries */

static void
s_nap(void)
{
	struct timespec ts = { 0, RUNLOCK_WAIT_MS * 1000000L };

	nanosleep(&ts, NULL);
}

/* The process id the holder wrote into fd's file, or -1 when there is
 * none. The holder writes it right after it locks, so a short wait covers
 * the moment between the two. */
static long
s_read_holder(int fd)
{
	char buf[32], *end;
	ssize_t n;
	long pid;
	int i;

	for (i = 0; i < RUNLOCK_TRIES; i++) {
		n = pread(fd, buf, sizeof buf - 1, 0);
		if (n > 0) {
			buf[n] = '\0';
			errno = 0;
			pid = strtol(buf, &end, 10);
			if (errno == 0 && pid > 0 && *end == '\n')
				return pid;
		}
		s_nap();
	}
	return -1;
}

int
runlock_take(const char *dir, long *holder, err_t *err)
{
	char path[4096], text[32];
	int fd, i, n;

	*holder = 0;
	snprintf(path, sizeof path, "%s/%s", dir, RUNLOCK_FILE);
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
		return err_set(err, ERR_INTERNAL, "open %s: %s", path,
		    strerror(errno));
	for (i = 1; flock(fd, LOCK_EX | LOCK_NB) != 0; i++) {
		if (errno != EWOULDBLOCK && errno != EINTR) {
			err_set(err, ERR_INTERNAL, "lock %s: %s", path,
			    strerror(errno));
			close(fd);
			return -1;
		}
		if (i == RUNLOCK_TRIES) {
			*holder = s_read_holder(fd);
			close(fd);
			if (*holder > 0)
				return err_set(err, ERR_CONFLICT,
				    "%s: held by process %ld", dir, *holder);
			return err_set(err, ERR_CONFLICT,
			    "%s: held by another process", dir);
		}
		s_nap();
	}
	n = snprintf(text, sizeof text, "%ld\n", (long)getpid());
	if (fchmod(fd, 0600) != 0 || ftruncate(fd, 0) != 0 ||
	    pwrite(fd, text, (size_t)n, 0) != n) {
		err_set(err, ERR_INTERNAL, "write %s: %s", path,
		    strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int
runlock_holder(const char *dir, long *holder, err_t *err)
{
	char path[4096];
	int fd;

	*holder = 0;
	snprintf(path, sizeof path, "%s/%s", dir, RUNLOCK_FILE);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			return 0;
		return err_set(err, ERR_INTERNAL, "open %s: %s", path,
		    strerror(errno));
	}
	if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
		/* Nobody holds it: let go at once, a daemon may be starting. */
		close(fd);
		return 0;
	}
	if (errno != EWOULDBLOCK) {
		err_set(err, ERR_INTERNAL, "lock %s: %s", path,
		    strerror(errno));
		close(fd);
		return -1;
	}
	*holder = s_read_holder(fd);
	close(fd);
	return 0;
}
