/* SPDX-License-Identifier: Apache-2.0 */
/* Read-modify-write operations of the storage API: touch, invalidate,
 * incr/decr, append/prepend, setrange, rename and copy. Each reads the
 * current copy, writes a new one and links it with ops_commit() only if the
 * old copy is still current, retrying otherwise. storage_update is the one
 * for string values whose new bytes the caller computes (the protocols'
 * number rules live in src/processor/).
 *
 * Lock order: hash bucket locks of one key only (seg_internal.h). */
#include "seg_internal.h"

#include "base/time.h"

#include <string.h>

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

typedef void (*fill_fn)(uint8_t *dst, const struct hash_ref *old, void *arg);

/* The value as it is (a new expiry, a stale mark). A root's is copied by
 * the commit instead, under the key's locks (cond.same_value). */
static void
fill_same(uint8_t *dst, const struct hash_ref *old, void *arg)
{
    (void)arg;
    if (!(old->m.type & ITEM_T_PARTS)) {
        memcpy(dst, old->item + old->m.hdr_len + old->m.klen, old->m.vlen);
    }
}

/* Writes a new copy of the item ref points at, with m's header and the
 * value built by fill(); links it only if the old copy is still current. */
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
    struct cond c = {.mode = STORAGE_SET,
            .expect = true,
            .expect_val = old->val,
            .same_value = fill == fill_same};
    st = ops_commit(&r, &c, now, NULL);
    if (out != NULL) {
        *out = r;
    }
    return st;
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
    item_decode(r->item, seg_cas_at(s, r->off), s->exp_base, &ref.m);
    ops_view_fill(it, &ref, false, now);
    item_touch_access(r->item, s, now);
}

