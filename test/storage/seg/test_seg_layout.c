/* SPDX-License-Identifier: Apache-2.0 */
/* The layouts the store's scaling with threads depends on (docs/storage.md,
 * "What a get writes"): segment headers split into a read line and a
 * written line, the heap descriptor's written groups on lines of their own,
 * per-thread slots aligned; and what a get writes: nothing shared but the
 * hash slot's frequency bits (rarely) and an item's access bytes (once per
 * item, once per minute). */
#include "unit.h"

#include "base/metric.h"
#include "storage/seg/seg.h"
#include "storage/seg/seg_internal.h"
#include "storage/storage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW 1700000000000ULL /* injected clock, unix ms */
#define N   2000

static seg_metrics_st metrics;

static int
group_setup(void **state)
{
    (void)state;
    seg_options_st o = {SEG_OPTION(INIT_OPTION)};
    o.seg_memory.val.OPTION_SIZE = 8 * MiB;
    o.seg_background.val.OPTION_BOOL = false;
    metrics = (seg_metrics_st){SEG_METRIC(INIT_METRIC)};
    if (metric_init((struct metric *)&metrics, METRIC_CARDINALITY(metrics)) !=
            STATUS_OK) {
        return -1;
    }
    if (metric_thread_register() != STATUS_OK ||
            storage_thread_register() != STATUS_OK) {
        return -1;
    }
    return seg_setup(&o, &metrics) == STATUS_OK ? 0 : -1;
}

static int
group_teardown(void **state)
{
    (void)state;
    storage_thread_unregister();
    seg_teardown();
    metric_shards_teardown();
    return 0;
}

static bool
line_of(size_t a, size_t b)
{
    return a / CACHE_LINE == b / CACHE_LINE;
}

/* What a get reads (seq, exp_base, create_ms) is on line 0; what a
 * set writes (write_offset, w_ref, live_*, max_exp) on line 1. */
static void
test_seg_layout_segment_header(void **state)
{
    (void)state;
    assert_int_equal(sizeof(struct seg), 2 * CACHE_LINE);
    size_t read[] = {offsetof(struct seg, seq), offsetof(struct seg, exp_base),
            offsetof(struct seg, create_ms), offsetof(struct seg, state),
            offsetof(struct seg, bucket)};
    size_t written[] = {offsetof(struct seg, write_offset),
            offsetof(struct seg, w_ref), offsetof(struct seg, live_items),
            offsetof(struct seg, live_bytes), offsetof(struct seg, max_exp)};
    for (size_t i = 0; i < sizeof(read) / sizeof(read[0]); i++) {
        assert_true(read[i] < CACHE_LINE);
    }
    for (size_t i = 0; i < sizeof(written) / sizeof(written[0]); i++) {
        assert_true(line_of(written[i], CACHE_LINE));
    }
}

/* Read-mostly fields first; each written group starts a line of its own. */
static void
test_seg_layout_heap(void **state)
{
    (void)state;
    assert_int_equal(_Alignof(struct heap), CACHE_LINE);
    assert_int_equal((uintptr_t)&heap % CACHE_LINE, 0);
    assert_int_equal(sizeof(struct heap) % CACHE_LINE, 0);
    size_t written = offsetof(struct heap, count);
    assert_int_equal(written % CACHE_LINE, 0);
    size_t read[] = {offsetof(struct heap, base), offsetof(struct heap, segs),
            offsetof(struct heap, buckets), offsetof(struct heap, n_bucket),
            offsetof(struct heap, flush_pending),
            offsetof(struct heap, flush_cas) + sizeof(heap.flush_cas) -
                    sizeof(uint64_t)};
    for (size_t i = 0; i < sizeof(read) / sizeof(read[0]); i++) {
        assert_true(read[i] < written);
    }
    /* the per-write group: the segment lists start a line after it */
    assert_int_equal(offsetof(struct heap, lock) % CACHE_LINE, 0);
    assert_true(offsetof(struct heap, lock) >=
                offsetof(struct heap, count) + sizeof(heap.count));
    assert_int_equal(offsetof(struct heap, pool_lock) % CACHE_LINE, 0);
}

