/* SPDX-License-Identifier: Apache-2.0 */
/* Lists in the keyspace (lcoll.h). */
#include "processor/lcoll.h"

#include "base/time.h"
#include "base/util.h"
#include "types/types.h"

#include <stdlib.h>
#include <string.h>

int32_t list_max_listpack_size = -2;

size_t
list_part_max(void)
{
    int32_t fill = __atomic_load_n(&list_max_listpack_size, __ATOMIC_RELAXED);
    if (fill >= 0) {
        return 8192;
    }
    return fill <= -5 ? 65536 : (size_t)4096 << (-fill - 1);
}

static bool
dir_reserve(struct list *l, uint32_t n)
{
    if (n <= l->cap) {
        return true;
    }
    uint32_t cap = l->cap < 8 ? 8 : l->cap;
    while (cap < n) {
        cap *= 2;
    }
    uint32_t *no = realloc(l->no, cap * sizeof(*no));
    if (no == NULL) {
        return false;
    }
    l->no = no;
    uint32_t *cnt = realloc(l->cnt, cap * sizeof(*cnt));
    if (cnt == NULL) {
        return false;
    }
    l->cnt = cnt;
    l->cap = cap;
    return true;
}

/* Directory entry k (0 or nparts - 1 while only the ends are decoded). */
static uint32_t
end_slot(const struct list *l, uint32_t k)
{
    ASSERT(k == 0 || k + 1 == l->nparts);
    (void)l;
    return k == 0 ? 0 : 1;
}

static uint32_t
dir_no(const struct list *l, uint32_t k)
{
    return l->ends ? l->end_no[end_slot(l, k)] : l->no[k];
}

static uint32_t
dir_cnt(const struct list *l, uint32_t k)
{
    return l->ends ? l->end_cnt[end_slot(l, k)] : l->cnt[k];
}

/* Entry k's count after a splice: an end entry's is patched in place by
 * the commit, another's makes it rewrite the root. */
static void
dir_set_cnt(struct list *l, uint32_t k, uint32_t n)
{
    if (l->ends) {
        l->end_cnt[end_slot(l, k)] = n;
    } else {
        l->cnt[k] = n;
    }
    if (k == 0) {
        l->touched |= 1;
    } else if (k + 1 == l->nparts) {
        l->touched |= 2;
    } else {
        l->reshaped = true;
    }
}

static bool
decode(struct list *l, const struct storage_item *it, bool ends)
{
    l->cas = it->cas;
    l->expiry = it->expiry;
    l->parts = it->parts;
    if (!it->parts) {
        if (it->vlen < 2 || it->value[0] != LIST_ENC_PACK) {
            return false;
        }
        l->img = it->value + 1;
        l->len = it->vlen - 1;
        l->count = pack_count(l->img, l->len);
        return true;
    }
    if (it->vlen < LIST_ROOT_HEAD) {
        return false;
    }
    memcpy(l->id, it->value, 8);
    uint32_t n = (uint32_t)types_be_get(it->value + 8, 4);
    if (n == 0 || it->vlen != LIST_ROOT_HEAD + (size_t)n * 8) {
        return false;
    }
    l->count = types_be_get(it->value + LIST_ROOT_COUNT, 8);
    l->nparts = n;
    const uint8_t *d = it->value + LIST_ROOT_HEAD;
    if (ends) { /* O(1) whatever the length: the two end entries */
        for (int e = 0; e < 2; e++) {
            const uint8_t *p = d + (e == 0 ? 0 : 8 * (size_t)(n - 1));
            l->end_no[e] = (uint32_t)types_be_get(p, 4);
            l->end_cnt[e] = (uint32_t)types_be_get(p + 4, 4);
        }
        l->ends = true;
        return true;
    }
    if (!dir_reserve(l, n)) {
        return false;
    }
    for (uint32_t i = 0; i < n; i++) {
        l->no[i] = (uint32_t)types_be_get(d + 8 * i, 4);
        l->cnt[i] = (uint32_t)types_be_get(d + 8 * i + 4, 4);
    }
    return true;
}

