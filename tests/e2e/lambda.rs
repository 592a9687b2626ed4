//! Lambda tasks run by local handlers (`tests/e2e/data/lambdas/`): the envelope, the
//! context and environment, warm workers, errors as AWS reports them (raised, timed out,
//! crashed, unserialisable), Node.js and `cmd:` handlers, function ARNs as `Resource`,
//! handlers calling sfnlite's S3 and Athena with boto3, logs, and refusals.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::{sfnlite, temp_file};

const HANDLERS: &str = "tests/e2e/data/lambdas";

/// A config that maps functions to the test handlers (`[lambda.functions.NAME]` bodies).
fn config(dir: &tempfile::TempDir, functions: &[(&str, &str)]) -> PathBuf {
    let root = crate::root();
    let mut text = String::new();
    for (name, body) in functions {
        text.push_str(&format!(
            "[lambda.functions.{name}]\n{}\n",
            body.replace("{H}", &format!("{}/{HANDLERS}", root.display()))
        ));
    }
    temp_file(dir, "sfnlite.toml", &text)
}

fn task(function: &str, payload: Value) -> Value {
    json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
           "Parameters": {"FunctionName": function, "Payload": payload}, "End": true})
}

/// Runs `definition` with `config` on the virtual clock; the JSON report and the store.
fn run(dir: &tempfile::TempDir, config: &Path, definition: Value, input: Value) -> (Value, PathBuf) {
    let file = temp_file(dir, "machine.asl.json", &definition.to_string());
    let store = dir.path().join("store");
    let out = sfnlite()
        .arg("--config")
        .arg(config)
        .arg("--store")
        .arg(&store)
        .arg("run")
        .arg(&file)
        .args(["--input", &input.to_string(), "--clock", "virtual", "--format", "json"])
        .output()
        .unwrap();
    let report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {:?} {}", out.status, String::from_utf8_lossy(&out.stderr)));
    (report, store)
}

fn history(store: &Path, execution: &str) -> Vec<Value> {
    let out = sfnlite().arg("--store").arg(store).args(["history", execution, "--format", "json"]).output().unwrap();
    let history: Value = serde_json::from_slice(&out.stdout).unwrap();
    history["events"].as_array().unwrap().clone()
}

#[test]
fn python_handler_gets_lambda_context_and_stays_warm() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(
        &dir,
        &[(
            "echo",
            "handler = \"python:{H}/behaviours.py:echo\"\nmemory_size = 256\nenvironment = { GREETING = \"hi\" }",
        )],
    );
    let definition = json!({"StartAt": "Each", "States": {"Each": {
        "Type": "Map", "MaxConcurrency": 1, "End": true,
        "ItemProcessor": {"StartAt": "Echo", "States": {"Echo": task("echo", json!({"n.$": "$"}))}}}}});
    let (report, _) = run(&dir, &config, definition, json!([1, 2, 3]));
    assert_eq!(report["status"], "SUCCEEDED", "{report}");
    let outputs = report["output"].as_array().unwrap();
    // One warm worker served the three invocations in turn.
    let invocations: Vec<&Value> = outputs.iter().map(|o| &o["Payload"]["invocation"]).collect();
    assert_eq!(invocations, [&json!(1), &json!(2), &json!(3)]);
    assert!(outputs.iter().all(|o| o["Payload"]["pid"] == outputs[0]["Payload"]["pid"]));
    let first = &outputs[0];
    assert_eq!(first["StatusCode"], 200);
    assert_eq!(first["ExecutedVersion"], "$LATEST");
    assert_eq!(first["Payload"]["event"], json!({"n": 1}));
    let context = &first["Payload"]["context"];
    assert_eq!(context["function_name"], "echo");
    assert_eq!(context["function_version"], "$LATEST");
    assert_eq!(context["memory_limit_in_mb"], "256");
    assert_eq!(context["invoked_function_arn"], "arn:aws:lambda:us-east-1:123456789012:function:echo");
    assert_eq!(context["log_group_name"], "/aws/lambda/echo");
    assert_eq!(context["aws_request_id"], first["SdkResponseMetadata"]["RequestId"]);
    let remaining = context["remaining"].as_i64().unwrap();
    assert!(remaining > 0 && remaining <= 3000, "{remaining}");
    let env = &first["Payload"]["env"];
    assert_eq!(env["GREETING"], "hi");
    assert_eq!(env["AWS_REGION"], "us-east-1");
    assert!(env["AWS_ENDPOINT_URL_S3"].as_str().unwrap().starts_with("http://127.0.0.1:"), "{env}");
    let code_dir = crate::root().join(HANDLERS).display().to_string();
    assert_eq!(env["LAMBDA_TASK_ROOT"], code_dir.as_str());
    assert_eq!(first["Payload"]["cwd"], code_dir.as_str());
    let length = first["Payload"].to_string().len().to_string();
    assert_eq!(first["SdkHttpMetadata"]["HttpHeaders"]["Content-Length"], length.as_str());
}

