/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for the ping protocol: whole, split at every byte, errors. */
#include "unit.h"

#include "protocol/ping/ping.h"

#include <string.h>

static void
fill(struct buf *b, const char *s, size_t n)
{
    buf_clear(b);
    assert_int_equal(buf_append(b, s, n, 1 << 20), STATUS_OK);
}

static void
test_ping_parse_whole(void **state)
{
    (void)state;
    struct buf b;
    assert_int_equal(buf_init(&b, 64), STATUS_OK);
    fill(&b, "PING\r\nPING\r\n", 12);
    assert_int_equal(ping_parse_req(&b), PING_PARSE_OK);
    assert_int_equal(ping_parse_req(&b), PING_PARSE_OK);
    assert_true(buf_empty(&b));
    assert_int_equal(ping_parse_req(&b), PING_PARSE_UNFIN);
    buf_deinit(&b);
}

static void
test_ping_parse_split(void **state)
{
    (void)state;
    const char *wire = "PING\r\n";
    struct buf b;
    assert_int_equal(buf_init(&b, 64), STATUS_OK);
    for (size_t cut = 1; cut < strlen(wire); cut++) {
        fill(&b, wire, cut);
        assert_int_equal(ping_parse_req(&b), PING_PARSE_UNFIN);
        assert_ptr_equal(b.rpos, b.begin); /* nothing consumed */
        assert_int_equal(
                buf_append(&b, wire + cut, strlen(wire) - cut, 64), STATUS_OK);
        assert_int_equal(ping_parse_req(&b), PING_PARSE_OK);
        assert_true(buf_empty(&b));
    }
    buf_deinit(&b);
}

static void
test_ping_parse_invalid(void **state)
{
    (void)state;
    const char *bad[] = {"ping\r\n", "PING\n", "PING \r\n", "PONG\r\n", "\n",
            "PINGPING\r\n"};
    struct buf b;
    assert_int_equal(buf_init(&b, 64), STATUS_OK);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        fill(&b, bad[i], strlen(bad[i]));
        assert_int_equal(ping_parse_req(&b), PING_PARSE_EINVALID);
        assert_true(buf_empty(&b)); /* the bad line is consumed */
    }
    buf_deinit(&b);
}

static void
test_ping_parse_oversize(void **state)
{
    (void)state;
    char line[PING_LINE_MAX];
    memset(line, 'P', sizeof(line));
    struct buf b;
    assert_int_equal(buf_init(&b, 64), STATUS_OK);
    fill(&b, line, sizeof(line) - 1);
    assert_int_equal(ping_parse_req(&b), PING_PARSE_UNFIN);
    fill(&b, line, sizeof(line));
    assert_int_equal(ping_parse_req(&b), PING_PARSE_EOVERSIZE);
    buf_deinit(&b);
}

static void
test_ping_compose(void **state)
{
    (void)state;
    struct buf b;
    assert_int_equal(buf_init(&b, 4), STATUS_OK);
    assert_int_equal(ping_compose_pong(&b, 64), STATUS_OK);
    assert_int_equal(ping_compose_error(&b, 64), STATUS_OK);
    assert_int_equal(buf_rsize(&b), 13);
    assert_memory_equal(b.rpos, "PONG\r\nERROR\r\n", 13);
    /* over the cap: refused, buffer unchanged */
    assert_int_equal(ping_compose_pong(&b, 16), STATUS_ENOMEM);
    assert_int_equal(buf_rsize(&b), 13);
    buf_deinit(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_ping_parse_whole),
            cmocka_unit_test(test_ping_parse_split),
            cmocka_unit_test(test_ping_parse_invalid),
            cmocka_unit_test(test_ping_parse_oversize),
            cmocka_unit_test(test_ping_compose),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
