/* SPDX-License-Identifier: Apache-2.0 */
/* Daemonizing, pid file, dropping privileges. */
#include "core/process.h"

#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

static int ready_fd = -1; /* the child's end of the pipe to the parent */
/* The pid file keeper (see keeper_start): its pid, and our end of the
 * pipe whose closing tells it to remove the file. */
static pid_t keeper_pid = -1;
static int keeper_fd = -1;

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
    /* the child's own code; one killed by a signal before it was ready
     * (a crash in setup) is EX_SOFTWARE, as README's table says */
    _exit(WIFEXITED(status) ? WEXITSTATUS(status) : EX_SOFTWARE);
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
        exit(EX_OSERR);
    }
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "segcached: fork: %s\n", strerror(errno));
        exit(EX_OSERR);
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
    if (log_fd() == STDERR_FILENO) {
        fprintf(stderr, "segcached: in the background without log.file: "
                        "its log is discarded from now on\n");
    }
    /* all three: a caller reading our stderr through a pipe waits for
     * every holder of the pipe to close it */
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
        dup2(null, STDIN_FILENO);
        dup2(null, STDOUT_FILENO);
        dup2(null, STDERR_FILENO);
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

static const char *
pidfile_of(const process_options_st *options)
{
    const char *path = option_str(&options->process_pidfile);
    return path != NULL ? path : "";
}

/* The pid a pid file holds; 0 when none can be read. Async-signal-safe
 * (the keeper calls it after fork). */
static pid_t
pidfile_read(const char *path)
{
    char buf[32];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return 0;
    }
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    long pid = 0;
    for (ssize_t i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; i++) {
        pid = pid * 10 + (buf[i] - '0');
        if (pid > 1 << 30) {
            return 0;
        }
    }
    return (pid_t)pid;
}

/* Whether pid is a running segcached (any live process where /proc cannot
 * tell the name), so a pid reused by another program after a crash does
 * not keep the server down. */
static bool
segcached_alive(pid_t pid)
{
    if (pid <= 0 || pid == getpid() || (kill(pid, 0) < 0 && errno == ESRCH)) {
        return false;
    }
    char path[64], comm[32] = "";
    snprintf(path, sizeof(path), "/proc/%ld/comm", (long)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return true;
    }
    bool named = fgets(comm, sizeof(comm), f) != NULL &&
                 strcmp(comm, "segcached\n") == 0;
    fclose(f);
    return named;
}

rstatus_i
process_pidfile_check(
        const process_options_st *options, char *err, size_t errlen)
{
    const char *path = pidfile_of(options);
    pid_t pid = path[0] == '\0' ? 0 : pidfile_read(path);
    if (segcached_alive(pid)) {
        snprintf(err, errlen,
                "pid file %s: segcached is running as pid %ld; stop it "
                "first, or remove the file if that is not this server",
                path, (long)pid);
        return STATUS_EINVAL;
    }
    return STATUS_OK;
}

/* Once we run as an unprivileged user we may not be allowed to remove a
 * pid file in a root-owned directory (/run). A small child keeps root for
 * that one job: it waits until our end of a pipe closes (at exit, or when
 * we crash) and removes the file if it still names us. It holds no other
 * descriptor and is named segcached-pid, so `pgrep -x segcached` finds
 * the server alone. Only async-signal-safe calls after the fork: other
 * threads (the store's) run already. */
static rstatus_i
keeper_start(const char *path, char *err, size_t errlen)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0) {
        snprintf(err, errlen, "pid file %s: pipe: %s", path, strerror(errno));
        return STATUS_ERROR;
    }
    pid_t server = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "pid file %s: fork: %s", path, strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return STATUS_ERROR;
    }
    if (pid == 0) {
        prctl(PR_SET_NAME, "segcached-pid", 0, 0, 0);
        int null = open("/dev/null", O_RDWR);
        for (int fd = 0; fd < 3 && null >= 0; fd++) {
            dup2(null, fd);
        }
        /* listeners, epoll, the daemonize pipe: nothing kept open */
        if (dup2(fds[0], 3) == 3) {
            close_range(4, ~0U, 0);
        }
        char byte;
        ssize_t n;
        do {
            n = read(3, &byte, 1);
        } while (n < 0 && errno == EINTR);
        if (pidfile_read(path) == server) {
            unlink(path);
        }
        _exit(0);
    }
    close(fds[0]);
    keeper_pid = pid;
    keeper_fd = fds[1];
    return STATUS_OK;
}

rstatus_i
process_pidfile_write(
        const process_options_st *options, char *err, size_t errlen)
{
    const char *path = pidfile_of(options);
    if (path[0] == '\0') {
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
    if (geteuid() == 0 && user_of(options)[0] != '\0') {
        return keeper_start(path, err, errlen);
    }
    return STATUS_OK;
}

void
process_pidfile_remove(const process_options_st *options)
{
    const char *path = pidfile_of(options);
    if (keeper_pid > 0) {
        close(keeper_fd); /* the keeper removes it, with root's rights */
        keeper_fd = -1;
        while (waitpid(keeper_pid, NULL, 0) < 0 && errno == EINTR) {
        }
        keeper_pid = -1;
        if (access(path, F_OK) == 0 && pidfile_read(path) == getpid()) {
            log_warn("pid file %s was not removed", path);
        }
        return;
    }
    if (path[0] != '\0' && unlink(path) < 0) {
        log_warn("cannot remove pid file %s: %s", path, strerror(errno));
    }
}
