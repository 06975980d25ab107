/* SPDX-License-Identifier: Apache-2.0 */
/* memcached's `watch` over the message path (core/msg.h), as MONITOR is
 * for resp (resp_monitor.c): the worker that ran a command formats its
 * line once and sends it to each worker holding a watcher of that kind;
 * there it is appended to every such watcher's write buffer.
 *
 * Bounded as memcached bounds it: a watcher whose unsent output passes
 * MC_WATCH_BUFFER loses lines (counted in memcache_watch_skip), and the
 * next line it does get is preceded by memcached's "skipped=N". A slow
 * watcher never slows the workers. When nobody watches a kind, a command
 * pays one relaxed load.
 *
 * Threads: a worker's watcher list is touched by that worker only; the
 * counts are relaxed atomics; gid is one atomic counter, taken only while
 * someone watches (memcached's logger_get_gid). */
#include "processor/memcache_watch.h"

#include "base/mm.h"
#include "base/time.h"
#include "core/msg.h"
#include "core/worker.h"
#include "processor/keyspace.h"
#include "processor/memcache_internal.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

/* memcached's LOGGER_WATCHER_BUF_SIZE */
#define MC_WATCH_BUFFER (256 * KiB)

uint32_t mc_watch_nwatcher; /* atomic: watchers, all workers and kinds */
static uint32_t nkind[MC_WATCH_NKIND]; /* atomic: watchers per kind */
static uint32_t on_worker[WORKERS_MAX][MC_WATCH_NKIND]; /* atomic */
static uint64_t gid;                                    /* atomic */

struct watcher {
    struct conn *c;
    unsigned kinds;
};

/* Per worker, touched by its thread only. */
struct watchers {
    struct watcher *w;
    uint32_t n;
    uint32_t cap;
};
static struct watchers local[WORKERS_MAX];

/* ---- formatting ---- */

size_t
mc_watch_uriencode(char *out, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    char *p = out;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' ||
                ch == '_' || ch == '~') {
            *p++ = (char)ch;
        } else {
            *p++ = '%';
            *p++ = hex[ch >> 4];
            *p++ = hex[ch & 0xf];
        }
    }
    return (size_t)(p - out);
}

static size_t
stamp(char *out, const struct mc_watch_stamp *ts)
{
    return (size_t)sprintf(out, "ts=%" PRId64 ".%d gid=%" PRIu64 " ", ts->sec,
            (int)ts->usec, ts->gid);
}

/* " key=<encoded>" */
static size_t
key_field(char *out, const char *key, size_t klen)
{
    if (klen > MEMCACHE_KEY_MAXLEN) {
        klen = MEMCACHE_KEY_MAXLEN;
    }
    memcpy(out, "key=", 4);
    return 4 + mc_watch_uriencode(out + 4, key, klen);
}

size_t
mc_watch_fmt_get(char *out, const struct mc_watch_stamp *ts, const char *key,
        size_t klen, bool found, int cfd, uint32_t size)
{
    char *p = out + stamp(out, ts);
    p += sprintf(p, "type=item_get ");
    p += key_field(p, key, klen);
    p += sprintf(p, " status=%s clsid=0 cfd=%d size=%" PRIu32 "\n",
            found ? "found" : "not_found", cfd, found ? size : 0);
    return (size_t)(p - out);
}

size_t
mc_watch_fmt_store(char *out, const struct mc_watch_stamp *ts, const char *key,
        size_t klen, mc_watch_status_e status, const char *cmd, uint32_t ttl,
        int cfd, uint32_t size)
{
    static const char *const names[] = {"not_stored", "stored", "exists",
            "not_found", "too_large", "no_memory"};
    char *p = out + stamp(out, ts);
    p += sprintf(p, "type=item_store ");
    p += key_field(p, key, klen);
    p += sprintf(p,
            " status=%s cmd=%s ttl=%" PRIu32 " clsid=0 cfd=%d size=%" PRIu32
            "\n",
            names[status], cmd, ttl, cfd, size);
    return (size_t)(p - out);
}

