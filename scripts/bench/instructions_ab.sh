#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Instructions per request of two segcached binaries, counted by valgrind's
# callgrind: deterministic, so a hot-path change is measured exactly on a
# shared, noisy machine where timings move by more than the change (this
# machine has no hardware counters for perf stat). Each binary serves one
# worker; the run is counted whole (start, fill, requests, exit) twice, with
# N1 and N2 requests, and the difference over N2 - N1 is the cost of one
# request. Nothing here asserts a number.
#
#   scripts/bench/instructions_ab.sh /tmp/seg-a /tmp/seg-b [get set ...]
#
# PROTO=memcache counts the memcache port instead of resp. A_OPTS and B_OPTS
# add options to one side, so one binary can be counted against itself
# with a setting changed (both sides start with hotkey.sample_rate=0):
#
#   B_OPTS='-o hotkey.sample_rate=100' scripts/bench/instructions_ab.sh \
#       build/release/segcached build/release/segcached get
#
# Per-function differences: callgrind_annotate the two .out files it keeps
# in $OUT (default /tmp/segcached-instructions).
set -euo pipefail
A=$1
B=$2
shift 2
KINDS=${*:-get set}
N1=${N1:-20000}
N2=${N2:-120000}
OUT=${OUT:-/tmp/segcached-instructions}
PROTO=${PROTO:-resp}
A_OPTS=${A_OPTS:-}
B_OPTS=${B_OPTS:-}
HERE=$(cd "$(dirname "$0")" && pwd)
LOADGEN=${LOADGEN:-$OUT/loadgen}
mkdir -p "$OUT"
chmod 777 "$OUT"
command -v valgrind >/dev/null || { echo "needs valgrind" >&2; exit 2; }
[ -x "$LOADGEN" ] || cc -std=c11 -O2 -D_GNU_SOURCE -o "$LOADGEN" \
    "$HERE/loadgen.c" -lm
as_user=()
# it refuses root; setpriv execs (no fork), so $! is valgrind's own pid
[ "$(id -u)" = 0 ] && as_user=(setpriv --reuid=nobody --regid=nogroup --clear-groups)

# count BIN TAG KIND N [OPTION...]: prints the run's instructions
count() {
    local bin=$1 tag=$2 kind=$3 n=$4 port vpid
    shift 4
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    local f="$OUT/$tag.$kind.$n.out"
    "${as_user[@]}" valgrind --tool=callgrind --callgrind-out-file="$f" \
        "$bin" --memcache off --resp off --ping off --admin off \
        "--$PROTO" "127.0.0.1:$port" -t 1 -o seg.memory=67108864 \
        -o hotkey.sample_rate=0 "$@" >"$OUT/$tag.log" 2>&1 &
    vpid=$!
    for _ in $(seq 300); do
        "$LOADGEN" rr -s "127.0.0.1:$port" -P "$PROTO" --kind get --conns 1 \
            --requests 1 --keys 1 >/dev/null 2>&1 && break
        sleep 0.2
    done
    "$LOADGEN" fill -s "127.0.0.1:$port" -P "$PROTO" --from 0 --to 10000 >/dev/null
    "$LOADGEN" rr -s "127.0.0.1:$port" -P "$PROTO" --kind "$kind" --conns 10 \
        --pipeline 16 --requests "$n" --keys 10000 >/dev/null
    kill -TERM "$vpid" || true # valgrind itself: the server's pid
    wait "$vpid" || true
    sed -n 's/^summary: //p' "$f"
}

printf '| request | A instructions/req | B instructions/req | B/A |\n|---|---|---|---|\n'
for kind in $KINDS; do
    # shellcheck disable=SC2086 # the options split into words
    a1=$(count "$A" a "$kind" "$N1" $A_OPTS)
    # shellcheck disable=SC2086
    a2=$(count "$A" a "$kind" "$N2" $A_OPTS)
    # shellcheck disable=SC2086
    b1=$(count "$B" b "$kind" "$N1" $B_OPTS)
    # shellcheck disable=SC2086
    b2=$(count "$B" b "$kind" "$N2" $B_OPTS)
    python3 -c "
a = ($a2 - $a1) / ($N2 - $N1); b = ($b2 - $b1) / ($N2 - $N1)
print(f'| $PROTO {\"$kind\".upper()} P16 | {a:.0f} | {b:.0f} | {b / a:.3f} |')"
done