#[test]
fn handler_errors_are_named_and_caused_as_aws_reports_them() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(&dir, &[("fail", "handler = \"python:{H}/behaviours.py:fail\"")]);
    let mut call = task("fail", json!({"id": 7}));
    call["Catch"] = json!([{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Caught"}]);
    call.as_object_mut().unwrap().remove("End");
    call["Next"] = json!("Caught");
    let definition = json!({"StartAt": "Call", "States": {"Call": call, "Caught": {"Type": "Pass", "End": true}}});
    let (report, store) = run(&dir, &config, definition, json!({}));
    assert_eq!(report["status"], "SUCCEEDED", "{report}");
    assert_eq!(report["output"]["error"]["Error"], "OrderNotFound");
    let cause: Value = serde_json::from_str(report["output"]["error"]["Cause"].as_str().unwrap()).unwrap();
    let keys: Vec<&String> = cause.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["errorMessage", "errorType", "requestId", "stackTrace"]);
    assert_eq!(cause["errorMessage"], "order 7 not found");
    assert_eq!(cause["errorType"], "OrderNotFound");
    let frame = cause["stackTrace"][0].as_str().unwrap();
    assert!(
        frame.contains("behaviours.py") && frame.contains("in fail") && frame.contains("raise OrderNotFound"),
        "{frame}"
    );
    let events = history(&store, report["name"].as_str().unwrap());
    let failed = events.iter().find(|e| e["type"] == "TaskFailed").expect("a TaskFailed event");
    assert_eq!(failed["taskFailedEventDetails"]["resourceType"], "lambda");
    assert_eq!(failed["taskFailedEventDetails"]["resource"], "invoke");
    assert_eq!(failed["taskFailedEventDetails"]["error"], "OrderNotFound");
}

#[test]
fn timeouts_crashes_and_bad_results_fail_the_task_and_workers_are_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(
        &dir,
        &[
            ("slow", "handler = \"python:{H}/behaviours.py:slow\"\ntimeout = 1"),
            ("crash", "handler = \"python:{H}/behaviours.py:crash_once\""),
            ("unserialisable", "handler = \"python:{H}/behaviours.py:unserialisable\""),
            ("text", "handler = \"cmd:echo not json\""),
        ],
    );
    // A branch whose task's error is caught and becomes the branch's output.
    let caught = |state: &str, function: &str, payload: Value| {
        let mut t = task(function, payload);
        t["Catch"] = json!([{"ErrorEquals": ["States.ALL"], "Next": format!("{state} caught")}]);
        t.as_object_mut().unwrap().remove("End");
        t["Next"] = json!(format!("{state} caught"));
        json!({"StartAt": state, "States": {state: t, format!("{state} caught"): {"Type": "Pass", "End": true}}})
    };
    let marker = dir.path().join("crashed").display().to_string();
    let mut crash = task("crash", json!({"marker": marker}));
    crash["Retry"] = json!([{"ErrorEquals": ["Runtime.ExitError"], "IntervalSeconds": 1, "MaxAttempts": 1}]);
    let definition = json!({"StartAt": "Fan", "States": {"Fan": {"Type": "Parallel", "End": true, "Branches": [
        caught("Slow", "slow", json!({"seconds": 30})),
        {"StartAt": "Crash", "States": {"Crash": crash}},
        caught("Unserialisable", "unserialisable", json!({})),
        caught("Text", "text", json!({}))
    ]}}});
    let started = std::time::Instant::now();
    let (report, store) = run(&dir, &config, definition, json!({}));
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "the 1 s function timeout stopped the 30 s sleep");
    assert_eq!(report["status"], "SUCCEEDED", "{report}");
    let output = report["output"].as_array().unwrap();
    assert_eq!(output[0]["Error"], "Sandbox.Timedout");
    let cause: Value = serde_json::from_str(output[0]["Cause"].as_str().unwrap()).unwrap();
    assert!(cause["errorMessage"].as_str().unwrap().ends_with("Error: Task timed out after 1.00 seconds"), "{cause}");
    assert_eq!(output[1]["Payload"]["recovered"], true);
    assert_eq!(output[2]["Error"], "Runtime.MarshalError");
    assert!(output[2]["Cause"].as_str().unwrap().contains("Object of type set is not JSON serializable"));
    assert_eq!(output[3]["Error"], "Runtime.MarshalError");
    let events = history(&store, report["name"].as_str().unwrap());
    let crashed = events
        .iter()
        .find(|e| e["type"] == "TaskFailed" && e["taskFailedEventDetails"]["error"] == "Runtime.ExitError")
        .expect("the crash is a TaskFailed");
    let cause: Value = serde_json::from_str(crashed["taskFailedEventDetails"]["cause"].as_str().unwrap()).unwrap();
    assert!(cause["errorMessage"].as_str().unwrap().ends_with("Runtime exited with error: exit status 3"), "{cause}");
}

