/* SPDX-License-Identifier: Apache-2.0 */
/* Pub/sub over the message path (core/msg.h): SUBSCRIBE UNSUBSCRIBE
 * PSUBSCRIBE PUNSUBSCRIBE SSUBSCRIBE SUNSUBSCRIBE PUBLISH SPUBLISH PUBSUB,
 * with Redis 7.0.15's replies in RESP2 and RESP3.
 *
 * Two levels of tables:
 *  - the registry, shared under registry_lock: per channel, pattern and
 *    shard channel, how many subscriptions exist on all workers (PUBLISH's
 *    reply, PUBSUB NUMSUB) and which workers hold one (a bit each);
 *  - per worker, touched only by its thread: per channel, pattern and
 *    shard channel, the local subscribers' connections.
 * PUBLISH reads the registry once under the lock (the receivers' count and
 * the workers to send to), composes the message once, delivers it to its
 * own worker's subscribers at once and sends it to every other worker
 * holding one; each worker writes it to its subscribers' write buffers.
 * A subscriber whose unsent bytes pass client-output-buffer-limit pubsub
 * is closed (Redis's rule, hard and soft limits); the publisher never
 * waits for anyone.
 *
 * Locks: registry_lock only; never taken with the client registry's. */
#include "processor/resp_internal.h"

#include "base/hash.h"
#include "base/log.h"
#include "base/mm.h"
#include "base/time.h"
#include "core/msg.h"
#include "core/worker.h"
#include "processor/notify.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* ---- a small string-keyed table with insertion-ordered iteration ---- */

struct dent {
    struct dent *hnext;
    struct dent *lnext; /* insertion order */
    struct dent *lprev;
    uint64_t hash;
    uint32_t len;
    char *name; /* points after the owning struct */
};

struct dict {
    struct dent **bucket;
    size_t nbucket;
    size_t n;
    struct dent *head;
    struct dent *tail;
};

static struct dent *
dict_find(const struct dict *d, const char *name, size_t len, uint64_t h)
{
    if (d->nbucket == 0) {
        return NULL;
    }
    for (struct dent *e = d->bucket[h & (d->nbucket - 1)]; e != NULL;
            e = e->hnext) {
        if (e->hash == h && e->len == len && memcmp(e->name, name, len) == 0) {
            return e;
        }
    }
    return NULL;
}

static rstatus_i
dict_grow(struct dict *d)
{
    size_t nb = d->nbucket == 0 ? 16 : d->nbucket * 2;
    struct dent **b = mm_zalloc(nb * sizeof(*b));
    if (b == NULL) {
        return STATUS_ENOMEM;
    }
    for (struct dent *e = d->head; e != NULL; e = e->lnext) {
        e->hnext = b[e->hash & (nb - 1)];
        b[e->hash & (nb - 1)] = e;
    }
    mm_release(d->bucket);
    d->bucket = b;
    d->nbucket = nb;
    return STATUS_OK;
}

static rstatus_i
dict_add(struct dict *d, struct dent *e)
{
    if (d->n >= d->nbucket && dict_grow(d) != STATUS_OK) {
        return STATUS_ENOMEM;
    }
    struct dent **b = &d->bucket[e->hash & (d->nbucket - 1)];
    e->hnext = *b;
    *b = e;
    e->lnext = NULL;
    e->lprev = d->tail;
    if (d->tail != NULL) {
        d->tail->lnext = e;
    } else {
        d->head = e;
    }
    d->tail = e;
    d->n++;
    return STATUS_OK;
}

static void
dict_remove(struct dict *d, struct dent *e)
{
    for (struct dent **p = &d->bucket[e->hash & (d->nbucket - 1)]; *p != NULL;
            p = &(*p)->hnext) {
        if (*p == e) {
            *p = e->hnext;
            break;
        }
    }
    if (e->lprev != NULL) {
        e->lprev->lnext = e->lnext;
    } else {
        d->head = e->lnext;
    }
    if (e->lnext != NULL) {
        e->lnext->lprev = e->lprev;
    } else {
        d->tail = e->lprev;
    }
    d->n--;
}

static void
dict_deinit(struct dict *d)
{
    struct dent *e = d->head;
    while (e != NULL) {
        struct dent *next = e->lnext;
        mm_release(e); /* every entry starts with its dent */
        e = next;
    }
    mm_release(d->bucket);
    memset(d, 0, sizeof(*d));
}

/* An entry of size bytes whose dent.name holds a copy of name. */
static void *
dent_create(size_t size, const char *name, size_t len, uint64_t h)
{
    char *p = mm_zalloc(size + len + 1);
    if (p == NULL) {
        return NULL;
    }
    struct dent *e = (struct dent *)p;
    e->name = p + size;
    memcpy(e->name, name, len);
    e->len = (uint32_t)len;
    e->hash = h;
    return p;
}

/* ---- the registry ---- */

