/* SPDX-License-Identifier: Apache-2.0 */
/* Reply composition under RESP2 and RESP3 (expected bytes are what
 * redis-server 7.0.15 sent for DEBUG PROTOCOL <type> and HELLO), reply
 * token parsing of all of it, whole and split at every byte, and requests
 * composed then parsed back. */
#include "unit.h"

#include "protocol/resp/compose.h"
#include "protocol/resp/parse.h"
#include "protocol/resp/request.h"

#include "base/buf.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static resp_metrics_st metrics;
static struct buf wbuf;

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
    static struct resp_writer w;
    if (buf_init(&wbuf, 8) != STATUS_OK) {
        return -1;
    }
    w = (struct resp_writer){
            .buf = &wbuf, .max = 1 << 20, .proto = RESP_PROTO_2};
    *state = &w;
    return 0;
}

static int
test_teardown(void **state)
{
    (void)state;
    buf_deinit(&wbuf);
    return 0;
}

/* Checks the readable bytes, then empties the buffer. */
static void
expect_bytes(struct resp_writer *w, const char *expected, size_t n)
{
    assert_int_equal(buf_rsize(w->buf), n);
    assert_memory_equal(w->buf->rpos, expected, n);
    buf_clear(w->buf);
}

#define EXPECT(w, s) expect_bytes((w), (s), sizeof(s) - 1)

/* DEBUG PROTOCOL <type> under HELLO 2 and HELLO 3, as Redis sent them. */
static void
compose_debug_protocol(struct resp_writer *w, const char *type)
{
    if (strcmp(type, "string") == 0) {
        assert_int_equal(resp_compose_bulk(w, "Hello World", 11), STATUS_OK);
    } else if (strcmp(type, "integer") == 0) {
        assert_int_equal(resp_compose_integer(w, 12345), STATUS_OK);
    } else if (strcmp(type, "double") == 0) {
        assert_int_equal(resp_compose_double(w, 3.141), STATUS_OK);
    } else if (strcmp(type, "bignum") == 0) {
        const char *d = "1234567999999999999999999999999999999";
        assert_int_equal(resp_compose_bignum(w, d, strlen(d)), STATUS_OK);
    } else if (strcmp(type, "null") == 0) {
        assert_int_equal(resp_compose_null(w), STATUS_OK);
    } else if (strcmp(type, "array") == 0 || strcmp(type, "set") == 0) {
        assert_int_equal(type[0] == 'a' ? resp_compose_array(w, 3)
                                        : resp_compose_set(w, 3),
                STATUS_OK);
        for (int i = 0; i < 3; i++) {
            assert_int_equal(resp_compose_integer(w, i), STATUS_OK);
        }
    } else if (strcmp(type, "map") == 0) {
        assert_int_equal(resp_compose_map(w, 3), STATUS_OK);
        for (int i = 0; i < 3; i++) {
            assert_int_equal(resp_compose_integer(w, i), STATUS_OK);
            assert_int_equal(resp_compose_bool(w, i == 1), STATUS_OK);
        }
    } else if (strcmp(type, "verbatim") == 0) {
        const char *s = "This is a verbatim\nstring";
        assert_int_equal(
                resp_compose_verbatim(w, "txt", s, strlen(s)), STATUS_OK);
    } else if (strcmp(type, "push") == 0) {
        assert_int_equal(resp_compose_push(w, 2), STATUS_OK);
        assert_int_equal(
                resp_compose_bulk(w, "server-cpu-usage", 16), STATUS_OK);
        assert_int_equal(resp_compose_integer(w, 42), STATUS_OK);
    } else {
        assert_int_equal(
                resp_compose_bool(w, strcmp(type, "true") == 0), STATUS_OK);
    }
}

