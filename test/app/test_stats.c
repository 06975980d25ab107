/* SPDX-License-Identifier: Apache-2.0 */
/* The binary's metric struct as the admin and memcache ports print it:
 * every metric of every group appears in `stats`, in Prometheus text and
 * in --print-stats; memcached's `stats` groups; `stats reset` zeroes the
 * counters. Without a running server: no workers, so no per-worker lines. */
#include "unit.h"

#include "stats.h"

#include "base/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct buf b;

static int
group_setup(void **state)
{
    (void)state;
    if (stats_setup() != STATUS_OK) {
        return -1;
    }
    seg_options_st o = {SEG_OPTION(INIT_OPTION)};
    o.seg_memory.val.OPTION_SIZE = 4 * MiB;
    o.seg_background.val.OPTION_BOOL = false;
    if (seg_setup(&o, &stats.seg) != STATUS_OK) {
        return -1;
    }
    return buf_init(&b, 1024) == STATUS_OK ? 0 : -1;
}

static int
group_teardown(void **state)
{
    (void)state;
    buf_deinit(&b);
    seg_teardown();
    stats_teardown();
    return 0;
}

/* b's text, NUL-terminated. */
static const char *
text(void)
{
    assert_int_equal(buf_append(&b, "", 1, 16 * MiB), STATUS_OK);
    b.wpos--;
    return b.rpos;
}

static const char *
stats_text(const char *arg, rstatus_i want)
{
    struct bstring a = bstring_of(arg, strlen(arg));
    buf_clear(&b);
    assert_int_equal(stats_print_text(&b, 16 * MiB, &a), want);
    return text();
}

/* needle at the start of hay or after a line end */
static bool
has_line(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (const char *p = hay; p != NULL; p = strchr(p, '\n')) {
        p += p == hay ? 0 : 1;
        if (strncmp(p, needle, n) == 0) {
            return true;
        }
        if (*p == '\0') {
            break;
        }
    }
    return false;
}

static void
test_stats_text_has_every_metric(void **state)
{
    (void)state;
    const char *out = stats_text("", STATUS_OK);
    const struct metric *m = stats_metrics();
    for (size_t i = 0; i < STATS_NMETRIC; i++) {
        char want[128];
        snprintf(want, sizeof(want),
                m[i].type == METRIC_HISTOGRAM ? "STAT %s_count " : "STAT %s ",
                m[i].name);
        if (!has_line(out, want)) {
            fail_msg("stats lacks %s", want);
        }
    }
    /* a few names from each group, so the loop above is not vacuous */
    assert_true(has_line(out, "STAT pid "));
    assert_true(has_line(out, "STAT server_conn_curr "));
    assert_true(has_line(out, "STAT worker_read_byte "));
    assert_true(has_line(out, "STAT admin_conn_total "));
    assert_true(has_line(out, "STAT seg_get "));
    assert_true(has_line(out, "STAT memcache_parse_req "));
    assert_true(has_line(out, "STAT memcache_get "));
    assert_true(has_line(out, "STAT resp_cmd_calls "));
    assert_true(STATS_NMETRIC > 100);
    stats_text("nosuch", STATUS_EINVAL);
    stats_text("seg", STATUS_OK);
}

