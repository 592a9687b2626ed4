//! Amazon S3: the operations sfnlite's tasks and its Athena engine need, on two backends
//! behind one trait: a directory tree ([`LocalS3`]) and AWS or any S3-compatible endpoint
//! ([`crate::aws::AwsS3`]).

mod local;
mod url;

use std::collections::BTreeMap;

pub use local::LocalS3;

/// Whether `bucket` is a name S3 allows (3–63 of `a-z 0-9 . -`, starting and ending with a
/// letter or digit, no `..`): the message says why not.
pub fn check_bucket_name(bucket: &str) -> Result<(), String> {
    local::check_bucket(bucket).map_err(|_| {
        format!("'{bucket}' is not a bucket name S3 allows (3 to 63 of a-z, 0-9, '.' and '-', starting and ending with a letter or digit)")
    })
}
pub use url::S3Url;

use crate::BoxFuture;

/// An S3 error, as the service reports it: its code (`NoSuchKey`), HTTP status and message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct S3Error {
    /// The S3 error code, e.g. `NoSuchKey`.
    pub code: String,
    /// The HTTP status.
    pub status: u16,
    /// The service's message.
    pub message: String,
}

impl S3Error {
    /// An error with the given code, status and message.
    pub fn new(code: &str, status: u16, message: impl Into<String>) -> S3Error {
        S3Error { code: code.to_owned(), status, message: message.into() }
    }

    pub(crate) fn no_such_bucket() -> S3Error {
        S3Error::new("NoSuchBucket", 404, "The specified bucket does not exist")
    }

    pub(crate) fn no_such_key() -> S3Error {
        S3Error::new("NoSuchKey", 404, "The specified key does not exist.")
    }

    pub(crate) fn invalid_argument(message: impl Into<String>) -> S3Error {
        S3Error::new("InvalidArgument", 400, message)
    }
}

/// What S3 says about an object (HeadObject).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    /// The size in bytes.
    pub content_length: u64,
    /// The stored Content-Type.
    pub content_type: String,
    /// The quoted entity tag (`"<md5>"`).
    pub etag: String,
    /// Epoch milliseconds.
    pub last_modified: i64,
    /// User metadata (`x-amz-meta-*`).
    pub metadata: BTreeMap<String, String>,
}

/// An object listed by ListObjectsV2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedObject {
    /// The key.
    pub key: String,
    /// The size in bytes.
    pub size: u64,
    /// The quoted entity tag.
    pub etag: String,
    /// Epoch milliseconds.
    pub last_modified: i64,
}

/// A ListObjectsV2 request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListRequest {
    /// The bucket.
    pub bucket: String,
    /// Only keys starting with this.
    pub prefix: String,
    /// Roll keys up to this delimiter (after the prefix) into common prefixes.
    pub delimiter: Option<String>,
    /// At most this many keys and common prefixes (1..=1000; default 1000).
    pub max_keys: usize,
    /// Where the previous page stopped.
    pub continuation_token: Option<String>,
    /// Only keys after this one.
    pub start_after: Option<String>,
}

/// A ListObjectsV2 page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListPage {
    /// The objects, in ascending UTF-8 byte order of key.
    pub contents: Vec<ListedObject>,
    /// The rolled-up prefixes.
    pub common_prefixes: Vec<String>,
    /// Where the next page starts, when the listing is truncated.
    pub next_continuation_token: Option<String>,
}

/// A PutObject request.
#[derive(Debug, Clone, Default)]
pub struct PutRequest {
    /// The bucket.
    pub bucket: String,
    /// The key.
    pub key: String,
    /// The bytes.
    pub body: Vec<u8>,
    /// The Content-Type (default `binary/octet-stream`).
    pub content_type: Option<String>,
    /// User metadata.
    pub metadata: BTreeMap<String, String>,
}

/// A part of a multipart upload (ListParts, and CompleteMultipartUpload's list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartMeta {
    /// 1 to 10,000.
    pub number: u32,
    /// The part's quoted entity tag.
    pub etag: String,
    /// Its size in bytes (0 in a completion's list).
    pub size: u64,
    /// Epoch milliseconds (0 in a completion's list).
    pub last_modified: i64,
}

/// A multipart upload in progress (ListMultipartUploads).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadMeta {
    /// The key it will create.
    pub key: String,
    /// Its id.
    pub upload_id: String,
    /// Epoch milliseconds.
    pub initiated: i64,
}

/// The parts of a multipart upload, 1 to 10,000.
pub const MAX_PARTS: u32 = 10_000;

/// `NoSuchUpload`.
pub fn no_such_upload() -> S3Error {
    S3Error::new(
        "NoSuchUpload",
        404,
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
    )
}

