/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for the message path between threads (core/msg): order per
 * sender through ring and overflow, the overflow counted, one wake-up until
 * a drain, shared messages freed once, and senders and receivers on their
 * own threads (the concurrency label runs it under TSan). */
#include "core/msg.h"

#include "base/mm.h"
#include "base/notifier.h"

#include "unit.h"

#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define NRECV 3

static msg_metrics_st metrics;
static unsigned nwake[NRECV];

/* what each receiver saw: per sender, the next sequence number expected */
static uint64_t expect[NRECV][NRECV + MSG_NEXTRA];
static uint64_t got[NRECV];
static uint64_t bad[NRECV];

static void
wake_count(unsigned to)
{
    nwake[to]++;
}

/* arg = sender << 32 | sequence */
static void
check_order(unsigned to, struct msg *m)
{
    unsigned from = (unsigned)(m->arg >> 32);
    uint64_t seq = m->arg & 0xffffffffu;
    if (from >= NRECV + MSG_NEXTRA || expect[to][from] != seq || m->len != 8 ||
            memcmp(m->data, "payload!", 8) != 0) {
        bad[to]++;
    } else {
        expect[to][from]++;
    }
    got[to]++;
}

static struct msg *
make(unsigned from, uint64_t seq)
{
    struct msg *m = msg_create(MSG_KIND_TEST, 8);
    assert_non_null(m);
    m->arg = (uint64_t)from << 32 | seq;
    memcpy(m->data, "payload!", 8);
    return m;
}

static int
setup_small(void **state)
{
    (void)state;
    msg_options_st o = {MSG_OPTION(INIT_OPTION)};
    o.msg_ring_size.val.OPTION_UINT = 4;
    metrics = (msg_metrics_st){MSG_METRIC(INIT_METRIC)};
    memset(nwake, 0, sizeof(nwake));
    memset(expect, 0, sizeof(expect));
    memset(got, 0, sizeof(got));
    memset(bad, 0, sizeof(bad));
    assert_int_equal(msg_setup(&o, &metrics, NRECV, wake_count), STATUS_OK);
    msg_handle(MSG_KIND_TEST, check_order);
    return 0;
}

static int
teardown_msg(void **state)
{
    (void)state;
    msg_teardown();
    return 0;
}

static void
test_msg_order_through_overflow(void **state)
{
    (void)state;
    for (uint64_t i = 0; i < 100; i++) {
        struct msg *m = make(0, i);
        assert_int_equal(msg_send(0, 1, m), STATUS_OK);
        msg_release(&m);
        assert_null(m);
    }
    /* 4 fit the ring, the other 96 wait in the overflow list */
    assert_int_equal(metric_counter(&metrics.msg_overflow), 96);
    assert_int_equal(msg_overflow_pending(1), 96);
    assert_int_equal(nwake[1], 1); /* one wake-up until the drain */
    assert_int_equal(msg_drain(1), 100);
    assert_int_equal(got[1], 100);
    assert_int_equal(bad[1], 0);
    assert_int_equal(msg_overflow_pending(1), 0);
    assert_int_equal(msg_drain(1), 0);
    assert_int_equal(msg_drain(0), 0);
    /* the drain re-arms the wake-up */
    struct msg *m = make(0, 100);
    assert_int_equal(msg_send(0, 1, m), STATUS_OK);
    msg_release(&m);
    assert_int_equal(nwake[1], 2);
    assert_int_equal(msg_drain(1), 1);
    assert_int_equal(bad[1], 0);
}

/* Drains half way, so ring and overflow interleave: the ring has room
 * again while older messages still wait in the overflow list. */
static void
test_msg_order_interleaved(void **state)
{
    (void)state;
    uint64_t seq = 0;
    for (int round = 0; round < 50; round++) {
        for (int i = 0; i < 7; i++, seq++) {
            struct msg *m = make(2, seq);
            assert_int_equal(msg_send(2, 0, m), STATUS_OK);
            msg_release(&m);
        }
        if (round % 3 == 0) {
            msg_drain(0);
        }
    }
    msg_drain(0);
    assert_int_equal(got[0], seq);
    assert_int_equal(bad[0], 0);
}

static struct msg *kept;

static void
keep(unsigned to, struct msg *m)
{
    (void)to;
    got[to]++;
    if (kept == NULL) {
        msg_retain(m);
        kept = m;
    }
}

static void
test_msg_shared_refcount(void **state)
{
    (void)state;
    msg_handle(MSG_KIND_TEST, keep);
    uint64_t allocs = mm_alloc_count() - mm_free_count();
    struct msg *m = make(0, 0);
    for (unsigned to = 0; to < NRECV; to++) {
        assert_int_equal(msg_send(0, to, m), STATUS_OK);
    }
    assert_int_equal(__atomic_load_n(&m->refs, __ATOMIC_RELAXED), 1 + NRECV);
    msg_release(&m); /* the creator's reference */
    for (unsigned to = 0; to < NRECV; to++) {
        assert_int_equal(msg_drain(to), 1);
    }
    /* the handler kept one: still alive, and only it holds it now */
    assert_non_null(kept);
    assert_int_equal(__atomic_load_n(&kept->refs, __ATOMIC_RELAXED), 1);
    msg_release(&kept);
    /* rings made on first use stay; the message is gone */
    assert_true(mm_alloc_count() - mm_free_count() >= allocs);
    msg_handle(MSG_KIND_TEST, check_order);
}

