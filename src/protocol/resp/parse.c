/* SPDX-License-Identifier: Apache-2.0 */
/* The request parser follows Redis 7.0.15's processMultibulkBuffer and
 * processInlineBuffer (networking.c) step by step, quirks included:
 *  - a header line ends at the first '\r' (searched as strchr does, so a
 *    NUL byte before it means "not yet"), and the byte after '\r' is
 *    skipped unchecked; the 2 bytes after a bulk payload are skipped
 *    unchecked too ("$4\r\nPINGxx" is PING);
 *  - numbers are read by string2ll: no '+', no leading zero, no spaces;
 *  - "*0" and "*-5" are empty requests, ignored; "$-1" is an error;
 *  - an inline line ends at '\n' (an optional '\r' before it is dropped)
 *    and is split as sdssplitargs splits it.
 * Where we differ, on purpose: a bulk longer than resp_max_bulk (but within
 * Redis's 512 MiB proto-max-bulk-len, past which it is a protocol error as
 * in Redis) is refused with "-ERR string exceeds maximum allowed size
 * (proto-max-bulk-len)" and swallowed, keeping the connection; a request
 * over resp_max_args or resp_max_request likewise, and one the caller does
 * not stream that is over what its read buffer holds (buf_max).
 *
 * A large bulk may be handed to the caller in pieces instead of being
 * held whole (RESP_PARSE_STREAM, then RESP_PARSE_CHUNK): Redis reads such
 * an argument into a string of its own size; the caller here writes it
 * where it goes (a SET's value into the store), so the read buffer bounds
 * unparsed bytes, not values. */
#include "protocol/resp/parse.h"

#include "protocol/resp/internal.h"
#include "protocol/resp/request.h"

#include "base/buf.h"

#include <stdbool.h>
#include <string.h>

#define ERR_MBULK_LEN    "ERR Protocol error: invalid multibulk length"
#define ERR_BULK_LEN     "ERR Protocol error: invalid bulk length"
#define ERR_NOAUTH_MBULK "ERR Protocol error: unauthenticated multibulk length"
#define ERR_NOAUTH_BULK  "ERR Protocol error: unauthenticated bulk length"
#define ERR_BIG_MBULK    "ERR Protocol error: too big mbulk count string"
#define ERR_BIG_BULK     "ERR Protocol error: too big bulk count string"
#define ERR_BIG_INLINE   "ERR Protocol error: too big inline request"
#define ERR_EXPECTED     "ERR Protocol error: expected '$', got '"
#define ERR_QUOTES       "ERR Protocol error: unbalanced quotes in request"
#define ERR_OVERSIZE                                                           \
    "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
#define ERR_TOO_MANY "ERR too many arguments in request (resp.max_args)"
#define ERR_TOO_BIG                                                            \
    "ERR request exceeds maximum allowed size (resp.max_request)"
#define ERR_TOO_BIG_BUF                                                        \
    "ERR request exceeds maximum allowed size (worker.rbuf_max)"
#define ERR_NOMEM_ARGV "ERR out of memory for the request's arguments"

/* Internal result: an empty request was consumed, parse the next one. */
#define PARSE_EMPTY (-1)

bool
resp_parse_int64(const char *p, size_t len, int64_t *value)
{
    bool negative = false;
    uint64_t v;

    if (len == 0) {
        return false;
    }
    if (len == 1 && p[0] == '0') {
        *value = 0;
        return true;
    }
    if (p[0] == '-') {
        negative = true;
        p++;
        len--;
    }
    if (len == 0 || p[0] < '1' || p[0] > '9') {
        return false;
    }
    v = (uint64_t)(p[0] - '0');
    for (size_t i = 1; i < len; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return false;
        }
        uint64_t d = (uint64_t)(p[i] - '0');
        if (v > (UINT64_MAX - d) / 10) {
            return false;
        }
        v = v * 10 + d;
    }
    if (negative) {
        if (v > (uint64_t)INT64_MAX + 1) {
            return false;
        }
        *value = (int64_t)(0 - v);
    } else {
        if (v > (uint64_t)INT64_MAX) {
            return false;
        }
        *value = (int64_t)v;
    }
    return true;
}