#[test]
fn node_and_command_handlers_run_with_the_same_contract() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(
        &dir,
        &[
            ("double", "handler = \"node:{H}/node_fn.mjs:handler\""),
            ("callback", "handler = \"node:{H}/node_fn.mjs:callbackStyle\""),
            ("rejects", "handler = \"node:{H}/node_fn.mjs:rejects\""),
            (
                "sum",
                "handler = \"cmd:python3 -c 'import json,sys; e=json.load(sys.stdin); print(json.dumps({\\\"sum\\\": sum(e[\\\"n\\\"])}))'\"",
            ),
        ],
    );
    let mut rejects = task("rejects", json!({}));
    rejects["Catch"] = json!([{"ErrorEquals": ["OutOfStock"], "Next": "Done"}]);
    rejects.as_object_mut().unwrap().remove("End");
    rejects["Next"] = json!("Done");
    let definition = json!({"StartAt": "Fan", "States": {"Fan": {"Type": "Parallel", "End": true, "Branches": [
        {"StartAt": "Double", "States": {"Double": task("double", json!({"n": 21}))}},
        {"StartAt": "Callback", "States": {"Callback": task("callback", json!({"n": 5}))}},
        {"StartAt": "Rejects", "States": {"Rejects": rejects, "Done": {"Type": "Pass", "End": true}}},
        {"StartAt": "Sum", "States": {"Sum": task("sum", json!({"n": [1, 2, 3]}))}}
    ]}}});
    let (report, _) = run(&dir, &config, definition, json!({}));
    assert_eq!(report["status"], "SUCCEEDED", "{report}");
    let output = report["output"].as_array().unwrap();
    assert_eq!(output[0]["Payload"]["doubled"], 42);
    assert_eq!(output[0]["Payload"]["functionName"], "double");
    assert_eq!(output[0]["Payload"]["requestId"], output[0]["SdkResponseMetadata"]["RequestId"]);
    assert_eq!(output[1]["Payload"], json!({"via": "callback", "n": 5}));
    assert_eq!(output[2]["Error"], "OutOfStock");
    let cause: Value = serde_json::from_str(output[2]["Cause"].as_str().unwrap()).unwrap();
    assert_eq!(cause["errorMessage"], "no stock left");
    assert!(cause["trace"].as_array().is_some_and(|t| !t.is_empty()), "{cause}");
    assert_eq!(output[3]["Payload"], json!({"sum": 6}));
}

