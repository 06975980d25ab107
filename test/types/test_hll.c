/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for hll: the bytes Redis 7.0.15 stores for the same inserts (test
 * vectors taken once from a real redis-server: data/hll_<n>.hex), sparse ->
 * dense promotion and its threshold, merges, the cached cardinality, the
 * estimate against exact counts from 10^3 to 10^6 elements within Redis's
 * error, and corrupt images refused without reading out of bounds. */
#include "types/hll.h"

#include "unit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CAP (HLL_DENSE_SIZE + 64)

/* A vector file: a comment line "... PFCOUNT = <n>", then hex. */
static size_t
load_vector(const char *name, uint8_t *out, size_t cap, uint64_t *count)
{
    char path[1024];
    const char *file = __FILE__;
    const char *slash = strrchr(file, '/');
    int dir = slash != NULL ? (int)(slash - file) : 1;
    snprintf(path, sizeof(path), "%.*s/data/%s", dir,
            slash != NULL ? file : ".", name);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[256];
    assert_non_null(fgets(line, sizeof(line), f));
    const char *eq = strstr(line, "PFCOUNT = ");
    assert_non_null(eq);
    *count = strtoull(eq + 10, NULL, 10);
    size_t n = 0;
    unsigned v;
    while (n < cap && fscanf(f, "%2x", &v) == 1) {
        out[n++] = (uint8_t)v;
    }
    fclose(f);
    return n;
}

static size_t
add_range(uint8_t *buf, size_t len, uint64_t from, uint64_t to)
{
    char ele[32];
    for (uint64_t i = from; i < to; i++) {
        int n = snprintf(ele, sizeof(ele), "e%llu", (unsigned long long)i);
        assert_int_not_equal(
                hll_add(buf, &len, CAP, ele, (size_t)n, HLL_SPARSE_MAX_BYTES),
                HLL_ECORRUPT);
    }
    return len;
}

static void
test_hll_empty(void **state)
{
    (void)state;
    uint8_t buf[CAP];
    size_t len = hll_init(buf);
    static const uint8_t want[HLL_EMPTY_SIZE] = {
            'H', 'Y', 'L', 'L', 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x7f, 0xff};
    assert_int_equal(len, HLL_EMPTY_SIZE);
    assert_memory_equal(buf, want, len);
    assert_true(hll_is_hll(buf, len));
    uint64_t card = 99;
    assert_int_equal(hll_count(buf, len, &card), HLL_UNCHANGED);
    assert_int_equal(card, 0);
}

/* The stored bytes equal Redis's for the same elements. */
static void
test_hll_redis_bytes(void **state)
{
    (void)state;
    static const struct {
        const char *file;
        uint64_t n;
        uint8_t enc;
    } v[] = {{"hll_10.hex", 10, HLL_SPARSE}, {"hll_200.hex", 200, HLL_SPARSE},
            {"hll_5000.hex", 5000, HLL_DENSE}};
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        uint8_t want[CAP], buf[CAP];
        uint64_t count;
        size_t wlen = load_vector(v[i].file, want, sizeof(want), &count);
        size_t len = add_range(buf, hll_init(buf), 0, v[i].n);
        hll_cache_invalidate(buf); /* what PFADD does on a change */
        assert_int_equal(len, wlen);
        assert_int_equal(buf[4], v[i].enc);
        assert_memory_equal(buf, want, len);
        uint64_t card;
        assert_int_equal(hll_count(buf, len, &card), HLL_UNCHANGED);
        assert_int_equal(card, count);
        assert_false(hll_cache_valid(buf));
        hll_cache_set(buf, card);
        assert_true(hll_cache_valid(buf));
        assert_int_equal(hll_cache_get(buf), count);
    }
}

/* The sparse image becomes dense when it would pass sparse_max bytes, and
 * keeps its registers and header (the cache) when it does. */
static void
test_hll_promotion(void **state)
{
    (void)state;
    uint8_t buf[CAP];
    size_t len = hll_init(buf);
    hll_cache_set(buf, 77);
    char ele[32];
    size_t max = 300;
    uint64_t i = 0;
    while (buf[4] == HLL_SPARSE) {
        assert_true(len <= max);
        int n = snprintf(ele, sizeof(ele), "p%llu", (unsigned long long)i++);
        hll_add(buf, &len, CAP, ele, (size_t)n, max);
    }
    assert_int_equal(len, HLL_DENSE_SIZE);
    assert_int_equal(hll_cache_get(buf), 77);
    /* the same elements into a dense image from the start */
    uint8_t d[CAP];
    size_t dlen = hll_init(d);
    assert_int_equal(hll_to_dense(d, &dlen, CAP), HLL_CHANGED);
    for (uint64_t j = 0; j < i; j++) {
        int n = snprintf(ele, sizeof(ele), "p%llu", (unsigned long long)j);
        hll_add(d, &dlen, CAP, ele, (size_t)n, max);
    }
    hll_cache_set(d, 77);
    assert_memory_equal(buf, d, HLL_DENSE_SIZE);
}

/* Merging keeps the max of every register: the merge of two halves counts
 * as the whole. */