/* strchr(p, c) over n bytes: NULL if c is absent or a NUL comes first. */
static const char *
find_before_nul(const char *p, size_t n, char c)
{
    const char *hit = memchr(p, c, n);
    if (hit == NULL || memchr(p, '\0', (size_t)(hit - p)) != NULL) {
        return NULL;
    }
    return hit;
}

static int
fail(struct resp_request *req, const char *msg)
{
    /* the connection closes; leave the request clean all the same */
    req->state = RESP_REQ_IDLE;
    req->argc = 0;
    req->error = msg;
    INCR(resp_metrics, resp_req_parse_ex);
    return RESP_PARSE_EINVALID;
}

/* Enters the swallow state for a refused request: the caller has set rpos
 * past what is consumed; `bytes` more bytes, then `bulks` whole bulk
 * strings, belong to the refused request. */
static int
refuse(struct resp_request *req, resp_parse_e status, const char *msg,
        uint64_t bytes, int64_t bulks)
{
    req->state = RESP_REQ_SWALLOW;
    req->swallow = bytes;
    req->swallow_args = bulks;
    req->error = msg;
    INCR(resp_metrics, resp_req_oversize);
    return status;
}

/* A header line "<c><number>\r?" at p (n bytes readable). Returns
 * RESP_PARSE_OK with the number and the line's length (CR and the byte
 * after it included), RESP_PARSE_UNFIN, or RESP_PARSE_EINVALID after
 * setting req->error (too long: `toobig`). `*bad` is set when the line is
 * complete but its number does not parse. */
static int
header_line(const char *p, size_t n, int64_t *v, size_t *linelen, bool *bad)
{
    /* The common line, '$' or '*' and 1 to 18 digits without a leading
     * zero (no overflow), read in one pass: what the rules below make of
     * it, without two memchr calls and the general number parser. */
    if (n >= 4 && (p[0] == '$' || p[0] == '*') && p[1] >= '1' && p[1] <= '9') {
        uint64_t x = (uint64_t)(p[1] - '0');
        size_t i = 2;
        while (i < n && i < 19 && p[i] >= '0' && p[i] <= '9') {
            x = x * 10 + (uint64_t)(p[i] - '0');
            i++;
        }
        if (i + 2 <= n && p[i] == '\r') {
            *linelen = i + 2;
            *v = (int64_t)x;
            *bad = false;
            return RESP_PARSE_OK;
        }
    }
    const char *cr = find_before_nul(p, n, '\r');
    if (cr == NULL) {
        return n > RESP_INLINE_MAX_SIZE ? RESP_PARSE_EINVALID
                                        : RESP_PARSE_UNFIN;
    }
    if ((size_t)(cr - p) + 2 > n) { /* the byte after CR is not here yet */
        return RESP_PARSE_UNFIN;
    }
    *linelen = (size_t)(cr - p) + 2;
    *bad = cr == p || !resp_parse_int64(p + 1, (size_t)(cr - p) - 1, v);
    return RESP_PARSE_OK;
}

/* Parses "$<len>\r\n" at p, checking the limits every bulk has. */
static int
bulk_header(struct resp_request *req, const char *p, size_t n, int64_t *len,
        size_t *linelen)
{
    bool bad = false;
    int st = header_line(p, n, len, linelen, &bad);
    if (st == RESP_PARSE_UNFIN) {
        req->need = n + 1;
        return st;
    }
    if (st == RESP_PARSE_EINVALID) {
        return fail(req, ERR_BIG_BULK);
    }
    if (p[0] != '$') {
        char got = (p[0] == '\r' || p[0] == '\n') ? ' ' : p[0];
        /* (never NUL: a NUL before the CR means the line is not here) */
        size_t k = strlen(ERR_EXPECTED);
        memcpy(req->errbuf, ERR_EXPECTED, k);
        req->errbuf[k++] = got;
        req->errbuf[k++] = '\'';
        req->errbuf[k] = '\0';
        return fail(req, req->errbuf);
    }
    /* the configured limit is read only for lengths past the fixed one
     * (a load per bulk header cost 1-2% of a small GET) */
    if (bad || *len < 0 ||
            ((uint64_t)*len > RESP_BULK_HARD_MAX &&
                    (uint64_t)*len > __atomic_load_n(&resp_limits.max_bulk,
                                             __ATOMIC_RELAXED))) {
        return fail(req, ERR_BULK_LEN);
    }
    if (req->unauthenticated && *len > RESP_NOAUTH_MAX_BULK) {
        return fail(req, ERR_NOAUTH_BULK);
    }
    return RESP_PARSE_OK;
}

