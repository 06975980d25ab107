/* SPDX-License-Identifier: Apache-2.0 */
/* Segment store core: item layout, hash tags and chains, TTL buckets, exact
 * expiry with an injected clock, get/set/add/replace/cas/delete, flush. */
#include "unit.h"

#include "base/time.h"
#include "storage/seg/seg.h"
#include "storage/seg/seg_internal.h"
#include "storage/storage.h"

#include <stdio.h>
#include <string.h>

#define NOW 1700000000000ULL /* injected clock, unix ms */

static seg_metrics_st metrics;

static int
setup_with(size_t memory, uint64_t hash_power, const char *evict)
{
    seg_options_st o = {SEG_OPTION(INIT_OPTION)};
    o.seg_memory.val.OPTION_SIZE = memory;
    o.seg_hash_power.val.OPTION_UINT = hash_power;
    o.seg_evict.val.OPTION_STR = evict;
    o.seg_background.val.OPTION_BOOL = false;
    o.seg_open_max.val.OPTION_UINT = 4;
    metrics = (seg_metrics_st){SEG_METRIC(INIT_METRIC)};
    return seg_setup(&o, &metrics) == STATUS_OK ? 0 : -1;
}

static int
group_setup(void **state)
{
    (void)state;
    return setup_with(8 * MiB, 0, "merge");
}

static int
group_teardown(void **state)
{
    (void)state;
    seg_teardown();
    return 0;
}

static int
each_setup(void **state)
{
    (void)state;
    storage_flush(STORAGE_DB_ALL, 0, NOW);
    return 0;
}

static storage_status_e
set_str(const char *key, const char *val, uint64_t expiry, uint64_t now)
{
    struct storage_write w = {.expiry = expiry};
    return storage_set(
            0, key, strlen(key), val, strlen(val), &w, now, NULL, NULL);
}

static void
assert_value(const char *key, const char *val, uint64_t now)
{
    struct storage_item it;
    assert_int_equal(storage_get(0, key, strlen(key), now, &it), STORAGE_OK);
    assert_int_equal(it.vlen, strlen(val));
    assert_memory_equal(it.value, val, it.vlen);
    assert_int_equal(it.klen, strlen(key));
    assert_memory_equal(it.key, key, it.klen);
}

static void
assert_missing(const char *key, uint64_t now)
{
    struct storage_item it;
    assert_int_equal(
            storage_get(0, key, strlen(key), now, &it), STORAGE_NOT_FOUND);
}

/* --- item layout -------------------------------------------------------- */

static void
test_item_layout_roundtrip(void **state)
{
    (void)state;
    uint8_t buf[64];
    struct item_meta m = {.db = 15,
            .klen = 16,
            .vlen = 32,
            .cas = 1000005,
            .expiry = NOW + 5000,
            .cflags = 0xdeadbeef,
            .flags = ITEM_F_STALE};
    uint64_t at = (7ULL << 20) | 100; /* segment sequence 7, offset 100 */
    uint32_t hl = item_hdr_len(&m, at, NOW);
    uint32_t n = item_encode(buf, &m, at, NOW, ITEM_M_WIN, 3);
    assert_int_equal(n, hl);
    struct item_meta d;
    /* every flag of byte 0 set: 0xff starts an item (no end marker) */
    assert_int_equal(buf[0], 0xff);
    item_decode(buf, at, NOW, &d);
    assert_int_equal(d.db, 15);
    assert_int_equal(d.klen, 16);
    assert_int_equal(d.vlen, 32);
    assert_int_equal(d.cas, 1000005);
    assert_int_equal(d.expiry, NOW + 5000);
    assert_int_equal(d.cflags, 0xdeadbeef);
    assert_true(d.flags & ITEM_F_STALE);
    assert_int_equal(d.hdr_len, hl);
    assert_false(d.ecas);
    assert_int_equal(d.age, 1000005);
    assert_int_equal(item_mflags(buf), ITEM_M_WIN);
    assert_int_equal(item_atime(buf), 3);
    /* a CAS the writer chose: dated by where the item is */
    m.ecas = true;
    m.flags = 0;
    item_encode(buf, &m, at, NOW, 0, ITEM_ATIME_MAX);
    item_decode(buf, at, NOW, &d);
    assert_true(d.ecas);
    assert_int_equal(d.cas, 1000005);
    assert_int_equal(d.age, at);
    assert_int_equal(d.flags, 0);
    assert_int_equal(item_atime(buf), ITEM_ATIME_MAX);
    assert_int_equal(item_mflags(buf), 0);
}

