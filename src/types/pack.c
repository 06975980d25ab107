/* SPDX-License-Identifier: Apache-2.0 */
/* pack: the listpack-like sequence of byte strings; layout in pack.h. */
#include "types/pack.h"

#include "base/util.h"
#include "types/types.h"

#include <string.h>

/* Bytes of the count varint at the head. */
static size_t
head_len(const uint8_t *p)
{
    uint64_t count;
    return types_varint_read(p, &count);
}

/* Bytes the element at p takes, its length varint included. */
static size_t
elem_skip(const uint8_t *p)
{
    uint64_t elen;
    size_t n = types_varint_read(p, &elen);
    return n + (size_t)elen;
}

bool
pack_valid(const uint8_t *p, size_t len)
{
    uint64_t count;
    size_t off = types_varint_read_checked(p, len, &count);
    if (off == 0 || count > len - off) {
        return false; /* each element takes at least one byte */
    }
    for (uint64_t i = 0; i < count; i++) {
        uint64_t elen;
        size_t n = types_varint_read_checked(p + off, len - off, &elen);
        if (n == 0 || elen > len - off - n) {
            return false;
        }
        off += n + (size_t)elen;
    }
    return off == len;
}

/* bits of pack_unique()'s filter: 4 KiB of stack */
#define UNIQUE_BITS (1u << 15)

bool
pack_unique(const uint8_t *p, size_t len, size_t stride)
{
    ASSERT(stride >= 1);
    uint8_t seen[UNIQUE_BITS / 8] = {0};
    uint64_t count;
    size_t head = types_varint_read(p, &count);
    size_t off = head;
    for (size_t i = 0; i < count; i++) {
        struct pack_elem e = pack_at_offset(p, len, off);
        size_t here = off;
        off += pack_elem_span(e);
        if (i % stride != 0) {
            continue;
        }
        uint64_t bit = types_hash(e.p, e.len) % UNIQUE_BITS;
        if ((seen[bit / 8] & (1u << (bit % 8))) == 0) {
            seen[bit / 8] |= (uint8_t)(1u << (bit % 8));
            continue;
        }
        /* maybe seen: compare with the earlier groups */
        for (size_t j = 0, o = head; o < here; j++) {
            struct pack_elem g = pack_at_offset(p, len, o);
            if (j % stride == 0 && g.len == e.len &&
                    (e.len == 0 || memcmp(g.p, e.p, e.len) == 0)) {
                return false;
            }
            o += pack_elem_span(g);
        }
    }
    return true;
}

size_t
pack_count(const uint8_t *p, size_t len)
{
    (void)len;
    uint64_t count;
    types_varint_read(p, &count);
    return (size_t)count;
}

size_t
pack_offset(const uint8_t *p, size_t len, size_t i)
{
    size_t off = head_len(p);
    for (; i > 0; i--) {
        ASSERT(off < len);
        uint8_t b = p[off]; /* most elements: under 128 bytes, one-byte len */
        off += b < 0x80 ? 1 + (size_t)b : elem_skip(p + off);
    }
    ASSERT(off <= len);
    (void)len;
    return off;
}

struct pack_elem
pack_at_offset(const uint8_t *p, size_t len, size_t off)
{
    ASSERT(off < len);
    (void)len;
    uint64_t elen;
    size_t n = types_varint_read(p + off, &elen);
    return (struct pack_elem){p + off + n, (size_t)elen};
}

struct pack_elem
pack_at(const uint8_t *p, size_t len, size_t i)
{
    ASSERT(i < pack_count(p, len));
    return pack_at_offset(p, len, pack_offset(p, len, i));
}

size_t
pack_elem_span(struct pack_elem e)
{
    return types_varint_size(e.len) + e.len;
}

void
pack_iter_init(struct pack_iter *it, const uint8_t *p, size_t len)
{
    uint64_t count;
    size_t n = types_varint_read(p, &count);
    (void)len;
    it->next = p + n;
    it->left = (size_t)count;
}

bool
pack_next(struct pack_iter *it, struct pack_elem *e)
{
    if (it->left == 0) {
        return false;
    }
    uint64_t elen;
    size_t n = types_varint_read(it->next, &elen);
    e->p = it->next + n;
    e->len = (size_t)elen;
    it->next = e->p + e->len;
    it->left--;
    return true;
}

/* Whether the element at q (elen bytes) is e: the last 8 bytes first, as
 * one word, since the elements of one collection often share a prefix and
 * a length ("field:000123"), and one compare rejects nearly all of them
 * where a call to memcmp costs some 30 instructions. */
static inline bool
elem_eq(const uint8_t *q, const uint8_t *e, size_t elen)
{
    if (elen >= 8) {
        uint64_t a, b;
        memcpy(&a, q + elen - 8, 8);
        memcpy(&b, e + elen - 8, 8);
        return a == b && memcmp(q, e, elen - 8) == 0;
    }
    for (size_t i = 0; i < elen; i++) {
        if (q[i] != e[i]) {
            return false;
        }
    }
    return true;
}

bool
pack_find(const uint8_t *p, size_t len, const void *elem, size_t elen,
        size_t stride, struct pack_pos *pos)
{
    ASSERT(stride >= 1);
    uint64_t count;
    size_t off = types_varint_read(p, &count);
    /* every stride-th element is a candidate (a hash's fields); the others
     * (its values) are skipped by their lengths */
    for (size_t i = 0; i < count; i += stride) {
        uint64_t l;
        size_t n = types_varint_read(p + off, &l);
        if (l == elen && elem_eq(p + off + n, elem, elen)) {
            pos->index = i;
            pos->off = off;
            return true;
        }
        off += n + (size_t)l;
        for (size_t j = 1; j < stride && i + j < count; j++) {
            off += types_varint_read(p + off, &l);
            off += (size_t)l;
        }
    }
    ASSERT(off == len);
    pos->index = (size_t)count;
    pos->off = len;
    return false;
}

