/* SPDX-License-Identifier: Apache-2.0 */
/* Hot keys: the workers' sampling, the admin thread's windows (hotkey.h).
 *
 * Hand-over of a second between a worker and the admin thread (Dekker's
 * pattern, sequentially consistent):
 *
 *   worker (sampled access)            admin (tick)
 *   busy = 1                           epoch = e + 1
 *   e' = epoch                         wait while busy
 *   add to pair[e' & 1]                read pair[e & 1] (if stamped e)
 *   busy = 0 (release)
 *
 * Either the worker's epoch load sees e + 1 (it writes the other pair) or
 * the admin's busy load sees 1 (it waits). A pair stamped with an older
 * epoch belongs to a second the worker did not sample in: the worker
 * clears it before its first add of a new second.
 *
 * Lock order: report_lock only; nothing is called while holding it but
 * formatting. */
#include "hotkey/hotkey.h"

#include "base/log.h"
#include "base/mm.h"

#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>

/* clang-format off */
#define WORKER_CAP      256 /* space-saving counters per worker, all */
#define WORKER_MISS_CAP 64  /* ... misses alone */
#define SEC_CAP         128 /* keys a second keeps */
#define SEC_MISS_CAP    32
#define SECONDS         60  /* seconds kept: the longest window */
#define LOGGED_MAX      64  /* keys remembered as logged */
/* clang-format on */

static const unsigned window_s[HOTKEY_WINDOWS] = {10, 60};

struct slot {
    struct hk_summary *sum[2][2]; /* [epoch & 1][all, miss] */
    uint64_t stamp[2];            /* epoch of each pair's contents */
    uint64_t rng;
    uint32_t countdown;
    int busy;     /* atomic */
    char pad[64]; /* no line shared with the next worker's slot */
};

struct second {
    struct hk_top all;
    struct hk_top miss;
};

/* A window's published report. */
struct report_win {
    struct hk_top all;
    struct hk_top miss;
    struct hk_entry all_e[HOTKEY_TOP_MAX];
    struct hk_entry miss_e[HOTKEY_MISS_MAX];
};

struct logged {
    uint64_t hash; /* ^ 1 for a miss */
    uint64_t at_ms;
};

static hotkey_metrics_st *metrics;
static uint64_t sample_rate;
static double threshold;
static uint64_t export_n;
static unsigned nslots;
static struct slot *slots;
static __thread struct slot *self;

static uint64_t epoch = 2; /* atomic; pairs start stamped 0 */
static uint64_t reset_gen; /* atomic */

/* admin thread only */
static struct second *ring;
static struct hk_entry *ring_e;
static unsigned ring_pos;
static uint64_t seen_gen;
static uint64_t last_tick_ms;
static bool primed; /* a tick has been: the next one ends a timed second */
static struct hk_merger *merger;
static struct hk_view *views;
static struct report_win *work;
static struct logged logged[LOGGED_MAX];

/* published, under report_lock */
static pthread_mutex_t report_lock = PTHREAD_MUTEX_INITIALIZER;
static struct report_win *published;

static void
report_win_init(struct report_win *r)
{
    hk_top_init(&r->all, r->all_e, HOTKEY_TOP_MAX);
    hk_top_init(&r->miss, r->miss_e, HOTKEY_MISS_MAX);
}

/* Fixes a copied report's pointers into its own arrays. */
static void
report_win_copy(struct report_win *dst, const struct report_win *src)
{
    memcpy(dst, src, sizeof(*dst));
    dst->all.e = dst->all_e;
    dst->miss.e = dst->miss_e;
}

static size_t
memory_bytes(unsigned nworkers)
{
    size_t per_worker = 2 * (hk_summary_bytes(WORKER_CAP) +
                                    hk_summary_bytes(WORKER_MISS_CAP));
    return nworkers * (sizeof(struct slot) + per_worker) +
           SECONDS * (sizeof(struct second) + (SEC_CAP + SEC_MISS_CAP) *
                                                      sizeof(struct hk_entry)) +
           hk_merger_bytes(SECONDS * SEC_CAP) +
           2 * HOTKEY_WINDOWS * sizeof(struct report_win);
}

static uint32_t
merger_room(unsigned nworkers)
{
    uint32_t w = nworkers * WORKER_CAP, s = SECONDS * SEC_CAP;
    return w > s ? w : s;
}

