//! What `sfnlite run` promises on bad input and failure: exit codes (1: the execution or the
//! definition failed, 2: usage), and messages that name the file, field or resource.

use crate::{sfnlite, temp_file};

#[test]
fn bad_input_is_a_usage_error_with_a_location() {
    let hello = ["run", "definitions/hello.asl.json"];
    let out = sfnlite().args(hello).args(["--input", "{\"name\": "]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--input:1:"), "{}", String::from_utf8_lossy(&out.stderr));

    let out = sfnlite().args(["run", "definitions/missing.asl.json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read definitions/missing.asl.json"));

    let dir = tempfile::tempdir().unwrap();
    let mocks =
        temp_file(&dir, "mocks.json", r#"{"StateMachines": {"hello": {"TestCases": {"T": {"Greet": "Nope"}}}}}"#);
    let out = sfnlite().args(hello).arg("--mock-config").arg(&mocks).args(["--test-case", "T"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("/MockedResponses/Nope"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // AWS's quota on an execution's input, reported as such; files are read with a bound.
    let big = temp_file(&dir, "big.json", &format!("{{\"x\": \"{}\"}}", "a".repeat(300_000)));
    let out = sfnlite().args(hello).arg("--input-file").arg(&big).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "the execution input is 300009 bytes; AWS's quota for an execution's input is 262144 bytes (256 KiB)"
        ),
        "{stderr}"
    );
    let out = sfnlite().args(["run", "/dev/zero"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/dev/zero: larger than 64 MiB"));
    let binary = dir.path().join("binary.json");
    std::fs::write(&binary, b"{\"a\": \"\xff\"}").unwrap();
    let out = sfnlite().args(hello).arg("--input-file").arg(&binary).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not UTF-8 text (invalid byte at offset 7)"));
}

#[test]
fn failed_execution_prints_error_and_cause_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let file = temp_file(
        &dir,
        "fail.asl.json",
        r#"{"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Oops", "Cause": "it broke"}}}"#,
    );
    let out = sfnlite().arg("run").arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("FAILED: Oops: it broke"), "{stderr}");
}

#[test]
fn unmocked_task_names_its_resource() {
    let dir = tempfile::tempdir().unwrap();
    let file = temp_file(
        &dir,
        "task.asl.json",
        r#"{"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage", "End": true}}}"#,
    );
    let out = sfnlite().arg("run").arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("arn:aws:states:::sqs:sendMessage"), "{stderr}");
}

#[test]
fn names_and_definitions_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let hello = [
        "run",
        "definitions/hello.asl.json",
        "--input-file",
        "definitions/hello.input.json",
        "--clock",
        "virtual",
        "--name",
        "once",
    ];
    assert!(sfnlite().arg("--store").arg(&store).args(hello).output().unwrap().status.success());
    let again = sfnlite().arg("--store").arg(&store).args(hello).output().unwrap();
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("an execution named 'once' already exists"));

    // State names are unique across the whole machine, branches included.
    let twice = temp_file(
        &dir,
        "twice.asl.json",
        r#"{"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [
            {"StartAt": "Work", "States": {"Work": {"Type": "Pass", "End": true}}},
            {"StartAt": "Work", "States": {"Work": {"Type": "Pass", "End": true}}}]}}}"#,
    );
    let out = sfnlite().arg("run").arg(&twice).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "an invalid definition exits 1");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("DUPLICATE_STATE_NAME] at /States/P/Branches/1/States/Work"), "{stderr}");
}

