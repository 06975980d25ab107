/* SPDX-License-Identifier: Apache-2.0 */
/* The resp processor's pure helpers: glob matching (KEYS, SCAN MATCH,
 * CONFIG GET), INCRBYFLOAT's long double parsing and formatting, SCAN
 * cursors and INFO section selection. Expected values are what Redis
 * 7.0.15 answers for the same input (KEYS, INCRBYFLOAT, SCAN, INFO). */
#include "unit.h"

#include "processor/resp_internal.h"

#include <string.h>

static bool
match(const char *pattern, const char *s)
{
    return resp_glob_match(pattern, strlen(pattern), s, strlen(s), false);
}

static void
test_glob_basic(void **state)
{
    (void)state;
    assert_false(match("*", "")); /* Redis: the loop needs a byte */
    assert_true(match("*", "anything"));
    assert_true(match("user:*", "user:1"));
    assert_false(match("user:*", "use"));
    assert_true(match("h?llo", "hello"));
    assert_false(match("h?llo", "hllo"));
    assert_true(match("h*llo", "hllo"));
    assert_true(match("h*llo", "heeeello"));
    assert_true(match("a*b*c", "axxbyyc"));
    assert_false(match("a*b*c", "axxbyy"));
    assert_true(match("**a**", "xa"));
    assert_false(match("", "a"));
    assert_true(match("", ""));
    assert_false(match("abc", "ab"));
    assert_false(match("ab", "abc"));
}

static void
test_glob_classes(void **state)
{
    (void)state;
    assert_true(match("h[ae]llo", "hello"));
    assert_true(match("h[ae]llo", "hallo"));
    assert_false(match("h[ae]llo", "hillo"));
    assert_true(match("h[^e]llo", "hallo"));
    assert_false(match("h[^e]llo", "hello"));
    assert_true(match("h[a-b]llo", "hbllo"));
    assert_true(match("h[b-a]llo", "hallo")); /* reversed range */
    assert_false(match("h[a-b]llo", "hcllo"));
    assert_true(match("[\\]]", "]"));
    assert_false(match("a[", "a"));  /* the class needs a byte */
    assert_false(match("a[", "a[")); /* as Redis: KEYS a[ misses "a[" */
    assert_true(match("a[[]", "a["));
    assert_false(match("a[b", "ac"));
    assert_true(match("item:[12]5", "item:25"));
}

static void
test_glob_escapes_and_case(void **state)
{
    (void)state;
    assert_true(match("a\\*b", "a*b"));
    assert_false(match("a\\*b", "axb"));
    assert_true(match("a\\?", "a?"));
    assert_true(match("a\\", "a\\")); /* a trailing backslash is itself */
    assert_false(match("ABC", "abc"));
    assert_true(resp_glob_match("MAX*", 4, "maxmemory", 9, true));
    assert_true(resp_glob_match("[A-C]x", 6, "bX", 2, true));
}

static void
test_glob_binary_and_deep(void **state)
{
    (void)state;
    /* a NUL inside key and pattern is an ordinary byte */
    assert_true(resp_glob_match("a\0*", 3, "a\0bc", 4, false));
    assert_false(resp_glob_match("a\0*", 3, "ab", 2, false));
    /* many stars against a long non-matching string stays fast */
    char pattern[4001];
    char s[4001];
    for (size_t i = 0; i < 4000; i++) {
        pattern[i] = i % 2 == 0 ? '*' : 'a';
        s[i] = 'a';
    }
    pattern[3999] = 'b';
    assert_false(resp_glob_match(pattern, 4000, s, 4000, false));
}

static size_t
fmt(char *buf, size_t cap, const char *in)
{
    long double v;
    assert_true(resp_parse_long_double(in, strlen(in), &v));
    return resp_format_long_double(buf, cap, v);
}

