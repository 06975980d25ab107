/* SPDX-License-Identifier: Apache-2.0 */
/* Multi-threaded stress: threads of mixed operations on overlapping keys;
 * every value carries its key's hash, a version and a checksum, and every
 * read is verified. Counters updated by CAS loops and by incr must come out
 * exact. One run with room for everything, one on a small heap where
 * eviction, merging and segment reuse run all the time under readers. */
#include "unit.h"

#include "base/time.h"
#include "storage/seg/seg.h"
#include "storage/storage.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define THREADS  4
#define NCOUNTER 8
#define VMAX     600

static seg_metrics_st metrics;
static uint64_t ops_per_thread = 60000;
static uint64_t nkeys = 512;

static uint64_t
fnv(const void *p, size_t n, uint64_t h)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ b[i]) * 0x100000001b3ULL;
    }
    return h;
}

static size_t
key_of(char *key, uint64_t i)
{
    return (size_t)snprintf(key, 32, "stress-key-%lu", (unsigned long)i);
}

/* value: [keyhash 8][version 8][len 4][payload][checksum 8] */
static size_t
make_value(uint8_t *v, const char *key, size_t klen, uint64_t version,
        size_t payload)
{
    uint64_t kh = fnv(key, klen, 14695981039346656037ULL);
    uint32_t len = (uint32_t)payload;
    memcpy(v, &kh, 8);
    memcpy(v + 8, &version, 8);
    memcpy(v + 16, &len, 4);
    for (size_t i = 0; i < payload; i++) {
        v[20 + i] = (uint8_t)(kh >> (i % 8 * 8)) ^ (uint8_t)(version + i);
    }
    uint64_t sum = fnv(v, 20 + payload, kh);
    memcpy(v + 20 + payload, &sum, 8);
    return 28 + payload;
}

static void
check_value(const struct storage_item *it, const char *key, size_t klen)
{
    uint64_t kh, sum;
    uint32_t len;
    assert_true(it->vlen >= 28);
    memcpy(&kh, it->value, 8);
    memcpy(&len, it->value + 16, 4);
    assert_int_equal(kh, fnv(key, klen, 14695981039346656037ULL));
    assert_int_equal(it->vlen, 28 + (size_t)len);
    memcpy(&sum, it->value + 20 + len, 8);
    assert_int_equal(sum, fnv(it->value, 20 + len, kh));
    assert_int_equal(it->klen, klen);
    assert_memory_equal(it->key, key, klen);
}

