/* SPDX-License-Identifier: Apache-2.0 */
/* The binary's option struct: every row of every module's table loads
 * from a YAML file written to a temporary directory, the sample config
 * loads, and a bad value or key stops with "<file>:<line>: <reason>" and
 * changes nothing. */
#include "unit.h"

#include "setting.h"

#include "base/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64];
static char path[128];

static int
group_setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/test_setting.XXXXXX");
    if (mkdtemp(dir) == NULL) {
        return -1;
    }
    snprintf(path, sizeof(path), "%s/app.yml", dir);
    return 0;
}

static int
group_teardown(void **state)
{
    (void)state;
    unlink(path);
    rmdir(dir);
    option_free(setting_options(), SETTING_NOPT);
    return 0;
}

static void
write_file(const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static rstatus_i
load(char *err, size_t cap)
{
    return option_load_file(setting_options(), SETTING_NOPT, path, err, cap);
}

/* The section of a row: its name up to the first underscore. */
static size_t
section_len(const struct option *o)
{
    const char *u = strchr(o->name, '_');
    assert_non_null(u);
    return (size_t)(u - o->name);
}

/* A YAML scalar of o's type different from its default. */
static void
other_value(const struct option *o, char *buf, size_t cap)
{
    switch (o->type) {
    case OPTION_BOOL:
        snprintf(buf, cap, "%s", o->default_val.OPTION_BOOL ? "false" : "true");
        break;
    case OPTION_UINT:
        snprintf(buf, cap, "%llu",
                (unsigned long long)o->default_val.OPTION_UINT + 3);
        break;
    case OPTION_SIZE:
        snprintf(buf, cap, "%lluKiB",
                (unsigned long long)o->default_val.OPTION_SIZE / 1024 + 5);
        break;
    case OPTION_DURATION:
        snprintf(buf, cap, "%llus",
                (unsigned long long)o->default_val.OPTION_DURATION / 1000 + 7);
        break;
    case OPTION_FPN:
        snprintf(buf, cap, "%g", o->default_val.OPTION_FPN + 0.5);
        break;
    case OPTION_STR:
        snprintf(buf, cap, "\"v-%s\"", o->name);
        break;
    }
}

static void
assert_other_value(const struct option *o)
{
    const union option_val *d = &o->default_val;
    const union option_val *v = &o->val;
    assert_true(o->set);
    switch (o->type) {
    case OPTION_BOOL:
        assert_int_equal(v->OPTION_BOOL, !d->OPTION_BOOL);
        break;
    case OPTION_UINT:
        assert_int_equal(v->OPTION_UINT, d->OPTION_UINT + 3);
        break;
    case OPTION_SIZE:
        assert_int_equal(v->OPTION_SIZE, (d->OPTION_SIZE / 1024 + 5) * 1024);
        break;
    case OPTION_DURATION:
        assert_int_equal(
                v->OPTION_DURATION, (d->OPTION_DURATION / 1000 + 7) * 1000);
        break;
    case OPTION_FPN:
        assert_true(v->OPTION_FPN == d->OPTION_FPN + 0.5);
        break;
    case OPTION_STR: {
        char want[128];
        snprintf(want, sizeof(want), "v-%s", o->name);
        assert_string_equal(v->OPTION_STR, want);
        break;
    }
    }
}

/* One YAML mapping per section, holding every row of that section from
 * whichever module's table it comes. */
static void
test_setting_every_option_loads(void **state)
{
    (void)state;
    struct option *opts = setting_options();
    static char yaml[64 * 1024];
    bool done[SETTING_NOPT] = {false};
    size_t len = 0;
    for (size_t i = 0; i < SETTING_NOPT; i++) {
        if (done[i]) {
            continue;
        }
        size_t sl = section_len(&opts[i]);
        len += (size_t)snprintf(yaml + len, sizeof(yaml) - len, "%.*s:\n",
                (int)sl, opts[i].name);
        for (size_t j = i; j < SETTING_NOPT; j++) {
            if (done[j] || section_len(&opts[j]) != sl ||
                    strncmp(opts[j].name, opts[i].name, sl) != 0) {
                continue;
            }
            char value[160];
            other_value(&opts[j], value, sizeof(value));
            len += (size_t)snprintf(yaml + len, sizeof(yaml) - len,
                    "  %s: %s\n", opts[j].name + sl + 1, value);
            done[j] = true;
        }
        assert_true(len < sizeof(yaml));
    }
    write_file(yaml);
    char err[512] = "";
    assert_int_equal(load(err, sizeof(err)), STATUS_OK);
    for (size_t i = 0; i < SETTING_NOPT; i++) {
        assert_other_value(&opts[i]);
    }
    option_load_default(opts, SETTING_NOPT);
    for (size_t i = 0; i < SETTING_NOPT; i++) {
        assert_false(opts[i].set);
    }
}

/* Spot checks that the table names are the documented ones. */
static void
test_setting_names(void **state)
{
    (void)state;
    write_file("# comment\nseg:\n  memory: 1GiB\nworker:\n  threads: 2\n"
               "memcache:\n  listen: off\nresp:\n  requirepass: pw\n"
               "  max_args: 9\nlog:\n  level: debug\n");
    char err[512] = "";
    assert_int_equal(load(err, sizeof(err)), STATUS_OK);
    assert_int_equal(option_uint(&setting.seg.seg_memory), 1024 * MiB);
    assert_int_equal(option_uint(&setting.worker.worker_threads), 2);
    assert_string_equal(option_str(&setting.listen.memcache_listen), "off");
    assert_string_equal(option_str(&setting.resp_proc.resp_requirepass), "pw");
    assert_int_equal(option_uint(&setting.resp.resp_max_args), 9);
    assert_string_equal(option_str(&setting.log.log_level), "debug");
    option_load_default(setting_options(), SETTING_NOPT);
}

static void
test_setting_sample_config_loads(void **state)
{
    (void)state;
    /* test/app/test_setting.c -> config/segcached.yml */
    char sample[1024];
    const char *file = __FILE__;
    const char *cut = strstr(file, "test/app/test_setting.c");
    assert_non_null(cut);
    snprintf(sample, sizeof(sample), "%.*sconfig/segcached.yml",
            (int)(cut - file), file);
    char err[512] = "";
    assert_int_equal(option_load_file(setting_options(), SETTING_NOPT, sample,
                             err, sizeof(err)),
            STATUS_OK);
    option_load_default(setting_options(), SETTING_NOPT);
}

static void
expect_error(const char *yaml, int line, const char *reason)
{
    char err[512] = "", want[512];
    write_file(yaml);
    assert_int_equal(load(err, sizeof(err)), STATUS_EINVAL);
    snprintf(want, sizeof(want), "%s:%d: %s", path, line, reason);
    assert_string_equal(err, want);
    /* a file with an error changes no option */
    assert_int_equal(option_uint(&setting.worker.worker_threads), 0);
    assert_false(setting.worker.worker_threads.set);
    assert_int_equal(option_uint(&setting.seg.seg_memory), 64 * MiB);
}

static void
test_setting_bad_value_names_file_line_reason(void **state)
{
    (void)state;
    expect_error("worker:\n  threads: 3\nseg:\n  memory: 12XB\n", 4,
            "seg.memory: not a size: 12XB");
    expect_error("worker:\n  threads: 3\n  idle_timeout: soon\n", 3,
            "worker.idle_timeout: not a duration: soon");
    expect_error("worker:\n  threads: -1\n", 2,
            "worker.threads: not an unsigned integer: -1");
    expect_error("worker:\n  threads: 3\nseg:\n  memroy: 1GiB\n", 4,
            "seg.memroy: unknown option");
    expect_error("worker:\n  threads: 3\nsge:\n  memory: 1GiB\n", 3,
            "sge: unknown section");
    char err[512];
    unlink(path);
    assert_int_equal(load(err, sizeof(err)), STATUS_ERROR);
    assert_non_null(strstr(err, "cannot read"));
    assert_true(strncmp(err, path, strlen(path)) == 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_setting_every_option_loads),
            cmocka_unit_test(test_setting_names),
            cmocka_unit_test(test_setting_sample_config_loads),
            cmocka_unit_test(test_setting_bad_value_names_file_line_reason),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
