/* SPDX-License-Identifier: Apache-2.0 */
/* Client-side caching (Redis 6+'s tracking): CLIENT TRACKING, CACHING,
 * GETREDIR, TRACKINGINFO, and the invalidation messages, as Redis 7.0.15
 * sends them: a RESP3 push `invalidate` with the keys, or a `message` on
 * `__redis__:invalidate` to a RESP2 client the tracking client redirects
 * to (REDIRECT), which must be subscribed (to anything, as in Redis).
 *
 * Two tables, shared by every worker:
 *  - the key table (default mode): per key, the ids of the clients that
 *    read it while tracking. 64 shards, each a chained hash under its own
 *    mutex. A change of the key (any protocol, any worker, expiry and
 *    eviction included: keyspace.h's change and drop listeners) takes the
 *    entry out and sends each client one invalidation; the client must
 *    read the key again to be told again. Keys are names only, across
 *    databases, as in Redis. Bounded by tracking-table-max-keys: past it
 *    an insertion invalidates other keys of its shard first (Redis
 *    invalidates random keys in its cron).
 *  - the trackers, sorted by id under a rwlock: where each tracking
 *    client lives (its worker), where its invalidations go (itself, or
 *    its REDIRECT target and that one's worker), its BCAST prefixes and
 *    NOLOOP. Entries of the key table that name a client no longer
 *    tracking are skipped when met, as Redis skips them.
 * A read is remembered before the command runs and again after it: a
 * write on another worker between the two invalidates the first and is
 * covered by the second, so a value read is never left without the
 * invalidation of the next change (Redis, single-threaded, needs one).
 *
 * Every invalidation travels as a MSG_KIND_TRACKING message to the
 * worker that holds its receiver, its own included, so it is written
 * after the reply of the command that caused it, and a receiver's
 * messages come in the order they were sent. The receiving worker finds
 * the connection by id (a walk of its connections).
 *
 * Cost when no client tracks: nothing on reads; no listener is installed
 * (keyspace.h), and run_command tests one flag.
 *
 * Differences from Redis (docs/protocol-resp.md): BCAST invalidations
 * are sent one key per message as the keys change, not gathered per
 * event loop; a RESP3 REDIRECT target gets pushes, a RESP2 one
 * `message` frames, as Redis. */
#include "processor/resp_internal.h"

#include "base/hash.h"
#include "base/log.h"
#include "base/mm.h"
#include "core/msg.h"
#include "core/worker.h"
#include "processor/keyspace.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* a tracking client's flags (struct resp_tracking and struct tracker) */
#define TR_BCAST   (1u << 0)
#define TR_OPTIN   (1u << 1)
#define TR_OPTOUT  (1u << 2)
#define TR_NOLOOP  (1u << 3)
#define TR_CACHING (1u << 4) /* CLIENT CACHING given for the next command */
#define TR_BROKEN  (1u << 5) /* its redirect target was gone */
#define TR_MODES   (TR_BCAST | TR_OPTIN | TR_OPTOUT | TR_NOLOOP)

#define TSHARDS 64
#define TR_KEYS_MAX                                                            \
    256 /* keys of one command remembered (MGET of more: the                   \
           first ones; the rest are read untracked) */

/* what a MSG_KIND_TRACKING message carries (off[0]) */
enum {
    MSG_TR_KEY,
    MSG_TR_FLUSH,
    MSG_TR_BROKEN
};

struct prefix {
    uint32_t len;
    char *s;
};

/* per connection, its worker's only */
struct resp_tracking {
    uint32_t flags;
    uint64_t redirect; /* 0: none */
    struct prefix *pre;
    uint32_t npre;
};

/* shared, under trackers_lock */
struct tracker {
    uint64_t id;
    unsigned worker;
    uint64_t redirect;
    unsigned redirect_worker;
    uint32_t flags;
    uint8_t proto;
    struct prefix *pre; /* BCAST: its prefixes ("" for all keys) */
    uint32_t npre;
};

struct tkey {
    struct tkey *next;
    uint64_t hash;
    uint32_t klen;
    uint32_t nid;
    uint32_t cap;
    uint64_t *ids;
    char key[];
};

struct tshard {
    pthread_mutex_t lock;
    struct tkey **bucket;
    size_t nbucket;
    size_t n;
    size_t evict_at; /* the bucket the next forced invalidation starts at */
} __attribute__((aligned(64)));

static struct tshard shards[TSHARDS];
static uint64_t nkeys;              /* atomic: tracking_total_keys */
static uint64_t nitems;             /* atomic: tracking_total_items */
static uint64_t nprefixes;          /* atomic: tracking_total_prefixes */
static uint64_t max_keys = 1000000; /* atomic: tracking-table-max-keys */
static unsigned trim_at;            /* atomic: the shard trimmed next */

static pthread_rwlock_t trackers_lock = PTHREAD_RWLOCK_INITIALIZER;
static struct tracker **trackers; /* sorted by id */
size_t resp_tracking_n; /* atomic reads outside the lock (resp_internal.h) */
static size_t trackers_cap;
static size_t nbcast; /* under the lock */

/* the client whose command runs on this thread (NOLOOP), 0: none */
static __thread uint64_t writer_id;

/* ---- the trackers ---- */

