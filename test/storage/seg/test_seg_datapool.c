/* SPDX-License-Identifier: Apache-2.0 */
/* The datapool (seg.datapool): a clean teardown keeps the store in its file
 * and the next setup takes it back whole (values, CAS, flags, expiry,
 * deletes, counts, databases); a crash, another layout or another file
 * start empty. */
#include "unit.h"

#include "base/time.h"
#include "storage/seg/seg.h"
#include "storage/storage.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NOW 1700000000000ULL /* injected clock, unix ms */
#define N   20000

static seg_metrics_st metrics;
static char dir[64];
static char path[128];

static void
setup_pool(size_t memory, const char *file)
{
    seg_options_st o = {SEG_OPTION(INIT_OPTION)};
    o.seg_memory.val.OPTION_SIZE = memory;
    o.seg_background.val.OPTION_BOOL = false;
    o.seg_open_max.val.OPTION_UINT = 4;
    o.seg_datapool.val.OPTION_STR = file;
    metrics = (seg_metrics_st){SEG_METRIC(INIT_METRIC)};
    assert_int_equal(seg_setup(&o, &metrics), STATUS_OK);
}

static int
each_setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/segcached-pool-XXXXXX");
    if (mkdtemp(dir) == NULL) {
        return -1;
    }
    snprintf(path, sizeof(path), "%s/store.pool", dir);
    return 0;
}

static int
each_teardown(void **state)
{
    (void)state;
    unlink(path);
    rmdir(dir);
    return 0;
}

static void
key_of(char *k, size_t cap, int i)
{
    snprintf(k, cap, "key:%06d", i);
}

/* N items in db 0 (every tenth with a TTL, flags i), one in db 7, every
 * hundredth deleted; returns the largest CAS handed out. */
static uint64_t
fill(void)
{
    uint64_t max_cas = 0;
    char k[32], v[64];
    for (int i = 0; i < N; i++) {
        key_of(k, sizeof(k), i);
        int n = snprintf(v, sizeof(v), "value-%d-%s", i, k);
        struct storage_write w = {
                .expiry = i % 10 == 0 ? NOW + 60000 : 0, .cflags = (uint32_t)i};
        uint64_t cas = 0;
        assert_int_equal(
                storage_set(0, k, strlen(k), v, (size_t)n, &w, NOW, NULL, &cas),
                STORAGE_OK);
        max_cas = cas > max_cas ? cas : max_cas;
    }
    for (int i = 0; i < N; i += 100) {
        key_of(k, sizeof(k), i);
        assert_int_equal(storage_delete(0, k, strlen(k), 0, NOW), STORAGE_OK);
    }
    struct storage_write w = {0};
    assert_int_equal(storage_set(7, "other", 5, "db7", 3, &w, NOW, NULL, NULL),
            STORAGE_OK);
    return max_cas;
}

static void
check(uint64_t now)
{
    char k[32], v[64];
    for (int i = 0; i < N; i++) {
        key_of(k, sizeof(k), i);
        struct storage_item it;
        storage_status_e s = storage_get(0, k, strlen(k), now, &it);
        if (i % 100 == 0 || (i % 10 == 0 && now >= NOW + 60000)) {
            assert_int_equal(s, STORAGE_NOT_FOUND);
            continue;
        }
        assert_int_equal(s, STORAGE_OK);
        int n = snprintf(v, sizeof(v), "value-%d-%s", i, k);
        assert_int_equal(it.vlen, (size_t)n);
        assert_memory_equal(it.value, v, (size_t)n);
        assert_int_equal(it.cflags, (uint32_t)i);
        assert_int_equal(it.expiry, i % 10 == 0 ? NOW + 60000 : TIME_NEVER);
    }
    struct storage_item it;
    assert_int_equal(storage_get(7, "other", 5, now, &it), STORAGE_OK);
    assert_memory_equal(it.value, "db7", 3);
}

