/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for the binary-protocol parser and composer: requests whole, split
 * at every byte and pipelined; each length check with the status memcached
 * answers; oversized values; responses byte for byte (the expected bytes
 * are memcached 1.6.18's). */
#include "protocol/memcache/binary.h"
#include "protocol/memcache/parse.h"

#include "unit.h"

#include <stdlib.h>
#include <string.h>

#define MAX (4 * MiB)

static size_t
mkreq(unsigned char *out, uint8_t op, const char *key, size_t klen,
        const void *extras, uint8_t xl, const void *value, size_t vlen,
        uint32_t opaque, uint64_t cas)
{
    uint32_t body = (uint32_t)(xl + klen + vlen);
    unsigned char h[24] = {0x80, op, (unsigned char)(klen >> 8),
            (unsigned char)klen, xl, 0, 0, 0, (unsigned char)(body >> 24),
            (unsigned char)(body >> 16), (unsigned char)(body >> 8),
            (unsigned char)body, (unsigned char)(opaque >> 24),
            (unsigned char)(opaque >> 16), (unsigned char)(opaque >> 8),
            (unsigned char)opaque};
    for (int i = 0; i < 8; i++) {
        h[16 + i] = (unsigned char)(cas >> (56 - 8 * i));
    }
    memcpy(out, h, 24);
    size_t n = 24;
    if (xl > 0) {
        memcpy(out + n, extras, xl);
        n += xl;
    }
    if (klen > 0) {
        memcpy(out + n, key, klen);
        n += klen;
    }
    if (vlen > 0) {
        memcpy(out + n, value, vlen);
        n += vlen;
    }
    return n;
}

static void
load(struct buf *b, const void *data, size_t n)
{
    buf_clear(b);
    assert_int_equal(buf_append(b, data, n, MAX), STATUS_OK);
}

static void
test_parse_set_whole_and_split(void **state)
{
    (void)state;
    unsigned char x[8] = {0xde, 0xad, 0xbe, 0xef, 0, 0, 0x0e, 0x10};
    unsigned char w[128];
    size_t n = mkreq(
            w, MEMCACHE_BIN_SETQ, "key", 3, x, 8, "value", 5, 0x01020304, 77);
    struct buf b;
    assert_int_equal(buf_init(&b, 16), STATUS_OK);
    for (size_t cut = 0; cut <= n; cut++) {
        struct memcache_bin_request req;
        load(&b, w, cut);
        memcache_bin_parse_e p = memcache_bin_parse(&req, &b);
        if (cut < n) {
            assert_int_equal(p, MEMCACHE_BIN_PARSE_UNFIN);
            assert_int_equal(buf_rsize(&b), cut); /* nothing consumed */
            assert_int_equal(req.need, cut < 24 ? 0 : n);
            assert_int_equal(buf_append(&b, w + cut, n - cut, MAX), STATUS_OK);
            p = memcache_bin_parse(&req, &b);
        }
        assert_int_equal(p, MEMCACHE_BIN_PARSE_OK);
        assert_int_equal(buf_rsize(&b), 0);
        assert_int_equal(req.opcode, MEMCACHE_BIN_SETQ);
        assert_int_equal(req.flags, 0xdeadbeef);
        assert_int_equal(req.exptime, 3600);
        assert_int_equal(req.opaque, 0x01020304);
        assert_int_equal(req.cas, 77);
        assert_int_equal(req.key.len, 3);
        assert_memory_equal(req.key.data, "key", 3);
        assert_int_equal(req.value.len, 5);
        assert_memory_equal(req.value.data, "value", 5);
    }
    buf_deinit(&b);
}

static void
test_parse_pipeline(void **state)
{
    (void)state;
    unsigned char w[512];
    unsigned char ax[20] = {0};
    ax[7] = 5;     /* delta 5 */
    ax[15] = 9;    /* initial 9 */
    ax[16] = 0xff; /* expiration 0xffffffff */
    ax[17] = 0xff;
    ax[18] = 0xff;
    ax[19] = 0xff;
    unsigned char tx[4] = {0, 0, 0, 60};
    size_t n = 0;
    n += mkreq(w + n, MEMCACHE_BIN_GETK, "a", 1, NULL, 0, NULL, 0, 1, 0);
    n += mkreq(w + n, MEMCACHE_BIN_INCREMENT, "n", 1, ax, 20, NULL, 0, 2, 0);
    n += mkreq(w + n, MEMCACHE_BIN_GATKQ, "g", 1, tx, 4, NULL, 0, 3, 0);
    n += mkreq(w + n, MEMCACHE_BIN_APPEND, "p", 1, NULL, 0, "xy", 2, 4, 0);
    n += mkreq(w + n, MEMCACHE_BIN_STAT, "items", 5, NULL, 0, NULL, 0, 5, 0);
    n += mkreq(w + n, MEMCACHE_BIN_FLUSH, NULL, 0, tx, 4, NULL, 0, 6, 0);
    n += mkreq(w + n, MEMCACHE_BIN_NOOP, NULL, 0, NULL, 0, NULL, 0, 7, 0);
    struct buf b;
    assert_int_equal(buf_init(&b, 16), STATUS_OK);
    load(&b, w, n);
    struct memcache_bin_request req;
    assert_int_equal(memcache_bin_parse(&req, &b), MEMCACHE_BIN_PARSE_OK);
    assert_int_equal(req.opcode, MEMCACHE_BIN_GETK);
    assert_int_equal(req.value.len, 0);
    assert_int_equal(memcache_bin_parse(&req, &b), MEMCACHE_BIN_PARSE_OK);
    assert_int_equal(req.delta, 5);
    assert_int_equal(req.initial, 9);
    assert_int_equal(req.exptime, MEMCACHE_BIN_NO_CREATE);
    assert_int_equal(memcache_bin_parse(&req, &b), MEMCACHE_BIN_PARSE_OK);
    assert_int_equal(req.exptime, 60);
    assert_true(memcache_bin_opcode_quiet(req.opcode));
    assert_int_equal(memcache_bin_opcode_loud(req.opcode), MEMCACHE_BIN_GATK);
    assert_int_equal(memcache_bin_parse(&req, &b), MEMCACHE_BIN_PARSE_OK);
    assert_memory_equal(req.value.data, "xy", 2);
    assert_int_equal(memcache_bin_parse(&req, &b), MEMCACHE_BIN_PARSE_OK);
    assert_memory_equal(req.key.data, "items", 5);
    assert_int_equal(memcache_bin_parse(&req, &b), MEMCACHE_BIN_PARSE_OK);
    assert_int_equal(req.exptime, 60);
    assert_int_equal(memcache_bin_parse(&req, &b), MEMCACHE_BIN_PARSE_OK);
    assert_int_equal(req.opaque, 7);
    assert_int_equal(memcache_bin_parse(&req, &b), MEMCACHE_BIN_PARSE_UNFIN);
    buf_deinit(&b);
}

struct bad_case {
    uint8_t op;
    uint16_t klen;
    uint8_t xl;
    uint32_t vlen;
    memcache_bin_parse_e expect;
    memcache_bin_status_e status;
};

static void
test_parse_length_checks(void **state)
{
    (void)state;
    static const struct bad_case cases[] = {
            {MEMCACHE_BIN_GET, 0, 0, 0, MEMCACHE_BIN_PARSE_EINVALID,
                    MEMCACHE_BIN_EINVAL},
            {MEMCACHE_BIN_GET, 1, 4, 0, MEMCACHE_BIN_PARSE_EINVALID,
                    MEMCACHE_BIN_EINVAL},
            {MEMCACHE_BIN_GETQ, 1, 0, 1, MEMCACHE_BIN_PARSE_EINVALID,
                    MEMCACHE_BIN_EINVAL},
            {MEMCACHE_BIN_SET, 1, 0, 1, MEMCACHE_BIN_PARSE_EINVALID,
                    MEMCACHE_BIN_EINVAL},
            {MEMCACHE_BIN_SET, 0, 8, 1, MEMCACHE_BIN_PARSE_EINVALID,
                    MEMCACHE_BIN_EINVAL},
            {MEMCACHE_BIN_DELETE, 1, 4, 0, MEMCACHE_BIN_PARSE_EINVALID,
                    MEMCACHE_BIN_EINVAL},
            {MEMCACHE_BIN_INCREMENT, 1, 8, 0, MEMCACHE_BIN_PARSE_EINVALID,
                    MEMCACHE_BIN_EINVAL},
            {MEMCACHE_BIN_APPEND, 1, 8, 1, MEMCACHE_BIN_PARSE_EINVALID,
                    MEMCACHE_BIN_EINVAL},
            {MEMCACHE_BIN_NOOP, 1, 0, 0, MEMCACHE_BIN_PARSE_EINVALID,
                    MEMCACHE_BIN_EINVAL},
            {MEMCACHE_BIN_VERSION, 0, 0, 1, MEMCACHE_BIN_PARSE_EINVALID,
                    MEMCACHE_BIN_EINVAL},
            {MEMCACHE_BIN_QUITQ, 0, 4, 0, MEMCACHE_BIN_PARSE_EINVALID,
                    MEMCACHE_BIN_EINVAL},
            {MEMCACHE_BIN_FLUSH, 0, 2, 0, MEMCACHE_BIN_PARSE_EINVALID,
                    MEMCACHE_BIN_EINVAL},
            {MEMCACHE_BIN_TOUCH, 1, 0, 0, MEMCACHE_BIN_PARSE_EINVALID,
                    MEMCACHE_BIN_EINVAL},
            {MEMCACHE_BIN_GAT, 0, 4, 0, MEMCACHE_BIN_PARSE_EINVALID,
                    MEMCACHE_BIN_EINVAL},
            {MEMCACHE_BIN_STAT, 0, 2, 0, MEMCACHE_BIN_PARSE_EINVALID,
                    MEMCACHE_BIN_EINVAL},
            {MEMCACHE_BIN_SASL_LIST_MECHS, 1, 0, 0, MEMCACHE_BIN_PARSE_EINVALID,
                    MEMCACHE_BIN_EINVAL},
            {MEMCACHE_BIN_SASL_AUTH, 0, 0, 3, MEMCACHE_BIN_PARSE_EINVALID,
                    MEMCACHE_BIN_EINVAL},
            {MEMCACHE_BIN_GET, 251, 0, 0, MEMCACHE_BIN_PARSE_EINVALID,
                    MEMCACHE_BIN_EINVAL},
            {0x50, 251, 0, 0, MEMCACHE_BIN_PARSE_EINVALID, MEMCACHE_BIN_EINVAL},
            {MEMCACHE_BIN_SASL_LIST_MECHS, 0, 0, 0, MEMCACHE_BIN_PARSE_EUNKNOWN,
                    MEMCACHE_BIN_UNKNOWN_COMMAND},
            {MEMCACHE_BIN_SASL_AUTH, 5, 0, 3, MEMCACHE_BIN_PARSE_EUNKNOWN,
                    MEMCACHE_BIN_UNKNOWN_COMMAND},
            {0x1b, 0, 4, 0, MEMCACHE_BIN_PARSE_EINVALID,
                    MEMCACHE_BIN_UNKNOWN_COMMAND},
            {0xff, 2, 3, 4, MEMCACHE_BIN_PARSE_EINVALID,
                    MEMCACHE_BIN_UNKNOWN_COMMAND},
            {0x1b, 0, 0, 0, MEMCACHE_BIN_PARSE_EUNKNOWN,
                    MEMCACHE_BIN_UNKNOWN_COMMAND},
            {0xff, 0, 0, 300, MEMCACHE_BIN_PARSE_EUNKNOWN,
                    MEMCACHE_BIN_UNKNOWN_COMMAND},
    };
    static char zeros[300];
    unsigned char w[1024];
    struct buf b;
    assert_int_equal(buf_init(&b, 16), STATUS_OK);
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        const struct bad_case *c = &cases[i];
        size_t n = mkreq(
                w, c->op, zeros, c->klen, zeros, c->xl, zeros, c->vlen, 9, 0);
        load(&b, w, 24); /* the header alone decides */
        struct memcache_bin_request req;
        memcache_bin_parse_e p = memcache_bin_parse(&req, &b);
        if (p != c->expect || req.status != c->status) {
            fail_msg("case %zu (op %#x): %d status %#x", i, c->op, p,
                    req.status);
        }
        assert_int_equal(buf_rsize(&b), 0); /* the header is consumed */
        if (p == MEMCACHE_BIN_PARSE_EUNKNOWN) {
            assert_int_equal(req.swallow, n - 24);
            assert_int_equal(buf_append(&b, w + 24, n - 24, MAX), STATUS_OK);
            assert_int_equal(memcache_bin_swallow(&req, &b), 0);
            assert_int_equal(buf_rsize(&b), 0);
        }
    }
    /* key and extras longer than the body: unknown command, then close */
    unsigned char h[24] = {
            0x80, MEMCACHE_BIN_GET, 0, 10, 0, 0, 0, 0, 0, 0, 0, 5};
    load(&b, h, 24);
    struct memcache_bin_request req;
    assert_int_equal(memcache_bin_parse(&req, &b), MEMCACHE_BIN_PARSE_EINVALID);
    assert_int_equal(req.status, MEMCACHE_BIN_UNKNOWN_COMMAND);
    /* bad magic: known once a whole header is in; nothing consumed */
    h[0] = 0x81;
    load(&b, h, 23);
    assert_int_equal(memcache_bin_parse(&req, &b), MEMCACHE_BIN_PARSE_UNFIN);
    load(&b, h, 24);
    assert_int_equal(memcache_bin_parse(&req, &b), MEMCACHE_BIN_PARSE_EMAGIC);
    assert_int_equal(buf_rsize(&b), 24);
    load(&b, "get a\r\n", 7);
    assert_int_equal(memcache_bin_parse(&req, &b), MEMCACHE_BIN_PARSE_UNFIN);
    buf_deinit(&b);
}

