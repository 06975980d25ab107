/* SPDX-License-Identifier: Apache-2.0 */
/* Sorted sets in the keyspace (zcoll.h). */
#include "processor/zcoll.h"

#include "base/time.h"
#include "types/ipack.h"
#include "types/lhash.h"
#include "types/types.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct zset_tune zset_tune = {8192, 8192, 6144, 48, 65536};

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

/* ---- the root and parts of a set in parts ---- */

static inline uint32_t
be32(const uint8_t *p)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint32_t v;
    memcpy(&v, p, 4);
    return __builtin_bswap32(v);
#else
    return (uint32_t)types_be_get(p, 4);
#endif
}

static inline uint32_t
dno(const uint8_t *d, uint32_t k)
{
    return be32(d + (size_t)ZSET_DIR_ENT * k);
}

static inline uint32_t
dcnt(const uint8_t *d, uint32_t k)
{
    return be32(d + (size_t)ZSET_DIR_ENT * k + 4);
}

static const uint8_t *
dscore(const uint8_t *d, uint32_t k)
{
    return d + (size_t)ZSET_DIR_ENT * k + 8;
}

/* memcmp of two ordered score encodings, as one 64-bit compare */
static inline int
sb_cmp(const uint8_t *a, const uint8_t *b)
{
    uint64_t x = types_be_get(a, 8), y = types_be_get(b, 8);
    return x < y ? -1 : x > y;
}

static uint32_t
nsparts(const struct zset *z)
{
    return z->nparts - z->nh;
}

/* The root's directory of ns entries starts after one 4-byte sum of the
 * counts of each ZSET_DIR_BLOCK entries (ZRANK adds blocks, then at most a
 * block's entries). */
static inline size_t
nblocks(uint32_t ns)
{
    return ((size_t)ns + ZSET_DIR_BLOCK - 1) / ZSET_DIR_BLOCK;
}

static inline size_t
root_len(uint32_t ns)
{
    return ZSET_ROOT_HEAD + 4 * nblocks(ns) + (size_t)ns * ZSET_DIR_ENT;
}

/* Block b's sum, for a directory d of ns entries. */
static inline uint32_t
dblk(const uint8_t *d, uint32_t ns, size_t b)
{
    return be32(d - 4 * nblocks(ns) + 4 * b);
}

/* Writes the block sums before directory d (n entries). */
static void
blocks_write(uint8_t *d, uint32_t n)
{
    uint8_t *b = d - 4 * nblocks(n);
    for (size_t i = 0; i < nblocks(n); i++) {
        uint32_t sum = 0;
        for (uint32_t k = (uint32_t)i * ZSET_DIR_BLOCK;
                k < n && k < (i + 1) * ZSET_DIR_BLOCK; k++) {
            sum += dcnt(d, k);
        }
        types_be_put(b + 4 * i, sum, 4);
    }
}

/* Reads a root's header; false when it is not one of ours. */
static bool
root_decode(struct zset *z, const struct storage_item *it)
{
    if (it->vlen < ZSET_ROOT_HEAD) {
        return false;
    }
    const uint8_t *v = it->value;
    uint32_t np = (uint32_t)types_be_get(v + 8, 4);
    uint32_t nh = (uint32_t)types_be_get(v + ZSET_ROOT_COUNT + 8, 4);
    if (v[12] != ZSET_ENC_SKIPLIST || nh == 0 || nh >= np ||
            it->vlen != root_len(np - nh)) {
        return false;
    }
    memcpy(z->id, v, 8);
    z->nparts = np;
    z->nh = nh;
    z->n = types_be_get(v + ZSET_ROOT_COUNT, 8);
    return true;
}

/* The root's bytes in a buffer (header and block sums, then n entries at
 * d, room for cap), edited in place and written whole. */
struct zdir {
    uint8_t *buf;
    uint8_t *d;
    uint32_t n;
    uint32_t cap;
    bool freed; /* an entry was removed: a number may need moving */
};

/* A batch (zset_batch): the changes of one command of many members made
 * on copies (the parts it touched, the directory) and written at commit,
 * each touched part once, the root once. */
struct zcached {
    uint32_t no;
    bool gone; /* deleted */
    uint8_t *img;
    size_t len;
};

#define ZSET_BATCH_MAX 512 /* parts held before the batch is written */

struct zbatch {
    struct zdir r;
    struct zcached *c;
    size_t n;
    size_t cap;
};

static struct zcached *
cached(const struct zset *z, uint32_t no)
{
    for (size_t i = 0; i < z->batch->n; i++) {
        if (z->batch->c[i].no == no) {
            return &z->batch->c[i];
        }
    }
    return NULL;
}

static size_t
part_key(const struct zset *z, uint8_t *dst, uint32_t no)
{
    return ks_part_key(dst, z->key, z->klen, z->id, no);
}

/* A part was missing, or the root is not what was opened: eviction is
 * taking the key; finish that. */
static coll_status_e
broken(struct zset *z)
{
    z->hvalid = false;
    struct storage_item it;
    if (storage_peek(z->db, z->key, z->klen, z->now, &it) == STORAGE_OK &&
            it.cas == z->cas) {
        ks_delete(z->db, z->key, z->klen, z->now);
    }
    return COLL_RETRY;
}

/* The directory of the root as it is now (a write ends older views). */
static coll_status_e
dir_view(struct zset *z, const uint8_t **d)
{
    if (z->batch != NULL) {
        *d = z->batch->r.d;
        return COLL_OK;
    }
    struct storage_item it;
    if (storage_peek(z->db, z->key, z->klen, z->now, &it) != STORAGE_OK ||
            it.cas != z->cas || !it.parts || it.vlen != root_len(nsparts(z))) {
        return broken(z);
    }
    *d = it.value + ZSET_ROOT_HEAD + 4 * nblocks(nsparts(z));
    return COLL_OK;
}

static coll_status_e
read_no(struct zset *z, uint32_t no, const uint8_t **img, size_t *len)
{
    struct zcached *c = z->batch != NULL ? cached(z, no) : NULL;
    if (c != NULL) {
        if (c->gone) {
            return broken(z);
        }
        *img = c->img;
        *len = c->len;
        return COLL_OK;
    }
    uint8_t pk[STORAGE_KEY_MAX + STORAGE_PART_SUFFIX];
    size_t n = part_key(z, pk, no);
    struct storage_item it;
    if (storage_peek(z->db | STORAGE_DB_PARTS, pk, n, z->now, &it) !=
            STORAGE_OK) {
        return broken(z);
    }
    *img = it.value;
    *len = it.vlen;
    return COLL_OK;
}

/* A part's new image (or its deletion, img NULL) kept in the batch. */
static coll_status_e
batch_put(struct zset *z, uint32_t no, const uint8_t *img, size_t len)
{
    struct zbatch *b = z->batch;
    uint8_t *copy = NULL;
    if (img != NULL) {
        copy = malloc(len + 1);
        if (copy == NULL) {
            return COLL_ENOMEM;
        }
        memcpy(copy, img, len);
    }
    struct zcached *c = cached(z, no);
    if (c == NULL) {
        if (b->n == b->cap) {
            size_t cap = b->cap < 16 ? 16 : 2 * b->cap;
            struct zcached *nc = realloc(b->c, cap * sizeof(*nc));
            if (nc == NULL) {
                free(copy);
                return COLL_ENOMEM;
            }
            b->c = nc;
            b->cap = cap;
        }
        c = &b->c[b->n++];
        c->img = NULL;
        c->no = no;
    }
    free(c->img);
    c->img = copy;
    c->len = len;
    c->gone = img == NULL;
    return COLL_OK;
}

static coll_status_e
write_no(struct zset *z, uint32_t no, const uint8_t *img, size_t len)
{
    z->hvalid = false;
    if (z->batch != NULL) {
        return batch_put(z, no, img, len);
    }
    uint8_t pk[STORAGE_KEY_MAX + STORAGE_PART_SUFFIX];
    size_t n = part_key(z, pk, no);
    struct storage_write w = {.expiry = z->expiry};
    z->hvalid = false;
    return coll_status_of(storage_set(
            z->db | STORAGE_DB_PARTS, pk, n, img, len, &w, z->now, NULL, NULL));
}