static size_t
tracker_pos(uint64_t id)
{
    size_t lo = 0, hi = resp_tracking_n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (trackers[mid]->id < id) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

static struct tracker *
tracker_find(uint64_t id)
{
    size_t i = tracker_pos(id);
    return i < resp_tracking_n && trackers[i]->id == id ? trackers[i] : NULL;
}

static void
prefixes_free(struct prefix *p, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        mm_release(p[i].s);
    }
    mm_release(p);
}

static struct prefix *
prefixes_copy(const struct prefix *p, uint32_t n)
{
    struct prefix *out = mm_zalloc(sizeof(*out) * (n > 0 ? n : 1));
    if (out == NULL) {
        return NULL;
    }
    for (uint32_t i = 0; i < n; i++) {
        out[i].len = p[i].len;
        out[i].s = mm_alloc(p[i].len + 1);
        if (out[i].s == NULL) {
            prefixes_free(out, i);
            return NULL;
        }
        memcpy(out[i].s, p[i].s, p[i].len);
        out[i].s[p[i].len] = '\0';
    }
    return out;
}

static void
tracker_free(struct tracker *t)
{
    if (t != NULL) {
        prefixes_free(t->pre, t->npre);
        mm_release(t);
    }
}

static void listeners_update(void);

/* Puts (or replaces) t for its id; false: no memory (nothing changed). */
static bool
tracker_put(struct tracker *t)
{
    pthread_rwlock_wrlock(&trackers_lock);
    size_t i = tracker_pos(t->id);
    struct tracker *old = NULL;
    if (i < resp_tracking_n && trackers[i]->id == t->id) {
        old = trackers[i];
        trackers[i] = t;
    } else {
        if (resp_tracking_n == trackers_cap) {
            size_t cap = trackers_cap == 0 ? 16 : trackers_cap * 2;
            struct tracker **a = mm_realloc(trackers, cap * sizeof(*a));
            if (a == NULL) {
                pthread_rwlock_unlock(&trackers_lock);
                return false;
            }
            trackers = a;
            trackers_cap = cap;
        }
        memmove(&trackers[i + 1], &trackers[i],
                (resp_tracking_n - i) * sizeof(*trackers));
        trackers[i] = t;
        __atomic_store_n(
                &resp_tracking_n, resp_tracking_n + 1, __ATOMIC_RELAXED);
    }
    if (old != NULL && (old->flags & TR_BCAST)) {
        nbcast--;
        __atomic_sub_fetch(&nprefixes, old->npre, __ATOMIC_RELAXED);
    }
    if (t->flags & TR_BCAST) {
        nbcast++;
        __atomic_add_fetch(&nprefixes, t->npre, __ATOMIC_RELAXED);
    }
    pthread_rwlock_unlock(&trackers_lock);
    tracker_free(old);
    listeners_update();
    return true;
}

static void
tracker_del(uint64_t id)
{
    pthread_rwlock_wrlock(&trackers_lock);
    size_t i = tracker_pos(id);
    struct tracker *t = NULL;
    if (i < resp_tracking_n && trackers[i]->id == id) {
        t = trackers[i];
        memmove(&trackers[i], &trackers[i + 1],
                (resp_tracking_n - i - 1) * sizeof(*trackers));
        __atomic_store_n(
                &resp_tracking_n, resp_tracking_n - 1, __ATOMIC_RELAXED);
        if (t->flags & TR_BCAST) {
            nbcast--;
            __atomic_sub_fetch(&nprefixes, t->npre, __ATOMIC_RELAXED);
        }
    }
    pthread_rwlock_unlock(&trackers_lock);
    tracker_free(t);
    listeners_update();
}

/* ---- sending ---- */

/* data: the tracking client's id (8 bytes), then the key */
static void
send_one(const struct tracker *t, int what, const void *key, size_t klen)
{
    int from = msg_sender();
    if (from < 0) {
        INCR(resp_proc_metrics, resp_tracking_ex);
        return;
    }
    struct msg *m = msg_create(MSG_KIND_TRACKING, sizeof(uint64_t) + klen);
    if (m == NULL) {
        INCR(resp_proc_metrics, resp_tracking_ex);
        return;
    }
    bool redirected = t->redirect != 0 && what != MSG_TR_BROKEN;
    m->arg = redirected ? t->redirect : t->id;
    m->off[0] = (uint32_t)what;
    m->off[1] = t->proto;
    m->off[2] = (redirected ? 1u : 0u) | (uint32_t)t->worker << 1;
    memcpy(m->data, &t->id, sizeof(uint64_t));
    if (klen > 0) {
        memcpy(m->data + sizeof(uint64_t), key, klen);
    }
    unsigned to = redirected ? t->redirect_worker : t->worker;
    if (msg_send((unsigned)from, to, m) != STATUS_OK) {
        INCR(resp_proc_metrics, resp_tracking_ex);
    }
    msg_release(&m);
}

/* The table's clients of one key, taken out with it: each still tracking
 * in the default mode is sent one invalidation (not the writer with
 * NOLOOP). */
