//! `sfnlite validate`: diagnostics with their codes and locations, as JSON and as text for
//! people (an insta snapshot in `snapshots/`).

use serde_json::Value;

use crate::{sfnlite, temp_file};

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
