/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes the memcache request parser like a server loop would drive it.
 * Oracles: (1) the outcomes (result, type, error, bytes consumed) are the
 * same whether the input arrives whole or in two reads, with values over
 * 64 bytes streamed in the second case; (2) every request parsed whole
 * composes (memcache_compose_req) into bytes that parse back into a request
 * of the same type, key, value and flags; (3) every reply composes. */
#include "protocol/memcache/compose.h"
#include "protocol/memcache/parse.h"

#include "fuzz.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BUF     (4 * MiB)
#define STREAM_OVER 64 /* stream storage values longer than this */

struct transcript {
    uint64_t hash;
    size_t n;
};

static void
record(struct transcript *t, uint64_t a, uint64_t b)
{
    t->hash = (t->hash ^ a) * 0x100000001b3ULL;
    t->hash = (t->hash ^ b) * 0x100000001b3ULL;
    t->n++;
}

static void
fail_if(int cond)
{
    if (cond) {
        abort();
    }
}

static void
same_view(const struct bstring *a, const struct bstring *b)
{
    fail_if(a->len != b->len ||
            (a->len > 0 && memcmp(a->data, b->data, a->len) != 0));
}

/* Oracle 2: compose the request, parse it back, compare what matters. */
static void
round_trip(const struct memcache_request *req)
{
    static struct memcache_request again;
    struct buf b;
    fail_if(buf_init(&b, 256) != STATUS_OK);
    fail_if(memcache_compose_req(&b, req, MAX_BUF) != STATUS_OK);
    memcache_parse_e st = memcache_parse_req(&again, &b);
    if (st == MEMCACHE_PARSE_EINVALID &&
            again.error == MEMCACHE_ERR_LINE_TOO_LONG) {
        buf_deinit(&b); /* normalizing a number may lengthen a long line */
        return;
    }
    fail_if(st != MEMCACHE_PARSE_OK || !buf_empty(&b));
    fail_if(again.type != req->type || again.noreply != req->noreply);
    same_view(&again.key, &req->key);
    same_view(&again.value, &req->value);
    fail_if(again.nkey != req->nkey || again.vlen != req->vlen);
    fail_if(again.flags != req->flags || again.exptime != req->exptime);
    fail_if(again.cas != req->cas || again.delta != req->delta);
    fail_if(again.meta.flags != req->meta.flags);
    fail_if(strcmp(again.meta.order, req->meta.order) != 0);
    fail_if(again.meta.cas != req->meta.cas);
    fail_if(again.meta.ttl != req->meta.ttl);
    buf_deinit(&b);
}

/* Oracle 3: the replies a processor would send compose. */
static void
compose_replies(const struct memcache_request *req, memcache_parse_e st)
{
    struct buf b;
    fail_if(buf_init(&b, 64) != STATUS_OK);
    if (st == MEMCACHE_PARSE_EBINARY) {
        fail_if(memcache_compose_binary_refusal(&b, req, MAX_BUF) != 0);
    } else if (st != MEMCACHE_PARSE_OK) {
        fail_if(memcache_compose_error(&b, req->error, MAX_BUF) != 0);
    } else if (req->meta.key_wire.len > 0 && req->type != MEMCACHE_REQ_ME) {
        struct memcache_meta_rsp rsp = {.code = MEMCACHE_META_VA,
                .vlen = (uint32_t)req->key.len,
                .ttl = -1,
                .win = true};
        fail_if(memcache_compose_meta(&b, req, &rsp, MAX_BUF) != 0);
        fail_if(memcache_compose_value_data(
                        &b, req->key.data, req->key.len, MAX_BUF) != 0);
    } else if (req->type == MEMCACHE_REQ_ME) {
        fail_if(memcache_compose_me(&b, req, "exp=-1", 6, MAX_BUF) != 0);
    } else if (req->nkey > 0) {
        uint64_t cas = req->cas;
        fail_if(memcache_compose_value(&b, &req->key, req->flags, req->key.data,
                        req->key.len, &cas, MAX_BUF) != 0);
    }
    buf_deinit(&b);
}

