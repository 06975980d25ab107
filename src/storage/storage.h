/* SPDX-License-Identifier: Apache-2.0 */
/* The storage API both protocols use (through src/processor/ only): one
 * key-value store with 16 databases, exact millisecond expiry, exact per-item
 * CAS and zero-copy reads. The segment store (src/storage/seg/) implements
 * it; set it up with seg_setup() from "storage/seg/seg.h".
 *
 * Threads. Every function may be called from any thread. A thread that keeps
 * the views (struct storage_item) returned by reads must register with
 * storage_thread_register() and call storage_quiescent() once per event-loop
 * iteration, after it has copied what it needs from its views into its write
 * buffers. Memory a view points into is reused only after every registered
 * thread has passed a quiescent point (epoch-based reclamation), so views are
 * valid until the calling thread:
 *   - calls storage_quiescent(), or
 *   - calls any write function (set, reserve, delete, touch, incr, append,
 *     ...): a write may have to wait for memory, and a waiting thread counts
 *     as quiescent so that two waiting writers cannot block each other.
 * A view returned by a write function itself (the replaced item of a set,
 * the item of getdel or get-and-touch) is valid under the same rule, until
 * the next write or quiescent point. An unregistered thread gets no
 * protection: use that only when no other thread uses the store (tools,
 * single-threaded tests).
 *
 * Time. Every operation takes the caller's `now` in unix milliseconds (the
 * event loop reads the clock once per batch). Expiries are unix milliseconds,
 * TIME_NEVER (0) for none (base/time.h). An item whose expiry is <= now is
 * never returned, and is never removed before then except by eviction.
 *
 * CAS. Every write that changes an item gives it a new CAS value, unique in
 * the store; touching or changing an expiry keeps the CAS, as does moving an
 * item during merge eviction. Check-and-set is atomic with every other
 * writer.
 *
 * Keys are 1 .. STORAGE_KEY_MAX bytes (the memcache parser refuses more than
 * 250 before it gets here). Values are bytes; the largest value for a key is
 * storage_value_max(klen) (about the segment size). Each protocol parses
 * numbers its own way (src/processor/); the store offers the atomic
 * read-modify-write (storage_update) they are computed in. */
#pragma once

#include "base/status.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* clang-format off */
#define STORAGE_DB_COUNT    16      /* databases 0 .. 15 */
#define STORAGE_DB_ALL      0xff    /* storage_flush: every database */
#define STORAGE_KEY_MAX     65535   /* bytes */
#define STORAGE_EXPIRY_KEEP UINT64_MAX /* storage_invalidate: keep expiry */
#define STORAGE_DB_PARTS    0x10    /* db | this: the parts namespace of db */
/* clang-format on */

/* Every item has a type. The store keeps it with the bytes and knows
 * nothing else of it: encodings live in src/types/, their rules in
 * src/processor/. A string is what both protocols store; an item of another
 * type is never read, incremented or appended to as a string (the string
 * read-modify-write functions answer STORAGE_EWRONGTYPE). A typed item
 * carries no memcache client flags and is never stale (those are string
 * things); the type costs one header byte, a string none.
 *
 * Parts: a value that does not fit one item (a large collection, a large
 * value) is a root item plus part items. The root is written with
 * storage_write.parts: its value starts with an 8-byte id, unique to this
 * incarnation of the root. Its parts are items in the namespace
 * db | STORAGE_DB_PARTS, keyed root key + id (8 bytes) + index (4 bytes,
 * big-endian), written with the root's expiry. That namespace is invisible
 * to every whole-database operation (counts, scan, random key) but flushed
 * with db. Whoever deletes or replaces a root deletes its parts; eviction
 * keeps a part while its root is linked and read, reads the root's
 * frequency for it, and when it drops a live part it evicts the root with
 * it (the key goes whole); a part whose root is gone or has another id is
 * dead and dropped at its segment's next merge or eviction.
 *
 * A value being written has parts before its root: while it is pinned
 * (storage_parts_pin, until its root is in or the write is given up), a
 * part of its id with no root is taken as live and read often by merge
 * and compaction (kept while a merge has room) instead of as dead. */
