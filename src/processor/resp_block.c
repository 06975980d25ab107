/* SPDX-License-Identifier: Apache-2.0 */
/* Blocking pops: BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP BZPOPMIN BZPOPMAX
 * BZMPOP and CLIENT UNBLOCK, with Redis 7.0.15's timeout rules and order;
 * and WAIT, which blocks on no key until its timeout (no replicas).
 *
 * A command that finds every key empty registers its connection as a
 * waiter on each key (a FIFO per key, in one registry under one mutex)
 * and stops reading its connection (resp_read sees st->block). A change
 * that adds elements to a list or sorted set (resp_list_signal, after its
 * commit) looks the key up in the registry and sends the first waiter's
 * worker a MSG_KIND_BLOCK message (core/msg.h: rings and eventfd, never
 * polling); that worker runs the waiter's command again: served, it
 * replies, leaves the registry and signals the key again, so the next
 * waiter gets the rest (the client that blocked first is served first);
 * not served (another client took the elements), it stays. Registering
 * then checking the keys once more closes the window between a waiter's
 * first try and its registration. Timeouts: a timer thread sleeps until
 * the earliest deadline and sends the owner a message. Inside MULTI, or
 * where there is no worker (unit tests), a blocking pop does not block:
 * it answers as if its timeout passed.
 *
 * Threads: a waiter is created, run and freed by its connection's worker;
 * other threads (signalling workers, the timer, CLIENT UNBLOCK) read its
 * registry fields under the registry lock only. */
#include "processor/lcoll.h"
#include "processor/resp_zset.h"
#include "processor/zcoll.h"

#include "base/hash.h"
#include "base/log.h"
#include "base/mm.h"
#include "base/time.h"
#include "core/msg.h"
#include "core/worker.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TIMER_THREAD_NAME "block-timer" /* ps -L, top -H */

#define KBUCKETS 4096

enum {
    WAKE_READY,
    WAKE_TIMEOUT,
    WAKE_UNBLOCK_TIMEOUT,
    WAKE_UNBLOCK_ERROR,
};

struct kentry;

struct resp_waiter {
    struct resp_waiter *next, *prev; /* every waiter (the timer's walk) */
    uint64_t id;                     /* the client id */
    unsigned worker;
    struct conn *c; /* the owner's */
    uint8_t db;
    uint8_t type;      /* STORAGE_TYPE_LIST or _ZSET */
    uint64_t deadline; /* monotonic ms; 0: none */
    bool woken;        /* a ready message is on its way */
    bool timed;        /* a timeout or unblock message is on its way */
    uint32_t nkeys;
    struct kentry **keys;
    const struct resp_command *cmd;
    uint32_t argc;
    struct resp_arg *argv; /* copies, then the bytes */
};

