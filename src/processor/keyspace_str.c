/* SPDX-License-Identifier: Apache-2.0 */
/* Strings too large for one item (keyspace.h "Strings in parts"): written
 * whole in fixed-size parts, read by copying the parts back under the
 * key's stripe lock, and changed (APPEND, SETRANGE) by rewriting only the
 * parts a change touches.
 *
 * Root value (type STORAGE_TYPE_STRING_PARTS, written with parts):
 *
 *   +------+--------+-------+--------+-------+
 *   | id 8 | nparts | len 8 | cflags | chunk |     all big-endian
 *   |      | 4      |       | 4      | 4     |
 *   +------+--------+-------+--------+-------+
 *
 * Part i holds bytes [i * chunk, min(len, (i + 1) * chunk)). The chunk is
 * chosen when the root is first written and kept with it, so a restart
 * with another segment size still reads it.
 *
 * Locks: every write here runs under the key's stripe lock, which its
 * caller (keyspace.c's single-key writes, a hold, resp_strmod.c) has
 * taken; a read takes it (re-entrant: counted when this thread has it)
 * for the copy, so a value is never seen half rewritten. */
#include "processor/keyspace_internal.h"

#include "base/log.h"
#include "base/mm.h"
#include "base/time.h"
#include "base/util.h"
#include "types/types.h"

#include <inttypes.h>
#include <pthread.h>
#include <string.h>

#define STR_ROOT_LEN   28
#define STR_CHUNK_MIN  KS_STR_WHOLE_MIN
#define SCRATCH_MAX    64  /* copies held by one thread until released */
#define STREAM_KEY_MAX 255 /* a streamed value's key (memcache: 250) */

struct str_root {
    uint8_t id[8];
    uint32_t n;
    uint64_t len;
    uint32_t cflags;
    uint32_t chunk;
    uint64_t cas;
    uint64_t expiry;
};

/* ---- the thread's copies of values in parts ---- */

static __thread void *scratch[SCRATCH_MAX];
static __thread uint32_t nscratch;

/* One copy buffer of SCRATCH_KEEP bytes is kept by each thread that has
 * read a value in parts, so values up to that size (the ones a segment
 * packs in parts rather than whole, ks_str_whole_max) are read without an
 * allocation and its page faults each time; freed when the thread exits. */
#define SCRATCH_KEEP ((size_t)1 << 20)
static pthread_key_t kept_key;
static pthread_once_t kept_once = PTHREAD_ONCE_INIT;
static __thread void *kept;
static __thread bool kept_busy;

static void
kept_free(void *p)
{
    mm_release(p);
    kept = NULL;
    kept_busy = false;
}

static void
kept_init(void)
{
    pthread_key_create(&kept_key, kept_free);
}

/* The kept buffer, made on first use; NULL when it is in use or cannot be
 * made. */
static void *
kept_take(void)
{
    if (kept_busy) {
        return NULL;
    }
    if (kept == NULL) {
        pthread_once(&kept_once, kept_init);
        void *p = mm_alloc(SCRATCH_KEEP);
        if (p == NULL || pthread_setspecific(kept_key, p) != 0) {
            mm_release(p);
            return NULL;
        }
        kept = p;
    }
    kept_busy = true;
    return kept;
}

static void *
scratch_alloc(size_t len)
{
    if (nscratch == SCRATCH_MAX) {
        return NULL;
    }
    void *p = len <= SCRATCH_KEEP ? kept_take() : NULL;
    if (p == NULL) {
        p = mm_alloc(len == 0 ? 1 : len);
    }
    if (p != NULL) {
        scratch[nscratch++] = p;
    }
    return p;
}

static int
scratch_index(const void *p)
{
    if (p == NULL || p == kept) {
        return -1;
    }
    for (uint32_t i = 0; i < nscratch; i++) {
        if (scratch[i] == p) {
            return (int)i;
        }
    }
    return -1;
}

bool
ks_scratch_holds(const void *p)
{
    return scratch_index(p) >= 0;
}

bool
ks_scratch_take(const void *p)
{
    int i = scratch_index(p);
    if (i < 0) {
        return false;
    }
    scratch[i] = scratch[--nscratch];
    return true;
}

void
ks_scratch_free(void *p)
{
    mm_release(p);
}

void
ks_scratch_release(void)
{
    while (nscratch > 0) {
        void *p = scratch[--nscratch];
        if (p == kept) {
            kept_busy = false;
        } else {
            mm_release(p);
        }
    }
    if (ks_id_pin != STORAGE_PIN_NONE) {
        ks_id_unpin();
    }
}

bool
ks_str_scratch_copy(struct storage_item *it)
{
    uint8_t *p = scratch_alloc(it->vlen);
    if (p == NULL) {
        return false;
    }
    memcpy(p, it->value, it->vlen);
    it->value = p;
    return true;
}

/* ---- roots ---- */

bool
ks_is_string(uint8_t type)
{
    return type == STORAGE_TYPE_STRING || type == STORAGE_TYPE_STRING_PARTS;
}

