/* SPDX-License-Identifier: Apache-2.0 */
/* A RESP request: the arguments of one command, parsed in place from a
 * connection's read buffer, plus the parser's state between reads. One
 * struct resp_request per connection, used by that connection's worker
 * thread only; the module's options and metrics are set up once. */
#pragma once

#include "base/bstring.h"
#include "base/metric.h"
#include "base/option.h"
#include "base/util.h"

#include <stddef.h>
#include <stdint.h>

/* Redis's own protocol limits (server.h, networking.c). */
#define RESP_INLINE_MAX_SIZE (64 * 1024) /* PROTO_INLINE_MAX_SIZE */
#define RESP_BULK_HARD_MAX   (512 * MiB) /* proto-max-bulk-len default */
#define RESP_MBULK_MAX       2147483647  /* INT_MAX */
#define RESP_NOAUTH_MAX_ARGS 10          /* before AUTH, as Redis 7.0.15 */
#define RESP_NOAUTH_MAX_BULK 16384
#define RESP_REQ_ARGV_EMBED  8    /* arguments held without allocating */
#define RESP_REQ_ARGV_KEEP   1024 /* a larger argv is freed on reset */

/* clang-format off */
/*          name              type         default     description */
#define RESP_OPTION(ACTION)                                                    \
    ACTION( resp_max_args,    OPTION_UINT, 1048576,    "most arguments in a request; more is refused, swallowed" ) \
    ACTION( resp_max_bulk,    OPTION_SIZE, (512 * MiB), "largest bulk string (Redis's proto-max-bulk-len; CONFIG SET changes it); larger is refused, swallowed" ) \
    ACTION( resp_max_request, OPTION_SIZE, (1024 * MiB), "largest request in bytes, a SET value received in pieces included (Redis's client-query-buffer-limit; CONFIG SET changes it); larger is refused, swallowed" )

/*          name               type            description */
#define RESP_METRIC(ACTION)                                                    \
    ACTION( resp_req_parse,    METRIC_COUNTER, "# requests parsed"                    ) \
    ACTION( resp_req_inline,   METRIC_COUNTER, "# inline requests parsed"             ) \
    ACTION( resp_req_parse_ex, METRIC_COUNTER, "# protocol errors (connection closed)" ) \
    ACTION( resp_req_oversize, METRIC_COUNTER, "# requests refused as too large"      ) \
    ACTION( resp_req_swallow,  METRIC_COUNTER, "# bytes of refused requests discarded" ) \
    ACTION( resp_req_argv_ex,  METRIC_COUNTER, "# argument arrays that could not grow" ) \
    ACTION( resp_compose_ex,   METRIC_COUNTER, "# replies over the write buffer cap"  )
/* clang-format on */

typedef struct {
    RESP_OPTION(DECLARE_OPTION)
} resp_options_st;
typedef struct {
    RESP_METRIC(DECLARE_METRIC)
} resp_metrics_st;

/* Default options and no counting when passed NULL. Not thread-safe: call
 * before the workers start. */
void resp_setup(const resp_options_st *options, resp_metrics_st *metrics);
void resp_teardown(void);

/* The two limits Redis's CONFIG SET changes at run time, any thread:
 * proto-max-bulk-len (resp.max_bulk) and client-query-buffer-limit
 * (resp.max_request). Neither may be set below RESP_LIMIT_FLOOR (Redis's
 * lower bound for both, 1mb), which the parser's fast path relies on. */
#define RESP_LIMIT_FLOOR MiB
typedef enum {
    RESP_LIMIT_MAX_BULK,
    RESP_LIMIT_MAX_REQUEST,
} resp_limit_e;
uint64_t resp_limit_get(resp_limit_e which);
void resp_limit_set(resp_limit_e which, uint64_t value);

/* One argument: a view into the read buffer, valid until that buffer is
 * shifted, grown or shrunk (STYLE.md section 5). While a multibulk request
 * is incomplete the parser keeps offsets instead (off); data is set once
 * the request parses. Inline arguments are unescaped in place, so the read
 * buffer bytes under an inline request change. */
struct resp_arg {
    size_t len;
    union {
        const char *data;
        size_t off; /* parser-private */
    };
};

/* The same bytes as a base string view. */
static inline struct bstring
resp_arg_str(const struct resp_arg *a)
{
    return bstring_of(a->data, a->len);
}

