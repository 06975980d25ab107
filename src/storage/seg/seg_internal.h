/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by the files of the segment store only: the heap, segment headers,
 * TTL buckets, the hash table and the item codec. Nothing here is API.
 *
 * Lock order (every file of this folder follows it):
 *   1. a TTL bucket's lock (chain links of its segments);
 *   2. the heap lock (free and limbo lists);
 *   hash bucket locks: a thread holds at most the two buckets of one key
 *   (lower index first), and under them takes only the pool lock (the
 *   overflow bucket free list), under which it may take the heap lock to
 *   lend a free segment to the table. Nobody holding the heap lock or a
 *   TTL bucket lock takes a hash or pool lock.
 * A segment's state moves by CAS (SEALED -> EVICTING claims it), so choosing
 * a victim takes no lock. */
#pragma once

#include "seg.h"
#include "storage/storage.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* clang-format off */
#define SEG_NIL          UINT32_MAX
#define SEG_ID_MAX       ((1u << 24) - 1)
#define TTL_BUCKETS      1025           /* 4 x 256 ranges + "never" */
#define TTL_NEVER_BUCKET 1024
#define ITEM_HDR_MAX     35             /* 2 + 3 + 4 + 10 + 10 + 5 + 1 */
#define HASH_SLOTS       8
#define POOL_RETIRED     1024           /* overflow buckets parked */
/* item byte 0, immutable: bits 0-3 the database, then */
#define ITEM_F_EXP       0x10           /* an expiry follows */
#define ITEM_F_CFLAGS    0x20           /* client flags follow */
#define ITEM_F_CAS       0x40           /* a CAS follows: the item's is not
                                           where it is (seg_cas_at) */
#define ITEM_F_EXT       0x80           /* the ext byte ends the header */
/* item byte 1: FETCHED and WIN (set by atomic OR), the access time in
 * bits 2-7 (changed by compare-and-swap) */
#define ITEM_M_FETCHED   0x01
#define ITEM_M_WIN       0x02
#define ITEM_M_MUTABLE   0x03
#define ITEM_ATIME_SHIFT 2
#define ITEM_ATIME_MAX   63
#define ITEM_ATIME_STEP  (7 * 60000)   /* ms, past 31 minutes */
/* the ext byte: bits 0-3 storage_type_e, then */
#define ITEM_T_TYPE      0x0f
#define ITEM_T_PARTS     0x10           /* a root: value starts with the
                                           8-byte id of its parts */
#define ITEM_T_PART      0x20           /* a part, in its db's namespace
                                           STORAGE_DB_PARTS */
#define ITEM_X_STALE     0x40           /* marked stale (meta invalidate) */
#define ITEM_X_ECAS      0x80           /* its writer chose the CAS (meta
                                           E): a flush dates the item by
                                           where it is */
/* item_meta.flags (decoded, not a byte of the item) */
#define ITEM_F_STALE     0x01
#define DB_MASK          0x0f           /* item_meta.db: the namespace,
                                           db | STORAGE_DB_PARTS for parts;
                                           arrays by db use db & DB_MASK */
/* clang-format on */

typedef enum {
    SEG_FREE = 0,
    SEG_ACTIVE,   /* in a chain, taking writes */
    SEG_SEALED,   /* in a chain, full */
    SEG_EVICTING, /* claimed by an evictor, merger or expirer */
    SEG_LIMBO,    /* retired, waiting for readers to pass an epoch */
    SEG_HASH,     /* lent to the hash table for overflow buckets */
} seg_state_e;

/* One segment header, in an array apart from segment data. Atomics noted;
 * prev/next under the TTL bucket lock (or the heap lock for free/limbo).
 *
 * Two cache lines, so that a get never reads a line a set writes:
 *
 *   line 0  exp_base create_ms atime_base seq retire_epoch prev next gen
 *           bucket state: read by every get (item_decode, access time),
 *           written when the segment opens, moves or changes state
 *   line 1  write_offset w_ref live_items live_bytes max_exp: written by
 *           every write into the segment (and live_* by every overwrite
 *           or delete of one of its items)
 *
 * The header array starts on a cache line (seg.c), and 128 bytes for a
 * segment of 64 KiB or more is under 0.2% of it. */