/* Discards what is left of a refused request. RESP_PARSE_OK when it is all
 * gone (state back to idle), else UNFIN or EINVALID. */
static int
swallow(struct resp_request *req, struct buf *b)
{
    for (;;) {
        if (req->swallow > 0) {
            size_t n = buf_rsize(b);
            if ((uint64_t)n > req->swallow) {
                n = (size_t)req->swallow;
            }
            b->rpos += n;
            req->swallow -= n;
            INCR_N(resp_metrics, resp_req_swallow, n);
            if (req->swallow > 0) {
                req->need = 1;
                return RESP_PARSE_UNFIN;
            }
        }
        if (req->swallow_args == 0) {
            req->state = RESP_REQ_IDLE;
            return RESP_PARSE_OK;
        }
        int64_t len;
        size_t linelen;
        int st = bulk_header(req, b->rpos, buf_rsize(b), &len, &linelen);
        if (st != RESP_PARSE_OK) {
            return st;
        }
        b->rpos += linelen;
        req->swallow = (uint64_t)len + 2;
        req->swallow_args--;
    }
}

/* The "*<count>\r\n" line of a new multibulk request. */
static int
mbulk_start(struct resp_request *req, struct buf *b)
{
    int64_t count;
    size_t linelen;
    bool bad = false;
    int st = header_line(b->rpos, buf_rsize(b), &count, &linelen, &bad);

    if (st == RESP_PARSE_UNFIN) {
        req->need = buf_rsize(b) + 1;
        return st;
    }
    if (st == RESP_PARSE_EINVALID) {
        return fail(req, ERR_BIG_MBULK);
    }
    if (bad || count > RESP_MBULK_MAX) {
        return fail(req, ERR_MBULK_LEN);
    }
    if (req->unauthenticated && count > RESP_NOAUTH_MAX_ARGS) {
        return fail(req, ERR_NOAUTH_MBULK);
    }
    if (count <= 0) {
        b->rpos += linelen;
        return PARSE_EMPTY;
    }
    if ((uint64_t)count > resp_limits.max_args) {
        b->rpos += linelen;
        return refuse(req, RESP_PARSE_EOVERSIZE, ERR_TOO_MANY, 0, count);
    }
    req->type = RESP_REQ_MULTIBULK;
    req->state = RESP_REQ_MBULK;
    req->remaining = count;
    req->bulk_len = -1;
    req->off = linelen;
    req->argc = 0;
    return RESP_PARSE_OK;
}

/* Turns the offsets of the arguments parsed so far into pointers (those
 * before a streamed argument, and it, are pointers already). */
static void
args_to_pointers(struct resp_request *req, const char *base)
{
    for (uint32_t i = req->fixed; i < req->argc; i++) {
        req->argv[i].data = base + req->argv[i].off;
    }
}

/* Refuses the multibulk request being parsed, the current bulk's header
 * read: everything up to off is consumed, the rest swallowed. */
static int
mbulk_refuse(struct resp_request *req, struct buf *b, resp_parse_e status,
        const char *msg)
{
    args_to_pointers(req, b->rpos);
    b->rpos += req->off;
    return refuse(
            req, status, msg, (uint64_t)req->bulk_len + 2, req->remaining - 1);
}

