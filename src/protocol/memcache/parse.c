/* SPDX-License-Identifier: Apache-2.0 */
/* Request parser for the memcache protocol. Every refusal below follows
 * what memcached 1.6.18 does with the same line, including the order in
 * which it checks things (which error wins) and whether it reads the data
 * block of a refused storage command; the probes behind each choice are
 * the unit tests in test/protocol/memcache/. */
#include "protocol/memcache/parse.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define TOKEN_MAX 24 /* tokens kept per line, as memcached's MAX_TOKENS */

/* the option table's defaults until memcache_parse_setup */
static size_t line_max = 2048;
static size_t get_line_max = 1 * MiB;
static size_t item_size_max = 1 * MiB;
static memcache_parse_metrics_st *parse_metrics;

void
memcache_parse_setup(const memcache_parse_options_st *options,
        memcache_parse_metrics_st *metrics)
{
    memcache_parse_options_st defaults = {MEMCACHE_PARSE_OPTION(INIT_OPTION)};
    if (options == NULL) {
        options = &defaults;
    }
    line_max = option_uint(&options->memcache_line_max);
    get_line_max = option_uint(&options->memcache_get_line_max);
    item_size_max = option_uint(&options->memcache_item_size_max);
    if (get_line_max < line_max) {
        get_line_max = line_max;
    }
    parse_metrics = metrics;
}

size_t
memcache_parse_item_size_max(void)
{
    return item_size_max;
}

void
memcache_parse_teardown(void)
{
    memcache_parse_setup(NULL, NULL);
}

/* One command line, split on ' ' only (memcached's tokenizer): tok holds
 * the first TOKEN_MAX tokens, ntok counts all of them. */
struct line {
    const char *p;
    size_t len;
    size_t ntok;
    struct bstring tok[TOKEN_MAX];
};

static void
tokenize(struct line *l)
{
    const char *p = l->p, *end = l->p + l->len;
    l->ntok = 0;
    while (p < end) {
        while (p < end && *p == ' ') {
            p++;
        }
        if (p == end) {
            break;
        }
        const char *s = p;
        while (p < end && *p != ' ') {
            p++;
        }
        if (l->ntok < TOKEN_MAX) {
            l->tok[l->ntok] = bstring_of(s, (size_t)(p - s));
        }
        l->ntok++;
    }
}

static bool
tok_is(const struct bstring *t, const char *s)
{
    return bstring_equal_cstr(t, s);
}

/* The last token is "noreply": memcached's set_noreply_maybe. */
static bool
last_is_noreply(const struct line *l)
{
    return l->ntok <= TOKEN_MAX && l->ntok > 0 &&
           tok_is(&l->tok[l->ntok - 1], "noreply");
}

/*
 * Numbers as memcached's safe_strto* read them with strtoull/strtol:
 * leading white space, one optional sign, decimal digits, then the end of
 * the token or a white-space byte. Out-of-range values fail; a '-' fails
 * for unsigned reads only when the wrapped value looks negative (so "-0"
 * is 0, as in memcached); 32-bit results keep the low 32 bits.
 */