typedef enum {
    STORAGE_TYPE_STRING = 0,
    STORAGE_TYPE_HASH = 1,
    STORAGE_TYPE_SET = 2,
    STORAGE_TYPE_ZSET = 3,
    STORAGE_TYPE_LIST = 4,
    STORAGE_TYPE_STRING_PARTS = 5, /* a string too large for one item: a
                                      root (src/processor/keyspace_str.c) */
    STORAGE_TYPE_MAX = 15,
} storage_type_e;
#define STORAGE_PART_SUFFIX 12 /* id 8 + index 4, after the root key */

typedef enum {
    STORAGE_OK = 0,
    STORAGE_NOT_FOUND,  /* no live item (missing, expired or flushed) */
    STORAGE_EXISTS,     /* CAS mismatch; add / NX on a live item */
    STORAGE_NOT_STORED, /* replace / XX on a missing item; a TTL condition
                           (NX XX GT LT) or a rename NX that said no */
    STORAGE_ENOMEM,     /* no memory: policy `none`, or nothing evictable */
    STORAGE_EOVERSIZE,  /* key + value would not fit in a segment */
    STORAGE_ENAN,       /* not a number (a storage_update fn's answer) */
    STORAGE_EOVERFLOW,  /* out of range (a storage_update fn's answer) */
    STORAGE_EINVAL,     /* bad argument: db out of range, empty key */
    STORAGE_EWRONGTYPE, /* a string operation on an item of another type */
} storage_status_e;

/* A short constant name ("STORAGE_EXISTS"), for logs and tests. */
const char *storage_status_str(storage_status_e status);

/* A zero-copy view of one item, filled by reads. Pointers point into store
 * memory: read-only, valid until the rule at the top of this file ends
 * them. Access fields describe the item *before* this access (memcached's
 * meta `h` and `l` flags report exactly that). */
struct storage_item {
    const uint8_t *key;
    size_t klen;
    const uint8_t *value;
    size_t vlen;
    uint64_t cas;         /* unique to this version of the key; compare
                             with storage_cas_older, not < */
    uint64_t expiry;      /* unix ms; TIME_NEVER for none */
    uint64_t last_access; /* unix ms, to the minute; see docs/storage.md */
    uint32_t cflags;      /* memcache client flags, 0 if never set */
    uint8_t db;           /* namespace: | STORAGE_DB_PARTS for a part */
    uint8_t type;         /* storage_type_e */
    bool parts;           /* a root: value starts with its parts' 8-byte id */
    uint8_t freq;         /* read frequency counter, 0..255, log-like above 8
                             (Redis OBJECT FREQ) */
    bool fetched;         /* read before this access (meta `h`) */
    bool stale;           /* marked stale by storage_invalidate (meta `X`) */
    bool win_sent;        /* a win token was already handed out (meta `Z`) */
    void *priv;           /* the store's; do not touch */
};

/* Meta commands' recache/stale protocol: atomically takes the item's win
 * token. Returns true for exactly one caller per item version (meta `W`);
 * false if someone already has it (meta `Z`). `it` is a live view. */
bool storage_item_claim_win(const struct storage_item *it);

/* Whether cas names a version of the key older than the live view's (meta
 * set's invalidate mode). A CAS is where its version was written, so
 * within one segment numbers follow time; across segments a number the
 * store has handed out is older than the live version (the newest), and
 * one it never could have (past every segment opened) is newer. Against a
 * CAS the writer chose (meta E), numbers are compared, as memcached does. */
bool storage_cas_older(const struct storage_item *it, uint64_t cas);

/* Bytes a live view's item takes in the store (Redis MEMORY USAGE): its
 * stride in its segment (header, key and value, aligned) plus its 8-byte
 * hash slot. Pure; any thread, while the view is valid. */
size_t storage_item_footprint(const struct storage_item *it);

typedef enum {
    STORAGE_SET,     /* store unconditionally */
    STORAGE_ADD,     /* only if no live item (memcache add, Redis NX) */
    STORAGE_REPLACE, /* only if a live item (memcache replace, Redis XX) */
    STORAGE_CAS,     /* only if the live item's CAS equals `cas` */
} storage_mode_e;

