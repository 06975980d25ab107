/* SPDX-License-Identifier: Apache-2.0 */
/* Bitmaps and bitfields (bitops.h). */
#include "types/bitops.h"

#include "types/intset.h"

#include <string.h>
#include <strings.h>

int
bitops_get(const uint8_t *p, size_t len, uint64_t bit)
{
    uint64_t byte = bit >> 3;
    if (byte >= len) {
        return 0;
    }
    return (p[byte] >> (7 - (bit & 7))) & 1;
}

int
bitops_set(uint8_t *p, uint64_t bit, int on)
{
    uint64_t byte = bit >> 3;
    uint8_t mask = (uint8_t)(1u << (7 - (bit & 7)));
    int old = (p[byte] & mask) != 0;
    p[byte] = on ? (uint8_t)(p[byte] | mask) : (uint8_t)(p[byte] & ~mask);
    return old;
}

uint64_t
bitops_popcount(const uint8_t *p, size_t len)
{
    uint64_t n = 0;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        n += (uint64_t)__builtin_popcountll(w);
    }
    for (; i < len; i++) {
        n += (uint64_t)__builtin_popcount(p[i]);
    }
    return n;
}

bool
bitops_range(size_t len, int64_t start, int64_t end, bool in_bits,
        uint64_t *first, uint64_t *last)
{
    /* values are at most 512 MB, so len * 8 fits easily */
    int64_t total = in_bits ? (int64_t)len * 8 : (int64_t)len;
    if (start < 0) {
        start = start < -total ? 0 : start + total;
    }
    if (end < 0) {
        end = end < -total ? 0 : end + total;
    }
    if (end >= total) {
        end = total - 1;
    }
    if (start > end) {
        return false;
    }
    *first = in_bits ? (uint64_t)start : (uint64_t)start * 8;
    *last = in_bits ? (uint64_t)end : (uint64_t)end * 8 + 7;
    return true;
}

/* The bits of byte b that lie in [first, last], as a mask. */
static uint8_t
byte_mask(uint64_t b, uint64_t first, uint64_t last)
{
    unsigned lo = b == first >> 3 ? (unsigned)(first & 7) : 0;
    unsigned hi = b == last >> 3 ? (unsigned)(last & 7) : 7;
    /* bits lo .. hi counted from the most significant */
    return (uint8_t)((0xffu >> lo) & (0xffu << (7 - hi)));
}

uint64_t
bitops_count(const uint8_t *p, uint64_t first, uint64_t last)
{
    uint64_t fb = first >> 3, lb = last >> 3;
    if (fb == lb) {
        return (uint64_t)__builtin_popcount(p[fb] & byte_mask(fb, first, last));
    }
    uint64_t n =
            (uint64_t)__builtin_popcount(p[fb] & byte_mask(fb, first, last));
    n += bitops_popcount(p + fb + 1, (size_t)(lb - fb - 1));
    n += (uint64_t)__builtin_popcount(p[lb] & byte_mask(lb, first, last));
    return n;
}

/* The first bit equal to `bit` in byte v under mask, as 0..7, or -1. */
static int
first_in_byte(uint8_t v, uint8_t mask, int bit)
{
    uint8_t want = (uint8_t)((bit ? v : ~v) & mask);
    if (want == 0) {
        return -1;
    }
    return __builtin_clz((unsigned)want) - 24;
}

int64_t
bitops_pos(const uint8_t *p, int bit, uint64_t first, uint64_t last)
{
    uint64_t fb = first >> 3, lb = last >> 3;
    for (uint64_t b = fb; b <= lb; b++) {
        uint8_t mask = byte_mask(b, first, last);
        if (mask == 0xff && b + 8 <= lb) {
            /* a word whose bytes are all 0 (looking for 1) or all 1s */
            uint64_t w;
            memcpy(&w, p + b, 8);
            if (w == (bit ? 0 : UINT64_MAX)) {
                b += 7;
                continue;
            }
        }
        int i = first_in_byte(p[b], mask, bit);
        if (i >= 0) {
            return (int64_t)(b * 8 + (uint64_t)i);
        }
    }
    return -1;
}

