/* SPDX-License-Identifier: Apache-2.0 */
/* Sorted sets in the keyspace (processor/zcoll.h) against a model: random
 * puts and removes with thresholds low enough that the listpack ->
 * skiplist conversion happens (and never goes back), each version checked
 * entry by entry in (score, member) order and by member lookups; a commit
 * racing a plain write answers COLL_RETRY; zset_store replaces a key of
 * any type, with no TTL, and deletes it when empty. */
#include "unit.h"

#include "base/time.h"
#include "processor/coll.h"
#include "processor/zcoll.h"
#include "storage/seg/seg.h"
#include "storage/storage.h"

#include "seg_start.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW   1700000000000ULL
#define NELEM 400

static seg_metrics_st metrics;

static int
setup(void **state)
{
    (void)state;
    seg_start(&metrics, 32 * MiB, 256 * KiB);
    /* 16 entries, 24-byte members: both thresholds are crossed */
    coll_limits = (struct coll_limits){512, 64, 512, 16, 24};
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    seg_teardown();
    coll_limits = (struct coll_limits){512, 64, 512, 128, 64};
    zset_tune = (struct zset_tune){8192, 8192, 6144, 48, 65536};
    return 0;
}

/* the model: member i present with score[i] */
static bool has[NELEM];
static double score[NELEM];

static size_t
member(char *buf, uint32_t i)
{
    /* one in 50 passes the 24-byte value limit */
    return (size_t)snprintf(buf, 64, "%s%u",
            i % 50 == 7 ? "a-member-name-past-24-bytes-" : "m", i);
}

static double
random_score(void)
{
    switch (rand() % 8) {
    case 0:
        return INFINITY;
    case 1:
        return -INFINITY;
    case 2:
        return 0.0;
    case 3:
        return -0.0; /* stored as 0 */
    default:
        return (double)(rand() % 41 - 20) / (rand() % 2 ? 1 : 4);
    }
}

/* The model's entries in (score, member) order. */
static size_t
model_sorted(struct zpack_ent *out, char names[][64])
{
    size_t n = 0;
    for (uint32_t i = 0; i < NELEM; i++) {
        if (has[i]) {
            size_t len = member(names[n], i);
            out[n] = (struct zpack_ent){(const uint8_t *)names[n], len,
                    score[i] == 0 ? 0.0 : score[i]};
            n++;
        }
    }
    for (size_t i = 1; i < n; i++) { /* insertion sort: independent */
        struct zpack_ent t = out[i];
        size_t j = i;
        while (j > 0 && zpack_ent_cmp(&out[j - 1], &t) > 0) {
            out[j] = out[j - 1];
            j--;
        }
        out[j] = t;
    }
    return n;
}

static void
check(uint8_t want_enc)
{
    static struct zpack_ent want[NELEM];
    static char names[NELEM][64];
    size_t n = model_sorted(want, names);
    struct zset z;
    coll_status_e st = zset_open(&z, 0, "z", 1, false, KS_NOSTATS, NOW);
    if (n == 0) {
        assert_int_equal(st, COLL_MISS);
        zset_close(&z);
        return;
    }
    assert_int_equal(st, COLL_OK);
    assert_int_equal(z.enc, want_enc);
    assert_int_equal(z.n, n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(z.e[i].mlen, want[i].mlen);
        assert_memory_equal(z.e[i].m, want[i].m, want[i].mlen);
        assert_true(z.e[i].score == want[i].score);
        assert_int_equal(zset_find(&z, want[i].m, want[i].mlen), (long)i);
    }
    assert_int_equal(zset_find(&z, "absent", 6), -1);
    zset_close(&z);
}

