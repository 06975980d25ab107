/* SPDX-License-Identifier: Apache-2.0 */
/* Space-saving summaries and their merge (summary.h).
 *
 * A summary is one block:
 *
 *   +---------+----------------+-----------+-----------+------------------+
 *   | header  | entries [cap]  | heap[cap] | pos[cap]  | index[2^k >= 2cap]|
 *   +---------+----------------+-----------+-----------+------------------+
 *
 * heap is a min-heap of entry numbers by count (heap[0] is the counter a
 * new key takes over), pos the inverse of heap, and index an open-address
 * table (linear probing, deletion by backward shift) from a hash to its
 * entry number + 1 (0: empty). */
#include "hotkey/summary.h"

#include "base/hash.h"
#include "base/mm.h"

#include <stdlib.h>
#include <string.h>

struct hk_summary {
    uint32_t cap;
    uint32_t n;
    uint32_t mask; /* index slots - 1 */
    uint64_t total;
    struct hk_entry *e;
    uint16_t *heap;
    uint16_t *pos;
    uint16_t *index;
};

static uint32_t
slots_for(uint32_t cap)
{
    uint32_t s = 4;
    while (s < 2 * cap) {
        s <<= 1;
    }
    return s;
}

size_t
hk_summary_bytes(uint32_t cap)
{
    return sizeof(struct hk_summary) + cap * sizeof(struct hk_entry) +
           2 * cap * sizeof(uint16_t) + slots_for(cap) * sizeof(uint16_t);
}

uint64_t
hk_hash(uint8_t db, const void *key, size_t klen)
{
    return hash_key_seed(key, klen, db);
}

struct hk_summary *
hk_summary_create(uint32_t cap)
{
    if (cap < 2 || cap > 32768) {
        return NULL;
    }
    uint8_t *p = mm_zalloc(hk_summary_bytes(cap));
    if (p == NULL) {
        return NULL;
    }
    struct hk_summary *s = (struct hk_summary *)p;
    p += sizeof(*s);
    s->cap = cap;
    s->mask = slots_for(cap) - 1;
    s->e = (struct hk_entry *)p;
    p += cap * sizeof(struct hk_entry);
    s->heap = (uint16_t *)p;
    s->pos = s->heap + cap;
    s->index = s->pos + cap;
    return s;
}

void
hk_summary_destroy(struct hk_summary **s)
{
    mm_free(s);
}

void
hk_summary_reset(struct hk_summary *s)
{
    s->n = 0;
    s->total = 0;
    memset(s->index, 0, (s->mask + 1) * sizeof(uint16_t));
}

static uint32_t
find_slot(const struct hk_summary *s, uint64_t hash)
{
    uint32_t i = (uint32_t)hash & s->mask;
    while (s->index[i] != 0 && s->e[s->index[i] - 1].hash != hash) {
        i = (i + 1) & s->mask;
    }
    return i;
}

/* Removes hash (which is there) from the index, shifting back the entries
 * of its probe run so that no lookup stops early. */
static void
index_remove(struct hk_summary *s, uint64_t hash)
{
    uint32_t hole = find_slot(s, hash);
    s->index[hole] = 0;
    for (uint32_t j = (hole + 1) & s->mask; s->index[j] != 0;
            j = (j + 1) & s->mask) {
        uint32_t home = (uint32_t)s->e[s->index[j] - 1].hash & s->mask;
        /* the entry at j may move to the hole when the hole lies between
         * its home and j */
        if (((j - home) & s->mask) >= ((j - hole) & s->mask)) {
            s->index[hole] = s->index[j];
            s->index[j] = 0;
            hole = j;
        }
    }
}

static void
heap_swap(struct hk_summary *s, uint32_t a, uint32_t b)
{
    uint16_t t = s->heap[a];
    s->heap[a] = s->heap[b];
    s->heap[b] = t;
    s->pos[s->heap[a]] = (uint16_t)a;
    s->pos[s->heap[b]] = (uint16_t)b;
}

static uint32_t
count_at(const struct hk_summary *s, uint32_t h)
{
    return s->e[s->heap[h]].count;
}

