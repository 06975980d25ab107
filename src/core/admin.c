/* SPDX-License-Identifier: Apache-2.0 */
/* Admin thread: operators' connections, periodic jobs and signals. */
#include "core/admin.h"

#include "base/event.h"
#include "base/log.h"
#include "base/mm.h"
#include "base/notifier.h"
#include "base/tcp.h"
#include "base/time.h"
#include "base/util.h"
#include "core/conn.h"
#include "core/tls.h"
#include "core/transport.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#define ADMIN_BUF_SIZE 4096
#define ADMIN_RBUF_MAX (64 * KiB)
#define ADMIN_WBUF_MAX (16 * MiB)

static admin_metrics_st *metrics;
static const struct processor *admin_proc;
static struct event_base *evb;
static struct timing_wheel *wheel;
static struct notifier *wake;
static int listen_fd = -1;
static int tls_fd = -1; /* admin.tls_listen */
static int sig_fd = -1;
static int bound_port;
/* A descriptor in reserve, so an operator can still connect when client
 * connections have used up every other one: that is when stats matter. */
static int spare_fd = -1;

static void
spare_open(void)
{
    if (spare_fd < 0) {
        spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    }
}
static bool stop_req;
static struct conn *conns;
static uint64_t nconn;
static uint64_t max_conns;
static uint64_t idle_timeout_ms;
static uint64_t handshake_timeout_ms;
static uint64_t last_idle_scan;
static uint64_t next_id = 1;
static const struct proc_limits limits = {
        ADMIN_RBUF_MAX, ADMIN_WBUF_MAX, ADMIN_WBUF_MAX, 0};

/* epoll data tags */
static char listen_tag;
static char tls_tag;
static char signal_tag;
static char wake_tag;

rstatus_i
admin_signals_block(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1); /* memcached's graceful stop */
    sigaddset(&set, SIGUSR2); /* would kill the server by default */
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0) {
        return STATUS_ERROR;
    }
    signal(SIGPIPE, SIG_IGN);
    return STATUS_OK;
}

static void
admin_close(struct conn *c)
{
    event_deregister(evb, c->fd);
    if (admin_proc->error != NULL) {
        admin_proc->error(c);
    }
    transport_release(c);
    tcp_close(c->fd);
    buf_deinit(&c->rbuf);
    buf_deinit(&c->wbuf);
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        conns = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    mm_free(&c);
    nconn--;
    DECR(metrics, admin_conn_curr);
    spare_open(); /* the reserve comes back as soon as it can */
}

static void
admin_interest(struct conn *c, uint32_t interest)
{
    if (c->interest != interest &&
            event_modify(evb, c->fd, interest, c) == STATUS_OK) {
        c->interest = interest;
    }
}

/* STATUS_OK when wbuf is empty, EAGAIN when waiting for what the
 * transport wants (c->want), ERROR. */
static rstatus_i
admin_flush(struct conn *c)
{
    while (!buf_empty(&c->wbuf)) {
        ssize_t n = c->tp->send(c, c->wbuf.rpos, buf_rsize(&c->wbuf));
        if (n == STATUS_EAGAIN) {
            admin_interest(c, c->want);
            return STATUS_EAGAIN;
        }
        if (n < 0) {
            return STATUS_ERROR;
        }
        c->wbuf.rpos += n;
        c->last_ms = time_mono_ms();
    }
    buf_clear(&c->wbuf);
    admin_interest(c, EVENT_READ);
    return STATUS_OK;
}

static void
admin_process(struct conn *c)
{
    c->now_ms = time_now_ms();
    if (admin_proc->read(c, &limits) != STATUS_OK) {
        admin_close(c);
        return;
    }
    if (buf_empty(&c->rbuf)) {
        buf_clear(&c->rbuf);
    }
    rstatus_i st = admin_flush(c);
    if (st == STATUS_ERROR || (st == STATUS_OK && (c->flags & CONN_CLOSE))) {
        admin_close(c);
    }
}

