/* SPDX-License-Identifier: Apache-2.0 */
/* Growable array: one block of cap * elem_size bytes, doubled on demand. */
#include "base/array.h"

#include "base/mm.h"
#include "base/util.h"

#include <stdint.h>
#include <string.h>

#define ARRAY_MIN_GROW 4 /* elements allocated by the first push of cap 0 */

struct array {
    size_t elem_size;
    size_t size; /* elements in use */
    size_t cap;  /* elements that fit in data */
    char *data;
};

struct array *
array_create(size_t elem_size, size_t cap)
{
    if (elem_size == 0 || (cap > 0 && elem_size > SIZE_MAX / cap)) {
        return NULL;
    }
    struct array *a = mm_zalloc(sizeof(*a));
    if (a == NULL) {
        return NULL;
    }
    a->elem_size = elem_size;
    if (cap > 0) {
        a->data = mm_alloc(elem_size * cap);
        if (a->data == NULL) {
            mm_free(&a);
            return NULL;
        }
        a->cap = cap;
    }
    return a;
}

void
array_destroy(struct array **a)
{
    if (a == NULL || *a == NULL) {
        return;
    }
    mm_free(&(*a)->data);
    mm_free(a);
}

static int
array_grow(struct array *a)
{
    size_t cap = a->cap == 0 ? ARRAY_MIN_GROW : a->cap * 2;
    if (cap < a->cap || a->elem_size > SIZE_MAX / cap) {
        return -1;
    }
    char *data = mm_realloc(a->data, a->elem_size * cap);
    if (data == NULL) {
        return -1;
    }
    a->data = data;
    a->cap = cap;
    return 0;
}

void *
array_push(struct array *a)
{
    if (a->size == a->cap && array_grow(a) != 0) {
        return NULL;
    }
    void *slot = a->data + a->size * a->elem_size;
    memset(slot, 0, a->elem_size);
    a->size++;
    return slot;
}

void *
array_get(const struct array *a, size_t idx)
{
    ASSERT(idx < a->size);
    return a->data + idx * a->elem_size;
}

void *
array_pop(struct array *a)
{
    if (a->size == 0) {
        return NULL;
    }
    a->size--;
    return a->data + a->size * a->elem_size;
}

size_t
array_size(const struct array *a)
{
    return a->size;
}

size_t
array_capacity(const struct array *a)
{
    return a->cap;
}

void
array_clear(struct array *a)
{
    a->size = 0;
}