static void
test_zset_against_model(void **state)
{
    (void)state;
    memset(has, 0, sizeof(has));
    srand(16);
    uint8_t enc = ZSET_ENC_LISTPACK;
    bool saw_listpack = false, saw_skiplist = false;
    size_t count = 0;
    for (int op = 0; op < 3000; op++) {
        struct zset z;
        coll_status_e st = zset_open(&z, 0, "z", 1, true, KS_NOSTATS, NOW);
        assert_true(st == COLL_OK || st == COLL_MISS);
        bool shrink = op > 2000;
        int batch = 1 + rand() % 6;
        for (int b = 0; b < batch; b++) {
            /* few members early on, so the listpack stage is seen */
            uint32_t range = op < 200 ? 12 : NELEM;
            uint32_t i = (uint32_t)rand() % range;
            if (op < 200 && i % 50 == 7) {
                i++;
            }
            char name[64];
            size_t len = member(name, i);
            long at = zset_find(&z, name, len);
            assert_int_equal(at >= 0, has[i]);
            if (shrink ? rand() % 8 != 0 : rand() % 4 == 0) {
                if (at >= 0) {
                    zset_remove(&z, (size_t)at, 1);
                    has[i] = false;
                    count--;
                }
                continue;
            }
            /* the member's bytes must outlive the commit: keep a copy */
            static char keep[64][64];
            char *m = keep[b];
            memcpy(m, name, len);
            double s = random_score();
            assert_int_equal(zset_put(&z, m, len, s), COLL_OK);
            count += !has[i];
            has[i] = true;
            score[i] = s;
        }
        assert_int_equal(z.n, count);
        assert_int_equal(zset_commit(&z), COLL_OK);
        zset_close(&z);
        /* Redis's rule: past either threshold it converts, never back */
        bool small = count <= 16;
        for (uint32_t i = 0; small && i < NELEM; i++) {
            small = !has[i] || i % 50 != 7;
        }
        if (count == 0) {
            enc = ZSET_ENC_LISTPACK; /* deleted: a new key starts small */
        } else if (!small) {
            enc = ZSET_ENC_SKIPLIST;
        }
        saw_listpack |= count > 0 && enc == ZSET_ENC_LISTPACK;
        saw_skiplist |= enc == ZSET_ENC_SKIPLIST;
        check(enc);
    }
    assert_true(saw_listpack);
    assert_true(saw_skiplist);
}

/* Sets in parts: sizes low enough that 400 members make tens of entry
 * parts and index buckets; every step goes through the lazy accessors
 * (ZADD, ZREM, ZPOP's way) or, one step in eight, through a whole decode
 * and rewrite (ZREMRANGEBYLEX's way), and the set is checked against the
 * model both ways: decoded whole (order, scores), and lazily (each
 * member's score and rank, counts below random scores, random windows). */
static void
check_lazy(void)
{
    static struct zpack_ent want[NELEM];
    static char names[NELEM][64];
    size_t n = model_sorted(want, names);
    struct zset z;
    coll_status_e st = zset_open(&z, 0, "z", 1, false, ZSET_LAZY, NOW);
    if (n == 0) {
        assert_int_equal(st, COLL_MISS);
        zset_close(&z);
        return;
    }
    assert_int_equal(st, COLL_OK);
    assert_int_equal(z.n, n);
    for (size_t i = 0; i < n; i++) {
        double sc;
        uint64_t rank;
        assert_int_equal(zset_score(&z, want[i].m, want[i].mlen, &sc), COLL_OK);
        assert_true(sc == want[i].score);
        assert_int_equal(
                zset_rank(&z, want[i].m, want[i].mlen, &rank), COLL_OK);
        assert_int_equal(rank, i);
    }
    double sc;
    assert_int_equal(zset_score(&z, "absent", 6, &sc), COLL_MISS);
    for (int t = 0; t < 20; t++) {
        double s = random_score();
        bool incl = rand() % 2;
        size_t below = 0;
        while (below < n &&
                (incl ? want[below].score <= s : want[below].score < s)) {
            below++;
        }
        uint64_t got;
        assert_int_equal(zset_below(&z, s, incl, &got), COLL_OK);
        assert_int_equal(got, below);
        uint64_t from = (uint64_t)rand() % n, cnt = 1 + (uint64_t)rand() % 40;
        assert_int_equal(zset_window(&z, from, cnt), COLL_OK);
        for (uint64_t r = from; r < from + cnt && r < n; r++) {
            const struct zpack_ent *e = zset_ent(&z, r);
            assert_int_equal(e->mlen, want[r].mlen);
            assert_memory_equal(e->m, want[r].m, e->mlen);
            assert_true(e->score == want[r].score);
        }
    }
    zset_close(&z);
}

/* Random changes and reads against the model under tune; returns whether
 * the index ever had more parts than index_avg members a part ask for
 * (grown for bytes: index_room, build_parts). */
