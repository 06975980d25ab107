#!/usr/bin/env bash
# Configures and builds one flavour into build/<flavour>:
#   scripts/build.sh release|debug|asan|tsan|fuzz [extra cmake args]
set -euo pipefail
cd "$(dirname "$0")/.."
flavour=${1:-release}
shift || true
case "$flavour" in
    release) args=(-DCMAKE_BUILD_TYPE=Release) ;;
    debug) args=(-DCMAKE_BUILD_TYPE=Debug) ;;
    asan) args=(-DCMAKE_BUILD_TYPE=Debug -DSANITIZE=address) ;;
    tsan) args=(-DCMAKE_BUILD_TYPE=Debug -DSANITIZE=thread) ;;
    fuzz) args=(-DCMAKE_BUILD_TYPE=Debug -DSANITIZE=address -DFUZZ=ON
                -DCMAKE_C_COMPILER=clang) ;;
    *) echo "usage: $0 release|debug|asan|tsan|fuzz" >&2; exit 64 ;;
esac
cmake -S . -B "build/$flavour" -DPython3_EXECUTABLE=/usr/bin/python3 \
    "${args[@]}" "$@" >/dev/null
cmake --build "build/$flavour" -j "$(nproc)"
