/* SPDX-License-Identifier: Apache-2.0 */
/* The binary's metric struct and its printing for the admin port. */
#include "stats.h"

#include "base/mm.h"
#include "base/time.h"
#include "setting.h"
#include "storage/storage.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

_Static_assert(sizeof(struct stats) % sizeof(struct metric) == 0,
        "struct stats must be a whole number of metrics");

struct stats stats = {
        .process = {PROCESS_METRIC(INIT_METRIC)},
        .server = {SERVER_METRIC(INIT_METRIC)},
        .worker = {WORKER_METRIC(INIT_METRIC)},
        .msg = {MSG_METRIC(INIT_METRIC)},
        .admin = {ADMIN_METRIC(INIT_METRIC)},
        .tls = {TLS_METRIC(INIT_METRIC)},
        .seg = {SEG_METRIC(INIT_METRIC)},
        .memcache_parse = {MEMCACHE_PARSE_METRIC(INIT_METRIC)},
        .memcache = {PROC_MEMCACHE_METRIC(INIT_METRIC)},
        .resp_parse = {RESP_METRIC(INIT_METRIC)},
        .resp = {PROC_RESP_METRIC(INIT_METRIC)},
        .hotkey = {HOTKEY_METRIC(INIT_METRIC)},
};

static uint64_t start_ms;

rstatus_i
stats_setup(void)
{
    start_ms = time_mono_ms();
    rstatus_i st = metric_init(stats_metrics(), STATS_NMETRIC);
    metric_set(&stats.process.pid, getpid());
    unsigned major = 0, minor = 0, patch = 0;
    sscanf(SEGCACHED_VERSION, "%u.%u.%u", &major, &minor, &patch);
    metric_set(&stats.process.version, major * 10000 + minor * 100 + patch);
    stats_refresh();
    return st;
}

void
stats_teardown(void)
{
    metric_deinit(stats_metrics(), STATS_NMETRIC);
}

/* The process's own peak RSS: VmHWM. getrusage's ru_maxrss survives
 * execve, so it can report the size of whatever started us. */
static int64_t
peak_rss(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL) {
        return 0;
    }
    char line[128];
    long long kib = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        if (sscanf(line, "VmHWM: %lld kB", &kib) == 1) {
            break;
        }
    }
    fclose(f);
    return (int64_t)kib * 1024;
}

void
stats_refresh(void)
{
    struct rusage ru;
    metric_set(
            &stats.process.uptime, (int64_t)(time_mono_ms() - start_ms) / 1000);
    metric_set(&stats.process.time, (int64_t)(time_now_ms() / 1000));
    metric_set(&stats.process.threads, workers_count());
    metric_set(&stats.worker.worker_buf_bytes, (int64_t)workers_buf_bytes());
    metric_set(&stats.worker.worker_tls_bytes, (int64_t)workers_tls_bytes());
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        metric_set(&stats.process.rusage_user_us,
                ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec);
        metric_set(&stats.process.rusage_system_us,
                ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec);
    }
    metric_set(&stats.process.max_rss_bytes, peak_rss());
    metric_set(&stats.process.mm_alloc, (int64_t)mm_alloc_count());
    metric_set(&stats.process.mm_free, (int64_t)mm_free_count());
}

/* Runs print over a char window of b, doubling it until the text fits. */
typedef rstatus_i (*print_fn)(char *out, size_t cap, size_t *len,
        const struct metric *m, const char *prefix);

static rstatus_i
print_into(struct buf *b, size_t max, print_fn print, const struct metric *m,
        const char *prefix)
{
    for (;;) {
        size_t len = 0;
        rstatus_i st = print(b->wpos, buf_wsize(b), &len, m, prefix);
        if (st == STATUS_OK) {
            b->wpos += len;
            return STATUS_OK;
        }
        size_t want = buf_wsize(b) < 256 ? 256 : buf_wsize(b) * 2;
        if (buf_reserve(b, want, max) != STATUS_OK) {
            return STATUS_ENOMEM;
        }
    }
}

static rstatus_i
print_stat(struct buf *b, size_t max, const char *name, long long value)
{
    char line[160];
    int n = snprintf(line, sizeof(line), "STAT %s %lld\r\n", name, value);
    if (n < 0 || (size_t)n >= sizeof(line)) {
        return STATUS_EINVAL;
    }
    return buf_append(b, line, (size_t)n, max);
}

static rstatus_i
print_workers_text(struct buf *b, size_t max)
{
    for (unsigned i = 0; i < workers_count(); i++) {
        char name[64];
        struct worker *w = worker_get(i);
        snprintf(name, sizeof(name), "worker_%u_conn_curr", i);
        rstatus_i st = print_stat(b, max, name, (long long)worker_nconn(w));
        snprintf(name, sizeof(name), "worker_%u_event_total", i);
        if (st == STATUS_OK) {
            st = print_stat(b, max, name, (long long)worker_nevent(w));
        }
        if (st != STATUS_OK) {
            return st;
        }
    }
    return STATUS_OK;
}

/* `stats seg`: one line per non-empty TTL bucket and what it holds. */
static rstatus_i
print_ttl_buckets(struct buf *b, size_t max)
{
    struct seg_ttl_stat rows[64];
    size_t n = seg_ttl_stats(rows, ARRAY_SIZE(rows));
    for (size_t i = 0; i < n; i++) {
        char line[200];
        int len = snprintf(line, sizeof(line),
                "STAT ttl_bucket %llu segments %u items %lld bytes %lld\r\n",
                (unsigned long long)rows[i].ttl_ms, rows[i].n_segment,
                (long long)rows[i].live_items, (long long)rows[i].live_bytes);
        rstatus_i st = buf_append(b, line, (size_t)len, max);
        if (st != STATUS_OK) {
            return st;
        }
    }
    return STATUS_OK;
}

