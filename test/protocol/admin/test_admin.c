/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for the admin protocol: text lines, HTTP heads, limits. */
#include "unit.h"

#include "protocol/admin/admin.h"

#include <string.h>

static struct buf b;

static int
setup(void **state)
{
    (void)state;
    return buf_init(&b, 256) == STATUS_OK ? 0 : -1;
}

static int
teardown(void **state)
{
    (void)state;
    buf_deinit(&b);
    return 0;
}

static void
fill(const char *s)
{
    buf_clear(&b);
    assert_int_equal(buf_append(&b, s, strlen(s), 1 << 20), STATUS_OK);
}

static void
assert_bstr(const struct bstring *s, const char *want)
{
    assert_int_equal(s->len, strlen(want));
    assert_memory_equal(s->data, want, s->len);
}

static void
test_admin_parse_text(void **state)
{
    (void)state;
    struct admin_request req;
    fill("  stats   seg  \r\nversion\nquit\r\n");
    assert_int_equal(admin_parse_req(&req, &b), ADMIN_PARSE_OK);
    assert_int_equal(req.type, ADMIN_REQ_TEXT);
    assert_bstr(&req.verb, "stats");
    assert_bstr(&req.arg, "seg");
    assert_int_equal(admin_parse_req(&req, &b), ADMIN_PARSE_OK);
    assert_bstr(&req.verb, "version");
    assert_bstr(&req.arg, "");
    assert_int_equal(admin_parse_req(&req, &b), ADMIN_PARSE_OK);
    assert_bstr(&req.verb, "quit");
    assert_true(buf_empty(&b));
}

static void
test_admin_parse_split(void **state)
{
    (void)state;
    const char *wire = "stats\r\n";
    struct admin_request req;
    for (size_t cut = 0; cut < strlen(wire); cut++) {
        buf_clear(&b);
        buf_append(&b, wire, cut, 1024);
        assert_int_equal(admin_parse_req(&req, &b), ADMIN_PARSE_UNFIN);
        assert_ptr_equal(b.rpos, b.begin);
        buf_append(&b, wire + cut, strlen(wire) - cut, 1024);
        assert_int_equal(admin_parse_req(&req, &b), ADMIN_PARSE_OK);
        assert_bstr(&req.verb, "stats");
    }
}

static void
test_admin_parse_http(void **state)
{
    (void)state;
    struct admin_request req;
    const char *wire =
            "GET /metrics HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n";
    for (size_t cut = 0; cut < strlen(wire); cut++) {
        buf_clear(&b);
        buf_append(&b, wire, cut, 1 << 20);
        assert_int_equal(admin_parse_req(&req, &b), ADMIN_PARSE_UNFIN);
        buf_append(&b, wire + cut, strlen(wire) - cut, 1 << 20);
        assert_int_equal(admin_parse_req(&req, &b), ADMIN_PARSE_OK);
        assert_int_equal(req.type, ADMIN_REQ_HTTP);
        assert_bstr(&req.verb, "GET");
        assert_bstr(&req.arg, "/metrics");
        assert_int_equal(req.http_minor, 1);
        assert_true(buf_empty(&b));
    }
    /* "GET x" without an HTTP version is a text command named GET */
    fill("GET foo\r\n");
    assert_int_equal(admin_parse_req(&req, &b), ADMIN_PARSE_OK);
    assert_int_equal(req.type, ADMIN_REQ_TEXT);
}

/* Regression (issue 23): every HTTP method is HTTP, so a POST gets an
 * HTTP answer rather than the text protocol's error; text commands stay
 * text, whatever their case. */