/* The access time: minutes since the segment was created, exact to 31,
 * then in 7-minute steps, never reported later than it was. */
static void
test_item_atime_code(void **state)
{
    (void)state;
    struct seg s = {.atime_base = NOW};
    for (uint64_t min = 0; min < 300; min++) {
        uint64_t ms = NOW + min * 60000 + 59999;
        uint8_t c = item_atime_code(ms, &s);
        assert_true(c <= ITEM_ATIME_MAX);
        uint64_t back = item_atime_ms(c, &s);
        assert_true(back <= ms);
        if (min < 32) {
            assert_int_equal(back, NOW + min * 60000);
        } else if (min < 249) {
            assert_true(ms - back < 7 * 60000);
        }
    }
    assert_int_equal(item_atime_code(NOW - 5, &s), 0);
}

static void
test_item_layout_small_header(void **state)
{
    (void)state;
    /* 16-byte key, 32-byte value, no expiry, no flags, written with a new
     * CAS: 2 fixed bytes + klen + vlen = 4, the CAS where it lands */
    struct item_meta m = {.klen = 16, .vlen = 32, .cas = 0};
    uint64_t at = (9ULL << 20) | 4321;
    assert_int_equal(item_hdr_len(&m, at, 0), 4);
    uint8_t buf[64];
    item_encode(buf, &m, at, 0, 0xff, 5);
    struct item_meta d;
    item_decode(buf, at, 0, &d);
    assert_int_equal(d.hdr_len, 4);
    assert_int_equal(d.cas, at);
    assert_int_equal(d.age, at);
    /* only FETCHED and WIN come from the flags passed in */
    assert_int_equal(item_mflags(buf), ITEM_M_FETCHED | ITEM_M_WIN);
    assert_int_equal(item_atime(buf), 5);
    /* a copy keeps its CAS: one from an older segment (merge) costs 4
     * bytes, one from the same segment's range up to 3, and both round-trip */
    m.cas = (5ULL << 20) | 17;
    assert_int_equal(item_hdr_len(&m, at, 0), 8);
    item_encode(buf, &m, at, 0, 0, 0);
    item_decode(buf, at, 0, &d);
    assert_int_equal(d.cas, (5ULL << 20) | 17);
    m.cas = (9ULL << 20) | 40000;
    assert_int_equal(item_hdr_len(&m, at, 0), 7);
    /* a CAS the client chose (meta E), small or above the base: one byte
     * more, the ext byte saying so */
    m.cas = 5;
    m.ecas = true;
    item_encode(buf, &m, 1ULL << 40, 0, 0, 0);
    item_decode(buf, 1ULL << 40, 0, &d);
    assert_int_equal(d.cas, 5);
    assert_int_equal(d.expiry, 0);
    assert_true(d.ecas);
}

static void
test_item_layout_in_segment(void **state)
{
    (void)state;
    assert_int_equal(set_str("layout-key", "layout-value", 0, NOW), STORAGE_OK);
    struct storage_item it;
    assert_int_equal(storage_peek(0, "layout-key", 10, NOW, &it), STORAGE_OK);
    /* key follows the header, value follows the key, in one segment */
    assert_ptr_equal(it.value, it.key + it.klen);
    const uint8_t *item = it.priv;
    assert_true(it.key > item && it.key - item <= ITEM_HDR_MAX);
    assert_int_equal(item[0] & 0x0f, 0); /* database 0 */
}

/* --- TTL buckets -------------------------------------------------------- */

