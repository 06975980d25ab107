/* SPDX-License-Identifier: Apache-2.0 */
/* Whole-table reads (SCAN, KEYS, RANDOMKEY) cost what the keys cost, not
 * what seg.memory does (issue 23): the table's occupancy summary stays
 * exact through inserts, overwrites, deletes and flushes; a full scan of a
 * sparse 1 GiB table takes about keys / count calls and reports every key;
 * and keys present for a whole scan are reported while other threads
 * insert and delete around them. */
#include "unit.h"

#include "base/time.h"
#include "storage/seg/seg.h"
#include "storage/seg/seg_internal.h"
#include "storage/storage.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW 1700000000000ULL

static seg_metrics_st metrics;

static int
setup_memory(size_t memory)
{
    seg_options_st o = {SEG_OPTION(INIT_OPTION)};
    o.seg_memory.val.OPTION_SIZE = memory;
    o.seg_background.val.OPTION_BOOL = false;
    metrics = (seg_metrics_st){SEG_METRIC(INIT_METRIC)};
    return seg_setup(&o, &metrics) == STATUS_OK ? 0 : -1;
}

/* 1 GiB of mostly empty table: mapped lazily, only what is touched. */
static int
group_setup(void **state)
{
    (void)state;
    return setup_memory(1024 * MiB);
}

static int
group_teardown(void **state)
{
    (void)state;
    seg_teardown();
    return 0;
}

static int
each_setup(void **state)
{
    (void)state;
    storage_flush(STORAGE_DB_ALL, 0, NOW);
    return 0;
}

static void
put(uint8_t db, const char *key)
{
    struct storage_write w = {0};
    assert_int_equal(
            storage_set(db, key, strlen(key), "v", 1, &w, NOW, NULL, NULL),
            STORAGE_OK);
}

static void
del(uint8_t db, const char *key)
{
    assert_int_equal(storage_delete(db, key, strlen(key), 0, NOW), STORAGE_OK);
}

struct db_count {
    uint32_t n[STORAGE_DB_COUNT];
};

static void
db_visit(uint64_t v, void *arg)
{
    struct db_count *dc = arg;
    uint32_t sid = hash_val_sid(v);
    const struct seg *s = &heap.segs[sid];
    struct item_meta m;
    uint32_t off = hash_val_off(v);
    item_decode(seg_data(sid) + off, seg_cas_at(s, off), s->exp_base, &m);
    if (m.db < STORAGE_DB_COUNT) { /* parts count nowhere */
        dc->n[m.db]++;
    }
}

/* Every database's summary says, for every range of 16 head buckets, how
 * many of its entries a walk of those chains finds. Returns the entries
 * walked in all. */
static uint64_t
summary_exact(void)
{
    uint64_t all = 0;
    for (uint32_t g = 0; g < heap.n_bucket; g += 16) {
        struct db_count dc = {{0}};
        for (uint32_t b = g; b < g + 16 && b < heap.n_bucket; b++) {
            hash_visit_bucket(b, db_visit, &dc);
        }
        for (uint8_t db = 0; db < STORAGE_DB_COUNT; db++) {
            assert_int_equal(hash_summary_range(db, g), dc.n[db]);
            all += dc.n[db];
        }
    }
    uint64_t summed = 0;
    for (uint8_t db = 0; db < STORAGE_DB_COUNT; db++) {
        summed += hash_summary_entries(db);
    }
    assert_int_equal(summed, all);
    return all;
}

struct seen {
    uint8_t *hit; /* per key index */
    size_t nkey;
    size_t calls;
    size_t items;
    size_t max_per_call;
    size_t this_call;
    const char *prefix;
};

static void
seen_item(const struct storage_item *it, void *arg)
{
    struct seen *s = arg;
    size_t plen = strlen(s->prefix);
    s->items++;
    s->this_call++;
    if (it->klen > plen && memcmp(it->key, s->prefix, plen) == 0) {
        char digits[16] = {0};
        memcpy(digits, (const char *)it->key + plen, it->klen - plen);
        size_t i = strtoul(digits, NULL, 10);
        if (i < s->nkey) {
            s->hit[i] = 1;
        }
    }
}

