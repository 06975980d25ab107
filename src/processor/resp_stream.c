/* SPDX-License-Identifier: Apache-2.0 */
/* A SET whose value the read buffer should not hold whole, received into
 * the store in pieces (keyspace.h ks_stream_*): the parser offers the
 * value's bulk (RESP_PARSE_STREAM), each piece that arrives is written
 * into the value's parts at once (RESP_PARSE_CHUNK), and once the request
 * is whole (its options come after the value) it runs as any SET, with a
 * copy of its arguments in which the value is a placeholder: SET's handler
 * commits the parts with the write its options make (resp_stream_commit).
 * Anything else that answers the request (a syntax error, WRONGTYPE of
 * GET, NOAUTH, a refusal) leaves the parts uncommitted, and they are
 * deleted after it (resp_stream_release), as they are when the connection
 * closes mid-value.
 *
 *   read buffer   *3 $3 SET $1 k $N [N bytes ........................] ...
 *                  \ copied at the offer  \ written to parts as they come
 *
 * Any other request with a bulk past half the read buffer (SETEX, APPEND,
 * MSET, HSET, RPUSH of large values, a SET queued in MULTI) is gathered
 * instead: the arguments before such a bulk are copied out of the read
 * buffer, and the bulk is received into a buffer of its own as it
 * arrives, as Redis's query buffer takes a large argument (resp.max_request
 * bounds the request; what it holds counts against worker.buffer_memory,
 * conn.proc_bytes). Once whole, it runs as any request from those copies.
 *
 *   read buffer   *4 $5 SETEX $1 k $2 60 $N [N bytes ......] ...
 *                  \ copied at the offer    \ into the bulk's buffer
 *
 * What is neither is received whole as before: a bulk that fits half the
 * read buffer, with what came before it. */
#include "processor/resp_internal.h"

#include "base/log.h"
#include "base/mm.h"
#include "base/time.h"

#include <string.h>

/* What a streamed request keeps: its name and key copied at the offer,
 * then, once whole, every argument (name, key, value, options) in argv,
 * the value's placeholder viewing its first bytes (SLOWLOG, MONITOR). */
/* A gathered request's copies and bulks: blocks that never move. */
struct gather_block {
    struct gather_block *next;
    char bytes[];
};

struct resp_big {
    struct ks_stream *ks; /* NULL: discarded, `failed` is the reason */
    storage_status_e failed;
    bool gather;                 /* not a SET into the store: gathered */
    struct gather_block *blocks; /* gather: copies and bulks */
    char *bulk;                  /* gather: the bulk being received */
    uint64_t filled;             /* gather: its bytes so far */
    uint32_t copied;             /* gather: arguments out of the buffer */
    uint64_t vlen;
    size_t shown; /* bytes in head */
    char head[RESP_STREAM_HEAD];
    uint32_t argc; /* 0 until the request is whole */
    struct resp_arg *argv;
    size_t namelen;
    size_t klen;
    char bytes[]; /* name, key */
};

/* SET, its value the third argument, on a connection that would run it
 * now (not queued by MULTI); past one item (in parts whatever the buffer)
 * or past half the read buffer. */
static bool
wanted(const struct resp_state *st, const struct proc_limits *limits)
{
    const struct resp_request *req = &st->req;
    if (req->argc != 2 || st->in_multi || !st->authenticated ||
            !resp_arg_is(&req->argv[0], "set")) {
        return false;
    }
    return req->stream_len > storage_value_max(req->argv[1].len) ||
           req->stream_len > limits->rbuf_max / 2;
}

/* What big holds, for worker.buffer_memory. */
static void
in_account(struct conn *c, struct resp_state *st, size_t more)
{
    st->in_bytes += more;
    c->proc_bytes = st->in_bytes + st->out_bytes;
}

static char *
block_new(struct conn *c, struct resp_state *st, struct resp_big *big,
        uint64_t len)
{
    struct gather_block *b = mm_alloc(sizeof(*b) + (size_t)len);
    if (b == NULL) {
        return NULL;
    }
    b->next = big->blocks;
    big->blocks = b;
    in_account(c, st, sizeof(*b) + (size_t)len);
    return b->bytes;
}

/* Not a SET streamed into the store, the offered bulk ending past half
 * the read buffer (a request with several bulks, each smaller, counts
 * them all): gathered, and so is every later bulk offered. Not a bulk
 * that would take the connection past its worker's share of
 * worker.buffer_memory, which would close it without a word: declined,
 * the request is refused (its bytes past worker.rbuf_max) and swallowed,
 * and the connection goes on. */
