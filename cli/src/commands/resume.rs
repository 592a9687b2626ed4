//! `sfnlite resume EXEC | --all`: finish executions a killed process left RUNNING.

use std::process::ExitCode;

use sfnlite_engine::{Engine, ExecutionStatus, find_execution};

use super::Failure;
use super::setup::{clock, exit_code, open_store, registry, report, runtime, store_dir, store_failure};
use super::stop::stop_signal;
use crate::args::ResumeArgs;

pub(crate) fn resume(
    args: ResumeArgs,
    store: &Option<std::path::PathBuf>,
    ephemeral: bool,
) -> Result<ExitCode, Failure> {
    let stop_dir = (!ephemeral).then(|| store_dir(store));
    let store = open_store(store, ephemeral)?;
    let targets = match &args.execution {
        Some(query) => vec![find_execution(store.as_ref(), query).map_err(super::engine_failure)?],
        None => store
            .executions()
            .map_err(store_failure)?
            .into_iter()
            .filter(|e| e.status == ExecutionStatus::Running)
            .collect(),
    };
    if targets.is_empty() {
        eprintln!("sfnlite: no RUNNING execution to resume");
        return Ok(ExitCode::SUCCESS);
    }
    let mut code = ExitCode::SUCCESS;
    for record in targets {
        // This process holds the store, so no other process is running the execution.
        let last_time = store.events(&record.arn).map_err(store_failure)?.last().map(|e| e.timestamp);
        let registry = registry(&args.mocks)?;
        let result = runtime(record.virtual_clock)?.block_on(async {
            let engine = Engine::new(registry, clock(record.virtual_clock, last_time), store.clone());
            let stop = stop_signal(stop_dir.clone(), record.arn.clone(), record.name.clone());
            engine.resume(&record.arn, stop).await
        });
        let (info, outcome) = result.map_err(super::engine_failure)?;
        eprintln!("sfnlite: resumed {}: {}", info.name, outcome.status.as_str());
        report(&info, &outcome, args.format);
        if exit_code(&outcome) != ExitCode::SUCCESS {
            code = ExitCode::from(1);
        }
    }
    Ok(code)
}