static bool
is_space(char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

static bool
read_digits(const struct bstring *t, uint64_t *v, bool *neg, bool *overflow)
{
    const char *p = t->data, *end = t->data + t->len;
    while (p < end && is_space(*p)) {
        p++;
    }
    *neg = false;
    if (p < end && (*p == '+' || *p == '-')) {
        *neg = *p == '-';
        p++;
    }
    const char *digits = p;
    uint64_t u = 0;
    *overflow = false;
    for (; p < end && *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (u > (UINT64_MAX - d) / 10) {
            *overflow = true;
        }
        u = u * 10 + d;
    }
    if (p == digits || (p < end && !is_space(*p))) {
        return false;
    }
    *v = u;
    return true;
}

static bool
mc_strtoull(const struct bstring *t, uint64_t *out)
{
    uint64_t u;
    bool neg, overflow;
    if (!read_digits(t, &u, &neg, &overflow) || overflow) {
        return false;
    }
    if (neg) {
        u = 0 - u;
        if ((u >> 63) != 0) {
            return false;
        }
    }
    *out = u;
    return true;
}

static bool
mc_strtoul32(const struct bstring *t, uint32_t *out)
{
    uint64_t u;
    if (!mc_strtoull(t, &u)) {
        return false;
    }
    *out = (uint32_t)u;
    return true;
}

static bool
mc_strtol32(const struct bstring *t, int32_t *out)
{
    uint64_t u;
    bool neg, overflow;
    if (!read_digits(t, &u, &neg, &overflow) || overflow) {
        return false;
    }
    if (neg ? u > (uint64_t)INT64_MAX + 1 : u > (uint64_t)INT64_MAX) {
        return false;
    }
    uint32_t low = (uint32_t)(neg ? 0 - u : u);
    /* two's complement truncation, as memcached's int32 store does */
    *out = low > (uint32_t)INT32_MAX ? -(int32_t)(UINT32_MAX - low) - 1
                                     : (int32_t)low;
    return true;
}

bool
memcache_number_u64(const struct bstring *t, uint64_t *out)
{
    return mc_strtoull(t, out);
}

bool
memcache_number_u32(const struct bstring *t, uint32_t *out)
{
    return mc_strtoul32(t, out);
}

bool
memcache_number_i32(const struct bstring *t, int32_t *out)
{
    return mc_strtol32(t, out);
}

bool
memcache_number_double(const struct bstring *t, double *out)
{
    /* strtod wants a C string: tokens longer than any number fail */
    char text[64];
    if (t->len == 0 || t->len >= sizeof(text)) {
        return false;
    }
    memcpy(text, t->data, t->len);
    text[t->len] = '\0';
    char *end;
    errno = 0;
    double d = strtod(text, &end);
    if (errno == ERANGE || end == text || *end != '\0') {
        return false;
    }
    *out = d;
    return true;
}

/* Keys: at most 250 bytes (memcached) and no control bytes (segcached). */
static bool
key_has_control(const struct bstring *k)
{
    for (size_t i = 0; i < k->len; i++) {
        unsigned char c = (unsigned char)k->data[i];
        if (c < 0x20 || c == 0x7f) {
            return true;
        }
    }
    return false;
}

/* memcached's base64 decoder (meta keys): bytes outside the alphabet are
 * skipped, the count of the rest must be a multiple of 4, and a group
 * holding '=' ends the input (more than two '=' in it is an error). */
static int8_t
b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') {
        return (int8_t)(c - 'A');
    }
    if (c >= 'a' && c <= 'z') {
        return (int8_t)(c - 'a' + 26);
    }
    if (c >= '0' && c <= '9') {
        return (int8_t)(c - '0' + 52);
    }
    if (c == '+') {
        return 62;
    }
    if (c == '/') {
        return 63;
    }
    if (c == '=') {
        return 0;
    }
    return -1;
}

size_t
memcache_base64_decode(const char *src, size_t len, char *dst, size_t cap)
{
    size_t count = 0, out = 0;
    for (size_t i = 0; i < len; i++) {
        count += b64_value((unsigned char)src[i]) >= 0;
    }
    if (count == 0 || count % 4 != 0) {
        return 0;
    }
    uint8_t block[4];
    unsigned n = 0, pad = 0;
    for (size_t i = 0; i < len; i++) {
        int8_t v = b64_value((unsigned char)src[i]);
        if (v < 0) {
            continue;
        }
        pad += src[i] == '=';
        block[n++] = (uint8_t)v;
        if (n < 4) {
            continue;
        }
        n = 0;
        if (pad > 2 || out + 3 - pad > cap) {
            return 0;
        }
        uint8_t bytes[3] = {(uint8_t)(block[0] << 2 | block[1] >> 4),
                (uint8_t)(block[1] << 4 | block[2] >> 2),
                (uint8_t)(block[2] << 6 | block[3])};
        memcpy(dst + out, bytes, 3 - pad);
        out += 3 - pad;
        if (pad > 0) {
            break;
        }
    }
    return out;
}

/* ---------------------------------------------------------------- lines */

/* Retrieval commands may have long lines (memcached lets "get " and
 * "gets " lines grow without bound; we also let gat/gats, up to a cap). */
static bool
retrieval_prefix(const char *p, size_t len)
{
    while (len > 0 && *p == ' ') {
        p++;
        len--;
    }
    static const char *const prefix[] = {
            "get ", "gets ", "gat ", "gats ", "bget "};
    for (size_t i = 0; i < ARRAY_SIZE(prefix); i++) {
        size_t n = strlen(prefix[i]);
        if (len >= n && memcmp(p, prefix[i], n) == 0) {
            return true;
        }
    }
    return false;
}