static void
test_stats_prometheus_has_every_metric(void **state)
{
    (void)state;
    buf_clear(&b);
    assert_int_equal(stats_print_prometheus(&b, 16 * MiB), STATUS_OK);
    const char *out = text();
    const struct metric *m = stats_metrics();
    static const char *types[] = {"counter", "gauge", "summary"};
    for (size_t i = 0; i < STATS_NMETRIC; i++) {
        /* the family name by Prometheus's conventions (issue 23):
         * counters without "_total", durations in seconds */
        char name[128];
        snprintf(name, sizeof(name), "%s", m[i].name);
        size_t n = strlen(name);
        if (m[i].type == METRIC_COUNTER && n > 6 &&
                strcmp(name + n - 6, "_total") == 0) {
            name[n -= 6] = '\0';
        }
        if (m[i].type == METRIC_HISTOGRAM) {
            snprintf(name + n, sizeof(name) - n, "_seconds");
        } else if (n > 3 && (strcmp(name + n - 3, "_us") == 0 ||
                                    strcmp(name + n - 3, "_ms") == 0 ||
                                    strcmp(name + n - 3, "_ns") == 0)) {
            snprintf(name + n - 3, sizeof(name) - n + 3, "_seconds");
        } else if (n > 5 && strcmp(name + n - 5, "_byte") == 0) {
            snprintf(name + n - 5, sizeof(name) - n + 5, "_bytes");
        } else if (strcmp(name, "uptime") == 0 || strcmp(name, "time") == 0) {
            snprintf(name + n, sizeof(name) - n, "_seconds");
        } else if (strcmp(name, "hotkey_memory") == 0) {
            snprintf(name + n, sizeof(name) - n, "_bytes");
        }
        n = strlen(name);
        if (m[i].type == METRIC_COUNTER) {
            snprintf(name + n, sizeof(name) - n, "_total");
        }
        char want[200];
        snprintf(want, sizeof(want), "# TYPE segcached_%s %s\n", name,
                types[m[i].type]);
        if (!has_line(out, want)) {
            fail_msg("metrics lack %s", want);
        }
        snprintf(want, sizeof(want), "# HELP segcached_%s ", name);
        assert_true(has_line(out, want));
        snprintf(want, sizeof(want), "# HELP segcached_%s #", name);
        assert_false(has_line(out, want));
    }
    assert_true(has_line(out, "# TYPE segcached_worker_conn_curr gauge\n"));
    /* units in the names (issue 23) */
    assert_true(has_line(out, "segcached_worker_read_bytes_total "));
    assert_true(has_line(out, "segcached_uptime_seconds "));
    assert_true(has_line(out, "segcached_time_seconds "));
    assert_true(has_line(out, "segcached_hotkey_memory_bytes "));
    assert_false(has_line(out, "segcached_uptime "));
    assert_false(has_line(out, "segcached_worker_read_byte_total "));
    assert_true(
            has_line(out, "segcached_build_info{version=\"" SEGCACHED_VERSION
                          "\",commit=\"" SEGCACHED_COMMIT "\"} 1\n"));
}

static void
test_stats_describe_lists_every_metric(void **state)
{
    (void)state;
    char *text_out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text_out, &len);
    assert_non_null(f);
    stats_describe(f);
    assert_int_equal(fclose(f), 0);
    const struct metric *m = stats_metrics();
    for (size_t i = 0; i < STATS_NMETRIC; i++) {
        char want[128];
        snprintf(want, sizeof(want), "%s ", m[i].name);
        assert_true(has_line(text_out, want));
        assert_non_null(strstr(text_out, m[i].desc));
    }
    free(text_out);
}

static void
test_stats_reset_zeroes_counters(void **state)
{
    (void)state;
    metric_incr_n(&stats.seg.seg_get, 5);
    metric_incr_n(&stats.memcache.memcache_get_hit, 2);
    metric_incr_n(&stats.server.server_conn_total, 3);
    metric_record(&stats.memcache.memcache_lat_get, 1000);
    const char *out = stats_text("", STATUS_OK);
    assert_true(has_line(out, "STAT seg_get 5\r\n"));
    assert_true(has_line(out, "STAT memcache_get_hit 2\r\n"));
    assert_true(has_line(out, "STAT memcache_lat_get_count 1\r\n"));
    stats_reset();
    const struct metric *m = stats_metrics();
    for (size_t i = 0; i < STATS_NMETRIC; i++) {
        if (m[i].type == METRIC_COUNTER) {
            assert_int_equal(metric_counter(&m[i]), 0);
        }
    }
    out = stats_text("", STATUS_OK);
    assert_true(has_line(out, "STAT seg_get 0\r\n"));
    assert_true(has_line(out, "STAT server_conn_total 0\r\n"));
    assert_true(has_line(out, "STAT memcache_lat_get_count 0\r\n"));
}

