/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for metric: table init, updates from threads, reset, and the exact
 * STAT and Prometheus text, including a buffer that is too small. */
#include "base/metric.h"

#include "base/histogram.h"
#include "base/util.h"

#include "unit.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>

/* clang-format off */
#define TEST_METRIC(ACTION)                                            \
    ACTION( test_get,   METRIC_COUNTER,   "# gets"                   ) \
    ACTION( test_conns, METRIC_GAUGE,     "# open now"               ) \
    ACTION( test_lat,   METRIC_HISTOGRAM, "get latency ns\\ \"x\"\nz" )
/* clang-format on */
typedef struct {
    TEST_METRIC(DECLARE_METRIC)
} test_metrics_st;

static test_metrics_st metrics = {TEST_METRIC(INIT_METRIC)};
#define NMETRIC METRIC_CARDINALITY(metrics)

static int
setup(void **state)
{
    (void)state;
    return metric_init((struct metric *)&metrics, NMETRIC) == STATUS_OK ? 0
                                                                        : -1;
}

static int
teardown(void **state)
{
    (void)state;
    metric_deinit((struct metric *)&metrics, NMETRIC);
    return 0;
}

static void
test_metric_table(void **state)
{
    (void)state;
    assert_int_equal(NMETRIC, 3);
    assert_string_equal(metrics.test_get.name, "test_get");
    assert_string_equal(metrics.test_conns.desc, "# open now");
    assert_int_equal(metrics.test_lat.type, METRIC_HISTOGRAM);
    assert_non_null(metrics.test_lat.histogram);
    test_metrics_st *none = NULL;
    INCR(none, test_get); /* no metrics: nothing counted, no crash */
    RECORD(none, test_lat, 5);
}

#define NTHREAD 4
#define NITER   100000

static void *
updater(void *arg)
{
    test_metrics_st *m = arg;
    for (int i = 0; i < NITER; i++) {
        INCR(m, test_get);
        INCR_N(m, test_get, 2);
        INCR(m, test_conns);
        INCR(m, test_conns);
        DECR(m, test_conns);
        RECORD(m, test_lat, (uint64_t)i);
    }
    return NULL;
}

static void
test_metric_threads(void **state)
{
    (void)state;
    metric_reset((struct metric *)&metrics, NMETRIC);
    UPDATE_VAL(&metrics, test_conns, 0);
    pthread_t t[NTHREAD];
    for (int i = 0; i < NTHREAD; i++) {
        assert_int_equal(pthread_create(&t[i], NULL, updater, &metrics), 0);
    }
    for (int i = 0; i < NTHREAD; i++) {
        pthread_join(t[i], NULL);
    }
    assert_int_equal(metric_counter(&metrics.test_get), 3 * NTHREAD * NITER);
    assert_int_equal(metric_gauge(&metrics.test_conns), NTHREAD * NITER);
    assert_int_equal(
            histogram_count(metrics.test_lat.histogram), NTHREAD * NITER);
    /* a gauge goes below zero */
    UPDATE_VAL(&metrics, test_conns, 1);
    DECR_N(&metrics, test_conns, 3);
    assert_int_equal(metric_gauge(&metrics.test_conns), -2);
}

static void *
sharded_updater(void *arg)
{
    test_metrics_st *m = arg;
    assert_int_equal(metric_thread_register(), STATUS_OK);
    assert_int_equal(metric_thread_register(), STATUS_OK); /* idempotent */
    uint64_t *mine = metric_shard;
    for (int i = 0; i < NITER; i++) {
        INCR(m, test_get);
        INCR_N(m, test_get, 2);
        INCR(m, test_conns); /* gauges are sharded too */
    }
    /* the thread's own slots hold its counts: nothing went to the shared
     * values */
    assert_int_equal(mine[m->test_get.slot], 3 * NITER);
    assert_int_equal(mine[m->test_conns.slot], NITER);
    /* a shard shares no cache line with another allocation */
    assert_int_equal((uintptr_t)mine % CACHE_LINE, 0);
    return NULL;
}

/* Counters of registered threads go to per-thread shards and outlive the
 * threads; unregistered threads add atomically; reads, reset and set see
 * the sum. */
