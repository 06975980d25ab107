/* SPDX-License-Identifier: Apache-2.0 */
/* ipack: a pack (pack.h) followed by an index of 32-bit hashes, one per
 * group (a set member, or a hash's field and value), in the groups' order.
 * The parts of a large hash or set (lhash.h) are ipacks: a lookup compares
 * the element's hash with each entry of the index (4 bytes each, no
 * lengths to decode) and reads an element only where the hash matches,
 * where a plain pack compares every element; a split reads the bucket bits
 * from the index instead of hashing every element again.
 *
 *   +----------------------------------------+------+------+----
 *   | pack: count, len 0, bytes 0, ...       | h 0  | h 1  | ...
 *   | (count = groups * stride elements)     | 4 B  | 4 B  |     little-endian
 *   +----------------------------------------+------+------+----
 *   a set {"a"}: 01 01 61 | types_hash("a") & 0xffffffff
 *
 * h i is the low 32 bits of types_hash() of group i's first element (the
 * member, or the field): the bits linear hashing reads while a collection
 * has at most 2^31 buckets. The pack's length is the image's length less 4
 * bytes per group; an empty ipack is the empty pack, 00.
 *
 * Same rules as pack.h: images are immutable, a change is X_size() then
 * X_write() into a buffer that does not overlap the old image; every
 * function but ipack_valid() assumes a valid image. Positions (struct
 * pack_pos) are the pack's: an element index and a byte offset into the
 * pack. Pure functions: any thread. */
#pragma once

#include "types/pack.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IPACK_HASH_SIZE 4

/* The index entry of an element whose types_hash() is h. */
static inline uint32_t
ipack_hash_of(uint64_t h)
{
    return (uint32_t)h;
}

/* true when p[0..len) is exactly one ipack of stride: a valid pack of a
 * multiple of stride elements, then one entry per group that equals the
 * hash of the group's first element, and nothing after. */
bool ipack_valid(const uint8_t *p, size_t len, size_t stride);

/* Groups in the image, and the bytes of its pack (the prefix that every
 * pack.h reader takes: pack_iter_init(p, ipack_pack_len(...)) ...). */
size_t ipack_groups(const uint8_t *p, size_t len, size_t stride);
size_t ipack_pack_len(const uint8_t *p, size_t len, size_t stride);
/* Index entry of group g (g < groups). */
uint32_t ipack_hash_at(const uint8_t *p, size_t len, size_t stride, size_t g);

/* Looks for elem, whose types_hash() gives h, at positions 0, stride, ...
 * true and *pos when found; false and *pos = {count, pack length}, the
 * append position, when not. */
bool ipack_find(const uint8_t *p, size_t len, size_t stride, uint32_t h,
        const void *elem, size_t elen, struct pack_pos *pos);

/* Building from scratch: the pack (pack_head_write, pack_elem_write) and
 * then one entry per group, in the same order. */
size_t ipack_hash_write(uint8_t *dst, uint32_t h);

/* A new group (stride elements g[]) appended, its first element's hash h. */
size_t ipack_append_size(
        const uint8_t *p, size_t len, size_t stride, const struct pack_elem *g);
size_t ipack_append_write(uint8_t *dst, const uint8_t *p, size_t len,
        size_t stride, const struct pack_elem *g, uint32_t h);
/* Element k of the group found at pos (k < stride, and k > 0: the first
 * element is what the hash is of) replaced by elem: a hash's value. */
size_t ipack_replace_size(const uint8_t *p, size_t len, size_t stride,
        const struct pack_pos *pos, size_t k, size_t elen);
size_t ipack_replace_write(uint8_t *dst, const uint8_t *p, size_t len,
        size_t stride, const struct pack_pos *pos, size_t k, const void *elem,
        size_t elen);
/* The group found at pos removed. */
size_t ipack_delete_size(const uint8_t *p, size_t len, size_t stride,
        const struct pack_pos *pos);
size_t ipack_delete_write(uint8_t *dst, const uint8_t *p, size_t len,
        size_t stride, const struct pack_pos *pos);

/* Says whether the group whose index entry is h stays: a pure function of
 * h, since it is asked more than once per group. */
typedef bool ipack_keep_fn(uint32_t h, void *arg);
/* The image with only the groups keep() says stay, in their order: a
 * bucket split in two by a hash bit, without hashing an element. */
size_t ipack_filter_size(const uint8_t *p, size_t len, size_t stride,
        ipack_keep_fn *keep, void *arg);
size_t ipack_filter_write(uint8_t *dst, const uint8_t *p, size_t len,
        size_t stride, ipack_keep_fn *keep, void *arg);
/* Both halves at once (a bucket split): side 0 the groups keep() says
 * stay, side 1 the others, each in their order; one walk sizes both, one
 * writes both (the filter above takes three walks per half). */
struct ipack_split {
    size_t len[2];    /* bytes of each side's ipack */
    size_t groups[2]; /* groups on each side */
};
void ipack_split_size(const uint8_t *p, size_t len, size_t stride,
        ipack_keep_fn *keep, void *arg, struct ipack_split *s);
/* dst[k] has room for s->len[k] bytes; s is ipack_split_size's for the
 * same image and keep(). */
void ipack_split_write(uint8_t *const dst[2], const uint8_t *p, size_t len,
        size_t stride, ipack_keep_fn *keep, void *arg,
        const struct ipack_split *s);
