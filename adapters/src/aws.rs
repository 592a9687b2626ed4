//! The AWS backends: Athena and S3 through the AWS SDK for Rust, with the standard
//! credential chain and region, an optional endpoint (`--endpoint-url`, `AWS_ENDPOINT_URL`)
//! for S3-compatible services, and path-style addressing when asked. One HTTPS client
//! (hyper with rustls on ring) serves both.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use aws_config::BehaviorVersion;
use aws_sdk_athena::error::ProvideErrorMetadata;
use aws_smithy_types::DateTime;
use serde_json::{Map, Value, json};
use tokio::sync::OnceCell;

use crate::BoxFuture;
use crate::athena::{AthenaApi, AthenaError};
use crate::s3::{
    ListPage, ListRequest, ListedObject, ObjectMeta, ObjectStore, PartMeta, PutRequest, S3Error, UploadMeta,
};

/// How to reach AWS.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsSettings {
    /// The region (default: the SDK's chain, then `us-east-1`).
    pub region: Option<String>,
    /// An endpoint for every service (S3-compatible servers, local emulators).
    pub endpoint_url: Option<String>,
    /// A named profile from the shared config files.
    pub profile: Option<String>,
    /// Address S3 buckets in the path (`https://host/bucket/key`) rather than the host name.
    pub force_path_style: bool,
}

/// The SDK configuration for `settings`.
pub(crate) async fn sdk_config(settings: &AwsSettings) -> aws_config::SdkConfig {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    let http = aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https();
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(http);
    if let Some(profile) = &settings.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = &settings.region {
        loader = loader.region(aws_config::Region::new(region.clone()));
    }
    if let Some(endpoint) = &settings.endpoint_url {
        loader = loader.endpoint_url(endpoint);
    }
    let config = loader.load().await;
    if config.region().is_some() {
        return config;
    }
    // Neither the settings nor the SDK's chain name a region.
    config.to_builder().region(aws_config::Region::from_static("us-east-1")).build()
}

fn millis(time: Option<&DateTime>) -> Option<i64> {
    time.and_then(|t| t.to_millis().ok())
}

/// Athena on AWS.
pub struct AwsAthena {
    settings: AwsSettings,
    client: OnceCell<aws_sdk_athena::Client>,
}

impl AwsAthena {
    /// Athena reached with `settings` (the client is made on first use).
    pub fn new(settings: AwsSettings) -> AwsAthena {
        AwsAthena { settings, client: OnceCell::new() }
    }

    async fn client(&self) -> &aws_sdk_athena::Client {
        self.client.get_or_init(|| async { aws_sdk_athena::Client::new(&sdk_config(&self.settings).await) }).await
    }
}

fn athena_failure<E: ProvideErrorMetadata + std::error::Error + 'static, R>(
    error: aws_sdk_athena::error::SdkError<E, R>,
) -> AthenaError
where
    R: std::fmt::Debug,
{
    let status = match &error {
        aws_sdk_athena::error::SdkError::ServiceError(_) => 400,
        _ => 500,
    };
    match (error.code(), error.message()) {
        (Some(code), message) => AthenaError {
            code: code.to_owned(),
            status: if code.contains("Internal") { 500 } else { status },
            message: message.unwrap_or(code).to_owned(),
        },
        (None, _) => AthenaError {
            code: "AmazonAthenaException".into(),
            status,
            message: format!("{}", aws_smithy_types::error::display::DisplayErrorContext(&error)),
        },
    }
}

fn text<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value.pointer(pointer).and_then(Value::as_str)
}

