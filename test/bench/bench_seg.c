/* SPDX-License-Identifier: Apache-2.0 */
/* Storage benchmark (not a test): per-item overhead, items held,
 * throughput of a get/set mix for 1..16 threads with uniform or Zipf(1.0)
 * keys, and miss ratio on a Zipf(1.0) workload with a fixed seed for every
 * eviction policy.
 *
 *   bench_seg overhead MEMORY KLEN VLEN [ITEM_SIZE_HINT]
 *   bench_seg throughput MEMORY THREADS SECONDS [ITEM_SIZE_HINT [GET_PCT
 *             [uniform|zipf]]]
 *   bench_seg missratio MEMORY KEYS REQUESTS [POLICY|all] [SEGMENT_KIB]
 *   bench_seg bound ITEMS KEYS REQUESTS (what no policy can beat: below)
 *
 * MEMORY in MiB; ITEM_SIZE_HINT 0 is the default; GET_PCT defaults to 90
 * and the keys to uniform. Numbers go to stdout, one "name value" per line.
 * The store's threads are set up as the server sets up its workers:
 * counters passed to metric_init, a counter shard and an epoch slot per
 * thread (metric_thread_register, storage_thread_register), a quiescent
 * point every 64 operations. BENCH_NO_METRICS=1 runs the store without
 * counting. For eviction studies (docs/storage.md, "Eviction policies
 * tried"): BENCH_ITEM_SIZE overrides the size hint of every mode (160 is
 * the server's default, where the modes' own defaults size the hash table
 * for smaller items), BENCH_MERGE_SEGMENTS sets seg.merge_segments, and
 * missratio takes BENCH_VLEN (value bytes, 32 unless set), BENCH_SCAN
 * (the share of requests, 0 to 1, for keys asked for once and never
 * again: scan pollution), BENCH_ALPHA (the Zipf exponent, 1.0 unless
 * set; throughput's zipf keys take it too) and BENCH_WINDOWS (print the
 * misses per request of that many equal windows of the run).
 * BENCH_SEGMENT_KIB sets seg.segment_size in every mode (missratio's
 * SEGMENT_KIB argument wins). */
#include "base/time.h"
#include "base/util.h"
#include "storage/seg/seg.h"
#include "storage/storage.h"

#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv);

