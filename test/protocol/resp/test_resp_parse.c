/* SPDX-License-Identifier: Apache-2.0 */
/* RESP request parsing: multibulk and inline, whole, split at every byte,
 * fed a byte at a time, pipelined, malformed (every protocol error with
 * Redis 7.0.15's exact text, as probed on a live redis-server), oversized
 * and swallowed. */
#include "unit.h"

#include "protocol/resp/parse.h"
#include "protocol/resp/request.h"

#include "base/buf.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUF_MAX (256 * 1024 * 1024)

static resp_metrics_st metrics;
static struct resp_request *current; /* the test's request */

/* New limits, taken by the test's request as a connection's is at its
 * start (its fast bound follows them: resp_request_limits). */
static void
setup_limits(uint64_t max_args, uint64_t max_bulk, uint64_t max_request)
{
    resp_options_st o = {RESP_OPTION(INIT_OPTION)};
    o.resp_max_args.val.OPTION_UINT = max_args;
    o.resp_max_bulk.val.OPTION_SIZE = max_bulk;
    o.resp_max_request.val.OPTION_SIZE = max_request;
    resp_setup(&o, &metrics);
    resp_request_limits(current, 0, SIZE_MAX);
}

static int
group_setup(void **state)
{
    (void)state;
    metrics = (resp_metrics_st){RESP_METRIC(INIT_METRIC)};
    metric_init((struct metric *)&metrics, METRIC_CARDINALITY(metrics));
    resp_setup(NULL, &metrics);
    return 0;
}

static int
group_teardown(void **state)
{
    (void)state;
    resp_teardown();
    metric_deinit((struct metric *)&metrics, METRIC_CARDINALITY(metrics));
    return 0;
}

static int
test_setup(void **state)
{
    resp_setup(NULL, &metrics);
    *state = current = resp_request_create();
    return *state == NULL;
}

static int
test_teardown(void **state)
{
    struct resp_request *req = *state;
    resp_request_destroy(&req);
    assert_null(req);
    return 0;
}

static struct buf *
buf_from(const char *data, size_t n)
{
    struct buf *b = malloc(sizeof(*b));
    assert_non_null(b);
    assert_int_equal(buf_init(b, 16), STATUS_OK);
    if (n > 0) {
        assert_int_equal(buf_append(b, data, n, BUF_MAX), STATUS_OK);
    }
    return b;
}

static void
buf_free(struct buf **b)
{
    buf_deinit(*b);
    free(*b);
    *b = NULL;
}

static void
append(struct buf *b, const char *data, size_t n)
{
    assert_int_equal(buf_append(b, data, n, BUF_MAX), STATUS_OK);
}

/* How feed answers RESP_PARSE_STREAM, and the streamed bytes it got. */
typedef enum {
    STREAM_TAKE,
    STREAM_DECLINE,
} stream_answer_e;
static stream_answer_e stream_answer;
static char streamed[1024];
static size_t nstreamed;
static char fixed[256]; /* copies of the arguments before it */

/* Renders every outcome of parsing the whole stream as text, one line per
 * outcome: "OK n a|b|c" (args with their lengths), "E<status> msg", with
 * argv checked against the bytes. Parsing stops at UNFIN or EINVALID. */
static void
render(struct resp_request *req, resp_parse_e st, char *out, size_t cap,
        size_t *len)
{
    int n;
    if (st == RESP_PARSE_OK) {
        n = snprintf(out + *len, cap - *len, "OK %u", req->argc);
        *len += (size_t)n;
        for (uint32_t i = 0; i < req->argc && *len < cap; i++) {
            if (req->argv[i].data == NULL) { /* streamed: what came */
                assert_int_equal(nstreamed, req->argv[i].len);
                n = snprintf(out + *len, cap - *len, " %zu:<%.*s>",
                        req->argv[i].len, (int)size_min(nstreamed, 16),
                        streamed);
            } else {
                n = snprintf(out + *len, cap - *len, " %zu:%.*s",
                        req->argv[i].len, (int)size_min(req->argv[i].len, 16),
                        req->argv[i].data);
            }
            *len += (size_t)n;
        }
    } else if (st == RESP_PARSE_STREAM) {
        n = snprintf(out + *len, cap - *len, "S %u %" PRIu64, req->argc,
                req->stream_len);
        *len += (size_t)n;
    } else {
        n = snprintf(out + *len, cap - *len, "E%d %s", (int)st,
                req->error == NULL ? "" : req->error);
        *len += (size_t)n;
    }
    if (*len < cap - 1) {
        out[(*len)++] = '\n';
        out[*len] = '\0';
    }
}

/* Feeds `wire` in pieces of `step` bytes (0: all at once) and records the
 * outcomes. Returns the final status. */
