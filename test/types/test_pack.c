/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for pack: exact byte layouts, then 20,000 random splices and
 * filters (fixed seed) checked against an array of strings after every
 * step, with elements at the varint boundaries (0, 127, 128, 16383, 16384
 * bytes); pack_valid() accepts every image written and refuses every
 * truncation. */
#include "types/pack.h"

#include "base/util.h"
#include "types/types.h"

#include "splitmix.h"
#include "unit.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t
rnd_below(size_t n)
{
    return n == 0 ? 0 : (size_t)(rnd() % n);
}

/* the image being changed, and the model it must match */
#define MODEL_MAX 48

struct model {
    uint8_t *elem[MODEL_MAX];
    size_t len[MODEL_MAX];
    size_t n;
};

static uint8_t *img;
static size_t img_len;

/* Replaces the image by a fresh buffer of exactly `size` bytes; the caller
 * writes it (ASan catches a writer that goes past the size it gave). */
static uint8_t *
img_next(size_t size)
{
    uint8_t *dst = malloc(size);
    assert_non_null(dst);
    return dst;
}

static void
img_take(uint8_t *dst, size_t size, size_t written)
{
    assert_int_equal(written, size);
    free(img);
    img = dst;
    img_len = size;
}

static void
model_clear(struct model *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->elem[i]);
    }
    m->n = 0;
}

/* Element lengths lean short (and to two letters, so finds hit), with the
 * varint boundaries now and then. */
static size_t
gen(uint8_t **out)
{
    static const size_t edges[] = {127, 128, 16383, 16384, 300};
    size_t r = rnd_below(1000);
    size_t len;
    if (r < 10) {
        len = edges[rnd_below(5)];
    } else if (r < 100) {
        len = 0;
    } else if (r < 600) {
        len = 1 + rnd_below(2);
    } else {
        len = rnd_below(40);
    }
    uint8_t *e = malloc(len + 1);
    assert_non_null(e);
    for (size_t i = 0; i < len; i++) {
        e[i] = len <= 2 ? (uint8_t)('a' + rnd_below(2)) : (uint8_t)rnd();
    }
    *out = e;
    return len;
}

static void
model_insert(struct model *m, size_t at, uint8_t *e, size_t len)
{
    memmove(&m->elem[at + 1], &m->elem[at], (m->n - at) * sizeof(m->elem[0]));
    memmove(&m->len[at + 1], &m->len[at], (m->n - at) * sizeof(m->len[0]));
    m->elem[at] = e;
    m->len[at] = len;
    m->n++;
}

static void
model_delete(struct model *m, size_t at, size_t k)
{
    for (size_t i = at; i < at + k; i++) {
        free(m->elem[i]);
    }
    memmove(&m->elem[at], &m->elem[at + k],
            (m->n - at - k) * sizeof(m->elem[0]));
    memmove(&m->len[at], &m->len[at + k], (m->n - at - k) * sizeof(m->len[0]));
    m->n -= k;
}

