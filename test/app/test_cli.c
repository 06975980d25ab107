/* SPDX-License-Identifier: Apache-2.0 */
/* The command line: every flag of --help parses to its field or override,
 * memcached's -m -t -c overrides reach their options, and a bad command
 * line exits with EX_USAGE (checked in a forked child, as cli_parse
 * exits). -p and -l are rewritten into the listener addresses by main.c,
 * which test/integration covers; here they reach cli.port and cli.host. */
#include "unit.h"

#include "base/util.h"
#include "cli.h"
#include "setting.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#define MAX_ARGS 64

/* Parses a NULL-terminated argument list (argv[0] added). */
static void
parse(struct cli *cli, const char *const *args)
{
    char *argv[MAX_ARGS + 2];
    int argc = 0;
    argv[argc++] = (char *)"segcached";
    for (; args[argc - 1] != NULL; argc++) {
        assert_true(argc <= MAX_ARGS);
        argv[argc] = (char *)args[argc - 1];
    }
    argv[argc] = NULL;
    optind = 0; /* getopt starts over, as in a fresh process */
    cli_parse(cli, argc, argv);
}

static void
assert_overrides(const struct cli *cli, const char *const *want)
{
    size_t n = 0;
    for (; want[n] != NULL; n++) {
        assert_true(n < cli->noverride);
        assert_string_equal(cli->overrides[n], want[n]);
    }
    assert_int_equal(cli->noverride, n);
}

static void
test_cli_no_arguments(void **state)
{
    (void)state;
    struct cli cli;
    parse(&cli, (const char *const[]){NULL});
    assert_null(cli.config);
    assert_null(cli.host);
    assert_null(cli.port);
    assert_int_equal(cli.noverride, 0);
    assert_int_equal(cli.verbose, 0);
    assert_false(cli.print_config);
    assert_false(cli.print_stats);
    assert_false(cli.check_config);
    cli_free(&cli);
}

static void
test_cli_every_flag(void **state)
{
    (void)state;
    struct cli cli;
    parse(&cli,
            (const char *const[]){"--config", "/etc/s.yml", "-o",
                    "seg.evict=none", "--memcache", "127.0.0.1:1", "--resp",
                    "off", "--ping", "127.0.0.1:3", "--admin", "[::1]:4", "-p",
                    "5555", "-l", "10.0.0.1", "-m", "64", "-t", "3", "-c", "77",
                    "-u", "nobody", "-d", "--daemonize", "--pidfile",
                    "/run/s.pid", "-v", "-vv", "--print-config",
                    "--print-stats", "--check-config", NULL});
    assert_string_equal(cli.config, "/etc/s.yml");
    assert_string_equal(cli.port, "5555");
    assert_string_equal(cli.host, "10.0.0.1");
    assert_int_equal(cli.verbose, 3);
    assert_true(cli.print_config);
    assert_true(cli.print_stats);
    assert_true(cli.check_config);
    assert_overrides(
            &cli, (const char *const[]){"seg.evict=none",
                          "memcache.listen=127.0.0.1:1", "resp.listen=off",
                          "ping.listen=127.0.0.1:3", "admin.listen=[::1]:4",
                          "seg.memory=64MiB", "worker.threads=3",
                          "server.max_connections=77", "process.user=nobody",
                          "process.daemonize=true", "process.daemonize=true",
                          "process.pidfile=/run/s.pid", NULL});
    cli_free(&cli);
    assert_int_equal(cli.noverride, 0);
}

