//! `sfnlite serve`: the AWS Step Functions API (awsJson1_0) and the Athena API
//! (awsJson1_1) on one port, over the engine, the store and the Athena that `sfnlite run`
//! uses, for the AWS CLI, boto3 and the SDKs.
//!
//! ```text
//! hyper (http.rs: one request → one operation) ──► sfn::Api (one file per family of operations)
//!                                                    ├── store documents (machines, versions, aliases, activities, tags)
//!                                                    └── executor.rs (executions on their own thread) ──► engine
//! ```

#![forbid(unsafe_code)]

mod athena;
pub mod console;
pub mod executor;
mod http;
pub mod nested;
mod s3;
pub mod schedules;
pub mod sfn;
pub mod sigv4;

pub use http::{Server, ServerLimits, Services, StoreReader};
pub use nested::{ApiSlot, NestedExecutions, PARENT_KIND};
pub use sfn::{Adapters, Api, LocalRuns};
