//! The shipped definitions under `definitions/`: every example validates and runs, the Athena
//! seeds (A: `athena`, B: `athena-paged`, C: `athena-async-callback`) with their handlers or
//! mocks, virtual time, the JSONata example, and seed E (`athena-scheduled`, its Lambda
//! variant `athena-scheduled-lambda`) run and on its schedule.

use serde_json::Value;

use crate::{root, sfnlite, temp_file};

#[test]
fn every_example_validates_and_runs() {
    let dir = root().join("definitions");
    let mut ran = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".asl.json")) else {
            continue;
        };
        let mut input = dir.join(format!("{name}.input.json"));
        assert!(input.exists(), "{name}.asl.json needs {name}.input.json");
        sfnlite().args(["validate"]).arg(&path).assert().success();
        // An example that calls back (seed C) calls a server of this test's.
        let scratch = tempfile::tempdir().unwrap();
        let text = std::fs::read_to_string(&input).unwrap();
        let server = text.contains("CallbackUrl").then(callback_server);
        if let Some((url, _)) = &server {
            let mut value: Value = serde_json::from_str(&text).unwrap();
            value["ApiRequest"]["CallbackUrl"] = Value::String(url.clone());
            input = temp_file(&scratch, "input.json", &value.to_string());
        }
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
        if let Some((_, called)) = server {
            assert!(called.join().unwrap().0["Status"]["State"] == "SUCCEEDED", "{name} called back");
        }
        ran += 1;
    }
    assert!(ran >= 2, "found {ran} examples");
}

/// A loopback server that takes one POST (a callback), downloads the presigned URL it
/// carries while the caller waits for the answer, then answers 200: its URL, and the
/// posted JSON with the downloaded bytes.
pub(super) fn callback_server() -> (String, std::thread::JoinHandle<(Value, Vec<u8>)>) {
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/callback", listener.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let posted: Value = serde_json::from_str(&crate::HttpRequest::read(&stream).body).unwrap();
        let downloaded = match posted["QueryResult"]["PresignedUrl"].as_str() {
            Some(link) => http_get(link),
            None => Vec::new(),
        };
        stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").unwrap();
        (posted, downloaded)
    });
    (url, handle)
}

/// GET over plain HTTP/1.1; the body of a 200 answer (panics otherwise).
fn http_get(url: &str) -> Vec<u8> {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").expect("an http URL");
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&response[..split]);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    response[split + 4..].to_vec()
}