static void
test_compose_debug_protocol_types(void **state)
{
    struct resp_writer *w = *state;
    static const struct {
        const char *type;
        const char *resp2;
        const char *resp3;
    } cases[] = {
            {"string", "$11\r\nHello World\r\n", "$11\r\nHello World\r\n"},
            {"integer", ":12345\r\n", ":12345\r\n"},
            {"double", "$5\r\n3.141\r\n", ",3.141\r\n"},
            {"bignum", "$37\r\n1234567999999999999999999999999999999\r\n",
                    "(1234567999999999999999999999999999999\r\n"},
            {"null", "$-1\r\n", "_\r\n"},
            {"array", "*3\r\n:0\r\n:1\r\n:2\r\n", "*3\r\n:0\r\n:1\r\n:2\r\n"},
            {"set", "*3\r\n:0\r\n:1\r\n:2\r\n", "~3\r\n:0\r\n:1\r\n:2\r\n"},
            {"map", "*6\r\n:0\r\n:0\r\n:1\r\n:1\r\n:2\r\n:0\r\n",
                    "%3\r\n:0\r\n#f\r\n:1\r\n#t\r\n:2\r\n#f\r\n"},
            {"verbatim", "$25\r\nThis is a verbatim\nstring\r\n",
                    "=29\r\ntxt:This is a verbatim\nstring\r\n"},
            {"true", ":1\r\n", "#t\r\n"},
            {"false", ":0\r\n", "#f\r\n"},
            /* RESP2 has no push type (Redis refuses DEBUG PROTOCOL push
             * there); pushes it does send, like pub/sub messages, are
             * arrays */
            {"push", "*2\r\n$16\r\nserver-cpu-usage\r\n:42\r\n",
                    ">2\r\n$16\r\nserver-cpu-usage\r\n:42\r\n"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        w->proto = RESP_PROTO_2;
        compose_debug_protocol(w, cases[i].type);
        expect_bytes(w, cases[i].resp2, strlen(cases[i].resp2));
        w->proto = RESP_PROTO_3;
        compose_debug_protocol(w, cases[i].type);
        expect_bytes(w, cases[i].resp3, strlen(cases[i].resp3));
    }
}

static void
compose_hello(struct resp_writer *w, int64_t id)
{
    assert_int_equal(resp_compose_map(w, 7), STATUS_OK);
    resp_compose_bulk(w, "server", 6);
    resp_compose_bulk(w, "redis", 5);
    resp_compose_bulk(w, "version", 7);
    resp_compose_bulk(w, "7.0.15", 6);
    resp_compose_bulk(w, "proto", 5);
    resp_compose_integer(w, w->proto);
    resp_compose_bulk(w, "id", 2);
    resp_compose_integer(w, id);
    resp_compose_bulk(w, "mode", 4);
    resp_compose_bulk(w, "standalone", 10);
    resp_compose_bulk(w, "role", 4);
    resp_compose_bulk(w, "master", 6);
    resp_compose_bulk(w, "modules", 7);
    assert_int_equal(resp_compose_array(w, 0), STATUS_OK);
}

/* HELLO 3 and HELLO 2 replies of redis-server 7.0.15, composed. */
static void
test_compose_hello(void **state)
{
    struct resp_writer *w = *state;
    w->proto = RESP_PROTO_3;
    compose_hello(w, 68);
    EXPECT(w, "%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n"
              "7.0.15\r\n$5\r\nproto\r\n:3\r\n$2\r\nid\r\n:68\r\n$4\r\nmode"
              "\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\n"
              "modules\r\n*0\r\n");
    w->proto = RESP_PROTO_2;
    compose_hello(w, 69);
    EXPECT(w, "*14\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n"
              "7.0.15\r\n$5\r\nproto\r\n:2\r\n$2\r\nid\r\n:69\r\n$4\r\nmode"
              "\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\n"
              "modules\r\n*0\r\n");
}

static void
test_compose_simple_error_null_array(void **state)
{
    struct resp_writer *w = *state;
    assert_int_equal(resp_compose_ok(w), STATUS_OK);
    EXPECT(w, "+OK\r\n");
    assert_int_equal(resp_compose_simple(w, "PONG", 4), STATUS_OK);
    EXPECT(w, "+PONG\r\n");
    assert_int_equal(resp_compose_simple(w, "", 0), STATUS_OK);
    EXPECT(w, "+\r\n");
    assert_int_equal(resp_compose_error(w, "ERR a\r\nb\nc", 10), STATUS_OK);
    EXPECT(w, "-ERR a  b c\r\n");
    assert_int_equal(resp_compose_error_fmt(w, "ERR no %s for %d", "luck", 7),
            STATUS_OK);
    EXPECT(w, "-ERR no luck for 7\r\n");
    assert_int_equal(resp_compose_bulk(w, "", 0), STATUS_OK);
    EXPECT(w, "$0\r\n\r\n");
    assert_int_equal(resp_compose_bulk(w, "a\0\r\nb", 5), STATUS_OK);
    EXPECT(w, "$5\r\na\0\r\nb\r\n");
    w->proto = RESP_PROTO_2;
    assert_int_equal(resp_compose_null_array(w), STATUS_OK);
    EXPECT(w, "*-1\r\n");
    w->proto = RESP_PROTO_3;
    assert_int_equal(resp_compose_null_array(w), STATUS_OK);
    EXPECT(w, "_\r\n");
    assert_int_equal(resp_compose_raw(w, "+x\r\n", 4), STATUS_OK);
    EXPECT(w, "+x\r\n");
}

static void
test_compose_integers(void **state)
{
    struct resp_writer *w = *state;
    static const int64_t values[] = {0, 1, -1, 9, 10, -10, 12345, INT32_MAX,
            INT32_MIN, 999999999999LL, INT64_MAX, INT64_MIN, INT64_MIN + 1};
    char expected[64];

    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        int n = snprintf(
                expected, sizeof(expected), ":%" PRId64 "\r\n", values[i]);
        assert_int_equal(resp_compose_integer(w, values[i]), STATUS_OK);
        expect_bytes(w, expected, (size_t)n);
    }
    /* every digit count's edges, both signs, and random values, against
     * printf (the formatter writes two digits a step from a table) */
    char got[RESP_INT64_MAXLEN + 1];
    for (uint64_t p = 1;; p *= 10) {
        for (int d = -1; d <= 1; d++) {
            int64_t v = (int64_t)(p + (uint64_t)d);
            for (int sign = 0; sign < 2; sign++, v = -v) {
                int n = snprintf(expected, sizeof(expected), "%" PRId64, v);
                assert_int_equal(resp_format_int64(got, v), (size_t)n);
                assert_memory_equal(got, expected, (size_t)n);
            }
        }
        if (p > UINT64_MAX / 10) {
            break;
        }
    }
    uint64_t x = 88172645463325252ULL;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int64_t v = (int64_t)(x >> (i % 64));
        int n = snprintf(expected, sizeof(expected), "%" PRId64, v);
        assert_int_equal(resp_format_int64(got, v), (size_t)n);
        assert_memory_equal(got, expected, (size_t)n);
    }
    assert_int_equal(resp_compose_array(w, UINT64_MAX), STATUS_OK);
    EXPECT(w, "*18446744073709551615\r\n");
    w->proto = RESP_PROTO_2;
    assert_int_equal(resp_compose_map(w, 2), STATUS_OK);
    EXPECT(w, "*4\r\n");
}