static rstatus_i
alloc_slots(unsigned nworkers)
{
    slots = mm_zalloc(nworkers * sizeof(struct slot));
    if (slots == NULL) {
        return STATUS_ENOMEM;
    }
    nslots = nworkers;
    for (unsigned i = 0; i < nworkers; i++) {
        struct slot *s = &slots[i];
        for (int p = 0; p < 2; p++) {
            s->sum[p][0] = hk_summary_create(WORKER_CAP);
            s->sum[p][1] = hk_summary_create(WORKER_MISS_CAP);
            if (s->sum[p][0] == NULL || s->sum[p][1] == NULL) {
                return STATUS_ENOMEM;
            }
        }
        s->rng = 0x9e3779b97f4a7c15ULL * (i + 1);
        s->countdown = 1;
    }
    return STATUS_OK;
}

static rstatus_i
alloc_admin(unsigned nworkers)
{
    ring = mm_zalloc(SECONDS * sizeof(*ring));
    ring_e = mm_zalloc(
            SECONDS * (SEC_CAP + SEC_MISS_CAP) * sizeof(struct hk_entry));
    merger = hk_merger_create(merger_room(nworkers));
    size_t nviews = nworkers > SECONDS ? nworkers : SECONDS;
    views = mm_zalloc(nviews * sizeof(*views));
    work = mm_zalloc(HOTKEY_WINDOWS * sizeof(*work));
    published = mm_zalloc(HOTKEY_WINDOWS * sizeof(*published));
    if (ring == NULL || ring_e == NULL || merger == NULL || views == NULL ||
            work == NULL || published == NULL) {
        return STATUS_ENOMEM;
    }
    for (unsigned i = 0; i < SECONDS; i++) {
        struct hk_entry *e = ring_e + i * (SEC_CAP + SEC_MISS_CAP);
        hk_top_init(&ring[i].all, e, SEC_CAP);
        hk_top_init(&ring[i].miss, e + SEC_CAP, SEC_MISS_CAP);
    }
    for (unsigned w = 0; w < HOTKEY_WINDOWS; w++) {
        report_win_init(&work[w]);
        report_win_init(&published[w]);
    }
    return STATUS_OK;
}

rstatus_i
hotkey_setup(const hotkey_options_st *options, hotkey_metrics_st *m,
        unsigned nworkers)
{
    hotkey_options_st defaults = {HOTKEY_OPTION(INIT_OPTION)};
    if (options == NULL) {
        options = &defaults;
    }
    metrics = m;
    sample_rate = option_uint(&options->hotkey_sample_rate);
    threshold = option_fpn(&options->hotkey_threshold);
    export_n = option_uint(&options->hotkey_export);
    if (export_n > HOTKEY_TOP_MAX) {
        export_n = HOTKEY_TOP_MAX;
    }
    __atomic_store_n(&epoch, 2, __ATOMIC_SEQ_CST);
    ring_pos = 0;
    seen_gen = __atomic_load_n(&reset_gen, __ATOMIC_ACQUIRE);
    last_tick_ms = 0;
    primed = false;
    memset(logged, 0, sizeof(logged));
    if (sample_rate == 0 || nworkers == 0) {
        sample_rate = 0;
        return STATUS_OK;
    }
    if (alloc_slots(nworkers) != STATUS_OK ||
            alloc_admin(nworkers) != STATUS_OK) {
        log_crit("hotkey: out of memory for %u workers' summaries", nworkers);
        hotkey_teardown();
        return STATUS_ENOMEM;
    }
    UPDATE_VAL(metrics, hotkey_memory, memory_bytes(nworkers));
    log_info("hotkey: sampling 1 in %llu keyed accesses, threshold %.2f%%",
            (unsigned long long)sample_rate, threshold * 100);
    return STATUS_OK;
}

void
hotkey_teardown(void)
{
    for (unsigned i = 0; slots != NULL && i < nslots; i++) {
        for (int p = 0; p < 2; p++) {
            hk_summary_destroy(&slots[i].sum[p][0]);
            hk_summary_destroy(&slots[i].sum[p][1]);
        }
    }
    mm_free(&slots);
    nslots = 0;
    mm_free(&ring);
    mm_free(&ring_e);
    hk_merger_destroy(&merger);
    mm_free(&views);
    mm_free(&work);
    pthread_mutex_lock(&report_lock);
    mm_free(&published);
    pthread_mutex_unlock(&report_lock);
    sample_rate = 0;
    metrics = NULL;
}