fn query_execution_json(q: &aws_sdk_athena::types::QueryExecution) -> Value {
    let mut out = Map::new();
    if let Some(v) = q.engine_version() {
        let mut e = Map::new();
        if let Some(x) = v.effective_engine_version() {
            e.insert("EffectiveEngineVersion".into(), json!(x));
        }
        if let Some(x) = v.selected_engine_version() {
            e.insert("SelectedEngineVersion".into(), json!(x));
        }
        out.insert("EngineVersion".into(), Value::Object(e));
    }
    if !q.execution_parameters().is_empty() {
        out.insert("ExecutionParameters".into(), json!(q.execution_parameters()));
    }
    if let Some(x) = q.query() {
        out.insert("Query".into(), json!(x));
    }
    let mut context = Map::new();
    if let Some(c) = q.query_execution_context() {
        if let Some(x) = c.catalog() {
            context.insert("Catalog".into(), json!(x));
        }
        if let Some(x) = c.database() {
            context.insert("Database".into(), json!(x));
        }
    }
    out.insert("QueryExecutionContext".into(), Value::Object(context));
    if let Some(x) = q.query_execution_id() {
        out.insert("QueryExecutionId".into(), json!(x));
    }
    if let Some(r) = q.result_configuration() {
        let mut c = Map::new();
        if let Some(x) = r.output_location() {
            c.insert("OutputLocation".into(), json!(x));
        }
        if let Some(e) = r.encryption_configuration() {
            c.insert("EncryptionConfiguration".into(), json!({"EncryptionOption": e.encryption_option().as_str()}));
        }
        out.insert("ResultConfiguration".into(), Value::Object(c));
    }
    if let Some(x) = q.statement_type() {
        out.insert("StatementType".into(), json!(x.as_str()));
    }
    if let Some(s) = q.statistics() {
        let mut st = Map::new();
        let mut put = |name: &str, v: Option<i64>| {
            if let Some(v) = v {
                st.insert(name.into(), json!(v));
            }
        };
        put("DataScannedInBytes", s.data_scanned_in_bytes());
        put("EngineExecutionTimeInMillis", s.engine_execution_time_in_millis());
        put("QueryPlanningTimeInMillis", s.query_planning_time_in_millis());
        put("QueryQueueTimeInMillis", s.query_queue_time_in_millis());
        put("ServicePreProcessingTimeInMillis", s.service_pre_processing_time_in_millis());
        put("ServiceProcessingTimeInMillis", s.service_processing_time_in_millis());
        put("TotalExecutionTimeInMillis", s.total_execution_time_in_millis());
        if let Some(r) = s.result_reuse_information() {
            st.insert("ResultReuseInformation".into(), json!({"ReusedPreviousResult": r.reused_previous_result()}));
        }
        out.insert("Statistics".into(), Value::Object(st));
    }
    if let Some(s) = q.status() {
        let mut st = Map::new();
        if let Some(e) = s.athena_error() {
            let mut err = Map::new();
            if let Some(x) = e.error_category() {
                err.insert("ErrorCategory".into(), json!(x));
            }
            if let Some(x) = e.error_message() {
                err.insert("ErrorMessage".into(), json!(x));
            }
            if let Some(x) = e.error_type() {
                err.insert("ErrorType".into(), json!(x));
            }
            err.insert("Retryable".into(), json!(e.retryable()));
            st.insert("AthenaError".into(), Value::Object(err));
        }
        if let Some(x) = millis(s.completion_date_time()) {
            st.insert("CompletionDateTime".into(), json!(x));
        }
        if let Some(x) = s.state() {
            st.insert("State".into(), json!(x.as_str()));
        }
        if let Some(x) = s.state_change_reason() {
            st.insert("StateChangeReason".into(), json!(x));
        }
        if let Some(x) = millis(s.submission_date_time()) {
            st.insert("SubmissionDateTime".into(), json!(x));
        }
        out.insert("Status".into(), Value::Object(st));
    }
    if let Some(x) = q.substatement_type() {
        out.insert("SubstatementType".into(), json!(x));
    }
    if let Some(x) = q.work_group() {
        out.insert("WorkGroup".into(), json!(x));
    }
    Value::Object(out)
}

