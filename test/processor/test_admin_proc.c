/* SPDX-License-Identifier: Apache-2.0 */
/* The admin processor driven through its read callback on an in-memory
 * connection, with the binary's own stats source (src/stats.c) as main.c
 * wires it: stats, stats reset, version, HTTP GET /metrics, an unknown
 * command and an over-long line. */
#include "unit.h"

#include "proc_harness.h"

#include "processor/admin.h"
#include "stats.h"

#include "base/buf.h"
#include "base/util.h"
#include "core/conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct proc_limits limits = {
        .rbuf_max = 1 * MiB, .wbuf_high = 64 * KiB, .wbuf_max = 4 * MiB};

static const struct admin_source source = {
        .stats = stats_print_text,
        .metrics = stats_print_prometheus,
        .reset = stats_reset,
};

static int
group_setup(void **state)
{
    (void)state;
    if (stats_setup() != STATUS_OK) {
        return -1;
    }
    proc_admin_setup(&source);
    return 0;
}

static int
group_teardown(void **state)
{
    (void)state;
    stats_teardown();
    return 0;
}

static void
conn_open(struct conn *c)
{
    harness_open(c, 1, 0);
}

static void
conn_close(struct conn *c)
{
    harness_close(&proc_admin, c);
}

/* Appends bytes and runs the processor; the replies stay in c->wbuf,
 * NUL-terminated (the NUL is not counted in buf_rsize). */
static const char *
feed(struct conn *c, const char *data, size_t len)
{
    buf_clear(&c->wbuf);
    assert_int_equal(buf_append(&c->rbuf, data, len, MiB), STATUS_OK);
    assert_int_equal(proc_admin.read(c, &limits), STATUS_OK);
    buf_lshift(&c->rbuf);
    assert_int_equal(buf_append(&c->wbuf, "", 1, 8 * MiB), STATUS_OK);
    c->wbuf.wpos--;
    return c->wbuf.rpos;
}

static const char *
feed_str(struct conn *c, const char *data)
{
    return feed(c, data, strlen(data));
}

static void
test_admin_version_unknown_empty(void **state)
{
    (void)state;
    struct conn c;
    conn_open(&c);
    assert_string_equal(
            feed_str(&c, "version\r\n"), "VERSION " SEGCACHED_VERSION "\r\n");
    assert_string_equal(feed_str(&c, "\r\nbogus x\r\nversion\n"),
            "CLIENT_ERROR unknown command (try stats, version, quit)\r\n"
            "VERSION " SEGCACHED_VERSION "\r\n");
    /* a line not yet whole is not answered */
    assert_string_equal(feed_str(&c, "vers"), "");
    assert_string_equal(
            feed_str(&c, "ion\r\n"), "VERSION " SEGCACHED_VERSION "\r\n");
    assert_false(c.flags & CONN_CLOSE);
    assert_string_equal(feed_str(&c, "quit\r\nversion\r\n"), "");
    assert_true(c.flags & CONN_CLOSE);
    conn_close(&c);
}

static void
test_admin_stats_and_reset(void **state)
{
    (void)state;
    struct conn c;
    conn_open(&c);
    metric_incr_n(&stats.seg.seg_get, 1);
    metric_incr_n(&stats.seg.seg_get, 1);
    metric_incr_n(&stats.memcache.memcache_get, 1);
    const char *out = feed_str(&c, "stats\r\n");
    assert_non_null(strstr(out, "STAT pid "));
    assert_non_null(strstr(out, "\r\nSTAT seg_get 2\r\n"));
    assert_non_null(strstr(out, "\r\nSTAT memcache_get 1\r\n"));
    assert_non_null(strstr(out, "\r\nSTAT server_conn_curr 0\r\n"));
    size_t n = strlen(out);
    assert_true(n > 5);
    assert_string_equal(out + n - 5, "END\r\n");
    assert_string_equal(feed_str(&c, "stats reset\r\n"), "RESET\r\n");
    out = feed_str(&c, "stats\r\n");
    assert_non_null(strstr(out, "\r\nSTAT seg_get 0\r\n"));
    assert_non_null(strstr(out, "\r\nSTAT memcache_get 0\r\n"));
    assert_string_equal(feed_str(&c, "stats nosuch\r\n"),
            "CLIENT_ERROR unknown stats group\r\n");
    conn_close(&c);
}

