/* SPDX-License-Identifier: Apache-2.0 */
/* Lists in the keyspace (processor/lcoll.h) against a model (an array of
 * element numbers): random inserts and deletes anywhere, by the cheap
 * splice of one part or by replacing a part, with elements up to 1.5 KiB so
 * the list goes from inline to parts within a few changes, parts split,
 * empty and are renumbered, then back to nothing; every version is walked
 * part by part and located index by index. list_store replaces a key of
 * any type, and a commit racing a plain write answers COLL_RETRY. */
#include "unit.h"

#include "base/time.h"
#include "processor/coll.h"
#include "processor/lcoll.h"
#include "storage/seg/seg.h"
#include "storage/storage.h"
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
    seg_options_st o = {SEG_OPTION(INIT_OPTION)};
    o.seg_memory.val.OPTION_SIZE = 64 * MiB;
    o.seg_segment_size.val.OPTION_SIZE = 256 * KiB;
    o.seg_background.val.OPTION_BOOL = false;
    metrics = (seg_metrics_st){SEG_METRIC(INIT_METRIC)};
    assert_int_equal(seg_setup(&o, &metrics), STATUS_OK);
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
check(void)
{
    struct list l;
    coll_status_e st = list_open(&l, 0, "l", 1, false, KS_NOSTATS, NOW);
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
