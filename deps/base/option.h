/* SPDX-License-Identifier: Apache-2.0 */
/* Options declared as tables, one row per option (STYLE.md section 7):
 *
 *   #define SEG_OPTION(ACTION)                                               \
 *       ACTION( seg_memory, OPTION_SIZE, 64 * MiB, "bytes for the store" ) \
 *       ACTION( seg_evict,  OPTION_STR,  "merge",  "eviction policy"     )
 *   typedef struct { SEG_OPTION(DECLARE_OPTION) } seg_options_st;
 *   seg_options_st o = { SEG_OPTION(INIT_OPTION) };   (values = defaults)
 *
 * One name per option everywhere: the row `seg_memory` is the YAML key
 * `memory` in section `seg` (the section is the row name up to its first
 * underscore) and `seg.memory` on the command line and in messages.
 *
 * Types and what they accept (YAML scalar or -o value):
 *   OPTION_BOOL      true/false, yes/no, on/off, 1/0
 *   OPTION_UINT      a decimal integer
 *   OPTION_SIZE      bytes, with an optional unit: 64MiB, 1GiB, 512KiB, 4096,
 *                    also KB/MB/GB/k/m/g read as binary multiples
 *   OPTION_DURATION  a number and its unit: 100ms, 30s, 5m or 5min, 1h, 1d;
 *                    a bare number other than 0 is refused with
 *                    OPTION_DURATION_BARE as the reason (held in
 *                    milliseconds)
 *   OPTION_FPN       a floating point number (finite)
 *   OPTION_STR       a string; a YAML sequence becomes "a,b,c"; a plain
 *                    YAML null (empty, ~, null) is NULL; via -o, valid
 *                    UTF-8 only (so option_print_all can always print it)
 * Units are read without regard to case; a space may separate number and
 * unit ("64 MiB"). No signs, fractions or spaces elsewhere.
 * Every row name must contain an underscore (<section>_<key>).
 * Not thread-safe: load and override at startup, then read from anywhere. */
#pragma once

#include "base/status.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Why "30" is not a duration: the units it could have meant. */
#define OPTION_DURATION_BARE "needs a unit (ms, s, m or min, h, d)"

typedef enum {
    OPTION_BOOL,
    OPTION_UINT,
    OPTION_SIZE,
    OPTION_DURATION,
    OPTION_FPN,
    OPTION_STR,
} option_type_e;

/* The member used is named after the type, so the table's type column
 * selects it in INIT_OPTION. */
union option_val {
    bool OPTION_BOOL;
    uint64_t OPTION_UINT;
    uint64_t OPTION_SIZE;
    uint64_t OPTION_DURATION; /* milliseconds */
    double OPTION_FPN;
    const char *OPTION_STR;
};

struct option {
    const char *name; /* table row name: seg_memory */
    const char *desc;
    option_type_e type;
    bool set;   /* given by a file or an override */
    bool owned; /* val.OPTION_STR was allocated here */
    union option_val default_val;
    union option_val val;
    /* where the value came from, for messages about it after loading: the
     * file name given to option_load_* (which must outlive the options)
     * and the line; NULL when set by an override or left at the default;
     * a command-line flag ("-m") with line 0 (option_set_by_flag) */
    const char *file;
    unsigned line;
};

#define DECLARE_OPTION(_name, _type, _default, _desc) struct option _name;
#define INIT_OPTION(_name, _type, _default, _desc)                             \
    ._name = {.name = #_name,                                                  \
            .desc = (_desc),                                                   \
            .type = (_type),                                                   \
            .default_val._type = (_default),                                   \
            .val._type = (_default)},
#define OPTION_CARDINALITY(_st) (sizeof(_st) / sizeof(struct option))

static inline bool
option_bool(const struct option *o)
{
    return o->val.OPTION_BOOL;
}

/* For OPTION_UINT, OPTION_SIZE and OPTION_DURATION (milliseconds). */
static inline uint64_t
option_uint(const struct option *o)
{
    return o->val.OPTION_UINT;
}

