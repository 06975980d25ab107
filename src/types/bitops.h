/* SPDX-License-Identifier: Apache-2.0 */
/* Bitmaps and bitfields over plain strings, as Redis 7.0.15 reads and
 * writes them (SETBIT GETBIT BITCOUNT BITPOS BITOP BITFIELD): bit 0 is the
 * most significant bit of byte 0, a bitfield is read and written most
 * significant bit first, and bytes past a string's end read as zero. Pure
 * functions over caller-supplied bytes; any thread. Also the parser of
 * BITFIELD's arguments, so that it can be fuzzed on its own. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* clang-format off */
#define BITOPS_FIELD_BITS_MAX 64 /* i64; unsigned fields stop at u63 */
/* clang-format on */

/* ---- single bits and counts ---- */

/* Bit `bit` of p[0 .. len); 0 past the end. */
int bitops_get(const uint8_t *p, size_t len, uint64_t bit);
/* Sets bit `bit` (p holds at least bit / 8 + 1 bytes) to on (0 or 1);
 * returns its old value. */
int bitops_set(uint8_t *p, uint64_t bit, int on);
/* Set bits of p[0 .. len). */
uint64_t bitops_popcount(const uint8_t *p, size_t len);

/* Redis's BITCOUNT/BITPOS range rules: start and end index bytes (or bits
 * when in_bits) of a len-byte string, negative ones count from the end, and
 * both are clamped into it. True and the inclusive bit range [*first,
 * *last] when it is not empty. */
bool bitops_range(size_t len, int64_t start, int64_t end, bool in_bits,
        uint64_t *first, uint64_t *last);
/* Set bits in the bit range [first, last] (inside the string). */
uint64_t bitops_count(const uint8_t *p, uint64_t first, uint64_t last);
/* The first bit equal to `bit` in [first, last] (inside the string), or -1
 * when there is none. */
int64_t bitops_pos(const uint8_t *p, int bit, uint64_t first, uint64_t last);

/* ---- BITOP ---- */

typedef enum {
    BITOPS_AND,
    BITOPS_OR,
    BITOPS_XOR,
    BITOPS_NOT,
} bitops_op_e;

/* dst[0 .. dlen) = op over srcs (n of them; NOT takes one): a source
 * shorter than dlen reads as zero past its end. */
void bitops_op(bitops_op_e op, uint8_t *dst, size_t dlen,
        const uint8_t *const *srcs, const size_t *lens, size_t n);

/* ---- bitfields ---- */

typedef enum {
    BITOPS_WRAP,
    BITOPS_SAT,
    BITOPS_FAIL,
} bitops_overflow_e;

/* The bits-wide field at bit offset `offset`, read as unsigned (bits <=
 * 64) or sign-extended; zeros past len. */
uint64_t bitops_field_get(
        const uint8_t *p, size_t len, uint64_t offset, unsigned bits);
int64_t bitops_field_get_signed(
        const uint8_t *p, size_t len, uint64_t offset, unsigned bits);
/* Writes the low `bits` bits of v at offset (p holds the field). */
void bitops_field_set(uint8_t *p, uint64_t offset, unsigned bits, uint64_t v);
/* Whether value + incr leaves the range of a signed (unsigned) bits-wide
 * field, as Redis's checkSignedBitfieldOverflow (checkUnsigned...) decides
 * it: 0 no, 1 above, -1 below; on overflow *limit gets what WRAP or SAT
 * store (untouched for FAIL). */
int bitops_overflow_signed(int64_t value, int64_t incr, unsigned bits,
        bitops_overflow_e ow, int64_t *limit);
int bitops_overflow_unsigned(uint64_t value, int64_t incr, unsigned bits,
        bitops_overflow_e ow, uint64_t *limit);

/* ---- argument parsing ---- */

/* One argument: bytes and length (a view). */
struct bitops_arg {
    const char *p;
    size_t len;
};

/* Redis's getBitOffsetFromArgument: a non-negative integer, or with
 * hash_bits > 0 also "#n" (n * hash_bits); the byte it falls in must be
 * below max_bytes (proto-max-bulk-len). */
bool bitops_parse_offset(const struct bitops_arg *a, unsigned hash_bits,
        uint64_t max_bytes, uint64_t *offset);
/* Redis's getBitfieldTypeFromArgument: i1 .. i64, u1 .. u63. */
bool bitops_parse_type(const struct bitops_arg *a, bool *sign, unsigned *bits);

typedef enum {
    BITOPS_FIELD_GET,
    BITOPS_FIELD_SET,
    BITOPS_FIELD_INCRBY,
} bitops_field_e;

struct bitops_field_op {
    uint64_t offset;
    int64_t value;    /* SET's value, INCRBY's increment */
    uint8_t kind;     /* bitops_field_e */
    uint8_t overflow; /* bitops_overflow_e in force for this op */
    uint8_t bits;
    bool sign;
};

/* Why BITFIELD's arguments were refused, in the order Redis checks. */
typedef enum {
    BITOPS_PARSE_OK = 0,
    BITOPS_PARSE_SYNTAX,   /* ERR syntax error */
    BITOPS_PARSE_OVERFLOW, /* ERR Invalid OVERFLOW type specified */
    BITOPS_PARSE_TYPE,     /* ERR Invalid bitfield type ... */
    BITOPS_PARSE_OFFSET,   /* ERR bit offset is not an integer ... */
    BITOPS_PARSE_INT,      /* ERR value is not an integer ... */
} bitops_parse_e;

/* Parses BITFIELD's subcommands args[0 .. n) (after the key) into
 * ops[0 .. *nops) (ops holds n / 2 + 1 entries at least). *writes: some op
 * is a SET or INCRBY; *last_bit: the highest bit they write. */
bitops_parse_e bitops_parse_field(const struct bitops_arg *args, size_t n,
        uint64_t max_bytes, struct bitops_field_op *ops, size_t *nops,
        bool *writes, uint64_t *last_bit);
