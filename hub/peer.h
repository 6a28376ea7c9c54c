/*
 * peer: the TCP connection behind a hub session, and how to cut it.
 *
 * libzmq's ROUTER has no call that drops one peer: what the hub queued for
 * a peer that stopped reading (up to its session's credit of OPS batches)
 * stays in the hub's memory and its kernel's send buffer as long as the
 * peer's TCP connection lives. So
 * the hub notes, at each message of a session, the connection it came on:
 * the descriptor libzmq read it from (zmq_msg_get ZMQ_SRCFD, from the
 * metadata libzmq's stream engine puts on every message) and both ends'
 * addresses as getsockname() and getpeername() give them at that moment.
 * peer_cut shuts that socket down (shutdown(SHUT_RDWR), never close: the
 * descriptor is libzmq's); libzmq's I/O thread then sees the connection
 * end, closes it, tears its pipe down and frees what the pipe held.
 *
 * The descriptor belongs to libzmq, which may close it and reuse its number
 * (for another peer's connection, a database file) at any time. peer_cut
 * therefore first checks that it is still a socket with the same local and
 * remote address:port, and otherwise cuts nothing: a reused descriptor of
 * another connection is never cut. A message may also have waited in
 * libzmq while its connection closed and the number went to another:
 * peer_note checks the address libzmq saw when it accepted the connection
 * (the message's Peer-Address) against the descriptor's. What remains is
 * a new connection from the same host on the same number within that
 * wait, and the instant between peer_cut's check and the shutdown.
 *
 * All calls are made from the hub's event loop thread.
 */
#ifndef BL_HUB_PEER_H
#define BL_HUB_PEER_H

#include <zmq.h>

#include "err.h"

/* "255.255.255.255:65535", or an IPv6 address in brackets and a port. */
#define PEER_NAME_MAX 64

typedef struct peer peer_t;

/* A peer that knows no connection yet; the caller frees it with
 * peer_destroy. Exits through fatal() when out of memory. */
peer_t *peer_new(void);

/* Frees *self_p (NULL accepted) and nulls it. Does not cut anything. */
void peer_destroy(peer_t **self_p);

/* Notes the connection msg (borrowed, a frame as zmq_msg_recv gave it) came
 * in on. 0; or -1 with err, and then the peer knows no connection
 * (peer_cut cuts nothing): ERR_NOT_FOUND when the connection is already
 * gone ("note connection: descriptor 12: getpeername: ..."), ERR_INTERNAL
 * when libzmq does not say which it is. */
int peer_note(peer_t *peer, const zmq_msg_t *msg, err_t *err);

/* Whether a and b noted the same connection (none noted: no). */
int peer_same(const peer_t *a, const peer_t *b);

/* The remote end last noted ("10.0.0.5:41234"; also after a cut, for its
 * log line), "?" before any; valid until the next peer_note. */
const char *peer_name(const peer_t *peer);

/* Cuts the connection noted, if its descriptor still is that connection,
 * and forgets it. 0 when cut; -1 with err when there is nothing to cut
 * (ERR_NOT_FOUND: none noted, or the connection is already gone and its
 * descriptor closed or reused) or shutdown() failed (ERR_INTERNAL). */
int peer_cut(peer_t *peer, err_t *err);

#endif
