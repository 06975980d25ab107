/* SPDX-License-Identifier: Apache-2.0 */
/* Counting allocation wrappers. */
#include "base/mm.h"

#include "base/util.h"

#include <stdlib.h>
#include <string.h>

static uint64_t n_alloc;
static uint64_t n_free;

static void *
counted(void *p)
{
    if (p != NULL) {
        __atomic_fetch_add(&n_alloc, 1, __ATOMIC_RELAXED);
    }
    return p;
}

void *
mm_alloc(size_t size)
{
    return counted(malloc(size));
}

void *
mm_zalloc(size_t size)
{
    return counted(calloc(1, size));
}

void *
mm_realloc(void *ptr, size_t size)
{
    void *p = realloc(ptr, size);
    if (p != NULL && ptr == NULL) {
        __atomic_fetch_add(&n_alloc, 1, __ATOMIC_RELAXED);
    }
    return p;
}

void *
mm_aligned_alloc(size_t align, size_t size)
{
    return counted(aligned_alloc(align, size_align(size, align)));
}

char *
mm_strdup(const char *s)
{
    return counted(strdup(s));
}

char *
mm_strndup(const char *s, size_t n)
{
    return counted(strndup(s, n));
}

void
mm_release(void *ptr)
{
    if (ptr != NULL) {
        __atomic_fetch_add(&n_free, 1, __ATOMIC_RELAXED);
        free(ptr);
    }
}

uint64_t
mm_alloc_count(void)
{
    return __atomic_load_n(&n_alloc, __ATOMIC_RELAXED);
}

uint64_t
mm_free_count(void)
{
    return __atomic_load_n(&n_free, __ATOMIC_RELAXED);
}
