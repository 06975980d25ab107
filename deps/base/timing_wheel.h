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
/* Schedules cb(arg) delay_ms after the latest now the wheel was given
 * (create or execute), rounded up to the next tick boundary: a job never
 * runs early. A recurring job is due every delay_ms after that, each due
 * time rounded up to a tick; if execute comes so late that periods were
 * missed, it runs once and keeps its cadence from then on. STATUS_ENOMEM
 * on failure; STATUS_EINVAL for a recurring job with delay_ms 0. A callback
 * may add jobs; they run in a later execute, not the current one. */
rstatus_i timing_wheel_add(struct timing_wheel *tw, uint64_t delay_ms,
        timer_kind_e kind, timer_cb_fn cb, void *arg);
/* Runs every job due at or before now_ms (monotonic), in order of their
 * ticks within one turn; returns how many ran. */
size_t timing_wheel_execute(struct timing_wheel *tw, uint64_t now_ms);
/* Jobs scheduled (recurring ones count until the wheel is destroyed). */
size_t timing_wheel_njob(const struct timing_wheel *tw);
/* Milliseconds until the next tick that has a job (for event_wait), or -1
 * when no job is scheduled. */
int timing_wheel_timeout_ms(const struct timing_wheel *tw, uint64_t now_ms);
