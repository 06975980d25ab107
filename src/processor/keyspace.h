/* SPDX-License-Identifier: Apache-2.0 */
/* The keyspace path: every keyed command of every protocol reads and writes
 * keys through here. It adds to the store (storage/storage.h) what is the
 * same for every protocol: the type check (Redis's WRONGTYPE), a key taken
 * whole (a root and its parts: deleted, expired, renamed and copied
 * together), the per-key locks that make a collection's read-modify-write
 * atomic across workers, and the places where accesses and changes are
 * observed (hit and miss counts, and the hooks hot keys, keyspace
 * notifications and client tracking hang on). The processors call no keyed
 * storage function themselves; docs/storage.md "Keyspace path".
 *
 * A value stored in parts (a large collection) is a root item whose value
 * starts with KS_ROOT_HDR bytes: the 8-byte id its parts are keyed by and
 * the number of parts (4 bytes, big-endian); part i is the item
 * ks_part_key(key, id, i) in db | STORAGE_DB_PARTS, with the root's expiry.
 *
 * Strings in parts. A string too large for one item (a write the store
 * answers EOVERSIZE) is a root of type STORAGE_TYPE_STRING_PARTS whose
 * parts hold ks_str_chunk() bytes each (keyspace_str.c draws the root). It
 * is a string to every command: ks_lookup for a STORAGE_TYPE_STRING hands
 * out a copy of the whole value in the thread's scratch (read under the
 * key's stripe lock, released by ks_scratch_release), APPEND and SETRANGE
 * rewrite only the parts they touch, and the rest of this path takes the
 * key whole as for any root.
 *
 * Threads: every function may be called from any thread, under the view
 * rules of storage.h (a ks_* write ends the caller's views, as a storage
 * write does). The hooks are set at setup, before workers run. */
#pragma once

#include "storage/storage.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* clang-format off */
#define KS_ANY        0xff  /* ks_lookup: any type */
#define KS_ROOT_HDR   12    /* id 8 + part count 4 */
#define KS_STRIPES    1024  /* per-key lock stripes */
/* ks_lookup flags */
#define KS_NOTOUCH    0x1   /* peek: no access recorded (TYPE, EXISTS, TTL) */
#define KS_NOSTATS    0x2   /* no hit or miss counted (a write's lookup) */
#define KS_RAW        0x8   /* a string in parts: *it is its root, not a
                               copy of its value (ks_str_len) */