static uint64_t
xorshift(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* fixed-length keys: "k" + zero-padded decimal, klen bytes */
static void
make_key(char *key, size_t klen, uint64_t i)
{
    memset(key, '0', klen);
    key[0] = 'k';
    for (size_t p = klen - 1; p > 0 && i > 0; p--, i /= 10) {
        key[p] = (char)('0' + i % 10);
    }
}

static size_t segment_kib; /* 0: the default */

static void
setup(size_t memory_mib, const char *evict, uint64_t item_hint, bool background,
        seg_metrics_st *m)
{
    seg_options_st o = {SEG_OPTION(INIT_OPTION)};
    const char *sk = getenv("BENCH_SEGMENT_KIB"); /* every mode */
    if (segment_kib == 0 && sk != NULL) {
        segment_kib = strtoull(sk, NULL, 10);
    }
    if (segment_kib > 0) {
        o.seg_segment_size.val.OPTION_SIZE = segment_kib * 1024;
    }
    o.seg_memory.val.OPTION_SIZE = memory_mib * 1024 * 1024;
    o.seg_evict.val.OPTION_STR = evict;
    o.seg_background.val.OPTION_BOOL = background;
    if (item_hint > 0) {
        o.seg_item_size.val.OPTION_SIZE = item_hint;
    }
    const char *e = getenv("BENCH_ITEM_SIZE");
    if (e != NULL) {
        o.seg_item_size.val.OPTION_SIZE = strtoull(e, NULL, 10);
    }
    if ((e = getenv("BENCH_MERGE_SEGMENTS")) != NULL) {
        o.seg_merge_segments.val.OPTION_UINT = strtoull(e, NULL, 10);
    }
    *m = (seg_metrics_st){SEG_METRIC(INIT_METRIC)};
    bool count = getenv("BENCH_NO_METRICS") == NULL;
    /* as src/main.c does: counters get shard slots, so a registered
     * thread counts with plain stores into its own cache lines */
    if (count && metric_init((struct metric *)m, METRIC_CARDINALITY(*m)) !=
                         STATUS_OK) {
        fprintf(stderr, "metric_init failed\n");
        exit(1);
    }
    if (seg_setup(&o, count ? m : NULL) != STATUS_OK) {
        fprintf(stderr, "seg_setup failed\n");
        exit(1);
    }
}

/* Fills with unique keys under policy `none` until memory runs out: what
 * the budget holds, everything counted (hash, headers, segments). */
static int
overhead(int argc, char **argv)
{
    if (argc < 5) {
        return 2;
    }
    size_t mem = strtoull(argv[2], NULL, 10);
    size_t klen = strtoull(argv[3], NULL, 10);
    size_t vlen = strtoull(argv[4], NULL, 10);
    uint64_t hint = argc > 5 ? strtoull(argv[5], NULL, 10) : 0;
    seg_metrics_st m;
    setup(mem, "none", hint, false, &m);
    char key[256];
    uint8_t *val = calloc(1, vlen + 1);
    struct storage_write w = {0};
    uint64_t now = time_now_ms(), n = 0;
    storage_status_e st;
    for (;; n++) {
        make_key(key, klen, n);
        memset(val, (int)(n & 0xff), vlen);
        st = storage_set(0, key, klen, val, vlen, &w, now, NULL, NULL);
        if (st != STORAGE_OK) {
            break;
        }
    }
    uint64_t held = storage_count(0);
    struct seg_layout lay;
    seg_layout_get(&lay);
    printf("memory_bytes %zu\nklen %zu\nvlen %zu\n", lay.memory, klen, vlen);
    printf("segments %u\nhash_buckets %u\noverflow_buckets %u\n", lay.n_segment,
            lay.n_bucket, lay.n_overflow);
    printf("metadata_bytes %zu\nitems_held %lu\n", lay.metadata,
            (unsigned long)held);
    printf("overhead_bytes_per_item %.2f\n",
            (double)lay.memory / (double)held - (double)(klen + vlen));
    printf("hash_overflow_used %ld\nhash_evict %lu\n",
            (long)metric_gauge(&m.seg_hash_overflow),
            (unsigned long)metric_counter(&m.seg_hash_evict));
    /* what was left when the first write was refused: idle memory (one
     * maintenance pass refreshes the gauges; nothing is dead to reclaim) */
    storage_maintain(now);
    printf("refused_status %d\nfree_segments %ld\nhash_segments %ld\n", (int)st,
            (long)metric_gauge(&m.seg_seg_free),
            (long)metric_gauge(&m.seg_hash_seg));
    printf("item_size_max %zu\n", storage_item_size_max());
    free(val);
    seg_teardown();
    return 0;
}

/* Zipf(1.0) over ranks 1..n by rejection-inversion (Hoermann and
 * Derflinger 1996, as in Apache Commons RNG), specialised to exponent 1:
 * h(x) = 1/x, H(x) = log x, H^-1(x) = exp x. O(1) a draw, no table, so
 * the generator costs the same at any n and touches no shared memory. */
struct zipf {
    double n;
    double h_x1; /* H(1.5) - h(1) */
    double h_n;  /* H(n + 0.5) */
    double s;    /* 2 - H^-1(H(2.5) - h(2)) */
};

static void
zipf_init(struct zipf *z, uint64_t n)
{
    z->n = (double)n;
    z->h_x1 = log(1.5) - 1.0;
    z->h_n = log((double)n + 0.5);
    z->s = 2.0 - exp(log(2.5) - 0.5);
}

static double
unit_draw(uint64_t *seed)
{
    return (double)(xorshift(seed) >> 11) / 9007199254740992.0;
}

/* A rank in 0..n-1, rank 0 the most popular. */
static uint64_t
zipf_rank(const struct zipf *z, uint64_t *seed)
{
    for (;;) {
        double u = z->h_n + unit_draw(seed) * (z->h_x1 - z->h_n);
        double x = exp(u);
        double k = floor(x + 0.5);
        k = k < 1.0 ? 1.0 : k > z->n ? z->n : k;
        if (k - x <= z->s || u >= log(k + 0.5) - 1.0 / k) {
            return (uint64_t)k - 1;
        }
    }
}

/* One benchmark thread. Aligned to a cache line and written only at the
 * start and the end: the loop keeps its state in locals, so the bench
 * itself shares no written line between threads. */
struct tp {
    _Alignas(CACHE_LINE) pthread_t tid;
    uint64_t keys;
    uint64_t seed;
    uint64_t ops;
    uint64_t cpu_ns; /* the thread's CPU time in the loop */
    uint64_t stop_ms;
    unsigned get_pct;
    const struct zipf *zipf; /* NULL: uniform keys */
};

static volatile int go;

static uint64_t
thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

static void *
tp_main(void *arg)
{
    struct tp *t = arg;
    char key[16];
    uint8_t val[32] = {0};
    struct storage_write w = {0};
    uint64_t seed = t->seed, ops = 0, keys = t->keys, stop = t->stop_ms;
    const struct zipf *z = t->zipf;
    uint64_t set_below = (uint64_t)(100 - t->get_pct) * 1024 / 100;
    metric_thread_register();
    storage_thread_register();
    while (!__atomic_load_n(&go, __ATOMIC_ACQUIRE)) {
    }
    uint64_t now = time_now_ms();
    uint64_t cpu0 = thread_cpu_ns();
    for (;;) {
        for (int i = 0; i < 64; i++) {
            uint64_t r = xorshift(&seed);
            /* a fixed permutation spreads popular ranks over segments */
            uint64_t k = z == NULL ? r % keys
                                   : zipf_rank(z, &seed) * 2654435761ULL % keys;
            make_key(key, 16, k);
            if ((r >> 54) < set_below) {
                storage_set(0, key, 16, val, 32, &w, now, NULL, NULL);
            } else {
                struct storage_item it;
                storage_get(0, key, 16, now, &it);
            }
        }
        ops += 64;
        storage_quiescent(); /* once per "loop iteration" */
        now = time_now_ms();
        if (now >= stop) {
            break;
        }
    }
    t->cpu_ns = thread_cpu_ns() - cpu0;
    storage_thread_unregister();
    t->ops = ops;
    return NULL;
}

static int
throughput(int argc, char **argv)
{
    if (argc < 5) {
        return 2;
    }
    size_t mem = strtoull(argv[2], NULL, 10);
    int threads = atoi(argv[3]);
    uint64_t secs = strtoull(argv[4], NULL, 10);
    uint64_t hint = argc > 5 ? strtoull(argv[5], NULL, 10) : 0;
    unsigned get_pct = argc > 6 ? (unsigned)atoi(argv[6]) : 90;
    const char *dist = argc > 7 ? argv[7] : "uniform";
    if (get_pct > 100 ||
            (strcmp(dist, "uniform") != 0 && strcmp(dist, "zipf") != 0)) {
        return 2;
    }
    seg_metrics_st m;
    setup(mem, "merge", hint, true, &m);
    metric_thread_register(); /* the preload counts like a worker */
    /* preload about half of what fits, so gets mostly hit */
    uint64_t keys = (uint64_t)mem * 1024 * 1024 / 72 / 2;
    char key[16];
    uint8_t val[32] = {0};
    struct storage_write w = {0};
    uint64_t now = time_now_ms();
    for (uint64_t i = 0; i < keys; i++) {
        make_key(key, 16, i);
        storage_set(0, key, 16, val, 32, &w, now, NULL, NULL);
    }
    struct zipf z;
    zipf_init(&z, keys);
    static struct tp t[16];
    threads = threads < 1 ? 1 : threads > 16 ? 16 : threads;
    for (int i = 0; i < threads; i++) {
        t[i] = (struct tp){.keys = keys,
                .seed = 88172645463325252ULL + (uint64_t)i,
                .get_pct = get_pct,
                .zipf = strcmp(dist, "zipf") == 0 ? &z : NULL};
    }
    uint64_t gets0 = metric_counter(&m.seg_get);
    uint64_t hits0 = metric_counter(&m.seg_get_hit);
    uint64_t start = time_now_ms();
    /* each thread on a CPU of its own, as the server pins its workers
     * (worker.cpus): unpinned, the scheduler now and then stacks both on
     * one CPU, and 2-thread runs on a 2-core VM come out bimodal.
     * BENCH_NO_PIN=1 leaves placement to the scheduler. */
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    bool pin = getenv("BENCH_NO_PIN") == NULL && ncpu > 1;
    for (int i = 0; i < threads; i++) {
        t[i].stop_ms = start + secs * 1000;
        pthread_create(&t[i].tid, NULL, tp_main, &t[i]);
        if (pin) {
            cpu_set_t set;
            CPU_ZERO(&set);
            CPU_SET((int)(i % ncpu), &set);
            pthread_setaffinity_np(t[i].tid, sizeof(set), &set);
        }
    }
    __atomic_store_n(&go, 1, __ATOMIC_RELEASE);
    uint64_t total = 0, cpu_ns = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i].tid, NULL);
        total += t[i].ops;
        cpu_ns += t[i].cpu_ns;
    }
    double elapsed = (double)(time_now_ms() - start) / 1000.0;
    uint64_t gets = metric_counter(&m.seg_get) - gets0;
    uint64_t hits = metric_counter(&m.seg_get_hit) - hits0;
    printf("threads %d\nget_pct %u\nkeys_dist %s\nkeys %lu\nops %lu\n"
           "seconds %.2f\nops_per_sec %.0f\n",
            threads, get_pct, dist, (unsigned long)keys, (unsigned long)total,
            elapsed, (double)total / elapsed);
    printf("get_hit_ratio %.4f\n", gets ? (double)hits / (double)gets : 0.0);
    /* CPU the benchmark threads got: on a shared machine, wall-clock ops/s
     * moves with what the neighbours take; ops per CPU second does not */
    printf("thread_cpu_seconds %.2f\nops_per_cpu_sec %.0f\n",
            (double)cpu_ns / 1e9,
            cpu_ns ? (double)total / ((double)cpu_ns / 1e9) : 0.0);
    /* how the run made room (cumulative, preload included) */
    printf("writes %lu\nslow_takes %lu\nslow_take_us %lu\nwaits %lu\n"
           "compactions %lu\ncompact_items %lu\nmerges %lu\n"
           "evict_items %lu\nevict_inline %lu\nroom_ahead %lu\n",
            (unsigned long)metric_counter(&m.seg_write),
            (unsigned long)metric_counter(&m.seg_take_slow),
            (unsigned long)metric_counter(&m.seg_take_slow_us),
            (unsigned long)metric_counter(&m.seg_wait),
            (unsigned long)metric_counter(&m.seg_compact),
            (unsigned long)metric_counter(&m.seg_compact_item),
            (unsigned long)metric_counter(&m.seg_merge),
            (unsigned long)metric_counter(&m.seg_evict_item),
            (unsigned long)metric_counter(&m.seg_evict_inline),
            (unsigned long)metric_counter(&m.seg_room_ahead));
    seg_teardown();
    return 0;
}

