/* SPDX-License-Identifier: Apache-2.0 */
/* Parse and compose for the admin protocol (text lines and HTTP GET). */
#include "protocol/admin/admin.h"

#include "base/util.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static const char *
skip_spaces(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t')) {
        p++;
    }
    return p;
}

static const char *
word_end(const char *p, const char *end)
{
    while (p < end && *p != ' ' && *p != '\t') {
        p++;
    }
    return p;
}

/* Length of an HTTP method at p ("GET", "POST", ...: upper-case letters,
 * then a space), or 0. Text commands are lower case, so any method is
 * taken as HTTP and gets an HTTP answer (405 for those not served). */
static size_t
http_method_len(const char *p, size_t n)
{
    size_t i = 0;
    while (i < n && i < ADMIN_METHOD_MAX && p[i] >= 'A' && p[i] <= 'Z') {
        i++;
    }
    return i > 0 && i < n && p[i] == ' ' ? i : 0;
}

static int
is_http_line(const char *p, const char *end)
{
    size_t len = (size_t)(end - p);
    return len >= 14 && memcmp(end - 8, "HTTP/1.", 7) == 0 &&
           http_method_len(p, len) > 0;
}

/* One past the empty line that ends an HTTP head ("\n" or "\r\n" right
 * after a line end), or NULL when it has not arrived: the first empty line,
 * whatever its line ending, so the result never depends on how the bytes
 * were split across reads. */
static const char *
head_end_of(const char *p, size_t n)
{
    const char *end = p + n;
    for (const char *nl = memchr(p, '\n', n); nl != NULL;
            nl = memchr(nl + 1, '\n', (size_t)(end - nl - 1))) {
        if (nl + 1 < end && nl[1] == '\n') {
            return nl + 2;
        }
        if (nl + 2 < end && nl[1] == '\r' && nl[2] == '\n') {
            return nl + 3;
        }
    }
    return NULL;
}

/* Whether an unfinished line starts as an HTTP request line does. */
static bool
may_be_http(const char *p, size_t n)
{
    return http_method_len(p, n) > 0;
}

static admin_parse_e
parse_http(struct admin_request *req, struct buf *b, const char *line_end)
{
    size_t n = buf_rsize(b);
    const char *head_end = head_end_of(b->rpos, n);
    if (head_end == NULL) {
        return n >= ADMIN_HTTP_MAX ? ADMIN_PARSE_EOVERSIZE : ADMIN_PARSE_UNFIN;
    }
    const char *p = b->rpos;
    const char *m_end = word_end(p, line_end);
    const char *path = skip_spaces(m_end, line_end);
    const char *path_end = word_end(path, line_end);
    req->type = ADMIN_REQ_HTTP;
    req->verb = bstring_of(p, (size_t)(m_end - p));
    req->arg = bstring_of(path, (size_t)(path_end - path));
    req->http_minor = line_end[-1] - '0';
    b->rpos = (char *)head_end;
    return ADMIN_PARSE_OK;
}

admin_parse_e
admin_parse_req(struct admin_request *req, struct buf *b)
{
    size_t n = buf_rsize(b);
    const char *nl = memchr(b->rpos, '\n', size_min(n, ADMIN_HTTP_MAX));
    if (nl == NULL) {
        /* a line that may still turn out an HTTP request line may grow to
         * the HTTP limit, as it could if it came whole (found by fuzzing) */
        size_t max = may_be_http(b->rpos, n) ? ADMIN_HTTP_MAX : ADMIN_LINE_MAX;
        return n >= max ? ADMIN_PARSE_EOVERSIZE : ADMIN_PARSE_UNFIN;
    }
    const char *end = nl;
    if (end > b->rpos && end[-1] == '\r') {
        end--;
    }
    if (is_http_line(b->rpos, end)) {
        return parse_http(req, b, end);
    }
    if ((size_t)(nl - b->rpos) >= ADMIN_LINE_MAX) {
        return ADMIN_PARSE_EOVERSIZE;
    }
    const char *p = skip_spaces(b->rpos, end);
    const char *v_end = word_end(p, end);
    const char *arg = skip_spaces(v_end, end);
    const char *arg_end = end;
    while (arg_end > arg && (arg_end[-1] == ' ' || arg_end[-1] == '\t')) {
        arg_end--;
    }
    req->type = ADMIN_REQ_TEXT;
    req->verb = bstring_of(p, (size_t)(v_end - p));
    req->arg = bstring_of(arg, (size_t)(arg_end - arg));
    req->http_minor = 0;
    b->rpos = (char *)nl + 1;
    return ADMIN_PARSE_OK;
}

rstatus_i
admin_compose_http_head(struct buf *b, size_t max, int code, const char *reason,
        const char *content_type, const char *extra, size_t body_len)
{
    char head[384];
    int n = snprintf(head, sizeof(head),
            "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
            "%sConnection: close\r\n\r\n",
            code, reason, content_type, body_len, extra == NULL ? "" : extra);
    if (n < 0 || (size_t)n >= sizeof(head)) {
        return STATUS_EINVAL;
    }
    if (buf_append(b, head, (size_t)n, max) != STATUS_OK) {
        return STATUS_ENOMEM;
    }
    return STATUS_OK;
}

rstatus_i
admin_compose_http(struct buf *b, size_t max, int code, const char *reason,
        const char *content_type, const char *body, size_t body_len)
{
    rstatus_i st = admin_compose_http_head(
            b, max, code, reason, content_type, NULL, body_len);
    if (st == STATUS_OK && body_len > 0) {
        return buf_append(b, body, body_len, max);
    }
    return st;
}
