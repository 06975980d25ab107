/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for hashpack: the byte layout and Redis's listpack order (new
 * fields appended, replaced values keep their place), then 20,000 random
 * sets and deletes (fixed seed) against an array of pairs, every accessor
 * checked after each; fields and values of 0, 127, 128 and 16384 bytes. */
#include "types/hashpack.h"

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

static uint8_t *img;
static size_t img_len;

static void
img_set(uint8_t *dst, size_t size, size_t written)
{
    assert_int_equal(written, size);
    free(img);
    img = dst;
    img_len = size;
}

/* HSET through the find, size, write sequence a caller uses; returns
 * whether the field was new. */
static bool
hset(const void *f, size_t flen, const void *v, size_t vlen)
{
    struct pack_pos pos;
    bool found = hashpack_find(img, img_len, f, flen, &pos);
    size_t size = hashpack_set_size(img, img_len, &pos, flen, vlen);
    uint8_t *dst = malloc(size);
    assert_non_null(dst);
    img_set(dst, size,
            hashpack_set_write(dst, img, img_len, &pos, f, flen, v, vlen));
    return !found;
}

static bool
hdel(const void *f, size_t flen)
{
    struct pack_pos pos;
    if (!hashpack_find(img, img_len, f, flen, &pos)) {
        return false;
    }
    size_t size = hashpack_delete_size(img, img_len, &pos);
    uint8_t *dst = malloc(size);
    assert_non_null(dst);
    img_set(dst, size, hashpack_delete_write(dst, img, img_len, &pos));
    return true;
}

static void
img_empty(void)
{
    uint8_t *dst = malloc(1);
    assert_non_null(dst);
    img_set(dst, 1, pack_head_write(dst, 0));
}

static void
test_hashpack_layout(void **state)
{
    (void)state;
    img_empty();
    assert_true(hashpack_valid(img, img_len));
    assert_int_equal(hashpack_count(img, img_len), 0);
    assert_false(hashpack_exists(img, img_len, "a", 1));

    assert_true(hset("f1", 2, "v1", 2));
    assert_int_equal(img_len, 7);
    assert_memory_equal(img,
            "\x02\x02"
            "f1\x02"
            "v1",
            7);
    assert_true(hset("g", 1, "", 0));
    assert_memory_equal(img,
            "\x04\x02"
            "f1\x02"
            "v1\x01"
            "g\x00",
            10);
    /* a new value keeps the field's place */
    assert_false(hset("f1", 2, "long", 4));
    assert_int_equal(img_len, 12);
    assert_memory_equal(img,
            "\x04\x02"
            "f1\x04"
            "long\x01"
            "g\x00",
            12);
    struct pack_elem v;
    assert_true(hashpack_get(img, img_len, "f1", 2, &v));
    assert_int_equal(v.len, 4);
    assert_memory_equal(v.p, "long", 4);
    assert_int_equal(hashpack_strlen(img, img_len, "f1", 2), 4);
    assert_int_equal(hashpack_strlen(img, img_len, "g", 1), 0);
    assert_int_equal(hashpack_strlen(img, img_len, "nope", 4), 0);
    assert_true(hashpack_exists(img, img_len, "g", 1));
    /* a value must not be taken for a field */
    assert_false(hashpack_exists(img, img_len, "long", 4));
    assert_false(hashpack_exists(img, img_len, "", 0));
    assert_true(hset("", 0, "empty", 5)); /* an empty field is a field */
    assert_true(hashpack_exists(img, img_len, "", 0));
    assert_int_equal(hashpack_count(img, img_len), 3);

    /* delete the middle pair: the rest closes up */
    assert_true(hdel("g", 1));
    assert_false(hdel("g", 1));
    assert_memory_equal(img,
            "\x04\x02"
            "f1\x04"
            "long\x00\x05"
            "empty",
            16);
    struct pack_elem f;
    hashpack_at(img, img_len, 1, &f, &v);
    assert_int_equal(f.len, 0);
    assert_memory_equal(v.p, "empty", 5);
    assert_true(hdel("f1", 2));
    assert_true(hdel("", 0));
    assert_memory_equal(img, "\x00", 1);
    free(img);
    img = NULL;
}

static void
test_hashpack_valid_refuses(void **state)
{
    (void)state;
    /* odd count */
    assert_false(hashpack_valid((const uint8_t *)"\x01\x01"
                                                 "a",
            3));
    /* a field twice */
    assert_false(hashpack_valid((const uint8_t *)"\x04\x01"
                                                 "a\x01"
                                                 "x\x01"
                                                 "a\x01"
                                                 "y",
            9));
    /* the same bytes as field and value are fine */
    assert_true(hashpack_valid((const uint8_t *)"\x04\x01"
                                                "a\x01"
                                                "b\x01"
                                                "b\x01"
                                                "a",
            9));
    /* not a pack */
    assert_false(hashpack_valid((const uint8_t *)"\x02\x01"
                                                 "a",
            3));
    assert_true(hashpack_valid((const uint8_t *)"\x00", 1));
}

/* the model: pairs in insertion order */
#define PAIRS_MAX 40
#define FIELDS    150

struct pair {
    uint8_t *f, *v;
    size_t flen, vlen;
};

static struct pair model[PAIRS_MAX];
static size_t model_n;
static uint8_t field_buf[FIELDS][16384 + 1];
static size_t field_len[FIELDS];