coll_status_e
list_open(struct list *l, uint8_t db, const void *key, size_t klen, bool write,
        unsigned flags, uint64_t now)
{
    memset(l, 0, sizeof(*l));
    l->db = db;
    l->key = key;
    l->klen = klen;
    l->now = now;
    l->stripe = ks_stripe(db, key, klen);
    if (write && !(flags & COLL_LOCKED)) {
        ks_lock(l->stripe);
        l->locked = true;
    }
    unsigned kf = flags & (KS_NOTOUCH | KS_NOSTATS);
    struct storage_item it;
    for (;;) {
        ks_lookup_e r =
                ks_lookup(db, key, klen, STORAGE_TYPE_LIST, kf, now, &it);
        if (r == KS_WRONGTYPE) {
            return COLL_WRONGTYPE;
        }
        if (r == KS_MISS) {
            return COLL_MISS;
        }
        if (it.parts && !l->locked && !(flags & COLL_LOCKED)) {
            ks_lock(l->stripe); /* a reader of parts: under the lock */
            l->locked = true;
            kf |= KS_NOSTATS;
            continue;
        }
        break;
    }
    if (!decode(l, &it, (flags & LIST_ENDS) != 0)) {
        l->parts = false;
        l->ends = false;
        l->nparts = 0;
        l->count = 0;
        l->img = NULL;
        return COLL_MISS;
    }
    l->exists = true;
    return COLL_OK;
}

void
list_close(struct list *l)
{
    if (l->locked) {
        ks_unlock(l->stripe);
        l->locked = false;
    }
    free(l->own);
    free(l->no);
    free(l->cnt);
    l->own = NULL;
    l->no = l->cnt = NULL;
}

uint32_t
list_nparts(const struct list *l)
{
    if (l->parts) {
        return l->nparts;
    }
    return l->count > 0 ? 1 : 0;
}

uint32_t
list_part_count(const struct list *l, uint32_t k)
{
    return l->parts ? dir_cnt(l, k) : (uint32_t)l->count;
}

uint32_t
list_locate(const struct list *l, uint64_t i, uint64_t *in)
{
    if (!l->parts) {
        *in = i;
        return 0;
    }
    if (i < dir_cnt(l, 0)) { /* the ends, at once */
        *in = i;
        return 0;
    }
    uint64_t tail = dir_cnt(l, l->nparts - 1);
    if (i >= l->count - tail) {
        *in = i - (l->count - tail);
        return l->nparts - 1;
    }
    ASSERT(!l->ends);
    uint32_t k = 0;
    while (i >= l->cnt[k]) {
        i -= l->cnt[k];
        k++;
    }
    *in = i;
    return k;
}

static size_t
part_key(const struct list *l, uint8_t *dst, uint32_t no)
{
    return ks_part_key(dst, l->key, l->klen, l->id, no);
}

/* A part was missing: eviction is taking the key; finish that. */
static coll_status_e
broken(struct list *l)
{
    struct storage_item it;
    if (storage_peek(l->db, l->key, l->klen, l->now, &it) == STORAGE_OK &&
            it.cas == l->cas) {
        ks_delete(l->db, l->key, l->klen, l->now);
    }
    return COLL_RETRY;
}

/* The whole directory, for a change that reshapes it or a root written
 * whole: the middle entries from the root as opened (under the stripe
 * lock nobody else changes it), the ends as this struct has them. */
static coll_status_e
dir_load(struct list *l)
{
    if (!l->ends) {
        return COLL_OK;
    }
    struct storage_item it;
    uint32_t n = l->nparts;
    if (storage_peek(l->db, l->key, l->klen, l->now, &it) != STORAGE_OK ||
            it.cas != l->cas || !it.parts ||
            it.vlen != LIST_ROOT_HEAD + (size_t)n * 8) {
        return broken(l);
    }
    if (!dir_reserve(l, n)) {
        return COLL_ENOMEM;
    }
    const uint8_t *d = it.value + LIST_ROOT_HEAD;
    for (uint32_t i = 1; i + 1 < n; i++) {
        l->no[i] = (uint32_t)types_be_get(d + 8 * i, 4);
        l->cnt[i] = (uint32_t)types_be_get(d + 8 * i + 4, 4);
    }
    l->no[n - 1] = l->end_no[1];
    l->cnt[n - 1] = l->end_cnt[1];
    l->no[0] = l->end_no[0]; /* after the last: n may be 1 */
    l->cnt[0] = l->end_cnt[0];
    l->ends = false;
    return COLL_OK;
}