storage_status_e
storage_touch(uint8_t db, const void *key, size_t klen, uint64_t expiry,
        storage_ttl_cond_e cond, uint64_t now, struct storage_item *it)
{
    storage_status_e st = ops_begin(db, klen, now);
    if (st != STORAGE_OK) {
        return st;
    }
    uint64_t h = hash_of(db, key, klen);
    do {
        struct hash_ref ref;
        ops_view_none(it);
        if (!ops_lookup(db, key, klen, h, now, &ref)) {
            return STORAGE_NOT_FOUND;
        }
        if (!ttl_cond_ok(cond, ref.m.expiry, expiry)) {
            return STORAGE_NOT_STORED;
        }
        if (time_expired(expiry, now)) {
            st = ops_remove_expected(h, &ref);
            continue;
        }
        if (ref.m.expiry == expiry) {
            if (it != NULL) {
                ops_view_fill(it, &ref, true, now);
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
    storage_status_e st = ops_begin(db, klen, now);
    if (st != STORAGE_OK) {
        return st;
    }
    uint64_t h = hash_of(db, key, klen);
    do {
        struct hash_ref ref;
        if (!ops_lookup(db, key, klen, h, now, &ref)) {
            return STORAGE_NOT_FOUND;
        }
        if (ref.m.type != 0) {
            return STORAGE_EWRONGTYPE;
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

/* --- update: the one string read-modify-write ------------------------- */

struct update_fill {
    uint8_t buf[STORAGE_UPDATE_MAX];
    size_t len;
};

static void
fill_update(uint8_t *dst, const struct hash_ref *old, void *arg)
{
    (void)old;
    const struct update_fill *uf = arg;
    memcpy(dst, uf->buf, uf->len);
}

static storage_status_e
create_value(uint8_t db, const void *key, size_t klen, const void *v1,
        size_t n1, size_t zeros, const void *v2, size_t n2, uint64_t now,
        uint64_t *cas)
{
    struct storage_write w = {0};
    struct res r;
    storage_status_e st =
            ops_reserve(&r, db, key, klen, n1 + zeros + n2, &w, 0, now);
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
    struct cond cd = {.mode = STORAGE_SET, .expect = true, .expect_val = 0};
    st = ops_commit(&r, &cd, now, NULL);
    if (st == STORAGE_OK && cas != NULL) {
        *cas = r.cas; /* as rewrite() reads it: set by the commit */
    }
    return st;
}

/* One round: the current copy read, fn's value written over it (or
 * created). RETRY when another writer came between. */
static storage_status_e
update_once(uint8_t db, const void *key, size_t klen, uint64_t h,
        storage_update_fn fn, void *arg, storage_missing_e missing,
        uint64_t expect, uint64_t now, uint64_t *cas)
{
    struct hash_ref ref;
    bool found = ops_lookup(db, key, klen, h, now, &ref);
    if (!found && (missing == STORAGE_MISSING_FAIL || expect != 0)) {
        return STORAGE_NOT_FOUND;
    }
    if (found && ref.m.type != 0) {
        return STORAGE_EWRONGTYPE;
    }
    if (found && expect != 0 && ref.m.cas != expect) {
        INCR(seg_metrics, seg_cas_mismatch);
        return STORAGE_EXISTS;
    }
    struct update_fill uf = {.len = 0};
    const uint8_t *ov = found ? ref.item + ref.m.hdr_len + ref.m.klen : NULL;
    storage_status_e st =
            fn(ov, found ? ref.m.vlen : 0, found, uf.buf, &uf.len, arg);
    if (st != STORAGE_OK) {
        return st;
    }
    if (uf.len > STORAGE_UPDATE_MAX) {
        return STORAGE_EOVERSIZE;
    }
    if (!found) {
        return create_value(
                db, key, klen, uf.buf, uf.len, 0, NULL, 0, now, cas);
    }
    struct item_meta m = ref.m;
    m.cas = 0;
    m.vlen = (uint32_t)uf.len;
    m.flags &= (uint8_t)~ITEM_F_STALE;
    struct res r;
    st = rewrite(h, key, &ref, &m, 0, fill_update, &uf, now, &r);
    if (st == STORAGE_OK && cas != NULL) {
        *cas = r.cas;
    }
    return st;
}

storage_status_e
storage_update(uint8_t db, const void *key, size_t klen, storage_update_fn fn,
        void *arg, storage_missing_e missing, uint64_t expect, uint64_t now,
        uint64_t *cas)
{
    storage_status_e st = ops_begin(db, klen, now);
    if (st != STORAGE_OK) {
        return st;
    }
    uint64_t h = hash_of(db, key, klen);
    do {
        st = update_once(db, key, klen, h, fn, arg, missing, expect, now, cas);
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
    storage_status_e st = ops_begin(db, klen, now);
    if (st != STORAGE_OK) {
        return st;
    }
    uint64_t h = hash_of(db, key, klen);
    do {
        struct hash_ref ref;
        if (!ops_lookup(db, key, klen, h, now, &ref)) {
            if (missing == STORAGE_MISSING_FAIL) {
                return STORAGE_NOT_STORED;
            }
            st = create_value(db, key, klen, data, len, 0, NULL, 0, now, NULL);
            if (st == STORAGE_OK && new_len != NULL) {
                *new_len = len;
            }
            continue;
        }
        if (ref.m.type != 0) {
            return STORAGE_EWRONGTYPE;
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
    storage_status_e st = ops_begin(db, klen, now);
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
        if (!ops_lookup(db, key, klen, h, now, &ref)) {
            if (len > 0) {
                st = create_value(
                        db, key, klen, "", 0, offset, data, len, now, NULL);
                out = offset + len;
            }
        } else if (ref.m.type != 0) {
            return STORAGE_EWRONGTYPE;
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
    storage_status_e st = ops_begin(sdb, slen, now);
    if (st != STORAGE_OK || (st = ops_begin(ddb, dlen, now)) != STORAGE_OK) {
        return st;
    }
    uint64_t h = hash_of(sdb, src, slen);
    do {
        struct hash_ref ref;
        if (!ops_lookup(sdb, src, slen, h, now, &ref)) {
            return STORAGE_NOT_FOUND;
        }
        if (ref.m.type & ITEM_T_PARTS) {
            return STORAGE_EWRONGTYPE; /* its parts are keyed by its name */
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
        st = ops_commit(&r, &c, now, NULL);
        if (st == STORAGE_EXISTS) {
            return STORAGE_NOT_STORED;
        }
        if (st == STORAGE_OK && move) {
            ops_remove_expected(h, &ref); /* a newer src stays */
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