/* Field k: "" for 0, 127, 128 and 16384 bytes for 1 to 3, else "f<k>". */
static void
fields_init(void)
{
    for (size_t k = 0; k < FIELDS; k++) {
        static const size_t edge[] = {0, 127, 128, 16384};
        if (k < 4) {
            field_len[k] = edge[k];
            memset(field_buf[k], (int)('A' + k), field_len[k]);
        } else {
            field_len[k] = (size_t)snprintf(
                    (char *)field_buf[k], sizeof(field_buf[k]), "f%zu", k);
        }
    }
}

static size_t
pick_field(void)
{
    /* the long ones now and then only, the rest evenly */
    return rnd_below(100) < 3 ? rnd_below(4) : 4 + rnd_below(FIELDS - 4);
}

static size_t
gen_value(uint8_t **out)
{
    static const size_t edges[] = {127, 128, 16383, 16384};
    size_t r = rnd_below(1000);
    size_t len = r < 10 ? edges[rnd_below(4)] : (r < 150 ? 0 : rnd_below(30));
    uint8_t *v = malloc(len + 1);
    assert_non_null(v);
    for (size_t i = 0; i < len; i++) {
        v[i] = (uint8_t)rnd();
    }
    *out = v;
    return len;
}

static size_t
model_find(size_t k)
{
    for (size_t i = 0; i < model_n; i++) {
        if (model[i].flen == field_len[k] &&
                memcmp(model[i].f, field_buf[k], field_len[k]) == 0) {
            return i;
        }
    }
    return model_n;
}

static void
check(void)
{
    assert_true(hashpack_valid(img, img_len));
    assert_int_equal(hashpack_count(img, img_len), model_n);
    size_t size = pack_head_size(2 * model_n);
    for (size_t i = 0; i < model_n; i++) {
        size += pack_elem_size(model[i].flen) + pack_elem_size(model[i].vlen);
    }
    assert_int_equal(size, img_len);

    struct pack_iter it;
    pack_iter_init(&it, img, img_len);
    struct pack_elem f, v;
    size_t i = 0;
    while (hashpack_next(&it, &f, &v)) {
        assert_true(i < model_n);
        assert_int_equal(f.len, model[i].flen);
        assert_memory_equal(f.p, model[i].f, f.len);
        assert_int_equal(v.len, model[i].vlen);
        assert_memory_equal(v.p, model[i].v, v.len);
        struct pack_elem af, av;
        hashpack_at(img, img_len, i, &af, &av);
        assert_ptr_equal(af.p, f.p);
        assert_ptr_equal(av.p, v.p);
        assert_int_equal(av.len, v.len);
        i++;
    }
    assert_int_equal(i, model_n);

    for (size_t j = 0; j < 8; j++) {
        size_t k = pick_field();
        size_t at = model_find(k);
        bool there = at < model_n;
        assert_int_equal(
                hashpack_exists(img, img_len, field_buf[k], field_len[k]),
                there);
        struct pack_elem got;
        assert_int_equal(
                hashpack_get(img, img_len, field_buf[k], field_len[k], &got),
                there);
        assert_int_equal(
                hashpack_strlen(img, img_len, field_buf[k], field_len[k]),
                there ? model[at].vlen : 0);
        struct pack_pos pos;
        assert_int_equal(
                hashpack_find(img, img_len, field_buf[k], field_len[k], &pos),
                there);
        assert_int_equal(pos.index, 2 * at);
        if (there) {
            assert_int_equal(got.len, model[at].vlen);
            assert_memory_equal(got.p, model[at].v, got.len);
            struct pack_elem val = hashpack_value_at(img, img_len, &pos);
            assert_ptr_equal(val.p, got.p);
        } else {
            assert_int_equal(pos.off, img_len);
        }
    }
}

static void
one_op(void)
{
    size_t k = pick_field();
    size_t at = model_find(k);
    if (rnd_below(10) < 6 && (at < model_n || model_n < PAIRS_MAX)) {
        uint8_t *v;
        size_t vlen = gen_value(&v);
        bool added = hset(field_buf[k], field_len[k], v, vlen);
        assert_int_equal(added, at == model_n);
        if (added) {
            model[model_n++] =
                    (struct pair){field_buf[k], v, field_len[k], vlen};
        } else {
            free(model[at].v);
            model[at].v = v;
            model[at].vlen = vlen;
        }
    } else {
        if (at == model_n && model_n > 0 && rnd_below(2) == 0) {
            at = rnd_below(model_n); /* deletes must hit often enough */
            for (k = 0; model_find(k) != at; k++) {
            }
        }
        bool deleted = hdel(field_buf[k], field_len[k]);
        assert_int_equal(deleted, at < model_n);
        if (deleted) {
            free(model[at].v);
            memmove(&model[at], &model[at + 1],
                    (model_n - at - 1) * sizeof(model[0]));
            model_n--;
        }
    }
}

static void
test_hashpack_random(void **state)
{
    (void)state;
    rng_state = 2;
    fields_init();
    img_empty();
    size_t max_pairs = 0;
    for (int step = 0; step < 20000; step++) {
        one_op();
        check();
        max_pairs = model_n > max_pairs ? model_n : max_pairs;
        if (step % 100 == 0) {
            for (size_t k = 0; k < 30; k++) {
                assert_false(hashpack_valid(img, rnd_below(img_len)));
            }
        }
    }
    assert_true(max_pairs >= PAIRS_MAX / 2);
    for (size_t i = 0; i < model_n; i++) {
        free(model[i].v);
    }
    model_n = 0;
    free(img);
    img = NULL;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_hashpack_layout),
            cmocka_unit_test(test_hashpack_valid_refuses),
            cmocka_unit_test(test_hashpack_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
