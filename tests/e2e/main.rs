//! The `sfnlite` binary as users run it: README commands, exit codes, messages, examples,
//! and the AWS-recorded conformance corpus.

use std::path::{Path, PathBuf};
use std::process::Command;

use assert_cmd::cargo::cargo_bin_cmd;
use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

/// The binary, run from the repository root, with a store of its own (tests that share a
/// store pass `--store`, which wins over the environment).
fn sfnlite() -> assert_cmd::Command {
    let mut cmd = cargo_bin_cmd!("sfnlite");
    cmd.current_dir(root());
    cmd.env("SFNLITE_STORE", tempfile::tempdir().unwrap().keep());
    // Query results and S3 writes go to a data root of the test's own; the repository's
    // sfnlite.toml still mounts the shipped logs and declares their table.
    cmd.env("SFNLITE_DATA_DIR", tempfile::tempdir().unwrap().keep());
    cmd
}

/// Splits a shell command line (no quoting is used in the README's commands).
fn words(line: &str) -> Vec<String> {
    line.split_whitespace().map(str::to_owned).collect()
}

/// The commands of README.md's first ```sh block.
fn readme_commands() -> Vec<String> {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let block = readme.split("```sh\n").nth(1).expect("a ```sh block").split("```").next().unwrap();
    block.lines().map(str::to_owned).filter(|l| !l.trim().is_empty()).collect()
}

