/* SPDX-License-Identifier: Apache-2.0 */
/* Shared between the resp processor's files: resp.c (read loop, dispatch,
 * auth, transactions, statistics), resp_string.c, resp_keys.c,
 * resp_server.c (connection and server commands), resp_info.c (INFO and
 * CONFIG) and resp_util.c (pure helpers: glob, floats). Private to
 * src/processor/. */
#pragma once

#include "processor/sendval.h"

#include "core/conn.h"
#include "processor/keyspace.h"
#include "processor/resp.h"
#include "protocol/resp/command.h"
#include "protocol/resp/compose.h"
#include "protocol/resp/parse.h"
#include "protocol/resp/request.h"
#include "storage/storage.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A connection in the client registry (CLIENT LIST). The owner worker
 * writes the atomic fields with relaxed stores; name and lib fields change
 * only under the registry lock; CLIENT LIST reads under it. */
struct resp_client {
    struct resp_client *next;
    struct resp_client *prev;
    uint64_t id;
    int fd;
    char addr[48];
    char laddr[48];
    uint64_t created_ms;
    uint64_t last_ms;  /* atomic: unix ms of the last command */
    uint32_t db;       /* atomic */
    uint32_t proto;    /* atomic */
    int32_t multi;     /* atomic: -1, or commands queued */
    uint32_t last_cmd; /* atomic: resp_command_e, RESP_NCOMMAND_ALL none */
    uint32_t sub;      /* atomic: channels subscribed */
    uint32_t psub;     /* atomic: patterns */
    uint32_t ssub;     /* atomic: shard channels */
    uint32_t monitor;  /* atomic: 1 in MONITOR */
    unsigned worker;   /* the owning worker (CLIENT KILL) */
    bool no_evict;
    bool registered;
    char *name; /* under the lock; NULL: none */
    char *lib_name;
    char *lib_ver;
};

/* A command queued by MULTI: its arguments copied (the read buffer moves
 * on), in one allocation: this header, argv, then the bytes. */
struct resp_queued {
    struct resp_queued *next;
    const struct resp_command *cmd;
    uint32_t argc;
    struct resp_arg argv[];
};

/* A key under WATCH and what it was then. */
struct resp_watched {
    uint8_t db;
    bool exists;
    uint64_t cas;
    uint64_t expiry;
    uint64_t changes; /* its stripe's ks_stripe_changes(), for a root in
                         parts (its CAS does not tell every change) */
    size_t klen;
    char key[];
};

typedef enum {
    RESP_REPLY_ON,
    RESP_REPLY_OFF,
    RESP_REPLY_SKIP_NEXT, /* CLIENT REPLY SKIP: the next command is silent */
    RESP_REPLY_SKIP_THIS,
} resp_reply_mode_e;

/* Per-connection state, c->data. */
struct resp_state {
    struct resp_request req;
    struct resp_writer w;
    struct resp_client client;
    bool authenticated;
    bool in_multi;
    bool multi_dirty; /* an error while queueing: EXEC aborts */
    bool in_exec;
    /* while EXEC runs, its hold: a script queued in the transaction hands
     * the undeclared keys it took on to it (ks_hold_keep), so they stay
     * held until EXEC ends */
    struct ks_hold *exec_hold;
    uint8_t reply; /* resp_reply_mode_e */
    uint32_t nqueued;
    struct resp_queued *qhead;
    struct resp_queued **qtail;
    struct resp_watched **watch;
    uint32_t nwatch;
    uint32_t watch_cap;
    struct resp_pubsub *pubsub;     /* NULL until the first (P|S)SUBSCRIBE */
    struct resp_waiter *block;      /* blocked in BLPOP & co (resp_block.c) */
    bool paused;                    /* held by CLIENT PAUSE (resp_pause.c) */
    struct resp_tracking *tracking; /* CLIENT TRACKING on (resp_tracking.c) */
    uint64_t pause_gen;             /* the pause that held it */
    struct resp_big *big;           /* a request in pieces (resp_stream.c) */
    size_t in_bytes;                /* what big holds (conn.proc_bytes) */
    size_t out_bytes;               /* what out holds (conn.proc_bytes) */
    size_t buf_budget;              /* proc_limits.buf_budget (spill) */
    struct resp_out *out;           /* values sent in pieces (resp_out.c) */
    struct resp_out *out_last;      /* the last of them: where pushes go */
};

