/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for intset: exact layouts and the width upgrades 2 -> 4 -> 8 bytes
 * (never back), then 20,000 random adds and removes (fixed seed) against a
 * sorted array with INT64_MIN, INT64_MAX and every width's edges; Redis's
 * string2ll rules for intset_parse() and the formatter round trip. */
#include "types/intset.h"

#include "splitmix.h"
#include "unit.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t
rnd_below(size_t n)
{
    return n == 0 ? 0 : (size_t)(rnd() % n);
}

static uint8_t *img;
static size_t img_len;

static void
img_set(uint8_t *dst, size_t size, size_t written)
{
    assert_int_equal(written, size);
    free(img);
    img = dst;
    img_len = size;
}

/* SADD through find, size, write; returns whether v was new. */
static bool
add(int64_t v)
{
    if (intset_find(img, img_len, v, NULL)) {
        return false;
    }
    size_t size = intset_add_size(img, img_len, v);
    uint8_t *dst = malloc(size);
    assert_non_null(dst);
    img_set(dst, size, intset_add_write(dst, img, img_len, v));
    return true;
}

static bool
rem(int64_t v)
{
    if (!intset_find(img, img_len, v, NULL)) {
        return false;
    }
    size_t size = intset_remove_size(img, img_len, v);
    uint8_t *dst = malloc(size);
    assert_non_null(dst);
    img_set(dst, size, intset_remove_write(dst, img, img_len, v));
    return true;
}

static void
img_empty(void)
{
    uint8_t *dst = malloc(INTSET_EMPTY_SIZE);
    assert_non_null(dst);
    img_set(dst, INTSET_EMPTY_SIZE, intset_init(dst));
}

static void
test_intset_layout(void **state)
{
    (void)state;
    img_empty();
    assert_memory_equal(img, "\x02\x00", 2);
    assert_true(intset_valid(img, img_len));
    assert_int_equal(intset_count(img, img_len), 0);
    size_t at = 99;
    assert_false(intset_find(img, img_len, 5, &at));
    assert_int_equal(at, 0);

    assert_true(add(1));
    assert_false(add(1));
    assert_memory_equal(img, "\x02\x01\x01\x00", 4);
    assert_true(add(-2));
    assert_memory_equal(img, "\x02\x02\xfe\xff\x01\x00", 6);
    /* 70000 needs 4 bytes: every value rewritten at 4 */
    assert_true(add(70000));
    assert_int_equal(img_len, 2 + 3 * 4);
    assert_memory_equal(img,
            "\x04\x03"
            "\xfe\xff\xff\xff"
            "\x01\x00\x00\x00"
            "\x70\x11\x01\x00",
            14);
    assert_int_equal(intset_width(img, img_len), 4);
    /* removing it keeps the width, as Redis does */
    assert_true(rem(70000));
    assert_false(rem(70000));
    assert_memory_equal(img, "\x04\x02\xfe\xff\xff\xff\x01\x00\x00\x00", 10);
    /* INT64_MIN: 8 bytes, goes first */
    assert_true(add(INT64_MIN));
    assert_int_equal(intset_width(img, img_len), 8);
    assert_memory_equal(img,
            "\x08\x03"
            "\x00\x00\x00\x00\x00\x00\x00\x80"
            "\xfe\xff\xff\xff\xff\xff\xff\xff"
            "\x01\x00\x00\x00\x00\x00\x00\x00",
            26);
    assert_true(intset_find(img, img_len, -2, &at));
    assert_int_equal(at, 1);
    assert_true(intset_at(img, img_len, 0) == INT64_MIN);
    assert_true(add(INT64_MAX));
    assert_true(intset_at(img, img_len, 3) == INT64_MAX);
    assert_true(intset_valid(img, img_len));

    /* a 2-byte set meets INT32_MIN and INT16_MAX + 1 */
    img_empty();
    assert_true(add(INT16_MAX));
    assert_true(add(INT16_MIN));
    assert_int_equal(intset_width(img, img_len), 2);
    assert_true(add((int64_t)INT16_MAX + 1));
    assert_int_equal(intset_width(img, img_len), 4);
    assert_true(add(INT32_MIN));
    assert_int_equal(intset_width(img, img_len), 4);
    assert_true(add((int64_t)INT32_MAX + 1));
    assert_int_equal(intset_width(img, img_len), 8);
    assert_int_equal(intset_count(img, img_len), 5);
    /* a count of 128 takes a 2-byte varint */
    img_empty();
    for (int64_t v = 0; v < 128; v++) {
        assert_true(add(v * 3));
    }
    assert_int_equal(img_len, 1 + 2 + 128 * 2);
    assert_memory_equal(img, "\x02\x80\x01", 3);
    assert_true(rem(0));
    assert_int_equal(img_len, 1 + 1 + 127 * 2);
    free(img);
    img = NULL;
}