#[test]
fn readme_first_command_runs_the_athena_example() {
    let commands = readme_commands();
    assert_eq!(commands.len(), 2, "README opens with two commands: {commands:?}");
    let first = words(&commands[0]);
    let args_start = first.iter().position(|w| w == "--").expect("cargo run … -- ARGS") + 1;
    let args = &first[args_start..];
    assert_eq!(args, ["run", "definitions/athena.asl.json", "--input-file", "definitions/athena.input.json"]);
    let data = tempfile::tempdir().unwrap();
    let store = tempfile::tempdir().unwrap();
    let out =
        sfnlite().env("SFNLITE_DATA_DIR", data.path()).arg("--store").arg(store.path()).args(args).output().unwrap();
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let output: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(output, serde_json::json!({"ExecutedVersion": "$LATEST", "Payload": null, "StatusCode": 200}));
    // The Athena steps ran on the embedded Athena: its result file holds the first 10 log lines.
    let results: Vec<PathBuf> = std::fs::read_dir(data.path().join("sfnlite-athena-results"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .collect();
    assert_eq!(results.len(), 1, "{results:?}");
    let csv = std::fs::read_to_string(&results[0]).unwrap();
    assert_eq!(csv.lines().count(), 11, "a header and LIMIT 10 rows");
    assert!(csv.starts_with("\"date\",\"time\",\"location\",\"bytes\""), "{csv}");
    let history =
        sfnlite().arg("--store").arg(store.path()).args(["executions", "list", "--format", "json"]).output().unwrap();
    assert!(String::from_utf8_lossy(&history.stdout).contains("SUCCEEDED"));
    assert_eq!(words(&commands[1]), ["cargo", "test", "--workspace"]);
}

#[test]
fn ci_runs_the_readme_test_command() {
    let ci = std::fs::read_to_string(root().join(".ci/run")).expect(".ci/run");
    let test_command = &readme_commands()[1];
    assert!(ci.lines().any(|l| l.trim() == test_command), ".ci/run must run `{test_command}`");
}

#[test]
fn athena_example_fails_when_the_query_fails() {
    let out = sfnlite()
        .args(["run", "definitions/athena.asl.json", "--input-file", "definitions/athena.input.json"])
        .args(["--sub", "ProcessResultsFunctionArn=arn:aws:lambda:us-east-1:123456789012:function:p"])
        .args(["--mock-config", "definitions/athena.mock.json", "--test-case", "QueryFails", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["status"], "FAILED");
    // The seed's Fail state has no Error and no Cause.
    assert_eq!(report["error"], Value::Null);
    assert_eq!(report["cause"], Value::Null);
}

#[test]
fn lambda_retries_back_off_in_virtual_time() {
    let out = sfnlite()
        .args(["run", "definitions/athena.asl.json", "--input-file", "definitions/athena.input.json"])
        .args(["--sub", "ProcessResultsFunctionArn=arn:aws:lambda:us-east-1:123456789012:function:p"])
        .args(["--mock-config", "definitions/athena.mock.json", "--test-case", "LambdaThrottledThenSucceeds"])
        .args(["--clock", "virtual", "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    // One 5 s Wait, then retries after 2 s and 4 s: 11 s of virtual time.
    assert_eq!(elapsed_millis(&report), 11_000);
}

fn elapsed_millis(report: &Value) -> i64 {
    let parse = |key: &str| {
        let text = report[key].as_str().unwrap();
        (sfnlite_states::timestamp::parse_iso8601(text).unwrap() / 1_000_000) as i64
    };
    parse("stopDate") - parse("startDate")
}

#[test]
fn every_example_validates_and_runs() {
    let dir = root().join("definitions");
    let mut ran = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".asl.json")) else {
            continue;
        };
        let input = dir.join(format!("{name}.input.json"));
        assert!(input.exists(), "{name}.asl.json needs {name}.input.json");
        sfnlite().args(["validate"]).arg(&path).assert().success();
        let mut cmd = sfnlite();
        cmd.arg("run").arg(&path).arg("--input-file").arg(&input).args([
            "--clock",
            "virtual",
            "--sub",
            "ProcessResultsFunctionArn=f",
        ]);
        // Examples whose Athena steps run on the embedded Athena need no mocks.
        let mock = dir.join(format!("{name}.mock.json"));
        if mock.exists() {
            cmd.arg("--mock-config").arg(&mock);
            let config: Value = serde_json::from_str(&std::fs::read_to_string(&mock).unwrap()).unwrap();
            let first_case =
                config["StateMachines"][name]["TestCases"].as_object().unwrap().keys().next().unwrap().clone();
            cmd.args(["--test-case", &first_case]);
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
        ran += 1;
    }
    assert!(ran >= 2, "found {ran} examples");
}

#[test]
fn hello_waits_an_hour_instantly_on_the_virtual_clock() {
    let out = sfnlite()
        .args(["run", "definitions/hello.asl.json", "--input-file", "definitions/hello.input.json"])
        .args(["--clock", "virtual", "--format", "json", "--name", "greeting"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["name"], "greeting");
    assert_eq!(report["executionArn"], "arn:aws:states:us-east-1:123456789012:execution:hello:greeting");
    assert_eq!(report["output"]["doubled"], serde_json::json!([2, 4, 6]));
    assert_eq!(elapsed_millis(&report), 3_600_000);
}

fn temp_file(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn validate_reports_every_problem_with_codes_and_locations() {
    let dir = tempfile::tempdir().unwrap();
    let file = temp_file(
        &dir,
        "bad.asl.json",
        r#"{"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Next": "Nowhere"},
            "B": {"Type": "Task", "Resource": "not-an-arn", "End": true, "Bogus": 1},
            "C": {"Type": "Choice", "Choices": [{"Variable": "$.x", "StringEquals": 1, "Next": "A"}]},
            "D": {"Type": "Pass"},
            "D": {"Type": "Succeed"}
        }}"#,
    );
    let out = sfnlite().args(["validate", "--format", "json"]).arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["result"], "FAIL");
    let found: Vec<(String, String)> = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["code"].as_str().unwrap().to_owned(), d["location"].as_str().unwrap().to_owned()))
        .collect();
    for expected in [
        ("MISSING_TRANSITION_TARGET", "/States/A/Next"),
        ("INVALID_RESOURCE", "/States/B/Resource"),
        ("SCHEMA_VALIDATION_FAILED", "/States/B/Bogus"),
        ("SCHEMA_VALIDATION_FAILED", "/States/C/Choices/0/StringEquals"),
        ("DUPLICATE_STATE_NAME", "/States/D"),
    ] {
        assert!(found.iter().any(|(c, l)| c == expected.0 && l == expected.1), "missing {expected:?} in {found:?}");
    }
}

#[test]
fn validate_finds_unreachable_states_on_the_graph() {
    let dir = tempfile::tempdir().unwrap();
    let file = temp_file(
        &dir,
        "graph.asl.json",
        r#"{"StartAt": "A", "States": {
            "A": {"Type": "Pass", "End": true},
            "Orphan": {"Type": "Pass", "Next": "Loop"},
            "Loop": {"Type": "Pass", "Next": "Orphan"}
        }}"#,
    );
    let out = sfnlite().arg("validate").arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("UNREACHABLE_STATE] at /States/Orphan"), "{text}");
    assert!(text.contains("UNREACHABLE_STATE] at /States/Loop"), "{text}");
}

