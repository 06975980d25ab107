/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for array: push, get, pop, growth, zeroed slots. */
#include "base/array.h"

#include "unit.h"

#include <stdint.h>
#include <string.h>

struct pair {
    uint64_t key;
    uint32_t val;
};

static void
test_array_push_get_pop(void **state)
{
    (void)state;
    struct array *a = array_create(sizeof(struct pair), 2);
    assert_non_null(a);
    assert_int_equal(array_size(a), 0);
    assert_int_equal(array_capacity(a), 2);
    assert_null(array_pop(a));
    for (uint64_t i = 0; i < 1000; i++) {
        struct pair *p = array_push(a);
        assert_non_null(p);
        assert_int_equal(p->key, 0); /* zeroed */
        assert_int_equal(p->val, 0);
        p->key = i;
        p->val = (uint32_t)(i * 3);
        assert_int_equal(array_size(a), i + 1);
    }
    assert_true(array_capacity(a) >= 1000);
    for (uint64_t i = 0; i < 1000; i++) {
        struct pair *p = array_get(a, i);
        assert_int_equal(p->key, i);
        assert_int_equal(p->val, i * 3);
    }
    for (uint64_t i = 1000; i > 0; i--) {
        struct pair *p = array_pop(a);
        assert_non_null(p);
        assert_int_equal(p->key, i - 1);
    }
    assert_int_equal(array_size(a), 0);
    assert_null(array_pop(a));
    array_destroy(&a);
    assert_null(a);
    array_destroy(&a); /* NULL-safe */
}

static void
test_array_zero_cap(void **state)
{
    (void)state;
    struct array *a = array_create(sizeof(int), 0);
    assert_non_null(a);
    assert_int_equal(array_capacity(a), 0);
    int *x = array_push(a);
    assert_non_null(x);
    *x = 5;
    assert_true(array_capacity(a) >= 1);
    assert_int_equal(*(int *)array_get(a, 0), 5);
    array_clear(a);
    assert_int_equal(array_size(a), 0);
    size_t cap = array_capacity(a);
    x = array_push(a); /* a reused slot is zeroed again */
    assert_int_equal(*x, 0);
    assert_int_equal(array_capacity(a), cap);
    array_destroy(&a);
}

static void
test_array_bad_create(void **state)
{
    (void)state;
    assert_null(array_create(0, 4));
    assert_null(array_create(SIZE_MAX / 2, 4)); /* size overflows */
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_array_push_get_pop),
            cmocka_unit_test(test_array_zero_cap),
            cmocka_unit_test(test_array_bad_create),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
