/* SPDX-License-Identifier: Apache-2.0 */
/* The memcache processor driven through its read callback on in-memory
 * connections over a small store with an injected clock: classic and meta
 * commands answer memcached 1.6.18's exact bytes, a request split across
 * reads is answered once whole, a large value is streamed into the store,
 * and a multi-key get stalls at the write buffer's high mark and resumes. */
#include "unit.h"

#include "proc_harness.h"

#include "processor/memcache_internal.h"
#include "storage/seg/seg.h"

#include "base/buf.h"
#include "base/mm.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW 1700000000000ULL /* injected clock, unix ms */

static seg_metrics_st seg_metrics;
static memcache_parse_metrics_st parse_metrics;
static proc_memcache_metrics_st metrics;
static const struct proc_limits limits = {
        .rbuf_max = 4 * MiB, .wbuf_high = 1 * MiB, .wbuf_max = 64 * MiB};

static int stats_calls;
static int reset_calls;

static rstatus_i
fake_stats(struct buf *b, size_t max, const struct bstring *group)
{
    stats_calls++;
    if (group->len == 0) {
        return buf_append(b, "STAT x 1\r\n", 10, max);
    }
    return STATUS_EINVAL;
}

static void
fake_reset(void)
{
    reset_calls++;
}

static rstatus_i refresh_rc = STATUS_ENOTFOUND; /* no TLS */

static rstatus_i
fake_refresh_certs(char *err, size_t errlen)
{
    snprintf(err, errlen, "tls.cert_file: /c.pem: no start line");
    return refresh_rc;
}

static const struct memcache_stats_source source = {.stats = fake_stats,
        .reset = fake_reset,
        .refresh_certs = fake_refresh_certs};

static int
group_setup(void **state)
{
    (void)state;
    parse_metrics =
            (memcache_parse_metrics_st){MEMCACHE_PARSE_METRIC(INIT_METRIC)};
    metrics = (proc_memcache_metrics_st){PROC_MEMCACHE_METRIC(INIT_METRIC)};
    if (harness_store_setup(16 * MiB, &seg_metrics) != STATUS_OK ||
            metric_init((struct metric *)&metrics,
                    METRIC_CARDINALITY(metrics)) != STATUS_OK) {
        return -1;
    }
    memcache_parse_setup(NULL, &parse_metrics);
    proc_memcache_setup(&metrics, &source);
    return 0;
}

static int
group_teardown(void **state)
{
    (void)state;
    proc_memcache_teardown();
    memcache_parse_teardown();
    metric_deinit((struct metric *)&metrics, METRIC_CARDINALITY(metrics));
    seg_teardown();
    return 0;
}

static void
conn_open(struct conn *c, uint64_t id)
{
    harness_open(c, id, NOW);
}

static void
conn_close(struct conn *c)
{
    harness_close(&proc_memcache, c);
}

/* Appends bytes, runs the processor (resuming after stalls as the worker
 * would once wbuf is flushed); returns its status. */
static rstatus_i
feed(struct conn *c, const char *data, size_t len)
{
    return harness_feed(&proc_memcache, &limits, c, data, len);
}

static const char *
replies(struct conn *c, char *out, size_t cap)
{
    return harness_replies(c, out, cap);
}

static void
expect(struct conn *c, const char *request, const char *reply)
{
    char out[4096];
    assert_int_equal(feed(c, request, strlen(request)), STATUS_OK);
    assert_string_equal(replies(c, out, sizeof(out)), reply);
}

/* The CAS value of the one item a `gets`/`gats` reply holds. */
static uint64_t
cas_of(const char *reply)
{
    const char *nl = strstr(reply, "\r\n");
    assert_non_null(nl);
    const char *sp = nl;
    while (sp > reply && sp[-1] != ' ') {
        sp--;
    }
    return strtoull(sp, NULL, 10);
}

static void
test_set_get_gets_cas(void **state)
{
    (void)state;
    struct conn c;
    char out[4096], req[256];
    conn_open(&c, 1);
    expect(&c, "flush_all\r\n", "OK\r\n");
    expect(&c, "set k 5 0 5\r\nhello\r\nget k\r\n",
            "STORED\r\nVALUE k 5 5\r\nhello\r\nEND\r\n");
    expect(&c, "get nokey k nokey2\r\n", "VALUE k 5 5\r\nhello\r\nEND\r\n");
    assert_int_equal(feed(&c, "gets k\r\n", 8), STATUS_OK);
    replies(&c, out, sizeof(out));
    assert_memory_equal(out, "VALUE k 5 5 ", 12);
    uint64_t cas = cas_of(out);
    assert_true(cas != 0);
    snprintf(req, sizeof(req), "VALUE k 5 5 %" PRIu64 "\r\nhello\r\nEND\r\n",
            cas);
    assert_string_equal(out, req);
    /* the right token stores once; the same token again is stale */
    snprintf(req, sizeof(req), "cas k 0 0 3 %" PRIu64 "\r\nnew\r\n", cas);
    expect(&c, req, "STORED\r\n");
    expect(&c, req, "EXISTS\r\n");
    expect(&c, "cas nokey 0 0 1 1\r\nx\r\n", "NOT_FOUND\r\n");
    expect(&c, "get k\r\n", "VALUE k 0 3\r\nnew\r\nEND\r\n");
    assert_int_equal(metric_counter(&metrics.memcache_cas_hit), 1);
    assert_int_equal(metric_counter(&metrics.memcache_cas_badval), 1);
    assert_int_equal(metric_counter(&metrics.memcache_cas_miss), 1);
    conn_close(&c);
}

static void
test_add_replace_append_prepend(void **state)
{
    (void)state;
    struct conn c;
    conn_open(&c, 2);
    expect(&c, "flush_all\r\n", "OK\r\n");
    expect(&c, "replace a 0 0 1\r\nx\r\nadd a 0 0 1\r\nx\r\n",
            "NOT_STORED\r\nSTORED\r\n");
    expect(&c, "add a 0 0 1\r\ny\r\nreplace a 3 0 1\r\nz\r\n",
            "NOT_STORED\r\nSTORED\r\n");
    expect(&c, "append a 0 0 2\r\n>>\r\nprepend a 0 0 2\r\n<<\r\nget a\r\n",
            "STORED\r\nSTORED\r\nVALUE a 3 5\r\n<<z>>\r\nEND\r\n");
    expect(&c, "append none 0 0 1\r\nx\r\nprepend none 0 0 1\r\nx\r\n",
            "NOT_STORED\r\nNOT_STORED\r\n");
    conn_close(&c);
}