static bool
gather_wanted(const struct resp_state *st, const struct proc_limits *limits)
{
    const struct resp_request *req = &st->req;
    if (limits->buf_budget > 0 &&
            st->in_bytes + st->out_bytes + req->stream_len + limits->rbuf_max >
                    limits->buf_budget) {
        return false;
    }
    if (st->big != NULL) {
        return st->big->gather;
    }
    uint64_t end = req->base + req->off + req->stream_hdr + req->stream_len + 2;
    return st->authenticated && end > limits->rbuf_max / 2;
}

/* Takes the offered bulk into a buffer of its own, the arguments before
 * it copied out of the read buffer first. false: no memory (nothing
 * taken; what was allocated goes with big). */
static bool
gather_take(struct conn *c, struct resp_state *st)
{
    struct resp_request *req = &st->req;
    struct resp_big *big = st->big;
    if (big == NULL) {
        big = mm_zalloc(sizeof(*big));
        if (big == NULL) {
            return false;
        }
        big->gather = true;
        st->big = big;
        in_account(c, st, sizeof(*big));
        INCR(resp_proc_metrics, resp_gather);
    }
    size_t bytes = 0;
    for (uint32_t i = big->copied; i < req->argc; i++) {
        bytes += req->argv[i].len;
    }
    char *copy = bytes > 0 ? block_new(c, st, big, bytes) : NULL;
    char *bulk = block_new(c, st, big, req->stream_len + 1);
    if ((bytes > 0 && copy == NULL) || bulk == NULL) {
        return false;
    }
    for (uint32_t i = big->copied, at = 0; i < req->argc; i++) {
        memcpy(copy + at, req->argv[i].data, req->argv[i].len);
        at += req->argv[i].len;
    }
    uint32_t before = req->argc;
    if (resp_parse_stream_begin(req, &c->rbuf) != STATUS_OK) {
        return false;
    }
    /* the copies stand for the consumed bytes; the bulk fills as it comes */
    for (uint32_t i = big->copied, at = 0; i < before; i++) {
        req->argv[i].data = copy + at;
        at += req->argv[i].len;
    }
    req->argv[before].data = bulk;
    big->bulk = bulk;
    big->filled = 0;
    big->copied = req->argc;
    return true;
}

void
resp_stream_offer(
        struct conn *c, struct resp_state *st, const struct proc_limits *limits)
{
    struct resp_request *req = &st->req;
    if (!wanted(st, limits)) {
        if (!gather_wanted(st, limits) || !gather_take(c, st)) {
            resp_parse_stream_decline(req, &c->rbuf);
        }
        return;
    }
    const struct resp_arg *name = &req->argv[0];
    const struct resp_arg *key = &req->argv[1];
    struct resp_big *big = mm_alloc(sizeof(*big) + name->len + key->len);
    if (big == NULL) {
        resp_parse_stream_decline(req, &c->rbuf);
        return;
    }
    /* begin's write is a placeholder: the options come after the value
     * (ks_stream_commit_as) */
    struct storage_write w = {.mode = STORAGE_SET, .expiry = TIME_NEVER};
    big->gather = false;
    big->blocks = NULL;
    big->ks = ks_stream_begin((uint8_t)c->db, key->data, key->len,
            req->stream_len, &w, c->now_ms, &big->failed);
    if ((big->ks == NULL && big->failed == STORAGE_EOVERSIZE) ||
            resp_parse_stream_begin(req, &c->rbuf) != STATUS_OK) {
        /* a key too long for parts' keys, or no argv: received whole */
        ks_stream_abort(&big->ks, c->now_ms);
        mm_release(big);
        resp_parse_stream_decline(req, &c->rbuf);
        return;
    }
    big->vlen = req->stream_len;
    big->shown = 0;
    big->argc = 0;
    big->argv = NULL;
    big->namelen = name->len;
    big->klen = key->len;
    memcpy(big->bytes, name->data, name->len);
    memcpy(big->bytes + name->len, key->data, key->len);
    st->big = big;
    INCR(resp_proc_metrics, resp_stream);
}

