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
 * CAS; writers compare entries with those bits masked. Two choices keep
 * chains short at 85-90% load, so the table costs about 9 bytes per item. */
#include "seg_internal.h"

#include "base/hash.h"

#include <string.h>

static inline bool
is_link(uint64_t v)
{
    return v != 0 && (v >> TAG_SHIFT) == 0;
}

static inline uint64_t *
pool_bucket(uint64_t link)
{
    return heap.pool + (link - 1) * HASH_SLOTS;
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
    return ((size_t)n_bucket + n_overflow) * CACHE_LINE + n_bucket;
}

void
hash_init(void)
{
    __atomic_store_n(&heap.pool_next, 0, __ATOMIC_RELAXED);
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
    if (!item_decode(item, s->cas_base, s->exp_base, &m) || m.db != fa->db ||
            m.klen != fa->klen ||
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

bool
hash_find(uint64_t h, uint8_t db, const void *key, size_t klen,
        struct hash_ref *ref)
{
    uint32_t b1, b2;
    buckets_of(h, &b1, &b2);
    struct find_arg fa = {tag_of(h), db, key, klen, ref};
    if (chain_each(b1, find_visit, &fa)) {
        return true;
    }
    return b2 != b1 && chain_each(b2, find_visit, &fa);
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
    seg_lock(&heap.locks[lo]);
    if (hi != lo) {
        seg_lock(&heap.locks[hi]);
    }
}

void
hash_unlock_key(uint64_t h)
{
    uint32_t b1, b2;
    buckets_of(h, &b1, &b2);
    seg_unlock(&heap.locks[b1]);
    if (b2 != b1) {
        seg_unlock(&heap.locks[b2]);
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
 * while an entry still points into it. */
static void
entry_died(uint64_t v)
{
    uint32_t sid = entry_sid(v);
    const struct seg *s = &heap.segs[sid];
    struct item_meta m;
    if (item_decode(
                seg_data(sid) + entry_off(v), s->cas_base, s->exp_base, &m)) {
        item_unlinked(sid, item_size(&m), m.db);
    }
}

bool
hash_swap_locked(const struct hash_ref *ref, uint64_t nval)
{
    if (!slot_swap(ref->slot, ref->val, nval)) {
        return false;
    }
    item_unlinked(ref->sid, item_size(&ref->m), ref->m.db);
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
hash_swap_location(
        uint64_t h, uint32_t sid, uint32_t off, uint64_t nval, uint8_t *freq)
{
    uint32_t b1, b2;
    buckets_of(h, &b1, &b2);
    struct loc_arg la = {hash_entry(h, sid, off, 0), NULL, 0};
    bool done = false;
    hash_lock_key(h);
    if (chain_each(b1, loc_visit, &la) ||
            (b2 != b1 && chain_each(b2, loc_visit, &la))) {
        if (nval != 0 && freq != NULL) {
            nval = (nval & ~FREQ_MASK) |
                   ((uint64_t)(hash_entry_freq(la.val) / 2) << FREQ_SHIFT);
        }
        if (freq != NULL) {
            *freq = hash_entry_freq(la.val);
        }
        done = slot_swap(la.slot, la.val, nval);
        if (done) {
            entry_died(la.val);
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
    uint32_t idx = __atomic_fetch_add(&heap.pool_next, 1, __ATOMIC_RELAXED);
    if (idx >= heap.n_overflow) {
        __atomic_store_n(&heap.pool_next, heap.n_overflow, __ATOMIC_RELAXED);
        return NULL;
    }
    uint64_t *nb = heap.pool + (size_t)idx * HASH_SLOTS;
    uint64_t moved =
            __atomic_load_n(&ci->last[HASH_SLOTS - 1], __ATOMIC_ACQUIRE);
    __atomic_store_n(&nb[0], moved, __ATOMIC_RELEASE);
    /* a reader's frequency CAS on the old slot may be lost: harmless */
    __atomic_store_n(
            &ci->last[HASH_SLOTS - 1], (uint64_t)idx + 1, __ATOMIC_RELEASE);
    INCR(seg_metrics, seg_hash_overflow);
    if (seg_metrics != NULL && metric_gauge(&seg_metrics->seg_hash_chain_max) <
                                       (int64_t)ci->buckets + 1) {
        UPDATE_VAL(seg_metrics, seg_hash_chain_max, ci->buckets + 1);
    }
    return &nb[1];
}

bool
hash_insert_locked(uint64_t h, uint64_t val)
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
    if (slot == NULL) {
        /* pool used up: the coldest entry of the two chains makes room */
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
        uint64_t old = __atomic_load_n(pick->coldest, __ATOMIC_ACQUIRE);
        if (!slot_swap(pick->coldest, old, val)) {
            return false;
        }
        entry_died(old);
        INCR(seg_metrics, seg_hash_evict);
        return true;
    }
    __atomic_store_n(slot, val, __ATOMIC_RELEASE);
    return true;
}

/* A read raises the frequency: always below 8, then with probability
 * 1/freq, so hot keys rarely write their bucket's cache line. */
void
hash_bump_freq(uint64_t *slot, uint64_t val)
{
    uint8_t f = hash_entry_freq(val);
    if (f == 0xff || (f >= 8 && seg_rand() % f != 0)) {
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

void
hash_visit_bucket(uint32_t b, hash_visit_fn fn, void *arg)
{
    struct visit_arg va = {fn, arg};
    chain_each(b, visit_visit, &va);
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
    seg_lock(&heap.locks[b]);
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
            if (item_decode(seg_data(sid) + entry_off(v), s->cas_base,
                        s->exp_base, &m) &&
                    dead(&m, arg) && slot_swap(&bk[i], v, 0)) {
                item_unlinked(sid, item_size(&m), m.db);
                n++;
            }
        }
        if (next == 0) {
            break;
        }
        bk = pool_bucket(next);
    }
    seg_unlock(&heap.locks[b]);
    return n;
}
