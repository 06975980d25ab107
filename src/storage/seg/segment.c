/* SPDX-License-Identifier: Apache-2.0 */
/* Segments: TTL buckets and their chains, the shared open segment of each
 * bucket with its atomic write offset, the free and limbo lists, walking a
 * segment's items, and whole-segment expiry.
 *
 * Lifecycle:  FREE -> ACTIVE (open, in a chain) -> SEALED (full, in the
 *             chain) -> EVICTING (claimed; unlinked from the chain and the
 *             hash) -> LIMBO (retired at epoch E) -> FREE once every
 *             registered thread has passed a quiescent point after E.
 *
 * Lock order: TTL bucket lock, then heap lock (seg_internal.h). */
#include "seg_internal.h"

#include "base/log.h"

#include <string.h>
#include <time.h>

/* --- TTL buckets ---------------------------------------------------------
 * 4 ranges of 256 buckets, in seconds: width 8 up to 2047 s, 128 up to
 * 32767 s, 2048 up to 524287 s, 32768 up to 8388607 s (97 days); longer
 * TTLs share the last bucket; items without expiry have a bucket of their
 * own. The bucket only groups items so that a segment expires as a whole;
 * each item keeps its exact expiry, so nothing expires early. */

uint32_t
ttl_bucket_of(uint64_t expiry, uint64_t now)
{
    if (expiry == 0) {
        return TTL_NEVER_BUCKET;
    }
    uint64_t ms = expiry > now ? expiry - now : 1;
    uint64_t s = (ms + 999) / 1000;
    if (s < 2048) {
        return (uint32_t)(s >> 3);
    }
    if (s < 32768) {
        return 256 + (uint32_t)(s >> 7);
    }
    if (s < 524288) {
        return 512 + (uint32_t)(s >> 11);
    }
    if (s < 8388608) {
        return 768 + (uint32_t)(s >> 15);
    }
    return 1023;
}

uint32_t
seg_ttl_bucket_index(uint64_t expiry, uint64_t now)
{
    return ttl_bucket_of(expiry, now);
}

uint64_t
seg_ttl_bucket_lower(uint32_t i)
{
    static const uint32_t width[4] = {8, 128, 2048, 32768};
    if (i >= TTL_NEVER_BUCKET) {
        return 0;
    }
    return (uint64_t)(i % 256) * width[i / 256] * 1000;
}

/* --- free and limbo lists (heap lock) ----------------------------------- */

void
seg_put_free_locked(uint32_t sid)
{
    struct seg *s = &heap.segs[sid];
    __atomic_fetch_add(&s->gen, 1, __ATOMIC_RELAXED);
    __atomic_store_n(&s->state, SEG_FREE, __ATOMIC_RELEASE);
    s->next = heap.free_head;
    s->prev = SEG_NIL;
    heap.free_head = sid;
    __atomic_fetch_add(&heap.n_free, 1, __ATOMIC_RELAXED);
}

static uint32_t
pop_free(uint32_t keep)
{
    uint32_t sid = SEG_NIL;
    seg_lock(&heap.lock);
    if (heap.free_head != SEG_NIL &&
            __atomic_load_n(&heap.n_free, __ATOMIC_RELAXED) > keep) {
        sid = heap.free_head;
        heap.free_head = heap.segs[sid].next;
        __atomic_fetch_sub(&heap.n_free, 1, __ATOMIC_RELAXED);
    }
    seg_unlock(&heap.lock);
    return sid;
}

uint32_t
seg_take_for_hash(void)
{
    uint32_t sid = pop_free(heap.reserve);
    if (sid != SEG_NIL) {
        __atomic_store_n(&heap.segs[sid].state, SEG_HASH, __ATOMIC_RELEASE);
    }
    return sid;
}

void
seg_retire(uint32_t sid)
{
    struct seg *s = &heap.segs[sid];
    __atomic_store_n(&s->state, SEG_LIMBO, __ATOMIC_RELEASE);
    s->retire_epoch = epoch_retire_stamp();
    seg_lock(&heap.lock);
    s->next = heap.limbo_head;
    heap.limbo_head = sid;
    __atomic_fetch_add(&heap.n_limbo, 1, __ATOMIC_RELAXED);
    seg_unlock(&heap.lock);
}

