/* SPDX-License-Identifier: Apache-2.0 */
/* The hot-key sampler and its windows (hotkey/hotkey.h), driven with an
 * injected clock: exact reports when every access is sampled, the four
 * outputs, reset, the threshold's log-once rule, a key that jumps to 5%
 * among uniform traffic, the accuracy target of issue 20 on Zipf(1.0)
 * traffic over a million keys at the default 1 in 100, and workers, the
 * admin tick and resets racing (run under TSan: label concurrency). */
#include "unit.h"

#include "hotkey/hotkey.h"

#include "base/buf.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static hotkey_metrics_st metrics;

static void
setup_rate(uint64_t rate, unsigned nworkers)
{
    hotkey_options_st o = {HOTKEY_OPTION(INIT_OPTION)};
    hotkey_metrics_st m = {HOTKEY_METRIC(INIT_METRIC)};
    metrics = m;
    o.hotkey_sample_rate.val.OPTION_UINT = rate;
    assert_int_equal(hotkey_setup(&o, &metrics, nworkers), STATUS_OK);
}

static int
teardown(void **state)
{
    (void)state;
    hotkey_worker_detach();
    hotkey_teardown();
    return 0;
}

static void
sample_str(const char *key, hk_kind_e kind, uint8_t proto)
{
    hotkey_sample(0, key, strlen(key), kind, proto);
}

static bool
near(double a, double b)
{
    return fabs(a - b) < 1e-9;
}

static bool
contains(const struct buf *b, const char *text)
{
    return memmem(b->rpos, buf_rsize(b), text, strlen(text)) != NULL;
}

/* Every access sampled: the report is exact. */
static void
feed_exact(unsigned seconds)
{
    hotkey_tick(1000); /* primes: the next tick ends a whole second */
    for (unsigned s = 1; s <= seconds; s++) {
        for (int i = 0; i < 40; i++) {
            sample_str("a", HK_HIT, HOTKEY_PROTO_RESP);
        }
        for (int i = 0; i < 10; i++) {
            sample_str("a", HK_WRITE, HOTKEY_PROTO_MEMCACHE);
        }
        for (int i = 0; i < 30; i++) {
            sample_str("gone key", HK_MISS, HOTKEY_PROTO_RESP);
        }
        for (int i = 0; i < 20; i++) {
            sample_str("c", HK_HIT, HOTKEY_PROTO_MEMCACHE);
        }
        hotkey_tick(1000 + s * 1000);
    }
}

static void
test_hotkey_exact_report(void **state)
{
    (void)state;
    setup_rate(1, 1);
    hotkey_worker_attach(0);
    feed_exact(3);
    struct hotkey_row rows[10];
    double seconds, rate;
    size_t n = hotkey_report(0, false, rows, 10, &seconds, &rate);
    assert_int_equal(n, 3);
    assert_true(near(seconds, 3.0));
    assert_true(near(rate, 100.0));
    assert_string_equal(rows[0].key, "a");
    assert_true(near(rows[0].rate, 50.0));
    assert_true(near(rows[0].share, 0.5));
    assert_true(near(rows[0].reads, 40.0) && near(rows[0].writes, 10.0));
    assert_int_equal(rows[0].proto, HOTKEY_PROTO_RESP | HOTKEY_PROTO_MEMCACHE);
    assert_string_equal(rows[1].key, "gone%20key");
    assert_true(near(rows[1].misses, 30.0));
    assert_string_equal(rows[2].key, "c");
    /* the error bound: no summary error, 2 sigma of sampling */
    assert_true(fabs(rows[2].err - 2 * sqrt(60.0) / 3) < 1e-9);
    n = hotkey_report(0, true, rows, 10, NULL, NULL);
    assert_int_equal(n, 1);
    assert_string_equal(rows[0].key, "gone%20key");
    assert_true(near(rows[0].rate, 30.0));
    assert_true(near(rows[0].share, 0.3));
    /* the 60 s window holds the same 3 seconds */
    n = hotkey_report(1, false, rows, 10, &seconds, NULL);
    assert_int_equal(n, 3);
    assert_true(near(seconds, 3.0));
    assert_int_equal(metric_counter(&metrics.hotkey_sample), 300);
    /* over 1%: all three, each logged once */
    assert_int_equal(metric_gauge(&metrics.hotkey_hot_curr), 3);
    assert_int_equal(metric_gauge(&metrics.hotkey_hot_miss_curr), 1);
    assert_int_equal(metric_counter(&metrics.hotkey_hot), 3);
    assert_int_equal(metric_counter(&metrics.hotkey_hot_miss), 1);
}

