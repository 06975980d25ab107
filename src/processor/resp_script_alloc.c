/* SPDX-License-Identifier: Apache-2.0 */
#include "resp_script_alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#define ALLOC_PLAIN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ALLOC_PLAIN 1
#endif
#endif
#ifndef ALLOC_PLAIN
#define ALLOC_PLAIN 0
#endif

#define GRAIN      16 /* size classes: 16, 32, ..., SCRIPT_ALLOC_SMALL */
#define NCLASS     (SCRIPT_ALLOC_SMALL / GRAIN)
#define CHUNK_SIZE (64 * 1024)

struct chunk {
    struct chunk *next;
    /* then the blocks, from offset GRAIN (16-byte aligned) */
};

struct block {
    struct block *next;
};

struct script_alloc {
    struct block *free[NCLASS];
    struct chunk *chunks;
    char *bump; /* the newest chunk's unused tail */
    size_t left;
    size_t used;
    size_t chunk_bytes;
};

_Static_assert(sizeof(struct chunk) <= GRAIN, "a chunk's header fits a grain");

struct script_alloc *
script_alloc_create(void)
{
    return calloc(1, sizeof(struct script_alloc));
}

void
script_alloc_destroy(struct script_alloc *a)
{
    if (a == NULL) {
        return;
    }
    for (struct chunk *c = a->chunks, *next; c != NULL; c = next) {
        next = c->next;
        free(c);
    }
    free(a);
}

size_t
script_alloc_used(const struct script_alloc *a)
{
    return a->used;
}

size_t
script_alloc_chunk_bytes(const struct script_alloc *a)
{
    return a->chunk_bytes;
}

static inline size_t
class_of(size_t size) /* size in 1..SCRIPT_ALLOC_SMALL */
{
    return (size - 1) / GRAIN;
}

static void *
small_new(struct script_alloc *a, size_t size)
{
    size_t k = class_of(size);
    struct block *b = a->free[k];
    if (b != NULL) {
        a->free[k] = b->next;
        return b;
    }
    size_t need = (k + 1) * GRAIN;
    if (a->left < need) {
        struct chunk *c = malloc(CHUNK_SIZE);
        if (c == NULL) {
            return NULL;
        }
        c->next = a->chunks;
        a->chunks = c;
        a->chunk_bytes += CHUNK_SIZE;
        /* the old tail's few bytes are left unused */
        a->bump = (char *)c + GRAIN;
        a->left = CHUNK_SIZE - GRAIN;
    }
    void *p = a->bump;
    a->bump += need;
    a->left -= need;
    return p;
}

static void
small_free(struct script_alloc *a, void *p, size_t size)
{
    struct block *b = p;
    size_t k = class_of(size);
    b->next = a->free[k];
    a->free[k] = b;
}

static void *
block_new(struct script_alloc *a, size_t size)
{
    return !ALLOC_PLAIN && size <= SCRIPT_ALLOC_SMALL ? small_new(a, size)
                                                      : malloc(size);
}

static void
block_free(struct script_alloc *a, void *p, size_t size)
{
    if (!ALLOC_PLAIN && size <= SCRIPT_ALLOC_SMALL) {
        small_free(a, p, size);
    } else {
        free(p);
    }
}

void *
script_alloc_fn(void *ud, void *ptr, size_t osize, size_t nsize)
{
    struct script_alloc *a = ud;
    if (ptr == NULL) {
        osize = 0; /* Lua 5.1 passes 0; later Luas pass a type here */
    }
    if (nsize == 0) {
        if (ptr != NULL) {
            block_free(a, ptr, osize);
            a->used -= osize;
        }
        return NULL;
    }
    void *p;
    if (ptr == NULL) {
        p = block_new(a, nsize);
    } else if (!ALLOC_PLAIN && osize <= SCRIPT_ALLOC_SMALL &&
               nsize <= SCRIPT_ALLOC_SMALL &&
               class_of(osize) == class_of(nsize)) {
        p = ptr; /* the block already has room */
    } else if ((ALLOC_PLAIN || osize > SCRIPT_ALLOC_SMALL) &&
               (ALLOC_PLAIN || nsize > SCRIPT_ALLOC_SMALL)) {
        p = realloc(ptr, nsize);
    } else {
        p = block_new(a, nsize);
        if (p != NULL) {
            memcpy(p, ptr, osize < nsize ? osize : nsize);
            block_free(a, ptr, osize);
        }
    }
    if (p != NULL) {
        a->used += nsize - osize; /* wraps back when nsize < osize */
    }
    return p;
}
