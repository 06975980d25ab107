/* SPDX-License-Identifier: Apache-2.0 */
/* Reply composition. Each function works out the most bytes it can write,
 * makes room once (the fast path is a single comparison), then writes at
 * wpos directly. RESP2/RESP3 differences follow Redis 7.0.15's
 * networking.c (addReplyNull, addReplyMapLen, addReplyDouble, ...). */
#include "protocol/resp/compose.h"

#include "protocol/resp/internal.h"
#include "protocol/resp/request.h"

#include "base/buf.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define CRLF "\r\n"

/* room()'s slow path: grow buf, or go on in the buffer the writer's spill
 * gives (a reply past max). */
static __attribute__((noinline)) char *
room_grow(struct resp_writer *w, size_t n)
{
    if (buf_reserve(w->buf, n, w->max) != STATUS_OK &&
            (w->spill == NULL || w->spill(w, n) != STATUS_OK ||
                    buf_reserve(w->buf, n, w->max) != STATUS_OK)) {
        INCR(resp_metrics, resp_compose_ex);
        return NULL;
    }
    return w->buf->wpos;
}

/* Room for n more bytes at wpos, or NULL (counted) if the buffer cannot
 * grow that far. */
static inline char *
room(struct resp_writer *w, size_t n)
{
    if (likely(buf_wsize(w->buf) >= n)) {
        return w->buf->wpos;
    }
    return room_grow(w, n);
}

static size_t
format_uint64(char *dst, uint64_t u)
{
    /* two digits a step from a table, written from the end: half the
     * divisions of one digit a step (every bulk header and integer reply
     * passes here) */
    static const char pairs[201] = "00010203040506070809"
                                   "10111213141516171819"
                                   "20212223242526272829"
                                   "30313233343536373839"
                                   "40414243444546474849"
                                   "50515253545556575859"
                                   "60616263646566676869"
                                   "70717273747576777879"
                                   "80818283848586878889"
                                   "90919293949596979899";
    static const uint64_t pow10[19] = {10ULL, 100ULL, 1000ULL, 10000ULL,
            100000ULL, 1000000ULL, 10000000ULL, 100000000ULL, 1000000000ULL,
            10000000000ULL, 100000000000ULL, 1000000000000ULL,
            10000000000000ULL, 100000000000000ULL, 1000000000000000ULL,
            10000000000000000ULL, 100000000000000000ULL, 1000000000000000000ULL,
            10000000000000000000ULL};
    size_t len = 1;
    while (len < 20 && u >= pow10[len - 1]) {
        len++;
    }
    char *p = dst + len;
    while (u >= 100) {
        unsigned d = (unsigned)(u % 100) * 2;
        u /= 100;
        *--p = pairs[d + 1];
        *--p = pairs[d];
    }
    if (u >= 10) {
        unsigned d = (unsigned)u * 2;
        *--p = pairs[d + 1];
        *--p = pairs[d];
    } else {
        *--p = (char)('0' + u);
    }
    return len;
}

size_t
resp_format_int64(char *dst, int64_t v)
{
    /* negate as unsigned so INT64_MIN works */
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    if (v < 0) {
        *dst = '-';
        return 1 + format_uint64(dst + 1, u);
    }
    return format_uint64(dst, u);
}

/* "<c><u>\r\n" for headers; at most 1 + 20 + 2 bytes. */
static rstatus_i
header(struct resp_writer *w, char c, uint64_t u)
{
    char *p = room(w, 1 + RESP_INT64_MAXLEN + 2);
    if (p == NULL) {
        return STATUS_ENOMEM;
    }
    char *start = p;
    *p++ = c;
    p += format_uint64(p, u);
    *p++ = '\r';
    *p++ = '\n';
    w->buf->wpos += p - start;
    return STATUS_OK;
}

/* "<c><data>\r\n" */
static rstatus_i
line(struct resp_writer *w, char c, const void *data, size_t len)
{
    char *p = room(w, len + 3);
    if (p == NULL) {
        return STATUS_ENOMEM;
    }
    p[0] = c;
    if (len > 0) {
        memcpy(p + 1, data, len);
    }
    p[len + 1] = '\r';
    p[len + 2] = '\n';
    w->buf->wpos += len + 3;
    return STATUS_OK;
}

rstatus_i
resp_compose_raw(struct resp_writer *w, const void *data, size_t len)
{
    char *p = room(w, len);
    if (p == NULL) {
        return STATUS_ENOMEM;
    }
    if (len > 0) {
        memcpy(p, data, len);
    }
    w->buf->wpos += len;
    return STATUS_OK;
}

rstatus_i
resp_compose_simple(struct resp_writer *w, const char *s, size_t len)
{
    return line(w, '+', s, len);
}

rstatus_i
resp_compose_ok(struct resp_writer *w)
{
    return resp_compose_raw(w, "+OK" CRLF, 5);
}

rstatus_i
resp_compose_error(struct resp_writer *w, const char *msg, size_t len)
{
    char *p = room(w, len + 3);
    if (p == NULL) {
        return STATUS_ENOMEM;
    }
    p[0] = '-';
    for (size_t i = 0; i < len; i++) { /* as Redis's sdsmapchars */
        char c = msg[i];
        p[i + 1] = (c == '\r' || c == '\n') ? ' ' : c;
    }
    p[len + 1] = '\r';
    p[len + 2] = '\n';
    w->buf->wpos += len + 3;
    return STATUS_OK;
}