/// Seed C unchanged: the query runs on the embedded Athena, its callback Lambda (a Python
/// handler) presigns the result CSV on sfnlite's S3 endpoint and POSTs the link; the link
/// downloads the CSV while the execution runs.
#[test]
fn seed_c_calls_back_with_a_presigned_link_to_its_result() {
    let (url, called) = callback_server();
    let input = std::fs::read_to_string(root().join("definitions/athena-async-callback.input.json")).unwrap();
    let mut input: Value = serde_json::from_str(&input).unwrap();
    input["ApiRequest"]["CallbackUrl"] = Value::String(url);
    let data = tempfile::tempdir().unwrap();
    let out = sfnlite()
        .env("SFNLITE_DATA_DIR", data.path())
        .args(["run", "definitions/athena-async-callback.asl.json", "--format", "json", "--input", &input.to_string()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let (posted, downloaded) = called.join().unwrap();
    // The execution's output (OutputPath $.Payload) is what the handler returned and posted.
    assert_eq!(report["output"], posted);
    assert_eq!(posted["Status"]["State"], "SUCCEEDED");
    assert!(posted["Status"]["SubmissionDateTime"].is_i64(), "epoch milliseconds, as Step Functions passes them");
    assert_eq!(posted["QueryResult"]["ExpiredIn"], 3600);
    let link = posted["QueryResult"]["PresignedUrl"].as_str().unwrap();
    for part in
        ["X-Amz-Algorithm=AWS4-HMAC-SHA256", "X-Amz-Expires=3600", "X-Amz-Signature=", "/sfnlite-athena-results/"]
    {
        assert!(link.contains(part), "{link}");
    }
    let id = link.split("/sfnlite-athena-results/").nth(1).unwrap().split(".csv").next().unwrap();
    let csv = std::fs::read(data.path().join("sfnlite-athena-results").join(format!("{id}.csv"))).unwrap();
    assert_eq!(downloaded, csv, "the link downloads the result file");
    assert!(String::from_utf8_lossy(&csv).starts_with("\"date\",\"status\",\"uri\"\n"));
    assert_eq!(String::from_utf8_lossy(&csv).lines().count(), 11);
}

/// Seed A with its upstream function's behaviour (Node.js: logs the event, returns
/// nothing): the envelope's Payload is null, as on AWS.
#[test]
fn seed_a_with_the_faithful_node_handler_returns_a_null_payload() {
    let out = sfnlite()
        .args(["--lambda", "process-results=node:definitions/lambdas/process_results.mjs:lambdaHandler"])
        .args(["run", "definitions/athena.asl.json", "--input-file", "definitions/athena.input.json"])
        .args(["--format", "json", "--name", "node"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["output"]["Payload"], Value::Null);
    assert_eq!(report["output"]["StatusCode"], 200);
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

fn elapsed_millis(report: &Value) -> i64 {
    let parse = |key: &str| {
        let text = report[key].as_str().unwrap();
        (sfnlite_states::timestamp::parse_iso8601(text).unwrap() / 1_000_000) as i64
    };
    parse("stopDate") - parse("startDate")
}

#[test]
fn athena_example_fails_when_the_query_fails() {
    let out = sfnlite()
        .args(["run", "definitions/athena.asl.json", "--input-file", "definitions/athena.input.json"])
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
    // AWS's words and location (recorded): the state, not its QueryLanguage field.
    assert!(
        text.contains(
            "at /States/B: 'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine"
        ),
        "{text}"
    );
    let jsonpath = temp_file(
        &dir,
        "path.asl.json",
        r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "Output": {}, "End": true}}}"#,
    );
    let out = sfnlite().arg("validate").arg(&jsonpath).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("'Output' is only supported when QueryLanguage is JSONata"));
}

/// The CSV files a data root holds under `pizza-sfo/athena_output/`.
fn athena_outputs(data: &std::path::Path) -> Vec<std::path::PathBuf> {
    let dir = data.join("pizza-sfo/athena_output");
    let mut csvs: Vec<_> = std::fs::read_dir(dir)
        .map(|entries| {
            entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "csv")).collect()
        })
        .unwrap_or_default();
    csvs.sort();
    csvs
}

