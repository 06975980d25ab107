/* SPDX-License-Identifier: Apache-2.0 */
/* Metric tables: init/reset and the text forms for stats and /metrics. */
#include "base/metric.h"

#include "base/histogram.h"
#include "base/mm.h"
#include "base/util.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Quantiles every histogram prints, with their STAT suffixes and
 * Prometheus labels. */
static const double quantile[] = {0.5, 0.9, 0.99, 0.999, 0.9999};
static const char *const quantile_suffix[] = {
        "p50", "p90", "p99", "p999", "p9999"};
static const char *const quantile_label[] = {
        "0.5", "0.9", "0.99", "0.999", "0.9999"};
#define NQUANTILE ARRAY_SIZE(quantile)

/* ---- per-thread counter shards ---- */

#define SHARD_SLOTS 8192 /* slots ever handed out (64 KiB a shard) */
#define SHARD_MAX   256  /* threads with a shard */

__thread uint64_t *metric_shard;
static uint64_t *shards[SHARD_MAX]; /* published with release stores */
static uint32_t nshard;             /* atomic */
static uint32_t next_slot = 1;      /* atomic; slot 0 means none */
static pthread_mutex_t shard_lock = PTHREAD_MUTEX_INITIALIZER;

rstatus_i
metric_thread_register(void)
{
    if (metric_shard != NULL) {
        return STATUS_OK;
    }
    pthread_mutex_lock(&shard_lock);
    uint32_t n = __atomic_load_n(&nshard, __ATOMIC_RELAXED);
    /* aligned: no line of a shard is shared with another allocation */
    uint64_t *s = n < SHARD_MAX ? mm_aligned_alloc(
                                          CACHE_LINE, SHARD_SLOTS * sizeof(*s))
                                : NULL;
    if (s != NULL) {
        memset(s, 0, SHARD_SLOTS * sizeof(*s));
        __atomic_store_n(&shards[n], s, __ATOMIC_RELEASE);
        __atomic_store_n(&nshard, n + 1, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&shard_lock);
    if (s == NULL) {
        return STATUS_ENOMEM; /* the thread counts atomically instead */
    }
    metric_shard = s;
    return STATUS_OK;
}

void
metric_shards_teardown(void)
{
    pthread_mutex_lock(&shard_lock);
    uint32_t n = __atomic_load_n(&nshard, __ATOMIC_RELAXED);
    __atomic_store_n(&nshard, 0, __ATOMIC_RELEASE);
    for (uint32_t i = 0; i < n; i++) {
        uint64_t *s = shards[i];
        shards[i] = NULL;
        mm_free(&s);
    }
    pthread_mutex_unlock(&shard_lock);
    metric_shard = NULL;
}

uint64_t
metric_shard_sum(uint32_t slot)
{
    uint64_t sum = 0;
    uint32_t n = __atomic_load_n(&nshard, __ATOMIC_ACQUIRE);
    for (uint32_t i = 0; i < n; i++) {
        const uint64_t *s = __atomic_load_n(&shards[i], __ATOMIC_ACQUIRE);
        if (s != NULL) {
            sum += __atomic_load_n(&s[slot], __ATOMIC_RELAXED);
        }
    }
    return sum;
}

rstatus_i
metric_init(struct metric *m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (m[i].type != METRIC_HISTOGRAM) {
            /* gauges too: the store's item gauges change on every write */
            uint32_t slot = __atomic_fetch_add(&next_slot, 1, __ATOMIC_RELAXED);
            m[i].slot = slot < SHARD_SLOTS ? slot : 0;
            __atomic_store_n(&m[i].counter, 0, __ATOMIC_RELAXED);
            continue;
        }
        m[i].histogram = histogram_create();
        if (m[i].histogram == NULL) {
            metric_deinit(m, i);
            return STATUS_ENOMEM;
        }
    }
    return STATUS_OK;
}

void
metric_deinit(struct metric *m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (m[i].type == METRIC_HISTOGRAM) {
            histogram_destroy(&m[i].histogram);
        }
    }
}

void
metric_reset(struct metric *m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (m[i].type == METRIC_COUNTER) {
            metric_set(&m[i], 0); /* the base cancels what shards hold */
        } else if (m[i].type == METRIC_HISTOGRAM && m[i].histogram != NULL) {
            histogram_reset(m[i].histogram);
        }
    }
}