static void
send_ids(const uint64_t *ids, uint32_t n, const void *key, size_t klen)
{
    uint64_t writer = writer_id;
    pthread_rwlock_rdlock(&trackers_lock);
    for (uint32_t i = 0; i < n; i++) {
        const struct tracker *t = tracker_find(ids[i]);
        if (t == NULL || (t->flags & TR_BCAST) ||
                ((t->flags & TR_NOLOOP) && t->id == writer)) {
            continue;
        }
        send_one(t, MSG_TR_KEY, key, klen);
    }
    pthread_rwlock_unlock(&trackers_lock);
}

static bool
has_prefix(const void *key, size_t klen, const struct prefix *p)
{
    return p->len <= klen && memcmp(key, p->s, p->len) == 0;
}

static void
send_bcast(const void *key, size_t klen)
{
    uint64_t writer = writer_id;
    pthread_rwlock_rdlock(&trackers_lock);
    for (size_t i = 0; nbcast > 0 && i < resp_tracking_n; i++) {
        const struct tracker *t = trackers[i];
        if (!(t->flags & TR_BCAST) ||
                ((t->flags & TR_NOLOOP) && t->id == writer)) {
            continue;
        }
        for (uint32_t j = 0; j < t->npre; j++) {
            if (has_prefix(key, klen, &t->pre[j])) {
                send_one(t, MSG_TR_KEY, key, klen);
                break;
            }
        }
    }
    pthread_rwlock_unlock(&trackers_lock);
}

/* ---- the key table ---- */

static struct tshard *
shard_of(uint64_t h)
{
    return &shards[(h >> 58) % TSHARDS];
}

static struct tkey **
slot_of(struct tshard *s, const void *key, size_t klen, uint64_t h)
{
    struct tkey **p = &s->bucket[h % s->nbucket];
    while (*p != NULL && !((*p)->hash == h && (*p)->klen == klen &&
                                 memcmp((*p)->key, key, klen) == 0)) {
        p = &(*p)->next;
    }
    return p;
}

static void
shard_grow(struct tshard *s)
{
    size_t nb = s->nbucket == 0 ? 64 : s->nbucket * 2;
    struct tkey **b = mm_zalloc(nb * sizeof(*b));
    if (b == NULL) {
        return; /* stays as it is: longer chains */
    }
    for (size_t i = 0; i < s->nbucket; i++) {
        struct tkey *e = s->bucket[i];
        while (e != NULL) {
            struct tkey *next = e->next;
            e->next = b[e->hash % nb];
            b[e->hash % nb] = e;
            e = next;
        }
    }
    mm_release(s->bucket);
    s->bucket = b;
    s->nbucket = nb;
}

static void
tkey_free(struct tkey *e)
{
    __atomic_sub_fetch(&nkeys, 1, __ATOMIC_RELAXED);
    __atomic_sub_fetch(&nitems, e->nid, __ATOMIC_RELAXED);
    mm_release(e->ids);
    mm_release(e);
}

/* Takes the key's entry out of the table and invalidates its clients. */
static void
invalidate_key(const void *key, size_t klen)
{
    if (__atomic_load_n(&nkeys, __ATOMIC_RELAXED) > 0) {
        uint64_t h = hash_key(key, klen);
        struct tshard *s = shard_of(h);
        struct tkey *e = NULL;
        pthread_mutex_lock(&s->lock);
        if (s->nbucket > 0) {
            struct tkey **p = slot_of(s, key, klen, h);
            e = *p;
            if (e != NULL) {
                *p = e->next;
                s->n--;
            }
        }
        pthread_mutex_unlock(&s->lock);
        if (e != NULL) {
            send_ids(e->ids, e->nid, e->key, e->klen);
            tkey_free(e);
        }
    }
}

/* Past tracking-table-max-keys: takes keys of shard s out (not keep, the
 * one just added: compared, never read) until the table is back under
 * it, or s has none left. Under s's lock; the entries taken are returned
 * as a list, counted out of nkeys already. */
static struct tkey *
shard_trim_locked(struct tshard *s, const struct tkey *keep)
{
    uint64_t limit = __atomic_load_n(&max_keys, __ATOMIC_RELAXED);
    struct tkey *out = NULL;
    size_t scanned = 0;
    while (limit > 0 && __atomic_load_n(&nkeys, __ATOMIC_RELAXED) > limit &&
            scanned < s->nbucket) {
        size_t b = s->evict_at++ % s->nbucket;
        struct tkey **p = &s->bucket[b];
        scanned++;
        while (*p != NULL &&
                __atomic_load_n(&nkeys, __ATOMIC_RELAXED) > limit) {
            struct tkey *e = *p;
            if (e == keep) {
                p = &e->next;
                continue;
            }
            *p = e->next;
            s->n--;
            __atomic_sub_fetch(&nkeys, 1, __ATOMIC_RELAXED);
            e->next = out;
            out = e;
        }
    }
    return out;
}

