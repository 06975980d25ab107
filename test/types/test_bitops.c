/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for bitops against a model that keeps one byte per bit: random
 * strings, every range in bytes and bits, BITPOS, BITOP, bitfields of every
 * width read and written at every offset, the overflow rules against
 * 128-bit arithmetic, and BITFIELD's argument parser with Redis's order of
 * errors. */
#include "types/bitops.h"

#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state = 18;

static uint64_t
rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* the model: bit i of the string */
static int
model_bit(const uint8_t *p, size_t len, uint64_t i)
{
    return i / 8 < len ? (p[i / 8] >> (7 - i % 8)) & 1 : 0;
}

static void
random_bytes(uint8_t *p, size_t len)
{
    int kind = (int)(rnd() % 3); /* sparse, dense, random */
    for (size_t i = 0; i < len; i++) {
        uint8_t v = (uint8_t)rnd();
        p[i] = kind == 0   ? (uint8_t)(v & rnd() & rnd())
               : kind == 1 ? (uint8_t)(v | rnd() | rnd())
                           : v;
    }
}

static void
test_bitops_get_set(void **state)
{
    (void)state;
    uint8_t p[16] = {0};
    assert_int_equal(bitops_set(p, 7, 1), 0);
    assert_int_equal(p[0], 0x01);
    assert_int_equal(bitops_set(p, 0, 1), 0);
    assert_int_equal(p[0], 0x81);
    assert_int_equal(bitops_set(p, 0, 0), 1);
    assert_int_equal(bitops_get(p, 16, 7), 1);
    assert_int_equal(bitops_get(p, 16, 6), 0);
    assert_int_equal(bitops_get(p, 1, 8), 0); /* past the end */
    assert_int_equal(bitops_get(p, 1, UINT64_MAX), 0);
}

/* BITCOUNT and BITPOS over random strings and ranges, against the model. */
static void
test_bitops_ranges(void **state)
{
    (void)state;
    uint8_t p[64];
    for (int round = 0; round < 3000; round++) {
        size_t len = (size_t)(rnd() % 40);
        random_bytes(p, len);
        bool bits = rnd() & 1;
        int64_t span = bits ? (int64_t)len * 8 : (int64_t)len;
        int64_t start = (int64_t)(rnd() % 200) - 100;
        int64_t end = (int64_t)(rnd() % 200) - 100;
        uint64_t first, last;
        bool some = bitops_range(len, start, end, bits, &first, &last);
        /* the model of the range rules */
        int64_t s = start < 0 ? start + span : start;
        int64_t e = end < 0 ? end + span : end;
        s = s < 0 ? 0 : s;
        e = e < 0 ? 0 : e;
        e = e >= span ? span - 1 : e;
        assert_int_equal(some, s <= e);
        if (!some) {
            continue;
        }
        assert_int_equal(first, bits ? (uint64_t)s : (uint64_t)s * 8);
        assert_int_equal(last, bits ? (uint64_t)e : (uint64_t)e * 8 + 7);
        uint64_t count = 0;
        int64_t pos[2] = {-1, -1};
        for (uint64_t i = first; i <= last; i++) {
            int b = model_bit(p, len, i);
            count += (uint64_t)b;
            if (pos[b] < 0) {
                pos[b] = (int64_t)i;
            }
        }
        assert_int_equal(bitops_count(p, first, last), count);
        assert_int_equal(bitops_pos(p, 0, first, last), pos[0]);
        assert_int_equal(bitops_pos(p, 1, first, last), pos[1]);
    }
    /* long runs: the word-at-a-time path */
    uint8_t big[300];
    memset(big, 0xff, sizeof(big));
    big[257] = 0xfe;
    assert_int_equal(bitops_pos(big, 0, 0, 300 * 8 - 1), 257 * 8 + 7);
    assert_int_equal(bitops_pos(big, 0, 3, 257 * 8 + 6), -1);
    memset(big, 0, sizeof(big));
    big[299] = 1;
    assert_int_equal(bitops_pos(big, 1, 9, 300 * 8 - 1), 300 * 8 - 1);
    assert_int_equal(bitops_popcount(big, sizeof(big)), 1);
}

