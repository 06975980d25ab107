/* SPDX-License-Identifier: Apache-2.0 */
/* HyperLogLog in Redis 7.0.15's string format (hll.h). Written from the
 * format and the estimator's paper; the sparse update follows the same
 * steps as Redis's (find the opcode, split it into at most three, merge
 * equal neighbours in a window of five opcodes), because the bytes it
 * leaves must be Redis's bytes. */
#include "types/hll.h"

#include <math.h>
#include <string.h>

/* clang-format off */
#define HLL_Q          (64 - HLL_P)   /* hash bits left for the run: 50 */
#define HLL_REG_MAX    63
#define HLL_SEED       0xadc83b19u
#define HLL_ALPHA_INF  0.721347520444481703680 /* 1 / (2 ln 2) */
#define VAL_MAX_VALUE  32
#define VAL_MAX_LEN    4
#define ZERO_MAX_LEN   64
#define XZERO_MAX_LEN  16384
/* clang-format on */

/* ---- the hash: MurmurHash64A (Austin Appleby, public domain) ---- */

static uint64_t
load64le(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) {
        v = v << 8 | p[i];
    }
    return v;
}

static uint64_t
murmur64a(const void *key, size_t len, uint64_t seed)
{
    const uint64_t m = 0xc6a4a7935bd1e995ULL;
    const int r = 47;
    const uint8_t *data = key;
    uint64_t h = seed ^ ((uint64_t)len * m);
    size_t blocks = len / 8;
    for (size_t i = 0; i < blocks; i++) {
        uint64_t k = load64le(data + 8 * i);
        k *= m;
        k ^= k >> r;
        k *= m;
        h ^= k;
        h *= m;
    }
    const uint8_t *tail = data + 8 * blocks;
    size_t rest = len & 7;
    if (rest > 0) {
        for (size_t i = rest; i > 0; i--) {
            h ^= (uint64_t)tail[i - 1] << (8 * (i - 1));
        }
        h *= m;
    }
    h ^= h >> r;
    h *= m;
    h ^= h >> r;
    return h;
}

uint32_t
hll_pattern(const void *ele, size_t elen, uint8_t *count)
{
    uint64_t hash = murmur64a(ele, elen, HLL_SEED);
    uint32_t idx = (uint32_t)(hash & (HLL_REGISTERS - 1));
    hash >>= HLL_P;
    hash |= 1ULL << HLL_Q; /* a run ends by bit 50 at the latest */
    *count = (uint8_t)(__builtin_ctzll(hash) + 1);
    return idx;
}

/* ---- header ---- */

bool
hll_is_hll(const uint8_t *p, size_t len)
{
    if (len < HLL_HDR_SIZE || memcmp(p, "HYLL", 4) != 0 || p[4] > HLL_SPARSE) {
        return false;
    }
    return p[4] != HLL_DENSE || len == HLL_DENSE_SIZE;
}

bool
hll_cache_valid(const uint8_t *p)
{
    return (p[15] & 0x80) == 0;
}

uint64_t
hll_cache_get(const uint8_t *p)
{
    return load64le(p + 8);
}

void
hll_cache_set(uint8_t *p, uint64_t card)
{
    for (int i = 0; i < 8; i++) {
        p[8 + i] = (uint8_t)(card >> (8 * i));
    }
}

void
hll_cache_invalidate(uint8_t *p)
{
    p[15] |= 0x80;
}

static void
xzero_put(uint8_t *p, uint32_t n)
{
    p[0] = (uint8_t)(0x40 | (n - 1) >> 8);
    p[1] = (uint8_t)((n - 1) & 0xff);
}

size_t
hll_init(uint8_t *dst)
{
    memset(dst, 0, HLL_HDR_SIZE);
    memcpy(dst, "HYLL", 4);
    dst[4] = HLL_SPARSE;
    xzero_put(dst + HLL_HDR_SIZE, XZERO_MAX_LEN);
    return HLL_EMPTY_SIZE;
}

/* ---- dense registers ---- */

static uint8_t
dense_get(const uint8_t *r, uint32_t i)
{
    uint32_t bit = i * 6, byte = bit >> 3, fb = bit & 7;
    unsigned v = (unsigned)r[byte] >> fb;
    if (fb > 2) { /* the register runs into the next byte */
        v |= (unsigned)r[byte + 1] << (8 - fb);
    }
    return (uint8_t)(v & HLL_REG_MAX);
}