static resp_parse_e
feed(struct resp_request *req, const char *wire, size_t n, size_t step,
        char *out, size_t cap)
{
    struct buf *b = buf_from(NULL, 0);
    size_t fed = 0;
    size_t len = 0;
    resp_parse_e st = RESP_PARSE_UNFIN;

    out[0] = '\0';
    while (fed < n || st != RESP_PARSE_UNFIN) {
        if (st == RESP_PARSE_UNFIN) {
            size_t k = step == 0 ? n - fed : size_min(step, n - fed);
            append(b, wire + fed, k);
            fed += k;
            /* move the bytes around, as a connection would */
            buf_lshift(b);
        }
        st = resp_parse_req(req, b);
        if (st == RESP_PARSE_UNFIN) {
            assert_true(req->need > buf_rsize(b) || req->need == 1);
            if (fed == n) {
                break;
            }
            continue;
        }
        if (st == RESP_PARSE_CHUNK) {
            assert_true(nstreamed + req->chunk.len <= sizeof(streamed));
            memcpy(streamed + nstreamed, req->chunk.data, req->chunk.len);
            nstreamed += req->chunk.len;
            continue;
        }
        render(req, st, out, cap, &len);
        if (st == RESP_PARSE_STREAM) {
            for (uint32_t i = 0; i < req->argc; i++) {
                assert_non_null(req->argv[i].data); /* views, for a copy */
            }
            nstreamed = 0;
            if (stream_answer == STREAM_TAKE) {
                /* the caller's copies: the bytes are consumed */
                size_t used = 0;
                for (uint32_t i = 0; i < req->argc; i++) {
                    assert_true(used + req->argv[i].len <= sizeof(fixed));
                    memcpy(fixed + used, req->argv[i].data, req->argv[i].len);
                    req->argv[i].data = fixed + used;
                    used += req->argv[i].len;
                }
                assert_int_equal(resp_parse_stream_begin(req, b), STATUS_OK);
            } else {
                resp_parse_stream_decline(req, b);
            }
            continue;
        }
        if (st == RESP_PARSE_EINVALID) {
            break;
        }
        resp_request_reset(req);
    }
    buf_free(&b);
    return st;
}

/* The stream parsed whole, split at every byte, and a byte at a time must
 * give the same outcomes; returns them (whole) in out. */
static void
check_splits(struct resp_request *req, const char *wire, size_t n, char *out,
        size_t cap)
{
    char *other = malloc(cap);
    assert_non_null(other);
    feed(req, wire, n, 0, out, cap);
    resp_request_reset(req);
    for (size_t step = 1; step < n; step++) {
        feed(req, wire, n, step, other, cap);
        resp_request_reset(req);
        assert_string_equal(other, out);
    }
    free(other);
}

static void
expect_stream(struct resp_request *req, const char *wire, size_t n,
        const char *expected)
{
    char out[8192];
    check_splits(req, wire, n, out, sizeof(out));
    assert_string_equal(out, expected);
}

#define EXPECT(req, wire, expected)                                            \
    expect_stream((req), (wire), sizeof(wire) - 1, (expected))

static void
test_multibulk_whole(void **state)
{
    struct resp_request *req = *state;
    const char *wire = "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n";
    struct buf *b = buf_from(wire, strlen(wire));

    assert_int_equal(resp_parse_req(req, b), RESP_PARSE_OK);
    assert_int_equal(req->type, RESP_REQ_MULTIBULK);
    assert_int_equal(req->argc, 3);
    assert_int_equal(req->argv[0].len, 3);
    assert_memory_equal(req->argv[0].data, "SET", 3);
    assert_memory_equal(req->argv[1].data, "key", 3);
    assert_int_equal(req->argv[2].len, 5);
    assert_memory_equal(req->argv[2].data, "value", 5);
    /* views, not copies */
    assert_ptr_equal(req->argv[0].data, b->begin + 8);
    assert_true(buf_empty(b));
    resp_request_reset(req);
    assert_int_equal(resp_parse_req(req, b), RESP_PARSE_UNFIN);
    buf_free(&b);
}

static void
test_multibulk_split(void **state)
{
    struct resp_request *req = *state;
    const char *wire = "*2\r\n$4\r\nECHO\r\n$12\r\nhello\r\nworld\r\n";
    size_t n = strlen(wire);

    for (size_t cut = 0; cut < n; cut++) {
        struct buf *b = buf_from(wire, cut);
        assert_int_equal(resp_parse_req(req, b), RESP_PARSE_UNFIN);
        assert_ptr_equal(b->rpos, b->begin); /* nothing consumed */
        assert_true(req->need > cut);
        assert_true(req->need <= n);
        append(b, wire + cut, n - cut);
        assert_int_equal(resp_parse_req(req, b), RESP_PARSE_OK);
        assert_int_equal(req->argc, 2);
        assert_int_equal(req->argv[1].len, 12);
        assert_memory_equal(req->argv[1].data, "hello\r\nworld", 12);
        assert_true(buf_empty(b));
        resp_request_reset(req);
        buf_free(&b);
    }
}

/* need says how far a big bulk reaches, so the caller can grow its buffer
 * once; the bytes move (grow, shift) between calls and parsing resumes. */
