//! S3 task resources (`arn:aws:states:::aws-sdk:s3:<action>`), one function per action,
//! and a distributed Map's own S3 calls: its ItemReader's reads (`arn:aws:states:::s3:getObject`,
//! whose body is the object's text, gunzipped when it is gzip, and `…:s3:listObjectsV2`)
//! and its ResultWriter's writes (`…:s3:putObject`, and a large file's multipart upload:
//! `…:s3:createMultipartUpload`, `uploadPart`, `completeMultipartUpload`,
//! `abortMultipartUpload`), whose `Body` is stored as the text it is. A definition cannot
//! name these (only the ItemReader's and ResultWriter's `Resource` can).

use std::sync::Arc;

use serde_json::{Map, Value, json};
use sfnlite_engine::{TaskAdapter, TaskRequest};
use sfnlite_states::resource::{IntegrationPattern, Resource};
use sfnlite_states::timestamp::format_millis;
use sfnlite_states::{ErrorName, StatesError};

use super::request_id;
use crate::BoxFuture;
use crate::s3::{ListRequest, ObjectMeta, ObjectStore, PartMeta, PutRequest, S3Error, percent_decode};
use crate::service;

/// The S3 actions sfnlite runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    GetObject,
    /// An ItemReader's read: the object's text.
    ReadObject,
    /// A ResultWriter's write: `Body` stored as it is (text).
    WriteObject,
    /// A ResultWriter's large file: an upload started, parts written as they fill
    /// (`Body` as it is), completed, or abandoned.
    CreateUpload,
    WritePart,
    CompleteUpload,
    AbortUpload,
    PutObject,
    HeadObject,
    DeleteObject,
    CopyObject,
    ListObjectsV2,
    CreateBucket,
}