static void
test_parse_oversize(void **state)
{
    (void)state;
    memcache_parse_setup(NULL, NULL);
    size_t vlen = memcache_parse_item_size_max() + 1;
    unsigned char x[8] = {0};
    unsigned char w[64];
    struct buf b;
    assert_int_equal(buf_init(&b, 16), STATUS_OK);
    size_t head = mkreq(w, MEMCACHE_BIN_SET, "big", 3, x, 8, NULL, 0, 1, 0);
    uint32_t body = (uint32_t)(8 + 3 + vlen);
    w[8] = (unsigned char)(body >> 24);
    w[9] = (unsigned char)(body >> 16);
    w[10] = (unsigned char)(body >> 8);
    w[11] = (unsigned char)body;
    struct memcache_bin_request req;
    load(&b, w, head - 1); /* the key is not whole yet */
    assert_int_equal(memcache_bin_parse(&req, &b), MEMCACHE_BIN_PARSE_UNFIN);
    assert_int_equal(req.need, head);
    load(&b, w, head);
    assert_int_equal(buf_append(&b, "vvvv", 4, MAX), STATUS_OK);
    assert_int_equal(
            memcache_bin_parse(&req, &b), MEMCACHE_BIN_PARSE_EOVERSIZE);
    assert_int_equal(req.status, MEMCACHE_BIN_E2BIG);
    assert_memory_equal(req.key.data, "big", 3);
    assert_int_equal(req.swallow, vlen);
    assert_int_equal(memcache_bin_swallow(&req, &b), vlen - 4);
    /* one byte under the limit: buffered whole (UNFIN with need) */
    vlen -= 1;
    body = (uint32_t)(8 + 3 + vlen);
    w[10] = (unsigned char)(body >> 8);
    w[11] = (unsigned char)body;
    w[9] = (unsigned char)(body >> 16);
    load(&b, w, head);
    assert_int_equal(memcache_bin_parse(&req, &b), MEMCACHE_BIN_PARSE_UNFIN);
    assert_int_equal(req.need, 24 + (size_t)body);
    buf_deinit(&b);
}

