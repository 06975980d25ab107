/* SPDX-License-Identifier: Apache-2.0 */
/* The keyspace path (processor/keyspace.h) seen through both processors,
 * over a small store with an injected clock. Keys of other types are made
 * with storage_set directly (no collection commands exist here): a small
 * hash (one typed item) and a root of parts (a typed root plus part items
 * in db | STORAGE_DB_PARTS). Redis string commands answer Redis 7.0.15's
 * WRONGTYPE bytes, generic commands work on every type, keyspace hits and
 * misses follow Redis's lookupKeyRead rule, a root's parts follow it
 * through delete, expiry, rename, copy and overwrite, and the memcache
 * protocols (text, meta, binary) see another type as a key without a
 * readable value. */
#include "unit.h"

#include "proc_harness.h"

#include "processor/keyspace.h"
#include "processor/memcache_internal.h"
#include "processor/resp_internal.h"
#include "storage/seg/seg.h"

#include "base/buf.h"
#include "base/time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW 1700000000000ULL /* injected clock, unix ms */
#define WRONGTYPE                                                              \
    "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"

static seg_metrics_st seg_metrics;
static proc_resp_metrics_st resp_metrics;
static memcache_parse_metrics_st parse_metrics;
static proc_memcache_metrics_st mc_metrics_st;
static const struct proc_limits limits = {
        .rbuf_max = 4 * MiB, .wbuf_high = 1 * MiB, .wbuf_max = 64 * MiB};

static int
group_setup(void **state)
{
    (void)state;
    resp_metrics = (proc_resp_metrics_st){PROC_RESP_METRIC(INIT_METRIC)};
    parse_metrics =
            (memcache_parse_metrics_st){MEMCACHE_PARSE_METRIC(INIT_METRIC)};
    mc_metrics_st =
            (proc_memcache_metrics_st){PROC_MEMCACHE_METRIC(INIT_METRIC)};
    if (harness_store_setup(16 * MiB, &seg_metrics) != STATUS_OK ||
            metric_init((struct metric *)&resp_metrics,
                    METRIC_CARDINALITY(resp_metrics)) != STATUS_OK ||
            metric_init((struct metric *)&mc_metrics_st,
                    METRIC_CARDINALITY(mc_metrics_st)) != STATUS_OK) {
        return -1;
    }
    resp_setup(NULL, NULL);
    memcache_parse_setup(NULL, &parse_metrics);
    proc_memcache_setup(&mc_metrics_st, NULL);
    return proc_resp_setup(NULL, &resp_metrics, NULL) == STATUS_OK ? 0 : -1;
}

static int
group_teardown(void **state)
{
    (void)state;
    proc_resp_teardown();
    resp_teardown();
    proc_memcache_teardown();
    memcache_parse_teardown();
    metric_deinit(
            (struct metric *)&resp_metrics, METRIC_CARDINALITY(resp_metrics));
    metric_deinit(
            (struct metric *)&mc_metrics_st, METRIC_CARDINALITY(mc_metrics_st));
    seg_teardown();
    return 0;
}

static int
flush_each(void **state)
{
    (void)state;
    assert_int_equal(storage_flush(STORAGE_DB_ALL, NOW, NOW), STORAGE_OK);
    return 0;
}

/* ---- driving the processors ---- */

static void
send_to(const struct processor *p, struct conn *c, const char *req, size_t n,
        char *out, size_t cap)
{
    assert_int_equal(harness_feed(p, &limits, c, req, n), STATUS_OK);
    harness_replies(c, out, cap);
}

/* One request on a fresh connection of processor p; the reply in out. */
static const char *
ask(const struct processor *p, const char *req, char *out, size_t cap)
{
    struct conn c;
    harness_open(&c, 7, NOW);
    send_to(p, &c, req, strlen(req), out, cap);
    harness_close(p, &c);
    return out;
}

static void
expect_resp(const char *req, const char *reply)
{
    char out[4096];
    assert_string_equal(ask(&proc_resp, req, out, sizeof(out)), reply);
}

static void
expect_mc(const char *req, const char *reply)
{
    char out[4096];
    assert_string_equal(ask(&proc_memcache, req, out, sizeof(out)), reply);
}

/* ---- keys of other types, made by hand ---- */

static void
make_hash(uint8_t db, const char *key)
{
    struct storage_write w = {.type = STORAGE_TYPE_HASH};
    assert_int_equal(
            storage_set(db, key, strlen(key), "f\0v", 3, &w, NOW, NULL, NULL),
            STORAGE_OK);
}

/* A root of n parts "p0" .. with expiry; its id in id. */
static void
make_root(
        uint8_t db, const char *key, uint32_t n, uint64_t expiry, uint8_t id[8])
{
    size_t klen = strlen(key);
    uint8_t pk[300];
    ks_new_id(id);
    for (uint32_t i = 0; i < n; i++) {
        char v[16];
        int vl = snprintf(v, sizeof(v), "p%u", i);
        size_t pl = ks_part_key(pk, key, klen, id, i);
        struct storage_write w = {.type = STORAGE_TYPE_HASH, .expiry = expiry};
        assert_int_equal(storage_set(db | STORAGE_DB_PARTS, pk, pl, v,
                                 (size_t)vl, &w, NOW, NULL, NULL),
                STORAGE_OK);
    }
    uint8_t root[KS_ROOT_HDR + 1];
    memcpy(root, id, 8);
    root[8] = (uint8_t)(n >> 24);
    root[9] = (uint8_t)(n >> 16);
    root[10] = (uint8_t)(n >> 8);
    root[11] = (uint8_t)n;
    root[12] = 'x';
    struct storage_write w = {
            .type = STORAGE_TYPE_HASH, .parts = true, .expiry = expiry};
    assert_int_equal(
            storage_set(db, key, klen, root, sizeof(root), &w, NOW, NULL, NULL),
            STORAGE_OK);
}

/* How many of parts 0 .. n-1 of (db, key, id) are live; each live one's
 * expiry must be expiry. */
static uint32_t
parts_live(uint8_t db, const char *key, const uint8_t id[8], uint32_t n,
        uint64_t expiry)
{
    uint32_t live = 0;
    uint8_t pk[300];
    for (uint32_t i = 0; i < n; i++) {
        struct storage_item it;
        size_t pl = ks_part_key(pk, key, strlen(key), id, i);
        if (storage_peek(db | STORAGE_DB_PARTS, pk, pl, NOW, &it) ==
                STORAGE_OK) {
            char v[16];
            int vl = snprintf(v, sizeof(v), "p%u", i);
            assert_int_equal(it.vlen, (size_t)vl);
            assert_memory_equal(it.value, v, it.vlen);
            assert_int_equal(it.expiry, expiry);
            live++;
        }
    }
    return live;
}

/* The id of the root at (db, key); false if there is none. */
static bool
root_id(uint8_t db, const char *key, uint8_t id[8])
{
    struct storage_item it;
    if (storage_peek(db, key, strlen(key), NOW, &it) != STORAGE_OK ||
            !it.parts) {
        return false;
    }
    memcpy(id, it.value, 8);
    assert_int_equal(ks_root_nparts(&it), 3);
    assert_int_equal(it.type, STORAGE_TYPE_HASH);
    return true;
}

static bool
live(uint8_t db, const char *key, struct storage_item *it)
{
    return storage_peek(db, key, strlen(key), NOW, it) == STORAGE_OK;
}

/* ---- Redis: string commands on another type ---- */

