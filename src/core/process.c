/* SPDX-License-Identifier: Apache-2.0 */
/* Daemonizing, pid file, dropping privileges. */
#include "core/process.h"

#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int ready_fd = -1; /* the child's end of the pipe to the parent */

static const char *
user_of(const process_options_st *options)
{
    const char *user = option_str(&options->process_user);
    return user != NULL ? user : "";
}

/* The parent: waits for "ready" or the child's death. Never returns. */
static void
wait_for_child(pid_t child, int fd)
{
    char byte;
    ssize_t n;
    do {
        n = read(fd, &byte, 1);
    } while (n < 0 && errno == EINTR);
    if (n == 1) {
        _exit(EXIT_SUCCESS);
    }
    int status = 0;
    waitpid(child, &status, 0);
    _exit(WIFEXITED(status) ? WEXITSTATUS(status) : EXIT_FAILURE);
}

void
process_daemonize_begin(const process_options_st *options)
{
    if (!option_bool(&options->process_daemonize)) {
        return;
    }
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0) {
        fprintf(stderr, "segcached: pipe: %s\n", strerror(errno));
        exit(EXIT_FAILURE);
    }
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "segcached: fork: %s\n", strerror(errno));
        exit(EXIT_FAILURE);
    }
    if (pid > 0) {
        close(fds[1]);
        wait_for_child(pid, fds[0]);
    }
    close(fds[0]);
    ready_fd = fds[1];
    setsid();
    if (chdir("/") < 0) {
        /* harmless: paths in the configuration were resolved already */
    }
}

void
process_ready(void)
{
    if (ready_fd < 0) {
        return;
    }
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
        dup2(null, STDIN_FILENO);
        dup2(null, STDOUT_FILENO);
        if (log_fd() != STDERR_FILENO) {
            dup2(null, STDERR_FILENO); /* the log has its own file */
        }
        close(null);
    }
    ssize_t n = write(ready_fd, "R", 1);
    (void)n;
    close(ready_fd);
    ready_fd = -1;
}

rstatus_i
process_check_user(const process_options_st *options, char *err, size_t errlen)
{
    const char *user = user_of(options);
    if (user[0] == '\0') {
        if (geteuid() == 0) {
            snprintf(err, errlen,
                    "refusing to run as root: name a user with -u USER "
                    "(process.user)");
            return STATUS_EINVAL;
        }
        return STATUS_OK;
    }
    if (getpwnam(user) == NULL) {
        snprintf(err, errlen, "process.user: no such user: %s", user);
        return STATUS_EINVAL;
    }
    return STATUS_OK;
}

rstatus_i
process_drop_privileges(
        const process_options_st *options, char *err, size_t errlen)
{
    const char *user = user_of(options);
    if (user[0] == '\0' || geteuid() != 0) {
        return STATUS_OK;
    }
    struct passwd *pw = getpwnam(user);
    if (pw == NULL) {
        snprintf(err, errlen, "process.user: no such user: %s", user);
        return STATUS_ERROR;
    }
    if (initgroups(pw->pw_name, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 ||
            setuid(pw->pw_uid) < 0) {
        snprintf(err, errlen, "cannot become %s: %s", user, strerror(errno));
        return STATUS_ERROR;
    }
    if (setuid(0) == 0) {
        snprintf(err, errlen, "could regain root after becoming %s", user);
        return STATUS_ERROR;
    }
    log_info("running as %s (uid %u)", user, (unsigned)pw->pw_uid);
    return STATUS_OK;
}

rstatus_i
process_pidfile_write(
        const process_options_st *options, char *err, size_t errlen)
{
    const char *path = option_str(&options->process_pidfile);
    if (path == NULL || path[0] == '\0') {
        return STATUS_OK;
    }
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        snprintf(err, errlen, "pid file %s: %s", path, strerror(errno));
        return STATUS_ERROR;
    }
    fprintf(f, "%ld\n", (long)getpid());
    if (fclose(f) != 0) {
        snprintf(err, errlen, "pid file %s: %s", path, strerror(errno));
        return STATUS_ERROR;
    }
    return STATUS_OK;
}

void
process_pidfile_remove(const process_options_st *options)
{
    const char *path = option_str(&options->process_pidfile);
    if (path != NULL && path[0] != '\0' && unlink(path) < 0) {
        log_warn("cannot remove pid file %s: %s", path, strerror(errno));
    }
}