typedef enum {
    RESP_REQ_MULTIBULK, /* *<n>\r\n$<len>\r\n<bytes>\r\n ... */
    RESP_REQ_INLINE,    /* a line of space-separated, optionally quoted args */
} resp_req_type_e;

typedef enum {
    RESP_REQ_IDLE,    /* between requests */
    RESP_REQ_MBULK,   /* inside an incomplete multibulk request */
    RESP_REQ_SWALLOW, /* discarding the rest of a refused request */
    RESP_REQ_STREAM,  /* handing a large bulk to the caller in pieces */
} resp_req_state_e;

/* Fields callers may read after resp_parse_req: argc, argv, type, error,
 * need, stream_len, chunk. Callers may set unauthenticated, and replace
 * the data of the arguments before a streamed one (see resp_parse_req).
 * The rest is the parser's. */
struct resp_request {
    uint32_t argc;
    struct resp_arg *argv; /* argv[0] is the command name */
    resp_req_type_e type;
    /* After RESP_PARSE_EINVALID, EOVERSIZE or ENOMEM: the error reply text
     * without '-' and CRLF ("ERR Protocol error: invalid bulk length"). */
    const char *error;
    /* After RESP_PARSE_UNFIN: the parser cannot progress until at least
     * this many bytes are readable from rpos (grow the read buffer up to
     * its cap; resp_max_request bounds it). */
    size_t need;
    /* Set by the caller while a password is required and the client has
     * not authenticated: Redis's tighter limits then apply (more than 10
     * arguments or a bulk over 16384 bytes is a protocol error). */
    uint8_t unauthenticated;
    /* After RESP_PARSE_STREAM: the announced bulk's length. After
     * RESP_PARSE_CHUNK: the next bytes of the streamed bulk (a view). */
    uint64_t stream_len;
    struct resp_arg chunk;

    /* limits (resp_request_limits): a bulk ending at most fast_max bytes
     * into the unparsed request needs no other check */
    size_t fast_max;
    size_t buf_max;    /* an unstreamed request must fit; 0: any */
    size_t stream_min; /* bulks offered as streams from this length */

    /* parser state, kept across PARSE_UNFIN and for swallowing */
    uint8_t state;        /* resp_req_state_e */
    uint32_t nalloc;      /* argv capacity */
    int64_t remaining;    /* multibulk: arguments not yet started */
    int64_t bulk_len;     /* multibulk: length of the current bulk, or -1 */
    size_t off;           /* multibulk: next byte to parse, from rpos */
    uint64_t swallow;     /* bytes still to discard of a refused request */
    int64_t swallow_args; /* bulks still to discard after those bytes */
    uint64_t stream_left; /* streamed bulk: bytes still to come, CRLF too */
    uint64_t base;        /* bytes of the request consumed before rpos */
    uint32_t fixed;       /* arguments before the streamed one, and it */
    uint32_t stream_hdr;  /* the offered bulk's header length */
    uint8_t declined;     /* the caller will not stream this bulk */
    uint8_t offered;      /* a bulk of this request was offered */
    char errbuf[48];      /* the one error reply that carries a byte */
    struct resp_arg embed[RESP_REQ_ARGV_EMBED];
};

/* NULL if out of memory. The caller owns it: resp_request_destroy. */
struct resp_request *resp_request_create(void);
void resp_request_destroy(struct resp_request **req); /* NULL-safe */
/* For a request embedded in a connection object. */
void resp_request_init(struct resp_request *req);
void resp_request_deinit(struct resp_request *req);
/* Bounds for the next parses (the caller's connection): buf_max, what an
 * unstreamed request may take of the read buffer (0: no bound; more is
 * refused with "ERR request exceeds maximum allowed size
 * (worker.rbuf_max)" and swallowed); stream_min, the length from which a
 * multibulk argument is offered to the caller as a stream (SIZE_MAX:
 * never). */
void resp_request_limits(
        struct resp_request *req, size_t buf_max, size_t stream_min);
/* Forgets the parsed arguments and any half-parsed request (safe at any
 * time: an incomplete request consumed nothing, so the next parse starts it
 * again), ready for the next request. A refused request still being
 * swallowed stays so (the next parse goes on discarding it), so does a
 * streamed bulk not taken to its end (the rest is discarded), and
 * unauthenticated stays as the caller set it. A grown argv is kept up to
 * RESP_REQ_ARGV_KEEP entries and freed beyond. */
void resp_request_reset(struct resp_request *req);
