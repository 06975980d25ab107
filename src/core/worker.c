/* SPDX-License-Identifier: Apache-2.0 */
/* Worker threads: epoll loop, handshake -> read -> processor -> write,
 * back-pressure, idle and handshake timeouts, and the hand-off rings with
 * the server thread. Bytes move only through each connection's transport
 * (core/transport.h); what a transport wants next is handled in one place,
 * conn_event. */
#include "core/worker.h"

#include "base/event.h"
#include "base/log.h"
#include "base/mm.h"
#include "base/notifier.h"
#include "base/ring_array.h"
#include "base/time.h"
#include "base/util.h"
#include "core/conn.h"
#include "core/msg.h"
#include "core/transport.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SPARE_BUF_MAX 64   /* empty buffers a worker keeps for reuse */
#define MAX_CPUS      1024 /* largest CPU id accepted in worker.cpus */

/* Workers sit in one array; each is aligned to a cache line and a whole
 * number of lines long, so what a worker writes on every event (nevent,
 * now_ms, buf_bytes) never shares a line with a neighbour's fields (its
 * stop flag is read on every loop). */
struct worker {
    _Alignas(CACHE_LINE) unsigned id;
    int cpu; /* -1: not pinned */
    pthread_t thread;
    bool started;
    bool stop; /* set by any thread, read by the worker (atomic) */
    struct event_base *evb;
    struct ring_array *new_ring;  /* server -> worker */
    struct ring_array *term_ring; /* worker -> server */
    struct notifier *new_notify;  /* wakes the worker */
    struct notifier *term_notify; /* wakes the server */
    struct conn *conns;           /* list of connections held */
    uint64_t nconn;
    uint64_t nevent;
    uint64_t now_ms;
    uint64_t mono_ms;
    uint64_t last_idle_scan;
    bool clock_stale;
    struct conn *ready;      /* connections to serve without an epoll event */
    struct conn *closed;     /* the last connection closed: compared, never
                                dereferenced (it may already be reused) */
    unsigned hs_budget;      /* handshake steps left in this batch */
    uint64_t nhandshake;     /* connections still in their handshake */
    struct conn notify_conn; /* epoll data of the new-connection notifier */
    struct buf spare[SPARE_BUF_MAX];
    unsigned nspare;
    size_t buf_bytes; /* sum of conn buf_bytes; read by stats (atomic) */
    size_t tp_bytes;  /* sum of conn tp_bytes (TLS state); atomic too */
};

_Static_assert(sizeof(struct worker) % CACHE_LINE == 0,
        "a worker ends on a cache line boundary");

static struct worker *workers;
static unsigned nworker;
static worker_metrics_st *metrics;
static struct worker_hooks hooks;
static struct proc_limits limits;
static size_t buf_size;
static size_t buf_budget; /* per worker; 0: no limit */
static uint64_t idle_timeout_ms;
static uint64_t handshake_timeout_ms;
static unsigned handshake_batch;
static int nevent;

static void worker_event(void *arg, uint32_t events);

/* ---- buffers lent to connections ---- */

static rstatus_i
buf_lend(struct worker *w, struct buf *b)
{
    if (b->begin != NULL) {
        return STATUS_OK;
    }
    if (w->nspare > 0) {
        *b = w->spare[--w->nspare];
        return STATUS_OK;
    }
    if (buf_init(b, buf_size) != STATUS_OK) {
        INCR(metrics, worker_buf_ex);
        return STATUS_ENOMEM;
    }
    return STATUS_OK;
}

/* Takes an empty buffer back; a grown one is shrunk to the initial size. */
static void
buf_reclaim(struct worker *w, struct buf *b)
{
    if (b->begin == NULL || !buf_empty(b)) {
        return;
    }
    if (buf_capacity(b) > buf_size) {
        buf_shrink(b, buf_size);
    }
    if (w->nspare < SPARE_BUF_MAX && buf_capacity(b) == buf_size) {
        buf_clear(b);
        w->spare[w->nspare++] = *b;
        memset(b, 0, sizeof(*b));
    } else {
        buf_deinit(b);
        memset(b, 0, sizeof(*b));
    }
}

/* Brings the worker's count of buffer bytes up to date with c's buffers:
 * a few loads per event, no atomic read-modify-write. */
static void
buf_account(struct worker *w, struct conn *c)
{
    size_t now = (c->rbuf.begin != NULL ? buf_capacity(&c->rbuf) : 0) +
                 (c->wbuf.begin != NULL ? buf_capacity(&c->wbuf) : 0) +
                 c->proc_bytes;
    if (now != c->buf_bytes) {
        __atomic_store_n(&w->buf_bytes, w->buf_bytes - c->buf_bytes + now,
                __ATOMIC_RELAXED);
        c->buf_bytes = now;
    }
}

/* Brings the worker's count of transport memory (an SSL and its record
 * buffers) up to date with c's. Only at open, end of handshake and close:
 * a plain connection's transport has no memory hook and costs nothing. */