/* Adds id to the clients of key. */
static void
remember(const void *key, size_t klen, uint64_t id)
{
    uint64_t h = hash_key(key, klen);
    struct tshard *s = shard_of(h);
    pthread_mutex_lock(&s->lock);
    if (s->n >= s->nbucket) {
        shard_grow(s);
    }
    if (s->nbucket == 0) {
        pthread_mutex_unlock(&s->lock);
        INCR(resp_proc_metrics, resp_tracking_ex);
        return;
    }
    struct tkey **p = slot_of(s, key, klen, h);
    struct tkey *e = *p;
    if (e == NULL) {
        e = mm_alloc(sizeof(*e) + klen);
        if (e == NULL) {
            pthread_mutex_unlock(&s->lock);
            INCR(resp_proc_metrics, resp_tracking_ex);
            return;
        }
        e->next = NULL;
        e->hash = h;
        e->klen = (uint32_t)klen;
        e->nid = e->cap = 0;
        e->ids = NULL;
        memcpy(e->key, key, klen);
        *p = e;
        s->n++;
        __atomic_add_fetch(&nkeys, 1, __ATOMIC_RELAXED);
    }
    bool known = false;
    for (uint32_t i = 0; i < e->nid && !known; i++) {
        known = e->ids[i] == id;
    }
    if (!known) {
        if (e->nid == e->cap) {
            uint32_t cap = e->cap == 0 ? 2 : e->cap * 2;
            uint64_t *ids = mm_realloc(e->ids, cap * sizeof(*ids));
            if (ids == NULL) {
                pthread_mutex_unlock(&s->lock);
                INCR(resp_proc_metrics, resp_tracking_ex);
                return;
            }
            e->ids = ids;
            e->cap = cap;
        }
        e->ids[e->nid++] = id;
        __atomic_add_fetch(&nitems, 1, __ATOMIC_RELAXED);
    }
    pthread_mutex_unlock(&s->lock);
    uint64_t limit = __atomic_load_n(&max_keys, __ATOMIC_RELAXED);
    /* past the bound: other keys are invalidated, shard after shard (one
     * lock at a time), the one just added kept */
    for (int k = 0; k < TSHARDS && limit > 0 &&
                    __atomic_load_n(&nkeys, __ATOMIC_RELAXED) > limit;
            k++) {
        struct tshard *t =
                &shards[__atomic_fetch_add(&trim_at, 1, __ATOMIC_RELAXED) %
                        TSHARDS];
        pthread_mutex_lock(&t->lock);
        struct tkey *trimmed = t->nbucket > 0 ? shard_trim_locked(t, e) : NULL;
        pthread_mutex_unlock(&t->lock);
        while (trimmed != NULL) {
            struct tkey *next = trimmed->next;
            INCR(resp_proc_metrics, resp_tracking_trimmed);
            send_ids(trimmed->ids, trimmed->nid, trimmed->key, trimmed->klen);
            __atomic_add_fetch(&nkeys, 1, __ATOMIC_RELAXED); /* tkey_free's */
            tkey_free(trimmed);
            trimmed = next;
        }
    }
}

static void
table_clear(void)
{
    for (int i = 0; i < TSHARDS; i++) {
        struct tshard *s = &shards[i];
        pthread_mutex_lock(&s->lock);
        for (size_t b = 0; b < s->nbucket; b++) {
            struct tkey *e = s->bucket[b];
            while (e != NULL) {
                struct tkey *next = e->next;
                tkey_free(e);
                e = next;
            }
            s->bucket[b] = NULL;
        }
        s->n = 0;
        pthread_mutex_unlock(&s->lock);
    }
}

/* FLUSHDB and FLUSHALL: every tracking client is told to drop all (a
 * null), and the table is emptied, as Redis does for either. */
static void
invalidate_all(void)
{
    pthread_rwlock_rdlock(&trackers_lock);
    for (size_t i = 0; i < resp_tracking_n; i++) {
        send_one(trackers[i], MSG_TR_FLUSH, NULL, 0);
    }
    pthread_rwlock_unlock(&trackers_lock);
    table_clear();
}

/* ---- the keyspace's listeners ---- */

static void
on_change(uint8_t db, const void *key, size_t klen, const char *event)
{
    (void)db;
    if (key == NULL) {
        invalidate_all(); /* flushdb, flushall */
        return;
    }
    if (strcmp(event, "keymiss") == 0 || strcmp(event, "new") == 0) {
        return; /* a read; and "new" comes before its write's event */
    }
    invalidate_key(key, klen);
    if (__atomic_load_n(&nprefixes, __ATOMIC_RELAXED) > 0) {
        send_bcast(key, klen);
    }
}

static void
on_drop(uint8_t db, const void *key, size_t klen, storage_drop_e why,
        const struct storage_drop_info *info)
{
    (void)info;
    (void)db;
    (void)why;
    uint64_t writer = writer_id;
    writer_id = 0; /* expiry and eviction: no client did it */
    on_change(0, key, klen, "expired");
    writer_id = writer;
}

static bool listening; /* under listen_lock */
static pthread_mutex_t listen_lock = PTHREAD_MUTEX_INITIALIZER;

static void
listeners_update(void)
{
    pthread_mutex_lock(&listen_lock);
    bool want = __atomic_load_n(&resp_tracking_n, __ATOMIC_RELAXED) > 0;
    if (want != listening) {
        ks_listen_change(KS_LISTEN_TRACKING, want ? on_change : NULL);
        ks_listen_drop(KS_LISTEN_TRACKING, want ? on_drop : NULL);
        listening = want;
        if (!want) {
            /* the last tracking client left: every id in the table is
             * gone (a client that turns tracking on now waits for this
             * lock before its first read) */
            table_clear();
        }
    }
    pthread_mutex_unlock(&listen_lock);
}

/* ---- the receiving worker ---- */

