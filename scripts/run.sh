#!/usr/bin/env bash
# Set-up, Release build, and segcached on its default configuration
# (memcache 127.0.0.1:11211, resp 127.0.0.1:6379, admin 127.0.0.1:9999).
# Arguments are passed to segcached: scripts/run.sh -t 2 -m 1024
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh release
# started as root, segcached must be told which user to become (-u)
if [ "$(id -u)" -eq 0 ] && [[ " $* " != *" -u "* ]]; then
    set -- -u nobody "$@"
fi
exec build/release/segcached "$@"