static void
tp_account(struct worker *w, struct conn *c)
{
    size_t now = c->tp != NULL && c->tp->memory != NULL && c->tp_state != NULL
                         ? c->tp->memory(c)
                         : 0;
    if (now != c->tp_bytes) {
        __atomic_store_n(&w->tp_bytes, w->tp_bytes - c->tp_bytes + now,
                __ATOMIC_RELAXED);
        c->tp_bytes = now;
    }
}

/* ---- connection lifecycle ---- */

static void
list_add(struct worker *w, struct conn *c)
{
    c->prev = NULL;
    c->next = w->conns;
    if (w->conns != NULL) {
        w->conns->prev = c;
    }
    w->conns = c;
    __atomic_store_n(&w->nconn, w->nconn + 1, __ATOMIC_RELAXED);
}

static void
list_remove(struct worker *w, struct conn *c)
{
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        w->conns = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    c->next = c->prev = NULL;
    __atomic_store_n(&w->nconn, w->nconn - 1, __ATOMIC_RELAXED);
}

static void
notify(struct worker *w, struct notifier *n)
{
    rstatus_i st = notifier_notify(n);
    if (st != STATUS_OK && st != STATUS_EAGAIN) {
        (void)w;
        INCR(metrics, worker_notify_ex);
    }
}

/* Gives c back to the server thread, which closes the socket. */
static void
ready_remove(struct worker *w, struct conn *c)
{
    for (struct conn **p = &w->ready; *p != NULL; p = &(*p)->ready_next) {
        if (*p == c) {
            *p = c->ready_next;
            break;
        }
    }
    c->ready_next = NULL;
    c->flags &= ~CONN_READY;
}

static void
ready_push(struct worker *w, struct conn *c)
{
    c->flags |= CONN_READY;
    c->ready_next = w->ready;
    w->ready = c;
}

static void
conn_close(struct worker *w, struct conn *c)
{
    event_deregister(w->evb, c->fd);
    if (c->flags & CONN_READY) {
        ready_remove(w, c); /* rare: a close while bytes were pending */
    }
    if (c->flags & CONN_HANDSHAKE) {
        w->nhandshake--;
    }
    if (c->proc->error != NULL) {
        c->proc->error(c);
    }
    transport_release(c); /* the SSL belongs to this thread: freed here */
    tp_account(w, c);
    buf_clear(&c->rbuf);
    buf_clear(&c->wbuf);
    buf_reclaim(w, &c->rbuf);
    buf_reclaim(w, &c->wbuf);
    buf_account(w, c);
    list_remove(w, c);
    INCR(metrics, worker_conn_close);
    w->closed = c;
    while (ring_array_push(w->term_ring, &c) != STATUS_OK) {
        /* the server is behind: wake it and let it drain */
        INCR(metrics, worker_term_full);
        notify(w, w->term_notify);
        sched_yield();
    }
    notify(w, w->term_notify);
}

/* Changes the epoll interest only when it differs from what is set. */
static void
conn_set_interest(struct worker *w, struct conn *c, uint32_t interest)
{
    if (c->interest == interest) {
        return;
    }
    if (event_modify(w->evb, c->fd, interest, c) != STATUS_OK) {
        log_warn("conn %" PRIu64 ": cannot change epoll interest", c->id);
        return;
    }
    c->interest = interest;
}

/* ---- read, process, write ---- */

static void conn_process(struct worker *w, struct conn *c);

/* Sends what wbuf holds. Returns STATUS_OK when it is empty, STATUS_EAGAIN
 * when bytes are left (c->want says what the transport waits for: write
 * room for TCP, maybe a read for TLS), STATUS_ERROR when the peer is
 * gone. */
static rstatus_i
conn_flush(struct worker *w, struct conn *c)
{
    struct buf *b = &c->wbuf;
    while (!buf_empty(b)) {
        ssize_t n = c->tp->send(c, b->rpos, buf_rsize(b));
        INCR(metrics, worker_write);
        if (n == STATUS_EAGAIN) {
            return STATUS_EAGAIN;
        }
        if (n < 0) {
            return STATUS_ERROR;
        }
        b->rpos += n;
        INCR_N(metrics, worker_write_byte, n);
    }
    buf_reclaim(w, b);
    c->last_ms = w->mono_ms;
    c->want = EVENT_READ;
    if (c->proc->write != NULL) {
        c->proc->write(c);
    }
    return STATUS_OK;
}

