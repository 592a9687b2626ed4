//! README.md's commands, read from README.md and run as written, and the CI script that
//! runs its test command.

use std::path::PathBuf;

use serde_json::Value;

use crate::{root, sfnlite};

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
    // The processing Lambda ran for real: its Python handler read that file from the
    // local S3 with boto3 and summarised it, and its answer is in Lambda's envelope.
    let output: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(output["StatusCode"], 200);
    assert_eq!(output["ExecutedVersion"], "$LATEST");
    assert_eq!(output["SdkHttpMetadata"]["HttpStatusCode"], 200);
    let payload = &output["Payload"];
    let file = results[0].file_name().unwrap().to_string_lossy();
    assert_eq!(payload["resultLocation"], format!("s3://sfnlite-athena-results/{file}"));
    assert_eq!(payload["rowCount"], 10);
    assert_eq!(payload["bytes"], csv.len());
    assert_eq!(payload["columns"][0], "date");
    assert_eq!(payload["rows"][0]["date"], csv.lines().nth(1).unwrap().split(',').next().unwrap().trim_matches('"'));
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
