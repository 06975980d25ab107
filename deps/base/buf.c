/* SPDX-License-Identifier: Apache-2.0 */
/* Contiguous buffer that doubles up to a cap and shrinks back. Growing
 * copies only the readable bytes into new storage, so a failed grow leaves
 * the buffer exactly as it was. */
#include "base/buf.h"

#include "base/mm.h"
#include "base/util.h"

#include <string.h>

static void
buf_set(struct buf *b, char *storage, size_t cap, size_t rsize)
{
    b->begin = storage;
    b->rpos = storage;
    b->wpos = storage + rsize;
    b->end = storage + cap;
}

rstatus_i
buf_init(struct buf *b, size_t size)
{
    ASSERT(size > 0);
    char *storage = mm_alloc(size);
    if (storage == NULL) {
        memset(b, 0, sizeof(*b)); /* no NULL + 0: UBSan flags it */
        return STATUS_ENOMEM;
    }
    buf_set(b, storage, size, 0);
    return STATUS_OK;
}

void
buf_deinit(struct buf *b)
{
    mm_release(b->begin);
    memset(b, 0, sizeof(*b));
}

void
buf_lshift(struct buf *b)
{
    size_t n = buf_rsize(b);
    if (b->rpos == b->begin) {
        return;
    }
    if (n > 0) {
        memmove(b->begin, b->rpos, n);
    }
    b->rpos = b->begin;
    b->wpos = b->begin + n;
}

/* Smallest doubling of cap that holds `required`, clamped to max. */
static size_t
grown_capacity(size_t cap, size_t required, size_t max)
{
    size_t next = cap > 0 ? cap : required;
    while (next < required) {
        if (next > max / 2) {
            return max;
        }
        next *= 2;
    }
    return size_min(next, max);
}

rstatus_i
buf_reserve(struct buf *b, size_t need, size_t max)
{
    size_t rsize = buf_rsize(b);
    if (buf_wsize(b) >= need) {
        return STATUS_OK;
    }
    if (buf_capacity(b) - rsize >= need) {
        buf_lshift(b);
        return STATUS_OK;
    }
    if (need > max || rsize > max - need) {
        return STATUS_ENOMEM;
    }
    size_t cap = grown_capacity(buf_capacity(b), rsize + need, max);
    char *storage = mm_alloc(cap);
    if (storage == NULL) {
        return STATUS_ENOMEM;
    }
    if (rsize > 0) {
        memcpy(storage, b->rpos, rsize);
    }
    mm_release(b->begin);
    buf_set(b, storage, cap, rsize);
    return STATUS_OK;
}

void
buf_shrink(struct buf *b, size_t size)
{
    buf_lshift(b);
    size_t rsize = buf_rsize(b);
    size_t cap = buf_capacity(b);
    while (cap / 2 >= size && cap / 2 >= rsize && cap / 2 > 0) {
        cap /= 2;
    }
    if (cap == buf_capacity(b)) {
        return;
    }
    char *storage = mm_realloc(b->begin, cap);
    if (storage == NULL) {
        return; /* keep the larger storage */
    }
    buf_set(b, storage, cap, rsize);
}

rstatus_i
buf_append(struct buf *b, const void *data, size_t n, size_t max)
{
    rstatus_i status = buf_reserve(b, n, max);
    if (status != STATUS_OK) {
        return status;
    }
    if (n > 0) {
        memcpy(b->wpos, data, n);
        b->wpos += n;
    }
    return STATUS_OK;
}
