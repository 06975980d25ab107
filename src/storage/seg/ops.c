/* SPDX-License-Identifier: Apache-2.0 */
/* The storage API (storage/storage.h) over segments and the hash table.
 *
 * Items never change after they are linked (two atomic access bytes
 * aside): every write, including touch, incr and append, writes a new copy
 * and links it with the one replace primitive, commit() below: under the
 * key's bucket locks, check the entry is still what the decision was based
 * on, swap, and account the old copy as dead. Read-modify-write operations
 * retry when another writer got there first.
 *
 * Lock order: hash bucket locks of one key only (seg_internal.h). */
#include "seg_internal.h"

#include "base/time.h"

#include <string.h>

#define RETRY ((storage_status_e)-1)

_Static_assert(sizeof(struct res) + 2 * sizeof(uint64_t) <=
                       sizeof(((struct storage_reservation *)0)->priv),
        "reservation private area too small");

/* --- accounting --------------------------------------------------------- */

void
item_linked(uint32_t sid, uint32_t size, uint8_t db)
{
    struct seg *s = &heap.segs[sid];
    __atomic_fetch_add(&s->live_items, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&s->live_bytes, (int32_t)size, __ATOMIC_RELAXED);
    __atomic_fetch_add(&heap.count[db], 1, __ATOMIC_RELAXED);
    INCR(seg_metrics, seg_item_curr);
    INCR_N(seg_metrics, seg_item_bytes, size);
}

void
item_unlinked(uint32_t sid, uint32_t size, uint8_t db)
{
    struct seg *s = &heap.segs[sid];
    __atomic_fetch_sub(&s->live_items, 1, __ATOMIC_RELAXED);
    __atomic_fetch_sub(&s->live_bytes, (int32_t)size, __ATOMIC_RELAXED);
    __atomic_fetch_sub(&heap.count[db], 1, __ATOMIC_RELAXED);
    DECR(seg_metrics, seg_item_curr);
    DECR_N(seg_metrics, seg_item_bytes, size);
}

bool
item_visible(const struct item_meta *m, uint64_t now)
{
    return !time_expired(m->expiry, now) &&
           m->cas >= __atomic_load_n(&heap.flush_cas[m->db], __ATOMIC_ACQUIRE);
}

/* --- flush -------------------------------------------------------------- */

static uint8_t flush_lock;

static bool
flushed(const struct item_meta *m, void *arg)
{
    const uint16_t *mask = arg;
    return (*mask & (1u << m->db)) != 0 &&
           m->cas < __atomic_load_n(&heap.flush_cas[m->db], __ATOMIC_ACQUIRE);
}

/* Items of the databases in mask with a CAS below the threshold are
 * invisible at once; the table walk then unlinks them so counts and
 * segments come back. */
