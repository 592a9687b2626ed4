//! The task adapters: resource ARNs to service calls, service errors to ASL errors.
//!
//! - Optimized Athena integration (`arn:aws:states:::athena:…`): outputs are the bare API
//!   responses; API errors are `Athena.<Code>` with a Java SDK v1 style cause; a `.sync`
//!   query that ends FAILED or CANCELLED fails the task with `States.TaskFailed` and the
//!   final GetQueryExecution response, as JSON text, for its cause. A `.sync` task that
//!   is stopped (timeout, abort, a failed sibling) stops its query.
//! - AWS SDK integrations (`arn:aws:states:::aws-sdk:athena:…`, `…:aws-sdk:s3:…`): errors
//!   are `<Service>.<Code>Exception` with an SDK v2 style cause.

use std::sync::Arc;

use serde_json::{Map, Value, json};
use sfnlite_engine::{TaskAdapter, TaskRequest};
use sfnlite_states::timestamp::format_millis;
use sfnlite_states::{ErrorName, StatesError};

use crate::BoxFuture;
use crate::athena::{AthenaApi, AthenaError, state_of};
use crate::s3::{ListRequest, ObjectMeta, ObjectStore, PutRequest, S3Error, hex, percent_decode};
use crate::service;

/// The action of `arn:<partition>:states:::<service>:<action>` when the service is one of
/// `services`.
fn action<'a>(resource: &'a str, services: &[&str]) -> Option<&'a str> {
    let rest = resource.strip_prefix("arn:")?;
    let (_partition, rest) = rest.split_once(':')?;
    let rest = rest.strip_prefix("states:::")?;
    services.iter().find_map(|s| rest.strip_prefix(s)?.strip_prefix(':'))
}

/// A request id that is the same whenever the same invocation is made, so that histories
/// are reproducible.
fn request_id(request: &TaskRequest) -> String {
    use md5::{Digest, Md5};
    let digest = Md5::digest(format!("{}\0{}\0{}", request.execution_arn, request.state_name, request.attempt));
    let hex = hex(&digest);
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

/// Athena task resources.
#[derive(Clone)]
pub struct AthenaTasks {
    api: Arc<dyn AthenaApi>,
    settle: bool,
}

impl AthenaTasks {
    /// The Athena tasks, on `api`.
    pub fn new(api: Arc<dyn AthenaApi>) -> AthenaTasks {
        AthenaTasks { api, settle: false }
    }

    /// Under a virtual clock, service work takes no virtual time: a request-response
    /// `startQueryExecution` then returns once its query has ended, so that the polling
    /// loops of workflows see the same states on every run.
    pub fn settle_queries(mut self, settle: bool) -> AthenaTasks {
        self.settle = settle;
        self
    }
}

const OPTIMIZED: &[&str] =
    &["startQueryExecution", "startQueryExecution.sync", "stopQueryExecution", "getQueryExecution", "getQueryResults"];
const SDK_ATHENA: &[&str] = &["startQueryExecution", "stopQueryExecution", "getQueryExecution", "getQueryResults"];

fn athena_error(error: &AthenaError, sdk: bool, request: &TaskRequest) -> StatesError {
    let id = request_id(request);
    let cause = if sdk {
        format!("{} (Service: Athena, Status Code: {}, Request ID: {id})", error.message, error.status)
    } else {
        format!(
            "{} (Service: AmazonAthena; Status Code: {}; Error Code: {}; Request ID: {id}; Proxy: null)",
            error.message, error.status, error.code
        )
    };
    StatesError::new(ErrorName::parse(&format!("Athena.{}", error.code)), cause)
}

/// Stops a `.sync` query if its task is dropped before the query ends.
struct StopOnDrop {
    api: Arc<dyn AthenaApi>,
    id: Option<String>,
}

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            let api = self.api.clone();
            service::handle().spawn(async move {
                let _ = api.stop_query_execution(id).await;
            });
        }
    }
}

impl TaskAdapter for AthenaTasks {
    fn name(&self) -> &str {
        "athena"
    }

    fn handles(&self, _state_name: &str, resource: &str) -> bool {
        action(resource, &["athena"]).is_some_and(|a| OPTIMIZED.contains(&a))
            || action(resource, &["aws-sdk:athena"]).is_some_and(|a| SDK_ATHENA.contains(&a))
    }

