/* SPDX-License-Identifier: Apache-2.0 */
/* Reply and request composer for the memcache protocol. Each function
 * bounds what it writes, reserves that once, then writes in place. */
#include "protocol/memcache/compose.h"

#include <string.h>

#define CRLF                    "\r\n"
#define U64_MAX_DIGITS          20
/* "VALUE " key " " flags " " vlen [" " cas] "\r\n" */
#define VALUE_HEADER_MAX(_klen) (6 + (_klen) + 3 * (U64_MAX_DIGITS + 1) + 2)

static char *
put(char *p, const void *s, size_t n)
{
    if (n == 0) { /* s may be NULL then (an empty view) */
        return p;
    }
    memcpy(p, s, n);
    return p + n;
}

static char *
put_str(char *p, const char *s)
{
    return put(p, s, strlen(s));
}

static char *
put_u64(char *p, uint64_t v)
{
    char tmp[U64_MAX_DIGITS];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    while (n > 0) {
        *p++ = tmp[--n];
    }
    return p;
}

static char *
put_i64(char *p, int64_t v)
{
    if (v < 0) {
        *p++ = '-';
        return put_u64(p, (uint64_t)0 - (uint64_t)v);
    }
    return put_u64(p, (uint64_t)v);
}

static char *
put_crlf(char *p)
{
    return put(p, CRLF, 2);
}

/* Room for n more bytes, or STATUS_ENOMEM with b unchanged. */
static rstatus_i
room(struct buf *b, size_t n, size_t max)
{
    if (buf_wsize(b) >= n) {
        return STATUS_OK;
    }
    return buf_reserve(b, n, max);
}

static size_t
base64_len(size_t len)
{
    return (len + 2) / 3 * 4;
}

size_t
memcache_base64_encode(const void *src, size_t len, char *dst, size_t cap)
{
    static const char alphabet[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *s = src;
    size_t out = 0;
    if (base64_len(len) > cap) {
        return 0;
    }
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16;
        v |= i + 1 < len ? (uint32_t)s[i + 1] << 8 : 0;
        v |= i + 2 < len ? (uint32_t)s[i + 2] : 0;
        dst[out++] = alphabet[v >> 18 & 63];
        dst[out++] = alphabet[v >> 12 & 63];
        dst[out++] = i + 1 < len ? alphabet[v >> 6 & 63] : '=';
        dst[out++] = i + 2 < len ? alphabet[v & 63] : '=';
    }
    return out;
}

/* A key as a meta reply or me writes it: base64 when the request sent b. */
static size_t
meta_key_len(const struct memcache_request *req)
{
    return req->meta.key_binary ? base64_len(req->key.len) : req->key.len;
}

static char *
put_meta_key(char *p, const struct memcache_request *req)
{
    if (!req->meta.key_binary) {
        return put(p, req->key.data, req->key.len);
    }
    return p + memcache_base64_encode(req->key.data, req->key.len, p,
                       base64_len(req->key.len));
}

/* ------------------------------------------------------------- replies */

static rstatus_i
compose_text(struct buf *b, const char *prefix, size_t plen, const char *s,
        size_t len, size_t max)
{
    if (room(b, plen + len + 2, max) != STATUS_OK) {
        return STATUS_ENOMEM;
    }
    char *p = put(b->wpos, prefix, plen);
    p = put(p, s, len);
    b->wpos = put_crlf(p);
    return STATUS_OK;
}

rstatus_i
memcache_compose_rsp(struct buf *b, memcache_rsp_type_e type, size_t max)
{
    const char *s = memcache_rsp_str(type);
    return compose_text(b, "", 0, s, strlen(s), max);
}

rstatus_i
memcache_compose_error(struct buf *b, memcache_error_e err, size_t max)
{
    return compose_text(
            b, "", 0, memcache_error_str(err), memcache_error_len(err), max);
}

rstatus_i
memcache_compose_client_error(
        struct buf *b, const char *msg, size_t len, size_t max)
{
    return compose_text(b, "CLIENT_ERROR ", 13, msg, len, max);
}

rstatus_i
memcache_compose_server_error(
        struct buf *b, const char *msg, size_t len, size_t max)
{
    return compose_text(b, "SERVER_ERROR ", 13, msg, len, max);
}

