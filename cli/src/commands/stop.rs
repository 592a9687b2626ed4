//! `sfnlite stop EXEC` and the other half of it: the stop signal that `run`, `resume` and
//! `redrive` listen to.
//!
//! One process holds a store at a time. When no process runs the execution (its process
//! died), `stop` records `ExecutionAborted` itself. When the store is held, `stop` leaves a
//! request in `<store>/stop-requests/<pid>.json` and sends SIGTERM to the holder, which
//! aborts the execution, records it and exits; `stop` then reports the result.
//! A SIGTERM without a request (a shutdown, say) leaves the execution RUNNING, to resume.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::anyhow;
use serde_json::json;
use sfnlite_engine::{
    Engine, ExecutionRecord, ExecutionStatus, Registry, StopRequest, StoreError, SystemClock, find_execution,
};

use super::Failure;
use super::setup::{store_dir, store_failure};
use crate::args::StopArgs;

fn request_path(store: &Path, pid: u32) -> PathBuf {
    store.join("stop-requests").join(format!("{pid}.json"))
}

/// Completes when this process is asked to stop `record` (never with `--ephemeral`).
pub(crate) async fn stop_signal(store: Option<PathBuf>, arn: String, name: String) -> StopRequest {
    let Some(store) = store else {
        return std::future::pending().await;
    };
    let Ok(mut terminate) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) else {
        return std::future::pending().await;
    };
    loop {
        terminate.recv().await;
        let path = request_path(&store, std::process::id());
        let request =
            std::fs::read_to_string(&path).ok().and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok());
        let _ = std::fs::remove_file(&path);
        match request {
            Some(request) if matches(&request["execution"], &arn, &name) => {
                let text = |key: &str| request[key].as_str().map(str::to_owned);
                return StopRequest { error: text("error"), cause: text("cause") };
            }
            Some(_) => continue, // a request for another execution: keep running
            None => {
                eprintln!("sfnlite: terminated; execution {name} stays RUNNING: `sfnlite resume {name}` finishes it");
                sfnlite_adapters::lambda::kill_all_workers();
                std::process::exit(143);
            }
        }
    }
}

fn matches(query: &serde_json::Value, arn: &str, name: &str) -> bool {
    query.as_str().is_some_and(|q| arn == q || name == q || arn.starts_with(q) || name.starts_with(q))
}

fn print(record: &ExecutionRecord) {
    println!(
        "{}",
        json!({"executionArn": record.arn, "status": record.status.as_str(), "error": record.error, "cause": record.cause})
    );
}