rstatus_i
stats_print_text(struct buf *b, size_t max, const struct bstring *arg)
{
    if (bstring_equal_cstr(arg, "seg")) {
        return print_ttl_buckets(b, max);
    }
    if (arg->len > 0) {
        return STATUS_EINVAL;
    }
    stats_refresh();
    struct metric *m = stats_metrics();
    for (size_t i = 0; i < STATS_NMETRIC; i++) {
        rstatus_i st = print_into(b, max, metric_print_stat, &m[i], "");
        if (st != STATUS_OK) {
            return st;
        }
    }
    rstatus_i st = print_workers_text(b, max);
    return st == STATUS_OK ? proc_resp_print_cmdstats(b, max) : st;
}

/* Metrics whose table name lacks the unit Prometheus names carry (the
 * table keeps memcached's stats names: uptime, time). */
static const char *
prometheus_family(const struct metric *m)
{
    const struct {
        const struct metric *m;
        const char *family;
    } named[] = {
            {&stats.process.uptime, "segcached_uptime_seconds"},
            {&stats.process.time, "segcached_time_seconds"},
            {&stats.hotkey.hotkey_memory, "segcached_hotkey_memory_bytes"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(named); i++) {
        if (named[i].m == m) {
            return named[i].family;
        }
    }
    return NULL;
}

rstatus_i
stats_print_prometheus(struct buf *b, size_t max)
{
    stats_refresh();
    struct metric *m = stats_metrics();
    for (size_t i = 0; i < STATS_NMETRIC; i++) {
        const char *family = prometheus_family(&m[i]);
        rstatus_i st = family != NULL
                               ? print_into(b, max, metric_print_prometheus_as,
                                         &m[i], family)
                               : print_into(b, max, metric_print_prometheus,
                                         &m[i], "segcached_");
        if (st != STATUS_OK) {
            return st;
        }
    }
    /* the version as labels of a constant 1, Prometheus's build_info
     * convention (dashboards join on it); the commit is git's at configure
     * time, "unknown" outside a checkout */
    const char *head =
            "# HELP segcached_build_info Version and commit of this build\n"
            "# TYPE segcached_build_info gauge\n"
            "segcached_build_info{version=\"" SEGCACHED_VERSION
            "\",commit=\"" SEGCACHED_COMMIT "\"} 1\n"
            "# HELP segcached_worker_conn_curr Connections held by each "
            "worker\n# TYPE segcached_worker_conn_curr gauge\n";
    rstatus_i st = buf_append(b, head, strlen(head), max);
    for (unsigned i = 0; st == STATUS_OK && i < workers_count(); i++) {
        char line[128];
        int n = snprintf(line, sizeof(line),
                "segcached_worker_conn_curr{worker=\"%u\"} %llu\n", i,
                (unsigned long long)worker_nconn(worker_get(i)));
        st = buf_append(b, line, (size_t)n, max);
    }
    if (st == STATUS_OK) {
        st = proc_resp_print_cmdstats_prometheus(b, max);
    }
    return st == STATUS_OK ? hotkey_print_prometheus(b, max) : st;
}

void
stats_reset(void)
{
    metric_reset(stats_metrics(), STATS_NMETRIC);
    proc_resp_reset_cmdstats();
    hotkey_reset();
}

void
stats_describe(FILE *out)
{
    static const char *types[] = {"counter", "gauge", "histogram"};
    struct metric *m = stats_metrics();
    for (size_t i = 0; i < STATS_NMETRIC; i++) {
        fprintf(out, "%-32s %-10s %s\n", m[i].name, types[m[i].type],
                m[i].desc);
    }
}

/* ---- memcached's `stats` ---- */

static rstatus_i mc_stat(struct buf *b, size_t max, const char *name,
        const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static rstatus_i
mc_stat(struct buf *b, size_t max, const char *name, const char *fmt, ...)
{
    char value[128];
    char line[192];
    va_list args;
    va_start(args, fmt);
    vsnprintf(value, sizeof(value), fmt, args);
    va_end(args);
    int n = snprintf(line, sizeof(line), "STAT %s %s\r\n", name, value);
    if (n < 0 || (size_t)n >= sizeof(line)) {
        return STATUS_EINVAL;
    }
    return buf_append(b, line, (size_t)n, max);
}

static uint64_t
cnt(const struct metric *m)
{
    return metric_counter(m);
}

/* Appends STAT lines, stopping at the first failure. */
struct mc_out {
    struct buf *b;
    size_t max;
    rstatus_i st;
};

static void mc_put(struct mc_out *o, const char *name, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void
mc_put(struct mc_out *o, const char *name, const char *fmt, ...)
{
    if (o->st != STATUS_OK) {
        return;
    }
    char value[128];
    va_list args;
    va_start(args, fmt);
    vsnprintf(value, sizeof(value), fmt, args);
    va_end(args);
    o->st = mc_stat(o->b, o->max, name, "%s", value);
}

static void
mc_u64(struct mc_out *o, const char *name, uint64_t v)
{
    mc_put(o, name, "%llu", (unsigned long long)v);
}

/* What memcached counts and segcached never does: printed 0 so tools and
 * exporters find every field (docs/protocol-memcache.md says which). */
static void
mc_zeros(struct mc_out *o, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        mc_u64(o, names[i], 0);
    }
}

#define MC_ZEROS(_o, ...)                                                      \
    do {                                                                       \
        static const char *const zs_[] = {__VA_ARGS__};                        \
        mc_zeros((_o), zs_, sizeof(zs_) / sizeof(zs_[0]));                     \
    } while (0)

static uint64_t
mc_cmd_set(const proc_memcache_metrics_st *m)
{
    return cnt(&m->memcache_set) + cnt(&m->memcache_add) +
           cnt(&m->memcache_replace) + cnt(&m->memcache_append) +
           cnt(&m->memcache_prepend) + cnt(&m->memcache_cas);
}

static uint64_t
gauge_u64(const struct metric *m)
{
    int64_t v = metric_gauge(m);
    return v > 0 ? (uint64_t)v : 0;
}

/* memcached's hash_power_level: log2 of the hash table's slots. */
static unsigned
hash_power(const struct seg_layout *lay)
{
    uint64_t slots = (uint64_t)lay->n_bucket * 8;
    unsigned p = 0;
    while (p < 63 && (1ull << (p + 1)) <= slots) {
        p++;
    }
    return p;
}

/* memcached 1.6.18's general stats, every field in its order (without
 * extstore or proxy in use), then segcached's own store counters. */
static rstatus_i
mc_general(struct buf *b, size_t max)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    const proc_memcache_metrics_st *m = &stats.memcache;
    const seg_metrics_st *sg = &stats.seg;
    const server_metrics_st *sv = &stats.server;
    const worker_metrics_st *wk = &stats.worker;
    struct seg_layout lay;
    seg_layout_get(&lay);
    stats_refresh();
    struct mc_out o = {b, max, STATUS_OK};
    mc_put(&o, "pid", "%d", (int)getpid());
    mc_put(&o, "uptime", "%lld",
            (long long)metric_gauge(&stats.process.uptime));
    mc_put(&o, "time", "%lld", (long long)(time_now_ms() / 1000));
    mc_put(&o, "version", "%s", "1.6.18-segcached-" SEGCACHED_VERSION);
    mc_put(&o, "libevent", "%s", "none"); /* epoll directly */
    mc_put(&o, "pointer_size", "%d", (int)(8 * sizeof(void *)));
    mc_put(&o, "rusage_user", "%ld.%06ld", (long)ru.ru_utime.tv_sec,
            (long)ru.ru_utime.tv_usec);
    mc_put(&o, "rusage_system", "%ld.%06ld", (long)ru.ru_stime.tv_sec,
            (long)ru.ru_stime.tv_usec);
    mc_u64(&o, "max_connections",
            option_uint(&setting.server.server_max_connections));
    mc_u64(&o, "curr_connections", gauge_u64(&sv->server_conn_curr));
    mc_u64(&o, "total_connections", cnt(&sv->server_conn_total));
    mc_u64(&o, "rejected_connections", cnt(&sv->server_conn_refused_max));
    /* connection objects made: those open now and those pooled again */
    mc_u64(&o, "connection_structures",
            gauge_u64(&sv->server_conn_curr) + cnt(&sv->server_conn_reclaim));
    MC_ZEROS(&o, "response_obj_oom", "response_obj_count", "response_obj_bytes",
            "read_buf_count");
    mc_u64(&o, "read_buf_bytes", gauge_u64(&wk->worker_buf_bytes));
    mc_u64(&o, "read_buf_bytes_free", 0);
    mc_u64(&o, "read_buf_oom", cnt(&wk->worker_buf_ex));
    mc_u64(&o, "reserved_fds", 0);
    mc_u64(&o, "cmd_get", cnt(&m->memcache_get_key));
    mc_u64(&o, "cmd_set", mc_cmd_set(m));
    mc_u64(&o, "cmd_flush", cnt(&m->memcache_flush));
    mc_u64(&o, "cmd_touch", cnt(&m->memcache_touch));
    mc_u64(&o, "cmd_meta", cnt(&m->memcache_meta));
    mc_u64(&o, "get_hits", cnt(&m->memcache_get_hit));
    mc_u64(&o, "get_misses", cnt(&m->memcache_get_miss));
    mc_u64(&o, "get_expired", cnt(&sg->seg_get_expired));
    mc_u64(&o, "get_flushed", cnt(&sg->seg_get_flushed));
    mc_u64(&o, "delete_misses", cnt(&m->memcache_delete_miss));
    mc_u64(&o, "delete_hits", cnt(&m->memcache_delete_hit));
    mc_u64(&o, "incr_misses", cnt(&m->memcache_incr_miss));
    mc_u64(&o, "incr_hits", cnt(&m->memcache_incr_hit));
    mc_u64(&o, "decr_misses", cnt(&m->memcache_decr_miss));
    mc_u64(&o, "decr_hits", cnt(&m->memcache_decr_hit));
    mc_u64(&o, "cas_misses", cnt(&m->memcache_cas_miss));
    mc_u64(&o, "cas_hits", cnt(&m->memcache_cas_hit));
    mc_u64(&o, "cas_badval", cnt(&m->memcache_cas_badval));
    mc_u64(&o, "touch_hits",
            cnt(&m->memcache_touch_hit) + cnt(&m->memcache_gat_hit));
    mc_u64(&o, "touch_misses",
            cnt(&m->memcache_touch_miss) + cnt(&m->memcache_gat_miss));
    mc_u64(&o, "store_too_large",
            cnt(&stats.memcache_parse.memcache_parse_oversize));
    mc_u64(&o, "store_no_memory", cnt(&sg->seg_write_ex));
    MC_ZEROS(&o, "auth_cmds", "auth_errors");
    mc_u64(&o, "bytes_read", cnt(&wk->worker_read_byte));
    mc_u64(&o, "bytes_written", cnt(&wk->worker_write_byte));
    mc_u64(&o, "limit_maxbytes", option_uint(&setting.seg.seg_memory));
    mc_u64(&o, "accepting_conns", 1);
    /* segcached refuses past max_connections; it never stops listening */
    MC_ZEROS(&o, "listen_disabled_num", "time_in_listen_disabled_us");
    mc_u64(&o, "threads", workers_count());
    mc_u64(&o, "conn_yields", 0);
    mc_u64(&o, "hash_power_level", hash_power(&lay));
    mc_u64(&o, "hash_bytes",
            ((uint64_t)lay.n_bucket + lay.n_overflow) * 64); /* buckets */
    mc_u64(&o, "hash_is_expanding", 0); /* sized once, at startup */
    MC_ZEROS(&o, "slab_reassign_rescues", "slab_reassign_chunk_rescues",
            "slab_reassign_evictions_nomem", "slab_reassign_inline_reclaim",
            "slab_reassign_busy_items", "slab_reassign_busy_deletes",
            "slab_reassign_running", "slabs_moved", "lru_crawler_running",
            "lru_crawler_starts", "lru_maintainer_juggles", "malloc_fails",
            "log_worker_dropped", "log_worker_written", "log_watcher_skipped",
            "log_watcher_sent", "log_watchers", "unexpected_napi_ids",
            "round_robin_fallback");
    mc_put(&o, "bytes", "%lld", (long long)metric_gauge(&sg->seg_item_bytes));
    mc_u64(&o, "curr_items", storage_count(0));
    mc_u64(&o, "total_items", cnt(&sg->seg_write));
    /* free segments: memory no class holds yet */
    mc_u64(&o, "slab_global_page_pool", gauge_u64(&sg->seg_seg_free));
    mc_u64(&o, "expired_unfetched", cnt(&sg->seg_expire_unfetched));
    MC_ZEROS(&o, "evicted_unfetched", "evicted_active");
    mc_u64(&o, "evictions", cnt(&sg->seg_evict_item));
    mc_u64(&o, "reclaimed", cnt(&sg->seg_expire_item));
    MC_ZEROS(&o, "crawler_reclaimed", "crawler_items_checked",
            "lrutail_reflocked", "moves_to_cold", "moves_to_warm",
            "moves_within_lru");
    mc_u64(&o, "direct_reclaims", cnt(&sg->seg_evict_inline));
    mc_u64(&o, "lru_bumps_dropped", 0);
    if (tls_enabled()) {
        /* memcached's TLS fields, under its names */
        const tls_metrics_st *t = &stats.tls;
        uint64_t at = tls_loaded_at();
        uint64_t now = time_now_ms() / 1000;
        mc_u64(&o, "ssl_handshake_errors", cnt(&t->tls_handshake_ex));
        mc_u64(&o, "ssl_new_sessions", cnt(&t->tls_session_new));
        mc_u64(&o, "time_since_server_cert_refresh",
                at > 0 && now > at ? now - at : 0);
    }
    return o.st;
}

/* The memcache listener's host and port ("inter", "tcpport"), or its
 * socket path ("domain_socket"). */
static void
mc_listener(char *host, size_t hcap, char *port, size_t pcap, char *path,
        size_t ucap)
{
    const char *spec = option_str(&setting.listen.memcache_listen);
    snprintf(host, hcap, "NULL");
    snprintf(port, pcap, "0");
    snprintf(path, ucap, "NULL");
    if (strncmp(spec, "unix:", 5) == 0) {
        snprintf(path, ucap, "%s", spec + 5);
        return;
    }
    const char *colon = strrchr(spec, ':');
    if (colon == NULL || strcmp(spec, "off") == 0) {
        return;
    }
    size_t n = (size_t)(colon - spec);
    if (n >= 2 && spec[0] == '[' && spec[n - 1] == ']') {
        spec++; /* [::1]:11211 */
        n -= 2;
    }
    snprintf(host, hcap, "%.*s", (int)n, spec);
    snprintf(port, pcap, "%s", colon + 1);
}

/* Seconds after start at which the last flush_all took effect (memcached's
 * `oldest`, on its own clock); 0 before any. */
static uint64_t
mc_oldest(void)
{
    uint64_t at = proc_memcache_flushed_ms();
    uint64_t started = time_now_ms() - (time_mono_ms() - start_ms);
    return at > started ? (at - started) / 1000 : 0;
}

/* memcached 1.6.18's `stats settings`, every field in its order, with
 * segcached's true value (or, for what it has none of, memcached's value
 * for that thing turned off), then segcached's own. */
static rstatus_i
mc_settings(struct buf *b, size_t max)
{
    struct mc_out o = {b, max, STATUS_OK};
    struct seg_layout lay;
    seg_layout_get(&lay);
    char host[128], port[16], path[128];
    mc_listener(host, sizeof(host), port, sizeof(port), path, sizeof(path));
    bool evicts = strcmp(option_str(&setting.seg.seg_evict), "none") != 0;
    unsigned threads = workers_count();
    mc_u64(&o, "maxbytes", option_uint(&setting.seg.seg_memory));
    mc_u64(&o, "maxconns", option_uint(&setting.server.server_max_connections));
    mc_put(&o, "tcpport", "%s", port);
    mc_u64(&o, "udpport", 0);
    mc_put(&o, "inter", "%s", host);
    mc_u64(&o, "verbosity", proc_memcache_verbosity());
    mc_u64(&o, "oldest", mc_oldest());
    mc_put(&o, "evictions", "%s", evicts ? "on" : "off");
    mc_put(&o, "domain_socket", "%s", path);
    mc_put(&o, "umask", "%s",
            option_str(&setting.server.server_unix_mode) +
                    (option_str(&setting.server.server_unix_mode)[0] == '0'
                                    ? 1
                                    : 0));
    mc_put(&o, "shutdown_command", "%s", "no");
    mc_put(&o, "growth_factor", "%s", "1.00"); /* one class: no growth */
    mc_u64(&o, "chunk_size", option_uint(&setting.seg.seg_item_size));
    mc_u64(&o, "num_threads", threads);
    mc_u64(&o, "num_threads_per_udp", threads);
    mc_put(&o, "stat_key_prefix", "%s", ":");
    mc_put(&o, "detail_enabled", "%s",
            proc_memcache_detail_enabled() ? "yes" : "no");
    mc_u64(&o, "reqs_per_event", 0); /* a read's requests all run at once */
    mc_put(&o, "cas_enabled", "%s", "yes");
    mc_u64(&o, "tcp_backlog", option_uint(&setting.server.server_backlog));
    mc_put(&o, "binding_protocol", "%s", "auto-negotiate");
    mc_put(&o, "auth_enabled_sasl", "%s", "no");
    mc_put(&o, "auth_enabled_ascii", "%s", "no");
    mc_u64(&o, "item_size_max",
            option_uint(&setting.memcache.memcache_item_size_max));
    mc_put(&o, "maxconns_fast", "%s", "yes");
    mc_u64(&o, "hashpower_init", option_uint(&setting.seg.seg_hash_power));
    mc_put(&o, "slab_reassign", "%s", "no");
    mc_u64(&o, "slab_automove", 0);
    mc_put(&o, "slab_automove_ratio", "%s", "0.00");
    mc_u64(&o, "slab_automove_window", 0);
    mc_u64(&o, "slab_chunk_max", lay.segment_size);
    mc_put(&o, "lru_crawler", "%s",
            option_bool(&setting.seg.seg_background) ? "yes" : "no");
    mc_u64(&o, "lru_crawler_sleep", 0);
    mc_u64(&o, "lru_crawler_tocrawl", 0);
    mc_u64(&o, "tail_repair_time", 0);
    mc_put(&o, "flush_enabled", "%s", "yes");
    mc_put(&o, "dump_enabled", "%s", "yes");
    mc_put(&o, "hash_algorithm", "%s", "segcached");
    mc_put(&o, "lru_maintainer_thread", "%s", "no");
    mc_put(&o, "lru_segmented", "%s", "no");
    mc_u64(&o, "hot_lru_pct", 0);
    mc_u64(&o, "warm_lru_pct", 0);
    mc_put(&o, "hot_max_factor", "%s", "0.00");
    mc_put(&o, "warm_max_factor", "%s", "0.00");
    mc_put(&o, "temp_lru", "%s", "no");
    mc_u64(&o, "temporary_ttl", 0);
    mc_u64(&o, "idle_timeout",
            option_uint(&setting.worker.worker_idle_timeout) / 1000);
    mc_u64(&o, "watcher_logbuf_size", 0);
    mc_u64(&o, "worker_logbuf_size", 0);
    mc_u64(&o, "read_buf_mem_limit",
            option_uint(&setting.worker.worker_buffer_memory) / MiB);
    mc_put(&o, "track_sizes", "%s", "no");
    mc_put(&o, "inline_ascii_response", "%s", "no");
    /* no extstore: its knobs as zeros, its switches off */
    MC_ZEROS(&o, "ext_item_size", "ext_item_age", "ext_low_ttl",
            "ext_recache_rate", "ext_wbuf_size", "ext_compact_under",
            "ext_drop_under", "ext_max_sleep");
    mc_put(&o, "ext_max_frag", "%s", "0.00");
    mc_put(&o, "slab_automove_freeratio", "%s", "0.000");
    mc_put(&o, "ext_drop_unread", "%s", "no");
    /* TLS as memcached prints it; with TLS off, what it prints then */
    bool tls_on = tls_enabled();
    char cert[1024], key[1024], ca[1024];
    tls_get_file(TLS_FILE_CERT, cert, sizeof(cert));
    tls_get_file(TLS_FILE_KEY, key, sizeof(key));
    tls_get_file(TLS_FILE_CA, ca, sizeof(ca));
    const char *ciphers = option_str(&setting.tls.tls_ciphers);
    mc_put(&o, "ssl_enabled", "%s", tls_on ? "yes" : "no");
    mc_put(&o, "ssl_chain_cert", "%s", tls_on ? cert : "(null)");
    mc_put(&o, "ssl_key", "%s", tls_on ? key : "(null)");
    mc_u64(&o, "ssl_verify_mode", tls_verify_mode(TLS_LISTENER_MEMCACHE));
    mc_u64(&o, "ssl_keyformat", 1); /* PEM */
    mc_put(&o, "ssl_ciphers", "%s",
            tls_on && ciphers[0] != '\0' ? ciphers : "NULL");
    mc_put(&o, "ssl_ca_cert", "%s", tls_on && ca[0] != '\0' ? ca : "NULL");
    mc_u64(&o, "ssl_wbuf_size", 0);
    mc_put(&o, "ssl_session_cache", "%s",
            tls_on && option_uint(&setting.tls.tls_session_cache) > 0 ? "yes"
                                                                      : "no");
    mc_put(&o, "ssl_kernel_tls", "%s",
            tls_on && option_bool(&setting.tls.tls_ktls) ? "yes" : "no");
    if (tls_on) {
        mc_put(&o, "ssl_min_version", "tlsv1.%u", tls_min_version());
    } else {
        mc_put(&o, "ssl_min_version", "%s", "tlsv1.2");
    }
    mc_put(&o, "num_napi_ids", "%s", "(null)");
    const char *pool = option_str(&setting.seg.seg_datapool);
    mc_put(&o, "memory_file", "%s", pool[0] != '\0' ? pool : "(null)");
    mc_put(&o, "eviction_policy", "%s", option_str(&setting.seg.seg_evict));
    return o.st;
}

/* The store as one slab class: a segment is a page, an item a chunk of the
 * average item size. */
struct mc_class {
    uint64_t items, pages, chunk, per_page, chunks;
};

static void
mc_class_of(struct mc_class *k)
{
    struct seg_layout lay;
    seg_layout_get(&lay);
    uint64_t items = gauge_u64(&stats.seg.seg_item_curr);
    uint64_t bytes = gauge_u64(&stats.seg.seg_item_bytes);
    k->items = items;
    /* segments holding items: open for writes or sealed in TTL chains */
    k->pages = gauge_u64(&stats.seg.seg_seg_open) +
               gauge_u64(&stats.seg.seg_seg_sealed);
    if (k->pages == 0 && items > 0) {
        k->pages = 1;
    }
    k->chunk = items > 0 ? (bytes + items - 1) / items
                         : option_uint(&setting.seg.seg_item_size);
    k->chunk = k->chunk == 0 ? 1 : k->chunk;
    k->per_page = lay.segment_size / k->chunk;
    k->chunks = k->pages * k->per_page;
    if (k->chunks < items) {
        k->chunks = items;
    }
}

/* memcached lists a class here only while it holds items: an empty cache
 * answers END alone. */
static rstatus_i
mc_items(struct buf *b, size_t max)
{
    struct mc_out o = {b, max, STATUS_OK};
    const seg_metrics_st *sg = &stats.seg;
    uint64_t items = storage_count(0);
    if (items == 0) {
        return STATUS_OK;
    }
    mc_u64(&o, "items:1:number", items);
    MC_ZEROS(&o, "items:1:number_hot", "items:1:number_warm",
            "items:1:number_cold", "items:1:age_hot", "items:1:age_warm",
            "items:1:age");
    mc_u64(&o, "items:1:mem_requested", gauge_u64(&sg->seg_item_bytes));
    mc_u64(&o, "items:1:evicted", cnt(&sg->seg_evict_item));
    MC_ZEROS(&o, "items:1:evicted_nonzero", "items:1:evicted_time");
    mc_u64(&o, "items:1:outofmemory", cnt(&sg->seg_write_ex));
    mc_u64(&o, "items:1:tailrepairs", 0);
    mc_u64(&o, "items:1:reclaimed", cnt(&sg->seg_expire_item));
    mc_u64(&o, "items:1:expired_unfetched", cnt(&sg->seg_expire_unfetched));
    MC_ZEROS(&o, "items:1:evicted_unfetched", "items:1:evicted_active",
            "items:1:crawler_reclaimed", "items:1:crawler_items_checked",
            "items:1:lrutail_reflocked", "items:1:moves_to_cold",
            "items:1:moves_to_warm", "items:1:moves_within_lru");
    mc_u64(&o, "items:1:direct_reclaims", cnt(&sg->seg_evict_inline));
    MC_ZEROS(&o, "items:1:hits_to_hot", "items:1:hits_to_warm",
            "items:1:hits_to_cold", "items:1:hits_to_temp");
    return o.st;
}

/* memcached lists a class here once it has pages (and keeps it after a
 * flush, as segments stay in use until reclaimed): before any, only the
 * totals, both 0. */
static rstatus_i
mc_slabs(struct buf *b, size_t max)
{
    struct mc_out o = {b, max, STATUS_OK};
    const proc_memcache_metrics_st *m = &stats.memcache;
    struct mc_class k;
    mc_class_of(&k);
    struct seg_layout lay;
    seg_layout_get(&lay);
    if (k.pages == 0) {
        mc_u64(&o, "active_slabs", 0);
        mc_u64(&o, "total_malloced", 0);
        return o.st;
    }
    mc_u64(&o, "1:chunk_size", k.chunk);
    mc_u64(&o, "1:chunks_per_page", k.per_page);
    mc_u64(&o, "1:total_pages", k.pages);
    mc_u64(&o, "1:total_chunks", k.chunks);
    mc_u64(&o, "1:used_chunks", k.items);
    mc_u64(&o, "1:free_chunks", k.chunks - k.items);
    mc_u64(&o, "1:free_chunks_end", 0);
    mc_u64(&o, "1:get_hits", cnt(&m->memcache_get_hit));
    mc_u64(&o, "1:cmd_set", mc_cmd_set(m));
    mc_u64(&o, "1:delete_hits", cnt(&m->memcache_delete_hit));
    mc_u64(&o, "1:incr_hits", cnt(&m->memcache_incr_hit));
    mc_u64(&o, "1:decr_hits", cnt(&m->memcache_decr_hit));
    mc_u64(&o, "1:cas_hits", cnt(&m->memcache_cas_hit));
    mc_u64(&o, "1:cas_badval", cnt(&m->memcache_cas_badval));
    mc_u64(&o, "1:touch_hits",
            cnt(&m->memcache_touch_hit) + cnt(&m->memcache_gat_hit));
    mc_u64(&o, "active_slabs", 1);
    mc_u64(&o, "total_malloced", k.pages * lay.segment_size);
    return o.st;
}

rstatus_i
stats_print_memcache(struct buf *b, size_t max, const struct bstring *group)
{
    if (group->len == 0) {
        rstatus_i st = mc_general(b, max);
        /* then segcached's own, under their own names */
        const struct metric *m = (const struct metric *)&stats.seg;
        size_t n = sizeof(stats.seg) / sizeof(struct metric);
        for (size_t i = 0; st == STATUS_OK && i < n; i++) {
            st = print_into(b, max, metric_print_stat, &m[i], "");
        }
        return st;
    }
    if (bstring_equal_cstr(group, "settings")) {
        return mc_settings(b, max);
    }
    if (bstring_equal_cstr(group, "items")) {
        return mc_items(b, max);
    }
    if (bstring_equal_cstr(group, "slabs")) {
        return mc_slabs(b, max);
    }
    if (bstring_equal_cstr(group, "sizes")) {
        return mc_stat(b, max, "sizes_status", "%s", "disabled");
    }
    if (bstring_equal_cstr(group, "hotkeys")) {
        return hotkey_print_stats(b, max);
    }
    if (bstring_equal_cstr(group, "conns")) {
        return STATUS_OK; /* connections belong to their workers: none */
    }
    if (bstring_equal_cstr(group, "extstore")) {
        return STATUS_OK; /* memcached without extstore: END alone */
    }
    return STATUS_EINVAL;
}

/* ---- Redis's INFO and CONFIG GET on the resp port ---- */

static rstatus_i info_lines(struct buf *b, size_t max, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* Appends printf text (INFO lines) to b. */
static rstatus_i
info_lines(struct buf *b, size_t max, const char *fmt, ...)
{
    char text[1024];
    va_list args;
    va_start(args, fmt);
    int n = vsnprintf(text, sizeof(text), fmt, args);
    va_end(args);
    if (n < 0 || (size_t)n >= sizeof(text)) {
        return STATUS_EINVAL;
    }
    return buf_append(b, text, (size_t)n, max);
}

/* Redis's bytesToHuman: "1.50M" */
static void
human(char *out, size_t cap, uint64_t n)
{
    static const char units[] = "BKMGTPE";
    double d = (double)n;
    size_t u = 0;
    while (d >= 1024 && u + 1 < sizeof(units) - 1) {
        d /= 1024;
        u++;
    }
    if (u == 0) {
        snprintf(out, cap, "%lluB", (unsigned long long)n);
    } else {
        snprintf(out, cap, "%.2f%c", d, units[u]);
    }
}

static uint64_t
resp_used_memory(void)
{
    uint64_t seg = option_uint(&setting.seg.seg_segment_size);
    uint64_t total = option_uint(&setting.seg.seg_memory);
    int64_t free_segs = metric_gauge(&stats.seg.seg_seg_free);
    uint64_t free_bytes = free_segs > 0 ? (uint64_t)free_segs * seg : 0;
    return free_bytes < total ? total - free_bytes : 0;
}

static uint64_t
resp_rss(void)
{
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f != NULL) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2) {
            rss = 0;
        }
        fclose(f);
    }
    return (uint64_t)rss * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* The Redis policy nearest to seg.evict (docs/protocol-resp.md): merge
 * keeps the most read items (LFU-like), fifo drops the oldest written
 * (LRU-like for a cache of written-once items), random and util drop items
 * regardless of use, cte the ones closest to expiry. */
