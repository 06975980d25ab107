/* SPDX-License-Identifier: Apache-2.0 */
/* Collections in the keyspace (coll.h). */
#include "processor/coll.h"
#include "processor/zcoll.h"

#include "base/time.h"
#include "base/util.h"
#include "types/hashpack.h"
#include "types/intset.h"
#include "types/ipack.h"
#include "types/lhash.h"
#include "types/types.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct coll_limits coll_limits = {512, 64, 512, 128, 64}; /* Redis 7.0.15 */

static uint64_t
limit(const uint64_t *v)
{
    return __atomic_load_n(v, __ATOMIC_RELAXED);
}

/* ---- per-thread scratch ------------------------------------------------ */

/* Images are built in the thread's scratch, since a store write ends every
 * view (storage.h) and a collection's new image is made from its old one.
 * Byte 0 of each buffer is left free for the enc byte of an inline value,
 * so a root is written from scratch without another copy. Grown on demand,
 * freed when the thread exits. */
#define NSCRATCH 8 /* 0, 1, 2: coll.c's images; 3-7 zcoll.c's edits */
struct scratch {
    uint8_t *p[NSCRATCH];
    size_t cap[NSCRATCH];
};

static pthread_key_t scratch_key; /* frees a thread's scratch at its exit */
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static _Thread_local struct scratch *scratch_mine; /* the key's value */

static void
scratch_free(void *arg)
{
    struct scratch *s = arg;
    for (int i = 0; i < NSCRATCH; i++) {
        free(s->p[i]);
    }
    free(s);
    scratch_mine = NULL; /* a later call in this exiting thread starts anew */
}

static void
scratch_init(void)
{
    pthread_key_create(&scratch_key, scratch_free);
}

uint8_t *
coll_scratch(int i, size_t n)
{
    struct scratch *s = scratch_mine;
    if (s == NULL) {
        pthread_once(&scratch_once, scratch_init);
        s = calloc(1, sizeof(*s));
        if (s == NULL || pthread_setspecific(scratch_key, s) != 0) {
            free(s);
            return NULL;
        }
        scratch_mine = s;
    }
    if (s->cap[i] < n + 1) {
        size_t cap = s->cap[i] < 4096 ? 4096 : s->cap[i];
        while (cap < n + 1) {
            cap *= 2;
        }
        uint8_t *p = realloc(s->p[i], cap);
        if (p == NULL) {
            return NULL;
        }
        s->p[i] = p;
        s->cap[i] = cap;
    }
    return s->p[i] + 1;
}

/* The inline image's next buffer: the scratch buffer img is not in. */
static uint8_t *
next_img(struct coll *c, size_t n, int *which)
{
    *which = c->cur == 0 ? 1 : 0;
    return coll_scratch(*which, n);
}

static void
set_img(struct coll *c, uint8_t *p, size_t n, int which)
{
    c->img = p;
    c->len = n;
    c->cur = which;
    c->dirty = true;
}

/* ---- roots -------------------------------------------------------------- */

static uint64_t
img_count(uint8_t enc, uint8_t type, const uint8_t *p, size_t len)
{
    if (enc == COLL_ENC_INTSET) {
        return intset_count(p, len);
    }
    return type == STORAGE_TYPE_HASH ? hashpack_count(p, len)
                                     : pack_count(p, len);
}

static bool
root_decode(struct coll *c, const struct storage_item *it)
{
    c->cas = it->cas;
    c->expiry = it->expiry;
    c->parts = c->was_parts = it->parts;
    const uint8_t *v = it->value;
    if (it->parts) {
        if (it->vlen < COLL_ROOT_LEN) {
            return false;
        }
        memcpy(c->head, v, COLL_ROOT_LEN);
        c->head_set = true;
        memcpy(c->id, v, 8);
        c->nparts = (uint32_t)types_be_get(v + 8, 4);
        c->enc = v[12] & ~COLL_ROOT_INDEXED;
        c->indexed = (v[12] & COLL_ROOT_INDEXED) != 0;
        c->count = types_be_get(v + 13, 8);
        c->bytes = types_be_get(v + 21, 8);
        c->head_nparts = c->nparts;
        c->head_count = c->count;
        c->head_bytes = c->bytes;
        c->img = NULL;
        c->len = 0;
        memcpy(c->old_id, c->id, 8);
        c->old_nparts = c->nparts;
        return c->nparts > 0;
    }
    if (it->vlen < 1 || v[0] > COLL_ENC_TABLE) {
        return false;
    }
    c->enc = v[0];
    c->img = v + 1;
    c->len = it->vlen - 1;
    c->cur = -1;
    c->count = img_count(c->enc, c->type, c->img, c->len);
    return true;
}

static void
empty_init(struct coll *c)
{
    c->parts = c->was_parts = false;
    c->count = 0;
    c->cur = -1;
    c->enc = c->type == STORAGE_TYPE_HASH ? COLL_ENC_LISTPACK : COLL_ENC_INTSET;
    /* both empty images: a pack of 0 elements, an intset {2, 0} */
    static const uint8_t empty_pack[1] = {0};
    static const uint8_t empty_intset[INTSET_EMPTY_SIZE] = {2, 0};
    if (c->enc == COLL_ENC_INTSET) {
        c->img = empty_intset;
        c->len = sizeof(empty_intset);
    } else {
        c->img = empty_pack;
        c->len = sizeof(empty_pack);
    }
}

