/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for ipack: exact byte layouts, what ipack_valid() refuses, a find
 * past an entry whose hash matches and element does not, then 20,000
 * random appends, replacements, deletions and splits (fixed seed) of a set
 * (stride 1) and a hash (stride 2) checked against a model after every
 * step, with elements at the varint boundaries. */
#include "types/ipack.h"

#include "base/util.h"
#include "types/types.h"

#include "splitmix.h"
#include "unit.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t
h32(const void *p, size_t len)
{
    return ipack_hash_of(types_hash(p, len));
}

static void
put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void
test_ipack_layout(void **state)
{
    (void)state;
    /* the empty ipack is the empty pack */
    assert_true(ipack_valid((const uint8_t *)"\x00", 1, 1));
    assert_true(ipack_valid((const uint8_t *)"\x00", 1, 2));
    /* a set {"a"}: 01 01 61, then the hash of "a", little-endian */
    uint8_t set[7] = {1, 1, 'a'};
    put_le32(set + 3, h32("a", 1));
    assert_true(ipack_valid(set, sizeof(set), 1));
    assert_int_equal(ipack_groups(set, sizeof(set), 1), 1);
    assert_int_equal(ipack_pack_len(set, sizeof(set), 1), 3);
    assert_int_equal(ipack_hash_at(set, sizeof(set), 1, 0), h32("a", 1));
    /* built by append from the empty one: the same bytes */
    struct pack_elem a = {(const uint8_t *)"a", 1};
    uint8_t out[64];
    const uint8_t *empty = (const uint8_t *)"\x00";
    assert_int_equal(ipack_append_size(empty, 1, 1, &a), sizeof(set));
    assert_int_equal(
            ipack_append_write(out, empty, 1, 1, &a, h32("a", 1)), sizeof(set));
    assert_memory_equal(out, set, sizeof(set));
    /* a hash {"f": "v"}: 02 01 66 01 76, the hash of the field only */
    uint8_t hash[9] = {2, 1, 'f', 1, 'v'};
    put_le32(hash + 5, h32("f", 1));
    assert_true(ipack_valid(hash, sizeof(hash), 2));
    assert_false(ipack_valid(hash, sizeof(hash), 1)); /* 2 groups, 1 hash */
    struct pack_pos pos;
    assert_true(ipack_find(hash, sizeof(hash), 2, h32("f", 1), "f", 1, &pos));
    assert_int_equal(pos.index, 0);
    assert_int_equal(pos.off, 1);
    assert_false(ipack_find(hash, sizeof(hash), 2, h32("v", 1), "v", 1, &pos));
    assert_int_equal(pos.index, 2);
    assert_int_equal(pos.off, 5); /* the append position: the pack's end */
    /* its value replaced: 02 01 66 02 77 77, the same hash */
    uint8_t rep[10] = {2, 1, 'f', 2, 'w', 'w'};
    put_le32(rep + 6, h32("f", 1));
    assert_true(ipack_find(hash, sizeof(hash), 2, h32("f", 1), "f", 1, &pos));
    assert_int_equal(
            ipack_replace_size(hash, sizeof(hash), 2, &pos, 1, 2), sizeof(rep));
    assert_int_equal(
            ipack_replace_write(out, hash, sizeof(hash), 2, &pos, 1, "ww", 2),
            sizeof(rep));
    assert_memory_equal(out, rep, sizeof(rep));
    /* and deleted: the empty ipack */
    assert_int_equal(ipack_delete_size(hash, sizeof(hash), 2, &pos), 1);
    assert_int_equal(ipack_delete_write(out, hash, sizeof(hash), 2, &pos), 1);
    assert_int_equal(out[0], 0);
}

static void
test_ipack_valid_refuses(void **state)
{
    (void)state;
    uint8_t set[8] = {1, 1, 'a'};
    put_le32(set + 3, h32("a", 1));
    for (size_t n = 0; n < 7; n++) {
        assert_false(ipack_valid(set, n, 1)); /* every truncation */
    }
    assert_false(ipack_valid(set, 8, 1)); /* a byte after the index */
    set[3] ^= 1;
    assert_false(ipack_valid(set, 7, 1)); /* a hash that is not a's */
    set[3] ^= 1;
    assert_true(ipack_valid(set, 7, 1));
    /* a pack of 3 elements is no hash (stride 2) */
    uint8_t odd[1 + 3 * 2 + 4] = {3, 1, 'a', 1, 'b', 1, 'c'};
    put_le32(odd + 7, h32("a", 1));
    assert_false(ipack_valid(odd, sizeof(odd), 2));
    assert_false(ipack_valid(odd, sizeof(odd), 0));
}

