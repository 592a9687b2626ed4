//! The durable store, on sled. The only file that names sled.
//!
//! Layout (one tree per concern; values are JSON):
//! - `meta`: `format` → the format version (big-endian u32);
//! - `state_machines`: definition hash → [`StateMachineRecord`];
//! - `executions`: execution ARN → [`ExecutionRecord`];
//! - `events`: ARN ++ `0x00` ++ big-endian id of a batch's first event → the batch (a JSON
//!   array of events), so a prefix scan reads one history in id order. One record per
//!   batch, not per event: the runtime appends a batch before each effect, and sled's cost
//!   is per record (a run of 20,000 states is one record, not 40,000);
//! - `documents`: kind ++ `0x00` ++ key → a JSON document (API resources: state machines
//!   as the API knows them, versions, aliases, activities, tags).
//!
//! Durability: `append` and `put_execution` flush (fsync) before they return, so an event is
//! on disk before the effect it announces. One process holds the store at a time (sled's
//! file lock); the holder writes its pid to `owner.pid`, and a second process waits for the
//! lock up to a bound, then reports "store … in use by process N".

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sfnlite_states::history::HistoryEvent;

use super::{ExecutionRecord, HistoryStore, StateMachineRecord, StoreError};

/// The format version this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// Executions on disk.
pub struct SledStore {
    db: sled::Db,
    path: PathBuf,
    state_machines: sled::Tree,
    executions: sled::Tree,
    events: sled::Tree,
    documents: sled::Tree,
}

impl std::fmt::Debug for SledStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledStore").field("path", &self.path).finish()
    }
}

fn io(e: impl std::fmt::Display) -> StoreError {
    StoreError::Io(e.to_string())
}

impl SledStore {
    /// Opens (or creates) the store in `path`, waiting up to `wait` for another process to
    /// release it.
    pub fn open(path: &Path, wait: Duration) -> Result<SledStore, StoreError> {
        std::fs::create_dir_all(path).map_err(|e| io(format!("cannot create {}: {e}", path.display())))?;
        let started = Instant::now();
        let db = loop {
            match sled::Config::new().path(path.join("db")).mode(sled::Mode::LowSpace).open() {
                Ok(db) => break db,
                Err(sled::Error::Io(e)) if e.to_string().contains("could not acquire lock") => {
                    if started.elapsed() >= wait {
                        let pid = std::fs::read_to_string(path.join("owner.pid")).unwrap_or_else(|_| "?".into());
                        return Err(StoreError::InUse { path: path.display().to_string(), pid: pid.trim().to_owned() });
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => return Err(io(format!("cannot open {}: {e}", path.display()))),
            }
        };
        std::fs::write(path.join("owner.pid"), std::process::id().to_string()).map_err(io)?;
        let meta = db.open_tree("meta").map_err(io)?;
        match meta.get("format").map_err(io)? {
            Some(bytes) => {
                let found = u32::from_be_bytes(
                    bytes
                        .as_ref()
                        .try_into()
                        .map_err(|_| StoreError::Corrupt { key: "meta/format".into(), message: "not a u32".into() })?,
                );
                if found > FORMAT_VERSION {
                    return Err(StoreError::NewerFormat {
                        path: path.display().to_string(),
                        found,
                        supported: FORMAT_VERSION,
                    });
                }
            }
            None => {
                meta.insert("format", &FORMAT_VERSION.to_be_bytes()).map_err(io)?;
            }
        }
        Ok(SledStore {
            state_machines: db.open_tree("state_machines").map_err(io)?,
            executions: db.open_tree("executions").map_err(io)?,
            events: db.open_tree("events").map_err(io)?,
            documents: db.open_tree("documents").map_err(io)?,
            path: path.to_owned(),
            db,
        })
    }

    /// The directory of the store.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.db.flush().map(|_| ()).map_err(io)
    }
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(io)
}

fn decode<T: DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt { key: key.to_owned(), message: e.to_string() })
}

fn document_key(kind: &str, key: &str) -> Vec<u8> {
    [kind.as_bytes(), &[0], key.as_bytes()].concat()
}

fn event_key(arn: &str, id: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(arn.len() + 9);
    key.extend_from_slice(arn.as_bytes());
    key.push(0);
    key.extend_from_slice(&id.to_be_bytes());
    key
}