/// Seed E (derived native definition and the Lambda variant): the execution ends as soon
/// as the query is accepted, the result CSV appears at `<OutputLocation><id>.csv`
/// afterwards (`run` waits for the embedded Athena before it exits), and a failing query
/// does not fail the execution.
#[test]
fn seed_e_starts_its_query_without_waiting_and_a_failing_query_is_invisible() {
    let store = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let run = |file: &std::path::Path| {
        let out = sfnlite()
            .arg("--store")
            .arg(store.path())
            .env("SFNLITE_DATA_DIR", data.path())
            .arg("run")
            .arg(file)
            .args(["--input", "{}", "--format", "json"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    let expected = serde_json::json!({"statusCode": 200,
        "body": "\"Successfully ran query and saved to s3://pizza-sfo/athena_output/!\""});
    let report = run(&root().join("definitions/athena-scheduled.asl.json"));
    assert_eq!(report["output"], expected);
    let csvs = athena_outputs(data.path());
    assert_eq!(csvs.len(), 1, "{csvs:?}");
    let csv = std::fs::read_to_string(&csvs[0]).unwrap();
    assert!(csv.starts_with("\"order_details_id\",\"order_id\",\"pizza_id\",\"quantity\"\n"), "{csv}");
    assert_eq!(csv.lines().count(), 1 + 82);
    // The Lambda variant: the same, through the handler's boto3 client.
    let report = run(&root().join("definitions/athena-scheduled-lambda.asl.json"));
    assert_eq!(report["output"], expected);
    assert_eq!(athena_outputs(data.path()).len(), 2);
    // A query that fails: the execution still succeeds, and no result file appears.
    let scratch = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(root().join("definitions/athena-scheduled.asl.json")).unwrap();
    let failing = temp_file(&scratch, "failing.asl.json", &text.replace("FROM order_details", "FROM no_such_table"));
    let report = run(&failing);
    assert_eq!(report["status"], "SUCCEEDED");
    assert_eq!(athena_outputs(data.path()).len(), 2, "the failed query wrote no result");
}

/// Seed E on its schedule: the repository's sfnlite.toml declares it; `sfnlite scheduler`
/// registers the definitions as state machines and runs them (three hours of an hourly
/// schedule on the virtual clock, from a fixed time whose window holds the Lambda variant's
/// daily 08:00 in Los Angeles), and `serve` runs it too.
#[test]
fn seed_e_runs_on_its_schedule() {
    let store = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let out = sfnlite()
        .arg("--store")
        .arg(store.path())
        .env("SFNLITE_DATA_DIR", data.path())
        // 14:30 to 17:30 UTC on 2026-12-01: 08:00 PST is 16:00 UTC.
        .args(["scheduler", "--clock", "virtual", "--start", "2026-12-01T14:30:00Z", "--for", "3h"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stderr.matches("schedule athena-scheduled (").count(), 3, "{stderr}");
    assert_eq!(stderr.matches("schedule athena-scheduled-lambda (").count(), 1, "{stderr}");
    assert!(stderr.contains("next: schedule"), "{stderr}");
    assert_eq!(athena_outputs(data.path()).len(), 4, "each run's query wrote its result");
    let listed = sfnlite().arg("--store").arg(store.path()).args(["schedules", "list"]).output().unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.contains("athena-scheduled-lambda") && listed.contains("cron(0 8 * * ? *)"), "{listed}");

    // serve: the hourly schedule's first run is at once (a rate starts when it is created).
    let served = tempfile::tempdir().unwrap();
    let _server = crate::serve::start_with(served.path(), &["--config", "sfnlite.toml"], &[], &[]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let csvs = athena_outputs(&served.path().join("data"));
        if !csvs.is_empty() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "serve never ran seed E's schedule");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// Seed D: its five Lambdas run as local handlers (boto3 against sfnlite's S3 and Athena):
/// the SQL files are read from S3, the two queries run in parallel, their CSVs are
/// rewritten and zipped with a manifest.
#[test]
fn seed_d_runs_its_queries_in_parallel_and_zips_them() {
    let store = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let out = sfnlite()
        .arg("--store")
        .arg(store.path())
        .env("SFNLITE_DATA_DIR", data.path())
        .args(["run", "definitions/athena-parallel.asl.json", "--input-file", "definitions/athena-parallel.input.json"])
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let output = &report["output"];
    assert_eq!(output["monitoring_result"]["Payload"]["status"], "SUCCEEDED", "{output}");
    let zip = &output["zip_result"]["Payload"];
    assert_eq!((zip["status"].as_str(), zip["file_count"].as_u64()), (Some("success"), Some(2)), "{zip}");
    let key = zip["output_key"].as_str().unwrap();
    let archive = std::fs::read(data.path().join("sfnlite-reports").join(key)).unwrap();
    // The zip's central directory names both rewritten CSVs.
    let names = String::from_utf8_lossy(&archive);
    assert!(names.contains("test_report.csv") && names.contains("users_report.csv"), "{key}");
    let csvs = &output["monitoring_result"]["Payload"]["formatted_csv_locations"];
    let first = csvs[0].as_str().unwrap().strip_prefix("s3://sfnlite-reports/").unwrap();
    let csv = std::fs::read_to_string(data.path().join("sfnlite-reports").join(first)).unwrap();
    assert!(
        csv.starts_with("status,requests\r\n") || csv.starts_with("pizza_id,sold\r\n"),
        "quotes gone, CRLF: {csv:?}"
    );
}

/// Seed D's defects, reproduced: an "optional" input that is required, and the endless
/// monitoring loop once ExecuteSingleQuery reports a query RUNNING (its default 3 s
/// timeout), on the virtual clock until stopped.
#[test]
fn seed_d_defects_are_reproduced() {
    let store = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let mut input: Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("definitions/athena-parallel.input.json")).unwrap())
            .unwrap();
    input.as_object_mut().unwrap().remove("database");
    let missing = temp_file(&scratch, "missing.json", &input.to_string());
    let out = sfnlite()
        .arg("--store")
        .arg(store.path())
        .env("SFNLITE_DATA_DIR", data.path())
        .args(["run", "definitions/athena-parallel.asl.json", "--input-file"])
        .arg(&missing)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("States.Runtime") && stderr.contains("$.database"), "{stderr}");

    let looping = std::process::Command::new(assert_cmd::cargo::cargo_bin!("sfnlite"))
        .current_dir(root())
        .arg("--store")
        .arg(store.path())
        .env("SFNLITE_DATA_DIR", data.path())
        .args(["--lambda", "ExecuteSingleQuery=python:definitions/lambdas/execute_single_query.py:lambda_handler"])
        .args(["run", "definitions/athena-parallel.asl.json", "--input-file", "definitions/athena-parallel.input.json"])
        .args(["--name", "loop"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    crate::wait_for_holder(store.path(), looping.id(), std::time::Duration::from_millis(300));
    std::thread::sleep(std::time::Duration::from_secs(4));
    let stopped = sfnlite().arg("--store").arg(store.path()).args(["stop", "loop"]).output().unwrap();
    assert!(stopped.status.success(), "{}", String::from_utf8_lossy(&stopped.stderr));
    let _ = looping.wait_with_output();
    let history =
        sfnlite().arg("--store").arg(store.path()).args(["history", "loop", "--format", "json"]).output().unwrap();
    let history: Value = serde_json::from_slice(&history.stdout).unwrap();
    let waits = history["events"].as_array().unwrap().iter().filter(|e| e["type"] == "WaitStateEntered").count();
    assert!(waits >= 3, "the monitoring loop went round {waits} times");
    assert_eq!(history["events"].as_array().unwrap().last().unwrap()["type"], "ExecutionAborted");
}

/// Seed D run with `input` on `store` and the data root `data` (its JSON report).
fn run_seed_d(store: &std::path::Path, data: &std::path::Path, input: &std::path::Path) -> std::process::Output {
    sfnlite()
        .arg("--store")
        .arg(store)
        .env("SFNLITE_DATA_DIR", data)
        .args(["run", "definitions/athena-parallel.asl.json", "--input-file"])
        .arg(input)
        .args(["--format", "json"])
        .output()
        .unwrap()
}

/// A real SFTP server on loopback (Debian's sshd, key authentication, a free port), for as
/// long as the value lives.
struct SftpServer {
    child: std::process::Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Drop for SftpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl SftpServer {
    fn start() -> SftpServer {
        let dir = tempfile::tempdir().unwrap();
        let path = |name: &str| dir.path().join(name);
        for key in ["host_key", "user_key"] {
            let made = std::process::Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(path(key))
                .status()
                .expect("ssh-keygen runs (.ci/run installs openssh-server)");
            assert!(made.success());
        }
        std::fs::copy(path("user_key.pub"), path("authorized_keys")).unwrap();
        std::fs::create_dir_all(path("uploads")).unwrap();
        // sshd's privilege separation directory (Debian's package makes it at boot).
        let _ = std::fs::create_dir_all("/run/sshd");
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nAuthorizedKeysFile {}\nPasswordAuthentication no\n\
             KbdInteractiveAuthentication no\nPubkeyAuthentication yes\nPermitRootLogin prohibit-password\nStrictModes no\n\
             UsePAM no\nPidFile {}\nSubsystem sftp internal-sftp\n",
            path("host_key").display(),
            path("authorized_keys").display(),
            path("sshd.pid").display()
        );
        std::fs::write(path("sshd_config"), config).unwrap();
        let child = std::process::Command::new("/usr/sbin/sshd")
            .args(["-D", "-e", "-f"])
            .arg(path("sshd_config"))
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("sshd starts (.ci/run installs openssh-server)");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "sshd never listened on {port}");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        SftpServer { child, port, dir }
    }
}

/// Seed D with its transporter: the zip goes over SFTP to a real SFTP server on loopback
/// (key authentication), under its full key, remote folders made as needed.
#[test]
fn seed_d_sends_its_zip_over_sftp() {
    let server = SftpServer::start();
    let store = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let mut input: Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("definitions/athena-parallel.input.json")).unwrap())
            .unwrap();
    let user = String::from_utf8(std::process::Command::new("id").arg("-un").output().unwrap().stdout).unwrap();
    input["transporter"] = serde_json::json!({"type": "sftp", "config": {
        "sftp_host": "127.0.0.1", "sftp_port": server.port.to_string(), "sftp_user": user.trim(),
        "sftp_key_file": server.dir.path().join("user_key"), "sftp_path": server.dir.path().join("uploads")}});
    let file = temp_file(&scratch, "input.json", &input.to_string());
    let out = run_seed_d(store.path(), data.path(), &file);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let transport = &report["output"]["transport_result"]["Payload"];
    assert_eq!(transport["status"], "success", "{transport}");
    let key = report["output"]["zip_result"]["Payload"]["output_key"].as_str().unwrap();
    let sent = std::fs::read(server.dir.path().join("uploads").join(key)).unwrap();
    let zipped = std::fs::read(data.path().join("sfnlite-reports").join(key)).unwrap();
    assert_eq!(sent, zipped, "the server received the zip");

    // A transport that fails ends in TransportFailed, its error and cause the handler's.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    input["transporter"]["config"]["sftp_port"] = serde_json::json!(closed.to_string());
    let file = temp_file(&scratch, "closed.json", &input.to_string());
    let out = run_seed_d(store.path(), data.path(), &file);
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["status"], "FAILED");
    assert!(!report["error"].as_str().unwrap_or_default().is_empty() && report["cause"].is_string(), "{report}");
}

