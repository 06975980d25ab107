/* SPDX-License-Identifier: Apache-2.0 */
/* Eviction when memory is full. Segment policies pick one sealed segment
 * with no open reservation and drop its live items: fifo (oldest), random,
 * cte (closest to expiry: smallest latest-expiry), util (fewest live
 * bytes). merge (default) takes a run of segments of one TTL bucket where
 * that bucket's merge cursor stands (it walks the chain, so each segment,
 * merged ones included, is merged once per pass), copies the most
 * frequently read live items into one free segment, and frees the rest;
 * when no bucket has two mergeable segments it falls back to fifo, so a
 * small heap filling fast always finds something to evict. Nothing waits
 * on segment age: whatever is sealed is a candidate. Before any of them,
 * compaction (below) reclaims dead space without evicting: a policy runs
 * only when live bytes are above the threshold it defines.
 *
 * Lock order: TTL bucket lock, then heap lock; hash locks alone. */
#include "seg_internal.h"

#include <string.h>

static const char *const names[] = {
        [EVICT_NONE] = "none",
        [EVICT_MERGE] = "merge",
        [EVICT_FIFO] = "fifo",
        [EVICT_RANDOM] = "random",
        [EVICT_CTE] = "cte",
        [EVICT_UTIL] = "util",
};

evict_policy_e
evict_parse(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        if (name != NULL && strcmp(name, names[i]) == 0) {
            return (evict_policy_e)i;
        }
    }
    return (evict_policy_e)-1;
}

const char *
evict_name(evict_policy_e p)
{
    return names[p];
}

static bool
candidate(uint32_t sid)
{
    const struct seg *s = &heap.segs[sid];
    return __atomic_load_n(&s->state, __ATOMIC_ACQUIRE) == SEG_SEALED &&
           __atomic_load_n(&s->w_ref, __ATOMIC_ACQUIRE) == 0;
}

/* Turnover: a moving average of how long segments lived before eviction.
 * A segment whose items all expire within an eighth of that is left to
 * expire (freeing it costs nothing then) while anything else can go. */
static bool
expiring_soon(uint32_t sid, uint64_t now)
{
    uint64_t turnover = __atomic_load_n(&heap.turnover_ms, __ATOMIC_RELAXED);
    uint64_t max_exp =
            __atomic_load_n(&heap.segs[sid].max_exp, __ATOMIC_RELAXED);
    return max_exp != UINT64_MAX && max_exp <= now + turnover / 8;
}

static void
turnover_note(uint32_t sid, uint64_t now)
{
    uint64_t born = heap.segs[sid].create_ms;
    uint64_t age = now > born ? now - born : 0;
    uint64_t t = __atomic_load_n(&heap.turnover_ms, __ATOMIC_RELAXED);
    __atomic_store_n(&heap.turnover_ms, t == 0 ? age : (t * 7 + age) / 8,
            __ATOMIC_RELAXED);
}

static uint64_t
rank(evict_policy_e p, uint32_t sid)
{
    const struct seg *s = &heap.segs[sid];
    switch (p) {
    case EVICT_CTE:
        return __atomic_load_n(&s->max_exp, __ATOMIC_RELAXED);
    case EVICT_UTIL:
        return (uint64_t)__atomic_load_n(&s->live_bytes, __ATOMIC_RELAXED);
    default:
        return __atomic_load_n(&s->seq, __ATOMIC_RELAXED);
    }
}

static uint32_t
pick(evict_policy_e p, uint64_t now, bool adapt)
{
    uint32_t best = SEG_NIL;
    uint64_t best_rank = UINT64_MAX;
    uint32_t start =
            p == EVICT_RANDOM ? (uint32_t)(seg_rand() % heap.n_seg) : 0;
    for (uint32_t i = 0; i < heap.n_seg; i++) {
        uint32_t sid = (start + i) % heap.n_seg;
        if (!candidate(sid) || (adapt && expiring_soon(sid, now))) {
            continue;
        }
        if (p == EVICT_RANDOM) {
            return sid;
        }
        uint64_t r = rank(p, sid);
        if (best == SEG_NIL || r < best_rank) {
            best = sid;
            best_rank = r;
        }
    }
    return best;
}

