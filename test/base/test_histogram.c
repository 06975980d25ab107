/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for histogram: percentiles of known distributions within the
 * documented error, every bucket edge, reset, concurrent recording. */
#include "base/histogram.h"

#include "unit.h"

#include <pthread.h>
#include <stdint.h>

/* reported must be the true value or above it by the relative error */
static void
assert_within(uint64_t reported, uint64_t truth)
{
    assert_true(reported >= truth);
    assert_true((double)reported <= (double)truth * (1 + HISTOGRAM_REL_ERROR));
}

static void
test_histogram_empty(void **state)
{
    (void)state;
    struct histogram *h = histogram_create();
    assert_non_null(h);
    assert_int_equal(histogram_count(h), 0);
    assert_int_equal(histogram_sum(h), 0);
    assert_int_equal(histogram_percentile(h, 0.5), 0);
    assert_int_equal(histogram_percentile(h, 1.0), 0);
    histogram_destroy(&h);
    assert_null(h);
    histogram_destroy(&h);
}

static void
test_histogram_uniform(void **state)
{
    (void)state;
    struct histogram *h = histogram_create();
    const uint64_t n = 1000000;
    uint64_t sum = 0;
    for (uint64_t v = 1; v <= n; v++) {
        histogram_record(h, v);
        sum += v;
    }
    assert_int_equal(histogram_count(h), n);
    assert_int_equal(histogram_sum(h), sum);
    const double qs[] = {0.0, 0.001, 0.1, 0.5, 0.9, 0.99, 0.999, 0.9999, 1};
    uint64_t out[9];
    assert_int_equal(histogram_percentiles(h, qs, 9, out), n);
    for (size_t i = 0; i < 9; i++) {
        /* the value of rank ceil(q * n) in 1..n is that rank */
        uint64_t truth = (uint64_t)(qs[i] * (double)n + 0.999999);
        truth = truth == 0 ? 1 : truth;
        assert_within(out[i], truth);
        assert_int_equal(histogram_percentile(h, qs[i]), out[i]);
    }
    assert_int_equal(out[0], 1);    /* small values are exact */
    assert_int_equal(out[1], 1003); /* bucket 1000..1003: its upper bound */
    histogram_destroy(&h);
}

static void
test_histogram_constant(void **state)
{
    (void)state;
    struct histogram *h = histogram_create();
    for (int i = 0; i < 1000; i++) {
        histogram_record(h, 123456789);
    }
    for (double q = 0; q <= 1.0; q += 0.125) {
        assert_within(histogram_percentile(h, q), 123456789);
    }
    assert_int_equal(histogram_sum(h), 123456789000ULL);
    histogram_reset(h);
    assert_int_equal(histogram_count(h), 0);
    assert_int_equal(histogram_sum(h), 0);
    assert_int_equal(histogram_percentile(h, 0.5), 0);
    for (int i = 0; i < 10; i++) {
        histogram_record(h, 77); /* below 128: exact */
    }
    assert_int_equal(histogram_percentile(h, 0.99), 77);
    histogram_destroy(&h);
}

static void
test_histogram_edges(void **state)
{
    (void)state;
    /* every power of two, its neighbours and the extremes fall in a bucket
     * whose upper bound is within the error */
    struct histogram *h = histogram_create();
    for (unsigned k = 0; k < 64; k++) {
        uint64_t p = 1ULL << k;
        uint64_t vals[] = {p - 1, p, p + 1, p + p / 3};
        for (size_t i = 0; i < 4; i++) {
            histogram_reset(h);
            histogram_record(h, vals[i]);
            assert_within(histogram_percentile(h, 0.5), vals[i]);
        }
    }
    histogram_reset(h);
    histogram_record(h, UINT64_MAX);
    assert_true(histogram_percentile(h, 1.0) == UINT64_MAX);
    histogram_record(h, 0);
    assert_int_equal(histogram_percentile(h, 0.0), 0);
    assert_int_equal(histogram_count(h), 2);
    histogram_destroy(&h);
}

static void
test_histogram_two_values(void **state)
{
    (void)state;
    struct histogram *h = histogram_create();
    for (int i = 0; i < 90; i++) {
        histogram_record(h, 10);
    }
    for (int i = 0; i < 10; i++) {
        histogram_record(h, 1000000);
    }
    assert_int_equal(histogram_percentile(h, 0.5), 10);
    assert_int_equal(histogram_percentile(h, 0.9), 10);
    assert_within(histogram_percentile(h, 0.91), 1000000);
    assert_within(histogram_percentile(h, 0.999), 1000000);
    histogram_destroy(&h);
}

#define PER_THREAD 200000

static void *
recorder(void *arg)
{
    struct histogram *h = arg;
    for (uint64_t i = 0; i < PER_THREAD; i++) {
        histogram_record(h, i % 5000);
    }
    return NULL;
}

static void
test_histogram_concurrent(void **state)
{
    (void)state;
    struct histogram *h = histogram_create();
    pthread_t t[2];
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pthread_create(&t[i], NULL, recorder, h), 0);
    }
    for (int i = 0; i < 100; i++) { /* a reader racing the writers */
        (void)histogram_percentile(h, 0.99);
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(t[i], NULL);
    }
    assert_int_equal(histogram_count(h), 2 * PER_THREAD);
    uint64_t per = (uint64_t)(PER_THREAD / 5000) * (4999 * 5000 / 2);
    assert_int_equal(histogram_sum(h), 2 * per);
    assert_within(histogram_percentile(h, 0.5), 2500);
    histogram_destroy(&h);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_histogram_empty),
            cmocka_unit_test(test_histogram_uniform),
            cmocka_unit_test(test_histogram_constant),
            cmocka_unit_test(test_histogram_edges),
            cmocka_unit_test(test_histogram_two_values),
            cmocka_unit_test(test_histogram_concurrent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
