/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for types.h: varints at every width boundary, the checked reader's
 * refusals, and the element hash pinned (it is part of the stored format). */
#include "types/types.h"

#include "unit.h"

#include <stdint.h>
#include <string.h>

static void
test_varint_boundaries(void **state)
{
    (void)state;
    static const struct {
        uint64_t v;
        size_t size;
    } cases[] = {{0, 1}, {1, 1}, {127, 1}, {128, 2}, {16383, 2}, {16384, 3},
            {(1ULL << 21) - 1, 3}, {1ULL << 21, 4}, {(1ULL << 63) - 1, 9},
            {1ULL << 63, 10}, {UINT64_MAX, 10}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t buf[TYPES_VARINT_MAX + 1];
        memset(buf, 0xee, sizeof(buf));
        assert_int_equal(types_varint_size(cases[i].v), cases[i].size);
        assert_int_equal(types_varint_write(buf, cases[i].v), cases[i].size);
        assert_int_equal(buf[cases[i].size], 0xee); /* nothing past it */
        uint64_t v = 0;
        assert_int_equal(types_varint_read(buf, &v), cases[i].size);
        assert_true(v == cases[i].v);
        v = 0;
        assert_int_equal(types_varint_read_checked(buf, cases[i].size, &v),
                cases[i].size);
        assert_true(v == cases[i].v);
        for (size_t cut = 0; cut < cases[i].size; cut++) {
            assert_int_equal(types_varint_read_checked(buf, cut, &v), 0);
        }
    }
}

static void
test_varint_layout(void **state)
{
    (void)state;
    uint8_t buf[TYPES_VARINT_MAX];
    assert_int_equal(types_varint_write(buf, 300), 2);
    assert_int_equal(buf[0], 0xac); /* low 7 bits first, continuation */
    assert_int_equal(buf[1], 0x02);
    assert_int_equal(types_varint_write(buf, 16384), 3);
    assert_memory_equal(buf, "\x80\x80\x01", 3);
}

static void
test_varint_checked_refuses(void **state)
{
    (void)state;
    uint64_t v;
    /* overlong forms of 0 and 1 */
    assert_int_equal(
            types_varint_read_checked((const uint8_t *)"\x80\x00", 2, &v), 0);
    assert_int_equal(
            types_varint_read_checked((const uint8_t *)"\x81\x80\x00", 3, &v),
            0);
    /* unterminated */
    assert_int_equal(
            types_varint_read_checked((const uint8_t *)"\x80", 1, &v), 0);
    /* 10 bytes whose last holds more than bit 63 */
    const uint8_t over[] = {
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
    assert_int_equal(types_varint_read_checked(over, sizeof(over), &v), 0);
    /* 11 bytes */
    const uint8_t eleven[] = {
            0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00};
    assert_int_equal(types_varint_read_checked(eleven, sizeof(eleven), &v), 0);
    /* the largest one is fine */
    const uint8_t max[] = {
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    assert_int_equal(types_varint_read_checked(max, sizeof(max), &v), 10);
    assert_true(v == UINT64_MAX);
    /* trailing bytes are not its business */
    assert_int_equal(
            types_varint_read_checked((const uint8_t *)"\x05\x80", 2, &v), 1);
    assert_int_equal(v, 5);
}

static void
test_types_hash_pinned(void **state)
{
    (void)state;
    /* buckets are chosen by this hash: a change here must be a format
     * change, made on purpose */
    assert_true(types_hash("", 0) == 0x58fc0a34ba98eb23ULL);
    assert_true(types_hash("field", 5) == 0x5f1c193020fff731ULL);
    assert_true(types_hash("field", 5) != types_hash("field", 4));
}

/* Big-endian fixed-width integers: the bytes in numeric order for every
 * width (8 has its own path), and back. */
static void
test_be_round_trip(void **state)
{
    (void)state;
    const uint64_t v = 0x0102030405060708ULL;
    for (int n = 1; n <= 8; n++) {
        uint8_t b[9] = {0};
        types_be_put(b, v, n);
        for (int i = 0; i < n; i++) {
            assert_int_equal(b[i], 8 - n + 1 + i);
        }
        assert_int_equal(b[n], 0); /* nothing past the width */
        uint64_t mask = n == 8 ? UINT64_MAX : (1ULL << (8 * n)) - 1;
        assert_int_equal(types_be_get(b, n), v & mask);
    }
    uint8_t b[8];
    types_be_put(b, UINT64_MAX - 1, 8);
    assert_int_equal(types_be_get(b, 8), UINT64_MAX - 1);
    assert_int_equal(b[7], 0xfe);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_varint_boundaries),
            cmocka_unit_test(test_varint_layout),
            cmocka_unit_test(test_varint_checked_refuses),
            cmocka_unit_test(test_types_hash_pinned),
            cmocka_unit_test(test_be_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
