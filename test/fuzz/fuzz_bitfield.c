/* SPDX-License-Identifier: Apache-2.0 */
/* BITFIELD's argument parser (types/bitops.h) on arbitrary arguments: the
 * input is split at '\n' into arguments (NUL bytes and spaces stay inside
 * them), the first byte picks the proto-max-bulk-len limit. A parse that
 * succeeds must describe ops within Redis's limits (types i1..i64 and
 * u1..u63, offsets whose byte is below the limit, the highest written bit
 * as reported); they are then run on a string of exactly the bytes they
 * need (an exact malloc, so ASan sees any overrun), as the processor runs
 * them. Any difference aborts. */
#include "fuzz.h"

#include "types/bitops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c)                                                               \
    do {                                                                       \
        if (!(c)) {                                                            \
            fprintf(stderr, "fuzz_bitfield: %s:%d: %s\n", __FILE__, __LINE__,  \
                    #c);                                                       \
            abort();                                                           \
        }                                                                      \
    } while (0)

#define ARGS_MAX  64
#define BYTES_RUN 4096 /* ops needing more are parsed, not run */

static void
run_ops(const struct bitops_field_op *ops, size_t n, uint64_t last_bit)
{
    size_t len = (size_t)(last_bit >> 3) + 1;
    uint8_t *p = calloc(len, 1);
    CHECK(p != NULL);
    for (size_t i = 0; i < n; i++) {
        const struct bitops_field_op *op = &ops[i];
        if (op->kind == BITOPS_FIELD_GET) {
            /* reads may pass the end: zeros */
            (void)bitops_field_get(p, len, op->offset, op->bits);
            continue;
        }
        CHECK(op->offset + op->bits - 1 <= last_bit);
        int64_t lim = 0;
        uint64_t ulim = 0;
        int64_t old = bitops_field_get_signed(p, len, op->offset, op->bits);
        int over = op->sign ? bitops_overflow_signed(old, op->value, op->bits,
                                      op->overflow, &lim)
                            : bitops_overflow_unsigned(
                                      (uint64_t)old & ((1ULL << op->bits) - 1),
                                      op->value, op->bits, op->overflow, &ulim);
        CHECK(over >= -1 && over <= 1);
        if (!(over && op->overflow == BITOPS_FAIL)) {
            bitops_field_set(
                    p, op->offset, op->bits, op->sign ? (uint64_t)lim : ulim);
        }
    }
    free(p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    static const uint64_t limits[4] = {512ULL << 20, 1, 64, UINT64_MAX};
    uint64_t max_bytes = limits[data[0] & 3];
    struct bitops_arg args[ARGS_MAX];
    size_t n = 0;
    const char *p = (const char *)data + 1, *end = (const char *)data + size;
    while (p <= end && n < ARGS_MAX) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl != NULL ? nl : end;
        /* each argument in its own exact allocation */
        char *copy = malloc((size_t)(stop - p) + 1);
        CHECK(copy != NULL);
        memcpy(copy, p, (size_t)(stop - p));
        args[n++] = (struct bitops_arg){copy, (size_t)(stop - p)};
        p = stop + 1;
    }
    struct bitops_field_op ops[ARGS_MAX / 3 + 1];
    size_t nops;
    bool writes;
    uint64_t last_bit;
    bitops_parse_e e = bitops_parse_field(
            args, n, max_bytes, ops, &nops, &writes, &last_bit);
    if (e == BITOPS_PARSE_OK) {
        CHECK(nops <= n / 3 + 1);
        bool any = false;
        uint64_t hi = 0;
        for (size_t i = 0; i < nops; i++) {
            CHECK(ops[i].bits >= 1 && ops[i].bits <= (ops[i].sign ? 64 : 63));
            CHECK((ops[i].offset >> 3) < max_bytes);
            CHECK(ops[i].overflow <= BITOPS_FAIL);
            if (ops[i].kind != BITOPS_FIELD_GET) {
                any = true;
                uint64_t last = ops[i].offset + ops[i].bits - 1;
                hi = last > hi ? last : hi;
            }
        }
        CHECK(any == writes);
        CHECK(!writes || hi == last_bit);
        if (writes && (last_bit >> 3) < BYTES_RUN) {
            run_ops(ops, nops, last_bit);
        }
    } else {
        CHECK(e >= BITOPS_PARSE_SYNTAX && e <= BITOPS_PARSE_INT);
    }
    for (size_t i = 0; i < n; i++) {
        free((void *)args[i].p);
    }
    return 0;
}
