"""boto3 against `sfnlite serve`, as a user's test code would use it: only the endpoint
differs from AWS. Usage: boto3_walk.py ENDPOINT COUNT

Creates a state machine (a Wait, a Map and a Parallel), starts COUNT executions at once,
polls DescribeExecution until every one has ended, and walks each history with a page size
of 1. Prints one JSON line of facts; exits non-zero on any failure."""

import concurrent.futures
import json
import sys
import time

import boto3
from botocore.config import Config

endpoint, count = sys.argv[1], int(sys.argv[2])
sfn = boto3.client(
    "stepfunctions",
    endpoint_url=endpoint,
    region_name="us-east-1",
    aws_access_key_id="test",
    aws_secret_access_key="test",
    config=Config(retries={"max_attempts": 1}, max_pool_connections=32),
)
definition = {
    "StartAt": "Nap",
    "States": {
        "Nap": {"Type": "Wait", "Seconds": 1, "Next": "Each"},
        "Each": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "ItemProcessor": {"StartAt": "Double", "States": {"Double": {
                "Type": "Pass", "Parameters": {"v.$": "States.MathAdd($, $)"}, "End": True}}},
            "ResultPath": "$.doubled",
            "Next": "Both",
        },
        "Both": {
            "Type": "Parallel",
            "Branches": [
                {"StartAt": "L", "States": {"L": {"Type": "Pass", "Result": "left", "End": True}}},
                {"StartAt": "R", "States": {"R": {"Type": "Pass", "Result": "right", "End": True}}},
            ],
            "ResultPath": "$.sides",
            "End": True,
        },
    },
}
created = sfn.create_state_machine(
    name="walk", definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/walk"
)
machine = created["stateMachineArn"]
assert machine.endswith(":stateMachine:walk"), machine


def start(i):
    t = time.monotonic()
    arn = sfn.start_execution(stateMachineArn=machine, name=f"run-{i}", input=json.dumps({"items": [i, 1]}))["executionArn"]
    return arn, time.monotonic() - t


with concurrent.futures.ThreadPoolExecutor(16) as pool:
    started = list(pool.map(start, range(count)))
arns = [a for a, _ in started]
latencies = sorted(l for _, l in started)
deadline = time.monotonic() + 120
pending = set(arns)
while pending and time.monotonic() < deadline:
    for arn in list(pending):
        if sfn.describe_execution(executionArn=arn)["status"] != "RUNNING":
            pending.discard(arn)
    time.sleep(0.2)
assert not pending, f"{len(pending)} executions still RUNNING"
for i, arn in enumerate(arns):
    d = sfn.describe_execution(executionArn=arn)
    assert d["status"] == "SUCCEEDED", d
    out = json.loads(d["output"])
    assert out["doubled"] == [{"v": 2 * i}, {"v": 2}] and out["sides"] == ["left", "right"], out
# One history walked one event a page, the way paging clients do.
events, token = [], None
while True:
    page = sfn.get_execution_history(executionArn=arns[0], maxResults=1, **({"nextToken": token} if token else {}))
    assert len(page["events"]) <= 1
    events += page["events"]
    token = page.get("nextToken")
    if not token:
        break
types = [e["type"] for e in events]
assert types[0] == "ExecutionStarted" and types[-1] == "ExecutionSucceeded", types
assert [e["id"] for e in events] == list(range(1, len(events) + 1))
whole = sfn.get_execution_history(executionArn=arns[0], maxResults=1000)["events"]
assert [e["id"] for e in whole] == [e["id"] for e in events]
listed = sfn.list_executions(stateMachineArn=machine, statusFilter="SUCCEEDED", maxResults=1000)["executions"]
assert len(listed) == count, len(listed)
try:
    sfn.describe_execution(executionArn=machine.replace("stateMachine", "execution") + ":nope")
    raise AssertionError("a missing execution was described")
except sfn.exceptions.ExecutionDoesNotExist:
    pass
print(json.dumps({"executions": count, "events": len(events), "start_p50": latencies[len(latencies) // 2],
                  "start_p99": latencies[int(len(latencies) * 0.99) - 1]}))
