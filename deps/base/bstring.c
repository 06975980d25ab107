/* SPDX-License-Identifier: Apache-2.0 */
/* Byte-string views: comparison and strict decimal parsing. */
#include "base/bstring.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

int
bstring_compare(const struct bstring *a, const struct bstring *b)
{
    size_t n = a->len < b->len ? a->len : b->len;
    int c = n == 0 ? 0 : memcmp(a->data, b->data, n);
    if (c != 0) {
        return c;
    }
    if (a->len == b->len) {
        return 0;
    }
    return a->len < b->len ? -1 : 1;
}

bool
bstring_equal(const struct bstring *a, const struct bstring *b)
{
    return a->len == b->len &&
           (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

bool
bstring_equal_cstr(const struct bstring *s, const char *cstr)
{
    struct bstring c = bstring_of_cstr(cstr);
    return bstring_equal(s, &c);
}

bool
bstring_equal_cstr_nocase(const struct bstring *s, const char *cstr)
{
    size_t n = strlen(cstr);
    return s->len == n && (n == 0 || strncasecmp(s->data, cstr, n) == 0);
}

/* Digits only, at least one; the magnitude must not exceed max. */
static rstatus_i
digits_to_u64(const char *p, size_t len, uint64_t max, uint64_t *v)
{
    uint64_t acc = 0;
    if (len == 0) {
        return STATUS_EINVAL;
    }
    for (size_t i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return STATUS_EINVAL;
        }
        uint64_t d = (uint64_t)(p[i] - '0');
        if (acc > (max - d) / 10) {
            return STATUS_EINVAL; /* acc * 10 + d > max */
        }
        acc = acc * 10 + d;
    }
    *v = acc;
    return STATUS_OK;
}

rstatus_i
bstring_to_u64(const struct bstring *s, uint64_t *v)
{
    return digits_to_u64(s->data, s->len, UINT64_MAX, v);
}

rstatus_i
bstring_to_i64(const struct bstring *s, int64_t *v)
{
    uint64_t mag;
    if (s->len > 0 && s->data[0] == '-') {
        /* |INT64_MIN| = INT64_MAX + 1 */
        if (digits_to_u64(s->data + 1, s->len - 1, (uint64_t)INT64_MAX + 1,
                    &mag) != STATUS_OK) {
            return STATUS_EINVAL;
        }
        *v = mag == 0 ? 0 : -(int64_t)(mag - 1) - 1;
        return STATUS_OK;
    }
    if (digits_to_u64(s->data, s->len, INT64_MAX, &mag) != STATUS_OK) {
        return STATUS_EINVAL;
    }
    *v = (int64_t)mag;
    return STATUS_OK;
}