static void
conn_process(struct worker *w, struct conn *c)
{
    for (;;) {
        c->now_ms = w->now_ms;
        c->flags &= ~CONN_STALLED;
        if (buf_lend(w, &c->wbuf) != STATUS_OK) {
            conn_close(w, c);
            return;
        }
        if (c->rbuf.begin == NULL && (c->flags & CONN_HELD) &&
                buf_lend(w, &c->rbuf) != STATUS_OK) {
            conn_close(w, c); /* a request kept with its buffer returned */
            return;
        }
        if (c->rbuf.begin != NULL && c->proc->read(c, &limits) != STATUS_OK) {
            conn_close(w, c);
            return;
        }
        buf_reclaim(w, &c->rbuf);
        rstatus_i st = conn_flush(w, c);
        if (st == STATUS_ERROR) {
            conn_close(w, c);
            return;
        }
        if (st == STATUS_EAGAIN) {
            if (c->flags & CONN_STALLED) {
                INCR(metrics, worker_stall);
            }
            buf_account(w, c);
            return; /* resumes on the write event */
        }
        if (c->flags & CONN_CLOSE) {
            conn_close(w, c);
            return;
        }
        if (!(c->flags & CONN_STALLED)) {
            buf_account(w, c);
            return;
        }
        /* the stalled batch went out at once: parse the rest now */
    }
}

static void
conn_read(struct worker *w, struct conn *c)
{
    struct buf *b = &c->rbuf;
    if (buf_lend(w, b) != STATUS_OK) {
        conn_close(w, c);
        return;
    }
    if (buf_wsize(b) == 0 &&
            buf_reserve(b, buf_capacity(b), limits.rbuf_max) != STATUS_OK &&
            buf_reserve(b, 1, limits.rbuf_max) != STATUS_OK) {
        /* the processor left a full buffer of an unfinished request */
        log_debug("conn %" PRIu64 ": read buffer over %zu bytes, closing",
                c->id, limits.rbuf_max);
        INCR(metrics, worker_conn_overflow);
        conn_close(w, c);
        return;
    }
    ssize_t n = c->tp->recv(c, b->wpos, buf_wsize(b));
    if (n == STATUS_EAGAIN) {
        buf_reclaim(w, b);
        buf_account(w, c);
        return;
    }
    if (n <= 0) {
        conn_close(w, c);
        return;
    }
    b->wpos += n;
    c->last_ms = w->mono_ms;
    c->want = EVENT_READ;
    INCR(metrics, worker_read);
    INCR_N(metrics, worker_read_byte, n);
    conn_process(w, c);
}

static void
conn_write_ready(struct worker *w, struct conn *c)
{
    rstatus_i st = conn_flush(w, c);
    if (st == STATUS_EAGAIN) {
        return;
    }
    if (st != STATUS_OK || (c->flags & CONN_CLOSE)) {
        conn_close(w, c);
        return;
    }
    if (c->flags & CONN_STALLED) {
        conn_process(w, c);
    } else {
        buf_account(w, c);
    }
}

/* One step of the transport's handshake, within the batch's budget: a
 * flood of handshakes (each costs a signature) must not hold back the
 * replies of connections already served, so past the budget a handshake
 * waits, with no epoll interest, on the ready list for the next batch. */
static void
conn_handshake(struct worker *w, struct conn *c)
{
    if (w->hs_budget == 0) {
        INCR(metrics, worker_handshake_deferred);
        conn_set_interest(w, c, 0);
        ready_push(w, c);
        return;
    }
    w->hs_budget--;
    rstatus_i st = c->tp->handshake(c);
    if (st == STATUS_EAGAIN) {
        return;
    }
    if (st != STATUS_OK) {
        conn_close(w, c); /* counted and logged by the transport */
        return;
    }
    c->flags &= ~CONN_HANDSHAKE;
    w->nhandshake--;
    tp_account(w, c); /* the handshake's state is freed */
    c->want = EVENT_READ;
    c->last_ms = w->mono_ms;
    conn_read(w, c); /* the client's first request may have come along */
}

/* Every event of a connection comes here, and so does every resumption
 * from the ready list (events 0). This is the one place that handles what
 * transports want, whatever the event was:
 *  - the state, not the event, says what to do: a handshake goes on; a
 *    write buffer not yet flushed is flushed (TLS may have asked for a
 *    read to do it); else the connection reads (TLS may have asked for a
 *    write to do that);
 *  - afterwards the epoll interest becomes what the transport asked for
 *    (c->want), and a connection whose transport holds bytes that no
 *    event will announce (TLS records decrypted but not yet read) goes on
 *    the ready list, served after this batch. */
static void
conn_event(struct worker *w, struct conn *c, uint32_t events)
{
    w->closed = NULL;
    if (c->flags & CONN_KILL) {
        conn_close(w, c); /* worker_conn_kill: unsent bytes are dropped */
        return;
    }
    if (events != 0 && !(events & (EVENT_READ | EVENT_WRITE))) {
        conn_close(w, c); /* error or hang-up and nothing to read */
        return;
    }
    if (c->flags & CONN_HANDSHAKE) {
        conn_handshake(w, c);
    } else if (!buf_empty(&c->wbuf)) {
        conn_write_ready(w, c);
    } else if (c->flags & CONN_STALLED) {
        /* its processor stopped with requests in rbuf and asks to go on
         * (worker_conn_flush_later with CONN_STALLED and nothing to send:
         * a client CLIENT PAUSE held is let go) */
        conn_process(w, c);
    } else {
        conn_read(w, c); /* a hang-up shows as EOF on recv */
    }
    if (w->closed == c || (c->flags & CONN_READY)) {
        return;
    }
    conn_set_interest(w, c, c->want);
    if (c->tp->pending != NULL && !(c->flags & CONN_HANDSHAKE) &&
            buf_empty(&c->wbuf) && !(c->flags & CONN_STALLED) &&
            c->tp->pending(c) > 0) {
        ready_push(w, c);
    }
}

