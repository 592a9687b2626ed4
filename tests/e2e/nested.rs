//! Nested executions (`arn:aws:states:::states:startExecution[.sync|.sync:2]`) of state
//! machines registered with `sfnlite state-machines`: AWS's output shapes, a failed child,
//! children as executions of their own, and a stopped parent stopping its `.sync` child.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::{sfnlite, temp_file};

const CHILD_ARN: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:child";

fn child() -> Value {
    json!({"StartAt": "Check", "States": {
        "Check": {"Type": "Choice", "Choices": [{"Variable": "$.fail", "IsPresent": true, "Next": "Boom"}], "Default": "Nap"},
        "Nap": {"Type": "Wait", "SecondsPath": "$.nap", "Next": "Double"},
        "Double": {"Type": "Pass", "Parameters": {"doubled.$": "States.MathAdd($.n, $.n)"}, "End": true},
        "Boom": {"Type": "Fail", "Error": "ChildFailed", "Cause": "asked to"}}})
}

fn start(resource: &str, input: Value) -> Value {
    json!({"Type": "Task", "Resource": format!("arn:aws:states:::states:{resource}"),
           "Parameters": {"StateMachineArn": CHILD_ARN, "Input": input}})
}

fn cli(store: &Path, args: &[&str]) -> std::process::Output {
    sfnlite().arg("--no-config").arg("--store").arg(store).args(args).output().unwrap()
}