bool
hotkey_enabled(void)
{
    return sample_rate > 0;
}

void
hotkey_worker_attach(unsigned id)
{
    self = id < nslots ? &slots[id] : NULL;
}

void
hotkey_worker_detach(void)
{
    self = NULL;
}

/* ---- the worker's side ---- */

/* A gap uniform in [1, 2 * rate - 1]: one access in rate on average, and
 * no stride a client's round-robin over keys could fall in step with. */
static uint32_t
next_gap(struct slot *s)
{
    if (sample_rate <= 1) {
        return 1;
    }
    uint64_t x = s->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    s->rng = x;
    return 1 + (uint32_t)(x % (2 * sample_rate - 1));
}

uint32_t
hotkey_record(
        uint8_t db, const void *key, size_t klen, hk_kind_e kind, uint8_t proto)
{
    struct slot *s = self;
    if (s == NULL) {
        return UINT32_MAX; /* not a sampling thread */
    }
    uint64_t h = hk_hash(db, key, klen);
    __atomic_store_n(&s->busy, 1, __ATOMIC_SEQ_CST);
    uint64_t e = __atomic_load_n(&epoch, __ATOMIC_SEQ_CST);
    unsigned p = e & 1;
    if (s->stamp[p] != e) {
        hk_summary_reset(s->sum[p][0]);
        hk_summary_reset(s->sum[p][1]);
        s->stamp[p] = e;
    }
    hk_summary_add(s->sum[p][0], h, db, key, klen, kind, proto);
    if (kind == HK_MISS) {
        hk_summary_add(s->sum[p][1], h, db, key, klen, kind, proto);
    }
    __atomic_store_n(&s->busy, 0, __ATOMIC_RELEASE);
    return next_gap(s);
}

void
hotkey_sample(
        uint8_t db, const void *key, size_t klen, hk_kind_e kind, uint8_t proto)
{
    struct slot *s = self;
    if (s == NULL || --s->countdown > 0) {
        return;
    }
    s->countdown = hotkey_record(db, key, klen, kind, proto);
}

/* ---- the admin thread's side ---- */

/* Moves the epoch on and merges the workers' pairs of the second that
 * ended into sec (cleared when no worker sampled). */
static void
close_second(struct second *sec)
{
    uint64_t e = __atomic_load_n(&epoch, __ATOMIC_RELAXED);
    __atomic_store_n(&epoch, e + 1, __ATOMIC_SEQ_CST);
    size_t nall = 0;
    for (unsigned i = 0; i < nslots; i++) {
        struct slot *s = &slots[i];
        while (__atomic_load_n(&s->busy, __ATOMIC_SEQ_CST) != 0) {
            sched_yield(); /* a worker inside one add: microseconds */
        }
        if (s->stamp[e & 1] == e) {
            views[nall++] = hk_summary_view(s->sum[e & 1][0]);
        }
    }
    hk_top_clear(&sec->all);
    hk_top_clear(&sec->miss);
    if (nall == 0) {
        return;
    }
    hk_merge(merger, views, nall, &sec->all);
    INCR_N(metrics, hotkey_sample, sec->all.total);
    size_t nmiss = 0;
    for (unsigned i = 0; i < nslots; i++) {
        struct slot *s = &slots[i];
        if (s->stamp[e & 1] == e) {
            views[nmiss++] = hk_summary_view(s->sum[e & 1][1]);
        }
    }
    hk_merge(merger, views, nmiss, &sec->miss);
}

static void
window_merge(unsigned w)
{
    struct report_win *r = &work[w];
    size_t n = 0;
    uint64_t ms = 0;
    for (unsigned i = 1; i <= window_s[w]; i++) {
        struct second *sec = &ring[(ring_pos + SECONDS - i) % SECONDS];
        if (sec->all.ms > 0) {
            views[n++] = hk_top_view(&sec->all);
            ms += sec->all.ms;
        }
    }
    hk_merge(merger, views, n, &r->all);
    r->all.ms = ms;
    n = 0;
    for (unsigned i = 1; i <= window_s[w]; i++) {
        struct second *sec = &ring[(ring_pos + SECONDS - i) % SECONDS];
        if (sec->all.ms > 0) {
            views[n++] = hk_top_view(&sec->miss);
        }
    }
    hk_merge(merger, views, n, &r->miss);
    r->miss.ms = ms;
    r->miss.total = r->all.total; /* shares are of every access */
}

