/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for the memcache request parser: every command whole and split at
 * every byte, malformed input with memcached 1.6.18's exact replies and
 * consumption (each expectation was probed against memcached 1.6.18),
 * pipelines, long get lines, streamed and oversized values. */
#include "protocol/memcache/parse.h"

#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUF_MAX (4 * MiB)

static memcache_parse_metrics_st metrics;

static int
setup_group(void **state)
{
    (void)state;
    memcache_parse_metrics_st m = {MEMCACHE_PARSE_METRIC(INIT_METRIC)};
    metrics = m;
    if (metric_init((struct metric *)&metrics, METRIC_CARDINALITY(metrics)) !=
            STATUS_OK) {
        return -1;
    }
    memcache_parse_setup(NULL, &metrics);
    return 0;
}

static int
teardown_group(void **state)
{
    (void)state;
    memcache_parse_teardown();
    metric_deinit((struct metric *)&metrics, METRIC_CARDINALITY(metrics));
    return 0;
}

static int
setup_req(void **state)
{
    struct memcache_request *req = calloc(1, sizeof(*req));
    if (req == NULL) {
        return -1;
    }
    *state = req;
    return 0;
}

static int
teardown_req(void **state)
{
    free(*state);
    return 0;
}

/* A buffer holding the first n bytes of wire (capacity for the rest). */
static void
buf_from(struct buf *b, const char *wire, size_t n, size_t cap)
{
    assert_int_equal(buf_init(b, cap < 16 ? 16 : cap), STATUS_OK);
    if (n > 0) {
        assert_int_equal(buf_append(b, wire, n, BUF_MAX), STATUS_OK);
    }
}

/* ------------------------------------------------------- whole requests */

/* Well-formed requests: each parses OK, consumes everything, has the type. */
static const struct {
    const char *wire;
    memcache_req_type_e type;
} valid[] = {
        {"get k\r\n", MEMCACHE_REQ_GET},
        {"get a b c\r\n", MEMCACHE_REQ_GET},
        {"bget k\r\n", MEMCACHE_REQ_GET},
        {"gets k1 k2\r\n", MEMCACHE_REQ_GETS},
        {"gat 10 k\r\n", MEMCACHE_REQ_GAT},
        {"gat 0\r\n", MEMCACHE_REQ_GAT},
        {"gats -1 a b\r\n", MEMCACHE_REQ_GATS},
        {"set k 1 2 3\r\nabc\r\n", MEMCACHE_REQ_SET},
        {"set k 0 0 0\r\n\r\n", MEMCACHE_REQ_SET},
        {"set k 0 0 1 noreply\r\na\r\n", MEMCACHE_REQ_SET},
        {"set k 0 0 4 2\r\n\r\n\r\n\r\n", MEMCACHE_REQ_SET},
        {"add k 0 0 1\r\na\r\n", MEMCACHE_REQ_ADD},
        {"replace k 0 0 1\r\na\r\n", MEMCACHE_REQ_REPLACE},
        {"append k 0 0 1\r\na\r\n", MEMCACHE_REQ_APPEND},
        {"prepend k 0 0 1\r\na\r\n", MEMCACHE_REQ_PREPEND},
        {"cas k 0 0 1 99\r\na\r\n", MEMCACHE_REQ_CAS},
        {"cas k 0 0 1 99 noreply\r\na\r\n", MEMCACHE_REQ_CAS},
        {"incr k 5\r\n", MEMCACHE_REQ_INCR},
        {"decr k 5 noreply\r\n", MEMCACHE_REQ_DECR},
        {"incr k 5 foo\r\n", MEMCACHE_REQ_INCR},
        {"touch k 10\r\n", MEMCACHE_REQ_TOUCH},
        {"touch k 10 noreply\r\n", MEMCACHE_REQ_TOUCH},
        {"delete k\r\n", MEMCACHE_REQ_DELETE},
        {"delete k 0\r\n", MEMCACHE_REQ_DELETE},
        {"delete k noreply\r\n", MEMCACHE_REQ_DELETE},
        {"delete k 0 noreply\r\n", MEMCACHE_REQ_DELETE},
        {"mg k\r\n", MEMCACHE_REQ_MG},
        {"mg k v c f t s k h l u q Oab N10 R5 T30\r\n", MEMCACHE_REQ_MG},
        {"mg a2V5 b k v\r\n", MEMCACHE_REQ_MG},
        {"ms k 2\r\nhi\r\n", MEMCACHE_REQ_MS},
        {"ms k 2 c k O5 q T10 F3 C7 I MS\r\nhi\r\n", MEMCACHE_REQ_MS},
        {"md k\r\n", MEMCACHE_REQ_MD},
        {"md k q I T30 C5 k O1\r\n", MEMCACHE_REQ_MD},
        {"ma k\r\n", MEMCACHE_REQ_MA},
        {"ma k N0 J5 D10 MD v t c k O9 q\r\n", MEMCACHE_REQ_MA},
        {"mn\r\n", MEMCACHE_REQ_MN},
        {"mn a b c\r\n", MEMCACHE_REQ_MN},
        {"me k\r\n", MEMCACHE_REQ_ME},
        {"me a2V5 b\r\n", MEMCACHE_REQ_ME},
        {"flush_all\r\n", MEMCACHE_REQ_FLUSH_ALL},
        {"flush_all 10\r\n", MEMCACHE_REQ_FLUSH_ALL},
        {"flush_all noreply\r\n", MEMCACHE_REQ_FLUSH_ALL},
        {"flush_all 10 noreply\r\n", MEMCACHE_REQ_FLUSH_ALL},
        {"version\r\n", MEMCACHE_REQ_VERSION},
        {"verbosity 1\r\n", MEMCACHE_REQ_VERBOSITY},
        {"verbosity 1 noreply\r\n", MEMCACHE_REQ_VERBOSITY},
        {"quit\r\n", MEMCACHE_REQ_QUIT},
        {"stats\r\n", MEMCACHE_REQ_STATS},
        {"stats settings\r\n", MEMCACHE_REQ_STATS},
        {"stats detail dump\r\n", MEMCACHE_REQ_STATS},
        {"cache_memlimit 100\r\n", MEMCACHE_REQ_CACHE_MEMLIMIT},
        {"shutdown graceful\r\n", MEMCACHE_REQ_SHUTDOWN},
        {"slabs automove 1\r\n", MEMCACHE_REQ_SLABS},
        {"lru tune 10 25 0.1 2.0\r\n", MEMCACHE_REQ_LRU},
        {"lru_crawler enable\r\n", MEMCACHE_REQ_LRU_CRAWLER},
        {"watch fetchers\r\n", MEMCACHE_REQ_WATCH},
        {"get k\n", MEMCACHE_REQ_GET},
        {"   get  k  \r\n", MEMCACHE_REQ_GET},
};

