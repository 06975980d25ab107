/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for the memcache composer: every reply shape byte for byte (the
 * expected bytes are memcached 1.6.18's replies), growth and its cap, and
 * round trips: requests composed from parsed requests parse back equal. */
#include "protocol/memcache/compose.h"
#include "protocol/memcache/parse.h"

#include "unit.h"

#include <stdlib.h>
#include <string.h>

#define MAX (1 * MiB)

static int
setup_buf(void **state)
{
    static struct buf b;
    if (buf_init(&b, 16) != STATUS_OK) {
        return -1;
    }
    *state = &b;
    return 0;
}

static int
teardown_buf(void **state)
{
    buf_deinit(*state);
    return 0;
}

static void
assert_buf(struct buf *b, const char *expect, size_t len)
{
    if (buf_rsize(b) != len || memcmp(b->rpos, expect, len) != 0) {
        fail_msg("got \"%.*s\"\nexpect \"%.*s\"", (int)buf_rsize(b), b->rpos,
                (int)len, expect);
    }
    buf_clear(b);
}

#define ASSERT_BUF(_b, _s) assert_buf((_b), (_s), sizeof(_s) - 1)

static void
test_compose_fixed(void **state)
{
    struct buf *b = *state;
    static const char *const lines[] = {"END", "STORED", "NOT_STORED", "EXISTS",
            "NOT_FOUND", "DELETED", "TOUCHED", "OK", "RESET", "ERROR", "MN",
            "EN"};
    assert_int_equal(ARRAY_SIZE(lines), MEMCACHE_RSP_SENTINEL);
    for (size_t i = 0; i < ARRAY_SIZE(lines); i++) {
        char expect[32];
        size_t n = strlen(lines[i]);
        memcpy(expect, lines[i], n);
        memcpy(expect + n, "\r\n", 2);
        assert_int_equal(memcache_compose_rsp(b, (memcache_rsp_type_e)i, MAX),
                STATUS_OK);
        assert_buf(b, expect, n + 2);
    }
}

static void
test_compose_errors(void **state)
{
    struct buf *b = *state;
    assert_int_equal(
            memcache_compose_error(b, MEMCACHE_ERR_UNKNOWN, MAX), STATUS_OK);
    ASSERT_BUF(b, "ERROR\r\n");
    memcache_compose_error(b, MEMCACHE_ERR_DELETE_USAGE, MAX);
    ASSERT_BUF(b, "CLIENT_ERROR bad command line format.  Usage: delete "
                  "<key> [noreply]\r\n");
    memcache_compose_error(b, MEMCACHE_ERR_TOO_LARGE, MAX);
    ASSERT_BUF(b, "SERVER_ERROR object too large for cache\r\n");
    memcache_compose_client_error(b, "bad data chunk", 14, MAX);
    ASSERT_BUF(b, "CLIENT_ERROR bad data chunk\r\n");
    memcache_compose_server_error(b, "out of memory storing object", 28, MAX);
    ASSERT_BUF(b, "SERVER_ERROR out of memory storing object\r\n");
    static const char limit[] =
            "MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m";
    memcache_compose_line(b, limit, sizeof(limit) - 1, MAX);
    ASSERT_BUF(b, "MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m\r\n");
    for (int e = 1; e < MEMCACHE_ERR_SENTINEL; e++) {
        assert_int_equal(memcache_error_len((memcache_error_e)e),
                strlen(memcache_error_str((memcache_error_e)e)));
        /* every refusal has its line but HTTP's, hung up on unanswered */
        assert_true(memcache_error_len((memcache_error_e)e) > 0 ||
                    e == MEMCACHE_ERR_HTTP);
    }
}

static void
test_compose_numbers(void **state)
{
    struct buf *b = *state;
    memcache_compose_number(b, 0, MAX);
    ASSERT_BUF(b, "0\r\n");
    memcache_compose_number(b, 9, MAX);
    ASSERT_BUF(b, "9\r\n");
    memcache_compose_number(b, 10, MAX);
    ASSERT_BUF(b, "10\r\n");
    memcache_compose_number(b, UINT64_MAX, MAX);
    ASSERT_BUF(b, "18446744073709551615\r\n");
}

static void
test_compose_value(void **state)
{
    struct buf *b = *state;
    struct bstring key = BSTRING_LITERAL("k");
    memcache_compose_value(b, &key, 0, "hello", 5, NULL, MAX);
    ASSERT_BUF(b, "VALUE k 0 5\r\nhello\r\n");
    uint64_t cas = 30;
    memcache_compose_value(b, &key, 4294967295u, "a", 1, &cas, MAX);
    ASSERT_BUF(b, "VALUE k 4294967295 1 30\r\na\r\n");
    memcache_compose_value(b, &key, 1, "", 0, NULL, MAX);
    ASSERT_BUF(b, "VALUE k 1 0\r\n\r\n");
    /* the two-step form: header, then the bytes straight from the store */
    const char store[] = "\r\nbinary\0value";
    memcache_compose_value_header(b, &key, 7, sizeof(store) - 1, NULL, MAX);
    memcache_compose_value_data(b, store, sizeof(store) - 1, MAX);
    memcache_compose_rsp(b, MEMCACHE_RSP_END, MAX);
    ASSERT_BUF(b, "VALUE k 7 14\r\n\r\nbinary\0value\r\nEND\r\n");
}

static void
test_compose_stat_version(void **state)
{
    struct buf *b = *state;
    struct bstring v = BSTRING_LITERAL("1.6.18");
    memcache_compose_stat(b, "version", &v, MAX);
    memcache_compose_stat_u64(b, "curr_items", 12345, MAX);
    memcache_compose_stat_u64(b, "evictions", 0, MAX);
    ASSERT_BUF(b, "STAT version 1.6.18\r\nSTAT curr_items 12345\r\n"
                  "STAT evictions 0\r\n");
    memcache_compose_version(b, "1.6.18", MAX);
    ASSERT_BUF(b, "VERSION 1.6.18\r\n");
}

/* A growing buffer stops at max: the reply is refused whole. */
static void
test_compose_enomem(void **state)
{
    (void)state;
    struct buf b;
    assert_int_equal(buf_init(&b, 16), STATUS_OK);
    struct bstring key = BSTRING_LITERAL("key");
    char value[100];
    memset(value, 'v', sizeof(value));
    assert_int_equal(
            memcache_compose_rsp(&b, MEMCACHE_RSP_STORED, 64), STATUS_OK);
    assert_int_equal(
            memcache_compose_value(&b, &key, 0, value, sizeof(value), NULL, 64),
            STATUS_ENOMEM);
    assert_buf(&b, "STORED\r\n", 8);
    assert_int_equal(memcache_compose_value(
                             &b, &key, 0, value, sizeof(value), NULL, 256),
            STATUS_OK);
    assert_int_equal(buf_rsize(&b), strlen("VALUE key 0 100\r\n") + 100 + 2);
    buf_deinit(&b);
}

/* --------------------------------------------------------------- meta */

struct parsed {
    struct memcache_request req;
    struct buf b;
};

static struct parsed *
parse_one(const char *wire)
{
    struct parsed *p = calloc(1, sizeof(*p));
    assert_non_null(p);
    size_t n = strlen(wire);
    assert_int_equal(buf_init(&p->b, n + 16), STATUS_OK);
    buf_append(&p->b, wire, n, MAX);
    assert_int_equal(memcache_parse_req(&p->req, &p->b), MEMCACHE_PARSE_OK);
    return p;
}

static void
parsed_free(struct parsed *p)
{
    buf_deinit(&p->b);
    free(p);
}

/* The expected lines are memcached 1.6.18's replies to the same request
 * (with its CAS and times). */
static void
test_compose_meta_mg(void **state)
{
    struct buf *b = *state;
    struct parsed *p = parse_one("mg k v c f t s k h l Oabc\r\n");
    struct memcache_meta_rsp rsp = {.code = MEMCACHE_META_VA,
            .vlen = 1,
            .cas = 19,
            .ttl = -1,
            .size = 1};
    memcache_compose_meta(b, &p->req, &rsp, MAX);
    memcache_compose_value_data(b, "a", 1, MAX);
    ASSERT_BUF(b, "VA 1 c19 f0 t-1 s1 kk h0 l0 Oabc\r\na\r\n");
    rsp.code = MEMCACHE_META_EN; /* a miss carries only O and k */
    memcache_compose_meta(b, &p->req, &rsp, MAX);
    ASSERT_BUF(b, "EN kk Oabc\r\n");
    parsed_free(p);

    p = parse_one("mg k N1 T2 R3 P5 Lfoo kabc\r\n");
    memset(&rsp, 0, sizeof(rsp));
    rsp.code = MEMCACHE_META_HD;
    rsp.win = true;
    memcache_compose_meta(b, &p->req, &rsp, MAX);
    ASSERT_BUF(b, "HD kk W\r\n");
    rsp.win = false;
    rsp.token_sent = rsp.stale = true;
    memcache_compose_meta(b, &p->req, &rsp, MAX);
    ASSERT_BUF(b, "HD kk Z X\r\n");
    parsed_free(p);

    p = parse_one("mg k s t v c f k h l u q O1 P L N1 R1 T1\r\n");
    memset(&rsp, 0, sizeof(rsp));
    rsp = (struct memcache_meta_rsp){.code = MEMCACHE_META_VA,
            .vlen = 1,
            .size = 1,
            .ttl = 1,
            .cas = 19,
            .fetched = true,
            .last_access = 1};
    memcache_compose_meta(b, &p->req, &rsp, MAX);
    ASSERT_BUF(b, "VA 1 s1 t1 c19 f0 kk h1 l1 O1\r\n");
    parsed_free(p);
}

static void
test_compose_meta_others(void **state)
{
    struct buf *b = *state;
    struct parsed *p = parse_one("ms k 1 c k O5\r\na\r\n");
    struct memcache_meta_rsp rsp = {.code = MEMCACHE_META_HD, .cas = 21};
    memcache_compose_meta(b, &p->req, &rsp, MAX);
    ASSERT_BUF(b, "HD c21 kk O5\r\n");
    parsed_free(p);

    /* ms writes c with every code (0 when nothing was stored) */
    p = parse_one("ms x 1 c k O5 ME\r\nb\r\n");
    rsp = (struct memcache_meta_rsp){.code = MEMCACHE_META_NS};
    memcache_compose_meta(b, &p->req, &rsp, MAX);
    ASSERT_BUF(b, "NS c0 kx O5\r\n");
    parsed_free(p);
    p = parse_one("ms x 1 k c C999\r\nb\r\n");
    rsp = (struct memcache_meta_rsp){.code = MEMCACHE_META_EX};
    memcache_compose_meta(b, &p->req, &rsp, MAX);
    ASSERT_BUF(b, "EX kx c0\r\n");
    parsed_free(p);

    p = parse_one("md k k O1 q\r\n");
    rsp = (struct memcache_meta_rsp){.code = MEMCACHE_META_NF};
    memcache_compose_meta(b, &p->req, &rsp, MAX);
    ASSERT_BUF(b, "NF kk O1\r\n");
    parsed_free(p);

    p = parse_one("ma k v t c k O9 D10\r\n");
    rsp = (struct memcache_meta_rsp){
            .code = MEMCACHE_META_VA, .vlen = 2, .ttl = -1, .cas = 26};
    memcache_compose_meta(b, &p->req, &rsp, MAX);
    memcache_compose_value_data(b, "15", 2, MAX);
    ASSERT_BUF(b, "VA 2 t-1 c26 kk O9\r\n15\r\n");
    rsp.code = MEMCACHE_META_NF;
    memcache_compose_meta(b, &p->req, &rsp, MAX);
    ASSERT_BUF(b, "NF kk O9\r\n");
    parsed_free(p);

    /* a base64 key is written back encoded, followed by b */
    p = parse_one("ms a2V5 1 b k\r\na\r\n");
    rsp = (struct memcache_meta_rsp){.code = MEMCACHE_META_HD};
    memcache_compose_meta(b, &p->req, &rsp, MAX);
    ASSERT_BUF(b, "HD ka2V5 b\r\n");
    parsed_free(p);
    p = parse_one("mg a2V= b k\r\n");
    rsp = (struct memcache_meta_rsp){.code = MEMCACHE_META_EN};
    memcache_compose_meta(b, &p->req, &rsp, MAX);
    ASSERT_BUF(b, "EN ka2U= b\r\n");
    parsed_free(p);
}

static void
test_compose_me(void **state)
{
    struct buf *b = *state;
    static const char detail[] = "exp=-1 la=3 cas=29 fetch=no cls=1 size=62";
    struct parsed *p = parse_one("me k\r\n");
    memcache_compose_me(b, &p->req, detail, sizeof(detail) - 1, MAX);
    ASSERT_BUF(b, "ME k exp=-1 la=3 cas=29 fetch=no cls=1 size=62\r\n");
    parsed_free(p);
    p = parse_one("me a2V5 b\r\n");
    memcache_compose_me(b, &p->req, "x=1", 3, MAX);
    ASSERT_BUF(b, "ME a2V5 x=1\r\n");
    parsed_free(p);
}

static void
test_compose_base64(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(memcache_base64_encode("key", 3, out, sizeof(out)), 4);
    assert_memory_equal(out, "a2V5", 4);
    assert_int_equal(memcache_base64_encode("ke", 2, out, sizeof(out)), 4);
    assert_memory_equal(out, "a2U=", 4);
    assert_int_equal(memcache_base64_encode("\0", 1, out, sizeof(out)), 4);
    assert_memory_equal(out, "AA==", 4);
    assert_int_equal(memcache_base64_encode("", 0, out, sizeof(out)), 0);
    assert_int_equal(memcache_base64_encode("key", 3, out, 3), 0);
    /* round trip through the decoder over all byte values */
    unsigned char bytes[187], back[187];
    char text[252];
    for (size_t i = 0; i < sizeof(bytes); i++) {
        bytes[i] = (unsigned char)(i * 7 + 3);
    }
    for (size_t n = 1; n <= sizeof(bytes); n++) {
        size_t t = memcache_base64_encode(bytes, n, text, sizeof(text));
        assert_int_equal(t, (n + 2) / 3 * 4);
        assert_int_equal(
                memcache_base64_decode(text, t, (char *)back, sizeof(back)), n);
        assert_memory_equal(back, bytes, n);
    }
}

static void
test_compose_binary_refusal(void **state)
{
    struct buf *b = *state;
    struct memcache_request req;
    memcache_request_reset(&req);
    req.bin_opcode = 0x0a;
    req.bin_opaque = 0xdeadbeef;
    memcache_compose_binary_refusal(b, &req, MAX);
    static const unsigned char expect[] = {0x81, 0x0a, 0, 0, 0, 0, 0x00, 0x83,
            0, 0, 0, 13, 0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0, 0, 0, 0, 0, 'N',
            'o', 't', ' ', 's', 'u', 'p', 'p', 'o', 'r', 't', 'e', 'd'};
    assert_buf(b, (const char *)expect, sizeof(expect));
}

/* -------------------------------------------------------- round trips */

/* Canonical requests: composing the parsed request gives the same bytes,
 * and parsing those gives the same request. */
static const char *const canonical[] = {
        "get k\r\n",
        "get a b c\r\n",
        "gets k1 k2\r\n",
        "gat 10 k\r\n",
        "gat 0\r\n",
        "gats -1 a b\r\n",
        "set k 1 2 3\r\nabc\r\n",
        "set k 0 0 0\r\n\r\n",
        "set k 0 -1 1 noreply\r\na\r\n",
        "add k 0 0 1\r\na\r\n",
        "replace k 0 0 1\r\na\r\n",
        "append k 0 0 1\r\na\r\n",
        "prepend k 0 0 1\r\na\r\n",
        "cas k 7 0 1 18446744073709551615\r\na\r\n",
        "cas k 0 0 1 99 noreply\r\na\r\n",
        "incr k 5\r\n",
        "decr k 18446744073709551615 noreply\r\n",
        "touch k 10\r\n",
        "touch k -1 noreply\r\n",
        "delete k\r\n",
        "delete k noreply\r\n",
        "mg k\r\n",
        "mg k v c f t s k h l u q Oab N10 R5 T-30\r\n",
        "mg a2V5 b k v\r\n",
        "ms k 2\r\nhi\r\n",
        "ms k 2 c k O5 q T10 F3 C7 I MS\r\nhi\r\n",
        "md k q I T30 C5 k O1 P L\r\n",
        "ma k N0 J5 D10 MD v t c k O9 q\r\n",
        "mn\r\n",
        "me k\r\n",
        "me a2V5 b\r\n",
        "flush_all\r\n",
        "flush_all 10\r\n",
        "flush_all noreply\r\n",
        "flush_all -1 noreply\r\n",
        "version\r\n",
        "verbosity 1\r\n",
        "verbosity 1 noreply\r\n",
        "quit\r\n",
        "stats\r\n",
        "stats detail dump\r\n",
        "cache_memlimit 100\r\n",
        "shutdown graceful\r\n",
        "slabs automove 1\r\n",
        "lru tune 10 25 0.1 2.0\r\n",
        "lru_crawler metadump all\r\n",
        "watch fetchers mutations\r\n",
};

static void
assert_view_equal(const struct bstring *a, const struct bstring *b)
{
    assert_int_equal(a->len, b->len);
    if (a->len > 0) {
        assert_memory_equal(a->data, b->data, a->len);
    }
}

static void
assert_req_equal(
        const struct memcache_request *a, const struct memcache_request *b)
{
    assert_int_equal(a->type, b->type);
    assert_int_equal(a->noreply, b->noreply);
    assert_view_equal(&a->key, &b->key);
    assert_int_equal(a->nkey, b->nkey);
    assert_int_equal(a->flags, b->flags);
    assert_int_equal(a->exptime, b->exptime);
    assert_true(a->cas == b->cas && a->delta == b->delta);
    assert_int_equal(a->num, b->num);
    assert_int_equal(a->vlen, b->vlen);
    assert_view_equal(&a->value, &b->value);
    assert_int_equal(a->narg, b->narg);
    for (size_t i = 0; i < a->narg; i++) {
        assert_view_equal(&a->arg[i], &b->arg[i]);
    }
    const struct memcache_meta *ma = &a->meta, *mb = &b->meta;
    assert_true(ma->flags == mb->flags);
    assert_string_equal(ma->order, mb->order);
    assert_int_equal(ma->key_binary, mb->key_binary);
    assert_int_equal(ma->mode, mb->mode);
    assert_view_equal(&ma->opaque, &mb->opaque);
    assert_int_equal(ma->ttl, mb->ttl);
    assert_int_equal(ma->vivify_ttl, mb->vivify_ttl);
    assert_int_equal(ma->recache_ttl, mb->recache_ttl);
    assert_int_equal(ma->client_flags, mb->client_flags);
    assert_true(ma->cas == mb->cas && ma->delta == mb->delta &&
                ma->initial == mb->initial);
}

static void
test_compose_req_round_trip(void **state)
{
    struct buf *b = *state;
    for (size_t i = 0; i < ARRAY_SIZE(canonical); i++) {
        struct parsed *p = parse_one(canonical[i]);
        assert_int_equal(memcache_compose_req(b, &p->req, MAX), STATUS_OK);
        assert_buf(b, canonical[i], strlen(canonical[i]));
        /* composed again and parsed back: the same request */
        memcache_compose_req(b, &p->req, MAX);
        struct memcache_request *again = calloc(1, sizeof(*again));
        assert_non_null(again);
        assert_int_equal(memcache_parse_req(again, b), MEMCACHE_PARSE_OK);
        assert_true(buf_empty(b));
        assert_req_equal(&p->req, again);
        buf_clear(b);
        free(again);
        parsed_free(p);
    }
}

/* Non-canonical spellings compose to their canonical form. */
static void
test_compose_req_normalizes(void **state)
{
    struct buf *b = *state;
    static const char *const pairs[][2] = {
            {"   get  a   b  \r\n", "get a b\r\n"},
            {"bget k\n", "get k\r\n"},
            {"set k +1 0 01 2\r\na\r\n", "set k 1 0 1\r\na\r\n"},
            {"delete k 0\r\n", "delete k\r\n"},
            {"delete k 0 noreply\r\n", "delete k noreply\r\n"},
            {"incr k 5 foo\r\n", "incr k 5\r\n"},
            {"mn a b\r\n", "mn\r\n"},
            {"mg k Pfoo Lbar\r\n", "mg k P L\r\n"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(pairs); i++) {
        struct parsed *p = parse_one(pairs[i][0]);
        assert_int_equal(memcache_compose_req(b, &p->req, MAX), STATUS_OK);
        assert_buf(b, pairs[i][1], strlen(pairs[i][1]));
        parsed_free(p);
    }
    struct memcache_request req;
    memcache_request_reset(&req);
    assert_int_equal(memcache_compose_req(b, &req, MAX), STATUS_EINVAL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_compose_fixed),
            cmocka_unit_test(test_compose_errors),
            cmocka_unit_test(test_compose_numbers),
            cmocka_unit_test(test_compose_value),
            cmocka_unit_test(test_compose_stat_version),
            cmocka_unit_test(test_compose_enomem),
            cmocka_unit_test(test_compose_meta_mg),
            cmocka_unit_test(test_compose_meta_others),
            cmocka_unit_test(test_compose_me),
            cmocka_unit_test(test_compose_base64),
            cmocka_unit_test(test_compose_binary_refusal),
            cmocka_unit_test(test_compose_req_round_trip),
            cmocka_unit_test(test_compose_req_normalizes),
    };
    return cmocka_run_group_tests(tests, setup_buf, teardown_buf);
}
