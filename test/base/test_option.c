/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for option: every type and unit, YAML files good and bad with their
 * exact messages, overrides, sequences and a print/load round trip. */
#include "base/option.h"

#include "base/util.h"

#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* clang-format off */
#define TEST_OPTION(ACTION)                                                     \
    ACTION( server_port,            OPTION_UINT,     11211,     "TCP port"    ) \
    ACTION( server_daemonize,       OPTION_BOOL,     false,     "detach"      ) \
    ACTION( server_max_connections, OPTION_UINT,     1024,      "conn cap"    ) \
    ACTION( server_timeout,         OPTION_DURATION, 30000,     "idle timeout") \
    ACTION( seg_memory,             OPTION_SIZE,     64 * MiB,  "store bytes" ) \
    ACTION( seg_evict,              OPTION_STR,      "merge",   "policy"      ) \
    ACTION( seg_ratio,              OPTION_FPN,      0.5,       "merge ratio" ) \
    ACTION( log_file,               OPTION_STR,      NULL,      "log path"    ) \
    ACTION( log_level,              OPTION_STR,      "info",    "verbosity"   )
/* clang-format on */
typedef struct {
    TEST_OPTION(DECLARE_OPTION)
} test_options_st;

#define NOPT (sizeof(test_options_st) / sizeof(struct option))

static test_options_st opt = {TEST_OPTION(INIT_OPTION)};
static struct option *const opts = (struct option *)&opt;
static char err[1024];

static int
reset(void **state)
{
    (void)state;
    option_load_default(opts, NOPT);
    err[0] = '\0';
    return 0;
}

/* frees what the last test left, for LSan */
static int
reset_all(void **state)
{
    return reset(state);
}

static rstatus_i
load(const char *yaml)
{
    err[0] = '\0';
    return option_load_yaml(
            opts, NOPT, "t.yml", yaml, strlen(yaml), err, sizeof(err));
}

/* Loads yaml, expecting it to fail with exactly msg. */
static void
assert_load_error(const char *yaml, const char *msg)
{
    assert_int_equal(load(yaml), STATUS_EINVAL);
    assert_string_equal(err, msg);
}

static bool
any_set(void)
{
    for (size_t i = 0; i < NOPT; i++) {
        if (opts[i].set) {
            return true;
        }
    }
    return false;
}

static void
test_option_defaults(void **state)
{
    (void)state;
    assert_int_equal(OPTION_CARDINALITY(test_options_st), 9);
    assert_int_equal(option_uint(&opt.server_port), 11211);
    assert_false(option_bool(&opt.server_daemonize));
    assert_int_equal(option_uint(&opt.server_timeout), 30000);
    assert_int_equal(option_uint(&opt.seg_memory), 64 * MiB);
    assert_string_equal(option_str(&opt.seg_evict), "merge");
    assert_true(option_fpn(&opt.seg_ratio) == 0.5);
    assert_null(option_str(&opt.log_file));
    assert_false(any_set());
    char buf[64];
    assert_string_equal(
            option_dotted_name(&opt.server_max_connections, buf, sizeof(buf)),
            "server.max_connections");
    assert_ptr_equal(option_find(opts, NOPT, "server.max_connections"),
            &opt.server_max_connections);
    assert_ptr_equal(option_find(opts, NOPT, "seg.memory"), &opt.seg_memory);
    assert_null(option_find(opts, NOPT, "seg_memory"));
    assert_null(option_find(opts, NOPT, "seg.memor"));
    assert_null(option_find(opts, NOPT, "se.memory"));
    assert_null(option_find(opts, NOPT, "server.max"));
    assert_string_equal(option_type_str(OPTION_DURATION), "duration");
}

static const char *good_yaml =
        "# a comment\n"
        "server:\n"
        "  port: 6379\n"
        "  daemonize: yes\n"
        "  max_connections: 00100000\n"
        "  timeout: 5m\n"
        "seg:\n"
        "  memory: 1GiB   # units\n"
        "  evict: fifo\n"
        "  ratio: 0.125\n"
        "log: {file: \"/var/log/x.log\", level: [warn, error]}\n";