coll_status_e
coll_open(struct coll *c, uint8_t db, const void *key, size_t klen,
        uint8_t type, bool write, unsigned flags, uint64_t now)
{
    memset(c, 0, sizeof(*c));
    c->db = db;
    c->type = type;
    c->key = key;
    c->klen = klen;
    c->now = now;
    c->write = write;
    c->cur = -1;
    c->stripe = ks_stripe(db, key, klen);
    if (write && !(flags & COLL_LOCKED)) {
        ks_lock(c->stripe);
        c->locked = true;
    }
    unsigned kf = flags & (KS_NOTOUCH | KS_NOSTATS);
    struct storage_item it;
    for (;;) {
        ks_lookup_e l = ks_lookup(db, key, klen, type, kf, now, &it);
        if (l == KS_WRONGTYPE) {
            return COLL_WRONGTYPE;
        }
        if (l == KS_MISS) {
            empty_init(c);
            return COLL_MISS;
        }
        if (it.parts && !c->locked && !(flags & COLL_LOCKED)) {
            /* a reader of parts: under the lock, from the top */
            ks_lock(c->stripe);
            c->locked = true;
            kf |= KS_NOSTATS;
            continue;
        }
        break;
    }
    if (!root_decode(c, &it)) {
        /* not one of ours (a damaged item): treat as missing */
        empty_init(c);
        return COLL_MISS;
    }
    c->exists = true;
    return COLL_OK;
}

void
coll_close(struct coll *c)
{
    if (c->locked) {
        ks_unlock(c->stripe);
        c->locked = false;
    }
}

/* ---- parts -------------------------------------------------------------- */

static size_t
part_key(const struct coll *c, uint8_t *dst, uint32_t i)
{
    return ks_part_key(dst, c->key, c->klen, c->id, i);
}

/* A part's view; false when it is missing (evicted with its root, which
 * eviction is removing at that moment). */
static bool
part_read(const struct coll *c, uint32_t i, struct storage_item *it)
{
    uint8_t pk[STORAGE_KEY_MAX + STORAGE_PART_SUFFIX];
    size_t n = part_key(c, pk, i);
    return storage_peek(c->db | STORAGE_DB_PARTS, pk, n, c->now, it) ==
           STORAGE_OK;
}

/* The part's pack: the whole value of a plain pack, the prefix of an
 * ipack. */
static size_t
part_pack_len(const struct coll *c, const struct storage_item *pit)
{
    size_t stride = c->type == STORAGE_TYPE_HASH ? 2 : 1;
    return c->indexed ? ipack_pack_len(pit->value, pit->vlen, stride)
                      : pit->vlen;
}

coll_status_e
coll_status_of(storage_status_e st)
{
    switch (st) {
    case STORAGE_OK:
        return COLL_OK;
    case STORAGE_ENOMEM:
        return COLL_ENOMEM;
    case STORAGE_EOVERSIZE:
        return COLL_EOVERSIZE;
    default:
        return COLL_RETRY;
    }
}

static coll_status_e
part_write(struct coll *c, uint32_t i, const uint8_t *img, size_t n)
{
    uint8_t pk[STORAGE_KEY_MAX + STORAGE_PART_SUFFIX];
    size_t kn = part_key(c, pk, i);
    struct storage_write w = {.expiry = c->build ? TIME_NEVER : c->expiry};
    return coll_status_of(storage_set(
            c->db | STORAGE_DB_PARTS, pk, kn, img, n, &w, c->now, NULL, NULL));
}

static void
parts_delete(uint8_t db, const void *key, size_t klen, const uint8_t id[8],
        uint32_t from, uint32_t to, uint64_t now)
{
    uint8_t pk[STORAGE_KEY_MAX + STORAGE_PART_SUFFIX];
    for (uint32_t i = from; i < to; i++) {
        size_t n = ks_part_key(pk, key, klen, id, i);
        storage_delete(db | STORAGE_DB_PARTS, pk, n, 0, now);
    }
}

/* The root of a collection in parts as it is now. */
static void
root_head(const struct coll *c, uint8_t head[COLL_ROOT_LEN])
{
    memcpy(head, c->id, 8);
    types_be_put(head + 8, c->nparts, 4);
    head[12] = (uint8_t)(c->enc | (c->indexed ? COLL_ROOT_INDEXED : 0));
    types_be_put(head + 13, c->count, 8);
    types_be_put(head + 21, c->bytes, 8);
}

/* Writes the root as it is now: the inline image, or the parts header. On
 * success the struct is at the new version (a later write CASes on it). */
