/* SPDX-License-Identifier: Apache-2.0 */
/* intset: a set of int64 as Redis's intset encodes it: sorted, every value
 * at one width, the smallest of 2, 4 or 8 bytes that held every member
 * ever added (a wider member upgrades the whole image; removals never
 * downgrade it, as in Redis).
 *
 *   +-------+--------+---------+---------+-----
 *   | width | count  | value 0 | value 1 | ...   values ascending, unique,
 *   | 1 B   | varint | width B | width B |       little-endian two's
 *   +-------+--------+---------+---------+-----  complement, byte by byte
 *
 * The empty set is {2, 0}. Same rules as pack.h: images are immutable; a
 * change is X_size() then X_write() into a fresh buffer of exactly that
 * size; every function but intset_valid() assumes a valid image. Pure
 * functions: any thread. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define INTSET_EMPTY_SIZE 2
/* Longest decimal int64: "-9223372036854775808". */
#define INTSET_FMT_MAX    20

/* Walks the values in ascending order; the fields are private. */
struct intset_iter {
    const uint8_t *next;
    size_t left;
    uint8_t width;
};

/* true when p[0..len) is exactly one intset image: width 2, 4 or 8, a
 * shortest-form count, count values strictly ascending, nothing more. */
bool intset_valid(const uint8_t *p, size_t len);

/* Writes the empty set; returns INTSET_EMPTY_SIZE. */
size_t intset_init(uint8_t *dst);

size_t intset_count(const uint8_t *p, size_t len);
/* Bytes per value: 2, 4 or 8. */
size_t intset_width(const uint8_t *p, size_t len);
/* Value i (i < count), in ascending order. O(1). */
int64_t intset_at(const uint8_t *p, size_t len, size_t i);
/* Binary search: true and *index when v is a member; false and *index =
 * where it would go when not. index may be NULL. */
bool intset_find(const uint8_t *p, size_t len, int64_t v, size_t *index);

/* SADD of v, which must not be a member (intset_find() said so). */
size_t intset_add_size(const uint8_t *p, size_t len, int64_t v);
size_t intset_add_write(uint8_t *dst, const uint8_t *p, size_t len, int64_t v);
/* SREM of v, which must be a member; the width stays. */
size_t intset_remove_size(const uint8_t *p, size_t len, int64_t v);
size_t intset_remove_write(
        uint8_t *dst, const uint8_t *p, size_t len, int64_t v);

void intset_iter_init(struct intset_iter *it, const uint8_t *p, size_t len);
/* false when done */
bool intset_next(struct intset_iter *it, int64_t *v);

/* true and *v when s[0..len) is an integer as Redis's string2ll accepts
 * it, the only members a set may keep in an intset: an optional '-', then
 * "0" or digits without a leading zero, nothing else (no '+', no spaces,
 * no "-0"), within int64. */
bool intset_parse(const void *s, size_t len, int64_t *v);
/* Writes v in decimal to buf (INTSET_FMT_MAX bytes, no NUL); returns the
 * length. intset_parse() of the result gives v back. */
size_t intset_fmt(int64_t v, char *buf);
