/* SPDX-License-Identifier: Apache-2.0 */
/* Worker threads: each runs its own epoll loop over the connections the
 * server thread hands it, optionally pinned to a CPU. A worker knows no
 * protocol and no transport: it runs the connection's transport handshake,
 * reads, runs the connection's processor, and writes, all through the
 * connection's transport (core/transport.h).
 *
 *   server --(new ring + notifier)--> worker --(term ring + notifier)--> server
 */
#pragma once

#include "base/metric.h"
#include "base/option.h"
#include "base/status.h"
#include "base/util.h"
#include "core/processor.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* clang-format off */
/*          name                type          default  description */
#define WORKER_OPTION(ACTION)                                                  \
    ACTION( worker_threads,     OPTION_UINT,  0,       "worker threads, at most 128 (0: one per CPU)"            ) \
    ACTION( worker_cpus,        OPTION_STR,   "",      "CPU ids to pin workers to, e.g. 0,1 (empty: no pinning)") \
    ACTION( worker_nevent,      OPTION_UINT,  1024,    "most events handled per epoll wait"         ) \
    ACTION( worker_ring_size,   OPTION_UINT,  1024,    "new-connection ring slots per worker"       ) \
    ACTION( worker_buf_size,    OPTION_SIZE,  16 * KiB, "initial size of a connection buffer"       ) \
    ACTION( worker_rbuf_max,    OPTION_SIZE,  2 * MiB, "most a read buffer may grow to"             ) \
    ACTION( worker_wbuf_high,   OPTION_SIZE,  1 * MiB, "stop parsing while a write buffer holds more") \
    ACTION( worker_wbuf_max,    OPTION_SIZE,  64 * MiB, "most a write buffer may grow to"            ) \
    ACTION( worker_idle_timeout, OPTION_DURATION, 0,   "close connections idle this long (0: never)") \
    ACTION( worker_handshake_timeout, OPTION_DURATION, 10000, "close connections whose TLS handshake is not done this long after accept (0: never)") \
    ACTION( worker_handshake_batch, OPTION_UINT, 64,   "most handshake steps a worker runs per event batch; the rest wait for the next") \
    ACTION( worker_buffer_memory, OPTION_SIZE, 256 * MiB, "most memory all connection buffers may hold together; past it the connections holding most are closed (0: no limit)")

/*          name                   type            description */
#define WORKER_METRIC(ACTION)                                                  \
    ACTION( worker_event_total,    METRIC_COUNTER, "# events handled by workers"       ) \
    ACTION( worker_event_loop,     METRIC_COUNTER, "# epoll waits that returned"        ) \
    ACTION( worker_read,           METRIC_COUNTER, "# recv calls that returned data"    ) \
    ACTION( worker_write,          METRIC_COUNTER, "# send calls"                       ) \
    ACTION( worker_read_byte,      METRIC_COUNTER, "# bytes read from clients"          ) \
    ACTION( worker_write_byte,     METRIC_COUNTER, "# bytes written to clients"         ) \
    ACTION( worker_conn_open,      METRIC_COUNTER, "# connections taken from the server") \
    ACTION( worker_conn_close,     METRIC_COUNTER, "# connections given back"           ) \
    ACTION( worker_conn_idle,      METRIC_COUNTER, "# connections closed for idleness"  ) \
    ACTION( worker_handshake_timeout, METRIC_COUNTER, "# connections closed: handshake not done in worker.handshake_timeout") \
    ACTION( worker_handshake_deferred, METRIC_COUNTER, "# handshake steps put off to the next batch (worker.handshake_batch)") \
    ACTION( worker_conn_overflow,  METRIC_COUNTER, "# connections closed: read buffer over its cap") \
    ACTION( worker_conn_evict_buf, METRIC_COUNTER, "# connections closed: buffers over worker.buffer_memory") \
    ACTION( worker_buf_bytes,      METRIC_GAUGE,   "# bytes of buffers lent to connections now") \
    ACTION( worker_tls_bytes,      METRIC_GAUGE,   "# bytes OpenSSL holds for TLS connections now (estimated per connection; counted in worker.buffer_memory)") \
    ACTION( worker_stall,          METRIC_COUNTER, "# times reading paused for a full write buffer") \
    ACTION( worker_buf_ex,         METRIC_COUNTER, "# buffer allocation failures"       ) \
    ACTION( worker_notify_ex,      METRIC_COUNTER, "# notifier errors"                  ) \
    ACTION( worker_term_full,      METRIC_COUNTER, "# times the term ring was full"     )
/* clang-format on */

typedef struct {
    WORKER_OPTION(DECLARE_OPTION)
} worker_options_st;

typedef struct {
    WORKER_METRIC(DECLARE_METRIC)
} worker_metrics_st;

/* Called in each worker thread: at start, once per event batch after every
 * reply of the batch is in a write buffer (the storage's quiescent point),
 * at stop, and when woken by worker_wake (messages from other threads:
 * core/msg.h). Any may be NULL. */
struct worker_hooks {
    void (*start)(unsigned id);
    void (*loop)(unsigned id, uint64_t now_ms);
    void (*stop)(unsigned id);
    void (*wake)(unsigned id);
    /* the most ms the loop may sleep now (-1: no bound): a processor that
     * must act at a time (CLIENT PAUSE's end) without an event */
    int (*wait_ms)(unsigned id, uint64_t now_ms);
};