#define TYPE_ROW(_name, _str, _min, _max)                                      \
    {(_name), (_str), sizeof(_str) - 1, (_min), (_max)},
static const struct {
    memcache_req_type_e type;
    const char *str;
    size_t len;
    size_t min, max;
} type_table[] = {MEMCACHE_REQ_TYPE(TYPE_ROW)};

static size_t
type_index(const struct bstring *cmd)
{
    for (size_t i = 1; i < ARRAY_SIZE(type_table); i++) {
        if (type_table[i].len == cmd->len &&
                memcmp(type_table[i].str, cmd->data, cmd->len) == 0) {
            return i;
        }
    }
    /* "bget": an undocumented old alias of get that memcached keeps */
    if (tok_is(cmd, "bget")) {
        return MEMCACHE_REQ_GET;
    }
    return 0;
}

/* ----------------------------------------------------- shared outcomes */

static memcache_parse_e
refuse(struct memcache_request *req, struct buf *b, memcache_error_e err)
{
    req->error = err;
    b->rpos += req->hdr_len;
    INCR(parse_metrics, memcache_parse_req_ex);
    return MEMCACHE_PARSE_EINVALID;
}

/* A storage command refused after memcached knew its length: it reads
 * (swallows) the data block as well (its conn_swallow state). */
static memcache_parse_e
refuse_swallow(
        struct memcache_request *req, struct buf *b, memcache_error_e err)
{
    req->swallow = req->vlen + 2;
    memcache_parse_e status = refuse(req, b, err);
    memcache_parse_swallow(req, b);
    return status;
}

static memcache_parse_e
accepted(struct memcache_request *req, struct buf *b)
{
    b->rpos += req->hdr_len;
    INCR(parse_metrics, memcache_parse_req);
    return MEMCACHE_PARSE_OK;
}

/* The value of a storage command whose line is understood. */
static memcache_parse_e
storage_value(struct memcache_request *req, struct buf *b)
{
    if (req->vlen > item_size_max) {
        req->error = MEMCACHE_ERR_TOO_LARGE;
        b->rpos += req->hdr_len;
        req->swallow = req->vlen + 2;
        memcache_parse_swallow(req, b);
        INCR(parse_metrics, memcache_parse_oversize);
        return MEMCACHE_PARSE_EOVERSIZE;
    }
    req->need = req->hdr_len + req->vlen + 2;
    if (buf_rsize(b) < req->need) {
        return MEMCACHE_PARSE_UNFIN;
    }
    const char *v = b->rpos + req->hdr_len;
    if (v[req->vlen] != '\r' || v[req->vlen + 1] != '\n') {
        /* memcached reads vlen + 2 bytes, then finds no "\r\n" at the end */
        b->rpos += req->vlen + 2;
        return refuse(req, b, MEMCACHE_ERR_DATA_CHUNK);
    }
    req->value = bstring_of(v, req->vlen);
    b->rpos += req->need;
    INCR(parse_metrics, memcache_parse_req);
    return MEMCACHE_PARSE_OK;
}

/* ------------------------------------------------------ classic commands */

static memcache_parse_e
parse_retrieval(
        struct memcache_request *req, const struct line *l, struct buf *b)
{
    size_t first = 1;
    if (req->type == MEMCACHE_REQ_GAT || req->type == MEMCACHE_REQ_GATS) {
        if (!mc_strtol32(&l->tok[1], &req->exptime)) {
            return refuse(req, b, MEMCACHE_ERR_EXPTIME);
        }
        first = 2;
    }
    const char *end = l->p + l->len;
    const char *start = l->ntok > first ? l->tok[first].data : end;
    req->keys = bstring_of(start, (size_t)(end - start));
    size_t pos = 0;
    struct bstring key;
    while (memcache_request_key_next(req, &pos, &key)) {
        /* memcached refuses the whole line for one long key */
        if (key.len > MEMCACHE_KEY_MAXLEN || key_has_control(&key)) {
            return refuse(req, b, MEMCACHE_ERR_FORMAT);
        }
        if (req->nkey == 0) {
            req->key = key;
        }
        req->nkey++;
    }
    return accepted(req, b);
}