/* Serves the connections the ready list holds; returns true when some are
 * left for the next batch (so the loop does not wait for events). */
static bool
serve_ready(struct worker *w)
{
    struct conn *c = w->ready;
    w->ready = NULL;
    while (c != NULL) {
        struct conn *next = c->ready_next;
        c->ready_next = NULL;
        c->flags &= ~CONN_READY;
        conn_event(w, c, 0);
        c = next;
    }
    return w->ready != NULL;
}

/* ---- hand-off from the server ---- */

static void
take_new(struct worker *w)
{
    struct conn *c;
    notifier_drain(w->new_notify);
    while (ring_array_pop(w->new_ring, &c) == STATUS_OK) {
        c->owner = w;
        c->last_ms = c->start_ms = w->mono_ms;
        c->want = c->interest = EVENT_READ;
        /* the transport's state (an SSL) is made on the worker that
         * serves the connection, which spreads the cost over workers */
        rstatus_i st = transport_attach(c, c->tp);
        if (c->flags & CONN_HANDSHAKE) {
            w->nhandshake++;
        }
        if (st != STATUS_OK ||
                event_register(w->evb, c->fd, EVENT_READ, c) != STATUS_OK) {
            list_add(w, c);
            conn_close(w, c);
            continue;
        }
        list_add(w, c);
        tp_account(w, c);
        INCR(metrics, worker_conn_open);
    }
    if (hooks.wake != NULL) {
        hooks.wake(w->id); /* messages from other threads */
    }
}

/* The notifier's epoll data is w->notify_conn: a conn with no processor
 * whose owner is the worker, so one callback serves both. */
static void
worker_event(void *arg, uint32_t events)
{
    struct conn *c = arg;
    struct worker *w = c->owner;
    if (w->clock_stale) {
        /* once per batch of events, and only when there are events */
        w->now_ms = time_now_ms();
        w->mono_ms = time_mono_ms();
        w->clock_stale = false;
    }
    __atomic_store_n(&w->nevent, w->nevent + 1, __ATOMIC_RELAXED);
    if (c->proc == NULL) {
        take_new(w);
        return;
    }
    conn_event(w, c, events);
}

/* Once a second: closes connections idle past worker.idle_timeout, and
 * connections that have not finished their handshake within
 * worker.handshake_timeout of being accepted (a client that opens
 * connections and never completes them must not hold them forever). */
static void
scan_idle(struct worker *w)
{
    uint64_t timeout = workers_idle_timeout();
    bool handshakes = handshake_timeout_ms > 0 && w->nhandshake > 0;
    if ((timeout == 0 && !handshakes) ||
            w->mono_ms - w->last_idle_scan < 1000) {
        return;
    }
    w->last_idle_scan = w->mono_ms;
    struct conn *c = w->conns;
    while (c != NULL) {
        struct conn *next = c->next;
        uint64_t idle = w->mono_ms - c->last_ms;
        if (c->flags & CONN_NO_IDLE) {
            idle = 0; /* Redis never times out a subscriber */
        }
        if (handshakes && (c->flags & CONN_HANDSHAKE) &&
                idle >= handshake_timeout_ms) {
            log_debug("conn %" PRIu64 " from %s: handshake not done in "
                      "%" PRIu64 " ms, closing",
                    c->id, c->peer, idle);
            INCR(metrics, worker_handshake_timeout);
            conn_close(w, c);
        } else if (timeout > 0 && idle >= timeout) {
            INCR(metrics, worker_conn_idle);
            conn_close(w, c);
        }
        c = next;
    }
}

/* Past its share of worker.buffer_memory, a worker closes the connections
 * holding the most buffer memory until it is back under (Redis's
 * maxmemory-clients does the same). What a TLS connection's OpenSSL state
 * holds counts as buffer memory too, so idle TLS connections, which hold
 * no buffer of ours, are bounded as well. Runs between event batches, so
 * no connection is in the middle of being served. */
static void
evict_buffers(struct worker *w)
{
    while (buf_budget > 0 && w->buf_bytes + w->tp_bytes > buf_budget) {
        struct conn *big = NULL;
        size_t most = 0;
        for (struct conn *c = w->conns; c != NULL; c = c->next) {
            if (big == NULL || c->buf_bytes + c->tp_bytes > most) {
                big = c;
                most = c->buf_bytes + c->tp_bytes;
            }
        }
        if (big == NULL || most == 0) {
            return;
        }
        log_warn("conn %" PRIu64 " from %s: closed, holding %zu bytes of "
                 "buffers (%zu of them TLS state) with all connections over "
                 "worker.buffer_memory",
                big->id, big->peer, most, big->tp_bytes);
        INCR(metrics, worker_conn_evict_buf);
        conn_close(w, big);
    }
}

