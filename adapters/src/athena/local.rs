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

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use datafusion::arrow::array::Array;
use datafusion::catalog::{CatalogProvider, SchemaProvider, TableProvider};
use datafusion::error::DataFusionError;
use datafusion::execution::context::{SQLOptions, SessionConfig, SessionContext};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sfnlite_states::entropy::{Entropy, SeededEntropy};
use tokio::sync::watch;

use super::catalog::{Catalog, CatalogFile};
use super::ddl::{self, Statement, show_pattern_matches};
use super::render::{ColumnInfo, read_csv_rows, render, write_csv_row};
use super::table::HiveTable;
use super::{AthenaApi, AthenaError, is_terminal};
use crate::BoxFuture;
use crate::s3::{LocalS3, ObjectStore, PutRequest, S3Url};

/// A workgroup's settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workgroup {
    /// Its query result location (`s3://…/`).
    pub output_location: Option<String>,
    /// "Override client-side settings": the workgroup's location wins over the request's.
    #[serde(default)]
    pub enforce_configuration: bool,
}

/// The catalog as DataFusion sees it: databases and tables looked up case-insensitively,
/// as Athena (and Glue, which stores lower-case names) does, quoted names included.
#[derive(Debug, Default)]
struct GlueCatalog {
    schemas: BTreeMap<String, Arc<GlueSchema>>,
}

#[derive(Debug, Default)]
struct GlueSchema {
    tables: BTreeMap<String, Arc<dyn TableProvider>>,
}

impl CatalogProvider for GlueCatalog {
    fn schema_names(&self) -> Vec<String> {
        self.schemas.keys().cloned().collect()
    }

    fn schema(&self, name: &str) -> Option<Arc<dyn SchemaProvider>> {
        self.schemas.get(&name.to_lowercase()).map(|s| s.clone() as Arc<dyn SchemaProvider>)
    }
}

#[async_trait::async_trait]
impl SchemaProvider for GlueSchema {
    fn table_names(&self) -> Vec<String> {
        self.tables.keys().cloned().collect()
    }

    async fn table(&self, name: &str) -> datafusion::error::Result<Option<Arc<dyn TableProvider>>> {
        Ok(self.tables.get(&name.to_lowercase()).cloned())
    }

    fn table_exist(&self, name: &str) -> bool {
        self.tables.contains_key(&name.to_lowercase())
    }
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
    live: Mutex<HashMap<String, watch::Receiver<bool>>>,
    aborts: Mutex<HashMap<String, tokio::task::AbortHandle>>,
    ddl_lock: Mutex<()>,
    /// Serializes read-modify-write of query records (a stop can race the query's own end).
    records_lock: Mutex<()>,
    ids: Mutex<SeededEntropy>,
}

/// A stored query execution.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    /// The `QueryExecution` object, as GetQueryExecution returns it.
    #[serde(rename = "QueryExecution")]
    execution: Value,
    /// The idempotency token and a fingerprint of the request it came with.
    #[serde(default)]
    token: Option<(String, String)>,
    /// Where the `.metadata` file is (set once the query succeeded).
    #[serde(default)]
    metadata: Option<String>,
}

/// The `.metadata` file sfnlite writes beside a result (Athena's is binary; only sfnlite reads this one).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ResultMetadata {
    columns: Vec<ColumnInfo>,
    /// Whether the first line of the result file is the header (queries) or not (DDL, utility).
    header: bool,
    update_count: u64,
}

/// What a statement produced.
struct Output {
    columns: Vec<ColumnInfo>,
    rows: Vec<Vec<Option<String>>>,
    scanned: u64,
    planning_millis: u64,
}

/// An error that ends a query FAILED: Athena's message (`TABLE_NOT_FOUND: …`) and error type.
#[derive(Debug)]
struct QueryFailure {
    message: String,
    error_type: u32,
    category: u32,
}

impl QueryFailure {
    fn user(code: &str, error_type: u32, message: impl std::fmt::Display) -> QueryFailure {
        QueryFailure { message: format!("{code}: {message}"), error_type, category: 2 }
    }
}

fn now_millis() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0));
    hasher.finish()
}

const CATALOG_NAME: &str = "awsdatacatalog";

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
                ids: Mutex::new(SeededEntropy::new(random_seed())),
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

/// The statements of a script: split at `;` outside quotes and comments, blank ones dropped.
pub fn split_statements(script: &str) -> Vec<String> {
    let mut statements = Vec::new();
    let mut current = String::new();
    let mut chars = script.chars().peekable();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"' | '`') => quote = Some(c),
            (None, '-') if chars.peek() == Some(&'-') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
                current.push('\n');
                continue;
            }
            (None, ';') => {
                statements.push(std::mem::take(&mut current));
                continue;
            }
            (None, _) => {}
        }
        current.push(c);
    }
    statements.push(current);
    statements.into_iter().filter(|s| !s.trim().is_empty()).collect()
}

fn field_str<'a>(request: &'a Value, pointer: &str) -> Option<&'a str> {
    request.pointer(pointer).and_then(Value::as_str)
}

fn validation(field: &str, value: &Value, constraint: &str) -> AthenaError {
    AthenaError::invalid_request(format!(
        "1 validation error detected: Value {} at '{field}' failed to satisfy constraint: {constraint}",
        if value.is_null() {
            "null".to_owned()
        } else {
            format!("'{}'", value.as_str().map_or(value.to_string(), str::to_owned))
        }
    ))
}

