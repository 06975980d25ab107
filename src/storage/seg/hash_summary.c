/* SPDX-License-Identifier: Apache-2.0 */
/* The hash table's occupancy summary, one per database: how many entries
 * of that database the chains hold, per 16, 1024 and 65536 head buckets,
 * so whole-table reads of one database (SCAN, KEYS, RANDOMKEY) skip the
 * stretches holding none of its keys in a few loads, instead of walking a
 * table sized from seg.memory or the keys of the other databases. A full
 * SCAN then costs about what that database's keys cost, however large and
 * sparse the table and however full the other databases.
 *
 *   per database d (0..15):
 *   level 3: u32 per 65536 buckets  [  5 ][  0 ][  0 ][  1 ] ...
 *   level 2: u32 per  1024 buckets  [ 3 ][ 0 ]..[ 2 ] (64 per level-3 count)
 *   level 1: u16 per    16 buckets  [1][0]..[2]       (64 per level-2 count)
 *   head buckets:                   b0 b1 .. b15 | b16 ..
 *
 * Each counter is the number of d's entries in the chains of its range: an
 * entry adds one to its three counters before it is stored, and subtracts
 * one after it is removed, both under its chain's lock (entries only move
 * within their chain, so a count never has to follow one). Counters only
 * count, so concurrent updates of one range commute: a counter is never
 * below the number of d's visible entries in its range. Hence a zero lets
 * a reader skip the range and miss nothing present. Collection parts
 * (db | STORAGE_DB_PARTS) are not keys and are counted nowhere. Level 1 is
 * u16: 16 chains hold far fewer than 65536 entries (a chain of that many
 * would need 8192 overflow buckets). About n_bucket / 8 bytes per
 * database, 2 bytes per head bucket in all (1/32 of the table), inside
 * seg.memory (mapped after the bucket locks; kept by the datapool). */
#include "seg_internal.h"

#include <string.h>

/* clang-format off */
#define L1_SHIFT 4  /* 16 buckets */
#define L2_SHIFT 10 /* 1024 */
#define L3_SHIFT 16 /* 65536 */
/* clang-format on */

struct summary {
    uint16_t *level1;
    uint32_t *level2;
    uint32_t *level3;
};

static struct summary sum[STORAGE_DB_COUNT];

static size_t
groups(uint32_t n_bucket, unsigned shift)
{
    return ((size_t)n_bucket + ((size_t)1 << shift) - 1) >> shift;
}

static size_t
level_bytes(uint32_t n_bucket, unsigned shift, size_t width)
{
    return size_align(groups(n_bucket, shift) * width, CACHE_LINE);
}

static size_t
db_size(uint32_t n_bucket)
{
    return level_bytes(n_bucket, L1_SHIFT, sizeof(uint16_t)) +
           level_bytes(n_bucket, L2_SHIFT, sizeof(uint32_t)) +
           level_bytes(n_bucket, L3_SHIFT, sizeof(uint32_t));
}

size_t
hash_summary_size(uint32_t n_bucket)
{
    return db_size(n_bucket) * STORAGE_DB_COUNT;
}

void
hash_summary_map(uint8_t *at, uint32_t n_bucket)
{
    for (int d = 0; d < STORAGE_DB_COUNT; d++) {
        sum[d].level1 = (uint16_t *)at;
        at += level_bytes(n_bucket, L1_SHIFT, sizeof(uint16_t));
        sum[d].level2 = (uint32_t *)at;
        at += level_bytes(n_bucket, L2_SHIFT, sizeof(uint32_t));
        sum[d].level3 = (uint32_t *)at;
        at += level_bytes(n_bucket, L3_SHIFT, sizeof(uint32_t));
    }
}

void
hash_summary_add(uint8_t db, uint32_t b)
{
    if (db >= STORAGE_DB_COUNT) {
        return; /* a collection part: not a key */
    }
    struct summary *s = &sum[db];
    __atomic_fetch_add(&s->level3[b >> L3_SHIFT], 1, __ATOMIC_SEQ_CST);
    __atomic_fetch_add(&s->level2[b >> L2_SHIFT], 1, __ATOMIC_SEQ_CST);
    __atomic_fetch_add(&s->level1[b >> L1_SHIFT], 1, __ATOMIC_SEQ_CST);
}

void
hash_summary_sub(uint8_t db, uint32_t b)
{
    if (db >= STORAGE_DB_COUNT) {
        return;
    }
    struct summary *s = &sum[db];
    __atomic_fetch_sub(&s->level1[b >> L1_SHIFT], 1, __ATOMIC_SEQ_CST);
    __atomic_fetch_sub(&s->level2[b >> L2_SHIFT], 1, __ATOMIC_SEQ_CST);
    __atomic_fetch_sub(&s->level3[b >> L3_SHIFT], 1, __ATOMIC_SEQ_CST);
}

/* The first bucket of the range after b's at this level. */
static uint32_t
next_range(uint32_t b, unsigned shift)
{
    return (uint32_t)((((uint64_t)b >> shift) + 1) << shift);
}

uint32_t
hash_summary_next(uint8_t db, uint32_t b, uint32_t *budget)
{
    if (db >= STORAGE_DB_COUNT) {
        return heap.n_bucket;
    }
    const struct summary *s = &sum[db];
    while (b<heap.n_bucket && * budget> 0) {
        (*budget)--;
        if (__atomic_load_n(&s->level3[b >> L3_SHIFT], __ATOMIC_ACQUIRE) == 0) {
            b = next_range(b, L3_SHIFT);
        } else if (__atomic_load_n(
                           &s->level2[b >> L2_SHIFT], __ATOMIC_ACQUIRE) == 0) {
            b = next_range(b, L2_SHIFT);
        } else if (__atomic_load_n(
                           &s->level1[b >> L1_SHIFT], __ATOMIC_ACQUIRE) == 0) {
            b = next_range(b, L1_SHIFT);
        } else {
            return b;
        }
    }
    return b < heap.n_bucket ? b : heap.n_bucket;
}

uint64_t
hash_summary_entries(uint8_t db)
{
    uint64_t n = 0;
    for (size_t i = 0;
            db < STORAGE_DB_COUNT && i < groups(heap.n_bucket, L3_SHIFT); i++) {
        n += __atomic_load_n(&sum[db].level3[i], __ATOMIC_RELAXED);
    }
    return n;
}

uint64_t
hash_summary_range(uint8_t db, uint32_t b)
{
    if (db >= STORAGE_DB_COUNT || b >= heap.n_bucket) {
        return 0;
    }
    return __atomic_load_n(&sum[db].level1[b >> L1_SHIFT], __ATOMIC_RELAXED);
}
