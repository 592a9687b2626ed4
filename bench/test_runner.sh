#!/usr/bin/env bash
# Issue 13's benchmark (not a test): `sfnlite test` on N cases (default 1,000) of a
# 20-state workflow (Pass, Choice, mocked Lambda Tasks with a Retry and a Catch, a Wait,
# a Map), each case with its own input, mocks and expectations. Prints the wall time,
# cases per second and peak RSS; then the same for the repository's own test files.
#
#   bench/test_runner.sh [cases] [bin]     # after cargo build --release
set -euo pipefail
cases=${1:-1000}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${2:-$root/target/release/sfnlite}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$cases" "$work" <<'PY'
import json, sys
cases, work = int(sys.argv[1]), sys.argv[2]
states = {}
# 20 states: Start (Pass) → Route (Choice) → Charge (Task, Retry, Catch) → 12 Passes → Nap (Wait) → Each (Map) → Done,
# with Refund (Pass) and Big (Pass) off the main path.
states["Start"] = {"Type": "Pass", "Parameters": {"amount.$": "$.amount", "id.$": "$.id", "items.$": "$.items"}, "Next": "Route"}
states["Route"] = {"Type": "Choice", "Choices": [{"Variable": "$.amount", "NumericGreaterThan": 1000, "Next": "Big"}], "Default": "Charge"}
states["Big"] = {"Type": "Pass", "Result": "big", "ResultPath": "$.kind", "Next": "Charge"}
states["Charge"] = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
    "Parameters": {"FunctionName": "charge", "Payload.$": "$"}, "ResultSelector": {"ok.$": "$.Payload.ok"}, "ResultPath": "$.charge",
    "Retry": [{"ErrorEquals": ["Lambda.TooManyRequestsException"], "IntervalSeconds": 1, "MaxAttempts": 2}],
    "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Refund"}], "Next": "Step1"}
states["Refund"] = {"Type": "Pass", "Result": True, "ResultPath": "$.refunded", "Next": "Step1"}
for i in range(1, 13):
    states[f"Step{i}"] = {"Type": "Pass", "Parameters": {"step": i, "prev.$": "$"}, "OutputPath": "$.prev", "Next": f"Step{i+1}" if i < 12 else "Nap"}
states["Nap"] = {"Type": "Wait", "Seconds": 60, "Next": "Each"}
states["Each"] = {"Type": "Map", "ItemsPath": "$.items", "ItemProcessor": {"StartAt": "Double", "States": {
    "Double": {"Type": "Pass", "Parameters": {"v.$": "States.MathAdd($, $)"}, "OutputPath": "$.v", "End": True}}},
    "ResultPath": "$.doubled", "Next": "Done"}
states["Done"] = {"Type": "Succeed"}
assert len(states) == 20, len(states)
json.dump({"StartAt": "Start", "States": states}, open(f"{work}/flow.asl.json", "w"))
out = ["definition: flow.asl.json", "cases:"]
for n in range(cases):
    kind = n % 3
    amount = 5 if kind != 2 else 5000
    if kind == 1:
        mocks = '{ Charge: { "0": { Throw: { Error: Lambda.TooManyRequestsException, Cause: busy } }, "1": { Return: { Payload: { ok: true } } } } }'
        expect = "{ status: SUCCEEDED, states: { Charge: { attempts: 2 } }, outputPaths: { \"$.charge.ok\": true }, elapsed: 61 }"
    elif kind == 2:
        mocks = '{ Charge: { "0": { Throw: { Error: Card.Declined, Cause: "no" } } } }'
        expect = "{ status: SUCCEEDED, outputContains: { refunded: true, kind: big }, elapsed: 60 }"
    else:
        mocks = '{ Charge: { "0": { Return: { Payload: { ok: true } } } } }'
        expect = "{ status: SUCCEEDED, outputContains: { charge: { ok: true }, doubled: [2, 4] }, path: [Start, Route, Charge, Step1, Step2, Step3, Step4, Step5, Step6, Step7, Step8, Step9, Step10, Step11, Step12, Nap, Each, Double, Double, Done] }"
    out.append(f"  - name: case {n}")
    out.append(f"    input: {{ id: {n}, amount: {amount}, items: [1, 2] }}")
    out.append(f"    mocks: {mocks}")
    out.append(f"    expect: {expect}")
open(f"{work}/flow.sfntest.yaml", "w").write("\n".join(out) + "\n")
PY
measure() {
    local start end
    start=$(date +%s%N)
    /usr/bin/time -f '%M' -o "$work/rss" "$@" > "$work/out" || { cat "$work/out"; exit 1; }
    end=$(date +%s%N)
    echo "$(( (end - start) / 1000000 )) $(cat "$work/rss")"
}
read -r ms rss < <(cd "$work" && measure "$bin" --no-config test flow.sfntest.yaml)
tail -1 "$work/out"
echo "{\"cases\": $cases, \"ms\": $ms, \"cases_per_second\": $(( cases * 1000 / (ms > 0 ? ms : 1) )), \"peak_rss_mib\": $(( rss / 1024 ))}"
read -r ms rss < <(cd "$root" && measure "$bin" test)
tail -1 "$work/out"
echo "{\"repository_test_files_ms\": $ms, \"peak_rss_mib\": $(( rss / 1024 ))}"