/* Every override the flags make names a real option and sets it. */
static void
test_cli_overrides_reach_options(void **state)
{
    (void)state;
    struct cli cli;
    char err[256];
    parse(&cli, (const char *const[]){"-m", "64", "-t", "3", "-c", "77",
                        "--memcache", "127.0.0.1:7", "-u", "nobody", "-d",
                        "--pidfile", "/tmp/p", "--admin", "off", "--ping",
                        "127.0.0.1:8", "--resp", "off", "-e", "/dev/shm/x.pool",
                        NULL});
    for (size_t i = 0; i < cli.noverride; i++) {
        assert_int_equal(option_set_assignment(setting_options(), SETTING_NOPT,
                                 cli.overrides[i], err, sizeof(err)),
                STATUS_OK);
    }
    assert_int_equal(option_uint(&setting.seg.seg_memory), 64 * 1024 * 1024);
    assert_int_equal(option_uint(&setting.worker.worker_threads), 3);
    assert_int_equal(option_uint(&setting.server.server_max_connections), 77);
    assert_string_equal(
            option_str(&setting.listen.memcache_listen), "127.0.0.1:7");
    assert_string_equal(option_str(&setting.listen.resp_listen), "off");
    assert_string_equal(option_str(&setting.listen.ping_listen), "127.0.0.1:8");
    assert_string_equal(option_str(&setting.admin.admin_listen), "off");
    assert_string_equal(option_str(&setting.process.process_user), "nobody");
    assert_true(option_bool(&setting.process.process_daemonize));
    assert_string_equal(option_str(&setting.process.process_pidfile), "/tmp/p");
    assert_string_equal(
            option_str(&setting.seg.seg_datapool), "/dev/shm/x.pool");
    /* -m's unit makes a bad number a bad size, reported by the option */
    cli_free(&cli);
    parse(&cli, (const char *const[]){"-m", "lots", NULL});
    assert_int_equal(option_set_assignment(setting_options(), SETTING_NOPT,
                             cli.overrides[0], err, sizeof(err)),
            STATUS_EINVAL);
    assert_non_null(strstr(err, "seg.memory"));
    cli_free(&cli);
    option_load_default(setting_options(), SETTING_NOPT);
}

/* issue 23: -m 64MiB was "not a size: 64MiBMiB" */
static void
test_issue_23_memory_with_its_own_unit(void **state)
{
    (void)state;
    const struct {
        const char *arg;
        uint64_t want;
    } c[] = {{"64", 64 * MiB}, {"64MiB", 64 * MiB}, {"1GiB", GiB}, {"1g", GiB},
            {"512 MiB", 512 * MiB}};
    for (size_t i = 0; i < ARRAY_SIZE(c); i++) {
        struct cli cli;
        char err[256] = "";
        parse(&cli, (const char *const[]){"-m", c[i].arg, NULL});
        assert_int_equal(option_set_assignment(setting_options(), SETTING_NOPT,
                                 cli.overrides[0], err, sizeof(err)),
                STATUS_OK);
        assert_true(option_uint(&setting.seg.seg_memory) == c[i].want);
        cli_free(&cli);
    }
    option_load_default(setting_options(), SETTING_NOPT);
}

/* memcached's -o list of ssl_* names (memcached -h) becomes our options,
 * memcached's numbers translated; our dotted names stay one assignment
 * each, commas and all. Each reaches a real option. */
