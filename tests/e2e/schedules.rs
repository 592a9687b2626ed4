//! Schedules: EventBridge Scheduler's expressions run by `sfnlite scheduler` under the
//! virtual clock (ten days of an hourly schedule in moments, a cron across a DST change,
//! the missed-runs policies), and by `serve`, changed through it while it runs.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{root, sfnlite, temp_file};

/// `sfnlite --no-config --store STORE ARGS…`: its output, checked to succeed.
fn ok(store: &Path, args: &[&str]) -> std::process::Output {
    let output = sfnlite().args(["--no-config", "--store"]).arg(store).args(args).output().unwrap();
    assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
    output
}

fn executions(store: &Path) -> Vec<Value> {
    let listed = ok(store, &["executions", "list", "--format", "json"]);
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    listed["executions"].as_array().unwrap().clone()
}

/// A state machine `tick` that waits half an hour and echoes its input.
fn register_tick(dir: &tempfile::TempDir) {
    let definition = temp_file(
        dir,
        "tick.asl.json",
        r#"{"StartAt":"Nap","States":{"Nap":{"Type":"Wait","Seconds":1800,"Next":"Done"},"Done":{"Type":"Pass","End":true}}}"#,
    );
    ok(dir.path(), &["state-machines", "create", "tick", "--definition", definition.to_str().unwrap()]);
}

#[test]
fn ten_days_of_an_hourly_schedule_under_the_virtual_clock() {
    let dir = tempfile::tempdir().unwrap();
    register_tick(&dir);
    let created = ok(
        dir.path(),
        &[
            "schedules",
            "create",
            "hourly",
            "--state-machine",
            "tick",
            "--expression",
            "rate(1 hour)",
            "--start-date",
            "2026-01-01T00:00:00Z",
            "--input",
            r#"{"at":"<aws.scheduler.scheduled-time>"}"#,
        ],
    );
    let described: Value = serde_json::from_slice(&created.stdout).unwrap();
    assert_eq!(described["state"], "ENABLED");
    let listed = String::from_utf8(ok(dir.path(), &["schedules", "list"]).stdout).unwrap();
    assert!(listed.contains("hourly") && listed.contains("rate(1 hour)"), "{listed}");

    let ran = ok(dir.path(), &["scheduler", "--clock", "virtual", "--start", "2026-01-01T00:00:00Z", "--for", "10d"]);
    let stderr = String::from_utf8_lossy(&ran.stderr);
    assert_eq!(stderr.matches(": started arn:").count(), 240, "{stderr}");
    let all = executions(dir.path());
    assert_eq!(all.len(), 240);
    assert!(all.iter().all(|e| e["status"] == "SUCCEEDED"), "every execution waited its half hour and ended");
    let fifth = ok(dir.path(), &["describe", "hourly-20260101T050000Z", "--format", "json"]);
    let fifth: Value = serde_json::from_slice(&fifth.stdout).unwrap();
    assert_eq!(fifth["startDate"], "2026-01-01T05:00:00.000Z");
    assert_eq!(serde_json::from_str::<Value>(fifth["output"].as_str().unwrap()).unwrap()["at"], "2026-01-01T05:00:00Z");
    let after: Value = serde_json::from_slice(&ok(dir.path(), &["schedules", "describe", "hourly"]).stdout).unwrap();
    assert_eq!(after["lastExecution"], "arn:aws:states:us-east-1:123456789012:execution:tick:hourly-20260110T230000Z");
}