static void
test_incr_decr(void **state)
{
    (void)state;
    struct conn c;
    conn_open(&c, 3);
    expect(&c, "set n 0 0 2\r\n10\r\nincr n 5\r\ndecr n 3\r\ndecr n 100\r\n",
            "STORED\r\n15\r\n12\r\n0\r\n");
    /* incr wraps at 2^64; decr stops at 0 */
    expect(&c, "set n 0 0 20\r\n18446744073709551615\r\nincr n 2\r\n",
            "STORED\r\n1\r\n");
    expect(&c, "incr none 1\r\ndecr none 1\r\n", "NOT_FOUND\r\nNOT_FOUND\r\n");
    expect(&c, "set s 0 0 3\r\nabc\r\nincr s 1\r\n",
            "STORED\r\nCLIENT_ERROR cannot increment or decrement "
            "non-numeric value\r\n");
    expect(&c, "incr n abc\r\n",
            "CLIENT_ERROR invalid numeric delta argument\r\n");
    expect(&c, "incr n 1 noreply\r\nget n\r\n", "VALUE n 0 1\r\n2\r\nEND\r\n");
    conn_close(&c);
}

static void
test_delete_touch_gat(void **state)
{
    (void)state;
    struct conn c;
    char out[4096];
    conn_open(&c, 4);
    expect(&c, "set d 0 0 1\r\nv\r\ndelete d\r\ndelete d\r\nget d\r\n",
            "STORED\r\nDELETED\r\nNOT_FOUND\r\nEND\r\n");
    expect(&c, "set t 0 10 1\r\nv\r\ntouch t 100\r\ntouch none 1\r\n",
            "STORED\r\nTOUCHED\r\nNOT_FOUND\r\n");
    c.now_ms = NOW + 50 * 1000; /* past the old 10 s, within the new 100 */
    expect(&c, "get t\r\n", "VALUE t 0 1\r\nv\r\nEND\r\n");
    expect(&c, "gat 5 t none\r\n", "VALUE t 0 1\r\nv\r\nEND\r\n");
    assert_int_equal(feed(&c, "gats 5 t\r\n", 10), STATUS_OK);
    replies(&c, out, sizeof(out));
    assert_memory_equal(out, "VALUE t 0 1 ", 12);
    assert_true(cas_of(out) != 0);
    c.now_ms = NOW + 56 * 1000; /* gat's 5 s are over */
    expect(&c, "get t\r\n", "END\r\n");
    conn_close(&c);
}

static void
test_noreply_and_flush_all(void **state)
{
    (void)state;
    struct conn c;
    conn_open(&c, 5);
    expect(&c,
            "set q 0 0 1 noreply\r\na\r\nadd q 0 0 1 noreply\r\nb\r\n"
            "append q 0 0 1 noreply\r\nc\r\ndelete none noreply\r\n"
            "touch q 0 noreply\r\nget q\r\n",
            "VALUE q 0 2\r\nac\r\nEND\r\n");
    expect(&c, "flush_all noreply\r\nget q\r\n", "END\r\n");
    /* a delayed flush: items stored now are gone once the delay is over */
    expect(&c, "set f 0 0 1\r\nv\r\nflush_all 10\r\nget f\r\n",
            "STORED\r\nOK\r\nVALUE f 0 1\r\nv\r\nEND\r\n");
    c.now_ms = NOW + 11 * 1000;
    expect(&c, "get f\r\n", "END\r\n");
    c.now_ms = NOW;
    conn_close(&c);
}

static void
test_partial_request(void **state)
{
    (void)state;
    struct conn c;
    char out[64];
    conn_open(&c, 6);
    expect(&c, "set p 0 0 3\r\nabc\r\n", "STORED\r\n");
    expect(&c, "get p", "");
    expect(&c, "\r", "");
    expect(&c, "\n", "VALUE p 0 3\r\nabc\r\nEND\r\n");
    /* a storage line whole, its value not yet: nothing answered */
    expect(&c, "set p 0 0 6\r\nxyz", "");
    expect(&c, "uvw", "");
    expect(&c, "\r", "");
    assert_int_equal(feed(&c, "\nget p\r\n", 8), STATUS_OK);
    assert_string_equal(replies(&c, out, sizeof(out)),
            "STORED\r\nVALUE p 0 6\r\nxyzuvw\r\nEND\r\n");
    conn_close(&c);
}

static void
test_value_split_every_byte(void **state)
{
    (void)state;
    static const char wire[] = "set sp 7 0 10\r\n0123456789\r\nget sp\r\n";
    static const char want[] =
            "STORED\r\nVALUE sp 7 10\r\n0123456789\r\nEND\r\n";
    struct conn c;
    char out[256];
    size_t len = strlen(wire);
    for (size_t cut = 1; cut < len; cut++) {
        conn_open(&c, 7);
        assert_int_equal(feed(&c, wire, cut), STATUS_OK);
        assert_int_equal(feed(&c, wire + cut, len - cut), STATUS_OK);
        assert_string_equal(replies(&c, out, sizeof(out)), want);
        conn_close(&c);
    }
}