static coll_status_e
root_write(struct coll *c)
{
    struct storage_write w = {.type = c->type, .parts = c->parts};
    if (c->build) {
        w.mode = STORAGE_SET;
    } else if (c->exists) {
        w.mode = STORAGE_CAS;
        w.cas = c->cas;
        /* an EXPIRE of a root in parts takes our lock (ks_expire), so its
         * expiry is the one we read; one of an inline root does not: keep
         * whatever it set (one more lookup in the store) */
        w.keep_ttl = !c->was_parts;
        w.expiry = c->expiry;
    } else {
        w.mode = STORAGE_ADD;
    }
    uint8_t head[COLL_ROOT_LEN];
    const uint8_t *v;
    size_t vlen;
    if (c->parts) {
        root_head(c, head);
        v = head;
        vlen = sizeof(head);
    } else {
        if (c->cur < 0) { /* the store's view: into scratch first */
            int which;
            uint8_t *dst = next_img(c, c->len, &which);
            if (dst == NULL) {
                return COLL_ENOMEM;
            }
            memcpy(dst, c->img, c->len);
            set_img(c, dst, c->len, which);
        }
        uint8_t *buf = (uint8_t *)c->img - 1;
        buf[0] = c->enc;
        v = buf;
        vlen = c->len + 1;
    }
    struct storage_item old;
    uint64_t cas = 0;
    storage_status_e st = storage_set(c->db, c->key, c->klen, v, vlen, &w,
            c->now, c->build ? &old : NULL, &cas);
    if (st != STORAGE_OK) {
        return coll_status_of(st);
    }
    if (c->build) {
        ks_drop_parts(c->db, &old, c->now);
        c->build = false;
        c->expiry = TIME_NEVER;
    }
    c->cas = cas;
    c->head_set = c->parts;
    if (c->parts) {
        memcpy(c->head, v, COLL_ROOT_LEN);
        c->head_nparts = c->nparts;
        c->head_count = c->count;
        c->head_bytes = c->bytes;
    }
    c->created = !c->exists;
    c->exists = true;
    return COLL_OK;
}

/* A part was missing: eviction is taking the key. Finish that and let the
 * command run again on the key as it is then. */
static coll_status_e
broken(struct coll *c)
{
    struct storage_item it;
    if (storage_peek(c->db, c->key, c->klen, c->now, &it) == STORAGE_OK &&
            it.cas == c->cas) {
        ks_delete(c->db, c->key, c->klen, c->now);
    }
    return COLL_RETRY;
}

static size_t
stride_of(const struct coll *c)
{
    return c->type == STORAGE_TYPE_HASH ? 2 : 1;
}

/* Reads the bucket bit from the part's index: no element hashed again.
 * arg: the number of parts before the split. */
static bool
split_keep(uint32_t h, void *arg)
{
    return !lhash_split_moves(h, *(const uint64_t *)arg);
}

/* Grows the parts by one: splits the source part in two. The root is
 * written at once, so every step leaves the collection whole. */
static coll_status_e
split(struct coll *c)
{
    ASSERT(c->indexed); /* parts_change made them ipacks first */
    uint64_t n = c->nparts;
    uint32_t s = (uint32_t)lhash_split_source(n);
    struct storage_item pit;
    if (!part_read(c, s, &pit)) {
        return broken(c);
    }
    size_t stride = stride_of(c);
    struct ipack_split sp;
    ipack_split_size(pit.value, pit.vlen, stride, split_keep, &n, &sp);
    size_t sn = sp.len[0], mn = sp.len[1];
    uint8_t *a = coll_scratch(0, sn), *b = coll_scratch(1, mn);
    if (a == NULL || b == NULL) {
        return COLL_ENOMEM;
    }
    uint8_t *const dst[2] = {a, b};
    ipack_split_write(dst, pit.value, pit.vlen, stride, split_keep, &n, &sp);
    size_t old = pit.vlen;
    coll_status_e st = part_write(c, (uint32_t)n, b, mn);
    if (st == COLL_OK) {
        c->nparts++;
        c->bytes += mn;
        st = root_write(c);
        if (st != COLL_OK) {
            c->nparts--;
            c->bytes -= mn;
            parts_delete(c->db, c->key, c->klen, c->id, (uint32_t)n,
                    (uint32_t)n + 1, c->now);
            return st;
        }
    }
    if (st == COLL_OK) {
        /* the moved elements are in both parts until this write: readers
         * hold the lock, and a lookup only looks in its own part */
        st = part_write(c, s, a, sn);
        if (st == COLL_OK) {
            c->bytes = c->bytes + sn - old;
        }
    }
    return st;
}

static coll_status_e
grow(struct coll *c)
{
    coll_status_e st = COLL_OK;
    while (st == COLL_OK && c->nparts < UINT32_MAX / 2 &&
            c->bytes > (uint64_t)c->nparts * COLL_PART_TARGET) {
        st = split(c);
    }
    return st;
}

/* An inline TABLE image (or a collection's every element, respill) into
 * ipack parts: one pass hashes and sizes every part, one writes them, each
 * element once. */
