/* SPDX-License-Identifier: Apache-2.0 */
/* Space-saving summaries and their merge (hotkey/summary.h): exact counts
 * while keys fit, the space-saving bounds on streams that do not (checked
 * against exact counts), the merge's two-sided bounds and the floor of
 * what it leaves out, and the key escaping every output uses. */
#include "unit.h"

#include "hotkey/hotkey.h"
#include "hotkey/summary.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NKEYS 2000

static void
key_of(uint32_t k, char *out, size_t *len)
{
    *len = (size_t)snprintf(out, 32, "key:%u", k);
}

static void
add_key(struct hk_summary *s, uint32_t k, hk_kind_e kind)
{
    char key[32];
    size_t len;
    key_of(k, key, &len);
    hk_summary_add(s, hk_hash(0, key, len), 0, key, len, kind, 1);
}

static const struct hk_entry *
find(const struct hk_view *v, uint32_t k)
{
    char key[32];
    size_t len;
    key_of(k, key, &len);
    uint64_t h = hk_hash(0, key, len);
    for (uint32_t i = 0; i < v->n; i++) {
        if (v->e[i].hash == h) {
            return &v->e[i];
        }
    }
    return NULL;
}

static uint64_t rng = 88172645463325252ULL;

static uint32_t
next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}

/* a skewed key: half the stream on 10 keys, the rest spread */
static uint32_t
skewed(void)
{
    uint32_t r = next_rand();
    return (r & 1) ? (r >> 1) % 10 : (r >> 1) % NKEYS;
}

static void
test_summary_exact_when_keys_fit(void **state)
{
    (void)state;
    struct hk_summary *s = hk_summary_create(16);
    assert_non_null(s);
    for (uint32_t k = 0; k < 10; k++) {
        for (uint32_t n = 0; n <= k; n++) {
            add_key(s, k, n == 0 ? HK_MISS : HK_HIT);
        }
        add_key(s, k, HK_WRITE);
    }
    struct hk_view v = hk_summary_view(s);
    assert_int_equal(v.n, 10);
    assert_int_equal(v.total, 55 + 10);
    assert_int_equal(v.floor, 0); /* not full: an unseen key is 0 */
    for (uint32_t k = 0; k < 10; k++) {
        const struct hk_entry *e = find(&v, k);
        assert_non_null(e);
        assert_int_equal(e->count, k + 2);
        assert_int_equal(e->err, 0);
        assert_int_equal(e->kind[HK_MISS], 1);
        assert_int_equal(e->kind[HK_HIT], k);
        assert_int_equal(e->kind[HK_WRITE], 1);
    }
    const struct hk_entry *e = find(&v, 3);
    assert_memory_equal(e->key, "key:3", 5);
    assert_int_equal(e->klen, 5);
    hk_summary_reset(s);
    v = hk_summary_view(s);
    assert_int_equal(v.n, 0);
    assert_int_equal(v.total, 0);
    hk_summary_destroy(&s);
    assert_null(s);
}

/* On a stream of many more keys than counters: every tracked key's true
 * count lies in [count - err, count], every untracked key's is at most
 * the floor, counts add up to the stream, and every key above total/cap is
 * tracked. Many evictions exercise the index's backward-shift delete. */
static void
test_summary_space_saving_bounds(void **state)
{
    (void)state;
    const uint32_t cap = 64;
    static uint32_t truth[NKEYS];
    memset(truth, 0, sizeof(truth));
    struct hk_summary *s = hk_summary_create(cap);
    const uint32_t n = 200000;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t k = skewed();
        truth[k]++;
        add_key(s, k, HK_HIT);
    }
    struct hk_view v = hk_summary_view(s);
    assert_int_equal(v.n, cap);
    assert_int_equal(v.total, n);
    assert_true(v.floor <= n / cap);
    uint64_t sum = 0;
    for (uint32_t i = 0; i < v.n; i++) {
        sum += v.e[i].count;
    }
    assert_int_equal(sum, n);
    for (uint32_t k = 0; k < NKEYS; k++) {
        const struct hk_entry *e = find(&v, k);
        if (e != NULL) {
            assert_true(e->count - e->err <= truth[k]);
            assert_true(truth[k] <= e->count);
            assert_int_equal(e->kind[HK_HIT], e->count - e->err);
        } else {
            assert_true(truth[k] <= v.floor);
        }
        if (truth[k] > n / cap) {
            assert_non_null(e);
        }
    }
    /* the ten heavy keys are nearly exact: at most the error of a late
     * entry, when the counters were still small */
    for (uint32_t k = 0; k < 10; k++) {
        assert_true(find(&v, k)->err * 100 < find(&v, k)->count);
    }
    hk_summary_destroy(&s);
}

/* Merged: count - err <= truth <= count + under for every key listed, the
 * out floor bounds every key left out, totals add up, sorted. */
