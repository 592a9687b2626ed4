//! `sfnlite state-machines create|update|list|delete`: the state machines that executions
//! start by ARN (a nested `states:startExecution`), kept as CreateStateMachine keeps them
//! (the same store documents `serve` uses). The requests go to this process's own API over
//! the store, or to the API of the process holding it.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::anyhow;
use serde_json::{Value, json};
use sfnlite_engine::{HistoryStore, StoreError, SystemClock};
use sfnlite_server::Api;
use sfnlite_server::executor::Executor;

use super::loopback::ApiAdapters;
use super::services::Services;
use super::setup::{open_store, store_dir, store_failure};
use super::validate::{load, print_diagnostics};
use super::{Failure, remote};
use crate::args::{DefinitionArgs, MachineDefinition, MachineType, MachinesCommand, TableFormat};

const ROLE: &str = "arn:aws:iam::123456789012:role/sfnlite";

/// `arn:aws:states:REGION:ACCOUNT:KIND:NAME` (a state machine, an activity).
pub(crate) fn resource_arn(kind: &str, name: &str, region: &str) -> String {
    format!("arn:aws:states:{region}:{}:{kind}:{name}", sfnlite_engine::ACCOUNT_ID)
}

fn arn(name: &str, region: &str) -> String {
    resource_arn("stateMachine", name, region)
}

/// The definition's text after substitutions, refused (with its diagnostics) when invalid.
fn definition(given: &MachineDefinition) -> Result<String, Failure> {
    let args = DefinitionArgs { file: given.definition.clone(), substitutions: given.substitutions.clone() };
    let (text, machine, diagnostics) = load(&args)?;
    if machine.is_none() {
        print_diagnostics(&args.file, &diagnostics);
        return Err(Failure { error: anyhow!("{}: the definition is invalid", args.file.display()), exit_code: 1 });
    }
    Ok(text)
}

pub(crate) fn machines(
    command: MachinesCommand,
    services: Services,
    store: &Option<std::path::PathBuf>,
    ephemeral: bool,
) -> Result<ExitCode, Failure> {
    let region = services.lambda.region().to_owned();
    let (operation, body, format) = match &command {
        MachinesCommand::Create { name, definition: given, machine_type } => {
            let kind = if *machine_type == MachineType::Express { "EXPRESS" } else { "STANDARD" };
            let body = json!({"name": name, "definition": definition(given)?, "roleArn": ROLE, "type": kind});
            ("CreateStateMachine", body, None)
        }
        MachinesCommand::Update { name, definition: given } => {
            let body = json!({"stateMachineArn": arn(name, &region), "definition": definition(given)?});
            ("UpdateStateMachine", body, None)
        }
        MachinesCommand::List { format } => ("ListStateMachines", json!({}), Some(*format)),
        MachinesCommand::Delete { name } => {
            ("DeleteStateMachine", json!({"stateMachineArn": arn(name, &region)}), None)
        }
    };
    let answer = call(operation, &body, services, store, ephemeral)?;
    let table = format.filter(|f| *f == TableFormat::Table);
    print_answer(answer, table.map(|_| ("stateMachines", &[("name", 32), ("type", 9), ("stateMachineArn", 0)][..])))
}

/// Prints an API answer: a table of `list`'s items (each column a field and a width, 0 for
/// the last) when given, else the JSON. A refusal is exit 1.
pub(crate) fn print_answer(
    answer: Result<Value, String>,
    table: Option<(&str, &[(&str, usize)])>,
) -> Result<ExitCode, Failure> {
    let answer = answer.map_err(|refusal| Failure { error: anyhow!("{refusal}"), exit_code: 1 })?;
    match table {
        Some((list, columns)) => {
            for item in answer[list].as_array().into_iter().flatten() {
                let cells: Vec<String> = columns
                    .iter()
                    .map(|(field, width)| format!("{:<width$}", item[*field].as_str().unwrap_or_default()))
                    .collect();
                println!("{}", cells.join(" ").trim_end());
            }
        }
        None => println!("{}", serde_json::to_string_pretty(&answer).unwrap_or_default()),
    }
    Ok(ExitCode::SUCCESS)
}

/// One API call: through the holder of the store, or an API of this process's own.
pub(crate) fn call(
    operation: &str,
    body: &Value,
    services: Services,
    store: &Option<std::path::PathBuf>,
    ephemeral: bool,
) -> Result<Result<Value, String>, Failure> {
    let dir = store_dir(store);
    let opened: Arc<dyn HistoryStore> = if ephemeral {
        open_store(store, true)?
    } else {
        match super::setup::open_sled(&dir, Duration::ZERO) {
            Ok(opened) => Arc::new(opened),
            Err(StoreError::InUse { pid, .. }) if remote::endpoint(&dir, &pid).is_some() => {
                let url = remote::endpoint(&dir, &pid).unwrap_or_default();
                let answer = remote::call(&url, operation, body).map_err(Failure::internal)?;
                return Ok(answer.map_err(|r| format!("{}: {}", r.name, r.message)));
            }
            Err(StoreError::InUse { .. }) => open_store(store, false)?,
            Err(e) => return Err(store_failure(e)),
        }
    };
    let executor =
        Executor::start().map_err(|e| Failure::internal(anyhow!("cannot start the execution thread: {e}")))?;
    let region = services.lambda.region().to_owned();
    let adapters = Arc::new(ApiAdapters { services, mock_config: None, logs: opened.clone() });
    let api = Api::new(opened, Arc::new(SystemClock), &region, adapters, executor);
    let runtime = super::setup::runtime(false)?;
    let answer = runtime.block_on(api.call(operation, body.to_string().as_bytes()));
    Ok(answer.map_err(|e| format!("{}: {}", e.name, e.message)))
}
