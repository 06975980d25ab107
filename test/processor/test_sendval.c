/* SPDX-License-Identifier: Apache-2.0 */
/* A large value sent from its parts in pieces (processor/sendval.h),
 * through the resp processor's GET on an in-memory connection whose write
 * buffer is drained between runs as a worker's socket would drain it: the
 * reply is the value whole, the write buffer never holds much more than
 * wbuf_high, a request pipelined after the GET is answered after it, and a
 * value overwritten between two slices closes the connection (counted)
 * instead of sending half of each. */
#include "unit.h"

#include "proc_harness.h"

#include "processor/resp_internal.h"
#include "processor/sendval.h"
#include "storage/seg/seg.h"

#include "base/buf.h"

#include <stdlib.h>
#include <string.h>

#define NOW 1700000000000ULL

static seg_metrics_st seg_metrics;
static proc_resp_metrics_st metrics;
/* a small high mark: the value goes out in many slices */
static const struct proc_limits limits = {
        .rbuf_max = 16 * MiB, .wbuf_high = 64 * KiB, .wbuf_max = 2 * MiB};

static int
group_setup(void **state)
{
    (void)state;
    metrics = (proc_resp_metrics_st){PROC_RESP_METRIC(INIT_METRIC)};
    if (harness_store_setup(64 * MiB, &seg_metrics) != STATUS_OK ||
            metric_init((struct metric *)&metrics,
                    METRIC_CARDINALITY(metrics)) != STATUS_OK) {
        return -1;
    }
    resp_setup(NULL, NULL);
    return proc_resp_setup(NULL, &metrics, NULL) == STATUS_OK ? 0 : -1;
}

static int
group_teardown(void **state)
{
    (void)state;
    proc_resp_teardown();
    resp_teardown();
    metric_deinit((struct metric *)&metrics, METRIC_CARDINALITY(metrics));
    seg_teardown();
    return 0;
}

/* The bytes of a command of two or three arguments. */
static char *
command(const char *verb, const char *key, const char *val, size_t vlen,
        size_t *len)
{
    char *b = malloc(vlen + 128);
    assert_non_null(b);
    size_t n = (size_t)sprintf(b, "*%d\r\n$%zu\r\n%s\r\n$%zu\r\n%s\r\n",
            val != NULL ? 3 : 2, strlen(verb), verb, strlen(key), key);
    if (val != NULL) {
        n += (size_t)sprintf(b + n, "$%zu\r\n", vlen);
        memcpy(b + n, val, vlen);
        n += vlen;
        memcpy(b + n, "\r\n", 2);
        n += 2;
    }
    *len = n;
    return b;
}

/* Runs the processor once and moves what it wrote into out (the socket
 * drained); *most the largest the write buffer held. */
static rstatus_i
run_once(struct conn *c, struct buf *out, size_t *most)
{
    c->flags &= ~CONN_STALLED;
    rstatus_i rc = proc_resp.read(c, &limits);
    size_t n = buf_rsize(&c->wbuf);
    *most = n > *most ? n : *most;
    assert_int_equal(buf_append(out, c->wbuf.rpos, n, 256 * MiB), STATUS_OK);
    buf_clear(&c->wbuf);
    return rc;
}

static void
test_get_sent_in_pieces(void **state)
{
    (void)state;
    size_t vlen = 3 * MiB + 11, len;
    char *v = malloc(vlen);
    assert_non_null(v);
    for (size_t i = 0; i < vlen; i++) {
        v[i] = (char)('a' + i % 23);
    }
    struct conn c;
    harness_open(&c, 1, NOW);
    char *set = command("SET", "big", v, vlen, &len);
    assert_int_equal(buf_append(&c.rbuf, set, len, 16 * MiB), STATUS_OK);
    free(set);
    char *get = command("GET", "big", NULL, 0, &len);
    assert_int_equal(buf_append(&c.rbuf, get, len, 16 * MiB), STATUS_OK);
    free(get);
    assert_int_equal(buf_append(&c.rbuf, "*1\r\n$4\r\nPING\r\n", 14, 16 * MiB),
            STATUS_OK);
    struct buf out;
    assert_int_equal(buf_init(&out, 1024), STATUS_OK);
    size_t most = 0;
    int runs = 0;
    rstatus_i rc;
    do {
        rc = run_once(&c, &out, &most);
        runs++;
    } while (rc == STATUS_OK && (c.flags & (CONN_STALLED | CONN_HELD)));
    assert_int_equal(rc, STATUS_OK);
    /* +OK, then the bulk whole, then +PONG */
    char head[32];
    size_t hl = (size_t)sprintf(head, "+OK\r\n$%zu\r\n", vlen);
    assert_int_equal(buf_rsize(&out), hl + vlen + 2 + 7);
    assert_memory_equal(out.rpos, head, hl);
    assert_memory_equal(out.rpos + hl, v, vlen);
    assert_memory_equal(out.rpos + hl + vlen, "\r\n+PONG\r\n", 9);
    assert_true(runs > 10); /* many slices, the socket drained between */
    assert_true(most <= limits.wbuf_high + 256 * KiB + 64);
    assert_int_equal(metric_counter(&metrics.resp_get_stream), 1);
    assert_int_equal(metric_counter(&metrics.resp_get_stream_byte), vlen);
    buf_deinit(&out);
    harness_close(&proc_resp, &c);
    free(v);
}

static void
test_value_changed_while_sent_closes(void **state)
{
    (void)state;
    size_t vlen = 2 * MiB, len;
    char *v = malloc(vlen);
    assert_non_null(v);
    memset(v, 'o', vlen);
    struct conn a, b;
    harness_open(&a, 2, NOW);
    harness_open(&b, 3, NOW);
    char *set = command("SET", "moving", v, vlen, &len);
    assert_int_equal(
            harness_feed(&proc_resp, &limits, &b, set, len), STATUS_OK);
    free(set);
    buf_clear(&b.wbuf);
    char *get = command("GET", "moving", NULL, 0, &len);
    assert_int_equal(buf_append(&a.rbuf, get, len, 16 * MiB), STATUS_OK);
    free(get);
    struct buf out;
    assert_int_equal(buf_init(&out, 1024), STATUS_OK);
    size_t most = 0;
    assert_int_equal(run_once(&a, &out, &most), STATUS_OK);
    assert_true(a.flags & CONN_STALLED); /* a slice or two out, more left */
    uint64_t cut = metric_counter(&metrics.resp_get_stream_cut);
    memset(v, 'n', vlen);
    set = command("SET", "moving", v, vlen, &len);
    assert_int_equal(
            harness_feed(&proc_resp, &limits, &b, set, len), STATUS_OK);
    free(set);
    /* the next slice finds another version: the connection closes */
    assert_int_equal(run_once(&a, &out, &most), STATUS_ERROR);
    assert_int_equal(metric_counter(&metrics.resp_get_stream_cut), cut + 1);
    assert_null(memchr(out.rpos, 'n', buf_rsize(&out)));
    assert_true(buf_rsize(&out) < vlen);
    buf_deinit(&out);
    harness_close(&proc_resp, &a);
    harness_close(&proc_resp, &b);
    free(v);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_get_sent_in_pieces),
            cmocka_unit_test(test_value_changed_while_sent_closes),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