static void
test_option_good_file(void **state)
{
    (void)state;
    char path[] = "/tmp/test_option_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, good_yaml, strlen(good_yaml)),
            (ssize_t)strlen(good_yaml));
    close(fd);
    assert_int_equal(
            option_load_file(opts, NOPT, path, err, sizeof(err)), STATUS_OK);
    unlink(path);
    assert_int_equal(option_uint(&opt.server_port), 6379);
    assert_true(option_bool(&opt.server_daemonize));
    assert_int_equal(option_uint(&opt.server_max_connections), 100000);
    assert_int_equal(option_uint(&opt.server_timeout), 5 * 60 * 1000);
    assert_int_equal(option_uint(&opt.seg_memory), GiB);
    assert_string_equal(option_str(&opt.seg_evict), "fifo");
    assert_true(option_fpn(&opt.seg_ratio) == 0.125);
    assert_string_equal(option_str(&opt.log_file), "/var/log/x.log");
    assert_string_equal(option_str(&opt.log_level), "warn,error");
    for (size_t i = 0; i < NOPT; i++) {
        assert_true(opts[i].set);
    }
    /* loading again replaces (and frees) the owned strings */
    assert_int_equal(load("seg: {evict: lru}\nlog: {file: ~}\n"), STATUS_OK);
    assert_string_equal(option_str(&opt.seg_evict), "lru");
    assert_null(option_str(&opt.log_file));
    assert_true(opt.log_file.set);
    option_free(opts, NOPT);
    assert_string_equal(option_str(&opt.seg_evict), "merge");
    assert_false(any_set());
}

static void
test_option_file_errors(void **state)
{
    (void)state;
    assert_int_equal(option_load_file(opts, NOPT, "/nonexistent/x.yml", err,
                             sizeof(err)),
            STATUS_ERROR);
    assert_string_equal(
            err, "/nonexistent/x.yml: cannot read: No such file or directory");
    char path[] = "/tmp/test_option_XXXXXX";
    int fd = mkstemp(path);
    const char *bad = "seg:\n  memory: 12XB\n";
    assert_int_equal(write(fd, bad, strlen(bad)), (ssize_t)strlen(bad));
    close(fd);
    assert_int_equal(option_load_file(opts, NOPT, path, err, sizeof(err)),
            STATUS_EINVAL);
    char want[128];
    snprintf(want, sizeof(want), "%s:2: seg.memory: not a size: 12XB", path);
    assert_string_equal(err, want);
    unlink(path);
    /* a NULL error buffer is allowed */
    assert_int_equal(
            option_load_yaml(opts, NOPT, "t.yml", bad, strlen(bad), NULL, 0),
            STATUS_EINVAL);
}

static void
test_option_empty(void **state)
{
    (void)state;
    const char *empty[] = {"", "\n\n", "# only\n  # comments\n", "---\n",
            "--- # doc\n...\n", "~\n", "seg:\n", "seg:\n  # memory: 1GiB\n",
            "seg: {}\nserver: ~\n"};
    for (size_t i = 0; i < ARRAY_SIZE(empty); i++) {
        assert_int_equal(load(empty[i]), STATUS_OK);
        assert_false(any_set());
    }
}

struct case_u64 {
    const char *text;
    uint64_t want;
};

/* Each value must load through -o and through YAML to want. */
static void
assert_values(const char *name, const struct case_u64 *c, size_t n)
{
    struct option *o = option_find(opts, NOPT, name);
    char yaml[128];
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(
                option_set(opts, NOPT, name, c[i].text, err, sizeof(err)),
                STATUS_OK);
        assert_true(option_uint(o) == c[i].want);
        option_load_default(opts, NOPT);
        const char *dot = strchr(name, '.');
        snprintf(yaml, sizeof(yaml), "%.*s:\n  %s: %s\n", (int)(dot - name),
                name, dot + 1, c[i].text);
        assert_int_equal(load(yaml), STATUS_OK);
        assert_true(option_uint(o) == c[i].want);
        option_load_default(opts, NOPT);
    }
}

/* Each value must fail through -o with "-o <name>: <why>: <value>". */
static void
assert_rejected(
        const char *name, const char *const *bad, size_t n, const char *why)
{
    char want[256];
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(option_set(opts, NOPT, name, bad[i], err, sizeof(err)),
                STATUS_EINVAL);
        snprintf(want, sizeof(want), "-o %s: %s: %s", name, why, bad[i]);
        assert_string_equal(err, want);
    }
    assert_false(any_set());
}

