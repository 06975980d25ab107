/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for hash: XXH3 (the header's promise, checked against the
 * reference value of the empty input), deterministic, sensitive to every
 * byte, to the length and to the seed. */
#include "base/hash.h"

#include "unit.h"

#include <stdio.h>
#include <string.h>

static void
test_hash_is_xxh3(void **state)
{
    (void)state;
    /* XXH3_64bits of no bytes, from the xxHash reference */
    assert_true(hash_key("", 0) == UINT64_C(0x2D06800538D394C2));
    /* seed 0 is the unseeded hash */
    const char *k = "segcached";
    assert_true(hash_key_seed(k, strlen(k), 0) == hash_key(k, strlen(k)));
}

static void
test_hash_deterministic(void **state)
{
    (void)state;
    char a[64];
    char b[64];
    for (int i = 0; i < 100; i++) {
        int n = snprintf(a, sizeof(a), "key:%d", i);
        memcpy(b, a, sizeof(a));
        /* same bytes at another address, same hash */
        assert_true(hash_key(a, (size_t)n) == hash_key(b, (size_t)n));
        assert_true(hash_key_seed(a, (size_t)n, 7) ==
                    hash_key_seed(b, (size_t)n, 7));
    }
}

static void
test_hash_different_keys_differ(void **state)
{
    (void)state;
    enum {
        N = 1000
    };
    static uint64_t h[N];
    char k[32];
    for (int i = 0; i < N; i++) {
        int n = snprintf(k, sizeof(k), "key:%d", i);
        h[i] = hash_key(k, (size_t)n);
    }
    /* 64-bit hashes of 1000 keys: a collision would be a broken hash */
    for (int i = 0; i < N; i++) {
        for (int j = i + 1; j < N; j++) {
            assert_true(h[i] != h[j]);
        }
    }
    /* one flipped bit anywhere in a long key changes the hash */
    char buf[300];
    memset(buf, 'x', sizeof(buf));
    uint64_t base = hash_key(buf, sizeof(buf));
    for (size_t i = 0; i < sizeof(buf); i++) {
        buf[i] ^= 1;
        assert_true(hash_key(buf, sizeof(buf)) != base);
        buf[i] ^= 1;
    }
}

static void
test_hash_length_matters(void **state)
{
    (void)state;
    /* only len bytes are read: what follows does not matter */
    char a[] = "abcdefXXXX";
    char b[] = "abcdefYYYY";
    assert_true(hash_key(a, 6) == hash_key(b, 6));
    assert_true(hash_key(a, 7) != hash_key(b, 7));
    /* prefixes of one buffer all differ, zero bytes included */
    char zeros[64] = {0};
    for (size_t n = 1; n < sizeof(zeros); n++) {
        assert_true(hash_key(zeros, n) != hash_key(zeros, n - 1));
    }
}

static void
test_hash_seed_matters(void **state)
{
    (void)state;
    const char *k = "user:1000";
    size_t n = strlen(k);
    uint64_t h0 = hash_key_seed(k, n, 1);
    for (uint64_t seed = 2; seed < 100; seed++) {
        assert_true(hash_key_seed(k, n, seed) != h0);
        assert_true(hash_key_seed(k, n, seed) == hash_key_seed(k, n, seed));
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_hash_is_xxh3),
            cmocka_unit_test(test_hash_deterministic),
            cmocka_unit_test(test_hash_different_keys_differ),
            cmocka_unit_test(test_hash_length_matters),
            cmocka_unit_test(test_hash_seed_matters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