static bool
parts_against_model(struct zset_tune tune)
{
    zset_tune = tune;
    bool grown_for_bytes = false;
    uint64_t max_n = 0;
    memset(has, 0, sizeof(has));
    srand(17);
    size_t count = 0;
    bool saw_parts = false, saw_lazy_change = false;
    uint64_t parts_seen = 0;
    for (int op = 0; op < 1500; op++) {
        bool lazy = op % 8 != 5;
        struct zset z;
        coll_status_e st = zset_open(
                &z, 0, "z", 1, true, KS_NOSTATS | (lazy ? ZSET_LAZY : 0), NOW);
        assert_true(st == COLL_OK || st == COLL_MISS);
        saw_lazy_change |= z.lazy;
        bool shrink = op > 1000;
        int batch = 1 + rand() % 6;
        if (op % 3 == 0) { /* the changes of one command held to commit */
            assert_int_equal(zset_batch(&z), COLL_OK);
            batch = 1 + rand() % 40;
        }
        static char keep[40][64];
        for (int b = 0; b < batch; b++) {
            uint32_t i = (uint32_t)rand() % NELEM;
            char *m = keep[b];
            size_t len = member(m, i);
            double cur;
            st = zset_score(&z, m, len, &cur);
            assert_int_equal(st, has[i] ? COLL_OK : COLL_MISS);
            if (has[i]) {
                assert_true(cur == (score[i] == 0 ? 0.0 : score[i]));
            }
            if (shrink ? rand() % 6 != 0 : rand() % 4 == 0) {
                bool removed;
                assert_int_equal(zset_del(&z, m, len, &removed), COLL_OK);
                assert_int_equal(removed, has[i]);
                count -= has[i];
                has[i] = false;
                continue;
            }
            double s = random_score();
            assert_int_equal(zset_put(&z, m, len, s), COLL_OK);
            count += !has[i];
            has[i] = true;
            score[i] = s;
        }
        assert_int_equal(z.n, count);
        if (z.batch != NULL && count > 0) { /* reads inside a batch */
            static struct zpack_ent want[NELEM];
            static char names[NELEM][64];
            size_t n = model_sorted(want, names);
            size_t r = (size_t)rand() % n;
            uint64_t rank, below;
            assert_int_equal(
                    zset_rank(&z, want[r].m, want[r].mlen, &rank), COLL_OK);
            assert_int_equal(rank, r);
            assert_int_equal(
                    zset_below(&z, want[r].score, false, &below), COLL_OK);
            size_t lt = 0;
            while (lt < n && want[lt].score < want[r].score) {
                lt++;
            }
            assert_int_equal(below, lt);
        }
        assert_int_equal(zset_commit(&z), COLL_OK);
        parts_seen += z.parts ? z.nparts : 0;
        /* by members, at most max_n / (index_avg / 2 + 1) + 1 (a build) */
        max_n = z.n > max_n ? z.n : max_n;
        grown_for_bytes |=
                z.parts && z.nh > max_n / (tune.index_avg / 2 + 1) + 2;
        zset_close(&z);
        struct storage_item it;
        if (storage_peek(0, "z", 1, NOW, &it) == STORAGE_OK && it.parts) {
            saw_parts = true;
        }
        if (op % 10 == 0 || op > 1480) {
            check(count == 0 ? ZSET_ENC_LISTPACK : ZSET_ENC_SKIPLIST);
            check_lazy();
        }
    }
    assert_true(saw_parts);
    assert_true(saw_lazy_change);
    assert_true(parts_seen > 0);
    return grown_for_bytes;
}

static void
test_zset_parts_against_model(void **state)
{
    (void)state;
    /* index parts grown by members only */
    assert_false(
            parts_against_model((struct zset_tune){256, 200, 150, 4, 4096}));
}

/* Large members: an index part is kept within index_max bytes by growing
 * the index (60 KB members used to fill one index part past an item at
 * 17 members: -ERR element too large). Members here are up to 40 bytes,
 * so 100 bytes holds one or two. */
static void
test_zset_index_grows_for_bytes_against_model(void **state)
{
    (void)state;
    assert_true(parts_against_model((struct zset_tune){256, 200, 150, 4, 100}));
}

static void
test_zset_commit_races_a_write(void **state)
{
    (void)state;
    struct zset z;
    assert_int_equal(
            zset_open(&z, 0, "r", 1, true, KS_NOSTATS, NOW), COLL_MISS);
    assert_int_equal(zset_put(&z, "a", 1, 1.0), COLL_OK);
    assert_int_equal(zset_commit(&z), COLL_OK);
    zset_close(&z);
    assert_int_equal(zset_open(&z, 0, "r", 1, true, KS_NOSTATS, NOW), COLL_OK);
    assert_int_equal(zset_put(&z, "b", 1, 2.0), COLL_OK);
    /* a plain write lands between the open and the commit */
    struct storage_write w = {.mode = STORAGE_SET, .type = STORAGE_TYPE_ZSET};
    uint8_t img[1 + 64];
    struct zpack_ent one = {(const uint8_t *)"c", 1, 3.0};
    img[0] = ZSET_ENC_LISTPACK;
    size_t len = 1 + zpack_write(img + 1, &one, 1);
    assert_int_equal(
            storage_set(0, "r", 1, img, len, &w, NOW, NULL, NULL), STORAGE_OK);
    assert_int_equal(zset_commit(&z), COLL_RETRY);
    zset_close(&z);
    assert_int_equal(zset_open(&z, 0, "r", 1, false, KS_NOSTATS, NOW), COLL_OK);
    assert_int_equal(z.n, 1);
    assert_memory_equal(z.e[0].m, "c", 1);
    zset_close(&z);
}

