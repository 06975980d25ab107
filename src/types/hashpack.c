/* SPDX-License-Identifier: Apache-2.0 */
/* hashpack: field-value pairs in a pack; rules in hashpack.h. */
#include "types/hashpack.h"

#include "base/util.h"

bool
hashpack_valid(const uint8_t *p, size_t len)
{
    return pack_valid(p, len) && pack_count(p, len) % 2 == 0 &&
           pack_unique(p, len, 2);
}

size_t
hashpack_count(const uint8_t *p, size_t len)
{
    return pack_count(p, len) / 2;
}

bool
hashpack_find(const uint8_t *p, size_t len, const void *f, size_t flen,
        struct pack_pos *pos)
{
    return pack_find(p, len, f, flen, 2, pos);
}

struct pack_elem
hashpack_value_at(const uint8_t *p, size_t len, const struct pack_pos *pos)
{
    struct pack_elem f = pack_at_offset(p, len, pos->off);
    return pack_at_offset(p, len, pos->off + pack_elem_span(f));
}

bool
hashpack_get(const uint8_t *p, size_t len, const void *f, size_t flen,
        struct pack_elem *v)
{
    struct pack_pos pos;
    if (!hashpack_find(p, len, f, flen, &pos)) {
        return false;
    }
    *v = hashpack_value_at(p, len, &pos);
    return true;
}

bool
hashpack_exists(const uint8_t *p, size_t len, const void *f, size_t flen)
{
    struct pack_pos pos;
    return hashpack_find(p, len, f, flen, &pos);
}

size_t
hashpack_strlen(const uint8_t *p, size_t len, const void *f, size_t flen)
{
    struct pack_elem v;
    return hashpack_get(p, len, f, flen, &v) ? v.len : 0;
}

/* A found field (pos->off < len) has its value replaced; a missing one
 * (pos->off == len) is appended with its value. */
size_t
hashpack_set_size(const uint8_t *p, size_t len, const struct pack_pos *pos,
        size_t flen, size_t vlen)
{
    if (pos->off < len) {
        struct pack_elem f = pack_at_offset(p, len, pos->off);
        ASSERT(f.len == flen);
        return pack_replace_size(p, len, pos->off + pack_elem_span(f), vlen);
    }
    struct pack_elem pair[2] = {{NULL, flen}, {NULL, vlen}};
    return pack_splice_size(p, len, len, 0, pair, 2);
}

size_t
hashpack_set_write(uint8_t *dst, const uint8_t *p, size_t len,
        const struct pack_pos *pos, const void *f, size_t flen, const void *v,
        size_t vlen)
{
    if (pos->off < len) {
        struct pack_elem old = pack_at_offset(p, len, pos->off);
        ASSERT(old.len == flen);
        return pack_replace_write(
                dst, p, len, pos->off + pack_elem_span(old), v, vlen);
    }
    struct pack_elem pair[2] = {{f, flen}, {v, vlen}};
    return pack_splice_write(dst, p, len, len, 0, pair, 2);
}

size_t
hashpack_delete_size(const uint8_t *p, size_t len, const struct pack_pos *pos)
{
    ASSERT(pos->off < len);
    return pack_delete_size(p, len, pos->off, 2);
}

size_t
hashpack_delete_write(
        uint8_t *dst, const uint8_t *p, size_t len, const struct pack_pos *pos)
{
    ASSERT(pos->off < len);
    return pack_delete_write(dst, p, len, pos->off, 2);
}

void
hashpack_at(const uint8_t *p, size_t len, size_t i, struct pack_elem *f,
        struct pack_elem *v)
{
    ASSERT(i < hashpack_count(p, len));
    size_t off = pack_offset(p, len, 2 * i);
    *f = pack_at_offset(p, len, off);
    *v = pack_at_offset(p, len, off + pack_elem_span(*f));
}

bool
hashpack_next(struct pack_iter *it, struct pack_elem *f, struct pack_elem *v)
{
    if (!pack_next(it, f)) {
        return false;
    }
    bool more = pack_next(it, v);
    ASSERT(more);
    (void)more;
    return true;
}
