/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for ring_array: empty, full, exact capacity, wrap-around, and a
 * producer and a consumer thread moving millions of elements in order. */
#include "base/ring_array.h"

#include "unit.h"

#include <pthread.h>
#include <sched.h>
#include <stdint.h>

static void
test_ring_array_empty(void **state)
{
    (void)state;
    struct ring_array *ra = ring_array_create(sizeof(uint64_t), 4);
    assert_non_null(ra);
    uint64_t v = 7;
    assert_int_equal(ring_array_count(ra), 0);
    assert_int_equal(ring_array_pop(ra, &v), STATUS_EEMPTY);
    assert_int_equal(v, 7); /* untouched */
    assert_int_equal(ring_array_push(ra, &v), STATUS_OK);
    assert_int_equal(ring_array_count(ra), 1);
    v = 0;
    assert_int_equal(ring_array_pop(ra, &v), STATUS_OK);
    assert_int_equal(v, 7);
    assert_int_equal(ring_array_pop(ra, &v), STATUS_EEMPTY);
    ring_array_destroy(&ra);
    assert_null(ra);
    ring_array_destroy(&ra); /* NULL-safe */
}

/* Exactly cap elements fit, for power-of-two and other capacities. */
static void
test_ring_array_full(void **state)
{
    (void)state;
    const size_t caps[] = {1, 2, 3, 5, 8, 1000};
    for (size_t c = 0; c < sizeof(caps) / sizeof(caps[0]); c++) {
        size_t cap = caps[c];
        struct ring_array *ra = ring_array_create(sizeof(size_t), cap);
        assert_non_null(ra);
        assert_int_equal(ring_array_cap(ra), cap);
        for (size_t i = 0; i < cap; i++) {
            assert_int_equal(ring_array_push(ra, &i), STATUS_OK);
        }
        assert_int_equal(ring_array_count(ra), cap);
        size_t extra = 99;
        assert_int_equal(ring_array_push(ra, &extra), STATUS_EFULL);
        size_t v;
        assert_int_equal(ring_array_pop(ra, &v), STATUS_OK);
        assert_int_equal(v, 0);
        /* one slot freed: one push fits, the next does not */
        assert_int_equal(ring_array_push(ra, &extra), STATUS_OK);
        assert_int_equal(ring_array_push(ra, &extra), STATUS_EFULL);
        for (size_t i = 1; i < cap; i++) {
            assert_int_equal(ring_array_pop(ra, &v), STATUS_OK);
            assert_int_equal(v, i);
        }
        assert_int_equal(ring_array_pop(ra, &v), STATUS_OK);
        assert_int_equal(v, 99);
        assert_int_equal(ring_array_pop(ra, &v), STATUS_EEMPTY);
        ring_array_destroy(&ra);
    }
}

/* Elements wider than a word, over many wrap-arounds of a small ring. */
struct wide {
    uint32_t a;
    char pad[13];
    uint64_t b;
};

static void
test_ring_array_wrap(void **state)
{
    (void)state;
    struct ring_array *ra = ring_array_create(sizeof(struct wide), 3);
    assert_non_null(ra);
    uint32_t next_in = 0;
    uint32_t next_out = 0;
    for (int round = 0; round < 100; round++) {
        int n = 1 + round % 3;
        for (int i = 0; i < n; i++) {
            struct wide w = {.a = next_in, .b = (uint64_t)next_in * 3};
            assert_int_equal(ring_array_push(ra, &w), STATUS_OK);
            next_in++;
        }
        for (int i = 0; i < n; i++) {
            struct wide w;
            assert_int_equal(ring_array_pop(ra, &w), STATUS_OK);
            assert_int_equal(w.a, next_out);
            assert_int_equal(w.b, (uint64_t)next_out * 3);
            next_out++;
        }
        assert_int_equal(ring_array_count(ra), 0);
    }
    ring_array_destroy(&ra);
}

static void
test_ring_array_bad_args(void **state)
{
    (void)state;
    assert_null(ring_array_create(8, (size_t)-1));
    assert_null(ring_array_create((size_t)-1, 4));
}

#define N_MOVE 5000000ULL

static void *
producer(void *arg)
{
    struct ring_array *ra = arg;
    for (uint64_t i = 1; i <= N_MOVE; i++) {
        while (ring_array_push(ra, &i) == STATUS_EFULL) {
            sched_yield();
        }
    }
    return NULL;
}

static void
test_ring_array_two_threads(void **state)
{
    (void)state;
    struct ring_array *ra = ring_array_create(sizeof(uint64_t), 1024);
    assert_non_null(ra);
    pthread_t tid;
    assert_int_equal(pthread_create(&tid, NULL, producer, ra), 0);

    uint64_t expect = 1;
    uint64_t bad = 0;
    while (expect <= N_MOVE) {
        uint64_t v;
        if (ring_array_pop(ra, &v) == STATUS_EEMPTY) {
            sched_yield();
            continue;
        }
        assert_true(ring_array_count(ra) <= 1024);
        bad += v != expect;
        expect++;
    }
    assert_int_equal(pthread_join(tid, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(expect - 1, N_MOVE);
    uint64_t v;
    assert_int_equal(ring_array_pop(ra, &v), STATUS_EEMPTY);
    assert_int_equal(ring_array_count(ra), 0);
    ring_array_destroy(&ra);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_ring_array_empty),
            cmocka_unit_test(test_ring_array_full),
            cmocka_unit_test(test_ring_array_wrap),
            cmocka_unit_test(test_ring_array_bad_args),
            cmocka_unit_test(test_ring_array_two_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
