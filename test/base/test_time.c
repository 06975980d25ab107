/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for time: clocks agree with the system's, memcached exptime cases
 * around 30 days, and Redis expiry overflow checks as Redis 7 makes them
 * (the expected values were checked against redis-server 7.0). */
#include "base/time.h"

#include "unit.h"

#include <stdint.h>
#include <time.h>

/* A fixed "now" on a whole second, and one with milliseconds. */
#define NOW_SEC 1700000000LL
#define NOW_MS  ((uint64_t)NOW_SEC * 1000)
#define NOW_ODD (NOW_MS + 123)
#define DAYS_30 (60LL * 60 * 24 * 30)

static uint64_t
realtime_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
test_time_clocks(void **state)
{
    (void)state;
    uint64_t before = realtime_ms();
    uint64_t now = time_now_ms();
    uint64_t after = realtime_ms();
    assert_true(before <= now && now <= after);
    assert_true(now > 1577836800000ULL); /* after 2020-01-01 */

    uint64_t ns1 = time_mono_ns();
    uint64_t ms = time_mono_ms();
    uint64_t ns2 = time_mono_ns();
    assert_true(ns1 <= ns2);
    assert_true(ns1 / 1000000 <= ms && ms <= ns2 / 1000000);
}

static void
test_time_memcache_never_and_negative(void **state)
{
    (void)state;
    assert_int_equal(time_memcache_expiry(0, NOW_ODD), TIME_NEVER);
    assert_int_equal(time_memcache_expiry(-1, NOW_ODD), TIME_EXPIRED);
    assert_int_equal(time_memcache_expiry(-DAYS_30, NOW_ODD), TIME_EXPIRED);
    assert_int_equal(time_memcache_expiry(INT64_MIN, NOW_ODD), TIME_EXPIRED);
    assert_true(time_expired(time_memcache_expiry(-1, NOW_ODD), NOW_ODD));
    assert_false(time_expired(time_memcache_expiry(0, NOW_ODD), NOW_ODD));
}

static void
test_time_memcache_relative(void **state)
{
    (void)state;
    assert_int_equal(time_memcache_expiry(1, NOW_ODD), NOW_ODD + 1000);
    assert_int_equal(time_memcache_expiry(100, NOW_ODD), NOW_ODD + 100000);
    /* exactly 30 days is still relative */
    assert_int_equal(time_memcache_expiry(DAYS_30, NOW_ODD),
            NOW_ODD + (uint64_t)DAYS_30 * 1000);
    assert_int_equal(TIME_MEMCACHE_RELATIVE_MAX, DAYS_30);
    assert_false(time_expired(time_memcache_expiry(1, NOW_ODD), NOW_ODD));
    assert_true(time_expired(
            time_memcache_expiry(1, NOW_ODD), NOW_ODD + 1000)); /* exact */
    assert_false(time_expired(time_memcache_expiry(1, NOW_ODD), NOW_ODD + 999));
}

static void
test_time_memcache_absolute(void **state)
{
    (void)state;
    /* 30 days + 1 is a unix time: 1970-01-31, long past */
    assert_int_equal(time_memcache_expiry(DAYS_30 + 1, NOW_ODD), TIME_EXPIRED);
    /* the past, now, and the future */
    assert_int_equal(time_memcache_expiry(NOW_SEC - 1, NOW_ODD), TIME_EXPIRED);
    assert_int_equal(time_memcache_expiry(NOW_SEC, NOW_MS), TIME_EXPIRED);
    assert_int_equal(time_memcache_expiry(NOW_SEC, NOW_ODD), TIME_EXPIRED);
    assert_int_equal(time_memcache_expiry(NOW_SEC + 1, NOW_ODD),
            (uint64_t)(NOW_SEC + 1) * 1000);
    assert_int_equal(time_memcache_expiry(NOW_SEC + 3600, NOW_ODD),
            (uint64_t)(NOW_SEC + 3600) * 1000);
    /* beyond memcached's 32 bits: saturates, never wraps into the past */
    assert_int_equal(time_memcache_expiry(INT64_MAX, NOW_ODD), INT64_MAX);
    assert_int_equal(
            time_memcache_expiry(INT64_MAX / 1000 + 1, NOW_ODD), INT64_MAX);
    assert_int_equal(time_memcache_expiry(INT64_MAX / 1000, NOW_ODD),
            (uint64_t)(INT64_MAX / 1000) * 1000);
}

