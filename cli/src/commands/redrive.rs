//! `sfnlite redrive EXEC`: restart a FAILED, TIMED_OUT or ABORTED execution from where it
//! failed, as AWS RedriveExecution does.

use std::process::ExitCode;

use sfnlite_engine::{Engine, find_execution};

use super::Failure;
use super::setup::{clock, exit_code, open_store, registry, report, runtime, store_dir};
use super::stop::stop_signal;
use crate::args::RedriveArgs;

pub(crate) fn redrive(
    args: RedriveArgs,
    store: &Option<std::path::PathBuf>,
    ephemeral: bool,
) -> Result<ExitCode, Failure> {
    let stop_dir = (!ephemeral).then(|| store_dir(store));
    let store = open_store(store, ephemeral)?;
    let record = find_execution(store.as_ref(), &args.execution).map_err(super::engine_failure)?;
    let registry = registry(&args.mocks)?;
    let last_time = store.events(&record.arn).map_err(super::setup::store_failure)?.last().map(|e| e.timestamp);
    let result = runtime(record.virtual_clock)?.block_on(async {
        let engine = Engine::new(registry, clock(record.virtual_clock, last_time), store.clone());
        let stop = stop_signal(stop_dir, record.arn.clone(), record.name.clone());
        engine.redrive(&record.arn, stop).await
    });
    let (info, outcome) = result.map_err(super::engine_failure)?;
    eprintln!("sfnlite: redrove {}: {}", info.name, outcome.status.as_str());
    report(&info, &outcome, args.format);
    Ok(exit_code(&outcome))
}
