/* SPDX-License-Identifier: Apache-2.0 */
/* Typed items and parts (storage.h, "Every item has a type"): the type
 * round-trips and costs one header byte; string read-modify-writes refuse
 * other types; rename and copy keep the type and refuse roots of parts;
 * parts live in their own namespace, invisible to whole-database
 * operations and flushed with their database; eviction takes a key whole:
 * a root that is still there has every one of its parts; a root's bytes
 * patched in place (storage_patch) survive its moves. */
#include "unit.h"

#include "base/time.h"
#include "storage/seg/seg.h"
#include "storage/seg/seg_internal.h"
#include "storage/storage.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define NOW 1700000000000ULL

static seg_metrics_st metrics;

static void
setup_store(const char *evict, size_t memory, size_t segment)
{
    seg_options_st o = {SEG_OPTION(INIT_OPTION)};
    o.seg_memory.val.OPTION_SIZE = memory;
    o.seg_segment_size.val.OPTION_SIZE = segment;
    o.seg_item_size.val.OPTION_SIZE = 200;
    o.seg_evict.val.OPTION_STR = evict;
    o.seg_background.val.OPTION_BOOL = false;
    metrics = (seg_metrics_st){SEG_METRIC(INIT_METRIC)};
    assert_int_equal(seg_setup(&o, &metrics), STATUS_OK);
}

static int
setup_small(void **state)
{
    (void)state;
    setup_store("merge", 4 * MiB, 64 * KiB);
    return 0;
}

static int
teardown_store(void **state)
{
    (void)state;
    seg_teardown();
    return 0;
}

static void
test_type_round_trips(void **state)
{
    (void)state;
    struct storage_write w = {
            .type = STORAGE_TYPE_HASH, .cflags = 7, .stale = true};
    struct storage_item it;
    assert_int_equal(
            storage_set(0, "h", 1, "abcd", 4, &w, NOW, NULL, NULL), STORAGE_OK);
    assert_int_equal(storage_get(0, "h", 1, NOW, &it), STORAGE_OK);
    assert_int_equal(it.type, STORAGE_TYPE_HASH);
    assert_false(it.parts);
    assert_int_equal(it.cflags, 0); /* typed items carry no client flags */
    assert_false(it.stale);
    assert_memory_equal(it.value, "abcd", 4);
    size_t typed = storage_item_footprint(&it);

    struct storage_write s = {0};
    assert_int_equal(
            storage_set(0, "s", 1, "abcd", 4, &s, NOW, NULL, NULL), STORAGE_OK);
    assert_int_equal(storage_get(0, "s", 1, NOW, &it), STORAGE_OK);
    assert_int_equal(it.type, STORAGE_TYPE_STRING);
    assert_int_equal(storage_item_footprint(&it) + 1, typed);

    /* every type and the parts flag survive a touch and a set's old view */
    for (uint8_t t = 0; t <= STORAGE_TYPE_LIST; t++) {
        struct storage_write tw = {
                .type = t, .parts = t == 2, .expiry = NOW + 60000};
        struct storage_item old;
        assert_int_equal(
                storage_set(1, "t", 1, "12345678", 8, &tw, NOW, &old, NULL),
                STORAGE_OK);
        assert_int_equal(storage_touch(1, "t", 1, NOW + 120000,
                                 STORAGE_TTL_ALWAYS, NOW, &it),
                STORAGE_OK);
        assert_int_equal(storage_peek(1, "t", 1, NOW, &it), STORAGE_OK);
        assert_int_equal(it.type, t);
        assert_int_equal(it.parts, t == 2);
        assert_int_equal(it.expiry, NOW + 120000);
    }
}

/* Writes "11" and counts its calls. */
static storage_status_e
eleven(const uint8_t *old, size_t olen, bool found, uint8_t *out,
        size_t *outlen, void *arg)
{
    (void)old;
    (void)olen;
    (void)found;
    (*(int *)arg)++;
    memcpy(out, "11", 2);
    *outlen = 2;
    return STORAGE_OK;
}

