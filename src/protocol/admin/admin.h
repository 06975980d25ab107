/* SPDX-License-Identifier: Apache-2.0 */
/* The admin protocol: text lines ("stats", "stats <arg>", "version",
 * "quit", ...) and HTTP/1.x requests ("GET /metrics") on one port. The
 * first bytes decide: a line starting with an upper-case method and a space
 * ("GET ", "HEAD ", "POST ", ...) and ending in "HTTP/1.x" is HTTP, read up
 * to the blank line that ends its headers. */
#pragma once

#include "base/bstring.h"
#include "base/buf.h"
#include "base/status.h"

#define ADMIN_LINE_MAX   1024        /* a text command line */
#define ADMIN_HTTP_MAX   (16 * 1024) /* an HTTP request head */
#define ADMIN_METHOD_MAX 16          /* letters of an HTTP method */

typedef enum {
    ADMIN_PARSE_OK,        /* a request; consumed */
    ADMIN_PARSE_UNFIN,     /* incomplete; nothing consumed */
    ADMIN_PARSE_EOVERSIZE, /* no end within the limits; close */
} admin_parse_e;

typedef enum {
    ADMIN_REQ_TEXT, /* a text command: verb and argument */
    ADMIN_REQ_HTTP, /* an HTTP request: method and path */
} admin_req_e;

/* Views into the read buffer, valid until it is shifted. */
struct admin_request {
    admin_req_e type;
    struct bstring verb; /* text: first word ("stats"); HTTP: the method */
    struct bstring arg;  /* text: the rest, trimmed; HTTP: the target
                            (path and query) */
    int http_minor;      /* HTTP/1.<minor> */
};

admin_parse_e admin_parse_req(struct admin_request *req, struct buf *b);

/* The head of an HTTP/1.1 response: status line, Content-Type,
 * Content-Length (body_len), extra (NULL, or whole header lines ending in
 * CRLF) and Connection: close. For HEAD, which gets a head only. */
rstatus_i admin_compose_http_head(struct buf *b, size_t max, int code,
        const char *reason, const char *content_type, const char *extra,
        size_t body_len);
/* A whole HTTP/1.1 response with Content-Length and Connection: close;
 * body may be NULL for an empty body. */
rstatus_i admin_compose_http(struct buf *b, size_t max, int code,
        const char *reason, const char *content_type, const char *body,
        size_t body_len);
