/* SPDX-License-Identifier: Apache-2.0 */
/* The storage API (storage/storage.h) over segments and the hash table.
 *
 * Items never change after they are linked (two atomic access bytes
 * aside): every write, including touch, incr and append, writes a new copy
 * and links it with the one replace primitive, ops_commit() below: under the
 * key's bucket locks, check the entry is still what the decision was based
 * on, swap, and account the old copy as dead. Read-modify-write operations
 * retry when another writer got there first. The read-modify-write
 * operations are in ops_rmw.c, whole-table reads in ops_table.c.
 *
 * Lock order: hash bucket locks of one key (seg_internal.h); the flush lock
 * is taken alone. */
#include "seg_internal.h"

#include "base/time.h"

#include <string.h>

_Static_assert(sizeof(struct res) + 2 * sizeof(uint64_t) <=
                       sizeof(((struct storage_reservation *)0)->priv),
        "reservation private area too small");

/* --- accounting --------------------------------------------------------- */

void
item_linked(uint32_t sid, uint32_t size, const struct item_meta *m)
{
    struct seg *s = &heap.segs[sid];
    __atomic_fetch_add(&s->live_items, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&s->live_bytes, (int32_t)size, __ATOMIC_RELAXED);
    if (m->db < STORAGE_DB_COUNT) { /* parts are not keys */
        __atomic_fetch_add(&heap.count[m->db], 1, __ATOMIC_RELAXED);
        if (m->expiry != 0) {
            __atomic_fetch_add(&heap.expires[m->db], 1, __ATOMIC_RELAXED);
        }
    }
    INCR(seg_metrics, seg_item_curr);
    INCR_N(seg_metrics, seg_item_bytes, size);
}

void
item_unlinked(uint32_t sid, uint32_t size, const struct item_meta *m)
{
    struct seg *s = &heap.segs[sid];
    __atomic_fetch_sub(&s->live_items, 1, __ATOMIC_RELAXED);
    __atomic_fetch_sub(&s->live_bytes, (int32_t)size, __ATOMIC_RELAXED);
    if (m->db < STORAGE_DB_COUNT) {
        __atomic_fetch_sub(&heap.count[m->db], 1, __ATOMIC_RELAXED);
        if (m->expiry != 0) {
            __atomic_fetch_sub(&heap.expires[m->db], 1, __ATOMIC_RELAXED);
        }
    }
    DECR(seg_metrics, seg_item_curr);
    DECR_N(seg_metrics, seg_item_bytes, size);
}

bool
item_visible(const struct item_meta *m, uint64_t now)
{
    return !time_expired(m->expiry, now) &&
           m->age >= __atomic_load_n(&heap.flush_cas[m->db & DB_MASK],
                             __ATOMIC_ACQUIRE);
}

/* --- flush -------------------------------------------------------------- */

static uint8_t flush_lock;

static bool
flushed(const struct item_meta *m, void *arg)
{
    const uint16_t *mask = arg;
    uint8_t db = m->db & DB_MASK;
    return (*mask & (1u << db)) != 0 &&
           m->age < __atomic_load_n(&heap.flush_cas[db], __ATOMIC_ACQUIRE);
}

/* Items of the databases in mask with a CAS below the threshold are
 * invisible at once; the table walk then unlinks them so counts and
 * segments come back. */
static void
flush_apply(uint16_t mask)
{
    /* every segment opened from here on has a higher sequence, so every
     * item written into one a higher CAS; a writer that finds its open
     * segment below the threshold seals it (res_open) */
    uint64_t threshold = (__atomic_load_n(&heap.seg_seq, __ATOMIC_SEQ_CST) + 1)
                         << 20;
    for (uint8_t db = 0; db < STORAGE_DB_COUNT; db++) {
        if (mask & (1u << db)) {
            __atomic_store_n(&heap.flush_cas[db], threshold, __ATOMIC_RELEASE);
        }
    }
    uint32_t n = 0;
    for (uint32_t b = 0; b < heap.n_bucket; b++) {
        n += hash_purge_bucket(b, flushed, &mask);
    }
    INCR(seg_metrics, seg_flush);
    INCR_N(seg_metrics, seg_flush_item, n);
}