static void
test_multibulk_need_and_resume(void **state)
{
    struct resp_request *req = *state;
    const char *head = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1000\r\n";
    size_t hlen = strlen(head);
    char *value = malloc(1000);
    memset(value, 'v', 1000);
    struct buf *b = buf_from("PING\r\n", 6);

    assert_int_equal(resp_parse_req(req, b), RESP_PARSE_OK);
    resp_request_reset(req);
    append(b, head, hlen);
    append(b, value, 10);
    assert_int_equal(resp_parse_req(req, b), RESP_PARSE_UNFIN);
    assert_int_equal(req->need, hlen + 1000 + 2);
    assert_int_equal(req->argc, 2); /* progress kept */
    buf_lshift(b);
    assert_int_equal(buf_reserve(b, 4096, BUF_MAX), STATUS_OK);
    append(b, value + 10, 990);
    assert_int_equal(resp_parse_req(req, b), RESP_PARSE_UNFIN);
    assert_int_equal(req->need, hlen + 1002);
    append(b, "\r\n", 2);
    assert_int_equal(resp_parse_req(req, b), RESP_PARSE_OK);
    assert_int_equal(req->argc, 3);
    assert_memory_equal(req->argv[1].data, "k", 1);
    assert_int_equal(req->argv[2].len, 1000);
    assert_memory_equal(req->argv[2].data, value, 1000);
    free(value);
    buf_free(&b);
}

/* A reset between UNFIN and the next call restarts the request: nothing
 * was consumed, so nothing is lost. */
static void
test_multibulk_reset_restarts(void **state)
{
    struct resp_request *req = *state;
    const char *wire = "*2\r\n$3\r\nGET\r\n$3\r\nfoo\r\n";
    struct buf *b = buf_from(wire, 16);

    assert_int_equal(resp_parse_req(req, b), RESP_PARSE_UNFIN);
    resp_request_reset(req);
    append(b, wire + 16, strlen(wire) - 16);
    assert_int_equal(resp_parse_req(req, b), RESP_PARSE_OK);
    assert_int_equal(req->argc, 2);
    assert_memory_equal(req->argv[1].data, "foo", 3);
    buf_free(&b);
}

static void
test_multibulk_pipelined(void **state)
{
    struct resp_request *req = *state;
    EXPECT(req,
            "*1\r\n$4\r\nPING\r\n"
            "*2\r\n$3\r\nGET\r\n$1\r\na\r\n"
            "GET b\r\n"
            "*0\r\n"
            "*-1\r\n"
            "\r\n"
            "*3\r\n$3\r\nSET\r\n$0\r\n\r\n$2\r\n\r\n\r\n"
            "  ping  \n",
            "OK 1 4:PING\n"
            "OK 2 3:GET 1:a\n"
            "OK 2 3:GET 1:b\n"
            "OK 3 3:SET 0: 2:\r\n\n"
            "OK 1 4:ping\n");
}

/* Redis skips the two bytes after a header's CR and after a payload
 * without looking at them. */
static void
test_multibulk_lenient_crlf(void **state)
{
    struct resp_request *req = *state;
    EXPECT(req, "*1\r\n$4\r\nPINGxxPING\r\n", "OK 1 4:PING\nOK 1 4:PING\n");
    EXPECT(req, "*1\rx$4\r\nPING\r\n", "OK 1 4:PING\n");
    EXPECT(req, "*2\r\n$4\r\nECHO\r\n$1\r\nab\r\n", "OK 2 4:ECHO 1:a\n");
    EXPECT(req, "*1\r\n$4\r\nPING\r\n\r\n", "OK 1 4:PING\n");
}

/* A NUL before the header's CR (strchr in Redis) means "wait". */
static void
test_multibulk_nul_waits(void **state)
{
    struct resp_request *req = *state;
    EXPECT(req, "*1\r\n\0\r\n", "");
    EXPECT(req, "*1\0\r\n$4\r\nPING\r\n", "");
    EXPECT(req, "*2\r\n$4\r\nECHO\r\n$3\r\na\0b\r\n", "OK 2 4:ECHO 3:a\n");
}

/* Header lengths at the edges of the parser's one-pass read of a line of
 * digits (up to 18, no leading zero) and just past it, where the general
 * rules take over: the same outcomes either way, split at every byte. */
static void
test_multibulk_header_lengths(void **state)
{
    struct resp_request *req = *state;
    EXPECT(req, "*2\r\n$3\r\nGET\r\n$10\r\n0123456789\r\n",
            "OK 2 3:GET 10:0123456789\n");
    EXPECT(req, "*1\r\n$1\r\nx\r\n*1\r\n$12\r\nabcdefghijkl\r\n",
            "OK 1 1:x\nOK 1 12:abcdefghijkl\n");
    EXPECT(req, "*1\r\n$0\r\n\r\n", "OK 1 0:\n");
    EXPECT(req, "*100000000000000000\r\n", /* 18 digits */
            "E2 ERR Protocol error: invalid multibulk length\n");
    EXPECT(req, "*1000000000000000000\r\n", /* 19 */
            "E2 ERR Protocol error: invalid multibulk length\n");
    EXPECT(req, "*1\r\n$100000000000000000\r\n",
            "E2 ERR Protocol error: invalid bulk length\n");
    EXPECT(req, "*1\r\n$1000000000000000000\r\n",
            "E2 ERR Protocol error: invalid bulk length\n");
    EXPECT(req, "*1\r\n$4x\r\nPING\r\n",
            "E2 ERR Protocol error: invalid bulk length\n");
    EXPECT(req, "*1x\r\n$4\r\nPING\r\n",
            "E2 ERR Protocol error: invalid multibulk length\n");
    EXPECT(req, "*1\r\n$4\n\r\nPING\r\n",
            "E2 ERR Protocol error: invalid bulk length\n");
}