#[test]
fn a_function_arn_resource_returns_the_bare_payload_with_lambda_events() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(&dir, &[("echo", "handler = \"python:{H}/behaviours.py:echo\"")]);
    let definition = json!({"StartAt": "Echo", "States": {"Echo": {"Type": "Task",
        "Resource": "arn:aws:lambda:us-east-1:123456789012:function:echo", "OutputPath": "$.event", "End": true}}});
    let (report, store) = run(&dir, &config, definition, json!({"x": 1}));
    assert_eq!(report["output"], json!({"x": 1}), "{report}");
    let events = history(&store, report["name"].as_str().unwrap());
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "ExecutionStarted",
            "TaskStateEntered",
            "LambdaFunctionScheduled",
            "LambdaFunctionStarted",
            "LambdaFunctionSucceeded",
            "TaskStateExited",
            "ExecutionSucceeded"
        ]
    );
}

#[test]
fn handlers_use_sfnlite_s3_and_athena_through_boto3_and_their_logs_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(&dir, &[("store", "handler = \"python:{H}/behaviours.py:store_and_query\"\ntimeout = 60")]);
    let definition = json!({"StartAt": "Task", "States": {"Task": task("store", json!({"bucket": "orders-lake"}))}});
    let (report, store) = run(&dir, &config, definition, json!({}));
    assert_eq!(report["status"], "SUCCEEDED", "{report}");
    let payload = &report["output"]["Payload"];
    assert_eq!(payload["states"], json!(["SUCCEEDED", "SUCCEEDED"]));
    assert_eq!(payload["rows"], json!([["item", "qty"], ["pear", "5"], ["apple", "3"]]));
    let name = report["name"].as_str().unwrap();
    let logs = sfnlite().arg("--store").arg(&store).args(["logs", name]).output().unwrap();
    let text = String::from_utf8_lossy(&logs.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("== Task (event 4) · function store"), "{text}");
    assert!(lines.iter().any(|l| l.starts_with("START RequestId: ")), "{text}");
    assert!(lines.iter().any(|l| l.starts_with("REPORT RequestId: ") && l.contains("Init Duration")), "{text}");
    let none = sfnlite().arg("--store").arg(&store).args(["logs", name, "--state", "Other"]).output().unwrap();
    assert!(none.stdout.is_empty());
    assert!(String::from_utf8_lossy(&none.stderr).contains("no Lambda invocation of state 'Other'"));
}

#[test]
fn print_output_of_each_invocation_is_in_its_log() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(&dir, &[("echo", "handler = \"python:{H}/behaviours.py:echo\"")]);
    let definition = json!({"StartAt": "One", "States": {
        "One": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "echo", "Payload": {"step": 1}}, "Next": "Two"},
        "Two": task("echo", json!({"step": 2}))}});
    let (report, store) = run(&dir, &config, definition, json!({}));
    let name = report["name"].as_str().unwrap();
    let out = sfnlite()
        .arg("--store")
        .arg(&store)
        .args(["logs", name, "--state", "Two", "--format", "json"])
        .output()
        .unwrap();
    let log: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(log["stateName"], "Two");
    let lines: Vec<&str> = log["lines"].as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect();
    // The second invocation ran on the warm worker: no init, and only its own print.
    assert_eq!(lines[0], format!("START RequestId: {} Version: $LATEST", log["requestId"].as_str().unwrap()));
    assert_eq!(lines[1], r#"echo {"step": 2}"#);
    assert!(lines[2].starts_with("END RequestId: "));
    assert!(lines[3].starts_with("REPORT RequestId: ") && !lines[3].contains("Init Duration"), "{lines:?}");
}

