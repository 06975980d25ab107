/* SPDX-License-Identifier: Apache-2.0 */
/* Segment store operations beyond get/set: incr/decr in both semantics,
 * append/prepend and their size limit, touch (CAS kept), TTL conditions,
 * invalidation and win tokens, setrange/getrange, rename/copy, random key,
 * scan, streaming reserve/commit/abort, access flags. */
#include "unit.h"

#include "base/time.h"
#include "storage/seg/seg.h"
#include "storage/storage.h"

#include <stdio.h>
#include <string.h>

#define NOW 1700000000000ULL

static seg_metrics_st metrics;

static int
group_setup(void **state)
{
    (void)state;
    seg_options_st o = {SEG_OPTION(INIT_OPTION)};
    o.seg_memory.val.OPTION_SIZE = 8 * MiB;
    o.seg_background.val.OPTION_BOOL = false;
    metrics = (seg_metrics_st){SEG_METRIC(INIT_METRIC)};
    return seg_setup(&o, &metrics) == STATUS_OK ? 0 : -1;
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
put(uint8_t db, const char *key, const char *val, uint64_t expiry)
{
    struct storage_write w = {.expiry = expiry, .cflags = 42};
    return storage_set(
            db, key, strlen(key), val, strlen(val), &w, NOW, NULL, NULL);
}

static void
expect_n(uint8_t db, const char *key, const char *val, size_t n)
{
    struct storage_item it;
    assert_int_equal(storage_peek(db, key, strlen(key), NOW, &it), STORAGE_OK);
    assert_int_equal(it.vlen, n);
    assert_memory_equal(it.value, val, n);
}

static void
expect(uint8_t db, const char *key, const char *val)
{
    expect_n(db, key, val, strlen(val));
}

static uint64_t
cas_of(const char *key)
{
    struct storage_item it;
    assert_int_equal(storage_peek(0, key, strlen(key), NOW, &it), STORAGE_OK);
    return it.cas;
}

/* --- footprint ---------------------------------------------------------- */

static void
test_item_footprint(void **state)
{
    (void)state;
    char big[1000];
    memset(big, 'v', sizeof(big));
    struct storage_write w = {0};
    assert_int_equal(
            storage_set(0, "fa", 2, "x", 1, &w, NOW, NULL, NULL), STORAGE_OK);
    assert_int_equal(
            storage_set(0, "fb", 2, big, sizeof(big), &w, NOW, NULL, NULL),
            STORAGE_OK);
    assert_int_equal(
            storage_set(0, "fc", 2, "y", 1, &w, NOW, NULL, NULL), STORAGE_OK);
    struct storage_item a, b, c;
    assert_int_equal(storage_peek(0, "fa", 2, NOW, &a), STORAGE_OK);
    assert_int_equal(storage_peek(0, "fb", 2, NOW, &b), STORAGE_OK);
    assert_int_equal(storage_peek(0, "fc", 2, NOW, &c), STORAGE_OK);
    size_t fa = storage_item_footprint(&a), fb = storage_item_footprint(&b);
    /* written one after the other into the same segment: an item's stride
     * is the distance to the next one; the hash slot adds 8 bytes */
    assert_int_equal(fa,
            (size_t)((const uint8_t *)b.priv - (const uint8_t *)a.priv) + 8);
    assert_int_equal(fb,
            (size_t)((const uint8_t *)c.priv - (const uint8_t *)b.priv) + 8);
    assert_true(fa > 2 + 1 + 8);
    assert_true(fb >= fa + sizeof(big) - 1);
    assert_int_equal(storage_item_footprint(&c), fa); /* same shape */
}

/* --- update: the atomic read-modify-write ----------------------------- */

/* Appends '1' to the value (or makes "1"); answers `answer` instead when
 * it is not OK. */
struct upd {
    int calls;
    storage_status_e answer;
};

static storage_status_e
upd_fn(const uint8_t *old, size_t olen, bool found, uint8_t *out,
        size_t *outlen, void *arg)
{
    struct upd *u = arg;
    u->calls++;
    if (u->answer != STORAGE_OK) {
        return u->answer;
    }
    size_t n = found ? olen : 0;
    if (n + 1 > STORAGE_UPDATE_MAX + 1) {
        return STORAGE_EINVAL;
    }
    if (n > 0) {
        memcpy(out, old, n);
    }
    if (n < STORAGE_UPDATE_MAX) {
        out[n] = '1';
    }
    *outlen = n + 1;
    return STORAGE_OK;
}

static void
test_update(void **state)
{
    (void)state;
    struct upd u = {0};
    uint64_t cas, c0;
    struct storage_item it;
    assert_int_equal(put(0, "n", "10", NOW + 60000), 0);
    c0 = cas_of("n");
    assert_int_equal(storage_update(0, "n", 1, upd_fn, &u, STORAGE_MISSING_FAIL,
                             0, NOW, &cas),
            STORAGE_OK);
    expect(0, "n", "101");
    assert_int_not_equal(cas, c0);
    assert_int_equal(cas_of("n"), cas);
    /* expiry and flags survive */
    assert_int_equal(storage_peek(0, "n", 1, NOW, &it), STORAGE_OK);
    assert_int_equal(it.expiry, NOW + 60000);
    assert_int_equal(it.cflags, 42);
    /* a missing key: NOT_FOUND without a call, or created without expiry */
    int calls = u.calls;
    assert_int_equal(storage_update(0, "none", 4, upd_fn, &u,
                             STORAGE_MISSING_FAIL, 0, NOW, NULL),
            STORAGE_NOT_FOUND);
    assert_int_equal(u.calls, calls);
    assert_int_equal(storage_update(0, "c", 1, upd_fn, &u,
                             STORAGE_MISSING_CREATE, 0, NOW, &cas),
            STORAGE_OK);
    expect(0, "c", "1");
    assert_int_equal(cas_of("c"), cas);
    assert_int_equal(storage_peek(0, "c", 1, NOW, &it), STORAGE_OK);
    assert_int_equal(it.expiry, TIME_NEVER);
    /* fn's own answer changes nothing */
    c0 = cas_of("n");
    u.answer = STORAGE_ENAN;
    assert_int_equal(storage_update(0, "n", 1, upd_fn, &u, STORAGE_MISSING_FAIL,
                             0, NOW, NULL),
            STORAGE_ENAN);
    expect(0, "n", "101");
    assert_int_equal(cas_of("n"), c0);
    /* a CAS expected: EXISTS when it differs, atomically with the write */
    u.answer = STORAGE_OK;
    assert_int_equal(storage_update(0, "n", 1, upd_fn, &u, STORAGE_MISSING_FAIL,
                             c0 + 1, NOW, NULL),
            STORAGE_EXISTS);
    expect(0, "n", "101");
    assert_int_equal(storage_update(0, "n", 1, upd_fn, &u, STORAGE_MISSING_FAIL,
                             c0, NOW, &cas),
            STORAGE_OK);
    expect(0, "n", "1011");
    assert_int_equal(storage_update(0, "n", 1, upd_fn, &u, STORAGE_MISSING_FAIL,
                             c0, NOW, NULL),
            STORAGE_EXISTS);
    assert_int_equal(storage_update(0, "nx", 2, upd_fn, &u,
                             STORAGE_MISSING_CREATE, c0, NOW, NULL),
            STORAGE_NOT_FOUND);
    /* more than STORAGE_UPDATE_MAX bytes: refused */
    char big[STORAGE_UPDATE_MAX + 1];
    memset(big, '7', STORAGE_UPDATE_MAX);
    big[STORAGE_UPDATE_MAX] = '\0';
    assert_int_equal(put(0, "b", big, 0), 0);
    assert_int_equal(storage_update(0, "b", 1, upd_fn, &u, STORAGE_MISSING_FAIL,
                             0, NOW, NULL),
            STORAGE_EOVERSIZE);
    expect(0, "b", big);
}

static void
test_explicit_cas_and_freq(void **state)
{
    (void)state;
    struct storage_write w = {.new_cas = 777777};
    uint64_t cas;
    assert_int_equal(
            storage_set(0, "e", 1, "v", 1, &w, NOW, NULL, &cas), STORAGE_OK);
    assert_int_equal(cas, 777777);
    assert_int_equal(cas_of("e"), 777777);
    struct storage_item it;
    assert_int_equal(storage_peek(0, "e", 1, NOW, &it), STORAGE_OK);
    assert_int_equal(it.freq, 0); /* a peek is no access */
    assert_false(it.fetched);
    /* the first read always counts */
    assert_int_equal(storage_get(0, "e", 1, NOW, NULL), STORAGE_OK);
    assert_int_equal(storage_peek(0, "e", 1, NOW, &it), STORAGE_OK);
    assert_int_equal(it.freq, 1);
    assert_true(it.fetched);
    /* then about 4 log2 of the reads: 1024 reads reach 32 on average;
     * the bounds fail with probability below 1e-4 */
    for (int i = 1; i < 1024; i++) {
        assert_int_equal(storage_get(0, "e", 1, NOW, NULL), STORAGE_OK);
    }
    assert_int_equal(storage_peek(0, "e", 1, NOW, &it), STORAGE_OK);
    assert_in_range(it.freq, 20, 48);
    /* a new version keeps the key's frequency */
    uint8_t f = it.freq;
    assert_int_equal(
            storage_set(0, "e", 1, "w", 1, &w, NOW, NULL, NULL), STORAGE_OK);
    assert_int_equal(storage_peek(0, "e", 1, NOW, &it), STORAGE_OK);
    assert_int_equal(it.freq, f);
    /* a chosen CAS does not date the item for a flush: written after one,
     * however small, it lives; a later flush hides it, however large */
    assert_int_equal(storage_flush(0, NOW, NOW), STORAGE_OK);
    assert_int_equal(storage_peek(0, "e", 1, NOW, &it), STORAGE_NOT_FOUND);
    w.new_cas = 5;
    assert_int_equal(
            storage_set(0, "e", 1, "v", 1, &w, NOW, NULL, &cas), STORAGE_OK);
    assert_int_equal(cas, 5);
    assert_int_equal(cas_of("e"), 5);
    w.new_cas = 1ULL << 62;
    assert_int_equal(
            storage_set(0, "g", 1, "w", 1, &w, NOW, NULL, &cas), STORAGE_OK);
    assert_true(cas_of("g") == 1ULL << 62);
    assert_int_equal(storage_flush(0, NOW, NOW), STORAGE_OK);
    assert_int_equal(storage_peek(0, "e", 1, NOW, &it), STORAGE_NOT_FOUND);
    assert_int_equal(storage_peek(0, "g", 1, NOW, &it), STORAGE_NOT_FOUND);
    /* a flush between reserve and commit of a chosen CAS: the item is
     * written again after the flush, its value and CAS whole */
    struct storage_reservation r;
    w.new_cas = 3;
    assert_int_equal(
            storage_reserve(&r, 0, "late-e", 6, 4, &w, NOW), STORAGE_OK);
    memcpy(r.value, "abcd", 4);
    assert_int_equal(storage_flush(0, NOW, NOW), STORAGE_OK);
    assert_int_equal(storage_commit(&r, NOW, NULL, &cas), STORAGE_OK);
    expect(0, "late-e", "abcd");
    assert_int_equal(cas, 3);
    assert_int_equal(cas_of("late-e"), 3);
}

/* An item's CAS is where it was written: unique across keys and
 * versions, no bytes in its header, and kept when the item is moved. */
static void
test_cas_from_location(void **state)
{
    (void)state;
    uint64_t seen[64];
    for (int i = 0; i < 64; i++) {
        char key[8];
        snprintf(key, sizeof(key), "u%d", i % 16);
        assert_int_equal(put(0, key, "value", 0), 0);
        seen[i] = cas_of(key);
        assert_true(seen[i] >= 1ULL << 20);
        for (int j = 0; j < i; j++) {
            assert_true(seen[j] != seen[i]);
        }
    }
    /* touch moves the item (a new expiry), its CAS stays */
    uint64_t before = cas_of("u3");
    assert_int_equal(storage_touch(0, "u3", 2, NOW + 60000, STORAGE_TTL_ALWAYS,
                             NOW, NULL),
            STORAGE_OK);
    assert_int_equal(cas_of("u3"), before);
    expect(0, "u3", "value");
}

static void
test_append_prepend(void **state)
{
    (void)state;
    size_t len;
    assert_int_equal(storage_append(0, "a", 1, "x", 1, STORAGE_APPEND,
                             STORAGE_MISSING_FAIL, 0, NOW, &len, NULL),
            STORAGE_NOT_STORED);
    assert_int_equal(put(0, "a", "mid", NOW + 9000), 0);
    assert_int_equal(storage_append(0, "a", 1, "-end", 4, STORAGE_APPEND,
                             STORAGE_MISSING_FAIL, 0, NOW, &len, NULL),
            STORAGE_OK);
    assert_int_equal(len, 7);
    assert_int_equal(storage_append(0, "a", 1, "start-", 6, STORAGE_PREPEND,
                             STORAGE_MISSING_FAIL, 0, NOW, &len, NULL),
            STORAGE_OK);
    expect(0, "a", "start-mid-end");
    struct storage_item it;
    assert_int_equal(storage_peek(0, "a", 1, NOW, &it), STORAGE_OK);
    assert_int_equal(it.expiry, NOW + 9000);
    assert_int_equal(it.cflags, 42);
    assert_int_equal(storage_append(0, "a", 1, "!", 1, STORAGE_APPEND,
                             STORAGE_MISSING_FAIL, it.cas + 1, NOW, NULL, NULL),
            STORAGE_EXISTS);
    assert_int_equal(storage_append(0, "r", 1, "new", 3, STORAGE_APPEND,
                             STORAGE_MISSING_CREATE, 0, NOW, &len, NULL),
            STORAGE_OK);
    expect(0, "r", "new");
}

static void
test_append_past_size_limit(void **state)
{
    (void)state;
    static uint8_t big[1024 * 1024];
    size_t max = storage_value_max(3);
    struct storage_write w = {0};
    assert_int_equal(
            storage_set(0, "big", 3, big, max - 10, &w, NOW, NULL, NULL),
            STORAGE_OK);
    assert_int_equal(storage_append(0, "big", 3, big, 10, STORAGE_APPEND,
                             STORAGE_MISSING_FAIL, 0, NOW, NULL, NULL),
            STORAGE_OK);
    assert_int_equal(storage_append(0, "big", 3, "x", 1, STORAGE_APPEND,
                             STORAGE_MISSING_FAIL, 0, NOW, NULL, NULL),
            STORAGE_EOVERSIZE);
    struct storage_item it;
    assert_int_equal(storage_peek(0, "big", 3, NOW, &it), STORAGE_OK);
    assert_int_equal(it.vlen, max); /* unchanged by the failure */
}

/* --- touch and TTL conditions ------------------------------------------- */

static void
test_touch_keeps_cas(void **state)
{
    (void)state;
    assert_int_equal(put(0, "t", "v", NOW + 1000), 0);
    uint64_t c = cas_of("t");
    struct storage_item it;
    assert_int_equal(
            storage_touch(0, "t", 1, NOW + 50000, STORAGE_TTL_ALWAYS, NOW, &it),
            STORAGE_OK);
    assert_int_equal(it.cas, c);
    assert_int_equal(it.expiry, NOW + 50000);
    assert_memory_equal(it.value, "v", 1);
    assert_int_equal(cas_of("t"), c);
    /* CAS from before the touch still matches */
    struct storage_write cw = {.mode = STORAGE_CAS, .cas = c};
    assert_int_equal(
            storage_set(0, "t", 1, "w", 1, &cw, NOW, NULL, NULL), STORAGE_OK);
    /* persist */
    assert_int_equal(put(0, "p", "v", NOW + 1000), 0);
    assert_int_equal(
            storage_touch(0, "p", 1, TIME_NEVER, STORAGE_TTL_XX, NOW, NULL),
            STORAGE_OK);
    assert_int_equal(
            storage_touch(0, "p", 1, TIME_NEVER, STORAGE_TTL_XX, NOW, NULL),
            STORAGE_NOT_STORED);
    assert_int_equal(storage_peek(0, "p", 1, NOW + 2000, &it), STORAGE_OK);
    /* an expiry in the past deletes */
    assert_int_equal(
            storage_touch(0, "p", 1, NOW - 1, STORAGE_TTL_ALWAYS, NOW, NULL),
            STORAGE_OK);
    assert_int_equal(storage_peek(0, "p", 1, NOW, &it), STORAGE_NOT_FOUND);
    assert_int_equal(
            storage_touch(0, "zz", 2, NOW + 1, STORAGE_TTL_ALWAYS, NOW, NULL),
            STORAGE_NOT_FOUND);
}

static void
test_touch_conditions(void **state)
{
    (void)state;
    assert_int_equal(put(0, "c", "v", 0), 0);
    assert_int_equal(
            storage_touch(0, "c", 1, NOW + 100, STORAGE_TTL_XX, NOW, NULL),
            STORAGE_NOT_STORED);
    assert_int_equal(
            storage_touch(0, "c", 1, NOW + 100, STORAGE_TTL_GT, NOW, NULL),
            STORAGE_NOT_STORED); /* none counts as infinite */
    assert_int_equal(
            storage_touch(0, "c", 1, NOW + 100, STORAGE_TTL_LT, NOW, NULL),
            STORAGE_OK);
    assert_int_equal(
            storage_touch(0, "c", 1, NOW + 200, STORAGE_TTL_NX, NOW, NULL),
            STORAGE_NOT_STORED);
    assert_int_equal(
            storage_touch(0, "c", 1, NOW + 50, STORAGE_TTL_GT, NOW, NULL),
            STORAGE_NOT_STORED);
    assert_int_equal(
            storage_touch(0, "c", 1, NOW + 300, STORAGE_TTL_GT, NOW, NULL),
            STORAGE_OK);
    struct storage_item it;
    assert_int_equal(storage_peek(0, "c", 1, NOW, &it), STORAGE_OK);
    assert_int_equal(it.expiry, NOW + 300);
    assert_int_equal(
            storage_peek(0, "c", 1, NOW + 300, &it), STORAGE_NOT_FOUND);
}

static void
test_keep_ttl(void **state)
{
    (void)state;
    assert_int_equal(put(0, "k", "v", NOW + 4000), 0);
    struct storage_write w = {.keep_ttl = true, .expiry = 0};
    assert_int_equal(
            storage_set(0, "k", 1, "w", 1, &w, NOW, NULL, NULL), STORAGE_OK);
    struct storage_item it;
    assert_int_equal(storage_peek(0, "k", 1, NOW, &it), STORAGE_OK);
    assert_int_equal(it.expiry, NOW + 4000);
}

/* --- meta: access flags, invalidation, win tokens ----------------------- */

static void
test_access_flags(void **state)
{
    (void)state;
    assert_int_equal(put(0, "h", "v", 0), 0);
    struct storage_item it;
    assert_int_equal(storage_get(0, "h", 1, NOW, &it), STORAGE_OK);
    assert_false(it.fetched);
    assert_int_equal(storage_get(0, "h", 1, NOW + 5 * 60000, &it), STORAGE_OK);
    assert_true(it.fetched);
    assert_true(it.last_access <= NOW + 60000);
    assert_int_equal(storage_get(0, "h", 1, NOW + 6 * 60000, &it), STORAGE_OK);
    assert_true(it.last_access >= NOW + 5 * 60000 - 60000);
    assert_true(it.last_access <= NOW + 5 * 60000);
    /* peek records nothing */
    assert_int_equal(put(0, "h2", "v", 0), 0);
    assert_int_equal(storage_peek(0, "h2", 2, NOW, &it), STORAGE_OK);
    assert_int_equal(storage_peek(0, "h2", 2, NOW, &it), STORAGE_OK);
    assert_false(it.fetched);
}

static void
test_invalidate_and_win(void **state)
{
    (void)state;
    assert_int_equal(put(0, "w", "v", NOW + 10000), 0);
    uint64_t c = cas_of("w");
    assert_int_equal(storage_invalidate(0, "w", 1, STORAGE_EXPIRY_KEEP, NOW),
            STORAGE_OK);
    struct storage_item it;
    assert_int_equal(storage_get(0, "w", 1, NOW, &it), STORAGE_OK);
    assert_true(it.stale);
    assert_false(it.win_sent);
    assert_int_not_equal(it.cas, c);
    assert_int_equal(it.expiry, NOW + 10000);
    assert_true(storage_item_claim_win(&it));
    assert_false(storage_item_claim_win(&it));
    assert_int_equal(storage_get(0, "w", 1, NOW, &it), STORAGE_OK);
    assert_true(it.win_sent);
    /* a new set clears stale and the token */
    assert_int_equal(put(0, "w", "fresh", 0), 0);
    assert_int_equal(storage_get(0, "w", 1, NOW, &it), STORAGE_OK);
    assert_false(it.stale);
    assert_false(it.win_sent);
    /* vivify: stored with the token taken */
    struct storage_write w = {.mode = STORAGE_ADD, .win_sent = true};
    assert_int_equal(
            storage_set(0, "viv", 3, "", 0, &w, NOW, NULL, NULL), STORAGE_OK);
    assert_int_equal(storage_get(0, "viv", 3, NOW, &it), STORAGE_OK);
    assert_true(it.win_sent);
    assert_int_equal(it.vlen, 0);
}

/* --- ranges ------------------------------------------------------------- */

static void
test_setrange_getrange(void **state)
{
    (void)state;
    size_t len;
    assert_int_equal(
            storage_setrange(0, "r", 1, 3, "abc", 3, NOW, &len), STORAGE_OK);
    assert_int_equal(len, 6);
    expect_n(0, "r", "\0\0\0abc", 6);
    assert_int_equal(
            storage_setrange(0, "r", 1, 1, "XY", 2, NOW, &len), STORAGE_OK);
    expect_n(0, "r", "\0XYabc", 6);
    assert_int_equal(
            storage_setrange(0, "r", 1, 0, "", 0, NOW, &len), STORAGE_OK);
    assert_int_equal(len, 6);
    assert_int_equal(
            storage_setrange(0, "q", 1, 5, "", 0, NOW, &len), STORAGE_OK);
    assert_int_equal(len, 0);
    struct storage_item it;
    assert_int_equal(storage_peek(0, "q", 1, NOW, &it), STORAGE_NOT_FOUND);
    assert_int_equal(put(0, "g", "This is a string", 0), 0);
    assert_int_equal(storage_peek(0, "g", 1, NOW, &it), STORAGE_OK);
    assert_int_equal(
            storage_setrange(0, "g", 1, 2 * 1024 * 1024, "x", 1, NOW, &len),
            STORAGE_EOVERSIZE);
}

/* --- rename / copy ------------------------------------------------------ */

static void
test_rename_copy(void **state)
{
    (void)state;
    assert_int_equal(put(0, "src", "val", NOW + 8000), 0);
    assert_int_equal(
            storage_rename(0, "src", 3, "dst", 3, STORAGE_OVERWRITE, NOW),
            STORAGE_OK);
    struct storage_item it;
    assert_int_equal(storage_peek(0, "src", 3, NOW, &it), STORAGE_NOT_FOUND);
    assert_int_equal(storage_peek(0, "dst", 3, NOW, &it), STORAGE_OK);
    assert_int_equal(it.expiry, NOW + 8000);
    assert_int_equal(it.cflags, 42);
    assert_int_equal(
            storage_rename(0, "src", 3, "dst", 3, STORAGE_OVERWRITE, NOW),
            STORAGE_NOT_FOUND);
    assert_int_equal(put(0, "other", "o", 0), 0);
    assert_int_equal(
            storage_rename(0, "other", 5, "dst", 3, STORAGE_NO_OVERWRITE, NOW),
            STORAGE_NOT_STORED);
    expect(0, "other", "o");
    assert_int_equal(
            storage_rename(0, "dst", 3, "dst", 3, STORAGE_OVERWRITE, NOW),
            STORAGE_OK);
    assert_int_equal(
            storage_copy(0, "dst", 3, 5, "dst", 3, STORAGE_NO_OVERWRITE, NOW),
            STORAGE_OK);
    expect(5, "dst", "val");
    expect(0, "dst", "val");
    assert_int_equal(
            storage_copy(0, "dst", 3, 5, "dst", 3, STORAGE_NO_OVERWRITE, NOW),
            STORAGE_NOT_STORED);
    assert_int_equal(
            storage_copy(0, "dst", 3, 0, "dst", 3, STORAGE_OVERWRITE, NOW),
            STORAGE_EINVAL);
}

/* --- random, scan, count ------------------------------------------------ */

struct seen {
    int n;
    uint8_t hit[200];
};

static void
scan_cb(const struct storage_item *it, void *arg)
{
    struct seen *s = arg;
    int i;
    char buf[16];
    assert_true(it->klen < sizeof(buf));
    memcpy(buf, it->key, it->klen);
    buf[it->klen] = 0;
    assert_int_equal(sscanf(buf, "scan-%d", &i), 1);
    s->hit[i]++;
    s->n++;
}

static void
test_scan_and_random(void **state)
{
    (void)state;
    struct storage_item it;
    assert_int_equal(storage_random_key(2, NOW, &it), STORAGE_NOT_FOUND);
    char key[16];
    for (int i = 0; i < 200; i++) {
        snprintf(key, sizeof(key), "scan-%d", i);
        assert_int_equal(put(2, key, "v", 0), STORAGE_OK);
    }
    assert_int_equal(put(3, "scan-0", "v", 0), STORAGE_OK);
    assert_int_equal(storage_count(2), 200);
    struct seen s = {0};
    uint64_t cursor = 0;
    int rounds = 0;
    do {
        cursor = storage_scan(2, cursor, 64, NOW, scan_cb, &s);
        rounds++;
        /* deleting keys during the scan does not hide the others */
        if (rounds == 2) {
            assert_int_equal(
                    storage_delete(2, "scan-199", 8, 0, NOW), STORAGE_OK);
        }
    } while (cursor != 0);
    assert_true(rounds > 1);
    for (int i = 0; i < 199; i++) {
        assert_int_equal(s.hit[i], 1);
    }
    assert_int_equal(storage_random_key(2, NOW, &it), STORAGE_OK);
    assert_int_equal(it.db, 2);
    assert_memory_equal(it.key, "scan-", 5);
}

/* --- streaming ---------------------------------------------------------- */

static void
test_reserve_commit_abort(void **state)
{
    (void)state;
    struct storage_reservation r;
    struct storage_write w = {.cflags = 7, .expiry = NOW + 1000};
    assert_int_equal(
            storage_reserve(&r, 0, "stream", 6, 10, &w, NOW), STORAGE_OK);
    assert_int_equal(r.vlen, 10);
    memcpy(r.value, "01234", 5);
    struct storage_item it;
    /* invisible until commit */
    assert_int_equal(storage_peek(0, "stream", 6, NOW, &it), STORAGE_NOT_FOUND);
    memcpy(r.value + 5, "56789", 5);
    uint64_t cas;
    assert_int_equal(storage_commit(&r, NOW, NULL, &cas), STORAGE_OK);
    expect(0, "stream", "0123456789");
    assert_int_equal(cas_of("stream"), cas);
    /* abort leaves the old value */
    assert_int_equal(
            storage_reserve(&r, 0, "stream", 6, 3, &w, NOW), STORAGE_OK);
    memcpy(r.value, "xyz", 3);
    storage_abort(&r);
    expect(0, "stream", "0123456789");
    /* a flush between reserve and commit: the committed item lives */
    assert_int_equal(storage_reserve(&r, 0, "late", 4, 2, &w, NOW), STORAGE_OK);
    memcpy(r.value, "ok", 2);
    assert_int_equal(storage_flush(0, NOW, NOW), STORAGE_OK);
    assert_int_equal(storage_commit(&r, NOW, NULL, NULL), STORAGE_OK);
    expect(0, "late", "ok");
    /* mode checked at commit */
    struct storage_write add = {.mode = STORAGE_ADD};
    assert_int_equal(
            storage_reserve(&r, 0, "late", 4, 1, &add, NOW), STORAGE_OK);
    r.value[0] = 'x';
    assert_int_equal(storage_commit(&r, NOW, NULL, NULL), STORAGE_EXISTS);
    expect(0, "late", "ok");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup(test_update, each_setup),
            cmocka_unit_test_setup(test_explicit_cas_and_freq, each_setup),
            cmocka_unit_test_setup(test_append_prepend, each_setup),
            cmocka_unit_test_setup(test_append_past_size_limit, each_setup),
            cmocka_unit_test_setup(test_touch_keeps_cas, each_setup),
            cmocka_unit_test_setup(test_touch_conditions, each_setup),
            cmocka_unit_test_setup(test_keep_ttl, each_setup),
            cmocka_unit_test_setup(test_access_flags, each_setup),
            cmocka_unit_test_setup(test_invalidate_and_win, each_setup),
            cmocka_unit_test_setup(test_setrange_getrange, each_setup),
            cmocka_unit_test_setup(test_rename_copy, each_setup),
            cmocka_unit_test_setup(test_scan_and_random, each_setup),
            cmocka_unit_test_setup(test_reserve_commit_abort, each_setup),
            cmocka_unit_test_setup(test_cas_from_location, each_setup),
            cmocka_unit_test_setup(test_item_footprint, each_setup),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
