/* SPDX-License-Identifier: Apache-2.0 */
/* Single-producer single-consumer ring of fixed-size elements.
 *
 * Positions only grow (they wrap at SIZE_MAX, which unsigned subtraction
 * handles); an element's slot is pos & mask over a power-of-two number of
 * slots, and at most cap elements are in the ring at once:
 *
 *   line 0: elem_size cap mask data          (read-only after create)
 *   line 1: wpos (producer stores)  rpos_seen (producer's copy of rpos)
 *   line 2: rpos (consumer stores)  wpos_seen (consumer's copy of wpos)
 *
 * The producer writes a slot, then publishes it with a release store of
 * wpos; the consumer acquires wpos before reading the slot. Symmetrically
 * the consumer releases rpos after copying a slot out, and the producer
 * acquires rpos before reusing it. Each side reloads the other's position
 * only when its cached copy says full (or empty). */
#include "base/ring_array.h"

#include "base/mm.h"
#include "base/util.h"

#include <stdalign.h>
#include <string.h>

struct ring_array {
    size_t elem_size;
    size_t cap;  /* most elements at once */
    size_t mask; /* slots - 1; slots is a power of two >= cap */
    char *data;

    alignas(CACHE_LINE) size_t wpos;
    size_t rpos_seen;

    alignas(CACHE_LINE) size_t rpos;
    size_t wpos_seen;
};

static size_t
slots_for(size_t cap)
{
    size_t slots = 1;
    while (slots < cap) {
        slots *= 2;
    }
    return slots;
}

struct ring_array *
ring_array_create(size_t elem_size, size_t cap)
{
    ASSERT(elem_size > 0 && cap > 0);
    if (elem_size == 0 || cap == 0 || cap > SIZE_MAX / 2) {
        return NULL;
    }
    size_t slots = slots_for(cap);
    if (slots > SIZE_MAX / elem_size) {
        return NULL;
    }
    struct ring_array *ra = mm_aligned_alloc(CACHE_LINE, sizeof(*ra));
    if (ra == NULL) {
        return NULL;
    }
    memset(ra, 0, sizeof(*ra));
    ra->data = mm_alloc(slots * elem_size);
    if (ra->data == NULL) {
        mm_release(ra);
        return NULL;
    }
    ra->elem_size = elem_size;
    ra->cap = cap;
    ra->mask = slots - 1;
    return ra;
}

void
ring_array_destroy(struct ring_array **ra)
{
    if (ra == NULL || *ra == NULL) {
        return;
    }
    mm_release((*ra)->data);
    mm_free(ra);
}

rstatus_i
ring_array_push(struct ring_array *ra, const void *elem)
{
    size_t w = __atomic_load_n(&ra->wpos, __ATOMIC_RELAXED);
    if (w - ra->rpos_seen >= ra->cap) {
        ra->rpos_seen = __atomic_load_n(&ra->rpos, __ATOMIC_ACQUIRE);
        if (w - ra->rpos_seen >= ra->cap) {
            return STATUS_EFULL;
        }
    }
    memcpy(ra->data + (w & ra->mask) * ra->elem_size, elem, ra->elem_size);
    __atomic_store_n(&ra->wpos, w + 1, __ATOMIC_RELEASE);
    return STATUS_OK;
}

rstatus_i
ring_array_pop(struct ring_array *ra, void *elem)
{
    size_t r = __atomic_load_n(&ra->rpos, __ATOMIC_RELAXED);
    if (r == ra->wpos_seen) {
        ra->wpos_seen = __atomic_load_n(&ra->wpos, __ATOMIC_ACQUIRE);
        if (r == ra->wpos_seen) {
            return STATUS_EEMPTY;
        }
    }
    memcpy(elem, ra->data + (r & ra->mask) * ra->elem_size, ra->elem_size);
    __atomic_store_n(&ra->rpos, r + 1, __ATOMIC_RELEASE);
    return STATUS_OK;
}

size_t
ring_array_count(const struct ring_array *ra)
{
    /* rpos first: wpos read afterwards is never behind it */
    size_t r = __atomic_load_n(&ra->rpos, __ATOMIC_ACQUIRE);
    size_t w = __atomic_load_n(&ra->wpos, __ATOMIC_ACQUIRE);
    return size_min(w - r, ra->cap);
}

size_t
ring_array_cap(const struct ring_array *ra)
{
    return ra->cap;
}