/* True when hash was logged less than 10 s ago; else remembers it now. */
static bool
logged_recently(uint64_t hash, uint64_t now_ms)
{
    struct logged *oldest = &logged[0];
    for (size_t i = 0; i < LOGGED_MAX; i++) {
        if (logged[i].hash == hash && logged[i].at_ms != 0 &&
                now_ms - logged[i].at_ms < window_s[0] * 1000ULL) {
            return true;
        }
        if (logged[i].at_ms < oldest->at_ms) {
            oldest = &logged[i];
        }
    }
    oldest->hash = hash;
    oldest->at_ms = now_ms;
    return false;
}

static void
log_hot(const struct hk_entry *e, const struct hk_top *t, bool miss,
        uint64_t now_ms)
{
    char key[HK_KEY_MAX + 1];
    if (logged_recently(e->hash ^ (miss ? 1 : 0), now_ms)) {
        return;
    }
    hotkey_escape(key, e->key, e->klen < HK_KEY_MAX ? e->klen : HK_KEY_MAX);
    double share = (double)e->count / (double)t->total;
    double rate = t->ms > 0 ? (double)e->count * (double)sample_rate * 1000.0 /
                                      (double)t->ms
                            : 0;
    if (miss) {
        INCR(metrics, hotkey_hot_miss);
        log_info("hot miss: key %s (db %u, %s) missed in %.1f%% of accesses "
                 "in the last %u s, about %.0f/s",
                key, e->db, hotkey_proto_name(e->proto), share * 100,
                window_s[0], rate);
    } else {
        INCR(metrics, hotkey_hot);
        log_info("hot key: key %s (db %u, %s) has %.1f%% of accesses in the "
                 "last %u s, about %.0f/s (%.0f%% writes)",
                key, e->db, hotkey_proto_name(e->proto), share * 100,
                window_s[0], rate,
                e->count > e->err
                        ? 100.0 * e->kind[HK_WRITE] / (e->count - e->err)
                        : 0.0);
    }
}

/* Logs and counts the 10 s window's keys over the threshold. */
static void
check_threshold(uint64_t now_ms)
{
    const struct report_win *r = &work[0];
    int64_t hot = 0, hot_miss = 0;
    if (r->all.total == 0) {
        UPDATE_VAL(metrics, hotkey_hot_curr, 0);
        UPDATE_VAL(metrics, hotkey_hot_miss_curr, 0);
        return;
    }
    double min = threshold * (double)r->all.total;
    for (uint32_t i = 0; i < r->all.n && r->all.e[i].count >= min; i++) {
        hot++;
        log_hot(&r->all.e[i], &r->all, false, now_ms);
    }
    for (uint32_t i = 0; i < r->miss.n && r->miss.e[i].count >= min; i++) {
        hot_miss++;
        log_hot(&r->miss.e[i], &r->miss, true, now_ms);
    }
    UPDATE_VAL(metrics, hotkey_hot_curr, hot);
    UPDATE_VAL(metrics, hotkey_hot_miss_curr, hot_miss);
}

void
hotkey_tick(uint64_t now_ms)
{
    if (sample_rate == 0) {
        return;
    }
    /* a reset forgets every second that ended before it; the second in
     * progress when it came is kept whole (workers' summaries are theirs
     * to clear), so up to a second before the reset stays counted */
    uint64_t gen = __atomic_load_n(&reset_gen, __ATOMIC_ACQUIRE);
    if (gen != seen_gen) {
        for (unsigned i = 0; i < SECONDS; i++) {
            hk_top_clear(&ring[i].all);
            hk_top_clear(&ring[i].miss);
        }
        memset(logged, 0, sizeof(logged));
        seen_gen = gen;
    }
    struct second *sec = &ring[ring_pos];
    close_second(sec);
    /* a second is as long as it was: ticks come late under load. The
     * first one began at no known time: kept as one nominal second when
     * it holds samples (a load from the start is seen), else left out. */
    if (primed) {
        sec->all.ms = now_ms > last_tick_ms ? now_ms - last_tick_ms : 1;
    } else {
        sec->all.ms = sec->all.total > 0 ? 1000 : 0;
    }
    sec->miss.ms = sec->all.ms;
    last_tick_ms = now_ms;
    primed = true;
    ring_pos = (ring_pos + 1) % SECONDS;
    for (unsigned w = 0; w < HOTKEY_WINDOWS; w++) {
        window_merge(w);
    }
    check_threshold(now_ms);
    pthread_mutex_lock(&report_lock);
    if (__atomic_load_n(&reset_gen, __ATOMIC_ACQUIRE) == gen) {
        for (unsigned w = 0; w < HOTKEY_WINDOWS; w++) {
            report_win_copy(&published[w], &work[w]);
        }
    }
    pthread_mutex_unlock(&report_lock);
}