static void
admin_read(struct conn *c)
{
    /* reads until the transport holds nothing more (TLS may hold records
     * that no event will announce): admin requests are small, so all of
     * it fits the read buffer or the connection is over its cap */
    do {
        if (buf_wsize(&c->rbuf) == 0 &&
                buf_reserve(&c->rbuf, buf_capacity(&c->rbuf), ADMIN_RBUF_MAX) !=
                        STATUS_OK) {
            admin_close(c); /* longer than anything we answer */
            return;
        }
        ssize_t n = c->tp->recv(c, c->rbuf.wpos, buf_wsize(&c->rbuf));
        if (n == STATUS_EAGAIN) {
            admin_interest(c, c->want);
            return;
        }
        if (n <= 0) {
            admin_close(c);
            return;
        }
        c->rbuf.wpos += n;
    } while (c->tp->pending != NULL && c->tp->pending(c) > 0);
    c->last_ms = time_mono_ms();
    admin_interest(c, EVENT_READ);
    admin_process(c);
}

/* Accepts one admin connection, spending the spare descriptor when the
 * process has run out. */
static int
admin_accept_one(int lfd)
{
    int fd = tcp_accept(lfd);
    if (fd == STATUS_ENOMEM && spare_fd >= 0) {
        close(spare_fd);
        spare_fd = -1;
        fd = tcp_accept(lfd);
    }
    return fd;
}

static void
admin_accept(int lfd, const struct transport *tp)
{
    for (;;) {
        int fd = admin_accept_one(lfd);
        if (fd < 0) {
            return; /* EAGAIN, or an error retried on the next event */
        }
        if (nconn >= max_conns) {
            /* counted before the close, so a refused client that asks
             * again finds it counted */
            INCR(metrics, admin_conn_refused);
            log_debug("admin: max_connections %" PRIu64 " reached, refused",
                    max_conns);
            tcp_close(fd);
            continue;
        }
        struct conn *c = mm_zalloc(sizeof(*c));
        if (c == NULL || buf_init(&c->rbuf, ADMIN_BUF_SIZE) != STATUS_OK ||
                buf_init(&c->wbuf, ADMIN_BUF_SIZE) != STATUS_OK) {
            if (c != NULL) {
                buf_deinit(&c->rbuf);
            }
            mm_free(&c);
            INCR(metrics, admin_conn_refused);
            tcp_close(fd);
            continue;
        }
        nconn++;
        c->fd = fd;
        c->want = c->interest = EVENT_READ;
        if (transport_attach(c, tp) != STATUS_OK) {
            c->flags &= ~CONN_HANDSHAKE;
        }
        c->last_ms = time_mono_ms();
        c->id = next_id++;
        c->proc = admin_proc;
        c->next = conns;
        if (conns != NULL) {
            conns->prev = c;
        }
        conns = c;
        event_register(evb, fd, EVENT_READ, c);
        INCR(metrics, admin_conn_total);
        INCR(metrics, admin_conn_curr);
        if (c->tp_state == NULL && tp->open != NULL) {
            admin_close(c); /* no memory for its TLS state */
        }
    }
}

/* One handshake step (admin connections are few: no budget here). */
static void
admin_handshake(struct conn *c)
{
    rstatus_i st = c->tp->handshake(c);
    if (st == STATUS_EAGAIN) {
        admin_interest(c, c->want);
        return;
    }
    if (st != STATUS_OK) {
        admin_close(c);
        return;
    }
    c->flags &= ~CONN_HANDSHAKE;
    c->last_ms = time_mono_ms();
    admin_interest(c, EVENT_READ);
    admin_read(c);
}

/* As the worker's conn_event, for the admin thread: the connection's
 * state says what to do, whatever the event; TLS bytes already decrypted
 * are read at once, since no event will announce them. */
