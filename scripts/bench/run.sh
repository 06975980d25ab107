#!/usr/bin/env bash
# Benchmarks segcached against memcached and redis-server on this machine and
# writes build/bench/report.md with its plots (docs/benchmarks.md says how to
# read it). Installs what is missing and builds build/release first, unless
# --bin names a segcached binary to use as it is.
#   scripts/bench/run.sh                 the full run (~30 minutes on 2 cores,
#                                        17 of them load 7's overwrite runs)
#   scripts/bench/run.sh --quick         a smoke run (under 3 minutes)
#   scripts/bench/run.sh --loads 7       only the overwrite load (issue 13)
#   scripts/bench/run.sh --loads 8,9     hashes and sets: memory, speed
#                                        (issue 15; not in the default set)
#   scripts/bench/run.sh --loads 10      transactions beside other clients
#                                        (issue 17; not in the default set)
#   scripts/bench/run.sh --loads 11      pub/sub beside Redis (issue 19;
#                                        not in the default set)
#   scripts/bench/run.sh --loads 12      transactions on one worker, GET/SET
#                                        on the other (issue 17; not in
#                                        the default set)
#   scripts/bench/run.sh --loads 13      misses per byte: Zipf 1.0 at 64 and
#                                        128 MiB, Zipf 0.8, a 50% scan, all
#                                        three servers (issue 22; ~25 min;
#                                        not in the default set)
#   scripts/bench/run.sh --loads 14      a leaderboard and a work queue
#                                        beside Redis (issue 16; not in
#                                        the default set)
#   options: --bin PATH  --out DIR  --reps N  --loads 1,...,14
#            --ow-seconds 10,60  --ow-budgets 64,256  --types-scale 0.1
#            --report-only
set -euo pipefail
cd "$(dirname "$0")/../.."
command="scripts/bench/run.sh${*:+ $*}"

bin="" out="build/bench"
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
    case "${args[i]}" in
        --bin) bin=${args[i + 1]:-} ;;
        --out) out=${args[i + 1]:-} ;;
    esac
done
if [ -z "$bin" ]; then
    scripts/setup.sh
    scripts/build.sh release
    bin=build/release/segcached
    set -- --bin "$bin" "$@"
fi
mkdir -p "$out"
loadgen="$out/loadgen"
if [ ! -x "$loadgen" ] || [ scripts/bench/loadgen.c -nt "$loadgen" ]; then
    cc -std=c11 -O2 -D_GNU_SOURCE -Wall -Wextra -o "$loadgen" \
        scripts/bench/loadgen.c -lm
fi
exec python3 scripts/bench/bench.py --loadgen "$loadgen" --command "$command" "$@"
