/* SPDX-License-Identifier: Apache-2.0 */
/* Small helpers every module uses: sizes, assertions, branch hints. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* clang-format off */
#define KiB (1024ULL)
#define MiB (1024ULL * KiB)
#define GiB (1024ULL * MiB)
#define CACHE_LINE 64
/* clang-format on */

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

static inline size_t
size_min(size_t a, size_t b)
{
    return a < b ? a : b;
}

static inline size_t
size_max(size_t a, size_t b)
{
    return a > b ? a : b;
}

/* Rounds x up to a multiple of align (a power of two). */
static inline size_t
size_align(size_t x, size_t align)
{
    return (x + align - 1) & ~(align - 1);
}

void assert_fail(const char *cond, const char *file, int line);

/* Guards our own invariants: aborts in Debug and sanitizer builds, compiled
 * out in Release. Network and config input is checked with `if`. */
#if defined(SEGCACHED_ASSERT) && SEGCACHED_ASSERT
#define ASSERT(cond)                                                           \
    do {                                                                       \
        if (!(cond)) {                                                         \
            assert_fail(#cond, __FILE__, __LINE__);                            \
        }                                                                      \
    } while (0)
#else
#define ASSERT(cond)                                                           \
    do {                                                                       \
        (void)sizeof(cond);                                                    \
    } while (0)
#endif