static void
test_string_rmw_refuses_other_types(void **state)
{
    (void)state;
    struct storage_write w = {.type = STORAGE_TYPE_SET};
    assert_int_equal(
            storage_set(0, "k", 1, "10", 2, &w, NOW, NULL, NULL), STORAGE_OK);
    int calls = 0;
    size_t len;
    assert_int_equal(storage_update(0, "k", 1, eleven, &calls,
                             STORAGE_MISSING_FAIL, 0, NOW, NULL),
            STORAGE_EWRONGTYPE);
    assert_int_equal(storage_update(0, "k", 1, eleven, &calls,
                             STORAGE_MISSING_CREATE, 0, NOW, NULL),
            STORAGE_EWRONGTYPE);
    assert_int_equal(calls, 0); /* refused before fn runs */
    assert_int_equal(storage_append(0, "k", 1, "x", 1, STORAGE_APPEND,
                             STORAGE_MISSING_FAIL, 0, NOW, &len, NULL),
            STORAGE_EWRONGTYPE);
    assert_int_equal(storage_setrange(0, "k", 1, 0, "x", 1, NOW, &len),
            STORAGE_EWRONGTYPE);
    assert_int_equal(storage_setrange(0, "k", 1, 0, "", 0, NOW, &len),
            STORAGE_EWRONGTYPE);
    assert_int_equal(storage_invalidate(0, "k", 1, STORAGE_EXPIRY_KEEP, NOW),
            STORAGE_EWRONGTYPE);
    assert_string_equal(
            storage_status_str(STORAGE_EWRONGTYPE), "STORAGE_EWRONGTYPE");
    /* unchanged */
    struct storage_item it;
    assert_int_equal(storage_get(0, "k", 1, NOW, &it), STORAGE_OK);
    assert_int_equal(it.vlen, 2);
    assert_int_equal(it.type, STORAGE_TYPE_SET);
    /* a set replaces whatever is there, type and all */
    struct storage_write s = {0};
    assert_int_equal(
            storage_set(0, "k", 1, "10", 2, &s, NOW, NULL, NULL), STORAGE_OK);
    assert_int_equal(storage_update(0, "k", 1, eleven, &calls,
                             STORAGE_MISSING_FAIL, 0, NOW, NULL),
            STORAGE_OK);
    assert_int_equal(calls, 1);
    assert_int_equal(storage_get(0, "k", 1, NOW, &it), STORAGE_OK);
    assert_memory_equal(it.value, "11", 2);
}

static void
test_rename_copy_keep_type_refuse_roots(void **state)
{
    (void)state;
    struct storage_write w = {.type = STORAGE_TYPE_HASH};
    struct storage_item it;
    assert_int_equal(
            storage_set(0, "a", 1, "v", 1, &w, NOW, NULL, NULL), STORAGE_OK);
    assert_int_equal(storage_rename(0, "a", 1, "b", 1, STORAGE_OVERWRITE, NOW),
            STORAGE_OK);
    assert_int_equal(storage_get(0, "b", 1, NOW, &it), STORAGE_OK);
    assert_int_equal(it.type, STORAGE_TYPE_HASH);
    assert_int_equal(storage_copy(0, "b", 1, 3, "c", 1, STORAGE_OVERWRITE, NOW),
            STORAGE_OK);
    assert_int_equal(storage_get(3, "c", 1, NOW, &it), STORAGE_OK);
    assert_int_equal(it.type, STORAGE_TYPE_HASH);

    struct storage_write r = {.type = STORAGE_TYPE_SET, .parts = true};
    assert_int_equal(storage_set(0, "r", 1, "ID345678", 8, &r, NOW, NULL, NULL),
            STORAGE_OK);
    assert_int_equal(storage_rename(0, "r", 1, "q", 1, STORAGE_OVERWRITE, NOW),
            STORAGE_EWRONGTYPE);
    assert_int_equal(storage_copy(0, "r", 1, 0, "q", 1, STORAGE_OVERWRITE, NOW),
            STORAGE_EWRONGTYPE);
    assert_int_equal(storage_peek(0, "r", 1, NOW, &it), STORAGE_OK);
    assert_int_equal(storage_peek(0, "q", 1, NOW, &it), STORAGE_NOT_FOUND);
}