size_t
ks_str_chunk(void)
{
    /* a sixteenth of the largest item: a value in parts wastes at most a
     * sixteenth of a segment per segment it spans, however large */
    size_t c = storage_item_size_max() / 16;
    c -= c % STR_CHUNK_MIN;
    return c < STR_CHUNK_MIN ? STR_CHUNK_MIN : c;
}

size_t
ks_str_whole_max(void)
{
    return ks_str_chunk();
}

static bool
root_of(const struct storage_item *it, struct str_root *r)
{
    if (it->type != STORAGE_TYPE_STRING_PARTS || !it->parts ||
            it->vlen != STR_ROOT_LEN) {
        return false;
    }
    const uint8_t *p = it->value;
    memcpy(r->id, p, 8);
    r->n = (uint32_t)types_be_get(p + 8, 4);
    r->len = types_be_get(p + 12, 8);
    r->cflags = (uint32_t)types_be_get(p + 20, 4);
    r->chunk = (uint32_t)types_be_get(p + 24, 4);
    r->cas = it->cas;
    r->expiry = it->expiry;
    /* a root whose numbers disagree (a corrupt image) is refused */
    return r->chunk >= STR_CHUNK_MIN &&
           r->n == (r->len + r->chunk - 1) / r->chunk;
}

static void
root_write(uint8_t *p, const struct str_root *r)
{
    memcpy(p, r->id, 8);
    types_be_put(p + 8, r->n, 4);
    types_be_put(p + 12, r->len, 8);
    types_be_put(p + 20, r->cflags, 4);
    types_be_put(p + 24, r->chunk, 4);
}

uint64_t
ks_str_len(const struct storage_item *it)
{
    struct str_root r;
    if (root_of(it, &r)) {
        return r.len;
    }
    return it->type == STORAGE_TYPE_STRING ? it->vlen : 0;
}

uint32_t
ks_str_cflags(const struct storage_item *it)
{
    struct str_root r;
    if (root_of(it, &r)) {
        return r.cflags;
    }
    return it->cflags;
}

/* Bytes of part i of r. */
static size_t
part_len(const struct str_root *r, uint32_t i)
{
    uint64_t from = (uint64_t)i * r->chunk;
    uint64_t left = r->len - from;
    return left < r->chunk ? (size_t)left : r->chunk;
}

/* Copies bytes [from, from + len) of the value of root r to dst. OK, or
 * NOT_FOUND when a part is missing (the key is going away). */
static storage_status_e
parts_read(uint8_t db, const void *key, size_t klen, const struct str_root *r,
        uint64_t from, uint64_t len, uint8_t *dst, uint8_t *pk, uint64_t now)
{
    while (len > 0) {
        uint32_t i = (uint32_t)(from / r->chunk);
        size_t off = (size_t)(from % r->chunk);
        struct storage_item part;
        size_t plen = ks_part_key(pk, key, klen, r->id, i);
        if (storage_peek(db | STORAGE_DB_PARTS, pk, plen, now, &part) !=
                        STORAGE_OK ||
                part.vlen != part_len(r, i)) {
            return STORAGE_NOT_FOUND;
        }
        size_t take = part.vlen - off;
        take = take > len ? (size_t)len : take;
        memcpy(dst, part.value + off, take);
        dst += take;
        from += take;
        len -= take;
    }
    return STORAGE_OK;
}

static uint8_t *
part_key_buf(size_t klen)
{
    return mm_alloc(klen + STORAGE_PART_SUFFIX);
}

/* The root at key, peeked under its lock: OK (a root, *r), NOT_FOUND, or
 * EWRONGTYPE (a live item that is not a string root: *it its view). */
static storage_status_e
root_peek(uint8_t db, const void *key, size_t klen, uint64_t now,
        struct storage_item *it, struct str_root *r)
{
    if (storage_peek(db, key, klen, now, it) != STORAGE_OK) {
        return STORAGE_NOT_FOUND;
    }
    return root_of(it, r) ? STORAGE_OK : STORAGE_EWRONGTYPE;
}

/* The whole value of root r into scratch; *it becomes its view. */
static bool
copy_out_locked(uint8_t db, const void *key, size_t klen,
        const struct str_root *r, uint64_t now, struct storage_item *it)
{
    uint8_t *pk = part_key_buf(klen);
    uint8_t *dst = pk == NULL ? NULL : scratch_alloc((size_t)r->len);
    if (dst == NULL) {
        log_warn("no memory to copy a value of %llu bytes",
                (unsigned long long)r->len);
        mm_release(pk);
        return false;
    }
    storage_status_e st = parts_read(db, key, klen, r, 0, r->len, dst, pk, now);
    mm_release(pk);
    if (st != STORAGE_OK) {
        return false;
    }
    it->value = dst;
    it->vlen = (size_t)r->len;
    it->type = STORAGE_TYPE_STRING;
    it->parts = false;
    it->cflags = r->cflags;
    return true;
}