/* An index entry that matches while its element does not (two elements
 * whose hashes agree in 32 bits): the find goes on to the next match. */
static void
test_ipack_find_past_collision(void **state)
{
    (void)state;
    /* {"y", "x"} with both entries the hash of "x" (not a valid image:
     * written by hand, as a 32-bit collision would be) */
    uint8_t img[5 + 8] = {2, 1, 'y', 1, 'x'};
    put_le32(img + 5, h32("x", 1));
    put_le32(img + 9, h32("x", 1));
    struct pack_pos pos;
    assert_true(ipack_find(img, sizeof(img), 1, h32("x", 1), "x", 1, &pos));
    assert_int_equal(pos.index, 1);
    assert_int_equal(pos.off, 3);
    assert_false(ipack_find(img, sizeof(img), 1, h32("x", 1), "z", 1, &pos));
    assert_int_equal(pos.index, 2);
    assert_int_equal(pos.off, 5);
}

/* ---- random operations against a model ---- */

#define MODEL_MAX 200

struct model {
    char *key[MODEL_MAX];
    size_t klen[MODEL_MAX];
    char *val[MODEL_MAX];
    size_t vlen[MODEL_MAX];
    size_t n;
};

static uint8_t *img;
static size_t img_len;

static void
img_take(uint8_t *dst, size_t size, size_t written)
{
    assert_int_equal(written, size);
    free(img);
    img = dst;
    img_len = size;
}

/* Lengths lean short, with the varint boundaries now and then; keys come
 * from a small alphabet so that finds hit. */
static size_t
rnd_len(void)
{
    static const size_t edge[] = {0, 127, 128, 16383, 16384};
    if (rnd() % 64 == 0) {
        return edge[rnd() % 5];
    }
    return (size_t)(rnd() % 12);
}

static char *
rnd_bytes(size_t len, unsigned alphabet)
{
    char *s = malloc(len + 1);
    assert_non_null(s);
    for (size_t i = 0; i < len; i++) {
        s[i] = (char)('a' + rnd() % alphabet);
    }
    return s;
}

static void
check(const struct model *m, size_t stride)
{
    assert_true(ipack_valid(img, img_len, stride));
    assert_int_equal(ipack_groups(img, img_len, stride), m->n);
    size_t plen = ipack_pack_len(img, img_len, stride);
    struct pack_iter it;
    struct pack_elem e;
    pack_iter_init(&it, img, plen);
    for (size_t i = 0; i < m->n; i++) {
        assert_true(pack_next(&it, &e));
        assert_int_equal(e.len, m->klen[i]);
        if (e.len > 0) {
            assert_memory_equal(e.p, m->key[i], e.len);
        }
        if (stride == 2) {
            assert_true(pack_next(&it, &e));
            assert_int_equal(e.len, m->vlen[i]);
        }
        struct pack_pos pos;
        assert_true(ipack_find(img, img_len, stride, h32(m->key[i], m->klen[i]),
                m->key[i], m->klen[i], &pos));
        assert_int_equal(pos.index, i * stride);
    }
    assert_false(pack_next(&it, &e));
}

static size_t
model_find(const struct model *m, const char *k, size_t klen)
{
    for (size_t i = 0; i < m->n; i++) {
        if (m->klen[i] == klen && memcmp(m->key[i], k, klen) == 0) {
            return i;
        }
    }
    return SIZE_MAX;
}

static void
model_drop(struct model *m, size_t i)
{
    free(m->key[i]);
    free(m->val[i]);
    memmove(m->key + i, m->key + i + 1, (m->n - i - 1) * sizeof(m->key[0]));
    memmove(m->klen + i, m->klen + i + 1, (m->n - i - 1) * sizeof(m->klen[0]));
    memmove(m->val + i, m->val + i + 1, (m->n - i - 1) * sizeof(m->val[0]));
    memmove(m->vlen + i, m->vlen + i + 1, (m->n - i - 1) * sizeof(m->vlen[0]));
    m->n--;
}

static bool
keep_bit(uint32_t h, void *arg)
{
    return ((h >> *(unsigned *)arg) & 1) == 0;
}

static bool
drop_bit(uint32_t h, void *arg)
{
    return !keep_bit(h, arg);
}

/* A split of img by the bit gives on side 0 what the filter keeps (kept
 * bytes n) and on side 1 what a filter of the other half keeps. */
