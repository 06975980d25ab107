/* SPDX-License-Identifier: Apache-2.0 */
/* Contiguous read/write buffer that can double up to a cap and shrink back.
 *
 *   begin        rpos          wpos             end
 *     |  consumed  |   readable   |    writable    |
 *
 * A struct buf is embedded in its owner (a connection); its storage is one
 * separate allocation, so growing moves the bytes: pointers into a buffer
 * (a key parsed in place) are valid only until the next buf_grow,
 * buf_shrink or buf_lshift. One thread at a time. */
#pragma once

#include "base/status.h"

#include <stddef.h>
#include <string.h>

struct buf {
    char *begin; /* storage; NULL before buf_init or after buf_deinit */
    char *rpos;  /* next byte to read */
    char *wpos;  /* next byte to write */
    char *end;   /* one past the last byte of storage */
};

/* Allocates size bytes of storage; STATUS_ENOMEM on failure. */
rstatus_i buf_init(struct buf *b, size_t size);
void buf_deinit(struct buf *b); /* frees storage; safe twice */

static inline size_t
buf_rsize(const struct buf *b) /* bytes to read */
{
    return (size_t)(b->wpos - b->rpos);
}

static inline size_t
buf_wsize(const struct buf *b) /* room after wpos */
{
    return (size_t)(b->end - b->wpos);
}

static inline size_t
buf_capacity(const struct buf *b)
{
    return (size_t)(b->end - b->begin);
}

static inline int
buf_empty(const struct buf *b)
{
    return b->rpos == b->wpos;
}

/* Drops all content, keeps the storage. */
static inline void
buf_clear(struct buf *b)
{
    b->rpos = b->wpos = b->begin;
}

/* Moves the readable bytes to begin. */
void buf_lshift(struct buf *b);
/* Makes room for at least `need` writable bytes: first by shifting left,
 * then by doubling capacity up to `max` bytes in all. STATUS_ENOMEM when
 * that is over max or allocation fails (the buffer is unchanged then). */
rstatus_i buf_reserve(struct buf *b, size_t need, size_t max);
/* Shifts left, then halves capacity while the readable bytes still fit,
 * down to `size`; never fails (keeps the larger storage if realloc does). */
void buf_shrink(struct buf *b, size_t size);
/* Appends n bytes, growing up to max; STATUS_ENOMEM if they do not fit. */
rstatus_i buf_append(struct buf *b, const void *data, size_t n, size_t max);
