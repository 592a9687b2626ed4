//! The `sfnlite` command as a library: `main.rs` parses nothing itself and calls [`run`];
//! the fuzz targets reach `sfnlite.toml`'s reader through [`fuzz`].
//!
//! Exit codes (a contract, documented in README.md):
//! - 0: the execution SUCCEEDED, or the definition is valid;
//! - 1: the execution FAILED, TIMED_OUT or was ABORTED, or the definition is invalid;
//! - 2: usage error or unreadable input (file, JSON, mock configuration);
//! - 3: internal or store failure.

mod args;
mod commands;
mod config;
mod input;

use std::process::ExitCode;

use clap::Parser;

/// Parses the arguments, runs the command, and reports a failure on stderr.
pub fn run() -> ExitCode {
    let cli = args::Cli::parse();
    match commands::dispatch(cli) {
        Ok(code) => code,
        Err(failure) => {
            eprintln!("sfnlite: {:#}", failure.error);
            ExitCode::from(failure.exit_code)
        }
    }
}

/// Entry points for the fuzz targets (`fuzz/`), not an API.
#[doc(hidden)]
pub mod fuzz {
    /// Reads `text` as `sfnlite.toml` and applies every check `sfnlite` applies to it
    /// (with no flags given): the settings, or the message a user would see.
    pub fn config(text: &str) -> Result<(), String> {
        crate::config::load_text(text).map(|_| ()).map_err(|e| format!("{e:#}"))
    }
}
