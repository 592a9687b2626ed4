//! Distributed Map I/O: ItemReader over the local S3 (CSV with a header row and AWS's
//! quoting, an S3 listing, an S3 inventory manifest with gzipped data files, JSON at an
//! ItemsPointer, JSON Lines, MaxItems), ItemSelector then ItemBatcher with BatchInput, and
//! a missing object as `States.ItemReaderFailed` that a Catch sees.

use std::io::Write;

use serde_json::{Value, json};

use super::{root, sfnlite};

/// `sfnlite --no-config --store STORE ARGS…` (with a data root of its own, if given): the
/// exit code, stdout and stderr.
fn cli_on(store: &std::path::Path, data: Option<&std::path::Path>, args: &[&str]) -> (Option<i32>, String, String) {
    let mut command = sfnlite();
    if let Some(data) = data {
        command.env("SFNLITE_DATA_DIR", data);
    }
    let out = command.args(["--no-config", "--store"]).arg(store).args(args).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The objects the readers read, in a data root (bucket = folder).
fn seed(data: &std::path::Path) {
    let put = |key: &str, bytes: &[u8]| {
        let path = data.join(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    };
    put("lake/csv/people.csv", b"id,name,score\n1,ada,\"9,5\"\n2,bob,7\n3,cy,8\n4,dan,6\n");
    put("lake/lines.jsonl", b"{\"a\":1}\n{\"a\":2}\n");
    put("lake/doc.json", br#"{"x":{"rows":[10,20,30]}}"#);
    for i in 1..=3 {
        put(&format!("lake/logs/f{i}.log"), b"x\n");
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(b"lake,logs/f1.log,2,2026-01-01T00:00:00.000Z\nlake,logs/f2.log,2,2026-01-02T00:00:00.000Z\n")
        .unwrap();
    put("inv/data/part1.csv.gz", &gz.finish().unwrap());
    put(
        "inv/manifest.json",
        br#"{"sourceBucket":"lake","destinationBucket":"arn:aws:s3:::inv","fileFormat":"CSV",
            "fileSchema":"Bucket, Key, Size, LastModifiedDate","files":[{"key":"data/part1.csv.gz","size":80}]}"#,
    );
}

#[test]
fn item_readers_and_batches_over_the_local_s3() {
    let data = tempfile::tempdir().unwrap();
    seed(data.path());
    let out = sfnlite()
        .env("SFNLITE_DATA_DIR", data.path())
        .args(["--no-config", "--ephemeral", "run"])
        .arg(root().join("tests/e2e/data/distributed/readers.asl.json"))
        .args(["--input", "{}"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let output: Value = serde_json::from_slice(&out.stdout).unwrap();
    // MaxItems 3 of 4 rows; each selected ("9,5" was one quoted field), then batched by 2.
    assert_eq!(
        output["csv"],
        json!([
            {"BatchInput": {"tag": "b"}, "Items": [{"who": "ada", "n": 0}, {"who": "bob", "n": 1}]},
            {"BatchInput": {"tag": "b"}, "Items": [{"who": "cy", "n": 2}]}
        ])
    );
    assert_eq!(output["keys"], json!(["logs/f1.log", "logs/f2.log", "logs/f3.log"]));
    assert_eq!(
        output["inventory"][1],
        json!({"Bucket": "lake", "Key": "logs/f2.log", "Size": "2", "LastModifiedDate": "2026-01-02T00:00:00.000Z"})
    );
    assert_eq!(output["json"], json!([10, 20, 30]));
    assert_eq!(output["lines"], json!([{"a": 1}, {"a": 2}]));
    assert_eq!(output["missing"]["Error"], "States.ItemReaderFailed");
    assert!(output["missing"]["Cause"].as_str().unwrap().contains("NoSuchKey"), "{output}");
}

#[test]
fn item_reader_definitions_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let definition = json!({"StartAt": "M", "States": {"M": {"Type": "Map",
        "ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "Parameters": {"Bucket": "b", "Key": "k"},
            "ReaderConfig": {"CSVHeaderLocation": "GIVEN"}},
        "ItemBatcher": {"BatchInput": {}},
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED"}, "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
        "End": true}}});
    let file = super::temp_file(&dir, "bad.asl.json", &definition.to_string());
    let out = sfnlite().args(["validate"]).arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr);
    for expected in [
        "/States/M/ItemReader/ReaderConfig/CSVHeaders",
        "needs ReaderConfig.InputType",
        "an ItemBatcher needs MaxItemsPerBatch",
    ] {
        assert!(text.contains(expected), "{expected} in {text}");
    }
}

/// AWS counts tolerated failures in items: a failed batch of 5 exceeds a tolerance of 3.
#[test]
fn a_failed_batch_counts_its_items_against_the_tolerance() {
    let data = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(data.path().join("lake")).unwrap();
    std::fs::write(data.path().join("lake/ten.json"), "[1,2,3,4,5,6,7,8,9,10]").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let definition = |tolerated: u64| {
        json!({"StartAt": "M", "States": {"M": {"Type": "Map",
            "ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "Parameters": {"Bucket": "lake", "Key": "ten.json"},
                "ReaderConfig": {"InputType": "JSON"}},
            "ItemBatcher": {"MaxItemsPerBatch": 5},
            "ToleratedFailureCount": tolerated,
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED"}, "StartAt": "C", "States": {
                "C": {"Type": "Choice", "Choices": [{"Variable": "$.Items[0]", "NumericEquals": 1, "Next": "Boom"}], "Default": "Ok"},
                "Boom": {"Type": "Fail", "Error": "Bad", "Cause": "first batch"},
                "Ok": {"Type": "Pass", "End": true}}},
            "End": true}}})
    };
    let run = |tolerated: u64| {
        let file = super::temp_file(&dir, &format!("t{tolerated}.asl.json"), &definition(tolerated).to_string());
        sfnlite()
            .env("SFNLITE_DATA_DIR", data.path())
            .args(["--no-config", "--ephemeral", "run"])
            .arg(&file)
            .args(["--input", "{}", "--format", "json"])
            .output()
            .unwrap()
    };
    let over: Value = serde_json::from_slice(&run(3).stdout).unwrap();
    assert_eq!(over["status"], "FAILED");
    assert_eq!(over["error"], "States.ExceedToleratedFailureThreshold", "{over}");
    let within: Value = serde_json::from_slice(&run(5).stdout).unwrap();
    assert_eq!(within["status"], "SUCCEEDED", "5 failed items of 10 are within a tolerance of 5: {within}");
}

