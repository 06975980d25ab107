/* SPDX-License-Identifier: Apache-2.0 */
/* The keyspace path (keyspace.h).
 *
 * Lock order: stripe locks in ascending order (ks_lock_many, holds); a
 * stripe held already is counted, not locked again; no other lock is
 * taken here. The store's own locks are below all of them. */
#include "processor/keyspace.h"

#include "processor/keyspace_internal.h"

#include "base/hash.h"
#include "base/log.h"
#include "base/mm.h"
#include "base/time.h"
#include "base/util.h"

#include <inttypes.h>
#include <linux/futex.h>
#include <pthread.h>
#include <string.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static uint8_t multi[KS_STRIPES];
static uint32_t holds_active;
static _Thread_local uint16_t held[KS_STRIPES];
static bool lock_for_read(uint32_t s);

/* ---- hooks ---- */

static ks_count_fn count_hook;
static ks_read_fn read_hook;
static ks_change_fn change_hook;
static ks_access_fn access_hook;
static __thread ks_proto_e thread_proto;
static __thread uint32_t access_skip = 1; /* accesses until the hook hears */

void
ks_on_access(ks_access_fn fn)
{
    __atomic_store_n(&access_hook, fn, __ATOMIC_RELAXED);
    access_skip = 1;
}

void
ks_set_protocol(ks_proto_e proto)
{
    thread_proto = proto;
}

ks_proto_e
ks_protocol(void)
{
    return thread_proto;
}

static void __attribute__((noinline))
access_heard(uint8_t db, const void *key, size_t klen, ks_access_e kind)
{
    ks_access_fn fn = __atomic_load_n(&access_hook, __ATOMIC_RELAXED);
    uint32_t skip = fn == NULL ? KS_ACCESS_IDLE : fn(db, key, klen, kind);
    access_skip = skip == 0 ? 1 : skip;
}

/* The access hook's countdown: the sampler hears of one access in its
 * rate, the others cost a decrement and a test. */
static inline void
accessed(uint8_t db, const void *key, size_t klen, ks_access_e kind)
{
    if (__builtin_expect(--access_skip == 0, 0)) {
        access_heard(db, key, klen, kind);
    }
}

void
ks_on_count(ks_count_fn fn)
{
    __atomic_store_n(&count_hook, fn, __ATOMIC_RELAXED);
}

void
ks_on_read(ks_read_fn fn)
{
    __atomic_store_n(&read_hook, fn, __ATOMIC_RELAXED);
}

static pthread_mutex_t listen_lock = PTHREAD_MUTEX_INITIALIZER;
static ks_change_fn change_fns[KS_NLISTEN]; /* atomic; set under the lock */
static storage_drop_fn drop_fns[KS_NLISTEN];

static void
change_all(uint8_t db, const void *key, size_t klen, const char *event)
{
    for (int i = 0; i < KS_NLISTEN; i++) {
        ks_change_fn fn = __atomic_load_n(&change_fns[i], __ATOMIC_RELAXED);
        if (fn != NULL) {
            fn(db, key, klen, event);
        }
    }
}

static void
drop_all(uint8_t db, const void *key, size_t klen, storage_drop_e why,
        const struct storage_drop_info *info)
{
    for (int i = 0; i < KS_NLISTEN; i++) {
        storage_drop_fn fn = __atomic_load_n(&drop_fns[i], __ATOMIC_RELAXED);
        if (fn != NULL) {
            fn(db, key, klen, why, info);
        }
    }
}

/* under listen_lock: the one listener set, or both through one call */
static void
listen_install(void)
{
    ks_change_fn change = NULL;
    storage_drop_fn drop = NULL;
    for (int i = 0; i < KS_NLISTEN; i++) {
        if (change_fns[i] != NULL) {
            change = change == NULL ? change_fns[i] : change_all;
        }
        if (drop_fns[i] != NULL) {
            drop = drop == NULL ? drop_fns[i] : drop_all;
        }
    }
    __atomic_store_n(&change_hook, change, __ATOMIC_RELAXED);
    storage_on_drop(drop);
}

void
ks_listen_change(ks_listener_e who, ks_change_fn fn)
{
    pthread_mutex_lock(&listen_lock);
    __atomic_store_n(&change_fns[who], fn, __ATOMIC_RELAXED);
    listen_install();
    pthread_mutex_unlock(&listen_lock);
}

void
ks_listen_drop(ks_listener_e who, storage_drop_fn fn)
{
    pthread_mutex_lock(&listen_lock);
    __atomic_store_n(&drop_fns[who], fn, __ATOMIC_RELAXED);
    listen_install();
    pthread_mutex_unlock(&listen_lock);
}

void
ks_count_lookup(bool hit)
{
    ks_count_fn fn = __atomic_load_n(&count_hook, __ATOMIC_RELAXED);
    if (fn != NULL) {
        fn(hit);
    }
}

/* The change hook alone (no access counted): an event that comes with
 * another one for the same write ("new"). */
static inline void
heard(uint8_t db, const void *key, size_t klen, const char *event)
{
    ks_change_fn fn = __atomic_load_n(&change_hook, __ATOMIC_RELAXED);
    if (fn != NULL) {
        fn(db, key, klen, event);
    }
}

static inline void
changed(uint8_t db, const void *key, size_t klen, const char *event)
{
    heard(db, key, klen, event);
    if (key != NULL) {
        accessed(db, key, klen, KS_ACCESS_WRITE);
    }
}

void
ks_changed(uint8_t db, const void *key, size_t klen, const char *event)
{
    changed(db, key, klen, event);
}

void
ks_heard(uint8_t db, const void *key, size_t klen, const char *event)
{
    heard(db, key, klen, event);
}

/* A whole value written (one access): Redis's "new" first when the key
 * did not exist, the event, then "expire" when the write set an expiry
 * (SET EX, SETEX, a memcache set with an exptime). With no hook this is
 * one load and a branch, as changed() is. */
static inline void
written(uint8_t db, const void *key, size_t klen, const char *event,
        bool existed, const struct storage_write *w)
{
    ks_change_fn fn = __atomic_load_n(&change_hook, __ATOMIC_RELAXED);
    if (fn != NULL) {
        if (!existed) {
            fn(db, key, klen, "new");
        }
        fn(db, key, klen, event);
        if (w != NULL && !w->keep_ttl && w->expiry != TIME_NEVER) {
            fn(db, key, klen, "expire");
        }
    }
    accessed(db, key, klen, KS_ACCESS_WRITE);
}

void
ks_written(uint8_t db, const void *key, size_t klen, const char *event,
        bool existed, const struct storage_write *w)
{
    written(db, key, klen, event, existed, w);
}

/* The store lookup of ks_lookup: while some hold is in place, a key under
 * another thread's hold is read after the hold ends, so its writes are
 * seen all or none. The mark is set before a hold's first write and
 * cleared after its last, so a reader that saw one of them sees the mark
 * or the end on its next key. Out of line: with no hold in place (the
 * common case) ks_lookup pays one load and a branch for this. */
static __attribute__((noinline)) storage_status_e
lookup_under_holds(uint8_t db, const void *key, size_t klen, unsigned flags,
        uint64_t now, struct storage_item *it)
{
    uint32_t s = ks_stripe(db, key, klen);
    bool wait = __atomic_load_n(&multi[s], __ATOMIC_ACQUIRE) && held[s] == 0;
    if (wait) {
        wait = lock_for_read(s);
    }
    storage_status_e st = (flags & KS_NOTOUCH)
                                  ? storage_peek(db, key, klen, now, it)
                                  : storage_get(db, key, klen, now, it);
    if (wait) {
        ks_unlock(s);
    }
    return st;
}