static void
evict_segment(uint32_t sid, uint64_t now)
{
    turnover_note(sid, now);
    seg_chain_remove(sid);
    uint32_t unfetched = 0;
    uint32_t n = 0;
    bool dead = seg_dead(sid);
    uint64_t max_exp =
            __atomic_load_n(&heap.segs[sid].max_exp, __ATOMIC_RELAXED);
    bool expired = max_exp != UINT64_MAX && max_exp <= now;
    if (!seg_skip_dead(sid)) {
        n = seg_unlink_all(sid, &unfetched, expired ? 0 : now);
        ASSERT(!dead || n == 0);
    }
    if (expired) {
        INCR_N(seg_metrics, seg_expire_item, n);
        INCR_N(seg_metrics, seg_expire_unfetched, unfetched);
        INCR(seg_metrics, seg_expire_seg);
    } else {
        INCR_N(seg_metrics, seg_evict_item, n);
        INCR(seg_metrics, seg_evict_seg);
    }
    seg_retire(sid);
}

static bool
evict_simple(evict_policy_e p, uint64_t now)
{
    for (int tries = 0; tries < 8; tries++) {
        /* the policy's choice among segments not about to expire; else
         * plain FIFO over everything evictable */
        uint32_t sid = pick(p, now, p != EVICT_CTE);
        if (sid == SEG_NIL) {
            sid = pick(EVICT_FIFO, now, false);
        }
        if (sid == SEG_NIL) {
            return false;
        }
        if (seg_claim(sid)) {
            evict_segment(sid, now);
            return true;
        }
    }
    return false;
}

/* --- merge -------------------------------------------------------------- */

#define MERGE_MAX 16

struct merge {
    uint32_t src[MERGE_MAX];
    uint32_t n;
    uint32_t dst;
    uint32_t used; /* bytes written into dst */
    uint8_t cutoff;
    uint64_t room; /* bytes left for items one below the cutoff */
    uint64_t keep; /* bytes the cutoff and the room would keep, about */
    uint64_t now;
    bool compact; /* compaction: keep every visible item and its frequency */
};

/* Where a merge of bucket tb would start (bucket lock held): at its cursor,
 * which walks the chain so that every segment, merged ones included, waits
 * a whole pass before it is merged again (merging the head each time would
 * keep only one segment of hot items); back at the head when fewer than two
 * mergeable segments are left after the cursor. SEG_NIL if none. */
static uint32_t
merge_start_locked(const struct ttl_bucket *tb, uint64_t now)
{
    uint32_t at[2] = {tb->merge_at, tb->first};
    for (int i = 0; i < 2; i++) {
        uint32_t sid = at[i];
        if (sid != SEG_NIL && heap.segs[sid].next != SEG_NIL &&
                candidate(sid) && candidate(heap.segs[sid].next) &&
                !expiring_soon(sid, now)) {
            return sid;
        }
    }
    return SEG_NIL;
}

/* The bucket whose merge would start at the oldest segment; fills mg->src
 * claimed: up to seg.merge_segments consecutive segments from there. */
static bool
merge_claim(struct merge *mg, uint64_t now)
{
    uint32_t best = SEG_NIL;
    uint64_t best_age = UINT64_MAX;
    for (uint32_t b = 0; b < TTL_BUCKETS; b++) {
        struct ttl_bucket *tb = &heap.ttl[b];
        if (__atomic_load_n(&tb->first, __ATOMIC_RELAXED) == SEG_NIL) {
            continue;
        }
        seg_lock(&tb->lock);
        uint32_t sid = merge_start_locked(tb, now);
        uint64_t seq = sid == SEG_NIL ? UINT64_MAX
                                      : __atomic_load_n(&heap.segs[sid].seq,
                                                __ATOMIC_RELAXED);
        if (seq < best_age) {
            best_age = seq;
            best = b;
        }
        seg_unlock(&tb->lock);
    }
    if (best == SEG_NIL) {
        return false;
    }
    struct ttl_bucket *tb = &heap.ttl[best];
    mg->n = 0;
    seg_lock(&tb->lock);
    for (uint32_t sid = merge_start_locked(tb, now);
            sid != SEG_NIL && mg->n < heap.n_merge; sid = heap.segs[sid].next) {
        if (!seg_claim(sid)) {
            break;
        }
        mg->src[mg->n++] = sid;
    }
    seg_unlock(&tb->lock);
    if (mg->n < 2) {
        for (uint32_t i = 0; i < mg->n; i++) {
            seg_unclaim(mg->src[i]);
        }
        return false;
    }
    return true;
}