static void
delete_no(struct zset *z, uint32_t no)
{
    z->hvalid = false;
    if (z->batch != NULL) {
        (void)batch_put(z, no, NULL, 0); /* no memory: the part stays,
                                             dead once its root goes */
        return;
    }
    uint8_t pk[STORAGE_KEY_MAX + STORAGE_PART_SUFFIX];
    size_t n = part_key(z, pk, no);
    storage_delete(z->db | STORAGE_DB_PARTS, pk, n, 0, z->now);
}

/* Entries before directory entry k: the block sums before k's block,
 * then the entries of its block before k. */
static uint64_t
count_before(const struct zset *z, const uint8_t *d, uint32_t k)
{
    uint32_t ns = nsparts(z);
    /* a batch's directory has its block sums made when it is written */
    size_t b = z->batch != NULL ? 0 : k / ZSET_DIR_BLOCK;
    uint64_t c = 0;
    for (size_t i = 0; i < b; i++) {
        c += dblk(d, ns, i);
    }
    for (uint32_t i = (uint32_t)b * ZSET_DIR_BLOCK; i < k; i++) {
        c += dcnt(d, i);
    }
    return c;
}

/* The directory entry of the part where (sb, m) is or would go: the last
 * whose first entry is not above it (0 when none is). A part's first
 * member is read only when its first score ties with sb. */