/* A value over 64 KiB goes into the store as it arrives, not buffered. */
static void
test_large_value_streamed(void **state)
{
    (void)state;
    const size_t vlen = 200 * KiB;
    char *value = malloc(vlen);
    assert_non_null(value);
    for (size_t i = 0; i < vlen; i++) {
        value[i] = (char)('a' + i % 26);
    }
    struct conn c;
    char head[64], out[64];
    conn_open(&c, 8);
    int n = snprintf(head, sizeof(head), "set big 1 0 %zu\r\n", vlen);
    uint64_t streams = metric_counter(&metrics.memcache_stream);
    assert_int_equal(feed(&c, head, (size_t)n), STATUS_OK);
    size_t sent = 0;
    while (sent < vlen) {
        size_t chunk = vlen - sent < 7000 ? vlen - sent : 7000;
        assert_int_equal(feed(&c, value + sent, chunk), STATUS_OK);
        sent += chunk;
        assert_int_equal(buf_rsize(&c.wbuf), 0);
        /* streamed bytes leave the read buffer as they come */
        assert_true(buf_rsize(&c.rbuf) < 64 * KiB);
    }
    assert_int_equal(metric_counter(&metrics.memcache_stream), streams + 1);
    expect(&c, "\r\n", "STORED\r\n");
    assert_int_equal(feed(&c, "get big\r\n", 9), STATUS_OK);
    n = snprintf(head, sizeof(head), "VALUE big 1 %zu\r\n", vlen);
    assert_int_equal(buf_rsize(&c.wbuf), (size_t)n + vlen + 7);
    assert_memory_equal(c.wbuf.rpos, head, (size_t)n);
    assert_memory_equal(c.wbuf.rpos + n, value, vlen);
    assert_memory_equal(c.wbuf.rpos + n + vlen, "\r\nEND\r\n", 7);
    buf_clear(&c.wbuf);
    /* a client leaving mid-value: the reservation is dropped */
    n = snprintf(head, sizeof(head), "set big2 0 0 %zu\r\n", vlen);
    assert_int_equal(feed(&c, head, (size_t)n), STATUS_OK);
    assert_int_equal(feed(&c, value, 1000), STATUS_OK);
    assert_string_equal(replies(&c, out, sizeof(out)), "");
    conn_close(&c);
    conn_open(&c, 8);
    expect(&c, "get big2\r\n", "END\r\n");
    conn_close(&c);
    free(value);
}

static void
test_bad_command_lines(void **state)
{
    (void)state;
    struct conn c;
    conn_open(&c, 9);
    expect(&c, "bogus\r\nGET a\r\n\r\nget\r\n",
            "ERROR\r\nERROR\r\nERROR\r\nERROR\r\n");
    expect(&c, "set k abc 0 1\r\n", "CLIENT_ERROR bad command line format\r\n");
    expect(&c, "delete k 5\r\n",
            "CLIENT_ERROR bad command line format.  "
            "Usage: delete <key> [noreply]\r\n");
    expect(&c, "touch k abc\r\n", "CLIENT_ERROR invalid exptime argument\r\n");
    /* a bad data end: the old value stays */
    expect(&c, "set bd 0 0 1\r\no\r\nset bd 0 0 3\r\nnewxx\r\nget bd\r\n",
            "STORED\r\nCLIENT_ERROR bad data chunk\r\nERROR\r\n"
            "VALUE bd 0 1\r\no\r\nEND\r\n");
    expect(&c, "version\r\n",
            "VERSION 1.6.18-segcached-" SEGCACHED_VERSION "\r\n");
    expect(&c, "shutdown\r\n", "ERROR: shutdown not enabled\r\n");
    assert_false(c.flags & CONN_CLOSE);
    expect(&c, "quit\r\nget k\r\n", "");
    assert_true(c.flags & CONN_CLOSE);
    conn_close(&c);
}

static void
test_line_too_long_closes(void **state)
{
    (void)state;
    struct conn c;
    char line[3000];
    memset(line, 'a', sizeof(line));
    conn_open(&c, 10);
    assert_int_equal(feed(&c, line, sizeof(line)), STATUS_OK);
    char out[128];
    assert_string_equal(
            replies(&c, out, sizeof(out)), "CLIENT_ERROR line too long\r\n");
    assert_true(c.flags & CONN_CLOSE);
    conn_close(&c);
}

static void
test_stats_source(void **state)
{
    (void)state;
    struct conn c;
    conn_open(&c, 11);
    int calls = stats_calls;
    expect(&c, "stats\r\n", "STAT x 1\r\nEND\r\n");
    assert_int_equal(stats_calls, calls + 1);
    expect(&c, "stats nosuch\r\n", "ERROR\r\n");
    expect(&c, "stats reset\r\n", "RESET\r\n");
    assert_int_equal(reset_calls, 1);
    expect(&c, "stats detail on\r\nstats detail dump\r\n", "OK\r\nEND\r\n");
    /* refresh_certs: without TLS as Debian's memcached (built with TLS),
     * noreply or not; a reload refused says why */
    expect(&c, "refresh_certs\r\nrefresh_certs noreply\r\n",
            "Error TLS not enabled\r\nError TLS not enabled\r\n");
    refresh_rc = STATUS_OK;
    expect(&c, "refresh_certs\r\nrefresh_certs noreply\r\n", "OK\r\n");
    refresh_rc = STATUS_EINVAL;
    expect(&c, "refresh_certs\r\n",
            "SERVER_ERROR failed to refresh certs: tls.cert_file: /c.pem: no "
            "start line\r\n");
    refresh_rc = STATUS_ENOTFOUND;
    conn_close(&c);
}

static void
test_meta_commands(void **state)
{
    (void)state;
    struct conn c;
    conn_open(&c, 12);
    expect(&c, "ms mk 2 T0 F5\r\nhi\r\n", "HD\r\n");
    expect(&c, "mg mk v f s k Oab\r\n", "VA 2 f5 s2 kmk Oab\r\nhi\r\n");
    expect(&c, "mg mk\r\nmg none v\r\n", "HD\r\nEN\r\n");
    /* quiet mode: misses and HD held back; mn marks the end */
    expect(&c, "mg none v q\r\nmg mk v q\r\nms mk 1 q\r\nx\r\nmn\r\n",
            "VA 2\r\nhi\r\nMN\r\n");
    expect(&c, "mg mk v\r\n", "VA 1\r\nx\r\n");
    /* base64 keys: "Zm9v" is "foo" */
    expect(&c, "ms Zm9v 3 b\r\nbar\r\nget foo\r\nmg Zm9v b k v\r\n",
            "HD\r\nVALUE foo 0 3\r\nbar\r\nEND\r\nVA 3 kZm9v b\r\nbar\r\n");
    expect(&c, "md mk\r\nmd mk\r\nmd foo q\r\nmn\r\n", "HD\r\nNF\r\nMN\r\n");
    /* arithmetic: a miss, a vivify with an initial value, a decrement */
    expect(&c, "ma n\r\nma n N0 J5 v\r\nma n v\r\nma n MD D2 v\r\n",
            "NF\r\nVA 1\r\n5\r\nVA 1\r\n6\r\nVA 1\r\n4\r\n");
    expect(&c, "mg mk zz\r\n", "CLIENT_ERROR invalid flag\r\n");
    assert_true(metric_counter(&metrics.memcache_meta) >= 10);
    conn_close(&c);
}