static coll_status_e
spill(struct coll *c)
{
    size_t stride = stride_of(c);
    size_t g = pack_count(c->img, c->len) / stride;
    size_t total = c->len + g * IPACK_HASH_SIZE;
    uint32_t n = (uint32_t)(total / COLL_PART_TARGET + 1);
    n = n < 2 ? 2 : n;
    size_t *cnt = calloc(n, sizeof(*cnt)); /* elements, then pack cursor */
    size_t *sz = calloc(n, sizeof(*sz));   /* pack bytes, head included */
    size_t *at = calloc(n, sizeof(*at));   /* where each part starts */
    size_t *hat = calloc(n, sizeof(*hat)); /* index cursor */
    uint32_t *hs = malloc((g + 1) * sizeof(*hs));
    uint8_t *all = malloc(total + (size_t)n * TYPES_VARINT_MAX);
    coll_status_e st = COLL_ENOMEM;
    if (cnt == NULL || sz == NULL || at == NULL || hat == NULL || hs == NULL ||
            all == NULL) {
        goto done;
    }
    struct pack_iter it;
    struct pack_elem e[2];
    pack_iter_init(&it, c->img, c->len);
    for (size_t i = 0; pack_next(&it, &e[0]); i++) {
        if (stride == 2) {
            pack_next(&it, &e[1]);
        }
        hs[i] = ipack_hash_of(types_hash(e[0].p, e[0].len));
        uint32_t b = (uint32_t)lhash_bucket(hs[i], n);
        cnt[b] += stride;
        for (size_t k = 0; k < stride; k++) {
            sz[b] += pack_elem_size(e[k].len);
        }
    }
    size_t off = 0;
    for (uint32_t b = 0; b < n; b++) {
        at[b] = off;
        size_t head = pack_head_write(all + off, cnt[b]);
        sz[b] += head;
        hat[b] = off + sz[b];
        off += sz[b] + cnt[b] / stride * IPACK_HASH_SIZE;
        cnt[b] = at[b] + head;
    }
    pack_iter_init(&it, c->img, c->len);
    for (size_t i = 0; pack_next(&it, &e[0]); i++) {
        if (stride == 2) {
            pack_next(&it, &e[1]);
        }
        uint32_t b = (uint32_t)lhash_bucket(hs[i], n);
        for (size_t k = 0; k < stride; k++) {
            cnt[b] += pack_elem_write(all + cnt[b], e[k].p, e[k].len);
        }
        hat[b] += ipack_hash_write(all + hat[b], hs[i]);
    }
    ks_new_id(c->id);
    uint64_t bytes = 0;
    st = COLL_OK;
    for (uint32_t b = 0; b < n && st == COLL_OK; b++) {
        ASSERT(cnt[b] == at[b] + sz[b]);
        size_t plen = (b + 1 < n ? at[b + 1] : off) - at[b];
        ASSERT(hat[b] == at[b] + plen);
        st = part_write(c, b, all + at[b], plen);
        bytes += plen;
    }
    if (st == COLL_OK) {
        c->parts = true;
        c->indexed = true;
        c->nparts = n;
        c->bytes = bytes;
        c->img = NULL;
        c->len = 0;
        c->dirty = true;
    } else {
        parts_delete(c->db, c->key, c->klen, c->id, 0, n, c->now);
    }
done:
    free(cnt);
    free(sz);
    free(at);
    free(hat);
    free(hs);
    free(all);
    return st;
}

/* Every element into new parts under a new id, in one pass (spill): when
 * deletions left the parts under a quarter full on average (fewer parts),
 * and to rewrite plain-pack parts as ipacks (a collection a warm restart
 * kept from before the index). The old parts are dropped once the new root
 * is committed; a scan cursor carries the id's tag, so a scan that meets a
 * respill starts over (it may repeat elements, never miss one). */
static coll_status_e
respill(struct coll *c)
{
    size_t stride = stride_of(c);
    uint8_t *img = malloc(c->bytes + TYPES_VARINT_MAX);
    if (img == NULL) {
        return COLL_ENOMEM;
    }
    size_t off = pack_head_write(img, c->count * stride);
    for (uint32_t i = 0; i < c->nparts; i++) {
        struct storage_item pit;
        if (!part_read(c, i, &pit)) {
            free(img);
            return broken(c);
        }
        size_t head = pack_head_size(pack_count(pit.value, pit.vlen));
        size_t plen = part_pack_len(c, &pit);
        if (off + plen - head > c->bytes + TYPES_VARINT_MAX) {
            free(img); /* the root's byte count is wrong: not ours */
            return broken(c);
        }
        memcpy(img + off, pit.value + head, plen - head);
        off += plen - head;
    }
    memcpy(c->old_id, c->id, 8);
    uint32_t old_n = c->nparts;
    bool old_indexed = c->indexed;
    c->parts = false;
    c->img = img;
    c->len = off;
    coll_status_e st = spill(c);
    if (st == COLL_OK) {
        c->old_nparts = old_n;
        c->drop_old = true;
    } else {
        memcpy(c->id, c->old_id, 8);
        c->parts = true;
        c->indexed = old_indexed;
        c->nparts = old_n;
    }
    c->img = NULL;
    c->len = 0;
    free(img);
    return st;
}

/* After an inline change: into parts once a TABLE image is too big. */
static coll_status_e
after_inline(struct coll *c)
{
    if (c->enc == COLL_ENC_TABLE && c->len > COLL_INLINE_MAX) {
        return spill(c);
    }
    return COLL_OK;
}

/* Whether a change in parts left the root's id, parts and encoding as
 * they were opened (no split, no respill): then the root is not written
 * again. Its count and bytes, when they moved, are patched in place
 * (storage_patch: the fields are fixed-size, and every writer and reader
 * of them holds the key's stripe lock). */
