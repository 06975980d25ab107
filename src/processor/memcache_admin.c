/* SPDX-License-Identifier: Apache-2.0 */
/* memcached's admin commands that segcached accepts but has nothing to
 * tune with (slabs, lru, watch, cache_memlimit, verbosity), and `stats
 * detail`'s per-prefix counters. Arguments are checked in the order
 * memcached 1.6.18 checks them, and a bad one gets memcached's exact reply
 * (clients and tools match on these strings); a good one is answered as
 * memcached would answer it on a server with one slab class, no LRU
 * maintainer and no log watchers, which is what segcached is.
 *
 * Per-prefix counters (memcached's stats_prefix.c): while `stats detail on`
 * is in force, get/gets/gat/gats keys, classic storage commands and delete
 * are counted per key prefix (the bytes before the first ':'). The table is
 * global and guarded by one mutex, taken only while detail is on; when it
 * is off the request path pays one relaxed load. */
#include "base/log.h"
#include "base/mm.h"
#include "processor/memcache_internal.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define VERBOSITY_MAX 2 /* memcached's MAX_VERBOSITY_LEVEL */
#define CLASS_ONE     1 /* the one slab class segcached reports */
#define PREFIX_DELIM  ':'
#define PREFIX_HASH   256   /* memcached's PREFIX_HASH_SIZE */
#define PREFIX_MAX    10000 /* prefixes kept; memcached keeps any number */

static uint32_t verbosity;  /* relaxed atomics: any worker sets it */
static bool detail_on;      /* `stats detail on|off` */
static uint64_t flushed_ms; /* last flush_all, unix ms (0: never) */

uint32_t
proc_memcache_verbosity(void)
{
    return __atomic_load_n(&verbosity, __ATOMIC_RELAXED);
}

bool
proc_memcache_detail_enabled(void)
{
    return __atomic_load_n(&detail_on, __ATOMIC_RELAXED);
}

uint64_t
proc_memcache_flushed_ms(void)
{
    return __atomic_load_n(&flushed_ms, __ATOMIC_RELAXED);
}

void
mc_note_flush(uint64_t now)
{
    __atomic_store_n(&flushed_ms, now, __ATOMIC_RELAXED);
}

/* ---- per-prefix counters ---- */

struct prefix {
    struct prefix *next;
    uint64_t get, hit, set, del;
    size_t len;
    char name[]; /* len bytes, then a NUL */
};

static pthread_mutex_t prefix_lock = PTHREAD_MUTEX_INITIALIZER;
static struct prefix *prefixes[PREFIX_HASH];
static size_t nprefix;

static uint32_t
prefix_hash(const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u; /* FNV-1a: short prefixes, no adversary */
    for (size_t i = 0; i < n; i++) {
        h = (h ^ p[i]) * 16777619u;
    }
    return h % PREFIX_HASH;
}

/* The entry of key's prefix, created on first use; NULL when the key has
 * no delimiter (memcached counts nothing then) or the table is full.
 * Caller holds prefix_lock. */
static struct prefix *
prefix_find_locked(const uint8_t *key, size_t klen)
{
    const uint8_t *d = memchr(key, PREFIX_DELIM, klen);
    if (d == NULL) {
        return NULL;
    }
    size_t len = (size_t)(d - key);
    uint32_t h = prefix_hash(key, len);
    for (struct prefix *p = prefixes[h]; p != NULL; p = p->next) {
        if (p->len == len && memcmp(p->name, key, len) == 0) {
            return p;
        }
    }
    if (nprefix >= PREFIX_MAX) {
        return NULL;
    }
    struct prefix *p = mm_zalloc(sizeof(*p) + len + 1);
    if (p == NULL) {
        return NULL;
    }
    memcpy(p->name, key, len);
    p->len = len;
    p->next = prefixes[h]; /* newest first in its bucket, as memcached */
    prefixes[h] = p;
    nprefix++;
    return p;
}

void
mc_detail_record(const void *key, size_t klen, mc_detail_e what, bool hit)
{
    if (!proc_memcache_detail_enabled()) {
        return;
    }
    pthread_mutex_lock(&prefix_lock);
    struct prefix *p = prefix_find_locked(key, klen);
    if (p != NULL) {
        switch (what) {
        case MC_DETAIL_GET:
            p->get++;
            p->hit += hit ? 1 : 0;
            break;
        case MC_DETAIL_SET:
            p->set++;
            break;
        case MC_DETAIL_DEL:
            p->del++;
            break;
        }
    }
    pthread_mutex_unlock(&prefix_lock);
}

