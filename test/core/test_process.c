/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for process: the pid file, the user checks, dropping root (in a
 * forked child, so the test process keeps its uid) and daemonizing (in a
 * forked child whose daemon reports back through a pipe). */
#include "core/process.h"

#include "base/log.h"

#include "unit.h"

#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#define NO_SUCH_USER "segcached-no-such-user"

static process_options_st
options(const char *user, const char *pidfile, bool daemonize)
{
    process_options_st o = {PROCESS_OPTION(INIT_OPTION)};
    o.process_user.val.OPTION_STR = user;
    o.process_pidfile.val.OPTION_STR = pidfile;
    o.process_daemonize.val.OPTION_BOOL = daemonize;
    return o;
}

/* Waits for a child of the test and returns its exit code (-1: killed). */
static int
exit_code(pid_t pid)
{
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void
test_process_pidfile(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_process.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof(path), "%s/segcached.pid", dir);
    process_options_st o = options("", path, false);
    char err[256] = "";
    assert_int_equal(process_pidfile_write(&o, err, sizeof(err)), STATUS_OK);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    long pid = 0;
    char nl = 0;
    assert_int_equal(fscanf(f, "%ld%c", &pid, &nl), 2);
    fclose(f);
    assert_int_equal(pid, (long)getpid());
    assert_int_equal(nl, '\n');
    /* written again, it is replaced, not appended to */
    assert_int_equal(process_pidfile_write(&o, err, sizeof(err)), STATUS_OK);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    char want[32];
    assert_int_equal(st.st_size, snprintf(want, sizeof(want), "%ld\n", pid));
    process_pidfile_remove(&o);
    assert_int_equal(access(path, F_OK), -1);
    assert_int_equal(errno, ENOENT);
    process_pidfile_remove(&o); /* already gone: a warning, nothing more */
    assert_int_equal(rmdir(dir), 0);
}

static void
write_pid(const char *path, long pid)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "%ld\n", pid);
    assert_int_equal(fclose(f), 0);
}

/* issue 23: a second instance must not take over the pid file of a
 * running segcached; a stale file (dead process, or a pid now used by
 * another program) does not stop a start. */
static void
test_issue_23_pidfile_of_a_running_server(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_process.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof(path), "%s/segcached.pid", dir);
    process_options_st o = options("", path, false);
    char err[256] = "";
    assert_int_equal(process_pidfile_check(&o, err, sizeof(err)), STATUS_OK);
    int go[2];
    assert_int_equal(pipe(go), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        char byte;
        close(go[1]);
        prctl(PR_SET_NAME, "segcached", 0, 0, 0);
        ssize_t n = read(go[0], &byte, 1); /* until the parent closes */
        _exit(n < 0 ? 1 : 0);
    }
    close(go[0]);
    write_pid(path, (long)child);
    char comm[64], name[32] = "";
    snprintf(comm, sizeof(comm), "/proc/%ld/comm", (long)child);
    for (int i = 0; i < 1000 && strcmp(name, "segcached\n") != 0; i++) {
        FILE *f = fopen(comm, "r");
        if (f != NULL) {
            if (fgets(name, sizeof(name), f) == NULL) {
                name[0] = '\0';
            }
            fclose(f);
        }
        usleep(1000);
    }
    assert_int_equal(
            process_pidfile_check(&o, err, sizeof(err)), STATUS_EINVAL);
    assert_non_null(strstr(err, "segcached is running as pid"));
    close(go[1]);
    assert_int_equal(exit_code(child), 0);
    /* the same pid, dead now: stale */
    assert_int_equal(process_pidfile_check(&o, err, sizeof(err)), STATUS_OK);
    /* a live process that is not segcached (this test): stale too */
    write_pid(path, (long)getppid());
    assert_int_equal(process_pidfile_check(&o, err, sizeof(err)), STATUS_OK);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(rmdir(dir), 0);
}

static void
test_process_pidfile_unset_or_bad(void **state)
{
    (void)state;
    char err[256] = "";
    process_options_st none = options("", "", false);
    assert_int_equal(process_pidfile_write(&none, err, sizeof(err)), STATUS_OK);
    process_pidfile_remove(&none);
    process_options_st null = options("", NULL, false);
    assert_int_equal(process_pidfile_write(&null, err, sizeof(err)), STATUS_OK);
    process_pidfile_remove(&null);
    assert_string_equal(err, "");
    process_options_st bad =
            options("", "/nonexistent-segcached-dir/x.pid", false);
    assert_int_equal(
            process_pidfile_write(&bad, err, sizeof(err)), STATUS_ERROR);
    assert_string_equal(err, "pid file /nonexistent-segcached-dir/x.pid: "
                             "No such file or directory");
}

static void
test_process_check_user(void **state)
{
    (void)state;
    char err[256] = "";
    process_options_st none = options("", "", false);
    if (geteuid() == 0) {
        assert_int_equal(
                process_check_user(&none, err, sizeof(err)), STATUS_EINVAL);
        assert_non_null(strstr(err, "refusing to run as root"));
    } else {
        assert_int_equal(
                process_check_user(&none, err, sizeof(err)), STATUS_OK);
    }
    process_options_st unknown = options(NO_SUCH_USER, "", false);
    assert_int_equal(
            process_check_user(&unknown, err, sizeof(err)), STATUS_EINVAL);
    assert_string_equal(err, "process.user: no such user: " NO_SUCH_USER);
    process_options_st known = options("root", "", false);
    assert_int_equal(process_check_user(&known, err, sizeof(err)), STATUS_OK);
}

/* Child exit codes of the drop test */
enum {
    DROP_OK,
    DROP_FAILED,
    DROP_WRONG_UID,
    DROP_WRONG_GID,
    DROP_ROOT_BACK,
    DROP_UNKNOWN_ACCEPTED,
    DROP_UID_CHANGED,
};

