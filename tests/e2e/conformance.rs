//! The AWS-recorded conformance corpus in `../shared/conformance`, run against the binary.

use std::process::Command;

use crate::root;

/// The AWS-recorded corpus (the shared folder is beside the repository, in CI too):
/// at least 99% of all cases, and every JSONata and every Assign case.
#[test]
fn conformance_corpus() {
    let runner = root().join("../shared/conformance/run.py");
    assert!(runner.exists(), "the conformance corpus is missing at {}", runner.display());
    let binary = assert_cmd::cargo::cargo_bin!("sfnlite");
    // `run` waits for its execution, as StartSyncExecution does: the cases AWS ran with
    // StartSyncExecution (their source is an `express_sync` test) run with `--type EXPRESS`.
    let machine_type = r#""$(python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print("EXPRESS" if d["state_machine_type"] == "EXPRESS" and "express_sync" in d["source"] else "STANDARD")' {case})""#;
    let cmd = format!(
        "{} --ephemeral run {{definition}} --input-file {{input}} --mock-config {{mocks}} --state-machine-name {{sm}} --test-case {{testcase}} --clock virtual --format json --type {machine_type}",
        binary.display()
    );
    let run = |extra: &[&str], min_rate: &str| {
        let out = Command::new("python3")
            .arg(&runner)
            .args(["-j", "2", "--min-pass-rate", min_rate, "--cmd", &cmd])
            .args(extra)
            .output()
            .expect("python3 runs");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        eprintln!("conformance {extra:?}: {}", stdout.lines().last().unwrap_or_default());
        assert!(out.status.success(), "conformance {extra:?} below {min_rate}:\n{stdout}");
    };
    run(&[], "0.99");
    run(&["--feature", "JSONata"], "1.0");
    run(&["--feature", "Assign"], "1.0");
}
