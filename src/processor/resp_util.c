/* SPDX-License-Identifier: Apache-2.0 */
/* Pure helpers of the resp processor, as Redis 7.0.15 does them: glob
 * matching (KEYS, SCAN MATCH, CONFIG GET), long double parsing and
 * formatting (INCRBYFLOAT), SCAN cursors. No state; any thread. */
#include "processor/resp_internal.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Redis recurses once per '*' run; later versions cap the depth so a
 * pattern of many stars cannot exhaust the stack. We cap it too. */
#define GLOB_NEST_MAX     1000
#define LONG_DOUBLE_CHARS (5 * 1024) /* Redis's MAX_LONG_DOUBLE_CHARS */

static int
fold(int c, bool nocase)
{
    return nocase ? tolower(c) : c;
}

/* One bracket class at p (after '['), against byte c. Moves *pp and *plen
 * to the closing ']' (or the last byte when unclosed), as Redis does. */
static bool
glob_class(const unsigned char **pp, size_t *plen, int c, bool nocase)
{
    const unsigned char *p = *pp;
    size_t n = *plen;
    bool not = n > 0 && p[0] == '^';
    bool match = false;
    if (not ) {
        p++;
        n--;
    }
    for (;;) {
        if (n == 0) {
            p--;
            n++;
            break;
        }
        if (p[0] == '\\' && n >= 2) {
            p++;
            n--;
            if (p[0] == c) {
                match = true;
            }
        } else if (p[0] == ']') {
            break;
        } else if (n >= 3 && p[1] == '-') {
            int start = fold(p[0], nocase);
            int end = fold(p[2], nocase);
            if (start > end) {
                int t = start;
                start = end;
                end = t;
            }
            p += 2;
            n -= 2;
            if (fold(c, nocase) >= start && fold(c, nocase) <= end) {
                match = true;
            }
        } else if (fold(p[0], nocase) == fold(c, nocase)) {
            match = true;
        }
        p++;
        n--;
    }
    *pp = p;
    *plen = n;
    return not ? !match : match;
}

/* Redis's stringmatchlen_impl, case by case (a flat state machine, kept in
 * one piece so it can be read against Redis's util.c), with the bounds
 * checks Redis gets from its NUL terminator. */
static bool
glob(const unsigned char *p, size_t plen, const unsigned char *s, size_t slen,
        bool nocase, bool *skip_longer, int nest)
{
    if (nest > GLOB_NEST_MAX) {
        return false;
    }
    while (plen > 0 && slen > 0) {
        switch (p[0]) {
        case '*':
            while (plen > 1 && p[1] == '*') {
                p++;
                plen--;
            }
            if (plen == 1) {
                return true;
            }
            while (slen > 0) {
                if (glob(p + 1, plen - 1, s, slen, nocase, skip_longer,
                            nest + 1)) {
                    return true;
                }
                if (*skip_longer) {
                    return false;
                }
                s++;
                slen--;
            }
            /* no match for the rest from anywhere: a longer match of an
             * earlier star cannot help either */
            *skip_longer = true;
            return false;
        case '?':
            s++;
            slen--;
            break;
        case '[':
            p++;
            plen--;
            if (!glob_class(&p, &plen, s[0], nocase)) {
                return false;
            }
            s++;
            slen--;
            break;
        case '\\':
            if (plen >= 2) {
                p++;
                plen--;
            }
            __attribute__((fallthrough));
        default:
            if (fold(p[0], nocase) != fold(s[0], nocase)) {
                return false;
            }
            s++;
            slen--;
            break;
        }
        p++;
        plen--;
        if (slen == 0) {
            while (plen > 0 && p[0] == '*') {
                p++;
                plen--;
            }
            break;
        }
    }
    return plen == 0 && slen == 0;
}

bool
resp_glob_match(const char *pattern, size_t plen, const char *s, size_t slen,
        bool nocase)
{
    bool skip_longer = false;
    return glob((const unsigned char *)pattern, plen, (const unsigned char *)s,
            slen, nocase, &skip_longer, 0);
}

bool
resp_parse_long_double(const char *p, size_t len, long double *v)
{
    char buf[LONG_DOUBLE_CHARS];
    if (len == 0 || len >= sizeof(buf)) {
        return false;
    }
    memcpy(buf, p, len);
    buf[len] = '\0';
    errno = 0;
    char *end;
    long double value = strtold(buf, &end);
    if (isspace((unsigned char)buf[0]) || end[0] != '\0' || errno == EINVAL ||
            isnan(value)) {
        return false;
    }
    if (errno == ERANGE && (isinf(value) || fpclassify(value) == FP_ZERO)) {
        return false;
    }
    *v = value;
    return true;
}

size_t
resp_format_long_double(char *buf, size_t cap, long double v)
{
    int n = snprintf(buf, cap, "%.17Lf", v);
    if (n < 0 || (size_t)n + 1 > cap) {
        return 0;
    }
    size_t l = (size_t)n;
    if (memchr(buf, '.', l) != NULL) {
        while (l > 0 && buf[l - 1] == '0') {
            l--;
        }
        if (l > 0 && buf[l - 1] == '.') {
            l--;
        }
    }
    if (l == 2 && buf[0] == '-' && buf[1] == '0') {
        buf[0] = '0';
        l = 1;
    }
    buf[l] = '\0';
    return l;
}

bool
resp_parse_cursor(const char *p, size_t len, uint64_t *cursor)
{
    char buf[128];
    if (len >= sizeof(buf)) {
        return false;
    }
    memcpy(buf, p, len);
    buf[len] = '\0';
    if (isspace((unsigned char)buf[0])) {
        return false;
    }
    errno = 0;
    char *end;
    unsigned long long v = strtoull(buf, &end, 10);
    if (end[0] != '\0' || errno == ERANGE) {
        return false;
    }
    *cursor = v;
    return true;
}
