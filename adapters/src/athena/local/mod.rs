//! The embedded Athena: queries run asynchronously (QUEUED → RUNNING → SUCCEEDED | FAILED |
//! CANCELLED) on the service runtime; DDL and utility statements run against the local
//! catalog, queries in DataFusion over the catalog's tables. Results go to the output
//! location in the local S3 as Athena writes them: `<id>.csv` (header, every value
//! quoted, NULL empty) or `<id>.txt` (DDL and utility statements, tab-separated, no
//! header), each with a `.metadata` file that GetQueryResults reads.
//!
//! Query executions are kept as JSON under `<data root>/.sfnlite-athena/queries/`, so
//! another process (a resumed execution, `sfnlite athena`) can look them up; a query whose
//! process died before it ended is run again when it is next looked up.
//!
//! This module holds [`LocalAthena`] itself (its state and the [`AthenaApi`] entry points);
//! each concern has its own file:
//!
//! - `requests`: the StartQueryExecution and GetQueryResults requests, typed and checked;
//! - `record`: the stored query executions (`<id>.json`) and their typed `QueryExecution`;
//! - `lifecycle`: start (idempotency, output-location precedence), run, stop, look up;
//! - `statement`: SQL text: splitting scripts, statement types, binding parameters;
//! - `ddl_exec`: DDL and utility statements against the catalog;
//! - `query_exec` and `catalog_provider`: queries in DataFusion over the catalog's tables;
//! - `results`: the result files and their `.metadata`;
//! - `paging`: GetQueryResults and its NextToken;
//! - `errors`: why a query failed, in Athena's words.

mod catalog_provider;
mod ddl_exec;
mod errors;
mod lifecycle;
mod metadata;
mod paging;
mod query_exec;
mod record;
mod requests;
mod results;
mod statement;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sfnlite_states::entropy::SeededEntropy;
use tokio::sync::watch;

pub use self::statement::split_statements;
use super::catalog::{Catalog, CatalogFile};
use super::ddl;
use super::{AthenaApi, AthenaError};
use crate::BoxFuture;
use crate::s3::LocalS3;

/// A workgroup's settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Workgroup {
    /// Its query result location (`s3://…/`).
    pub output_location: Option<String>,
    /// "Override client-side settings": the workgroup's location wins over the request's.
    #[serde(default)]
    pub enforce_configuration: bool,
    /// The memory a query may hold (DataFusion's memory pool: joins, aggregations, sorts),
    /// in MiB ([`DEFAULT_MEMORY_LIMIT_MIB`] when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_limit_mib: Option<u64>,
    /// How long a query may run: seconds, or text such as `"90s"`, `"30m"`, `"2h"`
    /// ([`DEFAULT_QUERY_TIMEOUT_SECONDS`] when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_timeout: Option<QueryTimeout>,
}

/// A query's memory limit when its workgroup sets none: 2 GiB.
pub const DEFAULT_MEMORY_LIMIT_MIB: u64 = 2048;
/// A query's time limit when its workgroup sets none: 30 minutes, Athena's DML query timeout.
pub const DEFAULT_QUERY_TIMEOUT_SECONDS: u64 = 30 * 60;

/// `query_timeout`: seconds, or a number with `s`, `m` or `h`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum QueryTimeout {
    /// Seconds.
    Seconds(u64),
    /// `"90s"`, `"30m"`, `"2h"`.
    Text(String),
}

impl QueryTimeout {
    /// The limit in seconds, or why the text is not one.
    pub fn seconds(&self) -> Result<u64, String> {
        let given = match self {
            QueryTimeout::Seconds(n) => n.to_string(),
            QueryTimeout::Text(text) => format!("{text:?}"),
        };
        let bad = || format!("query_timeout = {given}: expected seconds, or a number with s, m or h (\"30m\")");
        let seconds = match self {
            QueryTimeout::Seconds(n) => *n,
            QueryTimeout::Text(text) => {
                let text = text.trim();
                let (number, scale) = [('s', 1), ('m', 60), ('h', 3600)]
                    .into_iter()
                    .find_map(|(unit, scale)| text.strip_suffix(unit).map(|number| (number, scale)))
                    .ok_or_else(bad)?;
                number.parse::<u64>().ok().and_then(|n| n.checked_mul(scale)).ok_or_else(bad)?
            }
        };
        if seconds == 0 { Err(bad()) } else { Ok(seconds) }
    }
}

impl Workgroup {
    /// Its limits, or why a setting is wrong.
    pub fn limits(&self) -> Result<Limits, String> {
        let seconds = self.query_timeout.as_ref().map_or(Ok(DEFAULT_QUERY_TIMEOUT_SECONDS), QueryTimeout::seconds)?;
        let mib = self.memory_limit_mib.unwrap_or(DEFAULT_MEMORY_LIMIT_MIB);
        if mib == 0 {
            return Err("memory_limit_mib must be at least 1".into());
        }
        Ok(Limits { memory_bytes: mib.saturating_mul(1 << 20), timeout: std::time::Duration::from_secs(seconds) })
    }
}

/// What a query of a workgroup may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// DataFusion's memory pool.
    pub memory_bytes: u64,
    /// Wall-clock time, from the moment the query runs.
    pub timeout: std::time::Duration,
}

