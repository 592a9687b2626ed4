//! `sfnlite serve` with real clients: boto3 (many executions at once, paging), the AWS CLI,
//! the API conformance corpus; a server killed with SIGKILL resumes its executions.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::root;

/// A running `sfnlite serve` on a free loopback port.
pub(crate) struct Served {
    child: Child,
    pub(crate) endpoint: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `sfnlite serve --port 0` on `store` and waits for the address it prints.
pub(crate) fn start(store: &Path, extra: &[&str]) -> Served {
    start_with(store, &["--no-config"], extra, &[])
}

/// [`start`] with global flags (`--no-config`, `--config FILE`) and environment variables.
pub(crate) fn start_with(store: &Path, global: &[&str], extra: &[&str], env: &[(&str, &str)]) -> Served {
    let mut child = Command::new(assert_cmd::cargo::cargo_bin!("sfnlite"))
        .current_dir(root())
        .args(global)
        .arg("--store")
        .arg(store)
        .args(["serve", "--port", "0"])
        .args(extra)
        .env("SFNLITE_DATA_DIR", store.join("data"))
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sfnlite serve starts");
    let stderr = child.stderr.take().unwrap();
    // Owned before waiting, so that a server that never answers is killed all the same.
    let mut served = Served { child, endpoint: String::new() };
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(address) = line.strip_prefix("sfnlite: serving the Step Functions API on ") {
                let _ = sender.send(address.to_owned());
            }
        }
    });
    served.endpoint = receiver.recv_timeout(Duration::from_secs(60)).expect("serve prints its address");
    served
}

/// A client process with no AWS configuration of the machine's (profiles, config files).
fn client(program: &str) -> Command {
    let mut command = Command::new(program);
    command
        .current_dir(root())
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_DEFAULT_PROFILE")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test");
    command
}