static coll_status_e
locate(struct zset *z, const uint8_t *d, const uint8_t sb[ZPACK_SCORE_LEN],
        const void *m, size_t mlen, uint32_t *k)
{
    uint32_t lo = 0, hi = nsparts(z);
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = sb_cmp(dscore(d, mid), sb);
        if (c == 0) {
            const uint8_t *img;
            size_t len;
            coll_status_e st = read_no(z, dno(d, mid), &img, &len);
            if (st != COLL_OK) {
                return st;
            }
            struct pack_elem first = pack_at(img, len, 0);
            c = zpack_member_cmp(first.p, first.len, m, mlen);
        }
        if (c <= 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    *k = lo > 0 ? lo - 1 : 0;
    return COLL_OK;
}

/* The member index: m's score bytes, if there. */
static coll_status_e
index_find(struct zset *z, const void *m, size_t mlen, const uint8_t **img,
        size_t *len, struct pack_pos *pos, bool *found)
{
    if (z->hvalid && z->hm == m && z->hmlen == mlen) {
        *img = z->himg;
        *len = z->hlen;
        *pos = z->hpos;
        *found = z->hfound;
        return COLL_OK;
    }
    uint64_t h = types_hash(m, mlen);
    uint32_t b = (uint32_t)lhash_bucket(h, z->nh);
    coll_status_e st = read_no(z, b, img, len);
    if (st != COLL_OK) {
        return st;
    }
    *found = ipack_find(*img, *len, 2, ipack_hash_of(h), m, mlen, pos);
    z->hvalid = true;
    z->hm = m;
    z->hmlen = mlen;
    z->himg = *img;
    z->hlen = *len;
    z->hpos = *pos;
    z->hfound = *found;
    return COLL_OK;
}

static coll_status_e
lazy_score(struct zset *z, const void *m, size_t mlen, double *score)
{
    const uint8_t *img;
    size_t len;
    struct pack_pos pos;
    bool found;
    coll_status_e st = index_find(z, m, mlen, &img, &len, &pos, &found);
    if (st != COLL_OK) {
        return st;
    }
    if (!found) {
        return COLL_MISS;
    }
    size_t plen = ipack_pack_len(img, len, 2);
    struct pack_elem e = pack_at_offset(img, plen, pos.off);
    struct pack_elem v = pack_at_offset(img, plen, pos.off + pack_elem_span(e));
    if (v.len != ZPACK_SCORE_LEN) {
        return broken(z);
    }
    *score = zpack_score_get(v.p);
    return COLL_OK;
}

coll_status_e
zset_scan(struct zset *z, uint64_t cursor, uint64_t count, zset_scan_fn *fn,
        void *arg, uint64_t *next)
{
    *next = 0;
    ASSERT(z->parts && z->lazy);
    /* cursor: the id's tag (never 0) above an index part number */
    uint64_t tag = ((uint64_t)z->id[6] << 8 | z->id[7]) + 1;
    uint64_t from = cursor >> 32 == tag ? (cursor & 0xffffffffu) : 0;
    uint64_t n = 0;
    for (uint64_t i = from; i < z->nh; i++) {
        const uint8_t *img;
        size_t len;
        coll_status_e st = read_no(z, (uint32_t)i, &img, &len);
        if (st != COLL_OK) {
            return st;
        }
        size_t plen = ipack_pack_len(img, len, 2);
        struct pack_iter it;
        struct pack_elem m, v;
        pack_iter_init(&it, img, plen);
        while (pack_next(&it, &m) && pack_next(&it, &v)) {
            if (v.len != ZPACK_SCORE_LEN) {
                return broken(z);
            }
            fn(&m, zpack_score_get(v.p), arg);
            n++;
        }
        if (n >= count && i + 1 < z->nh) {
            *next = tag << 32 | (i + 1);
            return COLL_OK;
        }
    }
    return COLL_OK;
}

/* ---- the directory, copied, for a change that reshapes it ---- */

static void
zdir_release(struct zdir *r)
{
    free(r->buf);
    memset(r, 0, sizeof(*r));
}

static void
zdir_set(struct zdir *r, uint32_t k, uint32_t no, uint32_t cnt,
        const uint8_t *sc)
{
    uint8_t *e = r->d + (size_t)ZSET_DIR_ENT * k;
    types_be_put(e, no, 4);
    types_be_put(e + 4, cnt, 4);
    memcpy(e + 8, sc, ZPACK_SCORE_LEN);
}

/* Room for a new entry at k (the entries from k move up). */
static void
zdir_open_at(struct zdir *r, uint32_t k)
{
    uint8_t *e = r->d + (size_t)ZSET_DIR_ENT * k;
    memmove(e + ZSET_DIR_ENT, e, (size_t)(r->n - k) * ZSET_DIR_ENT);
    r->n++;
}

static void
zdir_remove_at(struct zdir *r, uint32_t k)
{
    uint8_t *e = r->d + (size_t)ZSET_DIR_ENT * k;
    memmove(e, e + ZSET_DIR_ENT, (size_t)(r->n - k - 1) * ZSET_DIR_ENT);
    r->n--;
    r->freed = true;
}

/* Room for cap entries, the header and their block sums before them. */
static bool
zdir_room(struct zdir *r, uint32_t cap)
{
    if (r->buf != NULL && cap <= r->cap) {
        return true;
    }
    size_t at = ZSET_ROOT_HEAD + 4 * nblocks(cap);
    uint8_t *buf = malloc(at + (size_t)cap * ZSET_DIR_ENT);
    if (buf == NULL) {
        return false;
    }
    if (r->buf != NULL) {
        memcpy(buf + at, r->d, (size_t)r->n * ZSET_DIR_ENT);
        free(r->buf);
    }
    r->buf = buf;
    r->d = buf + at;
    r->cap = cap;
    return true;
}

/* The root as it is now, with room for extra more entries. */
static coll_status_e
zdir_load(struct zset *z, struct zdir *r, uint32_t extra)
{
    const uint8_t *d;
    coll_status_e st = dir_view(z, &d);
    if (st != COLL_OK) {
        return st;
    }
    uint32_t ns = nsparts(z);
    if (!zdir_room(r, ns + extra)) {
        return COLL_ENOMEM;
    }
    memcpy(r->d, d, (size_t)ns * ZSET_DIR_ENT);
    r->n = ns;
    return COLL_OK;
}

/* Keeps part numbers nh .. nh + r->n - 1 for the entry parts: a part
 * holding a number past them moves into a free one below. */
static coll_status_e
zdir_renumber(struct zset *z, struct zdir *r)
{
    uint32_t total = z->nh + r->n;
    if (!r->freed) {
        return COLL_OK; /* parts added take the numbers past the others */
    }
    bool *used = NULL;
    uint32_t f = z->nh; /* the next free number to try */
    coll_status_e st = COLL_OK;
    for (uint32_t k = 0; k < r->n && st == COLL_OK; k++) {
        uint32_t no = dno(r->d, k);
        if (no < total) {
            continue;
        }
        if (used == NULL) {
            used = calloc(total, sizeof(*used));
            if (used == NULL) {
                return COLL_ENOMEM;
            }
            for (uint32_t j = 0; j < r->n; j++) {
                if (dno(r->d, j) < total) {
                    used[dno(r->d, j)] = true;
                }
            }
        }
        while (f < total && used[f]) {
            f++;
        }
        ASSERT(f < total);
        const uint8_t *img;
        size_t len;
        st = read_no(z, no, &img, &len);
        uint8_t *copy = st == COLL_OK ? malloc(len + 1) : NULL;
        if (st == COLL_OK && copy == NULL) {
            st = COLL_ENOMEM;
        }
        if (st == COLL_OK) {
            memcpy(copy, img, len);
            st = write_no(z, f, copy, len);
        }
        free(copy);
        if (st == COLL_OK) {
            delete_no(z, no);
            types_be_put(r->d + (size_t)ZSET_DIR_ENT * k, f, 4);
            used[f] = true;
        }
    }
    free(used);
    if (st == COLL_OK) {
        r->freed = false;
    }
    return st;
}

/* Writes the root from r (count z->n, nh z->nh) with a CAS on the version
 * opened, keeping its expiry. */
static coll_status_e
zdir_commit(struct zset *z, struct zdir *r)
{
    coll_status_e st = zdir_renumber(z, r);
    if (st != COLL_OK) {
        return st;
    }
    size_t vlen = root_len(r->n);
    if (vlen > storage_value_max(z->klen)) {
        return COLL_EOVERSIZE;
    }
    /* the header and blocks end where the entries start */
    uint8_t *v = r->d - 4 * nblocks(r->n) - ZSET_ROOT_HEAD;
    blocks_write(r->d, r->n);
    memcpy(v, z->id, 8);
    types_be_put(v + 8, z->nh + r->n, 4);
    v[12] = ZSET_ENC_SKIPLIST;
    types_be_put(v + ZSET_ROOT_COUNT, z->n, 8);
    types_be_put(v + ZSET_ROOT_COUNT + 8, z->nh, 4);
    struct storage_write w = {.mode = STORAGE_CAS,
            .cas = z->cas,
            .keep_ttl = true,
            .type = STORAGE_TYPE_ZSET,
            .parts = true};
    uint64_t cas = 0;
    z->hvalid = false;
    storage_status_e s = storage_set(
            z->db, z->key, z->klen, v, vlen, &w, z->now, NULL, &cas);
    if (s != STORAGE_OK) {
        return coll_status_of(s);
    }
    z->cas = cas;
    z->nparts = z->nh + r->n;
    return COLL_OK;
}

/* ---- a change of one member, written at once ---- */

/* In zpack image p, where (sb, m) is or would go: the byte offset and
 * index of the first entry not below it; *eq when that entry is it. One
 * walk, scores compared as their ordered bytes. */
/* A walk over a zpack image's entries (a store image: trusted): each
 * entry is varint(member length), member, 08, 8 score bytes. */
struct zwalk {
    const uint8_t *q;
    size_t left; /* entries */
};

static inline void
zwalk_init(struct zwalk *w, const uint8_t *p)
{
    uint64_t count;
    w->q = p + types_varint_read(p, &count);
    w->left = (size_t)count / 2;
}

static inline bool
zwalk_next(struct zwalk *w, const uint8_t **m, size_t *mlen, const uint8_t **sb)
{
    if (w->left == 0) {
        return false;
    }
    const uint8_t *q = w->q;
    if (*q < 0x80) {
        *mlen = *q++;
    } else {
        uint64_t v;
        q += types_varint_read(q, &v);
        *mlen = (size_t)v;
    }
    *m = q;
    q += *mlen + 1; /* the member, then the score's length byte */
    *sb = q;
    w->q = q + ZPACK_SCORE_LEN;
    w->left--;
    return true;
}

static void
zpart_seek(const uint8_t *p, size_t len, const uint8_t sb[ZPACK_SCORE_LEN],
        const void *m, size_t mlen, size_t *off, size_t *idx, bool *eq)
{
    struct zwalk w;
    zwalk_init(&w, p);
    size_t i = 0;
    *eq = false;
    *off = len;
    for (;;) {
        const uint8_t *at = w.q, *em, *es;
        size_t elen;
        if (!zwalk_next(&w, &em, &elen, &es)) {
            break;
        }
        int c = sb_cmp(es, sb);
        if (c == 0) {
            c = zpack_member_cmp(em, elen, m, mlen);
        }
        if (c >= 0) {
            *off = (size_t)(at - p);
            *eq = c == 0;
            break;
        }
        i++;
    }
    *idx = i;
}

/* One entry part's change: its image spliced (the untouched bytes copied,
 * nothing decoded), then, when it passes part_max, cut in two. */
struct zpart_edit {
    uint32_t k;         /* directory entry */
    const uint8_t *img; /* the image: the part's (a view) or own */
    size_t len;
    uint8_t *own;      /* img when changed: in scratch buffer own_slot */
    int slot;          /* the first of the edit's two scratch buffers */
    int own_slot;      /* -1: no own image */
    size_t n;          /* entries */
    uint8_t *out[2];   /* the images written: out[1] a cut's second half */
    bool out_alloc[2]; /* out[i] allocated (a cut), else scratch */
    size_t olen[2];
    size_t cut; /* entries in out[0] */
};

/* An edit whose images are built in the thread's scratch buffers slot and
 * slot + 1 (coll_scratch: 3-4 and 5-6; the index part's in 7), so that a
 * change allocates nothing but for a cut. */
static void
edit_init(struct zpart_edit *p, int slot)
{
    memset(p, 0, sizeof(*p));
    p->slot = slot;
    p->own_slot = -1;
}

static void
edit_release(struct zpart_edit *p)
{
    for (int i = 0; i < 2; i++) {
        if (p->out_alloc[i]) {
            free(p->out[i]);
        }
    }
    edit_init(p, p->slot);
}

static coll_status_e
edit_open(struct zset *z, const uint8_t *d, uint32_t k, struct zpart_edit *p)
{
    p->k = k;
    coll_status_e st = read_no(z, dno(d, k), &p->img, &p->len);
    if (st == COLL_OK) {
        p->n = dcnt(d, k);
        if (pack_count(p->img, p->len) != 2 * p->n) {
            st = broken(z);
        }
    }
    return st;
}

static coll_status_e
edit_splice(struct zpart_edit *p, size_t off, size_t ndel,
        const struct pack_elem *ins, size_t nins)
{
    size_t len = pack_splice_size(p->img, p->len, off, ndel, ins, nins);
    /* not the buffer img may be in */
    int slot = p->own_slot == p->slot ? p->slot + 1 : p->slot;
    uint8_t *buf = coll_scratch(slot, len + 1);
    if (buf == NULL) {
        return COLL_ENOMEM;
    }
    pack_splice_write(buf, p->img, p->len, off, ndel, ins, nins);
    p->own = buf;
    p->own_slot = slot;
    p->img = buf;
    p->len = len;
    p->n = p->n + nins / 2 - ndel / 2;
    return COLL_OK;
}

/* The largest entry part of a set of about bytes bytes of entries: parts
 * of about 8 x sqrt(bytes), within [1 KiB, zset_tune.part_max]. A change
 * walks one or two parts entry by entry and writes them whole, so its cost
 * grows with the part; a set's root holds a directory entry per part,
 * rewritten when a part is cut, so the number of parts should not grow as
 * fast as the set. 8 KiB parts from about 1 MB of entries (some 30,000
 * members of 20 bytes), 1.4 KiB for 1,000 such members (an eighth of the
 * walking and copying of 8 KiB parts: ZADD -r 1000). */
static size_t
part_max_for(uint64_t bytes)
{
    size_t max = zset_tune.part_max;
    size_t lo = max < 1024 ? max : 1024;
    double want = 8.0 * sqrt((double)bytes);
    return want >= (double)max ? max : want <= (double)lo ? lo : (size_t)want;
}

/* The images to write: the part as it is, or cut in two halves when it
 * passes the part size for a set of n entries like its own. */
static coll_status_e
edit_build(struct zpart_edit *p, size_t klen, uint64_t n)
{
    p->cut = p->n;
    if (p->n == 0) {
        return COLL_OK;
    }
    size_t max = storage_value_max(klen + STORAGE_PART_SUFFIX);
    if (p->len <= part_max_for(n * (p->len / p->n)) || p->n < 2) {
        if (p->len > max) {
            return COLL_EOVERSIZE;
        }
        p->out[0] = p->own;
        p->olen[0] = p->len;
        return COLL_OK;
    }
    p->cut = p->n / 2;
    size_t off = pack_offset(p->img, p->len, 2 * p->cut);
    p->olen[0] =
            pack_splice_size(p->img, p->len, off, 2 * (p->n - p->cut), NULL, 0);
    p->olen[1] = pack_splice_size(p->img, p->len,
            pack_offset(p->img, p->len, 0), 2 * p->cut, NULL, 0);
    if (p->olen[0] > max || p->olen[1] > max) {
        return COLL_EOVERSIZE;
    }
    p->out[0] = malloc(p->olen[0] + 1);
    p->out[1] = malloc(p->olen[1] + 1);
    p->out_alloc[0] = p->out_alloc[1] = true;
    if (p->out[0] == NULL || p->out[1] == NULL) {
        return COLL_ENOMEM;
    }
    pack_splice_write(
            p->out[0], p->img, p->len, off, 2 * (p->n - p->cut), NULL, 0);
    pack_splice_write(p->out[1], p->img, p->len, pack_offset(p->img, p->len, 0),
            2 * p->cut, NULL, 0);
    return COLL_OK;
}

/* The score bytes of image h's first entry. */
static void
edit_first(const struct zpart_edit *p, int h, uint8_t sc[ZPACK_SCORE_LEN])
{
    struct pack_elem e = pack_at(p->out[h], p->olen[h], 1);
    memcpy(sc, e.p, ZPACK_SCORE_LEN);
}

static coll_status_e index_grow(struct zset *z);
static coll_status_e index_room(struct zset *z, uint64_t h, size_t add);
static size_t index_target(const struct zset *z, size_t add);

static void
batch_free(struct zset *z)
{
    struct zbatch *b = z->batch;
    if (b == NULL) {
        return;
    }
    for (size_t i = 0; i < b->n; i++) {
        free(b->c[i].img);
    }
    free(b->c);
    zdir_release(&b->r);
    free(b);
    z->batch = NULL;
}

/* Writes what the batch holds: each part once (deletions last), then the
 * root with a CAS on the version opened; ends the batch. */
static coll_status_e
batch_flush(struct zset *z)
{
    struct zbatch *b = z->batch;
    if (b == NULL) {
        return COLL_OK;
    }
    z->batch = NULL; /* write_no and delete_no go to the store again */
    coll_status_e st = COLL_OK;
    for (size_t i = 0; i < b->n && st == COLL_OK; i++) {
        if (!b->c[i].gone) {
            st = write_no(z, b->c[i].no, b->c[i].img, b->c[i].len);
        }
    }
    if (st == COLL_OK && b->n > 0) {
        st = zdir_commit(z, &b->r);
    }
    for (size_t i = 0; i < b->n && st == COLL_OK; i++) {
        if (b->c[i].gone) {
            delete_no(z, b->c[i].no);
        }
    }
    z->batch = b;
    batch_free(z);
    return st;
}

/* A batch holding ZSET_BATCH_MAX parts is written and begun again. */
static coll_status_e
batch_bound(struct zset *z)
{
    if (z->batch == NULL || z->batch->n < ZSET_BATCH_MAX) {
        return COLL_OK;
    }
    coll_status_e st = batch_flush(z);
    return st == COLL_OK ? zset_batch(z) : st;
}

coll_status_e
zset_batch(struct zset *z)
{
    if (!z->lazy || z->batch != NULL) {
        return COLL_OK;
    }
    struct zbatch *b = calloc(1, sizeof(*b));
    if (b == NULL) {
        return COLL_ENOMEM;
    }
    coll_status_e st = zdir_load(z, &b->r, 64);
    if (st != COLL_OK) {
        zdir_release(&b->r);
        free(b);
        return st;
    }
    z->batch = b;
    return COLL_OK;
}

/* Deletes the version opened and, for a root, its parts. The command
 * tells of it (ks_coll_changed), not the delete. OK, NOT_FOUND, EXISTS. */
static storage_status_e
delete_whole(struct zset *z)
{
    z->hvalid = false;
    storage_status_e st =
            storage_delete(z->db, z->key, z->klen, z->cas, z->now);
    if (st == STORAGE_OK && z->parts) {
        for (uint32_t no = 0; no < z->nparts; no++) {
            delete_no(z, no);
        }
    }
    return st;
}

/* m leaves its entry (had, old score) and takes a new one (has, score s):
 * the index part and the entry parts are rebuilt in fresh buffers (a
 * write ends the views they are made from), then written, then the root
 * patched or, when parts were cut or emptied, rewritten. */
static coll_status_e
lazy_change(struct zset *z, const void *m, size_t mlen, bool had, double old,
        bool has, double s)
{
    uint8_t osb[ZPACK_SCORE_LEN], nsb[ZPACK_SCORE_LEN];
    zpack_score_put(osb, old);
    zpack_score_put(nsb, s);
    if (had && !has && z->n == 1) { /* the last member: the key goes */
        coll_status_e f = batch_flush(z);
        if (f != COLL_OK) {
            return f;
        }
        storage_status_e d = delete_whole(z);
        if (d != STORAGE_OK) {
            return COLL_RETRY;
        }
        z->n = 0;
        z->parts = z->lazy = false;
        z->exists = false;
        z->changed = true;
        return COLL_OK;
    }
    /* the index part */
    const uint8_t *img;
    size_t len;
    struct pack_pos pos;
    bool found;
    bool grown = false;
again:;
    coll_status_e st = index_find(z, m, mlen, &img, &len, &pos, &found);
    if (st != COLL_OK) {
        return st;
    }
    if (found != had) {
        return broken(z);
    }
    uint64_t h = types_hash(m, mlen);
    uint32_t bucket = (uint32_t)lhash_bucket(h, z->nh);
    size_t hlen;
    if (had && has) {
        hlen = ipack_replace_size(img, len, 2, &pos, 1, ZPACK_SCORE_LEN);
    } else if (has) {
        struct pack_elem g[2] = {{m, mlen}, {nsb, ZPACK_SCORE_LEN}};
        hlen = ipack_append_size(img, len, 2, g);
    } else {
        hlen = ipack_delete_size(img, len, 2, &pos);
    }
    if (has && !had && hlen > zset_tune.index_max && !grown &&
            hlen > index_target(z, hlen - len) &&
            ipack_groups(img, len, 2) > 0) {
        /* large members: the part would pass index_max (an item, soon) */
        grown = true;
        st = index_room(z, h, hlen - len);
        if (st != COLL_OK) {
            return st;
        }
        goto again;
    }
    uint8_t *hbuf = coll_scratch(7, hlen + 1);
    if (hbuf == NULL) {
        return COLL_ENOMEM;
    }
    if (had && has) {
        ipack_replace_write(hbuf, img, len, 2, &pos, 1, nsb, ZPACK_SCORE_LEN);
    } else if (has) {
        struct pack_elem g[2] = {{m, mlen}, {nsb, ZPACK_SCORE_LEN}};
        ipack_append_write(hbuf, img, len, 2, g, ipack_hash_of(h));
    } else {
        ipack_delete_write(hbuf, img, len, 2, &pos);
    }
    /* the entry parts: p[0] loses the old entry, p[1] gains the new one
     * (one edit when both are the same part) */
    struct zpart_edit p[2];
    edit_init(&p[0], 3);
    edit_init(&p[1], 5);
    int np = 0;
    const uint8_t *d;
    st = dir_view(z, &d);
    if (st == COLL_OK && had) {
        uint32_t k;
        size_t off, idx;
        bool eq;
        st = locate(z, d, osb, m, mlen, &k);
        if (st == COLL_OK) {
            st = edit_open(z, d, k, &p[0]);
            np = 1;
        }
        if (st == COLL_OK) {
            zpart_seek(p[0].img, p[0].len, osb, m, mlen, &off, &idx, &eq);
            st = eq ? edit_splice(&p[0], off, 2, NULL, 0) : broken(z);
        }
    }
    if (st == COLL_OK && has) {
        uint32_t k;
        size_t off, idx;
        bool eq;
        st = locate(z, d, nsb, m, mlen, &k);
        struct zpart_edit *q = &p[np];
        if (st == COLL_OK && np == 1 && k == p[0].k) {
            q = &p[0];
        } else if (st == COLL_OK) {
            st = edit_open(z, d, k, q);
            np++;
        }
        if (st == COLL_OK) {
            struct pack_elem ins[2] = {{m, mlen}, {nsb, ZPACK_SCORE_LEN}};
            zpart_seek(q->img, q->len, nsb, m, mlen, &off, &idx, &eq);
            st = eq ? broken(z) : edit_splice(q, off, 0, ins, 2);
        }
    }
    for (int i = 0; i < np && st == COLL_OK; i++) {
        st = edit_build(&p[i], z->klen, z->n);
    }
    /* the numbers the parts are written under, and their blocks' sums
     * as they will be, read before any write */
    uint32_t no[2] = {0, 0}, blk[2] = {0, 0};
    bool reshape = false;
    for (int i = 0; i < np && st == COLL_OK; i++) {
        no[i] = dno(d, p[i].k);
        reshape = reshape || p[i].n == 0 || p[i].cut < p[i].n;
        if (z->batch == NULL) {
            blk[i] = dblk(d, nsparts(z), p[i].k / ZSET_DIR_BLOCK);
        }
    }
    for (int i = 0; i < np && z->batch == NULL; i++) {
        for (int j = 0; j < np; j++) {
            if (p[j].k / ZSET_DIR_BLOCK == p[i].k / ZSET_DIR_BLOCK) {
                blk[i] += (uint32_t)p[j].n - dcnt(d, p[j].k);
            }
        }
    }
    /* writes: views end here */
    uint32_t next = z->nparts;
    uint32_t extra[2] = {0, 0};
    for (int i = 0; i < np && st == COLL_OK; i++) {
        if (p[i].n == 0) {
            continue;
        }
        st = write_no(z, no[i], p[i].out[0], p[i].olen[0]);
        if (st == COLL_OK && p[i].cut < p[i].n) {
            extra[i] = next++;
            st = write_no(z, extra[i], p[i].out[1], p[i].olen[1]);
        }
    }
    if (st == COLL_OK) {
        st = write_no(z, bucket, hbuf, hlen);
    }
    if (st == COLL_OK) {
        z->n = z->n - (had ? 1 : 0) + (has ? 1 : 0);
        z->changed = true;
    }
    if (st == COLL_OK && !reshape && z->batch != NULL) {
        /* the batch's directory: block sums are made when it is written */
        for (int i = 0; i < np; i++) {
            uint8_t *e = z->batch->r.d + (size_t)ZSET_DIR_ENT * p[i].k;
            types_be_put(e + 4, p[i].n, 4);
            edit_first(&p[i], 0, e + 8);
        }
    } else if (st == COLL_OK && !reshape) {
        /* the count and each part's entry [count 4][first score 8], in one
         * lookup of the root */
        uint8_t f[8 + 2 * (4 + ZPACK_SCORE_LEN) + 2 * 4];
        struct storage_patch_range pr[5];
        size_t npr = 0, dir = ZSET_ROOT_HEAD + 4 * nblocks(nsparts(z));
        types_be_put(f, z->n, 8);
        pr[npr++] = (struct storage_patch_range){ZSET_ROOT_COUNT, f, 8};
        for (int i = 0; i < np; i++) {
            uint8_t *e = f + 8 + (size_t)i * (4 + ZPACK_SCORE_LEN);
            types_be_put(e, p[i].n, 4);
            edit_first(&p[i], 0, e + 4);
            pr[npr++] = (struct storage_patch_range){
                    dir + (size_t)ZSET_DIR_ENT * p[i].k + 4, e,
                    4 + ZPACK_SCORE_LEN};
            uint8_t *b = f + 8 + 2 * (4 + ZPACK_SCORE_LEN) + 4 * (size_t)i;
            types_be_put(b, blk[i], 4);
            pr[npr++] = (struct storage_patch_range){
                    ZSET_ROOT_HEAD + 4 * (p[i].k / ZSET_DIR_BLOCK), b, 4};
        }
        z->hvalid = false;
        st = coll_status_of(storage_patch_many(
                z->db, z->key, z->klen, z->cas, pr, npr, z->now));
    } else if (st == COLL_OK) {
        struct zdir local = {0};
        struct zdir *r = z->batch != NULL ? &z->batch->r : &local;
        if (z->batch == NULL) {
            st = zdir_load(z, r, 2);
        } else if (!zdir_room(r, r->n + 2)) {
            st = COLL_ENOMEM;
        }
        /* the higher directory entry first: the lower keeps its index */
        int order[2] = {0, 1};
        if (np == 2 && p[1].k > p[0].k) {
            order[0] = 1;
            order[1] = 0;
        }
        for (int j = 0; j < np && st == COLL_OK; j++) {
            struct zpart_edit *q = &p[order[j]];
            uint32_t k = q->k;
            if (q->n == 0) {
                delete_no(z, dno(r->d, k));
                zdir_remove_at(r, k);
                continue;
            }
            uint8_t sc[ZPACK_SCORE_LEN];
            edit_first(q, 0, sc);
            zdir_set(r, k, dno(r->d, k), (uint32_t)q->cut, sc);
            if (q->cut < q->n) {
                zdir_open_at(r, k + 1);
                edit_first(q, 1, sc);
                zdir_set(r, k + 1, extra[order[j]], (uint32_t)(q->n - q->cut),
                        sc);
            }
        }
        if (st == COLL_OK && z->batch != NULL) {
            st = zdir_renumber(z, r);
            z->nparts = z->nh + r->n;
        } else if (st == COLL_OK) {
            st = zdir_commit(z, r);
        }
        zdir_release(&local);
    }
    edit_release(&p[0]);
    edit_release(&p[1]);
    if (st == COLL_OK && has && !had &&
            z->n > (uint64_t)z->nh * zset_tune.index_avg) {
        st = index_grow(z);
    }
    return st;
}

static bool
keep_low(uint32_t h, void *arg)
{
    return !lhash_split_moves(h, *(const uint32_t *)arg);
}

/* Grows the member index by one bucket (linear hashing: splits part
 * lhash_split_source(nh) in two by a hash bit) in rp, the root's directory
 * the caller writes. Number nh, which the new bucket takes, belongs to an
 * entry part: that part moves to a number past the others first. */
static coll_status_e
index_split(struct zset *z, struct zdir *rp)
{
    coll_status_e st;
    uint32_t n = z->nh;
    uint32_t src = (uint32_t)lhash_split_source(n);
    /* the entry part at number n moves to the first number past all */
    uint32_t top = z->nh + rp->n;
    uint32_t k = 0;
    while (k < rp->n && dno(rp->d, k) != n) {
        k++;
    }
    if (k == rp->n) {
        return broken(z);
    }
    const uint8_t *img;
    size_t len;
    st = read_no(z, n, &img, &len);
    uint8_t *copy = st == COLL_OK ? malloc(len + 1) : NULL;
    if (st == COLL_OK && copy == NULL) {
        st = COLL_ENOMEM;
    }
    if (st == COLL_OK) {
        memcpy(copy, img, len);
        st = write_no(z, top, copy, len);
    }
    free(copy);
    if (st != COLL_OK) {
        return st;
    }
    types_be_put(rp->d + (size_t)ZSET_DIR_ENT * k, top, 4);
    /* the bucket split */
    st = read_no(z, src, &img, &len);
    if (st != COLL_OK) {
        return st;
    }
    struct ipack_split sp;
    ipack_split_size(img, len, 2, keep_low, &n, &sp);
    uint8_t *buf = malloc(sp.len[0] + sp.len[1] + 1);
    if (buf == NULL) {
        return COLL_ENOMEM;
    }
    uint8_t *dst[2] = {buf, buf + sp.len[0]};
    ipack_split_write(dst, img, len, 2, keep_low, &n, &sp);
    st = write_no(z, src, dst[0], sp.len[0]);
    if (st == COLL_OK) {
        st = write_no(z, n, dst[1], sp.len[1]);
    }
    free(buf);
    if (st == COLL_OK) {
        z->nh++;
        /* the root: nparts counts the moved part at top meanwhile */
        z->nparts++;
    }
    return st;
}

/* Grows the member index by up to 8 buckets while it holds more than
 * index_avg members a part, then rewrites the root once. */
static coll_status_e
index_grow(struct zset *z)
{
    struct zdir local = {0};
    struct zdir *rp = z->batch != NULL ? &z->batch->r : &local;
    coll_status_e st = z->batch != NULL ? COLL_OK : zdir_load(z, rp, 0);
    for (int i = 0; i < 8 && st == COLL_OK &&
                    z->n > (uint64_t)z->nh * zset_tune.index_avg;
            i++) {
        st = index_split(z, rp);
    }
    if (st == COLL_OK && z->batch == NULL) {
        st = zdir_commit(z, rp);
    }
    zdir_release(&local);
    return st;
}

/* The most bytes an index part may reach with a new member of add bytes
 * (its entry and hash) before the index grows: index_max and two more
 * such members (a part of index_avg members of 60 KB would pass one item:
 * large members are kept two or three a part), within one item. */
static size_t
index_target(const struct zset *z, size_t add)
{
    size_t t = zset_tune.index_max + 2 * add;
    size_t item = storage_value_max(z->klen + STORAGE_PART_SUFFIX);
    return t < item ? t : item;
}

/* Grows the member index until the part of hash h's bucket has room for
 * add more bytes within index_target, or that part holds no member; then
 * rewrites the root once. Linear hashing splits buckets in order, so
 * h's is split within nh
 * steps, again while its members share more hash bits: bounded by
 * 4 x nh + 64 steps. Members past half an item may
 * still meet in one part: that write is refused (COLL_EOVERSIZE). */
static coll_status_e
index_room(struct zset *z, uint64_t h, size_t add)
{
    struct zdir local = {0};
    struct zdir *rp = z->batch != NULL ? &z->batch->r : &local;
    coll_status_e st = z->batch != NULL ? COLL_OK : zdir_load(z, rp, 0);
    uint64_t limit = 4 * (uint64_t)z->nh + 64;
    size_t target = index_target(z, add);
    for (uint64_t i = 0; i < limit && st == COLL_OK; i++) {
        const uint8_t *img;
        size_t len;
        st = read_no(z, (uint32_t)lhash_bucket(h, z->nh), &img, &len);
        if (st != COLL_OK || len + add <= target ||
                ipack_groups(img, len, 2) == 0) {
            break;
        }
        st = index_split(z, rp);
    }
    if (st == COLL_OK && z->batch == NULL) {
        st = zdir_commit(z, rp);
    }
    zdir_release(&local);
    return st;
}

/* ---- building a set in parts at once ---- */

/* Writes e[0..n) (sorted, unique) as a set in parts under a fresh id, the
 * root with w; *old gets the replaced item's view (may be NULL). */
static coll_status_e
build_parts(struct zset *z, const struct zpack_ent *e, size_t n,
        struct storage_write *w, struct storage_item *old, uint64_t *cas)
{
    /* entry parts: chunks of about fill bytes, three quarters of the
     * part size for a set of this many bytes (part_max_for) */
    size_t all = 0;
    for (size_t i = 0; i < n; i++) {
        all += pack_elem_size(e[i].mlen) + pack_elem_size(ZPACK_SCORE_LEN);
    }
    size_t fill = part_max_for(all) / 4 * 3;
    fill = fill < zset_tune.part_fill ? fill : zset_tune.part_fill;
    size_t nchunks = 0, cur = 0, cnt = 0;
    size_t *cut = malloc((n + 1) * sizeof(*cut)); /* chunk j starts at cut[j] */
    /* index parts of index_avg / 2 members, or of half index_max bytes
     * for large members (index_room keeps them so as members come) */
    uint64_t nh_count = n / (zset_tune.index_avg / 2 + 1) + 1;
    uint64_t nh_bytes =
            (all + n * (uint64_t)IPACK_HASH_SIZE) / (zset_tune.index_max / 2) +
            1;
    uint64_t nh_want = nh_count > nh_bytes ? nh_count : nh_bytes;
    uint32_t nh = (uint32_t)(nh_want < n ? nh_want : (n > 0 ? n : 1));
    uint32_t *bk = malloc((n + 1) * sizeof(*bk));
    size_t *hbytes = calloc(nh, sizeof(*hbytes));
    size_t *hgroups = calloc(nh, sizeof(*hgroups));
    size_t *hat = calloc(nh, sizeof(*hat));
    size_t *hidx = calloc(nh, sizeof(*hidx));
    uint8_t *buf = NULL;
    coll_status_e st = COLL_ENOMEM;
    if (cut == NULL || bk == NULL || hbytes == NULL || hgroups == NULL ||
            hat == NULL || hidx == NULL) {
        goto out;
    }
    size_t sbytes = 0;
    for (size_t i = 0; i < n; i++) {
        size_t es = pack_elem_size(e[i].mlen) + pack_elem_size(ZPACK_SCORE_LEN);
        if (cnt > 0 && cur + es + pack_head_size(2 * (cnt + 1)) > fill) {
            sbytes += cur + pack_head_size(2 * cnt);
            cur = cnt = 0;
        }
        if (cnt == 0) {
            cut[nchunks++] = i;
        }
        cur += es;
        cnt++;
    }
    sbytes += cur + pack_head_size(2 * cnt);
    cut[nchunks] = n;
    /* the index parts' sizes; twice the parts while one would pass an
     * item (large members meeting in one) */
    size_t item = storage_value_max(z->klen + STORAGE_PART_SUFFIX);
    for (;;) {
        size_t most = 0;
        for (size_t i = 0; i < n; i++) {
            bk[i] = (uint32_t)lhash_bucket(types_hash(e[i].m, e[i].mlen), nh);
            hbytes[bk[i]] += pack_elem_size(e[i].mlen) +
                             pack_elem_size(ZPACK_SCORE_LEN) + IPACK_HASH_SIZE;
            hgroups[bk[i]]++;
        }
        for (uint32_t b = 0; b < nh; b++) {
            hbytes[b] += pack_head_size(2 * hgroups[b]);
            most = hbytes[b] > most ? hbytes[b] : most;
        }
        if (most <= item || nh >= 4 * (uint64_t)n + 16) {
            break;
        }
        nh *= 2;
        free(hbytes);
        free(hgroups);
        free(hat);
        free(hidx);
        hbytes = calloc(nh, sizeof(*hbytes));
        hgroups = calloc(nh, sizeof(*hgroups));
        hat = calloc(nh, sizeof(*hat));
        hidx = calloc(nh, sizeof(*hidx));
        if (hbytes == NULL || hgroups == NULL || hat == NULL || hidx == NULL) {
            goto out;
        }
    }
    size_t hall = 0;
    for (uint32_t b = 0; b < nh; b++) {
        hat[b] = hall;
        hall += hbytes[b];
    }
    size_t rlen = root_len((uint32_t)nchunks);
    if (rlen > storage_value_max(z->klen)) {
        st = COLL_EOVERSIZE;
        goto out;
    }
    buf = malloc(sbytes + hall + rlen + 1);
    if (buf == NULL) {
        goto out;
    }
    uint8_t *root = buf + sbytes + hall;
    ks_new_id(z->id);
    z->nh = nh;
    z->nparts = nh + (uint32_t)nchunks;
    z->n = n;
    memcpy(root, z->id, 8);
    types_be_put(root + 8, z->nparts, 4);
    root[12] = ZSET_ENC_SKIPLIST;
    types_be_put(root + ZSET_ROOT_COUNT, n, 8);
    types_be_put(root + ZSET_ROOT_COUNT + 8, nh, 4);
    /* entry parts, one after another in buf */
    size_t off = 0;
    uint8_t *s0 = buf;
    for (size_t j = 0; j < nchunks; j++) {
        size_t a = cut[j], b = cut[j + 1];
        uint8_t *de = root + ZSET_ROOT_HEAD + 4 * nblocks((uint32_t)nchunks) +
                      j * ZSET_DIR_ENT;
        types_be_put(de, nh + (uint32_t)j, 4);
        types_be_put(de + 4, b - a, 4);
        zpack_score_put(de + 8, e[a].score);
        off += zpack_write(s0 + off, e + a, b - a);
    }
    blocks_write(root + ZSET_ROOT_HEAD + 4 * nblocks((uint32_t)nchunks),
            (uint32_t)nchunks);
    /* index parts: heads, then groups in order, then their hashes */
    uint8_t *h0 = buf + sbytes;
    for (uint32_t b = 0; b < nh; b++) {
        hidx[b] = hat[b] + pack_head_write(h0 + hat[b], 2 * hgroups[b]);
    }
    for (size_t i = 0; i < n; i++) {
        uint8_t sb[ZPACK_SCORE_LEN];
        zpack_score_put(sb, e[i].score);
        hidx[bk[i]] += pack_elem_write(h0 + hidx[bk[i]], e[i].m, e[i].mlen);
        hidx[bk[i]] += pack_elem_write(h0 + hidx[bk[i]], sb, ZPACK_SCORE_LEN);
    }
    for (size_t i = 0; i < n; i++) {
        hidx[bk[i]] += ipack_hash_write(
                h0 + hidx[bk[i]], ipack_hash_of(types_hash(e[i].m, e[i].mlen)));
    }
    /* the writes: every view of e ends with the first */
    z->expiry = w->keep_ttl ? z->expiry : w->expiry;
    st = COLL_OK;
    off = 0;
    for (size_t j = 0; j < nchunks && st == COLL_OK; j++) {
        size_t len =
                pack_offset(s0 + off, sbytes - off, 2 * (cut[j + 1] - cut[j]));
        st = write_no(z, nh + (uint32_t)j, s0 + off, len);
        off += len;
    }
    for (uint32_t b = 0; b < nh && st == COLL_OK; b++) {
        st = write_no(z, b, h0 + hat[b], hbytes[b]);
    }
    if (st == COLL_OK) {
        w->type = STORAGE_TYPE_ZSET;
        w->parts = true;
        st = coll_status_of(storage_set(
                z->db, z->key, z->klen, root, rlen, w, z->now, old, cas));
    }
out:
    free(cut);
    free(bk);
    free(hbytes);
    free(hgroups);
    free(hat);
    free(hidx);
    free(buf);
    return st;
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
    unsigned kf = flags & (KS_NOTOUCH | KS_NOSTATS);
    struct storage_item it;
    for (;;) {
        ks_lookup_e l =
                ks_lookup(db, key, klen, STORAGE_TYPE_ZSET, kf, now, &it);
        if (l == KS_WRONGTYPE) {
            return COLL_WRONGTYPE;
        }
        if (l == KS_MISS) {
            return COLL_MISS;
        }
        if (it.parts && !z->locked && !(flags & COLL_LOCKED)) {
            ks_lock(z->stripe); /* a reader of parts: under the lock */
            z->locked = true;
            kf |= KS_NOSTATS;
            continue;
        }
        break;
    }
    z->cas = it.cas;
    z->expiry = it.expiry;
    if (it.parts) {
        if (!root_decode(z, &it)) {
            z->n = 0;
            return COLL_MISS;
        }
        z->enc = ZSET_ENC_SKIPLIST;
        z->parts = true;
        z->exists = true;
        if (flags & ZSET_LAZY) {
            z->lazy = true;
            return COLL_OK;
        }
        /* every part decoded, in order */
        size_t count = z->n;
        z->n = 0;
        if (!reserve(z, count + 1)) {
            return COLL_ENOMEM;
        }
        const uint8_t *d = it.value + ZSET_ROOT_HEAD + 4 * nblocks(nsparts(z));
        for (uint32_t k = 0; k < nsparts(z); k++) {
            const uint8_t *img;
            size_t len;
            coll_status_e st = read_no(z, dno(d, k), &img, &len);
            if (st != COLL_OK) {
                return st;
            }
            size_t c = zpack_count(img, len);
            if (c != dcnt(d, k) || z->n + c > count) {
                return broken(z);
            }
            zpack_decode(img, len, z->e + z->n);
            z->n += c;
        }
        if (z->n != count) {
            return broken(z);
        }
        return COLL_OK;
    }
    if (it.vlen < 1 || it.value[0] > ZSET_ENC_SKIPLIST) {
        return COLL_MISS;
    }
    z->enc = it.value[0];
    size_t n = zpack_count(it.value + 1, it.vlen - 1);
    if (!reserve(z, n + 1)) {
        return COLL_ENOMEM;
    }
    zpack_decode(it.value + 1, it.vlen - 1, z->e);
    z->n = n;
    z->wn = n;
    z->exists = true;
    return COLL_OK;
}

void
zset_close(struct zset *z)
{
    batch_free(z); /* not written: a failed command's */
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
    ASSERT(!z->lazy);
    return zpack_find(z->e, z->n, m, mlen);
}

/* The array form's put (inline, or a set in parts decoded whole). */
static coll_status_e
array_put(struct zset *z, const void *m, size_t mlen, double s)
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

coll_status_e
zset_put(struct zset *z, const void *m, size_t mlen, double s)
{
    if (!z->lazy) {
        return array_put(z, m, mlen, s);
    }
    double old = 0;
    coll_status_e st = lazy_score(z, m, mlen, &old);
    if (st == COLL_OK && old == s) {
        return COLL_OK;
    }
    if (st != COLL_OK && st != COLL_MISS) {
        return st;
    }
    z->wn = 0; /* the window's views end with the writes */
    bool had = st == COLL_OK;
    if ((st = batch_bound(z)) != COLL_OK) {
        return st;
    }
    return lazy_change(z, m, mlen, had, old, true, s);
}

void
zset_remove(struct zset *z, size_t from, size_t count)
{
    ASSERT(!z->lazy);
    if (count == 0) {
        return;
    }
    memmove(z->e + from, z->e + from + count,
            (z->n - from - count) * sizeof(*z->e));
    z->n -= count;
    z->dirty = true;
}

coll_status_e
zset_del(struct zset *z, const void *m, size_t mlen, bool *removed)
{
    *removed = false;
    if (!z->lazy) {
        long i = zset_find(z, m, mlen);
        if (i >= 0) {
            zset_remove(z, (size_t)i, 1);
            *removed = true;
        }
        return COLL_OK;
    }
    double old = 0;
    coll_status_e st = lazy_score(z, m, mlen, &old);
    if (st == COLL_MISS) {
        return COLL_OK;
    }
    if (st != COLL_OK) {
        return st;
    }
    z->wn = 0;
    if ((st = batch_bound(z)) != COLL_OK) {
        return st;
    }
    st = lazy_change(z, m, mlen, true, old, false, 0);
    *removed = st == COLL_OK;
    return st;
}

coll_status_e
zset_score(struct zset *z, const void *m, size_t mlen, double *score)
{
    if (z->lazy) {
        return lazy_score(z, m, mlen, score);
    }
    long i = zset_find(z, m, mlen);
    if (i < 0) {
        return COLL_MISS;
    }
    *score = z->e[i].score;
    return COLL_OK;
}

coll_status_e
zset_rank(struct zset *z, const void *m, size_t mlen, uint64_t *rank)
{
    if (!z->lazy) {
        long i = zset_find(z, m, mlen);
        if (i < 0) {
            return COLL_MISS;
        }
        *rank = (uint64_t)i;
        return COLL_OK;
    }
    double s;
    coll_status_e st = lazy_score(z, m, mlen, &s);
    if (st != COLL_OK) {
        return st;
    }
    uint8_t sb[ZPACK_SCORE_LEN];
    zpack_score_put(sb, s);
    const uint8_t *d, *img;
    size_t len, off, at;
    uint32_t k;
    bool eq;
    st = dir_view(z, &d);
    if (st == COLL_OK) {
        st = locate(z, d, sb, m, mlen, &k);
    }
    if (st == COLL_OK) {
        st = read_no(z, dno(d, k), &img, &len);
    }
    if (st == COLL_OK) {
        zpart_seek(img, len, sb, m, mlen, &off, &at, &eq);
        if (!eq) {
            return broken(z);
        }
        *rank = count_before(z, d, k) + at;
    }
    return st;
}

/* zset_below and zset_count_while: the entries before the first one of
 * part lo - 1 (in directory order) that test refuses, counted from the
 * block sums; 0 when lo is 0 (the first part's first entry is refused). */
typedef bool entry_test_fn(
        const uint8_t *m, size_t mlen, const uint8_t *sb, void *arg);

static coll_status_e
count_into(struct zset *z, const uint8_t *d, uint32_t lo, entry_test_fn *test,
        void *arg, uint64_t *n)
{
    if (lo == 0) {
        *n = 0;
        return COLL_OK;
    }
    const uint8_t *img;
    size_t len;
    coll_status_e st = read_no(z, dno(d, lo - 1), &img, &len);
    if (st != COLL_OK) {
        return st;
    }
    struct zwalk w;
    zwalk_init(&w, img);
    const uint8_t *em, *es;
    size_t elen, i = 0;
    while (zwalk_next(&w, &em, &elen, &es) && test(em, elen, es, arg)) {
        i++;
    }
    *n = count_before(z, d, lo - 1) + i;
    return COLL_OK;
}

struct below_arg {
    const uint8_t *sb;
    bool incl;
};

static bool
entry_below(const uint8_t *m, size_t mlen, const uint8_t *sb, void *arg)
{
    (void)m;
    (void)mlen;
    const struct below_arg *a = arg;
    int c = sb_cmp(sb, a->sb);
    return a->incl ? c <= 0 : c < 0;
}

struct while_arg {
    zset_pred_fn *pred;
    void *arg;
};

static bool
entry_while(const uint8_t *m, size_t mlen, const uint8_t *sb, void *arg)
{
    (void)sb;
    const struct while_arg *a = arg;
    return a->pred(m, mlen, a->arg);
}

coll_status_e
zset_below(struct zset *z, double s, bool incl, uint64_t *n)
{
    if (!z->lazy) {
        size_t lo = 0, hi = z->n;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (incl ? z->e[mid].score <= s : z->e[mid].score < s) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        *n = lo;
        return COLL_OK;
    }
    if (s == INFINITY && incl) {
        *n = z->n;
        return COLL_OK;
    }
    if (s == -INFINITY && !incl) {
        *n = 0;
        return COLL_OK;
    }
    uint8_t sb[ZPACK_SCORE_LEN];
    zpack_score_put(sb, s);
    const uint8_t *d;
    coll_status_e st = dir_view(z, &d);
    if (st != COLL_OK) {
        return st;
    }
    /* parts whose first entry is below: all but the last of them are
     * below whole */
    uint32_t lo = 0, hi = nsparts(z);
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = sb_cmp(dscore(d, mid), sb);
        if (incl ? c <= 0 : c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    struct below_arg a = {sb, incl};
    return count_into(z, d, lo, entry_below, &a, n);
}

coll_status_e
zset_count_while(struct zset *z, zset_pred_fn *pred, void *arg, uint64_t *n)
{
    if (!z->lazy) {
        size_t i = 0;
        while (i < z->n && pred(z->e[i].m, z->e[i].mlen, arg)) {
            i++;
        }
        *n = i;
        return COLL_OK;
    }
    const uint8_t *d;
    coll_status_e st = dir_view(z, &d);
    if (st != COLL_OK) {
        return st;
    }
    /* the first part whose first member pred does not hold for */
    uint32_t lo = 0, hi = nsparts(z);
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        const uint8_t *img;
        size_t len;
        st = read_no(z, dno(d, mid), &img, &len);
        if (st != COLL_OK) {
            return st;
        }
        struct pack_elem first = pack_at(img, len, 0);
        if (pred(first.p, first.len, arg)) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    struct while_arg a = {pred, arg};
    return count_into(z, d, lo, entry_while, &a, n);
}

coll_status_e
zset_window(struct zset *z, uint64_t from, uint64_t n)
{
    if (!z->lazy) {
        return COLL_OK;
    }
    z->base = from;
    z->wn = 0;
    if (n == 0 || from >= z->n) {
        return COLL_OK;
    }
    if (n > z->n - from) {
        n = z->n - from;
    }
    const uint8_t *d;
    coll_status_e st = dir_view(z, &d);
    if (st != COLL_OK) {
        return st;
    }
    if (!reserve(z, n + 1)) {
        return COLL_ENOMEM;
    }
    /* the part holding rank from: walked from the nearer end */
    uint32_t ns = nsparts(z), k;
    uint64_t first; /* rank of part k's first entry */
    if (from < z->n / 2) {
        k = 0;
        first = 0;
        while (first + dcnt(d, k) <= from) {
            first += dcnt(d, k);
            k++;
        }
    } else {
        k = ns - 1;
        first = z->n - dcnt(d, k);
        while (first > from) {
            k--;
            first -= dcnt(d, k);
        }
    }
    size_t got = 0;
    for (; k < ns && got < n; k++) {
        const uint8_t *img;
        size_t len;
        st = read_no(z, dno(d, k), &img, &len);
        if (st != COLL_OK) {
            break;
        }
        size_t c = dcnt(d, k);
        size_t a = first < from ? (size_t)(from - first) : 0;
        struct zwalk w;
        zwalk_init(&w, img);
        if (w.left != c) {
            st = broken(z);
            break;
        }
        const uint8_t *em, *es;
        size_t elen;
        for (size_t i = 0; got < n && zwalk_next(&w, &em, &elen, &es); i++) {
            if (i >= a) {
                z->e[got++] = (struct zpack_ent){em, elen, zpack_score_get(es)};
            }
        }
        first += c;
    }
    z->wn = got;
    return st;
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

/* Writes the n entries e as the key's value with w: inline, or in parts
 * when a skiplist image passes inline_max. A replaced root's parts are
 * dropped. */
static coll_status_e
write_set(struct zset *z, uint8_t enc, const struct zpack_ent *e, size_t n,
        struct storage_write *w)
{
    struct storage_item old = {.key = NULL};
    uint64_t cas = 0;
    coll_status_e st;
    if (enc == ZSET_ENC_SKIPLIST &&
            1 + zpack_size(e, n) > zset_tune.inline_max) {
        st = build_parts(z, e, n, w, &old, &cas);
        if (st == COLL_OK) {
            z->parts = true;
        }
    } else {
        st = write_image(z->db, z->key, z->klen, enc, e, n, w, z->now, &old);
        if (st == COLL_OK) {
            z->parts = false;
        }
    }
    if (st == COLL_OK && old.key != NULL) {
        ks_drop_parts(z->db, &old, z->now);
    }
    return st;
}

coll_status_e
zset_commit(struct zset *z)
{
    if (z->batch != NULL) {
        coll_status_e st = batch_flush(z);
        if (st != COLL_OK) {
            return st;
        }
    }
    if (z->lazy) {
        if (z->changed) {
            ks_stripe_changed(z->stripe);
            z->changed = false;
        }
        return COLL_OK;
    }
    if (!z->dirty) {
        return COLL_OK;
    }
    if (z->n == 0) {
        if (z->exists) {
            storage_status_e st = delete_whole(z);
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
    coll_status_e st = write_set(z, enc, z->e, z->n, &w);
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
    struct zset z;
    memset(&z, 0, sizeof(z));
    z.db = db;
    z.key = key;
    z.klen = klen;
    z.now = now;
    struct storage_write w = {.mode = STORAGE_SET, .expiry = TIME_NEVER};
    return write_set(&z,
            fits_listpack(e, n) ? ZSET_ENC_LISTPACK : ZSET_ENC_SKIPLIST, e, n,
            &w);
}

const char *
zset_encoding_name(const struct storage_item *it)
{
    return !it->parts && it->vlen >= 1 && it->value[0] == ZSET_ENC_LISTPACK
                   ? "listpack"
                   : "skiplist";
}
