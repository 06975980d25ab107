/* SPDX-License-Identifier: Apache-2.0 */
/* Keyspace notifications (processor/notify.h): the flag letters parsed and
 * rendered as Redis 7.0.15 does (the cases were run against redis-server
 * 7.0.15's CONFIG SET / CONFIG GET), the two messages per event and the
 * class filter, and the hooks: keyspace-path writes and the store's drops
 * (expired) reach the publisher while notifications are on, and nothing
 * does once they are off (the hooks are removed). */
#include "unit.h"

#include "proc_harness.h"

#include "processor/keyspace.h"
#include "processor/notify.h"
#include "storage/seg/seg.h"

#include "base/time.h"

#include <stdio.h>
#include <string.h>

#define NOW 1700000000000ULL /* injected clock, unix ms */

static seg_metrics_st seg_metrics;

/* what the fake publisher heard: "channel payload\n" per message */
static char heard[4096];
static size_t nheard;

static void
capture(const char *ch, size_t chlen, const char *msg, size_t mlen)
{
    if (nheard + chlen + mlen + 3 > sizeof(heard)) {
        return; /* a test that hears this much fails its comparison */
    }
    memcpy(heard + nheard, ch, chlen); /* bytes, NULs included */
    nheard += chlen;
    heard[nheard++] = ' ';
    memcpy(heard + nheard, msg, mlen);
    nheard += mlen;
    heard[nheard++] = '\n';
    heard[nheard] = '\0';
}

static void
heard_reset(void)
{
    nheard = 0;
    heard[0] = '\0';
}

static int
group_setup(void **state)
{
    (void)state;
    return harness_store_setup(8 * MiB, &seg_metrics) == STATUS_OK ? 0 : -1;
}

static int
group_teardown(void **state)
{
    (void)state;
    seg_teardown();
    return 0;
}

static int
case_setup(void **state)
{
    (void)state;
    notify_setup(capture);
    heard_reset();
    storage_flush(STORAGE_DB_ALL, NOW, NOW);
    return 0;
}

static int
case_teardown(void **state)
{
    (void)state;
    notify_teardown();
    return 0;
}