typedef enum {
    KIND_CHANNEL,
    KIND_PATTERN,
    KIND_SHARD,
    NKIND,
} sub_kind_e;

static const char *const sub_word[NKIND] = {
        "subscribe", "psubscribe", "ssubscribe"};
static const char *const unsub_word[NKIND] = {
        "unsubscribe", "punsubscribe", "sunsubscribe"};

#define MASK_WORDS ((WORKERS_MAX + 63) / 64)

struct gentry {
    struct dent d;
    uint64_t total; /* subscriptions on every worker */
    uint64_t mask[MASK_WORDS];
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct dict registry[NKIND];

/* Adds one subscription (first_here: the worker's first for the name, so
 * its bit is set); STATUS_ENOMEM. */
static rstatus_i
registry_add(
        sub_kind_e k, const struct dent *name, unsigned worker, bool first_here)
{
    rstatus_i st = STATUS_OK;
    pthread_mutex_lock(&registry_lock);
    struct gentry *g = (struct gentry *)dict_find(
            &registry[k], name->name, name->len, name->hash);
    if (g == NULL) {
        g = dent_create(sizeof(*g), name->name, name->len, name->hash);
        if (g == NULL || dict_add(&registry[k], &g->d) != STATUS_OK) {
            mm_release(g);
            g = NULL;
            st = STATUS_ENOMEM;
        }
    }
    if (g != NULL) {
        g->total++;
        if (first_here) {
            g->mask[worker / 64] |= 1ull << (worker % 64);
        }
    }
    pthread_mutex_unlock(&registry_lock);
    return st;
}

static void
registry_del(
        sub_kind_e k, const struct dent *name, unsigned worker, bool last_here)
{
    pthread_mutex_lock(&registry_lock);
    struct gentry *g = (struct gentry *)dict_find(
            &registry[k], name->name, name->len, name->hash);
    if (g != NULL) {
        g->total--;
        if (last_here) {
            g->mask[worker / 64] &= ~(1ull << (worker % 64));
        }
        if (g->total == 0) {
            dict_remove(&registry[k], &g->d);
            mm_release(g);
        }
    }
    pthread_mutex_unlock(&registry_lock);
}

/* ---- per worker ---- */

/* One name on one worker and its subscribers there. */
struct lentry {
    struct dent d;
    struct conn **subs;
    uint32_t nsub;
    uint32_t cap;
};

struct local {
    struct dict names[NKIND];
    uint64_t notify_subs; /* subscriptions a notification may match */
};

/* atomic: bit w set while worker w has a subscription a keyspace
 * notification may reach (a __key* channel or any pattern); only worker w
 * changes its bit. A notification is sent to those workers with no lock
 * (the registry's lock is PUBLISH's, not every write's). */
static uint64_t notify_mask[MASK_WORDS];

static bool
notify_relevant(sub_kind_e k, const struct dent *name)
{
    return k == KIND_PATTERN || (k == KIND_CHANNEL && name->len >= 5 &&
                                        memcmp(name->name, "__key", 5) == 0);
}

static void
notify_count(struct local *l, unsigned worker, sub_kind_e k,
        const struct dent *name, int delta)
{
    if (!notify_relevant(k, name)) {
        return;
    }
    uint64_t bit = 1ull << (worker % 64);
    if (delta > 0 && l->notify_subs++ == 0) {
        __atomic_fetch_or(&notify_mask[worker / 64], bit, __ATOMIC_SEQ_CST);
    } else if (delta < 0 && --l->notify_subs == 0) {
        __atomic_fetch_and(&notify_mask[worker / 64], ~bit, __ATOMIC_SEQ_CST);
    }
}

static struct local *locals[WORKERS_MAX]; /* [i]: worker i's thread only */

/* A connection's subscriptions, in the order made (UNSUBSCRIBE with no
 * argument answers in that order). */
struct resp_pubsub {
    struct lentry **list[NKIND];
    uint32_t n[NKIND];
    uint32_t cap[NKIND];
    uint64_t soft_since_ms; /* over the soft limit since; 0: under it */
};

/* client-output-buffer-limit pubsub: hard, soft bytes and soft seconds */
static uint64_t obuf_limit[3] = {32 * MiB, 8 * MiB, 60};

static unsigned
worker_of(const struct conn *c)
{
    return c->owner != NULL ? worker_id(c->owner) : 0;
}

static struct local *
local_of(unsigned worker)
{
    if (locals[worker] == NULL) {
        locals[worker] = mm_zalloc(sizeof(struct local));
    }
    return locals[worker];
}

uint32_t
resp_pubsub_count(const struct resp_state *st)
{
    const struct resp_pubsub *ps = st->pubsub;
    return ps == NULL ? 0 : ps->n[0] + ps->n[1] + ps->n[2];
}

static uint32_t
reply_count(const struct resp_pubsub *ps, sub_kind_e k)
{
    return k == KIND_SHARD ? ps->n[KIND_SHARD]
                           : ps->n[KIND_CHANNEL] + ps->n[KIND_PATTERN];
}

static void
client_counts(struct resp_state *st)
{
    struct resp_pubsub *ps = st->pubsub;
    __atomic_store_n(&st->client.sub, ps->n[KIND_CHANNEL], __ATOMIC_RELAXED);
    __atomic_store_n(&st->client.psub, ps->n[KIND_PATTERN], __ATOMIC_RELAXED);
    __atomic_store_n(&st->client.ssub, ps->n[KIND_SHARD], __ATOMIC_RELAXED);
}

static int
find_sub(const struct resp_pubsub *ps, sub_kind_e k, const struct lentry *e)
{
    for (uint32_t i = 0; i < ps->n[k]; i++) {
        if (ps->list[k][i] == e) {
            return (int)i;
        }
    }
    return -1;
}

static rstatus_i
grow(void **arr, uint32_t *cap, size_t elem)
{
    uint32_t ncap = *cap == 0 ? 4 : *cap * 2;
    void *p = mm_realloc(*arr, ncap * elem);
    if (p == NULL) {
        return STATUS_ENOMEM;
    }
    *arr = p;
    *cap = ncap;
    return STATUS_OK;
}

/* Subscribes c to name; already subscribed is fine. STATUS_ENOMEM. */
static rstatus_i
subscribe_one(struct resp_ctx *x, sub_kind_e k, const struct resp_arg *a)
{
    struct resp_pubsub *ps = x->st->pubsub;
    unsigned wid = worker_of(x->c);
    struct local *l = local_of(wid);
    if (l == NULL) {
        return STATUS_ENOMEM;
    }
    uint64_t h = hash_key(a->data, a->len);
    struct lentry *e =
            (struct lentry *)dict_find(&l->names[k], a->data, a->len, h);
    if (e != NULL && find_sub(ps, k, e) >= 0) {
        return STATUS_OK;
    }
    bool created = e == NULL;
    if (created) {
        e = dent_create(sizeof(*e), a->data, a->len, h);
        if (e == NULL || dict_add(&l->names[k], &e->d) != STATUS_OK) {
            mm_release(e);
            return STATUS_ENOMEM;
        }
    }
    if ((e->nsub == e->cap && grow((void **)&e->subs, &e->cap,
                                      sizeof(*e->subs)) != STATUS_OK) ||
            (ps->n[k] == ps->cap[k] &&
                    grow((void **)&ps->list[k], &ps->cap[k],
                            sizeof(*ps->list[k])) != STATUS_OK) ||
            registry_add(k, &e->d, wid, created) != STATUS_OK) {
        if (created) {
            dict_remove(&l->names[k], &e->d);
            mm_release(e->subs);
            mm_release(e);
        }
        return STATUS_ENOMEM;
    }
    e->subs[e->nsub++] = x->c;
    ps->list[k][ps->n[k]++] = e;
    notify_count(l, wid, k, &e->d, 1);
    return STATUS_OK;
}

/* Drops subscription i of kind k. */
static void
unsubscribe_at(struct conn *c, struct resp_pubsub *ps, sub_kind_e k, uint32_t i)
{
    struct lentry *e = ps->list[k][i];
    memmove(&ps->list[k][i], &ps->list[k][i + 1],
            (ps->n[k] - i - 1) * sizeof(*ps->list[k]));
    ps->n[k]--;
    for (uint32_t j = 0; j < e->nsub; j++) {
        if (e->subs[j] == c) {
            e->subs[j] = e->subs[--e->nsub];
            break;
        }
    }
    unsigned wid = worker_of(c);
    notify_count(locals[wid], wid, k, &e->d, -1);
    registry_del(k, &e->d, wid, e->nsub == 0);
    if (e->nsub == 0) {
        dict_remove(&locals[wid]->names[k], &e->d);
        mm_release(e->subs);
        mm_release(e);
    }
}

/* Subscribed or not, the connection's mode and counts follow. */
static void
mode_update(struct resp_ctx *x)
{
    if (resp_pubsub_count(x->st) > 0) {
        x->c->flags |= CONN_NO_IDLE;
    } else {
        x->c->flags &= ~CONN_NO_IDLE;
        x->st->pubsub->soft_since_ms = 0;
    }
    client_counts(x->st);
}

static rstatus_i
reply_sub(struct resp_ctx *x, const char *word, const char *name, size_t len,
        bool null_name, uint32_t count)
{
    rstatus_i rc = resp_compose_push(x->w, 3);
    if (rc == STATUS_OK) {
        rc = resp_compose_bulk(x->w, word, strlen(word));
    }
    if (rc == STATUS_OK) {
        rc = null_name ? resp_compose_null(x->w)
                       : resp_compose_bulk(x->w, name, len);
    }
    return rc == STATUS_OK ? resp_compose_integer(x->w, count) : rc;
}

static struct resp_pubsub *
pubsub_of(struct resp_state *st)
{
    if (st->pubsub == NULL) {
        st->pubsub = mm_zalloc(sizeof(*st->pubsub));
    }
    return st->pubsub;
}

static rstatus_i
cmd_subscribe(struct resp_ctx *x, sub_kind_e k)
{
    if (pubsub_of(x->st) == NULL) {
        return resp_err(x, "ERR out of memory");
    }
    rstatus_i rc = STATUS_OK;
    for (uint32_t i = 1; rc == STATUS_OK && i < x->argc; i++) {
        if (subscribe_one(x, k, &x->argv[i]) != STATUS_OK) {
            INCR(resp_proc_metrics, resp_pubsub_ex);
            mode_update(x);
            return resp_err(x, "ERR out of memory for the subscription");
        }
        mode_update(x);
        rc = reply_sub(x, sub_word[k], x->argv[i].data, x->argv[i].len, false,
                reply_count(x->st->pubsub, k));
    }
    return rc;
}

static int
find_name(const struct resp_pubsub *ps, sub_kind_e k, const struct resp_arg *a)
{
    for (uint32_t i = 0; i < ps->n[k]; i++) {
        const struct dent *d = &ps->list[k][i]->d;
        if (d->len == a->len && memcmp(d->name, a->data, a->len) == 0) {
            return (int)i;
        }
    }
    return -1;
}

static rstatus_i
cmd_unsubscribe(struct resp_ctx *x, sub_kind_e k)
{
    struct resp_pubsub *ps = pubsub_of(x->st);
    if (ps == NULL) {
        return resp_err(x, "ERR out of memory");
    }
    rstatus_i rc = STATUS_OK;
    if (x->argc == 1) {
        if (ps->n[k] == 0) {
            return reply_sub(
                    x, unsub_word[k], NULL, 0, true, reply_count(ps, k));
        }
        while (rc == STATUS_OK && ps->n[k] > 0) {
            const struct dent *d = &ps->list[k][0]->d;
            char *name = mm_strndup(d->name, d->len);
            size_t len = d->len;
            if (name == NULL) {
                return resp_err(x, "ERR out of memory");
            }
            unsubscribe_at(x->c, ps, k, 0);
            mode_update(x);
            rc = reply_sub(
                    x, unsub_word[k], name, len, false, reply_count(ps, k));
            mm_release(name);
        }
        return rc;
    }
    for (uint32_t i = 1; rc == STATUS_OK && i < x->argc; i++) {
        int at = find_name(ps, k, &x->argv[i]);
        if (at >= 0) {
            unsubscribe_at(x->c, ps, k, (uint32_t)at);
            mode_update(x);
        }
        rc = reply_sub(x, unsub_word[k], x->argv[i].data, x->argv[i].len, false,
                reply_count(ps, k));
    }
    return rc;
}

rstatus_i
resp_cmd_subscribe(struct resp_ctx *x)
{
    switch (x->cmd->id) {
    case RESP_CMD_SUBSCRIBE:
        return cmd_subscribe(x, KIND_CHANNEL);
    case RESP_CMD_PSUBSCRIBE:
        return cmd_subscribe(x, KIND_PATTERN);
    case RESP_CMD_SSUBSCRIBE:
        return cmd_subscribe(x, KIND_SHARD);
    case RESP_CMD_UNSUBSCRIBE:
        return cmd_unsubscribe(x, KIND_CHANNEL);
    case RESP_CMD_PUNSUBSCRIBE:
        return cmd_unsubscribe(x, KIND_PATTERN);
    default:
        return cmd_unsubscribe(x, KIND_SHARD);
    }
}

void
resp_pubsub_release(struct conn *c, struct resp_state *st)
{
    struct resp_pubsub *ps = st->pubsub;
    if (ps == NULL) {
        return;
    }
    for (int k = 0; k < NKIND; k++) {
        while (ps->n[k] > 0) {
            unsubscribe_at(c, ps, (sub_kind_e)k, ps->n[k] - 1);
        }
        mm_release(ps->list[k]);
    }
    mm_free(&st->pubsub);
    c->flags &= ~CONN_NO_IDLE;
    __atomic_store_n(&st->client.sub, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&st->client.psub, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&st->client.ssub, 0, __ATOMIC_RELAXED);
}

/* ---- delivery ---- */

/* A published message's data: the RESP2 "message" (or "smessage") frame,
 *
 *   *3\r\n$7\r\nmessage\r\n$<n>\r\n<channel>\r\n$<m>\r\n<payload>\r\n
 *   ^0                      ^off[0]   ^off[1]
 *
 * off[0]: where the channel's bulk starts (a pmessage frame is its own
 * head, then the bytes from there), off[1]: the channel's bytes, arg: the
 * channel's length. A RESP3 subscriber gets the same bytes with '>' for
 * '*'. */
static struct msg *
message_create(bool shard, const struct resp_arg *ch, const struct resp_arg *p)
{
    char head[64];
    const char *word = shard ? "smessage" : "message";
    int hn = snprintf(head, sizeof(head), "*3\r\n$%zu\r\n%s\r\n$%zu\r\n",
            strlen(word), word, ch->len);
    char mid[32];
    int mn = snprintf(mid, sizeof(mid), "\r\n$%zu\r\n", p->len);
    size_t len = (size_t)hn + ch->len + (size_t)mn + p->len + 2;
    struct msg *m = msg_create(shard ? MSG_KIND_SPUBSUB : MSG_KIND_PUBSUB, len);
    if (m == NULL) {
        return NULL;
    }
    char *d = m->data;
    memcpy(d, head, (size_t)hn);
    /* the channel's bulk starts at the second '$' of head */
    const char *second = strchr(strchr(head, '$') + 1, '$');
    m->off[0] = (uint32_t)(second - head);
    m->off[1] = (uint32_t)hn;
    m->arg = ch->len;
    d += hn;
    memcpy(d, ch->data, ch->len);
    d += ch->len;
    memcpy(d, mid, (size_t)mn);
    d += mn;
    memcpy(d, p->data, p->len);
    d += p->len;
    memcpy(d, "\r\n", 2);
    return m;
}

/* Redis's checkClientOutputBufferLimits for a pubsub client: over the hard
 * limit, or over the soft one for the soft seconds, it is closed. */
static bool
over_limit(struct resp_pubsub *ps, size_t pending, uint64_t now_ms)
{
    uint64_t hard = __atomic_load_n(&obuf_limit[0], __ATOMIC_RELAXED);
    uint64_t soft = __atomic_load_n(&obuf_limit[1], __ATOMIC_RELAXED);
    uint64_t secs = __atomic_load_n(&obuf_limit[2], __ATOMIC_RELAXED);
    if (hard > 0 && pending >= hard) {
        return true;
    }
    if (soft > 0 && pending >= soft) {
        if (ps->soft_since_ms == 0) {
            ps->soft_since_ms = now_ms;
            return false;
        }
        return now_ms - ps->soft_since_ms >= secs * 1000;
    }
    ps->soft_since_ms = 0;
    return false;
}

/* Appends a frame (head then body) to subscriber c, first byte '>' under
 * RESP3; closes c when it passes its output limit. */
static void
write_frame(struct conn *c, const char *head, size_t hlen, const char *body,
        size_t blen, uint64_t now_ms)
{
    struct resp_state *st = c->data;
    if (c->flags & CONN_KILL) {
        return;
    }
    if (c->owner != NULL && worker_conn_wbuf(c) != STATUS_OK) {
        return;
    }
    size_t n = hlen + blen;
    /* after the values being sent in pieces, if any (resp_out.c) */
    struct buf *b = resp_out_wbuf(c, st);
    if (buf_reserve(b, n, st->w.max) != STATUS_OK) {
        INCR(resp_proc_metrics, resp_pubsub_obuf_kill);
        log_debug("resp conn %" PRIu64 ": subscriber's write buffer full, "
                  "closing",
                c->id);
        if (c->owner != NULL) {
            worker_conn_kill(c);
        }
        return;
    }
    char *p = b->wpos;
    memcpy(p, head, hlen);
    if (blen > 0) {
        memcpy(p + hlen, body, blen);
    }
    if (st->w.proto == RESP_PROTO_3) {
        p[0] = '>';
    }
    b->wpos += n;
    INCR(resp_proc_metrics, resp_pubsub_delivered);
    size_t held = buf_rsize(&c->wbuf) + (b != &c->wbuf ? buf_rsize(b) : 0);
    if (over_limit(st->pubsub, held, now_ms)) {
        INCR(resp_proc_metrics, resp_pubsub_obuf_kill);
        log_debug("resp conn %" PRIu64 " from %s: closed for overcoming of "
                  "output buffer limits (pubsub)",
                c->id, c->peer);
        if (c->owner != NULL) {
            worker_conn_kill(c);
        }
        return;
    }
    if (c->owner != NULL) {
        worker_conn_flush_later(c);
    }
}

/* Writes m to this worker's subscribers of its channel (and patterns). */
static void
deliver_local(unsigned wid, const struct msg *m)
{
    struct local *l = locals[wid];
    if (l == NULL) {
        return;
    }
    bool shard = m->kind == MSG_KIND_SPUBSUB;
    const char *ch = m->data + m->off[1];
    size_t chlen = (size_t)m->arg;
    uint64_t now = time_mono_ms();
    sub_kind_e k = shard ? KIND_SHARD : KIND_CHANNEL;
    struct lentry *e = (struct lentry *)dict_find(
            &l->names[k], ch, chlen, hash_key(ch, chlen));
    for (uint32_t i = 0; e != NULL && i < e->nsub; i++) {
        write_frame(e->subs[i], m->data, m->len, NULL, 0, now);
    }
    if (shard) {
        return;
    }
    const char *body = m->data + m->off[0];
    size_t blen = m->len - m->off[0];
    for (struct dent *d = l->names[KIND_PATTERN].head; d != NULL;
            d = d->lnext) {
        if (!resp_glob_match(d->name, d->len, ch, chlen, false)) {
            continue;
        }
        /* head, pattern, then the channel and payload of the frame */
        char head[64];
        int hn = snprintf(
                head, sizeof(head), "*4\r\n$8\r\npmessage\r\n$%u\r\n", d->len);
        size_t flen = (size_t)hn + d->len + 2;
        char *frame = mm_alloc(flen);
        if (frame == NULL) {
            INCR(resp_proc_metrics, resp_pubsub_ex);
            continue;
        }
        memcpy(frame, head, (size_t)hn);
        memcpy(frame + hn, d->name, d->len);
        memcpy(frame + hn + d->len, "\r\n", 2);
        struct lentry *pe = (struct lentry *)d;
        for (uint32_t i = 0; i < pe->nsub; i++) {
            write_frame(pe->subs[i], frame, flen, body, blen, now);
        }
        mm_release(frame);
    }
}

static void
deliver_msg(unsigned to, struct msg *m)
{
    deliver_local(to, m);
}

/* The registry's count of receivers for a channel, and the workers. */
static uint64_t
receivers(bool shard, const struct resp_arg *ch, uint64_t *mask)
{
    uint64_t n = 0;
    uint64_t h = hash_key(ch->data, ch->len);
    pthread_mutex_lock(&registry_lock);
    const struct gentry *g = (const struct gentry *)dict_find(
            &registry[shard ? KIND_SHARD : KIND_CHANNEL], ch->data, ch->len, h);
    if (g != NULL) {
        n += g->total;
        for (int i = 0; i < MASK_WORDS; i++) {
            mask[i] |= g->mask[i];
        }
    }
    for (const struct dent *d = shard ? NULL : registry[KIND_PATTERN].head;
            d != NULL; d = d->lnext) {
        if (resp_glob_match(d->name, d->len, ch->data, ch->len, false)) {
            const struct gentry *pg = (const struct gentry *)d;
            n += pg->total;
            for (int i = 0; i < MASK_WORDS; i++) {
                mask[i] |= pg->mask[i];
            }
        }
    }
    pthread_mutex_unlock(&registry_lock);
    return n;
}

/* PUBLISH / SPUBLISH channel message: the receivers on every worker. */
rstatus_i
resp_cmd_publish(struct resp_ctx *x)
{
    bool shard = x->cmd->id == RESP_CMD_SPUBLISH;
    uint64_t mask[MASK_WORDS] = {0};
    uint64_t n = receivers(shard, &x->argv[1], mask);
    INCR(resp_proc_metrics, resp_pubsub_publish);
    if (n == 0) {
        return resp_compose_integer(x->w, 0);
    }
    struct msg *m = message_create(shard, &x->argv[1], &x->argv[2]);
    if (m == NULL) {
        INCR(resp_proc_metrics, resp_pubsub_ex);
        return resp_err(x, "ERR out of memory for the message");
    }
    unsigned self = worker_of(x->c);
    unsigned nw = msg_nworker();
    for (unsigned w = 0; w < WORKERS_MAX; w++) {
        if (!(mask[w / 64] & (1ull << (w % 64)))) {
            continue;
        }
        if (w == self) {
            deliver_local(w, m);
        } else if (w < nw && msg_send(self, w, m) != STATUS_OK) {
            INCR(resp_proc_metrics, resp_pubsub_ex);
        }
    }
    msg_release(&m);
    return resp_compose_integer(x->w, (int64_t)n);
}

/* A keyspace notification (notify.h's publisher): to every worker with a
 * subscription it may match, this one's too, through the message path
 * from whichever thread changed or dropped the key (a worker, or the
 * store's background thread). Never delivered inline: the key's change
 * may be in the middle of a command composing its reply. Redis counts
 * no receivers for it, so neither does this. */
static void
notify_publish(const char *ch, size_t chlen, const char *msg, size_t mlen)
{
    uint64_t mask[MASK_WORDS];
    uint64_t any = 0;
    for (int i = 0; i < MASK_WORDS; i++) {
        mask[i] = __atomic_load_n(&notify_mask[i], __ATOMIC_ACQUIRE);
        any |= mask[i];
    }
    if (any == 0) {
        return;
    }
    int from = msg_sender();
    struct resp_arg c = {.len = chlen, .data = ch};
    struct resp_arg p = {.len = mlen, .data = msg};
    struct msg *m = from < 0 ? NULL : message_create(false, &c, &p);
    if (m == NULL) {
        INCR(resp_proc_metrics, resp_pubsub_ex);
        return;
    }
    INCR(resp_proc_metrics, resp_notify);
    unsigned nw = msg_nworker();
    for (unsigned w = 0; w < nw; w++) {
        if ((mask[w / 64] & (1ull << (w % 64))) &&
                msg_send((unsigned)from, w, m) != STATUS_OK) {
            INCR(resp_proc_metrics, resp_pubsub_ex);
        }
    }
    msg_release(&m);
}

/* ---- PUBSUB ---- */

static rstatus_i
pubsub_channels(struct resp_ctx *x, sub_kind_e k)
{
    const struct resp_arg *pat = x->argc > 2 ? &x->argv[2] : NULL;
    pthread_mutex_lock(&registry_lock);
    uint64_t n = 0;
    for (const struct dent *d = registry[k].head; d != NULL; d = d->lnext) {
        n += pat == NULL ||
             resp_glob_match(pat->data, pat->len, d->name, d->len, false);
    }
    rstatus_i rc = resp_compose_array(x->w, n);
    for (const struct dent *d = registry[k].head; rc == STATUS_OK && d != NULL;
            d = d->lnext) {
        if (pat == NULL ||
                resp_glob_match(pat->data, pat->len, d->name, d->len, false)) {
            rc = resp_compose_bulk(x->w, d->name, d->len);
        }
    }
    pthread_mutex_unlock(&registry_lock);
    return rc;
}

static rstatus_i
pubsub_numsub(struct resp_ctx *x, sub_kind_e k)
{
    rstatus_i rc = resp_compose_map(x->w, x->argc - 2);
    for (uint32_t i = 2; rc == STATUS_OK && i < x->argc; i++) {
        const struct resp_arg *a = &x->argv[i];
        pthread_mutex_lock(&registry_lock);
        const struct gentry *g = (const struct gentry *)dict_find(
                &registry[k], a->data, a->len, hash_key(a->data, a->len));
        uint64_t n = g != NULL ? g->total : 0;
        pthread_mutex_unlock(&registry_lock);
        rc = resp_compose_bulk(x->w, a->data, a->len);
        if (rc == STATUS_OK) {
            rc = resp_compose_integer(x->w, (int64_t)n);
        }
    }
    return rc;
}

rstatus_i
resp_cmd_pubsub(struct resp_ctx *x)
{
    switch (x->cmd->id) {
    case RESP_CMD_PUBSUB_CHANNELS:
        return pubsub_channels(x, KIND_CHANNEL);
    case RESP_CMD_PUBSUB_SHARDCHANNELS:
        return pubsub_channels(x, KIND_SHARD);
    case RESP_CMD_PUBSUB_NUMSUB:
        return pubsub_numsub(x, KIND_CHANNEL);
    case RESP_CMD_PUBSUB_SHARDNUMSUB:
        return pubsub_numsub(x, KIND_SHARD);
    case RESP_CMD_PUBSUB_NUMPAT:
        return resp_compose_integer(
                x->w, (int64_t)resp_pubsub_names(RESP_PUBSUB_PATTERNS));
    default:
        return resp_compose_err_unknown_subcommand(x->w, x->argv);
    }
}

uint64_t
resp_pubsub_names(resp_pubsub_names_e which)
{
    pthread_mutex_lock(&registry_lock);
    uint64_t n = registry[which].n;
    pthread_mutex_unlock(&registry_lock);
    return n;
}

/* ---- client-output-buffer-limit ---- */

/* Redis's three classes; only pubsub's limits are enforced here (normal
 * clients have worker.wbuf_max, and there are no replicas), the others
 * are kept for CONFIG GET. */
static uint64_t other_limits[2][3] = {{0, 0, 0}, {256 * MiB, 64 * MiB, 60}};

void
resp_obuf_limit_format(char *out, size_t cap)
{
    uint64_t hard, soft, secs;
    resp_pubsub_obuf_limit(&hard, &soft, &secs);
    snprintf(out, cap,
            "normal %" PRIu64 " %" PRIu64 " %" PRIu64 " slave %" PRIu64
            " %" PRIu64 " %" PRIu64 " pubsub %" PRIu64 " %" PRIu64 " %" PRIu64,
            other_limits[0][0], other_limits[0][1], other_limits[0][2],
            other_limits[1][0], other_limits[1][1], other_limits[1][2], hard,
            soft, secs);
}

/* Redis's memtoull: digits, then b, k, kb, m, mb, g or gb, any case. */
static bool
mem_value(const char *s, size_t len, uint64_t *v)
{
    size_t i = 0;
    uint64_t n = 0;
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
        if (n > (UINT64_MAX - 9) / 10) {
            return false;
        }
        n = n * 10 + (uint64_t)(s[i] - '0');
    }
    if (i == 0) {
        return false;
    }
    char unit[3] = {0};
    size_t ulen = len - i;
    if (ulen > 2) {
        return false;
    }
    for (size_t k = 0; k < ulen; k++) {
        char ch = s[i + k];
        unit[k] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
    }
    static const struct {
        const char *u;
        uint64_t mul;
    } units[] = {{"", 1}, {"b", 1}, {"k", 1000}, {"kb", 1024},
            {"m", 1000 * 1000}, {"mb", 1024 * 1024}, {"g", 1000 * 1000 * 1000},
            {"gb", 1024 * 1024 * 1024}};
    for (size_t k = 0; k < sizeof(units) / sizeof(units[0]); k++) {
        if (strcmp(unit, units[k].u) == 0) {
            *v = n * units[k].mul;
            return true;
        }
    }
    return false;
}