static inline double
option_fpn(const struct option *o)
{
    return o->val.OPTION_FPN;
}

static inline const char *
option_str(const struct option *o)
{
    return o->val.OPTION_STR;
}

/* Sets every value back to its default, freeing owned strings. */
void option_load_default(struct option *opts, size_t n);
/* Frees owned strings (values become defaults again). */
void option_free(struct option *opts, size_t n);

/* Loads a YAML file: a mapping of sections, each a mapping of options. On
 * any error returns STATUS_EINVAL (STATUS_ERROR if the file cannot be read,
 * STATUS_ENOMEM without memory) and writes one line to err (which may be
 * NULL), "<file>:<line>: <what>", e.g.
 *   "app.yml:12: seg.memory: not a size: 12XB"
 *   "app.yml:3: seg.memroy: unknown option"
 *   "app.yml:3: sge: unknown section"
 *   "app.yml:4: seg.memory: duplicate option"
 *   "app.yml:5: seg.memory: expected a size, got a mapping"
 *   "app.yml:7: not a mapping of sections"
 *   "app.yml:9: syntax error: <libyaml's problem> (<its context>)"
 *   "app.yml: cannot read: No such file or directory"
 * Reasons for values: "not a bool", "not an unsigned integer", "not a
 * size", "not a duration", "not a number", "too large", "no value".
 * An empty file, or one of only comments, sets nothing; so does a section
 * with no options ("seg:"). A file with an error changes no option.
 * Options named in the file are marked set; others keep their values.
 * Each remembers path and its line (option_where): path must outlive the
 * options. */
rstatus_i option_load_file(struct option *opts, size_t n, const char *path,
        char *err, size_t errlen);
/* The same for YAML held in memory; name is used in messages. */
rstatus_i option_load_yaml(struct option *opts, size_t n, const char *name,
        const char *yaml, size_t len, char *err, size_t errlen);

/* One override, "seg.memory=1GiB" or name "seg.memory" plus value; the
 * error names the option and the reason ("-o seg.memory: not a size"). */
rstatus_i option_set(struct option *opts, size_t n, const char *name,
        const char *value, char *err, size_t errlen);
rstatus_i option_set_assignment(struct option *opts, size_t n,
        const char *assignment, char *err, size_t errlen);

/* Looks up by dotted name "seg.memory"; NULL if unknown. */
struct option *option_find(struct option *opts, size_t n, const char *name);
/* Writes the dotted name of o into buf ("seg_memory" -> "seg.memory"). */
const char *option_dotted_name(const struct option *o, char *buf, size_t cap);
/* For the modules' option checks (seg_options_check, workers_options_check):
 * sets *bad to o and formats the reason into why; returns STATUS_EINVAL. */
rstatus_i option_refuse(const struct option *o, const struct option **bad,
        char *why, size_t cap, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));
/* Where o's value came from, followed by its dotted name, for a message
 * about a value that loaded but cannot be used: "app.yml:12: seg.evict"
 * (from a file), "-o seg.evict" (an override), "-m seg.memory" (a flag,
 * option_set_by_flag), "seg.evict" (the default). Returns buf. */
const char *option_where(const struct option *o, char *buf, size_t cap);
/* Records that the command-line flag flag ("-m", a string that must
 * outlive the options) set o's value, for option_where: o->file is flag
 * and o->line 0 (a file's lines count from 1). */
void option_set_by_flag(struct option *o, const char *flag);
/* Formats the value (sizes and durations with the largest exact unit,
 * numbers so they read back exactly; a NULL string is "~"). */
const char *option_format(const struct option *o, const union option_val *v,
        char *buf, size_t cap);
const char *option_type_str(option_type_e type);

/* Prints every option as a YAML document grouped by section, each with a
 * comment holding its type, default and description, and its current
 * value; the result loads back with option_load_file. */
void option_print_all(FILE *out, const struct option *opts, size_t n);