rstatus_i
memcache_compose_line(struct buf *b, const char *line, size_t len, size_t max)
{
    return compose_text(b, "", 0, line, len, max);
}

rstatus_i
memcache_compose_version(struct buf *b, const char *version, size_t max)
{
    return compose_text(b, "VERSION ", 8, version, strlen(version), max);
}

rstatus_i
memcache_compose_number(struct buf *b, uint64_t n, size_t max)
{
    if (room(b, U64_MAX_DIGITS + 2, max) != STATUS_OK) {
        return STATUS_ENOMEM;
    }
    b->wpos = put_crlf(put_u64(b->wpos, n));
    return STATUS_OK;
}

rstatus_i
memcache_compose_value_header(struct buf *b, const struct bstring *key,
        uint32_t flags, size_t vlen, const uint64_t *cas, size_t max)
{
    if (room(b, VALUE_HEADER_MAX(key->len), max) != STATUS_OK) {
        return STATUS_ENOMEM;
    }
    char *p = put(b->wpos, "VALUE ", 6);
    p = put(p, key->data, key->len);
    *p++ = ' ';
    p = put_u64(p, flags);
    *p++ = ' ';
    p = put_u64(p, vlen);
    if (cas != NULL) {
        *p++ = ' ';
        p = put_u64(p, *cas);
    }
    b->wpos = put_crlf(p);
    return STATUS_OK;
}

rstatus_i
memcache_compose_value_data(
        struct buf *b, const void *data, size_t len, size_t max)
{
    if (room(b, len + 2, max) != STATUS_OK) {
        return STATUS_ENOMEM;
    }
    b->wpos = put_crlf(put(b->wpos, data, len));
    return STATUS_OK;
}

rstatus_i
memcache_compose_value(struct buf *b, const struct bstring *key, uint32_t flags,
        const void *data, size_t len, const uint64_t *cas, size_t max)
{
    /* reserve both parts first so that neither can fail alone */
    if (room(b, VALUE_HEADER_MAX(key->len) + len + 2, max) != STATUS_OK) {
        return STATUS_ENOMEM;
    }
    memcache_compose_value_header(b, key, flags, len, cas, max);
    memcache_compose_value_data(b, data, len, max);
    return STATUS_OK;
}

rstatus_i
memcache_compose_stat(struct buf *b, const char *name,
        const struct bstring *value, size_t max)
{
    size_t nlen = strlen(name);
    if (room(b, 5 + nlen + 1 + value->len + 2, max) != STATUS_OK) {
        return STATUS_ENOMEM;
    }
    char *p = put(b->wpos, "STAT ", 5);
    p = put(p, name, nlen);
    *p++ = ' ';
    p = put(p, value->data, value->len);
    b->wpos = put_crlf(p);
    return STATUS_OK;
}

rstatus_i
memcache_compose_stat_u64(
        struct buf *b, const char *name, uint64_t value, size_t max)
{
    char digits[U64_MAX_DIGITS];
    struct bstring v =
            bstring_of(digits, (size_t)(put_u64(digits, value) - digits));
    return memcache_compose_stat(b, name, &v, max);
}

/* ---------------------------------------------------------------- meta */

/* Which return flags a meta reply carries (memcached 1.6.18): see
 * response.h. */
static const char *
meta_return_flags(const struct memcache_request *req, memcache_meta_code_e code)
{
    bool hit = code == MEMCACHE_META_HD || code == MEMCACHE_META_VA;
    switch (req->type) {
    case MEMCACHE_REQ_MG:
        return hit ? "stcflhOk" : "Ok";
    case MEMCACHE_REQ_MA:
        return hit ? "ctOk" : "Ok";
    case MEMCACHE_REQ_MS:
        return "Okc";
    default:
        return "Ok";
    }
}