struct seg {
    uint64_t exp_base; /* expiry of items is stored relative to it */
    uint64_t create_ms;
    uint64_t atime_base; /* items' access times count from it: on a
                            7-minute grid, so a move keeps them (item.c) */
    uint64_t seq;        /* atomic; opening order: FIFO age without clock ties,
                            and the CAS of items written here (seg_cas_at): unique
                            to one opening (a merge's destination takes its
                            newest source's, but holds only copies) */
    uint64_t retire_epoch;
    uint32_t prev;
    uint32_t next;
    uint32_t gen;    /* atomic; bumped each time it is freed */
    uint16_t bucket; /* TTL bucket */
    uint8_t state;   /* atomic, seg_state_e */
    uint8_t unused;
    _Alignas(CACHE_LINE) uint32_t write_offset; /* atomic; may pass the
                                                 * segment size when full */
    uint32_t w_ref;     /* atomic; writers with a reservation open */
    int32_t live_items; /* atomic */
    int32_t live_bytes; /* atomic */
    uint64_t max_exp;   /* atomic max of item expiries; UINT64_MAX: never */
    uint32_t tail;      /* atomic; where the one reservation that did not
                           fit started, or the segment size: items end at
                           the lower of it and write_offset */
};

struct ttl_bucket {
    uint8_t lock;
    uint32_t first; /* oldest; written atomically: merge peeks unlocked */
    uint32_t last;
    uint32_t active; /* atomic: the open segment, or SEG_NIL */
    uint32_t n_seg;
    uint32_t merge_at; /* next merge starts here; SEG_NIL: at first */
};

/* Decoded item header (immutable part). */
struct item_meta {
    uint8_t flags;    /* ITEM_F_STALE */
    uint8_t db;       /* namespace: database, | STORAGE_DB_PARTS for a part */
    uint8_t type;     /* type and ITEM_T_PARTS, ITEM_T_PART; 0: a string */
    uint32_t hdr_len; /* bytes before the key */
    uint32_t klen;
    uint32_t vlen;
    uint64_t cas;
    uint64_t age; /* what a flush's threshold compares: the CAS, or where
                     the item is when its writer chose its CAS (ecas) */
    uint64_t expiry;
    uint32_t cflags;
    bool ecas; /* the CAS was chosen by its writer (meta E) */
};

/* A reservation, kept in storage_reservation.priv. */
struct res {
    uint8_t *item;
    uint8_t *value;
    uint32_t sid;
    uint32_t off;
    uint32_t size;
    uint8_t db;
    uint8_t open;
    uint64_t hash;
    uint64_t cas;
    uint64_t age; /* item_meta.age */
    uint64_t expiry;
};

/* The heap: one mapping of seg.memory bytes holding everything, and this
 * struct describing it. Fields are grouped by who writes them, each
 * written group on cache lines of its own, so the fields every operation
 * reads (the first group) stay shared in every core's cache:
 *
 *   read-mostly   layout, flush thresholds: set up once, or by a flush
 *   per write     count[]: every set that adds a key (one atomic add)
 *   segment lists heap lock: a segment taken, retired or freed; compaction
 *   overflow pool pool lock: a hash chain grows or shrinks */
struct heap {
    uint8_t *base;
    size_t memory;
    uint8_t *data; /* segment i at data + i * seg_size */
    size_t seg_size;
    uint32_t unit;       /* offset unit in hash slots: item alignment */
    uint32_t unit_shift; /* log2(unit) */
    uint32_t n_seg;
    struct seg *segs;
    struct ttl_bucket *ttl;
    uint64_t *buckets; /* n_bucket x 8 slots */
    uint64_t *pool;    /* n_overflow x 8 slots */
    uint8_t *locks;    /* one byte per head bucket */
    uint32_t n_bucket;
    uint32_t n_overflow;
    size_t metadata;
    uint32_t open_max;
    uint32_t reserve;
    uint32_t merge_keep; /* free segments writers leave for merging */
    uint32_t n_merge;
    int evict;                            /* evict_policy_e */
    uint64_t flush_pending;               /* atomic: min flush_at, or MAX */
    uint64_t flush_cas[STORAGE_DB_COUNT]; /* atomic: older items invisible */
    uint64_t flush_at[STORAGE_DB_COUNT];  /* pending delayed flush, or 0 */