#[test]
fn functions_without_handlers_are_refused_before_start_or_fail_as_on_aws() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(&dir, &[("echo", "handler = \"python:{H}/behaviours.py:echo\"")]);
    let file = temp_file(
        &dir,
        "static.asl.json",
        &json!({"StartAt": "T", "States": {"T": task("report-mailer", json!({}))}}).to_string(),
    );
    let store = dir.path().join("store");
    let out = sfnlite().arg("--config").arg(&config).arg("--store").arg(&store).arg("run").arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("state 'T' invokes the Lambda function 'report-mailer'"), "{stderr}");
    assert!(stderr.contains("[lambda.functions.\"report-mailer\"]") && stderr.contains("--lambda"), "{stderr}");
    let listed =
        sfnlite().arg("--store").arg(&store).args(["executions", "list", "--format", "json"]).output().unwrap();
    assert_eq!(serde_json::from_slice::<Value>(&listed.stdout).unwrap(), json!({"executions": []}));
    // A name computed at run time fails the task as AWS fails an unknown function.
    let definition = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName.$": "$.fn"}, "End": true}}});
    let (report, _) = run(&dir, &config, definition, json!({"fn": "nope"}));
    assert_eq!(report["error"], "Lambda.ResourceNotFoundException");
    let cause = report["cause"].as_str().unwrap();
    assert!(
        cause.starts_with("Function not found: arn:aws:lambda:us-east-1:123456789012:function:nope:$LATEST (Service: AWSLambda; Status Code: 404; Error Code: ResourceNotFoundException; Request ID: "),
        "{cause}"
    );
    // --lambda maps a function from the command line.
    let out = sfnlite()
        .arg("--config")
        .arg(&config)
        .arg("--lambda")
        .arg(format!("report-mailer=python:{}/{HANDLERS}/behaviours.py:echo", crate::root().display()))
        .arg("run")
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let bad = sfnlite().args(["--lambda", "oops", "run"]).arg(&file).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--lambda \"oops\": expected NAME=HANDLER"));
}

