/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for event: read and write readiness on pipes and loopback sockets,
 * modify, deregister, hang-up and reset, the batch limit, and EINTR. */
#include "base/event.h"

#include "base/log.h"

#include "unit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_SEEN 8

/* What the callback saw during one event_wait. */
static struct {
    int n;
    void *data[MAX_SEEN];
    uint32_t events[MAX_SEEN];
} seen;

static void
record(void *arg, uint32_t events)
{
    if (seen.n < MAX_SEEN) {
        seen.data[seen.n] = arg;
        seen.events[seen.n] = events;
    }
    seen.n++;
}

/* Waits without blocking; returns what event_wait returned. */
static int
poll_once(struct event_base *evb)
{
    seen.n = 0;
    int n = event_wait(evb, 0);
    assert_int_equal(n, seen.n);
    return n;
}

static uint32_t
events_of(void *data)
{
    for (int i = 0; i < seen.n && i < MAX_SEEN; i++) {
        if (seen.data[i] == data) {
            return seen.events[i];
        }
    }
    return 0;
}

static int
setup_base(void **state)
{
    log_set_level(LOG_CRIT); /* expected failures log warnings */
    seen.n = 0;
    *state = event_base_create(4, record);
    return *state == NULL ? -1 : 0;
}

static int
teardown_base(void **state)
{
    struct event_base *evb = *state;
    event_base_destroy(&evb);
    assert_null(evb);
    event_base_destroy(&evb);
    return 0;
}

