/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for the server thread and the workers together, in-process, with a
 * line processor on 127.0.0.1 port 0: answers, least-connections hand-off,
 * max_connections, reclaiming closed connections, idle timeout,
 * worker.buffer_memory, back-pressure, and a clean teardown. */
#include "core/conn.h"
#include "core/conns.h"
#include "core/msg.h"
#include "core/server.h"
#include "core/worker.h"

#include "base/log.h"
#include "base/tcp.h"

#include "unit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define WAIT_MS    20000 /* bound on any wait; never a timing assertion */
#define MAX_CLIENT 16

/* ---- a line processor: echo, "big N" (N bytes of 'x'), "close" ---- */

static rstatus_i
reply_big(struct buf *w, size_t n, const struct proc_limits *limits)
{
    if (buf_reserve(w, n + 2, limits->wbuf_max) != STATUS_OK) {
        return STATUS_ENOMEM;
    }
    memset(w->wpos, 'x', n);
    memcpy(w->wpos + n, "\r\n", 2);
    w->wpos += n + 2;
    return STATUS_OK;
}

static rstatus_i
line_read(struct conn *c, const struct proc_limits *limits)
{
    struct buf *r = &c->rbuf;
    for (;;) {
        if (buf_rsize(&c->wbuf) > limits->wbuf_high) {
            c->flags |= CONN_STALLED;
            return STATUS_OK;
        }
        char *nl = memchr(r->rpos, '\n', buf_rsize(r));
        if (nl == NULL) {
            return STATUS_OK;
        }
        size_t len = (size_t)(nl + 1 - r->rpos);
        rstatus_i st;
        if (len >= 5 && memcmp(r->rpos, "close", 5) == 0) {
            c->flags |= CONN_CLOSE;
            st = buf_append(&c->wbuf, "BYE\r\n", 5, limits->wbuf_max);
        } else if (len > 4 && memcmp(r->rpos, "big ", 4) == 0) {
            st = reply_big(&c->wbuf, strtoul(r->rpos + 4, NULL, 10), limits);
        } else {
            st = buf_append(&c->wbuf, r->rpos, len, limits->wbuf_max);
        }
        if (st != STATUS_OK) {
            return st;
        }
        r->rpos += len;
        if (c->flags & CONN_CLOSE) {
            return STATUS_OK;
        }
    }
}

static const struct processor line_proc = {.name = "line", .read = line_read};

/* ---- the server under test ---- */

static worker_options_st wopt;
static server_options_st sopt;
static worker_metrics_st wm;
static server_metrics_st sm;
static struct listener ls[1];
static bool running;
static int port;
static int clients[MAX_CLIENT];
static unsigned nclient;
static const struct worker_hooks *hooks; /* start()'s; NULL: none */

static void
set_defaults(unsigned nworker)
{
    wopt = (worker_options_st){WORKER_OPTION(INIT_OPTION)};
    sopt = (server_options_st){SERVER_OPTION(INIT_OPTION)};
    wopt.worker_threads.val.OPTION_UINT = nworker;
    wopt.worker_ring_size.val.OPTION_UINT = 64;
    wopt.worker_buf_size.val.OPTION_SIZE = 4096;
}

static void
start(void)
{
    wm = (worker_metrics_st){WORKER_METRIC(INIT_METRIC)};
    sm = (server_metrics_st){SERVER_METRIC(INIT_METRIC)};
    metric_init((struct metric *)&wm, METRIC_CARDINALITY(wm));
    metric_init((struct metric *)&sm, METRIC_CARDINALITY(sm));
    char err[256];
    ls[0] = (struct listener){.name = "line", .proc = &line_proc};
    assert_int_equal(
            tcp_parse_addr("127.0.0.1:0", &ls[0].addr, err, sizeof(err)),
            STATUS_OK);
    assert_int_equal(workers_setup(&wopt, &wm, hooks), STATUS_OK);
    running = true;
    assert_int_equal(server_setup(&sopt, &sm, ls, 1), STATUS_OK);
    port = tcp_local_port(ls[0].fd);
    assert_true(port > 0);
    assert_int_equal(workers_start(), STATUS_OK);
    assert_int_equal(server_start(), STATUS_OK);
}

