/* SPDX-License-Identifier: Apache-2.0 */
/* Server thread: accept, hand off to workers, reclaim closed connections. */
#include "core/server.h"

#include "base/event.h"
#include "base/log.h"
#include "base/mm.h"
#include "base/notifier.h"
#include "base/pool.h"
#include "base/time.h"
#include "core/conn.h"
#include "core/transport.h"
#include "core/worker.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* epoll data tags: listeners by pointer, the rest by these markers */
static char term_tag;    /* a worker gave connections back */
static char control_tag; /* stop accepting / stop */

static server_metrics_st *metrics;
static struct listener *listeners;
static unsigned nlistener;
static struct event_base *evb;
static struct pool *conn_pool;
static struct notifier *control;
static pthread_t thread;
static bool started;
static bool accepting; /* server thread only */
static bool stop_accepting_req;
static bool stopped_accepting; /* set by the server thread once closed */
static bool stop_req;
static uint64_t max_conns;
static uint64_t nconn;        /* server thread only */
static uint64_t *worker_load; /* connections per worker, server thread only */
static unsigned rr_next;
static uint64_t next_id = 1;
static struct conn *pending; /* accepted, waiting for room in a ring */
/* A descriptor held in reserve: out of descriptors, the server frees it to
 * accept and close the waiting connection (counted), instead of leaving
 * it in the backlog where level-triggered epoll would spin on it. */
static int spare_fd = -1;

static void
spare_open(void)
{
    if (spare_fd < 0) {
        spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    }
}

/* Out of descriptors: refuses one pending connection through the spare. */
static bool
refuse_with_spare(struct listener *l)
{
    if (spare_fd < 0) {
        return false;
    }
    close(spare_fd);
    spare_fd = -1;
    rstatus_i st = tcp_reject(l->fd);
    spare_open();
    return st == STATUS_OK;
}

/* Refusals for max_connections are logged at most once per this long,
 * with how many there were since the last line: a client retrying in a
 * loop must not flood the log. */
#define REFUSAL_LOG_MS 10000
static uint64_t refusal_logged_ms; /* server thread only */
static uint64_t refusal_unlogged;

static void
refusal_log(const struct listener *l)
{
    refusal_unlogged++;
    uint64_t now = time_mono_ms();
    if (refusal_logged_ms != 0 && now - refusal_logged_ms < REFUSAL_LOG_MS) {
        return;
    }
    log_warn("%s: server.max_connections (%" PRIu64
             ") reached: refused %" PRIu64
             " connection(s) since the last report",
            l->name, max_conns, refusal_unlogged);
    refusal_logged_ms = now;
    refusal_unlogged = 0;
}

/* A connection over max_connections: its protocol's error line (best
 * effort: a fresh socket's send buffer takes it at once), then the close. */
static void
refuse_over_max(struct listener *l, int fd)
{
    const char *msg = l->proc->refusal;
    if (msg != NULL) {
        ssize_t n = send(fd, msg, strlen(msg), MSG_DONTWAIT | MSG_NOSIGNAL);
        (void)n; /* a client already gone is refused all the same */
    }
    tcp_close(fd);
    refusal_log(l);
}

static void server_event(void *arg, uint32_t events);

static void
set_listening(bool on)
{
    for (unsigned i = 0; i < nlistener; i++) {
        if (listeners[i].fd >= 0) {
            event_modify(
                    evb, listeners[i].fd, on ? EVENT_READ : 0, &listeners[i]);
        }
    }
}

/* Least connections; round robin among equals. */
static unsigned
pick_worker(void)
{
    unsigned n = workers_count();
    unsigned best = rr_next % n;
    for (unsigned k = 1; k < n; k++) {
        unsigned i = (rr_next + k) % n;
        if (worker_load[i] < worker_load[best]) {
            best = i;
        }
    }
    rr_next = best + 1;
    return best;
}

/* Gives c to a worker; tries each once. STATUS_EFULL if every ring is. */
static rstatus_i
hand_off(struct conn *c)
{
    unsigned n = workers_count();
    unsigned first = pick_worker();
    for (unsigned k = 0; k < n; k++) {
        unsigned i = (first + k) % n;
        if (worker_give(worker_get(i), c) == STATUS_OK) {
            worker_load[i]++;
            return STATUS_OK;
        }
    }
    return STATUS_EFULL;
}

