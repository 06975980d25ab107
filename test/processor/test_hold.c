/* SPDX-License-Identifier: Apache-2.0 */
/* Stripe locks and holds (processor/keyspace.h): re-entrant per thread,
 * nested holds skip what the outer one has, a stripe below the held ones
 * is only tried (bounded) and a hold that cannot have it fails cleanly,
 * holds of many keys allocate, and threads taking overlapping holds in
 * any order neither deadlock nor lose updates made under them. */
#include "unit.h"

#include "processor/keyspace.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

static void
test_lock_reentrant(void **state)
{
    (void)state;
    ks_lock(7);
    ks_lock(7);
    assert_true(ks_holds(7));
    ks_unlock(7);
    assert_true(ks_holds(7));
    ks_unlock(7);
    assert_false(ks_holds(7));
}

static void
test_hold_nested(void **state)
{
    (void)state;
    struct ks_hold outer, inner;
    ks_hold_init(&outer);
    ks_hold_init(&inner);
    assert_true(ks_hold_add_stripe(&outer, 40));
    assert_true(ks_hold_add_stripe(&outer, 20));
    assert_true(ks_hold_add_stripe(&outer, 40)); /* twice: taken once */
    assert_true(ks_hold_take(&outer, 0));
    assert_int_equal(outer.ntaken, 2);
    assert_true(ks_holds(20) && ks_holds(40));
    /* commands inside lock their own keys and find them held */
    ks_lock(20);
    ks_unlock(20);
    assert_true(ks_hold_add_stripe(&inner, 40));
    assert_true(ks_hold_add_stripe(&inner, 90)); /* above: waited for */
    assert_true(ks_hold_take(&inner, 0));
    assert_int_equal(inner.ntaken, 1);
    ks_hold_release(&inner);
    assert_true(ks_holds(40));
    assert_false(ks_holds(90));
    ks_hold_release(&outer);
    assert_false(ks_holds(20) || ks_holds(40));
}

static void
test_hold_many_keys(void **state)
{
    (void)state;
    struct ks_hold h;
    ks_hold_init(&h);
    for (int i = 0; i < 200; i++) {
        char key[16];
        int n = snprintf(key, sizeof(key), "key:%d", i);
        assert_true(ks_hold_add(&h, 0, key, (size_t)n));
    }
    assert_true(ks_hold_take(&h, 0));
    assert_true(h.ntaken > KS_HOLD_LOCAL);
    for (uint32_t i = 1; i < h.ntaken; i++) {
        assert_true(h.s[i - 1] < h.s[i]); /* ascending, unique */
    }
    assert_true(ks_holds(ks_stripe(0, "key:7", 5)));
    ks_hold_release(&h);
    assert_false(ks_holds(ks_stripe(0, "key:7", 5)));
}

static void *
read_mark(void *arg)
{
    uintptr_t stripe = (uintptr_t)arg;
    return (void *)(uintptr_t)ks_stripe_mark((uint32_t)stripe);
}

/* A script keeps the stripes of its undeclared keys: a nested hold's
 * stripes move to the outer one and stay held after the nested hold is
 * released, until the outer one is; a stripe the outer already had is
 * not counted twice; past KS_HOLD_LOCAL the outer grows. */
static void
test_hold_keep(void **state)
{
    (void)state;
    struct ks_hold outer;
    ks_hold_init(&outer);
    assert_true(ks_hold_add_stripe(&outer, 30));
    assert_true(ks_hold_take(&outer, 0));
    for (uint32_t k = 0; k < 2 * KS_HOLD_LOCAL; k++) {
        struct ks_hold inner;
        ks_hold_init(&inner);
        assert_true(ks_hold_add_stripe(&inner, 30));      /* outer's */
        assert_true(ks_hold_add_stripe(&inner, 100 + k)); /* new */
        assert_true(ks_hold_take(&inner, 0));
        assert_int_equal(inner.ntaken, 1);
        assert_true(ks_hold_keep(&outer, &inner));
        assert_int_equal(inner.ntaken, 0);
        ks_hold_release(&inner);
        assert_true(ks_holds(100 + k)); /* kept */
        ks_stripe_set_mark(100 + k, 3);
    }
    /* a nested hold of kept stripes only takes nothing and keeps nothing */
    struct ks_hold again;
    ks_hold_init(&again);
    assert_true(ks_hold_add_stripe(&again, 100));
    assert_true(ks_hold_take(&again, 0));
    assert_int_equal(again.ntaken, 0);
    assert_true(ks_hold_keep(&outer, &again));
    ks_hold_release(&again);
    uint32_t n;
    const uint32_t *s = ks_hold_stripes(&outer, &n);
    assert_int_equal(n, 1 + 2 * KS_HOLD_LOCAL);
    assert_int_equal(s[0], 30);
    assert_int_equal(s[n - 1], 100 + 2 * KS_HOLD_LOCAL - 1);
    assert_true(ks_holds(30) && ks_holds(100));
    /* another thread sees a kept stripe's mark (a busy script's BUSY) */
    pthread_t t;
    void *mark;
    assert_int_equal(
            pthread_create(&t, NULL, read_mark, (void *)(uintptr_t)101), 0);
    assert_int_equal(pthread_join(t, &mark), 0);
    assert_int_equal((uintptr_t)mark, 3);
    ks_hold_release(&outer);
    for (uint32_t k = 0; k < 2 * KS_HOLD_LOCAL; k++) {
        assert_false(ks_holds(100 + k));
        assert_int_equal(ks_stripe_mark(100 + k), 0);
    }
    assert_false(ks_holds(30));
    s = ks_hold_stripes(&outer, &n);
    assert_int_equal(n, 0);
}

