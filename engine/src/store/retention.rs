//! Retention: removing closed executions from a store (`sfnlite executions prune`, and the
//! automatic retention of `sfnlite.toml`), with everything that belongs to them, then
//! reclaiming the space their histories held.
//!
//! AWS keeps a closed execution's history for 90 days; sfnlite keeps everything until told.
//! What goes with an execution: its history, its Map Runs (and their item records), its
//! task tokens, its distributed Map's child executions (a child goes only with its parent,
//! never alone: the parent's Map Run redrives from them), and the documents of the kinds
//! the caller names (the Lambda logs, the nested-execution links).

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

use super::{ExecutionRecord, ExecutionStatus, GarbageReport, HistoryStore, StoreError};
use crate::callbacks::TOKEN_KIND;
use crate::interpreter::{MAP_RUN_ITEMS_KIND, MAP_RUN_KIND};

/// Which executions to remove.
#[derive(Debug, Clone, Default)]
pub struct PruneCriteria {
    /// Only those that closed at least this long ago (milliseconds); `None`: any age.
    pub older_than_millis: Option<i64>,
    /// Only those with one of these statuses; empty: every closed status. RUNNING ones are
    /// never removed.
    pub statuses: Vec<ExecutionStatus>,
    /// Report what would go, remove nothing.
    pub dry_run: bool,
    /// Document kinds whose documents belong to the execution their key names: the key is
    /// the ARN, or the ARN followed by `#` and more.
    pub keyed_by_execution: Vec<String>,
    /// Document kinds whose documents belong to the execution their `executionArn` names.
    pub naming_execution: Vec<String>,
}

/// What a prune removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PruneReport {
    /// The executions removed (or, on a dry run, that would be), in start order.
    pub executions: Vec<String>,
    /// The other documents removed with them.
    pub documents: u64,
    /// The space reclaimed (nothing on a dry run).
    pub garbage: GarbageReport,
}

/// Removes the executions that `criteria` selects, as of `now_millis`.
pub fn prune(store: &dyn HistoryStore, criteria: &PruneCriteria, now_millis: i64) -> Result<PruneReport, StoreError> {
    let executions = store.executions()?;
    let map_runs = store.documents(MAP_RUN_KIND)?;
    let parent_of_run: HashMap<&str, &str> =
        map_runs.iter().filter_map(|(arn, run)| Some((arn.as_str(), run["executionArn"].as_str()?))).collect();
    let parent_of =
        |record: &ExecutionRecord| record.origin.map_run.as_deref().and_then(|run| parent_of_run.get(run).copied());
    let known: BTreeSet<&str> = executions.iter().map(|r| r.arn.as_str()).collect();
    let selected = |record: &ExecutionRecord| {
        record.status != ExecutionStatus::Running
            && (criteria.statuses.is_empty() || criteria.statuses.contains(&record.status))
            && criteria
                .older_than_millis
                .is_none_or(|age| record.stop_millis.is_some_and(|stop| stop <= now_millis.saturating_sub(age)))
    };
    // A child follows its parent when the parent is in the store (to any depth: a child may
    // run a distributed Map of its own); a family stays whole while any of it runs.
    let mut children: HashMap<&str, Vec<&ExecutionRecord>> = HashMap::new();
    let mut roots = Vec::new();
    for record in &executions {
        match parent_of(record) {
            Some(parent) if known.contains(parent) && parent != record.arn => {
                children.entry(parent).or_default().push(record)
            }
            _ => roots.push(record),
        }
    }
    // Parents before their children.
    let mut order: Vec<&ExecutionRecord> = Vec::new();
    for root in roots.into_iter().filter(|r| selected(r)) {
        let mut family = vec![root];
        let mut seen: BTreeSet<&str> = BTreeSet::from([root.arn.as_str()]);
        let mut i = 0;
        while i < family.len() {
            for child in children.get(family[i].arn.as_str()).map_or(&[][..], Vec::as_slice) {
                if seen.insert(child.arn.as_str()) {
                    family.push(child);
                }
            }
            i += 1;
        }
        if family.iter().all(|member| member.status != ExecutionStatus::Running) {
            order.extend(family);
        }
    }
    let chosen: BTreeSet<&str> = order.iter().map(|r| r.arn.as_str()).collect();
    let mut report =
        PruneReport { executions: order.iter().map(|r| r.arn.clone()).collect(), ..PruneReport::default() };
    // The documents that go with them: (kind, key, the execution they belong to).
    let mut documents: Vec<(String, String, String)> = Vec::new();
    for (run_arn, run) in &map_runs {
        if let Some(arn) = run["executionArn"].as_str().filter(|arn| chosen.contains(arn)) {
            documents.push((MAP_RUN_KIND.to_owned(), run_arn.clone(), arn.to_owned()));
            if store.document(MAP_RUN_ITEMS_KIND, run_arn)?.is_some() {
                documents.push((MAP_RUN_ITEMS_KIND.to_owned(), run_arn.clone(), arn.to_owned()));
            }
        }
    }
    let naming = std::iter::once(TOKEN_KIND.to_owned()).chain(criteria.naming_execution.iter().cloned());
    for kind in naming {
        for (key, document) in store.documents(&kind)? {
            if let Some(arn) = document.get("executionArn").and_then(Value::as_str).filter(|arn| chosen.contains(arn)) {
                documents.push((kind.clone(), key.clone(), arn.to_owned()));
            }
        }
    }
    for kind in &criteria.keyed_by_execution {
        for (key, _) in store.documents(kind)? {
            let owner = key.split_once('#').map_or(key.as_str(), |(arn, _)| arn).to_owned();
            if chosen.contains(owner.as_str()) {
                documents.push((kind.clone(), key, owner));
            }
        }
    }
    documents.sort();
    documents.dedup();
    report.documents = documents.len() as u64;
    if criteria.dry_run {
        return Ok(report);
    }
    // Each execution goes with its history at once, and only while it is still closed (one
    // redriven meanwhile stays, with its documents); parents before their children, which go
    // only once their parent has.
    let mut removed: BTreeSet<&str> = BTreeSet::new();
    for record in &order {
        let arn = record.arn.as_str();
        let parent_gone = parent_of(record).is_none_or(|parent| !chosen.contains(parent) || removed.contains(parent));
        if chosen.contains(arn) && parent_gone && store.delete_execution(arn)? {
            removed.insert(arn);
        }
    }
    report.documents = 0;
    for (kind, key, owner) in &documents {
        if removed.contains(owner.as_str()) {
            store.delete_document(kind, key)?;
            report.documents += 1;
        }
    }
    report.executions.retain(|arn| removed.contains(arn.as_str()));
    report.garbage = store.collect_garbage()?;
    Ok(report)
}
