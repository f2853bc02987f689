#!/usr/bin/env bash
# The quickstart demo: set-up, the local stack (PostgreSQL + PgBouncer in transaction mode), the flight
# workload at a tenth of the seed's size, then the seed's run shape — direct, then pooled — each printing its
# summary table. Results land in results/. CONNS, WORKERS, DURATION and SCALE change its size.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
dcp() { node dist/src/cli.js "$@"; }

dcp stack up
source "${DCPBENCH_STACK_DIR:-.dcpbench/stack}/stack.env"

CONNS=${CONNS:-1024}
WORKERS=${WORKERS:-2}
DURATION=${DURATION:-20s}
SCALE=${SCALE:-0.1}
dcp init flight --scale "$SCALE" --drop --uri "$DIRECT_URI"

echo
echo "== direct: $CONNS clients, each holding its own PostgreSQL backend =="
dcp run flight --uri "$DIRECT_URI" --label direct --conns "$CONNS" --workers "$WORKERS" --duration "$DURATION"
echo
echo "== pooled: the same $CONNS clients through PgBouncer (transaction pooling, 64 server connections) =="
dcp run flight --uri "$POOLED_URI" --txn-pooling --label pooled --conns "$CONNS" --workers "$WORKERS" --duration "$DURATION"
echo
echo "Both results are in results/. The stack keeps running: 'npx dcpbench stack down' stops it."