impl AthenaApi for AwsAthena {
    fn start_query_execution(&self, request: Value) -> BoxFuture<'_, Result<Value, AthenaError>> {
        use aws_sdk_athena::types::{
            EncryptionConfiguration, EncryptionOption, QueryExecutionContext, ResultConfiguration,
            ResultReuseByAgeConfiguration, ResultReuseConfiguration,
        };
        Box::pin(async move {
            let mut call = self
                .client()
                .await
                .start_query_execution()
                .set_query_string(text(&request, "/QueryString").map(str::to_owned));
            call = call.set_client_request_token(text(&request, "/ClientRequestToken").map(str::to_owned));
            call = call.set_work_group(text(&request, "/WorkGroup").map(str::to_owned));
            if request.get("QueryExecutionContext").is_some() {
                call = call.query_execution_context(
                    QueryExecutionContext::builder()
                        .set_database(text(&request, "/QueryExecutionContext/Database").map(str::to_owned))
                        .set_catalog(text(&request, "/QueryExecutionContext/Catalog").map(str::to_owned))
                        .build(),
                );
            }
            if request.get("ResultConfiguration").is_some() {
                let mut config = ResultConfiguration::builder()
                    .set_output_location(text(&request, "/ResultConfiguration/OutputLocation").map(str::to_owned))
                    .set_expected_bucket_owner(
                        text(&request, "/ResultConfiguration/ExpectedBucketOwner").map(str::to_owned),
                    );
                if let Some(option) = text(&request, "/ResultConfiguration/EncryptionConfiguration/EncryptionOption") {
                    let encryption = EncryptionConfiguration::builder()
                        .encryption_option(EncryptionOption::from(option))
                        .set_kms_key(
                            text(&request, "/ResultConfiguration/EncryptionConfiguration/KmsKey").map(str::to_owned),
                        )
                        .build()
                        .map_err(|e| AthenaError::invalid_request(e.to_string()))?;
                    config = config.encryption_configuration(encryption);
                }
                call = call.result_configuration(config.build());
            }
            if let Some(parameters) = request.get("ExecutionParameters").and_then(Value::as_array) {
                call = call.set_execution_parameters(Some(
                    parameters.iter().map(|p| p.as_str().map_or(p.to_string(), str::to_owned)).collect(),
                ));
            }
            if let Some(enabled) = request
                .pointer("/ResultReuseConfiguration/ResultReuseByAgeConfiguration/Enabled")
                .and_then(Value::as_bool)
            {
                let age = ResultReuseByAgeConfiguration::builder()
                    .enabled(enabled)
                    .set_max_age_in_minutes(
                        request
                            .pointer("/ResultReuseConfiguration/ResultReuseByAgeConfiguration/MaxAgeInMinutes")
                            .and_then(Value::as_i64)
                            .map(|m| m as i32),
                    )
                    .build();
                call = call.result_reuse_configuration(
                    ResultReuseConfiguration::builder().result_reuse_by_age_configuration(age).build(),
                );
            }
            let output = call.send().await.map_err(athena_failure)?;
            Ok(json!({"QueryExecutionId": output.query_execution_id()}))
        })
    }

    fn get_query_execution(&self, id: String) -> BoxFuture<'_, Result<Value, AthenaError>> {
        Box::pin(async move {
            let output = self
                .client()
                .await
                .get_query_execution()
                .query_execution_id(id)
                .send()
                .await
                .map_err(athena_failure)?;
            let execution = output.query_execution().map(query_execution_json).unwrap_or_else(|| json!({}));
            Ok(json!({"QueryExecution": execution}))
        })
    }

    fn get_query_results(&self, request: Value) -> BoxFuture<'_, Result<Value, AthenaError>> {
        Box::pin(async move {
            let output = self
                .client()
                .await
                .get_query_results()
                .set_query_execution_id(text(&request, "/QueryExecutionId").map(str::to_owned))
                .set_next_token(text(&request, "/NextToken").map(str::to_owned))
                .set_max_results(request.get("MaxResults").and_then(Value::as_i64).map(|m| m as i32))
                .send()
                .await
                .map_err(athena_failure)?;
            let mut result_set = Map::new();
            if let Some(set) = output.result_set() {
                let columns: Vec<Value> = set
                    .result_set_metadata()
                    .map(|m| m.column_info())
                    .unwrap_or_default()
                    .iter()
                    .map(|c| {
                        json!({
                            "CaseSensitive": c.case_sensitive(),
                            "CatalogName": c.catalog_name(),
                            "Label": c.label(),
                            "Name": c.name(),
                            "Nullable": c.nullable().map(|n| n.as_str()),
                            "Precision": c.precision(),
                            "Scale": c.scale(),
                            "SchemaName": c.schema_name(),
                            "TableName": c.table_name(),
                            "Type": c.r#type(),
                        })
                    })
                    .map(|mut v| {
                        if let Some(o) = v.as_object_mut() {
                            o.retain(|_, x| !x.is_null());
                        }
                        v
                    })
                    .collect();
                result_set.insert("ResultSetMetadata".into(), json!({"ColumnInfo": columns}));
                let rows: Vec<Value> = set
                    .rows()
                    .iter()
                    .map(|row| {
                        let data: Vec<Value> = row
                            .data()
                            .iter()
                            .map(|d| d.var_char_value().map_or_else(|| json!({}), |v| json!({"VarCharValue": v})))
                            .collect();
                        json!({"Data": data})
                    })
                    .collect();
                result_set.insert("Rows".into(), json!(rows));
            }
            let mut out = json!({"ResultSet": result_set, "UpdateCount": output.update_count().unwrap_or(0)});
            if let Some(token) = output.next_token() {
                out["NextToken"] = json!(token);
            }
            Ok(out)
        })
    }

    fn stop_query_execution(&self, id: String) -> BoxFuture<'_, Result<Value, AthenaError>> {
        Box::pin(async move {
            self.client().await.stop_query_execution().query_execution_id(id).send().await.map_err(athena_failure)?;
            Ok(json!({}))
        })
    }
}