/// A distributed Map runs a Map Run of child executions, each with its own history; the
/// parent's history shows the Map Run, not iterations; a child that fails makes the Map
/// Run fail (tolerance 0) and stops the others, which end ABORTED.
#[test]
fn map_runs_are_child_executions_with_their_own_histories() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let cli = |args: &[&str]| cli_on(&store, None, args);
    let definition = |fail_on: i64| {
        json!({"StartAt": "Each", "States": {"Each": {"Type": "Map", "Label": "each", "MaxConcurrency": 2,
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "Check",
                "States": {
                    "Check": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericEquals": fail_on, "Next": "Boom"}], "Default": "Nap"},
                    "Boom": {"Type": "Fail", "Error": "Bad", "Cause": "no"},
                    "Nap": {"Type": "Wait", "Seconds": 60, "Next": "Double"},
                    "Double": {"Type": "Pass", "Parameters": {"n.$": "States.MathAdd($.n, $.n)"}, "End": true}}},
            "End": true}}})
    };
    let file = super::temp_file(&dir, "ok.asl.json", &definition(-1).to_string());
    let input = r#"[{"n":1},{"n":2},{"n":3}]"#;
    let (code, out, err) =
        cli(&["run", file.to_str().unwrap(), "--input", input, "--clock", "virtual", "--name", "p1"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap(), json!([{"n": 2}, {"n": 4}, {"n": 6}]));
    let (_, history, _) = cli(&["history", "p1", "--format", "json"]);
    let history: Value = serde_json::from_str(&history).unwrap();
    let types: Vec<&str> = history["events"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "ExecutionStarted",
            "MapStateEntered",
            "MapStateStarted",
            "MapRunStarted",
            "MapRunSucceeded",
            "MapStateSucceeded",
            "MapStateExited",
            "ExecutionSucceeded"
        ]
    );
    let map_run = history["events"][3]["mapRunStartedEventDetails"]["mapRunArn"].as_str().unwrap().to_owned();
    assert!(map_run.starts_with("arn:aws:states:us-east-1:123456789012:mapRun:ok/each:"), "{map_run}");
    // Three children of the state machine ok/each, each with a history of its own.
    let (_, listed, _) = cli(&["executions", "list", "--format", "json"]);
    let listed: Value = serde_json::from_str(&listed).unwrap();
    let children: Vec<&Value> = listed["executions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["stateMachineArn"].as_str().unwrap().ends_with(":stateMachine:ok/each"))
        .collect();
    assert_eq!(children.len(), 3);
    let child = children[0]["executionArn"].as_str().unwrap();
    assert!(child.contains(":execution:ok/each:"), "{child}");
    let (_, child_history, _) = cli(&["history", child, "--format", "json"]);
    assert!(
        child_history.contains("WaitStateExited") && child_history.contains("ExecutionSucceeded"),
        "{child_history}"
    );
    let (_, described, _) = cli(&["map-runs", "describe", &map_run]);
    let described: Value = serde_json::from_str(&described).unwrap();
    assert_eq!(described["status"], "SUCCEEDED");
    assert_eq!(described["itemCounts"]["succeeded"], 3);
    assert_eq!(described["maxConcurrency"], 2);

    // Item 1 fails at once; items 0 and 2 wait, and are stopped.
    let file = super::temp_file(&dir, "bad.asl.json", &definition(2).to_string());
    let (code, _, err) = cli(&["run", file.to_str().unwrap(), "--input", input, "--clock", "virtual", "--name", "p2"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("States.ExceedToleratedFailureThreshold"), "{err}");
    let (_, runs, _) = cli(&["map-runs", "list", "p2", "--format", "json"]);
    let runs: Value = serde_json::from_str(&runs).unwrap();
    let run = &runs["mapRuns"][0];
    assert_eq!(run["status"], "FAILED");
    assert_eq!(run["itemCounts"]["failed"], 1);
    assert_eq!(run["itemCounts"]["aborted"], 1, "item 0 was running and was stopped: {run}");
    assert_eq!(run["itemCounts"]["pending"], 1, "item 2 never started: {run}");
    let (_, listed, _) = cli(&["executions", "list", "--format", "json"]);
    assert!(!listed.contains("RUNNING"), "no child is left RUNNING: {listed}");
}

/// ResultWriter: the state's result points at the manifest; SUCCEEDED_0.json and
/// FAILED_0.json hold AWS's records (a tolerated failure with its Error and Cause).
#[test]
fn result_writer_exports_the_map_run_to_s3() {
    let data = tempfile::tempdir().unwrap();
    seed(data.path());
    std::fs::create_dir_all(data.path().join("out")).unwrap();
    let out = sfnlite()
        .env("SFNLITE_DATA_DIR", data.path())
        .args(["--no-config", "--ephemeral", "run"])
        .arg(root().join("tests/e2e/data/distributed/writer.asl.json"))
        .args(["--input", "{}"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let output: Value = serde_json::from_slice(&out.stdout).unwrap();
    let map_run = output["MapRunArn"].as_str().unwrap();
    let id = map_run.rsplit(':').next().unwrap();
    assert!(map_run.contains(":mapRun:writer/rows:"), "{output}");
    assert_eq!(output["ResultWriterDetails"], json!({"Bucket": "out", "Key": format!("runs/{id}/manifest.json")}));
    let read = |name: &str| -> Value {
        serde_json::from_slice(&std::fs::read(data.path().join("out/runs").join(id).join(name)).unwrap()).unwrap()
    };
    let manifest = read("manifest.json");
    assert_eq!(manifest["MapRunArn"], map_run);
    assert_eq!(manifest["ResultFiles"]["PENDING"], json!([]));
    assert_eq!(manifest["ResultFiles"]["SUCCEEDED"][0]["Key"], format!("runs/{id}/SUCCEEDED_0.json"));
    let succeeded = read("SUCCEEDED_0.json");
    assert_eq!(succeeded.as_array().unwrap().len(), 3, "ada, cy, dan");
    let first = &succeeded[0];
    assert_eq!(first["Status"], "SUCCEEDED");
    assert_eq!(first["Output"], r#"{"who":"ada"}"#);
    assert_eq!(first["RedriveStatus"], "NOT_REDRIVABLE");
    let failed = read("FAILED_0.json");
    assert_eq!((failed[0]["Error"].as_str(), failed[0]["Cause"].as_str()), (Some("NoBob"), Some("bob")));
    assert_eq!(failed[0]["Input"], r#"{"id":"2","name":"bob","score":"7"}"#);
}

/// A result file larger than a part (8 MiB) is uploaded in parts as the children end, and
/// comes out whole: every record once, its size in the manifest, its S3 entity tag that of
/// an object made of three parts, no upload left behind.
#[test]
fn a_large_result_file_is_uploaded_in_parts() {
    let data = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(data.path().join("out")).unwrap();
    std::fs::create_dir_all(data.path().join("lake")).unwrap();
    let pad = "x".repeat(2000);
    let lines: String = (0..4000).map(|i| format!("{{\"i\":{i},\"pad\":\"{pad}\"}}\n")).collect();
    std::fs::write(data.path().join("lake/big.jsonl"), lines).unwrap();
    let out = sfnlite()
        .env("SFNLITE_DATA_DIR", data.path())
        .args(["--no-config", "--ephemeral", "run"])
        .arg(root().join("tests/e2e/data/distributed/large-results.asl.json"))
        .args(["--input", "{}"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let output: Value = serde_json::from_slice(&out.stdout).unwrap();
    let folder = data
        .path()
        .join("out")
        .join(output["ResultWriterDetails"]["Key"].as_str().unwrap())
        .parent()
        .unwrap()
        .to_owned();
    let manifest: Value = serde_json::from_slice(&std::fs::read(folder.join("manifest.json")).unwrap()).unwrap();
    let file = folder.join("SUCCEEDED_0.json");
    let text = std::fs::read(&file).unwrap();
    assert_eq!(manifest["ResultFiles"]["SUCCEEDED"][0]["Size"], json!(text.len()), "{manifest}");
    assert!(text.len() > 16 * 1024 * 1024 && text.len() < 24 * 1024 * 1024, "three parts: {}", text.len());
    let records: Vec<Value> = serde_json::from_slice(&text).unwrap();
    let mut seen: Vec<i64> = records
        .iter()
        .map(|r| serde_json::from_str::<Value>(r["Output"].as_str().unwrap()).unwrap()["i"].as_i64().unwrap())
        .collect();
    seen.sort_unstable();
    assert_eq!(seen, (0..4000).collect::<Vec<_>>(), "every record once");
    // The local store's record of the object: an entity tag of three parts.
    let tags: Vec<String> = walk(&data.path().join(".sfnlite-meta"))
        .iter()
        .filter_map(|p| {
            serde_json::from_slice::<Value>(&std::fs::read(p).ok()?).ok()?["etag"].as_str().map(str::to_owned)
        })
        .collect();
    assert!(tags.iter().any(|t| t.ends_with("-3\"")), "{tags:?}");
    let uploads = data.path().join(".sfnlite-uploads");
    assert!(!uploads.exists() || std::fs::read_dir(&uploads).unwrap().next().is_none(), "no upload left");
}

/// Every file under `dir`.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() { files.extend(walk(&path)) } else { files.push(path) }
    }
    files
}

/// Redriving the parent redrives the Map Run: only the children that did not succeed run
/// again (a failed one is redriven, with `ExecutionRedriven`; one never started starts),
/// and the parent succeeds once the missing object exists.
#[test]
fn a_redrive_reruns_only_the_failed_children() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(data.join("lake")).unwrap();
    std::fs::write(data.join("lake/a"), "A").unwrap();
    std::fs::write(data.join("lake/c"), "C").unwrap();
    std::fs::create_dir_all(data.join("out")).unwrap();
    let store = dir.path().join("store");
    let cli = |args: &[&str]| cli_on(&store, Some(&data), args);
    let definition = json!({"StartAt": "Each", "States": {"Each": {"Type": "Map", "Label": "read", "MaxConcurrency": 1,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "Get",
            "States": {"Get": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
                "Parameters": {"Bucket": "lake", "Key.$": "$"}, "OutputPath": "$.Body", "End": true}}},
        "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "out", "Prefix": "r"}},
        "End": true}}});
    let file = super::temp_file(&dir, "read.asl.json", &definition.to_string());
    let (code, _, err) = cli(&["run", file.to_str().unwrap(), "--input", r#"["a","b","c"]"#, "--name", "r1"]);
    assert_eq!(code, Some(1), "b is missing: {err}");
    // The files of a Map Run (the one folder under out/r): each status's records.
    let written = |status: &str| -> Vec<Value> {
        let folder = std::fs::read_dir(data.join("out/r")).unwrap().next().unwrap().unwrap().path();
        let manifest: Value = serde_json::from_slice(&std::fs::read(folder.join("manifest.json")).unwrap()).unwrap();
        manifest["ResultFiles"][status]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|f| {
                let key = f["Key"].as_str().unwrap();
                serde_json::from_slice::<Vec<Value>>(&std::fs::read(data.join("out").join(key)).unwrap()).unwrap()
            })
            .collect()
    };
    assert_eq!((written("SUCCEEDED").len(), written("FAILED").len(), written("PENDING").len()), (1, 1, 1));
    let children = |status: &str| -> Vec<String> {
        let (_, listed, _) = cli(&["executions", "list", "--format", "json"]);
        let listed: Value = serde_json::from_str(&listed).unwrap();
        listed["executions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["stateMachineArn"].as_str().unwrap().ends_with("/read") && e["status"] == status)
            .map(|e| e["executionArn"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!((children("SUCCEEDED").len(), children("FAILED").len()), (1, 1), "c never started");
    let failed = children("FAILED").remove(0);
    let succeeded = children("SUCCEEDED").remove(0);
    let (code, _, err) = cli(&["redrive", &failed]);
    assert_eq!(code, Some(2), "a child is redriven through its parent: {err}");
    assert!(err.contains("redrive or stop its parent"), "{err}");

    std::fs::write(data.join("lake/b"), "B").unwrap();
    let (code, out, err) = cli(&["redrive", "r1", "--format", "json"]);
    assert_eq!(code, Some(0), "{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert!(report["output"]["MapRunArn"].is_string(), "{report}");
    // After a redrive, SUCCEEDED covers every attempt; FAILED and PENDING the last one only.
    let mut outputs: Vec<(String, u64)> = written("SUCCEEDED")
        .iter()
        .map(|r| (r["Output"].as_str().unwrap().to_owned(), r["RedriveCount"].as_u64().unwrap()))
        .collect();
    outputs.sort();
    assert_eq!(outputs, [("\"A\"".to_owned(), 0), ("\"B\"".to_owned(), 1), ("\"C\"".to_owned(), 0)]);
    assert_eq!((written("FAILED").len(), written("PENDING").len()), (0, 0));
    assert_eq!(children("SUCCEEDED").len(), 3, "still three children");
    let (_, history, _) = cli(&["history", &failed, "--format", "json"]);
    assert!(history.contains("ExecutionRedriven"), "the failed child was redriven: {history}");
    let (_, history, _) = cli(&["history", &succeeded, "--format", "json"]);
    assert!(!history.contains("ExecutionRedriven"), "the succeeded child did not run again");
}

/// A redrive after a Parallel that ended reruns the state that failed after it (the
/// Parallel's own end does not enclose what follows it), for a Task and for a Map Run.
#[test]
fn a_redrive_after_a_finished_parallel_reruns_what_failed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(data.join("lake")).unwrap();
    let store = dir.path().join("store");
    let cli = |args: &[&str]| cli_on(&store, Some(&data), args);
    let get = json!({"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
        "Parameters": {"Bucket": "lake", "Key": "k"}, "OutputPath": "$.Body", "End": true});
    let definition = json!({"StartAt": "Both", "States": {
        "Both": {"Type": "Parallel", "Branches": [{"StartAt": "B", "States": {"B": {"Type": "Pass", "End": true}}}], "Next": "Each"},
        "Each": {"Type": "Map", "Label": "m", "ItemsPath": "$[0]",
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "Get",
                "States": {"Get": get}},
            "End": true}}});
    let file = super::temp_file(&dir, "after.asl.json", &definition.to_string());
    let (code, _, _) = cli(&["run", file.to_str().unwrap(), "--input", "[1]", "--name", "x1"]);
    assert_eq!(code, Some(1), "k is missing");
    std::fs::write(data.join("lake/k"), "K").unwrap();
    let (code, out, err) = cli(&["redrive", "x1", "--format", "json"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["output"], json!(["K"]));
}

/// A Map Run that ended (a tolerated failure) is not run again when a later state's
/// failure is redriven: its children stay as they ended.
#[test]
fn a_redrive_of_a_later_state_leaves_an_ended_map_run_alone() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(data.join("lake")).unwrap();
    std::fs::write(data.join("lake/a"), "A").unwrap();
    let store = dir.path().join("store");
    let cli = |args: &[&str]| cli_on(&store, Some(&data), args);
    let definition = json!({"StartAt": "Each", "States": {
        "Each": {"Type": "Map", "Label": "t", "ToleratedFailureCount": 1, "MaxConcurrency": 1, "ItemsPath": "$.keys",
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "Get",
                "States": {"Get": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
                    "Parameters": {"Bucket": "lake", "Key.$": "$"}, "OutputPath": "$.Body", "End": true}}},
            "ResultPath": "$.read", "Next": "Later"},
        "Later": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
            "Parameters": {"Bucket": "lake", "Key": "z"}, "OutputPath": "$.Body", "End": true}}});
    let file = super::temp_file(&dir, "later.asl.json", &definition.to_string());
    let (code, _, err) = cli(&["run", file.to_str().unwrap(), "--input", r#"{"keys":["a","b"]}"#, "--name", "l1"]);
    assert_eq!(code, Some(1), "z is missing: {err}");
    assert!(err.contains("NoSuchKey"), "{err}");
    std::fs::write(data.join("lake/b"), "B").unwrap();
    std::fs::write(data.join("lake/z"), "Z").unwrap();
    let (code, out, err) = cli(&["redrive", "l1", "--format", "json"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["output"], json!("Z"));
    let (_, listed, _) = cli(&["executions", "list", "--format", "json"]);
    let listed: Value = serde_json::from_str(&listed).unwrap();
    let failed: Vec<&Value> =
        listed["executions"].as_array().unwrap().iter().filter(|e| e["status"] == "FAILED").collect();
    assert_eq!(failed.len(), 1, "b's child stays as it ended: {listed}");
    let (_, history, _) = cli(&["history", failed[0]["executionArn"].as_str().unwrap(), "--format", "json"]);
    assert!(!history.contains("ExecutionRedriven"), "{history}");
}

/// A ResultWriter with a WriterConfig alone answers the transformed results (FLATTEN
/// here), in the items' order, a failed child in its NONE form.
#[test]
fn a_writer_config_alone_answers_the_transformed_results() {
    let out = sfnlite()
        .args(["--no-config", "--ephemeral", "run"])
        .arg(root().join("tests/e2e/data/distributed/preview.asl.json"))
        .args(["--input", r#"{"k":[1,2,3]}"#])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let output: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((output[0].clone(), output[1].clone()), (json!(1), json!(2)));
    assert_eq!((output[2]["Status"].as_str(), output[2]["Error"].as_str()), (Some("FAILED"), Some("Two")));
    assert_eq!(output.as_array().unwrap()[3..], [json!(1), json!(2)]);
}

/// A redrive reads the ItemReader's objects again: when they no longer give as many items
/// as the Map Run started with, the Map Run fails with `States.ItemReaderFailed` saying so
/// (children are matched to items by index, so a changed list would mix them up).
#[test]
fn a_redrive_refuses_items_that_changed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(data.join("lake")).unwrap();
    std::fs::write(data.join("lake/keys.json"), r#"["a","b","c"]"#).unwrap();
    for key in ["a", "c", "x", "d"] {
        std::fs::write(data.join("lake").join(key), key.to_uppercase()).unwrap();
    }
    let store = dir.path().join("store");
    let cli = |args: &[&str]| cli_on(&store, Some(&data), args);
    let definition = json!({"StartAt": "Each", "States": {"Each": {"Type": "Map", "MaxConcurrency": 1,
        "ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "Parameters": {"Bucket": "lake", "Key": "keys.json"},
            "ReaderConfig": {"InputType": "JSON"}},
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "Get",
            "States": {"Get": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
                "Parameters": {"Bucket": "lake", "Key.$": "$"}, "OutputPath": "$.Body", "End": true}}},
        "End": true}}});
    let file = super::temp_file(&dir, "keys.asl.json", &definition.to_string());
    let (code, _, _) = cli(&["run", file.to_str().unwrap(), "--input", "{}", "--name", "k1"]);
    assert_eq!(code, Some(1), "b is missing");
    std::fs::write(data.join("lake/keys.json"), r#"["x","b","c","d"]"#).unwrap();
    std::fs::write(data.join("lake/b"), "B").unwrap();
    let (code, _, err) = cli(&["redrive", "k1"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("States.ItemReaderFailed") && err.contains("now reads 4 item(s) where the Map Run started with 3"),
        "{err}"
    );
    // As many items, but others: refused too.
    std::fs::write(data.join("lake/keys.json"), r#"["x","b","c"]"#).unwrap();
    let (code, _, err) = cli(&["redrive", "k1"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("now reads other items than the Map Run started with"), "{err}");
    // Put back as it was, the redrive goes through.
    std::fs::write(data.join("lake/keys.json"), r#"["a","b","c"]"#).unwrap();
    let (code, out, err) = cli(&["redrive", "k1", "--format", "json"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["output"], json!(["A", "B", "C"]));
}

/// EXPRESS children are not kept, yet a redrive runs again only those that did not
/// succeed (each child writes a marker object named by its start, so a rerun shows): the
/// Map's output is whole, the parent's history says `MapRunRedriven`, the Map Run counts
/// its redrive, and with a ResultWriter the SUCCEEDED files cover both attempts.
#[test]
fn a_redrive_reruns_only_the_express_children_that_failed() {
    for writer in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        for folder in ["lake", "marks", "out"] {
            std::fs::create_dir_all(data.join(folder)).unwrap();
        }
        std::fs::write(data.join("lake/a"), "A").unwrap();
        std::fs::write(data.join("lake/c"), "C").unwrap();
        let store = dir.path().join("store");
        let cli = |args: &[&str]| cli_on(&store, Some(&data), args);
        let mut definition = json!({"StartAt": "Each", "States": {"Each": {"Type": "Map", "Label": "x", "MaxConcurrency": 1,
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"}, "StartAt": "Get",
                "States": {
                    "Get": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
                        "Parameters": {"Bucket": "lake", "Key.$": "$"}, "ResultSelector": {"body.$": "$.Body"},
                        "ResultPath": "$", "Next": "Mark"},
                    "Mark": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:putObject",
                        "Parameters": {"Bucket": "marks", "Key.$": "States.Format('{}-{}', $.body, $$.Execution.StartTime)",
                            "Body": "x"},
                        "ResultPath": null, "OutputPath": "$.body", "End": true}}},
            "End": true}}});
        if writer {
            definition["States"]["Each"]["ResultWriter"] =
                json!({"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "out", "Prefix": "r"}});
        }
        let file = super::temp_file(&dir, "x.asl.json", &definition.to_string());
        let (code, _, err) = cli(&["run", file.to_str().unwrap(), "--input", r#"["a","b","c"]"#, "--name", "x1"]);
        assert_eq!(code, Some(1), "b is missing: {err}");
        let marks = || -> Vec<String> {
            let mut names: Vec<String> = std::fs::read_dir(data.join("marks"))
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().chars().take(1).collect())
                .collect();
            names.sort();
            names
        };
        assert_eq!(marks(), ["A"], "c never started");
        std::fs::write(data.join("lake/b"), "B").unwrap();
        let (code, out, err) = cli(&["redrive", "x1", "--format", "json"]);
        assert_eq!(code, Some(0), "{err}");
        assert_eq!(marks(), ["A", "B", "C"], "only b ran again (writer: {writer})");
        let report: Value = serde_json::from_str(&out).unwrap();
        let (_, history, _) = cli(&["history", "x1", "--format", "json"]);
        let history: Value = serde_json::from_str(&history).unwrap();
        let redriven: Vec<&Value> =
            history["events"].as_array().unwrap().iter().filter(|e| e["type"] == "MapRunRedriven").collect();
        assert_eq!(redriven.len(), 1, "{history}");
        let map_run = redriven[0]["mapRunRedrivenEventDetails"]["mapRunArn"].as_str().unwrap();
        assert_eq!(redriven[0]["mapRunRedrivenEventDetails"]["redriveCount"], 1);
        let (_, described, _) = cli(&["map-runs", "describe", map_run]);
        let described: Value = serde_json::from_str(&described).unwrap();
        assert_eq!((described["redriveCount"].clone(), described["status"].clone()), (json!(1), json!("SUCCEEDED")));
        assert_eq!(described["itemCounts"]["succeeded"], 3, "{described}");
        if !writer {
            assert_eq!(report["output"], json!(["A", "B", "C"]));
            continue;
        }
        let id = map_run.rsplit(':').next().unwrap();
        let folder = data.join("out/r").join(id);
        let manifest: Value = serde_json::from_slice(&std::fs::read(folder.join("manifest.json")).unwrap()).unwrap();
        let files: Vec<&str> = manifest["ResultFiles"]["SUCCEEDED"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["Key"].as_str().unwrap())
            .collect();
        assert_eq!(files, [format!("r/{id}/SUCCEEDED_0.json"), format!("r/{id}/SUCCEEDED_1.json")]);
        let outputs: Vec<String> = files
            .iter()
            .flat_map(|key| {
                serde_json::from_slice::<Vec<Value>>(&std::fs::read(data.join("out").join(key)).unwrap()).unwrap()
            })
            .map(|r| r["Output"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(outputs, ["\"A\"", "\"B\"", "\"C\""], "the first attempt's file, then the redrive's");
        assert_eq!(manifest["ResultFiles"]["FAILED"], json!([]));
    }
}