/* The frequency merge judges an item by: its entry's, or for a part its
 * root's (a part lives and is read as its root is); a part whose root is
 * not written yet and pinned (storage_parts_pin) as read most. *dead: a
 * part whose root is gone or another incarnation. */
static uint8_t
merge_freq(const struct item_meta *m, const uint8_t *key, uint64_t v,
        uint64_t now, bool *dead)
{
    uint8_t freq = hash_entry_freq(v), root_freq = 0;
    *dead = false;
    if ((m->type & ITEM_T_PART) != 0 && item_visible(m, now)) {
        if (parts_root_freq(m, key, now, &root_freq)) {
            freq = root_freq > freq ? root_freq : freq;
        } else if (parts_pinned(m, key)) {
            freq = UINT8_MAX;
        } else {
            *dead = true;
        }
    }
    return freq;
}

/* Frequency cutoff: the lowest frequency such that the live items at or
 * above it fit in 31/32 of one segment; what room they leave goes to
 * items one below the cutoff (merge_item). */
static void
merge_cutoff(struct merge *mg)
{
    uint64_t bytes[256] = {0}, whole[256] = {0}; /* whole: not parts */
    for (uint32_t i = 0; i < mg->n; i++) {
        uint32_t sid = mg->src[i];
        struct item_meta m;
        if (seg_skip_dead(sid)) {
            continue;
        }
        for (uint32_t off = 0; seg_items_decode(sid, off, &m);
                off += item_stride(item_size(&m))) {
            const uint8_t *key = seg_data(sid) + off + m.hdr_len;
            uint64_t v;
            bool dead;
            if (hash_peek_location(hash_of(m.db, key, m.klen), sid, off, &v) &&
                    item_visible(&m, mg->now)) {
                uint8_t f = merge_freq(&m, key, v, mg->now, &dead);
                uint64_t b = dead ? 0 : item_stride(item_size(&m));
                bytes[f] += b;
                whole[f] +=
                        (m.type & (ITEM_T_PART | ITEM_T_PARTS)) != 0 ? 0 : b;
            }
        }
    }
    uint64_t budget = heap.seg_size * 31 / 32, sum = 0;
    mg->cutoff = 0;
    for (int f = 255; f >= 0; f--) {
        sum += bytes[f];
        if (sum > budget) {
            mg->cutoff = (uint8_t)(f == 255 ? 255 : f + 1);
            mg->room = budget - (sum - bytes[f]);
            /* parts get no room below the cutoff (merge_item) */
            mg->keep = sum - bytes[f] +
                       (whole[f] < mg->room ? whole[f] : mg->room);
            return;
        }
    }
    mg->keep = sum;
}

/* A merge that would keep nothing (its sources hold only cold parts of
 * large values, and dead items) evicts its oldest source alone: merging
 * them all would evict every one at once and leave the rest of them free
 * before anything needs them, a FIFO of seg.merge_segments segments where
 * one does. */
static void
merge_narrow(struct merge *mg)
{
    if (mg->keep > 0 || mg->n < 2) {
        return;
    }
    for (uint32_t i = 1; i < mg->n; i++) {
        seg_unclaim(mg->src[i]);
    }
    mg->n = 1;
    INCR(seg_metrics, seg_merge_narrow);
}

/* Copies one live item to dst and relinks it with the replace primitive;
 * drops it when it is cold, expired or does not fit. The first pass over a
 * source (locked false) only peeks, lock-free, and leaves alone what no
 * entry points at; the second (locked true, rare: see merge_source) takes
 * the key's locks for every item. */