/// Stops an execution through the API of the process holding the store (`serve`, or a
/// `run` with the children it started): its ARN from that process's own reading of `EXEC`
/// (names and prefixes as everywhere), then StopExecution, then its final record. A `run`
/// may exit as soon as its execution has stopped: the record is then read from the store.
fn stop_through_api(url: &str, dir: &std::path::Path, args: &StopArgs) -> Result<ExitCode, Failure> {
    use super::remote::call_target;
    let describe = |exec: &str| -> Result<Option<serde_json::Value>, Failure> {
        let argv = json!({"argv": ["describe", exec, "--format", "json"]});
        let Ok(answer) = call_target(url, "Sfnlite.ReadStore", &argv) else { return Ok(None) };
        let answer = answer.map_err(|r| Failure::internal(anyhow!("{}: {}", r.name, r.message)))?;
        if answer["exitCode"] != 0 {
            return Err(Failure {
                error: anyhow!(
                    "{}",
                    answer["stderr"].as_str().unwrap_or_default().trim().trim_start_matches("sfnlite: ")
                ),
                exit_code: answer["exitCode"].as_u64().unwrap_or(2) as u8,
            });
        }
        Ok(serde_json::from_str(answer["stdout"].as_str().unwrap_or_default()).ok())
    };
    let Some(described) = describe(&args.execution)? else {
        return Err(Failure::usage(anyhow!("the process holding the store {} does not answer", dir.display())));
    };
    let arn = described["executionArn"].as_str().unwrap_or_default().to_owned();
    let mut body = json!({"executionArn": arn});
    for (key, value) in [("error", &args.error), ("cause", &args.cause)] {
        if let Some(value) = value {
            body[key] = json!(value);
        }
    }
    if let Ok(Err(refusal)) = super::remote::call(url, "StopExecution", &body) {
        return Err(Failure { error: anyhow!("{}: {}", refusal.name, refusal.message), exit_code: 1 });
    }
    let record = match describe(&arn)? {
        Some(record) => record,
        // The holder ended with its execution: read the store once it is free.
        None => {
            let opened = super::setup::open_sled(dir, Duration::from_secs(10)).map_err(store_failure)?;
            let record = find_execution(&opened, &arn).map_err(super::engine_failure)?;
            json!({"executionArn": record.arn, "status": record.status.as_str(), "error": record.error, "cause": record.cause})
        }
    };
    println!(
        "{}",
        json!({"executionArn": record["executionArn"], "status": record["status"], "error": record.get("error"), "cause": record.get("cause")})
    );
    Ok(if record["status"] == "ABORTED" { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

pub(crate) fn stop(args: StopArgs, store: &Option<PathBuf>) -> Result<ExitCode, Failure> {
    if args.execution.trim().is_empty() {
        return Err(Failure::usage(anyhow!("name the execution to stop")));
    }
    let dir = store_dir(store);
    let request = StopRequest { error: args.error.clone(), cause: args.cause.clone() };
    match super::setup::open_sled(&dir, Duration::from_millis(200)) {
        Ok(opened) => {
            // This process holds the store: nobody is running the execution.
            let store = std::sync::Arc::new(opened);
            let record = find_execution(store.as_ref(), &args.execution).map_err(super::engine_failure)?;
            if let Some(map_run) = &record.origin.map_run {
                return Err(Failure::usage(anyhow!(
                    "{} is a child execution of the Map Run {map_run}: stop its parent execution",
                    record.arn
                )));
            }
            let engine = Engine::new(Registry::new(), std::sync::Arc::new(SystemClock), store);
            let record = engine.abort_orphan(&record.arn, request).map_err(super::engine_failure)?;
            print(&record);
            Ok(ExitCode::SUCCESS)
        }
        // The holder serves an API (`serve`, or a `run` and the children it started):
        // StopExecution through it (a signal would stop a server, and reaches no child).
        Err(StoreError::InUse { pid, .. }) if super::remote::endpoint(&dir, &pid).is_some() => {
            let url = super::remote::endpoint(&dir, &pid).unwrap_or_default();
            stop_through_api(&url, &dir, &args)
        }
        Err(StoreError::InUse { pid, .. }) => {
            let pid: u32 = pid
                .parse()
                .map_err(|_| Failure::usage(anyhow!("the store {} is in use by an unknown process", dir.display())))?;
            let path = request_path(&dir, pid);
            std::fs::create_dir_all(path.parent().unwrap_or(&dir)).map_err(|e| Failure::internal(e.into()))?;
            let body = json!({"execution": args.execution, "error": args.error, "cause": args.cause});
            std::fs::write(&path, body.to_string()).map_err(|e| Failure::internal(e.into()))?;
            // SAFETY: kill(2) with a pid and a signal number has no memory-safety preconditions.
            if unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) } != 0 {
                let _ = std::fs::remove_file(&path);
                return Err(Failure::usage(anyhow!(
                    "cannot signal process {pid}, which holds the store {}",
                    dir.display()
                )));
            }
            let started = Instant::now();
            loop {
                match super::setup::open_sled(&dir, Duration::from_millis(200)) {
                    Ok(opened) => {
                        let _ = std::fs::remove_file(&path);
                        let store = std::sync::Arc::new(opened);
                        let mut record =
                            find_execution(store.as_ref(), &args.execution).map_err(super::engine_failure)?;
                        if record.status == ExecutionStatus::Running {
                            // The holder ended without stopping it (it was not the runner, or
                            // died first): nobody runs it now, so stop it here.
                            let engine = Engine::new(Registry::new(), std::sync::Arc::new(SystemClock), store);
                            let request = StopRequest { error: args.error.clone(), cause: args.cause.clone() };
                            record = engine.abort_orphan(&record.arn, request).map_err(super::engine_failure)?;
                        }
                        print(&record);
                        return Ok(if record.status == ExecutionStatus::Aborted {
                            ExitCode::SUCCESS
                        } else {
                            eprintln!(
                                "sfnlite: execution {} ended {} before it could be stopped",
                                record.name,
                                record.status.as_str()
                            );
                            ExitCode::from(1)
                        });
                    }
                    Err(StoreError::InUse { .. }) if started.elapsed() < Duration::from_secs(10) => continue,
                    Err(e) => {
                        return Err(Failure::usage(anyhow!(
                            "asked process {pid} to stop '{}', but {e} (is that execution the one it runs?)",
                            args.execution
                        )));
                    }
                }
            }
        }
        Err(e) => Err(store_failure(e)),
    }
}