static void
full_scan(uint8_t db, size_t count, struct seen *s)
{
    uint64_t cursor = 0;
    do {
        s->this_call = 0;
        cursor = storage_scan(db, cursor, count, NOW, seen_item, s);
        s->calls++;
        if (s->this_call > s->max_per_call) {
            s->max_per_call = s->this_call;
        }
    } while (cursor != 0);
}

static void
test_issue_23_summary_counts_entries_per_db(void **state)
{
    (void)state;
    char key[32];
    assert_int_equal(summary_exact(), 0);
    for (int i = 0; i < 3000; i++) {
        snprintf(key, sizeof(key), "key:%d", i);
        put(i % 3 == 0 ? 1 : 0, key);
    }
    assert_int_equal(summary_exact(), 3000);
    assert_int_equal(hash_summary_entries(1), 1000);
    assert_int_equal(hash_summary_entries(0), 2000);
    for (int i = 0; i < 3000; i += 2) { /* overwrites move nothing */
        snprintf(key, sizeof(key), "key:%d", i);
        put(i % 3 == 0 ? 1 : 0, key);
    }
    assert_int_equal(summary_exact(), 3000);
    for (int i = 0; i < 3000; i += 3) {
        snprintf(key, sizeof(key), "key:%d", i);
        del(1, key);
    }
    assert_int_equal(summary_exact(), 2000);
    assert_int_equal(hash_summary_entries(1), 0);
    assert_int_equal(storage_flush(0, 0, NOW), STORAGE_OK);
    assert_int_equal(summary_exact(), 0);
}

static void
test_issue_23_scan_calls_follow_keys(void **state)
{
    (void)state;
    enum {
        NKEY = 1000
    };
    uint8_t hit[NKEY] = {0};
    struct seen s = {.hit = hit, .nkey = NKEY, .prefix = "user:"};
    full_scan(0, 10, &s); /* an empty table: one call */
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.items, 0);
    char key[32];
    for (int i = 0; i < NKEY; i++) {
        snprintf(key, sizeof(key), "user:%d", i);
        put(0, key);
    }
    memset(&s, 0, sizeof(s));
    s = (struct seen){.hit = hit, .nkey = NKEY, .prefix = "user:"};
    full_scan(0, 10, &s);
    for (int i = 0; i < NKEY; i++) {
        assert_int_equal(hit[i], 1);
    }
    /* about keys / COUNT calls however large the table (before: one call
     * per two head buckets, 430 thousand calls for this table) */
    assert_true(heap.n_bucket > 500000);
    assert_true(s.calls >= NKEY / 20);
    assert_true(s.calls <= NKEY / 10 + 10);
    assert_true(s.max_per_call <= 10 + 2 * HASH_SLOTS);
    assert_int_equal(s.items, NKEY); /* no concurrent change: each once */
    /* another database's keys are not reported, and cost little */
    memset(hit, 0, sizeof(hit));
    s = (struct seen){.hit = hit, .nkey = NKEY, .prefix = "user:"};
    full_scan(5, 10, &s);
    assert_int_equal(s.items, 0);
    assert_int_equal(s.calls, 1); /* its summary is empty */
}

/* A database with a few keys beside a full one: its SCAN takes the calls
 * its own keys take (Redis keeps a table per database), and RANDOMKEY
 * finds its keys (before the summary per database, 692 SCAN calls for 10
 * keys beside 100,000, and RANDOMKEY walked the other keys). */