static void
test_long_double_format(void **state)
{
    (void)state;
    char buf[5200];
    fmt(buf, sizeof(buf), "10.6");
    assert_string_equal(buf, "10.6");
    fmt(buf, sizeof(buf), "3");
    assert_string_equal(buf, "3");
    fmt(buf, sizeof(buf), "4.5");
    assert_string_equal(buf, "4.5");
    fmt(buf, sizeof(buf), "-0.0");
    assert_string_equal(buf, "0");
    fmt(buf, sizeof(buf), "5.0e3");
    assert_string_equal(buf, "5000");
    fmt(buf, sizeof(buf), "10000000001");
    assert_string_equal(buf, "10000000001");
    fmt(buf, sizeof(buf), "0.1");
    assert_string_equal(buf, "0.1");
    fmt(buf, sizeof(buf), "-1.25");
    assert_string_equal(buf, "-1.25");
    /* 1e400 fits a long double: Redis prints all 401 digits */
    assert_int_equal(fmt(buf, sizeof(buf), "1e400"), 401);
    assert_memory_equal(buf, "1000000000000000000028188", 25);
    /* too small a buffer: 0 */
    long double v = 123456.5L;
    assert_int_equal(resp_format_long_double(buf, 4, v), 0);
}

static void
test_long_double_parse_refuses(void **state)
{
    (void)state;
    long double v;
    const char *bad[] = {
            "", " 1", "1 ", "abc", "nan", "1e5000", "-1e5000", "1.5x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_false(resp_parse_long_double(bad[i], strlen(bad[i]), &v));
    }
    assert_true(resp_parse_long_double("inf", 3, &v)); /* as strtold */
    assert_true(resp_parse_long_double("0x10", 4, &v));
    assert_true(v == 16);
    assert_true(resp_parse_long_double("1e-5000", 7, &v) == false);
    char big[5200];
    memset(big, '0', sizeof(big));
    big[5118] = '1';
    assert_true(resp_parse_long_double(big, 5119, &v)); /* 5119 bytes */
    assert_true(v == 1);
    big[5119] = '1';
    assert_false(resp_parse_long_double(big, 5120, &v)); /* too long */
}

static void
test_cursor(void **state)
{
    (void)state;
    uint64_t c = 99;
    assert_true(resp_parse_cursor("0", 1, &c));
    assert_int_equal(c, 0);
    assert_true(resp_parse_cursor("18446744073709551615", 20, &c));
    assert_true(c == UINT64_MAX);
    assert_false(resp_parse_cursor("18446744073709551616", 20, &c));
    assert_false(resp_parse_cursor(" 1", 2, &c));
    assert_false(resp_parse_cursor("1x", 2, &c));
    assert_false(resp_parse_cursor("abc", 3, &c));
    assert_true(resp_parse_cursor("", 0, &c)); /* strtoul reads 0 */
    assert_int_equal(c, 0);
}

static struct resp_arg
arg(const char *s)
{
    return (struct resp_arg){.len = strlen(s), .data = s};
}

static void
test_info_select(void **state)
{
    (void)state;
    uint32_t def = resp_info_select(NULL, 0);
    assert_true(def & (1u << RESP_INFO_SERVER));
    assert_true(def & (1u << RESP_INFO_KEYSPACE));
    assert_true(def & (1u << RESP_INFO_MODULES));
    assert_false(def & (1u << RESP_INFO_COMMANDSTATS));
    assert_false(def & (1u << RESP_INFO_LATENCYSTATS));
    struct resp_arg a[3] = {arg("default")};
    assert_int_equal(resp_info_select(a, 1), def);
    a[0] = arg("ALL");
    uint32_t all = resp_info_select(a, 1);
    assert_int_equal(all, (1u << RESP_INFO_NSECTION) - 1);
    a[0] = arg("everything");
    assert_int_equal(resp_info_select(a, 1), all);
    a[0] = arg("Keyspace");
    a[1] = arg("cpu");
    a[2] = arg("nosuch");
    assert_int_equal(resp_info_select(a, 3),
            (1u << RESP_INFO_KEYSPACE) | (1u << RESP_INFO_CPU));
    a[0] = arg("nosuch");
    assert_int_equal(resp_info_select(a, 1), 0);
    a[0] = arg("default");
    a[1] = arg("commandstats");
    assert_int_equal(
            resp_info_select(a, 2), def | (1u << RESP_INFO_COMMANDSTATS));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_glob_basic),
            cmocka_unit_test(test_glob_classes),
            cmocka_unit_test(test_glob_escapes_and_case),
            cmocka_unit_test(test_glob_binary_and_deep),
            cmocka_unit_test(test_long_double_format),
            cmocka_unit_test(test_long_double_parse_refuses),
            cmocka_unit_test(test_cursor),
            cmocka_unit_test(test_info_select),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
