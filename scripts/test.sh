#!/usr/bin/env bash
# The whole test suite: set-up (packages, npm ci, build), then node's test runner over dist/test/*.test.js.
# Tests start their own stacks in temp dirs on free loopback ports. One file at a time: they put load on
# a 2-core machine and must not measure each other.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh chromium
rc=0
# The gate the README describes: lint (its layer and function-length rules) and the format check, then the tests.
npx eslint . || rc=$?
npx prettier --check . > /dev/null || { echo "test.sh: files not formatted: npx prettier --check ." >&2; rc=1; }
node --test --test-concurrency=1 --test-timeout=600000 "$@" dist/test/*.test.js || rc=$?

# Every stack a test or a bench starts lives in a temp directory named dcpbench-*, and every load generator
# runs this checkout's dist/: none of them may outlive the suite. Any left is named, stopped, and fails it.
tmp="${TMPDIR:-/tmp}"
pattern="${tmp%/}/dcpbench-|$(pwd)/dist/src/"
left="$(pgrep -af -- "$pattern" || true)"
if [ -n "$left" ]; then
  echo "test.sh: processes the suite started are still running:" >&2
  echo "$left" >&2
  pkill -KILL -f -- "$pattern" || true
  [ "$rc" -ne 0 ] || rc=1
fi
exit "$rc"