static void
test_zset_store_replaces_any_key(void **state)
{
    (void)state;
    struct storage_write w = {.mode = STORAGE_SET, .expiry = NOW + 60000};
    assert_int_equal(
            storage_set(0, "d", 1, "str", 3, &w, NOW, NULL, NULL), STORAGE_OK);
    struct zpack_ent e[20];
    char names[20][8];
    for (int i = 0; i < 20; i++) {
        size_t len = (size_t)snprintf(names[i], sizeof(names[i]), "e%02d", i);
        e[i] = (struct zpack_ent){(const uint8_t *)names[i], len, (double)i};
    }
    uint32_t s = ks_stripe(0, "d", 1);
    ks_lock(s);
    assert_int_equal(zset_store(0, "d", 1, e, 3, NOW), COLL_OK);
    ks_unlock(s);
    struct storage_item it;
    assert_int_equal(storage_get(0, "d", 1, NOW, &it), STORAGE_OK);
    assert_int_equal(it.type, STORAGE_TYPE_ZSET);
    assert_int_equal(it.expiry, TIME_NEVER);
    assert_string_equal(zset_encoding_name(&it), "listpack");
    /* past 16 entries: stored as a skiplist */
    ks_lock(s);
    assert_int_equal(zset_store(0, "d", 1, e, 20, NOW), COLL_OK);
    ks_unlock(s);
    assert_int_equal(storage_get(0, "d", 1, NOW, &it), STORAGE_OK);
    assert_string_equal(zset_encoding_name(&it), "skiplist");
    struct zset z;
    assert_int_equal(zset_open(&z, 0, "d", 1, false, KS_NOSTATS, NOW), COLL_OK);
    assert_int_equal(z.n, 20);
    zset_close(&z);
    /* nothing: the key goes */
    ks_lock(s);
    assert_int_equal(zset_store(0, "d", 1, e, 0, NOW), COLL_OK);
    ks_unlock(s);
    assert_int_equal(storage_get(0, "d", 1, NOW, &it), STORAGE_NOT_FOUND);
}

static void
test_zset_wrongtype(void **state)
{
    (void)state;
    struct storage_write w = {.mode = STORAGE_SET};
    assert_int_equal(
            storage_set(0, "s", 1, "v", 1, &w, NOW, NULL, NULL), STORAGE_OK);
    struct zset z;
    assert_int_equal(
            zset_open(&z, 0, "s", 1, true, KS_NOSTATS, NOW), COLL_WRONGTYPE);
    zset_close(&z);
    assert_int_equal(
            zset_open(&z, 0, "s", 1, false, KS_NOSTATS, NOW), COLL_WRONGTYPE);
    zset_close(&z);
}

/* Entry parts are sized to their set (zcoll.c, part_max_for): 1,000
 * members of 20 bytes are cut into parts of about 1.4 KiB, so a change
 * walks and copies a few dozen entries rather than 270 (ZADD -r 1000: 24%
 * fewer instructions); grown to 40,000 members the parts reach 8 KiB. */
static void
test_zset_part_size_follows_the_set(void **state)
{
    (void)state;
    const uint32_t sizes[2] = {1000, 40000};
    const uint32_t lo[2] = {20, 120}, hi[2] = {64, 400};
    uint32_t done = 0;
    for (int t = 0; t < 2; t++) {
        for (; done < sizes[t]; done++) {
            char m[32];
            /* 7919 is prime to 40000: every member differs */
            int len = snprintf(m, sizeof(m), "element:%012u",
                    (unsigned)((done * 7919u) % sizes[1]));
            struct zset z;
            coll_status_e st = zset_open(
                    &z, 0, "big", 3, true, KS_NOSTATS | ZSET_LAZY, NOW);
            assert_true(st == COLL_OK || st == COLL_MISS);
            assert_int_equal(zset_put(&z, m, (size_t)len, done % 997), COLL_OK);
            assert_int_equal(zset_commit(&z), COLL_OK);
            zset_close(&z);
        }
        struct zset z;
        assert_int_equal(
                zset_open(&z, 0, "big", 3, false, KS_NOSTATS | ZSET_LAZY, NOW),
                COLL_OK);
        assert_int_equal(z.n, sizes[t]);
        assert_true(z.parts);
        assert_in_range(z.nparts - z.nh, lo[t], hi[t]);
        zset_close(&z);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(
                    test_zset_against_model, setup, teardown),
            cmocka_unit_test_setup_teardown(
                    test_zset_parts_against_model, setup, teardown),
            cmocka_unit_test_setup_teardown(
                    test_zset_index_grows_for_bytes_against_model, setup,
                    teardown),
            cmocka_unit_test_setup_teardown(
                    test_zset_commit_races_a_write, setup, teardown),
            cmocka_unit_test_setup_teardown(
                    test_zset_store_replaces_any_key, setup, teardown),
            cmocka_unit_test_setup_teardown(
                    test_zset_wrongtype, setup, teardown),
            cmocka_unit_test_setup_teardown(
                    test_zset_part_size_follows_the_set, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