/* Every protocol error text below is what redis-server 7.0.15 replied
 * (before closing the connection) to the same bytes. */
static void
test_multibulk_protocol_errors(void **state)
{
    struct resp_request *req = *state;
    static const struct {
        const char *wire;
        const char *expected;
    } cases[] = {
            {"*x\r\n", "E2 ERR Protocol error: invalid multibulk length\n"},
            {"*\r\n", "E2 ERR Protocol error: invalid multibulk length\n"},
            {"* 1\r\n", "E2 ERR Protocol error: invalid multibulk length\n"},
            {"*+1\r\n", "E2 ERR Protocol error: invalid multibulk length\n"},
            {"*01\r\n", "E2 ERR Protocol error: invalid multibulk length\n"},
            {"*-0\r\n", "E2 ERR Protocol error: invalid multibulk length\n"},
            {"*2147483648\r\n",
                    "E2 ERR Protocol error: invalid multibulk length\n"},
            {"*99999999999999999999\r\n",
                    "E2 ERR Protocol error: invalid multibulk length\n"},
            {"*1\r\nx\r\n", "E2 ERR Protocol error: expected '$', got 'x'\n"},
            {"*1\r\n%\r\n", "E2 ERR Protocol error: expected '$', got '%'\n"},
            {"*1\r\n\r\n", "E2 ERR Protocol error: expected '$', got ' '\n"},
            {"*1\r\n\n\r\n", "E2 ERR Protocol error: expected '$', got ' '\n"},
            {"*1\r\n$x\r\n", "E2 ERR Protocol error: invalid bulk length\n"},
            {"*1\r\n$-1\r\n", "E2 ERR Protocol error: invalid bulk length\n"},
            {"*1\r\n$\r\n", "E2 ERR Protocol error: invalid bulk length\n"},
            {"*1\r\n$04\r\n", "E2 ERR Protocol error: invalid bulk length\n"},
            {"*1\r\n$536870913\r\n",
                    "E2 ERR Protocol error: invalid bulk length\n"},
            {"*1\r\n$4\r\nPING\r\n*1\r\n$\r\n",
                    "OK 1 4:PING\n"
                    "E2 ERR Protocol error: invalid bulk length\n"},
    };
    char out[512];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        check_splits(
                req, cases[i].wire, strlen(cases[i].wire), out, sizeof(out));
        assert_string_equal(out, cases[i].expected);
    }
}

static void
test_multibulk_too_big_count_strings(void **state)
{
    struct resp_request *req = *state;
    size_t n = RESP_INLINE_MAX_SIZE + 10;
    char *wire = malloc(n + 8);
    struct buf *b;

    wire[0] = '*';
    memset(wire + 1, '1', n - 1);
    b = buf_from(wire, RESP_INLINE_MAX_SIZE); /* at the limit: wait */
    assert_int_equal(resp_parse_req(req, b), RESP_PARSE_UNFIN);
    append(b, wire + RESP_INLINE_MAX_SIZE, 1);
    assert_int_equal(resp_parse_req(req, b), RESP_PARSE_EINVALID);
    assert_string_equal(
            req->error, "ERR Protocol error: too big mbulk count string");
    buf_free(&b);
    resp_request_reset(req);

    memcpy(wire, "*1\r\n$", 5);
    memset(wire + 5, '1', n - 5);
    b = buf_from(wire, n);
    assert_int_equal(resp_parse_req(req, b), RESP_PARSE_EINVALID);
    assert_string_equal(
            req->error, "ERR Protocol error: too big bulk count string");
    assert_ptr_equal(b->rpos, b->begin);
    buf_free(&b);
    free(wire);
}

static void
test_multibulk_unauthenticated_limits(void **state)
{
    struct resp_request *req = *state;
    char out[512];

    req->unauthenticated = 1;
    feed(req, "*11\r\n", 5, 0, out, sizeof(out));
    assert_string_equal(
            out, "E2 ERR Protocol error: unauthenticated multibulk length\n");
    feed(req, "*1\r\n$16385\r\n", 12, 0, out, sizeof(out));
    assert_string_equal(
            out, "E2 ERR Protocol error: unauthenticated bulk length\n");
    /* at the limits: fine */
    feed(req, "*10\r\n$16384\r\n", 13, 0, out, sizeof(out));
    assert_string_equal(out, "");
    resp_request_reset(req);
    assert_int_equal(req->unauthenticated, 1); /* reset keeps it */
    req->unauthenticated = 0;
    feed(req, "*11\r\n", 5, 0, out, sizeof(out));
    assert_string_equal(out, "");
}

/* Inline splitting as Redis's sdssplitargs; each expectation is what
 * redis-server 7.0.15 did with the same line (ECHO echoing argv[1]). */