static void
test_metric_sharded_threads(void **state)
{
    (void)state;
    metric_reset((struct metric *)&metrics, NMETRIC);
    UPDATE_VAL(&metrics, test_conns, 0);
    assert_true(metrics.test_get.slot != 0);
    assert_true(metrics.test_conns.slot != 0);
    assert_true(metrics.test_conns.slot != metrics.test_get.slot);
    pthread_t t[NTHREAD];
    for (int i = 0; i < NTHREAD; i++) {
        assert_int_equal(
                pthread_create(&t[i], NULL,
                        i % 2 == 0 ? sharded_updater : updater, &metrics),
                0);
    }
    for (int i = 0; i < NTHREAD; i++) {
        pthread_join(t[i], NULL);
    }
    assert_int_equal(metric_counter(&metrics.test_get), 3 * NTHREAD * NITER);
    assert_int_equal(
            metric_shard_sum(metrics.test_get.slot), 3 * (NTHREAD / 2) * NITER);
    assert_int_equal(metric_gauge(&metrics.test_conns),
            NTHREAD * NITER); /* +2 -1 in updater, +1 in sharded_updater */
    /* reset cancels what the shards hold; counting goes on from zero */
    metric_reset((struct metric *)&metrics, NMETRIC);
    assert_int_equal(metric_counter(&metrics.test_get), 0);
    assert_int_equal(pthread_create(&t[0], NULL, sharded_updater, &metrics), 0);
    pthread_join(t[0], NULL);
    assert_int_equal(metric_counter(&metrics.test_get), 3 * NITER);
    UPDATE_VAL(&metrics, test_get, 5); /* set: the sum reads 5 */
    assert_int_equal(metric_counter(&metrics.test_get), 5);
    /* a gauge set while shards hold increments reads what was set */
    UPDATE_VAL(&metrics, test_conns, -7);
    assert_int_equal(metric_gauge(&metrics.test_conns), -7);
    /* a slot handed out by a new init starts from zero in every shard */
    metric_deinit((struct metric *)&metrics, NMETRIC);
    assert_int_equal(
            metric_init((struct metric *)&metrics, NMETRIC), STATUS_OK);
    assert_int_equal(metric_counter(&metrics.test_get), 0);
    metric_shards_teardown();
    assert_int_equal(metric_shard_sum(metrics.test_get.slot), 0);
}

static void
test_metric_reset(void **state)
{
    (void)state;
    INCR_N(&metrics, test_get, 5);
    UPDATE_VAL(&metrics, test_conns, 42);
    RECORD(&metrics, test_lat, 100);
    metric_reset((struct metric *)&metrics, NMETRIC);
    assert_int_equal(metric_counter(&metrics.test_get), 0);
    assert_int_equal(metric_gauge(&metrics.test_conns), 42); /* kept */
    assert_int_equal(histogram_count(metrics.test_lat.histogram), 0);
    assert_int_equal(histogram_sum(metrics.test_lat.histogram), 0);
}

/* A known state: 7 gets, -3 conns, latencies 10 x 90 and 1000 x 10. */
static void
known_state(void)
{
    metric_reset((struct metric *)&metrics, NMETRIC);
    INCR_N(&metrics, test_get, 7);
    UPDATE_VAL(&metrics, test_conns, -3);
    for (int i = 0; i < 90; i++) {
        RECORD(&metrics, test_lat, 10);
    }
    for (int i = 0; i < 10; i++) {
        RECORD(&metrics, test_lat, 1000);
    }
}

static void
test_metric_print_stat(void **state)
{
    (void)state;
    known_state();
    char out[1024];
    size_t len = 0;
    out[0] = '\0';
    struct metric *m = (struct metric *)&metrics;
    for (size_t i = 0; i < NMETRIC; i++) {
        assert_int_equal(metric_print_stat(out, sizeof(out), &len, &m[i], "x_"),
                STATUS_OK);
    }
    assert_string_equal(out, "STAT x_test_get 7\r\n"
                             "STAT x_test_conns -3\r\n"
                             "STAT x_test_lat_p50 10\r\n"
                             "STAT x_test_lat_p90 10\r\n"
                             "STAT x_test_lat_p99 1003\r\n"
                             "STAT x_test_lat_p999 1003\r\n"
                             "STAT x_test_lat_p9999 1003\r\n"
                             "STAT x_test_lat_count 100\r\n");
    assert_int_equal(len, strlen(out));
    len = 0;
    assert_int_equal(
            metric_print_stat(out, sizeof(out), &len, &metrics.test_get, NULL),
            STATUS_OK);
    assert_string_equal(out, "STAT test_get 7\r\n");
}

