/* SPDX-License-Identifier: Apache-2.0 */
/* Every module's metric table gathered into one struct for the binary, and
 * how the admin port prints them. */
#pragma once

#include "base/bstring.h"
#include "base/buf.h"
#include "base/metric.h"
#include "core/admin.h"
#include "core/msg.h"
#include "core/server.h"
#include "core/tls.h"
#include "core/worker.h"
#include "hotkey/hotkey.h"
#include "processor/memcache.h"
#include "processor/resp.h"
#include "protocol/memcache/parse.h"
#include "protocol/resp/request.h"
#include "storage/seg/seg.h"

/* clang-format off */
/*          name             type            description */
#define PROCESS_METRIC(ACTION)                                                 \
    ACTION( pid,             METRIC_GAUGE,   "process id"                        ) \
    ACTION( uptime,          METRIC_GAUGE,   "seconds since start"               ) \
    ACTION( version,         METRIC_GAUGE,   "version as major*10000 + minor*100 + patch") \
    ACTION( time,            METRIC_GAUGE,   "unix time, seconds"                ) \
    ACTION( threads,         METRIC_GAUGE,   "worker threads"                    ) \
    ACTION( rusage_user_us,  METRIC_COUNTER, "user CPU time"                     ) \
    ACTION( rusage_system_us, METRIC_COUNTER, "system CPU time"                  ) \
    ACTION( max_rss_bytes,   METRIC_GAUGE,   "peak resident set size, bytes"     ) \
    ACTION( mm_alloc,        METRIC_GAUGE,   "# allocations through base/mm"     ) \
    ACTION( mm_free,         METRIC_GAUGE,   "# frees through base/mm"           )
/* clang-format on */

struct stats {
    struct {
        PROCESS_METRIC(DECLARE_METRIC)
    } process;
    server_metrics_st server;
    worker_metrics_st worker;
    msg_metrics_st msg;
    admin_metrics_st admin;
    tls_metrics_st tls;
    seg_metrics_st seg;
    memcache_parse_metrics_st memcache_parse;
    proc_memcache_metrics_st memcache;
    resp_metrics_st resp_parse;
    proc_resp_metrics_st resp;
    hotkey_metrics_st hotkey;
};

extern struct stats stats;

#define STATS_NMETRIC (sizeof(struct stats) / sizeof(struct metric))

static inline struct metric *
stats_metrics(void)
{
    return (struct metric *)&stats;
}

rstatus_i stats_setup(void);
void stats_teardown(void);
/* Refreshes the process gauges (uptime, rusage...); any thread. */
void stats_refresh(void);
/* `stats` on the admin port: every metric, then per-worker lines. */
rstatus_i stats_print_text(
        struct buf *b, size_t max, const struct bstring *arg);
rstatus_i stats_print_prometheus(struct buf *b, size_t max);
void stats_reset(void);
/* memcached's `stats [group]` on the memcache port, under memcached's
 * names where the meaning is the same, then segcached's own. */
rstatus_i stats_print_memcache(
        struct buf *b, size_t max, const struct bstring *group);
/* What the resp processor's INFO and CONFIG GET need from the binary. */
extern const struct resp_info_source stats_resp_source;
/* --print-stats: every metric with its type and description. */
void stats_describe(FILE *out);
