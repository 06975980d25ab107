/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for the admin thread, in-process with a line processor on
 * 127.0.0.1 port 0: answers, admin.max_connections, admin.idle_timeout,
 * recurring jobs, and admin_request_stop ending admin_run. */
#include "core/admin.h"

#include "base/log.h"
#include "core/conn.h"

#include "unit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define WAIT_MS    20000 /* bound on any wait; never a timing assertion */
#define MAX_CLIENT 8

/* ---- a line processor: echo each line; "close" answers BYE and closes */

static int proc_errors; /* admin thread only until joined */

static rstatus_i
line_read(struct conn *c, const struct proc_limits *limits)
{
    struct buf *r = &c->rbuf;
    char *nl;
    while ((nl = memchr(r->rpos, '\n', buf_rsize(r))) != NULL) {
        size_t len = (size_t)(nl + 1 - r->rpos);
        rstatus_i st;
        if (len >= 5 && memcmp(r->rpos, "close", 5) == 0) {
            c->flags |= CONN_CLOSE;
            st = buf_append(&c->wbuf, "BYE\r\n", 5, limits->wbuf_max);
        } else {
            st = buf_append(&c->wbuf, r->rpos, len, limits->wbuf_max);
        }
        if (st != STATUS_OK) {
            return st;
        }
        r->rpos += len;
        if (c->flags & CONN_CLOSE) {
            break;
        }
    }
    return STATUS_OK;
}

static void
line_error(struct conn *c)
{
    (void)c;
    proc_errors++;
}

static const struct processor line_proc = {
        .name = "line", .read = line_read, .error = line_error};

/* ---- the admin thread under test ---- */

static admin_options_st opt;
static admin_metrics_st am;
static pthread_t thread;
static bool running;
static bool set_up;
static int clients[MAX_CLIENT];
static unsigned nclient;
static rstatus_i run_status;

static void
set_defaults(void)
{
    opt = (admin_options_st){ADMIN_OPTION(INIT_OPTION)};
    opt.admin_listen.val.OPTION_STR = "127.0.0.1:0";
}

static void
setup_admin(void)
{
    am = (admin_metrics_st){ADMIN_METRIC(INIT_METRIC)};
    metric_init((struct metric *)&am, METRIC_CARDINALITY(am));
    proc_errors = 0;
    set_up = true;
    assert_int_equal(admin_setup(&opt, &am, &line_proc), STATUS_OK);
    assert_true(admin_port() > 0);
}

static void *
admin_main(void *arg)
{
    (void)arg;
    run_status = admin_run();
    return NULL;
}

static void
start(void)
{
    assert_int_equal(pthread_create(&thread, NULL, admin_main, NULL), 0);
    running = true;
}

static void
join(void)
{
    if (running) {
        admin_request_stop();
        pthread_join(thread, NULL);
        running = false;
    }
}

static int
stop(void **state)
{
    (void)state;
    for (unsigned i = 0; i < nclient; i++) {
        close(clients[i]);
    }
    nclient = 0;
    join();
    if (set_up) {
        admin_teardown();
        metric_deinit((struct metric *)&am, METRIC_CARDINALITY(am));
        set_up = false;
    }
    return 0;
}

/* ---- clients ---- */

static uint64_t
mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
pause_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
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

