/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for pool: borrow/return reuse, max, prealloc, content kept. */
#include "base/pool.h"

#include "unit.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct obj {
    uint64_t id;
    char *owned; /* stands for a buffer an object keeps across returns */
    char pad[40];
};

static void
test_pool_borrow_return(void **state)
{
    (void)state;
    struct pool *p = pool_create(sizeof(struct obj), 0);
    assert_non_null(p);
    struct obj *a = pool_borrow(p);
    struct obj *b = pool_borrow(p);
    assert_non_null(a);
    assert_non_null(b);
    assert_ptr_not_equal(a, b);
    assert_int_equal(a->id, 0); /* zeroed the first time */
    assert_null(a->owned);
    assert_int_equal((uintptr_t)a % alignof(max_align_t), 0);
    /* objects go to different threads: no cache line holds two */
    uintptr_t a0 = (uintptr_t)a / 64, a1 = ((uintptr_t)(a + 1) - 1) / 64;
    uintptr_t b0 = (uintptr_t)b / 64, b1 = ((uintptr_t)(b + 1) - 1) / 64;
    assert_true(a1 < b0 || b1 < a0);
    assert_int_equal(pool_nused(p), 2);
    assert_int_equal(pool_nfree(p), 0);
    a->id = 7;
    memset(a->pad, 'x', sizeof(a->pad));
    pool_return(p, a);
    assert_int_equal(pool_nused(p), 1);
    assert_int_equal(pool_nfree(p), 1);
    struct obj *c = pool_borrow(p); /* the same object, as returned */
    assert_ptr_equal(c, a);
    assert_int_equal(c->id, 7);
    assert_int_equal(c->pad[0], 'x');
    assert_int_equal(c->pad[sizeof(c->pad) - 1], 'x');
    pool_return(p, c);
    pool_return(p, b);
    pool_return(p, NULL); /* ignored */
    assert_int_equal(pool_nused(p), 0);
    assert_int_equal(pool_nfree(p), 2);
    pool_destroy(&p);
    assert_null(p);
    pool_destroy(&p); /* NULL-safe */
}

static void
test_pool_max(void **state)
{
    (void)state;
    struct pool *p = pool_create(sizeof(struct obj), 3);
    void *o[4];
    for (int i = 0; i < 3; i++) {
        o[i] = pool_borrow(p);
        assert_non_null(o[i]);
    }
    assert_null(pool_borrow(p)); /* at max */
    pool_return(p, o[1]);
    o[3] = pool_borrow(p);
    assert_ptr_equal(o[3], o[1]);
    assert_null(pool_borrow(p));
    pool_return(p, o[0]);
    pool_return(p, o[2]);
    pool_return(p, o[3]);
    /* prealloc stops at max as well */
    assert_int_equal(pool_prealloc(p, 10), 3);
    pool_destroy(&p);
}

static void
test_pool_prealloc(void **state)
{
    (void)state;
    struct pool *p = pool_create(sizeof(struct obj), 0);
    assert_int_equal(pool_prealloc(p, 5), 5);
    assert_int_equal(pool_nfree(p), 5);
    assert_int_equal(pool_nused(p), 0);
    void *a = pool_borrow(p);
    assert_int_equal(pool_nfree(p), 4);
    assert_int_equal(pool_prealloc(p, 2), 4); /* already enough */
    assert_int_equal(pool_prealloc(p, 6), 6);
    assert_int_equal(pool_nused(p), 1);
    pool_return(p, a);
    assert_int_equal(pool_nfree(p), 7);
    pool_destroy(&p);
}

static int nfini;

static void
obj_fini(void *o)
{
    struct obj *obj = o;
    free(obj->owned);
    obj->owned = NULL;
    nfini++;
}

static void
test_pool_destroy_with(void **state)
{
    (void)state;
    struct pool *p = pool_create(sizeof(struct obj), 0);
    struct obj *a = pool_borrow(p);
    struct obj *b = pool_borrow(p);
    a->owned = malloc(16); /* kept across the return: LSan checks fini */
    b->owned = malloc(32);
    pool_return(p, a);
    pool_return(p, b);
    nfini = 0;
    pool_destroy_with(&p, obj_fini);
    assert_int_equal(nfini, 2);
    assert_null(p);
}

static void
test_pool_bad_create(void **state)
{
    (void)state;
    assert_null(pool_create(0, 0));
    assert_null(pool_create(SIZE_MAX, 0));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_pool_borrow_return),
            cmocka_unit_test(test_pool_max),
            cmocka_unit_test(test_pool_prealloc),
            cmocka_unit_test(test_pool_destroy_with),
            cmocka_unit_test(test_pool_bad_create),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
