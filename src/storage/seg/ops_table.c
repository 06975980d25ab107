/* SPDX-License-Identifier: Apache-2.0 */
/* Whole-table reads of the storage API (scan, random key), counts, limits,
 * the background round and status names. */
#include "seg_internal.h"

#include <string.h>

/* --- whole-table reads -------------------------------------------------- */

struct walk {
    uint8_t db;
    uint64_t now;
    storage_scan_fn cb;
    void *arg;
    struct storage_item *first; /* random key: stop at the first */
    bool found;
    size_t seen;     /* entries looked at, any database */
    size_t reported; /* items given to cb */
};

static void
walk_visit(uint64_t v, void *arg)
{
    struct walk *wk = arg;
    if (wk->found) {
        return;
    }
    wk->seen++;
    struct hash_ref ref = {
            .val = v, .sid = hash_val_sid(v), .off = hash_val_off(v)};
    const struct seg *s = &heap.segs[ref.sid];
    ref.item = seg_data(ref.sid) + ref.off;
    item_decode(ref.item, seg_cas_at(s, ref.off), s->exp_base, &ref.m);
    if (ref.m.db != wk->db || !item_visible(&ref.m, wk->now)) {
        return;
    }
    if (wk->first != NULL) {
        ops_view_fill(wk->first, &ref, false, wk->now);
        wk->found = true;
        return;
    }
    struct storage_item it;
    ops_view_fill(&it, &ref, false, wk->now);
    wk->cb(&it, wk->arg);
    wk->reported++;
}

/* What one SCAN call may do beyond reporting `count` items. The cursor is
 * a head bucket index; the database's summary (hash_summary.c) skips the
 * stretches of the table holding none of its keys, so a call's work
 * follows that database's keys, not seg.memory nor the other databases:
 * - summary counters read: SCAN_SUMMARY_READS (64 Ki: a table of 2^31
 *   buckets has 64 Ki level-3 counters, so even then one call crosses the
 *   emptiness of the whole table), a few hundred microseconds at most;
 * - head buckets visited, each one cache line: SCAN_VISIT_COST counters'
 *   worth of that budget;
 * - entries of other databases looked at, in the chains that also hold
 *   this one's: SCAN_OTHER_DB per item asked for (databases share the
 *   table, as in no Redis). */
#define SCAN_SUMMARY_READS (64 * 1024)
#define SCAN_VISIT_COST    16
#define SCAN_OTHER_DB      8
#define SCAN_COUNT_MAX     (1u << 20)

uint64_t
storage_scan(uint8_t db, uint64_t cursor, size_t count, uint64_t now,
        storage_scan_fn cb, void *arg)
{
    if (db >= STORAGE_DB_COUNT || cursor >= heap.n_bucket) {
        return 0;
    }
    epoch_enter();
    ops_flush_check(now);
    struct walk wk = {.db = db, .now = now, .cb = cb, .arg = arg};
    size_t want = count == 0               ? 1
                  : count > SCAN_COUNT_MAX ? SCAN_COUNT_MAX
                                           : count;
    size_t seen_max = want * SCAN_OTHER_DB + 64;
    uint32_t budget = SCAN_SUMMARY_READS + (uint32_t)want * SCAN_VISIT_COST;
    uint32_t b = (uint32_t)cursor;
    for (;;) {
        b = hash_summary_next(db, b, &budget);
        if (b >= heap.n_bucket) {
            return 0;
        }
        if (budget == 0) {
            return b; /* the next call goes on from here */
        }
        hash_visit_bucket(b, walk_visit, &wk);
        b++;
        budget = budget > SCAN_VISIT_COST ? budget - SCAN_VISIT_COST : 0;
        if (wk.reported >= want || wk.seen >= seen_max || budget == 0) {
            return b >= heap.n_bucket ? 0 : b;
        }
    }
}

