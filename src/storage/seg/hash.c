/* SPDX-License-Identifier: Apache-2.0 */
/* The hash table: 64-byte buckets of eight 8-byte slots, two candidate
 * buckets per key (the emptier one takes a new key), and bulk chaining into
 * overflow buckets from a fixed pool inside the memory budget.
 *
 *   slot: | tag 12 | freq 8 | segment id 24 | offset 20 |   (bits 63..0)
 *   empty slot: 0.  link: tag 0, value = overflow index + 1 (slot 7 only)
 *
 *   head bucket b:  [e][e][e][e][e][e][e][link] -> pool[i]: [e]..[e][e]
 *
 * Readers take no lock: slots are loaded with acquire and an entry is only
 * stored (release) after its item is complete. Writers hold the byte locks
 * of both candidate buckets (lower index first), so "find the key, then
 * insert or swap" is atomic. A reader may bump the frequency bits with a
 * CAS, rarely (hash_bump_freq); writers compare entries with those bits
 * masked. Two choices keep chains short at 85-90% load, so the table costs
 * about 9 bytes per item. */
#include "seg_internal.h"

#include "base/hash.h"

#include <sched.h>
#include <string.h>
#include <time.h>

static inline bool
is_link(uint64_t v)
{
    return v != 0 && (v >> TAG_SHIFT) == 0;
}

/* A link is the 64-byte bucket's index in the heap, plus one: overflow
 * buckets come from the static pool or from segments lent to the table. */
static inline uint64_t *
pool_bucket(uint64_t link)
{
    return (uint64_t *)(heap.base + (link - 1) * CACHE_LINE);
}

static inline uint64_t
bucket_link(const uint64_t *bk)
{
    return (uint64_t)((const uint8_t *)bk - heap.base) / CACHE_LINE + 1;
}

static inline uint32_t
reduce(uint64_t x)
{
    return (uint32_t)(((x & 0xffffffffULL) * heap.n_bucket) >> 32);
}

static inline uint64_t
mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static inline void
buckets_of(uint64_t h, uint32_t *b1, uint32_t *b2)
{
    *b1 = reduce(h);
    *b2 = reduce(mix(h));
}

void
hash_buckets_of(uint64_t h, uint32_t *b1, uint32_t *b2)
{
    buckets_of(h, b1, b2);
}

static inline uint64_t
tag_of(uint64_t h)
{
    uint64_t t = h >> TAG_SHIFT;
    return t == 0 ? 1 : t;
}

uint64_t
hash_of(uint8_t db, const void *key, size_t klen)
{
    return hash_key_seed(key, klen, db);
}

uint64_t
hash_entry(uint64_t h, uint32_t sid, uint32_t off, uint8_t freq)
{
    return (tag_of(h) << TAG_SHIFT) | ((uint64_t)freq << FREQ_SHIFT) |
           ((uint64_t)sid << SEG_SHIFT) | (off / heap.unit);
}

uint8_t
hash_entry_freq(uint64_t val)
{
    return (uint8_t)((val & FREQ_MASK) >> FREQ_SHIFT);
}

static inline uint32_t
entry_sid(uint64_t v)
{
    return (uint32_t)((v >> SEG_SHIFT) & SEG_ID_MAX);
}

static inline uint32_t
entry_off(uint64_t v)
{
    return (uint32_t)(v & OFF_MASK) * heap.unit;
}

static inline bool
same_entry(uint64_t a, uint64_t b)
{
    return hash_same_entry(a, b);
}

size_t
hash_layout(uint32_t n_bucket, uint32_t n_overflow)
{
    return ((size_t)n_bucket + n_overflow) * CACHE_LINE + n_bucket +
           hash_summary_size(n_bucket);
}

void
hash_init(void)
{
    heap.pool_next = 0;
    heap.pool_free = 0;
    heap.pool_ret_head = heap.pool_ret_n = 0;
}

