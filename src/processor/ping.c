/* SPDX-License-Identifier: Apache-2.0 */
/* Ping processor: every complete line in the read buffer gets its reply. */
#include "processor/ping.h"

#include "core/conn.h"
#include "protocol/ping/ping.h"

static rstatus_i
ping_read(struct conn *c, const struct proc_limits *limits)
{
    while (!buf_empty(&c->rbuf)) {
        if (buf_rsize(&c->wbuf) > limits->wbuf_high) {
            c->flags |= CONN_STALLED;
            return STATUS_OK;
        }
        rstatus_i st = STATUS_OK;
        switch (ping_parse_req(&c->rbuf)) {
        case PING_PARSE_OK:
            st = ping_compose_pong(&c->wbuf, limits->wbuf_max);
            break;
        case PING_PARSE_UNFIN:
            return STATUS_OK;
        case PING_PARSE_EINVALID:
            st = ping_compose_error(&c->wbuf, limits->wbuf_max);
            break;
        case PING_PARSE_EOVERSIZE:
            buf_clear(&c->rbuf);
            c->flags |= CONN_CLOSE;
            return ping_compose_error(&c->wbuf, limits->wbuf_max);
        }
        if (st != STATUS_OK) {
            return st;
        }
    }
    return STATUS_OK;
}

const struct processor proc_ping = {
        .name = "ping",
        .read = ping_read,
        .write = NULL,
        .error = NULL,
};
