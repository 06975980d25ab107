/* SPDX-License-Identifier: Apache-2.0 */
/* Issue 13: many writers overwriting a small key set far past the heap size
 * must never cost a live key. Live data is a few percent of the heap, so
 * every segment the writers need can come from dead copies: none of the
 * keys may be evicted (seg_evict_item and seg_hash_evict stay 0) and every
 * key reads back with its latest value. The writers are registered threads
 * that go quiescent once per batch, as the workers do, with the background
 * thread running; one of them sleeps now and then inside a batch, holding
 * its epoch the way a preempted worker does, so retired segments wait in
 * limbo while the others keep writing. */
#include "unit.h"

#include "base/time.h"
#include "storage/seg/seg.h"
#include "storage/storage.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

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

#define WRITERS 4
#define BATCH   16
#define VLEN    1000

static seg_metrics_st metrics;
static uint64_t nkeys;
static uint64_t writes_per_thread;
/* the last version each writer stored per key: key k is written only by
 * writer k % WRITERS, so each key has one writer and an exact expectation */
static uint64_t *last_version;

static size_t
key_of(char *key, uint64_t i)
{
    return (size_t)snprintf(key, 32, "ow-key-%06lu", (unsigned long)i);
}

static void
value_of(uint8_t *v, uint64_t key, uint64_t version)
{
    memset(v, (int)(key * 31 + version) & 0xff, VLEN);
    memcpy(v, &key, 8);
    memcpy(v + 8, &version, 8);
}

struct writer {
    pthread_t tid;
    int id;
    uint64_t seed;
    bool sleepy; /* holds its epoch across a sleep now and then */
};

static uint64_t
rnd(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static void
set_key(uint64_t k, uint64_t version, uint64_t now, uint8_t *v)
{
    char key[32];
    size_t klen = key_of(key, k);
    value_of(v, k, version);
    struct storage_write sw = {0};
    assert_int_equal(storage_set(0, key, klen, v, VLEN, &sw, now, NULL, NULL),
            STORAGE_OK);
    last_version[k] = version;
}

static void *
writer_main(void *arg)
{
    struct writer *w = arg;
    uint8_t v[VLEN];
    assert_int_equal(storage_thread_register(), STATUS_OK);
    uint64_t mine = (nkeys + WRITERS - 1 - (uint64_t)w->id) / WRITERS;
    for (uint64_t i = 0; i < writes_per_thread; i++) {
        uint64_t now = time_now_ms();
        uint64_t k = (rnd(&w->seed) % mine) * WRITERS + (uint64_t)w->id;
        set_key(k, i + 1, now, v);
        if (i % BATCH == BATCH - 1) {
            if (w->sleepy && i % (BATCH * 64) == BATCH * 64 - 1) {
                struct storage_item it;
                char key[32];
                /* a read opens the epoch, then the "preemption" */
                storage_get(0, key, key_of(key, k), now, &it);
                struct timespec ts = {0, 2 * 1000 * 1000};
                nanosleep(&ts, NULL);
            }
            storage_quiescent();
        }
    }
    storage_thread_unregister();
    return NULL;
}

static void
check_all_present(void)
{
    uint64_t now = time_now_ms();
    uint64_t missing = 0;
    uint8_t v[VLEN];
    for (uint64_t k = 0; k < nkeys; k++) {
        char key[32];
        size_t klen = key_of(key, k);
        struct storage_item it;
        if (storage_get(0, key, klen, now, &it) != STORAGE_OK) {
            missing++;
            continue;
        }
        value_of(v, k, last_version[k]);
        assert_int_equal(it.vlen, VLEN);
        assert_memory_equal(it.value, v, VLEN);
    }
    if (missing > 0) {
        fprintf(stderr,
                "missing %lu of %lu keys; evict_item %ld hash_evict %ld "
                "compact_item %ld wait %ld timeout %ld merge %ld\n",
                (unsigned long)missing, (unsigned long)nkeys,
                (long)metric_counter(&metrics.seg_evict_item),
                (long)metric_counter(&metrics.seg_hash_evict),
                (long)metric_counter(&metrics.seg_compact_item),
                (long)metric_counter(&metrics.seg_wait),
                (long)metric_counter(&metrics.seg_wait_timeout),
                (long)metric_counter(&metrics.seg_merge));
    }
    assert_int_equal(missing, 0);
}

static void
run(size_t memory, size_t segment)
{
    seg_options_st o = {SEG_OPTION(INIT_OPTION)};
    o.seg_memory.val.OPTION_SIZE = memory;
    o.seg_segment_size.val.OPTION_SIZE = segment;
    o.seg_expire_interval.val.OPTION_DURATION = 1;
    metrics = (seg_metrics_st){SEG_METRIC(INIT_METRIC)};
    assert_int_equal(seg_setup(&o, &metrics), STATUS_OK);
    last_version = calloc(nkeys, sizeof(*last_version));
    assert_non_null(last_version);

    uint8_t v[VLEN];
    assert_int_equal(storage_thread_register(), STATUS_OK);
    for (uint64_t k = 0; k < nkeys; k++) { /* every key exists from here */
        set_key(k, 0, time_now_ms(), v);
    }
    storage_quiescent();

    struct writer w[WRITERS];
    for (int i = 0; i < WRITERS; i++) {
        w[i] = (struct writer){.id = i,
                .seed = 0x9e3779b97f4a7c15ULL * (uint64_t)(i + 1),
                .sleepy = i == 0};
        assert_int_equal(
                pthread_create(&w[i].tid, NULL, writer_main, &w[i]), 0);
    }
    for (int i = 0; i < WRITERS; i++) {
        pthread_join(w[i].tid, NULL);
    }
    check_all_present();
    storage_thread_unregister();

    uint64_t written = (nkeys + WRITERS * writes_per_thread) * VLEN;
    assert_true(written > 8 * memory); /* far past the heap */
    assert_int_equal(metric_counter(&metrics.seg_evict_item), 0);
    assert_int_equal(metric_counter(&metrics.seg_hash_evict), 0);
    assert_true(metric_counter(&metrics.seg_compact_item) > 0 ||
                metric_counter(&metrics.seg_expire_seg) > 0);
    free(last_version);
    last_version = NULL;
    seg_teardown();
}

/* 1 MiB segments as the server's default: 8,000 keys of 1 KB are about 8 MB
 * of live data in 64 MiB, the shape of the issue's reproduction */
static void
test_issue_13_overwrite_default_segments(void **state)
{
    (void)state;
    nkeys = UNDER_TSAN ? 2000 : 8000;
    writes_per_thread = UNDER_TSAN ? 50000 : 250000;
    run(UNDER_TSAN ? 16 * MiB : 64 * MiB, 1 * MiB);
}

/* small segments: many more segment turns for the same bytes */
static void
test_issue_13_overwrite_small_segments(void **state)
{
    (void)state;
    nkeys = 500;
    writes_per_thread = UNDER_TSAN ? 20000 : 100000;
    run(4 * MiB, 64 * KiB);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_issue_13_overwrite_default_segments),
            cmocka_unit_test(test_issue_13_overwrite_small_segments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