bool
ks_str_materialize(uint8_t db, const void *key, size_t klen, uint64_t now,
        struct storage_item *it)
{
    /* the access was recorded by the lookup; the lock may end the view,
     * so the root is read again under it, without recording */
    struct storage_item seen = *it;
    uint32_t s = ks_stripe(db, key, klen);
    /* false: out of order behind another thread's hold for longer than
     * a lookup waits (keyspace.c); read without it, as such a lookup does */
    bool locked = ks_lock_for_read(s);
    struct str_root r;
    storage_status_e st = root_peek(db, key, klen, now, it, &r);
    bool ok = st == STORAGE_OK && copy_out_locked(db, key, klen, &r, now, it);
    if (st == STORAGE_EWRONGTYPE) {
        /* replaced meanwhile by an inline value (or another type) */
        ok = true;
    }
    if (locked) {
        ks_unlock(s);
    }
    if (ok) {
        it->freq = seen.freq;
        it->fetched = seen.fetched;
        it->last_access = seen.last_access;
    }
    return ok;
}

/* ---- writes ---- */

/* A write larger than what the store can free evicts its own first parts
 * while it writes the last: checked before the root goes in, so that is
 * answered as no memory (ENOMEM), never as a value stored without them.
 * A part may also be gone because the value expired while it was written
 * (SET k v PX 1: the background thread frees an expired segment by the
 * clock, whatever the request's `now`): that is no failure, as in Redis
 * the write is done and the value then expires; the root still goes in
 * (replacing the old value as the write's mode says) and a reader that
 * meets it before its expiry finds a part missing, which reads as gone. */
static storage_status_e
parts_present(uint8_t db, const void *key, size_t klen,
        const struct str_root *r, uint32_t first, uint32_t last, uint8_t *pk,
        uint64_t now)
{
    for (uint32_t i = first; i <= last && i < r->n; i++) {
        struct storage_item part;
        size_t pklen = ks_part_key(pk, key, klen, r->id, i);
        if (storage_peek(db | STORAGE_DB_PARTS, pk, pklen, now, &part) !=
                STORAGE_OK) {
            if (r->expiry != TIME_NEVER && r->expiry <= time_now_ms()) {
                return STORAGE_OK; /* expired meanwhile, not evicted */
            }
            log_debug("part %" PRIu32 " of a %" PRIu64
                      "-byte value evicted while it was written",
                    i, r->len);
            return STORAGE_ENOMEM;
        }
    }
    return STORAGE_OK;
}

/* Writes parts [first, last] of r, each built by fill (which writes part
 * i's bytes to buf). The caller deletes the parts of a fresh root again
 * when this fails. */
typedef void part_fill_fn(uint32_t i, uint8_t *buf, size_t plen, void *arg);

static storage_status_e
parts_write(uint8_t db, const void *key, size_t klen, const struct str_root *r,
        uint32_t first, uint32_t last, part_fill_fn *fill, void *arg,
        uint64_t now)
{
    uint8_t *pk = part_key_buf(klen);
    storage_status_e st = pk == NULL ? STORAGE_ENOMEM : STORAGE_OK;
    if (r->n == 0) {
        first = 1; /* an empty value has no parts */
        last = 0;
    }
    struct storage_write w = {.expiry = r->expiry};
    for (uint32_t i = first; st == STORAGE_OK && i <= last && i < r->n; i++) {
        /* built in place: one copy of the bytes, not two */
        size_t plen = part_len(r, i);
        size_t pklen = ks_part_key(pk, key, klen, r->id, i);
        struct storage_reservation res;
        st = storage_reserve(
                &res, db | STORAGE_DB_PARTS, pk, pklen, plen, &w, now);
        if (st == STORAGE_OK) {
            fill(i, res.value, plen, arg);
            st = storage_commit(&res, now, NULL, NULL);
        }
    }
    if (st == STORAGE_OK) {
        st = parts_present(db, key, klen, r, first, last, pk, now);
    }
    mm_release(pk);
    return st;
}

struct fill_flat {
    const uint8_t *v;
    uint32_t chunk;
};

static void
fill_flat(uint32_t i, uint8_t *buf, size_t plen, void *arg)
{
    const struct fill_flat *f = arg;
    memcpy(buf, f->v + (size_t)i * f->chunk, plen);
}

/* The root for a fresh value of len bytes. */
static void
root_init(struct str_root *r, uint64_t len, uint32_t cflags, uint64_t expiry)
{
    ks_new_id(r->id);
    r->chunk = (uint32_t)ks_str_chunk();
    r->len = len;
    r->n = (uint32_t)((len + r->chunk - 1) / r->chunk);
    r->cflags = cflags;
    r->expiry = expiry;
}

/* Writes root r over key with w (mode, CAS, keep_ttl as the caller's);
 * the parts are written. On a failure they are deleted again. */
