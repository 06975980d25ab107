/* SPDX-License-Identifier: Apache-2.0 */
/* The process itself: running in the background, the pid file, and giving
 * up root for an unprivileged user once the listeners are bound. Main
 * thread only, at startup and exit. */
#pragma once

#include "base/option.h"
#include "base/status.h"

#include <stdbool.h>

/* clang-format off */
/*          name                type         default  description */
#define PROCESS_OPTION(ACTION)                                                 \
    ACTION( process_user,       OPTION_STR,  "",      "user to run as once listening; required when started as root (-u)") \
    ACTION( process_pidfile,    OPTION_STR,  "",      "write the pid here at start, remove it at exit (--pidfile)") \
    ACTION( process_daemonize,  OPTION_BOOL, false,   "run in the background (--daemonize)")
/* clang-format on */

typedef struct {
    PROCESS_OPTION(DECLARE_OPTION)
} process_options_st;

/* Forks into the background when asked. The parent waits until the child
 * calls process_ready (then exits 0) or dies (then exits with its code),
 * so startup errors still reach the terminal. Call before any thread
 * starts. Returns in the child (or at once when not daemonizing). */
void process_daemonize_begin(const process_options_st *options);
/* The child is serving: lets the waiting parent exit, and points stdin,
 * stdout and stderr at /dev/null (the log then goes to log.file only). */
void process_ready(void);

/* STATUS_EINVAL with a reason in err when started as root without a user,
 * or when the user does not exist. */
rstatus_i process_check_user(
        const process_options_st *options, char *err, size_t errlen);
/* Switches to the configured user (groups, gid, uid); STATUS_ERROR with a
 * reason in err. Nothing to do when not root. */
rstatus_i process_drop_privileges(
        const process_options_st *options, char *err, size_t errlen);

/* STATUS_EINVAL with a reason when the pid file names a segcached that is
 * still running: a second instance must not take over its file. A file
 * naming a dead process (or another program) is stale and will be
 * overwritten. */
rstatus_i process_pidfile_check(
        const process_options_st *options, char *err, size_t errlen);
/* Writes the pid file (when configured); STATUS_ERROR with a reason. Run
 * as root with a user to become, it also starts the child that removes the
 * file at exit, which the unprivileged server may not be allowed to. */
rstatus_i process_pidfile_write(
        const process_options_st *options, char *err, size_t errlen);
/* Removes the pid file (through that child when there is one: waits for
 * it, so the file is gone when this returns). */
void process_pidfile_remove(const process_options_st *options);