/* The limits of a bulk the fast check did not clear (a long one, or one
 * late in a long request): refused past resp.max_bulk or resp.max_request,
 * offered as a stream from req->stream_min, refused past req->buf_max
 * unstreamed. Out of line: small requests never come here. */
static __attribute__((noinline)) int
bulk_limits(struct resp_request *req, struct buf *b, int64_t len, size_t hdr)
{
    uint64_t end = req->off + hdr + (uint64_t)len + 2;
    const char *msg = NULL;
    if ((uint64_t)len >
            __atomic_load_n(&resp_limits.max_bulk, __ATOMIC_RELAXED)) {
        msg = ERR_OVERSIZE;
    } else if (req->base + end >
               __atomic_load_n(&resp_limits.max_request, __ATOMIC_RELAXED)) {
        msg = ERR_TOO_BIG;
    } else if ((uint64_t)len >= req->stream_min && !req->declined) {
        args_to_pointers(req, b->rpos);
        req->offered = 1;
        req->stream_len = (uint64_t)len;
        req->stream_hdr = (uint32_t)hdr;
        return RESP_PARSE_STREAM;
    } else if (req->buf_max != 0 && end > req->buf_max) {
        msg = ERR_TOO_BIG_BUF;
    }
    if (msg == NULL) {
        return RESP_PARSE_OK;
    }
    req->off += hdr;
    req->bulk_len = len;
    return mbulk_refuse(req, b, RESP_PARSE_EOVERSIZE, msg);
}

/* Reads the next bulk header of the request being parsed. */
static int
mbulk_next_header(struct resp_request *req, struct buf *b)
{
    size_t avail = buf_rsize(b);
    int64_t len;
    size_t linelen;
    int st = bulk_header(
            req, b->rpos + req->off, avail - req->off, &len, &linelen);

    if (st == RESP_PARSE_UNFIN) {
        req->need = avail + 1;
        return st;
    }
    if (st != RESP_PARSE_OK) {
        return st;
    }
    /* one comparison clears every limit for the common bulk: fast_max is
     * at most each of them (resp_request_limits) */
    if (req->off + linelen + (uint64_t)len + 2 > req->fast_max) {
        st = bulk_limits(req, b, len, linelen);
        if (st != RESP_PARSE_OK) {
            return st;
        }
        req->declined = 0; /* a decline is this bulk's: later ones are
                              offered too */
    }
    req->off += linelen;
    req->bulk_len = len;
    return RESP_PARSE_OK;
}

void
resp_parse_stream_decline(struct resp_request *req, const struct buf *b)
{
    for (uint32_t i = req->fixed; i < req->argc; i++) {
        req->argv[i].off = (size_t)(req->argv[i].data - b->rpos);
    }
    req->declined = 1;
}

rstatus_i
resp_parse_stream_begin(struct resp_request *req, struct buf *b)
{
    if (req->argc == req->nalloc &&
            resp_request_argv_reserve(req, (uint64_t)req->argc + 1) !=
                    STATUS_OK) {
        return STATUS_ENOMEM;
    }
    size_t head = req->off + req->stream_hdr;
    b->rpos += head;
    req->base += head + req->stream_len + 2;
    req->argv[req->argc].data = NULL;
    req->argv[req->argc].len = (size_t)req->stream_len;
    req->argc++;
    req->fixed = req->argc;
    req->remaining--;
    req->stream_left = req->stream_len + 2;
    req->off = 0;
    req->bulk_len = -1;
    req->fast_max = 0; /* the rest counts against max_request with base */
    req->state = RESP_REQ_STREAM;
    return STATUS_OK;
}

/* The next bytes of a streamed bulk (CHUNK); then its two closing bytes,
 * skipped unchecked as Redis does; then OK, back to the request. */
