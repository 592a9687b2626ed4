#!/usr/bin/env python3
"""Many executions at once through `sfnlite serve` (issue 10's benchmark, not a test).

    bench/serve_concurrency.py [--count 1000] [--bin target/release/sfnlite]

Starts a server on a fresh store, creates a state machine (a 1 s Wait, a Map of 4 and a
Parallel of 2), fires COUNT StartExecution calls from 64 client threads, polls
ListExecutions until none is RUNNING, checks every one SUCCEEDED, and prints JSON:
executions per second (first start to last end), StartExecution p50/p99 latency, the
server's peak RSS (VmHWM) and its start-up time (process start to "serving")."""

import argparse
import concurrent.futures
import json
import os
import re
import statistics
import subprocess
import tempfile
import threading
import time

import boto3
from botocore.config import Config

parser = argparse.ArgumentParser()
parser.add_argument("--count", type=int, default=1000)
parser.add_argument("--bin", default="target/release/sfnlite")
args = parser.parse_args()

store = tempfile.mkdtemp()
began = time.perf_counter()
server = subprocess.Popen([args.bin, "--no-config", "--store", store, "serve", "--port", "0"],
                          stderr=subprocess.PIPE, text=True, env={**os.environ, "SFNLITE_DATA_DIR": store + "/data"})
for line in server.stderr:
    match = re.search(r"serving the Step Functions API on (\S+)", line)
    if match:
        endpoint = match.group(1)
        break
startup_ms = (time.perf_counter() - began) * 1000
# The server logs a line per request: keep reading, or a full pipe stalls it.
threading.Thread(target=lambda: [None for _ in server.stderr], daemon=True).start()
sfn = boto3.client("stepfunctions", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="x",
                   aws_secret_access_key="x", config=Config(retries={"max_attempts": 1}, max_pool_connections=64))
definition = {"StartAt": "Nap", "States": {
    "Nap": {"Type": "Wait", "Seconds": 1, "Next": "Each"},
    "Each": {"Type": "Map", "ItemsPath": "$.items", "ItemProcessor": {"StartAt": "P", "States": {
        "P": {"Type": "Pass", "End": True}}}, "ResultPath": "$.mapped", "Next": "Both"},
    "Both": {"Type": "Parallel", "Branches": [
        {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}},
        {"StartAt": "B", "States": {"B": {"Type": "Pass", "End": True}}}], "End": True}}}
machine = sfn.create_state_machine(name="many", definition=json.dumps(definition),
                                   roleArn="arn:aws:iam::123456789012:role/r")["stateMachineArn"]


def start(i):
    t = time.perf_counter()
    sfn.start_execution(stateMachineArn=machine, name=f"e{i}", input=json.dumps({"items": [1, 2, 3, 4]}))
    return time.perf_counter() - t


first = time.perf_counter()
with concurrent.futures.ThreadPoolExecutor(64) as pool:
    latencies = sorted(pool.map(start, range(args.count)))
while True:
    running = sfn.list_executions(stateMachineArn=machine, statusFilter="RUNNING", maxResults=1)["executions"]
    if not running:
        break
    time.sleep(0.05)
elapsed = time.perf_counter() - first
succeeded = sum(len(p["executions"]) for p in sfn.get_paginator("list_executions").paginate(
    stateMachineArn=machine, statusFilter="SUCCEEDED"))
with open(f"/proc/{server.pid}/status") as status:
    peak = next(int(l.split()[1]) for l in status if l.startswith("VmHWM"))
server.terminate()
server.wait()
print(json.dumps({
    "executions": args.count, "succeeded": succeeded, "seconds": round(elapsed, 2),
    "executions_per_second": round(args.count / elapsed, 1),
    "start_p50_ms": round(statistics.median(latencies) * 1000, 2),
    "start_p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
    "peak_rss_mib": round(peak / 1024, 1), "startup_ms": round(startup_ms, 1)}))
