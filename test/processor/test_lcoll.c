/* SPDX-License-Identifier: Apache-2.0 */
/* Lists in the keyspace (processor/lcoll.h) against a model (an array of
 * element numbers): random inserts and deletes anywhere, by the cheap
 * splice of one part or by replacing a part, with elements up to 1.5 KiB so
 * the list goes from inline to parts within a few changes, parts split,
 * empty and are renumbered, then back to nothing; every version is walked
 * part by part and located index by index. list_store replaces a key of
 * any type, and a commit racing a plain write answers COLL_RETRY. Pushes
 * and pops at the ends (LIST_ENDS) patch the root in place when no part
 * comes or goes: checked by the root's CAS and expiry, the store's patch
 * count and the stripe's change count, against a model at several part
 * sizes, and through expiry and eviction, which take such a list whole. */
#include "unit.h"

#include "base/time.h"
#include "processor/coll.h"
#include "processor/lcoll.h"
#include "storage/seg/seg.h"
#include "storage/storage.h"

#include "seg_start.h"
#include "types/pack.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW  1700000000000ULL
#define MAXN 4000

static seg_metrics_st metrics;

static int
setup(void **state)
{
    (void)state;
    seg_start(&metrics, 64 * MiB, 256 * KiB);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    seg_teardown();
    return 0;
}

/* the model: the element ids in list order; element id's bytes are
 * "<id>:" then padding to a size derived from the id */
static uint32_t model[MAXN];
static size_t nmodel;
static uint32_t next_id = 1;

static size_t
elem(uint8_t *buf, uint32_t id)
{
    size_t len = (size_t)snprintf((char *)buf, 24, "%u:", id);
    size_t pad = id % 7 == 0 ? 1500 : id % 3 == 0 ? 0 : id % 200;
    memset(buf + len, 'a' + (int)(id % 26), pad);
    return len + pad;
}

/* Element bytes a change points at: kept until the commit. */
static uint8_t keep[64][1600];

static void
check_key(const char *key)
{
    struct list l;
    coll_status_e st =
            list_open(&l, 0, key, strlen(key), false, KS_NOSTATS, NOW);
    if (nmodel == 0) {
        assert_int_equal(st, COLL_MISS);
        list_close(&l);
        return;
    }
    assert_int_equal(st, COLL_OK);
    assert_int_equal(l.count, nmodel);
    size_t at = 0;
    static struct pack_elem e[MAXN];
    uint8_t want[1600];
    for (uint32_t k = 0; k < list_nparts(&l); k++) {
        uint32_t n = list_part_count(&l, k);
        assert_true(n > 0);
        const uint8_t *img;
        size_t len;
        assert_int_equal(list_part(&l, k, &img, &len), COLL_OK);
        /* a part stays within its limit, unless one element passes it */
        assert_true(len <= list_part_max() || n == 1 || !l.parts);
        assert_int_equal(list_part_elems(&l, k, e), COLL_OK);
        for (uint32_t i = 0; i < n; i++, at++) {
            assert_true(at < nmodel);
            size_t wl = elem(want, model[at]);
            assert_int_equal(e[i].len, wl);
            assert_memory_equal(e[i].p, want, wl);
        }
    }
    assert_int_equal(at, nmodel);
    for (int t = 0; t < 10; t++) { /* index -> (part, index in it) */
        uint64_t i = (uint64_t)rand() % nmodel, in;
        uint32_t k = list_locate(&l, i, &in);
        assert_int_equal(list_part_elems(&l, k, e), COLL_OK);
        size_t wl = elem(want, model[i]);
        assert_int_equal(e[in].len, wl);
        assert_memory_equal(e[in].p, want, wl);
    }
    list_close(&l);
}

static void
check(void)
{
    check_key("l");
}