static void
test_ttl_bucket_mapping(void **state)
{
    (void)state;
    assert_int_equal(seg_ttl_bucket_index(0, NOW), TTL_NEVER_BUCKET);
    assert_int_equal(seg_ttl_bucket_index(NOW + 1, NOW), 0);
    assert_int_equal(seg_ttl_bucket_index(NOW + 7000, NOW), 0);
    assert_int_equal(seg_ttl_bucket_index(NOW + 8000, NOW), 1);
    assert_int_equal(seg_ttl_bucket_index(NOW + 2047000, NOW), 255);
    assert_int_equal(seg_ttl_bucket_index(NOW + 2048000, NOW), 256 + 16);
    assert_int_equal(seg_ttl_bucket_index(NOW + 32768000, NOW), 512 + 16);
    assert_int_equal(seg_ttl_bucket_index(NOW + 524288000ULL, NOW), 768 + 16);
    assert_int_equal(seg_ttl_bucket_index(NOW + 9000000000ULL, NOW), 1023);
    /* past expiry: the shortest bucket */
    assert_int_equal(seg_ttl_bucket_index(NOW - 5, NOW), 0);
    /* every bucket's lower bound maps back into it */
    for (uint32_t i = 1; i < 1024; i++) {
        if (i % 256 < 16 && i >= 256) {
            continue; /* unused start of ranges 2-4 */
        }
        uint64_t lo = seg_ttl_bucket_lower(i);
        assert_int_equal(seg_ttl_bucket_index(NOW + lo, NOW), i);
    }
}

/* --- expiry ------------------------------------------------------------- */

static void
test_expiry_exact_boundary(void **state)
{
    (void)state;
    uint64_t exp = NOW + 1234;
    assert_int_equal(set_str("e1", "v", exp, NOW), STORAGE_OK);
    assert_value("e1", "v", exp - 1); /* one ms before: served */
    struct storage_item it;
    assert_int_equal(storage_get(0, "e1", 2, exp - 1, &it), STORAGE_OK);
    assert_int_equal(it.expiry, exp);
    assert_missing("e1", exp);     /* at the expiry: gone */
    assert_missing("e1", exp - 1); /* and it was unlinked */
    assert_true(metric_counter(&metrics.seg_expire_item) > 0);
}

static void
test_expiry_already_expired(void **state)
{
    (void)state;
    assert_int_equal(set_str("e2", "v", TIME_EXPIRED, NOW), STORAGE_OK);
    assert_missing("e2", NOW);
    assert_int_equal(set_str("e3", "v", NOW, NOW), STORAGE_OK);
    assert_missing("e3", NOW);
}

static void
test_expiry_segment_freed_after_latest(void **state)
{
    (void)state;
    /* items of one TTL bucket with different exact expiries: the segment
     * goes only after the latest of them */
    char key[16];
    for (int i = 0; i < 10; i++) {
        snprintf(key, sizeof(key), "s%d", i);
        assert_int_equal(set_str(key, "x", NOW + 100000 + i, NOW), STORAGE_OK);
    }
    /* fill the bucket's segment so it seals */
    struct storage_write w = {.expiry = NOW + 100000};
    static uint8_t big[600 * 1024];
    assert_int_equal(
            storage_set(0, "big1", 4, big, sizeof(big), &w, NOW, NULL, NULL),
            STORAGE_OK);
    assert_int_equal(
            storage_set(0, "big2", 4, big, sizeof(big), &w, NOW, NULL, NULL),
            STORAGE_OK);
    uint64_t before = metric_counter(&metrics.seg_expire_seg);
    storage_maintain(NOW + 100005);
    /* big2's segment (latest expiry NOW+100000) went as a whole, even while
     * still open; the first holds s0..s9 and big1 until s9 expires */
    assert_int_equal(storage_count(0), 11);
    assert_value("s9", "x", NOW + 100005);
    storage_maintain(NOW + 100010);
    assert_true(metric_counter(&metrics.seg_expire_seg) >= before + 2);
    assert_int_equal(storage_count(0), 0);
    assert_missing("s9", NOW + 100010);
}

/* --- get / set / add / replace / cas / delete --------------------------- */