size_t
mc_watch_fmt_conn(char *out, const struct mc_watch_stamp *ts, const char *peer,
        bool opened, const char *reason, int cfd)
{
    /* "127.0.0.1:5555", "[::1]:5555"; anything else is a Unix socket,
     * which memcached prints as rip=unix rport=0 transport=local */
    const char *colon = strrchr(peer, ':');
    const char *host = peer;
    size_t hlen = colon != NULL ? (size_t)(colon - peer) : 0;
    unsigned port = 0;
    bool inet = colon != NULL && strncmp(peer, "unix:", 5) != 0 &&
                sscanf(colon + 1, "%u", &port) == 1;
    if (inet && hlen >= 2 && peer[0] == '[' && peer[hlen - 1] == ']') {
        host++;
        hlen -= 2;
    }
    if (!inet || hlen > 63) {
        host = "unix";
        hlen = 4;
        port = 0;
    }
    char *p = out + stamp(out, ts);
    p += sprintf(p, "type=%s rip=%.*s rport=%u transport=%s",
            opened ? "conn_new" : "conn_close", (int)hlen, host, port,
            inet ? "tcp" : "local");
    if (!opened) {
        p += sprintf(p, " reason=%s", reason);
    }
    p += sprintf(p, " cfd=%d\n", cfd);
    return (size_t)(p - out);
}

size_t
mc_watch_fmt_evict(char *out, const struct mc_watch_stamp *ts, const char *key,
        size_t klen, bool fetched, int64_t ttl, uint32_t la, uint32_t size)
{
    char *p = out + stamp(out, ts);
    p += sprintf(p, "type=eviction ");
    p += key_field(p, key, klen);
    /* every item is in class 1 (stats items, stats slabs) */
    p += sprintf(p,
            " fetch=%s ttl=%" PRId64 " la=%" PRIu32 " clsid=1 size=%" PRIu32
            "\n",
            fetched ? "yes" : "no", ttl, la, size);
    return (size_t)(p - out);
}

size_t
mc_watch_fmt_skipped(char *out, uint64_t skipped)
{
    return (size_t)sprintf(out, "skipped=%" PRIu64 "\n", skipped);
}

/* ---- watchers ---- */

static unsigned
worker_of(const struct conn *c)
{
    return c->owner != NULL ? worker_id(c->owner) : 0;
}

static void on_drop(uint8_t db, const void *key, size_t klen,
        storage_drop_e why, const struct storage_drop_info *info);
static pthread_mutex_t evict_lock = PTHREAD_MUTEX_INITIALIZER;

static void
count_kinds(unsigned w, unsigned kinds, int delta)
{
    for (unsigned k = 0; k < MC_WATCH_NKIND; k++) {
        if (!(kinds & (1u << k))) {
            continue;
        }
        bool evictions = (1u << k) == MC_WATCH_EVICTIONS;
        if (evictions) {
            pthread_mutex_lock(&evict_lock);
        }
        __atomic_add_fetch(&on_worker[w][k], (uint32_t)delta, __ATOMIC_RELAXED);
        uint32_t n = __atomic_add_fetch(
                &nkind[k], (uint32_t)delta, __ATOMIC_RELAXED);
        if (evictions) {
            /* the store's drops are heard only while someone watches */
            ks_listen_drop(KS_LISTEN_WATCH, n > 0 ? on_drop : NULL);
            pthread_mutex_unlock(&evict_lock);
        }
    }
}

bool
mc_watch_kind_on(unsigned kind)
{
    unsigned k = (unsigned)__builtin_ctz(kind);
    return __atomic_load_n(&nkind[k], __ATOMIC_RELAXED) > 0;
}

rstatus_i
mc_watch_start(struct conn *c, struct mc_state *st, unsigned kinds)
{
    unsigned w = worker_of(c);
    struct watchers *l = &local[w];
    if (st->watch_kinds != 0) {
        return STATUS_OK;
    }
    if (l->n == l->cap) {
        uint32_t cap = l->cap == 0 ? 4 : l->cap * 2;
        void *p = mm_realloc(l->w, cap * sizeof(*l->w));
        if (p == NULL) {
            return STATUS_ENOMEM;
        }
        l->w = p;
        l->cap = cap;
    }
    l->w[l->n++] = (struct watcher){.c = c, .kinds = kinds};
    st->watch_kinds = kinds;
    st->watch_skipped = 0;
    count_kinds(w, kinds, 1);
    __atomic_add_fetch(&mc_watch_nwatcher, 1, __ATOMIC_RELAXED);
    c->flags |= CONN_NO_IDLE;
    return STATUS_OK;
}

void
mc_watch_release(struct conn *c, struct mc_state *st)
{
    if (st->watch_kinds == 0) {
        return;
    }
    unsigned w = worker_of(c);
    struct watchers *l = &local[w];
    for (uint32_t i = 0; i < l->n; i++) {
        if (l->w[i].c == c) {
            l->w[i] = l->w[--l->n];
            break;
        }
    }
    count_kinds(w, st->watch_kinds, -1);
    __atomic_sub_fetch(&mc_watch_nwatcher, 1, __ATOMIC_RELAXED);
    st->watch_kinds = 0;
    c->flags &= ~CONN_NO_IDLE;
}

