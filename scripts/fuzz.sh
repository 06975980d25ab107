#!/usr/bin/env bash
# Runs one libFuzzer target for a while on a copy of its seed corpus:
#   scripts/fuzz.sh [--merge] [--no-build] TARGET SECONDS [libFuzzer flags...]
# TARGET is the name in test/fuzz/ with or without "fuzz_" (memcache_parse,
# resp_parse, admin_parse, ping_parse, option, seg). The corpus is never
# written in place: new inputs go to a scratch folder, and with --merge only
# those that add coverage (libFuzzer -merge=1) are copied back into
# test/fuzz/corpus/TARGET/. test/fuzz/dict/TARGET.dict is used when present.
# Each run's libFuzzer log is kept in BUILD/fuzz-logs/; the summary line
# gives executions and the final cov: / ft: figures.
#
# Build: by default `scripts/build.sh fuzz` (clang, ASan+UBSan, -DFUZZ=ON)
# into build/fuzz. FUZZ_BUILD_DIR=DIR uses another folder configured the same
# way and builds only fuzz_TARGET there with one job; --no-build skips it.
# Meant to run at low priority: nice -n 19 scripts/fuzz.sh resp_parse 600
#
# Extra flags go to libFuzzer, e.g. -fork=1 -ignore_crashes=1 to keep going
# past a known crash and collect every distinct one.
# Exit status: 0 no finding, 1 a finding (crash, leak, timeout or OOM: its
# input is kept and printed), 64 usage. The scratch folder is kept on a
# finding. Slow units are kept in BUILD/fuzz-logs/slow/ and reported only.
set -euo pipefail
# The whole script is one block, read before it runs: editing this file
# while a long run is going cannot change what that run does next.
{
root=$(cd "$(dirname "$0")/.." && pwd)

usage() {
    sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 64
}

merge=0
build=1
while [ $# -gt 0 ]; do
    case "$1" in
        --merge) merge=1; shift ;;
        --no-build) build=0; shift ;;
        -h|--help) usage ;;
        --) shift; break ;;
        -*) echo "fuzz.sh: unknown option $1" >&2; usage ;;
        *) break ;;
    esac
done
[ $# -ge 2 ] || usage
target=${1#fuzz_}
seconds=$2
shift 2
case "$seconds" in
    ''|*[!0-9]*) echo "fuzz.sh: SECONDS must be a whole number" >&2; exit 64 ;;
esac
src="$root/test/fuzz/fuzz_$target.c"
corpus="$root/test/fuzz/corpus/$target"
dict="$root/test/fuzz/dict/$target.dict"
if [ ! -f "$src" ]; then
    echo "fuzz.sh: no target $src" >&2
    exit 64
fi

builddir=${FUZZ_BUILD_DIR:-$root/build/fuzz}
case "$builddir" in
    /*) ;;
    *) builddir="$PWD/$builddir" ;;
esac
if [ "$build" = 1 ]; then
    if [ -z "${FUZZ_BUILD_DIR:-}" ]; then
        "$root/scripts/build.sh" fuzz
    else
        cmake -S "$root" -B "$builddir" -DCMAKE_BUILD_TYPE=Debug \
            -DSANITIZE=address -DFUZZ=ON -DCMAKE_C_COMPILER=clang \
            -DPython3_EXECUTABLE=/usr/bin/python3 >/dev/null
        cmake --build "$builddir" --target "fuzz_$target" -j1 >/dev/null
    fi
fi
bin="$builddir/test/fuzz/fuzz_$target"
if [ ! -x "$bin" ]; then
    echo "fuzz.sh: $bin not built (configure with -DFUZZ=ON and clang)" >&2
    exit 64
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/fuzz-$target.XXXXXX")
mkdir -p "$work/corpus" "$work/artifacts"
if [ -d "$corpus" ]; then
    cp -p "$corpus"/. "$work/corpus/" -R
fi
# -timeout is wall time: generous, since a shared or paused VM can stall a
# run for tens of seconds (replay a timeout input before believing it)
flags=(-max_total_time="$seconds" -timeout=60 -rss_limit_mb=2048
       -print_final_stats=1 -artifact_prefix="$work/artifacts/")
if [ -f "$dict" ]; then
    flags+=(-dict="$dict")
fi
# ASan/UBSan as the ctest replay sees them; leaks are findings too
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
echo "fuzz.sh: $bin for ${seconds}s on $work/corpus (log $work/fuzz.log)"
set +e
"$bin" "${flags[@]}" "$@" "$work/corpus" >"$work/fuzz.log" 2>&1
rc=$?
set -e
# keep the log of every run next to the binaries, for the figures
mkdir -p "$builddir/fuzz-logs"
log="$builddir/fuzz-logs/$target-$(date -u +%Y%m%dT%H%M%SZ).log"
cp "$work/fuzz.log" "$log"

# the last status line holds cov: and ft:; -print_final_stats the totals
last=$(grep -E '^#[0-9]+' "$work/fuzz.log" | tail -n 1 || true)
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/fuzz.log")
if [ -z "$execs" ]; then # -fork=N prints no stat:: lines
    execs=$(sed -n 's/^#\([0-9]*\).*/\1/p' <<<"$last")
fi
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/fuzz.log")
rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$work/fuzz.log")
cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
echo "fuzz.sh: $target seconds=$seconds execs=${execs:-?} exec/s=${rate:-?}" \
    "cov=${cov:-?} ft=${ft:-?} peak_rss_mb=${rss:-?} exit=$rc log=$log"

# a slow unit is timing, often a loaded machine: replay it to judge
slow=$(find "$work/artifacts" -type f -name 'slow-unit-*' | sort)
for f in $slow; do
    mkdir -p "$builddir/fuzz-logs/slow"
    cp "$f" "$builddir/fuzz-logs/slow/$target-$(basename "$f")"
    echo "fuzz.sh: slow unit ($(sed -n 's/^Slowest unit: \(.*\):$/\1/p' \
        "$work/fuzz.log" | tail -n 1)) kept as" \
        "$builddir/fuzz-logs/slow/$target-$(basename "$f"); replay it" >&2
done
findings=$(find "$work/artifacts" -type f ! -name 'slow-unit-*' | sort)
if [ "$rc" != 0 ] || [ -n "$findings" ]; then
    echo "fuzz.sh: FINDING in $target (exit $rc); log and inputs kept:" >&2
    grep -E 'ERROR:|SUMMARY:|runtime error|deadly signal|Test unit written' \
        "$work/fuzz.log" | head -n 20 >&2 || true
    for f in $findings; do
        echo "  $f" >&2
    done
    echo "  replay: $bin $(echo "$findings" | head -n 1)" >&2
    exit 1
fi

if [ "$merge" = 1 ]; then
    before=$(find "$corpus" -type f | wc -l)
    mkdir -p "$corpus"
    "$bin" -merge=1 -timeout=60 -rss_limit_mb=2048 "$corpus" "$work/corpus" \
        >"$work/merge.log" 2>&1
    after=$(find "$corpus" -type f | wc -l)
    echo "fuzz.sh: merged $((after - before)) new inputs into $corpus" \
        "($after files)"
fi
rm -rf "$work"
exit 0
}
