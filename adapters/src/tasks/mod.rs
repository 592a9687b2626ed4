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

/// A UUID-shaped digest of `text`.
fn uuid_of(text: &str) -> String {
    use md5::{Digest, Md5};
    let hex = hex(&Md5::digest(text));
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}