static void
test_issue_23_scan_a_small_db_beside_a_full_one(void **state)
{
    (void)state;
    enum {
        NKEY = 10,
        OTHER = 20000
    };
    char key[32];
    for (int i = 0; i < OTHER; i++) {
        snprintf(key, sizeof(key), "bulk:%d", i);
        put(0, key);
    }
    for (int i = 0; i < NKEY; i++) {
        snprintf(key, sizeof(key), "few:%d", i);
        put(1, key);
    }
    uint8_t hit[NKEY] = {0};
    struct seen s = {.hit = hit, .nkey = NKEY, .prefix = "few:"};
    full_scan(1, 10, &s);
    for (int i = 0; i < NKEY; i++) {
        assert_int_equal(hit[i], 1);
    }
    assert_int_equal(s.items, NKEY);
    assert_true(s.calls <= 2);
    struct storage_item it;
    for (int i = 0; i < 100; i++) {
        assert_int_equal(storage_random_key(1, NOW, &it), STORAGE_OK);
        assert_true(it.klen > 4 && memcmp(it.key, "few:", 4) == 0);
    }
    /* and the other way round: the full one's scan is its own keys' */
    uint8_t *bulk = calloc(OTHER, 1);
    assert_non_null(bulk);
    s = (struct seen){.hit = bulk, .nkey = OTHER, .prefix = "bulk:"};
    full_scan(0, 100, &s);
    for (int i = 0; i < OTHER; i++) {
        assert_int_equal(bulk[i], 1);
    }
    assert_int_equal(s.items, OTHER);
    assert_true(s.calls <= OTHER / 100 + 10);
    free(bulk);
    assert_int_equal(summary_exact(), OTHER + NKEY);
}

static void
test_issue_23_random_key_in_a_sparse_table(void **state)
{
    (void)state;
    struct storage_item it;
    assert_int_equal(storage_random_key(0, NOW, &it), STORAGE_NOT_FOUND);
    put(3, "only");
    assert_int_equal(storage_random_key(0, NOW, &it), STORAGE_NOT_FOUND);
    for (int i = 0; i < 50; i++) {
        assert_int_equal(storage_random_key(3, NOW, &it), STORAGE_OK);
        assert_int_equal(it.klen, 4);
        assert_memory_equal(it.key, "only", 4);
    }
    put(3, "other");
    int only = 0, other = 0;
    for (int i = 0; i < 200; i++) {
        assert_int_equal(storage_random_key(3, NOW, &it), STORAGE_OK);
        only += it.klen == 4;
        other += it.klen == 5;
    }
    assert_int_equal(only + other, 200);
    assert_true(only > 0 && other > 0); /* both can come */
}

/* ---- concurrent churn around stable keys ---- */

#define STABLE 2000
#define CHURN  4000

static volatile int stop_churn;

static void *
churn_main(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    char key[32];
    assert_int_equal(storage_thread_register(), STATUS_OK);
    for (unsigned n = 0; !__atomic_load_n(&stop_churn, __ATOMIC_RELAXED); n++) {
        int i = rand_r(&seed) % CHURN;
        snprintf(key, sizeof(key), "tmp:%d", i);
        struct storage_write w = {0};
        if (rand_r(&seed) % 2) {
            storage_set(
                    0, key, strlen(key), "x", 1, &w, time_now_ms(), NULL, NULL);
        } else {
            storage_delete(0, key, strlen(key), 0, time_now_ms());
        }
        if (n % 8 == 7) {
            storage_quiescent();
        }
    }
    storage_thread_unregister();
    return NULL;
}

static void
test_issue_23_scan_under_churn(void **state)
{
    (void)state;
    char key[32];
    for (int i = 0; i < STABLE; i++) {
        snprintf(key, sizeof(key), "stable:%d", i);
        put(0, key);
    }
    assert_int_equal(storage_thread_register(), STATUS_OK);
    pthread_t t[2];
    __atomic_store_n(&stop_churn, 0, __ATOMIC_RELAXED);
    for (uintptr_t i = 0; i < 2; i++) {
        assert_int_equal(
                pthread_create(&t[i], NULL, churn_main, (void *)(i + 1)), 0);
    }
    static uint8_t hit[STABLE];
    for (int round = 0; round < 5; round++) {
        memset(hit, 0, sizeof(hit));
        struct seen s = {.hit = hit, .nkey = STABLE, .prefix = "stable:"};
        uint64_t cursor = 0;
        do {
            cursor = storage_scan(0, cursor, 10, time_now_ms(), seen_item, &s);
            storage_quiescent();
        } while (cursor != 0);
        for (int i = 0; i < STABLE; i++) {
            assert_int_equal(hit[i], 1);
        }
    }
    __atomic_store_n(&stop_churn, 1, __ATOMIC_RELAXED);
    for (int i = 0; i < 2; i++) {
        pthread_join(t[i], NULL);
    }
    storage_thread_unregister();
    summary_exact();
}