static void
test_hotkey_outputs(void **state)
{
    (void)state;
    setup_rate(1, 1);
    hotkey_worker_attach(0);
    feed_exact(2);
    struct buf b;
    assert_int_equal(buf_init(&b, 256), STATUS_OK);
    struct bstring arg = bstring_of("2", 1);
    assert_int_equal(hotkey_print_admin(&b, 1 << 20, &arg), STATUS_OK);
    assert_true(contains(&b, "HOTKEYS window=10s seconds=2.0 sample_rate=1 "
                             "requests_per_sec=100 threshold=1.00%\r\n"));
    assert_true(contains(&b, "HOT 1 key=a rate=50 share=50.00% err=10 "
                             "reads=40 writes=10 misses=0 "
                             "proto=memcache+resp db=0\r\n"));
    assert_true(contains(&b, "HOT 2 key=gone%20key "));
    assert_false(contains(&b, "HOT 3 "));
    assert_true(contains(&b, "HOTMISS 1 key=gone%20key misses=30 "
                             "share=30.00% "));
    assert_true(contains(&b, "HOTKEYS window=60s"));
    buf_clear(&b);
    struct bstring bad = bstring_of("x", 1);
    assert_int_equal(hotkey_print_admin(&b, 1 << 20, &bad), STATUS_EINVAL);
    bad = bstring_of("101", 3);
    assert_int_equal(hotkey_print_admin(&b, 1 << 20, &bad), STATUS_EINVAL);
    buf_clear(&b);
    assert_int_equal(hotkey_print_stats(&b, 1 << 20), STATUS_OK);
    assert_true(contains(&b, "STAT hotkey_sample_rate 1\r\n"));
    assert_true(contains(&b, "STAT hotkey_10s_seconds 2.0\r\n"));
    assert_true(contains(&b, "STAT hotkey_10s_1 key=a,rate=50,share=50.00%,"));
    assert_true(contains(&b, "STAT hotmiss_10s_1 key=gone%20key,misses=30,"));
    buf_clear(&b);
    assert_int_equal(hotkey_print_info(&b, 1 << 20), STATUS_OK);
    assert_true(contains(&b, "hotkey_10s_1:key=a,rate=50,"));
    assert_true(contains(&b, "hotkey_60s_requests_per_sec:100\r\n"));
    buf_clear(&b);
    assert_int_equal(hotkey_print_prometheus(&b, 1 << 20), STATUS_OK);
    assert_true(contains(&b, "# TYPE segcached_hotkey_top_rate gauge\n"));
    assert_true(contains(&b, "segcached_hotkey_top_rate{rank=\"1\",key=\"a\","
                             "db=\"0\",proto=\"memcache+resp\"} 50\n"));
    assert_true(contains(&b, "segcached_hotkey_top_share{rank=\"2\","
                             "key=\"gone%20key\",db=\"0\",proto=\"resp\"} "
                             "0.3\n"));
    assert_true(contains(&b, "segcached_hotkey_top_miss_rate{rank=\"1\","));
    buf_deinit(&b);
}

/* At most hotkey.export series per gauge. */
static void
test_hotkey_export_bound(void **state)
{
    (void)state;
    hotkey_options_st o = {HOTKEY_OPTION(INIT_OPTION)};
    o.hotkey_sample_rate.val.OPTION_UINT = 1;
    o.hotkey_export.val.OPTION_UINT = 2;
    assert_int_equal(hotkey_setup(&o, NULL, 1), STATUS_OK);
    hotkey_worker_attach(0);
    hotkey_tick(1000);
    for (int k = 0; k < 50; k++) {
        char key[16];
        snprintf(key, sizeof(key), "k%d", k);
        for (int i = 0; i <= k; i++) {
            sample_str(key, HK_HIT, HOTKEY_PROTO_RESP);
        }
    }
    hotkey_tick(2000);
    struct buf b;
    assert_int_equal(buf_init(&b, 256), STATUS_OK);
    assert_int_equal(hotkey_print_prometheus(&b, 1 << 20), STATUS_OK);
    assert_true(contains(&b, "segcached_hotkey_top_rate{rank=\"2\","));
    assert_false(contains(&b, "segcached_hotkey_top_rate{rank=\"3\","));
    buf_deinit(&b);
}