static void
test_resp_string_commands_wrongtype(void **state)
{
    (void)state;
    static const char *const reqs[] = {"GET h\r\n", "GETRANGE h 0 1\r\n",
            "SUBSTR h 0 1\r\n", "STRLEN h\r\n", "APPEND h x\r\n", "INCR h\r\n",
            "INCRBY h 2\r\n", "DECR h\r\n", "DECRBY h 1\r\n",
            "INCRBYFLOAT h 1.5\r\n", "INCRBYFLOAT h abc\r\n",
            "SETRANGE h 0 x\r\n",
            "*4\r\n$8\r\nSETRANGE\r\n$1\r\nh\r\n$1\r\n0\r\n$0\r\n\r\n",
            "SETRANGE h 600000000 x\r\n", "GETSET h 1\r\n", "GETDEL h\r\n",
            "GETEX h\r\n", "GETEX h EX 10\r\n", "GETEX h EX -5\r\n",
            "SET h 1 GET\r\n", "SET h 1 NX GET\r\n", "SET h 1 XX GET\r\n"};
    make_hash(0, "h");
    for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
        expect_resp(reqs[i], WRONGTYPE);
    }
    /* nothing changed it */
    struct storage_item it;
    assert_true(live(0, "h", &it));
    assert_int_equal(it.type, STORAGE_TYPE_HASH);
    assert_int_equal(it.expiry, TIME_NEVER);
    /* the argument errors Redis checks first stay first */
    expect_resp("INCRBY h abc\r\n",
            "-ERR value is not an integer or out of range\r\n");
    expect_resp("SETRANGE h -1 x\r\n", "-ERR offset is out of range\r\n");
    expect_resp("SET h 1 GET EX -1\r\n",
            "-ERR invalid expire time in 'set' command\r\n");
    /* GETEX on a missing key is null whatever the time says */
    expect_resp("GETEX nx EX -5\r\n", "$-1\r\n");
    /* MGET: another type is null; the NX forms see an existing key */
    expect_resp("SET s 1\r\n", "+OK\r\n");
    expect_resp("MGET s h nx\r\n", "*3\r\n$1\r\n1\r\n$-1\r\n$-1\r\n");
    expect_resp("MSETNX h 1 q 2\r\n", ":0\r\n");
    expect_resp("SETNX h 1\r\n", ":0\r\n");
    expect_resp("SET h 1 NX\r\n", "$-1\r\n");
    expect_resp("TYPE h\r\n", "+hash\r\n");
    /* SET without GET replaces any type */
    expect_resp("SET h 1\r\n", "+OK\r\n");
    expect_resp("TYPE h\r\n", "+string\r\n");
    expect_resp("GET h\r\n", "$1\r\n1\r\n");
}

/* ---- Redis: generic commands on every type ---- */

static void
test_resp_generic_commands_any_type(void **state)
{
    (void)state;
    make_hash(0, "h");
    expect_resp("SET s v\r\n", "+OK\r\n");
    expect_resp("TYPE h\r\n", "+hash\r\n");
    expect_resp("TYPE s\r\n", "+string\r\n");
    expect_resp("TYPE nx\r\n", "+none\r\n");
    expect_resp("EXISTS h s nx\r\n", ":2\r\n");
    expect_resp("TOUCH h nx\r\n", ":1\r\n");
    expect_resp("OBJECT ENCODING h\r\n", "$9\r\nhashtable\r\n");
    expect_resp("OBJECT REFCOUNT h\r\n", ":1\r\n");
    expect_resp("TTL h\r\n", ":-1\r\n");
    expect_resp("EXPIRE h 100\r\n", ":1\r\n");
    expect_resp("TTL h\r\n", ":100\r\n");
    expect_resp("PEXPIRETIME h\r\n", ":1700000100000\r\n");
    expect_resp("EXPIRE h 50 GT\r\n", ":0\r\n");
    expect_resp("PERSIST h\r\n", ":1\r\n");
    expect_resp("PTTL h\r\n", ":-1\r\n");
    /* SCAN .. TYPE filters by type, by any case; an unknown type is empty */
    expect_resp("SCAN 0 TYPE hash COUNT 1000\r\n",
            "*2\r\n$1\r\n0\r\n*1\r\n$1\r\nh\r\n");
    expect_resp("SCAN 0 TYPE STRING COUNT 1000\r\n",
            "*2\r\n$1\r\n0\r\n*1\r\n$1\r\ns\r\n");
    expect_resp("SCAN 0 TYPE foo COUNT 1000\r\n", "*2\r\n$1\r\n0\r\n*0\r\n");
    expect_resp("RENAME h h2\r\n", "+OK\r\n");
    expect_resp("TYPE h2\r\n", "+hash\r\n");
    expect_resp("RENAMENX s h2\r\n", ":0\r\n");
    expect_resp("COPY h2 h3\r\n", ":1\r\n");
    expect_resp("COPY h2 h3\r\n", ":0\r\n");
    expect_resp("TYPE h3\r\n", "+hash\r\n");
    expect_resp("DEL h2 h3 s\r\n", ":3\r\n");
}

/* RANDOMKEY and KEYS list keys of every type. */
static void
test_resp_keys_randomkey_any_type(void **state)
{
    (void)state;
    make_hash(0, "h");
    expect_resp("RANDOMKEY\r\n", "$1\r\nh\r\n");
    expect_resp("KEYS *\r\n", "*1\r\n$1\r\nh\r\n");
    expect_resp("DBSIZE\r\n", ":1\r\n");
    expect_resp("UNLINK h\r\n", ":1\r\n");
    expect_resp("EXISTS h\r\n", ":0\r\n");
}

/* ---- Redis: keyspace hits and misses ---- */

/* Each command and what it moved keyspace_hits and keyspace_misses by in
 * Redis 7.0.15 (redis-server, INFO stats before and after each, same
 * keys: s a string, h a hash). */
static const struct {
    const char *req;
    uint64_t hits;
    uint64_t misses;
} lookups[] = {
        {"GET s\r\n", 1, 0},
        {"GET nx\r\n", 0, 1},
        {"GET h\r\n", 1, 0},
        {"MGET s nx h\r\n", 2, 1},
        {"EXISTS s nx h\r\n", 2, 1},
        {"TYPE s\r\n", 1, 0},
        {"TYPE nx\r\n", 0, 1},
        {"TYPE h\r\n", 1, 0},
        {"TTL s\r\n", 1, 0},
        {"PTTL nx\r\n", 0, 1},
        {"EXPIRETIME h\r\n", 1, 0},
        {"PEXPIRETIME s\r\n", 1, 0},
        {"STRLEN s\r\n", 1, 0},
        {"STRLEN h\r\n", 1, 0},
        {"GETRANGE s 0 1\r\n", 1, 0},
        {"SUBSTR s 0 1\r\n", 1, 0},
        {"TOUCH s nx h\r\n", 2, 1},
        {"OBJECT ENCODING s\r\n", 1, 0},
        {"OBJECT FREQ h\r\n", 1, 0},
        {"OBJECT IDLETIME nx\r\n", 0, 1},
        {"MEMORY USAGE s\r\n", 0, 0},
        {"APPEND s x\r\n", 0, 0},
        {"APPEND h x\r\n", 0, 0},
        {"INCR nx2\r\n", 0, 0},
        {"INCRBYFLOAT s 1\r\n", 0, 0},
        {"SETRANGE s 0 a\r\n", 0, 0},
        {"SET s 2 GET\r\n", 1, 0},
        {"SET h 2 GET\r\n", 1, 0},
        {"SET nn 2 GET\r\n", 0, 1},
        {"GETSET s 3\r\n", 1, 0},
        {"GETDEL s\r\n", 1, 0},
        {"GETEX nx\r\n", 0, 1},
        {"GETEX h\r\n", 1, 0},
        {"SET s 1\r\n", 0, 0},
        {"SETNX s 1\r\n", 0, 0},
        {"SET s 1 NX\r\n", 0, 0},
        {"MSETNX s 1 z 2\r\n", 0, 0},
        {"EXPIRE s 100\r\n", 0, 0},
        {"PERSIST s\r\n", 0, 0},
        {"PEXPIRE nx 10\r\n", 0, 0},
        {"RENAME s s2\r\n", 0, 0},
        {"RENAME s2 s\r\n", 0, 0},
        {"RENAMENX s h\r\n", 0, 0},
        {"COPY s s3\r\n", 1, 0},
        {"COPY nx s4\r\n", 0, 1},
        {"COPY h s5\r\n", 1, 0},
        {"DEL s3 s5 nx\r\n", 0, 0},
        {"UNLINK s4\r\n", 0, 0},
        {"RANDOMKEY\r\n", 0, 0},
        {"KEYS *\r\n", 0, 0},
        {"SCAN 0 COUNT 1000\r\n", 0, 0},
        {"SCAN 0 TYPE hash MATCH h COUNT 1000\r\n", 1, 0},
        {"DBSIZE\r\n", 0, 0},
        {"WATCH s\r\n", 0, 0},
};