/* Zipf(alpha) over n keys by inverting a precomputed CDF; alpha is 1.0
 * unless BENCH_ALPHA sets it. */
static double *
zipf_cdf(uint64_t n)
{
    double *cdf = malloc(n * sizeof(double));
    const char *a = getenv("BENCH_ALPHA");
    double alpha = a != NULL ? strtod(a, NULL) : 1.0, sum = 0;
    for (uint64_t i = 0; i < n; i++) {
        sum += alpha == 1.0 ? 1.0 / (double)(i + 1)
                            : pow((double)(i + 1), -alpha);
        cdf[i] = sum;
    }
    for (uint64_t i = 0; i < n; i++) {
        cdf[i] /= sum;
    }
    return cdf;
}

static uint64_t
zipf_draw(const double *cdf, uint64_t n, uint64_t *seed)
{
    double u = unit_draw(seed);
    uint64_t lo = 0, hi = n - 1;
    while (lo < hi) {
        uint64_t mid = (lo + hi) / 2;
        if (cdf[mid] < u) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

/* missratio's requests, one at a time: a Zipf rank, the key it is (a
 * permutation, so popular keys do not share segments by rank), and
 * whether BENCH_SCAN makes this request one for a key asked for once. */
struct trace {
    const double *cdf;
    uint64_t n;
    uint64_t seed, sseed;
    double scan;
};

static void
trace_init(struct trace *t, const double *cdf, uint64_t n)
{
    const char *sc = getenv("BENCH_SCAN"); /* share of one-time keys */
    *t = (struct trace){cdf, n, 0x2545F4914F6CDD1DULL, 0x9E3779B97F4A7C15ULL,
            sc != NULL ? strtod(sc, NULL) : 0};
}

static uint64_t
trace_next(struct trace *t, uint64_t *rank, bool *once)
{
    *rank = zipf_draw(t->cdf, t->n, &t->seed);
    t->sseed ^= t->sseed << 13; /* xorshift64, apart from the draws */
    t->sseed ^= t->sseed >> 7;
    t->sseed ^= t->sseed << 17;
    *once = t->scan > 0 &&
            (double)(t->sseed >> 11) / 9007199254740992.0 < t->scan;
    return *rank * 2654435761ULL % t->n;
}

static void
missratio_one(size_t mem, uint64_t n, uint64_t reqs, const double *cdf,
        const char *policy)
{
    seg_metrics_st m;
    setup(mem, policy, 48, false, &m);
    uint64_t misses = 0, counted = 0;
    uint64_t now = 1700000000000ULL;
    char key[16];
    static uint8_t val[4096];
    const char *vl = getenv("BENCH_VLEN"); /* the value size, 32 unless set */
    size_t vlen = vl != NULL ? strtoull(vl, NULL, 10) : 32;
    vlen = vlen > sizeof(val) ? sizeof(val) : vlen;
    struct storage_write w = {0};
    struct trace t;
    trace_init(&t, cdf, n);
    const char *wn = getenv("BENCH_WINDOWS"); /* misses per window, printed */
    uint64_t windows = wn != NULL ? strtoull(wn, NULL, 10) : 0, wmiss = 0;
    for (uint64_t r = 0; r < reqs; r++) {
        uint64_t rank;
        bool once;
        uint64_t k = trace_next(&t, &rank, &once);
        if (once) {
            k = n + r; /* a key read once, never again */
        }
        make_key(key, 16, k);
        struct storage_item it;
        bool warm = r >= reqs / 5;
        if (storage_get(0, key, 16, now, &it) != STORAGE_OK) {
            misses += warm;
            wmiss++;
            storage_set(0, key, 16, val, vlen, &w, now, NULL, NULL);
        }
        counted += warm;
        if (windows > 0 && (r + 1) % (reqs / windows) == 0) {
            printf(" %.4f", (double)wmiss / (double)(reqs / windows));
            wmiss = 0;
        }
        if ((r & 1023) == 0) {
            now++;
            storage_maintain(now);
        }
    }
    printf("missratio %-6s %.4f  (held %lu, evicted segments %lu, merges "
           "%lu)\n",
            policy, (double)misses / (double)counted,
            (unsigned long)storage_count(0),
            (unsigned long)metric_counter(&m.seg_evict_seg),
            (unsigned long)metric_counter(&m.seg_merge));
    printf("  merge_keep %lu evict_item %lu\n",
            (unsigned long)metric_counter(&m.seg_merge_keep),
            (unsigned long)metric_counter(&m.seg_evict_item));
    seg_teardown();
}

static int
missratio(int argc, char **argv)
{
    if (argc < 5) {
        return 2;
    }
    size_t mem = strtoull(argv[2], NULL, 10);
    uint64_t n = strtoull(argv[3], NULL, 10);
    uint64_t reqs = strtoull(argv[4], NULL, 10);
    segment_kib = argc > 6 ? strtoull(argv[6], NULL, 10) : 0;
    double *cdf = zipf_cdf(n);
    const char *all[] = {"merge", "fifo", "random", "cte", "util"};
    printf("memory_mib %zu keys %lu requests %lu segment_kib %zu "
           "(first 20%% warm-up)\n",
            mem, (unsigned long)n, (unsigned long)reqs,
            segment_kib > 0 ? segment_kib : 1024);
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        if (argc > 5 && strcmp(argv[5], "all") != 0 &&
                strcmp(argv[5], all[i]) != 0) {
            continue;
        }
        missratio_one(mem, n, reqs, cdf, all[i]);
    }
    free(cdf);
    return 0;
}

/* --- what any policy could do on missratio's trace ------------------------
 * bound ITEMS KEYS REQUESTS: the same requests as missratio (seed, Zipf
 * draw, permutation, BENCH_ALPHA, BENCH_SCAN), against two caches of ITEMS
 * items that no store can be: a static one holding the ITEMS most popular
 * keys (the best a cache of that size can do knowing the distribution), and
 * an online LFU with perfect memory: it counts every request of every key,
 * stored or not, and a missed key replaces the least counted stored one
 * only when it has been asked for more often (ties keep the stored one).
 * Under independent requests of fixed popularity that is the best an
 * online policy can do with what it has seen; no real policy has its
 * unbounded counts. Misses per request after the first 20% (missratio's
 * figure) and in the last 30% (scripts/bench/run.sh's). */
struct lfu {
    uint32_t *count; /* per key; scan keys are never counted */
    uint32_t *heap;  /* stored keys, least counted first */
    uint32_t *pos;   /* key -> heap index, UINT32_MAX if not stored */
    uint32_t n;      /* stored */
};

static void
lfu_swap(struct lfu *l, uint32_t a, uint32_t b)
{
    uint32_t t = l->heap[a];
    l->heap[a] = l->heap[b];
    l->heap[b] = t;
    l->pos[l->heap[a]] = a;
    l->pos[l->heap[b]] = b;
}

static void
lfu_down(struct lfu *l, uint32_t i)
{
    for (;;) {
        uint32_t c = 2 * i + 1, m = i;
        if (c < l->n && l->count[l->heap[c]] < l->count[l->heap[m]]) {
            m = c;
        }
        if (c + 1 < l->n && l->count[l->heap[c + 1]] < l->count[l->heap[m]]) {
            m = c + 1;
        }
        if (m == i) {
            return;
        }
        lfu_swap(l, i, m);
        i = m;
    }
}

static void
lfu_up(struct lfu *l, uint32_t i)
{
    while (i > 0 && l->count[l->heap[(i - 1) / 2]] > l->count[l->heap[i]]) {
        lfu_swap(l, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

/* true: a hit */
static bool
lfu_request(struct lfu *l, uint32_t key, uint32_t cap)
{
    l->count[key]++;
    if (l->pos[key] != UINT32_MAX) {
        lfu_down(l, l->pos[key]);
        return true;
    }
    if (l->n < cap) {
        l->heap[l->n] = key;
        l->pos[key] = l->n++;
        lfu_up(l, l->n - 1);
    } else if (l->count[key] > l->count[l->heap[0]]) {
        l->pos[l->heap[0]] = UINT32_MAX;
        l->heap[0] = key;
        l->pos[key] = 0;
        lfu_down(l, 0);
    }
    return false;
}

static int
bound(int argc, char **argv)
{
    if (argc < 5) {
        return 2;
    }
    uint64_t items = strtoull(argv[2], NULL, 10);
    uint64_t n = strtoull(argv[3], NULL, 10);
    uint64_t reqs = strtoull(argv[4], NULL, 10);
    if (items == 0 || n == 0 || n >= UINT32_MAX || reqs < 10) {
        return 2;
    }
    double *cdf = zipf_cdf(n);
    struct lfu l = {calloc(n, 4), malloc(items * 4), malloc(n * 4), 0};
    memset(l.pos, 0xff, n * 4);
    /* the static cache holds ranks 0..items-1: keys rank * 2654435761 % n */
    struct trace t;
    trace_init(&t, cdf, n);
    uint64_t miss[2][2] = {{0}}, counted[2] = {0}; /* [static|lfu][from] */
    for (uint64_t r = 0; r < reqs; r++) {
        uint64_t rank;
        bool once;
        uint64_t k = trace_next(&t, &rank, &once);
        bool hit_static = !once && rank < items;
        bool hit_lfu = !once && lfu_request(&l, (uint32_t)k, (uint32_t)items);
        for (int w = 0; w < 2; w++) {
            if (r >= (w == 0 ? reqs / 5 : reqs * 7 / 10)) {
                miss[0][w] += !hit_static;
                miss[1][w] += !hit_lfu;
                counted[w]++;
            }
        }
    }
    printf("items %lu keys %lu requests %lu\n", (unsigned long)items,
            (unsigned long)n, (unsigned long)reqs);
    printf("static top-%lu  misses per get after 20%% %.4f  last 30%% %.4f\n",
            (unsigned long)items, (double)miss[0][0] / (double)counted[0],
            (double)miss[0][1] / (double)counted[1]);
    printf("perfect-memory LFU  misses per get after 20%% %.4f  last 30%% "
           "%.4f\n",
            (double)miss[1][0] / (double)counted[0],
            (double)miss[1][1] / (double)counted[1]);
    free(l.count);
    free(l.heap);
    free(l.pos);
    free(cdf);
    return 0;
}

int
main(int argc, char **argv)
{
    int rc = 2;
    if (argc > 1 && strcmp(argv[1], "overhead") == 0) {
        rc = overhead(argc, argv);
    } else if (argc > 1 && strcmp(argv[1], "throughput") == 0) {
        rc = throughput(argc, argv);
    } else if (argc > 1 && strcmp(argv[1], "missratio") == 0) {
        rc = missratio(argc, argv);
    } else if (argc > 1 && strcmp(argv[1], "bound") == 0) {
        rc = bound(argc, argv);
    }
    if (rc == 2) {
        fprintf(stderr,
                "usage: bench_seg overhead MiB KLEN VLEN [HINT] | "
                "throughput MiB THREADS SECONDS [HINT [GET_PCT "
                "[uniform|zipf]]] | "
                "missratio MiB KEYS REQUESTS [POLICY|all] [SEGMENT_KIB] | "
                "bound ITEMS KEYS REQUESTS\n");
    }
    return rc;
}
