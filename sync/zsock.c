/* zsock: the sync link's sockets and their shared options (see zsock.h). */
#include "zsock.h"

#include <stdint.h>
#include <zmq.h>

int
zsock_set(void *sock, int option, const char *name, const void *value,
    size_t size, err_t *err)
{
	if (zmq_setsockopt(sock, option, value, size) == 0)
		return 0;
	return err_set(err, ERR_INTERNAL, "sync socket: set %s: %s", name,
	    zmq_strerror(zmq_errno()));
}

void *
zsock_new(void *ctx, int type, err_t *err)
{
	int linger = 0, ivl = ZSOCK_HEARTBEAT_IVL_MS;
	int ttl = ZSOCK_HEARTBEAT_TTL_MS;
	int64_t maxsize = ZSOCK_MAX_MSG;
	void *sock = zmq_socket(ctx, type);

	if (sock == NULL) {
		err_set(err, ERR_INTERNAL, "sync socket: open: %s",
		    zmq_strerror(zmq_errno()));
		return NULL;
	}
	if (zsock_set(sock, ZMQ_LINGER, "ZMQ_LINGER", &linger, sizeof linger,
		err) ||
	    zsock_set(sock, ZMQ_MAXMSGSIZE, "ZMQ_MAXMSGSIZE", &maxsize,
		sizeof maxsize, err) ||
	    (type == ZMQ_DEALER &&
		(zsock_set(sock, ZMQ_HEARTBEAT_IVL, "ZMQ_HEARTBEAT_IVL", &ivl,
		     sizeof ivl, err) ||
		    zsock_set(sock, ZMQ_HEARTBEAT_TIMEOUT,
			"ZMQ_HEARTBEAT_TIMEOUT", &ttl, sizeof ttl, err)))) {
		zmq_close(sock);
		return NULL;
	}
	return sock;
}
