/* SPDX-License-Identifier: Apache-2.0 */
/* FUNCTION DUMP / RESTORE payloads (processor/resp_fdump.h): Redis's
 * CRC-64, what the writer makes read back, a payload real Redis 7.0.15
 * wrote (LZF-compressed) read, and every refusal. */
#include "unit.h"

#include "processor/resp_fdump.h"

#include <string.h>

/* FUNCTION DUMP of redis-server 7.0.15 after FUNCTION LOAD of MYLIB */
#define MYLIB                                                                  \
    "#!lua name=mylib\nredis.register_function('myfunc', function(keys, "      \
    "args) return args[1] end)"
static const unsigned char redis_dump[] = {0xf5, 0xc3, 0x40, 0x56, 0x40, 0x5b,
        0x1f, 0x23, 0x21, 0x6c, 0x75, 0x61, 0x20, 0x6e, 0x61, 0x6d, 0x65, 0x3d,
        0x6d, 0x79, 0x6c, 0x69, 0x62, 0x0a, 0x72, 0x65, 0x64, 0x69, 0x73, 0x2e,
        0x72, 0x65, 0x67, 0x69, 0x73, 0x74, 0x65, 0x72, 0x5f, 0x0b, 0x66, 0x75,
        0x6e, 0x63, 0x74, 0x69, 0x6f, 0x6e, 0x28, 0x27, 0x6d, 0x79, 0x40, 0x0b,
        0x02, 0x27, 0x2c, 0x20, 0x40, 0x06, 0x60, 0x12, 0x11, 0x6b, 0x65, 0x79,
        0x73, 0x2c, 0x20, 0x61, 0x72, 0x67, 0x73, 0x29, 0x20, 0x72, 0x65, 0x74,
        0x75, 0x72, 0x6e, 0x60, 0x0c, 0x07, 0x5b, 0x31, 0x5d, 0x20, 0x65, 0x6e,
        0x64, 0x29, 0x0a, 0x00, 0x8d, 0x59, 0x36, 0xad, 0xc6, 0xe7, 0x07, 0xda};
/* Redis 7.0.15's FUNCTION DUMP with no libraries */
static const unsigned char redis_empty[] = {
        0x0a, 0x00, 0x5d, 0x9b, 0x5c, 0x40, 0x0f, 0x7f, 0xa2, 0xda};

struct seen {
    char code[4][300];
    size_t len[4];
    int n;
};

static const char *
collect(void *arg, const char *code, size_t len)
{
    struct seen *s = arg;
    assert_true(s->n < 4 && len < sizeof(s->code[0]));
    memcpy(s->code[s->n], code, len);
    s->len[s->n++] = len;
    return NULL;
}

static const char *
refuse(void *arg, const char *code, size_t len)
{
    (void)arg;
    (void)code;
    (void)len;
    return "ERR refused";
}

static const char *
read_all(const void *p, size_t len, struct seen *s)
{
    memset(s, 0, sizeof(*s));
    return fdump_read(p, len, collect, s);
}

/* body + a correct footer, read */
static const char *
read_body(const char *body, size_t len, struct seen *s)
{
    char p[512];
    assert_true(len + FDUMP_FOOTER <= sizeof(p));
    memcpy(p, body, len);
    char *end = fdump_put_footer(p, p + len);
    return read_all(p, (size_t)(end - p), s);
}

static void
test_fdump_crc64(void **state)
{
    (void)state;
    assert_true(fdump_crc64(0, "123456789", 9) == 0xe9c6d914c4b8d9caULL);
    assert_true(fdump_crc64(0, "", 0) == 0);
}

static void
test_fdump_writes_what_redis_writes(void **state)
{
    (void)state;
    char p[16];
    char *end = fdump_put_footer(p, p);
    assert_int_equal(end - p, sizeof(redis_empty));
    assert_memory_equal(p, redis_empty, sizeof(redis_empty));
}

static void
test_fdump_round_trip(void **state)
{
    (void)state;
    static char big[20000];
    memset(big, 'x', sizeof(big));
    const char *codes[] = {"", "a", MYLIB};
    size_t lens[] = {0, 1, strlen(MYLIB)};
    static char p[30000];
    char *end = p;
    size_t want = FDUMP_FOOTER;
    for (int i = 0; i < 3; i++) {
        end = fdump_put_entry(end, codes[i], lens[i]);
        want += fdump_entry_size(lens[i]);
    }
    end = fdump_put_footer(p, end);
    assert_int_equal((size_t)(end - p), want);
    struct seen s;
    assert_null(read_all(p, (size_t)(end - p), &s));
    assert_int_equal(s.n, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(s.len[i], lens[i]);
        assert_memory_equal(s.code[i], codes[i], lens[i]);
    }
    /* lengths of 14 and 32 bits */
    end = fdump_put_entry(p, big, sizeof(big));
    assert_int_equal(end - p, 1 + 5 + sizeof(big));
    assert_int_equal((unsigned char)p[1], 0x80);
    end = fdump_put_entry(p, big, 300);
    assert_int_equal(end - p, 1 + 2 + 300);
    assert_int_equal((unsigned char)p[1], 0x41);
}

