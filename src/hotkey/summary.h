/* SPDX-License-Identifier: Apache-2.0 */
/* Top-K summaries of a stream of sampled keys: a space-saving summary
 * (Metwally et al. 2005) that one thread feeds, and the merge of several
 * summaries into a sorted top list with error bounds. Pure data structure:
 * no threads, no clock, no allocation after create.
 *
 * Space-saving keeps cap counters. A key that is tracked gets +1; a key
 * that is not takes over the smallest counter, inheriting its count as
 * its error. So a tracked key's true count lies in [count - err, count],
 * and a key that is not tracked was seen at most floor times (the smallest
 * count, once the summary is full). Keys are told apart by a 64-bit hash
 * of db and the whole key; the first HK_KEY_MAX bytes are kept to show. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HK_KEY_MAX 250 /* key bytes kept (and shown, escaped, at most) */

typedef enum {
    HK_HIT = 0, /* a read that found the key */
    HK_MISS,    /* a read that did not */
    HK_WRITE,   /* a change */
    HK_NKIND,
} hk_kind_e;

/* One tracked key. Of count, err samples may belong to keys it replaced
 * (over-estimate) and under samples may have gone uncounted while it was
 * not tracked somewhere (merged summaries); kind[] splits count - err, the
 * samples seen since it was tracked, exactly. */
struct hk_entry {
    uint64_t hash;
    uint32_t count;
    uint32_t err;
    uint32_t under;
    uint32_t kind[HK_NKIND];
    uint32_t klen; /* the whole key's length */
    uint8_t db;
    uint8_t proto; /* bit mask of the protocols that sent it */
    uint8_t key[HK_KEY_MAX];
};

/* ---- space-saving: one writer ---- */

struct hk_summary;
/* cap: 2..32768 counters. NULL when out of memory. */
struct hk_summary *hk_summary_create(uint32_t cap);
void hk_summary_destroy(struct hk_summary **s);
void hk_summary_reset(struct hk_summary *s);
/* Counts one sample of key (hash: hk_hash(db, key, klen)). */
void hk_summary_add(struct hk_summary *s, uint64_t hash, uint8_t db,
        const void *key, size_t klen, hk_kind_e kind, uint8_t proto);
size_t hk_summary_bytes(uint32_t cap);

/* What a merge reads of a summary or a top list: n entries in any order,
 * the samples the stream held (total), and the most an untracked key can
 * have been seen (floor). */
struct hk_view {
    const struct hk_entry *e;
    uint32_t n;
    uint64_t total;
    uint32_t floor;
};
struct hk_view hk_summary_view(const struct hk_summary *s);

uint64_t hk_hash(uint8_t db, const void *key, size_t klen);

/* ---- top lists and their merge ---- */

/* Entries sorted by count, largest first; up to cap. */
struct hk_top {
    uint32_t cap;
    uint32_t n;
    uint64_t total;
    uint32_t floor;
    uint64_t ms; /* how long the stream ran (windows: summed) */
    struct hk_entry *e;
};
/* e is cap entries from the caller. */
void hk_top_init(struct hk_top *t, struct hk_entry *e, uint32_t cap);
void hk_top_clear(struct hk_top *t);
struct hk_view hk_top_view(const struct hk_top *t);

/* Scratch of a merge: room for up to max_entries distinct keys. */
struct hk_merger;
struct hk_merger *hk_merger_create(uint32_t max_entries);
void hk_merger_destroy(struct hk_merger **m);
size_t hk_merger_bytes(uint32_t max_entries);
/* Merges n views into out (its cap entries, the largest counts). For each
 * key: count, err and kinds are summed where it is tracked; under adds the
 * floor of every view that does not track it; so its true count lies in
 * [count - err, count + under]. out->floor bounds every key left out.
 * Entries beyond the merger's room are dropped (counted into the floor).
 * out->ms is left as it was: the caller knows the time. */
void hk_merge(struct hk_merger *m, const struct hk_view *views, size_t n,
        struct hk_top *out);