/* Inserts n new elements at index i of the list (the model too). */
static coll_status_e
insert(struct list *l, size_t i, size_t n)
{
    struct pack_elem ins[8];
    for (size_t j = 0; j < n; j++) {
        ins[j] = (struct pack_elem){keep[j], elem(keep[j], next_id)};
        memmove(model + i + j + 1, model + i + j,
                (nmodel - i - j) * sizeof(*model));
        model[i + j] = next_id++;
        nmodel++;
    }
    if (list_nparts(l) == 0) {
        return list_replace(l, 0, 0, ins, n);
    }
    uint64_t in = 0;
    uint32_t k = i == l->count ? list_nparts(l) - 1
                               : list_locate(l, (uint64_t)i, &in);
    if (i == l->count) {
        in = list_part_count(l, k);
    }
    coll_status_e st = list_splice(l, k, (size_t)in, 0, ins, n);
    if (st != COLL_EOVERSIZE) {
        return st;
    }
    /* the part would pass its limit: the part replaced, with the new
     * elements, cut into parts again */
    size_t cnt = list_part_count(l, k);
    struct pack_elem *e = malloc((cnt + n) * sizeof(*e));
    assert_non_null(e);
    assert_int_equal(list_part_elems(l, k, e), COLL_OK);
    memmove(e + in + n, e + in, (cnt - in) * sizeof(*e));
    memcpy(e + in, ins, n * sizeof(*e));
    st = list_replace(l, k, k + 1, e, cnt + n);
    free(e);
    return st;
}

/* Deletes up to n elements at index i, within i's part. */
static coll_status_e delete (struct list *l, size_t i, size_t n)
{
    uint64_t in;
    uint32_t k = list_locate(l, (uint64_t)i, &in);
    size_t cnt = list_part_count(l, k);
    if (n > cnt - in) {
        n = cnt - in;
    }
    memmove(model + i, model + i + n, (nmodel - i - n) * sizeof(*model));
    nmodel -= n;
    coll_status_e st = list_splice(l, k, (size_t)in, n, NULL, 0);
    if (st != COLL_EOVERSIZE) {
        return st;
    }
    /* the part would empty: replaced by what is left of it */
    struct pack_elem *e = malloc((cnt + 1) * sizeof(*e));
    assert_non_null(e);
    assert_int_equal(list_part_elems(l, k, e), COLL_OK);
    memmove(e + in, e + in + n, (cnt - in - n) * sizeof(*e));
    st = list_replace(l, k, k + 1, e, cnt - n);
    free(e);
    return st;
}

static void
test_list_against_model(void **state)
{
    (void)state;
    nmodel = 0;
    srand(16);
    bool saw_inline = false, saw_parts = false;
    uint32_t most_parts = 0;
    for (int op = 0; op < 2500; op++) {
        struct list l;
        coll_status_e st = list_open(&l, 0, "l", 1, true, KS_NOSTATS, NOW);
        assert_true(st == COLL_OK || st == COLL_MISS);
        saw_inline |= l.exists && !l.parts;
        saw_parts |= l.parts;
        most_parts = l.nparts > most_parts ? l.nparts : most_parts;
        bool shrink = op > 1600;
        if (nmodel > 0 && (shrink ? rand() % 5 != 0 : rand() % 3 == 0)) {
            size_t i = (size_t)rand() % nmodel;
            st = delete (&l, i, 1 + (size_t)rand() % (shrink ? 12 : 4));
        } else if (nmodel + 8 < MAXN) {
            size_t where = (size_t)rand() % 4; /* head, tail, anywhere */
            size_t i = where == 0   ? 0
                       : where == 1 ? nmodel
                                    : (size_t)rand() % (nmodel + 1);
            st = insert(&l, i, 1 + (size_t)rand() % 8);
        }
        assert_int_equal(st, COLL_OK);
        assert_int_equal(l.count, nmodel);
        assert_int_equal(list_commit(&l), COLL_OK);
        list_close(&l);
        check();
    }
    /* and empty it */
    while (nmodel > 0) {
        struct list l;
        assert_int_equal(
                list_open(&l, 0, "l", 1, true, KS_NOSTATS, NOW), COLL_OK);
        assert_int_equal(delete (&l, 0, nmodel), COLL_OK);
        assert_int_equal(list_commit(&l), COLL_OK);
        list_close(&l);
        check();
    }
    assert_true(saw_inline);
    assert_true(saw_parts);
    assert_true(most_parts >= 8);
}

