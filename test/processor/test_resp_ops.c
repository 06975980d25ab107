/* SPDX-License-Identifier: Apache-2.0 */
/* OBJECT, MEMORY and SLOWLOG through the resp processor's read callback on
 * in-memory connections over a small store with an injected clock:
 * encodings as Redis decides them, reference counts, frequency and idle
 * time (OBJECT itself is no access), MEMORY USAGE is the item's footprint,
 * argument errors as Redis 7.0.15; the slow log's threshold, length,
 * truncation of long arguments and argument lists, redaction, reset, and
 * unique ids newest first when several threads record at once. */
#include "unit.h"

#include "proc_harness.h"

#include "processor/resp_internal.h"
#include "storage/seg/seg.h"

#include "base/buf.h"
#include "base/mm.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
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

/* every test starts from an empty store and the default slow log */
static int
each_setup(void **state)
{
    (void)state;
    storage_flush(STORAGE_DB_ALL, 0, NOW);
    resp_slowlog_configure(10000, 128);
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

static rstatus_i
feed(struct conn *c, const char *data, size_t len)
{
    return harness_feed(&proc_resp, &limits, c, data, len);
}

/* Runs request; returns the replies, NUL-terminated (caller frees). */
static char *
run(struct conn *c, const char *request)
{
    assert_int_equal(feed(c, request, strlen(request)), STATUS_OK);
    size_t n = buf_rsize(&c->wbuf);
    char *out = malloc(n + 1);
    assert_non_null(out);
    memcpy(out, c->wbuf.rpos, n);
    out[n] = '\0';
    buf_clear(&c->wbuf);
    return out;
}

static void
expect(struct conn *c, const char *request, const char *reply)
{
    char *out = run(c, request);
    assert_string_equal(out, reply);
    free(out);
}

static bool
starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* ---- a small RESP2 reader for replies whose numbers vary ---- */

static long long
read_int(const char **p, char type)
{
    assert_int_equal(**p, type);
    char *end;
    long long v = strtoll(*p + 1, &end, 10);
    assert_memory_equal(end, "\r\n", 2);
    *p = end + 2;
    return v;
}

static void
skip_value(const char **p)
{
    if (**p == '*') {
        long long n = read_int(p, '*');
        for (long long i = 0; i < n; i++) {
            skip_value(p);
        }
    } else if (**p == '$') {
        long long n = read_int(p, '$');
        if (n >= 0) {
            *p += n + 2;
        }
    } else {
        const char *eol = strstr(*p, "\r\n");
        assert_non_null(eol);
        *p = eol + 2;
    }
}

/* Fills ids[] with the entry ids of a SLOWLOG GET reply; returns how many. */
static size_t
slowlog_ids(const char *reply, long long *ids, size_t cap)
{
    const char *p = reply;
    long long n = read_int(&p, '*');
    assert_true((size_t)n <= cap);
    for (long long i = 0; i < n; i++) {
        assert_int_equal(read_int(&p, '*'), 6);
        ids[i] = read_int(&p, ':');
        for (int k = 0; k < 5; k++) {
            skip_value(&p);
        }
    }
    assert_int_equal(*p, '\0');
    return (size_t)n;
}

/* ---- OBJECT ---- */

static void
test_object_encoding_and_refcount(void **state)
{
    (void)state;
    struct conn c;
    conn_open(&c, 1);
    char v44[45], v45[46];
    memset(v44, 'x', 44);
    v44[44] = '\0';
    memset(v45, 'x', 45);
    v45[45] = '\0';
    char req[256];
    snprintf(req, sizeof(req), "SET e44 %s\r\nSET r45 %s\r\n", v44, v45);
    expect(&c, req, "+OK\r\n+OK\r\n");
    expect(&c,
            "SET i 123\r\nSET big 12345\r\nSET neg -5\r\nSET z 007\r\n"
            "SET l 123456789012345678901\r\nSET s hello\r\n",
            "+OK\r\n+OK\r\n+OK\r\n+OK\r\n+OK\r\n+OK\r\n");
    expect(&c,
            "OBJECT ENCODING i\r\nOBJECT ENCODING big\r\nOBJECT ENCODING "
            "neg\r\nOBJECT ENCODING z\r\nOBJECT ENCODING l\r\n"
            "OBJECT ENCODING s\r\nOBJECT ENCODING e44\r\n"
            "object encoding r45\r\nOBJECT ENCODING nokey\r\n",
            "$3\r\nint\r\n$3\r\nint\r\n$3\r\nint\r\n$6\r\nembstr\r\n"
            "$6\r\nembstr\r\n$6\r\nembstr\r\n$6\r\nembstr\r\n$3\r\nraw\r\n"
            "$-1\r\n");
    /* no maxmemory in this test's info source: 0 .. 9999 are shared */
    expect(&c,
            "OBJECT REFCOUNT i\r\nOBJECT REFCOUNT big\r\n"
            "OBJECT REFCOUNT neg\r\nOBJECT REFCOUNT s\r\n"
            "OBJECT REFCOUNT nokey\r\n",
            ":2147483647\r\n:1\r\n:1\r\n:1\r\n$-1\r\n");
    /* APPEND leaves a number behind: Redis would say raw, we say int */
    expect(&c, "APPEND i 4\r\nOBJECT ENCODING i\r\n", ":4\r\n$3\r\nint\r\n");
    conn_close(&c);
}

static void
test_object_freq_idletime_errors(void **state)
{
    (void)state;
    struct conn c;
    conn_open(&c, 2);
    expect(&c, "SET f v\r\nOBJECT FREQ f\r\nOBJECT FREQ f\r\n",
            "+OK\r\n:0\r\n:0\r\n");
    expect(&c, "GET f\r\nOBJECT FREQ f\r\nOBJECT FREQ f\r\n",
            "$1\r\nv\r\n:1\r\n:1\r\n");
    c.now_ms = NOW + 10 * 60 * 1000;
    char *out = run(&c, "OBJECT IDLETIME f\r\n");
    const char *p = out;
    long long idle = read_int(&p, ':');
    /* the last access is kept to the minute */
    assert_true(idle >= 9 * 60 && idle <= 11 * 60);
    free(out);
    expect(&c, "OBJECT FREQ nokey\r\nOBJECT IDLETIME nokey\r\n",
            "$-1\r\n$-1\r\n");
    /* a GET is an access: idle again (to the minute) */
    expect(&c, "GET f\r\n", "$1\r\nv\r\n");
    out = run(&c, "OBJECT IDLETIME f\r\n");
    p = out;
    assert_true(read_int(&p, ':') < 60);
    free(out);
    expect(&c,
            "OBJECT ENCODING\r\nOBJECT ENCODING a b\r\nOBJECT foo x\r\n"
            "OBJECT HELP x\r\n",
            "-ERR wrong number of arguments for 'object|encoding' command\r\n"
            "-ERR wrong number of arguments for 'object|encoding' command\r\n"
            "-ERR unknown subcommand 'foo'. Try OBJECT HELP.\r\n"
            "-ERR wrong number of arguments for 'object|help' command\r\n");
    out = run(&c, "OBJECT HELP\r\n");
    assert_true(starts(out,
            "*15\r\n+OBJECT <subcommand> [<arg> [value] [opt] ...]. "
            "Subcommands are:\r\n+ENCODING <key>\r\n"));
    free(out);
    conn_close(&c);
}

/* ---- MEMORY ---- */

static void
test_memory_usage(void **state)
{
    (void)state;
    struct conn c;
    conn_open(&c, 3);
    expect(&c, "SET m hello\r\n", "+OK\r\n");
    struct storage_item it;
    assert_int_equal(storage_peek(0, "m", 1, NOW, &it), STORAGE_OK);
    char want[64];
    snprintf(want, sizeof(want), ":%zu\r\n:%zu\r\n",
            storage_item_footprint(&it), storage_item_footprint(&it));
    assert_true(storage_item_footprint(&it) > 1 + 5 + 8);
    expect(&c, "MEMORY USAGE m\r\nMEMORY USAGE m SAMPLES 0\r\n", want);
    expect(&c,
            "MEMORY USAGE nokey\r\nMEMORY USAGE m samples\r\n"
            "MEMORY USAGE m SAMPLES x\r\nMEMORY USAGE m SAMPLES -1\r\n"
            "MEMORY USAGE m foo 1\r\nMEMORY USAGE nokey SAMPLES x\r\n"
            "MEMORY USAGE\r\n",
            "$-1\r\n-ERR syntax error\r\n"
            "-ERR value is not an integer or out of range\r\n"
            "-ERR syntax error\r\n-ERR syntax error\r\n"
            "-ERR value is not an integer or out of range\r\n"
            "-ERR wrong number of arguments for 'memory|usage' command\r\n");
    /* a bigger value takes more */
    expect(&c,
            "SET m "
            "0123456789012345678901234567890123456789012345678901234567890123"
            "456789\r\n",
            "+OK\r\n");
    assert_int_equal(storage_peek(0, "m", 1, NOW, &it), STORAGE_OK);
    char *out = run(&c, "MEMORY USAGE m\r\n");
    const char *p = out;
    assert_int_equal(read_int(&p, ':'), (long long)storage_item_footprint(&it));
    assert_true(storage_item_footprint(&it) >= 1 + 70 + 8);
    free(out);
    conn_close(&c);
}

static void
test_memory_other(void **state)
{
    (void)state;
    struct conn c;
    conn_open(&c, 4);
    expect(&c, "SET a 1\r\nSELECT 3\r\nSET b 2\r\nSELECT 0\r\n",
            "+OK\r\n+OK\r\n+OK\r\n+OK\r\n");
    expect(&c,
            "MEMORY PURGE\r\nMEMORY MALLOC-STATS\r\nMEMORY PURGE x\r\n"
            "MEMORY NOPE\r\n",
            "+OK\r\n$45\r\nStats not supported for the current allocator\r\n"
            "-ERR wrong number of arguments for 'memory|purge' command\r\n"
            "-ERR unknown subcommand 'NOPE'. Try MEMORY HELP.\r\n");
    char *out = run(&c, "MEMORY STATS\r\n");
    assert_true(starts(out, "*18\r\n$14\r\npeak.allocated\r\n:"));
    assert_non_null(strstr(out, "$10\r\nkeys.count\r\n:2\r\n"));
    assert_non_null(strstr(out, "$13\r\ndataset.bytes\r\n:"));
    free(out);
    out = run(&c, "HELLO 3\r\nMEMORY STATS\r\nMEMORY DOCTOR\r\n");
    assert_non_null(strstr(out, "%9\r\n$14\r\npeak.allocated\r\n:"));
    assert_non_null(strstr(out, "\r\n=")); /* DOCTOR: verbatim text */
    free(out);
    out = run(&c, "HELLO 2\r\nMEMORY HELP\r\n");
    assert_non_null(strstr(out, "*14\r\n+MEMORY <subcommand> [<arg> "));
    assert_non_null(strstr(out, "+USAGE <key> [SAMPLES <count>]\r\n"));
    free(out);
    conn_close(&c);
}

/* ---- SLOWLOG ---- */

static void
test_slowlog_config(void **state)
{
    (void)state;
    struct conn c;
    conn_open(&c, 5);
    expect(&c, "CONFIG GET slowlog*\r\n",
            "*4\r\n$23\r\nslowlog-log-slower-than\r\n$5\r\n10000\r\n"
            "$15\r\nslowlog-max-len\r\n$3\r\n128\r\n");
    expect(&c,
            "CONFIG SET slowlog-max-len -1\r\n"
            "CONFIG SET slowlog-max-len abc\r\n"
            "CONFIG SET slowlog-log-slower-than -5\r\n"
            "CONFIG SET slowlog-log-slower-than 1.5\r\n",
            "-ERR CONFIG SET failed (possibly related to argument "
            "'slowlog-max-len') - argument must be between 0 and "
            "9223372036854775807 inclusive\r\n"
            "-ERR CONFIG SET failed (possibly related to argument "
            "'slowlog-max-len') - argument couldn't be parsed into an "
            "integer\r\n"
            "-ERR CONFIG SET failed (possibly related to argument "
            "'slowlog-log-slower-than') - argument must be between -1 and "
            "9223372036854775807 inclusive\r\n"
            "-ERR CONFIG SET failed (possibly related to argument "
            "'slowlog-log-slower-than') - argument couldn't be parsed into "
            "an integer\r\n");
    /* all or nothing: a refused pair changes none */
    expect(&c,
            "CONFIG SET slowlog-max-len 5 maxmemory 1\r\n"
            "CONFIG GET slowlog-max-len\r\n",
            "-ERR CONFIG SET failed (possibly related to argument "
            "'maxmemory') - segcached sets it at startup only\r\n"
            "*2\r\n$15\r\nslowlog-max-len\r\n$3\r\n128\r\n");
    expect(&c,
            "CONFIG SET slowlog-log-slower-than 7 slowlog-max-len 5\r\n"
            "CONFIG GET slowlog-log-slower-than\r\n",
            "+OK\r\n*2\r\n$23\r\nslowlog-log-slower-than\r\n$1\r\n7\r\n");
    assert_int_equal(resp_slowlog_max_len(), 5);
    expect(&c,
            "SLOWLOG GET x\r\nSLOWLOG GET -2\r\nSLOWLOG GET 1 2\r\n"
            "SLOWLOG LEN x\r\nSLOWLOG foo\r\n",
            "-ERR count should be greater than or equal to -1\r\n"
            "-ERR count should be greater than or equal to -1\r\n"
            "-ERR unknown subcommand or wrong number of arguments for "
            "'GET'. Try SLOWLOG HELP.\r\n"
            "-ERR wrong number of arguments for 'slowlog|len' command\r\n"
            "-ERR unknown subcommand 'foo'. Try SLOWLOG HELP.\r\n");
    char *out = run(&c, "SLOWLOG HELP\r\n");
    assert_non_null(strstr(out, "*12\r\n+SLOWLOG <subcommand> [<arg> "));
    free(out);
    conn_close(&c);
}

static void
test_slowlog_entries(void **state)
{
    (void)state;
    struct conn c;
    conn_open(&c, 6);
    expect(&c, "SLOWLOG RESET\r\nPING\r\nSLOWLOG LEN\r\nSLOWLOG GET\r\n",
            "+OK\r\n+PONG\r\n:0\r\n*0\r\n");
    expect(&c, "CONFIG SET slowlog-log-slower-than 0\r\nSLOWLOG LEN\r\n",
            "+OK\r\n:1\r\n");
    expect(&c, "CLIENT SETNAME nm\r\nSLOWLOG RESET\r\nSLOWLOG LEN\r\n",
            "+OK\r\n+OK\r\n:1\r\n");
    char big[201];
    memset(big, 'y', 200);
    big[200] = '\0';
    char req[512];
    snprintf(req, sizeof(req), "SET k %s\r\n", big);
    expect(&c, req, "+OK\r\n");
    char *out = run(&c, "SLOWLOG GET 1\r\n");
    const char *p = out;
    assert_int_equal(read_int(&p, '*'), 1);
    assert_int_equal(read_int(&p, '*'), 6);
    long long id = read_int(&p, ':');
    assert_int_equal(read_int(&p, ':'), (long long)(NOW / 1000));
    assert_true(read_int(&p, ':') >= 0);
    char want[512];
    snprintf(want, sizeof(want),
            "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$147\r\n%.128s... (72 more "
            "bytes)\r\n$14\r\n127.0.0.1:1006\r\n$2\r\nnm\r\n",
            big);
    assert_string_equal(p, want);
    free(out);
    /* 40 arguments: 31 of them, then a note */
    char many[512] = "DEL";
    for (int i = 1; i < 40; i++) {
        snprintf(many + strlen(many), sizeof(many) - strlen(many), " a%d", i);
    }
    strcat(many, "\r\n");
    expect(&c, many, ":0\r\n");
    out = run(&c, "SLOWLOG GET 1\r\n");
    assert_non_null(strstr(out, "\r\n*32\r\n$3\r\nDEL\r\n$2\r\na1\r\n"));
    assert_non_null(strstr(out, "$3\r\na29\r\n$3\r\na30\r\n"
                                "$22\r\n... (9 more arguments)\r\n$14\r\n"));
    long long ids[8];
    assert_int_equal(slowlog_ids(out, ids, 8), 1);
    assert_int_equal(ids[0], id + 2); /* the SLOWLOG GET between */
    free(out);
    /* passwords are not logged */
    out = run(&c, "AUTH secret\r\nSLOWLOG GET 1\r\n");
    assert_non_null(strstr(out, "$4\r\nAUTH\r\n$10\r\n(redacted)\r\n"));
    assert_null(strstr(out, "secret"));
    free(out);
    /* newest first, and at most slowlog-max-len */
    expect(&c, "CONFIG SET slowlog-max-len 3\r\nSLOWLOG LEN\r\n",
            "+OK\r\n:3\r\n");
    out = run(&c, "SLOWLOG GET -1\r\n");
    assert_int_equal(slowlog_ids(out, ids, 8), 3);
    assert_true(ids[0] > ids[1] && ids[1] > ids[2]);
    free(out);
    out = run(&c, "SLOWLOG GET 0\r\n");
    assert_string_equal(out, "*0\r\n");
    free(out);
    /* off: nothing is recorded */
    expect(&c,
            "CONFIG SET slowlog-log-slower-than -1\r\nSLOWLOG RESET\r\n"
            "PING\r\nSLOWLOG LEN\r\n",
            "+OK\r\n+OK\r\n+PONG\r\n:0\r\n");
    /* a high threshold records nothing either */
    expect(&c,
            "CONFIG SET slowlog-log-slower-than 100000000\r\nPING\r\n"
            "SLOWLOG LEN\r\n",
            "+OK\r\n+PONG\r\n:0\r\n");
    /* EXEC is not logged (skip_slowlog), the commands it runs are */
    expect(&c,
            "CONFIG SET slowlog-log-slower-than 0 slowlog-max-len 10\r\n"
            "SLOWLOG RESET\r\nMULTI\r\nPING\r\nEXEC\r\n",
            "+OK\r\n+OK\r\n+OK\r\n+QUEUED\r\n*1\r\n+PONG\r\n");
    out = run(&c, "SLOWLOG GET\r\n");
    assert_non_null(strstr(out, "$4\r\nPING\r\n"));
    assert_null(strstr(out, "EXEC"));
    assert_int_equal(slowlog_ids(out, ids, 8), 3); /* RESET MULTI PING */
    free(out);
    conn_close(&c);
}

/* ---- several threads record at once ---- */

#define NTHREAD 4
#define NCMD    50

struct recorder {
    pthread_t tid;
    uint64_t id;
    int failures;
};

static void *
record_loop(void *arg)
{
    struct recorder *r = arg;
    struct conn c;
    memset(&c, 0, sizeof(c));
    c.fd = -1;
    c.id = r->id;
    c.now_ms = NOW;
    snprintf(c.peer, sizeof(c.peer), "127.0.0.1:%u", (unsigned)(2000 + r->id));
    if (buf_init(&c.rbuf, 64) != STATUS_OK ||
            buf_init(&c.wbuf, 64) != STATUS_OK) {
        r->failures++;
        return NULL;
    }
    for (int i = 0; i < NCMD; i++) {
        if (feed(&c, "ECHO x\r\n", 8) != STATUS_OK || buf_rsize(&c.wbuf) != 7 ||
                memcmp(c.wbuf.rpos, "$1\r\nx\r\n", 7) != 0) {
            r->failures++;
        }
        buf_clear(&c.wbuf);
    }
    proc_resp.error(&c);
    buf_deinit(&c.rbuf);
    buf_deinit(&c.wbuf);
    return NULL;
}

static int
cmp_desc(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

static void
test_slowlog_threads(void **state)
{
    (void)state;
    struct conn c;
    conn_open(&c, 7);
    expect(&c,
            "CONFIG SET slowlog-log-slower-than 0 slowlog-max-len 1000\r\n"
            "SLOWLOG RESET\r\n",
            "+OK\r\n+OK\r\n");
    struct recorder rec[NTHREAD];
    for (int i = 0; i < NTHREAD; i++) {
        rec[i] = (struct recorder){.id = 100 + (uint64_t)i};
        assert_int_equal(
                pthread_create(&rec[i].tid, NULL, record_loop, &rec[i]), 0);
    }
    /* SLOWLOG GET and LEN while they record */
    for (int i = 0; i < 20; i++) {
        free(run(&c, "SLOWLOG GET 5\r\nSLOWLOG LEN\r\n"));
    }
    for (int i = 0; i < NTHREAD; i++) {
        assert_int_equal(pthread_join(rec[i].tid, NULL), 0);
        assert_int_equal(rec[i].failures, 0);
    }
    expect(&c, "CONFIG SET slowlog-log-slower-than -1\r\n", "+OK\r\n");
    char *out = run(&c, "SLOWLOG GET -1\r\n");
    size_t cap = 2 * NTHREAD * NCMD + 64;
    long long *ids = malloc(cap * sizeof(*ids));
    assert_non_null(ids);
    size_t n = slowlog_ids(out, ids, cap);
    /* the threads' ECHOs, RESET, 20 x (GET, LEN); CONFIG SET turned the
     * log off before it was timed */
    assert_int_equal(n, NTHREAD * NCMD + 1 + 40);
    for (size_t i = 1; i < n; i++) {
        assert_true(ids[i - 1] > ids[i]); /* newest first, unique */
    }
    long long *sorted = malloc(n * sizeof(*sorted));
    assert_non_null(sorted);
    memcpy(sorted, ids, n * sizeof(*ids));
    qsort(sorted, n, sizeof(*sorted), cmp_desc);
    assert_memory_equal(sorted, ids, n * sizeof(*ids));
    size_t echo = 0;
    for (const char *p = out; (p = strstr(p, "$4\r\nECHO\r\n")) != NULL; p++) {
        echo++;
    }
    assert_int_equal(echo, NTHREAD * NCMD);
    free(sorted);
    free(ids);
    free(out);
    expect(&c, "SLOWLOG RESET\r\nSLOWLOG LEN\r\n", "+OK\r\n:0\r\n");
    conn_close(&c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup(
                    test_object_encoding_and_refcount, each_setup),
            cmocka_unit_test_setup(
                    test_object_freq_idletime_errors, each_setup),
            cmocka_unit_test_setup(test_memory_usage, each_setup),
            cmocka_unit_test_setup(test_memory_other, each_setup),
            cmocka_unit_test_setup(test_slowlog_config, each_setup),
            cmocka_unit_test_setup(test_slowlog_entries, each_setup),
            cmocka_unit_test_setup(test_slowlog_threads, each_setup),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