/* --- the overflow pool ---------------------------------------------------
 * Overflow buckets come from a static pool sized for the expected load and,
 * when that is used up, from free segments lent to the table (items that
 * are smaller than expected need more slots than the head table has). A
 * chain's empty tail bucket is unlinked (no entry moves) and parked in a
 * ring with an epoch stamp; once every reader has passed a quiescent point
 * it joins the free list, linked through its slot 0. Pool lock: under hash
 * bucket locks, above the heap lock. */

static void
pool_release(bool all)
{
    while (heap.pool_ret_n > 0 &&
            (all || epoch_passed(heap.pool_ret_stamp[heap.pool_ret_head]))) {
        uint64_t link = heap.pool_ret_link[heap.pool_ret_head];
        __atomic_store_n(pool_bucket(link), heap.pool_free, __ATOMIC_RELAXED);
        heap.pool_free = link;
        heap.pool_ret_head = (heap.pool_ret_head + 1) % POOL_RETIRED;
        heap.pool_ret_n--;
    }
}

static void
pool_drain_locked(void)
{
    pool_release(false);
}

void
hash_pool_release_retired(void)
{
    pool_release(true); /* no reader is left: every thread has stopped */
}

static void
pool_lend_segment_locked(void)
{
    uint32_t sid = seg_take_for_hash();
    if (sid == SEG_NIL) {
        return;
    }
    uint8_t *d = seg_data(sid);
    for (size_t off = 0; off + CACHE_LINE <= heap.seg_size; off += CACHE_LINE) {
        uint64_t *bk = (uint64_t *)(d + off);
        __atomic_store_n(bk, heap.pool_free, __ATOMIC_RELAXED);
        heap.pool_free = bucket_link(bk);
    }
    INCR(seg_metrics, seg_hash_seg);
}

static uint64_t *
pool_take(void)
{
    uint64_t *bk = NULL;
    seg_lock(&heap.pool_lock);
    pool_drain_locked();
    if (heap.pool_free == 0 && heap.pool_next < heap.n_overflow) {
        bk = heap.pool + (size_t)heap.pool_next++ * HASH_SLOTS;
    } else {
        if (heap.pool_free == 0) {
            pool_lend_segment_locked();
        }
        if (heap.pool_free != 0) {
            bk = pool_bucket(heap.pool_free);
            heap.pool_free = __atomic_load_n(bk, __ATOMIC_RELAXED);
        }
    }
    seg_unlock(&heap.pool_lock);
    return bk;
}

static bool
bucket_empty(const uint64_t *bk)
{
    for (int i = 0; i < HASH_SLOTS; i++) {
        if (__atomic_load_n(&bk[i], __ATOMIC_ACQUIRE) != 0) {
            return false;
        }
    }
    return true;
}

/* Under chain b's lock: drops empty overflow buckets from its tail while
 * the retired ring has room (else they stay linked, empty, for now). */
static void
chain_trim(uint32_t b)
{
    for (;;) {
        uint64_t *prev = NULL;
        uint64_t *bk = heap.buckets + (size_t)b * HASH_SLOTS;
        uint64_t link = 0;
        for (;;) {
            uint64_t v = __atomic_load_n(&bk[HASH_SLOTS - 1], __ATOMIC_ACQUIRE);
            if (!is_link(v)) {
                break;
            }
            prev = bk;
            link = v;
            bk = pool_bucket(v);
        }
        if (prev == NULL || !bucket_empty(bk)) {
            return;
        }
        seg_lock(&heap.pool_lock);
        if (heap.pool_ret_n == POOL_RETIRED) {
            seg_unlock(&heap.pool_lock);
            return;
        }
        __atomic_store_n(&prev[HASH_SLOTS - 1], 0, __ATOMIC_RELEASE);
        uint32_t at = (heap.pool_ret_head + heap.pool_ret_n) % POOL_RETIRED;
        heap.pool_ret_link[at] = link;
        heap.pool_ret_stamp[at] = epoch_retire_stamp();
        heap.pool_ret_n++;
        seg_unlock(&heap.pool_lock);
        DECR(seg_metrics, seg_hash_overflow);
    }
}