void
metric_record(struct metric *m, uint64_t value)
{
    ASSERT(m->type == METRIC_HISTOGRAM);
    if (m->histogram != NULL) {
        histogram_record(m->histogram, value);
    }
}

/* Appends to a caller's string; remembers when something did not fit. */
struct out {
    char *buf;
    size_t cap;
    size_t len;
    bool full;
};

static void out_printf(struct out *o, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

static void
out_printf(struct out *o, const char *fmt, ...)
{
    if (o->full) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= o->cap - o->len) {
        o->full = true;
        return;
    }
    o->len += (size_t)n;
}

/* Prometheus HELP text: backslash and newline escaped. A table's "# " (the
 * tables' shorthand for "number of") is written out: the exposition format
 * reads a HELP line's text literally. */
static void
out_help(struct out *o, const char *text)
{
    if (text[0] == '#' && text[1] == ' ') {
        out_printf(o, "Number of ");
        text += 2;
    }
    for (const char *p = text; *p != '\0' && !o->full; p++) {
        if (*p == '\\') {
            out_printf(o, "\\\\");
        } else if (*p == '\n') {
            out_printf(o, "\\n");
        } else {
            out_printf(o, "%c", *p);
        }
    }
}

static rstatus_i
out_finish(const struct out *o, size_t *len)
{
    if (o->full) {
        o->buf[*len] = '\0'; /* drop the part that did fit */
        return STATUS_EFULL;
    }
    *len = o->len;
    return STATUS_OK;
}

/* Quantiles, sum and count of a histogram metric (zeros before init). */
static uint64_t
histogram_summary(const struct metric *m, uint64_t *q, uint64_t *sum)
{
    if (m->histogram == NULL) {
        for (size_t i = 0; i < NQUANTILE; i++) {
            q[i] = 0;
        }
        *sum = 0;
        return 0;
    }
    *sum = histogram_sum(m->histogram);
    return histogram_percentiles(m->histogram, quantile, NQUANTILE, q);
}

rstatus_i
metric_print_stat(char *out, size_t cap, size_t *len, const struct metric *m,
        const char *prefix)
{
    if (cap == 0 || *len >= cap) {
        return STATUS_EFULL;
    }
    struct out o = {out, cap, *len, false};
    const char *p = prefix == NULL ? "" : prefix;
    uint64_t q[NQUANTILE], sum, count;
    switch (m->type) {
    case METRIC_COUNTER:
        out_printf(
                &o, "STAT %s%s %" PRIu64 "\r\n", p, m->name, metric_counter(m));
        break;
    case METRIC_GAUGE:
        out_printf(
                &o, "STAT %s%s %" PRId64 "\r\n", p, m->name, metric_gauge(m));
        break;
    case METRIC_HISTOGRAM:
        count = histogram_summary(m, q, &sum);
        for (size_t i = 0; i < NQUANTILE; i++) {
            out_printf(&o, "STAT %s%s_%s %" PRIu64 "\r\n", p, m->name,
                    quantile_suffix[i], q[i]);
        }
        out_printf(&o, "STAT %s%s_count %" PRIu64 "\r\n", p, m->name, count);
        break;
    }
    return out_finish(&o, len);
}

/* How a metric is named and scaled on /metrics (Prometheus conventions):
 * durations in seconds (a table's "_us", "_ms" or "_ns" suffix becomes
 * "_seconds"; histograms, recorded in nanoseconds, gain "_seconds"), and
 * counters end in "_total" (text format 0.0.4 names the sample in HELP and
 * TYPE; parsers take the family as the name without "_total"). family is
 * the name without "_total". */
struct prom_name {
    char family[128];
    uint32_t digits; /* value / 10^digits: 0, 3, 6 or 9 */
};

static bool
strip_suffix(char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    if (n <= k || strcmp(s + n - k, suffix) != 0) {
        return false;
    }
    s[n - k] = '\0';
    return true;
}