static void
test_parse_valid_whole(void **state)
{
    struct memcache_request *req = *state;
    for (size_t i = 0; i < ARRAY_SIZE(valid); i++) {
        struct buf b;
        size_t n = strlen(valid[i].wire);
        buf_from(&b, valid[i].wire, n, n);
        uint64_t before = metric_counter(&metrics.memcache_parse_req);
        assert_int_equal(memcache_parse_req(req, &b), MEMCACHE_PARSE_OK);
        assert_int_equal(req->type, valid[i].type);
        assert_true(buf_empty(&b));
        assert_int_equal(req->error, MEMCACHE_ERR_NONE);
        assert_int_equal(
                metric_counter(&metrics.memcache_parse_req), before + 1);
        buf_deinit(&b);
    }
}

/* Every split point: UNFIN with nothing consumed, then OK once whole. */
static void
test_parse_valid_split(void **state)
{
    struct memcache_request *req = *state;
    for (size_t i = 0; i < ARRAY_SIZE(valid); i++) {
        size_t n = strlen(valid[i].wire);
        for (size_t cut = 0; cut < n; cut++) {
            struct buf b;
            buf_from(&b, valid[i].wire, cut, n);
            assert_int_equal(memcache_parse_req(req, &b), MEMCACHE_PARSE_UNFIN);
            assert_ptr_equal(b.rpos, b.begin);
            assert_int_equal(buf_rsize(&b), cut);
            assert_int_equal(
                    buf_append(&b, valid[i].wire + cut, n - cut, BUF_MAX),
                    STATUS_OK);
            assert_int_equal(memcache_parse_req(req, &b), MEMCACHE_PARSE_OK);
            assert_int_equal(req->type, valid[i].type);
            assert_true(buf_empty(&b));
            buf_deinit(&b);
        }
    }
}

/* ---------------------------------------------------- field by field */

static memcache_parse_e
parse_str(struct memcache_request *req, struct buf *b, const char *wire)
{
    size_t n = strlen(wire);
    buf_from(b, wire, n, n);
    return memcache_parse_req(req, b);
}

static void
assert_view(const struct bstring *s, const char *expect)
{
    assert_int_equal(s->len, strlen(expect));
    assert_memory_equal(s->data, expect, s->len);
}

static void
test_parse_storage_fields(void **state)
{
    struct memcache_request *req = *state;
    struct buf b;
    assert_int_equal(parse_str(req, &b,
                             "cas key 4294967295 -5 3 18446744073709551615 "
                             "noreply\r\nabc\r\n"),
            MEMCACHE_PARSE_OK);
    assert_view(&req->key, "key");
    assert_int_equal(req->flags, 4294967295u);
    assert_int_equal(req->exptime, -5);
    assert_int_equal(req->vlen, 3);
    assert_true(req->cas == UINT64_MAX);
    assert_true(req->noreply);
    assert_view(&req->value, "abc");
    buf_deinit(&b);

    /* memcached keeps the low 32 bits of flags up to 2^64 - 1 */
    assert_int_equal(parse_str(req, &b, "set k 4294967296 0 1\r\na\r\n"),
            MEMCACHE_PARSE_OK);
    assert_int_equal(req->flags, 0);
    assert_false(req->noreply);
    buf_deinit(&b);
    assert_int_equal(parse_str(req, &b, "set k +7 2147483648 +1\r\na\r\n"),
            MEMCACHE_PARSE_OK);
    assert_int_equal(req->flags, 7);
    assert_int_equal(req->exptime, INT32_MIN); /* truncated like memcached */
    buf_deinit(&b);
    assert_int_equal(
            parse_str(req, &b, "set k -0 0 01\r\na\r\n"), MEMCACHE_PARSE_OK);
    assert_int_equal(req->flags, 0);
    assert_int_equal(req->vlen, 1);
    buf_deinit(&b);
}

static void
test_parse_retrieval_keys(void **state)
{
    struct memcache_request *req = *state;
    struct buf b;
    assert_int_equal(parse_str(req, &b, "gats 30  one two   three\r\n"),
            MEMCACHE_PARSE_OK);
    assert_int_equal(req->exptime, 30);
    assert_int_equal(req->nkey, 3);
    assert_view(&req->key, "one");
    const char *expect[] = {"one", "two", "three"};
    size_t pos = 0, i = 0;
    struct bstring key;
    while (memcache_request_key_next(req, &pos, &key)) {
        assert_true(i < 3);
        assert_view(&key, expect[i++]);
    }
    assert_int_equal(i, 3);
    buf_deinit(&b);

    assert_int_equal(parse_str(req, &b, "gat 0\r\n"), MEMCACHE_PARSE_OK);
    assert_int_equal(req->nkey, 0);
    pos = 0;
    assert_false(memcache_request_key_next(req, &pos, &key));
    buf_deinit(&b);
}

static void
test_parse_number_fields(void **state)
{
    struct memcache_request *req = *state;
    struct buf b;
    assert_int_equal(parse_str(req, &b, "incr n 18446744073709551615\r\n"),
            MEMCACHE_PARSE_OK);
    assert_true(req->delta == UINT64_MAX);
    buf_deinit(&b);
    assert_int_equal(
            parse_str(req, &b, "touch k -1 noreply\r\n"), MEMCACHE_PARSE_OK);
    assert_int_equal(req->exptime, -1);
    assert_true(req->noreply);
    buf_deinit(&b);
    assert_int_equal(
            parse_str(req, &b, "flush_all 10 noreply\r\n"), MEMCACHE_PARSE_OK);
    assert_int_equal(req->exptime, 10);
    assert_true(req->noreply);
    buf_deinit(&b);
    assert_int_equal(parse_str(req, &b, "verbosity 3\r\n"), MEMCACHE_PARSE_OK);
    assert_int_equal(req->num, 3);
    buf_deinit(&b);
    assert_int_equal(parse_str(req, &b, "cache_memlimit 64 noreply\r\n"),
            MEMCACHE_PARSE_OK);
    assert_int_equal(req->num, 64);
    assert_true(req->noreply);
    buf_deinit(&b);
    assert_int_equal(
            parse_str(req, &b, "stats detail on\r\n"), MEMCACHE_PARSE_OK);
    assert_int_equal(req->narg, 2);
    assert_view(&req->arg[0], "detail");
    assert_view(&req->arg[1], "on");
    buf_deinit(&b);
}

