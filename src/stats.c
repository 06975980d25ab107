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
        .admin = {ADMIN_METRIC(INIT_METRIC)},
        .tls = {TLS_METRIC(INIT_METRIC)},
        .seg = {SEG_METRIC(INIT_METRIC)},
        .memcache_parse = {MEMCACHE_PARSE_METRIC(INIT_METRIC)},
        .memcache = {PROC_MEMCACHE_METRIC(INIT_METRIC)},
        .resp_parse = {RESP_METRIC(INIT_METRIC)},
        .resp = {PROC_RESP_METRIC(INIT_METRIC)},
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

rstatus_i
stats_print_prometheus(struct buf *b, size_t max)
{
    stats_refresh();
    struct metric *m = stats_metrics();
    for (size_t i = 0; i < STATS_NMETRIC; i++) {
        rstatus_i st = print_into(
                b, max, metric_print_prometheus, &m[i], "segcached_");
        if (st != STATUS_OK) {
            return st;
        }
    }
    const char *head = "# HELP segcached_worker_conn_curr connections held "
                       "by each worker\n# TYPE segcached_worker_conn_curr "
                       "gauge\n";
    rstatus_i st = buf_append(b, head, strlen(head), max);
    for (unsigned i = 0; st == STATUS_OK && i < workers_count(); i++) {
        char line[128];
        int n = snprintf(line, sizeof(line),
                "segcached_worker_conn_curr{worker=\"%u\"} %llu\n", i,
                (unsigned long long)worker_nconn(worker_get(i)));
        st = buf_append(b, line, (size_t)n, max);
    }
    return st == STATUS_OK ? proc_resp_print_cmdstats_prometheus(b, max) : st;
}