impl Inner {
    fn record_path(&self, id: &str) -> PathBuf {
        self.dir.join("queries").join(format!("{id}.json"))
    }

    fn save(&self, record: &Record) -> Result<(), AthenaError> {
        let id = record.execution["QueryExecutionId"].as_str().unwrap_or_default();
        let path = self.record_path(id);
        let fail = |e: std::io::Error| AthenaError::internal(format!("cannot record query {id}: {e}"));
        std::fs::create_dir_all(path.parent().expect("a parent")).map_err(fail)?;
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = path.with_extension(format!("json.{}.{n}.tmp", std::process::id()));
        std::fs::write(&tmp, serde_json::to_vec(record).expect("a record serializes")).map_err(fail)?;
        std::fs::rename(&tmp, &path).map_err(fail)
    }

    fn load(&self, id: &str) -> Result<Record, AthenaError> {
        let valid = !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        let not_found = || AthenaError::invalid_request(format!("QueryExecution {id} was not found"));
        if !valid {
            return Err(not_found());
        }
        let bytes = std::fs::read(self.record_path(id)).map_err(|_| not_found())?;
        serde_json::from_slice(&bytes)
            .map_err(|e| AthenaError::internal(format!("query {id}'s record is damaged: {e}")))
    }

    fn update(&self, id: &str, change: impl FnOnce(&mut Record)) -> Result<Record, AthenaError> {
        let _guard = self.records_lock.lock().expect("records lock");
        let mut record = self.load(id)?;
        change(&mut record);
        self.save(&record)?;
        Ok(record)
    }

    /// Where results go: AWS's precedence of workgroup and request.
    fn output_location(&self, workgroup: &Workgroup, request: &Value) -> Result<S3Url, AthenaError> {
        let requested = field_str(request, "/ResultConfiguration/OutputLocation");
        let chosen = if workgroup.enforce_configuration {
            workgroup.output_location.as_deref().or(requested)
        } else {
            requested.or(workgroup.output_location.as_deref())
        };
        let Some(location) = chosen else {
            return Err(AthenaError::invalid_request(
                "No output location provided. An output location is required either through the Workgroup result configuration setting or as an API input.",
            ));
        };
        S3Url::parse(location).map(|u| u.as_folder()).ok_or_else(|| {
            AthenaError::invalid_request(format!("outputLocation is not a valid S3 path. Provided {location}"))
        })
    }

    fn start(self: &Arc<Self>, request: Value) -> Result<Value, AthenaError> {
        if !request.is_object() {
            return Err(AthenaError::invalid_request("the request must be a JSON object"));
        }
        let query = request.get("QueryString").cloned().unwrap_or(Value::Null);
        let Some(sql) = query.as_str().filter(|q| (1..=262_144).contains(&q.len())) else {
            return Err(validation(
                "queryString",
                &query,
                "Member must have length between 1 and 262144 and must not be null",
            ));
        };
        for (pointer, field) in [
            ("/WorkGroup", "workGroup"),
            ("/ResultConfiguration/OutputLocation", "outputLocation"),
            ("/QueryExecutionContext/Database", "database"),
        ] {
            if let Some(value) = request.pointer(pointer).filter(|v| !v.is_string()) {
                return Err(validation(field, value, "Member must be a string"));
            }
        }
        let workgroup_name = field_str(&request, "/WorkGroup").unwrap_or("primary");
        let valid_name = !workgroup_name.is_empty()
            && workgroup_name.len() <= 128
            && workgroup_name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !valid_name {
            return Err(validation(
                "workGroup",
                &json!(workgroup_name),
                "Member must satisfy regular expression pattern: [a-zA-Z0-9._-]{1,128}",
            ));
        }
        let workgroup = self
            .workgroups
            .get(workgroup_name)
            .ok_or_else(|| AthenaError::invalid_request(format!("WorkGroup {workgroup_name} is not found.")))?;
        if let Some(catalog) = field_str(&request, "/QueryExecutionContext/Catalog")
            && !catalog.eq_ignore_ascii_case(CATALOG_NAME)
        {
            return Err(AthenaError::invalid_request(format!(
                "Catalog {catalog} was not found (sfnlite has only AwsDataCatalog)"
            )));
        }
        if let Some(parameters) = request.get("ExecutionParameters")
            && !parameters
                .as_array()
                .is_some_and(|a| !a.is_empty() && a.iter().all(|p| p.as_str().is_some_and(|s| !s.is_empty())))
        {
            return Err(validation(
                "executionParameters",
                parameters,
                "Member must be a non-empty list of non-empty strings",
            ));
        }
        let location = self.output_location(workgroup, &request)?;
        let configured = workgroup.output_location.as_deref().and_then(S3Url::parse).map(|u| u.as_folder());
        if configured.as_ref() == Some(&location) {
            // The workgroup's own location: its bucket is created on first use.
            let _ = std::fs::create_dir_all(
                self.s3.bucket_dir(&location.bucket).map_err(|e| AthenaError::invalid_request(e.message))?,
            );
        }

        // Idempotency: the same token with the same request is the same query.
        let token = match request.get("ClientRequestToken") {
            None => None,
            Some(Value::String(t)) if (32..=128).contains(&t.len()) => {
                let mut fingerprint = request.clone();
                fingerprint.as_object_mut().map(|o| o.remove("ClientRequestToken"));
                Some((t.clone(), fingerprint.to_string()))
            }
            Some(other) => {
                return Err(validation("clientRequestToken", other, "Member must have length between 32 and 128"));
            }
        };
        if let Some((t, fingerprint)) = &token
            && let Some(existing) = self.find_token(t)
        {
            return match &existing.token {
                Some((_, f)) if f == fingerprint => {
                    Ok(json!({"QueryExecutionId": existing.execution["QueryExecutionId"]}))
                }
                _ => Err(AthenaError::invalid_request(
                    "Idempotent parameters do not match: the ClientRequestToken was used with a different request",
                )),
            };
        }

        let id = self.ids.lock().expect("ids").uuid_v4();
        let statement_type = statement_type(sql);
        let extension = if statement_type == "DML" || sql_starts_with(sql, "explain") { "csv" } else { "txt" };
        let mut context = Map::new();
        if let Some(database) = field_str(&request, "/QueryExecutionContext/Database") {
            context.insert("Database".into(), json!(database));
        }
        if let Some(catalog) = field_str(&request, "/QueryExecutionContext/Catalog") {
            context.insert("Catalog".into(), json!(catalog));
        }
        let mut execution = json!({
            "EngineVersion": {"EffectiveEngineVersion": "Athena engine version 3", "SelectedEngineVersion": "AUTO"},
            "Query": sql,
            "QueryExecutionContext": context,
            "QueryExecutionId": id,
            "ResultConfiguration": {"OutputLocation": location.join(&format!("{id}.{extension}")).to_string()},
            "ResultReuseConfiguration": {"ResultReuseByAgeConfiguration": {"Enabled": false}},
            "StatementType": statement_type,
            "Statistics": {"DataScannedInBytes": 0, "TotalExecutionTimeInMillis": 0},
            "Status": {"State": "QUEUED", "SubmissionDateTime": now_millis()},
            "WorkGroup": workgroup_name,
        });
        if let Some(parameters) = request.get("ExecutionParameters") {
            execution["ExecutionParameters"] = parameters.clone();
        }
        if let Some(sub) = substatement_type(sql) {
            execution["SubstatementType"] = json!(sub);
        }
        let record = Record { execution, token, metadata: None };
        self.save(&record)?;
        self.launch(id.clone());
        Ok(json!({"QueryExecutionId": id}))
    }