static void
admin_conn_event(struct conn *c, uint32_t events)
{
    if (!(events & (EVENT_READ | EVENT_WRITE))) {
        admin_close(c);
        return;
    }
    if (c->flags & CONN_HANDSHAKE) {
        admin_handshake(c);
        return;
    }
    if (!buf_empty(&c->wbuf)) {
        rstatus_i st = admin_flush(c);
        if (st == STATUS_ERROR ||
                (st == STATUS_OK && (c->flags & CONN_CLOSE))) {
            admin_close(c);
        } else if (st == STATUS_OK && !buf_empty(&c->rbuf)) {
            admin_process(c);
        }
        return;
    }
    admin_read(c);
}

static void
admin_signal(void)
{
    struct signalfd_siginfo si;
    while (read(sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        INCR(metrics, admin_signal);
        if (si.ssi_signo == SIGHUP) {
            log_info("SIGHUP: reopening the log file");
            log_reopen();
            if (tls_enabled()) {
                char err[1200];
                tls_reload(err, sizeof(err)); /* logs either way */
            }
        } else if (si.ssi_signo == SIGUSR2) {
            /* memcached uses it for nothing segcached does; a stray one
             * (a script meant for another daemon) must not stop a cache */
            log_info("SIGUSR2: ignored");
        } else if (si.ssi_signo == SIGUSR1) {
            /* memcached -e: a graceful stop that keeps the datapool for a
             * warm restart; SIGTERM keeps it too, here */
            log_info("SIGUSR1: graceful stop, keeping the datapool");
            stop_req = true;
        } else {
            log_info("%s: shutting down", strsignal((int)si.ssi_signo));
            stop_req = true;
        }
    }
}

static void
admin_event(void *arg, uint32_t events)
{
    if (arg == &listen_tag) {
        admin_accept(listen_fd, &transport_tcp);
    } else if (arg == &tls_tag) {
        admin_accept(tls_fd, &transport_tls[TLS_LISTENER_ADMIN]);
    } else if (arg == &signal_tag) {
        admin_signal();
    } else if (arg == &wake_tag) {
        notifier_drain(wake);
    } else {
        admin_conn_event(arg, events);
    }
}

/* Binds one admin listener unless its option is "off". */
static rstatus_i
admin_bind(const struct option *opt, int *fd, void *tag)
{
    const char *addr = option_str(opt);
    if (addr == NULL || strcmp(addr, "off") == 0 || addr[0] == '\0') {
        return STATUS_OK;
    }
    struct tcp_addr ta;
    char err[256], name[64];
    option_dotted_name(opt, name, sizeof(name));
    if (tcp_parse_addr(addr, &ta, err, sizeof(err)) != STATUS_OK) {
        log_crit("%s: %s", name, err);
        return STATUS_EINVAL;
    }
    *fd = tcp_listen(&ta, 128, err, sizeof(err));
    if (*fd < 0) {
        log_crit("admin listener %s: %s", addr, err);
        return STATUS_ERROR;
    }
    event_register(evb, *fd, EVENT_READ, tag);
    log_info("admin listening on %s%s", addr, tag == &tls_tag ? " (TLS)" : "");
    return STATUS_OK;
}

rstatus_i
admin_setup(const admin_options_st *options, admin_metrics_st *m,
        const struct processor *proc)
{
    admin_options_st defaults = {ADMIN_OPTION(INIT_OPTION)};
    if (options == NULL) {
        options = &defaults;
    }
    metrics = m;
    admin_proc = proc;
    stop_req = false;
    nconn = 0;
    max_conns = option_uint(&options->admin_max_connections);
    idle_timeout_ms = option_uint(&options->admin_idle_timeout);
    handshake_timeout_ms = option_uint(&options->admin_handshake_timeout);
    uint64_t now = time_mono_ms();
    last_idle_scan = now;
    evb = event_base_create(256, admin_event);
    wheel = timing_wheel_create(option_uint(&options->admin_tick), 1024, now);
    wake = notifier_create();
    if (evb == NULL || wheel == NULL || wake == NULL) {
        log_crit("admin: out of memory at setup");
        return STATUS_ENOMEM;
    }
    event_register(evb, notifier_fd(wake), EVENT_READ, &wake_tag);
    sigset_t set;
    pthread_sigmask(SIG_BLOCK, NULL, &set);
    sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sig_fd >= 0) {
        event_register(evb, sig_fd, EVENT_READ, &signal_tag);
    }
    rstatus_i st = admin_bind(&options->admin_listen, &listen_fd, &listen_tag);
    if (st == STATUS_OK) {
        st = admin_bind(&options->admin_tls_listen, &tls_fd, &tls_tag);
    }
    if (listen_fd >= 0) {
        bound_port = tcp_local_port(listen_fd);
    }
    spare_open();
    return st;
}

