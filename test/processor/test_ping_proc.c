/* SPDX-License-Identifier: Apache-2.0 */
/* The ping processor driven through its read callback on an in-memory
 * connection: PING lines answered whole and split, other lines ERROR, an
 * endless line closes, and a full write buffer stalls the connection. */
#include "unit.h"

#include "proc_harness.h"

#include "processor/ping.h"

#include "base/buf.h"
#include "base/util.h"
#include "core/conn.h"

#include <string.h>

static const struct proc_limits limits = {
        .rbuf_max = 1 * MiB, .wbuf_high = 64 * KiB, .wbuf_max = 1 * MiB};

static void
conn_open(struct conn *c)
{
    harness_open(c, 1, 0);
}

static void
conn_close(struct conn *c)
{
    assert_null(proc_ping.error); /* no per-connection state */
    harness_close(&proc_ping, c);
}

/* Appends bytes, runs the processor, returns the replies NUL-terminated in
 * out (cleared from wbuf). */
static const char *
feed(struct conn *c, const char *data, char *out, size_t cap)
{
    assert_int_equal(harness_feed(&proc_ping, &limits, c, data, strlen(data)),
            STATUS_OK);
    return harness_replies(c, out, cap);
}

static void
test_ping_pong_pipelined(void **state)
{
    (void)state;
    struct conn c;
    char out[256];
    conn_open(&c);
    assert_string_equal(
            feed(&c, "PING\r\nPING\r\n", out, sizeof(out)), "PONG\r\nPONG\r\n");
    assert_string_equal(
            feed(&c, "ping\r\nPING x\r\n\r\nPING\r\n", out, sizeof(out)),
            "ERROR\r\nERROR\r\nERROR\r\nPONG\r\n");
    assert_false(c.flags & CONN_CLOSE);
    conn_close(&c);
}

static void
test_ping_split(void **state)
{
    (void)state;
    static const char wire[] = "PING\r\nPING\r\n";
    char out[64];
    for (size_t cut = 1; cut < strlen(wire); cut++) {
        struct conn c;
        char head[16];
        conn_open(&c);
        memcpy(head, wire, cut);
        head[cut] = '\0';
        const char *first = feed(&c, head, out, sizeof(out));
        assert_string_equal(first, cut < 6 ? "" : "PONG\r\n");
        assert_string_equal(feed(&c, wire + cut, out, sizeof(out)),
                cut < 6 ? "PONG\r\nPONG\r\n" : "PONG\r\n");
        conn_close(&c);
    }
}

static void
test_ping_line_too_long_closes(void **state)
{
    (void)state;
    struct conn c;
    char line[2000];
    char out[64];
    memset(line, 'x', sizeof(line) - 1);
    line[sizeof(line) - 1] = '\0';
    conn_open(&c);
    assert_string_equal(feed(&c, line, out, sizeof(out)), "ERROR\r\n");
    assert_true(c.flags & CONN_CLOSE);
    assert_true(buf_empty(&c.rbuf));
    conn_close(&c);
}

static void
test_ping_backpressure(void **state)
{
    (void)state;
    const struct proc_limits small = {
            .rbuf_max = MiB, .wbuf_high = 60, .wbuf_max = MiB};
    struct conn c;
    conn_open(&c);
    for (int i = 0; i < 30; i++) {
        assert_int_equal(buf_append(&c.rbuf, "PING\r\n", 6, MiB), STATUS_OK);
    }
    size_t total = 0;
    int stalls = 0;
    for (;;) {
        c.flags &= ~CONN_STALLED;
        assert_int_equal(proc_ping.read(&c, &small), STATUS_OK);
        total += buf_rsize(&c.wbuf);
        if (!(c.flags & CONN_STALLED)) {
            break;
        }
        stalls++;
        assert_int_equal(buf_rsize(&c.wbuf), 66); /* 11 PONGs: past 60 */
        assert_false(buf_empty(&c.rbuf));
        buf_clear(&c.wbuf);
        assert_true(stalls < 10);
    }
    assert_int_equal(stalls, 2);
    assert_int_equal(total, 30 * 6);
    assert_true(buf_empty(&c.rbuf));
    conn_close(&c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_ping_pong_pipelined),
            cmocka_unit_test(test_ping_split),
            cmocka_unit_test(test_ping_line_too_long_closes),
            cmocka_unit_test(test_ping_backpressure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
