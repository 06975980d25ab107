/* SPDX-License-Identifier: Apache-2.0 */
/* An in-memory connection driven through a processor's read callback as a
 * worker drives it: bytes appended to rbuf, read run (and run again after
 * each stall, as the worker does once it has flushed), replies taken from
 * wbuf. Shared by the processor test programs. */
#pragma once

#include "unit.h"

#include "base/util.h"
#include "core/conn.h"
#include "core/processor.h"
#include "storage/seg/seg.h"

#include <stdio.h>
#include <string.h>

/* A connection with small buffers (they grow as a worker's do), its clock
 * at now and a peer address made from id. */
static inline void
harness_open(struct conn *c, uint64_t id, uint64_t now)
{
    memset(c, 0, sizeof(*c));
    c->fd = -1;
    c->id = id;
    c->now_ms = now;
    snprintf(c->peer, sizeof(c->peer), "127.0.0.1:%u", (unsigned)(1000 + id));
    assert_int_equal(buf_init(&c->rbuf, 64), STATUS_OK);
    assert_int_equal(buf_init(&c->wbuf, 64), STATUS_OK);
}

/* Ends the connection as the worker does: the processor's error callback
 * frees its state. */
static inline void
harness_close(const struct processor *p, struct conn *c)
{
    if (p->error != NULL) {
        p->error(c);
    }
    assert_null(c->data);
    buf_deinit(&c->rbuf);
    buf_deinit(&c->wbuf);
}

/* Appends len bytes and runs the processor until it stops for want of
 * input; returns its status. */
static inline rstatus_i
harness_feed(const struct processor *p, const struct proc_limits *limits,
        struct conn *c, const void *data, size_t len)
{
    assert_int_equal(buf_append(&c->rbuf, data, len, 16 * MiB), STATUS_OK);
    rstatus_i rc = p->read(c, limits);
    while (rc == STATUS_OK && (c->flags & CONN_STALLED)) {
        c->flags &= ~CONN_STALLED; /* the worker would flush, then resume */
        rc = p->read(c, limits);
    }
    buf_lshift(&c->rbuf);
    return rc;
}

/* The replies so far, NUL-terminated in out of capacity cap, taken from
 * wbuf. */
static inline const char *
harness_replies(struct conn *c, char *out, size_t cap)
{
    size_t n = buf_rsize(&c->wbuf);
    assert_true(n < cap);
    memcpy(out, c->wbuf.rpos, n);
    out[n] = '\0';
    buf_clear(&c->wbuf);
    return out;
}

/* A small store for processor tests: no background thread, few open
 * segments, its metrics in m. STATUS_OK or the setup's error. */
static inline rstatus_i
harness_store_setup(size_t memory, seg_metrics_st *m)
{
    seg_options_st o = {SEG_OPTION(INIT_OPTION)};
    o.seg_memory.val.OPTION_SIZE = memory;
    o.seg_background.val.OPTION_BOOL = false;
    o.seg_open_max.val.OPTION_UINT = 4;
    *m = (seg_metrics_st){SEG_METRIC(INIT_METRIC)};
    return seg_setup(&o, m);
}
