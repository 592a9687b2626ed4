//! `sfnlite activities create|list|delete` (through the API, like `state-machines`) and
//! `sfnlite activities work NAME --handler …`: a worker that takes the activity's tasks from
//! the process running the executions and answers them with a local handler.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::anyhow;
use serde_json::{Value, json};
use sfnlite_adapters::lambda::{Call, FunctionConfig, FunctionRef, LazyEndpoint, LocalLambda};
use sfnlite_engine::StoreError;

use super::services::Services;
use super::setup::{store_dir, store_failure};
use super::{Failure, machines, remote};
use crate::args::{ActivitiesCommand, TableFormat};

fn arn(name: &str, region: &str) -> String {
    machines::resource_arn("activity", name, region)
}

pub(crate) fn activities(
    command: ActivitiesCommand,
    services: Services,
    store: &Option<std::path::PathBuf>,
    ephemeral: bool,
) -> Result<ExitCode, Failure> {
    let region = services.lambda.region().to_owned();
    let (operation, body, format) = match command {
        ActivitiesCommand::Create { name } => ("CreateActivity", json!({"name": name}), None),
        ActivitiesCommand::List { format } => ("ListActivities", json!({}), Some(format)),
        ActivitiesCommand::Delete { name } => ("DeleteActivity", json!({"activityArn": arn(&name, &region)}), None),
        ActivitiesCommand::Work { name, handler, max_tasks, worker_name } => {
            return work(&arn(&name, &region), &handler, max_tasks, worker_name, &region, store);
        }
    };
    let answer = machines::call(operation, &body, services, store, ephemeral)?;
    let table = format.filter(|f| *f == TableFormat::Table);
    machines::print_answer(answer, table.map(|_| ("activities", &[("name", 32), ("activityArn", 0)][..])))
}

/// The API of the process that runs the store's executions.
fn holder(store: &Option<std::path::PathBuf>) -> Result<String, Failure> {
    let dir = store_dir(store);
    match super::setup::open_sled(&dir, Duration::ZERO) {
        Ok(_) => Err(Failure::usage(anyhow!(
            "no process runs executions on the store {}: start `sfnlite serve` (or the run) first; \
             activity tasks are handed out by the process that runs them",
            dir.display()
        ))),
        Err(StoreError::InUse { pid, .. }) => remote::endpoint(&dir, &pid)
            .ok_or_else(|| Failure::usage(anyhow!("process {pid} holds the store but serves no API"))),
        Err(e) => Err(store_failure(e)),
    }
}

/// Takes tasks and answers them until `max_tasks` are done (or for ever).
fn work(
    activity: &str,
    spec: &str,
    max_tasks: Option<u64>,
    worker_name: Option<String>,
    region: &str,
    store: &Option<std::path::PathBuf>,
) -> Result<ExitCode, Failure> {
    let url = holder(store)?;
    let cwd = std::env::current_dir().unwrap_or_default();
    let mut config = FunctionConfig::from_spec("activity-worker", spec, None, None, &cwd)
        .map_err(|e| Failure::usage(anyhow!("--handler: {e}")))?;
    // An activity task has no function timeout of its own; TimeoutSeconds bounds it.
    config.timeout = Duration::from_secs(900);
    config.concurrency = 1;
    let endpoint = Arc::new(LazyEndpoint::new());
    endpoint.set(url.clone());
    let lambda = Arc::new(LocalLambda::new(vec![config], region, endpoint));
    let worker = worker_name.unwrap_or_else(|| format!("sfnlite-{}", std::process::id()));
    let runtime = super::setup::runtime(false)?;
    let mut done = 0;
    eprintln!("sfnlite: working on {activity} as {worker}");
    while max_tasks.is_none_or(|max| done < max) {
        let poll = json!({"activityArn": activity, "workerName": worker});
        let task = remote::call(&url, "GetActivityTask", &poll)
            .map_err(|e| Failure::usage(e.context("the process running the executions went away")))?
            .map_err(|r| Failure { error: anyhow!("{}: {}", r.name, r.message), exit_code: 1 })?;
        let Some(token) = task["taskToken"].as_str() else { continue };
        let id = sfnlite_engine::entropy::new_uuid();
        let call = Call {
            function: FunctionRef::parse("activity-worker").expect("a plain name"),
            event: task["input"].as_str().unwrap_or("{}").to_owned(),
            request_id: id.clone(),
            client_context: None,
            state_timeout: None,
        };
        let invocation = runtime
            .block_on(sfnlite_adapters::service::run({
                let lambda = lambda.clone();
                async move { lambda.invoke(&call).await }
            }))
            .ok_or_else(|| Failure::internal(anyhow!("the handler is not mapped")))?;
        for line in &invocation.log {
            eprintln!("{line}");
        }
        let (operation, body) = match sfnlite_adapters::invocation_outcome(&invocation, &id) {
            Ok(output) => ("SendTaskSuccess", json!({"taskToken": token, "output": output.to_string()})),
            Err(error) => {
                let mut body = json!({"taskToken": token, "error": error.error.as_str()});
                if let Some(cause) = error.cause {
                    body["cause"] = Value::String(cause);
                }
                ("SendTaskFailure", body)
            }
        };
        match remote::call(&url, operation, &body) {
            Ok(Ok(_)) => {}
            Ok(Err(refusal)) => eprintln!("sfnlite: {operation} refused: {}: {}", refusal.name, refusal.message),
            // The answer may have ended the execution, and its process with it, before the
            // reply was written: the answer itself was delivered or not, and a next poll
            // says whether anyone is still there.
            Err(e) => eprintln!(
                "sfnlite: warning: {operation} got no reply ({e:#}); the process running the execution may have ended"
            ),
        }
        done += 1;
    }
    Ok(ExitCode::SUCCESS)
}