pub(crate) fn python(args: &[&str]) -> std::process::Output {
    let output = client("python3").args(args).output().expect("python3 runs");
    assert!(
        output.status.success(),
        "{args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

#[test]
fn boto3_runs_two_hundred_executions_at_once_and_pages_a_history() {
    let store = tempfile::tempdir().unwrap();
    let server = start(store.path(), &[]);
    let output = python(&["tests/e2e/clients/boto3_walk.py", &server.endpoint, "200"]);
    let facts: Value = serde_json::from_slice(output.stdout.trim_ascii()).unwrap();
    assert_eq!(facts["executions"], 200);
    // Started, Wait in/out, Map (entered, started, 2 iterations × 4, succeeded, exited),
    // Parallel (entered, started, 2 branches × 2, exited), succeeded.
    assert!(facts["events"].as_u64().unwrap() > 20, "{facts}");
}

/// The AWS CLI, as a user's script calls it (`--endpoint-url` the only change).
pub(crate) fn aws(endpoint: &str, args: &[&str]) -> Value {
    let output = client("python3")
        .args(["-m", "awscli"])
        .args(args)
        .args(["--endpoint-url", endpoint, "--region", "us-east-1", "--output", "json"])
        .output()
        .expect("python3 runs the AWS CLI (.ci/run installs awscli)");
    assert!(output.status.success(), "aws {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    if output.stdout.trim_ascii().is_empty() { Value::Null } else { serde_json::from_slice(&output.stdout).unwrap() }
}

/// DescribeExecution, polled until the execution has ended (or 30 s have passed).
pub(crate) fn ended(endpoint: &str, execution: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let described = aws(endpoint, &["stepfunctions", "describe-execution", "--execution-arn", execution]);
        if described["status"] != "RUNNING" || Instant::now() > deadline {
            return described;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_aws_cli_creates_starts_and_describes() {
    let store = tempfile::tempdir().unwrap();
    let server = start(store.path(), &[]);
    let definition = r#"{"StartAt":"Hello","States":{"Hello":{"Type":"Pass","Result":{"hello":"world"},"End":true}}}"#;
    let created = aws(
        &server.endpoint,
        &[
            "stepfunctions",
            "create-state-machine",
            "--name",
            "hello",
            "--definition",
            definition,
            "--role-arn",
            "arn:aws:iam::123456789012:role/r",
        ],
    );
    let machine = created["stateMachineArn"].as_str().unwrap().to_owned();
    let listed = aws(&server.endpoint, &["stepfunctions", "list-state-machines"]);
    assert_eq!(listed["stateMachines"][0]["name"], "hello");
    let started =
        aws(&server.endpoint, &["stepfunctions", "start-execution", "--state-machine-arn", &machine, "--name", "cli"]);
    let execution = started["executionArn"].as_str().unwrap().to_owned();
    assert!(execution.ends_with(":execution:hello:cli"), "{execution}");
    let described = ended(&server.endpoint, &execution);
    assert_eq!(described["status"], "SUCCEEDED");
    assert_eq!(described["output"], r#"{"hello":"world"}"#);
    // The same store, seen through the CLI's own commands once the server is gone.
    drop(server);
    let out = super::sfnlite().arg("--store").arg(store.path()).args(["describe", "cli", "--format", "json"]).output();
    let out = out.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(serde_json::from_slice::<Value>(&out.stdout).unwrap()["status"], "SUCCEEDED");
}

#[test]
fn api_conformance_corpus() {
    let cases = root().join("../shared/conformance-api/cases");
    assert!(cases.is_dir(), "the API conformance corpus is missing at {}", cases.display());
    let store = tempfile::tempdir().unwrap();
    let server = start(store.path(), &[]);
    let runner = root().join("../shared/conformance-api/run.py");
    let output = client("python3")
        .arg(&runner)
        .args(["--endpoint", &server.endpoint, "--cases"])
        .arg(&cases)
        .args(["-j", "4"])
        .output()
        .expect("the runner runs");
    let text = String::from_utf8_lossy(&output.stdout);
    let last = text.lines().rev().find(|l| l.contains(" passed, ")).unwrap_or_else(|| panic!("no summary:\n{text}"));
    let numbers: Vec<u64> = last.split(|c: char| !c.is_ascii_digit()).filter_map(|n| n.parse().ok()).collect();
    let (passed, failed) = (numbers[0], numbers[1]);
    eprintln!("API conformance: {last}");
    assert!(passed * 100 >= (passed + failed) * 95, "below 95%: {last}\n{text}");
}

#[test]
fn a_killed_server_resumes_its_executions_when_it_starts_again() {
    let store = tempfile::tempdir().unwrap();
    let server = start(store.path(), &[]);
    let definition = r#"{"StartAt":"Nap","States":{"Nap":{"Type":"Wait","Seconds":2,"Next":"Done"},"Done":{"Type":"Pass","End":true}}}"#;
    let machine = aws(
        &server.endpoint,
        &[
            "stepfunctions",
            "create-state-machine",
            "--name",
            "napper",
            "--definition",
            definition,
            "--role-arn",
            "arn:aws:iam::123456789012:role/r",
        ],
    )["stateMachineArn"]
        .as_str()
        .unwrap()
        .to_owned();
    let started = Instant::now();
    let execution = aws(
        &server.endpoint,
        &["stepfunctions", "start-execution", "--state-machine-arn", &machine, "--name", "n1", "--input", r#"{"k":1}"#],
    )["executionArn"]
        .as_str()
        .unwrap()
        .to_owned();
    let before = aws(&server.endpoint, &["stepfunctions", "describe-execution", "--execution-arn", &execution]);
    assert_eq!(before["status"], "RUNNING", "killed during the Wait");
    // SIGKILL during the Wait (Child::kill sends SIGKILL).
    drop(server);
    let server = start(store.path(), &[]);
    let described = ended(&server.endpoint, &execution);
    assert_eq!(described["status"], "SUCCEEDED", "{described}");
    assert_eq!(described["output"], r#"{"k":1}"#);
    assert!(started.elapsed() >= Duration::from_secs(2), "the Wait kept its deadline");
    let history = aws(&server.endpoint, &["stepfunctions", "get-execution-history", "--execution-arn", &execution]);
    let ids: Vec<u64> = history["events"].as_array().unwrap().iter().map(|e| e["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, (1..=ids.len() as u64).collect::<Vec<_>>(), "one gap-free history");
    assert_eq!(ids.len(), 6);
}

/// The README's "Use it from the AWS CLI" commands, run as written against a server (on a
/// free port instead of 8083).
#[test]
fn readme_aws_cli_commands_work_against_serve() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let section = readme.split("## Use it from the AWS CLI").nth(1).expect("the README section exists");
    let block = section.split("```sh\n").nth(1).and_then(|b| b.split("```").next()).expect("a sh block");
    let script: String = block.lines().filter(|l| !l.starts_with("sfnlite serve")).collect::<Vec<_>>().join("\n");
    assert!(script.contains("aws stepfunctions start-execution"), "{script}");
    let store = tempfile::tempdir().unwrap();
    let server = start(store.path(), &[]);
    // `aws` as pip installs it; where its script is not on PATH, the same CLI as a module.
    let script = format!(
        "command -v aws >/dev/null || aws() {{ python3 -m awscli \"$@\"; }}\n{}",
        script.replace("http://127.0.0.1:8083", &server.endpoint)
    );
    let output = client("bash").args(["-euo", "pipefail", "-c", &script]).output().unwrap();
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("arn:aws:states:us-east-1:123456789012:execution:hello:first"), "{text}");
}

/// The Athena API on the same port, over the embedded Athena, with the AWS CLI.
#[test]
fn the_aws_cli_runs_an_athena_query() {
    let store = tempfile::tempdir().unwrap();
    let server = start(store.path(), &[]);
    let started =
        aws(&server.endpoint, &["athena", "start-query-execution", "--query-string", "SELECT 1 AS one, 'x' AS s"]);
    let id = started["QueryExecutionId"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(60);
    let execution = loop {
        let got = aws(&server.endpoint, &["athena", "get-query-execution", "--query-execution-id", &id]);
        let state = got["QueryExecution"]["Status"]["State"].clone();
        if (state != "QUEUED" && state != "RUNNING") || Instant::now() > deadline {
            break got;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(execution["QueryExecution"]["Status"]["State"], "SUCCEEDED", "{execution}");
    assert!(execution["QueryExecution"]["Status"]["SubmissionDateTime"].is_f64(), "epoch seconds: {execution}");
    let results = aws(&server.endpoint, &["athena", "get-query-results", "--query-execution-id", &id]);
    let rows = &results["ResultSet"]["Rows"];
    assert_eq!(rows[0]["Data"][0]["VarCharValue"], "one");
    assert_eq!(rows[1]["Data"], serde_json::json!([{"VarCharValue": "1"}, {"VarCharValue": "x"}]));
    // An unknown query is Athena's InvalidRequestException, through the CLI's error path.
    let missing = client("python3")
        .args(["-m", "awscli", "athena", "get-query-execution", "--query-execution-id", "nope", "--endpoint-url"])
        .arg(&server.endpoint)
        .args(["--region", "us-east-1"])
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("InvalidRequestException"), "{missing:?}");

    // The catalog and workgroup operations, after a DDL statement through the same API.
    let ddl = "CREATE EXTERNAL TABLE sales (id int, amount double) PARTITIONED BY (day string) \
        ROW FORMAT DELIMITED FIELDS TERMINATED BY ',' LOCATION 's3://lake/sales/'";
    let created = aws(&server.endpoint, &["athena", "start-query-execution", "--query-string", ddl]);
    let ddl_id = created["QueryExecutionId"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(60);
    while aws(&server.endpoint, &["athena", "get-query-execution", "--query-execution-id", &ddl_id])["QueryExecution"]["Status"]
        ["State"]
        != "SUCCEEDED"
    {
        assert!(Instant::now() < deadline, "the DDL statement never succeeded");
        std::thread::sleep(Duration::from_millis(100));
    }
    let listed = aws(&server.endpoint, &["athena", "list-query-executions"]);
    assert_eq!(listed["QueryExecutionIds"], serde_json::json!([ddl_id, id]), "newest first: {listed}");
    let paged = aws(&server.endpoint, &["athena", "list-query-executions", "--max-items", "1"]);
    assert_eq!(paged["QueryExecutionIds"], serde_json::json!([ddl_id]));
    let databases = aws(&server.endpoint, &["athena", "list-databases", "--catalog-name", "AwsDataCatalog"]);
    assert_eq!(databases["DatabaseList"][0]["Name"], "default");
    let table_args = ["--catalog-name", "AwsDataCatalog", "--database-name", "default"];
    let tables = aws(&server.endpoint, &[&["athena", "list-table-metadata"][..], &table_args].concat());
    let table = &tables["TableMetadataList"][0];
    assert_eq!(table["Name"], "sales");
    assert_eq!(
        table["Columns"],
        serde_json::json!([{"Name": "id", "Type": "int"}, {"Name": "amount", "Type": "double"}])
    );
    assert_eq!(table["PartitionKeys"], serde_json::json!([{"Name": "day", "Type": "string"}]));
    assert_eq!(table["Parameters"]["location"], "s3://lake/sales/");
    assert!(table["CreateTime"].as_f64().unwrap() > 1.7e9, "epoch seconds: {table}");
    let one =
        aws(&server.endpoint, &[&["athena", "get-table-metadata", "--table-name", "sales"][..], &table_args].concat());
    assert_eq!(one["TableMetadata"], *table);
    let filtered =
        aws(&server.endpoint, &[&["athena", "list-table-metadata", "--expression", "nope*"][..], &table_args].concat());
    assert_eq!(filtered["TableMetadataList"], serde_json::json!([]));
    let groups = aws(&server.endpoint, &["athena", "list-work-groups"]);
    assert_eq!(groups["WorkGroups"][0]["Name"], "primary");
    let group = aws(&server.endpoint, &["athena", "get-work-group", "--work-group", "primary"]);
    assert_eq!(group["WorkGroup"]["State"], "ENABLED");
}

/// The S3 API on the same port, over the local S3 (`<store>/data` here), with `aws s3`:
/// make a bucket, copy up and down, list, presign, read a range, copy, remove.
#[test]
fn aws_s3_commands_work_against_the_local_s3() {
    let store = tempfile::tempdir().unwrap();
    let server = start(store.path(), &[]);
    let file = store.path().join("f x.txt");
    std::fs::write(&file, "hello world\n").unwrap();
    let s3 = |args: &[&str]| {
        let output = client("python3")
            .args(["-m", "awscli"])
            .args(args)
            .args(["--endpoint-url", &server.endpoint, "--region", "us-east-1"])
            .output()
            .unwrap();
        assert!(output.status.success(), "aws {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    s3(&["s3", "mb", "s3://bucket1"]);
    s3(&["s3", "cp", file.to_str().unwrap(), "s3://bucket1/dir/f x.txt"]);
    assert!(std::fs::read_to_string(store.path().join("data/bucket1/dir/f x.txt")).unwrap() == "hello world\n");
    assert!(s3(&["s3", "ls"]).contains("bucket1"));
    assert!(s3(&["s3", "ls", "s3://bucket1/"]).contains("PRE dir/"));
    assert!(s3(&["s3", "ls", "s3://bucket1/", "--recursive"]).contains("12 dir/f x.txt"));
    assert_eq!(s3(&["s3", "cp", "s3://bucket1/dir/f x.txt", "-"]), "hello world\n");
    let url = s3(&["s3", "presign", "s3://bucket1/dir/f x.txt"]);
    let fetched = client("python3")
        .args([
            "-c",
            "import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1]).read().decode())",
            url.trim(),
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&fetched.stdout), "hello world\n", "{fetched:?}");
    let part = store.path().join("part");
    let got = s3(&[
        "s3api",
        "get-object",
        "--bucket",
        "bucket1",
        "--key",
        "dir/f x.txt",
        "--range",
        "bytes=0-4",
        part.to_str().unwrap(),
    ]);
    assert!(got.contains("bytes 0-4/12"), "{got}");
    assert_eq!(std::fs::read_to_string(&part).unwrap(), "hello");
    // Above the CLI's 8 MB threshold: a multipart upload up, ranged GETs down.
    let big: Vec<u8> = (0..9 * 1024 * 1024u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    let (up, down) = (store.path().join("big.bin"), store.path().join("big-back.bin"));
    std::fs::write(&up, &big).unwrap();
    s3(&["s3", "cp", "--only-show-errors", up.to_str().unwrap(), "s3://bucket1/big.bin"]);
    assert!(std::fs::read(store.path().join("data/bucket1/big.bin")).unwrap() == big, "multipart upload");
    s3(&["s3", "cp", "--only-show-errors", "s3://bucket1/big.bin", down.to_str().unwrap()]);
    assert!(std::fs::read(&down).unwrap() == big, "download");
    s3(&["s3", "cp", "s3://bucket1/dir/f x.txt", "s3://bucket1/copy.txt"]);
    s3(&["s3", "rm", "s3://bucket1/", "--recursive"]);
    assert_eq!(s3(&["s3", "ls", "s3://bucket1/", "--recursive"]).trim(), "");
    // boto3: V1 paging, an unserved subresource, a web page's request, multipart listings.
    let checked = python(&["tests/e2e/clients/boto3_s3.py", &server.endpoint]);
    assert_eq!(String::from_utf8_lossy(&checked.stdout).trim(), "ok");
    // S3's own errors, as XML the CLI reads.
    let missing = client("python3")
        .args([
            "-m",
            "awscli",
            "s3api",
            "get-object",
            "--bucket",
            "bucket1",
            "--key",
            "nope",
            "/dev/null",
            "--endpoint-url",
        ])
        .arg(&server.endpoint)
        .args(["--region", "us-east-1"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&missing.stderr).contains("NoSuchKey"), "{missing:?}");
}

/// While `serve` holds the store, the CLI's reading commands and `stop` go through it
/// (the server keeps serving), and tokens are answered through it.
#[test]
fn the_cli_works_through_a_running_server() {
    let store = tempfile::tempdir().unwrap();
    let server = start(store.path(), &[]);
    let definition = r#"{"StartAt":"Nap","States":{"Nap":{"Type":"Wait","Seconds":30,"End":true}}}"#;
    let created = aws(
        &server.endpoint,
        &[
            "stepfunctions",
            "create-state-machine",
            "--name",
            "napper",
            "--role-arn",
            "arn:aws:iam::123456789012:role/r",
            "--definition",
            definition,
        ],
    );
    let machine = created["stateMachineArn"].as_str().unwrap();
    aws(&server.endpoint, &["stepfunctions", "start-execution", "--state-machine-arn", machine, "--name", "nap1"]);
    let cli = |args: &[&str]| {
        crate::sfnlite().arg("--no-config").arg("--store").arg(store.path()).args(args).output().unwrap()
    };
    let listed = cli(&["executions", "list", "--format", "json"]);
    assert!(listed.status.success(), "{}", String::from_utf8_lossy(&listed.stderr));
    assert_eq!(serde_json::from_slice::<Value>(&listed.stdout).unwrap()["executions"][0]["status"], "RUNNING");
    let stopped = cli(&["stop", "nap1", "--error", "Why", "--cause", "because"]);
    assert!(stopped.status.success(), "{}", String::from_utf8_lossy(&stopped.stderr));
    let record: Value = serde_json::from_slice(&stopped.stdout).unwrap();
    assert_eq!((record["status"].as_str(), record["error"].as_str()), (Some("ABORTED"), Some("Why")));
    // The server is still up and agrees.
    let described = ended(&server.endpoint, "arn:aws:states:us-east-1:123456789012:execution:napper:nap1");
    assert_eq!(described["status"], "ABORTED");
    let missing = cli(&["stop", "nope"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no execution matches 'nope'"));
}

/// An execution started through the API runs its Lambda step on a local handler, which
/// reaches S3 and the rest through this same server.
#[test]
fn api_executions_run_lambda_handlers_that_call_back_into_the_server() {
    let store = tempfile::tempdir().unwrap();
    let handler = format!("echo=python:{}/tests/e2e/data/lambdas/behaviours.py:echo", root().display());
    let server = start(store.path(), &["--lambda", &handler]);
    let script = r#"
import json, sys, time, boto3
sfn = boto3.client("stepfunctions", endpoint_url=sys.argv[1], region_name="us-east-1")
machine = sfn.create_state_machine(name="lam", roleArn="arn:aws:iam::123456789012:role/r", definition=json.dumps(
    {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
     "Parameters": {"FunctionName": "echo", "Payload": {"x": 1}}, "OutputPath": "$.Payload", "End": True}}}))["stateMachineArn"]
execution = sfn.start_execution(stateMachineArn=machine)["executionArn"]
for _ in range(200):
    described = sfn.describe_execution(executionArn=execution)
    if described["status"] != "RUNNING":
        break
    time.sleep(0.05)
print(json.dumps({"status": described["status"], "output": json.loads(described.get("output", "null"))}))
"#;
    let out = python(&["-c", script, &server.endpoint]);
    let facts: Value = serde_json::from_slice(out.stdout.trim_ascii()).unwrap();
    assert_eq!(facts["status"], "SUCCEEDED", "{facts}");
    assert_eq!(facts["output"]["event"], serde_json::json!({"x": 1}));
    assert_eq!(facts["output"]["env"]["AWS_ENDPOINT_URL_S3"], server.endpoint.as_str());
}

#[test]
fn boto3_test_state_runs_one_state_mocked_or_for_real() {
    let store = tempfile::tempdir().unwrap();
    let server = start(store.path(), &["--lambda", "echo=python:tests/e2e/data/lambdas/behaviours.py:echo"]);
    let output = python(&["tests/e2e/clients/boto3_test_state.py", &server.endpoint]);
    let facts: Value = serde_json::from_slice(output.stdout.trim_ascii()).unwrap();
    let text = |v: &Value| serde_json::from_str::<Value>(v.as_str().unwrap()).unwrap();

    let pass = &facts["pass_debug"];
    assert_eq!((pass["status"].as_str(), pass["nextState"].as_str()), (Some("SUCCEEDED"), Some("Next")), "{pass}");
    assert_eq!(text(&pass["output"]), serde_json::json!({"a": {"b": 1}, "r": {"b": 1}}));
    let inspection = &pass["inspectionData"];
    assert_eq!(text(&inspection["afterInputPath"]), serde_json::json!({"b": 1}));
    assert_eq!(text(&inspection["afterParameters"]), serde_json::json!({"b": 1}));
    assert_eq!(text(&inspection["afterResultPath"]), serde_json::json!({"a": {"b": 1}, "r": {"b": 1}}));

    // Not mocked: the Lambda handler really runs.
    let run = &facts["lambda_run"];
    assert_eq!(run["status"], "SUCCEEDED", "{run}");
    assert_eq!(text(&run["output"]), serde_json::json!({"order": 7, "result": {"answer": {"order": 7}}}));
    assert_eq!(text(&run["inspectionData"]["result"])["StatusCode"], 200);

    let retry = &facts["lambda_retry"];
    assert_eq!((retry["status"].as_str(), retry["nextState"].as_str()), (Some("RETRIABLE"), None));
    assert_eq!(
        retry["inspectionData"]["errorDetails"],
        serde_json::json!({"retryIndex": 0, "retryBackoffIntervalSeconds": 4})
    );
    let caught = &facts["lambda_caught"];
    assert_eq!((caught["status"].as_str(), caught["nextState"].as_str()), (Some("CAUGHT_ERROR"), Some("Handle")));
    assert_eq!(text(&caught["output"]), serde_json::json!({"Error": "Lambda.ServiceException", "Cause": "down"}));

    let machine = &facts["machine_state"];
    assert_eq!(text(&machine["output"]), serde_json::json!(42), "{machine}");
    assert_eq!(text(&machine["inspectionData"]["variables"]), serde_json::json!({"factor": 2, "seen": 21}));

    assert_eq!(facts["mock_on_pass"]["code"], "ValidationException");
    assert_eq!(facts["mock_on_pass"]["message"], "State type 'Pass' is not supported when a mock is specified");
    assert_eq!(facts["map_without_mock"]["code"], "InvalidDefinition");
    assert_eq!(facts["task_without_role"]["message"], "RoleArn must be specified when testing a Task state");
}

/// `--require-auth`: boto3 signed with the configured key is served, anything else refused
/// with AWS's errors; the server's own clients (a Lambda handler calling S3 and Athena with
/// boto3, `sfnlite executions list` going through the server) sign with its internal key.
#[test]
fn require_auth_checks_sigv4_signatures() {
    let store = tempfile::tempdir().unwrap();
    let config = store.path().join("sfnlite.toml");
    let handler = root().join("tests/e2e/data/lambdas/behaviours.py");
    std::fs::write(
        &config,
        format!(
            "[serve.access_keys]\nAKIDTEST = \"SFNLITE_TEST_SECRET\"\n[lambda.functions.store]\nhandler = \"python:{}:store_and_query\"\ntimeout = 60\n",
            handler.display()
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let server =
        start_with(store.path(), &["--config", config], &["--require-auth"], &[("SFNLITE_TEST_SECRET", "s3cret")]);
    let checked = python(&["tests/e2e/clients/boto3_auth.py", &server.endpoint, "AKIDTEST", "s3cret"]);
    assert_eq!(String::from_utf8_lossy(&checked.stdout).trim(), "ok");

    let sfn = |args: &[&str]| {
        let output = client("python3")
            .args(["-m", "awscli", "stepfunctions"])
            .args(args)
            .args(["--endpoint-url", &server.endpoint, "--region", "us-east-1", "--output", "json"])
            .env("AWS_ACCESS_KEY_ID", "AKIDTEST")
            .env("AWS_SECRET_ACCESS_KEY", "s3cret")
            .output()
            .unwrap();
        assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
        serde_json::from_slice::<Value>(&output.stdout).unwrap()
    };
    let definition = r#"{"StartAt":"Store","States":{"Store":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke",
        "Parameters":{"FunctionName":"store","Payload":{"bucket":"authed"}},"OutputPath":"$.Payload","End":true}}}"#;
    let machine = sfn(&[
        "create-state-machine",
        "--name",
        "authed",
        "--definition",
        definition,
        "--role-arn",
        "arn:aws:iam::123456789012:role/r",
    ]);
    let machine = machine["stateMachineArn"].as_str().unwrap().to_owned();
    let started = sfn(&["start-execution", "--state-machine-arn", &machine, "--name", "one"]);
    let execution = started["executionArn"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(60);
    let described = loop {
        let described = sfn(&["describe-execution", "--execution-arn", &execution]);
        if described["status"] != "RUNNING" || Instant::now() > deadline {
            break described;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(described["status"], "SUCCEEDED", "{described}");
    let output: Value = serde_json::from_str(described["output"].as_str().unwrap()).unwrap();
    assert_eq!(output["states"], serde_json::json!(["SUCCEEDED", "SUCCEEDED"]), "{output}");

    // The CLI finds the store held and goes through the server, signing with its key.
    let listed = Command::new(assert_cmd::cargo::cargo_bin!("sfnlite"))
        .current_dir(root())
        .args(["--no-config", "--store"])
        .arg(store.path())
        .args(["executions", "list"])
        .output()
        .unwrap();
    assert!(listed.status.success(), "{}", String::from_utf8_lossy(&listed.stderr));
    assert!(String::from_utf8_lossy(&listed.stdout).contains("one"), "{}", String::from_utf8_lossy(&listed.stdout));
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(store.path().join("endpoint")).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600, "the endpoint file holds a secret");
}

/// `run` and `resume` while `serve` holds the store: the execution runs in the server
/// (recorded there like any other) and is reported as a local run reports it.
#[test]
fn run_and_resume_go_through_a_running_server() {
    let store = tempfile::tempdir().unwrap();
    let server = start(store.path(), &[]);
    let sfnlite = |args: &[&str]| {
        Command::new(assert_cmd::cargo::cargo_bin!("sfnlite"))
            .current_dir(root())
            .args(["--no-config", "--store"])
            .arg(store.path())
            .args(args)
            .output()
            .unwrap()
    };
    let file = store.path().join("greet.asl.json");
    let definition = |greeting: &str| {
        format!(
            r#"{{"StartAt":"Nap","States":{{"Nap":{{"Type":"Wait","Seconds":1,"Next":"Greet"}},
            "Greet":{{"Type":"Pass","Parameters":{{"greeting":"{greeting}","name.$":"$.name"}},"End":true}}}}}}"#
        )
    };
    std::fs::write(&file, definition("hello")).unwrap();
    let file = file.to_str().unwrap();
    let ran = sfnlite(&["run", file, "--input", r#"{"name":"ada"}"#, "--name", "first", "--format", "json"]);
    assert!(ran.status.success(), "{}", String::from_utf8_lossy(&ran.stderr));
    assert!(String::from_utf8_lossy(&ran.stderr).contains("held by sfnlite serve"));
    let report: Value = serde_json::from_slice(&ran.stdout).unwrap();
    assert_eq!(report["status"], "SUCCEEDED");
    assert_eq!(report["output"], serde_json::json!({"greeting": "hello", "name": "ada"}));
    assert_eq!(report["executionArn"], "arn:aws:states:us-east-1:123456789012:execution:greet:first");
    // A changed definition updates the server's state machine of the same name.
    std::fs::write(store.path().join("greet.asl.json"), definition("bonjour")).unwrap();
    let again = sfnlite(&["run", file, "--input", r#"{"name":"ada"}"#]);
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    let output: Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(output["greeting"], "bonjour");
    // An output nested deeper than serde_json's default limit (128) comes back whole.
    let states: Vec<String> = (0..200)
        .map(|i| {
            let next = if i < 199 { format!(r#""Next":"S{}""#, i + 1) } else { r#""End":true"#.to_owned() };
            format!(r#""S{i}":{{"Type":"Pass","Parameters":{{"a.$":"$"}},{next}}}"#)
        })
        .collect();
    let deep = store.path().join("deep.asl.json");
    std::fs::write(&deep, format!(r#"{{"StartAt":"S0","States":{{{}}}}}"#, states.join(","))).unwrap();
    let ran = sfnlite(&["run", deep.to_str().unwrap(), "--input", r#"{"x":1}"#]);
    assert!(ran.status.success(), "{}", String::from_utf8_lossy(&ran.stderr));
    let printed = String::from_utf8_lossy(&ran.stdout);
    assert_eq!(printed.matches(r#""a":"#).count(), 200, "{printed}");
    assert!(printed.contains(r#""x": 1"#), "{printed}");
    // The history is the server's, readable from here too.
    let history = sfnlite(&["history", "first", "--format", "json"]);
    assert!(history.status.success(), "{}", String::from_utf8_lossy(&history.stderr));
    assert!(String::from_utf8_lossy(&history.stdout).contains("WaitStateExited"));
    // EXPRESS: StartSyncExecution on a state machine of that type.
    let express = sfnlite(&[
        "run",
        file,
        "--type",
        "express",
        "--state-machine-name",
        "greet-express",
        "--input",
        r#"{"name":"cy"}"#,
    ]);
    assert!(express.status.success(), "{}", String::from_utf8_lossy(&express.stderr));
    assert_eq!(serde_json::from_slice::<Value>(&express.stdout).unwrap()["name"], "cy");
    let same_name = sfnlite(&["run", file, "--type", "express"]);
    assert_eq!(same_name.status.code(), Some(2), "greet is STANDARD: {}", String::from_utf8_lossy(&same_name.stderr));
    // What only a local run can do is refused, with the reason.
    let virtual_run = sfnlite(&["run", file, "--clock", "virtual"]);
    assert_eq!(virtual_run.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&virtual_run.stderr).contains("--clock virtual"));
    let flagged = sfnlite(&["--lambda", "f=python:x.py:h", "run", file]);
    assert_eq!(flagged.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&flagged.stderr).contains("--lambda"),
        "{}",
        String::from_utf8_lossy(&flagged.stderr)
    );
    let ended = sfnlite(&["resume", "first"]);
    assert_eq!(ended.status.code(), Some(2), "first has ended: {}", String::from_utf8_lossy(&ended.stderr));
    // resume: waits for an execution the server is running and reports it.
    let machine = "arn:aws:states:us-east-1:123456789012:stateMachine:greet";
    let _ = aws(
        &server.endpoint,
        &[
            "stepfunctions",
            "start-execution",
            "--state-machine-arn",
            machine,
            "--name",
            "later",
            "--input",
            r#"{"name":"bob"}"#,
        ],
    );
    let resumed = sfnlite(&["resume", "later"]);
    assert!(resumed.status.success(), "{}", String::from_utf8_lossy(&resumed.stderr));
    let output: Value = serde_json::from_slice(&resumed.stdout).unwrap();
    assert_eq!(output["name"], "bob");
}

/// The AWS SDK for Rust against `serve`: sfnlite's own AWS backend (aws-sdk-s3 and
/// aws-sdk-athena, SigV4-signed, path-style) runs S3 and Athena tasks against another
/// sfnlite serving with `--require-auth`.
#[test]
fn the_aws_sdk_for_rust_runs_tasks_against_serve() {
    let store = tempfile::tempdir().unwrap();
    let config = store.path().join("sfnlite.toml");
    std::fs::write(&config, "[serve.access_keys]\nAKIDRUST = \"SFNLITE_RUST_SECRET\"\n").unwrap();
    let server = start_with(
        store.path(),
        &["--config", config.to_str().unwrap()],
        &["--require-auth"],
        &[("SFNLITE_RUST_SECRET", "rust-secret")],
    );
    // The table's data is already in the server's S3 (its data root).
    std::fs::create_dir_all(store.path().join("data/lake/t")).unwrap();
    std::fs::write(store.path().join("data/lake/t/part.csv"), "1,ada\n2,bob\n").unwrap();
    let definition = store.path().join("sdk.asl.json");
    std::fs::write(
        &definition,
        r#"{"StartAt":"Bucket","States":{
        "Bucket":{"Type":"Task","Resource":"arn:aws:states:::aws-sdk:s3:createBucket","Parameters":{"Bucket":"rusty"},"ResultPath":null,"Next":"Put"},
        "Put":{"Type":"Task","Resource":"arn:aws:states:::aws-sdk:s3:putObject",
          "Parameters":{"Bucket":"rusty","Key":"doc.json","Body":{"n":1}},"ResultPath":null,"Next":"Get"},
        "Get":{"Type":"Task","Resource":"arn:aws:states:::aws-sdk:s3:getObject",
          "Parameters":{"Bucket":"rusty","Key":"doc.json"},"ResultSelector":{"body.$":"$.Body"},"ResultPath":"$.got","Next":"Table"},
        "Table":{"Type":"Task","Resource":"arn:aws:states:::athena:startQueryExecution.sync",
          "Parameters":{"QueryString":"CREATE EXTERNAL TABLE IF NOT EXISTS people (id int, name string) ROW FORMAT DELIMITED FIELDS TERMINATED BY ',' LOCATION 's3://lake/t/'",
            "WorkGroup":"primary"},"ResultPath":null,"Next":"Query"},
        "Query":{"Type":"Task","Resource":"arn:aws:states:::athena:startQueryExecution.sync",
          "Parameters":{"QueryString":"SELECT name FROM people ORDER BY id DESC","WorkGroup":"primary"},"ResultPath":"$.query","Next":"Rows"},
        "Rows":{"Type":"Task","Resource":"arn:aws:states:::athena:getQueryResults",
          "Parameters":{"QueryExecutionId.$":"$.query.QueryExecution.QueryExecutionId"},"ResultSelector":{"rows.$":"$.ResultSet.Rows"},
          "ResultPath":"$.results","End":true}}}"#,
    )
    .unwrap();
    let output = Command::new(assert_cmd::cargo::cargo_bin!("sfnlite"))
        .current_dir(root())
        .args(["--no-config", "--ephemeral", "--backend", "aws", "--region", "us-east-1", "--force-path-style"])
        .args(["--endpoint-url", &server.endpoint, "run"])
        .arg(&definition)
        .env("AWS_ACCESS_KEY_ID", "AKIDRUST")
        .env("AWS_SECRET_ACCESS_KEY", "rust-secret")
        .env_remove("AWS_PROFILE")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let out: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(out["got"]["body"], r#"{"n":1}"#, "{out}");
    let rows = out["results"]["rows"].as_array().unwrap();
    let names: Vec<&str> = rows.iter().filter_map(|r| r["Data"][0]["VarCharValue"].as_str()).collect();
    assert_eq!(names, ["name", "bob", "ada"]);
}

/// boto3 reads a distributed Map's Map Run through serve (ListMapRuns, DescribeMapRun,
/// ListExecutions by mapRunArn); a tolerated child failure leaves the Map succeeding with
/// the child's error output in its place.
#[test]
fn boto3_reads_map_runs() {
    let store = tempfile::tempdir().unwrap();
    let server = start(store.path(), &[]);
    let output = python(&["tests/e2e/clients/boto3_map_runs.py", &server.endpoint]);
    let facts: Value = serde_json::from_slice(output.stdout.trim_ascii()).unwrap();
    assert_eq!(facts["map_runs"], 1);
    assert!(facts["map_run_arn"].as_str().unwrap().contains(":mapRun:fanout/fan:"), "{facts}");
    assert_eq!(facts["status"], "SUCCEEDED", "one failure in four is within 50%: {facts}");
    assert_eq!(facts["items"]["succeeded"], 3);
    assert_eq!(facts["items"]["failed"], 1);
    assert_eq!(facts["children"], serde_json::json!(["FAILED", "SUCCEEDED", "SUCCEEDED", "SUCCEEDED"]));
    assert_eq!(facts["child_map_run"], facts["map_run_arn"]);
    assert_eq!(facts["child_error"], "Three");
    // A failed child stands in the Map's output in AWS's NONE form (its record).
    assert_eq!(
        (facts["output"][2]["Error"].as_str(), facts["output"][2]["Status"].as_str()),
        (Some("Three"), Some("FAILED"))
    );
    assert_eq!(facts["output"][3], 4);
}