static void
dense_put(uint8_t *r, uint32_t i, uint8_t v)
{
    uint32_t bit = i * 6, byte = bit >> 3, fb = bit & 7;
    r[byte] = (uint8_t)((r[byte] & ~(HLL_REG_MAX << fb)) | (v << fb));
    if (fb > 2) {
        r[byte + 1] = (uint8_t)((r[byte + 1] & ~(HLL_REG_MAX >> (8 - fb))) |
                                (v >> (8 - fb)));
    }
}

static hll_status_e
dense_raise(uint8_t *r, uint32_t i, uint8_t v)
{
    if (v <= dense_get(r, i)) {
        return HLL_UNCHANGED;
    }
    dense_put(r, i, v);
    return HLL_CHANGED;
}

/* ---- sparse opcodes ---- */

static bool
is_zero(const uint8_t *p)
{
    return (*p & 0xc0) == 0;
}

static bool
is_xzero(const uint8_t *p)
{
    return (*p & 0xc0) == 0x40;
}

static bool
is_val(const uint8_t *p)
{
    return (*p & 0x80) != 0;
}

static uint32_t
val_value(const uint8_t *p)
{
    return ((*p >> 2) & 0x1f) + 1u;
}

static uint32_t
val_len(const uint8_t *p)
{
    return (*p & 3) + 1u;
}

static void
val_put(uint8_t *p, uint32_t value, uint32_t len)
{
    *p = (uint8_t)(0x80 | (value - 1) << 2 | (len - 1));
}

/* An opcode at p (p < end): registers it covers and its bytes. An XZERO
 * cut short by the end reads its second byte as 0, as Redis reads the
 * string's terminator there. */
static uint32_t
op_span(const uint8_t *p, const uint8_t *end, size_t *oplen)
{
    *oplen = 1;
    if (is_zero(p)) {
        return (*p & 0x3fu) + 1;
    }
    if (is_val(p)) {
        return val_len(p);
    }
    *oplen = 2;
    uint32_t lo = p + 1 < end ? p[1] : 0;
    return ((*p & 0x3fu) << 8 | lo) + 1;
}

/* Walks a sparse body into regs[] (8-bit registers, raised to the max with
 * what is there: merge) as Redis's sparse readers do: a VAL run past the
 * last register stops the walk, and the runs must cover exactly every
 * register. */
static hll_status_e
sparse_walk(const uint8_t *p, const uint8_t *end, uint8_t *regs)
{
    uint64_t idx = 0;
    while (p < end) {
        size_t oplen;
        uint32_t run = op_span(p, end, &oplen);
        if (is_val(p)) {
            if (idx + run > HLL_REGISTERS) {
                break;
            }
            uint8_t v = (uint8_t)val_value(p);
            for (uint32_t k = 0; k < run; k++, idx++) {
                regs[idx] = regs[idx] < v ? v : regs[idx];
            }
        } else {
            idx += run;
        }
        p += oplen;
    }
    return idx == HLL_REGISTERS ? HLL_UNCHANGED : HLL_ECORRUPT;
}

hll_status_e
hll_to_dense(uint8_t *buf, size_t *len, size_t cap)
{
    if (buf[4] == HLL_DENSE) {
        return HLL_UNCHANGED;
    }
    uint8_t regs[HLL_REGISTERS];
    memset(regs, 0, sizeof(regs));
    if (cap < HLL_DENSE_SIZE || sparse_walk(buf + HLL_HDR_SIZE, buf + *len,
                                        regs) != HLL_UNCHANGED) {
        return HLL_ECORRUPT;
    }
    buf[4] = HLL_DENSE; /* the rest of the header stays, cache included */
    uint8_t *r = buf + HLL_HDR_SIZE;
    memset(r, 0, HLL_DENSE_SIZE - HLL_HDR_SIZE);
    for (uint32_t i = 0; i < HLL_REGISTERS; i++) {
        if (regs[i] != 0) {
            dense_put(r, i, regs[i]);
        }
    }
    *len = HLL_DENSE_SIZE;
    return HLL_CHANGED;
}

