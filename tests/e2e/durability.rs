//! Durability: a run killed after every event boundary, a real SIGKILL during a real Wait,
//! a busy store, seed A resumed after a crash, and retention (`executions prune`, `[store]
//! retention`) reclaiming what large histories held. The test hook
//! `SFNLITE_TEST_CRASH_AFTER_EVENT=N` aborts the process right after the batch holding event N
//! is stored. And `tests/crash_trials.py`, SIGKILL at random moments, briefly.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::{relative_history, root, sfnlite, temp_file, wait_for_holder};

fn crash_test_run(store: &Path, name: &str) -> assert_cmd::Command {
    let mut cmd = sfnlite();
    cmd.arg("--store").arg(store).args(["run", "tests/e2e/data/resume.asl.json", "--clock", "virtual", "--name", name]);
    cmd.args(["--mock-config", "tests/e2e/data/resume.mock.json", "--test-case", "Flaky", "--format", "json"]);
    cmd
}

/// Kills a run after every event boundary (the process aborts right after the batch holding
/// event N is on disk), resumes it, and compares the history with an uninterrupted run:
/// same events, same ids, same (virtual) timings, one ExecutionStarted, no gaps.
#[test]
fn resume_after_a_crash_at_every_event_boundary() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let full = crash_test_run(&store, "full").output().unwrap();
    assert!(full.status.success(), "{}", String::from_utf8_lossy(&full.stderr));
    let expected = relative_history(&store, "full");
    let full_report: Value = serde_json::from_slice(&full.stdout).unwrap();
    let total = expected.len() as u64;
    assert!(total > 60, "the workflow records {total} events");
    let mut kill_points = 0;
    for after in 1..total {
        let name = format!("crash-{after}");
        let crashed =
            crash_test_run(&store, &name).env("SFNLITE_TEST_CRASH_AFTER_EVENT", after.to_string()).output().unwrap();
        assert!(!crashed.status.success(), "the run was to die after event {after}");
        let resumed = sfnlite()
            .arg("--store")
            .arg(&store)
            .args(["resume", &name, "--mock-config", "tests/e2e/data/resume.mock.json", "--test-case", "Flaky"])
            .args(["--format", "json"])
            .output()
            .unwrap();
        assert!(resumed.status.success(), "resume after event {after}: {}", String::from_utf8_lossy(&resumed.stderr));
        let report: Value = serde_json::from_slice(&resumed.stdout).unwrap();
        assert_eq!(report["output"], full_report["output"], "output after a crash at event {after}");
        let history = relative_history(&store, &name);
        assert_eq!(history, expected, "history after a crash at event {after}");
        kill_points += 1;
    }
    eprintln!("resumed after {kill_points} kill points");
}

/// A real `kill -9` during a real-clock Wait: the resumed Wait sleeps only what remains.
#[test]
fn resume_after_sigkill_during_a_real_wait() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let definition = temp_file(
        &dir,
        "nap.asl.json",
        r#"{"StartAt": "Nap", "States": {"Nap": {"Type": "Wait", "Seconds": 5, "Next": "Done"}, "Done": {"Type": "Pass", "Result": "rested", "End": true}}}"#,
    );
    let mut child = Command::new(assert_cmd::cargo::cargo_bin!("sfnlite"))
        .arg("--store")
        .arg(&store)
        .arg("run")
        .arg(&definition)
        .args(["--name", "nap"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for_holder(&store, child.id(), std::time::Duration::from_millis(1500));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let status = sfnlite().arg("--store").arg(&store).args(["describe", "nap", "--format", "json"]).output().unwrap();
    let described: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(described["status"], "RUNNING");
    let resumed = sfnlite().arg("--store").arg(&store).args(["resume", "--all"]).output().unwrap();
    assert!(resumed.status.success(), "{}", String::from_utf8_lossy(&resumed.stderr));
    assert_eq!(String::from_utf8_lossy(&resumed.stdout).trim(), "\"rested\"");
    let history = relative_history(&store, "nap");
    let types: Vec<&str> = history.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "ExecutionStarted",
            "WaitStateEntered",
            "WaitStateExited",
            "PassStateEntered",
            "PassStateExited",
            "ExecutionSucceeded"
        ]
    );
    for (i, event) in history.iter().enumerate() {
        assert_eq!(event["id"], serde_json::json!(i + 1), "ids are consecutive");
    }
    let waited = history[2]["timestamp"].as_i64().unwrap() - history[1]["timestamp"].as_i64().unwrap();
    assert!((5000..6000).contains(&waited), "the Wait lasted {waited} ms in all");
}

