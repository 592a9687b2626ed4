//! Activities: a Task whose `Resource` is an activity ARN waits for a worker. The worker is
//! `sfnlite activities work` (a local handler) against a `run`, or boto3's
//! GetActivityTask / SendTaskSuccess against `sfnlite serve`.

use std::process::Stdio;

use serde_json::{Value, json};

use crate::{sfnlite, temp_file};

const ACTIVITY: &str = "arn:aws:states:us-east-1:123456789012:activity:greeter";

#[test]
fn a_worker_takes_activity_tasks_from_a_run_and_answers_them() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let cli = |args: &[&str]| sfnlite().arg("--no-config").arg("--store").arg(&store).args(args).output().unwrap();
    assert!(cli(&["activities", "create", "greeter"]).status.success());
    let handler = temp_file(
        &dir,
        "greet.py",
        "def handler(event, context):\n    if event.get('fail'):\n        raise ValueError('no name')\n    return {'greeting': 'hello ' + event['name']}\n",
    );
    let definition = json!({"StartAt": "Greet", "States": {
        "Greet": {"Type": "Task", "Resource": ACTIVITY, "HeartbeatSeconds": 30, "TimeoutSeconds": 60, "Next": "Refuse"},
        "Refuse": {"Type": "Task", "Resource": ACTIVITY, "Parameters": {"fail": true},
                   "Catch": [{"ErrorEquals": ["ValueError"], "ResultPath": "$.error", "Next": "Done"}], "Next": "Done"},
        "Done": {"Type": "Pass", "End": true}}});
    let file = temp_file(&dir, "greet.asl.json", &definition.to_string());
    let run = std::process::Command::new(assert_cmd::cargo::cargo_bin!("sfnlite"))
        .current_dir(crate::root())
        .args(["--no-config", "--store"])
        .arg(&store)
        .args(["run", file.to_str().unwrap(), "--input", r#"{"name": "ana"}"#, "--name", "a1", "--format", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    crate::wait_for_holder(&store, run.id(), std::time::Duration::from_millis(300));
    let handler = format!("python:{}:handler", handler.display());
    let worked =
        cli(&["activities", "work", "greeter", "--handler", &handler, "--max-tasks", "2", "--worker-name", "w1"]);
    assert!(worked.status.success(), "{}", String::from_utf8_lossy(&worked.stderr));
    let out = run.wait_with_output().unwrap();
    let report: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(report["output"]["greeting"], "hello ana", "{report}");
    assert_eq!(report["output"]["error"]["Error"], "ValueError");
    let history = crate::relative_history(&store, "a1");
    let types: Vec<&str> = history.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(&types[2..6], ["ActivityScheduled", "ActivityStarted", "ActivitySucceeded", "TaskStateExited"]);
    assert!(types.contains(&"ActivityFailed"));
    assert_eq!(history[2]["activityScheduledEventDetails"]["resource"], ACTIVITY);
    assert_eq!(history[2]["activityScheduledEventDetails"]["heartbeatInSeconds"], 30);
    assert_eq!(history[3]["activityStartedEventDetails"]["workerName"], "w1");
    // With nobody running executions, a worker is told why it cannot work.
    let idle = cli(&["activities", "work", "greeter", "--handler", &handler, "--max-tasks", "1"]);
    assert_eq!(idle.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&idle.stderr).contains("no process runs executions"), "{idle:?}");
}

#[test]
fn boto3_workers_poll_activity_tasks_from_serve() {
    let dir = tempfile::tempdir().unwrap();
    let server = crate::serve::start(dir.path(), &[]);
    let script = r#"
import json, sys, boto3
sfn = boto3.client("stepfunctions", endpoint_url=sys.argv[1], region_name="us-east-1")
activity = sfn.create_activity(name="greeter")["activityArn"]
machine = sfn.create_state_machine(name="greets", roleArn="arn:aws:iam::123456789012:role/r", definition=json.dumps(
    {"StartAt": "Greet", "States": {"Greet": {"Type": "Task", "Resource": activity, "End": True}}}))["stateMachineArn"]
execution = sfn.start_execution(stateMachineArn=machine, input=json.dumps({"name": "bo"}))["executionArn"]
task = sfn.get_activity_task(activityArn=activity, workerName="boto3")
sfn.send_task_heartbeat(taskToken=task["taskToken"])
sfn.send_task_success(taskToken=task["taskToken"], output=json.dumps({"hi": json.loads(task["input"])["name"]}))
import time
for _ in range(100):
    described = sfn.describe_execution(executionArn=execution)
    if described["status"] != "RUNNING":
        break
    time.sleep(0.05)
try:
    sfn.send_task_success(taskToken=task["taskToken"], output="{}")
    again = "accepted"
except sfn.exceptions.TaskTimedOut:
    again = "TaskTimedOut"
print(json.dumps({"status": described["status"], "output": described.get("output"), "again": again}))
"#;
    let out = crate::serve::python(&["-c", script, &server.endpoint]);
    let facts: Value = serde_json::from_slice(out.stdout.trim_ascii()).unwrap();
    assert_eq!(facts["status"], "SUCCEEDED", "{facts}");
    assert_eq!(facts["output"], r#"{"hi":"bo"}"#);
    assert_eq!(facts["again"], "TaskTimedOut");
}