static int
stream_next(struct resp_request *req, struct buf *b)
{
    size_t n = buf_rsize(b);
    if (req->stream_left > 2) {
        if (n == 0) {
            req->need = 1;
            return RESP_PARSE_UNFIN;
        }
        uint64_t k = req->stream_left - 2 < n ? req->stream_left - 2 : n;
        req->chunk.data = b->rpos;
        req->chunk.len = (size_t)k;
        b->rpos += k;
        req->stream_left -= k;
        return RESP_PARSE_CHUNK;
    }
    size_t k = req->stream_left < n ? (size_t)req->stream_left : n;
    b->rpos += k;
    req->stream_left -= k;
    if (req->stream_left > 0) {
        req->need = (size_t)req->stream_left;
        return RESP_PARSE_UNFIN;
    }
    req->state = RESP_REQ_MBULK;
    return RESP_PARSE_OK;
}

/* Goes on with a multibulk request from where the last call stopped. */
static int
mbulk_continue(struct resp_request *req, struct buf *b)
{
    while (req->remaining > 0) {
        if (req->bulk_len < 0) {
            int st = mbulk_next_header(req, b);
            if (st != RESP_PARSE_OK) {
                return st;
            }
        }
        size_t end = req->off + (size_t)req->bulk_len + 2;
        if (buf_rsize(b) < end) {
            req->need = end;
            return RESP_PARSE_UNFIN;
        }
        if (req->argc == req->nalloc &&
                resp_request_argv_reserve(req, (uint64_t)req->argc + 1) !=
                        STATUS_OK) {
            return mbulk_refuse(req, b, RESP_PARSE_ENOMEM, ERR_NOMEM_ARGV);
        }
        req->argv[req->argc].off = req->off;
        req->argv[req->argc].len = (size_t)req->bulk_len;
        req->argc++;
        req->off = end;
        req->bulk_len = -1;
        req->remaining--;
    }
    args_to_pointers(req, b->rpos);
    b->rpos += req->off;
    req->state = RESP_REQ_IDLE;
    req->off = 0;
    return RESP_PARSE_OK;
}

static bool
is_space(char c) /* C isspace in the "C" locale */
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

static int
hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

static char
unescape(char c)
{
    switch (c) {
    case 'n':
        return '\n';
    case 'r':
        return '\r';
    case 't':
        return '\t';
    case 'b':
        return '\b';
    case 'a':
        return '\a';
    default:
        return c;
    }
}

/* Inside "double quotes" at *pp: copies one unit to *wp. Returns 1 when
 * the closing quote ends the argument, 0 to go on, -1 when unbalanced. */
static int
dquote_step(const char **pp, char **wp, const char *end)
{
    const char *p = *pp;
    if (p == end) {
        return -1;
    }
    if (*p == '\\' && end - p > 3 && p[1] == 'x' && hex_value(p[2]) >= 0 &&
            hex_value(p[3]) >= 0) {
        *(*wp)++ = (char)(hex_value(p[2]) * 16 + hex_value(p[3]));
        *pp = p + 3;
    } else if (*p == '\\' && end - p > 1) {
        *pp = p + 1;
        *(*wp)++ = unescape(p[1]);
    } else if (*p == '"') {
        /* the closing quote must be followed by a space or nothing */
        return (end - p > 1 && !is_space(p[1])) ? -1 : 1;
    } else {
        *(*wp)++ = *p;
    }
    return 0;
}

/* Inside 'single quotes': only \' is an escape. Returns as dquote_step. */
static int
squote_step(const char **pp, char **wp, const char *end)
{
    const char *p = *pp;
    if (p == end) {
        return -1;
    }
    if (*p == '\\' && end - p > 1 && p[1] == '\'') {
        *pp = p + 1;
        *(*wp)++ = '\'';
    } else if (*p == '\'') {
        return (end - p > 1 && !is_space(p[1])) ? -1 : 1;
    } else {
        *(*wp)++ = *p;
    }
    return 0;
}

/* One argument of an inline line, as sdssplitargs reads it, unescaped in
 * place (the output never outruns the input). Returns 0, or -1 for
 * unbalanced quotes; *pp moves past the argument. */