static void
test_cli_memcached_ssl_names(void **state)
{
    (void)state;
    struct cli cli;
    char err[256];
    parse(&cli, (const char *const[]){"-Z", "-o",
                        "ssl_chain_cert=/c.pem,ssl_key=/k.pem,ssl_ca_cert=/"
                        "ca.pem,ssl_verify_mode=1,ssl_min_version=3,ssl_"
                        "ciphers=ECDHE-ECDSA-AES128-GCM-SHA256,ssl_session_"
                        "cache,ssl_kernel_tls",
                        "-o", "ssl_verify_mode=3", "-o", "tls.ciphers=A:B,C",
                        NULL});
    assert_overrides(
            &cli, (const char *const[]){"tls.cert_file=/c.pem",
                          "tls.key_file=/k.pem", "tls.ca_cert_file=/ca.pem",
                          "memcache.tls_auth_clients=optional",
                          "tls.protocols=TLSv1.3",
                          "tls.ciphers=ECDHE-ECDSA-AES128-GCM-SHA256",
                          "tls.ktls=true", "memcache.tls_auth_clients=yes",
                          "tls.ciphers=A:B,C", NULL});
    assert_string_equal(cli.flags[0], "-o ssl_chain_cert");
    assert_null(cli.flags[8]);
    for (size_t i = 0; i < cli.noverride; i++) {
        assert_int_equal(option_set_assignment(setting_options(), SETTING_NOPT,
                                 cli.overrides[i], err, sizeof(err)),
                STATUS_OK);
    }
    assert_string_equal(option_str(&setting.tls.tls_cert_file), "/c.pem");
    assert_true(option_bool(&setting.tls.tls_ktls));
    cli_free(&cli);
    const struct {
        const char *v;
        const char *want;
    } c[] = {{"ssl_verify_mode=0", "memcache.tls_auth_clients=no"},
            {"ssl_verify_mode=2", "memcache.tls_auth_clients=yes"},
            {"ssl_min_version=2", "tls.protocols=TLSv1.2 TLSv1.3"}};
    for (size_t i = 0; i < ARRAY_SIZE(c); i++) {
        parse(&cli, (const char *const[]){"-o", c[i].v, NULL});
        assert_overrides(&cli, (const char *const[]){c[i].want, NULL});
        cli_free(&cli);
    }
    /* names memcached has and we do not are refused by the options */
    parse(&cli, (const char *const[]){"-o", "ssl_wbuf_size=16", NULL});
    assert_overrides(&cli, (const char *const[]){"ssl_wbuf_size=16", NULL});
    assert_int_equal(option_set_assignment(setting_options(), SETTING_NOPT,
                             cli.overrides[0], err, sizeof(err)),
            STATUS_EINVAL);
    assert_non_null(strstr(err, "ssl_wbuf_size: unknown option"));
    cli_free(&cli);
    option_load_default(setting_options(), SETTING_NOPT);
}

/* Runs cli_parse in a child; returns its exit status (-1: it returned)
 * and what it wrote to stdout and stderr, NUL-terminated. */
static int
parse_in_child(const char *const *args, char *out, size_t cap)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], STDOUT_FILENO);
        dup2(fds[1], STDERR_FILENO);
        close(fds[1]);
        struct cli cli;
        parse(&cli, args);
        cli_free(&cli);
        _exit(255); /* it returned */
    }
    close(fds[1]);
    size_t n = 0;
    ssize_t r;
    while ((r = read(fds[0], out + n, cap - 1 - n)) > 0) {
        n += (size_t)r;
        assert_true(n < cap - 1);
    }
    out[n] = '\0';
    close(fds[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status) == 255 ? -1 : WEXITSTATUS(status);
}

static void
test_cli_help_lists_every_flag(void **state)
{
    (void)state;
    static char out[8192];
    assert_int_equal(parse_in_child((const char *const[]){"--help", NULL}, out,
                             sizeof(out)),
            EX_OK);
    assert_true(strncmp(out, "usage: segcached [options]\n", 27) == 0);
    const char *flags[] = {"--config FILE", "-o SECTION.OPTION=VAL",
            "--memcache ADDR:PORT", "--resp ADDR:PORT", "--ping ADDR:PORT",
            "--admin ADDR:PORT", "-p PORT", "-l ADDR", "-m MB", "-t N", "-c N",
            "-e FILE", "-u USER", "-d, --daemonize", "--pidfile FILE", "-v ",
            "--print-config", "--print-stats", "--check-config", "--version",
            "--help"};
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
        assert_non_null(strstr(out, flags[i]));
    }
    assert_int_equal(
            parse_in_child((const char *const[]){"-h", NULL}, out, sizeof(out)),
            EX_OK);
    assert_true(strncmp(out, "usage: segcached", 16) == 0);
}

static void
test_cli_version(void **state)
{
    (void)state;
    static char out[4096];
    assert_int_equal(parse_in_child((const char *const[]){"--version", NULL},
                             out, sizeof(out)),
            EX_OK);
    assert_true(
            strncmp(out, "segcached " SEGCACHED_VERSION "\ncommit ",
                    strlen("segcached " SEGCACHED_VERSION "\ncommit ")) == 0);
    assert_non_null(strstr(out, "\nbuild "));
    assert_int_equal(
            parse_in_child((const char *const[]){"-V", NULL}, out, sizeof(out)),
            EX_OK);
    assert_true(strncmp(out, "segcached ", 10) == 0);
}

