/* SPDX-License-Identifier: Apache-2.0 */
/* Growable array of fixed-size elements stored inline, doubling its storage
 * when full. One thread at a time. Pointers to elements are valid until the
 * next array_push (which may move the storage) or array_destroy. */
#pragma once

#include <stddef.h>

struct array; /* opaque */
/* NULL on failure or elem_size 0; cap 0 allocates on the first push. */
struct array *array_create(size_t elem_size, size_t cap);
void array_destroy(struct array **a); /* NULL-safe; *a = NULL */
/* Appends a zeroed element and returns its slot for the caller to fill;
 * NULL when the storage cannot grow (the array is unchanged). */
void *array_push(struct array *a);
/* Element idx, which must be below array_size. */
void *array_get(const struct array *a, size_t idx);
/* Removes the last element and returns it (valid until the next push);
 * NULL when empty. */
void *array_pop(struct array *a);
size_t array_size(const struct array *a);
size_t array_capacity(const struct array *a);
/* Removes every element; keeps the storage. */
void array_clear(struct array *a);
