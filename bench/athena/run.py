#!/usr/bin/env python3
"""Benchmark: sfnlite's local Athena engine against DuckDB on the same CloudFront logs.

    python3 bench/athena/run.py [--sfnlite PATH] [--size-gb 1.0] [--work DIR] [--keep]
                                [--runs 3] [--warmup 1] [--only both|sfnlite|duckdb]

Generates about --size-gb GB (10^9 bytes, uncompressed) of gzip-compressed CloudFront
standard access logs with definitions/data/gen_cloudfront_logs.py into
<work>/data/bench-logs/cf/ (reused when a previous run left the same data behind), then
times the same aggregation on both engines, each run being one fresh process:

    SELECT status, COUNT(*) AS requests, SUM(bytes) AS total_bytes
    FROM cf_access_logs GROUP BY status ORDER BY status

sfnlite runs with --data-dir <work>/data (bucket `bench-logs` is the directory
<work>/data/bench-logs, so the table LOCATION is s3://bench-logs/cf/) and with the work
directory as its cwd, so no repository configuration is picked up. DuckDB runs in a
separate Python process (this script re-invoked with a hidden flag) that reads the same
files with read_csv. Wall time is measured around each process, peak RSS comes from
os.wait4 (the child's own rusage). Both engines must return the same rows, which must
also match the totals the generator recorded; otherwise the script fails.

Needs Python 3.9+ and `pip install duckdb` (unless --only sfnlite). Defaults: binary
target/release/sfnlite and work directory target/bench-athena, both relative to the
repository root. Without --keep the generated data is removed after a successful run.
"""

import argparse
import csv
import importlib.util
import io
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GENERATOR = os.path.join(ROOT, "definitions", "data", "gen_cloudfront_logs.py")
BUCKET, PREFIX, DATABASE, TABLE = "bench-logs", "cf", "bench", "cf_access_logs"

# (column, Athena type) in CloudFront's field order; the DDL is built from this list.
COLUMNS = [
    ("date", "DATE"), ("time", "STRING"), ("location", "STRING"), ("bytes", "BIGINT"),
    ("request_ip", "STRING"), ("method", "STRING"), ("host", "STRING"), ("uri", "STRING"),
    ("status", "STRING"), ("referer", "STRING"), ("user_agent", "STRING"),
    ("query_string", "STRING"), ("cookie", "STRING"), ("result_type", "STRING"),
    ("request_id", "STRING"), ("host_header", "STRING"), ("request_protocol", "STRING"),
    ("request_bytes", "BIGINT"), ("time_taken", "FLOAT"), ("xforwarded_for", "STRING"),
    ("ssl_protocol", "STRING"), ("ssl_cipher", "STRING"), ("response_result_type", "STRING"),
    ("http_version", "STRING"), ("fle_status", "STRING"), ("fle_encrypted_fields", "INT"),
    ("c_port", "INT"), ("time_to_first_byte", "FLOAT"),
    ("x_edge_detailed_result_type", "STRING"), ("sc_content_type", "STRING"),
    ("sc_content_len", "STRING"), ("sc_range_start", "BIGINT"), ("sc_range_end", "BIGINT"),
]
assert len(COLUMNS) == 33


def quote_ident(name):
    return "`%s`" % name if name in ("date",) else name


DDL = (
    "CREATE EXTERNAL TABLE IF NOT EXISTS %s (%s) "
    "ROW FORMAT DELIMITED FIELDS TERMINATED BY '\\t' "
    "LOCATION 's3://%s/%s/' "
    "TBLPROPERTIES ('skip.header.line.count'='2')"
) % (TABLE, ", ".join("%s %s" % (quote_ident(c), t) for c, t in COLUMNS), BUCKET, PREFIX)

QUERY = ("SELECT status, COUNT(*) AS requests, SUM(bytes) AS total_bytes "
         "FROM %s GROUP BY status ORDER BY status" % TABLE)


