//! `sfnlite executions prune`: removes closed executions and reclaims their space; also the
//! automatic retention of `sfnlite.toml` (`[store] retention`).

use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::anyhow;
use serde_json::json;
use sfnlite_engine::{ExecutionStatus, HistoryStore, PruneCriteria, PruneReport, prune};

use super::Failure;
use super::inspect::Io;
use super::setup::store_failure;
use crate::args::{PruneArgs, TableFormat};

/// Parses `--older-than`: a whole number and a unit (s, m, h, d, w).
pub(crate) fn parse_age(text: &str) -> Result<Duration, String> {
    let unit_at = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(unit_at);
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return Err(format!("'{text}': expected a number and a unit, s, m, h, d or w (e.g. 90d)")),
    };
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(seconds))
        .filter(|s| *s <= 100 * 365 * 86_400)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("'{text}': expected a whole number of at most 100 years (e.g. 90d)"))
}

/// Parses `--status`: a closed status.
pub(crate) fn parse_status(text: &str) -> Result<ExecutionStatus, String> {
    match ExecutionStatus::parse(text) {
        Some(ExecutionStatus::Running) => Err("RUNNING executions are never pruned".into()),
        Some(status) => Ok(status),
        None => Err(format!("'{text}': expected SUCCEEDED, FAILED, TIMED_OUT or ABORTED")),
    }
}

/// The criteria for executions older than `age` (and with these statuses), with the
/// documents that belong to executions besides the engine's own.
pub(crate) fn criteria(age: Option<Duration>, statuses: Vec<ExecutionStatus>, dry_run: bool) -> PruneCriteria {
    PruneCriteria {
        older_than_millis: age.map(|a| i64::try_from(a.as_millis()).unwrap_or(i64::MAX)),
        statuses,
        dry_run,
        keyed_by_execution: vec![sfnlite_adapters::LOG_KIND.to_owned(), sfnlite_server::PARENT_KIND.to_owned()],
        naming_execution: Vec::new(),
    }
}

/// Now, in epoch milliseconds (retention counts from the wall clock: stop dates are real).
pub(crate) fn now_millis() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// `sfnlite executions prune`.
pub(crate) fn command(args: PruneArgs, store: &dyn HistoryStore, io: &mut Io) -> Result<ExitCode, Failure> {
    if args.older_than.is_none() && args.status.is_empty() && !args.all {
        return Err(Failure::usage(anyhow!(
            "executions prune: say what to remove: --older-than AGE (e.g. 90d), --status STATUS, or --all"
        )));
    }
    let report =
        prune(store, &criteria(args.older_than, args.status, args.dry_run), now_millis()).map_err(store_failure)?;
    match args.format {
        TableFormat::Json => {
            let value = json!({
                "dryRun": args.dry_run,
                "executions": report.executions,
                "documents": report.documents,
                "chunksRemoved": report.garbage.chunks_removed,
                "packsRemoved": report.garbage.packs_removed,
                "packsRewritten": report.garbage.packs_rewritten,
                "bytesReclaimed": report.garbage.bytes_reclaimed,
            });
            let _ = writeln!(io.out, "{value:#}");
        }
        TableFormat::Table => {
            for arn in &report.executions {
                let _ = writeln!(io.out, "{arn}");
            }
            let _ = writeln!(io.err, "{}", summary(&report, args.dry_run));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One line for people.
pub(crate) fn summary(report: &PruneReport, dry_run: bool) -> String {
    let verb = if dry_run { "would remove" } else { "removed" };
    let mut line = format!(
        "{verb} {} execution(s) with their histories and {} other record(s)",
        report.executions.len(),
        report.documents
    );
    if !dry_run {
        line += &format!("; reclaimed {} bytes", report.garbage.bytes_reclaimed);
    }
    line
}

/// The store document that records when the automatic retention last ran.
const RETENTION_KIND: &str = "store";
const RETENTION_KEY: &str = "retention";
/// The automatic retention runs at most this often.
const RETENTION_EVERY_MILLIS: i64 = 86_400_000;

/// The automatic retention (`[store] retention`): prunes closed executions older than
/// `retention`, unless it already did less than a day ago. A failure is reported on stderr
/// and does not stop the command.
pub(crate) fn retain(store: &dyn HistoryStore, retention: Option<Duration>) {
    let Some(retention) = retention else { return };
    let now = now_millis();
    let last = store.document(RETENTION_KIND, RETENTION_KEY).ok().flatten();
    if last.and_then(|l| l["lastMillis"].as_i64()).is_some_and(|last| now - last < RETENTION_EVERY_MILLIS) {
        return;
    }
    match prune(store, &criteria(Some(retention), Vec::new(), false), now) {
        Ok(report) => {
            if !report.executions.is_empty() {
                eprintln!("sfnlite: [store] retention: {}", summary(&report, false));
            }
            let _ = store.put_document(RETENTION_KIND, RETENTION_KEY, &json!({"lastMillis": now}));
        }
        Err(e) => eprintln!("sfnlite: [store] retention: {e}"),
    }
}