static void
test_notify_flags_as_redis(void **state)
{
    (void)state;
    /* CONFIG SET value -> CONFIG GET value, from redis-server 7.0.15 */
    static const struct {
        const char *in;
        const char *out;
    } cases[] = {
            {"KEA", "AKE"},
            {"Ag", "A"},
            {"KA", "AK"},
            {"$lshzxetdn", "$lshzxetdn"},
            {"Kx", "xK"},
            {"KEm", "KEm"},
            {"", ""},
            {"KEAn", "AKE"}, /* n is set, but not shown beside A */
            {"KEg$lshzxetdmn", "AKEm"},
            {"EKgg", "gKE"},
            {"zhsl$g", "g$lshz"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int f = notify_flags_parse(cases[i].in, strlen(cases[i].in));
        assert_true(f >= 0);
        char out[NOTIFY_FLAGS_MAX];
        size_t n = notify_flags_format(f, out);
        assert_string_equal(out, cases[i].out);
        assert_int_equal(n, strlen(cases[i].out));
    }
    assert_int_equal(notify_flags_parse("KEAn", 4) & NOTIFY_NEW, NOTIFY_NEW);
}

static void
test_notify_flags_bad_letter(void **state)
{
    (void)state;
    assert_int_equal(notify_flags_parse("xyz", 3), -1);
    assert_int_equal(notify_flags_parse("KEa", 3), -1); /* case matters */
    assert_int_equal(notify_flags_parse("K\0E", 3), -1);
    char longest[NOTIFY_FLAGS_MAX];
    /* every letter but A: the longest rendering fits */
    int all = notify_flags_parse("g$lshzxetdnKEm", 14);
    assert_int_equal(notify_flags_format(all & ~NOTIFY_MODULE, longest), 13);
}

static void
test_notify_event_channels_and_classes(void **state)
{
    (void)state;
    notify_set(notify_flags_parse("KE$", 3));
    notify_event(NOTIFY_STRING, "set", 3, "foo", 3);
    notify_event(NOTIFY_GENERIC, "del", 3, "foo", 3); /* class off */
    assert_string_equal(heard, "__keyspace@3__:foo set\n"
                               "__keyevent@3__:set foo\n");
    heard_reset();
    notify_set(notify_flags_parse("Eg", 2));
    notify_event(NOTIFY_GENERIC, "del", 0, "k\0y", 3);
    static const char want[] = "__keyevent@0__:del k\0y\n";
    assert_int_equal(nheard, sizeof(want) - 1); /* the key's NUL kept */
    assert_memory_equal(heard, want, nheard);
    heard_reset();
    notify_set(notify_flags_parse("A", 1)); /* no K, no E: nothing */
    notify_event(NOTIFY_GENERIC, "del", 0, "k", 1);
    assert_int_equal(nheard, 0);
    assert_int_equal(notify_class("hset"), NOTIFY_HASH);
    assert_int_equal(notify_class("incrbyfloat"), NOTIFY_STRING);
    assert_int_equal(notify_class("flushdb"), 0);
}

static void
test_notify_long_key(void **state)
{
    (void)state;
    char key[600];
    memset(key, 'k', sizeof(key));
    notify_set(notify_flags_parse("Kg", 2));
    notify_event(NOTIFY_GENERIC, "del", 15, key, sizeof(key));
    assert_int_equal(nheard, strlen("__keyspace@15__:") + sizeof(key) + 5);
    assert_memory_equal(heard, "__keyspace@15__:kkk", 19);
}

static void
test_notify_keyspace_path(void **state)
{
    (void)state;
    notify_set(notify_flags_parse("KEA", 3) | NOTIFY_NEW);
    struct storage_write w = {.mode = STORAGE_SET, .expiry = NOW + 1000};
    assert_int_equal(
            ks_set(0, "a", 1, "v", 1, &w, NOW, NULL, NULL), STORAGE_OK);
    assert_string_equal(heard, "__keyspace@0__:a new\n"
                               "__keyevent@0__:new a\n"
                               "__keyspace@0__:a set\n"
                               "__keyevent@0__:set a\n"
                               "__keyspace@0__:a expire\n"
                               "__keyevent@0__:expire a\n");
    heard_reset();
    /* found expired by a read: "expired" once, from the store's hook */
    assert_int_equal(
            ks_lookup(0, "a", 1, KS_ANY, 0, NOW + 2000, NULL), KS_MISS);
    assert_int_equal(
            ks_lookup(0, "a", 1, KS_ANY, 0, NOW + 3000, NULL), KS_MISS);
    assert_string_equal(heard, "__keyspace@0__:a expired\n"
                               "__keyevent@0__:expired a\n");
    heard_reset();
    int64_t v;
    assert_int_equal(ks_incr_signed(1, "n", 1, 5, NOW, &v), STORAGE_OK);
    assert_int_equal(ks_delete(1, "n", 1, NOW), STORAGE_OK);
    assert_string_equal(heard, "__keyspace@1__:n new\n"
                               "__keyevent@1__:new n\n"
                               "__keyspace@1__:n incrby\n"
                               "__keyevent@1__:incrby n\n"
                               "__keyspace@1__:n del\n"
                               "__keyevent@1__:del n\n");
    heard_reset();
    /* flushes publish nothing, and a flushed item is not "expired" */
    assert_int_equal(
            ks_set(0, "b", 1, "v", 1, &w, NOW, NULL, NULL), STORAGE_OK);
    heard_reset();
    assert_int_equal(ks_flush(0, NOW, NOW), STORAGE_OK);
    assert_int_equal(
            ks_lookup(0, "b", 1, KS_ANY, 0, NOW + 2000, NULL), KS_MISS);
    assert_int_equal(nheard, 0);
}

static void
test_notify_off_removes_hooks(void **state)
{
    (void)state;
    notify_set(notify_flags_parse("KEA", 3));
    notify_set(0);
    struct storage_write w = {.mode = STORAGE_SET, .expiry = NOW + 1000};
    assert_int_equal(
            ks_set(0, "c", 1, "v", 1, &w, NOW, NULL, NULL), STORAGE_OK);
    assert_int_equal(
            ks_lookup(0, "c", 1, KS_ANY, 0, NOW + 2000, NULL), KS_MISS);
    assert_int_equal(nheard, 0);
    /* keymiss is its own class (m), not in A */
    notify_set(notify_flags_parse("KEA", 3));
    assert_int_equal(ks_lookup(0, "zz", 2, KS_ANY, 0, NOW, NULL), KS_MISS);
    assert_int_equal(nheard, 0);
    notify_set(notify_flags_parse("Km", 2));
    assert_int_equal(ks_lookup(0, "zz", 2, KS_ANY, 0, NOW, NULL), KS_MISS);
    /* a write's lookup (KS_NOSTATS) is not a keymiss, as in Redis */
    assert_int_equal(
            ks_lookup(0, "zy", 2, KS_ANY, KS_NOSTATS, NOW, NULL), KS_MISS);
    assert_string_equal(heard, "__keyspace@0__:zz keymiss\n");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_notify_flags_as_redis),
            cmocka_unit_test(test_notify_flags_bad_letter),
            cmocka_unit_test_setup_teardown(
                    test_notify_event_channels_and_classes, case_setup,
                    case_teardown),
            cmocka_unit_test_setup_teardown(
                    test_notify_long_key, case_setup, case_teardown),
            cmocka_unit_test_setup_teardown(
                    test_notify_keyspace_path, case_setup, case_teardown),
            cmocka_unit_test_setup_teardown(
                    test_notify_off_removes_hooks, case_setup, case_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
