/* SPDX-License-Identifier: Apache-2.0 */
/* Wakes another thread's event loop: an eventfd, or a pipe where eventfd is
 * missing. Any thread may notify; one thread (the loop's) drains. */
#pragma once

#include "base/status.h"

#include <stdint.h>

struct notifier;
/* NULL on failure (logged). An eventfd, or a pipe if eventfd fails. */
struct notifier *notifier_create(void);
/* Always a pipe; for tests of the fallback. NULL on failure (logged). */
struct notifier *notifier_create_pipe(void);
void notifier_destroy(struct notifier **n); /* NULL-safe */
/* The fd to register for EVENT_READ in the waiting loop. */
int notifier_fd(const struct notifier *n);
/* Adds one wake-up. STATUS_EAGAIN if the counter or pipe is full (the
 * reader is already due to wake), STATUS_ERROR otherwise. */
rstatus_i notifier_notify(struct notifier *n);
/* Reads and clears pending wake-ups; returns how many (0 if none): the
 * notifier_notify calls that returned STATUS_OK since the last drain (one
 * racing with this drain is counted now or by the next drain). A pipe holds
 * at most its capacity (64 KiB on Linux) of notifications; further notifies
 * return STATUS_EAGAIN and are not counted, so a full pipe drains as that
 * many, never 0. */
uint64_t notifier_drain(struct notifier *n);
