/* SPDX-License-Identifier: Apache-2.0 */
/* Sampled hot-key detection (issue 20). The keyspace path hands every
 * keyed access here (a read that hit, a read that missed, a write, with
 * its db and protocol); one access in hotkey.sample_rate, picked at random
 * gaps, enters its worker's space-saving summaries (hotkey/summary.h):
 * one of every sampled access, one of misses alone. Each worker writes only
 * its own summaries: no lock, no allocation, nothing shared written on the
 * request path but the worker's own "busy" flag, and only on a sampled
 * access.
 *
 * Once a second the admin thread (hotkey_tick) closes the second: it moves
 * the epoch on, so workers switch to their other summary pair, waits for
 * any worker still inside the old one, merges the workers' pairs into that
 * second's top lists, and the last 10 and 60 seconds into the windows'
 * reports, which it publishes (under a mutex readers also take: outputs
 * run on the admin thread or on a worker answering `stats hotkeys` or
 * INFO, never on the request path). Keys whose share of the 10 s window
 * passes hotkey.threshold are logged, once per 10 s, and counted. */
#pragma once

#include "base/bstring.h"
#include "base/buf.h"
#include "base/metric.h"
#include "base/option.h"
#include "base/status.h"
#include "hotkey/summary.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* clang-format off */
/*          name                type         default  description */
#define HOTKEY_OPTION(ACTION)                                                  \
    ACTION( hotkey_sample_rate, OPTION_UINT, 100,     "hot keys: sample 1 in N keyed accesses, at random gaps (0: off)") \
    ACTION( hotkey_threshold,   OPTION_FPN,  0.01,    "hot keys: a key with this share of the 10 s window's accesses is logged (once per 10 s) and counted") \
    ACTION( hotkey_export,      OPTION_UINT, 10,      "hot keys: series per /metrics gauge (the top N of the 10 s window, at most 100)")

/*          name                   type            description */
#define HOTKEY_METRIC(ACTION)                                                  \
    ACTION( hotkey_sample,         METRIC_COUNTER, "# keyed accesses sampled for hot keys") \
    ACTION( hotkey_hot,            METRIC_COUNTER, "# times a key over hotkey.threshold was logged") \
    ACTION( hotkey_hot_miss,       METRIC_COUNTER, "# times a key missed over hotkey.threshold was logged") \
    ACTION( hotkey_hot_curr,       METRIC_GAUGE,   "# keys over hotkey.threshold in the 10 s window now") \
    ACTION( hotkey_hot_miss_curr,  METRIC_GAUGE,   "# keys missed over hotkey.threshold in the 10 s window now") \
    ACTION( hotkey_memory,         METRIC_GAUGE,   "bytes of the hot-key summaries, windows and reports")
/* clang-format on */

typedef struct {
    HOTKEY_OPTION(DECLARE_OPTION)
} hotkey_options_st;

typedef struct {
    HOTKEY_METRIC(DECLARE_METRIC)
} hotkey_metrics_st;

/* protocols, a bit each (a key can be sent by both) */
#define HOTKEY_PROTO_MEMCACHE 0x1
#define HOTKEY_PROTO_RESP     0x2

/* clang-format off */
#define HOTKEY_WINDOWS   2   /* 10 s, 60 s */
#define HOTKEY_TOP_MAX   100 /* most keys a report lists */
#define HOTKEY_MISS_MAX  20  /* most hot misses a report lists */
/* clang-format on */

/* Before workers start: slots for nworkers. options NULL: defaults;
 * metrics NULL: nothing counted. STATUS_ENOMEM. With sample_rate 0 nothing
 * is allocated and hotkey_enabled() is false (then do not set the hook). */
rstatus_i hotkey_setup(const hotkey_options_st *options,
        hotkey_metrics_st *metrics, unsigned nworkers);
/* After every worker and the admin thread have stopped. */
void hotkey_teardown(void);
bool hotkey_enabled(void);

/* The calling thread samples as worker id (< nworkers) from now on; a
 * thread that never attached samples nothing. detach: stops. */
void hotkey_worker_attach(unsigned id);
void hotkey_worker_detach(void);
/* Worker thread, every keyed access: cheap unless picked. */
void hotkey_sample(uint8_t db, const void *key, size_t klen, hk_kind_e kind,
        uint8_t proto);
/* Worker thread, an access already picked (the keyspace path keeps the
 * countdown, see ks_on_access): records it, returns how many accesses to
 * let pass before the next pick (UINT32_MAX on a thread not attached). */
uint32_t hotkey_record(uint8_t db, const void *key, size_t klen, hk_kind_e kind,
        uint8_t proto);

/* Admin thread, about once a second: closes the second, updates the
 * windows, logs and publishes. now_ms: a monotonic clock. */
void hotkey_tick(uint64_t now_ms);
/* Any thread: forgets every window (`stats reset`, CONFIG RESETSTAT);
 * the reports are empty until the next tick after it. */
void hotkey_reset(void);

/* One reported key of a window, in requests per second. */
struct hotkey_row {
    char key[HK_KEY_MAX + 1]; /* escaped (hotkey_escape), NUL-ended */
    double rate;  /* estimated accesses/s (misses/s in a miss list) */
    double share; /* of every access in the window, 0..1 */
    double err;   /* +- bound of rate: summary error and 2 sigma of sampling */
    double reads, writes, misses; /* rate split by kind (per second) */
    uint8_t db;
    uint8_t proto;
};
/* The published report of window w (0: 10 s, 1: 60 s); miss: the hot
 * misses. Fills up to n rows, returns how many; *seconds and *rate (all
 * accesses per second in the window) when not NULL. Any thread. */
size_t hotkey_report(unsigned w, bool miss, struct hotkey_row *rows, size_t n,
        double *seconds, double *rate);

/* The options in force (sample_rate 0: off). */
void hotkey_settings(
        uint64_t *sample_rate, double *threshold, uint64_t *export_n);
/* memcached's metadump key escaping (letters, digits and "-._~" as they
 * are, every other byte %XX), cut before out would pass HK_KEY_MAX bytes
 * (never inside a %XX). out: HK_KEY_MAX + 1 bytes; returns the length. */
size_t hotkey_escape(char *out, const uint8_t *key, size_t klen);
/* "memcache", "resp", "memcache+resp" */
const char *hotkey_proto_name(uint8_t proto);

/* ---- outputs (hotkey_print.c); any thread ---- */

/* Admin `hotkeys [N]`: for each window a HOTKEYS line, then the top N
 * (default 10, at most HOTKEY_TOP_MAX) as HOT lines and hot misses as
 * HOTMISS lines (the caller ends with END). STATUS_EINVAL for a bad N. */
rstatus_i hotkey_print_admin(
        struct buf *b, size_t max, const struct bstring *arg);
/* memcache `stats hotkeys`: STAT lines (no END). */
rstatus_i hotkey_print_stats(struct buf *b, size_t max);
/* Redis INFO hotkeys: field:value lines. */
rstatus_i hotkey_print_info(struct buf *b, size_t max);
/* /metrics: gauges of the 10 s window's top hotkey.export keys. */
rstatus_i hotkey_print_prometheus(struct buf *b, size_t max);