static void
close_all(struct worker *w)
{
    while (w->conns != NULL) {
        struct conn *c = w->conns;
        if (!buf_empty(&c->wbuf)) {
            /* one last non-blocking attempt to deliver what was answered */
            if (!(c->flags & CONN_HANDSHAKE)) {
                ssize_t n = c->tp->send(c, c->wbuf.rpos, buf_rsize(&c->wbuf));
                (void)n;
            }
        }
        conn_close(w, c);
    }
}

static void *
worker_main(void *arg)
{
    struct worker *w = arg;
    char name[16];
    snprintf(name, sizeof(name), "worker-%u", w->id);
    pthread_setname_np(pthread_self(), name);
    metric_thread_register(); /* counters without locked adds */
    msg_set_sender(w->id);
    if (hooks.start != NULL) {
        hooks.start(w->id);
    }
    w->now_ms = time_now_ms();
    w->mono_ms = time_mono_ms();
    while (!__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE)) {
        w->hs_budget = handshake_batch;
        /* what is ready without an event goes first, and while some is
         * left the loop only polls for events */
        bool more = w->ready != NULL && serve_ready(w);
        w->clock_stale = true;
        int timeout =
                workers_idle_timeout() > 0 || w->nhandshake > 0 ? 1000 : 5000;
        if (hooks.wait_ms != NULL) {
            int bound = hooks.wait_ms(w->id, w->now_ms);
            timeout = bound >= 0 && bound < timeout ? bound : timeout;
        }
        int n = event_wait(w->evb, more ? 0 : timeout);
        if (w->clock_stale) { /* timed out: no event read the clock */
            w->now_ms = time_now_ms();
            w->mono_ms = time_mono_ms();
        }
        INCR(metrics, worker_event_loop);
        if (n > 0) {
            INCR_N(metrics, worker_event_total, n);
        }
        scan_idle(w);
        evict_buffers(w);
        if (hooks.loop != NULL) {
            hooks.loop(w->id, w->now_ms);
        }
    }
    take_new(w);
    close_all(w);
    if (hooks.stop != NULL) {
        hooks.stop(w->id);
    }
    return NULL;
}

/* ---- setup and control ---- */

static rstatus_i
worker_init(struct worker *w, unsigned id, int cpu, size_t ring_size)
{
    w->id = id;
    w->cpu = cpu;
    w->evb = event_base_create(nevent, worker_event);
    w->new_ring = ring_array_create(sizeof(struct conn *), ring_size);
    /* the term ring holds every connection a worker may give back at once
     * without waiting: a burst of closes is common at shutdown */
    w->term_ring = ring_array_create(sizeof(struct conn *), ring_size * 4);
    w->new_notify = notifier_create();
    w->term_notify = notifier_create();
    if (w->evb == NULL || w->new_ring == NULL || w->term_ring == NULL ||
            w->new_notify == NULL || w->term_notify == NULL) {
        return STATUS_ENOMEM;
    }
    conn_reset(&w->notify_conn);
    w->notify_conn.owner = w;
    w->notify_conn.fd = notifier_fd(w->new_notify);
    return event_register(
            w->evb, w->notify_conn.fd, EVENT_READ, &w->notify_conn);
}

static void
worker_deinit(struct worker *w)
{
    if (w->evb != NULL && w->new_notify != NULL) {
        event_deregister(w->evb, notifier_fd(w->new_notify));
    }
    event_base_destroy(&w->evb);
    ring_array_destroy(&w->new_ring);
    ring_array_destroy(&w->term_ring);
    notifier_destroy(&w->new_notify);
    notifier_destroy(&w->term_notify);
    for (unsigned i = 0; i < w->nspare; i++) {
        buf_deinit(&w->spare[i]);
    }
    w->nspare = 0;
}

static unsigned
online_cpus(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0) {
        return (unsigned)CPU_COUNT(&set);
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1;
}