/* The mapping is carved so that headers and hash buckets start on a line:
 * a bucket is one line, a header two. */
static void
test_seg_layout_mapping(void **state)
{
    (void)state;
    assert_int_equal((uintptr_t)heap.buckets % CACHE_LINE, 0);
    assert_int_equal((uintptr_t)heap.pool % CACHE_LINE, 0);
    assert_int_equal((uintptr_t)heap.segs % CACHE_LINE, 0);
    assert_int_equal((uintptr_t)heap.data % CACHE_LINE, 0);
}

/* A registered thread's counters and gauges go to its own aligned shard. */
static void
test_seg_layout_metric_shard(void **state)
{
    (void)state;
    assert_non_null(metric_shard);
    assert_int_equal((uintptr_t)metric_shard % CACHE_LINE, 0);
    assert_true(metrics.seg_get.slot != 0);
    assert_true(metrics.seg_item_curr.slot != 0); /* a gauge */
    uint64_t before = metric_shard[metrics.seg_item_curr.slot];
    struct storage_write w = {0};
    assert_int_equal(storage_set(0, "shard", 5, "v", 1, &w, NOW, NULL, NULL),
            STORAGE_OK);
    assert_int_equal(metric_shard[metrics.seg_item_curr.slot], before + 1);
}

static void
key_of(char *key, int i)
{
    snprintf(key, 16, "key%06d", i);
}

/* After an item's first read, gets in the same minute write nothing but
 * the frequency bits of hash slots: no heap field, no segment header, no
 * item byte. */
static void
test_seg_layout_get_writes(void **state)
{
    (void)state;
    struct storage_write w = {0};
    char key[16];
    for (int i = 0; i < N; i++) {
        key_of(key, i);
        assert_int_equal(
                storage_set(0, key, 9, "value", 5, &w, NOW, NULL, NULL),
                STORAGE_OK);
    }
    for (int i = 0; i < N; i++) {
        key_of(key, i);
        assert_int_equal(storage_get(0, key, 9, NOW, NULL), STORAGE_OK);
    }
    size_t segs_size = (size_t)heap.n_seg * sizeof(struct seg);
    size_t data_size = (size_t)heap.n_seg * heap.seg_size;
    struct heap *h0 = malloc(sizeof(heap));
    uint8_t *segs0 = malloc(segs_size);
    uint8_t *data0 = malloc(data_size);
    assert_non_null(h0);
    assert_non_null(segs0);
    assert_non_null(data0);
    memcpy(h0, &heap, sizeof(heap));
    memcpy(segs0, heap.segs, segs_size);
    memcpy(data0, heap.data, data_size);
    /* the last millisecond of the access-time minute NOW is in: minutes
     * count from the segment's base, NOW rounded down to 7 minutes */
    uint64_t base = NOW - NOW % ITEM_ATIME_STEP;
    uint64_t late = base + ((NOW - base) / 60000 + 1) * 60000 - 1;
    for (int r = 0; r < 8; r++) {
        for (int i = 0; i < N; i++) {
            key_of(key, i);
            struct storage_item it;
            assert_int_equal(storage_get(0, key, 9, late, &it), STORAGE_OK);
        }
    }
    storage_quiescent();
    assert_memory_equal(h0, &heap, sizeof(heap));
    assert_memory_equal(segs0, heap.segs, segs_size);
    assert_memory_equal(data0, heap.data, data_size);
    free(h0);
    free(segs0);
    free(data0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_seg_layout_segment_header),
            cmocka_unit_test(test_seg_layout_heap),
            cmocka_unit_test(test_seg_layout_mapping),
            cmocka_unit_test(test_seg_layout_metric_shard),
            cmocka_unit_test(test_seg_layout_get_writes),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
