/* SPDX-License-Identifier: Apache-2.0 */
/* Collections (processor/coll.h) against a model: random changes to a hash
 * and a set, with thresholds low enough that every conversion happens
 * (listpack -> hashtable, intset -> hashtable, inline -> parts, parts
 * growing), each checked element by element, by count and by a full walk
 * and a cursor scan; and several threads changing one hash and one set,
 * which must lose no update (run under TSan too). */
#include "unit.h"

#include "base/time.h"
#include "processor/coll.h"
#include "processor/keyspace.h"
#include "storage/seg/seg.h"
#include "storage/storage.h"

#include "seg_start.h"
#include "types/lhash.h"
#include "types/pack.h"
#include "types/types.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW   1700000000000ULL
#define NELEM 3000

static seg_metrics_st metrics;

static int
setup(void **state)
{
    (void)state;
    seg_start(&metrics, 32 * MiB, 256 * KiB);
    coll_limits = (struct coll_limits){16, 24, 32, 128, 64};
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    seg_teardown();
    coll_limits = (struct coll_limits){512, 64, 512, 128, 64};
    return 0;
}

/* the model: element i present with value version[i] (0: absent) */
static uint32_t version[NELEM];
static uint64_t present;

static size_t
elem_name(char *buf, uint32_t i, bool ints)
{
    if (ints && i < NELEM / 2) {
        return (size_t)snprintf(buf, 32, "%d", (int)i - NELEM / 4);
    }
    return (size_t)snprintf(buf, 32, "elem-%u", i);
}

static size_t
value_of(char *buf, uint32_t i, uint32_t v)
{
    /* some values pass the listpack value limit */
    return (size_t)snprintf(buf, 64, "v%u.%u%s", i, v,
            v % 5 == 0 ? "-a-long-value-past-24-bytes" : "");
}

struct walk {
    uint64_t n;
    bool hash;
    bool ints;
    uint8_t *seen;
};

static bool
walk_fn(const struct pack_elem *a, const struct pack_elem *b, void *arg)
{
    struct walk *w = arg;
    char name[32];
    /* which element this is: parse the name, then check it round-trips */
    char text[32];
    assert_true(a->len < sizeof(text));
    memcpy(text, a->p, a->len);
    text[a->len] = '\0';
    uint32_t i = text[0] == 'e'
                         ? (uint32_t)strtoul(text + 5, NULL, 10)
                         : (uint32_t)(strtol(text, NULL, 10) + NELEM / 4);
    assert_true(i < NELEM);
    size_t nn = elem_name(name, i, w->ints);
    assert_int_equal(nn, a->len);
    assert_memory_equal(name, a->p, nn);
    assert_true(version[i] != 0);
    if (w->hash) {
        char v[64];
        size_t vn = value_of(v, i, version[i]);
        assert_int_equal(b->len, vn);
        assert_memory_equal(b->p, v, vn);
    } else {
        assert_null(b);
    }
    w->seen[i]++;
    w->n++;
    return true;
}

static void
check_all(uint8_t type, bool ints)
{
    struct coll c;
    coll_status_e st = coll_open(&c, 0, "k", 1, type, false, KS_NOSTATS, NOW);
    if (present == 0) {
        assert_int_equal(st, COLL_MISS);
        coll_close(&c);
        return;
    }
    assert_int_equal(st, COLL_OK);
    assert_int_equal(coll_count(&c), present);
    char name[32];
    for (uint32_t i = 0; i < NELEM; i += 7) {
        size_t n = elem_name(name, i, ints);
        if (type == STORAGE_TYPE_HASH) {
            struct pack_elem v;
            st = coll_hash_get(&c, name, n, &v);
            assert_int_equal(st, version[i] ? COLL_OK : COLL_MISS);
        } else {
            st = coll_set_has(&c, name, n);
            assert_int_equal(st, version[i] ? COLL_OK : COLL_MISS);
        }
    }
    static uint8_t seen[NELEM];
    memset(seen, 0, sizeof(seen));
    struct walk w = {0, type == STORAGE_TYPE_HASH, ints, seen};
    assert_int_equal(coll_each(&c, walk_fn, &w), COLL_OK);
    assert_int_equal(w.n, present);
    /* a cursor scan reports every element at least once */
    memset(seen, 0, sizeof(seen));
    uint64_t cursor = 0, next;
    do {
        assert_int_equal(
                coll_scan(&c, cursor, 50, walk_fn, &w, &next), COLL_OK);
        cursor = next;
    } while (cursor != 0);
    for (uint32_t i = 0; i < NELEM; i++) {
        assert_int_equal(seen[i] != 0, version[i] != 0);
    }
    coll_close(&c);
}