/* Moves retired segments no reader can see any more to the free list. */
void
seg_reclaim(void)
{
    seg_lock(&heap.lock);
    uint32_t *link = &heap.limbo_head;
    while (*link != SEG_NIL) {
        uint32_t sid = *link;
        struct seg *s = &heap.segs[sid];
        if (epoch_passed(s->retire_epoch)) {
            *link = s->next;
            __atomic_fetch_sub(&heap.n_limbo, 1, __ATOMIC_RELAXED);
            __atomic_fetch_add(&heap.progress, 1, __ATOMIC_RELAXED);
            seg_put_free_locked(sid);
        } else {
            link = &s->next;
        }
    }
    seg_unlock(&heap.lock);
}

uint32_t
seg_take_spare(void)
{
    return pop_free(0);
}

static void
nap(unsigned us)
{
    struct timespec ts = {0, (long)us * 1000};
    nanosleep(&ts, NULL);
}

static uint64_t
clock_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* How long a writer waits for readers to leave their epoch (segments in
 * limbo) or for a compaction under way, rather than evict live items while
 * live bytes are below the threshold (evict.c). A reader holds its epoch
 * for one event-loop batch, a preempted one for a scheduler slice (a few
 * ms on an oversubscribed CPU); a compaction copies at most one segment.
 * The wait ends when WAIT_STALL_US pass with neither a segment coming back
 * from limbo nor a compaction finishing, or after WAIT_MAX_US in all; then
 * the writer evicts by the policy and seg_wait_timeout counts it. */
#define WAIT_STALL_US 100000
#define WAIT_MAX_US   2000000