/// S3 on AWS or an S3-compatible endpoint.
pub struct AwsS3 {
    settings: AwsSettings,
    client: OnceCell<(aws_sdk_s3::Client, String)>,
}

impl AwsS3 {
    /// S3 reached with `settings` (the client is made on first use).
    pub fn new(settings: AwsSettings) -> AwsS3 {
        AwsS3 { settings, client: OnceCell::new() }
    }

    async fn client(&self) -> &(aws_sdk_s3::Client, String) {
        self.client
            .get_or_init(|| async {
                let config = sdk_config(&self.settings).await;
                let region = config.region().map(|r| r.to_string()).unwrap_or_else(|| "us-east-1".into());
                let s3 =
                    aws_sdk_s3::config::Builder::from(&config).force_path_style(self.settings.force_path_style).build();
                (aws_sdk_s3::Client::from_conf(s3), region)
            })
            .await
    }
}

fn s3_failure<E: ProvideErrorMetadata + std::error::Error + 'static>(
    error: aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> S3Error {
    let status = error.raw_response().map(|r| r.status().as_u16()).unwrap_or(500);
    match error.code() {
        // HeadObject's 404 has no body, so no code: it is a missing key.
        Some("NotFound") | None if status == 404 => S3Error::no_such_key(),
        Some(code) => S3Error::new(code, status, error.message().unwrap_or(code)),
        None => {
            S3Error::new("S3", status, format!("{}", aws_smithy_types::error::display::DisplayErrorContext(&error)))
        }
    }
}

fn object_meta(
    length: Option<i64>,
    content_type: Option<&str>,
    etag: Option<&str>,
    modified: Option<&DateTime>,
    metadata: Option<&HashMap<String, String>>,
) -> ObjectMeta {
    ObjectMeta {
        content_length: length.unwrap_or(0).max(0) as u64,
        content_type: content_type.unwrap_or("binary/octet-stream").to_owned(),
        etag: etag.unwrap_or_default().to_owned(),
        last_modified: millis(modified).unwrap_or(0),
        metadata: metadata
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect::<BTreeMap<_, _>>())
            .unwrap_or_default(),
    }
}