static void
test_set_get_overwrite(void **state)
{
    (void)state;
    assert_int_equal(set_str("k", "one", 0, NOW), STORAGE_OK);
    assert_value("k", "one", NOW);
    assert_int_equal(set_str("k", "two-longer", 0, NOW), STORAGE_OK);
    assert_value("k", "two-longer", NOW);
    assert_int_equal(storage_count(0), 1);
    assert_int_equal(storage_count(1), 0);
    /* databases are separate key spaces */
    struct storage_item it;
    assert_int_equal(storage_get(1, "k", 1, NOW, &it), STORAGE_NOT_FOUND);
}

static void
test_set_modes(void **state)
{
    (void)state;
    struct storage_write add = {.mode = STORAGE_ADD};
    struct storage_write rep = {.mode = STORAGE_REPLACE};
    struct storage_item old;
    assert_int_equal(storage_set(0, "m", 1, "a", 1, &rep, NOW, NULL, NULL),
            STORAGE_NOT_STORED);
    assert_int_equal(
            storage_set(0, "m", 1, "a", 1, &add, NOW, NULL, NULL), STORAGE_OK);
    assert_int_equal(storage_set(0, "m", 1, "b", 1, &add, NOW, &old, NULL),
            STORAGE_EXISTS);
    assert_memory_equal(old.value, "a", 1);
    assert_int_equal(
            storage_set(0, "m", 1, "c", 1, &rep, NOW, &old, NULL), STORAGE_OK);
    assert_memory_equal(old.value, "a", 1); /* SET .. GET sees the old */
    assert_value("m", "c", NOW);
    /* add over an expired item succeeds */
    assert_int_equal(set_str("m2", "x", NOW + 10, NOW), STORAGE_OK);
    assert_int_equal(
            storage_set(0, "m2", 2, "y", 1, &add, NOW + 10, NULL, NULL),
            STORAGE_OK);
}

static void
test_cas_mismatch_and_success(void **state)
{
    (void)state;
    uint64_t c1, c2, c3;
    struct storage_write w = {0};
    assert_int_equal(
            storage_set(0, "c", 1, "1", 1, &w, NOW, NULL, &c1), STORAGE_OK);
    /* another key changing does not change this key's CAS */
    assert_int_equal(
            storage_set(0, "d", 1, "1", 1, &w, NOW, NULL, &c2), STORAGE_OK);
    assert_int_not_equal(c1, c2);
    struct storage_item it;
    assert_int_equal(storage_get(0, "c", 1, NOW, &it), STORAGE_OK);
    assert_int_equal(it.cas, c1);
    struct storage_write cw = {.mode = STORAGE_CAS, .cas = c1 + 1000};
    assert_int_equal(storage_set(0, "c", 1, "2", 1, &cw, NOW, NULL, NULL),
            STORAGE_EXISTS);
    cw.cas = c1;
    assert_int_equal(
            storage_set(0, "c", 1, "2", 1, &cw, NOW, NULL, &c3), STORAGE_OK);
    assert_int_not_equal(c3, c1);
    /* the old CAS no longer works */
    assert_int_equal(storage_set(0, "c", 1, "3", 1, &cw, NOW, NULL, NULL),
            STORAGE_EXISTS);
    cw.cas = 5;
    assert_int_equal(storage_set(0, "zz", 2, "3", 1, &cw, NOW, NULL, NULL),
            STORAGE_NOT_FOUND);
    assert_true(metric_counter(&metrics.seg_cas_mismatch) >= 2);
}

static void
test_delete_and_getdel(void **state)
{
    (void)state;
    assert_int_equal(set_str("x", "gone", 0, NOW), STORAGE_OK);
    struct storage_item it;
    assert_int_equal(storage_get(0, "x", 1, NOW, &it), STORAGE_OK);
    uint64_t cas = it.cas;
    assert_int_equal(storage_delete(0, "x", 1, cas + 1, NOW), STORAGE_EXISTS);
    assert_int_equal(storage_getdel(0, "x", 1, NOW, &it), STORAGE_OK);
    assert_memory_equal(it.value, "gone", 4); /* view still valid */
    assert_int_equal(storage_delete(0, "x", 1, 0, NOW), STORAGE_NOT_FOUND);
    assert_missing("x", NOW);
    assert_int_equal(storage_count(0), 0);
}

