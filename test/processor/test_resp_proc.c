/* SPDX-License-Identifier: Apache-2.0 */
/* The resp processor driven through its read callback on in-memory
 * connections over a small store with an injected clock: a transcript
 * gives the same replies whole and split at every byte; expiry is exact to
 * the millisecond; WATCH sees another connection's write; CLIENT REPLY;
 * per-command statistics. Expected bytes are Redis 7.0.15's. */
#include "unit.h"

#include "proc_harness.h"

#include "processor/resp_internal.h"
#include "storage/seg/seg.h"

#include "base/buf.h"
#include "base/mm.h"

#include <stdio.h>
#include <string.h>

#define NOW 1700000000000ULL /* injected clock, unix ms */

static seg_metrics_st seg_metrics;
static proc_resp_metrics_st metrics;
static const struct proc_limits limits = {
        .rbuf_max = 4 * MiB, .wbuf_high = 1 * MiB, .wbuf_max = 64 * MiB};

static int
group_setup(void **state)
{
    (void)state;
    metrics = (proc_resp_metrics_st){PROC_RESP_METRIC(INIT_METRIC)};
    if (harness_store_setup(8 * MiB, &seg_metrics) != STATUS_OK ||
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

static void
conn_open(struct conn *c, uint64_t id)
{
    harness_open(c, id, NOW);
}

static void
conn_close(struct conn *c)
{
    harness_close(&proc_resp, c);
}

/* Appends bytes, runs the processor; returns its status. */
static rstatus_i
feed(struct conn *c, const char *data, size_t len)
{
    return harness_feed(&proc_resp, &limits, c, data, len);
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

static const char transcript[] =
        "*1\r\n$8\r\nFLUSHALL\r\n"
        "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n"
        "GET k\r\n"
        "*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n"
        "set q \"a b\"\r\n"
        "MULTI\r\nINCR n\r\nGET q\r\nEXEC\r\n"
        "*2\r\n$3\r\nGET\r\n$0\r\n\r\n"
        "NOSUCH x\r\n"
        "\r\n"
        "*3\r\n$6\r\nAPPEND\r\n$1\r\nk\r\n$3\r\n!!!\r\n"
        "PING\r\n";
static const char transcript_replies[] =
        "+OK\r\n+OK\r\n$5\r\nhello\r\n:1\r\n+OK\r\n"
        "+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n:2\r\n$3\r\na b\r\n"
        "$-1\r\n"
        "-ERR unknown command 'NOSUCH', with args beginning with: 'x' \r\n"
        ":8\r\n+PONG\r\n";

static void
test_transcript_whole_and_split(void **state)
{
    (void)state;
    struct conn c;
    char out[4096];
    size_t len = strlen(transcript);
    conn_open(&c, 1);
    assert_int_equal(feed(&c, transcript, len), STATUS_OK);
    assert_string_equal(replies(&c, out, sizeof(out)), transcript_replies);
    conn_close(&c);
    for (size_t cut = 1; cut < len; cut++) {
        conn_open(&c, 1);
        assert_int_equal(feed(&c, transcript, cut), STATUS_OK);
        assert_int_equal(feed(&c, transcript + cut, len - cut), STATUS_OK);
        assert_string_equal(replies(&c, out, sizeof(out)), transcript_replies);
        conn_close(&c);
    }
}

static void
test_byte_at_a_time(void **state)
{
    (void)state;
    struct conn c;
    char out[4096];
    conn_open(&c, 2);
    for (size_t i = 0; transcript[i] != '\0'; i++) {
        assert_int_equal(feed(&c, transcript + i, 1), STATUS_OK);
    }
    assert_string_equal(replies(&c, out, sizeof(out)), transcript_replies);
    conn_close(&c);
}

static void
test_expiry_exact_with_injected_clock(void **state)
{
    (void)state;
    struct conn c;
    conn_open(&c, 3);
    expect(&c, "FLUSHALL\r\nSET k v PX 1500\r\n", "+OK\r\n+OK\r\n");
    expect(&c, "PTTL k\r\nTTL k\r\n", ":1500\r\n:2\r\n");
    c.now_ms = NOW + 1000;
    expect(&c, "PTTL k\r\nTTL k\r\n", ":500\r\n:1\r\n");
    c.now_ms = NOW + 1499;
    expect(&c, "GET k\r\nPTTL k\r\nTTL k\r\n", "$1\r\nv\r\n:1\r\n:0\r\n");
    c.now_ms = NOW + 1500;
    expect(&c, "GET k\r\nTTL k\r\nEXISTS k\r\n", "$-1\r\n:-2\r\n:0\r\n");
    /* EXPIREAT in the past deletes at once and answers 1 */
    expect(&c, "SET a v\r\nEXPIREAT a 1\r\nEXISTS a\r\n",
            "+OK\r\n:1\r\n:0\r\n");
    /* absolute times round-trip exactly */
    expect(&c,
            "SET b v PXAT 1700000123456\r\nPEXPIRETIME b\r\n"
            "EXPIRETIME b\r\n",
            "+OK\r\n:1700000123456\r\n:1700000123\r\n");
    /* GT/LT against "no expiry", KEEPTTL, GETEX PERSIST */
    expect(&c, "SET d v\r\nEXPIRE d 100 GT\r\nEXPIRE d 100 LT\r\nTTL d\r\n",
            "+OK\r\n:0\r\n:1\r\n:100\r\n");
    expect(&c, "SET d w KEEPTTL\r\nTTL d\r\nGETEX d PERSIST\r\nTTL d\r\n",
            "+OK\r\n:100\r\n$1\r\nw\r\n:-1\r\n");
    /* INCR and APPEND keep the expiry, SET drops it */
    expect(&c,
            "SET n 1 EX 50\r\nINCR n\r\nAPPEND n 0\r\nTTL n\r\n"
            "INCRBYFLOAT n 0.5\r\nTTL n\r\nSET n 1\r\nTTL n\r\n",
            "+OK\r\n:2\r\n:2\r\n:50\r\n$4\r\n20.5\r\n:50\r\n+OK\r\n:-1\r\n");
    conn_close(&c);
}

static void
test_watch_sees_other_connection(void **state)
{
    (void)state;
    struct conn a, b;
    conn_open(&a, 4);
    conn_open(&b, 5);
    expect(&a, "SET w 1\r\nWATCH w\r\n", "+OK\r\n+OK\r\n");
    expect(&b, "SET w 2\r\n", "+OK\r\n");
    expect(&a, "MULTI\r\nINCR w\r\nEXEC\r\nGET w\r\n",
            "+OK\r\n+QUEUED\r\n*-1\r\n$1\r\n2\r\n");
    expect(&a, "WATCH w\r\nMULTI\r\nINCR w\r\nEXEC\r\n",
            "+OK\r\n+OK\r\n+QUEUED\r\n*1\r\n:3\r\n");
    /* a queue left open when the connection closes is freed */
    expect(&b, "WATCH w\r\nMULTI\r\nSET w 9\r\n", "+OK\r\n+OK\r\n+QUEUED\r\n");
    conn_close(&b);
    expect(&a, "GET w\r\n", "$1\r\n3\r\n");
    conn_close(&a);
}

static void
test_client_reply_and_select(void **state)
{
    (void)state;
    struct conn c;
    conn_open(&c, 6);
    expect(&c, "CLIENT REPLY OFF\r\nSET r 1\r\nGET r\r\nCLIENT REPLY ON\r\n",
            "+OK\r\n");
    expect(&c, "CLIENT REPLY SKIP\r\nGET r\r\nGET r\r\n", "$1\r\n1\r\n");
    expect(&c, "SELECT 15\r\nGET r\r\nSET r x\r\nSELECT 0\r\nGET r\r\n",
            "+OK\r\n$-1\r\n+OK\r\n+OK\r\n$1\r\n1\r\n");
    assert_int_equal(c.db, 0);
    expect(&c, "SELECT 15\r\nRESET\r\nGET r\r\n",
            "+OK\r\n+RESET\r\n$1\r\n1\r\n");
    expect(&c, "QUIT\r\nPING\r\n", "+OK\r\n");
    assert_true(c.flags & CONN_CLOSE);
    conn_close(&c);
}

static void
test_protocol_error_closes(void **state)
{
    (void)state;
    struct conn c;
    conn_open(&c, 7);
    expect(&c, "PING\r\n*1\r\n$x\r\n",
            "+PONG\r\n-ERR Protocol error: invalid bulk length\r\n");
    assert_true(c.flags & CONN_CLOSE);
    conn_close(&c);
}

static void
test_commandstats_count(void **state)
{
    (void)state;
    struct conn c;
    struct buf b;
    conn_open(&c, 8);
    resp_cmdstats_reset();
    expect(&c, "GET x\r\nGET x y\r\nINCR x\r\nSET x a\r\nINCR x\r\n",
            "$-1\r\n-ERR wrong number of arguments for 'get' command\r\n"
            ":1\r\n+OK\r\n-ERR value is not an integer or out of range\r\n");
    assert_int_equal(buf_init(&b, 256), STATUS_OK);
    assert_int_equal(resp_info_cmdstats(&b, 1 << 20), STATUS_OK);
    assert_int_equal(buf_append(&b, "", 1, 1 << 20), STATUS_OK);
    const char *text = b.rpos;
    assert_non_null(strstr(text, "cmdstat_get:calls=1,"));
    assert_non_null(strstr(text, "rejected_calls=1,failed_calls=0\r\n"));
    assert_non_null(strstr(text, "cmdstat_incr:calls=2,"));
    assert_non_null(strstr(text, "rejected_calls=0,failed_calls=1\r\n"));
    buf_clear(&b);
    assert_int_equal(resp_info_errorstats(&b, 1 << 20), STATUS_OK);
    assert_int_equal(buf_append(&b, "", 1, 1 << 20), STATUS_OK);
    assert_non_null(strstr(b.rpos, "errorstat_ERR:count=2\r\n"));
    buf_deinit(&b);
    conn_close(&c);
}

/* An EVAL request of body with no keys, as RESP. */
static const char *
eval_req(char *out, size_t cap, const char *body)
{
    snprintf(out, cap, "*3\r\n$4\r\nEVAL\r\n$%zu\r\n%s\r\n$1\r\n0\r\n",
            strlen(body), body);
    return out;
}

/* Issue 19: CLIENT PAUSE holds what it covers, in the read buffer, until
 * UNPAUSE or the timeout; the held client then runs it in order; errors
 * that answer at once still do; a no-writes script runs during WRITE;
 * a second pause keeps the stricter mode and the later end. */
static void
test_issue_19_client_pause(void **state)
{
    (void)state;
    struct conn a, b, c;
    char req[128];
    conn_open(&a, 1901);
    conn_open(&b, 1902);
    conn_open(&c, 1903);
    expect(&a, "CLIENT PAUSE 100000 WRITE\r\n", "+OK\r\n");
    expect(&b, "SET pk v\r\nGET pk\r\n", ""); /* held, both kept */
    assert_true(buf_rsize(&b.rbuf) > 0);
    expect(&b, "PING\r\n", ""); /* behind the held SET */
    expect(&a, "GET pk\r\nSET pk\r\nPUBLISH c m\r\nMULTI\r\nGET pk\r\nEXEC\r\n",
            "$-1\r\n-ERR wrong number of arguments for 'set' command\r\n");
    /* a's PUBLISH is held, and what follows it */
    expect(&c, "CLIENT UNPAUSE\r\n", "+OK\r\n");
    proc_resp_worker_tick(0, NOW); /* the worker's loop hook */
    expect(&b, "", "+OK\r\n$1\r\nv\r\n+PONG\r\n");
    expect(&a, "", ":0\r\n+OK\r\n+QUEUED\r\n*1\r\n$1\r\nv\r\n");
    /* no-writes scripts run in a WRITE pause; others wait */
    expect(&a, "CLIENT PAUSE 100000 WRITE\r\n", "+OK\r\n");
    expect(&b, eval_req(req, sizeof(req), "#!lua flags=no-writes\nreturn 1"),
            ":1\r\n");
    expect(&b, "EVAL_RO \"return 2\" 0\r\n", ":2\r\n");
    expect(&b, eval_req(req, sizeof(req), "return 3"), "");
    /* 0 ms with ALL: the stricter mode until the WRITE pause's end */
    expect(&a, "CLIENT PAUSE 0 ALL\r\n", "+OK\r\n");
    expect(&a, "GET pk\r\n", "");
    proc_resp_worker_tick(0, NOW + 99999);
    expect(&a, "", "");
    proc_resp_worker_tick(0, NOW + 100000); /* the end: both run */
    expect(&b, "", ":3\r\n");
    expect(&a, "", "$1\r\nv\r\n");
    assert_int_equal(proc_resp_worker_wait_ms(0, NOW), -1);
    /* a held client that closes leaves no trace */
    expect(&a, "CLIENT PAUSE 100 ALL\r\n", "+OK\r\n");
    expect(&b, "GET pk\r\n", "");
    assert_int_equal(proc_resp_worker_wait_ms(0, NOW), 100);
    conn_close(&b);
    assert_int_equal(proc_resp_worker_wait_ms(0, NOW), -1);
    a.now_ms = NOW + 100; /* over: nothing is held */
    expect(&a, "GET pk\r\n", "$1\r\nv\r\n");
    conn_close(&a);
    conn_close(&c);
}

/* INFO's tracking fields of the Stats section, as "keys items prefixes" */
static const char *
tracking_info(struct conn *c, char *out, size_t cap)
{
    char reply[4096];
    assert_int_equal(feed(c, "INFO stats\r\n", 12), STATUS_OK);
    replies(c, reply, sizeof(reply));
    unsigned long k = 0, i = 0, p = 0;
    const char *at = strstr(reply, "tracking_total_keys:");
    assert_non_null(at);
    assert_int_equal(sscanf(at,
                             "tracking_total_keys:%lu\r\n"
                             "tracking_total_items:%lu\r\n"
                             "tracking_total_prefixes:%lu",
                             &k, &i, &p),
            3);
    snprintf(out, cap, "%lu %lu %lu", k, i, p);
    return out;
}

/* Client-side caching's table without workers (no invalidation can be
 * delivered here: integration tests cover that): reads remember keys, a
 * write takes them out, FLUSHALL empties the table, OPTIN remembers only
 * after CLIENT CACHING yes, the table stays under tracking-table-max-keys,
 * BCAST prefixes are counted, and a close ends the tracking. */
static void
test_issue_19_tracking_table(void **state)
{
    (void)state;
    struct conn a, b;
    char t[64];
    conn_open(&a, 1911);
    conn_open(&b, 1912);
    expect(&a, "FLUSHALL\r\nCLIENT TRACKING on\r\nGET t1\r\nMGET t2 t3\r\n",
            "+OK\r\n+OK\r\n$-1\r\n*2\r\n$-1\r\n$-1\r\n");
    assert_string_equal(tracking_info(&b, t, sizeof(t)), "3 3 0");
    expect(&b, "CLIENT TRACKING on\r\nGET t1\r\n", "+OK\r\n$-1\r\n");
    assert_string_equal(tracking_info(&b, t, sizeof(t)), "3 4 0");
    expect(&b, "SET t1 v\r\nDEL t2\r\n", "+OK\r\n:0\r\n");
    assert_string_equal(tracking_info(&b, t, sizeof(t)), "2 2 0");
    expect(&b, "SET t3 v\r\n", "+OK\r\n"); /* a write that is a change */
    assert_string_equal(tracking_info(&b, t, sizeof(t)), "1 1 0");
    expect(&b, "CLIENT TRACKING off\r\nFLUSHALL\r\n", "+OK\r\n+OK\r\n");
    assert_string_equal(tracking_info(&b, t, sizeof(t)), "0 0 0");
    /* OPTIN: only the read right after CLIENT CACHING yes */
    expect(&a,
            "CLIENT TRACKING off\r\nCLIENT TRACKING on OPTIN\r\n"
            "GET o1\r\nCLIENT CACHING yes\r\nGET o2\r\nGET o3\r\n",
            "+OK\r\n+OK\r\n$-1\r\n+OK\r\n$-1\r\n$-1\r\n");
    assert_string_equal(tracking_info(&b, t, sizeof(t)), "1 1 0");
    /* bounded: past the limit other keys go */
    expect(&b, "CONFIG SET tracking-table-max-keys 4\r\n", "+OK\r\n");
    expect(&a,
            "CLIENT TRACKING off\r\nCLIENT TRACKING on\r\n"
            "MGET m1 m2 m3 m4 m5 m6 m7 m8\r\n",
            "+OK\r\n+OK\r\n*8\r\n$-1\r\n$-1\r\n$-1\r\n$-1\r\n$-1\r\n"
            "$-1\r\n$-1\r\n$-1\r\n");
    assert_string_equal(tracking_info(&b, t, sizeof(t)), "4 4 0");
    expect(&b, "CONFIG SET tracking-table-max-keys 1000000\r\n", "+OK\r\n");
    /* BCAST prefixes are counted; a close ends the tracking */
    expect(&b, "CLIENT TRACKING on BCAST PREFIX p: PREFIX q:\r\n", "+OK\r\n");
    assert_string_equal(tracking_info(&b, t, sizeof(t)), "4 4 2");
    conn_close(&b);
    conn_open(&b, 1913);
    assert_string_equal(tracking_info(&b, t, sizeof(t)), "4 4 0");
    char info[4096];
    assert_int_equal(feed(&b, "INFO clients\r\n", 14), STATUS_OK);
    assert_non_null(strstr(
            replies(&b, info, sizeof(info)), "tracking_clients:1\r\n")); /* a */
    conn_close(&a);
    assert_int_equal(feed(&b, "INFO clients\r\n", 14), STATUS_OK);
    assert_non_null(
            strstr(replies(&b, info, sizeof(info)), "tracking_clients:0\r\n"));
    expect(&b, "FLUSHALL\r\n", "+OK\r\n");
    assert_string_equal(tracking_info(&b, t, sizeof(t)), "0 0 0");
    conn_close(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_transcript_whole_and_split),
            cmocka_unit_test(test_byte_at_a_time),
            cmocka_unit_test(test_expiry_exact_with_injected_clock),
            cmocka_unit_test(test_watch_sees_other_connection),
            cmocka_unit_test(test_client_reply_and_select),
            cmocka_unit_test(test_protocol_error_closes),
            cmocka_unit_test(test_commandstats_count),
            cmocka_unit_test(test_issue_19_client_pause),
            cmocka_unit_test(test_issue_19_tracking_table),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
