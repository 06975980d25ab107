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
 * What is not streamed is received whole as before: a SET queued in
 * MULTI (the queue keeps a copy of its arguments), and a value that fits
 * both one item and half the read buffer. */
#include "processor/resp_internal.h"

#include "base/log.h"
#include "base/mm.h"
#include "base/time.h"

#include <string.h>

/* What a streamed request keeps: its name and key copied at the offer,
 * then, once whole, every argument (name, key, value, options) in argv,
 * the value's placeholder viewing its first bytes (SLOWLOG, MONITOR). */
struct resp_big {
    struct ks_stream *ks; /* NULL: discarded, `failed` is the reason */
    storage_status_e failed;
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

void
resp_stream_offer(
        struct conn *c, struct resp_state *st, const struct proc_limits *limits)
{
    struct resp_request *req = &st->req;
    if (!wanted(st, limits)) {
        resp_parse_stream_decline(req, &c->rbuf);
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

bool
resp_stream_whole(struct resp_state *st)
{
    struct resp_big *big = st->big;
    const struct resp_request *req = &st->req;
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
    mm_release(big->argv);
    mm_free(&st->big);
}

static const struct resp_big *
big_of(const struct resp_ctx *x)
{
    const struct resp_big *big = x->st->big;
    return big != NULL && x->argv == big->argv ? big : NULL;
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