static coll_status_e
read_no(struct list *l, uint32_t no, const uint8_t **img, size_t *len)
{
    uint8_t pk[STORAGE_KEY_MAX + STORAGE_PART_SUFFIX];
    size_t n = part_key(l, pk, no);
    struct storage_item it;
    if (storage_peek(l->db | STORAGE_DB_PARTS, pk, n, l->now, &it) !=
            STORAGE_OK) {
        return broken(l);
    }
    *img = it.value;
    *len = it.vlen;
    l->read_img = it.value;
    l->read_cas = it.cas;
    return COLL_OK;
}

/* --- the thread's tail index ---------------------------------------------
 * A pack has no back pointers, so finding the last elements of a part
 * walks every element before them (some 2,000 of 3 bytes in an 8 KiB
 * part): an RPOP on a list in parts cost twice an LPOP. The thread keeps
 * the byte offsets of every element of one part image, named by the CAS the
 * store gave that image (unique per write; a moved item keeps it, and every
 * change of a list writes a new one under the key's stripe lock, so a CAS
 * that matches is exactly the image indexed). A splice through this
 * thread at the tail, or at the head of the indexed image, carries the
 * index over to the image it writes (tix_spliced, tix_head); an image is
 * indexed (one walk, storing the offsets) only when this thread wrote it by
 * a splice and reads it again, so pops spread over many lists cost no more
 * than the walk they always took. */
#define TIX_MAX 4096 /* elements; a part with more is walked */

static __thread struct {
    uint64_t hits;    /* offsets answered from an index kept, not built
                         (list_tail_hits) */
    uint64_t rereads; /* part images read again after a reservation that
                         waited (list_part_rereads) */
    uint64_t cas;     /* the image off[] describes; 0: none */
    uint64_t want;    /* the image this thread's last splice wrote */
    size_t len;
    uint32_t n;
    uint16_t off[TIX_MAX];
} tix;

/* Offsets of all n elements of img into tix (false when they do not fit). */
static bool
tix_build(const uint8_t *img, size_t len, size_t n, uint64_t cas)
{
    if (n > TIX_MAX || len > UINT16_MAX) {
        tix.cas = 0;
        return false;
    }
    size_t o = pack_offset(img, len, 0);
    for (size_t i = 0; i < n; i++) {
        tix.off[i] = (uint16_t)o;
        uint8_t b = img[o]; /* as pack_offset: most lengths are one byte */
        o += b < 0x80 ? 1 + (size_t)b
                      : pack_elem_span(pack_at_offset(img, len, o));
    }
    tix.cas = cas;
    tix.len = len;
    tix.n = (uint32_t)n;
    return true;
}

coll_status_e
list_part_at(struct list *l, uint32_t k, size_t i, const uint8_t **img,
        size_t *len, size_t *off)
{
    coll_status_e st = list_part(l, k, img, len);
    if (st != COLL_OK) {
        return st;
    }
    size_t n = list_part_count(l, k);
    if (l->parts && i > 0 && i < n) {
        if (tix.cas == l->read_cas && tix.len == *len && tix.n == n) {
            *off = tix.off[i];
            tix.hits++;
            return COLL_OK;
        }
        if (l->read_cas != 0 && tix.want == l->read_cas &&
                tix_build(*img, *len, n, l->read_cas)) {
            *off = tix.off[i];
            return COLL_OK;
        }
    }
    *off = pack_offset(*img, *len, i);
    return COLL_OK;
}

uint64_t
list_tail_hits(void)
{
    return tix.hits;
}

uint64_t
list_part_rereads(void)
{
    return tix.rereads;
}

/* A splice at the head of the indexed image (LPUSH, LPOP on a list of one
 * part): the offsets move by what was inserted or removed and by the count
 * header's change of size, with no walk of the image. */
