/* SPDX-License-Identifier: Apache-2.0 */
/* Collections (Redis hashes and sets) stored in the keyspace: how the
 * encodings of src/types/ become items, and how a collection larger than
 * an item is kept in parts. Commands (resp_hash.c, resp_set.c) see only
 * this interface.
 *
 * A key's item (type HASH or SET) holds either
 *   - inline: [enc][image]: enc COLL_ENC_LISTPACK (a hashpack),
 *     COLL_ENC_INTSET (an intset) or COLL_ENC_TABLE (a pack: members, or
 *     fields and values), while the image is at most COLL_INLINE_MAX bytes;
 *   - parts (a root, storage.h): [id 8][nparts 4][enc][count 8][bytes 8],
 *     and nparts part items, each an ipack (types/ipack.h: a pack and a
 *     32-bit hash per element) of the elements that linear hashing
 *     (types/lhash.h) puts in it; enc carries COLL_ROOT_INDEXED (a root
 *     without it has plain-pack parts, from before the index: read as
 *     they are, rewritten as ipacks by the first change). Parts grow one at a
 * time, when their average passes COLL_PART_TARGET bytes, so a change costs
 * about one part's bytes whatever the collection's size; when deletions leave
 * them under a quarter full on average, they are rewritten into fewer parts
 * under a new id (an O(n) pass, at most once per halving). Encodings convert at
 * Redis's thresholds (hash-max-listpack-entries, hash-max-listpack-value,
 * set-max-intset-entries), never back, as Redis's.
 *
 * Atomicity. Every change of a collection runs under its key's stripe lock
 * (keyspace.h), and the key's item is replaced with a CAS on the version
 * the change started from, so a change is never lost to another worker; a
 * write that is not a collection change (SET, DEL, RENAME) racing it makes
 * the commit answer COLL_RETRY and the command runs again. A change in
 * parts that leaves the root's id, parts and encoding as they were (no
 * split, no respill) writes its part only: the root's count and bytes, if
 * they moved, are patched in place (storage_patch, under the stripe lock
 * every writer and reader of a root in parts holds), its CAS stays, and
 * the change counts itself on the stripe for WATCH (ks_stripe_changed).
 * Readers of an
 * inline collection take no lock (one immutable item); readers of one in
 * parts take the stripe lock, so they never see a split half done.
 *
 * Views (struct pack_elem) point into store items or the thread's scratch
 * and are valid until the next change through the same struct coll or the
 * thread's next quiescent point. */
#pragma once

#include "processor/keyspace.h"
#include "types/pack.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* clang-format off */
#define COLL_ENC_LISTPACK 0
#define COLL_ENC_INTSET   1
#define COLL_ENC_TABLE    2
#define COLL_INLINE_MAX   4096  /* bytes of a TABLE image kept inline */
#define COLL_PART_TARGET  1024  /* average bytes per part */
#define COLL_ROOT_LEN     29    /* id 8, nparts 4, enc 1, count 8, bytes 8 */
#define COLL_ROOT_COUNT   13    /* where count and bytes start: patched
                                   in place (storage_patch) */
#define COLL_ROOT_INDEXED 0x80  /* in the root's enc byte: the parts are
                                   ipacks (types/ipack.h); without it,
                                   plain packs (before 2026-12-07) */
#define COLL_LOCKED       0x100 /* coll_open flag: the caller holds the
                                   key's stripe lock */
/* clang-format on */

/* Redis's conversion thresholds (CONFIG GET/SET), relaxed atomics. */
struct coll_limits {
    uint64_t hash_max_listpack_entries; /* 512 */
    uint64_t hash_max_listpack_value;   /* 64 */
    uint64_t set_max_intset_entries;    /* 512 */
    uint64_t zset_max_listpack_entries; /* 128 (zcoll.h) */
    uint64_t zset_max_listpack_value;   /* 64 */
};
extern struct coll_limits coll_limits;

typedef enum {
    COLL_OK = 0,
    COLL_MISS,      /* no such key */
    COLL_WRONGTYPE, /* a key of another type */
    COLL_ENOMEM,    /* the store is full (eviction policy none) */
    COLL_EOVERSIZE, /* an element or image past the largest item */
    COLL_RETRY,     /* the key changed under a commit: run again */
} coll_status_e;

