/* SPDX-License-Identifier: Apache-2.0 */
/* The segment store: options, metrics, setup and introspection. The data
 * operations are the storage API in storage/storage.h. */
#pragma once

#include "base/metric.h"
#include "base/option.h"
#include "base/status.h"
#include "base/util.h"

#include <stddef.h>
#include <stdint.h>

/* clang-format off */
/*          name                  type             default      description */
#define SEG_OPTION(ACTION)                                                    \
    ACTION( seg_memory,           OPTION_SIZE,     (64 * MiB),                \
            "bytes for segments, hash table and metadata together"          ) \
    ACTION( seg_segment_size,     OPTION_SIZE,     (1 * MiB),                 \
            "bytes per segment (64KiB..8MiB, a multiple of 4KiB); bounds the largest item"      ) \
    ACTION( seg_hash_power,       OPTION_UINT,     0,                         \
            "log2 of hash slots (7..34); 0 sizes the table from memory/item_size"   ) \
    ACTION( seg_item_size,        OPTION_SIZE,     160,                       \
            "expected key+value bytes, to size the hash table"              ) \
    ACTION( seg_evict,            OPTION_STR,      "merge",                   \
            "eviction: merge fifo random cte util none"                     ) \
    ACTION( seg_merge_segments,   OPTION_UINT,     4,                         \
            "segments merged into one by merge eviction (2..16)"            ) \
    ACTION( seg_reserve,          OPTION_UINT,     0,                         \
            "free segments kept ahead of demand; 0 = auto"                  ) \
    ACTION( seg_open_max,         OPTION_UINT,     0,                         \
            "segments open for writing at once; 0 = auto (1/8 of all)"      ) \
    ACTION( seg_background,       OPTION_BOOL,     true,                      \
            "run the expiration / reserve thread"                           ) \
    ACTION( seg_expire_interval,  OPTION_DURATION, 100,                       \
            "background thread period"                                 ) \
    ACTION( seg_datapool,         OPTION_STR,      "",                        \
            "file holding the store, kept across a clean restart (on tmpfs, e.g. /dev/shm/segcached.pool); empty: memory only" )

/*          name                   type            description */
#define SEG_METRIC(ACTION)                                                    \
    ACTION( seg_item_curr,         METRIC_GAUGE,   "# items linked"         ) \
    ACTION( seg_item_bytes,        METRIC_GAUGE,   "bytes of linked items"  ) \
    ACTION( seg_get,               METRIC_COUNTER, "# lookups"              ) \
    ACTION( seg_get_hit,           METRIC_COUNTER, "# lookups found"        ) \
    ACTION( seg_get_miss,          METRIC_COUNTER, "# lookups missed"       ) \
    ACTION( seg_get_expired,       METRIC_COUNTER, "# lookups that found the item expired" ) \
    ACTION( seg_get_flushed,       METRIC_COUNTER, "# lookups that found the item flushed" ) \
    ACTION( seg_write,             METRIC_COUNTER, "# items written"        ) \
    ACTION( seg_write_ex,          METRIC_COUNTER, "# writes out of memory" ) \
    ACTION( seg_delete,            METRIC_COUNTER, "# items deleted"        ) \
    ACTION( seg_patch,             METRIC_COUNTER, "# roots changed in place" ) \
    ACTION( seg_cas_mismatch,      METRIC_COUNTER, "# CAS checks failed"    ) \
    ACTION( seg_expire_item,       METRIC_COUNTER, "# items expired"        ) \
    ACTION( seg_expire_seg,        METRIC_COUNTER, "# segments expired"     ) \
    ACTION( seg_expire_unfetched,  METRIC_COUNTER, "# items expired in whole segments, never read" ) \
    ACTION( seg_evict_seg,         METRIC_COUNTER, "# segments evicted"     ) \
    ACTION( seg_evict_item,        METRIC_COUNTER, "# live items evicted"   ) \
    ACTION( seg_evict_inline,      METRIC_COUNTER, "# evictions by writers" ) \
    ACTION( seg_evict_ex,          METRIC_COUNTER, "# no segment to evict"  ) \
    ACTION( seg_merge,             METRIC_COUNTER, "# merges"               ) \
    ACTION( seg_merge_keep,        METRIC_COUNTER, "# items kept by merges" ) \
    ACTION( seg_bg_kick,           METRIC_COUNTER, "# times a writer woke the background thread to evict ahead of its tick" ) \
    ACTION( seg_merge_fallback,    METRIC_COUNTER, "# evictions of the oldest segment whole: no merge could start, and none was under way or a writer had waited its bound for one" ) \
    ACTION( seg_merge_narrow,      METRIC_COUNTER, "# merges that would keep nothing, narrowed to their oldest segment" ) \
    ACTION( seg_flush,             METRIC_COUNTER, "# flushes applied"      ) \
    ACTION( seg_flush_item,        METRIC_COUNTER, "# items flushed"        ) \
    ACTION( seg_seg_free,          METRIC_GAUGE,   "# segments free"        ) \
    ACTION( seg_seg_open,          METRIC_GAUGE,   "# segments open"        ) \
    ACTION( seg_seg_limbo,         METRIC_GAUGE,   "# segments retired, awaiting readers" ) \
    ACTION( seg_seg_sealed,        METRIC_GAUGE,   "# segments full, in TTL chains" ) \
    ACTION( seg_hash_overflow,     METRIC_GAUGE,   "# overflow buckets used") \
    ACTION( seg_hash_chain_max,    METRIC_GAUGE,   "longest chain, buckets" ) \
    ACTION( seg_hash_evict,        METRIC_COUNTER, "# items dropped: chain full" ) \
    ACTION( seg_hash_seg,          METRIC_GAUGE,   "# segments lent to the hash table" ) \
    ACTION( seg_hash_tag_collision, METRIC_COUNTER, "# tag matched, key not" ) \
    ACTION( seg_room_ahead,        METRIC_COUNTER, "# writers making room ahead of need" ) \
    ACTION( seg_wait,              METRIC_COUNTER, "# writer waits for readers" ) \
    ACTION( seg_wait_timeout,      METRIC_COUNTER, "# waits for readers that hit the bound" ) \
    ACTION( seg_take_slow,         METRIC_COUNTER, "# free segment takes past the free list" ) \
    ACTION( seg_take_slow_us,      METRIC_COUNTER, "time writers spent taking a segment past the free list" ) \
    ACTION( seg_take_slow_max_us,  METRIC_GAUGE,   "longest such take since start" ) \
    ACTION( seg_take_slow_lat,     METRIC_HISTOGRAM, "time to take a segment past the free list" ) \
    ACTION( seg_compact,           METRIC_COUNTER, "# compactions (live items of mostly dead segments copied forward)" ) \
    ACTION( seg_compact_seg,       METRIC_COUNTER, "# segments freed by compaction" ) \
    ACTION( seg_compact_item,      METRIC_COUNTER, "# live items copied by compaction" ) \
    ACTION( seg_compact_bytes,     METRIC_COUNTER, "bytes copied by compaction" ) \
    ACTION( seg_part_evict_root,   METRIC_COUNTER, "# keys evicted whole because eviction dropped one of their parts" ) \
    ACTION( seg_part_dead,         METRIC_COUNTER, "# parts dropped because their root was gone" )