static void
write_frame(struct conn *c, struct resp_state *st, const char *a, size_t alen,
        const char *b, size_t blen, const char *k, size_t klen,
        const char *tail, size_t tlen)
{
    if (worker_conn_wbuf(c) != STATUS_OK) {
        return;
    }
    size_t n = alen + blen + klen + tlen;
    /* after the values being sent in pieces, if any (resp_out.c) */
    struct buf *out = resp_out_wbuf(c, st);
    if (buf_reserve(out, n, st->w.max) != STATUS_OK) {
        INCR(resp_proc_metrics, resp_tracking_ex);
        worker_conn_kill(c); /* as Redis closes a client over its limit */
        return;
    }
    char *p = out->wpos;
    memcpy(p, a, alen);
    memcpy(p + alen, b, blen);
    if (klen > 0) {
        memcpy(p + alen + blen, k, klen);
    }
    memcpy(p + alen + blen + klen, tail, tlen);
    out->wpos += n;
    INCR(resp_proc_metrics, resp_tracking_sent);
    worker_conn_flush_later(c);
}

static void
on_msg(unsigned to, struct msg *m)
{
    uint64_t tracking_id;
    memcpy(&tracking_id, m->data, sizeof(tracking_id));
    const char *key = m->data + sizeof(uint64_t);
    size_t klen = m->len - sizeof(uint64_t);
    int what = (int)m->off[0];
    bool redirected = (m->off[2] & 1u) != 0;
    struct worker *w = worker_get(to);
    struct conn *c = w != NULL ? worker_conn_by_id(w, m->arg) : NULL;
    struct resp_state *st = c != NULL ? c->data : NULL;
    if (st == NULL) {
        if (redirected) {
            /* the target is gone: its tracking client is told */
            pthread_rwlock_rdlock(&trackers_lock);
            const struct tracker *t = tracker_find(tracking_id);
            if (t != NULL) {
                send_one(t, MSG_TR_BROKEN, NULL, 0);
            }
            pthread_rwlock_unlock(&trackers_lock);
        }
        return;
    }
    if (what == MSG_TR_BROKEN) {
        struct resp_tracking *tr = st->tracking;
        if (tr == NULL || tr->redirect == 0) {
            return;
        }
        tr->flags |= TR_BROKEN;
        if (st->w.proto == RESP_PROTO_3) {
            char num[32];
            int n = snprintf(
                    num, sizeof(num), ":%" PRIu64 "\r\n", tr->redirect);
            const char *word = "$21\r\ntracking-redir-broken\r\n";
            write_frame(c, st, ">2\r\n", 4, word, strlen(word), NULL, 0, num,
                    (size_t)n);
        }
        return;
    }
    const char *head;
    size_t hlen;
    if (st->w.proto == RESP_PROTO_3) {
        head = ">2\r\n$10\r\ninvalidate\r\n";
        hlen = strlen(head);
    } else if (redirected && resp_pubsub_count(st) > 0) {
        head = "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n";
        hlen = strlen(head);
    } else {
        return; /* RESP2 and not redirected: Redis sends nothing either */
    }
    if (what == MSG_TR_FLUSH) {
        /* the null of the tracking client's protocol, as Redis sends */
        bool p3 = m->off[1] == RESP_PROTO_3;
        write_frame(c, st, head, hlen, p3 ? "_\r\n" : "$-1\r\n", p3 ? 3 : 5,
                NULL, 0, "", 0);
        return;
    }
    char mid[32];
    int n = snprintf(mid, sizeof(mid), "*1\r\n$%zu\r\n", klen);
    write_frame(c, st, head, hlen, mid, (size_t)n, key, klen, "\r\n", 2);
}

/* ---- commands ---- */

static bool
prefix_overlap(const char *a, size_t al, const char *b, size_t bl)
{
    return memcmp(a, b, al < bl ? al : bl) == 0;
}

/* Redis's checkPrefixCollisionsOrReply: false after the error reply. */
static bool
prefixes_check(struct resp_ctx *x, const struct resp_tracking *tr,
        const struct prefix *p, uint32_t n, rstatus_i *rc)
{
    for (uint32_t i = 0; i < n; i++) {
        for (uint32_t k = 0; tr != NULL && k < tr->npre; k++) {
            if (prefix_overlap(
                        tr->pre[k].s, tr->pre[k].len, p[i].s, p[i].len)) {
                *rc = resp_compose_error_fmt(x->w,
                        "ERR Prefix '%.*s' overlaps with an existing prefix "
                        "'%.*s'. Prefixes for a single client must not "
                        "overlap.",
                        (int)strnlen(p[i].s, p[i].len), p[i].s,
                        (int)strnlen(tr->pre[k].s, tr->pre[k].len),
                        tr->pre[k].s);
                return false;
            }
        }
        for (uint32_t j = i + 1; j < n; j++) {
            if (prefix_overlap(p[i].s, p[i].len, p[j].s, p[j].len)) {
                *rc = resp_compose_error_fmt(x->w,
                        "ERR Prefix '%.*s' overlaps with another provided "
                        "prefix '%.*s'. Prefixes for a single client must "
                        "not overlap.",
                        (int)strnlen(p[i].s, p[i].len), p[i].s,
                        (int)strnlen(p[j].s, p[j].len), p[j].s);
                return false;
            }
        }
    }
    return true;
}