static memcache_parse_e
parse_storage(struct memcache_request *req, const struct line *l, struct buf *b)
{
    int32_t vlen;
    req->noreply = last_is_noreply(l);
    req->key = l->tok[1];
    if (req->key.len > MEMCACHE_KEY_MAXLEN) {
        return refuse(req, b, MEMCACHE_ERR_FORMAT);
    }
    if (!mc_strtoul32(&l->tok[2], &req->flags) ||
            !mc_strtol32(&l->tok[3], &req->exptime) ||
            !mc_strtol32(&l->tok[4], &vlen)) {
        return refuse(req, b, MEMCACHE_ERR_FORMAT);
    }
    if (req->type == MEMCACHE_REQ_CAS && !mc_strtoull(&l->tok[5], &req->cas)) {
        return refuse(req, b, MEMCACHE_ERR_FORMAT);
    }
    if (vlen < 0 || vlen > INT_MAX - 2) {
        return refuse(req, b, MEMCACHE_ERR_FORMAT);
    }
    req->vlen = (size_t)vlen;
    if (key_has_control(&req->key)) {
        return refuse_swallow(req, b, MEMCACHE_ERR_FORMAT);
    }
    return storage_value(req, b);
}

/* incr, decr, touch: <cmd> <key> <number> [noreply] */
static memcache_parse_e
parse_key_number(
        struct memcache_request *req, const struct line *l, struct buf *b)
{
    req->noreply = last_is_noreply(l);
    req->key = l->tok[1];
    if (req->key.len > MEMCACHE_KEY_MAXLEN) {
        return refuse(req, b, MEMCACHE_ERR_FORMAT);
    }
    if (req->type == MEMCACHE_REQ_TOUCH) {
        if (!mc_strtol32(&l->tok[2], &req->exptime)) {
            return refuse(req, b, MEMCACHE_ERR_EXPTIME);
        }
    } else if (!mc_strtoull(&l->tok[2], &req->delta)) {
        return refuse(req, b, MEMCACHE_ERR_DELTA);
    }
    if (key_has_control(&req->key)) {
        return refuse(req, b, MEMCACHE_ERR_FORMAT);
    }
    return accepted(req, b);
}

/* delete <key> [0] [noreply]: the "0" is a legacy hold time memcached
 * still accepts; anything else there is refused with a usage line. */
static memcache_parse_e
parse_delete(struct memcache_request *req, const struct line *l, struct buf *b)
{
    if (l->ntok > 2) {
        bool zero = tok_is(&l->tok[2], "0");
        req->noreply = last_is_noreply(l);
        bool valid = (l->ntok == 3 && (zero || req->noreply)) ||
                     (l->ntok == 4 && zero && req->noreply);
        if (!valid) {
            return refuse(req, b, MEMCACHE_ERR_DELETE_USAGE);
        }
    }
    req->key = l->tok[1];
    if (req->key.len > MEMCACHE_KEY_MAXLEN || key_has_control(&req->key)) {
        return refuse(req, b, MEMCACHE_ERR_FORMAT);
    }
    return accepted(req, b);
}

/* flush_all [delay] [noreply], verbosity <level> [noreply],
 * cache_memlimit <megabytes> [noreply] */
static memcache_parse_e
parse_admin_number(
        struct memcache_request *req, const struct line *l, struct buf *b)
{
    req->noreply = last_is_noreply(l);
    switch (req->type) {
    case MEMCACHE_REQ_FLUSH_ALL:
        if (l->ntok != (req->noreply ? 2u : 1u) &&
                !mc_strtol32(&l->tok[1], &req->exptime)) {
            return refuse(req, b, MEMCACHE_ERR_EXPTIME);
        }
        break;
    case MEMCACHE_REQ_VERBOSITY:
        if (!mc_strtoul32(&l->tok[1], &req->num)) {
            return refuse(req, b, MEMCACHE_ERR_FORMAT);
        }
        break;
    default: /* cache_memlimit: memcached answers a bad number "ERROR" */
        if (!mc_strtoul32(&l->tok[1], &req->num)) {
            return refuse(req, b, MEMCACHE_ERR_UNKNOWN);
        }
        break;
    }
    return accepted(req, b);
}

/* stats, shutdown, slabs, lru, lru_crawler, watch: the processor reads
 * the arguments (memcached looks at no more than these). */
