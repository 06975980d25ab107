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
 * Bytes move through the connection's transport (core/transport.h): tp
 * says how (plain TCP and Unix sockets, or TLS), tp_state is that
 * transport's own state (an SSL object for TLS), and want is the epoll
 * interest the transport asked for when a call returned STATUS_EAGAIN.
 * The worker loop never calls tcp_recv/tcp_send on a connection; it calls
 * c->tp, and handles every transport's wants in one place (worker.c,
 * conn_event). Processors never see the transport: they work on rbuf and
 * wbuf, which hold plaintext whatever the wire carries.
 *
 * Processors may touch: rbuf, wbuf, data, now_ms, flags (CONN_CLOSE,
 * CONN_NO_IDLE), id, db; CONN_KILL only through worker_conn_kill.
 * Everything else belongs to core. */
#pragma once

#include "base/buf.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

struct processor;
struct transport;
struct worker;

/* clang-format off */
#define CONN_CLOSE      0x1u /* close once wbuf is flushed (quit, fatal error) */
#define CONN_STALLED    0x2u /* processor stopped: wbuf over its high mark */
#define CONN_HANDSHAKE  0x4u /* transport handshake not finished yet */
#define CONN_READY      0x8u /* on the worker's ready list (bytes pending) */
#define CONN_KILL       0x10u /* close at the next turn, unsent bytes dropped */
#define CONN_NO_IDLE    0x20u /* exempt from worker.idle_timeout (subscribers) */
#define CONN_HELD       0x40u /* processor keeps a request (no bytes) to run */
/* clang-format on */

struct conn {
    struct conn *next; /* worker list / pool free list */
    struct conn *prev;
    int fd;
    uint32_t flags;
    const struct transport *tp; /* how bytes move; set before a loop */
    void *tp_state;             /* the transport's (SSL * for TLS) */
    uint32_t want;              /* interest asked for on STATUS_EAGAIN */
    uint32_t interest;          /* epoll interest registered now */
    struct conn *ready_next;    /* worker's ready list (CONN_READY) */
    uint64_t id;                /* unique per process, for CLIENT ID and logs */
    uint64_t now_ms;            /* unix ms of the current event batch */
    uint64_t last_ms;           /* monotonic ms of the last read or write */
    uint64_t start_ms;          /* monotonic ms its worker took it */
    const struct processor *proc;
    struct worker *owner;
    struct buf rbuf;
    struct buf wbuf;
    size_t buf_bytes;  /* capacity of rbuf + wbuf the worker counts */
    size_t proc_bytes; /* what the processor holds to send beyond wbuf
                        * (replies queued past it); counted with them */
    size_t tp_bytes;   /* what tp->memory said when last asked */
    void *data;        /* processor state; freed by proc->error */
    uint32_t listener; /* index of the listener it came from */
    uint32_t db;       /* selected database (resp) */
    char peer[48];     /* "127.0.0.1:5555", for CLIENT LIST and logs */
};

void conn_reset(struct conn *c);