static void
test_parse_meta_fields(void **state)
{
    struct memcache_request *req = *state;
    struct buf b;
    assert_int_equal(parse_str(req, &b, "mg key s v Oop N-1 T30 R5 k q\r\n"),
            MEMCACHE_PARSE_OK);
    struct memcache_meta *m = &req->meta;
    assert_view(&req->key, "key");
    assert_string_equal(m->order, "svONTRkq");
    assert_true(MEMCACHE_META_HAS(m, 'v'));
    assert_true(MEMCACHE_META_HAS(m, 'q'));
    assert_false(MEMCACHE_META_HAS(m, 'c'));
    assert_view(&m->opaque, "op");
    assert_int_equal(m->vivify_ttl, -1);
    assert_int_equal(m->ttl, 30);
    assert_int_equal(m->recache_ttl, 5);
    assert_false(req->noreply);
    buf_deinit(&b);

    assert_int_equal(
            parse_str(req, &b, "ma n D18446744073709551615 J7 M- N0\r\n"),
            MEMCACHE_PARSE_OK);
    assert_true(req->meta.delta == UINT64_MAX);
    assert_int_equal(req->meta.initial, 7);
    assert_int_equal(req->meta.mode, '-');
    buf_deinit(&b);

    assert_int_equal(parse_str(req, &b, "ma n\r\n"), MEMCACHE_PARSE_OK);
    assert_int_equal(req->meta.delta, 1); /* memcached's default */
    assert_int_equal(req->meta.mode, 0);
    buf_deinit(&b);

    assert_int_equal(parse_str(req, &b, "ms k 3 F9 C12 T-1 ME I\r\nabc\r\n"),
            MEMCACHE_PARSE_OK);
    assert_int_equal(req->vlen, 3);
    assert_view(&req->value, "abc");
    assert_int_equal(req->meta.client_flags, 9);
    assert_int_equal(req->meta.cas, 12);
    assert_int_equal(req->meta.ttl, -1);
    assert_int_equal(req->meta.mode, 'E');
    assert_true(MEMCACHE_META_HAS(&req->meta, 'I'));
    buf_deinit(&b);
}

static void
test_parse_meta_base64(void **state)
{
    struct memcache_request *req = *state;
    struct buf b;
    assert_int_equal(
            parse_str(req, &b, "mg a2V5 k b v\r\n"), MEMCACHE_PARSE_OK);
    assert_true(req->meta.key_binary);
    assert_view(&req->key, "key");
    assert_view(&req->meta.key_wire, "a2V5");
    buf_deinit(&b);
    assert_int_equal(parse_str(req, &b, "me AA== b\r\n"), MEMCACHE_PARSE_OK);
    assert_int_equal(req->key.len, 1);
    assert_int_equal(req->key.data[0], 0);
    buf_deinit(&b);
    assert_int_equal(parse_str(req, &b, "me k x\r\n"), MEMCACHE_PARSE_OK);
    assert_false(req->meta.key_binary);
    buf_deinit(&b);
}

/* memcached's decoder as probed: what each input decodes to ("" = error) */
static void
test_parse_base64_decoder(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        const char *out;
        size_t outlen;
    } cases[] = {
            {"a2V5", "key", 3},
            {"a2U=", "ke", 2},
            {"a2V=", "ke", 2},
            {"AA==", "\0", 1},
            {"A=AA", "\0\0", 2},
            {"AA=A", "\0\0", 2},
            {"AA==AAAA", "\0", 1},
            {"a2V5-_-_", "key", 3},
            {"a2U", "", 0},
            {"a2U==", "", 0},
            {"a2V5=", "", 0},
            {"a!V5", "", 0},
            {"====", "", 0},
            {"A===", "", 0},
            {"", "", 0},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        char out[16];
        size_t n = memcache_base64_decode(
                cases[i].in, strlen(cases[i].in), out, sizeof(out));
        assert_int_equal(n, cases[i].outlen);
        assert_memory_equal(out, cases[i].out, n);
    }
    char small[2];
    assert_int_equal(memcache_base64_decode("a2V5", 4, small, 2), 0);
}

/* ---------------------------------------------------------- malformed */

/* Parses everything in wire the way a server loop would and describes
 * the outcome: OK:<command> for a request; for a refusal the reply text,
 * or "-" when memcached stays silent (noreply); TOO_LARGE likewise; then
 * UNFIN, BINARY or "swallow <n>" if the input ends there. */
static void
outcomes(struct memcache_request *req, const char *wire, size_t n, char *out,
        size_t cap)
{
    struct buf b;
    buf_from(&b, wire, n, n);
    out[0] = '\0';
    while (!buf_empty(&b)) {
        const char *what;
        char tmp[256];
        memcache_parse_e st = memcache_parse_req(req, &b);
        switch (st) {
        case MEMCACHE_PARSE_OK:
            snprintf(tmp, sizeof(tmp), "OK:%s",
                    memcache_req_type_str(req->type));
            what = tmp;
            break;
        case MEMCACHE_PARSE_EINVALID:
        case MEMCACHE_PARSE_EOVERSIZE:
            what = req->noreply ? "-" : memcache_error_str(req->error);
            break;
        case MEMCACHE_PARSE_UNFIN:
            what = "UNFIN";
            break;
        default:
            what = "BINARY";
            break;
        }
        if (out[0] != '\0') {
            strncat(out, "|", cap - strlen(out) - 1);
        }
        strncat(out, what, cap - strlen(out) - 1);
        if (st == MEMCACHE_PARSE_UNFIN || st == MEMCACHE_PARSE_EBINARY) {
            break;
        }
        if (req->swallow > 0) {
            snprintf(tmp, sizeof(tmp), "|swallow %zu", req->swallow);
            strncat(out, tmp, cap - strlen(out) - 1);
            break;
        }
    }
    buf_deinit(&b);
}

