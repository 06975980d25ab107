/* SPDX-License-Identifier: Apache-2.0 */
/* Resp LCS key1 key2 [LEN] [IDX] [MINMATCHLEN n] [WITHMATCHLEN], as Redis
 * 7.0.15 replies in RESP2 and RESP3: the classic dynamic-programming table
 * of LCS lengths, walked back from the end for the string and the matched
 * ranges (last match first), with Redis's guard: a table larger than
 * proto-max-bulk-len (512 MB) is refused. LEN alone keeps two rows of the
 * table instead of all of it, with the same guard and the same answer. */
#include "processor/keyspace.h"
#include "processor/resp_internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PROTO_MAX_BULK_LEN (512ULL * 1024 * 1024) /* Redis's default */

struct lcs_opts {
    bool len, idx, withmatchlen;
    int64_t minmatchlen;
};

static bool
word_is(const struct resp_arg *a, const char *word)
{
    size_t n = strnlen(a->data, a->len);
    return n == strlen(word) && strncasecmp(a->data, word, n) == 0;
}

/* false after an error reply (*rc) */
static bool
lcs_parse(struct resp_ctx *x, struct lcs_opts *o, rstatus_i *rc)
{
    memset(o, 0, sizeof(*o));
    for (uint32_t j = 3; j < x->argc; j++) {
        const struct resp_arg *a = &x->argv[j];
        if (word_is(a, "idx")) {
            o->idx = true;
        } else if (word_is(a, "len")) {
            o->len = true;
        } else if (word_is(a, "withmatchlen")) {
            o->withmatchlen = true;
        } else if (word_is(a, "minmatchlen") && j + 1 < x->argc) {
            if (!resp_arg_int64(&x->argv[j + 1], &o->minmatchlen)) {
                *rc = resp_err_int(x);
                return false;
            }
            o->minmatchlen = o->minmatchlen < 0 ? 0 : o->minmatchlen;
            j++;
        } else {
            *rc = resp_err_syntax(x);
            return false;
        }
    }
    if (o->idx && o->len) {
        *rc = resp_err(x, "ERR If you want both the length and indexes, "
                          "please just use IDX.");
        return false;
    }
    return true;
}

/* The LCS length with two rows. */
static uint32_t
lcs_len(const uint8_t *a, uint32_t alen, const uint8_t *b, uint32_t blen,
        uint32_t *row)
{
    uint32_t *prev = row, *cur = row + blen + 1;
    memset(prev, 0, (blen + 1) * sizeof(*prev));
    cur[0] = 0;
    for (uint32_t i = 1; i <= alen; i++) {
        for (uint32_t j = 1; j <= blen; j++) {
            cur[j] = a[i - 1] == b[j - 1]   ? prev[j - 1] + 1
                     : prev[j] > cur[j - 1] ? prev[j]
                                            : cur[j - 1];
        }
        uint32_t *t = prev;
        prev = cur;
        cur = t;
    }
    return prev[blen];
}

#define LCS(i, j) dp[(size_t)(j) + (size_t)(i) * (blen + 1)]

static void
lcs_table(const uint8_t *a, uint32_t alen, const uint8_t *b, uint32_t blen,
        uint32_t *dp)
{
    for (uint32_t i = 0; i <= alen; i++) {
        for (uint32_t j = 0; j <= blen; j++) {
            if (i == 0 || j == 0) {
                LCS(i, j) = 0;
            } else if (a[i - 1] == b[j - 1]) {
                LCS(i, j) = LCS(i - 1, j - 1) + 1;
            } else {
                uint32_t l1 = LCS(i - 1, j), l2 = LCS(i, j - 1);
                LCS(i, j) = l1 > l2 ? l1 : l2;
            }
        }
    }
}

struct range {
    uint32_t a0, a1, b0, b1;
};

/* Walks the table back from (alen, blen): fills str (the LCS, from its
 * end) and, when ranges is not NULL, the ranges of matches, last first;
 * returns how many ranges passed minmatchlen. */
static size_t
lcs_walk(const uint8_t *a, uint32_t alen, const uint8_t *b, uint32_t blen,
        const uint32_t *dp, uint8_t *str, struct range *ranges, int64_t minlen)
{
    uint32_t i = alen, j = blen, idx = LCS(alen, blen);
    size_t n = 0;
    bool open = false;
    struct range r = {0};
    while (i > 0 && j > 0) {
        bool emit = false;
        if (a[i - 1] == b[j - 1]) {
            str[--idx] = a[i - 1];
            if (!open) {
                r = (struct range){i - 1, i - 1, j - 1, j - 1};
                open = true;
            } else if (r.a0 == i && r.b0 == j) {
                r.a0--;
                r.b0--;
            } else {
                emit = true;
            }
            emit |= r.a0 == 0 || r.b0 == 0;
            i--;
            j--;
        } else {
            if (LCS(i - 1, j) > LCS(i, j - 1)) {
                i--;
            } else {
                j--;
            }
            emit = open;
        }
        if (emit) {
            uint32_t mlen = r.a1 - r.a0 + 1;
            if (ranges != NULL && (minlen == 0 || mlen >= minlen)) {
                ranges[n++] = r;
            }
            open = false;
        }
    }
    return n;
}

