#!/usr/bin/env bash
# Times `sfnlite validate` on chained definitions of 100,000 and 200,000 states (Pass, and
# Choice with a rule each), to show validation stays near-linear (issue 15: < 1 s at 100,000).
#
#   bench/validate.sh          # from the repository root, after `cargo build --release`
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/target/release/sfnlite"
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$work" <<'PY'
import json, sys
out = sys.argv[1]
for n in (100_000, 200_000):
    states = {f"S{i}": ({"Type": "Pass", "Next": f"S{i+1}"} if i < n - 1 else {"Type": "Succeed"}) for i in range(n)}
    json.dump({"StartAt": "S0", "States": states}, open(f"{out}/pass{n}.asl.json", "w"))
n = 100_000
rule = lambda i: {"Variable": "$.x", "NumericEquals": i, "Next": f"S{i+1}"}
states = {f"S{i}": ({"Type": "Choice", "Choices": [rule(i)], "Default": f"S{i+1}"} if i < n - 1 else {"Type": "Succeed"}) for i in range(n)}
json.dump({"StartAt": "S0", "States": states}, open(f"{out}/choice{n}.asl.json", "w"))
PY
printf '%-22s %10s %10s\n' definition seconds "peak MiB"
for name in pass100000 pass200000 choice100000; do
  /usr/bin/time -f "%e %M" -o "$work/time" "$bin" validate "$work/$name.asl.json" > /dev/null 2>&1
  read -r seconds kib < "$work/time"
  printf '%-22s %10s %10s\n' "$name" "$seconds" "$((kib / 1024))"
done
