/* SPDX-License-Identifier: Apache-2.0 */
/* MONITOR over the message path (core/msg.h): every command a resp
 * connection runs, on any worker, printed as Redis 7.0.15 prints it
 *
 *   +1700000000.123456 [0 127.0.0.1:50000] "SET" "k" "v"
 *
 * (arguments quoted as sdscatrepr does, AUTH's and HELLO AUTH's redacted,
 * admin and skip_monitor commands not shown), to every watcher on every
 * worker. The worker that ran the command formats the line once and sends
 * it to each worker holding a watcher. Unlike Redis, which buffers MONITOR
 * output without limit, a watcher whose unsent output passes
 * resp.monitor_buffer loses lines (counted in resp_monitor_drop): a slow
 * watcher never slows the workers or grows without bound.
 *
 * When nobody watches, a command pays one relaxed load. */
#include "processor/resp_internal.h"

#include "base/log.h"
#include "base/mm.h"
#include "core/msg.h"
#include "core/worker.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

static uint32_t nmonitor;               /* atomic: watchers, all workers */
static uint32_t on_worker[WORKERS_MAX]; /* atomic: watchers per worker */
static size_t buffer_max = 16 * MiB;

/* Per worker, touched by its thread only. */
struct watchers {
    struct conn **c;
    uint32_t n;
    uint32_t cap;
};
static struct watchers local[WORKERS_MAX];

static unsigned
worker_of(const struct conn *c)
{
    return c->owner != NULL ? worker_id(c->owner) : 0;
}

bool
resp_monitor_active(void)
{
    return __atomic_load_n(&nmonitor, __ATOMIC_RELAXED) > 0;
}

rstatus_i
resp_cmd_monitor(struct resp_ctx *x)
{
    struct resp_client *cl = &x->st->client;
    if (__atomic_load_n(&cl->monitor, __ATOMIC_RELAXED)) {
        return STATUS_OK; /* Redis ignores a second MONITOR: no reply */
    }
    unsigned w = worker_of(x->c);
    struct watchers *l = &local[w];
    if (l->n == l->cap) {
        uint32_t cap = l->cap == 0 ? 4 : l->cap * 2;
        void *p = mm_realloc(l->c, cap * sizeof(*l->c));
        if (p == NULL) {
            return resp_err(x, "ERR out of memory");
        }
        l->c = p;
        l->cap = cap;
    }
    l->c[l->n++] = x->c;
    __atomic_store_n(&cl->monitor, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&on_worker[w], 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&nmonitor, 1, __ATOMIC_RELAXED);
    x->c->flags |= CONN_NO_IDLE;
    return resp_compose_ok(x->w);
}

void
resp_monitor_release(struct conn *c, struct resp_state *st)
{
    if (!__atomic_load_n(&st->client.monitor, __ATOMIC_RELAXED)) {
        return;
    }
    unsigned w = worker_of(c);
    struct watchers *l = &local[w];
    for (uint32_t i = 0; i < l->n; i++) {
        if (l->c[i] == c) {
            l->c[i] = l->c[--l->n];
            break;
        }
    }
    __atomic_store_n(&st->client.monitor, 0, __ATOMIC_RELAXED);
    __atomic_fetch_sub(&on_worker[w], 1, __ATOMIC_RELAXED);
    __atomic_fetch_sub(&nmonitor, 1, __ATOMIC_RELAXED);
    if (resp_pubsub_count(st) == 0) {
        c->flags &= ~CONN_NO_IDLE;
    }
}

/* sdscatrepr: "..." with \\ \" \n \r \t \a \b escaped, other unprintable
 * bytes as \xhh. */
static size_t
repr(char *out, const char *s, size_t len)
{
    char *p = out;
    *p++ = '"';
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        switch (ch) {
        case '\\':
        case '"':
            *p++ = '\\';
            *p++ = (char)ch;
            break;
        case '\n':
            *p++ = '\\';
            *p++ = 'n';
            break;
        case '\r':
            *p++ = '\\';
            *p++ = 'r';
            break;
        case '\t':
            *p++ = '\\';
            *p++ = 't';
            break;
        case '\a':
            *p++ = '\\';
            *p++ = 'a';
            break;
        case '\b':
            *p++ = '\\';
            *p++ = 'b';
            break;
        default:
            if (ch >= 0x20 && ch < 0x7f) {
                *p++ = (char)ch;
            } else {
                p += sprintf(p, "\\x%02x", ch);
            }
        }
    }
    *p++ = '"';
    return (size_t)(p - out);
}

