/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for notifier, eventfd and pipe alike: counts, readiness, a full
 * pipe, and waking an epoll wait from another thread. */
#include "base/notifier.h"

#include "unit.h"

#include <poll.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <unistd.h>

typedef struct notifier *(*create_fn)(void);

static int
readable(const struct notifier *n)
{
    struct pollfd p = {.fd = notifier_fd(n), .events = POLLIN};
    return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

static void
check_counts(create_fn create)
{
    struct notifier *n = create();
    assert_non_null(n);
    assert_true(notifier_fd(n) >= 0);
    assert_false(readable(n));
    assert_int_equal(notifier_drain(n), 0);
    for (int round = 1; round <= 3; round++) {
        for (int i = 0; i < round * 7; i++) {
            assert_int_equal(notifier_notify(n), STATUS_OK);
        }
        assert_true(readable(n));
        assert_int_equal(notifier_drain(n), (uint64_t)round * 7);
        assert_false(readable(n));
        assert_int_equal(notifier_drain(n), 0);
    }
    notifier_destroy(&n);
    assert_null(n);
    notifier_destroy(&n);
}

static void
test_notifier_eventfd_counts(void **state)
{
    (void)state;
    check_counts(notifier_create);
}

static void
test_notifier_pipe_counts(void **state)
{
    (void)state;
    check_counts(notifier_create_pipe);
}

/* A pipe takes notifications until it is full; then notify says EAGAIN and
 * drain returns what fit (at least 1), after which notify works again. */
static void
test_notifier_pipe_full(void **state)
{
    (void)state;
    struct notifier *n = notifier_create_pipe();
    assert_non_null(n);
    uint64_t ok = 0;
    rstatus_i status;
    while ((status = notifier_notify(n)) == STATUS_OK) {
        ok++;
        assert_true(ok <= 16 * 1024 * 1024); /* no pipe is this large */
    }
    assert_int_equal(status, STATUS_EAGAIN);
    assert_true(ok >= 1);
    assert_int_equal(notifier_drain(n), ok);
    assert_false(readable(n));
    assert_int_equal(notifier_notify(n), STATUS_OK);
    assert_int_equal(notifier_drain(n), 1);
    notifier_destroy(&n);
}

struct waker {
    struct notifier *n;
    int times;
};

static void *
notify_thread(void *arg)
{
    struct waker *w = arg;
    for (int i = 0; i < w->times; i++) {
        while (notifier_notify(w->n) == STATUS_EAGAIN) {
            usleep(100);
        }
    }
    return NULL;
}

/* Another thread's notify wakes a blocked epoll_wait. The timeout only
 * keeps a broken notifier from hanging the test. */
static void
check_cross_thread_wake(create_fn create)
{
    struct notifier *n = create();
    assert_non_null(n);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    assert_true(ep >= 0);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = n};
    assert_int_equal(epoll_ctl(ep, EPOLL_CTL_ADD, notifier_fd(n), &ev), 0);

    struct waker w = {.n = n, .times = 1};
    pthread_t tid;
    assert_int_equal(pthread_create(&tid, NULL, notify_thread, &w), 0);
    struct epoll_event out;
    int k;
    do {
        k = epoll_wait(ep, &out, 1, 30000);
    } while (k < 0);
    assert_int_equal(k, 1);
    assert_ptr_equal(out.data.ptr, n);
    assert_true(out.events & EPOLLIN);
    assert_int_equal(pthread_join(tid, NULL), 0);
    assert_int_equal(notifier_drain(n), 1);
    assert_int_equal(epoll_wait(ep, &out, 1, 0), 0);

    /* several notifying threads: every notification is counted once */
    enum {
        THREADS = 4,
        TIMES = 2000
    };
    pthread_t tids[THREADS];
    struct waker many = {.n = n, .times = TIMES};
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(
                pthread_create(&tids[i], NULL, notify_thread, &many), 0);
    }
    uint64_t total = 0;
    while (total < THREADS * TIMES) {
        k = epoll_wait(ep, &out, 1, 30000);
        assert_true(k == 1 || (k < 0));
        total += notifier_drain(n);
    }
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(tids[i], NULL), 0);
    }
    assert_int_equal(total, THREADS * TIMES);
    assert_int_equal(notifier_drain(n), 0);
    close(ep);
    notifier_destroy(&n);
}

static void
test_notifier_eventfd_cross_thread(void **state)
{
    (void)state;
    check_cross_thread_wake(notifier_create);
}

static void
test_notifier_pipe_cross_thread(void **state)
{
    (void)state;
    check_cross_thread_wake(notifier_create_pipe);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_notifier_eventfd_counts),
            cmocka_unit_test(test_notifier_pipe_counts),
            cmocka_unit_test(test_notifier_pipe_full),
            cmocka_unit_test(test_notifier_eventfd_cross_thread),
            cmocka_unit_test(test_notifier_pipe_cross_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