static void
assert_bytes(struct buf *b, const void *expect, size_t len)
{
    assert_int_equal(buf_rsize(b), len);
    assert_memory_equal(b->rpos, expect, len);
    buf_clear(b);
}

static void
test_compose(void **state)
{
    (void)state;
    struct buf b;
    assert_int_equal(buf_init(&b, 8), STATUS_OK);
    struct memcache_bin_request req = {
            .opcode = MEMCACHE_BIN_GETQ, .opaque = 0xdeadbeef};
    /* memcached's "Not found" for get */
    assert_int_equal(
            memcache_bin_compose_error(&b, &req, MEMCACHE_BIN_KEY_ENOENT, MAX),
            STATUS_OK);
    static const unsigned char nf[] = {0x81, 0x09, 0, 0, 0, 0, 0, 1, 0, 0, 0, 9,
            0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0, 0, 0, 0, 0, 'N', 'o', 't', ' ',
            'f', 'o', 'u', 'n', 'd'};
    assert_bytes(&b, nf, sizeof(nf));
    /* a GETK hit: flags, key, value, CAS */
    unsigned char flags[4] = {0, 0, 0, 5};
    struct memcache_bin_response rsp = {.opcode = MEMCACHE_BIN_GETK,
            .opaque = 2,
            .cas = 0x0102030405060708ULL,
            .extras = flags,
            .extlen = 4,
            .key = bstring_of("k", 1),
            .value = "vv",
            .vlen = 2};
    assert_int_equal(memcache_bin_compose_rsp(&b, &rsp, MAX), STATUS_OK);
    static const unsigned char hit[] = {0x81, 0x0c, 0, 1, 4, 0, 0, 0, 0, 0, 0,
            7, 0, 0, 0, 2, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 5, 'k', 'v', 'v'};
    assert_bytes(&b, hit, sizeof(hit));
    /* the same with the value sent after it (in pieces): the body length
     * counts it, the bytes stop after the key */
    rsp.value = NULL;
    rsp.vlen = 5u << 20;
    assert_int_equal(memcache_bin_compose_rsp(&b, &rsp, 64), STATUS_OK);
    static const unsigned char head[] = {0x81, 0x0c, 0, 1, 4, 0, 0, 0, 0, 0x50,
            0, 5, 0, 0, 0, 2, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 5, 'k'};
    assert_bytes(&b, head, sizeof(head));
    rsp.value = "vv";
    rsp.vlen = 2;
    /* every status has memcached's message */
    assert_string_equal(memcache_bin_status_str(MEMCACHE_BIN_KEY_EEXISTS),
            "Data exists for key.");
    assert_string_equal(
            memcache_bin_status_str(MEMCACHE_BIN_E2BIG), "Too large.");
    assert_string_equal(
            memcache_bin_status_str(MEMCACHE_BIN_NOT_STORED), "Not stored.");
    assert_string_equal(memcache_bin_status_str(MEMCACHE_BIN_DELTA_BADVAL),
            "Non-numeric server-side value for incr or decr");
    assert_string_equal(memcache_bin_status_str(MEMCACHE_BIN_UNKNOWN_COMMAND),
            "Unknown command");
    assert_string_equal(
            memcache_bin_status_str(MEMCACHE_BIN_EINVAL), "Invalid arguments");
    assert_string_equal(
            memcache_bin_status_str(MEMCACHE_BIN_ENOMEM), "Out of memory");
    assert_string_equal(memcache_bin_status_str(MEMCACHE_BIN_OK_STATUS), "");
    buf_deinit(&b);
    /* the cap: nothing written past max */
    assert_int_equal(buf_init(&b, 8), STATUS_OK);
    assert_int_equal(memcache_bin_compose_rsp(&b, &rsp, 16), STATUS_ENOMEM);
    assert_int_equal(buf_rsize(&b), 0);
    buf_deinit(&b);
}