static int
client_open(void)
{
    assert_true(nclient < MAX_CLIENT);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    clients[nclient++] = fd;
    struct timeval tv = {WAIT_MS / 1000, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    struct sockaddr_in sa = {
            .sin_family = AF_INET, .sin_port = htons((uint16_t)admin_port())};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

static void
send_str(int fd, const char *s)
{
    size_t n = strlen(s);
    assert_int_equal(send(fd, s, n, MSG_NOSIGNAL), (ssize_t)n);
}

static void
expect(int fd, const char *want)
{
    char got[256];
    size_t n = strlen(want);
    assert_true(n < sizeof(got));
    for (size_t have = 0; have < n;) {
        ssize_t k = recv(fd, got + have, n - have, 0);
        assert_true(k > 0);
        have += (size_t)k;
    }
    got[n] = '\0';
    assert_string_equal(got, want);
}

static void
round_trip(int fd, const char *line)
{
    send_str(fd, line);
    expect(fd, line);
}

/* True when the admin thread closed fd (EOF or reset) within WAIT_MS. */
static bool
closed_by_admin(int fd)
{
    char c;
    ssize_t k = recv(fd, &c, 1, 0);
    return k == 0 || (k < 0 && errno == ECONNRESET);
}

/* ---- tests ---- */

static void
test_admin_answers_and_stops(void **state)
{
    (void)state;
    set_defaults();
    setup_admin();
    start();
    int fd = client_open();
    round_trip(fd, "stats\r\n");
    send_str(fd, "one\r\ntwo\r\n");
    expect(fd, "one\r\ntwo\r\n");
    send_str(fd, "close\r\n");
    expect(fd, "BYE\r\n");
    assert_true(closed_by_admin(fd));
    WAIT_FOR(metric_gauge(&am.admin_conn_curr) == 0);
    assert_int_equal(counter(&am.admin_conn_total), 1);
    join(); /* admin_request_stop ends admin_run */
    assert_int_equal(run_status, STATUS_OK);
    assert_int_equal(proc_errors, 1); /* error() once per connection */
    assert_true(counter(&am.admin_event_loop) >= 1);
}

static void
test_admin_max_connections(void **state)
{
    (void)state;
    set_defaults();
    opt.admin_max_connections.val.OPTION_UINT = 2;
    setup_admin();
    start();
    int a = client_open();
    int b = client_open();
    round_trip(a, "a\r\n");
    round_trip(b, "b\r\n");
    int c = client_open();
    assert_true(closed_by_admin(c));
    assert_int_equal(counter(&am.admin_conn_refused), 1);
    assert_int_equal(metric_gauge(&am.admin_conn_curr), 2);
    round_trip(a, "still served\r\n");
    /* a closed one makes room */
    send_str(b, "close\r\n");
    expect(b, "BYE\r\n");
    WAIT_FOR(metric_gauge(&am.admin_conn_curr) == 1);
    int d = client_open();
    round_trip(d, "d\r\n");
    assert_int_equal(counter(&am.admin_conn_refused), 1);
    assert_int_equal(counter(&am.admin_conn_total), 3);
}

static void
test_admin_idle_timeout(void **state)
{
    (void)state;
    set_defaults();
    opt.admin_idle_timeout.val.OPTION_DURATION = 1000;
    setup_admin();
    start();
    int fd = client_open();
    round_trip(fd, "then silence\r\n");
    assert_true(closed_by_admin(fd));
    assert_int_equal(counter(&am.admin_conn_idle), 1);
    WAIT_FOR(metric_gauge(&am.admin_conn_curr) == 0);
}

static uint64_t job_runs;

static void
count_job(void *arg)
{
    /* runs on the admin thread: no cmocka assertion here */
    if (arg == &job_runs) {
        __atomic_fetch_add(&job_runs, 1, __ATOMIC_RELAXED);
    }
}

static void
test_admin_recurring_job(void **state)
{
    (void)state;
    set_defaults();
    setup_admin();
    job_runs = 0;
    assert_int_equal(admin_add_job(20, count_job, &job_runs), STATUS_OK);
    start();
    WAIT_FOR(__atomic_load_n(&job_runs, __ATOMIC_RELAXED) >= 3);
    join();
    /* counted by the thread that ran them; all of them, once stopped */
    assert_int_equal(counter(&am.admin_job_run), job_runs);
}

static void
test_admin_listen_off(void **state)
{
    (void)state;
    set_defaults();
    opt.admin_listen.val.OPTION_STR = "off";
    am = (admin_metrics_st){ADMIN_METRIC(INIT_METRIC)};
    set_up = true;
    assert_int_equal(admin_setup(&opt, &am, &line_proc), STATUS_OK);
    assert_int_equal(admin_port(), 0);
    start();
    join();
    assert_int_equal(run_status, STATUS_OK);
}

static int
group_setup(void **state)
{
    (void)state;
    log_set_level(LOG_CRIT);
    return 0;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test_teardown(test_admin_answers_and_stops, stop),
            cmocka_unit_test_teardown(test_admin_max_connections, stop),
            cmocka_unit_test_teardown(test_admin_idle_timeout, stop),
            cmocka_unit_test_teardown(test_admin_recurring_job, stop),
            cmocka_unit_test_teardown(test_admin_listen_off, stop),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
