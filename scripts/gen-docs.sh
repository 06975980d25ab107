#!/usr/bin/env bash
# Regenerates what the docs list from the binary: config/segcached.yml
# (every option) and the metric table in docs/operations.md (every metric).
# Tests fail when either is stale.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/release/segcached}
scripts/gen-config.sh "$bin"
table=$(mktemp)
{
    echo "| metric | type | description |"
    echo "|---|---|---|"
    "$bin" --print-stats | awk '{ name=$1; type=$2; $1=""; $2="";
        sub(/^  */, ""); printf "| `%s` | %s | %s |\n", name, type, $0 }'
} > "$table"
awk -v table="$table" '
    /<!-- metrics:begin -->/ { print; while ((getline line < table) > 0) print line; skip=1; next }
    /<!-- metrics:end -->/ { skip=0 }
    !skip { print }' docs/operations.md > docs/operations.md.new
mv docs/operations.md.new docs/operations.md
rm -f "$table"
echo "wrote the metric table in docs/operations.md"
