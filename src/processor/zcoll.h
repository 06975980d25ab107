/* SPDX-License-Identifier: Apache-2.0 */
/* Sorted sets stored in the keyspace. A key's item (type ZSET) holds either
 *   - inline: [enc][zpack image] (types/zpack.h), enc ZSET_ENC_LISTPACK
 *     while the set is within zset-max-listpack-entries and -value,
 *     ZSET_ENC_SKIPLIST past them (OBJECT ENCODING's names; never back, as
 *     in Redis), while the image is at most zset_tune.inline_max bytes;
 *   - parts (a root, storage.h), for a skiplist set past that:
 *       root  [id 8][nparts 4][enc 1][count 8][nh 4]
 *             [sum 4] per ZSET_DIR_BLOCK directory entries: their counts
 *             then a directory of nparts - nh entries, in (score, member)
 *             order: [part 4][count 4][first entry's score 8, zpack bytes]
 *       parts 0 .. nh-1     the member index: linear hashing (types/lhash.h)
 *                           of ipacks (types/ipack.h) of member, score
 *       parts nh .. nparts-1  the entries: zpack images of consecutive
 *                           entries, up to zset_tune.part_max bytes each
 *     A lookup by member reads one index part; by (score, member) a binary
 *     search of the directory (a part's first member is read only when
 *     scores tie) and one entry part; by rank, a walk of the directory's
 *     counts. A change rewrites one index part and one or two entry parts
 *     and patches the root's count and directory entries in place
 *     (storage_patch: the root keeps its CAS; WATCH learns of it from
 *     ks_stripe_changed); a part split, emptied or renumbered, or the index
 *     grown (a few buckets at a time), rewrites the root.
 *
 * A command opens the set (zset_open). Opened plainly, the entries are
 * decoded into an array sorted by (score, member) (z->e[0..z->n)); a change
 * edits that array and the commit writes the whole set again (inline, or
 * parts under a new id). Opened with ZSET_LAZY, a set in parts is not
 * decoded: the accessors below (zset_score, zset_rank, zset_below,
 * zset_window, zset_put, zset_del) read and change it part by part, each
 * change written at once; they work on every form, so a command written
 * with them is O(log n) on large sets and the same on small ones.
 *
 * Atomicity: every change runs under the key's stripe lock (taken by open
 * for a change, and by any reader of a set in parts) and commits with a CAS
 * on the version opened, so no update is lost to another worker; COLL_RETRY
 * when a write that is not a collection change raced it, or a part was
 * missing (eviction taking the key, which is then finished).
 *
 * Views: entries point into store items, or into bytes the caller added
 * (its arguments), valid until zset_close, the next change, a commit, or
 * the thread's quiescent point. Worker threads. */
#pragma once

#include "processor/coll.h"
#include "types/zpack.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* clang-format off */
#define ZSET_ENC_LISTPACK 0
#define ZSET_ENC_SKIPLIST 1
#define ZSET_LAZY         0x400 /* zset_open flag: a set in parts is read
                                   and changed part by part */
#define ZSET_ROOT_HEAD    25    /* id 8, nparts 4, enc 1, count 8, nh 4 */
#define ZSET_ROOT_COUNT   13
#define ZSET_DIR_ENT      16    /* part 4, count 4, first score 8 */
#define ZSET_DIR_BLOCK    64    /* entries per block sum */
/* clang-format on */

/* Sizes (tests lower them): an inline skiplist image past inline_max
 * bytes goes to parts; an entry part past part_max is cut in two; a build
 * fills parts to part_fill; the index grows past index_avg members per
 * index part, and when a new member would take its index part past
 * index_max bytes (large members). */
struct zset_tune {
    size_t inline_max; /* 8192 */
    size_t part_max;   /* 8192 */
    size_t part_fill;  /* 6144 */
    size_t index_avg;  /* 48 */
    size_t index_max;  /* 65536: an index part past it grows the index */
};
extern struct zset_tune zset_tune;

struct zset {
    uint8_t db;
    const void *key;
    size_t klen;
    uint64_t now;
    uint32_t stripe;
    bool locked;
    bool exists;
    bool dirty;
    uint8_t enc;
    uint64_t cas;
    uint64_t expiry;
    struct zpack_ent *e; /* sorted by (score, member); lazy: a window */
    size_t n;            /* entries in the set */
    size_t cap;
    /* parts */
    bool parts;   /* a root of parts */
    bool lazy;    /* ZSET_LAZY: read and changed by part */
    bool changed; /* lazy: a change was written (commit tells WATCH) */
    uint8_t id[8];
    uint32_t nparts;
    uint32_t nh;   /* index parts, numbers 0 .. nh-1 */
    uint64_t base; /* lazy: the rank of e[0] (zset_window) */
    size_t wn;     /* lazy: entries in the window */
    /* lazy: the last member looked up in the index (ZADD asks for its
     * score, then changes it): valid until the next write */
    bool hvalid;
    bool hfound;
    const void *hm;
    size_t hmlen;
    const uint8_t *himg;
    size_t hlen;
    struct pack_pos hpos;
    struct zbatch *batch; /* zset_batch: changes held until the commit */
};

