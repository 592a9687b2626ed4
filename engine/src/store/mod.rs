//! Where executions and their histories are kept.
//!
//! [`HistoryStore`] is the one storage trait: state machines (definition text and hash),
//! execution records (DescribeExecution's fields plus what resuming needs), and history
//! events. [`MemoryStore`] keeps them for one process (`--ephemeral`, tests);
//! [`SledStore`] keeps them on disk. Only `store/sled.rs` names sled.

mod check;
mod chunks;
mod open_guard;
mod packs;
mod records;
mod retention;
mod sled;

use std::collections::HashMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sfnlite_states::history::HistoryEvent;

pub use self::check::{CheckReport, Damage, SalvageReport, check, salvage};
pub use self::retention::{PruneCriteria, PruneReport, prune};
pub use self::sled::{FORMAT_VERSION, SledStore};

/// What a garbage collection of the store reclaimed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GarbageReport {
    /// Chunks no history used any more.
    pub chunks_removed: u64,
    /// Pack files deleted (nothing in them was used).
    pub packs_removed: u64,
    /// Pack files rewritten without their garbage.
    pub packs_rewritten: u64,
    /// Bytes freed on disk.
    pub bytes_reclaimed: u64,
}

/// A document as `(kind, key, value or why it cannot be read)`.
pub type StoredDocument = (String, String, Result<Value, StoreError>);

/// A store failure: a Rust error for the program, never an ASL error.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store could not be read or written.
    #[error("history store: {0}")]
    Io(String),
    /// Another process holds the store.
    #[error("store {path} in use by process {pid}")]
    InUse {
        /// The store directory.
        path: String,
        /// The process holding it, as it recorded itself (`?` when unknown).
        pid: String,
    },
    /// The store was written by a newer sfnlite.
    #[error("store {path} has format version {found}; this sfnlite reads version {supported} (upgrade sfnlite)")]
    NewerFormat {
        /// The store directory.
        path: String,
        /// The version found.
        found: u32,
        /// The version this build reads and writes.
        supported: u32,
    },
    /// A record could not be decoded.
    #[error("history store: corrupt record {key}: {message}")]
    Corrupt {
        /// Which record.
        key: String,
        /// What is wrong.
        message: String,
    },
}

/// The status of an execution, as DescribeExecution reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExecutionStatus {
    /// Still running (or interrupted: a process died while running it).
    Running,
    /// Ended successfully.
    Succeeded,
    /// Ended with an error.
    Failed,
    /// Ended by the execution's TimeoutSeconds.
    TimedOut,
    /// Ended by `sfnlite stop`.
    Aborted,
}

impl ExecutionStatus {
    /// The AWS spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionStatus::Running => "RUNNING",
            ExecutionStatus::Succeeded => "SUCCEEDED",
            ExecutionStatus::Failed => "FAILED",
            ExecutionStatus::TimedOut => "TIMED_OUT",
            ExecutionStatus::Aborted => "ABORTED",
        }
    }

    /// Parses the AWS spelling (case-insensitive).
    pub fn parse(text: &str) -> Option<ExecutionStatus> {
        [
            ExecutionStatus::Running,
            ExecutionStatus::Succeeded,
            ExecutionStatus::Failed,
            ExecutionStatus::TimedOut,
            ExecutionStatus::Aborted,
        ]
        .into_iter()
        .find(|s| s.as_str().eq_ignore_ascii_case(text))
    }
}

/// A state machine as it was run: the definition text (after substitutions) and its hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateMachineRecord {
    /// The state machine's name.
    pub name: String,
    /// The definition text.
    pub definition: String,
    /// A hash of the definition text (hex), the key executions refer to.
    pub hash: String,
}

impl StateMachineRecord {
    /// A record for this definition text, with its hash (FNV-1a 64, hex).
    pub fn new(name: &str, definition: &str) -> StateMachineRecord {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in definition.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        StateMachineRecord { name: name.to_owned(), definition: definition.to_owned(), hash: format!("{hash:016x}") }
    }
}

/// One execution: what DescribeExecution reports, and what resuming it needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionRecord {
    /// The execution ARN (the key).
    pub arn: String,
    /// The execution name.
    pub name: String,
    /// The state machine's name.
    pub state_machine_name: String,
    /// The state machine's ARN.
    pub state_machine_arn: String,
    /// The hash of the definition it runs ([`StateMachineRecord::hash`]).
    pub definition_hash: String,
    /// The execution input.
    pub input: Value,
    /// The status.
    pub status: ExecutionStatus,
    /// The output, when SUCCEEDED.
    pub output: Option<Value>,
    /// The error, when it ended otherwise.
    pub error: Option<String>,
    /// The cause.
    pub cause: Option<String>,
    /// Epoch milliseconds.
    pub start_millis: i64,
    /// Epoch milliseconds, once ended.
    pub stop_millis: Option<i64>,
    /// The seed of the execution's randomness, so that a resumed run draws the same values.
    pub seed: u64,
    /// True when the execution runs on the virtual clock.
    pub virtual_clock: bool,
    /// How many times it was redriven.
    pub redrive_count: u32,
    /// Where it came from besides its state machine: role, version, alias (API starts).
    #[serde(default, skip_serializing_if = "ExecutionOrigin::is_default")]
    pub origin: ExecutionOrigin,
}

