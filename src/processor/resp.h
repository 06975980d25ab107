/* SPDX-License-Identifier: Apache-2.0 */
/* The resp processor: Redis 7.0.15's string, key-space, expiry, connection,
 * server and transaction commands executed on the store, in RESP2 or RESP3
 * (after HELLO 3). The only place the resp protocol meets storage. */
#pragma once

#include "base/buf.h"
#include "base/metric.h"
#include "base/option.h"
#include "core/processor.h"
#include "core/tls.h"

#include <stdint.h>

/* clang-format off */
/*          name                 type        default  description */
#define PROC_RESP_OPTION(ACTION)                                               \
    ACTION( resp_requirepass,    OPTION_STR, "",      "password clients must AUTH with (empty: none)") \
    ACTION( resp_monitor_buffer, OPTION_SIZE, 16 * MiB, "most MONITOR output waiting for one watcher; past it lines are dropped (counted)") \
    ACTION( resp_busy_reply_threshold, OPTION_DURATION, 5000, "a Lua script or function running this long is busy: SCRIPT KILL or FUNCTION KILL may stop it (Redis's busy-reply-threshold, alias lua-time-limit; CONFIG SET changes it)")

/*          name                  type            description */
#define PROC_RESP_METRIC(ACTION)                                               \
    ACTION( resp_cmd_unknown,     METRIC_COUNTER, "# unknown commands or subcommands" ) \
    ACTION( resp_cmd_rejected,    METRIC_COUNTER, "# commands refused before running (arity, auth, queue)") \
    ACTION( resp_cmd_failed,      METRIC_COUNTER, "# commands that replied an error"   ) \
    ACTION( resp_error,           METRIC_COUNTER, "# error replies"                   ) \
    ACTION( resp_write_oom,       METRIC_COUNTER, "# writes refused: no memory (OOM)" ) \
    ACTION( resp_auth_fail,       METRIC_COUNTER, "# AUTH/HELLO with a wrong password" ) \
    ACTION( resp_noauth,          METRIC_COUNTER, "# commands refused before AUTH"    ) \
    ACTION( resp_stream,          METRIC_COUNTER, "# SET values received into the store in pieces" ) \
    ACTION( resp_stream_byte,     METRIC_COUNTER, "# bytes of SET values received in pieces" ) \
    ACTION( resp_gather,          METRIC_COUNTER, "# requests (not a SET streamed into the store) whose large arguments were received into buffers of their own, past worker.rbuf_max" ) \
    ACTION( resp_gather_byte,     METRIC_COUNTER, "# bytes of arguments received so" ) \
    ACTION( resp_stream_drop,     METRIC_COUNTER, "# values received in pieces not stored (refused, closed mid-value)" ) \
    ACTION( resp_reply_spill,     METRIC_COUNTER, "# times a reply went past worker.wbuf_max and went on in a buffer queued behind it" ) \
    ACTION( resp_get_stream,      METRIC_COUNTER, "# values past 1 MiB sent in pieces as the socket drains (GET MGET GETRANGE GETEX GETSET GETDEL SET GET, in EXEC too)" ) \
    ACTION( resp_get_stream_byte, METRIC_COUNTER, "# bytes of values sent in pieces" ) \
    ACTION( resp_get_stream_cut,  METRIC_COUNTER, "# values sent in pieces cut (connection closed): the key changed while it was sent" ) \
    ACTION( resp_reply_too_large, METRIC_COUNTER, "# replies that could not be composed (out of memory) answered with an error instead" ) \
    ACTION( resp_exec,            METRIC_COUNTER, "# EXEC that ran their queue"       ) \
    ACTION( resp_exec_abort,      METRIC_COUNTER, "# EXEC aborted (WATCH or queue error)") \
    ACTION( resp_hold_busy,       METRIC_COUNTER, "# commands refused: an undeclared key held elsewhere") \
    ACTION( resp_busy,            METRIC_COUNTER, "# commands answered BUSY: a key held by a busy script") \
    ACTION( resp_slowlog,         METRIC_COUNTER, "# commands recorded in the slow log" ) \
    ACTION( resp_conn_curr,       METRIC_GAUGE,   "# resp connections now"            ) \
    ACTION( resp_conn_total,      METRIC_COUNTER, "# resp connections served"         ) \
    ACTION( resp_pubsub_publish,  METRIC_COUNTER, "# PUBLISH and SPUBLISH run"         ) \
    ACTION( resp_pubsub_delivered, METRIC_COUNTER, "# messages written to subscribers (message, pmessage, smessage)") \
    ACTION( resp_pubsub_obuf_kill, METRIC_COUNTER, "# subscribers closed over client-output-buffer-limit pubsub") \
    ACTION( resp_pubsub_ex,       METRIC_COUNTER, "# subscriptions or messages refused: no memory") \
    ACTION( resp_tracking_sent,   METRIC_COUNTER, "# client-side caching invalidations written (CLIENT TRACKING)") \
    ACTION( resp_tracking_trimmed, METRIC_COUNTER, "# keys invalidated to keep the tracking table under tracking-table-max-keys") \
    ACTION( resp_tracking_ex,     METRIC_COUNTER, "# invalidations or tracked keys lost: no memory") \
    ACTION( resp_notify,          METRIC_COUNTER, "# keyspace notification messages sent to workers with a subscriber (__keyspace@, __keyevent@)") \
    ACTION( resp_monitor_line,    METRIC_COUNTER, "# MONITOR lines written to watchers") \
    ACTION( resp_monitor_drop,    METRIC_COUNTER, "# MONITOR lines dropped: the watcher's write buffer over its bound") \
    ACTION( resp_pause,           METRIC_COUNTER, "# CLIENT PAUSE commands") \
    ACTION( resp_pause_held,      METRIC_COUNTER, "# commands held by a CLIENT PAUSE (each time one is held)") \
    ACTION( resp_client_kill,     METRIC_COUNTER, "# connections CLIENT KILL asked to close")