/* A key of type `have` serves a command that wants `want` (not KS_ANY): a
 * string in parts is a string. */
static bool
type_matches(uint8_t want, uint8_t have)
{
    return have == want ||
           (want == STORAGE_TYPE_STRING && have == STORAGE_TYPE_STRING_PARTS);
}

bool
ks_lock_for_read(uint32_t stripe)
{
    uint32_t s = stripe % KS_STRIPES;
    if (held[s] > 0) {
        ks_lock(s); /* counted: this thread has it (a hold, a write) */
        return true;
    }
    return lock_for_read(s);
}

ks_lookup_e
ks_lookup(uint8_t db, const void *key, size_t klen, uint8_t type,
        unsigned flags, uint64_t now, struct storage_item *it)
{
    struct storage_item local;
    if (it == NULL) {
        it = &local;
    }
    /* holds_active counts holds in place (raised before their marks) */
    storage_status_e st;
    if (__builtin_expect(
                __atomic_load_n(&holds_active, __ATOMIC_ACQUIRE) > 0, 0)) {
        st = lookup_under_holds(db, key, klen, flags, now, it);
    } else {
        st = (flags & KS_NOTOUCH) ? storage_peek(db, key, klen, now, it)
                                  : storage_get(db, key, klen, now, it);
    }
    if (!(flags & KS_NOSTATS)) {
        ks_count_lookup(st == STORAGE_OK);
    }
    if ((flags & (KS_NOTOUCH | KS_NOSTATS)) != (KS_NOTOUCH | KS_NOSTATS)) {
        accessed(db, key, klen,
                st == STORAGE_OK ? KS_ACCESS_HIT : KS_ACCESS_MISS);
    }
    if (st != STORAGE_OK) {
        if (!(flags & KS_NOSTATS)) {
            /* Redis's "keymiss": a read's lookup of a missing key (here,
             * off the hit path: a hit pays nothing for it) */
            heard(db, key, klen, "keymiss");
        }
        return KS_MISS;
    }
    ks_read_fn fn = __atomic_load_n(&read_hook, __ATOMIC_RELAXED);
    if (fn != NULL) {
        fn(db, key, klen, it);
    }
    if (type != KS_ANY && !type_matches(type, it->type)) {
        return KS_WRONGTYPE;
    }
    if (it->type == STORAGE_TYPE_STRING_PARTS && type == STORAGE_TYPE_STRING &&
            !(flags & KS_RAW)) {
        return ks_str_materialize(db, key, klen, now, it) ? KS_OK : KS_MISS;
    }
    if ((flags & KS_COPY) && it->type == STORAGE_TYPE_STRING &&
            !ks_str_scratch_copy(it)) {
        return KS_MISS; /* no memory for a copy: logged */
    }
    return KS_OK;
}

const char *
ks_type_name(uint8_t type)
{
    switch (type) {
    case STORAGE_TYPE_STRING:
    case STORAGE_TYPE_STRING_PARTS:
        return "string";
    case STORAGE_TYPE_HASH:
        return "hash";
    case STORAGE_TYPE_SET:
        return "set";
    case STORAGE_TYPE_ZSET:
        return "zset";
    case STORAGE_TYPE_LIST:
        return "list";
    default:
        return "none";
    }
}

/* ---- keys taken whole ---- */