/// Seed E's Lambda variant on its schedule (08:00 in Los Angeles, 16:00 UTC in December):
/// under `sfnlite scheduler` its handler reaches the embedded Athena through the
/// scheduler's loopback endpoint; and while a scheduler holds the store, other commands
/// reach it through that endpoint.
#[test]
fn seed_e_lambda_variant_runs_under_the_scheduler() {
    let store = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let out = sfnlite()
        .arg("--store")
        .arg(store.path())
        .env("SFNLITE_DATA_DIR", data.path())
        .args(["scheduler", "--clock", "virtual", "--start", "2026-12-01T15:30:00Z", "--for", "1h"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        stderr.matches("schedule athena-scheduled-lambda (2026-12-01T16:00:00.000Z): started").count(),
        1,
        "{stderr}"
    );
    let listed =
        sfnlite().arg("--store").arg(store.path()).args(["executions", "list", "--format", "json"]).output().unwrap();
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    let lambda_run = listed["executions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "athena-scheduled-lambda-20261201T160000Z")
        .expect("the Lambda variant ran")
        .clone();
    assert_eq!(lambda_run["status"], "SUCCEEDED", "{lambda_run}");
    assert!(athena_outputs(data.path()).len() >= 2, "the handler's query wrote its result too");

    // A scheduler on the real clock holds the store; `schedules list` goes through it.
    let mut running = std::process::Command::new(assert_cmd::cargo::cargo_bin!("sfnlite"))
        .current_dir(root())
        .arg("--store")
        .arg(store.path())
        .env("SFNLITE_DATA_DIR", data.path())
        .args(["scheduler", "--for", "30s"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    crate::wait_for_holder(store.path(), running.id(), std::time::Duration::from_millis(500));
    let listed = sfnlite().arg("--store").arg(store.path()).args(["schedules", "list"]).output().unwrap();
    let _ = running.kill();
    let _ = running.wait();
    assert!(listed.status.success(), "{}", String::from_utf8_lossy(&listed.stderr));
    assert!(String::from_utf8_lossy(&listed.stdout).contains("athena-scheduled-lambda"));
}