/* clang-format on */

typedef struct {
    PROC_RESP_OPTION(DECLARE_OPTION)
} proc_resp_options_st;

typedef struct {
    PROC_RESP_METRIC(DECLARE_METRIC)
} proc_resp_metrics_st;

/* INFO sections, in the order Redis 7.0 prints them. */
/* clang-format off */
#define RESP_INFO_SECTION(ACTION)                                              \
    ACTION( SERVER,       "server",       "Server",       1 ) \
    ACTION( CLIENTS,      "clients",      "Clients",      1 ) \
    ACTION( MEMORY,       "memory",       "Memory",       1 ) \
    ACTION( PERSISTENCE,  "persistence",  "Persistence",  1 ) \
    ACTION( STATS,        "stats",        "Stats",        1 ) \
    ACTION( REPLICATION,  "replication",  "Replication",  1 ) \
    ACTION( CPU,          "cpu",          "CPU",          1 ) \
    ACTION( MODULES,      "modules",      "Modules",      1 ) \
    ACTION( COMMANDSTATS, "commandstats", "Commandstats", 0 ) \
    ACTION( ERRORSTATS,   "errorstats",   "Errorstats",   1 ) \
    ACTION( LATENCYSTATS, "latencystats", "Latencystats", 0 ) \
    ACTION( CLUSTER,      "cluster",      "Cluster",      1 ) \
    ACTION( KEYSPACE,     "keyspace",     "Keyspace",     1 ) \
    ACTION( HOTKEYS,      "hotkeys",      "Hotkeys",      0 )
/* clang-format on */
#define RESP_INFO_ENUM(_id, _name, _title, _default) RESP_INFO_##_id,
typedef enum {
    RESP_INFO_SECTION(RESP_INFO_ENUM) RESP_INFO_NSECTION
} resp_info_section_e;

