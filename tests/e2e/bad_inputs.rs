//! The bad-input corpus (`tests/bad-inputs/cases.json`, written by `make.py` beside it):
//! malformed and hostile definitions, inputs, intrinsics, JSONata, mock files, `sfnlite.toml`,
//! CLI usage, test files and damaged stores. Each case must end with its exit code, a message
//! that names what is wrong and where (a JSON pointer, file:line:column, the flag or the
//! config key), no panic, and within a few seconds.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::{root, sfnlite};

/// A case that runs longer than this is a hang.
const LIMIT: Duration = Duration::from_secs(20);

#[test]
fn every_bad_input_is_refused_with_its_place() {
    let corpus: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(root().join("tests/bad-inputs/cases.json")).unwrap()).unwrap();
    assert!(corpus.len() >= 300, "the corpus has {} cases", corpus.len());
    let failures: Vec<String> = std::thread::scope(|scope| {
        let workers: Vec<_> = corpus
            .chunks(corpus.len().div_ceil(4))
            .map(|chunk| scope.spawn(move || chunk.iter().filter_map(run).collect::<Vec<String>>()))
            .collect();
        workers.into_iter().flat_map(|w| w.join().unwrap()).collect()
    });
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), corpus.len(), failures.join("\n"));
}

/// Runs one case; what is wrong with the outcome, if anything.
fn run(case: &Value) -> Option<String> {
    let name = format!("[{}] {}", case["area"].as_str().unwrap(), case["name"].as_str().unwrap());
    let dir = tempfile::tempdir().unwrap();
    for (file, content) in case["files"].as_object().unwrap() {
        let path = dir.path().join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let bytes = match content {
            Value::String(text) => text.as_bytes().to_vec(),
            other => sfnlite_states::base64::decode_lenient(other["base64"].as_str().unwrap()),
        };
        std::fs::write(path, bytes).unwrap();
    }
    let args: Vec<&str> = case["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    let (code, output) = match execute(dir.path(), &args, case["stdin"].as_str()) {
        Ok(done) => done,
        Err(problem) => return Some(format!("{name}: {problem}")),
    };
    let mut problems = Vec::new();
    let expected = case["exit"].as_i64().unwrap();
    if code != Some(expected as i32) {
        problems.push(format!("exit {code:?}, expected {expected}"));
    }
    for words in case["stderr"].as_array().unwrap() {
        if !output.contains(words.as_str().unwrap()) {
            problems.push(format!("the message lacks {words}"));
        }
    }
    for words in case.get("absent").and_then(Value::as_array).into_iter().flatten() {
        if output.contains(words.as_str().unwrap()) {
            problems.push(format!("the message has {words}, which it must not"));
        }
    }
    if output.contains("panicked") {
        problems.push("a panic".into());
    }
    (!problems.is_empty())
        .then(|| format!("{name}: {}\n    {}", problems.join("; "), output.trim().replace('\n', "\n    ")))
}

/// The exit code and what the process wrote (stderr, then stdout: `validate` writes its
/// diagnostics as data), or why it did not end. (assert_cmd drains the pipes while it runs,
/// and kills the process at the limit.)
fn execute(dir: &Path, args: &[&str], stdin: Option<&str>) -> Result<(Option<i32>, String), String> {
    let out = sfnlite()
        .current_dir(dir)
        .args(args)
        .env("SFNLITE_STORE", dir.join(".store"))
        .env("SFNLITE_DATA_DIR", dir.join(".data"))
        .env_remove("SFNLITE_CONFIG")
        .write_stdin(stdin.unwrap_or_default())
        .timeout(LIMIT)
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.code().is_none() {
        return Err(format!("killed ({}): still running after {LIMIT:?}?", out.status));
    }
    let text = format!("{}\n{}", String::from_utf8_lossy(&out.stderr), String::from_utf8_lossy(&out.stdout));
    Ok((out.status.code(), text))
}