static const char *
mc_text(const char *group, rstatus_i want)
{
    struct bstring g = bstring_of(group, strlen(group));
    buf_clear(&b);
    assert_int_equal(stats_print_memcache(&b, 16 * MiB, &g), want);
    return text();
}

static void
test_stats_memcache_groups(void **state)
{
    (void)state;
    metric_incr_n(&stats.memcache.memcache_get_hit, 4);
    metric_incr_n(&stats.memcache.memcache_set, 1);
    metric_incr_n(&stats.memcache.memcache_cas, 2);
    const char *out = mc_text("", STATUS_OK);
    static const char *names[] = {"pid", "uptime", "time", "version",
            "pointer_size", "rusage_user", "rusage_system", "max_connections",
            "curr_connections", "total_connections", "cmd_get", "cmd_set",
            "cmd_flush", "cmd_touch", "get_hits", "get_misses", "delete_hits",
            "incr_hits", "cas_badval", "touch_hits", "bytes_read",
            "bytes_written", "limit_maxbytes", "threads", "bytes", "curr_items",
            "total_items", "evictions", "reclaimed"};
    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        char want[64];
        snprintf(want, sizeof(want), "STAT %s ", names[i]);
        if (!has_line(out, want)) {
            fail_msg("memcache stats lack %s", want);
        }
    }
    assert_true(has_line(out, "STAT get_hits 4\r\n"));
    assert_true(has_line(out, "STAT cmd_set 3\r\n"));
    assert_true(has_line(out, "STAT version 1.6.18-segcached-"));
    /* then every seg metric under its own name */
    const struct metric *m = (const struct metric *)&stats.seg;
    for (size_t i = 0; i < sizeof(stats.seg) / sizeof(struct metric); i++) {
        char want[128];
        snprintf(want, sizeof(want), "STAT %s%s ", m[i].name,
                m[i].type == METRIC_HISTOGRAM ? "_p99" : "");
        assert_true(has_line(out, want));
    }
    out = mc_text("settings", STATUS_OK);
    assert_true(has_line(out, "STAT maxbytes 67108864\r\n"));
    assert_true(has_line(out, "STAT cas_enabled yes\r\n"));
    assert_true(has_line(out, "STAT eviction_policy merge\r\n"));
    /* an empty store: no class, as memcached before its first item (the
     * class itself: test_memcache_tools.py, against memcached) */
    assert_string_equal(mc_text("items", STATUS_OK), "");
    assert_string_equal(mc_text("slabs", STATUS_OK),
            "STAT active_slabs 0\r\nSTAT total_malloced 0\r\n");
    assert_string_equal(mc_text("extstore", STATUS_OK), "");
    out = mc_text("settings", STATUS_OK);
    assert_true(has_line(out, "STAT detail_enabled no\r\n"));
    assert_true(has_line(out, "STAT domain_socket NULL\r\n"));
    assert_true(has_line(out, "STAT memory_file (null)\r\n"));
    out = mc_text("", STATUS_OK);
    assert_true(has_line(out, "STAT get_expired 0\r\n"));
    assert_true(has_line(out, "STAT lrutail_reflocked 0\r\n"));
    assert_true(has_line(out, "STAT listen_disabled_num 0\r\n"));
    assert_string_equal(
            mc_text("sizes", STATUS_OK), "STAT sizes_status disabled\r\n");
    assert_string_equal(mc_text("conns", STATUS_OK), "");
    mc_text("bogus", STATUS_EINVAL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_stats_text_has_every_metric),
            cmocka_unit_test(test_stats_prometheus_has_every_metric),
            cmocka_unit_test(test_stats_describe_lists_every_metric),
            cmocka_unit_test(test_stats_reset_zeroes_counters),
            cmocka_unit_test(test_stats_memcache_groups),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