/* --- bucket locks and chain versions -----------------------------------
 * Bit 0 of a head bucket's lock byte is the lock; bits 1-7 count entry
 * moves within the chain. A reader that misses rescans while the version
 * changes, so moving an entry forward never hides a key. */

static void
bucket_lock(uint32_t b)
{
    uint8_t *l = &heap.locks[b];
    for (unsigned i = 0;; i++) {
        uint8_t v = __atomic_load_n(l, __ATOMIC_RELAXED);
        if ((v & 1) == 0 &&
                __atomic_compare_exchange_n(l, &v, (uint8_t)(v | 1), false,
                        __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
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

static void
bucket_unlock(uint32_t b)
{
    __atomic_fetch_and(&heap.locks[b], (uint8_t)~1, __ATOMIC_RELEASE);
}

static uint8_t
chain_version(uint32_t b)
{
    return __atomic_load_n(&heap.locks[b], __ATOMIC_ACQUIRE) & (uint8_t)~1;
}

/* Under chain b's lock, after slot hole was emptied: the chain's last
 * entry moves into the hole if it lies further down, so entries stay near
 * the head and overflow buckets drain; then empty tail buckets go. Order
 * for readers: copy, bump the version, clear the old slot. */
static void
chain_compact(uint32_t b, uint64_t *hole)
{
    uint64_t *bk = heap.buckets + (size_t)b * HASH_SLOTS;
    uint64_t *last = NULL;
    bool past_hole = false, last_after = false;
    for (;;) {
        uint64_t next = 0;
        for (int i = 0; i < HASH_SLOTS; i++) {
            uint64_t v = __atomic_load_n(&bk[i], __ATOMIC_ACQUIRE);
            if (&bk[i] == hole) {
                past_hole = true;
            } else if (is_link(v)) {
                next = v;
            } else if (v != 0) {
                last = &bk[i];
                last_after = past_hole;
            }
        }
        if (next == 0) {
            break;
        }
        bk = pool_bucket(next);
    }
    if (past_hole && last != NULL && last_after &&
            bk != heap.buckets + (size_t)b * HASH_SLOTS) {
        uint64_t v = __atomic_load_n(last, __ATOMIC_ACQUIRE);
        __atomic_store_n(hole, v, __ATOMIC_RELEASE);
        __atomic_fetch_add(&heap.locks[b], 2, __ATOMIC_RELEASE);
        __atomic_store_n(last, 0, __ATOMIC_RELEASE);
    }
    chain_trim(b);
}

static bool
chain_holds(uint32_t b, const uint64_t *slot)
{
    uint64_t *bk = heap.buckets + (size_t)b * HASH_SLOTS;
    for (;;) {
        if (slot >= bk && slot < bk + HASH_SLOTS) {
            return true;
        }
        uint64_t v = __atomic_load_n(&bk[HASH_SLOTS - 1], __ATOMIC_ACQUIRE);
        if (!is_link(v)) {
            return false;
        }
        bk = pool_bucket(v);
    }
}

/* Walks one chain, calling visit(slot, value) for each entry until it
 * returns true. Lock-free: values are loaded with acquire. */
typedef bool (*slot_fn)(uint64_t *slot, uint64_t v, void *arg);

static bool
chain_each(uint32_t b, slot_fn visit, void *arg)
{
    uint64_t *bk = heap.buckets + (size_t)b * HASH_SLOTS;
    for (;;) {
        uint64_t next = 0;
        for (int i = 0; i < HASH_SLOTS; i++) {
            uint64_t v = __atomic_load_n(&bk[i], __ATOMIC_ACQUIRE);
            if (v == 0) {
                continue;
            }
            if (is_link(v)) {
                next = v;
                continue;
            }
            if (visit(&bk[i], v, arg)) {
                return true;
            }
        }
        if (next == 0) {
            return false;
        }
        bk = pool_bucket(next);
    }
}

/* A slot of key h's chains was emptied of an entry of database db (both
 * locks held): the chain compacts, and db's summary counts one entry
 * fewer there, after the removal. */
static void
key_hole(uint64_t h, uint64_t *hole, uint8_t db)
{
    uint32_t b1, b2;
    buckets_of(h, &b1, &b2);
    if (chain_holds(b1, hole)) {
        chain_compact(b1, hole);
        hash_summary_sub(db, b1);
    } else if (b2 != b1 && chain_holds(b2, hole)) {
        chain_compact(b2, hole);
        hash_summary_sub(db, b2);
    }
}

struct find_arg {
    uint64_t tag;
    uint8_t db;
    const void *key;
    size_t klen;
    struct hash_ref *ref;
};

static bool
find_visit(uint64_t *slot, uint64_t v, void *arg)
{
    struct find_arg *fa = arg;
    if ((v >> TAG_SHIFT) != fa->tag) {
        return false;
    }
    uint32_t sid = entry_sid(v);
    uint32_t off = entry_off(v);
    const struct seg *s = &heap.segs[sid];
    uint8_t *item = seg_data(sid) + off;
    struct item_meta m;
    item_decode(item, seg_cas_at(s, off), s->exp_base, &m);
    if (m.db != fa->db || m.klen != fa->klen ||
            memcmp(item + m.hdr_len, fa->key, fa->klen) != 0) {
        INCR(seg_metrics, seg_hash_tag_collision);
        return false;
    }
    struct hash_ref *ref = fa->ref;
    ref->slot = slot;
    ref->val = v;
    ref->sid = sid;
    ref->off = off;
    ref->item = item;
    ref->m = m;
    return true;
}

static bool
find_once(uint32_t b1, uint32_t b2, struct find_arg *fa)
{
    return chain_each(b1, find_visit, fa) ||
           (b2 != b1 && chain_each(b2, find_visit, fa));
}

bool
hash_find(uint64_t h, uint8_t db, const void *key, size_t klen,
        struct hash_ref *ref)
{
    uint32_t b1, b2;
    buckets_of(h, &b1, &b2);
    struct find_arg fa = {tag_of(h), db, key, klen, ref};
    if (find_once(b1, b2, &fa)) {
        return true;
    }
    /* a miss counts only if no entry moved in either chain meanwhile */
    for (;;) {
        uint8_t v1 = chain_version(b1), v2 = chain_version(b2);
        if (find_once(b1, b2, &fa)) {
            return true;
        }
        if (v1 == chain_version(b1) && v2 == chain_version(b2)) {
            return false;
        }
    }
}

bool
hash_find_locked(uint64_t h, uint8_t db, const void *key, size_t klen,
        struct hash_ref *ref)
{
    return hash_find(h, db, key, klen, ref);
}

void
hash_lock_key(uint64_t h)
{
    uint32_t b1, b2;
    buckets_of(h, &b1, &b2);
    uint32_t lo = b1 < b2 ? b1 : b2, hi = b1 < b2 ? b2 : b1;
    bucket_lock(lo);
    if (hi != lo) {
        bucket_lock(hi);
    }
}

void
hash_unlock_key(uint64_t h)
{
    uint32_t b1, b2;
    buckets_of(h, &b1, &b2);
    bucket_unlock(b1);
    if (b2 != b1) {
        bucket_unlock(b2);
    }
}

/* Swaps *slot from an entry equal to old (frequency aside) to nval; false
 * if the slot holds something else. Readers may CAS the frequency bits, so
 * this loops on CAS rather than storing. */
static bool
slot_swap(uint64_t *slot, uint64_t old, uint64_t nval)
{
    uint64_t cur = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    for (;;) {
        if (!same_entry(cur, old)) {
            return false;
        }
        if (__atomic_compare_exchange_n(slot, &cur, nval, false,
                    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
            return true;
        }
    }
}

/* The dead copy's accounting: its segment loses live bytes, its db an item.
 * Reads the header under the bucket lock: the segment cannot be retired
 * while an entry still points into it. Returns the item's database (its
 * summary's to update). */
static uint8_t
entry_died(uint64_t v)
{
    uint32_t sid = entry_sid(v);
    const struct seg *s = &heap.segs[sid];
    struct item_meta m;
    uint32_t off = entry_off(v);
    item_decode(seg_data(sid) + off, seg_cas_at(s, off), s->exp_base, &m);
    item_unlinked(sid, item_size(&m), &m);
    return m.db;
}

bool
hash_swap_locked(uint64_t h, const struct hash_ref *ref, uint64_t nval)
{
    if (!slot_swap(ref->slot, ref->val, nval)) {
        return false;
    }
    item_unlinked(ref->sid, item_size(&ref->m), &ref->m);
    if (nval == 0) {
        key_hole(h, ref->slot, ref->m.db);
    }
    return true;
}

struct loc_arg {
    uint64_t want; /* entry sans frequency */
    uint64_t *slot;
    uint64_t val;
};

static bool
loc_visit(uint64_t *slot, uint64_t v, void *arg)
{
    struct loc_arg *la = arg;
    if (!same_entry(v, la->want)) {
        return false;
    }
    la->slot = slot;
    la->val = v;
    return true;
}

bool
hash_swap_location(uint64_t h, uint32_t sid, uint32_t off, uint64_t nval,
        uint8_t *freq, const struct hash_copy *copy)
{
    uint32_t b1, b2;
    buckets_of(h, &b1, &b2);
    struct loc_arg la = {hash_entry(h, sid, off, 0), NULL, 0};
    bool done = false;
    hash_lock_key(h);
    if (chain_each(b1, loc_visit, &la) ||
            (b2 != b1 && chain_each(b2, loc_visit, &la))) {
        if (copy != NULL) {
            memcpy(copy->dst, copy->src, copy->n);
        }
        if (nval != 0 && freq != NULL) {
            nval = (nval & ~FREQ_MASK) |
                   ((uint64_t)(hash_entry_freq(la.val) / 2) << FREQ_SHIFT);
        }
        if (freq != NULL) {
            *freq = hash_entry_freq(la.val);
        }
        done = slot_swap(la.slot, la.val, nval);
        if (done) {
            uint8_t db = entry_died(la.val);
            if (nval == 0) { /* else the same item moved: same db, chain */
                key_hole(h, la.slot, db);
            }
        }
    }
    hash_unlock_key(h);
    return done;
}

/* Under the lock: the first empty slot of chain b (not a link), the number
 * of entries, the last bucket and the entry with the lowest frequency. */
struct chain_info {
    uint64_t *empty;
    uint64_t *last;
    uint64_t *coldest;
    uint32_t entries;
    uint32_t buckets;
};

static void
chain_inspect(uint32_t b, struct chain_info *ci)
{
    uint64_t *bk = heap.buckets + (size_t)b * HASH_SLOTS;
    memset(ci, 0, sizeof(*ci));
    for (;;) {
        uint64_t next = 0;
        ci->buckets++;
        ci->last = bk;
        for (int i = 0; i < HASH_SLOTS; i++) {
            uint64_t v = __atomic_load_n(&bk[i], __ATOMIC_ACQUIRE);
            if (is_link(v)) {
                next = v;
            } else if (v == 0) {
                if (ci->empty == NULL) {
                    ci->empty = &bk[i];
                }
            } else {
                ci->entries++;
                if (ci->coldest == NULL ||
                        hash_entry_freq(v) <
                                hash_entry_freq(__atomic_load_n(
                                        ci->coldest, __ATOMIC_RELAXED))) {
                    ci->coldest = &bk[i];
                }
            }
        }
        if (next == 0) {
            return;
        }
        bk = pool_bucket(next);
    }
}

/* Adds an overflow bucket after ci->last: its slot 7 entry moves to the
 * new bucket first, then the link replaces it, so readers never miss it. */
static uint64_t *
chain_extend(struct chain_info *ci)
{
    uint64_t *nb = pool_take();
    if (nb == NULL) {
        return NULL;
    }
    for (int i = 0; i < HASH_SLOTS; i++) {
        __atomic_store_n(&nb[i], 0, __ATOMIC_RELAXED);
    }
    uint64_t moved =
            __atomic_load_n(&ci->last[HASH_SLOTS - 1], __ATOMIC_ACQUIRE);
    __atomic_store_n(&nb[0], moved, __ATOMIC_RELEASE);
    /* a reader's frequency CAS on the old slot may be lost: harmless */
    __atomic_store_n(
            &ci->last[HASH_SLOTS - 1], bucket_link(nb), __ATOMIC_RELEASE);
    INCR(seg_metrics, seg_hash_overflow);
    if (seg_metrics != NULL && metric_gauge(&seg_metrics->seg_hash_chain_max) <
                                       (int64_t)ci->buckets + 1) {
        UPDATE_VAL(seg_metrics, seg_hash_chain_max, ci->buckets + 1);
    }
    return &nb[1];
}

bool
hash_insert_locked(uint64_t h, uint8_t db, uint64_t val)
{
    uint32_t b1, b2;
    buckets_of(h, &b1, &b2);
    struct chain_info c1, c2;
    chain_inspect(b1, &c1);
    chain_inspect(b2, &c2);
    struct chain_info *pick = &c1;
    if (c1.empty == NULL || (c2.empty != NULL && c2.entries < c1.entries)) {
        pick = &c2;
    }
    uint64_t *slot = pick->empty;
    if (slot == NULL) {
        pick = c2.entries < c1.entries ? &c2 : &c1;
        slot = chain_extend(pick);
    }
    if (slot == NULL && heap.evict == EVICT_NONE) {
        return false; /* out of memory, and policy none evicts nothing */
    }
    if (slot == NULL) {
        /* no bucket left: the coldest entry of the two chains makes room */
        pick = &c1;
        if (c2.coldest != NULL &&
                (c1.coldest == NULL ||
                        hash_entry_freq(
                                __atomic_load_n(c2.coldest, __ATOMIC_RELAXED)) <
                                hash_entry_freq(__atomic_load_n(
                                        c1.coldest, __ATOMIC_RELAXED)))) {
            pick = &c2;
        }
        if (pick->coldest == NULL) {
            return false;
        }
        uint32_t b = pick == &c1 ? b1 : b2;
        uint64_t old = __atomic_load_n(pick->coldest, __ATOMIC_ACQUIRE);
        hash_summary_add(db, b); /* before readers see it */
        if (!slot_swap(pick->coldest, old, val)) {
            hash_summary_sub(db, b);
            return false;
        }
        hash_summary_sub(entry_died(old), b);
        INCR(seg_metrics, seg_hash_evict);
        return true;
    }
    hash_summary_add(db, pick == &c1 ? b1 : b2); /* before readers see it */
    __atomic_store_n(slot, val, __ATOMIC_RELEASE);
    return true;
}

/* A read raises the frequency f with probability 2^-(f/4): a logarithmic
 * counter in quarter octaves (Redis's LFU counter is logarithmic too), f
 * about 4 log2 of the reads. The first 4 reads of an entry always count
 * (OBJECT FREQ says 1 after one GET), then ever more rarely: an entry read
 * n times has written its bucket's cache line about 4 log2(n) times (a
 * key read a million times writes on about 1 read in 2^18), so the line
 * of a hot key stays shared in every core's cache. Quarter octaves, not
 * octaves, because merge eviction ranks by f: with 2^-f, bench_seg missratio 16
 * 1000000 20000000 merge 64 missed 0.1328 instead of 0.1319 (docs/storage.md).
 */
void
hash_bump_freq(uint64_t *slot, uint64_t val)
{
    uint8_t f = hash_entry_freq(val);
    unsigned octave = f / 4u; /* at most 63: the shift is defined */
    if (f == 0xff ||
            (octave > 0 && (seg_rand() & ((1ULL << octave) - 1)) != 0)) {
        return;
    }
    uint64_t nval = (val & ~FREQ_MASK) | ((uint64_t)(f + 1) << FREQ_SHIFT);
    __atomic_compare_exchange_n(
            slot, &val, nval, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
}

struct visit_arg {
    hash_visit_fn fn;
    void *arg;
};

static bool
visit_visit(uint64_t *slot, uint64_t v, void *arg)
{
    (void)slot;
    struct visit_arg *va = arg;
    va->fn(v, va->arg);
    return false;
}

/* Visits chain b; again if an entry moved forward meanwhile (SCAN must
 * not miss a key that stays: it may see one twice). */
void
hash_visit_bucket(uint32_t b, hash_visit_fn fn, void *arg)
{
    struct visit_arg va = {fn, arg};
    for (;;) {
        uint8_t v = chain_version(b);
        chain_each(b, visit_visit, &va);
        if (chain_version(b) == v) {
            return;
        }
    }
}

uint32_t
hash_chain_len(uint32_t b)
{
    struct chain_info ci;
    chain_inspect(b, &ci);
    return ci.buckets;
}

uint32_t
hash_val_sid(uint64_t v)
{
    return entry_sid(v);
}

uint32_t
hash_val_off(uint64_t v)
{
    return entry_off(v);
}

bool
hash_peek_location(uint64_t h, uint32_t sid, uint32_t off, uint64_t *val)
{
    uint32_t b1, b2;
    buckets_of(h, &b1, &b2);
    struct loc_arg la = {hash_entry(h, sid, off, 0), NULL, 0};
    if (chain_each(b1, loc_visit, &la) ||
            (b2 != b1 && chain_each(b2, loc_visit, &la))) {
        *val = la.val;
        return true;
    }
    return false;
}

/* Under the lock of head bucket b alone (which keeps every entry of its
 * chain, and so its item, in place): removes the entries dead() says so,
 * with their accounting. Returns how many. */
uint32_t
hash_purge_bucket(uint32_t b, hash_dead_fn dead, void *arg)
{
    uint32_t n = 0;
    bucket_lock(b);
    uint64_t *bk = heap.buckets + (size_t)b * HASH_SLOTS;
    for (;;) {
        uint64_t next = 0;
        for (int i = 0; i < HASH_SLOTS; i++) {
            uint64_t v = __atomic_load_n(&bk[i], __ATOMIC_ACQUIRE);
            if (v == 0) {
                continue;
            }
            if (is_link(v)) {
                next = v;
                continue;
            }
            uint32_t sid = entry_sid(v);
            const struct seg *s = &heap.segs[sid];
            struct item_meta m;
            uint32_t off = entry_off(v);
            item_decode(
                    seg_data(sid) + off, seg_cas_at(s, off), s->exp_base, &m);
            if (dead(&m, arg) && slot_swap(&bk[i], v, 0)) {
                item_unlinked(sid, item_size(&m), &m);
                n++;
                chain_compact(b, &bk[i]);
                hash_summary_sub(m.db, b);
                i--; /* the hole may hold a moved entry now */
            }
        }
        if (next == 0) {
            break;
        }
        bk = pool_bucket(next);
    }
    bucket_unlock(b);
    return n;
}