/// The embedded Athena.
#[derive(Clone)]
pub struct LocalAthena {
    inner: Arc<Inner>,
}

struct Inner {
    s3: LocalS3,
    dir: PathBuf,
    catalog: CatalogFile,
    workgroups: BTreeMap<String, Workgroup>,
    /// Queries running in this process: each one's "done" flag.
    live: Mutex<HashMap<String, watch::Receiver<bool>>>,
    aborts: Mutex<HashMap<String, tokio::task::AbortHandle>>,
    ddl_lock: Mutex<()>,
    /// Serializes read-modify-write of query records (a stop can race the query's own end).
    records_lock: Mutex<()>,
    ids: Mutex<SeededEntropy>,
}

/// The only catalog: Glue's `AwsDataCatalog`.
const CATALOG_NAME: &str = "awsdatacatalog";

fn now_millis() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// `value` with every object's keys in alphabetical order, as Step Functions prints
/// service responses.
fn sorted(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        other => other,
    }
}

impl LocalAthena {
    /// An Athena over the local S3 `s3`, keeping its catalog and queries under the data
    /// root. `workgroups` always gains `primary` (with no output location) if it lacks it.
    pub fn new(s3: LocalS3, mut workgroups: BTreeMap<String, Workgroup>) -> LocalAthena {
        let dir = s3.root().join(".sfnlite-athena");
        workgroups.entry("primary".into()).or_default();
        LocalAthena {
            inner: Arc::new(Inner {
                catalog: CatalogFile::new(&dir),
                dir,
                s3,
                workgroups,
                live: Mutex::new(HashMap::new()),
                aborts: Mutex::new(HashMap::new()),
                ddl_lock: Mutex::new(()),
                records_lock: Mutex::new(()),
                ids: Mutex::new(SeededEntropy::new(sfnlite_engine::entropy::os_seed())),
            }),
        }
    }

    /// The catalog as it is now.
    pub fn catalog(&self) -> Result<Catalog, String> {
        self.inner.catalog.load()
    }

    /// The workgroups.
    pub fn workgroups(&self) -> &BTreeMap<String, Workgroup> {
        &self.inner.workgroups
    }

    /// Runs the DDL statements of a script (separated by `;`) against the catalog at once,
    /// recording no query executions: how config `init` scripts declare their tables.
    pub fn apply_ddl(&self, script: &str, database: &str) -> Result<(), String> {
        for statement in split_statements(script) {
            match ddl::parse(&statement) {
                Ok(Some(parsed)) => {
                    self.inner.run_ddl(parsed, database).map_err(|f| f.message)?;
                }
                Ok(None) => return Err(format!("only DDL statements may be used here, not: {}", statement.trim())),
                Err(e) => return Err(format!("SYNTAX_ERROR: {e}")),
            }
        }
        Ok(())
    }
}

impl AthenaApi for LocalAthena {
    fn start_query_execution(&self, request: Value) -> BoxFuture<'_, Result<Value, AthenaError>> {
        let inner = self.inner.clone();
        Box::pin(async move { inner.start(&request) })
    }

    fn get_query_execution(&self, id: String) -> BoxFuture<'_, Result<Value, AthenaError>> {
        let inner = self.inner.clone();
        Box::pin(async move { inner.get(&id) })
    }

    fn get_query_results(&self, request: Value) -> BoxFuture<'_, Result<Value, AthenaError>> {
        let inner = self.inner.clone();
        Box::pin(async move { inner.results(&request) })
    }

    fn stop_query_execution(&self, id: String) -> BoxFuture<'_, Result<Value, AthenaError>> {
        let inner = self.inner.clone();
        Box::pin(async move { inner.stop(&id) })
    }

    fn metadata(&self, operation: &str, request: Value) -> BoxFuture<'_, Result<Value, AthenaError>> {
        let inner = self.inner.clone();
        let operation = operation.to_owned();
        Box::pin(async move {
            match operation.as_str() {
                "ListQueryExecutions" => inner.list_query_executions(&request),
                "ListWorkGroups" => inner.list_work_groups(&request),
                "GetWorkGroup" => inner.get_work_group(&request),
                "ListDatabases" => inner.list_databases(&request),
                "ListTableMetadata" => inner.list_table_metadata(&request),
                "GetTableMetadata" => inner.get_table_metadata(&request),
                other => Err(AthenaError::invalid_request(format!("{other} is not a metadata operation"))),
            }
        })
    }

    fn running(&self) -> usize {
        self.inner.live.lock().expect("live").values().filter(|done| !*done.borrow()).count()
    }

    fn settle(&self) -> BoxFuture<'_, ()> {
        let inner = self.inner.clone();
        Box::pin(async move {
            let pending: Vec<_> = inner.live.lock().expect("live").values().cloned().collect();
            for mut done in pending {
                let _ = done.wait_for(|d| *d).await;
            }
        })
    }

    fn wait_for_query(&self, id: String) -> BoxFuture<'_, Result<Value, AthenaError>> {
        let inner = self.inner.clone();
        Box::pin(async move {
            inner.get(&id)?;
            let receiver = inner.live.lock().expect("live").get(&id).cloned();
            if let Some(mut done) = receiver {
                // Ends when the query ends, or is cancelled (the sender is dropped).
                let _ = done.wait_for(|d| *d).await;
            }
            inner.get(&id)
        })
    }
}
