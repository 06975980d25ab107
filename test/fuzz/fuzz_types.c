/* SPDX-License-Identifier: Apache-2.0 */
/* The value encodings of src/types/ under two kinds of input. First the raw
 * bytes as an image: pack_valid(), hashpack_valid() and intset_valid() must
 * not read out of bounds, and an image they accept is walked with every
 * accessor (which trust it); intset_parse() of the first bytes must round
 * trip through intset_fmt(). Then the bytes as a program of operations on a
 * pack hash, a pack set and an intset, each checked against a model after
 * every step: exact sizes (each new image is a malloc of exactly the size
 * X_size() gave, so ASan sees an overrun), valid(), contents, order. The
 * hash and the set are kept twice, as packs and as ipacks (the parts of
 * large collections), the same operations on both. Any difference
 * aborts. */
#include "fuzz.h"

#include "types/hashpack.h"
#include "types/intset.h"
#include "types/ipack.h"
#include "types/lhash.h"
#include "types/pack.h"
#include "types/types.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c)                                                               \
    do {                                                                       \
        if (!(c)) {                                                            \
            fprintf(stderr, "fuzz_types: %s:%d: %s\n", __FILE__, __LINE__,     \
                    #c);                                                       \
            abort();                                                           \
        }                                                                      \
    } while (0)

struct in {
    const uint8_t *p;
    size_t n;
};

static uint8_t
next(struct in *in)
{
    if (in->n == 0) {
        return 0;
    }
    in->n--;
    return *in->p++;
}

static bool
same(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

/* ---- raw bytes as images ---- */

static void
walk_pack(const uint8_t *p, size_t len)
{
    size_t count = pack_count(p, len);
    struct pack_iter it;
    pack_iter_init(&it, p, len);
    struct pack_elem e;
    size_t i = 0;
    while (pack_next(&it, &e)) {
        CHECK(e.p >= p && e.p + e.len <= p + len);
        struct pack_elem a = pack_at(p, len, i);
        CHECK(a.p == e.p && a.len == e.len);
        struct pack_pos pos;
        CHECK(pack_find(p, len, e.p, e.len, 1, &pos));
        CHECK(pos.index <= i);
        CHECK(pos.off == pack_offset(p, len, pos.index));
        i++;
    }
    CHECK(i == count);
    CHECK(pack_offset(p, len, count) == len);
    bool unique = pack_unique(p, len, 1);
    if (hashpack_valid(p, len)) {
        CHECK(count % 2 == 0);
        pack_iter_init(&it, p, len);
        struct pack_elem f, v;
        while (hashpack_next(&it, &f, &v)) {
            struct pack_elem got;
            CHECK(hashpack_get(p, len, f.p, f.len, &got));
            CHECK(got.p == v.p && got.len == v.len);
        }
    } else if (count % 2 == 0) {
        CHECK(!pack_unique(p, len, 2));
        CHECK(!unique);
    }
}

static void
walk_intset(const uint8_t *p, size_t len)
{
    size_t count = intset_count(p, len);
    CHECK(len == 1 + types_varint_size(count) + count * intset_width(p, len));
    struct intset_iter it;
    intset_iter_init(&it, p, len);
    int64_t v, prev = 0;
    size_t i = 0;
    while (intset_next(&it, &v)) {
        CHECK(i == 0 || prev < v);
        CHECK(intset_at(p, len, i) == v);
        size_t at;
        CHECK(intset_find(p, len, v, &at) && at == i);
        prev = v;
        i++;
    }
    CHECK(i == count);
}

/* An ipack it accepts: every group's first element found at its place or
 * at an equal one before it (ipack_valid() does not ask for unique ones). */
static void
walk_ipack(const uint8_t *p, size_t len, size_t stride)
{
    size_t plen = ipack_pack_len(p, len, stride);
    CHECK(pack_valid(p, plen));
    struct pack_iter it;
    struct pack_elem e;
    pack_iter_init(&it, p, plen);
    for (size_t i = 0; pack_next(&it, &e); i++) {
        if (i % stride != 0) {
            continue;
        }
        struct pack_pos pos;
        CHECK(ipack_find(p, len, stride, ipack_hash_of(types_hash(e.p, e.len)),
                e.p, e.len, &pos));
        CHECK(pos.index <= i && pos.index % stride == 0);
        struct pack_elem f = pack_at_offset(p, plen, pos.off);
        CHECK(same(f.p, f.len, e.p, e.len));
    }
}

static void
raw_checks(const uint8_t *data, size_t size)
{
    /* every truncation of a small input, so valid() sees short reads */
    for (size_t len = size > 64 ? size : 0; len <= size; len++) {
        if (pack_valid(data, len)) {
            walk_pack(data, len);
        }
        if (intset_valid(data, len)) {
            walk_intset(data, len);
        }
        for (size_t stride = 1; stride <= 2; stride++) {
            if (ipack_valid(data, len, stride)) {
                walk_ipack(data, len, stride);
            }
        }
    }
    size_t slen = size < 24 ? size : 24;
    int64_t v;
    if (intset_parse(data, slen, &v)) {
        /* canonical: formatting gives the same bytes back */
        char buf[INTSET_FMT_MAX];
        CHECK(same((const uint8_t *)buf, intset_fmt(v, buf), data, slen));
    }
}

/* ---- the program: models ---- */

#define EMAX  320
#define NPAIR 24
#define NMEM  48
#define NINT  64

struct str {
    uint8_t b[EMAX];
    size_t len;
};

static struct str hash_f[NPAIR], hash_v[NPAIR], set_m[NMEM];
static size_t hash_n, set_n;
static int64_t ints[NINT];
static size_t int_n, int_width;

static uint8_t *hash_img, *set_img, *int_img;
static size_t hash_len, set_len, int_len;
/* the same hash and set as ipacks */
static uint8_t *ihash_img, *iset_img;
static size_t ihash_len, iset_len;

/* An element: one of 16 short names mostly (so operations hit), else
 * bytes from the input with lengths up to and across 127/128. */
static void
elem(struct in *in, struct str *s)
{
    uint8_t b = next(in);
    if (b < 192) {
        s->len = (size_t)snprintf((char *)s->b, EMAX, "%s%u",
                b & 0x10 ? "-" : "", (unsigned)(b % 16));
        if ((b & 0x60) == 0x60) {
            s->len--; /* "" and "-" too */
        }
        return;
    }
    static const size_t edge[] = {127, 128, 129, 300};
    s->len = b >= 252 ? edge[b - 252] : next(in) % 64;
    for (size_t i = 0; i < s->len; i++) {
        s->b[i] = in->n > 0 ? next(in) : (uint8_t)('x' + i % 3);
    }
}

static int64_t
integer(struct in *in)
{
    uint8_t b = next(in);
    uint64_t u = 0;
    size_t bytes = (size_t)1 << (b % 4); /* 1, 2, 4 or 8 */
    for (size_t i = 0; i < bytes; i++) {
        u |= (uint64_t)next(in) << (8 * i);
    }
    if (bytes < 8 && (u >> (8 * bytes - 1)) != 0) {
        u |= ~0ULL << (8 * bytes);
    }
    return (int64_t)u;
}

static uint8_t *
fresh(size_t size)
{
    uint8_t *p = malloc(size);
    CHECK(p != NULL);
    return p;
}

static void
replace(uint8_t **img, size_t *len, uint8_t *dst, size_t size, size_t wrote)
{
    CHECK(wrote == size);
    free(*img);
    *img = dst;
    *len = size;
}

static size_t
hash_model_find(const struct str *f)
{
    for (size_t i = 0; i < hash_n; i++) {
        if (same(hash_f[i].b, hash_f[i].len, f->b, f->len)) {
            return i;
        }
    }
    return hash_n;
}

static size_t
set_model_find(const struct str *m)
{
    for (size_t i = 0; i < set_n; i++) {
        if (same(set_m[i].b, set_m[i].len, m->b, m->len)) {
            return i;
        }
    }
    return set_n;
}

static void
check_hash(void)
{
    CHECK(hashpack_valid(hash_img, hash_len));
    CHECK(hashpack_count(hash_img, hash_len) == hash_n);
    struct pack_iter it;
    pack_iter_init(&it, hash_img, hash_len);
    struct pack_elem f, v;
    size_t i = 0;
    while (hashpack_next(&it, &f, &v)) {
        CHECK(i < hash_n);
        CHECK(same(f.p, f.len, hash_f[i].b, hash_f[i].len));
        CHECK(same(v.p, v.len, hash_v[i].b, hash_v[i].len));
        CHECK(hashpack_strlen(hash_img, hash_len, f.p, f.len) == v.len);
        i++;
    }
    CHECK(i == hash_n);
    CHECK(ipack_valid(ihash_img, ihash_len, 2));
    size_t plen = ipack_pack_len(ihash_img, ihash_len, 2);
    CHECK(same(ihash_img, plen, hash_img, hash_len)); /* the same pack */
}

static void
check_set(void)
{
    CHECK(pack_valid(set_img, set_len) && pack_unique(set_img, set_len, 1));
    CHECK(pack_count(set_img, set_len) == set_n);
    struct pack_iter it;
    pack_iter_init(&it, set_img, set_len);
    struct pack_elem e;
    size_t i = 0;
    while (pack_next(&it, &e)) {
        CHECK(same(e.p, e.len, set_m[i].b, set_m[i].len));
        i++;
    }
    CHECK(i == set_n);
    CHECK(ipack_valid(iset_img, iset_len, 1));
    size_t plen = ipack_pack_len(iset_img, iset_len, 1);
    CHECK(same(iset_img, plen, set_img, set_len));
}

static uint32_t
h32(const struct str *s)
{
    return ipack_hash_of(types_hash(s->b, s->len));
}

/* The ipack side of one change: find e, then append the group g (when
 * missing and add), replace element 1 of it (a hash's value), or delete
 * it. Checks the find against the model's answer. */
static void
ipack_change(uint8_t **img, size_t *len, size_t stride, const struct str *e,
        const struct str *v, bool add, bool found_model, size_t at)
{
    struct pack_pos pos;
    bool found = ipack_find(*img, *len, stride, h32(e), e->b, e->len, &pos);
    CHECK(found == found_model);
    CHECK(!found || pos.index == stride * at);
    size_t size;
    uint8_t *dst;
    if (add && !found) {
        struct pack_elem g[2] = {
                {e->b, e->len}, {v ? v->b : NULL, v ? v->len : 0}};
        size = ipack_append_size(*img, *len, stride, g);
        dst = fresh(size);
        replace(img, len, dst, size,
                ipack_append_write(dst, *img, *len, stride, g, h32(e)));
    } else if (add && stride == 2) {
        size = ipack_replace_size(*img, *len, stride, &pos, 1, v->len);
        dst = fresh(size);
        replace(img, len, dst, size,
                ipack_replace_write(
                        dst, *img, *len, stride, &pos, 1, v->b, v->len));
    } else if (!add && found) {
        size = ipack_delete_size(*img, *len, stride, &pos);
        dst = fresh(size);
        replace(img, len, dst, size,
                ipack_delete_write(dst, *img, *len, stride, &pos));
    }
}

static void
check_ints(void)
{
    CHECK(intset_valid(int_img, int_len));
    CHECK(intset_count(int_img, int_len) == int_n);
    CHECK(intset_width(int_img, int_len) == int_width);
    for (size_t i = 0; i < int_n; i++) {
        CHECK(intset_at(int_img, int_len, i) == ints[i]);
    }
}

/* ---- the program: operations ---- */

static void
op_hset(struct in *in)
{
    struct str f, v;
    elem(in, &f);
    elem(in, &v);
    size_t at = hash_model_find(&f);
    if (at == hash_n && hash_n == NPAIR) {
        return;
    }
    struct pack_pos pos;
    bool found = hashpack_find(hash_img, hash_len, f.b, f.len, &pos);
    CHECK(found == (at < hash_n));
    CHECK(pos.index == 2 * at);
    ipack_change(&ihash_img, &ihash_len, 2, &f, &v, true, found, at);
    size_t size = hashpack_set_size(hash_img, hash_len, &pos, f.len, v.len);
    uint8_t *dst = fresh(size);
    replace(&hash_img, &hash_len, dst, size,
            hashpack_set_write(
                    dst, hash_img, hash_len, &pos, f.b, f.len, v.b, v.len));
    if (!found) {
        hash_f[hash_n++] = f;
    }
    hash_v[at] = v;
}

static void
op_hdel(struct in *in)
{
    struct str f;
    elem(in, &f);
    size_t at = hash_model_find(&f);
    struct pack_pos pos;
    bool found = hashpack_find(hash_img, hash_len, f.b, f.len, &pos);
    CHECK(found == (at < hash_n));
    ipack_change(&ihash_img, &ihash_len, 2, &f, NULL, false, found, at);
    struct pack_elem v;
    CHECK(hashpack_get(hash_img, hash_len, f.b, f.len, &v) == found);
    if (!found) {
        CHECK(pos.off == hash_len);
        return;
    }
    CHECK(same(v.p, v.len, hash_v[at].b, hash_v[at].len));
    size_t size = hashpack_delete_size(hash_img, hash_len, &pos);
    uint8_t *dst = fresh(size);
    replace(&hash_img, &hash_len, dst, size,
            hashpack_delete_write(dst, hash_img, hash_len, &pos));
    memmove(&hash_f[at], &hash_f[at + 1],
            (hash_n - at - 1) * sizeof(hash_f[0]));
    memmove(&hash_v[at], &hash_v[at + 1],
            (hash_n - at - 1) * sizeof(hash_v[0]));
    hash_n--;
}

/* SADD/SREM on a pack set: members appended, deletes close up. */
static void
op_set(struct in *in, bool add)
{
    struct str m;
    elem(in, &m);
    size_t at = set_model_find(&m);
    struct pack_pos pos;
    bool found = pack_find(set_img, set_len, m.b, m.len, 1, &pos);
    CHECK(found == (at < set_n) && pos.index == at);
    int64_t v;
    if (intset_parse(m.b, m.len, &v)) {
        char buf[INTSET_FMT_MAX];
        CHECK(same((const uint8_t *)buf, intset_fmt(v, buf), m.b, m.len));
    }
    if ((add && set_n < NMEM) || !add) {
        ipack_change(&iset_img, &iset_len, 1, &m, NULL, add, found, at);
    }
    if (add && !found && set_n < NMEM) {
        size_t size = pack_insert_size(set_img, set_len, pos.off, m.len);
        uint8_t *dst = fresh(size);
        replace(&set_img, &set_len, dst, size,
                pack_insert_write(dst, set_img, set_len, pos.off, m.b, m.len));
        set_m[set_n++] = m;
    } else if (!add && found) {
        size_t size = pack_delete_size(set_img, set_len, pos.off, 1);
        uint8_t *dst = fresh(size);
        replace(&set_img, &set_len, dst, size,
                pack_delete_write(dst, set_img, set_len, pos.off, 1));
        memmove(&set_m[at], &set_m[at + 1],
                (set_n - at - 1) * sizeof(set_m[0]));
        set_n--;
    }
}

static size_t
width_of(int64_t v)
{
    if (v >= INT16_MIN && v <= INT16_MAX) {
        return 2;
    }
    return v >= INT32_MIN && v <= INT32_MAX ? 4 : 8;
}

static void
op_int(struct in *in, bool add)
{
    int64_t v = integer(in);
    size_t at = 0;
    while (at < int_n && ints[at] < v) {
        at++;
    }
    bool there = at < int_n && ints[at] == v;
    size_t got;
    CHECK(intset_find(int_img, int_len, v, &got) == there && got == at);
    if (add && !there && int_n < NINT) {
        size_t size = intset_add_size(int_img, int_len, v);
        uint8_t *dst = fresh(size);
        replace(&int_img, &int_len, dst, size,
                intset_add_write(dst, int_img, int_len, v));
        memmove(&ints[at + 1], &ints[at], (int_n - at) * sizeof(ints[0]));
        ints[at] = v;
        int_n++;
        if (width_of(v) > int_width) {
            int_width = width_of(v);
        }
    } else if (!add && there) {
        size_t size = intset_remove_size(int_img, int_len, v);
        uint8_t *dst = fresh(size);
        replace(&int_img, &int_len, dst, size,
                intset_remove_write(dst, int_img, int_len, v));
        memmove(&ints[at], &ints[at + 1], (int_n - at - 1) * sizeof(ints[0]));
        int_n--;
    }
}

/* lhash split of the hash and the set as if growing from n buckets: the
 * model keeps the half that stays or the half that moves. */
struct split {
    uint64_t n;
    bool moving;
};

static bool
keep_side(const uint8_t *e, size_t len, void *arg)
{
    const struct split *s = arg;
    return lhash_split_moves(types_hash(e, len), s->n) == s->moving;
}

static bool
keep_hash(uint32_t h, void *arg)
{
    const struct split *s = arg;
    return lhash_split_moves(h, s->n) == s->moving;
}

static void
op_split(struct in *in)
{
    struct split s = {1 + next(in) % 8, (next(in) & 1) != 0};
    size_t size = pack_filter_size(hash_img, hash_len, 2, keep_side, &s);
    uint8_t *dst = fresh(size);
    replace(&hash_img, &hash_len, dst, size,
            pack_filter_write(dst, hash_img, hash_len, 2, keep_side, &s));
    size_t w = 0;
    for (size_t i = 0; i < hash_n; i++) {
        if (keep_side(hash_f[i].b, hash_f[i].len, &s)) {
            hash_f[w] = hash_f[i];
            hash_v[w++] = hash_v[i];
        }
    }
    hash_n = w;
    /* the hash by a split (both sides at once): side 0 is what the filter
     * keeps, side 1 what it drops */
    struct ipack_split sp;
    ipack_split_size(ihash_img, ihash_len, 2, keep_hash, &s, &sp);
    uint8_t *const sides[2] = {fresh(sp.len[0]), fresh(sp.len[1])};
    ipack_split_write(sides, ihash_img, ihash_len, 2, keep_hash, &s, &sp);
    s.moving = !s.moving;
    size = ipack_filter_size(ihash_img, ihash_len, 2, keep_hash, &s);
    dst = fresh(size);
    CHECK(ipack_filter_write(dst, ihash_img, ihash_len, 2, keep_hash, &s) ==
                    sp.len[1] &&
            size == sp.len[1] && memcmp(dst, sides[1], size) == 0);
    free(dst);
    free(sides[1]);
    s.moving = !s.moving;
    replace(&ihash_img, &ihash_len, sides[0], sp.len[0], sp.len[0]);
    size = ipack_filter_size(iset_img, iset_len, 1, keep_hash, &s);
    dst = fresh(size);
    replace(&iset_img, &iset_len, dst, size,
            ipack_filter_write(dst, iset_img, iset_len, 1, keep_hash, &s));
    size = pack_filter_size(set_img, set_len, 1, keep_side, &s);
    dst = fresh(size);
    replace(&set_img, &set_len, dst, size,
            pack_filter_write(dst, set_img, set_len, 1, keep_side, &s));
    w = 0;
    for (size_t i = 0; i < set_n; i++) {
        if (keep_side(set_m[i].b, set_m[i].len, &s)) {
            set_m[w++] = set_m[i];
        }
    }
    set_n = w;
}

static void
reset(void)
{
    free(hash_img);
    free(set_img);
    free(int_img);
    free(ihash_img);
    free(iset_img);
    ihash_img = fresh(1);
    ihash_len = pack_head_write(ihash_img, 0);
    iset_img = fresh(1);
    iset_len = pack_head_write(iset_img, 0);
    hash_img = fresh(1);
    hash_len = pack_head_write(hash_img, 0);
    set_img = fresh(1);
    set_len = pack_head_write(set_img, 0);
    int_img = fresh(INTSET_EMPTY_SIZE);
    int_len = intset_init(int_img);
    hash_n = set_n = int_n = 0;
    int_width = 2;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    raw_checks(data, size);
    reset();
    struct in in = {data, size};
    while (in.n > 0) {
        switch (next(&in) % 8) {
        case 0:
            op_hset(&in);
            break;
        case 1:
            op_hdel(&in);
            break;
        case 2:
            op_set(&in, true);
            break;
        case 3:
            op_set(&in, false);
            break;
        case 4:
            op_int(&in, true);
            break;
        case 5:
            op_int(&in, false);
            break;
        case 6:
            op_split(&in);
            break;
        default:
            if (next(&in) == 0xff) {
                reset();
            }
            break;
        }
        check_hash();
        check_set();
        check_ints();
    }
    free(hash_img);
    free(set_img);
    free(int_img);
    free(ihash_img);
    free(iset_img);
    hash_img = set_img = int_img = ihash_img = iset_img = NULL;
    return 0;
}