static storage_status_e
root_commit(uint8_t db, const void *key, size_t klen, const struct str_root *r,
        const struct storage_write *w, uint64_t now, struct storage_item *old,
        uint64_t *cas)
{
    uint8_t root[STR_ROOT_LEN];
    root_write(root, r);
    struct storage_write rw = *w;
    rw.type = STORAGE_TYPE_STRING_PARTS;
    rw.parts = true;
    rw.cflags = 0;
    rw.stale = false;
    storage_status_e st =
            ks_set_quiet(db, key, klen, root, sizeof(root), &rw, now, old, cas);
    if (st != STORAGE_OK) {
        ks_parts_delete(db, key, klen, r->id, r->n, now);
    }
    return st;
}

/* The expiry a write with w leaves: the replaced item's with keep_ttl. */
static uint64_t
expiry_after(uint8_t db, const void *key, size_t klen,
        const struct storage_write *w, uint64_t now)
{
    struct storage_item it;
    if (!w->keep_ttl) {
        return w->expiry;
    }
    return storage_peek(db, key, klen, now, &it) == STORAGE_OK ? it.expiry
                                                               : TIME_NEVER;
}

static storage_status_e
set_locked(uint8_t db, const void *key, size_t klen, const void *value,
        size_t vlen, const struct storage_write *w, uint64_t now,
        struct storage_item *old, uint64_t *cas)
{
    struct str_root r;
    root_init(&r, vlen, w->cflags, expiry_after(db, key, klen, w, now));
    struct fill_flat f = {.v = value, .chunk = r.chunk};
    storage_status_e st = parts_write(
            db, key, klen, &r, 0, r.n == 0 ? 0 : r.n - 1, fill_flat, &f, now);
    if (st != STORAGE_OK) {
        ks_parts_delete(db, key, klen, r.id, r.n, now);
        return st;
    }
    return root_commit(db, key, klen, &r, w, now, old, cas);
}

/* ---- changes of a range ---- */

/* A change: the new value is zeros, with the old value (root old, or the
 * inline bytes v of vlen, or nothing) at shift and data at off over it. */
struct change {
    const struct str_root *old;
    const uint8_t *v;
    uint64_t vlen;
    uint64_t shift; /* where the old bytes start in the new value */
    uint64_t off;   /* where data starts */
    const uint8_t *data;
    size_t len;
    uint32_t chunk; /* of the new root */
    uint8_t db;
    const void *key;
    size_t klen;
    uint8_t *pk;
    uint64_t now;
    bool broken; /* an old part was missing */
};

/* Copies [lo, hi) of the new value that the region [at, at + n) of src
 * covers into buf (which holds the new value from `from`). */
static void
overlay(uint8_t *buf, uint64_t from, uint64_t hi, uint64_t at, uint64_t n,
        const uint8_t *src)
{
    uint64_t lo = at > from ? at : from;
    uint64_t end = at + n < hi ? at + n : hi;
    if (lo < end) {
        memcpy(buf + (lo - from), src + (lo - at), (size_t)(end - lo));
    }
}

/* Part i of the new value (plen bytes). */
static void
fill_changed(uint32_t i, uint8_t *buf, size_t plen, void *arg)
{
    struct change *c = arg;
    uint64_t from = (uint64_t)i * c->chunk, hi = from + plen;
    memset(buf, 0, plen);
    uint64_t lo = c->shift > from ? c->shift : from;
    uint64_t oend = c->shift + (c->old != NULL ? c->old->len : c->vlen);
    uint64_t end = oend < hi ? oend : hi;
    if (lo < end && c->old != NULL) {
        if (parts_read(c->db, c->key, c->klen, c->old, lo - c->shift, end - lo,
                    buf + (lo - from), c->pk, c->now) != STORAGE_OK) {
            c->broken = true;
        }
    } else if (lo < end) {
        overlay(buf, from, hi, c->shift, c->vlen, c->v);
    }
    overlay(buf, from, hi, c->off, c->len, c->data);
}

/* What is at the key, for a change under its lock. */
struct current {
    storage_status_e st; /* OK: a root (r) or inline string (v, it) */
    struct str_root r;
    bool root;
    uint8_t *v; /* a copy of an inline value (the writes end the view) */
    size_t vlen;
    uint64_t cas;
    uint64_t expiry;
    uint32_t cflags;
};

static void
current_read(uint8_t db, const void *key, size_t klen, uint64_t now,
        struct current *cur)
{
    struct storage_item it;
    memset(cur, 0, sizeof(*cur));
    cur->st = root_peek(db, key, klen, now, &it, &cur->r);
    cur->root = cur->st == STORAGE_OK;
    if (cur->st == STORAGE_EWRONGTYPE && it.type == STORAGE_TYPE_STRING) {
        cur->v = mm_alloc(it.vlen == 0 ? 1 : it.vlen);
        cur->st = cur->v == NULL ? STORAGE_ENOMEM : STORAGE_OK;
        if (cur->v != NULL) {
            memcpy(cur->v, it.value, it.vlen);
            cur->vlen = it.vlen;
        }
    }
    if (cur->st == STORAGE_OK) {
        cur->cas = it.cas;
        cur->expiry = it.expiry;
        cur->cflags = cur->root ? cur->r.cflags : it.cflags;
    }
}