/// Every execution is bounded by AWS's longest (a year for STANDARD, five minutes for
/// EXPRESS): a Wait of any length, even one that overflows a clock, times out there, and
/// the virtual clock gets there at once.
#[test]
fn executions_end_within_aws_longest_duration() {
    let dir = tempfile::tempdir().unwrap();
    for seconds in ["1000000000000000", "9223372036854775807"] {
        let wait = temp_file(
            &dir,
            "wait.asl.json",
            &format!(r#"{{"StartAt": "W", "States": {{"W": {{"Type": "Wait", "Seconds": {seconds}, "End": true}}}}}}"#),
        );
        let started = std::time::Instant::now();
        let out = sfnlite().arg("run").arg(&wait).args(["--clock", "virtual", "--format", "json"]).output().unwrap();
        assert!(started.elapsed() < std::time::Duration::from_secs(20), "constant time, whatever the distance");
        assert_eq!(out.status.code(), Some(1));
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!((report["status"].as_str(), report["error"].as_str()), (Some("TIMED_OUT"), Some("States.Timeout")));
        let millis =
            |key: &str| sfnlite_states::timestamp::parse_iso8601(report[key].as_str().unwrap()).unwrap() / 1_000_000;
        assert_eq!(millis("stopDate") - millis("startDate"), 365 * 24 * 3600 * 1000, "a year");
    }
    let express = temp_file(
        &dir,
        "express.asl.json",
        r#"{"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 600, "End": true}}}"#,
    );
    let out = sfnlite()
        .arg("run")
        .arg(&express)
        .args(["--clock", "virtual", "--type", "EXPRESS", "--format", "json"])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["status"], "TIMED_OUT", "an EXPRESS execution lasts at most five minutes");
}

/// A STANDARD execution's history holds AWS's 25,000 events at most: a loop that never
/// ends fails there, as on AWS, with the last event its ExecutionFailed.
#[test]
fn a_history_stops_at_aws_quota() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let endless = temp_file(
        &dir,
        "loop.asl.json",
        r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "C"},
            "C": {"Type": "Choice", "Choices": [{"Variable": "$.stop", "IsPresent": true, "Next": "Done"}], "Default": "A"},
            "Done": {"Type": "Succeed"}}}"#,
    );
    let out = sfnlite()
        .arg("--store")
        .arg(&store)
        .arg("run")
        .arg(&endless)
        .args(["--name", "l1", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (report["error"].as_str(), report["cause"].as_str()),
        (Some("States.Runtime"), Some("The execution reached the maximum number of history events (25000)."))
    );
    let out = sfnlite().arg("--store").arg(&store).args(["history", "l1", "--format", "json"]).output().unwrap();
    let history: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let events = history["events"].as_array().unwrap();
    assert_eq!(events.len(), 25_000);
    let last = &events[24_999];
    assert_eq!(
        (last["type"].as_str(), last["id"].as_u64(), last["previousEventId"].as_u64()),
        (Some("ExecutionFailed"), Some(25_000), Some(24_999))
    );
    // AWS does not redrive it: no room is left.
    let out = sfnlite().arg("--store").arg(&store).args(["redrive", "l1"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Execution history event limit exceeded."));

    // The quota ends the execution even where the state that fills it would end it well,
    // and a Map that tolerates every failure does not swallow it.
    let items: Vec<u32> = (0..7_000).collect();
    let map = temp_file(
        &dir,
        "map.asl.json",
        r#"{"StartAt": "M", "States": {"M": {"Type": "Map", "ToleratedFailurePercentage": 100, "MaxConcurrency": 1,
            "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}, "End": true}}}"#,
    );
    let out = sfnlite()
        .arg("--store")
        .arg(&store)
        .arg("run")
        .arg(&map)
        .args(["--name", "m1", "--format", "json", "--input", &serde_json::to_string(&items).unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stdout));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["cause"], "The execution reached the maximum number of history events (25000).");
}

/// A mounted bucket must have a name S3 allows (`..` would address the data root's parent).
#[test]
fn mounted_buckets_have_bucket_names() {
    let dir = tempfile::tempdir().unwrap();
    let config = temp_file(&dir, "bad.toml", "[s3.mounts]\n\"..\" = \"/tmp\"\n");
    let out = sfnlite()
        .arg("--config")
        .arg(&config)
        .args(["run", "definitions/hello.asl.json", "--input", "{}"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("[s3.mounts] '..' is not a bucket name S3 allows"));
}