static void
test_hotkey_reset(void **state)
{
    (void)state;
    setup_rate(1, 1);
    hotkey_worker_attach(0);
    feed_exact(2);
    struct hotkey_row rows[4];
    assert_int_equal(hotkey_report(0, false, rows, 4, NULL, NULL), 3);
    sample_str("old", HK_HIT, HOTKEY_PROTO_RESP);
    hotkey_reset();
    assert_int_equal(hotkey_report(0, false, rows, 4, NULL, NULL), 0);
    assert_int_equal(hotkey_report(1, true, rows, 4, NULL, NULL), 0);
    /* the seconds that ended are forgotten; the one in progress at the
     * reset is kept whole */
    sample_str("new", HK_HIT, HOTKEY_PROTO_RESP);
    sample_str("new", HK_HIT, HOTKEY_PROTO_RESP);
    hotkey_tick(4000);
    double seconds;
    assert_int_equal(hotkey_report(0, false, rows, 4, &seconds, NULL), 2);
    assert_string_equal(rows[0].key, "new");
    assert_string_equal(rows[1].key, "old");
    assert_true(near(seconds, 1.0));
    assert_int_equal(hotkey_report(1, false, rows, 4, &seconds, NULL), 2);
    assert_true(near(seconds, 1.0));
}

/* Off: nothing allocated, nothing reported, outputs say so. */
static void
test_hotkey_off(void **state)
{
    (void)state;
    setup_rate(0, 4);
    assert_false(hotkey_enabled());
    hotkey_worker_attach(0);
    sample_str("a", HK_HIT, HOTKEY_PROTO_RESP);
    hotkey_tick(1000);
    hotkey_reset();
    struct buf b;
    assert_int_equal(buf_init(&b, 256), STATUS_OK);
    assert_int_equal(hotkey_print_admin(&b, 1 << 20, NULL), STATUS_OK);
    assert_true(contains(&b, "HOTKEYS off"));
    buf_clear(&b);
    assert_int_equal(hotkey_print_prometheus(&b, 1 << 20), STATUS_OK);
    assert_int_equal(buf_rsize(&b), 0);
    buf_deinit(&b);
}

static uint64_t rng = 0x2545f4914f6cdd1dULL;

static double
uniform01(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) * (1.0 / 9007199254740992.0);
}

/* Uniform traffic over a million keys, then one key jumps to 5%: it is
 * listed first within 2 seconds, and logged once however long it stays. */
static void
test_hotkey_jump(void **state)
{
    (void)state;
    setup_rate(100, 1);
    hotkey_worker_attach(0);
    char key[32];
    uint64_t now = 1000;
    hotkey_tick(now);
    struct hotkey_row rows[3];
    for (int s = 0; s < 16; s++) {
        for (int i = 0; i < 200000; i++) {
            if (s >= 5 && i % 20 == 0) {
                sample_str("jump", HK_HIT, HOTKEY_PROTO_RESP);
                continue;
            }
            int len = snprintf(
                    key, sizeof(key), "u:%u", (unsigned)(uniform01() * 1e6));
            hotkey_sample(0, key, (size_t)len, HK_HIT, HOTKEY_PROTO_RESP);
        }
        now += 1000;
        hotkey_tick(now);
        size_t n = hotkey_report(0, false, rows, 3, NULL, NULL);
        if (s < 5) {
            assert_int_equal(metric_counter(&metrics.hotkey_hot), 0);
        } else { /* from its first second on */
            assert_true(n > 0);
            assert_string_equal(rows[0].key, "jump");
        }
    }
    assert_int_equal(metric_counter(&metrics.hotkey_hot), 1);
    assert_int_equal(metric_gauge(&metrics.hotkey_hot_curr), 1);
    size_t n = hotkey_report(0, false, rows, 3, NULL, NULL);
    assert_true(n > 0);
    assert_true(fabs(rows[0].share - 0.05) < 0.01);
}

/* Issue 20's accuracy target: Zipf(1.0) over 1,000,000 keys, sampled 1 in
 * 100, two workers: the 10 s window's top 10 holds at least 9 of the true
 * top 10, each share within 20% of the truth. */
#define ZIPF_N 1000000
static double *cdf;

