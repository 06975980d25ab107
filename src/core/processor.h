/* SPDX-License-Identifier: Apache-2.0 */
/* The processor interface: what a worker calls on a connection's buffers.
 * A worker knows no protocol; each connection carries the processor of the
 * listener it came from (memcache, resp, ping, admin). */
#pragma once

#include "base/status.h"

#include <stddef.h>

struct conn;

/* Limits a processor works within; set by core from the configuration. */
struct proc_limits {
    size_t rbuf_max;   /* a read buffer never grows past this */
    size_t wbuf_high;  /* stop parsing while wbuf holds more than this */
    size_t wbuf_max;   /* a write buffer never grows past this */
    size_t buf_budget; /* a worker's share of worker.buffer_memory (0: no
                          limit): past it connections are closed */
};

struct processor {
    const char *name;
    /* Parses every complete request in c->rbuf, executes it, and appends
     * the replies to c->wbuf; leaves partial requests in rbuf. Called after
     * each read, and again when a stalled connection's wbuf has drained.
     * Sets CONN_STALLED and returns when wbuf passes limits->wbuf_high,
     * CONN_CLOSE to close after the flush. STATUS_OK, or a negative status
     * to close at once (replies not yet sent are dropped). */
    rstatus_i (*read)(struct conn *c, const struct proc_limits *limits);
    /* Optional: called when c->wbuf has been fully written. */
    void (*write)(struct conn *c);
    /* Called once when the connection closes (peer gone, error, shutdown):
     * frees c->data. NULL-safe for c->data == NULL. */
    void (*error)(struct conn *c);
    /* Optional: called instead of read while another connection of the
     * same worker is inside a long request (a busy script) that holds the
     * worker: answers what the protocol answers then (Redis's BUSY), runs
     * nothing that could wait for the long request, and never asks for a
     * close on the spot (CONN_CLOSE is honoured after the long request).
     * NULL: the connection waits for the long request to end. */
    rstatus_i (*busy)(struct conn *c, const struct proc_limits *limits);
    /* Optional: the line a connection refused for server.max_connections
     * reads before the close, in the protocol's own words (the peer
     * server's: clients recognise it). NULL: closed without a word. */
    const char *refusal;
};