/* Splits s at spaces into at most cap words; the count, or cap + 1. */
static size_t
split_words(const char *s, size_t len, const char **w, size_t *wl, size_t cap)
{
    size_t n = 0, i = 0;
    while (i < len) {
        while (i < len && s[i] == ' ') {
            i++;
        }
        if (i == len) {
            break;
        }
        size_t j = i;
        while (j < len && s[j] != ' ') {
            j++;
        }
        if (n == cap) {
            return cap + 1;
        }
        w[n] = s + i;
        wl[n++] = j - i;
        i = j;
    }
    return n;
}

const char *
resp_obuf_limit_set(const char *s, size_t len, bool apply)
{
    const char *w[24];
    size_t wl[24];
    size_t n = split_words(s, len, w, wl, 24);
    if (n > 24 || n % 4 != 0) {
        return "Wrong number of arguments in buffer limit configuration.";
    }
    uint64_t v[6][3];
    int cls[6];
    for (size_t j = 0; j < n; j += 4) {
        struct resp_arg a = {.data = w[j], .len = wl[j]};
        cls[j / 4] = resp_arg_is(&a, "normal") ? 0
                     : resp_arg_is(&a, "slave") || resp_arg_is(&a, "replica")
                             ? 1
                     : resp_arg_is(&a, "pubsub") ? 2
                                                 : -1;
        if (cls[j / 4] < 0) {
            return "Invalid client class specified in buffer limit "
                   "configuration.";
        }
        int64_t secs;
        struct resp_arg sa = {.data = w[j + 3], .len = wl[j + 3]};
        if (!mem_value(w[j + 1], wl[j + 1], &v[j / 4][0]) ||
                !mem_value(w[j + 2], wl[j + 2], &v[j / 4][1]) ||
                !resp_arg_int64(&sa, &secs) || secs < 0) {
            return "Error in hard, soft or soft_seconds setting in buffer "
                   "limit configuration.";
        }
        v[j / 4][2] = (uint64_t)secs;
    }
    for (size_t k = 0; apply && k < n / 4; k++) {
        if (cls[k] == 2) {
            resp_pubsub_set_obuf_limit(v[k][0], v[k][1], v[k][2]);
        } else {
            memcpy(other_limits[cls[k]], v[k], sizeof(v[k]));
        }
    }
    return NULL;
}

