/* SPDX-License-Identifier: Apache-2.0 */
/* Timing wheel for periodic and one-shot jobs of one thread (the admin
 * thread): a ring of slots of tick_ms each; jobs further away than one turn
 * wait for their turn. Not thread-safe. */
#pragma once

#include "base/status.h"

#include <stddef.h>
#include <stdint.h>

typedef void (*timer_cb_fn)(void *arg);

typedef enum {
    TIMER_ONCE,
    TIMER_RECURRING,
} timer_kind_e;

struct timing_wheel;
/* NULL on failure. now_ms: the monotonic time the wheel starts at. */
struct timing_wheel *timing_wheel_create(
        uint64_t tick_ms, size_t nslot, uint64_t now_ms);
void timing_wheel_destroy(struct timing_wheel **tw); /* NULL-safe */
/* Schedules cb(arg) after delay_ms (rounded up to a tick), and every
 * delay_ms after that when recurring. STATUS_ENOMEM on failure. */
rstatus_i timing_wheel_add(struct timing_wheel *tw, uint64_t delay_ms,
        timer_kind_e kind, timer_cb_fn cb, void *arg);
/* Runs every job due at or before now_ms (monotonic); returns how many. */
size_t timing_wheel_execute(struct timing_wheel *tw, uint64_t now_ms);
/* Milliseconds until the next tick that has a job (for event_wait), or -1
 * when no job is scheduled. */
int timing_wheel_timeout_ms(const struct timing_wheel *tw, uint64_t now_ms);