static void
test_inline_quotes_and_escapes(void **state)
{
    struct resp_request *req = *state;
    EXPECT(req, "ECHO \"a b\"\r\n", "OK 2 4:ECHO 3:a b\n");
    EXPECT(req, "ECHO \"a\\x41b\"\r\n", "OK 2 4:ECHO 3:aAb\n");
    EXPECT(req, "ECHO \"\\x41\\x4a\\xfF\"\r\n", "OK 2 4:ECHO 3:AJ\xff\n");
    EXPECT(req, "ECHO 'a\\x41b'\r\n", "OK 2 4:ECHO 6:a\\x41b\n");
    EXPECT(req, "ECHO \"a\\nb\\tc\\\\d\\\"e\"\r\n",
            "OK 2 4:ECHO 9:a\nb\tc\\d\"e\n");
    EXPECT(req, "ECHO \"\\r\\b\\a\"\r\n", "OK 2 4:ECHO 3:\r\b\a\n");
    EXPECT(req, "ECHO 'it\\'s'\r\n", "OK 2 4:ECHO 4:it's\n");
    EXPECT(req, "ECHO a\"b\"\r\n", "OK 2 4:ECHO 2:ab\n");
    EXPECT(req, "  ECHO    x   \r\n", "OK 2 4:ECHO 1:x\n");
    EXPECT(req, "ECHO\tx\r\n", "OK 2 4:ECHO 1:x\n");
    EXPECT(req, "ECHO \"\"\r\n", "OK 2 4:ECHO 0:\n");
    EXPECT(req, "ECHO ''\r\n", "OK 2 4:ECHO 0:\n");
    EXPECT(req, "ECHO \"\\x4\"\r\n", "OK 2 4:ECHO 2:x4\n");
    EXPECT(req, "ECHO \"\\xzz\"\r\n", "OK 2 4:ECHO 3:xzz\n");
    EXPECT(req, "ECHO \"\\q\"\r\n", "OK 2 4:ECHO 1:q\n");
    EXPECT(req, "ECHO \"a\" \r\n", "OK 2 4:ECHO 1:a\n");
    EXPECT(req, "ECHO \"a\"\t\r\n", "OK 2 4:ECHO 1:a\n");
    EXPECT(req, "ECHO \"x\"\vy\r\n", "OK 3 4:ECHO 1:x 1:y\n");
    EXPECT(req, "PING\rPING\r\n", "OK 2 4:PING 4:PING\n");
    EXPECT(req, "ECHO a\rb\r\n", "OK 3 4:ECHO 1:a 1:b\n");
    EXPECT(req, "ECHO\vx\r\n", "OK 1 6:ECHO\vx\n");
    EXPECT(req, "\v\fPING\r\n", "OK 1 4:PING\n");
    EXPECT(req, "ECHO x\r\r\n", "OK 2 4:ECHO 1:x\n");
    EXPECT(req, "PING\n", "OK 1 4:PING\n");
    EXPECT(req, "foo a b\r\n", "OK 3 3:foo 1:a 1:b\n");
}

static void
test_inline_unbalanced_quotes(void **state)
{
    struct resp_request *req = *state;
    static const char *const lines[] = {
            "ECHO \"abc\r\n",
            "ECHO 'abc\r\n",
            "ECHO \"a\"b\r\n",
            "ECHO 'a'b\r\n",
            "ECHO \"a\\\"\r\n",
            "ECHO \"a\\\r\n",
            "ECHO 'a\\'\r\n",
            "ECHO \"x\"\"y\"\r\n",
            "ECHO a\"b c\"d\r\n",
            "ECHO \"\"\"\"\r\n",
            "PING\r\nECHO \"x\r\nPING\r\n",
    };
    char out[256];

    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        check_splits(req, lines[i], strlen(lines[i]), out, sizeof(out));
        const char *err = strstr(out, "E2 ");
        assert_non_null(err);
        assert_string_equal(
                err, "E2 ERR Protocol error: unbalanced quotes in request\n");
    }
}

static void
test_inline_empty_lines(void **state)
{
    struct resp_request *req = *state;
    const char *wire = "\r\n\n   \r\n\t\n";
    struct buf *b = buf_from(wire, strlen(wire));

    assert_int_equal(resp_parse_req(req, b), RESP_PARSE_UNFIN);
    assert_true(buf_empty(b)); /* empty requests are consumed */
    append(b, "PING", 4);
    assert_int_equal(resp_parse_req(req, b), RESP_PARSE_UNFIN);
    assert_int_equal(buf_rsize(b), 4);
    append(b, "\r\n", 2);
    assert_int_equal(resp_parse_req(req, b), RESP_PARSE_OK);
    assert_int_equal(req->type, RESP_REQ_INLINE);
    assert_int_equal(req->argc, 1);
    buf_free(&b);
}