static void
flush_resolve(uint64_t now)
{
    uint16_t mask = 0;
    uint64_t pending = UINT64_MAX;
    seg_lock(&flush_lock);
    for (uint8_t db = 0; db < STORAGE_DB_COUNT; db++) {
        uint64_t at = heap.flush_at[db];
        if (at != 0 && at <= now) {
            mask |= (uint16_t)(1u << db);
            heap.flush_at[db] = 0;
        } else if (at != 0 && at < pending) {
            pending = at;
        }
    }
    __atomic_store_n(&heap.flush_pending, pending, __ATOMIC_RELEASE);
    seg_unlock(&flush_lock);
    if (mask != 0) {
        flush_apply(mask);
    }
}

void
ops_flush_check(uint64_t now)
{
    if (unlikely(__atomic_load_n(&heap.flush_pending, __ATOMIC_ACQUIRE) <=
                 now)) {
        flush_resolve(now);
    }
}

storage_status_e
storage_flush(uint8_t db, uint64_t at, uint64_t now)
{
    if (db >= STORAGE_DB_COUNT && db != STORAGE_DB_ALL) {
        return STORAGE_EINVAL;
    }
    uint16_t mask = db == STORAGE_DB_ALL ? 0xffff : (uint16_t)(1u << db);
    epoch_enter();
    ops_flush_check(now); /* a pending flush that is due happens first */
    if (at <= now) {
        flush_apply(mask);
        return STORAGE_OK;
    }
    seg_lock(&flush_lock);
    for (uint8_t d = 0; d < STORAGE_DB_COUNT; d++) {
        if (mask & (1u << d)) {
            heap.flush_at[d] = at;
        }
    }
    if (at < __atomic_load_n(&heap.flush_pending, __ATOMIC_RELAXED)) {
        __atomic_store_n(&heap.flush_pending, at, __ATOMIC_RELEASE);
    }
    seg_unlock(&flush_lock);
    return STORAGE_OK;
}

/* --- lookups and views -------------------------------------------------- */

storage_status_e
ops_begin(uint8_t db, size_t klen, uint64_t now)
{
    if ((db & ~STORAGE_DB_PARTS) >= STORAGE_DB_COUNT || klen == 0 ||
            klen > STORAGE_KEY_MAX) {
        return STORAGE_EINVAL;
    }
    epoch_enter();
    ops_flush_check(now);
    return STORAGE_OK;
}

/* Fills the view with the item as it was before this access, then records
 * the access if asked. */
void
ops_view_fill(struct storage_item *it, const struct hash_ref *ref, bool record,
        uint64_t now)
{
    const struct seg *s = &heap.segs[ref->sid];
    if (it != NULL) {
        uint8_t mflags = item_mflags(ref->item);
        it->key = ref->item + ref->m.hdr_len;
        it->klen = ref->m.klen;
        it->value = it->key + ref->m.klen;
        it->vlen = ref->m.vlen;
        it->cas = ref->m.cas;
        it->expiry = ref->m.expiry;
        it->last_access = item_atime_ms(item_atime(ref->item), s);
        it->cflags = ref->m.cflags;
        it->db = ref->m.db;
        it->type = ref->m.type & ITEM_T_TYPE;
        it->parts = (ref->m.type & ITEM_T_PARTS) != 0;
        it->fetched = (mflags & ITEM_M_FETCHED) != 0;
        it->stale = (ref->m.flags & ITEM_F_STALE) != 0;
        it->win_sent = (mflags & ITEM_M_WIN) != 0;
        it->freq = hash_entry_freq(ref->val);
        it->priv = ref->item;
    }
    if (record) {
        hash_bump_freq(ref->slot, ref->val);
        item_touch_access(ref->item, s, now);
    }
}

void
ops_view_none(struct storage_item *it)
{
    if (it != NULL) {
        memset(it, 0, sizeof(*it));
    }
}

/* --- items dropped by the store (storage_on_drop) ----------------------- */

static storage_drop_fn drop_hook;

void
storage_on_drop(storage_drop_fn fn)
{
    __atomic_store_n(&drop_hook, fn, __ATOMIC_RELAXED);
}

void
item_dropped_key(uint8_t db, const uint8_t *key, size_t klen,
        storage_drop_e why, const struct storage_drop_info *info)
{
    storage_drop_fn fn = __atomic_load_n(&drop_hook, __ATOMIC_RELAXED);
    if (fn != NULL && db < STORAGE_DB_COUNT) {
        fn(db, key, klen, why, info);
    }
}