static void
test_hll_merge(void **state)
{
    (void)state;
    uint8_t a[CAP], b[CAP], all[CAP];
    size_t alen = add_range(a, hll_init(a), 0, 150);
    size_t blen = add_range(b, hll_init(b), 150, 4000);
    size_t len = add_range(all, hll_init(all), 0, 4000);
    uint8_t *max = calloc(HLL_REGISTERS, 1);
    assert_non_null(max);
    assert_int_equal(hll_merge(max, a, alen), HLL_UNCHANGED);
    assert_int_equal(hll_merge(max, b, blen), HLL_UNCHANGED);
    uint64_t card;
    assert_int_equal(hll_count(all, len, &card), HLL_UNCHANGED);
    assert_int_equal(hll_count_raw(max), card);
    /* raising a's registers to max gives all's registers */
    for (uint32_t i = 0; i < HLL_REGISTERS; i++) {
        if (max[i] != 0) {
            hll_raise(a, &alen, CAP, i, max[i], HLL_SPARSE_MAX_BYTES);
        }
    }
    hll_to_dense(a, &alen, CAP);
    hll_to_dense(all, &len, CAP);
    assert_memory_equal(a + HLL_HDR_SIZE, all + HLL_HDR_SIZE,
            HLL_DENSE_SIZE - HLL_HDR_SIZE);
    free(max);
}

/* Redis's error over these sizes: 0.81% standard error; allow 4 sigma. */
static void
test_hll_estimates(void **state)
{
    (void)state;
    uint8_t buf[CAP];
    size_t len = hll_init(buf);
    uint64_t done = 0;
    for (uint64_t n = 1000; n <= 1000000; n *= 10) {
        len = add_range(buf, len, done, n);
        done = n;
        uint64_t card;
        assert_int_equal(hll_count(buf, len, &card), HLL_UNCHANGED);
        double err = fabs((double)card - (double)n) / (double)n;
        assert_true(err < 4 * 0.0081);
    }
}

/* Corrupt images: refused, never read past their length (ASan checks the
 * exact-size copies). */
static void
test_hll_corrupt(void **state)
{
    (void)state;
    static const struct {
        const char *bytes;
        size_t len;
    } bad[] = {
            {"HYLL\x01\0\0\0\0\0\0\0\0\0\0\x80", 16},         /* no runs */
            {"HYLL\x01\0\0\0\0\0\0\0\0\0\0\x80\x7f", 17},     /* XZERO cut */
            {"HYLL\x01\0\0\0\0\0\0\0\0\0\0\x80\x7f\xfe", 18}, /* 16383 */
            {"HYLL\x01\0\0\0\0\0\0\0\0\0\0\x80\x7f\xff\x80", 19}, /* 16385 */
            {"HYLL\x01\0\0\0\0\0\0\0\0\0\0\x80\x7f\xfe\xff", 19}, /* VAL past */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint8_t *p = malloc(bad[i].len);
        memcpy(p, bad[i].bytes, bad[i].len);
        assert_true(hll_is_hll(p, bad[i].len));
        uint64_t card;
        assert_int_equal(hll_count(p, bad[i].len, &card), HLL_ECORRUPT);
        uint8_t max[HLL_REGISTERS] = {0};
        /* a VAL past the last register stops a merge; with the runs
         * before it complete, Redis's merge takes the image (case 4) */
        assert_int_equal(hll_merge(max, p, bad[i].len),
                i == 3 ? HLL_UNCHANGED : HLL_ECORRUPT);
        free(p);
        uint8_t buf[CAP];
        size_t len = bad[i].len;
        memcpy(buf, bad[i].bytes, len);
        /* a run past 32 goes dense: the runs must cover every register
         * (and case 4 converts, as Redis's hllSparseToDense does) */
        if (i == 3) {
            assert_int_equal(
                    hll_raise(buf, &len, CAP, 0, 40, 3000), HLL_CHANGED);
            assert_int_equal(len, HLL_DENSE_SIZE);
            continue;
        }
        assert_int_equal(hll_raise(buf, &len, CAP, HLL_REGISTERS - 1, 40, 3000),
                HLL_ECORRUPT);
        assert_int_equal(hll_to_dense(buf, &len, CAP), HLL_ECORRUPT);
    }
    assert_false(hll_is_hll((const uint8_t *)"HYLL", 4));
    assert_false(
            hll_is_hll((const uint8_t *)"HYLL\x02\0\0\0\0\0\0\0\0\0\0\0", 16));
    assert_false(
            hll_is_hll((const uint8_t *)"HYLX\x01\0\0\0\0\0\0\0\0\0\0\0", 16));
    assert_false(hll_is_hll((const uint8_t *)"HYLL\x00\0\0\0\0\0\0\0\0\0\0\0",
            16)); /* dense of the wrong size */
}

/* hllPatLen: the register and run of known elements stay stable (the
 * hash is part of the stored format). */
static void
test_hll_pattern(void **state)
{
    (void)state;
    uint8_t count;
    uint32_t idx = hll_pattern("a", 1, &count);
    assert_true(idx < HLL_REGISTERS);
    assert_true(count >= 1 && count <= 51);
    uint8_t buf[CAP];
    size_t len = hll_init(buf);
    assert_int_equal(hll_add(buf, &len, CAP, "a", 1, 3000), HLL_CHANGED);
    assert_int_equal(hll_add(buf, &len, CAP, "a", 1, 3000), HLL_UNCHANGED);
    uint64_t card;
    hll_count(buf, len, &card);
    assert_int_equal(card, 1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_hll_empty),
            cmocka_unit_test(test_hll_redis_bytes),
            cmocka_unit_test(test_hll_promotion),
            cmocka_unit_test(test_hll_merge),
            cmocka_unit_test(test_hll_estimates),
            cmocka_unit_test(test_hll_corrupt),
            cmocka_unit_test(test_hll_pattern),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
