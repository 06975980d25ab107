/* SPDX-License-Identifier: Apache-2.0 */
/* Sorted sets stored in the keyspace: a key's item (type ZSET) is
 * [enc][zpack image] (types/zpack.h), enc ZSET_ENC_LISTPACK while the set
 * is within zset-max-listpack-entries and -value, ZSET_ENC_SKIPLIST past
 * them (OBJECT ENCODING's names; the image is the same sorted pack, and
 * never goes back, as in Redis). A sorted set lives in one item: at most
 * storage_value_max() bytes (docs/storage.md section 12 says what that
 * costs and what is missing).
 *
 * A command opens the set (zset_open), works on its entries decoded into
 * an array sorted by (score, member) (z->e[0..z->n)), and, for a change,
 * edits that array and commits: the new image is written with a CAS on
 * the version opened, under the key's stripe lock (taken by open for a
 * change), so no update is lost to another worker; COLL_RETRY when a
 * write that is not a collection change raced it.
 *
 * Views: entries point into the store item, or into bytes the caller
 * added (its arguments), valid until zset_close, a commit, or the
 * thread's quiescent point. Worker threads. */
#pragma once

#include "processor/coll.h"
#include "types/zpack.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* clang-format off */
#define ZSET_ENC_LISTPACK 0
#define ZSET_ENC_SKIPLIST 1
/* clang-format on */

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
    struct zpack_ent *e; /* sorted by (score, member) */
    size_t n;
    size_t cap;
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

/* Index of member m, or -1. */
long zset_find(const struct zset *z, const void *m, size_t mlen);
/* Sets m's score (adding it when missing); keeps the array sorted. */
coll_status_e zset_put(struct zset *z, const void *m, size_t mlen, double s);
/* Removes entries [from, from + count). */
void zset_remove(struct zset *z, size_t from, size_t count);

/* Replaces key with the n sorted entries e (ZRANGESTORE, ZUNIONSTORE ...):
 * the caller holds the key's stripe lock; no TTL; n == 0 deletes the key.
 * The encoding is chosen from the entries, as Redis's zsetTypeCreate. */
coll_status_e zset_store(uint8_t db, const void *key, size_t klen,
        const struct zpack_ent *e, size_t n, uint64_t now);

/* OBJECT ENCODING of a zset item: "listpack" or "skiplist". */
const char *zset_encoding_name(const struct storage_item *it);