static void
random_ops(uint8_t type, bool ints, unsigned seed, int nops)
{
    memset(version, 0, sizeof(version));
    present = 0;
    srand(seed);
    bool saw_parts = false, saw_table = false, saw_small = false;
    bool saw_shrink = false;
    uint32_t last_nparts = 0;
    for (int op = 0; op < nops; op++) {
        struct coll c;
        coll_status_e st =
                coll_open(&c, 0, "k", 1, type, true, KS_NOSTATS, NOW);
        assert_true(st == COLL_OK || st == COLL_MISS);
        saw_parts |= c.parts;
        saw_shrink |= c.parts && c.nparts < last_nparts;
        if (getenv("COLL_DEBUG") && op % 100 == 0) {
            fprintf(stderr, "op %d parts %d nparts %u bytes %lu count %lu\n",
                    op, c.parts, c.nparts, (unsigned long)c.bytes,
                    (unsigned long)c.count);
        }
        last_nparts = c.parts ? c.nparts : 0;
        saw_table |= c.enc == COLL_ENC_TABLE && !c.parts;
        saw_small |= c.enc != COLL_ENC_TABLE && c.exists;
        /* grow for most of the run, then shrink to nothing */
        bool shrink = op > nops * 2 / 3;
        int batch = 1 + rand() % 8;
        for (int b = 0; b < batch; b++) {
            uint32_t i = (uint32_t)rand() % NELEM;
            char name[32], v[64];
            size_t n = elem_name(name, i, ints);
            bool del = shrink ? rand() % 16 != 0 : rand() % 4 == 0;
            bool changed;
            if (del) {
                st = type == STORAGE_TYPE_HASH
                             ? coll_hash_del(&c, name, n, &changed)
                             : coll_set_rem(&c, name, n, &changed);
                assert_int_equal(st, COLL_OK);
                assert_int_equal(changed, version[i] != 0);
                present -= changed;
                version[i] = 0;
            } else if (type == STORAGE_TYPE_HASH) {
                uint32_t ver = (uint32_t)op + 1;
                size_t vn = value_of(v, i, ver);
                st = coll_hash_set(&c, name, n, v, vn, &changed);
                assert_int_equal(st, COLL_OK);
                assert_int_equal(changed, version[i] == 0);
                present += changed;
                version[i] = ver;
            } else {
                st = coll_set_add(&c, name, n, &changed);
                assert_int_equal(st, COLL_OK);
                assert_int_equal(changed, version[i] == 0);
                present += changed;
                version[i] = version[i] ? version[i] : 1;
            }
        }
        assert_int_equal(coll_count(&c), present);
        assert_int_equal(coll_commit(&c), COLL_OK);
        coll_close(&c);
        if (op % 97 == 0) {
            check_all(type, ints);
        }
        storage_quiescent();
    }
    check_all(type, ints);
    assert_true(saw_parts);
    assert_true(saw_shrink); /* deletions rewrote the parts into fewer */
    assert_true(saw_table);
    /* a set of strings is a hashtable from its first member, as Redis's */
    assert_true(saw_small == (type == STORAGE_TYPE_HASH || ints));
}

static void
test_hash_against_model(void **state)
{
    (void)state;
    random_ops(STORAGE_TYPE_HASH, false, 1, 4000);
}

static void
test_set_of_strings_against_model(void **state)
{
    (void)state;
    random_ops(STORAGE_TYPE_SET, false, 2, 4000);
}

