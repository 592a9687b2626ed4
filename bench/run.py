#!/usr/bin/env python3
"""Every performance figure of sfnlite in one command (issue 14).

    bench/run.py [--runs 5] [--store-runs 50] [--bin target/release/sfnlite] [--work DIR]

Prints, for the release binary:
  1. the shared workloads (--work, default ../shared/bench): one fresh process per
     execution, start-up included, median wall time and peak RSS, with --ephemeral and with
     a persisted store (one store per workload, kept across its runs as a user's store
     would be); workloads over AWS's 25,000-event STANDARD quota run as EXPRESS;
  2. start-up: `sfnlite --version` (a one-state run is the `startup` workload);
  3. the binary: its size on disk;
  4. a store that grows: it records --store-runs payload executions, each carrying
     different data, then times `executions list` and a one-state `run` on it, and gives
     the history recorded (as GetExecutionHistory JSON) against the store's size on disk.

Times are taken around each process with a monotonic clock; peak RSS is the process's own
(GNU time's %M, in one more run; NaN without GNU time). Without the workloads, only
start-up and size are printed. Exit code 1 when a run fails or gives the wrong answer, 2 for
bad usage or a missing binary.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORK = os.path.join(ROOT, "..", "shared", "bench")  # replaced by --work

# name, input, execution type
WORKLOADS = [
    ("loop10k", "loop10k", "EXPRESS"),
    ("map10k", "map10k", "EXPRESS"),
    ("map10k-c40", "map10k", "EXPRESS"),
    ("parallel-fanout", "parallel-fanout", "STANDARD"),
    ("payload", "payload", "STANDARD"),
    ("startup", "startup", "STANDARD"),
]


def run_timed(cmd):
    """Runs cmd with its output discarded; returns (seconds, exit code)."""
    start = time.perf_counter()
    pid = os.posix_spawn(cmd[0], cmd, os.environ, file_actions=[
        (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
        (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
    ])
    _, status = os.waitpid(pid, 0)
    return time.perf_counter() - start, os.waitstatus_to_exitcode(status)


def peak_rss(cmd):
    """The peak RSS of one run of cmd in MiB, from GNU time when installed (a child of this
    Python process would count Python's own memory), else NaN."""
    if not os.access("/usr/bin/time", os.X_OK):
        return float("nan")
    with tempfile.NamedTemporaryFile("r") as report:
        done = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", report.name, *cmd],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        lines = report.read().strip().splitlines()
    if done.returncode != 0 or not lines or not lines[-1].isdigit():
        return float("nan")
    return int(lines[-1]) / 1024


def median_of(cmd, runs):
    """The median wall time of runs runs of cmd, and its peak RSS (one more run)."""
    times = []
    for _ in range(runs):
        elapsed, code = run_timed(cmd)
        if code != 0:
            fail(f"a timed run failed (exit {code}); run it to see why: {' '.join(cmd)}")
        times.append(elapsed)
    return statistics.median(times), peak_rss(cmd)


def fail(message):
    print(f"bench/run.py: {message}", file=sys.stderr)
    sys.exit(1)


def check_output(cmd, what):
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0 or '"status":"SUCCEEDED"' not in out.stdout.replace(" ", ""):
        fail(f"{what}: did not succeed (exit {out.returncode}):\n{out.stdout[-2000:]}{out.stderr[-2000:]}")
    return out.stdout


def workloads(binary, runs, scratch):
    print(f"{'workload':<16} {'ephemeral ms':>12} {'RSS MiB':>8} {'persisted ms':>13} {'RSS MiB':>8} {'ratio':>6}")
    for name, input_name, kind in WORKLOADS:
        asl = os.path.join(WORK, f"{name}.asl.json")
        inp = os.path.join(WORK, f"{input_name}.input.json")
        common = ["run", asl, "--input-file", inp, "--clock", "virtual", "--format", "json", "--type", kind]
        ephemeral = [binary, "--ephemeral", *common]
        # A store per workload, reused across its runs, as a user's store would be.
        persisted = [binary, "--store", os.path.join(scratch, f"store-{name}"), *common]
        check_output(ephemeral, name)
        check_output(persisted, name)
        e, e_rss = median_of(ephemeral, runs)
        p, p_rss = median_of(persisted, runs)
        print(f"{name:<16} {e * 1000:12.2f} {e_rss:8.1f} {p * 1000:13.2f} {p_rss:8.1f} {p / e:6.2f}")


def startup(binary, runs):
    version, v_rss = median_of([binary, "--version"], max(runs, 20))
    print(f"\nstart-up: `sfnlite --version` {version * 1000:.2f} ms, {v_rss:.1f} MiB peak RSS")
    size = os.path.getsize(binary)
    print(f"binary: {binary}: {size / 1e6:.1f} MB")


def payload_variant(base, k):
    """The payload workload's input with data of its own (so that a store can't share it)."""
    doc = json.loads(json.dumps(base))
    for row in doc["payload"]["data"]:
        row["title"] = f"{row['title']} (run {k})"
    return doc


def store_growth(binary, store_runs, runs, scratch):
    store = os.path.join(scratch, "store-growth")
    asl = os.path.join(WORK, "payload.asl.json")
    with open(os.path.join(WORK, "payload.input.json")) as f:
        base = json.load(f)
    inp = os.path.join(scratch, "payload-k.json")
    print(f"\nstore growth: recording {store_runs} payload executions, each with different data …", file=sys.stderr)
    history_bytes = 0
    started = time.perf_counter()
    for k in range(store_runs):
        with open(inp, "w") as f:
            json.dump(payload_variant(base, k), f)
        check_output([binary, "--store", store, "run", asl, "--input-file", inp, "--clock", "virtual",
                      "--format", "json", "--name", f"payload-{k}"], f"payload run {k}")
        if k == 0:
            with open(os.path.join(scratch, "history.json"), "wb") as out:
                done = subprocess.run([binary, "--store", store, "history", f"payload-{k}", "--format", "json"],
                                      stdout=out, stderr=subprocess.PIPE, text=True)
            if done.returncode != 0:
                fail(f"history payload-{k} failed (exit {done.returncode}): {done.stderr[-2000:]}")
            history_bytes = os.path.getsize(out.name)
            os.remove(out.name)
        print(f"\r  {k + 1}/{store_runs}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    fill = time.perf_counter() - started
    disk = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(store) for f in fs)
    listing, l_rss = median_of([binary, "--store", store, "executions", "list", "--format", "json"], runs)
    one = os.path.join(WORK, "startup.asl.json")
    one_input = os.path.join(WORK, "startup.input.json")
    run_one, r_rss = median_of([binary, "--store", store, "run", one, "--input-file", one_input,
                                "--clock", "virtual", "--format", "json"], runs)
    print(f"store growth: {store_runs} payload executions recorded in {fill:.1f} s: "
          f"{history_bytes * store_runs / 1e9:.2f} GB of history (GetExecutionHistory JSON), "
          f"{disk / 1e6:.1f} MB on disk")
    print(f"  executions list: {listing * 1000:.2f} ms, {l_rss:.1f} MiB peak RSS")
    print(f"  one-state run:   {run_one * 1000:.2f} ms, {r_rss:.1f} MiB peak RSS")


def main():
    global WORK
    sys.stdout.reconfigure(line_buffering=True)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per figure (median); default 5")
    parser.add_argument("--store-runs", type=int, default=50,
                        help="payload executions recorded for the store-growth figures (0 skips them); default 50")
    parser.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "sfnlite"),
                        help="the sfnlite binary; default target/release/sfnlite")
    parser.add_argument("--work", default=WORK, help="the workloads' folder; default ../shared/bench")
    args = parser.parse_args()
    if args.runs < 1 or args.store_runs < 0:
        parser.error("--runs must be at least 1 and --store-runs at least 0")
    binary = os.path.abspath(args.bin)
    if not os.access(binary, os.X_OK):
        print(f"no sfnlite binary at {binary}: build it first (cargo build --release) or give --bin", file=sys.stderr)
        sys.exit(2)
    WORK = os.path.abspath(args.work)
    have_workloads = all(os.path.isfile(os.path.join(WORK, f"{n}.asl.json")) for n, *_ in WORKLOADS)
    scratch = tempfile.mkdtemp(prefix="sfnlite-bench-")
    try:
        if have_workloads:
            workloads(binary, args.runs, scratch)
        else:
            print(f"no workloads at {os.path.normpath(WORK)} (--work): workloads and store growth skipped",
                  file=sys.stderr)
        startup(binary, args.runs)
        if args.store_runs and have_workloads:
            store_growth(binary, args.store_runs, args.runs, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
