/* SPDX-License-Identifier: Apache-2.0 */
/* 64-bit hashing of keys: XXH3 through libxxhash. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <xxhash.h>

static inline uint64_t
hash_key(const void *key, size_t len)
{
    return XXH3_64bits(key, len);
}

static inline uint64_t
hash_key_seed(const void *key, size_t len, uint64_t seed)
{
    return XXH3_64bits_withSeed(key, len, seed);
}
