/* SPDX-License-Identifier: Apache-2.0 */
/* Item codec. Items are packed byte by byte in segment data, no alignment
 * (with the default 1 MiB segments), so every multi-byte field is a varint
 * and nothing is read through a cast:
 *
 *   +0  flags    db (bits 0-3) | EXP | CFLAGS | CAS | EXT     immutable
 *   +1  access   FETCHED | WIN (atomic OR) | atime << 2 (CAS loop)
 *   +2  klen     LEB128 varint
 *       vlen     LEB128 varint
 *      [cas]     zigzag varint of (cas - the segment's CAS base), if CAS
 *      [expiry]  zigzag varint of (expiry - segment exp_base), if EXP
 *      [cflags]  LEB128 varint, if CFLAGS (client flags not 0)
 *      [ext]     one byte, if EXT: storage type (bits 0-3), PARTS, PART,
 *                STALE, ECAS
 *       key bytes, value bytes
 *
 * An item's CAS is where it was written: (the segment's opening sequence
 * << 20) | (offset in units), seg_cas_at(). Unique while the item lives
 * (a segment's sequence is never reused), so an item written by a client
 * carries no CAS bytes. A copy (merge, compaction, touch) and a CAS the
 * client chose (meta E) keep theirs: the CAS bit, and the bytes after the
 * lengths. A flush hides the items whose age is below its threshold: the
 * CAS, but for a CAS the client chose (ECAS) where the item was written, so
 * a chosen CAS neither hides an item nor keeps one.
 *
 * The access time is minutes since the segment's atime_base (its creation
 * rounded down to 7 minutes), in 6 bits: exact to 31 minutes, then in
 * 7-minute steps to 4 h 9 min (item_atime_code). Bases on the 7-minute grid
 * keep a moved item's time on the steps it was on: a move loses at most
 * the minutes of one step, once. A 16-byte key with a 32-byte value, no expiry,
 * no client flags, takes 4 header bytes. Byte 1 is the only one written after
 * an item is published, with atomic operations; everything else is
 * immutable, so readers never see a torn item. Every byte value may start
 * an item: a segment's items end at its write offset or at its tail (where
 * the reservation that did not fit started), not at a marker. */
#include "seg_internal.h"

#include <string.h>

