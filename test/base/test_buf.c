/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for buf: boundaries of reserve, append, growth to the cap, shrink
 * and lshift. */
#include "base/buf.h"

#include "unit.h"

#include <string.h>

#define INIT 16
#define MAX  128

static int
setup_buf(void **state)
{
    static struct buf b;
    if (buf_init(&b, INIT) != STATUS_OK) {
        return -1;
    }
    *state = &b;
    return 0;
}

static int
teardown_buf(void **state)
{
    buf_deinit(*state);
    return 0;
}

/* Appends n bytes of the pattern 'a'..'z' from position first, so moved
 * content can be checked with assert_content. */
static void
fill_from(struct buf *b, size_t first, size_t n)
{
    for (size_t i = first; i < first + n; i++) {
        char c = (char)('a' + (int)(i % 26));
        assert_int_equal(buf_append(b, &c, 1, MAX), STATUS_OK);
    }
}

static void
fill(struct buf *b, size_t n)
{
    fill_from(b, 0, n);
}

static void
assert_content(const struct buf *b, size_t first, size_t n)
{
    assert_int_equal(buf_rsize(b), n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(b->rpos[i], (char)('a' + (int)((first + i) % 26)));
    }
}

static void
test_buf_empty(void **state)
{
    struct buf *b = *state;
    assert_true(buf_empty(b));
    assert_int_equal(buf_rsize(b), 0);
    assert_int_equal(buf_wsize(b), INIT);
    assert_int_equal(buf_capacity(b), INIT);
    assert_ptr_equal(b->rpos, b->begin);
    /* appending nothing, reserving nothing: no change */
    assert_int_equal(buf_append(b, "", 0, MAX), STATUS_OK);
    assert_int_equal(buf_reserve(b, 0, MAX), STATUS_OK);
    assert_true(buf_empty(b));
    assert_int_equal(buf_capacity(b), INIT);
    buf_lshift(b);
    buf_shrink(b, INIT);
    assert_int_equal(buf_capacity(b), INIT);
}

static void
test_buf_exactly_full(void **state)
{
    struct buf *b = *state;
    char *storage = b->begin;
    fill(b, INIT);
    assert_int_equal(buf_wsize(b), 0);
    assert_int_equal(buf_capacity(b), INIT); /* no growth yet */
    assert_ptr_equal(b->begin, storage);
    assert_int_equal(buf_reserve(b, 0, MAX), STATUS_OK);
    assert_int_equal(buf_capacity(b), INIT);
    assert_content(b, 0, INIT);
    /* one more byte doubles */
    fill_from(b, INIT, 1);
    assert_int_equal(buf_capacity(b), 2 * INIT);
    assert_content(b, 0, INIT + 1);
    buf_clear(b);
    assert_true(buf_empty(b));
    assert_int_equal(buf_wsize(b), 2 * INIT);
}

static void
test_buf_reserve_shifts_before_growing(void **state)
{
    struct buf *b = *state;
    fill(b, INIT);
    b->rpos += 10; /* consumed 10 bytes: 6 readable, 0 writable */
    assert_int_equal(buf_wsize(b), 0);
    assert_int_equal(buf_reserve(b, 10, MAX), STATUS_OK);
    assert_int_equal(buf_capacity(b), INIT); /* shifted, not grown */
    assert_ptr_equal(b->rpos, b->begin);
    assert_int_equal(buf_wsize(b), 10);
    assert_content(b, 10, 6);
    /* 11 writable bytes with 6 readable need 17 > 16: grows */
    assert_int_equal(buf_reserve(b, 11, MAX), STATUS_OK);
    assert_int_equal(buf_capacity(b), 2 * INIT);
    assert_content(b, 10, 6);
}

static void
test_buf_grow_to_max_and_one_past(void **state)
{
    struct buf *b = *state;
    fill(b, MAX); /* 16 -> 32 -> 64 -> 128 */
    assert_int_equal(buf_capacity(b), MAX);
    assert_int_equal(buf_wsize(b), 0);
    assert_content(b, 0, MAX);

    char *storage = b->begin;
    char c = 'x';
    assert_int_equal(buf_append(b, &c, 1, MAX), STATUS_ENOMEM);
    assert_int_equal(buf_reserve(b, 1, MAX), STATUS_ENOMEM);
    /* unchanged on failure */
    assert_ptr_equal(b->begin, storage);
    assert_int_equal(buf_capacity(b), MAX);
    assert_content(b, 0, MAX);

    /* with one byte consumed, one more fits by shifting */
    b->rpos++;
    assert_int_equal(buf_append(b, &c, 1, MAX), STATUS_OK);
    assert_int_equal(buf_capacity(b), MAX);
    assert_int_equal(buf_rsize(b), MAX);
    assert_int_equal(b->wpos[-1], 'x');
}

