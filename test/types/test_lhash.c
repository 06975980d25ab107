/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for lhash: growing from 1 to 5,000 buckets one at a time, a random
 * sample of hashes stays where lhash_bucket() predicts and each split
 * moves exactly the elements it should; then a set of packs grown the
 * same way with pack_filter(), every member found in its bucket. */
#include "types/lhash.h"

#include "types/pack.h"
#include "types/types.h"

#include "splitmix.h"
#include "unit.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
test_lhash_small(void **state)
{
    (void)state;
    assert_int_equal(lhash_level(1), 0);
    assert_int_equal(lhash_level(2), 1);
    assert_int_equal(lhash_level(3), 1);
    assert_int_equal(lhash_level(4), 2);
    assert_int_equal(lhash_level(UINT64_MAX), 63);
    /* one bucket holds everything */
    assert_int_equal(lhash_bucket(0xffff, 1), 0);
    assert_int_equal(lhash_split_source(1), 0);
    /* 3 buckets: L = 1; h mod 4 = 3 is not there yet, so h mod 2 = 1 */
    assert_int_equal(lhash_bucket(0, 3), 0);
    assert_int_equal(lhash_bucket(1, 3), 1);
    assert_int_equal(lhash_bucket(2, 3), 2);
    assert_int_equal(lhash_bucket(3, 3), 1);
    assert_int_equal(lhash_bucket(7, 3), 1);
    assert_int_equal(lhash_split_source(3), 1);
    assert_true(lhash_split_moves(3, 3));
    assert_false(lhash_split_moves(1, 3));
    assert_int_equal(lhash_split_source(4), 0);
    assert_int_equal(lhash_split_source(5), 1);
    assert_int_equal(lhash_split_source(8), 0);
    /* the top of the range: no shift by 64 */
    assert_true(lhash_bucket(UINT64_MAX, UINT64_MAX) == (UINT64_MAX >> 1));
    assert_true(lhash_bucket(UINT64_MAX - 1, UINT64_MAX) == UINT64_MAX - 1);
    assert_true(lhash_bucket(UINT64_MAX, 1ULL << 63) == (UINT64_MAX >> 1));
}

#define SAMPLE 2000
#define NMAX   5000

static void
test_lhash_grow(void **state)
{
    (void)state;
    rng_state = 5000;
    uint64_t *h = malloc(SAMPLE * sizeof(*h));
    uint64_t *bucket = malloc(SAMPLE * sizeof(*bucket));
    assert_non_null(h);
    assert_non_null(bucket);
    for (size_t j = 0; j < SAMPLE; j++) {
        h[j] = j < 64 ? ~0ULL >> j : rnd(); /* some with every high bit */
        bucket[j] = 0;
    }
    for (uint64_t n = 1; n < NMAX; n++) {
        uint64_t src = lhash_split_source(n);
        assert_true(src < n);
        size_t moved = 0, in_src = 0;
        for (size_t j = 0; j < SAMPLE; j++) {
            assert_true(lhash_bucket(h[j], n) == bucket[j]);
            uint64_t after = lhash_bucket(h[j], n + 1);
            if (bucket[j] == src) {
                in_src++;
                bool moves = lhash_split_moves(h[j], n);
                /* the predicate is the bucket rule one step on */
                assert_int_equal(moves, after == n);
                assert_true(after == (moves ? n : src));
                if (moves) {
                    bucket[j] = n;
                    moved++;
                }
            } else {
                assert_true(after == bucket[j]); /* nobody else moves */
            }
        }
        assert_true(moved <= in_src);
    }
    for (size_t j = 0; j < SAMPLE; j++) {
        assert_true(lhash_bucket(h[j], NMAX) == bucket[j]);
    }
    free(h);
    free(bucket);
}

/* A set of packs grown from 1 to 300 buckets. */
#define MEMBERS 3000
#define BUCKETS 300

static bool
keep_staying(const uint8_t *e, size_t len, void *arg)
{
    uint64_t n = *(const uint64_t *)arg;
    return !lhash_split_moves(types_hash(e, len), n);
}

static bool
keep_moving(const uint8_t *e, size_t len, void *arg)
{
    return !keep_staying(e, len, arg);
}

static void
test_lhash_packs(void **state)
{
    (void)state;
    uint8_t *bucket[BUCKETS];
    size_t blen[BUCKETS];
    bucket[0] = malloc(1);
    assert_non_null(bucket[0]);
    blen[0] = pack_head_write(bucket[0], 0);
    uint64_t n = 1;
    for (size_t m = 0; m < MEMBERS; m++) {
        char s[16];
        size_t len = (size_t)snprintf(s, sizeof(s), "member:%zu", m);
        uint64_t b = lhash_bucket(types_hash(s, len), n);
        size_t size = pack_insert_size(bucket[b], blen[b], blen[b], len);
        uint8_t *dst = malloc(size);
        assert_non_null(dst);
        assert_int_equal(
                pack_insert_write(dst, bucket[b], blen[b], blen[b], s, len),
                size);
        free(bucket[b]);
        bucket[b] = dst;
        blen[b] = size;
        /* grow every 10 members: a load factor of 10 */
        if (m % 10 == 9 && n < BUCKETS) {
            uint64_t src = lhash_split_source(n);
            size_t stay = pack_filter_size(
                    bucket[src], blen[src], 1, keep_staying, &n);
            size_t go = pack_filter_size(
                    bucket[src], blen[src], 1, keep_moving, &n);
            uint8_t *a = malloc(stay), *c = malloc(go);
            assert_non_null(a);
            assert_non_null(c);
            assert_int_equal(pack_filter_write(a, bucket[src], blen[src], 1,
                                     keep_staying, &n),
                    stay);
            assert_int_equal(pack_filter_write(c, bucket[src], blen[src], 1,
                                     keep_moving, &n),
                    go);
            assert_int_equal(pack_count(a, stay) + pack_count(c, go),
                    pack_count(bucket[src], blen[src]));
            free(bucket[src]);
            bucket[src] = a;
            blen[src] = stay;
            bucket[n] = c;
            blen[n] = go;
            n++;
        }
    }
    assert_int_equal(n, BUCKETS);
    /* the invariant: every element of bucket b hashes to b */
    size_t total = 0;
    for (uint64_t b = 0; b < n; b++) {
        assert_true(pack_valid(bucket[b], blen[b]));
        struct pack_iter it;
        pack_iter_init(&it, bucket[b], blen[b]);
        struct pack_elem e;
        while (pack_next(&it, &e)) {
            assert_true(lhash_bucket(types_hash(e.p, e.len), n) == b);
            total++;
        }
    }
    assert_int_equal(total, MEMBERS);
    for (size_t m = 0; m < MEMBERS; m++) {
        char s[16];
        size_t len = (size_t)snprintf(s, sizeof(s), "member:%zu", m);
        uint64_t b = lhash_bucket(types_hash(s, len), n);
        struct pack_pos pos;
        assert_true(pack_find(bucket[b], blen[b], s, len, 1, &pos));
    }
    for (uint64_t b = 0; b < n; b++) {
        free(bucket[b]);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_lhash_small),
            cmocka_unit_test(test_lhash_grow),
            cmocka_unit_test(test_lhash_packs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
