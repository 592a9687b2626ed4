//! Step Functions tasks on the local services: S3 aws-sdk tasks and the Athena integration,
//! run by the engine on a virtual clock.

use std::sync::Arc;

use serde_json::{Value, json};
use sfnlite_adapters::{AthenaTasks, S3Tasks};
use sfnlite_engine::{
    Engine, ExecutionStatus, HistoryStore, MemoryStore, Outcome, Registry, StartRequest, VirtualClock,
};
use sfnlite_states::history::HistoryEvent;
use sfnlite_states::parse_definition;

use crate::{Local, local};

fn run(l: &Local, definition: Value, input: Value) -> (Outcome, Vec<HistoryEvent>) {
    let (machine, diagnostics) = parse_definition(&definition.to_string());
    let machine = machine.unwrap_or_else(|| panic!("invalid definition: {diagnostics:?}"));
    let mut registry = Registry::new();
    registry.register(Arc::new(AthenaTasks::new(l.api()).settle_queries(true)));
    registry.register(Arc::new(S3Tasks::new(Arc::new(l.s3.clone()))));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap();
    runtime.block_on(async {
        let store = Arc::new(MemoryStore::new());
        let engine = Engine::new(registry, Arc::new(VirtualClock::starting_at(1_767_225_600_000)), store.clone());
        let request = StartRequest {
            state_machine_name: "test".into(),
            definition: definition.to_string(),
            execution_name: "exec".into(),
            input,
            seed: 1,
            virtual_clock: true,
            origin: Default::default(),
        };
        let (info, outcome) = engine.run(&machine, request, std::future::pending()).await.unwrap();
        let events = store.events(&info.arn).unwrap();
        (outcome, events)
    })
}

fn task(resource: &str, parameters: Value, next: &str) -> Value {
    json!({"Type": "Task", "Resource": format!("arn:aws:states:::aws-sdk:s3:{resource}"), "Parameters": parameters, "ResultPath": format!("$.{resource}"), "Next": next})
}

#[test]
fn s3_tasks_use_aws_sdk_conventions() {
    let l = local();
    let definition = json!({"StartAt": "Create", "States": {
        "Create": task("createBucket", json!({"Bucket": "reports"}), "Put"),
        "Put": task("putObject", json!({"Bucket": "reports", "Key": "daily/r.json", "Body.$": "$.report"}), "PutText"),
        "PutText": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:putObject",
            "Parameters": {"Bucket": "reports", "Key": "daily/note.txt", "Body": "text data"}, "ResultPath": null, "Next": "Get"},
        "Get": task("getObject", json!({"Bucket": "reports", "Key": "daily/r.json"}), "Head"),
        "Head": task("headObject", json!({"Bucket": "reports", "Key": "daily/note.txt"}), "Copy"),
        "Copy": task("copyObject", json!({"Bucket": "reports", "Key": "archive/r.json", "CopySource": "reports/daily/r.json"}), "Delete"),
        "Delete": task("deleteObject", json!({"Bucket": "reports", "Key": "daily/r.json"}), "List"),
        "List": task("listObjectsV2", json!({"Bucket": "reports", "Prefix": "", "Delimiter": "/"}), "Missing"),
        "Missing": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
            "Parameters": {"Bucket": "reports", "Key": "daily/r.json"},
            "Catch": [{"ErrorEquals": ["S3.NoSuchKeyException"], "ResultPath": "$.missing", "Next": "NoBucket"}], "End": true},
        "NoBucket": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:listObjectsV2",
            "Parameters": {"Bucket": "no-such-bucket"},
            "Catch": [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.nobucket", "Next": "Done"}], "End": true},
        "Done": {"Type": "Succeed"}
    }});
    let (outcome, _) = run(&l, definition, json!({"report": {"total": 3}}));
    assert_eq!(outcome.status, ExecutionStatus::Succeeded, "{outcome:?}");
    let out = outcome.output.unwrap();
    assert_eq!(out["getObject"]["Body"], "{\"total\":3}", "a JSON Body is stored serialized");
    assert_eq!(out["getObject"]["ContentLength"], 11);
    assert_eq!(out["getObject"]["AcceptRanges"], "bytes");
    assert!(out["putObject"]["ETag"].as_str().unwrap().starts_with('"'));
    assert_eq!(out["putObject"]["ChecksumType"], "FULL_OBJECT");
    assert_eq!(out["headObject"]["ContentLength"], 11, "a string Body keeps its quotes: \"text data\"");
    assert!(out["copyObject"]["CopyObjectResult"]["ETag"].is_string());
    assert_eq!(out["listObjectsV2"]["CommonPrefixes"], json!([{"Prefix": "archive/"}, {"Prefix": "daily/"}]));
    assert_eq!(out["listObjectsV2"]["KeyCount"], 2);
    assert_eq!(out["listObjectsV2"]["IsTruncated"], false);
    assert_eq!(out["createBucket"]["Location"], "/reports");
    assert_eq!(out["missing"]["Error"], "S3.NoSuchKeyException");
    let cause = out["missing"]["Cause"].as_str().unwrap();
    assert!(
        cause.starts_with("The specified key does not exist. (Service: S3, Status Code: 404, Request ID: "),
        "{cause}"
    );
    assert_eq!(out["nobucket"]["Error"], "S3.NoSuchBucketException");
    let stored = std::fs::read(l.dir.path().join("reports/daily/note.txt")).unwrap();
    assert_eq!(stored, b"\"text data\"");
}