/* How to write. Zero-initialized means: SET, no expiry, flags 0. */
struct storage_write {
    storage_mode_e mode;
    uint64_t cas;     /* STORAGE_CAS: expected value */
    uint64_t expiry;  /* unix ms or TIME_NEVER; ignored with keep_ttl */
    uint32_t cflags;  /* memcache client flags */
    bool keep_ttl;    /* Redis KEEPTTL: keep the replaced item's expiry */
    bool stale;       /* store marked stale (meta set with invalidate) */
    bool win_sent;    /* store with the win token taken (meta vivify) */
    uint64_t new_cas; /* not 0: the item's CAS (meta set E); else a fresh
                         unique one */
    uint8_t type;     /* storage_type_e; not STRING: cflags, stale ignored */
    bool parts;       /* a root of parts (see storage_type_e above) */
};

/* Thread registration for zero-copy reads (see top of file). register:
 * STATUS_OK, or STATUS_ENOMEM when STORAGE_THREADS_MAX threads are
 * registered. A registered thread unregisters before it exits. */
#define STORAGE_THREADS_MAX 128
rstatus_i storage_thread_register(void);
void storage_thread_unregister(void);
/* The calling thread holds no view: ends every view it got. Cheap (one
 * store); call once per event-loop iteration. */
void storage_quiescent(void);
/* Changes whenever the calling thread passes a point where the views it
 * holds may end: its quiescent point, or a write that waited for memory
 * (and so counted as quiescent). Equal before and after a write call: the
 * views taken before it are still valid, the exception to the rule above
 * (a caller that builds a value from a view into a reservation checks it
 * after storage_reserve, and reads the view again when it moved). */
uint64_t storage_views_gen(void);

/* Reads. STORAGE_OK fills *it (it may be NULL: existence only);
 * STORAGE_NOT_FOUND; STORAGE_EINVAL. get records the access (frequency,
 * fetched, last access); peek does not (Redis EXISTS, TTL, TYPE). A many-key
 * get is one call per key: every view stays valid until the quiescent point. */
storage_status_e storage_get(uint8_t db, const void *key, size_t klen,
        uint64_t now, struct storage_item *it);
storage_status_e storage_peek(uint8_t db, const void *key, size_t klen,
        uint64_t now, struct storage_item *it);
/* Writes a whole value. Statuses: OK; EXISTS (ADD on a live item, CAS
 * mismatch); NOT_STORED (REPLACE on a missing item); NOT_FOUND (CAS on a
 * missing item); EOVERSIZE; ENOMEM; EINVAL. old (may be NULL) receives the
 * item that was replaced, or that made ADD fail (Redis SET .. GET); old->key
 * is NULL when there was none. cas (may be NULL) receives the new CAS. */
storage_status_e storage_set(uint8_t db, const void *key, size_t klen,
        const void *value, size_t vlen, const struct storage_write *w,
        uint64_t now, struct storage_item *old, uint64_t *cas);

/* Streaming write of a value known by length before its bytes arrive (the
 * memcache processor feeds values larger than its read buffer): reserve,
 * fill r->value[0 .. r->vlen) piecewise across event-loop iterations, then
 * commit (the mode check happens at commit, as storage_set) or abort. The
 * key is copied at reserve. An open reservation keeps its segment from being
 * evicted (not from being read by others: it is invisible until commit).
 * The same reservation must not be committed twice; any thread may commit
 * or abort it. Statuses of reserve: OK, EOVERSIZE, ENOMEM, EINVAL. */
struct storage_reservation {
    uint8_t *value; /* writable area of vlen bytes */
    size_t vlen;
    uint64_t priv[12]; /* the store's */
};
storage_status_e storage_reserve(struct storage_reservation *r, uint8_t db,
        const void *key, size_t klen, size_t vlen,
        const struct storage_write *w, uint64_t now);
storage_status_e storage_commit(struct storage_reservation *r, uint64_t now,
        struct storage_item *old, uint64_t *cas);
