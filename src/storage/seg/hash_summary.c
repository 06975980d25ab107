/* SPDX-License-Identifier: Apache-2.0 */
/* The hash table's occupancy summary: how many chains hold an entry, per
 * 8, 512 and 32768 head buckets, so whole-table reads (SCAN, KEYS,
 * RANDOMKEY) skip empty stretches in a few loads instead of walking a table
 * sized from seg.memory. A full SCAN then costs about what the keys cost,
 * however large and sparse the table.
 *
 *   level 3: u32 per 32768 buckets  [  5 ][  0 ][  0 ][  1 ] ...
 *   level 2: u16 per   512 buckets  [ 3 ][ 0 ]..[ 2 ] (64 per level-3 count)
 *   level 1: u8  per     8 buckets  [1][0]..[2]       (64 per level-2 count)
 *   head buckets:                   b0 b1 .. b7 | b8 ..
 *
 * Each counter is the number of non-empty chains in its range: a chain's
 * first entry adds one to its three counters before the entry is stored,
 * and its last entry's removal subtracts one after, both under the chain's
 * lock. Counters only count, so concurrent updates of one range commute: a
 * counter is never below the number of chains in its range that hold a
 * visible entry. Hence a zero lets a reader skip the range and miss
 * nothing present. About n_bucket / 8 bytes: 1/512 of the table, inside
 * seg.memory (mapped after the bucket locks; kept by the datapool). */
#include "seg_internal.h"

#include <string.h>

/* clang-format off */
#define L1_SHIFT 3  /* 8 buckets */
#define L2_SHIFT 9  /* 512 */
#define L3_SHIFT 15 /* 32768 */
/* clang-format on */

static uint8_t *level1;
static uint16_t *level2;
static uint32_t *level3;

static size_t
groups(uint32_t n_bucket, unsigned shift)
{
    return ((size_t)n_bucket + ((size_t)1 << shift) - 1) >> shift;
}

size_t
hash_summary_size(uint32_t n_bucket)
{
    return size_align(groups(n_bucket, L1_SHIFT), CACHE_LINE) +
           size_align(
                   groups(n_bucket, L2_SHIFT) * sizeof(uint16_t), CACHE_LINE) +
           size_align(
                   groups(n_bucket, L3_SHIFT) * sizeof(uint32_t), CACHE_LINE);
}

void
hash_summary_map(uint8_t *at, uint32_t n_bucket)
{
    level1 = at;
    at += size_align(groups(n_bucket, L1_SHIFT), CACHE_LINE);
    level2 = (uint16_t *)at;
    at += size_align(groups(n_bucket, L2_SHIFT) * sizeof(uint16_t), CACHE_LINE);
    level3 = (uint32_t *)at;
}

void
hash_summary_add(uint32_t b)
{
    __atomic_fetch_add(&level3[b >> L3_SHIFT], 1, __ATOMIC_SEQ_CST);
    __atomic_fetch_add(&level2[b >> L2_SHIFT], 1, __ATOMIC_SEQ_CST);
    __atomic_fetch_add(&level1[b >> L1_SHIFT], 1, __ATOMIC_SEQ_CST);
}

void
hash_summary_sub(uint32_t b)
{
    __atomic_fetch_sub(&level1[b >> L1_SHIFT], 1, __ATOMIC_SEQ_CST);
    __atomic_fetch_sub(&level2[b >> L2_SHIFT], 1, __ATOMIC_SEQ_CST);
    __atomic_fetch_sub(&level3[b >> L3_SHIFT], 1, __ATOMIC_SEQ_CST);
}

/* The first bucket of the range after b's at this level. */
static uint32_t
next_range(uint32_t b, unsigned shift)
{
    return (uint32_t)((((uint64_t)b >> shift) + 1) << shift);
}

uint32_t
hash_summary_next(uint32_t b, uint32_t *budget)
{
    while (b<heap.n_bucket && * budget> 0) {
        (*budget)--;
        if (__atomic_load_n(&level3[b >> L3_SHIFT], __ATOMIC_ACQUIRE) == 0) {
            b = next_range(b, L3_SHIFT);
        } else if (__atomic_load_n(&level2[b >> L2_SHIFT], __ATOMIC_ACQUIRE) ==
                   0) {
            b = next_range(b, L2_SHIFT);
        } else if (__atomic_load_n(&level1[b >> L1_SHIFT], __ATOMIC_ACQUIRE) ==
                   0) {
            b = next_range(b, L1_SHIFT);
        } else {
            return b;
        }
    }
    return b < heap.n_bucket ? b : heap.n_bucket;
}

uint64_t
hash_summary_chains(void)
{
    uint64_t n = 0;
    for (size_t i = 0; i < groups(heap.n_bucket, L3_SHIFT); i++) {
        n += __atomic_load_n(&level3[i], __ATOMIC_RELAXED);
    }
    return n;
}