static void
test_list_store_replaces_any_key(void **state)
{
    (void)state;
    /* a hash's place, then a list in parts, then a small one, then none */
    struct storage_write w = {.mode = STORAGE_SET, .expiry = NOW + 60000};
    assert_int_equal(
            storage_set(0, "d", 1, "str", 3, &w, NOW, NULL, NULL), STORAGE_OK);
    static struct pack_elem e[200];
    static uint8_t bytes[200][1600];
    for (uint32_t i = 0; i < 200; i++) {
        e[i] = (struct pack_elem){bytes[i], elem(bytes[i], 7 * (i + 1))};
    }
    uint32_t s = ks_stripe(0, "d", 1);
    size_t sizes[] = {200, 3, 0};
    for (size_t t = 0; t < 3; t++) {
        ks_lock(s);
        assert_int_equal(list_store(0, "d", 1, e, sizes[t], NOW), COLL_OK);
        ks_unlock(s);
        struct list l;
        coll_status_e st = list_open(&l, 0, "d", 1, false, KS_NOSTATS, NOW);
        if (sizes[t] == 0) {
            assert_int_equal(st, COLL_MISS);
            list_close(&l);
            break;
        }
        assert_int_equal(st, COLL_OK);
        assert_int_equal(l.count, sizes[t]);
        assert_int_equal(l.expiry, TIME_NEVER);
        assert_int_equal(l.parts, sizes[t] == 200);
        uint64_t in;
        uint32_t k = list_locate(&l, sizes[t] - 1, &in);
        static struct pack_elem got[200];
        assert_int_equal(list_part_elems(&l, k, got), COLL_OK);
        assert_int_equal(got[in].len, e[sizes[t] - 1].len);
        assert_memory_equal(got[in].p, e[sizes[t] - 1].p, got[in].len);
        list_close(&l);
    }
    struct storage_item it;
    assert_int_equal(storage_get(0, "d", 1, NOW, &it), STORAGE_NOT_FOUND);
}

static void
test_list_commit_races_a_write(void **state)
{
    (void)state;
    struct list l;
    assert_int_equal(
            list_open(&l, 0, "r", 1, true, KS_NOSTATS, NOW), COLL_MISS);
    struct pack_elem a = {(const uint8_t *)"a", 1};
    assert_int_equal(list_replace(&l, 0, 0, &a, 1), COLL_OK);
    assert_int_equal(list_commit(&l), COLL_OK);
    list_close(&l);
    assert_int_equal(list_open(&l, 0, "r", 1, true, KS_NOSTATS, NOW), COLL_OK);
    assert_int_equal(list_splice(&l, 0, 1, 0, &a, 1), COLL_OK);
    struct storage_write w = {.mode = STORAGE_SET};
    assert_int_equal(
            storage_set(0, "r", 1, "v", 1, &w, NOW, NULL, NULL), STORAGE_OK);
    assert_int_equal(list_commit(&l), COLL_RETRY);
    list_close(&l);
    assert_int_equal(
            list_open(&l, 0, "r", 1, false, KS_NOSTATS, NOW), COLL_WRONGTYPE);
    list_close(&l);
}

/* ---- pushes and pops at the ends (LIST_ENDS): the root patched ---- */

/* A push at one end as resp_list.c does it: spliced into the end part, or
 * a new part at that end when it is full. */
static coll_status_e
end_push(struct list *l, bool left, const struct pack_elem *ins, size_t n)
{
    uint32_t np = list_nparts(l);
    if (np == 0) {
        return list_replace(l, 0, 0, ins, n);
    }
    uint32_t k = left ? 0 : np - 1;
    coll_status_e st =
            list_splice(l, k, left ? 0 : list_part_count(l, k), 0, ins, n);
    if (st != COLL_EOVERSIZE) {
        return st;
    }
    if (l->parts) {
        uint32_t at = left ? 0 : np;
        return list_replace(l, at, at, ins, n);
    }
    /* inline and full: everything again, cut into parts */
    size_t cnt = list_part_count(l, 0);
    struct pack_elem *e = malloc((cnt + n) * sizeof(*e));
    assert_non_null(e);
    assert_int_equal(list_part_elems(l, 0, e + (left ? n : 0)), COLL_OK);
    memcpy(e + (left ? 0 : cnt), ins, n * sizeof(*e));
    st = list_replace(l, 0, 1, e, cnt + n);
    free(e);
    return st;
}

