/* SPDX-License-Identifier: Apache-2.0 */
/* Log-linear latency histogram: lock-free recording from any thread,
 * percentiles read from any thread (a racy but consistent-enough view). */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct histogram;

struct histogram *histogram_create(void);     /* NULL on failure */
void histogram_destroy(struct histogram **h); /* NULL-safe */
void histogram_record(struct histogram *h, uint64_t value);
void histogram_reset(struct histogram *h);
uint64_t histogram_count(const struct histogram *h);
uint64_t histogram_sum(const struct histogram *h);
/* The value at quantile q in [0, 1] (an upper bound of its bucket, within
 * the histogram's relative error, documented in the .c); 0 when empty. */
uint64_t histogram_percentile(const struct histogram *h, double q);
/* Several quantiles (qs ascending, each in [0, 1]) from one pass, so they
 * agree with each other and with the count returned. */
uint64_t histogram_percentiles(
        const struct histogram *h, const double *qs, size_t n, uint64_t *out);
/* The largest relative error of a percentile: (reported - true) / true is
 * within [0, HISTOGRAM_REL_ERROR]; values below 128 are exact. */
#define HISTOGRAM_REL_ERROR (1.0 / 128)