/* What a command handler sees. argv views the read buffer (or a queued
 * copy) for the handler's call only. */
struct resp_ctx {
    struct conn *c;
    struct resp_state *st;
    struct resp_writer *w;
    const struct resp_command *cmd;
    const struct resp_arg *argv;
    uint32_t argc;
};

/* A command handler: composes exactly one reply; returns the compose
 * status (STATUS_ENOMEM: the write buffer is full, the connection closes). */
typedef rstatus_i (*resp_handler_fn)(struct resp_ctx *x);

extern proc_resp_metrics_st *resp_proc_metrics;
extern struct resp_info_source resp_source;

/* ---- helpers (resp.c) ---- */

static inline uint8_t
resp_db(const struct resp_ctx *x)
{
    return (uint8_t)x->c->db;
}

/* Case-insensitive comparison of an argument with a lowercase word. */
bool resp_arg_is(const struct resp_arg *a, const char *word);
/* Redis's getLongLongFromObject (string2ll) on an argument. */
bool resp_arg_int64(const struct resp_arg *a, int64_t *v);
/* Error replies; msg carries its code ("ERR ..."). */
rstatus_i resp_err(struct resp_ctx *x, const char *msg);
rstatus_i resp_err_syntax(struct resp_ctx *x);
rstatus_i resp_err_int(struct resp_ctx *x); /* not an integer */
/* The reply to a failed write: OOM, too large, or a storage failure. */
rstatus_i resp_err_storage(struct resp_ctx *x, storage_status_e s);
/* "WRONGTYPE Operation against a key holding the wrong kind of value" */
rstatus_i resp_err_wrongtype(struct resp_ctx *x);
/* "invalid expire time in '<fullname>' command" */
rstatus_i resp_err_expire(struct resp_ctx *x);
void resp_count_lookup(bool hit);
/* The current protocol (2 or 3) of this connection. */
static inline bool
resp_is3(const struct resp_ctx *x)
{
    return x->w->proto == RESP_PROTO_3;
}
/* Selects database db for the connection (0 .. 15). */
void resp_select(struct resp_ctx *x, uint32_t db);
/* Client registry: set/clear a name (NULL or "" clears) under the lock. */
void resp_client_set_name(struct resp_client *cl, const char *name, size_t len);
void resp_client_set_lib(
        struct resp_client *cl, bool ver, const char *s, size_t len);
/* Appends CLIENT LIST lines to b: every client, or only ids[0..nid);
 * type -1 any, 0 normal, 1 pubsub. */
rstatus_i resp_client_list(struct buf *b, size_t max, uint64_t now_ms,
        const uint64_t *ids, size_t nid, const struct resp_client *self,
        bool self_only, int type);
/* Holds a subscription (Redis's pubsub client type); any thread. */
bool resp_client_is_pubsub(const struct resp_client *cl);
/* Replies a text as a bulk string (RESP2) or verbatim "txt" (RESP3). */
rstatus_i resp_reply_text(struct resp_ctx *x, const char *s, size_t len);
/* Resets the connection as RESET does (and ends MULTI, WATCH). */
void resp_state_reset(struct resp_ctx *x);
void resp_unwatch(struct resp_state *st);
bool resp_password_required(void);
/* AUTH user pass: true when they match the configured default user. */
bool resp_auth_check(const struct resp_arg *user, const struct resp_arg *pass);
/* Whether v is the configured password ("" when there is none). */
bool resp_requirepass_is(const struct resp_arg *v);
/* The configured password as a bulk string (CONFIG GET requirepass). */
rstatus_i resp_config_requirepass(struct resp_writer *w);
const char *resp_run_id(void);
uint64_t resp_start_ms(void);
void resp_cmdstats_reset(void);
/* Appends INFO commandstats / latencystats / errorstats lines. */
rstatus_i resp_info_cmdstats(struct buf *b, size_t max);
rstatus_i resp_info_latencystats(struct buf *b, size_t max);
rstatus_i resp_info_errorstats(struct buf *b, size_t max);
uint64_t resp_clients_count(void);
/* The worker of resp client id; false when there is no such client. */
bool resp_client_worker(uint64_t id, unsigned *worker);

