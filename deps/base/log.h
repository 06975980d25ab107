/* SPDX-License-Identifier: Apache-2.0 */
/* Leveled logging to stderr or a file. A line is formatted on the stack and
 * written with one write(2), so lines from threads never interleave. A
 * disabled level costs one relaxed load and a branch. */
#pragma once

#include "base/status.h"

#include <stdarg.h>
#include <stddef.h>

typedef enum {
    LOG_CRIT = 1, /* cannot continue */
    LOG_ERROR,    /* our fault, wider than one request */
    LOG_WARN,     /* our fault, one request or connection */
    LOG_INFO,     /* lifecycle */
    LOG_DEBUG,    /* client mistakes, odd-but-handled paths */
    LOG_VERB,     /* per-object and per-event tracing */
} log_level_e;

#define LOG_LINE_MAX   1024 /* longer lines are truncated */
#define LOG_REPEAT_MAX 10   /* lines a second from one call site */

/* Any thread. path NULL or "" or "stderr" logs to stderr. On failure to open
 * the file, logs to stderr and returns STATUS_ERROR. */
rstatus_i log_setup(log_level_e level, const char *path);
void log_teardown(void);
/* Reopens the log file by name (after logrotate renamed it); any thread,
 * async-signal-unsafe: call from a loop, not a handler. */
rstatus_i log_reopen(void);
void log_set_level(log_level_e level);
/* The descriptor lines go to (stderr's or the file's), for crash reports
 * written from a signal handler. */
int log_fd(void);
log_level_e log_get_level(void);
/* Parses "crit" .. "verb" or "1" .. "6"; STATUS_EINVAL if neither. */
rstatus_i log_level_parse(const char *s, log_level_e *level);
const char *log_level_str(log_level_e level);

int log_loggable(log_level_e level);
void log_write(log_level_e level, const char *file, int line, const char *fmt,
        ...) __attribute__((format(printf, 4, 5)));
/* Copies at most n bytes of untrusted data into dst (cap bytes) with every
 * non-printable byte as \xNN; always NUL-terminates. Returns dst. */
char *log_escape(char *dst, size_t cap, const void *data, size_t n);

#define LOG_AT(lvl, ...)                                                       \
    do {                                                                       \
        if (log_loggable(lvl)) {                                               \
            log_write((lvl), __FILE__, __LINE__, __VA_ARGS__);                 \
        }                                                                      \
    } while (0)

#define log_crit(...)  LOG_AT(LOG_CRIT, __VA_ARGS__)
#define log_error(...) LOG_AT(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  LOG_AT(LOG_WARN, __VA_ARGS__)
#define log_info(...)  LOG_AT(LOG_INFO, __VA_ARGS__)
#define log_debug(...) LOG_AT(LOG_DEBUG, __VA_ARGS__)
#define log_verb(...)  LOG_AT(LOG_VERB, __VA_ARGS__)