static rstatus_i
reply_idx(struct resp_ctx *x, const struct range *ranges, size_t n,
        uint32_t len, bool withlen)
{
    rstatus_i rc = resp_compose_map(x->w, 2);
    rc = rc == STATUS_OK ? resp_compose_bulk(x->w, "matches", 7) : rc;
    rc = rc == STATUS_OK ? resp_compose_array(x->w, n) : rc;
    for (size_t i = 0; rc == STATUS_OK && i < n; i++) {
        const struct range *r = &ranges[i];
        rc = resp_compose_array(x->w, withlen ? 3 : 2);
        rc = rc == STATUS_OK ? resp_compose_array(x->w, 2) : rc;
        rc = rc == STATUS_OK ? resp_compose_integer(x->w, r->a0) : rc;
        rc = rc == STATUS_OK ? resp_compose_integer(x->w, r->a1) : rc;
        rc = rc == STATUS_OK ? resp_compose_array(x->w, 2) : rc;
        rc = rc == STATUS_OK ? resp_compose_integer(x->w, r->b0) : rc;
        rc = rc == STATUS_OK ? resp_compose_integer(x->w, r->b1) : rc;
        if (withlen && rc == STATUS_OK) {
            rc = resp_compose_integer(x->w, r->a1 - r->a0 + 1);
        }
    }
    rc = rc == STATUS_OK ? resp_compose_bulk(x->w, "len", 3) : rc;
    return rc == STATUS_OK ? resp_compose_integer(x->w, len) : rc;
}

/* The reply for two strings (views, valid until the next write). */
static rstatus_i
lcs_reply(struct resp_ctx *x, const uint8_t *a, uint32_t alen, const uint8_t *b,
        uint32_t blen, const struct lcs_opts *o)
{
    uint64_t cells = (uint64_t)(alen + 1) * (blen + 1);
    if (cells * sizeof(uint32_t) > PROTO_MAX_BULK_LEN) {
        return resp_err(x, "ERR Insufficient memory, transient memory for "
                           "LCS exceeds proto-max-bulk-len");
    }
    if (o->len) {
        uint32_t *row = malloc(2 * ((size_t)blen + 1) * sizeof(*row));
        if (row == NULL) {
            goto nomem;
        }
        uint32_t n = lcs_len(a, alen, b, blen, row);
        free(row);
        return resp_compose_integer(x->w, n);
    }
    uint32_t *dp = malloc(cells * sizeof(*dp));
    if (dp == NULL) {
        goto nomem;
    }
    lcs_table(a, alen, b, blen, dp);
    uint32_t len = LCS(alen, blen);
    uint8_t *str = malloc(len + 1);
    /* at most one range per matched byte */
    struct range *ranges = o->idx ? malloc((len + 1) * sizeof(*ranges)) : NULL;
    rstatus_i rc;
    if (str == NULL || (o->idx && ranges == NULL)) {
        rc = resp_err(x, "ERR Insufficient memory, failed allocating "
                         "transient memory for LCS");
    } else {
        size_t n = lcs_walk(a, alen, b, blen, dp, str, ranges, o->minmatchlen);
        rc = o->idx ? reply_idx(x, ranges, n, len, o->withmatchlen)
                    : resp_compose_bulk(x->w, str, len);
    }
    free(dp);
    free(str);
    free(ranges);
    return rc;
nomem:
    return resp_err(x, "ERR Insufficient memory, failed allocating transient "
                       "memory for LCS");
}

/* The keys are looked up (and their types checked) before the options are
 * read, as Redis does; a missing key is an empty string. */
rstatus_i
resp_cmd_lcs(struct resp_ctx *x)
{
    struct storage_item ia, ib;
    const struct resp_arg *ka = &x->argv[1], *kb = &x->argv[2];
    ks_lookup_e la = ks_lookup(resp_db(x), ka->data, ka->len,
            STORAGE_TYPE_STRING, KS_COPY, x->c->now_ms, &ia);
    ks_lookup_e lb = ks_lookup(resp_db(x), kb->data, kb->len,
            STORAGE_TYPE_STRING, KS_COPY, x->c->now_ms, &ib);
    if (la == KS_WRONGTYPE || lb == KS_WRONGTYPE) {
        return resp_err(x, "ERR The specified keys must contain string values");
    }
    struct lcs_opts o;
    rstatus_i rc;
    if (!lcs_parse(x, &o, &rc)) {
        return rc;
    }
    const uint8_t *a = la == KS_OK ? ia.value : (const uint8_t *)"";
    const uint8_t *b = lb == KS_OK ? ib.value : (const uint8_t *)"";
    size_t alen = la == KS_OK ? ia.vlen : 0, blen = lb == KS_OK ? ib.vlen : 0;
    if (alen >= UINT32_MAX - 1 || blen >= UINT32_MAX - 1) {
        return resp_err(x, "ERR String too long for LCS");
    }
    return lcs_reply(x, a, (uint32_t)alen, b, (uint32_t)blen, &o);
}