    fn find_token(&self, token: &str) -> Option<Record> {
        let entries = std::fs::read_dir(self.dir.join("queries")).ok()?;
        entries.flatten().find_map(|entry| {
            let record: Record = serde_json::from_slice(&std::fs::read(entry.path()).ok()?).ok()?;
            (record.token.as_ref().map(|(t, _)| t.as_str()) == Some(token)).then_some(record)
        })
    }

    /// Starts running a stored query on the service runtime.
    fn launch(self: &Arc<Self>, id: String) {
        let (done_tx, done_rx) = watch::channel(false);
        self.live.lock().expect("live").insert(id.clone(), done_rx);
        let inner = self.clone();
        let task_id = id.clone();
        let task = crate::service::handle().spawn(async move {
            use futures_util::FutureExt;
            // A panic in the engine must not leave the query RUNNING forever.
            if std::panic::AssertUnwindSafe(inner.execute(&task_id)).catch_unwind().await.is_err() {
                let _ = inner.update(&task_id, |r| {
                    if is_terminal(r.execution["Status"]["State"].as_str().unwrap_or_default()) {
                        return;
                    }
                    let message = "INTERNAL_ERROR: the query engine failed unexpectedly";
                    let status = &mut r.execution["Status"];
                    status["State"] = json!("FAILED");
                    status["StateChangeReason"] = json!(message);
                    status["CompletionDateTime"] = json!(now_millis());
                    status["AthenaError"] =
                        json!({"ErrorCategory": 1, "ErrorMessage": message, "ErrorType": 100, "Retryable": false});
                });
            }
            inner.aborts.lock().expect("aborts").remove(&task_id);
            let _ = done_tx.send(true);
        });
        self.aborts.lock().expect("aborts").insert(id, task.abort_handle());
    }