static void
merge_item(struct merge *mg, uint32_t sid, uint32_t off,
        const struct item_meta *m, bool locked)
{
    const uint8_t *item = seg_data(sid) + off;
    const uint8_t *key = item + m->hdr_len;
    uint64_t h = hash_of(m->db, key, m->klen), v = 0;
    /* the lock-free peek only chooses; the swaps below decide under the
     * key's locks, so no entry is left pointing into a source segment */
    bool seen = hash_peek_location(h, sid, off, &v);
    if (!seen && !locked) {
        return;
    }
    struct seg *d = &heap.segs[mg->dst];
    struct item_meta nm = *m;
    nm.hdr_len = item_hdr_len(&nm, seg_cas_at(d, 0), d->exp_base);
    uint32_t stride = item_stride(item_size(&nm));
    bool part = (m->type & ITEM_T_PART) != 0, dead_part;
    uint8_t freq = merge_freq(m, key, v, mg->now, &dead_part);
    /* below the cutoff by one: while the room it leaves lasts. Never a
     * part or a root: room that runs out partway through a key's parts
     * would keep some and evict the key, leaving the kept ones dead in dst,
     * and a root kept while its parts go is evicted with them (a value in
     * parts is kept whole by its root's reads, or not at all) */
    bool extra = (m->type & (ITEM_T_PART | ITEM_T_PARTS)) == 0 &&
                 freq + 1 == mg->cutoff && mg->room >= stride;
    bool keep = item_visible(m, mg->now) && !dead_part &&
                (freq >= mg->cutoff || extra) &&
                mg->used + stride <= heap.seg_size;
    if (keep) {
        uint8_t *p = seg_data(mg->dst) + mg->used;
        uint8_t atime = item_atime_code(
                item_atime_ms(item_atime(item), &heap.segs[sid]), d);
        item_encode(p, &nm, seg_cas_at(d, 0), d->exp_base, item_mflags(item),
                atime);
        /* a root's value may be patched in place (storage_patch) under the
         * key's locks until the swap: copy it under them */
        bool root = (m->type & ITEM_T_PARTS) != 0;
        size_t pre = root ? m->klen : (size_t)m->klen + m->vlen;
        memcpy(p + nm.hdr_len, key, pre);
        struct hash_copy cp = {p + nm.hdr_len + pre, key + pre, m->vlen};
        /* merge halves the frequency (items earn their next merge again);
         * compaction only moves an item and keeps what it earned */
        uint64_t nval =
                hash_entry(h, mg->dst, mg->used, mg->compact ? freq : 0);
        if (hash_swap_location(h, sid, off, nval,
                    mg->compact ? NULL : &(uint8_t){0}, root ? &cp : NULL)) {
            item_linked(mg->dst, item_size(&nm), &nm);
            mg->used += stride;
            mg->room -= extra ? stride : 0;
            if (mg->compact) {
                INCR(seg_metrics, seg_compact_item);
                INCR_N(seg_metrics, seg_compact_bytes, stride);
            } else {
                INCR(seg_metrics, seg_merge_keep);
            }
            if (nm.expiry > __atomic_load_n(&d->max_exp, __ATOMIC_RELAXED)) {
                __atomic_store_n(&d->max_exp, nm.expiry, __ATOMIC_RELAXED);
            }
            if (nm.expiry == 0) {
                __atomic_store_n(&d->max_exp, UINT64_MAX, __ATOMIC_RELAXED);
            }
        }
        return;
    }
    if (hash_swap_location(h, sid, off, 0, NULL, NULL)) {
        if (!dead_part) {
            item_dropped(m, key, mg->now);
        }
        if (dead_part) {
            INCR(seg_metrics, seg_part_dead);
        } else if (item_visible(m, mg->now)) {
            INCR(seg_metrics, seg_evict_item);
            if (part) {
                parts_evict_root(m, key, mg->now);
            }
        } else {
            INCR(seg_metrics, seg_expire_item);
        }
    }
}

/* Moves or drops every live item of a claimed source. The walk stops once
 * the source holds nothing live (live_items counts every link and unlink
 * under the key's locks, and nothing links into a claimed segment), so a
 * mostly dead segment costs a peek per item up to its last live one, not a
 * locked lookup per item. A peek can miss an entry that a chain compaction
 * moves at that moment; what is still live after the first pass is found
 * by the second, locked one. */