static void
test_compose_req_round_trip(void **state)
{
    (void)state;
    struct buf b;
    assert_int_equal(buf_init(&b, 8), STATUS_OK);
    struct memcache_bin_request in = {.opcode = MEMCACHE_BIN_DECREMENTQ,
            .extlen = 20,
            .opaque = 3,
            .cas = 4,
            .delta = 1ULL << 40,
            .initial = 12345,
            .exptime = 99,
            .key = bstring_of("counter", 7)};
    assert_int_equal(memcache_bin_compose_req(&b, &in, MAX), STATUS_OK);
    struct memcache_bin_request out;
    assert_int_equal(memcache_bin_parse(&out, &b), MEMCACHE_BIN_PARSE_OK);
    assert_int_equal(out.opcode, in.opcode);
    assert_int_equal(out.delta, in.delta);
    assert_int_equal(out.initial, in.initial);
    assert_int_equal(out.exptime, in.exptime);
    assert_int_equal(out.cas, 4);
    assert_memory_equal(out.key.data, "counter", 7);
    struct memcache_bin_request set = {.opcode = MEMCACHE_BIN_ADD,
            .extlen = 8,
            .flags = 7,
            .exptime = 8,
            .key = bstring_of("k", 1),
            .value = bstring_of("value", 5)};
    assert_int_equal(memcache_bin_compose_req(&b, &set, MAX), STATUS_OK);
    assert_int_equal(memcache_bin_parse(&out, &b), MEMCACHE_BIN_PARSE_OK);
    assert_int_equal(out.flags, 7);
    assert_int_equal(out.exptime, 8);
    assert_memory_equal(out.value.data, "value", 5);
    buf_deinit(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_parse_set_whole_and_split),
            cmocka_unit_test(test_parse_pipeline),
            cmocka_unit_test(test_parse_length_checks),
            cmocka_unit_test(test_parse_oversize),
            cmocka_unit_test(test_compose),
            cmocka_unit_test(test_compose_req_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