impl HistoryStore for SledStore {
    fn put_state_machine(&self, record: &StateMachineRecord) -> Result<(), StoreError> {
        self.state_machines.insert(record.hash.as_bytes(), encode(record)?).map_err(io)?;
        self.flush()
    }

    fn state_machine(&self, hash: &str) -> Result<Option<StateMachineRecord>, StoreError> {
        self.state_machines.get(hash).map_err(io)?.map(|bytes| decode(hash, &bytes)).transpose()
    }

    fn put_execution(&self, record: &ExecutionRecord) -> Result<(), StoreError> {
        self.executions.insert(record.arn.as_bytes(), encode(record)?).map_err(io)?;
        self.flush()
    }

    fn execution(&self, arn: &str) -> Result<Option<ExecutionRecord>, StoreError> {
        self.executions.get(arn).map_err(io)?.map(|bytes| decode(arn, &bytes)).transpose()
    }

    fn executions(&self) -> Result<Vec<ExecutionRecord>, StoreError> {
        let mut all = Vec::new();
        for item in self.executions.iter() {
            let (key, bytes) = item.map_err(io)?;
            all.push(decode::<ExecutionRecord>(&String::from_utf8_lossy(&key), &bytes)?);
        }
        all.sort_by(|a, b| (a.start_millis, &a.arn).cmp(&(b.start_millis, &b.arn)));
        Ok(all)
    }

    fn append(&self, execution_arn: &str, events: Vec<HistoryEvent>) -> Result<(), StoreError> {
        let Some(first) = events.first() else {
            return Ok(());
        };
        self.events.insert(event_key(execution_arn, first.id), encode(&events)?).map_err(io)?;
        self.flush()
    }

    fn events(&self, execution_arn: &str) -> Result<Vec<HistoryEvent>, StoreError> {
        let mut prefix = execution_arn.as_bytes().to_vec();
        prefix.push(0);
        let mut out = Vec::new();
        for item in self.events.scan_prefix(&prefix) {
            let (key, bytes) = item.map_err(io)?;
            let first = key.get(prefix.len()..).and_then(|b| <[u8; 8]>::try_from(b).ok()).map_or(0, u64::from_be_bytes);
            out.extend(decode::<Vec<HistoryEvent>>(&format!("{execution_arn} events from #{first}"), &bytes)?);
        }
        Ok(out)
    }

    fn put_document(&self, kind: &str, key: &str, value: &Value) -> Result<(), StoreError> {
        self.documents.insert(document_key(kind, key), encode(value)?).map_err(io)?;
        self.flush()
    }

    fn document(&self, kind: &str, key: &str) -> Result<Option<Value>, StoreError> {
        let found = self.documents.get(document_key(kind, key)).map_err(io)?;
        found.map(|bytes| decode(&format!("{kind}/{key}"), &bytes)).transpose()
    }

    fn documents(&self, kind: &str) -> Result<Vec<(String, Value)>, StoreError> {
        self.documents_with_prefix(kind, "")
    }

    fn documents_with_prefix(&self, kind: &str, prefix: &str) -> Result<Vec<(String, Value)>, StoreError> {
        let kind_prefix = document_key(kind, "");
        let mut out = Vec::new();
        for item in self.documents.scan_prefix(document_key(kind, prefix)) {
            let (key, bytes) = item.map_err(io)?;
            let key = String::from_utf8_lossy(&key[kind_prefix.len()..]).into_owned();
            let value = decode(&format!("{kind}/{key}"), &bytes)?;
            out.push((key, value));
        }
        Ok(out)
    }

    fn delete_document(&self, kind: &str, key: &str) -> Result<(), StoreError> {
        self.documents.remove(document_key(kind, key)).map_err(io)?;
        self.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_a_newer_format() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path(), Duration::from_secs(1)).unwrap();
        store.db.open_tree("meta").unwrap().insert("format", &(FORMAT_VERSION + 1).to_be_bytes()).unwrap();
        store.flush().unwrap();
        drop(store);
        let err = SledStore::open(dir.path(), Duration::from_secs(1)).unwrap_err();
        assert!(matches!(err, StoreError::NewerFormat { found, .. } if found == FORMAT_VERSION + 1), "{err}");
    }
}