/* Whether argument i is shown as "(redacted)", as Redis 7.0 redacts AUTH's
 * arguments and HELLO's AUTH username and password. */
static bool
redacted(const struct resp_ctx *x, uint32_t i)
{
    if (x->cmd->id == RESP_CMD_AUTH) {
        return i >= 1;
    }
    if (x->cmd->id == RESP_CMD_HELLO) {
        for (uint32_t j = 2; j + 2 < x->argc && j < i; j++) {
            if (resp_arg_is(&x->argv[j], "auth") &&
                    (i == j + 1 || i == j + 2)) {
                return true;
            }
        }
    }
    return false;
}

static void
write_line(struct conn *c, const struct msg *m)
{
    struct resp_state *st = c->data;
    if (c->flags & CONN_KILL) {
        return;
    }
    if (buf_rsize(&c->wbuf) + m->len > buffer_max) {
        INCR(resp_proc_metrics, resp_monitor_drop);
        return;
    }
    if ((c->owner != NULL && worker_conn_wbuf(c) != STATUS_OK) ||
            buf_reserve(&c->wbuf, m->len, st->w.max) != STATUS_OK) {
        INCR(resp_proc_metrics, resp_monitor_drop);
        return;
    }
    memcpy(c->wbuf.wpos, m->data, m->len);
    c->wbuf.wpos += m->len;
    INCR(resp_proc_metrics, resp_monitor_line);
    if (c->owner != NULL) {
        worker_conn_flush_later(c);
    }
}

static void
deliver_local(unsigned w, const struct msg *m)
{
    struct watchers *l = &local[w];
    for (uint32_t i = 0; i < l->n; i++) {
        write_line(l->c[i], m);
    }
}

static void
deliver_msg(unsigned to, struct msg *m)
{
    deliver_local(to, m);
}

void
resp_monitor_feed(const struct resp_ctx *x)
{
    if (x->cmd->flags & (RESP_CMD_F_ADMIN | RESP_CMD_F_SKIP_MONITOR)) {
        return;
    }
    size_t len = 80 + strlen(x->c->peer);
    size_t shown;
    for (uint32_t i = 0; i < x->argc; i++) {
        size_t alen =
                resp_stream_is(x, i, &shown) ? shown + 32 : x->argv[i].len;
        len += 1 + (redacted(x, i) ? 12 : 4 * alen + 2);
    }
    struct msg *m = msg_create(MSG_KIND_MONITOR, len);
    if (m == NULL) {
        INCR(resp_proc_metrics, resp_monitor_drop);
        return;
    }
    struct timeval tv;
    gettimeofday(&tv, NULL);
    char *p = m->data;
    p += sprintf(p, "+%ld.%06ld [%u %s]", (long)tv.tv_sec, (long)tv.tv_usec,
            x->c->db, x->c->peer);
    for (uint32_t i = 0; i < x->argc; i++) {
        *p++ = ' ';
        if (redacted(x, i)) {
            memcpy(p, "\"(redacted)\"", 12);
            p += 12;
        } else if (resp_stream_is(x, i, &shown)) {
            /* a value received in pieces: its first bytes, as SLOWLOG
             * shows a long argument (Redis shows it whole) */
            p += repr(p, x->argv[i].data, shown);
            p += sprintf(p, "... (%zu more bytes)", x->argv[i].len - shown);
        } else {
            p += repr(p, x->argv[i].data, x->argv[i].len);
        }
    }
    memcpy(p, "\r\n", 2);
    p += 2;
    m->len = (uint32_t)(p - m->data);
    unsigned self = worker_of(x->c);
    unsigned nw = msg_nworker();
    for (unsigned w = 0; w < nw || (nw == 0 && w == 0); w++) {
        if (__atomic_load_n(&on_worker[w], __ATOMIC_RELAXED) == 0) {
            continue;
        }
        if (w == self) {
            deliver_local(w, m);
        } else if (msg_send(self, w, m) != STATUS_OK) {
            INCR(resp_proc_metrics, resp_monitor_drop);
        }
    }
    msg_release(&m);
}

void
resp_monitor_setup(size_t max)
{
    buffer_max = max;
    msg_handle(MSG_KIND_MONITOR, deliver_msg);
}

void
resp_monitor_teardown(void)
{
    for (unsigned w = 0; w < WORKERS_MAX; w++) {
        mm_release(local[w].c);
        memset(&local[w], 0, sizeof(local[w]));
        __atomic_store_n(&on_worker[w], 0, __ATOMIC_RELAXED);
    }
    __atomic_store_n(&nmonitor, 0, __ATOMIC_RELAXED);
}
