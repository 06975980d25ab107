/* SPDX-License-Identifier: Apache-2.0 */
/* ipack: a pack and an index of its groups' hashes; layout in ipack.h. */
#include "types/ipack.h"

#include "base/util.h"
#include "types/types.h"

#include <string.h>

/* Index entries are little-endian on every host: compared as stored, so a
 * lookup converts the hash it looks for once, not every entry. */
static inline uint32_t
to_le32(uint32_t h)
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    return __builtin_bswap32(h);
#else
    return h;
#endif
}

static inline uint32_t
raw32(const uint8_t *q)
{
    uint32_t v;
    memcpy(&v, q, sizeof(v));
    return v;
}

/* Bytes the element at q takes, its length varint included: inline, since
 * a lookup walks up to a part's every element with it. */
static inline size_t
elem_skip(const uint8_t *q)
{
    if (q[0] < 0x80) {
        return 1 + (size_t)q[0];
    }
    uint64_t elen;
    size_t n = types_varint_read(q, &elen);
    return n + (size_t)elen;
}

/* Whether one of the four index entries at q is want: one vector compare
 * (GCC and clang vector extensions, SSE2 or NEON code) where four scalar
 * ones cost a load, compare and branch each. */
typedef uint32_t u32x4 __attribute__((vector_size(16)));
typedef uint64_t u64x2 __attribute__((vector_size(16)));

static inline bool
any_of4(const uint8_t *q, uint32_t want)
{
    u32x4 v;
    memcpy(&v, q, sizeof(v));
    u64x2 eq = (u64x2)(v == want);
    return (eq[0] | eq[1]) != 0;
}

size_t
ipack_hash_write(uint8_t *dst, uint32_t h)
{
    uint32_t le = to_le32(h);
    memcpy(dst, &le, sizeof(le));
    return IPACK_HASH_SIZE;
}

size_t
ipack_groups(const uint8_t *p, size_t len, size_t stride)
{
    ASSERT(stride >= 1);
    return pack_count(p, len) / stride;
}

size_t
ipack_pack_len(const uint8_t *p, size_t len, size_t stride)
{
    return len - IPACK_HASH_SIZE * ipack_groups(p, len, stride);
}

uint32_t
ipack_hash_at(const uint8_t *p, size_t len, size_t stride, size_t g)
{
    ASSERT(g < ipack_groups(p, len, stride));
    return to_le32(
            raw32(p + ipack_pack_len(p, len, stride) + IPACK_HASH_SIZE * g));
}

bool
ipack_valid(const uint8_t *p, size_t len, size_t stride)
{
    uint64_t count;
    if (stride < 1 || types_varint_read_checked(p, len, &count) == 0 ||
            count % stride != 0 || count / stride > len / IPACK_HASH_SIZE) {
        return false;
    }
    size_t g = (size_t)(count / stride);
    size_t plen = len - IPACK_HASH_SIZE * g;
    if (!pack_valid(p, plen)) {
        return false;
    }
    struct pack_iter it;
    struct pack_elem e;
    pack_iter_init(&it, p, plen);
    for (size_t i = 0; pack_next(&it, &e); i++) {
        if (i % stride == 0 && ipack_hash_at(p, len, stride, i / stride) !=
                                       ipack_hash_of(types_hash(e.p, e.len))) {
            return false;
        }
    }
    return true;
}

bool
ipack_find(const uint8_t *p, size_t len, size_t stride, uint32_t h,
        const void *elem, size_t elen, struct pack_pos *pos)
{
    ASSERT(stride >= 1);
    uint64_t count;
    size_t off = types_varint_read(p, &count);
    size_t g = (size_t)count / stride;
    size_t plen = len - IPACK_HASH_SIZE * g;
    const uint8_t *t = p + plen;
    uint32_t want = to_le32(h);
    /* the element at index `at` starts at byte `off`: the pack is walked
     * only as far as a matching entry, and only once over all of them */
    size_t at = 0;
    for (size_t i = 0; i < g;) {
        while (i + 4 <= g && !any_of4(t + IPACK_HASH_SIZE * i, want)) {
            i += 4;
        }
        /* the four that hold a match, or the last few */
        size_t end = i + 4 <= g ? i + 4 : g;
        for (; i < end; i++) {
            if (raw32(t + IPACK_HASH_SIZE * i) != want) {
                continue;
            }
            for (; at < i * stride; at++) {
                off += elem_skip(p + off);
            }
            struct pack_elem e = pack_at_offset(p, plen, off);
            if (e.len == elen && (elen == 0 || memcmp(e.p, elem, elen) == 0)) {
                pos->index = at;
                pos->off = off;
                return true;
            }
        }
    }
    pos->index = (size_t)count;
    pos->off = plen;
    return false;
}