/* A get of many keys stops at wbuf_high with CONN_STALLED set and resumes
 * where it stopped once the worker has flushed. */
static void
test_backpressure_get(void **state)
{
    (void)state;
    const struct proc_limits small = {
            .rbuf_max = 4 * MiB, .wbuf_high = 4096, .wbuf_max = 64 * MiB};
    char value[1000];
    char line[64];
    struct conn c;
    conn_open(&c, 13);
    memset(value, 'v', sizeof(value));
    for (int i = 0; i < 20; i++) {
        int n = snprintf(line, sizeof(line), "set bp%d 0 0 1000\r\n", i);
        assert_int_equal(feed(&c, line, (size_t)n), STATUS_OK);
        assert_int_equal(feed(&c, value, sizeof(value)), STATUS_OK);
        assert_int_equal(feed(&c, "\r\n", 2), STATUS_OK);
    }
    buf_clear(&c.wbuf);
    char req[512] = "get";
    for (int i = 0; i < 20; i++) {
        snprintf(line, sizeof(line), " bp%d", i);
        strcat(req, line);
    }
    strcat(req, "\r\nmn\r\n");
    assert_int_equal(buf_append(&c.rbuf, req, strlen(req), MiB), STATUS_OK);
    static char all[64 * 1024];
    size_t total = 0;
    int stalls = 0;
    for (;;) {
        c.flags &= ~CONN_STALLED;
        assert_int_equal(proc_memcache.read(&c, &small), STATUS_OK);
        size_t n = buf_rsize(&c.wbuf);
        assert_true(total + n <= sizeof(all));
        memcpy(all + total, c.wbuf.rpos, n);
        total += n;
        buf_clear(&c.wbuf); /* the worker flushed */
        if (!(c.flags & CONN_STALLED)) {
            break;
        }
        stalls++;
        /* stopped just past the high mark, the rest unread */
        assert_true(n > small.wbuf_high);
        assert_true(n < small.wbuf_high + 2 * 1024);
        assert_true(buf_rsize(&c.rbuf) > 0);
        assert_true(stalls < 20);
    }
    assert_true(stalls >= 3);
    /* every key exactly once and in order, then END, then mn's reply */
    size_t pos = 0;
    for (int i = 0; i < 20; i++) {
        int n = snprintf(line, sizeof(line), "VALUE bp%d 0 1000\r\n", i);
        assert_memory_equal(all + pos, line, (size_t)n);
        pos += (size_t)n;
        assert_memory_equal(all + pos, value, sizeof(value));
        pos += sizeof(value);
        assert_memory_equal(all + pos, "\r\n", 2);
        pos += 2;
    }
    assert_int_equal(total, pos + 9);
    assert_memory_equal(all + pos, "END\r\nMN\r\n", 9);
    assert_int_equal(buf_rsize(&c.rbuf), 0);
    conn_close(&c);
}

/* lru_crawler metadump and stats cachedump list every item once; a dump
 * past wbuf_high pauses and resumes from its cursor. */
static void
test_key_dumps(void **state)
{
    (void)state;
    const struct proc_limits small = {
            .rbuf_max = 4 * MiB, .wbuf_high = 2048, .wbuf_max = 64 * MiB};
    struct conn c;
    conn_open(&c, 14);
    expect(&c, "flush_all\r\n", "OK\r\n");
    char line[64];
    enum {
        N = 300
    };
    for (int i = 0; i < N; i++) {
        int n = snprintf(line, sizeof(line), "set dump:%03d 0 %d 1\r\nx\r\n", i,
                i == 7 ? 100 : 0);
        assert_int_equal(feed(&c, line, (size_t)n), STATUS_OK);
    }
    buf_clear(&c.wbuf);
    expect(&c, "get dump:003\r\n", "VALUE dump:003 0 1\r\nx\r\nEND\r\n");
    static char all[256 * 1024];
    static const char *reqs[] = {"lru_crawler metadump all\r\nmn\r\n",
            "stats cachedump 1 0\r\nmn\r\n"};
    for (size_t r = 0; r < 2; r++) {
        assert_int_equal(
                buf_append(&c.rbuf, reqs[r], strlen(reqs[r]), MiB), STATUS_OK);
        size_t total = 0;
        int stalls = 0;
        for (;;) {
            c.flags &= ~CONN_STALLED;
            assert_int_equal(proc_memcache.read(&c, &small), STATUS_OK);
            size_t n = buf_rsize(&c.wbuf);
            assert_true(total + n < sizeof(all));
            memcpy(all + total, c.wbuf.rpos, n);
            total += n;
            buf_clear(&c.wbuf);
            if (!(c.flags & CONN_STALLED)) {
                break;
            }
            stalls++;
            assert_true(stalls < 100);
        }
        all[total] = '\0';
        buf_lshift(&c.rbuf);
        assert_true(stalls >= 3);
        assert_int_equal(buf_rsize(&c.rbuf), 0);
        assert_non_null(strstr(all, "END\r\nMN\r\n"));
        /* every key exactly once */
        for (int i = 0; i < N; i++) {
            char needle[48];
            snprintf(needle, sizeof(needle),
                    r == 0 ? "key=dump%%3A%03d " : "ITEM dump:%03d ", i);
            const char *at = strstr(all, needle);
            assert_non_null(at);
            assert_null(strstr(at + 1, needle));
        }
        if (r == 0) {
            assert_non_null(strstr(all, "key=dump%3A003 exp=-1 la="));
            /* dump:003 was read; size is its footprint in the store:
             * key and value (9 bytes), a header and an 8-byte hash slot */
            const char *l3 = strstr(all, "key=dump%3A003 ");
            const char *f3 = strstr(l3, " fetch=yes cls=1 size=");
            assert_non_null(f3);
            assert_true(f3 < strchr(l3, '\n'));
            unsigned long size = strtoul(f3 + 22, NULL, 10);
            assert_true(size > 9 + 8 && size < 9 + 8 + 64);
            char exp7[64];
            snprintf(exp7, sizeof(exp7), "key=dump%%3A007 exp=%llu ",
                    (unsigned long long)(NOW / 1000 + 100));
            assert_non_null(strstr(all, exp7));
        } else {
            assert_non_null(strstr(all, "ITEM dump:003 [1 b; 0 s]\r\n"));
        }
    }
    /* a limit, and the classes segcached leaves empty */
    assert_int_equal(feed(&c, "stats cachedump 1 5\r\n", 21), STATUS_OK);
    const char *five = replies(&c, all, sizeof(all));
    int items = 0;
    for (const char *p = five; (p = strstr(p, "ITEM ")) != NULL; p++) {
        items++;
    }
    assert_int_equal(items, 5);
    expect(&c, "stats cachedump 2 0\r\n", "END\r\n");
    expect(&c, "lru_crawler metadump 2,3\r\n", "END\r\n");
    expect(&c, "lru_crawler metadump 0\r\n", "BADCLASS invalid class id\r\n");
    expect(&c, "lru_crawler crawl all\r\n", "OK\r\n");
    conn_close(&c);
}

