//! Running a statement: DDL and utility statements go to `ddl_exec`, anything else is a
//! query, planned and run by DataFusion over the catalog's tables, its values rendered
//! as Athena prints them.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use datafusion::arrow::array::Array;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::execution::context::{SQLOptions, SessionConfig, SessionContext};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;

use super::catalog_provider::GlueCatalog;
use super::errors::{QueryFailure, translate};
use super::statement::unsupported_statement;
use super::{CATALOG_NAME, Inner};
use crate::athena::ddl;
use crate::athena::render::{ColumnInfo, render};
use crate::athena::table::ScanBudget;

/// A result row: each value in Athena's text form, NULL as `None`.
pub(super) type Row = Vec<Option<String>>;

/// What a statement produced.
pub(super) struct Output {
    pub(super) columns: Vec<ColumnInfo>,
    pub(super) rows: Vec<Row>,
    pub(super) scanned: u64,
    pub(super) planning_millis: u64,
}

impl Output {
    /// A result that scanned nothing and took no planning (DDL and utility statements).
    pub(super) fn unplanned(columns: Vec<ColumnInfo>, rows: Vec<Row>) -> Output {
        Output { columns, rows, scanned: 0, planning_millis: 0 }
    }
}

impl Inner {
    /// Runs one statement (parameters bound) with `database` as the current database.
    /// A query may hold `memory_bytes` in DataFusion's memory pool.
    pub(super) async fn run_statement(
        &self,
        sql: &str,
        database: &str,
        memory_bytes: u64,
        deadline: Instant,
    ) -> Result<Output, QueryFailure> {
        let parsed = ddl::parse(sql).map_err(|e| QueryFailure::user("SYNTAX_ERROR", 1006, e))?;
        match parsed {
            Some(statement) => self.run_ddl(statement, database),
            None => self.run_query(sql, database, memory_bytes, deadline).await,
        }
    }

    async fn run_query(
        &self,
        sql: &str,
        database: &str,
        memory_bytes: u64,
        deadline: Instant,
    ) -> Result<Output, QueryFailure> {
        if let Some(kind) = unsupported_statement(sql) {
            return Err(QueryFailure::user(
                "NOT_SUPPORTED",
                1200,
                format!("{kind} is not supported by sfnlite's local Athena"),
            ));
        }
        let catalog = self.catalog.load().map_err(QueryFailure::internal)?;
        let scanned = Arc::new(AtomicU64::new(0));
        let config = SessionConfig::new()
            .with_default_catalog_and_schema(CATALOG_NAME, database)
            .with_information_schema(false)
            .with_target_partitions(std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2));
        let runtime = RuntimeEnvBuilder::new()
            .with_memory_limit(usize::try_from(memory_bytes).unwrap_or(usize::MAX), 1.0)
            .build_arc()
            .map_err(|e| QueryFailure::internal(e.to_string()))?;
        let ctx = SessionContext::new_with_config_rt(config, runtime);
        let budget = Arc::new(ScanBudget::new(memory_bytes, deadline));
        ctx.register_catalog(CATALOG_NAME, Arc::new(GlueCatalog::new(&catalog, &self.s3, &scanned, &budget, database)));
        let options = SQLOptions::new().with_allow_ddl(false).with_allow_dml(false).with_allow_statements(false);
        let planning = Instant::now();
        let frame = ctx.sql_with_options(sql, options).await.map_err(|e| translate(e, database))?;
        let planning_millis = planning.elapsed().as_millis() as u64;
        let columns: Vec<ColumnInfo> =
            frame.schema().fields().iter().map(|f| ColumnInfo::new(f.name(), f.data_type())).collect();
        let batches = frame.collect().await.map_err(|e| translate(e, database).or_memory_limit(memory_bytes))?;
        // The result is held whole (rendered, then written): it counts against the limit too.
        let held: usize = batches.iter().map(crate::athena::table::used_bytes).sum();
        if held as u64 > memory_bytes {
            return Err(QueryFailure::internal("Resources exhausted: the query's result").or_memory_limit(memory_bytes));
        }
        Ok(Output { columns, rows: rendered_rows(&batches), scanned: scanned.load(Ordering::Relaxed), planning_millis })
    }
}

/// Every value of `batches` in Athena's text form, row by row (NULL as `None`).
fn rendered_rows(batches: &[RecordBatch]) -> Vec<Row> {
    let mut rows = Vec::with_capacity(batches.iter().map(|b| b.num_rows()).sum());
    for batch in batches {
        let arrays: Vec<&dyn Array> = batch.columns().iter().map(|c| c.as_ref()).collect();
        for row in 0..batch.num_rows() {
            rows.push(arrays.iter().map(|a| render(*a, row)).collect());
        }
    }
    rows
}