static void
test_option_size(void **state)
{
    (void)state;
    const struct case_u64 good[] = {{"64MiB", 64 * MiB}, {"1GiB", GiB},
            {"512KiB", 512 * KiB}, {"4096", 4096}, {"0", 0}, {"2KB", 2 * KiB},
            {"3MB", 3 * MiB}, {"1GB", GiB}, {"5K", 5 * KiB}, {"5k", 5 * KiB},
            {"7M", 7 * MiB}, {"2G", 2 * GiB}, {"2g", 2 * GiB},
            {"1TiB", 1024 * GiB}, {"64 MiB", 64 * MiB}, {"10B", 10},
            {"16777215TiB", 16777215ULL * 1024 * GiB},
            {"18446744073709551615", UINT64_MAX}};
    assert_values("seg.memory", good, ARRAY_SIZE(good));
    const char *bad[] = {"12XB", "1.5GiB", "-1", "", " 1", "MiB", "1 ", "0x10",
            "1GiBB", "1 G iB"};
    assert_rejected("seg.memory", bad, ARRAY_SIZE(bad), "not a size");
    const char *big[] = {"18446744073709551616", "16777216TiB",
            "99999999999999999999999MiB"};
    assert_rejected("seg.memory", big, ARRAY_SIZE(big), "too large");
}

static void
test_option_duration(void **state)
{
    (void)state;
    const struct case_u64 good[] = {{"100ms", 100}, {"30s", 30000},
            {"5m", 300000}, {"5min", 300000}, {"1h", 3600000}, {"1d", 86400000},
            {"0", 0}, {"000", 0}, {"0ms", 0}, {"2 s", 2000},
            {"7D", 7 * 86400000ULL}};
    assert_values("server.timeout", good, ARRAY_SIZE(good));
    /* issue 23: "30" once meant 30 ms where an operator meant seconds */
    const char *bare[] = {"30", "250", "1"};
    assert_rejected("server.timeout", bare, ARRAY_SIZE(bare),
            "needs a unit (ms, s, m or min, h, d)");
    const char *bad[] = {"5x", "1.5s", "-1s", "s", "", "1sec", "ms5", "5 "};
    assert_rejected("server.timeout", bad, ARRAY_SIZE(bad), "not a duration");
    const char *big[] = {"213503982335d"};
    assert_rejected("server.timeout", big, ARRAY_SIZE(big), "too large");
}

static void
test_option_uint(void **state)
{
    (void)state;
    const struct case_u64 good[] = {
            {"0", 0}, {"007", 7}, {"18446744073709551615", UINT64_MAX}};
    assert_values("server.port", good, ARRAY_SIZE(good));
    const char *bad[] = {"-1", "+1", "1k", "0x10", "", " 1", "1.0", "ten"};
    assert_rejected(
            "server.port", bad, ARRAY_SIZE(bad), "not an unsigned integer");
    const char *big[] = {"18446744073709551616"};
    assert_rejected("server.port", big, ARRAY_SIZE(big), "too large");
}

static void
test_option_bool(void **state)
{
    (void)state;
    const char *yes[] = {"true", "yes", "on", "1", "True", "YES", "On"};
    const char *no[] = {"false", "no", "off", "0", "False", "NO", "Off"};
    for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
        assert_int_equal(option_set(opts, NOPT, "server.daemonize", yes[i], err,
                                 sizeof(err)),
                STATUS_OK);
        assert_true(option_bool(&opt.server_daemonize));
        assert_int_equal(option_set(opts, NOPT, "server.daemonize", no[i], err,
                                 sizeof(err)),
                STATUS_OK);
        assert_false(option_bool(&opt.server_daemonize));
    }
    option_load_default(opts, NOPT);
    const char *bad[] = {"maybe", "2", "", "y", "n", "truee"};
    assert_rejected("server.daemonize", bad, ARRAY_SIZE(bad), "not a bool");
}

static void
test_option_fpn(void **state)
{
    (void)state;
    assert_int_equal(
            option_set(opts, NOPT, "seg.ratio", "0.25", err, sizeof(err)),
            STATUS_OK);
    assert_true(option_fpn(&opt.seg_ratio) == 0.25);
    assert_int_equal(
            option_set(opts, NOPT, "seg.ratio", "-1e3", err, sizeof(err)),
            STATUS_OK);
    assert_true(option_fpn(&opt.seg_ratio) == -1000.0);
    assert_int_equal(load("seg: {ratio: 2}"), STATUS_OK);
    assert_true(option_fpn(&opt.seg_ratio) == 2.0);
    option_load_default(opts, NOPT);
    const char *bad[] = {
            "abc", "1.0x", "nan", "inf", "-inf", "", " 1", "1e999"};
    assert_rejected("seg.ratio", bad, ARRAY_SIZE(bad), "not a number");
}

