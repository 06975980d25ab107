/* SPDX-License-Identifier: Apache-2.0 */
/* Leveled logging: one write(2) per line, reopen for log rotation. */
#include "base/log.h"

#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int log_level = LOG_INFO;
static int log_fd_cur = STDERR_FILENO;
static char *log_path;
static pthread_mutex_t log_mtx = PTHREAD_MUTEX_INITIALIZER;

static const char *level_names[] = {
        "", "crit", "error", "warn", "info", "debug", "verb"};

static int
open_log_file(const char *path)
{
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
}

rstatus_i
log_setup(log_level_e level, const char *path)
{
    log_set_level(level);
    if (path == NULL || path[0] == '\0' || strcmp(path, "stderr") == 0) {
        return STATUS_OK;
    }
    int fd = open_log_file(path);
    if (fd < 0) {
        log_error("cannot open log file %s: %s", path, strerror(errno));
        return STATUS_ERROR;
    }
    pthread_mutex_lock(&log_mtx);
    free(log_path);
    log_path = strdup(path);
    __atomic_store_n(&log_fd_cur, fd, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&log_mtx);
    return STATUS_OK;
}

void
log_teardown(void)
{
    pthread_mutex_lock(&log_mtx);
    int fd = __atomic_exchange_n(&log_fd_cur, STDERR_FILENO, __ATOMIC_ACQ_REL);
    if (fd != STDERR_FILENO) {
        close(fd);
    }
    free(log_path);
    log_path = NULL;
    pthread_mutex_unlock(&log_mtx);
}

rstatus_i
log_reopen(void)
{
    rstatus_i status = STATUS_OK;
    pthread_mutex_lock(&log_mtx);
    if (log_path != NULL) {
        int fd = open_log_file(log_path);
        if (fd < 0) {
            status = STATUS_ERROR;
        } else {
            /* dup2 swaps the file under the same descriptor atomically, so
             * a concurrent writer never sees a closed fd */
            int cur = __atomic_load_n(&log_fd_cur, __ATOMIC_ACQUIRE);
            dup2(fd, cur);
            close(fd);
        }
    }
    pthread_mutex_unlock(&log_mtx);
    if (status != STATUS_OK) {
        log_error("cannot reopen log file: %s", strerror(errno));
    }
    return status;
}

void
log_set_level(log_level_e level)
{
    __atomic_store_n(&log_level, (int)level, __ATOMIC_RELAXED);
}

int
log_fd(void)
{
    return __atomic_load_n(&log_fd_cur, __ATOMIC_ACQUIRE);
}

log_level_e
log_get_level(void)
{
    return (log_level_e)__atomic_load_n(&log_level, __ATOMIC_RELAXED);
}

int
log_loggable(log_level_e level)
{
    return (int)level <= __atomic_load_n(&log_level, __ATOMIC_RELAXED);
}

rstatus_i
log_level_parse(const char *s, log_level_e *level)
{
    for (int i = LOG_CRIT; i <= LOG_VERB; i++) {
        char digit[2] = {(char)('0' + i), '\0'};
        if (strcmp(s, level_names[i]) == 0 || strcmp(s, digit) == 0) {
            *level = (log_level_e)i;
            return STATUS_OK;
        }
    }
    return STATUS_EINVAL;
}

const char *
log_level_str(log_level_e level)
{
    if (level < LOG_CRIT || level > LOG_VERB) {
        return "?";
    }
    return level_names[level];
}

/* Rate limit: the same call site (format string) logs at most
 * LOG_REPEAT_MAX lines a second; the rest are counted and summed up in one
 * line when that site next logs in a later second. Logging is off the hot
 * path by design, so one mutex is fine here. */
static pthread_mutex_t rl_mtx = PTHREAD_MUTEX_INITIALIZER;
static const char *rl_fmt;
static time_t rl_sec;
static unsigned rl_count;
static unsigned rl_dropped;

/* Returns how many earlier lines of this site were dropped (to report),
 * or -1 when this line must be dropped. */
static long
rate_limit(const char *fmt, time_t sec)
{
    long report = 0;
    pthread_mutex_lock(&rl_mtx);
    if (fmt == rl_fmt && sec == rl_sec) {
        if (++rl_count > LOG_REPEAT_MAX) {
            rl_dropped++;
            report = -1;
        }
    } else {
        if (fmt == rl_fmt) {
            report = rl_dropped;
        }
        rl_fmt = fmt;
        rl_sec = sec;
        rl_count = 1;
        rl_dropped = 0;
    }
    pthread_mutex_unlock(&rl_mtx);
    return report;
}

void
log_write(log_level_e level, const char *file, int line, const char *fmt, ...)
{
    char buf[LOG_LINE_MAX];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    long dropped = rate_limit(fmt, ts.tv_sec);
    if (dropped < 0) {
        return;
    }
    gmtime_r(&ts.tv_sec, &tm);
    const char *base = strrchr(file, '/');
    base = base == NULL ? file : base + 1;
    int n = snprintf(buf, sizeof(buf),
            "[%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ] %s %s:%d ",
            tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
            tm.tm_sec, ts.tv_nsec / 1000000, log_level_str(level), base, line);
    if (n < 0) {
        return;
    }
    size_t len = size_min((size_t)n, sizeof(buf) - 2);
    va_list args;
    va_start(args, fmt);
    n = vsnprintf(buf + len, sizeof(buf) - len - 1, fmt, args);
    va_end(args);
    if (n > 0) {
        len = size_min(len + (size_t)n, sizeof(buf) - 2);
    }
    if (dropped > 0) {
        n = snprintf(buf + len, sizeof(buf) - len - 1,
                " (and %ld more like it in the last second, not shown)",
                dropped);
        if (n > 0) {
            len = size_min(len + (size_t)n, sizeof(buf) - 2);
        }
    }
    buf[len++] = '\n';
    int fd = __atomic_load_n(&log_fd_cur, __ATOMIC_ACQUIRE);
    ssize_t w = write(fd, buf, len);
    (void)w; /* nowhere to report a failed log write */
}

char *
log_escape(char *dst, size_t cap, const void *data, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = data;
    size_t j = 0;
    if (cap == 0) {
        return dst;
    }
    for (size_t i = 0; i < n && j + 5 < cap; i++) {
        if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\') {
            dst[j++] = (char)p[i];
        } else {
            dst[j++] = '\\';
            dst[j++] = 'x';
            dst[j++] = hex[p[i] >> 4];
            dst[j++] = hex[p[i] & 0xf];
        }
    }
    dst[j] = '\0';
    return dst;
}

void
assert_fail(const char *cond, const char *file, int line)
{
    log_write(LOG_CRIT, file, line, "assertion failed: %s", cond);
    abort();
}