/* ---- the binary protocol (memcache_binary.c) ---- */

static size_t
bin_req(char *out, uint8_t op, const char *key, const void *extras, uint8_t xl,
        const char *value, size_t vlen, uint32_t opaque)
{
    struct memcache_bin_request r = {.opcode = op,
            .extlen = xl,
            .opaque = opaque,
            .key = bstring_of(key, key != NULL ? strlen(key) : 0),
            .value = bstring_of(value, vlen)};
    if (xl == 8) {
        memcpy(&r.flags, extras, 4); /* host order: composed big-endian */
        r.exptime = 0;
    } else if (xl == 20) {
        memcpy(&r.delta, extras, 8);
        memcpy(&r.initial, (const char *)extras + 8, 8);
        memcpy(&r.exptime, (const char *)extras + 16, 4);
    }
    struct buf b;
    assert_int_equal(buf_init(&b, 64), STATUS_OK);
    assert_int_equal(memcache_bin_compose_req(&b, &r, MiB), STATUS_OK);
    size_t n = buf_rsize(&b);
    memcpy(out, b.rpos, n);
    buf_deinit(&b);
    return n;
}

/* The responses in wbuf, parsed (they are request-shaped but for magic
 * and status); cleared from wbuf. Returns how many. */
static size_t
bin_rsps(struct conn *c, uint16_t *status, uint32_t *opaque, size_t cap)
{
    size_t n = 0;
    while (buf_rsize(&c->wbuf) >= 24) {
        const unsigned char *h = (const unsigned char *)c->wbuf.rpos;
        assert_int_equal(h[0], 0x81);
        uint32_t body = (uint32_t)h[8] << 24 | (uint32_t)h[9] << 16 |
                        (uint32_t)h[10] << 8 | h[11];
        assert_true(buf_rsize(&c->wbuf) >= 24 + body);
        assert_true(n < cap);
        status[n] = (uint16_t)(h[6] << 8 | h[7]);
        opaque[n] = (uint32_t)h[12] << 24 | (uint32_t)h[13] << 16 |
                    (uint32_t)h[14] << 8 | h[15];
        n++;
        c->wbuf.rpos += 24 + body;
    }
    assert_int_equal(buf_rsize(&c->wbuf), 0);
    buf_clear(&c->wbuf);
    return n;
}

static void
test_binary_protocol(void **state)
{
    (void)state;
    static char w[8192];
    uint32_t flags = 0;
    uint64_t arith[3] = {0};
    size_t n = 0;
    n += bin_req(w + n, MEMCACHE_BIN_FLUSH, NULL, NULL, 0, NULL, 0, 1);
    n += bin_req(w + n, MEMCACHE_BIN_SETQ, "bk", &flags, 8, "12", 2, 2);
    n += bin_req(w + n, MEMCACHE_BIN_GETQ, "none", NULL, 0, NULL, 0, 3);
    n += bin_req(w + n, MEMCACHE_BIN_GETK, "bk", NULL, 0, NULL, 0, 4);
    arith[0] = 3;
    n += bin_req(w + n, MEMCACHE_BIN_INCREMENT, "bk", arith, 20, NULL, 0, 5);
    n += bin_req(w + n, MEMCACHE_BIN_ADDQ, "bk", &flags, 8, "x", 1, 6);
    n += bin_req(w + n, MEMCACHE_BIN_DELETE, "none", NULL, 0, NULL, 0, 7);
    n += bin_req(w + n, MEMCACHE_BIN_STAT, NULL, NULL, 0, NULL, 0, 8);
    n += bin_req(w + n, MEMCACHE_BIN_NOOP, NULL, NULL, 0, NULL, 0, 9);
    uint64_t gets = metric_counter(&metrics.memcache_get_key);
    /* whole, then split at every byte: the same responses */
    for (size_t step = 0; step < 2; step++) {
        struct conn c;
        conn_open(&c, 40 + step);
        if (step == 0) {
            assert_int_equal(feed(&c, w, n), STATUS_OK);
        } else {
            for (size_t i = 0; i < n; i++) {
                assert_int_equal(feed(&c, w + i, 1), STATUS_OK);
            }
        }
        uint16_t st[16];
        uint32_t op[16];
        size_t k = bin_rsps(&c, st, op, 16);
        /* flush, getk, incr, addq's error, delete's error, 2 stat, noop */
        assert_int_equal(k, 8);
        static const uint32_t opaques[] = {1, 4, 5, 6, 7, 8, 8, 9};
        static const uint16_t statuses[] = {0, 0, 0, 2, 1, 0, 0, 0};
        for (size_t i = 0; i < k; i++) {
            assert_int_equal(op[i], opaques[i]);
            assert_int_equal(st[i], statuses[i]);
        }
        assert_false(c.flags & CONN_CLOSE);
        /* a bad magic closes without a reply */
        char bad[24] = {(char)0x81};
        assert_int_equal(feed(&c, bad, sizeof(bad)), STATUS_OK);
        assert_true(c.flags & CONN_CLOSE);
        assert_int_equal(buf_rsize(&c.wbuf), 0);
        conn_close(&c);
    }
    /* binary gets counted with the text ones */
    assert_int_equal(metric_counter(&metrics.memcache_get_key) - gets, 4);
}

