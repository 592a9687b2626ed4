//! The console and the pictures: `sfnlite graph`, `history --format html` and the pages
//! `sfnlite serve` gives browsers, checked in headless Chromium (Debian's `chromium`, driven
//! by `tests/browser/check.mjs` with playwright-core; `.ci/run` installs both). Screenshots
//! are kept in `target/console-screenshots/`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::serve::{aws, ended, start};
use super::{root, sfnlite};

/// Runs the browser check on a page (a file or a URL) and returns its report.
fn browser(target: &str, screenshot: &str, extra: &[&str]) -> Value {
    let root = root();
    assert!(
        root.join("tests/browser/node_modules/playwright-core").exists(),
        "playwright-core is missing: run `npm ci --prefix tests/browser` (.ci/run does)"
    );
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(Path::new(&chromium).exists(), "no Chromium at {chromium}: `apt-get install chromium` (.ci/run does)");
    let shots = root.join("target/console-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let shot = shots.join(screenshot);
    let output = Command::new("node")
        .current_dir(&root)
        .arg("tests/browser/check.mjs")
        .arg(target)
        .arg("--screenshot")
        .arg(&shot)
        .args(extra)
        .output()
        .expect("node runs the browser check");
    let report: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("the check printed no report ({e}): {}", String::from_utf8_lossy(&output.stderr)));
    assert!(output.status.success(), "the page did not load: {report:#}");
    assert_eq!(report["ready"], true, "{report:#}");
    assert_eq!(report["consoleErrors"], serde_json::json!([]), "the browser reported errors");
    assert_eq!(report["pageErrors"], serde_json::json!([]), "the page threw");
    // Only the confirmation a test's click asks for: never an alert (markup in data run as script).
    let dialogs = report["dialogs"].as_array().cloned().unwrap_or_default();
    assert!(
        dialogs.iter().all(|d| d["type"] == "confirm" && extra.contains(&"--click-button")),
        "dialogs: {dialogs:?}"
    );
    assert!(shot.metadata().map(|m| m.len() > 10_000).unwrap_or(false), "a screenshot was taken");
    // Readable: every text's contrast with its background is WCAG AA's at least.
    assert_eq!(report["lowContrast"], serde_json::json!([]), "text below WCAG AA contrast");
    report
}