static memcache_parse_e
parse_args(struct memcache_request *req, const struct line *l, struct buf *b)
{
    size_t n = l->ntok < TOKEN_MAX ? l->ntok : TOKEN_MAX - 1;
    for (size_t i = 1; i < n && req->narg < MEMCACHE_ARG_MAX; i++) {
        req->arg[req->narg++] = l->tok[i];
    }
    return accepted(req, b);
}

/* --------------------------------------------------------- meta commands */

static bool
meta_decode_key(struct memcache_request *req)
{
    size_t n = memcache_base64_decode(req->meta.key_wire.data,
            req->meta.key_wire.len, req->key_buf, sizeof(req->key_buf));
    if (n == 0) {
        return false;
    }
    req->key = bstring_of(req->key_buf, n);
    req->meta.key_binary = true;
    return true;
}

/* One flag token (a flat switch over the flag letters). Returns
 * MEMCACHE_ERR_NONE, or the error memcached's
 * flag pre-parse reports for it; *stop says it stops at this flag (an
 * unknown or repeated flag) rather than reading on, where a later bad
 * token would replace the message. */
static memcache_error_e
meta_flag(struct memcache_request *req, const struct bstring *t, bool *stop)
{
    struct memcache_meta *m = &req->meta;
    unsigned char c = (unsigned char)t->data[0];
    struct bstring arg = bstring_of(t->data + 1, t->len - 1);

    *stop = true;
    if (c >= 127) { /* memcached's table of seen flags ends at 127 */
        return MEMCACHE_ERR_META_DUP;
    }
    if (c < 'A' || c > 'z' || strchr("bNTRlOPLkstcfvhuqFCMJDI", c) == NULL) {
        return MEMCACHE_ERR_META_FLAG;
    }
    if (MEMCACHE_META_HAS(m, c)) {
        return MEMCACHE_ERR_META_DUP;
    }
    *stop = false;
    m->flags |= MEMCACHE_META_BIT(c);
    m->order[m->nflag++] = (char)c;
    switch (c) {
    case 'b':
        return meta_decode_key(req) ? MEMCACHE_ERR_NONE
                                    : MEMCACHE_ERR_META_DECODE;
    case 'N':
        return mc_strtol32(&arg, &m->vivify_ttl) ? MEMCACHE_ERR_NONE
                                                 : MEMCACHE_ERR_META_TOKEN;
    case 'T':
        return mc_strtol32(&arg, &m->ttl) ? MEMCACHE_ERR_NONE
                                          : MEMCACHE_ERR_META_TOKEN;
    case 'R':
        return mc_strtol32(&arg, &m->recache_ttl) ? MEMCACHE_ERR_NONE
                                                  : MEMCACHE_ERR_META_TOKEN;
    case 'F': /* a bad F keeps whatever message came before */
        return mc_strtoul32(&arg, &m->client_flags) ? MEMCACHE_ERR_NONE
                                                    : MEMCACHE_ERR_SENTINEL;
    case 'C':
        return mc_strtoull(&arg, &m->cas) ? MEMCACHE_ERR_NONE
                                          : MEMCACHE_ERR_META_TOKEN;
    case 'M':
        m->mode = t->len == 2 ? t->data[1] : 0;
        return t->len == 2 ? MEMCACHE_ERR_NONE : MEMCACHE_ERR_META_M_LEN;
    case 'J':
        return mc_strtoull(&arg, &m->initial) ? MEMCACHE_ERR_NONE
                                              : MEMCACHE_ERR_META_INITIAL;
    case 'D':
        return mc_strtoull(&arg, &m->delta) ? MEMCACHE_ERR_NONE
                                            : MEMCACHE_ERR_META_DELTA;
    case 'O':
        m->opaque = arg;
        return MEMCACHE_ERR_NONE;
    default: /* l P L k s t c f v h u q I: no token to read */
        return MEMCACHE_ERR_NONE;
    }
}

/* The flags from token `first` on, as memcached's pre-parse reads them:
 * an unknown or repeated flag stops at once; a bad token is remembered and
 * reading goes on (the last message wins). */