#define FMT     "CLIENT_ERROR bad command line format"
#define USAGE   FMT ".  Usage: delete <key> [noreply]"
#define EXPTIME "CLIENT_ERROR invalid exptime argument"
#define DELTA   "CLIENT_ERROR invalid numeric delta argument"
#define CHUNK   "CLIENT_ERROR bad data chunk"
#define LARGE   "SERVER_ERROR object too large for cache"
#define K250                                                                   \
    "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk" \
    "k"                                                                        \
    "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk" \
    "k"                                                                        \
    "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk" \
    "k"                                                                        \
    "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"
#define K251 K250 "k"

/* Input and the outcome memcached 1.6.18 gives it (probed over a socket:
 * its replies, in order, are these lines). */
static const struct {
    const char *wire;
    const char *expect;
} malformed[] = {
        /* unknown commands and wrong token counts: ERROR, never silent */
        {"\r\n", "ERROR"},
        {"\n", "ERROR"},
        {"GET k\r\n", "ERROR"},
        {"get\tk\r\n", "ERROR"},
        {"g\r\n", "ERROR"},
        {"mx\r\n", "ERROR"},
        {"mgg k\r\n", "ERROR"},
        {"misbehave\r\n", "ERROR"},
        {"get\r\n", "ERROR"},
        {"get \r\n", "ERROR"},
        {"gat\r\n", "ERROR"},
        {"set k 0 0\r\nabc\r\n", "ERROR|ERROR"},
        {"set k 0 0 1 noreply x\r\na\r\n", "ERROR|ERROR"},
        {"cas k 0 0 1\r\na\r\n", "ERROR|ERROR"},
        {"incr\r\n", "ERROR"},
        {"incr k\r\n", "ERROR"},
        {"incr k 1 2 3\r\n", "ERROR"},
        {"decr k\r\n", "ERROR"},
        {"touch k\r\n", "ERROR"},
        {"touch k 1 2 3\r\n", "ERROR"},
        {"delete\r\n", "ERROR"},
        {"delete k 0 noreply extra\r\n", "ERROR"},
        {"verbosity\r\n", "ERROR"},
        {"verbosity 1 2 3\r\n", "ERROR"},
        {"flush_all 1 2 3\r\n", "ERROR"},
        {"cache_memlimit\r\n", "ERROR"},
        {"cache_memlimit abc\r\n", "ERROR"},
        {"lru\r\n", "ERROR"},
        {"mg\r\n", "ERROR"},
        {"ms\r\n", "ERROR"},
        {"md\r\n", "ERROR"},
        {"ma\r\n", "ERROR"},
        /* keys */
        {"get " K251 "\r\n", FMT},
        {"get a " K251 " b\r\n", FMT},
        {"gat 0 " K251 "\r\n", FMT},
        {"set " K251 " 0 0 1\r\na\r\n", FMT "|ERROR"},
        {"set " K251 " 0 0 1 noreply\r\na\r\n", "-|ERROR"},
        {"set " K250 " 0 0 1\r\na\r\n", "OK:set"},
        {"delete " K251 "\r\n", FMT},
        {"incr " K251 " 1\r\n", FMT},
        {"touch " K251 " 1\r\n", FMT},
        {"mg " K251 " v\r\n", FMT},
        {"ms " K251 " 1\r\na\r\n", FMT "|ERROR"},
        {"md " K251 "\r\n", FMT},
        {"ma " K251 "\r\n", FMT},
        {"me " K251 "\r\n", FMT},
        /* storage lines: refused before the length is known, no swallow */
        {"set k abc 0 1\r\na\r\n", FMT "|ERROR"},
        {"set k abc 0 1 noreply\r\na\r\n", "-|ERROR"},
        {"set k 0 abc 1\r\na\r\n", FMT "|ERROR"},
        {"set k -1 0 1\r\na\r\n", FMT "|ERROR"},
        {"set k 18446744073709551616 0 1\r\na\r\n", FMT "|ERROR"},
        {"set k 0 0 -1\r\nab\r\nget k\r\n", FMT "|ERROR|OK:get"},
        {"set k 0 0 1x\r\na\r\n", FMT "|ERROR"},
        {"set k 0 0 2147483646\r\nabc\r\n", FMT "|ERROR"},
        {"cas k 0 0 1 abc\r\na\r\n", FMT "|ERROR"},
        {"cas k 0 0 1 -1\r\na\r\n", FMT "|ERROR"},
        /* data blocks: vlen + 2 bytes are read, then checked */
        {"set k 0 0 2\r\nabc\r\n", CHUNK "|ERROR"},
        {"set k 0 0 1\r\nab\r\nversion\r\n", CHUNK "|ERROR|OK:version"},
        {"set k 0 0 1 noreply\r\nab\r\nmn\r\n", "-|ERROR|OK:mn"},
        {"set k 0 0 2\r\nab\n", "UNFIN"},
        /* too large: the data block is swallowed whole */
        {"set k 0 0 2000000\r\n", LARGE "|swallow 2000002"},
        {"set k 0 0 2000000 noreply\r\n", "-|swallow 2000002"},
        {"ms k 2000000 T0\r\n", LARGE "|swallow 2000002"},
        /* other classic commands */
        {"gat abc k\r\n", EXPTIME},
        {"gat 99999999999999999999 k\r\n", EXPTIME},
        {"touch k abc\r\n", EXPTIME},
        {"touch k abc noreply\r\nmn\r\n", "-|OK:mn"},
        {"incr k abc\r\n", DELTA},
        {"incr k -1\r\n", DELTA},
        {"incr k 18446744073709551616\r\n", DELTA},
        {"incr k abc noreply\r\nmn\r\n", "-|OK:mn"},
        {"delete k 1\r\n", USAGE},
        {"delete k noreply 0\r\n", USAGE},
        {"delete k 0 0\r\n", USAGE},
        {"delete k 00\r\n", USAGE},
        {"delete k x noreply\r\n", "-"},
        {"verbosity abc\r\n", FMT},
        {"verbosity noreply\r\n", "-"},
        {"verbosity abc noreply\r\nmn\r\n", "-|OK:mn"},
        {"flush_all abc\r\n", EXPTIME},
        {"flush_all noreply noreply\r\n", "-"},
        {"flush_all 10 x\r\n", "OK:flush_all"},
        /* meta: mg */
        {"mg k x\r\n", "CLIENT_ERROR invalid flag"},
        {"mg k v v\r\n", "CLIENT_ERROR duplicate flag"},
        {"mg k \xc3\x84\r\n", "CLIENT_ERROR duplicate flag"},
        {"mg k Na\r\n", "CLIENT_ERROR bad token in command line format"},
        {"mg k N\r\n", "CLIENT_ERROR bad token in command line format"},
        {"mg k T\r\n", "CLIENT_ERROR bad token in command line format"},
        {"mg k R\r\n", "CLIENT_ERROR bad token in command line format"},
        {"mg k E5\r\n", "CLIENT_ERROR invalid flag"},
        {"mg k Na Tb\r\n", "CLIENT_ERROR bad token in command line format"},
        {"mg k Na x\r\n", "CLIENT_ERROR invalid flag"},
        {"mg k Jx\r\n", "CLIENT_ERROR invalid numeric initial value"},
        {"mg k Dx\r\n", "CLIENT_ERROR invalid numeric delta value"},
        {"mg k Fx\r\n", FMT},
        {"mg k Fx Na\r\n", "CLIENT_ERROR bad token in command line format"},
        {"mg k M\r\n", "CLIENT_ERROR incorrect length for M token"},
        {"mg k MX\r\n", "OK:mg"},
        {"mg k b\r\n", "CLIENT_ERROR error decoding key"},
        {"mg a2U b k\r\n", "CLIENT_ERROR error decoding key"},
        {"mg k O1234567890123456789012345678901\r\n", "OK:mg"},
        {"mg k O12345678901234567890123456789012\r\n",
                "CLIENT_ERROR opaque token too long"},
        {"mg k 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\r\n",
                "CLIENT_ERROR invalid flag"},
        {"mg k 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18\r\n",
                "CLIENT_ERROR options flags are too long"},
        {"mg k q\r\nmn\r\n", "OK:mg|OK:mn"},
        /* meta: ms refusals before the length: no swallow; after: swallow */
        {"ms k\r\n", FMT},
        {"ms k\r\na\r\n", FMT "|ERROR"},
        {"ms k S1\r\na\r\n", FMT "|ERROR"},
        {"ms k abc\r\na\r\n", FMT "|ERROR"},
        {"ms k -1\r\na\r\n", FMT "|ERROR"},
        {"ms k 1 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\r\na\r\nmn\r\n",
                "CLIENT_ERROR options flags too long|ERROR|OK:mn"},
        {"ms k 1 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\r\na\r\nmn\r\n",
                "CLIENT_ERROR invalid flag|OK:mn"},
        {"ms k 1 S1\r\na\r\n", "CLIENT_ERROR invalid flag"},
        {"ms k 1 x\r\na\r\nmn\r\n", "CLIENT_ERROR invalid flag|OK:mn"},
        {"ms k 1 MX\r\na\r\nmn\r\n",
                "CLIENT_ERROR invalid mode for ms M token|OK:mn"},
        {"ms k 1 MEE\r\na\r\nmn\r\n",
                "CLIENT_ERROR incorrect length for M token|OK:mn"},
        {"ms k 1 Fabc\r\na\r\nmn\r\n", FMT "|OK:mn"},
        {"ms k 1 F-1\r\na\r\nmn\r\n", FMT "|OK:mn"},
        {"ms k 1 Cabc\r\na\r\nmn\r\n",
                "CLIENT_ERROR bad token in command line format|OK:mn"},
        {"ms k 1 O12345678901234567890123456789012\r\na\r\nmn\r\n",
                "CLIENT_ERROR opaque token too long|OK:mn"},
        {"ms k 1 MX O12345678901234567890123456789012\r\na\r\n",
                "CLIENT_ERROR invalid mode for ms M token"},
        {"ms k 1 Na O12345678901234567890123456789012\r\na\r\n",
                "CLIENT_ERROR bad token in command line format"},
        {"ms k 1 Na Fx\r\na\r\n",
                "CLIENT_ERROR bad token in command line format"},
        {"ms k 1 b\r\na\r\nmn\r\n", "CLIENT_ERROR error decoding key|OK:mn"},
        {"ms k 1 q\r\nab\r\nmn\r\n", CHUNK "|ERROR|OK:mn"},
        {"ms k 1 x\r\n", "CLIENT_ERROR invalid flag|swallow 3"},
        /* meta: md, ma, me, mn */
        {"md k x\r\n", "CLIENT_ERROR invalid or duplicate flag"},
        {"md k Cabc\r\n", "CLIENT_ERROR invalid or duplicate flag"},
        {"md k O12345678901234567890123456789012\r\n",
                "CLIENT_ERROR opaque token too long"},
        {"md k v\r\n", "OK:md"},
        {"md k MX\r\n", "OK:md"},
        {"md k 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18\r\n",
                "CLIENT_ERROR options flags too long"},
        {"ma k x\r\n", "CLIENT_ERROR invalid or duplicate flag"},
        {"ma k Dabc\r\n", "CLIENT_ERROR invalid or duplicate flag"},
        {"ma k Jabc\r\n", "CLIENT_ERROR invalid or duplicate flag"},
        {"ma k MX\r\n", "CLIENT_ERROR invalid mode for ma M token"},
        {"ma k Mi v q\r\n", "CLIENT_ERROR invalid mode for ma M token"},
        {"ma k M+ v q\r\n", "OK:ma"},
        {"me\r\n", FMT},
        {"me k b\r\n", FMT},
        {"me k b x\r\n", FMT},
        {"me a b c d\r\n", FMT},
        {"me k x\r\n", "OK:me"},
        {"mn k\r\n", "OK:mn"},
        /* segcached refuses control bytes in keys (memcached does not
         * check); a storage command still has its data block read */
        {"get a\x01"
         "b\r\n",
                FMT},
        {"get k\r\r\n", FMT},
        {"set a\tb 0 0 1\r\nx\r\nmn\r\n", FMT "|OK:mn"},
        {"mg a\x7f v\r\n", FMT},
        {"ms a\x01 1\r\nx\r\nmn\r\n", FMT "|OK:mn"},
        /* binary protocol */
        {"\x80\x01", "BINARY"},
};