static void
test_set_of_ints_against_model(void **state)
{
    (void)state;
    random_ops(STORAGE_TYPE_SET, true, 3, 4000);
}

static void
test_encoding_names(void **state)
{
    (void)state;
    struct coll c;
    bool added;
    struct storage_item it;
    coll_open(&c, 0, "s", 1, STORAGE_TYPE_SET, true, 0, NOW);
    coll_set_add(&c, "12", 2, &added);
    assert_int_equal(coll_commit(&c), COLL_OK);
    coll_close(&c);
    assert_int_equal(storage_get(0, "s", 1, NOW, &it), STORAGE_OK);
    assert_int_equal(it.type, STORAGE_TYPE_SET);
    assert_string_equal(coll_encoding_name(&it), "intset");
    coll_open(&c, 0, "h", 1, STORAGE_TYPE_HASH, true, 0, NOW);
    coll_hash_set(&c, "f", 1, "v", 1, &added);
    assert_int_equal(coll_commit(&c), COLL_OK);
    coll_close(&c);
    assert_int_equal(storage_get(0, "h", 1, NOW, &it), STORAGE_OK);
    assert_string_equal(coll_encoding_name(&it), "listpack");
    assert_int_equal(coll_open(&c, 0, "h", 1, STORAGE_TYPE_SET, false, 0, NOW),
            COLL_WRONGTYPE);
    coll_close(&c);
}

/* Threads adding disjoint members to one set and incrementing one hash
 * field: nothing lost. */
#define THREADS 4
#define PER     400

static void *
adder(void *arg)
{
    int t = (int)(intptr_t)arg;
    storage_thread_register();
    for (int i = 0; i < PER; i++) {
        char m[32];
        int n = snprintf(m, sizeof(m), "t%d-m%d", t, i);
        coll_status_e st;
        do {
            struct coll c;
            bool added;
            st = coll_open(&c, 0, "set", 3, STORAGE_TYPE_SET, true, 0, NOW);
            st = coll_set_add(&c, m, (size_t)n, &added);
            st = st == COLL_OK ? coll_commit(&c) : st;
            coll_close(&c);
        } while (st == COLL_RETRY);
        assert_int_equal(st, COLL_OK);
        do {
            struct coll c;
            bool added;
            struct pack_elem v;
            st = coll_open(&c, 0, "cnt", 3, STORAGE_TYPE_HASH, true, 0, NOW);
            long cur = 0;
            if (coll_hash_get(&c, "f", 1, &v) == COLL_OK) {
                char buf[32];
                memcpy(buf, v.p, v.len);
                buf[v.len] = '\0';
                cur = strtol(buf, NULL, 10);
            }
            char nb[32];
            int k = snprintf(nb, sizeof(nb), "%ld", cur + 1);
            st = coll_hash_set(&c, "f", 1, nb, (size_t)k, &added);
            st = st == COLL_OK ? coll_commit(&c) : st;
            coll_close(&c);
        } while (st == COLL_RETRY);
        assert_int_equal(st, COLL_OK);
        storage_quiescent();
    }
    storage_thread_unregister();
    return NULL;
}

/* Fills a hash with n padding fields, past the inline limit: in parts. */
static void
fill_hash(const char *key, int n)
{
    struct coll c;
    bool added;
    assert_int_equal(
            coll_open(&c, 0, key, strlen(key), STORAGE_TYPE_HASH, true, 0, NOW),
            COLL_MISS);
    for (int i = 0; i < n; i++) {
        char f[32];
        int k = snprintf(f, sizeof(f), "pad-%05d", i);
        assert_int_equal(
                coll_hash_set(&c, f, (size_t)k, "0123456789abcdef", 16, &added),
                COLL_OK);
    }
    assert_int_equal(coll_commit(&c), COLL_OK);
    assert_true(c.parts);
    coll_close(&c);
}

