/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes the memcache binary-protocol parser like the server loop drives
 * it (parse, swallow after EUNKNOWN/EOVERSIZE, stop at EMAGIC/EINVALID).
 * Oracles: (1) the outcomes (result, opcode, status, lengths, bytes
 * consumed) are the same whether the input arrives whole or byte by byte
 * after a cut chosen by the first input byte; (2) every request parsed
 * whole composes (memcache_bin_compose_req) into bytes that parse back
 * into an equal request; (3) every error reply composes. */
#include "protocol/memcache/binary.h"
#include "protocol/memcache/parse.h"

#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

#define MAX_BUF (4 * MiB)

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

static void
round_trip(const struct memcache_bin_request *req)
{
    static struct memcache_bin_request again;
    struct buf b;
    fail_if(buf_init(&b, 64) != STATUS_OK);
    fail_if(memcache_bin_compose_req(&b, req, MAX_BUF) != STATUS_OK);
    fail_if(memcache_bin_parse(&again, &b) != MEMCACHE_BIN_PARSE_OK);
    fail_if(buf_rsize(&b) != 0);
    fail_if(again.opcode != req->opcode || again.extlen != req->extlen ||
            again.opaque != req->opaque || again.cas != req->cas ||
            again.flags != req->flags || again.exptime != req->exptime ||
            again.delta != req->delta || again.initial != req->initial);
    same_view(&again.key, &req->key);
    same_view(&again.value, &req->value);
    buf_deinit(&b);
}

static void
reply(const struct memcache_bin_request *req, memcache_bin_status_e status)
{
    struct buf b;
    fail_if(buf_init(&b, 16) != STATUS_OK);
    fail_if(memcache_bin_compose_error(&b, req, status, MAX_BUF) != STATUS_OK);
    fail_if(buf_rsize(&b) < MEMCACHE_BIN_HEADER_LEN);
    buf_deinit(&b);
}

/* Feeds data[0..size) to the parser, `step` bytes per read after the
 * first `first` bytes (step 0: all at once). */
static void
drive(const uint8_t *data, size_t size, size_t first, size_t step,
        struct transcript *t)
{
    static struct memcache_bin_request req;
    struct buf b;
    fail_if(buf_init(&b, 64) != STATUS_OK);
    size_t fed = step == 0 ? size : (first < size ? first : size);
    fail_if(buf_append(&b, data, fed, MAX_BUF) != STATUS_OK);
    size_t swallow = 0;
    for (;;) {
        if (swallow > 0) {
            req.swallow = swallow;
            swallow = memcache_bin_swallow(&req, &b);
        }
        memcache_bin_parse_e p = swallow > 0 ? MEMCACHE_BIN_PARSE_UNFIN
                                             : memcache_bin_parse(&req, &b);
        if (p == MEMCACHE_BIN_PARSE_UNFIN) {
            if (fed == size) {
                record(t, 100, buf_rsize(&b));
                break;
            }
            size_t more = step == 0 ? size - fed : step;
            if (more > size - fed) {
                more = size - fed;
            }
            fail_if(buf_append(&b, data + fed, more, MAX_BUF) != STATUS_OK);
            fed += more;
            continue;
        }
        record(t, p, (uint64_t)req.opcode << 32 | req.status);
        record(t, req.keylen, req.bodylen);
        if (p == MEMCACHE_BIN_PARSE_OK) {
            record(t, req.value.len, req.opaque);
            round_trip(&req);
            reply(&req, MEMCACHE_BIN_KEY_ENOENT);
        } else if (p == MEMCACHE_BIN_PARSE_EUNKNOWN ||
                   p == MEMCACHE_BIN_PARSE_EOVERSIZE) {
            reply(&req, req.status);
            swallow = req.swallow;
        } else {
            if (p == MEMCACHE_BIN_PARSE_EINVALID) {
                reply(&req, req.status);
            }
            break; /* the server closes */
        }
    }
    buf_deinit(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int once;
    if (!once) {
        /* a small value limit, so oversized values fit in an input */
        static memcache_parse_options_st opt = {
                MEMCACHE_PARSE_OPTION(INIT_OPTION)};
        opt.memcache_item_size_max.val.OPTION_SIZE = 1024;
        memcache_parse_setup(&opt, NULL);
        once = 1;
    }
    if (size > 64 * KiB) {
        return 0;
    }
    struct transcript whole = {0}, split = {0};
    drive(data, size, 0, 0, &whole);
    size_t first = size > 0 ? data[0] % (size + 1) : 0;
    drive(data, size, first, 1, &split);
    fail_if(whole.hash != split.hash || whole.n != split.n);
    return 0;
}
