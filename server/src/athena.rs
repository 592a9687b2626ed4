//! The Athena API (awsJson1_1, `X-Amz-Target: AmazonAthena.<Operation>`) over the same
//! Athena that tasks use: StartQueryExecution, GetQueryExecution, BatchGetQueryExecution,
//! GetQueryResults, StopQueryExecution, ListQueryExecutions, ListWorkGroups, GetWorkGroup,
//! ListDatabases, ListTableMetadata, GetTableMetadata. Timestamps are epoch seconds, as the API sends them
//! (the task integration's shapes use milliseconds).

use std::sync::Arc;

use serde_json::{Value, json};
use sfnlite_adapters::athena::{AthenaApi, AthenaError};

/// An answer: HTTP status and body.
pub(crate) type Answer = (u16, Value);

fn error(e: &AthenaError) -> Answer {
    (e.status, json!({"__type": e.code, "Message": e.message}))
}

fn invalid(message: &str) -> Answer {
    error(&AthenaError::invalid_request(message))
}

/// Epoch-millisecond `…DateTime` fields as epoch seconds.
fn seconds(mut value: Value) -> Value {
    if let Some(status) = value.pointer_mut("/QueryExecution/Status").and_then(Value::as_object_mut) {
        for (_, field) in status.iter_mut().filter(|(k, _)| k.ends_with("DateTime")) {
            if let Some(millis) = field.as_i64() {
                *field = json!(millis as f64 / 1000.0);
            }
        }
    }
    value
}

/// The metadata operations' epoch-millisecond `CreateTime`/`CreationTime` as epoch seconds.
fn metadata_seconds(mut value: Value) -> Value {
    fn walk(value: &mut Value) {
        match value {
            Value::Object(map) => {
                for (key, field) in map.iter_mut() {
                    match field.as_i64() {
                        Some(millis) if key == "CreateTime" || key == "CreationTime" => {
                            *field = json!(millis as f64 / 1000.0)
                        }
                        _ => walk(field),
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut value);
    value
}

fn query_id(request: &Value) -> Result<String, Answer> {
    request
        .get("QueryExecutionId")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| invalid("1 validation error detected: Value null at 'queryExecutionId' failed to satisfy constraint: Member must not be null"))
}

/// Answers one Athena operation.
pub(crate) async fn call(athena: &Arc<dyn AthenaApi>, operation: &str, body: &[u8]) -> Answer {
    let request: Value = match serde_json::from_slice(body) {
        Ok(value @ Value::Object(_)) => value,
        _ if body.is_empty() => json!({}),
        _ => {
            return (
                400,
                json!({"__type": "SerializationException", "Message": "The request body is not a JSON object"}),
            );
        }
    };
    let result = match operation {
        "StartQueryExecution" => athena.start_query_execution(request).await,
        "GetQueryExecution" => match query_id(&request) {
            Ok(id) => athena.get_query_execution(id).await.map(seconds),
            Err(answer) => return answer,
        },
        "GetQueryResults" => athena.get_query_results(request).await,
        "StopQueryExecution" => match query_id(&request) {
            Ok(id) => athena.stop_query_execution(id).await,
            Err(answer) => return answer,
        },
        "BatchGetQueryExecution" => return batch_get(athena, &request).await,
        "ListQueryExecutions"
        | "ListWorkGroups"
        | "GetWorkGroup"
        | "ListDatabases"
        | "ListTableMetadata"
        | "GetTableMetadata" => athena.metadata(operation, request).await.map(metadata_seconds),
        other => {
            return (
                400,
                json!({"__type": "UnknownOperationException", "Message": format!("sfnlite serve does not answer AmazonAthena.{other}")}),
            );
        }
    };
    match result {
        Ok(value) => (200, value),
        Err(e) => error(&e),
    }
}

async fn batch_get(athena: &Arc<dyn AthenaApi>, request: &Value) -> Answer {
    let Some(ids) = request.get("QueryExecutionIds").and_then(Value::as_array) else {
        return invalid(
            "1 validation error detected: Value null at 'queryExecutionIds' failed to satisfy constraint: Member must not be null",
        );
    };
    let (mut found, mut missing) = (Vec::new(), Vec::new());
    for id in ids.iter().filter_map(Value::as_str) {
        match athena.get_query_execution(id.to_owned()).await {
            Ok(value) => found.push(seconds(value).get_mut("QueryExecution").map(Value::take).unwrap_or_default()),
            Err(e) => missing.push(json!({"QueryExecutionId": id, "ErrorCode": e.code, "ErrorMessage": e.message})),
        }
    }
    (200, json!({"QueryExecutions": found, "UnprocessedQueryExecutionIds": missing}))
}
