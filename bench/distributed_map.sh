#!/usr/bin/env bash
# Issue 12's scale benchmark (not a test): a distributed Map over N CSV rows in the
# local S3 (default 1,000,000), MaxConcurrency 1,000, one Pass per item (EXPRESS
# children), ResultWriter on. Prints the wall time, items per second and peak RSS.
#
#   bench/distributed_map.sh [rows] [bin]     # after cargo build --release
set -euo pipefail
rows=${1:-1000000}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${2:-$root/target/release/sfnlite}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/data/lake" "$work/data/out"
python3 - "$rows" "$work/data/lake/rows.csv" <<'PY'
import sys
rows, path = int(sys.argv[1]), sys.argv[2]
with open(path, "w") as f:
    f.write("id,name,amount\n")
    for i in range(rows):
        f.write(f"{i},item-{i},{i % 997}\n")
PY
cat > "$work/map.asl.json" <<'JSON'
{"StartAt":"Each","States":{"Each":{"Type":"Map","MaxConcurrency":1000,"Label":"rows",
 "ItemReader":{"Resource":"arn:aws:states:::s3:getObject","Parameters":{"Bucket":"lake","Key":"rows.csv"},"ReaderConfig":{"InputType":"CSV"}},
 "ItemProcessor":{"ProcessorConfig":{"Mode":"DISTRIBUTED","ExecutionType":"EXPRESS"},"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}},
 "ResultWriter":{"Resource":"arn:aws:states:::s3:putObject","Parameters":{"Bucket":"out","Prefix":"results"}},
 "End":true}}}
JSON
start=$(date +%s%N)
SFNLITE_DATA_DIR="$work/data" /usr/bin/time -f '%M' -o "$work/rss" "$bin" --no-config --ephemeral run "$work/map.asl.json" --input '{}' > "$work/out.json"
end=$(date +%s%N)
ms=$(( (end - start) / 1000000 ))
rss_kb=$(cat "$work/rss")
written=$(python3 -c 'import json,sys,glob; d=json.load(open(glob.glob(sys.argv[1]+"/data/out/results/*/manifest.json")[0])); print(sum(1 for _ in json.load(open(sys.argv[1]+"/data/out/"+d["ResultFiles"]["SUCCEEDED"][0]["Key"]))))' "$work")
echo "{\"rows\": $rows, \"ms\": $ms, \"items_per_second\": $(( rows * 1000 / (ms > 0 ? ms : 1) )), \"peak_rss_mib\": $(( rss_kb / 1024 )), \"results_written\": $written}"
