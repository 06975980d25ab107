#!/usr/bin/env bash
# Three segcached nodes behind twemproxy (nutcracker) on loopback, from
# config/examples/twemproxy.yml:
#   scripts/cluster.sh up       start the nodes and the proxy, print endpoints
#   scripts/cluster.sh status   which processes live and answer; items per node
#   scripts/cluster.sh down     stop them by pid (SIGTERM, then SIGKILL)
# Environment (defaults are the example file's ports):
#   SEGCACHED_BIN   binary (build/release/segcached)
#   CLUSTER_DIR     pids, logs, generated config
#                   (${TMPDIR:-/tmp}/segcached-cluster.<uid>)
#   CLUSTER_MEMCACHE_PORTS="23411 23412 23413"
#   CLUSTER_RESP_PORTS="23471 23472 23473"
#   CLUSTER_ADMIN_PORTS="23491 23492 23493"
#   CLUSTER_PROXY_MEMCACHE_PORT=22121  CLUSTER_PROXY_RESP_PORT=22122
#   CLUSTER_STATS_PORT=22222           NUTCRACKER_BIN=nutcracker
#   CLUSTER_THREADS=1  CLUSTER_MEMORY_MB=64     per node
#   CLUSTER_USER=nobody   the nodes' user when started as root
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
example=$root/config/examples/twemproxy.yml
bin=${SEGCACHED_BIN:-$root/build/release/segcached}
dir=${CLUSTER_DIR:-${TMPDIR:-/tmp}/segcached-cluster.$(id -u)}
read -r -a mc_ports <<<"${CLUSTER_MEMCACHE_PORTS:-23411 23412 23413}"
read -r -a resp_ports <<<"${CLUSTER_RESP_PORTS:-23471 23472 23473}"
read -r -a admin_ports <<<"${CLUSTER_ADMIN_PORTS:-23491 23492 23493}"
proxy_mc=${CLUSTER_PROXY_MEMCACHE_PORT:-22121}
proxy_resp=${CLUSTER_PROXY_RESP_PORT:-22122}
stats=${CLUSTER_STATS_PORT:-22222}
threads=${CLUSTER_THREADS:-1}
memory=${CLUSTER_MEMORY_MB:-64}
nutcracker=${NUTCRACKER_BIN:-$(command -v nutcracker ||
    echo /usr/sbin/nutcracker)}
names=(segcached-1 segcached-2 segcached-3)

die() {
    echo "cluster: $*" >&2
    exit 1
}

