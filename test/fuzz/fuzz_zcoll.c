/* SPDX-License-Identifier: Apache-2.0 */
/* Sorted sets in the store (processor/zcoll.h), both forms: the input is a
 * program of adds, score changes and removes on one key, with sizes low
 * enough that a few dozen members make a set in parts (entry parts, index
 * buckets, a directory with block sums), each step made through the lazy
 * accessors (ZADD's way; several changes in one batch, zset_batch, when
 * consecutive ops ask for it) or through a whole decode and rewrite
 * (ZREMRANGEBYLEX's way), and checked against a model (a plain array):
 * scores and ranks by member, counts below a score, windows of ranks, and
 * the whole set decoded in order. Any difference aborts. */
#include "fuzz/fuzz.h"

#include "base/log.h"
#include "processor/coll.h"
#include "processor/zcoll.h"
#include "storage/seg/seg.h"
#include "storage/storage.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW 1700000000000ULL
#define NM  48

#define CHECK(c)                                                               \
    do {                                                                       \
        if (!(c)) {                                                            \
            fprintf(stderr, "fuzz_zcoll: %s:%d: %s\n", __FILE__, __LINE__,     \
                    #c);                                                       \
            abort();                                                           \
        }                                                                      \
    } while (0)

static seg_metrics_st metrics;

static void
setup_once(void)
{
    static bool done;
    if (done) {
        return;
    }
    log_set_level(LOG_WARN);
    seg_options_st o = {SEG_OPTION(INIT_OPTION)};
    o.seg_memory.val.OPTION_SIZE = 16 * MiB;
    o.seg_segment_size.val.OPTION_SIZE = 256 * KiB;
    o.seg_background.val.OPTION_BOOL = false;
    metrics = (seg_metrics_st){SEG_METRIC(INIT_METRIC)};
    CHECK(seg_setup(&o, &metrics) == STATUS_OK);
    coll_limits.zset_max_listpack_entries = 8;
    coll_limits.zset_max_listpack_value = 24;
    zset_tune = (struct zset_tune){160, 120, 90, 3, 160};
    done = true;
}

/* the model: member i present with score s[i] */
static bool has[NM];
static double sc[NM];
static char names[NM][40];
static size_t nlen[NM];

static double
score_of(uint8_t b)
{
    switch (b % 8) {
    case 0:
        return INFINITY;
    case 1:
        return -INFINITY;
    case 2:
        return 0.0;
    default:
        return (double)((int)(b >> 3) - 16) / ((b & 4) ? 2 : 1);
    }
}

/* the model's entries, sorted */
static size_t
sorted(struct zpack_ent *out)
{
    size_t n = 0;
    for (int i = 0; i < NM; i++) {
        if (has[i]) {
            out[n++] = (struct zpack_ent){
                    (const uint8_t *)names[i], nlen[i], sc[i]};
        }
    }
    for (size_t i = 1; i < n; i++) {
        struct zpack_ent t = out[i];
        size_t j = i;
        while (j > 0 && zpack_ent_cmp(&out[j - 1], &t) > 0) {
            out[j] = out[j - 1];
            j--;
        }
        out[j] = t;
    }
    return n;
}

static void
check_all(void)
{
    struct zpack_ent want[NM];
    size_t n = sorted(want);
    struct zset z;
    coll_status_e st = zset_open(&z, 0, "z", 1, false, KS_NOSTATS, NOW);
    CHECK(n == 0 ? st == COLL_MISS : st == COLL_OK);
    CHECK(z.n == n);
    for (size_t i = 0; i < n; i++) {
        CHECK(z.e[i].mlen == want[i].mlen &&
                memcmp(z.e[i].m, want[i].m, want[i].mlen) == 0 &&
                z.e[i].score == want[i].score);
    }
    zset_close(&z);
}

static void
check_lazy(uint8_t a, uint8_t b)
{
    struct zpack_ent want[NM];
    size_t n = sorted(want);
    struct zset z;
    coll_status_e st = zset_open(&z, 0, "z", 1, false, ZSET_LAZY, NOW);
    CHECK(n == 0 ? st == COLL_MISS : st == COLL_OK);
    CHECK(z.n == n);
    if (n == 0) {
        zset_close(&z);
        return;
    }
    int i = a % NM;
    double s;
    uint64_t rank;
    st = zset_score(&z, names[i], nlen[i], &s);
    CHECK(st == (has[i] ? COLL_OK : COLL_MISS));
    CHECK(!has[i] || s == sc[i]);
    st = zset_rank(&z, names[i], nlen[i], &rank);
    CHECK(st == (has[i] ? COLL_OK : COLL_MISS));
    if (has[i]) {
        CHECK(rank < n && want[rank].mlen == nlen[i] &&
                memcmp(want[rank].m, names[i], nlen[i]) == 0);
    }
    double bound = score_of(b);
    bool incl = b & 1;
    size_t below = 0;
    while (below < n &&
            (incl ? want[below].score <= bound : want[below].score < bound)) {
        below++;
    }
    uint64_t got;
    CHECK(zset_below(&z, bound, incl, &got) == COLL_OK && got == below);
    uint64_t from = a % n, cnt = 1 + b % 16;
    CHECK(zset_window(&z, from, cnt) == COLL_OK);
    for (uint64_t r = from; r < from + cnt && r < n; r++) {
        const struct zpack_ent *e = zset_ent(&z, r);
        CHECK(e->mlen == want[r].mlen &&
                memcmp(e->m, want[r].m, e->mlen) == 0 &&
                e->score == want[r].score);
    }
    zset_close(&z);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup_once();
    ks_delete(0, "z", 1, NOW);
    memset(has, 0, sizeof(has));
    for (int i = 0; i < NM; i++) {
        nlen[i] = (size_t)snprintf(names[i], sizeof(names[i]), "%s%d",
                i % 11 == 5 ? "a-member-past-the-value-limit-" : "m", i);
    }
    /* a change with bit 0x40 leaves the set open for the next change (one
     * command of many members); bit 0x20 on the one that opens it makes
     * it a batch */
    struct zset z;
    bool open = false;
    for (size_t at = 0; at + 2 < size && at < 3 * 2000; at += 3) {
        uint8_t op = data[at], a = data[at + 1], b = data[at + 2];
        int i = a % NM;
        if (open && (op % 8 > 3 || !(op & 0x40))) {
            CHECK(zset_commit(&z) == COLL_OK);
            zset_close(&z);
            open = false;
        }
        switch (op % 8) {
        case 0:
        case 1:
        case 2:
        case 3: { /* a change: put (ops 0-2) or remove (op 3) */
            bool lazy = !(op & 0x80);
            coll_status_e st = COLL_OK;
            if (!open) {
                st = zset_open(&z, 0, "z", 1, true,
                        KS_NOSTATS | (lazy ? ZSET_LAZY : 0), NOW);
                CHECK(st == COLL_OK || st == COLL_MISS);
                if (op & 0x20) {
                    CHECK(zset_batch(&z) == COLL_OK);
                }
                open = true;
            }
            if (op % 8 == 3) {
                bool removed;
                CHECK(zset_del(&z, names[i], nlen[i], &removed) == COLL_OK);
                CHECK(removed == has[i]);
                has[i] = false;
            } else {
                double s = score_of(b);
                CHECK(zset_put(&z, names[i], nlen[i], s) == COLL_OK);
                has[i] = true;
                sc[i] = s == 0 ? 0.0 : s;
            }
            (void)st;
            break;
        }
        case 4:
        case 5:
            check_lazy(a, b);
            break;
        default:
            check_all();
            break;
        }
    }
    if (open) {
        CHECK(zset_commit(&z) == COLL_OK);
        zset_close(&z);
    }
    check_all();
    CHECK(metric_counter(&metrics.seg_evict_item) == 0);
    return 0;
}