static uint32_t
varint_len(uint64_t v)
{
    uint32_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static uint32_t
varint_put(uint8_t *p, uint64_t v)
{
    uint32_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

static uint32_t
varint_get(const uint8_t *p, uint64_t *v)
{
    uint64_t r = 0;
    uint32_t n = 0;
    unsigned shift = 0;
    for (;;) {
        uint8_t b = p[n++];
        r |= (uint64_t)(b & 0x7f) << shift;
        if ((b & 0x80) == 0 || n == 10) {
            break;
        }
        shift += 7;
    }
    *v = r;
    return n;
}

static uint64_t
zigzag(uint64_t v, uint64_t base)
{
    int64_t d = (int64_t)(v - base);
    return ((uint64_t)d << 1) ^ (uint64_t)(d >> 63);
}

static uint64_t
unzigzag(uint64_t z, uint64_t base)
{
    uint64_t d = (z >> 1) ^ (0 - (z & 1));
    return base + d;
}

static bool
has_ext(const struct item_meta *m)
{
    return m->type != 0 || (m->flags & ITEM_F_STALE) ||
           (m->cas != 0 && m->ecas);
}

uint32_t
item_hdr_len(const struct item_meta *m, uint64_t cas_at, uint64_t exp_base)
{
    uint32_t n = 2 + varint_len(m->klen) + varint_len(m->vlen);
    if (m->cas != 0) {
        n += varint_len(zigzag(m->cas, cas_at & ~OFF_MASK));
    }
    if (m->expiry != 0) {
        n += varint_len(zigzag(m->expiry, exp_base));
    }
    if (m->cflags != 0) {
        n += varint_len(m->cflags);
    }
    return n + has_ext(m);
}

uint32_t
item_encode(uint8_t *dst, const struct item_meta *m, uint64_t cas_at,
        uint64_t exp_base, uint8_t mflags, uint8_t atime)
{
    ASSERT(m->type == 0 || (m->cflags == 0 && !(m->flags & ITEM_F_STALE)));
    ASSERT(atime <= ITEM_ATIME_MAX);
    bool ext = has_ext(m);
    uint8_t flags = (uint8_t)(m->db & DB_MASK);
    if (m->expiry != 0) {
        flags |= ITEM_F_EXP;
    }
    if (m->cflags != 0) {
        flags |= ITEM_F_CFLAGS;
    }
    if (m->cas != 0) {
        flags |= ITEM_F_CAS;
    }
    if (ext) {
        flags |= ITEM_F_EXT;
    }
    dst[0] = flags;
    dst[1] = (uint8_t)((mflags & ITEM_M_MUTABLE) | (atime << ITEM_ATIME_SHIFT));
    uint32_t n = 2;
    n += varint_put(dst + n, m->klen);
    n += varint_put(dst + n, m->vlen);
    if (m->cas != 0) {
        n += varint_put(dst + n, zigzag(m->cas, cas_at & ~OFF_MASK));
    }
    if (m->expiry != 0) {
        n += varint_put(dst + n, zigzag(m->expiry, exp_base));
    }
    if (m->cflags != 0) {
        n += varint_put(dst + n, m->cflags);
    }
    if (ext) {
        dst[n++] = (uint8_t)((m->type & (ITEM_T_TYPE | ITEM_T_PARTS |
                                                ITEM_T_PART)) |
                             ((m->flags & ITEM_F_STALE) ? ITEM_X_STALE : 0) |
                             (m->cas != 0 && m->ecas ? ITEM_X_ECAS : 0));
    }
    return n;
}

void
item_decode(const uint8_t *p, uint64_t cas_at, uint64_t exp_base,
        struct item_meta *m)
{
    uint8_t flags = p[0];
    uint64_t v;
    uint32_t n = 2;
    m->flags = 0;
    m->db = flags & DB_MASK;
    n += varint_get(p + n, &v);
    m->klen = (uint32_t)v;
    n += varint_get(p + n, &v);
    m->vlen = (uint32_t)v;
    m->cas = cas_at;
    if (flags & ITEM_F_CAS) {
        n += varint_get(p + n, &v);
        m->cas = unzigzag(v, cas_at & ~OFF_MASK);
    }
    m->expiry = 0;
    if (flags & ITEM_F_EXP) {
        n += varint_get(p + n, &v);
        m->expiry = unzigzag(v, exp_base);
    }
    m->cflags = 0;
    if (flags & ITEM_F_CFLAGS) {
        n += varint_get(p + n, &v);
        m->cflags = (uint32_t)v;
    }
    m->type = 0;
    m->ecas = false;
    if (flags & ITEM_F_EXT) {
        uint8_t x = p[n++];
        m->type = x & (ITEM_T_TYPE | ITEM_T_PARTS | ITEM_T_PART);
        m->flags = (x & ITEM_X_STALE) ? ITEM_F_STALE : 0;
        m->ecas = (x & ITEM_X_ECAS) != 0;
        if (m->type & ITEM_T_PART) {
            m->db |= STORAGE_DB_PARTS;
        }
    }
    m->age = m->ecas ? cas_at : m->cas;
    m->hdr_len = n;
}

uint8_t
item_mflags(const uint8_t *item)
{
    return __atomic_load_n(item + 1, __ATOMIC_RELAXED) & ITEM_M_MUTABLE;
}

uint8_t
item_atime(const uint8_t *item)
{
    return __atomic_load_n(item + 1, __ATOMIC_RELAXED) >> ITEM_ATIME_SHIFT;
}

/* Minutes since the segment was created in 6 bits: 0-31 exact, then
 * 7-minute steps (rounded down: an item looks older, never newer) to 249
 * minutes, where it saturates. */
uint8_t
item_atime_code(uint64_t ms, const struct seg *s)
{
    if (ms <= s->atime_base) {
        return 0;
    }
    uint64_t min = (ms - s->atime_base) / 60000;
    if (min < 32) {
        return (uint8_t)min;
    }
    uint64_t c = 32 + (min - 32) / 7;
    return c > ITEM_ATIME_MAX ? ITEM_ATIME_MAX : (uint8_t)c;
}

uint64_t
item_atime_ms(uint8_t atime, const struct seg *s)
{
    uint64_t min = atime < 32 ? atime : 32 + (uint64_t)(atime - 32) * 7;
    return s->atime_base + min * 60000;
}

/* Records a read: FETCHED once per item, atime when its code changes.
 * Both are atomic updates of byte 1 most of the time skipped, so hot keys
 * read by many threads do not bounce a cache line on every get. */
void
item_touch_access(uint8_t *item, const struct seg *s, uint64_t now)
{
    if ((item_mflags(item) & ITEM_M_FETCHED) == 0) {
        __atomic_fetch_or(item + 1, ITEM_M_FETCHED, __ATOMIC_RELAXED);
    }
    uint8_t code = item_atime_code(now, s);
    uint8_t cur = __atomic_load_n(item + 1, __ATOMIC_RELAXED);
    while ((cur >> ITEM_ATIME_SHIFT) != code &&
            !__atomic_compare_exchange_n(item + 1, &cur,
                    (uint8_t)((cur & ITEM_M_MUTABLE) |
                              (code << ITEM_ATIME_SHIFT)),
                    true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
}