void
hotkey_reset(void)
{
    __atomic_add_fetch(&reset_gen, 1, __ATOMIC_ACQ_REL);
    pthread_mutex_lock(&report_lock);
    for (unsigned w = 0; published != NULL && w < HOTKEY_WINDOWS; w++) {
        hk_top_clear(&published[w].all);
        hk_top_clear(&published[w].miss);
    }
    pthread_mutex_unlock(&report_lock);
}

/* ---- reading the report ---- */

size_t
hotkey_escape(char *out, const uint8_t *key, size_t klen)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
    for (size_t i = 0; i < klen; i++) {
        uint8_t ch = key[i];
        bool plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                     (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' ||
                     ch == '_' || ch == '~';
        if (n + (plain ? 1 : 3) > HK_KEY_MAX) {
            break;
        }
        if (plain) {
            out[n++] = (char)ch;
        } else {
            out[n++] = '%';
            out[n++] = hex[ch >> 4];
            out[n++] = hex[ch & 0xf];
        }
    }
    out[n] = '\0';
    return n;
}

const char *
hotkey_proto_name(uint8_t proto)
{
    switch (proto & (HOTKEY_PROTO_MEMCACHE | HOTKEY_PROTO_RESP)) {
    case HOTKEY_PROTO_MEMCACHE:
        return "memcache";
    case HOTKEY_PROTO_RESP:
        return "resp";
    case HOTKEY_PROTO_MEMCACHE | HOTKEY_PROTO_RESP:
        return "memcache+resp";
    default:
        return "none";
    }
}

static void
row_of(const struct hk_entry *e, const struct hk_top *t, bool miss,
        struct hotkey_row *row)
{
    double per_sample = (double)sample_rate * 1000.0 / (double)t->ms;
    uint32_t bound = e->err > e->under ? e->err : e->under;
    uint32_t seen = e->count > e->err ? e->count - e->err : 1;
    hotkey_escape(
            row->key, e->key, e->klen < HK_KEY_MAX ? e->klen : HK_KEY_MAX);
    row->rate = e->count * per_sample;
    row->share = t->total > 0 ? (double)e->count / (double)t->total : 0;
    row->err = (bound + 2 * sqrt((double)e->count)) * per_sample;
    double reads = (double)e->kind[HK_HIT] + e->kind[HK_MISS];
    row->reads = miss ? row->rate : row->rate * reads / seen;
    row->writes = miss ? 0 : row->rate * e->kind[HK_WRITE] / seen;
    row->misses = miss ? row->rate : row->rate * e->kind[HK_MISS] / seen;
    row->db = e->db;
    row->proto = e->proto;
}

size_t
hotkey_report(unsigned w, bool miss, struct hotkey_row *rows, size_t n,
        double *seconds, double *rate)
{
    size_t got = 0;
    pthread_mutex_lock(&report_lock);
    if (published != NULL && w < HOTKEY_WINDOWS) {
        const struct report_win *r = &published[w];
        const struct hk_top *t = miss ? &r->miss : &r->all;
        if (t->ms > 0) {
            for (; got < n && got < t->n; got++) {
                row_of(&t->e[got], t, miss, &rows[got]);
            }
        }
        if (seconds != NULL) {
            *seconds = r->all.ms / 1000.0;
        }
        if (rate != NULL) {
            *rate = r->all.ms > 0 ? (double)r->all.total * sample_rate *
                                            1000.0 / r->all.ms
                                  : 0;
        }
    } else {
        if (seconds != NULL) {
            *seconds = 0;
        }
        if (rate != NULL) {
            *rate = 0;
        }
    }
    pthread_mutex_unlock(&report_lock);
    return got;
}

void
hotkey_settings(uint64_t *rate, double *thresh, uint64_t *export)
{
    *rate = sample_rate;
    *thresh = threshold;
    *export = export_n;
}