static void
tix_head(size_t cnt, size_t ndel, const struct pack_elem *ins, size_t nins,
        size_t size, uint64_t cas)
{
    size_t now = cnt - ndel + nins;
    size_t hdr = types_varint_size(now), at = hdr;
    long shift = (long)hdr - (long)tix.off[0];
    for (size_t j = 0; j < nins; j++) {
        at += types_varint_size(ins[j].len) + ins[j].len;
    }
    shift += (long)(at - hdr); /* the bytes inserted */
    if (ndel > 0) {
        shift -= (long)(tix.off[ndel] - tix.off[0]); /* the bytes removed */
        memmove(tix.off, tix.off + ndel, (cnt - ndel) * sizeof(*tix.off));
    } else {
        memmove(tix.off + nins, tix.off, cnt * sizeof(*tix.off));
        for (size_t j = 0, o = hdr; j < nins; j++) {
            tix.off[j] = (uint16_t)o;
            o += types_varint_size(ins[j].len) + ins[j].len;
        }
    }
    for (size_t j = nins; j < now; j++) {
        tix.off[j] = (uint16_t)((long)tix.off[j] + shift);
    }
    tix.cas = cas;
    tix.len = size;
    tix.n = (uint32_t)now;
}

/* After part k's image (read_cas, len bytes, cnt elements) was spliced at
 * off into a new image of size bytes written as cas: the index follows a
 * removal of the last elements (RPOP) and an append (RPUSH); any other
 * change leaves it behind. */
static void
tix_spliced(const struct list *l, const uint8_t *img, size_t len, size_t cnt,
        size_t off, size_t ndel, const struct pack_elem *ins, size_t nins,
        size_t size, uint64_t cas)
{
    tix.want = cas;
    if (tix.cas == 0 || tix.cas != l->read_cas || img != l->read_img ||
            tix.len != len || tix.n != cnt) {
        return;
    }
    size_t keep = cnt - ndel;
    bool cut = nins == 0 && ndel > 0 && keep > 0 && tix.off[keep] == off;
    bool append = ndel == 0 && off == len && cnt + nins <= TIX_MAX &&
                  size <= UINT16_MAX;
    if (!cut && !append && cnt > 0 && off == tix.off[0] &&
            keep + nins <= TIX_MAX && size <= UINT16_MAX &&
            ((ndel == 0 && nins > 0) || (nins == 0 && ndel < cnt))) {
        tix_head(cnt, ndel, ins, nins, size, cas);
        return;
    }
    if (!cut && !append) {
        tix.cas = 0;
        return;
    }
    size_t now = keep + nins;
    int delta = (int)types_varint_size(now) - (int)types_varint_size(cnt);
    for (size_t j = 0; delta != 0 && j < keep; j++) {
        tix.off[j] = (uint16_t)(tix.off[j] + delta);
    }
    size_t o = (size_t)((int)len + delta);
    for (size_t j = 0; j < nins; j++) {
        tix.off[keep + j] = (uint16_t)o;
        o += types_varint_size(ins[j].len) + ins[j].len;
    }
    tix.cas = cas;
    tix.len = size;
    tix.n = (uint32_t)now;
}

coll_status_e
list_part(struct list *l, uint32_t k, const uint8_t **img, size_t *len)
{
    if (!l->parts) {
        *img = l->img;
        *len = l->len;
        return COLL_OK;
    }
    return read_no(l, dir_no(l, k), img, len);
}

coll_status_e
list_part_elems(struct list *l, uint32_t k, struct pack_elem *out)
{
    const uint8_t *img;
    size_t len;
    coll_status_e st = list_part(l, k, &img, &len);
    if (st != COLL_OK) {
        return st;
    }
    struct pack_iter it;
    pack_iter_init(&it, img, len);
    for (size_t i = 0; pack_next(&it, &out[i]); i++) {
    }
    return COLL_OK;
}

static coll_status_e
write_no(struct list *l, uint32_t no, const uint8_t *img, size_t len)
{
    uint8_t pk[STORAGE_KEY_MAX + STORAGE_PART_SUFFIX];
    size_t n = part_key(l, pk, no);
    struct storage_write w = {.expiry = l->expiry};
    return coll_status_of(storage_set(
            l->db | STORAGE_DB_PARTS, pk, n, img, len, &w, l->now, NULL, NULL));
}