static void
make_pipe(int fds[2])
{
    assert_int_equal(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
}

/* A connected pair of loopback TCP sockets, both non-blocking. */
static void
make_tcp_pair(int fds[2])
{
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(l >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sa);
    assert_int_equal(bind(l, (struct sockaddr *)&sa, len), 0);
    assert_int_equal(listen(l, 1), 0);
    assert_int_equal(getsockname(l, (struct sockaddr *)&sa, &len), 0);
    fds[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fds[0] >= 0);
    assert_int_equal(connect(fds[0], (struct sockaddr *)&sa, len), 0);
    fds[1] = accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    assert_true(fds[1] >= 0);
    assert_int_equal(fcntl(fds[0], F_SETFL, O_NONBLOCK), 0);
    close(l);
}

static void
test_event_pipe_read(void **state)
{
    struct event_base *evb = *state;
    int p[2];
    make_pipe(p);
    int tag;
    assert_int_equal(event_register(evb, p[0], EVENT_READ, &tag), STATUS_OK);
    assert_int_equal(poll_once(evb), 0);
    assert_int_equal(write(p[1], "x", 1), 1);
    assert_int_equal(poll_once(evb), 1);
    assert_ptr_equal(seen.data[0], &tag);
    assert_int_equal(seen.events[0], EVENT_READ);
    /* level-triggered: still ready until read */
    assert_int_equal(poll_once(evb), 1);
    char c;
    assert_int_equal(read(p[0], &c, 1), 1);
    assert_int_equal(poll_once(evb), 0);
    close(p[0]);
    close(p[1]);
}

static void
test_event_pipe_write(void **state)
{
    struct event_base *evb = *state;
    int p[2];
    make_pipe(p);
    int tag;
    assert_int_equal(event_register(evb, p[1], EVENT_WRITE, &tag), STATUS_OK);
    assert_int_equal(poll_once(evb), 1);
    assert_int_equal(events_of(&tag), EVENT_WRITE);
    /* fill the pipe: no longer writable */
    char chunk[4096] = {0};
    while (write(p[1], chunk, sizeof(chunk)) > 0) {
    }
    assert_int_equal(errno, EAGAIN);
    while (write(p[1], chunk, 1) > 0) {
    }
    assert_int_equal(poll_once(evb), 0);
    /* drain it: writable again */
    while (read(p[0], chunk, sizeof(chunk)) > 0) {
    }
    assert_int_equal(poll_once(evb), 1);
    assert_int_equal(events_of(&tag), EVENT_WRITE);
    close(p[0]);
    close(p[1]);
}

static void
test_event_modify(void **state)
{
    struct event_base *evb = *state;
    int s[2];
    make_tcp_pair(s);
    int tag, tag2;
    /* writable but only read is asked for: nothing */
    assert_int_equal(event_register(evb, s[0], EVENT_READ, &tag), STATUS_OK);
    assert_int_equal(poll_once(evb), 0);
    assert_int_equal(event_modify(evb, s[0], EVENT_READ | EVENT_WRITE, &tag2),
            STATUS_OK);
    assert_int_equal(poll_once(evb), 1);
    assert_int_equal(events_of(&tag2), EVENT_WRITE); /* new data pointer */
    /* loopback delivers within send(), so s[0] is readable at once */
    assert_int_equal(send(s[1], "hi", 2, 0), 2);
    assert_int_equal(poll_once(evb), 1);
    assert_int_equal(events_of(&tag2), EVENT_READ | EVENT_WRITE);
    /* no interest: registered, silent, even with bytes waiting */
    assert_int_equal(event_modify(evb, s[0], 0, &tag), STATUS_OK);
    assert_int_equal(poll_once(evb), 0);
    assert_int_equal(event_modify(evb, s[0], EVENT_READ, &tag), STATUS_OK);
    assert_int_equal(poll_once(evb), 1);
    assert_int_equal(events_of(&tag), EVENT_READ);
    close(s[0]);
    close(s[1]);
}

static void
test_event_deregister(void **state)
{
    struct event_base *evb = *state;
    int p[2];
    make_pipe(p);
    int tag;
    assert_int_equal(event_register(evb, p[0], EVENT_READ, &tag), STATUS_OK);
    assert_int_equal(event_register(evb, p[0], EVENT_READ, &tag), STATUS_ERROR);
    assert_int_equal(write(p[1], "x", 1), 1);
    assert_int_equal(event_deregister(evb, p[0]), STATUS_OK);
    assert_int_equal(poll_once(evb), 0);
    assert_int_equal(event_deregister(evb, p[0]), STATUS_ERROR);
    assert_int_equal(event_modify(evb, p[0], EVENT_READ, &tag), STATUS_ERROR);
    assert_int_equal(event_register(evb, -1, EVENT_READ, &tag), STATUS_ERROR);
    /* registered again: reported again */
    assert_int_equal(event_register(evb, p[0], EVENT_READ, &tag), STATUS_OK);
    assert_int_equal(poll_once(evb), 1);
    close(p[0]);
    close(p[1]);
}

static void
test_event_pipe_hangup(void **state)
{
    struct event_base *evb = *state;
    int p[2];
    make_pipe(p);
    int rtag;
    assert_int_equal(event_register(evb, p[0], EVENT_READ, &rtag), STATUS_OK);
    close(p[1]); /* writer gone: the reader sees a hang-up */
    assert_int_equal(poll_once(evb), 1);
    assert_true(events_of(&rtag) & EVENT_ERR);
    close(p[0]);

    make_pipe(p);
    int wtag;
    assert_int_equal(event_register(evb, p[1], 0, &wtag), STATUS_OK);
    assert_int_equal(poll_once(evb), 0);
    close(p[0]); /* reader gone: the writer sees an error, even with no
                  * interest */
    assert_int_equal(poll_once(evb), 1);
    assert_true(events_of(&wtag) & EVENT_ERR);
    close(p[1]);
}

static void
test_event_tcp_peer_close(void **state)
{
    struct event_base *evb = *state;
    int s[2];
    make_tcp_pair(s);
    int tag;
    assert_int_equal(event_register(evb, s[1], EVENT_READ, &tag), STATUS_OK);
    assert_int_equal(poll_once(evb), 0);
    close(s[0]); /* FIN: readable (recv returns 0) */
    seen.n = 0;
    assert_int_equal(event_wait(evb, 10000), 1);
    assert_true(events_of(&tag) & EVENT_READ);
    char c;
    assert_int_equal(recv(s[1], &c, 1, 0), 0);
    close(s[1]);
}

static void
test_event_tcp_reset(void **state)
{
    struct event_base *evb = *state;
    int s[2];
    make_tcp_pair(s);
    int tag;
    assert_int_equal(event_register(evb, s[1], EVENT_READ, &tag), STATUS_OK);
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    assert_int_equal(
            setsockopt(s[0], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
    close(s[0]); /* RST: error and hang-up */
    seen.n = 0;
    assert_int_equal(event_wait(evb, 10000), 1);
    assert_true(events_of(&tag) & EVENT_ERR);
    assert_true(events_of(&tag) & EVENT_READ);
    close(s[1]);
}

/* At most nevent (4) callbacks per wait; the rest come on the next. */
static void
test_event_batch_limit(void **state)
{
    struct event_base *evb = *state;
    enum {
        N = 6
    };
    int p[N][2];
    int tags[N];
    for (int i = 0; i < N; i++) {
        make_pipe(p[i]);
        assert_int_equal(
                event_register(evb, p[i][1], EVENT_WRITE, &tags[i]), STATUS_OK);
    }
    assert_int_equal(poll_once(evb), 4);
    for (int i = 0; i < N; i++) {
        close(p[i][0]);
        close(p[i][1]);
    }
}

static void
on_signal(int sig)
{
    (void)sig;
}

static int waiting_done;

static void *
interrupter(void *arg)
{
    pthread_t target = *(pthread_t *)arg;
    while (!__atomic_load_n(&waiting_done, __ATOMIC_ACQUIRE)) {
        pthread_kill(target, SIGUSR1);
        usleep(1000);
    }
    return NULL;
}

/* A signal interrupting a wait with nothing registered: 0 events. */
static void
test_event_eintr(void **state)
{
    struct event_base *evb = *state;
    struct sigaction sa = {.sa_handler = on_signal};
    struct sigaction old;
    assert_int_equal(sigaction(SIGUSR1, &sa, &old), 0);
    pthread_t self = pthread_self();
    pthread_t tid;
    __atomic_store_n(&waiting_done, 0, __ATOMIC_RELEASE);
    assert_int_equal(pthread_create(&tid, NULL, interrupter, &self), 0);
    seen.n = 0;
    int n = event_wait(evb, -1);
    __atomic_store_n(&waiting_done, 1, __ATOMIC_RELEASE);
    assert_int_equal(pthread_join(tid, NULL), 0);
    assert_int_equal(sigaction(SIGUSR1, &old, NULL), 0);
    assert_int_equal(n, 0);
    assert_int_equal(seen.n, 0);
}

/* event_ready_now: what is ready, without the callback and without
 * consuming it (level-triggered: the loop's next event_wait still sees it),
 * bounded by cap; the busy-script path of the worker relies on all three. */
static void
test_event_ready_now(void **state)
{
    struct event_base *evb = *state;
    int p[2], q[2];
    make_pipe(p);
    make_pipe(q);
    int a, b;
    assert_int_equal(event_register(evb, p[0], EVENT_READ, &a), STATUS_OK);
    assert_int_equal(event_register(evb, q[0], EVENT_READ, &b), STATUS_OK);
    void *arg[4];
    uint32_t ev[4];
    seen.n = 0;
    assert_int_equal(event_ready_now(evb, arg, ev, 4), 0);
    assert_int_equal(write(p[1], "x", 1), 1);
    assert_int_equal(write(q[1], "y", 1), 1);
    assert_int_equal(event_ready_now(evb, arg, ev, 4), 2);
    assert_true(
            (arg[0] == &a && arg[1] == &b) || (arg[0] == &b && arg[1] == &a));
    assert_int_equal(ev[0], EVENT_READ);
    assert_int_equal(ev[1], EVENT_READ);
    assert_int_equal(seen.n, 0);                           /* no callback */
    assert_int_equal(event_ready_now(evb, arg, ev, 1), 1); /* cap */
    assert_int_equal(poll_once(evb), 2); /* still there for the loop */
    close(p[0]);
    close(p[1]);
    close(q[0]);
    close(q[1]);
}

#define EV_TEST(fn)                                                            \
    cmocka_unit_test_setup_teardown(fn, setup_base, teardown_base)

int
main(void)
{
    const struct CMUnitTest tests[] = {
            EV_TEST(test_event_pipe_read),
            EV_TEST(test_event_pipe_write),
            EV_TEST(test_event_modify),
            EV_TEST(test_event_deregister),
            EV_TEST(test_event_pipe_hangup),
            EV_TEST(test_event_tcp_peer_close),
            EV_TEST(test_event_tcp_reset),
            EV_TEST(test_event_batch_limit),
            EV_TEST(test_event_eintr),
            EV_TEST(test_event_ready_now),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