rstatus_i
worker_parse_cpus(const char *list, int *cpus, size_t cap, size_t *n, char *err,
        size_t errlen)
{
    cpu_set_t allowed;
    CPU_ZERO(&allowed);
    sched_getaffinity(0, sizeof(allowed), &allowed);
    *n = 0;
    const char *p = list;
    while (*p != '\0') {
        char *end;
        errno = 0;
        long lo = strtol(p, &end, 10);
        long hi = lo;
        if (end == p || errno != 0 || lo < 0) {
            snprintf(err, errlen, "not a CPU list: %s", list);
            return STATUS_EINVAL;
        }
        if (*end == '-') {
            p = end + 1;
            hi = strtol(p, &end, 10);
            if (end == p || hi < lo) {
                snprintf(err, errlen, "bad range in %s", list);
                return STATUS_EINVAL;
            }
        }
        for (long cpu = lo; cpu <= hi; cpu++) {
            if (cpu >= MAX_CPUS || !CPU_ISSET((int)cpu, &allowed)) {
                snprintf(err, errlen,
                        "CPU %ld is not available to this process", cpu);
                return STATUS_EINVAL;
            }
            if (*n == cap) {
                snprintf(err, errlen, "more than %zu CPUs", cap);
                return STATUS_EINVAL;
            }
            cpus[(*n)++] = (int)cpu;
        }
        p = end;
        if (*p == ',') {
            p++;
        } else if (*p != '\0') {
            snprintf(err, errlen, "not a CPU list: %s", list);
            return STATUS_EINVAL;
        }
    }
    return STATUS_OK;
}

rstatus_i
workers_options_check(const worker_options_st *o, const struct option **bad,
        char *why, size_t cap)
{
    uint64_t threads = option_uint(&o->worker_threads);
    if (threads > WORKERS_MAX) {
        return option_refuse(&o->worker_threads, bad, why, cap,
                "%" PRIu64 ": more than the %d worker threads the store "
                "serves",
                threads, WORKERS_MAX);
    }
    uint64_t events = option_uint(&o->worker_nevent);
    if (events == 0 || events > INT_MAX) {
        return option_refuse(&o->worker_nevent, bad, why, cap,
                "%" PRIu64 ": not in 1..%d", events, INT_MAX);
    }
    if (option_uint(&o->worker_ring_size) == 0) {
        return option_refuse(&o->worker_ring_size, bad, why, cap,
                "0: a worker needs at least one slot for new connections");
    }
    if (option_uint(&o->worker_buf_size) == 0) {
        /* a buffer of 0 bytes reads nothing: every client would hang */
        return option_refuse(&o->worker_buf_size, bad, why, cap,
                "0: a connection buffer needs at least 1 byte (it grows "
                "on demand)");
    }
    if (option_uint(&o->worker_handshake_batch) == 0) {
        return option_refuse(&o->worker_handshake_batch, bad, why, cap,
                "0 would never finish a TLS handshake; give 1 or more");
    }
    static int cpus[MAX_CPUS]; /* only counted here */
    size_t ncpu;
    if (worker_parse_cpus(option_str(&o->worker_cpus), cpus, MAX_CPUS, &ncpu,
                why, cap) != STATUS_OK) {
        *bad = &o->worker_cpus;
        return STATUS_EINVAL;
    }
    return STATUS_OK;
}

uint64_t
workers_idle_timeout(void)
{
    return __atomic_load_n(&idle_timeout_ms, __ATOMIC_RELAXED);
}

void
workers_set_idle_timeout(uint64_t ms)
{
    __atomic_store_n(&idle_timeout_ms, ms, __ATOMIC_RELAXED);
}

unsigned
workers_auto_count(void)
{
    unsigned n = online_cpus();
    return n > WORKERS_MAX ? WORKERS_MAX : n;
}

rstatus_i
workers_setup(const worker_options_st *options, worker_metrics_st *m,
        const struct worker_hooks *h)
{
    worker_options_st defaults = {WORKER_OPTION(INIT_OPTION)};
    if (options == NULL) {
        options = &defaults;
    }
    const struct option *bad;
    char why[256], name[64];
    if (workers_options_check(options, &bad, why, sizeof(why)) != STATUS_OK) {
        log_crit("%s: %s", option_dotted_name(bad, name, sizeof(name)), why);
        return STATUS_EINVAL;
    }
    metrics = m;
    hooks = h != NULL ? *h : (struct worker_hooks){0};
    nworker = (unsigned)option_uint(&options->worker_threads);
    if (nworker == 0) {
        nworker = workers_auto_count();
    }
    buf_size = option_uint(&options->worker_buf_size);
    limits.rbuf_max = option_uint(&options->worker_rbuf_max);
    limits.wbuf_high = option_uint(&options->worker_wbuf_high);
    limits.wbuf_max = option_uint(&options->worker_wbuf_max);
    workers_set_idle_timeout(option_uint(&options->worker_idle_timeout));
    handshake_timeout_ms = option_uint(&options->worker_handshake_timeout);
    handshake_batch = (unsigned)option_uint(&options->worker_handshake_batch);
    nevent = (int)option_uint(&options->worker_nevent);
    buf_budget = option_uint(&options->worker_buffer_memory) / nworker;
    /* one connection with a full read buffer and a write buffer at its
     * high mark always fits, so a single large request is never refused */
    size_t floor = limits.rbuf_max + limits.wbuf_high + 2 * buf_size;
    if (buf_budget > 0 && buf_budget < floor) {
        log_warn("worker.buffer_memory gives each of %u workers %zu bytes, "
                 "less than rbuf_max + wbuf_high; using %zu",
                nworker, buf_budget, floor);
        buf_budget = floor;
    }
    limits.buf_budget = buf_budget;
    int cpus[MAX_CPUS];
    size_t ncpu = 0;
    if (worker_parse_cpus(option_str(&options->worker_cpus), cpus, MAX_CPUS,
                &ncpu, why, sizeof(why)) != STATUS_OK) {
        return STATUS_EINVAL; /* checked above: cannot happen */
    }
    workers = mm_aligned_alloc(CACHE_LINE, sizeof(*workers) * nworker);
    if (workers == NULL) {
        return STATUS_ENOMEM;
    }
    memset(workers, 0, sizeof(*workers) * nworker);
    size_t ring = option_uint(&options->worker_ring_size);
    for (unsigned i = 0; i < nworker; i++) {
        int cpu = ncpu > 0 ? cpus[i % ncpu] : -1;
        if (worker_init(&workers[i], i, cpu, ring) != STATUS_OK) {
            log_crit("cannot set up worker %u", i);
            return STATUS_ENOMEM;
        }
    }
    log_info("%u workers, buffers %zu bytes (read cap %zu)", nworker, buf_size,
            limits.rbuf_max);
    return STATUS_OK;
}

