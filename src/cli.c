/* SPDX-License-Identifier: Apache-2.0 */
/* Command-line parsing with getopt_long. */
#include "cli.h"

#include "base/util.h"

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

static const char usage[] =
        "usage: segcached [options]\n"
        "  --config FILE          load a YAML configuration file\n"
        "  -o SECTION.OPTION=VAL  override one option (repeatable); also\n"
        "                         memcached's TLS list: -o ssl_chain_cert=F,\n"
        "                         ssl_key=F,ssl_ca_cert=F,ssl_verify_mode=N,\n"
        "                         ssl_min_version=N,ssl_ciphers=L\n"
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

/* memcached's -o names for TLS (memcached -h), and the option each sets, so
 * a memcached command line such as
 *   -Z -o ssl_chain_cert=c.pem,ssl_key=k.pem,ssl_verify_mode=2
 * runs as it is. values: memcached's number n means values[n] (NULL there:
 * refused with why); NULL: the value as written. A name with a fixed
 * value (bare) takes none, as in memcached. */
struct mc_tls_name {
    const char *mc;   /* memcached's name */
    const char *flag; /* "-o ssl_key": the flag messages name */
    const char *name; /* segcached's option; NULL: nothing to set */
    const char *const *values;
    size_t nvalue;
    const char *bare; /* the value of a name written without one */
    const char *why;  /* why values[n] may be NULL */
};

static const char *const verify_modes[] = {
        "no", "optional", "yes", "yes"}; /* None, Request, Require, Once */
static const char *const min_versions[] = {
        NULL, NULL, "TLSv1.2 TLSv1.3", "TLSv1.3"}; /* tlsv1.0 .. tlsv1.3 */

/* clang-format off */
static const struct mc_tls_name mc_tls_names[] = {
    {"ssl_chain_cert", "-o ssl_chain_cert", "tls.cert_file", NULL, 0, NULL, NULL},
    {"ssl_key", "-o ssl_key", "tls.key_file", NULL, 0, NULL, NULL},
    {"ssl_ca_cert", "-o ssl_ca_cert", "tls.ca_cert_file", NULL, 0, NULL, NULL},
    {"ssl_ciphers", "-o ssl_ciphers", "tls.ciphers", NULL, 0, NULL, NULL},
    {"ssl_verify_mode", "-o ssl_verify_mode", "memcache.tls_auth_clients",
            verify_modes, ARRAY_SIZE(verify_modes), NULL, NULL},
    {"ssl_min_version", "-o ssl_min_version", "tls.protocols",
            min_versions, ARRAY_SIZE(min_versions), NULL,
            "TLS 1.0 and 1.1 are not served (tls.protocols)"},
    {"ssl_kernel_tls", "-o ssl_kernel_tls", "tls.ktls", NULL, 0, "true", NULL},
    /* memcached's session cache is off unless asked for; ours is on
     * (tls.session_cache), so asking changes nothing */
    {"ssl_session_cache", "-o ssl_session_cache", NULL, NULL, 0, "", NULL},
};
/* clang-format on */

static const struct mc_tls_name *
mc_tls_find(const char *name, size_t len)
{
    for (size_t i = 0; i < ARRAY_SIZE(mc_tls_names); i++) {
        if (strlen(mc_tls_names[i].mc) == len &&
                memcmp(mc_tls_names[i].mc, name, len) == 0) {
            return &mc_tls_names[i];
        }
    }
    return NULL;
}

static void
mc_tls_refuse(const struct mc_tls_name *t, const char *why, const char *value)
{
    fprintf(stderr, "segcached: %s: %s: %s\n", t->flag, why, value);
    exit(EX_USAGE);
}

/* One "name[=value]" of memcached's -o list, len bytes at item. */
static void
push_mc_item(struct cli *cli, const char *item, size_t len)
{
    char *s = strndup(item, len);
    if (s == NULL) {
        exit(EX_OSERR);
    }
    char *eq = strchr(s, '=');
    const struct mc_tls_name *t =
            mc_tls_find(s, eq != NULL ? (size_t)(eq - s) : len);
    if (t == NULL) {
        push_flag(cli, NULL, NULL, s, ""); /* refused as an unknown option */
    } else if ((t->bare != NULL) != (eq == NULL)) {
        mc_tls_refuse(
                t, t->bare != NULL ? "takes no value" : "needs a value", s);
    } else if (t->bare != NULL) {
        if (t->name != NULL) {
            push_flag(cli, t->flag, t->name, t->bare, "");
        }
    } else if (t->values == NULL) {
        push_flag(cli, t->flag, t->name, eq + 1, "");
    } else {
        const char *v = eq + 1;
        size_t n = v[0] >= '0' && v[0] <= '9' && v[1] == '\0'
                           ? (size_t)(v[0] - '0')
                           : SIZE_MAX;
        if (n >= t->nvalue) {
            char why[64];
            snprintf(why, sizeof(why), "not a number from 0 to %zu",
                    t->nvalue - 1);
            mc_tls_refuse(t, why, v);
        }
        if (t->values[n] == NULL) {
            mc_tls_refuse(t, t->why, v);
        }
        push_flag(cli, t->flag, t->name, t->values[n], "");
    }
    free(s);
}

/* -o: "section.name=value" is one of ours, taken as written (a value may
 * hold commas); a name without a dot is memcached's comma-separated list. */
static void
push_o(struct cli *cli, const char *arg)
{
    size_t name_len = strcspn(arg, "=,");
    if (memchr(arg, '.', name_len) != NULL) {
        push_flag(cli, NULL, NULL, arg, "");
        return;
    }
    for (const char *p = arg;; p++) {
        size_t len = strcspn(p, ",");
        push_mc_item(cli, p, len);
        p += len;
        if (*p == '\0') {
            break;
        }
    }
}

static void
parse_one(struct cli *cli, int c)
{
    switch (c) {
    case OPT_CONFIG:
        cli->config = optarg;
        break;
    case 'o':
        push_o(cli, optarg);
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
