//! The end-to-end suite: the `sfnlite` binary run as users run it, from the repository root.
//! One test binary (`cargo test -p sfnlite-cli --test e2e`), owned by the cli package so that
//! `cargo test --workspace` builds the binary first; one module per concern:
//!
//! - `readme`: README.md's commands, and CI running its test command;
//! - `activities`: activity tasks worked by `sfnlite activities work` and by boto3 through `serve`;
//! - `callbacks`: `.waitForTaskToken` answered by handlers, `sfnlite task`, heartbeats, resume;
//! - `console`: `sfnlite graph`, `history --format html` and `serve`'s pages, in headless Chromium;
//! - `definitions`: every shipped example, seeds A and B, virtual time, JSONata;
//! - `validate`: `sfnlite validate` diagnostics (insta snapshots in `snapshots/`);
//! - `cli_contracts`: exit codes and messages on bad input and failures;
//! - `conformance`: the AWS-recorded corpus in `../shared/conformance`;
//! - `durability`: crash at every event boundary, SIGKILL, busy store, resume;
//! - `http`: the HTTP Task against a loopback server (encoding, connections, errors);
//! - `lambda`: Lambda tasks on local handlers (Python, Node.js, `cmd:`), errors, logs;
//! - `lifecycle`: `stop` and `redrive`;
//! - `nested`: `states:startExecution` of machines registered with `sfnlite state-machines`;
//! - `services`: `s3`, `athena query` and `config`;
//! - `serve`: `sfnlite serve` with boto3, the AWS CLI and the API conformance corpus.
//!
//! Fixtures live in `data/` and are passed as `tests/e2e/data/…` (tests run from the root).

mod activities;
mod bad_inputs;
mod callbacks;
mod cli_contracts;
mod conformance;
mod console;
mod definitions;
mod distributed;
mod durability;
mod http;
mod lambda;
mod lifecycle;
mod nested;
mod readme;
mod schedules;
mod serve;
mod services;
mod testing;
mod validate;

use std::path::{Path, PathBuf};

use assert_cmd::cargo::cargo_bin_cmd;
use serde_json::Value;

/// The repository root (the cli package owns this suite, so `CARGO_MANIFEST_DIR` is `cli/`).
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

/// Writes `text` to a file `name` in `dir`, and returns its path.
fn temp_file(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
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

/// One HTTP/1.1 request, as the loopback servers of the tests (callbacks, HTTP Task
/// endpoints, a Lambda Invoke stub) read it.
#[derive(Debug, Clone)]
struct HttpRequest {
    /// `METHOD /path?query HTTP/1.1`.
    line: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl HttpRequest {
    /// Reads a request (its body by `Content-Length`) from `stream`.
    fn read(stream: &std::net::TcpStream) -> HttpRequest {
        use std::io::{BufRead, BufReader, Read};
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let mut headers = Vec::new();
        loop {
            let mut header = String::new();
            reader.read_line(&mut header).unwrap();
            if header.trim().is_empty() {
                break;
            }
            let (k, v) = header.trim().split_once(':').unwrap();
            headers.push((k.trim().to_owned(), v.trim().to_owned()));
        }
        let mut request = HttpRequest { line: line.trim().to_owned(), headers, body: String::new() };
        let length = request.header("content-length").map_or(0, |v| v.parse().unwrap());
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        request.body = String::from_utf8(body).unwrap();
        request
    }

    /// A header's value (names compared without case).
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}
