/* SPDX-License-Identifier: Apache-2.0 */
/* The plain transport (TCP and Unix sockets) and the helpers every
 * transport shares. TLS lives in tls.c. */
#include "core/transport.h"

#include "base/event.h"
#include "base/tcp.h"
#include "core/conn.h"

static ssize_t
plain_recv(struct conn *c, void *buf, size_t n)
{
    ssize_t r = tcp_recv(c->fd, buf, n);
    if (r == STATUS_EAGAIN) {
        c->want = EVENT_READ;
    }
    return r;
}

static ssize_t
plain_send(struct conn *c, const void *buf, size_t n)
{
    ssize_t r = tcp_send(c->fd, buf, n);
    if (r == STATUS_EAGAIN) {
        c->want = EVENT_WRITE;
    }
    return r;
}

const struct transport transport_tcp = {
        .name = "tcp",
        .open = NULL,
        .handshake = NULL,
        .recv = plain_recv,
        .send = plain_send,
        .pending = NULL,
        .release = NULL,
        .memory = NULL,
};

rstatus_i
transport_attach(struct conn *c, const struct transport *tp)
{
    c->tp = tp;
    c->want = EVENT_READ; /* every protocol here waits for the client first */
    if (tp->handshake != NULL) {
        c->flags |= CONN_HANDSHAKE;
    }
    return tp->open != NULL ? tp->open(c) : STATUS_OK;
}

void
transport_release(struct conn *c)
{
    if (c->tp != NULL && c->tp->release != NULL && c->tp_state != NULL) {
        c->tp->release(c);
    }
    c->tp_state = NULL;
}