    fn invoke(&self, request: TaskRequest) -> BoxFuture<'_, Result<Value, StatesError>> {
        Box::pin(async move {
            let (sdk, action) = match action(&request.resource, &["athena"]) {
                Some(a) => (false, a.to_owned()),
                None => (true, action(&request.resource, &["aws-sdk:athena"]).unwrap_or_default().to_owned()),
            };
            let parameters = (*request.parameters).clone();
            let api = self.api.clone();
            let id_of = |p: &Value| p.get("QueryExecutionId").and_then(Value::as_str).unwrap_or_default().to_owned();
            let result = match action.as_str() {
                "startQueryExecution" => {
                    let settle = self.settle;
                    service::run(async move {
                        let started = api.start_query_execution(parameters).await?;
                        if settle && let Some(id) = started.get("QueryExecutionId").and_then(Value::as_str) {
                            api.wait_for_query(id.to_owned()).await?;
                        }
                        Ok(started)
                    })
                    .await
                }
                "getQueryExecution" => {
                    let id = id_of(&parameters);
                    service::run(async move { api.get_query_execution(id).await }).await
                }
                "getQueryResults" => service::run(async move { api.get_query_results(parameters).await }).await,
                "stopQueryExecution" => {
                    let id = id_of(&parameters);
                    service::run(async move { api.stop_query_execution(id).await }).await
                }
                "startQueryExecution.sync" => {
                    let started = service::run({
                        let api = api.clone();
                        async move { api.start_query_execution(parameters).await }
                    })
                    .await
                    .map_err(|e| athena_error(&e, sdk, &request))?;
                    let id = id_of(&started);
                    let mut guard = StopOnDrop { api: api.clone(), id: Some(id.clone()) };
                    let done = service::run(async move { api.wait_for_query(id).await }).await;
                    guard.id = None;
                    let done = done.map_err(|e| athena_error(&e, sdk, &request))?;
                    return match state_of(&done) {
                        "SUCCEEDED" => Ok(done),
                        _ => Err(StatesError::new(ErrorName::TaskFailed, done.to_string())),
                    };
                }
                other => unreachable!("handles() admitted {other}"),
            };
            result.map_err(|e| athena_error(&e, sdk, &request))
        })
    }
}

/// S3 task resources (`aws-sdk:s3:*`).
#[derive(Clone)]
pub struct S3Tasks {
    store: Arc<dyn ObjectStore>,
}

impl S3Tasks {
    /// The S3 tasks, on `store`.
    pub fn new(store: Arc<dyn ObjectStore>) -> S3Tasks {
        S3Tasks { store }
    }
}

const S3_ACTIONS: &[&str] =
    &["getObject", "putObject", "headObject", "deleteObject", "copyObject", "listObjectsV2", "createBucket"];

fn s3_error(error: &S3Error, request: &TaskRequest) -> StatesError {
    let id = request_id(request);
    let code = if error.code.ends_with("Exception") { error.code.clone() } else { format!("{}Exception", error.code) };
    let extended = id.replace('-', "");
    let cause = format!(
        "{} (Service: S3, Status Code: {}, Request ID: {}, Extended Request ID: {extended})",
        error.message,
        error.status,
        &extended[..16].to_uppercase()
    );
    StatesError::new(ErrorName::parse(&format!("S3.{code}")), cause)
}

fn required<'a>(parameters: &'a Value, name: &str) -> Result<&'a str, S3Error> {
    parameters.get(name).and_then(Value::as_str).ok_or_else(|| {
        S3Error::new("S3", 400, format!("The request is missing the required parameter '{name}' (a string)"))
    })
}

fn meta_json(meta: &ObjectMeta) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("AcceptRanges".into(), json!("bytes"));
    out.insert("ContentLength".into(), json!(meta.content_length));
    out.insert("ContentType".into(), json!(meta.content_type));
    out.insert("ETag".into(), json!(meta.etag));
    out.insert("LastModified".into(), json!(format_millis(meta.last_modified)));
    out.insert("Metadata".into(), json!(meta.metadata));
    out.insert("ServerSideEncryption".into(), json!("AES256"));
    out
}

