//! `sfnlite task success|failure|heartbeat TOKEN`: answers a `.waitForTaskToken` task.
//!
//! While a process holds the store (a `run` waiting on the token, or `serve`), the answer
//! goes to its API (SendTaskSuccess, …); otherwise it is recorded in the store, and the
//! execution takes it when `sfnlite resume` carries it on.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::anyhow;
use serde_json::{Value, json};
use sfnlite_engine::{Callbacks, Signal, StoreError, TokenError};

use super::Failure;
use super::remote;
use super::setup::{store_dir, store_failure};
use crate::args::TaskCommand;
use crate::input::parse_json;

pub(crate) fn task(command: TaskCommand, store: &Option<std::path::PathBuf>) -> Result<ExitCode, Failure> {
    let (operation, token, signal) = match command {
        TaskCommand::Success { token, output } => {
            let value = parse_json(&output, "--output").map_err(Failure::usage)?;
            (("SendTaskSuccess", json!({"taskToken": token, "output": output})), token, Signal::Success(value))
        }
        TaskCommand::Failure { token, error, cause } => {
            // The API's limits, checked here too for answers recorded without it.
            if error.as_ref().is_some_and(|e| e.chars().count() > 256) {
                return Err(Failure::usage(anyhow!("--error: at most 256 characters (the API's limit)")));
            }
            if cause.as_ref().is_some_and(|c| c.chars().count() > 32_768) {
                return Err(Failure::usage(anyhow!("--cause: at most 32768 characters (the API's limit)")));
            }
            let mut body = json!({"taskToken": token});
            if let Some(e) = &error {
                body["error"] = json!(e);
            }
            if let Some(c) = &cause {
                body["cause"] = json!(c);
            }
            (("SendTaskFailure", body), token, Signal::Failure { error, cause })
        }
        TaskCommand::Heartbeat { token } => {
            (("SendTaskHeartbeat", json!({"taskToken": token})), token, Signal::Heartbeat)
        }
    };
    let dir = store_dir(store);
    if !dir.join("db").exists() {
        return Err(Failure::usage(anyhow!("no store at {} (--store, SFNLITE_STORE)", dir.display())));
    }
    let heartbeat = signal == Signal::Heartbeat;
    let expected = signal.clone();
    match super::setup::open_sled(&dir, Duration::ZERO) {
        Ok(opened) => match Callbacks::new().answer(&opened, &token, signal) {
            Ok(()) if heartbeat => {
                eprintln!("sfnlite: the token is open, but no process runs its execution now: nothing to keep alive");
                Ok(ExitCode::SUCCESS)
            }
            Ok(()) => {
                eprintln!("sfnlite: recorded; no process runs the execution now: `sfnlite resume` carries it on");
                Ok(ExitCode::SUCCESS)
            }
            Err(TokenError::Store(e)) => Err(store_failure(e)),
            Err(refused @ TokenError::Invalid) => Err(refusal(&format!("InvalidToken: {refused}"))),
            Err(refused) => Err(refusal(&format!("TaskTimedOut: {refused}"))),
        },
        Err(StoreError::InUse { pid, .. }) => {
            let Some(url) = remote::endpoint(&dir, &pid) else {
                return Err(Failure::usage(anyhow!(
                    "the store is held by process {pid}, which serves no API to answer tokens through"
                )));
            };
            let (operation, body): (&str, Value) = operation;
            let answer = match remote::call(&url, operation, &body) {
                Ok(answer) => answer,
                // The run may end (and exit) as soon as it has the answer, before its server
                // has written the response: the store then says whether it was taken.
                Err(lost) => return confirm(&dir, &token, &expected, lost),
            };
            match answer {
                Ok(_) => Ok(ExitCode::SUCCESS),
                Err(refusal_) => Err(refusal(&format!("{}: {}", refusal_.name, refusal_.message))),
            }
        }
        Err(e) => Err(store_failure(e)),
    }
}

/// After a lost response: the answer was taken when the token's document holds it.
fn confirm(dir: &std::path::Path, token: &str, expected: &Signal, lost: anyhow::Error) -> Result<ExitCode, Failure> {
    if *expected != Signal::Heartbeat
        && let Ok(opened) = super::setup::open_sled(dir, Duration::from_secs(5))
        && Callbacks::new().recorded(&opened, token).ok().flatten().as_ref() == Some(expected)
    {
        return Ok(ExitCode::SUCCESS);
    }
    Err(Failure::internal(lost.context("the answer's fate is unknown")))
}

/// An unknown or closed token: exit 1, as for a failed operation.
fn refusal(message: &str) -> Failure {
    Failure { error: anyhow!("{message}"), exit_code: 1 }
}