    _Alignas(CACHE_LINE) int64_t count[STORAGE_DB_COUNT]; /* atomic */
    int64_t expires[STORAGE_DB_COUNT]; /* atomic: those with an expiry */

    _Alignas(CACHE_LINE) uint8_t lock; /* free and limbo lists */
    uint32_t free_head;
    uint32_t n_free;     /* atomic reads */
    uint32_t limbo_head; /* retired, oldest last */
    uint32_t n_limbo;
    uint32_t n_open;      /* atomic */
    uint64_t seg_seq;     /* atomic: segments opened */
    uint64_t turnover_ms; /* atomic: average segment age at eviction */
    uint32_t n_busy;      /* atomic: compactions and merges under way */
    uint64_t progress;    /* atomic: segments back from limbo, compactions,
                             merges */

    _Alignas(CACHE_LINE) uint8_t pool_lock;
    uint32_t pool_next;     /* static pool: never used from here (pool lock) */
    uint64_t pool_free;     /* free overflow buckets, a link (pool lock) */
    uint32_t pool_ret_head; /* ring of unlinked buckets awaiting readers */
    uint32_t pool_ret_n;
    uint64_t pool_ret_link[POOL_RETIRED];
    uint64_t pool_ret_stamp[POOL_RETIRED];
};

typedef enum {
    EVICT_NONE,
    EVICT_MERGE,
    EVICT_FIFO,
    EVICT_RANDOM,
    EVICT_CTE,
    EVICT_UTIL,
} evict_policy_e;

extern struct heap heap;
extern seg_metrics_st *seg_metrics;

static inline uint8_t *
seg_data(uint32_t sid)
{
    return heap.data + (size_t)sid * heap.seg_size;
}

/* A claimed segment (EVICTING) with no live item has no table entry
 * pointing into it: live_items counts every link and unlink under the
 * key's bucket lock, and nothing links into a claimed segment. Walking its
 * items would cost a lookup per dead item (milliseconds a segment), so
 * freeing, merging and evicting skip it. Assert builds walk anyway, and
 * the walks check that they found nothing. */
static inline bool
seg_dead(uint32_t sid)
{
    return __atomic_load_n(&heap.segs[sid].live_items, __ATOMIC_RELAXED) == 0;
}
static inline bool
seg_skip_dead(uint32_t sid)
{
#if defined(SEGCACHED_ASSERT) && SEGCACHED_ASSERT
    (void)sid;
    return false;
#else
    return seg_dead(sid);
#endif
}

/* --- spin-then-sleep byte locks (seg.c) --- */
void seg_lock(uint8_t *l);
void seg_unlock(uint8_t *l);

/* --- epochs (seg.c) --- */
void epoch_enter(void);
void epoch_offline(void);
uint64_t epoch_retire_stamp(void);
bool epoch_passed(uint64_t stamp);
bool epoch_thread_registered(void);
uint64_t seg_rand(void);

/* --- datapool (datapool.c): the heap in a file, kept across restarts --- */
/* Maps seg.memory bytes of the file at path (created or resized as
 * needed); *warm when it holds a clean image of this layout. NULL on
 * failure (logged). */
uint8_t *datapool_map(const char *path, bool *warm);
void datapool_load(void);         /* a warm start: heap state from the file */
void datapool_save(uint64_t now); /* a clean shutdown: all threads stopped */
void datapool_unmap(void);
bool datapool_active(void);

/* --- item codec (item.c) --- */
/* The CAS of an item written at (s, off) with none of its own: the
 * segment's sequence, then the offset in units (the bits a hash entry
 * keeps). Above 2^20, never 0. */
static inline uint64_t
seg_cas_at(const struct seg *s, uint32_t off)
{
    return (__atomic_load_n(&s->seq, __ATOMIC_RELAXED) << 20) |
           (off >> heap.unit_shift);
}
/* cas_at: seg_cas_at() where the item is (for its header's length, any
 * offset of its segment). m->cas 0: the item takes cas_at as its CAS and
 * its header holds none; else its header holds m->cas. */
uint32_t item_hdr_len(
        const struct item_meta *m, uint64_t cas_at, uint64_t exp_base);
uint32_t item_encode(uint8_t *dst, const struct item_meta *m, uint64_t cas_at,
        uint64_t exp_base, uint8_t mflags, uint8_t atime);
