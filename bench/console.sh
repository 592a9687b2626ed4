#!/usr/bin/env bash
# Issue 16's scale benchmark (not a test): an execution of a Map with N iterations (default
# 10,000; four events each, about 40,000 events; EXPRESS, as AWS's 25,000-event STANDARD
# quota would stop it) is written as a page (`history --format html`) and opened in headless
# Chromium. Prints the events, the page's size, the time to write it, and the time until
# the page is built (navigation to `data-ready`) and console.js's own build time.
#
#   bench/console.sh [iterations] [bin]    # after cargo build --release and npm ci --prefix tests/browser
set -euo pipefail
n=${1:-10000}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${2:-$root/target/release/sfnlite}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat > "$work/map.asl.json" <<'JSON'
{"StartAt": "Each", "States": {
  "Each": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 40,
    "ItemProcessor": {"StartAt": "Check", "States": {
      "Check": {"Type": "Choice", "Choices": [{"Variable": "$", "NumericGreaterThan": 0, "Next": "Ok"}], "Default": "Ok"},
      "Ok": {"Type": "Pass", "End": true}}},
    "ResultSelector": {"count.$": "States.ArrayLength($)"}, "End": true}}}
JSON
python3 -c "import json, sys; print(json.dumps({'items': list(range(1, int(sys.argv[1]) + 1))}))" "$n" > "$work/input.json"
"$bin" --no-config --store "$work/store" run "$work/map.asl.json" --input-file "$work/input.json" --type EXPRESS --name big --clock virtual -q > /dev/null
start=$(date +%s%N)
"$bin" --no-config --store "$work/store" history big --format html > "$work/big.html"
written=$((($(date +%s%N) - start) / 1000000))
report=$(node "$root/tests/browser/check.mjs" "$work/big.html" --screenshot "$work/big.png")
python3 - "$report" "$work/big.html" "$written" <<'PY'
import json, os, sys
r, page, written = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
errors = r["consoleErrors"] + r["pageErrors"]
print(f"events {r['eventsTotal']:,} · page {os.path.getsize(page) / 1e6:.1f} MB written in {written} ms · "
      f"ready in {r['loadMillis']} ms (console.js {r['buildMillis']} ms) · browser errors {len(errors)}")
groups = {g['name']: g.get('badge') for g in r['groups']}
print(f"Map badge: {groups.get('Each')}")
PY
