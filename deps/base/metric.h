/* SPDX-License-Identifier: Apache-2.0 */
/* Metrics declared as tables, one row per metric (STYLE.md section 7):
 *
 *   #define FOO_METRIC(ACTION)                                    \
 *       ACTION( foo_get,    METRIC_COUNTER,   "# gets"          ) \
 *       ACTION( foo_conns,  METRIC_GAUGE,     "# open now"      ) \
 *       ACTION( foo_lat,    METRIC_HISTOGRAM, "get latency ns"  )
 *   typedef struct { FOO_METRIC(DECLARE_METRIC) } foo_metrics_st;
 *   foo_metrics_st m = { FOO_METRIC(INIT_METRIC) };
 *   metric_init((struct metric *)&m, METRIC_CARDINALITY(m));
 *   INCR(&m, foo_get);
 *
 * Counters and gauges are relaxed atomics: any thread may update or read
 * them. A histogram is created by metric_init and freed by metric_deinit.
 *
 * Counters and gauges are sharded per thread: metric_init gives each a
 * slot, and a thread that called metric_thread_register (the workers and
 * the server thread) adds to its own array of slots with a plain store, no
 * locked instruction and no cache line shared with another thread (a
 * shard is cache-line aligned); a read sums the value and every thread's
 * slot. Other threads, and metrics never passed to metric_init, add to the
 * value itself atomically. Setting a sharded value stores it minus the
 * shards' sum, so a read gives what was set. */
#pragma once

#include "base/status.h"

#include <stddef.h>
#include <stdint.h>

struct histogram;

typedef enum {
    METRIC_COUNTER,   /* monotonic uint64 */
    METRIC_GAUGE,     /* int64 that goes up and down, or is set */
    METRIC_HISTOGRAM, /* latency distribution, recorded in nanoseconds */
} metric_type_e;

struct metric {
    const char *name;
    const char *desc;
    metric_type_e type;
    uint32_t slot; /* counters, gauges: per-thread shard slot; 0: none */
    union {
        uint64_t counter;
        int64_t gauge;
        struct histogram *histogram;
    };
};