/* ---- delivery ---- */

static void
write_line(struct conn *c, const struct msg *m)
{
    struct mc_state *st = c->data;
    if ((c->flags & CONN_KILL) || st == NULL) {
        return;
    }
    char skip[32];
    size_t nskip = st->watch_skipped > 0
                           ? mc_watch_fmt_skipped(skip, st->watch_skipped)
                           : 0;
    size_t need = nskip + m->len;
    if (buf_rsize(&c->wbuf) + need > MC_WATCH_BUFFER ||
            (c->owner != NULL && worker_conn_wbuf(c) != STATUS_OK) ||
            buf_reserve(&c->wbuf, need,
                    MC_WATCH_BUFFER + sizeof(skip) + MC_WATCH_LINE_MAX) !=
                    STATUS_OK) {
        st->watch_skipped++;
        INCR(mc_metrics, memcache_watch_skip);
        return;
    }
    memcpy(c->wbuf.wpos, skip, nskip);
    c->wbuf.wpos += nskip;
    memcpy(c->wbuf.wpos, m->data, m->len);
    c->wbuf.wpos += m->len;
    st->watch_skipped = 0;
    INCR(mc_metrics, memcache_watch_line);
    if (c->owner != NULL) {
        worker_conn_flush_later(c);
    }
}

static void
deliver_local(unsigned w, const struct msg *m)
{
    struct watchers *l = &local[w];
    for (uint32_t i = 0; i < l->n; i++) {
        if (l->w[i].kinds & m->flags) {
            write_line(l->w[i].c, m);
        }
    }
}

static void
deliver_msg(unsigned to, struct msg *m)
{
    deliver_local(to, m);
}

/* Sends the line in m (kind in m->flags) to every worker watching it. */
static void
send_line(const struct conn *c, struct msg *m)
{
    unsigned k = (unsigned)__builtin_ctz(m->flags);
    unsigned self = worker_of(c);
    unsigned nw = msg_nworker();
    for (unsigned w = 0; w < nw || (nw == 0 && w == 0); w++) {
        if (__atomic_load_n(&on_worker[w][k], __ATOMIC_RELAXED) == 0) {
            continue;
        }
        if (w == self || nw == 0) {
            deliver_local(w, m);
        } else if (msg_send(self, w, m) != STATUS_OK) {
            INCR(mc_metrics, memcache_watch_skip);
        }
    }
}

/* A message of kind with room for one line, its stamp taken; NULL when
 * out of memory (counted). */
static struct msg *
line_begin(unsigned kind, struct mc_watch_stamp *ts)
{
    struct msg *m = msg_create(MSG_KIND_WATCH, MC_WATCH_LINE_MAX);
    if (m == NULL) {
        INCR(mc_metrics, memcache_watch_skip);
        return NULL;
    }
    m->flags = (uint16_t)kind;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    ts->sec = tv.tv_sec;
    ts->usec = (int32_t)tv.tv_usec;
    ts->gid = __atomic_add_fetch(&gid, 1, __ATOMIC_RELAXED);
    return m;
}

static void
line_end(const struct conn *c, struct msg *m, size_t len)
{
    m->len = (uint32_t)len;
    send_line(c, m);
    msg_release(&m);
}

void
mc_watch_get(const struct conn *c, const char *key, size_t klen, bool found,
        uint32_t size)
{
    struct mc_watch_stamp ts;
    struct msg *m = line_begin(MC_WATCH_FETCHERS, &ts);
    if (m != NULL) {
        line_end(c, m,
                mc_watch_fmt_get(m->data, &ts, key, klen, found, c->fd, size));
    }
}