static void
sift_down(struct hk_summary *s, uint32_t h)
{
    for (;;) {
        uint32_t l = 2 * h + 1, r = l + 1, m = h;
        if (l < s->n && count_at(s, l) < count_at(s, m)) {
            m = l;
        }
        if (r < s->n && count_at(s, r) < count_at(s, m)) {
            m = r;
        }
        if (m == h) {
            return;
        }
        heap_swap(s, h, m);
        h = m;
    }
}

static void
sift_up(struct hk_summary *s, uint32_t h)
{
    while (h > 0 && count_at(s, (h - 1) / 2) > count_at(s, h)) {
        heap_swap(s, h, (h - 1) / 2);
        h = (h - 1) / 2;
    }
}

static void
entry_take(struct hk_entry *e, uint64_t hash, uint8_t db, const void *key,
        size_t klen, hk_kind_e kind, uint8_t proto, uint32_t err)
{
    size_t keep = klen < HK_KEY_MAX ? klen : HK_KEY_MAX;
    e->hash = hash;
    e->count = err + 1;
    e->err = err;
    e->under = 0;
    memset(e->kind, 0, sizeof(e->kind));
    e->kind[kind] = 1;
    e->klen = klen > UINT32_MAX ? UINT32_MAX : (uint32_t)klen;
    e->db = db;
    e->proto = proto;
    memcpy(e->key, key, keep);
}

void
hk_summary_add(struct hk_summary *s, uint64_t hash, uint8_t db, const void *key,
        size_t klen, hk_kind_e kind, uint8_t proto)
{
    s->total++;
    uint32_t slot = find_slot(s, hash);
    if (s->index[slot] != 0) {
        uint32_t i = s->index[slot] - 1u;
        struct hk_entry *e = &s->e[i];
        e->count++;
        e->kind[kind]++;
        e->proto |= proto;
        sift_down(s, s->pos[i]);
        return;
    }
    if (s->n < s->cap) {
        uint32_t i = s->n++;
        entry_take(&s->e[i], hash, db, key, klen, kind, proto, 0);
        s->index[slot] = (uint16_t)(i + 1);
        s->heap[i] = (uint16_t)i;
        s->pos[i] = (uint16_t)i;
        sift_up(s, i);
        return;
    }
    /* full: the key takes over the smallest counter */
    uint32_t i = s->heap[0];
    struct hk_entry *e = &s->e[i];
    index_remove(s, e->hash);
    entry_take(e, hash, db, key, klen, kind, proto, e->count);
    s->index[find_slot(s, hash)] = (uint16_t)(i + 1);
    sift_down(s, 0);
}

struct hk_view
hk_summary_view(const struct hk_summary *s)
{
    struct hk_view v = {s->e, s->n, s->total, 0};
    if (s->n == s->cap) {
        v.floor = s->e[s->heap[0]].count;
    }
    return v;
}

/* ---- top lists ---- */

void
hk_top_init(struct hk_top *t, struct hk_entry *e, uint32_t cap)
{
    t->cap = cap;
    t->e = e;
    hk_top_clear(t);
}

void
hk_top_clear(struct hk_top *t)
{
    t->n = 0;
    t->total = 0;
    t->floor = 0;
    t->ms = 0;
}

struct hk_view
hk_top_view(const struct hk_top *t)
{
    struct hk_view v = {t->e, t->n, t->total, t->floor};
    return v;
}

/* ---- merge ---- */

struct acc {
    uint64_t hash;
    uint64_t count;
    uint64_t err;
    uint64_t under;
    uint64_t seen_floor; /* floors of the views that track it */
    uint64_t kind[HK_NKIND];
    const struct hk_entry *src; /* key bytes, db */
    uint8_t proto;
};

struct hk_merger {
    uint32_t max;
    uint32_t n;
    uint32_t mask;
    struct acc *a;
    uint32_t *index; /* acc number + 1; 0 empty */
    uint32_t *order;
};

size_t
hk_merger_bytes(uint32_t max_entries)
{
    return sizeof(struct hk_merger) +
           max_entries * (sizeof(struct acc) + sizeof(uint32_t)) +
           slots_for(max_entries) * sizeof(uint32_t);
}