static void
flush_apply(uint16_t mask)
{
    uint64_t threshold =
            __atomic_add_fetch(&heap.cas_next, 1, __ATOMIC_SEQ_CST);
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

static inline void
flush_check(uint64_t now)
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
    flush_check(now); /* a pending flush that is due happens first */
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

static storage_status_e
op_begin(uint8_t db, size_t klen, uint64_t now)
{
    if (db >= STORAGE_DB_COUNT || klen == 0 || klen > STORAGE_KEY_MAX) {
        return STORAGE_EINVAL;
    }
    epoch_enter();
    flush_check(now);
    return STORAGE_OK;
}

/* Fills the view with the item as it was before this access, then records
 * the access if asked. */
static void
view_fill(struct storage_item *it, const struct hash_ref *ref, bool record,
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

static void
view_none(struct storage_item *it)
{
    if (it != NULL) {
        memset(it, 0, sizeof(*it));
    }
}

/* Removes an entry found expired or flushed, if it is still there. */
static void
drop_invisible(uint64_t h, const struct hash_ref *ref)
{
    hash_lock_key(h);
    if (hash_swap_locked(h, ref, 0)) {
        INCR(seg_metrics, seg_expire_item);
    }
    hash_unlock_key(h);
}

/* A live item of (db, key): true fills ref. Drops what it finds dead. */
static bool
lookup(uint8_t db, const void *key, size_t klen, uint64_t h, uint64_t now,
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
    storage_status_e st = op_begin(db, klen, now);
    if (st != STORAGE_OK) {
        return st;
    }
    struct hash_ref ref;
    INCR(seg_metrics, seg_get);
    if (!lookup(db, key, klen, hash_of(db, key, klen), now, &ref)) {
        INCR(seg_metrics, seg_get_miss);
        view_none(it);
        return STORAGE_NOT_FOUND;
    }
    INCR(seg_metrics, seg_get_hit);
    view_fill(it, &ref, record, now);
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

bool
storage_item_claim_win(const struct storage_item *it)
{
    uint8_t *item = it->priv;
    uint8_t prev = __atomic_fetch_or(item + 1, ITEM_M_WIN, __ATOMIC_RELAXED);
    return (prev & ITEM_M_WIN) == 0;
}

void
storage_value_range(const struct storage_item *it, int64_t start, int64_t end,
        const uint8_t **value, size_t *len)
{
    int64_t n = (int64_t)it->vlen;
    *value = it->value;
    *len = 0;
    if (n == 0 || (start < 0 && end < 0 && start > end)) {
        return;
    }
    start = start < 0 ? n + start : start;
    end = end < 0 ? n + end : end;
    start = start < 0 ? 0 : start;
    end = end < 0 ? 0 : end;
    end = end >= n ? n - 1 : end;
    if (start > end) {
        return;
    }
    *value = it->value + start;
    *len = (size_t)(end - start + 1);
}

/* --- the replace primitive ---------------------------------------------- */

struct cond {
    storage_mode_e mode;
    uint64_t cas;        /* STORAGE_CAS */
    bool expect;         /* read-modify-write: the entry must still be ... */
    uint64_t expect_val; /* ... this one (0: no live item) */
};

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

/* A reservation whose CAS a flush has passed would be invisible once
 * linked: copy it to a fresh one with a new CAS (rare). */
static storage_status_e
res_refresh(struct res *r, uint64_t now)
{
    struct item_meta m;
    const struct seg *s = &heap.segs[r->sid];
    item_decode(r->item, s->cas_base, s->exp_base, &m);
    m.cas = 0;
    struct res nr;
    storage_status_e st = res_open(&nr, &m, item_mflags(r->item), now);
    if (st != STORAGE_OK) {
        return st;
    }
    memcpy(nr.item + m.hdr_len, r->item + m.hdr_len, (size_t)m.klen + m.vlen);
    res_close(r);
    *r = nr;
    return STORAGE_OK;
}

static storage_status_e
commit(struct res *r, const struct cond *c, uint64_t now,
        struct storage_item *old)
{
    view_none(old);
    struct item_meta m;
    const struct seg *s = &heap.segs[r->sid];
    item_decode(r->item, s->cas_base, s->exp_base, &m);
    if (r->cas < __atomic_load_n(&heap.flush_cas[m.db], __ATOMIC_ACQUIRE)) {
        storage_status_e st = res_refresh(r, now);
        if (st != STORAGE_OK) {
            res_close(r);
            return st;
        }
        s = &heap.segs[r->sid];
        item_decode(r->item, s->cas_base, s->exp_base, &m);
    }
    const uint8_t *key = r->item + m.hdr_len;
    uint64_t h = hash_of(m.db, key, m.klen);
    struct hash_ref ref;
    hash_lock_key(h);
    bool found = hash_find_locked(h, m.db, key, m.klen, &ref);
    bool vis = found && item_visible(&ref.m, now);
    storage_status_e st = cond_check(c, found, vis, &ref);
    if (st == STORAGE_OK) {
        uint64_t nval = hash_entry(h, r->sid, r->off, 0);
        if (found) {
            hash_swap_locked(h, &ref, nval);
            if (!vis) {
                INCR(seg_metrics, seg_expire_item);
            }
        } else if (!hash_insert_locked(h, nval)) {
            st = STORAGE_ENOMEM;
        }
        if (st == STORAGE_OK) {
            item_linked(r->sid, r->size, m.db);
            INCR(seg_metrics, seg_write);
        }
    }
    hash_unlock_key(h);
    res_close(r);
    if (old != NULL && vis && st != RETRY) {
        view_fill(old, &ref, false, now);
    }
    return st;
}

static void
meta_for(struct item_meta *m, uint8_t db, size_t klen, size_t vlen,
        uint64_t expiry, uint32_t cflags, bool stale)
{
    memset(m, 0, sizeof(*m));
    m->db = db;
    m->klen = (uint32_t)klen;
    m->vlen = (uint32_t)vlen;
    m->expiry = expiry;
    m->cflags = cflags;
    m->flags = stale ? ITEM_F_STALE : 0;
}

/* --- writes ------------------------------------------------------------- */

static storage_status_e
reserve_for(struct res *r, uint8_t db, const void *key, size_t klen,
        size_t vlen, const struct storage_write *w, uint64_t expiry,
        uint64_t now)
{
    if (vlen > heap.seg_size) {
        return STORAGE_EOVERSIZE;
    }
    struct item_meta m;
    meta_for(&m, db, klen, vlen, expiry, w->cflags, w->stale);
    m.cas = w->new_cas;
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
    if (lookup(db, key, klen, hash_of(db, key, klen), now, &ref)) {
        c->expect_val = ref.val;
        *expiry = ref.m.expiry;
    }
}

storage_status_e
storage_set(uint8_t db, const void *key, size_t klen, const void *value,
        size_t vlen, const struct storage_write *w, uint64_t now,
        struct storage_item *old, uint64_t *cas)
{
    storage_status_e st = op_begin(db, klen, now);
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
        st = reserve_for(&r, db, key, klen, vlen, w, expiry, now);
        if (st != STORAGE_OK) {
            return st;
        }
        if (vlen > 0) {
            memcpy(r.value, value, vlen);
        }
        st = commit(&r, &c, now, old);
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
    storage_status_e st = op_begin(db, klen, now);
    if (st != STORAGE_OK) {
        return st;
    }
    struct res_priv p = {.mode = w->mode, .cas = w->cas};
    st = reserve_for(&p.r, db, key, klen, vlen, w, w->expiry, now);
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
    flush_check(now);
    struct cond c = {.mode = (storage_mode_e)p.mode, .cas = p.cas};
    storage_status_e st = commit(&p.r, &c, now, old);
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

/* --- removal ------------------------------------------------------------ */

static storage_status_e
remove_item(uint8_t db, const void *key, size_t klen, uint64_t cas,
        uint64_t now, struct storage_item *it)
{
    storage_status_e st = op_begin(db, klen, now);
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
            view_fill(it, &ref, false, now);
        } else {
            view_none(it);
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
static storage_status_e
remove_expected(uint64_t h, const struct hash_ref *ref)
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

/* --- read-modify-write -------------------------------------------------- */

/* After res_open (which may have waited, offline), is the old copy still
 * linked in the same incarnation of its segment? Then its bytes are valid
 * to copy from until this thread's next quiescent point. */
static bool
still_current(uint64_t h, uint8_t db, const void *key, size_t klen,
        const struct hash_ref *old, uint32_t gen)
{
    struct hash_ref ref;
    return hash_find(h, db, key, klen, &ref) &&
           hash_same_entry(ref.val, old->val) &&
           __atomic_load_n(&heap.segs[old->sid].gen, __ATOMIC_ACQUIRE) == gen;
}

/* Writes a new copy of the item ref points at, with m's header and the
 * value built by fill(); links it only if the old copy is still current. */
typedef void (*fill_fn)(uint8_t *dst, const struct hash_ref *old, void *arg);

static storage_status_e
rewrite(uint64_t h, const void *key, const struct hash_ref *old,
        const struct item_meta *m, uint8_t mflags, fill_fn fill, void *arg,
        uint64_t now, struct res *out)
{
    uint32_t gen = __atomic_load_n(&heap.segs[old->sid].gen, __ATOMIC_ACQUIRE);
    struct res r;
    storage_status_e st = res_open(&r, m, mflags, now);
    if (st != STORAGE_OK) {
        return st;
    }
    memcpy(r.value - m->klen, key, m->klen);
    if (!still_current(h, m->db, key, m->klen, old, gen)) {
        res_close(&r);
        return RETRY;
    }
    fill(r.value, old, arg);
    struct cond c = {
            .mode = STORAGE_SET, .expect = true, .expect_val = old->val};
    st = commit(&r, &c, now, NULL);
    if (out != NULL) {
        *out = r;
    }
    return st;
}

static void
fill_same(uint8_t *dst, const struct hash_ref *old, void *arg)
{
    (void)arg;
    memcpy(dst, old->item + old->m.hdr_len + old->m.klen, old->m.vlen);
}

static bool
ttl_cond_ok(storage_ttl_cond_e cond, uint64_t cur, uint64_t expiry)
{
    switch (cond) {
    case STORAGE_TTL_NX:
        return cur == 0;
    case STORAGE_TTL_XX:
        return cur != 0;
    case STORAGE_TTL_GT:
        return cur != 0 && (expiry == 0 || expiry > cur);
    case STORAGE_TTL_LT:
        return expiry != 0 && (cur == 0 || expiry < cur);
    default:
        return true;
    }
}

/* A view of a copy just linked by this thread. */
static void
view_of_res(struct storage_item *it, const struct res *r, uint64_t now)
{
    struct hash_ref ref = {.sid = r->sid, .off = r->off, .item = r->item};
    const struct seg *s = &heap.segs[r->sid];
    item_decode(r->item, s->cas_base, s->exp_base, &ref.m);
    view_fill(it, &ref, false, now);
    item_touch_access(r->item, s, now);
}

storage_status_e
storage_touch(uint8_t db, const void *key, size_t klen, uint64_t expiry,
        storage_ttl_cond_e cond, uint64_t now, struct storage_item *it)
{
    storage_status_e st = op_begin(db, klen, now);
    if (st != STORAGE_OK) {
        return st;
    }
    uint64_t h = hash_of(db, key, klen);
    do {
        struct hash_ref ref;
        view_none(it);
        if (!lookup(db, key, klen, h, now, &ref)) {
            return STORAGE_NOT_FOUND;
        }
        if (!ttl_cond_ok(cond, ref.m.expiry, expiry)) {
            return STORAGE_NOT_STORED;
        }
        if (time_expired(expiry, now)) {
            st = remove_expected(h, &ref);
            continue;
        }
        if (ref.m.expiry == expiry) {
            if (it != NULL) {
                view_fill(it, &ref, true, now);
            }
            return STORAGE_OK;
        }
        struct item_meta m = ref.m;
        m.expiry = expiry;
        struct res r;
        st = rewrite(h, key, &ref, &m, item_mflags(ref.item), fill_same, NULL,
                now, &r);
        if (st == STORAGE_OK && it != NULL) {
            view_of_res(it, &r, now);
        }
    } while (st == RETRY);
    return st;
}

storage_status_e
storage_invalidate(
        uint8_t db, const void *key, size_t klen, uint64_t expiry, uint64_t now)
{
    storage_status_e st = op_begin(db, klen, now);
    if (st != STORAGE_OK) {
        return st;
    }
    uint64_t h = hash_of(db, key, klen);
    do {
        struct hash_ref ref;
        if (!lookup(db, key, klen, h, now, &ref)) {
            return STORAGE_NOT_FOUND;
        }
        struct item_meta m = ref.m;
        m.cas = 0;
        m.flags |= ITEM_F_STALE;
        if (expiry != STORAGE_EXPIRY_KEEP) {
            m.expiry = expiry;
        }
        st = rewrite(h, key, &ref, &m,
                item_mflags(ref.item) & (uint8_t)~ITEM_M_WIN, fill_same, NULL,
                now, NULL);
    } while (st == RETRY);
    return st;
}

/* --- numbers ------------------------------------------------------------ */

static bool
parse_u64(const uint8_t *p, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0 || n > 20) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return false;
        }
        uint64_t d = (uint64_t)(p[i] - '0');
        if (v > (UINT64_MAX - d) / 10) {
            return false;
        }
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* Redis's string2ll: optional '-', no leading zeros, no spaces, int64. */
static bool
parse_i64(const uint8_t *p, size_t n, int64_t *out)
{
    bool neg = n > 0 && p[0] == '-';
    size_t i = neg ? 1 : 0;
    uint64_t v;
    if (n == 1 && p[0] == '0') {
        *out = 0;
        return true;
    }
    if (i >= n || p[i] == '0' || !parse_u64(p + i, n - i, &v)) {
        return false;
    }
    if (neg ? v > (uint64_t)INT64_MAX + 1 : v > (uint64_t)INT64_MAX) {
        return false;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

static size_t
format_u64(uint8_t *buf, uint64_t v)
{
    uint8_t tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (uint8_t)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (size_t i = 0; i < n; i++) {
        buf[i] = tmp[n - 1 - i];
    }
    return n;
}

static size_t
format_i64(uint8_t *buf, int64_t v)
{
    if (v < 0) {
        buf[0] = '-';
        return 1 + format_u64(buf + 1, 0 - (uint64_t)v);
    }
    return format_u64(buf, (uint64_t)v);
}

struct num_fill {
    uint8_t buf[24];
    size_t len;
};

static void
fill_num(uint8_t *dst, const struct hash_ref *old, void *arg)
{
    (void)old;
    struct num_fill *nf = arg;
    memcpy(dst, nf->buf, nf->len);
}

storage_status_e
storage_incr_unsigned(uint8_t db, const void *key, size_t klen, uint64_t delta,
        storage_incr_e dir, uint64_t now, uint64_t *value, uint64_t *cas)
{
    return storage_incr_unsigned_cas(
            db, key, klen, delta, dir, 0, now, value, cas);
}

storage_status_e
storage_incr_unsigned_cas(uint8_t db, const void *key, size_t klen,
        uint64_t delta, storage_incr_e dir, uint64_t expect, uint64_t now,
        uint64_t *value, uint64_t *cas)
{
    storage_status_e st = op_begin(db, klen, now);
    if (st != STORAGE_OK) {
        return st;
    }
    uint64_t h = hash_of(db, key, klen);
    do {
        struct hash_ref ref;
        uint64_t v;
        if (!lookup(db, key, klen, h, now, &ref)) {
            return STORAGE_NOT_FOUND;
        }
        if (expect != 0 && ref.m.cas != expect) {
            INCR(seg_metrics, seg_cas_mismatch);
            return STORAGE_EXISTS;
        }
        if (!parse_u64(ref.item + ref.m.hdr_len + ref.m.klen, ref.m.vlen, &v)) {
            return STORAGE_ENAN;
        }
        if (dir == STORAGE_INCR) {
            v += delta; /* wraps at 2^64, as memcached */
        } else {
            v = v > delta ? v - delta : 0;
        }
        struct num_fill nf;
        nf.len = format_u64(nf.buf, v);
        struct item_meta m = ref.m;
        m.cas = 0;
        m.vlen = (uint32_t)nf.len;
        m.flags &= (uint8_t)~ITEM_F_STALE;
        struct res r;
        st = rewrite(h, key, &ref, &m, 0, fill_num, &nf, now, &r);
        if (st == STORAGE_OK) {
            if (value != NULL) {
                *value = v;
            }
            if (cas != NULL) {
                *cas = r.cas;
            }
        }
    } while (st == RETRY);
    return st;
}

static storage_status_e
create_value(uint8_t db, const void *key, size_t klen, const void *v1,
        size_t n1, size_t zeros, const void *v2, size_t n2, uint64_t now)
{
    struct storage_write w = {0};
    struct res r;
    storage_status_e st =
            reserve_for(&r, db, key, klen, n1 + zeros + n2, &w, 0, now);
    if (st != STORAGE_OK) {
        return st;
    }
    if (n1 > 0) {
        memcpy(r.value, v1, n1);
    }
    memset(r.value + n1, 0, zeros);
    if (n2 > 0) {
        memcpy(r.value + n1 + zeros, v2, n2);
    }
    struct cond c = {.mode = STORAGE_SET, .expect = true, .expect_val = 0};
    return commit(&r, &c, now, NULL);
}

storage_status_e
storage_incr_signed(uint8_t db, const void *key, size_t klen, int64_t delta,
        uint64_t now, int64_t *value)
{
    storage_status_e st = op_begin(db, klen, now);
    if (st != STORAGE_OK) {
        return st;
    }
    uint64_t h = hash_of(db, key, klen);
    do {
        struct hash_ref ref;
        int64_t v = 0;
        bool found = lookup(db, key, klen, h, now, &ref);
        if (found && !parse_i64(ref.item + ref.m.hdr_len + ref.m.klen,
                             ref.m.vlen, &v)) {
            return STORAGE_ENAN;
        }
        if (__builtin_add_overflow(v, delta, &v)) {
            return STORAGE_EOVERFLOW;
        }
        struct num_fill nf;
        nf.len = format_i64(nf.buf, v);
        if (!found) {
            st = create_value(db, key, klen, nf.buf, nf.len, 0, NULL, 0, now);
        } else {
            struct item_meta m = ref.m;
            m.cas = 0;
            m.vlen = (uint32_t)nf.len;
            m.flags &= (uint8_t)~ITEM_F_STALE;
            st = rewrite(h, key, &ref, &m, 0, fill_num, &nf, now, NULL);
        }
        if (st == STORAGE_OK && value != NULL) {
            *value = v;
        }
    } while (st == RETRY);
    return st;
}

/* --- append, prepend, setrange ------------------------------------------ */

struct splice {
    const uint8_t *data;
    size_t len;
    size_t offset; /* where data goes in the new value */
    size_t vlen;   /* new value length */
    bool prepend;  /* data, then the whole old value */
};

static void
fill_splice(uint8_t *dst, const struct hash_ref *old, void *arg)
{
    const struct splice *sp = arg;
    const uint8_t *ov = old->item + old->m.hdr_len + old->m.klen;
    size_t olen = old->m.vlen;
    if (sp->prepend) {
        memcpy(dst, sp->data, sp->len);
        memcpy(dst + sp->len, ov, olen);
        return;
    }
    memcpy(dst, ov, olen < sp->vlen ? olen : sp->vlen);
    if (sp->offset > olen) {
        memset(dst + olen, 0, sp->offset - olen);
    }
    memcpy(dst + sp->offset, sp->data, sp->len);
}

static storage_status_e
splice_existing(uint64_t h, const void *key, const struct hash_ref *ref,
        const struct splice *sp, uint64_t now, uint64_t *new_cas)
{
    if (sp->vlen + ITEM_HDR_MAX + ref->m.klen > heap.seg_size) {
        return STORAGE_EOVERSIZE;
    }
    struct item_meta m = ref->m;
    m.cas = 0;
    m.vlen = (uint32_t)sp->vlen;
    m.flags &= (uint8_t)~ITEM_F_STALE;
    struct res r;
    storage_status_e st =
            rewrite(h, key, ref, &m, 0, fill_splice, (void *)sp, now, &r);
    if (st == STORAGE_OK && new_cas != NULL) {
        *new_cas = r.cas;
    }
    return st;
}

storage_status_e
storage_append(uint8_t db, const void *key, size_t klen, const void *data,
        size_t len, storage_side_e side, storage_missing_e missing,
        uint64_t cas, uint64_t now, size_t *new_len, uint64_t *new_cas)
{
    storage_status_e st = op_begin(db, klen, now);
    if (st != STORAGE_OK) {
        return st;
    }
    uint64_t h = hash_of(db, key, klen);
    do {
        struct hash_ref ref;
        if (!lookup(db, key, klen, h, now, &ref)) {
            if (missing == STORAGE_MISSING_FAIL) {
                return STORAGE_NOT_STORED;
            }
            st = create_value(db, key, klen, data, len, 0, NULL, 0, now);
            if (st == STORAGE_OK && new_len != NULL) {
                *new_len = len;
            }
            continue;
        }
        if (cas != 0 && ref.m.cas != cas) {
            INCR(seg_metrics, seg_cas_mismatch);
            return STORAGE_EXISTS;
        }
        size_t olen = ref.m.vlen;
        if (len > heap.seg_size) {
            return STORAGE_EOVERSIZE;
        }
        struct splice sp = {data, len, side == STORAGE_APPEND ? olen : 0,
                olen + len, side == STORAGE_PREPEND};
        st = splice_existing(h, key, &ref, &sp, now, new_cas);
        if (st == STORAGE_OK && new_len != NULL) {
            *new_len = sp.vlen;
        }
    } while (st == RETRY);
    return st;
}

storage_status_e
storage_setrange(uint8_t db, const void *key, size_t klen, size_t offset,
        const void *data, size_t len, uint64_t now, size_t *new_len)
{
    storage_status_e st = op_begin(db, klen, now);
    if (st != STORAGE_OK) {
        return st;
    }
    if (offset > heap.seg_size || len > heap.seg_size) {
        return STORAGE_EOVERSIZE;
    }
    uint64_t h = hash_of(db, key, klen);
    do {
        struct hash_ref ref;
        size_t out = 0;
        if (!lookup(db, key, klen, h, now, &ref)) {
            if (len > 0) {
                st = create_value(db, key, klen, "", 0, offset, data, len, now);
                out = offset + len;
            }
        } else if (len == 0) {
            out = ref.m.vlen;
        } else {
            size_t end = offset + len;
            struct splice sp = {data, len, offset,
                    end > ref.m.vlen ? end : ref.m.vlen, false};
            st = splice_existing(h, key, &ref, &sp, now, NULL);
            out = sp.vlen;
        }
        if (st == STORAGE_OK && new_len != NULL) {
            *new_len = out;
        }
    } while (st == RETRY);
    return st;
}

/* --- rename and copy ---------------------------------------------------- */

static storage_status_e
copy_item(uint8_t sdb, const void *src, size_t slen, uint8_t ddb,
        const void *dst, size_t dlen, storage_overwrite_e ow, bool move,
        uint64_t now)
{
    storage_status_e st = op_begin(sdb, slen, now);
    if (st != STORAGE_OK || (st = op_begin(ddb, dlen, now)) != STORAGE_OK) {
        return st;
    }
    uint64_t h = hash_of(sdb, src, slen);
    do {
        struct hash_ref ref;
        if (!lookup(sdb, src, slen, h, now, &ref)) {
            return STORAGE_NOT_FOUND;
        }
        uint32_t gen =
                __atomic_load_n(&heap.segs[ref.sid].gen, __ATOMIC_ACQUIRE);
        struct item_meta m = ref.m;
        m.cas = 0;
        m.db = ddb;
        m.klen = (uint32_t)dlen;
        m.flags &= (uint8_t)~ITEM_F_STALE;
        struct res r;
        if ((st = res_open(&r, &m, 0, now)) != STORAGE_OK) {
            return st;
        }
        memcpy(r.value - dlen, dst, dlen);
        if (!still_current(h, sdb, src, slen, &ref, gen)) {
            res_close(&r);
            st = RETRY;
            continue;
        }
        memcpy(r.value, ref.item + ref.m.hdr_len + ref.m.klen, ref.m.vlen);
        struct cond c = {
                .mode = ow == STORAGE_OVERWRITE ? STORAGE_SET : STORAGE_ADD};
        st = commit(&r, &c, now, NULL);
        if (st == STORAGE_EXISTS) {
            return STORAGE_NOT_STORED;
        }
        if (st == STORAGE_OK && move) {
            remove_expected(h, &ref); /* a newer src stays */
        }
    } while (st == RETRY);
    return st;
}

storage_status_e
storage_rename(uint8_t db, const void *src, size_t slen, const void *dst,
        size_t dlen, storage_overwrite_e ow, uint64_t now)
{
    if (slen == dlen && memcmp(src, dst, slen) == 0) {
        struct storage_item it;
        storage_status_e st = storage_peek(db, src, slen, now, &it);
        if (st != STORAGE_OK) {
            return st;
        }
        return ow == STORAGE_NO_OVERWRITE ? STORAGE_NOT_STORED : STORAGE_OK;
    }
    return copy_item(db, src, slen, db, dst, dlen, ow, true, now);
}

storage_status_e
storage_copy(uint8_t src_db, const void *src, size_t slen, uint8_t dst_db,
        const void *dst, size_t dlen, storage_overwrite_e ow, uint64_t now)
{
    if (src_db == dst_db && slen == dlen && memcmp(src, dst, slen) == 0) {
        return STORAGE_EINVAL;
    }
    return copy_item(src_db, src, slen, dst_db, dst, dlen, ow, false, now);
}

/* --- whole-table reads -------------------------------------------------- */

struct walk {
    uint8_t db;
    uint64_t now;
    storage_scan_fn cb;
    void *arg;
    struct storage_item *first; /* random key: stop at the first */
    bool found;
};

static void
walk_visit(uint64_t v, void *arg)
{
    struct walk *wk = arg;
    if (wk->found) {
        return;
    }
    struct hash_ref ref = {
            .val = v, .sid = hash_val_sid(v), .off = hash_val_off(v)};
    const struct seg *s = &heap.segs[ref.sid];
    ref.item = seg_data(ref.sid) + ref.off;
    if (!item_decode(ref.item, s->cas_base, s->exp_base, &ref.m) ||
            ref.m.db != wk->db || !item_visible(&ref.m, wk->now)) {
        return;
    }
    if (wk->first != NULL) {
        view_fill(wk->first, &ref, false, wk->now);
        wk->found = true;
        return;
    }
    struct storage_item it;
    view_fill(&it, &ref, false, wk->now);
    wk->cb(&it, wk->arg);
}

uint64_t
storage_scan(uint8_t db, uint64_t cursor, size_t count, uint64_t now,
        storage_scan_fn cb, void *arg)
{
    if (db >= STORAGE_DB_COUNT || cursor >= heap.n_bucket) {
        return 0;
    }
    epoch_enter();
    flush_check(now);
    struct walk wk = {.db = db, .now = now, .cb = cb, .arg = arg};
    uint64_t b = cursor;
    size_t slots = 0;
    do {
        hash_visit_bucket((uint32_t)b, walk_visit, &wk);
        slots += HASH_SLOTS;
        b++;
    } while (b < heap.n_bucket && slots < count);
    return b >= heap.n_bucket ? 0 : b;
}

storage_status_e
storage_random_key(uint8_t db, uint64_t now, struct storage_item *it)
{
    if (db >= STORAGE_DB_COUNT) {
        return STORAGE_EINVAL;
    }
    epoch_enter();
    flush_check(now);
    view_none(it);
    if (storage_count(db) == 0) {
        return STORAGE_NOT_FOUND;
    }
    struct walk wk = {.db = db, .now = now, .first = it};
    uint32_t start = (uint32_t)(seg_rand() % heap.n_bucket);
    for (uint32_t i = 0; i < heap.n_bucket && !wk.found; i++) {
        hash_visit_bucket((start + i) % heap.n_bucket, walk_visit, &wk);
    }
    return wk.found ? STORAGE_OK : STORAGE_NOT_FOUND;
}

uint64_t
storage_count(uint8_t db)
{
    if (db >= STORAGE_DB_COUNT) {
        return 0;
    }
    int64_t n = __atomic_load_n(&heap.count[db], __ATOMIC_RELAXED);
    return n > 0 ? (uint64_t)n : 0;
}

size_t
storage_item_size_max(void)
{
    return heap.seg_size - ITEM_HDR_MAX;
}

size_t
storage_value_max(size_t klen)
{
    size_t max = storage_item_size_max();
    return klen >= max ? 0 : max - klen;
}

void
storage_maintain(uint64_t now)
{
    flush_check(now);
    for (uint32_t i = 0; i < heap.n_seg && seg_expire_one(now); i++) {
    }
    seg_reclaim();
    for (uint32_t i = 0;
            i < heap.n_seg * 2 && heap.evict != EVICT_NONE &&
            __atomic_load_n(&heap.n_free, __ATOMIC_RELAXED) < heap.reserve;
            i++) {
        if (!evict_run(now)) {
            break;
        }
        seg_reclaim();
    }
    seg_gauges();
}

const char *
storage_status_str(storage_status_e status)
{
    switch (status) {
    case STORAGE_OK:
        return "STORAGE_OK";
    case STORAGE_NOT_FOUND:
        return "STORAGE_NOT_FOUND";
    case STORAGE_EXISTS:
        return "STORAGE_EXISTS";
    case STORAGE_NOT_STORED:
        return "STORAGE_NOT_STORED";
    case STORAGE_ENOMEM:
        return "STORAGE_ENOMEM";
    case STORAGE_EOVERSIZE:
        return "STORAGE_EOVERSIZE";
    case STORAGE_ENAN:
        return "STORAGE_ENAN";
    case STORAGE_EOVERFLOW:
        return "STORAGE_EOVERFLOW";
    case STORAGE_EINVAL:
        return "STORAGE_EINVAL";
    }
    return "STORAGE_?";
}