static void
delete_no(struct list *l, uint32_t no)
{
    uint8_t pk[STORAGE_KEY_MAX + STORAGE_PART_SUFFIX];
    size_t n = part_key(l, pk, no);
    storage_delete(l->db | STORAGE_DB_PARTS, pk, n, 0, l->now);
}

/* The elements cut into chunks of at most list_part_max() image bytes (at
 * least one element each), written as pack images into one heap buffer:
 * chunk j is buf[at[j] .. at[j + 1]) holding cnt[j] elements. */
struct chunks {
    uint8_t *buf;
    size_t *at;
    uint32_t *cnt;
    uint32_t n;
};

static void
chunks_release(struct chunks *c)
{
    free(c->buf);
    free(c->at);
    free(c->cnt);
    memset(c, 0, sizeof(*c));
}

static bool
chunks_make(struct chunks *c, const struct pack_elem *e, size_t n, size_t max)
{
    memset(c, 0, sizeof(*c));
    /* pass 1: sizes */
    size_t nch = 0, total = 0;
    size_t body = 0, k = 0;
    for (size_t i = 0; i < n; i++) {
        size_t s = pack_elem_size(e[i].len);
        if (k > 0 && pack_head_size(k + 1) + body + s > max) {
            total += pack_head_size(k) + body;
            nch++;
            body = 0;
            k = 0;
        }
        body += s;
        k++;
    }
    if (k > 0) {
        total += pack_head_size(k) + body;
        nch++;
    }
    c->buf = malloc(total + 1);
    c->at = malloc((nch + 1) * sizeof(*c->at));
    c->cnt = malloc((nch + 1) * sizeof(*c->cnt));
    if (c->buf == NULL || c->at == NULL || c->cnt == NULL) {
        chunks_release(c);
        return false;
    }
    /* pass 2: the same cut, written */
    size_t off = 0, i = 0;
    for (size_t j = 0; j < nch; j++) {
        size_t first = i;
        body = 0;
        k = 0;
        while (i < n) {
            size_t s = pack_elem_size(e[i].len);
            if (k > 0 && pack_head_size(k + 1) + body + s > max) {
                break;
            }
            body += s;
            k++;
            i++;
        }
        c->at[j] = off;
        c->cnt[j] = (uint32_t)k;
        off += pack_head_write(c->buf + off, k);
        for (size_t m = first; m < first + k; m++) {
            off += pack_elem_write(c->buf + off, e[m].p, e[m].len);
        }
    }
    c->at[nch] = off;
    c->n = (uint32_t)nch;
    return true;
}

/* Inline to parts: every element of the inline image and the change. */
static coll_status_e
replace_inline(struct list *l, uint32_t a, uint32_t b,
        const struct pack_elem *e, size_t n)
{
    /* the new sequence: e (a == 0), then the old image unless replaced */
    size_t old = (b > a) ? 0 : (size_t)l->count;
    size_t total = n + old;
    struct pack_elem *all = malloc((total + 1) * sizeof(*all));
    if (all == NULL) {
        return COLL_ENOMEM;
    }
    size_t m = 0;
    if (a == 0) {
        memcpy(all, e, n * sizeof(*e));
        m = n;
    }
    if (old > 0) {
        struct pack_iter it;
        pack_iter_init(&it, l->img, l->len);
        while (pack_next(&it, &all[m])) {
            m++;
        }
    }
    if (a != 0) {
        memcpy(all + m, e, n * sizeof(*e));
        m += n;
    }
    size_t size = pack_head_size(m);
    for (size_t i = 0; i < m; i++) {
        size += pack_elem_size(all[i].len);
    }
    coll_status_e st = COLL_OK;
    if (size <= list_part_max()) {
        uint8_t *img = malloc(size + 1);
        if (img == NULL) {
            free(all);
            return COLL_ENOMEM;
        }
        size_t off = pack_head_write(img + 1, m);
        for (size_t i = 0; i < m; i++) {
            off += pack_elem_write(img + 1 + off, all[i].p, all[i].len);
        }
        free(l->own);
        l->own = img;
        l->img = img + 1;
        l->len = size;
        l->count = m;
        l->dirty = true;
        free(all);
        return COLL_OK;
    }
    struct chunks c;
    if (!chunks_make(&c, all, m, list_part_max())) {
        free(all);
        return COLL_ENOMEM;
    }
    free(all);
    if (!dir_reserve(l, c.n)) {
        chunks_release(&c);
        return COLL_ENOMEM;
    }
    ks_new_id(l->id);
    for (uint32_t j = 0; j < c.n && st == COLL_OK; j++) {
        st = write_no(l, j, c.buf + c.at[j], c.at[j + 1] - c.at[j]);
        l->no[j] = j;
        l->cnt[j] = c.cnt[j];
    }
    if (st == COLL_OK) {
        l->parts = true;
        l->reshaped = true;
        l->nparts = c.n;
        l->count = m;
        l->dirty = true;
        free(l->own);
        l->own = NULL;
        l->img = NULL;
        l->len = 0;
    }
    chunks_release(&c);
    return st;
}

