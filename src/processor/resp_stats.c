/* SPDX-License-Identifier: Apache-2.0 */
/* Per-command statistics (Redis's INFO commandstats, latencystats and
 * errorstats; the admin port's resp_cmd_* lines and /metrics), keyspace
 * hits and misses, and the registry of resp connections behind CLIENT LIST.
 *
 * Counting is per thread: each worker owns a block of counters that only it
 * writes (relaxed loads and stores, no read-modify-write on a shared cache
 * line); readers sum the blocks. A reset records the sums as a baseline
 * that later reads subtract. Latency histograms are shared (lock-free) and
 * fed 1 call in RESP_LAT_SAMPLE per thread.
 *
 * Locks: stats_lock guards the list of blocks and the baseline;
 * registry_lock the client registry. Neither is taken with the other. */
#include "processor/resp_internal.h"

#include "base/histogram.h"
#include "base/log.h"
#include "base/mm.h"
#include "base/tcp.h"
#include "base/time.h"
#include "base/util.h"
#include "core/worker.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define RESP_LAT_SAMPLE 8 /* 1 call in 8 is recorded in its histogram */

/* clang-format off */
#define ERRORSTAT_CODE(ACTION)                                                 \
    ACTION( ERR )  ACTION( EXECABORT )  ACTION( NOAUTH )  ACTION( WRONGPASS )  \
    ACTION( NOPROTO )  ACTION( OOM )
/* clang-format on */
#define ERRORSTAT_NAME(_c) #_c,
static const char *const error_codes[] = {ERRORSTAT_CODE(ERRORSTAT_NAME)};
#define NERROR_CODE (sizeof(error_codes) / sizeof(error_codes[0]))

struct cmdcount {
    uint64_t calls;
    uint64_t ns;
    uint64_t failed;
    uint64_t rejected;
};

/* One thread's counters (or, summed, everyone's). Aligned, and its size
 * a whole number of cache lines: a worker's counting writes only its own
 * lines. */
struct statblock {
    _Alignas(CACHE_LINE) struct statblock *next;
    struct cmdcount cmd[RESP_NCOMMAND_ALL];
    uint64_t errors[NERROR_CODE + 1]; /* the last: other codes */
    uint64_t hits;
    uint64_t misses;
};

_Static_assert(sizeof(struct statblock) % CACHE_LINE == 0,
        "a thread's stat block ends on a cache line boundary");

static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;
static struct statblock *blocks;  /* every thread's, under stats_lock */
static struct statblock shared;   /* threads without a block: atomic adds */
static struct statblock baseline; /* sums at the last reset */
static uint64_t generation;       /* bumped by setup: blocks of before die */
/* A command's latency histogram (58 KiB, zeroed) is made the first time a
 * sampled call of it is recorded: made for all ~280 commands at start-up
 * they were 16 MiB of every process's RSS, mostly for commands never
 * called. Published once with a compare-and-swap; readers load it. */
static struct histogram *lat[RESP_NCOMMAND_ALL];
static bool lat_on;

static struct histogram *
lat_of(size_t id)
{
    return __atomic_load_n(&lat[id], __ATOMIC_ACQUIRE);
}

/* The command's histogram, made on first use (once per command for the
 * life of the process); NULL when off or out of memory. */
static struct histogram *
lat_make(size_t id)
{
    struct histogram *h = lat_of(id);
    if (h != NULL || !__atomic_load_n(&lat_on, __ATOMIC_RELAXED)) {
        return h;
    }
    struct histogram *mine = histogram_create();
    if (mine == NULL) {
        return NULL;
    }
    if (__atomic_compare_exchange_n(&lat[id], &h, mine, false, __ATOMIC_ACQ_REL,
                __ATOMIC_ACQUIRE)) {
        return mine;
    }
    histogram_destroy(&mine);
    return h;
}

static _Thread_local struct statblock *mine;
static _Thread_local uint64_t mine_generation;
static _Thread_local uint32_t sample;

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct resp_client *registry; /* oldest first, as Redis lists */
static struct resp_client *registry_tail;
static uint64_t registry_count;
static char run_id[41];
static uint64_t start_ms;

