/* SPDX-License-Identifier: Apache-2.0 */
/* Log-linear histogram over all of uint64 (HdrHistogram-like).
 *
 * Values below 2^P (P = 7) each get their own bucket. Every power-of-two
 * range [2^k, 2^(k+1)) above that is split into 2^P equal buckets of
 * width 2^(k-P), so a bucket is at most 1/2^P = 0.78% of its lower bound
 * wide. A percentile reports its bucket's upper bound: never below the
 * true value and at most 0.78% above it (HISTOGRAM_REL_ERROR).
 *
 *   index:  0 .. 127 | 128 .. 255       | 256 .. 383       | ...
 *   values: 0 .. 127 | 128 .. 255 (w 1) | 256 .. 511 (w 2) | ...
 *
 * 58 groups of 128 buckets cover 0 .. 2^64-1: 7424 uint64 counters, 58 KiB.
 * Recording is two relaxed atomic adds, lock-free from any thread; readers
 * see each counter atomically but not the whole array at one instant. */
#include "base/histogram.h"

#include "base/mm.h"
#include "base/util.h"

#include <string.h>

#define HIST_P       7
#define HIST_SUB     (1ULL << HIST_P)
#define HIST_NBUCKET ((64 - HIST_P + 1) * HIST_SUB)

struct histogram {
    uint64_t sum;
    uint64_t pad[CACHE_LINE / sizeof(uint64_t) - 1]; /* sum alone */
    uint64_t bucket[HIST_NBUCKET];
};

_Static_assert(HIST_SUB == 128, "HISTOGRAM_REL_ERROR in histogram.h is 1/128");

static size_t
bucket_of(uint64_t v)
{
    if (v < HIST_SUB) {
        return (size_t)v;
    }
    unsigned shift = 63u - (unsigned)__builtin_clzll(v) - HIST_P;
    return (size_t)(shift + 1) * HIST_SUB + (size_t)((v >> shift) - HIST_SUB);
}

static uint64_t
bucket_upper(size_t i)
{
    if (i < HIST_SUB) {
        return i;
    }
    unsigned shift = (unsigned)(i / HIST_SUB) - 1;
    uint64_t lower = ((i % HIST_SUB) + HIST_SUB) << shift;
    return lower + ((1ULL << shift) - 1);
}

struct histogram *
histogram_create(void)
{
    struct histogram *h = mm_aligned_alloc(CACHE_LINE, sizeof(*h));
    if (h != NULL) {
        memset(h, 0, sizeof(*h));
    }
    return h;
}

void
histogram_destroy(struct histogram **h)
{
    if (h != NULL) {
        mm_free(h);
    }
}

void
histogram_record(struct histogram *h, uint64_t value)
{
    __atomic_fetch_add(&h->bucket[bucket_of(value)], 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&h->sum, value, __ATOMIC_RELAXED);
}

void
histogram_reset(struct histogram *h)
{
    for (size_t i = 0; i < HIST_NBUCKET; i++) {
        __atomic_store_n(&h->bucket[i], 0, __ATOMIC_RELAXED);
    }
    __atomic_store_n(&h->sum, 0, __ATOMIC_RELAXED);
}

uint64_t
histogram_count(const struct histogram *h)
{
    uint64_t n = 0;
    for (size_t i = 0; i < HIST_NBUCKET; i++) {
        n += __atomic_load_n(&h->bucket[i], __ATOMIC_RELAXED);
    }
    return n;
}

uint64_t
histogram_sum(const struct histogram *h)
{
    return __atomic_load_n(&h->sum, __ATOMIC_RELAXED);
}

/* The 1-based rank of quantile q among count values. */
static uint64_t
rank_of(double q, uint64_t count)
{
    double r = q * (double)count;
    if (!(r > 1)) { /* also NaN */
        return 1;
    }
    if (r >= (double)count) {
        return count;
    }
    uint64_t rank = (uint64_t)r;
    return (double)rank < r ? rank + 1 : rank; /* ceil */
}

uint64_t
histogram_percentiles(
        const struct histogram *h, const double *qs, size_t n, uint64_t *out)
{
    uint64_t count = histogram_count(h);
    uint64_t cum = 0;
    uint64_t last = 0; /* upper bound of the last non-empty bucket seen */
    size_t j = 0;
    for (size_t i = 0; i < HIST_NBUCKET && j < n && count > 0; i++) {
        uint64_t c = __atomic_load_n(&h->bucket[i], __ATOMIC_RELAXED);
        if (c == 0) {
            continue;
        }
        cum += c;
        last = bucket_upper(i);
        while (j < n && cum >= rank_of(qs[j], count)) {
            ASSERT(j == 0 || qs[j] >= qs[j - 1]);
            out[j++] = last;
        }
    }
    /* empty, or counters reset while we read: the largest value seen */
    for (; j < n; j++) {
        out[j] = last;
    }
    return count;
}

uint64_t
histogram_percentile(const struct histogram *h, double q)
{
    uint64_t v;
    histogram_percentiles(h, &q, 1, &v);
    return v;
}