impl ExecutionRecord {
    /// The record without its input and output (see [`HistoryStore::execution_summaries`]).
    pub fn without_payloads(mut self) -> ExecutionRecord {
        self.input = Value::Null;
        self.output = None;
        self
    }
}

/// What an execution was started with, besides its state machine: the role it runs as
/// and the version or alias it was started through (AWS StartExecution on their ARNs).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutionOrigin {
    /// The state machine's role (`ExecutionStarted.roleArn`); `None`: sfnlite's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// The version ARN, when started through a version or an alias.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_arn: Option<String>,
    /// The alias ARN, when started through an alias.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias_arn: Option<String>,
    /// The MockConfigFile test case that answers its tasks, when one does (kept so that a
    /// resume or a redrive answers them the same way).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_case: Option<String>,
    /// A synchronous EXPRESS execution (StartSyncExecution, `run --type EXPRESS`): AWS
    /// gives its context object no `RedriveCount` (an asynchronous one has it, recorded).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sync_express: bool,
    /// An EXPRESS execution (synchronous or not; a distributed Map's EXPRESS child).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub express: bool,
    /// Started through `sfnlite serve` (which resumes it when it starts again).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub api: bool,
    /// A child execution of this distributed Map's Map Run (its parent resumes it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub map_run: Option<String>,
}

impl ExecutionOrigin {
    fn is_default(&self) -> bool {
        *self == ExecutionOrigin::default()
    }
}

/// Keeps state machines, executions and their histories.
pub trait HistoryStore: Send + Sync {
    /// Records a state machine definition (idempotent: keyed by hash).
    fn put_state_machine(&self, record: &StateMachineRecord) -> Result<(), StoreError>;

    /// The state machine with this hash.
    fn state_machine(&self, hash: &str) -> Result<Option<StateMachineRecord>, StoreError>;

    /// Creates or replaces an execution record.
    fn put_execution(&self, record: &ExecutionRecord) -> Result<(), StoreError>;

    /// The execution with this ARN.
    fn execution(&self, arn: &str) -> Result<Option<ExecutionRecord>, StoreError>;

    /// Every execution, in start order.
    fn executions(&self) -> Result<Vec<ExecutionRecord>, StoreError>;

    /// Every execution in start order without its input and output (`input` null, `output`
    /// none): what listings show, read without decoding the payloads.
    fn execution_summaries(&self) -> Result<Vec<ExecutionRecord>, StoreError> {
        Ok(self.executions()?.into_iter().map(ExecutionRecord::without_payloads).collect())
    }

    /// Appends events (consecutive ids, in order) to an execution's history and makes them
    /// durable before returning. The runtime calls this before every effect (a task, a
    /// wait) and at the end, with all events recorded since the last call.
    fn append(&self, execution_arn: &str, events: Vec<HistoryEvent>) -> Result<(), StoreError>;

    /// The events of an execution, in id order.
    fn events(&self, execution_arn: &str) -> Result<Vec<HistoryEvent>, StoreError>;

    /// Hands the events of an execution to `each`, in id order, so that a long history need
    /// not be in memory all at once (a durable store reads a stored record at a time).
    fn each_event(&self, execution_arn: &str, each: &mut dyn FnMut(HistoryEvent)) -> Result<(), StoreError> {
        self.events(execution_arn)?.into_iter().for_each(each);
        Ok(())
    }

    /// Creates or replaces a document: an API resource kept as JSON (`kind` names the
    /// collection, e.g. `stateMachine`, `activity`; `key` is usually an ARN).
    fn put_document(&self, kind: &str, key: &str, value: &Value) -> Result<(), StoreError>;

    /// The document of `kind` under `key`.
    fn document(&self, kind: &str, key: &str) -> Result<Option<Value>, StoreError>;

    /// Every document of `kind`, in key order.
    fn documents(&self, kind: &str) -> Result<Vec<(String, Value)>, StoreError>;

    /// The documents of a kind whose keys start with `prefix`, by key.
    fn documents_with_prefix(&self, kind: &str, prefix: &str) -> Result<Vec<(String, Value)>, StoreError> {
        Ok(self.documents(kind)?.into_iter().filter(|(key, _)| key.starts_with(prefix)).collect())
    }