static void
test_resp_keyspace_hits_misses(void **state)
{
    (void)state;
    char out[4096];
    expect_resp("SET s 1\r\n", "+OK\r\n");
    make_hash(0, "h");
    for (size_t i = 0; i < sizeof(lookups) / sizeof(lookups[0]); i++) {
        uint64_t cmds, h0, m0, h1, m1;
        resp_keyspace_counts(&cmds, &h0, &m0);
        ask(&proc_resp, lookups[i].req, out, sizeof(out));
        resp_keyspace_counts(&cmds, &h1, &m1);
        /* the index in the compared values names the command */
        assert_int_equal((h1 - h0) * 1000 + i, lookups[i].hits * 1000 + i);
        assert_int_equal((m1 - m0) * 1000 + i, lookups[i].misses * 1000 + i);
    }
    /* SCAN .. TYPE counts one hit per key it checks (7.0's lookup) */
    uint64_t cmds, h0, m0, h1, m1;
    uint64_t keys = storage_count(0);
    resp_keyspace_counts(&cmds, &h0, &m0);
    ask(&proc_resp, "SCAN 0 TYPE string COUNT 1000\r\n", out, sizeof(out));
    resp_keyspace_counts(&cmds, &h1, &m1);
    assert_int_equal(h1 - h0, keys);
    assert_int_equal(m1 - m0, 0);
    /* memcache reads count memcache's hits, not Redis's */
    resp_keyspace_counts(&cmds, &h0, &m0);
    ask(&proc_memcache, "get s\r\nget nx\r\n", out, sizeof(out));
    resp_keyspace_counts(&cmds, &h1, &m1);
    assert_int_equal(h1 - h0, 0);
    assert_int_equal(m1 - m0, 0);
}

/* ---- roots of parts: taken whole ---- */

static void
test_parts_delete_and_overwrite(void **state)
{
    (void)state;
    uint8_t id[8];
    struct storage_item it;
    /* DEL */
    make_root(0, "r", 3, TIME_NEVER, id);
    assert_int_equal(parts_live(0, "r", id, 3, TIME_NEVER), 3);
    expect_resp("TYPE r\r\n", "+hash\r\n");
    expect_resp("DEL r\r\n", ":1\r\n");
    assert_int_equal(parts_live(0, "r", id, 3, TIME_NEVER), 0);
    /* SET over a root */
    make_root(0, "r", 3, TIME_NEVER, id);
    expect_resp("SET r v\r\n", "+OK\r\n");
    assert_int_equal(parts_live(0, "r", id, 3, TIME_NEVER), 0);
    /* memcache set, meta set, binary-free delete, md */
    make_root(0, "r", 3, TIME_NEVER, id);
    expect_mc("set r 0 0 1\r\nv\r\n", "STORED\r\n");
    assert_int_equal(parts_live(0, "r", id, 3, TIME_NEVER), 0);
    make_root(0, "r", 3, TIME_NEVER, id);
    expect_mc("ms r 1\r\nv\r\n", "HD\r\n");
    assert_int_equal(parts_live(0, "r", id, 3, TIME_NEVER), 0);
    make_root(0, "r", 3, TIME_NEVER, id);
    expect_mc("delete r\r\n", "DELETED\r\n");
    assert_int_equal(parts_live(0, "r", id, 3, TIME_NEVER), 0);
    make_root(0, "r", 3, TIME_NEVER, id);
    expect_mc("md r\r\n", "HD\r\n");
    assert_int_equal(parts_live(0, "r", id, 3, TIME_NEVER), 0);
    assert_false(live(0, "r", &it));
    /* a versioned delete: only that version, then its parts */
    make_root(0, "r", 3, TIME_NEVER, id);
    assert_true(live(0, "r", &it));
    uint64_t cas = it.cas;
    assert_int_equal(ks_delete_cas(0, "r", 1, cas + 1, NOW), STORAGE_EXISTS);
    assert_int_equal(parts_live(0, "r", id, 3, TIME_NEVER), 3);
    assert_int_equal(ks_delete_cas(0, "r", 1, cas, NOW), STORAGE_OK);
    assert_int_equal(parts_live(0, "r", id, 3, TIME_NEVER), 0);
    /* GETDEL of a root: its parts go, the view is cleared */
    make_root(0, "r", 3, TIME_NEVER, id);
    assert_int_equal(ks_getdel(0, "r", 1, NOW, &it), STORAGE_OK);
    assert_null(it.key);
    assert_int_equal(parts_live(0, "r", id, 3, TIME_NEVER), 0);
    /* FLUSHDB takes the parts namespace of its db */
    make_root(0, "r", 3, TIME_NEVER, id);
    expect_resp("FLUSHDB\r\n", "+OK\r\n");
    assert_int_equal(parts_live(0, "r", id, 3, TIME_NEVER), 0);
}

static void
test_parts_expiry(void **state)
{
    (void)state;
    uint8_t id[8];
    make_root(0, "r", 3, TIME_NEVER, id);
    expect_resp("EXPIRE r 100\r\n", ":1\r\n");
    assert_int_equal(parts_live(0, "r", id, 3, NOW + 100000), 3);
    expect_resp("PEXPIRE r 5000 GT\r\n", ":0\r\n");
    expect_resp("PEXPIREAT r 1700000050000\r\n", ":1\r\n");
    assert_int_equal(parts_live(0, "r", id, 3, NOW + 50000), 3);
    expect_resp("PERSIST r\r\n", ":1\r\n");
    assert_int_equal(parts_live(0, "r", id, 3, TIME_NEVER), 3);
    expect_resp("TTL r\r\n", ":-1\r\n");
    /* a time in the past deletes the key and its parts */
    expect_resp("EXPIRE r -1\r\n", ":1\r\n");
    expect_resp("EXISTS r\r\n", ":0\r\n");
    assert_int_equal(parts_live(0, "r", id, 3, TIME_NEVER), 0);
    /* memcache touch leaves another type alone */
    make_root(0, "r", 3, TIME_NEVER, id);
    expect_mc("touch r 100\r\n", "NOT_FOUND\r\n");
    assert_int_equal(parts_live(0, "r", id, 3, TIME_NEVER), 3);
    struct storage_item it;
    assert_true(live(0, "r", &it));
    assert_int_equal(it.expiry, TIME_NEVER);
}