def duckdb_sql(data_dir):
    """The same query on DuckDB. Only `status` and `bytes` are read by the query, so those
    two get their real types and every other column is VARCHAR: DuckDB's CSV reader
    pushes the projection down and only converts what is used, just as a lazy SerDe
    would. Quoting and escaping are off (CloudFront fields are never quoted, like
    Athena's LazySimpleSerDe); the two header lines are skipped in every file."""
    cols = ", ".join("'%s': '%s'" % (c, "BIGINT" if c == "bytes" else "VARCHAR")
                     for c, _ in COLUMNS)
    glob = os.path.join(data_dir, "*.gz").replace("'", "''")
    return (
        "SELECT status, COUNT(*) AS requests, SUM(bytes) AS total_bytes FROM read_csv('%s', "
        "delim='\\t', header=false, skip=2, quote='', escape='', auto_detect=false, "
        "compression='gzip', columns={%s}) GROUP BY status ORDER BY status" % (glob, cols)
    )


# ---------------------------------------------------------------------------- DuckDB child

def duckdb_child(data_dir, threads):
    """Runs in its own process: one query, rows as JSON on stdout."""
    t0 = time.perf_counter()
    import duckdb

    con = duckdb.connect(":memory:")
    if threads:
        con.execute("SET threads = %d" % threads)
    t1 = time.perf_counter()
    rows = con.execute(duckdb_sql(data_dir)).fetchall()
    t2 = time.perf_counter()
    json.dump({
        "rows": [[r[0], int(r[1]), None if r[2] is None else int(r[2])] for r in rows],
        "import_connect_s": t1 - t0, "query_s": t2 - t1, "version": duckdb.__version__,
        "threads": con.execute("SELECT current_setting('threads')").fetchone()[0],
    }, sys.stdout)


# ----------------------------------------------------------------------------- measuring

class Failed(Exception):
    pass