impl Call {
    /// The call a resource names, if it is one this adapter runs.
    fn of(resource: &Resource) -> Option<Call> {
        let integration = resource.integration()?;
        if !integration.sdk && integration.service == "s3" && integration.pattern == IntegrationPattern::RequestResponse
        {
            return match integration.action.as_str() {
                "getObject" => Some(Call::ReadObject),
                "putObject" => Some(Call::WriteObject),
                "listObjectsV2" => Some(Call::ListObjectsV2),
                "createMultipartUpload" => Some(Call::CreateUpload),
                "uploadPart" => Some(Call::WritePart),
                "completeMultipartUpload" => Some(Call::CompleteUpload),
                "abortMultipartUpload" => Some(Call::AbortUpload),
                _ => None,
            };
        }
        // Request-response, or a callback (the call's answer is `TaskSubmitted`'s).
        let pattern =
            matches!(integration.pattern, IntegrationPattern::RequestResponse | IntegrationPattern::WaitForTaskToken);
        if !integration.sdk || integration.service != "s3" || !pattern {
            return None;
        }
        Some(match integration.action.as_str() {
            "getObject" => Call::GetObject,
            "putObject" => Call::PutObject,
            "headObject" => Call::HeadObject,
            "deleteObject" => Call::DeleteObject,
            "copyObject" => Call::CopyObject,
            "listObjectsV2" => Call::ListObjectsV2,
            "createBucket" => Call::CreateBucket,
            _ => return None,
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

async fn s3_call(store: Arc<dyn ObjectStore>, call: Call, mut p: Value) -> Result<Value, S3Error> {
    match call {
        Call::GetObject => get_object(&*store, &p).await,
        Call::ReadObject => read_object(&*store, &p).await,
        Call::WriteObject => {
            let body = match p.get_mut("Body").map(Value::take) {
                Some(Value::String(text)) => text.into_bytes(),
                _ => Vec::new(),
            };
            let meta = store
                .put_object(PutRequest {
                    bucket: required(&p, "Bucket")?.to_owned(),
                    key: required(&p, "Key")?.to_owned(),
                    body,
                    content_type: Some("application/json".into()),
                    metadata: Default::default(),
                })
                .await?;
            Ok(json!({"ETag": meta.etag}))
        }
        Call::CreateUpload | Call::WritePart | Call::CompleteUpload | Call::AbortUpload => {
            multipart(&*store, call, p).await
        }
        Call::HeadObject => {
            Ok(Value::Object(meta_json(&store.head_object(required(&p, "Bucket")?, required(&p, "Key")?).await?)))
        }
        Call::PutObject => put_object(&*store, &p).await,
        Call::DeleteObject => {
            store.delete_object(required(&p, "Bucket")?, required(&p, "Key")?).await?;
            Ok(json!({}))
        }
        Call::CopyObject => copy_object(&*store, &p).await,
        Call::CreateBucket => {
            let bucket = required(&p, "Bucket")?;
            store.create_bucket(bucket).await?;
            Ok(json!({"Location": format!("/{bucket}")}))
        }
        Call::ListObjectsV2 => list_objects_v2(&*store, &p).await,
    }
}

/// A ResultWriter's multipart upload: `{Bucket, Key, UploadId}` from its start, `{ETag}`
/// from a part (`PartNumber`, `Body`), `{Bucket, Key, ETag}` from its completion (the parts
/// in `MultipartUpload.Parts`, as the S3 API takes them).
async fn multipart(store: &dyn ObjectStore, call: Call, mut p: Value) -> Result<Value, S3Error> {
    let (bucket, key) = (required(&p, "Bucket")?.to_owned(), required(&p, "Key")?.to_owned());
    if call == Call::CreateUpload {
        let content_type = Some("application/json".to_owned());
        let request = PutRequest { bucket: bucket.clone(), key: key.clone(), content_type, ..Default::default() };
        let id = store.create_multipart_upload(request).await?;
        return Ok(json!({"Bucket": bucket, "Key": key, "UploadId": id}));
    }
    let id = required(&p, "UploadId")?.to_owned();
    match call {
        Call::WritePart => {
            let number = p.get("PartNumber").and_then(Value::as_u64).and_then(|n| u32::try_from(n).ok()).unwrap_or(0);
            let body = match p.get_mut("Body").map(Value::take) {
                Some(Value::String(text)) => text.into_bytes(),
                _ => Vec::new(),
            };
            let etag = store.upload_part(&bucket, &key, &id, number, body).await?;
            Ok(json!({"ETag": etag}))
        }
        Call::CompleteUpload => {
            let listed = p.pointer("/MultipartUpload/Parts").and_then(Value::as_array).cloned().unwrap_or_default();
            let parts = listed
                .iter()
                .map(|part| PartMeta {
                    number: part["PartNumber"].as_u64().and_then(|n| u32::try_from(n).ok()).unwrap_or(0),
                    etag: part["ETag"].as_str().unwrap_or_default().to_owned(),
                    size: 0,
                    last_modified: 0,
                })
                .collect();
            let meta = store.complete_multipart_upload(&bucket, &key, &id, parts).await?;
            Ok(json!({"Bucket": bucket, "Key": key, "ETag": meta.etag}))
        }
        _ => {
            store.abort_multipart_upload(&bucket, &key, &id).await?;
            Ok(json!({}))
        }
    }
}

/// An object's contents as text, gunzipped when they are gzip (by their magic bytes).
async fn read_object(store: &dyn ObjectStore, p: &Value) -> Result<Value, S3Error> {
    let (body, _) = store.get_object(required(p, "Bucket")?, required(p, "Key")?).await?;
    if body.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        return Err(S3Error::new(
            "InvalidObjectState",
            400,
            "zstd-compressed objects are not read by sfnlite (gzip is)",
        ));
    }
    let body = if body.starts_with(&[0x1f, 0x8b]) {
        let mut text = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(&body[..]), &mut text)
            .map_err(|e| S3Error::new("InvalidObjectState", 400, format!("the object is not valid gzip: {e}")))?;
        text
    } else {
        body.to_vec()
    };
    let text = String::from_utf8(body)
        .map_err(|e| S3Error::new("InvalidObjectState", 400, format!("the object is not UTF-8 text: {e}")))?;
    Ok(json!({ "Body": text }))
}

async fn get_object(store: &dyn ObjectStore, p: &Value) -> Result<Value, S3Error> {
    let (body, meta) = store.get_object(required(p, "Bucket")?, required(p, "Key")?).await?;
    let mut out = meta_json(&meta);
    out.insert("Body".into(), json!(String::from_utf8_lossy(&body)));
    Ok(Value::Object(out))
}

async fn put_object(store: &dyn ObjectStore, p: &Value) -> Result<Value, S3Error> {
    // The Body is JSON-serialized, as AWS does: a string is stored with its quotes.
    let body = p.get("Body").map(|b| b.to_string().into_bytes()).unwrap_or_default();
    let metadata = p
        .get("Metadata")
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.to_lowercase(), v.as_str().map_or(v.to_string(), str::to_owned))).collect())
        .unwrap_or_default();
    let checksum = crate::s3::crc32_base64(&body);
    let meta = store
        .put_object(PutRequest {
            bucket: required(p, "Bucket")?.to_owned(),
            key: required(p, "Key")?.to_owned(),
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

async fn copy_object(store: &dyn ObjectStore, p: &Value) -> Result<Value, S3Error> {
    let source = required(p, "CopySource")?;
    let source = source.split_once('?').map_or(source, |(s, _)| s);
    let source = percent_decode(source.trim_start_matches('/'));
    let (source_bucket, source_key) = source
        .split_once('/')
        .ok_or_else(|| S3Error::invalid_argument("Invalid copy source object key: CopySource must be 'bucket/key'"))?;
    let meta = store.copy_object(source_bucket, source_key, required(p, "Bucket")?, required(p, "Key")?).await?;
    Ok(json!({
        "CopyObjectResult": {"ETag": meta.etag, "LastModified": format_millis(meta.last_modified)},
        "ServerSideEncryption": "AES256",
    }))
}

async fn list_objects_v2(store: &dyn ObjectStore, p: &Value) -> Result<Value, S3Error> {
    let max_keys = match p.get("MaxKeys") {
        None => 1000,
        Some(v) => v.as_u64().ok_or_else(|| S3Error::invalid_argument("MaxKeys must be an integer"))? as usize,
    };
    let text = |name: &str| p.get(name).and_then(Value::as_str).map(str::to_owned);
    let list = ListRequest {
        bucket: required(p, "Bucket")?.to_owned(),
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

impl TaskAdapter for S3Tasks {
    fn name(&self) -> &str {
        "s3"
    }

    fn handles(&self, _state_name: &str, resource: &Resource) -> bool {
        Call::of(resource).is_some()
    }

    fn invoke(&self, request: TaskRequest) -> BoxFuture<'_, Result<Value, StatesError>> {
        Box::pin(async move {
            let Some(call) = Call::of(&request.resource) else {
                let message = format!("the S3 adapter does not run '{}'", request.resource);
                return Err(StatesError::new(ErrorName::Runtime, message));
            };
            let store = self.store.clone();
            // Taken, not copied, when this request holds the only reference (a ResultWriter's
            // file can be large).
            let mut request = request;
            let parameters = std::mem::take(&mut request.parameters).into_value();
            service::run(s3_call(store, call, parameters)).await.map_err(|e| s3_error(&e, &request))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_name_calls() {
        let call = |arn: &str| Call::of(&Resource::parse(arn).unwrap());
        assert_eq!(call("arn:aws-cn:states:::aws-sdk:s3:getObject"), Some(Call::GetObject));
        assert_eq!(call("arn:aws:states:::aws-sdk:s3:listObjectsV2"), Some(Call::ListObjectsV2));
        assert_eq!(call("arn:aws:states:::aws-sdk:s3:getObject.sync"), None);
        assert_eq!(call("arn:aws:states:::aws-sdk:s3:selectObjectContent"), None);
        // The optimized forms are an ItemReader's (a Task naming them is refused by validation).
        assert_eq!(call("arn:aws:states:::s3:getObject"), Some(Call::ReadObject));
        assert_eq!(call("arn:aws:states:::s3:listObjectsV2"), Some(Call::ListObjectsV2));
        assert_eq!(call("arn:aws:states:::s3:putObject"), Some(Call::WriteObject));
        assert_eq!(call("arn:aws:states:::s3:deleteObject"), None);
    }
}
