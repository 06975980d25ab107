/* SPDX-License-Identifier: Apache-2.0 */
/* A client connection: socket, read and write buffers, the processor of the
 * listener it came from, and that processor's per-connection state.
 *
 * Lifetime: the server thread borrows a conn from its pool on accept and
 * hands it to a worker through the worker's `new` ring; from then on only
 * that worker touches it, until it pushes it back on its `term` ring; the
 * server thread closes the socket and returns the conn to the pool.
 *
 * Buffers are lent by the worker while a connection has bytes in them and
 * taken back when they empty, so an idle connection holds no buffer memory.
 *
 * Processors may touch: rbuf, wbuf, data, now_ms, flags (CONN_CLOSE), id,
 * db. Everything else belongs to core. */
#pragma once

#include "base/buf.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

struct processor;
struct worker;

/* clang-format off */
#define CONN_CLOSE      0x1u /* close once wbuf is flushed (quit, fatal error) */
#define CONN_STALLED    0x2u /* processor stopped: wbuf over its high mark */
/* clang-format on */

struct conn {
    struct conn *next; /* worker list / pool free list */
    struct conn *prev;
    int fd;
    uint32_t flags;
    uint64_t id;      /* unique per process, for CLIENT ID and logs */
    uint64_t now_ms;  /* unix ms of the current event batch */
    uint64_t last_ms; /* monotonic ms of the last read or write */
    const struct processor *proc;
    struct worker *owner;
    struct buf rbuf;
    struct buf wbuf;
    size_t buf_bytes;  /* capacity of rbuf + wbuf the worker counts */
    void *data;        /* processor state; freed by proc->error */
    uint32_t listener; /* index of the listener it came from */
    uint32_t db;       /* selected database (resp) */
    char peer[48];     /* "127.0.0.1:5555", for CLIENT LIST and logs */
};

void conn_reset(struct conn *c);