static void
test_bitops_op(void **state)
{
    (void)state;
    uint8_t a[20], b[20], c[20], out[20];
    for (int round = 0; round < 500; round++) {
        size_t la = (size_t)(rnd() % 20), lb = (size_t)(rnd() % 20),
               lc = (size_t)(rnd() % 20);
        random_bytes(a, la);
        random_bytes(b, lb);
        random_bytes(c, lc);
        const uint8_t *srcs[3] = {a, b, c};
        size_t lens[3] = {la, lb, lc};
        size_t max = la > lb ? la : lb;
        max = lc > max ? lc : max;
        for (int op = BITOPS_AND; op <= BITOPS_NOT; op++) {
            size_t n = op == BITOPS_NOT ? 1 : 3;
            size_t dlen = op == BITOPS_NOT ? la : max;
            bitops_op((bitops_op_e)op, out, dlen, srcs, lens, n);
            for (size_t i = 0; i < dlen; i++) {
                uint8_t x = i < la ? a[i] : 0, y = i < lb ? b[i] : 0,
                        z = i < lc ? c[i] : 0;
                uint8_t want = op == BITOPS_AND   ? (uint8_t)(x & y & z)
                               : op == BITOPS_OR  ? (uint8_t)(x | y | z)
                               : op == BITOPS_XOR ? (uint8_t)(x ^ y ^ z)
                                                  : (uint8_t)~x;
                assert_int_equal(out[i], want);
            }
        }
    }
}

/* Fields of every width at every offset: read what the model holds, write
 * and read back, neighbours untouched. */
static void
test_bitops_fields(void **state)
{
    (void)state;
    uint8_t p[24], q[24];
    for (int round = 0; round < 4000; round++) {
        random_bytes(p, sizeof(p));
        unsigned bits = 1 + (unsigned)(rnd() % 64);
        uint64_t off = rnd() % (sizeof(p) * 8 - bits + 1);
        uint64_t want = 0;
        for (unsigned i = 0; i < bits; i++) {
            want = want << 1 | (uint64_t)model_bit(p, sizeof(p), off + i);
        }
        assert_int_equal(bitops_field_get(p, sizeof(p), off, bits), want);
        int64_t sw = bits < 64 && (want >> (bits - 1)) & 1
                             ? (int64_t)(want | (UINT64_MAX << bits))
                             : (int64_t)want;
        assert_int_equal(bitops_field_get_signed(p, sizeof(p), off, bits), sw);
        memcpy(q, p, sizeof(p));
        uint64_t v = rnd();
        bitops_field_set(q, off, bits, v);
        for (uint64_t i = 0; i < sizeof(p) * 8; i++) {
            int exp = i >= off && i < off + bits
                              ? (int)((v >> (bits - 1 - (i - off))) & 1)
                              : model_bit(p, sizeof(p), i);
            assert_int_equal(model_bit(q, sizeof(q), i), exp);
        }
    }
    /* reads past the end are zeros */
    uint8_t one = 0xff;
    assert_int_equal(bitops_field_get(&one, 1, 4, 8), 0xf0);
    assert_int_equal(bitops_field_get_signed(&one, 1, 4, 8), -16);
    assert_int_equal(bitops_field_get(NULL, 0, 100, 64), 0);
}

/* The overflow rules against exact 128-bit sums, for values in the field
 * (what INCRBY sees). */
static void
test_bitops_overflow(void **state)
{
    (void)state;
    for (int round = 0; round < 20000; round++) {
        unsigned bits = 1 + (unsigned)(rnd() % 64);
        __int128 max = bits == 64 ? INT64_MAX : ((__int128)1 << (bits - 1)) - 1;
        __int128 min = -max - 1;
        int64_t value =
                bits == 64 ? (int64_t)rnd()
                           : (int64_t)(rnd() % (1ULL << bits)) + (int64_t)min;
        int64_t incr =
                rnd() & 1 ? (int64_t)rnd() : (int64_t)(rnd() % 300) - 150;
        __int128 sum = (__int128)value + incr;
        int want = sum > max ? 1 : sum < min ? -1 : 0;
        int64_t lim = 0;
        assert_int_equal(
                bitops_overflow_signed(value, incr, bits, BITOPS_SAT, &lim),
                want);
        if (want != 0) {
            assert_int_equal(lim, want > 0 ? (int64_t)max : (int64_t)min);
            bitops_overflow_signed(value, incr, bits, BITOPS_WRAP, &lim);
            uint64_t m = bits == 64 ? UINT64_MAX : (1ULL << bits) - 1;
            assert_int_equal((uint64_t)lim & m, (uint64_t)sum & m);
        }
        /* unsigned, bits <= 63 */
        unsigned ub = 1 + (unsigned)(rnd() % 63);
        uint64_t umax = (1ULL << ub) - 1;
        uint64_t uv = rnd() & umax;
        __int128 usum = (__int128)uv + incr;
        int uwant = usum > (__int128)umax ? 1 : usum < 0 ? -1 : 0;
        uint64_t ulim = 0;
        assert_int_equal(
                bitops_overflow_unsigned(uv, incr, ub, BITOPS_SAT, &ulim),
                uwant);
        if (uwant != 0) {
            assert_int_equal(ulim, uwant > 0 ? umax : 0);
            bitops_overflow_unsigned(uv, incr, ub, BITOPS_WRAP, &ulim);
            assert_int_equal(ulim, (uint64_t)usum & umax);
        }
    }
    /* Redis's quirk kept: a SET value near INT64_MIN saturates high */
    int64_t lim;
    assert_int_equal(
            bitops_overflow_signed(INT64_MIN, 0, 8, BITOPS_SAT, &lim), 1);
    assert_int_equal(lim, 127);
}

