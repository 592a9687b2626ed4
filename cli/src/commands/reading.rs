//! The commands that read a store (`executions list`, `describe`, `history`, `logs`): run
//! here when the store is free, or by the process that holds it (`run`, `serve`), which
//! advertises its API: the command's arguments go there and its output comes back, so a
//! long run can be watched from another terminal.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::anyhow;
use clap::Parser;
use serde_json::{Value, json};
use sfnlite_engine::{HistoryStore, StoreError};

use super::inspect::{self, Io};
use super::setup::{open_store, store_dir, store_failure};
use super::{Failure, remote};
use crate::args::{Cli, Command, ExecutionsCommand, SchedulesCommand};

/// Runs a reading command against `store`.
fn against(command: Command, store: &dyn HistoryStore, io: &mut Io) -> Result<ExitCode, Failure> {
    match command {
        Command::Executions(ExecutionsCommand::List(args)) => inspect::list(args, store, io),
        Command::Executions(ExecutionsCommand::Prune(args)) => super::prune::command(args, store, io),
        Command::Describe(args) => inspect::describe(args, store, io),
        Command::History(args) => inspect::history(args, store, io),
        Command::Logs(args) => inspect::logs(args, store, io),
        Command::Schedules(command) => super::schedules::command(command, store, io),
        Command::MapRuns(command) => inspect::map_runs(command, store, io),
        _ => Err(Failure::usage(anyhow!("only executions list, describe, history and logs read a store remotely"))),
    }
}

/// True for the commands this module runs.
pub(crate) fn is_reading(command: &Command) -> bool {
    matches!(
        command,
        Command::Executions(_)
            | Command::Describe(_)
            | Command::History(_)
            | Command::Logs(_)
            | Command::Schedules(_)
            | Command::MapRuns(_)
    )
}

pub(crate) fn print(io: &Io) {
    let _ = std::io::stdout().write_all(&io.out);
    let _ = std::io::stderr().write_all(&io.err);
}

/// Runs a reading command: locally, or through the process that holds the store.
pub(crate) fn read(command: Command, store: &Option<std::path::PathBuf>, ephemeral: bool) -> Result<ExitCode, Failure> {
    if let Command::History(args) = &command
        && args.follow
    {
        return super::follow::follow(args, store, ephemeral);
    }
    let captured = capture(command, store, ephemeral, None)?;
    print(&captured.io);
    captured.code
}

/// Runs a reading command and keeps what it prints. `argv` is what to send to a process
/// holding the store (default: this process's own arguments).
pub(crate) fn capture(
    command: Command,
    store: &Option<std::path::PathBuf>,
    ephemeral: bool,
    argv: Option<Vec<String>>,
) -> Result<Captured, Failure> {
    let mut io = Io::default();
    if ephemeral {
        let opened = open_store(store, true)?;
        let code = against(command, opened.as_ref(), &mut io);
        return Ok(Captured { io, code, remote: false });
    }
    let dir = store_dir(store);
    // The store is free (read it here), or held by a process that advertises its API (ask
    // it), or held by one that does not yet (it is starting), or by one that is ending (its
    // API stops answering as it lets the store go): look again until the wait ends.
    let deadline = std::time::Instant::now() + super::setup::lock_wait();
    // (A command that changes the store is not sent again: the holder may have run it.)
    let again = only_reads(&command);
    let mut argv = argv;
    let opened = loop {
        match super::setup::open_sled(&dir, Duration::ZERO) {
            Ok(opened) => break opened,
            Err(StoreError::InUse { pid, .. }) => {
                if let Some(url) = remote::endpoint(&dir, &pid) {
                    let argv = argv.get_or_insert_with(|| std::env::args().skip(1).collect()).clone();
                    match through(&url, argv) {
                        Ok(answered) => {
                            return answered.map(|(io, code)| Captured { io, code: Ok(code), remote: true });
                        }
                        Err(Unanswered(_)) if again && std::time::Instant::now() < deadline => {}
                        Err(Unanswered(failure)) => return Err(failure),
                    }
                } else if std::time::Instant::now() >= deadline {
                    return Err(store_failure(StoreError::InUse { path: dir.display().to_string(), pid }));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(store_failure(e)),
        }
    };
    let code = against(command, &opened, &mut io);
    Ok(Captured { io, code, remote: false })
}

/// Whether a command only reads (so asking again after no answer does no harm): not
/// `executions prune`, nor a schedule's creation, change or deletion.
fn only_reads(command: &Command) -> bool {
    match command {
        Command::Executions(ExecutionsCommand::Prune(_)) => false,
        Command::Schedules(command) => {
            matches!(command, SchedulesCommand::List { .. } | SchedulesCommand::Describe { .. })
        }
        _ => true,
    }
}

/// What a reading command printed, its exit code, and whether another process (the one
/// holding the store) answered it.
pub(crate) struct Captured {
    pub(crate) io: Io,
    pub(crate) code: Result<ExitCode, Failure>,
    pub(crate) remote: bool,
}

/// The holder's API gave no answer (it may be ending), as the failure to report if that lasts.
struct Unanswered(Failure);

/// Sends arguments to the holder's API: what the command printed there, and its exit code.
/// A refusal is the command's failure; no answer at all is [`Unanswered`].
fn through(url: &str, argv: Vec<String>) -> Result<Result<(Io, ExitCode), Failure>, Unanswered> {
    let answer = remote::call_target(url, "Sfnlite.ReadStore", &json!({ "argv": argv }))
        .map_err(|e| Unanswered(Failure::internal(e.context("the process holding the store did not answer"))))?;
    Ok(answer.map_err(|refusal| Failure::internal(anyhow!("{}: {}", refusal.name, refusal.message))).map(|answer| {
        let text = |key: &str| answer[key].as_str().unwrap_or_default().as_bytes().to_vec();
        (
            Io { out: text("stdout"), err: text("stderr") },
            ExitCode::from(answer["exitCode"].as_u64().unwrap_or(3).min(255) as u8),
        )
    }))
}

/// The holder's side: parses the arguments as sfnlite would and runs the reading command
/// against its own store.
pub(crate) struct Reader(pub(crate) Arc<dyn HistoryStore>);

impl sfnlite_server::StoreReader for Reader {
    fn read(&self, argv: &[String]) -> Value {
        let mut io = Io::default();
        let parsed = Cli::try_parse_from(std::iter::once("sfnlite".to_owned()).chain(argv.iter().cloned()));
        let code = match parsed {
            Ok(cli) if is_reading(&cli.command) => against(cli.command, self.0.as_ref(), &mut io),
            Ok(_) => Err(Failure::usage(anyhow!("only reading commands are answered for another process"))),
            Err(e) => Err(Failure::usage(anyhow!("{e}"))),
        };
        let exit = match code {
            Ok(code) => {
                if code == ExitCode::SUCCESS {
                    0
                } else {
                    1
                }
            }
            Err(failure) => {
                let _ = writeln!(io.err, "sfnlite: {:#}", failure.error);
                failure.exit_code
            }
        };
        json!({
            "stdout": String::from_utf8_lossy(&io.out),
            "stderr": String::from_utf8_lossy(&io.err),
            "exitCode": exit,
        })
    }
}