storage_status_e
storage_random_key(uint8_t db, uint64_t now, struct storage_item *it)
{
    if (db >= STORAGE_DB_COUNT) {
        return STORAGE_EINVAL;
    }
    epoch_enter();
    ops_flush_check(now);
    ops_view_none(it);
    if (storage_count(db) == 0) {
        return STORAGE_NOT_FOUND;
    }
    struct walk wk = {.db = db, .now = now, .first = it};
    /* the first live item at or after a random bucket, wrapping once; the
     * database's summary skips chains without its keys, so the cost follows
     * them, not the table or the other databases' keys */
    uint32_t start = (uint32_t)(seg_rand() % heap.n_bucket);
    uint32_t from[2] = {start, 0}, to[2] = {heap.n_bucket, start};
    for (int pass = 0; pass < 2 && !wk.found; pass++) {
        uint32_t b = from[pass];
        while (!wk.found) {
            uint32_t budget = UINT32_MAX;
            b = hash_summary_next(db, b, &budget);
            if (b >= to[pass]) {
                break;
            }
            hash_visit_bucket(b, walk_visit, &wk);
            b++;
        }
    }
    return wk.found ? STORAGE_OK : STORAGE_NOT_FOUND;
}

uint64_t
storage_count(uint8_t db)
{
    if (db >= STORAGE_DB_COUNT) {
        return 0;
    }
    int64_t n = __atomic_load_n(&heap.count[db], __ATOMIC_RELAXED);
    return n > 0 ? (uint64_t)n : 0;
}

uint64_t
storage_count_expires(uint8_t db)
{
    if (db >= STORAGE_DB_COUNT) {
        return 0;
    }
    int64_t n = __atomic_load_n(&heap.expires[db], __ATOMIC_RELAXED);
    return n > 0 ? (uint64_t)n : 0;
}

size_t
storage_item_size_max(void)
{
    return heap.seg_size - ITEM_HDR_MAX;
}

size_t
storage_value_max(size_t klen)
{
    size_t max = storage_item_size_max();
    return klen >= max ? 0 : max - klen;
}

void
storage_maintain(uint64_t now)
{
    ops_flush_check(now);
    for (uint32_t i = 0; i < heap.n_seg && seg_expire_one(now); i++) {
    }
    seg_reclaim();
    /* the reserve: compaction of dead space first; segments in limbo count
     * as on their way (readers leave their epochs within a batch, and a
     * writer that finds none free waits a bounded time for them); live
     * items are evicted only above the threshold (evict.c) */
    for (uint32_t i = 0; i < heap.n_seg * 2; i++) {
        uint32_t n_free = __atomic_load_n(&heap.n_free, __ATOMIC_RELAXED);
        uint32_t n_limbo = __atomic_load_n(&heap.n_limbo, __ATOMIC_RELAXED);
        if (n_free + n_limbo >= heap.reserve) {
            break;
        }
        compact_e c = compact_run(now);
        if (c != COMPACT_DONE &&
                (c != COMPACT_NO_PAIR || n_limbo > 0 ||
                        __atomic_load_n(&heap.n_busy, __ATOMIC_RELAXED) > 0 ||
                        heap.evict == EVICT_NONE || !evict_run(now, false))) {
            break;
        }
        seg_reclaim();
    }
    seg_gauges();
}

const char *
storage_status_str(storage_status_e status)
{
    switch (status) {
    case STORAGE_OK:
        return "STORAGE_OK";
    case STORAGE_NOT_FOUND:
        return "STORAGE_NOT_FOUND";
    case STORAGE_EXISTS:
        return "STORAGE_EXISTS";
    case STORAGE_NOT_STORED:
        return "STORAGE_NOT_STORED";
    case STORAGE_ENOMEM:
        return "STORAGE_ENOMEM";
    case STORAGE_EOVERSIZE:
        return "STORAGE_EOVERSIZE";
    case STORAGE_ENAN:
        return "STORAGE_ENAN";
    case STORAGE_EOVERFLOW:
        return "STORAGE_EOVERFLOW";
    case STORAGE_EINVAL:
        return "STORAGE_EINVAL";
    case STORAGE_EWRONGTYPE:
        return "STORAGE_EWRONGTYPE";
    }
    return "STORAGE_?";
}
