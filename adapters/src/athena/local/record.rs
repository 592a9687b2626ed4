//! Query records: each query execution is kept as `<data root>/.sfnlite-athena/queries/<id>.json`
//! (written before the query runs and at each state change, atomically), holding its
//! `QueryExecution` as GetQueryExecution returns it, typed, plus what sfnlite needs besides:
//! the idempotency token and where the result metadata is.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use super::Inner;
use super::statement::StatementType;
use crate::athena::{AthenaError, QueryState};

/// A stored query execution.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Record {
    /// The `QueryExecution` object, as GetQueryExecution returns it.
    #[serde(rename = "QueryExecution")]
    pub(super) execution: QueryExecution,
    /// The idempotency token and a fingerprint of the request it came with.
    #[serde(default)]
    pub(super) token: Option<(String, String)>,
    /// Where the `.metadata` file is (set once the query succeeded).
    #[serde(default)]
    pub(super) metadata: Option<String>,
}

impl Record {
    /// The query's state.
    pub(super) fn state(&self) -> QueryState {
        self.execution.status.state
    }
}

/// Athena's `QueryExecution` (the fields the embedded Athena fills in).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct QueryExecution {
    pub(super) engine_version: EngineVersion,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) execution_parameters: Option<Vec<String>>,
    pub(super) query: String,
    pub(super) query_execution_context: QueryExecutionContext,
    pub(super) query_execution_id: String,
    pub(super) result_configuration: ResultConfiguration,
    pub(super) result_reuse_configuration: ResultReuseConfiguration,
    pub(super) statement_type: StatementType,
    pub(super) statistics: Statistics,
    pub(super) status: QueryStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) substatement_type: Option<String>,
    pub(super) work_group: String,
}

/// `EngineVersion`: always Athena engine version 3.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct EngineVersion {
    pub(super) effective_engine_version: String,
    pub(super) selected_engine_version: String,
}

impl Default for EngineVersion {
    fn default() -> Self {
        EngineVersion {
            effective_engine_version: "Athena engine version 3".into(),
            selected_engine_version: "AUTO".into(),
        }
    }
}

/// `QueryExecutionContext`: the database and catalog, as requested.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct QueryExecutionContext {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) database: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) catalog: Option<String>,
}

/// `ResultConfiguration`: where the result file is.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ResultConfiguration {
    pub(super) output_location: String,
}

/// `ResultReuseConfiguration`: results are never reused.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ResultReuseConfiguration {
    pub(super) result_reuse_by_age_configuration: Enabled,
}

/// `{"Enabled": false}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct Enabled {
    pub(super) enabled: bool,
}

/// `Statistics`: bytes scanned and times; the times beyond the total once the query ran.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct Statistics {
    pub(super) data_scanned_in_bytes: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) engine_execution_time_in_millis: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) query_planning_time_in_millis: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) query_queue_time_in_millis: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) result_reuse_information: Option<ResultReuseInformation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) service_pre_processing_time_in_millis: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) service_processing_time_in_millis: Option<i64>,
    pub(super) total_execution_time_in_millis: i64,
}

/// `{"ReusedPreviousResult": false}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ResultReuseInformation {
    pub(super) reused_previous_result: bool,
}

/// `Status`: the state, when it was submitted and ended, and why it failed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct QueryStatus {
    pub(super) state: QueryState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) state_change_reason: Option<String>,
    pub(super) submission_date_time: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) completion_date_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) athena_error: Option<AthenaErrorInfo>,
}

/// `Status.AthenaError`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct AthenaErrorInfo {
    pub(super) error_category: u32,
    pub(super) error_message: String,
    pub(super) error_type: u32,
    pub(super) retryable: bool,
}

impl Inner {
    fn record_path(&self, id: &str) -> PathBuf {
        self.dir.join("queries").join(format!("{id}.json"))
    }

    /// Writes a record (to a temporary file, then renamed into place).
    pub(super) fn save(&self, record: &Record) -> Result<(), AthenaError> {
        let id = &record.execution.query_execution_id;
        let path = self.record_path(id);
        let fail = |e: std::io::Error| AthenaError::internal(format!("cannot record query {id}: {e}"));
        std::fs::create_dir_all(path.parent().expect("a parent")).map_err(fail)?;
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = path.with_extension(format!("json.{}.{n}.tmp", std::process::id()));
        std::fs::write(&tmp, serde_json::to_vec(record).expect("a record serializes")).map_err(fail)?;
        std::fs::rename(&tmp, &path).map_err(fail)
    }

    /// Reads a record; an id that is not one (or names no query) is not found.
    pub(super) fn load(&self, id: &str) -> Result<Record, AthenaError> {
        let valid = !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        let not_found = || AthenaError::invalid_request(format!("QueryExecution {id} was not found"));
        if !valid {
            return Err(not_found());
        }
        let bytes = std::fs::read(self.record_path(id)).map_err(|_| not_found())?;
        serde_json::from_slice(&bytes)
            .map_err(|e| AthenaError::internal(format!("query {id}'s record is damaged: {e}")))
    }

    /// Reads, changes and writes a record, one change at a time.
    pub(super) fn update(&self, id: &str, change: impl FnOnce(&mut Record)) -> Result<Record, AthenaError> {
        let _guard = self.records_lock.lock().expect("records lock");
        let mut record = self.load(id)?;
        change(&mut record);
        self.save(&record)?;
        Ok(record)
    }

    /// Every recorded query (damaged records are left out).
    pub(super) fn all_records(&self) -> Vec<Record> {
        let Ok(entries) = std::fs::read_dir(self.dir.join("queries")) else { return Vec::new() };
        entries
            .flatten()
            .filter(|entry| entry.path().extension().is_some_and(|e| e == "json"))
            .filter_map(|entry| serde_json::from_slice(&std::fs::read(entry.path()).ok()?).ok())
            .collect()
    }

    /// The query started with the idempotency token `token`, if any.
    pub(super) fn find_token(&self, token: &str) -> Option<Record> {
        let entries = std::fs::read_dir(self.dir.join("queries")).ok()?;
        entries.flatten().find_map(|entry| {
            let record: Record = serde_json::from_slice(&std::fs::read(entry.path()).ok()?).ok()?;
            (record.token.as_ref().map(|(t, _)| t.as_str()) == Some(token)).then_some(record)
        })
    }
}