static void
reclaim(struct conn *c)
{
    transport_release(c); /* a worker released it, unless never served */
    tcp_close(c->fd);
    c->fd = -1;
    for (unsigned i = 0; i < workers_count(); i++) {
        if (worker_get(i) == c->owner) {
            worker_load[i]--;
        }
    }
    pool_return(conn_pool, c);
    nconn--;
    UPDATE_VAL(metrics, server_conn_curr, nconn);
    INCR(metrics, server_conn_reclaim);
}

static void
reclaim_all(void)
{
    for (unsigned i = 0; i < workers_count(); i++) {
        struct worker *w = worker_get(i);
        struct conn *c;
        worker_term_drain(w);
        while (worker_take_closed(w, &c) == STATUS_OK) {
            reclaim(c);
        }
    }
}

static void
peer_name(struct conn *c)
{
    struct tcp_addr peer;
    peer.len = sizeof(peer.ss);
    if (getpeername(c->fd, (struct sockaddr *)&peer.ss, &peer.len) == 0) {
        tcp_addr_str(&peer, c->peer, sizeof(c->peer));
    }
}

/* Accepts until EAGAIN or until the rings are full. */
static void
accept_all(struct listener *l)
{
    while (accepting && pending == NULL) {
        if (nconn >= max_conns) {
            /* counted before the close: a client that sees the refusal
             * and then reads the stats finds it counted */
            int rfd = tcp_accept(l->fd);
            if (rfd == STATUS_ENOMEM) {
                INCR(metrics, server_conn_refused_max);
                if (refuse_with_spare(l)) {
                    continue;
                }
                return;
            }
            if (rfd < 0) {
                return;
            }
            INCR(metrics, server_conn_refused_max);
            refuse_over_max(l, rfd);
            continue;
        }
        int fd = tcp_accept(l->fd);
        if (fd == STATUS_EAGAIN) {
            return;
        }
        if (fd < 0) {
            if (fd == STATUS_ENOMEM) {
                INCR(metrics, server_accept_fd_ex);
                log_debug("%s: out of descriptors, refusing", l->name);
                if (refuse_with_spare(l)) {
                    continue;
                }
                return;
            }
            INCR(metrics, server_accept_ex);
            continue;
        }
        struct conn *c = pool_borrow(conn_pool);
        if (c == NULL) {
            INCR(metrics, server_conn_refused_pool);
            tcp_close(fd);
            continue;
        }
        conn_reset(c);
        c->fd = fd;
        c->id = next_id++;
        c->proc = l->proc;
        c->tp = l->tp != NULL ? l->tp : &transport_tcp;
        c->listener = (uint32_t)(l - listeners);
        peer_name(c);
        nconn++;
        UPDATE_VAL(metrics, server_conn_curr, nconn);
        INCR(metrics, server_conn_total);
        __atomic_store_n(&l->accepted, l->accepted + 1, __ATOMIC_RELAXED);
        if (hand_off(c) != STATUS_OK) {
            /* every worker is behind: hold this one and stop accepting;
             * new connections wait in the listen backlog meanwhile */
            INCR(metrics, server_ring_full);
            pending = c;
            set_listening(false);
        }
    }
}

static void
retry_pending(void)
{
    if (pending != NULL && hand_off(pending) == STATUS_OK) {
        pending = NULL;
        if (accepting) {
            set_listening(true);
        }
    }
}

static void
close_listeners(void)
{
    for (unsigned i = 0; i < nlistener; i++) {
        if (listeners[i].fd >= 0) {
            event_deregister(evb, listeners[i].fd);
            tcp_close(listeners[i].fd);
            listeners[i].fd = -1;
            if (tcp_addr_is_unix(&listeners[i].addr)) {
                unlink(tcp_addr_path(&listeners[i].addr));
            }
        }
    }
}

static void
server_event(void *arg, uint32_t events)
{
    (void)events;
    if (arg == &term_tag) {
        reclaim_all();
        retry_pending();
    } else if (arg == &control_tag) {
        notifier_drain(control);
        if (__atomic_load_n(&stop_accepting_req, __ATOMIC_ACQUIRE) &&
                accepting) {
            accepting = false;
            close_listeners();
            __atomic_store_n(&stopped_accepting, true, __ATOMIC_RELEASE);
        }
    } else {
        accept_all(arg);
    }
}

