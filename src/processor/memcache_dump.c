/* SPDX-License-Identifier: Apache-2.0 */
/* Key dumps for memcached's tools: `lru_crawler metadump` (memcached-tool
 * dump and keys) and `stats cachedump` (libmemcached's memcdump), and the
 * other `lru_crawler` subcommands, accepted as memcached accepts them.
 *
 * segcached has no slab classes: every item is reported in class 1, and a
 * dump walks the hash table with storage_scan. A dump longer than the write
 * buffer's high mark pauses like a multi-key get: the request line is parsed
 * again when the client has read, and the scan resumes from its cursor. */
#include "processor/memcache_internal.h"

#include "base/time.h"
#include "protocol/memcache/compose.h"
#include "storage/storage.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* items per storage_scan call: a pause point every few hundred bytes */
#define ITEM_BATCH        16
#define CLASS_MAX         63 /* memcached's largest slab class id */
#define CACHEDUMP_MEM_MAX (2 * 1024 * 1024) /* memcached's cap, limit 0 */

struct dump {
    struct buf *w;
    size_t max;
    uint64_t now;
    bool meta;     /* metadump lines, else cachedump lines */
    uint64_t left; /* cachedump: items still to report (UINT64_MAX) */
    rstatus_i rc;  /* first compose failure */
    size_t bytes;  /* cachedump: bytes written by this dump */
};

static rstatus_i
put(struct dump *d, const void *p, size_t n)
{
    return buf_append(d->w, p, n, d->max);
}

/* memcached's uriencode: letters, digits and "-._~" as they are, every
 * other byte as %XX. */
static rstatus_i
put_key_encoded(struct dump *d, const uint8_t *key, size_t klen)
{
    static const char hex[] = "0123456789ABCDEF";
    char out[256];
    size_t n = 0;
    for (size_t i = 0; i < klen; i++) {
        uint8_t ch = key[i];
        if (n + 3 > sizeof(out)) {
            if (put(d, out, n) != STATUS_OK) {
                return STATUS_ENOMEM;
            }
            n = 0;
        }
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' ||
                ch == '_' || ch == '~') {
            out[n++] = (char)ch;
        } else {
            out[n++] = '%';
            out[n++] = hex[ch >> 4];
            out[n++] = hex[ch & 0xf];
        }
    }
    return put(d, out, n);
}

static void
dump_item(const struct storage_item *it, void *arg)
{
    struct dump *d = arg;
    if (d->rc != STATUS_OK || d->left == 0) {
        return;
    }
    char tail[160];
    int n;
    rstatus_i rc;
    if (d->meta) {
        /* key=<uri> exp=<unix s|-1> la=<unix s> cas=<n> fetch=<yes|no>
         * cls=<id> size=<bytes>, ended by "\n" alone, as memcached ends
         * these lines (END has its "\r\n") */
        char exp[24] = "-1";
        if (it->expiry != TIME_NEVER) {
            snprintf(exp, sizeof(exp), "%" PRIu64, it->expiry / 1000);
        }
        n = snprintf(tail, sizeof(tail),
                " exp=%s la=%" PRIu64 " cas=%" PRIu64
                " fetch=%s cls=1 size=%zu\n",
                exp, it->last_access / 1000, it->cas,
                it->fetched ? "yes" : "no", storage_item_footprint(it));
        rc = put(d, "key=", 4);
        if (rc == STATUS_OK) {
            rc = put_key_encoded(d, it->key, it->klen);
        }
    } else {
        /* ITEM <key> [<value bytes> b; <expiry unix s, 0 for none> s] */
        if (d->bytes >= CACHEDUMP_MEM_MAX) {
            d->left = 0;
            return;
        }
        n = snprintf(tail, sizeof(tail), " [%zu b; %" PRIu64 " s]\r\n",
                it->vlen,
                it->expiry == TIME_NEVER ? (uint64_t)0 : it->expiry / 1000);
        rc = put(d, "ITEM ", 5);
        if (rc == STATUS_OK) {
            rc = put(d, it->key, it->klen);
        }
        d->bytes += 5 + it->klen + (size_t)n;
        d->left--;
    }
    if (rc == STATUS_OK) {
        rc = put(d, tail, (size_t)n);
    }
    d->rc = rc;
}

/* Runs or resumes a dump; END when the scan completes. */
static rstatus_i
dump_run(struct conn *c, struct mc_state *st, const char *line,
        const struct proc_limits *limits, struct dump *d)
{
    if (!st->dump_active) {
        st->dump_active = true;
        st->dump_cursor = 0;
        st->dump_left = d->left;
        st->dump_bytes = 0;
    }
    d->left = st->dump_left;
    d->bytes = st->dump_bytes;
    uint64_t cursor = st->dump_cursor;
    bool first = true;
    do {
        if (!first && buf_rsize(&c->wbuf) > limits->wbuf_high) {
            st->dump_cursor = cursor;
            st->dump_left = d->left;
            st->dump_bytes = d->bytes;
            c->rbuf.rpos = (char *)line; /* parse this line again later */
            c->flags |= CONN_STALLED;
            return STATUS_OK;
        }
        first = false;
        cursor = storage_scan(MC_DB, cursor, ITEM_BATCH, d->now, dump_item, d);
        if (d->rc != STATUS_OK) {
            st->dump_active = false;
            return d->rc;
        }
    } while (cursor != 0 && d->left > 0);
    st->dump_active = false;
    return memcache_compose_rsp(&c->wbuf, MEMCACHE_RSP_END, d->max);
}