/* A pop of one element at one end as resp_list.c does it: spliced off
 * the end part, or that part replaced by what is left (none: removed). */
static coll_status_e
end_pop(struct list *l, bool left)
{
    uint32_t np = list_nparts(l);
    uint32_t k = left ? 0 : np - 1;
    size_t n = list_part_count(l, k);
    coll_status_e st = list_splice(l, k, left ? 0 : n - 1, 1, NULL, 0);
    if (st != COLL_EOVERSIZE) {
        return st;
    }
    struct pack_elem *e = malloc((n + 1) * sizeof(*e));
    assert_non_null(e);
    assert_int_equal(list_part_elems(l, k, e), COLL_OK);
    st = list_replace(l, k, k + 1, left ? e + 1 : e, n - 1);
    free(e);
    return st;
}

static struct storage_item
root_of(const char *key)
{
    struct storage_item it;
    assert_int_equal(storage_peek(0, key, strlen(key), NOW, &it), STORAGE_OK);
    return it;
}

/* The model's element ids pushed at one end (nmodel grows). */
static void
model_push(bool left, size_t n, struct pack_elem *ins)
{
    for (size_t j = 0; j < n; j++) {
        ins[j] = (struct pack_elem){keep[j], elem(keep[j], next_id + j)};
    }
    if (left) {
        memmove(model + n, model, nmodel * sizeof(*model));
        for (size_t j = 0; j < n; j++) {
            model[j] = next_id++;
        }
    } else {
        for (size_t j = 0; j < n; j++) {
            model[nmodel + j] = next_id++;
        }
    }
    nmodel += n;
}

static void
model_pop(bool left)
{
    if (left) {
        memmove(model, model + 1, (nmodel - 1) * sizeof(*model));
    }
    nmodel--;
}

/* Pops at the head (push: pushes 4 at the tail) of list "p" one open at a
 * time, the root patched (its CAS stays cas) until a part goes (comes):
 * then the root is rewritten; returns it. */
static struct storage_item
until_reshaped(bool push, uint64_t cas)
{
    struct pack_elem ins[4];
    for (;;) {
        struct list l;
        assert_int_equal(
                list_open(&l, 0, "p", 1, true, KS_NOSTATS | LIST_ENDS, NOW),
                COLL_OK);
        uint32_t np = l.nparts;
        if (push) {
            model_push(false, 4, ins);
            assert_int_equal(end_push(&l, false, ins, 4), COLL_OK);
        } else {
            model_pop(true);
            assert_int_equal(end_pop(&l, true), COLL_OK);
        }
        assert_int_equal(list_commit(&l), COLL_OK);
        bool reshaped = l.nparts != np;
        list_close(&l);
        check_key("p");
        struct storage_item r = root_of("p");
        if (reshaped) {
            assert_true(r.cas != cas);
            return r;
        }
        assert_int_equal(r.cas, cas);
    }
}