static void
prom_name_of(struct prom_name *pn, const struct metric *m, const char *p)
{
    static const struct {
        const char *suffix;
        uint32_t digits;
    } units[] = {{"_ms", 3}, {"_us", 6}, {"_ns", 9}};
    snprintf(pn->family, sizeof(pn->family), "%s%s", p, m->name);
    pn->digits = 0;
    if (m->type == METRIC_COUNTER) {
        strip_suffix(pn->family, "_total");
    }
    if (m->type == METRIC_HISTOGRAM) {
        pn->digits = 9;
    } else {
        for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
            if (strip_suffix(pn->family, units[i].suffix)) {
                pn->digits = units[i].digits;
                break;
            }
        }
    }
    if (pn->digits != 0) {
        size_t n = strlen(pn->family);
        snprintf(pn->family + n, sizeof(pn->family) - n, "_seconds");
    } else if (strip_suffix(pn->family, "_byte")) {
        /* base units are plural in Prometheus names: _bytes */
        size_t n = strlen(pn->family);
        snprintf(pn->family + n, sizeof(pn->family) - n, "_bytes");
    }
}

/* An unsigned count of 10^-digits units as an exact decimal. */
static void
out_scaled(struct out *o, uint64_t v, uint32_t digits)
{
    if (digits == 0) {
        out_printf(o, "%" PRIu64, v);
        return;
    }
    uint64_t div = 1;
    for (uint32_t i = 0; i < digits; i++) {
        div *= 10;
    }
    out_printf(o, "%" PRIu64 ".%0*" PRIu64, v / div, (int)digits, v % div);
}

static void
out_scaled_signed(struct out *o, int64_t v, uint32_t digits)
{
    if (v < 0) {
        out_printf(o, "-");
        out_scaled(o, (uint64_t)0 - (uint64_t)v, digits);
    } else {
        out_scaled(o, (uint64_t)v, digits);
    }
}

static void
prometheus_summary(
        struct out *o, const struct metric *m, const struct prom_name *pn)
{
    uint64_t q[NQUANTILE], sum;
    uint64_t count = histogram_summary(m, q, &sum);
    for (size_t i = 0; i < NQUANTILE; i++) {
        out_printf(o, "%s{quantile=\"%s\"} ", pn->family, quantile_label[i]);
        out_scaled(o, q[i], pn->digits);
        out_printf(o, "\n");
    }
    out_printf(o, "%s_sum ", pn->family);
    out_scaled(o, sum, pn->digits);
    out_printf(o, "\n%s_count %" PRIu64 "\n", pn->family, count);
}

static rstatus_i
prometheus_print(char *out, size_t cap, size_t *len, const struct metric *m,
        const struct prom_name *name)
{
    static const char *const type_name[] = {
            [METRIC_COUNTER] = "counter",
            [METRIC_GAUGE] = "gauge",
            [METRIC_HISTOGRAM] = "summary",
    };
    if (cap == 0 || *len >= cap) {
        return STATUS_EFULL;
    }
    struct out o = {out, cap, *len, false};
    struct prom_name pn = *name;
    const char *total = m->type == METRIC_COUNTER ? "_total" : "";
    out_printf(&o, "# HELP %s%s ", pn.family, total);
    out_help(&o, m->desc);
    out_printf(&o, "\n# TYPE %s%s %s\n", pn.family, total, type_name[m->type]);
    if (m->type == METRIC_COUNTER) {
        out_printf(&o, "%s_total ", pn.family);
        out_scaled(&o, metric_counter(m), pn.digits);
        out_printf(&o, "\n");
    } else if (m->type == METRIC_GAUGE) {
        out_printf(&o, "%s ", pn.family);
        out_scaled_signed(&o, metric_gauge(m), pn.digits);
        out_printf(&o, "\n");
    } else {
        prometheus_summary(&o, m, &pn);
    }
    return out_finish(&o, len);
}

rstatus_i
metric_print_prometheus(char *out, size_t cap, size_t *len,
        const struct metric *m, const char *prefix)
{
    struct prom_name pn;
    prom_name_of(&pn, m, prefix == NULL ? "" : prefix);
    return prometheus_print(out, cap, len, m, &pn);
}

rstatus_i
metric_print_prometheus_as(char *out, size_t cap, size_t *len,
        const struct metric *m, const char *family)
{
    struct prom_name pn;
    int n = snprintf(pn.family, sizeof(pn.family), "%s", family);
    if (n < 0 || (size_t)n >= sizeof(pn.family)) {
        return STATUS_EINVAL;
    }
    pn.digits = m->type == METRIC_HISTOGRAM ? 9 : 0;
    return prometheus_print(out, cap, len, m, &pn);
}
