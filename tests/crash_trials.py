#!/usr/bin/env python3
"""Crash trials: kill sfnlite with SIGKILL at random moments, resume, and check that nothing
differs from an uninterrupted run.

Each trial takes a case (every definition in definitions/ that runs offline, plus Map,
Parallel, Retry, Catch and Wait cases written here), runs it in a fresh store, sends
SIGKILL after a random delay (anywhere in the run: not only between events), then resumes
(`sfnlite resume --all` for `run`; starting `sfnlite serve` again, which resumes what was
RUNNING, for `serve`) and compares the output and the history (timestamps made relative to
the start) with an uninterrupted run's, and checks the history's invariants:
ids 1..n, each previousEventId names an earlier event, one terminal event and it is the
last, and the execution's stopDate equals the terminal event's timestamp.

    tests/crash_trials.py --trials 1000 [--bin target/release/sfnlite] [--seed N] [--case NAME]

Exit 0 when every trial holds, 1 with each violation printed. Run from anywhere.
"""
import argparse
import dataclasses
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)")


@dataclasses.dataclass
class Trial:
    """How a run went: killed or not, how long it took, what went wrong, and whether the
    execution had been recorded when it was killed (then it must not get lost)."""
    killed: bool
    duration: float
    problem: str = None
    recorded: bool = True


def chain(n, kind):
    """n states of `kind` (Wait or Pass) in a row."""
    states = {}
    for i in range(n):
        state = {"Type": "Wait", "Seconds": 30} if kind == "Wait" else {"Type": "Pass", "Result": i, "ResultPath": "$.last"}
        state.update({"End": True} if i == n - 1 else {"Next": f"S{i + 1}"})
        states[f"S{i}"] = state
    return {"StartAt": "S0", "States": states}


CASES = {
    "map": ({
        "StartAt": "Each",
        "States": {"Each": {
            "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 4,
            "ItemSelector": {"n.$": "$$.Map.Item.Value", "i.$": "$$.Map.Item.Index"},
            "ItemProcessor": {"StartAt": "Nap", "States": {
                "Nap": {"Type": "Wait", "Seconds": 5, "Next": "Double"},
                "Double": {"Type": "Pass", "Parameters": {"d.$": "States.MathAdd($.n, $.n)", "i.$": "$.i"}, "End": True}}},
            "End": True}},
    }, {"items": list(range(40))}),
    "parallel-retry-catch": ({
        "StartAt": "Both",
        "States": {
            "Both": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "Slow", "States": {"Slow": {"Type": "Wait", "Seconds": 10, "Next": "Left"},
                                                   "Left": {"Type": "Pass", "Result": "left", "End": True}}},
                    {"StartAt": "Boom", "States": {"Boom": {"Type": "Fail", "Error": "Custom", "Cause": "always"}}},
                ],
                "Retry": [{"ErrorEquals": ["Custom"], "MaxAttempts": 3, "IntervalSeconds": 2, "BackoffRate": 2}],
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.caught", "Next": "After"}],
                "Next": "After"},
            "After": {"Type": "Pass", "Parameters": {"error.$": "$.caught.Error"}, "End": True},
        },
    }, {"x": 1}),
    "waits": (chain(12, "Wait"), {"w": True}),
    "passes": (chain(300, "Pass"), {"p": True}),
    "task-retry": ({
        "StartAt": "Call",
        "States": {"Call": {
            "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "flaky", "Payload.$": "$"},
            "Retry": [{"ErrorEquals": ["Lambda.ServiceException"], "MaxAttempts": 4, "IntervalSeconds": 1}],
            "ResultSelector": {"body.$": "$.Payload"},
            "End": True}},
    }, {"t": 1}),
}
# `serve` runs on the real clock: its cases wait little.
SERVE_CASES = {
    "passes": CASES["passes"],
    "map-quick": ({**CASES["map"][0], "States": {"Each": {**CASES["map"][0]["States"]["Each"], "ItemProcessor": {
        "StartAt": "Double", "States": {"Double": {"Type": "Pass", "Parameters": {"d.$": "States.MathAdd($.n, $.n)"}, "End": True}}}}}},
        CASES["map"][1]),
    "retry-catch-quick": ({"StartAt": "Both", "States": {
        **CASES["parallel-retry-catch"][0]["States"],
        "Both": {**CASES["parallel-retry-catch"][0]["States"]["Both"],
                 "Retry": [{"ErrorEquals": ["Custom"], "MaxAttempts": 2, "IntervalSeconds": 1, "BackoffRate": 1}],
                 "Branches": [{"StartAt": "Left", "States": {"Left": {"Type": "Pass", "Result": "left", "End": True}}},
                              CASES["parallel-retry-catch"][0]["States"]["Both"]["Branches"][1]]}}},
        {"x": 1}),
}
MOCKS = {"StateMachines": {"task-retry": {"TestCases": {"Flaky": {"Call": "Flaky"}}}},
         "MockedResponses": {"Flaky": {
             "0-1": {"Throw": {"Error": "Lambda.ServiceException", "Cause": "try again"}},
             "2": {"Return": {"StatusCode": 200, "Payload": {"ok": True}}}}}}