void item_decode(const uint8_t *p, uint64_t cas_at, uint64_t exp_base,
        struct item_meta *m);
static inline uint32_t
item_size(const struct item_meta *m)
{
    return m->hdr_len + m->klen + m->vlen;
}
static inline uint32_t
item_stride(uint32_t size)
{
    return (uint32_t)size_align(size, heap.unit);
}
uint8_t item_mflags(const uint8_t *item);
uint8_t item_atime(const uint8_t *item);
void item_touch_access(uint8_t *item, const struct seg *s, uint64_t now);
uint64_t item_atime_ms(uint8_t atime, const struct seg *s);
uint8_t item_atime_code(uint64_t ms, const struct seg *s);

/* --- hash table (hash.c) --- */
/* clang-format off */
#define TAG_SHIFT  52
#define FREQ_SHIFT 44
#define FREQ_MASK  (0xffULL << FREQ_SHIFT)
#define SEG_SHIFT  20
#define OFF_MASK   0xfffffULL
/* clang-format on */
/* Equal entries, frequency bits aside (readers bump those with a CAS). */
static inline bool
hash_same_entry(uint64_t a, uint64_t b)
{
    return ((a ^ b) & ~FREQ_MASK) == 0;
}
struct hash_ref {
    uint64_t *slot; /* where the entry is */
    uint64_t val;   /* its value when read */
    uint32_t sid;
    uint32_t off;
    uint8_t *item;
    struct item_meta m;
};
uint64_t hash_of(uint8_t db, const void *key, size_t klen);
void hash_buckets_of(uint64_t h, uint32_t *b1, uint32_t *b2);
size_t hash_layout(uint32_t n_bucket, uint32_t n_overflow);
void hash_init(void);
/* At shutdown, with no reader left: parked overflow buckets to the free
 * list without waiting for epochs. */
void hash_pool_release_retired(void);
/* Lock-free lookup (caller in an epoch). true fills ref. */
bool hash_find(uint64_t h, uint8_t db, const void *key, size_t klen,
        struct hash_ref *ref);
void hash_lock_key(uint64_t h);
void hash_unlock_key(uint64_t h);
bool hash_find_locked(uint64_t h, uint8_t db, const void *key, size_t klen,
        struct hash_ref *ref);
/* Under the key's locks: put val in a free slot of the key's chains. false
 * when no slot could be made (pool empty and nothing to drop). */
bool hash_insert_locked(uint64_t h, uint8_t db, uint64_t val);
/* The one replace primitive: under the key's locks, if *ref->slot still
 * holds ref->val, store nval (0 removes) and mark the old copy dead. */
bool hash_swap_locked(uint64_t h, const struct hash_ref *ref, uint64_t nval);
/* Bytes copied under the key's locks, just before a swap (a root's value,
 * which storage_patch changes in place under the same locks). */
struct hash_copy {
    void *dst;
    const void *src;
    size_t n;
};
/* Locks, finds the entry that points at (sid, off) and swaps it for nval;
 * false if no entry points there. copy (may be NULL) is done first, under
 * the locks, when the entry is found. Used by expiry, eviction and merge. */
bool hash_swap_location(uint64_t h, uint32_t sid, uint32_t off, uint64_t nval,
        uint8_t *freq, const struct hash_copy *copy);
uint64_t hash_entry(uint64_t h, uint32_t sid, uint32_t off, uint8_t freq);
uint8_t hash_entry_freq(uint64_t val);
void hash_bump_freq(uint64_t *slot, uint64_t val);
/* SCAN support: visits the entries of head bucket b's chain. */
typedef void (*hash_visit_fn)(uint64_t val, void *arg);
void hash_visit_bucket(uint32_t b, hash_visit_fn fn, void *arg);
uint32_t hash_chain_len(uint32_t b);
typedef bool (*hash_dead_fn)(const struct item_meta *m, void *arg);
uint32_t hash_purge_bucket(uint32_t b, hash_dead_fn dead, void *arg);
uint32_t hash_val_sid(uint64_t v);
uint32_t hash_val_off(uint64_t v);
/* Lock-free: the entry pointing at (sid, off), if any. */
bool hash_peek_location(uint64_t h, uint32_t sid, uint32_t off, uint64_t *val);