coll_status_e
list_replace(struct list *l, uint32_t a, uint32_t b, const struct pack_elem *e,
        size_t n)
{
    if (!l->parts) {
        return replace_inline(l, a, b, e, n);
    }
    coll_status_e st = dir_load(l);
    if (st != COLL_OK) {
        return st;
    }
    l->reshaped = true;
    struct chunks c;
    if (!chunks_make(&c, e, n, list_part_max())) {
        return COLL_ENOMEM;
    }
    uint32_t old = b - a, nw = c.n;
    uint32_t total = l->nparts - old + nw;
    if (!dir_reserve(l, l->nparts + nw + 1)) {
        chunks_release(&c);
        return COLL_ENOMEM;
    }
    /* numbers: reuse the replaced parts', then fresh ones past the end */
    uint32_t *nos = malloc((nw + old + 1) * sizeof(*nos));
    if (nos == NULL) {
        chunks_release(&c);
        return COLL_ENOMEM;
    }
    uint32_t next = l->nparts;
    for (uint32_t j = 0; j < nw; j++) {
        nos[j] = j < old ? l->no[a + j] : next++;
    }
    uint64_t removed = 0;
    for (uint32_t j = a; j < b; j++) {
        removed += l->cnt[j];
    }
    for (uint32_t j = 0; j < nw && st == COLL_OK; j++) {
        st = write_no(l, nos[j], c.buf + c.at[j], c.at[j + 1] - c.at[j]);
    }
    if (st != COLL_OK) {
        free(nos);
        chunks_release(&c);
        return st;
    }
    /* freed numbers: the replaced parts beyond the chunks */
    uint32_t nfree = old > nw ? old - nw : 0;
    uint32_t *freed = nos + nw;
    for (uint32_t j = 0; j < nfree; j++) {
        freed[j] = l->no[a + nw + j];
    }
    /* the directory: [0, a), the chunks, [b, nparts) */
    memmove(l->no + a + nw, l->no + b, (l->nparts - b) * sizeof(*l->no));
    memmove(l->cnt + a + nw, l->cnt + b, (l->nparts - b) * sizeof(*l->cnt));
    for (uint32_t j = 0; j < nw; j++) {
        l->no[a + j] = nos[j];
        l->cnt[a + j] = c.cnt[j];
    }
    l->nparts = total;
    l->count = l->count - removed + n;
    chunks_release(&c);
    /* keep numbers 0 .. total-1: a freed number below total takes the
     * part holding a number at or past total */
    for (uint32_t j = 0; j < nfree && st == COLL_OK; j++) {
        if (freed[j] >= total) {
            delete_no(l, freed[j]);
            continue;
        }
        uint32_t k = 0;
        while (k < total && l->no[k] < total) {
            k++;
        }
        ASSERT(k < total);
        const uint8_t *img;
        size_t len;
        st = read_no(l, l->no[k], &img, &len);
        if (st != COLL_OK) {
            break;
        }
        uint8_t *copy = malloc(len + 1);
        if (copy == NULL) {
            st = COLL_ENOMEM;
            break;
        }
        memcpy(copy, img, len);
        st = write_no(l, freed[j], copy, len);
        free(copy);
        if (st == COLL_OK) {
            delete_no(l, l->no[k]);
            l->no[k] = freed[j];
        }
    }
    free(nos);
    l->dirty = true;
    return st;
}