void storage_abort(struct storage_reservation *r);

/* Overwrites n bytes of a root's value (an item written with
 * storage_write.parts) at offset off, in place: no new copy, and the CAS
 * stays (the one change that does not take a new one; storage_item_claim_win
 * aside). For a fixed-size field the caller keeps in the root (a
 * collection's element count), so that changing it costs no item write.
 * The caller serializes every writer of the key and every reader of those
 * bytes by a lock of its own (the keyspace's stripe lock); the store takes
 * the key's bucket locks, and copies a root's value (touch, merge,
 * compaction) under the same locks, so no patch is lost to a copy. Only
 * the version whose CAS is cas. OK; NOT_FOUND (no live item); EXISTS (its
 * CAS differs); EINVAL (not a root, or off + n past its value). */
storage_status_e storage_patch(uint8_t db, const void *key, size_t klen,
        uint64_t cas, size_t off, const void *src, size_t n, uint64_t now);
/* Several patches of one root under one lookup: all or none (EINVAL when
 * any range is past the value). */
struct storage_patch_range {
    size_t off;
    const void *src;
    size_t n;
};
storage_status_e storage_patch_many(uint8_t db, const void *key, size_t klen,
        uint64_t cas, const struct storage_patch_range *r, size_t nr,
        uint64_t now);

/* Deletes. cas 0: any version; else only that version (EXISTS if it
 * differs, meta delete with C). OK, NOT_FOUND, EXISTS. */
storage_status_e storage_delete(
        uint8_t db, const void *key, size_t klen, uint64_t cas, uint64_t now);
/* Removes and returns the item (Redis GETDEL); *it stays valid as a view.*/
storage_status_e storage_getdel(uint8_t db, const void *key, size_t klen,
        uint64_t now, struct storage_item *it);

typedef enum {
    STORAGE_TTL_ALWAYS, /* memcache touch, Redis EXPIRE */
    STORAGE_TTL_NX,     /* only if the item has no expiry */
    STORAGE_TTL_XX,     /* only if it has one (PERSIST uses this) */
    STORAGE_TTL_GT,     /* only if later than the current (none = infinite) */
    STORAGE_TTL_LT,     /* only if earlier than the current (none = inf.) */
} storage_ttl_cond_e;

/* Sets the expiry (TIME_NEVER removes it), keeping value, flags and CAS. An
 * expiry at or before now deletes the item. OK, NOT_FOUND, NOT_STORED (the
 * condition said no), ENOMEM. it (may be NULL) receives a view of the
 * touched item and the access is recorded (memcache gat/gats, meta T). */
storage_status_e storage_touch(uint8_t db, const void *key, size_t klen,
        uint64_t expiry, storage_ttl_cond_e cond, uint64_t now,
        struct storage_item *it);

/* String read-modify-writes: invalidate, update, append and
 * setrange answer EWRONGTYPE, atomically with the operation, when the key
 * holds an item of another type (storage_type_e). */

/* Marks the item stale with a new CAS and a fresh win token (meta delete
 * with I); expiry STORAGE_EXPIRY_KEEP keeps the expiry. OK, NOT_FOUND. */
storage_status_e storage_invalidate(uint8_t db, const void *key, size_t klen,
        uint64_t expiry, uint64_t now);

typedef enum {
    STORAGE_MISSING_FAIL,   /* memcache: NOT_FOUND / NOT_STORED when missing */
    STORAGE_MISSING_CREATE, /* Redis INCR, APPEND: create without expiry */
} storage_missing_e;

