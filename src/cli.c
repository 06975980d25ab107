/* SPDX-License-Identifier: Apache-2.0 */
/* Command-line parsing with getopt_long. */
#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

static const char usage[] =
        "usage: segcached [options]\n"
        "  --config FILE          load a YAML configuration file\n"
        "  -o SECTION.OPTION=VAL  override one option (repeatable)\n"
        "  --memcache ADDR:PORT   memcache listener, or off\n"
        "  --resp ADDR:PORT       resp (Redis) listener, or off\n"
        "  --ping ADDR:PORT       ping listener, or off (default off)\n"
        "  --admin ADDR:PORT      admin listener, or off\n"
        "  --memcache-tls ADDR:PORT  memcache over TLS (memcache.tls_listen)\n"
        "  --resp-tls ADDR:PORT   resp over TLS (resp.tls_listen)\n"
        "  -Z                     memcache listener speaks TLS (memcached's\n"
        "                         -Z: its address moves to "
        "memcache.tls_listen)\n"
        "  -p PORT                memcache port (memcached's -p)\n"
        "  -l ADDR                host of the data listeners (not admin)\n"
        "  -m MB                  store memory in MiB, or a size (64, 1GiB)\n"
        "  -I SIZE                largest memcache value: bytes, or 1024k,\n"
        "                         8m (memcache.item_size_max; memcached's -I)\n"
        "  -t N                   worker threads, 1..128 (worker.threads)\n"
        "  -c N                   max connections, 1 or more\n"
        "                         (server.max_connections)\n"
        "  -e FILE                keep the store in FILE across a clean\n"
        "                         restart (seg.datapool; memcached's -e)\n"
        "  -u USER                run as USER once listening (process.user);\n"
        "                         required when started as root\n"
        "  -d, --daemonize        run in the background (process.daemonize)\n"
        "  -P, --pidfile FILE     write the pid to FILE (process.pidfile;\n"
        "                         memcached's -P)\n"
        "  -v                     more logging (repeatable)\n"
        "  --print-config         print every option, default, description\n"
        "  --print-stats          print every metric with its description\n"
        "  --check-config         load the configuration, report, exit\n"
        "  --version              print version, commit and build options\n"
        "  --help                 this text\n"
        "Listener addresses are host:port, [v6]:port, unix:/path or off.\n"
        "With no option, segcached runs on its defaults: memcache on\n"
        "127.0.0.1:11211, resp on 127.0.0.1:6379, admin on 127.0.0.1:9999.\n";

enum {
    OPT_CONFIG = 256,
    OPT_MEMCACHE,
    OPT_RESP,
    OPT_PING,
    OPT_ADMIN,
    OPT_PRINT_CONFIG,
    OPT_PRINT_STATS,
    OPT_CHECK_CONFIG,
    OPT_VERSION,
    OPT_HELP,
    OPT_PIDFILE,
    OPT_DAEMONIZE,
    OPT_MEMCACHE_TLS,
    OPT_RESP_TLS,
};

static const struct option longs[] = {
        {"config", required_argument, NULL, OPT_CONFIG},
        {"memcache", required_argument, NULL, OPT_MEMCACHE},
        {"resp", required_argument, NULL, OPT_RESP},
        {"ping", required_argument, NULL, OPT_PING},
        {"admin", required_argument, NULL, OPT_ADMIN},
        {"memcache-tls", required_argument, NULL, OPT_MEMCACHE_TLS},
        {"resp-tls", required_argument, NULL, OPT_RESP_TLS},
        {"print-config", no_argument, NULL, OPT_PRINT_CONFIG},
        {"print-stats", no_argument, NULL, OPT_PRINT_STATS},
        {"check-config", no_argument, NULL, OPT_CHECK_CONFIG},
        {"version", no_argument, NULL, OPT_VERSION},
        {"pidfile", required_argument, NULL, OPT_PIDFILE},
        {"daemonize", no_argument, NULL, OPT_DAEMONIZE},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
};

/* Records "name=value" (or an "-o" argument as it is) for later, and the
 * flag it came from (NULL: -o). */
static void
push_flag(struct cli *cli, const char *flag, const char *name,
        const char *value, const char *unit)
{
    if (cli->noverride == CLI_MAX_OVERRIDES) {
        fprintf(stderr, "segcached: more than %d overrides\n",
                CLI_MAX_OVERRIDES);
        exit(EX_USAGE);
    }
    char *s = NULL;
    int rc = name == NULL ? asprintf(&s, "%s", value)
                          : asprintf(&s, "%s=%s%s", name, value, unit);
    if (rc < 0) {
        exit(EX_OSERR);
    }
    cli->flags[cli->noverride] = flag;
    cli->overrides[cli->noverride++] = s;
}

