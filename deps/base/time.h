/* SPDX-License-Identifier: Apache-2.0 */
/* Clocks and expiry conversion. Expiries are unix milliseconds: they survive
 * a restart and PEXPIREAT/PEXPIRETIME round-trip exactly. 0 means "never".
 * Each event loop reads the clock once per batch of events and passes `now`
 * down, so one request sees one time. All functions: any thread. */
#pragma once

#include "base/status.h"

#include <stdint.h>

#define TIME_NEVER                 0 /* expiry value for "does not expire" */
/* An expiry already in the past: items written with it are never served
 * (memcached's negative exptime, Redis's EXPIREAT in the past). */
#define TIME_EXPIRED               1
#define TIME_MEMCACHE_RELATIVE_MAX (60 * 60 * 24 * 30) /* 30 days, seconds */

/* Wall clock, unix milliseconds (CLOCK_REALTIME, not the coarse clock). */
uint64_t time_now_ms(void);
/* Monotonic clock for timeouts and latency, nanoseconds / milliseconds. */
uint64_t time_mono_ns(void);
uint64_t time_mono_ms(void);

/* memcached exptime -> expiry: 0 never; negative already expired; up to 30
 * days relative to now; larger values absolute unix seconds (in the past:
 * already expired). */
uint64_t time_memcache_expiry(int64_t exptime, uint64_t now_ms);

typedef enum {
    TIME_REL_SEC, /* EX, SETEX, EXPIRE */
    TIME_REL_MS,  /* PX, PSETEX, PEXPIRE */
    TIME_ABS_SEC, /* EXAT, EXPIREAT */
    TIME_ABS_MS,  /* PXAT, PEXPIREAT */
} time_unit_e;

/* Redis expiry argument -> expiry. STATUS_EINVAL when the result overflows
 * (Redis's "invalid expire time"); a result at or before now is returned
 * as is (the caller decides: SET rejects non-positive, EXPIRE deletes). The
 * caller checks value > 0 where Redis requires it. */
rstatus_i time_redis_expiry(
        int64_t value, time_unit_e unit, uint64_t now_ms, int64_t *expiry_ms);

/* Whether an item with this expiry is expired at now (exact to the ms:
 * expired when expiry <= now). */
static inline int
time_expired(uint64_t expiry_ms, uint64_t now_ms)
{
    return expiry_ms != TIME_NEVER && expiry_ms <= now_ms;
}
