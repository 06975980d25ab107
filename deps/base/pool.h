/* SPDX-License-Identifier: Apache-2.0 */
/* Pool of reusable fixed-size objects, for one thread. Borrow takes a free
 * object or allocates one (up to max, 0 = unlimited); return keeps it for
 * the next borrow. The caller resets an object on borrow. */
#pragma once

#include <stddef.h>

struct pool;
struct pool *pool_create(size_t obj_size, size_t max); /* NULL on failure */
/* Frees the free objects; every borrowed one must be back. NULL-safe. */
void pool_destroy(struct pool **p);
/* Zeroed object the first time, as returned after; NULL at max or OOM. */
void *pool_borrow(struct pool *p);
void pool_return(struct pool *p, void *obj);
size_t pool_nused(const struct pool *p); /* borrowed, not yet returned */
size_t pool_nfree(const struct pool *p); /* kept for reuse */
/* Allocates up to n free objects ahead of need; returns how many exist. */
size_t pool_prealloc(struct pool *p, size_t n);
