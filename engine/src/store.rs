//! Where history goes. The interpreter appends every event here as it happens;
//! durable stores implement the same trait.

use std::collections::HashMap;
use std::sync::Mutex;

use sfnlite_states::history::HistoryEvent;

/// A store failure: a Rust error for the program, never an ASL error.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store could not be read or written.
    #[error("history store: {0}")]
    Io(String),
}

/// Keeps the history of executions.
pub trait HistoryStore: Send + Sync {
    /// Appends events (consecutive ids, in order) to an execution's history. The runtime
    /// calls this before every effect (a task, a wait) and at the end, with all events
    /// recorded since the last call.
    fn append(&self, execution_arn: &str, events: Vec<HistoryEvent>) -> Result<(), StoreError>;

    /// The events of an execution, in id order.
    fn events(&self, execution_arn: &str) -> Result<Vec<HistoryEvent>, StoreError>;
}

/// History in memory, for one process.
#[derive(Debug, Default)]
pub struct MemoryStore {
    executions: Mutex<HashMap<String, Vec<HistoryEvent>>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }
}

impl HistoryStore for MemoryStore {
    fn append(&self, execution_arn: &str, events: Vec<HistoryEvent>) -> Result<(), StoreError> {
        let mut executions = self.executions.lock().unwrap_or_else(|e| e.into_inner());
        match executions.get_mut(execution_arn) {
            Some(existing) => existing.extend(events),
            None => {
                executions.insert(execution_arn.to_owned(), events);
            }
        }
        Ok(())
    }

    fn events(&self, execution_arn: &str) -> Result<Vec<HistoryEvent>, StoreError> {
        let executions = self.executions.lock().unwrap_or_else(|e| e.into_inner());
        Ok(executions.get(execution_arn).cloned().unwrap_or_default())
    }
}
