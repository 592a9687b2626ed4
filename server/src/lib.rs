//! `sfnlite serve`: the AWS Step Functions API (awsJson1_0) on one port, over the engine
//! and the store that `sfnlite run` uses, for the AWS CLI, boto3 and the SDKs.
//!
//! ```text
//! hyper (http.rs: one request → one operation) ──► sfn::Api (one file per family of operations)
//!                                                    ├── store documents (machines, versions, aliases, activities, tags)
//!                                                    └── executor.rs (executions on their own thread) ──► engine
//! ```

pub mod executor;
mod http;
pub mod sfn;

pub use http::{Server, ServerLimits};
pub use sfn::{Adapters, Api};