static void
test_bad_arguments(void **state)
{
    (void)state;
    struct storage_item it;
    struct storage_write w = {0};
    /* 16..31: the parts namespaces of 0..15 (test_seg_types) */
    assert_int_equal(storage_get(32, "k", 1, NOW, &it), STORAGE_EINVAL);
    assert_int_equal(storage_get(15 | 0x40, "k", 1, NOW, &it), STORAGE_EINVAL);
    assert_int_equal(storage_get(0, "", 0, NOW, &it), STORAGE_EINVAL);
    assert_int_equal(storage_set(0, "k", 1, "v", storage_value_max(1) + 1, &w,
                             NOW, NULL, NULL),
            STORAGE_EOVERSIZE);
    assert_int_equal(storage_flush(20, 0, NOW), STORAGE_EINVAL);
}

static void
test_value_max_stores(void **state)
{
    (void)state;
    /* every value up to 1 MiB - 1 KiB stores with a 250-byte key */
    static uint8_t val[1024 * 1024];
    char key[251];
    memset(key, 'k', 250);
    key[250] = 0;
    size_t vlen = 1024 * 1024 - 1024;
    memset(val, 'v', vlen);
    assert_true(storage_value_max(250) >= vlen);
    struct storage_write w = {.expiry = 0, .cflags = 0xffffffff};
    for (int i = 0; i < 3; i++) {
        key[0] = (char)('a' + i);
        assert_int_equal(
                storage_set(0, key, 250, val, vlen, &w, NOW, NULL, NULL),
                STORAGE_OK);
    }
    struct storage_item it;
    assert_int_equal(storage_get(0, key, 250, NOW, &it), STORAGE_OK);
    assert_int_equal(it.vlen, vlen);
    assert_int_equal(it.cflags, 0xffffffff);
    size_t max = storage_value_max(250);
    assert_int_equal(storage_set(0, key, 250, val, max, &w, NOW, NULL, NULL),
            STORAGE_OK);
}

/* --- hash: tags, collisions, chains ------------------------------------- */

static void
test_hash_chains(void **state)
{
    (void)state;
    /* the smallest table (2^7 slots = 16 buckets) forces chains and
     * overflow */
    seg_teardown();
    assert_int_equal(setup_with(4 * MiB, 7, "merge"), 0);
    struct seg_layout lay;
    seg_layout_get(&lay);
    assert_int_equal(lay.n_bucket, 16);
    char key[32];
    int n = 0;
    for (int i = 0; i < 16 * 8 + 40 && i < (int)lay.n_overflow * 7 + 100;
            i++, n++) {
        snprintf(key, sizeof(key), "chain-%d", i);
        assert_int_equal(set_str(key, key, 0, NOW), STORAGE_OK);
    }
    assert_true(metric_gauge(&metrics.seg_hash_overflow) > 0);
    uint32_t longest = 0;
    for (uint32_t b = 0; b < lay.n_bucket; b++) {
        uint32_t l = hash_chain_len(b);
        longest = l > longest ? l : longest;
    }
    assert_true(longest >= 2);
    for (int i = 0; i < n; i++) {
        snprintf(key, sizeof(key), "chain-%d", i);
        assert_value(key, key, NOW);
    }
    /* delete every other key, then re-add: slots are reused */
    for (int i = 0; i < n; i += 2) {
        snprintf(key, sizeof(key), "chain-%d", i);
        assert_int_equal(
                storage_delete(0, key, strlen(key), 0, NOW), STORAGE_OK);
    }
    for (int i = 1; i < n; i += 2) {
        snprintf(key, sizeof(key), "chain-%d", i);
        assert_value(key, key, NOW);
    }
    assert_int_equal(storage_count(0), (uint64_t)(n / 2));
    seg_teardown();
    assert_int_equal(group_setup(NULL), 0);
}

