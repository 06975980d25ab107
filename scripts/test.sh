#!/usr/bin/env bash
# Set-up, build and every test: the normal build runs all labels, the
# ASan+UBSan build runs unit, integration and fuzz-replay, the TSan build
# runs unit (which includes the concurrency tests), and the libFuzzer build
# (clang) replays every corpus through the real fuzz targets, so clang's
# warnings and the fuzz harnesses are checked too. Exits non-zero on any
# failure. SEGCACHED_BUILDS="release asan tsan fuzz" picks flavours.
set -euo pipefail
cd "$(dirname "$0")/.."
builds=${SEGCACHED_BUILDS:-release asan tsan fuzz}

stage() { printf '\n=== %s (%s)\n' "$1" "$(date +%T)"; }
start=$(date +%s)

stage setup
scripts/setup.sh

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}
failed=0
for b in $builds; do
    case "$b" in
        release) labels="" ;;
        asan) labels="unit|integration|fuzz-replay" ;;
        tsan) labels="unit|concurrency" ;;
        fuzz) labels="fuzz-replay" ;;
        *) echo "unknown build $b" >&2; exit 64 ;;
    esac
    stage "build $b"
    scripts/build.sh "$b"
    stage "test $b"
    t0=$(date +%s)
    args=(--test-dir "build/$b" --output-on-failure -j 2 --timeout 600)
    [ -n "$labels" ] && args+=(-L "$labels")
    if [ "$b" = tsan ] && command -v setarch >/dev/null; then
        # TSan's fixed shadow layout needs ASLR off on kernels with many
        # mmap random bits.
        setarch "$(uname -m)" -R ctest "${args[@]}" || failed=1
    else
        ctest "${args[@]}" || failed=1
    fi
    echo "test $b took $(( $(date +%s) - t0 ))s"
done
echo "total $(( $(date +%s) - start ))s"
exit $failed