/* --- the table's occupancy summaries (hash_summary.c) --- */
/* Bytes they take for n_bucket head buckets (whole cache lines). */
size_t hash_summary_size(uint32_t n_bucket);
/* Places them at at (zeroed memory, or a warm datapool's); at setup. */
void hash_summary_map(uint8_t *at, uint32_t n_bucket);
/* Under chain b's lock: an entry of database db joins the chain (call
 * before the entry is stored) or left it (after). db >= STORAGE_DB_COUNT
 * (a collection part) counts nowhere. */
void hash_summary_add(uint8_t db, uint32_t b);
void hash_summary_sub(uint8_t db, uint32_t b);
/* Lock-free: the first head bucket >= b whose chain may hold an entry of
 * db, or n_bucket; reads at most *budget counters, counting them off. When
 * the budget runs out it returns where to go on from (not yet known to
 * hold anything). */
uint32_t hash_summary_next(uint8_t db, uint32_t b, uint32_t *budget);
/* For tests and checks: db's entries in the table; db's entries in the
 * level-1 range (16 head buckets) holding head bucket b. */
uint64_t hash_summary_entries(uint8_t db);
uint64_t hash_summary_range(uint8_t db, uint32_t b);

/* --- accounting when an entry dies (ops.c) --- */
void item_unlinked(uint32_t sid, uint32_t size, const struct item_meta *m);
/* Tells the storage_on_drop hook of an item just unlinked by the store
 * itself (no store lock held): expired, or evicted when evict_now is not 0
 * and the item was live then; nothing for parts and flushed items. */
void item_dropped(
        const struct item_meta *m, const uint8_t *key, uint64_t evict_now);
/* What item_dropped would tell the hook, without telling it: false when it
 * would tell nothing. The item must stay readable meanwhile (linked, its
 * key's locks held). */
bool item_drop_info(const struct item_meta *m, const uint8_t *key,
        uint64_t evict_now, struct storage_drop_info *info,
        storage_drop_e *why);
void item_dropped_key(uint8_t db, const uint8_t *key, size_t klen,
        storage_drop_e why, const struct storage_drop_info *info);
void item_linked(uint32_t sid, uint32_t size, const struct item_meta *m);
bool item_visible(const struct item_meta *m, uint64_t now);

/* --- the storage API's shared steps (ops.c) --- */
#define RETRY ((storage_status_e)-1) /* internal: the item changed, again */
/* What a commit requires of the current entry. */
struct cond {
    storage_mode_e mode;
    uint64_t cas;        /* STORAGE_CAS */
    bool expect;         /* read-modify-write: the entry must still be ... */
    uint64_t expect_val; /* ... this one (0: no live item) */
    bool same_value;     /* the new value is the expected item's: a root's
                            is copied here, under the key's locks, since
                            storage_patch changes it in place under them */
};
storage_status_e ops_begin(uint8_t db, size_t klen, uint64_t now);
void ops_flush_check(uint64_t now);
/* Fills it (may be NULL) from ref as before this access; records the access
 * when record is true. */
void ops_view_fill(struct storage_item *it, const struct hash_ref *ref,
        bool record, uint64_t now);
void ops_view_none(struct storage_item *it);
/* A live item of (db, key): true fills ref; drops what it finds dead. */
bool ops_lookup(uint8_t db, const void *key, size_t klen, uint64_t h,
        uint64_t now, struct hash_ref *ref);
/* Reserves an item with key copied in; the caller fills r->value. */
storage_status_e ops_reserve(struct res *r, uint8_t db, const void *key,
        size_t klen, size_t vlen, const struct storage_write *w,
        uint64_t expiry, uint64_t now);
/* The one replace primitive: links r if c allows, closes r. */
storage_status_e ops_commit(struct res *r, const struct cond *c, uint64_t now,
        struct storage_item *old);
/* Deletes only the copy ref points at; RETRY if it changed. */
storage_status_e ops_remove_expected(uint64_t h, const struct hash_ref *ref);
/* parts.c: a part's root, as eviction sees it. root_freq: true (and the
 * root's read frequency) if the part's root is linked, visible and has the
 * part's id; false: the part is dead. evict_root: unlinks that root (the
 * key is evicted whole; counted). Lock-free lookups, inside an epoch,
 * holding no hash lock. */