static void
test_option_str(void **state)
{
    (void)state;
    assert_int_equal(
            option_set(opts, NOPT, "seg.evict", "a b,c=d", err, sizeof(err)),
            STATUS_OK);
    assert_string_equal(option_str(&opt.seg_evict), "a b,c=d");
    assert_true(opt.seg_evict.owned);
    assert_int_equal(option_set(opts, NOPT, "seg.evict", "", err, sizeof(err)),
            STATUS_OK);
    assert_string_equal(option_str(&opt.seg_evict), "");
    assert_int_equal(
            load("seg: {evict: 'null'}\nlog: {level: \"\"}\n"), STATUS_OK);
    assert_string_equal(option_str(&opt.seg_evict), "null"); /* quoted */
    assert_string_equal(option_str(&opt.log_level), "");
    assert_int_equal(load("seg: {evict: 12}\n"), STATUS_OK);
    assert_string_equal(option_str(&opt.seg_evict), "12");
    option_load_default(opts, NOPT);
    const char *bad[] = {"\xff", "a\xc3", "\xc0\xaf", "\xed\xa0\x80"};
    assert_int_equal(
            option_set(opts, NOPT, "seg.evict", bad[0], err, sizeof(err)),
            STATUS_EINVAL);
    assert_string_equal(err, "-o seg.evict: not valid UTF-8: \\xff");
    for (size_t i = 1; i < ARRAY_SIZE(bad); i++) {
        assert_int_equal(
                option_set(opts, NOPT, "seg.evict", bad[i], err, sizeof(err)),
                STATUS_EINVAL);
    }
    assert_false(any_set());
}

static void
test_option_sequence(void **state)
{
    (void)state;
    assert_int_equal(
            load("log:\n  level:\n    - a\n    - 'b c'\n    - 3\n"), STATUS_OK);
    assert_string_equal(option_str(&opt.log_level), "a,b c,3");
    assert_int_equal(load("log: {level: []}"), STATUS_OK);
    assert_string_equal(option_str(&opt.log_level), "");
    assert_int_equal(load("log: {level: [x]}"), STATUS_OK);
    assert_string_equal(option_str(&opt.log_level), "x");
    assert_load_error("log:\n  level: [a, [b]]\n",
            "t.yml:2: log.level: expected a string in the sequence, got a "
            "sequence");
    assert_load_error("log:\n  level:\n    - a\n    - {b: c}\n",
            "t.yml:4: log.level: expected a string in the sequence, got a "
            "mapping");
    assert_load_error("seg: {memory: [1, 2]}",
            "t.yml:1: seg.memory: expected a size, got a sequence");
}

static void
test_option_unknown(void **state)
{
    (void)state;
    assert_load_error("seg:\n  memory: 1GiB\n  memroy: 2GiB\n",
            "t.yml:3: seg.memroy: unknown option");
    assert_load_error(
            "sge:\n  memory: 1GiB\n", "t.yml:1: sge: unknown section");
    assert_load_error("seg: {}\nserver:\n  port: 1\nsegment:\n  x: 1\n",
            "t.yml:4: segment: unknown section");
    /* the row name is not a YAML name; sections are not options */
    assert_load_error("seg_memory: 1GiB\n", "t.yml:1: seg_memory: unknown "
                                            "section");
    assert_load_error("se: {memory: 1}\n", "t.yml:1: se: unknown section");
    assert_load_error(
            "seg:\n  memory_x: 1\n", "t.yml:2: seg.memory_x: unknown option");
    /* untrusted names are escaped and cut short in the message */
    assert_load_error("\"a\\tb\": 1\n", "t.yml:1: a\\x09b: unknown section");
    assert_load_error("seg: {\""
                      "0123456789012345678901234567890123456789"
                      "0123456789\": 1}\n",
            "t.yml:1: seg.012345678901234567890123456789012345678901234567"
            "...: unknown option");
    assert_false(any_set());
}