static const char *
resp_policy(void)
{
    static const struct {
        const char *evict;
        const char *policy;
    } nearest[] = {
            {"none", "noeviction"},
            {"merge", "allkeys-lfu"},
            {"fifo", "allkeys-lru"},
            {"random", "allkeys-random"},
            {"util", "allkeys-random"},
            {"cte", "volatile-ttl"},
    };
    const char *evict = option_str(&setting.seg.seg_evict);
    for (size_t i = 0; i < ARRAY_SIZE(nearest); i++) {
        if (strcmp(evict, nearest[i].evict) == 0) {
            return nearest[i].policy;
        }
    }
    return "allkeys-lru";
}

static rstatus_i
resp_info_memory(struct buf *b, size_t max)
{
    char h1[32], h2[32], h3[32];
    uint64_t used = resp_used_memory();
    uint64_t rss = resp_rss();
    uint64_t maxmem = option_uint(&setting.seg.seg_memory);
    human(h1, sizeof(h1), used);
    human(h2, sizeof(h2), rss);
    human(h3, sizeof(h3), maxmem);
    stats_refresh();
    return info_lines(b, max,
            "used_memory:%llu\r\nused_memory_human:%s\r\n"
            "used_memory_rss:%llu\r\nused_memory_rss_human:%s\r\n"
            "used_memory_peak:%lld\r\nused_memory_dataset:%lld\r\n"
            "maxmemory:%llu\r\nmaxmemory_human:%s\r\n"
            "maxmemory_policy:%s\r\nmem_allocator:libc\r\n",
            (unsigned long long)used, h1, (unsigned long long)rss, h2,
            (long long)metric_gauge(&stats.process.max_rss_bytes),
            (long long)metric_gauge(&stats.seg.seg_item_bytes),
            (unsigned long long)maxmem, h3, resp_policy());
}