static void
test_parts_rename_copy(void **state)
{
    (void)state;
    uint8_t id[8], nid[8], cid[8], old[8];
    struct storage_item it;
    make_root(0, "r", 3, NOW + 100000, id);
    expect_resp("RENAME r r2\r\n", "+OK\r\n");
    assert_false(live(0, "r", &it));
    assert_int_equal(parts_live(0, "r", id, 3, NOW + 100000), 0);
    assert_true(root_id(0, "r2", nid));
    assert_memory_not_equal(nid, id, 8);
    assert_int_equal(parts_live(0, "r2", nid, 3, NOW + 100000), 3);
    expect_resp("PTTL r2\r\n", ":100000\r\n");
    /* RENAMENX onto a live key: nothing moves */
    expect_resp("SET s v\r\n", "+OK\r\n");
    expect_resp("RENAMENX r2 s\r\n", ":0\r\n");
    assert_int_equal(parts_live(0, "r2", nid, 3, NOW + 100000), 3);
    expect_resp("RENAME r2 r2\r\n", "+OK\r\n");
    assert_int_equal(parts_live(0, "r2", nid, 3, NOW + 100000), 3);
    /* COPY: both live, each with its own parts */
    expect_resp("COPY r2 c\r\n", ":1\r\n");
    assert_true(root_id(0, "c", cid));
    assert_memory_not_equal(cid, nid, 8);
    assert_int_equal(parts_live(0, "c", cid, 3, NOW + 100000), 3);
    assert_int_equal(parts_live(0, "r2", nid, 3, NOW + 100000), 3);
    expect_resp("COPY r2 c\r\n", ":0\r\n");
    /* COPY .. REPLACE over a root: the replaced root's parts go */
    memcpy(old, cid, 8);
    expect_resp("COPY r2 c REPLACE\r\n", ":1\r\n");
    assert_true(root_id(0, "c", cid));
    assert_int_equal(parts_live(0, "c", old, 3, NOW + 100000), 0);
    assert_int_equal(parts_live(0, "c", cid, 3, NOW + 100000), 3);
    /* COPY to another db: parts in that db's namespace */
    expect_resp("COPY r2 d DB 1\r\n", ":1\r\n");
    assert_true(root_id(1, "d", cid));
    assert_int_equal(parts_live(1, "d", cid, 3, NOW + 100000), 3);
    /* RENAME a string over a root: the root's parts go */
    assert_true(root_id(0, "c", old));
    expect_resp("RENAME s c\r\n", "+OK\r\n");
    expect_resp("TYPE c\r\n", "+string\r\n");
    assert_int_equal(parts_live(0, "c", old, 3, NOW + 100000), 0);
    /* RENAME a root over a root */
    assert_true(root_id(0, "r2", nid));
    make_root(0, "t", 3, TIME_NEVER, old);
    expect_resp("RENAME r2 t\r\n", "+OK\r\n");
    assert_int_equal(parts_live(0, "t", old, 3, TIME_NEVER), 0);
    assert_int_equal(parts_live(0, "r2", nid, 3, NOW + 100000), 0);
    assert_true(root_id(0, "t", cid));
    assert_int_equal(parts_live(0, "t", cid, 3, NOW + 100000), 3);
    /* a root whose part is gone (its key is going away) does not move */
    uint8_t pk[64];
    size_t pl = ks_part_key(pk, "t", 1, cid, 1);
    assert_int_equal(
            storage_delete(0 | STORAGE_DB_PARTS, pk, pl, 0, NOW), STORAGE_OK);
    assert_int_equal(ks_rename(0, "t", 1, "u", 1, STORAGE_OVERWRITE, NOW),
            STORAGE_NOT_FOUND);
    assert_false(live(0, "u", &it));
    assert_true(live(0, "t", &it));
}

/* ---- hooks ---- */

static char events[512];
static int reads;

static void
on_change(uint8_t db, const void *key, size_t klen, const char *event)
{
    size_t n = strlen(events);
    snprintf(events + n, sizeof(events) - n, "%u:%.*s:%s ", db, (int)klen,
            key != NULL ? (const char *)key : "", event);
}

static void
on_read(uint8_t db, const void *key, size_t klen, const struct storage_item *it)
{
    (void)db;
    (void)key;
    (void)klen;
    (void)it;
    reads++;
}

static void
test_hooks(void **state)
{
    (void)state;
    events[0] = '\0';
    reads = 0;
    ks_listen_change(KS_LISTEN_NOTIFY, on_change);
    ks_on_read(on_read);
    expect_resp("SET a 1\r\n", "+OK\r\n");
    expect_resp("GET a\r\n", "$1\r\n1\r\n");
    expect_resp("GET nx\r\n", "$-1\r\n");
    expect_resp("INCR a\r\n", ":2\r\n");
    expect_resp("APPEND a x\r\n", ":2\r\n");
    expect_resp("EXPIRE a 10\r\n", ":1\r\n");
    expect_resp("PERSIST a\r\n", ":1\r\n");
    expect_resp("RENAME a b\r\n", "+OK\r\n");
    expect_resp("COPY b c\r\n", ":1\r\n");
    expect_resp("DEL b\r\n", ":1\r\n");
    expect_resp("SET e 1\r\n", "+OK\r\n");
    expect_resp("PEXPIRE e -5\r\n", ":1\r\n");
    expect_mc("set m 0 0 1\r\n1\r\nincr m 1\r\nget m\r\n",
            "STORED\r\n2\r\nVALUE m 0 1\r\n2\r\nEND\r\n");
    expect_resp("FLUSHALL\r\n", "+OK\r\n");
    ks_listen_change(KS_LISTEN_NOTIFY, NULL);
    ks_on_read(NULL);
    /* "new" before a write that made the key (Redis's order; a rename's
     * or copy's destination always, as Redis adds it anew), "keymiss"
     * for a read that found none (issue 19) */
    assert_string_equal(events,
            "0:a:new 0:a:set 0:nx:keymiss 0:a:incrby 0:a:append 0:a:expire "
            "0:a:persist 0:b:new 0:a:rename_from 0:b:rename_to 0:c:new "
            "0:c:copy_to 0:b:del 0:e:new 0:e:set 0:e:del 0:m:new 0:m:set "
            "0:m:incrby 255::flushall ");
    /* GET a, the RENAME/COPY source lookups do not call it (store only),
     * COPY's counted lookup does, get m */
    assert_int_equal(reads, 3);
}

/* issue 20: the access hook tells hits, misses and writes, the protocol
 * and the db apart, for both protocols; a write's own peek is not a read */
static char accesses[512];

static uint32_t
on_access(uint8_t db, const void *key, size_t klen, ks_access_e kind)
{
    static const char *const names[] = {"hit", "miss", "write"};
    static const char *const protos[] = {"none", "mc", "resp"};
    size_t n = strlen(accesses);
    snprintf(accesses + n, sizeof(accesses) - n, "%s:%u:%.*s:%s ",
            protos[ks_protocol()], db, (int)klen, (const char *)key,
            names[kind]);
    return 1; /* hear of every access */
}

static void
test_issue_20_access_hook(void **state)
{
    (void)state;
    accesses[0] = '\0';
    ks_on_access(on_access);
    expect_resp("SET a 1\r\n", "+OK\r\n");
    expect_resp("GET a\r\n", "$1\r\n1\r\n");
    expect_resp("SELECT 2\r\nGET nx\r\nSETNX nx 1\r\n", "+OK\r\n$-1\r\n:1\r\n");
    expect_mc("get a b\r\nset m 0 0 1\r\n1\r\nmg m v\r\n",
            "VALUE a 0 1\r\n1\r\nEND\r\nSTORED\r\nVA 1\r\n1\r\n");
    ks_on_access(NULL);
    expect_resp("GET a\r\n", "$1\r\n1\r\n"); /* off: nothing */
    assert_string_equal(accesses,
            "resp:0:a:write resp:0:a:hit resp:2:nx:miss resp:2:nx:write "
            "mc:0:a:hit mc:0:b:miss mc:0:m:write mc:0:m:hit ");
}

/* The hook hears of one access, then lets as many pass as it returns: the
 * sampler's countdown lives on the keyspace path (a decrement and a test
 * per access), not behind a call per access. */
static unsigned heard;

static uint32_t
every_third(uint8_t db, const void *key, size_t klen, ks_access_e kind)
{
    (void)db, (void)key, (void)klen, (void)kind;
    heard++;
    return 3;
}

static uint32_t
gap_zero(uint8_t db, const void *key, size_t klen, ks_access_e kind)
{
    (void)db, (void)key, (void)klen, (void)kind;
    heard++;
    return 0; /* taken as 1 */
}