static void *
server_main(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "server");
    metric_thread_register(); /* counters without locked adds */
    while (!__atomic_load_n(&stop_req, __ATOMIC_ACQUIRE)) {
        /* a held connection is retried often; otherwise wake rarely */
        event_wait(evb, pending != NULL ? 1 : 1000);
        INCR(metrics, server_event_loop);
        retry_pending();
    }
    return NULL;
}

static rstatus_i
bind_all(int backlog)
{
    for (unsigned i = 0; i < nlistener; i++) {
        char err[256];
        char addr[64];
        struct listener *l = &listeners[i];
        l->fd = tcp_listen(&l->addr, backlog, err, sizeof(err));
        if (l->fd < 0) {
            log_crit("%s listener %s: %s", l->name,
                    tcp_addr_str(&l->addr, addr, sizeof(addr)), err);
            return STATUS_ERROR;
        }
        if (event_register(evb, l->fd, EVENT_READ, l) != STATUS_OK) {
            return STATUS_ERROR;
        }
        log_info("%s listening on %s", l->name,
                tcp_addr_str(&l->addr, addr, sizeof(addr)));
    }
    return STATUS_OK;
}

rstatus_i
server_setup(const server_options_st *options, server_metrics_st *m,
        struct listener *ls, unsigned n)
{
    server_options_st defaults = {SERVER_OPTION(INIT_OPTION)};
    if (options == NULL) {
        options = &defaults;
    }
    metrics = m;
    listeners = ls;
    nlistener = n;
    max_conns = option_uint(&options->server_max_connections);
    for (unsigned i = 0; i < n; i++) {
        ls[i].fd = -1;
    }
    evb = event_base_create(1024, server_event);
    conn_pool = pool_create(sizeof(struct conn), 0);
    control = notifier_create();
    worker_load = mm_zalloc(sizeof(*worker_load) * (workers_count() + 1));
    if (evb == NULL || conn_pool == NULL || control == NULL ||
            worker_load == NULL) {
        log_crit("server: out of memory at setup");
        return STATUS_ENOMEM;
    }
    event_register(evb, notifier_fd(control), EVENT_READ, &control_tag);
    for (unsigned i = 0; i < workers_count(); i++) {
        event_register(
                evb, worker_term_fd(worker_get(i)), EVENT_READ, &term_tag);
    }
    accepting = true;
    spare_open();
    return bind_all((int)option_uint(&options->server_backlog));
}

rstatus_i
server_start(void)
{
    if (pthread_create(&thread, NULL, server_main, NULL) != 0) {
        log_crit("cannot start the server thread: %s", strerror(errno));
        return STATUS_ERROR;
    }
    pthread_setname_np(thread, "server"); /* named before ready, too */
    started = true;
    return STATUS_OK;
}

void
server_stop_accepting(void)
{
    __atomic_store_n(&stop_accepting_req, true, __ATOMIC_RELEASE);
    if (control == NULL || !started) {
        return;
    }
    notifier_notify(control);
    /* wait for the server thread to close the listeners, so no connection
     * is handed to a worker after the workers are told to stop */
    while (!__atomic_load_n(&stopped_accepting, __ATOMIC_ACQUIRE)) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
}

void
server_stop(void)
{
    __atomic_store_n(&stop_req, true, __ATOMIC_RELEASE);
    notifier_notify(control);
    if (started) {
        pthread_join(thread, NULL);
        started = false;
    }
    reclaim_all();
    for (unsigned i = 0; i < workers_count(); i++) {
        struct conn *c;
        while (worker_take_unserved(worker_get(i), &c) == STATUS_OK) {
            reclaim(c); /* handed over as the worker stopped */
        }
    }
    if (pending != NULL) {
        reclaim(pending); /* never reached a worker */
        pending = NULL;
    }
}

void
server_teardown(void)
{
    if (evb != NULL) {
        close_listeners();
        if (control != NULL) {
            event_deregister(evb, notifier_fd(control));
        }
        for (unsigned i = 0; i < workers_count(); i++) {
            event_deregister(evb, worker_term_fd(worker_get(i)));
        }
    }
    event_base_destroy(&evb);
    pool_destroy(&conn_pool);
    notifier_destroy(&control);
    mm_free(&worker_load);
    if (spare_fd >= 0) {
        close(spare_fd);
        spare_fd = -1;
    }
    accepting = false;
    stop_req = false;
    stop_accepting_req = false;
    stopped_accepting = false;
    nconn = 0;
    metrics = NULL;
}

uint64_t
server_max_connections(void)
{
    return max_conns;
}
