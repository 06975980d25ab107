/* SPDX-License-Identifier: Apache-2.0 */
/* Item codec. Items are packed byte by byte in segment data, no alignment
 * (with the default 1 MiB segments), so every multi-byte field is a varint
 * and nothing is read through a cast:
 *
 *   +0  flags    db (bits 0-3) | EXP | CFLAGS | STALE | TYPED  immutable
 *   +1  mflags   FETCHED | WIN (atomic, set later) | CAS (immutable)
 *   +2  atime    minutes since the segment was created     atomic byte
 *   +3  klen     LEB128 varint
 *       vlen     LEB128 varint
 *      [cas]     zigzag varint of (cas - the segment's CAS base), if CAS
 *      [expiry]  zigzag varint of (expiry - segment exp_base), if EXP
 *      [cflags]  LEB128 varint, if CFLAGS (client flags not 0)
 *      [type]    one byte, if TYPED: storage type (bits 0-3), PARTS, PART
 *       key bytes, value bytes
 *
 * An item's CAS is where it was written: (the segment's opening sequence
 * << 20) | (offset in units), seg_cas_at(). Unique while the item lives
 * (a segment's sequence is never reused), so an item written by a client
 * carries no CAS bytes. A copy (merge, compaction, touch) and a CAS the
 * client chose (meta E) keep theirs: the CAS bit, and the bytes after the
 * lengths. A flush hides the items whose age is below its threshold: the
 * CAS, but for a CAS the client chose (the ECAS bit) where the item was
 * written, so a chosen CAS neither hides an item nor keeps one. A 16-byte key
 * with a 32-byte value and no expiry takes 5 header bytes. Bytes 1 and 2 are
 * the only ones written after an item is published, and only with atomic OR and
 * byte stores that leave the CAS bit as it was; everything else is immutable,
 * so readers never see a torn item. */
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

uint32_t
item_hdr_len(const struct item_meta *m, uint64_t cas_at, uint64_t exp_base)
{
    uint32_t n = 3 + varint_len(m->klen) + varint_len(m->vlen);
    if (m->cas != 0) {
        n += varint_len(zigzag(m->cas, cas_at & ~OFF_MASK));
    }
    if (m->expiry != 0) {
        n += varint_len(zigzag(m->expiry, exp_base));
    }
    if (m->cflags != 0) {
        n += varint_len(m->cflags);
    }
    return n + (m->type != 0);
}

uint32_t
item_encode(uint8_t *dst, const struct item_meta *m, uint64_t cas_at,
        uint64_t exp_base, uint8_t mflags, uint8_t atime)
{
    uint8_t flags = (uint8_t)((m->db & DB_MASK) | (m->flags & ITEM_F_STALE));
    ASSERT(m->type == 0 || (m->cflags == 0 && (flags & ITEM_F_STALE) == 0));
    if (m->type != 0) {
        flags |= ITEM_F_TYPED;
    }
    if (m->expiry != 0) {
        flags |= ITEM_F_EXP;
    }
    if (m->cflags != 0) {
        flags |= ITEM_F_CFLAGS;
    }
    dst[0] = flags;
    dst[1] = (uint8_t)((mflags & ITEM_M_MUTABLE) |
                       (m->cas != 0 ? ITEM_M_CAS : 0) |
                       (m->cas != 0 && m->ecas ? ITEM_M_ECAS : 0));
    dst[2] = atime;
    uint32_t n = 3;
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
    if (m->type != 0) {
        dst[n++] = m->type;
    }
    return n;
}

bool
item_decode(const uint8_t *p, uint64_t cas_at, uint64_t exp_base,
        struct item_meta *m)
{
    uint8_t flags = p[0];
    if (flags == ITEM_END) {
        return false;
    }
    uint64_t v;
    uint32_t n = 3;
    m->flags = flags;
    m->db = flags & DB_MASK;
    n += varint_get(p + n, &v);
    m->klen = (uint32_t)v;
    n += varint_get(p + n, &v);
    m->vlen = (uint32_t)v;
    uint8_t mflags = __atomic_load_n(p + 1, __ATOMIC_RELAXED);
    m->cas = m->age = cas_at;
    m->ecas = (mflags & ITEM_M_ECAS) != 0;
    if (mflags & ITEM_M_CAS) {
        n += varint_get(p + n, &v);
        m->cas = unzigzag(v, cas_at & ~OFF_MASK);
        m->age = m->ecas ? cas_at : m->cas;
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
    if (flags & ITEM_F_TYPED) {
        m->type = p[n++];
        if (m->type & ITEM_T_PART) {
            m->db |= STORAGE_DB_PARTS;
        }
    }
    m->hdr_len = n;
    return true;
}

uint8_t
item_mflags(const uint8_t *item)
{
    return __atomic_load_n(item + 1, __ATOMIC_RELAXED);
}

uint8_t
item_atime(const uint8_t *item)
{
    return __atomic_load_n(item + 2, __ATOMIC_RELAXED);
}

uint8_t
item_atime_code(uint64_t ms, const struct seg *s)
{
    if (ms <= s->create_ms) {
        return 0;
    }
    uint64_t min = (ms - s->create_ms) / 60000;
    return min > 255 ? 255 : (uint8_t)min;
}

uint64_t
item_atime_ms(uint8_t atime, const struct seg *s)
{
    return s->create_ms + (uint64_t)atime * 60000;
}

/* Records a read: FETCHED once per item, atime when its minute changes.
 * Both are plain byte stores most of the time skipped, so hot keys read by
 * many threads do not bounce a cache line on every get. */
void
item_touch_access(uint8_t *item, const struct seg *s, uint64_t now)
{
    if ((item_mflags(item) & ITEM_M_FETCHED) == 0) {
        __atomic_fetch_or(item + 1, ITEM_M_FETCHED, __ATOMIC_RELAXED);
    }
    uint8_t code = item_atime_code(now, s);
    if (item_atime(item) != code) {
        __atomic_store_n(item + 2, code, __ATOMIC_RELAXED);
    }
}
