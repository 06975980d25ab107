/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for timing_wheel, driven by an injected monotonic time. */
#include "base/timing_wheel.h"

#include "unit.h"

#include <stdint.h>

struct counter {
    int n;
    uint64_t *now; /* the test's clock, to note when a job ran */
    uint64_t last;
};

static void
count_cb(void *arg)
{
    struct counter *c = arg;
    c->n++;
    if (c->now != NULL) {
        c->last = *c->now;
    }
}

/* Executes at every millisecond from *now to until; returns jobs run. */
static size_t
run_until(struct timing_wheel *tw, uint64_t *now, uint64_t until)
{
    size_t n = 0;
    for (; *now <= until; (*now)++) {
        n += timing_wheel_execute(tw, *now);
    }
    *now = until;
    return n;
}

static void
test_timing_wheel_once(void **state)
{
    (void)state;
    uint64_t now = 1000;
    struct timing_wheel *tw = timing_wheel_create(10, 16, now);
    assert_non_null(tw);
    assert_int_equal(timing_wheel_timeout_ms(tw, now), -1);
    struct counter c = {0, &now, 0};
    assert_int_equal(
            timing_wheel_add(tw, 100, TIMER_ONCE, count_cb, &c), STATUS_OK);
    assert_int_equal(timing_wheel_njob(tw), 1);
    assert_int_equal(timing_wheel_timeout_ms(tw, now), 100);
    assert_int_equal(timing_wheel_timeout_ms(tw, now + 40), 60);
    assert_int_equal(run_until(tw, &now, 1099), 0);
    assert_int_equal(c.n, 0);
    now = 1100;
    assert_int_equal(run_until(tw, &now, 1200), 1);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.last, 1100); /* exactly at its tick */
    assert_int_equal(timing_wheel_njob(tw), 0);
    assert_int_equal(timing_wheel_timeout_ms(tw, now), -1);
    timing_wheel_destroy(&tw);
    assert_null(tw);
    timing_wheel_destroy(&tw);
}

static void
test_timing_wheel_round_up(void **state)
{
    (void)state;
    uint64_t now = 0;
    struct timing_wheel *tw = timing_wheel_create(10, 8, now);
    struct counter c = {0, &now, 0};
    now = 7;
    timing_wheel_execute(tw, now); /* the wheel learns the time is 7 */
    assert_int_equal(
            timing_wheel_add(tw, 25, TIMER_ONCE, count_cb, &c), STATUS_OK);
    /* due at 32: the tick ending at 40, never earlier */
    assert_int_equal(timing_wheel_timeout_ms(tw, now), 33);
    run_until(tw, &now, 100);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.last, 40);
    /* a zero delay runs at the next tick */
    assert_int_equal(
            timing_wheel_add(tw, 0, TIMER_ONCE, count_cb, &c), STATUS_OK);
    assert_int_equal(timing_wheel_timeout_ms(tw, now), 10);
    now = 101;
    run_until(tw, &now, 120);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.last, 110);
    timing_wheel_destroy(&tw);
}

static void
test_timing_wheel_recurring(void **state)
{
    (void)state;
    uint64_t now = 0;
    struct timing_wheel *tw = timing_wheel_create(10, 8, now);
    struct counter c = {0, &now, 0};
    assert_int_equal(timing_wheel_add(tw, 0, TIMER_RECURRING, count_cb, &c),
            STATUS_EINVAL);
    assert_int_equal(
            timing_wheel_add(tw, 50, TIMER_RECURRING, count_cb, &c), STATUS_OK);
    run_until(tw, &now, 1000);
    assert_int_equal(c.n, 20); /* at 50, 100, ..., 1000 */
    assert_int_equal(c.last, 1000);
    assert_int_equal(timing_wheel_njob(tw), 1);
    /* a period that is not a whole number of ticks keeps its cadence */
    struct counter d = {0, &now, 0};
    assert_int_equal(
            timing_wheel_add(tw, 25, TIMER_RECURRING, count_cb, &d), STATUS_OK);
    now = 1001;
    run_until(tw, &now, 2000);
    assert_int_equal(d.n, 40);
    /* a late execute runs a job once, then the cadence goes on */
    c.n = 0;
    now = 5000;
    timing_wheel_execute(tw, now);
    assert_int_equal(c.n, 1);
    now = 5001;
    run_until(tw, &now, 5100);
    assert_int_equal(c.n, 3); /* at 5050 and 5100 */
    assert_int_equal(c.last, 5100);
    timing_wheel_destroy(&tw); /* frees the recurring jobs (LSan) */
}