static void
test_summary_merge_bounds(void **state)
{
    (void)state;
    enum {
        NSUM = 4
    };
    static uint32_t truth[NKEYS];
    memset(truth, 0, sizeof(truth));
    struct hk_summary *s[NSUM];
    struct hk_view v[NSUM];
    for (int i = 0; i < NSUM; i++) {
        s[i] = hk_summary_create(32);
        for (uint32_t j = 0; j < 20000; j++) {
            /* each summary sees its own heavy keys plus shared ones */
            uint32_t k =
                    (next_rand() % 3 == 0) ? (uint32_t)(100 + i) : skewed();
            truth[k]++;
            add_key(s[i], k, HK_HIT);
        }
        v[i] = hk_summary_view(s[i]);
    }
    struct hk_merger *m = hk_merger_create(NSUM * 32);
    struct hk_entry e[16];
    struct hk_top top;
    hk_top_init(&top, e, 16);
    hk_merge(m, v, NSUM, &top);
    assert_int_equal(top.n, 16);
    assert_int_equal(top.total, NSUM * 20000);
    struct hk_view tv = hk_top_view(&top);
    for (uint32_t i = 1; i < top.n; i++) {
        assert_true(top.e[i - 1].count >= top.e[i].count);
    }
    for (uint32_t k = 0; k < NKEYS; k++) {
        const struct hk_entry *x = find(&tv, k);
        if (x != NULL) {
            assert_true(x->count - x->err <= truth[k]);
            assert_true(truth[k] <= (uint64_t)x->count + x->under);
        } else {
            assert_true(truth[k] <= top.floor);
        }
    }
    /* the per-summary heavy keys lead, each from one summary only */
    for (int i = 0; i < NSUM; i++) {
        const struct hk_entry *x = find(&tv, 100 + i);
        assert_non_null(x);
        assert_true(x->under > 0); /* the three others' floors */
    }
    /* merging merged lists keeps the bounds (the windows do this) */
    struct hk_entry e2[8];
    struct hk_top top2;
    hk_top_init(&top2, e2, 8);
    struct hk_view twice[2] = {tv, tv};
    hk_merge(m, twice, 2, &top2);
    assert_int_equal(top2.total, 2 * top.total);
    assert_int_equal(top2.e[0].count, 2 * top.e[0].count);
    assert_true(top2.floor >= 2 * top.floor);
    for (int i = 0; i < NSUM; i++) {
        hk_summary_destroy(&s[i]);
    }
    hk_merger_destroy(&m);
}

/* A merger without room for every key drops some and says so in the
 * floor. */
static void
test_summary_merge_no_room(void **state)
{
    (void)state;
    struct hk_summary *s = hk_summary_create(64);
    for (uint32_t k = 0; k < 64; k++) {
        for (uint32_t j = 0; j <= k; j++) {
            add_key(s, k, HK_HIT);
        }
    }
    struct hk_view v = hk_summary_view(s);
    struct hk_merger *m = hk_merger_create(8);
    struct hk_entry e[4];
    struct hk_top top;
    hk_top_init(&top, e, 4);
    hk_merge(m, &v, 1, &top);
    /* the first 8 keys (counts 1..8) had room, the top 4 of them are
     * listed; a key dropped for room had up to 64 */
    assert_int_equal(top.n, 4);
    assert_int_equal(top.e[0].count, 8);
    assert_int_equal(top.floor, 64);
    hk_merge(m, NULL, 0, &top);
    assert_int_equal(top.n, 0);
    assert_int_equal(top.total, 0);
    hk_merger_destroy(&m);
    hk_summary_destroy(&s);
}

/* Keys across dbs are told apart; long keys keep 250 bytes and their
 * length. */
static void
test_summary_db_and_long_keys(void **state)
{
    (void)state;
    struct hk_summary *s = hk_summary_create(4);
    char big[1000];
    memset(big, 'x', sizeof(big));
    hk_summary_add(s, hk_hash(0, "k", 1), 0, "k", 1, HK_HIT, 1);
    hk_summary_add(s, hk_hash(3, "k", 1), 3, "k", 1, HK_HIT, 2);
    hk_summary_add(
            s, hk_hash(0, big, sizeof(big)), 0, big, sizeof(big), HK_WRITE, 2);
    struct hk_view v = hk_summary_view(s);
    assert_int_equal(v.n, 3);
    bool db3 = false;
    for (uint32_t i = 0; i < v.n; i++) {
        if (v.e[i].db == 3) {
            db3 = true;
            assert_int_equal(v.e[i].proto, 2);
        }
        if (v.e[i].klen == sizeof(big)) {
            assert_memory_equal(v.e[i].key, big, HK_KEY_MAX);
        }
    }
    assert_true(db3);
    hk_summary_destroy(&s);
}

static void
test_escape(void **state)
{
    (void)state;
    char out[HK_KEY_MAX + 1];
    const uint8_t k1[] = "a b\n%,\"\\~.-_Z9";
    assert_int_equal(hotkey_escape(out, k1, sizeof(k1) - 1), 26);
    assert_string_equal(out, "a%20b%0A%25%2C%22%5C~.-_Z9");
    uint8_t pct[200];
    memset(pct, ' ', sizeof(pct));
    size_t n = hotkey_escape(out, pct, sizeof(pct));
    assert_int_equal(n, 249); /* 83 whole escapes: never cut inside one */
    assert_int_equal(strlen(out), 249);
    assert_string_equal(out + 246, "%20");
    uint8_t plain[300];
    memset(plain, 'a', sizeof(plain));
    assert_int_equal(hotkey_escape(out, plain, sizeof(plain)), HK_KEY_MAX);
    assert_int_equal(hotkey_escape(out, plain, 0), 0);
    assert_string_equal(out, "");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_summary_exact_when_keys_fit),
            cmocka_unit_test(test_summary_space_saving_bounds),
            cmocka_unit_test(test_summary_merge_bounds),
            cmocka_unit_test(test_summary_merge_no_room),
            cmocka_unit_test(test_summary_db_and_long_keys),
            cmocka_unit_test(test_escape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
