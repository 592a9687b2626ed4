//! `sfnlite resume EXEC | --all`: finish executions a killed process left RUNNING.

use std::process::ExitCode;

use sfnlite_engine::{ExecutionStatus, find_execution};

use super::Failure;
use super::setup::{Continue, TaskSetup, continue_execution, open_store, store_dir, store_failure};
use crate::args::ResumeArgs;

pub(crate) fn resume(
    args: &ResumeArgs,
    store: &Option<std::path::PathBuf>,
    ephemeral: bool,
    services: &super::services::Services,
    settings: &crate::config::Settings,
) -> Result<ExitCode, Failure> {
    let stop_dir = (!ephemeral).then(|| store_dir(store));
    if let Some(url) = stop_dir.as_deref().and_then(super::run_remote::serving) {
        if args.mocks.mock_config.is_some() {
            return Err(Failure::usage(anyhow::anyhow!(
                "the store is held by sfnlite serve, which resumes executions with its own adapters, so --mock-config cannot apply"
            )));
        }
        return super::run_remote::resume(&url, args.execution.as_deref(), args.format);
    }
    let store = open_store(store, ephemeral)?;
    let targets = match &args.execution {
        Some(query) => vec![find_execution(store.as_ref(), query).map_err(super::engine_failure)?],
        None => store
            .executions()
            .map_err(store_failure)?
            .into_iter()
            // A Map Run's children are resumed by their parent.
            .filter(|e| e.status == ExecutionStatus::Running && e.origin.map_run.is_none())
            .collect(),
    };
    if targets.is_empty() {
        eprintln!("sfnlite: no RUNNING execution to resume");
        return Ok(ExitCode::SUCCESS);
    }
    let mut code = ExitCode::SUCCESS;
    for record in targets {
        // This process holds the store, so no other process is running the execution.
        let ended = continue_execution(
            Continue::Resume,
            &record,
            &store,
            stop_dir.clone(),
            TaskSetup { mocks: &args.mocks, services, settings },
            args.format,
        )?;
        if ended != ExitCode::SUCCESS {
            code = ExitCode::from(1);
        }
    }
    Ok(code)
}