/* Doubles as Redis 7.0 prints them: %.17g, inf and -inf. */
static void
test_compose_doubles(void **state)
{
    struct resp_writer *w = *state;
    w->proto = RESP_PROTO_3;
    resp_compose_double(w, 0.1);
    EXPECT(w, ",0.10000000000000001\r\n");
    resp_compose_double(w, INFINITY);
    EXPECT(w, ",inf\r\n");
    resp_compose_double(w, -INFINITY);
    EXPECT(w, ",-inf\r\n");
    resp_compose_double(w, 10.5);
    EXPECT(w, ",10.5\r\n");
    w->proto = RESP_PROTO_2;
    resp_compose_double(w, -INFINITY);
    EXPECT(w, "$4\r\n-inf\r\n");
    resp_compose_double(w, 1e22); /* exact in binary */
    EXPECT(w, "$5\r\n1e+22\r\n");
}

static void
test_compose_bulk_reserve(void **state)
{
    struct resp_writer *w = *state;
    char *p = resp_compose_bulk_reserve(w, 5);
    assert_non_null(p);
    memcpy(p, "hello", 5);
    EXPECT(w, "$5\r\nhello\r\n");
}

/* Over the cap nothing is written, the failure is counted, and what was
 * there stays. */
static void
test_compose_over_cap(void **state)
{
    struct resp_writer *w = *state;
    char big[100];
    uint64_t ex = metric_counter(&metrics.resp_compose_ex);

    memset(big, 'x', sizeof(big));
    w->max = 64;
    assert_int_equal(resp_compose_ok(w), STATUS_OK);
    assert_int_equal(resp_compose_bulk(w, big, sizeof(big)), STATUS_ENOMEM);
    assert_null(resp_compose_bulk_reserve(w, 60));
    assert_int_equal(resp_compose_error(w, big, 62), STATUS_ENOMEM);
    assert_int_equal(metric_counter(&metrics.resp_compose_ex), ex + 3);
    struct resp_arg argv[2] = {
            {.len = 3, .data = "SET"}, {.len = 60, .data = big}};
    assert_int_equal(resp_compose_req(w, argv, 2), STATUS_ENOMEM);
    EXPECT(w, "+OK\r\n");
}

