/* SPDX-License-Identifier: Apache-2.0 */
/* How a connection's bytes move: the transport seam (DESIGN.md section 8).
 *
 * A connection carries a transport (c->tp) and the transport's own state
 * (c->tp_state). The worker and the admin thread move bytes only through
 * the functions below, never through tcp_recv/tcp_send, so plain TCP, Unix
 * sockets and TLS are served by the same loop and the same processors.
 *
 * The rules every transport keeps, so one place in the loop (worker.c
 * conn_event) can handle them all:
 *  - handshake, recv and send never block. On STATUS_EAGAIN they set
 *    c->want to the epoll interest (EVENT_READ or EVENT_WRITE) that will
 *    let the call make progress: TLS may need to read while the loop is
 *    writing, or write while it is reading.
 *  - pending reports bytes the transport already holds, decrypted, which
 *    no epoll event will announce; the loop must read them itself.
 *  - release frees the transport's state; it never closes the descriptor,
 *    which the server thread closes when it reclaims the connection.
 *
 *  - memory says what the transport's state costs, so a flood of idle
 *    connections is bounded by the same budget as their buffers.
 *
 * Plain TCP has no handshake, always wants EVENT_WRITE after a short send
 * and EVENT_READ after an empty recv, and never holds bytes. */
#pragma once

#include "base/status.h"

#include <stddef.h>
#include <sys/types.h>

struct conn;

struct transport {
    const char *name; /* "tcp", "tls": for logs and CLIENT LIST */
    /* Prepares per-connection state (c->fd is set). NULL: nothing to do.
     * STATUS_OK, or STATUS_ENOMEM/STATUS_ERROR to close at once. */
    rstatus_i (*open)(struct conn *c);
    /* NULL: no handshake. STATUS_OK once the connection carries data,
     * STATUS_EAGAIN with c->want set, STATUS_ERROR to close (counted and
     * logged by the transport). */
    rstatus_i (*handshake)(struct conn *c);
    /* n > 0. >0 bytes, STATUS_EAGAIN (c->want set), STATUS_EOF, or
     * STATUS_ERROR. */
    ssize_t (*recv)(struct conn *c, void *buf, size_t n);
    /* n > 0. >0 bytes (maybe fewer than n), STATUS_EAGAIN (c->want set),
     * STATUS_ERROR. A send that returned STATUS_EAGAIN must be retried
     * with at least the same bytes (TLS's rule). */
    ssize_t (*send)(struct conn *c, const void *buf, size_t n);
    /* NULL: never holds bytes. Else bytes readable now without an event. */
    size_t (*pending)(const struct conn *c);
    /* NULL: nothing to free. One non-blocking attempt to say goodbye
     * (TLS close_notify), then frees c->tp_state and sets it NULL. */
    void (*release)(struct conn *c);
    /* NULL: the transport holds no memory of its own. Else the bytes its
     * state for c holds now (an SSL and its record buffers), which the
     * worker counts against worker.buffer_memory beside the connection's
     * buffers. Called when the connection opens, when its handshake ends
     * and when it closes; never per request. 0 once released. */
    size_t (*memory)(const struct conn *c);
};

/* Plain stream sockets: TCP and Unix. Stateless, any thread. */
extern const struct transport transport_tcp;

/* Cold-path helpers for the loops and the server thread. */
/* Sets c->tp and runs its open; STATUS_OK or the open's failure. */
rstatus_i transport_attach(struct conn *c, const struct transport *tp);
/* Runs c->tp->release if the state is still there; idempotent, NULL-safe
 * for a connection that never got a transport. */
void transport_release(struct conn *c);