struct kentry {
    struct kentry *next;
    uint8_t db;
    size_t klen;
    uint32_t n, cap;
    struct resp_waiter **q; /* FIFO */
    char key[];
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t timer_cond = PTHREAD_COND_INITIALIZER;
static struct kentry *table[KBUCKETS];
static struct resp_waiter *all;
static uint64_t nwaiting; /* atomic: a relaxed load keeps signals cheap */
static uint64_t ntimed;   /* of them with a timeout (INFO's timeout table) */
static pthread_t timer;
static bool timer_running, timer_stop;

/* What a retry of the command reports. */
static __thread bool retrying;
static __thread bool served;

static uint32_t
bucket(uint8_t db, const void *key, size_t klen)
{
    return (uint32_t)(hash_key(key, klen) ^
                      (uint64_t)db * 0x9e3779b97f4a7c15ULL) %
           KBUCKETS;
}

/* under the lock */
static struct kentry *
kfind(uint8_t db, const void *key, size_t klen, bool create)
{
    uint32_t b = bucket(db, key, klen);
    for (struct kentry *e = table[b]; e != NULL; e = e->next) {
        if (e->db == db && e->klen == klen && memcmp(e->key, key, klen) == 0) {
            return e;
        }
    }
    if (!create) {
        return NULL;
    }
    struct kentry *e = calloc(1, sizeof(*e) + klen);
    if (e == NULL) {
        return NULL;
    }
    e->db = db;
    e->klen = klen;
    memcpy(e->key, key, klen);
    e->next = table[b];
    table[b] = e;
    return e;
}

/* under the lock */
static void
kdrop(struct kentry *e)
{
    uint32_t b = bucket(e->db, e->key, e->klen);
    for (struct kentry **p = &table[b]; *p != NULL; p = &(*p)->next) {
        if (*p == e) {
            *p = e->next;
            break;
        }
    }
    free(e->q);
    free(e);
}

static unsigned
self_worker(const struct conn *c)
{
    return c->owner != NULL ? worker_id(c->owner) : 0;
}

/* under the lock: tells w's worker why to look at it */
static void
send_wake(unsigned from, struct resp_waiter *w, int why)
{
    struct msg *m = msg_create(MSG_KIND_BLOCK, 0);
    if (m == NULL) {
        log_warn(
                "blocked client %" PRIu64 ": no memory for its wake-up", w->id);
        return;
    }
    m->arg = w->id;
    m->off[0] = (uint32_t)why;
    if (msg_send(from, w->worker, m) != STATUS_OK) {
        log_warn("blocked client %" PRIu64 ": wake-up lost", w->id);
    }
    msg_release(&m);
}

/* under the lock: wakes the first waiter of a key */
static void
signal_locked(unsigned from, uint8_t db, const void *key, size_t klen)
{
    struct kentry *e = kfind(db, key, klen, false);
    if (e == NULL || e->n == 0) {
        return;
    }
    struct resp_waiter *w = e->q[0];
    if (!w->woken && !w->timed) {
        w->woken = true;
        send_wake(from, w, WAKE_READY);
    }
}

void
resp_block_signal(struct resp_ctx *x, uint8_t db, const void *key, size_t klen)
{
    if (__atomic_load_n(&nwaiting, __ATOMIC_RELAXED) == 0 ||
            x->c->owner == NULL) {
        return;
    }
    pthread_mutex_lock(&lock);
    signal_locked(self_worker(x->c), db, key, klen);
    pthread_mutex_unlock(&lock);
}

void
resp_list_signal(struct resp_ctx *x, const struct resp_arg *key)
{
    resp_block_signal(x, resp_db(x), key->data, key->len);
}

/* ---- registering ---- */

static void
unregister_locked(struct resp_waiter *w)
{
    for (uint32_t i = 0; i < w->nkeys; i++) {
        struct kentry *e = w->keys[i];
        uint32_t j = 0;
        while (j < e->n && e->q[j] != w) {
            j++;
        }
        if (j < e->n) {
            memmove(e->q + j, e->q + j + 1, (e->n - j - 1) * sizeof(*e->q));
            e->n--;
        }
        if (e->n == 0) {
            kdrop(e);
        }
    }
    w->nkeys = 0;
    if (w->prev != NULL) {
        w->prev->next = w->next;
    } else if (all == w) {
        all = w->next;
    }
    if (w->next != NULL) {
        w->next->prev = w->prev;
    }
    w->next = w->prev = NULL;
    __atomic_fetch_sub(&nwaiting, 1, __ATOMIC_RELAXED);
    if (w->deadline != 0) {
        __atomic_fetch_sub(&ntimed, 1, __ATOMIC_RELAXED);
    }
}

static void
waiter_free(struct resp_waiter *w)
{
    free(w->keys);
    free(w->argv);
    free(w);
}

/* Takes the connection out of the registry; the owner's thread. */
static void
unblock(struct resp_state *st, bool resignal)
{
    struct resp_waiter *w = st->block;
    if (w == NULL) {
        return;
    }
    pthread_mutex_lock(&lock);
    /* the next waiter of each key may be served now */
    struct kentry **keys = w->keys;
    uint32_t n = w->nkeys;
    for (uint32_t i = 0; resignal && i < n; i++) {
        struct kentry *e = keys[i];
        for (uint32_t j = 0; j < e->n; j++) {
            struct resp_waiter *o = e->q[j];
            if (o != w) {
                if (!o->woken && !o->timed) {
                    o->woken = true;
                    send_wake(w->worker, o, WAKE_READY);
                }
                break;
            }
        }
    }
    unregister_locked(w);
    pthread_mutex_unlock(&lock);
    waiter_free(w);
    st->block = NULL;
}

uint64_t
resp_block_count(void)
{
    return __atomic_load_n(&nwaiting, __ATOMIC_RELAXED);
}

uint64_t
resp_block_timed_count(void)
{
    return __atomic_load_n(&ntimed, __ATOMIC_RELAXED);
}

void
resp_block_release(struct conn *c, struct resp_state *st)
{
    (void)c;
    unblock(st, true); /* a wake it got goes to the next waiter */
}

/* Copies the command for its retries. */
static struct resp_waiter *
waiter_create(struct resp_ctx *x, uint32_t first, uint32_t nkeys, uint8_t type,
        uint64_t deadline)
{
    size_t bytes = 0;
    for (uint32_t i = 0; i < x->argc; i++) {
        bytes += x->argv[i].len;
    }
    struct resp_waiter *w = calloc(1, sizeof(*w));
    if (w == NULL) {
        return NULL;
    }
    w->argv = malloc(x->argc * sizeof(*w->argv) + bytes + 1);
    w->keys = calloc(nkeys + 1, sizeof(*w->keys));
    if (w->argv == NULL || w->keys == NULL) {
        waiter_free(w);
        return NULL;
    }
    char *p = (char *)(w->argv + x->argc);
    for (uint32_t i = 0; i < x->argc; i++) {
        memcpy(p, x->argv[i].data, x->argv[i].len);
        w->argv[i].len = x->argv[i].len;
        w->argv[i].data = p;
        p += x->argv[i].len;
    }
    w->argc = x->argc;
    w->cmd = x->cmd;
    w->id = x->st->client.id;
    w->c = x->c;
    w->worker = self_worker(x->c);
    w->db = resp_db(x);
    w->type = type;
    w->deadline = deadline;
    pthread_mutex_lock(&lock);
    for (uint32_t i = 0; i < nkeys; i++) {
        const struct resp_arg *k = &w->argv[first + i];
        struct kentry *e = kfind(w->db, k->data, k->len, true);
        if (e == NULL) {
            continue;
        }
        bool dup = false;
        for (uint32_t j = 0; j < w->nkeys; j++) {
            dup |= w->keys[j] == e;
        }
        if (dup) {
            continue;
        }
        if (e->n == e->cap) {
            uint32_t cap = e->cap < 4 ? 4 : 2 * e->cap;
            struct resp_waiter **q = realloc(e->q, cap * sizeof(*q));
            if (q == NULL) {
                if (e->n == 0) {
                    kdrop(e);
                }
                continue;
            }
            e->q = q;
            e->cap = cap;
        }
        e->q[e->n++] = w;
        w->keys[w->nkeys++] = e;
    }
    w->next = all;
    if (all != NULL) {
        all->prev = w;
    }
    all = w;
    __atomic_fetch_add(&nwaiting, 1, __ATOMIC_RELAXED);
    if (deadline != 0) {
        __atomic_fetch_add(&ntimed, 1, __ATOMIC_RELAXED);
        pthread_cond_signal(&timer_cond);
    }
    pthread_mutex_unlock(&lock);
    return w;
}

/* ---- the commands ---- */

/* getTimeoutFromObjectOrReply, seconds: *deadline monotonic ms (0: none). */
static bool
parse_timeout(struct resp_ctx *x, const struct resp_arg *a, uint64_t *deadline,
        rstatus_i *rc)
{
    long double v;
    if (!resp_parse_long_double(a->data, a->len, &v)) {
        *rc = resp_err(x, "ERR timeout is not a float or out of range");
        return false;
    }
    long double ms = v * 1000.0L;
    /* Redis casts to long long: out of range (and inf) come out negative */
    if (!(ms < 9.2e18L && ms > -9.2e18L) || (long long)ms < 0) {
        *rc = resp_err(x, "ERR timeout is negative");
        return false;
    }
    long long t = (long long)ms;
    *deadline = t > 0 ? time_mono_ms() + (uint64_t)t : 0;
    return true;
}

/* The null of a timeout (a null array, every command) or of a blocking
 * pop refused blocking (a null bulk for BLMOVE, as Redis); WAIT's count of
 * replicas that acknowledged: none. */
static rstatus_i
null_reply(struct resp_ctx *x, bool timeout)
{
    resp_command_e id = x->cmd->id;
    if (id == RESP_CMD_WAIT) {
        return resp_compose_integer(x->w, 0);
    }
    if (!timeout && (id == RESP_CMD_BLMOVE || id == RESP_CMD_BRPOPLPUSH)) {
        return resp_compose_null(x->w);
    }
    return resp_compose_null_array(x->w);
}

/* Nothing to pop: block (or, where blocking is refused, the null). */
static rstatus_i
not_ready(struct resp_ctx *x, uint32_t first, uint32_t nkeys, uint8_t type,
        uint64_t deadline)
{
    if (retrying) {
        return STATUS_OK;
    }
    if (x->st->in_multi || x->st->in_exec || x->c->owner == NULL ||
            msg_nworker() == 0) {
        return null_reply(x, x->c->owner == NULL);
    }
    struct resp_waiter *w = waiter_create(x, first, nkeys, type, deadline);
    if (w == NULL) {
        return resp_err(x, "ERR out of memory");
    }
    x->st->block = w;
    /* a change between the first try and the registration found no one:
     * look again */
    for (uint32_t i = 0; i < nkeys; i++) {
        const struct resp_arg *k = &w->argv[first + i];
        if (ks_lookup(w->db, k->data, k->len, type, KS_NOSTATS | KS_NOTOUCH,
                    x->c->now_ms, NULL) == KS_OK) {
            pthread_mutex_lock(&lock);
            if (!w->woken) {
                w->woken = true;
                send_wake(w->worker, w, WAKE_READY);
            }
            pthread_mutex_unlock(&lock);
            break;
        }
    }
    return STATUS_OK;
}

static rstatus_i
bmove(struct resp_ctx *x)
{
    bool from = false, to = true; /* BRPOPLPUSH */
    uint32_t ti = 3;
    if (x->cmd->id == RESP_CMD_BLMOVE) {
        ti = 5;
        bool ok = true;
        for (int i = 0; i < 2; i++) {
            const struct resp_arg *a = &x->argv[3 + i];
            bool *dst = i == 0 ? &from : &to;
            if (resp_arg_is(a, "left")) {
                *dst = true;
            } else if (resp_arg_is(a, "right")) {
                *dst = false;
            } else {
                ok = false;
            }
        }
        if (!ok) {
            return resp_err_syntax(x);
        }
    }
    uint64_t deadline = 0;
    rstatus_i rc;
    if (!retrying && !parse_timeout(x, &x->argv[ti], &deadline, &rc)) {
        return rc;
    }
    struct copies_view m = {0};
    coll_status_e st =
            resp_list_move(x, &x->argv[1], &x->argv[2], from, to, &m);
    if (st == COLL_MISS || (st == COLL_OK && m.n == 0)) {
        return not_ready(x, 1, 1, STORAGE_TYPE_LIST, deadline);
    }
    served = true;
    if (st != COLL_OK) {
        return resp_coll_err(x, st);
    }
    resp_list_signal(x, &x->argv[2]);
    rc = resp_compose_bulk(x->w, (const char *)m.bytes, m.len);
    free(m.bytes);
    return rc;
}

/* WAIT numreplicas timeout (milliseconds), as a Redis master with no
 * replicas answers it: 0 replicas acknowledged, at once when 0 are asked
 * for (or inside MULTI), else after the timeout (0: until CLIENT UNBLOCK
 * or the client leaves), blocked as a pop is, with no key to wake it. */
rstatus_i
resp_cmd_wait(struct resp_ctx *x)
{
    int64_t n, ms;
    if (!resp_arg_int64(&x->argv[1], &n)) {
        return resp_err(x, "ERR value is not an integer or out of range");
    }
    if (!resp_arg_int64(&x->argv[2], &ms)) {
        return resp_err(x, "ERR timeout is not an integer or out of range");
    }
    if (ms < 0) {
        return resp_err(x, "ERR timeout is negative");
    }
    if (n <= 0) {
        return resp_compose_integer(x->w, 0);
    }
    uint64_t deadline = ms > 0 ? time_mono_ms() + (uint64_t)ms : 0;
    return not_ready(x, 1, 0, STORAGE_TYPE_STRING, deadline);
}

rstatus_i
resp_cmd_bpop(struct resp_ctx *x)
{
    resp_command_e id = x->cmd->id;
    if (id == RESP_CMD_BLMOVE || id == RESP_CMD_BRPOPLPUSH) {
        return bmove(x);
    }
    bool mpop = id == RESP_CMD_BLMPOP || id == RESP_CMD_BZMPOP;
    bool zset = id == RESP_CMD_BZPOPMIN || id == RESP_CMD_BZPOPMAX ||
                id == RESP_CMD_BZMPOP;
    uint64_t deadline = 0;
    rstatus_i rc;
    const struct resp_arg *t = mpop ? &x->argv[1] : &x->argv[x->argc - 1];
    if (!retrying && !parse_timeout(x, t, &deadline, &rc)) {
        return rc;
    }
    uint32_t first = 1, nkeys = x->argc - 2;
    bool end = id == RESP_CMD_BRPOP || id == RESP_CMD_BZPOPMAX; /* right/max */
    int64_t count = -1;
    if (mpop) {
        first = 3;
        bool left = true, max = false;
        int r = zset ? resp_zset_mpop_args(x, 2, &nkeys, &max, &count, &rc)
                     : resp_list_mpop_args(x, 2, &nkeys, &left, &count, &rc);
        if (r != 0) {
            return rc;
        }
        end = zset ? max : !left;
    }
    bool done = zset ? resp_zset_pop(x, &x->argv[first], nkeys, end, true,
                               count, mpop, &rc)
                     : resp_list_pop(x, &x->argv[first], nkeys, !end, count,
                               mpop ? RESP_LIST_POP_MULTI : RESP_LIST_POP_KEYED,
                               &rc);
    if (done) {
        served = true;
        return rc;
    }
    return not_ready(x, first, nkeys,
            zset ? STORAGE_TYPE_ZSET : STORAGE_TYPE_LIST, deadline);
}

/* ---- on the owner's worker ---- */

/* Sends what the blocked connection has now and lets it read on. */
static void
resume(struct conn *c)
{
    c->flags |= CONN_STALLED; /* the worker parses what is pipelined */
    worker_conn_flush_later(c);
}

/* A key of another type does not serve a waiter (it stays blocked). */
static bool
keys_of_type(const struct resp_waiter *w, uint32_t first, uint32_t nkeys,
        uint64_t now)
{
    for (uint32_t i = 0; i < nkeys; i++) {
        const struct resp_arg *k = &w->argv[first + i];
        if (ks_lookup(w->db, k->data, k->len, w->type, KS_NOSTATS | KS_NOTOUCH,
                    now, NULL) == KS_WRONGTYPE) {
            return false;
        }
    }
    return true;
}

static void
on_block_msg(unsigned to, struct msg *m)
{
    pthread_mutex_lock(&lock);
    struct resp_waiter *w = all;
    while (w != NULL && !(w->id == m->arg && w->worker == to)) {
        w = w->next;
    }
    if (w == NULL) {
        pthread_mutex_unlock(&lock);
        return; /* served, closed or timed out meanwhile */
    }
    int why = (int)m->off[0];
    if (why == WAKE_READY) {
        w->woken = false;
    }
    pthread_mutex_unlock(&lock);
    struct conn *c = w->c;
    struct resp_state *st = c->data;
    if (st == NULL || st->block != w || (c->flags & CONN_KILL) ||
            worker_conn_wbuf(c) != STATUS_OK) {
        return;
    }
    c->now_ms = time_now_ms();
    st->w.buf = &c->wbuf;
    struct resp_ctx x = {
            .c = c,
            .st = st,
            .w = &st->w,
            .cmd = w->cmd,
            .argv = w->argv,
            .argc = w->argc,
    };
    if (why == WAKE_READY) {
        resp_command_e id = w->cmd->id;
        uint32_t first = 1, nkeys = w->argc - 2;
        if (id == RESP_CMD_BLMPOP || id == RESP_CMD_BZMPOP) {
            int64_t n = 0;
            first = 3;
            resp_arg_int64(&w->argv[2], &n); /* checked when it blocked */
            nkeys = (uint32_t)n;
        } else if (id == RESP_CMD_BLMOVE || id == RESP_CMD_BRPOPLPUSH) {
            nkeys = 1;
        }
        if (first + nkeys > w->argc) {
            nkeys = w->argc - first;
        }
        if (!keys_of_type(w, first, nkeys, c->now_ms)) {
            return;
        }
        /* held as the first try was (resp_run_held): BLMOVE's two keys
         * change in one step for every other connection */
        struct ks_hold h;
        ks_hold_init(&h);
        retrying = true;
        served = false;
        if (resp_hold_add_command(&h, resp_db(&x), x.cmd, x.argv, x.argc) &&
                ks_hold_take(&h, RESP_HOLD_WAIT_NS)) {
            resp_cmd_bpop(&x);
        }
        ks_hold_release(&h);
        retrying = false;
        if (!served) {
            return;
        }
        unblock(st, true);
        resume(c);
        return;
    }
    if (why == WAKE_TIMEOUT &&
            (w->deadline == 0 || time_mono_ms() < w->deadline)) {
        return;
    }
    if (why == WAKE_UNBLOCK_ERROR) {
        resp_err(&x, "UNBLOCKED client unblocked via CLIENT UNBLOCK");
    } else {
        null_reply(&x, true);
    }
    unblock(st, false);
    resume(c);
}

/* ---- timeouts ---- */

static void *
timer_main(void *arg)
{
    (void)arg;
    /* its own name: an unnamed thread shows as another "segcached" in
     * ps -L and pgrep -w, beside the main thread */
    pthread_setname_np(pthread_self(), TIMER_THREAD_NAME);
    pthread_mutex_lock(&lock);
    while (!timer_stop) {
        uint64_t now = time_mono_ms(), next = now + 1000;
        for (struct resp_waiter *w = all; w != NULL; w = w->next) {
            if (w->deadline == 0 || w->timed) {
                continue;
            }
            if (w->deadline <= now) {
                w->timed = true;
                send_wake(msg_nworker() + MSG_SENDER_BLOCK, w, WAKE_TIMEOUT);
            } else if (w->deadline < next) {
                next = w->deadline;
            }
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t wait = next - now;
        ts.tv_sec += (time_t)(wait / 1000);
        ts.tv_nsec += (long)(wait % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&timer_cond, &lock, &ts);
    }
    pthread_mutex_unlock(&lock);
    return NULL;
}

void
resp_block_setup(void)
{
    msg_handle(MSG_KIND_BLOCK, on_block_msg);
    timer_stop = false;
    timer_running = pthread_create(&timer, NULL, timer_main, NULL) == 0;
    if (!timer_running) {
        log_error("blocked clients' timer thread: not started");
        return;
    }
    pthread_setname_np(timer, TIMER_THREAD_NAME); /* at once, too */
}

void
resp_block_teardown(void)
{
    if (timer_running) {
        pthread_mutex_lock(&lock);
        timer_stop = true;
        pthread_cond_signal(&timer_cond);
        pthread_mutex_unlock(&lock);
        pthread_join(timer, NULL);
        timer_running = false;
    }
}

/* ---- CLIENT UNBLOCK id [TIMEOUT|ERROR] ---- */

rstatus_i
resp_cmd_client_unblock(struct resp_ctx *x)
{
    int64_t id;
    if (!resp_arg_int64(&x->argv[2], &id)) {
        return resp_err_int(x);
    }
    int why = WAKE_UNBLOCK_TIMEOUT;
    if (x->argc == 4) {
        if (resp_arg_is(&x->argv[3], "error")) {
            why = WAKE_UNBLOCK_ERROR;
        } else if (!resp_arg_is(&x->argv[3], "timeout")) {
            return resp_err(x, "ERR CLIENT UNBLOCK reason should be TIMEOUT "
                               "or ERROR");
        }
    } else if (x->argc > 4) {
        return resp_err_syntax(x);
    }
    bool found = false;
    pthread_mutex_lock(&lock);
    for (struct resp_waiter *w = all; w != NULL; w = w->next) {
        if (w->id == (uint64_t)id && !w->timed) {
            w->timed = true;
            send_wake(self_worker(x->c), w, why);
            found = true;
            break;
        }
    }
    pthread_mutex_unlock(&lock);
    return resp_compose_integer(x->w, found);
}