static void
test_timing_wheel_beyond_one_turn(void **state)
{
    (void)state;
    uint64_t now = 500;
    /* one turn is 4 slots x 10 ms = 40 ms */
    struct timing_wheel *tw = timing_wheel_create(10, 4, now);
    struct counter near = {0, &now, 0};
    struct counter far = {0, &now, 0};
    struct counter farther = {0, &now, 0};
    timing_wheel_add(tw, 20, TIMER_ONCE, count_cb, &near);
    timing_wheel_add(tw, 60, TIMER_ONCE, count_cb, &far); /* same slot + 4 */
    timing_wheel_add(tw, 1000, TIMER_ONCE, count_cb, &farther);
    assert_int_equal(timing_wheel_timeout_ms(tw, now), 20);
    run_until(tw, &now, 520);
    assert_int_equal(near.n, 1);
    assert_int_equal(far.n, 0); /* its slot came, its turn did not */
    assert_int_equal(timing_wheel_timeout_ms(tw, now), 40);
    run_until(tw, &now, 559);
    assert_int_equal(far.n, 0);
    run_until(tw, &now, 560);
    assert_int_equal(far.n, 1);
    assert_int_equal(far.last, 560);
    assert_int_equal(timing_wheel_timeout_ms(tw, now), 940);
    run_until(tw, &now, 1499);
    assert_int_equal(farther.n, 0);
    run_until(tw, &now, 1500);
    assert_int_equal(farther.n, 1);
    timing_wheel_destroy(&tw);
}

static void
test_timing_wheel_jump(void **state)
{
    (void)state;
    /* execute called rarely: a jump of many turns runs every due job once */
    uint64_t now = 0;
    struct timing_wheel *tw = timing_wheel_create(10, 4, now);
    struct counter c[6] = {{0}};
    for (int i = 0; i < 6; i++) {
        timing_wheel_add(
                tw, (uint64_t)(i + 1) * 30, TIMER_ONCE, count_cb, &c[i]);
    }
    timing_wheel_add(tw, 5000, TIMER_ONCE, count_cb, &c[0]);
    assert_int_equal(timing_wheel_execute(tw, 1000), 6);
    for (int i = 0; i < 6; i++) {
        assert_int_equal(c[i].n, 1);
    }
    assert_int_equal(timing_wheel_njob(tw), 1);
    assert_int_equal(timing_wheel_timeout_ms(tw, 1000), 4000);
    /* time going backwards is ignored */
    assert_int_equal(timing_wheel_execute(tw, 900), 0);
    assert_int_equal(timing_wheel_execute(tw, 5000), 1);
    assert_int_equal(c[0].n, 2);
    /* overdue: a timeout of 0 */
    timing_wheel_add(tw, 10, TIMER_ONCE, count_cb, &c[1]);
    assert_int_equal(timing_wheel_timeout_ms(tw, 6000), 0);
    timing_wheel_destroy(&tw);
}

struct chain {
    struct timing_wheel *tw;
    int n;
};

static void
chain_cb(void *arg)
{
    struct chain *ch = arg;
    ch->n++;
    if (ch->n < 3) { /* re-arms itself from inside a callback */
        timing_wheel_add(ch->tw, 0, TIMER_ONCE, chain_cb, ch);
    }
}

static void
test_timing_wheel_add_from_callback(void **state)
{
    (void)state;
    struct timing_wheel *tw = timing_wheel_create(10, 4, 0);
    struct chain ch = {tw, 0};
    timing_wheel_add(tw, 10, TIMER_ONCE, chain_cb, &ch);
    /* a job added by a callback never runs in the same execute */
    assert_int_equal(timing_wheel_execute(tw, 10), 1);
    assert_int_equal(ch.n, 1);
    assert_int_equal(timing_wheel_execute(tw, 10), 0);
    assert_int_equal(timing_wheel_execute(tw, 20), 1);
    assert_int_equal(timing_wheel_execute(tw, 30), 1);
    assert_int_equal(timing_wheel_execute(tw, 40), 0);
    assert_int_equal(ch.n, 3);
    timing_wheel_destroy(&tw);
}

static void
test_timing_wheel_bad_create(void **state)
{
    (void)state;
    assert_null(timing_wheel_create(0, 8, 0));
    assert_null(timing_wheel_create(10, 0, 0));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_timing_wheel_once),
            cmocka_unit_test(test_timing_wheel_round_up),
            cmocka_unit_test(test_timing_wheel_recurring),
            cmocka_unit_test(test_timing_wheel_beyond_one_turn),
            cmocka_unit_test(test_timing_wheel_jump),
            cmocka_unit_test(test_timing_wheel_add_from_callback),
            cmocka_unit_test(test_timing_wheel_bad_create),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
