/* SPDX-License-Identifier: Apache-2.0 */
/* memcached's binary protocol: parse requests, compose responses. */
#include "protocol/memcache/binary.h"

#include "base/util.h"
#include "protocol/memcache/parse.h"
#include "protocol/memcache/request.h"

#include <string.h>

#define STATUS_ROW(_name, _value, _msg)                                        \
    case _name:                                                                \
        return _msg;

const char *
memcache_bin_status_str(memcache_bin_status_e status)
{
    switch (status) {
        MEMCACHE_BIN_STATUS(STATUS_ROW)
    default:
        return "";
    }
}

bool
memcache_bin_opcode_quiet(uint8_t opcode)
{
    switch (opcode) {
    case MEMCACHE_BIN_GETQ:
    case MEMCACHE_BIN_GETKQ:
    case MEMCACHE_BIN_SETQ:
    case MEMCACHE_BIN_ADDQ:
    case MEMCACHE_BIN_REPLACEQ:
    case MEMCACHE_BIN_DELETEQ:
    case MEMCACHE_BIN_INCREMENTQ:
    case MEMCACHE_BIN_DECREMENTQ:
    case MEMCACHE_BIN_QUITQ:
    case MEMCACHE_BIN_FLUSHQ:
    case MEMCACHE_BIN_APPENDQ:
    case MEMCACHE_BIN_PREPENDQ:
    case MEMCACHE_BIN_GATQ:
    case MEMCACHE_BIN_GATKQ:
        return true;
    default:
        return false;
    }
}

uint8_t
memcache_bin_opcode_loud(uint8_t opcode)
{
    switch (opcode) {
    case MEMCACHE_BIN_GETQ:
        return MEMCACHE_BIN_GET;
    case MEMCACHE_BIN_GETKQ:
        return MEMCACHE_BIN_GETK;
    case MEMCACHE_BIN_SETQ:
        return MEMCACHE_BIN_SET;
    case MEMCACHE_BIN_ADDQ:
        return MEMCACHE_BIN_ADD;
    case MEMCACHE_BIN_REPLACEQ:
        return MEMCACHE_BIN_REPLACE;
    case MEMCACHE_BIN_DELETEQ:
        return MEMCACHE_BIN_DELETE;
    case MEMCACHE_BIN_INCREMENTQ:
        return MEMCACHE_BIN_INCREMENT;
    case MEMCACHE_BIN_DECREMENTQ:
        return MEMCACHE_BIN_DECREMENT;
    case MEMCACHE_BIN_QUITQ:
        return MEMCACHE_BIN_QUIT;
    case MEMCACHE_BIN_FLUSHQ:
        return MEMCACHE_BIN_FLUSH;
    case MEMCACHE_BIN_APPENDQ:
        return MEMCACHE_BIN_APPEND;
    case MEMCACHE_BIN_PREPENDQ:
        return MEMCACHE_BIN_PREPEND;
    case MEMCACHE_BIN_GATQ:
        return MEMCACHE_BIN_GAT;
    case MEMCACHE_BIN_GATKQ:
        return MEMCACHE_BIN_GATK;
    default:
        return opcode;
    }
}

/* ---------------------------------------------------------------- parse */

static uint64_t
get_be(const unsigned char *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

static void
put_be(unsigned char *p, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        p[i] = (unsigned char)(v >> (8 * (n - 1 - i)));
    }
}

/* Whether the lengths fit the opcode, as memcached checks them. Commands
 * that memcached checks only partly (stat, touch, gat) are held to the
 * exact shape: memcached would read the surplus as the next header. */
