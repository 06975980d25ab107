/* SPDX-License-Identifier: Apache-2.0 */
/* intset: sorted int64 at the smallest common width; layout in intset.h. */
#include "types/intset.h"

#include "base/util.h"
#include "types/types.h"

#include <string.h>

/* Narrowest width that holds v. */
static size_t
width_of(int64_t v)
{
    if (v >= INT16_MIN && v <= INT16_MAX) {
        return 2;
    }
    if (v >= INT32_MIN && v <= INT32_MAX) {
        return 4;
    }
    return 8;
}

/* Little-endian two's complement, byte by byte: no alignment, no host
 * byte order. */
static int64_t
value_read(const uint8_t *q, size_t width)
{
    uint64_t u = 0;
    for (size_t i = 0; i < width; i++) {
        u |= (uint64_t)q[i] << (8 * i);
    }
    if (width < 8 && (u >> (8 * width - 1)) != 0) {
        u |= ~0ULL << (8 * width); /* sign-extend */
    }
    return (int64_t)u;
}

static void
value_write(uint8_t *q, size_t width, int64_t v)
{
    uint64_t u = (uint64_t)v;
    for (size_t i = 0; i < width; i++) {
        q[i] = (uint8_t)(u >> (8 * i));
    }
}

/* The head: width, count, and where the values start. */
struct head {
    size_t width;
    size_t count;
    size_t off;
};

static struct head
head_read(const uint8_t *p)
{
    uint64_t count;
    size_t n = types_varint_read(p + 1, &count);
    return (struct head){p[0], (size_t)count, 1 + n};
}

bool
intset_valid(const uint8_t *p, size_t len)
{
    if (len < INTSET_EMPTY_SIZE || (p[0] != 2 && p[0] != 4 && p[0] != 8)) {
        return false;
    }
    size_t width = p[0];
    uint64_t count;
    size_t n = types_varint_read_checked(p + 1, len - 1, &count);
    if (n == 0 || count > (len - 1 - n) / width ||
            1 + n + count * width != len) {
        return false;
    }
    const uint8_t *q = p + 1 + n;
    for (uint64_t i = 1; i < count; i++) {
        if (value_read(q + (i - 1) * width, width) >=
                value_read(q + i * width, width)) {
            return false;
        }
    }
    return true;
}

size_t
intset_init(uint8_t *dst)
{
    dst[0] = 2;
    dst[1] = 0;
    return INTSET_EMPTY_SIZE;
}

size_t
intset_count(const uint8_t *p, size_t len)
{
    (void)len;
    return head_read(p).count;
}

size_t
intset_width(const uint8_t *p, size_t len)
{
    (void)len;
    return p[0];
}

int64_t
intset_at(const uint8_t *p, size_t len, size_t i)
{
    struct head h = head_read(p);
    ASSERT(i < h.count);
    ASSERT(h.off + h.count * h.width == len);
    (void)len;
    return value_read(p + h.off + i * h.width, h.width);
}

bool
intset_find(const uint8_t *p, size_t len, int64_t v, size_t *index)
{
    struct head h = head_read(p);
    (void)len;
    size_t lo = 0, hi = h.count; /* v is in [lo, hi) if anywhere */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int64_t x = value_read(p + h.off + mid * h.width, h.width);
        if (x == v) {
            if (index != NULL) {
                *index = mid;
            }
            return true;
        }
        if (x < v) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if (index != NULL) {
        *index = lo;
    }
    return false;
}

size_t
intset_add_size(const uint8_t *p, size_t len, int64_t v)
{
    struct head h = head_read(p);
    ASSERT(!intset_find(p, len, v, NULL));
    (void)len;
    size_t width = size_max(h.width, width_of(v));
    return 1 + types_varint_size(h.count + 1) + (h.count + 1) * width;
}

