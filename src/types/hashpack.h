/* SPDX-License-Identifier: Apache-2.0 */
/* hashpack: a Redis hash as a pack (pack.h) of field, value, field, value...
 * Fields are the elements at even positions and are unique. Order is
 * insertion order, as in Redis's listpack encoding: a new field is appended
 * at the end, a replaced value keeps its position, a deleted pair closes up.
 * An empty hash is the empty pack (one byte 0x00; callers usually delete
 * the key instead).
 *
 * Same rules as pack.h: images are immutable; a change is X_size() then
 * X_write() into a fresh buffer of exactly that size; every function but
 * hashpack_valid() assumes a valid image; views live as long as the image.
 * Pure functions: any thread. */
#pragma once

#include "types/pack.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A pack with an even count and no field twice. */
bool hashpack_valid(const uint8_t *p, size_t len);

/* Number of field-value pairs (HLEN). */
size_t hashpack_count(const uint8_t *p, size_t len);

/* Where field f is: true and *pos (pos->index is the field's element
 * position, 2 * pair index; pos->off its byte offset); false and *pos =
 * the append position when it is missing. The result feeds the _size and
 * _write calls below, so a change searches once. */
bool hashpack_find(const uint8_t *p, size_t len, const void *f, size_t flen,
        struct pack_pos *pos);

/* HGET: true and *v when f is there. */
bool hashpack_get(const uint8_t *p, size_t len, const void *f, size_t flen,
        struct pack_elem *v);
/* HEXISTS */
bool hashpack_exists(const uint8_t *p, size_t len, const void *f, size_t flen);
/* HSTRLEN: the value's length, 0 when f is missing (as Redis replies). */
size_t hashpack_strlen(
        const uint8_t *p, size_t len, const void *f, size_t flen);

/* The value of the field found at pos (hashpack_find() returned true). */
struct pack_elem hashpack_value_at(
        const uint8_t *p, size_t len, const struct pack_pos *pos);

/* HSET f v with pos from hashpack_find(p, len, f, flen, &pos): a found
 * field gets the new value in place, a missing one is appended with it.
 * Whether the field is new is what hashpack_find() returned. */
size_t hashpack_set_size(const uint8_t *p, size_t len,
        const struct pack_pos *pos, size_t flen, size_t vlen);
size_t hashpack_set_write(uint8_t *dst, const uint8_t *p, size_t len,
        const struct pack_pos *pos, const void *f, size_t flen, const void *v,
        size_t vlen);

/* HDEL of the field found at pos. */
size_t hashpack_delete_size(
        const uint8_t *p, size_t len, const struct pack_pos *pos);
size_t hashpack_delete_write(
        uint8_t *dst, const uint8_t *p, size_t len, const struct pack_pos *pos);

/* Pair i (i < count) in order, for HRANDFIELD. O(i). */
void hashpack_at(const uint8_t *p, size_t len, size_t i, struct pack_elem *f,
        struct pack_elem *v);

/* Iterates pairs: initialise with pack_iter_init(); false when done. */
bool hashpack_next(
        struct pack_iter *it, struct pack_elem *f, struct pack_elem *v);
