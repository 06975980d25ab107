/* SPDX-License-Identifier: Apache-2.0 */
/* Strings in parts (processor/keyspace_str.c) when memory runs out: a
 * change in place (SETRANGE, APPEND) that cannot be stored whole leaves the
 * value as it was. */
#include "unit.h"

#include "processor/keyspace.h"
#include "storage/seg/seg.h"

#include "seg_start.h"

#include <stdio.h>
#include <string.h>

#define NOW 1700000000000ULL

static seg_metrics_st metrics;

static void
start_none(void)
{
    /* policy none: a full store refuses writes */
    seg_start_evict(&metrics, 2 * MiB, 256 * KiB, "none");
}

static uint8_t value[4 * 16 * KiB];
static uint8_t back[sizeof(value) + 16 * KiB];
static uint8_t patch[24 * KiB];

/* The value at "v" read whole: its length, its bytes in back. */
static size_t
read_back(void)
{
    uint32_t s = ks_stripe(0, "v", 1);
    ks_lock(s);
    struct storage_item it;
    size_t len = 0;
    if (ks_lookup(0, "v", 1, STORAGE_TYPE_STRING, KS_RAW | KS_NOSTATS, NOW,
                &it) == KS_OK) {
        len = ks_str_len(&it);
        uint64_t got = 0;
        assert_true(len <= sizeof(back));
        assert_int_equal(ks_str_read_locked(0, "v", 1, 0, len, back, &got, NOW),
                STORAGE_OK);
        assert_int_equal(got, len);
    }
    ks_unlock(s);
    ks_scratch_release();
    return len;
}

/* A fresh store holding a value of four parts at "v" (in value), then
 * fillers of filler bytes: until the first refusal (upto < 0; returns how
 * many fitted), or upto of them. */
static int
fill_around(size_t filler, int upto)
{
    start_none();
    size_t vlen = 4 * ks_str_chunk();
    assert_true(vlen <= sizeof(value));
    for (size_t i = 0; i < vlen; i++) {
        value[i] = (uint8_t)('a' + i % 23);
    }
    struct storage_write w = {.mode = STORAGE_SET};
    assert_int_equal(
            ks_set(0, "v", 1, value, vlen, &w, NOW, NULL, NULL), STORAGE_OK);
    ks_scratch_release();
    struct storage_item it;
    assert_int_equal(storage_peek(0, "v", 1, NOW, &it), STORAGE_OK);
    assert_int_equal(it.type, STORAGE_TYPE_STRING_PARTS);
    static uint8_t fill[64 * KiB];
    memset(fill, 'f', sizeof(fill));
    int i = 0;
    for (; upto < 0 || i < upto; i++) {
        char key[16];
        int klen = snprintf(key, sizeof(key), "f%d", i);
        storage_status_e st = storage_set(
                0, key, (size_t)klen, fill, filler, &w, NOW, NULL, NULL);
        if (st != STORAGE_OK) {
            assert_int_equal(st, STORAGE_ENOMEM);
            assert_true(upto < 0);
            break;
        }
    }
    return i;
}

/* For filler values of many sizes, a store filled one filler short of its
 * first refusal around a value of four parts (so the open segment keeps
 * what the last filler left: a refused write seals it); then a SETRANGE
 * over two of its parts. Whatever room is left, the SETRANGE is stored
 * whole or not at all: before, with room for one part but not two, it
 * answered out of memory with the first part changed. */
static void
test_change_in_place_all_or_nothing(void **state)
{
    (void)state;
    int refused = 0, stored = 0;
    for (size_t filler = 30000; filler <= 62000; filler += 1000) {
        int fits = fill_around(filler, -1);
        seg_teardown();
        fill_around(filler, fits);
        size_t chunk = ks_str_chunk();
        size_t vlen = 4 * chunk;
        /* parts 0 and 1: from the middle of the first to past the second */
        size_t off = chunk / 2, n = chunk + chunk / 4;
        assert_true(n <= sizeof(patch));
        memset(patch, 'X', n);
        size_t newlen = 0;
        storage_status_e st =
                ks_setrange(0, "v", 1, off, patch, n, NOW, &newlen);
        ks_scratch_release();
        assert_true(st == STORAGE_OK || st == STORAGE_ENOMEM);
        assert_int_equal(read_back(), vlen);
        if (st == STORAGE_OK) {
            stored++;
            memcpy(value + off, patch, n);
        } else {
            refused++;
        }
        assert_memory_equal(back, value, vlen);
        /* an APPEND: its last part rewritten longer, a part added */
        memset(patch, 'Y', chunk);
        size_t alen = 0;
        st = ks_append(0, "v", 1, patch, chunk, STORAGE_APPEND,
                STORAGE_MISSING_FAIL, 0, NOW, &alen, NULL);
        ks_scratch_release();
        assert_true(st == STORAGE_OK || st == STORAGE_ENOMEM);
        size_t got = read_back();
        assert_int_equal(got, st == STORAGE_OK ? vlen + chunk : vlen);
        assert_memory_equal(back, value, vlen);
        if (st == STORAGE_OK) {
            assert_memory_equal(back + vlen, patch, chunk);
        }
        seg_teardown();
    }
    /* both outcomes were met: some fills left room for the change */
    assert_true(refused > 0 && stored > 0);
    print_message("setrange stored %d, refused %d\n", stored, refused);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_change_in_place_all_or_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