async fn s3_call(store: Arc<dyn ObjectStore>, action: String, p: Value) -> Result<Value, S3Error> {
    match action.as_str() {
        "getObject" => {
            let (body, meta) = store.get_object(required(&p, "Bucket")?, required(&p, "Key")?).await?;
            let mut out = meta_json(&meta);
            out.insert("Body".into(), json!(String::from_utf8_lossy(&body)));
            Ok(Value::Object(out))
        }
        "headObject" => {
            Ok(Value::Object(meta_json(&store.head_object(required(&p, "Bucket")?, required(&p, "Key")?).await?)))
        }
        "putObject" => {
            // The Body is JSON-serialized, as AWS does: a string is stored with its quotes.
            let body = p.get("Body").map(|b| b.to_string().into_bytes()).unwrap_or_default();
            let metadata = p
                .get("Metadata")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter().map(|(k, v)| (k.to_lowercase(), v.as_str().map_or(v.to_string(), str::to_owned))).collect()
                })
                .unwrap_or_default();
            let checksum = crate::s3::crc32_base64(&body);
            let meta = store
                .put_object(PutRequest {
                    bucket: required(&p, "Bucket")?.to_owned(),
                    key: required(&p, "Key")?.to_owned(),
                    body,
                    content_type: Some(
                        p.get("ContentType").and_then(Value::as_str).unwrap_or("text/plain; charset=UTF-8").to_owned(),
                    ),
                    metadata,
                })
                .await?;
            Ok(json!({
                "ChecksumCRC32": checksum,
                "ChecksumType": "FULL_OBJECT",
                "ETag": meta.etag,
                "ServerSideEncryption": "AES256",
            }))
        }
        "deleteObject" => {
            store.delete_object(required(&p, "Bucket")?, required(&p, "Key")?).await?;
            Ok(json!({}))
        }
        "copyObject" => {
            let source = required(&p, "CopySource")?;
            let source = source.split_once('?').map_or(source, |(s, _)| s);
            let source = percent_decode(source.trim_start_matches('/'));
            let (source_bucket, source_key) = source.split_once('/').ok_or_else(|| {
                S3Error::invalid_argument("Invalid copy source object key: CopySource must be 'bucket/key'")
            })?;
            let meta =
                store.copy_object(source_bucket, source_key, required(&p, "Bucket")?, required(&p, "Key")?).await?;
            Ok(json!({
                "CopyObjectResult": {"ETag": meta.etag, "LastModified": format_millis(meta.last_modified)},
                "ServerSideEncryption": "AES256",
            }))
        }
        "createBucket" => {
            let bucket = required(&p, "Bucket")?;
            store.create_bucket(bucket).await?;
            Ok(json!({"Location": format!("/{bucket}")}))
        }
        "listObjectsV2" => {
            let max_keys = match p.get("MaxKeys") {
                None => 1000,
                Some(v) => v.as_u64().ok_or_else(|| S3Error::invalid_argument("MaxKeys must be an integer"))? as usize,
            };
            let text = |name: &str| p.get(name).and_then(Value::as_str).map(str::to_owned);
            let list = ListRequest {
                bucket: required(&p, "Bucket")?.to_owned(),
                prefix: text("Prefix").unwrap_or_default(),
                delimiter: text("Delimiter"),
                max_keys: max_keys.clamp(1, 1000),
                continuation_token: text("ContinuationToken"),
                start_after: text("StartAfter"),
            };
            let page = if max_keys == 0 { Default::default() } else { store.list_objects(list.clone()).await? };
            let mut out = Map::new();
            let key_count = page.contents.len() + page.common_prefixes.len();
            if !page.common_prefixes.is_empty() {
                let prefixes: Vec<Value> = page.common_prefixes.iter().map(|p| json!({"Prefix": p})).collect();
                out.insert("CommonPrefixes".into(), json!(prefixes));
            }
            if !page.contents.is_empty() {
                let contents: Vec<Value> = page
                    .contents
                    .iter()
                    .map(|o| {
                        json!({
                            "ETag": o.etag,
                            "Key": o.key,
                            "LastModified": format_millis(o.last_modified),
                            "Size": o.size,
                            "StorageClass": "STANDARD",
                        })
                    })
                    .collect();
                out.insert("Contents".into(), json!(contents));
            }
            if let Some(token) = &list.continuation_token {
                out.insert("ContinuationToken".into(), json!(token));
            }
            if let Some(delimiter) = &list.delimiter {
                out.insert("Delimiter".into(), json!(delimiter));
            }
            out.insert("IsTruncated".into(), json!(page.next_continuation_token.is_some()));
            out.insert("KeyCount".into(), json!(key_count));
            out.insert("MaxKeys".into(), json!(max_keys));
            out.insert("Name".into(), json!(list.bucket));
            if let Some(token) = &page.next_continuation_token {
                out.insert("NextContinuationToken".into(), json!(token));
            }
            out.insert("Prefix".into(), json!(list.prefix));
            if let Some(after) = &list.start_after {
                out.insert("StartAfter".into(), json!(after));
            }
            Ok(Value::Object(out))
        }
        other => unreachable!("handles() admitted {other}"),
    }
}

impl TaskAdapter for S3Tasks {
    fn name(&self) -> &str {
        "s3"
    }

    fn handles(&self, _state_name: &str, resource: &str) -> bool {
        action(resource, &["aws-sdk:s3"]).is_some_and(|a| S3_ACTIONS.contains(&a))
    }

    fn invoke(&self, request: TaskRequest) -> BoxFuture<'_, Result<Value, StatesError>> {
        Box::pin(async move {
            let action = action(&request.resource, &["aws-sdk:s3"]).unwrap_or_default().to_owned();
            let store = self.store.clone();
            let parameters = (*request.parameters).clone();
            service::run(s3_call(store, action, parameters)).await.map_err(|e| s3_error(&e, &request))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources() {
        assert_eq!(
            action("arn:aws:states:::athena:startQueryExecution.sync", &["athena"]),
            Some("startQueryExecution.sync")
        );
        assert_eq!(action("arn:aws-cn:states:::aws-sdk:s3:getObject", &["aws-sdk:s3"]), Some("getObject"));
        assert_eq!(action("arn:aws:states:::lambda:invoke", &["athena"]), None);
        let tasks = S3Tasks::new(Arc::new(crate::s3::LocalS3::new("/nonexistent", Default::default())));
        assert!(tasks.handles("s", "arn:aws:states:::aws-sdk:s3:listObjectsV2"));
        assert!(!tasks.handles("s", "arn:aws:states:::aws-sdk:s3:getObject.sync"));
    }
}