static void
test_fdump_reads_redis_lzf(void **state)
{
    (void)state;
    struct seen s;
    assert_null(read_all(redis_dump, sizeof(redis_dump), &s));
    assert_int_equal(s.n, 1);
    assert_int_equal(s.len[0], strlen(MYLIB));
    assert_memory_equal(s.code[0], MYLIB, strlen(MYLIB));
    assert_null(read_all(redis_empty, sizeof(redis_empty), &s));
    assert_int_equal(s.n, 0);
    assert_string_equal(fdump_read((const char *)redis_dump, sizeof(redis_dump),
                                refuse, NULL),
            "ERR refused");
}

static void
test_fdump_integers_are_digits(void **state)
{
    (void)state;
    struct seen s;
    assert_null(read_body("\xf5\xc0\xfb\xf5\xc1\x39\x30\xf5\xc2\x01\x02\x03"
                          "\x84",
            13, &s));
    assert_int_equal(s.n, 3);
    assert_memory_equal(s.code[0], "-5", 2);
    assert_memory_equal(s.code[1], "12345", 5);
    assert_memory_equal(s.code[2], "-2080177663", 11);
}

static void
test_fdump_refusals(void **state)
{
    (void)state;
    const char *checksum = "ERR DUMP payload version or checksum are wrong";
    struct seen s;
    unsigned char p[sizeof(redis_dump)];
    assert_string_equal(read_all("", 0, &s), checksum);
    assert_string_equal(read_all("123456789", 9, &s), checksum);
    memcpy(p, redis_dump, sizeof(p));
    p[10] ^= 1;
    assert_string_equal(read_all(p, sizeof(p), &s), checksum);
    /* RDB version 11: newer than 7.0 writes */
    char v11[FDUMP_FOOTER] = {11, 0};
    uint64_t crc = fdump_crc64(0, v11, 2);
    for (int i = 0; i < 8; i++) {
        v11[2 + i] = (char)(crc >> (8 * i));
    }
    assert_string_equal(read_all(v11, sizeof(v11), &s), checksum);
    assert_string_equal(read_body("\x00\x03"
                                  "abc",
                                5, &s),
            "ERR given type is not a function");
    assert_string_equal(read_body("\xf6\x03LUA", 5, &s),
            "ERR Pre-GA function format not supported");
    const char *payload = "ERR Failed loading library payload";
    assert_string_equal(read_body("\xf5\x30"
                                  "abc",
                                5, &s),
            payload);
    assert_string_equal(read_body("\xf5", 1, &s), payload);
    assert_string_equal(read_body("\xf5\x41", 2, &s), payload);
    assert_string_equal(read_body("\xf5\x82\x00", 3, &s), payload);
    assert_string_equal(read_body("\xf5\xc4", 2, &s), payload);
    assert_string_equal(read_body("\xf5\xc1\x01", 3, &s), payload);
    /* LZF: a back reference before the start, a wrong length, too long */
    assert_string_equal(read_body("\xf5\xc3\x02\x04\x20\x05", 6, &s), payload);
    assert_string_equal(read_body("\xf5\xc3\x02\x03\x00"
                                  "a",
                                6, &s),
            payload);
    assert_string_equal(
            read_body("\xf5\xc3\x01\x81\x00\x00\x00\x00\x01\x00\x00\x00"
                      "a",
                    13, &s),
            payload);
    /* a good LZF string: "ab" then 8 bytes back 2 */
    assert_null(read_body("\xf5\xc3\x05\x0a\x01"
                          "ab\xc0\x01",
            9, &s));
    assert_int_equal(s.n, 1);
    assert_memory_equal(s.code[0], "ababababab", 10);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_fdump_crc64),
            cmocka_unit_test(test_fdump_writes_what_redis_writes),
            cmocka_unit_test(test_fdump_round_trip),
            cmocka_unit_test(test_fdump_reads_redis_lzf),
            cmocka_unit_test(test_fdump_integers_are_digits),
            cmocka_unit_test(test_fdump_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