static void
test_metric_print_prometheus(void **state)
{
    (void)state;
    known_state();
    char out[2048];
    size_t len = 0;
    struct metric *m = (struct metric *)&metrics;
    for (size_t i = 0; i < NMETRIC; i++) {
        assert_int_equal(metric_print_prometheus(
                                 out, sizeof(out), &len, &m[i], "segcached_"),
                STATUS_OK);
    }
    assert_string_equal(out,
            "# HELP segcached_test_get_total Number of gets\n"
            "# TYPE segcached_test_get_total counter\n"
            "segcached_test_get_total 7\n"
            "# HELP segcached_test_conns Number of open now\n"
            "# TYPE segcached_test_conns gauge\n"
            "segcached_test_conns -3\n"
            "# HELP segcached_test_lat_seconds get latency ns\\\\ \"x\"\\nz\n"
            "# TYPE segcached_test_lat_seconds summary\n"
            "segcached_test_lat_seconds{quantile=\"0.5\"} 0.000000010\n"
            "segcached_test_lat_seconds{quantile=\"0.9\"} 0.000000010\n"
            "segcached_test_lat_seconds{quantile=\"0.99\"} 0.000001003\n"
            "segcached_test_lat_seconds{quantile=\"0.999\"} 0.000001003\n"
            "segcached_test_lat_seconds{quantile=\"0.9999\"} 0.000001003\n"
            "segcached_test_lat_seconds_sum 0.000010900\n"
            "segcached_test_lat_seconds_count 100\n");
    assert_int_equal(len, strlen(out));
}

/* Regression (issue 23): dashboards expect counters' samples to end in
 * "_total" and durations in seconds, whatever unit a table counts in. */
static void
test_issue_23_prometheus_names_and_units(void **state)
{
    (void)state;
    /* clang-format off */
#define UNIT_METRIC(ACTION)                                              \
    ACTION( conn_total, METRIC_COUNTER, "# accepted"                 ) \
    ACTION( spent_us,   METRIC_COUNTER, "time spent"                 ) \
    ACTION( max_us,     METRIC_GAUGE,   "longest"                    ) \
    ACTION( neg_ms,     METRIC_GAUGE,   "below zero"                 ) \
    ACTION( run_ns,     METRIC_COUNTER, "ns counter"                 )
    /* clang-format on */
    struct {
        UNIT_METRIC(DECLARE_METRIC)
    } u = {UNIT_METRIC(INIT_METRIC)};
    metric_incr_n(&u.conn_total, 3);
    metric_incr_n(&u.spent_us, 1500001);
    metric_set(&u.max_us, 42);
    metric_set(&u.neg_ms, -1250);
    metric_incr_n(&u.run_ns, 2);
    char out[2048];
    size_t len = 0;
    struct metric *m = (struct metric *)&u;
    for (size_t i = 0; i < sizeof(u) / sizeof(struct metric); i++) {
        assert_int_equal(
                metric_print_prometheus(out, sizeof(out), &len, &m[i], "s_"),
                STATUS_OK);
    }
    assert_string_equal(out, "# HELP s_conn_total Number of accepted\n"
                             "# TYPE s_conn_total counter\n"
                             "s_conn_total 3\n"
                             "# HELP s_spent_seconds_total time spent\n"
                             "# TYPE s_spent_seconds_total counter\n"
                             "s_spent_seconds_total 1.500001\n"
                             "# HELP s_max_seconds longest\n"
                             "# TYPE s_max_seconds gauge\n"
                             "s_max_seconds 0.000042\n"
                             "# HELP s_neg_seconds below zero\n"
                             "# TYPE s_neg_seconds gauge\n"
                             "s_neg_seconds -1.250\n"
                             "# HELP s_run_seconds_total ns counter\n"
                             "# TYPE s_run_seconds_total counter\n"
                             "s_run_seconds_total 0.000000002\n");
#undef UNIT_METRIC
}

/* Regression (issue 23): units are plural in Prometheus names ("_bytes",
 * not "_byte"), and a metric whose table name lacks its unit is printed
 * under a whole family name that has it. */