static void
test_parse_malformed(void **state)
{
    struct memcache_request *req = *state;
    for (size_t i = 0; i < ARRAY_SIZE(malformed); i++) {
        char out[512];
        const char *wire = malformed[i].wire;
        outcomes(req, wire, strlen(wire), out, sizeof(out));
        if (strcmp(out, malformed[i].expect) != 0) {
            fail_msg("case %zu: %s\n  got    %s\n  expect %s", i, wire, out,
                    malformed[i].expect);
        }
    }
}

/* The same outcome when the input arrives one byte at a time: refusals
 * consume the same bytes and swallowing goes on across reads. */
static void
outcomes_bytewise(struct memcache_request *req, const char *wire, size_t n,
        char *out, size_t cap)
{
    struct buf b;
    buf_from(&b, wire, 0, n);
    out[0] = '\0';
    size_t swallow = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n) {
            buf_append(&b, wire + i, 1, BUF_MAX);
        }
        if (swallow > 0) {
            req->swallow = swallow;
            swallow = memcache_parse_swallow(req, &b);
        }
        while (swallow == 0 && !buf_empty(&b)) {
            memcache_parse_e st = memcache_parse_req(req, &b);
            if (st == MEMCACHE_PARSE_UNFIN && i < n) {
                break;
            }
            const char *what = "BINARY";
            char tmp[256];
            if (st == MEMCACHE_PARSE_OK) {
                snprintf(tmp, sizeof(tmp), "OK:%s",
                        memcache_req_type_str(req->type));
                what = tmp;
            } else if (st == MEMCACHE_PARSE_UNFIN) {
                what = "UNFIN";
            } else if (st != MEMCACHE_PARSE_EBINARY) {
                what = req->noreply ? "-" : memcache_error_str(req->error);
            }
            if (out[0] != '\0') {
                strncat(out, "|", cap - strlen(out) - 1);
            }
            strncat(out, what, cap - strlen(out) - 1);
            swallow = req->swallow;
            if (st == MEMCACHE_PARSE_UNFIN || st == MEMCACHE_PARSE_EBINARY) {
                i = n; /* done: the input ends inside a request */
                break;
            }
        }
    }
    if (swallow > 0) {
        char tmp[64];
        snprintf(tmp, sizeof(tmp), "|swallow %zu", swallow);
        strncat(out, tmp, cap - strlen(out) - 1);
    }
    buf_deinit(&b);
}