    async fn execute(self: &Arc<Self>, id: &str) {
        let started = Instant::now();
        let Ok(record) = self.update(id, |r| {
            if !is_terminal(r.execution["Status"]["State"].as_str().unwrap_or_default()) {
                r.execution["Status"]["State"] = json!("RUNNING");
            }
        }) else {
            return;
        };
        if is_terminal(record.execution["Status"]["State"].as_str().unwrap_or_default()) {
            return; // stopped before it ran
        }
        let queued = (now_millis() - record.execution["Status"]["SubmissionDateTime"].as_i64().unwrap_or(0)).max(0);
        let sql = record.execution["Query"].as_str().unwrap_or_default().to_owned();
        let database = record
            .execution
            .pointer("/QueryExecutionContext/Database")
            .and_then(Value::as_str)
            .unwrap_or("default")
            .to_lowercase();
        let parameters: Vec<String> = record
            .execution
            .get("ExecutionParameters")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
            .unwrap_or_default();
        let location =
            record.execution["ResultConfiguration"]["OutputLocation"].as_str().unwrap_or_default().to_owned();
        let outcome = match bind_parameters(&sql, &parameters) {
            Ok(sql) => self.run_statement(&sql, &database).await,
            Err(e) => Err(e),
        };
        let outcome = match outcome {
            Ok(output) => self.write_results(&location, &output, location.ends_with(".csv")).await.map(|m| (output, m)),
            Err(e) => Err(e),
        };
        let engine_millis = started.elapsed().as_millis() as i64;
        let _ = self.update(id, |r| {
            if is_terminal(r.execution["Status"]["State"].as_str().unwrap_or("")) {
                return; // cancelled meanwhile
            }
            let (scanned, planning) = match &outcome {
                Ok((output, _)) => (output.scanned, output.planning_millis as i64),
                Err(_) => (0, 0),
            };
            r.execution["Statistics"] = json!({
                "DataScannedInBytes": scanned,
                "EngineExecutionTimeInMillis": engine_millis,
                "QueryPlanningTimeInMillis": planning,
                "QueryQueueTimeInMillis": queued,
                "ResultReuseInformation": {"ReusedPreviousResult": false},
                "ServicePreProcessingTimeInMillis": 0,
                "ServiceProcessingTimeInMillis": 0,
                "TotalExecutionTimeInMillis": engine_millis + queued,
            });
            let status = &mut r.execution["Status"];
            status["CompletionDateTime"] = json!(now_millis());
            match &outcome {
                Ok((_, metadata)) => {
                    status["State"] = json!("SUCCEEDED");
                    r.metadata = Some(metadata.clone());
                }
                Err(failure) => {
                    status["State"] = json!("FAILED");
                    status["StateChangeReason"] = json!(failure.message);
                    status["AthenaError"] = json!({
                        "ErrorCategory": failure.category,
                        "ErrorMessage": failure.message,
                        "ErrorType": failure.error_type,
                        "Retryable": false,
                    });
                }
            }
        });
    }

    async fn write_results(&self, location: &str, output: &Output, header: bool) -> Result<String, QueryFailure> {
        let write_failure = |e: crate::s3::S3Error| QueryFailure {
            message: format!("Unable to write query results to {location}: {}", e.message),
            error_type: 401,
            category: 1,
        };
        let url = S3Url::parse(location)
            .ok_or_else(|| write_failure(crate::s3::S3Error::invalid_argument("not an s3:// address")))?;
        let mut text = String::new();
        if header {
            let names: Vec<Option<String>> = output.columns.iter().map(|c| Some(c.name.clone())).collect();
            write_csv_row(&mut text, &names);
            for row in &output.rows {
                write_csv_row(&mut text, row);
            }
        } else {
            for row in &output.rows {
                let fields: Vec<&str> = row.iter().map(|v| v.as_deref().unwrap_or("")).collect();
                text.push_str(&fields.join("\t"));
                text.push('\n');
            }
        }
        let content_type = if header { "text/csv" } else { "text/plain" };
        self.s3
            .put_object(PutRequest {
                bucket: url.bucket.clone(),
                key: url.key.clone(),
                body: text.into_bytes(),
                content_type: Some(content_type.into()),
                metadata: Default::default(),
            })
            .await
            .map_err(write_failure)?;
        let metadata = ResultMetadata { columns: output.columns.clone(), header, update_count: 0 };
        let metadata_key = format!("{}.metadata", url.key);
        self.s3
            .put_object(PutRequest {
                bucket: url.bucket.clone(),
                key: metadata_key.clone(),
                body: serde_json::to_vec(&metadata).expect("metadata serializes"),
                content_type: Some("application/octet-stream".into()),
                metadata: Default::default(),
            })
            .await
            .map_err(write_failure)?;
        Ok(S3Url { bucket: url.bucket, key: metadata_key }.to_string())
    }

    async fn run_statement(&self, sql: &str, database: &str) -> Result<Output, QueryFailure> {
        let parsed = ddl::parse(sql).map_err(|e| QueryFailure::user("SYNTAX_ERROR", 1006, e))?;
        match parsed {
            Some(statement) => self.run_ddl(statement, database),
            None => self.run_query(sql, database).await,
        }
    }

