/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for log: levels, file output, reopen after rename, escaping. */
#include "base/log.h"

#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *
slurp(const char *path)
{
    static char buf[8192];
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        buf[0] = '\0';
        return buf;
    }
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void
test_log_levels_and_file(void **state)
{
    (void)state;
    char path[] = "/tmp/test_log_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(log_setup(LOG_INFO, path), STATUS_OK);
    log_info("hello %d", 42);
    log_debug("hidden %d", 7);
    char *text = slurp(path);
    assert_non_null(strstr(text, "info test_log.c"));
    assert_non_null(strstr(text, "hello 42\n"));
    assert_null(strstr(text, "hidden"));

    /* rotation: rename, reopen, the next line lands in a new file */
    char rotated[64];
    snprintf(rotated, sizeof(rotated), "%s.1", path);
    assert_int_equal(rename(path, rotated), 0);
    assert_int_equal(log_reopen(), STATUS_OK);
    log_warn("after rotate");
    assert_non_null(strstr(slurp(path), "after rotate"));
    assert_null(strstr(slurp(rotated), "after rotate"));
    log_teardown();
    unlink(path);
    unlink(rotated);
}

static void
test_log_level_parse(void **state)
{
    (void)state;
    log_level_e l;
    assert_int_equal(log_level_parse("debug", &l), STATUS_OK);
    assert_int_equal(l, LOG_DEBUG);
    assert_int_equal(log_level_parse("1", &l), STATUS_OK);
    assert_int_equal(l, LOG_CRIT);
    assert_int_equal(log_level_parse("loud", &l), STATUS_EINVAL);
    assert_string_equal(log_level_str(LOG_WARN), "warn");
}

static void
test_log_escape(void **state)
{
    (void)state;
    char out[32];
    assert_string_equal(
            log_escape(out, sizeof(out), "a\r\n\\b", 5), "a\\x0d\\x0a\\x5cb");
    /* truncation never splits an escape and always terminates */
    char tiny[8];
    log_escape(tiny, sizeof(tiny), "\x01\x02\x03", 3);
    assert_string_equal(tiny, "\\x01");
}

static void
test_log_bad_path(void **state)
{
    (void)state;
    log_set_level(LOG_CRIT); /* keep the expected error off the output */
    assert_int_equal(log_setup(LOG_CRIT, "/nonexistent/dir/log"), STATUS_ERROR);
    log_teardown();
}

static void
test_log_rate_limit(void **state)
{
    (void)state;
    char path[] = "/tmp/test_log_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(log_setup(LOG_INFO, path), STATUS_OK);
    for (int i = 0; i < 100; i++) {
        log_info("flood %d", i); /* one call site */
    }
    char *text = slurp(path);
    int lines = 0;
    for (char *p = text; (p = strstr(p, "flood ")) != NULL; p++) {
        lines++;
    }
    /* a second boundary may fall inside the loop: at most two windows */
    assert_true(lines >= LOG_REPEAT_MAX && lines <= 2 * LOG_REPEAT_MAX + 1);
    log_info("other site");
    assert_non_null(strstr(slurp(path), "other site"));
    log_teardown();
    unlink(path);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_log_levels_and_file),
            cmocka_unit_test(test_log_level_parse),
            cmocka_unit_test(test_log_escape),
            cmocka_unit_test(test_log_bad_path),
            cmocka_unit_test(test_log_rate_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