static bool
root_in_place(const struct coll *c)
{
    return c->parts && c->head_set && !c->build && !c->drop_old &&
           c->nparts == c->head_nparts &&
           c->head[12] ==
                   (uint8_t)(c->enc | (c->indexed ? COLL_ROOT_INDEXED : 0)) &&
           memcmp(c->id, c->head, 8) == 0 && ks_holds(c->stripe);
}

/* The root's count and bytes as they are now, patched in place. */
static coll_status_e
root_patch(struct coll *c)
{
    uint8_t f[COLL_ROOT_LEN - COLL_ROOT_COUNT];
    types_be_put(f, c->count, 8);
    types_be_put(f + 8, c->bytes, 8);
    storage_status_e st = storage_patch(c->db, c->key, c->klen, c->cas,
            COLL_ROOT_COUNT, f, sizeof(f), c->now);
    if (st != STORAGE_OK) {
        return coll_status_of(st); /* evicted meanwhile: again */
    }
    memcpy(c->head + COLL_ROOT_COUNT, f, sizeof(f));
    c->head_count = c->count;
    c->head_bytes = c->bytes;
    return COLL_OK;
}

coll_status_e
coll_commit(struct coll *c)
{
    if (!c->dirty && !c->build) {
        return COLL_OK;
    }
    if (c->count == 0) {
        if (c->build || c->exists) {
            struct storage_item old;
            storage_status_e st = c->build ? storage_getdel(c->db, c->key,
                                                     c->klen, c->now, &old)
                                           : storage_delete(c->db, c->key,
                                                     c->klen, c->cas, c->now);
            if (c->build && st == STORAGE_OK) {
                ks_drop_parts(c->db, &old, c->now);
            } else if (!c->build && st == STORAGE_EXISTS) {
                return COLL_RETRY;
            }
            if (!c->build && c->parts) {
                parts_delete(
                        c->db, c->key, c->klen, c->id, 0, c->nparts, c->now);
            }
        }
        c->dirty = false;
        return COLL_OK;
    }
    if (root_in_place(c)) {
        /* one item write per change: the part's. The root keeps its CAS:
         * WATCH learns of the change from the stripe; readers of a root in
         * parts take the lock, so they see its count as patched here */
        if (c->count != c->head_count || c->bytes != c->head_bytes) {
            coll_status_e st = root_patch(c);
            if (st != COLL_OK) {
                return st;
            }
        }
        ks_stripe_changed(c->stripe);
        c->dirty = false;
        return COLL_OK;
    }
    coll_status_e st = root_write(c);
    if (st == COLL_OK) {
        c->dirty = false;
        if (c->drop_old) {
            parts_delete(c->db, c->key, c->klen, c->old_id, 0, c->old_nparts,
                    c->now);
            c->drop_old = false;
        }
    }
    return st;
}

/* ---- changes in parts ---------------------------------------------------- */

enum {
    OP_SET,
    OP_DEL,
    OP_ADD
};

/* One element's change in its part: set a field (hash), delete a field or
 * member, add a member (set). *changed: the element count moved. */
static coll_status_e
parts_change(struct coll *c, int op, const void *e, size_t elen, const void *v,
        size_t vlen, bool *changed)
{
    *changed = false;
    if (!c->indexed) {
        coll_status_e st = respill(c); /* plain packs: into ipacks first */
        if (st != COLL_OK) {
            return st;
        }
    }
    uint64_t h = types_hash(e, elen);
    uint32_t b = (uint32_t)lhash_bucket(h, c->nparts);
    struct storage_item pit;
    if (!part_read(c, b, &pit)) {
        return broken(c);
    }
    const uint8_t *p = pit.value;
    size_t len = pit.vlen, n, stride = stride_of(c);
    struct pack_pos pos;
    bool found = ipack_find(p, len, stride, ipack_hash_of(h), e, elen, &pos);
    struct pack_elem g[2] = {{e, elen}, {v, vlen}};
    uint8_t *dst;
    if (op == OP_DEL && !found) {
        return COLL_OK;
    }
    if (op == OP_ADD && found) {
        return COLL_OK;
    }
    if (op == OP_DEL) {
        n = ipack_delete_size(p, len, stride, &pos);
    } else if (found) { /* OP_SET of a field there: its value */
        n = ipack_replace_size(p, len, stride, &pos, 1, vlen);
    } else {
        n = ipack_append_size(p, len, stride, g);
    }
    if ((dst = coll_scratch(2, n)) == NULL) {
        return COLL_ENOMEM;
    }
    if (op == OP_DEL) {
        ipack_delete_write(dst, p, len, stride, &pos);
    } else if (found) {
        ipack_replace_write(dst, p, len, stride, &pos, 1, v, vlen);
    } else {
        ipack_append_write(dst, p, len, stride, g, ipack_hash_of(h));
    }
    *changed = op == OP_DEL || !found;
    coll_status_e st = part_write(c, b, dst, n);
    if (st != COLL_OK) {
        return st;
    }
    c->bytes = c->bytes + n - len;
    c->dirty = true;
    if (*changed) {
        c->count = op == OP_DEL ? c->count - 1 : c->count + 1;
    }
    if (op == OP_DEL) {
        bool sparse = c->nparts > 2 &&
                      c->bytes * 4 < (uint64_t)c->nparts * COLL_PART_TARGET;
        return sparse ? respill(c) : COLL_OK;
    }
    return grow(c);
}