static memcache_error_e
meta_flags(struct memcache_request *req, const struct line *l, size_t first)
{
    memcache_error_e last = MEMCACHE_ERR_FORMAT;
    bool failed = false;
    for (size_t i = first; i < l->ntok; i++) {
        bool stop;
        memcache_error_e err = meta_flag(req, &l->tok[i], &stop);
        if (stop) {
            return err;
        }
        if (err != MEMCACHE_ERR_NONE) {
            failed = true;
            last = err == MEMCACHE_ERR_SENTINEL ? last : err;
        }
    }
    return failed ? last : MEMCACHE_ERR_NONE;
}

static bool
meta_opaque_too_long(const struct memcache_request *req)
{
    return MEMCACHE_META_HAS(&req->meta, 'O') &&
           req->meta.opaque.len + 1 > MEMCACHE_OPAQUE_MAXLEN;
}

/* What every meta command but mn checks first: the key and the count. */
static memcache_error_e
meta_head(struct memcache_request *req, const struct line *l)
{
    req->key = req->meta.key_wire = l->tok[1];
    if (req->key.len > MEMCACHE_KEY_MAXLEN) {
        return MEMCACHE_ERR_FORMAT;
    }
    if (req->type == MEMCACHE_REQ_MS && l->ntok == 2) {
        return MEMCACHE_ERR_FORMAT;
    }
    if (l->ntok > MEMCACHE_META_TOKEN_MAX) {
        return req->type == MEMCACHE_REQ_MG ? MEMCACHE_ERR_MG_TOO_MANY
                                            : MEMCACHE_ERR_META_TOO_MANY;
    }
    return MEMCACHE_ERR_NONE;
}

/* mg, md, ma: <cm> <key> <flags>* */
static memcache_parse_e
parse_meta(struct memcache_request *req, const struct line *l, struct buf *b)
{
    memcache_error_e err = meta_head(req, l);
    if (err != MEMCACHE_ERR_NONE) {
        return refuse(req, b, err);
    }
    err = meta_flags(req, l, 2);
    if (err != MEMCACHE_ERR_NONE) {
        /* md and ma report any flag error with one message */
        return refuse(req, b,
                req->type == MEMCACHE_REQ_MG ? err
                                             : MEMCACHE_ERR_META_BAD_FLAG);
    }
    if (req->type == MEMCACHE_REQ_MA && req->meta.mode != 0 &&
            strchr("I+D-", req->meta.mode) == NULL) {
        return refuse(req, b, MEMCACHE_ERR_META_MA_MODE);
    }
    if (meta_opaque_too_long(req)) {
        return refuse(req, b, MEMCACHE_ERR_META_OPAQUE);
    }
    if (key_has_control(&req->meta.key_wire)) {
        return refuse(req, b, MEMCACHE_ERR_FORMAT);
    }
    return accepted(req, b);
}

/* ms <key> <datalen> <flags>*; errors found once the length is known
 * swallow the data block, as memcached does. */
static memcache_parse_e
parse_ms(struct memcache_request *req, const struct line *l, struct buf *b)
{
    int32_t vlen;
    memcache_error_e err = meta_head(req, l);
    if (err != MEMCACHE_ERR_NONE) {
        return refuse(req, b, err);
    }
    if (!mc_strtol32(&l->tok[2], &vlen) || vlen < 0 || vlen > INT_MAX - 2) {
        return refuse(req, b, MEMCACHE_ERR_FORMAT);
    }
    req->vlen = (size_t)vlen;
    err = meta_flags(req, l, 3);
    if (err != MEMCACHE_ERR_NONE) {
        return refuse_swallow(req, b, err);
    }
    if (req->meta.mode != 0 && strchr("EAPRS", req->meta.mode) == NULL) {
        return refuse_swallow(req, b, MEMCACHE_ERR_META_MS_MODE);
    }
    if (meta_opaque_too_long(req)) {
        return refuse_swallow(req, b, MEMCACHE_ERR_META_OPAQUE);
    }
    if (key_has_control(&req->meta.key_wire)) {
        return refuse_swallow(req, b, MEMCACHE_ERR_FORMAT);
    }
    return storage_value(req, b);
}