static hll_status_e
promote(uint8_t *buf, size_t *len, size_t cap, uint32_t idx, uint8_t val)
{
    if (hll_to_dense(buf, len, cap) == HLL_ECORRUPT) {
        return HLL_ECORRUPT;
    }
    dense_raise(buf + HLL_HDR_SIZE, idx, val);
    return HLL_CHANGED; /* a promotion is a change even if idx was there */
}

/* The run of `len` zero registers: ZERO up to 64, XZERO beyond. */
static uint8_t *
zeros_put(uint8_t *n, uint32_t len)
{
    if (len > ZERO_MAX_LEN) {
        xzero_put(n, len);
        return n + 2;
    }
    *n = (uint8_t)(len - 1);
    return n + 1;
}

/* After a change at the opcode after prev: equal VAL neighbours become one
 * while their runs fit, scanning at most five opcodes (Redis's window). */
static void
merge_window(uint8_t *p, uint8_t **end, size_t *len)
{
    int scan = 5;
    while (p < *end && scan-- > 0) {
        if (is_xzero(p)) {
            p += 2;
            continue;
        }
        if (is_zero(p)) {
            p++;
            continue;
        }
        if (p + 1 < *end && is_val(p + 1) && val_value(p) == val_value(p + 1)) {
            uint32_t run = val_len(p) + val_len(p + 1);
            if (run <= VAL_MAX_LEN) {
                val_put(p + 1, val_value(p), run);
                memmove(p, p + 1, (size_t)(*end - p - 1));
                (*end)--;
                (*len)--;
                continue; /* and try the merged one with the next */
            }
        }
        p++;
    }
}

/* Splits the opcode at p, which covers [first, last], around register idx
 * set to val; returns the new opcodes' length in seq (at most 5). */
static size_t
split(const uint8_t *p, uint64_t first, uint64_t last, uint32_t idx,
        uint8_t val, uint8_t seq[5])
{
    uint8_t *n = seq;
    if (!is_val(p)) {
        if (idx != first) {
            n = zeros_put(n, (uint32_t)(idx - first));
        }
        val_put(n++, val, 1);
        if (idx != last) {
            n = zeros_put(n, (uint32_t)(last - idx));
        }
    } else {
        uint32_t cur = val_value(p);
        if (idx != first) {
            val_put(n++, cur, (uint32_t)(idx - first));
        }
        val_put(n++, val, 1);
        if (idx != last) {
            val_put(n++, cur, (uint32_t)(last - idx));
        }
    }
    return (size_t)(n - seq);
}

static hll_status_e
sparse_set(uint8_t *buf, size_t *len, size_t cap, uint32_t idx, uint8_t val,
        size_t sparse_max)
{
    if (val > VAL_MAX_VALUE) {
        return promote(buf, len, cap, idx, val);
    }
    uint8_t *sparse = buf + HLL_HDR_SIZE, *end = buf + *len;
    uint8_t *p = sparse, *prev = NULL;
    uint64_t first = 0;
    uint32_t span = 0;
    size_t oplen = 1;
    while (p < end) {
        span = op_span(p, end, &oplen);
        if (idx <= first + span - 1) {
            break;
        }
        prev = p;
        p += oplen;
        first += span;
    }
    if (span == 0 || p >= end || p + oplen > end) {
        return HLL_ECORRUPT; /* past the runs, or an XZERO cut short */
    }
    if (is_val(p) && val_value(p) >= val) {
        return HLL_UNCHANGED;
    }
    if (span == 1 && !is_xzero(p)) { /* a single register: in place */
        val_put(p, val, 1);
    } else {
        uint8_t seq[5];
        size_t seqlen = split(p, first, first + span - 1, idx, val, seq);
        ptrdiff_t delta = (ptrdiff_t)seqlen - (ptrdiff_t)oplen;
        if (delta > 0 && *len + (size_t)delta > sparse_max) {
            return promote(buf, len, cap, idx, val);
        }
        if (*len + (size_t)(delta > 0 ? delta : 0) > cap) {
            return HLL_ECORRUPT; /* the caller's buffer is too small */
        }
        uint8_t *next = p + oplen;
        memmove(next + delta, next, (size_t)(end - next));
        memcpy(p, seq, seqlen);
        *len = (size_t)((ptrdiff_t)*len + delta);
        end += delta;
    }
    merge_window(prev != NULL ? prev : sparse, &end, len);
    return HLL_CHANGED;
}

