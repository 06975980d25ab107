/* SPDX-License-Identifier: Apache-2.0 */
/* Allocation wrappers that count calls, so tests and operators can see
 * allocation on paths that should have none. Any thread. */
#pragma once

#include <stddef.h>
#include <stdint.h>

void *mm_alloc(size_t size);              /* NULL on failure */
void *mm_zalloc(size_t size);             /* zeroed; NULL on failure */
void *mm_realloc(void *ptr, size_t size); /* NULL on failure, ptr untouched */
/* align: a power of two, multiple of sizeof(void *); size rounded up */
void *mm_aligned_alloc(size_t align, size_t size);
char *mm_strdup(const char *s);
char *mm_strndup(const char *s, size_t n);
void mm_release(void *ptr); /* NULL-safe */

/* Frees *pp and sets it to NULL. */
#define mm_free(pp)                                                            \
    do {                                                                       \
        mm_release(*(pp));                                                     \
        *(pp) = NULL;                                                          \
    } while (0)

/* Calls to allocate and to free since start; relaxed, for metrics/tests. */
uint64_t mm_alloc_count(void);
uint64_t mm_free_count(void);