/* memcached's -I: digits, then k or m (either case) for KiB or MiB; plain
 * digits are bytes. Anything else is handed to the size parser as written
 * ("2g" reads as 2 GiB there, and is then refused as past 1 GB). */
static void
push_item_size(struct cli *cli, const char *arg)
{
    size_t n = strlen(arg);
    size_t digits = strspn(arg, "0123456789");
    char u = n > 0 ? (char)(arg[n - 1] | 0x20) : '\0';
    const char *unit = digits == 0 || digits != n - 1 ? NULL
                       : u == 'k'                     ? "KiB"
                       : u == 'm'                     ? "MiB"
                                                      : NULL;
    if (unit == NULL) {
        push_flag(cli, "-I", "memcache.item_size_max", arg, "");
        return;
    }
    char *v = strndup(arg, digits);
    if (v == NULL) {
        exit(EX_OSERR);
    }
    push_flag(cli, "-I", "memcache.item_size_max", v, unit);
    free(v);
}

static void
parse_one(struct cli *cli, int c)
{
    switch (c) {
    case OPT_CONFIG:
        cli->config = optarg;
        break;
    case 'o':
        push_flag(cli, NULL, NULL, optarg, "");
        break;
    case OPT_MEMCACHE:
        push_flag(cli, "--memcache", "memcache.listen", optarg, "");
        break;
    case OPT_RESP:
        push_flag(cli, "--resp", "resp.listen", optarg, "");
        break;
    case OPT_PING:
        push_flag(cli, "--ping", "ping.listen", optarg, "");
        break;
    case OPT_ADMIN:
        push_flag(cli, "--admin", "admin.listen", optarg, "");
        break;
    case OPT_MEMCACHE_TLS:
        push_flag(cli, "--memcache-tls", "memcache.tls_listen", optarg, "");
        break;
    case OPT_RESP_TLS:
        push_flag(cli, "--resp-tls", "resp.tls_listen", optarg, "");
        break;
    case 'Z':
        cli->tls = true;
        break;
    case 'p':
        cli->port = optarg;
        break;
    case 'l':
        cli->host = optarg;
        break;
    case 'm':
        /* memcached's -m 64 is MiB; a size with its own unit (64MiB, 1g)
         * is taken as written, never given a second unit */
        push_flag(cli, "-m", "seg.memory", optarg,
                optarg[0] != '\0' &&
                                optarg[strspn(optarg, "0123456789")] == '\0'
                        ? "MiB"
                        : "");
        break;
    case 'I':
        push_item_size(cli, optarg);
        break;
    case 't':
        push_flag(cli, "-t", "worker.threads", optarg, "");
        break;
    case 'c':
        push_flag(cli, "-c", "server.max_connections", optarg, "");
        break;
    case 'e':
        push_flag(cli, "-e", "seg.datapool", optarg, "");
        break;
    case 'v':
        cli->verbose++;
        break;
    case 'u':
        push_flag(cli, "-u", "process.user", optarg, "");
        break;
    case 'd':
    case OPT_DAEMONIZE:
        push_flag(cli, "-d", "process.daemonize", "true", "");
        break;
    case 'P':
    case OPT_PIDFILE:
        push_flag(cli, c == 'P' ? "-P" : "--pidfile", "process.pidfile", optarg,
                "");
        break;
    case OPT_PRINT_CONFIG:
        cli->print_config = true;
        break;
    case OPT_PRINT_STATS:
        cli->print_stats = true;
        break;
    case OPT_CHECK_CONFIG:
        cli->check_config = true;
        break;
    case 'V':
    case OPT_VERSION:
        printf("segcached %s\ncommit %s\nbuild %s\ncompiler %s\n",
                SEGCACHED_VERSION, SEGCACHED_COMMIT, SEGCACHED_BUILD,
                __VERSION__);
        exit(EX_OK);
    case 'h':
    case OPT_HELP:
        fputs(usage, stdout);
        exit(EX_OK);
    default:
        fputs(usage, stderr);
        exit(EX_USAGE);
    }
}

void
cli_parse(struct cli *cli, int argc, char **argv)
{
    memset(cli, 0, sizeof(*cli));
    int c;
    while ((c = getopt_long(argc, argv, "o:p:l:m:I:t:c:e:u:P:dvVhZ", longs,
                    NULL)) != -1) {
        parse_one(cli, c);
    }
    if (optind < argc) {
        fprintf(stderr, "segcached: unexpected argument: %s\n%s", argv[optind],
                usage);
        exit(EX_USAGE);
    }
}

void
cli_free(struct cli *cli)
{
    for (size_t i = 0; i < cli->noverride; i++) {
        free(cli->overrides[i]);
        cli->overrides[i] = NULL;
    }
    cli->noverride = 0;
}
