/* SPDX-License-Identifier: Apache-2.0 */
/* Setup and teardown of the segment store: carving one mapping of
 * seg.memory bytes into hash table, overflow pool, segment headers, TTL
 * buckets and segment data; spin-then-sleep locks; per-thread epochs for
 * reader protection; the background thread.
 *
 *   +--------------+--------------+-------+---------+---------+----+-------+
 *   | hash buckets | overflow pool| locks | summary | seg hdrs| TTL|segments|
 *   | n_bucket x64B| n_overflow x64| 1B/bk | ~1B/8bk | n_seg x128|1025|n_seg x|
 *   |              |              |       |         |         |    |seg_size|
 *   +--------------+--------------+-------+---------+---------+----+-------+
 *   everything is inside seg.memory; nothing else is allocated at runtime
 *   (segments may be lent to the hash table for overflow buckets).
 *
 * Lock order: see seg_internal.h. */
#include "seg_internal.h"

#include "base/log.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

struct heap heap;
seg_metrics_st *seg_metrics;
static bool heap_ready;

/* --- locks -------------------------------------------------------------- */

/* Spins a little, then yields, then sleeps: on 2 cores a preempted holder
 * must get the CPU back rather than watch spinners burn it. */
void
seg_lock(uint8_t *l)
{
    for (unsigned i = 0;; i++) {
        if (__atomic_load_n(l, __ATOMIC_RELAXED) == 0 &&
                !__atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE)) {
            return;
        }
        if (i < 64) {
            __builtin_ia32_pause();
        } else if (i < 128) {
            sched_yield();
        } else {
            struct timespec ts = {0, 20000};
            nanosleep(&ts, NULL);
        }
    }
}

void
seg_unlock(uint8_t *l)
{
    __atomic_store_n(l, 0, __ATOMIC_RELEASE);
}

/* --- epochs ------------------------------------------------------------- *
 * A registered thread's slot holds the global epoch it entered at, or
 * OFFLINE. It goes online lazily at its first operation after a quiescent
 * point; a segment retired at stamp E comes back once every slot is OFFLINE
 * or >= E. The enter store and the reclaimer's scan are each ordered by a
 * seq_cst read-modify-write (store-buffering pattern): either the reclaimer
 * sees the thread online, or the thread sees the entries already unlinked.
 * A thread going quiescent stores OFFLINE with release, which orders its
 * reads of a segment before the segment's reuse. */

#define OFFLINE UINT64_MAX

struct epoch_slot {
    uint64_t epoch;
    uint8_t used;
    uint8_t pad[CACHE_LINE - sizeof(uint64_t) - 1];
};

/* a reader's only shared write, once per quiescent period, is its own
 * slot: one line each */
_Static_assert(sizeof(struct epoch_slot) == CACHE_LINE,
        "an epoch slot is one cache line");

static struct epoch_slot slots[STORAGE_THREADS_MAX]
        __attribute__((aligned(CACHE_LINE)));
static uint64_t global_epoch = 1;
static __thread struct epoch_slot *my_slot;