static void
merge_source(struct merge *mg, uint32_t sid)
{
    for (int pass = 0; pass < 2 && !seg_skip_dead(sid); pass++) {
        struct item_meta m;
        for (uint32_t off = 0;
                !seg_skip_dead(sid) && seg_items_decode(sid, off, &m);
                off += item_stride(item_size(&m))) {
            merge_item(mg, sid, off, &m, pass == 1);
        }
    }
}

static void
merge_dst_init(struct merge *mg)
{
    struct seg *d = &heap.segs[mg->dst];
    const struct seg *first = &heap.segs[mg->src[0]];
    d->bucket = first->bucket;
    d->exp_base = first->exp_base;
    d->create_ms = 0;
    d->atime_base = UINT64_MAX;
    uint64_t seq = 0;
    for (uint32_t i = 0; i < mg->n; i++) {
        const struct seg *src = &heap.segs[mg->src[i]];
        d->create_ms =
                src->create_ms > d->create_ms ? src->create_ms : d->create_ms;
        seq = src->seq > seq ? src->seq : seq;
        /* access times count from the oldest source's base: every moved
         * item's is kept, or rounded down to a step once (item.c) */
        d->atime_base = src->atime_base < d->atime_base ? src->atime_base
                                                        : d->atime_base;
    }
    if (mg->compact) {
        /* a compaction's destination is as old as its oldest source */
        for (uint32_t i = 0; i < mg->n; i++) {
            const struct seg *src = &heap.segs[mg->src[i]];
            d->create_ms = src->create_ms < d->create_ms ? src->create_ms
                                                         : d->create_ms;
        }
    }
    __atomic_store_n(&d->seq, seq, __ATOMIC_RELAXED);
    __atomic_store_n(&d->max_exp, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&d->write_offset, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&d->tail, (uint32_t)heap.seg_size, __ATOMIC_RELAXED);
    __atomic_store_n(&d->w_ref, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&d->live_items, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&d->live_bytes, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&d->state, SEG_EVICTING, __ATOMIC_RELEASE);
    mg->used = 0;
}

/* Puts dst where the sources were in their chain and retires them. */
static void
merge_finish(struct merge *mg)
{
    struct seg *d = &heap.segs[mg->dst];
    struct ttl_bucket *tb = &heap.ttl[d->bucket];
    __atomic_store_n(&d->write_offset, mg->used, __ATOMIC_RELEASE);
    seg_lock(&tb->lock);
    if (!mg->compact) {
        /* the next merge starts after the sources: dst waits a pass */
        tb->merge_at = heap.segs[mg->src[mg->n - 1]].next;
    }
    if (mg->used > 0) {
        uint32_t at = mg->src[0];
        d->prev = heap.segs[at].prev;
        d->next = at;
        if (d->prev != SEG_NIL) {
            heap.segs[d->prev].next = mg->dst;
        } else {
            __atomic_store_n(&tb->first, mg->dst, __ATOMIC_RELAXED);
        }
        heap.segs[at].prev = mg->dst;
        tb->n_seg++;
        __atomic_store_n(&d->state, SEG_SEALED, __ATOMIC_RELEASE);
    }
    seg_unlock(&tb->lock);
    if (mg->used == 0) {
        seg_lock(&heap.lock);
        seg_put_free_locked(mg->dst);
        seg_unlock(&heap.lock);
    }
    for (uint32_t i = 0; i < mg->n; i++) {
        seg_chain_remove(mg->src[i]);
        seg_retire(mg->src[i]);
    }
}

