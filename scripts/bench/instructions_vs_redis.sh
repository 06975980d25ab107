#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Instructions per request of segcached and redis-server 7.0.15 for one
# redis-benchmark test, counted by valgrind's callgrind: deterministic, so
# the comparison holds on a shared, noisy machine (which has no hardware
# counters for perf stat). Each server runs once with N1 and once with N2
# requests of `redis-benchmark -t TEST -r 100000 -P 16 -c 10` (R=1000 for
# another -r: zadd with R=1000 is a sorted set of up to 1,000 members); the
# difference over N2 - N1 is one request's cost. Instructions are not CPU
# time (cache misses and atomics cost cycles they do not show), but they
# tell where the work is: callgrind_annotate the .out files in $OUT.
# Nothing here asserts a number.
#
#   scripts/bench/instructions_vs_redis.sh build/release/segcached hset sadd
#
# The test evalsha is issue 17's short script (GET of one key, INCR of
# another, keys from 100,000), loaded with SCRIPT LOAD first and called by
# redis-benchmark as EVALSHA <sha> 2 a:__rand_int__ b:__rand_int__. The
# test custom runs the command in $CMD instead (split on spaces, as
# redis-benchmark takes it: CMD='PFADD hll __rand_int__').
set -euo pipefail
SEG=$1
shift
TESTS=${*:-hset}
N1=${N1:-20000}
N2=${N2:-120000}
R=${R:-100000}
OUT=${OUT:-/tmp/segcached-instructions}
SCRIPT="redis.call('get', KEYS[1]) return redis.call('incr', KEYS[2])"
mkdir -p "$OUT"
chmod 777 "$OUT"
command -v valgrind >/dev/null || { echo "needs valgrind" >&2; exit 2; }
as_user=()
# segcached refuses root; setpriv execs (no fork): $! is valgrind's pid
[ "$(id -u)" = 0 ] && as_user=(setpriv --reuid=nobody --regid=nogroup --clear-groups)

# count seg|redis TEST N: prints the run's instructions
count() {
    local kind=$1 t=$2 n=$3 port vpid f
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    f="$OUT/$kind.$t.$n.out"
    if [ "$kind" = seg ]; then
        "${as_user[@]}" valgrind --tool=callgrind --callgrind-out-file="$f" \
            "$SEG" --memcache off --ping off --admin off \
            --resp "127.0.0.1:$port" -t 1 -o seg.memory=268435456 \
            -o hotkey.sample_rate=0 >"$OUT/$kind.log" 2>&1 &
    else
        "${as_user[@]}" valgrind --tool=callgrind --callgrind-out-file="$f" \
            redis-server --port "$port" --save '' --appendonly no \
            --maxmemory 268435456 --maxmemory-policy allkeys-lru \
            >"$OUT/$kind.log" 2>&1 &
    fi
    vpid=$!
    for _ in $(seq 300); do
        redis-cli -p "$port" ping 2>/dev/null | grep -q PONG && break
        sleep 0.2
    done
    if [ "$t" = evalsha ]; then
        local sha
        sha=$(redis-cli -p "$port" SCRIPT LOAD "$SCRIPT")
        redis-benchmark -p "$port" -n "$n" -r "$R" -P 16 -c 10 -q \
            EVALSHA "$sha" 2 a:__rand_int__ b:__rand_int__ >/dev/null 2>&1
    elif [ "$t" = custom ]; then
        # shellcheck disable=SC2086 # CMD is words, split on purpose
        redis-benchmark -p "$port" -n "$n" -r "$R" -P 16 -c 10 -q $CMD \
            >/dev/null 2>&1
    else
        redis-benchmark -p "$port" -t "$t" -n "$n" -r "$R" -P 16 -c 10 -q \
            >/dev/null 2>&1
    fi
    kill -TERM "$vpid" || true # valgrind itself: the server's pid
    wait "$vpid" || true
    sed -n 's/^summary: //p' "$f"
}

printf '| redis-benchmark test (-P 16, -r %s) | segcached instructions/req | Redis | segcached/Redis |\n|---|---|---|---|\n' "$R"
for t in $TESTS; do
    s1=$(count seg "$t" "$N1"); s2=$(count seg "$t" "$N2")
    r1=$(count redis "$t" "$N1"); r2=$(count redis "$t" "$N2")
    python3 -c "
s = ($s2 - $s1) / ($N2 - $N1); r = ($r2 - $r1) / ($N2 - $N1)
print(f'| $t | {s:.0f} | {r:.0f} | {s / r:.2f} |')"
done
