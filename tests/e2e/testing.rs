//! `sfnlite test`: the repository's own test files pass; failing cases are reported one
//! line per mismatch, as JSON and as JUnit XML (read back by Python's XML parser); a
//! broken file is exit 2 with its location; `--filter` and `-j`; reports repeat exactly.
//! The failing and broken fixtures (`data/sfntest/*.cases.*`) are not named `*.sfntest.*`,
//! so that a plain `sfnlite test` does not find them; they are given by path.

use serde_json::Value;

use super::sfnlite;

fn test(args: &[&str]) -> (Option<i32>, String, String) {
    let out = sfnlite().arg("test").args(args).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Parses JUnit XML with Python's standard library: (tests, failures, errors, failure messages).
fn junit(path: &std::path::Path) -> Value {
    let script = r#"
import json, sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
cases = root.findall('.//testcase')
print(json.dumps({"tests": int(root.get("tests")), "failures": int(root.get("failures")), "errors": int(root.get("errors")),
  "cases": [c.get("name") for c in cases],
  "failures_text": [f.get("message") for f in root.findall('.//failure')]}))
"#;
    let out = std::process::Command::new("python3").args(["-c", script]).arg(path).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_repository_test_files_pass() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("junit.xml");
    // No path: tests/ and definitions/.
    let (code, out, err) = test(&["--junit", report.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains(" passed, 0 failed ("), "{out}");
    let parsed = junit(&report);
    assert_eq!((parsed["failures"].as_u64(), parsed["errors"].as_u64()), (Some(0), Some(0)), "{parsed}");
    let cases: Vec<&str> = parsed["cases"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(cases.contains(&"the embedded Athena and the results Lambda, for real"), "{cases:?}");
    assert!(cases.contains(&"greets, naps an hour, doubles the numbers"), "{cases:?}");
}

#[test]
fn failures_are_reported_with_what_differs() {
    let data = "tests/e2e/data/sfntest";
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("junit.xml");
    let (code, out, _) = test(&[
        &format!("{data}/passing.sfntest.yaml"),
        &format!("{data}/failing.cases.json"),
        "--junit",
        report.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(1), "{out}");
    let failing = format!("{data}/failing.cases.json");
    for line in [
        format!("FAIL   {failing} › expects the wrong output: outputContains /charged: expected false, got true"),
        format!("FAIL   {failing} › expects the wrong output: path: expected [Charge, Refund], got [Charge, Notify]"),
        format!("FAIL   {failing} › expects fewer attempts: states.Charge.attempts: expected 1, got 3"),
        format!(
            "FAIL   {failing} › an unmocked call fails: status: expected SUCCEEDED, got FAILED (States.Runtime: the mock for state 'Charge' has no response for invocation 0)"
        ),
        format!("FAIL   {failing} › a single state that goes elsewhere: nextState: expected Notify, got Refund"),
    ] {
        assert!(out.lines().any(|l| l == line), "missing: {line}\n{out}");
    }
    assert!(out.ends_with("6 passed, 4 failed (2 file(s))\n"), "{out}");
    let parsed = junit(&report);
    assert_eq!((parsed["tests"].as_u64(), parsed["failures"].as_u64()), (Some(10), Some(4)), "{parsed}");
    assert!(
        parsed["failures_text"].as_array().unwrap().iter().any(|m| m == "states.Charge.attempts: expected 1, got 3")
    );

    // JSON, one case at a time or many: the same report.
    let json = |jobs: &str| {
        let (code, out, _) = test(&[&failing, "--format", "json", "-j", jobs]);
        assert_eq!(code, Some(1));
        let mut report: Value = serde_json::from_str(&out).unwrap();
        for case in report["cases"].as_array_mut().unwrap() {
            case.as_object_mut().unwrap().remove("millis");
        }
        report
    };
    let one = json("1");
    assert_eq!(one, json("4"), "the report does not depend on parallelism");
    assert_eq!(one["failed"], 4);
    assert_eq!(
        one["cases"][1]["mismatches"][0],
        serde_json::json!({"what": "states.Charge.attempts", "expected": "1", "actual": "3"})
    );
    let (code, out, _) = test(&[&failing, &format!("{data}/passing.sfntest.yaml"), "--filter", "FEWER ATTEMPTS"]);
    assert_eq!(code, Some(1));
    assert!(out.ends_with("0 passed, 1 failed (2 file(s))\n"), "{out}");
    let (code, out, _) = test(&[data, &format!("{data}/broken.cases.yaml")]);
    assert_eq!(code, Some(2), "a broken file wins: {out}");
    assert!(out.ends_with("11 passed, 0 failed, 1 broken file(s) (6 file(s))\n"), "{out}");
}

#[test]
fn broken_files_and_bad_usage_are_exit_2() {
    let data = "tests/e2e/data/sfntest";
    let (code, out, _) = test(&[&format!("{data}/broken.cases.yaml")]);
    assert_eq!(code, Some(2));
    assert!(
        out.starts_with(&format!(
            "BROKEN {data}/broken.cases.yaml: /cases/0/mocks/Charge/0: an entry has either Return or Throw, not both\n"
        )),
        "{out}"
    );
    let (code, _, err) = test(&[&format!("{data}/passing.sfntest.yaml"), "--filter", "no such case"]);
    assert_eq!((code, err.trim()), (Some(2), "sfnlite: --filter: no case matches 'no such case'"));
    let (code, _, err) = test(&["tests/e2e/data/distributed"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("no test files"), "{err}");
    let (code, _, err) = test(&["nowhere"]);
    assert_eq!((code, err.trim()), (Some(2), "sfnlite: nowhere: no such file or folder"));
}

#[test]
fn coverage_names_what_no_case_exercised() {
    let passing = "tests/e2e/data/sfntest/passing.sfntest.yaml";
    let (code, out, _) = test(&[passing, "--coverage", "--format", "json"]);
    assert_eq!(code, Some(0), "{out}");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["coverage"]["percent"], 100.0, "{report}");
    // Only the approved case: the retrier, the catcher and Refund are not exercised.
    let (code, out, err) = test(&[passing, "--filter", "› approved", "--min-coverage", "90"]);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(err.contains("is below --min-coverage 90%"), "{err}");
    for line in [
        "uncovered tests/e2e/data/sfntest/retry.asl.json /States/Charge/Retry/0 (retriers)",
        "uncovered tests/e2e/data/sfntest/retry.asl.json /States/Charge/Catch/0 (catchers)",
        "uncovered tests/e2e/data/sfntest/retry.asl.json /States/Refund (states)",
    ] {
        assert!(out.lines().any(|l| l == line), "missing: {line}\n{out}");
    }
    let (code, _, err) = test(&[passing, "--min-coverage", "101"]);
    assert_eq!(code, Some(2), "{err}");
}

/// Records an execution of `store` as a test (`sfnlite test record`) and runs it: the
/// replay, offline with the Task states' recorded answers, takes the same path to the
/// same end.
fn replays(store: &std::path::Path, execution: &str) {
    let out_dir = tempfile::tempdir().unwrap();
    let recorded = sfnlite()
        .arg("--store")
        .arg(store)
        .args(["test", "record", execution, "--out"])
        .arg(out_dir.path())
        .output()
        .unwrap();
    assert!(recorded.status.success(), "{}", String::from_utf8_lossy(&recorded.stderr));
    let (code, out, err) = test(&[out_dir.path().to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, Some(0), "{execution}: {out}{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["passed"], 1, "{report}");
}

/// Every seed, run for real, then replayed from its recorded history.
#[test]
fn every_seed_replays_from_its_recorded_history() {
    let store = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let run = |definition: &str, input: &str, name: &str| {
        let out = sfnlite()
            .arg("--store")
            .arg(store.path())
            .env("SFNLITE_DATA_DIR", data.path())
            .args(["run", definition, "--input", input, "--name", name])
            .output()
            .unwrap();
        assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
    };
    let file = |name: &str| std::fs::read_to_string(super::root().join(name)).unwrap();
    run("definitions/athena.asl.json", &file("definitions/athena.input.json"), "seed-a");
    run("definitions/athena-paged.asl.json", &file("definitions/athena-paged.input.json"), "seed-b");
    let (url, called) = super::definitions::callback_server();
    let mut input: Value = serde_json::from_str(&file("definitions/athena-async-callback.input.json")).unwrap();
    input["ApiRequest"]["CallbackUrl"] = Value::String(url);
    run("definitions/athena-async-callback.asl.json", &input.to_string(), "seed-c");
    called.join().unwrap();
    run("definitions/athena-parallel.asl.json", &file("definitions/athena-parallel.input.json"), "seed-d");
    run("definitions/athena-scheduled.asl.json", "{}", "seed-e");
    run("definitions/athena-scheduled-lambda.asl.json", "{}", "seed-e-lambda");
    for name in ["seed-a", "seed-b", "seed-c", "seed-d", "seed-e", "seed-e-lambda"] {
        replays(store.path(), name);
    }
}

/// A snapshot is written by --update-snapshots, then compared: a changed end or history
/// fails the case, pointing at what changed.
#[test]
fn snapshots_are_written_then_compared() {
    let dir = tempfile::tempdir().unwrap();
    let data = super::root().join("tests/e2e/data/sfntest");
    for file in ["retry.asl.json", "mocks.json"] {
        std::fs::copy(data.join(file), dir.path().join(file)).unwrap();
    }
    let write = |result: &str| {
        let test = format!(
            "definition: retry.asl.json\nmockConfig: mocks.json\ncases:\n  - name: snap\n    testCase: Approved\n    mocks: {{ Charge: {{ \"0\": {{ Return: {{ Payload: {{ ok: {result} }} }} }} }} }}\n    expect: {{ snapshot: true }}\n"
        );
        std::fs::write(dir.path().join("snap.sfntest.yaml"), test).unwrap();
    };
    write("true");
    let path = dir.path().to_str().unwrap();
    let (code, out, _) = test(&[path]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("snapshot: expected one at") && out.contains("(--update-snapshots writes it)"), "{out}");
    let (code, out, _) = test(&[path, "--update-snapshots"]);
    assert_eq!(code, Some(0), "{out}");
    let stored: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("__snapshots__/snap/snap.json")).unwrap())
            .unwrap();
    assert_eq!(stored["output"], serde_json::json!({"charged": true, "notified": "sent"}));
    assert_eq!(stored["events"][0]["timestamp"], "+0.000s", "times are offsets from the start");
    let (code, _, _) = test(&[path]);
    assert_eq!(code, Some(0), "the same run matches its snapshot");
    write("false");
    let (code, out, _) = test(&[path]);
    assert_eq!(code, Some(1));
    assert!(out.contains("snapshot /output/charged: expected true, got false"), "{out}");
}

/// A case that waits for an answer nobody gives is stopped by --case-timeout (wall time)
/// and reported as an error; a handler answering its own token passes.
#[test]
fn stuck_cases_are_stopped_and_handlers_answer_tokens() {
    let data = "tests/e2e/data/sfntest";
    let started = std::time::Instant::now();
    let (code, out, _) = test(&[&format!("{data}/stuck.cases.yaml"), "--case-timeout", "1"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("waits for a handler: the case ran for more than 1 s of wall time (--case-timeout)"), "{out}");
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    let (code, out, err) = test(&[&format!("{data}/callback.sfntest.yaml")]);
    assert_eq!(code, Some(0), "{out}{err}");
    // A handler that sleeps an hour: its sleep is virtual, well within the case's limit.
    let (code, out, err) = test(&[&format!("{data}/sleepy.sfntest.yaml"), "--case-timeout", "20"]);
    assert_eq!(code, Some(0), "{out}{err}");
}