static void
test_msg_teardown_releases_queued(void **state)
{
    (void)state;
    for (uint64_t i = 0; i < 20; i++) {
        struct msg *m = make(1, i);
        msg_send(1, 2, m);
        msg_send(NRECV + MSG_SENDER_ADMIN, 2, m);
        msg_release(&m);
    }
    /* nothing drained: teardown (the group's) frees all 40 references;
     * ASan's leak check says so */
}

/* ---- threads ---- */

#define NMSG 20000

static struct notifier *wakers[NRECV];
static bool senders_done;

static void
wake_notify(unsigned to)
{
    notifier_notify(wakers[to]);
}

/* Every sender broadcasts each message to every receiver: one message,
 * NRECV references, dropped on NRECV threads. */
static void *
sender_main(void *arg)
{
    unsigned from = (unsigned)(uintptr_t)arg;
    for (uint64_t i = 0; i < NMSG; i++) {
        struct msg *m = make(from, i);
        for (unsigned to = 0; to < NRECV; to++) {
            while (msg_send(from, to, m) != STATUS_OK) {
                /* out of memory only: cannot happen here */
            }
        }
        msg_release(&m);
    }
    return NULL;
}

static void *
receiver_main(void *arg)
{
    unsigned to = (unsigned)(uintptr_t)arg;
    uint64_t want = (uint64_t)NMSG * (NRECV + MSG_NEXTRA);
    struct pollfd pfd = {.fd = notifier_fd(wakers[to]), .events = POLLIN};
    while (got[to] < want) {
        poll(&pfd, 1, 100);
        notifier_drain(wakers[to]);
        msg_drain(to);
        if (__atomic_load_n(&senders_done, __ATOMIC_ACQUIRE) &&
                got[to] < want) {
            msg_drain(to); /* a bounded last look; never a timed wait */
            if (got[to] < want) {
                poll(&pfd, 1, 1000);
                notifier_drain(wakers[to]);
                msg_drain(to);
                break;
            }
        }
    }
    return NULL;
}

static void
test_msg_threads_order(void **state)
{
    (void)state;
    msg_teardown();
    msg_options_st o = {MSG_OPTION(INIT_OPTION)};
    o.msg_ring_size.val.OPTION_UINT = 16; /* small: the overflow is used */
    assert_int_equal(msg_setup(&o, &metrics, NRECV, wake_notify), STATUS_OK);
    msg_handle(MSG_KIND_TEST, check_order);
    for (unsigned i = 0; i < NRECV; i++) {
        wakers[i] = notifier_create();
        assert_non_null(wakers[i]);
    }
    pthread_t recv[NRECV], send[NRECV + MSG_NEXTRA];
    for (unsigned i = 0; i < NRECV; i++) {
        pthread_create(&recv[i], NULL, receiver_main, (void *)(uintptr_t)i);
    }
    for (unsigned i = 0; i < NRECV + MSG_NEXTRA; i++) {
        pthread_create(&send[i], NULL, sender_main, (void *)(uintptr_t)i);
    }
    for (unsigned i = 0; i < NRECV + MSG_NEXTRA; i++) {
        pthread_join(send[i], NULL);
    }
    __atomic_store_n(&senders_done, true, __ATOMIC_RELEASE);
    for (unsigned i = 0; i < NRECV; i++) {
        pthread_join(recv[i], NULL);
    }
    for (unsigned i = 0; i < NRECV; i++) {
        assert_int_equal(bad[i], 0);
        assert_int_equal(got[i], (uint64_t)NMSG * (NRECV + MSG_NEXTRA));
        for (unsigned s = 0; s < NRECV + MSG_NEXTRA; s++) {
            assert_int_equal(expect[i][s], NMSG);
        }
        notifier_destroy(&wakers[i]);
    }
    assert_int_equal(metric_counter(&metrics.msg_overflow_ex), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(
                    test_msg_order_through_overflow, setup_small, teardown_msg),
            cmocka_unit_test_setup_teardown(
                    test_msg_order_interleaved, setup_small, teardown_msg),
            cmocka_unit_test_setup_teardown(
                    test_msg_shared_refcount, setup_small, teardown_msg),
            cmocka_unit_test_setup_teardown(test_msg_teardown_releases_queued,
                    setup_small, teardown_msg),
            cmocka_unit_test_setup_teardown(
                    test_msg_threads_order, setup_small, teardown_msg),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