static uint32_t
zipf_rank(void)
{
    double u = uniform01();
    uint32_t lo = 0, hi = ZIPF_N - 1;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (cdf[mid] < u) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

static void
test_hotkey_zipf_accuracy(void **state)
{
    (void)state;
    cdf = malloc(ZIPF_N * sizeof(double));
    assert_non_null(cdf);
    double h = 0;
    for (uint32_t i = 0; i < ZIPF_N; i++) {
        h += 1.0 / (i + 1);
        cdf[i] = h;
    }
    for (uint32_t i = 0; i < ZIPF_N; i++) {
        cdf[i] /= h;
    }
    setup_rate(100, 2);
    uint64_t now = 1000;
    hotkey_tick(now);
    char key[32];
    for (int s = 0; s < 10; s++) {
        for (int i = 0; i < 1000000; i++) {
            if (i % 1000 == 0) {
                hotkey_worker_attach((unsigned)(i / 1000) % 2);
            }
            int len = snprintf(key, sizeof(key), "z.%u", zipf_rank() + 1);
            hotkey_sample(0, key, (size_t)len, HK_HIT, HOTKEY_PROTO_MEMCACHE);
        }
        now += 1000;
        hotkey_tick(now);
    }
    struct hotkey_row rows[10];
    assert_int_equal(hotkey_report(0, false, rows, 10, NULL, NULL), 10);
    int in_top = 0;
    for (int i = 0; i < 10; i++) {
        unsigned r = (unsigned)atoi(rows[i].key + 2);
        if (r >= 1 && r <= 10) {
            double truth = 1.0 / r / h;
            in_top++;
            printf("rank %d: z.%u share %.4f truth %.4f (%+.1f%%) err %.0f\n",
                    i + 1, r, rows[i].share, truth,
                    100 * (rows[i].share / truth - 1), rows[i].err);
            assert_true(fabs(rows[i].share / truth - 1) <= 0.20);
        }
    }
    assert_true(in_top >= 9);
    free(cdf);
}

/* ---- races: workers, the admin tick and resets at once ---- */

static int stop;

static void *
worker_main(void *arg)
{
    hotkey_worker_attach((unsigned)(uintptr_t)arg);
    char key[32];
    uint64_t i = 0;
    while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
        int len = snprintf(key, sizeof(key), "r:%u",
                (unsigned)(i * 2654435761u) % (i % 3 == 0 ? 5 : 5000));
        hotkey_sample((uint8_t)(i % 2), key, (size_t)len,
                (hk_kind_e)(i % HK_NKIND), HOTKEY_PROTO_RESP);
        i++;
    }
    hotkey_worker_detach();
    return NULL;
}

static void *
admin_main(void *arg)
{
    (void)arg;
    uint64_t now = 1000;
    while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
        now += 1000;
        hotkey_tick(now);
    }
    return NULL;
}

static void *
reader_main(void *arg)
{
    (void)arg;
    struct buf b;
    if (buf_init(&b, 4096) != STATUS_OK) {
        return NULL;
    }
    while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
        hotkey_reset();
        buf_clear(&b);
        hotkey_print_admin(&b, 1 << 20, NULL);
        hotkey_print_stats(&b, 1 << 20);
        hotkey_print_info(&b, 1 << 20);
        hotkey_print_prometheus(&b, 1 << 20);
        struct timespec ts = {0, 2 * 1000 * 1000};
        nanosleep(&ts, NULL); /* ticks in between keep their seconds */
    }
    buf_deinit(&b);
    return NULL;
}

static void
test_hotkey_races(void **state)
{
    (void)state;
    setup_rate(3, 2);
    stop = 0;
    pthread_t w[2], a, r;
    for (uintptr_t i = 0; i < 2; i++) {
        assert_int_equal(
                pthread_create(&w[i], NULL, worker_main, (void *)i), 0);
    }
    assert_int_equal(pthread_create(&a, NULL, admin_main, NULL), 0);
    assert_int_equal(pthread_create(&r, NULL, reader_main, NULL), 0);
    struct timespec ts = {0, 400 * 1000 * 1000};
    nanosleep(&ts, NULL);
    __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < 2; i++) {
        pthread_join(w[i], NULL);
    }
    pthread_join(a, NULL);
    pthread_join(r, NULL);
    assert_true(metric_counter(&metrics.hotkey_sample) > 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test_teardown(test_hotkey_exact_report, teardown),
            cmocka_unit_test_teardown(test_hotkey_outputs, teardown),
            cmocka_unit_test_teardown(test_hotkey_export_bound, teardown),
            cmocka_unit_test_teardown(test_hotkey_reset, teardown),
            cmocka_unit_test_teardown(test_hotkey_off, teardown),
            cmocka_unit_test_teardown(test_hotkey_jump, teardown),
            cmocka_unit_test_teardown(test_hotkey_zipf_accuracy, teardown),
            cmocka_unit_test_teardown(test_hotkey_races, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
