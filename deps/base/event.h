/* SPDX-License-Identifier: Apache-2.0 */
/* Level-triggered epoll event loop. One thread owns a base; the callback
 * gets the registered data pointer and the ready bits. */
#pragma once

#include "base/status.h"

#include <stdint.h>

/* clang-format off */
#define EVENT_READ  0x1u
#define EVENT_WRITE 0x2u
#define EVENT_ERR   0x4u /* error or hang-up; may come with READ */
/* clang-format on */

typedef void (*event_cb_fn)(void *arg, uint32_t events);

struct event_base;
/* nevent: most events handled per wait. NULL on failure (logged). */
struct event_base *event_base_create(int nevent, event_cb_fn cb);
void event_base_destroy(struct event_base **evb); /* NULL-safe */
/* Adds fd with an interest of EVENT_READ and/or EVENT_WRITE. */
rstatus_i event_register(
        struct event_base *evb, int fd, uint32_t interest, void *data);
/* Changes the interest of a registered fd (0: neither, still registered). */
rstatus_i event_modify(
        struct event_base *evb, int fd, uint32_t interest, void *data);
rstatus_i event_deregister(struct event_base *evb, int fd);
/* Waits up to timeout_ms (-1: forever) and calls the callback once per
 * ready fd. Returns the number of events, or STATUS_ERROR (EINTR counts as
 * zero events). A batch is collected before its first callback runs: a
 * callback that frees another fd's data must keep that memory valid (or
 * marked dead) until event_wait returns, as a later event of the same batch
 * may still carry the pointer. */
int event_wait(struct event_base *evb, int timeout_ms);
/* What is ready now, without waiting and without calling the callback:
 * up to cap (arg, events) pairs into arg[] and events[]. Safe while an
 * event_wait of evb is serving its batch (its own arrays). Returns how
 * many, 0 on EINTR, STATUS_ERROR. */
int event_ready_now(
        struct event_base *evb, void **arg, uint32_t *events, int cap);
