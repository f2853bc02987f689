#!/usr/bin/env bash
# The quickstart demo: set-up, the local stack (PostgreSQL + PgBouncer in transaction mode), then the same
# workload direct and pooled, each printing its summary table. Results land in results/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
dcp() { node dist/src/cli.js "$@"; }

dcp stack up
source "${DCPBENCH_STACK_DIR:-.dcpbench/stack}/stack.env"

CONNS=${CONNS:-256}
DURATION=${DURATION:-15s}
echo
echo "== direct: $CONNS clients, each holding a PostgreSQL backend =="
dcp run select1 --uri "$DIRECT_URI" --label direct --conns "$CONNS" --workers 2 --duration "$DURATION" --set sleep_ms=2 --set think_ms=10
echo
echo "== pooled: the same $CONNS clients through PgBouncer (transaction mode, pool 64) =="
dcp run select1 --uri "$POOLED_URI" --txn-pooling --label pooled --conns "$CONNS" --workers 2 --duration "$DURATION" --set sleep_ms=2 --set think_ms=10
echo
echo "The stack keeps running: 'npx dcpbench stack down' stops it."