    fn run_ddl(&self, statement: Statement, current: &str) -> Result<Output, QueryFailure> {
        let _guard = self.ddl_lock.lock().expect("ddl lock");
        let internal = |e: String| QueryFailure { message: e, error_type: 100, category: 1 };
        let mut catalog = self.catalog.load().map_err(internal)?;
        let empty = |columns: Vec<ColumnInfo>, rows: Vec<Vec<Option<String>>>| Output {
            columns,
            rows,
            scanned: 0,
            planning_millis: 0,
        };
        let schema_missing =
            |db: &str| QueryFailure::user("SCHEMA_NOT_FOUND", 1110, format!("Schema {db} does not exist"));
        let table_missing = |db: &str, t: &str| {
            QueryFailure::user("TABLE_NOT_FOUND", 1110, format!("Table {CATALOG_NAME}.{db}.{t} does not exist"))
        };
        let mut changed = false;
        let output = match statement {
            Statement::CreateDatabase { name, if_not_exists } => {
                match catalog.databases.entry(name) {
                    std::collections::btree_map::Entry::Occupied(existing) if !if_not_exists => {
                        return Err(QueryFailure::user(
                            "FAILED",
                            1003,
                            format!(
                                "Execution Error, return code 1 from org.apache.hadoop.hive.ql.exec.DDLTask. Database {} already exists",
                                existing.key()
                            ),
                        ));
                    }
                    std::collections::btree_map::Entry::Occupied(_) => {}
                    std::collections::btree_map::Entry::Vacant(slot) => {
                        slot.insert(Default::default());
                        changed = true;
                    }
                }
                empty(vec![], vec![])
            }
            Statement::DropDatabase { name, if_exists, cascade } => {
                match catalog.databases.get(&name) {
                    None if if_exists => {}
                    None => return Err(schema_missing(&name)),
                    Some(db) if !db.tables.is_empty() && !cascade => {
                        return Err(QueryFailure::user(
                            "FAILED",
                            1003,
                            format!(
                                "InvalidOperationException(message:Database {name} is not empty. One or more tables exist.)"
                            ),
                        ));
                    }
                    Some(_) => {
                        catalog.databases.remove(&name);
                        changed = true;
                    }
                }
                empty(vec![], vec![])
            }
            Statement::CreateTable { database, if_not_exists, table } => {
                let db_name = database.unwrap_or_else(|| current.to_owned());
                let db = catalog.databases.get_mut(&db_name).ok_or_else(|| schema_missing(&db_name))?;
                if db.tables.contains_key(&table.name) {
                    if !if_not_exists {
                        return Err(QueryFailure::user(
                            "FAILED",
                            1003,
                            format!("AlreadyExistsException(message:Table {} already exists)", table.name),
                        ));
                    }
                } else {
                    let url = S3Url::parse(&table.location)
                        .ok_or_else(|| QueryFailure::user("FAILED", 1100, "bad location"))?;
                    self.s3.path_of(&url.bucket, &url.key).map_err(|e| {
                        QueryFailure::user(
                            "HIVE_INVALID_METADATA",
                            1100,
                            format!("LOCATION {}: {}", table.location, e.message),
                        )
                    })?;
                    db.tables.insert(table.name.clone(), table);
                    changed = true;
                }
                empty(vec![], vec![])
            }
            Statement::DropTable { database, name, if_exists } => {
                let db_name = database.unwrap_or_else(|| current.to_owned());
                let db = catalog.databases.get_mut(&db_name).ok_or_else(|| schema_missing(&db_name))?;
                if db.tables.remove(&name).is_some() {
                    changed = true;
                } else if !if_exists {
                    return Err(table_missing(&db_name, &name));
                }
                empty(vec![], vec![])
            }
            Statement::ShowDatabases { pattern } => {
                let rows = catalog
                    .databases
                    .keys()
                    .filter(|n| pattern.as_deref().is_none_or(|p| show_pattern_matches(p, n)))
                    .map(|n| vec![Some(n.clone())])
                    .collect();
                empty(vec![ColumnInfo::varchar("database_name")], rows)
            }
            Statement::ShowTables { database, pattern } => {
                let db_name = database.unwrap_or_else(|| current.to_owned());
                let db = catalog.databases.get(&db_name).ok_or_else(|| schema_missing(&db_name))?;
                let rows = db
                    .tables
                    .keys()
                    .filter(|n| pattern.as_deref().is_none_or(|p| show_pattern_matches(p, n)))
                    .map(|n| vec![Some(n.clone())])
                    .collect();
                empty(vec![ColumnInfo::varchar("tab_name")], rows)
            }
            Statement::Describe { database, name } => {
                let db_name = database.unwrap_or_else(|| current.to_owned());
                let table = catalog
                    .databases
                    .get(&db_name)
                    .and_then(|db| db.tables.get(&name))
                    .ok_or_else(|| table_missing(&db_name, &name))?;
                let row = |c: &ddl::Column| vec![Some(c.name.clone()), Some(c.ty.to_string()), Some(String::new())];
                let mut rows: Vec<Vec<Option<String>>> = table.columns.iter().map(row).collect();
                if !table.partition_keys.is_empty() {
                    rows.push(vec![Some("# Partition Information".into()), Some(String::new()), Some(String::new())]);
                    rows.extend(table.partition_keys.iter().map(row));
                }
                let columns = ["col_name", "data_type", "comment"].map(ColumnInfo::varchar).to_vec();
                empty(columns, rows)
            }
            Statement::AddPartitions { database, name, partitions } => {
                let db_name = database.unwrap_or_else(|| current.to_owned());
                let table = catalog
                    .databases
                    .get_mut(&db_name)
                    .and_then(|db| db.tables.get_mut(&name))
                    .ok_or_else(|| table_missing(&db_name, &name))?;
                for (values, location) in partitions {
                    if let Some((_, bad)) =
                        values.iter().find(|(_, v)| v.contains('/') || v == ".." || v == "." || v.is_empty())
                    {
                        return Err(QueryFailure::user(
                            "HIVE_INVALID_METADATA",
                            1100,
                            format!("invalid partition value '{bad}'"),
                        ));
                    }
                    let mut ordered = Vec::new();
                    for key in &table.partition_keys {
                        let value =
                            values.iter().find(|(k, _)| k == &key.name).map(|(_, v)| v.clone()).ok_or_else(|| {
                                QueryFailure::user(
                                    "HIVE_METASTORE_ERROR",
                                    1100,
                                    format!("partition key '{}' is missing", key.name),
                                )
                            })?;
                        ordered.push(value);
                    }
                    let location = location.unwrap_or_else(|| {
                        let mut folder =
                            S3Url::parse(&table.location).map(|u| u.as_folder().to_string()).unwrap_or_default();
                        for (key, value) in table.partition_keys.iter().zip(&ordered) {
                            folder.push_str(&format!("{}={value}/", key.name));
                        }
                        folder
                    });
                    let invalid = |message: String| QueryFailure::user("HIVE_INVALID_METADATA", 1100, message);
                    let url = S3Url::parse(&location)
                        .ok_or_else(|| invalid(format!("LOCATION {location} is not an s3:// folder")))?;
                    self.s3
                        .path_of(&url.bucket, &url.key)
                        .map_err(|e| invalid(format!("LOCATION {location}: {}", e.message)))?;
                    table.partitions.retain(|(v, _)| v != &ordered);
                    table.partitions.push((ordered, location));
                }
                changed = true;
                empty(vec![], vec![])
            }
            Statement::RepairTable { database, name } => {
                let db_name = database.unwrap_or_else(|| current.to_owned());
                catalog
                    .databases
                    .get(&db_name)
                    .and_then(|db| db.tables.get(&name))
                    .ok_or_else(|| table_missing(&db_name, &name))?;
                empty(vec![], vec![])
            }
        };
        if changed {
            self.catalog.save(&catalog).map_err(internal)?;
        }
        Ok(output)
    }