void
mc_watch_store(const struct conn *c, memcache_req_type_e type, const char *key,
        size_t klen, storage_status_e s, uint64_t expiry, uint32_t size)
{
    const char *cmd;
    switch (type) {
    case MEMCACHE_REQ_ADD:
        cmd = "add";
        break;
    case MEMCACHE_REQ_REPLACE:
        cmd = "replace";
        break;
    case MEMCACHE_REQ_APPEND:
        cmd = "append";
        break;
    case MEMCACHE_REQ_PREPEND:
        cmd = "prepend";
        break;
    case MEMCACHE_REQ_CAS:
        cmd = "cas";
        break;
    default:
        cmd = "set";
        break;
    }
    bool cas = type == MEMCACHE_REQ_CAS;
    mc_watch_status_e status;
    switch (s) {
    case STORAGE_OK:
        status = MC_WATCH_STORED;
        break;
    case STORAGE_EXISTS:
        status = cas ? MC_WATCH_EXISTS : MC_WATCH_NOT_STORED;
        break;
    case STORAGE_NOT_FOUND:
        status = cas ? MC_WATCH_NOT_FOUND : MC_WATCH_NOT_STORED;
        break;
    case STORAGE_EOVERSIZE:
        status = MC_WATCH_TOO_LARGE;
        break;
    case STORAGE_ENOMEM:
        status = MC_WATCH_NO_MEMORY;
        break;
    default:
        status = MC_WATCH_NOT_STORED;
        break;
    }
    /* memcached prints its exptime less its clock as unsigned: seconds
     * left, 0 for none */
    uint32_t ttl = 0;
    if (expiry != TIME_NEVER) {
        int64_t left = ((int64_t)expiry - (int64_t)c->now_ms + 999) / 1000;
        ttl = (uint32_t)left;
    }
    struct mc_watch_stamp ts;
    struct msg *m = line_begin(MC_WATCH_MUTATIONS, &ts);
    if (m != NULL) {
        line_end(c, m,
                mc_watch_fmt_store(m->data, &ts, key, klen, status, cmd, ttl,
                        c->fd, size));
    }
}

/* The store evicted an item (any thread: a worker or the background
 * thread, maybe in the middle of a command): its line goes through the
 * message path to every worker with an evictions watcher, its own too.
 * Only the memcache port's database; a value in parts is described by its
 * root (its length, not the root's). */
static void
on_drop(uint8_t db, const void *key, size_t klen, storage_drop_e why,
        const struct storage_drop_info *info)
{
    unsigned k = (unsigned)__builtin_ctz(MC_WATCH_EVICTIONS);
    if (why != STORAGE_DROP_EVICTED || db != MC_DB ||
            __atomic_load_n(&nkind[k], __ATOMIC_RELAXED) == 0) {
        return;
    }
    int from = msg_sender();
    struct mc_watch_stamp ts;
    struct msg *m = from < 0 ? NULL : line_begin(MC_WATCH_EVICTIONS, &ts);
    if (m == NULL) {
        INCR(mc_metrics, memcache_watch_skip);
        return;
    }
    uint64_t now = (uint64_t)ts.sec * 1000 + (uint64_t)ts.usec / 1000;
    int64_t ttl = -1;
    uint32_t la = 0, size = 0;
    bool fetched = false;
    if (info != NULL) {
        if (info->expiry != TIME_NEVER) {
            ttl = ((int64_t)info->expiry - (int64_t)now + 999) / 1000;
        }
        la = info->last_access < now
                     ? (uint32_t)((now - info->last_access) / 1000)
                     : 0;
        size = info->vlen;
        if (info->type == STORAGE_TYPE_STRING_PARTS) {
            struct storage_item root = {.value = info->value,
                    .vlen = info->value_len,
                    .type = info->type,
                    .parts = true};
            size = (uint32_t)ks_str_len(&root);
        }
        fetched = info->fetched;
    }
    m->len = (uint32_t)mc_watch_fmt_evict(
            m->data, &ts, key, klen, fetched, ttl, la, size);
    unsigned nw = msg_nworker();
    for (unsigned w = 0; w < nw; w++) {
        if (__atomic_load_n(&on_worker[w][k], __ATOMIC_RELAXED) > 0 &&
                msg_send((unsigned)from, w, m) != STATUS_OK) {
            INCR(mc_metrics, memcache_watch_skip);
        }
    }
    msg_release(&m);
}

void
mc_watch_conn(const struct conn *c, bool opened)
{
    struct mc_watch_stamp ts;
    struct msg *m = line_begin(MC_WATCH_CONNEVENTS, &ts);
    if (m != NULL) {
        line_end(c, m,
                mc_watch_fmt_conn(
                        m->data, &ts, c->peer, opened, "normal", c->fd));
    }
}

void
mc_watch_setup(void)
{
    msg_handle(MSG_KIND_WATCH, deliver_msg);
}

void
mc_watch_teardown(void)
{
    for (unsigned w = 0; w < WORKERS_MAX; w++) {
        mm_release(local[w].w);
        memset(&local[w], 0, sizeof(local[w]));
        for (unsigned k = 0; k < MC_WATCH_NKIND; k++) {
            __atomic_store_n(&on_worker[w][k], 0, __ATOMIC_RELAXED);
        }
    }
    for (unsigned k = 0; k < MC_WATCH_NKIND; k++) {
        __atomic_store_n(&nkind[k], 0, __ATOMIC_RELAXED);
    }
    __atomic_store_n(&mc_watch_nwatcher, 0, __ATOMIC_RELAXED);
    ks_listen_drop(KS_LISTEN_WATCH, NULL);
}
