//! One module per verb. Each returns the exit code, or a [`Failure`] carrying its own.

mod run;
mod validate;

use std::process::ExitCode;

use crate::args::{Cli, Command};

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

pub(crate) fn dispatch(cli: Cli) -> Result<ExitCode, Failure> {
    match cli.command {
        Command::Run(args) => run::run(args),
        Command::Validate(args) => validate::validate(args),
    }
}