struct hk_merger *
hk_merger_create(uint32_t max_entries)
{
    if (max_entries < 2) {
        return NULL;
    }
    uint8_t *p = mm_zalloc(hk_merger_bytes(max_entries));
    if (p == NULL) {
        return NULL;
    }
    struct hk_merger *m = (struct hk_merger *)p;
    p += sizeof(*m);
    m->max = max_entries;
    m->mask = slots_for(max_entries) - 1;
    m->a = (struct acc *)p;
    p += max_entries * sizeof(struct acc);
    m->order = (uint32_t *)p;
    m->index = m->order + max_entries;
    return m;
}

void
hk_merger_destroy(struct hk_merger **m)
{
    mm_free(m);
}

static uint32_t
u32_sat(uint64_t v)
{
    return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

/* The accumulator of hash, NULL when the merger has no room left. */
static struct acc *
acc_of(struct hk_merger *m, uint64_t hash)
{
    uint32_t i = (uint32_t)hash & m->mask;
    while (m->index[i] != 0) {
        struct acc *a = &m->a[m->index[i] - 1];
        if (a->hash == hash) {
            return a;
        }
        i = (i + 1) & m->mask;
    }
    if (m->n == m->max) {
        return NULL;
    }
    struct acc *a = &m->a[m->n];
    memset(a, 0, sizeof(*a));
    a->hash = hash;
    m->index[i] = ++m->n;
    return a;
}

static int
by_count(const void *x, const void *y, void *arg)
{
    const struct hk_merger *m = arg;
    const struct acc *a = &m->a[*(const uint32_t *)x];
    const struct acc *b = &m->a[*(const uint32_t *)y];
    if (a->count != b->count) {
        return a->count > b->count ? -1 : 1;
    }
    return a->hash < b->hash ? -1 : a->hash > b->hash;
}

static void
acc_add(struct acc *a, const struct hk_entry *e, uint32_t floor)
{
    a->count += e->count;
    a->err += e->err;
    a->under += e->under;
    a->seen_floor += floor;
    for (int k = 0; k < HK_NKIND; k++) {
        a->kind[k] += e->kind[k];
    }
    a->proto |= e->proto;
    if (a->src == NULL) {
        a->src = e;
    }
}

static void
acc_emit(const struct acc *a, struct hk_entry *out)
{
    const struct hk_entry *src = a->src;
    size_t keep = src->klen < HK_KEY_MAX ? src->klen : HK_KEY_MAX;
    out->hash = a->hash;
    out->count = u32_sat(a->count);
    out->err = u32_sat(a->err);
    out->under = u32_sat(a->under);
    for (int k = 0; k < HK_NKIND; k++) {
        out->kind[k] = u32_sat(a->kind[k]);
    }
    out->klen = src->klen;
    out->db = src->db;
    out->proto = a->proto;
    memcpy(out->key, src->key, keep);
}

void
hk_merge(struct hk_merger *m, const struct hk_view *views, size_t n,
        struct hk_top *out)
{
    uint64_t total = 0, floors = 0, left_out = 0;
    m->n = 0;
    memset(m->index, 0, (m->mask + 1) * sizeof(uint32_t));
    for (size_t v = 0; v < n; v++) {
        total += views[v].total;
        floors += views[v].floor;
        for (uint32_t i = 0; i < views[v].n; i++) {
            const struct hk_entry *e = &views[v].e[i];
            struct acc *a = acc_of(m, e->hash);
            if (a == NULL) { /* no room: a key left out */
                uint64_t most = (uint64_t)e->count + e->under;
                left_out = most > left_out ? most : left_out;
                continue;
            }
            acc_add(a, e, views[v].floor);
        }
    }
    for (uint32_t i = 0; i < m->n; i++) {
        m->a[i].under += floors - m->a[i].seen_floor;
        m->order[i] = i;
    }
    qsort_r(m->order, m->n, sizeof(uint32_t), by_count, m);
    out->n = m->n < out->cap ? m->n : out->cap;
    for (uint32_t i = 0; i < out->n; i++) {
        acc_emit(&m->a[m->order[i]], &out->e[i]);
    }
    for (uint32_t i = out->n; i < m->n; i++) {
        const struct acc *a = &m->a[m->order[i]];
        left_out =
                a->count + a->under > left_out ? a->count + a->under : left_out;
    }
    out->total = total;
    out->floor = u32_sat(floors > left_out ? floors : left_out);
}
