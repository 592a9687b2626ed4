//! `sfnlite run` while `sfnlite serve` holds the store: the definition becomes (or
//! updates) the server's state machine of the same name, the execution starts there
//! (StartExecution, or StartSyncExecution for `--type EXPRESS`), and this process polls
//! DescribeExecution until it ends, then reports it exactly as a local run does. The
//! execution is recorded in the store by the server, like any other.
//!
//! What only a local run can do is refused with the reason: a virtual clock, mocks,
//! `--seed` (the server runs on its own clock, adapters and randomness). Ctrl-C leaves the
//! execution running in the server (`sfnlite stop` stops it).

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::anyhow;
use serde_json::{Value, json};
use sfnlite_engine::{ExecutionInfo, ExecutionStatus, Outcome};

use super::Failure;
use super::remote::{self, ApiRefusal};
use super::setup::report;
use crate::args::{MachineType, RunArgs};

/// The role every state machine created this way reports (as `run` records locally).
const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/sfnlite";

/// Whether this run can go through the server, and why not: what only a local run can
/// do, and the settings given as flags (the server has its own: backends, data root,
/// Lambda handlers).
pub(crate) fn refusal(
    args: &RunArgs,
    virtual_clock: bool,
    mocked: bool,
    settings: &crate::config::Settings,
) -> Option<String> {
    if virtual_clock {
        return Some("--clock virtual".into());
    }
    if mocked {
        return Some("mocks (--mock-config, or the config's mock_config for this file)".into());
    }
    if args.seed.is_some() {
        return Some("--seed".into());
    }
    let mut flags: Vec<String> = settings
        .rows()
        .into_iter()
        .filter_map(|(_, _, source)| source.strip_prefix("flag ").map(str::to_owned))
        .collect();
    flags.dedup();
    (!flags.is_empty()).then(|| flags.join(", "))
}

/// Runs the execution in the server at `url`.
pub(crate) fn run(
    url: &str,
    args: &RunArgs,
    machine_name: &str,
    definition: &str,
    input: &Value,
) -> Result<ExitCode, Failure> {
    let express = args.machine_type == MachineType::Express;
    let machine_arn = ensure_machine(url, machine_name, definition, express)?;
    let mut start = json!({"stateMachineArn": machine_arn, "input": input.to_string()});
    if let Some(name) = &args.name {
        start["name"] = json!(name);
    }
    let described = if express {
        // An EXPRESS execution runs for up to 5 minutes before StartSyncExecution answers.
        let answer =
            remote::call_target_within(url, "AWSStepFunctions.StartSyncExecution", &start, Duration::from_secs(330));
        match answer.map_err(Failure::internal)? {
            Ok(value) => value,
            Err(ApiRefusal { name, message }) => return Err(refused("StartSyncExecution", &name, &message)),
        }
    } else {
        let started = call(url, "StartExecution", &start)?;
        let arn = started["executionArn"].as_str().unwrap_or_default().to_owned();
        eprintln!("sfnlite: the store is held by sfnlite serve ({}); running {arn} there", display(url));
        wait(url, &arn)?
    };
    let (info, outcome) = outcome(&described)?;
    report(&info, &outcome, args.format);
    Ok(super::setup::exit_code(&outcome))
}

/// The server's URL without the credentials it advertises.
fn display(url: &str) -> String {
    match url.strip_prefix("http://").and_then(|rest| rest.rsplit_once('@')) {
        Some((_, address)) => format!("http://{address}"),
        None => url.to_owned(),
    }
}

fn call(url: &str, operation: &str, body: &Value) -> Result<Value, Failure> {
    match remote::call(url, operation, body).map_err(Failure::internal)? {
        Ok(value) => Ok(value),
        Err(ApiRefusal { name, message }) => Err(refused(operation, &name, &message)),
    }
}

fn refused(operation: &str, name: &str, message: &str) -> Failure {
    let exit_code = if name == "InvalidDefinition" || name == "InvalidExecutionInput" { 1 } else { 2 };
    Failure { error: anyhow!("the server refused {operation}: {name}: {message}"), exit_code }
}

/// The state machine `name` with this definition and type: created, or updated when its
/// definition differs (its running executions keep theirs).
fn ensure_machine(url: &str, name: &str, definition: &str, express: bool) -> Result<String, Failure> {
    let machine_type = if express { "EXPRESS" } else { "STANDARD" };
    let create = json!({"name": name, "definition": definition, "roleArn": ROLE_ARN, "type": machine_type});
    match remote::call(url, "CreateStateMachine", &create).map_err(Failure::internal)? {
        Ok(created) => return Ok(created["stateMachineArn"].as_str().unwrap_or_default().to_owned()),
        Err(refusal) if refusal.name == "StateMachineAlreadyExists" => {}
        Err(ApiRefusal { name, message }) => return Err(refused("CreateStateMachine", &name, &message)),
    }
    let listed = call(url, "ListStateMachines", &json!({"maxResults": 1000}))?;
    let arn = listed["stateMachines"]
        .as_array()
        .and_then(|machines| machines.iter().find(|m| m["name"] == name))
        .and_then(|m| m["stateMachineArn"].as_str())
        .ok_or_else(|| Failure::internal(anyhow!("the server has no state machine named {name}")))?
        .to_owned();
    let described = call(url, "DescribeStateMachine", &json!({"stateMachineArn": arn}))?;
    if described["type"] != machine_type {
        return Err(Failure::usage(anyhow!(
            "the server's state machine {name} is {}, not {machine_type}: name another with --state-machine-name",
            described["type"].as_str().unwrap_or("of another type")
        )));
    }
    if described["definition"] != definition {
        call(url, "UpdateStateMachine", &json!({"stateMachineArn": arn, "definition": definition}))?;
    }
    Ok(arn)
}