/* ---- reads in parts ------------------------------------------------------ */

/* Finds a member or field in its part: true, the part's view and the
 * element's position in the part's pack; false when it is not there (or the
 * part is missing: eviction is taking the key). */
static bool
part_find(const struct coll *c, const void *e, size_t elen,
        struct storage_item *pit, struct pack_pos *pos)
{
    uint64_t h = types_hash(e, elen);
    uint32_t b = (uint32_t)lhash_bucket(h, c->nparts);
    if (!part_read(c, b, pit)) {
        return false;
    }
    size_t stride = stride_of(c);
    if (c->indexed) {
        return ipack_find(
                pit->value, pit->vlen, stride, ipack_hash_of(h), e, elen, pos);
    }
    return pack_find(pit->value, pit->vlen, e, elen, stride, pos);
}

/* ---- hashes -------------------------------------------------------------- */

coll_status_e
coll_hash_get(struct coll *c, const void *f, size_t flen, struct pack_elem *v)
{
    if (!c->exists && !c->dirty) {
        return COLL_MISS;
    }
    if (!c->parts) {
        return hashpack_get(c->img, c->len, f, flen, v) ? COLL_OK : COLL_MISS;
    }
    struct storage_item pit;
    struct pack_pos pos;
    if (!part_find(c, f, flen, &pit, &pos)) {
        return COLL_MISS;
    }
    *v = hashpack_value_at(pit.value, part_pack_len(c, &pit), &pos);
    return COLL_OK;
}

coll_status_e
coll_hash_set(struct coll *c, const void *f, size_t flen, const void *v,
        size_t vlen, bool *added)
{
    if (c->parts) {
        return parts_change(c, OP_SET, f, flen, v, vlen, added);
    }
    struct pack_pos pos;
    *added = !hashpack_find(c->img, c->len, f, flen, &pos);
    size_t n = hashpack_set_size(c->img, c->len, &pos, flen, vlen);
    int which;
    uint8_t *dst = next_img(c, n, &which);
    if (dst == NULL) {
        return COLL_ENOMEM;
    }
    hashpack_set_write(dst, c->img, c->len, &pos, f, flen, v, vlen);
    set_img(c, dst, n, which);
    c->count += *added;
    if (c->enc == COLL_ENC_LISTPACK &&
            (c->count > limit(&coll_limits.hash_max_listpack_entries) ||
                    flen > limit(&coll_limits.hash_max_listpack_value) ||
                    vlen > limit(&coll_limits.hash_max_listpack_value))) {
        c->enc = COLL_ENC_TABLE;
    }
    return after_inline(c);
}

coll_status_e
coll_hash_del(struct coll *c, const void *f, size_t flen, bool *removed)
{
    *removed = false;
    if (!c->exists && !c->dirty) {
        return COLL_OK;
    }
    if (c->parts) {
        return parts_change(c, OP_DEL, f, flen, NULL, 0, removed);
    }
    struct pack_pos pos;
    if (!hashpack_find(c->img, c->len, f, flen, &pos)) {
        return COLL_OK;
    }
    size_t n = hashpack_delete_size(c->img, c->len, &pos);
    int which;
    uint8_t *dst = next_img(c, n, &which);
    if (dst == NULL) {
        return COLL_ENOMEM;
    }
    hashpack_delete_write(dst, c->img, c->len, &pos);
    set_img(c, dst, n, which);
    c->count--;
    *removed = true;
    return COLL_OK;
}

/* ---- sets ---------------------------------------------------------------- */

coll_status_e
coll_set_has(struct coll *c, const void *m, size_t mlen)
{
    if (!c->exists && !c->dirty) {
        return COLL_MISS;
    }
    if (c->parts) {
        struct storage_item pit;
        struct pack_pos pos;
        return part_find(c, m, mlen, &pit, &pos) ? COLL_OK : COLL_MISS;
    }
    if (c->enc == COLL_ENC_INTSET) {
        int64_t v;
        return intset_parse(m, mlen, &v) && intset_find(c->img, c->len, v, NULL)
                       ? COLL_OK
                       : COLL_MISS;
    }
    struct pack_pos pos;
    return pack_find(c->img, c->len, m, mlen, 1, &pos) ? COLL_OK : COLL_MISS;
}

/* An intset image as a pack of decimal members (to TABLE). */
static coll_status_e
intset_to_pack(struct coll *c)
{
    char num[INTSET_FMT_MAX];
    size_t n = pack_head_size(c->count);
    struct intset_iter it;
    int64_t v;
    intset_iter_init(&it, c->img, c->len);
    while (intset_next(&it, &v)) {
        n += pack_elem_size(intset_fmt(v, num));
    }
    int which;
    uint8_t *dst = next_img(c, n, &which);
    if (dst == NULL) {
        return COLL_ENOMEM;
    }
    size_t off = pack_head_write(dst, c->count);
    intset_iter_init(&it, c->img, c->len);
    while (intset_next(&it, &v)) {
        size_t k = intset_fmt(v, num);
        off += pack_elem_write(dst + off, num, k);
    }
    set_img(c, dst, n, which);
    c->enc = COLL_ENC_TABLE;
    return COLL_OK;
}