static void
test_inline_too_big(void **state)
{
    struct resp_request *req = *state;
    size_t n = RESP_INLINE_MAX_SIZE + 1;
    char *wire = malloc(n + 2);
    memset(wire, 'a', n);
    struct buf *b = buf_from(wire, n - 1); /* exactly the limit: wait */

    assert_int_equal(resp_parse_req(req, b), RESP_PARSE_UNFIN);
    append(b, wire, 1);
    assert_int_equal(resp_parse_req(req, b), RESP_PARSE_EINVALID);
    assert_string_equal(
            req->error, "ERR Protocol error: too big inline request");
    buf_free(&b);
    resp_request_reset(req);
    /* a longer line whose newline is already here is refused too: the
     * answer must not depend on how TCP split the bytes (Redis, reading 16
     * KiB at a time, accepts such a line only when its newline falls in the
     * read that crosses the limit) */
    memcpy(wire + n, "\r\n", 2);
    b = buf_from(wire, n + 2);
    assert_int_equal(resp_parse_req(req, b), RESP_PARSE_EINVALID);
    assert_string_equal(
            req->error, "ERR Protocol error: too big inline request");
    buf_free(&b);
    resp_request_reset(req);
    /* exactly the limit, with its newline: accepted */
    memcpy(wire + n - 1, "\r\n", 2);
    b = buf_from(wire, n + 1);
    assert_int_equal(resp_parse_req(req, b), RESP_PARSE_OK);
    assert_int_equal(req->argc, 1);
    assert_int_equal(req->argv[0].len, n - 1);
    buf_free(&b);
    free(wire);
}

static void
test_inline_nul_waits(void **state)
{
    struct resp_request *req = *state;
    EXPECT(req, "ECHO a\0b c\r\n", "");
    EXPECT(req, "\0PING\r\n", "");
}

/* MSET with thousands of keys: argv grows as the arguments arrive, and a
 * large argv is freed on reset. */
static void
test_multibulk_many_args(void **state)
{
    struct resp_request *req = *state;
    uint32_t nkeys = 5000;
    size_t cap = 64 + (size_t)nkeys * 40;
    char *wire = malloc(cap);
    size_t n =
            (size_t)snprintf(wire, cap, "*%u\r\n$4\r\nMSET\r\n", 1 + 2 * nkeys);
    for (uint32_t i = 0; i < nkeys; i++) {
        char key[16];
        int k = snprintf(key, sizeof(key), "key:%u", i);
        n += (size_t)snprintf(
                wire + n, cap - n, "$%d\r\n%s\r\n$1\r\nv\r\n", k, key);
    }
    struct buf *b = buf_from(NULL, 0);
    /* in 1000-byte reads */
    resp_parse_e st = RESP_PARSE_UNFIN;
    for (size_t fed = 0; fed < n; fed += 1000) {
        append(b, wire + fed, size_min(1000, n - fed));
        st = resp_parse_req(req, b);
        if (fed + 1000 < n) {
            assert_int_equal(st, RESP_PARSE_UNFIN);
        }
    }
    assert_int_equal(st, RESP_PARSE_OK);
    assert_int_equal(req->argc, 1 + 2 * nkeys);
    assert_int_equal(req->argv[2 * 4321 + 1].len, 8);
    assert_memory_equal(req->argv[2 * 4321 + 1].data, "key:4321", 8);
    assert_true(req->nalloc >= req->argc);
    resp_request_reset(req);
    assert_int_equal(req->nalloc, RESP_REQ_ARGV_EMBED);
    buf_free(&b);
    free(wire);
}

/* A bulk over resp_max_bulk: the error is replied once, the rest of the
 * request (its payload and later arguments) is swallowed as it arrives, and
 * the next request parses normally. */
static void
test_oversize_bulk_swallowed(void **state)
{
    struct resp_request *req = *state;
    setup_limits(1048576, 16, 64 * MiB);
    uint64_t swallowed = metric_counter(&metrics.resp_req_swallow);
    EXPECT(req,
            "*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$20\r\n01234567890123456789\r\n"
            "$2\r\nEX\r\n"
            "*1\r\n$4\r\nPING\r\n",
            "E3 ERR string exceeds maximum allowed size "
            "(proto-max-bulk-len)\n"
            "OK 1 4:PING\n");
    assert_true(metric_counter(&metrics.resp_req_swallow) > swallowed);
    /* at the limit: accepted */
    EXPECT(req, "*2\r\n$4\r\nECHO\r\n$16\r\n0123456789abcdef\r\n",
            "OK 2 4:ECHO 16:0123456789abcdef\n");
    /* a malformed header while swallowing is still a protocol error */
    EXPECT(req, "*3\r\n$3\r\nSET\r\n$17\r\n01234567890123456\r\n$x\r\n",
            "E3 ERR string exceeds maximum allowed size "
            "(proto-max-bulk-len)\n"
            "E2 ERR Protocol error: invalid bulk length\n");
}

static void
test_oversize_args_before_kept(void **state)
{
    struct resp_request *req = *state;
    setup_limits(1048576, 4, 64 * MiB);
    const char *wire = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n";
    struct buf *b = buf_from(wire, strlen(wire) - 4);

    assert_int_equal(resp_parse_req(req, b), RESP_PARSE_EOVERSIZE);
    assert_int_equal(req->argc, 2); /* SET k, for metrics */
    assert_memory_equal(req->argv[0].data, "SET", 3);
    assert_int_equal(buf_rsize(b), 3); /* "hel" of the payload is left */
    resp_request_reset(req);
    assert_int_equal(resp_parse_req(req, b), RESP_PARSE_UNFIN);
    assert_true(buf_empty(b)); /* swallowed */
    append(b, wire + strlen(wire) - 4, 4);
    append(b, "PING\r\n", 6);
    assert_int_equal(resp_parse_req(req, b), RESP_PARSE_OK);
    assert_int_equal(req->argc, 1);
    assert_memory_equal(req->argv[0].data, "PING", 4);
    buf_free(&b);
}