static void
test_parse_malformed_bytewise(void **state)
{
    struct memcache_request *req = *state;
    for (size_t i = 0; i < ARRAY_SIZE(malformed); i++) {
        char out[512];
        const char *wire = malformed[i].wire;
        outcomes_bytewise(req, wire, strlen(wire), out, sizeof(out));
        if (strcmp(out, malformed[i].expect) != 0) {
            fail_msg("case %zu: %s\n  got    %s\n  expect %s", i, wire, out,
                    malformed[i].expect);
        }
    }
}

/* A NUL ends the line, as in memcached's C-string tokenizer. */
static void
test_parse_nul_ends_line(void **state)
{
    struct memcache_request *req = *state;
    char out[128];
#define NUL_CASE(_s, _expect)                                                  \
    outcomes(req, (_s), sizeof(_s) - 1, out, sizeof(out));                     \
    assert_string_equal(out, (_expect))
    NUL_CASE("mn\0garbage\r\n", "OK:mn");
    NUL_CASE("set k 0 0 1\0junk\r\na\r\n", "OK:set");
    NUL_CASE("get\0 k\r\n", "ERROR");
#undef NUL_CASE
}

/* A refused line is consumed whole, never less, never the next request. */
static void
test_parse_malformed_split(void **state)
{
    struct memcache_request *req = *state;
    const char *wire = "incr k abc\r\nmn\r\n";
    size_t line = strlen("incr k abc\r\n");
    for (size_t cut = 0; cut < line; cut++) {
        struct buf b;
        buf_from(&b, wire, cut, strlen(wire));
        assert_int_equal(memcache_parse_req(req, &b), MEMCACHE_PARSE_UNFIN);
        assert_ptr_equal(b.rpos, b.begin);
        buf_append(&b, wire + cut, strlen(wire) - cut, BUF_MAX);
        assert_int_equal(memcache_parse_req(req, &b), MEMCACHE_PARSE_EINVALID);
        assert_int_equal(req->error, MEMCACHE_ERR_DELTA);
        assert_int_equal(b.rpos - b.begin, line);
        assert_int_equal(memcache_parse_req(req, &b), MEMCACHE_PARSE_OK);
        assert_int_equal(req->type, MEMCACHE_REQ_MN);
        buf_deinit(&b);
    }
}

/* ------------------------------------------------ pipelines and limits */

static void
test_parse_pipeline(void **state)
{
    struct memcache_request *req = *state;
    const char *wire = "set a 0 0 1\r\nx\r\nget a b\r\nbogus\r\nmg a v\r\n"
                       "ms b 2 T0\r\nyz\r\ndelete a noreply\r\nmn\r\n";
    static const memcache_req_type_e types[] = {MEMCACHE_REQ_SET,
            MEMCACHE_REQ_GET, MEMCACHE_REQ_UNKNOWN, MEMCACHE_REQ_MG,
            MEMCACHE_REQ_MS, MEMCACHE_REQ_DELETE, MEMCACHE_REQ_MN};
    struct buf b;
    buf_from(&b, wire, strlen(wire), strlen(wire));
    for (size_t i = 0; i < ARRAY_SIZE(types); i++) {
        memcache_parse_e st = memcache_parse_req(req, &b);
        if (types[i] == MEMCACHE_REQ_UNKNOWN) {
            assert_int_equal(st, MEMCACHE_PARSE_EINVALID);
            assert_int_equal(req->error, MEMCACHE_ERR_UNKNOWN);
        } else {
            assert_int_equal(st, MEMCACHE_PARSE_OK);
            assert_int_equal(req->type, types[i]);
        }
    }
    assert_true(buf_empty(&b));
    assert_int_equal(memcache_parse_req(req, &b), MEMCACHE_PARSE_UNFIN);
    buf_deinit(&b);
}

