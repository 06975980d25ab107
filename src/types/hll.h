/* SPDX-License-Identifier: Apache-2.0 */
/* HyperLogLog as Redis 7.0.15 stores it in a plain string, byte for byte,
 * so that GET and SET move one between Redis and segcached: the same hash
 * (MurmurHash64A, seed 0xadc83b19), 2^14 registers, the same sparse and
 * dense encodings, the same sparse -> dense promotion and the same
 * estimator (Ertl's improved raw estimator), hence the same numbers.
 *
 *   header, 16 bytes:  "HYLL" | encoding (0 dense, 1 sparse) | 3 unused |
 *                      cached cardinality, 8 bytes little-endian; the top
 *                      bit of its last byte set: not valid
 *   dense:             16384 registers of 6 bits, register i at bits
 *                      6i .. 6i+5 counted from the least significant bit
 *                      of byte 0 (12288 bytes)
 *   sparse:            runs of registers, opcodes
 *                      00xxxxxx          ZERO:  xxxxxx + 1 zero registers
 *                      01xxxxxx yyyyyyyy XZERO: (x << 8 | y) + 1 zeros
 *                      1vvvvvxx          VAL:   xx + 1 registers of
 *                                        value vvvvv + 1 (1 .. 32)
 *
 * Untrusted images (any string may be SET) are read within their length:
 * what is not a valid HLL gives HLL_ECORRUPT, never a read or write out of
 * bounds. Pure functions; any thread. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* clang-format off */
#define HLL_P              14
#define HLL_REGISTERS      (1u << HLL_P)       /* 16384 */
#define HLL_HDR_SIZE       16
#define HLL_DENSE_SIZE     (HLL_HDR_SIZE + HLL_REGISTERS * 6 / 8) /* 12304 */
#define HLL_EMPTY_SIZE     (HLL_HDR_SIZE + 2)  /* one XZERO of 16384 */
#define HLL_SPARSE         1
#define HLL_DENSE          0
#define HLL_SPARSE_MAX_BYTES 3000              /* hll-sparse-max-bytes */
#define HLL_GROWTH_MAX     3    /* bytes one hll_add may add to a sparse */
/* clang-format on */

typedef enum {
    HLL_UNCHANGED = 0,
    HLL_CHANGED = 1,
    HLL_ECORRUPT = -1, /* INVALIDOBJ Corrupted HLL object detected */
} hll_status_e;

/* Redis's isHLLObjectOrReply: "HYLL", a known encoding, and a dense image
 * of exactly HLL_DENSE_SIZE bytes. Anything else is WRONGTYPE. */
bool hll_is_hll(const uint8_t *p, size_t len);

/* Writes the empty HLL Redis creates (sparse, HLL_EMPTY_SIZE bytes). */
size_t hll_init(uint8_t *dst);

/* Adds an element to the HLL in buf[0 .. *len), in place: buf holds at
 * least max(*len + HLL_GROWTH_MAX, HLL_DENSE_SIZE) bytes. A sparse image
 * that would grow past sparse_max bytes becomes dense. *len is updated.
 * The cached cardinality is not touched (hll_cache_invalidate). */
hll_status_e hll_add(uint8_t *buf, size_t *len, size_t cap, const void *ele,
        size_t elen, size_t sparse_max);
/* Raises register idx to at least val (1 .. 63) the same way. */
hll_status_e hll_raise(uint8_t *buf, size_t *len, size_t cap, uint32_t idx,
        uint8_t val, size_t sparse_max);
/* Converts a sparse image to dense in place (cap >= HLL_DENSE_SIZE),
 * keeping the header but for the encoding; a dense one is left alone. */
hll_status_e hll_to_dense(uint8_t *buf, size_t *len, size_t cap);

/* max[i] = max(max[i], register i) over an image (Redis's hllMerge). */
hll_status_e hll_merge(
        uint8_t max[HLL_REGISTERS], const uint8_t *p, size_t len);

/* The estimate of an image (HLL_ECORRUPT: *card untouched), or of raw
 * 8-bit registers (PFCOUNT of several keys). */
hll_status_e hll_count(const uint8_t *p, size_t len, uint64_t *card);
uint64_t hll_count_raw(const uint8_t max[HLL_REGISTERS]);

/* The cached cardinality in the header. */
bool hll_cache_valid(const uint8_t *p);
uint64_t hll_cache_get(const uint8_t *p);
void hll_cache_set(uint8_t *p, uint64_t card);
void hll_cache_invalidate(uint8_t *p);

/* Register idx of an image, or -1 when the sparse runs do not reach it. */
int hll_register(const uint8_t *p, size_t len, uint32_t idx);

/* The register index and run length of an element (Redis's hllPatLen). */
uint32_t hll_pattern(const void *ele, size_t elen, uint8_t *count);
