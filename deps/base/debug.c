/* SPDX-License-Identifier: Apache-2.0 */
/* Crash handler: signal name and backtrace into the log, then re-raise. */
#include "base/debug.h"

#include "base/log.h"

#include <execinfo.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BACKTRACE_MAX 64
#define ALT_STACK     (64 * 1024)

static const int crash_signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
static void *alt_stack;

/* Only async-signal-safe calls from here on: write, backtrace_symbols_fd
 * (backtrace itself was warmed up at setup so it does not load libgcc). */
static void
put(int fd, const char *s)
{
    ssize_t n = write(fd, s, strlen(s));
    (void)n;
}

static const char *
signal_name(int sig)
{
    switch (sig) {
    case SIGSEGV:
        return "SIGSEGV";
    case SIGBUS:
        return "SIGBUS";
    case SIGILL:
        return "SIGILL";
    case SIGFPE:
        return "SIGFPE";
    case SIGABRT:
        return "SIGABRT";
    default:
        return "signal";
    }
}

static void
crash_handler(int sig, siginfo_t *info, void *ctx)
{
    (void)info;
    (void)ctx;
    int fd = log_fd();
    void *frames[BACKTRACE_MAX];
    put(fd, "[crash] segcached received ");
    put(fd, signal_name(sig));
    put(fd, "; backtrace:\n");
    int n = backtrace(frames, BACKTRACE_MAX);
    backtrace_symbols_fd(frames, n, fd);
    put(fd, "[crash] end of backtrace\n");
    signal(sig, SIG_DFL);
    raise(sig);
}

rstatus_i
debug_setup(void)
{
    void *warm[2];
    backtrace(warm, 2);
    alt_stack = malloc(ALT_STACK);
    if (alt_stack != NULL) {
        stack_t ss = {.ss_sp = alt_stack, .ss_size = ALT_STACK, .ss_flags = 0};
        sigaltstack(&ss, NULL); /* a stack overflow can still be reported */
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = crash_handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof(crash_signals) / sizeof(crash_signals[0]);
            i++) {
        if (sigaction(crash_signals[i], &sa, NULL) < 0) {
            return STATUS_ERROR;
        }
    }
    return STATUS_OK;
}

void
debug_teardown(void)
{
    for (size_t i = 0; i < sizeof(crash_signals) / sizeof(crash_signals[0]);
            i++) {
        signal(crash_signals[i], SIG_DFL);
    }
    if (alt_stack != NULL) {
        stack_t ss = {.ss_flags = SS_DISABLE};
        sigaltstack(&ss, NULL);
        free(alt_stack);
        alt_stack = NULL;
    }
}