/* Opens key for reading (write false) or a change (write true: under the
 * stripe lock until zset_close, unless flags has COLL_LOCKED: the caller
 * holds it). COLL_OK, COLL_MISS (an empty set to add to), COLL_WRONGTYPE,
 * COLL_ENOMEM. */
coll_status_e zset_open(struct zset *z, uint8_t db, const void *key,
        size_t klen, bool write, unsigned flags, uint64_t now);
/* Writes the changed entries back (deletes the key when none is left).
 * COLL_OK, COLL_RETRY, COLL_ENOMEM, COLL_EOVERSIZE. */
coll_status_e zset_commit(struct zset *z);
void zset_close(struct zset *z);

/* Index of member m, or -1 (not on a lazy set in parts). */
long zset_find(const struct zset *z, const void *m, size_t mlen);
/* Removes entries [from, from + count) (not on a lazy set in parts). */
void zset_remove(struct zset *z, size_t from, size_t count);

/* Accessors for every form (lazy or not). COLL_OK; COLL_MISS for no such
 * member; COLL_RETRY (a part missing), COLL_ENOMEM, COLL_EOVERSIZE. */
coll_status_e zset_score(
        struct zset *z, const void *m, size_t mlen, double *score);
/* m's rank from the lowest. */
coll_status_e zset_rank(
        struct zset *z, const void *m, size_t mlen, uint64_t *rank);
/* How many entries score below s (incl: at most s). */
coll_status_e zset_below(struct zset *z, double s, bool incl, uint64_t *n);
/* How many entries, from the lowest, pred holds for (the entries must be
 * those it holds for, then those it does not: a lex bound on a set whose
 * scores are equal, as Redis's lex commands ask). Lazy: a binary search of
 * the parts by their first members, then a walk of one part. */
typedef bool zset_pred_fn(const uint8_t *m, size_t mlen, void *arg);
coll_status_e zset_count_while(
        struct zset *z, zset_pred_fn *pred, void *arg, uint64_t *n);
/* Makes entries of ranks [from, from + n) readable with zset_ent (lazy:
 * decodes the parts holding them). */
coll_status_e zset_window(struct zset *z, uint64_t from, uint64_t n);
static inline const struct zpack_ent *
zset_ent(const struct zset *z, uint64_t rank)
{
    return &z->e[rank - z->base];
}
/* Sets m's score (adding it when missing). Lazy: written at once. */
coll_status_e zset_put(struct zset *z, const void *m, size_t mlen, double s);
/* Removes m. */
coll_status_e zset_del(
        struct zset *z, const void *m, size_t mlen, bool *removed);
/* ZSCAN of a lazy set in parts: the members and scores of its index parts
 * (linear hashing, lhash.h) from cursor, part by part, until about count
 * are given to fn (views valid until the caller's next store write);
 * *next 0 at the end. A bucket only ever splits into a higher-numbered
 * part, so a member present throughout a full iteration is given at least
 * once, as Redis's SCAN promises; a cursor of another incarnation of the
 * set (its parts rewritten under a new id) starts over. */
typedef void zset_scan_fn(const struct pack_elem *m, double score, void *arg);
coll_status_e zset_scan(struct zset *z, uint64_t cursor, uint64_t count,
        zset_scan_fn *fn, void *arg, uint64_t *next);
/* A command about to change many members of a lazy set in parts: the
 * changes are made on copies of the parts and the directory, and the
 * commit writes each touched part once and the root once (a ZADD of 100
 * members writes some tens of parts, not 200). Nothing for other forms.
 * Readers see nothing of it before the commit (the stripe lock is held). */
coll_status_e zset_batch(struct zset *z);

/* Replaces key with the n sorted entries e (ZRANGESTORE, ZUNIONSTORE ...):
 * the caller holds the key's stripe lock; no TTL; n == 0 deletes the key.
 * The encoding is chosen from the entries, as Redis's zsetTypeCreate. */
coll_status_e zset_store(uint8_t db, const void *key, size_t klen,
        const struct zpack_ent *e, size_t n, uint64_t now);

/* OBJECT ENCODING of a zset item: "listpack" or "skiplist". */
const char *zset_encoding_name(const struct storage_item *it);