static void
test_issue_23_parse_any_http_method(void **state)
{
    (void)state;
    struct admin_request req;
    fill("POST /metrics?a=b HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
    assert_int_equal(admin_parse_req(&req, &b), ADMIN_PARSE_OK);
    assert_int_equal(req.type, ADMIN_REQ_HTTP);
    assert_bstr(&req.verb, "POST");
    assert_bstr(&req.arg, "/metrics?a=b");
    assert_true(buf_empty(&b));
    fill("OPTIONS * HTTP/1.0\n\n");
    assert_int_equal(admin_parse_req(&req, &b), ADMIN_PARSE_OK);
    assert_int_equal(req.type, ADMIN_REQ_HTTP);
    assert_bstr(&req.verb, "OPTIONS");
    fill("stats HTTP/1.1\r\n");
    assert_int_equal(admin_parse_req(&req, &b), ADMIN_PARSE_OK);
    assert_int_equal(req.type, ADMIN_REQ_TEXT);
    fill("STATS\r\n");
    assert_int_equal(admin_parse_req(&req, &b), ADMIN_PARSE_OK);
    assert_int_equal(req.type, ADMIN_REQ_TEXT);
}

/* Regression (fuzzing): an LF-only head ends at its empty line even when
 * bytes holding "\r\n\r\n" follow in the same read. */
static void
test_admin_parse_http_head_ends_at_first_empty_line(void **state)
{
    (void)state;
    struct admin_request req;
    fill("GET /metrics HTTP/1.1\n\nstats\r\n\r\n");
    assert_int_equal(admin_parse_req(&req, &b), ADMIN_PARSE_OK);
    assert_int_equal(req.type, ADMIN_REQ_HTTP);
    assert_int_equal(admin_parse_req(&req, &b), ADMIN_PARSE_OK);
    assert_int_equal(req.type, ADMIN_REQ_TEXT);
    assert_bstr(&req.verb, "stats");
}

/* Regression (fuzzing): an HTTP request line longer than a text line is
 * parsed the same whether or not its first KiB came alone. */
static void
test_admin_parse_long_http_line_split(void **state)
{
    (void)state;
    struct admin_request req;
    char line[1500];
    memset(line, 'a', sizeof(line));
    memcpy(line, "GET /", 5);
    memcpy(line + sizeof(line) - 11, " HTTP/1.1\n\n", 11);
    buf_clear(&b);
    buf_append(&b, line, ADMIN_LINE_MAX, 1 << 20);
    assert_int_equal(admin_parse_req(&req, &b), ADMIN_PARSE_UNFIN);
    buf_append(
            &b, line + ADMIN_LINE_MAX, sizeof(line) - ADMIN_LINE_MAX, 1 << 20);
    assert_int_equal(admin_parse_req(&req, &b), ADMIN_PARSE_OK);
    assert_int_equal(req.type, ADMIN_REQ_HTTP);
}

static void
test_admin_parse_oversize(void **state)
{
    (void)state;
    struct admin_request req;
    char line[ADMIN_LINE_MAX + 1];
    memset(line, 'x', sizeof(line) - 1);
    line[sizeof(line) - 1] = '\0';
    fill(line);
    assert_int_equal(admin_parse_req(&req, &b), ADMIN_PARSE_EOVERSIZE);
    fill("GET / HTTP/1.1\r\n");
    for (int i = 0; i < ADMIN_HTTP_MAX / 16; i++) {
        buf_append(&b, "X-Pad: 12345678\r\n", 17, 1 << 20);
    }
    assert_int_equal(admin_parse_req(&req, &b), ADMIN_PARSE_EOVERSIZE);
}

static void
test_admin_compose_http(void **state)
{
    (void)state;
    buf_clear(&b);
    assert_int_equal(admin_compose_http(&b, 4096, 404, "Not Found",
                             "text/plain", "no\n", 3),
            STATUS_OK);
    const char *want = "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n"
                       "Content-Length: 3\r\nConnection: close\r\n\r\nno\n";
    assert_int_equal(buf_rsize(&b), strlen(want));
    assert_memory_equal(b.rpos, want, strlen(want));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_admin_parse_text),
            cmocka_unit_test(test_admin_parse_split),
            cmocka_unit_test(test_admin_parse_http),
            cmocka_unit_test(test_issue_23_parse_any_http_method),
            cmocka_unit_test(
                    test_admin_parse_http_head_ends_at_first_empty_line),
            cmocka_unit_test(test_admin_parse_long_http_line_split),
            cmocka_unit_test(test_admin_parse_oversize),
            cmocka_unit_test(test_admin_compose_http),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