void
bitops_op(bitops_op_e op, uint8_t *dst, size_t dlen, const uint8_t *const *srcs,
        const size_t *lens, size_t n)
{
    if (op == BITOPS_NOT) {
        for (size_t i = 0; i < dlen; i++) {
            dst[i] = (uint8_t) ~(i < lens[0] ? srcs[0][i] : 0);
        }
        return;
    }
    for (size_t i = 0; i < dlen; i++) {
        uint8_t v = i < lens[0] ? srcs[0][i] : 0;
        for (size_t k = 1; k < n; k++) {
            uint8_t s = i < lens[k] ? srcs[k][i] : 0;
            v = op == BITOPS_AND  ? (uint8_t)(v & s)
                : op == BITOPS_OR ? (uint8_t)(v | s)
                                  : (uint8_t)(v ^ s);
        }
        dst[i] = v;
    }
}

/* ---- bitfields ---- */

uint64_t
bitops_field_get(const uint8_t *p, size_t len, uint64_t offset, unsigned bits)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < bits; i++) {
        v = v << 1 | (uint64_t)bitops_get(p, len, offset + i);
    }
    return v;
}

int64_t
bitops_field_get_signed(
        const uint8_t *p, size_t len, uint64_t offset, unsigned bits)
{
    uint64_t v = bitops_field_get(p, len, offset, bits);
    if (bits < 64 && (v >> (bits - 1)) & 1) {
        v |= UINT64_MAX << bits; /* sign-extend */
    }
    return (int64_t)v;
}

void
bitops_field_set(uint8_t *p, uint64_t offset, unsigned bits, uint64_t v)
{
    for (unsigned i = 0; i < bits; i++) {
        bitops_set(p, offset + i, (int)((v >> (bits - 1 - i)) & 1));
    }
}

/* (value + incr) modulo 2^bits, sign-extended. */
static int64_t
wrap_signed(int64_t value, int64_t incr, unsigned bits)
{
    uint64_t c = (uint64_t)value + (uint64_t)incr;
    if (bits < 64) {
        uint64_t high = UINT64_MAX << bits;
        c = (c >> (bits - 1)) & 1 ? c | high : c & ~high;
    }
    return (int64_t)c;
}

/* Redis compares the increment with max - value and min - value computed
 * in 64 bits, which wrap for a SET value far outside the field (a value
 * near INT64_MIN then counts as above the field): the same arithmetic here,
 * made defined with unsigned operations, so SAT gives the same answers. */
int
bitops_overflow_signed(int64_t value, int64_t incr, unsigned bits,
        bitops_overflow_e ow, int64_t *limit)
{
    int64_t max = bits == 64 ? INT64_MAX : (int64_t)((1ULL << (bits - 1)) - 1);
    int64_t min = -max - 1;
    int64_t maxincr = (int64_t)((uint64_t)max - (uint64_t)value);
    int64_t minincr = (int64_t)((uint64_t)min - (uint64_t)value);
    int dir = 0;
    if (value > max || (bits != 64 && incr > maxincr) ||
            (value >= 0 && incr > 0 && incr > maxincr)) {
        dir = 1;
    } else if (value < min || (bits != 64 && incr < minincr) ||
               (value < 0 && incr < 0 && incr < minincr)) {
        dir = -1;
    }
    if (dir != 0 && limit != NULL) {
        if (ow == BITOPS_WRAP) {
            *limit = wrap_signed(value, incr, bits);
        } else if (ow == BITOPS_SAT) {
            *limit = dir > 0 ? max : min;
        }
    }
    return dir;
}

int
bitops_overflow_unsigned(uint64_t value, int64_t incr, unsigned bits,
        bitops_overflow_e ow, uint64_t *limit)
{
    uint64_t max = bits == 64 ? UINT64_MAX : (1ULL << bits) - 1;
    int64_t maxincr = (int64_t)(max - value);
    int64_t minincr = (int64_t)(0 - value);
    int dir = 0;
    if (value > max || (incr > 0 && incr > maxincr)) {
        dir = 1;
    } else if (incr < 0 && incr < minincr) {
        dir = -1;
    }
    if (dir != 0 && limit != NULL) {
        if (ow == BITOPS_WRAP) {
            uint64_t res = value + (uint64_t)incr;
            *limit = bits == 64 ? res : res & ~(UINT64_MAX << bits);
        } else if (ow == BITOPS_SAT) {
            *limit = dir > 0 ? max : 0;
        }
    }
    return dir;
}

/* ---- argument parsing ---- */

/* Redis compares words with strcasecmp on C strings: an argument is cut at
 * its first NUL byte. */