fn register(dir: &tempfile::TempDir, store: &Path) {
    let file = temp_file(dir, "child.asl.json", &child().to_string());
    let out = cli(store, &["state-machines", "create", "child", "--definition", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn children_run_as_executions_of_their_own_with_aws_output_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    register(&dir, &store);
    let listed = cli(&store, &["state-machines", "list", "--format", "json"]);
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed["stateMachines"][0]["stateMachineArn"], CHILD_ARN);

    let mut sync = start(
        "startExecution.sync",
        json!({"n": 21, "nap": 0, "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$": "$$.Execution.Id"}),
    );
    sync["ResultPath"] = json!("$.sync");
    sync["Next"] = json!("Sync2");
    let mut sync2 = start("startExecution.sync:2", json!({"n": 2, "nap": 0}));
    sync2["ResultPath"] = json!("$.sync2");
    sync2["Next"] = json!("Fire");
    let mut fire = start("startExecution", json!({"n": 1, "nap": 0}));
    fire["ResultPath"] = json!("$.fired");
    fire["Next"] = json!("Fails");
    let mut fails = start("startExecution.sync:2", json!({"fail": true}));
    fails["Catch"] = json!([{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.failure", "Next": "Done"}]);
    fails["Next"] = json!("Done");
    let parent = json!({"StartAt": "Sync", "States": {"Sync": sync, "Sync2": sync2, "Fire": fire, "Fails": fails,
        "Done": {"Type": "Pass", "End": true}}});
    let file = temp_file(&dir, "parent.asl.json", &parent.to_string());
    let out = cli(&store, &["run", file.to_str().unwrap(), "--format", "json", "--name", "parent"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let output = &serde_json::from_slice::<Value>(&out.stdout).unwrap()["output"];

    // .sync: the child's description, Input and Output as JSON text, dates in epoch ms.
    let described = &output["sync"];
    let keys: Vec<&String> = described.as_object().unwrap().keys().collect();
    for key in [
        "ExecutionArn",
        "Input",
        "InputDetails",
        "Name",
        "Output",
        "OutputDetails",
        "StartDate",
        "StateMachineArn",
        "Status",
        "StopDate",
    ] {
        assert!(keys.iter().any(|k| *k == key), "{key} in {keys:?}");
    }
    assert_eq!(described["Status"], "SUCCEEDED");
    assert_eq!(serde_json::from_str::<Value>(described["Output"].as_str().unwrap()).unwrap(), json!({"doubled": 42}));
    let input: Value = serde_json::from_str(described["Input"].as_str().unwrap()).unwrap();
    assert_eq!(
        input["AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID"],
        "arn:aws:states:us-east-1:123456789012:execution:parent:parent"
    );
    assert!(described["StartDate"].as_i64().unwrap() > 1_700_000_000_000, "epoch milliseconds");
    // .sync:2: the same, as JSON.
    assert_eq!(output["sync2"]["Output"], json!({"doubled": 4}));
    // Request-response: StartExecution's response.
    assert!(
        output["fired"]["ExecutionArn"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws:states:us-east-1:123456789012:execution:child:")
    );
    assert_eq!(output["fired"]["SdkHttpMetadata"]["HttpStatusCode"], 200);
    // A failed child fails the task with States.TaskFailed and its description as the cause.
    assert_eq!(output["failure"]["Error"], "States.TaskFailed");
    let cause: Value = serde_json::from_str(output["failure"]["Cause"].as_str().unwrap()).unwrap();
    assert_eq!(
        (cause["Status"].as_str(), cause["Error"].as_str(), cause["Cause"].as_str()),
        (Some("FAILED"), Some("ChildFailed"), Some("asked to"))
    );

    // Every child is an execution of its own, with its history; `run` waited for the fired one.
    let listed = cli(&store, &["executions", "list", "--format", "json"]);
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    let children: Vec<&Value> =
        listed["executions"].as_array().unwrap().iter().filter(|e| e["stateMachineArn"] == CHILD_ARN).collect();
    assert_eq!(children.len(), 4);
    assert!(children.iter().all(|c| c["status"] != "RUNNING"), "{children:?}");
    // Each child shows which execution and state started it.
    let child = described["ExecutionArn"].as_str().unwrap();
    let history = cli(&store, &["history", child]);
    let first = String::from_utf8_lossy(&history.stdout).lines().next().unwrap_or_default().to_owned();
    assert_eq!(first, "# started by arn:aws:states:us-east-1:123456789012:execution:parent:parent (state 'Sync')");

    // The registered machine can be replaced and deleted; an unknown one is refused.
    let file = temp_file(&dir, "v2.asl.json", r#"{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}"#);
    assert!(
        cli(&store, &["state-machines", "update", "child", "--definition", file.to_str().unwrap()]).status.success()
    );
    assert!(cli(&store, &["state-machines", "delete", "child"]).status.success());
    let bad = cli(&store, &["state-machines", "create", "bad name", "--definition", file.to_str().unwrap()]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("InvalidName: Invalid Name: 'bad name'"), "{bad:?}");
}

#[test]
fn stopping_a_parent_stops_its_sync_child() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    register(&dir, &store);
    let mut sync = start("startExecution.sync", json!({"n": 1, "nap": 30}));
    sync["End"] = json!(true);
    let parent = json!({"StartAt": "Sync", "States": {"Sync": sync}});
    let file = temp_file(&dir, "parent.asl.json", &parent.to_string());
    let mut run = std::process::Command::new(assert_cmd::cargo::cargo_bin!("sfnlite"))
        .current_dir(crate::root())
        .args(["--no-config", "--store"])
        .arg(&store)
        .args(["run", file.to_str().unwrap(), "--name", "parent"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the child runs (read through the running parent's process).
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let listed = cli(&store, &["executions", "list", "--format", "json"]);
        let running = serde_json::from_slice::<Value>(&listed.stdout)
            .map(|l| l["executions"].as_array().unwrap().iter().filter(|e| e["status"] == "RUNNING").count())
            .unwrap_or(0);
        if running == 2 {
            break;
        }
        assert!(Instant::now() < deadline, "the child never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    let stopped = cli(&store, &["stop", "parent"]);
    assert!(stopped.status.success(), "{}", String::from_utf8_lossy(&stopped.stderr));
    run.wait().unwrap();
    let listed = cli(&store, &["executions", "list", "--format", "json"]);
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    let statuses: Vec<&str> =
        listed["executions"].as_array().unwrap().iter().map(|e| e["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["ABORTED", "ABORTED"], "{listed}");
}

#[test]
fn a_resumed_parent_waits_for_the_child_it_started_and_children_can_be_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    register(&dir, &store);
    let mut sync = start("startExecution.sync:2", json!({"n": 5, "nap": 6}));
    sync["End"] = json!(true);
    let file = temp_file(&dir, "parent.asl.json", &json!({"StartAt": "Sync", "States": {"Sync": sync}}).to_string());
    let spawn = |name: &str| {
        std::process::Command::new(assert_cmd::cargo::cargo_bin!("sfnlite"))
            .current_dir(crate::root())
            .args(["--no-config", "--store"])
            .arg(&store)
            .args(["run", file.to_str().unwrap(), "--name", name])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let running = |store: &Path| {
        let listed = cli(store, &["executions", "list", "--format", "json"]);
        serde_json::from_slice::<Value>(&listed.stdout)
            .map(|l| l["executions"].as_array().unwrap().clone())
            .unwrap_or_default()
    };
    let wait_for = |count: usize| {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let listed = running(&store);
            if listed.iter().filter(|e| e["status"] == "RUNNING").count() >= count {
                break;
            }
            assert!(Instant::now() < deadline, "the child never started: {listed:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    // Killed while its .sync child runs, the parent resumes and waits for that same child.
    let mut parent = spawn("p1");
    wait_for(2);
    parent.kill().unwrap();
    parent.wait().unwrap();
    let resumed = cli(&store, &["resume", "p1", "--format", "json"]);
    assert!(resumed.status.success(), "{}", String::from_utf8_lossy(&resumed.stderr));
    let report: Value = serde_json::from_slice(&resumed.stdout).unwrap();
    assert_eq!(report["output"]["Output"], json!({"doubled": 10}), "{report}");
    let executions = running(&store);
    assert_eq!(executions.len(), 2, "one parent, one child: {executions:?}");
    assert!(executions.iter().all(|e| e["status"] == "SUCCEEDED"), "{executions:?}");

    // A child that a run started is stopped through that run's API; the parent's task fails.
    let mut parent = spawn("p2");
    wait_for(2);
    let child = running(&store)
        .into_iter()
        .find(|e| e["status"] == "RUNNING" && e["stateMachineArn"] == CHILD_ARN)
        .unwrap()["executionArn"]
        .as_str()
        .unwrap()
        .to_owned();
    let stopped = cli(&store, &["stop", &child]);
    assert!(stopped.status.success(), "{}", String::from_utf8_lossy(&stopped.stderr));
    assert!(parent.wait().unwrap().code() == Some(1), "the parent fails with its child");
    let statuses: Vec<Value> = running(&store).iter().map(|e| e["status"].clone()).collect();
    assert_eq!(statuses.iter().filter(|s| *s == "ABORTED").count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| *s == "FAILED").count(), 1, "{statuses:?}");
}

/// Under the virtual clock, a parent waiting for its `.sync` child takes no virtual time
/// (the child runs on the real clock), so the parent's year-long deadline does not pass.
#[test]
fn a_sync_child_under_the_virtual_clock() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let child = crate::temp_file(
        &dir,
        "child.json",
        r#"{"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "End": true}}}"#,
    );
    let parent = crate::temp_file(
        &dir,
        "parent.json",
        r#"{"StartAt": "S", "States": {"S": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2",
            "Parameters": {"StateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:kid", "Input": {"a": 1}}, "End": true}}}"#,
    );
    let created = crate::sfnlite()
        .arg("--store")
        .arg(&store)
        .args(["state-machines", "create", "kid", "--definition"])
        .arg(&child)
        .output()
        .unwrap();
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let out = crate::sfnlite()
        .arg("--store")
        .arg(&store)
        .arg("run")
        .arg(&parent)
        .args(["--clock", "virtual", "--format", "json"])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["status"], "SUCCEEDED", "{report}");
    assert_eq!(report["output"]["Status"], "SUCCEEDED");
}