static void
test_threads_lose_no_update(void **state)
{
    (void)state;
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++) {
        pthread_create(&th[t], NULL, adder, (void *)(intptr_t)t);
    }
    for (int t = 0; t < THREADS; t++) {
        pthread_join(th[t], NULL);
    }
    struct coll c;
    assert_int_equal(
            coll_open(&c, 0, "set", 3, STORAGE_TYPE_SET, false, 0, NOW),
            COLL_OK);
    assert_int_equal(coll_count(&c), THREADS * PER);
    coll_close(&c);
    struct pack_elem v;
    assert_int_equal(
            coll_open(&c, 0, "cnt", 3, STORAGE_TYPE_HASH, false, 0, NOW),
            COLL_OK);
    assert_int_equal(coll_hash_get(&c, "f", 1, &v), COLL_OK);
    char want[32];
    int n = snprintf(want, sizeof(want), "%d", THREADS * PER);
    assert_int_equal(v.len, n);
    assert_memory_equal(v.p, want, (size_t)n);
    coll_close(&c);
}

/* The same threads with "cnt" in parts: most increments replace a value
 * by one of the same length, one store write each (the root stays), and
 * none is lost. */
static void
test_threads_lose_no_update_in_parts(void **state)
{
    fill_hash("cnt", 600);
    test_threads_lose_no_update(state);
}

