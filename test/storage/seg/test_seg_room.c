/* SPDX-License-Identifier: Apache-2.0 */
/* Writers make room ahead of need (issue 14): the writer that opens a
 * segment compacts dead space while free segments are still left, so under
 * a steady stream of overwrites writers seldom reach the slow path, and
 * never wait for one another there. With the background thread off, the
 * writers alone keep pace: nothing live is lost, every key reads back with
 * its last value; with live data past what the heap holds, concurrent
 * writers evict inline and every item is present or counted. */
#include "unit.h"

#include "storage/seg/seg.h"
#include "storage/storage.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif
#ifndef UNDER_TSAN
#define UNDER_TSAN 0
#endif

#define NOW     1700000000000ULL
#define VLEN    32
#define WRITERS 2

static seg_metrics_st metrics;
static uint64_t nkeys;
static uint64_t writes_per_thread;
static bool unique_keys; /* every write a new key (eviction) */
static uint32_t *last_version;

static size_t
key_of(char *key, uint64_t i)
{
    return (size_t)snprintf(key, 32, "room-%08lu", (unsigned long)i);
}

static void
value_of(uint8_t *v, uint64_t key, uint32_t version)
{
    memset(v, (int)(key * 7 + version) & 0xff, VLEN);
    memcpy(v, &key, 8);
    memcpy(v + 8, &version, 4);
}

