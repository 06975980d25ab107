#!/usr/bin/env bash
# Formats every C file with clang-format 14; --check only reports (exit 1
# when a file would change).
set -euo pipefail
cd "$(dirname "$0")/.."
cf=$(command -v clang-format-14 || command -v clang-format)
mapfile -t files < <(git ls-files -co --exclude-standard '*.c' '*.h')
if [ "${1:-}" = "--check" ]; then
    "$cf" --dry-run -Werror "${files[@]}"
    echo "format: ${#files[@]} files ok"
else
    "$cf" -i "${files[@]}"
fi