static void
test_issue_23_prometheus_plural_units_and_named_family(void **state)
{
    (void)state;
    /* clang-format off */
#define UNIT_METRIC(ACTION)                                              \
    ACTION( read_byte,  METRIC_COUNTER, "# bytes read"               ) \
    ACTION( held_byte,  METRIC_GAUGE,   "bytes held"                 ) \
    ACTION( uptime,     METRIC_GAUGE,   "seconds since start"        ) \
    ACTION( req,        METRIC_COUNTER, "# requests"                 )
    /* clang-format on */
    struct {
        UNIT_METRIC(DECLARE_METRIC)
    } u = {UNIT_METRIC(INIT_METRIC)};
    metric_incr_n(&u.read_byte, 10);
    metric_set(&u.held_byte, 7);
    metric_set(&u.uptime, 5);
    metric_incr_n(&u.req, 2);
    char out[2048];
    size_t len = 0;
    assert_int_equal(
            metric_print_prometheus(out, sizeof(out), &len, &u.read_byte, "s_"),
            STATUS_OK);
    assert_int_equal(
            metric_print_prometheus(out, sizeof(out), &len, &u.held_byte, "s_"),
            STATUS_OK);
    assert_int_equal(metric_print_prometheus_as(out, sizeof(out), &len,
                             &u.uptime, "s_uptime_seconds"),
            STATUS_OK);
    assert_int_equal(metric_print_prometheus_as(
                             out, sizeof(out), &len, &u.req, "s_requests"),
            STATUS_OK);
    assert_string_equal(out, "# HELP s_read_bytes_total Number of bytes read\n"
                             "# TYPE s_read_bytes_total counter\n"
                             "s_read_bytes_total 10\n"
                             "# HELP s_held_bytes bytes held\n"
                             "# TYPE s_held_bytes gauge\n"
                             "s_held_bytes 7\n"
                             "# HELP s_uptime_seconds seconds since start\n"
                             "# TYPE s_uptime_seconds gauge\n"
                             "s_uptime_seconds 5\n"
                             "# HELP s_requests_total Number of requests\n"
                             "# TYPE s_requests_total counter\n"
                             "s_requests_total 2\n");
    /* a family name that does not fit is refused, nothing written */
    char big[200];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    size_t before = len;
    assert_int_equal(
            metric_print_prometheus_as(out, sizeof(out), &len, &u.uptime, big),
            STATUS_EINVAL);
    assert_int_equal(len, before);
#undef UNIT_METRIC
}

static void
test_metric_print_full(void **state)
{
    (void)state;
    known_state();
    char out[64];
    size_t len = 0;
    assert_int_equal(
            metric_print_stat(out, sizeof(out), &len, &metrics.test_get, ""),
            STATUS_OK);
    size_t before = len;
    /* the histogram needs more than what is left: nothing of it stays */
    assert_int_equal(
            metric_print_stat(out, sizeof(out), &len, &metrics.test_lat, ""),
            STATUS_EFULL);
    assert_int_equal(len, before);
    assert_string_equal(out, "STAT test_get 7\r\n");
    assert_int_equal(metric_print_prometheus(
                             out, sizeof(out), &len, &metrics.test_get, ""),
            STATUS_EFULL);
    assert_string_equal(out, "STAT test_get 7\r\n");
    /* exactly fits: 17 bytes + NUL in 18 */
    char exact[18];
    len = 0;
    assert_int_equal(metric_print_stat(
                             exact, sizeof(exact), &len, &metrics.test_get, ""),
            STATUS_OK);
    assert_int_equal(len, 17);
    len = 0;
    assert_int_equal(metric_print_stat(exact, sizeof(exact) - 1, &len,
                             &metrics.test_get, ""),
            STATUS_EFULL);
    assert_int_equal(len, 0);
    assert_string_equal(exact, "");
    assert_int_equal(metric_print_stat(exact, 0, &len, &metrics.test_get, ""),
            STATUS_EFULL);
}

static void
test_metric_uninitialized_histogram(void **state)
{
    (void)state;
    /* a table that was never metric_init'ed prints zeros, records nothing */
    test_metrics_st raw = {TEST_METRIC(INIT_METRIC)};
    RECORD(&raw, test_lat, 5);
    char out[512];
    size_t len = 0;
    assert_int_equal(
            metric_print_stat(out, sizeof(out), &len, &raw.test_lat, ""),
            STATUS_OK);
    assert_non_null(strstr(out, "STAT test_lat_p99 0\r\n"));
    assert_non_null(strstr(out, "STAT test_lat_count 0\r\n"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_metric_table),
            cmocka_unit_test(test_metric_threads),
            cmocka_unit_test(test_metric_sharded_threads),
            cmocka_unit_test(test_metric_reset),
            cmocka_unit_test(test_metric_print_stat),
            cmocka_unit_test(test_metric_print_prometheus),
            cmocka_unit_test(test_issue_23_prometheus_names_and_units),
            cmocka_unit_test(
                    test_issue_23_prometheus_plural_units_and_named_family),
            cmocka_unit_test(test_metric_print_full),
            cmocka_unit_test(test_metric_uninitialized_histogram),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