/* me <key> [b]: only a second token of exactly "b" means base64 */
static memcache_parse_e
parse_me(struct memcache_request *req, const struct line *l, struct buf *b)
{
    if (l->ntok < 2) {
        return refuse(req, b, MEMCACHE_ERR_FORMAT);
    }
    req->key = req->meta.key_wire = l->tok[1];
    if (req->key.len > MEMCACHE_KEY_MAXLEN) {
        return refuse(req, b, MEMCACHE_ERR_FORMAT);
    }
    if (l->ntok >= 3 && tok_is(&l->tok[2], "b")) {
        req->meta.flags |= MEMCACHE_META_BIT('b');
        req->meta.order[req->meta.nflag++] = 'b';
        if (!meta_decode_key(req)) {
            return refuse(req, b, MEMCACHE_ERR_FORMAT);
        }
    }
    if (key_has_control(&req->meta.key_wire)) {
        return refuse(req, b, MEMCACHE_ERR_FORMAT);
    }
    return accepted(req, b);
}

/* ------------------------------------------------------------ dispatch */

/* An unknown command whose last token starts with "HTTP/" (`GET /
 * HTTP/1.0`): memcached hangs up on it without a reply, so a browser or
 * health check pointed at the wrong port fails at once. memcached checks
 * this only in the last branch of its dispatch: a command word shorter
 * than two bytes, a two-byte word starting with 'm', or one starting with
 * a letter of its early branches (g s a c i d t) is answered ERROR
 * instead. Its tokenizer keeps 23 tokens: the 23rd is the last it sees. */
static bool
looks_like_http(const struct line *l)
{
    if (l->ntok == 0) {
        return false;
    }
    const struct bstring *cmd = &l->tok[0];
    if (cmd->len < 2 || (cmd->data[0] == 'm' && cmd->len == 2) ||
            strchr("gsacidt", cmd->data[0]) != NULL || tok_is(cmd, "bget") ||
            tok_is(cmd, "extstore") || tok_is(cmd, "refresh_certs")) {
        return false;
    }
    size_t last = (l->ntok < TOKEN_MAX - 1 ? l->ntok : TOKEN_MAX - 1) - 1;
    const struct bstring *t = &l->tok[last];
    return t->len >= 5 && memcmp(t->data, "HTTP/", 5) == 0;
}

/* A flat dispatch over the command table. */
static memcache_parse_e
dispatch(struct memcache_request *req, const struct line *l, struct buf *b)
{
    size_t i = l->ntok == 0 ? 0 : type_index(&l->tok[0]);
    if (i == 0) {
        return refuse(req, b,
                looks_like_http(l) ? MEMCACHE_ERR_HTTP : MEMCACHE_ERR_UNKNOWN);
    }
    req->type = type_table[i].type;
    if (l->ntok < type_table[i].min ||
            (type_table[i].max != 0 && l->ntok > type_table[i].max)) {
        return refuse(req, b, MEMCACHE_ERR_UNKNOWN);
    }
    switch (req->type) {
    case MEMCACHE_REQ_GET:
    case MEMCACHE_REQ_GETS:
    case MEMCACHE_REQ_GAT:
    case MEMCACHE_REQ_GATS:
        return parse_retrieval(req, l, b);
    case MEMCACHE_REQ_SET:
    case MEMCACHE_REQ_ADD:
    case MEMCACHE_REQ_REPLACE:
    case MEMCACHE_REQ_APPEND:
    case MEMCACHE_REQ_PREPEND:
    case MEMCACHE_REQ_CAS:
        return parse_storage(req, l, b);
    case MEMCACHE_REQ_INCR:
    case MEMCACHE_REQ_DECR:
    case MEMCACHE_REQ_TOUCH:
        return parse_key_number(req, l, b);
    case MEMCACHE_REQ_DELETE:
        return parse_delete(req, l, b);
    case MEMCACHE_REQ_MG:
    case MEMCACHE_REQ_MD:
    case MEMCACHE_REQ_MA:
        return parse_meta(req, l, b);
    case MEMCACHE_REQ_MS:
        return parse_ms(req, l, b);
    case MEMCACHE_REQ_ME:
        return parse_me(req, l, b);
    case MEMCACHE_REQ_FLUSH_ALL:
    case MEMCACHE_REQ_VERBOSITY:
    case MEMCACHE_REQ_CACHE_MEMLIMIT:
        return parse_admin_number(req, l, b);
    case MEMCACHE_REQ_STATS:
    case MEMCACHE_REQ_SHUTDOWN:
    case MEMCACHE_REQ_SLABS:
    case MEMCACHE_REQ_LRU:
    case MEMCACHE_REQ_LRU_CRAWLER:
    case MEMCACHE_REQ_WATCH:
        return parse_args(req, l, b);
    case MEMCACHE_REQ_REFRESH_CERTS:
        req->noreply = last_is_noreply(l);
        return accepted(req, b);
    default: /* mn, version, quit: arguments are ignored */
        return accepted(req, b);
    }
}