static bool
shape_fits(const struct memcache_bin_request *req, uint8_t loud)
{
    uint32_t kx = (uint32_t)req->keylen + req->extlen;
    switch (loud) {
    case MEMCACHE_BIN_VERSION:
    case MEMCACHE_BIN_NOOP:
    case MEMCACHE_BIN_QUIT:
    case MEMCACHE_BIN_SASL_LIST_MECHS:
        return req->extlen == 0 && req->keylen == 0 && req->bodylen == 0;
    case MEMCACHE_BIN_FLUSH:
        return req->keylen == 0 && req->bodylen == req->extlen &&
               (req->extlen == 0 || req->extlen == 4);
    case MEMCACHE_BIN_SET:
    case MEMCACHE_BIN_ADD:
    case MEMCACHE_BIN_REPLACE:
        return req->extlen == 8 && req->keylen != 0;
    case MEMCACHE_BIN_GET:
    case MEMCACHE_BIN_GETK:
    case MEMCACHE_BIN_DELETE:
        return req->extlen == 0 && req->keylen != 0 &&
               req->bodylen == req->keylen;
    case MEMCACHE_BIN_INCREMENT:
    case MEMCACHE_BIN_DECREMENT:
        return req->extlen == 20 && req->keylen != 0 && req->bodylen == kx;
    case MEMCACHE_BIN_APPEND:
    case MEMCACHE_BIN_PREPEND:
        return req->extlen == 0 && req->keylen != 0;
    case MEMCACHE_BIN_STAT:
        return req->extlen == 0 && req->bodylen == req->keylen;
    case MEMCACHE_BIN_SASL_AUTH:
    case MEMCACHE_BIN_SASL_STEP:
        return req->extlen == 0 && req->keylen != 0;
    case MEMCACHE_BIN_TOUCH:
    case MEMCACHE_BIN_GAT:
    case MEMCACHE_BIN_GATK:
        return req->extlen == 4 && req->keylen != 0 && req->bodylen == kx;
    default:
        return true;
    }
}

static bool
known(uint8_t loud)
{
    switch (loud) {
    case MEMCACHE_BIN_GET:
    case MEMCACHE_BIN_SET:
    case MEMCACHE_BIN_ADD:
    case MEMCACHE_BIN_REPLACE:
    case MEMCACHE_BIN_DELETE:
    case MEMCACHE_BIN_INCREMENT:
    case MEMCACHE_BIN_DECREMENT:
    case MEMCACHE_BIN_QUIT:
    case MEMCACHE_BIN_FLUSH:
    case MEMCACHE_BIN_NOOP:
    case MEMCACHE_BIN_VERSION:
    case MEMCACHE_BIN_GETK:
    case MEMCACHE_BIN_APPEND:
    case MEMCACHE_BIN_PREPEND:
    case MEMCACHE_BIN_STAT:
    case MEMCACHE_BIN_TOUCH:
    case MEMCACHE_BIN_GAT:
    case MEMCACHE_BIN_GATK:
        return true;
    default:
        return false;
    }
}

static bool
has_value(uint8_t loud)
{
    return loud == MEMCACHE_BIN_SET || loud == MEMCACHE_BIN_ADD ||
           loud == MEMCACHE_BIN_REPLACE || loud == MEMCACHE_BIN_APPEND ||
           loud == MEMCACHE_BIN_PREPEND;
}

static void
decode_extras(struct memcache_bin_request *req, const unsigned char *x)
{
    switch (memcache_bin_opcode_loud(req->opcode)) {
    case MEMCACHE_BIN_SET:
    case MEMCACHE_BIN_ADD:
    case MEMCACHE_BIN_REPLACE:
        req->flags = (uint32_t)get_be(x, 4);
        req->exptime = (uint32_t)get_be(x + 4, 4);
        break;
    case MEMCACHE_BIN_INCREMENT:
    case MEMCACHE_BIN_DECREMENT:
        req->delta = get_be(x, 8);
        req->initial = get_be(x + 8, 8);
        req->exptime = (uint32_t)get_be(x + 16, 4);
        break;
    case MEMCACHE_BIN_FLUSH:
    case MEMCACHE_BIN_TOUCH:
    case MEMCACHE_BIN_GAT:
    case MEMCACHE_BIN_GATK:
        if (req->extlen == 4) {
            req->exptime = (uint32_t)get_be(x, 4);
        }
        break;
    default:
        break;
    }
}