#define DECLARE_METRIC(_name, _type, _desc) struct metric _name;
#define INIT_METRIC(_name, _type, _desc)                                       \
    ._name = {.name = #_name, .desc = (_desc), .type = (_type)},
#define METRIC_CARDINALITY(_st) (sizeof(_st) / sizeof(struct metric))

/* Zeroes values and creates histograms; STATUS_ENOMEM if one fails. */
rstatus_i metric_init(struct metric *m, size_t n);
/* Frees histograms; values are left as they are. */
void metric_deinit(struct metric *m, size_t n);
/* Zeroes counters and histograms (gauges keep their value: they say what
 * is, not what happened). */
void metric_reset(struct metric *m, size_t n);

/* The calling thread's shard; NULL until metric_thread_register. */
extern __thread uint64_t *metric_shard;

/* Gives the calling thread a shard (idempotent). Shards live until
 * metric_shards_teardown, so what a thread counted outlives it. */
rstatus_i metric_thread_register(void);
/* Frees every shard; only when no registered thread runs any more. */
void metric_shards_teardown(void);
/* A slot summed over every shard. */
uint64_t metric_shard_sum(uint32_t slot);

static inline void
metric_incr_n(struct metric *m, uint64_t n)
{
    uint64_t *s = metric_shard;
    if (s != NULL && m->slot != 0) {
        /* one writer per slot: a plain add, published for readers */
        __atomic_store_n(&s[m->slot], s[m->slot] + n, __ATOMIC_RELAXED);
        return;
    }
    __atomic_fetch_add(&m->counter, n, __ATOMIC_RELAXED);
}

static inline void
metric_decr_n(struct metric *m, uint64_t n)
{
    metric_incr_n(m, (uint64_t)0 - n);
}

static inline void
metric_set(struct metric *m, int64_t v)
{
    uint64_t base = m->slot != 0 ? metric_shard_sum(m->slot) : 0;
    __atomic_store_n(&m->counter, (uint64_t)v - base, __ATOMIC_RELAXED);
}

static inline uint64_t
metric_counter(const struct metric *m)
{
    uint64_t v = __atomic_load_n(&m->counter, __ATOMIC_RELAXED);
    return m->slot != 0 ? v + metric_shard_sum(m->slot) : v;
}

static inline int64_t
metric_gauge(const struct metric *m)
{
    uint64_t v = __atomic_load_n(&m->counter, __ATOMIC_RELAXED);
    return (int64_t)(m->slot != 0 ? v + metric_shard_sum(m->slot) : v);
}

/* Records one value (nanoseconds) into a histogram metric. */
void metric_record(struct metric *m, uint64_t value);

/* For counters and gauges alike (a gauge is incremented as int64). The
 * metrics pointer may be NULL: then nothing is counted. */
#define INCR_N(_base, _field, _n)                                              \
    do {                                                                       \
        if ((_base) != NULL) {                                                 \
            metric_incr_n(&(_base)->_field, (uint64_t)(_n));                   \
        }                                                                      \
    } while (0)
#define INCR(_base, _field) INCR_N(_base, _field, 1)
#define DECR_N(_base, _field, _n)                                              \
    do {                                                                       \
        if ((_base) != NULL) {                                                 \
            metric_decr_n(&(_base)->_field, (uint64_t)(_n));                   \
        }                                                                      \
    } while (0)
#define DECR(_base, _field) DECR_N(_base, _field, 1)
#define UPDATE_VAL(_base, _field, _v)                                          \
    do {                                                                       \
        if ((_base) != NULL) {                                                 \
            metric_set(&(_base)->_field, (int64_t)(_v));                       \
        }                                                                      \
    } while (0)
#define RECORD(_base, _field, _v)                                              \
    do {                                                                       \
        if ((_base) != NULL) {                                                 \
            metric_record(&(_base)->_field, (uint64_t)(_v));                   \
        }                                                                      \
    } while (0)

/* Output for the stats commands and /metrics. Each appends one metric to
 * out (a string of capacity cap already holding *len bytes, *len < cap),
 * NUL-terminated; returns STATUS_EFULL, leaving *len and the text where
 * they were, when the metric's text does not fit whole. prefix may be
 * NULL. A histogram's quantiles, sum and count come from one pass. */

/* "STAT <name> <value>\r\n"; a histogram prints <name>_p50, _p90, _p99,
 * _p999, _p9999 and _count lines. */
rstatus_i metric_print_stat(char *out, size_t cap, size_t *len,
        const struct metric *m, const char *prefix);
/* Prometheus text format: "# HELP", "# TYPE", and the sample, by the
 * exposition conventions: the name is prefix + m->name, a counter's ends
 * in "_total" (once: a name ending so keeps it), durations in seconds (a
 * name ending "_ms", "_us" or "_ns" ends "_seconds" instead, its value
 * scaled), a name ending "_byte" ends "_bytes" (units are plural),
 * histograms (nanoseconds) are summaries named "<name>_seconds" with
 * quantiles 0.5 .. 0.9999 plus _sum and _count, and a description
 * starting "# " reads "Number of ...". */
rstatus_i metric_print_prometheus(char *out, size_t cap, size_t *len,
        const struct metric *m, const char *prefix);
/* The same for a metric whose table name does not carry its unit
 * ("uptime", in seconds): family is the whole name ("segcached_uptime_
 * seconds"; a counter's gains "_total"); values are not scaled, but a
 * histogram's, in nanoseconds, are printed in seconds. STATUS_EINVAL when
 * family is over 127 bytes. */
rstatus_i metric_print_prometheus_as(char *out, size_t cap, size_t *len,
        const struct metric *m, const char *family);
