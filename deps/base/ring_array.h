/* SPDX-License-Identifier: Apache-2.0 */
/* Lock-free single-producer single-consumer queue between two threads of
 * fixed-size elements; the read and write positions sit on separate cache
 * lines. Pushing an element hands it to the consumer. */
#pragma once

#include "base/status.h"

#include <stddef.h>

struct ring_array; /* opaque */
/* NULL on failure; cap elements fit at once. */
struct ring_array *ring_array_create(size_t elem_size, size_t cap);
void ring_array_destroy(struct ring_array **ra); /* NULL-safe; *ra = NULL */
/* producer thread only; STATUS_EFULL when full */
rstatus_i ring_array_push(struct ring_array *ra, const void *elem);
/* consumer thread only; STATUS_EEMPTY when there is nothing to pop */
rstatus_i ring_array_pop(struct ring_array *ra, void *elem);
/* either thread; a snapshot that may be stale by the time it is used */
size_t ring_array_count(const struct ring_array *ra);
size_t ring_array_cap(const struct ring_array *ra);
