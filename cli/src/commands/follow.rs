//! `sfnlite history EXEC --follow`: the events so far, then each new one as it is stored,
//! until the execution ends. The process running the execution holds the store, so the
//! events are asked of it (`history --after-id N`, `describe`) a few times a second; a
//! store no process holds is read once (nothing can add to it).

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::anyhow;
use clap::Parser;
use serde_json::Value;

use super::Failure;
use super::reading::{capture, print};
use crate::args::{Cli, HistoryArgs, HistoryFormat};

/// How often the process holding the store is asked for new events.
const POLL: Duration = Duration::from_millis(250);

pub(crate) fn follow(args: &HistoryArgs, store: &Option<PathBuf>, ephemeral: bool) -> Result<ExitCode, Failure> {
    if args.format == HistoryFormat::Html {
        return Err(Failure::usage(anyhow!(
            "--follow prints events as they arrive (--format table or json); --format html writes a page once"
        )));
    }
    let mut printer = Printer { format: args.format, after: 0, states: HashMap::new(), header: false };
    loop {
        let described = ask(&["describe", &args.execution, "--format", "json"], store, ephemeral)?;
        // The events after the status: those stored before it ended are all in.
        let history = ask(
            &["history", &args.execution, "--format", "json", "--after-id", &printer.after.to_string()],
            store,
            ephemeral,
        )?;
        printer.print(history.value["events"].as_array().map_or(&[][..], Vec::as_slice));
        let status = described.value["status"].as_str().unwrap_or_default();
        if status != "RUNNING" {
            return Ok(ExitCode::SUCCESS);
        }
        if !history.remote {
            // The run may have ended between the two questions (and its process with it):
            // ask again, here, before calling it orphaned.
            let again = ask(&["describe", &args.execution, "--format", "json"], store, ephemeral)?;
            if again.remote {
                // Another process holds the store now (a resume): keep following there.
                std::thread::sleep(POLL);
                continue;
            }
            if again.value["status"].as_str() != Some("RUNNING") {
                let rest = ask(
                    &["history", &args.execution, "--format", "json", "--after-id", &printer.after.to_string()],
                    store,
                    ephemeral,
                )?;
                printer.print(rest.value["events"].as_array().map_or(&[][..], Vec::as_slice));
                return Ok(ExitCode::SUCCESS);
            }
            eprintln!(
                "sfnlite: {} is RUNNING but no process runs it (one was killed): `sfnlite resume` finishes it",
                args.execution
            );
            return Ok(ExitCode::SUCCESS);
        }
        std::thread::sleep(POLL);
    }
}

struct Answer {
    value: Value,
    remote: bool,
}

/// Runs a reading command (here, or in the process holding the store) and parses its JSON.
fn ask(argv: &[&str], store: &Option<PathBuf>, ephemeral: bool) -> Result<Answer, Failure> {
    let argv: Vec<String> = argv.iter().map(|a| (*a).to_owned()).collect();
    let cli = Cli::try_parse_from(std::iter::once("sfnlite".to_owned()).chain(argv.iter().cloned()))
        .map_err(|e| Failure::internal(anyhow!("{e}")))?;
    let captured = capture(cli.command, store, ephemeral, Some(argv))?;
    match captured.code {
        Ok(code) if code == ExitCode::SUCCESS => {}
        Ok(code) => {
            print(&captured.io);
            return Err(Failure { error: anyhow!("reading the execution failed"), exit_code: exit_number(code) });
        }
        Err(failure) => {
            print(&captured.io);
            return Err(failure);
        }
    }
    let value = serde_json::from_slice(&captured.io.out)
        .map_err(|e| Failure::internal(anyhow!("the store's answer is not JSON: {e}")))?;
    Ok(Answer { value, remote: captured.remote })
}

fn exit_number(code: ExitCode) -> u8 {
    // ExitCode has no accessor; the reading commands end 2 or 3 when they fail.
    if code == ExitCode::from(2) { 2 } else { 3 }
}

/// Prints events once each, as table rows or JSON lines.
struct Printer {
    format: HistoryFormat,
    after: u64,
    /// Each event's state (by id), inherited along `previousEventId` as the table does.
    states: HashMap<u64, String>,
    header: bool,
}

impl Printer {
    fn print(&mut self, events: &[Value]) {
        let mut out = std::io::stdout().lock();
        for event in events {
            let id = event["id"].as_u64().unwrap_or(0);
            if id <= self.after {
                continue;
            }
            self.after = id;
            if self.format == HistoryFormat::Json {
                let _ = writeln!(out, "{event}");
                continue;
            }
            let named = event.as_object().and_then(|o| {
                o.iter()
                    .find(|(k, _)| k.ends_with("EventDetails"))
                    .and_then(|(_, d)| d["name"].as_str().map(str::to_owned))
            });
            let kind = event["type"].as_str().unwrap_or_default();
            let state = match named {
                Some(name) if kind.ends_with("StateEntered") => name,
                _ => self.states.get(&event["previousEventId"].as_u64().unwrap_or(0)).cloned().unwrap_or_default(),
            };
            self.states.insert(id, state.clone());
            if !self.header {
                let _ = writeln!(out, "{:>5}  {:<24}  {:<28} STATE", "ID", "TIMESTAMP", "TYPE");
                self.header = true;
            }
            let _ =
                writeln!(out, "{id:>5}  {:<24}  {kind:<28} {state}", event["timestamp"].as_str().unwrap_or_default());
        }
        let _ = out.flush();
    }
}