memcache_bin_parse_e
memcache_bin_parse(struct memcache_bin_request *req, struct buf *b)
{
    memset(req, 0, sizeof(*req));
    size_t n = buf_rsize(b);
    const unsigned char *p = (const unsigned char *)b->rpos;
    if (n < MEMCACHE_BIN_HEADER_LEN) {
        return MEMCACHE_BIN_PARSE_UNFIN; /* memcached waits for a header */
    }
    if (p[0] != MEMCACHE_BIN_REQ_MAGIC) {
        return MEMCACHE_BIN_PARSE_EMAGIC;
    }
    req->opcode = p[1];
    req->keylen = (uint16_t)get_be(p + 2, 2);
    req->extlen = p[4];
    req->datatype = p[5];
    req->vbucket = (uint16_t)get_be(p + 6, 2);
    req->bodylen = (uint32_t)get_be(p + 8, 4);
    req->opaque = (uint32_t)get_be(p + 12, 4);
    req->cas = get_be(p + 16, 8);
    uint32_t kx = (uint32_t)req->keylen + req->extlen;
    uint8_t loud = memcache_bin_opcode_loud(req->opcode);
    if (kx > req->bodylen) {
        req->status = MEMCACHE_BIN_UNKNOWN_COMMAND;
        b->rpos += MEMCACHE_BIN_HEADER_LEN;
        return MEMCACHE_BIN_PARSE_EINVALID;
    }
    if (req->keylen > MEMCACHE_KEY_MAXLEN || !shape_fits(req, loud)) {
        req->status = MEMCACHE_BIN_EINVAL;
        b->rpos += MEMCACHE_BIN_HEADER_LEN;
        return MEMCACHE_BIN_PARSE_EINVALID;
    }
    if (!known(loud)) {
        req->status = MEMCACHE_BIN_UNKNOWN_COMMAND;
        b->rpos += MEMCACHE_BIN_HEADER_LEN;
        if (kx > 0 && loud != MEMCACHE_BIN_SASL_AUTH &&
                loud != MEMCACHE_BIN_SASL_STEP) {
            /* memcached closes after an unknown opcode with a key or
             * extras; it drops the body of one with a value only */
            return MEMCACHE_BIN_PARSE_EINVALID;
        }
        req->swallow = req->bodylen;
        return MEMCACHE_BIN_PARSE_EUNKNOWN;
    }
    size_t vlen = req->bodylen - kx;
    size_t head = MEMCACHE_BIN_HEADER_LEN + kx;
    if (has_value(loud) && vlen > memcache_parse_item_size_max()) {
        if (n < head) {
            req->need = head;
            return MEMCACHE_BIN_PARSE_UNFIN;
        }
        decode_extras(req, p + MEMCACHE_BIN_HEADER_LEN);
        req->key = bstring_of(
                (const char *)p + MEMCACHE_BIN_HEADER_LEN + req->extlen,
                req->keylen);
        req->status = MEMCACHE_BIN_E2BIG;
        req->swallow = vlen;
        b->rpos += head;
        return MEMCACHE_BIN_PARSE_EOVERSIZE;
    }
    size_t whole = MEMCACHE_BIN_HEADER_LEN + (size_t)req->bodylen;
    if (n < whole) {
        req->need = whole;
        return MEMCACHE_BIN_PARSE_UNFIN;
    }
    decode_extras(req, p + MEMCACHE_BIN_HEADER_LEN);
    req->key =
            bstring_of((const char *)p + MEMCACHE_BIN_HEADER_LEN + req->extlen,
                    req->keylen);
    req->value = bstring_of((const char *)p + head, vlen);
    b->rpos += whole;
    return MEMCACHE_BIN_PARSE_OK;
}

bool
memcache_bin_value_begin(
        struct memcache_bin_request *req, struct buf *b, size_t *vlen)
{
    uint32_t kx = (uint32_t)req->keylen + req->extlen;
    size_t head = MEMCACHE_BIN_HEADER_LEN + kx;
    if (!has_value(memcache_bin_opcode_loud(req->opcode)) ||
            kx > req->bodylen || buf_rsize(b) < head) {
        return false;
    }
    const unsigned char *p = (const unsigned char *)b->rpos;
    decode_extras(req, p + MEMCACHE_BIN_HEADER_LEN);
    req->key =
            bstring_of((const char *)p + MEMCACHE_BIN_HEADER_LEN + req->extlen,
                    req->keylen);
    *vlen = req->bodylen - kx;
    b->rpos += head;
    return true;
}

size_t
memcache_bin_swallow(struct memcache_bin_request *req, struct buf *b)
{
    size_t n = size_min(buf_rsize(b), req->swallow);
    b->rpos += n;
    req->swallow -= n;
    return req->swallow;
}

/* -------------------------------------------------------------- compose */