struct buf;
struct conn;
struct worker;

/* Most worker threads: the store registers at most this many threads
 * (main.c asserts it against STORAGE_THREADS_MAX). */
#define WORKERS_MAX 128

/* Every check workers_setup makes of its options: STATUS_OK, or
 * STATUS_EINVAL with the option at fault in *bad and why in why. Any
 * thread. */
rstatus_i workers_options_check(const worker_options_st *options,
        const struct option **bad, char *why, size_t cap);
/* Workers for worker.threads 0: one per CPU this process may run on, at
 * most WORKERS_MAX. */
unsigned workers_auto_count(void);

/* worker.idle_timeout in milliseconds (0: never), changed at run time by
 * CONFIG SET timeout; any thread. Workers see a change within 5 seconds. */
uint64_t workers_idle_timeout(void);
void workers_set_idle_timeout(uint64_t ms);

/* Creates n workers (not started). cpus: parsed CPU list or NULL. */
rstatus_i workers_setup(const worker_options_st *options,
        worker_metrics_st *metrics, const struct worker_hooks *hooks);
void workers_teardown(void); /* after workers_join */
unsigned workers_count(void);
struct worker *worker_get(unsigned id);
/* Bytes of buffers lent to connections, all workers together; any thread. */
size_t workers_buf_bytes(void);
/* Bytes the transports' state holds (OpenSSL, estimated per connection by
 * transport.memory), all workers together; any thread. Counted against
 * worker.buffer_memory with the buffers. */
size_t workers_tls_bytes(void);
/* Starts every worker thread. */
rstatus_i workers_start(void);
/* Asks every worker to close its connections and stop; any thread. */
void workers_stop(void);
void workers_join(void);

/* Server thread only: hands c to w. STATUS_EFULL when w's ring is full
 * (c is still the caller's). */
rstatus_i worker_give(struct worker *w, struct conn *c);
/* Server thread only: takes one closed connection back from w.
 * STATUS_EEMPTY when there is none. */
rstatus_i worker_take_closed(struct worker *w, struct conn **c);
/* After workers_join only: takes a connection handed to w that w never
 * started serving. STATUS_EEMPTY when there is none. */
rstatus_i worker_take_unserved(struct worker *w, struct conn **c);
/* The fd the server thread waits on for closed connections from w. */
int worker_term_fd(const struct worker *w);
/* Drains w's term notifier; server thread only. */
void worker_term_drain(struct worker *w);

/* Any thread: wakes w's loop, which calls hooks.wake (through the eventfd
 * the server's hand-off uses). */
void worker_wake(struct worker *w);
unsigned worker_id(const struct worker *w);

/* For bytes a processor writes into a connection outside its read call (a
 * message from another connection): the owning worker's thread only.
 * worker_conn_wbuf lends c a write buffer if it has none (STATUS_ENOMEM);
 * worker_conn_flush_later sends what c->wbuf holds after the current
 * event (with CONN_STALLED set, it then runs c's processor on what rbuf
 * holds, whether or not there was anything to send), and worker_conn_kill
 * closes c then (unsent bytes dropped, as
 * Redis drops a client over its output buffer limit). Neither closes c
 * on the spot: the caller may be serving another connection's event. */
rstatus_i worker_conn_wbuf(struct conn *c);
void worker_conn_flush_later(struct conn *c);
void worker_conn_kill(struct conn *c);
/* From inside a long request of connection running (a busy script), on
 * its worker's thread: serves the worker's other connections once, without
 * waiting, through their processors' busy callbacks (which answer, say,
 * BUSY), and flushes those replies at once. Connections without a busy
 * callback, in a handshake, with output pending or with nothing to read
 * wait; none is closed here (an end of file or error is met again by the
 * worker's loop after the long request). */
void worker_serve_while_busy(struct conn *running);
/* w's thread only: worker_conn_kill on w's connection with this id, if
 * w holds it; true when it does. */
bool worker_kill_id(struct worker *w, uint64_t id);
/* w's thread only: whether w holds connection id (and is not closing
 * it). */
bool worker_has_id(struct worker *w, uint64_t id);
/* w's thread only: w's connection with this id (not closing), or NULL; a
 * walk of w's connections. */
struct conn *worker_conn_by_id(struct worker *w, uint64_t id);
/* w's thread only: appends one line per connection w holds (core/conns.h
 * shows the format): id, peer address, processor, worker, seconds since
 * w took it and since its last read or write, and each buffer's unsent
 * bytes over its capacity; not those it is closing. */
rstatus_i worker_describe(struct worker *w, struct buf *b, size_t max);

/* Connections w holds now (a relaxed snapshot), for stats. */
uint64_t worker_nconn(const struct worker *w);
uint64_t worker_nevent(const struct worker *w);

/* Parses "0,1,3" or "0-3" into ids; STATUS_EINVAL with a reason in err for
 * bad syntax or a CPU this process may not run on. */
rstatus_i worker_parse_cpus(const char *list, int *cpus, size_t cap, size_t *n,
        char *err, size_t errlen);
