/* SPDX-License-Identifier: Apache-2.0 */
/* Clocks, and the conversion of memcached and Redis expiry arguments into
 * unix milliseconds with each server's own rules and overflow checks. */
#include "base/time.h"

#include "base/util.h"

#include <time.h>

#define MS_PER_SEC 1000LL
#define NS_PER_MS  1000000ULL
#define NS_PER_SEC 1000000000ULL
#define EXPIRY_MAX ((uint64_t)INT64_MAX) /* PEXPIRETIME must fit int64 */

static struct timespec
clock_read(clockid_t clock)
{
    struct timespec ts;
    /* cannot fail for these clocks with a valid pointer */
    clock_gettime(clock, &ts);
    return ts;
}

uint64_t
time_now_ms(void)
{
    struct timespec ts = clock_read(CLOCK_REALTIME);
    return (uint64_t)ts.tv_sec * (uint64_t)MS_PER_SEC +
           (uint64_t)ts.tv_nsec / NS_PER_MS;
}

uint64_t
time_mono_ns(void)
{
    struct timespec ts = clock_read(CLOCK_MONOTONIC);
    return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

uint64_t
time_mono_ms(void)
{
    return time_mono_ns() / NS_PER_MS;
}

/* seconds -> ms, saturating at EXPIRY_MAX; secs >= 0 */
static uint64_t
sec_to_ms(int64_t secs)
{
    if ((uint64_t)secs > EXPIRY_MAX / (uint64_t)MS_PER_SEC) {
        return EXPIRY_MAX;
    }
    return (uint64_t)secs * (uint64_t)MS_PER_SEC;
}

/* memcached's rules (realtime() in memcached.c): 0 never; negative is
 * treated as an absolute time long past; up to and including 30 days is
 * relative; anything larger is a unix time. memcached's own parser limits
 * exptime to 32 bits; larger values saturate here instead of wrapping. */
uint64_t
time_memcache_expiry(int64_t exptime, uint64_t now_ms)
{
    if (exptime == 0) {
        return TIME_NEVER;
    }
    if (exptime < 0) {
        return TIME_EXPIRED;
    }
    uint64_t ms = sec_to_ms(exptime);
    if (exptime <= TIME_MEMCACHE_RELATIVE_MAX) {
        return ms > EXPIRY_MAX - now_ms ? EXPIRY_MAX : now_ms + ms;
    }
    return ms <= now_ms ? TIME_EXPIRED : ms;
}

/* Redis 7's rules (expireGenericCommand, getExpireMillisecondsOrReply):
 * seconds are multiplied by 1000 unless that overflows; a relative time
 * then gets now added unless that overflows. Negative values are allowed
 * here (EXPIRE takes them); SET's "must be positive" is the caller's. */
rstatus_i
time_redis_expiry(
        int64_t value, time_unit_e unit, uint64_t now_ms, int64_t *expiry_ms)
{
    ASSERT(now_ms <= (uint64_t)INT64_MAX);
    int64_t ms = value;
    if (unit == TIME_REL_SEC || unit == TIME_ABS_SEC) {
        if (value > INT64_MAX / MS_PER_SEC || value < INT64_MIN / MS_PER_SEC) {
            return STATUS_EINVAL;
        }
        ms = value * MS_PER_SEC;
    }
    if (unit == TIME_REL_SEC || unit == TIME_REL_MS) {
        if (ms > INT64_MAX - (int64_t)now_ms) {
            return STATUS_EINVAL;
        }
        ms += (int64_t)now_ms;
    }
    *expiry_ms = ms;
    return STATUS_OK;
}