void
resp_pubsub_obuf_limit(uint64_t *hard, uint64_t *soft, uint64_t *seconds)
{
    *hard = __atomic_load_n(&obuf_limit[0], __ATOMIC_RELAXED);
    *soft = __atomic_load_n(&obuf_limit[1], __ATOMIC_RELAXED);
    *seconds = __atomic_load_n(&obuf_limit[2], __ATOMIC_RELAXED);
}

void
resp_pubsub_set_obuf_limit(uint64_t hard, uint64_t soft, uint64_t seconds)
{
    __atomic_store_n(&obuf_limit[0], hard, __ATOMIC_RELAXED);
    __atomic_store_n(&obuf_limit[1], soft, __ATOMIC_RELAXED);
    __atomic_store_n(&obuf_limit[2], seconds, __ATOMIC_RELAXED);
}

/* ---- setup ---- */

void
resp_pubsub_setup(void)
{
    msg_handle(MSG_KIND_PUBSUB, deliver_msg);
    msg_handle(MSG_KIND_SPUBSUB, deliver_msg);
    notify_setup(notify_publish);
    resp_pubsub_set_obuf_limit(32 * MiB, 8 * MiB, 60);
    other_limits[0][0] = other_limits[0][1] = other_limits[0][2] = 0;
    other_limits[1][0] = 256 * MiB;
    other_limits[1][1] = 64 * MiB;
    other_limits[1][2] = 60;
}

void
resp_pubsub_teardown(void)
{
    notify_teardown();
    for (int i = 0; i < MASK_WORDS; i++) {
        __atomic_store_n(&notify_mask[i], 0, __ATOMIC_RELAXED);
    }
    for (unsigned i = 0; i < WORKERS_MAX; i++) {
        if (locals[i] == NULL) {
            continue;
        }
        for (int k = 0; k < NKIND; k++) {
            for (struct dent *d = locals[i]->names[k].head; d != NULL;
                    d = d->lnext) {
                mm_release(((struct lentry *)d)->subs);
            }
            dict_deinit(&locals[i]->names[k]);
        }
        mm_free(&locals[i]);
    }
    pthread_mutex_lock(&registry_lock);
    for (int k = 0; k < NKIND; k++) {
        dict_deinit(&registry[k]);
    }
    pthread_mutex_unlock(&registry_lock);
}
