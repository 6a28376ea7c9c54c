/* daemon: the daemons' event loop and its stop signals (see daemon.h). */
#include "daemon.h"

#include <signal.h>

#include "log.h"

static void
s_on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	log_info("signal %d: stopping", (int)sig);
	event_base_loopbreak(arg);
}

void
daemon_loop(struct event_base *base)
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

int
daemon_checkpoints(store_t *st, const conf_t *conf, err_t *err)
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
