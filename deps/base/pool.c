/* SPDX-License-Identifier: Apache-2.0 */
/* Object pool: a LIFO free list of objects, each behind a small header so
 * the pool never writes into a returned object.
 *
 *   | struct pool_hdr (padded to max_align_t) | object (obj_size bytes) |
 *   ^ allocation                              ^ what borrow returns
 */
#include "base/pool.h"

#include "base/mm.h"
#include "base/util.h"

#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct pool_hdr {
    struct pool_hdr *next; /* free list link while free */
    bool borrowed;         /* catches double returns and foreign objects */
};

#define POOL_HDR_SIZE                                                          \
    ((sizeof(struct pool_hdr) + alignof(max_align_t) - 1) /                    \
            alignof(max_align_t) * alignof(max_align_t))

struct pool {
    size_t obj_size;
    size_t max; /* objects in existence at most; 0 = unlimited */
    size_t nused;
    size_t nfree;
    struct pool_hdr *free;
};

static struct pool_hdr *
hdr_of(void *obj)
{
    return (struct pool_hdr *)((char *)obj - POOL_HDR_SIZE);
}

static void *
obj_of(struct pool_hdr *h)
{
    return (char *)h + POOL_HDR_SIZE;
}

struct pool *
pool_create(size_t obj_size, size_t max)
{
    if (obj_size == 0 || obj_size > SIZE_MAX - POOL_HDR_SIZE) {
        return NULL;
    }
    struct pool *p = mm_zalloc(sizeof(*p));
    if (p == NULL) {
        return NULL;
    }
    p->obj_size = obj_size;
    p->max = max;
    return p;
}

void
pool_destroy_with(struct pool **pp, pool_obj_fn fini)
{
    if (pp == NULL || *pp == NULL) {
        return;
    }
    struct pool *p = *pp;
    ASSERT(p->nused == 0);
    while (p->free != NULL) {
        struct pool_hdr *h = p->free;
        p->free = h->next;
        if (fini != NULL) {
            fini(obj_of(h));
        }
        mm_release(h);
    }
    mm_free(pp);
}

void
pool_destroy(struct pool **pp)
{
    pool_destroy_with(pp, NULL);
}

static bool
pool_at_max(const struct pool *p)
{
    return p->max != 0 && p->nused + p->nfree >= p->max;
}

/* A new zeroed object, pushed on the free list. Whole cache lines of its
 * own: pooled objects (connections) are handed to different threads, and
 * one thread's writes must not land on a line of another's object. */
static bool
pool_add_free(struct pool *p)
{
    size_t size = size_align(POOL_HDR_SIZE + p->obj_size, CACHE_LINE);
    struct pool_hdr *h = mm_aligned_alloc(CACHE_LINE, size);
    if (h == NULL) {
        return false;
    }
    memset(h, 0, size);
    h->next = p->free;
    p->free = h;
    p->nfree++;
    return true;
}

void *
pool_borrow(struct pool *p)
{
    if (p->free == NULL && (pool_at_max(p) || !pool_add_free(p))) {
        return NULL;
    }
    struct pool_hdr *h = p->free;
    p->free = h->next;
    p->nfree--;
    h->next = NULL;
    h->borrowed = true;
    p->nused++;
    return obj_of(h);
}

void
pool_return(struct pool *p, void *obj)
{
    if (obj == NULL) {
        return;
    }
    struct pool_hdr *h = hdr_of(obj);
    ASSERT(h->borrowed);
    ASSERT(p->nused > 0);
    h->borrowed = false;
    h->next = p->free;
    p->free = h;
    p->nused--;
    p->nfree++;
}

size_t
pool_nused(const struct pool *p)
{
    return p->nused;
}

size_t
pool_nfree(const struct pool *p)
{
    return p->nfree;
}

size_t
pool_prealloc(struct pool *p, size_t n)
{
    while (p->nfree < n && !pool_at_max(p)) {
        if (!pool_add_free(p)) {
            break;
        }
    }
    return p->nfree;
}
