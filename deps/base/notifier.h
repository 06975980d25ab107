/* SPDX-License-Identifier: Apache-2.0 */
/* Wakes another thread's event loop: an eventfd, or a pipe where eventfd is
 * missing. Any thread may notify; one thread (the loop's) drains. */
#pragma once

#include "base/status.h"

#include <stdint.h>

struct notifier;
/* NULL on failure (logged). */
struct notifier *notifier_create(void);
void notifier_destroy(struct notifier **n); /* NULL-safe */
/* The fd to register for EVENT_READ in the waiting loop. */
int notifier_fd(const struct notifier *n);
/* Adds one wake-up. STATUS_EAGAIN if the counter or pipe is full (the
 * reader is already due to wake), STATUS_ERROR otherwise. */
rstatus_i notifier_notify(struct notifier *n);
/* Reads and clears pending wake-ups; returns how many (0 if none). */
uint64_t notifier_drain(struct notifier *n);
