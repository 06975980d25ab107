/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes the RESP request parser (fed in pieces whose size comes from the
 * input, with small limits so refusals and swallowing run too, and with a
 * small read buffer and streamed bulks taken or declined as a caller
 * would), the command checks on what it parses, and the reply token
 * parser. */
#include "fuzz.h"

#include "protocol/resp/command.h"
#include "protocol/resp/compose.h"
#include "protocol/resp/parse.h"
#include "protocol/resp/request.h"

#include "base/buf.h"
#include "base/util.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define WBUF_MAX  (1 << 20)
#define FIXED_MAX 4096

/* A caller's copies of the arguments before a streamed bulk. */
static char fixed[FIXED_MAX];

static bool
in(const char *p, size_t len, const char *lo, const char *hi)
{
    return p >= lo && p + len <= hi;
}

static void
check_args(const struct resp_request *req, const struct buf *b,
        struct resp_writer *w)
{
    for (uint32_t i = 0; i < req->argc; i++) {
        const struct resp_arg *a = &req->argv[i];
        /* every argument is a view inside the buffer's storage, a copy
         * the caller made, or a streamed one (no bytes) */
        if (a->data != NULL && !in(a->data, a->len, b->begin, b->end) &&
                !in(a->data, a->len, fixed, fixed + FIXED_MAX)) {
            abort();
        }
        if (a->data == NULL) {
            return; /* no command check without the value's bytes */
        }
    }
    if (req->argc > 0) {
        buf_clear(w->buf);
        (void)resp_command_check(w, req->argv, req->argc);
    }
}

/* Takes a streamed bulk (copying what came before it) or declines it. */
static void
stream_answer(struct resp_request *req, struct buf *b)
{
    size_t used = 0;
    for (uint32_t i = 0; i < req->argc; i++) {
        used += req->argv[i].len;
    }
    if (req->stream_len % 2 == 1 || used > FIXED_MAX) {
        resp_parse_stream_decline(req, b);
        return;
    }
    used = 0;
    for (uint32_t i = 0; i < req->argc; i++) {
        memcpy(fixed + used, req->argv[i].data, req->argv[i].len);
        req->argv[i].data = fixed + used;
        used += req->argv[i].len;
    }
    if (resp_parse_stream_begin(req, b) != STATUS_OK) {
        abort(); /* argv is small here */
    }
}

static void
parse_requests(const uint8_t *data, size_t size, size_t step, bool stream)
{
    struct resp_request req;
    struct buf b;
    struct buf out;
    struct resp_writer w = {
            .buf = &out, .max = WBUF_MAX, .proto = RESP_PROTO_2};
    size_t fed = 0;

    resp_request_init(&req);
    if (stream) {
        resp_request_limits(&req, 96, 4);
    }
    if (buf_init(&b, 64) != STATUS_OK || buf_init(&out, 64) != STATUS_OK) {
        abort();
    }
    while (fed < size) {
        size_t n = size_min(step, size - fed);
        if (buf_append(&b, data + fed, n, 1 << 24) != STATUS_OK) {
            break;
        }
        fed += n;
        resp_parse_e st;
        while ((st = resp_parse_req(&req, &b)) != RESP_PARSE_UNFIN) {
            if (st == RESP_PARSE_EINVALID) {
                if (req.error == NULL) {
                    abort();
                }
                fed = size; /* the connection would close */
                break;
            }
            if (st == RESP_PARSE_STREAM) {
                stream_answer(&req, &b);
                continue;
            }
            if (st == RESP_PARSE_CHUNK) {
                if (req.chunk.len == 0 ||
                        !in(req.chunk.data, req.chunk.len, b.begin, b.rpos)) {
                    abort();
                }
                continue;
            }
            if (st == RESP_PARSE_OK) {
                check_args(&req, &b, &w);
            } else if (req.error == NULL) {
                abort();
            }
            resp_request_reset(&req);
        }
        if (st == RESP_PARSE_UNFIN && req.need <= buf_rsize(&b) &&
                req.state != RESP_REQ_STREAM) {
            abort();
        }
        buf_lshift(&b);
    }
    resp_request_deinit(&req);
    buf_deinit(&b);
    buf_deinit(&out);
}

static void
parse_tokens(const uint8_t *data, size_t size)
{
    struct buf b;
    struct resp_token t;

    if (buf_init(&b, 64) != STATUS_OK) {
        abort();
    }
    if (buf_append(&b, data, size, 1 << 24) == STATUS_OK) {
        while (resp_parse_token(&t, &b) == RESP_PARSE_OK) {
            if (t.len > 0 && (t.data < b.begin || t.data + t.len > b.end)) {
                abort();
            }
        }
    }
    buf_deinit(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    /* first byte: piece size, whether limits are small, whether bulks
     * are streamed */
    static int small = -1; /* limits now in force */
    size_t step = (size_t)(data[0] & 0x3f) + 1;
    if (small != !!(data[0] & 0x40)) {
        resp_options_st o = {RESP_OPTION(INIT_OPTION)};
        small = !!(data[0] & 0x40);
        if (small) {
            o.resp_max_args.val.OPTION_UINT = 4;
            o.resp_max_bulk.val.OPTION_SIZE = 8;
            o.resp_max_request.val.OPTION_SIZE = 64;
        }
        resp_setup(&o, NULL);
    }
    bool stream = (data[0] & 0x80) != 0;
    parse_requests(data + 1, size - 1, step, stream);
    parse_requests(data + 1, size - 1, size, stream);
    parse_tokens(data + 1, size - 1);
    return 0;
}