static void
tracking_off(struct conn *c, struct resp_state *st)
{
    struct resp_tracking *tr = st->tracking;
    if (tr == NULL) {
        return;
    }
    tracker_del(c->id);
    prefixes_free(tr->pre, tr->npre);
    mm_free(&st->tracking);
}

/* Publishes the connection's tracking state to the shared trackers. */
static bool
publish_tracker(struct resp_ctx *x, const struct resp_tracking *tr,
        unsigned redirect_worker)
{
    struct tracker *t = mm_zalloc(sizeof(*t));
    if (t == NULL) {
        return false;
    }
    t->id = x->c->id;
    t->worker = x->c->owner != NULL ? worker_id(x->c->owner) : 0;
    t->redirect = tr->redirect;
    t->redirect_worker = redirect_worker;
    t->flags = tr->flags & TR_MODES;
    t->proto = (uint8_t)x->st->w.proto;
    if (tr->npre > 0) {
        t->pre = prefixes_copy(tr->pre, tr->npre);
        if (t->pre == NULL) {
            mm_release(t);
            return false;
        }
        t->npre = tr->npre;
    }
    if (!tracker_put(t)) {
        tracker_free(t);
        return false;
    }
    return true;
}

/* CLIENT TRACKING ON|OFF [REDIRECT id] [PREFIX p]... [BCAST] [OPTIN]
 * [OPTOUT] [NOLOOP], Redis 7.0.15's checks in its order. */
static rstatus_i
cmd_tracking(struct resp_ctx *x)
{
    int64_t redir = 0;
    uint32_t opts = 0;
    struct prefix pre[64];
    uint32_t npre = 0;
    for (uint32_t j = 3; j < x->argc; j++) {
        bool more = j + 1 < x->argc;
        const struct resp_arg *a = &x->argv[j];
        if (resp_arg_is(a, "redirect") && more) {
            j++;
            if (redir != 0) {
                return resp_err(x, "ERR A client can only redirect to a "
                                   "single other client");
            }
            if (!resp_arg_int64(&x->argv[j], &redir)) {
                return resp_err_int(x);
            }
            unsigned rw;
            if (redir <= 0 || !resp_client_worker((uint64_t)redir, &rw)) {
                return resp_err(x, "ERR The client ID you want redirect to "
                                   "does not exist");
            }
        } else if (resp_arg_is(a, "bcast")) {
            opts |= TR_BCAST;
        } else if (resp_arg_is(a, "optin")) {
            opts |= TR_OPTIN;
        } else if (resp_arg_is(a, "optout")) {
            opts |= TR_OPTOUT;
        } else if (resp_arg_is(a, "noloop")) {
            opts |= TR_NOLOOP;
        } else if (resp_arg_is(a, "prefix") && more) {
            j++;
            if (npre == sizeof(pre) / sizeof(pre[0])) {
                return resp_err(x, "ERR too many prefixes (at most 64 in "
                                   "one call)");
            }
            pre[npre].s = (char *)x->argv[j].data;
            pre[npre].len = (uint32_t)x->argv[j].len;
            npre++;
        } else {
            return resp_err_syntax(x);
        }
    }
    struct resp_state *st = x->st;
    struct resp_tracking *tr = st->tracking;
    if (resp_arg_is(&x->argv[2], "off")) {
        tracking_off(x->c, st);
        return resp_compose_ok(x->w);
    }
    if (!resp_arg_is(&x->argv[2], "on")) {
        return resp_err_syntax(x);
    }
    if (!(opts & TR_BCAST) && npre > 0) {
        return resp_err(x, "ERR PREFIX option requires BCAST mode to be "
                           "enabled");
    }
    if (tr != NULL && !!(tr->flags & TR_BCAST) != !!(opts & TR_BCAST)) {
        return resp_err(x, "ERR You can't switch BCAST mode on/off before "
                           "disabling tracking for this client, and then "
                           "re-enabling it with a different mode.");
    }
    if ((opts & TR_BCAST) && (opts & (TR_OPTIN | TR_OPTOUT))) {
        return resp_err(x, "ERR OPTIN and OPTOUT are not compatible with "
                           "BCAST");
    }
    if ((opts & TR_OPTIN) && (opts & TR_OPTOUT)) {
        return resp_err(x, "ERR You can't specify both OPTIN mode and "
                           "OPTOUT mode");
    }
    if (tr != NULL && (((opts & TR_OPTIN) && (tr->flags & TR_OPTOUT)) ||
                              ((opts & TR_OPTOUT) && (tr->flags & TR_OPTIN)))) {
        return resp_err(x, "ERR You can't switch OPTIN/OPTOUT mode before "
                           "disabling tracking for this client, and then "
                           "re-enabling it with a different mode.");
    }
    rstatus_i rc = STATUS_OK;
    if ((opts & TR_BCAST) && !prefixes_check(x, tr, pre, npre, &rc)) {
        return rc;
    }
    unsigned rw = 0;
    if (redir > 0 && !resp_client_worker((uint64_t)redir, &rw)) {
        return resp_err(x, "ERR The client ID you want redirect to does not "
                           "exist");
    }
    /* the new state: prefixes add to the ones there (Redis keeps them) */
    struct resp_tracking *next = mm_zalloc(sizeof(*next));
    struct prefix all = {.len = 0, .s = (char *)""};
    const struct prefix *add = pre;
    uint32_t nadd = npre;
    if ((opts & TR_BCAST) && npre == 0) {
        add = &all; /* BCAST with no prefix: every key */
        nadd = 1;
    }
    uint32_t nold = tr != NULL && (opts & TR_BCAST) ? tr->npre : 0;
    struct prefix *p = NULL;
    if (next != NULL && (opts & TR_BCAST)) {
        p = mm_zalloc(sizeof(*p) * (nold + nadd));
        struct prefix *a = p == NULL ? NULL : prefixes_copy(add, nadd);
        struct prefix *o =
                p == NULL || nold == 0 ? NULL : prefixes_copy(tr->pre, nold);
        if (a == NULL || (nold > 0 && o == NULL)) {
            mm_release(p);
            p = NULL;
            prefixes_free(a, a == NULL ? 0 : nadd);
            prefixes_free(o, o == NULL ? 0 : nold);
        } else {
            /* a prefix sent again is kept once */
            uint32_t n = 0;
            for (uint32_t i = 0; i < nold; i++) {
                p[n++] = o[i];
            }
            for (uint32_t i = 0; i < nadd; i++) {
                bool dup = false;
                for (uint32_t k = 0; k < n && !dup; k++) {
                    dup = p[k].len == a[i].len &&
                          memcmp(p[k].s, a[i].s, a[i].len) == 0;
                }
                if (dup) {
                    mm_release(a[i].s);
                } else {
                    p[n++] = a[i];
                }
            }
            mm_release(o);
            mm_release(a);
            next->pre = p;
            next->npre = n;
        }
    }
    if (next == NULL || ((opts & TR_BCAST) && p == NULL)) {
        mm_release(next);
        return resp_err(x, "ERR out of memory");
    }
    next->flags = opts;
    next->redirect = (uint64_t)redir;
    if (!publish_tracker(x, next, rw)) {
        prefixes_free(next->pre, next->npre);
        mm_release(next);
        return resp_err(x, "ERR out of memory");
    }
    if (tr != NULL) {
        prefixes_free(tr->pre, tr->npre);
        mm_release(tr);
    }
    st->tracking = next;
    return resp_compose_ok(x->w);
}

