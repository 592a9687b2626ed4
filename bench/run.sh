#!/usr/bin/env bash
# Times sfnlite on the shared benchmark workloads: one fresh process per execution,
# start-up included, median of N runs (default 5). Uses hyperfine when installed,
# otherwise a plain loop with `date +%s%N`.
#
#   bench/run.sh [runs]        # from the repository root, after `cargo build --release`
set -euo pipefail
runs=${1:-5}
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/target/release/sfnlite"
work="$root/../shared/bench"
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 2; }
[ -d "$work" ] || { echo "no workloads at $work" >&2; exit 2; }

# workload, input, states entered, execution type: workloads whose histories pass AWS's
# 25,000-event STANDARD quota run as EXPRESS (as on AWS they would have to).
workloads=(
  "loop10k loop10k 20002 EXPRESS"
  "map10k map10k 10001 EXPRESS"
  "map10k-c40 map10k 10001 EXPRESS"
  "parallel-fanout parallel-fanout 2021 STANDARD"
  "payload payload 1000 STANDARD"
  "startup startup 1 STANDARD"
)
store=$(mktemp -d)
trap 'rm -rf "$store"' EXIT
printf '%-16s %14s %14s %16s\n' workload "ephemeral ms" "µs/transition" "persisted ms"
for w in "${workloads[@]}"; do
  set -- $w
  name=$1 input=$2 states=$3 type=$4
  cmd=("$bin" --ephemeral run "$work/$name.asl.json" --input-file "$work/$input.input.json" --clock virtual --format json --type "$type")
  "${cmd[@]}" > /tmp/sfnlite-bench-out.json || { echo "$name: run failed" >&2; cat /tmp/sfnlite-bench-out.json >&2; exit 1; }
  grep -q '"status":"SUCCEEDED"' /tmp/sfnlite-bench-out.json || { echo "$name: did not succeed" >&2; exit 1; }
  # A store per workload: large payloads make a big store, and sled's open time grows with it.
  persisted=("$bin" --store "$store/$name" run "$work/$name.asl.json" --input-file "$work/$input.input.json" --clock virtual --format json --type "$type")
  median() {
    local times=()
    for _ in $(seq "$runs"); do
      start=$(date +%s%N)
      "$@" > /dev/null
      end=$(date +%s%N)
      times+=($(( (end - start) / 1000 )))
    done
    printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
  }
  eph=$(median "${cmd[@]}")
  per=$(median "${persisted[@]}")
  awk -v n="$name" -v e="$eph" -v p="$per" -v s="$states" 'BEGIN { printf "%-16s %14.2f %14.3f %16.2f\n", n, e/1000, e/s, p/1000 }'
done
