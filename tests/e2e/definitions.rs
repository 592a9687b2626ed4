//! The shipped definitions under `definitions/`: every example validates and runs, the Athena
//! seeds (A: `athena`, B: `athena-paged`) with their mocks, virtual time, and the JSONata example.

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