static bitops_parse_e
parse(const char *line, struct bitops_field_op *ops, size_t *nops,
        uint64_t *last)
{
    static char copy[512];
    struct bitops_arg args[32];
    size_t n = 0;
    snprintf(copy, sizeof(copy), "%s", line);
    for (char *t = strtok(copy, " "); t != NULL && n < 32;
            t = strtok(NULL, " ")) {
        args[n++] = (struct bitops_arg){t, strlen(t)};
    }
    bool writes;
    return bitops_parse_field(args, n, 512ULL << 20, ops, nops, &writes, last);
}

static void
test_bitops_parse(void **state)
{
    (void)state;
    struct bitops_field_op ops[16];
    size_t n;
    uint64_t last;
    assert_int_equal(parse("GET u8 0 set i5 #2 -3 OVERFLOW fail incrby i64 "
                           "100 7",
                             ops, &n, &last),
            BITOPS_PARSE_OK);
    assert_int_equal(n, 3);
    assert_int_equal(ops[1].offset, 10);
    assert_int_equal(ops[1].value, -3);
    assert_true(ops[1].sign);
    assert_int_equal(ops[2].overflow, BITOPS_FAIL);
    assert_int_equal(ops[0].overflow, BITOPS_WRAP);
    assert_int_equal(last, 163);
    assert_int_equal(parse("GET u8", ops, &n, &last), BITOPS_PARSE_SYNTAX);
    assert_int_equal(parse("OVERFLOW", ops, &n, &last), BITOPS_PARSE_SYNTAX);
    assert_int_equal(parse("OVERFLOW x GET u64 0", ops, &n, &last),
            BITOPS_PARSE_OVERFLOW);
    assert_int_equal(parse("GET u64 x", ops, &n, &last), BITOPS_PARSE_TYPE);
    assert_int_equal(parse("GET i65 0", ops, &n, &last), BITOPS_PARSE_TYPE);
    assert_int_equal(parse("GET I8 0", ops, &n, &last), BITOPS_PARSE_TYPE);
    assert_int_equal(parse("GET i8 -1", ops, &n, &last), BITOPS_PARSE_OFFSET);
    assert_int_equal(
            parse("GET i8 #536870912", ops, &n, &last), BITOPS_PARSE_OFFSET);
    assert_int_equal(
            parse("GET i8 4294967296", ops, &n, &last), BITOPS_PARSE_OFFSET);
    assert_int_equal(
            parse("GET i8 4294967295", ops, &n, &last), BITOPS_PARSE_OK);
    /* "#n" * bits wraps as Redis's does: 2^61 * 8 = 0 */
    assert_int_equal(parse("GET i8 #2305843009213693952", ops, &n, &last),
            BITOPS_PARSE_OK);
    assert_int_equal(ops[0].offset, 0);
    assert_int_equal(parse("SET i8 0 x", ops, &n, &last), BITOPS_PARSE_INT);
    assert_int_equal(
            parse("GET u8 0 BAD", ops, &n, &last), BITOPS_PARSE_SYNTAX);
    assert_int_equal(parse("", ops, &n, &last), BITOPS_PARSE_OK);
    assert_int_equal(n, 0);
    struct bitops_arg nul = {"i8\0x", 4};
    bool sign;
    unsigned bits;
    assert_true(bitops_parse_type(&nul, &sign, &bits)); /* a C string */
    assert_int_equal(bits, 8);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_bitops_get_set),
            cmocka_unit_test(test_bitops_ranges),
            cmocka_unit_test(test_bitops_op),
            cmocka_unit_test(test_bitops_fields),
            cmocka_unit_test(test_bitops_overflow),
            cmocka_unit_test(test_bitops_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
