#!/usr/bin/env bash
# run_workloads.sh [TOTAL_CONNS] [NUM_WORKERS] — the seed's script, without docker: dcpbench's workers are
# processes on this host. Defaults and settings as in the seed (512 connections over 2 workers):
#
#   WORKLOAD      flight (default) or train (runs the jsonb, jsonb-manual and text phases in order; each phase
#                 starts from freshly initialised tables, at SCALE, as the seed's runs did)
#   TEST_URI      run one mode against this URI, labelled TEST_NAME (default: default), pooled when
#   TXN_POOLING   is true (the seed's misspelt TXN_POOLONG is accepted too)
#   DIRECT_URI / POOLED_URI
#                 without TEST_URI: run both modes, direct then pooled, and end with the compare table.
#                 Default: the local stack; started with --ha when none is running, and its HAProxy (two
#                 PgBouncers × 64 server connections, the seed's pooled topology) used when it has one.
#   knobs         flight: schedule_freq status_freq inventory_freq price_freq batch_size delay
#                 train:  min_batch_size max_batch_size delay
#   loops         cycles per worker, shared evenly by its clients (the seed's dbworkload -i; default 8192)
#   duration      instead of loops: how long each phase runs, minutes as a bare number (the seed's unit) or
#                 90s, 5m…; with both, whichever comes first
#   SCALE         train: the scale each phase is initialised at (default 1: the seed's 20,000 events)
#
# Both modes use the seed's client protocol (--query-mode psycopg: prepared after 5 runs direct, never pooled).
# Summaries and result files land in results/ (RESULTS_DIR to change it).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
usage() { echo "usage: $0 [TOTAL_CONNS] [NUM_WORKERS]   (defaults 512 2; see the comments at the top for the environment)" >&2; exit 2; }
[ $# -le 2 ] || usage
TOTAL_CONNS=${1:-512}
NUM_WORKERS=${2:-2}
[[ "$TOTAL_CONNS" =~ ^[1-9][0-9]*$ && "$NUM_WORKERS" =~ ^[1-9][0-9]*$ ]] || usage

dcp() { node "$here/dist/src/cli.js" "$@"; }
[ -f "$here/dist/src/cli.js" ] || bash "$here/scripts/setup.sh"

WORKLOAD=${WORKLOAD:-flight}
RESULTS_DIR=${RESULTS_DIR:-$here/results}
mkdir -p "$RESULTS_DIR"
case "$WORKLOAD" in
  flight) knob_names="schedule_freq status_freq inventory_freq price_freq batch_size delay"; variants="-" ;;
  train) knob_names="min_batch_size max_batch_size delay"; variants="jsonb jsonb-manual text" ;;
  *) echo "run_workloads.sh: WORKLOAD must be flight or train, got '$WORKLOAD'" >&2; exit 2 ;;
esac

args=(--conns "$TOTAL_CONNS" --workers "$NUM_WORKERS" --query-mode psycopg --out "$RESULTS_DIR")
for k in $knob_names; do
  if [ -n "${!k:-}" ]; then args+=(--set "$k=${!k}"); fi
done
if [ -n "${duration:-}" ]; then
  if [[ "$duration" =~ ^[0-9]+$ ]]; then args+=(--duration "${duration}m"); else args+=(--duration "$duration"); fi
fi
if [ -n "${loops:-}" ] || [ -z "${duration:-}" ]; then
  args+=(--iterations "${loops:-8192}" --iterations-split even)
fi

# Which modes: TEST_URI alone, else direct and pooled.
modes=()
if [ -n "${TEST_URI:-}" ]; then
  pooling=${TXN_POOLING:-${TXN_POOLONG:-false}}
  modes+=("${TEST_NAME:-default}|$TEST_URI|$pooling")
else
  if [ -z "${DIRECT_URI:-}" ] || [ -z "${POOLED_URI:-}" ]; then
    # What the user gave is kept; the local stack fills in the rest.
    given_direct=${DIRECT_URI:-}
    given_pooled=${POOLED_URI:-}
    stack_dir="${DCPBENCH_STACK_DIR:-$here/.dcpbench/stack}"
    status=$(dcp stack status --dir "$stack_dir" 2>/dev/null || true)
    if [[ "${status%%$'\n'*}" != *": running" ]]; then
      echo ">>> starting the local stack as the seed's topology: dcpbench stack up --ha" >&2
      dcp stack up --ha --dir "$stack_dir" >&2
    fi
    # shellcheck disable=SC1091
    source "$stack_dir/stack.env"
    if [ -n "${HAPROXY_URI:-}" ]; then
      POOLED_URI=$HAPROXY_URI
    else
      echo ">>> pooled: one PgBouncer (the seed had two behind HAProxy: dcpbench stack down && dcpbench stack up --ha)" >&2
    fi
    DIRECT_URI=${given_direct:-$DIRECT_URI}
    POOLED_URI=${given_pooled:-$POOLED_URI}
  fi
  modes+=("direct|$DIRECT_URI|false" "pooled|$POOLED_URI|true")
fi

# Tables are re-created straight on the database when there is a direct target, else through TEST_URI.
if [ -n "${TEST_URI:-}" ]; then init_uri=$TEST_URI; else init_uri=$DIRECT_URI; fi

# A run that crosses a threshold (3) or ends partial (1) still has its result: go on, exit with the worst.
worst=0
files=()
for variant in $variants; do
  for mode in "${modes[@]}"; do
    IFS='|' read -r name uri pooling <<<"$mode"
    label=$name
    run_args=(run "$WORKLOAD" --uri "$uri" "${args[@]}")
    if [ "$variant" != "-" ]; then
      label="$name-$variant"
      run_args+=(--set "payload=$variant")
      # The direct URI reaches the tables without a pooler in between, when there is one.
      echo ">>> $label: fresh tables (dcpbench init train --drop --scale ${SCALE:-1})" >&2
      dcp init train --drop --scale "${SCALE:-1}" --uri "$init_uri" >&2
    fi
    if [ "$pooling" = "true" ]; then run_args+=(--txn-pooling); fi
    run_args+=(--label "$label")
    summary="$RESULTS_DIR/${label}_${WORKLOAD}_summary.txt"
    echo ">>> $label: dcpbench ${run_args[*]}" >&2
    rc=0
    dcp "${run_args[@]}" | tee "$summary" || rc=$?
    if [ "$rc" -gt "$worst" ]; then worst=$rc; fi
    file=$(sed -n 's/^result: //p' "$summary" | tail -n 1)
    if [ -n "$file" ]; then files+=("$file"); fi
  done
done

if [ ${#files[@]} -gt 1 ]; then
  echo
  echo "== compare (baseline: ${files[0]##*/}) =="
  dcp compare "${files[@]}"
fi
exit "$worst"