coll_status_e
coll_set_add(struct coll *c, const void *m, size_t mlen, bool *added)
{
    *added = false;
    if (c->parts) {
        return parts_change(c, OP_ADD, m, mlen, NULL, 0, added);
    }
    if (c->enc == COLL_ENC_INTSET) {
        int64_t v;
        size_t idx;
        bool is_int = intset_parse(m, mlen, &v);
        if (is_int && intset_find(c->img, c->len, v, &idx)) {
            return COLL_OK;
        }
        if (is_int &&
                c->count + 1 <= limit(&coll_limits.set_max_intset_entries)) {
            size_t n = intset_add_size(c->img, c->len, v);
            int which;
            uint8_t *dst = next_img(c, n, &which);
            if (dst == NULL) {
                return COLL_ENOMEM;
            }
            intset_add_write(dst, c->img, c->len, v);
            set_img(c, dst, n, which);
            c->count++;
            *added = true;
            return COLL_OK;
        }
        coll_status_e st = intset_to_pack(c);
        if (st != COLL_OK) {
            return st;
        }
    }
    struct pack_pos pos;
    if (pack_find(c->img, c->len, m, mlen, 1, &pos)) {
        return COLL_OK;
    }
    size_t n = pack_insert_size(c->img, c->len, c->len, mlen);
    int which;
    uint8_t *dst = next_img(c, n, &which);
    if (dst == NULL) {
        return COLL_ENOMEM;
    }
    pack_insert_write(dst, c->img, c->len, c->len, m, mlen);
    set_img(c, dst, n, which);
    c->count++;
    *added = true;
    return after_inline(c);
}

coll_status_e
coll_set_rem(struct coll *c, const void *m, size_t mlen, bool *removed)
{
    *removed = false;
    if (!c->exists && !c->dirty) {
        return COLL_OK;
    }
    if (c->parts) {
        return parts_change(c, OP_DEL, m, mlen, NULL, 0, removed);
    }
    int which;
    uint8_t *dst;
    size_t n;
    if (c->enc == COLL_ENC_INTSET) {
        int64_t v;
        if (!intset_parse(m, mlen, &v) ||
                !intset_find(c->img, c->len, v, NULL)) {
            return COLL_OK;
        }
        n = intset_remove_size(c->img, c->len, v);
        if ((dst = next_img(c, n, &which)) == NULL) {
            return COLL_ENOMEM;
        }
        intset_remove_write(dst, c->img, c->len, v);
    } else {
        struct pack_pos pos;
        if (!pack_find(c->img, c->len, m, mlen, 1, &pos)) {
            return COLL_OK;
        }
        n = pack_delete_size(c->img, c->len, pos.off, 1);
        if ((dst = next_img(c, n, &which)) == NULL) {
            return COLL_ENOMEM;
        }
        pack_delete_write(dst, c->img, c->len, pos.off, 1);
    }
    set_img(c, dst, n, which);
    c->count--;
    *removed = true;
    return COLL_OK;
}

/* ---- walking ------------------------------------------------------------- */

/* Every element of one image; false when fn stopped. */
static bool
img_each(const struct coll *c, uint8_t enc, const uint8_t *p, size_t len,
        coll_each_fn *fn, void *arg, uint64_t *n)
{
    if (enc == COLL_ENC_INTSET) {
        struct intset_iter it;
        int64_t v;
        char num[INTSET_FMT_MAX];
        intset_iter_init(&it, p, len);
        while (intset_next(&it, &v)) {
            struct pack_elem e = {(const uint8_t *)num, intset_fmt(v, num)};
            (*n)++;
            if (!fn(&e, NULL, arg)) {
                return false;
            }
        }
        return true;
    }
    struct pack_iter it;
    struct pack_elem a, b;
    pack_iter_init(&it, p, len);
    if (c->type == STORAGE_TYPE_HASH) {
        while (hashpack_next(&it, &a, &b)) {
            (*n)++;
            if (!fn(&a, &b, arg)) {
                return false;
            }
        }
        return true;
    }
    while (pack_next(&it, &a)) {
        (*n)++;
        if (!fn(&a, NULL, arg)) {
            return false;
        }
    }
    return true;
}

coll_status_e
coll_scan(struct coll *c, uint64_t cursor, uint64_t count, coll_each_fn *fn,
        void *arg, uint64_t *next)
{
    *next = 0;
    uint64_t n = 0;
    if (!c->exists && !c->dirty) {
        return COLL_MISS;
    }
    if (!c->parts) {
        img_each(c, c->enc, c->img, c->len, fn, arg, &n);
        return COLL_OK;
    }
    /* cursor: the id's tag (never 0) above a part index; a cursor of
     * another id (the parts were shrunk since) starts over */
    uint64_t tag = ((uint64_t)c->id[6] << 8 | c->id[7]) + 1;
    uint64_t from = cursor >> 32 == tag ? (cursor & 0xffffffffu) : 0;
    for (uint64_t i = from; i < c->nparts; i++) {
        struct storage_item pit;
        if (!part_read(c, (uint32_t)i, &pit)) {
            return COLL_MISS;
        }
        if (!img_each(c, COLL_ENC_TABLE, pit.value, part_pack_len(c, &pit), fn,
                    arg, &n)) {
            return COLL_OK;
        }
        if (n >= count && i + 1 < c->nparts) {
            *next = tag << 32 | (i + 1);
            return COLL_OK;
        }
    }
    return COLL_OK;
}