#[test]
fn event_invocations_answer_202_and_still_run() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(&dir, &[("echo", "handler = \"python:{H}/behaviours.py:echo\"")]);
    let definition = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "echo", "InvocationType": "Event", "Payload": {"queued": true}}, "End": true}}});
    let (report, store) = run(&dir, &config, definition, json!({}));
    assert_eq!(report["output"]["StatusCode"], 202, "{report}");
    assert_eq!(report["output"]["Payload"], "");
    let name = report["name"].as_str().unwrap();
    let logs = sfnlite().arg("--store").arg(&store).args(["logs", name]).output().unwrap();
    assert!(String::from_utf8_lossy(&logs.stdout).contains(r#"echo {"queued": true}"#));
}

#[test]
fn what_a_handler_leaves_running_neither_hangs_sfnlite_nor_outlives_it() {
    let dir = tempfile::tempdir().unwrap();
    let marker = format!("sfnlite-orphan-{}", std::process::id());
    // A cmd handler that leaves a process behind (its command line carries the marker).
    let detach = format!("handler = \"cmd:(sh -c 'sleep 30; :' {marker} &) ; echo 1\"");
    let config = config(
        &dir,
        &[
            ("hang", "handler = \"python:{H}/behaviours.py:spawn_and_hang\"\ntimeout = 1"),
            ("detach", detach.as_str()),
            ("big", "handler = \"cmd:head -c 7000000 /dev/zero | tr '\\\\0' a\""),
            ("slow", "handler = \"python:{H}/behaviours.py:slow\"\ntimeout = 30"),
        ],
    );
    let caught = |state: &str, function: &str, payload: Value, timeout: Option<u64>| {
        let mut t = task(function, payload);
        if let Some(seconds) = timeout {
            t["TimeoutSeconds"] = json!(seconds);
        }
        t["Catch"] = json!([{"ErrorEquals": ["States.ALL"], "Next": format!("{state} caught")}]);
        t.as_object_mut().unwrap().remove("End");
        t["Next"] = json!(format!("{state} caught"));
        json!({"StartAt": state, "States": {state: t, format!("{state} caught"): {"Type": "Pass", "End": true}}})
    };
    let definition = json!({"StartAt": "Fan", "States": {"Fan": {"Type": "Parallel", "End": true, "Branches": [
        caught("Hang", "hang", json!({"marker": marker}), None),
        caught("Detach", "detach", json!({}), None),
        caught("Big", "big", json!({}), None),
        // The state's TimeoutSeconds stops the invocation, on the virtual clock too.
        caught("Slow", "slow", json!({"seconds": 20}), Some(1))
    ]}}});
    let started = std::time::Instant::now();
    let (report, store) = run(&dir, &config, definition, json!({}));
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "took {:?}", started.elapsed());
    let output = report["output"].as_array().unwrap();
    assert_eq!(output[0]["Error"], "Sandbox.Timedout", "{report}");
    assert_eq!(output[1]["Payload"], 1, "{report}");
    assert_eq!(output[2]["Error"], "Function.ResponseSizeTooLarge", "{report}");
    assert_eq!(output[3]["Error"], "States.Timeout", "{report}");
    // Nothing the handler started survives it.
    let left = std::process::Command::new("pgrep").args(["-f", &marker]).output().unwrap();
    assert!(left.stdout.is_empty(), "left running: {}", String::from_utf8_lossy(&left.stdout));
    // The timed-out invocations' logs are kept, with Lambda's timeout line.
    let name = report["name"].as_str().unwrap();
    let logs = sfnlite().arg("--store").arg(&store).args(["logs", name, "--state", "Slow"]).output().unwrap();
    let text = String::from_utf8_lossy(&logs.stdout);
    assert!(text.contains("going to sleep") && text.contains("Task timed out after 1.00 seconds"), "{text}");
    assert!(text.contains("Status: timeout"), "{text}");
}

#[test]
fn a_worker_ended_by_an_uncaught_error_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(&dir, &[("crashy", "handler = \"node:{H}/node_fn.mjs:crashesOnEven\"")]);
    let mut call = task("crashy", json!({"n.$": "$"}));
    call["Catch"] = json!([{"ErrorEquals": ["States.ALL"], "Next": "Failed"}]);
    call.as_object_mut().unwrap().remove("End");
    call["Next"] = json!("Failed");
    let definition = json!({"StartAt": "Each", "States": {"Each": {
        "Type": "Map", "MaxConcurrency": 1, "End": true,
        "ItemProcessor": {"StartAt": "Call", "States": {"Call": call, "Failed": {"Type": "Pass", "End": true}}}}}});
    let (report, _) = run(&dir, &config, definition, json!([0, 1, 2, 3]));
    let output = report["output"].as_array().unwrap();
    for (n, item) in output.iter().enumerate() {
        if n % 2 == 0 {
            assert_eq!(item["Error"], "Error", "{report}");
            assert!(item["Cause"].as_str().unwrap().contains(&format!("timer failed on {n}")), "{report}");
        } else {
            assert_eq!(item["Payload"]["n"], n, "{report}");
        }
    }
    assert_ne!(output[1]["Payload"]["pid"], output[3]["Payload"]["pid"], "a fresh worker after each crash");
}