void
admin_teardown(void)
{
    while (conns != NULL) {
        admin_close(conns);
    }
    if (evb != NULL) {
        if (listen_fd >= 0) {
            event_deregister(evb, listen_fd);
        }
        if (tls_fd >= 0) {
            event_deregister(evb, tls_fd);
        }
        if (sig_fd >= 0) {
            event_deregister(evb, sig_fd);
        }
        if (wake != NULL) {
            event_deregister(evb, notifier_fd(wake));
        }
    }
    tcp_close(listen_fd);
    listen_fd = -1;
    tcp_close(tls_fd);
    tls_fd = -1;
    if (spare_fd >= 0) {
        close(spare_fd);
        spare_fd = -1;
    }
    if (sig_fd >= 0) {
        close(sig_fd);
        sig_fd = -1;
    }
    event_base_destroy(&evb);
    timing_wheel_destroy(&wheel);
    notifier_destroy(&wake);
    bound_port = 0;
    metrics = NULL;
}

rstatus_i
admin_add_job(uint64_t interval_ms, timer_cb_fn cb, void *arg)
{
    return timing_wheel_add(wheel, interval_ms, TIMER_RECURRING, cb, arg);
}

/* Closes connections idle for idle_timeout, and TLS connections whose
 * handshake is not done handshake_timeout after accept (last_ms is the
 * accept time until the handshake ends), looking every 100 ms. With at
 * most admin.max_connections connections, a flood of handshakes is
 * bounded by that cap: the admin thread has no per-batch budget. */
static void
admin_close_idle(uint64_t now)
{
    if ((idle_timeout_ms == 0 && handshake_timeout_ms == 0) ||
            now - last_idle_scan < 100) {
        return;
    }
    last_idle_scan = now;
    struct conn *c = conns;
    while (c != NULL) {
        struct conn *next = c->next;
        if ((c->flags & CONN_HANDSHAKE) && handshake_timeout_ms > 0 &&
                now - c->last_ms >= handshake_timeout_ms) {
            INCR(metrics, admin_handshake_timeout);
            admin_close(c);
        } else if (idle_timeout_ms > 0 && now - c->last_ms >= idle_timeout_ms) {
            INCR(metrics, admin_conn_idle);
            admin_close(c);
        }
        c = next;
    }
}

rstatus_i
admin_run(void)
{
    pthread_setname_np(pthread_self(), "admin");
    while (!__atomic_load_n(&stop_req, __ATOMIC_ACQUIRE)) {
        uint64_t now = time_mono_ms();
        int timeout = timing_wheel_timeout_ms(wheel, now);
        if (timeout < 0 || timeout > 1000) {
            timeout = 1000;
        }
        event_wait(evb, timeout);
        INCR(metrics, admin_event_loop);
        now = time_mono_ms();
        size_t n = timing_wheel_execute(wheel, now);
        INCR_N(metrics, admin_job_run, n);
        admin_close_idle(now);
    }
    return STATUS_OK;
}

void
admin_request_stop(void)
{
    __atomic_store_n(&stop_req, true, __ATOMIC_RELEASE);
    if (wake != NULL) {
        notifier_notify(wake);
    }
}

int
admin_port(void)
{
    return bound_port;
}