static void
test_list_ends_patch_root_in_place(void **state)
{
    (void)state;
    nmodel = 0;
    struct pack_elem ins[8];
    /* a list in parts: pushes until it has 3 */
    for (;;) {
        struct list l;
        coll_status_e st =
                list_open(&l, 0, "p", 1, true, KS_NOSTATS | LIST_ENDS, NOW);
        assert_true(st == COLL_OK || st == COLL_MISS);
        bool enough = l.parts && l.nparts >= 3;
        if (!enough) {
            model_push(false, 8, ins);
            assert_int_equal(end_push(&l, false, ins, 8), COLL_OK);
            assert_int_equal(list_commit(&l), COLL_OK);
        }
        list_close(&l);
        if (enough) {
            break;
        }
    }
    check_key("p");
    storage_status_e ex = ks_expire(
            0, "p", 1, KS_ANY, NOW + 60000, STORAGE_TTL_ALWAYS, NOW, NULL);
    assert_int_equal(ex, STORAGE_OK);
    struct storage_item r0 = root_of("p");
    uint32_t stripe = ks_stripe(0, "p", 1);
    /* one push at each end, and a pop at each end, in one open each: the
     * root is patched, never written */
    for (int round = 0; round < 4; round++) {
        uint64_t patches = metrics.seg_patch.counter;
        uint64_t changes = ks_stripe_changes(stripe);
        uint64_t writes = metrics.seg_write.counter;
        struct list l;
        assert_int_equal(
                list_open(&l, 0, "p", 1, true, KS_NOSTATS | LIST_ENDS, NOW),
                COLL_OK);
        uint32_t np = l.nparts;
        if (round % 2 == 0) {
            model_push(true, 1, ins);
            assert_int_equal(end_push(&l, true, ins, 1), COLL_OK);
            model_push(false, 1, ins + 1);
            assert_int_equal(end_push(&l, false, ins + 1, 1), COLL_OK);
        } else {
            model_pop(true);
            assert_int_equal(end_pop(&l, true), COLL_OK);
            model_pop(false);
            assert_int_equal(end_pop(&l, false), COLL_OK);
        }
        assert_int_equal(list_commit(&l), COLL_OK);
        assert_int_equal(l.nparts, np);
        list_close(&l);
        struct storage_item r = root_of("p");
        assert_int_equal(r.cas, r0.cas);       /* the same version */
        assert_int_equal(r.expiry, r0.expiry); /* and its expiry */
        assert_int_equal(r.vlen, r0.vlen);
        assert_int_equal(metrics.seg_patch.counter, patches + 2);
        assert_int_equal(metrics.seg_write.counter, writes + 2); /* parts */
        assert_int_equal(ks_stripe_changes(stripe), changes + 1);
        check_key("p"); /* the count and each part's, element by element */
    }
    /* a pop that empties the head part, then a push that needs a new
     * tail part: the root is rewritten (a new CAS), the expiry kept */
    struct storage_item r1 = until_reshaped(false, r0.cas);
    assert_int_equal(r1.expiry, r0.expiry);
    struct storage_item r2 = until_reshaped(true, r1.cas);
    assert_int_equal(r2.expiry, r0.expiry);
    /* expiry takes the list whole: root and every part */
    struct list l;
    assert_int_equal(list_open(&l, 0, "p", 1, false, KS_NOSTATS, NOW), COLL_OK);
    uint8_t id[8];
    memcpy(id, l.id, 8);
    uint32_t np = l.nparts;
    list_close(&l);
    uint64_t later = NOW + 60001;
    assert_int_equal(
            list_open(&l, 0, "p", 1, false, KS_NOSTATS, later), COLL_MISS);
    list_close(&l);
    for (uint32_t i = 0; i < np; i++) {
        uint8_t pk[STORAGE_KEY_MAX + STORAGE_PART_SUFFIX];
        size_t n = ks_part_key(pk, "p", 1, id, i);
        struct storage_item it;
        /* every part, rewritten or not, carries the root's expiry */
        assert_int_equal(storage_peek(0 | STORAGE_DB_PARTS, pk, n, NOW, &it),
                STORAGE_OK);
        assert_int_equal(it.expiry, r0.expiry);
        assert_int_equal(storage_peek(0 | STORAGE_DB_PARTS, pk, n, later, &it),
                STORAGE_NOT_FOUND);
    }
    ks_delete(0, "p", 1, NOW);
}

/* Random pushes and pops at both ends, one to three changes per open, at
 * part sizes of 4, 8 and 16 KiB: the list against the model after every
 * commit; most commits patch the root, the others rewrite it. */
