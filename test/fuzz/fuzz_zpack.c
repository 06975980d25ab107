/* SPDX-License-Identifier: Apache-2.0 */
/* The sorted-set encoding (types/zpack.h). The input is used twice: as an
 * image (zpack_valid, then every accessor on what it accepts, and a
 * decode/encode round trip that must give the same bytes), and as a
 * program of adds and removes on a zpack checked against a model (a plain
 * array kept sorted by insertion), with every image valid and decoding to
 * the model. Lists are packs (types/pack.h), which fuzz_types drives. */
#include "fuzz/fuzz.h"
#include "types/zpack.h"

#include <stdlib.h>
#include <string.h>

#define MAXN 64

static void
check_image(const uint8_t *p, size_t len)
{
    if (!zpack_valid(p, len)) {
        return;
    }
    size_t n = zpack_count(p, len);
    struct zpack_ent *e = malloc((n + 1) * sizeof(*e));
    if (e == NULL) {
        return;
    }
    zpack_decode(p, len, e);
    for (size_t i = 0; i + 1 < n; i++) {
        if (zpack_ent_cmp(&e[i], &e[i + 1]) >= 0) {
            abort();
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (zpack_find(e, n, e[i].m, e[i].mlen) != (long)i ||
                zpack_lower_bound(e, n, e[i].score, e[i].m, e[i].mlen) != i) {
            abort();
        }
    }
    size_t sz = zpack_size(e, n);
    uint8_t *out = malloc(sz + 1);
    if (out != NULL) {
        if (zpack_write(out, e, n) != sz || sz != len ||
                memcmp(out, p, len) != 0) {
            abort();
        }
        free(out);
    }
    free(e);
}

struct model {
    char m[MAXN][4];
    size_t mlen[MAXN];
    double s[MAXN];
    size_t n;
};

static void
program(const uint8_t *d, size_t size)
{
    static const double scores[8] = {
            -1e300, -1.5, -0.0, 0.0, 1.0, 2.5, 1e300, 3.0};
    struct model md = {0};
    struct zpack_ent e[MAXN + 1];
    size_t n = 0;
    uint8_t img[MAXN * 16 + 16];
    for (size_t i = 0; i + 1 < size; i += 2) {
        uint8_t op = d[i], arg = d[i + 1];
        char m[4];
        size_t mlen = arg % 4;
        for (size_t k = 0; k < mlen; k++) {
            m[k] = (char)('a' + (arg >> (2 + k)) % 3);
        }
        double s = (op & 0x8) ? -__builtin_inf() : scores[op >> 5];
        /* the model: find, then replace or add */
        size_t at = md.n;
        for (size_t k = 0; k < md.n; k++) {
            if (md.mlen[k] == mlen && memcmp(md.m[k], m, mlen) == 0) {
                at = k;
            }
        }
        if (op & 1) { /* remove */
            if (at < md.n) {
                md.n--;
                memmove(&md.m[at], &md.m[at + 1], (md.n - at) * 4);
                memmove(&md.mlen[at], &md.mlen[at + 1],
                        (md.n - at) * sizeof(size_t));
                memmove(&md.s[at], &md.s[at + 1], (md.n - at) * sizeof(double));
            }
        } else if (at < md.n) {
            md.s[at] = s;
        } else if (md.n < MAXN) {
            memcpy(md.m[md.n], m, mlen);
            md.mlen[md.n] = mlen;
            md.s[md.n] = s;
            md.n++;
        }
        /* the encoding: rebuilt from the model in sorted order */
        n = 0;
        for (size_t k = 0; k < md.n; k++) {
            struct zpack_ent x = {
                    (const uint8_t *)md.m[k], md.mlen[k], md.s[k]};
            size_t pos = zpack_lower_bound(e, n, x.score, x.m, x.mlen);
            memmove(e + pos + 1, e + pos, (n - pos) * sizeof(*e));
            e[pos] = x;
            n++;
        }
        size_t len = zpack_write(img, e, n);
        if (len != zpack_size(e, n) || !zpack_valid(img, len) ||
                zpack_count(img, len) != md.n) {
            abort();
        }
        struct zpack_ent back[MAXN + 1];
        zpack_decode(img, len, back);
        for (size_t k = 0; k < n; k++) {
            double want = e[k].score == 0 ? 0.0 : e[k].score;
            if (back[k].score != want || back[k].mlen != e[k].mlen ||
                    (e[k].mlen > 0 &&
                            memcmp(back[k].m, e[k].m, e[k].mlen) != 0)) {
                abort();
            }
        }
        for (size_t t = 0; t < len; t++) { /* a truncation is refused */
            if (zpack_valid(img, t)) {
                abort();
            }
        }
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_image(data, size);
    program(data, size);
    return 0;
}