static void
test_option_bad_values(void **state)
{
    (void)state;
    assert_load_error(
            "seg:\n  memory: 12XB\n", "t.yml:2: seg.memory: not a size: 12XB");
    assert_load_error("server:\n  port: 1\n  daemonize: maybe\n",
            "t.yml:3: server.daemonize: not a bool: maybe");
    assert_load_error("server:\n  port: -1\n",
            "t.yml:2: server.port: not an unsigned integer: -1");
    assert_load_error("server:\n  port: 18446744073709551616\n",
            "t.yml:2: server.port: too large: 18446744073709551616");
    assert_load_error("server:\n\n  timeout: 5 minutes\n",
            "t.yml:3: server.timeout: not a duration: 5 minutes");
    assert_load_error(
            "seg:\n  ratio: half\n", "t.yml:2: seg.ratio: not a number: half");
    assert_load_error("seg:\n  memory:\n", "t.yml:2: seg.memory: no value");
    assert_load_error("seg:\n  ratio: ~\n", "t.yml:2: seg.ratio: no value");
    assert_load_error("seg:\n  evict: \"a\\0b\"\n",
            "t.yml:2: seg.evict: contains a NUL byte: a\\x00b");
    assert_load_error("seg:\n  memory: \"1\\nGiB\"\n",
            "t.yml:2: seg.memory: not a size: 1\\x0aGiB");
    assert_load_error("seg:\n  memory:\n    a: 1\n",
            "t.yml:3: seg.memory: expected a size, got a mapping");
    assert_load_error("seg:\n  evict: {a: 1}\n",
            "t.yml:2: seg.evict: expected a string or a sequence of strings, "
            "got a mapping");
    assert_false(any_set());
}

/* Every bad value, option and section of a file is reported, a line
 * each, not only the first (an operator fixed one, ran again, met the
 * next); nothing is set. */
static void
test_option_every_problem_reported(void **state)
{
    (void)state;
    assert_load_error("seg:\n  memory: abc\n  nosuch: 1\n"
                      "nosection:\n  a: 1\n"
                      "server:\n  port: -1\n  daemonize: maybe\n"
                      "  daemonize: no\n",
            "t.yml:2: seg.memory: not a size: abc\n"
            "t.yml:3: seg.nosuch: unknown option\n"
            "t.yml:4: nosection: unknown section\n"
            "t.yml:7: server.port: not an unsigned integer: -1\n"
            "t.yml:8: server.daemonize: not a bool: maybe\n"
            "t.yml:9: server.daemonize: duplicate option");
    assert_false(any_set());
    /* lines that do not fit whole are left out, the first one kept */
    char small[48];
    const char *two = "seg:\n  memory: abc\n  ratio: half\n";
    assert_int_equal(option_load_yaml(opts, NOPT, "t.yml", two, strlen(two),
                             small, sizeof(small)),
            STATUS_EINVAL);
    assert_string_equal(small, "t.yml:2: seg.memory: not a size: abc");
    char tiny[16];
    assert_int_equal(option_load_yaml(opts, NOPT, "t.yml", two, strlen(two),
                             tiny, sizeof(tiny)),
            STATUS_EINVAL);
    assert_string_equal(tiny, "t.yml:2: seg.me");
}

static void
test_option_bad_shape(void **state)
{
    (void)state;
    assert_load_error(
            "- seg\n- server\n", "t.yml:1: not a mapping of sections");
    assert_load_error("just text\n", "t.yml:1: not a mapping of sections");
    assert_load_error("seg: 1GiB\n",
            "t.yml:1: seg: expected a mapping of options, got a scalar");
    assert_load_error("seg:\n  - memory\n",
            "t.yml:2: seg: expected a mapping of options, got a sequence");
    assert_load_error("? [seg]\n: 1\n",
            "t.yml:1: a section name must be a scalar, not a sequence");
    assert_load_error("seg:\n  ? {a: 1}\n  : 1\n",
            "t.yml:2: seg: an option name must be a scalar, not a mapping");
    assert_load_error(
            "seg: {}\n---\nserver: {}\n", "t.yml:3: more than one document");
}

static void
test_option_duplicate(void **state)
{
    (void)state;
    assert_load_error("seg:\n  memory: 1GiB\n  memory: 2GiB\n",
            "t.yml:3: seg.memory: duplicate option");
    assert_load_error("seg:\n  memory: 1GiB\nserver: {}\nseg:\n  evict: x\n",
            "t.yml:4: seg: duplicate section");
    assert_load_error("seg: {memory: 1, \"memory\": 2}\n",
            "t.yml:1: seg.memory: duplicate option");
    /* nothing was applied: a bad file changes no option */
    assert_false(any_set());
    assert_int_equal(option_uint(&opt.seg_memory), 64 * MiB);
}

