/* SPDX-License-Identifier: Apache-2.0 */
/* Arbitrary bytes as a HyperLogLog image (types/hll.h), as a client may SET
 * any string and then PFCOUNT, PFMERGE or PFADD it. The image is read from
 * an exact-size allocation (ASan sees any read past it); every function
 * either refuses it (HLL_ECORRUPT) or works within bounds. An image that
 * counts must also merge, and the merged registers count the same; adds
 * and raises keep a countable image countable. The first byte is not part
 * of the image: it picks the sparse limit and the elements added. */
#include "fuzz.h"

#include "types/hll.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c)                                                               \
    do {                                                                       \
        if (!(c)) {                                                            \
            fprintf(stderr, "fuzz_hll: %s:%d: %s\n", __FILE__, __LINE__, #c);  \
            abort();                                                           \
        }                                                                      \
    } while (0)

static void
reads(const uint8_t *img, size_t len, uint8_t *max, bool *counts)
{
    uint64_t card = 0;
    *counts = hll_count(img, len, &card) != HLL_ECORRUPT;
    memset(max, 0, HLL_REGISTERS);
    hll_status_e m = hll_merge(max, img, len);
    if (*counts) {
        CHECK(m != HLL_ECORRUPT);
        CHECK(hll_count_raw(max) == card);
    }
}

static void
changes(const uint8_t *img, size_t len, uint8_t knob, bool counts)
{
    size_t sparse_max = (size_t)(knob & 0x3f) * 64;
    size_t cap = (len > sparse_max ? len : sparse_max) + HLL_GROWTH_MAX;
    cap = cap < HLL_DENSE_SIZE ? HLL_DENSE_SIZE : cap;
    uint8_t *buf = malloc(cap);
    CHECK(buf != NULL);
    memcpy(buf, img, len);
    size_t n = len;
    char ele[16];
    for (int i = 0; i < (knob >> 6) * 40 + 3; i++) {
        int k = snprintf(ele, sizeof(ele), "%d:%u", i, knob);
        hll_status_e s = hll_add(buf, &n, cap, ele, (size_t)k, sparse_max);
        CHECK(n <= cap);
        if (s == HLL_ECORRUPT) {
            break;
        }
        /* the processor grows its buffer before the next change */
        if (n + HLL_GROWTH_MAX > cap) {
            break;
        }
    }
    uint64_t card;
    if (counts && hll_is_hll(buf, n)) {
        CHECK(hll_count(buf, n, &card) != HLL_ECORRUPT);
    }
    if (hll_to_dense(buf, &n, cap) != HLL_ECORRUPT) {
        CHECK(n == HLL_DENSE_SIZE || buf[4] == HLL_DENSE);
    }
    free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    uint8_t knob = data[0];
    size_t len = size - 1;
    uint8_t *img = malloc(len > 0 ? len : 1);
    CHECK(img != NULL);
    memcpy(img, data + 1, len);
    if (!hll_is_hll(img, len)) {
        free(img);
        return 0;
    }
    uint8_t *max = malloc(HLL_REGISTERS);
    CHECK(max != NULL);
    bool counts;
    reads(img, len, max, &counts);
    free(max);
    changes(img, len, knob, counts);
    free(img);
    return 0;
}