def repo_cases():
    """Definitions in definitions/ with an input file: they run offline (their Lambdas as
    local handlers, Athena and S3 embedded) under the repository's sfnlite.toml."""
    out = {}
    for definition in sorted((REPO / "definitions").glob("*.asl.json")):
        name = definition.name[: -len(".asl.json")]
        input_file = definition.with_name(name + ".input.json")
        # Seed C calls back to a URL; seed D needs an SFTP server: both run in the e2e tests.
        if input_file.exists() and name not in ("athena-async-callback", "athena-parallel"):
            out["definitions/" + name] = (definition, input_file)
    return out


def millis(text):
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def relative(value, start):
    """The history or output with every timestamp made relative to the execution's start."""
    text = json.dumps(value, sort_keys=True)
    return json.loads(ISO.sub(lambda m: f"T+{millis(m.group(0)) - start}ms", text))


class Runner:
    def __init__(self, binary, work):
        self.binary = binary
        self.work = work
        for name, (definition, _) in CASES.items():
            (work / f"{name}.asl.json").write_text(json.dumps(definition))
        (work / "mocks.json").write_text(json.dumps(MOCKS))

    def env(self, store):
        env = dict(os.environ)
        env["SFNLITE_STORE"] = str(store)
        env["SFNLITE_DATA_DIR"] = str(store) + "-data"
        env.pop("SFNLITE_CONFIG", None)
        return env

    def run_args(self, case):
        if case in CASES:
            args = ["run", str(self.work / f"{case}.asl.json"), "--input", json.dumps(CASES[case][1]), "--no-config"]
            if case == "task-retry":
                args += ["--mock-config", str(self.work / "mocks.json"), "--test-case", "Flaky",
                         "--state-machine-name", "task-retry"]
        else:
            definition, input_file = repo_cases()[case]
            args = ["run", str(definition), "--input-file", str(input_file)]
        return args + ["--clock", "virtual", "--name", "trial", "--seed", "7"]

    def resume_args(self, case):
        extra = ["--no-config"] if case in CASES else []
        if case == "task-retry":
            extra += ["--mock-config", str(self.work / "mocks.json"), "--test-case", "Flaky",
                      "--state-machine-name", "task-retry"]
        return ["resume", "--all"] + extra

    def cmd(self, store, args, timeout=300):
        return subprocess.run([self.binary] + args, cwd=REPO, env=self.env(store), capture_output=True, timeout=timeout)

    def result(self, store):
        described = self.cmd(store, ["describe", "trial", "--format", "json"])
        history = self.cmd(store, ["history", "trial", "--format", "json"])
        if described.returncode != 0 or history.returncode != 0:
            return None, (described.stderr + history.stderr).decode(errors="replace")
        return json.loads(described.stdout), json.loads(history.stdout)["events"]

    def run_trial(self, case, store, kill_after):
        """Runs `case` in `store`, killing it after `kill_after` seconds (None: never)."""
        started = time.monotonic()
        proc = subprocess.Popen([self.binary] + self.run_args(case), cwd=REPO, env=self.env(store),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        killed = False
        if kill_after is not None:
            try:
                proc.wait(timeout=kill_after)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                killed = True
        proc.wait(timeout=300)
        trial = Trial(killed, time.monotonic() - started)
        if killed:
            trial.recorded = self.cmd(store, ["describe", "trial"]).returncode == 0
            # Lambda handlers are the run's children: wait until none holds the store.
            resumed = self.cmd(store, self.resume_args(case))
            if resumed.returncode not in (0, 1):
                trial.problem = f"resume exited {resumed.returncode}: {resumed.stderr.decode(errors='replace')[-400:]}"
        return trial


class Server:
    """`sfnlite serve` on a free loopback port, killed and started again."""

    def __init__(self, binary, store):
        self.binary, self.store, self.proc = binary, store, None
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]

    def start(self):
        env = dict(os.environ, SFNLITE_STORE=str(self.store), SFNLITE_DATA_DIR=str(self.store) + "-data")
        self.proc = subprocess.Popen([self.binary, "serve", "--no-config", "--port", str(self.port)],
                                     cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                self.call("ListStateMachines", {})
                return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("serve did not answer")

    def call(self, action, body):
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/", data=json.dumps(body).encode(),
            headers={"X-Amz-Target": f"AWSStepFunctions.{action}", "Content-Type": "application/x-amz-json-1.0"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def kill(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def wait_done(self, arn, timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.call("DescribeExecution", {"executionArn": arn})["status"] != "RUNNING":
                return True
            time.sleep(0.02)
        return False


def serve_trial(binary, store, case, kill_after):
    """Starts `case` through serve's StartExecution, kills serve after `kill_after` seconds
    (None: never), starts it again, and waits for the execution to end."""
    definition, payload = SERVE_CASES[case]
    started = time.monotonic()
    server = Server(binary, store)
    server.start()
    try:
        machine = server.call("CreateStateMachine", {
            "name": case, "definition": json.dumps(definition),
            "roleArn": "arn:aws:iam::123456789012:role/r"})["stateMachineArn"]
        arn = server.call("StartExecution", {"stateMachineArn": machine, "name": "trial",
                                             "input": json.dumps(payload)})["executionArn"]
        killed = False
        if kill_after is not None:
            time.sleep(kill_after)
            if server.call("DescribeExecution", {"executionArn": arn})["status"] == "RUNNING":
                server.kill()
                killed = True
                server.start()
        trial = Trial(killed, time.monotonic() - started)
        if not server.wait_done(arn):
            trial.problem = "the execution did not end after serve was started again"
        return trial
    finally:
        # A kill too: what the server had answered may not all be durable yet (its record's
        # last update, after the history's end), which `resume` settles, as after any crash.
        server.kill()
        subprocess.run([binary, "resume", "--all", "--no-config"], cwd=REPO, capture_output=True, timeout=300,
                       env=dict(os.environ, SFNLITE_STORE=str(store), SFNLITE_DATA_DIR=str(store) + "-data"))


def invariants(described, events):
    """The history's rules; a list of what is broken."""
    broken = []
    ids = [e["id"] for e in events]
    if ids != list(range(1, len(events) + 1)):
        broken.append(f"ids are not 1..{len(events)}")
    for e in events:
        if not 0 <= e.get("previousEventId", 0) < e["id"]:
            broken.append(f"event {e['id']} has previousEventId {e.get('previousEventId')}")
    terminal = {"ExecutionSucceeded", "ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut"}
    ends = [e for e in events if e["type"] in terminal]
    if len(ends) != 1 or events[-1]["type"] not in terminal:
        broken.append(f"{len(ends)} terminal events, the last event is {events[-1]['type'] if events else 'none'}")
    elif "stopDate" in described and millis(described["stopDate"]) != millis(ends[0]["timestamp"]):
        broken.append(f"stopDate {described['stopDate']} is not the terminal event's {ends[0]['timestamp']}")
    return broken


def comparable(described, events, mode):
    """What must equal the uninterrupted run's. `exact`: everything, timestamps relative to
    the start (the virtual clock makes them exact). `untimed`: everything but timestamps (the
    real clock runs on while the process is dead). `shape`: the status and the events' types
    and states (the seeds' queries return rows in no fixed order, and a task that had not
    finished runs again on resume: Athena draws a new query id)."""
    output = {k: described.get(k) for k in ("status", "output", "error", "cause")}
    if mode == "exact":
        start = millis(events[0]["timestamp"])
        return relative(output, start), relative(events, start)
    if mode == "untimed":
        return output, json.loads(ISO.sub("<time>", json.dumps(events, sort_keys=True)))
    def state(e):
        details = next((v for k, v in e.items() if k.endswith("EventDetails") and isinstance(v, dict)), {})
        return details.get("name")
    return described.get("status"), [(e["type"], e["id"], e.get("previousEventId"), state(e)) for e in events]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--bin", default=str(REPO / "target" / "debug" / "sfnlite"))
    parser.add_argument("--seed", type=int, default=None, help="the random delays' seed (default: random, printed)")
    parser.add_argument("--case", action="append", help="only these cases (repeatable)")
    parser.add_argument("--no-serve", action="store_true", help="no trials of `sfnlite serve`")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    binary = str(Path(args.bin).resolve())
    cases = [c for c in list(CASES) + list(repo_cases()) if not args.case or c in args.case]
    kinds = [(c, "run") for c in cases]
    kinds += [] if args.no_serve else [(c, "serve") for c in SERVE_CASES if not args.case or c in args.case]
    print(f"crash trials: {args.trials} over {len(kinds)} cases, seed {seed}", file=sys.stderr)
    work = Path(tempfile.mkdtemp(prefix="sfnlite-crash-"))
    runner = Runner(binary, work)

    def trial_of(kind, case, store, kill_after):
        if kind == "run":
            return runner.run_trial(case, store, kill_after)
        return serve_trial(binary, store, case, kill_after)

    baselines, violations, kills, before_start = {}, [], 0, 0
    try:
        for case, kind in kinds:
            store = work / f"base-{kind}-{case.replace('/', '-')}"
            baseline = trial_of(kind, case, store, None)
            described, events = runner.result(store)
            if baseline.problem or described is None:
                sys.exit(f"{case} ({kind}) does not run uninterrupted: {baseline.problem or events}")
            mode = "untimed" if kind == "serve" else "exact" if case in CASES else "shape"
            # The kill lands in the run itself (process start-up included), not in the reading after.
            baselines[(case, kind)] = (comparable(described, events, mode), baseline.duration, mode)
            shutil.rmtree(store, ignore_errors=True)
            shutil.rmtree(str(store) + "-data", ignore_errors=True)
        for trial in range(args.trials):
            case, kind = kinds[trial % len(kinds)]
            expected, duration, mode = baselines[(case, kind)]
            # Anywhere in the run, but rarely before the execution is recorded (process start-up).
            kill_after = rng.uniform(0.15 * duration, 0.95 * duration)
            store = work / f"trial-{trial}"
            outcome = trial_of(kind, case, store, kill_after)
            killed, problem = outcome.killed, outcome.problem
            kills += killed
            what = f"trial {trial}: {case} ({kind}), SIGKILL after {kill_after * 1000:.0f} ms"
            if problem:
                violations.append(f"{what}: {problem}")
            else:
                described, events = runner.result(store)
                if described is None and killed and "no execution matches" in events and not outcome.recorded:
                    before_start += 1  # killed before the execution was recorded: nothing to resume
                elif described is None:
                    violations.append(f"{what}: {events}")
                else:
                    broken = invariants(described, events)
                    got = comparable(described, events, mode)
                    if got[0] != expected[0]:
                        broken.append(f"outcome differs: {str(got[0])[:300]} != {str(expected[0])[:300]}")
                    if got[1] != expected[1]:
                        first = next((i for i, (a, b) in enumerate(zip(got[1], expected[1])) if a != b), min(len(got[1]), len(expected[1])))
                        broken.append(f"history differs from event {first + 1} ({len(got[1])} events, uninterrupted {len(expected[1])})")
                    violations += [f"{what}: {b}" for b in broken]
            shutil.rmtree(store, ignore_errors=True)
            shutil.rmtree(str(store) + "-data", ignore_errors=True)
            if (trial + 1) % 50 == 0:
                print(f"  {trial + 1}/{args.trials} trials, {kills} killed mid-run, {len(violations)} violation(s)", file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for v in violations:
        print(v)
    print(f"{args.trials} trials ({kills} killed mid-run, {before_start} of them before the execution was recorded) "
          f"over {len(kinds)} cases, seed {seed}: "
          f"{len(violations)} violation(s)", file=sys.stderr)
    sys.exit(1 if violations else 0)


if __name__ == "__main__":
    main()