static void
test_binary_backpressure(void **state)
{
    (void)state;
    static char value[200 * 1024];
    static char w[256 * 1024]; /* the SET and its 200 KiB value */
    memset(value, 'v', sizeof(value));
    uint32_t flags = 0;
    struct conn c;
    conn_open(&c, 50);
    size_t n = bin_req(
            w, MEMCACHE_BIN_SET, "big", &flags, 8, value, sizeof(value), 1);
    assert_int_equal(feed(&c, w, n), STATUS_OK);
    uint16_t st[64];
    uint32_t op[64];
    assert_int_equal(bin_rsps(&c, st, op, 64), 1);
    assert_int_equal(st[0], 0);
    n = 0;
    for (uint32_t i = 0; i < 40; i++) {
        n += bin_req(w + n, MEMCACHE_BIN_GET, "big", NULL, 0, NULL, 0, i);
    }
    assert_int_equal(buf_append(&c.rbuf, w, n, 16 * MiB), STATUS_OK);
    assert_int_equal(proc_memcache.read(&c, &limits), STATUS_OK);
    /* stopped once wbuf passed its high mark, the rest still unread */
    assert_true(c.flags & CONN_STALLED);
    assert_true(buf_rsize(&c.wbuf) <= limits.wbuf_high + 2 * sizeof(value));
    assert_true(buf_rsize(&c.rbuf) > 0);
    size_t total = 0;
    while (c.flags & CONN_STALLED) { /* the worker flushed wbuf */
        c.flags &= ~CONN_STALLED;
        total += bin_rsps(&c, st + total, op + total, 64 - total);
        assert_int_equal(proc_memcache.read(&c, &limits), STATUS_OK);
    }
    total += bin_rsps(&c, st + total, op + total, 64 - total);
    assert_int_equal(total, 40);
    assert_int_equal(buf_rsize(&c.rbuf), 0);
    for (uint32_t i = 0; i < 40; i++) {
        assert_int_equal(op[i], i);
        assert_int_equal(st[i], 0);
    }
    conn_close(&c);
}

/* Issue 23: a line that looks like HTTP is hung up on, the replies of
 * the same read dropped, as memcached does; others still answer ERROR. */
static void
test_issue_23_http_hangup(void **state)
{
    (void)state;
    struct conn c;
    conn_open(&c, 2301);
    static const char req[] = "version\r\nGET / HTTP/1.0\r\nversion\r\n";
    assert_int_not_equal(feed(&c, req, sizeof(req) - 1), STATUS_OK);
    assert_int_equal(buf_rsize(&c.wbuf), 0);
    conn_close(&c);
    conn_open(&c, 2302);
    expect(&c, "gx / HTTP/1.0\r\nmx HTTP/1.1\r\nx HTTP/1.1\r\n",
            "ERROR\r\nERROR\r\nERROR\r\n");
    conn_close(&c);
}

/* Issue 23: admin commands' arguments checked as memcached 1.6.18 does. */
static void
test_issue_23_admin_arguments(void **state)
{
    (void)state;
    struct conn c;
    conn_open(&c, 2303);
    expect(&c,
            "slabs automove junk\r\nslabs automove 3\r\n"
            "slabs automove 2\r\nslabs automove junk noreply\r\n"
            "slabs reassign 1 1\r\nslabs reassign 1 7\r\n"
            "slabs reassign 1 0\r\nslabs\r\n",
            "CLIENT_ERROR bad command line format\r\nERROR\r\nOK\r\n"
            "SAME src and dst class are identical\r\n"
            "BADCLASS invalid src or dst class id\r\n"
            "NOSPARE source class has no spare pages\r\nERROR\r\n");
    expect(&c, "verbosity junk\r\nverbosity 9\r\n",
            "CLIENT_ERROR bad command line format\r\nOK\r\n");
    assert_int_equal(proc_memcache_verbosity(), 2);
    expect(&c, "verbosity 0\r\n", "OK\r\n");
    expect(&c, "lru tune 50 50 1 1\r\nlru mode flat\r\nlru tune 1 1 1 1\r\n",
            "ERROR hot and warm pcts must not exceed 80\r\nERROR\r\nOK\r\n");
    expect(&c, "lru_crawler sleep 2000000\r\nlru_crawler crawl 0\r\n",
            "CLIENT_ERROR sleep must be one second or less\r\n"
            "BADCLASS invalid class id\r\n");
    expect(&c, "cache_memlimit 4\r\n",
            "MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m\r\n");
    expect(&c, "watch nosuch\r\n", "ERROR\r\n");
    expect(&c, "watch fetchers noreply\r\n", "");
    expect(&c, "mn\r\nwatch\r\n",
            "MN\r\nERROR cannot pipeline other commands before watch\r\n");
    conn_close(&c);
}

/* Drops each line's "ts=<s>.<us> gid=<n> " in place; returns text. */
static char *
unstamp(char *text)
{
    char *in = text, *out = text;
    while (*in != '\0') {
        if (strncmp(in, "ts=", 3) == 0) {
            char *gid = strstr(in, " gid=");
            assert_non_null(gid);
            in = strchr(gid + 1, ' ');
            assert_non_null(in);
            in++;
        }
        char *nl = strchr(in, '\n');
        size_t n = nl != NULL ? (size_t)(nl - in + 1) : strlen(in);
        memmove(out, in, n);
        out += n;
        in += n;
    }
    *out = '\0';
    return text;
}

/* Issue 19: watch streams memcached's lines for the kinds asked (with no
 * argument: fetchers); the watcher's own input is dropped; a watcher
 * whose output passes 256 KiB loses lines and then reads skipped=N; a
 * closed watcher gets nothing more. */