static void
test_buf_grow_clamps_to_max(void **state)
{
    struct buf *b = *state;
    /* 16 doubles to 32, 64, 128, but the cap is 100: capacity is 100 */
    assert_int_equal(buf_reserve(b, 100, 100), STATUS_OK);
    assert_int_equal(buf_capacity(b), 100);
    assert_int_equal(buf_reserve(b, 101, 100), STATUS_ENOMEM);
    /* readable + need overflowing size_t is over any max, not a wrap */
    assert_int_equal(buf_append(b, "x", 1, 100), STATUS_OK);
    assert_int_equal(buf_reserve(b, (size_t)-1, (size_t)-1), STATUS_ENOMEM);
    assert_int_equal(buf_capacity(b), 100);
    assert_int_equal(buf_rsize(b), 1);
}

static void
test_buf_append_too_big_at_once(void **state)
{
    struct buf *b = *state;
    static char big[MAX + 1];
    memset(big, 'z', sizeof(big));
    assert_int_equal(buf_append(b, big, MAX + 1, MAX), STATUS_ENOMEM);
    assert_true(buf_empty(b));
    assert_int_equal(buf_capacity(b), INIT);
    assert_int_equal(buf_append(b, big, MAX, MAX), STATUS_OK);
    assert_int_equal(buf_rsize(b), MAX);
    assert_int_equal(buf_capacity(b), MAX); /* straight to the needed size */
    assert_memory_equal(b->rpos, big, MAX);
}

static void
test_buf_shrink_with_data(void **state)
{
    struct buf *b = *state;
    fill(b, MAX);
    b->rpos += MAX - 20; /* 20 readable, at the end of the storage */
    buf_shrink(b, INIT);
    /* 128 -> 64 -> 32 (20 fit), not 16 (20 would not) */
    assert_int_equal(buf_capacity(b), 32);
    assert_ptr_equal(b->rpos, b->begin);
    assert_content(b, MAX - 20, 20);

    b->rpos += 4; /* exactly 16 readable: fits in 16 */
    buf_shrink(b, INIT);
    assert_int_equal(buf_capacity(b), INIT);
    assert_content(b, MAX - 16, 16);
    assert_int_equal(buf_wsize(b), 0);

    /* never below size, even when empty */
    buf_clear(b);
    buf_shrink(b, INIT);
    assert_int_equal(buf_capacity(b), INIT);
}

static void
test_buf_shrink_empty_to_size(void **state)
{
    struct buf *b = *state;
    fill(b, MAX);
    buf_clear(b);
    buf_shrink(b, 2 * INIT);
    assert_int_equal(buf_capacity(b), 2 * INIT);
    assert_true(buf_empty(b));
}

static void
test_buf_lshift(void **state)
{
    struct buf *b = *state;
    fill(b, 10);
    b->rpos += 3;
    buf_lshift(b);
    assert_ptr_equal(b->rpos, b->begin);
    assert_ptr_equal(b->wpos, b->begin + 7);
    assert_content(b, 3, 7);
    /* all consumed: shift empties */
    b->rpos = b->wpos;
    buf_lshift(b);
    assert_ptr_equal(b->rpos, b->begin);
    assert_ptr_equal(b->wpos, b->begin);
    assert_int_equal(buf_wsize(b), INIT);
}

static void
test_buf_deinit_twice_and_reuse(void **state)
{
    (void)state;
    struct buf b;
    assert_int_equal(buf_init(&b, 8), STATUS_OK);
    buf_deinit(&b);
    assert_null(b.begin);
    assert_int_equal(buf_capacity(&b), 0);
    buf_deinit(&b);
    /* a deinitialized buffer can grow from nothing */
    assert_int_equal(buf_append(&b, "hello", 5, 64), STATUS_OK);
    assert_int_equal(buf_capacity(&b), 5);
    assert_memory_equal(b.rpos, "hello", 5);
    buf_deinit(&b);
}

#define BUF_TEST(fn)                                                           \
    cmocka_unit_test_setup_teardown(fn, setup_buf, teardown_buf)

int
main(void)
{
    const struct CMUnitTest tests[] = {
            BUF_TEST(test_buf_empty),
            BUF_TEST(test_buf_exactly_full),
            BUF_TEST(test_buf_reserve_shifts_before_growing),
            BUF_TEST(test_buf_grow_to_max_and_one_past),
            BUF_TEST(test_buf_grow_clamps_to_max),
            BUF_TEST(test_buf_append_too_big_at_once),
            BUF_TEST(test_buf_shrink_with_data),
            BUF_TEST(test_buf_shrink_empty_to_size),
            BUF_TEST(test_buf_lshift),
            cmocka_unit_test(test_buf_deinit_twice_and_reuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