struct coll {
    uint8_t db;
    uint8_t type; /* STORAGE_TYPE_HASH or _SET */
    const void *key;
    size_t klen;
    uint64_t now;
    uint32_t stripe;
    bool locked;  /* this struct took the stripe lock */
    bool write;   /* opened for a change */
    bool exists;  /* the key existed when opened (true after a commit) */
    bool created; /* the commit wrote a key that did not exist */
    bool dirty;   /* changed since opened */
    bool parts;   /* stored in parts */
    bool indexed; /* the parts are ipacks; else packs, rewritten as
                     ipacks by the first change */
    bool was_parts;
    uint8_t enc;
    uint64_t cas;    /* the version opened */
    uint64_t expiry; /* its expiry, which parts carry too */
    uint64_t count;
    bool build; /* coll_build_begin: replaces the key, no TTL */
    /* inline */
    const uint8_t *img;
    size_t len;
    int cur; /* scratch buffer img is in; -1: the store's view */
    /* parts */
    uint8_t id[8];
    uint32_t nparts;
    uint64_t bytes;
    uint8_t head[COLL_ROOT_LEN]; /* the root in the store, if head_set */
    bool head_set;
    uint32_t head_nparts; /* head's nparts, count and bytes, decoded */
    uint64_t head_count;
    uint64_t head_bytes;
    /* parts of the version opened, dropped once a build replaced it */
    uint8_t old_id[8];
    uint32_t old_nparts;
    bool drop_old; /* a shrink rewrote the parts: drop old_id's at commit */
    char num[24];  /* an intset member as text, for coll_random */
};

/* Opens key for reading (write false) or for a change (write true, under
 * the key's lock until coll_close). flags: ks_lookup's (KS_NOTOUCH,
 * KS_NOSTATS), COLL_LOCKED. COLL_OK (exists), COLL_MISS (missing: for a
 * change, an empty collection to add to), COLL_WRONGTYPE. */
coll_status_e coll_open(struct coll *c, uint8_t db, const void *key,
        size_t klen, uint8_t type, bool write, unsigned flags, uint64_t now);
/* Writes the change (or deletes a collection left empty). COLL_OK,
 * COLL_RETRY, COLL_ENOMEM, COLL_EOVERSIZE. */
coll_status_e coll_commit(struct coll *c);
/* A store write's status as a collection status (ENOMEM, EOVERSIZE; a
 * failed condition is COLL_RETRY). */
coll_status_e coll_status_of(storage_status_e st);
/* Releases the lock; always call after coll_open. */
void coll_close(struct coll *c);

static inline uint64_t
coll_count(const struct coll *c)
{
    return c->count;
}

/* ---- hashes ---- */
/* HGET: COLL_OK and *v, COLL_MISS (no field; also a collection found
 * broken, which is then deleted: see coll.c). */
coll_status_e coll_hash_get(
        struct coll *c, const void *f, size_t flen, struct pack_elem *v);
coll_status_e coll_hash_set(struct coll *c, const void *f, size_t flen,
        const void *v, size_t vlen, bool *added);
coll_status_e coll_hash_del(
        struct coll *c, const void *f, size_t flen, bool *removed);

/* ---- sets ---- */
coll_status_e coll_set_has(struct coll *c, const void *m, size_t mlen);
coll_status_e coll_set_add(
        struct coll *c, const void *m, size_t mlen, bool *added);
coll_status_e coll_set_rem(
        struct coll *c, const void *m, size_t mlen, bool *removed);

/* ---- walking ---- */
/* a: the member or field, b: the value (NULL for a set). Return false to
 * stop. Views valid for the call. */
typedef bool coll_each_fn(
        const struct pack_elem *a, const struct pack_elem *b, void *arg);
/* Every element. COLL_OK, or COLL_MISS for a broken collection. */
coll_status_e coll_each(struct coll *c, coll_each_fn *fn, void *arg);
/* HSCAN/SSCAN: about count elements from cursor; *next 0 at the end. An
 * inline collection is done in one call, as Redis's small encodings are. */
coll_status_e coll_scan(struct coll *c, uint64_t cursor, uint64_t count,
        coll_each_fn *fn, void *arg, uint64_t *next);
/* One element picked with the random number r (uniform for inline ones,
 * uniform over parts then within the part for large ones). */
coll_status_e coll_random(
        struct coll *c, uint64_t r, struct pack_elem *a, struct pack_elem *b);

/* OBJECT ENCODING of a hash or set item: "listpack", "intset" or
 * "hashtable". */
const char *coll_encoding_name(const struct storage_item *it);
/* MEMORY USAGE of a collection: its item and its parts. */
size_t coll_memory_usage(
        uint8_t db, const struct storage_item *it, uint64_t now);

/* Stripe locks of several keys (multi-key commands): sorts s[0..n) and
 * takes each distinct stripe once, in order; unlock releases them. */
/* The calling thread's scratch buffer i (0..7: 0-2 coll.c's images, 3-7
 * zcoll.c's edits) with room for n bytes after a free byte 0: grown on
 * demand, kept between commands, freed when the thread exits. NULL: no
 * memory. What it held is lost at the next call for the same i. */
uint8_t *coll_scratch(int i, size_t n);
void coll_lock_stripes(uint32_t *s, uint32_t n);
void coll_unlock_stripes(const uint32_t *s, uint32_t n);

/* A fresh empty collection written in one go (the *STORE commands):
 * begin (under the key's lock, which the caller holds), add elements that
 * are not there yet (the caller deduplicates), end: replaces whatever the
 * key held. */
coll_status_e coll_build_begin(struct coll *c, uint8_t db, const void *key,
        size_t klen, uint8_t type, uint64_t now);
