//! Result files, as Athena writes them to the output location: `<id>.csv` for queries
//! (a header, every value quoted, NULL empty) or `<id>.txt` for DDL and utility statements
//! (tab-separated, no header), each with a `.metadata` file beside it (Athena's is binary;
//! sfnlite's is JSON, read only by GetQueryResults).

use serde::{Deserialize, Serialize};

use super::Inner;
use super::errors::QueryFailure;
use super::query_exec::{Output, Row};
use crate::athena::AthenaError;
use crate::athena::render::{ColumnInfo, read_csv_rows, write_csv_row};
use crate::s3::{ObjectStore, PutRequest, S3Error, S3Url};

/// The `.metadata` file beside a result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct ResultMetadata {
    pub(super) columns: Vec<ColumnInfo>,
    /// Whether the first line of the result file is the header (queries) or not (DDL, utility).
    pub(super) header: bool,
    pub(super) update_count: u64,
}

/// A result file's text: CSV with a header, or tab-separated lines without one.
fn result_text(output: &Output, header: bool) -> String {
    let mut text = String::new();
    if header {
        let names: Vec<Option<String>> = output.columns.iter().map(|c| Some(c.name.clone())).collect();
        write_csv_row(&mut text, &names);
        for row in &output.rows {
            write_csv_row(&mut text, row);
        }
    } else {
        for row in &output.rows {
            let fields: Vec<&str> = row.iter().map(|v| v.as_deref().unwrap_or("")).collect();
            text.push_str(&fields.join("\t"));
            text.push('\n');
        }
    }
    text
}

impl Inner {
    /// Writes `output` to `location` (an `s3://` file) and its `.metadata`; the metadata's
    /// address.
    pub(super) async fn write_results(
        &self,
        location: &str,
        output: &Output,
        header: bool,
    ) -> Result<String, QueryFailure> {
        let write_failure = |e: S3Error| QueryFailure {
            message: format!("Unable to write query results to {location}: {}", e.message),
            error_type: 401,
            category: 1,
        };
        let url =
            S3Url::parse(location).ok_or_else(|| write_failure(S3Error::invalid_argument("not an s3:// address")))?;
        let content_type = if header { "text/csv" } else { "text/plain" };
        let body = result_text(output, header).into_bytes();
        self.put(&url.bucket, &url.key, body, content_type).await.map_err(write_failure)?;
        let metadata = ResultMetadata { columns: output.columns.clone(), header, update_count: 0 };
        let metadata_key = format!("{}.metadata", url.key);
        let body = serde_json::to_vec(&metadata).expect("metadata serializes");
        self.put(&url.bucket, &metadata_key, body, "application/octet-stream").await.map_err(write_failure)?;
        Ok(S3Url { bucket: url.bucket, key: metadata_key }.to_string())
    }

    async fn put(&self, bucket: &str, key: &str, body: Vec<u8>, content_type: &str) -> Result<(), S3Error> {
        let request = PutRequest {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            body,
            content_type: Some(content_type.into()),
            metadata: Default::default(),
        };
        self.s3.put_object(request).await.map(|_| ())
    }

    /// The result file at `location` (with its `.metadata` at `metadata_location`): its
    /// metadata and every row, the header included.
    pub(super) fn read_results(
        &self,
        id: &str,
        location: &str,
        metadata_location: &str,
    ) -> Result<(ResultMetadata, Vec<Row>), AthenaError> {
        let metadata: ResultMetadata = serde_json::from_slice(&self.read_result_file(metadata_location)?)
            .map_err(|e| AthenaError::internal(format!("the result metadata of {id} is damaged: {e}")))?;
        let text = String::from_utf8_lossy(&self.read_result_file(location)?).into_owned();
        let rows = if metadata.header {
            read_csv_rows(&text)
        } else {
            text.lines().map(|line| line.split('\t').map(|f| Some(f.to_owned())).collect()).collect()
        };
        Ok((metadata, rows))
    }

    fn read_result_file(&self, address: &str) -> Result<Vec<u8>, AthenaError> {
        let url = S3Url::parse(address).ok_or_else(|| AthenaError::internal("bad result location"))?;
        let path = self.s3.path_of(&url.bucket, &url.key).map_err(|e| AthenaError::internal(e.message))?;
        std::fs::read(&path).map_err(|e| {
            AthenaError::invalid_request(format!(
                "Unable to read the query results at {address}: {e} (were they deleted?)"
            ))
        })
    }
}