static void
test_cli_errors_exit_usage(void **state)
{
    (void)state;
    static char out[8192];
    /* a good command line returns */
    assert_int_equal(parse_in_child((const char *const[]){"-p", "1", NULL}, out,
                             sizeof(out)),
            -1);
    assert_int_equal(parse_in_child((const char *const[]){"--bogus", NULL}, out,
                             sizeof(out)),
            EX_USAGE);
    assert_non_null(strstr(out, "usage: segcached"));
    assert_int_equal(
            parse_in_child((const char *const[]){"-x", NULL}, out, sizeof(out)),
            EX_USAGE);
    assert_int_equal(
            parse_in_child((const char *const[]){"-p", NULL}, out, sizeof(out)),
            EX_USAGE);
    assert_int_equal(parse_in_child((const char *const[]){"--config", NULL},
                             out, sizeof(out)),
            EX_USAGE);
    assert_int_equal(
            parse_in_child((const char *const[]){"-t", "2", "stray", NULL}, out,
                    sizeof(out)),
            EX_USAGE);
    assert_non_null(strstr(out, "segcached: unexpected argument: stray\n"));
}

/* A memcached ssl_* value we cannot take stops the command line, naming
 * memcached's option and why. */
static void
test_cli_memcached_ssl_refusals(void **state)
{
    (void)state;
    static char out[8192];
    const struct {
        const char *arg;
        const char *want;
    } c[] = {
            {"ssl_verify_mode=4",
                    "segcached: -o ssl_verify_mode: not a number from 0 to 3: "
                    "4\n"},
            {"ssl_min_version=1",
                    "segcached: -o ssl_min_version: TLS 1.0 and 1.1 are not "
                    "served (tls.protocols): 1\n"},
            {"ssl_min_version=tlsv1.3",
                    "segcached: -o ssl_min_version: not a number from 0 to 3: "
                    "tlsv1.3\n"},
            {"ssl_kernel_tls=1",
                    "segcached: -o ssl_kernel_tls: takes no value: "
                    "ssl_kernel_tls=1\n"},
            {"ssl_chain_cert=/c.pem,ssl_key",
                    "segcached: -o ssl_key: needs a value: ssl_key\n"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(c); i++) {
        assert_int_equal(
                parse_in_child((const char *const[]){"-o", c[i].arg, NULL}, out,
                        sizeof(out)),
                EX_USAGE);
        assert_string_equal(out, c[i].want);
    }
}

static void
test_cli_too_many_overrides(void **state)
{
    (void)state;
    enum {
        ARGC = 2 * (CLI_MAX_OVERRIDES + 1) + 1
    };
    static char *argv[ARGC + 1];
    argv[0] = (char *)"segcached";
    for (size_t i = 0; i < CLI_MAX_OVERRIDES + 1; i++) {
        argv[2 * i + 1] = (char *)"-o";
        argv[2 * i + 2] = (char *)"seg.memory=1MiB";
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, STDERR_FILENO);
        struct cli cli;
        optind = 0;
        cli_parse(&cli, ARGC, argv);
        _exit(255);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), EX_USAGE);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_cli_no_arguments),
            cmocka_unit_test(test_cli_every_flag),
            cmocka_unit_test(test_cli_overrides_reach_options),
            cmocka_unit_test(test_issue_23_memory_with_its_own_unit),
            cmocka_unit_test(test_cli_help_lists_every_flag),
            cmocka_unit_test(test_cli_version),
            cmocka_unit_test(test_cli_errors_exit_usage),
            cmocka_unit_test(test_cli_memcached_ssl_names),
            cmocka_unit_test(test_cli_memcached_ssl_refusals),
            cmocka_unit_test(test_cli_too_many_overrides),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