#[test]
fn a_cron_in_a_time_zone_follows_the_dst_change_and_missed_runs_follow_the_policy() {
    let dir = tempfile::tempdir().unwrap();
    register_tick(&dir);
    // 08:00 in Paris: 07:00Z in winter, 06:00Z from Sunday 29 March 2026.
    let cron =
        ["--expression", "cron(0 8 * * ? *)", "--timezone", "Europe/Paris", "--start-date", "2026-03-27T00:00:00Z"];
    ok(dir.path(), &[&["schedules", "create", "morning", "--state-machine", "tick"][..], &cron].concat());
    ok(dir.path(), &["scheduler", "--clock", "virtual", "--start", "2026-03-27T00:00:00Z", "--for", "4d"]);
    let mut names: Vec<String> =
        executions(dir.path()).iter().map(|e| e["name"].as_str().unwrap().to_owned()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "morning-20260327T070000Z",
            "morning-20260328T070000Z",
            "morning-20260329T060000Z",
            "morning-20260330T060000Z"
        ]
    );
    // Paused: nothing runs.
    ok(dir.path(), &["schedules", "pause", "morning"]);
    ok(dir.path(), &["scheduler", "--clock", "virtual", "--start", "2026-03-31T00:00:00Z", "--for", "2d"]);
    assert_eq!(executions(dir.path()).len(), 4);
    ok(dir.path(), &["schedules", "delete", "morning"]);

    // Two hourly schedules, run for two hours, then nothing runs for a day.
    for (name, policy) in [("latest", "latest"), ("every", "all"), ("none", "skip")] {
        ok(
            dir.path(),
            &[
                "schedules",
                "create",
                name,
                "--state-machine",
                "tick",
                "--expression",
                "rate(1 hour)",
                "--start-date",
                "2026-05-01T00:00:00Z",
                "--missed",
                policy,
            ],
        );
    }
    ok(dir.path(), &["scheduler", "--clock", "virtual", "--start", "2026-05-01T00:00:00Z", "--for", "2h"]);
    assert_eq!(executions(dir.path()).len(), 4 + 6);
    // A day later (30 s after midnight): 02:00 to 23:00 were missed, midnight is on time.
    ok(dir.path(), &["scheduler", "--clock", "virtual", "--start", "2026-05-02T00:00:30Z", "--for", "1m"]);
    let count = |prefix: &str| {
        executions(dir.path()).iter().filter(|e| e["name"].as_str().unwrap().starts_with(prefix)).count()
    };
    assert_eq!(count("latest-"), 2 + 2, "the latest missed run, and midnight's");
    assert_eq!(count("every-"), 2 + 22 + 1, "each missed run, and midnight's");
    assert_eq!(count("none-"), 2 + 1, "midnight's only");
}

#[test]
fn serve_runs_schedules_and_takes_changes_while_it_runs() {
    let dir = tempfile::tempdir().unwrap();
    register_tick(&dir);
    let _server = super::serve::start(dir.path(), &[]);
    // The store is held by the server: these go through it.
    let soon = now_plus(2);
    ok(
        dir.path(),
        &[
            "schedules",
            "create",
            "soon",
            "--state-machine",
            "tick",
            "--expression",
            "rate(1 hour)",
            "--start-date",
            &soon,
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let started = executions(dir.path());
        if !started.is_empty() {
            assert!(started[0]["name"].as_str().unwrap().starts_with("soon-"), "{started:?}");
            assert_eq!(started[0]["status"], "RUNNING", "it waits half an hour");
            break;
        }
        assert!(Instant::now() < deadline, "the server never ran the schedule");
        std::thread::sleep(Duration::from_millis(200));
    }
    let described: Value = serde_json::from_slice(&ok(dir.path(), &["schedules", "describe", "soon"]).stdout).unwrap();
    assert!(described["lastExecution"].as_str().unwrap().contains(":execution:tick:soon-"), "{described}");
    ok(dir.path(), &["schedules", "pause", "soon"]);
    let paused: Value = serde_json::from_slice(&ok(dir.path(), &["schedules", "describe", "soon"]).stdout).unwrap();
    assert_eq!(paused["state"], "DISABLED");
    assert_eq!(paused["nextRuns"], serde_json::json!([]));
    let _ = root();
}

/// Now plus `seconds`, as ISO 8601.
fn now_plus(seconds: u64) -> String {
    let at = std::time::SystemTime::now() + Duration::from_secs(seconds);
    let millis = at.duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    sfnlite_states::timestamp::format_millis(millis)
}
