/*
 * zsock: the two ends of the sync link, the hub's ROUTER and a node's
 * DEALER, opened with the options they share, so that the two ends cannot
 * drift apart: no lingering at close, messages up to ZSOCK_MAX_MSG bytes
 * (a larger one drops the connection), and, at a node, ZMTP heartbeats
 * that drop a hub silent for ZSOCK_HEARTBEAT_TTL_MS.
 *
 * The hub sets no heartbeats: each would arm a timer per connection every
 * ZSOCK_HEARTBEAT_IVL_MS, and libzmq cancels a timer by walking all of
 * them (poller_base.cpp, cancel_timer), so that 10,000 sites kept its I/O
 * thread busy walking and the handshakes of the last thousands timed
 * out. The hub's nodes PING it every few seconds, and it ends a session
 * silent for longer than its own limit itself (SESSION_IDLE_MS); its
 * libzmq still answers the nodes' heartbeats.
 *
 * What only one end needs stays with it: the CURVE role and keys, the ZAP
 * domain, ROUTER_MANDATORY and the send HWM at the hub (hub/server.c); the
 * reconnect backoff and IMMEDIATE at a node (node/client.c).
 */
#ifndef BL_ZSOCK_H
#define BL_ZSOCK_H

#include "err.h"
#include "proto.h"

#define ZSOCK_MAX_MSG (PROTO_MAX_MSG + 1024) /* a message and its framing */
#define ZSOCK_HEARTBEAT_IVL_MS 5000
#define ZSOCK_HEARTBEAT_TTL_MS 15000

/* Opens a socket of type (ZMQ_ROUTER, ZMQ_DEALER) in ctx, borrowed, with
 * the shared options set (heartbeats only on a DEALER, above). The caller owns the socket and closes it with
 * zmq_close. NULL with err when libzmq cannot open it or refuses an
 * option. */
void *zsock_new(void *ctx, int type, err_t *err);

/* Sets option (name, for the message: "ZMQ_LINGER") of sock from value,
 * borrowed; -1 with err when libzmq refuses it. */
int zsock_set(void *sock, int option, const char *name, const void *value,
    size_t size, err_t *err);

#endif