/* The new image: the pack changed by a splice (off, ndel, ins[nins]) and
 * the index with group `drop` removed (SIZE_MAX: none) and `add` appended
 * (when append). */
static size_t
edit_write(uint8_t *dst, const uint8_t *p, size_t len, size_t stride,
        size_t off, size_t ndel, const struct pack_elem *ins, size_t nins,
        size_t drop, bool append, uint32_t add)
{
    size_t g = ipack_groups(p, len, stride);
    size_t plen = len - IPACK_HASH_SIZE * g;
    size_t w = pack_splice_write(dst, p, plen, off, ndel, ins, nins);
    const uint8_t *t = p + plen;
    if (drop == SIZE_MAX) {
        memcpy(dst + w, t, IPACK_HASH_SIZE * g);
        w += IPACK_HASH_SIZE * g;
    } else {
        ASSERT(drop < g);
        memcpy(dst + w, t, IPACK_HASH_SIZE * drop);
        w += IPACK_HASH_SIZE * drop;
        size_t rest = g - drop - 1;
        memcpy(dst + w, t + IPACK_HASH_SIZE * (drop + 1),
                IPACK_HASH_SIZE * rest);
        w += IPACK_HASH_SIZE * rest;
    }
    if (append) {
        w += ipack_hash_write(dst + w, add);
    }
    return w;
}

size_t
ipack_append_size(
        const uint8_t *p, size_t len, size_t stride, const struct pack_elem *g)
{
    size_t plen = ipack_pack_len(p, len, stride);
    return pack_splice_size(p, plen, plen, 0, g, stride) + (len - plen) +
           IPACK_HASH_SIZE;
}

size_t
ipack_append_write(uint8_t *dst, const uint8_t *p, size_t len, size_t stride,
        const struct pack_elem *g, uint32_t h)
{
    size_t plen = ipack_pack_len(p, len, stride);
    return edit_write(
            dst, p, len, stride, plen, 0, g, stride, SIZE_MAX, true, h);
}

size_t
ipack_replace_size(const uint8_t *p, size_t len, size_t stride,
        const struct pack_pos *pos, size_t k, size_t elen)
{
    ASSERT(k > 0 && k < stride);
    size_t plen = ipack_pack_len(p, len, stride);
    size_t off = pos->off;
    for (size_t j = 0; j < k; j++) {
        off += elem_skip(p + off);
    }
    return pack_replace_size(p, plen, off, elen) + (len - plen);
}

size_t
ipack_replace_write(uint8_t *dst, const uint8_t *p, size_t len, size_t stride,
        const struct pack_pos *pos, size_t k, const void *elem, size_t elen)
{
    ASSERT(k > 0 && k < stride);
    size_t off = pos->off;
    for (size_t j = 0; j < k; j++) {
        off += elem_skip(p + off);
    }
    struct pack_elem e = {elem, elen};
    return edit_write(dst, p, len, stride, off, 1, &e, 1, SIZE_MAX, false, 0);
}

size_t
ipack_delete_size(
        const uint8_t *p, size_t len, size_t stride, const struct pack_pos *pos)
{
    size_t plen = ipack_pack_len(p, len, stride);
    return pack_delete_size(p, plen, pos->off, stride) + (len - plen) -
           IPACK_HASH_SIZE;
}

size_t
ipack_delete_write(uint8_t *dst, const uint8_t *p, size_t len, size_t stride,
        const struct pack_pos *pos)
{
    ASSERT(pos->index % stride == 0);
    return edit_write(dst, p, len, stride, pos->off, stride, NULL, 0,
            pos->index / stride, false, 0);
}

/* Walks the groups; with dst NULL only counts. Returns the bytes the kept
 * groups take in the pack (without its head) and their number in *kept. */