static void
test_list_ends_against_model(void **state)
{
    (void)state;
    int32_t fills[] = {-1, -2, -3};
    srand(1616);
    for (size_t f = 0; f < sizeof(fills) / sizeof(fills[0]); f++) {
        list_max_listpack_size = fills[f];
        nmodel = 0;
        uint64_t patched = 0, rewritten = 0;
        struct pack_elem ins[8];
        for (int op = 0; op < 1500; op++) {
            struct list l;
            coll_status_e st =
                    list_open(&l, 0, "m", 1, true, KS_NOSTATS | LIST_ENDS, NOW);
            assert_true(st == COLL_OK || st == COLL_MISS);
            uint64_t cas = l.exists ? l.cas : 0;
            bool was_parts = l.parts;
            int changes = 1 + rand() % 3;
            bool grow = op < 1000;
            for (int c = 0; c < changes; c++) {
                bool left = rand() % 2 == 0;
                bool pop = grow ? rand() % 3 == 0 : rand() % 3 != 0;
                if (nmodel > 0 && pop) {
                    model_pop(left);
                    st = end_pop(&l, left);
                } else if (nmodel + 8 < MAXN) {
                    size_t n = 1 + (size_t)rand() % 3;
                    model_push(left, n, ins);
                    st = end_push(&l, left, ins, n);
                }
                assert_int_equal(st, COLL_OK);
                assert_int_equal(l.count, nmodel);
            }
            assert_int_equal(list_commit(&l), COLL_OK);
            list_close(&l);
            if (was_parts && nmodel > 0) {
                if (root_of("m").cas == cas) {
                    patched++;
                } else {
                    rewritten++;
                }
            }
            check_key("m");
        }
        while (nmodel > 0) { /* and empty it from both ends */
            struct list l;
            assert_int_equal(
                    list_open(&l, 0, "m", 1, true, KS_NOSTATS | LIST_ENDS, NOW),
                    COLL_OK);
            bool left = rand() % 2 == 0;
            model_pop(left);
            assert_int_equal(end_pop(&l, left), COLL_OK);
            assert_int_equal(list_commit(&l), COLL_OK);
            list_close(&l);
            check_key("m");
        }
        assert_true(patched > rewritten);
        assert_true(rewritten > 0);
    }
    list_max_listpack_size = -2;
}

/* Short elements "<id>" (hundreds to a part) for the tail index. */
static size_t
short_elem(uint8_t *buf, uint32_t id)
{
    return (size_t)snprintf((char *)buf, 24, "%u", id);
}

/* RPOP as resp_list.c's pop_splice does it: the last element found with
 * list_part_at (the thread's tail index when it names the image) and
 * spliced off; it must be the model's last. */
static coll_status_e
tail_pop(struct list *l)
{
    uint32_t k = list_nparts(l) - 1;
    size_t n = list_part_count(l, k), off, len;
    const uint8_t *img;
    if (n < 2 || !l->parts) {
        return end_pop(l, false);
    }
    coll_status_e st = list_part_at(l, k, n - 1, &img, &len, &off);
    assert_int_equal(st, COLL_OK);
    assert_int_equal(off, pack_offset(img, len, n - 1));
    uint8_t want[24];
    size_t wl = short_elem(want, model[nmodel - 1]);
    struct pack_elem e = pack_at_offset(img, len, off);
    assert_int_equal(e.len, wl);
    assert_memory_equal(e.p, want, wl);
    st = list_splice_in(l, k, img, len, off, 1, NULL, 0);
    return st == COLL_EOVERSIZE ? end_pop(l, false) : st;
}

/* One RPOP of key as its own command: opened, tail_pop, committed. */
static void
tail_pop_one(const char *key)
{
    struct list l;
    assert_int_equal(
            list_open(&l, 0, key, 1, true, KS_NOSTATS | LIST_ENDS, NOW),
            COLL_OK);
    assert_int_equal(tail_pop(&l), COLL_OK);
    model_pop(false);
    assert_int_equal(list_commit(&l), COLL_OK);
    list_close(&l);
}

/* Issue 16: RPOP on a list in parts took a walk of its tail part's
 * elements (2,000 of 3 bytes) per pop; the thread now keeps the part
 * image's offsets by its CAS. Pops and pushes at both ends, a change in
 * the middle now and then (which must leave the index behind), a write
 * of the part by another path: every offset the index gives is the walk's
 * and every popped element the model's, at three part sizes. */