fn encode_copy_source(bucket: &str, key: &str) -> String {
    let mut out = format!("{bucket}/");
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl ObjectStore for AwsS3 {
    fn list_buckets(&self) -> BoxFuture<'_, Result<Vec<String>, S3Error>> {
        Box::pin(async move {
            let (client, _) = self.client().await;
            let listed = client.list_buckets().send().await.map_err(s3_failure)?;
            let mut names: Vec<String> = listed.buckets().iter().filter_map(|b| b.name().map(str::to_owned)).collect();
            names.sort();
            Ok(names)
        })
    }

    fn get_object(&self, bucket: &str, key: &str) -> BoxFuture<'_, Result<(Vec<u8>, ObjectMeta), S3Error>> {
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        Box::pin(async move {
            let output = self.client().await.0.get_object().bucket(bucket).key(key).send().await.map_err(s3_failure)?;
            let meta = object_meta(
                output.content_length(),
                output.content_type(),
                output.e_tag(),
                output.last_modified(),
                output.metadata(),
            );
            let body = output
                .body
                .collect()
                .await
                .map_err(|e| S3Error::new("S3", 500, format!("reading the object failed: {e}")))?
                .into_bytes()
                .to_vec();
            Ok((body, meta))
        })
    }

    fn head_object(&self, bucket: &str, key: &str) -> BoxFuture<'_, Result<ObjectMeta, S3Error>> {
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        Box::pin(async move {
            let o = self.client().await.0.head_object().bucket(bucket).key(key).send().await.map_err(s3_failure)?;
            Ok(object_meta(o.content_length(), o.content_type(), o.e_tag(), o.last_modified(), o.metadata()))
        })
    }

    fn put_object(&self, request: PutRequest) -> BoxFuture<'_, Result<ObjectMeta, S3Error>> {
        Box::pin(async move {
            let length = request.body.len() as i64;
            let metadata: HashMap<String, String> = request.metadata.clone().into_iter().collect();
            let output = self
                .client()
                .await
                .0
                .put_object()
                .bucket(&request.bucket)
                .key(&request.key)
                .body(aws_sdk_s3::primitives::ByteStream::from(request.body))
                .set_content_type(request.content_type.clone())
                .set_metadata((!metadata.is_empty()).then_some(metadata))
                .send()
                .await
                .map_err(s3_failure)?;
            Ok(ObjectMeta {
                content_length: length as u64,
                content_type: request.content_type.unwrap_or_else(|| "binary/octet-stream".into()),
                etag: output.e_tag().unwrap_or_default().to_owned(),
                last_modified: 0,
                metadata: request.metadata,
            })
        })
    }

    fn delete_object(&self, bucket: &str, key: &str) -> BoxFuture<'_, Result<(), S3Error>> {
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        Box::pin(async move {
            self.client().await.0.delete_object().bucket(bucket).key(key).send().await.map_err(s3_failure)?;
            Ok(())
        })
    }

    fn copy_object(
        &self,
        source_bucket: &str,
        source_key: &str,
        bucket: &str,
        key: &str,
    ) -> BoxFuture<'_, Result<ObjectMeta, S3Error>> {
        let source = encode_copy_source(source_bucket, source_key);
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        Box::pin(async move {
            let output = self
                .client()
                .await
                .0
                .copy_object()
                .copy_source(source)
                .bucket(&bucket)
                .key(&key)
                .send()
                .await
                .map_err(s3_failure)?;
            let result = output.copy_object_result();
            Ok(ObjectMeta {
                content_length: 0,
                content_type: String::new(),
                etag: result.and_then(|r| r.e_tag()).unwrap_or_default().to_owned(),
                last_modified: millis(result.and_then(|r| r.last_modified())).unwrap_or(0),
                metadata: BTreeMap::new(),
            })
        })
    }

    fn list_objects(&self, request: ListRequest) -> BoxFuture<'_, Result<ListPage, S3Error>> {
        Box::pin(async move {
            let output = self
                .client()
                .await
                .0
                .list_objects_v2()
                .bucket(&request.bucket)
                .prefix(&request.prefix)
                .set_delimiter(request.delimiter.clone())
                .max_keys(if request.max_keys == 0 { 1000 } else { request.max_keys as i32 })
                .set_continuation_token(request.continuation_token.clone())
                .set_start_after(request.start_after.clone())
                .send()
                .await
                .map_err(s3_failure)?;
            Ok(ListPage {
                contents: output
                    .contents()
                    .iter()
                    .map(|o| ListedObject {
                        key: o.key().unwrap_or_default().to_owned(),
                        size: o.size().unwrap_or(0).max(0) as u64,
                        etag: o.e_tag().unwrap_or_default().to_owned(),
                        last_modified: millis(o.last_modified()).unwrap_or(0),
                    })
                    .collect(),
                common_prefixes: output
                    .common_prefixes()
                    .iter()
                    .filter_map(|p| p.prefix().map(str::to_owned))
                    .collect(),
                next_continuation_token: output.next_continuation_token().map(str::to_owned),
            })
        })
    }

    fn create_bucket(&self, bucket: &str) -> BoxFuture<'_, Result<(), S3Error>> {
        let bucket = bucket.to_owned();
        Box::pin(async move {
            use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
            let (client, region) = self.client().await;
            let mut call = client.create_bucket().bucket(bucket);
            if region != "us-east-1" {
                call = call.create_bucket_configuration(
                    CreateBucketConfiguration::builder()
                        .location_constraint(BucketLocationConstraint::from(region.as_str()))
                        .build(),
                );
            }
            call.send().await.map_err(s3_failure)?;
            Ok(())
        })
    }

    fn delete_bucket(&self, bucket: &str) -> BoxFuture<'_, Result<(), S3Error>> {
        let bucket = bucket.to_owned();
        Box::pin(async move {
            let (client, _) = self.client().await;
            client.delete_bucket().bucket(bucket).send().await.map_err(s3_failure)?;
            Ok(())
        })
    }
    fn create_multipart_upload(&self, request: PutRequest) -> BoxFuture<'_, Result<String, S3Error>> {
        Box::pin(async move {
            let metadata: HashMap<String, String> = request.metadata.into_iter().collect();
            let output = self
                .client()
                .await
                .0
                .create_multipart_upload()
                .bucket(request.bucket)
                .key(request.key)
                .set_content_type(request.content_type)
                .set_metadata((!metadata.is_empty()).then_some(metadata))
                .send()
                .await
                .map_err(s3_failure)?;
            Ok(output.upload_id().unwrap_or_default().to_owned())
        })
    }

    fn upload_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        number: u32,
        body: Vec<u8>,
    ) -> BoxFuture<'_, Result<String, S3Error>> {
        let (bucket, key, id) = (bucket.to_owned(), key.to_owned(), upload_id.to_owned());
        Box::pin(async move {
            let output = self
                .client()
                .await
                .0
                .upload_part()
                .bucket(bucket)
                .key(key)
                .upload_id(id)
                .part_number(number as i32)
                .body(aws_sdk_s3::primitives::ByteStream::from(body))
                .send()
                .await
                .map_err(s3_failure)?;
            Ok(output.e_tag().unwrap_or_default().to_owned())
        })
    }

    fn complete_multipart_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: Vec<PartMeta>,
    ) -> BoxFuture<'_, Result<ObjectMeta, S3Error>> {
        use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
        let (bucket, key, id) = (bucket.to_owned(), key.to_owned(), upload_id.to_owned());
        Box::pin(async move {
            let parts = parts
                .into_iter()
                .map(|p| CompletedPart::builder().part_number(p.number as i32).e_tag(p.etag).build())
                .collect();
            let output = self
                .client()
                .await
                .0
                .complete_multipart_upload()
                .bucket(bucket)
                .key(key)
                .upload_id(id)
                .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
                .send()
                .await
                .map_err(s3_failure)?;
            Ok(ObjectMeta {
                content_length: 0,
                content_type: String::new(),
                etag: output.e_tag().unwrap_or_default().to_owned(),
                last_modified: 0,
                metadata: BTreeMap::new(),
            })
        })
    }

    fn abort_multipart_upload(&self, bucket: &str, key: &str, upload_id: &str) -> BoxFuture<'_, Result<(), S3Error>> {
        let (bucket, key, id) = (bucket.to_owned(), key.to_owned(), upload_id.to_owned());
        Box::pin(async move {
            let client = &self.client().await.0;
            client.abort_multipart_upload().bucket(bucket).key(key).upload_id(id).send().await.map_err(s3_failure)?;
            Ok(())
        })
    }

    fn list_parts(&self, bucket: &str, key: &str, upload_id: &str) -> BoxFuture<'_, Result<Vec<PartMeta>, S3Error>> {
        let (bucket, key, id) = (bucket.to_owned(), key.to_owned(), upload_id.to_owned());
        Box::pin(async move {
            let client = &self.client().await.0;
            let mut parts = Vec::new();
            let mut marker: Option<String> = None;
            loop {
                let page = client
                    .list_parts()
                    .bucket(&bucket)
                    .key(&key)
                    .upload_id(&id)
                    .set_part_number_marker(marker.clone())
                    .send()
                    .await
                    .map_err(s3_failure)?;
                parts.extend(page.parts().iter().map(|p| PartMeta {
                    number: p.part_number().unwrap_or(0).max(0) as u32,
                    etag: p.e_tag().unwrap_or_default().to_owned(),
                    size: p.size().unwrap_or(0).max(0) as u64,
                    last_modified: millis(p.last_modified()).unwrap_or(0),
                }));
                match page.next_part_number_marker() {
                    Some(next) if page.is_truncated() == Some(true) && marker.as_deref() != Some(next) => {
                        marker = Some(next.to_owned())
                    }
                    _ => return Ok(parts),
                }
            }
        })
    }

    fn list_multipart_uploads(&self, bucket: &str) -> BoxFuture<'_, Result<Vec<UploadMeta>, S3Error>> {
        let bucket = bucket.to_owned();
        Box::pin(async move {
            let client = &self.client().await.0;
            let mut uploads = Vec::new();
            let mut markers: (Option<String>, Option<String>) = (None, None);
            loop {
                let page = client
                    .list_multipart_uploads()
                    .bucket(&bucket)
                    .set_key_marker(markers.0.clone())
                    .set_upload_id_marker(markers.1.clone())
                    .send()
                    .await
                    .map_err(s3_failure)?;
                uploads.extend(page.uploads().iter().map(|u| UploadMeta {
                    key: u.key().unwrap_or_default().to_owned(),
                    upload_id: u.upload_id().unwrap_or_default().to_owned(),
                    initiated: millis(u.initiated()).unwrap_or(0),
                }));
                let next = (page.next_key_marker().map(str::to_owned), page.next_upload_id_marker().map(str::to_owned));
                // A page that says it is truncated but gives no way on ends the listing.
                if page.is_truncated() != Some(true) || next.0.is_none() || next == markers {
                    return Ok(uploads);
                }
                markers = next;
            }
        })
    }
}

/// The AWS backends of both services, sharing settings.
pub fn backends(settings: &AwsSettings) -> (Arc<AwsAthena>, Arc<AwsS3>) {
    (Arc::new(AwsAthena::new(settings.clone())), Arc::new(AwsS3::new(settings.clone())))
}