void
workers_teardown(void)
{
    for (unsigned i = 0; workers != NULL && i < nworker; i++) {
        worker_deinit(&workers[i]);
    }
    mm_free(&workers);
    nworker = 0;
    metrics = NULL;
}

unsigned
workers_count(void)
{
    return nworker;
}

struct worker *
worker_get(unsigned id)
{
    return id < nworker ? &workers[id] : NULL;
}

rstatus_i
workers_start(void)
{
    for (unsigned i = 0; i < nworker; i++) {
        struct worker *w = &workers[i];
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            log_crit("cannot start worker %u: %s", i, strerror(errno));
            return STATUS_ERROR;
        }
        w->started = true;
        /* named here as well as in the thread: by the time startup says
         * it is ready, every worker shows its name (ps, top -H) */
        char name[16];
        snprintf(name, sizeof(name), "worker-%u", w->id);
        pthread_setname_np(w->thread, name);
        if (w->cpu >= 0) {
            cpu_set_t set;
            CPU_ZERO(&set);
            CPU_SET(w->cpu, &set);
            int rc = pthread_setaffinity_np(w->thread, sizeof(set), &set);
            if (rc != 0) {
                log_warn("worker %u: cannot pin to CPU %d: %s", i, w->cpu,
                        strerror(rc));
            } else {
                log_info("worker %u pinned to CPU %d", i, w->cpu);
            }
        }
    }
    return STATUS_OK;
}

void
workers_stop(void)
{
    for (unsigned i = 0; i < nworker; i++) {
        __atomic_store_n(&workers[i].stop, true, __ATOMIC_RELEASE);
        notifier_notify(workers[i].new_notify);
    }
}

void
workers_join(void)
{
    for (unsigned i = 0; i < nworker; i++) {
        if (workers[i].started) {
            pthread_join(workers[i].thread, NULL);
            workers[i].started = false;
        }
    }
}

rstatus_i
worker_give(struct worker *w, struct conn *c)
{
    if (ring_array_push(w->new_ring, &c) != STATUS_OK) {
        return STATUS_EFULL;
    }
    notify(w, w->new_notify);
    return STATUS_OK;
}

void
worker_wake(struct worker *w)
{
    notify(w, w->new_notify);
}

unsigned
worker_id(const struct worker *w)
{
    return w->id;
}

rstatus_i
worker_conn_wbuf(struct conn *c)
{
    return buf_lend(c->owner, &c->wbuf);
}

/* The ready list serves c at the top of the next loop turn (conn_event
 * with no event): it flushes wbuf, or closes c when it is to be killed. */
#define BUSY_EVENTS 64

void
worker_serve_while_busy(struct conn *running)
{
    struct worker *w = running->owner;
    if (w == NULL) {
        return; /* a connection no worker serves (unit tests) */
    }
    void *arg[BUSY_EVENTS];
    uint32_t events[BUSY_EVENTS];
    /* its own arrays: the loop's batch (w->evb's) is still being served */
    int n = event_ready_now(w->evb, arg, events, BUSY_EVENTS);
    for (int i = 0; i < n; i++) {
        struct conn *c = arg[i];
        if (c == running || c->proc == NULL || c->proc->busy == NULL ||
                (c->flags & (CONN_HANDSHAKE | CONN_KILL | CONN_CLOSE |
                                    CONN_STALLED | CONN_READY)) ||
                !buf_empty(&c->wbuf) || events[i] != EVENT_READ) {
            continue; /* waits for the loop, after the long request */
        }
        struct buf *b = &c->rbuf;
        if (buf_lend(w, b) != STATUS_OK ||
                (buf_wsize(b) == 0 &&
                        buf_reserve(b, 1, limits.rbuf_max) != STATUS_OK)) {
            continue;
        }
        ssize_t got = c->tp->recv(c, b->wpos, buf_wsize(b));
        if (got <= 0) {
            buf_reclaim(w, b);
            continue; /* EAGAIN, end of file or error: the loop's, later */
        }
        b->wpos += got;
        c->last_ms = w->mono_ms;
        INCR(metrics, worker_read);
        INCR_N(metrics, worker_read_byte, got);
        if (buf_lend(w, &c->wbuf) != STATUS_OK ||
                c->proc->busy(c, &limits) != STATUS_OK) {
            worker_conn_kill(c); /* closed by the loop, not here */
            continue;
        }
        buf_reclaim(w, b);
        rstatus_i st = conn_flush(w, c);
        if (st == STATUS_ERROR ||
                (st == STATUS_OK && (c->flags & CONN_CLOSE))) {
            worker_conn_kill(c); /* closed by the loop, after its reply */
        } else if (st == STATUS_EAGAIN) {
            conn_set_interest(w, c, c->want);
        }
        buf_account(w, c);
    }
}