static void
test_option_syntax_error(void **state)
{
    (void)state;
    assert_load_error("seg:\n  memory: [1GiB\n",
            "t.yml:3: syntax error: did not find expected ',' or ']' (while "
            "parsing a flow sequence)");
    assert_load_error("seg:\n  memory: 1\n bad: 2\n",
            "t.yml:3: syntax error: did not find expected key (while parsing "
            "a block mapping)");
    assert_load_error("seg:\n  evict: \"open\n",
            "t.yml:3: syntax error: found unexpected end of stream (while "
            "scanning a quoted scalar)");
    assert_load_error("seg:\n  memory: *nope\n",
            "t.yml:2: syntax error: found undefined alias");
    assert_load_error("seg:\n  evict: \"\x01\"\n",
            "t.yml:2: syntax error: control characters are not allowed");
    assert_load_error("seg:\n\tmemory: 1\n",
            "t.yml:2: syntax error: found character that cannot start any "
            "token (while scanning for the next token)");
    assert_false(any_set());
}

static void
test_option_alias(void **state)
{
    (void)state;
    assert_int_equal(load("server:\n  port: &p 1234\n  max_connections: *p\n"
                          "log: {level: &l [a, b], file: x}\n"),
            STATUS_OK);
    assert_int_equal(option_uint(&opt.server_port), 1234);
    assert_int_equal(option_uint(&opt.server_max_connections), 1234);
    assert_string_equal(option_str(&opt.log_level), "a,b");
}

static void
test_option_override(void **state)
{
    (void)state;
    assert_int_equal(option_set_assignment(
                             opts, NOPT, "seg.memory=1GiB", err, sizeof(err)),
            STATUS_OK);
    assert_int_equal(option_uint(&opt.seg_memory), GiB);
    assert_true(opt.seg_memory.set);
    assert_int_equal(option_set_assignment(
                             opts, NOPT, "seg.evict=a=b", err, sizeof(err)),
            STATUS_OK);
    assert_string_equal(option_str(&opt.seg_evict), "a=b");
    assert_int_equal(option_set_assignment(
                             opts, NOPT, "seg.memory=12XB", err, sizeof(err)),
            STATUS_EINVAL);
    assert_string_equal(err, "-o seg.memory: not a size: 12XB");
    assert_int_equal(option_uint(&opt.seg_memory), GiB); /* unchanged */
    assert_int_equal(
            option_set_assignment(opts, NOPT, "seg.memroy=1", err, sizeof(err)),
            STATUS_EINVAL);
    assert_string_equal(err, "-o seg.memroy: unknown option");
    assert_int_equal(
            option_set_assignment(opts, NOPT, "seg.memory", err, sizeof(err)),
            STATUS_EINVAL);
    assert_string_equal(err, "-o seg.memory: expected name=value");
    assert_int_equal(option_set_assignment(opts, NOPT, "=1", err, sizeof(err)),
            STATUS_EINVAL);
    assert_string_equal(err, "-o : unknown option");
    assert_int_equal(
            option_set_assignment(opts, NOPT, "seg_memory=1", err, sizeof(err)),
            STATUS_EINVAL);
    assert_string_equal(err, "-o seg_memory: unknown option");
    assert_int_equal(option_set(opts, NOPT, "server.max_connections", "7", err,
                             sizeof(err)),
            STATUS_OK);
    assert_int_equal(option_uint(&opt.server_max_connections), 7);
    /* a file loaded after an override wins, an override after it wins */
    assert_int_equal(load("seg: {memory: 2GiB}"), STATUS_OK);
    assert_int_equal(option_uint(&opt.seg_memory), 2 * GiB);
}

static void
test_option_format(void **state)
{
    (void)state;
    char buf[64];
    union option_val v;
    v.OPTION_SIZE = 64 * MiB;
    assert_string_equal(
            option_format(&opt.seg_memory, &v, buf, sizeof(buf)), "64MiB");
    v.OPTION_SIZE = 1536;
    assert_string_equal(
            option_format(&opt.seg_memory, &v, buf, sizeof(buf)), "1536");
    v.OPTION_SIZE = 3 * KiB;
    assert_string_equal(
            option_format(&opt.seg_memory, &v, buf, sizeof(buf)), "3KiB");
    v.OPTION_SIZE = 0;
    assert_string_equal(
            option_format(&opt.seg_memory, &v, buf, sizeof(buf)), "0");
    v.OPTION_DURATION = 90000;
    assert_string_equal(
            option_format(&opt.server_timeout, &v, buf, sizeof(buf)), "90s");
    v.OPTION_DURATION = 2 * 86400000ULL;
    assert_string_equal(
            option_format(&opt.server_timeout, &v, buf, sizeof(buf)), "2d");
    v.OPTION_DURATION = 1001;
    assert_string_equal(
            option_format(&opt.server_timeout, &v, buf, sizeof(buf)), "1001ms");
    v.OPTION_DURATION = 0;
    assert_string_equal(
            option_format(&opt.server_timeout, &v, buf, sizeof(buf)), "0ms");
    v.OPTION_FPN = 0.1;
    assert_string_equal(
            option_format(&opt.seg_ratio, &v, buf, sizeof(buf)), "0.1");
    v.OPTION_BOOL = true;
    assert_string_equal(
            option_format(&opt.server_daemonize, &v, buf, sizeof(buf)), "true");
    v.OPTION_STR = NULL;
    assert_string_equal(
            option_format(&opt.log_file, &v, buf, sizeof(buf)), "~");
}