def measure(cmd, cwd):
    """Run cmd as one process; return (wall seconds, peak RSS KiB, stdout, stderr)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
    if proc.returncode != 0:
        raise Failed("command failed (exit %d): %s\n--- stdout:\n%s\n--- stderr:\n%s"
                     % (proc.returncode, " ".join(cmd)[:600], stdout[-4000:], stderr[-4000:]))
    return wall, usage.ru_maxrss, stdout, stderr  # ru_maxrss is in KiB on Linux


def normalise(rows):
    return [(str(s), int(n), int(b)) for s, n, b in rows]


def parse_sfnlite_csv(text):
    rows = [r for r in csv.reader(io.StringIO(text)) if r and any(f.strip() for f in r)]
    if rows and not rows[0][1].strip().lstrip("-").isdigit():
        rows = rows[1:]  # header line
    bad = [r for r in rows if len(r) != 3]
    if bad:
        raise Failed("unexpected sfnlite CSV output (expected 3 columns): %r" % bad[:3])
    return normalise([(s, n.strip(), b.strip()) for s, n, b in rows])


# ----------------------------------------------------------------------------------- data

def ensure_data(work, target_bytes, seed):
    """Generate the logs unless the same data set is already there. Returns its stats."""
    cf_dir = os.path.join(work, "data", BUCKET, PREFIX)
    marker = os.path.join(work, "bench-logs-cf.json")  # outside the table LOCATION
    want = {"target_bytes": target_bytes, "seed": seed}
    if os.path.exists(marker) and os.path.isdir(cf_dir):
        with open(marker) as f:
            have = json.load(f)
        files = sorted(n for n in os.listdir(cf_dir) if n.endswith(".gz"))
        if all(have.get(k) == v for k, v in want.items()) and len(files) == have.get("files"):
            print("data: reusing %s (%d files, %d lines, %.2f GB uncompressed)"
                  % (cf_dir, have["files"], have["lines"], have["uncompressed_bytes"] / 1e9),
                  file=sys.stderr)
            return cf_dir, have
    if os.path.exists(marker):
        os.remove(marker)
    shutil.rmtree(cf_dir, ignore_errors=True)
    os.makedirs(cf_dir)
    stats_tmp = marker + ".tmp"
    print("data: generating ~%.2f GB of CloudFront logs into %s ..."
          % (target_bytes / 1e9, cf_dir), file=sys.stderr)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, GENERATOR, cf_dir, "--target-bytes", str(target_bytes),
                    "--seed", str(seed), "--stats", stats_tmp], check=True)
    secs = time.perf_counter() - t0
    with open(stats_tmp) as f:
        stats = json.load(f)
    os.remove(stats_tmp)
    stats.update(want)
    stats["generation_s"] = round(secs, 2)
    with open(marker, "w") as f:
        json.dump(stats, f, indent=1)
    print("data: generated in %.1f s (%.0f MB/s uncompressed)"
          % (secs, stats["uncompressed_bytes"] / 1e6 / secs), file=sys.stderr)
    return cf_dir, stats


def expected_rows(stats):
    return normalise((s, v["requests"], v["bytes"]) for s, v in sorted(stats["by_status"].items()))


# ----------------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sfnlite", default=os.path.join(ROOT, "target", "release", "sfnlite"),
                    help="sfnlite binary (default: target/release/sfnlite)")
    ap.add_argument("--size-gb", type=float, default=1.0,
                    help="uncompressed data size in GB of 10^9 bytes (default 1.0)")
    ap.add_argument("--work", default=os.path.join(ROOT, "target", "bench-athena"),
                    help="work directory (default: target/bench-athena)")
    ap.add_argument("--keep", action="store_true",
                    help="keep the generated data (and sfnlite's data dir) for the next run")
    ap.add_argument("--runs", type=int, default=3, help="timed runs per engine (default 3)")
    ap.add_argument("--warmup", type=int, default=1,
                    help="untimed runs per engine first (default 1; warms the page cache)")
    ap.add_argument("--only", choices=("both", "sfnlite", "duckdb"), default="both")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--duckdb-threads", type=int, default=0,
                    help="DuckDB threads (default: DuckDB's own default, one per core)")
    ap.add_argument("--_duckdb-child", dest="duckdb_child", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.duckdb_child:
        duckdb_child(args.duckdb_child, args.duckdb_threads)
        return 0

    engines = ["sfnlite", "duckdb"] if args.only == "both" else [args.only]
    if "duckdb" in engines and importlib.util.find_spec("duckdb") is None:
        sys.exit("duckdb is not installed for %s: pip install duckdb" % sys.executable)
    binary = os.path.abspath(args.sfnlite)
    if "sfnlite" in engines and not os.access(binary, os.X_OK):
        sys.exit("no sfnlite binary at %s: build it first (cargo build --release) "
                 "or pass --sfnlite PATH" % binary)
    if args.runs < 1:
        sys.exit("--runs must be at least 1")

    work = os.path.abspath(args.work)
    data_root = os.path.join(work, "data")
    os.makedirs(work, exist_ok=True)
    cf_dir, stats = ensure_data(work, int(args.size_gb * 1e9), args.seed)
    lines = stats["lines"]
    gz_bytes = sum(os.path.getsize(os.path.join(cf_dir, n)) for n in os.listdir(cf_dir))

    sfn = [binary, "--data-dir", data_root, "--ephemeral", "athena", "query"]
    commands = {
        "sfnlite": sfn + [QUERY, "--database", DATABASE, "--format", "csv"],
        "duckdb": [sys.executable, os.path.abspath(__file__), "--_duckdb-child", cf_dir]
                  + (["--duckdb-threads", str(args.duckdb_threads)] if args.duckdb_threads else []),
    }

    try:
        if "sfnlite" in engines:
            measure(sfn + ["CREATE DATABASE IF NOT EXISTS %s" % DATABASE], work)
            measure(sfn + [DDL, "--database", DATABASE], work)

        results = {e: {"walls": [], "rss": [], "rows": None, "extra": []} for e in engines}

        def one_run(engine, timed):
            wall, rss, out, _ = measure(commands[engine], work)
            if engine == "sfnlite":
                rows = parse_sfnlite_csv(out)
                extra = None
            else:
                extra = json.loads(out)
                rows = normalise(extra["rows"])
            r = results[engine]
            if r["rows"] is None:
                r["rows"] = rows
            elif rows != r["rows"]:
                raise Failed("%s returned different rows on different runs" % engine)
            if timed:
                r["walls"].append(wall)
                r["rss"].append(rss)
                if extra:
                    r["extra"].append(extra)
            print("  %-8s %s %.3f s, peak RSS %.0f MiB"
                  % (engine, "run   " if timed else "warmup", wall, rss / 1024), file=sys.stderr)

        for _ in range(args.warmup):
            for e in engines:
                one_run(e, False)
        for _ in range(args.runs):  # interleaved, so drift affects both engines alike
            for e in engines:
                one_run(e, True)

        # Correctness: every engine must agree with the generator's own totals.
        expected = expected_rows(stats)
        for e in engines:
            if results[e]["rows"] != expected:
                got = results[e]["rows"]
                diff = sorted(set(got) ^ set(expected))
                raise Failed("%s returned wrong rows.\n  expected: %s\n  got:      %s\n"
                             "  differing: %s" % (e, expected, got, diff))
        if len(engines) == 2 and results["sfnlite"]["rows"] != results["duckdb"]["rows"]:
            raise Failed("engines disagree")
    except Failed as exc:
        print("FAILED: %s" % exc, file=sys.stderr)
        print("(data kept in %s)" % work, file=sys.stderr)
        return 1

    # Report.
    print()
    print("CloudFront logs: %d files, %d lines, %.2f GB uncompressed, %.2f GB gzip; "
          "query: %s" % (stats["files"], lines, stats["uncompressed_bytes"] / 1e9,
                         gz_bytes / 1e9, QUERY))
    info = "%s, %d CPUs, Python %s" % (platform.machine(), os.cpu_count(),
                                       platform.python_version())
    if "duckdb" in engines and results["duckdb"]["extra"]:
        x = results["duckdb"]["extra"][0]
        info += ", DuckDB %s (%s threads)" % (x["version"], x["threads"])
    print("%s; %d timed runs per engine after %d warm-up, each a fresh process; "
          "all results verified (%d groups)." % (info, args.runs, args.warmup,
                                                len(expected)))
    print()
    print("| engine | median s | min s | peak RSS MiB | rows/s | MB/s (uncompressed) |")
    print("|---|---:|---:|---:|---:|---:|")
    med = {}
    for e in engines:
        r = results[e]
        med[e] = statistics.median(r["walls"])
        print("| %s | %.3f | %.3f | %.0f | %.2fM | %.0f |" % (
            e, med[e], min(r["walls"]), max(r["rss"]) / 1024, lines / med[e] / 1e6,
            stats["uncompressed_bytes"] / 1e6 / med[e]))
    print()
    if "duckdb" in engines and results["duckdb"]["extra"]:
        q = statistics.median(x["query_s"] for x in results["duckdb"]["extra"])
        s = statistics.median(x["import_connect_s"] for x in results["duckdb"]["extra"])
        print("DuckDB process time includes Python start-up and `import duckdb` "
              "(median %.3f s in-process for import+connect, %.3f s for the query itself)."
              % (s, q))
    if len(engines) == 2:
        ratio = med["sfnlite"] / med["duckdb"]
        if ratio >= 1:
            print("Ratio (median wall time): sfnlite takes %.2fx DuckDB's time." % ratio)
        else:
            print("Ratio (median wall time): sfnlite takes %.2fx DuckDB's time "
                  "(%.2fx faster)." % (ratio, 1 / ratio))

    if not args.keep:
        shutil.rmtree(data_root, ignore_errors=True)
        try:
            os.remove(os.path.join(work, "bench-logs-cf.json"))
        except FileNotFoundError:
            pass
        print("(generated data removed; pass --keep to reuse it next time)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