/// The classes a state (or group) has in a report.
fn classes(report: &Value, name: &str) -> Vec<String> {
    let all = report["states"].as_array().unwrap().iter().chain(report["groups"].as_array().unwrap());
    let node = all.into_iter().find(|n| n["name"] == name).unwrap_or_else(|| panic!("no state {name} in {report:#}"));
    node["classes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_owned()).collect()
}

/// Every state name of a definition, nested ones included.
fn state_names(definition: &Value, out: &mut Vec<String>) {
    for (name, state) in definition["States"].as_object().into_iter().flatten() {
        out.push(name.clone());
        for branch in state["Branches"].as_array().into_iter().flatten() {
            state_names(branch, out);
        }
        for key in ["ItemProcessor", "Iterator"] {
            if state[key].is_object() {
                state_names(&state[key], out);
            }
        }
    }
}

#[test]
fn graph_draws_every_shipped_definition_in_three_formats() {
    let mut files: Vec<_> = std::fs::read_dir(root().join("definitions"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".asl.json"))
        .collect();
    files.sort();
    assert!(files.len() >= 6);
    for file in files {
        let relative = file.strip_prefix(root()).unwrap().to_string_lossy().into_owned();
        let definition: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let mut names = Vec::new();
        state_names(&definition, &mut names);
        let draw = |format: &str| {
            let out = sfnlite().args(["graph", &relative, "--format", format]).assert().success().get_output().clone();
            String::from_utf8(out.stdout).unwrap()
        };
        let svg = draw("svg");
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"), "{relative}");
        for name in &names {
            let attribute =
                format!("data-name=\"{}\"", name.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;"));
            assert!(svg.contains(&attribute), "{relative}: the SVG has no state {name}");
        }
        assert_eq!(
            svg.matches("class=\"sfn-state\"").count() + svg.matches("class=\"sfn-group\"").count(),
            names.len()
        );
        let dot = draw("dot");
        assert!(dot.starts_with("digraph StateMachine {"), "{relative}");
        assert!(names.iter().all(|n| dot.contains(&format!("\"{n}\\n"))), "{relative}: a state is missing from DOT");
        let mermaid = draw("mermaid");
        assert!(mermaid.starts_with("flowchart TD"), "{relative}");
        assert!(
            names.iter().all(|n| mermaid.contains(&format!("\"{n}<br/>"))),
            "{relative}: a state is missing from Mermaid"
        );
    }
    // A definition that does not validate is reported, not drawn (exit 1, as `validate`).
    let out =
        sfnlite().args(["graph", "tests/e2e/data/invalid-missing-next.json"]).assert().code(1).get_output().clone();
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing drawn"));
}

#[test]
fn an_exported_history_shows_the_path_the_failure_and_the_timeline_in_chromium() {
    let store = tempfile::tempdir().unwrap();
    let store_arg = store.path().to_str().unwrap();
    sfnlite()
        .args(["--store", store_arg, "run", "tests/e2e/data/console.asl.json"])
        .args(["--input-file", "tests/e2e/data/console.input.json", "--clock", "virtual", "--name", "console-run"])
        .assert()
        .code(1);
    let html = sfnlite().args(["--store", store_arg, "history", "console-run", "--format", "html"]).assert().success();
    let page = store.path().join("console-run.html");
    std::fs::write(&page, &html.get_output().stdout).unwrap();
    let text = String::from_utf8_lossy(&html.get_output().stdout).into_owned();
    assert!(
        text.starts_with("<!doctype html>")
            && !text.contains("<script src")
            && !text.contains("<link rel=\"stylesheet\"")
    );

    let report = browser(page.to_str().unwrap(), "exported-history.png", &["--click-state", "Recover"]);
    // The keyboard alone reaches a state and opens it: the failed one shows its error.
    let keyboard = browser(page.to_str().unwrap(), "exported-keyboard.png", &["--keyboard-state", "GiveUp"]);
    assert_eq!(keyboard["keyboardFocused"], true, "Tab reaches the state's node");
    let detail = keyboard["keyboardDetail"].as_str().unwrap_or_default();
    assert!(detail.contains("Gave.Up") && detail.contains("an item was too big"), "{detail}");
    assert_eq!(report["failedStates"], serde_json::json!(["GiveUp"]), "{report:#}");
    assert!(classes(&report, "Fan").contains(&"is-caught".to_owned()));
    assert!(classes(&report, "Boom").contains(&"is-caught".to_owned()));
    for done in ["Greet", "Check", "Fine", "Recover"] {
        assert!(classes(&report, done).contains(&"is-succeeded".to_owned()), "{done}: {report:#}");
    }
    assert!(classes(&report, "Done").contains(&"is-not-reached".to_owned()));
    let each = report["groups"].as_array().unwrap().iter().find(|g| g["name"] == "Each").unwrap();
    let badge = each["badge"].as_str().unwrap_or_default();
    assert!(badge.contains("2 succeeded") && badge.contains("1 failed"), "the Map's iterations by status: {badge}");
    assert!(report["takenEdges"].as_u64().unwrap() >= 6, "{report:#}");
    assert!(report["timelineBars"].as_u64().unwrap() >= 5, "{report:#}");
    assert_eq!(report["eventsTotal"], 31);
    // A state that fails by itself (States.Runtime: a path that matches nothing) is the
    // failed one, though no Task event says so.
    let definition = store.path().join("runtime.asl.json");
    std::fs::write(
        &definition,
        r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "InputPath": "$.nope", "End": true}}}"#,
    )
    .unwrap();
    sfnlite().args(["--store", store_arg, "run"]).arg(&definition).args(["--name", "runtime-run"]).assert().code(1);
    let html = sfnlite().args(["--store", store_arg, "history", "runtime-run", "--format", "html"]).assert().success();
    let page = store.path().join("runtime-run.html");
    std::fs::write(&page, &html.get_output().stdout).unwrap();
    let runtime = browser(page.to_str().unwrap(), "runtime-error.png", &[]);
    assert_eq!(runtime["failedStates"], serde_json::json!(["B"]), "{runtime:#}");
    // Selecting a state shows its input, with the caught error in it.
    let detail = report["detailText"].as_str().unwrap_or_default();
    assert!(detail.contains("Item.TooBig") && detail.contains("\"n\": 3"), "{detail}");
}

/// A GET with the given Accept header: the status line and headers, and the body.
fn get(endpoint: &str, path: &str, accept: &str) -> (String, String) {
    let address = endpoint.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {address}\r\nAccept: {accept}\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    (head.to_owned(), body.to_owned())
}