static char *
print_to_string(void)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    option_print_all(f, opts, NOPT);
    fclose(f);
    return text;
}

static void
test_option_print_defaults(void **state)
{
    (void)state;
    char *text = print_to_string();
    assert_string_equal(text,
            "# Every option: its type, default and description, then its "
            "value.\n"
            "server:\n"
            "  # uint, default 11211: TCP port\n"
            "  port: 11211\n"
            "  # bool, default false: detach\n"
            "  daemonize: false\n"
            "  # uint, default 1024: conn cap\n"
            "  max_connections: 1024\n"
            "  # duration, default 30s: idle timeout\n"
            "  timeout: 30s\n"
            "seg:\n"
            "  # size, default 64MiB: store bytes\n"
            "  memory: 64MiB\n"
            "  # str, default \"merge\": policy\n"
            "  evict: \"merge\"\n"
            "  # fpn, default 0.5: merge ratio\n"
            "  ratio: 0.5\n"
            "log:\n"
            "  # str, default ~: log path\n"
            "  file: ~\n"
            "  # str, default \"info\": verbosity\n"
            "  level: \"info\"\n");
    free(text);
}

/* Prints the table, loads the text into a fresh copy of the table and
 * checks every value came back. */
static void
assert_round_trip(void)
{
    char *text = print_to_string();
    test_options_st copy = {TEST_OPTION(INIT_OPTION)};
    struct option *c = (struct option *)&copy;
    rstatus_i rc = option_load_yaml(
            c, NOPT, "print", text, strlen(text), err, sizeof(err));
    if (rc != STATUS_OK) {
        fprintf(stderr, "%s\n%s\n", err, text);
    }
    assert_int_equal(rc, STATUS_OK);
    for (size_t i = 0; i < NOPT; i++) {
        if (opts[i].type == OPTION_STR) {
            if (opts[i].val.OPTION_STR == NULL) {
                assert_null(c[i].val.OPTION_STR);
            } else {
                assert_string_equal(
                        c[i].val.OPTION_STR, opts[i].val.OPTION_STR);
            }
        } else if (opts[i].type == OPTION_FPN) {
            assert_true(c[i].val.OPTION_FPN == opts[i].val.OPTION_FPN);
        } else if (opts[i].type == OPTION_BOOL) {
            assert_int_equal(c[i].val.OPTION_BOOL, opts[i].val.OPTION_BOOL);
        } else {
            assert_true(c[i].val.OPTION_UINT == opts[i].val.OPTION_UINT);
        }
    }
    option_free(c, NOPT);
    free(text);
}

static void
test_option_print_round_trip(void **state)
{
    (void)state;
    assert_round_trip(); /* defaults */
    const char *set[] = {"server.port=0", "server.daemonize=on",
            "server.max_connections=18446744073709551615",
            "server.timeout=1001ms", "seg.memory=1536", "seg.ratio=0.1",
            "seg.evict=quote\" back\\slash # not: a comment",
            "log.file=", "log.level=~"};
    for (size_t i = 0; i < ARRAY_SIZE(set); i++) {
        assert_int_equal(
                option_set_assignment(opts, NOPT, set[i], err, sizeof(err)),
                STATUS_OK);
    }
    assert_round_trip();
    /* bytes YAML cannot hold raw inside quotes: controls, DEL, C1, NEL,
     * line and paragraph separators, BOM, non-characters; and tabs,
     * spaces at the ends and non-ASCII text that it can */
    const char *hard[] = {"\t\r\n\x01\x1f\x7f", " lead and trail ",
            "\xc2\x80\xc2\x85\xc2\x9f\xc2\xa0", "\xe2\x80\xa8\xe2\x80\xa9",
            "\xef\xbb\xbf\xef\xbf\xbe\xef\xbf\xbf",
            "caf\xc3\xa9 \xf0\x9f\x98\x80", "- [a]: {b} & *c ! | > ' % @ `", "",
            "~", "null", "yes", "1e3"};
    for (size_t i = 0; i < ARRAY_SIZE(hard); i++) {
        assert_int_equal(
                option_set(opts, NOPT, "seg.evict", hard[i], err, sizeof(err)),
                STATUS_OK);
        assert_round_trip();
    }
    assert_int_equal(load("seg: {evict: \"\\0\"}\n"), STATUS_EINVAL);
    assert_int_equal(load("seg: {ratio: 1e300, memory: 0}\n"), STATUS_OK);
    assert_round_trip();
    assert_int_equal(load("seg: {ratio: -2.5e-300}\n"), STATUS_OK);
    assert_round_trip();
    assert_int_equal(load("seg: {ratio: 0.30000000000000004}\n"), STATUS_OK);
    assert_round_trip();
}

