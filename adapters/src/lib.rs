//! sfnlite's service adapters: the Step Functions task integrations for Amazon Athena
//! (`arn:aws:states:::athena:*`, `arn:aws:states:::aws-sdk:athena:*`) and Amazon S3
//! (`arn:aws:states:::aws-sdk:s3:*`), each on two backends:
//!
//! - **local** (the default): S3 is a directory tree under the data root ([`s3::LocalS3`]);
//!   Athena is an embedded engine ([`athena::LocalAthena`]) with a Glue-like catalog, Hive
//!   DDL, DataFusion for queries, and Athena's result files and paging;
//! - **aws**: the same calls through the AWS SDK for Rust ([`aws`]), against AWS or any
//!   endpoint that speaks its protocols.
//!
//! ```text
//! engine::TaskAdapter ◄── tasks (resource ARNs, ASL errors) ──► AthenaApi / ObjectStore
//!                                                                ├── local (athena, s3)
//!                                                                └── aws (SDK)
//! ```
//!
//! All service work runs on [`service`]'s real-time runtime, so tasks take no virtual time.

pub mod athena;
pub mod aws;
pub mod lambda;
pub mod s3;
pub mod service;
mod tasks;

pub use sfnlite_engine::clock::BoxFuture;
pub use tasks::{
    AthenaTasks, Auth, Connection, HttpTasks, LOG_KIND, LambdaTasks, S3Tasks, invocation_id, invocation_outcome,
    log_key, sdk_http_metadata, static_function, static_functions,
};