struct worker {
    pthread_t tid;
    uint64_t seed;
    uint64_t cas_incr; /* successful CAS increments */
    uint64_t incr;     /* incr calls that succeeded */
    bool exact;        /* no eviction expected: counters must be exact */
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
do_cas_counter(struct worker *w, uint64_t now)
{
    char key[32];
    int n = snprintf(key, sizeof(key), "ctr-%lu",
            (unsigned long)(rnd(&w->seed) % NCOUNTER));
    for (int tries = 0; tries < 1000; tries++) {
        struct storage_item it;
        uint64_t v = 0;
        struct storage_write sw = {.mode = STORAGE_ADD};
        if (storage_get(0, key, (size_t)n, now, &it) == STORAGE_OK) {
            char buf[24] = {0};
            assert_true(it.vlen < sizeof(buf));
            memcpy(buf, it.value, it.vlen);
            v = strtoull(buf, NULL, 10);
            sw.mode = STORAGE_CAS;
            sw.cas = it.cas;
        }
        char out[24];
        int len = snprintf(out, sizeof(out), "%lu", (unsigned long)(v + 1));
        storage_status_e st = storage_set(
                0, key, (size_t)n, out, (size_t)len, &sw, now, NULL, NULL);
        if (st == STORAGE_OK) {
            w->cas_incr++;
            return;
        }
        assert_true(st == STORAGE_EXISTS || st == STORAGE_NOT_FOUND);
    }
}

/* A counter's increment: the decimal value plus one. */
static storage_status_e
plus_one(const uint8_t *old, size_t olen, bool found, uint8_t *out,
        size_t *outlen, void *arg)
{
    (void)arg;
    uint64_t v = 0;
    for (size_t i = 0; found && i < olen; i++) {
        if (old[i] < '0' || old[i] > '9') {
            return STORAGE_ENAN;
        }
        v = v * 10 + (uint64_t)(old[i] - '0');
    }
    *outlen = (size_t)snprintf((char *)out, STORAGE_UPDATE_MAX, "%llu",
            (unsigned long long)(v + 1));
    return STORAGE_OK;
}

static void
do_incr(struct worker *w, uint64_t now)
{
    char key[32];
    int n = snprintf(key, sizeof(key), "inc-%lu",
            (unsigned long)(rnd(&w->seed) % NCOUNTER));
    storage_status_e st = storage_update(0, key, (size_t)n, plus_one, NULL,
            STORAGE_MISSING_FAIL, 0, now, NULL);
    if (st == STORAGE_NOT_FOUND) {
        struct storage_write sw = {.mode = STORAGE_ADD};
        st = storage_set(0, key, (size_t)n, "1", 1, &sw, now, NULL, NULL);
        if (st == STORAGE_EXISTS) {
            st = storage_update(0, key, (size_t)n, plus_one, NULL,
                    STORAGE_MISSING_FAIL, 0, now, NULL);
        }
    }
    if (st == STORAGE_OK) {
        w->incr++;
    }
}

static void
do_one(struct worker *w, uint64_t op, uint64_t now, uint8_t *v)
{
    char key[32];
    uint64_t r = rnd(&w->seed);
    size_t klen = key_of(key, r % nkeys);
    struct storage_item it;
    switch (op % 16) {
    case 0:
    case 1:
    case 2:
    case 3:
    case 4:
    case 5:
    case 6: {
        storage_status_e st = storage_get(0, key, klen, now, &it);
        if (st == STORAGE_OK) {
            check_value(&it, key, klen);
        }
        break;
    }
    case 7:
    case 8:
    case 9: {
        size_t n = make_value(v, key, klen, r, (r >> 20) % VMAX);
        struct storage_write sw = {.expiry = (r & 7) == 0 ? now + 50 : 0};
        storage_status_e st =
                storage_set(0, key, klen, v, n, &sw, now, &it, NULL);
        if (st == STORAGE_OK && it.key != NULL) {
            check_value(&it, key, klen); /* the replaced copy */
        }
        break;
    }
    case 10:
        storage_delete(0, key, klen, 0, now);
        break;
    case 11:
        if (storage_touch(0, key, klen, now + 100000, STORAGE_TTL_ALWAYS, now,
                    &it) == STORAGE_OK) {
            check_value(&it, key, klen);
        }
        break;
    case 12:
        if (storage_getdel(0, key, klen, now, &it) == STORAGE_OK) {
            check_value(&it, key, klen);
        }
        break;
    case 13:
        do_cas_counter(w, now);
        break;
    case 14:
        do_incr(w, now);
        break;
    default: {
        struct storage_reservation res;
        size_t n = make_value(v, key, klen, r, (r >> 24) % VMAX);
        struct storage_write sw = {0};
        if (storage_reserve(&res, 0, key, klen, n, &sw, now) == STORAGE_OK) {
            memcpy(res.value, v, n / 2);
            memcpy(res.value + n / 2, v + n / 2, n - n / 2);
            storage_commit(&res, now, NULL, NULL);
        }
        break;
    }
    }
}

static void *
worker_main(void *arg)
{
    struct worker *w = arg;
    uint8_t v[VMAX + 64];
    assert_int_equal(storage_thread_register(), STATUS_OK);
    for (uint64_t i = 0; i < ops_per_thread; i++) {
        uint64_t now = time_now_ms();
        do_one(w, rnd(&w->seed), now, v);
        if (i % 8 == 7) {
            storage_quiescent(); /* end of an "event loop iteration" */
        }
    }
    storage_thread_unregister();
    return NULL;
}

static void
run(size_t memory, size_t segment, bool exact)
{
    seg_options_st o = {SEG_OPTION(INIT_OPTION)};
    o.seg_memory.val.OPTION_SIZE = memory;
    o.seg_segment_size.val.OPTION_SIZE = segment;
    o.seg_expire_interval.val.OPTION_DURATION = 5;
    metrics = (seg_metrics_st){SEG_METRIC(INIT_METRIC)};
    assert_int_equal(seg_setup(&o, &metrics), STATUS_OK);
    struct worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){
                .seed = 0x1234567ULL * (uint64_t)(i + 1), .exact = exact};
        assert_int_equal(
                pthread_create(&w[i].tid, NULL, worker_main, &w[i]), 0);
    }
    uint64_t cas_total = 0, incr_total = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(w[i].tid, NULL);
        cas_total += w[i].cas_incr;
        incr_total += w[i].incr;
    }
    uint64_t now = time_now_ms();
    uint64_t cas_sum = 0, incr_sum = 0;
    for (int c = 0; c < NCOUNTER; c++) {
        char key[32];
        struct storage_item it;
        int n = snprintf(key, sizeof(key), "ctr-%d", c);
        if (storage_get(0, key, (size_t)n, now, &it) == STORAGE_OK) {
            cas_sum += strtoull((const char *)it.value, NULL, 10);
        }
        n = snprintf(key, sizeof(key), "inc-%d", c);
        if (storage_get(0, key, (size_t)n, now, &it) == STORAGE_OK) {
            char buf[24] = {0};
            memcpy(buf, it.value, it.vlen);
            incr_sum += strtoull(buf, NULL, 10);
        }
    }
    if (exact) {
        assert_int_equal(metric_counter(&metrics.seg_evict_item), 0);
        assert_int_equal(cas_sum, cas_total);
        assert_int_equal(incr_sum, incr_total);
    } else {
        assert_true(metric_counter(&metrics.seg_evict_seg) > 0);
        assert_true(cas_sum <= cas_total);
    }
    seg_teardown();
}

static void
test_stress_roomy(void **state)
{
    (void)state;
    nkeys = 512;
    run(64 * MiB, 1 * MiB, true);
}

static void
test_stress_evicting(void **state)
{
    (void)state;
    nkeys = 20000;
    run(3 * MiB, 64 * KiB, false);
}

int
main(int argc, char **argv)
{
    if (argc > 1) {
        ops_per_thread = strtoull(argv[1], NULL, 10);
    }
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_stress_roomy),
            cmocka_unit_test(test_stress_evicting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