static bool
word_is(const struct bitops_arg *a, const char *word)
{
    size_t n = strnlen(a->p, a->len);
    return n == strlen(word) && strncasecmp(a->p, word, n) == 0;
}

bool
bitops_parse_offset(const struct bitops_arg *a, unsigned hash_bits,
        uint64_t max_bytes, uint64_t *offset)
{
    bool hash = a->len > 0 && a->p[0] == '#' && hash_bits > 0;
    int64_t v;
    if (!intset_parse(a->p + hash, a->len - hash, &v)) {
        return false;
    }
    if (hash) {
        v = (int64_t)((uint64_t)v * hash_bits); /* wraps as Redis's does */
    }
    if (v < 0 || (uint64_t)(v >> 3) >= max_bytes) {
        return false;
    }
    *offset = (uint64_t)v;
    return true;
}

bool
bitops_parse_type(const struct bitops_arg *a, bool *sign, unsigned *bits)
{
    if (a->len == 0 || (a->p[0] != 'i' && a->p[0] != 'u')) {
        return false;
    }
    *sign = a->p[0] == 'i';
    int64_t v;
    /* the width is read as a C string: up to the first NUL */
    if (!intset_parse(a->p + 1, strnlen(a->p + 1, a->len - 1), &v) || v < 1 ||
            v > (*sign ? 64 : 63)) {
        return false;
    }
    *bits = (unsigned)v;
    return true;
}

static bitops_parse_e
parse_overflow(const struct bitops_arg *a, uint8_t *ow)
{
    if (word_is(a, "wrap")) {
        *ow = BITOPS_WRAP;
    } else if (word_is(a, "sat")) {
        *ow = BITOPS_SAT;
    } else if (word_is(a, "fail")) {
        *ow = BITOPS_FAIL;
    } else {
        return BITOPS_PARSE_OVERFLOW;
    }
    return BITOPS_PARSE_OK;
}

/* One GET, SET or INCRBY at args[0], its arguments after it. */
static bitops_parse_e
parse_op(const struct bitops_arg *args, uint64_t max_bytes,
        struct bitops_field_op *op)
{
    bool sign;
    unsigned bits;
    if (!bitops_parse_type(&args[1], &sign, &bits)) {
        return BITOPS_PARSE_TYPE;
    }
    if (!bitops_parse_offset(&args[2], bits, max_bytes, &op->offset)) {
        return BITOPS_PARSE_OFFSET;
    }
    op->bits = (uint8_t)bits;
    op->sign = sign;
    op->value = 0;
    if (op->kind != BITOPS_FIELD_GET &&
            !intset_parse(args[3].p, args[3].len, &op->value)) {
        return BITOPS_PARSE_INT;
    }
    return BITOPS_PARSE_OK;
}

bitops_parse_e
bitops_parse_field(const struct bitops_arg *args, size_t n, uint64_t max_bytes,
        struct bitops_field_op *ops, size_t *nops, bool *writes,
        uint64_t *last_bit)
{
    uint8_t ow = BITOPS_WRAP;
    *nops = 0;
    *writes = false;
    *last_bit = 0;
    for (size_t j = 0; j < n; j++) {
        size_t more = n - j - 1;
        struct bitops_field_op *op = &ops[*nops];
        if (word_is(&args[j], "get") && more >= 2) {
            op->kind = BITOPS_FIELD_GET;
        } else if (word_is(&args[j], "set") && more >= 3) {
            op->kind = BITOPS_FIELD_SET;
        } else if (word_is(&args[j], "incrby") && more >= 3) {
            op->kind = BITOPS_FIELD_INCRBY;
        } else if (word_is(&args[j], "overflow") && more >= 1) {
            bitops_parse_e e = parse_overflow(&args[++j], &ow);
            if (e != BITOPS_PARSE_OK) {
                return e;
            }
            continue;
        } else {
            return BITOPS_PARSE_SYNTAX;
        }
        bitops_parse_e e = parse_op(&args[j], max_bytes, op);
        if (e != BITOPS_PARSE_OK) {
            return e;
        }
        op->overflow = ow;
        if (op->kind != BITOPS_FIELD_GET) {
            *writes = true;
            uint64_t last = op->offset + op->bits - 1;
            *last_bit = last > *last_bit ? last : *last_bit;
        }
        (*nops)++;
        j += op->kind == BITOPS_FIELD_GET ? 2 : 3;
    }
    return BITOPS_PARSE_OK;
}