static rstatus_i
cmd_caching(struct resp_ctx *x)
{
    struct resp_tracking *tr = x->st->tracking;
    if (tr == NULL) {
        return resp_err(x, "ERR CLIENT CACHING can be called only when the "
                           "client is in tracking mode with OPTIN or OPTOUT "
                           "mode enabled");
    }
    if (resp_arg_is(&x->argv[2], "yes")) {
        if (!(tr->flags & TR_OPTIN)) {
            return resp_err(x, "ERR CLIENT CACHING YES is only valid when "
                               "tracking is enabled in OPTIN mode.");
        }
    } else if (resp_arg_is(&x->argv[2], "no")) {
        if (!(tr->flags & TR_OPTOUT)) {
            return resp_err(x, "ERR CLIENT CACHING NO is only valid when "
                               "tracking is enabled in OPTOUT mode.");
        }
    } else {
        return resp_err_syntax(x);
    }
    tr->flags |= TR_CACHING;
    return resp_compose_ok(x->w);
}

static int
prefix_cmp(const void *a, const void *b)
{
    const struct prefix *p = a, *q = b;
    size_t n = p->len < q->len ? p->len : q->len;
    int r = memcmp(p->s, q->s, n);
    return r != 0 ? r : (p->len > q->len) - (p->len < q->len);
}

static rstatus_i
cmd_trackinginfo(struct resp_ctx *x)
{
    const struct resp_tracking *tr = x->st->tracking;
    const char *flags[8];
    uint32_t nf = 0;
    flags[nf++] = tr != NULL ? "on" : "off";
    uint32_t f = tr != NULL ? tr->flags : 0;
    if (f & TR_BCAST) {
        flags[nf++] = "bcast";
    }
    if (f & TR_OPTIN) {
        flags[nf++] = "optin";
        if (f & TR_CACHING) {
            flags[nf++] = "caching-yes";
        }
    }
    if (f & TR_OPTOUT) {
        flags[nf++] = "optout";
        if (f & TR_CACHING) {
            flags[nf++] = "caching-no";
        }
    }
    if (f & TR_NOLOOP) {
        flags[nf++] = "noloop";
    }
    if (f & TR_BROKEN) {
        flags[nf++] = "broken_redirect";
    }
    rstatus_i rc = resp_compose_map(x->w, 3);
    rc = rc == STATUS_OK ? resp_compose_bulk(x->w, "flags", 5) : rc;
    rc = rc == STATUS_OK ? resp_compose_set(x->w, nf) : rc;
    for (uint32_t i = 0; i < nf && rc == STATUS_OK; i++) {
        rc = resp_compose_bulk(x->w, flags[i], strlen(flags[i]));
    }
    rc = rc == STATUS_OK ? resp_compose_bulk(x->w, "redirect", 8) : rc;
    rc = rc == STATUS_OK ? resp_compose_integer(x->w,
                                   tr != NULL ? (int64_t)tr->redirect : -1)
                         : rc;
    rc = rc == STATUS_OK ? resp_compose_bulk(x->w, "prefixes", 8) : rc;
    uint32_t np = tr != NULL ? tr->npre : 0;
    rc = rc == STATUS_OK ? resp_compose_array(x->w, np) : rc;
    if (np > 0 && rc == STATUS_OK) {
        /* Redis lists them from its radix tree: in byte order */
        struct prefix *sorted = prefixes_copy(tr->pre, np);
        if (sorted == NULL) {
            return STATUS_ENOMEM;
        }
        qsort(sorted, np, sizeof(*sorted), prefix_cmp);
        for (uint32_t i = 0; i < np && rc == STATUS_OK; i++) {
            rc = resp_compose_bulk(x->w, sorted[i].s, sorted[i].len);
        }
        prefixes_free(sorted, np);
    }
    return rc;
}

