/* SPDX-License-Identifier: Apache-2.0 */
/* INFO (Redis's sections and field names where the meaning is the same;
 * the numbers only the binary knows come from the info source) and CONFIG
 * GET/SET/RESETSTAT over the parameters that mean something here. */
#include "processor/coll.h"
#include "processor/lcoll.h"
#include "processor/notify.h"
#include "processor/resp_internal.h"
#include "processor/resp_script.h"
#include "processor/resp_zset.h"

#include "base/log.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#ifndef SEGCACHED_VERSION
#define SEGCACHED_VERSION "unknown"
#endif

#define INFO_BUF 4096

#define RESP_INFO_MASK(_id, _name, _title, _default)                           \
    ((_default) ? (1u << RESP_INFO_##_id) : 0) |
static const uint32_t info_default = RESP_INFO_SECTION(RESP_INFO_MASK) 0;
#define RESP_INFO_NAME(_id, _name, _title, _default) _name,
static const char *const info_names[] = {RESP_INFO_SECTION(RESP_INFO_NAME)};
#define RESP_INFO_TITLE(_id, _name, _title, _default) _title,
static const char *const info_titles[] = {RESP_INFO_SECTION(RESP_INFO_TITLE)};

uint32_t
resp_info_select(const struct resp_arg *argv, uint32_t argc)
{
    if (argc == 0) {
        return info_default;
    }
    uint32_t mask = 0;
    for (uint32_t i = 0; i < argc; i++) {
        const struct resp_arg *a = &argv[i];
        if (resp_arg_is(a, "default")) {
            mask |= info_default;
        } else if (resp_arg_is(a, "all") || resp_arg_is(a, "everything")) {
            mask |= (1u << RESP_INFO_NSECTION) - 1;
        } else if (resp_arg_is(a, "module_list")) {
            mask |= 1u << RESP_INFO_MODULES;
        } else {
            for (uint32_t s = 0; s < RESP_INFO_NSECTION; s++) {
                if (resp_arg_is(a, info_names[s])) {
                    mask |= 1u << s;
                }
            }
        }
    }
    return mask;
}

static rstatus_i
info_server(struct buf *b, size_t max, uint64_t now_ms)
{
    struct utsname u;
    char host[128] = "";
    uint64_t port = 0;
    char exe[512] = "";
    if (uname(&u) != 0) {
        memset(&u, 0, sizeof(u));
    }
    if (resp_source.listen != NULL) {
        resp_source.listen(host, sizeof(host), &port);
    }
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    exe[n > 0 ? n : 0] = '\0';
    uint64_t up = (now_ms - resp_start_ms()) / 1000;
    return resp_buf_printf(b, max,
            "redis_version:7.0.15\r\nsegcached_version:%s\r\n"
            "redis_git_sha1:00000000\r\nredis_git_dirty:0\r\n"
            "redis_build_id:0\r\nredis_mode:standalone\r\n"
            "os:%s %s %s\r\narch_bits:%d\r\n"
            "monotonic_clock:POSIX clock_gettime\r\n"
            "multiplexing_api:epoll\r\natomicvar_api:c11-builtin\r\n"
            "gcc_version:%d.%d.%d\r\nprocess_id:%d\r\n"
            "process_supervised:no\r\nrun_id:%s\r\ntcp_port:%" PRIu64 "\r\n"
            "server_time_usec:%" PRIu64 "\r\nuptime_in_seconds:%" PRIu64
            "\r\nuptime_in_days:%" PRIu64 "\r\nhz:10\r\nconfigured_hz:10\r\n"
            "executable:%s\r\nconfig_file:\r\nio_threads_active:0\r\n",
            SEGCACHED_VERSION, u.sysname, u.release, u.machine,
            (int)(8 * sizeof(void *)), __GNUC__, __GNUC_MINOR__,
            __GNUC_PATCHLEVEL__, (int)getpid(), resp_run_id(), port,
            now_ms * 1000, up, up / 86400, exe);
}

static rstatus_i
info_source(struct buf *b, size_t max, resp_info_section_e sec)
{
    return resp_source.info != NULL ? resp_source.info(b, max, sec) : STATUS_OK;
}

static uint64_t
counter(const struct metric *m)
{
    return resp_proc_metrics != NULL ? metric_counter(m) : 0;
}

static rstatus_i
info_stats(struct buf *b, size_t max)
{
    const proc_resp_metrics_st *m = resp_proc_metrics;
    uint64_t cmds, hits, misses;
    rstatus_i rc = info_source(b, max, RESP_INFO_STATS);
    if (rc != STATUS_OK) {
        return rc;
    }
    resp_keyspace_counts(&cmds, &hits, &misses);
    uint64_t tclients, tkeys, titems, tprefixes;
    resp_tracking_stats(&tclients, &tkeys, &titems, &tprefixes);
    return resp_buf_printf(b, max,
            "total_commands_processed:%" PRIu64 "\r\n"
            "instantaneous_ops_per_sec:0\r\nkeyspace_hits:%" PRIu64 "\r\n"
            "keyspace_misses:%" PRIu64 "\r\npubsub_channels:%" PRIu64
            "\r\npubsub_patterns:%" PRIu64 "\r\npubsubshard_channels:%" PRIu64
            "\r\ntotal_forks:0\r\ntracking_total_keys:%" PRIu64
            "\r\ntracking_total_items:%" PRIu64
            "\r\ntracking_total_prefixes:%" PRIu64
            "\r\nunexpected_error_replies:0\r\n"
            "total_error_replies:%" PRIu64 "\r\n",
            cmds, hits, misses, resp_pubsub_names(RESP_PUBSUB_CHANNELS),
            resp_pubsub_names(RESP_PUBSUB_PATTERNS),
            resp_pubsub_names(RESP_PUBSUB_SHARDS), tkeys, titems, tprefixes,
            m != NULL ? counter(&m->resp_error) : 0);
}

static rstatus_i
info_keyspace(struct buf *b, size_t max)
{
    rstatus_i rc = STATUS_OK;
    for (uint8_t db = 0; rc == STATUS_OK && db < STORAGE_DB_COUNT; db++) {
        uint64_t n = storage_count(db);
        if (n > 0) {
            /* avg_ttl stays 0: Redis estimates it from its expiry cycle's
             * samples and reports 0 until it has some; nothing here
             * samples TTLs */
            rc = resp_buf_printf(b, max,
                    "db%u:keys=%" PRIu64 ",expires=%" PRIu64 ",avg_ttl=0\r\n",
                    db, n, storage_count_expires(db));
        }
    }
    return rc;
}

static rstatus_i
info_body(struct buf *b, size_t max, resp_info_section_e sec, uint64_t now_ms)
{
    switch (sec) {
    case RESP_INFO_SERVER:
        return info_server(b, max, now_ms);
    case RESP_INFO_CLIENTS: {
        rstatus_i rc = info_source(b, max, sec);
        uint64_t tclients, tkeys, titems, tprefixes;
        resp_tracking_stats(&tclients, &tkeys, &titems, &tprefixes);
        return rc != STATUS_OK
                       ? rc
                       : resp_buf_printf(b, max,
                                 "cluster_connections:0\r\n"
                                 "blocked_clients:%" PRIu64
                                 "\r\ntracking_clients:%" PRIu64
                                 "\r\nclients_in_timeout_table:%" PRIu64 "\r\n",
                                 resp_block_count(), tclients,
                                 resp_block_timed_count());
    }
    case RESP_INFO_MEMORY:
    case RESP_INFO_CPU:
    case RESP_INFO_HOTKEYS: /* segcached's own (hotkey/hotkey.h) */
        return info_source(b, max, sec);
    case RESP_INFO_PERSISTENCE:
        return resp_buf_printf(b, max,
                "loading:0\r\nasync_loading:0\r\n"
                "rdb_changes_since_last_save:0\r\n"
                "rdb_bgsave_in_progress:0\r\nrdb_last_save_time:%" PRIu64
                "\r\nrdb_last_bgsave_status:ok\r\n"
                "rdb_last_bgsave_time_sec:-1\r\n"
                "rdb_current_bgsave_time_sec:-1\r\naof_enabled:0\r\n"
                "aof_rewrite_in_progress:0\r\naof_rewrite_scheduled:0\r\n"
                "aof_last_bgrewrite_status:ok\r\naof_last_write_status:ok\r\n",
                resp_start_ms() / 1000);
    case RESP_INFO_STATS:
        return info_stats(b, max);
    case RESP_INFO_REPLICATION:
        return resp_buf_printf(b, max,
                "role:master\r\nconnected_slaves:0\r\n"
                "master_failover_state:no-failover\r\nmaster_replid:%s\r\n"
                "master_replid2:0000000000000000000000000000000000000000\r\n"
                "master_repl_offset:0\r\nsecond_repl_offset:-1\r\n"
                "repl_backlog_active:0\r\nrepl_backlog_size:0\r\n"
                "repl_backlog_first_byte_offset:0\r\nrepl_backlog_histlen:"
                "0\r\n",
                resp_run_id());
    case RESP_INFO_COMMANDSTATS:
        return resp_info_cmdstats(b, max);
    case RESP_INFO_ERRORSTATS:
        return resp_info_errorstats(b, max);
    case RESP_INFO_LATENCYSTATS:
        return resp_info_latencystats(b, max);
    case RESP_INFO_CLUSTER:
        return resp_buf_printf(b, max, "cluster_enabled:0\r\n");
    case RESP_INFO_KEYSPACE:
        return info_keyspace(b, max);
    default:
        return STATUS_OK; /* Modules: none */
    }
}

rstatus_i
resp_cmd_info(struct resp_ctx *x)
{
    uint32_t mask = resp_info_select(x->argv + 1, x->argc - 1);
    struct buf b;
    if (buf_init(&b, INFO_BUF) != STATUS_OK) {
        return resp_err(x, "ERR out of memory");
    }
    rstatus_i rc = STATUS_OK;
    bool first = true;
    for (uint32_t s = 0; rc == STATUS_OK && s < RESP_INFO_NSECTION; s++) {
        if (!(mask & (1u << s))) {
            continue;
        }
        rc = resp_buf_printf(&b, x->w->max, "%s# %s\r\n", first ? "" : "\r\n",
                info_titles[s]);
        if (rc == STATUS_OK) {
            rc = info_body(&b, x->w->max, (resp_info_section_e)s, x->c->now_ms);
        }
        first = false;
    }
    if (rc == STATUS_OK) {
        rc = resp_reply_text(x, b.rpos, buf_rsize(&b));
    }
    buf_deinit(&b);
    return rc;
}

/* ---- CONFIG ---- */

typedef enum {
    P_MAXMEMORY,
    P_MAXMEMORY_POLICY,
    P_DATABASES,
    P_PORT,
    P_BIND,
    P_REQUIREPASS,
    P_TIMEOUT,
    P_MAXCLIENTS,
    P_SAVE,
    P_APPENDONLY,
    P_NOTIFY,
    P_LAZYFREE_USER_FLUSH,
    P_CLUSTER_ENABLED,
    P_DAEMONIZE,
    P_SLOWLOG_SLOWER_THAN,
    P_SLOWLOG_MAX_LEN,
    P_TRACKING_TABLE_MAX_KEYS,
    P_TLS_PORT,
    P_TLS_CERT_FILE,
    P_TLS_KEY_FILE,
    P_TLS_CA_CERT_FILE,
    P_TLS_AUTH_CLIENTS,
    P_TLS_PROTOCOLS,
    P_TLS_CIPHERS,
    P_TLS_CIPHERSUITES,
    P_HASH_MAX_ZIPLIST_ENTRIES, /* Redis 7.0's aliases of the two below */
    P_HASH_MAX_ZIPLIST_VALUE,
    P_HASH_MAX_LISTPACK_ENTRIES,
    P_HASH_MAX_LISTPACK_VALUE,
    P_SET_MAX_INTSET_ENTRIES,
    P_ZSET_MAX_ZIPLIST_ENTRIES, /* Redis 7.0's aliases of the two below */
    P_ZSET_MAX_ZIPLIST_VALUE,
    P_ZSET_MAX_LISTPACK_ENTRIES,
    P_ZSET_MAX_LISTPACK_VALUE,
    P_OBUF_LIMIT,
    P_HLL_SPARSE_MAX_BYTES,
    P_LIST_MAX_ZIPLIST_SIZE, /* Redis 7.0's alias of the one below */
    P_LIST_MAX_LISTPACK_SIZE,
    P_BUSY_REPLY_THRESHOLD,
    P_LUA_TIME_LIMIT, /* Redis 7.0's alias of the one above */
    P_PROTO_MAX_BULK_LEN,
    P_CLIENT_QUERY_BUFFER_LIMIT,
    NPARAM
} param_e;

static const char *const param_names[NPARAM] = {
        [P_MAXMEMORY] = "maxmemory",
        [P_MAXMEMORY_POLICY] = "maxmemory-policy",
        [P_DATABASES] = "databases",
        [P_PORT] = "port",
        [P_BIND] = "bind",
        [P_REQUIREPASS] = "requirepass",
        [P_TIMEOUT] = "timeout",
        [P_MAXCLIENTS] = "maxclients",
        [P_SAVE] = "save",
        [P_APPENDONLY] = "appendonly",
        [P_NOTIFY] = "notify-keyspace-events",
        [P_LAZYFREE_USER_FLUSH] = "lazyfree-lazy-user-flush",
        [P_CLUSTER_ENABLED] = "cluster-enabled",
        [P_DAEMONIZE] = "daemonize",
        [P_SLOWLOG_SLOWER_THAN] = "slowlog-log-slower-than",
        [P_SLOWLOG_MAX_LEN] = "slowlog-max-len",
        [P_TRACKING_TABLE_MAX_KEYS] = "tracking-table-max-keys",
        [P_TLS_PORT] = "tls-port",
        [P_TLS_CERT_FILE] = "tls-cert-file",
        [P_TLS_KEY_FILE] = "tls-key-file",
        [P_TLS_CA_CERT_FILE] = "tls-ca-cert-file",
        [P_TLS_AUTH_CLIENTS] = "tls-auth-clients",
        [P_TLS_PROTOCOLS] = "tls-protocols",
        [P_TLS_CIPHERS] = "tls-ciphers",
        [P_TLS_CIPHERSUITES] = "tls-ciphersuites",
        [P_HASH_MAX_ZIPLIST_ENTRIES] = "hash-max-ziplist-entries",
        [P_HASH_MAX_ZIPLIST_VALUE] = "hash-max-ziplist-value",
        [P_HASH_MAX_LISTPACK_ENTRIES] = "hash-max-listpack-entries",
        [P_HASH_MAX_LISTPACK_VALUE] = "hash-max-listpack-value",
        [P_SET_MAX_INTSET_ENTRIES] = "set-max-intset-entries",
        [P_ZSET_MAX_ZIPLIST_ENTRIES] = "zset-max-ziplist-entries",
        [P_ZSET_MAX_ZIPLIST_VALUE] = "zset-max-ziplist-value",
        [P_ZSET_MAX_LISTPACK_ENTRIES] = "zset-max-listpack-entries",
        [P_ZSET_MAX_LISTPACK_VALUE] = "zset-max-listpack-value",
        [P_OBUF_LIMIT] = "client-output-buffer-limit",
        [P_HLL_SPARSE_MAX_BYTES] = "hll-sparse-max-bytes",
        [P_LIST_MAX_ZIPLIST_SIZE] = "list-max-ziplist-size",
        [P_LIST_MAX_LISTPACK_SIZE] = "list-max-listpack-size",
        [P_BUSY_REPLY_THRESHOLD] = "busy-reply-threshold",
        [P_LUA_TIME_LIMIT] = "lua-time-limit",
        [P_PROTO_MAX_BULK_LEN] = "proto-max-bulk-len",
        [P_CLIENT_QUERY_BUFFER_LIMIT] = "client-query-buffer-limit",
};

/* proto-max-bulk-len and client-query-buffer-limit: the resp parser's
 * limits (resp.max_bulk, resp.max_request), live. */
static bool
param_is_resp_limit(param_e p, resp_limit_e *which)
{
    *which = p == P_PROTO_MAX_BULK_LEN ? RESP_LIMIT_MAX_BULK
                                       : RESP_LIMIT_MAX_REQUEST;
    return p == P_PROTO_MAX_BULK_LEN || p == P_CLIENT_QUERY_BUFFER_LIMIT;
}

/* The collection thresholds (coll.h) and hll-sparse-max-bytes, live. */
static uint64_t *
param_limit(param_e p)
{
    switch (p) {
    case P_HASH_MAX_ZIPLIST_ENTRIES:
    case P_HASH_MAX_LISTPACK_ENTRIES:
        return &coll_limits.hash_max_listpack_entries;
    case P_HASH_MAX_ZIPLIST_VALUE:
    case P_HASH_MAX_LISTPACK_VALUE:
        return &coll_limits.hash_max_listpack_value;
    case P_SET_MAX_INTSET_ENTRIES:
        return &coll_limits.set_max_intset_entries;
    case P_HLL_SPARSE_MAX_BYTES:
        return &resp_hll_sparse_max;
    case P_BUSY_REPLY_THRESHOLD:
    case P_LUA_TIME_LIMIT:
        return &resp_script_busy_ms;
    case P_ZSET_MAX_ZIPLIST_ENTRIES:
    case P_ZSET_MAX_LISTPACK_ENTRIES:
        return &coll_limits.zset_max_listpack_entries;
    case P_ZSET_MAX_ZIPLIST_VALUE:
    case P_ZSET_MAX_LISTPACK_VALUE:
        return &coll_limits.zset_max_listpack_value;
    default:
        return NULL;
    }
}

/* What a CONFIG SET may change at run time through a certificate reload:
 * its slot (tls_file_e), or -1. */
static int
param_tls_slot(param_e p)
{
    switch (p) {
    case P_TLS_CERT_FILE:
        return TLS_FILE_CERT;
    case P_TLS_KEY_FILE:
        return TLS_FILE_KEY;
    case P_TLS_CA_CERT_FILE:
        return TLS_FILE_CA;
    case P_TLS_PROTOCOLS:
        return TLS_SET_PROTOCOLS;
    case P_TLS_CIPHERS:
        return TLS_SET_CIPHERS;
    case P_TLS_CIPHERSUITES:
        return TLS_SET_CIPHERSUITES;
    default:
        return -1;
    }
}

static uint64_t
call_u64(uint64_t (*fn)(void))
{
    return fn != NULL ? fn() : 0;
}

/* The current value of p as CONFIG GET shows it. */
static void
param_value(param_e p, char *out, size_t cap)
{
    char host[128] = "";
    uint64_t port = 0;
    const char *policy = "noeviction";
    switch (p) {
    case P_MAXMEMORY:
        snprintf(out, cap, "%" PRIu64, call_u64(resp_source.maxmemory));
        return;
    case P_MAXMEMORY_POLICY:
        if (resp_source.maxmemory_policy != NULL) {
            policy = resp_source.maxmemory_policy();
        }
        snprintf(out, cap, "%s", policy);
        return;
    case P_DATABASES:
        snprintf(out, cap, "%d", STORAGE_DB_COUNT);
        return;
    case P_PORT:
    case P_BIND:
        if (resp_source.listen != NULL) {
            resp_source.listen(host, sizeof(host), &port);
        }
        if (p == P_PORT) {
            snprintf(out, cap, "%" PRIu64, port);
        } else {
            snprintf(out, cap, "%s", host);
        }
        return;
    case P_TIMEOUT:
        snprintf(out, cap, "%" PRIu64, call_u64(resp_source.timeout_s));
        return;
    case P_HASH_MAX_ZIPLIST_ENTRIES:
    case P_HASH_MAX_ZIPLIST_VALUE:
    case P_HASH_MAX_LISTPACK_ENTRIES:
    case P_HASH_MAX_LISTPACK_VALUE:
    case P_SET_MAX_INTSET_ENTRIES:
    case P_HLL_SPARSE_MAX_BYTES:
    case P_ZSET_MAX_ZIPLIST_ENTRIES:
    case P_ZSET_MAX_ZIPLIST_VALUE:
    case P_ZSET_MAX_LISTPACK_ENTRIES:
    case P_ZSET_MAX_LISTPACK_VALUE:
    case P_BUSY_REPLY_THRESHOLD:
    case P_LUA_TIME_LIMIT:
        snprintf(out, cap, "%" PRIu64,
                __atomic_load_n(param_limit(p), __ATOMIC_RELAXED));
        return;
    case P_MAXCLIENTS:
        snprintf(out, cap, "%" PRIu64, call_u64(resp_source.maxclients));
        return;
    case P_LIST_MAX_ZIPLIST_SIZE:
    case P_LIST_MAX_LISTPACK_SIZE:
        snprintf(out, cap, "%" PRId32,
                __atomic_load_n(&list_max_listpack_size, __ATOMIC_RELAXED));
        return;
    case P_SLOWLOG_SLOWER_THAN:
        snprintf(out, cap, "%" PRId64, resp_slowlog_slower_than());
        return;
    case P_SLOWLOG_MAX_LEN:
        snprintf(out, cap, "%" PRIu64, resp_slowlog_max_len());
        return;
    case P_TRACKING_TABLE_MAX_KEYS:
        snprintf(out, cap, "%" PRIu64, resp_tracking_max_keys());
        return;
    case P_APPENDONLY:
    case P_LAZYFREE_USER_FLUSH:
    case P_CLUSTER_ENABLED:
    case P_DAEMONIZE:
        snprintf(out, cap, "no");
        return;
    case P_TLS_PORT:
    case P_TLS_CERT_FILE:
    case P_TLS_KEY_FILE:
    case P_TLS_CA_CERT_FILE:
    case P_TLS_AUTH_CLIENTS:
    case P_TLS_PROTOCOLS:
    case P_TLS_CIPHERS:
    case P_TLS_CIPHERSUITES:
        out[0] = '\0';
        if (resp_source.tls_get != NULL) {
            resp_source.tls_get(param_names[p], out, cap);
        }
        return;
    case P_OBUF_LIMIT:
        resp_obuf_limit_format(out, cap);
        return;
    case P_NOTIFY:
        if (cap >= NOTIFY_FLAGS_MAX) {
            notify_flags_format(notify_get(), out);
        }
        return;
    case P_PROTO_MAX_BULK_LEN:
        snprintf(out, cap, "%" PRIu64, resp_limit_get(RESP_LIMIT_MAX_BULK));
        return;
    case P_CLIENT_QUERY_BUFFER_LIMIT:
        snprintf(out, cap, "%" PRIu64, resp_limit_get(RESP_LIMIT_MAX_REQUEST));
        return;
    default: /* save: empty; requirepass: below */
        out[0] = '\0';
        return;
    }
}

static bool
param_match(param_e p, const struct resp_ctx *x)
{
    for (uint32_t i = 2; i < x->argc; i++) {
        if (resp_glob_match(x->argv[i].data, x->argv[i].len, param_names[p],
                    strlen(param_names[p]), true)) {
            return true;
        }
    }
    return false;
}

/* The configured password, as Redis 7.0 shows it (not masked: CONFIG is
 * only for authenticated clients). */
static rstatus_i
param_reply(struct resp_ctx *x, param_e p)
{
    char value[1100];
    param_value(p, value, sizeof(value));
    rstatus_i rc =
            resp_compose_bulk(x->w, param_names[p], strlen(param_names[p]));
    if (rc != STATUS_OK) {
        return rc;
    }
    if (p == P_REQUIREPASS) {
        return resp_config_requirepass(x->w);
    }
    return resp_compose_bulk(x->w, value, strlen(value));
}

static rstatus_i
config_get(struct resp_ctx *x)
{
    uint64_t n = 0;
    for (int p = 0; p < NPARAM; p++) {
        n += param_match((param_e)p, x);
    }
    rstatus_i rc = resp_compose_map(x->w, n);
    for (int p = 0; rc == STATUS_OK && p < NPARAM; p++) {
        if (param_match((param_e)p, x)) {
            rc = param_reply(x, (param_e)p);
        }
    }
    return rc;
}

static int
param_find(const struct resp_arg *a)
{
    for (int p = 0; p < NPARAM; p++) {
        if (resp_arg_is(a, param_names[p])) {
            return p;
        }
    }
    return -1;
}

/* A run-time parameter's new value (Redis's numeric config rules):
 * false with *why set when it is refused. */
static bool
param_parse(param_e p, const struct resp_arg *v, int64_t *out, char *why,
        size_t cap)
{
    bool fill = p == P_LIST_MAX_ZIPLIST_SIZE || p == P_LIST_MAX_LISTPACK_SIZE;
    int64_t lo = p == P_SLOWLOG_SLOWER_THAN ? -1 : fill ? INT32_MIN : 0;
    int64_t hi = p == P_TIMEOUT || fill ? INT32_MAX : INT64_MAX; /* Redis's */
    resp_limit_e which;
    if (p == P_HASH_MAX_LISTPACK_VALUE || p == P_HASH_MAX_ZIPLIST_VALUE ||
            p == P_ZSET_MAX_LISTPACK_VALUE || p == P_ZSET_MAX_ZIPLIST_VALUE ||
            param_is_resp_limit(p, &which)) {
        /* a memory value, as Redis's memtoull: digits, then b, k, kb, m,
         * mb, g or gb in any case */
        uint64_t n = 0, mul = 1;
        size_t i = 0;
        while (i < v->len && v->data[i] >= '0' && v->data[i] <= '9' &&
                n < UINT64_MAX / 10) {
            n = n * 10 + (uint64_t)(v->data[i++] - '0');
        }
        char unit[3] = "";
        size_t ulen = v->len - i;
        for (size_t j = 0; j < ulen && j < 2; j++) {
            unit[j] = (char)(v->data[i + j] | 0x20);
        }
        bool ok = i > 0 && ulen <= 2;
        if (ok && ulen > 0) {
            ok = true;
            if (!strcmp(unit, "b")) {
                mul = 1;
            } else if (!strcmp(unit, "k")) {
                mul = 1000;
            } else if (!strcmp(unit, "kb")) {
                mul = 1024;
            } else if (!strcmp(unit, "m")) {
                mul = 1000 * 1000;
            } else if (!strcmp(unit, "mb")) {
                mul = 1024 * 1024;
            } else if (!strcmp(unit, "g")) {
                mul = 1000 * 1000 * 1000;
            } else if (!strcmp(unit, "gb")) {
                mul = 1024 * 1024 * 1024;
            } else {
                ok = false;
            }
        }
        if (!ok || n > (uint64_t)INT64_MAX / mul) {
            snprintf(why, cap, "argument must be a memory value");
            return false;
        }
        *out = (int64_t)(n * mul);
        if (param_is_resp_limit(p, &which) &&
                *out < (int64_t)RESP_LIMIT_FLOOR) {
            /* Redis's lower bound for both, 1mb */
            snprintf(why, cap,
                    "argument must be between 1048576 and %" PRId64
                    " inclusive",
                    (int64_t)INT64_MAX);
            return false;
        }
        return true;
    }
    if (!resp_arg_int64(v, out)) {
        snprintf(why, cap, "argument couldn't be parsed into an integer");
        return false;
    }
    if (*out < lo || *out > hi) {
        snprintf(why, cap,
                "argument must be between %" PRId64 " and %" PRId64
                " inclusive",
                lo, hi);
        return false;
    }
    return true;
}

/* Applies the tls-* pairs of a CONFIG SET (files, protocols, ciphers)
 * that passed every check in one reload, so a new certificate and its key
 * change together. */
static rstatus_i
config_set_tls(struct resp_ctx *x, bool *failed)
{
    char val[TLS_NSET][1024];
    const char *set[TLS_NSET] = {NULL};
    const char *last = NULL;
    *failed = false;
    for (uint32_t i = 2; i < x->argc; i += 2) {
        int p = param_find(&x->argv[i]);
        int k = p < 0 ? -1 : param_tls_slot((param_e)p);
        if (k < 0) {
            continue;
        }
        const struct resp_arg *v = &x->argv[i + 1];
        size_t n = v->len < sizeof(val[k]) ? v->len : sizeof(val[k]) - 1;
        memcpy(val[k], v->data, n);
        val[k][n] = '\0';
        set[k] = val[k];
        last = param_names[p];
    }
    if (last == NULL) {
        return STATUS_OK;
    }
    char why[600] = "TLS is not configured";
    if (resp_source.tls_set != NULL &&
            resp_source.tls_set(set, why, sizeof(why)) == STATUS_OK) {
        return STATUS_OK;
    }
    *failed = true;
    return resp_compose_error_fmt(x->w,
            "ERR CONFIG SET failed (possibly related to argument '%s') - %s",
            last, why);
}

/* A tls-auth-clients value as a C string: one longer than out, or with a
 * NUL inside, becomes one no check accepts. */
static void
auth_value(const struct resp_arg *v, char *out, size_t cap)
{
    if (v->len >= cap || memchr(v->data, '\0', v->len) != NULL) {
        snprintf(out, cap, "?");
        return;
    }
    memcpy(out, v->data, v->len);
    out[v->len] = '\0';
}

/* CONFIG SET name value [name value ...]: slowlog-log-slower-than,
 * slowlog-max-len and timeout (seconds, as in Redis: worker.idle_timeout)
 * change at run time, as do the collection thresholds (coll.h) and
 * list-max-listpack-size (lcoll.h: the size of list parts),
 * notify-keyspace-events (notify.h), tls-auth-clients (the resp TLS
 * listener's policy for new connections), and tls-cert-file, tls-key-file,
 * tls-ca-cert-file, tls-protocols, tls-ciphers and tls-ciphersuites reload
 * the certificate; any other parameter
 * is accepted when its value is the current one (what tools send to make sure:
 * save
 * "", appendonly no), as segcached sets it at startup only: tls-port is
 * refused, as listeners are opened at startup. Nothing changes unless
 * every pair passes its checks. */
static rstatus_i
config_set(struct resp_ctx *x)
{
    if (x->argc % 2 != 0) {
        return resp_err_syntax(x);
    }
    int64_t slower = resp_slowlog_slower_than();
    int64_t max_len = (int64_t)resp_slowlog_max_len();
    int64_t timeout = -1;     /* unchanged */
    int64_t fill = INT64_MIN; /* unchanged */
    int notify = -1;          /* unchanged */
    int64_t track_max = -1;   /* unchanged */
    int64_t limits[NPARAM];
    for (int p = 0; p < NPARAM; p++) {
        limits[p] = -1;
    }
    for (uint32_t i = 2; i < x->argc; i += 2) {
        const struct resp_arg *name = &x->argv[i];
        const struct resp_arg *v = &x->argv[i + 1];
        int p = param_find(name);
        if (p < 0) {
            return resp_compose_error_fmt(x->w,
                    "ERR Unknown option or number of arguments for CONFIG "
                    "SET - '%.*s'",
                    (int)(name->len > 128 ? 128 : name->len), name->data);
        }
        char why[128];
        if (p == P_SLOWLOG_SLOWER_THAN || p == P_SLOWLOG_MAX_LEN ||
                p == P_TRACKING_TABLE_MAX_KEYS ||
                (p == P_TIMEOUT && resp_source.set_timeout_s != NULL)) {
            int64_t n;
            if (!param_parse((param_e)p, v, &n, why, sizeof(why))) {
                return resp_compose_error_fmt(x->w,
                        "ERR CONFIG SET failed (possibly related to argument "
                        "'%s') - %s",
                        param_names[p], why);
            }
            *(p == P_SLOWLOG_SLOWER_THAN             ? &slower
                    : p == P_TIMEOUT                 ? &timeout
                    : p == P_TRACKING_TABLE_MAX_KEYS ? &track_max
                                                     : &max_len) = n;
            continue;
        }
        if (param_tls_slot((param_e)p) >= 0) {
            continue; /* applied below, once every pair has passed */
        }
        if (p == P_TLS_AUTH_CLIENTS) {
            char val[16], bad[200] = "TLS is not configured";
            auth_value(v, val, sizeof(val));
            if (resp_source.tls_set_auth == NULL ||
                    resp_source.tls_set_auth(val, false, bad, sizeof(bad)) !=
                            STATUS_OK) {
                return resp_compose_error_fmt(x->w,
                        "ERR CONFIG SET failed (possibly related to argument "
                        "'%s') - %s",
                        param_names[p], bad);
            }
            continue; /* applied below, once every pair has passed */
        }
        if (p == P_LIST_MAX_ZIPLIST_SIZE || p == P_LIST_MAX_LISTPACK_SIZE) {
            if (!param_parse((param_e)p, v, &fill, why, sizeof(why))) {
                return resp_compose_error_fmt(x->w,
                        "ERR CONFIG SET failed (possibly related to argument "
                        "'%s') - %s",
                        param_names[p], why);
            }
            continue;
        }
        resp_limit_e which;
        if (param_limit((param_e)p) != NULL ||
                param_is_resp_limit((param_e)p, &which)) {
            if (!param_parse((param_e)p, v, &limits[p], why, sizeof(why))) {
                return resp_compose_error_fmt(x->w,
                        "ERR CONFIG SET failed (possibly related to argument "
                        "'%s') - %s",
                        param_names[p], why);
            }
            continue;
        }
        if (p == P_NOTIFY) {
            notify = notify_flags_parse(v->data, v->len);
            if (notify < 0) {
                return resp_compose_error_fmt(x->w,
                        "ERR CONFIG SET failed (possibly related to argument "
                        "'%s') - Invalid event class character. Use "
                        "'Ag$lshzxeKEtmdn'.",
                        param_names[p]);
            }
            continue;
        }
        if (p == P_OBUF_LIMIT) {
            const char *bad = resp_obuf_limit_set(v->data, v->len, false);
            if (bad != NULL) {
                return resp_compose_error_fmt(x->w,
                        "ERR CONFIG SET failed (possibly related to argument "
                        "'%s') - %s",
                        param_names[p], bad);
            }
            continue; /* applied below, once every pair has passed */
        }
        char value[1100];
        param_value((param_e)p, value, sizeof(value));
        if (p == P_REQUIREPASS ? !resp_requirepass_is(v)
                               : !resp_arg_is(v, value)) {
            return resp_compose_error_fmt(x->w,
                    "ERR CONFIG SET failed (possibly related to argument "
                    "'%s') - %s",
                    param_names[p],
                    p == P_DATABASES ? "can't set immutable config"
                                     : "segcached sets it at startup only");
        }
    }
    bool failed;
    rstatus_i rc = config_set_tls(x, &failed);
    if (rc != STATUS_OK || failed) {
        return rc;
    }
    for (uint32_t i = 2; i < x->argc; i += 2) {
        if (param_find(&x->argv[i]) == P_TLS_AUTH_CLIENTS) {
            char val[16], why[200];
            auth_value(&x->argv[i + 1], val, sizeof(val));
            resp_source.tls_set_auth(val, true, why, sizeof(why));
        }
    }
    resp_slowlog_configure(slower, (uint64_t)max_len);
    if (track_max >= 0) {
        resp_tracking_set_max_keys((uint64_t)track_max);
    }
    for (int p = 0; p < NPARAM; p++) {
        resp_limit_e which;
        if (limits[p] >= 0 && param_is_resp_limit((param_e)p, &which)) {
            resp_limit_set(which, (uint64_t)limits[p]);
        } else if (limits[p] >= 0) {
            __atomic_store_n(param_limit((param_e)p), (uint64_t)limits[p],
                    __ATOMIC_RELAXED);
        }
    }
    for (uint32_t i = 2; i < x->argc; i += 2) {
        if (param_find(&x->argv[i]) == P_OBUF_LIMIT) {
            resp_obuf_limit_set(x->argv[i + 1].data, x->argv[i + 1].len, true);
        }
    }
    if (timeout >= 0) {
        resp_source.set_timeout_s((uint64_t)timeout);
    }
    if (fill != INT64_MIN) {
        __atomic_store_n(
                &list_max_listpack_size, (int32_t)fill, __ATOMIC_RELAXED);
    }
    if (notify >= 0) {
        notify_set(notify);
    }
    return resp_compose_ok(x->w);
}

rstatus_i
resp_cmd_config(struct resp_ctx *x)
{
    switch (x->cmd->id) {
    case RESP_CMD_CONFIG_GET:
        return config_get(x);
    case RESP_CMD_CONFIG_SET:
        return config_set(x);
    case RESP_CMD_CONFIG_RESETSTAT:
        resp_cmdstats_reset();
        if (resp_source.reset != NULL) {
            resp_source.reset();
        }
        return resp_compose_ok(x->w);
    default:
        return resp_compose_err_unknown_subcommand(x->w, x->argv);
    }
}