rstatus_i
storage_thread_register(void)
{
    if (my_slot != NULL) {
        return STATUS_OK;
    }
    for (size_t i = 0; i < STORAGE_THREADS_MAX; i++) {
        uint8_t want = 0;
        if (__atomic_compare_exchange_n(&slots[i].used, &want, 1, false,
                    __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
            __atomic_store_n(&slots[i].epoch, OFFLINE, __ATOMIC_SEQ_CST);
            my_slot = &slots[i];
            return STATUS_OK;
        }
    }
    log_error("storage: more than %d threads registered", STORAGE_THREADS_MAX);
    return STATUS_ENOMEM;
}

void
storage_thread_unregister(void)
{
    if (my_slot == NULL) {
        return;
    }
    __atomic_store_n(&my_slot->epoch, OFFLINE, __ATOMIC_RELEASE);
    __atomic_store_n(&my_slot->used, 0, __ATOMIC_RELEASE);
    my_slot = NULL;
}

void
storage_quiescent(void)
{
    epoch_offline();
}

bool
epoch_thread_registered(void)
{
    return my_slot != NULL;
}

void
epoch_enter(void)
{
    if (my_slot == NULL ||
            __atomic_load_n(&my_slot->epoch, __ATOMIC_RELAXED) != OFFLINE) {
        return;
    }
    uint64_t e = __atomic_load_n(&global_epoch, __ATOMIC_SEQ_CST);
    /* a seq_cst exchange: a full barrier (locked xchg on x86), so the
     * hash loads that follow cannot pass it; TSan understands it where it
     * does not understand fences */
    __atomic_exchange_n(&my_slot->epoch, e, __ATOMIC_SEQ_CST);
}

/* Bumped at every point where this thread's views may end (storage.h,
 * storage_views_gen): registered or not, since an unregistered thread's
 * own slow path reclaims at once. */
static __thread uint64_t views_gen;

void
epoch_offline(void)
{
    views_gen++;
    if (my_slot != NULL) {
        __atomic_store_n(&my_slot->epoch, OFFLINE, __ATOMIC_RELEASE);
    }
}

uint64_t
storage_views_gen(void)
{
    return views_gen;
}

uint64_t
epoch_retire_stamp(void)
{
    return __atomic_add_fetch(&global_epoch, 1, __ATOMIC_SEQ_CST);
}

bool
epoch_passed(uint64_t stamp)
{
    __atomic_fetch_add(&global_epoch, 0, __ATOMIC_SEQ_CST); /* barrier */
    for (size_t i = 0; i < STORAGE_THREADS_MAX; i++) {
        if (!__atomic_load_n(&slots[i].used, __ATOMIC_ACQUIRE)) {
            continue;
        }
        uint64_t e = __atomic_load_n(&slots[i].epoch, __ATOMIC_ACQUIRE);
        if (e != OFFLINE && e < stamp) {
            return false;
        }
    }
    return true;
}

uint64_t
seg_rand(void)
{
    static __thread uint64_t x;
    if (x == 0) {
        x = (uint64_t)(uintptr_t)&x ^ 0x9e3779b97f4a7c15ULL;
    }
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
}

/* --- layout ------------------------------------------------------------- */

static uint64_t
clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

#define HASH_POWER_MIN 7  /* 16 buckets of HASH_SLOTS */
#define HASH_POWER_MAX 34 /* 2^31 buckets */
#define MERGE_MIN      2
#define MERGE_MAX      16

/* Head buckets for the expected item count (seg.item_size) at 88% slot
 * load; the static pool adds 1/16 for chains that overflow (two choices
 * keep that small). Smaller items than expected borrow free segments for
 * overflow buckets, so the default errs large: chains get longer for small
 * items, but no memory sits in an oversized table for large ones. An
 * explicit seg.hash_power was checked to be in range (seg_options_check). */
static void
size_hash(const seg_options_st *o, uint32_t *n_bucket, uint32_t *n_overflow)
{
    uint64_t power = option_uint(&o->seg_hash_power);
    uint64_t nb;
    if (power > 0) {
        nb = (1ULL << power) / HASH_SLOTS;
    } else {
        double per = (double)option_uint(&o->seg_item_size) + 8.0 + 9.5;
        double items = (double)option_uint(&o->seg_memory) / per;
        nb = (uint64_t)(items / (HASH_SLOTS * 0.88));
        nb = nb < 16 ? 16 : nb;
        nb = nb > (1ULL << 31) ? (1ULL << 31) : nb;
    }
    *n_bucket = (uint32_t)nb;
    *n_overflow = (uint32_t)(nb / 16 + 16);
}

/* Bytes of everything but the segments: hash table, locks, TTL buckets. */
static size_t
fixed_bytes(const seg_options_st *o, uint32_t *n_bucket, uint32_t *n_overflow)
{
    size_hash(o, n_bucket, n_overflow);
    size_t fixed = hash_layout(*n_bucket, *n_overflow);
    return size_align(fixed, CACHE_LINE) + 3 * CACHE_LINE +
           TTL_BUCKETS * sizeof(struct ttl_bucket);
}

/* The options one at a time, then memory against what they ask for. */
rstatus_i
seg_options_check(const seg_options_st *o, const struct option **bad, char *why,
        size_t cap)
{
    if ((int)evict_parse(option_str(&o->seg_evict)) < 0) {
        return option_refuse(&o->seg_evict, bad, why, cap,
                "not one of merge fifo random cte util none: %s",
                option_str(&o->seg_evict) == NULL ? "~"
                                                  : option_str(&o->seg_evict));
    }
    uint64_t size = option_uint(&o->seg_segment_size);
    if (size < 64 * KiB || size > 8 * MiB || size % (4 * KiB) != 0) {
        /* whole pages: lent segments are carved into 64-byte buckets */
        return option_refuse(&o->seg_segment_size, bad, why, cap,
                "%" PRIu64 " bytes: not a multiple of 4KiB in 64KiB..8MiB",
                size);
    }
    uint64_t power = option_uint(&o->seg_hash_power);
    if (power != 0 && (power < HASH_POWER_MIN || power > HASH_POWER_MAX)) {
        return option_refuse(&o->seg_hash_power, bad, why, cap,
                "%" PRIu64 ": not 0 (auto) or in %d..%d", power, HASH_POWER_MIN,
                HASH_POWER_MAX);
    }
    uint64_t merge = option_uint(&o->seg_merge_segments);
    if (merge < MERGE_MIN || merge > MERGE_MAX) {
        /* a merge walks its segments under one lock: more stalls writers */
        return option_refuse(&o->seg_merge_segments, bad, why, cap,
                "%" PRIu64 ": not in %d..%d", merge, MERGE_MIN, MERGE_MAX);
    }
    if (option_bool(&o->seg_background) &&
            option_uint(&o->seg_expire_interval) == 0) {
        return option_refuse(&o->seg_expire_interval, bad, why, cap,
                "0: the background thread needs a period of at least 1ms");
    }
    uint32_t nb, no;
    size_t fixed = fixed_bytes(o, &nb, &no);
    uint64_t memory = option_uint(&o->seg_memory);
    uint64_t per_seg = size + sizeof(struct seg);
    if (memory < fixed + 2 * per_seg) {
        return option_refuse(&o->seg_memory, bad, why, cap,
                "%" PRIu64 " bytes: too small for 2 segments of %" PRIu64
                " and %zu bytes of hash table",
                memory, size, fixed);
    }
    uint64_t n_seg = (memory - fixed) / per_seg;
    if (n_seg > SEG_ID_MAX) {
        return option_refuse(&o->seg_memory, bad, why, cap,
                "%" PRIu64 " bytes: more than %u segments of %" PRIu64
                "; raise seg.segment_size",
                memory, SEG_ID_MAX, size);
    }
    /* seg.open_max above the segment count is a cap that never binds:
     * taken as given. A reserve of every segment leaves writers none. */
    if (option_uint(&o->seg_reserve) >= n_seg) {
        return option_refuse(&o->seg_reserve, bad, why, cap,
                "%" PRIu64 ": not below the %" PRIu64 " segments there are",
                option_uint(&o->seg_reserve), n_seg);
    }
    return STATUS_OK;
}

/* The options passed seg_options_check. */
static void
layout(const seg_options_st *o)
{
    heap.memory = option_uint(&o->seg_memory);
    heap.seg_size = option_uint(&o->seg_segment_size);
    heap.unit = 1;
    heap.unit_shift = 0;
    while (((size_t)heap.unit << 20) < heap.seg_size) {
        heap.unit <<= 1;
        heap.unit_shift++;
    }
    size_t fixed = fixed_bytes(o, &heap.n_bucket, &heap.n_overflow);
    size_t per_seg = heap.seg_size + sizeof(struct seg);
    heap.n_seg = (uint32_t)((heap.memory - fixed) / per_seg);
    heap.metadata = fixed + heap.n_seg * sizeof(struct seg);
}

/* Maps the heap: anonymous memory, or the datapool file (*warm when it
 * holds a clean image to take). */
static rstatus_i
map_heap(const char *datapool, bool *warm)
{
    *warm = false;
    void *p;
    if (datapool[0] != '\0') {
        p = datapool_map(datapool, warm);
        if (p == NULL) {
            return STATUS_ERROR;
        }
    } else {
        p = mmap(NULL, heap.memory, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED) {
            log_error("seg: mmap %zu bytes: %s", heap.memory, strerror(errno));
            return STATUS_ENOMEM;
        }
    }
    uint8_t *at = heap.base = p;
    heap.buckets = (uint64_t *)at;
    at += (size_t)heap.n_bucket * CACHE_LINE;
    heap.pool = (uint64_t *)at;
    at += (size_t)heap.n_overflow * CACHE_LINE;
    heap.locks = at;
    at += size_align(heap.n_bucket, CACHE_LINE);
    hash_summary_map(at, heap.n_bucket);
    at += hash_summary_size(heap.n_bucket);

    heap.segs = (struct seg *)at;
    at += heap.n_seg * sizeof(struct seg);
    heap.ttl = (struct ttl_bucket *)size_align((size_t)at, 8);
    at = (uint8_t *)(heap.ttl + TTL_BUCKETS);
    heap.data = (uint8_t *)size_align((size_t)at, CACHE_LINE);
    ASSERT(heap.data + (size_t)heap.n_seg * heap.seg_size <=
            heap.base + heap.memory);
    return STATUS_OK;
}

/* An empty store: every segment free, every chain empty. */
static void
heap_init_empty(void)
{
    if (datapool_active()) {
        /* a reused file holds an old table: anonymous memory is zero */
        memset(heap.base, 0, (size_t)(heap.data - heap.base));
    }
    heap.free_head = heap.limbo_head = SEG_NIL;
    for (uint32_t i = heap.n_seg; i-- > 0;) {
        heap.segs[i] = (struct seg){0};
        heap.segs[i].state = SEG_FREE;
        heap.segs[i].next = heap.free_head;
        heap.segs[i].prev = SEG_NIL;
        heap.free_head = i;
    }
    heap.n_free = heap.n_seg;
    for (uint32_t i = 0; i < TTL_BUCKETS; i++) {
        heap.ttl[i] =
                (struct ttl_bucket){0, SEG_NIL, SEG_NIL, SEG_NIL, 0, SEG_NIL};
    }
    heap.flush_pending = UINT64_MAX;
    hash_init();
}

/* What the options decide, warm start or not. */
static void
heap_init(const seg_options_st *o)
{
    uint64_t open = option_uint(&o->seg_open_max);
    heap.open_max = open > 0 ? (uint32_t)open : heap.n_seg / 8;
    heap.open_max = heap.open_max < 1 ? 1 : heap.open_max;
    uint64_t reserve = option_uint(&o->seg_reserve);
    /* one free segment is kept apart for compaction and merges to copy
     * into: without it, dead space could only be reclaimed by evicting
     * (writers take every other free segment). A heap of fewer than 4
     * segments cannot spare it. */
    uint32_t keep = heap.n_seg >= 4 ? 1 : 0;
    heap.merge_keep = keep;
    heap.reserve =
            reserve > 0 ? (uint32_t)reserve : keep + 1 + heap.n_seg / 256;
    heap.n_merge = (uint32_t)option_uint(&o->seg_merge_segments);
}

/* --- background thread -------------------------------------------------- */

static pthread_t bg_thread;
static pthread_mutex_t bg_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t bg_cond = PTHREAD_COND_INITIALIZER;
static bool bg_running, bg_stop;
static uint64_t bg_interval_ms;

static void *
bg_main(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "bg");
    /* expiry and merges unlink items (seg_item_curr, seg_item_bytes) and
     * count: into a shard of its own, not with locked adds on the metric
     * rows that every worker reads */
    metric_thread_register();
    pthread_mutex_lock(&bg_mutex);
    while (!bg_stop) {
        pthread_mutex_unlock(&bg_mutex);
        storage_maintain(clock_ms());
        pthread_mutex_lock(&bg_mutex);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t ns = (uint64_t)ts.tv_nsec + bg_interval_ms * 1000000;
        ts.tv_sec += (time_t)(ns / 1000000000);
        ts.tv_nsec = (long)(ns % 1000000000);
        if (!bg_stop) {
            pthread_cond_timedwait(&bg_cond, &bg_mutex, &ts);
        }
    }
    pthread_mutex_unlock(&bg_mutex);
    return NULL;
}