/* ---- client-side caching (resp_tracking.c) ---- */
struct resp_tracking;
/* CLIENT TRACKING, CACHING, GETREDIR, TRACKINGINFO */
rstatus_i resp_cmd_client_tracking(struct resp_ctx *x);
/* Whether some client tracks; then run_command calls the two below
 * around every command (inline: one load per command otherwise). */
extern size_t resp_tracking_n; /* tracking clients; resp_tracking.c's */
static inline bool
resp_tracking_active(void)
{
    return __atomic_load_n(&resp_tracking_n, __ATOMIC_RELAXED) > 0;
}
void resp_tracking_before(struct resp_ctx *x);
void resp_tracking_after(struct resp_ctx *x);
/* Tracking off for a connection closing or RESET. */
void resp_tracking_release(struct conn *c, struct resp_state *st);
void resp_tracking_stats(
        uint64_t *clients, uint64_t *keys, uint64_t *items, uint64_t *prefixes);
uint64_t resp_tracking_max_keys(void);
void resp_tracking_set_max_keys(uint64_t n);
void resp_tracking_setup(void);
void resp_tracking_teardown(void);

/* ---- atomic execution (resp.c, resp_exec.c) ---- */

/* How long a command nested in a hold (a script's undeclared key) tries a
 * stripe it cannot wait for before failing with BUSYKEY. */
#define RESP_HOLD_WAIT_NS (100 * 1000 * 1000ull)
/* Runs a checked command; with several keys (argc at or past the command
 * table's hold_argc), or always, under a hold of its keys (nested in the
 * caller's hold, if any). With keep (a taken hold of this thread: a
 * script's), the stripes the command took stay held until keep is
 * released (ks_hold_keep). */
rstatus_i resp_run_held(struct resp_ctx *x, bool always, uint64_t wait_ns,
        struct ks_hold *keep);
/* Adds the keys of a command (in db) to h; false: out of memory. */
bool resp_hold_add_command(struct ks_hold *h, uint8_t db,
        const struct resp_command *cmd, const struct resp_arg *argv,
        uint32_t argc);
/* Adds the watched keys and the keys of every queued command (following
 * SELECT in the queue) to h; false: out of memory. */
bool resp_hold_add_exec(struct ks_hold *h, const struct resp_ctx *x);

/* ---- statistics and the client registry (resp_stats.c) ---- */