static rstatus_i
resp_info(struct buf *b, size_t max, resp_info_section_e sec)
{
    const server_metrics_st *sv = &stats.server;
    struct rusage ru;
    switch (sec) {
    case RESP_INFO_CLIENTS:
        return info_lines(b, max,
                "connected_clients:%lld\r\nmaxclients:%llu\r\n",
                (long long)metric_gauge(&sv->server_conn_curr),
                (unsigned long long)option_uint(
                        &setting.server.server_max_connections));
    case RESP_INFO_MEMORY:
        return resp_info_memory(b, max);
    case RESP_INFO_STATS:
        return info_lines(b, max,
                "total_connections_received:%llu\r\n"
                "rejected_connections:%llu\r\n"
                "total_net_input_bytes:%llu\r\n"
                "total_net_output_bytes:%llu\r\n"
                "expired_keys:%llu\r\nevicted_keys:%llu\r\n",
                (unsigned long long)cnt(&sv->server_conn_total),
                (unsigned long long)(cnt(&sv->server_conn_refused_max) +
                                     cnt(&sv->server_conn_refused_pool)),
                (unsigned long long)cnt(&stats.worker.worker_read_byte),
                (unsigned long long)cnt(&stats.worker.worker_write_byte),
                (unsigned long long)cnt(&stats.seg.seg_expire_item),
                (unsigned long long)cnt(&stats.seg.seg_evict_item));
    case RESP_INFO_CPU:
        if (getrusage(RUSAGE_SELF, &ru) != 0) {
            memset(&ru, 0, sizeof(ru));
        }
        return info_lines(b, max,
                "used_cpu_sys:%ld.%06ld\r\nused_cpu_user:%ld.%06ld\r\n"
                "used_cpu_sys_children:0.000000\r\n"
                "used_cpu_user_children:0.000000\r\n",
                (long)ru.ru_stime.tv_sec, (long)ru.ru_stime.tv_usec,
                (long)ru.ru_utime.tv_sec, (long)ru.ru_utime.tv_usec);
    case RESP_INFO_HOTKEYS:
        return hotkey_print_info(b, max);
    default:
        return STATUS_OK;
    }
}