/// A second process on a store in use waits for it, then says who holds it.
#[test]
fn a_running_store_is_read_through_its_holder_and_a_second_writer_is_told_who_holds_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let definition = temp_file(
        &dir,
        "nap.asl.json",
        r#"{"StartAt": "Nap", "States": {"Nap": {"Type": "Wait", "Seconds": 3, "End": true}}}"#,
    );
    let mut holder = Command::new(assert_cmd::cargo::cargo_bin!("sfnlite"))
        .arg("--store")
        .arg(&store)
        .args(["run", "--name", "nap"])
        .arg(&definition)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for_holder(&store, holder.id(), std::time::Duration::from_millis(300));
    // Reading commands go through the running process's API: the run can be watched.
    let listed =
        sfnlite().arg("--store").arg(&store).args(["executions", "list", "--format", "json"]).output().unwrap();
    assert!(listed.status.success(), "{}", String::from_utf8_lossy(&listed.stderr));
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed["executions"][0]["status"], "RUNNING");
    let history = sfnlite().arg("--store").arg(&store).args(["history", "nap"]).output().unwrap();
    let text = String::from_utf8_lossy(&history.stdout);
    assert!(text.contains("WaitStateEntered") && !text.contains("ExecutionSucceeded"), "{text}");
    let missing = sfnlite().arg("--store").arg(&store).args(["describe", "nope"]).output().unwrap();
    assert_eq!(missing.status.code(), Some(2), "the holder's answer keeps the exit code");
    // A second writer waits for the store, then says who holds it.
    let out = sfnlite()
        .arg("--store")
        .arg(&store)
        .arg("run")
        .arg(&definition)
        .env("SFNLITE_LOCK_WAIT_MS", "100")
        .output()
        .unwrap();
    holder.wait().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("in use by process {}", holder.id())), "{stderr}");
    // Once the holder is done, the store is read directly and the run is recorded.
    let out = sfnlite().arg("--store").arg(&store).args(["executions", "list", "--format", "json"]).output().unwrap();
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed["executions"][0]["status"], "SUCCEEDED");
}

/// Seed A killed mid-run (after its query started) resumes in a new process: the query is
/// read back from the embedded Athena's records, and the config's Lambda mock still answers.
#[test]
fn seed_a_resumes_after_a_crash() {
    let store = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let crashed = sfnlite()
        .env("SFNLITE_DATA_DIR", data.path())
        .env("SFNLITE_TEST_CRASH_AFTER_EVENT", "7")
        .arg("--store")
        .arg(store.path())
        .args([
            "run",
            "definitions/athena.asl.json",
            "--input-file",
            "definitions/athena.input.json",
            "--name",
            "crashy",
        ])
        .output()
        .unwrap();
    assert!(!crashed.status.success(), "the hook kills the run");
    let resumed = sfnlite()
        .env("SFNLITE_DATA_DIR", data.path())
        .arg("--store")
        .arg(store.path())
        .args(["resume", "crashy"])
        .output()
        .unwrap();
    assert!(resumed.status.success(), "{}", String::from_utf8_lossy(&resumed.stderr));
    let output: Value = serde_json::from_slice(&resumed.stdout).unwrap();
    assert_eq!(output["StatusCode"], 200);
}

/// The bytes in a store's pack files.
fn pack_bytes(store: &Path) -> u64 {
    std::fs::read_dir(store.join("packs")).map_or(0, |d| d.map(|e| e.unwrap().metadata().unwrap().len()).sum())
}

