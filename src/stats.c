/* SPDX-License-Identifier: Apache-2.0 */
/* The binary's metric struct and its printing for the admin port. */
#include "stats.h"

#include "base/mm.h"
#include "base/time.h"

#include <stdio.h>
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
};

static uint64_t start_ms;

rstatus_i
stats_setup(void)
{
    start_ms = time_mono_ms();
    rstatus_i st = metric_init(stats_metrics(), STATS_NMETRIC);
    metric_set(&stats.process.pid, getpid());
    stats_refresh();
    return st;
}

void
stats_teardown(void)
{
    metric_deinit(stats_metrics(), STATS_NMETRIC);
}

void
stats_refresh(void)
{
    struct rusage ru;
    metric_set(
            &stats.process.uptime, (int64_t)(time_mono_ms() - start_ms) / 1000);
    metric_set(&stats.process.time, (int64_t)(time_now_ms() / 1000));
    metric_set(&stats.process.threads, workers_count());
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        metric_set(&stats.process.rusage_user_us,
                ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec);
        metric_set(&stats.process.rusage_system_us,
                ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec);
        metric_set(&stats.process.max_rss_bytes, ru.ru_maxrss * 1024);
    }
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

rstatus_i
stats_print_text(struct buf *b, size_t max, const struct bstring *arg)
{
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
    return print_workers_text(b, max);
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
    return st;
}

void
stats_reset(void)
{
    metric_reset(stats_metrics(), STATS_NMETRIC);
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