coll_status_e
coll_each(struct coll *c, coll_each_fn *fn, void *arg)
{
    uint64_t next;
    return coll_scan(c, 0, UINT64_MAX, fn, arg, &next);
}

coll_status_e
coll_random(
        struct coll *c, uint64_t r, struct pack_elem *a, struct pack_elem *b)
{
    if (c->count == 0) {
        return COLL_MISS;
    }
    const uint8_t *p = c->img;
    size_t len = c->len;
    uint64_t cnt = c->count;
    struct storage_item pit;
    if (c->parts) {
        /* parts are at least a quarter full on average (shrink): a few
         * random picks find a non-empty one, then a walk from the last */
        uint32_t start = (uint32_t)(r % c->nparts);
        for (uint32_t k = 0;; k++) {
            if (k == c->nparts + 4) {
                return COLL_MISS;
            }
            uint32_t at = k < 4 ? (uint32_t)((r >> (8 * k + 8)) % c->nparts)
                                : (start + k - 4) % c->nparts;
            if (!part_read(c, at, &pit)) {
                return COLL_MISS;
            }
            cnt = pack_count(pit.value, pit.vlen) / stride_of(c);
            if (cnt > 0) {
                break;
            }
        }
        p = pit.value;
        len = part_pack_len(c, &pit);
        r = (r ^ (r >> 31)) * 0x9E3779B97F4A7C15ULL; /* fresh bits */
        r ^= r >> 29;
    }
    uint64_t i = r % cnt;
    if (!c->parts && c->enc == COLL_ENC_INTSET) {
        size_t k = intset_fmt(intset_at(p, len, i), c->num);
        *a = (struct pack_elem){(const uint8_t *)c->num, k};
        return COLL_OK;
    }
    if (c->type == STORAGE_TYPE_HASH) {
        struct pack_elem v;
        hashpack_at(p, len, i, a, &v);
        if (b != NULL) {
            *b = v;
        }
        return COLL_OK;
    }
    *a = pack_at(p, len, i);
    return COLL_OK;
}

const char *
coll_encoding_name(const struct storage_item *it)
{
    if (it->type == STORAGE_TYPE_ZSET) {
        return zset_encoding_name(it);
    }
    if (it->type == STORAGE_TYPE_LIST) {
        return "quicklist"; /* Redis 7.0 says it of every list */
    }
    if (it->parts || it->vlen < 1) {
        return "hashtable";
    }
    switch (it->value[0]) {
    case COLL_ENC_LISTPACK:
        return "listpack";
    case COLL_ENC_INTSET:
        return "intset";
    default:
        return "hashtable";
    }
}

size_t
coll_memory_usage(uint8_t db, const struct storage_item *it, uint64_t now)
{
    size_t total = storage_item_footprint(it);
    uint32_t n = ks_root_nparts(it);
    if (n == 0) {
        return total;
    }
    uint8_t id[8];
    memcpy(id, it->value, 8);
    uint8_t pk[STORAGE_KEY_MAX + STORAGE_PART_SUFFIX];
    size_t klen = it->klen;
    memcpy(pk, it->key, klen);
    for (uint32_t i = 0; i < n; i++) {
        struct storage_item p;
        size_t plen = ks_part_key(pk, pk, klen, id, i);
        if (storage_peek(db | STORAGE_DB_PARTS, pk, plen, now, &p) ==
                STORAGE_OK) {
            total += storage_item_footprint(&p);
        }
    }
    return total;
}

/* ---- several keys ---------------------------------------------------------
 */

static int
u32_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

void
coll_lock_stripes(uint32_t *s, uint32_t n)
{
    qsort(s, n, sizeof(*s), u32_cmp);
    for (uint32_t i = 0; i < n; i++) {
        if (i == 0 || s[i] != s[i - 1]) {
            ks_lock(s[i]);
        }
    }
}

void
coll_unlock_stripes(const uint32_t *s, uint32_t n)
{
    for (uint32_t i = n; i > 0; i--) {
        if (i == 1 || s[i - 1] != s[i - 2]) {
            ks_unlock(s[i - 1]);
        }
    }
}

coll_status_e
coll_build_begin(struct coll *c, uint8_t db, const void *key, size_t klen,
        uint8_t type, uint64_t now)
{
    memset(c, 0, sizeof(*c));
    c->db = db;
    c->type = type;
    c->key = key;
    c->klen = klen;
    c->now = now;
    c->write = true;
    c->build = true;
    c->stripe = ks_stripe(db, key, klen);
    empty_init(c);
    return COLL_OK;
}