static void
test_issue_20_access_hook_countdown(void **state)
{
    (void)state;
    heard = 0;
    ks_on_access(every_third);
    for (int i = 0; i < 9; i++) {
        expect_resp("GET nothing\r\n", "$-1\r\n");
    }
    assert_int_equal(heard, 3); /* accesses 1, 4 and 7 */
    heard = 0;
    ks_on_access(gap_zero);
    expect_resp("GET a\r\nGET b\r\n", "$-1\r\n$-1\r\n");
    assert_int_equal(heard, 2);
    ks_on_access(NULL);
    for (int i = 0; i < 5; i++) {
        expect_resp("GET nothing\r\n", "$-1\r\n");
    }
    assert_int_equal(heard, 2);
}

/* ---- memcache: another type is a key with no value to read ---- */

static uint64_t
cas_of(const char *key)
{
    struct storage_item it;
    assert_true(live(0, key, &it));
    return it.cas;
}

static void
assert_hash_unchanged(const char *key)
{
    struct storage_item it;
    assert_true(live(0, key, &it));
    assert_int_equal(it.type, STORAGE_TYPE_HASH);
    assert_int_equal(it.expiry, TIME_NEVER);
    assert_int_equal(it.vlen, 3);
}

static void
test_memcache_text_other_type(void **state)
{
    (void)state;
    char req[128];
    make_hash(0, "h");
    expect_mc("get h\r\n", "END\r\n");
    expect_mc("gets h\r\n", "END\r\n");
    expect_mc("gat 100 h\r\n", "END\r\n");
    expect_mc("gats 100 h\r\n", "END\r\n");
    expect_mc("append h 0 0 1\r\nx\r\n", "NOT_STORED\r\n");
    expect_mc("prepend h 0 0 1\r\nx\r\n", "NOT_STORED\r\n");
    expect_mc("incr h 1\r\n", "NOT_FOUND\r\n");
    expect_mc("decr h 1\r\n", "NOT_FOUND\r\n");
    expect_mc("touch h 100\r\n", "NOT_FOUND\r\n");
    snprintf(req, sizeof(req), "cas h 0 0 1 %llu\r\nx\r\n",
            (unsigned long long)cas_of("h"));
    expect_mc(req, "NOT_FOUND\r\n");
    expect_mc("add h 0 0 1\r\nx\r\n", "NOT_STORED\r\n");
    assert_hash_unchanged("h");
    /* key dumps list it */
    char out[4096];
    ask(&proc_memcache, "lru_crawler metadump all\r\n", out, sizeof(out));
    assert_non_null(strstr(out, "key=h "));
    ask(&proc_memcache, "stats cachedump 1 0\r\n", out, sizeof(out));
    assert_non_null(strstr(out, "ITEM h ["));
    /* replace and set replace it; delete deletes it */
    expect_mc("replace h 5 0 1\r\nx\r\n", "STORED\r\n");
    expect_mc("get h\r\n", "VALUE h 5 1\r\nx\r\nEND\r\n");
    make_hash(0, "h");
    expect_mc("set h 0 0 1\r\ny\r\n", "STORED\r\n");
    expect_mc("get h\r\n", "VALUE h 0 1\r\ny\r\nEND\r\n");
    make_hash(0, "h");
    expect_mc("delete h\r\n", "DELETED\r\n");
    expect_resp("EXISTS h\r\n", ":0\r\n");
}

static void
test_memcache_meta_other_type(void **state)
{
    (void)state;
    char req[128];
    make_hash(0, "h");
    expect_mc("mg h v\r\n", "EN\r\n");
    expect_mc("mg h v t T30\r\n", "EN\r\n");
    expect_mc("mg h v N30\r\n", "EN\r\n");
    expect_mc("mg h v q\r\nmn\r\n", "MN\r\n");
    expect_mc("ma h\r\n", "NF\r\n");
    expect_mc("ma h N0 J5\r\n", "NF\r\n");
    expect_mc("ms h 1 MA\r\nx\r\n", "NS\r\n");
    expect_mc("ms h 1 MP\r\nx\r\n", "NS\r\n");
    expect_mc("ms h 1 ME\r\nx\r\n", "NS\r\n");
    snprintf(req, sizeof(req), "ms h 1 C%llu\r\nx\r\n",
            (unsigned long long)cas_of("h"));
    expect_mc(req, "NF\r\n");
    snprintf(req, sizeof(req), "ms h 1 I C%llu\r\nx\r\n",
            (unsigned long long)cas_of("h") - 1);
    expect_mc(req, "NF\r\n");
    expect_mc("md h I\r\n", "NF\r\n");
    expect_mc("me h\r\n", "EN\r\n");
    assert_hash_unchanged("h");
    expect_mc("ms h 1 MR\r\nx\r\n", "HD\r\n");
    expect_mc("mg h v\r\n", "VA 1\r\nx\r\n");
    make_hash(0, "h");
    expect_mc("ms h 1\r\nz\r\n", "HD\r\n");
    expect_mc("mg h v\r\n", "VA 1\r\nz\r\n");
    make_hash(0, "h");
    expect_mc("md h\r\n", "HD\r\n");
    expect_resp("EXISTS h\r\n", ":0\r\n");
}

/* One binary request; its response's status. */
static uint16_t
bin_status(struct memcache_bin_request *r)
{
    struct buf b;
    assert_int_equal(buf_init(&b, 64), STATUS_OK);
    assert_int_equal(memcache_bin_compose_req(&b, r, MiB), STATUS_OK);
    struct conn c;
    harness_open(&c, 9, NOW);
    assert_int_equal(
            harness_feed(&proc_memcache, &limits, &c, b.rpos, buf_rsize(&b)),
            STATUS_OK);
    buf_deinit(&b);
    assert_true(buf_rsize(&c.wbuf) >= 24);
    const unsigned char *h = (const unsigned char *)c.wbuf.rpos;
    assert_int_equal(h[0], 0x81);
    uint16_t status = (uint16_t)(h[6] << 8 | h[7]);
    harness_close(&proc_memcache, &c);
    return status;
}

static uint16_t
bin(uint8_t op, const char *key, uint64_t cas, uint32_t exptime)
{
    static const char value[] = "x";
    bool store = op == MEMCACHE_BIN_SET || op == MEMCACHE_BIN_ADD ||
                 op == MEMCACHE_BIN_REPLACE;
    bool arith = op == MEMCACHE_BIN_INCREMENT || op == MEMCACHE_BIN_DECREMENT;
    bool joins = op == MEMCACHE_BIN_APPEND || op == MEMCACHE_BIN_PREPEND;
    bool touch = op == MEMCACHE_BIN_TOUCH || op == MEMCACHE_BIN_GAT;
    struct memcache_bin_request r = {
            .opcode = op,
            .extlen = store   ? 8
                      : arith ? 20
                      : touch ? 4
                              : 0,
            .opaque = 1,
            .cas = cas,
            .exptime = exptime,
            .delta = 1,
            .key = bstring_of(key, strlen(key)),
            .value = bstring_of(value, store || joins ? 1 : 0),
    };
    return bin_status(&r);
}

static void
test_memcache_binary_other_type(void **state)
{
    (void)state;
    enum {
        OK = 0,
        ENOENT = 1,
        EEXISTS = 2,
        NOT_STORED = 5
    };
    make_hash(0, "h");
    assert_int_equal(bin(MEMCACHE_BIN_GET, "h", 0, 0), ENOENT);
    assert_int_equal(bin(MEMCACHE_BIN_GETK, "h", 0, 0), ENOENT);
    assert_int_equal(bin(MEMCACHE_BIN_GAT, "h", 0, 100), ENOENT);
    assert_int_equal(bin(MEMCACHE_BIN_TOUCH, "h", 0, 100), ENOENT);
    assert_int_equal(bin(MEMCACHE_BIN_APPEND, "h", 0, 0), NOT_STORED);
    assert_int_equal(bin(MEMCACHE_BIN_PREPEND, "h", 0, 0), NOT_STORED);
    assert_int_equal(
            bin(MEMCACHE_BIN_INCREMENT, "h", 0, MEMCACHE_BIN_NO_CREATE),
            ENOENT);
    assert_int_equal(
            bin(MEMCACHE_BIN_DECREMENT, "h", 0, MEMCACHE_BIN_NO_CREATE),
            ENOENT);
    /* with an initial value the miss would create the key: it exists */
    assert_int_equal(bin(MEMCACHE_BIN_INCREMENT, "h", 0, 0), NOT_STORED);
    assert_int_equal(bin(MEMCACHE_BIN_SET, "h", cas_of("h"), 0), ENOENT);
    assert_int_equal(bin(MEMCACHE_BIN_ADD, "h", 0, 0), EEXISTS);
    assert_hash_unchanged("h");
    assert_int_equal(bin(MEMCACHE_BIN_REPLACE, "h", 0, 0), OK);
    assert_int_equal(bin(MEMCACHE_BIN_GET, "h", 0, 0), OK);
    make_hash(0, "h");
    assert_int_equal(bin(MEMCACHE_BIN_SET, "h", 0, 0), OK);
    expect_resp("TYPE h\r\n", "+string\r\n");
    make_hash(0, "h");
    assert_int_equal(bin(MEMCACHE_BIN_DELETE, "h", 0, 0), OK);
    expect_resp("EXISTS h\r\n", ":0\r\n");
}

