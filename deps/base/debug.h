/* SPDX-License-Identifier: Apache-2.0 */
/* Crash reports: on SIGSEGV, SIGBUS, SIGILL, SIGFPE or SIGABRT the signal
 * and a backtrace are written to the log (stderr or the log file) before
 * the process dies with the same signal, so a core dump or the service
 * manager still sees the real cause. */
#pragma once

#include "base/status.h"

/* Main thread, before other threads start. */
rstatus_i debug_setup(void);
void debug_teardown(void);