static bool
merge_run(uint64_t now)
{
    struct merge mg = {.now = now};
    if (!merge_claim(&mg, now)) {
        return false;
    }
    mg.dst = seg_take_spare();
    if (mg.dst == SEG_NIL) {
        for (uint32_t i = 0; i < mg.n; i++) {
            seg_unclaim(mg.src[i]);
        }
        return false;
    }
    /* busy while it runs: a writer that finds no merge to start waits
     * for this one (evict_run) */
    __atomic_fetch_add(&heap.n_busy, 1, __ATOMIC_RELAXED);
    merge_cutoff(&mg);
    merge_narrow(&mg);
    for (uint32_t i = 0; i < mg.n; i++) {
        turnover_note(mg.src[i], now);
    }
    merge_dst_init(&mg);
    /* newest source first: the room below the cutoff goes to the items
     * that had the least time to be read */
    for (uint32_t i = mg.n; i-- > 0;) {
        bool dead = seg_dead(mg.src[i]);
        uint32_t used = mg.used;
        merge_source(&mg, mg.src[i]);
        ASSERT(!dead || mg.used == used);
        ASSERT(seg_dead(mg.src[i]));
    }
    merge_finish(&mg);
    INCR(seg_metrics, seg_merge);
    INCR_N(seg_metrics, seg_evict_seg, mg.n - 1);
    __atomic_fetch_add(&heap.progress, 1, __ATOMIC_RELAXED);
    __atomic_fetch_sub(&heap.n_busy, 1, __ATOMIC_RELAXED);
    return true;
}

/* --- compaction ---------------------------------------------------------
 * Dead copies (overwritten or deleted items) are reclaimed before any live
 * item is evicted. Compaction takes the sealed segments with the fewest
 * live bytes, of any TTL bucket, as many as fit together in one segment,
 * copies their live items into one free segment (keeping CAS, expiry,
 * client flags, fetched and access bytes, and hash frequency) and frees
 * the rest: k sources cost one destination and give k back. It needs no
 * policy and drops nothing but expired items.
 *
 * When it is possible: two sealed segments whose live bytes (plus an
 * allowance per item for a longer header in the destination) fit in one.
 * The two emptiest of S sealed segments hold at most 2/S of their live
 * bytes, so compaction always succeeds while the live bytes of the sealed
 * segments are below half of their space (the threshold; open segments,
 * the free reserve, the destination kept for merges and compaction, and
 * segments in limbo are not sealed and not counted). Only above it does
 * making room evict live items, by the policy (evict_run). */

/* typical header growth when an item's CAS and expiry are re-based */
#define COMPACT_GROW_EST 4
/* the most it can grow: CAS and expiry deltas of 10 bytes each, 1 before */
#define COMPACT_GROW_MAX 18

static uint64_t
compact_need(uint32_t sid, uint32_t grow)
{
    const struct seg *s = &heap.segs[sid];
    int32_t items = __atomic_load_n(&s->live_items, __ATOMIC_RELAXED);
    int32_t bytes = __atomic_load_n(&s->live_bytes, __ATOMIC_RELAXED);
    items = items < 0 ? 0 : items;
    bytes = bytes < 0 ? 0 : bytes;
    return (uint64_t)bytes + (uint64_t)items * (grow + heap.unit - 1);
}

struct compact_pick {
    uint32_t sid[MERGE_MAX];
    uint64_t need[MERGE_MAX];
    uint32_t n;
    uint32_t sealed; /* candidates seen */
};

/* The MERGE_MAX sealed segments with the fewest live bytes, emptiest first
 * (one pass over the segment headers, no lock). */
static void
compact_scan(struct compact_pick *p)
{
    p->n = p->sealed = 0;
    for (uint32_t sid = 0; sid < heap.n_seg; sid++) {
        if (!candidate(sid)) {
            continue;
        }
        p->sealed++;
        uint64_t need = compact_need(sid, COMPACT_GROW_EST);
        if (p->n == MERGE_MAX && need >= p->need[MERGE_MAX - 1]) {
            continue;
        }
        uint32_t i = p->n < MERGE_MAX ? p->n++ : MERGE_MAX - 1;
        for (; i > 0 && p->need[i - 1] > need; i--) {
            p->sid[i] = p->sid[i - 1];
            p->need[i] = p->need[i - 1];
        }
        p->sid[i] = sid;
        p->need[i] = need;
    }
}

/* Claims the emptiest prefix that fits in one segment; the source of the
 * longest-lived TTL bucket goes first (the destination takes its place in
 * its chain, so no item lands in a chain that expires before it). */
