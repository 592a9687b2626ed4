//! Fuzz targets over the services: the Hive DDL parser of the embedded Athena, its data file
//! readers (delimited text, OpenCSV, JSON, Parquet, gzip), and the Step Functions API's
//! request decoding and validation (what `serve` does with a request body).
//! Kept apart from [`crate::targets`] because they need `adapters` and `server` (DataFusion
//! and all), which the stable corpus replay in `engine/tests` does not build.

use std::sync::{Arc, Mutex, OnceLock};

use sfnlite_adapters::athena::ddl::{self, TableDef};
use sfnlite_engine::{MemoryStore, Registry, SystemClock};
use sfnlite_server::Api;
use sfnlite_server::executor::Executor;

/// `sfnlite.toml`: read and checked as `sfnlite` does (every refusal is a message).
pub fn config(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = sfnlite_cli::fuzz::config(text);
    }
}

/// A Hive DDL statement (or any SQL: a query is `Ok(None)`).
pub fn ddl(data: &[u8]) {
    if let Ok(sql) = std::str::from_utf8(data) {
        let _ = ddl::parse(sql);
    }
}

/// The tables a data file is read as, by the first byte of the input.
const TABLES: &[(&str, &str)] = &[
    (
        "a.tsv",
        "CREATE EXTERNAL TABLE t (i INT, b BIGINT, s STRING, d DOUBLE, dt DATE, ts TIMESTAMP, ok BOOLEAN, n DECIMAL(10,2), a ARRAY<STRING>, m MAP<STRING,INT>) ROW FORMAT DELIMITED FIELDS TERMINATED BY '\\t' COLLECTION ITEMS TERMINATED BY ',' MAP KEYS TERMINATED BY ':' LOCATION 's3://b/t/' TBLPROPERTIES ('skip.header.line.count'='1')",
    ),
    (
        "a.csv",
        "CREATE EXTERNAL TABLE t (s STRING, i STRING, d STRING) ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.OpenCSVSerde' WITH SERDEPROPERTIES ('separatorChar'=',', 'quoteChar'='\"', 'escapeChar'='\\\\') LOCATION 's3://b/t/'",
    ),
    (
        "a.json",
        "CREATE EXTERNAL TABLE t (i INT, s STRING, nested STRUCT<x: INT, y: ARRAY<DOUBLE>>, m MAP<STRING,STRING>, ts TIMESTAMP) ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe' LOCATION 's3://b/t/'",
    ),
    ("a.parquet", "CREATE EXTERNAL TABLE t (i INT, s STRING, d DOUBLE) STORED AS PARQUET LOCATION 's3://b/t/'"),
    (
        "a.tsv.gz",
        "CREATE EXTERNAL TABLE t (i INT, s STRING) ROW FORMAT DELIMITED FIELDS TERMINATED BY ',' LOCATION 's3://b/t/'",
    ),
];

/// A data file read as one of [`TABLES`]: the first byte picks the table, the rest is the file.
pub fn table(data: &[u8]) {
    static DEFS: OnceLock<Vec<(&'static str, TableDef)>> = OnceLock::new();
    let defs = DEFS.get_or_init(|| {
        TABLES
            .iter()
            .map(|(name, sql)| match ddl::parse(sql) {
                Ok(Some(ddl::Statement::CreateTable { table, .. })) => (*name, table),
                other => panic!("the fuzz table {name} does not parse: {other:?}"),
            })
            .collect()
    });
    let Some((&pick, file)) = data.split_first() else { return };
    let (name, def) = &defs[usize::from(pick) % defs.len()];
    // A query's limits, tighter: 256 MiB of rows and half a second.
    let time = std::time::Duration::from_millis(500);
    let _ = sfnlite_adapters::athena::table::decode_file(def, name, file.to_vec(), 256 << 20, time);
}

/// Operations that return at once (none starts an execution or waits for a task).
const OPERATIONS: &[&str] = &[
    "CreateStateMachine",
    "DescribeStateMachine",
    "ListStateMachines",
    "UpdateStateMachine",
    "DeleteStateMachine",
    "ValidateStateMachineDefinition",
    "PublishStateMachineVersion",
    "ListStateMachineVersions",
    "DeleteStateMachineVersion",
    "CreateStateMachineAlias",
    "DescribeStateMachineAlias",
    "UpdateStateMachineAlias",
    "ListStateMachineAliases",
    "DeleteStateMachineAlias",
    "DescribeExecution",
    "DescribeStateMachineForExecution",
    "ListExecutions",
    "GetExecutionHistory",
    "CreateActivity",
    "DescribeActivity",
    "ListActivities",
    "DeleteActivity",
    "SendTaskSuccess",
    "SendTaskFailure",
    "SendTaskHeartbeat",
    "TagResource",
    "UntagResource",
    "ListTagsForResource",
    "TestState",
    "ListMapRuns",
    "DescribeMapRun",
];

struct NoAdapters;

impl sfnlite_server::sfn::Adapters for NoAdapters {
    fn registry(&self, _machine: &str, _test_case: Option<&str>) -> Result<Registry, String> {
        Ok(Registry::new())
    }
}

/// Requests build on what earlier ones created; the API and its store start afresh every
/// [`RESET_EVERY`] inputs, so that the store does not grow without end.
const RESET_EVERY: u32 = 10_000;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime"))
}

fn fresh_api() -> Api {
    Api::new(
        Arc::new(MemoryStore::new()),
        Arc::new(SystemClock),
        "us-east-1",
        Arc::new(NoAdapters),
        Executor::start().expect("the executor starts"),
    )
}

/// The first byte picks an operation, the rest is its JSON body.
pub fn api(data: &[u8]) {
    static API: Mutex<Option<(u32, Api)>> = Mutex::new(None);
    let Some((&pick, body)) = data.split_first() else { return };
    let operation = OPERATIONS[usize::from(pick) % OPERATIONS.len()];
    let mut slot = API.lock().unwrap_or_else(|e| e.into_inner());
    let (count, api) = match slot.take() {
        Some((count, api)) if count < RESET_EVERY => (count + 1, api),
        _ => (1, fresh_api()),
    };
    let _ = runtime().block_on(api.call(operation, body));
    *slot = Some((count, api));
}