/// The entity tag S3 gives an object completed from parts: the MD5 of the parts' MD5s,
/// then `-<number of parts>`. `None` when a part's tag is not an MD5.
pub fn multipart_etag(part_etags: &[&str]) -> Option<String> {
    use md5::{Digest, Md5};
    let mut digest = Md5::new();
    for etag in part_etags {
        let hex = etag.trim_matches('"');
        if hex.len() != 32 {
            return None;
        }
        for i in (0..32).step_by(2) {
            digest.update([u8::from_str_radix(hex.get(i..i + 2)?, 16).ok()?]);
        }
    }
    Some(format!("\"{}-{}\"", hex(&digest.finalize()), part_etags.len()))
}

/// The S3 operations sfnlite uses, on some backend.
pub trait ObjectStore: Send + Sync {
    /// GetObject: the bytes and what S3 says about them.
    fn get_object(&self, bucket: &str, key: &str) -> BoxFuture<'_, Result<(Vec<u8>, ObjectMeta), S3Error>>;
    /// HeadObject.
    fn head_object(&self, bucket: &str, key: &str) -> BoxFuture<'_, Result<ObjectMeta, S3Error>>;
    /// PutObject; returns the stored object's metadata.
    fn put_object(&self, request: PutRequest) -> BoxFuture<'_, Result<ObjectMeta, S3Error>>;
    /// DeleteObject (a missing key is not an error).
    fn delete_object(&self, bucket: &str, key: &str) -> BoxFuture<'_, Result<(), S3Error>>;
    /// CopyObject, keeping the source's metadata.
    fn copy_object(
        &self,
        source_bucket: &str,
        source_key: &str,
        bucket: &str,
        key: &str,
    ) -> BoxFuture<'_, Result<ObjectMeta, S3Error>>;
    /// ListObjectsV2.
    fn list_objects(&self, request: ListRequest) -> BoxFuture<'_, Result<ListPage, S3Error>>;
    /// CreateBucket.
    fn create_bucket(&self, bucket: &str) -> BoxFuture<'_, Result<(), S3Error>>;

    /// DeleteBucket: only an empty bucket (`BucketNotEmpty` otherwise).
    fn delete_bucket(&self, bucket: &str) -> BoxFuture<'_, Result<(), S3Error>>;
    /// ListBuckets: the bucket names, sorted.
    fn list_buckets(&self) -> BoxFuture<'_, Result<Vec<String>, S3Error>>;

    /// CreateMultipartUpload (the request's body is unused): the upload's id.
    fn create_multipart_upload(&self, request: PutRequest) -> BoxFuture<'_, Result<String, S3Error>>;
    /// UploadPart: the part's entity tag. A part uploaded again replaces the earlier one.
    fn upload_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        number: u32,
        body: Vec<u8>,
    ) -> BoxFuture<'_, Result<String, S3Error>>;
    /// CompleteMultipartUpload: the object made of `parts` (numbers ascending, each with the
    /// tag UploadPart gave), without holding it in memory.
    fn complete_multipart_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: Vec<PartMeta>,
    ) -> BoxFuture<'_, Result<ObjectMeta, S3Error>>;
    /// AbortMultipartUpload: its parts are discarded.
    fn abort_multipart_upload(&self, bucket: &str, key: &str, upload_id: &str) -> BoxFuture<'_, Result<(), S3Error>>;
    /// ListParts: the upload's parts, by number.
    fn list_parts(&self, bucket: &str, key: &str, upload_id: &str) -> BoxFuture<'_, Result<Vec<PartMeta>, S3Error>>;
    /// ListMultipartUploads: the bucket's uploads in progress, by key then start.
    fn list_multipart_uploads(&self, bucket: &str) -> BoxFuture<'_, Result<Vec<UploadMeta>, S3Error>>;
}

/// MD5 of `bytes` as S3's quoted ETag.
pub fn etag_of(bytes: &[u8]) -> String {
    use md5::{Digest, Md5};
    format!("\"{}\"", hex(&Md5::digest(bytes)))
}

/// Lower-case hexadecimal.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// RFC 3986 escaping as AWS signs and sends it: unreserved characters as they are,
/// every other byte `%XX` (a space is `%20`).
pub fn uri_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes `%XX` escapes (as in `CopySource` and Hive partition folder names); invalid
/// escapes stay as they are.
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(value) = text.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(value);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// CRC-32 (IEEE), as S3's `ChecksumCRC32` reports it (base64 of the big-endian value).
pub(crate) fn crc32_base64(bytes: &[u8]) -> String {
    let mut crc = 0xffff_ffffu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    base64(&(!crc).to_be_bytes())
}

/// Standard base64 with padding.
pub(crate) use sfnlite_states::base64::encode as base64;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_match_known_values() {
        assert_eq!(etag_of(b""), "\"d41d8cd98f00b204e9800998ecf8427e\"");
        // CRC-32 of "123456789" is 0xCBF43926.
        assert_eq!(crc32_base64(b"123456789"), base64(&[0xcb, 0xf4, 0x39, 0x26]));
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(hex(&[0, 171]), "00ab");
        assert_eq!(percent_decode("a%20b%2Fc%zz"), "a b/c%zz");
    }
}
