/*
 * peer: the TCP connection behind a hub session (see peer.h). Owns the
 * rule that a descriptor is cut only while it still carries the connection
 * noted: same local and remote address and port.
 */
#include "peer.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"

struct peer {
	int fd; /* -1: no connection noted */
	struct sockaddr_storage local, remote;
	socklen_t local_len, remote_len;
	char name[PEER_NAME_MAX]; /* remote address:port, for logs */
};

peer_t *
peer_new(void)
{
	peer_t *p = calloc(1, sizeof *p);

	if (p == NULL)
		fatal("peer: out of memory");
	p->fd = -1;
	snprintf(p->name, sizeof p->name, "?");
	return p;
}

void
peer_destroy(peer_t **self_p)
{
	if (self_p == NULL || *self_p == NULL)
		return;
	free(*self_p);
	*self_p = NULL;
}

/* The numeric host of an address ("10.0.0.5", "::1") into host; -1 when
 * getnameinfo cannot say. */
static int
s_host(const struct sockaddr_storage *a, socklen_t len, char *host, size_t size)
{
	if (getnameinfo((const struct sockaddr *)a, len, host, (socklen_t)size,
		NULL, 0, NI_NUMERICHOST) != 0)
		return -1;
	return 0;
}

static unsigned
s_port(const struct sockaddr_storage *a)
{
	if (a->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)a)->sin_port);
	if (a->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)a)->sin6_port);
	return 0;
}

/* Whether two socket addresses name the same end: family, address, port
 * (not the padding the kernel may leave). */
static int
s_same_addr(const struct sockaddr_storage *a, socklen_t alen,
    const struct sockaddr_storage *b, socklen_t blen)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a;
		const struct sockaddr_in *y = (const void *)b;

		return x->sin_port == y->sin_port &&
		    x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a;
		const struct sockaddr_in6 *y = (const void *)b;
		size_t n = sizeof x->sin6_addr;

		return x->sin6_port == y->sin6_port &&
		    memcmp(&x->sin6_addr, &y->sin6_addr, n) == 0;
	}
	return alen == blen && memcmp(a, b, alen) == 0;
}

/* Reads both ends of fd's connection. 0, or -1 with err naming the cause
 * (not a socket any more, not connected). */
static int
s_ends(int fd, struct sockaddr_storage *local, socklen_t *local_len,
    struct sockaddr_storage *remote, socklen_t *remote_len, err_t *err)
{
	*local_len = sizeof *local;
	*remote_len = sizeof *remote;
	if (getsockname(fd, (struct sockaddr *)local, local_len) != 0)
		return err_set(err, ERR_NOT_FOUND,
		    "descriptor %d: getsockname: %s", fd, strerror(errno));
	if (getpeername(fd, (struct sockaddr *)remote, remote_len) != 0)
		return err_set(err, ERR_NOT_FOUND,
		    "descriptor %d: getpeername: %s", fd, strerror(errno));
	return 0;
}

int
peer_note(peer_t *p, const zmq_msg_t *msg, err_t *err)
{
	struct sockaddr_storage local, remote;
	socklen_t local_len, remote_len;
	char host[NI_MAXHOST];
	const char *said;
	int fd;

	/* libzmq's private "__fd" metadata, which ZMQ_SRCFD reads, is on
	 * every message its TCP engine delivers (libzmq 4.3). */
	fd = zmq_msg_get(msg, ZMQ_SRCFD);
	if (fd < 0) {
		p->fd = -1;
		return err_set(err, ERR_INTERNAL,
		    "note connection: libzmq gives no source descriptor "
		    "(ZMQ_SRCFD: %s)",
		    zmq_strerror(zmq_errno()));
	}
	if (s_ends(fd, &local, &local_len, &remote, &remote_len, err) != 0) {
		p->fd = -1;
		return err_prefix(err, "note connection");
	}
	if (fd == p->fd &&
	    s_same_addr(&remote, remote_len, &p->remote, p->remote_len) &&
	    s_same_addr(&local, local_len, &p->local, p->local_len))
		return 0; /* the connection noted before: nothing new */
	if (s_host(&remote, remote_len, host, sizeof host) != 0) {
		p->fd = -1;
		return err_set(err, ERR_INTERNAL,
		    "note connection: descriptor %d: remote address with no "
		    "numeric form",
		    fd);
	}
	/* The message may have waited in libzmq while its connection closed
	 * and the number went to another: the address libzmq saw when it
	 * accepted the connection must be the one the descriptor has now. */
	said = zmq_msg_gets(msg, "Peer-Address");
	if (said != NULL && strcmp(said, host) != 0) {
		p->fd = -1;
		return err_set(err, ERR_NOT_FOUND,
		    "note connection: descriptor %d: now connected to %s, "
		    "the message came from %s",
		    fd, host, said);
	}
	p->fd = fd;
	p->local = local;
	p->local_len = local_len;
	p->remote = remote;
	p->remote_len = remote_len;
	snprintf(p->name, sizeof p->name,
	    remote.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", host,
	    s_port(&remote));
	return 0;
}

int
peer_same(const peer_t *a, const peer_t *b)
{
	return a->fd >= 0 && b->fd >= 0 && a->fd == b->fd &&
	    s_same_addr(&a->remote, a->remote_len, &b->remote, b->remote_len) &&
	    s_same_addr(&a->local, a->local_len, &b->local, b->local_len);
}

const char *
peer_name(const peer_t *p)
{
	return p->name;
}

int
peer_cut(peer_t *p, err_t *err)
{
	struct sockaddr_storage local, remote;
	socklen_t local_len, remote_len;
	int fd = p->fd;

	if (fd < 0)
		return err_set(err, ERR_NOT_FOUND,
		    "cut connection: no connection noted");
	p->fd = -1; /* whatever happens, it is not to be cut twice */
	if (s_ends(fd, &local, &local_len, &remote, &remote_len, err) != 0)
		return err_prefix(err, "cut connection %s: already gone",
		    p->name);
	if (!s_same_addr(&remote, remote_len, &p->remote, p->remote_len) ||
	    !s_same_addr(&local, local_len, &p->local, p->local_len))
		return err_set(err, ERR_NOT_FOUND,
		    "cut connection %s: already gone: descriptor %d now "
		    "carries another connection",
		    p->name, fd);
	if (shutdown(fd, SHUT_RDWR) != 0)
		return err_set(err, ERR_INTERNAL,
		    "cut connection %s: shutdown descriptor %d: %s", p->name,
		    fd, strerror(errno));
	return 0;
}
