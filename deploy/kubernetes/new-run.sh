#!/bin/sh
# Writes the kustomize overlay of one run: the base (deploy/kubernetes, or the overlay given with -b) with the
# dcpbench-run ConfigMap's START_AT set LEAD seconds ahead and a new RUN_ID, then prints the overlay's
# directory, for `kubectl apply -k`. Kustomize is deterministic and has no clock, so a script sets the two.
#
#   deploy/kubernetes/new-run.sh [-b BASE] [-l LEAD_SECONDS] [-r RUN_ID] [-o DIR]
#
# BASE defaults to this script's directory, LEAD to 180 (every pod must be scheduled, pull the image and
# connect before START_AT), RUN_ID to run-<UTC time>, DIR to deploy/runs/RUN_ID (ignored by git). The shard
# count is not set here: it is the base's SHARDS (an overlay's SHARDS would not reach the Job's counts).
set -eu

here=$(cd "$(dirname "$0")" && pwd -P)
base=$here
lead=180
run_id=""
out=""
usage() {
  echo "usage: $0 [-b BASE] [-l LEAD_SECONDS] [-r RUN_ID] [-o DIR]" >&2
  exit 2
}
while getopts b:l:r:o:h opt; do
  case $opt in
    b) base=$OPTARG ;;
    l) lead=$OPTARG ;;
    r) run_id=$OPTARG ;;
    o) out=$OPTARG ;;
    *) usage ;;
  esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || usage

case $lead in
  '' | *[!0-9]*) echo "$0: -l $lead: a whole number of seconds" >&2 && exit 2 ;;
esac
[ -f "$base/kustomization.yaml" ] || {
  echo "$0: -b $base: no kustomization.yaml there" >&2
  exit 2
}

# An epoch time in UTC, formatted: GNU date reads it with -d @T, BSD and macOS date with -r T.
utc() { date -u -d "@$1" "+$2" 2>/dev/null || date -u -r "$1" "+$2"; }
now=$(date -u +%s)
start_at=$(utc $((now + lead)) %Y-%m-%dT%H:%M:%SZ)
[ -n "$run_id" ] || run_id=run-$(utc "$now" %Y%m%d-%H%M%S)
# RUN_ID names a directory on the results volume: one path segment, nothing a shell or kustomize reads twice.
case $run_id in
  '' | .* | *[!A-Za-z0-9._-]*)
    echo "$0: -r $run_id: letters, digits, '.', '_' and '-' only, not starting with '.'" >&2
    exit 2
    ;;
esac
[ -n "$out" ] || out=$here/../runs/$run_id
if [ -e "$out/kustomization.yaml" ]; then
  echo "$0: $out/kustomization.yaml exists: a RUN_ID is used once" >&2
  exit 1
fi
base=$(cd "$base" && pwd -P)
mkdir -p "$out"
out=$(cd "$out" && pwd -P)

# kustomize takes only a relative path to a base: from $out up to the directory the two share, then down.
common=$out
up=""
while [ "$common" != / ]; do
  case $base/ in
    "$common"/*) break ;;
  esac
  common=$(dirname "$common")
  up=../$up
done
if [ "$common" = "$base" ]; then
  rmdir "$out" 2>/dev/null || true
  echo "$0: -o $out is inside the base $base: kustomize refuses that as a cycle" >&2
  exit 2
fi
rel=$up${base#"${common%/}"/}

cat >"$out/kustomization.yaml" <<EOF
# One run of dcpbench, written by new-run.sh at $(utc "$now" %Y-%m-%dT%H:%M:%SZ).
# kubectl apply -k $out
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - $rel
configMapGenerator:
  - name: dcpbench-run
    behavior: merge
    literals:
      - START_AT=$start_at
      - RUN_ID=$run_id
EOF
echo "$out"