/* Wakes the background thread before its next tick (seg_room_ahead: free
 * segments are running out faster than one tick's worth). */
void
seg_bg_kick(void)
{
    if (!__atomic_load_n(&bg_running, __ATOMIC_RELAXED)) {
        return;
    }
    INCR(seg_metrics, seg_bg_kick);
    pthread_mutex_lock(&bg_mutex);
    pthread_cond_signal(&bg_cond);
    pthread_mutex_unlock(&bg_mutex);
}

rstatus_i
seg_setup(const seg_options_st *options, seg_metrics_st *metrics)
{
    seg_options_st defaults = {SEG_OPTION(INIT_OPTION)};
    const seg_options_st *o = options != NULL ? options : &defaults;
    ASSERT(!heap_ready);
    memset(&heap, 0, sizeof(heap));
    const struct option *bad;
    char why[256];
    if (seg_options_check(o, &bad, why, sizeof(why)) != STATUS_OK) {
        char name[64];
        log_error("%s: %s", option_dotted_name(bad, name, sizeof(name)), why);
        return STATUS_EINVAL;
    }
    heap.evict = evict_parse(option_str(&o->seg_evict));
    layout(o);
    bool warm = false;
    rstatus_i st = map_heap(option_str(&o->seg_datapool), &warm);
    if (st != STATUS_OK) {
        return st;
    }
    seg_metrics = metrics;
    if (warm) {
        datapool_load();
    } else {
        heap_init_empty();
    }
    heap_init(o);
    heap_ready = true;
    seg_gauges();
    log_info("seg: %zu bytes: %u segments of %zu, %u hash buckets, "
             "%zu bytes metadata, evict %s",
            heap.memory, heap.n_seg, heap.seg_size, heap.n_bucket,
            heap.metadata, evict_name(heap.evict));
    bg_stop = false;
    bg_running = false;
    if (option_bool(&o->seg_background)) {
        bg_interval_ms = option_uint(&o->seg_expire_interval);
        if (pthread_create(&bg_thread, NULL, bg_main, NULL) != 0) {
            log_error("seg: cannot start the background thread");
            seg_teardown();
            return STATUS_ERROR;
        }
        pthread_setname_np(bg_thread, "bg"); /* named before ready, too */
        bg_running = true;
    }
    return STATUS_OK;
}

void
seg_teardown(void)
{
    if (bg_running) {
        pthread_mutex_lock(&bg_mutex);
        bg_stop = true;
        pthread_cond_signal(&bg_cond);
        pthread_mutex_unlock(&bg_mutex);
        pthread_join(bg_thread, NULL);
        bg_running = false;
    }
    if (datapool_active()) {
        if (heap_ready) {
            datapool_save(clock_ms());
        }
        datapool_unmap();
    } else if (heap.base != NULL) {
        munmap(heap.base, heap.memory);
    }
    memset(&heap, 0, sizeof(heap));
    seg_metrics = NULL;
    heap_ready = false;
}

void
seg_layout_get(struct seg_layout *out)
{
    out->memory = heap.memory;
    out->segment_size = heap.seg_size;
    out->n_segment = heap.n_seg;
    out->n_bucket = heap.n_bucket;
    out->n_overflow = heap.n_overflow;
    out->metadata = heap.metadata;
    out->reserve = heap.reserve;
    out->open_max = heap.open_max;
    out->evict = evict_name(heap.evict);
}
