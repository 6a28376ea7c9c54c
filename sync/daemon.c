/* daemon: a program's daemon around its event loop (see daemon.h). */
#include "daemon.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "prog.h"

/* SIGTERM, SIGINT: logs it and stops the loop (arg, the base). */
static void
s_on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	log_info("signal %d: stopping", (int)sig);
	event_base_loopbreak(arg);
}

/* Runs base until SIGTERM or SIGINT. Borrows base. */
static void
s_loop(struct event_base *base)
{
	struct event *term, *intr;

	signal(SIGPIPE, SIG_IGN);
	term = evsignal_new(base, SIGTERM, s_on_signal, base);
	intr = evsignal_new(base, SIGINT, s_on_signal, base);
	event_add(term, NULL);
	event_add(intr, NULL);
	event_base_dispatch(base);
	event_free(term);
	event_free(intr);
}

/* Starts store's background checkpointer with conf's limits; -1 with err
 * only on a bad setting. Borrows both. */
static int
s_checkpoints(store_t *st, const conf_t *conf, err_t *err)
{
	int bound, low;
	err_t why;

	if (conf_disk_limits(conf, &bound, &low, err))
		return -1;
	if (store_checkpoint_in_background(st, bound, low, &why))
		log_warn("%s; SQLite checkpoints inside commits instead",
		    why.msg);
	return 0;
}

int
daemon_private_dir(const char *dir, err_t *err)
{
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return err_set(err, ERR_INTERNAL, "%s: %s", dir,
		    strerror(errno));
	/* mkdir leaves an existing directory as it was, often 0755. */
	if (chmod(dir, 0700) != 0)
		return err_set(err, ERR_INTERNAL,
		    "%s: cannot make it private (chmod 700): %s", dir,
		    strerror(errno));
	return 0;
}

/* Logs a warning when dir, the data directory, lets group or others in;
 * -1 with err when it cannot be looked at. */
static int
s_check_private(const char *dir, err_t *err)
{
	struct stat sb;

	if (stat(dir, &sb) != 0)
		return err_set(err, ERR_INTERNAL, "%s: %s", dir,
		    strerror(errno));
	if ((sb.st_mode & 077) != 0)
		log_warn("%s: mode %03o lets other local users read customers' "
			 "data; chmod 700 it",
		    dir, (unsigned)(sb.st_mode & 0777));
	return 0;
}

int
daemon_run(const daemon_spec_t *spec, const args_t *args, void *arg)
{
	daemon_t d;
	const char *const *o;
	int rc = 1;
	err_t err;

	memset(&d, 0, sizeof d);
	err_clear(&err);
	d.dir = args_get(args, "data", ".");
	if (conf_load(d.dir, &d.conf, &err) || s_check_private(d.dir, &err) ||
	    keys_load(d.dir, spec->key, &d.keys, &err))
		goto out;
	for (o = spec->overrides; *o != NULL; o++)
		conf_set(&d.conf, *o, args_get(args, *o, NULL));
	if ((d.store = spec->open(d.dir, &err)) == NULL ||
	    s_checkpoints(d.store, &d.conf, &err))
		goto out;
	if ((d.base = event_base_new()) == NULL)
		fatal("daemon: cannot create an event loop");
	if (spec->start(&d, arg, &err))
		goto out;
	s_loop(d.base);
	rc = 0;
out:
	if (rc != 0)
		prog_fail(1, &err);
	spec->stop(arg);
	if (d.base != NULL)
		event_base_free(d.base);
	store_close(&d.store);
	keys_free(&d.keys);
	return rc;
}