/* ---- the protocols' number rules (over storage_update) ---- */

static storage_status_e
put_str(uint8_t db, const char *key, const char *val, uint64_t expiry)
{
    struct storage_write w = {.expiry = expiry, .cflags = 42};
    return storage_set(
            db, key, strlen(key), val, strlen(val), &w, NOW, NULL, NULL);
}

static void
expect_str(uint8_t db, const char *key, const char *val)
{
    struct storage_item it;
    assert_int_equal(storage_peek(db, key, strlen(key), NOW, &it), STORAGE_OK);
    assert_int_equal(it.vlen, strlen(val));
    assert_memory_equal(it.value, val, it.vlen);
}

static void
test_number_incr_unsigned_wrap_and_clamp(void **state)
{
    (void)state;
    uint64_t v, cas;
    assert_int_equal(put_str(0, "n", "18446744073709551614", NOW + 60000), 0);
    uint64_t c0 = cas_of("n");
    assert_int_equal(ks_incr_unsigned(0, "n", 1, 1, KS_INCR, 0, NOW, &v, &cas),
            STORAGE_OK);
    assert_true(v == UINT64_MAX);
    assert_int_not_equal(cas, c0);
    assert_int_equal(ks_incr_unsigned(0, "n", 1, 2, KS_INCR, 0, NOW, &v, NULL),
            STORAGE_OK);
    assert_int_equal(v, 1); /* wrapped */
    expect_str(0, "n", "1");
    assert_int_equal(ks_incr_unsigned(0, "n", 1, 5, KS_DECR, 0, NOW, &v, NULL),
            STORAGE_OK);
    assert_int_equal(v, 0); /* clamps at 0 */
    expect_str(0, "n", "0");
    /* expiry and flags survive */
    struct storage_item it;
    assert_int_equal(storage_peek(0, "n", 1, NOW, &it), STORAGE_OK);
    assert_int_equal(it.expiry, NOW + 60000);
    assert_int_equal(it.cflags, 42);
}

static void
test_number_incr_unsigned_cas(void **state)
{
    (void)state;
    uint64_t v, cas;
    assert_int_equal(put_str(0, "nc", "10", 0), 0);
    uint64_t c0 = cas_of("nc");
    assert_int_equal(
            ks_incr_unsigned(0, "nc", 2, 1, KS_INCR, c0 + 1, NOW, &v, &cas),
            STORAGE_EXISTS);
    expect_str(0, "nc", "10");
    assert_int_equal(
            ks_incr_unsigned(0, "nc", 2, 1, KS_INCR, c0, NOW, &v, &cas),
            STORAGE_OK);
    assert_int_equal(v, 11);
    assert_int_equal(
            ks_incr_unsigned(0, "nc", 2, 1, KS_INCR, c0, NOW, &v, NULL),
            STORAGE_EXISTS);
    assert_int_equal(cas_of("nc"), cas);
}

static void
test_number_incr_unsigned_errors(void **state)
{
    (void)state;
    uint64_t v;
    assert_int_equal(
            ks_incr_unsigned(0, "none", 4, 1, KS_INCR, 0, NOW, &v, NULL),
            STORAGE_NOT_FOUND);
    /* memcached reads the value with strtoull: white space around the
     * digits and a '+' are fine, anything else is not a number */
    const char *bad[] = {"abc", "-1", "12a", "", " ", "+",
            "18446744073709551616", "123456789012345678901", "1.5"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(put_str(0, "b", bad[i], 0), STORAGE_OK);
        assert_int_equal(
                ks_incr_unsigned(0, "b", 1, 1, KS_INCR, 0, NOW, &v, NULL),
                STORAGE_ENAN);
        expect_str(0, "b", bad[i]); /* unchanged */
    }
}

static void
test_number_incr_unsigned_memcached_numbers(void **state)
{
    (void)state;
    const struct {
        const char *stored;
        uint64_t after;
    } ok[] = {{" 5", 6}, {"+7", 8}, {"007", 8}, {"9 tail", 10}, {"3\r", 4},
            {"18446744073709551615", 0}};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        uint64_t v;
        assert_int_equal(put_str(0, "m", ok[i].stored, 0), STORAGE_OK);
        assert_int_equal(
                ks_incr_unsigned(0, "m", 1, 1, KS_INCR, 0, NOW, &v, NULL),
                STORAGE_OK);
        assert_true(v == ok[i].after);
    }
}

static void
test_number_incr_signed_overflow(void **state)
{
    (void)state;
    int64_t v;
    assert_int_equal(ks_incr_signed(0, "s", 1, 5, NOW, &v), STORAGE_OK);
    assert_int_equal(v, 5); /* missing counts as 0 */
    assert_int_equal(ks_incr_signed(0, "s", 1, -10, NOW, &v), STORAGE_OK);
    assert_int_equal(v, -5);
    expect_str(0, "s", "-5");
    assert_int_equal(put_str(0, "s", "9223372036854775807", NOW + 5000), 0);
    assert_int_equal(ks_incr_signed(0, "s", 1, 1, NOW, &v), STORAGE_EOVERFLOW);
    expect_str(0, "s", "9223372036854775807");
    assert_int_equal(put_str(0, "s", "-9223372036854775808", 0), 0);
    assert_int_equal(ks_incr_signed(0, "s", 1, -1, NOW, &v), STORAGE_EOVERFLOW);
    assert_int_equal(ks_incr_signed(0, "s", 1, 1, NOW, &v), STORAGE_OK);
    assert_true(v == INT64_MIN + 1);
    const char *bad[] = {
            "abc", "01", "+1", " 1", "1 ", "-", "9223372036854775808", "1.5"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(put_str(0, "s", bad[i], 0), STORAGE_OK);
        assert_int_equal(ks_incr_signed(0, "s", 1, 1, NOW, &v), STORAGE_ENAN);
    }
    /* expiry kept by INCR */
    assert_int_equal(put_str(0, "t", "1", NOW + 7000), 0);
    assert_int_equal(ks_incr_signed(0, "t", 1, 1, NOW, &v), STORAGE_OK);
    struct storage_item it;
    assert_int_equal(storage_peek(0, "t", 1, NOW, &it), STORAGE_OK);
    assert_int_equal(it.expiry, NOW + 7000);
}

/* --- strings in parts (keyspace_str.c) ---------------------------------- */

/* The value of key as a string lookup sees it, against a model. */
static void
check_value(const char *key, const uint8_t *model, size_t len)
{
    struct storage_item it;
    assert_int_equal(ks_lookup(0, key, strlen(key), STORAGE_TYPE_STRING,
                             KS_NOSTATS, NOW, &it),
            KS_OK);
    assert_int_equal(it.vlen, len);
    assert_memory_equal(it.value, model, len);
    ks_scratch_release();
    assert_int_equal(ks_lookup(0, key, strlen(key), STORAGE_TYPE_STRING,
                             KS_NOSTATS | KS_RAW, NOW, &it),
            KS_OK);
    assert_int_equal(ks_str_len(&it), len);
}

