//! Damaged stores: `check` reads everything a store holds and says what is intact;
//! `salvage` copies everything readable into a fresh store, so that nothing recorded before
//! the damage is lost with it (`sfnlite store check`, `sfnlite store salvage DIR`).

use super::{HistoryStore, StoreError};

/// Something that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// What: an execution ARN, or `kind/key` for a document.
    pub what: String,
    /// Why (the store's message: the record, the chunk, the pack file and offset).
    pub problem: String,
}

/// What `check` found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// Executions whose record and history read back intact.
    pub intact_executions: usize,
    /// Their events.
    pub intact_events: usize,
    /// Documents that read back intact.
    pub intact_documents: usize,
    /// What could not be read.
    pub damaged: Vec<Damage>,
}

/// Reads every execution (record, definition and history) and every document.
pub fn check(store: &dyn HistoryStore) -> Result<CheckReport, StoreError> {
    let mut report = CheckReport::default();
    for arn in store.execution_arns()? {
        match read_execution(store, &arn) {
            Ok(events) => {
                report.intact_executions += 1;
                report.intact_events += events;
            }
            Err(problem) => report.damaged.push(Damage { what: arn, problem }),
        }
    }
    for (kind, key, value) in store.all_documents()? {
        match value {
            Ok(_) => report.intact_documents += 1,
            Err(e) => report.damaged.push(Damage { what: format!("{kind}/{key}"), problem: e.to_string() }),
        }
    }
    Ok(report)
}

/// Reads one execution whole; its number of events, or what is wrong.
fn read_execution(store: &dyn HistoryStore, arn: &str) -> Result<usize, String> {
    let record = store.execution(arn).map_err(|e| e.to_string())?.ok_or("its record is missing")?;
    match store.state_machine(&record.definition_hash) {
        Ok(Some(_)) => {}
        Ok(None) => return Err(format!("its definition {} is missing", record.definition_hash)),
        Err(e) => return Err(e.to_string()),
    }
    store.events(arn).map(|events| events.len()).map_err(|e| e.to_string())
}

/// What `salvage` copied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SalvageReport {
    /// Executions copied whole.
    pub executions: usize,
    /// Documents copied.
    pub documents: usize,
    /// What could not be read, and so was not copied.
    pub lost: Vec<Damage>,
}

/// Copies every readable execution (its definition, record and whole history) and document
/// from `from` into `to` (a fresh store). An execution is copied whole or not at all.
pub fn salvage(from: &dyn HistoryStore, to: &dyn HistoryStore) -> Result<SalvageReport, StoreError> {
    let mut report = SalvageReport::default();
    for arn in from.execution_arns()? {
        let read = || -> Result<_, StoreError> {
            let record = from.execution(&arn)?;
            let machine = match &record {
                Some(record) => from.state_machine(&record.definition_hash)?,
                None => None,
            };
            Ok((record, machine, from.events(&arn)?))
        };
        match read() {
            Ok((Some(record), Some(machine), events)) => {
                to.put_state_machine(&machine)?;
                to.append(&arn, events)?;
                to.put_execution(&record)?;
                report.executions += 1;
            }
            Ok((None, _, _)) => report.lost.push(Damage { what: arn, problem: "its record is missing".into() }),
            Ok((Some(record), None, _)) => report
                .lost
                .push(Damage { what: arn, problem: format!("its definition {} is missing", record.definition_hash) }),
            Err(e) => report.lost.push(Damage { what: arn, problem: e.to_string() }),
        }
    }
    for (kind, key, value) in from.all_documents()? {
        match value {
            Ok(value) => {
                to.put_document(&kind, &key, &value)?;
                report.documents += 1;
            }
            Err(e) => report.lost.push(Damage { what: format!("{kind}/{key}"), problem: e.to_string() }),
        }
    }
    Ok(report)
}