    /// Removes a document (nothing happens when there is none).
    fn delete_document(&self, kind: &str, key: &str) -> Result<(), StoreError>;

    /// Removes a closed execution's record and history, together; false (and nothing
    /// removed) when there is none or it is RUNNING.
    fn delete_execution(&self, arn: &str) -> Result<bool, StoreError>;

    /// The ARNs of every execution record, including those that cannot be read.
    fn execution_arns(&self) -> Result<Vec<String>, StoreError> {
        Ok(self.executions()?.into_iter().map(|record| record.arn).collect())
    }

    /// Every document of every kind (a damaged one with why it cannot be read).
    fn all_documents(&self) -> Result<Vec<StoredDocument>, StoreError>;

    /// Reclaims the space that removed histories held (a store that keeps nothing on disk
    /// has nothing to collect).
    fn collect_garbage(&self) -> Result<GarbageReport, StoreError> {
        Ok(GarbageReport::default())
    }
}

/// Everything in memory, for one process.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state_machines: Mutex<HashMap<String, StateMachineRecord>>,
    /// In the order they were first stored, with an index by ARN.
    executions: Mutex<(Vec<ExecutionRecord>, HashMap<String, usize>)>,
    events: Mutex<HashMap<String, Vec<HistoryEvent>>>,
    documents: Mutex<std::collections::BTreeMap<(String, String), Value>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl HistoryStore for MemoryStore {
    fn put_state_machine(&self, record: &StateMachineRecord) -> Result<(), StoreError> {
        lock(&self.state_machines).insert(record.hash.clone(), record.clone());
        Ok(())
    }

    fn state_machine(&self, hash: &str) -> Result<Option<StateMachineRecord>, StoreError> {
        Ok(lock(&self.state_machines).get(hash).cloned())
    }

    fn put_execution(&self, record: &ExecutionRecord) -> Result<(), StoreError> {
        let mut executions = lock(&self.executions);
        let (records, index) = &mut *executions;
        match index.get(&record.arn) {
            Some(&i) => records[i] = record.clone(),
            None => {
                index.insert(record.arn.clone(), records.len());
                records.push(record.clone());
            }
        }
        Ok(())
    }

    fn execution(&self, arn: &str) -> Result<Option<ExecutionRecord>, StoreError> {
        let executions = lock(&self.executions);
        Ok(executions.1.get(arn).map(|&i| executions.0[i].clone()))
    }

    fn executions(&self) -> Result<Vec<ExecutionRecord>, StoreError> {
        Ok(lock(&self.executions).0.clone())
    }

    fn append(&self, execution_arn: &str, events: Vec<HistoryEvent>) -> Result<(), StoreError> {
        let mut all = lock(&self.events);
        match all.get_mut(execution_arn) {
            Some(existing) => existing.extend(events),
            None => {
                all.insert(execution_arn.to_owned(), events);
            }
        }
        Ok(())
    }

    fn events(&self, execution_arn: &str) -> Result<Vec<HistoryEvent>, StoreError> {
        Ok(lock(&self.events).get(execution_arn).cloned().unwrap_or_default())
    }

    fn put_document(&self, kind: &str, key: &str, value: &Value) -> Result<(), StoreError> {
        lock(&self.documents).insert((kind.to_owned(), key.to_owned()), value.clone());
        Ok(())
    }

    fn document(&self, kind: &str, key: &str) -> Result<Option<Value>, StoreError> {
        Ok(lock(&self.documents).get(&(kind.to_owned(), key.to_owned())).cloned())
    }

    fn documents(&self, kind: &str) -> Result<Vec<(String, Value)>, StoreError> {
        let documents = lock(&self.documents);
        Ok(documents.iter().filter(|((k, _), _)| k == kind).map(|((_, key), v)| (key.clone(), v.clone())).collect())
    }

    fn delete_document(&self, kind: &str, key: &str) -> Result<(), StoreError> {
        lock(&self.documents).remove(&(kind.to_owned(), key.to_owned()));
        Ok(())
    }

    fn all_documents(&self) -> Result<Vec<StoredDocument>, StoreError> {
        let documents = lock(&self.documents);
        Ok(documents.iter().map(|((kind, key), value)| (kind.clone(), key.clone(), Ok(value.clone()))).collect())
    }

    fn delete_execution(&self, arn: &str) -> Result<bool, StoreError> {
        let mut executions = lock(&self.executions);
        let (records, index) = &mut *executions;
        match index.get(arn) {
            Some(&i) if records[i].status != ExecutionStatus::Running => {
                index.remove(arn);
                records.remove(i);
                for (i, record) in records.iter().enumerate().skip(i) {
                    index.insert(record.arn.clone(), i);
                }
                lock(&self.events).remove(arn);
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}