/* The order of main's teardown; runs after a failed assertion too. */
static int
stop(void **state)
{
    (void)state;
    for (unsigned i = 0; i < nclient; i++) {
        if (clients[i] >= 0) {
            close(clients[i]);
        }
    }
    nclient = 0;
    if (running) {
        server_stop_accepting();
        workers_stop();
        workers_join();
        server_stop();
        server_teardown();
        workers_teardown();
        metric_deinit((struct metric *)&wm, METRIC_CARDINALITY(wm));
        metric_deinit((struct metric *)&sm, METRIC_CARDINALITY(sm));
        running = false;
    }
    return 0;
}

/* ---- clients ---- */

static void
pause_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static uint64_t
mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Polls cond every millisecond for at most WAIT_MS. */
#define WAIT_FOR(cond)                                                         \
    do {                                                                       \
        uint64_t until_ = mono_ms() + WAIT_MS;                                 \
        while (!(cond) && mono_ms() < until_) {                                \
            pause_ms(1);                                                       \
        }                                                                      \
        assert_true(cond);                                                     \
    } while (0)

static uint64_t
counter(const struct metric *m)
{
    return metric_counter(m);
}

/* A blocking client; rcvbuf > 0 shrinks its receive buffer first. */
static int
client_open_buf(int rcvbuf)
{
    assert_true(nclient < MAX_CLIENT);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    clients[nclient++] = fd;
    if (rcvbuf > 0) {
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    }
    struct timeval tv = {WAIT_MS / 1000, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    struct sockaddr_in sa = {
            .sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

static int
client_open(void)
{
    return client_open_buf(0);
}

static void
client_close(int fd)
{
    for (unsigned i = 0; i < nclient; i++) {
        if (clients[i] == fd) {
            clients[i] = -1;
        }
    }
    close(fd);
}

static void
send_all(int fd, const void *data, size_t n)
{
    const char *p = data;
    while (n > 0) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        assert_true(k > 0);
        p += k;
        n -= (size_t)k;
    }
}

static void
send_str(int fd, const char *s)
{
    send_all(fd, s, strlen(s));
}

/* Reads exactly n bytes; false on EOF, error or timeout. */
static bool
recv_exact(int fd, char *buf, size_t n)
{
    while (n > 0) {
        ssize_t k = recv(fd, buf, n, 0);
        if (k <= 0) {
            return false;
        }
        buf += k;
        n -= (size_t)k;
    }
    return true;
}

static void
expect(int fd, const char *want)
{
    char got[256];
    size_t n = strlen(want);
    assert_true(n < sizeof(got));
    assert_true(recv_exact(fd, got, n));
    got[n] = '\0';
    assert_string_equal(got, want);
}

static void
round_trip(int fd, const char *line)
{
    send_str(fd, line);
    expect(fd, line);
}

/* True when the server closed fd (EOF or reset) within WAIT_MS. */
static bool
closed_by_server(int fd)
{
    char c;
    ssize_t k = recv(fd, &c, 1, 0);
    return k == 0 || (k < 0 && errno == ECONNRESET);
}

/* True when fd is still open with nothing to read, right now. */
static bool
quiet_and_open(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, 0) == 0;
}

static uint64_t
nconn(unsigned id)
{
    return worker_nconn(worker_get(id));
}

/* ---- tests ---- */

static void
test_server_answers_requests(void **state)
{
    (void)state;
    set_defaults(2);
    start();
    int fd = client_open();
    round_trip(fd, "hello\r\n");
    send_str(fd, "a\r\nbb\r\nccc\r\n"); /* pipelined, answered in order */
    expect(fd, "a\r\nbb\r\nccc\r\n");
    send_str(fd, "spl"); /* a line in two pieces */
    pause_ms(20);
    send_str(fd, "it\r\n");
    expect(fd, "split\r\n");
    send_str(fd, "close\r\nnot answered\r\n");
    expect(fd, "BYE\r\n");
    assert_true(closed_by_server(fd));
    assert_int_equal(counter(&sm.server_conn_total), 1);
    WAIT_FOR(counter(&sm.server_conn_reclaim) == 1);
    assert_int_equal(metric_gauge(&sm.server_conn_curr), 0);
    assert_int_equal(counter(&wm.worker_conn_open), 1);
    assert_int_equal(counter(&wm.worker_conn_close), 1);
    assert_true(counter(&wm.worker_read_byte) >= 22);
    assert_true(counter(&wm.worker_write_byte) >= 24);
}

/* Opens a connection, serves one request on it, and returns which worker
 * took it (the one whose count went up). */
static unsigned
open_on_worker(int *fd, uint64_t *before, unsigned n)
{
    *fd = client_open();
    round_trip(*fd, "which\r\n");
    unsigned found = n;
    for (unsigned i = 0; i < n; i++) {
        uint64_t now = nconn(i);
        if (now == before[i] + 1) {
            assert_int_equal(found, n); /* exactly one went up */
            found = i;
        } else {
            assert_int_equal(now, before[i]);
        }
        before[i] = now;
    }
    assert_true(found < n);
    return found;
}

static void
test_server_least_connections(void **state)
{
    (void)state;
    enum {
        NW = 4,
        PER = 2
    };
    set_defaults(NW);
    start();
    uint64_t load[NW] = {0};
    int fd[NW * PER];
    unsigned owner[NW * PER];
    for (unsigned k = 0; k < NW * PER; k++) {
        owner[k] = open_on_worker(&fd[k], load, NW);
    }
    for (unsigned i = 0; i < NW; i++) {
        assert_int_equal(nconn(i), PER); /* spread evenly */
    }
    /* empty worker 1: the next connections all go to it */
    unsigned closed = 0;
    for (unsigned k = 0; k < NW * PER; k++) {
        if (owner[k] == 1) {
            client_close(fd[k]);
            closed++;
        }
    }
    assert_int_equal(closed, PER);
    WAIT_FOR(counter(&sm.server_conn_reclaim) == PER);
    load[1] = 0;
    assert_int_equal(nconn(1), 0);
    for (unsigned k = 0; k < PER; k++) {
        int f;
        assert_int_equal(open_on_worker(&f, load, NW), 1);
    }
    for (unsigned i = 0; i < NW; i++) {
        assert_int_equal(nconn(i), PER);
    }
    assert_int_equal(metric_gauge(&sm.server_conn_curr), NW * PER);
}

static void
test_server_max_connections(void **state)
{
    (void)state;
    set_defaults(1);
    sopt.server_max_connections.val.OPTION_UINT = 2;
    start();
    int a = client_open();
    int b = client_open();
    round_trip(a, "a\r\n");
    round_trip(b, "b\r\n");
    int c = client_open(); /* the kernel accepts; the server closes it */
    assert_true(closed_by_server(c));
    assert_int_equal(counter(&sm.server_conn_refused_max), 1);
    assert_int_equal(counter(&sm.server_conn_total), 2);
    round_trip(a, "still\r\n");
    round_trip(b, "served\r\n");
    /* a slot freed is a slot for the next client */
    client_close(a);
    WAIT_FOR(counter(&sm.server_conn_reclaim) == 1);
    int d = client_open();
    round_trip(d, "d\r\n");
    assert_int_equal(counter(&sm.server_conn_refused_max), 1);
    assert_int_equal(metric_gauge(&sm.server_conn_curr), 2);
}

static void
test_server_reclaims_closed(void **state)
{
    (void)state;
    set_defaults(2);
    start();
    int fd[5];
    for (unsigned i = 0; i < 5; i++) {
        fd[i] = client_open();
        round_trip(fd[i], "x\r\n");
    }
    assert_int_equal(metric_gauge(&sm.server_conn_curr), 5);
    for (unsigned i = 0; i < 5; i++) {
        client_close(fd[i]);
    }
    WAIT_FOR(metric_gauge(&sm.server_conn_curr) == 0);
    assert_int_equal(counter(&sm.server_conn_reclaim), 5);
    assert_int_equal(counter(&wm.worker_conn_close), 5);
    assert_int_equal(nconn(0) + nconn(1), 0);
    assert_int_equal(workers_buf_bytes(), 0); /* no buffer outlives a conn */
    /* pooled connections are handed out again */
    int again = client_open();
    round_trip(again, "again\r\n");
    assert_int_equal(counter(&sm.server_conn_total), 6);
}

static void
test_worker_idle_timeout(void **state)
{
    (void)state;
    set_defaults(1);
    wopt.worker_idle_timeout.val.OPTION_DURATION = 1000;
    start();
    int fd = client_open();
    round_trip(fd, "then silence\r\n");
    assert_true(closed_by_server(fd));
    assert_int_equal(counter(&wm.worker_conn_idle), 1);
    WAIT_FOR(counter(&sm.server_conn_reclaim) == 1);
    assert_int_equal(metric_gauge(&sm.server_conn_curr), 0);
}

/* Sends n bytes of a line that never ends: they stay in the read buffer. */
static void
send_partial(int fd, size_t n)
{
    static char junk[64 * 1024];
    memset(junk, 'p', sizeof(junk));
    assert_true(n <= sizeof(junk));
    send_all(fd, junk, n);
}

static void
test_worker_buffer_memory(void **state)
{
    (void)state;
    enum {
        KB = 1024
    };
    set_defaults(1);
    wopt.worker_rbuf_max.val.OPTION_SIZE = 64 * KB;
    wopt.worker_wbuf_high.val.OPTION_SIZE = 64 * KB;
    wopt.worker_wbuf_max.val.OPTION_SIZE = 1024 * KB;
    /* the smallest budget allowed: rbuf_max + wbuf_high + 2 buffers */
    wopt.worker_buffer_memory.val.OPTION_SIZE = 136 * KB;
    start();
    int small = client_open();
    round_trip(small, "small\r\n");
    int a = client_open();
    send_partial(a, 60 * KB); /* holds a 64 KiB read buffer */
    WAIT_FOR(workers_buf_bytes() == 64 * KB);
    int c = client_open();
    send_partial(c, 10 * KB); /* 16 KiB */
    WAIT_FOR(workers_buf_bytes() == 80 * KB);
    assert_int_equal(counter(&wm.worker_conn_evict_buf), 0);
    int b = client_open();
    send_partial(b, 60 * KB); /* 144 KiB in all: over by one large conn */
    WAIT_FOR(counter(&wm.worker_conn_evict_buf) >= 1);
    /* a and b hold as much: either may go, not both */
    struct pollfd p[2] = {
            {.fd = a, .events = POLLIN}, {.fd = b, .events = POLLIN}};
    assert_true(poll(p, 2, WAIT_MS) >= 1);
    int victim = p[0].revents != 0 ? a : b;
    int survivor = victim == a ? b : a;
    assert_true(closed_by_server(victim));
    WAIT_FOR(counter(&sm.server_conn_reclaim) == 1);
    assert_int_equal(counter(&wm.worker_conn_evict_buf), 1);
    assert_true(quiet_and_open(survivor));
    WAIT_FOR(workers_buf_bytes() == 80 * KB);
    /* the small ones are still served */
    round_trip(small, "still here\r\n");
    send_str(c, "\r\n"); /* ends c's line: 10 KiB echoed */
    static char echo[10 * KB + 2];
    assert_true(recv_exact(c, echo, sizeof(echo)));
    assert_int_equal(echo[0], 'p');
    assert_memory_equal(echo + 10 * KB, "\r\n", 2);
    assert_true(quiet_and_open(survivor));
    assert_int_equal(counter(&wm.worker_conn_evict_buf), 1);
}

static void
test_worker_back_pressure(void **state)
{
    (void)state;
    enum {
        NREQ = 128,
        SIZE = 64 * 1024
    };
    set_defaults(1);
    wopt.worker_wbuf_high.val.OPTION_SIZE = 64 * 1024;
    wopt.worker_wbuf_max.val.OPTION_SIZE = 1024 * 1024;
    wopt.worker_buffer_memory.val.OPTION_SIZE = 0;
    start();
    /* 8 MiB of replies to a client that does not read: more than the
     * kernel buffers hold, so the worker must stop parsing */
    int slow = client_open_buf(4096);
    int other = client_open();
    round_trip(other, "first\r\n");
    char req[32];
    int n = snprintf(req, sizeof(req), "big %d\r\n", SIZE);
    for (int i = 0; i < NREQ; i++) {
        send_all(slow, req, (size_t)n);
    }
    WAIT_FOR(counter(&wm.worker_stall) >= 1);
    /* the same worker keeps serving another client meanwhile */
    for (int i = 0; i < 20; i++) {
        round_trip(other, "ping\r\n");
    }
    /* once the slow client reads, every reply arrives */
    static char chunk[SIZE + 2];
    for (int i = 0; i < NREQ; i++) {
        assert_true(recv_exact(slow, chunk, sizeof(chunk)));
        assert_int_equal(chunk[0], 'x');
        assert_memory_equal(chunk + SIZE, "\r\n", 2);
    }
    round_trip(slow, "done\r\n");
    assert_int_equal(counter(&sm.server_conn_reclaim), 0);
}

/* Connections still open at teardown are closed by the workers and
 * reclaimed by the server; the sanitizer build checks nothing leaks. */
static void
test_server_teardown_with_clients(void **state)
{
    (void)state;
    set_defaults(2);
    start();
    for (unsigned i = 0; i < 6; i++) {
        int fd = client_open();
        round_trip(fd, "open\r\n");
        if (i % 2 == 0) {
            send_partial(fd, 1000); /* and holding a buffer */
        }
    }
    WAIT_FOR(workers_buf_bytes() == 3 * 4096);
    stop(NULL);
    assert_int_equal(counter(&wm.worker_conn_close), 6);
    assert_int_equal(counter(&sm.server_conn_reclaim), 6);
    assert_int_equal(metric_gauge(&sm.server_conn_curr), 0);
}

static void
test_conn_reset(void **state)
{
    (void)state;
    struct conn c;
    memset(&c, 0xab, sizeof(c));
    conn_reset(&c);
    assert_int_equal(c.fd, -1);
    assert_int_equal(c.flags, 0);
    assert_null(c.next);
    assert_null(c.proc);
    assert_null(c.rbuf.begin);
    assert_null(c.wbuf.begin);
    assert_null(c.data);
    assert_int_equal(c.buf_bytes, 0);
    assert_int_equal(c.peer[0], '\0');
}

static int
group_setup(void **state)
{
    (void)state;
    log_set_level(LOG_CRIT); /* evictions and refusals log */
    return 0;
}

/* issue 23: every check workers_setup makes, available to --check-config
 * without creating a worker; values are refused, never capped. */
static void
test_issue_23_worker_options_check(void **state)
{
    (void)state;
    const struct {
        const char *name, *value, *why;
    } c[] = {
            {"worker.threads", "129", "129: more than the 128"},
            {"worker.nevent", "0", "0: not in 1.."},
            {"worker.nevent", "4294967296", "4294967296: not in 1.."},
            {"worker.ring_size", "0", "0: a worker needs"},
            {"worker.cpus", "4096", "CPU 4096 is not available"},
            {"worker.cpus", "x", "not a CPU list: x"},
            /* were taken: 0 bytes hung every client; a batch of 0 was
             * raised to 1 in silence */
            {"worker.buf_size", "0", "0: a connection buffer needs"},
            {"worker.handshake_batch", "0", "0 would never finish"},
    };
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        worker_options_st o = {WORKER_OPTION(INIT_OPTION)};
        struct option *opts = (struct option *)&o;
        char err[256], why[256], name[64];
        assert_int_equal(option_set(opts, OPTION_CARDINALITY(o), c[i].name,
                                 c[i].value, err, sizeof(err)),
                STATUS_OK);
        const struct option *bad = NULL;
        assert_int_equal(workers_options_check(&o, &bad, why, sizeof(why)),
                STATUS_EINVAL);
        assert_string_equal(
                option_dotted_name(bad, name, sizeof(name)), c[i].name);
        assert_true(strncmp(why, c[i].why, strlen(c[i].why)) == 0);
        option_free(opts, OPTION_CARDINALITY(o));
    }
    worker_options_st o = {WORKER_OPTION(INIT_OPTION)};
    const struct option *bad = NULL;
    char why[256];
    assert_int_equal(
            workers_options_check(&o, &bad, why, sizeof(why)), STATUS_OK);
    o.worker_threads.val.OPTION_UINT = WORKERS_MAX; /* the limit is exact */
    assert_int_equal(
            workers_options_check(&o, &bad, why, sizeof(why)), STATUS_OK);
    assert_true(workers_auto_count() >= 1);
    assert_true(workers_auto_count() <= WORKERS_MAX);
}

