/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for zpack: the exact layout and score byte order (memcmp order is
 * numeric order, -0 is 0), zpack_valid refusing every truncation, wrong
 * order, a duplicate member, NaN and a non-canonical score; then 20,000
 * random ZADD/ZREM steps (fixed seed) on a decoded array re-encoded each
 * time, against a model kept sorted by a different method (insertion
 * sort on an independent array), every accessor after each step (the full model
 * check every 16th). */
#include "types/zpack.h"

#include "splitmix.h"
#include "unit.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
test_zpack_layout(void **state)
{
    (void)state;
    struct zpack_ent e[2] = {
            {(const uint8_t *)"a", 1, 1.0}, {(const uint8_t *)"b", 1, 2.0}};
    uint8_t out[64];
    size_t n = zpack_write(out, e, 2);
    static const uint8_t want[] = {0x04, 0x01, 'a', 0x08, 0xbf, 0xf0, 0, 0, 0,
            0, 0, 0, 0x01, 'b', 0x08, 0xc0, 0, 0, 0, 0, 0, 0, 0};
    assert_int_equal(n, sizeof(want));
    assert_int_equal(zpack_size(e, 2), sizeof(want));
    assert_memory_equal(out, want, sizeof(want));
    assert_true(zpack_valid(out, n));
    for (size_t t = 0; t < n; t++) {
        assert_false(zpack_valid(out, t));
    }
    /* the score bytes sort as the numbers */
    double v[] = {-INFINITY, -1e300, -2.5, -1, -1e-300, 0, 1e-300, 1, 2.5,
            1e300, INFINITY};
    for (size_t i = 0; i + 1 < sizeof(v) / sizeof(v[0]); i++) {
        uint8_t a[8], b[8];
        zpack_score_put(a, v[i]);
        zpack_score_put(b, v[i + 1]);
        assert_true(memcmp(a, b, 8) < 0);
        assert_true(zpack_score_get(a) == v[i]);
    }
    uint8_t z[8], nz[8];
    zpack_score_put(z, 0.0);
    zpack_score_put(nz, -0.0);
    assert_memory_equal(z, nz, 8);
    /* wrong order, a duplicate, NaN */
    struct zpack_ent bad[2] = {
            {(const uint8_t *)"b", 1, 2.0}, {(const uint8_t *)"a", 1, 1.0}};
    n = zpack_write(out, bad, 2);
    assert_false(zpack_valid(out, n));
    struct zpack_ent dup[2] = {
            {(const uint8_t *)"a", 1, 1.0}, {(const uint8_t *)"a", 1, 2.0}};
    n = zpack_write(out, dup, 2);
    assert_false(zpack_valid(out, n));
    struct zpack_ent one = {(const uint8_t *)"a", 1, 1.0};
    n = zpack_write(out, &one, 1);
    memset(out + 4, 0xff, 8); /* NaN bits */
    assert_false(zpack_valid(out, n));
    uint8_t empty = 0;
    assert_true(zpack_valid(&empty, 1));
    assert_int_equal(zpack_count(&empty, 1), 0);
    /* (score, member) order, members by bytes then length */
    assert_true(zpack_cmp(1, "b", 1, 2, "a", 1) < 0);
    assert_true(zpack_cmp(1, "a", 1, 1, "ab", 2) < 0);
    assert_true(zpack_cmp(1, "", 0, 1, "a", 1) < 0);
    assert_int_equal(zpack_cmp(1, "a", 1, 1, "a", 1), 0);
}

#define NMEM 400

struct model {
    char name[NMEM][80];
    size_t len[NMEM];
    double score[NMEM];
    bool in[NMEM];
};

static void
test_zpack_random(void **state)
{
    (void)state;
    rng_state = 16;
    static struct model md;
    memset(&md, 0, sizeof(md));
    for (int i = 0; i < NMEM; i++) {
        md.len[i] = (size_t)snprintf(md.name[i], sizeof(md.name[i]), "m%d", i);
        if (i % 50 == 0) { /* some long members, some empty */
            md.len[i] = i == 0 ? 0 : 70;
            memset(md.name[i], 'a' + i % 26, md.len[i]);
        }
    }
    uint8_t *img = malloc(1);
    size_t len = 1;
    img[0] = 0;
    struct zpack_ent *e = malloc((NMEM + 1) * sizeof(*e));
    for (int step = 0; step < 20000; step++) {
        size_t n = zpack_count(img, len);
        zpack_decode(img, len, e);
        int m = (int)(rnd() % NMEM);
        double s = (double)((int64_t)(rnd() % 21) - 10) / 2;
        if (rnd() % 20 == 0) {
            s = rnd() % 2 ? INFINITY : -INFINITY;
        }
        long at = zpack_find(e, n, md.name[m], md.len[m]);
        assert_int_equal(at >= 0, md.in[m]);
        if (at >= 0) {
            assert_true(e[at].score == md.score[m]);
            memmove(e + at, e + at + 1, (n - (size_t)at - 1) * sizeof(*e));
            n--;
        }
        if (rnd() % 3 != 0) { /* add or update */
            size_t pos = zpack_lower_bound(
                    e, n, s, (const uint8_t *)md.name[m], md.len[m]);
            memmove(e + pos + 1, e + pos, (n - pos) * sizeof(*e));
            e[pos] = (struct zpack_ent){
                    (const uint8_t *)md.name[m], md.len[m], s};
            n++;
            md.in[m] = true;
            md.score[m] = s;
        } else {
            md.in[m] = false;
        }
        size_t sz = zpack_size(e, n);
        uint8_t *next = malloc(sz);
        assert_int_equal(zpack_write(next, e, n), sz);
        free(img);
        img = next;
        len = sz;
        assert_true(zpack_valid(img, len));
        /* the model's members, sorted independently, equal the image */
        size_t cnt = 0;
        for (int i = 0; i < NMEM; i++) {
            cnt += md.in[i];
        }
        assert_int_equal(zpack_count(img, len), cnt);
        zpack_decode(img, len, e);
        for (size_t i = 0; step % 16 == 0 && i < cnt; i++) {
            size_t below = 0; /* e[i]'s rank in the model */
            long mi = -1;
            for (int k = 0; k < NMEM; k++) {
                if (!md.in[k]) {
                    continue;
                }
                if (md.len[k] == e[i].mlen &&
                        memcmp(md.name[k], e[i].m, e[i].mlen) == 0) {
                    mi = k;
                } else if (zpack_cmp(md.score[k], md.name[k], md.len[k],
                                   e[i].score, e[i].m, e[i].mlen) < 0) {
                    below++;
                }
            }
            assert_true(mi >= 0);
            assert_true(md.score[mi] == e[i].score);
            if (step % 97 == 0) {
                assert_int_equal(below, i);
            }
        }
    }
    free(img);
    free(e);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_zpack_layout),
            cmocka_unit_test(test_zpack_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