/* Whole input in one buffer. */
static void
run_whole(const uint8_t *data, size_t size, struct transcript *t)
{
    static struct memcache_request req;
    struct buf b;
    fail_if(buf_init(&b, size + 1) != STATUS_OK);
    buf_append(&b, data, size, MAX_BUF);
    while (!buf_empty(&b)) {
        memcache_parse_e st = memcache_parse_req(&req, &b);
        if (st == MEMCACHE_PARSE_UNFIN) {
            break;
        }
        compose_replies(&req, st);
        if (st == MEMCACHE_PARSE_EBINARY) {
            record(t, st, 0);
            break;
        }
        if (st == MEMCACHE_PARSE_OK) {
            round_trip(&req);
        }
        record(t, (uint64_t)st << 32 | (uint64_t)req.type << 16 | req.error,
                (uint64_t)(b.rpos - b.begin + req.swallow) << 1 | req.noreply);
    }
    buf_deinit(&b);
}

/* A buffer fed in reads, with the absolute input position of rpos. */
struct reader {
    struct buf b;
    size_t base; /* input bytes dropped before b.begin by shifts */
    const uint8_t *data;
    size_t size, fed;
};

static size_t
position(const struct reader *r)
{
    return r->base + (size_t)(r->b.rpos - r->b.begin);
}

/* Appends the rest of the input; false when there is none. */
static bool
feed(struct reader *r)
{
    if (r->fed == r->size) {
        return false;
    }
    size_t pos = position(r);
    fail_if(buf_append(&r->b, r->data + r->fed, r->size - r->fed, MAX_BUF) !=
            STATUS_OK);
    r->base = pos - (size_t)(r->b.rpos - r->b.begin);
    r->fed = r->size;
    return true;
}

/* Streams the value of a storage request whose line is in the buffer. */
static memcache_parse_e
stream_value(struct memcache_request *req, struct reader *r)
{
    memcache_parse_value_begin(req, &r->b);
    for (;;) {
        struct bstring chunk;
        memcache_parse_e st = memcache_parse_value(req, &r->b, &chunk);
        if (st != MEMCACHE_PARSE_UNFIN || !feed(r)) {
            return st;
        }
    }
}

/* The input in two reads split at cut; long values streamed. */
static void
run_split(const uint8_t *data, size_t size, size_t cut, struct transcript *t)
{
    static struct memcache_request req;
    struct reader r = {.data = data, .size = size, .fed = cut};
    size_t pending = 0; /* bytes still to swallow */
    fail_if(buf_init(&r.b, 64) != STATUS_OK);
    buf_append(&r.b, data, cut, MAX_BUF);
    for (;;) {
        if (pending > 0) {
            req.swallow = pending;
            pending = memcache_parse_swallow(&req, &r.b);
            if (pending > 0 && !feed(&r)) {
                break;
            }
            continue;
        }
        memcache_parse_e st = memcache_parse_req(&req, &r.b);
        if (st == MEMCACHE_PARSE_UNFIN && req.need > 0 &&
                req.vlen > STREAM_OVER) {
            st = stream_value(&req, &r);
        }
        if (st == MEMCACHE_PARSE_UNFIN) {
            if (!feed(&r)) {
                break;
            }
            continue;
        }
        if (st == MEMCACHE_PARSE_EBINARY) {
            record(t, st, 0);
            break;
        }
        record(t, (uint64_t)st << 32 | (uint64_t)req.type << 16 | req.error,
                (uint64_t)(position(&r) + req.swallow) << 1 | req.noreply);
        pending = req.swallow;
        if (buf_empty(&r.b) && pending == 0 && !feed(&r)) {
            break;
        }
    }
    buf_deinit(&r.b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct transcript whole = {0xcbf29ce484222325ULL, 0};
    struct transcript split = {0xcbf29ce484222325ULL, 0};
    run_whole(data, size, &whole);
    run_split(data, size, size == 0 ? 0 : data[0] % (size + 1), &split);
    fail_if(whole.hash != split.hash || whole.n != split.n);
    return 0;
}
