#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# What the hot-key sampler (issue 20) costs a request, in instructions
# counted by callgrind (scripts/bench/instructions_ab.sh), on the memcache
# and resp ports, GET and SET:
#
#   1. a build without the sampler (this tree with the keyspace path's
#      access hook compiled out, built in $OUT/nohook) against this build
#      with hotkey.sample_rate=0: what the sampler costs when off;
#   2. this build with hotkey.sample_rate=0 against the default (1 in 100):
#      what sampling costs.
#
#   scripts/build.sh release && scripts/bench/hotkey_cost.sh [BINARY]
#
# Nothing here asserts a number; docs/benchmarks.md keeps the figures.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=$(realpath "${1:-build/release/segcached}")
OUT=${OUT:-/tmp/segcached-hotkey-cost}
SRC=$OUT/nohook
rm -rf "$SRC"
mkdir -p "$SRC"
# the tree as committed plus the working changes, without build outputs
git ls-files -z | xargs -0 cp --parents -t "$SRC"
python3 - "$SRC/src/processor/keyspace.c" <<'PY'
import re, sys
p = sys.argv[1]
s = open(p).read()
body = re.compile(r"(static inline void\naccessed\([^)]*\)\n\{\n).*?(\n\})",
                  re.S)
s, n = body.subn(r"\1    (void)db; (void)key; (void)klen; (void)kind;\2", s)
if n != 1:
    sys.exit("keyspace.c: accessed() not found; update hotkey_cost.sh")
open(p, "w").write(s)
PY
cmake -S "$SRC" -B "$SRC/build" -DCMAKE_BUILD_TYPE=Release \
    -DPython3_EXECUTABLE=/usr/bin/python3 \
    -DCMAKE_C_FLAGS=-Wno-unused-function >/dev/null # the hook's helpers
cmake --build "$SRC/build" -j "$(nproc)" --target segcached >/dev/null
for proto in memcache resp; do
    echo "### $proto: without the sampler (A) against sample_rate=0 (B)"
    PROTO=$proto OUT=$OUT/run scripts/bench/instructions_ab.sh \
        "$SRC/build/segcached" "$BIN" get set
    echo "### $proto: sample_rate=0 (A) against sample_rate=100 (B)"
    PROTO=$proto OUT=$OUT/run B_OPTS='-o hotkey.sample_rate=100' \
        scripts/bench/instructions_ab.sh "$BIN" "$BIN" get set
done
