/* SPDX-License-Identifier: Apache-2.0 */
/* What operators read of the hot keys (hotkey.h): the admin port's
 * `hotkeys [N]`, memcache `stats hotkeys`, Redis INFO hotkeys and the
 * /metrics gauges, all from the published reports. A key is shown escaped
 * (hotkey_escape: no space, comma, quote or backslash can appear), so one
 * row fits one line of any of these formats. */
#include "hotkey/hotkey.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const window_name[HOTKEY_WINDOWS] = {"10s", "60s"};

static rstatus_i printf_buf(struct buf *b, size_t max, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static rstatus_i
printf_buf(struct buf *b, size_t max, const char *fmt, ...)
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

/* "key=K<sep>rate=R<sep>..." of a row: every field a name=value pair. */
static void
fields(char *out, size_t cap, const struct hotkey_row *r, bool miss, char sep)
{
    if (miss) {
        snprintf(out, cap,
                "key=%s%cmisses=%.0f%cshare=%.2f%%%cerr=%.0f%cproto=%s%cdb=%u",
                r->key, sep, r->rate, sep, r->share * 100, sep, r->err, sep,
                hotkey_proto_name(r->proto), sep, r->db);
        return;
    }
    snprintf(out, cap,
            "key=%s%crate=%.0f%cshare=%.2f%%%cerr=%.0f%creads=%.0f%c"
            "writes=%.0f%cmisses=%.0f%cproto=%s%cdb=%u",
            r->key, sep, r->rate, sep, r->share * 100, sep, r->err, sep,
            r->reads, sep, r->writes, sep, r->misses, sep,
            hotkey_proto_name(r->proto), sep, r->db);
}

/* The rows of one list, each as prefix<rank><mid>fields<end>. */
static rstatus_i
print_rows(struct buf *b, size_t max, unsigned w, bool miss, size_t n,
        const char *prefix, const char *mid, char sep, const char *end)
{
    struct hotkey_row *rows = malloc(n * sizeof(*rows));
    if (rows == NULL) {
        return STATUS_ENOMEM;
    }
    size_t got = hotkey_report(w, miss, rows, n, NULL, NULL);
    rstatus_i st = STATUS_OK;
    char line[512];
    for (size_t i = 0; st == STATUS_OK && i < got; i++) {
        fields(line, sizeof(line), &rows[i], miss, sep);
        st = printf_buf(b, max, "%s%zu%s%s%s", prefix, i + 1, mid, line, end);
    }
    free(rows);
    return st;
}

static rstatus_i
parse_count(const struct bstring *arg, size_t *n)
{
    *n = 10;
    if (arg == NULL || arg->len == 0) {
        return STATUS_OK;
    }
    size_t v = 0;
    for (size_t i = 0; i < arg->len; i++) {
        char c = arg->data[i];
        if (c < '0' || c > '9' || v > HOTKEY_TOP_MAX) {
            return STATUS_EINVAL;
        }
        v = v * 10 + (size_t)(c - '0');
    }
    if (v == 0 || v > HOTKEY_TOP_MAX) {
        return STATUS_EINVAL;
    }
    *n = v;
    return STATUS_OK;
}

rstatus_i
hotkey_print_admin(struct buf *b, size_t max, const struct bstring *arg)
{
    uint64_t rate, export_n;
    double threshold;
    size_t n;
    if (parse_count(arg, &n) != STATUS_OK) {
        return STATUS_EINVAL;
    }
    hotkey_settings(&rate, &threshold, &export_n);
    if (rate == 0) {
        return printf_buf(b, max, "HOTKEYS off (hotkey.sample_rate 0)\r\n");
    }
    rstatus_i st = STATUS_OK;
    for (unsigned w = 0; st == STATUS_OK && w < HOTKEY_WINDOWS; w++) {
        double seconds, total;
        hotkey_report(w, false, NULL, 0, &seconds, &total);
        st = printf_buf(b, max,
                "HOTKEYS window=%s seconds=%.1f sample_rate=%" PRIu64
                " requests_per_sec=%.0f threshold=%.2f%%\r\n",
                window_name[w], seconds, rate, total, threshold * 100);
        if (st == STATUS_OK) {
            st = print_rows(b, max, w, false, n, "HOT ", " ", ' ', "\r\n");
        }
        if (st == STATUS_OK) {
            size_t nm = n < HOTKEY_MISS_MAX ? n : HOTKEY_MISS_MAX;
            st = print_rows(b, max, w, true, nm, "HOTMISS ", " ", ' ', "\r\n");
        }
    }
    return st;
}

/* The lines of memcache stats and INFO: pre<name><sep>value<end>. */
static rstatus_i
print_lines(struct buf *b, size_t max, const char *pre, const char *sep)
{
    uint64_t rate, export_n;
    double threshold;
    hotkey_settings(&rate, &threshold, &export_n);
    rstatus_i st = printf_buf(b, max,
            "%shotkey_sample_rate%s%" PRIu64 "\r\n%shotkey_threshold%s%g\r\n",
            pre, sep, rate, pre, sep, threshold);
    for (unsigned w = 0; rate > 0 && st == STATUS_OK && w < HOTKEY_WINDOWS;
            w++) {
        double seconds, total;
        char p[64];
        hotkey_report(w, false, NULL, 0, &seconds, &total);
        st = printf_buf(b, max,
                "%shotkey_%s_seconds%s%.1f\r\n"
                "%shotkey_%s_requests_per_sec%s%.0f\r\n",
                pre, window_name[w], sep, seconds, pre, window_name[w], sep,
                total);
        snprintf(p, sizeof(p), "%shotkey_%s_", pre, window_name[w]);
        if (st == STATUS_OK) {
            st = print_rows(b, max, w, false, 10, p, sep, ',', "\r\n");
        }
        snprintf(p, sizeof(p), "%shotmiss_%s_", pre, window_name[w]);
        if (st == STATUS_OK) {
            st = print_rows(b, max, w, true, 10, p, sep, ',', "\r\n");
        }
    }
    return st;
}

rstatus_i
hotkey_print_stats(struct buf *b, size_t max)
{
    return print_lines(b, max, "STAT ", " ");
}

rstatus_i
hotkey_print_info(struct buf *b, size_t max)
{
    return print_lines(b, max, "", ":");
}

/* One gauge: its head, then a series per row of the 10 s window. */
static rstatus_i
print_gauge(struct buf *b, size_t max, const char *name, const char *help,
        bool miss, bool share, size_t n)
{
    rstatus_i st = printf_buf(b, max,
            "# HELP segcached_%s %s\n# TYPE segcached_%s gauge\n", name, help,
            name);
    if (st != STATUS_OK || n == 0) {
        return st;
    }
    struct hotkey_row *rows = malloc(n * sizeof(*rows));
    if (rows == NULL) {
        return STATUS_ENOMEM;
    }
    size_t got = hotkey_report(0, miss, rows, n, NULL, NULL);
    for (size_t i = 0; st == STATUS_OK && i < got; i++) {
        const struct hotkey_row *r = &rows[i];
        st = printf_buf(b, max,
                "segcached_%s{rank=\"%zu\",key=\"%s\",db=\"%u\","
                "proto=\"%s\"} %.6g\n",
                name, i + 1, r->key, r->db, hotkey_proto_name(r->proto),
                share ? r->share : r->rate);
    }
    free(rows);
    return st;
}

rstatus_i
hotkey_print_prometheus(struct buf *b, size_t max)
{
    uint64_t rate, export_n;
    double threshold;
    hotkey_settings(&rate, &threshold, &export_n);
    if (rate == 0) {
        return STATUS_OK;
    }
    size_t nm = export_n < HOTKEY_MISS_MAX ? export_n : HOTKEY_MISS_MAX;
    rstatus_i st = print_gauge(b, max, "hotkey_top_rate",
            "Estimated accesses per second of the hottest keys (10 s window, "
            "top hotkey.export)",
            false, false, export_n);
    if (st == STATUS_OK) {
        st = print_gauge(b, max, "hotkey_top_share",
                "Share of all keyed accesses of the hottest keys (10 s window)",
                false, true, export_n);
    }
    if (st == STATUS_OK) {
        st = print_gauge(b, max, "hotkey_top_miss_rate",
                "Estimated misses per second of the keys missed most (10 s "
                "window)",
                true, false, nm);
    }
    return st;
}