size_t
pack_head_size(size_t count)
{
    return types_varint_size(count);
}

size_t
pack_head_write(uint8_t *dst, size_t count)
{
    return types_varint_write(dst, count);
}

size_t
pack_elem_size(size_t elen)
{
    return types_varint_size(elen) + elen;
}

size_t
pack_elem_write(uint8_t *dst, const void *elem, size_t elen)
{
    size_t n = types_varint_write(dst, elen);
    if (elen > 0) {
        memcpy(dst + n, elem, elen);
    }
    return n + elen;
}

/* Byte offset just past the ndel elements that start at off. */
static size_t
skip_elems(const uint8_t *p, size_t len, size_t off, size_t ndel)
{
    for (; ndel > 0; ndel--) {
        ASSERT(off < len);
        off += elem_skip(p + off);
    }
    ASSERT(off <= len);
    (void)len;
    return off;
}

size_t
pack_splice_size(const uint8_t *p, size_t len, size_t off, size_t ndel,
        const struct pack_elem *ins, size_t nins)
{
    size_t count = pack_count(p, len);
    ASSERT(ndel <= count);
    size_t head = head_len(p);
    ASSERT(off >= head && off <= len);
    size_t end = skip_elems(p, len, off, ndel);
    size_t size =
            pack_head_size(count - ndel + nins) + (len - head) - (end - off);
    for (size_t i = 0; i < nins; i++) {
        size += pack_elem_size(ins[i].len);
    }
    return size;
}

size_t
pack_splice_write(uint8_t *dst, const uint8_t *p, size_t len, size_t off,
        size_t ndel, const struct pack_elem *ins, size_t nins)
{
    size_t count = pack_count(p, len);
    ASSERT(ndel <= count);
    size_t head = head_len(p);
    ASSERT(off >= head && off <= len);
    size_t end = skip_elems(p, len, off, ndel);
    size_t w = pack_head_write(dst, count - ndel + nins);
    memcpy(dst + w, p + head, off - head);
    w += off - head;
    for (size_t i = 0; i < nins; i++) {
        w += pack_elem_write(dst + w, ins[i].p, ins[i].len);
    }
    memcpy(dst + w, p + end, len - end);
    return w + (len - end);
}

size_t
pack_insert_size(const uint8_t *p, size_t len, size_t off, size_t elen)
{
    struct pack_elem e = {NULL, elen};
    return pack_splice_size(p, len, off, 0, &e, 1);
}

size_t
pack_insert_write(uint8_t *dst, const uint8_t *p, size_t len, size_t off,
        const void *elem, size_t elen)
{
    struct pack_elem e = {elem, elen};
    return pack_splice_write(dst, p, len, off, 0, &e, 1);
}

size_t
pack_replace_size(const uint8_t *p, size_t len, size_t off, size_t elen)
{
    struct pack_elem e = {NULL, elen};
    return pack_splice_size(p, len, off, 1, &e, 1);
}

size_t
pack_replace_write(uint8_t *dst, const uint8_t *p, size_t len, size_t off,
        const void *elem, size_t elen)
{
    struct pack_elem e = {elem, elen};
    return pack_splice_write(dst, p, len, off, 1, &e, 1);
}

size_t
pack_delete_size(const uint8_t *p, size_t len, size_t off, size_t n)
{
    return pack_splice_size(p, len, off, n, NULL, 0);
}

size_t
pack_delete_write(
        uint8_t *dst, const uint8_t *p, size_t len, size_t off, size_t n)
{
    return pack_splice_write(dst, p, len, off, n, NULL, 0);
}

/* Walks the groups; with dst NULL only counts. Returns the bytes the kept
 * groups take (without the head) and their element count in *kept. */
static size_t
filter_walk(uint8_t *dst, const uint8_t *p, size_t len, size_t stride,
        pack_keep_fn *keep, void *arg, size_t *kept)
{
    ASSERT(stride >= 1);
    uint64_t count;
    size_t off = types_varint_read(p, &count);
    ASSERT(count % stride == 0);
    size_t bytes = 0;
    *kept = 0;
    for (size_t i = 0; i < count; i += stride) {
        struct pack_elem first = pack_at_offset(p, len, off);
        size_t end = skip_elems(p, len, off, stride);
        if (keep(first.p, first.len, arg)) {
            if (dst != NULL) {
                memcpy(dst + bytes, p + off, end - off);
            }
            bytes += end - off;
            *kept += stride;
        }
        off = end;
    }
    return bytes;
}

size_t
pack_filter_size(const uint8_t *p, size_t len, size_t stride,
        pack_keep_fn *keep, void *arg)
{
    size_t kept;
    size_t bytes = filter_walk(NULL, p, len, stride, keep, arg, &kept);
    return pack_head_size(kept) + bytes;
}

size_t
pack_filter_write(uint8_t *dst, const uint8_t *p, size_t len, size_t stride,
        pack_keep_fn *keep, void *arg)
{
    /* the head's size depends on the kept count, known only after a walk,
     * and dst has no slack to move the body in afterwards: count first */
    size_t kept;
    filter_walk(NULL, p, len, stride, keep, arg, &kept);
    size_t w = pack_head_write(dst, kept);
    size_t kept2;
    w += filter_walk(dst + w, p, len, stride, keep, arg, &kept2);
    ASSERT(kept2 == kept);
    return w;
}
