#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The store's scaling table (docs/storage.md): bench_seg throughput for each
# mix, 1 and 2 threads alternating, RUNS times; prints every run, then the
# medians and 2/1. With a second binary, each run also alternates the two
# (an A/B of the same table).
#
#   scripts/bench/seg_scaling.sh BENCH_SEG [RUNS [SECONDS [MIXES [BENCH_B]]]]
#
# MIXES: space-separated GET_PCT/uniform|zipf (default: 100, 90, 50 percent
# gets, uniform and zipf). 64 MiB heap. Where the binary prints it, the
# median ops per second of the benchmark threads' own CPU time too (what
# the neighbours on a shared machine do not move). Hold the CPU lock around it on a
# shared machine. Nothing here asserts a number.
set -euo pipefail
a=${1:?usage: seg_scaling.sh BENCH_SEG [RUNS [SECONDS [MIXES [BENCH_B]]]]}
runs=${2:-3}
secs=${3:-3}
mixes=${4:-"100/uniform 90/uniform 50/uniform 100/zipf 90/zipf 50/zipf"}
b=${5:-}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for mix in $mixes; do
    pct=${mix%/*}
    dist=${mix#*/}
    for r in $(seq "$runs"); do
        for t in 1 2; do
            for bin in "$a" $b; do
                v=$("$bin" throughput 64 "$t" "$secs" 0 "$pct" "$dist" \
                    2>/dev/null | awk '/^ops_per_sec/ {o = $2}
                        /^ops_per_cpu_sec/ {c = $2} END {print o, c}')
                echo "$bin $pct $dist $t $v" | tee -a "$out"
            done
        done
    done
done
echo
echo "binary mix threads: median ops/s (runs), 2/1"
sort -k1,1 -k2,2nr -k3,3 -k4,4n -k5,5n "$out" | awk '
    function median(s,    n, v) {
        n = split(s, v, " ")
        return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
    }
    { k = $1 " " $2 "% get " $3; key[k] = 1; runs[k, $4] = runs[k, $4] " " $5
      if (NF > 5) cpu[k, $4] = cpu[k, $4] " " $6 }
    END {
        for (k in key) {
            m1 = median(runs[k, 1]); m2 = median(runs[k, 2])
            printf "%s: 1 thread %.2f M (%s), 2 threads %.2f M (%s), %.2fx\n",
                k, m1 / 1e6, runs[k, 1], m2 / 1e6, runs[k, 2], m2 / m1
            if ((k, 1) in cpu) {
                c1 = median(cpu[k, 1]); c2 = median(cpu[k, 2])
                printf "%s: per CPU second (the threads own CPU time) 1 " \
                    "thread %.2f M, 2 threads %.2f M\n", k, c1 / 1e6, c2 / 1e6
            }
        }
    }' | sort