/* Parts of the root at key that are still in the store. */
static uint32_t
parts_present(const char *key, const uint8_t id[8], uint32_t n)
{
    uint8_t pk[64];
    uint32_t found = 0;
    for (uint32_t i = 0; i < n; i++) {
        size_t plen = ks_part_key(pk, key, strlen(key), id, i);
        found += storage_peek(0 | STORAGE_DB_PARTS, pk, plen, NOW, NULL) ==
                 STORAGE_OK;
    }
    return found;
}

static void
test_str_parts_set_get_change(void **state)
{
    (void)state;
    size_t n = 3 * MiB + 17, cap = 6 * MiB;
    uint8_t *model = calloc(1, cap);
    assert_non_null(model);
    for (size_t i = 0; i < n; i++) {
        model[i] = (uint8_t)(i * 131 + 7);
    }
    struct storage_write w = {.mode = STORAGE_SET};
    assert_int_equal(
            ks_set(0, "big", 3, model, n, &w, NOW, NULL, NULL), STORAGE_OK);
    struct storage_item it;
    assert_int_equal(storage_peek(0, "big", 3, NOW, &it), STORAGE_OK);
    assert_int_equal(it.type, STORAGE_TYPE_STRING_PARTS);
    assert_true(it.parts);
    assert_string_equal(ks_type_name(it.type), "string");
    check_value("big", model, n);
    /* SETRANGE in the middle, across a part boundary, then past the end */
    size_t chunk = ks_str_chunk(), len = 0;
    memcpy(model + chunk - 2, "ABCD", 4);
    assert_int_equal(ks_setrange(0, "big", 3, chunk - 2, "ABCD", 4, NOW, &len),
            STORAGE_OK);
    assert_int_equal(len, n);
    check_value("big", model, n);
    memcpy(model + 5 * MiB, "END", 3);
    assert_int_equal(
            ks_setrange(0, "big", 3, 5 * MiB, "END", 3, NOW, &len), STORAGE_OK);
    n = 5 * MiB + 3;
    assert_int_equal(len, n);
    check_value("big", model, n);
    /* APPEND, and PREPEND (memcache's: a new id) */
    assert_int_equal(ks_append(0, "big", 3, "xy", 2, STORAGE_APPEND,
                             STORAGE_MISSING_FAIL, 0, NOW, &len, NULL),
            STORAGE_OK);
    memcpy(model + n, "xy", 2);
    n += 2;
    assert_int_equal(len, n);
    check_value("big", model, n);
    memmove(model + 1, model, n);
    model[0] = 'P';
    n++;
    assert_int_equal(ks_append(0, "big", 3, "P", 1, STORAGE_PREPEND,
                             STORAGE_MISSING_FAIL, 0, NOW, &len, NULL),
            STORAGE_OK);
    check_value("big", model, n);
    /* a number it is not; another type's commands see a string */
    int64_t v;
    assert_int_equal(ks_incr_signed(0, "big", 3, 1, NOW, &v), STORAGE_ENAN);
    assert_int_equal(
            ks_lookup(0, "big", 3, STORAGE_TYPE_HASH, KS_NOSTATS, NOW, NULL),
            KS_WRONGTYPE);
    free(model);
}

static void
test_str_parts_taken_whole(void **state)
{
    (void)state;
    size_t n = 2 * MiB;
    uint8_t *v = malloc(n);
    assert_non_null(v);
    memset(v, 'q', n);
    struct storage_write w = {.mode = STORAGE_SET};
    assert_int_equal(ks_set(0, "k", 1, v, n, &w, NOW, NULL, NULL), STORAGE_OK);
    struct storage_item it;
    assert_int_equal(storage_peek(0, "k", 1, NOW, &it), STORAGE_OK);
    uint8_t id[8];
    memcpy(id, it.value, 8);
    uint32_t np = ks_root_nparts(&it);
    assert_true(np > 1);
    assert_int_equal(parts_present("k", id, np), np);
    /* GETDEL hands the value out, then the parts go */
    assert_int_equal(ks_getdel(0, "k", 1, NOW, &it), STORAGE_OK);
    assert_int_equal(it.vlen, n);
    assert_memory_equal(it.value, v, n);
    ks_scratch_release();
    assert_int_equal(parts_present("k", id, np), 0);
    /* a small SET over it drops them too; NX over it writes none */
    assert_int_equal(ks_set(0, "k", 1, v, n, &w, NOW, NULL, NULL), STORAGE_OK);
    assert_int_equal(storage_peek(0, "k", 1, NOW, &it), STORAGE_OK);
    memcpy(id, it.value, 8);
    struct storage_write nx = {.mode = STORAGE_ADD};
    assert_int_equal(
            ks_set(0, "k", 1, v, n, &nx, NOW, NULL, NULL), STORAGE_EXISTS);
    assert_int_equal(
            ks_set(0, "k", 1, "s", 1, &w, NOW, NULL, NULL), STORAGE_OK);
    assert_int_equal(parts_present("k", id, np), 0);
    check_value("k", (const uint8_t *)"s", 1);
    /* an expiry in the past takes root and parts */
    assert_int_equal(ks_set(0, "k", 1, v, n, &w, NOW, NULL, NULL), STORAGE_OK);
    assert_int_equal(storage_peek(0, "k", 1, NOW, &it), STORAGE_OK);
    memcpy(id, it.value, 8);
    assert_int_equal(ks_expire(0, "k", 1, STORAGE_TYPE_STRING, NOW - 1,
                             STORAGE_TTL_ALWAYS, NOW, NULL),
            STORAGE_OK);
    assert_int_equal(parts_present("k", id, np), 0);
    assert_int_equal(
            ks_lookup(0, "k", 1, STORAGE_TYPE_STRING, KS_NOSTATS, NOW, NULL),
            KS_MISS);
    free(v);
}

/* A value received in pieces (ks_stream_*), as the memcache text path
 * feeds it: odd-sized pieces, nothing visible before the commit, the mode
 * and CAS of the write, and an abort that leaves no part behind. */
static void
test_str_stream_pieces(void **state)
{
    (void)state;
    size_t n = 2 * MiB + 333;
    uint8_t *v = malloc(n);
    assert_non_null(v);
    for (size_t i = 0; i < n; i++) {
        v[i] = (uint8_t)(i * 7 + 1);
    }
    struct storage_write w = {.mode = STORAGE_SET, .cflags = 9};
    storage_status_e st;
    struct ks_stream *s = ks_stream_begin(0, "sk", 2, n, &w, NOW, &st);
    assert_non_null(s);
    assert_int_equal(st, STORAGE_OK);
    for (size_t at = 0; at < n;) {
        size_t take = (at * 31 + 4097) % 70001 + 1;
        take = take > n - at ? n - at : take;
        ks_stream_write(s, v + at, take, NOW);
        at += take;
        if (at < n) {
            assert_int_equal(
                    ks_lookup(0, "sk", 2, KS_ANY, KS_NOSTATS, NOW, NULL),
                    KS_MISS);
        }
    }
    assert_int_equal(ks_stream_commit(&s, NOW, NULL), STORAGE_OK);
    assert_null(s);
    check_value("sk", v, n);
    struct storage_item it;
    assert_int_equal(
            ks_lookup(0, "sk", 2, STORAGE_TYPE_STRING, KS_NOSTATS, NOW, &it),
            KS_OK);
    assert_int_equal(it.cflags, 9);
    uint64_t cas = it.cas;
    ks_scratch_release();
    /* ADD over it: refused, and the new parts go again */
    struct storage_write add = {.mode = STORAGE_ADD};
    s = ks_stream_begin(0, "sk", 2, n, &add, NOW, &st);
    assert_non_null(s);
    ks_stream_write(s, v, n, NOW);
    assert_int_equal(ks_stream_commit(&s, NOW, NULL), STORAGE_EXISTS);
    check_value("sk", v, n);
    /* CAS with the version read: stored */
    struct storage_write cw = {.mode = STORAGE_CAS, .cas = cas};
    v[0] ^= 0xff;
    s = ks_stream_begin(0, "sk", 2, n, &cw, NOW, &st);
    ks_stream_write(s, v, n, NOW);
    assert_int_equal(ks_stream_commit(&s, NOW, NULL), STORAGE_OK);
    check_value("sk", v, n);
    /* bytes missing at the commit: refused; an abort writes nothing */
    s = ks_stream_begin(0, "sk2", 3, n, &w, NOW, &st);
    ks_stream_write(s, v, n - 1, NOW);
    assert_int_equal(ks_stream_commit(&s, NOW, NULL), STORAGE_EINVAL);
    s = ks_stream_begin(0, "sk2", 3, n, &w, NOW, &st);
    ks_stream_write(s, v, n / 2, NOW);
    ks_stream_abort(&s, NOW);
    assert_null(s);
    ks_stream_abort(&s, NOW); /* NULL-safe */
    assert_int_equal(
            ks_lookup(0, "sk2", 3, KS_ANY, KS_NOSTATS, NOW, NULL), KS_MISS);
    free(v);
}