hll_status_e
hll_raise(uint8_t *buf, size_t *len, size_t cap, uint32_t idx, uint8_t val,
        size_t sparse_max)
{
    if (buf[4] == HLL_DENSE) {
        return dense_raise(buf + HLL_HDR_SIZE, idx, val);
    }
    return sparse_set(buf, len, cap, idx, val, sparse_max);
}

hll_status_e
hll_add(uint8_t *buf, size_t *len, size_t cap, const void *ele, size_t elen,
        size_t sparse_max)
{
    uint8_t count;
    uint32_t idx = hll_pattern(ele, elen, &count);
    return hll_raise(buf, len, cap, idx, count, sparse_max);
}

int
hll_register(const uint8_t *p, size_t len, uint32_t idx)
{
    if (p[4] == HLL_DENSE) {
        return dense_get(p + HLL_HDR_SIZE, idx);
    }
    const uint8_t *q = p + HLL_HDR_SIZE, *end = p + len;
    uint64_t first = 0;
    while (q < end) {
        size_t oplen;
        uint32_t run = op_span(q, end, &oplen);
        if (idx < first + run) {
            return is_val(q) ? (int)val_value(q) : 0;
        }
        first += run;
        q += oplen;
    }
    return -1;
}

/* ---- merge and count ---- */

hll_status_e
hll_merge(uint8_t max[HLL_REGISTERS], const uint8_t *p, size_t len)
{
    if (p[4] == HLL_DENSE) {
        const uint8_t *r = p + HLL_HDR_SIZE;
        for (uint32_t i = 0; i < HLL_REGISTERS; i++) {
            uint8_t v = dense_get(r, i);
            max[i] = max[i] < v ? v : max[i];
        }
        return HLL_UNCHANGED;
    }
    return sparse_walk(p + HLL_HDR_SIZE, p + len, max);
}

/* Ertl's sigma and tau ("New cardinality estimation algorithms for
 * HyperLogLog sketches", arXiv:1702.01284), iterated to a fixed point. */
static double
sigma(double x)
{
    if (x == 1.) {
        return INFINITY;
    }
    double y = 1, z = x, prev;
    do {
        x *= x;
        prev = z;
        z += x * y;
        y += y;
    } while (prev != z);
    return z;
}

static double
tau(double x)
{
    if (x == 0. || x == 1.) {
        return 0.;
    }
    double y = 1.0, z = 1 - x, prev;
    do {
        x = sqrt(x);
        prev = z;
        y *= 0.5;
        z -= pow(1 - x, 2) * y;
    } while (prev != z);
    return z / 3;
}

/* The estimate from the histogram of register values. */
static uint64_t
estimate(const uint64_t hist[64])
{
    double m = HLL_REGISTERS;
    double z = m * tau((m - (double)hist[HLL_Q + 1]) / m);
    for (int j = HLL_Q; j >= 1; --j) {
        z += (double)hist[j];
        z *= 0.5;
    }
    z += m * sigma((double)hist[0] / m);
    double e = (double)llroundl(HLL_ALPHA_INF * m * m / z);
    return (uint64_t)e;
}

hll_status_e
hll_count(const uint8_t *p, size_t len, uint64_t *card)
{
    uint64_t hist[64] = {0};
    if (p[4] == HLL_DENSE) {
        const uint8_t *r = p + HLL_HDR_SIZE;
        for (uint32_t i = 0; i < HLL_REGISTERS; i++) {
            hist[dense_get(r, i)]++;
        }
    } else {
        const uint8_t *q = p + HLL_HDR_SIZE, *end = p + len;
        uint64_t idx = 0;
        while (q < end) {
            size_t oplen;
            uint32_t run = op_span(q, end, &oplen);
            hist[is_val(q) ? val_value(q) : 0] += run;
            idx += run;
            q += oplen;
        }
        if (idx != HLL_REGISTERS) {
            return HLL_ECORRUPT;
        }
    }
    *card = estimate(hist);
    return HLL_UNCHANGED;
}

uint64_t
hll_count_raw(const uint8_t max[HLL_REGISTERS])
{
    uint64_t hist[64] = {0};
    for (uint32_t i = 0; i < HLL_REGISTERS; i++) {
        hist[max[i] & 63]++;
    }
    return estimate(hist);
}