bool
item_drop_info(const struct item_meta *m, const uint8_t *key,
        uint64_t evict_now, struct storage_drop_info *info, storage_drop_e *why)
{
    if (__atomic_load_n(&drop_hook, __ATOMIC_RELAXED) == NULL ||
            m->db >= STORAGE_DB_COUNT) {
        return false; /* off, or a part (not a key) */
    }
    if (m->age < __atomic_load_n(&heap.flush_cas[m->db], __ATOMIC_ACQUIRE)) {
        return false; /* flushed: the flush was the change */
    }
    bool live = evict_now != 0 && !time_expired(m->expiry, evict_now);
    /* the item is in the heap, its segment found from its address */
    const uint8_t *item = key - m->hdr_len;
    uint32_t sid = (uint32_t)((size_t)(item - heap.data) / heap.seg_size);
    *info = (struct storage_drop_info){
            .expiry = m->expiry,
            .last_access = item_atime_ms(item_atime(item), &heap.segs[sid]),
            .value = key + m->klen,
            .value_len = m->vlen,
            .vlen = m->vlen,
            .type = (uint8_t)(m->type & ITEM_T_TYPE),
            .fetched = (item_mflags(item) & ITEM_M_FETCHED) != 0,
    };
    *why = live ? STORAGE_DROP_EVICTED : STORAGE_DROP_EXPIRED;
    return true;
}

void
item_dropped(const struct item_meta *m, const uint8_t *key, uint64_t evict_now)
{
    struct storage_drop_info info;
    storage_drop_e why;
    if (item_drop_info(m, key, evict_now, &info, &why)) {
        item_dropped_key(m->db, key, m->klen, why, &info);
    }
}

/* Removes an entry found expired or flushed, if it is still there. */
static void
drop_invisible(uint64_t h, const struct hash_ref *ref)
{
    hash_lock_key(h);
    bool dropped = hash_swap_locked(h, ref, 0);
    if (dropped) {
        INCR(seg_metrics, seg_expire_item);
    }
    hash_unlock_key(h);
    if (dropped) {
        item_dropped(&ref->m, ref->item + ref->m.hdr_len, 0);
    }
}

/* A live item of (db, key): true fills ref. Drops what it finds dead. */
bool
ops_lookup(uint8_t db, const void *key, size_t klen, uint64_t h, uint64_t now,
        struct hash_ref *ref)
{
    if (!hash_find(h, db, key, klen, ref)) {
        return false;
    }
    if (!item_visible(&ref->m, now)) {
        drop_invisible(h, ref);
        return false;
    }
    return true;
}

static storage_status_e
read_item(uint8_t db, const void *key, size_t klen, uint64_t now,
        struct storage_item *it, bool record)
{
    storage_status_e st = ops_begin(db, klen, now);
    if (st != STORAGE_OK) {
        return st;
    }
    struct hash_ref ref;
    INCR(seg_metrics, seg_get);
    uint64_t h = hash_of(db, key, klen);
    bool found = hash_find(h, db, key, klen, &ref);
    if (!found || !item_visible(&ref.m, now)) {
        if (found) {
            /* why it is hidden, as memcached tells (flush checked first):
             * get_flushed, get_expired */
            if (ref.m.age < __atomic_load_n(&heap.flush_cas[db & DB_MASK],
                                    __ATOMIC_ACQUIRE)) {
                INCR(seg_metrics, seg_get_flushed);
            } else {
                INCR(seg_metrics, seg_get_expired);
            }
            drop_invisible(h, &ref);
        }
        INCR(seg_metrics, seg_get_miss);
        ops_view_none(it);
        return STORAGE_NOT_FOUND;
    }
    INCR(seg_metrics, seg_get_hit);
    ops_view_fill(it, &ref, record, now);
    return STORAGE_OK;
}

storage_status_e
storage_get(uint8_t db, const void *key, size_t klen, uint64_t now,
        struct storage_item *it)
{
    return read_item(db, key, klen, now, it, true);
}

storage_status_e
storage_peek(uint8_t db, const void *key, size_t klen, uint64_t now,
        struct storage_item *it)
{
    return read_item(db, key, klen, now, it, false);
}

size_t
storage_item_footprint(const struct storage_item *it)
{
    size_t hdr = (size_t)(it->key - (const uint8_t *)it->priv);
    return item_stride((uint32_t)(hdr + it->klen + it->vlen)) +
           sizeof(uint64_t);
}

bool
storage_item_claim_win(const struct storage_item *it)
{
    uint8_t *item = it->priv;
    uint8_t prev = __atomic_fetch_or(item + 1, ITEM_M_WIN, __ATOMIC_RELAXED);
    return (prev & ITEM_M_WIN) == 0;
}