#[test]
fn serve_shows_browsers_the_console_which_follows_and_stops_a_running_execution() {
    let store = tempfile::tempdir().unwrap();
    let server = start(store.path(), &[]);
    let endpoint = &server.endpoint;
    let definition = r#"{"StartAt": "Hold", "States": {
        "Hold": {"Type": "Wait", "Seconds": 120, "Next": "After"},
        "After": {"Type": "Pass", "End": true}}}"#;
    let machine = aws(
        endpoint,
        &[
            "stepfunctions",
            "create-state-machine",
            "--name",
            "held",
            "--definition",
            definition,
            "--role-arn",
            "arn:aws:iam::123456789012:role/r",
        ],
    );
    let machine_arn = machine["stateMachineArn"].as_str().unwrap().to_owned();
    // Markup in the data stays text: the browser check fails on any dialog an injected
    // script would open.
    let hostile = r#"{"note": "</script><script>alert(1)</script><img src=x onerror=alert(2)>"}"#;
    let started = aws(
        endpoint,
        &[
            "stepfunctions",
            "start-execution",
            "--state-machine-arn",
            &machine_arn,
            "--name",
            "held-1",
            "--input",
            hostile,
        ],
    );
    let execution = started["executionArn"].as_str().unwrap().to_owned();

    // Browsers get pages; SDK requests to the same paths still reach S3.
    let (head, body) = get(endpoint, "/", "text/html,application/xhtml+xml");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_lowercase().contains("content-security-policy: default-src 'none'; script-src 'unsafe-inline'"),
        "{head}"
    );
    assert!(body.starts_with("<!doctype html>") && body.contains("held-1"));
    let (head, body) = get(endpoint, "/", "*/*");
    assert!(head.starts_with("HTTP/1.1 200") && body.contains("ListAllMyBucketsResult"), "{head}: {body}");
    // Signed and presigned requests are S3's, whatever they accept.
    let (head, body) = get(endpoint, "/executions/x?X-Amz-Signature=abc&X-Amz-Credential=k", "text/html");
    assert!(body.contains("<Code>NoSuchBucket</Code>"), "{head}: {body}");
    let unknown = "/executions/arn%3Aaws%3Astates%3Aus-east-1%3A123456789012%3Aexecution%3Aheld%3Anone";
    let (head, body) = get(endpoint, unknown, "text/html");
    assert!(head.starts_with("HTTP/1.1 404"), "an unknown execution: {head}");
    assert!(body.contains("ExecutionDoesNotExist"), "the page says why");
    for (path, kind) in [("/executions", "executions"), ("/state-machines", "state-machines")] {
        let listed = browser(&format!("{endpoint}{path}"), &format!("console{}.png", path.replace('/', "-")), &[]);
        assert_eq!(listed["page"], kind);
    }

    let overview = browser(&format!("{endpoint}/"), "console-executions.png", &[]);
    assert_eq!(overview["page"], "executions");
    let page = format!("{endpoint}/executions/{}", execution.replace(':', "%3A"));
    let running = browser(&page, "console-running.png", &[]);
    assert!(classes(&running, "Hold").contains(&"is-running".to_owned()), "{running:#}");
    assert!(classes(&running, "After").contains(&"is-not-reached".to_owned()));

    // The page's Stop button stops it (StopExecution through the API), and the open page
    // follows it there by itself.
    let stopped =
        browser(&page, "console-stopping.png", &["--click-button", "Stop execution", "--wait-status", "ABORTED"]);
    assert_eq!(stopped["buttonClicked"], true, "the running execution's page has a Stop button");
    assert_eq!(stopped["statusReached"], true, "the open page shows ABORTED: {stopped:#}");
    assert!(!classes(&stopped, "Hold").contains(&"is-running".to_owned()), "{stopped:#}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let described = loop {
        let described = ended(endpoint, &execution);
        if described["status"] != "RUNNING" || Instant::now() > deadline {
            break described;
        }
    };
    assert_eq!(described["status"], "ABORTED");
    let after = browser(&page, "console-aborted.png", &[]);
    assert!(!classes(&after, "Hold").contains(&"is-running".to_owned()), "{after:#}");
    let machine_page =
        browser(&format!("{endpoint}/state-machines/{}", machine_arn.replace(':', "%3A")), "console-machine.png", &[]);
    assert_eq!(machine_page["page"], "state-machine");
    assert_eq!(machine_page["states"].as_array().unwrap().len(), 2);
}