static int
inline_arg(const char **pp, const char *end, char *w, size_t *len)
{
    const char *p = *pp;
    char *start = w;
    enum {
        PLAIN,
        DQUOTE,
        SQUOTE
    } in = PLAIN;
    int done = 0;

    while (!done) {
        if (in == DQUOTE) {
            done = dquote_step(&p, &w, end);
        } else if (in == SQUOTE) {
            done = squote_step(&p, &w, end);
        } else if (p == end || *p == ' ' || *p == '\n' || *p == '\r' ||
                   *p == '\t') {
            done = 1;
        } else if (*p == '"') {
            in = DQUOTE;
        } else if (*p == '\'') {
            in = SQUOTE;
        } else {
            *w++ = *p;
        }
        if (done < 0) {
            return -1;
        }
        if (p != end) {
            p++;
        }
    }
    *pp = p;
    *len = (size_t)(w - start);
    return 0;
}

/* Splits line [p, end) into req->argv. */
static int
inline_split(struct resp_request *req, char *line, const char *end)
{
    const char *p = line;
    for (;;) {
        while (p != end && is_space(*p)) {
            p++;
        }
        if (p == end) {
            return RESP_PARSE_OK;
        }
        if ((uint64_t)req->argc >= resp_limits.max_args) {
            return RESP_PARSE_EOVERSIZE;
        }
        if (req->argc == req->nalloc &&
                resp_request_argv_reserve(req, (uint64_t)req->argc + 1) !=
                        STATUS_OK) {
            return RESP_PARSE_ENOMEM;
        }
        char *w = line + (p - line);
        size_t len;
        if (inline_arg(&p, end, w, &len) != 0) {
            return RESP_PARSE_EINVALID;
        }
        req->argv[req->argc].data = w;
        req->argv[req->argc].len = len;
        req->argc++;
    }
}

static int
parse_inline(struct resp_request *req, struct buf *b)
{
    size_t avail = buf_rsize(b);
    const char *nl = find_before_nul(b->rpos, avail, '\n');

    if (nl == NULL) {
        if (avail > RESP_INLINE_MAX_SIZE) {
            return fail(req, ERR_BIG_INLINE);
        }
        req->need = avail + 1;
        return RESP_PARSE_UNFIN;
    }
    const char *end = nl;
    if (end != b->rpos && end[-1] == '\r') {
        end--;
    }
    if ((size_t)(end - b->rpos) > RESP_INLINE_MAX_SIZE) {
        /* the same answer however the line was split across reads */
        return fail(req, ERR_BIG_INLINE);
    }
    req->type = RESP_REQ_INLINE;
    req->argc = 0;
    int st = inline_split(req, b->rpos, end);
    if (st == RESP_PARSE_EINVALID) {
        req->argc = 0;
        return fail(req, ERR_QUOTES);
    }
    b->rpos += (nl - b->rpos) + 1;
    if (st == RESP_PARSE_EOVERSIZE) {
        return refuse(req, RESP_PARSE_EOVERSIZE, ERR_TOO_MANY, 0, 0);
    }
    if (st == RESP_PARSE_ENOMEM) {
        return refuse(req, RESP_PARSE_ENOMEM, ERR_NOMEM_ARGV, 0, 0);
    }
    if (req->argc == 0) {
        return PARSE_EMPTY;
    }
    INCR(resp_metrics, resp_req_inline);
    return RESP_PARSE_OK;
}

static int
parse_one(struct resp_request *req, struct buf *b)
{
    if (req->state == RESP_REQ_STREAM) {
        int st = stream_next(req, b);
        if (st != RESP_PARSE_OK) {
            return st;
        }
    }
    if (req->state == RESP_REQ_SWALLOW) {
        int st = swallow(req, b);
        if (st != RESP_PARSE_OK) {
            return st;
        }
    }
    if (req->state == RESP_REQ_IDLE) {
        if (buf_rsize(b) == 0) {
            req->need = 1;
            return RESP_PARSE_UNFIN;
        }
        if (*b->rpos != '*') {
            return parse_inline(req, b);
        }
        int st = mbulk_start(req, b);
        if (st != RESP_PARSE_OK) {
            return st;
        }
    }
    return mbulk_continue(req, b);
}

