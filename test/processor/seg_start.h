/* SPDX-License-Identifier: Apache-2.0 */
/* The collection tests' store: seg.memory and seg.segment_size as given,
 * no background thread (the tests drive eviction themselves), counters
 * into *m. Include after unit.h and storage/seg/seg.h. */
#pragma once

/* The same under eviction policy evict (seg.evict: "none" refuses writes
 * when full). */
static inline void
seg_start_evict(
        seg_metrics_st *m, size_t memory, size_t segment, const char *evict)
{
    seg_options_st o = {SEG_OPTION(INIT_OPTION)};
    o.seg_memory.val.OPTION_SIZE = memory;
    o.seg_segment_size.val.OPTION_SIZE = segment;
    o.seg_evict.val.OPTION_STR = evict;
    o.seg_background.val.OPTION_BOOL = false;
    *m = (seg_metrics_st){SEG_METRIC(INIT_METRIC)};
    assert_int_equal(seg_setup(&o, m), STATUS_OK);
}

static inline void
seg_start(seg_metrics_st *m, size_t memory, size_t segment)
{
    seg_start_evict(m, memory, segment, "merge");
}
