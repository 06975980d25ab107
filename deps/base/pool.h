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
/* The same, calling fini on each object first (to release what the object
 * itself owns, such as buffers kept across returns). */
typedef void (*pool_obj_fn)(void *obj);
void pool_destroy_with(struct pool **p, pool_obj_fn fini);
/* Zeroed object the first time, as returned after (the pool never writes
 * into an object, so its own pointers survive a return); NULL at max or
 * OOM. Objects are aligned for any type. */
void *pool_borrow(struct pool *p);
void pool_return(struct pool *p, void *obj);
size_t pool_nused(const struct pool *p); /* borrowed, not yet returned */
size_t pool_nfree(const struct pool *p); /* kept for reuse */
/* Allocates free objects ahead of need until n are free (fewer at max or
 * on OOM); returns how many free objects exist afterwards. */
size_t pool_prealloc(struct pool *p, size_t n);
