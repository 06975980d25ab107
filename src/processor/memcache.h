/* SPDX-License-Identifier: Apache-2.0 */
/* The memcache processor: memcached's text and meta protocol executed on
 * the store (database 0). The only place the memcache protocol meets
 * storage. */
#pragma once

#include "base/bstring.h"
#include "base/buf.h"
#include "base/metric.h"
#include "core/processor.h"

#include <stdbool.h>
#include <stdint.h>

/* clang-format off */
/* Per-command counters: <cmd>, and the outcomes memcached counts. The
 * `stats` command prints them under memcached's own names (stats.c). */
#define PROC_MEMCACHE_METRIC(ACTION)                                           \
    ACTION( memcache_get,           METRIC_COUNTER, "# get/gets requests"        ) \
    ACTION( memcache_get_key,       METRIC_COUNTER, "# keys asked by get/gets"   ) \
    ACTION( memcache_get_hit,       METRIC_COUNTER, "# get/gets keys found"      ) \
    ACTION( memcache_get_stream,    METRIC_COUNTER, "# values past 1 MiB sent in pieces as the socket drains (get gets gat gats mg, binary get/gat)" ) \
    ACTION( memcache_get_stream_byte, METRIC_COUNTER, "# bytes of values sent in pieces" ) \
    ACTION( memcache_get_stream_cut, METRIC_COUNTER, "# values sent from their parts cut (connection closed): the key changed while it was sent" ) \
    ACTION( memcache_get_miss,      METRIC_COUNTER, "# get/gets keys missed"     ) \
    ACTION( memcache_gat,           METRIC_COUNTER, "# gat/gats requests"        ) \
    ACTION( memcache_gat_hit,       METRIC_COUNTER, "# gat/gats keys found"      ) \
    ACTION( memcache_gat_miss,      METRIC_COUNTER, "# gat/gats keys missed"     ) \
    ACTION( memcache_set,           METRIC_COUNTER, "# set requests"             ) \
    ACTION( memcache_add,           METRIC_COUNTER, "# add requests"             ) \
    ACTION( memcache_replace,       METRIC_COUNTER, "# replace requests"         ) \
    ACTION( memcache_append,        METRIC_COUNTER, "# append requests"          ) \
    ACTION( memcache_prepend,       METRIC_COUNTER, "# prepend requests"         ) \
    ACTION( memcache_store_ok,      METRIC_COUNTER, "# storage requests STORED"  ) \
    ACTION( memcache_store_not,     METRIC_COUNTER, "# storage requests NOT_STORED") \
    ACTION( memcache_store_ex,      METRIC_COUNTER, "# storage requests failed: memory or size") \
    ACTION( memcache_cas,           METRIC_COUNTER, "# cas requests"             ) \
    ACTION( memcache_cas_hit,       METRIC_COUNTER, "# cas stored"               ) \
    ACTION( memcache_cas_badval,    METRIC_COUNTER, "# cas EXISTS (value changed)") \
    ACTION( memcache_cas_miss,      METRIC_COUNTER, "# cas NOT_FOUND"            ) \
    ACTION( memcache_incr,          METRIC_COUNTER, "# incr requests"            ) \
    ACTION( memcache_incr_hit,      METRIC_COUNTER, "# incr on a number"         ) \
    ACTION( memcache_incr_miss,     METRIC_COUNTER, "# incr NOT_FOUND"           ) \
    ACTION( memcache_decr,          METRIC_COUNTER, "# decr requests"            ) \
    ACTION( memcache_decr_hit,      METRIC_COUNTER, "# decr on a number"         ) \
    ACTION( memcache_decr_miss,     METRIC_COUNTER, "# decr NOT_FOUND"           ) \
    ACTION( memcache_delete,        METRIC_COUNTER, "# delete requests"          ) \
    ACTION( memcache_delete_hit,    METRIC_COUNTER, "# delete DELETED"           ) \
    ACTION( memcache_delete_miss,   METRIC_COUNTER, "# delete NOT_FOUND"         ) \
    ACTION( memcache_touch,         METRIC_COUNTER, "# touch requests"           ) \
    ACTION( memcache_touch_hit,     METRIC_COUNTER, "# touch TOUCHED"            ) \
    ACTION( memcache_touch_miss,    METRIC_COUNTER, "# touch NOT_FOUND"          ) \
    ACTION( memcache_flush,         METRIC_COUNTER, "# flush_all requests"       ) \
    ACTION( memcache_meta,          METRIC_COUNTER, "# meta requests (mg ms md ma mn me)") \
    ACTION( memcache_other,         METRIC_COUNTER, "# other requests (stats, version, ...)") \
    ACTION( memcache_error,         METRIC_COUNTER, "# requests answered with an error") \
    ACTION( memcache_stream,        METRIC_COUNTER, "# values streamed into the store") \
    ACTION( memcache_binary,        METRIC_COUNTER, "# binary-protocol requests") \
    ACTION( memcache_watch_line,    METRIC_COUNTER, "# watch lines written to watchers") \
    ACTION( memcache_watch_skip,    METRIC_COUNTER, "# watch lines a watcher lost: its unsent output over 256 KiB (it reads skipped=N)") \
    ACTION( memcache_lat_get,       METRIC_HISTOGRAM, "get/gets/gat/gats/mg latency (1 in 16 sampled)") \
    ACTION( memcache_lat_set,       METRIC_HISTOGRAM, "set/add/replace/append/prepend/cas/ms latency (sampled)") \
    ACTION( memcache_lat_other,     METRIC_HISTOGRAM, "other commands' latency (sampled)")
/* clang-format on */

typedef struct {
    PROC_MEMCACHE_METRIC(DECLARE_METRIC)
} proc_memcache_metrics_st;

/* What `stats` prints comes from the binary, which sees every module. */
struct memcache_stats_source {
    /* Appends the STAT lines of `stats <group>` (group empty: general);
     * STATUS_EINVAL for a group it does not know. */
    rstatus_i (*stats)(struct buf *b, size_t max, const struct bstring *group);
    void (*reset)(void); /* stats reset */
    /* memcached's refresh_certs: reloads the TLS certificate. NULL, or
     * STATUS_ENOTFOUND when TLS is off; another failure with a reason. */
    rstatus_i (*refresh_certs)(char *err, size_t errlen);
};

/* Before the workers start. metrics NULL: nothing counted. */
void proc_memcache_setup(proc_memcache_metrics_st *metrics,
        const struct memcache_stats_source *source);
void proc_memcache_teardown(void);

/* State memcached shows in `stats settings`, set by commands on any
 * connection: the `verbosity` level (0..2), whether `stats detail` is on,
 * and when flush_all last ran (unix ms, 0: never). Any thread. */
uint32_t proc_memcache_verbosity(void);
bool proc_memcache_detail_enabled(void);
uint64_t proc_memcache_flushed_ms(void);

extern const struct processor proc_memcache;