rstatus_i
resp_cmd_client_tracking(struct resp_ctx *x)
{
    switch (x->cmd->id) {
    case RESP_CMD_CLIENT_TRACKING:
        return cmd_tracking(x);
    case RESP_CMD_CLIENT_CACHING:
        return cmd_caching(x);
    case RESP_CMD_CLIENT_GETREDIR: {
        const struct resp_tracking *tr = x->st->tracking;
        return resp_compose_integer(
                x->w, tr != NULL ? (int64_t)tr->redirect : -1);
    }
    default:
        return cmd_trackinginfo(x);
    }
}

/* ---- around every command (resp.c's run_command) ---- */

/* Remembers the keys of a read-only command for a client tracking in the
 * default mode (OPTIN: only after CLIENT CACHING yes; OPTOUT: not after
 * CLIENT CACHING no), as Redis's trackingRememberKeys. */
static void
remember_keys(struct resp_ctx *x)
{
    const struct resp_tracking *tr = x->st->tracking;
    if (tr == NULL || (tr->flags & TR_BCAST) ||
            !(x->cmd->flags & RESP_CMD_F_READONLY)) {
        return;
    }
    bool given = (tr->flags & TR_CACHING) != 0;
    if (((tr->flags & TR_OPTIN) && !given) ||
            ((tr->flags & TR_OPTOUT) && given)) {
        return;
    }
    uint32_t pos[TR_KEYS_MAX];
    size_t n = resp_command_keys(x->cmd, x->argv, x->argc, pos, TR_KEYS_MAX);
    if (n > TR_KEYS_MAX) {
        n = TR_KEYS_MAX;
    }
    for (size_t i = 0; i < n; i++) {
        const struct resp_arg *k = &x->argv[pos[i]];
        remember(k->data, k->len, x->c->id);
    }
}

void
resp_tracking_before(struct resp_ctx *x)
{
    writer_id = x->c->id;
    remember_keys(x);
}

void
resp_tracking_after(struct resp_ctx *x)
{
    remember_keys(x);
    writer_id = 0;
    struct resp_tracking *tr = x->st->tracking;
    /* CLIENT CACHING holds until a command other than CLIENT runs (a
     * whole EXEC), as Redis's resetClient */
    if (tr != NULL && !resp_arg_is(&x->argv[0], "client") && !x->st->in_exec &&
            !x->st->in_multi) {
        tr->flags &= ~TR_CACHING;
    }
}

void
resp_tracking_release(struct conn *c, struct resp_state *st)
{
    tracking_off(c, st);
}

/* ---- INFO, CONFIG ---- */

void
resp_tracking_stats(
        uint64_t *clients, uint64_t *keys, uint64_t *items, uint64_t *prefixes)
{
    *clients = __atomic_load_n(&resp_tracking_n, __ATOMIC_RELAXED);
    *keys = __atomic_load_n(&nkeys, __ATOMIC_RELAXED);
    *items = __atomic_load_n(&nitems, __ATOMIC_RELAXED);
    *prefixes = __atomic_load_n(&nprefixes, __ATOMIC_RELAXED);
}

uint64_t
resp_tracking_max_keys(void)
{
    return __atomic_load_n(&max_keys, __ATOMIC_RELAXED);
}

void
resp_tracking_set_max_keys(uint64_t n)
{
    __atomic_store_n(&max_keys, n, __ATOMIC_RELAXED);
}

void
resp_tracking_setup(void)
{
    for (int i = 0; i < TSHARDS; i++) {
        pthread_mutex_init(&shards[i].lock, NULL);
    }
    msg_handle(MSG_KIND_TRACKING, on_msg);
}

void
resp_tracking_teardown(void)
{
    table_clear();
    for (int i = 0; i < TSHARDS; i++) {
        mm_free(&shards[i].bucket);
        shards[i].nbucket = 0;
        shards[i].evict_at = 0;
    }
    pthread_rwlock_wrlock(&trackers_lock);
    for (size_t i = 0; i < resp_tracking_n; i++) {
        tracker_free(trackers[i]);
    }
    mm_free(&trackers);
    __atomic_store_n(&resp_tracking_n, 0, __ATOMIC_RELAXED);
    trackers_cap = 0;
    nbcast = 0;
    __atomic_store_n(&nprefixes, 0, __ATOMIC_RELAXED);
    pthread_rwlock_unlock(&trackers_lock);
    listeners_update();
}