void
stats_reset(void)
{
    metric_reset(stats_metrics(), STATS_NMETRIC);
    proc_resp_reset_cmdstats();
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

static rstatus_i
mc_general(struct buf *b, size_t max)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    const proc_memcache_metrics_st *m = &stats.memcache;
    const seg_metrics_st *sg = &stats.seg;
    const server_metrics_st *sv = &stats.server;
    const worker_metrics_st *wk = &stats.worker;
    stats_refresh();
    rstatus_i st = STATUS_OK;
#define MC(_name, _fmt, ...)                                                   \
    do {                                                                       \
        if (st == STATUS_OK) {                                                 \
            st = mc_stat(b, max, _name, _fmt, __VA_ARGS__);                    \
        }                                                                      \
    } while (0)
    MC("pid", "%d", (int)getpid());
    MC("uptime", "%lld", (long long)metric_gauge(&stats.process.uptime));
    MC("time", "%lld", (long long)(time_now_ms() / 1000));
    MC("version", "%s", "1.6.18-segcached-" SEGCACHED_VERSION);
    MC("pointer_size", "%d", (int)(8 * sizeof(void *)));
    MC("rusage_user", "%ld.%06ld", (long)ru.ru_utime.tv_sec,
            (long)ru.ru_utime.tv_usec);
    MC("rusage_system", "%ld.%06ld", (long)ru.ru_stime.tv_sec,
            (long)ru.ru_stime.tv_usec);
    MC("max_connections", "%llu",
            (unsigned long long)option_uint(
                    &setting.server.server_max_connections));
    MC("curr_connections", "%lld",
            (long long)metric_gauge(&sv->server_conn_curr));
    MC("total_connections", "%llu",
            (unsigned long long)cnt(&sv->server_conn_total));
    MC("rejected_connections", "%llu",
            (unsigned long long)cnt(&sv->server_conn_refused_max));
    MC("cmd_get", "%llu", (unsigned long long)cnt(&m->memcache_get_key));
    MC("cmd_set", "%llu",
            (unsigned long long)(cnt(&m->memcache_set) + cnt(&m->memcache_add) +
                                 cnt(&m->memcache_replace) +
                                 cnt(&m->memcache_append) +
                                 cnt(&m->memcache_prepend) +
                                 cnt(&m->memcache_cas)));
    MC("cmd_flush", "%llu", (unsigned long long)cnt(&m->memcache_flush));
    MC("cmd_touch", "%llu", (unsigned long long)cnt(&m->memcache_touch));
    MC("cmd_meta", "%llu", (unsigned long long)cnt(&m->memcache_meta));
    MC("get_hits", "%llu", (unsigned long long)cnt(&m->memcache_get_hit));
    MC("get_misses", "%llu", (unsigned long long)cnt(&m->memcache_get_miss));
    MC("delete_misses", "%llu",
            (unsigned long long)cnt(&m->memcache_delete_miss));
    MC("delete_hits", "%llu", (unsigned long long)cnt(&m->memcache_delete_hit));
    MC("incr_misses", "%llu", (unsigned long long)cnt(&m->memcache_incr_miss));
    MC("incr_hits", "%llu", (unsigned long long)cnt(&m->memcache_incr_hit));
    MC("decr_misses", "%llu", (unsigned long long)cnt(&m->memcache_decr_miss));
    MC("decr_hits", "%llu", (unsigned long long)cnt(&m->memcache_decr_hit));
    MC("cas_misses", "%llu", (unsigned long long)cnt(&m->memcache_cas_miss));
    MC("cas_hits", "%llu", (unsigned long long)cnt(&m->memcache_cas_hit));
    MC("cas_badval", "%llu", (unsigned long long)cnt(&m->memcache_cas_badval));
    MC("touch_hits", "%llu",
            (unsigned long long)(cnt(&m->memcache_touch_hit) +
                                 cnt(&m->memcache_gat_hit)));
    MC("touch_misses", "%llu",
            (unsigned long long)(cnt(&m->memcache_touch_miss) +
                                 cnt(&m->memcache_gat_miss)));
    MC("store_too_large", "%llu",
            (unsigned long long)cnt(
                    &stats.memcache_parse.memcache_parse_oversize));
    MC("store_no_memory", "%llu", (unsigned long long)cnt(&sg->seg_write_ex));
    MC("auth_cmds", "%d", 0);
    MC("auth_errors", "%d", 0);
    MC("bytes_read", "%llu", (unsigned long long)cnt(&wk->worker_read_byte));
    MC("bytes_written", "%llu",
            (unsigned long long)cnt(&wk->worker_write_byte));
    MC("limit_maxbytes", "%llu",
            (unsigned long long)option_uint(&setting.seg.seg_memory));
    MC("accepting_conns", "%d", 1);
    MC("threads", "%u", workers_count());
    MC("bytes", "%lld", (long long)metric_gauge(&sg->seg_item_bytes));
    MC("curr_items", "%llu", (unsigned long long)storage_count(0));
    MC("total_items", "%llu", (unsigned long long)cnt(&sg->seg_write));
    MC("evictions", "%llu", (unsigned long long)cnt(&sg->seg_evict_item));
    MC("reclaimed", "%llu", (unsigned long long)cnt(&sg->seg_expire_item));
    MC("expired_unfetched", "%llu",
            (unsigned long long)cnt(&sg->seg_expire_unfetched));
    if (tls_enabled()) {
        /* memcached's TLS fields, under its names */
        const tls_metrics_st *t = &stats.tls;
        uint64_t at = tls_loaded_at();
        uint64_t now = time_now_ms() / 1000;
        MC("time_since_server_cert_refresh", "%llu",
                (unsigned long long)(at > 0 && now > at ? now - at : 0));
        MC("ssl_handshake_errors", "%llu",
                (unsigned long long)cnt(&t->tls_handshake_ex));
        MC("ssl_new_sessions", "%llu",
                (unsigned long long)cnt(&t->tls_session_new));
    }
#undef MC
    return st;
}

/* memcached's ssl_* lines of `stats settings`, from the TLS options. */
static rstatus_i
mc_settings_tls(struct buf *b, size_t max)
{
    bool on = tls_enabled();
    char cert[1024], key[1024], ca[1024];
    tls_get_file(TLS_FILE_CERT, cert, sizeof(cert));
    tls_get_file(TLS_FILE_KEY, key, sizeof(key));
    tls_get_file(TLS_FILE_CA, ca, sizeof(ca));
    const char *ciphers = option_str(&setting.tls.tls_ciphers);
    rstatus_i st = mc_stat(b, max, "ssl_enabled", "%s", on ? "yes" : "no");
    if (st == STATUS_OK && on) {
        st = mc_stat(b, max, "ssl_chain_cert", "%s", cert);
    }
    if (st == STATUS_OK && on) {
        st = mc_stat(b, max, "ssl_key", "%s", key);
    }
    if (st == STATUS_OK && on) {
        st = mc_stat(b, max, "ssl_verify_mode", "%u", tls_verify_mode());
    }
    if (st == STATUS_OK && on) {
        st = mc_stat(b, max, "ssl_keyformat", "%d", 1); /* PEM */
    }
    if (st == STATUS_OK && on) {
        st = mc_stat(b, max, "ssl_ciphers", "%s",
                ciphers[0] != '\0' ? ciphers : "NULL");
    }
    if (st == STATUS_OK && on) {
        st = mc_stat(b, max, "ssl_ca_cert", "%s", ca[0] != '\0' ? ca : "NULL");
    }
    if (st == STATUS_OK && on) {
        st = mc_stat(b, max, "ssl_session_cache", "%s",
                option_uint(&setting.tls.tls_session_cache) > 0 ? "yes" : "no");
    }
    if (st == STATUS_OK && on) {
        st = mc_stat(b, max, "ssl_min_version", "tlsv1.%u", tls_min_version());
    }
    return st;
}