/* Parts of the current value a change in place rewrites all or none of
 * (1 MiB at the default part size): each is reserved and filled, with the
 * new root, before any is committed, so a change that runs out of memory
 * leaves the value as it was. A change rewriting more of them writes them
 * one by one (it needs room for one part at a time, not for all): out of
 * memory partway, those written are changed. */
#define INPLACE_ATOMIC_MAX 16

/* Rewrites parts [first, last] of the current value (root r, the same id)
 * and then its root (root, with w), all or nothing: see above. */
static storage_status_e
in_place_commit(struct change *c, const struct str_root *r, uint32_t first,
        uint32_t last, const uint8_t *root, size_t rlen,
        const struct storage_write *w, uint64_t *new_cas)
{
    struct storage_reservation res[INPLACE_ATOMIC_MAX + 1];
    uint32_t n = 0;
    struct storage_write pw = {.expiry = r->expiry};
    storage_status_e st = STORAGE_OK;
    for (uint32_t i = first; st == STORAGE_OK && i <= last; i++, n++) {
        size_t plen = part_len(r, i);
        size_t pklen = ks_part_key(c->pk, c->key, c->klen, r->id, i);
        st = storage_reserve(&res[n], c->db | STORAGE_DB_PARTS, c->pk, pklen,
                plen, &pw, c->now);
        if (st != STORAGE_OK) {
            break;
        }
        fill_changed(i, res[n].value, plen, c);
    }
    if (st == STORAGE_OK && c->broken) {
        st = STORAGE_NOT_FOUND;
    }
    if (st == STORAGE_OK) {
        st = storage_reserve(&res[n], c->db, c->key, c->klen, rlen, w, c->now);
        if (st == STORAGE_OK) {
            memcpy(res[n].value, root, rlen);
            n++;
        }
    }
    if (st != STORAGE_OK) {
        while (n > 0) {
            storage_abort(&res[--n]);
        }
        return st;
    }
    /* from here nothing is refused for memory: the parts, then the root
     * (its CAS checked; under the key's lock only an eviction of the key
     * can take it meanwhile, and then the key is gone whole) */
    for (uint32_t j = 0; j + 1 < n; j++) {
        st = storage_commit(&res[j], c->now, NULL, NULL);
        if (st != STORAGE_OK) {
            break;
        }
    }
    if (st != STORAGE_OK) {
        storage_abort(&res[n - 1]);
        return st;
    }
    return storage_commit(&res[n - 1], c->now, NULL, new_cas);
}

/* Deletes parts [from, to) of r: new parts a change in place wrote past
 * the current value's, whose root was not written. */
static void
parts_delete_range(
        struct change *c, const struct str_root *r, uint32_t from, uint32_t to)
{
    for (uint32_t i = from; i < to; i++) {
        size_t pklen = ks_part_key(c->pk, c->key, c->klen, r->id, i);
        storage_delete(c->db | STORAGE_DB_PARTS, c->pk, pklen, 0, c->now);
    }
}

/* Writes the change c over what cur holds: in place (the same id, only the
 * parts the change touches) when cur is a root and the old bytes do not
 * move, else as a fresh root. */
