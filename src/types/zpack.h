/* SPDX-License-Identifier: Apache-2.0 */
/* zpack: a Redis sorted set as a pack (pack.h) of member, score, member,
 * score ..., ordered by (score, member) as Redis's listpack encoding keeps
 * it. A score is 8 bytes: the IEEE 754 double's bits, big-endian, with the
 * sign bit flipped for positives and every bit flipped for negatives, so
 * that memcmp order is numeric order (-inf < ... < -0 = 0 < ... < inf is
 * kept by canonicalising -0 to 0). NaN is never stored.
 *
 *   {a: 1, b: 2}: 04 01 61 08 bf f0 00 00 00 00 00 00 01 62 08 c0 00 ...
 *
 * An entry costs its member, 8 score bytes and 2 length bytes (listpack:
 * the member, the score as a string or integer, 2 to 4 bytes of headers).
 * Lookups by member are linear; by rank, a walk; by score, a walk too (the
 * images are small: Redis's zset-max-listpack-entries, 128).
 *
 * Commands work on an array of entries (struct zpack_ent) decoded from an
 * image (views into it), and a changed array is written back as a fresh
 * image: zpack_size() then zpack_write(). Same rules as pack.h otherwise.
 * Pure functions: any thread. */
#pragma once

#include "types/pack.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ZPACK_SCORE_LEN 8

struct zpack_ent {
    const uint8_t *m;
    size_t mlen;
    double score;
};

/* The 8 ordered bytes of a score (not NaN; -0 stored as 0). */
void zpack_score_put(uint8_t out[ZPACK_SCORE_LEN], double score);
double zpack_score_get(const uint8_t in[ZPACK_SCORE_LEN]);

/* (score, member) order: negative, 0, positive. */
int zpack_cmp(double s1, const void *m1, size_t l1, double s2, const void *m2,
        size_t l2);
static inline int
zpack_ent_cmp(const struct zpack_ent *a, const struct zpack_ent *b)
{
    return zpack_cmp(a->score, a->m, a->mlen, b->score, b->m, b->mlen);
}
/* memcmp order of members, the shorter first on a tie (Redis's sdscmp). */
int zpack_member_cmp(const void *m1, size_t l1, const void *m2, size_t l2);

/* A pack with an even count, every score 8 bytes and not NaN, entries in
 * strictly ascending (score, member) order and no member twice. */
bool zpack_valid(const uint8_t *p, size_t len);
size_t zpack_count(const uint8_t *p, size_t len);

/* Decodes the n = zpack_count() entries into out[0..n), views into p. */
void zpack_decode(const uint8_t *p, size_t len, struct zpack_ent *out);
/* The member's entry index in a decoded array, or -1 (linear). */
long zpack_find(
        const struct zpack_ent *e, size_t n, const void *m, size_t mlen);
/* Where (score, m) goes in a sorted array: the first index whose entry is
 * not below it (binary search). */
size_t zpack_lower_bound(const struct zpack_ent *e, size_t n, double score,
        const void *m, size_t mlen);

/* The image of e[0..n) (sorted, unique members, no NaN): bytes, then the
 * write (returns the bytes written). */
size_t zpack_size(const struct zpack_ent *e, size_t n);
size_t zpack_write(uint8_t *dst, const struct zpack_ent *e, size_t n);