#define KS_COPY       0x10  /* any string: *it views a copy in scratch, which
                               no later lock or write ends (commands that
                               hold several keys' values: BITOP, LCS) */
/* clang-format on */

typedef enum {
    KS_OK = 0,    /* a live key of the wanted type: *it filled */
    KS_MISS,      /* no live key */
    KS_WRONGTYPE, /* a live key of another type: *it filled */
} ks_lookup_e;

/* Looks a key up for a command that wants `type` (storage_type_e or
 * KS_ANY); it may be NULL (existence only). The view is valid as storage.h
 * says. Counts one keyspace hit or miss unless KS_NOSTATS, with Redis
 * 7.0.15's rule: a read lookup counts (lookupKeyRead), a key of another
 * type is a hit (the type is checked after the lookup); write lookups and
 * lookups that are not Redis's pass KS_NOSTATS. Calls the read hook for
 * every key it finds, whatever the flags. A key whose stripe another
 * thread holds (a hold: EXEC, a script, a multi-key command) is looked up
 * after the hold ends, waiting as a quiescent thread: that ends the
 * caller's earlier views, as a ks_* write does. */
ks_lookup_e ks_lookup(uint8_t db, const void *key, size_t klen, uint8_t type,
        unsigned flags, uint64_t now, struct storage_item *it);
/* A string in parts found by ks_lookup for a string is copied whole into
 * the thread's scratch, so *it views an ordinary string; the copy lives
 * until ks_scratch_release(), which each processor calls after each
 * request. Copying takes the key's stripe lock (counted if this thread
 * holds it already: a write's read-modify-write, a hold): a lock another
 * thread has ends this thread's views (see the locks below), so a command
 * that looks up several keys copies what it needs of one before it looks
 * up the next (KS_COPY). It also ends the pin of the last id this thread
 * made (ks_new_id): the request's writes are done. */
void ks_scratch_release(void);
/* Takes p, a copy in this thread's scratch (a value a lookup copied out of
 * its parts), out of it: ks_scratch_release leaves it, and the caller frees
 * it with ks_scratch_free (from any thread). false: p is not such a copy. */
bool ks_scratch_take(const void *p);
bool ks_scratch_holds(const void *p); /* whether ks_scratch_take would */
void ks_scratch_free(void *p);
/* STORAGE_TYPE_STRING or STORAGE_TYPE_STRING_PARTS. */
bool ks_is_string(uint8_t type);
/* The length of a string (a root's value's, with KS_RAW); 0 for another
 * type. */
uint64_t ks_str_len(const struct storage_item *it);
/* The memcache client flags of a string (a root's, with KS_RAW). */
uint32_t ks_str_cflags(const struct storage_item *it);
/* Bytes per part of a new string in parts: a sixteenth of the largest
 * item (so a large value wastes at most that per segment), at least 1 KiB. */
size_t ks_str_chunk(void);
/* The largest string value written as one item: one part's bytes. A
 * larger one goes in parts, which pack segments where one large item
 * would leave the rest of its segment empty (an APPEND or SETRANGE may
 * still grow a whole value up to one item). */
size_t ks_str_whole_max(void);
#define KS_STR_WHOLE_MIN 1024 /* ks_str_whole_max() is never below it */
/* A string value written whole in parts; the caller holds the key's
 * stripe lock (ks_set under its own, resp_strmod.c under a command's).
 * storage_set's statuses (mode, CAS and keep_ttl as w says; old as
 * ks_set's); no change reported. */
storage_status_e ks_str_set_locked(uint8_t db, const void *key, size_t klen,
        const void *value, size_t vlen, const struct storage_write *w,
        uint64_t now, struct storage_item *old, uint64_t *cas);
/* SETRANGE of a string in parts, or of an inline one (moved into parts),
 * writing only the parts the range touches; the caller holds the key's
 * stripe lock; no change reported (SETBIT's large path, resp_bits.c).
 * The storage_setrange statuses. */
storage_status_e ks_str_setrange_locked(uint8_t db, const void *key,
        size_t klen, size_t offset, const void *data, size_t len, uint64_t now,
        size_t *new_len);
/* Bytes [from, from + len) of the string at key, inline or in parts, into
 * dst (zeros past its end), without copying the rest; *slen its length.
 * The caller holds the key's stripe lock. OK, NOT_FOUND (no key: *slen 0),
 * EWRONGTYPE, ENOMEM. */
storage_status_e ks_str_read_locked(uint8_t db, const void *key, size_t klen,
        uint64_t from, size_t len, uint8_t *dst, uint64_t *slen, uint64_t now);

/* Counts a key looked up without ks_lookup (SCAN .. TYPE checks each key
 * it reports inside a scan callback, where no storage call is allowed). */
void ks_count_lookup(bool hit);

/* ---- hooks ----
 *
 * Set at setup, before any worker runs (the change hook: at any time);
 * NULL (the default) disables.
 * A hook runs on the worker thread of the command, inline: it must be
 * cheap and must not call storage or ks_* functions.
 *
 * count: one call per counted lookup (see ks_lookup); the resp processor
 *   sets it to count Redis's keyspace_hits and keyspace_misses.
 * read: every key ks_lookup finds (a read access of any protocol, any
 *   flags); it is the view. (The hot-key sampler hangs on the access hook
 *   below, which also hears misses and writes.)
 * change: every change of a key made through this path, after it is made,
 *   with Redis's keyspace-notification event name: "new" (before the
 *   event of a whole value written where no live key was), "set" (a
 *   whole value written: set, add, replace, cas, vivify; ks_set_as names
 *   another event), then "expire" when that write set an expiry (not
 *   KEEPTTL), "del" (also an expiry in the
 *   past, as Redis reports it), "expire" (an expiry set or changed),
 *   "persist", "rename_from", "rename_to", "copy_to", "incrby" (incr and decr
 * of both protocols), "append" (append, prepend), "setrange", "invalidate"
 *   (meta delete with I); "flushdb" with key NULL and db, or db
 *   STORAGE_DB_ALL for "flushall"; "keymiss" for a counted lookup (not
 *   KS_NOSTATS) that found no key. Processors that change keys without
 *   this path (collections) report with ks_changed. Expiry and eviction
 *   happen inside the store: storage_on_drop tells of them. The hook may
 *   be set or cleared at any time (CONFIG SET notify-keyspace-events);
 *   keyspace notifications (notify.h) hang here. */
/* access: keyed accesses, sampled, for the hot-key sampler (issue 20),
 *   with their kind: KS_ACCESS_HIT and KS_ACCESS_MISS for each ks_lookup,
 *   but a peek that neither touches nor counts (KS_NOTOUCH | KS_NOSTATS:
 *   the check a command makes before it writes, WATCH's version), and
 *   KS_ACCESS_WRITE for each change the change hook hears of (not
 *   flushes). A command that reads and then writes a key is both. The
 *   protocol is the calling thread's ks_protocol(). The hook hears of one
 *   access and returns how many this thread lets pass before it hears of
 *   the next (1: the very next; 0 is taken as 1), so an access it does
 *   not hear of costs a decrement and a test of a thread-local counter.
 *   With no hook a thread looks again every KS_ACCESS_IDLE accesses;
 *   ks_on_access applies to the calling thread at once, to others within
 *   that many of their accesses (set it before workers start). */
#define KS_ACCESS_IDLE 4096
typedef enum {
    KS_ACCESS_HIT = 0,
    KS_ACCESS_MISS,
    KS_ACCESS_WRITE,
} ks_access_e;
typedef uint32_t (*ks_access_fn)(
        uint8_t db, const void *key, size_t klen, ks_access_e kind);
void ks_on_access(ks_access_fn fn);
/* The protocol of the commands this thread runs now: each processor sets
 * it as it starts on a connection's bytes. KS_PROTO_NONE until then. */
typedef enum {
    KS_PROTO_NONE = 0,
    KS_PROTO_MEMCACHE, /* text, meta and binary */
    KS_PROTO_RESP,
} ks_proto_e;
void ks_set_protocol(ks_proto_e proto);
ks_proto_e ks_protocol(void);

typedef void (*ks_count_fn)(bool hit);
typedef void (*ks_read_fn)(uint8_t db, const void *key, size_t klen,
        const struct storage_item *it);
typedef void (*ks_change_fn)(
        uint8_t db, const void *key, size_t klen, const char *event);
void ks_on_count(ks_count_fn fn);
void ks_on_read(ks_read_fn fn);
/* The change hook and the store's drop hook (storage_on_drop) each have
 * a listener per user: keyspace notifications, client tracking and
 * memcached's watch. With
 * one listener set it is the hook itself; with both, one call runs them
 * in turn. Any thread, any time. */
typedef enum {
    KS_LISTEN_NOTIFY = 0,
    KS_LISTEN_TRACKING,
    KS_LISTEN_WATCH, /* memcached's watch evictions (drops only) */
    KS_NLISTEN,
} ks_listener_e;
void ks_listen_change(ks_listener_e who, ks_change_fn fn);
void ks_listen_drop(ks_listener_e who, storage_drop_fn fn);
/* Reports a change made by a processor (the change and access hooks), for
 * writes that do not go through the ks_* functions (collections, MOVE). */
void ks_changed(uint8_t db, const void *key, size_t klen, const char *event);
/* The change hook alone, no access counted: an event that comes with
 * another for the same write (MOVE's "new" for its destination). */
void ks_heard(uint8_t db, const void *key, size_t klen, const char *event);
/* A collection command's change, with Redis's events (the change hook
 * only; collections write through coll.h, not the ks_* writes): "new"
 * when the key did not exist and now does, the command's event ("hset",
 * "lpush" ...), then "del" when the change emptied an existing key (the
 * collection code deletes it). */
void ks_coll_changed(uint8_t db, const void *key, size_t klen,
        const char *event, bool existed, bool empty);
/* A STORE command's destination (SINTERSTORE, ZUNIONSTORE ...), as Redis
 * reports it: an empty result deletes the key ("del" when it existed);
 * else "new" when it did not exist, then event. */
void ks_stored(uint8_t db, const void *key, size_t klen, const char *event,
        bool existed, bool empty);

/* OBJECT ENCODING of an item that is not a string: coll.h's
 * coll_encoding_name(). */

/* ---- writes, each reporting its change ---- */

/* storage_set; when it replaced a root of parts, the parts are dropped
 * (*old, if asked, is then cleared: old->key NULL). A string value too
 * large for one item is written in parts (see above). */
storage_status_e ks_set(uint8_t db, const void *key, size_t klen,
        const void *value, size_t vlen, const struct storage_write *w,
        uint64_t now, struct storage_item *old, uint64_t *cas);
/* ks_set reporting `event` instead of "set" (INCRBYFLOAT: "incrbyfloat"). */
storage_status_e ks_set_as(const char *event, uint8_t db, const void *key,
        size_t klen, const void *value, size_t vlen,
        const struct storage_write *w, uint64_t now, struct storage_item *old,
        uint64_t *cas);
/* Streaming writes (storage_reserve / storage_commit / storage_abort);
 * commit takes the key again (the store copied it at reserve; the change
 * is reported under it) and drops a replaced root's parts. */
storage_status_e ks_reserve(struct storage_reservation *r, uint8_t db,
        const void *key, size_t klen, size_t vlen,
        const struct storage_write *w, uint64_t now);
storage_status_e ks_commit(struct storage_reservation *r, uint8_t db,
        const void *key, size_t klen, uint64_t now, uint64_t *cas);
void ks_abort(struct storage_reservation *r);

/* A string value received in pieces straight into parts (memcache values
 * larger than a part: nothing the size of the value is buffered). begin
 * sizes it (vlen bytes, written with w) and answers NULL with *st
 * EOVERSIZE or ENOMEM; write takes the next bytes in order (a failure to
 * store a part is kept, the rest discarded); commit, once all vlen bytes
 * came, writes the root under the key's stripe lock with w's mode and CAS
 * (storage_set's statuses; EINVAL when bytes are missing; ENOMEM when a
 * part was evicted meanwhile), reports "set" and frees the stream; abort
 * deletes what was written and frees it (NULL-safe). A stream belongs to
 * one connection; its parts are invisible until the root is written. */
struct ks_stream;
struct ks_stream *ks_stream_begin(uint8_t db, const void *key, size_t klen,
        size_t vlen, const struct storage_write *w, uint64_t now,
        storage_status_e *st);
void ks_stream_write(
        struct ks_stream *s, const void *data, size_t len, uint64_t now);
storage_status_e ks_stream_commit(
        struct ks_stream **s, uint64_t now, uint64_t *cas);
/* commit with a write given now instead of begin's (a RESP SET's options
 * follow its value): its mode, expiry (the parts, written with begin's,
 * are set to it) or keep_ttl; old as ks_set's. Reports "new", "set" and
 * "expire" as ks_set does. */
storage_status_e ks_stream_commit_as(struct ks_stream **s,
        const struct storage_write *w, uint64_t now, struct storage_item *old,
        uint64_t *cas);
void ks_stream_abort(struct ks_stream **s, uint64_t now);
/* From now on each part is received straight into a reservation in the
 * store (no copy through the stream's buffer). An open reservation keeps
 * its segment from eviction, so only a caller that bounds how many such
 * streams are open at once (memcache's stream slots) asks for it. */
void ks_stream_reserve_parts(struct ks_stream *s);
/* memcache values larger than one item are kept in parts while the item
 * memcached would make of them (key, value, its header) is at most max
 * bytes (memcache.item_size_max, memcached's -I); 0, the default, keeps
 * them to one item (too large past it). Set at setup, before workers run. */
void ks_set_memcache_value_max(size_t max);

/* Sets a key's expiry as storage_touch does (TIME_NEVER removes it; at or
 * before now deletes the key), on a key of `type` (KS_ANY: any):
 * EWRONGTYPE, touching nothing, on a key of another type. A root of parts
 * has its parts set to the same expiry under the key's stripe lock; it
 * (may be NULL) then gets no view (it->key NULL). OK, NOT_FOUND,
 * NOT_STORED (cond said no), EWRONGTYPE, ENOMEM. */
storage_status_e ks_expire(uint8_t db, const void *key, size_t klen,
        uint8_t type, uint64_t expiry, storage_ttl_cond_e cond, uint64_t now,
        struct storage_item *it);

/* String read-modify-writes: the storage.h functions of the same names
 * (EWRONGTYPE on an item of another type, atomically), reporting the
 * change. */
storage_status_e ks_append(uint8_t db, const void *key, size_t klen,
        const void *data, size_t len, storage_side_e side,
        storage_missing_e missing, uint64_t cas, uint64_t now, size_t *new_len,
        uint64_t *new_cas);
storage_status_e ks_setrange(uint8_t db, const void *key, size_t klen,
        size_t offset, const void *data, size_t len, uint64_t now,
        size_t *new_len);
/* The protocols' number rules, each one storage_update (atomic, as the
 * store's read-modify-writes are; EWRONGTYPE on another type).
 * memcached incr/decr: the value must be what strtoull takes as memcached
 * checks it (white space, '+', 1..20 digits fitting 64 bits, then the end
 * or white space), else ENAN; incr wraps at 2^64, decr stops at 0; a
 * missing key is NOT_FOUND; expect not 0: only that CAS (EXISTS). Keeps
 * expiry and flags, new CAS (*value, *cas: may be NULL). */
typedef enum {
    KS_INCR,
    KS_DECR,
} ks_incr_e;
storage_status_e ks_incr_unsigned(uint8_t db, const void *key, size_t klen,
        uint64_t delta, ks_incr_e dir, uint64_t expect, uint64_t now,
        uint64_t *value, uint64_t *cas);
/* Redis INCRBY/DECRBY (decrement: pass -n): the value must be a Redis
 * integer (optional '-', no leading zeros or spaces, int64), else ENAN; a
 * result out of int64 range is EOVERFLOW and changes nothing. A missing
 * key counts as 0 and is created without expiry. Keeps the expiry. */
storage_status_e ks_incr_signed(uint8_t db, const void *key, size_t klen,
        int64_t delta, uint64_t now, int64_t *value);
storage_status_e ks_invalidate(uint8_t db, const void *key, size_t klen,
        uint64_t expiry, uint64_t now);

/* Redis RENAME/RENAMENX and COPY/MOVE, under both keys' stripe locks: as
 * storage_rename and storage_copy, for every type. A root of parts (which
 * the store refuses) is moved here: each part copied under the new key
 * with a new id, then the new root written, then (rename) the old root and
 * its parts deleted. A replaced destination root loses its parts. */
storage_status_e ks_rename(uint8_t db, const void *src, size_t slen,
        const void *dst, size_t dlen, storage_overwrite_e ow, uint64_t now);
storage_status_e ks_copy(uint8_t src_db, const void *src, size_t slen,
        uint8_t dst_db, const void *dst, size_t dlen, storage_overwrite_e ow,
        uint64_t now);

/* storage_flush (parts go with their db), reported as "flushdb". */
storage_status_e ks_flush(uint8_t db, uint64_t at, uint64_t now);

/* Redis's TYPE names: "string", "hash", "set", "zset", "list"; "none" for
 * a missing key (type KS_ANY). */
const char *ks_type_name(uint8_t type);

/* ---- keys taken whole ---- */

/* Deletes a key and its parts. OK, NOT_FOUND. */
storage_status_e ks_delete(
        uint8_t db, const void *key, size_t klen, uint64_t now);
/* The same, only if the key's CAS is cas (0: any): EXISTS otherwise
 * (memcache delete of a version: meta C, binary CAS). */
storage_status_e ks_delete_cas(
        uint8_t db, const void *key, size_t klen, uint64_t cas, uint64_t now);
/* Removes and returns the key (Redis GETDEL). *it is a view as storage.h
 * says; for a root of parts, the parts are dropped and *it cleared. */
storage_status_e ks_getdel(uint8_t db, const void *key, size_t klen,
        uint64_t now, struct storage_item *it);
/* The parts of a root that was just replaced or deleted (old view of a set
 * or getdel): deletes them. Nothing for a view that is not a root. */
void ks_drop_parts(uint8_t db, const struct storage_item *old, uint64_t now);
uint32_t ks_root_nparts(const struct storage_item *root);
/* Writes key + id + big-endian idx to dst (klen + STORAGE_PART_SUFFIX). */
size_t ks_part_key(uint8_t *dst, const void *key, size_t klen,
        const uint8_t id[8], uint32_t idx);
/* A fresh id for a new root: unique in this process and, with a random
 * start, across restarts that keep the data. The id is pinned for this
 * thread (storage_parts_pin: its parts, written before their root, are not
 * taken for dead) until the thread's next id or ks_scratch_release; a
 * write spanning requests (ks_stream) pins its own. */
void ks_new_id(uint8_t id[8]);

/* ---- per-key locks ---- */

/* The stripe of a key; keys of one stripe share a lock. Taking a lock that
 * is held waits as a quiescent thread (storage_quiescent()): it ends every
 * view the thread holds, so take locks before looking keys up.
 *
 * Locks are re-entrant per thread: a stripe the thread holds is counted,
 * not locked again (a command inside an EXEC or a script locks its keys
 * and finds them held). Every single-key write of this path (ks_set,
 * ks_incr_*, ks_expire ...) takes its key's stripe; single-key reads take
 * none, unless another thread has the stripe in a hold (below). */
uint32_t ks_stripe(uint8_t db, const void *key, size_t klen);
void ks_lock(uint32_t stripe);
void ks_unlock(uint32_t stripe);
/* Several stripes at once, in ascending order (no deadlock); duplicates
 * are taken once. n <= 16. */
void ks_lock_many(const uint32_t *stripes, uint32_t n);
void ks_unlock_many(const uint32_t *stripes, uint32_t n);
/* Whether this thread holds the stripe. */
bool ks_holds(uint32_t stripe);
/* A stripe's count of changes that left their key's item's CAS as it was:
 * a collection in parts whose element changed while its root's id and parts
 * stayed the same is not rewritten (its count and bytes are patched in
 * place, storage_patch), so its CAS does not move; WATCH reads this count
 * beside the CAS of a root in parts. _changed:
 * under the stripe's lock, after the change's writes. Any thread. */
void ks_stripe_changed(uint32_t stripe);
uint64_t ks_stripe_changes(uint32_t stripe);

/* ---- holds: the stripes of several keys taken together ----
 *
 * What makes a transaction, a multi-key command or a script one step for
 * every other thread: its keys' stripes, taken in ascending order before
 * it reads or writes, released after. While a hold has a stripe, lookups
 * of other threads on it wait for the hold to end (ks_lookup), so no
 * reader sees part of its writes, and writers wait on the lock. Holds
 * nest: a stripe the thread holds already is skipped (the outer hold
 * keeps it). Deadlock-free: a stripe greater than every stripe the thread
 * holds is waited for; a smaller one (keys the outer hold did not declare)
 * is only tried, up to wait_ns, and take fails if it cannot have it.
 *
 *     struct ks_hold h;
 *     ks_hold_init(&h);
 *     ks_hold_add(&h, db, key, klen); ...       (false: out of memory)
 *     if (ks_hold_take(&h, wait_ns)) { ...the keys' commands... }
 *     ks_hold_release(&h);                       (always; after a failed
 *                                                 take too)
 * A hold is used by the thread that took it. Up to KS_HOLD_LOCAL keys need
 * no allocation. */
#define KS_HOLD_LOCAL 16
struct ks_hold {
    uint32_t *s; /* stripes; after take: the ones taken, ntaken first */
    uint32_t n;
    uint32_t cap;
    uint32_t ntaken;
    bool taken;
    uint32_t local[KS_HOLD_LOCAL];
};
void ks_hold_init(struct ks_hold *h);
bool ks_hold_add(struct ks_hold *h, uint8_t db, const void *key, size_t klen);
bool ks_hold_add_stripe(struct ks_hold *h, uint32_t stripe);
bool ks_hold_take(struct ks_hold *h, uint64_t wait_ns);
void ks_hold_release(struct ks_hold *h);
/* Moves the stripes inner took into outer, both taken by this thread:
 * they stay held until outer is released, and inner (still to be
 * released) has none left. A script keeps the keys it did not declare
 * this way (two-phase locking: nothing it touched is let go before it
 * ends). false when outer cannot grow (out of memory): inner keeps them.
 * ks_hold_stripes lists a taken hold's own stripes (*n of them). */
bool ks_hold_keep(struct ks_hold *outer, struct ks_hold *inner);
const uint32_t *ks_hold_stripes(const struct ks_hold *h, uint32_t *n);
/* Marks a stripe this thread holds in a hold (its own or an outer one)
 * with mark (1..254; 0: back to plain held): a busy script says so to
 * other threads, which answer BUSY instead of waiting for it
 * (ks_stripe_mark). The mark goes when the hold holding it is released.
 * A stripe this thread does not hold is left alone. */
void ks_stripe_set_mark(uint32_t stripe, uint8_t mark);
/* The mark of a stripe held by another thread's hold (0: none, or not
 * held). Any thread. */
uint8_t ks_stripe_mark(uint32_t stripe);
