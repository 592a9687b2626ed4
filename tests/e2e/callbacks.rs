//! `.waitForTaskToken`: a handler answers its own token through sfnlite's Step Functions
//! endpoint (boto3), a person answers with `sfnlite task …` from another process while the
//! run waits, heartbeats and their timeout, AWS's refusals, and a token answered while no
//! process runs the execution (after `kill -9`), taken up by `resume`.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::{sfnlite, temp_file};

fn config(dir: &tempfile::TempDir) -> PathBuf {
    let handlers = crate::root().join("tests/e2e/data/lambdas/behaviours.py");
    let text = format!(
        "[lambda.functions.answer]\nhandler = \"python:{h}:answer_token\"\n\
         [lambda.functions.handout]\nhandler = \"python:{h}:hand_out_token\"\n",
        h = handlers.display()
    );
    temp_file(dir, "sfnlite.toml", &text)
}

fn callback(function: &str, payload: Value) -> Value {
    let mut payload = payload;
    payload["token.$"] = json!("$$.Task.Token");
    json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
           "Parameters": {"FunctionName": function, "Payload": payload}, "End": true})
}

fn start(dir: &tempfile::TempDir, config: &Path, definition: &Value, clock: &str) -> Child {
    let file = temp_file(dir, "machine.asl.json", &definition.to_string());
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin!("sfnlite"));
    cmd.current_dir(crate::root())
        .env("SFNLITE_DATA_DIR", dir.path().join("data"))
        .arg("--config")
        .arg(config)
        .arg("--store")
        .arg(dir.path().join("store"))
        .arg("run")
        .arg(&file)
        .args(["--clock", clock, "--format", "json", "--name", "exec", "--input", r#"{"order": 42}"#])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.spawn().unwrap()
}

fn finish(child: Child) -> Value {
    let out = child.wait_with_output().unwrap();
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {:?} {}", out.status, String::from_utf8_lossy(&out.stderr)))
}

/// Waits for the token a `hand_out_token` handler wrote.
fn token_at(path: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(token) = std::fs::read_to_string(path)
            && !token.is_empty()
        {
            return token;
        }
        assert!(Instant::now() < deadline, "no token was handed out");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn task(store: &Path, args: &[&str]) -> std::process::Output {
    sfnlite().arg("--store").arg(store).arg("task").args(args).output().unwrap()
}

#[test]
fn a_handler_answers_its_own_token_through_the_sfn_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(&dir);
    let mut approve = callback("answer", json!({"order.$": "$.order"}));
    approve.as_object_mut().unwrap().remove("End");
    approve["Next"] = json!("Reject");
    let mut reject = callback("answer", json!({"order": 0, "fail": true}));
    reject["Catch"] = json!([{"ErrorEquals": ["Rejected"], "ResultPath": "$.rejection", "Next": "Done"}]);
    reject.as_object_mut().unwrap().remove("End");
    reject["Next"] = json!("Done");
    let definition = json!({"StartAt": "Approve", "States": {
        "Approve": approve, "Reject": reject, "Done": {"Type": "Pass", "End": true}}});
    let report = finish(start(&dir, &config, &definition, "virtual"));
    assert_eq!(report["status"], "SUCCEEDED", "{report}");
    assert_eq!(report["output"]["approved"], 42);
    assert_eq!(report["output"]["rejection"], json!({"Error": "Rejected", "Cause": "by the handler"}));
    let history = crate::relative_history(&dir.path().join("store"), "exec");
    let types: Vec<&str> = history.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(&types[2..7], ["TaskScheduled", "TaskStarted", "TaskSubmitted", "TaskSucceeded", "TaskStateExited"]);
    // TaskSubmitted holds the service call's response: Lambda's envelope of the handler's return.
    assert_eq!(history[4]["taskSubmittedEventDetails"]["resourceType"], "lambda");
    assert_eq!(history[4]["taskSubmittedEventDetails"]["resource"], "invoke.waitForTaskToken");
    let submitted: Value =
        serde_json::from_str(history[4]["taskSubmittedEventDetails"]["output"].as_str().unwrap()).unwrap();
    assert_eq!(submitted["Payload"], json!({"sent": true}));
    assert_eq!(submitted["StatusCode"], 200);
}

#[test]
fn sfnlite_task_answers_a_waiting_run_from_another_process() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(&dir);
    let path = dir.path().join("token.txt");
    let definition = json!({"StartAt": "Sign", "States": {"Sign": callback("handout", json!({"path": path}))}});
    let run = start(&dir, &config, &definition, "real");
    let token = token_at(&path);
    let store = dir.path().join("store");
    // The waiting run answers reads from here too. The handler writes the token before it
    // returns, and TaskSubmitted is recorded once it has returned: wait for it.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let history = sfnlite().arg("--store").arg(&store).args(["history", "exec"]).output().unwrap();
        if String::from_utf8_lossy(&history.stdout).contains("TaskSubmitted") {
            break;
        }
        assert!(Instant::now() < deadline, "no TaskSubmitted: {history:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let logs = sfnlite().arg("--store").arg(&store).args(["logs", "exec"]).output().unwrap();
    assert!(String::from_utf8_lossy(&logs.stdout).contains("START RequestId: "), "{logs:?}");
    let beat = task(&store, &["heartbeat", &token]);
    assert!(beat.status.success(), "{}", String::from_utf8_lossy(&beat.stderr));
    let answered = task(&store, &["success", &token, "--output", r#"{"signed": "by hand"}"#]);
    assert!(answered.status.success(), "{}", String::from_utf8_lossy(&answered.stderr));
    let report = finish(run);
    assert_eq!(report["status"], "SUCCEEDED", "{report}");
    assert_eq!(report["output"], json!({"signed": "by hand"}));
    // A closed token and an unknown one are refused with AWS's messages.
    let again = task(&store, &["success", &token, "--output", "{}"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("has already been closed"));
    let unknown = task(&store, &["failure", "AQnot-a-token"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("Invalid token"));
    let bad = task(&store, &["success", &token, "--output", "{not json"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn heartbeats_keep_a_task_alive_and_a_missed_one_times_it_out() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(&dir);
    let path = dir.path().join("token.txt");
    let mut alive = callback("handout", json!({"path": path}));
    alive["HeartbeatSeconds"] = json!(3);
    let run = start(&dir, &config, &json!({"StartAt": "Work", "States": {"Work": alive}}), "real");
    let token = token_at(&path);
    let store = dir.path().join("store");
    // 4.5 s of work, a heartbeat every 250 ms: longer than HeartbeatSeconds. Each
    // heartbeat is a process of its own, which a loaded machine can slow down; the largest
    // gap between two heartbeats says which outcome is right.
    let started = Instant::now();
    let (mut last, mut widest) = (Instant::now(), Duration::ZERO);
    while started.elapsed() < Duration::from_millis(4500) {
        let beat = task(&store, &["heartbeat", &token]);
        widest = widest.max(last.elapsed());
        last = Instant::now();
        if !beat.status.success() {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let done = task(&store, &["success", &token, "--output", "\"done\""]);
    widest = widest.max(last.elapsed());
    let report = finish(run);
    if widest < Duration::from_millis(2500) {
        assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));
        assert_eq!(report["output"], "done");
    } else {
        // A gap over HeartbeatSeconds: the task timed out, as it must.
        assert_eq!(report["error"], "States.Timeout", "widest gap {widest:?}: {report}");
    }

    // Nobody beats: on the virtual clock the heartbeat expires at once. AWS reports
    // States.Timeout with no cause; a States.HeartbeatTimeout catcher catches it.
    let dir = tempfile::tempdir().unwrap();
    let config = self::config(&dir);
    let mut missed = callback("handout", json!({"path": dir.path().join("t.txt")}));
    missed["HeartbeatSeconds"] = json!(5);
    missed["Catch"] = json!([{"ErrorEquals": ["States.HeartbeatTimeout"], "Next": "Late"}]);
    missed.as_object_mut().unwrap().remove("End");
    missed["Next"] = json!("Late");
    let definition = json!({"StartAt": "Work", "States": {"Work": missed, "Late": {"Type": "Pass", "End": true}}});
    let report = finish(start(&dir, &config, &definition, "virtual"));
    assert_eq!(report["output"], json!({"Error": "States.Timeout"}), "{report}");
    let history = crate::relative_history(&dir.path().join("store"), "exec");
    let timed_out = history.iter().find(|e| e["type"] == "TaskTimedOut").expect("TaskTimedOut");
    assert_eq!(timed_out["taskTimedOutEventDetails"]["error"], "States.Timeout");
    assert!(timed_out["taskTimedOutEventDetails"].get("cause").is_none());
    assert_eq!(timed_out["timestamp"], 5000, "the heartbeat expired 5 s after the wait began");
}

#[test]
fn a_token_answered_while_no_process_runs_the_execution_is_taken_by_resume() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(&dir);
    let path = dir.path().join("token.txt");
    let definition = json!({"StartAt": "Sign", "States": {"Sign": callback("handout", json!({"path": path}))}});
    let mut run = start(&dir, &config, &definition, "real");
    let token = token_at(&path);
    // The TaskSubmitted event is stored before the wait; give the run a moment to reach it.
    std::thread::sleep(Duration::from_millis(300));
    run.kill().unwrap();
    run.wait().unwrap();
    let store = dir.path().join("store");
    let answered = task(&store, &["success", &token, "--output", r#"{"while": "away"}"#]);
    assert!(answered.status.success(), "{}", String::from_utf8_lossy(&answered.stderr));
    assert!(String::from_utf8_lossy(&answered.stderr).contains("sfnlite resume"));
    std::fs::remove_file(&path).unwrap();
    let resumed = sfnlite()
        .arg("--config")
        .arg(&config)
        .arg("--store")
        .arg(&store)
        .args(["resume", "exec", "--format", "json"])
        .output()
        .unwrap();
    assert!(resumed.status.success(), "{}", String::from_utf8_lossy(&resumed.stderr));
    let report: Value = serde_json::from_slice(&resumed.stdout).unwrap();
    assert_eq!(report["output"], json!({"while": "away"}));
    // The handler was not invoked again: its call was recorded (TaskSubmitted) before the kill.
    assert!(!path.exists(), "the service call ran again");
    let history = crate::relative_history(&store, "exec");
    assert_eq!(history.iter().filter(|e| e["type"] == "TaskSubmitted").count(), 1);
}

#[test]
fn a_failure_without_error_and_a_cancelled_wait_are_reported_as_on_aws() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(&dir);
    let path = dir.path().join("token.txt");
    // One branch waits on a token; its sibling fails, which cancels the wait. The Parallel's
    // Catch keeps the execution going, waiting on a second token.
    let mut waits = callback("handout", json!({"path": path}));
    waits["End"] = json!(true);
    let branches = json!([
        {"StartAt": "Waits", "States": {"Waits": waits}},
        {"StartAt": "Pause", "States": {"Pause": {"Type": "Wait", "Seconds": 1, "Next": "Fails"},
                                        "Fails": {"Type": "Fail", "Error": "Sibling"}}}
    ]);
    let second = dir.path().join("second.txt");
    let mut last = callback("handout", json!({"path": second}));
    last["Catch"] = json!([{"ErrorEquals": ["States.ALL"], "Next": "Done"}]);
    last.as_object_mut().unwrap().remove("End");
    last["Next"] = json!("Done");
    let definition = json!({"StartAt": "Fan", "States": {
        "Fan": {"Type": "Parallel", "Branches": branches, "Catch": [{"ErrorEquals": ["Sibling"], "ResultPath": null, "Next": "Last"}], "Next": "Last"},
        "Last": last, "Done": {"Type": "Pass", "End": true}}});
    let run = start(&dir, &config, &definition, "real");
    let store = dir.path().join("store");
    let cancelled = token_at(&path);
    let open = token_at(&second);
    let late = task(&store, &["success", &cancelled, "--output", "{}"]);
    assert_eq!(late.status.code(), Some(1), "a cancelled task's token is closed");
    assert!(String::from_utf8_lossy(&late.stderr).contains("TaskTimedOut"), "{late:?}");
    // SendTaskFailure with neither error nor cause: the catcher sees both as null.
    assert!(task(&store, &["failure", &open]).status.success());
    let report = finish(run);
    assert_eq!(report["output"], json!({"Error": null, "Cause": null}), "{report}");
}

#[test]
fn an_answer_after_the_timeout_is_refused_even_with_nobody_waiting() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(&dir);
    let path = dir.path().join("token.txt");
    let mut waits = callback("handout", json!({"path": path}));
    waits["TimeoutSeconds"] = json!(1);
    let mut run = start(&dir, &config, &json!({"StartAt": "Sign", "States": {"Sign": waits}}), "real");
    let token = token_at(&path);
    std::thread::sleep(Duration::from_millis(200));
    run.kill().unwrap();
    run.wait().unwrap();
    std::thread::sleep(Duration::from_millis(1200));
    let late = task(&dir.path().join("store"), &["success", &token, "--output", "{}"]);
    assert_eq!(late.status.code(), Some(1), "{late:?}");
    assert!(String::from_utf8_lossy(&late.stderr).contains("TaskTimedOut"), "{late:?}");
}

/// An SDK integration waits for its token too: the S3 PutObject's answer is recorded as
/// `TaskSubmitted`, and the token (written into the object) is answered from outside.
#[test]
fn an_sdk_integration_waits_for_its_token() {
    let dir = tempfile::tempdir().unwrap();
    let config = temp_file(&dir, "sfnlite.toml", &format!("data_dir = \"{}\"\n", dir.path().join("data").display()));
    let definition = json!({"StartAt": "Put", "States": {"Put": {"Type": "Task",
        "Resource": "arn:aws:states:::aws-sdk:s3:putObject.waitForTaskToken",
        "Parameters": {"Bucket": "inbox", "Key": "token.txt", "Body.$": "$$.Task.Token"}, "End": true}}});
    std::fs::create_dir_all(dir.path().join("data/inbox")).unwrap();
    let run = start(&dir, &config, &definition, "real");
    // The Body is stored JSON-serialized, as AWS stores a string Body: with its quotes.
    let stored = token_at(&dir.path().join("data/inbox/token.txt"));
    let token: String = serde_json::from_str(&stored).unwrap();
    let store = dir.path().join("store");
    std::thread::sleep(Duration::from_millis(200));
    let answered = task(&store, &["success", &token, "--output", r#"{"filed": true}"#]);
    assert!(answered.status.success(), "{}", String::from_utf8_lossy(&answered.stderr));
    assert_eq!(finish(run)["output"], json!({"filed": true}));
    let history = crate::relative_history(&store, "exec");
    let submitted = history.iter().find(|e| e["type"] == "TaskSubmitted").expect("TaskSubmitted");
    assert_eq!(submitted["taskSubmittedEventDetails"]["resourceType"], "aws-sdk:s3");
    let output: Value =
        serde_json::from_str(submitted["taskSubmittedEventDetails"]["output"].as_str().unwrap()).unwrap();
    assert!(output["ETag"].is_string(), "{output}");
}