static void
test_intset_valid_refuses(void **state)
{
    (void)state;
    assert_false(intset_valid((const uint8_t *)"", 0));
    assert_false(intset_valid((const uint8_t *)"\x02", 1));
    assert_false(intset_valid((const uint8_t *)"\x03\x00", 2)); /* width */
    assert_false(intset_valid((const uint8_t *)"\x00\x00", 2));
    assert_false(intset_valid((const uint8_t *)"\x02\x80\x00", 3));
    /* not ascending, or a value twice */
    assert_false(intset_valid((const uint8_t *)"\x02\x02\x02\x00\x01\x00", 6));
    assert_false(intset_valid((const uint8_t *)"\x02\x02\x01\x00\x01\x00", 6));
    /* -1 < 1 at width 2: ascending as signed values */
    assert_true(intset_valid((const uint8_t *)"\x02\x02\xff\xff\x01\x00", 6));
    assert_false(intset_valid((const uint8_t *)"\x02\x02\x01\x00\xff\xff", 6));
    /* bytes left over, or missing */
    assert_false(intset_valid((const uint8_t *)"\x02\x01\x01\x00\x00", 5));
    assert_false(intset_valid((const uint8_t *)"\x02\x01\x01", 3));
    /* a count that would overflow the byte arithmetic */
    assert_false(intset_valid(
            (const uint8_t *)"\x08\xff\xff\xff\xff\xff\xff\xff\xff\x7f", 10));
    /* an 8-byte set of small values is fine: widths never shrink */
    assert_true(intset_valid(
            (const uint8_t *)"\x08\x01\x05\x00\x00\x00\x00\x00\x00\x00", 10));
}

/* the model: sorted, unique */
#define MODEL_MAX 300

static int64_t model[MODEL_MAX];
static size_t model_n;
static size_t model_width;

static size_t
width_of(int64_t v)
{
    if (v >= INT16_MIN && v <= INT16_MAX) {
        return 2;
    }
    return v >= INT32_MIN && v <= INT32_MAX ? 4 : 8;
}

/* Values cluster (so adds and removes hit), sit on every width's edges,
 * or are anything. */
static int64_t
gen(void)
{
    static const int64_t edges[] = {INT64_MIN, INT64_MAX, INT64_MIN + 1,
            INT64_MAX - 1, INT32_MIN, INT32_MAX, (int64_t)INT32_MIN - 1,
            (int64_t)INT32_MAX + 1, INT16_MIN, INT16_MAX, INT16_MIN - 1,
            INT16_MAX + 1, 0, -1, 1};
    size_t r = rnd_below(100);
    if (r < 60) {
        return (int64_t)rnd_below(200) - 100;
    }
    if (r < 70) {
        return edges[rnd_below(sizeof(edges) / sizeof(edges[0]))];
    }
    if (r < 85) {
        return (int16_t)rnd();
    }
    if (r < 95) {
        return (int32_t)rnd();
    }
    return (int64_t)rnd();
}

static size_t
model_at(int64_t v, bool *found)
{
    size_t i = 0;
    while (i < model_n && model[i] < v) {
        i++;
    }
    *found = i < model_n && model[i] == v;
    return i;
}

static void
check(void)
{
    assert_true(intset_valid(img, img_len));
    assert_int_equal(intset_count(img, img_len), model_n);
    assert_int_equal(intset_width(img, img_len), model_width);
    size_t hdr = model_n < 128 ? 2 : 3;
    assert_int_equal(img_len, hdr + model_n * model_width);
    struct intset_iter it;
    intset_iter_init(&it, img, img_len);
    int64_t v;
    size_t i = 0;
    while (intset_next(&it, &v)) {
        assert_true(i < model_n);
        assert_true(v == model[i]);
        assert_true(intset_at(img, img_len, i) == v);
        size_t at;
        assert_true(intset_find(img, img_len, v, &at));
        assert_int_equal(at, i);
        i++;
    }
    assert_int_equal(i, model_n);
    for (int k = 0; k < 4; k++) {
        int64_t x = gen();
        bool there;
        size_t want = model_at(x, &there);
        size_t at;
        assert_int_equal(intset_find(img, img_len, x, &at), there);
        assert_int_equal(at, want);
    }
}

