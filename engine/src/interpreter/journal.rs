//! The journal: where an execution's new events get their ids and wait, in memory, until
//! they are handed to the store in one batch. The only place event ids are assigned.
//!
//! A batch is stored before every effect (so an event is on disk before the effect it
//! announces) and at the end. Once a write has failed, or a replay has diverged, nothing
//! more is written: the stored history stays gap-free and resumable, and every later
//! flush is refused, which ends the execution.

use std::sync::Mutex;

use sfnlite_states::history::{EventDetails, HistoryEvent};

use super::replay::Divergence;
use crate::store::{HistoryStore, StoreError};

/// Why an execution's history stopped being written: a Rust error for the program.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A resumed or redriven execution recorded an event its stored history does not
    /// explain.
    #[error(transparent)]
    Diverged(#[from] Divergence),
}

/// A flush was refused: the journal holds a [`RunError`] (see [`Journal::take_fault`]),
/// described here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Closed(pub(crate) String);

/// New events of one execution, on their way to the store.
pub(crate) struct Journal<'a> {
    store: &'a dyn HistoryStore,
    arn: String,
    last_id: Mutex<u64>,
    pending: Mutex<Vec<HistoryEvent>>,
    fault: Mutex<Option<RunError>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl<'a> Journal<'a> {
    /// A journal for the execution `arn`, whose stored history ends at event `last_id`.
    pub(crate) fn new(store: &'a dyn HistoryStore, arn: &str, last_id: u64) -> Journal<'a> {
        Journal {
            store,
            arn: arn.to_owned(),
            last_id: Mutex::new(last_id),
            pending: Mutex::new(Vec::new()),
            fault: Mutex::new(None),
        }
    }

    /// Appends an event after `previous`; returns its id, the next one in sequence.
    pub(crate) fn append(&self, previous: u64, timestamp: i64, details: EventDetails) -> u64 {
        let id = {
            let mut last = lock(&self.last_id);
            *last += 1;
            *last
        };
        lock(&self.pending).push(HistoryEvent { id, previous_event_id: previous, timestamp, details });
        id
    }

    /// The id the next event gets.
    pub(crate) fn next_id(&self) -> u64 {
        *lock(&self.last_id) + 1
    }

    /// How many events wait to be stored.
    pub(crate) fn pending_len(&self) -> usize {
        lock(&self.pending).len()
    }

    /// Stores the pending events as one batch.
    pub(crate) fn flush(&self) -> Result<(), Closed> {
        let batch = std::mem::take(&mut *lock(&self.pending));
        let mut fault = lock(&self.fault);
        if fault.is_none()
            && !batch.is_empty()
            && let Err(e) = self.store.append(&self.arn, batch)
        {
            *fault = Some(RunError::Store(e));
        }
        match &*fault {
            None => Ok(()),
            Some(e) => Err(Closed(e.to_string())),
        }
    }

    /// Stores what is pending, then closes the journal with `error`: nothing more is written.
    pub(crate) fn close(&self, error: RunError) {
        let _ = self.flush();
        lock(&self.fault).get_or_insert(error);
    }

    /// The error that closed the journal, if one did.
    pub(crate) fn take_fault(&self) -> Option<RunError> {
        lock(&self.fault).take()
    }

    /// Stores the pending events and returns them (for a caller that goes on with the
    /// history it just extended).
    pub(crate) fn commit(&self) -> Result<Vec<HistoryEvent>, RunError> {
        let batch = lock(&self.pending).clone();
        self.finish().map(|()| batch)
    }

    /// Stores the pending events; the error that closed the journal, if any.
    pub(crate) fn finish(&self) -> Result<(), RunError> {
        let _ = self.flush();
        self.take_fault().map_or(Ok(()), Err)
    }
}

/// Records a redrive of an ended execution: `ExecutionRedriven` (its redrive count
/// `count`) after the stored history, and the record RUNNING again, its end cleared.
/// Returns the whole history, for the replay. An execution's redrive and a Map Run
/// child's both come here.
pub(crate) fn record_redrive(
    store: &dyn HistoryStore,
    record: &mut crate::store::ExecutionRecord,
    count: u32,
    now: i64,
) -> Result<Vec<HistoryEvent>, RunError> {
    let mut events = store.events(&record.arn)?;
    let last = events.last().map_or(0, |e| e.id);
    record.redrive_count = count;
    let journal = Journal::new(store, &record.arn, last);
    journal.append(last, now, EventDetails::ExecutionRedriven { redrive_count: count });
    events.extend(journal.commit()?);
    record.status = crate::store::ExecutionStatus::Running;
    (record.output, record.error, record.cause, record.stop_millis) = (None, None, None, None);
    store.put_execution(record)?;
    Ok(events)
}

#[cfg(test)]
mod tests {
    use sfnlite_states::history::EventDetails;

    use super::*;
    use crate::store::MemoryStore;

    #[test]
    fn ids_continue_the_stored_history_and_reach_the_store_on_flush() {
        let store = MemoryStore::default();
        let journal = Journal::new(&store, "arn:e", 7);
        assert_eq!(journal.append(7, 1, EventDetails::ExecutionRedriven { redrive_count: 1 }), 8);
        assert_eq!(journal.append(8, 2, EventDetails::ExecutionAborted { error: None, cause: None }), 9);
        assert!(store.events("arn:e").unwrap().is_empty(), "nothing is stored before a flush");
        journal.finish().unwrap();
        let stored = store.events("arn:e").unwrap();
        assert_eq!(stored.iter().map(|e| (e.id, e.previous_event_id)).collect::<Vec<_>>(), vec![(8, 7), (9, 8)]);
    }

    #[test]
    fn a_closed_journal_writes_nothing_more() {
        let store = MemoryStore::default();
        let journal = Journal::new(&store, "arn:e", 0);
        journal.append(0, 1, EventDetails::ExecutionRedriven { redrive_count: 1 });
        let divergence = Divergence { previous: 1, recorded: "X".into(), stored: vec!["Y".into()] };
        journal.close(RunError::Diverged(divergence));
        assert_eq!(store.events("arn:e").unwrap().len(), 1, "what was pending before the fault is kept");
        journal.append(1, 2, EventDetails::ExecutionAborted { error: None, cause: None });
        assert!(journal.flush().unwrap_err().0.starts_with("the replay diverged"));
        assert!(matches!(journal.finish(), Err(RunError::Diverged(_))));
        assert_eq!(store.events("arn:e").unwrap().len(), 1);
    }
}