#[test]
fn validate_text_output_for_people() {
    let dir = tempfile::tempdir().unwrap();
    let file = temp_file(
        &dir,
        "poll.asl.json",
        r#"{"StartAt": "Poll", "States": {
            "Poll": {"Type": "Task", "Resource": "arn:aws:states:::athena:getQueryExecution", "Next": "Has query finished?"},
            "Has query finished?": {"Type": "Choice", "Choices": [
                {"Variable": "$.QueryExecution.Status.State", "StringEquals": "SUCCEEDED", "Next": "Done"},
                {"Variable": "$.QueryExecution.Status.State", "StringMatches": "FAIL*"}
            ], "Default": "Wait"},
            "Wait": {"Type": "Wait", "Seconds": 5, "SecondsPath": "$.s", "Next": "Poll"},
            "Done": {"Type": "Succeed", "ResultPath": "$.x"}
        }}"#,
    );
    let out = sfnlite().arg("validate").arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout).replace(&file.display().to_string(), "poll.asl.json");
    insta::assert_snapshot!(stdout);
}

#[test]
fn invalid_json_definition_names_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let file = temp_file(&dir, "broken.asl.json", "{\"StartAt\": \"A\",\n  \"States\": {\n}");
    let out = sfnlite().arg("validate").arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("INVALID_JSON_DESCRIPTION") && text.contains("line 3"), "{text}");
}

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

/// The AWS-recorded corpus, when the shared folder is beside the repository (it is in CI):
/// at least 99% of all cases, and every JSONata and every Assign case.
#[test]
fn conformance_corpus() {
    let runner = root().join("../shared/conformance/run.py");
    if !runner.exists() {
        eprintln!("conformance corpus not found at {}; nothing to check", runner.display());
        return;
    }
    let binary = assert_cmd::cargo::cargo_bin!("sfnlite");
    let cmd = format!(
        "{} --ephemeral run {{definition}} --input-file {{input}} --mock-config {{mocks}} --state-machine-name {{sm}} --test-case {{testcase}} --clock virtual --format json",
        binary.display()
    );
    let run = |extra: &[&str], min_rate: &str| {
        let out = Command::new("python3")
            .arg(&runner)
            .args(["-j", "2", "--min-pass-rate", min_rate, "--cmd", &cmd])
            .args(extra)
            .output()
            .expect("python3 runs");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        eprintln!("conformance {extra:?}: {}", stdout.lines().last().unwrap_or_default());
        assert!(out.status.success(), "conformance {extra:?} below {min_rate}:\n{stdout}");
    };
    run(&[], "0.99");
    run(&["--feature", "JSONata"], "1.0");
    run(&["--feature", "Assign"], "1.0");
}