static uint64_t
resp_maxmemory(void)
{
    return option_uint(&setting.seg.seg_memory);
}

/* The resp listener's host and port ("127.0.0.1", 6379). */
static void
resp_listen(char *host, size_t cap, uint64_t *port)
{
    const char *spec = option_str(&setting.listen.resp_listen);
    const char *colon = strrchr(spec, ':');
    *port = colon != NULL ? strtoull(colon + 1, NULL, 10) : 0;
    size_t n = colon != NULL ? (size_t)(colon - spec) : strlen(spec);
    if (n >= 2 && spec[0] == '[' && spec[n - 1] == ']') {
        spec++;
        n -= 2;
    }
    snprintf(host, cap, "%.*s", (int)n, spec);
}

/* Redis counts the timeout in seconds; worker.idle_timeout may hold a
 * part of one (1500ms), which CONFIG GET rounds up so it never shows 0
 * (off) for a timeout that is on. */
static uint64_t
resp_timeout_s(void)
{
    return (workers_idle_timeout() + 999) / 1000;
}

static void
resp_set_timeout_s(uint64_t seconds)
{
    workers_set_idle_timeout(seconds * 1000);
}

static uint64_t
resp_maxclients(void)
{
    return option_uint(&setting.server.server_max_connections);
}

/* Redis's tls-* CONFIG parameters from segcached's options. */
static void
resp_tls_get(const char *name, char *out, size_t cap)
{
    out[0] = '\0';
    if (strcmp(name, "tls-port") == 0) {
        const char *spec = option_str(&setting.listen.resp_tls_listen);
        const char *colon = strrchr(spec, ':');
        snprintf(out, cap, "%llu",
                colon != NULL ? strtoull(colon + 1, NULL, 10) : 0ULL);
    } else if (strcmp(name, "tls-cert-file") == 0) {
        tls_get_file(TLS_FILE_CERT, out, cap);
    } else if (strcmp(name, "tls-key-file") == 0) {
        tls_get_file(TLS_FILE_KEY, out, cap);
    } else if (strcmp(name, "tls-ca-cert-file") == 0) {
        tls_get_file(TLS_FILE_CA, out, cap);
    } else if (strcmp(name, "tls-auth-clients") == 0) {
        snprintf(out, cap, "%s", tls_auth_clients(TLS_LISTENER_RESP));
    } else if (strcmp(name, "tls-protocols") == 0) {
        tls_get_file(TLS_SET_PROTOCOLS, out, cap);
    } else if (strcmp(name, "tls-ciphers") == 0) {
        tls_get_file(TLS_SET_CIPHERS, out, cap);
    } else if (strcmp(name, "tls-ciphersuites") == 0) {
        tls_get_file(TLS_SET_CIPHERSUITES, out, cap);
    }
}