struct redis_case {
    int64_t value;
    time_unit_e unit;
    rstatus_i status;
    int64_t expiry; /* when STATUS_OK */
};

static void
test_time_redis_expiry(void **state)
{
    (void)state;
    const int64_t now = (int64_t)NOW_ODD;
    const struct redis_case cases[] = {
            /* ordinary values */
            {10, TIME_REL_SEC, STATUS_OK, now + 10000},
            {10, TIME_REL_MS, STATUS_OK, now + 10},
            {NOW_SEC + 10, TIME_ABS_SEC, STATUS_OK, (NOW_SEC + 10) * 1000},
            {now + 10, TIME_ABS_MS, STATUS_OK, now + 10},
            /* SET k v EX 9223372036854775807: the multiplication overflows */
            {INT64_MAX, TIME_REL_SEC, STATUS_EINVAL, 0},
            {INT64_MAX / 1000 + 1, TIME_REL_SEC, STATUS_EINVAL, 0},
            /* multiplication fits, adding now does not */
            {INT64_MAX / 1000, TIME_REL_SEC, STATUS_EINVAL, 0},
            {INT64_MAX / 1000 - 1, TIME_REL_SEC, STATUS_EINVAL, 0},
            /* PX: only the addition */
            {INT64_MAX, TIME_REL_MS, STATUS_EINVAL, 0},
            {INT64_MAX - now + 1, TIME_REL_MS, STATUS_EINVAL, 0},
            {INT64_MAX - now, TIME_REL_MS, STATUS_OK, INT64_MAX},
            /* EXAT: multiplication only; PXAT: anything */
            {INT64_MAX / 1000, TIME_ABS_SEC, STATUS_OK,
                    INT64_MAX / 1000 * 1000},
            {INT64_MAX / 1000 + 1, TIME_ABS_SEC, STATUS_EINVAL, 0},
            {INT64_MAX, TIME_ABS_MS, STATUS_OK, INT64_MAX},
            /* negative values (EXPIRE allows them): result in the past */
            {-1, TIME_REL_SEC, STATUS_OK, now - 1000},
            {-1, TIME_ABS_MS, STATUS_OK, -1},
            {INT64_MIN / 1000, TIME_REL_SEC, STATUS_OK,
                    INT64_MIN / 1000 * 1000 + now},
            {INT64_MIN / 1000 - 1, TIME_REL_SEC, STATUS_EINVAL, 0},
            {INT64_MIN / 1000 - 1, TIME_ABS_SEC, STATUS_EINVAL, 0},
            {INT64_MIN, TIME_REL_MS, STATUS_OK, INT64_MIN + now},
            {0, TIME_REL_SEC, STATUS_OK, now},
            /* already past: returned as is, the caller decides */
            {1, TIME_ABS_MS, STATUS_OK, 1},
            {1, TIME_ABS_SEC, STATUS_OK, 1000},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct redis_case *c = &cases[i];
        int64_t expiry = 42;
        rstatus_i status =
                time_redis_expiry(c->value, c->unit, NOW_ODD, &expiry);
        if (status != c->status ||
                (status == STATUS_OK && expiry != c->expiry)) {
            print_message("case %zu: %lld unit %d\n", i, (long long)c->value,
                    (int)c->unit);
        }
        assert_int_equal(status, c->status);
        if (c->status == STATUS_OK) {
            assert_int_equal(expiry, c->expiry);
        } else {
            assert_int_equal(expiry, 42); /* untouched on failure */
        }
    }
}

static void
test_time_expired(void **state)
{
    (void)state;
    assert_false(time_expired(TIME_NEVER, 0));
    assert_false(time_expired(TIME_NEVER, UINT64_MAX));
    assert_true(time_expired(TIME_EXPIRED, NOW_MS));
    assert_true(time_expired(NOW_MS, NOW_MS));
    assert_false(time_expired(NOW_MS + 1, NOW_MS));
    assert_true(time_expired(NOW_MS - 1, NOW_MS));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_time_clocks),
            cmocka_unit_test(test_time_memcache_never_and_negative),
            cmocka_unit_test(test_time_memcache_relative),
            cmocka_unit_test(test_time_memcache_absolute),
            cmocka_unit_test(test_time_redis_expiry),
            cmocka_unit_test(test_time_expired),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