void
worker_conn_flush_later(struct conn *c)
{
    struct worker *w = c->owner;
    buf_account(w, c);
    if (!(c->flags & (CONN_READY | CONN_HANDSHAKE))) {
        ready_push(w, c);
    }
}

void
worker_conn_kill(struct conn *c)
{
    c->flags |= CONN_KILL;
    if (!(c->flags & CONN_READY)) {
        ready_push(c->owner, c);
    }
}

static struct conn *
find_conn(struct worker *w, uint64_t id)
{
    for (struct conn *c = w->conns; c != NULL; c = c->next) {
        if (c->id == id) {
            return c;
        }
    }
    return NULL;
}

struct conn *
worker_conn_by_id(struct worker *w, uint64_t id)
{
    struct conn *c = find_conn(w, id);
    return c != NULL && !(c->flags & CONN_KILL) ? c : NULL;
}

bool
worker_kill_id(struct worker *w, uint64_t id)
{
    struct conn *c = find_conn(w, id);
    if (c != NULL) {
        worker_conn_kill(c);
    }
    return c != NULL;
}

bool
worker_has_id(struct worker *w, uint64_t id)
{
    struct conn *c = find_conn(w, id);
    return c != NULL && !(c->flags & CONN_KILL); /* not one closing now */
}

rstatus_i
worker_describe(struct worker *w, struct buf *b, size_t max)
{
    for (struct conn *c = w->conns; c != NULL; c = c->next) {
        if (c->flags & CONN_KILL) {
            continue; /* closes at the next turn */
        }
        char line[256];
        uint64_t now = w->mono_ms;
        int n = snprintf(line, sizeof(line),
                "client id=%" PRIu64 " addr=%s proto=%s worker=%u age=%" PRIu64
                " idle=%" PRIu64 " rbuf=%zu/%zu wbuf=%zu/%zu\r\n",
                c->id, c->peer, c->proc != NULL ? c->proc->name : "-", w->id,
                (now - c->start_ms) / 1000,
                (now > c->last_ms ? now - c->last_ms : 0) / 1000,
                buf_rsize(&c->rbuf), buf_capacity(&c->rbuf),
                buf_rsize(&c->wbuf), buf_capacity(&c->wbuf));
        rstatus_i st = buf_append(
                b, line, (size_t)n < sizeof(line) ? (size_t)n : 0, max);
        if (st != STATUS_OK) {
            return st;
        }
    }
    return STATUS_OK;
}

rstatus_i
worker_take_closed(struct worker *w, struct conn **c)
{
    return ring_array_pop(w->term_ring, c);
}

rstatus_i
worker_take_unserved(struct worker *w, struct conn **c)
{
    ASSERT(!w->started); /* the ring's consumer is gone */
    return ring_array_pop(w->new_ring, c);
}

int
worker_term_fd(const struct worker *w)
{
    return notifier_fd(w->term_notify);
}

void
worker_term_drain(struct worker *w)
{
    notifier_drain(w->term_notify);
}

/* The sum over workers of the size_t at offset in struct worker, each
 * written by its worker with an atomic store; any thread. */
static size_t
workers_sum(size_t offset)
{
    size_t sum = 0;
    for (unsigned i = 0; i < nworker; i++) {
        size_t *field = (size_t *)((char *)&workers[i] + offset);
        sum += __atomic_load_n(field, __ATOMIC_RELAXED);
    }
    return sum;
}

size_t
workers_buf_bytes(void)
{
    return workers_sum(offsetof(struct worker, buf_bytes));
}

size_t
workers_tls_bytes(void)
{
    return workers_sum(offsetof(struct worker, tp_bytes));
}

uint64_t
worker_nconn(const struct worker *w)
{
    return __atomic_load_n(&w->nconn, __ATOMIC_RELAXED);
}

uint64_t
worker_nevent(const struct worker *w)
{
    return __atomic_load_n(&w->nevent, __ATOMIC_RELAXED);
}