static uint64_t
rnd(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static void
set_key(uint64_t k, uint32_t version)
{
    char key[32];
    uint8_t v[VLEN];
    size_t klen = key_of(key, k);
    value_of(v, k, version);
    struct storage_write sw = {0};
    assert_int_equal(storage_set(0, key, klen, v, VLEN, &sw, NOW, NULL, NULL),
            STORAGE_OK);
    last_version[k] = version;
}

struct writer {
    pthread_t tid;
    uint64_t id;
    uint64_t seed;
};

/* Key k belongs to writer k % WRITERS, so each key has one writer and an
 * exact expectation; a batch of 16 operations per quiescent point, as a
 * worker's event loop. */
static void *
writer_main(void *arg)
{
    struct writer *w = arg;
    assert_int_equal(storage_thread_register(), STATUS_OK);
    uint64_t mine = nkeys / WRITERS;
    for (uint64_t i = 0; i < writes_per_thread; i++) {
        uint64_t k = unique_keys ? nkeys + i * WRITERS + w->id
                                 : (rnd(&w->seed) % mine) * WRITERS + w->id;
        set_key(k, (uint32_t)i + 1);
        if (i % 16 == 15) {
            storage_quiescent();
        }
    }
    storage_thread_unregister();
    return NULL;
}

static void
start(size_t memory, uint64_t keys, uint64_t writes, bool unique)
{
    seg_options_st o = {SEG_OPTION(INIT_OPTION)};
    o.seg_memory.val.OPTION_SIZE = memory;
    o.seg_segment_size.val.OPTION_SIZE = 64 * KiB;
    o.seg_background.val.OPTION_BOOL = false; /* the writers alone */
    metrics = (seg_metrics_st){SEG_METRIC(INIT_METRIC)};
    assert_int_equal(seg_setup(&o, &metrics), STATUS_OK);
    nkeys = keys;
    writes_per_thread = writes;
    unique_keys = unique;
    uint64_t total = keys + (unique ? writes * WRITERS : 0);
    last_version = calloc(total, sizeof(*last_version));
    assert_non_null(last_version);
    assert_int_equal(storage_thread_register(), STATUS_OK);
    for (uint64_t k = 0; k < keys; k++) {
        set_key(k, 0);
    }
    storage_quiescent();
}

static void
run_writers(int n)
{
    struct writer w[WRITERS];
    for (int i = 0; i < n; i++) {
        w[i] = (struct writer){.id = (uint64_t)i,
                .seed = 0x9e3779b97f4a7c15ULL * (uint64_t)(i + 1)};
        assert_int_equal(
                pthread_create(&w[i].tid, NULL, writer_main, &w[i]), 0);
    }
    for (int i = 0; i < n; i++) {
        pthread_join(w[i].tid, NULL);
    }
}

/* Keys present with their last value; returns how many are present. */
static uint64_t
check_keys(uint64_t n)
{
    uint64_t present = 0;
    for (uint64_t k = 0; k < n; k++) {
        char key[32];
        uint8_t v[VLEN];
        struct storage_item it;
        if (storage_get(0, key, key_of(key, k), NOW, &it) != STORAGE_OK) {
            continue;
        }
        present++;
        value_of(v, k, last_version[k]);
        assert_int_equal(it.vlen, VLEN);
        assert_memory_equal(it.value, v, VLEN);
    }
    return present;
}

static void
stop(void)
{
    storage_thread_unregister();
    free(last_version);
    last_version = NULL;
    seg_teardown();
}

/* Live data about 40% of a 4 MiB heap of 64 KiB segments, overwritten many
 * times over: the writers compact ahead of need and evict nothing. */
static void
overwrite(int writers)
{
    start(4 * MiB, 24000, UNDER_TSAN ? 100000 : 400000, false);
    run_writers(writers);
    assert_int_equal(check_keys(nkeys), nkeys);
    assert_true(metric_counter(&metrics.seg_room_ahead) > 0);
    assert_true(metric_counter(&metrics.seg_compact_item) > 0);
    assert_int_equal(metric_counter(&metrics.seg_evict_item), 0);
    assert_int_equal(metric_counter(&metrics.seg_hash_evict), 0);
    assert_int_equal(storage_count(0), nkeys);
    stop();
}

static void
test_room_ahead_one_writer(void **state)
{
    (void)state;
    overwrite(1);
    /* one writer alone never waits: what it retires it reclaims itself */
}

static void
test_room_ahead_two_writers(void **state)
{
    (void)state;
    overwrite(2);
}

/* One writer, the same load: with room made ahead, taking a segment past
 * the free list is the exception (before: every segment the writer
 * needed once the heap was full, about one per 64 KiB written). */
static void
test_room_ahead_keeps_free_list(void **state)
{
    (void)state;
    start(4 * MiB, 24000, UNDER_TSAN ? 100000 : 400000, false);
    run_writers(1);
    uint64_t ahead = metric_counter(&metrics.seg_room_ahead);
    uint64_t slow = metric_counter(&metrics.seg_take_slow);
    uint64_t bytes = writes_per_thread * (VLEN + 14 + 8);
    assert_true(ahead > 0);
    /* segments filled by the writer: bytes / 64 KiB; slow takes far fewer */
    assert_true(slow * 4 < bytes / (64 * KiB));
    assert_int_equal(metric_counter(&metrics.seg_wait), 0);
    stop();
}

/* New keys only, far past the heap: two writers evict inline (merge), no
 * write fails, and every key is present or counted as evicted. */
static void
test_room_evict_under_concurrent_sets(void **state)
{
    (void)state;
    uint64_t writes = UNDER_TSAN ? 40000 : 150000;
    start(4 * MiB, 2, writes, true);
    run_writers(WRITERS);
    uint64_t written = nkeys + writes * WRITERS;
    uint64_t present = check_keys(written);
    uint64_t gone = metric_counter(&metrics.seg_evict_item) +
                    metric_counter(&metrics.seg_hash_evict) +
                    metric_counter(&metrics.seg_expire_item);
    assert_true(metric_counter(&metrics.seg_evict_item) > 0);
    assert_int_equal(present + gone, written);
    assert_int_equal(storage_count(0), present);
    assert_int_equal(metric_counter(&metrics.seg_write_ex), 0);
    stop();
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_room_ahead_one_writer),
            cmocka_unit_test(test_room_ahead_two_writers),
            cmocka_unit_test(test_room_ahead_keeps_free_list),
            cmocka_unit_test(test_room_evict_under_concurrent_sets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