# true when something accepts TCP connections on 127.0.0.1:$1
answers() {
    timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

wait_port() {
    local i
    for i in $(seq 100); do
        answers "$1" && return 0
        sleep 0.05
    done
    return 1
}

# pid of one of our processes from $dir/pids, empty when unknown or gone;
# the command line must name $dir, so a reused pid is never ours.
live_pid() {
    local pid
    pid=$(awk -v n="$1" '$1 == n { print $2 }' "$dir/pids" 2>/dev/null)
    [ -n "$pid" ] || return 0
    if { tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null |
        grep -qF "$dir/"; then
        echo "$pid"
    fi
}

# the example config with every example address replaced by ours; each line
# holds one address, and `t` ends the line's script after the first
# replacement, so a new port equal to another example port stays as is
write_config() {
    local -a expr=(-e "s/127\.0\.0\.1:22121\b/127.0.0.1:$proxy_mc/" -e t
        -e "s/127\.0\.0\.1:22122\b/127.0.0.1:$proxy_resp/" -e t)
    local i
    for i in 0 1 2; do
        expr+=(-e "s/127\.0\.0\.1:2341$((i + 1)):/127.0.0.1:${mc_ports[$i]}:/"
            -e t
            -e "s/127\.0\.0\.1:2347$((i + 1)):/127.0.0.1:${resp_ports[$i]}:/"
            -e t)
    done
    sed "${expr[@]}" "$example" >"$dir/twemproxy.yml"
    "$nutcracker" -t -c "$dir/twemproxy.yml" >/dev/null 2>&1 ||
        die "nutcracker rejects $dir/twemproxy.yml"
}

start_node() {
    local i=$1 name=${names[$1]} log=$dir/${names[$1]}.log
    local -a user=()
    # segcached refuses to run as root: it drops to CLUSTER_USER once
    # listening, and that user must be able to reopen its log (SIGHUP)
    if [ "$(id -u)" -eq 0 ] && "$bin" --help | grep -q -- '-u USER'; then
        user=(-u "${CLUSTER_USER:-nobody}")
        : >"$log"
        chown "${CLUSTER_USER:-nobody}" "$log"
    fi
    nohup "$bin" --memcache "127.0.0.1:${mc_ports[$i]}" \
        --resp "127.0.0.1:${resp_ports[$i]}" \
        --admin "127.0.0.1:${admin_ports[$i]}" -t "$threads" -m "$memory" \
        -o "log.file=$log" "${user[@]}" </dev/null >"$dir/$name.out" 2>&1 &
    echo "$name $!" >>"$dir/pids"
    if ! wait_port "${admin_ports[$i]}"; then
        die "$name did not start: $dir/$name.out"
    fi
}

start_proxy() {
    # no -d: we hold its pid; -a keeps the stats port off 0.0.0.0
    nohup "$nutcracker" -c "$dir/twemproxy.yml" -s "$stats" -a 127.0.0.1 \
        -i 1000 -p "$dir/nutcracker.pid" -o "$dir/nutcracker.log" \
        </dev/null >"$dir/nutcracker.out" 2>&1 &
    echo "nutcracker $!" >>"$dir/pids"
    if ! wait_port "$proxy_mc" || ! wait_port "$stats"; then
        die "nutcracker did not start: $dir/nutcracker.log"
    fi
}

endpoints() {
    local i
    echo "memcache  127.0.0.1:$proxy_mc (twemproxy pool segcached_memcache)"
    echo "resp      127.0.0.1:$proxy_resp" \
        "(twemproxy pool segcached_resp, database 1)"
    echo "stats     127.0.0.1:$stats (twemproxy JSON stats)"
    for i in 0 1 2; do
        echo "${names[$i]}  memcache 127.0.0.1:${mc_ports[$i]}" \
            "resp 127.0.0.1:${resp_ports[$i]}" \
            "admin 127.0.0.1:${admin_ports[$i]}"
    done
    echo "state     $dir"
}

up() {
    local name i
    [ -x "$bin" ] || die "no binary $bin (scripts/build.sh release)"
    for name in "${names[@]}" nutcracker; do
        [ -z "$(live_pid "$name")" ] || die "already up ($dir); run down first"
    done
    rm -rf "$dir"
    mkdir -p "$dir"
    : >"$dir/pids"
    write_config
    # a failed start stops what did start and keeps the logs
    trap 'stop_all >/dev/null' EXIT
    for i in 0 1 2; do
        start_node "$i"
    done
    start_proxy
    trap - EXIT
    endpoints
}

# true while $1 runs; an exited child of ours waits as a zombie until init
# reaps it, and kill -0 would still find it
running() {
    local state
    state=$({ sed 's/.*) //' "/proc/$1/stat"; } 2>/dev/null) || return 1
    case "${state%% *}" in
        Z | X | "") return 1 ;;
    esac
    return 0
}

stop_pid() {
    local name=$1 pid=$2 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for i in $(seq 100); do
        running "$pid" || return 0
        sleep 0.05
    done
    echo "cluster: $name ($pid) ignored SIGTERM for 5 s; SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
}

# stops every process of $dir/pids that is still ours; forgets the pids
stop_all() {
    local name pid
    for name in nutcracker "${names[@]}"; do
        pid=$(live_pid "$name")
        if [ -n "$pid" ]; then
            stop_pid "$name" "$pid"
            echo "stopped $name ($pid)"
        fi
    done
    rm -f "$dir/pids"
}

down() {
    if [ ! -f "$dir/pids" ]; then
        echo "cluster: not up ($dir)"
        return 0
    fi
    stop_all
    rm -rf "$dir"
}

# seg_item_curr from a node's admin port ($1), empty when it does not answer
items() {
    local line value=""
    exec 3<>"/dev/tcp/127.0.0.1/$1" || return 0
    printf 'stats\r\n' >&3
    while IFS= read -r -t 2 line <&3; do
        line=${line%$'\r'}
        case "$line" in
            "STAT seg_item_curr "*) value=${line##* } ;;
            END) break ;;
        esac
    done
    exec 3<&-
    echo "$value"
}

status() {
    local i name pid bad=0
    if [ ! -f "$dir/pids" ]; then
        echo "cluster: not up ($dir)"
        return 3
    fi
    for i in 0 1 2; do
        name=${names[$i]}
        pid=$(live_pid "$name")
        if [ -n "$pid" ] && answers "${mc_ports[$i]}"; then
            echo "$name up pid $pid memcache 127.0.0.1:${mc_ports[$i]}" \
                "items $(items "${admin_ports[$i]}" 2>/dev/null || true)"
        else
            echo "$name DOWN"
            bad=1
        fi
    done
    pid=$(live_pid nutcracker)
    if [ -n "$pid" ] && answers "$proxy_mc"; then
        echo "nutcracker up pid $pid memcache 127.0.0.1:$proxy_mc" \
            "resp 127.0.0.1:$proxy_resp stats 127.0.0.1:$stats"
    else
        echo "nutcracker DOWN"
        bad=1
    fi
    return $((bad * 3))
}

case "${1:-}" in
    up) up ;;
    down) down ;;
    status) status ;;
    *)
        echo "usage: $0 up|down|status" >&2
        exit 64
        ;;
esac
