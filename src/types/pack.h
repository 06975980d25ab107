/* SPDX-License-Identifier: Apache-2.0 */
/* pack: a compact sequence of byte strings, Redis listpack's idea, for small
 * hashes (field, value, field, value ...; see hashpack.h) and small sets
 * (members) and for the buckets of large ones (lhash.h).
 *
 *   +-------------+-----------+---------+-----------+---------+----
 *   | count       | len 0     | bytes 0 | len 1     | bytes 1 | ...
 *   | varint      | varint    | len 0 B | varint    | len 1 B |
 *   +-------------+-----------+---------+-----------+---------+----
 *
 * Varints are LEB128 (types.h): an element under 128 bytes costs one byte of
 * overhead, under 16384 two. No padding, no back pointers; the image's
 * length is the caller's (the stored value's length). An empty pack is the
 * one byte 0x00.
 *
 * Images are immutable: a change is a pair X_size() (exact bytes of the new
 * image, nothing written) and X_write(dst, ...) (writes exactly that many
 * bytes to dst, which must not overlap the old image, and returns the
 * count). Every function but pack_valid() assumes a valid image: check
 * untrusted bytes (a fuzzer's, a warm restart's) with pack_valid() first.
 * Offsets are byte offsets into the image from its first byte; positions
 * are element indexes. Views point into the image and live as long as it.
 * Pure functions: any thread. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A view of one element: its bytes inside an image. */
struct pack_elem {
    const uint8_t *p;
    size_t len;
};

/* Where an element is: its position and the byte offset of its length
 * varint. For a missing element pack_find() gives the append position
 * {count, len}. */
struct pack_pos {
    size_t index;
    size_t off;
};

/* Walks the elements in order. Callers may read `left` (elements not yet
 * returned); the rest is private. */
struct pack_iter {
    const uint8_t *next;
    size_t left;
};

/* true when p[0..len) is exactly one pack image: a shortest-form count,
 * then count elements whose lengths fit, and nothing after them. */
bool pack_valid(const uint8_t *p, size_t len);

/* For a valid image: true when no element at positions 0, stride,
 * 2 * stride ... equals another there (set members, hash fields). A bitmap
 * of hashes on the stack keeps it near linear for up to some thousands of
 * groups; past that it degrades towards quadratic. */
bool pack_unique(const uint8_t *p, size_t len, size_t stride);

size_t pack_count(const uint8_t *p, size_t len);
/* Byte offset of element i (0 <= i <= count; i == count gives len). O(i). */
size_t pack_offset(const uint8_t *p, size_t len, size_t i);
/* Element i (i < count). O(i). */
struct pack_elem pack_at(const uint8_t *p, size_t len, size_t i);
/* The element whose length varint starts at byte offset off (< len). */
struct pack_elem pack_at_offset(const uint8_t *p, size_t len, size_t off);
/* Bytes element e takes in the image, its length varint included. */
size_t pack_elem_span(struct pack_elem e);

void pack_iter_init(struct pack_iter *it, const uint8_t *p, size_t len);
/* false when done */
bool pack_next(struct pack_iter *it, struct pack_elem *e);

/* Looks for elem at positions 0, stride, 2 * stride, ... (stride 2: hash
 * fields, 1: set members). true and *pos when found; false and *pos =
 * {count, len}, the append position, when not. */
bool pack_find(const uint8_t *p, size_t len, const void *elem, size_t elen,
        size_t stride, struct pack_pos *pos);

/* Building an image from scratch: the head for count elements, then each
 * element. Both return the bytes written (or needed, for _size). */
size_t pack_head_size(size_t count);
size_t pack_head_write(uint8_t *dst, size_t count);
size_t pack_elem_size(size_t elen);
size_t pack_elem_write(uint8_t *dst, const void *elem, size_t elen);

/* The general splice: remove ndel elements starting at byte offset off (the
 * start of an element, or len to append) and put the nins elements of ins
 * in their place (pack_splice_size() reads only their lengths). The
 * wrappers below are splices. */
size_t pack_splice_size(const uint8_t *p, size_t len, size_t off, size_t ndel,
        const struct pack_elem *ins, size_t nins);
size_t pack_splice_write(uint8_t *dst, const uint8_t *p, size_t len, size_t off,
        size_t ndel, const struct pack_elem *ins, size_t nins);

/* One element inserted before the element at off (off == len: appended). */
size_t pack_insert_size(const uint8_t *p, size_t len, size_t off, size_t elen);
size_t pack_insert_write(uint8_t *dst, const uint8_t *p, size_t len, size_t off,
        const void *elem, size_t elen);
/* The element at off replaced by elem. */
size_t pack_replace_size(const uint8_t *p, size_t len, size_t off, size_t elen);
size_t pack_replace_write(uint8_t *dst, const uint8_t *p, size_t len,
        size_t off, const void *elem, size_t elen);
/* n elements starting at off removed (n = 1: a member, 2: a pair). */
size_t pack_delete_size(const uint8_t *p, size_t len, size_t off, size_t n);
size_t pack_delete_write(
        uint8_t *dst, const uint8_t *p, size_t len, size_t off, size_t n);

/* Says whether a group of stride elements (a member, or a field and its
 * value) stays; sees the group's first element. Must be a pure function of
 * the element: pack_filter_size() asks once per group, pack_filter_write()
 * twice (the head's count comes before the body). */
typedef bool pack_keep_fn(const uint8_t *elem, size_t elen, void *arg);
/* The image with only the groups keep() says stay, in their order (splits a
 * bucket in two by a hash bit: once with keep, once with its negation).
 * The count must be a multiple of stride. */
size_t pack_filter_size(const uint8_t *p, size_t len, size_t stride,
        pack_keep_fn *keep, void *arg);
size_t pack_filter_write(uint8_t *dst, const uint8_t *p, size_t len,
        size_t stride, pack_keep_fn *keep, void *arg);