/// Events of an execution with timestamps made relative to its start, for comparison.
fn relative_history(store: &Path, execution: &str) -> Vec<Value> {
    let out = sfnlite().arg("--store").arg(store).args(["history", execution, "--format", "json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let history: Value = serde_json::from_slice(&out.stdout).unwrap();
    let events = history["events"].as_array().unwrap().clone();
    let millis =
        |e: &Value| sfnlite_states::timestamp::parse_iso8601(e["timestamp"].as_str().unwrap()).unwrap() / 1_000_000;
    let start = millis(&events[0]);
    events
        .iter()
        .map(|e| {
            let mut e = e.clone();
            e["timestamp"] = serde_json::json!((millis(&e) - start) as i64);
            e
        })
        .collect()
}

fn crash_test_run(store: &Path, name: &str) -> assert_cmd::Command {
    let mut cmd = sfnlite();
    cmd.arg("--store").arg(store).args(["run", "cli/tests/data/resume.asl.json", "--clock", "virtual", "--name", name]);
    cmd.args(["--mock-config", "cli/tests/data/resume.mock.json", "--test-case", "Flaky", "--format", "json"]);
    cmd
}

/// Kills a run after every event boundary (the process aborts right after the batch holding
/// event N is on disk), resumes it, and compares the history with an uninterrupted run:
/// same events, same ids, same (virtual) timings, one ExecutionStarted, no gaps.
#[test]
fn resume_after_a_crash_at_every_event_boundary() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let full = crash_test_run(&store, "full").output().unwrap();
    assert!(full.status.success(), "{}", String::from_utf8_lossy(&full.stderr));
    let expected = relative_history(&store, "full");
    let full_report: Value = serde_json::from_slice(&full.stdout).unwrap();
    let total = expected.len() as u64;
    assert!(total > 60, "the workflow records {total} events");
    let mut kill_points = 0;
    for after in 1..total {
        let name = format!("crash-{after}");
        let crashed =
            crash_test_run(&store, &name).env("SFNLITE_TEST_CRASH_AFTER_EVENT", after.to_string()).output().unwrap();
        assert!(!crashed.status.success(), "the run was to die after event {after}");
        let resumed = sfnlite()
            .arg("--store")
            .arg(&store)
            .args(["resume", &name, "--mock-config", "cli/tests/data/resume.mock.json", "--test-case", "Flaky"])
            .args(["--format", "json"])
            .output()
            .unwrap();
        assert!(resumed.status.success(), "resume after event {after}: {}", String::from_utf8_lossy(&resumed.stderr));
        let report: Value = serde_json::from_slice(&resumed.stdout).unwrap();
        assert_eq!(report["output"], full_report["output"], "output after a crash at event {after}");
        let history = relative_history(&store, &name);
        assert_eq!(history, expected, "history after a crash at event {after}");
        kill_points += 1;
    }
    eprintln!("resumed after {kill_points} kill points");
}

/// Waits until the process `pid` holds the store (it writes its pid there once it has the
/// lock), then `settle` more, so that it has recorded its first events.
fn wait_for_holder(store: &Path, pid: u32, settle: std::time::Duration) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::fs::read_to_string(store.join("owner.pid")).ok().as_deref().map(str::trim) != Some(&pid.to_string()) {
        assert!(std::time::Instant::now() < deadline, "process {pid} never took the store");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(settle);
}

/// A real `kill -9` during a real-clock Wait: the resumed Wait sleeps only what remains.
#[test]
fn resume_after_sigkill_during_a_real_wait() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let definition = temp_file(
        &dir,
        "nap.asl.json",
        r#"{"StartAt": "Nap", "States": {"Nap": {"Type": "Wait", "Seconds": 5, "Next": "Done"}, "Done": {"Type": "Pass", "Result": "rested", "End": true}}}"#,
    );
    let mut child = Command::new(assert_cmd::cargo::cargo_bin!("sfnlite"))
        .arg("--store")
        .arg(&store)
        .arg("run")
        .arg(&definition)
        .args(["--name", "nap"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for_holder(&store, child.id(), std::time::Duration::from_millis(1500));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let status = sfnlite().arg("--store").arg(&store).args(["describe", "nap", "--format", "json"]).output().unwrap();
    let described: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(described["status"], "RUNNING");
    let resumed = sfnlite().arg("--store").arg(&store).args(["resume", "--all"]).output().unwrap();
    assert!(resumed.status.success(), "{}", String::from_utf8_lossy(&resumed.stderr));
    assert_eq!(String::from_utf8_lossy(&resumed.stdout).trim(), "\"rested\"");
    let history = relative_history(&store, "nap");
    let types: Vec<&str> = history.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "ExecutionStarted",
            "WaitStateEntered",
            "WaitStateExited",
            "PassStateEntered",
            "PassStateExited",
            "ExecutionSucceeded"
        ]
    );
    for (i, event) in history.iter().enumerate() {
        assert_eq!(event["id"], serde_json::json!(i + 1), "ids are consecutive");
    }
    let waited = history[2]["timestamp"].as_i64().unwrap() - history[1]["timestamp"].as_i64().unwrap();
    assert!((5000..6000).contains(&waited), "the Wait lasted {waited} ms in all");
}