static memcache_parse_e
binary(struct memcache_request *req, struct buf *b)
{
    const unsigned char *p = (const unsigned char *)b->rpos;
    size_t n = buf_rsize(b);
    if (n >= 2) {
        req->bin_opcode = p[1];
    }
    if (n >= 16) {
        req->bin_opaque = (uint32_t)p[12] << 24 | (uint32_t)p[13] << 16 |
                          (uint32_t)p[14] << 8 | (uint32_t)p[15];
    }
    INCR(parse_metrics, memcache_parse_binary);
    return MEMCACHE_PARSE_EBINARY;
}

/* The rest of a line that will never end within the limit is dropped:
 * the caller replies and closes (memcached closes without a reply). */
static memcache_parse_e
too_long(struct memcache_request *req, struct buf *b)
{
    req->error = MEMCACHE_ERR_LINE_TOO_LONG;
    b->rpos = b->wpos;
    INCR(parse_metrics, memcache_parse_req_ex);
    return MEMCACHE_PARSE_EINVALID;
}

memcache_parse_e
memcache_parse_req(struct memcache_request *req, struct buf *b)
{
    memcache_request_reset(req);
    size_t n = buf_rsize(b);
    if (n == 0) {
        return MEMCACHE_PARSE_UNFIN;
    }
    if ((unsigned char)b->rpos[0] == MEMCACHE_BINARY_MAGIC) {
        return binary(req, b);
    }
    char *nl = memchr(b->rpos, '\n', size_min(n, get_line_max));
    if (nl == NULL) {
        if (n <= line_max ||
                (n <= get_line_max && retrieval_prefix(b->rpos, n))) {
            return MEMCACHE_PARSE_UNFIN;
        }
        return too_long(req, b);
    }
    req->hdr_len = (size_t)(nl - b->rpos) + 1;
    if (req->hdr_len > line_max && !retrieval_prefix(b->rpos, req->hdr_len)) {
        return too_long(req, b);
    }
    struct line l = {.p = b->rpos, .len = req->hdr_len - 1};
    if (l.len > 1 && l.p[l.len - 1] == '\r') {
        l.len--;
    }
    /* memcached reads the line as a C string: a NUL ends it */
    const char *nul = memchr(l.p, '\0', l.len);
    if (nul != NULL) {
        l.len = (size_t)(nul - l.p);
    }
    tokenize(&l);
    return dispatch(req, &l, b);
}

/* ------------------------------------------------------ values, swallow */

void
memcache_parse_value_begin(struct memcache_request *req, struct buf *b)
{
    ASSERT(req->need > 0 && buf_rsize(b) >= req->hdr_len);
    b->rpos += req->hdr_len;
    req->value_left = req->vlen + 2;
}

memcache_parse_e
memcache_parse_value(
        struct memcache_request *req, struct buf *b, struct bstring *chunk)
{
    ASSERT(req->value_left > 0);
    *chunk = bstring_of(b->rpos, 0);
    if (req->value_left > 2) {
        size_t take = size_min(buf_rsize(b), req->value_left - 2);
        chunk->len = take;
        b->rpos += take;
        req->value_left -= take;
        if (req->value_left > 2) {
            return MEMCACHE_PARSE_UNFIN;
        }
    }
    if (buf_rsize(b) < 2) {
        return MEMCACHE_PARSE_UNFIN;
    }
    bool ok = b->rpos[0] == '\r' && b->rpos[1] == '\n';
    b->rpos += 2;
    req->value_left = 0;
    if (!ok) {
        req->error = MEMCACHE_ERR_DATA_CHUNK;
        INCR(parse_metrics, memcache_parse_req_ex);
        return MEMCACHE_PARSE_EINVALID;
    }
    INCR(parse_metrics, memcache_parse_req);
    return MEMCACHE_PARSE_OK;
}

size_t
memcache_parse_swallow(struct memcache_request *req, struct buf *b)
{
    size_t take = size_min(buf_rsize(b), req->swallow);
    b->rpos += take;
    req->swallow -= take;
    return req->swallow;
}
