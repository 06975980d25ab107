/* SPDX-License-Identifier: Apache-2.0 */
/* Sorted sets in the keyspace (zcoll.h). */
#include "processor/zcoll.h"

#include "base/time.h"
#include "types/types.h"

#include <stdlib.h>
#include <string.h>

static bool
reserve(struct zset *z, size_t n)
{
    if (n <= z->cap) {
        return true;
    }
    size_t cap = z->cap < 16 ? 16 : z->cap;
    while (cap < n) {
        cap *= 2;
    }
    struct zpack_ent *e = realloc(z->e, cap * sizeof(*e));
    if (e == NULL) {
        return false;
    }
    z->e = e;
    z->cap = cap;
    return true;
}

coll_status_e
zset_open(struct zset *z, uint8_t db, const void *key, size_t klen, bool write,
        unsigned flags, uint64_t now)
{
    memset(z, 0, sizeof(*z));
    z->db = db;
    z->key = key;
    z->klen = klen;
    z->now = now;
    z->stripe = ks_stripe(db, key, klen);
    if (write && !(flags & COLL_LOCKED)) {
        ks_lock(z->stripe);
        z->locked = true;
    }
    struct storage_item it;
    ks_lookup_e l = ks_lookup(db, key, klen, STORAGE_TYPE_ZSET,
            flags & (KS_NOTOUCH | KS_NOSTATS), now, &it);
    if (l == KS_WRONGTYPE) {
        return COLL_WRONGTYPE;
    }
    if (l == KS_MISS || it.parts || it.vlen < 1 ||
            it.value[0] > ZSET_ENC_SKIPLIST) {
        return COLL_MISS;
    }
    z->enc = it.value[0];
    z->cas = it.cas;
    size_t n = zpack_count(it.value + 1, it.vlen - 1);
    if (!reserve(z, n + 1)) {
        return COLL_ENOMEM;
    }
    zpack_decode(it.value + 1, it.vlen - 1, z->e);
    z->n = n;
    z->exists = true;
    return COLL_OK;
}

void
zset_close(struct zset *z)
{
    if (z->locked) {
        ks_unlock(z->stripe);
        z->locked = false;
    }
    free(z->e);
    z->e = NULL;
    z->n = z->cap = 0;
}

long
zset_find(const struct zset *z, const void *m, size_t mlen)
{
    return zpack_find(z->e, z->n, m, mlen);
}

coll_status_e
zset_put(struct zset *z, const void *m, size_t mlen, double s)
{
    long i = zset_find(z, m, mlen);
    if (i >= 0) {
        if (z->e[i].score == s) {
            return COLL_OK;
        }
        zset_remove(z, (size_t)i, 1);
    }
    if (!reserve(z, z->n + 1)) {
        return COLL_ENOMEM;
    }
    size_t at = zpack_lower_bound(z->e, z->n, s, m, mlen);
    memmove(z->e + at + 1, z->e + at, (z->n - at) * sizeof(*z->e));
    z->e[at] = (struct zpack_ent){m, mlen, s};
    z->n++;
    z->dirty = true;
    return COLL_OK;
}

void
zset_remove(struct zset *z, size_t from, size_t count)
{
    if (count == 0) {
        return;
    }
    memmove(z->e + from, z->e + from + count,
            (z->n - from - count) * sizeof(*z->e));
    z->n -= count;
    z->dirty = true;
}

static bool
fits_listpack(const struct zpack_ent *e, size_t n)
{
    uint64_t entries = __atomic_load_n(
            &coll_limits.zset_max_listpack_entries, __ATOMIC_RELAXED);
    uint64_t value = __atomic_load_n(
            &coll_limits.zset_max_listpack_value, __ATOMIC_RELAXED);
    if (n > entries) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (e[i].mlen > value) {
            return false;
        }
    }
    return true;
}

/* Writes [enc][image of e] with w; the image is built in a fresh buffer
 * first (a store write ends the views it is made from). */
static coll_status_e
write_image(uint8_t db, const void *key, size_t klen, uint8_t enc,
        const struct zpack_ent *e, size_t n, struct storage_write *w,
        uint64_t now, struct storage_item *old)
{
    size_t len = 1 + zpack_size(e, n);
    if (len > storage_value_max(klen)) {
        return COLL_EOVERSIZE;
    }
    uint8_t *buf = malloc(len);
    if (buf == NULL) {
        return COLL_ENOMEM;
    }
    buf[0] = enc;
    zpack_write(buf + 1, e, n);
    w->type = STORAGE_TYPE_ZSET;
    storage_status_e st =
            storage_set(db, key, klen, buf, len, w, now, old, NULL);
    free(buf);
    return coll_status_of(st);
}

coll_status_e
zset_commit(struct zset *z)
{
    if (!z->dirty) {
        return COLL_OK;
    }
    if (z->n == 0) {
        if (z->exists) {
            storage_status_e st =
                    storage_delete(z->db, z->key, z->klen, z->cas, z->now);
            if (st == STORAGE_EXISTS) {
                return COLL_RETRY;
            }
        }
        z->dirty = false;
        return COLL_OK;
    }
    uint8_t enc = z->enc;
    if (!z->exists) {
        enc = fits_listpack(z->e, z->n) ? ZSET_ENC_LISTPACK : ZSET_ENC_SKIPLIST;
    } else if (enc == ZSET_ENC_LISTPACK && !fits_listpack(z->e, z->n)) {
        enc = ZSET_ENC_SKIPLIST;
    }
    struct storage_write w = {0};
    if (z->exists) {
        w.mode = STORAGE_CAS;
        w.cas = z->cas;
        w.keep_ttl = true;
    } else {
        w.mode = STORAGE_ADD;
    }
    coll_status_e st = write_image(
            z->db, z->key, z->klen, enc, z->e, z->n, &w, z->now, NULL);
    if (st == COLL_OK) {
        z->dirty = false;
    }
    return st;
}

coll_status_e
zset_store(uint8_t db, const void *key, size_t klen, const struct zpack_ent *e,
        size_t n, uint64_t now)
{
    if (n == 0) {
        ks_delete(db, key, klen, now);
        return COLL_OK;
    }
    struct storage_write w = {.mode = STORAGE_SET, .expiry = TIME_NEVER};
    struct storage_item old;
    coll_status_e st = write_image(db, key, klen,
            fits_listpack(e, n) ? ZSET_ENC_LISTPACK : ZSET_ENC_SKIPLIST, e, n,
            &w, now, &old);
    if (st == COLL_OK) {
        ks_drop_parts(db, &old, now);
    }
    return st;
}

const char *
zset_encoding_name(const struct storage_item *it)
{
    return it->vlen >= 1 && it->value[0] == ZSET_ENC_LISTPACK ? "listpack"
                                                              : "skiplist";
}