coll_status_e
list_splice(struct list *l, uint32_t k, size_t at, size_t ndel,
        const struct pack_elem *ins, size_t nins)
{
    size_t cnt = list_part_count(l, k);
    if (cnt - ndel + nins == 0) {
        return COLL_EOVERSIZE; /* the part goes: list_replace */
    }
    const uint8_t *img;
    size_t len;
    coll_status_e st = list_part(l, k, &img, &len);
    if (st != COLL_OK) {
        return st;
    }
    size_t off = at == cnt ? len : pack_offset(img, len, at);
    return list_splice_in(l, k, img, len, off, ndel, ins, nins);
}

coll_status_e
list_splice_in(struct list *l, uint32_t k, const uint8_t *img, size_t len,
        size_t off, size_t ndel, const struct pack_elem *ins, size_t nins)
{
    size_t cnt = list_part_count(l, k);
    if (cnt - ndel + nins == 0) {
        return COLL_EOVERSIZE;
    }
    size_t size = pack_splice_size(img, len, off, ndel, ins, nins);
    if (size > list_part_max()) {
        return COLL_EOVERSIZE;
    }
    if (!l->parts) { /* the image stays with l until the commit */
        uint8_t *buf = malloc(size + 1);
        if (buf == NULL) {
            return COLL_ENOMEM;
        }
        pack_splice_write(buf + 1, img, len, off, ndel, ins, nins);
        free(l->own);
        l->own = buf;
        l->img = buf + 1;
        l->len = size;
        l->count = l->count - ndel + nins;
        l->dirty = true;
        return COLL_OK;
    }
    /* a part is written at once, built in its place in the store (no
     * scratch copy of up to a part's size per push or pop). A reservation
     * that waited for memory may have ended the part image's view
     * (storage.h): it is read again then, the same bytes (every change of
     * the list holds the stripe lock); ins are never views (request
     * arguments or copies). */
    uint8_t pk[STORAGE_KEY_MAX + STORAGE_PART_SUFFIX];
    size_t pn = part_key(l, pk, dir_no(l, k));
    struct storage_write w = {.expiry = l->expiry};
    struct storage_reservation r;
    uint64_t gen = storage_views_gen();
    coll_status_e st = coll_status_of(storage_reserve(
            &r, l->db | STORAGE_DB_PARTS, pk, pn, size, &w, l->now));
    if (st != COLL_OK) {
        tix.cas = 0;
        return st;
    }
    if (storage_views_gen() != gen) {
        const uint8_t *again;
        size_t alen;
        st = read_no(l, dir_no(l, k), &again, &alen);
        if (st == COLL_OK && alen != len) {
            st = broken(l);
        }
        if (st != COLL_OK) {
            storage_abort(&r);
            tix.cas = 0;
            return st;
        }
        img = again;
        tix.rereads++;
    }
    pack_splice_write(r.value, img, len, off, ndel, ins, nins);
    uint64_t cas = 0;
    st = coll_status_of(storage_commit(&r, l->now, NULL, &cas));
    l->count = l->count - ndel + nins;
    l->dirty = true;
    if (st == COLL_OK) {
        dir_set_cnt(l, k, (uint32_t)(cnt - ndel + nins));
        tix_spliced(l, img, len, cnt, off, ndel, ins, nins, size, cas);
    } else {
        tix.cas = 0;
    }
    return st;
}

/* A change that left the parts as they were: the root's count and the
 * end entries whose counts moved, patched in place (storage_patch). The
 * fields are fixed-size; every writer of the key and every reader of a list
 * in parts holds the stripe lock, so none sees a patch half made. The root
 * keeps its CAS, so WATCH learns of the change from the stripe's count. */
