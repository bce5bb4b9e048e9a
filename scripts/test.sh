#!/usr/bin/env bash
# Builds everything and runs the whole test suite (unit, BPF load, end to end), then
# prints one summary line "tests: N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
node_modules/.bin/bun scripts/build.ts >/dev/null
node_modules/.bin/tsc --noEmit -p .
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
# every tier (unit, bpf, e2e, kernels, packaging), with the decoders fuzzed deeply
KFLOWD_FUZZ=${KFLOWD_FUZZ:-1000000} node_modules/.bin/bun test 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
pass=$(grep -Eo '^ *[0-9]+ pass$' "$log" | grep -Eo '[0-9]+' | tail -1)
fail=$(grep -Eo '^ *[0-9]+ fail$' "$log" | grep -Eo '[0-9]+' | tail -1)
echo "tests: ${pass:-0} passed, ${fail:-0} failed"
[[ "${pass:-0}" -gt 0 ]] || { echo "no test ran" >&2; exit 1; }
exit "$rc"