static rstatus_i
resp_tls_set(const char *const v[TLS_NSET], char *why, size_t cap)
{
    if (!tls_enabled()) {
        snprintf(why, cap, "TLS is not configured");
        return STATUS_EINVAL;
    }
    return tls_set_conf(v, why, cap);
}

/* CONFIG SET tls-auth-clients: protected mode holds at run time as at
 * startup (check_exposure in main.c): a resp TLS listener other machines
 * reach keeps requiring certificates unless clients need a password. */
static rstatus_i
resp_tls_set_auth(const char *value, bool apply, char *why, size_t cap)
{
    /* the value, TLS and the CA first, with Redis's error for a bad value */
    if (tls_set_listener_auth(TLS_LISTENER_RESP, value, false, why, cap) !=
            STATUS_OK) {
        return STATUS_EINVAL;
    }
    const char *pass = option_str(&setting.resp_proc.resp_requirepass);
    const char *spec = option_str(&setting.listen.resp_tls_listen);
    struct tcp_addr addr;
    char perr[128];
    if (strcmp(value, "yes") != 0 &&
            option_bool(&setting.server.server_protected_mode) &&
            (pass == NULL || pass[0] == '\0') && spec != NULL &&
            strcmp(spec, "off") != 0 && spec[0] != '\0' &&
            tcp_parse_addr(spec, &addr, perr, sizeof(perr)) == STATUS_OK &&
            !tcp_addr_is_local(&addr)) {
        snprintf(why, cap,
                "protected mode: the resp TLS listener is reachable from "
                "other machines and its clients would need no password");
        return STATUS_EINVAL;
    }
    return apply ? tls_set_listener_auth(
                           TLS_LISTENER_RESP, value, true, why, cap)
                 : STATUS_OK;
}

const struct resp_info_source stats_resp_source = {
        .info = resp_info,
        .maxmemory = resp_maxmemory,
        .maxmemory_policy = resp_policy,
        .listen = resp_listen,
        .timeout_s = resp_timeout_s,
        .set_timeout_s = resp_set_timeout_s,
        .maxclients = resp_maxclients,
        .reset = stats_reset,
        .tls_get = resp_tls_get,
        .tls_set = resp_tls_set,
        .tls_set_auth = resp_tls_set_auth,
};
