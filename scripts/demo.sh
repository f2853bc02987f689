#!/usr/bin/env bash
# The quickstart demo: set-up, the local stack (PostgreSQL + PgBouncer), then a query through each URI.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
node dist/src/cli.js stack up
source "${DCPBENCH_STACK_DIR:-.dcpbench/stack}/stack.env"
echo "direct: $(psql "$DIRECT_URI" -Atc 'select version()')"
echo "pooled: $(psql "$POOLED_URI" -Atc "select 'through pgbouncer, server port ' || inet_server_port()")"