/// A second process on a store in use waits for it, then says who holds it.
#[test]
fn a_busy_store_names_its_holder() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let definition = temp_file(
        &dir,
        "nap.asl.json",
        r#"{"StartAt": "Nap", "States": {"Nap": {"Type": "Wait", "Seconds": 3, "End": true}}}"#,
    );
    let mut holder = Command::new(assert_cmd::cargo::cargo_bin!("sfnlite"))
        .arg("--store")
        .arg(&store)
        .arg("run")
        .arg(&definition)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for_holder(&store, holder.id(), std::time::Duration::from_millis(100));
    let out = sfnlite()
        .arg("--store")
        .arg(&store)
        .args(["executions", "list"])
        .env("SFNLITE_LOCK_WAIT_MS", "100")
        .output()
        .unwrap();
    holder.wait().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("in use by process {}", holder.id())), "{stderr}");
    // Once the holder is done, the store is readable and the run is recorded.
    let out = sfnlite().arg("--store").arg(&store).args(["executions", "list", "--format", "json"]).output().unwrap();
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed["executions"][0]["status"], "SUCCEEDED");
}

fn types_of(history: &[Value]) -> Vec<String> {
    history.iter().map(|e| e["type"].as_str().unwrap().to_owned()).collect()
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
        cmd.args(["run", "cli/tests/data/redrive.asl.json", "--name", "batch", "--clock", "virtual"]);
        cmd.args(["--mock-config", "cli/tests/data/redrive.mock.json", "--test-case", test_case]);
        cmd.output().unwrap()
    };
    let failed = run("Broken");
    assert_eq!(failed.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&failed.stderr).contains("Lambda.Unknown: the function crashed"));

    // A SUCCEEDED or RUNNING execution cannot be redriven; this one can.
    let redriven = sfnlite()
        .arg("--store")
        .arg(&store)
        .args(["redrive", "batch", "--mock-config", "cli/tests/data/redrive.mock.json", "--test-case", "Fixed"])
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

/// JSONata with variables runs (the shipped example), and fields of the other query
/// language are rejected where they stand.
#[test]
fn jsonata_example_and_query_language_rules() {
    let out = sfnlite()
        .args([
            "--ephemeral",
            "run",
            "definitions/orders-jsonata.asl.json",
            "--input-file",
            "definitions/orders-jsonata.input.json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let output: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(output, serde_json::json!({"customer": "ana", "total": 105.5, "shipping": "express", "lines": 2}));

    let dir = tempfile::tempdir().unwrap();
    let mixed = temp_file(
        &dir,
        "mixed.asl.json",
        r#"{"QueryLanguage": "JSONata", "StartAt": "A", "States": {
            "A": {"Type": "Pass", "InputPath": "$.x", "Output": "{% $states.input %}", "Next": "B"},
            "B": {"Type": "Pass", "QueryLanguage": "JSONPath", "End": true}
        }}"#,
    );
    let out = sfnlite().arg("validate").arg(&mixed).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("at /States/A/InputPath: the field 'InputPath' is not supported when QueryLanguage is JSONata"),
        "{text}"
    );
    assert!(text.contains("at /States/B/QueryLanguage"), "{text}");
    let jsonpath = temp_file(
        &dir,
        "path.asl.json",
        r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "Output": {}, "End": true}}}"#,
    );
    let out = sfnlite().arg("validate").arg(&jsonpath).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("'Output' is only supported when QueryLanguage is JSONata"));
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
            "MockedResponses": {"W": {"0": {"Return": 1}, "1": {"Throw": {"Error": "Boom"}}}, "R": {"0-9": {"Return": "sent"}}}}"#,
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