static storage_status_e
change_commit(struct change *c, const struct current *cur, uint64_t newlen,
        uint64_t *new_cas)
{
    struct str_root r;
    uint32_t first = 0;
    bool in_place = cur->root && c->shift == 0;
    if (in_place) {
        r = cur->r;
        r.len = newlen;
        r.n = (uint32_t)((newlen + r.chunk - 1) / r.chunk);
        /* the touched parts, and the old last part on to the end */
        uint32_t grow = cur->r.n == 0 ? 0 : cur->r.n - 1;
        first = (uint32_t)(c->off / r.chunk);
        first = newlen > cur->r.len && grow < first ? grow : first;
    } else {
        root_init(&r, newlen, cur->cflags, cur->expiry);
    }
    r.expiry = cur->expiry;
    c->chunk = r.chunk;
    uint32_t last = r.n == 0 ? 0 : r.n - 1;
    if (in_place && newlen <= cur->r.len) {
        last = (uint32_t)((c->off + c->len - 1) / r.chunk); /* len > 0 */
    }
    /* in place, the parts past the current value's are new: written first
     * (no reader sees them before the root); those it has are rewritten
     * all or nothing with the root when they are few (in_place_commit) */
    uint32_t old_n = in_place ? cur->r.n : 0;
    uint32_t split = first > old_n ? first : old_n;
    bool atomic =
            in_place && r.n > 0 && split > first &&
            (last < split ? last : split - 1) - first < INPLACE_ATOMIC_MAX;
    storage_status_e st = STORAGE_OK;
    if (atomic && split <= last && split < r.n) {
        st = parts_write(c->db, c->key, c->klen, &r, split, last, fill_changed,
                c, c->now);
        if (st != STORAGE_OK) {
            parts_delete_range(c, &r, split, r.n);
            return st;
        }
    }
    if (atomic) {
        uint32_t top = last < split ? last : split - 1;
        struct storage_write w = {
                .mode = STORAGE_CAS,
                .cas = cur->cas,
                .expiry = cur->expiry, /* a reservation has no KEEPTTL */
                .type = STORAGE_TYPE_STRING_PARTS,
                .parts = true,
        };
        uint8_t root[STR_ROOT_LEN];
        root_write(root, &r);
        st = in_place_commit(
                c, &r, first, top, root, sizeof(root), &w, new_cas);
        if (st != STORAGE_OK && split < r.n) {
            parts_delete_range(c, &r, split, r.n); /* the root never came */
        }
        return st;
    }
    st = parts_write(
            c->db, c->key, c->klen, &r, first, last, fill_changed, c, c->now);
    if (st == STORAGE_OK && c->broken) {
        st = STORAGE_NOT_FOUND;
    }
    if (st != STORAGE_OK) {
        if (!in_place) {
            ks_parts_delete(c->db, c->key, c->klen, r.id, r.n, c->now);
        }
        return st;
    }
    struct storage_write w = {
            .mode = cur->st == STORAGE_OK ? STORAGE_CAS : STORAGE_ADD,
            .cas = cur->cas,
            .keep_ttl = true,
            .cflags = cur->cflags,
    };
    uint8_t root[STR_ROOT_LEN];
    root_write(root, &r);
    w.type = STORAGE_TYPE_STRING_PARTS;
    w.parts = true;
    w.cflags = 0;
    /* in place, the replaced root's parts are the new root's: kept */
    st = in_place ? storage_set(c->db, c->key, c->klen, root, sizeof(root), &w,
                            c->now, NULL, new_cas)
                  : ks_set_quiet(c->db, c->key, c->klen, root, sizeof(root), &w,
                            c->now, NULL, new_cas);
    if (st != STORAGE_OK && !in_place) {
        ks_parts_delete(c->db, c->key, c->klen, r.id, r.n, c->now);
    }
    return st;
}

static storage_status_e
change_locked(struct change *c, const struct current *cur, uint64_t newlen,
        uint64_t *new_cas)
{
    if (newlen / ks_str_chunk() >= UINT32_MAX ||
            c->klen + STORAGE_PART_SUFFIX > STORAGE_KEY_MAX) {
        return STORAGE_EOVERSIZE;
    }
    c->old = cur->root ? &cur->r : NULL;
    c->v = cur->v;
    c->vlen = cur->vlen;
    c->pk = part_key_buf(c->klen);
    if (c->pk == NULL) {
        return STORAGE_ENOMEM;
    }
    storage_status_e st = change_commit(c, cur, newlen, new_cas);
    mm_release(c->pk);
    return st;
}

storage_status_e
ks_str_append_locked(uint8_t db, const void *key, size_t klen, const void *data,
        size_t len, storage_side_e side, storage_missing_e missing,
        uint64_t cas, uint64_t now, size_t *new_len, uint64_t *new_cas)
{
    ASSERT(ks_holds(ks_stripe(db, key, klen)));
    struct current cur;
    current_read(db, key, klen, now, &cur);
    uint64_t oldlen = cur.root ? cur.r.len : cur.vlen;
    storage_status_e st = cur.st;
    if (st == STORAGE_OK && ks_protocol() == KS_PROTO_MEMCACHE &&
            !ks_memcache_fits(klen, oldlen + len, cur.cflags)) {
        st = STORAGE_EOVERSIZE; /* memcached: past item_size_max */
    } else if (st == STORAGE_NOT_FOUND && missing == STORAGE_MISSING_CREATE) {
        st = STORAGE_OK;
    } else if (st == STORAGE_NOT_FOUND) {
        st = STORAGE_NOT_STORED;
    } else if (st == STORAGE_OK && cas != 0 && cur.cas != cas) {
        st = STORAGE_EXISTS;
    }
    if (st == STORAGE_OK) {
        struct change c = {.db = db,
                .key = key,
                .klen = klen,
                .now = now,
                .data = data,
                .len = len};
        c.shift = side == STORAGE_PREPEND ? len : 0;
        c.off = side == STORAGE_PREPEND ? 0 : oldlen;
        st = change_locked(&c, &cur, oldlen + len, new_cas);
    }
    mm_release(cur.v);
    if (st == STORAGE_OK && new_len != NULL) {
        *new_len = (size_t)(oldlen + len);
    }
    return st;
}