bool parts_root_freq(const struct item_meta *m, const uint8_t *key,
        uint64_t now, uint8_t *freq);
void parts_evict_root(
        const struct item_meta *m, const uint8_t *key, uint64_t now);
/* Whether a part's id (after its root key) is pinned: a value whose root
 * is not written yet (storage_parts_pin). */
bool parts_pinned(const struct item_meta *m, const uint8_t *key);

/* --- segments (segment.c) --- */
uint32_t ttl_bucket_of(uint64_t expiry, uint64_t now);
storage_status_e res_open(
        struct res *r, const struct item_meta *m, uint8_t mflags, uint64_t now);
void res_close(struct res *r);
/* A free segment, evicting if needed; SEG_NIL when none. */
uint32_t seg_take_free(uint64_t now, bool may_wait);
void seg_bg_kick(void);
void seg_put_free_locked(uint32_t sid);
/* A writer that opened a segment: one step of making room (never an
 * eviction) when free segments run low; no lock held, no view open. */
void seg_room_ahead(uint64_t now);
/* Any free segment, the one kept for merges and compaction included: for
 * their destinations. SEG_NIL if none. */
uint32_t seg_take_spare(void);
/* A free segment for the hash table's overflow buckets, without evicting
 * (called under hash locks); SEG_NIL if none. */
uint32_t seg_take_for_hash(void);
void seg_retire(uint32_t sid);
void seg_reclaim(void);
void seg_chain_remove(uint32_t sid);
bool seg_claim(uint32_t sid);
void seg_unclaim(uint32_t sid);
bool seg_items_decode(uint32_t sid, uint32_t off, struct item_meta *m);
uint32_t seg_walk_end(uint32_t sid);
/* unlinks every entry still pointing into a claimed segment; returns the
 * number unlinked */
/* evict_now not 0: the segment is evicted at that time, and each live part
 * unlinked takes its root (parts.c); 0: expired, nothing more to do. */
uint32_t seg_unlink_all(uint32_t sid, uint32_t *unfetched, uint64_t evict_now);
bool seg_expire_one(uint64_t now);
void seg_gauges(void);

/* --- eviction (evict.c) --- */
evict_policy_e evict_parse(const char *name);
const char *evict_name(evict_policy_e p);
/* Frees at least one segment by the policy; false when nothing could be.
 * patient: under merge, a merge that cannot start while another merge or
 * compaction runs or segments are in limbo answers false (the caller waits
 * for them) instead of evicting the oldest segment whole. */
bool evict_run(uint64_t now, bool patient);
typedef enum {
    COMPACT_DONE,    /* segments freed (to limbo) */
    COMPACT_NONE,    /* fewer than two sealed segments to look at */
    COMPACT_NO_PAIR, /* no two fit in one: live bytes above the threshold */
    COMPACT_BUSY,    /* the chosen segments were claimed by others */
    COMPACT_NO_DST,  /* no free segment to copy into */
} compact_e;
/* Copies the live items of the emptiest sealed segments into one free
 * segment and retires them (evict.c; the comment there says when it can). */
compact_e compact_run(uint64_t now);

/* The layouts the store's scaling depends on (docs/storage.md, "What a
 * get writes"); test_seg_layout checks them at run time too. */
_Static_assert(sizeof(struct seg) == 2 * CACHE_LINE,
        "segment header: one read-mostly line, one written line");
_Static_assert(offsetof(struct seg, write_offset) == CACHE_LINE,
        "what writes change starts the second line of a segment header");
_Static_assert(offsetof(struct seg, unused) < CACHE_LINE,
        "what gets read fits the first line of a segment header");
_Static_assert(_Alignof(struct heap) == CACHE_LINE &&
                       sizeof(struct heap) % CACHE_LINE == 0,
        "the heap descriptor shares no line with another global");
_Static_assert(
        offsetof(struct heap, flush_at) + sizeof(uint64_t) * STORAGE_DB_COUNT <=
                offsetof(struct heap, count),
        "the read-mostly heap fields precede the written ones");
_Static_assert(offsetof(struct heap, count) % CACHE_LINE == 0 &&
                       offsetof(struct heap, lock) % CACHE_LINE == 0 &&
                       offsetof(struct heap, pool_lock) % CACHE_LINE == 0,
        "each written group of the heap starts a cache line");