/// DescribeExecution until the execution has ended.
fn wait(url: &str, arn: &str) -> Result<Value, Failure> {
    let mut delay = Duration::from_millis(20);
    loop {
        let described = call(url, "DescribeExecution", &json!({"executionArn": arn}))?;
        if described["status"] != "RUNNING" {
            return Ok(described);
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_millis(500));
    }
}

/// A DescribeExecution (or StartSyncExecution) answer as the engine reports a run.
fn outcome(described: &Value) -> Result<(ExecutionInfo, Outcome), Failure> {
    let text = |key: &str| described[key].as_str().map(str::to_owned);
    let status = text("status")
        .as_deref()
        .and_then(ExecutionStatus::parse)
        .ok_or_else(|| Failure::internal(anyhow!("the server answered no execution status: {described}")))?;
    let millis = |key: &str| described[key].as_f64().map_or(0, |s| (s * 1000.0).round() as i64);
    let parse =
        |key: &str| text(key).and_then(|t| sfnlite_engine::json::from_slice_any_depth::<Value>(t.as_bytes()).ok());
    let arn = text("executionArn").unwrap_or_default();
    let info = ExecutionInfo {
        name: text("name").unwrap_or_else(|| arn.rsplit(':').next().unwrap_or_default().to_owned()),
        arn,
        state_machine_arn: text("stateMachineArn").unwrap_or_default(),
        state_machine_name: String::new(),
        role_arn: ROLE_ARN.into(),
        region: String::new(),
        input: sfnlite_states::history::Payload::new(parse("input").unwrap_or(Value::Null)),
        redrive_count: 0,
        sync_express: false,
        express: false,
    };
    let outcome = Outcome {
        status,
        output: parse("output"),
        error: text("error"),
        cause: text("cause"),
        start_millis: millis("startDate"),
        stop_millis: millis("stopDate"),
    };
    Ok((info, outcome))
}

/// `sfnlite resume` while a server holds the store: the server resumed every RUNNING
/// execution when it started, so this waits for the one named (or all RUNNING ones) to
/// end and reports each as `resume` does.
pub(crate) fn resume(url: &str, execution: Option<&str>, format: crate::args::RunFormat) -> Result<ExitCode, Failure> {
    let read = |argv: &[&str]| -> Result<Value, Failure> {
        let answer = remote::call_target(url, "Sfnlite.ReadStore", &json!({ "argv": argv }))
            .map_err(Failure::internal)?
            .map_err(|r| Failure::internal(anyhow!("{}: {}", r.name, r.message)))?;
        if answer["exitCode"] != 0 {
            let message = answer["stderr"].as_str().unwrap_or_default().trim().trim_start_matches("sfnlite: ");
            return Err(Failure::usage(anyhow!("{message}")));
        }
        serde_json::from_str(answer["stdout"].as_str().unwrap_or_default()).map_err(|e| Failure::internal(e.into()))
    };
    let arns: Vec<String> = match execution {
        Some(query) => {
            let described = read(&["describe", query, "--format", "json"])?;
            if described["status"] != "RUNNING" {
                return Err(Failure::usage(anyhow!(
                    "execution {} has already ended ({})",
                    described["executionArn"].as_str().unwrap_or(query),
                    described["status"].as_str().unwrap_or("unknown")
                )));
            }
            vec![described["executionArn"].as_str().unwrap_or_default().to_owned()]
        }
        None => read(&["executions", "list", "--status", "RUNNING", "--format", "json"])?["executions"]
            .as_array()
            .map(|all| all.iter().filter_map(|e| e["executionArn"].as_str().map(str::to_owned)).collect())
            .unwrap_or_default(),
    };
    if arns.is_empty() {
        eprintln!("sfnlite: no RUNNING execution to resume");
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "sfnlite: the store is held by sfnlite serve ({}), which runs them; waiting for them to end",
        display(url)
    );
    let mut code = ExitCode::SUCCESS;
    for arn in arns {
        let (info, outcome) = outcome(&wait(url, &arn)?)?;
        report(&info, &outcome, format);
        if outcome.status != ExecutionStatus::Succeeded {
            code = ExitCode::from(1);
        }
    }
    Ok(code)
}

/// The URL of the `sfnlite serve` holding the store at `dir`, if one does (a `run` holding
/// it is not asked to run another execution).
pub(crate) fn serving(dir: &Path) -> Option<String> {
    remote::serving_endpoint(dir)
}
