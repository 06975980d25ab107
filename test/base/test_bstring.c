/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for bstring: comparison and every edge of decimal parsing. */
#include "base/bstring.h"

#include "unit.h"

#include <stdint.h>
#include <string.h>

static rstatus_i
u64_of(const char *s, uint64_t *v)
{
    struct bstring b = bstring_of_cstr(s);
    return bstring_to_u64(&b, v);
}

static rstatus_i
i64_of(const char *s, int64_t *v)
{
    struct bstring b = bstring_of_cstr(s);
    return bstring_to_i64(&b, v);
}

static void
test_bstring_compare(void **state)
{
    (void)state;
    struct bstring a = BSTRING_LITERAL("abc");
    struct bstring ab = BSTRING_LITERAL("ab");
    struct bstring abd = BSTRING_LITERAL("abd");
    struct bstring empty = bstring_of(NULL, 0);
    assert_int_equal(bstring_compare(&a, &a), 0);
    assert_true(bstring_compare(&ab, &a) < 0);
    assert_true(bstring_compare(&a, &ab) > 0);
    assert_true(bstring_compare(&a, &abd) < 0);
    assert_true(bstring_compare(&empty, &a) < 0);
    assert_int_equal(bstring_compare(&empty, &empty), 0);
    assert_true(bstring_equal(&a, &a));
    assert_false(bstring_equal(&a, &ab));
    assert_true(bstring_equal(&empty, &empty));
    assert_true(bstring_empty(&empty));
    assert_false(bstring_empty(&a));
}

static void
test_bstring_equal_cstr(void **state)
{
    (void)state;
    /* a view into a larger buffer: only len bytes count */
    const char *wire = "GETSET";
    struct bstring get = bstring_of(wire, 3);
    assert_true(bstring_equal_cstr(&get, "GET"));
    assert_false(bstring_equal_cstr(&get, "get"));
    assert_false(bstring_equal_cstr(&get, "GETS"));
    assert_false(bstring_equal_cstr(&get, "GE"));
    assert_true(bstring_equal_cstr_nocase(&get, "get"));
    assert_true(bstring_equal_cstr_nocase(&get, "GeT"));
    assert_false(bstring_equal_cstr_nocase(&get, "gets"));
    struct bstring empty = bstring_of(NULL, 0);
    assert_true(bstring_equal_cstr(&empty, ""));
    assert_true(bstring_equal_cstr_nocase(&empty, ""));
}

static void
test_bstring_u64_valid(void **state)
{
    (void)state;
    uint64_t v = 99;
    assert_int_equal(u64_of("0", &v), STATUS_OK);
    assert_int_equal(v, 0);
    assert_int_equal(u64_of("7", &v), STATUS_OK);
    assert_int_equal(v, 7);
    assert_int_equal(u64_of("007", &v), STATUS_OK);
    assert_int_equal(v, 7);
    assert_int_equal(u64_of("000", &v), STATUS_OK);
    assert_int_equal(v, 0);
    assert_int_equal(u64_of("18446744073709551615", &v), STATUS_OK);
    assert_true(v == UINT64_MAX);
    assert_int_equal(u64_of("018446744073709551615", &v), STATUS_OK);
    assert_true(v == UINT64_MAX);
    assert_int_equal(u64_of("18446744073709551610", &v), STATUS_OK);
    assert_true(v == UINT64_MAX - 5);
    /* only len bytes are read: "12" of "123" */
    struct bstring part = bstring_of("123", 2);
    assert_int_equal(bstring_to_u64(&part, &v), STATUS_OK);
    assert_int_equal(v, 12);
}

static void
test_bstring_u64_invalid(void **state)
{
    (void)state;
    const char *bad[] = {"", "+1", "-1", "-0", " 1", "1 ", "1 2", "\t1",
            "1\r\n", "0x10", "1e3", "1.0", "abc", "12a", "-",
            "18446744073709551616", "18446744073709551620",
            "99999999999999999999", "184467440737095516150"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint64_t v = 42;
        assert_int_equal(u64_of(bad[i], &v), STATUS_EINVAL);
        assert_int_equal(v, 42); /* untouched */
    }
    uint64_t v = 42;
    struct bstring nul = bstring_of("1\0", 2); /* an embedded NUL */
    assert_int_equal(bstring_to_u64(&nul, &v), STATUS_EINVAL);
    struct bstring none = bstring_of(NULL, 0);
    assert_int_equal(bstring_to_u64(&none, &v), STATUS_EINVAL);
    assert_int_equal(v, 42);
}

static void
test_bstring_i64_valid(void **state)
{
    (void)state;
    int64_t v = 99;
    assert_int_equal(i64_of("0", &v), STATUS_OK);
    assert_int_equal(v, 0);
    assert_int_equal(i64_of("-0", &v), STATUS_OK);
    assert_int_equal(v, 0);
    assert_int_equal(i64_of("-1", &v), STATUS_OK);
    assert_int_equal(v, -1);
    assert_int_equal(i64_of("0042", &v), STATUS_OK);
    assert_int_equal(v, 42);
    assert_int_equal(i64_of("-0042", &v), STATUS_OK);
    assert_int_equal(v, -42);
    assert_int_equal(i64_of("9223372036854775807", &v), STATUS_OK);
    assert_true(v == INT64_MAX);
    assert_int_equal(i64_of("-9223372036854775808", &v), STATUS_OK);
    assert_true(v == INT64_MIN);
    assert_int_equal(i64_of("-9223372036854775807", &v), STATUS_OK);
    assert_true(v == INT64_MIN + 1);
}

static void
test_bstring_i64_invalid(void **state)
{
    (void)state;
    const char *bad[] = {"", "-", "+", "+1", "--1", "-+1", " -1", "- 1", "1-",
            "1 ", "12x", "9223372036854775808", "-9223372036854775809",
            "18446744073709551615", "-18446744073709551616",
            "99999999999999999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t v = 42;
        assert_int_equal(i64_of(bad[i], &v), STATUS_EINVAL);
        assert_int_equal(v, 42);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_bstring_compare),
            cmocka_unit_test(test_bstring_equal_cstr),
            cmocka_unit_test(test_bstring_u64_valid),
            cmocka_unit_test(test_bstring_u64_invalid),
            cmocka_unit_test(test_bstring_i64_valid),
            cmocka_unit_test(test_bstring_i64_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