static void
test_intset_random(void **state)
{
    (void)state;
    rng_state = 64;
    img_empty();
    model_n = 0;
    model_width = 2;
    bool saw[9] = {false};
    for (int step = 0; step < 20000; step++) {
        if (step % 1000 == 999) {
            img_empty(); /* so the upgrades happen again */
            model_n = 0;
            model_width = 2;
        }
        int64_t v = gen();
        bool there;
        size_t at = model_at(v, &there);
        if (rnd_below(10) < 6 && (there || model_n < MODEL_MAX)) {
            assert_int_equal(add(v), !there);
            if (!there) {
                memmove(&model[at + 1], &model[at],
                        (model_n - at) * sizeof(model[0]));
                model[at] = v;
                model_n++;
                if (width_of(v) > model_width) {
                    model_width = width_of(v);
                }
            }
        } else {
            if (!there && model_n > 0 && rnd_below(2) == 0) {
                at = rnd_below(model_n);
                v = model[at];
                there = true;
            }
            assert_int_equal(rem(v), there);
            if (there) {
                memmove(&model[at], &model[at + 1],
                        (model_n - at - 1) * sizeof(model[0]));
                model_n--;
            }
        }
        saw[model_width] = true;
        check();
        if (step % 100 == 0) {
            for (size_t cut = 0; cut < img_len; cut++) {
                assert_false(intset_valid(img, cut));
            }
        }
    }
    assert_true(saw[2] && saw[4] && saw[8]);
    free(img);
    img = NULL;
}

static void
test_intset_parse(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        bool ok;
        int64_t v;
    } cases[] = {{"0", true, 0}, {"1", true, 1}, {"-1", true, -1},
            {"123", true, 123}, {"9223372036854775807", true, INT64_MAX},
            {"-9223372036854775808", true, INT64_MIN},
            {"9223372036854775808", false, 0},
            {"-9223372036854775809", false, 0},
            {"18446744073709551615", false, 0},
            {"18446744073709551616", false, 0},
            {"99999999999999999999", false, 0},
            {"-99999999999999999999", false, 0},
            {"000000000000000000001", false, 0}, {"", false, 0},
            {"-", false, 0}, {"-0", false, 0}, {"00", false, 0},
            {"01", false, 0}, {"-01", false, 0}, {"+1", false, 0},
            {" 1", false, 0}, {"1 ", false, 0}, {"1a", false, 0},
            {"1.0", false, 0}, {"1e3", false, 0}, {"--1", false, 0},
            {"0x10", false, 0}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t v = 12345;
        bool ok = intset_parse(cases[i].s, strlen(cases[i].s), &v);
        if (ok != cases[i].ok) {
            fail_msg("intset_parse(\"%s\") = %d", cases[i].s, ok);
        }
        if (ok) {
            assert_true(v == cases[i].v);
        }
    }
    /* an embedded NUL is a non-digit */
    int64_t v;
    assert_false(intset_parse("1\0", 2, &v));
}

static void
test_intset_fmt(void **state)
{
    (void)state;
    char buf[INTSET_FMT_MAX];
    assert_int_equal(intset_fmt(0, buf), 1);
    assert_memory_equal(buf, "0", 1);
    assert_int_equal(intset_fmt(INT64_MIN, buf), 20);
    assert_memory_equal(buf, "-9223372036854775808", 20);
    assert_int_equal(intset_fmt(INT64_MAX, buf), 19);
    assert_memory_equal(buf, "9223372036854775807", 19);
    rng_state = 7;
    for (int i = 0; i < 20000; i++) {
        int64_t x = i < 15 ? gen() : (int64_t)(rnd() >> rnd_below(64));
        if (rnd_below(2) && x != INT64_MIN) {
            x = -x;
        }
        char want[32];
        int n = snprintf(want, sizeof(want), "%" PRId64, x);
        size_t len = intset_fmt(x, buf);
        assert_int_equal(len, (size_t)n);
        assert_memory_equal(buf, want, len);
        int64_t back;
        assert_true(intset_parse(buf, len, &back));
        assert_true(back == x);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_intset_layout),
            cmocka_unit_test(test_intset_valid_refuses),
            cmocka_unit_test(test_intset_random),
            cmocka_unit_test(test_intset_parse),
            cmocka_unit_test(test_intset_fmt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