/* A writer's spill hook: past the cap, a write goes on whole in the next
 * of three buffers; each stays within the cap, and their bytes in order
 * are the reply. Without a buffer left, the write is refused as before. */
static struct buf spill_bufs[3];
static int spilled;

static rstatus_i
spill_next(struct resp_writer *w, size_t n)
{
    assert_ptr_equal(w->spill_arg, spill_bufs);
    if (spilled == 3 || n > w->max) {
        return STATUS_ENOMEM;
    }
    w->buf = &spill_bufs[spilled++];
    return STATUS_OK;
}

static void
test_compose_spill(void **state)
{
    struct resp_writer *w = *state;
    char big[40];
    memset(big, 'y', sizeof(big));
    for (int i = 0; i < 3; i++) {
        assert_int_equal(buf_init(&spill_bufs[i], 8), STATUS_OK);
    }
    spilled = 0;
    w->max = 160;
    w->spill = spill_next;
    w->spill_arg = spill_bufs;
    char want[1024];
    size_t wn = 0;
    assert_int_equal(resp_compose_array(w, 6), STATUS_OK);
    wn += (size_t)sprintf(want + wn, "*6\r\n");
    for (int i = 0; i < 6; i++) {
        assert_int_equal(resp_compose_bulk(w, big, sizeof(big)), STATUS_OK);
        wn += (size_t)sprintf(want + wn, "$40\r\n%.40s\r\n", big);
    }
    /* 4 + 6 x 47 bytes in three buffers of at most 160 (a bulk is checked
     * for room for its longest header: 2, 3 and 1 bulks) */
    assert_int_equal(spilled, 2);
    assert_int_equal(buf_rsize(&spill_bufs[2]), 0);
    struct buf *all[4] = {
            &wbuf, &spill_bufs[0], &spill_bufs[1], &spill_bufs[2]};
    char got[1024];
    size_t gn = 0;
    for (int i = 0; i < 4; i++) {
        assert_true(buf_rsize(all[i]) <= 160);
        memcpy(got + gn, all[i]->rpos, buf_rsize(all[i]));
        gn += buf_rsize(all[i]);
    }
    assert_int_equal(gn, wn);
    assert_memory_equal(got, want, wn);
    /* no buffer left: refused, and counted */
    spilled = 3;
    uint64_t ex = metric_counter(&metrics.resp_compose_ex);
    int ok = 0;
    while (ok < 10 && resp_compose_bulk(w, big, sizeof(big)) == STATUS_OK) {
        ok++;
    }
    /* a bulk of 40 is checked for 65 bytes: the last buffer, holding one,
     * takes two more */
    assert_int_equal(ok, 2);
    assert_ptr_equal(w->buf, &spill_bufs[1]);
    assert_int_equal(buf_rsize(&spill_bufs[1]), 3 * 47);
    assert_int_equal(metric_counter(&metrics.resp_compose_ex), ex + 1);
    w->spill = NULL;
    for (int i = 0; i < 3; i++) {
        buf_deinit(&spill_bufs[i]);
    }
}

/* Tokens view the buffer: it must outlive them. */
static void
parse_tokens_whole(struct buf *b, struct resp_token *t, size_t *count)
{
    char *start = b->rpos;
    *count = 0;
    while (!buf_empty(b)) {
        assert_int_equal(resp_parse_token(&t[*count], b), RESP_PARSE_OK);
        (*count)++;
    }
    b->rpos = start;
}

/* Everything the composer writes, in both protocols, parses back into the
 * same tokens, whole and with the stream cut at every byte. */