/// Seed B on the embedded Athena: `.sync`, GetQueryResults, the Map over `Rows[1:]`.
#[test]
fn seed_b_runs_and_reproduces_its_paging_defect() {
    let out = sfnlite()
        .args(["run", "definitions/athena-paged.asl.json", "--input-file", "definitions/athena-paged.input.json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let output: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(output["QueryExecution"]["Status"]["State"], "SUCCEEDED");
    assert_eq!(output["QueryExecution"]["StatementType"], "DML");
    let rows = output["GetQueryResults"]["ResultSet"]["Rows"].as_array().unwrap();
    assert_eq!(rows.len(), 11, "the header and 10 rows");
    assert_eq!(rows[0], serde_json::json!({"Data": [{"VarCharValue": "uri"}]}));
    assert!(output["GetQueryResults"].get("NextToken").is_none(), "one page: no NextToken key");
    let column = &output["GetQueryResults"]["ResultSet"]["ResultSetMetadata"]["ColumnInfo"][0];
    assert_eq!(
        column,
        &serde_json::json!({"CaseSensitive": true, "CatalogName": "hive", "Label": "uri", "Name": "uri", "Nullable": "UNKNOWN",
            "Precision": 2147483647, "Scale": 0, "SchemaName": "", "TableName": "", "Type": "varchar"})
    );

    // With more than one page of results, the seed fails as it does on AWS: its "Prepare
    // Next Query Params" reads $.StartQueryParams, which the first page never set.
    let dir = tempfile::tempdir().unwrap();
    let definition = std::fs::read_to_string(root().join("definitions/athena-paged.asl.json")).unwrap();
    let paged = temp_file(&dir, "paged.asl.json", &definition.replace("limit 10", "limit 1500"));
    let out = sfnlite()
        .arg("run")
        .arg(&paged)
        .args(["--sub", "AthenaResultsBucketName=sfnlite-athena-results", "--input", "{}", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["error"], "States.Runtime");
    let cause = report["cause"].as_str().unwrap();
    assert!(
        cause.starts_with("An error occurred while executing the state 'Prepare Next Query Params'")
            && cause.contains("The JSONPath '$.StartQueryParams.QueryExecutionId' specified for the field 'QueryExecutionId.$' could not be found"),
        "{}",
        &cause[..300]
    );
    assert!(cause.contains("\"NextToken\":"), "the first page had a NextToken");
}

#[test]
fn s3_commands_seed_and_read_the_local_s3() {
    let data = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let local = temp_file(&files, "orders.csv", "id,total\n1,9.5\n");
    let s3 = |args: &[&str]| sfnlite().env("SFNLITE_DATA_DIR", data.path()).arg("s3").args(args).output().unwrap();
    assert!(s3(&["mb", "s3://shop"]).status.success());
    let put = s3(&["cp", local.to_str().unwrap(), "s3://shop/in/"]);
    assert!(put.status.success(), "{}", String::from_utf8_lossy(&put.stderr));
    assert_eq!(std::fs::read_to_string(data.path().join("shop/in/orders.csv")).unwrap(), "id,total\n1,9.5\n");
    assert_eq!(s3(&["cat", "s3://shop/in/orders.csv"]).stdout, b"id,total\n1,9.5\n");
    let listing = String::from_utf8(s3(&["ls", "s3://shop/"]).stdout).unwrap();
    assert!(listing.contains("PRE in/"), "{listing}");
    let listing = String::from_utf8(s3(&["ls", "--recursive", "s3://shop"]).stdout).unwrap();
    assert!(listing.contains("in/orders.csv") && listing.contains("15"), "{listing}");
    let back = files.path().join("back.csv");
    assert!(s3(&["cp", "s3://shop/in/orders.csv", back.to_str().unwrap()]).status.success());
    assert_eq!(std::fs::read_to_string(&back).unwrap(), "id,total\n1,9.5\n");
    assert!(s3(&["cp", "s3://shop/in/orders.csv", "s3://shop/copy/o.csv"]).status.success());
    assert!(s3(&["rm", "--recursive", "s3://shop/in/"]).status.success());
    assert!(!data.path().join("shop/in").exists());
    let missing = s3(&["cat", "s3://shop/nope"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("NoSuchKey"));
    let escape = s3(&["cp", local.to_str().unwrap(), "s3://shop/../escape.csv"]);
    assert_eq!(escape.status.code(), Some(1));
    assert!(!data.path().join("escape.csv").exists(), "a key cannot leave its bucket");
    assert_eq!(s3(&["cat", "/etc/passwd"]).status.code(), Some(2), "not an s3:// address");
}

#[test]
fn athena_query_runs_statements_like_the_console() {
    let data = tempfile::tempdir().unwrap();
    let athena = |args: &[&str]| {
        sfnlite().env("SFNLITE_DATA_DIR", data.path()).arg("athena").arg("query").args(args).output().unwrap()
    };
    let sql = "SELECT status, COUNT(*) AS requests FROM cf_access_logs WHERE status IN ('404', '500') GROUP BY status ORDER BY status";
    let table = athena(&[sql, "--database", "serverlessland_database"]);
    assert!(table.status.success(), "{}", String::from_utf8_lossy(&table.stderr));
    let text = String::from_utf8(table.stdout).unwrap();
    assert!(text.starts_with("status | requests\n"), "{text}");
    assert!(String::from_utf8_lossy(&table.stderr).contains("SUCCEEDED"));
    let csv = athena(&[sql, "--database", "serverlessland_database", "--format", "csv"]);
    let csv = String::from_utf8(csv.stdout).unwrap();
    assert!(csv.starts_with("\"status\",\"requests\"\n\"404\",\""), "the result file as Athena writes it: {csv}");
    let json = athena(&[
        sql,
        "--database",
        "serverlessland_database",
        "--format",
        "json",
        "--output-location",
        "s3://sfnlite-athena-results/q/",
    ]);
    let report: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(report["Columns"], serde_json::json!(["status", "requests"]));
    assert_eq!(report["Rows"].as_array().unwrap().len(), 2);
    assert!(
        report["QueryExecution"]["ResultConfiguration"]["OutputLocation"]
            .as_str()
            .unwrap()
            .starts_with("s3://sfnlite-athena-results/q/")
    );
    let failed = athena(&["SELECT * FROM nope"]);
    assert_eq!(failed.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&failed.stderr).contains("TABLE_NOT_FOUND"));
    let rejected = athena(&["SELECT 1", "--workgroup", "nope"]);
    assert_eq!(rejected.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&rejected.stderr).contains("InvalidRequestException"));
}

#[test]
fn config_names_where_each_setting_comes_from() {
    let dir = tempfile::tempdir().unwrap();
    let config = temp_file(&dir, "custom.toml", "backend = \"aws\"\n[aws]\nregion = \"eu-west-1\"\n");
    let out = sfnlite()
        .env_remove("SFNLITE_DATA_DIR")
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env_remove("AWS_REGION")
        .env_remove("AWS_DEFAULT_REGION")
        .arg("--config")
        .arg(&config)
        .args(["--data-dir", "/tmp/d", "config", "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let row =
        |name: &str| rows.iter().find(|r| r["setting"] == name).unwrap_or_else(|| panic!("{name}: {rows:?}")).clone();
    assert_eq!(
        (row("data_dir")["value"].as_str(), row("data_dir")["source"].as_str()),
        (Some("/tmp/d"), Some("flag --data-dir"))
    );
    assert_eq!(row("backend")["value"], "aws");
    assert!(row("backend")["source"].as_str().unwrap().contains("custom.toml"));
    assert_eq!(row("aws.region")["value"], "eu-west-1");
    assert_eq!(row("aws.endpoint_url")["source"], "env AWS_ENDPOINT_URL");
    assert_eq!(row("aws.force_path_style")["value"], "true");

    let broken = temp_file(&dir, "broken.toml", "data_dir = \".x\"\n\n[athena\n");
    let out = sfnlite().arg("--config").arg(&broken).arg("config").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let message = String::from_utf8_lossy(&out.stderr);
    assert!(message.contains("broken.toml") && message.contains("line 3"), "{message}");
    let unknown = temp_file(&dir, "unknown.toml", "data_dri = \"x\"\n");
    let out = sfnlite().arg("--config").arg(&unknown).arg("config").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("data_dri"));
}

/// Seed A killed mid-run (after its query started) resumes in a new process: the query is
/// read back from the embedded Athena's records, and the config's Lambda mock still answers.
#[test]
fn seed_a_resumes_after_a_crash() {
    let store = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let crashed = sfnlite()
        .env("SFNLITE_DATA_DIR", data.path())
        .env("SFNLITE_TEST_CRASH_AFTER_EVENT", "7")
        .arg("--store")
        .arg(store.path())
        .args([
            "run",
            "definitions/athena.asl.json",
            "--input-file",
            "definitions/athena.input.json",
            "--name",
            "crashy",
        ])
        .output()
        .unwrap();
    assert!(!crashed.status.success(), "the hook kills the run");
    let resumed = sfnlite()
        .env("SFNLITE_DATA_DIR", data.path())
        .arg("--store")
        .arg(store.path())
        .args(["resume", "crashy"])
        .output()
        .unwrap();
    assert!(resumed.status.success(), "{}", String::from_utf8_lossy(&resumed.stderr));
    let output: Value = serde_json::from_slice(&resumed.stdout).unwrap();
    assert_eq!(output["StatusCode"], 200);
}