/* issue 23: a value that loads but cannot be used is reported with the
 * file and line it came from, as a value that does not load is. */
static void
test_option_where(void **state)
{
    (void)state;
    char buf[256];
    struct option *evict = option_find(opts, NOPT, "seg.evict");
    struct option *mem = option_find(opts, NOPT, "seg.memory");
    assert_string_equal(option_where(evict, buf, sizeof(buf)), "seg.evict");
    assert_int_equal(
            load("seg:\n  memory: 1GiB\n\n  evict: [a, b]\n"), STATUS_OK);
    assert_string_equal(
            option_where(mem, buf, sizeof(buf)), "t.yml:2: seg.memory");
    assert_string_equal(
            option_where(evict, buf, sizeof(buf)), "t.yml:4: seg.evict");
    /* an override after the file is where the value comes from now */
    assert_int_equal(
            option_set(opts, NOPT, "seg.evict", "lru", err, sizeof(err)),
            STATUS_OK);
    assert_string_equal(option_where(evict, buf, sizeof(buf)), "-o seg.evict");
    /* a flag that set it is named as the operator typed it (-m for
     * seg.memory), not as an -o they never wrote */
    assert_int_equal(
            option_set(opts, NOPT, "seg.memory", "1MiB", err, sizeof(err)),
            STATUS_OK);
    option_set_by_flag(mem, "-m");
    assert_string_equal(option_where(mem, buf, sizeof(buf)), "-m seg.memory");
    /* a later file or override is where the value comes from then */
    assert_int_equal(load("seg:\n  memory: 2GiB\n"), STATUS_OK);
    assert_string_equal(
            option_where(mem, buf, sizeof(buf)), "t.yml:2: seg.memory");
    option_set_by_flag(mem, "-m");
    assert_int_equal(
            option_set(opts, NOPT, "seg.memory", "1MiB", err, sizeof(err)),
            STATUS_OK);
    assert_string_equal(option_where(mem, buf, sizeof(buf)), "-o seg.memory");
    option_load_default(opts, NOPT);
    assert_string_equal(option_where(mem, buf, sizeof(buf)), "seg.memory");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup(test_option_defaults, reset),
            cmocka_unit_test_setup(test_option_good_file, reset),
            cmocka_unit_test_setup(test_option_file_errors, reset),
            cmocka_unit_test_setup(test_option_empty, reset),
            cmocka_unit_test_setup(test_option_size, reset),
            cmocka_unit_test_setup(test_option_duration, reset),
            cmocka_unit_test_setup(test_option_uint, reset),
            cmocka_unit_test_setup(test_option_bool, reset),
            cmocka_unit_test_setup(test_option_fpn, reset),
            cmocka_unit_test_setup(test_option_str, reset),
            cmocka_unit_test_setup(test_option_sequence, reset),
            cmocka_unit_test_setup(test_option_unknown, reset),
            cmocka_unit_test_setup(test_option_bad_values, reset),
            cmocka_unit_test_setup(test_option_every_problem_reported, reset),
            cmocka_unit_test_setup(test_option_bad_shape, reset),
            cmocka_unit_test_setup(test_option_duplicate, reset),
            cmocka_unit_test_setup(test_option_syntax_error, reset),
            cmocka_unit_test_setup(test_option_alias, reset),
            cmocka_unit_test_setup(test_option_override, reset),
            cmocka_unit_test_setup(test_option_format, reset),
            cmocka_unit_test_setup(test_option_print_defaults, reset),
            cmocka_unit_test_setup(test_option_print_round_trip, reset),
            cmocka_unit_test_setup(test_option_where, reset),
    };
    return cmocka_run_group_tests(tests, NULL, reset_all);
}