static size_t
filter_walk(uint8_t *dst, const uint8_t *p, size_t len, size_t stride,
        ipack_keep_fn *keep, void *arg, size_t *kept)
{
    uint64_t count;
    size_t off = types_varint_read(p, &count);
    size_t g = (size_t)count / stride;
    size_t plen = len - IPACK_HASH_SIZE * g;
    const uint8_t *t = p + plen;
    size_t bytes = 0;
    *kept = 0;
    for (size_t i = 0; i < g; i++) {
        size_t end = off;
        for (size_t j = 0; j < stride; j++) {
            end += elem_skip(p + end);
        }
        if (keep(to_le32(raw32(t + IPACK_HASH_SIZE * i)), arg)) {
            if (dst != NULL) {
                memcpy(dst + bytes, p + off, end - off);
            }
            bytes += end - off;
            (*kept)++;
        }
        off = end;
    }
    return bytes;
}

size_t
ipack_filter_size(const uint8_t *p, size_t len, size_t stride,
        ipack_keep_fn *keep, void *arg)
{
    size_t kept;
    size_t bytes = filter_walk(NULL, p, len, stride, keep, arg, &kept);
    return pack_head_size(kept * stride) + bytes + IPACK_HASH_SIZE * kept;
}

size_t
ipack_filter_write(uint8_t *dst, const uint8_t *p, size_t len, size_t stride,
        ipack_keep_fn *keep, void *arg)
{
    /* the head's size depends on the kept count: count first (pack.c) */
    size_t kept;
    filter_walk(NULL, p, len, stride, keep, arg, &kept);
    size_t w = pack_head_write(dst, kept * stride);
    size_t kept2;
    w += filter_walk(dst + w, p, len, stride, keep, arg, &kept2);
    ASSERT(kept2 == kept);
    size_t plen = ipack_pack_len(p, len, stride);
    const uint8_t *t = p + plen;
    for (size_t i = 0; i < (len - plen) / IPACK_HASH_SIZE; i++) {
        uint32_t h = to_le32(raw32(t + IPACK_HASH_SIZE * i));
        if (keep(h, arg)) {
            w += ipack_hash_write(dst + w, h);
        }
    }
    return w;
}

/* One walk, each group to side 0 (keep) or 1. With dst: its elements to
 * dst[side] at at[side], its index entry at at[2 + side], cursors that
 * advance. bytes[] (the groups' element bytes) and groups[] add up. */
static void
split_walk(uint8_t *const *dst, size_t at[4], const uint8_t *p, size_t len,
        size_t stride, ipack_keep_fn *keep, void *arg, size_t bytes[2],
        size_t groups[2])
{
    uint64_t count;
    size_t off = types_varint_read(p, &count);
    size_t g = (size_t)count / stride;
    const uint8_t *t = p + len - IPACK_HASH_SIZE * g;
    for (size_t i = 0; i < g; i++) {
        size_t end = off;
        for (size_t j = 0; j < stride; j++) {
            end += elem_skip(p + end);
        }
        uint32_t h = to_le32(raw32(t + IPACK_HASH_SIZE * i));
        int side = keep(h, arg) ? 0 : 1;
        if (dst != NULL) {
            memcpy(dst[side] + at[side], p + off, end - off);
            at[side] += end - off;
            at[2 + side] += ipack_hash_write(dst[side] + at[2 + side], h);
        }
        bytes[side] += end - off;
        groups[side]++;
        off = end;
    }
}

void
ipack_split_size(const uint8_t *p, size_t len, size_t stride,
        ipack_keep_fn *keep, void *arg, struct ipack_split *s)
{
    size_t bytes[2] = {0, 0};
    s->groups[0] = s->groups[1] = 0;
    split_walk(NULL, NULL, p, len, stride, keep, arg, bytes, s->groups);
    for (int k = 0; k < 2; k++) {
        s->len[k] = pack_head_size(s->groups[k] * stride) + bytes[k] +
                    IPACK_HASH_SIZE * s->groups[k];
    }
}

void
ipack_split_write(uint8_t *const dst[2], const uint8_t *p, size_t len,
        size_t stride, ipack_keep_fn *keep, void *arg,
        const struct ipack_split *s)
{
    size_t at[4], bytes[2] = {0, 0}, groups[2] = {0, 0};
    for (int k = 0; k < 2; k++) {
        at[k] = pack_head_write(dst[k], s->groups[k] * stride);
        at[2 + k] = s->len[k] - IPACK_HASH_SIZE * s->groups[k];
    }
    split_walk(dst, at, p, len, stride, keep, arg, bytes, groups);
    ASSERT(groups[0] == s->groups[0] && groups[1] == s->groups[1]);
    ASSERT(at[2] == s->len[0] && at[3] == s->len[1]);
    ASSERT(at[0] == s->len[0] - IPACK_HASH_SIZE * s->groups[0]);
}