void
mc_detail_reset(void)
{
    pthread_mutex_lock(&prefix_lock);
    for (size_t i = 0; i < PREFIX_HASH; i++) {
        struct prefix *p = prefixes[i];
        while (p != NULL) {
            struct prefix *next = p->next;
            mm_free(&p);
            p = next;
        }
        prefixes[i] = NULL;
    }
    nprefix = 0;
    pthread_mutex_unlock(&prefix_lock);
}

/* `stats detail dump`: one PREFIX line per prefix, then END. */
static rstatus_i
detail_dump(struct buf *w, size_t max)
{
    rstatus_i rc = STATUS_OK;
    pthread_mutex_lock(&prefix_lock);
    for (size_t i = 0; i < PREFIX_HASH && rc == STATUS_OK; i++) {
        for (struct prefix *p = prefixes[i]; p != NULL && rc == STATUS_OK;
                p = p->next) {
            char nums[128];
            int n = snprintf(nums, sizeof(nums),
                    " get %" PRIu64 " hit %" PRIu64 " set %" PRIu64
                    " del %" PRIu64 "\r\n",
                    p->get, p->hit, p->set, p->del);
            rc = buf_append(w, "PREFIX ", 7, max);
            if (rc == STATUS_OK) {
                rc = buf_append(w, p->name, p->len, max);
            }
            if (rc == STATUS_OK) {
                rc = buf_append(w, nums, (size_t)n, max);
            }
        }
    }
    pthread_mutex_unlock(&prefix_lock);
    return rc != STATUS_OK ? rc
                           : memcache_compose_rsp(w, MEMCACHE_RSP_END, max);
}

rstatus_i
mc_stats_detail(struct conn *c, struct mc_state *st, size_t max)
{
    struct memcache_request *req = &st->req;
    struct bstring how = req->narg > 1 ? req->arg[1] : bstring_of("", 0);
    if (bstring_equal_cstr(&how, "dump")) {
        return detail_dump(&c->wbuf, max);
    }
    if (bstring_equal_cstr(&how, "on") || bstring_equal_cstr(&how, "off")) {
        __atomic_store_n(
                &detail_on, bstring_equal_cstr(&how, "on"), __ATOMIC_RELAXED);
        return memcache_compose_rsp(&c->wbuf, MEMCACHE_RSP_OK, max);
    }
    static const char usage[] = "CLIENT_ERROR usage: stats detail on|off|dump";
    INCR(mc_metrics, memcache_error);
    return memcache_compose_line(&c->wbuf, usage, sizeof(usage) - 1, max);
}

/* ---- admin commands ---- */

/* A reply line, unless the last argument was "noreply" (memcached's
 * set_noreply_maybe then silences whatever the command answers). */
static rstatus_i
say(struct conn *c, bool quiet, bool error, const char *line, size_t max)
{
    if (error) {
        INCR(mc_metrics, memcache_error);
    }
    if (quiet) {
        return STATUS_OK;
    }
    return memcache_compose_line(&c->wbuf, line, strlen(line), max);
}

static bool
arg_is(const struct memcache_request *req, uint32_t i, const char *s)
{
    return i < req->narg && bstring_equal_cstr(&req->arg[i], s);
}

static bool
last_is_noreply(const struct memcache_request *req)
{
    return req->narg > 0 && arg_is(req, req->narg - 1, "noreply");
}

rstatus_i
mc_verbosity(struct conn *c, struct mc_state *st, size_t max)
{
    uint32_t level = st->req.num;
    __atomic_store_n(&verbosity, level > VERBOSITY_MAX ? VERBOSITY_MAX : level,
            __ATOMIC_RELAXED);
    return say(c, st->req.noreply, false, "OK", max);
}

/* slabs reassign <src> <dst> | slabs automove <0|1|2> | slabs automove
 * ratio <r>. One class (1) and the global page pool (0): a reassign
 * between them has no spare page to move. */
static rstatus_i
slabs_reassign(struct conn *c, const struct memcache_request *req, size_t max)
{
    int32_t src, dst;
    if (!memcache_number_i32(&req->arg[1], &src) ||
            !memcache_number_i32(&req->arg[2], &dst)) {
        return say(c, false, true, "CLIENT_ERROR bad command line format", max);
    }
    if (src == dst) {
        return say(c, false, true, "SAME src and dst class are identical", max);
    }
    if (src < 0 || src > CLASS_ONE || dst < 0 || dst > CLASS_ONE) {
        return say(c, false, true, "BADCLASS invalid src or dst class id", max);
    }
    return say(c, false, true, "NOSPARE source class has no spare pages", max);
}