#[test]
fn run_draws_one_live_line_on_a_terminal_and_none_elsewhere() {
    let store = tempfile::tempdir().unwrap();
    let definition = store.path().join("wait.asl.json");
    std::fs::write(&definition, r#"{"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "End": true}}}"#)
        .unwrap();
    let binary = assert_cmd::cargo::cargo_bin!("sfnlite");
    let on_terminal = |extra: &[&str]| -> Value {
        let output = Command::new("python3")
            .current_dir(root())
            .arg("tests/e2e/clients/in_pty.py")
            .arg(binary)
            .args(["--no-config", "--ephemeral", "run"])
            .arg(&definition)
            .args(extra)
            .output()
            .expect("python3 runs");
        serde_json::from_slice(&output.stdout).unwrap()
    };
    let drawn = on_terminal(&[]);
    assert_eq!(drawn["code"], 0);
    let text = drawn["output"].as_str().unwrap();
    assert!(text.contains("\r\x1b[2K"), "the line is redrawn in place: {text:?}");
    assert!(text.contains("1 state running · 2 events ·"), "{text:?}");
    // Wiped at the end: the output follows a cleared line.
    assert!(text.trim_end().ends_with("\r\x1b[2K{}"), "{text:?}");
    let quiet = on_terminal(&["--quiet"]);
    assert!(!quiet["output"].as_str().unwrap().contains("running"), "{quiet}");
    // Not a terminal: no line at all.
    let piped = sfnlite().args(["--no-config", "--ephemeral", "run"]).arg(&definition).assert().success();
    assert!(!String::from_utf8_lossy(&piped.get_output().stderr).contains('\x1b'));
}

#[test]
fn history_follow_prints_events_as_they_arrive() {
    let store = tempfile::tempdir().unwrap();
    let store_arg = store.path().to_str().unwrap();
    let definition = store.path().join("slow.asl.json");
    std::fs::write(
        &definition,
        r#"{"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3, "Next": "P"}, "P": {"Type": "Pass", "End": true}}}"#,
    )
    .unwrap();
    let mut run = Command::new(assert_cmd::cargo::cargo_bin!("sfnlite"))
        .current_dir(root())
        .args(["--no-config", "--store", store_arg, "run"])
        .arg(&definition)
        .args(["--name", "slow-1"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Once the run holds the store and has begun, follow it.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !store.path().join("endpoint").exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut follow = Command::new(assert_cmd::cargo::cargo_bin!("sfnlite"))
        .current_dir(root())
        .args(["--no-config", "--store", store_arg, "history", "slow-1", "--follow"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(follow.stdout.take().unwrap()));
    let mut seen = Vec::new();
    let mut run_was_running = false;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if line.contains("WaitStateEntered") {
            // Printed while the Wait still waits: the run has not ended.
            run_was_running = run.try_wait().unwrap().is_none();
        }
        seen.push(line);
    }
    assert!(follow.wait().unwrap().success());
    assert!(run.wait().unwrap().success());
    assert!(run_was_running, "the event came while the execution ran: {seen:#?}");
    let types: Vec<&str> = seen.iter().skip(1).map(|l| l.split_whitespace().nth(2).unwrap_or_default()).collect();
    assert_eq!(
        types,
        [
            "ExecutionStarted",
            "WaitStateEntered",
            "WaitStateExited",
            "PassStateEntered",
            "PassStateExited",
            "ExecutionSucceeded"
        ],
        "{seen:#?}"
    );
    // An ended execution prints its events once and stops.
    let again = sfnlite()
        .args(["--no-config", "--store", store_arg, "history", "slow-1", "--follow", "--format", "json"])
        .assert()
        .success();
    let out = String::from_utf8_lossy(&again.get_output().stdout).into_owned();
    assert_eq!(out.lines().count(), 6);
    assert!(out.lines().all(|l| serde_json::from_str::<Value>(l).is_ok()));
    sfnlite()
        .args(["--no-config", "--store", store_arg, "history", "slow-1", "--follow", "--format", "html"])
        .assert()
        .code(2);
}

#[test]
fn sfnlite_test_writes_a_page_for_each_failing_case() {
    let dir = tempfile::tempdir().unwrap();
    let definition = std::fs::read_to_string(root().join("tests/e2e/data/console.asl.json")).unwrap();
    std::fs::write(dir.path().join("console.asl.json"), definition).unwrap();
    std::fs::write(
        dir.path().join("console.sfntest.yaml"),
        r#"definition: console.asl.json
cases:
  - name: small items pass
    input: { items: [ { n: 1 } ] }
    expect: { status: SUCCEEDED }
  - name: "a big item: expected to pass, but fails"
    input: { items: [ { n: 1 }, { n: 5 } ] }
    expect: { status: SUCCEEDED }
"#,
    )
    .unwrap();
    let pages = dir.path().join("pages");
    let out = sfnlite()
        .args(["--no-config", "test"])
        .arg(dir.path().join("console.sfntest.yaml"))
        .arg("--html")
        .arg(&pages)
        .assert()
        .code(1);
    assert!(String::from_utf8_lossy(&out.get_output().stderr).contains("1 page(s) of failing cases"));
    let written: Vec<_> = std::fs::read_dir(&pages).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(written.len(), 1, "{written:?}");
    let name = written[0].file_name().unwrap().to_string_lossy().into_owned();
    assert_eq!(name, "console--a_big_item__expected_to_pass__but_fails.html");
    let report = browser(written[0].to_str().unwrap(), "failing-case.png", &[]);
    assert_eq!(report["failedStates"], serde_json::json!(["GiveUp"]), "{report:#}");
}