/// A Pass chain carrying a 150 KB text through 20 states, so its history is large.
fn large_history_run(dir: &tempfile::TempDir, store: &Path, name: &str, config: Option<&Path>) -> std::process::Output {
    let states: serde_json::Map<String, Value> = (0..20)
        .map(|i| {
            let mut state = serde_json::json!({"Type": "Pass", "Result": i, "ResultPath": "$.step"});
            if i == 19 {
                state["End"] = true.into()
            } else {
                state["Next"] = format!("S{}", i + 1).into()
            }
            (format!("S{i}"), state)
        })
        .collect();
    let definition =
        temp_file(dir, "chain.asl.json", &serde_json::json!({"StartAt": "S0", "States": states}).to_string());
    let text: String =
        (0..150_000u64).map(|i| char::from(b'a' + (i.wrapping_mul(2_654_435_761) >> 7) as u8 % 26)).collect();
    let input = temp_file(dir, &format!("{name}.json"), &serde_json::json!({"text": text}).to_string());
    let mut cmd = sfnlite();
    cmd.arg("--store").arg(store);
    match config {
        Some(config) => cmd.arg("--config").arg(config),
        None => cmd.arg("--no-config"),
    };
    cmd.arg("run").arg(&definition).arg("--input-file").arg(&input).args(["--name", name]).output().unwrap()
}