/* A get with 40000 keys on a 200+ KiB line, arriving in pieces. */
static void
test_parse_long_get(void **state)
{
    struct memcache_request *req = *state;
    size_t nkey = 40000, cap = 4 + nkey * 7 + 2;
    char *wire = malloc(cap + 1);
    assert_non_null(wire);
    size_t n = (size_t)sprintf(wire, "get");
    for (size_t i = 0; i < nkey; i++) {
        n += (size_t)sprintf(wire + n, " k%05zu", i % 100000);
    }
    n += (size_t)sprintf(wire + n, "\r\n");
    struct buf b;
    buf_from(&b, wire, 0, n);
    for (size_t off = 0; off < n;) {
        assert_int_equal(memcache_parse_req(req, &b), MEMCACHE_PARSE_UNFIN);
        size_t step = size_min(16 * KiB, n - off);
        buf_append(&b, wire + off, step, BUF_MAX);
        off += step;
    }
    assert_int_equal(memcache_parse_req(req, &b), MEMCACHE_PARSE_OK);
    assert_int_equal(req->nkey, nkey);
    size_t pos = 0, i = 0;
    struct bstring key;
    char expect[8];
    while (memcache_request_key_next(req, &pos, &key)) {
        sprintf(expect, "k%05zu", i++);
        assert_view(&key, expect);
    }
    assert_int_equal(i, nkey);
    buf_deinit(&b);
    free(wire);
}

static void
test_parse_line_too_long(void **state)
{
    struct memcache_request *req = *state;
    char wire[4096];
    memset(wire, 'x', sizeof(wire));
    /* 2048 bytes without a line end may still become a line; 2049 not */
    for (size_t n = 2047; n <= 2049; n++) {
        struct buf b;
        buf_from(&b, wire, n, n);
        memcache_parse_e st = memcache_parse_req(req, &b);
        if (n <= 2048) {
            assert_int_equal(st, MEMCACHE_PARSE_UNFIN);
        } else {
            assert_int_equal(st, MEMCACHE_PARSE_EINVALID);
            assert_int_equal(req->error, MEMCACHE_ERR_LINE_TOO_LONG);
            assert_true(buf_empty(&b));
        }
        buf_deinit(&b);
    }
    /* a whole line over the limit is refused too (deterministically) */
    memcpy(wire, "mn ", 3);
    memcpy(wire + 3000, "\r\n", 2);
    struct buf b;
    buf_from(&b, wire, 3002, 3002);
    assert_int_equal(memcache_parse_req(req, &b), MEMCACHE_PARSE_EINVALID);
    assert_int_equal(req->error, MEMCACHE_ERR_LINE_TOO_LONG);
    buf_deinit(&b);
    /* get, gets, gat, gats lines may be long */
    memcpy(wire, " gat 0 ", 7);
    buf_from(&b, wire, 3000, 3000);
    assert_int_equal(memcache_parse_req(req, &b), MEMCACHE_PARSE_UNFIN);
    buf_append(&b, "\r\n", 2, BUF_MAX);
    assert_int_equal(memcache_parse_req(req, &b), MEMCACHE_PARSE_EINVALID);
    assert_int_equal(req->error, MEMCACHE_ERR_FORMAT); /* a 2993-byte key */
    buf_deinit(&b);
}

static void
test_parse_limits_setup(void **state)
{
    struct memcache_request *req = *state;
    memcache_parse_options_st o = {MEMCACHE_PARSE_OPTION(INIT_OPTION)};
    o.memcache_line_max.val.OPTION_SIZE = 16;
    o.memcache_get_line_max.val.OPTION_SIZE = 32;
    o.memcache_item_size_max.val.OPTION_SIZE = 4;
    memcache_parse_setup(&o, &metrics);
    struct buf b;
    assert_int_equal(parse_str(req, &b, "set k 0 0 5\r\nabcde\r\n"),
            MEMCACHE_PARSE_EOVERSIZE);
    assert_int_equal(req->error, MEMCACHE_ERR_TOO_LARGE);
    assert_int_equal(req->swallow, 0);
    assert_true(buf_empty(&b));
    buf_deinit(&b);
    assert_int_equal(
            parse_str(req, &b, "set k 0 0 4\r\nabcd\r\n"), MEMCACHE_PARSE_OK);
    buf_deinit(&b);
    assert_int_equal(parse_str(req, &b, "get 0123456789 0123456789\r\n"),
            MEMCACHE_PARSE_OK);
    buf_deinit(&b);
    assert_int_equal(parse_str(req, &b, "get 0123456789 0123456789 01234\r\n"),
            MEMCACHE_PARSE_EINVALID);
    assert_int_equal(req->error, MEMCACHE_ERR_LINE_TOO_LONG);
    buf_deinit(&b);
    memcache_parse_setup(NULL, &metrics);
}

static void
test_parse_binary(void **state)
{
    struct memcache_request *req = *state;
    unsigned char wire[24] = {0x80, 0x0a};
    wire[12] = 0xde;
    wire[13] = 0xad;
    wire[14] = 0xbe;
    wire[15] = 0xef;
    struct buf b;
    buf_from(&b, (const char *)wire, sizeof(wire), sizeof(wire));
    uint64_t before = metric_counter(&metrics.memcache_parse_binary);
    assert_int_equal(memcache_parse_req(req, &b), MEMCACHE_PARSE_EBINARY);
    assert_int_equal(req->bin_opcode, 0x0a);
    assert_int_equal(req->bin_opaque, 0xdeadbeef);
    assert_int_equal(buf_rsize(&b), sizeof(wire));
    assert_int_equal(
            metric_counter(&metrics.memcache_parse_binary), before + 1);
    buf_deinit(&b);
}

/* ------------------------------------------------ values and swallowing */