/* Appends printf text to b (one line of up to 1 KiB; longer is cut). */
rstatus_i resp_buf_printf(struct buf *b, size_t max, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* Creates the per-command histograms when with_histograms. */
rstatus_i resp_stats_setup(bool with_histograms);
void resp_stats_teardown(void);
void resp_cmdstat_record(resp_command_e id, uint64_t ns, bool failed);
void resp_cmdstat_reject(resp_command_e id);
/* Counts an error reply by its code (the text after '-', up to a space). */
void resp_errorstat_count(const char *err, size_t len);
/* Commands run, keyspace hits and misses since the last reset. */
void resp_keyspace_counts(uint64_t *cmds, uint64_t *hits, uint64_t *misses);
void resp_client_register(struct resp_client *cl, const struct conn *c);
void resp_client_unregister(struct resp_client *cl);

/* ---- handlers ---- */

/* resp_string.c */
rstatus_i resp_cmd_get(struct resp_ctx *x);
rstatus_i resp_cmd_set(struct resp_ctx *x);
rstatus_i resp_cmd_setnx(struct resp_ctx *x);
rstatus_i resp_cmd_setex(struct resp_ctx *x);
rstatus_i resp_cmd_getset(struct resp_ctx *x);
rstatus_i resp_cmd_getdel(struct resp_ctx *x);
rstatus_i resp_cmd_getex(struct resp_ctx *x);
rstatus_i resp_cmd_mget(struct resp_ctx *x);
rstatus_i resp_cmd_mset(struct resp_ctx *x);
rstatus_i resp_cmd_msetnx(struct resp_ctx *x);
rstatus_i resp_cmd_append(struct resp_ctx *x);
rstatus_i resp_cmd_strlen(struct resp_ctx *x);
rstatus_i resp_cmd_getrange(struct resp_ctx *x);
rstatus_i resp_cmd_setrange(struct resp_ctx *x);
rstatus_i resp_cmd_incr(struct resp_ctx *x);
rstatus_i resp_cmd_incrbyfloat(struct resp_ctx *x);

/* resp_hash.c */
rstatus_i resp_cmd_hset(struct resp_ctx *x); /* HSET HMSET HSETNX */
rstatus_i resp_cmd_hget(struct resp_ctx *x);
rstatus_i resp_cmd_hmget(struct resp_ctx *x);
rstatus_i resp_cmd_hexists(struct resp_ctx *x);
rstatus_i resp_cmd_hstrlen(struct resp_ctx *x);
rstatus_i resp_cmd_hlen(struct resp_ctx *x);    /* HLEN SCARD */
rstatus_i resp_cmd_hgetall(struct resp_ctx *x); /* HKEYS HVALS HGETALL */
rstatus_i resp_cmd_hdel(struct resp_ctx *x);
rstatus_i resp_cmd_hincrby(struct resp_ctx *x);
rstatus_i resp_cmd_hincrbyfloat(struct resp_ctx *x);
rstatus_i resp_cmd_hrandfield(struct resp_ctx *x);
rstatus_i resp_cmd_hscan(struct resp_ctx *x);
/* shared by the collection commands */
struct coll;
struct pack_elem;
rstatus_i resp_coll_err(struct resp_ctx *x, int coll_status);
uint64_t resp_rand64(void);
/* SCAN-style arguments from argv[from] (cursor, MATCH, COUNT); -1: an error
 * was replied. */
int resp_scan_args(struct resp_ctx *x, uint32_t from, uint64_t *cursor,
        uint64_t *count, const struct resp_arg **pattern);
rstatus_i resp_coll_scan(struct resp_ctx *x, uint8_t type);
bool resp_coll_snapshot(struct coll *c, struct pack_elem **a,
        struct pack_elem **b, uint8_t **bytes, uint64_t *n);

/* resp_set.c */
rstatus_i resp_cmd_sadd(struct resp_ctx *x);
rstatus_i resp_cmd_srem(struct resp_ctx *x);
rstatus_i resp_cmd_sismember(struct resp_ctx *x);
rstatus_i resp_cmd_smismember(struct resp_ctx *x);
rstatus_i resp_cmd_smembers(struct resp_ctx *x);
rstatus_i resp_cmd_srandmember(struct resp_ctx *x);
rstatus_i resp_cmd_spop(struct resp_ctx *x);
rstatus_i resp_cmd_smove(struct resp_ctx *x);
rstatus_i resp_cmd_setop(struct resp_ctx *x); /* SINTER SUNION SDIFF, STORE */
rstatus_i resp_cmd_sintercard(struct resp_ctx *x);
rstatus_i resp_cmd_sscan(struct resp_ctx *x);

/* resp_keys.c */
rstatus_i resp_cmd_del(struct resp_ctx *x);
rstatus_i resp_cmd_exists(struct resp_ctx *x);
rstatus_i resp_cmd_touch(struct resp_ctx *x);
rstatus_i resp_cmd_type(struct resp_ctx *x);
rstatus_i resp_cmd_rename(struct resp_ctx *x);
rstatus_i resp_cmd_copy(struct resp_ctx *x);
rstatus_i resp_cmd_expire(struct resp_ctx *x);
rstatus_i resp_cmd_ttl(struct resp_ctx *x);
rstatus_i resp_cmd_persist(struct resp_ctx *x);
rstatus_i resp_cmd_keys(struct resp_ctx *x);
rstatus_i resp_cmd_scan(struct resp_ctx *x);
rstatus_i resp_cmd_randomkey(struct resp_ctx *x);
rstatus_i resp_cmd_dbsize(struct resp_ctx *x);
rstatus_i resp_cmd_flush(struct resp_ctx *x);

/* resp_bits.c */
rstatus_i resp_cmd_setbit(struct resp_ctx *x);
rstatus_i resp_cmd_getbit(struct resp_ctx *x);
rstatus_i resp_cmd_bitcount(struct resp_ctx *x);
rstatus_i resp_cmd_bitpos(struct resp_ctx *x);
rstatus_i resp_cmd_bitop(struct resp_ctx *x);
rstatus_i resp_cmd_bitfield(struct resp_ctx *x); /* and BITFIELD_RO */

/* resp_hll.c */
rstatus_i resp_cmd_pfadd(struct resp_ctx *x);
rstatus_i resp_cmd_pfcount(struct resp_ctx *x);
rstatus_i resp_cmd_pfmerge(struct resp_ctx *x);
/* hll-sparse-max-bytes (CONFIG GET/SET), a relaxed atomic */
extern uint64_t resp_hll_sparse_max;

/* resp_lcs.c */
rstatus_i resp_cmd_lcs(struct resp_ctx *x);

/* resp_move.c */
rstatus_i resp_cmd_move(struct resp_ctx *x);

/* resp_server.c */
rstatus_i resp_cmd_ping(struct resp_ctx *x);
rstatus_i resp_cmd_echo(struct resp_ctx *x);
rstatus_i resp_cmd_quit(struct resp_ctx *x);
rstatus_i resp_cmd_reset(struct resp_ctx *x);
rstatus_i resp_cmd_hello(struct resp_ctx *x);
rstatus_i resp_cmd_auth(struct resp_ctx *x);
rstatus_i resp_cmd_select(struct resp_ctx *x);
rstatus_i resp_cmd_client(struct resp_ctx *x);
rstatus_i resp_cmd_command(struct resp_ctx *x);
rstatus_i resp_cmd_time(struct resp_ctx *x);
rstatus_i resp_cmd_role(struct resp_ctx *x);
rstatus_i resp_cmd_latency(struct resp_ctx *x);
rstatus_i resp_cmd_shutdown(struct resp_ctx *x);
rstatus_i resp_cmd_debug(struct resp_ctx *x);
rstatus_i resp_cmd_help(struct resp_ctx *x);

/* resp_script.c: Lua scripting */
rstatus_i resp_cmd_eval(struct resp_ctx *x);   /* and EVALSHA, the _RO ones */
rstatus_i resp_cmd_script(struct resp_ctx *x); /* LOAD EXISTS FLUSH KILL */
/* resp_function.c: FUNCTION LOAD LIST DELETE FLUSH STATS, FCALL(_RO) */
rstatus_i resp_cmd_function(struct resp_ctx *x);
rstatus_i resp_cmd_fcall(struct resp_ctx *x);

/* resp_pubsub.c: SUBSCRIBE and the rest of pub/sub, across workers */
rstatus_i resp_cmd_subscribe(struct resp_ctx *x); /* and the unsubscribes */
rstatus_i resp_cmd_publish(struct resp_ctx *x);   /* and SPUBLISH */
rstatus_i resp_cmd_pubsub(struct resp_ctx *x);
void resp_pubsub_setup(void);
void resp_pubsub_teardown(void);
/* Subscriptions of every kind the connection holds (RESP2: > 0 is
 * Redis's subscribed mode). */
uint32_t resp_pubsub_count(const struct resp_state *st);
/* Drops every subscription without a reply (RESET, close); any state. */
void resp_pubsub_release(struct conn *c, struct resp_state *st);
typedef enum {
    RESP_PUBSUB_CHANNELS,
    RESP_PUBSUB_PATTERNS,
    RESP_PUBSUB_SHARDS,
} resp_pubsub_names_e;
/* Distinct channels, patterns or shard channels subscribed now, all
 * workers (INFO, PUBSUB NUMPAT); any thread. */
uint64_t resp_pubsub_names(resp_pubsub_names_e which);
/* client-output-buffer-limit pubsub <hard> <soft> <seconds>; any thread. */
void resp_pubsub_obuf_limit(uint64_t *hard, uint64_t *soft, uint64_t *seconds);
void resp_pubsub_set_obuf_limit(uint64_t hard, uint64_t soft, uint64_t seconds);
/* CONFIG GET client-output-buffer-limit's value (every class). */
void resp_obuf_limit_format(char *out, size_t cap);
/* Checks a CONFIG SET client-output-buffer-limit value ("pubsub 32mb 8mb
 * 60 ..."), and applies it when apply; NULL, or Redis's reason. */
const char *resp_obuf_limit_set(const char *s, size_t len, bool apply);

/* resp_monitor.c: MONITOR across workers */
rstatus_i resp_cmd_monitor(struct resp_ctx *x);
void resp_monitor_setup(size_t buffer_max);
void resp_monitor_teardown(void);
/* Someone watches (a relaxed load); then feed each command that ran. */
bool resp_monitor_active(void);

/* ---- CLIENT PAUSE (resp_pause.c) ---- */

/* Non-zero while a pause may be in force (one relaxed load). */
extern uint32_t resp_pause_mode;
static inline bool
resp_pause_maybe(void)
{
    return __atomic_load_n(&resp_pause_mode, __ATOMIC_RELAXED) != 0;
}
/* Whether cmd waits for the pause to end (after the checks that answer at
 * once: lookup, arity, auth, subscribed mode). */
bool resp_pause_holds(const struct resp_ctx *x);
/* Holds c (st->paused): it reads nothing more until the pause ends. */
rstatus_i resp_pause_hold(struct conn *c, struct resp_state *st);
void resp_pause_release(struct conn *c, struct resp_state *st);
rstatus_i resp_cmd_client_pause(struct resp_ctx *x);
rstatus_i resp_cmd_client_unpause(struct resp_ctx *x);
void resp_pause_setup(void);
void resp_pause_teardown(void);
void resp_monitor_feed(const struct resp_ctx *x);

/* ---- a SET's value received in pieces (resp_stream.c) ---- */

/* The bytes of a streamed value kept for SLOWLOG and MONITOR (Redis's
 * SLOWLOG_ENTRY_MAX_STRING). */
#define RESP_STREAM_HEAD 128
/* Bulks from this length are offered to resp_stream_offer. */
#define RESP_STREAM_MIN  (64 * 1024)
/* After RESP_PARSE_STREAM: takes the bulk into the store in pieces when it
 * is a SET's value too large for the read buffer or one item, else
 * declines it (it is then received whole). st->big is set when taken. */
void resp_stream_offer(struct conn *c, struct resp_state *st,
        const struct proc_limits *limits);
/* After RESP_PARSE_CHUNK: the piece into the value's parts. */
void resp_stream_chunk(struct conn *c, struct resp_state *st);
/* After the streamed request's RESP_PARSE_OK: copies its arguments (the
 * value a placeholder) for it to run, now or after a pause. false: no
 * memory. */
bool resp_stream_whole(struct resp_state *st);
/* The copied arguments of a whole streamed request waiting to run. */
bool resp_stream_held(const struct resp_state *st, const struct resp_arg **argv,
        uint32_t *argc);
/* Ends a streamed request: deletes the parts if nothing committed them
 * (NULL-safe: st->big may be NULL). */
void resp_stream_release(struct conn *c, struct resp_state *st);
/* Whether argument i of x is a streamed value; *shown (may be NULL): how
 * many of its first bytes argv[i].data holds (its len is the value's). */
bool resp_stream_is(const struct resp_ctx *x, uint32_t i, size_t *shown);
/* SET's write when x runs a streamed request (resp_stream_is(x, 2)):
 * commits the value's parts with w (ks_stream_commit_as; old as
 * ks_set's). */
storage_status_e resp_stream_commit(struct resp_ctx *x,
        const struct storage_write *w, struct storage_item *old);
/* Ends MONITOR for the connection (RESET, close); any state. */
void resp_monitor_release(struct conn *c, struct resp_state *st);

/* CLIENT KILL's filters (Redis 7.0.15's); zero fields match any client. */
struct resp_kill_filter {
    uint64_t id;
    int type; /* -1 any, 0 normal, 1 pubsub, 2 matches none (replicas) */
    const struct resp_arg *addr;
    const struct resp_arg *laddr;
    bool skipme;
};
struct resp_kill_target {
    uint64_t id;
    unsigned worker;
};
/* The clients f matches (self skipped when f->skipme), in *out (caller
 * releases with mm_release); returns how many, or -1 out of memory. */
long resp_client_match(const struct resp_kill_filter *f,
        const struct resp_client *self, struct resp_kill_target **out);

/* resp_info.c */
rstatus_i resp_cmd_info(struct resp_ctx *x);
rstatus_i resp_cmd_config(struct resp_ctx *x);
/* INFO's section selection: a bit per resp_info_section_e for the
 * arguments (none: default; "all", "default", "everything", names in any
 * case; unknown names select nothing). Pure. */
uint32_t resp_info_select(const struct resp_arg *argv, uint32_t argc);

/* resp_ops.c: OBJECT, MEMORY, SLOWLOG */
rstatus_i resp_cmd_object(struct resp_ctx *x);
rstatus_i resp_cmd_memory(struct resp_ctx *x);
rstatus_i resp_cmd_slowlog(struct resp_ctx *x);
/* OBJECT ENCODING of a string value as Redis decides it on SET: "int",
 * "embstr" (up to 44 bytes) or "raw". */
const char *resp_object_encoding(const struct storage_item *it);
/* The slow log: a command that ran at least resp_slowlog_ns (atomic;
 * UINT64_MAX: off) is recorded by resp_slowlog_record on its thread. */
extern uint64_t resp_slowlog_ns;
void resp_slowlog_record(const struct resp_ctx *x, uint64_t ns);
/* slowlog-log-slower-than (microseconds, -1: off, 0: every command) and
 * slowlog-max-len (entries kept). */
void resp_slowlog_configure(int64_t slower_than_us, uint64_t max_len);
int64_t resp_slowlog_slower_than(void);
uint64_t resp_slowlog_max_len(void);
void resp_slowlog_setup(void);
void resp_slowlog_teardown(void);

/* ---- pure helpers (resp_util.c) ---- */

/* Redis's stringmatchlen: glob with * ? [abc] [^a-z] and \ escapes. */
bool resp_glob_match(const char *pattern, size_t plen, const char *s,
        size_t slen, bool nocase);
/* Redis's string2ld: a long double from text (strtold rules, no leading
 * space, nothing after, no NaN, no overflow); at most 5119 bytes. */
bool resp_parse_long_double(const char *p, size_t len, long double *v);
/* Redis's ld2string in human mode ("%.17Lf" without trailing zeros, "-0"
 * as "0"); returns the length, 0 if cap is too small. */
size_t resp_format_long_double(char *buf, size_t cap, long double v);
/* Redis's SCAN cursor rule (strtoull: no leading space, all digits); */
bool resp_parse_cursor(const char *p, size_t len, uint64_t *cursor);

/* ---- large values sent in pieces (resp_out.c) ---- */

/* For a reply's value, root (a string in parts found with KS_RAW): past
 * 1 MiB, outside a script, writes the bulk header and leaves the value to
 * resp_out_pump, and what the command composes next to after it; true
 * then (also when the reply is not sent: CLIENT REPLY OFF/SKIP). false:
 * reply as usual. */
bool resp_out_start(struct resp_ctx *x, const struct storage_item *root);
/* The same for len bytes of the value from off (GETRANGE). */
bool resp_out_start_range(struct resp_ctx *x, const struct storage_item *root,
        uint64_t off, uint64_t len);
/* For a reply's value of len bytes that a lookup copied into the
 * thread's scratch (GETDEL, GETEX, GETSET, SET ... GET of a value in
 * parts): past 1 MiB, outside a script, writes the bulk header and takes
 * the copy, sent in slices as the socket drains (not bounded by
 * worker.wbuf_max; the copy is what Redis's output buffer holds); true
 * then. false: reply as usual. */
bool resp_out_copy(struct resp_ctx *x, const void *value, size_t len);
/* The same for a value held elsewhere, copied here (a script's returned
 * string, which Lua may collect before it is sent). */
bool resp_out_dup(struct resp_ctx *x, const void *value, size_t len);
/* Where bytes pushed to the connection outside a reply go (pub/sub
 * messages, invalidations): after the values being sent, if any. */
struct buf *resp_out_wbuf(struct conn *c, struct resp_state *st);
/* Copies the pending values (and what followed each) into the write buffer
 * as far as worker.wbuf_high allows (CONN_STALLED while some is left); the
 * connection closes (an error status) when a key changed before its
 * value's last slice. */
rstatus_i resp_out_pump(struct conn *c, struct resp_state *st,
        const struct proc_limits *limits);
void resp_out_release(struct conn *c, struct resp_state *st);
/* Drops what was queued after keep (NULL: everything), unsent: a reply
 * that could not be composed whole is replaced by an error. */
void resp_out_truncate(
        struct conn *c, struct resp_state *st, struct resp_out *keep);
/* The connection writer's spill hook (resp_writer.spill, spill_arg the
 * conn): a reply past worker.wbuf_max goes on in a queued buffer of its
 * own (released unsent under CLIENT REPLY OFF/SKIP, as a value is). */
rstatus_i resp_out_spill(struct resp_writer *w, size_t n);
