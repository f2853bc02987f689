#!/usr/bin/env bash
# The quickstart demo: set-up, the local stack as the seed's topology (PostgreSQL; two PgBouncers in
# transaction mode, 64 server connections each, behind HAProxy), the flight workload at a tenth of the seed's
# size, then the seed's run shape — direct, then pooled, with the seed's client protocol — each printing its
# summary table. Results land in results/. CONNS, WORKERS, DURATION and SCALE change its size.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
dcp() { node dist/src/cli.js "$@"; }

stack_dir=${DCPBENCH_STACK_DIR:-.dcpbench/stack}
status=$(dcp stack status --dir "$stack_dir" 2>/dev/null || true)
if [[ "${status%%$'\n'*}" == *": running" ]] && ! grep -q HAPROXY_URI "$stack_dir/stack.env"; then
  echo "The local stack runs one PgBouncer; restarting it with --ha (its data is kept)."
  dcp stack down --dir "$stack_dir"
fi
dcp stack up --ha --dir "$stack_dir"
source "$stack_dir/stack.env"

CONNS=${CONNS:-1024}
WORKERS=${WORKERS:-2}
DURATION=${DURATION:-20s}
SCALE=${SCALE:-0.1}
dcp init flight --scale "$SCALE" --drop --uri "$DIRECT_URI"

result_of() { sed -n 's/^result: //p' "$1" | tail -n 1; }
out=$(mktemp -d)

echo
echo "== direct: $CONNS clients, each holding its own PostgreSQL backend =="
dcp run flight --uri "$DIRECT_URI" --label direct --query-mode psycopg --conns "$CONNS" --workers "$WORKERS" --duration "$DURATION" | tee "$out/direct"
echo
echo "== pooled: the same $CONNS clients through HAProxy to two PgBouncers (transaction pooling, 2 × 64 server connections) =="
dcp run flight --uri "$HAPROXY_URI" --txn-pooling --label pooled --query-mode psycopg --conns "$CONNS" --workers "$WORKERS" --duration "$DURATION" | tee "$out/pooled"

direct=$(result_of "$out/direct")
pooled=$(result_of "$out/pooled")
report="results/demo_report.html"
echo
echo "== direct vs pooled =="
dcp compare "$direct" "$pooled"
dcp report "$direct" "$pooled" --html "$report" >/dev/null
echo
echo "HTML report: $(pwd)/$report"
echo "The stack keeps running: 'npx dcpbench stack down' stops it."
