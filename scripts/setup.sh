#!/usr/bin/env bash
# Installs, only when missing, everything the build, the tests and the
# benchmarks need (Debian 12). Idempotent and quiet when all is present.
set -euo pipefail

packages=(
    build-essential cmake pkg-config clang clang-format-14 libclang-rt-14-dev
    libyaml-dev libcmocka-dev libxxhash-dev libssl-dev openssl
    liblua5.1-0-dev lua-cjson-dev lua-bitop-dev
    python3-pytest python3-redis python3-pymemcache python3-pylibmc
    python3-prometheus-client
    redis-tools redis-server memcached libmemcached-tools nutcracker gnuplot
    netcat-openbsd curl
)

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
        missing+=("$p")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "setup: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# Debian starts memcached and redis-server as services on install; they
# would hold the ports segcached uses by default, so keep them from starting.
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e $policy ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee $policy >/dev/null
    $sudo chmod +x $policy
    made_policy=1
fi
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
[ $made_policy -eq 1 ] && $sudo rm -f $policy
for svc in memcached redis-server nutcracker; do
    if command -v systemctl >/dev/null 2>&1 && systemctl is-enabled "$svc" >/dev/null 2>&1; then
        $sudo systemctl disable --now "$svc" >/dev/null 2>&1 || true
    fi
done
# A service that started anyway (no systemd here): stop it by its pid file.
for pidfile in /run/memcached/memcached.pid /run/redis/redis-server.pid; do
    if [ -f "$pidfile" ]; then
        $sudo kill "$(cat "$pidfile")" 2>/dev/null || true
    fi
done
echo "setup: done"
