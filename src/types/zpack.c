/* SPDX-License-Identifier: Apache-2.0 */
/* zpack: sorted sets as a pack of member, score pairs (zpack.h). */
#include "types/zpack.h"

#include <math.h>
#include <string.h>

void
zpack_score_put(uint8_t out[ZPACK_SCORE_LEN], double score)
{
    if (score == 0) {
        score = 0; /* -0 and 0 are one score */
    }
    uint64_t b;
    memcpy(&b, &score, sizeof(b));
    b = (b >> 63) ? ~b : b | (1ULL << 63);
    for (int i = 0; i < ZPACK_SCORE_LEN; i++) {
        out[i] = (uint8_t)(b >> (56 - 8 * i));
    }
}

double
zpack_score_get(const uint8_t in[ZPACK_SCORE_LEN])
{
    uint64_t b = 0;
    for (int i = 0; i < ZPACK_SCORE_LEN; i++) {
        b = b << 8 | in[i];
    }
    b = (b >> 63) ? b & ~(1ULL << 63) : ~b;
    double d;
    memcpy(&d, &b, sizeof(d));
    return d;
}

int
zpack_member_cmp(const void *m1, size_t l1, const void *m2, size_t l2)
{
    size_t n = l1 < l2 ? l1 : l2;
    int c = n > 0 ? memcmp(m1, m2, n) : 0;
    if (c != 0) {
        return c;
    }
    return l1 < l2 ? -1 : l1 > l2 ? 1 : 0;
}

int
zpack_cmp(double s1, const void *m1, size_t l1, double s2, const void *m2,
        size_t l2)
{
    if (s1 < s2) {
        return -1;
    }
    if (s1 > s2) {
        return 1;
    }
    return zpack_member_cmp(m1, l1, m2, l2);
}

bool
zpack_valid(const uint8_t *p, size_t len)
{
    if (!pack_valid(p, len) || pack_count(p, len) % 2 != 0 ||
            !pack_unique(p, len, 2)) {
        return false;
    }
    struct pack_iter it;
    struct pack_elem m, s, pm = {NULL, 0};
    double prev = 0;
    bool first = true;
    pack_iter_init(&it, p, len);
    while (pack_next(&it, &m)) {
        pack_next(&it, &s);
        if (s.len != ZPACK_SCORE_LEN) {
            return false;
        }
        double d = zpack_score_get(s.p);
        uint8_t canon[ZPACK_SCORE_LEN];
        zpack_score_put(canon, d);
        if (isnan(d) || memcmp(canon, s.p, ZPACK_SCORE_LEN) != 0) {
            return false;
        }
        if (!first && zpack_cmp(prev, pm.p, pm.len, d, m.p, m.len) >= 0) {
            return false;
        }
        first = false;
        prev = d;
        pm = m;
    }
    return true;
}

size_t
zpack_count(const uint8_t *p, size_t len)
{
    return pack_count(p, len) / 2;
}

void
zpack_decode(const uint8_t *p, size_t len, struct zpack_ent *out)
{
    struct pack_iter it;
    struct pack_elem m, s;
    size_t i = 0;
    pack_iter_init(&it, p, len);
    while (pack_next(&it, &m)) {
        pack_next(&it, &s);
        out[i].m = m.p;
        out[i].mlen = m.len;
        out[i].score = zpack_score_get(s.p);
        i++;
    }
}

long
zpack_find(const struct zpack_ent *e, size_t n, const void *m, size_t mlen)
{
    for (size_t i = 0; i < n; i++) {
        if (e[i].mlen == mlen && (mlen == 0 || memcmp(e[i].m, m, mlen) == 0)) {
            return (long)i;
        }
    }
    return -1;
}

size_t
zpack_lower_bound(const struct zpack_ent *e, size_t n, double score,
        const void *m, size_t mlen)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (zpack_cmp(e[mid].score, e[mid].m, e[mid].mlen, score, m, mlen) <
                0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

size_t
zpack_size(const struct zpack_ent *e, size_t n)
{
    size_t sz = pack_head_size(2 * n);
    for (size_t i = 0; i < n; i++) {
        sz += pack_elem_size(e[i].mlen) + pack_elem_size(ZPACK_SCORE_LEN);
    }
    return sz;
}

size_t
zpack_write(uint8_t *dst, const struct zpack_ent *e, size_t n)
{
    size_t off = pack_head_write(dst, 2 * n);
    for (size_t i = 0; i < n; i++) {
        uint8_t s[ZPACK_SCORE_LEN];
        zpack_score_put(s, e[i].score);
        off += pack_elem_write(dst + off, e[i].m, e[i].mlen);
        off += pack_elem_write(dst + off, s, ZPACK_SCORE_LEN);
    }
    return off;
}