rstatus_i
resp_buf_printf(struct buf *b, size_t max, const char *fmt, ...)
{
    char line[1024];
    va_list args;
    va_start(args, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, args);
    va_end(args);
    if (n < 0) {
        return STATUS_EINVAL;
    }
    if ((size_t)n >= sizeof(line)) {
        n = (int)sizeof(line) - 1; /* cut: only user text can be this long */
    }
    return buf_append(b, line, (size_t)n, max);
}

/* 40 hex characters, like Redis's run_id: random per process. */
static void
make_run_id(void)
{
    static const char hex[] = "0123456789abcdef";
    uint64_t seed =
            time_mono_ns() ^ (time_now_ms() << 20) ^ ((uint64_t)getpid() << 40);
    for (size_t i = 0; i < 40; i++) {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        run_id[i] = hex[seed & 0xf];
    }
    run_id[40] = '\0';
}

static void
blocks_free(void)
{
    pthread_mutex_lock(&stats_lock);
    while (blocks != NULL) {
        struct statblock *next = blocks->next;
        mm_release(blocks);
        blocks = next;
    }
    memset(&shared, 0, sizeof(shared));
    memset(&baseline, 0, sizeof(baseline));
    __atomic_fetch_add(&generation, 1, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&stats_lock);
}

rstatus_i
resp_stats_setup(bool with_histograms)
{
    blocks_free();
    make_run_id();
    start_ms = time_now_ms();
    __atomic_store_n(&lat_on, with_histograms, __ATOMIC_RELAXED);
    return STATUS_OK;
}

void
resp_stats_teardown(void)
{
    __atomic_store_n(&lat_on, false, __ATOMIC_RELAXED);
    for (size_t i = 0; i < RESP_NCOMMAND_ALL; i++) {
        histogram_destroy(&lat[i]);
    }
    blocks_free();
}

const char *
resp_run_id(void)
{
    return run_id;
}

uint64_t
resp_start_ms(void)
{
    return start_ms;
}

/* This thread's block, made on first use; NULL without memory (the
 * caller then adds atomically to the shared block). */
static struct statblock *
my_block(void)
{
    uint64_t gen = __atomic_load_n(&generation, __ATOMIC_RELAXED);
    if (mine != NULL && mine_generation == gen) {
        return mine;
    }
    mine = mm_aligned_alloc(CACHE_LINE, sizeof(*mine));
    if (mine == NULL) {
        return NULL;
    }
    memset(mine, 0, sizeof(*mine));
    mine_generation = gen;
    pthread_mutex_lock(&stats_lock);
    mine->next = blocks;
    blocks = mine;
    pthread_mutex_unlock(&stats_lock);
    return mine;
}