static void
test_oversize_too_many_args(void **state)
{
    struct resp_request *req = *state;
    setup_limits(3, 1 * MiB, 64 * MiB);
    EXPECT(req,
            "*4\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n"
            "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n"
            "a b c d\r\n"
            "a b c\r\n",
            "E3 ERR too many arguments in request (resp.max_args)\n"
            "OK 3 1:a 1:b 1:c\n"
            "E3 ERR too many arguments in request (resp.max_args)\n"
            "OK 3 1:a 1:b 1:c\n");
}

static void
test_oversize_request(void **state)
{
    struct resp_request *req = *state;
    setup_limits(1048576, 1 * MiB, 40);
    EXPECT(req,
            "*3\r\n$4\r\nMSET\r\n$1\r\nk\r\n$20\r\n01234567890123456789\r\n"
            "*2\r\n$4\r\nECHO\r\n$10\r\n0123456789\r\n",
            "E3 ERR request exceeds maximum allowed size (resp.max_request)\n"
            "OK 2 4:ECHO 10:0123456789\n");
}

/* Redis accepts a huge multibulk count; over our resp_max_args it is
 * refused but the connection stays. */
static void
test_oversize_count_over_max_args(void **state)
{
    struct resp_request *req = *state;
    struct buf *b = buf_from("*2147483647\r\n$4\r\nPING\r\n", 23);

    assert_int_equal(resp_parse_req(req, b), RESP_PARSE_EOVERSIZE);
    resp_request_reset(req);
    assert_int_equal(resp_parse_req(req, b), RESP_PARSE_UNFIN);
    assert_true(buf_empty(b));
    buf_free(&b);
}

/* A SET's value from stream_min bytes is offered; taken, it comes in
 * pieces (whatever the split), then the options after it parse as usual,
 * and the request ends with the value a placeholder. */
static void
test_stream_taken(void **state)
{
    struct resp_request *req = *state;
    resp_request_limits(req, 0, 10);
    stream_answer = STREAM_TAKE;
    EXPECT(req,
            "*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$12\r\nhello world!\r\n"
            "$2\r\nEX\r\n$2\r\n10\r\n"
            "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10\r\n0123456789xx"
            "*1\r\n$4\r\nPING\r\n",
            "S 2 12\n"
            "OK 5 3:SET 1:k 12:<hello world!> 2:EX 2:10\n"
            "S 2 10\n"
            "OK 3 3:SET 1:k 10:<0123456789>\n" /* the 2 bytes unchecked */
            "OK 1 4:PING\n");
}

/* Declined, the same bytes parse as they always did. */
static void
test_stream_declined(void **state)
{
    struct resp_request *req = *state;
    resp_request_limits(req, 0, 10);
    stream_answer = STREAM_DECLINE;
    EXPECT(req,
            "*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$12\r\nhello world!\r\n"
            "$2\r\nEX\r\n$2\r\n10\r\n"
            "*1\r\n$4\r\nPING\r\n",
            "S 2 12\n"
            "OK 5 3:SET 1:k 12:hello world! 2:EX 2:10\n"
            "OK 1 4:PING\n");
}

/* A decline is the bulk's: each later bulk of the request past stream_min
 * is offered in turn (a caller gathers a request whose first large bulk
 * fits its buffer but whose later ones do not). */
static void
test_stream_declined_then_offered_again(void **state)
{
    struct resp_request *req = *state;
    resp_request_limits(req, 0, 10);
    stream_answer = STREAM_DECLINE;
    EXPECT(req,
            "*5\r\n$5\r\nLPUSH\r\n$1\r\nk\r\n$12\r\nhello world!\r\n"
            "$3\r\nabc\r\n$11\r\nhello again\r\n"
            "*1\r\n$4\r\nPING\r\n",
            "S 2 12\n"
            "S 4 11\n"
            "OK 5 5:LPUSH 1:k 12:hello world! 3:abc 11:hello again\n"
            "OK 1 4:PING\n");
}

/* Unstreamed, a request must fit the read buffer (buf_max): refused and
 * swallowed past it, the connection kept. */
static void
test_stream_unstreamed_over_buffer(void **state)
{
    struct resp_request *req = *state;
    resp_request_limits(req, 40, SIZE_MAX);
    EXPECT(req,
            "*3\r\n$4\r\nMSET\r\n$1\r\nk\r\n$20\r\n01234567890123456789\r\n"
            "*2\r\n$4\r\nECHO\r\n$10\r\n0123456789\r\n",
            "E3 ERR request exceeds maximum allowed size (worker.rbuf_max)\n"
            "OK 2 4:ECHO 10:0123456789\n");
    /* declined too */
    resp_request_limits(req, 40, 16);
    stream_answer = STREAM_DECLINE;
    EXPECT(req,
            "*3\r\n$4\r\nMSET\r\n$1\r\nk\r\n$20\r\n01234567890123456789\r\n"
            "*1\r\n$4\r\nPING\r\n",
            "S 2 20\n"
            "E3 ERR request exceeds maximum allowed size (worker.rbuf_max)\n"
            "OK 1 4:PING\n");
}

