/* SPDX-License-Identifier: Apache-2.0 */
/* The random sequence the encoding tests draw from: splitmix64 over a
 * state each test sets (a fixed seed: the same sequence everywhere). */
#pragma once

#include <stdint.h>

static uint64_t rng_state;

static inline uint64_t
rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