static bool
same(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

/* First model position at 0, stride, 2 * stride ... equal to e, or n. */
static size_t
model_find(const struct model *m, const uint8_t *e, size_t len, size_t stride)
{
    for (size_t i = 0; i < m->n; i += stride) {
        if (same(m->elem[i], m->len[i], e, len)) {
            return i;
        }
    }
    return m->n;
}

static void
check_truncations(const uint8_t *p, size_t len)
{
    if (len <= 600) {
        for (size_t cut = 0; cut < len; cut++) {
            assert_false(pack_valid(p, cut));
        }
    } else {
        for (size_t k = 0; k < 50; k++) {
            assert_false(pack_valid(p, rnd_below(len)));
        }
    }
}

/* Every accessor against the model, and the exact bytes. */
static void
check(const struct model *m)
{
    assert_true(pack_valid(img, img_len));
    assert_int_equal(pack_count(img, img_len), m->n);
    /* the layout: count varint, then length varint and bytes each */
    size_t size = pack_head_size(m->n);
    for (size_t i = 0; i < m->n; i++) {
        size += pack_elem_size(m->len[i]);
    }
    assert_int_equal(size, img_len);
    uint8_t *want = malloc(size);
    assert_non_null(want);
    size_t w = pack_head_write(want, m->n);
    for (size_t i = 0; i < m->n; i++) {
        w += pack_elem_write(want + w, m->elem[i], m->len[i]);
    }
    assert_int_equal(w, size);
    assert_memory_equal(want, img, size);
    free(want);

    struct pack_iter it;
    pack_iter_init(&it, img, img_len);
    struct pack_elem e;
    size_t i = 0;
    while (pack_next(&it, &e)) {
        assert_true(i < m->n);
        assert_true(same(e.p, e.len, m->elem[i], m->len[i]));
        struct pack_elem a = pack_at(img, img_len, i);
        assert_ptr_equal(a.p, e.p);
        assert_int_equal(a.len, e.len);
        size_t off = pack_offset(img, img_len, i);
        assert_int_equal(off + pack_elem_span(e), (size_t)(e.p - img) + e.len);
        i++;
        assert_int_equal(it.left, m->n - i);
    }
    assert_int_equal(i, m->n);
    assert_int_equal(pack_offset(img, img_len, m->n), img_len);

    for (size_t stride = 1; stride <= 2; stride++) {
        for (size_t j = 0; j < m->n; j++) {
            size_t want_at = model_find(m, m->elem[j], m->len[j], stride);
            struct pack_pos pos;
            bool found = pack_find(
                    img, img_len, m->elem[j], m->len[j], stride, &pos);
            assert_int_equal(found, want_at < m->n);
            assert_int_equal(pos.index, want_at);
            assert_int_equal(pos.off, pack_offset(img, img_len, want_at));
        }
    }
    struct pack_pos pos;
    assert_false(pack_find(img, img_len, "zzzzzzzz", 8, 1, &pos));
    assert_int_equal(pos.index, m->n);
    assert_int_equal(pos.off, img_len);
}

static void
test_pack_layout(void **state)
{
    (void)state;
    uint8_t empty[1];
    assert_int_equal(pack_head_write(empty, 0), 1);
    assert_int_equal(empty[0], 0x00);
    assert_true(pack_valid(empty, 1));
    assert_false(pack_valid(empty, 0));
    assert_int_equal(pack_count(empty, 1), 0);
    struct pack_pos pos;
    assert_false(pack_find(empty, 1, "a", 1, 1, &pos));
    assert_int_equal(pos.off, 1);

    /* "a" then "" appended */
    uint8_t one[3], two[4];
    assert_int_equal(pack_insert_size(empty, 1, 1, 1), 3);
    assert_int_equal(pack_insert_write(one, empty, 1, 1, "a", 1), 3);
    assert_memory_equal(one,
            "\x01\x01"
            "a",
            3);
    assert_int_equal(pack_insert_size(one, 3, 3, 0), 4);
    assert_int_equal(pack_insert_write(two, one, 3, 3, "", 0), 4);
    assert_memory_equal(two,
            "\x02\x01"
            "a\x00",
            4);
    /* "bc" inserted first */
    uint8_t three[7];
    assert_int_equal(pack_insert_size(two, 4, 1, 2), 7);
    assert_int_equal(pack_insert_write(three, two, 4, 1, "bc", 2), 7);
    assert_memory_equal(three,
            "\x03\x02"
            "bc\x01"
            "a\x00",
            7);
    /* replace "a" by "xyz", delete "bc" */
    uint8_t rep[9], del[6];
    assert_int_equal(pack_replace_size(three, 7, 4, 3), 9);
    assert_int_equal(pack_replace_write(rep, three, 7, 4, "xyz", 3), 9);
    assert_memory_equal(rep,
            "\x03\x02"
            "bc\x03"
            "xyz\x00",
            9);
    assert_int_equal(pack_delete_size(rep, 9, 1, 1), 6);
    assert_int_equal(pack_delete_write(del, rep, 9, 1, 1), 6);
    assert_memory_equal(del,
            "\x02\x03"
            "xyz\x00",
            6);

    /* 128-byte element: two length bytes; 16384: three */
    uint8_t big[128];
    memset(big, 'q', sizeof(big));
    uint8_t b128[1 + 2 + 128];
    assert_int_equal(pack_insert_size(empty, 1, 1, 128), sizeof(b128));
    pack_insert_write(b128, empty, 1, 1, big, 128);
    assert_memory_equal(b128, "\x01\x80\x01", 3);
    uint8_t b127[1 + 1 + 127];
    pack_insert_write(b127, empty, 1, 1, big, 127);
    assert_memory_equal(b127, "\x01\x7f", 2);
    assert_int_equal(pack_elem_size(16383), 2 + 16383);
    assert_int_equal(pack_elem_size(16384), 3 + 16384);
}

static void
test_pack_valid_refuses(void **state)
{
    (void)state;
    /* count says 2, one element */
    assert_false(pack_valid((const uint8_t *)"\x02\x01"
                                             "a",
            3));
    /* a byte after the last element */
    assert_false(pack_valid((const uint8_t *)"\x01\x01"
                                             "ab",
            4));
    /* length runs past the end */
    assert_false(pack_valid((const uint8_t *)"\x01\x05"
                                             "ab",
            4));
    /* overlong count, overlong length */
    assert_false(pack_valid((const uint8_t *)"\x81\x00\x01"
                                             "a",
            4));
    assert_false(pack_valid((const uint8_t *)"\x01\x81\x00"
                                             "a",
            4));
    /* a count far larger than the bytes */
    assert_false(pack_valid((const uint8_t *)"\xff\xff\xff\xff\x0f", 5));
    /* a huge length */
    assert_false(pack_valid(
            (const uint8_t *)"\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",
            11));
    assert_true(pack_valid((const uint8_t *)"\x02\x01"
                                            "a\x00",
            4));
}

static bool
keep_odd_hash(const uint8_t *e, size_t len, void *arg)
{
    size_t *calls = arg;
    (*calls)++;
    return (types_hash(e, len) & 1) != 0;
}

static bool
keep_even_hash(const uint8_t *e, size_t len, void *arg)
{
    return !keep_odd_hash(e, len, arg);
}

/* Splits the image by the hash of each group's first element and checks
 * both halves against the model; the model keeps one half. */
static void
filter_op(struct model *m, size_t stride)
{
    struct model half[2] = {0};
    for (size_t i = 0; i < m->n; i += stride) {
        int side = (types_hash(m->elem[i], m->len[i]) & 1) != 0;
        for (size_t k = 0; k < stride; k++) {
            half[side].elem[half[side].n] = m->elem[i + k];
            half[side].len[half[side].n++] = m->len[i + k];
        }
    }
    pack_keep_fn *fn[2] = {keep_even_hash, keep_odd_hash};
    uint8_t *part[2];
    size_t part_len[2];
    for (int side = 0; side < 2; side++) {
        size_t calls = 0;
        part_len[side] =
                pack_filter_size(img, img_len, stride, fn[side], &calls);
        assert_int_equal(calls, m->n / stride);
        part[side] = img_next(part_len[side]);
        assert_int_equal(pack_filter_write(part[side], img, img_len, stride,
                                 fn[side], &calls),
                part_len[side]);
        assert_true(pack_valid(part[side], part_len[side]));
        assert_int_equal(pack_count(part[side], part_len[side]), half[side].n);
    }
    /* the halves hold every byte of the bodies once */
    assert_int_equal(part_len[0] + part_len[1] - pack_head_size(half[0].n) -
                             pack_head_size(half[1].n),
            img_len - pack_head_size(m->n));
    int keep = (int)rnd_below(2);
    free(part[!keep]);
    free(img);
    img = part[keep];
    img_len = part_len[keep];
    /* the model takes the kept half's elements, frees the others */
    for (size_t i = 0; i < half[!keep].n; i++) {
        free(half[!keep].elem[i]);
    }
    memcpy(m->elem, half[keep].elem, half[keep].n * sizeof(m->elem[0]));
    memcpy(m->len, half[keep].len, half[keep].n * sizeof(m->len[0]));
    m->n = half[keep].n;
}

static void
splice_op(struct model *m)
{
    size_t at = rnd_below(m->n + 1);
    size_t ndel = rnd_below(size_min(m->n - at, 3) + 1);
    size_t nins = rnd_below(4);
    if (m->n - ndel + nins > MODEL_MAX) {
        nins = 0;
    }
    struct pack_elem ins[3];
    uint8_t *owned[3];
    for (size_t k = 0; k < nins; k++) {
        ins[k].len = gen(&owned[k]);
        ins[k].p = owned[k];
    }
    size_t off = pack_offset(img, img_len, at);
    size_t size = pack_splice_size(img, img_len, off, ndel, ins, nins);
    uint8_t *dst = img_next(size);
    img_take(dst, size,
            pack_splice_write(dst, img, img_len, off, ndel, ins, nins));
    model_delete(m, at, ndel);
    for (size_t k = 0; k < nins; k++) {
        model_insert(m, at + k, owned[k], ins[k].len);
    }
}

static void
delete_op(struct model *m, size_t k)
{
    if (m->n < k) {
        return;
    }
    size_t at = rnd_below(m->n - k + 1);
    size_t off = pack_offset(img, img_len, at);
    size_t size = pack_delete_size(img, img_len, off, k);
    uint8_t *dst = img_next(size);
    img_take(dst, size, pack_delete_write(dst, img, img_len, off, k));
    model_delete(m, at, k);
}

/* Inserts anywhere, appends included. */
static void
insert_op(struct model *m)
{
    size_t at = rnd_below(m->n + 1);
    uint8_t *e;
    size_t len = gen(&e);
    size_t off = pack_offset(img, img_len, at);
    size_t size = pack_insert_size(img, img_len, off, len);
    uint8_t *dst = img_next(size);
    img_take(dst, size, pack_insert_write(dst, img, img_len, off, e, len));
    model_insert(m, at, e, len);
}

static void
replace_op(struct model *m)
{
    if (m->n == 0) {
        return;
    }
    size_t at = rnd_below(m->n);
    uint8_t *e;
    size_t len = gen(&e);
    size_t off = pack_offset(img, img_len, at);
    size_t size = pack_replace_size(img, img_len, off, len);
    uint8_t *dst = img_next(size);
    img_take(dst, size, pack_replace_write(dst, img, img_len, off, e, len));
    free(m->elem[at]);
    m->elem[at] = e;
    m->len[at] = len;
}

static void
one_op(struct model *m)
{
    /* growth outweighs deletes and the halving filters, so the image
     * fills up to MODEL_MAX now and then */
    size_t op = rnd_below(m->n >= MODEL_MAX - 4 ? 2 : 20);
    if (op < 2) {
        delete_op(m, op + 1);
    } else if (op < 10) {
        insert_op(m);
    } else if (op < 13) {
        replace_op(m);
    } else if (op < 18) {
        splice_op(m);
    } else if (op == 18) {
        filter_op(m, 1);
    } else if (m->n % 2 == 0) {
        filter_op(m, 2);
    }
}

static void
test_pack_random(void **state)
{
    (void)state;
    rng_state = 15;
    struct model m = {0};
    img = img_next(1);
    img_len = pack_head_write(img, 0);
    check(&m);
    size_t max_n = 0, big = 0;
    for (int step = 0; step < 20000; step++) {
        if (step % 2500 == 2499) {
            model_clear(&m);
            uint8_t *dst = img_next(1);
            img_take(dst, 1, pack_head_write(dst, 0));
        } else {
            one_op(&m);
        }
        check(&m);
        if (step % 50 == 0) {
            check_truncations(img, img_len);
        }
        max_n = m.n > max_n ? m.n : max_n;
        big += img_len > 16384;
    }
    /* the sequence did reach full images and 16 KiB elements */
    assert_true(max_n >= MODEL_MAX - 4);
    assert_true(big > 100);
    print_message(
            "pack: up to %zu elements, %zu steps over 16 KiB\n", max_n, big);
    model_clear(&m);
    free(img);
    img = NULL;
}

static void
test_pack_unique(void **state)
{
    (void)state;
    /* {a, a, b, c}: a twice at stride 1, fields a, b unique at stride 2 */
    const uint8_t *p = (const uint8_t *)"\x04\x01"
                                        "a\x01"
                                        "a\x01"
                                        "b\x01"
                                        "c";
    assert_true(pack_valid(p, 9));
    assert_false(pack_unique(p, 9, 1));
    assert_true(pack_unique(p, 9, 2));
    /* {a, b, a}: a at 0 and 2 */
    const uint8_t *q = (const uint8_t *)"\x03\x01"
                                        "a\x01"
                                        "b\x01"
                                        "a";
    assert_false(pack_unique(q, 7, 1));
    assert_false(pack_unique(q, 7, 2));
    assert_true(pack_unique((const uint8_t *)"\x00", 1, 1));
    /* 10,000 distinct decimal strings, enough that the filter bitmap has
     * collisions to resolve, then one repeated */
    size_t n = 10000;
    size_t size = pack_head_size(n + 1) + 1;
    for (size_t i = 0; i < n; i++) {
        char s[16];
        size += pack_elem_size((size_t)snprintf(s, sizeof(s), "%zu", i));
    }
    uint8_t *big = malloc(size + 16);
    assert_non_null(big);
    size_t w = pack_head_write(big, n);
    for (size_t i = 0; i < n; i++) {
        char s[16];
        w += pack_elem_write(
                big + w, s, (size_t)snprintf(s, sizeof(s), "%zu", i));
    }
    assert_true(pack_valid(big, w));
    assert_true(pack_unique(big, w, 1));
    uint8_t *dup = malloc(size + 16);
    assert_non_null(dup);
    size_t dlen = pack_insert_write(dup, big, w, w, "1234", 4);
    assert_true(pack_valid(dup, dlen));
    assert_false(pack_unique(dup, dlen, 1));
    free(dup);
    free(big);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_pack_layout),
            cmocka_unit_test(test_pack_valid_refuses),
            cmocka_unit_test(test_pack_unique),
            cmocka_unit_test(test_pack_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