static void
test_list_tail_index_against_model(void **state)
{
    (void)state;
    int32_t fills[] = {-1, -2, -3};
    srand(2929);
    uint64_t hits0 = list_tail_hits();
    for (size_t f = 0; f < sizeof(fills) / sizeof(fills[0]); f++) {
        list_max_listpack_size = fills[f];
        nmodel = 0;
        char key[2] = {(char)('t' + f), 0}; /* a list of its own */
        for (int op = 0; op < 6000; op++) {
            struct list l;
            coll_status_e st =
                    list_open(&l, 0, key, 1, true, KS_NOSTATS | LIST_ENDS, NOW);
            assert_true(st == COLL_OK || st == COLL_MISS);
            int r = rand() % 16;
            bool grow = op % 2000 < 1400;
            if (nmodel > 0 && r < (grow ? 6 : 11)) {
                st = tail_pop(&l);
                model_pop(false);
            } else if (nmodel > 0 && r == 11) {
                model_pop(true);
                st = end_pop(&l, true);
            } else if (nmodel > 2 && r == 12) {
                /* a same-length change in the middle of the tail part, as
                 * LSET: offsets hold, the image is another */
                uint32_t k = list_nparts(&l) - 1;
                size_t n = list_part_count(&l, k);
                size_t at = n / 2;
                uint64_t i0 = l.count - n + at;
                uint32_t id = model[i0];
                model[i0] = id % 10 == 9 ? id - 1 : id + 1;
                struct pack_elem e = {keep[0], short_elem(keep[0], model[i0])};
                st = list_splice(&l, k, at, 1, &e, 1);
                if (st == COLL_EOVERSIZE) {
                    model[i0] = id;
                    st = COLL_OK;
                }
            } else if (nmodel + 8 < MAXN) {
                bool left = r == 13;
                size_t n = 1 + (size_t)rand() % 4;
                struct pack_elem ins[4];
                for (size_t j = 0; j < n; j++) {
                    ins[j] = (struct pack_elem){
                            keep[j], short_elem(keep[j], next_id + j)};
                }
                if (left) {
                    memmove(model + n, model, nmodel * sizeof(*model));
                    for (size_t j = 0; j < n; j++) {
                        model[n - 1 - j] = next_id + j;
                    }
                    /* pushed one by one at the head: last one first */
                } else {
                    for (size_t j = 0; j < n; j++) {
                        model[nmodel + j] = next_id + j;
                    }
                }
                if (left) { /* LPUSH a b c leaves c b a */
                    struct pack_elem rev[4];
                    for (size_t j = 0; j < n; j++) {
                        rev[j] = ins[n - 1 - j];
                    }
                    memcpy(ins, rev, n * sizeof(*ins));
                }
                next_id += (uint32_t)n;
                nmodel += n;
                st = end_push(&l, left, ins, n);
            }
            assert_int_equal(st, COLL_OK);
            assert_int_equal(l.count, nmodel);
            assert_int_equal(list_commit(&l), COLL_OK);
            list_close(&l);
            if (op % 500 == 0 && nmodel > 0) { /* every element in order */
                assert_int_equal(
                        list_open(&l, 0, key, 1, false, KS_NOSTATS, NOW),
                        COLL_OK);
                uint64_t at = 0;
                for (uint32_t k = 0; k < list_nparts(&l); k++) {
                    const uint8_t *img;
                    size_t len;
                    assert_int_equal(list_part(&l, k, &img, &len), COLL_OK);
                    struct pack_iter it;
                    struct pack_elem e;
                    pack_iter_init(&it, img, len);
                    while (pack_next(&it, &e)) {
                        uint8_t want[24];
                        size_t wl = short_elem(want, model[at++]);
                        assert_int_equal(e.len, wl);
                        assert_memory_equal(e.p, want, wl);
                    }
                }
                assert_int_equal(at, nmodel);
                list_close(&l);
            }
        }
        while (nmodel > 300) { /* RPOPs down to one part: counts cross
                                  16384 and 128, where a part's count
                                  header shrinks */
            tail_pop_one(key);
        }
        /* a queue on a list of one part: LPUSH and LPOP at its head keep
         * the index of the same image that RPOP uses (tix_head) */
        uint64_t hits = list_tail_hits(), rpops = 0;
        for (int op = 0; op < 3000 && nmodel > 0; op++) {
            struct list l;
            assert_int_equal(
                    list_open(&l, 0, key, 1, true, KS_NOSTATS | LIST_ENDS, NOW),
                    COLL_OK);
            assert_true(l.parts);
            coll_status_e st;
            int r = rand() % 3;
            /* around 128 elements first, where the count header changes
             * size, then up to 400 */
            if (r == 0 && nmodel < (op < 1500 ? 128u : 400u)) {
                size_t n = 1 + (size_t)rand() % 4;
                struct pack_elem ins[4];
                memmove(model + n, model, nmodel * sizeof(*model));
                for (size_t j = 0; j < n; j++) {
                    model[j] = next_id + (uint32_t)j;
                    ins[j] = (struct pack_elem){keep[j],
                            short_elem(keep[j], next_id + (uint32_t)j)};
                }
                next_id += (uint32_t)n;
                nmodel += n;
                st = end_push(&l, true, ins, n);
            } else if (r == 1 && nmodel > 1) {
                model_pop(true);
                st = end_pop(&l, true);
            } else {
                st = tail_pop(&l);
                model_pop(false);
                rpops++;
            }
            assert_int_equal(st, COLL_OK);
            assert_int_equal(list_commit(&l), COLL_OK);
            list_close(&l);
        }
        assert_true(rpops > 500);
        assert_true(list_tail_hits() - hits > rpops * 9 / 10);
        while (nmodel > 0) { /* and the rest */
            tail_pop_one(key);
        }
    }
    /* pops of one tail part in a row are answered by the index */
    assert_true(list_tail_hits() - hits0 > 1000);
    list_max_listpack_size = -2;
}

