//! A store that lets the command see each batch of events as it is stored: the progress
//! line of `sfnlite run`, and the crash hook of the durability tests.

use std::sync::Arc;

use serde_json::Value;
use sfnlite_engine::{ExecutionRecord, GarbageReport, HistoryStore, StateMachineRecord, StoreError, StoredDocument};
use sfnlite_states::history::HistoryEvent;

/// Sees a batch before it is stored; `true` ends the process (as `kill -9` would) once the
/// batch is stored.
type Observer = dyn Fn(&str, &[HistoryEvent]) -> bool + Send + Sync;

/// A store that shows [`HistoryStore::append`]'s batches to an observer.
pub(crate) struct Observed {
    inner: Arc<dyn HistoryStore>,
    observer: Box<Observer>,
}

impl Observed {
    pub(crate) fn new(
        inner: Arc<dyn HistoryStore>,
        observer: impl Fn(&str, &[HistoryEvent]) -> bool + Send + Sync + 'static,
    ) -> Observed {
        Observed { inner, observer: Box::new(observer) }
    }
}

impl HistoryStore for Observed {
    fn put_state_machine(&self, record: &StateMachineRecord) -> Result<(), StoreError> {
        self.inner.put_state_machine(record)
    }
    fn state_machine(&self, hash: &str) -> Result<Option<StateMachineRecord>, StoreError> {
        self.inner.state_machine(hash)
    }
    fn put_execution(&self, record: &ExecutionRecord) -> Result<(), StoreError> {
        self.inner.put_execution(record)
    }
    fn execution(&self, arn: &str) -> Result<Option<ExecutionRecord>, StoreError> {
        self.inner.execution(arn)
    }
    fn executions(&self) -> Result<Vec<ExecutionRecord>, StoreError> {
        self.inner.executions()
    }
    fn execution_summaries(&self) -> Result<Vec<ExecutionRecord>, StoreError> {
        self.inner.execution_summaries()
    }
    fn append(&self, execution_arn: &str, events: Vec<HistoryEvent>) -> Result<(), StoreError> {
        let end = (self.observer)(execution_arn, &events);
        self.inner.append(execution_arn, events)?;
        if end {
            std::process::abort();
        }
        Ok(())
    }
    fn events(&self, execution_arn: &str) -> Result<Vec<HistoryEvent>, StoreError> {
        self.inner.events(execution_arn)
    }
    fn each_event(&self, execution_arn: &str, each: &mut dyn FnMut(HistoryEvent)) -> Result<(), StoreError> {
        self.inner.each_event(execution_arn, each)
    }
    fn put_document(&self, kind: &str, key: &str, value: &Value) -> Result<(), StoreError> {
        self.inner.put_document(kind, key, value)
    }
    fn document(&self, kind: &str, key: &str) -> Result<Option<Value>, StoreError> {
        self.inner.document(kind, key)
    }
    fn documents(&self, kind: &str) -> Result<Vec<(String, Value)>, StoreError> {
        self.inner.documents(kind)
    }
    fn documents_with_prefix(&self, kind: &str, prefix: &str) -> Result<Vec<(String, Value)>, StoreError> {
        self.inner.documents_with_prefix(kind, prefix)
    }
    fn delete_document(&self, kind: &str, key: &str) -> Result<(), StoreError> {
        self.inner.delete_document(kind, key)
    }
    fn delete_execution(&self, arn: &str) -> Result<bool, StoreError> {
        self.inner.delete_execution(arn)
    }
    fn collect_garbage(&self) -> Result<GarbageReport, StoreError> {
        self.inner.collect_garbage()
    }
    fn execution_arns(&self) -> Result<Vec<String>, StoreError> {
        self.inner.execution_arns()
    }
    fn all_documents(&self) -> Result<Vec<StoredDocument>, StoreError> {
        self.inner.all_documents()
    }
}
