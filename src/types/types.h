/* SPDX-License-Identifier: Apache-2.0 */
/* What every value encoding in src/types/ shares: the element hash and
 * LEB128 varints. Encodings are position-independent byte strings (no
 * pointers, no alignment: multi-byte fields read bytewise or by memcpy), so an
 * image can live anywhere in a segment and survive a warm restart. Pure
 * functions: any thread may call them on images it can read. */
#pragma once

#include "base/hash.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Element hashes pick buckets of large collections (lhash.h), so the seed is
 * part of the stored format: changing it invalidates every image on disk. */
#define TYPES_HASH_SEED 0x5e6ca4edc011ec7aULL

/* Longest varint: 64 bits in 7-bit groups. */
#define TYPES_VARINT_MAX 10

static inline uint64_t
types_hash(const void *p, size_t len)
{
    return hash_key_seed(p, len, TYPES_HASH_SEED);
}

/* Bytes the varint of v takes: 1 below 128, 2 below 16384, ... */
static inline size_t
types_varint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* Writes v as LEB128 (low 7 bits first, top bit = more follows); returns the
 * bytes written, types_varint_size(v). */
static inline size_t
types_varint_write(uint8_t *dst, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        dst[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    dst[n++] = (uint8_t)v;
    return n;
}

/* Reads a varint from a valid image; returns its length in bytes. */
static inline size_t
types_varint_read(const uint8_t *p, uint64_t *v)
{
    uint64_t x = p[0] & 0x7f;
    size_t n = 1;
    while (p[n - 1] & 0x80) {
        x |= (uint64_t)(p[n] & 0x7f) << (7 * n);
        n++;
    }
    *v = x;
    return n;
}

/* Reads a varint from untrusted bytes: returns its length, or 0 when it runs
 * past len, is longer than 10 bytes, overflows 64 bits or is not the
 * shortest form (so every valid image has exactly one encoding and the
 * writers' size arithmetic holds for it). */
static inline size_t
types_varint_read_checked(const uint8_t *p, size_t len, uint64_t *v)
{
    uint64_t x = 0;
    for (size_t n = 0; n < len && n < TYPES_VARINT_MAX; n++) {
        uint64_t b = p[n] & 0x7f;
        if (n == TYPES_VARINT_MAX - 1 && b > 1) {
            return 0; /* the 10th byte holds bit 63 only */
        }
        x |= b << (7 * n);
        if ((p[n] & 0x80) == 0) {
            if (n > 0 && p[n] == 0) {
                return 0; /* overlong: a trailing zero group */
            }
            *v = x;
            return n + 1;
        }
    }
    return 0;
}

/* Big-endian fixed-width integers of n bytes (n <= 8), as roots and part
 * keys store them (byte order is numeric order). */
static inline void
types_be_put(uint8_t *p, uint64_t v, int n)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (n == 8) { /* a root's count and bytes: one swap, one store */
        uint64_t be = __builtin_bswap64(v);
        memcpy(p, &be, 8);
        return;
    }
#endif
    for (int i = 0; i < n; i++) {
        p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    }
}

static inline uint64_t
types_be_get(const uint8_t *p, int n)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (n == 8) {
        uint64_t be;
        memcpy(&be, p, 8);
        return __builtin_bswap64(be);
    }
#endif
    uint64_t v = 0;
    for (int i = 0; i < n; i++) {
        v = v << 8 | p[i];
    }
    return v;
}
