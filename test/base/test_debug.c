/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for debug: a crashing child writes the signal and a backtrace to
 * the log file and still dies of the same signal; after debug_teardown a
 * crash leaves no report. */
#include "base/debug.h"

#include "base/log.h"

#include "unit.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#else
#define SANITIZED 0
#endif

enum crash_mode {
    CRASH_REPORTED,
    CRASH_AFTER_TEARDOWN,
};

struct crash {
    char dir[64];
    char log[96];
};

/* Forks a child that logs to a file in a fresh directory and raises sig;
 * returns the child's wait status. */
static int
crash_child(struct crash *cr, int sig, enum crash_mode mode)
{
    snprintf(cr->dir, sizeof(cr->dir), "/tmp/test_debug.XXXXXX");
    assert_non_null(mkdtemp(cr->dir));
    snprintf(cr->log, sizeof(cr->log), "%s/crash.log", cr->dir);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rlimit none = {0, 0};
        setrlimit(RLIMIT_CORE, &none); /* no core file from the test */
        if (log_setup(LOG_INFO, cr->log) != STATUS_OK ||
                debug_setup() != STATUS_OK) {
            _exit(3);
        }
        if (mode == CRASH_AFTER_TEARDOWN) {
            debug_teardown();
        }
        raise(sig);
        _exit(4); /* not reached: the signal kills */
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return status;
}

static char *
read_log(const struct crash *cr)
{
    static char text[64 * 1024];
    FILE *f = fopen(cr->log, "r");
    assert_non_null(f);
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    text[n] = '\0';
    fclose(f);
    return text;
}

static void
remove_crash(const struct crash *cr)
{
    unlink(cr->log);
    rmdir(cr->dir);
}

static void
check_report(int sig, const char *name)
{
    if (SANITIZED) {
        skip(); /* sanitizers install their own crash handlers */
    }
    struct crash cr;
    int status = crash_child(&cr, sig, CRASH_REPORTED);
    assert_true(WIFSIGNALED(status)); /* dies of the same signal */
    assert_int_equal(WTERMSIG(status), sig);
    const char *text = read_log(&cr);
    char want[64];
    snprintf(want, sizeof(want), "[crash] segcached received %s", name);
    assert_non_null(strstr(text, want));
    assert_non_null(strstr(text, "[crash] end of backtrace"));
    /* the backtrace sits between the two lines */
    assert_true(strstr(text, "[crash] end of backtrace") - strstr(text, want) >
                (ptrdiff_t)(strlen(want) + strlen("; backtrace:\n")));
    remove_crash(&cr);
}

static void
test_debug_sigsegv_reported(void **state)
{
    (void)state;
    check_report(SIGSEGV, "SIGSEGV");
}

static void
test_debug_sigabrt_reported(void **state)
{
    (void)state;
    check_report(SIGABRT, "SIGABRT");
}

static void
test_debug_teardown_restores_default(void **state)
{
    (void)state;
    if (SANITIZED) {
        skip();
    }
    struct crash cr;
    int status = crash_child(&cr, SIGSEGV, CRASH_AFTER_TEARDOWN);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGSEGV);
    assert_null(strstr(read_log(&cr), "[crash]"));
    remove_crash(&cr);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_debug_sigsegv_reported),
            cmocka_unit_test(test_debug_sigabrt_reported),
            cmocka_unit_test(test_debug_teardown_restores_default),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
