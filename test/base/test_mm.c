/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for mm: every successful allocation and every free is counted, a
 * failed one is not, mm_free clears the pointer, zalloc zeroes. */
#include "base/mm.h"

#include "unit.h"

#include <stdint.h>
#include <string.h>

static void
test_mm_counts_alloc_and_free(void **state)
{
    (void)state;
    uint64_t a0 = mm_alloc_count();
    uint64_t f0 = mm_free_count();
    void *p = mm_alloc(100);
    assert_non_null(p);
    assert_int_equal(mm_alloc_count(), a0 + 1);
    assert_int_equal(mm_free_count(), f0);
    void *q = mm_zalloc(50);
    char *s = mm_strdup("segcached");
    char *t = mm_strndup("segcached", 3);
    void *al = mm_aligned_alloc(64, 100);
    assert_non_null(q);
    assert_non_null(s);
    assert_non_null(t);
    assert_non_null(al);
    assert_int_equal(mm_alloc_count(), a0 + 5);
    mm_free(&p);
    mm_free(&q);
    mm_free(&s);
    mm_free(&t);
    mm_free(&al);
    assert_int_equal(mm_alloc_count(), a0 + 5);
    assert_int_equal(mm_free_count(), f0 + 5);
}

static void
test_mm_free_clears_pointer(void **state)
{
    (void)state;
    char *p = mm_alloc(8);
    assert_non_null(p);
    uint64_t f0 = mm_free_count();
    mm_free(&p);
    assert_null(p);
    assert_int_equal(mm_free_count(), f0 + 1);
    /* NULL is not counted: freeing twice is harmless */
    mm_free(&p);
    mm_release(NULL);
    assert_null(p);
    assert_int_equal(mm_free_count(), f0 + 1);
}

static void
test_mm_zalloc_zeroes(void **state)
{
    (void)state;
    /* dirty the heap first so a fresh block is less likely to be zero */
    for (int round = 0; round < 4; round++) {
        unsigned char *dirty = mm_alloc(4096);
        assert_non_null(dirty);
        memset(dirty, 0xa5, 4096);
        mm_free(&dirty);
        unsigned char *z = mm_zalloc(4096);
        assert_non_null(z);
        for (size_t i = 0; i < 4096; i++) {
            assert_int_equal(z[i], 0);
        }
        mm_free(&z);
    }
}

static void
test_mm_realloc_counts_once(void **state)
{
    (void)state;
    uint64_t a0 = mm_alloc_count();
    /* realloc(NULL) allocates; growing an allocation is not a new one */
    char *p = mm_realloc(NULL, 16);
    assert_non_null(p);
    assert_int_equal(mm_alloc_count(), a0 + 1);
    memcpy(p, "0123456789abcde", 16);
    p = mm_realloc(p, 1 << 16);
    assert_non_null(p);
    assert_string_equal(p, "0123456789abcde"); /* content kept */
    assert_int_equal(mm_alloc_count(), a0 + 1);
    uint64_t f0 = mm_free_count();
    mm_free(&p);
    assert_int_equal(mm_free_count(), f0 + 1);
}

static void
test_mm_strings_and_alignment(void **state)
{
    (void)state;
    char *s = mm_strdup("hello");
    assert_string_equal(s, "hello");
    char *t = mm_strndup("hello", 2);
    assert_string_equal(t, "he");
    char *u = mm_strndup("hi", 10); /* n past the end: whole string */
    assert_string_equal(u, "hi");
    mm_free(&s);
    mm_free(&t);
    mm_free(&u);
    size_t aligns[] = {sizeof(void *), 64, 4096};
    for (size_t i = 0; i < sizeof(aligns) / sizeof(aligns[0]); i++) {
        /* a size that is not a multiple of the alignment is rounded up */
        unsigned char *p = mm_aligned_alloc(aligns[i], aligns[i] + 3);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % aligns[i], 0);
        memset(p, 1, aligns[i] + 3);
        mm_free(&p);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_mm_counts_alloc_and_free),
            cmocka_unit_test(test_mm_free_clears_pointer),
            cmocka_unit_test(test_mm_zalloc_zeroes),
            cmocka_unit_test(test_mm_realloc_counts_once),
            cmocka_unit_test(test_mm_strings_and_alignment),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