/* memcache values go in parts only within memcache.item_size_max, sized
 * as memcached sizes an item (59 bytes of header, 4 more with flags). */
static void
test_str_memcache_limit(void **state)
{
    (void)state;
    size_t max = 2 * MiB, n = max - 60;
    uint8_t *v = calloc(1, max);
    assert_non_null(v);
    struct storage_write w = {.mode = STORAGE_SET};
    ks_set_protocol(KS_PROTO_MEMCACHE);
    /* the default: one item at most */
    assert_int_equal(
            ks_set(0, "m", 1, v, n, &w, NOW, NULL, NULL), STORAGE_EOVERSIZE);
    ks_set_memcache_value_max(max);
    assert_int_equal(ks_set(0, "m", 1, v, n, &w, NOW, NULL, NULL), STORAGE_OK);
    assert_int_equal(ks_set(0, "m", 1, v, n + 1, &w, NOW, NULL, NULL),
            STORAGE_EOVERSIZE);
    struct storage_write flagged = {.mode = STORAGE_SET, .cflags = 5};
    assert_int_equal(ks_set(0, "m", 1, v, n, &flagged, NOW, NULL, NULL),
            STORAGE_EOVERSIZE);
    assert_int_equal(
            ks_set(0, "m", 1, v, n - 4, &flagged, NOW, NULL, NULL), STORAGE_OK);
    /* an append may not pass it (this one has flags: no room left) */
    assert_int_equal(ks_append(0, "m", 1, "a", 1, STORAGE_APPEND,
                             STORAGE_MISSING_FAIL, 0, NOW, NULL, NULL),
            STORAGE_EOVERSIZE);
    assert_int_equal(
            ks_set(0, "m", 1, v, n - 4, &w, NOW, NULL, NULL), STORAGE_OK);
    assert_int_equal(ks_append(0, "m", 1, "abcde", 5, STORAGE_APPEND,
                             STORAGE_MISSING_FAIL, 0, NOW, NULL, NULL),
            STORAGE_EOVERSIZE);
    assert_int_equal(ks_append(0, "m", 1, "abcd", 4, STORAGE_APPEND,
                             STORAGE_MISSING_FAIL, 0, NOW, NULL, NULL),
            STORAGE_OK);
    storage_status_e st;
    assert_null(ks_stream_begin(0, "m", 1, n + 1, &w, NOW, &st));
    assert_int_equal(st, STORAGE_EOVERSIZE);
    ks_set_memcache_value_max(0);
    ks_set_protocol(KS_PROTO_NONE);
    free(v);
}

/* SETBIT's large path reads a byte range of a string in parts without a
 * copy of the rest. */
static void
test_str_read_range(void **state)
{
    (void)state;
    ks_set_protocol(KS_PROTO_NONE);
    size_t n = 3 * MiB;
    uint8_t *v = malloc(n);
    assert_non_null(v);
    for (size_t i = 0; i < n; i++) {
        v[i] = (uint8_t)(i % 251);
    }
    struct storage_write w = {.mode = STORAGE_SET};
    assert_int_equal(ks_set(0, "r", 1, v, n, &w, NOW, NULL, NULL), STORAGE_OK);
    uint32_t s = ks_stripe(0, "r", 1);
    ks_lock(s);
    uint8_t buf[16];
    uint64_t len;
    size_t at = ks_str_chunk() - 5;
    assert_int_equal(
            ks_str_read_locked(0, "r", 1, at, 10, buf, &len, NOW), STORAGE_OK);
    assert_int_equal(len, n);
    assert_memory_equal(buf, v + at, 10);
    /* past the end: zeros */
    assert_int_equal(ks_str_read_locked(0, "r", 1, n - 2, 4, buf, &len, NOW),
            STORAGE_OK);
    assert_memory_equal(buf, v + n - 2, 2);
    assert_int_equal(buf[2] | buf[3], 0);
    uint32_t s2 = ks_stripe(0, "none", 4);
    ks_lock(s2);
    assert_int_equal(ks_str_read_locked(0, "none", 4, 0, 4, buf, &len, NOW),
            STORAGE_NOT_FOUND);
    ks_unlock(s2);
    assert_int_equal(len, 0);
    /* a one-byte SETRANGE in place grows it with zeros */
    uint8_t one = 0x80;
    assert_int_equal(
            ks_str_setrange_locked(0, "r", 1, n + 100, &one, 1, NOW, NULL),
            STORAGE_OK);
    ks_unlock(s);
    uint8_t *model = calloc(1, n + 101);
    assert_non_null(model);
    memcpy(model, v, n);
    model[n + 100] = 0x80;
    check_value("r", model, n + 101);
    free(model);
    free(v);
}

/* --- append / prepend --------------------------------------------------- */

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup(
                    test_resp_string_commands_wrongtype, flush_each),
            cmocka_unit_test_setup(
                    test_resp_generic_commands_any_type, flush_each),
            cmocka_unit_test_setup(
                    test_resp_keys_randomkey_any_type, flush_each),
            cmocka_unit_test_setup(test_resp_keyspace_hits_misses, flush_each),
            cmocka_unit_test_setup(test_parts_delete_and_overwrite, flush_each),
            cmocka_unit_test_setup(test_parts_expiry, flush_each),
            cmocka_unit_test_setup(test_parts_rename_copy, flush_each),
            cmocka_unit_test_setup(test_hooks, flush_each),
            cmocka_unit_test_setup(test_issue_20_access_hook, flush_each),
            cmocka_unit_test_setup(
                    test_issue_20_access_hook_countdown, flush_each),
            cmocka_unit_test_setup(test_memcache_text_other_type, flush_each),
            cmocka_unit_test_setup(test_memcache_meta_other_type, flush_each),
            cmocka_unit_test_setup(test_memcache_binary_other_type, flush_each),
            cmocka_unit_test_setup(
                    test_number_incr_unsigned_wrap_and_clamp, flush_each),
            cmocka_unit_test_setup(test_number_incr_unsigned_cas, flush_each),
            cmocka_unit_test_setup(
                    test_number_incr_unsigned_errors, flush_each),
            cmocka_unit_test_setup(
                    test_number_incr_unsigned_memcached_numbers, flush_each),
            cmocka_unit_test_setup(
                    test_number_incr_signed_overflow, flush_each),
            cmocka_unit_test_setup(test_str_parts_set_get_change, flush_each),
            cmocka_unit_test_setup(test_str_parts_taken_whole, flush_each),
            cmocka_unit_test_setup(test_str_stream_pieces, flush_each),
            cmocka_unit_test_setup(test_str_memcache_limit, flush_each),
            cmocka_unit_test_setup(test_str_read_range, flush_each),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