static coll_status_e
root_patch(struct list *l)
{
    uint8_t f[16];
    storage_status_e st = STORAGE_OK;
    uint32_t last = l->nparts - 1;
    if ((l->touched & 2) && last > 0) {
        types_be_put(f, dir_cnt(l, last), 4);
        st = storage_patch(l->db, l->key, l->klen, l->cas,
                LIST_ROOT_HEAD + 8 * (size_t)last + 4, f, 4, l->now);
    }
    if (st == STORAGE_OK) { /* [count 8] then entry 0 [part 4][count 4] */
        types_be_put(f, l->count, 8);
        types_be_put(f + 8, dir_no(l, 0), 4);
        types_be_put(f + 12, dir_cnt(l, 0), 4);
        st = storage_patch(l->db, l->key, l->klen, l->cas, LIST_ROOT_COUNT, f,
                sizeof(f), l->now);
    }
    if (st != STORAGE_OK) {
        return coll_status_of(st); /* evicted meanwhile: again */
    }
    ks_stripe_changed(l->stripe);
    l->touched = 0;
    l->dirty = false;
    return COLL_OK;
}

coll_status_e
list_commit(struct list *l)
{
    if (!l->dirty) {
        return COLL_OK;
    }
    if (l->parts && l->exists && !l->reshaped && !l->replace && l->count > 0 &&
            ks_holds(l->stripe)) {
        return root_patch(l);
    }
    if (l->count == 0) {
        if (l->exists) {
            storage_status_e st =
                    storage_delete(l->db, l->key, l->klen, l->cas, l->now);
            if (st == STORAGE_EXISTS) {
                return COLL_RETRY;
            }
        }
        l->dirty = false;
        return COLL_OK;
    }
    if (l->parts) {
        coll_status_e st = dir_load(l);
        if (st != COLL_OK) {
            return st;
        }
    }
    struct storage_write w = {.type = STORAGE_TYPE_LIST, .parts = l->parts};
    if (l->replace) {
        w.mode = STORAGE_SET;
        w.expiry = TIME_NEVER;
    } else if (l->exists) {
        w.mode = STORAGE_CAS;
        w.cas = l->cas;
        w.keep_ttl = true;
    } else {
        w.mode = STORAGE_ADD;
    }
    size_t vlen =
            l->parts ? LIST_ROOT_HEAD + (size_t)l->nparts * 8 : 1 + l->len;
    uint8_t *v = malloc(vlen);
    if (v == NULL) {
        return COLL_ENOMEM;
    }
    if (l->parts) {
        memcpy(v, l->id, 8);
        types_be_put(v + 8, l->nparts, 4);
        types_be_put(v + 12, l->count, 8);
        for (uint32_t i = 0; i < l->nparts; i++) {
            types_be_put(v + LIST_ROOT_HEAD + 8 * i, l->no[i], 4);
            types_be_put(v + LIST_ROOT_HEAD + 8 * i + 4, l->cnt[i], 4);
        }
    } else {
        v[0] = LIST_ENC_PACK;
        memcpy(v + 1, l->img, l->len);
    }
    uint64_t cas = 0;
    struct storage_item old = {.key = NULL};
    storage_status_e st = storage_set(l->db, l->key, l->klen, v, vlen, &w,
            l->now, l->replace ? &old : NULL, &cas);
    free(v);
    if (st != STORAGE_OK) {
        return coll_status_of(st);
    }
    if (l->replace && old.key != NULL) {
        ks_drop_parts(l->db, &old, l->now);
        l->replace = false;
    }
    l->cas = cas;
    l->created = !l->exists;
    l->exists = true;
    l->dirty = false;
    l->reshaped = false;
    l->touched = 0;
    return COLL_OK;
}

coll_status_e
list_store(uint8_t db, const void *key, size_t klen, const struct pack_elem *e,
        size_t n, uint64_t now)
{
    if (n == 0) {
        ks_delete(db, key, klen, now);
        return COLL_OK;
    }
    struct list l;
    memset(&l, 0, sizeof(l));
    l.db = db;
    l.key = key;
    l.klen = klen;
    l.now = now;
    l.stripe = ks_stripe(db, key, klen);
    l.replace = true;
    coll_status_e st = list_replace(&l, 0, 0, e, n);
    if (st == COLL_OK) {
        st = list_commit(&l);
    }
    list_close(&l);
    return st;
}