static void
test_hash_tag_collision(void **state)
{
    (void)state;
    /* find two keys with the same 12-bit tag and bucket pair by brute force
     * over a small table, then check each returns its own value */
    seg_teardown();
    assert_int_equal(setup_with(4 * MiB, 7, "merge"), 0); /* 16 buckets */
    char a[32], b[32];
    uint64_t ha = hash_of(0, "tag-0", 5);
    snprintf(a, sizeof(a), "tag-0");
    int found = 0;
    uint32_t a1, a2, b1, b2;
    hash_buckets_of(ha, &a1, &a2);
    for (int i = 1; i < 20000000 && !found; i++) {
        snprintf(b, sizeof(b), "tag-%d", i);
        uint64_t hb = hash_of(0, b, strlen(b));
        hash_buckets_of(hb, &b1, &b2);
        if (hash_entry(ha, 0, 0, 0) == hash_entry(hb, 0, 0, 0) && a1 == b1 &&
                a2 == b2 && a1 != a2) {
            found = 1;
        }
    }
    assert_true(found);
    assert_int_equal(set_str(a, "A", 0, NOW), STORAGE_OK);
    assert_int_equal(set_str(b, "B", 0, NOW), STORAGE_OK);
    uint64_t before = metric_counter(&metrics.seg_hash_tag_collision);
    assert_value(a, "A", NOW);
    assert_value(b, "B", NOW);
    assert_true(metric_counter(&metrics.seg_hash_tag_collision) > before);
    assert_int_equal(storage_delete(0, a, strlen(a), 0, NOW), STORAGE_OK);
    assert_value(b, "B", NOW);
    seg_teardown();
    assert_int_equal(group_setup(NULL), 0);
}

/* --- flush -------------------------------------------------------------- */

static void
test_flush_now(void **state)
{
    (void)state;
    assert_int_equal(set_str("f1", "v", 0, NOW), STORAGE_OK);
    struct storage_write w = {0};
    assert_int_equal(
            storage_set(3, "f1", 2, "db3", 3, &w, NOW, NULL, NULL), STORAGE_OK);
    assert_int_equal(storage_flush(0, NOW, NOW), STORAGE_OK);
    assert_missing("f1", NOW);
    assert_int_equal(storage_count(0), 0);
    struct storage_item it;
    assert_int_equal(storage_get(3, "f1", 2, NOW, &it), STORAGE_OK);
    assert_int_equal(storage_count(3), 1);
    /* written after the flush: lives */
    assert_int_equal(set_str("f1", "new", 0, NOW), STORAGE_OK);
    assert_value("f1", "new", NOW);
    assert_int_equal(storage_flush(STORAGE_DB_ALL, 0, NOW), STORAGE_OK);
    assert_int_equal(storage_get(3, "f1", 2, NOW, &it), STORAGE_NOT_FOUND);
    assert_int_equal(storage_count(3), 0);
}

static void
test_flush_delayed(void **state)
{
    (void)state;
    assert_int_equal(set_str("d1", "v", 0, NOW), STORAGE_OK);
    assert_int_equal(storage_flush(0, NOW + 1000, NOW), STORAGE_OK);
    assert_value("d1", "v", NOW + 999); /* not yet */
    assert_int_equal(set_str("d2", "v", 0, NOW + 999), STORAGE_OK);
    assert_missing("d1", NOW + 1000); /* written before now+N: gone */
    assert_missing("d2", NOW + 1000);
    assert_int_equal(set_str("d3", "v", 0, NOW + 1000), STORAGE_OK);
    assert_value("d3", "v", NOW + 2000); /* written after: lives */
    assert_int_equal(storage_count(0), 1);
}

/* Found by fuzz_seg: a delayed flush that is due must happen before a new
 * flush_all N replaces it. */
static void
test_flush_delayed_due_before_new(void **state)
{
    (void)state;
    assert_int_equal(set_str("q1", "v", 0, NOW), STORAGE_OK);
    assert_int_equal(storage_flush(0, NOW + 10, NOW), STORAGE_OK);
    assert_int_equal(storage_flush(0, NOW + 500, NOW + 20), STORAGE_OK);
    assert_missing("q1", NOW + 20);
}