static uint32_t
compact_claim(struct merge *mg, const struct compact_pick *p)
{
    uint64_t budget = heap.seg_size - heap.seg_size / 32, sum = 0;
    mg->n = 0;
    for (uint32_t i = 0; i < p->n && sum + p->need[i] <= budget; i++) {
        if (seg_claim(p->sid[i])) {
            mg->src[mg->n++] = p->sid[i];
            sum += p->need[i];
        }
    }
    uint32_t first = 0;
    for (uint32_t i = 1; i < mg->n; i++) {
        if (heap.segs[mg->src[i]].bucket > heap.segs[mg->src[first]].bucket) {
            first = i;
        }
    }
    uint32_t t = mg->src[0];
    mg->src[0] = mg->src[first];
    mg->src[first] = t;
    return mg->n;
}

compact_e
compact_run(uint64_t now)
{
    struct compact_pick p;
    compact_scan(&p);
    if (p.sealed < 2) {
        return COMPACT_NONE;
    }
    if (p.n < 2 || p.need[0] + p.need[1] > heap.seg_size - heap.seg_size / 32) {
        return COMPACT_NO_PAIR;
    }
    __atomic_fetch_add(&heap.n_busy, 1, __ATOMIC_RELAXED);
    struct merge mg = {.now = now, .compact = true};
    compact_e ret = COMPACT_BUSY;
    if (compact_claim(&mg, &p) < 2) {
        goto unclaim;
    }
    mg.dst = seg_take_spare();
    if (mg.dst == SEG_NIL) {
        ret = COMPACT_NO_DST;
        goto unclaim;
    }
    merge_dst_init(&mg);
    /* cutoff 0 keeps every visible item; a source whose items might not
     * fit with their longest headers waits for another round */
    uint32_t done = 0;
    for (; done < mg.n; done++) {
        uint32_t sid = mg.src[done];
        if (mg.used + compact_need(sid, COMPACT_GROW_MAX) > heap.seg_size) {
            break;
        }
        merge_source(&mg, sid);
        ASSERT(seg_dead(sid));
        /* writers waiting on this compaction see it advance */
        __atomic_fetch_add(&heap.progress, 1, __ATOMIC_RELAXED);
    }
    for (uint32_t i = done; i < mg.n; i++) {
        seg_unclaim(mg.src[i]);
    }
    mg.n = done;
    merge_finish(&mg);
    INCR(seg_metrics, seg_compact);
    INCR_N(seg_metrics, seg_compact_seg, done - (mg.used > 0 ? 1 : 0));
    __atomic_fetch_add(&heap.progress, 1, __ATOMIC_RELAXED);
    __atomic_fetch_sub(&heap.n_busy, 1, __ATOMIC_RELAXED);
    /* one source moved into one destination gains nothing: the rest would
     * not fit with their longest headers, which is high occupancy */
    return done >= 2 || (done == 1 && mg.used == 0) ? COMPACT_DONE
                                                    : COMPACT_NO_PAIR;
unclaim:
    for (uint32_t i = 0; i < mg.n; i++) {
        seg_unclaim(mg.src[i]);
    }
    __atomic_fetch_sub(&heap.n_busy, 1, __ATOMIC_RELAXED);
    return ret;
}

bool
evict_run(uint64_t now, bool patient)
{
    switch ((evict_policy_e)heap.evict) {
    case EVICT_NONE:
        return false;
    case EVICT_MERGE:
        if (merge_run(now)) {
            return true;
        }
        /* No merge now: another thread's merge or compaction holds the
         * segments at the cursor, or the spare is in limbo. Either frees
         * segments soon, and a patient caller waits for them; evicting the
         * oldest segment whole instead would throw out what earlier merges
         * kept (on a Zipf 0.8 load through the server one eviction in
         * seven was such a fallback: docs/storage.md section 6). FIFO when
         * nothing is under way, or when the caller has waited long enough
         * (a reader holding its epoch for long keeps segments in limbo). */
        if (patient &&
                (__atomic_load_n(&heap.n_busy, __ATOMIC_RELAXED) > 0 ||
                        __atomic_load_n(&heap.n_limbo, __ATOMIC_RELAXED) > 0)) {
            return false;
        }
        INCR(seg_metrics, seg_merge_fallback);
        return evict_simple(EVICT_FIFO, now);
    default:
        return evict_simple((evict_policy_e)heap.evict, now);
    }
}