uint32_t
ks_root_nparts(const struct storage_item *root)
{
    if (!root->parts || root->vlen < KS_ROOT_HDR) {
        return 0;
    }
    const uint8_t *p = root->value + 8;
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

size_t
ks_part_key(uint8_t *dst, const void *key, size_t klen, const uint8_t id[8],
        uint32_t idx)
{
    memcpy(dst, key, klen);
    memcpy(dst + klen, id, 8);
    dst[klen + 8] = (uint8_t)(idx >> 24);
    dst[klen + 9] = (uint8_t)(idx >> 16);
    dst[klen + 10] = (uint8_t)(idx >> 8);
    dst[klen + 11] = (uint8_t)idx;
    return klen + STORAGE_PART_SUFFIX;
}

/* What identifies a root's parts, copied out of its view (a write ends
 * the view). */
struct root_ref {
    uint8_t id[8];
    uint32_t n;
    bool root;
};

static void
root_ref_of(const struct storage_item *it, struct root_ref *r)
{
    r->root = it != NULL && it->key != NULL && it->parts &&
              it->vlen >= KS_ROOT_HDR;
    r->n = r->root ? ks_root_nparts(it) : 0;
    if (r->root) {
        memcpy(r->id, it->value, 8);
    }
}

void
ks_parts_delete(uint8_t db, const void *key, size_t klen, const uint8_t id[8],
        uint32_t n, uint64_t now)
{
    uint8_t *pk = mm_alloc(klen + STORAGE_PART_SUFFIX);
    if (pk == NULL) {
        return; /* parts without their root are dead: merge drops them */
    }
    for (uint32_t i = 0; i < n; i++) {
        size_t plen = ks_part_key(pk, key, klen, id, i);
        storage_delete(db | STORAGE_DB_PARTS, pk, plen, 0, now);
    }
    mm_release(pk);
}

void
ks_drop_parts(uint8_t db, const struct storage_item *old, uint64_t now)
{
    struct root_ref r;
    root_ref_of(old, &r);
    if (!r.root) {
        return;
    }
    /* the view ends at the first delete: copy the key first */
    size_t klen = old->klen;
    uint8_t *key = mm_alloc(klen);
    if (key == NULL) {
        return;
    }
    memcpy(key, old->key, klen);
    ks_parts_delete(db, key, klen, r.id, r.n, now);
    mm_release(key);
}

static storage_status_e
getdel_unlocked(uint8_t db, const void *key, size_t klen, uint64_t now,
        struct storage_item *it)
{
    struct storage_item local;
    if (it == NULL) {
        it = &local;
    }
    storage_status_e st = storage_getdel(db, key, klen, now, it);
    if (st != STORAGE_OK) {
        return st;
    }
    struct root_ref r;
    root_ref_of(it, &r);
    if (r.root) {
        bool keep = it != &local && it->type == STORAGE_TYPE_STRING_PARTS;
        struct storage_item root = *it;
        /* the parts are still there (the caller holds the key's stripe):
         * a string's value is copied out */
        if (!keep ||
                ks_str_copy_out(db, key, klen, &root, now, it) != STORAGE_OK) {
            memset(it, 0, sizeof(*it));
        }
        ks_parts_delete(db, key, klen, r.id, r.n, now);
    }
    ks_changed(db, key, klen, "del");
    return st;
}

storage_status_e
ks_delete(uint8_t db, const void *key, size_t klen, uint64_t now)
{
    return ks_getdel(db, key, klen, now, NULL);
}

static storage_status_e
delete_cas_unlocked(
        uint8_t db, const void *key, size_t klen, uint64_t cas, uint64_t now)
{
    if (cas == 0) {
        return ks_delete(db, key, klen, now);
    }
    struct storage_item it;
    if (storage_peek(db, key, klen, now, &it) != STORAGE_OK) {
        return STORAGE_NOT_FOUND;
    }
    struct root_ref r;
    root_ref_of(&it, &r);
    storage_status_e st = storage_delete(db, key, klen, cas, now);
    if (st == STORAGE_OK) {
        /* the version deleted is the one peeked: its CAS matched */
        if (r.root && it.cas == cas) {
            ks_parts_delete(db, key, klen, r.id, r.n, now);
        }
        ks_changed(db, key, klen, "del");
    }
    return st;
}

/* ---- writes ---- */

static size_t memcache_value_max; /* 0: memcache values in one item */

void
ks_set_memcache_value_max(size_t max)
{
    memcache_value_max = max;
}

bool
ks_memcache_fits(size_t klen, uint64_t vlen, uint32_t cflags)
{
    /* memcached 1.6.18's item: a 48-byte header, an 8-byte CAS, the key
     * and a NUL, the value and its \r\n, and 4 bytes of client flags when
     * they are not 0 (measured on memcached -I 2m) */
    uint64_t total = 59 + klen + vlen + (cflags != 0 ? 4 : 0);
    return memcache_value_max > 0 && total <= memcache_value_max;
}

/* A value the store refused as one item goes in parts: any RESP string
 * (its parser bounds it), a memcache value only when memcache.item_size_max
 * allows it as memcached would. */
static bool
parts_allowed(size_t klen, size_t vlen, uint32_t cflags)
{
    return ks_protocol() != KS_PROTO_MEMCACHE ||
           ks_memcache_fits(klen, vlen, cflags);
}

/* storage_set, dropping a replaced root's parts; reports nothing.
 * *existed (may be NULL): whether it replaced a live key. */
static storage_status_e
set_quiet(uint8_t db, const void *key, size_t klen, const void *value,
        size_t vlen, const struct storage_write *w, uint64_t now,
        struct storage_item *old, uint64_t *cas, bool *existed)
{
    struct storage_item local;
    if (old == NULL) {
        old = &local;
    }
    old->key = NULL;
    bool in_parts = vlen > KS_STR_WHOLE_MIN && w->type == STORAGE_TYPE_STRING &&
                    !w->parts && vlen > ks_str_whole_max() &&
                    parts_allowed(klen, vlen, w->cflags);
    storage_status_e st = in_parts ? STORAGE_EOVERSIZE
                                   : storage_set(db, key, klen, value, vlen, w,
                                             now, old, cas);
    if (st == STORAGE_EOVERSIZE && w->type == STORAGE_TYPE_STRING &&
            !w->parts && parts_allowed(klen, vlen, w->cflags)) {
        /* larger than a part (or than one item): the value goes in parts,
         * which pack segments where one large item would leave the rest
         * of its segment empty */
        st = ks_str_set_locked(db, key, klen, value, vlen, w, now, old, cas);
        if (st == STORAGE_OK && existed != NULL) {
            *existed = old->key != NULL;
        }
        return st;
    }
    if (st != STORAGE_OK) {
        return st;
    }
    if (existed != NULL) {
        *existed = old->key != NULL;
    }
    if (old->key != NULL && old->parts) {
        struct root_ref r;
        root_ref_of(old, &r);
        ks_parts_delete(db, key, klen, r.id, r.n, now);
        memset(old, 0, sizeof(*old));
    }
    return st;
}

storage_status_e
ks_set_quiet(uint8_t db, const void *key, size_t klen, const void *value,
        size_t vlen, const struct storage_write *w, uint64_t now,
        struct storage_item *old, uint64_t *cas)
{
    return set_quiet(db, key, klen, value, vlen, w, now, old, cas, NULL);
}

static storage_status_e
set_unlocked(const char *event, uint8_t db, const void *key, size_t klen,
        const void *value, size_t vlen, const struct storage_write *w,
        uint64_t now, struct storage_item *old, uint64_t *cas)
{
    bool existed = false;
    storage_status_e st =
            set_quiet(db, key, klen, value, vlen, w, now, old, cas, &existed);
    if (st == STORAGE_OK) {
        written(db, key, klen, event, existed, w);
    }
    return st;
}

storage_status_e
ks_reserve(struct storage_reservation *r, uint8_t db, const void *key,
        size_t klen, size_t vlen, const struct storage_write *w, uint64_t now)
{
    if (vlen > KS_STR_WHOLE_MIN && w->type == STORAGE_TYPE_STRING &&
            vlen > ks_str_whole_max() && parts_allowed(klen, vlen, w->cflags)) {
        return STORAGE_EOVERSIZE; /* in parts, as set_quiet writes it */
    }
    return storage_reserve(r, db, key, klen, vlen, w, now);
}

static storage_status_e
commit_unlocked(struct storage_reservation *r, uint8_t db, const void *key,
        size_t klen, uint64_t now, uint64_t *cas)
{
    struct storage_item old = {.key = NULL};
    storage_status_e st = storage_commit(r, now, &old, cas);
    if (st != STORAGE_OK) {
        return st;
    }
    if (old.key != NULL && old.parts) {
        struct root_ref ref;
        root_ref_of(&old, &ref);
        ks_parts_delete(db, key, klen, ref.id, ref.n, now);
    }
    written(db, key, klen, "set", old.key != NULL, NULL);
    return st;
}

void
ks_abort(struct storage_reservation *r)
{
    storage_abort(r);
}

/* Sets every part of a root to expiry (the root's). */
static void
expire_parts(uint8_t db, const void *key, size_t klen, const struct root_ref *r,
        uint64_t expiry, uint64_t now)
{
    uint8_t *pk = mm_alloc(klen + STORAGE_PART_SUFFIX);
    if (pk == NULL) {
        return;
    }
    for (uint32_t i = 0; i < r->n; i++) {
        size_t plen = ks_part_key(pk, key, klen, r->id, i);
        storage_touch(db | STORAGE_DB_PARTS, pk, plen, expiry,
                STORAGE_TTL_ALWAYS, now, NULL);
    }
    mm_release(pk);
}

static const char *
expire_event(uint64_t expiry, uint64_t now)
{
    if (expiry == TIME_NEVER) {
        return "persist";
    }
    /* a time in the past deletes the key: Redis reports that as "del" */
    return expiry <= now ? "del" : "expire";
}

/* A root of parts: the root, then its parts, under the stripe lock so
 * that no collection write comes between. */
static storage_status_e
expire_root_locked(uint8_t db, const void *key, size_t klen, uint8_t type,
        uint64_t expiry, storage_ttl_cond_e cond, uint64_t now)
{
    struct storage_item it;
    if (storage_peek(db, key, klen, now, &it) != STORAGE_OK) {
        return STORAGE_NOT_FOUND;
    }
    if (type != KS_ANY && !type_matches(type, it.type)) {
        return STORAGE_EWRONGTYPE;
    }
    struct root_ref r;
    root_ref_of(&it, &r);
    storage_status_e st = storage_touch(db, key, klen, expiry, cond, now, NULL);
    if (st != STORAGE_OK || !r.root) {
        return st;
    }
    if (expiry != TIME_NEVER && expiry <= now) {
        ks_parts_delete(db, key, klen, r.id, r.n, now); /* the root went */
    } else {
        expire_parts(db, key, klen, &r, expiry, now);
    }
    return st;
}

static storage_status_e
expire_unlocked(uint8_t db, const void *key, size_t klen, uint8_t type,
        uint64_t expiry, storage_ttl_cond_e cond, uint64_t now,
        struct storage_item *it)
{
    struct storage_item peeked;
    if (storage_peek(db, key, klen, now, &peeked) != STORAGE_OK) {
        return STORAGE_NOT_FOUND;
    }
    if (type != KS_ANY && !type_matches(type, peeked.type)) {
        return STORAGE_EWRONGTYPE;
    }
    storage_status_e st;
    if (peeked.parts) {
        uint32_t s = ks_stripe(db, key, klen);
        ks_lock(s);
        st = expire_root_locked(db, key, klen, type, expiry, cond, now);
        ks_unlock(s);
        if (it != NULL) {
            it->key = NULL;
        }
    } else {
        /* a key that becomes a root between the peek and the touch keeps
         * its parts' expiry: a collection write holds the stripe lock */
        st = storage_touch(db, key, klen, expiry, cond, now, it);
    }
    if (st == STORAGE_OK) {
        ks_changed(db, key, klen, expire_event(expiry, now));
    }
    return st;
}

/* Whether the key exists, asked only when a change hook listens (for
 * "new"); the caller holds the key's stripe, so no writer comes between. */
static bool
exists_if_heard(uint8_t db, const void *key, size_t klen, uint64_t now)
{
    if (__atomic_load_n(&change_hook, __ATOMIC_RELAXED) == NULL) {
        return true;
    }
    return storage_peek(db, key, klen, now, NULL) == STORAGE_OK;
}

/* A string in parts at key (the store's string operations answer
 * EWRONGTYPE for it). */
static bool
is_string_root(uint8_t db, const void *key, size_t klen, uint64_t now)
{
    struct storage_item it;
    return storage_peek(db, key, klen, now, &it) == STORAGE_OK &&
           it.type == STORAGE_TYPE_STRING_PARTS;
}

static storage_status_e
append_unlocked(uint8_t db, const void *key, size_t klen, const void *data,
        size_t len, storage_side_e side, storage_missing_e missing,
        uint64_t cas, uint64_t now, size_t *new_len, uint64_t *new_cas)
{
    bool existed = exists_if_heard(db, key, klen, now);
    storage_status_e st = storage_append(db, key, klen, data, len, side,
            missing, cas, now, new_len, new_cas);
    if ((st == STORAGE_EOVERSIZE && (ks_protocol() != KS_PROTO_MEMCACHE ||
                                            ks_memcache_fits(klen, 0, 0))) ||
            (st == STORAGE_EWRONGTYPE && is_string_root(db, key, klen, now))) {
        /* (a memcache append is bounded there by item_size_max) */
        st = ks_str_append_locked(db, key, klen, data, len, side, missing, cas,
                now, new_len, new_cas);
    }
    if (st == STORAGE_OK) {
        written(db, key, klen, "append", existed, NULL);
    }
    return st;
}

static storage_status_e
setrange_unlocked(uint8_t db, const void *key, size_t klen, size_t offset,
        const void *data, size_t len, uint64_t now, size_t *new_len)
{
    size_t n = 0;
    bool existed = len == 0 || exists_if_heard(db, key, klen, now);
    storage_status_e st =
            storage_setrange(db, key, klen, offset, data, len, now, &n);
    if ((ks_protocol() != KS_PROTO_MEMCACHE && st == STORAGE_EOVERSIZE) ||
            (st == STORAGE_EWRONGTYPE && is_string_root(db, key, klen, now))) {
        st = ks_str_setrange_locked(db, key, klen, offset, data, len, now, &n);
    }
    if (st == STORAGE_OK && len > 0) {
        written(db, key, klen, "setrange", existed, NULL);
    }
    if (new_len != NULL) {
        *new_len = n;
    }
    return st;
}

/* ---- numbers: each protocol's rules, over storage_update ---- */

static bool
is_space(uint8_t c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

/* Decimal digits that fit in 64 bits, from p to its first non-digit;
 * returns how many digits, 0 when none or on overflow. */
static size_t
scan_digits(const uint8_t *p, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    size_t i = 0;
    for (; i < n && p[i] >= '0' && p[i] <= '9'; i++) {
        uint64_t d = (uint64_t)(p[i] - '0');
        if (v > (UINT64_MAX - d) / 10) {
            return 0;
        }
        v = v * 10 + d;
    }
    *out = v;
    return i;
}

/* A number as memcached's incr reads it (strtoull): leading white space,
 * an optional '+', decimal digits (leading zeros allowed) that fit in 64
 * bits, then the end or white space (anything after that is ignored). */
static bool
parse_u64(const uint8_t *p, size_t n, uint64_t *out)
{
    size_t i = 0;
    while (i < n && is_space(p[i])) {
        i++;
    }
    if (i < n && p[i] == '+') {
        i++;
    }
    size_t digits = scan_digits(p + i, n - i, out);
    i += digits;
    return digits > 0 && (i == n || is_space(p[i]));
}

/* Redis's string2ll: optional '-', no leading zeros, no spaces, int64. */
static bool
parse_i64(const uint8_t *p, size_t n, int64_t *out)
{
    bool neg = n > 0 && p[0] == '-';
    size_t i = neg ? 1 : 0;
    uint64_t v;
    if (n == 1 && p[0] == '0') {
        *out = 0;
        return true;
    }
    if (i >= n || p[i] == '0' || scan_digits(p + i, n - i, &v) != n - i) {
        return false;
    }
    if (neg ? v > (uint64_t)INT64_MAX + 1 : v > (uint64_t)INT64_MAX) {
        return false;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

static size_t
format_u64(uint8_t *buf, uint64_t v)
{
    uint8_t tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (uint8_t)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (size_t i = 0; i < n; i++) {
        buf[i] = tmp[n - 1 - i];
    }
    return n;
}

static size_t
format_i64(uint8_t *buf, int64_t v)
{
    if (v < 0) {
        buf[0] = '-';
        return 1 + format_u64(buf + 1, 0 - (uint64_t)v);
    }
    return format_u64(buf, (uint64_t)v);
}

struct incr_arg {
    uint64_t delta;
    int64_t sdelta;
    ks_incr_e dir;
    uint64_t value; /* the result, unsigned */
    int64_t svalue; /* the result, signed */
    bool created;   /* the key was missing (signed: counts as 0) */
};

/* memcached: incr wraps at 2^64, decr stops at 0. */
static storage_status_e
incr_unsigned_fn(const uint8_t *old, size_t olen, bool found, uint8_t *out,
        size_t *outlen, void *arg)
{
    struct incr_arg *a = arg;
    uint64_t v;
    if (!found || !parse_u64(old, olen, &v)) {
        return STORAGE_ENAN;
    }
    if (a->dir == KS_INCR) {
        v += a->delta; /* wraps at 2^64, as memcached */
    } else {
        v = v > a->delta ? v - a->delta : 0;
    }
    a->value = v;
    *outlen = format_u64(out, v);
    return STORAGE_OK;
}

/* Redis: a missing key is 0; a result out of int64 range changes nothing. */
static storage_status_e
incr_signed_fn(const uint8_t *old, size_t olen, bool found, uint8_t *out,
        size_t *outlen, void *arg)
{
    struct incr_arg *a = arg;
    int64_t v = 0;
    if (found && !parse_i64(old, olen, &v)) {
        return STORAGE_ENAN;
    }
    a->created = !found;
    if (__builtin_add_overflow(v, a->sdelta, &v)) {
        return STORAGE_EOVERFLOW;
    }
    a->svalue = v;
    *outlen = format_i64(out, v);
    return STORAGE_OK;
}

static storage_status_e
incr_unsigned_unlocked(uint8_t db, const void *key, size_t klen, uint64_t delta,
        ks_incr_e dir, uint64_t expect, uint64_t now, uint64_t *value,
        uint64_t *cas)
{
    struct incr_arg a = {.delta = delta, .dir = dir};
    storage_status_e st = storage_update(db, key, klen, incr_unsigned_fn, &a,
            STORAGE_MISSING_FAIL, expect, now, cas);
    if (st == STORAGE_EWRONGTYPE && is_string_root(db, key, klen, now)) {
        st = STORAGE_ENAN; /* far longer than any number */
    }
    if (st == STORAGE_OK) {
        if (value != NULL) {
            *value = a.value;
        }
        ks_changed(db, key, klen, "incrby");
    }
    return st;
}

static storage_status_e
incr_signed_unlocked(uint8_t db, const void *key, size_t klen, int64_t delta,
        uint64_t now, int64_t *value)
{
    struct incr_arg a = {.sdelta = delta};
    storage_status_e st = storage_update(db, key, klen, incr_signed_fn, &a,
            STORAGE_MISSING_CREATE, 0, now, NULL);
    if (st == STORAGE_EWRONGTYPE && is_string_root(db, key, klen, now)) {
        st = STORAGE_ENAN; /* far longer than any number */
    }
    if (st == STORAGE_OK) {
        if (value != NULL) {
            *value = a.svalue;
        }
        written(db, key, klen, "incrby", !a.created, NULL);
    }
    return st;
}

static storage_status_e
invalidate_unlocked(
        uint8_t db, const void *key, size_t klen, uint64_t expiry, uint64_t now)
{
    storage_status_e st = storage_invalidate(db, key, klen, expiry, now);
    if (st == STORAGE_OK) {
        ks_changed(db, key, klen, "invalidate");
    }
    return st;
}

/* ---- rename and copy ---- */

static bool
same_key(uint8_t adb, const void *a, size_t alen, uint8_t bdb, const void *b,
        size_t blen)
{
    return adb == bdb && alen == blen && memcmp(a, b, alen) == 0;
}

/* A copy of a root's view (the writes below end the view). */
struct root_copy {
    uint8_t *value;
    size_t vlen;
    uint64_t cas;
    uint64_t expiry;
    uint8_t type;
    struct root_ref ref;
};

/* Deletes parts [0, n) written under dst with id (a copy given up). */
static storage_status_e
copy_undo(uint8_t db, const void *key, size_t klen, const uint8_t id[8],
        uint32_t n, uint64_t now, storage_status_e st)
{
    ks_parts_delete(db, key, klen, id, n, now);
    return st;
}

/* Copies each part of root rc of (sdb, src) under (ddb, dst) with id,
 * then the root; both stripes locked. OK, NOT_FOUND (a part is gone: the
 * source is going away), NOT_STORED (NO_OVERWRITE and dst live), ENOMEM,
 * EOVERSIZE. */
static storage_status_e
copy_parts_locked(uint8_t sdb, const void *src, size_t slen, uint8_t ddb,
        const void *dst, size_t dlen, const struct root_copy *rc,
        storage_overwrite_e ow, uint64_t now)
{
    uint8_t id[8];
    ks_new_id(id);
    size_t cap = storage_item_size_max();
    uint8_t *buf = mm_alloc(cap + slen + dlen + 2 * STORAGE_PART_SUFFIX);
    if (buf == NULL) {
        return STORAGE_ENOMEM;
    }
    uint8_t *spk = buf + cap;
    uint8_t *dpk = spk + slen + STORAGE_PART_SUFFIX;
    storage_status_e st = STORAGE_OK;
    uint32_t i = 0;
    for (; i < rc->ref.n && st == STORAGE_OK; i++) {
        struct storage_item part;
        size_t splen = ks_part_key(spk, src, slen, rc->ref.id, i);
        size_t dplen = ks_part_key(dpk, dst, dlen, id, i);
        st = storage_peek(sdb | STORAGE_DB_PARTS, spk, splen, now, &part);
        if (st != STORAGE_OK || part.vlen > cap) {
            st = STORAGE_NOT_FOUND;
            break;
        }
        size_t vlen = part.vlen;
        memcpy(buf, part.value, vlen); /* the write ends the view */
        struct storage_write w = {
                .expiry = rc->expiry, .type = part.type, .parts = false};
        st = storage_set(ddb | STORAGE_DB_PARTS, dpk, dplen, buf, vlen, &w, now,
                NULL, NULL);
    }
    mm_release(buf);
    if (st != STORAGE_OK) {
        return copy_undo(ddb, dst, dlen, id, i, now, st);
    }
    /* the root: the new id, then what followed the old one */
    uint8_t *root = mm_alloc(rc->vlen);
    if (root == NULL) {
        return copy_undo(ddb, dst, dlen, id, i, now, STORAGE_ENOMEM);
    }
    memcpy(root, id, 8);
    memcpy(root + 8, rc->value + 8, rc->vlen - 8);
    struct storage_write w = {
            .mode = ow == STORAGE_NO_OVERWRITE ? STORAGE_ADD : STORAGE_SET,
            .expiry = rc->expiry,
            .type = rc->type,
            .parts = true,
    };
    st = set_quiet(ddb, dst, dlen, root, rc->vlen, &w, now, NULL, NULL, NULL);
    mm_release(root);
    if (st == STORAGE_EXISTS) {
        st = STORAGE_NOT_STORED;
    }
    return st == STORAGE_OK ? st : copy_undo(ddb, dst, dlen, id, i, now, st);
}

/* The root at (sdb, src) copied out, if it is one; false otherwise (or
 * missing: *missing). */
static bool
root_copy_of(uint8_t sdb, const void *src, size_t slen, uint64_t now,
        struct root_copy *rc, bool *missing)
{
    struct storage_item it;
    memset(rc, 0, sizeof(*rc));
    *missing = storage_peek(sdb, src, slen, now, &it) != STORAGE_OK;
    if (*missing) {
        return false;
    }
    root_ref_of(&it, &rc->ref);
    if (!rc->ref.root) {
        return false;
    }
    rc->value = mm_alloc(it.vlen);
    if (rc->value == NULL) {
        rc->ref.root = false;
        return false;
    }
    memcpy(rc->value, it.value, it.vlen);
    rc->vlen = it.vlen;
    rc->cas = it.cas;
    rc->expiry = it.expiry;
    rc->type = it.type;
    return true;
}

/* The parts of a live root at (db, key), to drop once it is replaced. */
static void
dst_ref_of(uint8_t db, const void *key, size_t klen, uint64_t now,
        struct root_ref *r)
{
    struct storage_item it;
    if (storage_peek(db, key, klen, now, &it) == STORAGE_OK) {
        root_ref_of(&it, r);
    } else {
        r->root = false;
    }
}

/* Rename (move) or copy of any key, both stripes locked. */
static storage_status_e
transfer_locked(uint8_t sdb, const void *src, size_t slen, uint8_t ddb,
        const void *dst, size_t dlen, storage_overwrite_e ow, bool move,
        uint64_t now)
{
    struct root_copy rc;
    bool missing;
    if (!root_copy_of(sdb, src, slen, now, &rc, &missing)) {
        if (missing) {
            return STORAGE_NOT_FOUND;
        }
        struct root_ref old;
        dst_ref_of(ddb, dst, dlen, now, &old);
        storage_status_e st =
                move ? storage_rename(sdb, src, slen, dst, dlen, ow, now)
                     : storage_copy(sdb, src, slen, ddb, dst, dlen, ow, now);
        if (st == STORAGE_OK && old.root &&
                !same_key(sdb, src, slen, ddb, dst, dlen)) {
            ks_parts_delete(ddb, dst, dlen, old.id, old.n, now);
        }
        return st;
    }
    storage_status_e st;
    if (same_key(sdb, src, slen, ddb, dst, dlen)) {
        /* storage_rename's rule: nothing changes */
        st = ow == STORAGE_NO_OVERWRITE ? STORAGE_NOT_STORED : STORAGE_OK;
    } else {
        st = copy_parts_locked(sdb, src, slen, ddb, dst, dlen, &rc, ow, now);
        if (st == STORAGE_OK && move &&
                storage_delete(sdb, src, slen, rc.cas, now) == STORAGE_OK) {
            /* a concurrent write to src wins, as in storage_rename */
            ks_parts_delete(sdb, src, slen, rc.ref.id, rc.ref.n, now);
        }
    }
    mm_release(rc.value);
    return st;
}

static storage_status_e
transfer(uint8_t sdb, const void *src, size_t slen, uint8_t ddb,
        const void *dst, size_t dlen, storage_overwrite_e ow, bool move,
        uint64_t now)
{
    uint32_t s[2] = {ks_stripe(sdb, src, slen), ks_stripe(ddb, dst, dlen)};
    ks_lock_many(s, 2);
    storage_status_e st =
            transfer_locked(sdb, src, slen, ddb, dst, dlen, ow, move, now);
    ks_unlock_many(s, 2);
    return st;
}

storage_status_e
ks_rename(uint8_t db, const void *src, size_t slen, const void *dst,
        size_t dlen, storage_overwrite_e ow, uint64_t now)
{
    storage_status_e st = transfer(db, src, slen, db, dst, dlen, ow, true, now);
    if (st == STORAGE_OK && !same_key(db, src, slen, db, dst, dlen)) {
        /* Redis adds the destination anew (after deleting one it
         * replaces): "new" first, whether or not it existed */
        heard(db, dst, dlen, "new");
        changed(db, src, slen, "rename_from");
        changed(db, dst, dlen, "rename_to");
    }
    return st;
}

storage_status_e
ks_copy(uint8_t src_db, const void *src, size_t slen, uint8_t dst_db,
        const void *dst, size_t dlen, storage_overwrite_e ow, uint64_t now)
{
    if (same_key(src_db, src, slen, dst_db, dst, dlen)) {
        return STORAGE_EINVAL;
    }
    storage_status_e st =
            transfer(src_db, src, slen, dst_db, dst, dlen, ow, false, now);
    if (st == STORAGE_OK) {
        heard(dst_db, dst, dlen, "new"); /* as for rename */
        changed(dst_db, dst, dlen, "copy_to");
    }
    return st;
}

storage_status_e
ks_flush(uint8_t db, uint64_t at, uint64_t now)
{
    storage_status_e st = storage_flush(db, at, now);
    if (st == STORAGE_OK) {
        ks_changed(db, NULL, 0, db == STORAGE_DB_ALL ? "flushall" : "flushdb");
    }
    return st;
}

static uint64_t id_next;
static pthread_once_t id_once = PTHREAD_ONCE_INIT;

static void
id_seed(void)
{
    uint64_t seed = 0;
    if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        seed = (uint64_t)ts.tv_sec * 1000000007u ^ (uint64_t)ts.tv_nsec;
    }
    __atomic_store_n(&id_next, seed, __ATOMIC_RELAXED);
}

__thread uint32_t ks_id_pin = STORAGE_PIN_NONE;

void
ks_new_id(uint8_t id[8])
{
    pthread_once(&id_once, id_seed);
    uint64_t v = __atomic_fetch_add(&id_next, 1, __ATOMIC_RELAXED);
    for (int i = 0; i < 8; i++) {
        id[i] = (uint8_t)(v >> (56 - 8 * i));
    }
    if (ks_id_pin == STORAGE_PIN_NONE) {
        ks_id_pin = storage_parts_pin(id);
    } else {
        storage_parts_repin(ks_id_pin, id);
    }
}

void
ks_id_unpin(void)
{
    storage_parts_unpin(ks_id_pin);
    ks_id_pin = STORAGE_PIN_NONE;
}

/* ---- per-key locks ----
 *
 * Each stripe is a mutex. A thread counts the stripes it holds (held[],
 * thread-local: no allocation, no shared write), so a lock it holds is
 * taken again by counting only: commands run inside an EXEC, a script or a
 * multi-key command lock their own keys as they always do, and find them
 * held. A hold (ks_hold_*) is a set of stripes taken together in ascending
 * order; while it is in place its stripes are marked (multi[]), and a
 * lookup by another thread on a marked stripe waits for the hold to end
 * (ks_lookup): the single-key reader takes no lock otherwise, and sees a
 * hold's writes all or none. Single-key writes take their stripe (wlock):
 * they cannot land between two writes of a hold.
 *
 * Deadlock freedom: a thread waits on a stripe only when it holds no
 * greater one (ascending order); a stripe below one it holds (a script's
 * undeclared key) is only tried, for a bounded time (ks_hold_take). */

/* A stripe's lock: 0 free, 1 held, 2 held with waiters (a futex lock as
 * Drepper's "Futexes Are Tricky" has it). Not a pthread mutex: a hold may
 * have hundreds of stripes, more than ThreadSanitizer's deadlock detector
 * tracks per thread (64); TSan still sees the acquire/release order. */
struct stripe {
    _Alignas(64) uint32_t state;
    uint64_t changes; /* ks_stripe_changed: written under the lock */
};

static bool
stripe_trylock(struct stripe *st)
{
    uint32_t free_ = 0;
    return __atomic_compare_exchange_n(
            &st->state, &free_, 1, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}

static void
stripe_lock_slow(struct stripe *st)
{
    uint32_t c = __atomic_exchange_n(&st->state, 2, __ATOMIC_ACQUIRE);
    while (c != 0) {
        syscall(SYS_futex, &st->state, FUTEX_WAIT_PRIVATE, 2, NULL, NULL, 0);
        c = __atomic_exchange_n(&st->state, 2, __ATOMIC_ACQUIRE);
    }
}

static void
stripe_unlock(struct stripe *st)
{
    if (__atomic_exchange_n(&st->state, 0, __ATOMIC_RELEASE) == 2) {
        syscall(SYS_futex, &st->state, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    }
}

static struct stripe stripes[KS_STRIPES];
/* atomic: 1 while a hold has the stripe; read by every lookup, written
 * only by holds, so kept apart from the mutexes the writers take */
static uint8_t multi[KS_STRIPES];

static _Thread_local uint16_t held[KS_STRIPES]; /* this thread's counts */
static _Thread_local uint32_t nheld;            /* stripes with held > 0 */
/* at or above the greatest stripe held, -1 with none (max_held) */
static _Thread_local int32_t top_held = -1;

uint32_t
ks_stripe(uint8_t db, const void *key, size_t klen)
{
    return (uint32_t)(hash_key_seed(key, klen, 0x5eed0000u + db) % KS_STRIPES);
}

bool
ks_holds(uint32_t stripe)
{
    return held[stripe % KS_STRIPES] > 0;
}

void
ks_stripe_changed(uint32_t stripe)
{
    struct stripe *st = &stripes[stripe % KS_STRIPES];
    ASSERT(ks_holds(stripe));
    __atomic_store_n(&st->changes,
            __atomic_load_n(&st->changes, __ATOMIC_RELAXED) + 1,
            __ATOMIC_RELEASE);
}

uint64_t
ks_stripe_changes(uint32_t stripe)
{
    return __atomic_load_n(
            &stripes[stripe % KS_STRIPES].changes, __ATOMIC_ACQUIRE);
}

static void
mutex_take(uint32_t s)
{
    if (!stripe_trylock(&stripes[s])) {
        /* The holder may be waiting for memory, which waits for every
         * thread to pass a quiescent point: wait for it as a quiescent
         * thread, or the two wait for each other. */
        storage_quiescent();
        stripe_lock_slow(&stripes[s]);
    }
    held[s] = 1;
    nheld++;
    if ((int32_t)s > top_held) {
        top_held = (int32_t)s;
    }
}

/* Tries stripe s for up to wait_ns, as a quiescent thread. */
static bool
mutex_try(uint32_t s, uint64_t wait_ns)
{
    uint64_t waited = 0;
    while (!stripe_trylock(&stripes[s])) {
        if (waited >= wait_ns) {
            return false;
        }
        storage_quiescent();
        struct timespec ts = {0, 50000};
        nanosleep(&ts, NULL);
        waited += 50000;
    }
    held[s] = 1;
    nheld++;
    if ((int32_t)s > top_held) {
        top_held = (int32_t)s;
    }
    return true;
}

/* The greatest stripe this thread holds, or -1. top_held is an upper
 * bound of it (raised by every take, lowered here and when nothing is
 * held), so the scan down from it is short: a script's nested commands
 * asked this on every lock, and a scan of all 1,024 stripes was a sixth of
 * an EVALSHA's instructions. */
static int32_t
max_held(void)
{
    if (nheld == 0) {
        return -1;
    }
    for (int32_t i = top_held; i >= 0; i--) {
        if (held[i] > 0) {
            top_held = i;
            return i;
        }
    }
    return -1;
}

/* A lookup waiting for another thread's hold: in order it waits; out of
 * order (this thread holds a greater stripe) it tries for a while, then
 * reads without the lock rather than risk a deadlock. */
static bool
lock_for_read(uint32_t s)
{
    if (nheld > 0 && (int32_t)s < max_held()) {
        return mutex_try(s, 100 * 1000 * 1000ull);
    }
    mutex_take(s);
    return true;
}

void
ks_lock(uint32_t stripe)
{
    uint32_t s = stripe % KS_STRIPES;
    if (held[s] > 0) {
        ASSERT(held[s] < UINT16_MAX);
        held[s]++;
        return;
    }
    if (nheld > 0 && (int32_t)s < max_held()) {
        /* out of order: callers take a hold on every key first (EXEC,
         * scripts), so this is a bug; wait rather than fail */
        log_debug("stripe %" PRIu32 " locked out of order", s);
    }
    mutex_take(s);
}

void
ks_unlock(uint32_t stripe)
{
    uint32_t s = stripe % KS_STRIPES;
    ASSERT(held[s] > 0);
    if (--held[s] == 0) {
        if (--nheld == 0) {
            top_held = -1;
        }
        stripe_unlock(&stripes[s]);
    }
}

static uint32_t
sorted_unique(const uint32_t *in, uint32_t n, uint32_t *out)
{
    uint32_t m = 0;
    for (uint32_t i = 0; i < n && i < 16; i++) {
        uint32_t v = in[i] % KS_STRIPES, j = m;
        while (j > 0 && out[j - 1] > v) {
            out[j] = out[j - 1];
            j--;
        }
        if (j > 0 && out[j - 1] == v) {
            memmove(out + j, out + j + 1, (m - j) * sizeof(*out));
            continue;
        }
        out[j] = v;
        m++;
    }
    return m;
}

void
ks_lock_many(const uint32_t *s, uint32_t n)
{
    uint32_t u[16];
    uint32_t m = sorted_unique(s, n, u);
    for (uint32_t i = 0; i < m; i++) {
        ks_lock(u[i]);
    }
}

void
ks_unlock_many(const uint32_t *s, uint32_t n)
{
    uint32_t u[16];
    uint32_t m = sorted_unique(s, n, u);
    for (uint32_t i = m; i > 0; i--) {
        ks_unlock(u[i - 1]);
    }
}

/* ---- holds ---- */

void
ks_hold_init(struct ks_hold *h)
{
    h->s = h->local;
    h->n = 0;
    h->cap = KS_HOLD_LOCAL;
    h->ntaken = 0;
    h->taken = false;
}

/* Room for need stripes (at least double), the first used of them kept. */
static bool
hold_grow(struct ks_hold *h, uint32_t need, uint32_t used)
{
    if (need <= h->cap) {
        return true;
    }
    uint32_t cap = h->cap * 2 > need ? h->cap * 2 : need;
    uint32_t *p;
    if (h->s == h->local) {
        p = mm_alloc(cap * sizeof(*p));
        if (p != NULL) {
            memcpy(p, h->local, used * sizeof(*p));
        }
    } else {
        p = mm_realloc(h->s, cap * sizeof(*p));
    }
    if (p == NULL) {
        return false;
    }
    h->s = p;
    h->cap = cap;
    return true;
}

bool
ks_hold_add_stripe(struct ks_hold *h, uint32_t stripe)
{
    ASSERT(!h->taken);
    if (!hold_grow(h, h->n + 1, h->n)) {
        return false;
    }
    h->s[h->n++] = stripe % KS_STRIPES;
    return true;
}

bool
ks_hold_add(struct ks_hold *h, uint8_t db, const void *key, size_t klen)
{
    return ks_hold_add_stripe(h, ks_stripe(db, key, klen));
}

static int
u32_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Which of h->s[] this hold took itself (the rest were held already):
 * the first ntaken entries after take, moved to the front. */
bool
ks_hold_take(struct ks_hold *h, uint64_t wait_ns)
{
    ASSERT(!h->taken);
    if (h->n > 16) {
        qsort(h->s, h->n, sizeof(*h->s), u32_cmp);
    } else {
        /* a script's or a command's few keys: insertion sort, without
         * qsort's call per comparison (170 instructions for two) */
        for (uint32_t i = 1; i < h->n; i++) {
            uint32_t v = h->s[i], j = i;
            for (; j > 0 && h->s[j - 1] > v; j--) {
                h->s[j] = h->s[j - 1];
            }
            h->s[j] = v;
        }
    }
    uint32_t m = 0;
    for (uint32_t i = 0; i < h->n; i++) {
        if (m == 0 || h->s[i] != h->s[m - 1]) {
            h->s[m++] = h->s[i];
        }
    }
    h->n = m;
    int32_t top = max_held();
    uint32_t nt = 0;
    for (uint32_t i = 0; i < h->n; i++) {
        uint32_t s = h->s[i];
        if (held[s] > 0) {
            continue; /* an outer hold has it: it stays marked by that one */
        }
        bool ok;
        if ((int32_t)s > top) {
            mutex_take(s);
            ok = true;
        } else {
            ok = mutex_try(s, wait_ns);
        }
        if (!ok) {
            /* give back what this hold took, newest first */
            for (uint32_t j = nt; j > 0; j--) {
                __atomic_store_n(&multi[h->s[j - 1]], 0, __ATOMIC_RELEASE);
                ks_unlock(h->s[j - 1]);
            }
            if (nt > 0) {
                __atomic_sub_fetch(&holds_active, 1, __ATOMIC_RELEASE);
            }
            return false;
        }
        if (nt == 0) {
            /* before the first mark: lookups start checking marks */
            __atomic_add_fetch(&holds_active, 1, __ATOMIC_SEQ_CST);
        }
        __atomic_store_n(&multi[s], 1, __ATOMIC_SEQ_CST);
        h->s[nt++] = s; /* nt <= i: the taken ones move to the front */
        if ((int32_t)s > top) {
            top = (int32_t)s;
        }
    }
    h->ntaken = nt;
    h->taken = true;
    return true;
}

void
ks_stripe_set_mark(uint32_t stripe, uint8_t mark)
{
    ASSERT(mark < 255);
    uint32_t s = stripe % KS_STRIPES;
    if (held[s] > 0 && __atomic_load_n(&multi[s], __ATOMIC_RELAXED) != 0) {
        /* multi[] stays non-zero: lookups still wait for the hold */
        __atomic_store_n(&multi[s], (uint8_t)(mark + 1), __ATOMIC_RELEASE);
    }
}

uint8_t
ks_stripe_mark(uint32_t stripe)
{
    uint8_t m = __atomic_load_n(&multi[stripe % KS_STRIPES], __ATOMIC_ACQUIRE);
    return m > 1 && held[stripe % KS_STRIPES] == 0 ? (uint8_t)(m - 1) : 0;
}

void
ks_hold_release(struct ks_hold *h)
{
    if (h->taken) {
        for (uint32_t j = h->ntaken; j > 0; j--) {
            __atomic_store_n(&multi[h->s[j - 1]], 0, __ATOMIC_RELEASE);
            ks_unlock(h->s[j - 1]);
        }
        if (h->ntaken > 0) {
            __atomic_sub_fetch(&holds_active, 1, __ATOMIC_RELEASE);
        }
        h->taken = false;
        h->ntaken = 0;
    }
    if (h->s != h->local) {
        mm_release(h->s);
        h->s = h->local;
    }
    h->n = 0;
    h->cap = KS_HOLD_LOCAL;
}

bool
ks_hold_keep(struct ks_hold *outer, struct ks_hold *inner)
{
    ASSERT(outer->taken && inner->taken);
    if (inner->ntaken == 0) {
        return true; /* a script's nested command on its declared keys */
    }
    uint32_t need = outer->ntaken + inner->ntaken;
    if (!hold_grow(outer, need, outer->ntaken)) {
        return false;
    }
    /* past outer's ntaken are the stripes that were held already when it
     * was taken: not needed any more */
    memcpy(outer->s + outer->ntaken, inner->s,
            inner->ntaken * sizeof(*outer->s));
    if (outer->ntaken > 0) {
        /* one hold now where there were two */
        __atomic_sub_fetch(&holds_active, 1, __ATOMIC_RELEASE);
    }
    outer->ntaken = need;
    outer->n = need;
    inner->ntaken = 0;
    return true;
}

const uint32_t *
ks_hold_stripes(const struct ks_hold *h, uint32_t *n)
{
    *n = h->taken ? h->ntaken : 0;
    return h->s;
}

/* ---- single-key writes under their stripe ---- */

static inline uint32_t
wlock(uint8_t db, const void *key, size_t klen)
{
    uint32_t s = ks_stripe(db, key, klen);
    ks_lock(s);
    return s;
}

storage_status_e
ks_getdel(uint8_t db, const void *key, size_t klen, uint64_t now,
        struct storage_item *it)
{
    uint32_t s = wlock(db, key, klen);
    storage_status_e st = getdel_unlocked(db, key, klen, now, it);
    ks_unlock(s);
    return st;
}

storage_status_e
ks_delete_cas(
        uint8_t db, const void *key, size_t klen, uint64_t cas, uint64_t now)
{
    uint32_t s = wlock(db, key, klen);
    storage_status_e st = delete_cas_unlocked(db, key, klen, cas, now);
    ks_unlock(s);
    return st;
}

/* Inlined into both entry points: a SET pays no extra call for the event
 * name (callgrind: 15 instructions a SET as a wrapper). */
static inline __attribute__((always_inline)) storage_status_e
set_locked(const char *event, uint8_t db, const void *key, size_t klen,
        const void *value, size_t vlen, const struct storage_write *w,
        uint64_t now, struct storage_item *old, uint64_t *cas)
{
    uint32_t s = wlock(db, key, klen);
    storage_status_e st =
            set_unlocked(event, db, key, klen, value, vlen, w, now, old, cas);
    ks_unlock(s);
    return st;
}

storage_status_e
ks_set_as(const char *event, uint8_t db, const void *key, size_t klen,
        const void *value, size_t vlen, const struct storage_write *w,
        uint64_t now, struct storage_item *old, uint64_t *cas)
{
    return set_locked(event, db, key, klen, value, vlen, w, now, old, cas);
}

storage_status_e
ks_set(uint8_t db, const void *key, size_t klen, const void *value, size_t vlen,
        const struct storage_write *w, uint64_t now, struct storage_item *old,
        uint64_t *cas)
{
    return set_locked("set", db, key, klen, value, vlen, w, now, old, cas);
}

storage_status_e
ks_commit(struct storage_reservation *r, uint8_t db, const void *key,
        size_t klen, uint64_t now, uint64_t *cas)
{
    uint32_t s = wlock(db, key, klen);
    storage_status_e st = commit_unlocked(r, db, key, klen, now, cas);
    ks_unlock(s);
    return st;
}

storage_status_e
ks_expire(uint8_t db, const void *key, size_t klen, uint8_t type,
        uint64_t expiry, storage_ttl_cond_e cond, uint64_t now,
        struct storage_item *it)
{
    uint32_t s = wlock(db, key, klen);
    storage_status_e st =
            expire_unlocked(db, key, klen, type, expiry, cond, now, it);
    ks_unlock(s);
    return st;
}

storage_status_e
ks_append(uint8_t db, const void *key, size_t klen, const void *data,
        size_t len, storage_side_e side, storage_missing_e missing,
        uint64_t cas, uint64_t now, size_t *new_len, uint64_t *new_cas)
{
    uint32_t s = wlock(db, key, klen);
    storage_status_e st = append_unlocked(db, key, klen, data, len, side,
            missing, cas, now, new_len, new_cas);
    ks_unlock(s);
    return st;
}

storage_status_e
ks_setrange(uint8_t db, const void *key, size_t klen, size_t offset,
        const void *data, size_t len, uint64_t now, size_t *new_len)
{
    uint32_t s = wlock(db, key, klen);
    storage_status_e st =
            setrange_unlocked(db, key, klen, offset, data, len, now, new_len);
    ks_unlock(s);
    return st;
}

storage_status_e
ks_incr_unsigned(uint8_t db, const void *key, size_t klen, uint64_t delta,
        ks_incr_e dir, uint64_t expect, uint64_t now, uint64_t *value,
        uint64_t *cas)
{
    uint32_t s = wlock(db, key, klen);
    storage_status_e st = incr_unsigned_unlocked(
            db, key, klen, delta, dir, expect, now, value, cas);
    ks_unlock(s);
    return st;
}

storage_status_e
ks_incr_signed(uint8_t db, const void *key, size_t klen, int64_t delta,
        uint64_t now, int64_t *value)
{
    uint32_t s = wlock(db, key, klen);
    storage_status_e st =
            incr_signed_unlocked(db, key, klen, delta, now, value);
    ks_unlock(s);
    return st;
}

storage_status_e
ks_invalidate(
        uint8_t db, const void *key, size_t klen, uint64_t expiry, uint64_t now)
{
    uint32_t s = wlock(db, key, klen);
    storage_status_e st = invalidate_unlocked(db, key, klen, expiry, now);
    ks_unlock(s);
    return st;
}

void
ks_coll_changed(uint8_t db, const void *key, size_t klen, const char *event,
        bool existed, bool empty)
{
    ks_change_fn fn = __atomic_load_n(&change_hook, __ATOMIC_RELAXED);
    if (fn == NULL) {
        return;
    }
    if (!existed && !empty) {
        fn(db, key, klen, "new");
    }
    fn(db, key, klen, event);
    if (existed && empty) {
        fn(db, key, klen, "del");
    }
}

void
ks_stored(uint8_t db, const void *key, size_t klen, const char *event,
        bool existed, bool empty)
{
    if (empty) {
        if (existed) {
            heard(db, key, klen, "del");
        }
        return;
    }
    ks_coll_changed(db, key, klen, event, existed, false);
}
