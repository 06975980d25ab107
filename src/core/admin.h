/* SPDX-License-Identifier: Apache-2.0 */
/* The admin thread: the operators' port (text commands and HTTP GET
 * /metrics, through the admin processor), periodic jobs on a timing wheel,
 * and signals (SIGTERM/SIGINT stop, SIGHUP reopens the log and reloads the
 * TLS certificate). It runs in the thread that calls admin_run, normally
 * main's. Admin connections move bytes through their transport
 * (core/transport.h): plain on admin.listen, TLS on admin.tls_listen. */
#pragma once

#include "base/metric.h"
#include "base/option.h"
#include "base/status.h"
#include "base/timing_wheel.h"
#include "core/processor.h"

#include <stdint.h>

/* clang-format off */
/*          name            type         default            description */
#define ADMIN_OPTION(ACTION)                                                   \
    ACTION( admin_listen,   OPTION_STR,  "127.0.0.1:9999",  "admin address (host:port, or off)") \
    ACTION( admin_tls_listen, OPTION_STR, "off",            "admin address over TLS (host:port, or off; see tls.*)") \
    ACTION( admin_tick,     OPTION_DURATION, 10,            "timing wheel tick of periodic jobs") \
    ACTION( admin_max_connections, OPTION_UINT, 64,         "most admin connections at once; more are accepted and closed") \
    ACTION( admin_idle_timeout, OPTION_DURATION, 300000,    "close admin connections idle this long (0: never)") \
    ACTION( admin_handshake_timeout, OPTION_DURATION, 10000, "close admin TLS connections whose handshake is not done this long after accept (0: never)")

/*          name                 type            description */
#define ADMIN_METRIC(ACTION)                                                   \
    ACTION( admin_conn_curr,     METRIC_GAUGE,   "# admin connections open now"    ) \
    ACTION( admin_conn_total,    METRIC_COUNTER, "# admin connections accepted"    ) \
    ACTION( admin_conn_refused,  METRIC_COUNTER, "# admin connections refused: max_connections reached or no memory") \
    ACTION( admin_conn_idle,     METRIC_COUNTER, "# admin connections closed by idle_timeout") \
    ACTION( admin_handshake_timeout, METRIC_COUNTER, "# admin connections closed: handshake not done in admin.handshake_timeout") \
    ACTION( admin_event_loop,    METRIC_COUNTER, "# admin thread epoll waits"      ) \
    ACTION( admin_job_run,       METRIC_COUNTER, "# periodic jobs run"             ) \
    ACTION( admin_signal,        METRIC_COUNTER, "# signals handled"               )
/* clang-format on */

typedef struct {
    ADMIN_OPTION(DECLARE_OPTION)
} admin_options_st;

typedef struct {
    ADMIN_METRIC(DECLARE_METRIC)
} admin_metrics_st;

/* Blocks SIGTERM, SIGINT, SIGHUP, SIGUSR1 and SIGUSR2 in the calling
 * thread (call before starting any thread, so every thread inherits the
 * mask; the admin thread reads them from a signalfd) and ignores SIGPIPE.
 * SIGTERM, SIGINT and SIGUSR1 stop the server, SIGHUP reopens the log,
 * SIGUSR2 is logged and ignored. */
rstatus_i admin_signals_block(void);
/* Binds the admin listener unless it is "off"; proc serves its conns. */
rstatus_i admin_setup(const admin_options_st *options,
        admin_metrics_st *metrics, const struct processor *proc);
void admin_teardown(void);
/* Schedules a recurring job on the admin thread. Before admin_run. */
rstatus_i admin_add_job(uint64_t interval_ms, timer_cb_fn cb, void *arg);
/* Serves until SIGTERM/SIGINT or admin_request_stop; returns then. */
rstatus_i admin_run(void);
/* Any thread (and a processor: "shutdown" on the admin port). */
void admin_request_stop(void);
/* The admin port actually bound (0 when off). */
int admin_port(void);