/* A dense small table: the summary skips nothing and costs nothing. */
static void
test_issue_23_scan_dense_table(void **state)
{
    (void)state;
    seg_teardown();
    assert_int_equal(setup_memory(4 * MiB), 0);
    enum {
        NKEY = 8000
    };
    static uint8_t hit[NKEY];
    char key[32];
    size_t stored = 0;
    for (int i = 0; i < NKEY; i++) {
        snprintf(key, sizeof(key), "d:%d", i);
        struct storage_write w = {0};
        if (storage_set(0, key, strlen(key), "v", 1, &w, NOW, NULL, NULL) ==
                STORAGE_OK) {
            stored++;
        }
    }
    assert_true(stored >= storage_count(0));
    assert_int_equal(summary_exact(), storage_count(0));
    struct seen s = {.hit = hit, .nkey = NKEY, .prefix = "d:"};
    full_scan(0, 100, &s);
    assert_int_equal(s.items, storage_count(0));
    assert_true(s.calls <= storage_count(0) / 100 + 10);
    seg_teardown();
    assert_int_equal(setup_memory(1024 * MiB), 0);
}

/* Eviction, merge and compaction move and drop entries through their own
 * paths (location swaps, the hash table's coldest-entry eviction): every
 * database's summary stays exact through them, and a scan of each database
 * reports its items and nothing else. */
static void
test_issue_23_summary_exact_through_eviction(void **state)
{
    (void)state;
    seg_teardown();
    assert_int_equal(setup_memory(4 * MiB), 0);
    char key[32], val[100];
    memset(val, 'v', sizeof(val));
    for (int i = 0; i < 100000; i++) {
        snprintf(key, sizeof(key), "e:%d", i);
        struct storage_write w = {0};
        uint8_t db = (uint8_t)(i % 3);
        storage_set(db, key, strlen(key), val,
                (size_t)(1 + i % (int)sizeof(val)), &w, NOW, NULL, NULL);
        if (i % 7 == 0) { /* and some deletes and overwrites */
            snprintf(key, sizeof(key), "e:%d", i / 2);
            storage_delete((uint8_t)((i / 2) % 3), key, strlen(key), 0, NOW);
        }
        if (i % 1000 == 999) {
            storage_maintain(NOW);
        }
    }
    assert_true(metric_counter(&metrics.seg_evict_item) +
                        metric_counter(&metrics.seg_merge) +
                        metric_counter(&metrics.seg_compact_item) >
                0);
    uint64_t all = summary_exact();
    assert_int_equal(
            all, storage_count(0) + storage_count(1) + storage_count(2));
    for (uint8_t db = 0; db < 4; db++) {
        struct seen s = {.prefix = "e:"};
        full_scan(db, 50, &s);
        assert_int_equal(s.items, storage_count(db));
    }
    seg_teardown();
    assert_int_equal(setup_memory(1024 * MiB), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup(
                    test_issue_23_summary_counts_entries_per_db, each_setup),
            cmocka_unit_test_setup(
                    test_issue_23_scan_calls_follow_keys, each_setup),
            cmocka_unit_test_setup(
                    test_issue_23_scan_a_small_db_beside_a_full_one,
                    each_setup),
            cmocka_unit_test_setup(
                    test_issue_23_random_key_in_a_sparse_table, each_setup),
            cmocka_unit_test_setup(test_issue_23_scan_under_churn, each_setup),
            cmocka_unit_test_setup(test_issue_23_scan_dense_table, each_setup),
            cmocka_unit_test_setup(
                    test_issue_23_summary_exact_through_eviction, each_setup),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