/* v += n where b is this thread's block (single writer) or the shared one. */
static void
bump(const struct statblock *b, uint64_t *v, uint64_t n)
{
    if (b == &shared) {
        __atomic_fetch_add(v, n, __ATOMIC_RELAXED);
    } else {
        __atomic_store_n(
                v, __atomic_load_n(v, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
    }
}

static struct statblock *
writable_block(void)
{
    struct statblock *b = my_block();
    return b != NULL ? b : &shared;
}

void
resp_cmdstat_record(resp_command_e id, uint64_t ns, bool failed)
{
    if (resp_proc_metrics == NULL) {
        return;
    }
    struct statblock *b = writable_block();
    struct cmdcount *c = &b->cmd[id];
    bump(b, &c->calls, 1);
    bump(b, &c->ns, ns);
    if (failed) {
        bump(b, &c->failed, 1);
    }
    if (++sample % RESP_LAT_SAMPLE == 0) {
        struct histogram *h = lat_make(id);
        if (h != NULL) {
            histogram_record(h, ns);
        }
    }
}

void
resp_cmdstat_reject(resp_command_e id)
{
    if (resp_proc_metrics != NULL) {
        struct statblock *b = writable_block();
        bump(b, &b->cmd[id].rejected, 1);
    }
}

void
resp_count_lookup(bool hit)
{
    if (resp_proc_metrics != NULL) {
        struct statblock *b = writable_block();
        bump(b, hit ? &b->hits : &b->misses, 1);
    }
}

void
resp_errorstat_count(const char *err, size_t len)
{
    if (resp_proc_metrics == NULL) {
        return;
    }
    size_t n = 0;
    while (n < len && err[n] != ' ' && err[n] != '\r') {
        n++;
    }
    size_t code = NERROR_CODE;
    for (size_t i = 0; i < NERROR_CODE; i++) {
        if (strlen(error_codes[i]) == n &&
                memcmp(error_codes[i], err, n) == 0) {
            code = i;
        }
    }
    struct statblock *b = writable_block();
    bump(b, &b->errors[code], 1);
}

/* Every counter of one block as a flat array (the block is all uint64_t
 * after its link). */
#define NWORD ((sizeof(struct statblock) - offsetof(struct statblock, cmd)) / 8)

static uint64_t *
words(struct statblock *b)
{
    return (uint64_t *)(void *)b->cmd;
}

/* out = every block + shared - baseline (what was counted since the last
 * reset). */
static void
totals(struct statblock *out)
{
    memset(out, 0, sizeof(*out));
    uint64_t *o = words(out);
    pthread_mutex_lock(&stats_lock);
    for (struct statblock *b = blocks; b != NULL; b = b->next) {
        const uint64_t *w = words(b);
        for (size_t i = 0; i < NWORD; i++) {
            o[i] += __atomic_load_n(&w[i], __ATOMIC_RELAXED);
        }
    }
    const uint64_t *sw = words(&shared);
    const uint64_t *bw = words(&baseline);
    for (size_t i = 0; i < NWORD; i++) {
        o[i] += __atomic_load_n(&sw[i], __ATOMIC_RELAXED) - bw[i];
    }
    pthread_mutex_unlock(&stats_lock);
}

void
resp_cmdstats_reset(void)
{
    struct statblock now;
    totals(&now);
    pthread_mutex_lock(&stats_lock);
    uint64_t *bw = words(&baseline);
    const uint64_t *nw = words(&now);
    for (size_t i = 0; i < NWORD; i++) {
        bw[i] += nw[i];
    }
    pthread_mutex_unlock(&stats_lock);
    for (size_t i = 0; i < RESP_NCOMMAND_ALL; i++) {
        struct histogram *h = lat_of(i);
        if (h != NULL) {
            histogram_reset(h);
        }
    }
}

void
proc_resp_reset_cmdstats(void)
{
    resp_cmdstats_reset();
}

void
resp_keyspace_counts(uint64_t *cmds, uint64_t *hits, uint64_t *misses)
{
    struct statblock t;
    totals(&t);
    *cmds = 0;
    for (size_t i = 0; i < RESP_NCOMMAND_ALL; i++) {
        *cmds += t.cmd[i].calls;
    }
    *hits = t.hits;
    *misses = t.misses;
}

/* ---- INFO sections ---- */

static const char *
fullname(size_t id)
{
    return resp_command_by_id((resp_command_e)id)->fullname;
}

rstatus_i
resp_info_cmdstats(struct buf *b, size_t max)
{
    struct statblock t;
    totals(&t);
    rstatus_i st = STATUS_OK;
    for (size_t i = 0; st == STATUS_OK && i < RESP_NCOMMAND_ALL; i++) {
        const struct cmdcount *c = &t.cmd[i];
        if (c->calls == 0 && c->rejected == 0) {
            continue;
        }
        uint64_t usec = c->ns / 1000;
        st = resp_buf_printf(b, max,
                "cmdstat_%s:calls=%" PRIu64 ",usec=%" PRIu64
                ",usec_per_call=%.2f,rejected_calls=%" PRIu64
                ",failed_calls=%" PRIu64 "\r\n",
                fullname(i), c->calls, usec,
                c->calls > 0 ? (double)usec / (double)c->calls : 0.0,
                c->rejected, c->failed);
    }
    return st;
}

static const double quantiles[] = {0.5, 0.99, 0.999};

rstatus_i
resp_info_latencystats(struct buf *b, size_t max)
{
    rstatus_i st = STATUS_OK;
    for (size_t i = 0; st == STATUS_OK && i < RESP_NCOMMAND_ALL; i++) {
        uint64_t q[3];
        struct histogram *h = lat_of(i);
        if (h == NULL || histogram_percentiles(h, quantiles, 3, q) == 0) {
            continue;
        }
        st = resp_buf_printf(b, max,
                "latency_percentiles_usec_%s:p50=%.3f,p99=%.3f,p99.9=%.3f\r\n",
                fullname(i), (double)q[0] / 1000, (double)q[1] / 1000,
                (double)q[2] / 1000);
    }
    return st;
}

rstatus_i
resp_info_errorstats(struct buf *b, size_t max)
{
    struct statblock t;
    totals(&t);
    rstatus_i st = STATUS_OK;
    for (size_t i = 0; st == STATUS_OK && i < NERROR_CODE; i++) {
        if (t.errors[i] > 0) {
            st = resp_buf_printf(b, max, "errorstat_%s:count=%" PRIu64 "\r\n",
                    error_codes[i], t.errors[i]);
        }
    }
    return st;
}

/* ---- the admin port ---- */

/* "client|setname" -> "client_setname" */
static void
metric_name(char *out, size_t cap, const char *name)
{
    size_t n = 0;
    for (; name[n] != '\0' && n + 1 < cap; n++) {
        char ch = name[n];
        out[n] = ch == '|' || ch == '-' ? '_' : ch;
    }
    out[n] = '\0';
}

rstatus_i
proc_resp_print_cmdstats(struct buf *b, size_t max)
{
    struct statblock t;
    totals(&t);
    uint64_t cmds = 0;
    for (size_t i = 0; i < RESP_NCOMMAND_ALL; i++) {
        cmds += t.cmd[i].calls;
    }
    rstatus_i st = resp_buf_printf(b, max,
            "STAT resp_cmd_calls %" PRIu64
            "\r\nSTAT resp_keyspace_hits %" PRIu64
            "\r\nSTAT resp_keyspace_misses %" PRIu64 "\r\n",
            cmds, t.hits, t.misses);
    for (size_t i = 0; st == STATUS_OK && i < RESP_NCOMMAND_ALL; i++) {
        const struct cmdcount *c = &t.cmd[i];
        if (c->calls == 0 && c->rejected == 0) {
            continue;
        }
        char name[64];
        uint64_t q[3] = {0, 0, 0};
        metric_name(name, sizeof(name), fullname(i));
        struct histogram *h = lat_of(i);
        if (h != NULL) {
            histogram_percentiles(h, quantiles, 3, q);
        }
        st = resp_buf_printf(b, max,
                "STAT resp_cmd_%s_calls %" PRIu64 "\r\n"
                "STAT resp_cmd_%s_usec %" PRIu64 "\r\n"
                "STAT resp_cmd_%s_failed_calls %" PRIu64 "\r\n"
                "STAT resp_cmd_%s_rejected_calls %" PRIu64 "\r\n"
                "STAT resp_cmd_%s_p50_ns %" PRIu64 "\r\n"
                "STAT resp_cmd_%s_p99_ns %" PRIu64 "\r\n"
                "STAT resp_cmd_%s_p999_ns %" PRIu64 "\r\n",
                name, c->calls, name, c->ns / 1000, name, c->failed, name,
                c->rejected, name, q[0], name, q[1], name, q[2]);
    }
    return st;
}

/* Per-command counters on /metrics, by Prometheus's conventions: one
 * family, a "cmd" label, samples ending "_total", time in seconds. */
static rstatus_i
prom_counter(struct buf *b, size_t max, const struct statblock *t,
        const char *metric, const char *help, size_t field)
{
    rstatus_i st = resp_buf_printf(b, max,
            "# HELP segcached_resp_cmd_%s_total %s\n"
            "# TYPE segcached_resp_cmd_%s_total counter\n",
            metric, help, metric);
    for (size_t i = 0; st == STATUS_OK && i < RESP_NCOMMAND_ALL; i++) {
        const struct cmdcount *c = &t->cmd[i];
        if (c->calls == 0 && c->rejected == 0) {
            continue;
        }
        uint64_t value = *(const uint64_t *)((const char *)c + field);
        if (field == offsetof(struct cmdcount, ns)) {
            st = resp_buf_printf(b, max,
                    "segcached_resp_cmd_%s_total{cmd=\"%s\"} %" PRIu64
                    ".%09" PRIu64 "\n",
                    metric, fullname(i), value / 1000000000,
                    value % 1000000000);
        } else {
            st = resp_buf_printf(b, max,
                    "segcached_resp_cmd_%s_total{cmd=\"%s\"} %" PRIu64 "\n",
                    metric, fullname(i), value);
        }
    }
    return st;
}

/* Nanoseconds as seconds, exactly. */
static rstatus_i
prom_seconds(struct buf *b, size_t max, const char *name, const char *labels,
        uint64_t ns)
{
    return resp_buf_printf(b, max,
            "segcached_resp_cmd_latency_seconds%s{%s} %" PRIu64 ".%09" PRIu64
            "\n",
            name, labels, ns / 1000000000, ns % 1000000000);
}

/* Per-command latency as a summary with the quantiles every histogram
 * of /metrics has (docs/operations.md), its _sum and _count. */
static rstatus_i
prom_latency(struct buf *b, size_t max)
{
    static const double qs[] = {0.5, 0.9, 0.99, 0.999, 0.9999};
    static const char *qnames[] = {"0.5", "0.9", "0.99", "0.999", "0.9999"};
    rstatus_i st = resp_buf_printf(b, max,
            "# HELP segcached_resp_cmd_latency_seconds Command latency "
            "(sampled)\n"
            "# TYPE segcached_resp_cmd_latency_seconds summary\n");
    for (size_t i = 0; st == STATUS_OK && i < RESP_NCOMMAND_ALL; i++) {
        uint64_t q[ARRAY_SIZE(qs)];
        uint64_t n;
        struct histogram *h = lat_of(i);
        if (h == NULL ||
                (n = histogram_percentiles(h, qs, ARRAY_SIZE(qs), q)) == 0) {
            continue;
        }
        char labels[96];
        for (size_t k = 0; st == STATUS_OK && k < ARRAY_SIZE(qs); k++) {
            snprintf(labels, sizeof(labels), "cmd=\"%s\",quantile=\"%s\"",
                    fullname(i), qnames[k]);
            st = prom_seconds(b, max, "", labels, q[k]);
        }
        snprintf(labels, sizeof(labels), "cmd=\"%s\"", fullname(i));
        if (st == STATUS_OK) {
            st = prom_seconds(b, max, "_sum", labels, histogram_sum(h));
        }
        if (st == STATUS_OK) {
            st = resp_buf_printf(b, max,
                    "segcached_resp_cmd_latency_seconds_count{%s} %" PRIu64
                    "\n",
                    labels, n);
        }
    }
    return st;
}

rstatus_i
proc_resp_print_cmdstats_prometheus(struct buf *b, size_t max)
{
    struct statblock t;
    totals(&t);
    rstatus_i st = prom_counter(b, max, &t, "calls", "Commands run",
            offsetof(struct cmdcount, calls));
    if (st == STATUS_OK) {
        st = prom_counter(b, max, &t, "seconds", "Time spent in commands",
                offsetof(struct cmdcount, ns));
    }
    if (st == STATUS_OK) {
        st = prom_counter(b, max, &t, "failed_calls",
                "Commands that replied an error",
                offsetof(struct cmdcount, failed));
    }
    if (st == STATUS_OK) {
        st = prom_counter(b, max, &t, "rejected_calls",
                "Commands refused before running",
                offsetof(struct cmdcount, rejected));
    }
    return st == STATUS_OK ? prom_latency(b, max) : st;
}

/* ---- the client registry ---- */

void
resp_client_register(struct resp_client *cl, const struct conn *c)
{
    cl->id = c->id;
    cl->fd = c->fd;
    snprintf(cl->addr, sizeof(cl->addr), "%s", c->peer);
    cl->laddr[0] = '\0';
    struct tcp_addr local;
    local.len = sizeof(local.ss);
    if (getsockname(c->fd, (struct sockaddr *)&local.ss, &local.len) == 0) {
        tcp_addr_str(&local, cl->laddr, sizeof(cl->laddr));
    }
    cl->created_ms = c->now_ms;
    cl->last_ms = c->now_ms;
    cl->db = 0;
    cl->proto = 2;
    cl->multi = -1;
    cl->last_cmd = RESP_NCOMMAND_ALL;
    cl->sub = cl->psub = cl->ssub = cl->monitor = 0;
    cl->worker = c->owner != NULL ? worker_id(c->owner) : 0;
    pthread_mutex_lock(&registry_lock);
    cl->next = NULL;
    cl->prev = registry_tail;
    if (registry_tail != NULL) {
        registry_tail->next = cl;
    } else {
        registry = cl;
    }
    registry_tail = cl;
    registry_count++;
    cl->registered = true;
    pthread_mutex_unlock(&registry_lock);
}

void
resp_client_unregister(struct resp_client *cl)
{
    pthread_mutex_lock(&registry_lock);
    if (cl->registered) {
        if (cl->prev != NULL) {
            cl->prev->next = cl->next;
        } else {
            registry = cl->next;
        }
        if (cl->next != NULL) {
            cl->next->prev = cl->prev;
        } else {
            registry_tail = cl->prev;
        }
        registry_count--;
        cl->registered = false;
    }
    mm_release(cl->name);
    mm_release(cl->lib_name);
    mm_release(cl->lib_ver);
    cl->name = cl->lib_name = cl->lib_ver = NULL;
    pthread_mutex_unlock(&registry_lock);
}

bool
resp_client_worker(uint64_t id, unsigned *worker)
{
    bool found = false;
    pthread_mutex_lock(&registry_lock);
    for (const struct resp_client *cl = registry; cl != NULL; cl = cl->next) {
        if (cl->id == id) {
            *worker = cl->worker;
            found = true;
            break;
        }
    }
    pthread_mutex_unlock(&registry_lock);
    return found;
}

uint64_t
resp_clients_count(void)
{
    pthread_mutex_lock(&registry_lock);
    uint64_t n = registry_count;
    pthread_mutex_unlock(&registry_lock);
    return n;
}

static void
set_str(char **dst, const char *s, size_t len)
{
    char *copy = s != NULL && len > 0 ? mm_strndup(s, len) : NULL;
    pthread_mutex_lock(&registry_lock);
    char *old = *dst;
    *dst = copy;
    pthread_mutex_unlock(&registry_lock);
    mm_release(old);
}

void
resp_client_set_name(struct resp_client *cl, const char *name, size_t len)
{
    set_str(&cl->name, name, len);
}

void
resp_client_set_lib(struct resp_client *cl, bool ver, const char *s, size_t len)
{
    set_str(ver ? &cl->lib_ver : &cl->lib_name, s, len);
}

/* One CLIENT LIST line, in Redis 7.2's format (7.0's plus lib-name and
 * lib-ver). Buffer sizes are not known across threads: reported as 0. */
static rstatus_i
client_line(struct buf *b, size_t max, const struct resp_client *cl,
        uint64_t now_ms)
{
    uint64_t last = __atomic_load_n(&cl->last_ms, __ATOMIC_RELAXED);
    uint32_t cmd = __atomic_load_n(&cl->last_cmd, __ATOMIC_RELAXED);
    int32_t multi = __atomic_load_n(&cl->multi, __ATOMIC_RELAXED);
    const struct resp_command *rc = resp_command_by_id((resp_command_e)cmd);
    uint32_t sub = __atomic_load_n(&cl->sub, __ATOMIC_RELAXED);
    uint32_t psub = __atomic_load_n(&cl->psub, __ATOMIC_RELAXED);
    uint32_t ssub = __atomic_load_n(&cl->ssub, __ATOMIC_RELAXED);
    /* Redis's order: O (monitor), P (pubsub), x (multi); N for none */
    char flags[8];
    size_t nf = 0;
    if (__atomic_load_n(&cl->monitor, __ATOMIC_RELAXED)) {
        flags[nf++] = 'O';
    }
    if (sub + psub + ssub > 0) {
        flags[nf++] = 'P';
    }
    if (multi >= 0) {
        flags[nf++] = 'x';
    }
    if (nf == 0) {
        flags[nf++] = 'N';
    }
    flags[nf] = '\0';
    return resp_buf_printf(b, max,
            "id=%" PRIu64 " addr=%s laddr=%s fd=%d name=%s age=%" PRIu64
            " idle=%" PRIu64 " flags=%s db=%u sub=%u psub=%u ssub=%u multi=%d "
            "qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 "
            "oll=0 omem=0 tot-mem=0 events=r cmd=%s user=default redir=-1 "
            "resp=%u lib-name=%s lib-ver=%s\n",
            cl->id, cl->addr, cl->laddr, cl->fd,
            cl->name != NULL ? cl->name : "",
            now_ms > cl->created_ms ? (now_ms - cl->created_ms) / 1000 : 0,
            now_ms > last ? (now_ms - last) / 1000 : 0, flags,
            __atomic_load_n(&cl->db, __ATOMIC_RELAXED), sub, psub, ssub, multi,
            rc != NULL ? rc->fullname : "NULL",
            __atomic_load_n(&cl->proto, __ATOMIC_RELAXED),
            cl->lib_name != NULL ? cl->lib_name : "",
            cl->lib_ver != NULL ? cl->lib_ver : "");
}

static bool
id_wanted(uint64_t id, const uint64_t *ids, size_t nid)
{
    if (ids == NULL) {
        return true;
    }
    for (size_t i = 0; i < nid; i++) {
        if (ids[i] == id) {
            return true;
        }
    }
    return false;
}

static bool
arg_equal(const struct resp_arg *a, const char *s)
{
    return a->len == strlen(s) && memcmp(a->data, s, a->len) == 0;
}

static bool
kill_wanted(const struct resp_kill_filter *f, const struct resp_client *cl,
        const struct resp_client *self)
{
    if (f->skipme && cl == self) {
        return false;
    }
    if (f->type == 2 || (f->id != 0 && cl->id != f->id)) {
        return false;
    }
    if (f->type >= 0 && (f->type == 1) != resp_client_is_pubsub(cl)) {
        return false;
    }
    return (f->addr == NULL || arg_equal(f->addr, cl->addr)) &&
           (f->laddr == NULL || arg_equal(f->laddr, cl->laddr));
}

long
resp_client_match(const struct resp_kill_filter *f,
        const struct resp_client *self, struct resp_kill_target **out)
{
    long n = 0;
    size_t cap = 0;
    *out = NULL;
    pthread_mutex_lock(&registry_lock);
    for (const struct resp_client *cl = registry; cl != NULL; cl = cl->next) {
        if (!kill_wanted(f, cl, self)) {
            continue;
        }
        if ((size_t)n == cap) {
            cap = cap == 0 ? 16 : cap * 2;
            void *p = mm_realloc(*out, cap * sizeof(**out));
            if (p == NULL) {
                n = -1;
                break;
            }
            *out = p;
        }
        (*out)[n].id = cl->id;
        (*out)[n].worker = cl->worker;
        n++;
    }
    pthread_mutex_unlock(&registry_lock);
    return n;
}

bool
resp_client_is_pubsub(const struct resp_client *cl)
{
    return __atomic_load_n(&cl->sub, __ATOMIC_RELAXED) +
                   __atomic_load_n(&cl->psub, __ATOMIC_RELAXED) +
                   __atomic_load_n(&cl->ssub, __ATOMIC_RELAXED) >
           0;
}

static bool
type_wanted(const struct resp_client *cl, int type)
{
    return type < 0 || (type == 1) == resp_client_is_pubsub(cl);
}

rstatus_i
resp_client_list(struct buf *b, size_t max, uint64_t now_ms,
        const uint64_t *ids, size_t nid, const struct resp_client *self,
        bool self_only, int type)
{
    rstatus_i st = STATUS_OK;
    pthread_mutex_lock(&registry_lock);
    if (self_only) {
        st = client_line(b, max, self, now_ms);
    } else {
        for (const struct resp_client *cl = registry;
                cl != NULL && st == STATUS_OK; cl = cl->next) {
            if (id_wanted(cl->id, ids, nid) && type_wanted(cl, type)) {
                st = client_line(b, max, cl, now_ms);
            }
        }
    }
    pthread_mutex_unlock(&registry_lock);
    return st;
}