static void
test_issue_19_watch(void **state)
{
    (void)state;
    struct conn w, f, c;
    char out[8192];
    conn_open(&w, 1901);
    conn_open(&f, 1902);
    conn_open(&c, 1903);
    expect(&f, "watch\r\n", "OK\r\n");
    expect(&w, "watch mutations fetchers connevents\r\n", "OK\r\n");
    expect(&w, "get x\r\n", ""); /* a watcher only listens */
    expect(&c,
            "set wk 0 0 2\r\nhi\r\nget wk w%\r\nadd wk 0 100 1\r\nx\r\n"
            "cas wk 0 0 1 1\r\ny\r\ntouch wk 10\r\ndelete wk\r\n"
            "incr wk 1\r\nmg wk v\r\nms wk 3 T0\r\nabc\r\n",
            "STORED\r\nVALUE wk 0 2\r\nhi\r\nEND\r\nNOT_STORED\r\n"
            "EXISTS\r\nTOUCHED\r\nDELETED\r\nNOT_FOUND\r\nEN\r\nHD\r\n");
    const char *fetches =
            "type=item_get key=wk status=found clsid=0 cfd=-1 size=2\n"
            "type=item_get key=w%25 status=not_found clsid=0 cfd=-1 size=0\n"
            "type=item_get key=wk status=found clsid=0 cfd=-1 size=2\n"
            "type=item_get key=wk status=found clsid=0 cfd=-1 size=0\n"
            "type=item_get key=wk status=not_found clsid=0 cfd=-1 size=0\n"
            "type=item_get key=wk status=not_found clsid=0 cfd=-1 size=0\n";
    assert_string_equal(
            unstamp((char *)replies(&f, out, sizeof(out))), fetches);
    assert_string_equal(unstamp((char *)replies(&w, out, sizeof(out))),
            "type=conn_new rip=127.0.0.1 rport=2903 transport=tcp cfd=-1\n"
            "type=item_store key=wk status=stored cmd=set ttl=0 clsid=0 "
            "cfd=-1 size=2\n"
            "type=item_get key=wk status=found clsid=0 cfd=-1 size=2\n"
            "type=item_get key=w%25 status=not_found clsid=0 cfd=-1 size=0\n"
            "type=item_store key=wk status=not_stored cmd=add ttl=100 "
            "clsid=0 cfd=-1 size=1\n"
            "type=item_store key=wk status=exists cmd=cas ttl=0 clsid=0 "
            "cfd=-1 size=1\n"
            "type=item_get key=wk status=found clsid=0 cfd=-1 size=2\n"
            "type=item_get key=wk status=found clsid=0 cfd=-1 size=0\n"
            "type=item_get key=wk status=not_found clsid=0 cfd=-1 size=0\n"
            "type=item_get key=wk status=not_found clsid=0 cfd=-1 size=0\n"
            "type=item_store key=wk status=stored cmd=set ttl=0 clsid=0 "
            "cfd=-1 size=3\n");
    /* the fetcher watcher falls behind: 256 KiB of lines, then skips */
    uint64_t skip0 = metrics.memcache_watch_skip.counter;
    for (int i = 0; i < 4000; i++) {
        expect(&c, "get a-key-long-enough-to-fill-the-buffer\r\n", "END\r\n");
    }
    /* both watch fetchers, from empty buffers: each lost the same */
    uint64_t skipped = metrics.memcache_watch_skip.counter - skip0;
    assert_true(skipped % 2 == 0);
    skipped /= 2;
    assert_true(skipped > 0 && skipped < 4000);
    buf_clear(&f.wbuf);
    buf_clear(&w.wbuf);
    expect(&c, "get z\r\n", "END\r\n");
    snprintf(out, sizeof(out),
            "skipped=%" PRIu64
            "\ntype=item_get key=z status=not_found clsid=0 cfd=-1 size=0\n",
            skipped);
    char got[512];
    assert_string_equal(unstamp((char *)replies(&f, got, sizeof(got))), out);
    conn_close(&f);
    conn_close(&c); /* w sees both go */
    snprintf(out, sizeof(out),
            "skipped=%" PRIu64
            "\ntype=item_get key=z status=not_found clsid=0 cfd=-1 size=0\n"
            "type=conn_close rip=127.0.0.1 rport=2902 transport=tcp "
            "reason=normal cfd=-1\n"
            "type=conn_close rip=127.0.0.1 rport=2903 transport=tcp "
            "reason=normal cfd=-1\n",
            skipped);
    char all[1024];
    assert_string_equal(unstamp((char *)replies(&w, all, sizeof(all))), out);
    conn_close(&w);
    assert_int_equal(mc_watch_nwatcher, 0);
    conn_open(&c, 1904); /* no watcher left to write to */
    expect(&c, "get zz\r\n", "END\r\n");
    conn_close(&c);
}

/* Issue 19: watch's line formats, byte for byte as memcached 1.6.18's
 * logger prints them (the microseconds unpadded, as memcached's). */