/* issue 23: a value the store cannot use exactly is refused with the
 * option and the reason, never lowered, raised or rounded in silence. */
static void
test_issue_23_options_refused_not_clamped(void **state)
{
    (void)state;
    const struct {
        const char *name; /* dotted */
        const char *value;
        const char *why; /* start of the reason */
    } c[] = {
            {"seg.merge_segments", "40", "40: not in 2..16"},
            {"seg.merge_segments", "1", "1: not in 2..16"},
            {"seg.segment_size", "100000", "100000 bytes: not a multiple"},
            {"seg.segment_size", "16MiB", "16777216 bytes: not a multiple"},
            {"seg.hash_power", "6", "6: not 0 (auto) or in 7..34"},
            {"seg.hash_power", "35", "35: not 0 (auto) or in 7..34"},
            {"seg.evict", "lru", "not one of merge fifo"},
            {"seg.memory", "1MiB", "1048576 bytes: too small"},
            {"seg.reserve", "64", "64: not below the"},
            {"seg.expire_interval", "0", "0: the background thread"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(c); i++) {
        seg_options_st o = {SEG_OPTION(INIT_OPTION)};
        struct option *opts = (struct option *)&o;
        char err[256], why[256], name[64];
        assert_int_equal(option_set(opts, OPTION_CARDINALITY(o), c[i].name,
                                 c[i].value, err, sizeof(err)),
                STATUS_OK);
        const struct option *bad = NULL;
        assert_int_equal(
                seg_options_check(&o, &bad, why, sizeof(why)), STATUS_EINVAL);
        assert_string_equal(
                option_dotted_name(bad, name, sizeof(name)), c[i].name);
        assert_true(strncmp(why, c[i].why, strlen(c[i].why)) == 0);
        option_free(opts, OPTION_CARDINALITY(o));
    }
    seg_options_st o = {SEG_OPTION(INIT_OPTION)};
    const struct option *bad = NULL;
    char why[256];
    assert_int_equal(seg_options_check(&o, &bad, why, sizeof(why)), STATUS_OK);
    o.seg_merge_segments.val.OPTION_UINT = 16; /* the ends are exact */
    o.seg_segment_size.val.OPTION_SIZE = 68 * KiB;
    assert_int_equal(seg_options_check(&o, &bad, why, sizeof(why)), STATUS_OK);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup(test_item_layout_roundtrip, each_setup),
            cmocka_unit_test_setup(test_item_layout_small_header, each_setup),
            cmocka_unit_test_setup(test_item_atime_code, each_setup),
            cmocka_unit_test_setup(test_item_layout_in_segment, each_setup),
            cmocka_unit_test_setup(test_ttl_bucket_mapping, each_setup),
            cmocka_unit_test_setup(test_expiry_exact_boundary, each_setup),
            cmocka_unit_test_setup(test_expiry_already_expired, each_setup),
            cmocka_unit_test_setup(
                    test_expiry_segment_freed_after_latest, each_setup),
            cmocka_unit_test_setup(test_set_get_overwrite, each_setup),
            cmocka_unit_test_setup(test_set_modes, each_setup),
            cmocka_unit_test_setup(test_cas_mismatch_and_success, each_setup),
            cmocka_unit_test_setup(test_delete_and_getdel, each_setup),
            cmocka_unit_test_setup(test_bad_arguments, each_setup),
            cmocka_unit_test_setup(test_value_max_stores, each_setup),
            cmocka_unit_test_setup(test_hash_chains, each_setup),
            cmocka_unit_test_setup(test_hash_tag_collision, each_setup),
            cmocka_unit_test_setup(test_flush_now, each_setup),
            cmocka_unit_test_setup(test_flush_delayed, each_setup),
            cmocka_unit_test_setup(
                    test_flush_delayed_due_before_new, each_setup),
            cmocka_unit_test(test_issue_23_options_refused_not_clamped),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
