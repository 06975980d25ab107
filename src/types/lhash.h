/* SPDX-License-Identifier: Apache-2.0 */
/* Linear hashing: a large collection is n buckets (each a small image, say
 * a pack), addressed by the element's 64-bit hash (types_hash()), and grows
 * one bucket at a time, so no step rewrites more than one bucket.
 *
 * With L = floor(log2 n):
 *
 *   lhash_bucket(h, n) = h mod 2^(L+1)   if that is < n
 *                        h mod 2^L       otherwise
 *
 * Invariant: every element of bucket b has lhash_bucket(h, n) == b. Buckets
 * 0 .. n - 2^L - 1 and 2^L .. n - 1 are "split" (they use L+1 bits), the
 * rest are not yet (L bits).
 *
 * Growing n -> n + 1 adds bucket n and splits bucket s = n - 2^L
 * (lhash_split_source(n)) into s and n: an element of s moves to n exactly
 * when bit L of its hash is set (lhash_split_moves(h, n)), which is
 * lhash_bucket(h, n + 1) == n; every other bucket keeps its elements. When
 * n + 1 reaches 2^(L+1), every bucket is split and the next round uses one
 * more bit. Shrinking is not supported. n is at least 1. Pure functions. */
#pragma once

#include "base/util.h"

#include <stdbool.h>
#include <stdint.h>

/* floor(log2 n), n >= 1 */
static inline unsigned
lhash_level(uint64_t n)
{
    ASSERT(n >= 1);
    return 63u - (unsigned)__builtin_clzll(n);
}

/* The bucket, of n, that holds an element of hash h. */
static inline uint64_t
lhash_bucket(uint64_t h, uint64_t n)
{
    unsigned level = lhash_level(n);
    /* 2^(L+1) - 1 without shifting by 64 when L is 63 */
    uint64_t mask = (((uint64_t)1 << level) << 1) - 1;
    uint64_t b = h & mask;
    if (b >= n) {
        b = h & (mask >> 1);
    }
    return b;
}

/* The bucket that growing from n to n + 1 buckets splits. */
static inline uint64_t
lhash_split_source(uint64_t n)
{
    return n - ((uint64_t)1 << lhash_level(n));
}

/* For h in bucket lhash_split_source(n): whether growing from n to n + 1
 * buckets moves it to the new bucket n. */
static inline bool
lhash_split_moves(uint64_t h, uint64_t n)
{
    return ((h >> lhash_level(n)) & 1) != 0;
}
