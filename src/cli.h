/* SPDX-License-Identifier: Apache-2.0 */
/* The command line, parsed into overrides applied after the config file.
 * Kept apart from main.c because getopt.h's `struct option` would clash
 * with base/option.h's. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define CLI_MAX_OVERRIDES 256

struct cli {
    const char *config;                 /* --config FILE, or NULL */
    char *overrides[CLI_MAX_OVERRIDES]; /* "section.name=value" */
    /* the flag each came from ("-m", "--memcache"), named in messages about
     * its value; NULL for -o */
    const char *flags[CLI_MAX_OVERRIDES];
    size_t noverride;
    const char *host; /* -l: host of the data listeners */
    const char *port; /* -p: port of the memcache listener */
    int verbose;      /* -v count */
    bool tls;         /* -Z: the memcache listener speaks TLS */
    bool print_config;
    bool print_stats;
    bool check_config;
};

/* Exits with EX_USAGE and a message on a bad command line, EX_OK after
 * --help or --version. */
void cli_parse(struct cli *cli, int argc, char **argv);
void cli_free(struct cli *cli);