static rstatus_i
room(struct buf *b, size_t n, size_t max)
{
    if (buf_wsize(b) >= n) {
        return STATUS_OK;
    }
    return buf_reserve(b, n, max);
}

static unsigned char *
put(unsigned char *p, const void *s, size_t n)
{
    if (n == 0) {
        return p;
    }
    memcpy(p, s, n);
    return p + n;
}

static void
header(unsigned char *h, uint8_t magic, uint8_t opcode, uint16_t keylen,
        uint8_t extlen, uint16_t status_or_vbucket, uint32_t bodylen,
        uint32_t opaque, uint64_t cas)
{
    h[0] = magic;
    h[1] = opcode;
    put_be(h + 2, keylen, 2);
    h[4] = extlen;
    h[5] = 0; /* raw bytes */
    put_be(h + 6, status_or_vbucket, 2);
    put_be(h + 8, bodylen, 4);
    put_be(h + 12, opaque, 4);
    put_be(h + 16, cas, 8);
}

rstatus_i
memcache_bin_compose_rsp(
        struct buf *b, const struct memcache_bin_response *rsp, size_t max)
{
    size_t body = rsp->extlen + rsp->key.len + rsp->vlen;
    size_t here = body - (rsp->value == NULL ? rsp->vlen : 0);
    if (rsp->key.len > UINT16_MAX || body > UINT32_MAX ||
            room(b, MEMCACHE_BIN_HEADER_LEN + here, max) != STATUS_OK) {
        return STATUS_ENOMEM;
    }
    unsigned char *p = (unsigned char *)b->wpos;
    header(p, MEMCACHE_BIN_RSP_MAGIC, rsp->opcode, (uint16_t)rsp->key.len,
            rsp->extlen, rsp->status, (uint32_t)body, rsp->opaque, rsp->cas);
    p += MEMCACHE_BIN_HEADER_LEN;
    p = put(p, rsp->extras, rsp->extlen);
    p = put(p, rsp->key.data, rsp->key.len);
    if (rsp->value != NULL) {
        p = put(p, rsp->value, rsp->vlen);
    }
    b->wpos = (char *)p;
    return STATUS_OK;
}

rstatus_i
memcache_bin_compose_error(struct buf *b,
        const struct memcache_bin_request *req, memcache_bin_status_e status,
        size_t max)
{
    const char *msg = memcache_bin_status_str(status);
    struct memcache_bin_response rsp = {
            .opcode = req->opcode,
            .status = (uint16_t)status,
            .opaque = req->opaque,
            .value = msg,
            .vlen = strlen(msg),
    };
    return memcache_bin_compose_rsp(b, &rsp, max);
}

rstatus_i
memcache_bin_compose_req(
        struct buf *b, const struct memcache_bin_request *req, size_t max)
{
    unsigned char x[20] = {0};
    size_t xl = req->extlen <= sizeof(x) ? req->extlen : sizeof(x);
    switch (memcache_bin_opcode_loud(req->opcode)) {
    case MEMCACHE_BIN_SET:
    case MEMCACHE_BIN_ADD:
    case MEMCACHE_BIN_REPLACE:
        put_be(x, req->flags, 4);
        put_be(x + 4, req->exptime, 4);
        break;
    case MEMCACHE_BIN_INCREMENT:
    case MEMCACHE_BIN_DECREMENT:
        put_be(x, req->delta, 8);
        put_be(x + 8, req->initial, 8);
        put_be(x + 16, req->exptime, 4);
        break;
    default:
        put_be(x, req->exptime, 4);
        break;
    }
    size_t body = xl + req->key.len + req->value.len;
    if (req->key.len > UINT16_MAX || body > UINT32_MAX ||
            room(b, MEMCACHE_BIN_HEADER_LEN + body, max) != STATUS_OK) {
        return STATUS_ENOMEM;
    }
    unsigned char *p = (unsigned char *)b->wpos;
    header(p, MEMCACHE_BIN_REQ_MAGIC, req->opcode, (uint16_t)req->key.len,
            (uint8_t)xl, req->vbucket, (uint32_t)body, req->opaque, req->cas);
    p += MEMCACHE_BIN_HEADER_LEN;
    p = put(p, x, xl);
    p = put(p, req->key.data, req->key.len);
    p = put(p, req->value.data, req->value.len);
    b->wpos = (char *)p;
    return STATUS_OK;
}