static void
test_token_round_trip(void **state)
{
    struct resp_writer *w = *state;
    static const char *const types[] = {"string", "integer", "double", "bignum",
            "null", "array", "set", "map", "verbatim", "true", "false", "push"};
    struct resp_token t[64];
    size_t count;

    for (int proto = 2; proto <= 3; proto++) {
        w->proto = (resp_proto_e)proto;
        for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
            compose_debug_protocol(w, types[i]);
        }
        resp_compose_error(w, "ERR x", 5);
        resp_compose_simple(w, "OK", 2);
        resp_compose_null_array(w);
        resp_compose_integer(w, INT64_MIN);
    }
    size_t n = buf_rsize(w->buf);
    parse_tokens_whole(w->buf, t, &count);
    assert_int_equal(t[0].type, RESP_T_BULK);
    assert_int_equal(t[0].len, 11);
    assert_memory_equal(t[0].data, "Hello World", 11);
    assert_int_equal(t[1].type, RESP_T_INTEGER);
    assert_int_equal(t[1].n, 12345);
    assert_int_equal(t[count - 1].n, INT64_MIN);
    assert_int_equal(t[count - 2].type, RESP_T_NULL);
    assert_int_equal(t[count - 3].type, RESP_T_SIMPLE);
    assert_int_equal(t[count - 4].type, RESP_T_ERROR);

    for (size_t cut = 0; cut < n; cut++) {
        struct buf b;
        struct resp_token tok;
        size_t k = 0;
        assert_int_equal(buf_init(&b, 16), STATUS_OK);
        buf_append(&b, w->buf->rpos, cut, 1 << 20);
        for (;;) {
            size_t left = buf_rsize(&b);
            resp_parse_e st = resp_parse_token(&tok, &b);
            if (st != RESP_PARSE_OK) {
                assert_int_equal(st, RESP_PARSE_UNFIN);
                assert_int_equal(buf_rsize(&b), left); /* nothing consumed */
                break;
            }
            assert_int_equal(tok.type, t[k].type);
            assert_int_equal(tok.n, t[k].n);
            k++;
        }
        buf_append(&b, w->buf->rpos + cut, n - cut, 1 << 20);
        while (!buf_empty(&b)) {
            assert_int_equal(resp_parse_token(&tok, &b), RESP_PARSE_OK);
            assert_int_equal(tok.type, t[k].type);
            assert_int_equal(tok.len, t[k].len);
            k++;
        }
        assert_int_equal(k, count);
        buf_deinit(&b);
    }
}

static void
test_token_malformed(void **state)
{
    (void)state;
    static const char *const bad[] = {"?x\r\n", ":abc\r\n", ":01\r\n",
            "$3\r\nabcd\r\n", "$3\rxabc\r\n", "#x\r\n", "_x\r\n",
            "=3\r\nabc\r\n", "=4\r\ntxt-\r\n", "%-1\r\n", "*-2\r\n", "$-2\r\n",
            "!-1\r\n", "+a\rb\r\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct buf b;
        struct resp_token tok;
        assert_int_equal(buf_init(&b, 16), STATUS_OK);
        buf_append(&b, bad[i], strlen(bad[i]), 1 << 20);
        assert_int_equal(resp_parse_token(&tok, &b), RESP_PARSE_EINVALID);
        assert_ptr_equal(b.rpos, b.begin);
        buf_deinit(&b);
    }
}

/* Requests composed, then parsed back: binary-safe arguments. */
static void
test_request_round_trip(void **state)
{
    struct resp_writer *w = *state;
    struct resp_request *req = resp_request_create();
    struct resp_arg argv[4] = {{.len = 3, .data = "SET"},
            {.len = 5, .data = "k\r\n\0y"}, {.len = 0, .data = ""},
            {.len = 2, .data = "EX"}};

    assert_non_null(req);
    assert_int_equal(resp_compose_req(w, argv, 4), STATUS_OK);
    assert_int_equal(resp_compose_req(w, argv, 1), STATUS_OK);
    assert_int_equal(resp_parse_req(req, w->buf), RESP_PARSE_OK);
    assert_int_equal(req->argc, 4);
    for (uint32_t i = 0; i < 4; i++) {
        assert_int_equal(req->argv[i].len, argv[i].len);
        assert_memory_equal(req->argv[i].data, argv[i].data, argv[i].len);
    }
    resp_request_reset(req);
    assert_int_equal(resp_parse_req(req, w->buf), RESP_PARSE_OK);
    assert_int_equal(req->argc, 1);
    assert_true(buf_empty(w->buf));
    resp_request_destroy(&req);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, test_setup, test_teardown)
            T(test_compose_debug_protocol_types),
            T(test_compose_hello),
            T(test_compose_simple_error_null_array),
            T(test_compose_integers),
            T(test_compose_doubles),
            T(test_compose_bulk_reserve),
            T(test_compose_over_cap),
            T(test_compose_spill),
            T(test_token_round_trip),
            T(test_token_malformed),
            T(test_request_round_trip),
#undef T
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