rstatus_i
resp_compose_error_fmt(struct resp_writer *w, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n < 0) {
        n = 0;
    }
    return resp_compose_error(w, msg, size_min((size_t)n, sizeof(msg) - 1));
}

rstatus_i
resp_compose_integer(struct resp_writer *w, int64_t v)
{
    char *p = room(w, 1 + RESP_INT64_MAXLEN + 2);
    if (p == NULL) {
        return STATUS_ENOMEM;
    }
    char *start = p;
    *p++ = ':';
    p += resp_format_int64(p, v);
    *p++ = '\r';
    *p++ = '\n';
    w->buf->wpos += p - start;
    return STATUS_OK;
}

char *
resp_compose_bulk_reserve(struct resp_writer *w, size_t len)
{
    char *p = room(w, 1 + RESP_INT64_MAXLEN + 2 + len + 2);
    if (p == NULL) {
        return NULL;
    }
    char *start = p;
    *p++ = '$';
    p += format_uint64(p, len);
    *p++ = '\r';
    *p++ = '\n';
    char *payload = p;
    p[len] = '\r';
    p[len + 1] = '\n';
    w->buf->wpos += (size_t)(p - start) + len + 2;
    return payload;
}

rstatus_i
resp_compose_bulk(struct resp_writer *w, const void *data, size_t len)
{
    char *p = resp_compose_bulk_reserve(w, len);
    if (p == NULL) {
        return STATUS_ENOMEM;
    }
    if (len > 0) {
        memcpy(p, data, len);
    }
    return STATUS_OK;
}

rstatus_i
resp_compose_null(struct resp_writer *w)
{
    if (w->proto == RESP_PROTO_3) {
        return resp_compose_raw(w, "_" CRLF, 3);
    }
    return resp_compose_raw(w, "$-1" CRLF, 5);
}

rstatus_i
resp_compose_null_array(struct resp_writer *w)
{
    if (w->proto == RESP_PROTO_3) {
        return resp_compose_raw(w, "_" CRLF, 3);
    }
    return resp_compose_raw(w, "*-1" CRLF, 5);
}

rstatus_i
resp_compose_array(struct resp_writer *w, uint64_t n)
{
    return header(w, '*', n);
}

rstatus_i
resp_compose_map(struct resp_writer *w, uint64_t n)
{
    if (w->proto == RESP_PROTO_3) {
        return header(w, '%', n);
    }
    return header(w, '*', n * 2);
}

rstatus_i
resp_compose_set(struct resp_writer *w, uint64_t n)
{
    return header(w, w->proto == RESP_PROTO_3 ? '~' : '*', n);
}

rstatus_i
resp_compose_push(struct resp_writer *w, uint64_t n)
{
    return header(w, w->proto == RESP_PROTO_3 ? '>' : '*', n);
}

rstatus_i
resp_compose_double(struct resp_writer *w, double d)
{
    char text[64];
    int n;

    if (isinf(d)) {
        n = snprintf(text, sizeof(text), "%s", d > 0 ? "inf" : "-inf");
    } else {
        n = snprintf(text, sizeof(text), "%.17g", d);
    }
    if (w->proto == RESP_PROTO_3) {
        return line(w, ',', text, (size_t)n);
    }
    return resp_compose_bulk(w, text, (size_t)n);
}

rstatus_i
resp_compose_bool(struct resp_writer *w, bool v)
{
    if (w->proto == RESP_PROTO_3) {
        return resp_compose_raw(w, v ? "#t" CRLF : "#f" CRLF, 4);
    }
    return resp_compose_raw(w, v ? ":1" CRLF : ":0" CRLF, 4);
}

rstatus_i
resp_compose_bignum(struct resp_writer *w, const char *digits, size_t len)
{
    if (w->proto == RESP_PROTO_3) {
        return line(w, '(', digits, len);
    }
    return resp_compose_bulk(w, digits, len);
}

rstatus_i
resp_compose_verbatim(
        struct resp_writer *w, const char *fmt, const void *data, size_t len)
{
    if (w->proto != RESP_PROTO_3) {
        return resp_compose_bulk(w, data, len);
    }
    char *p = room(w, 1 + RESP_INT64_MAXLEN + 2 + 4 + len + 2);
    if (p == NULL) {
        return STATUS_ENOMEM;
    }
    char *start = p;
    *p++ = '=';
    p += format_uint64(p, (uint64_t)len + 4);
    *p++ = '\r';
    *p++ = '\n';
    memcpy(p, fmt, 3);
    p[3] = ':';
    p += 4;
    if (len > 0) {
        memcpy(p, data, len);
    }
    p += len;
    *p++ = '\r';
    *p++ = '\n';
    w->buf->wpos += p - start;
    return STATUS_OK;
}

rstatus_i
resp_compose_req(
        struct resp_writer *w, const struct resp_arg *argv, uint32_t argc)
{
    size_t before = buf_rsize(w->buf);

    if (header(w, '*', argc) != STATUS_OK) {
        return STATUS_ENOMEM;
    }
    for (uint32_t i = 0; i < argc; i++) {
        if (resp_compose_bulk(w, argv[i].data, argv[i].len) != STATUS_OK) {
            /* undo the partial request: the buffer may have moved */
            w->buf->wpos = w->buf->rpos + before;
            return STATUS_ENOMEM;
        }
    }
    return STATUS_OK;
}
