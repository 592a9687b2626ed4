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

# workload, input, states entered
workloads=(
  "loop10k loop10k 20002"
  "map10k map10k 10001"
  "map10k-c40 map10k 10001"
  "parallel-fanout parallel-fanout 2021"
  "payload payload 1000"
  "startup startup 1"
)
printf '%-16s %10s %14s\n' workload "median ms" "µs/transition"
for w in "${workloads[@]}"; do
  set -- $w
  name=$1 input=$2 states=$3
  cmd=("$bin" run "$work/$name.asl.json" --input-file "$work/$input.input.json" --clock virtual --format json)
  "${cmd[@]}" > /tmp/sfnlite-bench-out.json || { echo "$name: run failed" >&2; cat /tmp/sfnlite-bench-out.json >&2; exit 1; }
  grep -q '"status":"SUCCEEDED"' /tmp/sfnlite-bench-out.json || { echo "$name: did not succeed" >&2; exit 1; }
  times=()
  for _ in $(seq "$runs"); do
    start=$(date +%s%N)
    "${cmd[@]}" > /dev/null
    end=$(date +%s%N)
    times+=($(( (end - start) / 1000 )))
  done
  median_us=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  awk -v n="$name" -v us="$median_us" -v s="$states" 'BEGIN { printf "%-16s %10.2f %14.3f\n", n, us/1000, us/s }'
done