/* ---- across threads ---- */

struct other {
    pthread_mutex_t m;
    pthread_cond_t cv;
    int stage; /* 1: holds 5; 2: may release */
};

static void *
hold_five(void *arg)
{
    struct other *o = arg;
    ks_lock(5);
    pthread_mutex_lock(&o->m);
    o->stage = 1;
    pthread_cond_broadcast(&o->cv);
    while (o->stage != 2) {
        pthread_cond_wait(&o->cv, &o->m);
    }
    pthread_mutex_unlock(&o->m);
    ks_unlock(5);
    return NULL;
}

static void
test_hold_out_of_order_fails(void **state)
{
    (void)state;
    struct other o = {.stage = 0};
    pthread_mutex_init(&o.m, NULL);
    pthread_cond_init(&o.cv, NULL);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, hold_five, &o), 0);
    pthread_mutex_lock(&o.m);
    while (o.stage != 1) {
        pthread_cond_wait(&o.cv, &o.m);
    }
    pthread_mutex_unlock(&o.m);

    ks_lock(9); /* this thread holds 9: 5 is below, only tried */
    struct ks_hold h;
    ks_hold_init(&h);
    assert_true(ks_hold_add_stripe(&h, 5));
    assert_true(ks_hold_add_stripe(&h, 3));
    assert_false(ks_hold_take(&h, 2 * 1000 * 1000)); /* 2 ms */
    assert_false(ks_holds(3)); /* what it took is given back */
    assert_false(ks_holds(5));
    ks_hold_release(&h);

    pthread_mutex_lock(&o.m);
    o.stage = 2;
    pthread_cond_broadcast(&o.cv);
    pthread_mutex_unlock(&o.m);
    pthread_join(t, NULL);

    ks_hold_init(&h);
    assert_true(ks_hold_add_stripe(&h, 5));
    assert_true(ks_hold_take(&h, 1000 * 1000 * 1000ull));
    assert_true(ks_holds(5));
    ks_hold_release(&h);
    ks_unlock(9);
    pthread_mutex_destroy(&o.m);
    pthread_cond_destroy(&o.cv);
}

/* Counters changed only under a hold of their stripes: a transfer takes
 * two, a check takes all and sums. */
#define NCOUNT 8
#define ROUNDS 3000
static int64_t counters[NCOUNT];
static int sum_violations;

static void *
transfers(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    for (int i = 0; i < ROUNDS; i++) {
        seed = seed * 1103515245u + 12345u;
        uint32_t a = (seed >> 8) % NCOUNT, b = (seed >> 16) % NCOUNT;
        struct ks_hold h;
        ks_hold_init(&h);
        /* listed in any order: the hold sorts */
        ks_hold_add_stripe(&h, 100 + b * 3);
        ks_hold_add_stripe(&h, 100 + a * 3);
        assert_true(ks_hold_take(&h, 0));
        counters[a] -= 1;
        ks_lock(100 + b * 3); /* nested: counted only */
        counters[b] += 1;
        ks_unlock(100 + b * 3);
        ks_hold_release(&h);
        if (i % 16 == 0) {
            ks_hold_init(&h);
            for (uint32_t k = NCOUNT; k > 0; k--) {
                ks_hold_add_stripe(&h, 100 + (k - 1) * 3);
            }
            assert_true(ks_hold_take(&h, 0));
            int64_t s = 0;
            for (int k = 0; k < NCOUNT; k++) {
                s += counters[k];
            }
            if (s != 0) {
                __atomic_add_fetch(&sum_violations, 1, __ATOMIC_RELAXED);
            }
            ks_hold_release(&h);
        }
    }
    return NULL;
}

static void
test_holds_across_threads(void **state)
{
    (void)state;
    memset(counters, 0, sizeof(counters));
    pthread_t t[4];
    for (uintptr_t i = 0; i < 4; i++) {
        assert_int_equal(
                pthread_create(&t[i], NULL, transfers, (void *)(i + 1)), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
    }
    int64_t s = 0;
    for (int k = 0; k < NCOUNT; k++) {
        s += counters[k];
    }
    assert_int_equal(s, 0);
    assert_int_equal(sum_violations, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_lock_reentrant),
            cmocka_unit_test(test_hold_nested),
            cmocka_unit_test(test_hold_many_keys),
            cmocka_unit_test(test_hold_keep),
            cmocka_unit_test(test_hold_out_of_order_fails),
            cmocka_unit_test(test_holds_across_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
