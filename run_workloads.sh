#!/usr/bin/env bash
# run_workloads.sh TOTAL_CONNS NUM_WORKERS — the seed's script without docker.
# Filled in by the compare/CI issue; until then it says so instead of pretending.
echo "run_workloads.sh: not implemented yet (see issue 5); use 'npx dcpbench run' directly" >&2
exit 2