storage_status_e
ks_str_setrange_locked(uint8_t db, const void *key, size_t klen, size_t offset,
        const void *data, size_t len, uint64_t now, size_t *new_len)
{
    ASSERT(ks_holds(ks_stripe(db, key, klen)));
    struct current cur;
    current_read(db, key, klen, now, &cur);
    uint64_t oldlen = cur.root ? cur.r.len : cur.vlen;
    uint64_t newlen = offset + len > oldlen ? offset + len : oldlen;
    storage_status_e st = cur.st == STORAGE_NOT_FOUND ? STORAGE_OK : cur.st;
    if (st == STORAGE_OK && len == 0) {
        newlen = oldlen; /* Redis: nothing changes */
    } else if (st == STORAGE_OK) {
        struct change c = {.db = db,
                .key = key,
                .klen = klen,
                .now = now,
                .data = data,
                .len = len,
                .off = offset};
        st = change_locked(&c, &cur, newlen, NULL);
    }
    mm_release(cur.v);
    if (st == STORAGE_OK && new_len != NULL) {
        *new_len = (size_t)newlen;
    }
    return st;
}

storage_status_e
ks_str_set_locked(uint8_t db, const void *key, size_t klen, const void *value,
        size_t vlen, const struct storage_write *w, uint64_t now,
        struct storage_item *old, uint64_t *cas)
{
    ASSERT(ks_holds(ks_stripe(db, key, klen)));
    if (klen + STORAGE_PART_SUFFIX > STORAGE_KEY_MAX ||
            vlen / ks_str_chunk() >= UINT32_MAX) {
        return STORAGE_EOVERSIZE;
    }
    return set_locked(db, key, klen, value, vlen, w, now, old, cas);
}

storage_status_e
ks_str_copy_out(uint8_t db, const void *key, size_t klen,
        const struct storage_item *root, uint64_t now, struct storage_item *it)
{
    struct str_root r;
    if (!root_of(root, &r)) {
        return STORAGE_NOT_FOUND;
    }
    *it = *root;
    return copy_out_locked(db, key, klen, &r, now, it) ? STORAGE_OK
                                                       : STORAGE_NOT_FOUND;
}

storage_status_e
ks_str_read_locked(uint8_t db, const void *key, size_t klen, uint64_t from,
        size_t len, uint8_t *dst, uint64_t *slen, uint64_t now)
{
    ASSERT(ks_holds(ks_stripe(db, key, klen)));
    struct storage_item it;
    struct str_root r;
    memset(dst, 0, len);
    *slen = 0;
    storage_status_e st = root_peek(db, key, klen, now, &it, &r);
    if (st == STORAGE_NOT_FOUND) {
        return st;
    }
    if (st == STORAGE_EWRONGTYPE && it.type != STORAGE_TYPE_STRING) {
        return st;
    }
    *slen = st == STORAGE_OK ? r.len : it.vlen;
    uint64_t end = from + len < *slen ? from + len : *slen;
    if (from >= end) {
        return STORAGE_OK;
    }
    if (st != STORAGE_OK) { /* an inline string */
        memcpy(dst, it.value + from, (size_t)(end - from));
        return STORAGE_OK;
    }
    uint8_t *pk = part_key_buf(klen);
    if (pk == NULL) {
        return STORAGE_ENOMEM;
    }
    st = parts_read(db, key, klen, &r, from, end - from, dst, pk, now);
    mm_release(pk);
    return st;
}

/* ---- a value received in pieces ---- */

struct ks_stream {
    struct str_root r;
    struct storage_write w;
    uint8_t db;
    uint8_t klen;
    uint8_t key[STREAM_KEY_MAX];
    storage_status_e st; /* the first failure; the rest is discarded */
    uint32_t next;       /* the part being filled */
    uint32_t pin;        /* of r.id, until the root is in (storage.h) */
    bool reserve;        /* parts filled in reservations (ks_stream.h) */
    bool reserved;       /* res holds the part being filled */
    struct storage_reservation res;
    size_t fill;   /* its bytes so far */
    uint8_t *pk;   /* a part key */
    uint8_t buf[]; /* one part (r.chunk bytes) */
};

struct ks_stream *
ks_stream_begin(uint8_t db, const void *key, size_t klen, size_t vlen,
        const struct storage_write *w, uint64_t now, storage_status_e *st)
{
    (void)now;
    if (klen > STREAM_KEY_MAX || vlen / ks_str_chunk() >= UINT32_MAX ||
            (ks_protocol() == KS_PROTO_MEMCACHE &&
                    !ks_memcache_fits(klen, vlen, w->cflags))) {
        *st = STORAGE_EOVERSIZE;
        return NULL;
    }
    size_t chunk = ks_str_chunk();
    struct ks_stream *s = mm_alloc(sizeof(*s) + chunk);
    uint8_t *pk = part_key_buf(klen);
    if (s == NULL || pk == NULL) {
        mm_release(s);
        mm_release(pk);
        *st = STORAGE_ENOMEM;
        return NULL;
    }
    root_init(&s->r, vlen, w->cflags, w->expiry);
    s->w = *w;
    s->db = db;
    s->klen = (uint8_t)klen;
    memcpy(s->key, key, klen);
    s->st = STORAGE_OK;
    s->next = 0;
    s->fill = 0;
    s->pk = pk;
    /* the request that began it ends before the value does */
    s->pin = storage_parts_pin(s->r.id);
    s->reserve = false;
    s->reserved = false;
    *st = STORAGE_OK;
    return s;
}