static char *
put_meta_flag(char *p, char flag, const struct memcache_request *req,
        const struct memcache_meta_rsp *rsp)
{
    *p++ = ' ';
    *p++ = flag;
    switch (flag) {
    case 's':
        return put_u64(p, rsp->size);
    case 't':
        return put_i64(p, rsp->ttl);
    case 'c':
        return put_u64(p, rsp->cas);
    case 'f':
        return put_u64(p, rsp->flags);
    case 'l':
        return put_u64(p, rsp->last_access);
    case 'h':
        *p++ = rsp->fetched ? '1' : '0';
        return p;
    case 'O':
        return put(p, req->meta.opaque.data, req->meta.opaque.len);
    default: /* 'k' */
        p = put_meta_key(p, req);
        return req->meta.key_binary ? put(p, " b", 2) : p;
    }
}

rstatus_i
memcache_compose_meta(struct buf *b, const struct memcache_request *req,
        const struct memcache_meta_rsp *rsp, size_t max)
{
    const char *allowed = meta_return_flags(req, rsp->code);
    /* code, vlen, then per flag " x" + a number, the opaque or the key */
    size_t bound = 2 + 1 + U64_MAX_DIGITS + 2 * 3 + 2 +
                   req->meta.nflag * (3 + U64_MAX_DIGITS) +
                   req->meta.opaque.len + meta_key_len(req) + 2;
    if (room(b, bound, max) != STATUS_OK) {
        return STATUS_ENOMEM;
    }
    char *p = put(b->wpos, memcache_meta_code_str(rsp->code), 2);
    if (rsp->code == MEMCACHE_META_VA) {
        *p++ = ' ';
        p = put_u64(p, rsp->vlen);
    }
    for (const char *f = req->meta.order; *f != '\0'; f++) {
        if (strchr(allowed, *f) != NULL) {
            p = put_meta_flag(p, *f, req, rsp);
        }
    }
    p = rsp->token_sent ? put(p, " Z", 2) : p;
    p = rsp->stale ? put(p, " X", 2) : p;
    p = rsp->win ? put(p, " W", 2) : p;
    b->wpos = put_crlf(p);
    return STATUS_OK;
}

rstatus_i
memcache_compose_me(struct buf *b, const struct memcache_request *req,
        const char *detail, size_t len, size_t max)
{
    if (room(b, 3 + meta_key_len(req) + 1 + len + 2, max) != STATUS_OK) {
        return STATUS_ENOMEM;
    }
    char *p = put(b->wpos, "ME ", 3);
    p = put_meta_key(p, req);
    *p++ = ' ';
    p = put(p, detail, len);
    b->wpos = put_crlf(p);
    return STATUS_OK;
}

rstatus_i
memcache_compose_binary_refusal(
        struct buf *b, const struct memcache_request *req, size_t max)
{
    static const char msg[] = "Not supported";
    uint8_t hdr[24] = {0x81, req->bin_opcode};
    uint32_t body = sizeof(msg) - 1;
    hdr[6] = 0x00; /* status 0x0083: not supported */
    hdr[7] = 0x83;
    for (int i = 0; i < 4; i++) {
        hdr[8 + i] = (uint8_t)(body >> (24 - 8 * i));
        hdr[12 + i] = (uint8_t)(req->bin_opaque >> (24 - 8 * i));
    }
    if (room(b, sizeof(hdr) + body, max) != STATUS_OK) {
        return STATUS_ENOMEM;
    }
    b->wpos = put(put(b->wpos, hdr, sizeof(hdr)), msg, body);
    return STATUS_OK;
}

/* ------------------------------------------------------------ requests */

static char *
put_word(char *p, const char *word)
{
    *p++ = ' ';
    return put_str(p, word);
}

static char *
put_view(char *p, const struct bstring *s)
{
    *p++ = ' ';
    return put(p, s->data, s->len);
}

static char *
put_num(char *p, uint64_t v)
{
    *p++ = ' ';
    return put_u64(p, v);
}

static char *
put_signed(char *p, int64_t v)
{
    *p++ = ' ';
    return put_i64(p, v);
}

/* A meta flag with its token as sent (P and L tokens are not kept). */
static char *
put_meta_req_flag(char *p, char flag, const struct memcache_meta *m)
{
    *p++ = ' ';
    *p++ = flag;
    switch (flag) {
    case 'O':
        return put(p, m->opaque.data, m->opaque.len);
    case 'N':
        return put_i64(p, m->vivify_ttl);
    case 'T':
        return put_i64(p, m->ttl);
    case 'R':
        return put_i64(p, m->recache_ttl);
    case 'F':
        return put_u64(p, m->client_flags);
    case 'C':
        return put_u64(p, m->cas);
    case 'J':
        return put_u64(p, m->initial);
    case 'D':
        return put_u64(p, m->delta);
    case 'M':
        *p++ = m->mode;
        return p;
    default:
        return p;
    }
}