/* The atomic read-modify-write of a string value; the caller's fn computes
 * the new value from the current one (the protocols' number rules live in
 * src/processor/, not here). fn gets the current value (found false, old
 * NULL: none) and writes at most STORAGE_UPDATE_MAX bytes to out, setting
 * *outlen; it returns STORAGE_OK to store them, or another status (not
 * OK) to change nothing: storage_update returns that status. fn runs with
 * the item's bytes valid, may run more than once (a concurrent writer came
 * between the read and the write: retried, as every read-modify-write
 * here), must not call storage functions, and keeps what it computed in
 * arg. The new value keeps the expiry and client flags, is not stale, and
 * gets a new CAS (*cas, may be NULL). A missing key: NOT_FOUND with
 * MISSING_FAIL (or with expect), else fn's value is created without
 * expiry. expect not 0: only if the item's CAS is expect (EXISTS
 * otherwise), atomically with the write. Another type: EWRONGTYPE before
 * fn runs. Statuses: OK, NOT_FOUND, EXISTS, EWRONGTYPE, EOVERSIZE (fn said
 * more than STORAGE_UPDATE_MAX), ENOMEM, fn's own. */
#define STORAGE_UPDATE_MAX 64
typedef storage_status_e (*storage_update_fn)(const uint8_t *old, size_t olen,
        bool found, uint8_t *out, size_t *outlen, void *arg);
storage_status_e storage_update(uint8_t db, const void *key, size_t klen,
        storage_update_fn fn, void *arg, storage_missing_e missing,
        uint64_t expect, uint64_t now, uint64_t *cas);

typedef enum {
    STORAGE_APPEND,
    STORAGE_PREPEND,
} storage_side_e;

/* Appends or prepends data, keeping expiry and flags; new CAS. cas 0: any
 * version, else EXISTS when the CAS differs. OK (*new_len, *new_cas: may be
 * NULL), NOT_STORED (missing, MISSING_FAIL), EXISTS, EOVERSIZE (the result
 * would pass storage_value_max), ENOMEM. */
storage_status_e storage_append(uint8_t db, const void *key, size_t klen,
        const void *data, size_t len, storage_side_e side,
        storage_missing_e missing, uint64_t cas, uint64_t now, size_t *new_len,
        uint64_t *new_cas);
/* Redis SETRANGE: overwrites from offset, zero-padding; creates a missing
 * key (without expiry) unless len is 0. OK (*new_len: 0 and nothing
 * stored for a missing key with len 0), EOVERSIZE, ENOMEM. */
storage_status_e storage_setrange(uint8_t db, const void *key, size_t klen,
        size_t offset, const void *data, size_t len, uint64_t now,
        size_t *new_len);

typedef enum {
    STORAGE_OVERWRITE,    /* RENAME, COPY .. REPLACE */
    STORAGE_NO_OVERWRITE, /* RENAMENX, COPY, MOVE */
} storage_overwrite_e;

/* Rename and copy keep the type. A root of parts answers EWRONGTYPE: its
 * parts are keyed by its name, so the caller moves them.
 * Redis RENAME: the value, flags and expiry move to dst (new CAS). Not
 * atomic as one step: dst is written, then src removed if unchanged; a
 * concurrent write to src wins and src stays. OK, NOT_FOUND (src),
 * NOT_STORED (NO_OVERWRITE and dst live), ENOMEM. src == dst: OK (or
 * NOT_STORED with NO_OVERWRITE), nothing changes. */
storage_status_e storage_rename(uint8_t db, const void *src, size_t slen,
        const void *dst, size_t dlen, storage_overwrite_e ow, uint64_t now);
/* Redis COPY (and MOVE = copy NO_OVERWRITE then storage_delete with the
 * source's CAS): dst gets src's value, flags and expiry. OK, NOT_FOUND,
 * NOT_STORED, ENOMEM, EINVAL (same db and key). */
storage_status_e storage_copy(uint8_t src_db, const void *src, size_t slen,
        uint8_t dst_db, const void *dst, size_t dlen, storage_overwrite_e ow,
        uint64_t now);

/* A random live key of db (Redis RANDOMKEY). OK fills *it; NOT_FOUND when
 * the database has no live item. */
storage_status_e storage_random_key(
        uint8_t db, uint64_t now, struct storage_item *it);

/* Items linked in db (Redis DBSIZE): like Redis, it can include items that
 * expired and were not reclaimed yet. Any thread; relaxed. */
uint64_t storage_count(uint8_t db);
/* Those of them with an expiry (Redis INFO keyspace's expires=), counted
 * the same way. */