#[test]
fn prune_removes_closed_executions_and_reclaims_their_space() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    for name in ["first", "second"] {
        let out = large_history_run(&dir, &store, name, None);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    // 40 events of 150 KB each, twice (12 MB of history): the text is kept once, compressed.
    let stored = pack_bytes(&store);
    assert!(stored > 0 && stored < 400_000, "{stored} bytes in packs");
    assert_eq!(relative_history(&store, "first").len(), 42, "started, 20 entered and exited, succeeded");
    let prune =
        |args: &[&str]| sfnlite().arg("--store").arg(&store).args(["executions", "prune"]).args(args).output().unwrap();

    // Nothing to say what to remove, or a bad value: a usage error naming the flags.
    let out = prune(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--older-than"));
    let out = prune(&["--older-than", "9x"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--older-than"), "{}", String::from_utf8_lossy(&out.stderr));
    let out = prune(&["--status", "RUNNING"]);
    assert_eq!(out.status.code(), Some(2));

    // Selective and dry runs remove nothing.
    let out = prune(&["--status", "FAILED"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("removed 0 execution(s)"));
    let out = prune(&["--all", "--dry-run", "--format", "json"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["executions"].as_array().unwrap().len(), 2, "{report}");
    assert_eq!(pack_bytes(&store), stored);
    let out = prune(&["--older-than", "1d"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("removed 0 execution(s)"));

    // Everything closed: gone, and the disk space with it.
    let out = prune(&["--all", "--format", "json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["executions"].as_array().unwrap().len(), 2, "{report}");
    assert_eq!(report["bytesReclaimed"], stored, "{report}");
    assert_eq!(pack_bytes(&store), 0);
    let out = sfnlite().arg("--store").arg(&store).args(["history", "first"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "a pruned execution is not found");
}

#[test]
fn store_retention_prunes_once_a_day() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let bad = temp_file(&dir, "bad.toml", "[store]\nretention = \"ninety days\"\n");
    let out = large_history_run(&dir, &store, "refused", Some(&bad));
    assert_eq!(out.status.code(), Some(2));
    let message = String::from_utf8_lossy(&out.stderr);
    assert!(message.contains("bad.toml") && message.contains("[store] retention"), "{message}");

    let config = temp_file(&dir, "sfnlite.toml", "[store]\nretention = \"1s\"\n");
    assert!(large_history_run(&dir, &store, "old", None).status.success());
    std::thread::sleep(std::time::Duration::from_millis(1_100));
    // The next run with the retention prunes what closed more than a second ago…
    let out = large_history_run(&dir, &store, "new", Some(&config));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("removed 1 execution(s)"));
    std::thread::sleep(std::time::Duration::from_millis(1_100));
    // …and looks again only a day later.
    assert!(large_history_run(&dir, &store, "newer", Some(&config)).status.success());
    let out = sfnlite().arg("--store").arg(&store).args(["executions", "list", "--format", "json"]).output().unwrap();
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(!listed.contains(":old\"") && listed.contains(":new\"") && listed.contains(":newer\""), "{listed}");
}

#[test]
fn store_check_finds_damage_and_salvage_keeps_what_is_intact() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    // A large history (kept in a pack file) and a small one (kept in sled).
    assert!(large_history_run(&dir, &store, "large", None).status.success());
    let small = sfnlite()
        .arg("--store")
        .arg(&store)
        .args(["--no-config", "run", "definitions/hello.asl.json", "--input-file", "definitions/hello.input.json"])
        .args(["--clock", "virtual", "--name", "large-2"])
        .output()
        .unwrap();
    assert!(small.status.success(), "{}", String::from_utf8_lossy(&small.stderr));
    let store_cmd =
        |store: &Path, args: &[&str]| sfnlite().arg("--store").arg(store).arg("store").args(args).output().unwrap();
    let out = store_cmd(&store, &["check"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("2 execution(s) intact"));

    // One changed byte in the pack: check names the execution and the file, exit 1.
    let pack = store.join("packs/00000001.pack");
    let mut bytes = std::fs::read(&pack).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    std::fs::write(&pack, bytes).unwrap();
    let out = store_cmd(&store, &["check", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["intactExecutions"], 1, "{report}");
    let damaged = &report["damaged"][0];
    assert!(damaged["what"].as_str().unwrap().ends_with(":large"), "{report}");
    assert!(damaged["problem"].as_str().unwrap().contains("00000001.pack"), "{report}");
    // Reading the damaged execution says what is wrong and the way out (never another execution
    // whose name it prefixes); the other still reads.
    let out = sfnlite().arg("--store").arg(&store).args(["history", "large"]).output().unwrap();
    let message = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{message}");
    assert!(message.contains("00000001.pack") && message.contains("store salvage DIR"), "{message}");
    // As JSON, nothing comes before the error (a read failing after some events is unit-tested
    // in cli/src/commands/inspect.rs).
    let out = sfnlite().arg("--store").arg(&store).args(["history", "large", "--format", "json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stdout.is_empty(), "{}", String::from_utf8_lossy(&out.stdout));

    // Salvage copies the intact execution into a fresh store, and refuses a used folder.
    let out = store_cmd(&store, &["salvage", store.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let saved = dir.path().join("saved");
    let out = store_cmd(&store, &["salvage", saved.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("copied 1 execution(s)"));
    assert_eq!(relative_history(&saved, "large-2"), relative_history(&store, "large-2"));
    let out = store_cmd(&saved, &["check"]);
    assert_eq!(out.status.code(), Some(0));

    // A damaged database that sled cannot open: every command names the store and the way
    // out, exit 3 (a store failure), and leaves the files as they were.
    let db = saved.join("db/db");
    let mut bytes = std::fs::read(&db).unwrap();
    bytes[100] ^= 0x55;
    std::fs::write(&db, &bytes).unwrap();
    for args in
        [&["store", "check"][..], &["executions", "list"], &["run", "definitions/hello.asl.json", "--clock", "virtual"]]
    {
        let out = sfnlite().arg("--store").arg(&saved).args(args).output().unwrap();
        let message = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {message}");
        assert!(
            message.contains("is damaged")
                && message.contains("saved")
                && message.contains("left as they were")
                && message.contains("--store NEWDIR"),
            "{message}"
        );
    }
    // sled wipes the log past the damage when it fails to open; sfnlite puts it back.
    assert!(std::fs::read(&db).unwrap() == bytes, "the damaged database was changed");
}

/// The crash-trial tool, briefly: SIGKILL at random moments (two rounds over every case,
/// `run` and `serve`), resume, and compare with an uninterrupted run. The long run
/// (`tests/crash_trials.py --trials 1000`) is reported in the closing notes.
#[test]
fn crash_trials_hold() {
    let out = std::process::Command::new("python3")
        .current_dir(root())
        .args(["tests/crash_trials.py", "--trials", "28", "--seed", "5", "--bin", env!("CARGO_BIN_EXE_sfnlite")])
        .output()
        .expect("python3 runs");
    let report = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{}\n{report}", String::from_utf8_lossy(&out.stdout));
    assert!(report.contains("28 trials") && report.contains("0 violation(s)"), "{report}");
    // "28 trials (K killed mid-run, B of them before the execution was recorded)": the trials
    // must really interrupt executions, or they prove nothing.
    let number_before = |marker: &str| -> usize {
        let head = &report[..report.find(marker).unwrap_or_else(|| panic!("{report}"))];
        head.rsplit(|c: char| !c.is_ascii_digit()).find(|w| !w.is_empty()).unwrap().parse().unwrap()
    };
    let (killed, early) = (number_before(" killed mid-run"), number_before(" of them before"));
    assert!(killed - early >= 5, "only {} of 28 trials interrupted a recorded execution: {report}", killed - early);
}
