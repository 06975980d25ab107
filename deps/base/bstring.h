/* SPDX-License-Identifier: Apache-2.0 */
/* Non-owning byte-string views and strict decimal parsing. A view points
 * into memory owned by someone else (a read buffer, a literal) and lives
 * only as long as that memory stays where it is. Any thread. */
#pragma once

#include "base/status.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct bstring {
    size_t len;
    const char *data; /* not NUL-terminated; may be NULL when len is 0 */
};

/* A view of a string literal: BSTRING_LITERAL("get"). */
#define BSTRING_LITERAL(_s) ((struct bstring){sizeof(_s) - 1, (_s)})

static inline struct bstring
bstring_of(const void *data, size_t len)
{
    return (struct bstring){len, (const char *)data};
}

static inline struct bstring
bstring_of_cstr(const char *s)
{
    return (struct bstring){strlen(s), s};
}

static inline bool
bstring_empty(const struct bstring *s)
{
    return s->len == 0;
}

/* memcmp order, a shorter prefix first: <0, 0 or >0. */
int bstring_compare(const struct bstring *a, const struct bstring *b);
bool bstring_equal(const struct bstring *a, const struct bstring *b);
bool bstring_equal_cstr(const struct bstring *s, const char *cstr);
/* ASCII case-insensitive (command names: "GET" equals "get"). */
bool bstring_equal_cstr_nocase(const struct bstring *s, const char *cstr);

/* Strict decimal parsing for protocol numbers. Accepted: one or more ASCII
 * digits, leading zeros allowed ("007" is 7); bstring_to_i64 also takes one
 * leading '-' ("-0" is 0). Rejected with STATUS_EINVAL, *v untouched: an
 * empty string, '+', a '-' for u64, spaces anywhere, any other byte, and
 * values out of range (u64 above 18446744073709551615, i64 outside
 * -9223372036854775808 .. 9223372036854775807). A protocol that rejects
 * leading zeros (Redis) checks the first digit itself. */
rstatus_i bstring_to_u64(const struct bstring *s, uint64_t *v);
rstatus_i bstring_to_i64(const struct bstring *s, int64_t *v);