/* clang-format on */

typedef struct {
    SEG_OPTION(DECLARE_OPTION)
} seg_options_st;

typedef struct {
    SEG_METRIC(DECLARE_METRIC)
} seg_metrics_st;

/* Builds the store. options NULL: defaults; metrics NULL: no counting (the
 * struct must outlive the store). STATUS_EINVAL for a bad option (logged),
 * STATUS_ENOMEM when the memory cannot be mapped or is too small. Main
 * thread, once, before any storage call. */
rstatus_i seg_setup(const seg_options_st *options, seg_metrics_st *metrics);
/* Every check seg_setup makes of its options, without mapping anything:
 * STATUS_OK, or STATUS_EINVAL with the first option at fault in *bad and
 * why in why ("not one of merge fifo random cte util none"). No value is
 * lowered or rounded to fit: a value seg_setup could not use exactly is
 * refused here. Any thread; the store need not be set up. */
rstatus_i seg_options_check(const seg_options_st *options,
        const struct option **bad, char *why, size_t cap);
/* Stops the background thread (joined) and unmaps everything. No other
 * thread may be using the store. Safe to call without setup. */
void seg_teardown(void);

/* What setup made of the options (any thread, after setup). */
struct seg_layout {
    size_t memory;       /* the budget, bytes */
    size_t segment_size; /* bytes */
    uint32_t n_segment;  /* segments that fit after the metadata */
    uint32_t n_bucket;   /* hash head buckets of 8 slots */
    uint32_t n_overflow; /* overflow buckets in the pool */
    size_t metadata;     /* hash + pool + headers, bytes */
    uint32_t reserve;    /* free segments kept ahead */
    uint32_t open_max;   /* segments open for writes at once */
    const char *evict;   /* policy name */
};
void seg_layout_get(struct seg_layout *out);

/* Per TTL bucket summary: one row per non-empty bucket, at most cap rows.
 * ttl_ms is the lower bound of the bucket (0: items without expiry). */
struct seg_ttl_stat {
    uint64_t ttl_ms;
    uint32_t n_segment;
    int64_t live_items;
    int64_t live_bytes;
};
size_t seg_ttl_stats(struct seg_ttl_stat *out, size_t cap);

/* Test hooks: the TTL bucket an expiry maps to, and the lower bound of a
 * bucket's TTL range. */
uint32_t seg_ttl_bucket_index(uint64_t expiry, uint64_t now);
uint64_t seg_ttl_bucket_lower(uint32_t index);