static void
check_split(size_t stride, unsigned bit, size_t n)
{
    struct ipack_split sp;
    ipack_split_size(img, img_len, stride, keep_bit, &bit, &sp);
    size_t m = ipack_filter_size(img, img_len, stride, drop_bit, &bit);
    assert_int_equal(sp.len[0], n);
    assert_int_equal(sp.len[1], m);
    assert_int_equal(
            sp.groups[0] + sp.groups[1], ipack_groups(img, img_len, stride));
    uint8_t *side[2] = {malloc(n), malloc(m)};
    uint8_t *want[2] = {malloc(n), malloc(m)};
    assert_true(side[0] && side[1] && want[0] && want[1]);
    ipack_split_write(side, img, img_len, stride, keep_bit, &bit, &sp);
    ipack_filter_write(want[0], img, img_len, stride, keep_bit, &bit);
    ipack_filter_write(want[1], img, img_len, stride, drop_bit, &bit);
    assert_memory_equal(side[0], want[0], n);
    assert_memory_equal(side[1], want[1], m);
    for (int k = 0; k < 2; k++) {
        assert_int_equal(
                ipack_groups(side[k], sp.len[k], stride), sp.groups[k]);
        free(side[k]);
        free(want[k]);
    }
}

/* One change: add or set (a new key appended, a hash's value replaced),
 * delete, or keep the half of one hash bit (a split). */
static void
one_op(struct model *m, size_t stride)
{
    size_t klen = rnd_len() % 3;
    char *k = rnd_bytes(klen, 3);
    uint32_t h = h32(k, klen);
    struct pack_pos pos;
    bool found = ipack_find(img, img_len, stride, h, k, klen, &pos);
    size_t at = model_find(m, k, klen);
    assert_int_equal(found, at != SIZE_MAX);
    uint64_t what = rnd() % 10;
    if (what < 5 && !found && m->n < MODEL_MAX) {
        size_t vlen = rnd_len();
        char *v = rnd_bytes(vlen, 26);
        struct pack_elem g[2] = {{(uint8_t *)k, klen}, {(uint8_t *)v, vlen}};
        size_t n = ipack_append_size(img, img_len, stride, g);
        uint8_t *dst = malloc(n);
        assert_non_null(dst);
        img_take(dst, n, ipack_append_write(dst, img, img_len, stride, g, h));
        m->key[m->n] = k;
        m->klen[m->n] = klen;
        m->val[m->n] = v;
        m->vlen[m->n] = stride == 2 ? vlen : 0;
        m->n++;
        return;
    }
    if (what < 7 && found && stride == 2) {
        size_t vlen = rnd_len();
        char *v = rnd_bytes(vlen, 26);
        size_t n = ipack_replace_size(img, img_len, stride, &pos, 1, vlen);
        uint8_t *dst = malloc(n);
        assert_non_null(dst);
        img_take(dst, n,
                ipack_replace_write(
                        dst, img, img_len, stride, &pos, 1, v, vlen));
        free(m->val[at]);
        m->val[at] = v;
        m->vlen[at] = vlen;
    } else if (what < 9 && found) {
        size_t n = ipack_delete_size(img, img_len, stride, &pos);
        uint8_t *dst = malloc(n);
        assert_non_null(dst);
        img_take(dst, n, ipack_delete_write(dst, img, img_len, stride, &pos));
        model_drop(m, at);
    } else if (what == 9) {
        unsigned bit = (unsigned)(rnd() % 32);
        size_t n = ipack_filter_size(img, img_len, stride, keep_bit, &bit);
        uint8_t *dst = malloc(n);
        assert_non_null(dst);
        check_split(stride, bit, n);
        img_take(dst, n,
                ipack_filter_write(dst, img, img_len, stride, keep_bit, &bit));
        for (size_t i = m->n; i > 0; i--) {
            if (!keep_bit(h32(m->key[i - 1], m->klen[i - 1]), &bit)) {
                model_drop(m, i - 1);
            }
        }
    }
    free(k);
}

static void
run_random(size_t stride)
{
    struct model m = {.n = 0};
    img = malloc(1);
    assert_non_null(img);
    img[0] = 0;
    img_len = 1;
    size_t max_n = 0;
    for (int step = 0; step < 20000; step++) {
        one_op(&m, stride);
        check(&m, stride);
        max_n = m.n > max_n ? m.n : max_n;
    }
    assert_true(max_n >= 8); /* the sequence did grow the image */
    while (m.n > 0) {
        model_drop(&m, m.n - 1);
    }
    free(img);
    img = NULL;
}

static void
test_ipack_random_set(void **state)
{
    (void)state;
    rng_state = 1;
    run_random(1);
}

static void
test_ipack_random_hash(void **state)
{
    (void)state;
    rng_state = 2;
    run_random(2);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_ipack_layout),
            cmocka_unit_test(test_ipack_valid_refuses),
            cmocka_unit_test(test_ipack_find_past_collision),
            cmocka_unit_test(test_ipack_random_set),
            cmocka_unit_test(test_ipack_random_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