static void
test_issue_19_watch_formats(void **state)
{
    (void)state;
    char out[MC_WATCH_LINE_MAX];
    struct mc_watch_stamp ts = {.sec = 1796605003, .usec = 866, .gid = 15};
    size_t n = mc_watch_fmt_get(out, &ts, "a", 1, true, 26, 2);
    assert_int_equal(n, strlen(out));
    assert_string_equal(out, "ts=1796605003.866 gid=15 type=item_get key=a "
                             "status=found clsid=0 cfd=26 size=2\n");
    mc_watch_fmt_store(out, &ts, "s\"p", 3, MC_WATCH_STORED, "set", 0, 26, 1);
    assert_string_equal(out, "ts=1796605003.866 gid=15 type=item_store "
                             "key=s%22p status=stored cmd=set ttl=0 clsid=0 "
                             "cfd=26 size=1\n");
    mc_watch_fmt_store(out, &ts, "k", 1, MC_WATCH_NO_MEMORY, "cas", 5, 3, 9);
    assert_non_null(strstr(out, " status=no_memory cmd=cas ttl=5 "));
    /* memcached 1.6.18's eviction line (seen from a real one: "ts=...
     * gid=2 type=eviction key=evk%3A0 fetch=no ttl=100 la=0 clsid=12
     * size=1000"); every item is in class 1 here */
    n = mc_watch_fmt_evict(out, &ts, "ev:0", 4, true, 998, 61, 4000);
    assert_int_equal(n, strlen(out));
    assert_string_equal(out, "ts=1796605003.866 gid=15 type=eviction "
                             "key=ev%3A0 fetch=yes ttl=998 la=61 clsid=1 "
                             "size=4000\n");
    mc_watch_fmt_evict(out, &ts, "k", 1, false, -1, 0, 0);
    assert_non_null(strstr(out, " fetch=no ttl=-1 la=0 clsid=1 size=0\n"));
    mc_watch_fmt_conn(out, &ts, "127.0.0.1:35600", true, NULL, 25);
    assert_string_equal(out, "ts=1796605003.866 gid=15 type=conn_new "
                             "rip=127.0.0.1 rport=35600 transport=tcp "
                             "cfd=25\n");
    mc_watch_fmt_conn(out, &ts, "[::1]:5", false, "normal", 7);
    assert_string_equal(out, "ts=1796605003.866 gid=15 type=conn_close "
                             "rip=::1 rport=5 transport=tcp reason=normal "
                             "cfd=7\n");
    mc_watch_fmt_conn(out, &ts, "unix:/tmp/s", true, NULL, 8);
    assert_non_null(strstr(out, " rip=unix rport=0 transport=local cfd=8\n"));
    assert_int_equal(mc_watch_fmt_skipped(out, 42), 11);
    assert_string_equal(out, "skipped=42\n");
    /* every byte but letters, digits and -._~ as %XX; the longest key */
    char key[MEMCACHE_KEY_MAXLEN], enc[3 * MEMCACHE_KEY_MAXLEN];
    memset(key, 0xff, sizeof(key));
    assert_int_equal(mc_watch_uriencode(enc, "aZ09-._~ %\x7f", 11),
            strlen("aZ09-._~%20%25%7F"));
    assert_memory_equal(enc, "aZ09-._~%20%25%7F", 17);
    n = mc_watch_fmt_get(out, &ts, key, sizeof(key), false, 1, 0);
    assert_true(n < MC_WATCH_LINE_MAX);
    assert_non_null(strstr(out, "key=%FF%FF"));
}

/* Issue 23: stats detail counts per prefix (memcached's example). */
static void
test_issue_23_stats_detail(void **state)
{
    (void)state;
    struct conn c;
    conn_open(&c, 2304);
    expect(&c,
            "stats reset\r\nstats detail on\r\nset foo:123 0 0 1\r\na\r\n"
            "stats detail dump\r\n",
            "RESET\r\nOK\r\nSTORED\r\n"
            "PREFIX foo get 0 hit 0 set 1 del 0\r\nEND\r\n");
    expect(&c,
            "get foo:123 foo:x nodelim\r\ndelete foo:123\r\n"
            "stats detail dump\r\n",
            "VALUE foo:123 0 1\r\na\r\nEND\r\nDELETED\r\n"
            "PREFIX foo get 2 hit 1 set 1 del 1\r\nEND\r\n");
    assert_true(proc_memcache_detail_enabled());
    expect(&c,
            "stats detail off\r\nset foo:1 0 0 1\r\na\r\n"
            "stats detail dump\r\n",
            "OK\r\nSTORED\r\nPREFIX foo get 2 hit 1 set 1 del 1\r\nEND\r\n");
    expect(&c, "stats reset\r\nstats detail dump\r\n", "RESET\r\nEND\r\n");
    conn_close(&c);
}

/* Issue 23: ms with I and an older CAS stores the value stale (HD); the
 * next mg wins the recache token (X W), the one after sees Z. */
static void
test_issue_23_meta_set_invalidate(void **state)
{
    (void)state;
    struct conn c;
    char out[512], req[128];
    conn_open(&c, 2305);
    expect(&c, "ms inv 1 T100\r\na\r\nms inv 1 T100\r\nb\r\n", "HD\r\nHD\r\n");
    assert_int_equal(feed(&c, "gets inv\r\n", 10), STATUS_OK);
    uint64_t cas = cas_of(replies(&c, out, sizeof(out)));
    snprintf(req, sizeof(req), "ms inv 1 I C%" PRIu64 "\r\nc\r\n", cas - 1);
    expect(&c, req, "HD\r\n");
    expect(&c, "mg inv v t\r\nmg inv v\r\n",
            "VA 1 t100 X W\r\nc\r\nVA 1 Z X\r\nc\r\n");
    assert_int_equal(feed(&c, "gets inv\r\n", 10), STATUS_OK);
    cas = cas_of(replies(&c, out, sizeof(out)));
    snprintf(req, sizeof(req), "ms inv 1 I C%" PRIu64 "\r\nd\r\n", cas + 9);
    expect(&c, req, "EX\r\n");
    snprintf(req, sizeof(req), "ms inv 1 I C%" PRIu64 "\r\ne\r\n", cas);
    expect(&c, req, "HD\r\n");
    expect(&c, "mg inv v\r\n", "VA 1\r\ne\r\n");
    expect(&c, "ms inv2 1 I C1 ME\r\nf\r\n", "HD\r\n");
    conn_close(&c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_set_get_gets_cas),
            cmocka_unit_test(test_add_replace_append_prepend),
            cmocka_unit_test(test_incr_decr),
            cmocka_unit_test(test_delete_touch_gat),
            cmocka_unit_test(test_noreply_and_flush_all),
            cmocka_unit_test(test_partial_request),
            cmocka_unit_test(test_value_split_every_byte),
            cmocka_unit_test(test_large_value_streamed),
            cmocka_unit_test(test_bad_command_lines),
            cmocka_unit_test(test_line_too_long_closes),
            cmocka_unit_test(test_stats_source),
            cmocka_unit_test(test_meta_commands),
            cmocka_unit_test(test_key_dumps),
            cmocka_unit_test(test_backpressure_get),
            cmocka_unit_test(test_binary_protocol),
            cmocka_unit_test(test_binary_backpressure),
            cmocka_unit_test(test_issue_23_http_hangup),
            cmocka_unit_test(test_issue_23_admin_arguments),
            cmocka_unit_test(test_issue_23_stats_detail),
            cmocka_unit_test(test_issue_23_meta_set_invalidate),
            cmocka_unit_test(test_issue_19_watch),
            cmocka_unit_test(test_issue_19_watch_formats),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
