#!/usr/bin/env bash
# Checks formatting and lint: Biome for TypeScript and JSON (biome.json), clang-format
# for C (.clang-format). Fix with `bun run format`. Exits non-zero on any finding.
set -euo pipefail
cd "$(dirname "$0")/.."
node_modules/.bin/biome ci --reporter=summary .
mapfile -t c_files < <(git ls-files '*.c' '*.h' | grep -v '^bpf/vmlinux/')
clang-format-16 --dry-run --Werror "${c_files[@]}"
echo "lint: biome and clang-format clean (${#c_files[@]} C files)"