    async fn run_query(&self, sql: &str, database: &str) -> Result<Output, QueryFailure> {
        if let Some(kind) = unsupported_statement(sql) {
            return Err(QueryFailure::user(
                "NOT_SUPPORTED",
                1200,
                format!("{kind} is not supported by sfnlite's local Athena"),
            ));
        }
        let internal = |e: String| QueryFailure { message: e, error_type: 100, category: 1 };
        let catalog = self.catalog.load().map_err(internal)?;
        let scanned = Arc::new(AtomicU64::new(0));
        let config = SessionConfig::new()
            .with_default_catalog_and_schema(CATALOG_NAME, database)
            .with_information_schema(false)
            .with_target_partitions(std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2));
        let ctx = SessionContext::new_with_config(config);
        let mut provider = GlueCatalog::default();
        for (name, db) in &catalog.databases {
            let mut schema = GlueSchema::default();
            for (table_name, def) in &db.tables {
                let table = HiveTable::new(def.clone(), self.s3.clone(), scanned.clone());
                schema.tables.insert(table_name.to_lowercase(), Arc::new(table));
            }
            provider.schemas.insert(name.to_lowercase(), Arc::new(schema));
        }
        provider.schemas.entry(database.to_lowercase()).or_default();
        ctx.register_catalog(CATALOG_NAME, Arc::new(provider));
        let options = SQLOptions::new().with_allow_ddl(false).with_allow_dml(false).with_allow_statements(false);
        let planning = Instant::now();
        let frame = ctx.sql_with_options(sql, options).await.map_err(|e| translate(e, database))?;
        let planning_millis = planning.elapsed().as_millis() as u64;
        let columns: Vec<ColumnInfo> =
            frame.schema().fields().iter().map(|f| ColumnInfo::new(f.name(), f.data_type())).collect();
        let batches = frame.collect().await.map_err(|e| translate(e, database))?;
        let mut rows = Vec::with_capacity(batches.iter().map(|b| b.num_rows()).sum());
        for batch in &batches {
            let arrays: Vec<&dyn Array> = batch.columns().iter().map(|c| c.as_ref()).collect();
            for row in 0..batch.num_rows() {
                rows.push(arrays.iter().map(|a| render(*a, row)).collect());
            }
        }
        Ok(Output { columns, rows, scanned: scanned.load(Ordering::Relaxed), planning_millis })
    }

    fn results(&self, request: &Value) -> Result<Value, AthenaError> {
        let id = request.get("QueryExecutionId").and_then(Value::as_str).unwrap_or_default();
        let record = self.load(id)?;
        let state = record.execution["Status"]["State"].as_str().unwrap_or_default();
        match state {
            "SUCCEEDED" => {}
            "FAILED" | "CANCELLED" => {
                let reason = record.execution["Status"]["StateChangeReason"].as_str().unwrap_or_default();
                return Err(AthenaError::invalid_request(format!(
                    "Query did not finish successfully. Final query state: {state}{}",
                    if reason.is_empty() { String::new() } else { format!("\n{reason}") }
                )));
            }
            _ => {
                return Err(AthenaError::invalid_request(format!(
                    "Query has not yet finished. Current state: {state}"
                )));
            }
        }
        let max = match request.get("MaxResults") {
            None => 1000,
            Some(v) => match v.as_u64().filter(|n| (1..=1000).contains(n)) {
                Some(n) => n as usize,
                None => return Err(validation("maxResults", v, "Member must have value between 1 and 1000")),
            },
        };
        let offset = match request.get("NextToken") {
            None => 0,
            Some(token) => token
                .as_str()
                .and_then(|t| decode_token(t, id))
                .ok_or_else(|| AthenaError::invalid_request("The NextToken is not valid for this query execution"))?,
        };
        let location = record.execution["ResultConfiguration"]["OutputLocation"].as_str().unwrap_or_default();
        let read = |address: &str| -> Result<Vec<u8>, AthenaError> {
            let url = S3Url::parse(address).ok_or_else(|| AthenaError::internal("bad result location"))?;
            let path = self.s3.path_of(&url.bucket, &url.key).map_err(|e| AthenaError::internal(e.message))?;
            std::fs::read(&path).map_err(|e| {
                AthenaError::invalid_request(format!(
                    "Unable to read the query results at {address}: {e} (were they deleted?)"
                ))
            })
        };
        let metadata: ResultMetadata =
            serde_json::from_slice(&read(record.metadata.as_deref().unwrap_or_default())?)
                .map_err(|e| AthenaError::internal(format!("the result metadata of {id} is damaged: {e}")))?;
        let text = String::from_utf8_lossy(&read(location)?).into_owned();
        let all: Vec<Vec<Option<String>>> = if metadata.header {
            read_csv_rows(&text)
        } else {
            text.lines().map(|line| line.split('\t').map(|f| Some(f.to_owned())).collect()).collect()
        };
        if offset > all.len() {
            return Err(AthenaError::invalid_request("The NextToken is not valid for this query execution"));
        }
        let end = offset.saturating_add(max).min(all.len());
        let rows: Vec<Value> = all
            .get(offset..end)
            .unwrap_or_default()
            .iter()
            .map(|row| {
                let data: Vec<Value> =
                    row.iter().map(|v| v.as_ref().map_or_else(|| json!({}), |s| json!({"VarCharValue": s}))).collect();
                json!({"Data": data})
            })
            .collect();
        let mut response = json!({
            "ResultSet": {"ResultSetMetadata": {"ColumnInfo": metadata.columns}, "Rows": rows},
            "UpdateCount": metadata.update_count,
        });
        if end < all.len() {
            response["NextToken"] = json!(encode_token(end, id));
        }
        Ok(sorted(response))
    }

    fn stop(&self, id: &str) -> Result<Value, AthenaError> {
        let record = self.load(id)?;
        if is_terminal(record.execution["Status"]["State"].as_str().unwrap_or_default()) {
            return Ok(json!({}));
        }
        if let Some(abort) = self.aborts.lock().expect("aborts").remove(id) {
            abort.abort();
        }
        self.update(id, |r| {
            if is_terminal(r.execution["Status"]["State"].as_str().unwrap_or_default()) {
                return; // it ended meanwhile
            }
            let status = &mut r.execution["Status"];
            status["State"] = json!("CANCELLED");
            status["StateChangeReason"] = json!("Query cancelled by user");
            status["CompletionDateTime"] = json!(now_millis());
        })?;
        if let Some(rx) = self.live.lock().expect("live").remove(id) {
            drop(rx);
        }
        Ok(json!({}))
    }

    /// GetQueryExecution; a query left QUEUED or RUNNING by a process that died runs again.
    fn get(self: &Arc<Self>, id: &str) -> Result<Value, AthenaError> {
        let record = self.load(id)?;
        let state = record.execution["Status"]["State"].as_str().unwrap_or_default();
        if !is_terminal(state) && !self.live.lock().expect("live").contains_key(id) {
            self.launch(id.to_owned());
        }
        Ok(json!({"QueryExecution": sorted(record.execution)}))
    }
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

