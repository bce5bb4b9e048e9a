#!/usr/bin/env bash
# Builds everything and starts the agent in terminal mode; arguments go to kflowd.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
node_modules/.bin/bun scripts/build.ts >/dev/null
exec dist/kflowd "$@"
