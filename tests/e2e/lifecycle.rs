//! An execution's life after `run`: `stop` (live and orphaned) and `redrive`.

use std::process::Command;

use serde_json::Value;

use crate::{relative_history, sfnlite, temp_file, wait_for_holder};

fn types_of(history: &[Value]) -> Vec<String> {
    history.iter().map(|e| e["type"].as_str().unwrap().to_owned()).collect()
}

/// `stop` aborts a running execution through the process that runs it, and an orphaned
/// RUNNING one (its process killed) directly.
#[test]
fn stop_aborts_running_and_orphaned_executions() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let nap = temp_file(
        &dir,
        "nap.asl.json",
        r#"{"StartAt": "Nap", "States": {"Nap": {"Type": "Wait", "Seconds": 30, "End": true}}}"#,
    );
    let spawn = |name: &str| {
        Command::new(assert_cmd::cargo::cargo_bin!("sfnlite"))
            .arg("--store")
            .arg(&store)
            .arg("run")
            .arg(&nap)
            .args(["--name", name])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut running = spawn("live");
    wait_for_holder(&store, running.id(), std::time::Duration::from_millis(500));
    let out = sfnlite()
        .arg("--store")
        .arg(&store)
        .args(["stop", "live", "--error", "Manual", "--cause", "no longer needed"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(running.wait().unwrap().code(), Some(1), "the run ends ABORTED");
    let history = relative_history(&store, "live");
    let last = history.last().unwrap();
    assert_eq!(last["type"], "ExecutionAborted");
    assert_eq!(
        last["executionAbortedEventDetails"],
        serde_json::json!({"error": "Manual", "cause": "no longer needed"})
    );

    let mut orphan = spawn("orphan");
    wait_for_holder(&store, orphan.id(), std::time::Duration::from_millis(500));
    orphan.kill().unwrap();
    orphan.wait().unwrap();
    let out = sfnlite().arg("--store").arg(&store).args(["stop", "orphan"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["status"], "ABORTED");
    assert_eq!(
        types_of(&relative_history(&store, "orphan")),
        ["ExecutionStarted", "WaitStateEntered", "ExecutionAborted"]
    );
}

/// Redrive reruns only what failed: the Pass state and the first Map iteration are kept,
/// the failed iteration and the one never started run, and the history goes on after an
/// ExecutionRedriven event.
#[test]
fn redrive_reruns_only_the_failed_iterations() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let run = |test_case: &str| {
        let mut cmd = sfnlite();
        cmd.arg("--store").arg(&store);
        cmd.args(["run", "tests/e2e/data/redrive.asl.json", "--name", "batch", "--clock", "virtual"]);
        cmd.args(["--mock-config", "tests/e2e/data/redrive.mock.json", "--test-case", test_case]);
        cmd.output().unwrap()
    };
    let failed = run("Broken");
    assert_eq!(failed.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&failed.stderr).contains("Lambda.Unknown: the function crashed"));

    // A SUCCEEDED or RUNNING execution cannot be redriven; this one can.
    let redriven = sfnlite()
        .arg("--store")
        .arg(&store)
        .args(["redrive", "batch", "--mock-config", "tests/e2e/data/redrive.mock.json", "--test-case", "Fixed"])
        .output()
        .unwrap();
    assert!(redriven.status.success(), "{}", String::from_utf8_lossy(&redriven.stderr));
    let output: Value = serde_json::from_slice(&redriven.stdout).unwrap();
    assert_eq!(output, serde_json::json!(["A", "fixed", "fixed"]), "the first result is kept from the first attempt");

    let history = relative_history(&store, "batch");
    let types = types_of(&history);
    let count = |t: &str| types.iter().filter(|x| *x == t).count();
    assert_eq!(count("PassStateEntered"), 1, "the successful Pass state is not rerun");
    assert_eq!(count("ExecutionFailed"), 1);
    assert_eq!(count("ExecutionRedriven"), 1);
    assert_eq!(count("ExecutionSucceeded"), 1);
    assert_eq!(count("TaskScheduled"), 4, "2 in the first attempt, then the failed and the unstarted item");
    let redriven_at = types.iter().position(|t| t == "ExecutionRedriven").unwrap();
    assert_eq!(history[redriven_at]["executionRedrivenEventDetails"]["redriveCount"], 1);
    for (i, event) in history.iter().enumerate() {
        assert_eq!(event["id"], serde_json::json!(i + 1), "ids are consecutive");
    }
    let described =
        sfnlite().arg("--store").arg(&store).args(["describe", "batch", "--format", "json"]).output().unwrap();
    let described: Value = serde_json::from_slice(&described.stdout).unwrap();
    assert_eq!((described["status"].as_str(), described["redriveCount"].as_u64()), (Some("SUCCEEDED"), Some(1)));

    let again = sfnlite().arg("--store").arg(&store).args(["redrive", "batch"]).output().unwrap();
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("only FAILED, TIMED_OUT or ABORTED"));
}

/// A Map whose failure was caught is a step that succeeded: redriving the execution
/// (which failed later) reruns neither the Map nor the Catch's handler.
#[test]
fn redrive_keeps_a_caught_map() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let definition = temp_file(
        &dir,
        "caught.asl.json",
        r#"{"StartAt": "Each", "States": {
            "Each": {"Type": "Map", "MaxConcurrency": 1,
                "ItemProcessor": {"StartAt": "Work", "States": {"Work": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true}}},
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Report"}], "End": true},
            "Report": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Next": "Stop"},
            "Stop": {"Type": "Fail", "Error": "Reported"}
        }}"#,
    );
    let mocks = temp_file(
        &dir,
        "mocks.json",
        r#"{"StateMachines": {"caught": {"TestCases": {"T": {"Work": "W", "Report": "R"}}}},
            "MockedResponses": {"W": {"0": {"Return": 1}, "1": {"Throw": {"Error": "Boom", "Cause": "it broke"}}}, "R": {"0-9": {"Return": "sent"}}}}"#,
    );
    let mut run = sfnlite();
    run.arg("--store")
        .arg(&store)
        .arg("run")
        .arg(&definition)
        .args(["--name", "c", "--clock", "virtual", "--input", "[1, 2]"]);
    let out = run.arg("--mock-config").arg(&mocks).args(["--test-case", "T"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let mut redrive = sfnlite();
    redrive.arg("--store").arg(&store).args(["redrive", "c", "--test-case", "T"]).arg("--mock-config").arg(&mocks);
    assert_eq!(redrive.output().unwrap().status.code(), Some(1), "the Fail state fails again");
    let types = types_of(&relative_history(&store, "c"));
    let count = |t: &str| types.iter().filter(|x| *x == t).count();
    assert_eq!(count("TaskScheduled"), 3, "two Work invocations and one Report, none rerun");
    assert_eq!(count("MapStateEntered"), 1);
    assert_eq!(count("FailStateEntered"), 2, "only the unsuccessful Fail state runs again");
}
