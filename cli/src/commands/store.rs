//! `sfnlite store check` and `sfnlite store salvage DIR`: a damaged store's way out.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::anyhow;
use serde_json::json;
use sfnlite_engine::{Damage, check, salvage};

use super::Failure;
use super::setup::{lock_wait, store_dir, store_failure};
use crate::args::{StoreCommand, TableFormat};

/// Runs a `store` command on the store in `store` (or the default one).
pub(crate) fn store(command: StoreCommand, store: &Option<PathBuf>, ephemeral: bool) -> Result<ExitCode, Failure> {
    if ephemeral {
        return Err(Failure::usage(anyhow!("store check and salvage read a store on disk; drop --ephemeral")));
    }
    let dir = store_dir(store);
    if !dir.join("db").exists() {
        return Err(Failure::usage(anyhow!("no store at {} (give --store DIR)", dir.display())));
    }
    if let StoreCommand::Salvage { dir: target } = &command {
        // Checked before the damaged store is opened (opening writes its pid file).
        fresh(target, &dir)?;
    }
    let opened = super::setup::open_sled(&dir, lock_wait()).map_err(store_failure)?;
    match command {
        StoreCommand::Check { format } => {
            let report = check(&opened).map_err(store_failure)?;
            match format {
                TableFormat::Json => {
                    let value = json!({
                        "store": dir.display().to_string(),
                        "intactExecutions": report.intact_executions,
                        "intactEvents": report.intact_events,
                        "intactDocuments": report.intact_documents,
                        "damaged": damage_json(&report.damaged),
                    });
                    println!("{value:#}");
                }
                TableFormat::Table => {
                    print_damage(&report.damaged);
                    eprintln!(
                        "store {}: {} execution(s) intact ({} events), {} document(s) intact, {} damaged{}",
                        dir.display(),
                        report.intact_executions,
                        report.intact_events,
                        report.intact_documents,
                        report.damaged.len(),
                        if report.damaged.is_empty() {
                            ""
                        } else {
                            "; `sfnlite store salvage DIR` copies what is intact"
                        }
                    );
                }
            }
            Ok(if report.damaged.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        StoreCommand::Salvage { dir: target } => {
            let to = super::setup::open_sled(&target, lock_wait()).map_err(store_failure)?;
            let report = salvage(&opened, &to).map_err(store_failure)?;
            print_damage(&report.lost);
            eprintln!(
                "copied {} execution(s) and {} document(s) into {}; {} could not be read",
                report.executions,
                report.documents,
                target.display(),
                report.lost.len()
            );
            Ok(if report.lost.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
    }
}

/// The salvage target must be new: absent, or an empty directory, and not the store itself.
fn fresh(target: &Path, source: &Path) -> Result<(), Failure> {
    let same = target.canonicalize().ok().zip(source.canonicalize().ok()).is_some_and(|(a, b)| a == b);
    let empty = match std::fs::read_dir(target) {
        Ok(mut entries) => entries.next().is_none(),
        // Absent is fine; a file, or anything unreadable, is not.
        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
    };
    if same || !empty {
        return Err(Failure::usage(anyhow!(
            "store salvage {}: the target must be a new or empty directory (not the damaged store)",
            target.display()
        )));
    }
    Ok(())
}

fn damage_json(damage: &[Damage]) -> serde_json::Value {
    damage.iter().map(|d| json!({"what": d.what, "problem": d.problem})).collect()
}

fn print_damage(damage: &[Damage]) {
    let mut out = std::io::stdout().lock();
    for d in damage {
        let _ = writeln!(out, "{}\t{}", d.what, d.problem);
    }
}