bool
storage_cas_older(const struct storage_item *it, uint64_t cas)
{
    const uint8_t *item = it->priv;
    if (cas == it->cas) {
        return false;
    }
    struct item_meta m = {.ecas = false};
    if (item != NULL) {
        item_decode(item, 0, 0, &m);
    }
    if (item == NULL || m.ecas || (cas >> 20) == (it->cas >> 20)) {
        return cas < it->cas;
    }
    return (cas >> 20) <= __atomic_load_n(&heap.seg_seq, __ATOMIC_RELAXED);
}

/* --- the replace primitive ---------------------------------------------- */

static storage_status_e
cond_check(
        const struct cond *c, bool found, bool vis, const struct hash_ref *ref)
{
    if (c->expect) {
        if (c->expect_val == 0 ? vis
                               : (!found || !hash_same_entry(
                                                    ref->val, c->expect_val))) {
            return RETRY;
        }
    }
    switch (c->mode) {
    case STORAGE_ADD:
        return vis ? STORAGE_EXISTS : STORAGE_OK;
    case STORAGE_REPLACE:
        return vis ? STORAGE_OK : STORAGE_NOT_STORED;
    case STORAGE_CAS:
        if (!vis) {
            return STORAGE_NOT_FOUND;
        }
        if (ref->m.cas != c->cas) {
            INCR(seg_metrics, seg_cas_mismatch);
            return STORAGE_EXISTS;
        }
        return STORAGE_OK;
    default:
        return STORAGE_OK;
    }
}

/* A reservation whose age a flush has passed would be invisible once
 * linked: copy it to a fresh one with a new CAS, or the CAS its writer
 * chose in a segment opened since (rare). The new header may differ in
 * length from the old. */
static storage_status_e
res_refresh(struct res *r, uint64_t now)
{
    struct item_meta m;
    const struct seg *s = &heap.segs[r->sid];
    item_decode(r->item, seg_cas_at(s, r->off), s->exp_base, &m);
    if (!m.ecas) {
        m.cas = 0;
    }
    struct res nr;
    storage_status_e st = res_open(&nr, &m, item_mflags(r->item), now);
    if (st != STORAGE_OK) {
        return st;
    }
    memcpy(nr.value - m.klen, r->value - m.klen, (size_t)m.klen + m.vlen);
    res_close(r);
    *r = nr;
    return STORAGE_OK;
}

storage_status_e
ops_commit(struct res *r, const struct cond *c, uint64_t now,
        struct storage_item *old)
{
    ops_view_none(old);
    struct item_meta m;
    const struct seg *s = &heap.segs[r->sid];
    item_decode(r->item, seg_cas_at(s, r->off), s->exp_base, &m);
    if (r->age < __atomic_load_n(
                         &heap.flush_cas[m.db & DB_MASK], __ATOMIC_ACQUIRE)) {
        storage_status_e st = res_refresh(r, now);
        if (st != STORAGE_OK) {
            res_close(r);
            return st;
        }
        s = &heap.segs[r->sid];
        item_decode(r->item, seg_cas_at(s, r->off), s->exp_base, &m);
    }
    const uint8_t *key = r->item + m.hdr_len;
    uint64_t h = hash_of(m.db, key, m.klen);
    struct hash_ref ref;
    hash_lock_key(h);
    bool found = hash_find_locked(h, m.db, key, m.klen, &ref);
    bool vis = found && item_visible(&ref.m, now);
    storage_status_e st = cond_check(c, found, vis, &ref);
    if (st == STORAGE_OK && c->same_value && found &&
            (ref.m.type & ITEM_T_PARTS) && ref.m.vlen == m.vlen) {
        memcpy(r->item + m.hdr_len + m.klen,
                ref.item + ref.m.hdr_len + ref.m.klen, m.vlen);
    }
    if (st == STORAGE_OK) {
        /* a new version keeps the key's read frequency (as Redis keeps
         * the LFU counter on overwrite): merge eviction ranks keys, not
         * versions, and readers need not bump the counter up again */
        uint64_t nval = hash_entry(
                h, r->sid, r->off, vis ? hash_entry_freq(ref.val) : 0);
        if (found) {
            hash_swap_locked(h, &ref, nval);
            if (!vis) {
                INCR(seg_metrics, seg_expire_item);
            }
        } else if (!hash_insert_locked(h, m.db, nval)) {
            st = STORAGE_ENOMEM;
        }
        if (st == STORAGE_OK) {
            item_linked(r->sid, r->size, &m);
            INCR(seg_metrics, seg_write);
        }
    }
    hash_unlock_key(h);
    res_close(r);
    if (old != NULL && vis && st != RETRY) {
        ops_view_fill(old, &ref, false, now);
    }
    return st;
}

