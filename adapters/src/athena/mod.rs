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

pub use local::{LocalAthena, Workgroup, split_statements};
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

/// The terminal query states.
pub fn is_terminal(state: &str) -> bool {
    matches!(state, "SUCCEEDED" | "FAILED" | "CANCELLED")
}

/// The `Status.State` of a GetQueryExecution response.
pub fn state_of(response: &Value) -> &str {
    response.pointer("/QueryExecution/Status/State").and_then(Value::as_str).unwrap_or("")
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

    /// Waits until the query ends and returns its final GetQueryExecution response. The
    /// default polls, every second at first and then less often (up to every 5 s).
    fn wait_for_query(&self, id: String) -> BoxFuture<'_, Result<Value, AthenaError>> {
        Box::pin(async move {
            let mut delay = Duration::from_millis(250);
            loop {
                let response = self.get_query_execution(id.clone()).await?;
                if is_terminal(state_of(&response)) {
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