/* A class list "1,2,3": true when every id is a class (1..63); *one says
 * whether class 1, the only one segcached fills, is among them. */
static bool
class_list(const struct bstring *s, bool *one)
{
    *one = false;
    size_t i = 0;
    while (i <= s->len) {
        size_t j = i;
        while (j < s->len && s->data[j] != ',') {
            j++;
        }
        struct bstring id = {j - i, s->data + i};
        uint64_t v;
        if (bstring_to_u64(&id, &v) != STATUS_OK || v < 1 || v > CLASS_MAX) {
            return false;
        }
        if (v == 1) {
            *one = true;
        }
        i = j + 1;
    }
    return true;
}

static rstatus_i
line_reply(struct conn *c, const char *line, size_t max)
{
    return memcache_compose_line(&c->wbuf, line, strlen(line), max);
}

/* The crawler's controls, with memcached's argument checks: segcached
 * expires whole segments in the background already, so a good request
 * changes nothing and is answered OK. */
static rstatus_i
crawler_control(struct conn *c, const struct memcache_request *req, size_t max)
{
    struct bstring sub = req->narg > 0 ? req->arg[0] : bstring_of("", 0);
    if (req->narg == 2 && bstring_equal_cstr(&sub, "crawl")) {
        bool one;
        if (!bstring_equal_cstr(&req->arg[1], "all") &&
                !class_list(&req->arg[1], &one)) {
            return line_reply(c, "BADCLASS invalid class id", max);
        }
        return memcache_compose_rsp(&c->wbuf, MEMCACHE_RSP_OK, max);
    }
    if (req->narg == 2 && (bstring_equal_cstr(&sub, "tocrawl") ||
                                  bstring_equal_cstr(&sub, "sleep"))) {
        uint32_t n;
        if (!memcache_number_u32(&req->arg[1], &n)) {
            return line_reply(c, "CLIENT_ERROR bad command line format", max);
        }
        if (bstring_equal_cstr(&sub, "sleep") && n > 1000000) {
            return line_reply(
                    c, "CLIENT_ERROR sleep must be one second or less", max);
        }
        return memcache_compose_rsp(&c->wbuf, MEMCACHE_RSP_OK, max);
    }
    if (req->narg == 1 && (bstring_equal_cstr(&sub, "enable") ||
                                  bstring_equal_cstr(&sub, "disable"))) {
        return memcache_compose_rsp(&c->wbuf, MEMCACHE_RSP_OK, max);
    }
    return memcache_compose_rsp(&c->wbuf, MEMCACHE_RSP_ERROR, max);
}

rstatus_i
mc_lru_crawler(struct conn *c, struct mc_state *st, const char *line,
        const struct proc_limits *limits)
{
    struct memcache_request *req = &st->req;
    size_t max = mc_max(limits);
    struct bstring sub = req->narg > 0 ? req->arg[0] : bstring_of("", 0);
    if (bstring_equal_cstr(&sub, "metadump") && req->narg == 2) {
        struct bstring what = req->arg[1];
        bool one = true;
        if (!bstring_equal_cstr(&what, "all") &&
                !bstring_equal_cstr(&what, "hash") &&
                !class_list(&what, &one)) {
            static const char bad[] = "BADCLASS invalid class id";
            return memcache_compose_line(&c->wbuf, bad, sizeof(bad) - 1, max);
        }
        if (!one) {
            return memcache_compose_rsp(&c->wbuf, MEMCACHE_RSP_END, max);
        }
        struct dump d = {.w = &c->wbuf,
                .max = max,
                .now = c->now_ms,
                .meta = true,
                .left = UINT64_MAX,
                .rc = STATUS_OK};
        return dump_run(c, st, line, limits, &d);
    }
    return crawler_control(c, req, max);
}

rstatus_i
mc_cachedump(struct conn *c, struct mc_state *st, const char *line,
        const struct proc_limits *limits)
{
    struct memcache_request *req = &st->req;
    size_t max = mc_max(limits);
    if (req->narg < 3) {
        return memcache_compose_client_error(
                &c->wbuf, "bad command line", 16, max);
    }
    uint64_t id, limit;
    if (bstring_to_u64(&req->arg[1], &id) != STATUS_OK ||
            bstring_to_u64(&req->arg[2], &limit) != STATUS_OK) {
        return memcache_compose_client_error(
                &c->wbuf, "bad command line format", 23, max);
    }
    if (id > CLASS_MAX) {
        return memcache_compose_client_error(
                &c->wbuf, "Illegal slab id", 15, max);
    }
    if (id != 1) {
        return memcache_compose_rsp(&c->wbuf, MEMCACHE_RSP_END, max);
    }
    struct dump d = {.w = &c->wbuf,
            .max = max,
            .now = c->now_ms,
            .meta = false,
            .left = limit == 0 ? UINT64_MAX : limit,
            .rc = STATUS_OK};
    return dump_run(c, st, line, limits, &d);
}
