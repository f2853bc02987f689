#!/usr/bin/env bash
# The whole test suite: set-up (packages, npm ci, build), then node's test runner over dist/test/*.test.js.
# Tests start their own stacks in temp dirs on free loopback ports. One file at a time: they put load on
# a 2-core machine and must not measure each other.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh chromium
exec node --test --test-concurrency=1 --test-timeout=600000 "$@" dist/test/*.test.js