/* root key + id + big-endian index */
static size_t
part_key(uint8_t *dst, const char *root, const uint8_t id[8], uint32_t idx)
{
    size_t n = strlen(root);
    memcpy(dst, root, n);
    memcpy(dst + n, id, 8);
    dst[n + 8] = (uint8_t)(idx >> 24);
    dst[n + 9] = (uint8_t)(idx >> 16);
    dst[n + 10] = (uint8_t)(idx >> 8);
    dst[n + 11] = (uint8_t)idx;
    return n + STORAGE_PART_SUFFIX;
}

static void
count_cb(const struct storage_item *it, void *arg)
{
    assert_int_equal(it->db, 0);
    (*(int *)arg)++;
}

static void
test_parts_namespace(void **state)
{
    (void)state;
    const uint8_t id[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    struct storage_write r = {.type = STORAGE_TYPE_HASH, .parts = true};
    assert_int_equal(
            storage_set(0, "root", 4, id, 8, &r, NOW, NULL, NULL), STORAGE_OK);
    uint8_t pk[64];
    struct storage_write pw = {0};
    for (uint32_t i = 0; i < 5; i++) {
        size_t n = part_key(pk, "root", id, i);
        assert_int_equal(storage_set(0 | STORAGE_DB_PARTS, pk, n, "part", 4,
                                 &pw, NOW, NULL, NULL),
                STORAGE_OK);
        /* the same bytes as a key of db 0 are another key */
        assert_int_equal(storage_get(0, pk, n, NOW, NULL), STORAGE_NOT_FOUND);
    }
    struct storage_item it;
    size_t n = part_key(pk, "root", id, 3);
    assert_int_equal(
            storage_get(0 | STORAGE_DB_PARTS, pk, n, NOW, &it), STORAGE_OK);
    assert_int_equal(it.db, STORAGE_DB_PARTS);
    assert_memory_equal(it.value, "part", 4);
    /* a part written in db 0 is not one of db 1 */
    assert_int_equal(storage_get(1 | STORAGE_DB_PARTS, pk, n, NOW, NULL),
            STORAGE_NOT_FOUND);

    assert_int_equal(storage_count(0), 1);
    int seen = 0;
    uint64_t cur = 0;
    do {
        cur = storage_scan(0, cur, 100, NOW, count_cb, &seen);
    } while (cur != 0);
    assert_int_equal(seen, 1);
    for (int i = 0; i < 20; i++) {
        assert_int_equal(storage_random_key(0, NOW, &it), STORAGE_OK);
        assert_int_equal(it.klen, 4);
    }
    assert_int_equal(storage_count(STORAGE_DB_PARTS), 0);

    /* flushing db 0 takes its parts */
    assert_int_equal(storage_flush(0, NOW, NOW), STORAGE_OK);
    assert_int_equal(storage_get(0 | STORAGE_DB_PARTS, pk, n, NOW, &it),
            STORAGE_NOT_FOUND);
    assert_int_equal(storage_get(0, "root", 4, NOW, &it), STORAGE_NOT_FOUND);
}

/* Collections of PARTS parts of PLEN bytes, interleaved with string
 * writes far past the heap: afterwards every collection is whole or gone. */
#define NCOLL 60
#define PARTS 12
#define PLEN  900

static void
coll_id(uint8_t id[8], int c)
{
    for (int i = 0; i < 8; i++) {
        id[i] = (uint8_t)(c * 7 + i + 1);
    }
}

static void
write_parts_only(int c)
{
    char root[16];
    uint8_t id[8], pk[64], v[PLEN];
    snprintf(root, sizeof(root), "coll-%03d", c);
    coll_id(id, c);
    struct storage_write pw = {0};
    for (uint32_t i = 0; i < PARTS; i++) {
        memset(v, (int)(c + i), PLEN);
        size_t n = part_key(pk, root, id, i);
        assert_int_equal(storage_set(STORAGE_DB_PARTS, pk, n, v, PLEN, &pw, NOW,
                                 NULL, NULL),
                STORAGE_OK);
    }
}

static void
write_root(int c)
{
    char root[16];
    uint8_t id[8];
    snprintf(root, sizeof(root), "coll-%03d", c);
    coll_id(id, c);
    struct storage_write r = {.type = STORAGE_TYPE_HASH, .parts = true};
    assert_int_equal(
            storage_set(0, root, strlen(root), id, 8, &r, NOW, NULL, NULL),
            STORAGE_OK);
}

/* parts first, then the root, as the keyspace writes a collection */
static void
write_collection(int c)
{
    write_parts_only(c);
    write_root(c);
}

/* 1 whole, 0 gone; fails on a root without all its parts */
static int
check_collection(int c, bool read)
{
    char root[16];
    uint8_t id[8], pk[64];
    snprintf(root, sizeof(root), "coll-%03d", c);
    coll_id(id, c);
    struct storage_item it;
    storage_status_e st = read ? storage_get(0, root, strlen(root), NOW, &it)
                               : storage_peek(0, root, strlen(root), NOW, &it);
    if (st == STORAGE_NOT_FOUND) {
        return 0;
    }
    assert_int_equal(st, STORAGE_OK);
    assert_true(it.parts);
    for (uint32_t i = 0; i < PARTS; i++) {
        size_t n = part_key(pk, root, id, i);
        st = read ? storage_get(STORAGE_DB_PARTS, pk, n, NOW, &it)
                  : storage_peek(STORAGE_DB_PARTS, pk, n, NOW, &it);
        assert_int_equal(st, STORAGE_OK);
        assert_int_equal(it.vlen, PLEN);
        assert_int_equal(it.value[PLEN - 1], (uint8_t)(c + i));
    }
    return 1;
}

static void
churn(int nstrings)
{
    uint8_t v[600];
    memset(v, 'x', sizeof(v));
    struct storage_write w = {0};
    char key[32];
    for (int i = 0; i < nstrings; i++) {
        int n = snprintf(key, sizeof(key), "filler-%07d", i);
        storage_status_e st = storage_set(
                0, key, (size_t)n, v, sizeof(v), &w, NOW, NULL, NULL);
        assert_true(st == STORAGE_OK);
        if (i % 200 == 0) {
            /* keep some collections hot, as a reader would */
            for (int c = 0; c < NCOLL; c += 4) {
                check_collection(c, true);
            }
        }
    }
}

static void
evict_whole(const char *policy)
{
    setup_store(policy, 4 * MiB, 64 * KiB);
    for (int c = 0; c < NCOLL; c++) {
        write_collection(c);
    }
    for (int c = 0; c < NCOLL; c++) {
        assert_int_equal(check_collection(c, false), 1);
    }
    churn(30000); /* ~18 MB through a 4 MiB heap */
    int whole = 0;
    for (int c = 0; c < NCOLL; c++) {
        whole += check_collection(c, false);
    }
    /* eviction happened, and took keys whole */
    assert_true(whole < NCOLL);
    assert_true(metrics.seg_evict_item.counter > 0);
    seg_teardown();
}

static void
test_eviction_takes_keys_whole_merge(void **state)
{
    (void)state;
    evict_whole("merge");
    /* merge drops cold parts by their root's frequency: with the roots
     * gone, their parts die, or the root went with a part */
    assert_true(metrics.seg_part_dead.counter +
                        metrics.seg_part_evict_root.counter >
                0);
}

static void
test_eviction_takes_keys_whole_fifo(void **state)
{
    (void)state;
    evict_whole("fifo");
    assert_true(metrics.seg_part_evict_root.counter > 0);
}

static void
test_dead_parts_are_dropped(void **state)
{
    (void)state;
    setup_store("merge", 4 * MiB, 64 * KiB);
    for (int c = 0; c < NCOLL; c++) {
        write_collection(c);
    }
    /* roots deleted without their parts (a crash, a careless caller): the
     * parts are dead and merge drops them without counting evictions */
    for (int c = 0; c < NCOLL; c++) {
        char root[16];
        snprintf(root, sizeof(root), "coll-%03d", c);
        assert_int_equal(
                storage_delete(0, root, strlen(root), 0, NOW), STORAGE_OK);
    }
    churn(30000);
    assert_true(metrics.seg_part_dead.counter > 0);
    assert_int_equal(metrics.seg_part_evict_root.counter, 0);
    seg_teardown();
}

/* Parts written before their root (a value being received): pinned, merge
 * keeps them however many segments go by before the root is in; unpinned,
 * they are dead and dropped. */
static void
test_pinned_parts_wait_for_their_root(void **state)
{
    (void)state;
    setup_store("merge", 4 * MiB, 64 * KiB);
    uint32_t pin[2];
    for (int c = 0; c < 2; c++) {
        uint8_t id[8];
        coll_id(id, c);
        pin[c] = storage_parts_pin(id);
        assert_int_not_equal(pin[c], STORAGE_PIN_NONE);
        write_parts_only(c);
    }
    write_parts_only(2); /* not pinned */
    churn(30000);        /* ~18 MB through a 4 MiB heap */
    assert_true(metrics.seg_merge.counter > 0);
    assert_true(metrics.seg_part_dead.counter >= PARTS);
    for (int c = 0; c < 3; c++) {
        write_root(c);
    }
    /* every pinned part is still there; the unpinned ones are gone */
    assert_int_equal(check_collection(0, false), 1);
    assert_int_equal(check_collection(1, false), 1);
    char root[16];
    uint8_t id[8], pk[64];
    struct storage_item it;
    snprintf(root, sizeof(root), "coll-%03d", 2);
    coll_id(id, 2);
    size_t n = part_key(pk, root, id, 0);
    assert_int_equal(
            storage_peek(STORAGE_DB_PARTS, pk, n, NOW, &it), STORAGE_NOT_FOUND);
    storage_parts_unpin(pin[0]);
    storage_parts_unpin(pin[1]);
    storage_parts_unpin(STORAGE_PIN_NONE); /* does nothing */
    seg_teardown();
}

/* Large values written and never read (roots and parts only): a merge
 * would keep nothing, so it evicts its oldest segment alone instead of
 * seg.merge_segments at once, and the heap stays full instead of four
 * segments standing free after each eviction. */
static void
test_merge_of_cold_parts_evicts_one_segment(void **state)
{
    (void)state;
    setup_store("merge", 4 * MiB, 64 * KiB);
    int n = 600; /* 600 x 10.8 KB: 1.6 x the heap */
    int64_t free_max = 0;
    for (int c = 0; c < n; c++) {
        write_collection(c);
        if (metrics.seg_merge.counter > 0) {
            seg_gauges();
            int64_t f = metrics.seg_seg_free.gauge;
            free_max = f > free_max ? f : free_max;
        }
    }
    assert_true(metrics.seg_merge.counter > 0);
    assert_int_equal(metrics.seg_merge_keep.counter, 0);
    assert_int_equal(
            metrics.seg_merge_narrow.counter, metrics.seg_merge.counter);
    /* the newest are there, whole (check_collection fails on a half key) */
    assert_int_equal(check_collection(n - 1, false), 1);
    /* once evicting, never more than the reserve and the one segment just
     * freed stand free (merging four at once freed four at a time) */
    assert_true(free_max <= 2);
    seg_teardown();
}

static void
test_pins_are_bounded(void **state)
{
    (void)state;
    uint32_t pin[STORAGE_PINS];
    uint8_t id[8] = {0};
    for (uint32_t i = 0; i < STORAGE_PINS; i++) {
        id[7] = (uint8_t)i;
        id[6] = (uint8_t)(i >> 8);
        pin[i] = storage_parts_pin(id);
        assert_true(pin[i] < STORAGE_PINS);
    }
    assert_int_equal(storage_parts_pin(id), STORAGE_PIN_NONE);
    storage_parts_unpin(pin[7]);
    uint32_t again = storage_parts_pin(id);
    assert_int_equal(again, pin[7]);
    storage_parts_repin(again, (uint8_t[8]){9, 9, 9, 9, 9, 9, 9, 9});
    for (uint32_t i = 0; i < STORAGE_PINS; i++) {
        storage_parts_unpin(pin[i]);
    }
}

/* storage_patch: a root's bytes changed in place, its CAS kept; only the
 * version asked for, only a root, only inside its value; a touch of the
 * root (a new copy with a new expiry) carries the patched bytes. */
static void
test_patch_in_place(void **state)
{
    (void)state;
    uint8_t v[24] = {1, 2, 3, 4, 5, 6, 7, 8};
    struct storage_write r = {.type = STORAGE_TYPE_SET, .parts = true};
    uint64_t cas = 0;
    assert_int_equal(
            storage_set(0, "root", 4, v, sizeof(v), &r, NOW, NULL, &cas),
            STORAGE_OK);
    assert_int_equal(storage_patch(0, "root", 4, cas, 8, "countXYZ", 8, NOW),
            STORAGE_OK);
    struct storage_item it;
    assert_int_equal(storage_peek(0, "root", 4, NOW, &it), STORAGE_OK);
    assert_int_equal(it.cas, cas);
    assert_int_equal(it.vlen, sizeof(v));
    assert_memory_equal(it.value, v, 8);
    assert_memory_equal(it.value + 8, "countXYZ", 8);
    assert_int_equal(metric_counter(&metrics.seg_patch), 1);
    /* the last byte is inside; one past it is not */
    assert_int_equal(
            storage_patch(0, "root", 4, cas, 23, "z", 1, NOW), STORAGE_OK);
    assert_int_equal(
            storage_patch(0, "root", 4, cas, 23, "zz", 2, NOW), STORAGE_EINVAL);
    assert_int_equal(
            storage_patch(0, "root", 4, cas, 25, "", 0, NOW), STORAGE_EINVAL);
    assert_int_equal(storage_patch(0, "root", 4, cas + 1, 8, "x", 1, NOW),
            STORAGE_EXISTS);
    assert_int_equal(storage_patch(0, "none", 4, cas, 8, "x", 1, NOW),
            STORAGE_NOT_FOUND);
    struct storage_write sw = {0}, hw = {.type = STORAGE_TYPE_HASH};
    uint64_t scas = 0, hcas = 0;
    assert_int_equal(
            storage_set(0, "str", 3, "0123456789", 10, &sw, NOW, NULL, &scas),
            STORAGE_OK);
    assert_int_equal(
            storage_set(0, "hash", 4, "0123456789", 10, &hw, NOW, NULL, &hcas),
            STORAGE_OK);
    assert_int_equal(
            storage_patch(0, "str", 3, scas, 0, "x", 1, NOW), STORAGE_EINVAL);
    assert_int_equal(
            storage_patch(0, "hash", 4, hcas, 0, "x", 1, NOW), STORAGE_EINVAL);
    assert_int_equal(storage_get(0, "str", 3, NOW, &it), STORAGE_OK);
    assert_memory_equal(it.value, "0123456789", 10);
    assert_int_equal(metric_counter(&metrics.seg_patch), 2);
    /* a new expiry writes a new copy: it has the patched bytes */
    assert_int_equal(storage_touch(0, "root", 4, NOW + 60000,
                             STORAGE_TTL_ALWAYS, NOW, NULL),
            STORAGE_OK);
    assert_int_equal(storage_peek(0, "root", 4, NOW, &it), STORAGE_OK);
    assert_int_equal(it.expiry, NOW + 60000);
    assert_memory_equal(it.value + 8, "countXYZ", 8);
    assert_int_equal(it.value[23], 'z');
    /* an expired root is not patched */
    assert_int_equal(
            storage_patch(0, "root", 4, it.cas, 8, "x", 1, NOW + 60000),
            STORAGE_NOT_FOUND);
}

/* One thread patches roots while another churns strings through a small
 * heap, so merges move the roots (kept: they are read) as they are
 * patched: no patch is lost to a move, and (under ThreadSanitizer) no
 * copy reads a root's bytes while a patch writes them. */
#define NROOT 40

static uint64_t last_patch[NROOT]; /* written by the patcher, read after */
static uint64_t root_cas[NROOT];
static bool churn_done; /* atomic: the patcher runs until the churn ends */

static void
root_name(char *dst, size_t n, int i)
{
    snprintf(dst, n, "proot-%03d", i);
}

static void *
patcher_main(void *arg)
{
    (void)arg;
    assert_int_equal(storage_thread_register(), STATUS_OK);
    for (uint64_t k = 1;
            !__atomic_load_n(&churn_done, __ATOMIC_ACQUIRE) || k <= 20000;
            k++) {
        int i = (int)(k % NROOT);
        char key[16];
        root_name(key, sizeof(key), i);
        uint8_t b[8];
        memcpy(b, &k, 8);
        if (storage_patch(0, key, strlen(key), root_cas[i], 8, b, 8, NOW) ==
                STORAGE_OK) {
            last_patch[i] = k;
        }
        if (k % 64 == 0) {
            storage_quiescent();
        }
    }
    storage_quiescent();
    storage_thread_unregister();
    return NULL;
}

static void
test_patch_survives_moves(void **state)
{
    (void)state;
    setup_store("merge", 4 * MiB, 64 * KiB);
    assert_int_equal(storage_thread_register(), STATUS_OK);
    for (int i = 0; i < NROOT; i++) {
        char key[16];
        root_name(key, sizeof(key), i);
        uint8_t v[16] = {(uint8_t)i};
        struct storage_write r = {.type = STORAGE_TYPE_HASH, .parts = true};
        assert_int_equal(storage_set(0, key, strlen(key), v, sizeof(v), &r, NOW,
                                 NULL, &root_cas[i]),
                STORAGE_OK);
        last_patch[i] = 0;
    }
    __atomic_store_n(&churn_done, false, __ATOMIC_RELEASE);
    pthread_t th;
    pthread_create(&th, NULL, patcher_main, NULL);
    uint8_t v[600];
    memset(v, 'x', sizeof(v));
    struct storage_write w = {0};
    for (int i = 0; i < 30000; i++) {
        char key[32];
        int n = snprintf(key, sizeof(key), "filler-%07d", i);
        assert_int_equal(storage_set(0, key, (size_t)n, v, sizeof(v), &w, NOW,
                                 NULL, NULL),
                STORAGE_OK);
        if (i % 100 == 0) {
            for (int r = 0; r < NROOT; r++) { /* hot: merge keeps them */
                char rk[16];
                root_name(rk, sizeof(rk), r);
                storage_get(0, rk, strlen(rk), NOW, NULL);
            }
            storage_quiescent();
        }
    }
    __atomic_store_n(&churn_done, true, __ATOMIC_RELEASE);
    pthread_join(th, NULL);
    assert_true(metric_counter(&metrics.seg_merge_keep) +
                        metric_counter(&metrics.seg_compact_item) >
                0);
    int kept = 0;
    for (int i = 0; i < NROOT; i++) {
        char key[16];
        root_name(key, sizeof(key), i);
        struct storage_item it;
        if (storage_peek(0, key, strlen(key), NOW, &it) != STORAGE_OK) {
            continue; /* evicted: then no later patch succeeded */
        }
        kept++;
        uint64_t k;
        memcpy(&k, it.value + 8, 8);
        assert_int_equal(k, last_patch[i]);
        assert_int_equal(it.value[0], (uint8_t)i);
        assert_int_equal(it.cas, root_cas[i]);
    }
    assert_true(kept > 0);
    storage_quiescent();
    storage_thread_unregister();
    seg_teardown();
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(
                    test_type_round_trips, setup_small, teardown_store),
            cmocka_unit_test_setup_teardown(test_string_rmw_refuses_other_types,
                    setup_small, teardown_store),
            cmocka_unit_test_setup_teardown(
                    test_rename_copy_keep_type_refuse_roots, setup_small,
                    teardown_store),
            cmocka_unit_test_setup_teardown(
                    test_parts_namespace, setup_small, teardown_store),
            cmocka_unit_test(test_eviction_takes_keys_whole_merge),
            cmocka_unit_test(test_eviction_takes_keys_whole_fifo),
            cmocka_unit_test(test_dead_parts_are_dropped),
            cmocka_unit_test(test_pinned_parts_wait_for_their_root),
            cmocka_unit_test(test_pins_are_bounded),
            cmocka_unit_test(test_merge_of_cold_parts_evicts_one_segment),
            cmocka_unit_test_setup_teardown(
                    test_patch_in_place, setup_small, teardown_store),
            cmocka_unit_test(test_patch_survives_moves),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