uint64_t storage_count_expires(uint8_t db);

/* Drops every item of db (or STORAGE_DB_ALL) written before `at`. at <= now:
 * now (Redis FLUSHDB / FLUSHALL, memcache flush_all); at > now: when a later
 * operation sees now >= at (memcache flush_all N). Items written after that
 * moment live on. OK, EINVAL. */
storage_status_e storage_flush(uint8_t db, uint64_t at, uint64_t now);

/* Cursor iteration (Redis SCAN): calls cb for about `count` live items of
 * db (whole hash chains: a few more may come), returns the next cursor; 0
 * when the iteration is complete. Start with cursor 0. One call's work is
 * bounded, and a whole iteration costs about what the keys cost (it skips
 * empty parts of the table cheaply), not what seg.memory does; a call may
 * report fewer than count items, even none, before the end. Every key
 * present for the whole iteration is reported at least once (once unless
 * the store is modified concurrently). cb gets a view valid for the call;
 * it must not call storage functions. */
typedef void (*storage_scan_fn)(const struct storage_item *it, void *arg);
uint64_t storage_scan(uint8_t db, uint64_t cursor, size_t count, uint64_t now,
        storage_scan_fn cb, void *arg);

/* Limits. item_size_max: the largest key + value (memcached's
 * `item_size_max`); value_max: the largest value for a key of klen bytes
 * (with flags and expiry). */
size_t storage_item_size_max(void);
size_t storage_value_max(size_t klen);

/* Items that leave the store by themselves: a hook told of every key
 * (not a part) dropped because it expired (found expired by a read or a
 * write, or unlinked with its expired segment) or was evicted (its
 * segment evicted, not kept by a merge, or the root of an evicted part),
 * once per key. (An entry pushed out of a hash table that cannot grow,
 * seg_hash_evict, is not reported: that happens under the table's lock.)
 * Flushed items and deleted or replaced ones are not reported. It runs on the
 * thread that dropped the item (a worker or the background thread), with no
 * store lock held; it must not call storage functions. The key is valid
 * for the call. NULL (the default) turns it off; any thread may set it at
 * any time. */
typedef enum {
    STORAGE_DROP_EXPIRED,
    STORAGE_DROP_EVICTED,
} storage_drop_e;
/* What the store knows of a dropped item, for memcached's `watch
 * evictions` (NULL where the store does not know it). A root evicted
 * through one of its parts is described as itself: its type and value
 * tell its reader what the parts held. */
struct storage_drop_info {
    uint64_t expiry;      /* unix ms; TIME_NEVER for none */
    uint64_t last_access; /* unix ms, to the minute */
    const uint8_t *value; /* value_len bytes, valid during the call: the */
    uint32_t value_len;   /* whole value, or a root's first 64 bytes */
    uint32_t vlen;
    uint8_t type; /* storage_type_e */
    bool fetched; /* read since it was written */
};
typedef void (*storage_drop_fn)(uint8_t db, const void *key, size_t klen,
        storage_drop_e why, const struct storage_drop_info *info);
void storage_on_drop(storage_drop_fn fn);

/* Parts written before their root (see "Parts" above): pin the id the
 * parts are keyed by for as long as the root is not in. Returns a pin
 * (STORAGE_PIN_NONE when all STORAGE_PINS are taken: the write goes on
 * unpinned, and a merge may then take its first parts for dead, which the
 * writer finds as missing parts); storage_parts_repin moves a pin to
 * another id; storage_parts_unpin(STORAGE_PIN_NONE) does nothing. Any
 * thread, lock-free. */
#define STORAGE_PINS     256
#define STORAGE_PIN_NONE UINT32_MAX
uint32_t storage_parts_pin(const uint8_t id[8]);
void storage_parts_repin(uint32_t pin, const uint8_t id[8]);
void storage_parts_unpin(uint32_t pin);

/* One round of the background work, synchronously: pending flushes, whole
 * expired segments, the free-segment reserve. The background thread calls
 * it; tests with an injected clock call it directly. */
void storage_maintain(uint64_t now);
