//! `sfnlite`: run AWS Step Functions workflows locally.
//!
//! Exit codes (a contract, documented in README.md):
//! - 0: the execution SUCCEEDED, or the definition is valid;
//! - 1: the execution FAILED, TIMED_OUT or was ABORTED, or the definition is invalid;
//! - 2: usage error or unreadable input (file, JSON, mock configuration);
//! - 3: internal or store failure.

mod args;
mod commands;
mod input;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    match commands::dispatch(cli) {
        Ok(code) => code,
        Err(failure) => {
            eprintln!("sfnlite: {:#}", failure.error);
            ExitCode::from(failure.exit_code)
        }
    }
}