static char *
put_meta_req(char *p, const struct memcache_request *req)
{
    p = put_view(p, &req->meta.key_wire);
    if (req->type == MEMCACHE_REQ_ME) {
        return req->meta.key_binary ? put(p, " b", 2) : p;
    }
    if (req->type == MEMCACHE_REQ_MS) {
        p = put_num(p, req->vlen);
    }
    for (const char *f = req->meta.order; *f != '\0'; f++) {
        p = put_meta_req_flag(p, *f, &req->meta);
    }
    return p;
}

static char *
put_retrieval_req(char *p, const struct memcache_request *req)
{
    size_t pos = 0;
    struct bstring key;
    if (req->type == MEMCACHE_REQ_GAT || req->type == MEMCACHE_REQ_GATS) {
        p = put_signed(p, req->exptime);
    }
    while (memcache_request_key_next(req, &pos, &key)) {
        p = put_view(p, &key);
    }
    return p;
}

static char *
put_classic_req(char *p, const struct memcache_request *req)
{
    switch (req->type) {
    case MEMCACHE_REQ_SET:
    case MEMCACHE_REQ_ADD:
    case MEMCACHE_REQ_REPLACE:
    case MEMCACHE_REQ_APPEND:
    case MEMCACHE_REQ_PREPEND:
    case MEMCACHE_REQ_CAS:
        p = put_view(p, &req->key);
        p = put_num(p, req->flags);
        p = put_signed(p, req->exptime);
        p = put_num(p, req->vlen);
        return req->type == MEMCACHE_REQ_CAS ? put_num(p, req->cas) : p;
    case MEMCACHE_REQ_INCR:
    case MEMCACHE_REQ_DECR:
        return put_num(put_view(p, &req->key), req->delta);
    case MEMCACHE_REQ_TOUCH:
        return put_signed(put_view(p, &req->key), req->exptime);
    case MEMCACHE_REQ_DELETE:
        return put_view(p, &req->key);
    case MEMCACHE_REQ_FLUSH_ALL:
        return req->exptime != 0 ? put_signed(p, req->exptime) : p;
    case MEMCACHE_REQ_VERBOSITY:
    case MEMCACHE_REQ_CACHE_MEMLIMIT:
        return put_num(p, req->num);
    default:
        for (size_t i = 0; i < req->narg; i++) {
            p = put_view(p, &req->arg[i]);
        }
        return p;
    }
}

static size_t
req_bound(const struct memcache_request *req)
{
    size_t n = 32 + 5 * (U64_MAX_DIGITS + 2) + req->keys.len + req->key.len +
               req->meta.key_wire.len + req->meta.nflag * (U64_MAX_DIGITS + 3) +
               req->meta.opaque.len + req->vlen + 4;
    for (size_t i = 0; i < req->narg; i++) {
        n += req->arg[i].len + 1;
    }
    return n;
}

rstatus_i
memcache_compose_req(
        struct buf *b, const struct memcache_request *req, size_t max)
{
    if (req->type == MEMCACHE_REQ_UNKNOWN ||
            req->type >= MEMCACHE_REQ_SENTINEL) {
        return STATUS_EINVAL;
    }
    if (room(b, req_bound(req), max) != STATUS_OK) {
        return STATUS_ENOMEM;
    }
    char *p = put_str(b->wpos, memcache_req_type_str(req->type));
    if (memcache_req_is_retrieval(req->type)) {
        p = put_retrieval_req(p, req);
    } else if (req->meta.key_wire.len > 0) {
        p = put_meta_req(p, req);
    } else {
        p = put_classic_req(p, req);
    }
    p = req->noreply ? put_word(p, "noreply") : p;
    p = put_crlf(p);
    if (memcache_req_is_storage(req->type)) {
        p = put_crlf(put(p, req->value.data, req->value.len));
    }
    b->wpos = p;
    return STATUS_OK;
}