static uint64_t
be_at(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

/* One change of key "h" (a field set or deleted) through the coll API. */
static bool
hash_change(const char *f, const char *v)
{
    struct coll c;
    bool done;
    coll_open(&c, 0, "h", 1, STORAGE_TYPE_HASH, true, 0, NOW);
    if (v != NULL) {
        coll_hash_set(&c, f, strlen(f), v, strlen(v), &done);
    } else {
        coll_hash_del(&c, f, strlen(f), &done);
    }
    assert_int_equal(coll_commit(&c), COLL_OK);
    coll_close(&c);
    return done;
}

/* A change in parts that leaves the root's id and parts as they were
 * writes its part only: the root keeps its CAS (its count and bytes are
 * patched in place when they move) and the change is counted on the key's
 * stripe, which WATCH reads; a split rewrites the root. */
static void
test_root_kept_on_same_length_change(void **state)
{
    (void)state;
    fill_hash("h", 600);
    struct storage_item it;
    assert_int_equal(storage_peek(0, "h", 1, NOW, &it), STORAGE_OK);
    assert_true(it.parts);
    uint64_t cas = it.cas, patch = metric_counter(&metrics.seg_patch);
    uint8_t head[COLL_ROOT_LEN];
    memcpy(head, it.value, COLL_ROOT_LEN);
    uint64_t bytes = be_at(head + 21, 8);
    uint32_t stripe = ks_stripe(0, "h", 1);
    uint64_t changes = ks_stripe_changes(stripe);
    struct coll c;
    struct pack_elem v;
    /* the same length: the root's bytes are as they were */
    assert_false(hash_change("pad-00007", "fedcba9876543210"));
    assert_int_equal(storage_peek(0, "h", 1, NOW, &it), STORAGE_OK);
    assert_int_equal(it.cas, cas);
    assert_memory_equal(it.value, head, COLL_ROOT_LEN);
    assert_int_equal(metric_counter(&metrics.seg_patch), patch);
    assert_int_equal(ks_stripe_changes(stripe), changes + 1);
    coll_open(&c, 0, "h", 1, STORAGE_TYPE_HASH, false, 0, NOW);
    assert_int_equal(coll_hash_get(&c, "pad-00007", 9, &v), COLL_OK);
    assert_int_equal(v.len, 16);
    assert_memory_equal(v.p, "fedcba9876543210", 16);
    assert_int_equal(coll_count(&c), 600);
    coll_close(&c);
    /* a shorter value: bytes patched, nothing else */
    assert_false(hash_change("pad-00007", "longer"));
    assert_int_equal(storage_peek(0, "h", 1, NOW, &it), STORAGE_OK);
    assert_int_equal(it.cas, cas);
    assert_memory_equal(it.value, head, COLL_ROOT_COUNT + 8);
    assert_int_equal(be_at(it.value + 21, 8), bytes - 10);
    assert_int_equal(metric_counter(&metrics.seg_patch), patch + 1);
    assert_int_equal(ks_stripe_changes(stripe), changes + 2);
    /* a new field, then its deletion: the count patched both ways */
    assert_true(hash_change("new-field", "v"));
    assert_int_equal(storage_peek(0, "h", 1, NOW, &it), STORAGE_OK);
    assert_int_equal(it.cas, cas);
    assert_int_equal(be_at(it.value + 13, 8), 601);
    assert_int_equal(ks_stripe_changes(stripe), changes + 3);
    coll_open(&c, 0, "h", 1, STORAGE_TYPE_HASH, false, 0, NOW);
    assert_int_equal(coll_count(&c), 601);
    assert_int_equal(coll_hash_get(&c, "new-field", 9, &v), COLL_OK);
    coll_close(&c);
    assert_true(hash_change("new-field", NULL));
    assert_int_equal(storage_peek(0, "h", 1, NOW, &it), STORAGE_OK);
    assert_int_equal(it.cas, cas);
    assert_int_equal(be_at(it.value + 13, 8), 600);
    assert_int_equal(be_at(it.value + 21, 8), bytes - 10);
    assert_int_equal(metric_counter(&metrics.seg_patch), patch + 3);
    /* growth until a part splits: the root is written anew */
    uint32_t nparts = (uint32_t)be_at(head + 8, 4);
    for (int i = 0; i < 10000 && be_at(it.value + 8, 4) == nparts; i++) {
        char f[32];
        snprintf(f, sizeof(f), "grow-%05d", i);
        assert_true(hash_change(f, "0123456789abcdef"));
        assert_int_equal(storage_peek(0, "h", 1, NOW, &it), STORAGE_OK);
    }
    assert_true(be_at(it.value + 8, 4) > nparts);
    assert_true(it.cas != cas);
}

/* A collection a warm restart kept from before the index: a root without
 * COLL_ROOT_INDEXED and parts that are plain packs. Readers find its
 * elements as they are; the first change rewrites it into ipack parts
 * under a new id and drops the old parts. */
static void
write_old_format(const char *key, uint8_t type, uint32_t n, uint32_t nparts)
{
    size_t klen = strlen(key);
    size_t stride = type == STORAGE_TYPE_HASH ? 2 : 1;
    uint8_t id[8] = {0, 0, 0, 0, 0, 0, 0x0d, 0x1d};
    uint64_t bytes = 0;
    for (uint32_t b = 0; b < nparts; b++) {
        uint8_t img[65536];
        size_t cnt = 0, off = 0;
        uint8_t body[65536];
        for (uint32_t i = 0; i < n; i++) {
            char m[32];
            size_t k = (size_t)snprintf(m, sizeof(m), "old-%u", i);
            if (lhash_bucket(types_hash(m, k), nparts) != b) {
                continue;
            }
            off += pack_elem_write(body + off, m, k);
            if (stride == 2) {
                off += pack_elem_write(body + off, "val", 3);
            }
            cnt += stride;
        }
        size_t h = pack_head_write(img, cnt);
        memcpy(img + h, body, off);
        uint8_t pk[64];
        size_t pn = ks_part_key(pk, key, klen, id, b);
        struct storage_write w = {.mode = STORAGE_SET};
        assert_int_equal(storage_set(0 | STORAGE_DB_PARTS, pk, pn, img, h + off,
                                 &w, NOW, NULL, NULL),
                STORAGE_OK);
        bytes += h + off;
    }
    uint8_t root[COLL_ROOT_LEN];
    memcpy(root, id, 8);
    types_be_put(root + 8, nparts, 4);
    root[12] = COLL_ENC_TABLE; /* no COLL_ROOT_INDEXED */
    types_be_put(root + 13, n, 8);
    types_be_put(root + 21, bytes, 8);
    struct storage_write w = {.mode = STORAGE_SET, .type = type, .parts = true};
    assert_int_equal(
            storage_set(0, key, klen, root, sizeof(root), &w, NOW, NULL, NULL),
            STORAGE_OK);
}

static bool
each_fn(const struct pack_elem *a, const struct pack_elem *b, void *arg)
{
    (void)a;
    (void)b;
    (*(uint64_t *)arg)++;
    return true;
}

static void
test_old_format_read_then_converted(void **state)
{
    (void)state;
    const uint32_t n = 500, nparts = 8;
    for (int t = 0; t < 2; t++) {
        uint8_t type = t == 0 ? STORAGE_TYPE_SET : STORAGE_TYPE_HASH;
        const char *key = t == 0 ? "olds" : "oldh";
        write_old_format(key, type, n, nparts);
        struct coll c;
        struct pack_elem v;
        coll_open(&c, 0, key, 4, type, false, 0, NOW);
        assert_true(c.parts);
        assert_false(c.indexed);
        assert_int_equal(coll_count(&c), n);
        uint64_t walked = 0;
        assert_int_equal(coll_each(&c, each_fn, &walked), COLL_OK);
        assert_int_equal(walked, n);
        for (uint32_t i = 0; i < n; i += 7) {
            char m[32];
            size_t k = (size_t)snprintf(m, sizeof(m), "old-%u", i);
            if (type == STORAGE_TYPE_SET) {
                assert_int_equal(coll_set_has(&c, m, k), COLL_OK);
            } else {
                assert_int_equal(coll_hash_get(&c, m, k, &v), COLL_OK);
                assert_int_equal(v.len, 3);
            }
        }
        assert_int_equal(type == STORAGE_TYPE_SET
                                 ? coll_set_has(&c, "new", 3)
                                 : coll_hash_get(&c, "new", 3, &v),
                COLL_MISS);
        coll_close(&c);
        /* the first change: into ipacks, the old parts dropped */
        bool added;
        coll_open(&c, 0, key, 4, type, true, 0, NOW);
        assert_int_equal(type == STORAGE_TYPE_SET
                                 ? coll_set_add(&c, "new", 3, &added)
                                 : coll_hash_set(&c, "new", 3, "v", 1, &added),
                COLL_OK);
        assert_true(added);
        assert_int_equal(coll_commit(&c), COLL_OK);
        coll_close(&c);
        uint8_t pk[64];
        uint8_t old_id[8] = {0, 0, 0, 0, 0, 0, 0x0d, 0x1d};
        for (uint32_t b = 0; b < nparts; b++) {
            size_t pn = ks_part_key(pk, key, 4, old_id, b);
            assert_int_equal(
                    storage_peek(0 | STORAGE_DB_PARTS, pk, pn, NOW, NULL),
                    STORAGE_NOT_FOUND);
        }
        coll_open(&c, 0, key, 4, type, false, 0, NOW);
        assert_true(c.indexed);
        assert_int_equal(coll_count(&c), n + 1);
        walked = 0;
        assert_int_equal(coll_each(&c, each_fn, &walked), COLL_OK);
        assert_int_equal(walked, n + 1);
        for (uint32_t i = 0; i < n; i++) {
            char m[32];
            size_t k = (size_t)snprintf(m, sizeof(m), "old-%u", i);
            assert_int_equal(type == STORAGE_TYPE_SET
                                     ? coll_set_has(&c, m, k)
                                     : coll_hash_get(&c, m, k, &v),
                    COLL_OK);
        }
        coll_close(&c);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(
                    test_hash_against_model, setup, teardown),
            cmocka_unit_test_setup_teardown(
                    test_set_of_strings_against_model, setup, teardown),
            cmocka_unit_test_setup_teardown(
                    test_set_of_ints_against_model, setup, teardown),
            cmocka_unit_test_setup_teardown(
                    test_encoding_names, setup, teardown),
            cmocka_unit_test_setup_teardown(
                    test_threads_lose_no_update, setup, teardown),
            cmocka_unit_test_setup_teardown(
                    test_threads_lose_no_update_in_parts, setup, teardown),
            cmocka_unit_test_setup_teardown(
                    test_root_kept_on_same_length_change, setup, teardown),
            cmocka_unit_test_setup_teardown(
                    test_old_format_read_then_converted, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