static void
test_clean_restart_keeps_everything(void **state)
{
    (void)state;
    setup_pool(16 * MiB, path);
    uint64_t max_cas = fill();
    check(NOW + 1000);
    uint64_t count0 = storage_count(0), count7 = storage_count(7);
    struct storage_item before;
    assert_int_equal(
            storage_peek(0, "key:000001", 10, NOW, &before), STORAGE_OK);
    uint64_t cas1 = before.cas;
    seg_teardown();

    setup_pool(16 * MiB, path);
    assert_int_equal(storage_count(0), count0);
    assert_int_equal(storage_count(7), count7);
    check(NOW + 2000);
    struct storage_item after;
    assert_int_equal(
            storage_peek(0, "key:000001", 10, NOW, &after), STORAGE_OK);
    assert_int_equal(after.cas, cas1); /* gets tokens stay valid */
    check(NOW + 60000);                /* the TTL items expire on time */
    /* the store goes on: new CAS values above every old one, writes and
     * deletes as before */
    struct storage_write w = {0};
    uint64_t cas = 0;
    assert_int_equal(
            storage_set(0, "new", 3, "n", 1, &w, NOW + 3000, NULL, &cas),
            STORAGE_OK);
    assert_true(cas > max_cas);
    assert_int_equal(
            storage_delete(0, "key:000002", 10, 0, NOW + 3000), STORAGE_OK);
    seg_teardown();

    /* and a second restart again */
    setup_pool(16 * MiB, path);
    struct storage_item it;
    assert_int_equal(storage_get(0, "new", 3, NOW + 4000, &it), STORAGE_OK);
    assert_int_equal(storage_get(0, "key:000002", 10, NOW + 4000, &it),
            STORAGE_NOT_FOUND);
    assert_int_equal(
            storage_get(0, "key:000003", 10, NOW + 4000, &it), STORAGE_OK);
    seg_teardown();
}

static void
test_eviction_goes_on_after_restart(void **state)
{
    (void)state;
    setup_pool(4 * MiB, path);
    char k[32], v[200];
    memset(v, 'v', sizeof(v));
    struct storage_write w = {0};
    for (int i = 0; i < 40000; i++) { /* ~9 MB into 4 MiB: evicting */
        key_of(k, sizeof(k), i);
        assert_int_equal(
                storage_set(0, k, strlen(k), v, sizeof(v), &w, NOW, NULL, NULL),
                STORAGE_OK);
    }
    uint64_t held = storage_count(0);
    assert_true(held > 1000 && held < 40000);
    seg_teardown();
    setup_pool(4 * MiB, path);
    assert_int_equal(storage_count(0), held);
    struct storage_item it;
    key_of(k, sizeof(k), 39999);
    assert_int_equal(storage_get(0, k, strlen(k), NOW, &it), STORAGE_OK);
    for (int i = 40000; i < 80000; i++) {
        key_of(k, sizeof(k), i);
        assert_int_equal(
                storage_set(0, k, strlen(k), v, sizeof(v), &w, NOW, NULL, NULL),
                STORAGE_OK);
    }
    key_of(k, sizeof(k), 79999);
    assert_int_equal(storage_get(0, k, strlen(k), NOW, &it), STORAGE_OK);
    assert_true(storage_count(0) < 40000);
    seg_teardown();
}

static void
test_unclean_or_other_layout_starts_empty(void **state)
{
    (void)state;
    setup_pool(16 * MiB, path);
    fill();
    seg_teardown();
    /* another memory size: another layout, nothing taken */
    setup_pool(8 * MiB, path);
    assert_int_equal(storage_count(0), 0);
    struct storage_item it;
    assert_int_equal(
            storage_get(0, "key:000001", 10, NOW, &it), STORAGE_NOT_FOUND);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal((size_t)st.st_size, 4096 + 8 * MiB);
    fill();
    seg_teardown();
    /* a copy of the file taken while the store ran is not clean (a crash
     * looks the same): the next start ignores it */
    setup_pool(8 * MiB, path);
    assert_true(storage_count(0) > 0);
    char copy[160];
    snprintf(copy, sizeof(copy), "%s/copy.pool", dir);
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", path, copy);
    assert_int_equal(system(cmd), 0);
    seg_teardown();
    setup_pool(8 * MiB, copy);
    assert_int_equal(storage_count(0), 0);
    assert_int_equal(
            storage_get(0, "key:000001", 10, NOW, &it), STORAGE_NOT_FOUND);
    seg_teardown();
    unlink(copy);
    /* not a datapool at all */
    int fd = open(path, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "hello", 5), 5);
    close(fd);
    setup_pool(8 * MiB, path);
    assert_int_equal(storage_count(0), 0);
    seg_teardown();
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_clean_restart_keeps_everything,
                    each_setup, each_teardown),
            cmocka_unit_test_setup_teardown(test_eviction_goes_on_after_restart,
                    each_setup, each_teardown),
            cmocka_unit_test_setup_teardown(
                    test_unclean_or_other_layout_starts_empty, each_setup,
                    each_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