const SEED_A: &str = include_str!("../../definitions/athena.asl.json");

#[test]
fn seed_a_polls_the_embedded_athena_to_the_end() {
    let l = local();
    l.put("data", "logs/a.tsv", "1\tx\n2\ty\n");
    l.ok("CREATE DATABASE logs", None);
    l.ok("CREATE EXTERNAL TABLE logs.requests (id INT, v STRING) LOCATION 's3://data/logs/' ROW FORMAT DELIMITED FIELDS TERMINATED BY '\\t'", None);
    // The Lambda step is replaced by a Pass state here (the CLI tests run it with its shipped mock).
    let mut definition: Value =
        serde_json::from_str(&SEED_A.replace("${ProcessResultsFunctionArn}", "unused")).unwrap();
    definition["States"]["Process results"] = json!({"Type": "Pass", "End": true});
    let input = json!({"Database": "logs", "Table": "requests", "Workgroup": "primary"});
    let (outcome, events) = run(&l, definition.clone(), input.clone());
    assert_eq!(outcome.status, ExecutionStatus::Succeeded, "{outcome:?}");
    let execution = &outcome.output.unwrap()["QueryExecution"];
    assert_eq!(execution["Status"]["State"], "SUCCEEDED");
    assert_eq!(execution["Query"], "SELECT * FROM \"requests\" LIMIT 10");
    let location = execution["ResultConfiguration"]["OutputLocation"].as_str().unwrap();
    let key = location.strip_prefix("s3://results/").unwrap();
    let csv = std::fs::read_to_string(l.dir.path().join("results").join(key)).unwrap();
    assert_eq!(csv, "\"id\",\"v\"\n\"1\",\"x\"\n\"2\",\"y\"\n");
    // Under the virtual clock the query has ended when its start task does: one poll, no Wait.
    let waits = events.iter().filter(|e| format!("{:?}", e.details).contains("WaitStateEntered")).count();
    assert_eq!(waits, 0);

    // A query that fails takes the Choice's FAILED branch.
    let (failed, _) = run(&l, definition, json!({"Database": "logs", "Table": "nope", "Workgroup": "primary"}));
    assert_eq!(failed.status, ExecutionStatus::Failed);
}

#[test]
fn sync_queries_fail_their_task_with_the_final_state() {
    let l = local();
    let definition = |query: &str, extra: Value| {
        let mut parameters = json!({"QueryString": query});
        parameters.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        json!({"StartAt": "Q", "States": {"Q": {"Type": "Task", "Resource": "arn:aws:states:::athena:startQueryExecution.sync",
            "Parameters": parameters, "End": true}}})
    };
    let (ok, _) = run(&l, definition("SELECT 42 AS answer", json!({})), json!({}));
    assert_eq!(ok.status, ExecutionStatus::Succeeded);
    assert_eq!(ok.output.unwrap()["QueryExecution"]["Status"]["State"], "SUCCEEDED");

    let (failed, _) = run(&l, definition("SELECT * FROM missing_table", json!({})), json!({}));
    assert_eq!(failed.status, ExecutionStatus::Failed);
    assert_eq!(failed.error.as_deref(), Some("States.TaskFailed"));
    let cause: Value = serde_json::from_str(failed.cause.as_deref().unwrap()).unwrap();
    assert_eq!(cause["QueryExecution"]["Status"]["State"], "FAILED");
    assert!(
        cause["QueryExecution"]["Status"]["AthenaError"]["ErrorMessage"].as_str().unwrap().contains("TABLE_NOT_FOUND")
    );

    let (rejected, _) = run(&l, definition("SELECT 1", json!({"WorkGroup": "missing"})), json!({}));
    assert_eq!(rejected.error.as_deref(), Some("Athena.InvalidRequestException"));
    let cause = rejected.cause.unwrap();
    assert!(
        cause.contains("(Service: AmazonAthena; Status Code: 400; Error Code: InvalidRequestException; Request ID: "),
        "{cause}"
    );
    assert!(cause.ends_with("; Proxy: null)"));
}
