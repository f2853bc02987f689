#!/usr/bin/env bash
# run_workloads.sh TOTAL_CONNS NUM_WORKERS — the seed's script, without docker: dcpbench's workers are
# processes on this host. Settings come from the environment, as in the seed:
#
#   WORKLOAD      flight (default) or train (runs the jsonb, jsonb-manual and text phases in order)
#   TEST_URI      run one mode against this URI, labelled TEST_NAME (default: direct), pooled when
#   TXN_POOLING   is true (the seed's misspelt TXN_POOLONG is accepted too)
#   DIRECT_URI / POOLED_URI
#                 without TEST_URI: run both modes, direct then pooled, and end with the compare table.
#                 Default: the local stack (dcpbench stack up), from $DCPBENCH_STACK_DIR/stack.env.
#   knobs         flight: schedule_freq status_freq inventory_freq price_freq batch_size delay
#                 train:  min_batch_size max_batch_size delay
#   loops         cycles per worker (dcpbench --iterations, the seed's -i)
#   duration      how long each phase runs: minutes as a bare number (the seed's unit), or 90s, 5m…
#                 With neither loops nor duration: 1 minute.
#
# Summaries and result files land in results/ (RESULTS_DIR to change it).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
usage() { echo "usage: $0 TOTAL_CONNS NUM_WORKERS   (see the comments at the top for the environment)" >&2; exit 2; }
[ $# -eq 2 ] || usage
TOTAL_CONNS=$1
NUM_WORKERS=$2
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

args=(--conns "$TOTAL_CONNS" --workers "$NUM_WORKERS" --out "$RESULTS_DIR")
for k in $knob_names; do
  if [ -n "${!k:-}" ]; then args+=(--set "$k=${!k}"); fi
done
if [ -n "${loops:-}" ]; then args+=(--iterations "$loops"); fi
if [ -n "${duration:-}" ]; then
  if [[ "$duration" =~ ^[0-9]+$ ]]; then args+=(--duration "${duration}m"); else args+=(--duration "$duration"); fi
fi
if [ -z "${loops:-}" ] && [ -z "${duration:-}" ]; then args+=(--duration 1m); fi

# Which modes: TEST_URI alone, else direct and pooled.
modes=()
if [ -n "${TEST_URI:-}" ]; then
  pooling=${TXN_POOLING:-${TXN_POOLONG:-false}}
  modes+=("${TEST_NAME:-direct}|$TEST_URI|$pooling")
else
  if [ -z "${DIRECT_URI:-}" ] || [ -z "${POOLED_URI:-}" ]; then
    env_file="${DCPBENCH_STACK_DIR:-$here/.dcpbench/stack}/stack.env"
    if [ ! -f "$env_file" ]; then
      echo "run_workloads.sh: set TEST_URI, or DIRECT_URI and POOLED_URI, or start the local stack (npx dcpbench stack up)" >&2
      exit 2
    fi
    # shellcheck disable=SC1090
    source "$env_file"
  fi
  modes+=("direct|$DIRECT_URI|false" "pooled|$POOLED_URI|true")
fi

files=()
for variant in $variants; do
  for mode in "${modes[@]}"; do
    IFS='|' read -r name uri pooling <<<"$mode"
    label=$name
    run_args=(run "$WORKLOAD" --uri "$uri" "${args[@]}")
    if [ "$variant" != "-" ]; then label="$name-$variant"; run_args+=(--set "payload=$variant"); fi
    if [ "$pooling" = "true" ]; then run_args+=(--txn-pooling); fi
    run_args+=(--label "$label")
    summary="$RESULTS_DIR/${label}_${WORKLOAD}_summary.txt"
    echo ">>> $label: dcpbench ${run_args[*]}" >&2
    dcp "${run_args[@]}" | tee "$summary"
    files+=("$(sed -n 's/^result: //p' "$summary" | tail -n 1)")
  done
done

if [ ${#files[@]} -gt 1 ]; then
  echo
  echo "== compare (baseline: ${files[0]##*/}) =="
  dcp compare "${files[@]}"
fi