static rstatus_i
mc_settings(struct buf *b, size_t max)
{
    rstatus_i st = mc_stat(b, max, "maxbytes", "%llu",
            (unsigned long long)option_uint(&setting.seg.seg_memory));
    if (st == STATUS_OK) {
        st = mc_stat(b, max, "maxconns", "%llu",
                (unsigned long long)option_uint(
                        &setting.server.server_max_connections));
    }
    if (st == STATUS_OK) {
        st = mc_stat(b, max, "num_threads", "%u", workers_count());
    }
    if (st == STATUS_OK) {
        st = mc_stat(b, max, "item_size_max", "%llu",
                (unsigned long long)option_uint(
                        &setting.memcache.memcache_item_size_max));
    }
    if (st == STATUS_OK) {
        st = mc_stat(b, max, "evictions", "%s",
                strcmp(option_str(&setting.seg.seg_evict), "none") == 0 ? "off"
                                                                        : "on");
    }
    if (st == STATUS_OK) {
        st = mc_stat(b, max, "cas_enabled", "%s", "yes");
    }
    if (st == STATUS_OK) {
        st = mc_stat(b, max, "eviction_policy", "%s",
                option_str(&setting.seg.seg_evict));
    }
    if (st == STATUS_OK) {
        st = mc_settings_tls(b, max);
    }
    return st;
}

/* One "class" holds every item: segcached has no slab classes. */
static rstatus_i
mc_items(struct buf *b, size_t max)
{
    rstatus_i st = mc_stat(b, max, "items:1:number", "%llu",
            (unsigned long long)storage_count(0));
    if (st == STATUS_OK) {
        st = mc_stat(b, max, "items:1:evicted", "%llu",
                (unsigned long long)cnt(&stats.seg.seg_evict_item));
    }
    if (st == STATUS_OK) {
        st = mc_stat(b, max, "items:1:reclaimed", "%llu",
                (unsigned long long)cnt(&stats.seg.seg_expire_item));
    }
    return st;
}

static rstatus_i
mc_slabs(struct buf *b, size_t max)
{
    rstatus_i st = mc_stat(b, max, "active_slabs", "%d", 0);
    if (st == STATUS_OK) {
        st = mc_stat(b, max, "total_malloced", "%llu",
                (unsigned long long)option_uint(&setting.seg.seg_memory));
    }
    return st;
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
    if (bstring_equal_cstr(group, "conns")) {
        return STATUS_OK; /* connections belong to their workers: none */
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

static const char *
resp_policy(void)
{
    return strcmp(option_str(&setting.seg.seg_evict), "none") == 0
                   ? "noeviction"
                   : "allkeys-lru";
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

static uint64_t
resp_timeout_s(void)
{
    return option_uint(&setting.worker.worker_idle_timeout) / 1000;
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
        snprintf(out, cap, "%s", option_str(&setting.tls.tls_auth_clients));
    } else if (strcmp(name, "tls-protocols") == 0) {
        snprintf(out, cap, "%s", option_str(&setting.tls.tls_protocols));
    } else if (strcmp(name, "tls-ciphers") == 0) {
        snprintf(out, cap, "%s", option_str(&setting.tls.tls_ciphers));
    } else if (strcmp(name, "tls-ciphersuites") == 0) {
        snprintf(out, cap, "%s", option_str(&setting.tls.tls_ciphersuites));
    }
}

static rstatus_i
resp_tls_set(const char *cert, const char *key, const char *ca, char *why,
        size_t cap)
{
    if (!tls_enabled()) {
        snprintf(why, cap, "TLS is not configured");
        return STATUS_EINVAL;
    }
    return tls_set_files(cert, key, ca, why, cap);
}

const struct resp_info_source stats_resp_source = {
        .info = resp_info,
        .maxmemory = resp_maxmemory,
        .maxmemory_policy = resp_policy,
        .listen = resp_listen,
        .timeout_s = resp_timeout_s,
        .maxclients = resp_maxclients,
        .reset = stats_reset,
        .tls_get = resp_tls_get,
        .tls_set = resp_tls_set,
};
