//! The task adapters: typed resources to service calls, service errors to ASL errors.
//!
//! - Optimized Athena integration (`arn:aws:states:::athena:…`): outputs are the bare API
//!   responses; API errors are `Athena.<Code>` with a Java SDK v1 style cause; a `.sync`
//!   query that ends FAILED or CANCELLED fails the task with `States.TaskFailed` and the
//!   final GetQueryExecution response, as JSON text, for its cause. A `.sync` task that
//!   is stopped (timeout, abort, a failed sibling) stops its query.
//! - AWS SDK integrations (`arn:aws:states:::aws-sdk:athena:…`, `…:aws-sdk:s3:…`): errors
//!   are `<Service>.<Code>Exception` with an SDK v2 style cause.
//!
//! Each adapter reads the resource (parsed when the definition was read) into its own
//! enum of calls once, in `handles` and `invoke`, and matches that enum exhaustively.

mod athena;
mod http;
mod lambda;
mod s3;

pub use self::athena::AthenaTasks;
pub use self::http::{Auth, Connection, HttpTasks};
pub use self::lambda::{
    LOG_KIND, LambdaTasks, log_key, outcome as invocation_outcome, static_function, static_functions,
};
pub use self::s3::S3Tasks;

use sfnlite_engine::TaskRequest;

use crate::s3::hex;

/// A request id that is the same whenever the same invocation is made, so that histories
/// are reproducible.
fn request_id(request: &TaskRequest) -> String {
    uuid_of(&format!("{}\0{}\0{}", request.execution_arn, request.state_name, request.attempt))
}

/// The id of one invocation, reproducible: the execution and the event that started the
/// task (unique per attempt and per Map iteration, the same when a resumed execution
/// invokes again).
pub fn invocation_id(request: &TaskRequest) -> String {
    uuid_of(&format!("{}\0{}", request.execution_arn, request.event_id))
}

/// The Java SDK's `SdkHttpMetadata` of a response, as Step Functions' optimized
/// integrations return it: `AllHttpHeaders` (each value in an array, in the given order),
/// `HttpHeaders` (single values, sorted by name) and `HttpStatusCode`.
pub fn sdk_http_metadata(headers: &[(&str, String)], status: u16) -> serde_json::Value {
    use serde_json::{Map, Value, json};
    let all: Map<String, Value> = headers.iter().map(|(k, v)| ((*k).to_owned(), json!([v]))).collect();
    let mut single: Vec<(&str, &String)> = headers.iter().map(|(k, v)| (*k, v)).collect();
    single.sort_by_key(|(k, _)| k.to_ascii_lowercase());
    let single: Map<String, Value> = single.into_iter().map(|(k, v)| (k.to_owned(), json!(v))).collect();
    json!({"AllHttpHeaders": all, "HttpHeaders": single, "HttpStatusCode": status})
}

/// A UUID-shaped digest of `text`.
fn uuid_of(text: &str) -> String {
    use md5::{Digest, Md5};
    let hex = hex(&Md5::digest(text));
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}