fn encode_token(offset: usize, id: &str) -> String {
    format!("{offset:x}.{}", &id.replace('-', "")[..8.min(id.len())])
}

fn decode_token(token: &str, id: &str) -> Option<usize> {
    let (offset, check) = token.split_once('.')?;
    (encode_token(0, id).split_once('.')?.1 == check).then(|| usize::from_str_radix(offset, 16).ok()).flatten()
}

fn sql_starts_with(sql: &str, word: &str) -> bool {
    first_word(sql).eq_ignore_ascii_case(word)
}

/// The first keyword of a statement, past comments and parentheses.
fn first_word(sql: &str) -> &str {
    let mut rest = sql.trim_start();
    loop {
        if let Some(after) = rest.strip_prefix("--") {
            rest = after.split_once('\n').map_or("", |(_, r)| r).trim_start();
        } else if let Some(after) = rest.strip_prefix("/*") {
            rest = after.split_once("*/").map_or("", |(_, r)| r).trim_start();
        } else if let Some(after) = rest.strip_prefix('(') {
            rest = after.trim_start();
        } else {
            break;
        }
    }
    let end = rest.find(|c: char| !c.is_alphanumeric() && c != '_').unwrap_or(rest.len());
    &rest[..end]
}

/// Athena's StatementType: DDL, DML or UTILITY.
fn statement_type(sql: &str) -> &'static str {
    match first_word(sql).to_ascii_lowercase().as_str() {
        "create" | "drop" | "alter" | "msck" => "DDL",
        "show" | "describe" | "desc" | "explain" => "UTILITY",
        _ => "DML",
    }
}

fn substatement_type(sql: &str) -> Option<&'static str> {
    Some(match first_word(sql).to_ascii_lowercase().as_str() {
        "select" | "with" | "values" | "table" => "SELECT",
        "insert" => "INSERT",
        "create"
            if sql.to_ascii_lowercase().contains(" as select") || sql.to_ascii_lowercase().contains(" as with") =>
        {
            "CREATE_TABLE_AS_SELECT"
        }
        _ => return None,
    })
}

