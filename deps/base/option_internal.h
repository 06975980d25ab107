/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by option.c and option_yaml.c only; not for other modules. */
#pragma once

#include "base/option.h"

#include <stdbool.h>
#include <stddef.h>

#define OPTION_NAME_MAX   128 /* longest dotted name we look up */
#define OPTION_ESCAPE_CAP 200 /* buffer for option_escape */

/* The row of section sec (slen bytes) and key (klen bytes); NULL if none. */
struct option *option_find_in_section(struct option *opts, size_t n,
        const char *sec, size_t slen, const char *key, size_t klen);
bool option_section_known(
        const struct option *opts, size_t n, const char *sec, size_t slen);

/* Parses NUL-terminated s as type: NULL on success or the reason it is
 * rejected ("not a size", "too large"). For OPTION_STR, v borrows s. */
const char *option_parse_value(
        option_type_e type, const char *s, union option_val *v);
/* Sets o (copying a string) and marks it set; STATUS_ENOMEM on failure. */
rstatus_i option_assign(struct option *o, const union option_val *v);
/* Sets a string option to s, taking ownership (s may be NULL). */
void option_assign_owned_str(struct option *o, char *s);

/* Untrusted text for a one-line message: printable ASCII as is, any other
 * byte as \xNN, cut short with "..."; buf holds OPTION_ESCAPE_CAP bytes. */
const char *option_escape(char *buf, size_t cap, const char *s, size_t len);
/* snprintf into err unless err is NULL or errlen 0. */
void option_error_printf(char *err, size_t errlen, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
