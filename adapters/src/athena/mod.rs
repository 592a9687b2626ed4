//! Amazon Athena: the API that Step Functions' Athena tasks call, on two backends behind
//! one trait: an embedded engine ([`LocalAthena`]: a Glue-like catalog, Hive DDL, DataFusion
//! for queries, result files in the local S3) and AWS ([`crate::aws::AwsAthena`]).
//!
//! Requests and responses are JSON in Step Functions' shapes: PascalCase fields, absent
//! fields omitted, timestamps as epoch milliseconds.

pub mod catalog;
pub mod ddl;
mod local;
pub mod render;
pub mod table;

use std::time::Duration;

pub use local::{
    DEFAULT_MEMORY_LIMIT_MIB, DEFAULT_QUERY_TIMEOUT_SECONDS, Limits, LocalAthena, QueryTimeout, Workgroup,
    split_statements,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::BoxFuture;

/// An Athena API error: its code (`InvalidRequestException`), HTTP status and message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct AthenaError {
    /// The error code, e.g. `InvalidRequestException`.
    pub code: String,
    /// The HTTP status.
    pub status: u16,
    /// The message.
    pub message: String,
}

impl AthenaError {
    /// `InvalidRequestException` (400) with a message.
    pub fn invalid_request(message: impl Into<String>) -> AthenaError {
        AthenaError { code: "InvalidRequestException".into(), status: 400, message: message.into() }
    }

    /// `InternalServerException` (500) with a message.
    pub fn internal(message: impl Into<String>) -> AthenaError {
        AthenaError { code: "InternalServerException".into(), status: 500, message: message.into() }
    }
}

/// A query's `Status.State`, spelled as AWS spells it (`QUEUED`, `RUNNING`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum QueryState {
    /// Submitted, not yet running.
    Queued,
    /// Running.
    Running,
    /// Ended with results.
    Succeeded,
    /// Ended with an error.
    Failed,
    /// Stopped (StopQueryExecution).
    Cancelled,
}

impl QueryState {
    /// Every state, in lifecycle order.
    pub const ALL: [QueryState; 5] =
        [QueryState::Queued, QueryState::Running, QueryState::Succeeded, QueryState::Failed, QueryState::Cancelled];

    /// AWS's spelling: `QUEUED`, `RUNNING`, `SUCCEEDED`, `FAILED` or `CANCELLED`.
    pub fn as_str(self) -> &'static str {
        match self {
            QueryState::Queued => "QUEUED",
            QueryState::Running => "RUNNING",
            QueryState::Succeeded => "SUCCEEDED",
            QueryState::Failed => "FAILED",
            QueryState::Cancelled => "CANCELLED",
        }
    }

    /// The state AWS spells `text`, if any.
    pub fn parse(text: &str) -> Option<QueryState> {
        QueryState::ALL.into_iter().find(|state| state.as_str() == text)
    }

    /// Whether the query has ended (SUCCEEDED, FAILED or CANCELLED).
    pub fn is_terminal(self) -> bool {
        matches!(self, QueryState::Succeeded | QueryState::Failed | QueryState::Cancelled)
    }
}

impl std::fmt::Display for QueryState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `Status.State` of a GetQueryExecution response (`None` if it has none, or one AWS
/// does not define).
pub fn state_of(response: &Value) -> Option<QueryState> {
    response.pointer("/QueryExecution/Status/State").and_then(Value::as_str).and_then(QueryState::parse)
}

/// The Athena operations sfnlite's tasks use.
pub trait AthenaApi: Send + Sync {
    /// StartQueryExecution: `{"QueryExecutionId"}`.
    fn start_query_execution(&self, request: Value) -> BoxFuture<'_, Result<Value, AthenaError>>;
    /// GetQueryExecution: `{"QueryExecution": {...}}`.
    fn get_query_execution(&self, id: String) -> BoxFuture<'_, Result<Value, AthenaError>>;
    /// GetQueryResults: `{"ResultSet", "UpdateCount"[, "NextToken"]}`.
    fn get_query_results(&self, request: Value) -> BoxFuture<'_, Result<Value, AthenaError>>;
    /// StopQueryExecution: `{}`.
    fn stop_query_execution(&self, id: String) -> BoxFuture<'_, Result<Value, AthenaError>>;

    /// ListQueryExecutions, ListWorkGroups, GetWorkGroup, ListDatabases,
    /// ListTableMetadata or GetTableMetadata (`operation`), in Athena's shapes. Only the
    /// embedded Athena answers them; the AWS backend's answer says to ask AWS itself.
    fn metadata(&self, operation: &str, _request: Value) -> BoxFuture<'_, Result<Value, AthenaError>> {
        let message = format!(
            "sfnlite answers AmazonAthena.{operation} for the embedded Athena only; with the aws backend, call Athena on AWS"
        );
        Box::pin(async move { Err(AthenaError::invalid_request(message)) })
    }

    /// The number of queries this process started that are still running.
    fn running(&self) -> usize {
        0
    }

    /// Waits until every query this process started has ended: the embedded Athena runs
    /// its queries in the process, so `run` waits for them before it exits (as Athena
    /// would finish them after the execution). Nothing to wait for on AWS.
    fn settle(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }

    /// Waits until the query ends and returns its final GetQueryExecution response. The
    /// default polls, every second at first and then less often (up to every 5 s).
    fn wait_for_query(&self, id: String) -> BoxFuture<'_, Result<Value, AthenaError>> {
        Box::pin(async move {
            let mut delay = Duration::from_millis(250);
            loop {
                let response = self.get_query_execution(id.clone()).await?;
                if state_of(&response).is_some_and(QueryState::is_terminal) {
                    return Ok(response);
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        })
    }

    /// Runs a statement to its end (start, then wait): what `sfnlite athena query` does.
    fn run_statement(&self, request: Value) -> BoxFuture<'_, Result<Value, AthenaError>> {
        Box::pin(async move {
            let started = self.start_query_execution(request).await?;
            let id = started.get("QueryExecutionId").and_then(Value::as_str).unwrap_or_default().to_owned();
            self.wait_for_query(id).await
        })
    }
}