rstatus_i
mc_slabs(struct conn *c, struct mc_state *st, size_t max)
{
    const struct memcache_request *req = &st->req;
    if (req->narg == 3 && arg_is(req, 0, "reassign")) {
        return slabs_reassign(c, req, max);
    }
    if (req->narg < 2 || !arg_is(req, 0, "automove")) {
        return say(c, false, true, "ERROR", max);
    }
    bool quiet = last_is_noreply(req);
    if (arg_is(req, 1, "ratio")) {
        double ratio;
        if (req->narg < 3 || !memcache_number_double(&req->arg[2], &ratio)) {
            return say(c, quiet, true, "ERROR", max);
        }
        return say(c, quiet, false, "OK", max);
    }
    uint32_t level;
    if (!memcache_number_u32(&req->arg[1], &level)) {
        return say(c, quiet, true, "CLIENT_ERROR bad command line format", max);
    }
    /* accepted and ignored: segments are not moved between classes */
    return level > 2 ? say(c, quiet, true, "ERROR", max)
                     : say(c, quiet, false, "OK", max);
}

/* lru tune <hot pct> <warm pct> <hot factor> <warm factor>: checked and
 * accepted; lru mode / temp_ttl: ERROR, as memcached answers them without
 * its LRU maintainer thread (stats settings: lru_maintainer_thread no). */
rstatus_i
mc_lru(struct conn *c, struct mc_state *st, size_t max)
{
    const struct memcache_request *req = &st->req;
    bool quiet = last_is_noreply(req);
    if (!arg_is(req, 0, "tune") || req->narg < 5) {
        return say(c, quiet, true, "ERROR", max);
    }
    uint32_t hot, warm;
    double hot_factor, factor;
    if (!memcache_number_u32(&req->arg[1], &hot) ||
            !memcache_number_u32(&req->arg[2], &warm) ||
            !memcache_number_double(&req->arg[3], &hot_factor) ||
            !memcache_number_double(&req->arg[4], &factor)) {
        return say(c, quiet, true, "ERROR", max);
    }
    if ((uint64_t)hot + warm > 80) {
        return say(c, quiet, true, "ERROR hot and warm pcts must not exceed 80",
                max);
    }
    if (factor <= 0 || hot_factor <= 0) {
        return say(c, quiet, true,
                "ERROR hot/warm age factors must be greater than 0", max);
    }
    return say(c, quiet, false, "OK", max);
}

/* watch [what]...: memcached 1.6.18's log watcher (memcache_watch.c).
 * With no argument it watches fetchers, as memcached. fetchers, mutations
 * and connevents produce lines; evictions, rawcmds, sysevents and the
 * proxy kinds are taken and produce none here (docs/protocol-memcache.md).
 * Bad requests get memcached's replies. */
rstatus_i
mc_watch(struct conn *c, struct mc_state *st, size_t max)
{
    static const struct {
        const char *name;
        unsigned kind;
    } kinds[] = {{"rawcmds", 0}, {"evictions", MC_WATCH_EVICTIONS},
            {"fetchers", MC_WATCH_FETCHERS}, {"mutations", MC_WATCH_MUTATIONS},
            {"sysevents", 0}, {"connevents", MC_WATCH_CONNEVENTS},
            {"proxyreqs", 0}, {"proxyevents", 0}, {"proxyuser", 0}};
    const struct memcache_request *req = &st->req;
    bool quiet = last_is_noreply(req);
    if (!buf_empty(&c->wbuf)) {
        return say(c, quiet, true,
                "ERROR cannot pipeline other commands before watch", max);
    }
    unsigned want = req->narg == 0 ? MC_WATCH_FETCHERS : 0;
    for (uint32_t i = 0; i < req->narg; i++) {
        bool known = false;
        for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
            if (bstring_equal_cstr(&req->arg[i], kinds[k].name)) {
                known = true;
                want |= kinds[k].kind;
            }
        }
        if (!known) {
            return say(c, quiet, true, "ERROR", max);
        }
    }
    rstatus_i rc = say(c, false, false, "OK", max);
    if (rc == STATUS_OK) {
        /* a watcher of kinds that make no lines here still watches: its
         * connection only listens from now on, as memcached's */
        rc = mc_watch_start(c, st, want != 0 ? want : MC_WATCH_EVICTIONS);
    }
    return rc;
}

/* cache_memlimit <MiB>: the store is sized at startup (seg.memory), so a
 * good value gets memcached's own reply for a limit it cannot apply. */
rstatus_i
mc_memlimit(struct conn *c, struct mc_state *st, size_t max)
{
    uint32_t mib = st->req.num;
    bool quiet = st->req.noreply;
    if (mib < 8) {
        return say(c, quiet, true,
                "MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m", max);
    }
    if (mib > 1000000000) {
        return say(c, quiet, true,
                "MEMLIMIT_ADJUST_FAILED input value is megabytes not bytes",
                max);
    }
    return say(c, quiet, true,
            "MEMLIMIT_ADJUST_FAILED out of bounds or unable to adjust", max);
}
