/* SPDX-License-Identifier: Apache-2.0 */
/* The server thread: owns the data listeners, accepts connections, picks a
 * worker for each (least connections, round robin on ties), hands it over
 * through the worker's ring, and closes what workers give back. */
#pragma once

#include "base/metric.h"
#include "base/option.h"
#include "base/status.h"
#include "base/tcp.h"
#include "core/processor.h"

#include <stdbool.h>
#include <stdint.h>

/* clang-format off */
/*          name                     type          default  description */
#define SERVER_OPTION(ACTION)                                                  \
    ACTION( server_max_connections,  OPTION_UINT,  10000,   "most client connections at once; more are accepted and closed") \
    ACTION( server_backlog,          OPTION_UINT,  1024,    "listen backlog of every data listener"     ) \
    ACTION( server_unix_mode,        OPTION_STR,   "0700",  "file mode (octal) of Unix-socket listeners") \
    ACTION( server_protected_mode,   OPTION_BOOL,  true,    "refuse to start with a data listener off loopback unless its clients must authenticate")

/*          name                       type            description */
#define SERVER_METRIC(ACTION)                                                  \
    ACTION( server_conn_curr,          METRIC_GAUGE,   "# client connections open now"        ) \
    ACTION( server_conn_total,         METRIC_COUNTER, "# client connections accepted"        ) \
    ACTION( server_conn_refused_max,   METRIC_COUNTER, "# refused: max_connections reached"   ) \
    ACTION( server_conn_refused_pool,  METRIC_COUNTER, "# refused: no memory for a connection") \
    ACTION( server_accept_ex,          METRIC_COUNTER, "# accept errors other than EAGAIN"    ) \
    ACTION( server_accept_fd_ex,       METRIC_COUNTER, "# refused: out of file descriptors" ) \
    ACTION( server_ring_full,          METRIC_COUNTER, "# times every worker ring was full"   ) \
    ACTION( server_conn_reclaim,       METRIC_COUNTER, "# connections closed and pooled again") \
    ACTION( server_event_loop,         METRIC_COUNTER, "# server thread epoll waits"          )
/* clang-format on */

typedef struct {
    SERVER_OPTION(DECLARE_OPTION)
} server_options_st;

typedef struct {
    SERVER_METRIC(DECLARE_METRIC)
} server_metrics_st;

struct transport;

struct listener {
    const char *name; /* "memcache", "resp", "ping", "memcache-tls" ... */
    struct tcp_addr addr;
    const struct processor *proc;
    const struct transport *tp; /* its connections' transport; NULL: tcp */
    int fd;
    uint64_t accepted; /* connections accepted here (relaxed) */
};

/* Binds every listener (fd set in each). On failure logs one line naming
 * the listener and the cause and returns STATUS_ERROR; nothing stays bound. */
rstatus_i server_setup(const server_options_st *options,
        server_metrics_st *metrics, struct listener *listeners, unsigned n);
void server_teardown(void);
rstatus_i server_start(void);
/* Stops accepting (closes the listeners); reclaiming goes on. Any thread. */
void server_stop_accepting(void);
/* After the workers are joined: reclaims what is left and stops. */
void server_stop(void);
uint64_t server_max_connections(void);