/* ---- the admin port's clients and kill (core/conns.h) ---- */

static void
drain_hook(unsigned id)
{
    msg_drain(id);
}

static void
wake_worker(unsigned to)
{
    worker_wake(worker_get(to));
}

static void
kill_handler(unsigned to, struct msg *m)
{
    worker_kill_id(worker_get(to), m->arg);
}

/* conns_list has a line per connection of every worker; conns_kill closes
 * one on whichever worker holds it, and then knows it no more. */
static void
test_conns_list_and_kill(void **state)
{
    (void)state;
    static const struct worker_hooks msg_hooks = {.wake = drain_hook};
    set_defaults(2);
    assert_int_equal(msg_setup(NULL, NULL, 2, wake_worker), STATUS_OK);
    msg_handle(MSG_KIND_KILL, kill_handler);
    conns_setup();
    hooks = &msg_hooks;
    start();
    hooks = NULL;
    int fd[2];
    for (int i = 0; i < 2; i++) {
        fd[i] = client_open();
        round_trip(fd[i], "hello\r\n");
    }
    struct buf b;
    assert_int_equal(buf_init(&b, 64), STATUS_OK);
    assert_int_equal(conns_list(&b, 1 << 20), STATUS_OK);
    assert_int_equal(buf_append(&b, "", 1, 1 << 20), STATUS_OK);
    const char *text = b.rpos;
    assert_non_null(strstr(text, " proto=line worker=0 age="));
    assert_non_null(strstr(text, " proto=line worker=1 age="));
    assert_null(strstr(strchr(text, '\n') + 1, "\n"
                                               "client"));
    unsigned long long id;
    unsigned peer_port;
    assert_int_equal(
            sscanf(text, "client id=%llu addr=127.0.0.1:%u ", &id, &peer_port),
            2);
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);
    assert_int_equal(getsockname(fd[0], (struct sockaddr *)&sin, &len), 0);
    unsigned gone = ntohs(sin.sin_port) == peer_port ? 0 : 1;
    assert_int_equal(conns_kill(id), STATUS_OK);
    assert_true(closed_by_server(fd[gone]));
    WAIT_FOR(conns_kill(id) == STATUS_ENOTFOUND);
    assert_int_equal(conns_kill(0), STATUS_ENOTFOUND);
    buf_clear(&b);
    assert_int_equal(conns_list(&b, 1 << 20), STATUS_OK);
    assert_int_equal(buf_append(&b, "", 1, 1 << 20), STATUS_OK);
    assert_null(strstr(b.rpos, "\n"
                               "client")); /* one line left */
    assert_non_null(strstr(b.rpos, "client id="));
    buf_deinit(&b);
    round_trip(fd[1 - gone], "still here\r\n");
    stop(NULL);
    msg_teardown();
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test_teardown(test_server_answers_requests, stop),
            cmocka_unit_test_teardown(test_server_least_connections, stop),
            cmocka_unit_test_teardown(test_server_max_connections, stop),
            cmocka_unit_test_teardown(test_server_reclaims_closed, stop),
            cmocka_unit_test_teardown(test_worker_idle_timeout, stop),
            cmocka_unit_test_teardown(test_worker_buffer_memory, stop),
            cmocka_unit_test_teardown(test_worker_back_pressure, stop),
            cmocka_unit_test_teardown(test_server_teardown_with_clients, stop),
            cmocka_unit_test_teardown(test_conns_list_and_kill, stop),
            cmocka_unit_test(test_conn_reset),
            cmocka_unit_test(test_issue_23_worker_options_check),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