/* What INFO, CONFIG GET and CONFIG RESETSTAT need from the rest of the
 * binary, which sees every module. Any field may be NULL. Called from
 * worker threads. */
struct resp_info_source {
    /* Appends "field:value\r\n" lines of section sec (server, clients,
     * memory, stats, cpu) that the binary knows: uptime, clients, memory,
     * network bytes, expired and evicted keys, CPU ... */
    rstatus_i (*info)(struct buf *b, size_t max, resp_info_section_e sec);
    /* Current values for CONFIG GET: maxmemory (bytes), port, bind
     * address, idle timeout (seconds), maxclients, eviction policy name
     * (Redis's: "noeviction", "allkeys-lru" ...), and the largest bulk. */
    uint64_t (*maxmemory)(void);
    const char *(*maxmemory_policy)(void);
    void (*listen)(char *host, size_t cap, uint64_t *port);
    uint64_t (*timeout_s)(void);
    /* CONFIG SET timeout: the idle timeout from now on, in seconds; NULL
     * when it cannot change at run time */
    void (*set_timeout_s)(uint64_t seconds);
    uint64_t (*maxclients)(void);
    void (*reset)(void); /* CONFIG RESETSTAT: the binary's counters */
    /* CONFIG GET of Redis's tls-* parameters (tls-port, tls-cert-file
     * ...): the current value of name into out ("" when unknown). */
    void (*tls_get)(const char *name, char *out, size_t cap);
    /* CONFIG SET tls-cert-file, tls-key-file, tls-ca-cert-file,
     * tls-protocols, tls-ciphers, tls-ciphersuites: sets those given
     * (v[tls_file_e], NULL: unchanged) and reloads the certificate once
     * (connections open keep theirs). STATUS_OK, or a failure with the
     * reason in why and nothing changed. */
    rstatus_i (*tls_set)(const char *const v[TLS_NSET], char *why, size_t cap);
    /* CONFIG SET tls-auth-clients: the resp TLS listener's policy for new
     * connections; with apply false only checked (value, TLS configured,
     * a CA, protected mode). */
    rstatus_i (*tls_set_auth)(
            const char *value, bool apply, char *why, size_t cap);
};

/* Before the workers start. options NULL: defaults; metrics NULL: nothing
 * counted and no per-command statistics. STATUS_ENOMEM if the per-command
 * histograms cannot be made. */
rstatus_i proc_resp_setup(const proc_resp_options_st *options,
        proc_resp_metrics_st *metrics, const struct resp_info_source *source);
void proc_resp_teardown(void);

/* Per-command statistics (Redis's INFO commandstats and latencystats) of
 * every command called at least once, for the admin port, after the totals
 * (resp_cmd_calls, resp_keyspace_hits, resp_keyspace_misses):
 *   STAT resp_cmd_<name>_calls N      (and _usec, _failed_calls,
 *   _rejected_calls, _p50_ns, _p99_ns, _p999_ns)
 * subcommands named with '_' for '|' ("client_setname"). Any thread. */
rstatus_i proc_resp_print_cmdstats(struct buf *b, size_t max);
/* The same as Prometheus text: segcached_resp_cmd_calls{cmd="get"} N ... */
rstatus_i proc_resp_print_cmdstats_prometheus(struct buf *b, size_t max);
/* Zeroes the per-command statistics (admin `stats reset`, CONFIG
 * RESETSTAT). Any thread. */
void proc_resp_reset_cmdstats(void);

extern const struct processor proc_resp;

/* CLIENT PAUSE across workers (resp_pause.c), from the worker loop (main.c
 * wires them as worker hooks); worker id's thread only. tick resumes the
 * connections id holds once the pause is over or lifted; wait_ms is the
 * most the loop may sleep before tick must run (-1: no bound). */
void proc_resp_worker_tick(unsigned id, uint64_t now_ms);
int proc_resp_worker_wait_ms(unsigned id, uint64_t now_ms);
