/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes option loading: the input is loaded as YAML into a small table
 * with every option type, and also applied as one "-o name=value" override.
 * Whatever loads must print as YAML that loads back to the same values. */
#include "base/option.h"

#include "base/util.h"

#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* clang-format off */
#define FUZZ_OPTION(ACTION)                                              \
    ACTION( server_port,    OPTION_UINT,     11211,    "port"          ) \
    ACTION( server_detach,  OPTION_BOOL,     false,    "detach"        ) \
    ACTION( server_timeout, OPTION_DURATION, 30000,    "idle timeout"  ) \
    ACTION( seg_memory,     OPTION_SIZE,     64 * MiB, "store bytes"   ) \
    ACTION( seg_ratio,      OPTION_FPN,      0.5,      "ratio"         ) \
    ACTION( seg_evict,      OPTION_STR,      "merge",  "policy"        ) \
    ACTION( log_file,       OPTION_STR,      NULL,     "log path"      )
/* clang-format on */
typedef struct {
    FUZZ_OPTION(DECLARE_OPTION)
} fuzz_options_st;

#define NOPT OPTION_CARDINALITY(fuzz_options_st)

static bool
same_value(const struct option *a, const struct option *b)
{
    switch (a->type) {
    case OPTION_BOOL:
        return a->val.OPTION_BOOL == b->val.OPTION_BOOL;
    case OPTION_FPN:
        return a->val.OPTION_FPN == b->val.OPTION_FPN;
    case OPTION_STR:
        if (a->val.OPTION_STR == NULL || b->val.OPTION_STR == NULL) {
            return a->val.OPTION_STR == b->val.OPTION_STR;
        }
        return strcmp(a->val.OPTION_STR, b->val.OPTION_STR) == 0;
    default:
        return a->val.OPTION_UINT == b->val.OPTION_UINT;
    }
}

/* Prints opts and loads the text into a fresh table: it must load and
 * every value must come back. */
static void
check_round_trip(const struct option *opts)
{
    char *text = NULL;
    size_t len = 0;
    char err[256];
    FILE *f = open_memstream(&text, &len);
    if (f == NULL) {
        return;
    }
    option_print_all(f, opts, NOPT);
    fclose(f);
    fuzz_options_st copy = {FUZZ_OPTION(INIT_OPTION)};
    struct option *c = (struct option *)&copy;
    if (option_load_yaml(c, NOPT, "print", text, len, err, sizeof(err)) !=
            STATUS_OK) {
        fprintf(stderr, "printed config does not load: %s\n%s\n", err, text);
        abort();
    }
    for (size_t i = 0; i < NOPT; i++) {
        if (!same_value(&opts[i], &c[i])) {
            fprintf(stderr, "%s changed in the round trip\n%s\n", c[i].name,
                    text);
            abort();
        }
    }
    option_free(c, NOPT);
    free(text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_options_st o = {FUZZ_OPTION(INIT_OPTION)};
    struct option *opts = (struct option *)&o;
    char err[256];
    if (option_load_yaml(opts, NOPT, "fuzz", (const char *)data, size, err,
                sizeof(err)) == STATUS_OK) {
        check_round_trip(opts);
    }
    char line[256]; /* the first line as an override */
    size_t n = 0;
    while (n < size && n < sizeof(line) - 1 && data[n] != '\n' &&
            data[n] != '\0') {
        line[n] = (char)data[n];
        n++;
    }
    line[n] = '\0';
    if (option_set_assignment(opts, NOPT, line, err, sizeof(err)) ==
            STATUS_OK) {
        check_round_trip(opts);
    }
    option_free(opts, NOPT);
    return 0;
}