/* A typed item (or a part) carries no client flags and is never stale. */
static void
meta_for(struct item_meta *m, uint8_t db, size_t klen, size_t vlen,
        uint64_t expiry, const struct storage_write *w)
{
    memset(m, 0, sizeof(*m));
    m->db = db;
    m->klen = (uint32_t)klen;
    m->vlen = (uint32_t)vlen;
    m->expiry = expiry;
    m->type =
            (uint8_t)((w->type & ITEM_T_TYPE) | (w->parts ? ITEM_T_PARTS : 0) |
                      ((db & STORAGE_DB_PARTS) ? ITEM_T_PART : 0));
    if (m->type == 0) {
        m->cflags = w->cflags;
        m->flags = w->stale ? ITEM_F_STALE : 0;
    }
}

/* --- writes ------------------------------------------------------------- */

storage_status_e
ops_reserve(struct res *r, uint8_t db, const void *key, size_t klen,
        size_t vlen, const struct storage_write *w, uint64_t expiry,
        uint64_t now)
{
    if (vlen > heap.seg_size) {
        return STORAGE_EOVERSIZE;
    }
    struct item_meta m;
    meta_for(&m, db, klen, vlen, expiry, w);
    m.cas = w->new_cas;
    m.ecas = w->new_cas != 0;
    storage_status_e st = res_open(r, &m, w->win_sent ? ITEM_M_WIN : 0, now);
    if (st == STORAGE_OK) {
        memcpy(r->value - klen, key, klen);
    }
    return st;
}

/* KEEPTTL needs the current expiry, and the commit must see the same item. */
static void
keep_ttl_cond(uint8_t db, const void *key, size_t klen, uint64_t now,
        struct cond *c, uint64_t *expiry)
{
    struct hash_ref ref;
    c->expect = true;
    c->expect_val = 0;
    if (ops_lookup(db, key, klen, hash_of(db, key, klen), now, &ref)) {
        c->expect_val = ref.val;
        *expiry = ref.m.expiry;
    }
}

storage_status_e
storage_set(uint8_t db, const void *key, size_t klen, const void *value,
        size_t vlen, const struct storage_write *w, uint64_t now,
        struct storage_item *old, uint64_t *cas)
{
    storage_status_e st = ops_begin(db, klen, now);
    if (st != STORAGE_OK) {
        return st;
    }
    do {
        struct cond c = {.mode = w->mode, .cas = w->cas};
        uint64_t expiry = w->expiry;
        if (w->keep_ttl) {
            keep_ttl_cond(db, key, klen, now, &c, &expiry);
        }
        struct res r;
        st = ops_reserve(&r, db, key, klen, vlen, w, expiry, now);
        if (st != STORAGE_OK) {
            return st;
        }
        if (vlen > 0) {
            memcpy(r.value, value, vlen);
        }
        st = ops_commit(&r, &c, now, old);
        if (st == STORAGE_OK && cas != NULL) {
            *cas = r.cas;
        }
    } while (st == RETRY);
    return st;
}

struct res_priv {
    struct res r;
    uint64_t mode;
    uint64_t cas;
};

storage_status_e
storage_reserve(struct storage_reservation *sr, uint8_t db, const void *key,
        size_t klen, size_t vlen, const struct storage_write *w, uint64_t now)
{
    storage_status_e st = ops_begin(db, klen, now);
    if (st != STORAGE_OK) {
        return st;
    }
    struct res_priv p = {.mode = w->mode, .cas = w->cas};
    st = ops_reserve(&p.r, db, key, klen, vlen, w, w->expiry, now);
    if (st != STORAGE_OK) {
        return st;
    }
    memcpy(sr->priv, &p, sizeof(p));
    sr->value = p.r.value;
    sr->vlen = vlen;
    return STORAGE_OK;
}

storage_status_e
storage_commit(struct storage_reservation *sr, uint64_t now,
        struct storage_item *old, uint64_t *cas)
{
    struct res_priv p;
    memcpy(&p, sr->priv, sizeof(p));
    ASSERT(p.r.open);
    epoch_enter();
    ops_flush_check(now);
    struct cond c = {.mode = (storage_mode_e)p.mode, .cas = p.cas};
    storage_status_e st = ops_commit(&p.r, &c, now, old);
    if (st == STORAGE_OK && cas != NULL) {
        *cas = p.r.cas;
    }
    memcpy(sr->priv, &p, sizeof(p));
    sr->value = NULL;
    return st;
}