static void
note_slow(uint64_t t0)
{
    if (seg_metrics == NULL) {
        return;
    }
    uint64_t us = clock_us() - t0;
    INCR_N(seg_metrics, seg_take_slow_us, us);
    RECORD(seg_metrics, seg_take_slow_lat, us * 1000);
    int64_t *max = &seg_metrics->seg_take_slow_max_us.gauge;
    int64_t cur = __atomic_load_n(max, __ATOMIC_RELAXED);
    while ((int64_t)us > cur &&
            !__atomic_compare_exchange_n(max, &cur, (int64_t)us, true,
                    __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
}

/* A free segment for a writer. When the free list is down to the spare
 * kept for merges, in this order: segments back from limbo, segments with
 * nothing live, compaction of dead space; then, while that space is only
 * waiting for readers and live bytes are below the threshold, a bounded
 * wait; only then eviction by the policy. The slow path goes offline (the
 * caller holds no view: see storage.h) so this thread's own retired
 * segments can come back. */
uint32_t
seg_take_free(uint64_t now, bool may_wait)
{
    uint32_t keep = heap.merge_keep;
    uint32_t sid = pop_free(keep);
    if (sid != SEG_NIL) {
        return sid;
    }
    INCR(seg_metrics, seg_take_slow);
    uint64_t t0 = clock_us();
    bool registered = epoch_thread_registered();
    bool timed_out = false;
    unsigned idle = 0; /* merges that failed with nothing under way: one
                          more try, after a nap */
    uint64_t seen = __atomic_load_n(&heap.progress, __ATOMIC_RELAXED);
    uint64_t stall = t0;
    epoch_offline();
    for (unsigned i = 0; i < 100000 && sid == SEG_NIL; i++) {
        seg_reclaim();
        if ((sid = pop_free(keep)) != SEG_NIL) {
            break;
        }
        if (seg_expire_one(now)) {
            continue;
        }
        compact_e c = compact_run(now);
        if (c == COMPACT_DONE) {
            continue;
        }
        bool pending = __atomic_load_n(&heap.n_limbo, __ATOMIC_RELAXED) > 0 ||
                       __atomic_load_n(&heap.n_busy, __ATOMIC_RELAXED) > 0;
        /* Live bytes above the threshold, or nothing that could change.
         * Segments in limbo are dead space on its way back, and a
         * compaction under way holds the emptiest segments claimed: while
         * either lasts, the sealed segments left are the newest and
         * fullest, so no pair fitting is no sign of pressure yet. */
        bool pressure =
                !pending && (c == COMPACT_NO_PAIR || c == COMPACT_NONE ||
                                    c == COMPACT_NO_DST);
        uint64_t progress = __atomic_load_n(&heap.progress, __ATOMIC_RELAXED);
        uint64_t t = clock_us();
        if (progress != seen) {
            seen = progress;
            stall = t;
        }
        if (!pressure && may_wait && !timed_out) {
            if (t - stall < WAIT_STALL_US && t - t0 < WAIT_MAX_US) {
                INCR(seg_metrics, seg_wait);
                nap(i < 8 ? 10 : 100);
                continue;
            }
            timed_out = true;
            INCR(seg_metrics, seg_wait_timeout);
        }
        /* patient while merges or compactions keep making progress */
        bool patient =
                may_wait && t - stall < WAIT_STALL_US && t - t0 < WAIT_MAX_US;
        if (evict_run(now, patient)) {
            INCR(seg_metrics, seg_evict_inline);
            continue;
        }
        /* evict_run waits out a merge or compaction under way (it may have
         * started since `pending` was read): give up only when nothing is */
        pending = __atomic_load_n(&heap.n_limbo, __ATOMIC_RELAXED) > 0 ||
                  __atomic_load_n(&heap.n_busy, __ATOMIC_RELAXED) > 0;
        if ((sid = pop_free(0)) != SEG_NIL || !may_wait ||
                (!pending && (heap.evict != EVICT_MERGE || idle++ > 0))) {
            break;
        }
        INCR(seg_metrics, seg_wait);
        nap(100);
    }
    if (registered) {
        epoch_enter();
    }
    if (sid == SEG_NIL) {
        INCR(seg_metrics, seg_evict_ex);
    }
    note_slow(t0);
    return sid;
}

/* Making room ahead of need, by the writer that just opened a segment
 * (after it is installed, so the bucket's other writers go on into it):
 * when free and limbo segments are down to the writers' low-water mark
 * (seg.reserve + 1), one step of what seg_take_free does past the free
 * list (segments back from limbo, a dead segment freed, one compaction),
 * never an eviction, and none of it while another thread compacts. Under
 * a steady stream of sets this keeps free segments ahead of the writers,
 * so a writer rarely reaches the slow path and naps there while another
 * compacts; the work is shared by the writers in proportion to the
 * segments they fill, without a third thread competing for their CPUs. */
void
seg_room_ahead(uint64_t now)
{
    uint32_t low = heap.reserve + 1;
    if (__atomic_load_n(&heap.n_free, __ATOMIC_RELAXED) +
                    __atomic_load_n(&heap.n_limbo, __ATOMIC_RELAXED) >=
            low) {
        return;
    }
    if (__atomic_load_n(&heap.n_busy, __ATOMIC_RELAXED) > 0) {
        return; /* another writer or the background thread is on it */
    }
    INCR(seg_metrics, seg_room_ahead);
    bool registered = epoch_thread_registered();
    epoch_offline(); /* as the slow path: our own retired segments too */
    seg_reclaim();
    if (__atomic_load_n(&heap.n_free, __ATOMIC_RELAXED) < low &&
            !seg_expire_one(now)) {
        compact_run(now);
    }
    if (registered) {
        epoch_enter();
    }
    /* still into the reserve: eviction is the background thread's, now
     * rather than at its next tick, so that writers rarely merge (or wait
     * for a merge) on their own request path */
    if (__atomic_load_n(&heap.n_free, __ATOMIC_RELAXED) +
                    __atomic_load_n(&heap.n_limbo, __ATOMIC_RELAXED) <
            heap.reserve) {
        seg_bg_kick();
    }
}

/* --- chains (TTL bucket lock) ------------------------------------------- */

static void
chain_append_locked(struct ttl_bucket *tb, uint32_t sid)
{
    struct seg *s = &heap.segs[sid];
    s->prev = tb->last;
    s->next = SEG_NIL;
    if (tb->last != SEG_NIL) {
        heap.segs[tb->last].next = sid;
    } else {
        __atomic_store_n(&tb->first, sid, __ATOMIC_RELAXED);
    }
    tb->last = sid;
    tb->n_seg++;
}

void
seg_chain_remove(uint32_t sid)
{
    struct seg *s = &heap.segs[sid];
    struct ttl_bucket *tb = &heap.ttl[s->bucket];
    seg_lock(&tb->lock);
    if (tb->merge_at == sid) {
        tb->merge_at = s->next; /* the merge cursor moves past it */
    }
    if (s->prev != SEG_NIL) {
        heap.segs[s->prev].next = s->next;
    } else {
        __atomic_store_n(&tb->first, s->next, __ATOMIC_RELAXED);
    }
    if (s->next != SEG_NIL) {
        heap.segs[s->next].prev = s->prev;
    } else {
        tb->last = s->prev;
    }
    s->prev = s->next = SEG_NIL;
    tb->n_seg--;
    seg_unlock(&tb->lock);
}

/* Claims a sealed segment for eviction, expiry or merge: SEALED -> EVICTING,
 * then backs off if a writer still holds a reservation in it. The writer
 * increments w_ref before checking the state, this sets the state before
 * checking w_ref (both seq_cst), so one of the two always sees the other. */
bool
seg_claim(uint32_t sid)
{
    struct seg *s = &heap.segs[sid];
    uint8_t want = SEG_SEALED;
    if (!__atomic_compare_exchange_n(&s->state, &want, SEG_EVICTING, false,
                __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) {
        return false;
    }
    if (__atomic_load_n(&s->w_ref, __ATOMIC_SEQ_CST) != 0) {
        __atomic_store_n(&s->state, SEG_SEALED, __ATOMIC_RELEASE);
        return false;
    }
    return true;
}

void
seg_unclaim(uint32_t sid)
{
    __atomic_store_n(&heap.segs[sid].state, SEG_SEALED, __ATOMIC_RELEASE);
}

static void
seal(uint32_t sid)
{
    struct seg *s = &heap.segs[sid];
    struct ttl_bucket *tb = &heap.ttl[s->bucket];
    uint32_t want = sid;
    if (__atomic_compare_exchange_n(&tb->active, &want, SEG_NIL, false,
                __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
        uint8_t st = SEG_ACTIVE;
        __atomic_compare_exchange_n(&s->state, &st, SEG_SEALED, false,
                __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
        __atomic_fetch_sub(&heap.n_open, 1, __ATOMIC_RELAXED);
    }
}

/* When open_max segments are open, a bucket without one writes into the
 * nearest bucket's open segment, later TTLs first: the item keeps its exact
 * expiry, its segment is only freed later. */
static uint32_t
fallback_active(uint32_t bucket)
{
    for (uint32_t d = 1; d < TTL_BUCKETS; d++) {
        uint32_t up = bucket + d;
        if (up < TTL_BUCKETS) {
            uint32_t sid =
                    __atomic_load_n(&heap.ttl[up].active, __ATOMIC_ACQUIRE);
            if (sid != SEG_NIL) {
                return sid;
            }
        }
        if (d <= bucket) {
            uint32_t sid = __atomic_load_n(
                    &heap.ttl[bucket - d].active, __ATOMIC_ACQUIRE);
            if (sid != SEG_NIL) {
                return sid;
            }
        }
    }
    return SEG_NIL;
}

static void
seg_open_init(uint32_t sid, uint32_t bucket, uint64_t expiry, uint64_t now)
{
    struct seg *s = &heap.segs[sid];
    s->bucket = (uint16_t)bucket;
    s->exp_base = expiry;
    __atomic_store_n(&s->max_exp, 0, __ATOMIC_RELAXED);
    s->create_ms = now;
    s->atime_base = now - now % ITEM_ATIME_STEP;
    __atomic_store_n(&s->seq,
            __atomic_add_fetch(&heap.seg_seq, 1, __ATOMIC_RELAXED),
            __ATOMIC_RELAXED);
    __atomic_store_n(&s->write_offset, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&s->tail, (uint32_t)heap.seg_size, __ATOMIC_RELAXED);
    __atomic_store_n(&s->w_ref, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&s->live_items, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&s->live_bytes, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&s->state, SEG_ACTIVE, __ATOMIC_SEQ_CST);
}

static uint32_t
active_segment(uint32_t bucket, uint64_t expiry, uint64_t now)
{
    struct ttl_bucket *tb = &heap.ttl[bucket];
    uint32_t sid = __atomic_load_n(&tb->active, __ATOMIC_ACQUIRE);
    if (sid != SEG_NIL) {
        return sid;
    }
    if (__atomic_load_n(&heap.n_open, __ATOMIC_RELAXED) >= heap.open_max) {
        sid = fallback_active(bucket);
        if (sid != SEG_NIL) {
            return sid;
        }
    }
    uint32_t fresh = seg_take_free(now, true);
    if (fresh == SEG_NIL) {
        return SEG_NIL;
    }
    seg_lock(&tb->lock);
    sid = __atomic_load_n(&tb->active, __ATOMIC_ACQUIRE);
    if (sid == SEG_NIL) {
        seg_open_init(fresh, bucket, expiry, now);
        chain_append_locked(tb, fresh);
        __atomic_fetch_add(&heap.n_open, 1, __ATOMIC_RELAXED);
        __atomic_store_n(&tb->active, fresh, __ATOMIC_RELEASE);
        sid = fresh;
        fresh = SEG_NIL;
    }
    seg_unlock(&tb->lock);
    if (fresh != SEG_NIL) {
        seg_lock(&heap.lock);
        seg_put_free_locked(fresh);
        seg_unlock(&heap.lock);
    } else {
        seg_room_ahead(now);
    }
    return sid;
}

static void
max_update(uint64_t *p, uint64_t v)
{
    uint64_t cur = __atomic_load_n(p, __ATOMIC_RELAXED);
    while (cur < v && !__atomic_compare_exchange_n(p, &cur, v, true,
                              __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
}

/* Whether a segment opened before the last flush of db: an item written
 * into it now would take a CAS below the flush threshold and be invisible
 * (seg_cas_at). */
static bool
seg_before_flush(const struct seg *s, uint8_t db)
{
    return (__atomic_load_n(&s->seq, __ATOMIC_RELAXED) << 20) <
           __atomic_load_n(&heap.flush_cas[db & DB_MASK], __ATOMIC_ACQUIRE);
}

/* Reserves room for one item in the open segment of its TTL bucket and
 * writes its header (m->cas 0: the item's CAS is where it lands,
 * seg_cas_at; else it keeps m->cas). The caller copies the key and value to
 * r->item + hdr and closes with res_close after linking or giving up. */
storage_status_e
res_open(
        struct res *r, const struct item_meta *mm, uint8_t mflags, uint64_t now)
{
    struct item_meta m = *mm;
    if (ITEM_HDR_MAX + (size_t)m.klen + m.vlen > heap.seg_size) {
        return STORAGE_EOVERSIZE;
    }
    uint32_t bucket = ttl_bucket_of(m.expiry, now);
    for (;;) {
        uint32_t sid = active_segment(bucket, m.expiry, now);
        if (sid == SEG_NIL) {
            INCR(seg_metrics, seg_write_ex);
            return STORAGE_ENOMEM;
        }
        struct seg *s = &heap.segs[sid];
        __atomic_fetch_add(&s->w_ref, 1, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&s->state, __ATOMIC_SEQ_CST) != SEG_ACTIVE) {
            __atomic_fetch_sub(&s->w_ref, 1, __ATOMIC_RELEASE);
            continue;
        }
        if ((m.cas == 0 || m.ecas) && seg_before_flush(s, m.db)) {
            __atomic_fetch_sub(&s->w_ref, 1, __ATOMIC_RELEASE);
            seal(sid);
            continue;
        }
        uint64_t cas_at = seg_cas_at(s, 0);
        m.hdr_len = item_hdr_len(&m, cas_at, s->exp_base);
        uint32_t size = item_size(&m), stride = item_stride(size);
        uint32_t off =
                __atomic_fetch_add(&s->write_offset, stride, __ATOMIC_RELAXED);
        if ((size_t)off + stride > heap.seg_size) {
            if (off < heap.seg_size) {
                __atomic_store_n(&s->tail, off, __ATOMIC_RELAXED);
            }
            __atomic_fetch_sub(&s->w_ref, 1, __ATOMIC_RELEASE);
            seal(sid);
            continue;
        }
        uint8_t *p = seg_data(sid) + off;
        m.flags &= ITEM_F_STALE;
        item_encode(
                p, &m, cas_at, s->exp_base, mflags, item_atime_code(now, s));
        max_update(&s->max_exp, m.expiry == 0 ? UINT64_MAX : m.expiry);
        *r = (struct res){.item = p,
                .value = p + m.hdr_len + m.klen,
                .sid = sid,
                .off = off,
                .size = size,
                .db = m.db,
                .open = 1,
                .cas = m.cas != 0 ? m.cas : cas_at | (off >> heap.unit_shift),
                .age = m.cas != 0 && !m.ecas
                               ? m.cas
                               : cas_at | (off >> heap.unit_shift),
                .expiry = m.expiry};
        return STORAGE_OK;
    }
}

void
res_close(struct res *r)
{
    if (r->open) {
        __atomic_fetch_sub(&heap.segs[r->sid].w_ref, 1, __ATOMIC_RELEASE);
        r->open = 0;
    }
}

/* --- walking and expiry ------------------------------------------------- */

/* Where a claimed segment's items end: its write offset, or, when a
 * reservation did not fit, where that one started (its tail, stored
 * before the writer let go of the segment). */
uint32_t
seg_walk_end(uint32_t sid)
{
    const struct seg *s = &heap.segs[sid];
    uint32_t end = __atomic_load_n(&s->write_offset, __ATOMIC_ACQUIRE);
    uint32_t tail = __atomic_load_n(&s->tail, __ATOMIC_ACQUIRE);
    return end < tail ? end : tail;
}

bool
seg_items_decode(uint32_t sid, uint32_t off, struct item_meta *m)
{
    const struct seg *s = &heap.segs[sid];
    if (off >= seg_walk_end(sid)) {
        return false;
    }
    item_decode(seg_data(sid) + off, seg_cas_at(s, off), s->exp_base, m);
    return true;
}

/* Two passes, as merge_source (evict.c): lock-free peeks first, a locked
 * lookup only for items still linked, stopping once nothing is live; a
 * locked pass over every item for what a peek missed. */
uint32_t
seg_unlink_all(uint32_t sid, uint32_t *unfetched, uint64_t evict_now)
{
    uint32_t n = 0;
    uint32_t never_read = 0;
    for (int pass = 0; pass < 2 && !seg_skip_dead(sid); pass++) {
        struct item_meta m;
        for (uint32_t off = 0;
                !seg_skip_dead(sid) && seg_items_decode(sid, off, &m);
                off += item_stride(item_size(&m))) {
            const uint8_t *item = seg_data(sid) + off;
            const uint8_t *key = item + m.hdr_len;
            uint64_t h = hash_of(m.db, key, m.klen), v;
            if (pass == 0 && !hash_peek_location(h, sid, off, &v)) {
                continue;
            }
            if (hash_swap_location(h, sid, off, 0, NULL, NULL)) {
                n++;
                item_dropped(&m, key, evict_now);
                if ((item_mflags(item) & ITEM_M_FETCHED) == 0) {
                    never_read++;
                }
                /* an evicted part takes its root (an expired part's root
                 * expired with it: they share the expiry) */
                if ((m.type & ITEM_T_PART) && evict_now != 0 &&
                        item_visible(&m, evict_now)) {
                    parts_evict_root(&m, key, evict_now);
                }
            }
        }
    }
    ASSERT(seg_dead(sid));
    if (unfetched != NULL) {
        *unfetched = never_read;
    }
    return n;
}

static bool
all_expired(const struct seg *s, uint64_t now)
{
    uint64_t max_exp = __atomic_load_n(&s->max_exp, __ATOMIC_RELAXED);
    return max_exp != 0 && max_exp != UINT64_MAX && max_exp <= now;
}

static bool
expirable(const struct seg *s, uint64_t now)
{
    return all_expired(s, now) ||
           __atomic_load_n(&s->live_items, __ATOMIC_RELAXED) == 0;
}

/* Frees one segment whose items all expired or died (nothing live); true if
 * one was found. An open segment whose items all expired is sealed first
 * (it may sit in a bucket nobody writes to any more). The test is repeated
 * once the segment is claimed: a writer may have finished an item in it
 * between the first look and the claim. */
bool
seg_expire_one(uint64_t now)
{
    for (uint32_t sid = 0; sid < heap.n_seg; sid++) {
        struct seg *s = &heap.segs[sid];
        uint8_t state = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);
        if (state == SEG_ACTIVE && all_expired(s, now)) {
            seal(sid);
            state = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);
        }
        if (state != SEG_SEALED || !expirable(s, now) || !seg_claim(sid)) {
            continue;
        }
        if (!expirable(s, now)) {
            seg_unclaim(sid);
            continue;
        }
        seg_chain_remove(sid);
        uint32_t unfetched = 0;
        uint32_t n = 0;
        /* all items dead (overwritten or deleted: common under overwrites):
         * nothing to unlink */
        bool dead = seg_dead(sid);
        if (!seg_skip_dead(sid)) {
            n = seg_unlink_all(sid, &unfetched, 0);
            ASSERT(!dead || n == 0);
        }
        INCR_N(seg_metrics, seg_expire_item, n);
        INCR_N(seg_metrics, seg_expire_unfetched, unfetched);
        INCR(seg_metrics, seg_expire_seg);
        seg_retire(sid);
        return true;
    }
    return false;
}

void
seg_gauges(void)
{
    UPDATE_VAL(seg_metrics, seg_seg_free,
            __atomic_load_n(&heap.n_free, __ATOMIC_RELAXED));
    UPDATE_VAL(seg_metrics, seg_seg_open,
            __atomic_load_n(&heap.n_open, __ATOMIC_RELAXED));
    UPDATE_VAL(seg_metrics, seg_seg_limbo,
            __atomic_load_n(&heap.n_limbo, __ATOMIC_RELAXED));
    if (seg_metrics != NULL) {
        int64_t sealed = 0;
        for (uint32_t sid = 0; sid < heap.n_seg; sid++) {
            sealed += __atomic_load_n(&heap.segs[sid].state,
                              __ATOMIC_RELAXED) == SEG_SEALED;
        }
        UPDATE_VAL(seg_metrics, seg_seg_sealed, sealed);
    }
}

size_t
seg_ttl_stats(struct seg_ttl_stat *out, size_t cap)
{
    size_t n = 0;
    for (uint32_t i = 0; i < TTL_BUCKETS && n < cap; i++) {
        struct ttl_bucket *tb = &heap.ttl[i];
        seg_lock(&tb->lock);
        if (tb->n_seg > 0) {
            struct seg_ttl_stat *st = &out[n++];
            st->ttl_ms = seg_ttl_bucket_lower(i);
            st->n_segment = tb->n_seg;
            st->live_items = 0;
            st->live_bytes = 0;
            for (uint32_t sid = tb->first; sid != SEG_NIL;
                    sid = heap.segs[sid].next) {
                st->live_items += __atomic_load_n(
                        &heap.segs[sid].live_items, __ATOMIC_RELAXED);
                st->live_bytes += __atomic_load_n(
                        &heap.segs[sid].live_bytes, __ATOMIC_RELAXED);
            }
        }
        seg_unlock(&tb->lock);
    }
    return n;
}
