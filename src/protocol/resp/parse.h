/* SPDX-License-Identifier: Apache-2.0 */
/* Parsing RESP: requests as Redis 7.0.15 reads them (multibulk arrays of
 * bulk strings and inline commands, with its exact protocol errors), and
 * replies one token at a time (for tests, tools and the fuzz target). Any
 * thread, one request object per connection. */
#pragma once

#include "base/status.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;
struct resp_request;

typedef enum {
    RESP_PARSE_OK,    /* a whole request/token; rpos moved past it */
    RESP_PARSE_UNFIN, /* need more bytes; see below for what was consumed */
    /* A protocol error: reply req->error, then close the connection, as
     * Redis does. rpos is left where the bad request began. */
    RESP_PARSE_EINVALID,
    /* A request over resp_max_bulk, resp_max_args or resp_max_request:
     * reply req->error and keep the connection; the rest of the request
     * is discarded by the next parses as it arrives. */
    RESP_PARSE_EOVERSIZE,
    /* argv could not grow: reply req->error, keep the connection; the
     * request is discarded like an oversized one. */
    RESP_PARSE_ENOMEM,
    /* A bulk of at least req->stream_min bytes (req->stream_len) begins
     * as argument argc: argv[0, argc) view the buffer; nothing is
     * consumed. The caller either declines (resp_parse_stream_decline)
     * and parses on as usual, or takes it (resp_parse_stream_begin). */
    RESP_PARSE_STREAM,
    /* The next bytes of a taken bulk are in req->chunk, consumed (the
     * view lives until the buffer changes); parse again for more. */
    RESP_PARSE_CHUNK,
} resp_parse_e;

/* Parses the next request at b->rpos into req (argc, argv, type).
 *
 * Empty requests Redis ignores (a blank inline line, "*0", "*-1") are
 * consumed silently. On RESP_PARSE_UNFIN nothing of the incomplete request
 * is consumed (only empty requests and swallowed bytes before it), and
 * req->need says how many readable bytes the parser waits for; req keeps
 * its progress, so parsing a large request as it arrives costs linear
 * time. Between an UNFIN and the next call the caller may append to b and
 * shift or grow it, but must not change the unread bytes.
 *
 * On RESP_PARSE_OK rpos is past the request and argv views the buffer;
 * handle the request, then resp_request_reset(req) before the next call.
 * After EOVERSIZE/ENOMEM call resp_request_reset and go on parsing: the
 * refused request's remaining bytes are consumed first. */
resp_parse_e resp_parse_req(struct resp_request *req, struct buf *b);

/* After RESP_PARSE_STREAM, with b unchanged since. decline: the bulk is
 * parsed as any other (the request must then fit req->buf_max, unless a
 * later bulk, offered in turn, is taken). begin:
 * everything up to the bulk's first byte is consumed, and the bulk's bytes
 * come as RESP_PARSE_CHUNK; once they all came the rest of the request is
 * parsed as usual, and its RESP_PARSE_OK has argv[0, argc of the STREAM]
 * as the caller left them (copy them before begin: their bytes are
 * consumed), then the streamed argument (data NULL, len its length), then
 * the arguments after it. A request that fails after begin (EINVALID,
 * EOVERSIZE) has had its streamed bytes consumed all the same.
 * STATUS_ENOMEM (nothing consumed) when argv cannot grow. */
void resp_parse_stream_decline(struct resp_request *req, const struct buf *b);
rstatus_i resp_parse_stream_begin(struct resp_request *req, struct buf *b);

/* Reply token types, named by their first byte. */
typedef enum {
    RESP_T_SIMPLE = '+',
    RESP_T_ERROR = '-',
    RESP_T_INTEGER = ':',
    RESP_T_BULK = '$',
    RESP_T_ARRAY = '*',
    RESP_T_NULL = '_',
    RESP_T_BOOL = '#',
    RESP_T_DOUBLE = ',',
    RESP_T_BIGNUM = '(',
    RESP_T_BLOB_ERROR = '!',
    RESP_T_VERBATIM = '=',
    RESP_T_MAP = '%',
    RESP_T_SET = '~',
    RESP_T_ATTRIBUTE = '|',
    RESP_T_PUSH = '>',
} resp_type_e;

/* One reply token. Aggregates (array, map, set, attribute, push) give only
 * their count in n (pairs for map and attribute); the elements are the
 * following tokens. */
struct resp_token {
    resp_type_e type;
    /* integer value; bool 0/1; count of an aggregate; length of a bulk,
     * verbatim or blob error; -1 for RESP2's null bulk ($-1) and null
     * array (*-1) */
    int64_t n;
    const char *data; /* the text: simple, error, double, bignum, bulk,
                         verbatim (with its "txt:"), blob error; a view */
    size_t len;
};

/* Parses the token at b->rpos. RESP_PARSE_UNFIN consumes nothing;
 * RESP_PARSE_EINVALID for an unknown type byte or a malformed line (rpos
 * unchanged). Lines must end in CRLF and numbers be well formed. */
resp_parse_e resp_parse_token(struct resp_token *t, struct buf *b);

/* Redis's string2ll, which it uses for protocol lengths and for integer
 * arguments and values (INCRBY, EX, ...): an optional '-', then digits with
 * no leading zero unless the number is exactly "0"; no '+', no spaces,
 * nothing else; within int64 ("-9223372036854775808" included). *value is
 * set only on success. */
bool resp_parse_int64(const char *p, size_t len, int64_t *value);