void
storage_abort(struct storage_reservation *sr)
{
    struct res_priv p;
    memcpy(&p, sr->priv, sizeof(p));
    res_close(&p.r);
    memcpy(sr->priv, &p, sizeof(p));
    sr->value = NULL;
}

/* --- in place ----------------------------------------------------------- */

storage_status_e
storage_patch(uint8_t db, const void *key, size_t klen, uint64_t cas,
        size_t off, const void *src, size_t n, uint64_t now)
{
    struct storage_patch_range r = {off, src, n};
    return storage_patch_many(db, key, klen, cas, &r, 1, now);
}

storage_status_e
storage_patch_many(uint8_t db, const void *key, size_t klen, uint64_t cas,
        const struct storage_patch_range *r, size_t nr, uint64_t now)
{
    storage_status_e st = ops_begin(db, klen, now);
    if (st != STORAGE_OK) {
        return st;
    }
    uint64_t h = hash_of(db, key, klen);
    struct hash_ref ref;
    hash_lock_key(h);
    if (!hash_find_locked(h, db, key, klen, &ref) ||
            !item_visible(&ref.m, now)) {
        st = STORAGE_NOT_FOUND;
    } else if (ref.m.cas != cas) {
        st = STORAGE_EXISTS;
    } else if (!(ref.m.type & ITEM_T_PARTS)) {
        st = STORAGE_EINVAL;
    } else {
        for (size_t i = 0; i < nr; i++) {
            if (r[i].off > ref.m.vlen || r[i].n > ref.m.vlen - r[i].off) {
                st = STORAGE_EINVAL;
            }
        }
        /* every copy of a root takes these locks (ops_commit's same_value,
         * hash_swap_location's recopy): none is taken while this writes */
        for (size_t i = 0; i < nr && st == STORAGE_OK; i++) {
            memcpy(ref.item + ref.m.hdr_len + ref.m.klen + r[i].off, r[i].src,
                    r[i].n);
            INCR(seg_metrics, seg_patch);
        }
    }
    hash_unlock_key(h);
    return st;
}

/* --- removal ------------------------------------------------------------ */

static storage_status_e
remove_item(uint8_t db, const void *key, size_t klen, uint64_t cas,
        uint64_t now, struct storage_item *it)
{
    storage_status_e st = ops_begin(db, klen, now);
    if (st != STORAGE_OK) {
        return st;
    }
    uint64_t h = hash_of(db, key, klen);
    struct hash_ref ref;
    hash_lock_key(h);
    bool found = hash_find_locked(h, db, key, klen, &ref);
    bool vis = found && item_visible(&ref.m, now);
    if (!vis) {
        st = STORAGE_NOT_FOUND;
        if (found && hash_swap_locked(h, &ref, 0)) {
            INCR(seg_metrics, seg_expire_item);
        }
    } else if (cas != 0 && ref.m.cas != cas) {
        INCR(seg_metrics, seg_cas_mismatch);
        st = STORAGE_EXISTS;
    } else {
        hash_swap_locked(h, &ref, 0);
        INCR(seg_metrics, seg_delete);
    }
    hash_unlock_key(h);
    if (it != NULL) {
        if (st == STORAGE_OK) {
            ops_view_fill(it, &ref, false, now);
        } else {
            ops_view_none(it);
        }
    }
    return st;
}

storage_status_e
storage_delete(
        uint8_t db, const void *key, size_t klen, uint64_t cas, uint64_t now)
{
    return remove_item(db, key, klen, cas, now, NULL);
}

storage_status_e
storage_getdel(uint8_t db, const void *key, size_t klen, uint64_t now,
        struct storage_item *it)
{
    return remove_item(db, key, klen, 0, now, it);
}

/* Deletes only the copy ref points at (read-modify-write paths). */
storage_status_e
ops_remove_expected(uint64_t h, const struct hash_ref *ref)
{
    storage_status_e st = RETRY;
    hash_lock_key(h);
    if (hash_swap_locked(h, ref, 0)) {
        st = STORAGE_OK;
        INCR(seg_metrics, seg_delete);
    }
    hash_unlock_key(h);
    return st;
}
