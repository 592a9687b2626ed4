//! One module per verb. Each returns the exit code, or a [`Failure`] carrying its own.

mod inspect;
mod redrive;
mod resume;
mod run;
mod setup;
mod stop;
mod validate;

use std::process::ExitCode;

use sfnlite_engine::EngineError;

use crate::args::{Cli, Command, ExecutionsCommand};

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
        EngineError::Definition { .. } => Failure::internal(error.into()),
        EngineError::NotRedrivable { .. } => Failure::usage(error.into()),
        other => Failure::usage(other.into()),
    }
}

pub(crate) fn dispatch(cli: Cli) -> Result<ExitCode, Failure> {
    let store = (&cli.store, cli.ephemeral);
    match cli.command {
        Command::Run(args) => run::run(args, &cli.store, cli.ephemeral),
        Command::Validate(args) => validate::validate(args),
        Command::Resume(args) => resume::resume(args, &cli.store, cli.ephemeral),
        Command::Executions(ExecutionsCommand::List(args)) => inspect::list(args, store),
        Command::Describe(args) => inspect::describe(args, store),
        Command::History(args) => inspect::history(args, store),
        Command::Stop(args) => stop::stop(args, &cli.store),
        Command::Redrive(args) => redrive::redrive(args, &cli.store, cli.ephemeral),
    }
}