/// A loopback stub of Lambda's Invoke API: `double` answers, `fails` fails as a function
/// error, anything else is not found. Returns its URL and the request lines it saw.
fn invoke_stub() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let request = crate::HttpRequest::read(&stream);
            let line = &request.line;
            let invocation = request.header("x-amz-invocation-type").unwrap_or("RequestResponse");
            log.lock().unwrap().push(format!("{line} {invocation}"));
            let event: Value = serde_json::from_str(&request.body).unwrap_or(Value::Null);
            let (status, extra, answer) = if line.contains("/functions/double/") {
                (
                    "200 OK",
                    "X-Amz-Executed-Version: 7\r\n",
                    json!({"doubled": event["n"].as_i64().unwrap_or(0) * 2}).to_string(),
                )
            } else if line.contains("/functions/fails/") {
                (
                    "200 OK",
                    "X-Amz-Function-Error: Unhandled\r\nX-Amz-Executed-Version: $LATEST\r\n",
                    json!({"errorMessage": "bad input", "errorType": "ValueError", "stackTrace": []}).to_string(),
                )
            } else {
                ("404 Not Found", "x-amzn-ErrorType: ResourceNotFoundException\r\n",
                 json!({"Type": "User", "message": "Function not found: arn:aws:lambda:us-east-1:123456789012:function:ghost"}).to_string())
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\n{extra}x-amzn-RequestId: 11111111-2222-3333-4444-555555555555\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                answer.len()
            );
        }
    });
    (url, seen)
}

#[test]
fn with_backend_aws_functions_are_invoked_through_the_lambda_api() {
    let (url, seen) = invoke_stub();
    let caught = |state: &str, function: &str| {
        let mut t = task(function, json!({"n": 21}));
        t["Catch"] = json!([{"ErrorEquals": ["States.ALL"], "Next": format!("{state} caught")}]);
        t.as_object_mut().unwrap().remove("End");
        t["Next"] = json!(format!("{state} caught"));
        json!({"StartAt": state, "States": {state: t, format!("{state} caught"): {"Type": "Pass", "End": true}}})
    };
    let mut qualified = task("double", json!({"n": 21}));
    qualified["Parameters"]["Qualifier"] = json!("7");
    let definition = json!({"StartAt": "Fan", "States": {"Fan": {"Type": "Parallel", "End": true, "Branches": [
        {"StartAt": "Double", "States": {"Double": qualified}},
        caught("Fails", "fails"),
        caught("Ghost", "ghost")
    ]}}});
    let dir = tempfile::tempdir().unwrap();
    let file = temp_file(&dir, "aws.asl.json", &definition.to_string());
    let out = sfnlite()
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env_remove("AWS_PROFILE")
        .args(["--no-config", "--ephemeral", "--backend", "aws", "--region", "us-east-1", "--endpoint-url", &url])
        .args(["run", file.to_str().unwrap(), "--format", "json"])
        .output()
        .unwrap();
    let report: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(report["status"], "SUCCEEDED", "{report}");
    let output = report["output"].as_array().unwrap();
    assert_eq!(output[0]["Payload"], json!({"doubled": 42}));
    assert_eq!(output[0]["ExecutedVersion"], "7");
    assert_eq!(output[0]["SdkResponseMetadata"]["RequestId"], "11111111-2222-3333-4444-555555555555");
    assert_eq!(output[1]["Error"], "ValueError");
    assert_eq!(
        serde_json::from_str::<Value>(output[1]["Cause"].as_str().unwrap()).unwrap()["errorMessage"],
        "bad input"
    );
    assert_eq!(output[2]["Error"], "Lambda.ResourceNotFoundException");
    let cause = output[2]["Cause"].as_str().unwrap();
    assert!(cause.starts_with("Function not found: arn:aws:lambda:us-east-1:123456789012:function:ghost (Service: AWSLambda; Status Code: 404; Error Code: ResourceNotFoundException;"), "{cause}");
    let seen = seen.lock().unwrap().clone();
    assert!(
        seen.iter().any(|l| l.starts_with("POST /2015-03-31/functions/double/invocations?Qualifier=7 ")
            && l.ends_with("RequestResponse")),
        "{seen:?}"
    );
}