/* The name, uid and gid of the user to become (copied: getpwnam's result
 * is overwritten by the next lookup). */
struct user {
    const char *name;
    uid_t uid;
    gid_t gid;
};

static int
drop_in_child(const struct user *u)
{
    char err[256] = "";
    process_options_st unknown = options(NO_SUCH_USER, "", false);
    if (process_drop_privileges(&unknown, err, sizeof(err)) != STATUS_ERROR ||
            strstr(err, "no such user") == NULL) {
        return DROP_UNKNOWN_ACCEPTED;
    }
    if (getuid() != 0) {
        return DROP_UID_CHANGED;
    }
    process_options_st o = options(u->name, "", false);
    if (process_drop_privileges(&o, err, sizeof(err)) != STATUS_OK) {
        fprintf(stderr, "%s\n", err);
        return DROP_FAILED;
    }
    if (getuid() != u->uid || geteuid() != u->uid) {
        return DROP_WRONG_UID;
    }
    if (getgid() != u->gid || getegid() != u->gid) {
        return DROP_WRONG_GID;
    }
    if (setuid(0) == 0) {
        return DROP_ROOT_BACK;
    }
    return DROP_OK;
}

static void
test_process_drop_privileges(void **state)
{
    (void)state;
    char err[256] = "";
    uid_t uid = geteuid();
    /* no user: nothing to do, as root or not */
    process_options_st none = options("", "", false);
    assert_int_equal(
            process_drop_privileges(&none, err, sizeof(err)), STATUS_OK);
    assert_int_equal(geteuid(), uid);
    struct passwd *pw = getpwnam("nobody");
    if (pw == NULL) {
        skip();
    }
    if (uid != 0) {
        /* not root: nothing to give up */
        process_options_st o = options("nobody", "", false);
        assert_int_equal(
                process_drop_privileges(&o, err, sizeof(err)), STATUS_OK);
        assert_int_equal(geteuid(), uid);
        return;
    }
    struct user nobody = {"nobody", pw->pw_uid, pw->pw_gid};
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        _exit(drop_in_child(&nobody));
    }
    assert_int_equal(exit_code(pid), DROP_OK);
    assert_int_equal(geteuid(), 0); /* the test process is unchanged */
}

static void
test_process_no_daemonize(void **state)
{
    (void)state;
    process_options_st o = options("", "", false);
    pid_t pid = getpid();
    process_daemonize_begin(&o);
    assert_int_equal(getpid(), pid);
    process_ready(); /* not daemonized: nothing to tell */
    assert_int_equal(getpid(), pid);
}

/* What the daemon reports through the pipe */
struct daemon_report {
    pid_t pid;
    pid_t parent_was; /* the pid of the process that daemonized */
    int own_session;
    int cwd_root;
};

/* How the daemon of daemonize_child ends its startup. */
typedef enum {
    DAEMON_READY,  /* says it is ready */
    DAEMON_EXIT_5, /* exits 5 first */
    DAEMON_KILLED, /* dies of SIGKILL first (a crash in setup) */
} daemon_end_e;

/* Forks a child that daemonizes; the daemon reports and then ends its
 * startup as told. Returns the child's exit code. */
static int
daemonize_child(daemon_end_e end, struct daemon_report *r)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        pid_t before = getpid();
        process_options_st o = options("", "", true);
        process_daemonize_begin(&o); /* the parent never returns */
        char cwd[8];
        struct daemon_report mine = {
                .pid = getpid(),
                .parent_was = before,
                .own_session = getsid(0) == getpid(),
                .cwd_root = getcwd(cwd, sizeof(cwd)) != NULL &&
                            strcmp(cwd, "/") == 0,
        };
        ssize_t n = write(fds[1], &mine, sizeof(mine));
        close(fds[1]);
        if (end == DAEMON_KILLED) {
            raise(SIGKILL);
        }
        if (n != (ssize_t)sizeof(mine) || end != DAEMON_READY) {
            _exit(5);
        }
        process_ready();
        _exit(0);
    }
    close(fds[1]);
    int code = exit_code(pid);
    ssize_t n;
    do {
        n = read(fds[0], r, sizeof(*r));
    } while (n < 0 && errno == EINTR);
    close(fds[0]);
    assert_int_equal(n, sizeof(*r));
    return code;
}

static void
test_process_daemonize(void **state)
{
    (void)state;
    struct daemon_report r;
    /* ready: the waiting parent exits 0 */
    assert_int_equal(daemonize_child(DAEMON_READY, &r), 0);
    assert_true(r.pid != r.parent_was); /* a new process serves */
    assert_true(r.own_session);
    assert_true(r.cwd_root);
    /* dead before ready: the parent exits with the daemon's code */
    assert_int_equal(daemonize_child(DAEMON_EXIT_5, &r), 5);
    assert_true(r.pid != r.parent_was);
    /* killed before ready: EX_SOFTWARE, as README's table says (issue 23:
     * it was 1, a code the table did not have) */
    assert_int_equal(daemonize_child(DAEMON_KILLED, &r), EX_SOFTWARE);
}

static int
group_setup(void **state)
{
    (void)state;
    log_set_level(LOG_CRIT);
    return 0;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_process_pidfile),
            cmocka_unit_test(test_issue_23_pidfile_of_a_running_server),
            cmocka_unit_test(test_process_pidfile_unset_or_bad),
            cmocka_unit_test(test_process_check_user),
            cmocka_unit_test(test_process_drop_privileges),
            cmocka_unit_test(test_process_no_daemonize),
            cmocka_unit_test(test_process_daemonize),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
