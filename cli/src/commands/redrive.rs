//! `sfnlite redrive EXEC`: restart a FAILED, TIMED_OUT or ABORTED execution from where it
//! failed, as AWS RedriveExecution does.

use std::process::ExitCode;

use sfnlite_engine::find_execution;

use super::Failure;
use super::setup::{Continue, TaskSetup, continue_execution, open_store, store_dir};
use crate::args::RedriveArgs;

pub(crate) fn redrive(
    args: &RedriveArgs,
    store: &Option<std::path::PathBuf>,
    ephemeral: bool,
    services: &super::services::Services,
    settings: &crate::config::Settings,
) -> Result<ExitCode, Failure> {
    let stop_dir = (!ephemeral).then(|| store_dir(store));
    let store = open_store(store, ephemeral)?;
    let record = find_execution(store.as_ref(), &args.execution).map_err(super::engine_failure)?;
    continue_execution(
        Continue::Redrive,
        &record,
        &store,
        stop_dir,
        TaskSetup { mocks: &args.mocks, services, settings },
        args.format,
    )
}
