/* SPDX-License-Identifier: Apache-2.0 */
/* Hot-key sampler benchmark (not a test): what hotkey_sample costs a
 * worker per keyed access, and what a tick costs the admin thread, with
 * 16-byte keys drawn uniformly from 1,000,000 (the worst case for the
 * summary: nearly every sample is a new key taking over a counter).
 *
 *   bench_hotkey [ACCESSES_MILLIONS [SAMPLE_RATE]]
 *
 * Prints "name value" lines: ns per access with the sampler, ns per access
 * of the same loop without it, their difference, and ms per tick. */
#include "hotkey/hotkey.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define NKEYS 4096 /* a ring of keys made before timing */

static uint64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static volatile uint64_t sink;

int
main(int argc, char **argv)
{
    uint64_t n = (argc > 1 ? strtoull(argv[1], NULL, 10) : 50) * 1000000;
    uint64_t rate = argc > 2 ? strtoull(argv[2], NULL, 10) : 100;
    static char keys[NKEYS][32];
    uint64_t x = 88172645463325252ULL;
    for (int i = 0; i < NKEYS; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        snprintf(keys[i], sizeof(keys[i]), "k%015llu",
                (unsigned long long)(x % 1000000));
    }
    hotkey_options_st o = {HOTKEY_OPTION(INIT_OPTION)};
    o.hotkey_sample_rate.val.OPTION_UINT = rate;
    if (hotkey_setup(&o, NULL, 1) != STATUS_OK) {
        return 1;
    }
    hotkey_worker_attach(0);
    hotkey_tick(1);
    /* the loop alone: pick a key, touch its first byte */
    uint64_t t0 = now_ns(), acc = 0;
    for (uint64_t i = 0; i < n; i++) {
        acc += (uint8_t)keys[i % NKEYS][1];
    }
    uint64_t bare = now_ns() - t0;
    sink = acc;
    uint64_t ticks = 0, tick_ns = 0;
    t0 = now_ns();
    for (uint64_t i = 0; i < n; i++) {
        const char *k = keys[i % NKEYS];
        acc += (uint8_t)k[1];
        hotkey_sample(0, k, 16, HK_HIT, HOTKEY_PROTO_RESP);
        if ((i & 0xfffff) == 0xfffff) { /* a tick per ~1M accesses */
            uint64_t s = now_ns();
            hotkey_tick(1000 * ++ticks + 1);
            tick_ns += now_ns() - s;
        }
    }
    uint64_t with = now_ns() - t0 - tick_ns;
    sink = acc;
    printf("accesses %llu\nsample_rate %llu\n", (unsigned long long)n,
            (unsigned long long)rate);
    printf("ns_per_access_bare %.2f\nns_per_access_sampled %.2f\n",
            (double)bare / n, (double)with / n);
    printf("ns_per_access_cost %.2f\n", (double)(with - bare) / n);
    printf("ms_per_tick %.3f\n", ticks ? (double)tick_ns / ticks / 1e6 : 0.0);
    hotkey_worker_detach();
    hotkey_teardown();
    return 0;
}
