/* SPDX-License-Identifier: Apache-2.0 */
/* Store operations decoded from bytes and checked against a reference
 * model: a small array of keys with value, flags, expiry and CAS. The store
 * runs the default merge policy on a small heap that the inputs overwrite
 * many times over, but the model's live bytes stay far below the threshold
 * under which no live item may be evicted (checked at setup), so nothing
 * may disappear except by expiry, delete or flush: dead copies are
 * reclaimed by compaction and whole-segment expiry, and seg_evict_item and
 * seg_hash_evict must stay 0. Any difference aborts. */
#include "fuzz.h"

#include "base/log.h"

#include "storage/seg/seg.h"
#include "storage/storage.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NKEY 8
#define VMAX 96

struct model {
    bool live;
    uint8_t v[VMAX * 4];
    size_t vlen;
    uint64_t expiry;
    uint64_t cas;
    uint32_t cflags;
};

static struct model model[2][NKEY];
static uint64_t now = 1700000000000ULL;
static uint64_t flush_at[2];

struct in {
    const uint8_t *p;
    size_t n;
};

static uint8_t
next(struct in *in)
{
    if (in->n == 0) {
        return 0;
    }
    in->n--;
    return *in->p++;
}

#define CHECK(c)                                                               \
    do {                                                                       \
        if (!(c)) {                                                            \
            fprintf(stderr, "fuzz_seg: %s:%d: %s\n", __FILE__, __LINE__, #c);  \
            abort();                                                           \
        }                                                                      \
    } while (0)

static void
key_of(char *k, uint8_t i)
{
    snprintf(k, 8, "key%u", (unsigned)i % NKEY);
}

static struct model *
live(uint8_t db, uint8_t i)
{
    struct model *m = &model[db][i % NKEY];
    if (m->live && m->expiry != 0 && m->expiry <= now) {
        m->live = false;
    }
    return m->live ? m : NULL;
}

/* The delayed flush as the store applies it: at the first operation that
 * sees now >= at, everything then present goes. */
static void
model_flush_check(void)
{
    for (int db = 0; db < 2; db++) {
        if (flush_at[db] != 0 && flush_at[db] <= now) {
            flush_at[db] = 0;
            for (int i = 0; i < NKEY; i++) {
                model[db][i].live = false;
            }
        }
    }
}

static uint64_t
expiry_of(uint8_t b)
{
    switch (b % 4) {
    case 0:
        return 0;
    case 1:
        return now + 1 + b;
    case 2:
        return now + 100000;
    default:
        return now - (b % 2); /* past or now: never served */
    }
}

static void
check_get(uint8_t db, uint8_t i)
{
    char k[8];
    key_of(k, i);
    struct storage_item it;
    storage_status_e st = storage_get(db, k, strlen(k), now, &it);
    struct model *m = live(db, i);
    if (m == NULL) {
        CHECK(st == STORAGE_NOT_FOUND);
        return;
    }
    CHECK(st == STORAGE_OK);
    CHECK(it.vlen == m->vlen && memcmp(it.value, m->v, m->vlen) == 0);
    CHECK(it.cas == m->cas && it.cflags == m->cflags);
    CHECK(it.expiry == m->expiry);
}

static void
do_set(struct in *in, uint8_t db, uint8_t i)
{
    char k[8];
    key_of(k, i);
    uint8_t mode = next(in) % 5, vlen = next(in) % VMAX;
    uint8_t val[VMAX];
    memset(val, next(in), vlen);
    struct model *m = live(db, i);
    struct storage_write w = {
            .expiry = expiry_of(next(in)), .cflags = next(in)};
    storage_status_e want = STORAGE_OK;
    if (mode == 1) {
        w.mode = STORAGE_ADD;
        want = m ? STORAGE_EXISTS : STORAGE_OK;
    } else if (mode == 2) {
        w.mode = STORAGE_REPLACE;
        want = m ? STORAGE_OK : STORAGE_NOT_STORED;
    } else if (mode >= 3) {
        w.mode = STORAGE_CAS;
        w.cas = m ? m->cas + (mode == 4) : 12345;
        want = !m ? STORAGE_NOT_FOUND
                  : (mode == 4 ? STORAGE_EXISTS : STORAGE_OK);
    }
    uint64_t cas = 0;
    storage_status_e st =
            storage_set(db, k, strlen(k), val, vlen, &w, now, NULL, &cas);
    CHECK(st == want);
    if (st == STORAGE_OK) {
        struct model *n = &model[db][i % NKEY];
        CHECK(!m || cas != m->cas);
        *n = (struct model){.live = true,
                .vlen = vlen,
                .expiry = w.expiry,
                .cas = cas,
                .cflags = w.cflags};
        memcpy(n->v, val, vlen);
    }
}

static void
do_delete(struct in *in, uint8_t db, uint8_t i)
{
    char k[8];
    key_of(k, i);
    struct model *m = live(db, i);
    bool wrong = next(in) & 1;
    uint64_t cas = m && wrong ? m->cas + 1 : 0;
    storage_status_e st = storage_delete(db, k, strlen(k), cas, now);
    CHECK(st ==
            (!m ? STORAGE_NOT_FOUND : (wrong ? STORAGE_EXISTS : STORAGE_OK)));
    if (st == STORAGE_OK) {
        m->live = false;
    }
}

static void
do_touch(struct in *in, uint8_t db, uint8_t i)
{
    char k[8];
    key_of(k, i);
    struct model *m = live(db, i);
    uint64_t exp = expiry_of(next(in));
    storage_status_e st =
            storage_touch(db, k, strlen(k), exp, STORAGE_TTL_ALWAYS, now, NULL);
    CHECK(st == (m ? STORAGE_OK : STORAGE_NOT_FOUND));
    if (m != NULL) {
        m->expiry = exp;
        if (exp != 0 && exp <= now) {
            m->live = false;
        }
    }
}

/* The reference for memcached's incr: what strtoull accepts, as memcached
 * checks it (white space, '+', digits that fit, then the end or white
 * space), written apart from the store's parser. */
static bool
digits_of(const uint8_t *mv, size_t n, uint64_t *v)
{
    size_t j = 0;
    while (j < n && isspace(mv[j])) {
        j++;
    }
    if (j < n && mv[j] == '+') {
        j++;
    }
    size_t first = j;
    while (j < n && isdigit(mv[j])) {
        j++;
    }
    if (j == first || (j < n && !isspace(mv[j])) || j - first > 64) {
        return false;
    }
    char buf[65];
    memcpy(buf, mv + first, j - first);
    buf[j - first] = 0;
    errno = 0;
    *v = strtoull(buf, NULL, 10);
    return errno != ERANGE;
}

static bool
digits(const struct model *m, uint64_t *v)
{
    return digits_of(m->v, m->vlen, v);
}

/* memcached's incr over storage_update, the way the memcache processor
 * does it (with the reference parser above). */
struct incr_arg {
    uint64_t delta;
    bool decr;
    uint64_t got;
};

static storage_status_e
incr_fn(const uint8_t *old, size_t olen, bool found, uint8_t *out,
        size_t *outlen, void *arg)
{
    struct incr_arg *a = arg;
    uint64_t v;
    if (!found || !digits_of(old, olen, &v)) {
        return STORAGE_ENAN;
    }
    v = a->decr ? (v > a->delta ? v - a->delta : 0) : v + a->delta;
    a->got = v;
    *outlen = (size_t)snprintf(
            (char *)out, STORAGE_UPDATE_MAX, "%llu", (unsigned long long)v);
    return STORAGE_OK;
}

static void
do_incr(struct in *in, uint8_t db, uint8_t i)
{
    char k[8];
    key_of(k, i);
    struct model *m = live(db, i);
    uint64_t delta = next(in);
    bool decr = delta & 1;
    uint64_t cas;
    struct incr_arg a = {.delta = delta, .decr = decr};
    storage_status_e st = storage_update(
            db, k, strlen(k), incr_fn, &a, STORAGE_MISSING_FAIL, 0, now, &cas);
    uint64_t got = a.got;
    uint64_t v;
    if (m == NULL) {
        CHECK(st == STORAGE_NOT_FOUND);
    } else if (!digits(m, &v)) {
        CHECK(st == STORAGE_ENAN);
    } else {
        CHECK(st == STORAGE_OK);
        v = decr ? (v > delta ? v - delta : 0) : v + delta;
        CHECK(got == v);
        m->vlen = (size_t)snprintf((char *)m->v, 24, "%lu", (unsigned long)v);
        m->cas = cas;
    }
}

static void
resync(uint8_t db, uint8_t i)
{
    char k[8];
    key_of(k, i);
    storage_delete(db, k, strlen(k), 0, now);
    model[db][i % NKEY].live = false;
}

static void
do_append(struct in *in, uint8_t db, uint8_t i)
{
    char k[8];
    key_of(k, i);
    struct model *m = live(db, i);
    uint8_t len = next(in) % 16, c = next(in);
    bool pre = c & 1;
    uint8_t data[16];
    memset(data, c, len);
    size_t nl;
    uint64_t cas;
    storage_status_e st = storage_append(db, k, strlen(k), data, len,
            pre ? STORAGE_PREPEND : STORAGE_APPEND, STORAGE_MISSING_FAIL, 0,
            now, &nl, &cas);
    if (m == NULL) {
        CHECK(st == STORAGE_NOT_STORED);
        return;
    }
    if (m->vlen + len > sizeof(m->v)) {
        resync(db, i); /* the model has no room; the store had */
        return;
    }
    CHECK(st == STORAGE_OK && nl == m->vlen + len);
    if (pre) {
        memmove(m->v + len, m->v, m->vlen);
        memcpy(m->v, data, len);
    } else {
        memcpy(m->v + m->vlen, data, len);
    }
    m->vlen += len;
    m->cas = cas;
}

static void
do_flush(struct in *in, uint8_t db)
{
    uint8_t b = next(in);
    uint64_t at = b & 1 ? now + b : 0;
    CHECK(storage_flush(db, at, now) == STORAGE_OK);
    if (at == 0) {
        for (int j = 0; j < NKEY; j++) {
            model[db][j].live = false;
        }
    } else {
        flush_at[db] = at; /* a later flush_all N replaces the pending one */
    }
}

static void
do_getdel(uint8_t db, uint8_t i)
{
    char k[8];
    key_of(k, i);
    struct model *m = live(db, i);
    struct storage_item it;
    storage_status_e st = storage_getdel(db, k, strlen(k), now, &it);
    CHECK(st == (m ? STORAGE_OK : STORAGE_NOT_FOUND));
    if (m != NULL) {
        CHECK(it.vlen == m->vlen && memcmp(it.value, m->v, m->vlen) == 0);
        m->live = false;
    }
}

/* The store lives in a datapool file (tmpfs when there is one), so an
 * input can restart it: a clean teardown and setup must keep everything
 * the model holds. */
static char pool_path[64];

static void
pool_unlink(void)
{
    unlink(pool_path);
}

static seg_metrics_st metrics;

static void
store_setup(void)
{
    seg_options_st o = {SEG_OPTION(INIT_OPTION)};
    o.seg_memory.val.OPTION_SIZE = 2 * MiB;
    o.seg_segment_size.val.OPTION_SIZE = 64 * KiB;
    o.seg_background.val.OPTION_BOOL = false;
    o.seg_datapool.val.OPTION_STR = pool_path;
    metrics = (seg_metrics_st){SEG_METRIC(INIT_METRIC)};
    if (seg_setup(&o, &metrics) != STATUS_OK) {
        abort();
    }
    /* the threshold (storage.md): live bytes of the sealed segments below
     * half their space; at most every segment but the open ones, the
     * reserve and the spare is sealed. The model at its largest: every key
     * of both databases with the longest value and header. */
    struct seg_layout l;
    seg_layout_get(&l);
    size_t sealed = l.n_segment - l.open_max - l.reserve - 1;
    size_t model_max = 2 * NKEY * (35 + 8 + VMAX * 4 + 18);
    CHECK(model_max < sealed * l.segment_size / 2 / 4);
}

static void
check_no_eviction(void)
{
    CHECK(metric_counter(&metrics.seg_evict_item) == 0);
    CHECK(metric_counter(&metrics.seg_hash_evict) == 0);
}

static void
setup_once(void)
{
    static bool done;
    if (done) {
        return;
    }
    snprintf(pool_path, sizeof(pool_path), "%s/fuzz_seg-%d.pool",
            access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp", (int)getpid());
    unlink(pool_path);
    atexit(pool_unlink);
    log_set_level(LOG_WARN); /* not a line per restart */
    store_setup();
    done = true;
}

static void
do_restart(void)
{
    seg_teardown();
    store_setup();
}

static void
one_op(struct in *in)
{
    uint8_t op = next(in), db = (op >> 7) & 1, i = next(in);
    if (getenv("FUZZ_SEG_TRACE") != NULL) {
        fprintf(stderr, "op %u db %u key %u now %lu\n", op % 12, db, i % NKEY,
                (unsigned long)now);
    }
    model_flush_check();
    switch (op % 12) {
    case 0:
        check_get(db, i);
        break;
    case 1:
        do_set(in, db, i);
        break;
    case 2:
        do_delete(in, db, i);
        break;
    case 3:
        do_touch(in, db, i);
        break;
    case 4:
        do_incr(in, db, i);
        break;
    case 5:
        do_append(in, db, i);
        if (live(db, i) && model[db][i % NKEY].vlen > VMAX * 3) {
            resync(db, i);
        }
        break;
    case 6:
        now += next(in);
        break;
    case 7:
        do_flush(in, db);
        break;
    case 8:
        do_getdel(db, i);
        break;
    case 9:
        storage_maintain(now);
        break;
    case 10:
        if (i % 4 == 0) { /* rarer: a restart costs a sync of the heap */
            do_restart();
        } else {
            check_get(db, i);
        }
        break;
    default:
        check_get(db, i);
        break;
    }
    check_no_eviction();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup_once();
    now += 1000000; /* items of the previous input have all expired ... */
    storage_flush(STORAGE_DB_ALL, 0, now); /* ... or been flushed */
    memset(model, 0, sizeof(model));
    memset(flush_at, 0, sizeof(flush_at));
    struct in in = {data, size};
    while (in.n > 0) {
        one_op(&in);
    }
    for (uint8_t db = 0; db < 2; db++) {
        for (uint8_t i = 0; i < NKEY; i++) {
            model_flush_check();
            check_get(db, i);
        }
    }
    if (getenv("FUZZ_SEG_TRACE") != NULL) {
        fprintf(stderr, "compact %lu items %lu, expire_seg %lu, merge %lu\n",
                (unsigned long)metric_counter(&metrics.seg_compact),
                (unsigned long)metric_counter(&metrics.seg_compact_item),
                (unsigned long)metric_counter(&metrics.seg_expire_seg),
                (unsigned long)metric_counter(&metrics.seg_merge));
    }
    return 0;
}