fn unsupported_statement(sql: &str) -> Option<&'static str> {
    match first_word(sql).to_ascii_lowercase().as_str() {
        "insert" => Some("INSERT INTO"),
        "update" => Some("UPDATE"),
        "delete" => Some("DELETE"),
        "merge" => Some("MERGE"),
        "unload" => Some("UNLOAD"),
        "vacuum" | "optimize" => Some("Iceberg maintenance"),
        "prepare" | "execute" | "deallocate" => Some("Prepared statements (use ExecutionParameters)"),
        _ => None,
    }
}

/// Replaces each `?` outside quotes with the next execution parameter (SQL literal text).
fn bind_parameters(sql: &str, parameters: &[String]) -> Result<String, QueryFailure> {
    let mut out = String::with_capacity(sql.len());
    let mut next = 0;
    let mut quote: Option<char> = None;
    for c in sql.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"' | '`') => quote = Some(c),
            (None, '?') => {
                let value = parameters.get(next).ok_or_else(|| {
                    QueryFailure::user(
                        "INVALID_PARAMETER_USAGE",
                        1100,
                        format!(
                            "Incorrect number of parameters: expected at least {} but found {}",
                            next + 1,
                            parameters.len()
                        ),
                    )
                })?;
                out.push_str(value);
                next += 1;
                continue;
            }
            (None, _) => {}
        }
        out.push(c);
    }
    if next != parameters.len() {
        return Err(QueryFailure::user(
            "INVALID_PARAMETER_USAGE",
            1100,
            format!("Incorrect number of parameters: expected {next} but found {}", parameters.len()),
        ));
    }
    Ok(out)
}

/// DataFusion's errors in Athena's words.
fn translate(error: DataFusionError, database: &str) -> QueryFailure {
    let error = error.find_root().to_string();
    let text = error
        .trim_start_matches("Error during planning: ")
        .trim_start_matches("Schema error: ")
        .trim_start_matches("Execution error: ")
        .trim_start_matches("SQL error: ")
        .to_owned();
    if let Some(rest) = text.strip_prefix("HIVE_") {
        return QueryFailure::user("HIVE", 1002, rest).with_prefix("HIVE_");
    }
    let lower = text.to_lowercase();
    if lower.contains("parsererror")
        || lower.starts_with("parser")
        || lower.contains("expected:")
        || lower.contains("expected ") && lower.contains("found")
    {
        return QueryFailure::user("SYNTAX_ERROR", 1006, text);
    }
    if lower.starts_with("table '") && lower.contains("not found") {
        let name = text.split('\'').nth(1).unwrap_or_default();
        let qualified = if name.matches('.').count() >= 2 {
            name.to_owned()
        } else if name.contains('.') {
            format!("{CATALOG_NAME}.{name}")
        } else {
            format!("{CATALOG_NAME}.{database}.{name}")
        };
        return QueryFailure::user("TABLE_NOT_FOUND", 1110, format!("Table '{qualified}' does not exist"));
    }
    if lower.contains("no field named") || lower.contains("column") && lower.contains("not found") {
        return QueryFailure::user("COLUMN_NOT_FOUND", 1006, format!("{text} (Column cannot be resolved)"));
    }
    if lower.contains("invalid function") || lower.contains("function") && lower.contains("not found") {
        return QueryFailure::user("FUNCTION_NOT_FOUND", 1006, text);
    }
    if lower.contains("not supported") || lower.contains("unsupported") {
        return QueryFailure::user("NOT_SUPPORTED", 1200, text);
    }
    QueryFailure::user("GENERIC_USER_ERROR", 1000, text)
}

impl QueryFailure {
    fn with_prefix(mut self, prefix: &str) -> QueryFailure {
        // "HIVE: BAD_DATA: …" → "HIVE_BAD_DATA: …"
        self.message = format!("{prefix}{}", self.message.trim_start_matches("HIVE: "));
        self
    }
}

impl AthenaApi for LocalAthena {
    fn start_query_execution(&self, request: Value) -> BoxFuture<'_, Result<Value, AthenaError>> {
        let inner = self.inner.clone();
        Box::pin(async move { inner.start(request) })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_and_statement_types() {
        let bound = bind_parameters("SELECT '?' FROM t WHERE a = ? AND b = ?", &["1".into(), "'x'".into()]).unwrap();
        assert_eq!(bound, "SELECT '?' FROM t WHERE a = 1 AND b = 'x'");
        assert!(bind_parameters("SELECT ?", &[]).is_err());
        assert!(bind_parameters("SELECT 1", &["1".into()]).is_err());
        assert_eq!(statement_type("  -- c\n SHOW TABLES"), "UTILITY");
        assert_eq!(statement_type("(SELECT 1)"), "DML");
        assert_eq!(statement_type("CREATE EXTERNAL TABLE x"), "DDL");
        assert_eq!(decode_token(&encode_token(1000, "ab-cd-ef-12-34"), "ab-cd-ef-12-34"), Some(1000));
        assert_eq!(decode_token(&encode_token(1000, "ab-cd-ef-12-34"), "ff-cd-ef-12-34"), None);
        let statements = split_statements("CREATE DATABASE a; -- x; y\nCREATE TABLE ';' ;\n\n");
        assert_eq!(statements.len(), 2, "{statements:?}");
        assert!(statements[1].contains("';'"));
    }
}