size_t
intset_add_write(uint8_t *dst, const uint8_t *p, size_t len, int64_t v)
{
    struct head h = head_read(p);
    size_t at;
    bool found = intset_find(p, len, v, &at);
    ASSERT(!found);
    (void)found;
    size_t width = size_max(h.width, width_of(v));
    dst[0] = (uint8_t)width;
    size_t w = 1 + types_varint_write(dst + 1, h.count + 1);
    const uint8_t *q = p + h.off;
    if (width == h.width) {
        /* same width: two copies around the new value */
        memcpy(dst + w, q, at * width);
        value_write(dst + w + at * width, width, v);
        memcpy(dst + w + (at + 1) * width, q + at * width,
                (h.count - at) * width);
    } else {
        /* upgrade: every value rewritten wider, v at its place */
        uint8_t *out = dst + w;
        for (size_t i = 0; i < h.count; i++) {
            if (i == at) {
                value_write(out, width, v);
                out += width;
            }
            value_write(out, width, value_read(q + i * h.width, h.width));
            out += width;
        }
        if (at == h.count) {
            value_write(out, width, v);
        }
    }
    return w + (h.count + 1) * width;
}

size_t
intset_remove_size(const uint8_t *p, size_t len, int64_t v)
{
    struct head h = head_read(p);
    ASSERT(intset_find(p, len, v, NULL));
    (void)len;
    (void)v;
    return 1 + types_varint_size(h.count - 1) + (h.count - 1) * h.width;
}

size_t
intset_remove_write(uint8_t *dst, const uint8_t *p, size_t len, int64_t v)
{
    struct head h = head_read(p);
    size_t at;
    bool found = intset_find(p, len, v, &at);
    ASSERT(found);
    (void)found;
    dst[0] = (uint8_t)h.width;
    size_t w = 1 + types_varint_write(dst + 1, h.count - 1);
    const uint8_t *q = p + h.off;
    memcpy(dst + w, q, at * h.width);
    memcpy(dst + w + at * h.width, q + (at + 1) * h.width,
            (h.count - at - 1) * h.width);
    return w + (h.count - 1) * h.width;
}

void
intset_iter_init(struct intset_iter *it, const uint8_t *p, size_t len)
{
    struct head h = head_read(p);
    (void)len;
    it->next = p + h.off;
    it->left = h.count;
    it->width = (uint8_t)h.width;
}

bool
intset_next(struct intset_iter *it, int64_t *v)
{
    if (it->left == 0) {
        return false;
    }
    *v = value_read(it->next, it->width);
    it->next += it->width;
    it->left--;
    return true;
}

bool
intset_parse(const void *s, size_t len, int64_t *v)
{
    const uint8_t *c = s;
    if (len == 0 || len > INTSET_FMT_MAX) {
        return false;
    }
    if (len == 1 && c[0] == '0') {
        *v = 0;
        return true;
    }
    bool negative = c[0] == '-';
    size_t i = negative ? 1 : 0;
    if (i == len || c[i] < '1' || c[i] > '9') {
        return false; /* "-", "-0", leading zeros, '+', spaces */
    }
    uint64_t u = 0;
    for (; i < len; i++) {
        if (c[i] < '0' || c[i] > '9') {
            return false;
        }
        uint64_t d = (uint64_t)(c[i] - '0');
        if (u > (UINT64_MAX - d) / 10) {
            return false;
        }
        u = u * 10 + d;
    }
    if (negative) {
        if (u > (uint64_t)INT64_MAX + 1) {
            return false;
        }
        *v = u == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)u;
    } else {
        if (u > (uint64_t)INT64_MAX) {
            return false;
        }
        *v = (int64_t)u;
    }
    return true;
}

size_t
intset_fmt(int64_t v, char *buf)
{
    /* magnitude as unsigned, so INT64_MIN needs no special case */
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    char tmp[INTSET_FMT_MAX];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u > 0);
    size_t w = 0;
    if (v < 0) {
        buf[w++] = '-';
    }
    while (n > 0) {
        buf[w++] = tmp[--n];
    }
    return w;
}