/* resp.max_request bounds the whole request, a streamed value and what
 * follows it included; resp.max_bulk the value. */
static void
test_stream_request_limits(void **state)
{
    struct resp_request *req = *state;
    setup_limits(1048576, 30, 60);
    resp_request_limits(req, 0, 10);
    stream_answer = STREAM_TAKE;
    EXPECT(req,
            /* the value alone passes max_request */
            "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$50\r\n"
            "01234567890123456789012345678901234567890123456789\r\n"
            /* value within, its options past it: 25 + 14 + 3*10 */
            "*6\r\n$3\r\nSET\r\n$1\r\nk\r\n$12\r\nhello world!\r\n"
            "$2\r\nPX\r\n$2\r\n10\r\n$8\r\nKEEPTTLx\r\n"
            /* over max_bulk */
            "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$31\r\n"
            "0123456789012345678901234567890\r\n"
            "*1\r\n$4\r\nPING\r\n",
            "E3 ERR string exceeds maximum allowed size (proto-max-bulk-len)\n"
            "S 2 12\n"
            "E3 ERR request exceeds maximum allowed size (resp.max_request)\n"
            "E3 ERR string exceeds maximum allowed size (proto-max-bulk-len)\n"
            "OK 1 4:PING\n");
}

/* A caller that gives up mid-value (reset) has the rest discarded; a
 * protocol error after the value is one as anywhere. */
static void
test_stream_abandoned(void **state)
{
    struct resp_request *req = *state;
    resp_request_limits(req, 0, 10);
    const char *wire = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$12\r\nhello";
    struct buf *b = buf_from(wire, strlen(wire));
    assert_int_equal(resp_parse_req(req, b), RESP_PARSE_STREAM);
    assert_int_equal(resp_parse_stream_begin(req, b), STATUS_OK);
    assert_int_equal(resp_parse_req(req, b), RESP_PARSE_CHUNK);
    assert_int_equal(req->chunk.len, 5);
    resp_request_reset(req);
    const char *rest = " world!\r\n*1\r\n$4\r\nPING\r\n";
    append(b, rest, strlen(rest));
    assert_int_equal(resp_parse_req(req, b), RESP_PARSE_OK);
    assert_int_equal(req->argc, 1);
    assert_memory_equal(req->argv[0].data, "PING", 4);
    buf_free(&b);
    resp_request_reset(req);
    stream_answer = STREAM_TAKE;
    EXPECT(req,
            "*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$12\r\nhello world!\r\n"
            "$x\r\n",
            "S 2 12\n"
            "E2 ERR Protocol error: invalid bulk length\n");
}

static void
test_parse_int64_as_redis(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        bool ok;
        int64_t v;
    } cases[] = {
            {"0", true, 0},
            {"7", true, 7},
            {"-7", true, -7},
            {"1234567890", true, 1234567890},
            {"9223372036854775807", true, INT64_MAX},
            {"-9223372036854775808", true, INT64_MIN},
            {"9223372036854775808", false, 0},
            {"-9223372036854775809", false, 0},
            {"99999999999999999999", false, 0},
            {"", false, 0},
            {"-", false, 0},
            {"-0", false, 0},
            {"00", false, 0},
            {"007", false, 0},
            {"+1", false, 0},
            {" 1", false, 0},
            {"1 ", false, 0},
            {"1a", false, 0},
            {"1.0", false, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t v = 42;
        bool ok = resp_parse_int64(cases[i].s, strlen(cases[i].s), &v);
        assert_int_equal(ok, cases[i].ok);
        assert_int_equal(v, cases[i].ok ? cases[i].v : 42);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, test_setup, test_teardown)
            T(test_multibulk_whole),
            T(test_multibulk_split),
            T(test_multibulk_need_and_resume),
            T(test_multibulk_reset_restarts),
            T(test_multibulk_pipelined),
            T(test_multibulk_lenient_crlf),
            T(test_multibulk_nul_waits),
            T(test_multibulk_header_lengths),
            T(test_multibulk_protocol_errors),
            T(test_multibulk_too_big_count_strings),
            T(test_multibulk_unauthenticated_limits),
            T(test_multibulk_many_args),
            T(test_inline_quotes_and_escapes),
            T(test_inline_unbalanced_quotes),
            T(test_inline_empty_lines),
            T(test_inline_too_big),
            T(test_inline_nul_waits),
            T(test_oversize_bulk_swallowed),
            T(test_oversize_args_before_kept),
            T(test_oversize_too_many_args),
            T(test_oversize_request),
            T(test_oversize_count_over_max_args),
            T(test_parse_int64_as_redis),
            T(test_stream_taken),
            T(test_stream_declined),
            T(test_stream_declined_then_offered_again),
            T(test_stream_unstreamed_over_buffer),
            T(test_stream_request_limits),
            T(test_stream_abandoned),
#undef T
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
