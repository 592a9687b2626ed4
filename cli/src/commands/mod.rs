//! One module per verb. Each returns the exit code, or a [`Failure`] carrying its own.

mod activities;
mod athena;
mod follow;
mod inspect;
mod loopback;
mod machines;
mod observed;
mod progress;
pub(crate) mod prune;
mod reading;
mod redrive;
mod remote;
mod resume;
mod run;
mod run_remote;
mod s3;
mod schedules;
mod serve;
mod services;
mod setup;
mod stop;
mod store;
mod task;
mod test;
mod validate;

use std::process::ExitCode;

use sfnlite_engine::EngineError;

use crate::args::{AthenaCommand, Cli, Command, TableFormat};
use crate::config;

/// An error that ends the command, with the exit code it maps to.
pub(crate) struct Failure {
    pub(crate) error: anyhow::Error,
    pub(crate) exit_code: u8,
}

impl Failure {
    /// Unreadable or invalid user input: exit 2.
    pub(crate) fn usage(error: anyhow::Error) -> Failure {
        Failure { error, exit_code: 2 }
    }

    /// An internal or store failure: exit 3.
    pub(crate) fn internal(error: anyhow::Error) -> Failure {
        Failure { error, exit_code: 3 }
    }
}

/// Engine errors the user can act on (unknown execution, ended already) are usage errors.
pub(crate) fn engine_failure(error: EngineError) -> Failure {
    match error {
        EngineError::Store(e) => setup::store_failure(e),
        EngineError::Definition { .. } | EngineError::Diverged { .. } => Failure::internal(error.into()),
        EngineError::NotRedrivable { .. } => Failure::usage(error.into()),
        other => Failure::usage(other.into()),
    }
}

pub(crate) fn dispatch(cli: Cli) -> Result<ExitCode, Failure> {
    // Settings are read only by the commands that use them, so a broken sfnlite.toml
    // does not stop `validate` or `history`.
    let needs_settings = !matches!(
        cli.command,
        Command::Validate(_)
            | Command::Graph(_)
            | Command::Executions(_)
            | Command::Describe(_)
            | Command::History(_)
            | Command::Logs(_)
            | Command::Schedules(_)
            | Command::MapRuns(_)
            | Command::Task(_)
            | Command::Stop(_)
            | Command::Store(_)
    );
    let loaded = if needs_settings { Some(config::load(&cli).map_err(Failure::usage)?) } else { None };
    let settings = || loaded.as_ref().ok_or_else(|| Failure::internal(anyhow::anyhow!("settings were not loaded")));
    match cli.command {
        Command::Run(ref args) => {
            setup::interrupt_takes_workers();
            let settings = settings()?;
            let services = services::open(settings)?;
            run::run(args, settings, &services, &cli.store, cli.ephemeral)
        }
        Command::Validate(args) => validate::validate(args),
        Command::Graph(args) => validate::graph(args),
        Command::Resume(ref args) => {
            setup::interrupt_takes_workers();
            let settings = settings()?;
            let services = services::open(settings)?;
            resume::resume(args, &cli.store, cli.ephemeral, &services, settings)
        }
        command @ (Command::Executions(_)
        | Command::Describe(_)
        | Command::History(_)
        | Command::Logs(_)
        | Command::Schedules(_)
        | Command::MapRuns(_)) => {
            setup::small_pages();
            reading::read(command, &cli.store, cli.ephemeral)
        }
        Command::Task(command) => {
            setup::small_pages();
            task::task(command, &cli.store)
        }
        Command::Store(command) => store::store(command, &cli.store, cli.ephemeral),
        Command::Activities(command) => {
            let services = services::open(settings()?)?;
            activities::activities(command, services, &cli.store, cli.ephemeral)
        }
        Command::StateMachines(command) => {
            let services = services::open(settings()?)?;
            machines::machines(command, services, &cli.store, cli.ephemeral)
        }
        Command::Stop(args) => {
            setup::small_pages();
            stop::stop(args, &cli.store)
        }
        Command::Redrive(ref args) => {
            setup::interrupt_takes_workers();
            let settings = settings()?;
            let services = services::open(settings)?;
            redrive::redrive(args, &cli.store, cli.ephemeral, &services, settings)
        }
        Command::Config(ref args) => show_config(settings()?, args.format),
        Command::S3(command) => {
            let services = services::open(settings()?)?;
            s3::s3(command, services)
        }
        Command::Athena(AthenaCommand::Query(args)) => {
            let services = services::open(settings()?)?;
            athena::query(args, services)
        }
        Command::Serve(ref args) => {
            let settings = settings()?;
            let keys = if args.require_auth { Some(serve::access_keys(settings)?) } else { None };
            let services = services::open(settings)?;
            serve::serve(args, services, keys, settings, &cli.store, cli.ephemeral)
        }
        Command::Scheduler(ref args) => {
            setup::interrupt_takes_workers();
            let settings = settings()?;
            let services = services::open(settings)?;
            schedules::scheduler(args, services, settings, &cli.store, cli.ephemeral)
        }
        Command::Test(ref args) => {
            setup::interrupt_takes_workers();
            let mut settings = settings()?.clone();
            // Tests write to a data root of their own (gone afterwards), unless one is given.
            let scratch = tempfile::tempdir()
                .map_err(|e| Failure::internal(anyhow::anyhow!("cannot make a scratch data root: {e}")))?;
            if !settings.data_dir.source.starts_with("flag") && !settings.data_dir.source.contains("SFNLITE_DATA_DIR") {
                settings.data_dir.value = scratch.path().to_path_buf();
            }
            // Handlers' sleeps take no wall time under test (Python's `time.sleep`).
            for function in &mut settings.lambdas {
                function.value.environment.insert("SFNLITE_VIRTUAL_SLEEP".into(), "1".into());
            }
            let services = services::open(&settings)?;
            let code = test::test(args, &services, &settings, &cli.store);
            setup::settle(&services);
            code
        }
    }
}

/// `sfnlite config`: every setting, its value and where it came from.
fn show_config(settings: &config::Settings, format: TableFormat) -> Result<ExitCode, Failure> {
    let rows = settings.rows();
    match format {
        TableFormat::Json => {
            let rows: Vec<serde_json::Value> =
                rows.iter().map(|(k, v, s)| serde_json::json!({"setting": k, "value": v, "source": s})).collect();
            println!("{}", serde_json::to_string_pretty(&rows).unwrap_or_default());
        }
        TableFormat::Table => {
            let width = rows.iter().map(|(k, _, _)| k.len()).max().unwrap_or(0);
            let value_width = rows.iter().map(|(_, v, _)| v.chars().count()).max().unwrap_or(0).min(60);
            for (key, value, source) in rows {
                println!("{key:<width$}  {value:<value_width$}  ({source})");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