void
ks_stream_reserve_parts(struct ks_stream *s)
{
    s->reserve = true;
}

/* The part starting: into a reservation when asked and one is had, else
 * into the buffer. */
static void
stream_part_begin(struct ks_stream *s, uint64_t now)
{
    if (!s->reserve || s->st != STORAGE_OK) {
        return;
    }
    struct storage_write pw = {.expiry = s->r.expiry};
    size_t pklen = ks_part_key(s->pk, s->key, s->klen, s->r.id, s->next);
    s->reserved =
            storage_reserve(&s->res, s->db | STORAGE_DB_PARTS, s->pk, pklen,
                    part_len(&s->r, s->next), &pw, now) == STORAGE_OK;
}

/* Writes the part being filled; the next one starts. */
static void
stream_flush(struct ks_stream *s, uint64_t now)
{
    struct storage_write pw = {.expiry = s->r.expiry};
    size_t pklen = ks_part_key(s->pk, s->key, s->klen, s->r.id, s->next);
    if (s->reserved) {
        s->reserved = false;
        storage_status_e st = storage_commit(&s->res, now, NULL, NULL);
        s->st = s->st == STORAGE_OK ? st : s->st;
    } else if (s->st == STORAGE_OK) {
        s->st = storage_set(s->db | STORAGE_DB_PARTS, s->pk, pklen, s->buf,
                s->fill, &pw, now, NULL, NULL);
    }
    s->next++;
    s->fill = 0;
}

void
ks_stream_write(struct ks_stream *s, const void *data, size_t len, uint64_t now)
{
    const uint8_t *p = data;
    while (len > 0 && s->next < s->r.n) {
        if (s->fill == 0) {
            stream_part_begin(s, now);
        }
        size_t want = part_len(&s->r, s->next) - s->fill;
        size_t take = len < want ? len : want;
        if (s->reserved) {
            memcpy(s->res.value + s->fill, p, take);
        } else if (s->st == STORAGE_OK) {
            memcpy(s->buf + s->fill, p, take);
        }
        s->fill += take;
        p += take;
        len -= take;
        if (s->fill == part_len(&s->r, s->next)) {
            stream_flush(s, now);
        }
    }
}

static void
stream_destroy(struct ks_stream **s)
{
    if ((*s)->reserved) {
        storage_abort(&(*s)->res);
    }
    storage_parts_unpin((*s)->pin);
    mm_release((*s)->pk);
    mm_release(*s);
    *s = NULL;
}

void
ks_stream_abort(struct ks_stream **s, uint64_t now)
{
    if (*s == NULL) {
        return;
    }
    ks_parts_delete(
            (*s)->db, (*s)->key, (*s)->klen, (*s)->r.id, (*s)->next, now);
    stream_destroy(s);
}

/* Sets every part written to expiry (a RESP SET's time comes after its
 * value, which went in with none). */
static void
stream_expire(struct ks_stream *s, uint64_t expiry, uint64_t now)
{
    for (uint32_t i = 0; i < s->r.n; i++) {
        size_t pklen = ks_part_key(s->pk, s->key, s->klen, s->r.id, i);
        storage_touch(s->db | STORAGE_DB_PARTS, s->pk, pklen, expiry,
                STORAGE_TTL_ALWAYS, now, NULL);
    }
    s->r.expiry = expiry;
}

storage_status_e
ks_stream_commit_as(struct ks_stream **sp, const struct storage_write *w,
        uint64_t now, struct storage_item *old, uint64_t *cas)
{
    struct ks_stream *s = *sp;
    storage_status_e st = s->next == s->r.n ? s->st : STORAGE_EINVAL;
    if (st == STORAGE_OK) {
        st = parts_present(
                s->db, s->key, s->klen, &s->r, 0, s->r.n - 1, s->pk, now);
    }
    if (st != STORAGE_OK) {
        ks_stream_abort(sp, now);
        return st;
    }
    uint32_t stripe = ks_stripe(s->db, s->key, s->klen);
    ks_lock(stripe);
    struct storage_item prior;
    bool existed =
            storage_peek(s->db, s->key, s->klen, now, &prior) == STORAGE_OK;
    uint64_t expiry = expiry_after(s->db, s->key, s->klen, w, now);
    if (expiry != s->r.expiry) {
        stream_expire(s, expiry, now);
    }
    /* on a failure (mode, CAS) root_commit deletes the parts */
    st = root_commit(s->db, s->key, s->klen, &s->r, w, now, old, cas);
    ks_unlock(stripe);
    if (st == STORAGE_OK) {
        ks_written(s->db, s->key, s->klen, "set", existed, w);
    }
    stream_destroy(sp);
    return st;
}

storage_status_e
ks_stream_commit(struct ks_stream **sp, uint64_t now, uint64_t *cas)
{
    struct storage_write w = (*sp)->w;
    return ks_stream_commit_as(sp, &w, now, NULL, cas);
}