void
resp_stream_chunk(struct conn *c, struct resp_state *st)
{
    struct resp_big *big = st->big;
    const struct resp_arg *chunk = &st->req.chunk;
    if (big->gather) {
        memcpy(big->bulk + big->filled, chunk->data, chunk->len);
        big->filled += chunk->len;
        INCR_N(resp_proc_metrics, resp_gather_byte, chunk->len);
        return;
    }
    if (big->shown < RESP_STREAM_HEAD) {
        size_t n = RESP_STREAM_HEAD - big->shown;
        n = n < chunk->len ? n : chunk->len;
        memcpy(big->head + big->shown, chunk->data, n);
        big->shown += n;
    }
    if (big->ks != NULL) {
        ks_stream_write(big->ks, chunk->data, chunk->len, c->now_ms);
    }
    INCR_N(resp_proc_metrics, resp_stream_byte, chunk->len);
}

/* A gathered request's arguments: those after its last gathered bulk
 * copied out of the read buffer too, the others where they are. */
static bool
gather_whole(struct resp_state *st)
{
    struct resp_big *big = st->big;
    const struct resp_request *req = &st->req;
    size_t bytes = 0;
    for (uint32_t i = big->copied; i < req->argc; i++) {
        bytes += req->argv[i].len;
    }
    struct resp_arg *argv = mm_alloc(req->argc * sizeof(*argv) + bytes);
    if (argv == NULL) {
        return false;
    }
    char *p = (char *)(argv + req->argc);
    for (uint32_t i = 0; i < req->argc; i++) {
        argv[i] = req->argv[i];
        if (i >= big->copied) {
            memcpy(p, req->argv[i].data, req->argv[i].len);
            argv[i].data = p;
            p += req->argv[i].len;
        }
    }
    big->argv = argv;
    big->argc = req->argc;
    return true;
}

bool
resp_stream_whole(struct resp_state *st)
{
    struct resp_big *big = st->big;
    const struct resp_request *req = &st->req;
    if (big->gather) {
        return gather_whole(st);
    }
    size_t bytes = 0;
    for (uint32_t i = 3; i < req->argc; i++) {
        bytes += req->argv[i].len;
    }
    struct resp_arg *argv = mm_alloc(req->argc * sizeof(*argv) + bytes);
    if (argv == NULL) {
        return false;
    }
    char *p = (char *)(argv + req->argc);
    argv[0] = (struct resp_arg){.len = big->namelen, .data = big->bytes};
    argv[1] = (struct resp_arg){
            .len = big->klen, .data = big->bytes + big->namelen};
    argv[2] = (struct resp_arg){.len = (size_t)big->vlen, .data = big->head};
    for (uint32_t i = 3; i < req->argc; i++) {
        memcpy(p, req->argv[i].data, req->argv[i].len);
        argv[i] = (struct resp_arg){.len = req->argv[i].len, .data = p};
        p += req->argv[i].len;
    }
    big->argv = argv;
    big->argc = req->argc;
    return true;
}

bool
resp_stream_held(const struct resp_state *st, const struct resp_arg **argv,
        uint32_t *argc)
{
    if (st->big == NULL || st->big->argc == 0) {
        return false;
    }
    *argv = st->big->argv;
    *argc = st->big->argc;
    return true;
}

void
resp_stream_release(struct conn *c, struct resp_state *st)
{
    struct resp_big *big = st->big;
    if (big == NULL) {
        return;
    }
    if (big->ks != NULL || big->failed != STORAGE_OK) {
        ks_stream_abort(&big->ks, c->now_ms); /* NULL-safe */
        INCR(resp_proc_metrics, resp_stream_drop);
    }
    while (big->blocks != NULL) {
        struct gather_block *b = big->blocks;
        big->blocks = b->next;
        mm_release(b);
    }
    mm_release(big->argv);
    mm_free(&st->big);
    st->in_bytes = 0;
    c->proc_bytes = st->out_bytes;
}

/* The SET streamed into the store that x runs, if it does. */
static const struct resp_big *
big_of(const struct resp_ctx *x)
{
    const struct resp_big *big = x->st->big;
    return big != NULL && !big->gather && x->argv == big->argv ? big : NULL;
}

bool
resp_stream_is(const struct resp_ctx *x, uint32_t i, size_t *shown)
{
    const struct resp_big *big = big_of(x);
    if (big == NULL || i != 2) {
        return false;
    }
    if (shown != NULL) {
        *shown = big->shown;
    }
    return true;
}

storage_status_e
resp_stream_commit(struct resp_ctx *x, const struct storage_write *w,
        struct storage_item *old)
{
    struct resp_big *big = x->st->big;
    ASSERT(big_of(x) != NULL);
    if (big->ks == NULL) {
        return big->failed;
    }
    return ks_stream_commit_as(&big->ks, w, x->c->now_ms, old, NULL);
}