resp_parse_e
resp_parse_req(struct resp_request *req, struct buf *b)
{
    int st;

    req->error = NULL;
    do {
        st = parse_one(req, b);
    } while (st == PARSE_EMPTY);
    if (st == RESP_PARSE_OK) {
        req->need = 0;
        INCR(resp_metrics, resp_req_parse);
    }
    return (resp_parse_e)st;
}

/* A reply token's line: the text between the type byte and CRLF. */
static int
token_line(const char *p, size_t n, size_t *linelen)
{
    const char *cr = memchr(p, '\r', n);
    if (cr == NULL || (size_t)(cr - p) + 2 > n) {
        return RESP_PARSE_UNFIN;
    }
    if (cr[1] != '\n') {
        return RESP_PARSE_EINVALID;
    }
    *linelen = (size_t)(cr - p) + 2;
    return RESP_PARSE_OK;
}

/* Length-prefixed payloads: bulk ($), verbatim (=), blob error (!). */
static int
token_blob(struct resp_token *t, const char *p, size_t n, size_t *used)
{
    size_t linelen = *used;
    if (t->n < 0) {
        /* only RESP2's null bulk "$-1" */
        return (t->type == RESP_T_BULK && t->n == -1) ? RESP_PARSE_OK
                                                      : RESP_PARSE_EINVALID;
    }
    if ((uint64_t)t->n > n - linelen || n - linelen - (size_t)t->n < 2) {
        return RESP_PARSE_UNFIN;
    }
    const char *data = p + linelen;
    if (data[t->n] != '\r' || data[t->n + 1] != '\n') {
        return RESP_PARSE_EINVALID;
    }
    if (t->type == RESP_T_VERBATIM && (t->n < 4 || data[3] != ':')) {
        return RESP_PARSE_EINVALID;
    }
    t->data = data;
    t->len = (size_t)t->n;
    *used = linelen + (size_t)t->n + 2;
    return RESP_PARSE_OK;
}

/* Checks and fills the token whose line is [p, p + linelen). */
static int
token_fill(struct resp_token *t, const char *p, size_t n, size_t *used)
{
    const char *text = p + 1;
    size_t tlen = *used - 3;

    t->type = (resp_type_e)p[0];
    t->n = 0;
    t->data = text;
    t->len = tlen;
    switch (p[0]) {
    case '+':
    case '-':
    case ',':
    case '(':
        return RESP_PARSE_OK;
    case '_':
        return tlen == 0 ? RESP_PARSE_OK : RESP_PARSE_EINVALID;
    case '#':
        t->n = tlen == 1 && text[0] == 't';
        return (tlen == 1 && (text[0] == 't' || text[0] == 'f'))
                       ? RESP_PARSE_OK
                       : RESP_PARSE_EINVALID;
    case ':':
        return resp_parse_int64(text, tlen, &t->n) ? RESP_PARSE_OK
                                                   : RESP_PARSE_EINVALID;
    case '*':
    case '%':
    case '~':
    case '|':
    case '>':
        if (!resp_parse_int64(text, tlen, &t->n) || t->n < -1 ||
                (t->n == -1 && p[0] != '*')) {
            return RESP_PARSE_EINVALID;
        }
        return RESP_PARSE_OK;
    case '$':
    case '=':
    case '!':
        if (!resp_parse_int64(text, tlen, &t->n)) {
            return RESP_PARSE_EINVALID;
        }
        return token_blob(t, p, n, used);
    default:
        return RESP_PARSE_EINVALID;
    }
}

resp_parse_e
resp_parse_token(struct resp_token *t, struct buf *b)
{
    size_t n = buf_rsize(b);
    size_t used;

    if (n == 0) {
        return RESP_PARSE_UNFIN;
    }
    int st = token_line(b->rpos, n, &used);
    if (st != RESP_PARSE_OK) {
        return (resp_parse_e)st;
    }
    st = token_fill(t, b->rpos, n, &used);
    if (st == RESP_PARSE_OK) {
        b->rpos += used;
    }
    return (resp_parse_e)st;
}