static void
test_admin_http_metrics(void **state)
{
    (void)state;
    struct conn c;
    conn_open(&c);
    metric_incr_n(&stats.seg.seg_write, 1);
    const char *req = "GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n";
    const char *out = feed_str(&c, req);
    static const char head[] =
            "HTTP/1.1 200 OK\r\n"
            "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
            "Content-Length: ";
    assert_memory_equal(out, head, sizeof(head) - 1);
    char *end;
    unsigned long len = strtoul(out + sizeof(head) - 1, &end, 10);
    assert_memory_equal(end, "\r\nConnection: close\r\n\r\n", 23);
    const char *body = end + 23;
    assert_int_equal(strlen(body), len);
    assert_non_null(strstr(body, "# TYPE segcached_seg_write_total counter\n"
                                 "segcached_seg_write_total 1\n"));
    assert_non_null(strstr(body, "# TYPE segcached_pid gauge\n"));
    assert_non_null(strstr(body, "# TYPE segcached_worker_conn_curr gauge\n"));
    assert_true(c.flags & CONN_CLOSE);
    conn_close(&c);

    conn_open(&c);
    assert_string_equal(feed_str(&c, "GET /nope HTTP/1.0\r\n\r\n"),
            "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n"
            "Content-Length: 13\r\nConnection: close\r\n\r\ntry /metrics\n");
    assert_true(c.flags & CONN_CLOSE);
    conn_close(&c);

    conn_close(&c);
}

/* Regression (issue 23): scrapers add queries, probes send HEAD, and any
 * other method gets an HTTP answer, not the text protocol's error. */
static void
test_issue_23_http_query_head_and_methods(void **state)
{
    (void)state;
    struct conn c;
    conn_open(&c);
    const char *out = feed_str(&c, "GET /metrics?x=1&y HTTP/1.1\r\n\r\n");
    assert_true(strncmp(out, "HTTP/1.1 200 OK\r\n", 17) == 0);
    const char *body = strstr(out, "\r\n\r\n") + 4;
    unsigned long get_len = strtoul(
            strstr(out, "Content-Length: ") + strlen("Content-Length: "), NULL,
            10);
    assert_int_equal(strlen(body), get_len);
    assert_non_null(strstr(body, "segcached_build_info{version=\""));
    conn_close(&c);

    conn_open(&c);
    out = feed_str(&c, "HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_true(strncmp(out, "HTTP/1.1 200 OK\r\n", 17) == 0);
    size_t n = strlen(out);
    assert_string_equal(out + n - 4, "\r\n\r\n"); /* no body */
    unsigned long head_len = strtoul(
            strstr(out, "Content-Length: ") + strlen("Content-Length: "), NULL,
            10);
    assert_true(head_len > 1000);
    assert_true(c.flags & CONN_CLOSE);
    conn_close(&c);

    conn_open(&c);
    assert_string_equal(feed_str(&c, "HEAD /nope HTTP/1.0\r\n\r\n"),
            "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n"
            "Content-Length: 13\r\nConnection: close\r\n\r\n");
    conn_close(&c);

    static const char *const methods[] = {
            "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "BREW"};
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        char req[64];
        snprintf(req, sizeof(req), "%s /metrics HTTP/1.1\r\n\r\n", methods[i]);
        conn_open(&c);
        assert_string_equal(feed_str(&c, req),
                "HTTP/1.1 405 Method Not Allowed\r\n"
                "Content-Type: text/plain\r\nContent-Length: 18\r\n"
                "Allow: GET, HEAD\r\nConnection: close\r\n\r\n"
                "only GET and HEAD\n");
        assert_true(c.flags & CONN_CLOSE);
        conn_close(&c);
    }
}

static void
test_admin_line_too_long(void **state)
{
    (void)state;
    struct conn c;
    char line[2048];
    memset(line, 's', sizeof(line));
    conn_open(&c);
    assert_string_equal(
            feed(&c, line, sizeof(line)), "CLIENT_ERROR line too long\r\n");
    assert_true(c.flags & CONN_CLOSE);
    assert_true(buf_empty(&c.rbuf));
    conn_close(&c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_admin_version_unknown_empty),
            cmocka_unit_test(test_admin_stats_and_reset),
            cmocka_unit_test(test_admin_http_metrics),
            cmocka_unit_test(test_issue_23_http_query_head_and_methods),
            cmocka_unit_test(test_admin_line_too_long),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