/* A value larger than the caller's buffer, streamed in pieces. */
static void
test_parse_value_stream(void **state)
{
    struct memcache_request *req = *state;
    const char *line = "set big 5 0 10000\r\n";
    char value[10000];
    for (size_t i = 0; i < sizeof(value); i++) {
        value[i] = (char)('a' + i % 26);
    }
    struct buf b;
    buf_from(&b, line, strlen(line), 512);
    buf_append(&b, value, 100, BUF_MAX);
    assert_int_equal(memcache_parse_req(req, &b), MEMCACHE_PARSE_UNFIN);
    assert_int_equal(req->need, strlen(line) + sizeof(value) + 2);
    assert_int_equal(req->type, MEMCACHE_REQ_SET);
    assert_int_equal(req->flags, 5);
    assert_view(&req->key, "big");
    assert_ptr_equal(b.rpos, b.begin);
    memcache_parse_value_begin(req, &b);
    char got[10000];
    size_t have = 0, sent = 100;
    memcache_parse_e st;
    for (;;) {
        struct bstring chunk;
        st = memcache_parse_value(req, &b, &chunk);
        memcpy(got + have, chunk.data, chunk.len);
        have += chunk.len;
        if (st != MEMCACHE_PARSE_UNFIN) {
            break;
        }
        buf_lshift(&b);
        if (sent < sizeof(value)) {
            size_t step = size_min(333, sizeof(value) - sent);
            buf_append(&b, value + sent, step, BUF_MAX);
            sent += step;
        } else {
            buf_append(&b, have == sizeof(value) && buf_empty(&b) ? "\r" : "\n",
                    1, BUF_MAX);
        }
    }
    assert_int_equal(st, MEMCACHE_PARSE_OK);
    assert_int_equal(have, sizeof(value));
    assert_memory_equal(got, value, sizeof(value));
    assert_true(buf_empty(&b));
    assert_true(buf_capacity(&b) < 1024); /* never held the whole value */
    buf_deinit(&b);
}

static void
test_parse_value_stream_bad_chunk(void **state)
{
    struct memcache_request *req = *state;
    struct buf b;
    assert_int_equal(
            parse_str(req, &b, "ms k 3 T0\r\nab"), MEMCACHE_PARSE_UNFIN);
    memcache_parse_value_begin(req, &b);
    struct bstring chunk;
    assert_int_equal(
            memcache_parse_value(req, &b, &chunk), MEMCACHE_PARSE_UNFIN);
    assert_view(&chunk, "ab");
    buf_append(&b, "cXY", 3, BUF_MAX);
    assert_int_equal(
            memcache_parse_value(req, &b, &chunk), MEMCACHE_PARSE_EINVALID);
    assert_view(&chunk, "c");
    assert_int_equal(req->error, MEMCACHE_ERR_DATA_CHUNK);
    assert_true(buf_empty(&b));
    buf_deinit(&b);
}

/* An oversized value arriving after the refusal is dropped as it comes. */
static void
test_parse_oversize_swallow(void **state)
{
    struct memcache_request *req = *state;
    struct buf b;
    uint64_t before = metric_counter(&metrics.memcache_parse_oversize);
    assert_int_equal(parse_str(req, &b, "set k 0 0 1048577 noreply\r\nxyz"),
            MEMCACHE_PARSE_EOVERSIZE);
    assert_true(req->noreply);
    assert_int_equal(req->error, MEMCACHE_ERR_TOO_LARGE);
    assert_int_equal(req->swallow, 1048579 - 3);
    assert_true(buf_empty(&b));
    assert_int_equal(
            metric_counter(&metrics.memcache_parse_oversize), before + 1);
    size_t left = req->swallow;
    char junk[4096];
    memset(junk, 'j', sizeof(junk));
    while (left > 0) {
        buf_clear(&b);
        buf_append(&b, junk, size_min(sizeof(junk), left), BUF_MAX);
        left = memcache_parse_swallow(req, &b);
    }
    buf_append(&b, "mn\r\n", 4, BUF_MAX);
    assert_int_equal(memcache_parse_swallow(req, &b), 0);
    assert_int_equal(memcache_parse_req(req, &b), MEMCACHE_PARSE_OK);
    assert_int_equal(req->type, MEMCACHE_REQ_MN);
    buf_deinit(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(
                    test_parse_valid_whole, setup_req, teardown_req),
            cmocka_unit_test_setup_teardown(
                    test_parse_valid_split, setup_req, teardown_req),
            cmocka_unit_test_setup_teardown(
                    test_parse_storage_fields, setup_req, teardown_req),
            cmocka_unit_test_setup_teardown(
                    test_parse_retrieval_keys, setup_req, teardown_req),
            cmocka_unit_test_setup_teardown(
                    test_parse_number_fields, setup_req, teardown_req),
            cmocka_unit_test_setup_teardown(
                    test_parse_meta_fields, setup_req, teardown_req),
            cmocka_unit_test_setup_teardown(
                    test_parse_meta_base64, setup_req, teardown_req),
            cmocka_unit_test(test_parse_base64_decoder),
            cmocka_unit_test_setup_teardown(
                    test_parse_malformed, setup_req, teardown_req),
            cmocka_unit_test_setup_teardown(
                    test_parse_malformed_bytewise, setup_req, teardown_req),
            cmocka_unit_test_setup_teardown(
                    test_parse_nul_ends_line, setup_req, teardown_req),
            cmocka_unit_test_setup_teardown(
                    test_parse_malformed_split, setup_req, teardown_req),
            cmocka_unit_test_setup_teardown(
                    test_parse_pipeline, setup_req, teardown_req),
            cmocka_unit_test_setup_teardown(
                    test_parse_long_get, setup_req, teardown_req),
            cmocka_unit_test_setup_teardown(
                    test_parse_line_too_long, setup_req, teardown_req),
            cmocka_unit_test_setup_teardown(
                    test_parse_limits_setup, setup_req, teardown_req),
            cmocka_unit_test_setup_teardown(
                    test_parse_binary, setup_req, teardown_req),
            cmocka_unit_test_setup_teardown(
                    test_parse_value_stream, setup_req, teardown_req),
            cmocka_unit_test_setup_teardown(
                    test_parse_value_stream_bad_chunk, setup_req, teardown_req),
            cmocka_unit_test_setup_teardown(
                    test_parse_oversize_swallow, setup_req, teardown_req),
    };
    return cmocka_run_group_tests(tests, setup_group, teardown_group);
}