/* The end part's new image is built in its store reservation; a
 * reservation that waits for memory ends the views the thread held, and the
 * part is read again. A small heap, filler strings written between the
 * list's pushes and pops so that reservations keep reaching the slow path:
 * every pop is the model's (a list that eviction takes whole answers
 * COLL_RETRY and starts again empty), and the re-read path runs. */
static void
test_list_splice_into_reservation_under_pressure(void **state)
{
    (void)state;
    seg_teardown();
    seg_start(&metrics, 4 * MiB, 64 * KiB);
    srand(4242);
    uint64_t rereads0 = list_part_rereads(), retried = 0;
    static uint8_t filler[1000];
    nmodel = 0;
    for (int op = 0; op < 40000; op++) {
        char fk[24];
        snprintf(fk, sizeof(fk), "f%d", op);
        memset(filler, 'a' + op % 26, sizeof(filler));
        struct storage_write w = {0};
        assert_int_equal(storage_set(0, fk, strlen(fk), filler, sizeof(filler),
                                 &w, NOW, NULL, NULL),
                STORAGE_OK);
        struct list l;
        coll_status_e st =
                list_open(&l, 0, "q", 1, true, KS_NOSTATS | LIST_ENDS, NOW);
        if (st == COLL_MISS) {
            nmodel = 0; /* evicted whole */
        } else {
            assert_int_equal(st, COLL_OK);
            assert_int_equal(l.count, nmodel);
        }
        if (nmodel > 0 && rand() % 3 == 0) {
            st = tail_pop(&l);
            model_pop(false);
        } else if (nmodel + 8 < MAXN) {
            size_t n = 1 + (size_t)rand() % 4;
            struct pack_elem ins[4];
            for (size_t j = 0; j < n; j++) {
                model[nmodel + j] = next_id + (uint32_t)j;
                ins[j] = (struct pack_elem){
                        keep[j], short_elem(keep[j], next_id + (uint32_t)j)};
            }
            next_id += (uint32_t)n;
            nmodel += n;
            st = end_push(&l, false, ins, n);
        } else {
            st = COLL_OK;
        }
        if (st == COLL_OK) {
            st = list_commit(&l);
        }
        list_close(&l);
        if (st == COLL_RETRY) { /* a part was evicted: the key went whole */
            retried++;
            nmodel = 0;
            continue;
        }
        assert_int_equal(st, COLL_OK);
    }
    assert_true(metric_counter(&metrics.seg_evict_item) > 0);
    assert_true(list_part_rereads() > rereads0);
    (void)retried;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(
                    test_list_against_model, setup, teardown),
            cmocka_unit_test_setup_teardown(
                    test_list_store_replaces_any_key, setup, teardown),
            cmocka_unit_test_setup_teardown(
                    test_list_commit_races_a_write, setup, teardown),
            cmocka_unit_test_setup_teardown(
                    test_list_ends_patch_root_in_place, setup, teardown),
            cmocka_unit_test_setup_teardown(
                    test_list_ends_against_model, setup, teardown),
            cmocka_unit_test_setup_teardown(
                    test_list_tail_index_against_model, setup, teardown),
            cmocka_unit_test_setup_teardown(
                    test_list_splice_into_reservation_under_pressure, setup,
                    teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
