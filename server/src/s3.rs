//! The S3 REST API over the same object store that tasks and `sfnlite s3` use (one data
//! root, the same key confinement): ListBuckets, CreateBucket, HeadBucket, ListObjectsV2,
//! GetObject (with Range), PutObject (plain or aws-chunked bodies), CopyObject, HeadObject,
//! DeleteObject, DeleteObjects. Buckets are addressed by path (`/bucket/key`) or by host
//! (`bucket.localhost`). Answers are S3's XML; errors `<Error><Code>…`.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use hyper::{HeaderMap, Method, StatusCode};
use sfnlite_adapters::s3::{
    ListRequest, MAX_PARTS, ObjectMeta, ObjectStore, PartMeta, PutRequest, S3Error, percent_decode,
};
use sfnlite_states::timestamp::{format_http_date, format_millis};

/// An S3 answer: status, headers, body.
pub(crate) struct S3Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Bytes,
}

fn xml(status: StatusCode, body: String) -> S3Answer {
    let body = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{body}");
    S3Answer { status, headers: vec![("content-type".into(), "application/xml".into())], body: Bytes::from(body) }
}

fn empty(status: StatusCode) -> S3Answer {
    S3Answer { status, headers: Vec::new(), body: Bytes::new() }
}

/// Escapes text for XML.
fn esc(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn error(e: &S3Error, resource: &str) -> S3Answer {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    xml(
        status,
        format!(
            "<Error><Code>{}</Code><Message>{}</Message><Resource>{}</Resource></Error>",
            esc(&e.code),
            esc(&e.message),
            esc(resource)
        ),
    )
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => (b as char).to_string(),
            b => format!("%{b:02X}"),
        })
        .collect()
}

/// The query string's parameters.
fn query(uri: &hyper::Uri) -> BTreeMap<String, String> {
    uri.query()
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(p), String::new()),
        })
        .collect()
}

/// Bucket and key: from a `bucket.localhost` host, or the path's first segment.
fn address(uri: &hyper::Uri, headers: &HeaderMap) -> (String, String) {
    let path = percent_decode(uri.path().trim_start_matches('/'));
    let host = headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or_default();
    let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
    if let Some(bucket) = host.strip_suffix(".localhost").filter(|b| !b.is_empty()) {
        return (bucket.to_owned(), path);
    }
    match path.split_once('/') {
        Some((bucket, key)) => (bucket.to_owned(), key.to_owned()),
        None => (path, String::new()),
    }
}

/// A body sent as `aws-chunked` (SigV4 streaming, with or without trailing checksums):
/// the data of its chunks.
fn dechunk(body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = body;
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n")?;
        let header = std::str::from_utf8(&rest[..line_end]).ok()?;
        let size = usize::from_str_radix(header.split(';').next()?.trim(), 16).ok()?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(rest.get(..size)?);
        rest = rest.get(size + 2..)?;
    }
}

fn meta_headers(meta: &ObjectMeta) -> Vec<(String, String)> {
    let mut headers = vec![
        ("content-type".to_owned(), meta.content_type.clone()),
        ("etag".to_owned(), meta.etag.clone()),
        ("last-modified".to_owned(), format_http_date(meta.last_modified)),
        ("accept-ranges".to_owned(), "bytes".to_owned()),
    ];
    headers.extend(meta.metadata.iter().map(|(k, v)| (format!("x-amz-meta-{k}"), v.clone())));
    headers
}

/// One `bytes=a-b`, `a-` or `-n` range with `a <= b`.
fn well_formed_range(spec: &str) -> bool {
    let Some((a, b)) = spec.strip_prefix("bytes=").and_then(|s| s.split_once('-')) else {
        return false;
    };
    let number = |t: &str| !t.is_empty() && t.bytes().all(|c| c.is_ascii_digit());
    match (number(a), number(b)) {
        (true, true) => a.parse::<u64>().ok() <= b.parse::<u64>().ok(),
        (true, false) => b.is_empty(),
        (false, true) => a.is_empty(),
        (false, false) => false,
    }
}

/// `Range: bytes=a-b` (or `a-`, or `-n`) over an object of `size` bytes.
fn range(spec: &str, size: usize) -> Option<(usize, usize)> {
    let spec = spec.strip_prefix("bytes=")?;
    let (a, b) = spec.split_once('-')?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", n) => (size.saturating_sub(n.parse().ok()?), size.checked_sub(1)?),
        (a, "") => (a.parse().ok()?, size.checked_sub(1)?),
        (a, b) => (a.parse().ok()?, b.parse::<usize>().ok()?.min(size.checked_sub(1)?)),
    };
    (start <= end && start < size).then_some((start, end))
}

/// `403 AccessDenied` with a reason.
pub(crate) fn forbidden(reason: &str) -> S3Answer {
    error(&S3Error::new("AccessDenied", 403, format!("Access Denied: {reason}")), "")
}

/// A request whose signature `serve --require-auth` refuses.
pub(crate) fn refused(failure: &crate::sigv4::AuthFailure) -> S3Answer {
    let (code, message) = failure.s3_error();
    let status = if code == "AuthorizationQueryParametersError" { 400 } else { 403 };
    error(&S3Error::new(code, status, message), "")
}

/// Query parameters the served operations read; any other names a subresource (`?tagging`,
/// `?acl`, `?location`…) that sfnlite does not serve, refused rather than mistaken for
/// the object or bucket itself.
const KNOWN_PARAMETERS: &[&str] = &[
    "list-type",
    "prefix",
    "delimiter",
    "max-keys",
    "continuation-token",
    "start-after",
    "encoding-type",
    "fetch-owner",
    "marker",
    "delete",
    "x-id",
    "partNumber",
    "uploadId",
    "uploads",
    "max-parts",
    "part-number-marker",
    "max-uploads",
    "key-marker",
    "upload-id-marker",
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
    "X-Amz-Security-Token",
    "AWSAccessKeyId",
    "Signature",
    "Expires",
];

/// The answer to an object larger than the server takes.
pub(crate) fn too_large(limit: usize) -> S3Answer {
    let e = S3Error::new(
        "EntityTooLarge",
        400,
        format!("Your proposed upload exceeds the maximum allowed size ({limit} bytes)"),
    );
    error(&e, "")
}

/// Answers one S3 request.
pub(crate) async fn call(
    store: &Arc<dyn ObjectStore>,
    limit: usize,
    method: &Method,
    uri: &hyper::Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> S3Answer {
    let (bucket, key) = address(uri, headers);
    let params = query(uri);
    let resource = format!("/{bucket}{}", if key.is_empty() { String::new() } else { format!("/{key}") });
    let multipart = params.contains_key("uploads") || params.contains_key("uploadId");
    if let Some(unknown) =
        params.keys().find(|k| !KNOWN_PARAMETERS.contains(&k.as_str()) && !k.starts_with("response-"))
    {
        let e =
            S3Error::new("NotImplemented", 501, format!("sfnlite serve does not serve the '{unknown}' subresource"));
        return error(&e, &resource);
    }
    let result = match (method.clone(), bucket.is_empty(), key.is_empty()) {
        (_, false, false) if multipart => {
            multipart_call(store, limit, method, &bucket, &key, &params, headers, body).await
        }
        (Method::GET, true, _) => list_buckets(store).await,
        (Method::PUT, false, true) => store.create_bucket(&bucket).await.map(|()| {
            let mut answer = empty(StatusCode::OK);
            answer.headers.push(("location".into(), format!("/{bucket}")));
            answer
        }),
        (Method::HEAD, false, true) => {
            let probe = ListRequest { bucket: bucket.clone(), max_keys: 1, ..Default::default() };
            store.list_objects(probe).await.map(|_| empty(StatusCode::OK))
        }
        (Method::GET, false, true) if params.contains_key("uploads") => list_uploads(store, &bucket, &params).await,
        (Method::GET, false, true) => list_objects(store, &bucket, &params).await,
        (Method::POST, false, true) if params.contains_key("delete") => delete_objects(store, &bucket, &body).await,
        (Method::GET, false, false) => get_object(store, &bucket, &key, headers).await,
        (Method::HEAD, false, false) => store.head_object(&bucket, &key).await.map(|meta| {
            let mut answer = empty(StatusCode::OK);
            answer.headers = meta_headers(&meta);
            answer.headers.push(("content-length".into(), meta.content_length.to_string()));
            answer
        }),
        (Method::PUT, false, false) => put_object(store, &bucket, &key, headers, body).await,
        (Method::DELETE, false, false) => {
            store.delete_object(&bucket, &key).await.map(|()| empty(StatusCode::NO_CONTENT))
        }
        (Method::DELETE, false, true) => store.delete_bucket(&bucket).await.map(|()| empty(StatusCode::NO_CONTENT)),
        _ => Err(S3Error::new("NotImplemented", 501, format!("sfnlite serve does not answer {method} {resource}"))),
    };
    result.unwrap_or_else(|e| {
        if *method == Method::HEAD {
            empty(StatusCode::from_u16(e.status).unwrap_or(StatusCode::NOT_FOUND))
        } else {
            error(&e, &resource)
        }
    })
}

/// CreateMultipartUpload, UploadPart, CompleteMultipartUpload, AbortMultipartUpload,
/// ListParts: on the store's multipart uploads (the local store keeps the parts on disk).
#[allow(clippy::too_many_arguments)]
async fn multipart_call(
    store: &Arc<dyn ObjectStore>,
    limit: usize,
    method: &Method,
    bucket: &str,
    key: &str,
    params: &BTreeMap<String, String>,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<S3Answer, S3Error> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let id = params.get("uploadId").cloned().unwrap_or_default();
    match *method {
        Method::POST if params.contains_key("uploads") => {
            let request = PutRequest {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
                body: Vec::new(),
                content_type: header("content-type"),
                metadata: user_metadata(headers),
            };
            let id = store.create_multipart_upload(request).await?;
            Ok(xml(
                StatusCode::OK,
                format!(
                    "<InitiateMultipartUploadResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Bucket>{}</Bucket><Key>{}</Key><UploadId>{}</UploadId></InitiateMultipartUploadResult>",
                    esc(bucket),
                    esc(key),
                    esc(&id)
                ),
            ))
        }
        Method::PUT => {
            let number: u32 = params
                .get("partNumber")
                .and_then(|n| n.parse().ok())
                .filter(|n| (1..=MAX_PARTS).contains(n))
                .ok_or_else(|| {
                    S3Error::new(
                        "InvalidArgument",
                        400,
                        "Part number must be an integer between 1 and 10000, inclusive",
                    )
                })?;
            let data = body_of(headers, body)?;
            // The whole upload stays within the server's object limit.
            let held: u64 =
                store.list_parts(bucket, key, &id).await?.iter().filter(|p| p.number != number).map(|p| p.size).sum();
            if held + data.len() as u64 > limit as u64 {
                return Err(S3Error::new(
                    "EntityTooLarge",
                    400,
                    format!("Your proposed upload exceeds the maximum allowed size ({limit} bytes)"),
                ));
            }
            let etag = store.upload_part(bucket, key, &id, number, data).await?;
            let mut answer = empty(StatusCode::OK);
            answer.headers.push(("etag".into(), etag));
            Ok(answer)
        }
        Method::POST => {
            let text = String::from_utf8_lossy(&body);
            let parts: Vec<PartMeta> = elements(&text, "Part")
                .into_iter()
                .map(|part| {
                    let field = |name: &str| elements(part, name).first().map(|t| unescape(t.trim()));
                    PartMeta {
                        number: field("PartNumber").and_then(|n| n.parse().ok()).unwrap_or(0),
                        etag: field("ETag").unwrap_or_default(),
                        size: 0,
                        last_modified: 0,
                    }
                })
                .collect();
            let meta = store.complete_multipart_upload(bucket, key, &id, parts).await?;
            Ok(xml(
                StatusCode::OK,
                format!(
                    "<CompleteMultipartUploadResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Location>/{}/{}</Location><Bucket>{}</Bucket><Key>{}</Key><ETag>{}</ETag></CompleteMultipartUploadResult>",
                    esc(bucket),
                    esc(key),
                    esc(bucket),
                    esc(key),
                    esc(&meta.etag)
                ),
            ))
        }
        Method::DELETE => {
            store.abort_multipart_upload(bucket, key, &id).await?;
            Ok(empty(StatusCode::NO_CONTENT))
        }
        Method::GET if params.contains_key("uploadId") => list_parts(store, bucket, key, &id, params).await,
        _ => Err(S3Error::new("NotImplemented", 501, "sfnlite serve does not answer this multipart request")),
    }
}

/// XML text with its entities read back (the five named ones, and numeric ones such as
/// `&#34;`, which Go's encoder writes for a quote).
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let Some(end) = rest.find(';').filter(|e| *e <= 10) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..end];
        let decoded = match entity {
            "quot" => Some('"'),
            "apos" => Some('\''),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "amp" => Some('&'),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|n| n.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The contents of the elements named `name` in `xml`, whatever their namespace prefix or
/// attributes (not nested in one another).
fn elements<'x>(xml: &'x str, name: &str) -> Vec<&'x str> {
    let local = |tag: &str| -> bool {
        let tag = tag.split(|c: char| c.is_whitespace() || c == '/').next().unwrap_or_default();
        tag.rsplit(':').next() == Some(name)
    };
    let mut found = Vec::new();
    let mut rest = xml;
    while let Some(open) = rest.find('<') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('>') else { break };
        let tag = &after[..close];
        let body = &after[close + 1..];
        if !tag.starts_with('/') && !tag.ends_with('/') && local(tag) {
            // Its end: the next closing tag of the same local name.
            let mut search = 0;
            let mut end = None;
            while let Some(at) = body[search..].find("</") {
                let start = search + at;
                let closing = &body[start + 2..];
                let stop = closing.find('>').unwrap_or(closing.len());
                if local(&closing[..stop]) {
                    end = Some((start, start + 2 + stop + 1));
                    break;
                }
                search = start + 2;
            }
            let Some((inner_end, next)) = end else { break };
            found.push(&body[..inner_end]);
            rest = &body[next.min(body.len())..];
        } else {
            rest = body;
        }
    }
    found
}

#[cfg(test)]
mod xml_tests {
    use super::*;

    #[test]
    fn completion_lists_are_read_as_clients_write_them() {
        let go = "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Part><ETag>&#34;abc&#34;</ETag><PartNumber>1</PartNumber></Part><Part><ETag>&quot;d&amp;e&quot;</ETag><PartNumber>2</PartNumber></Part></CompleteMultipartUpload>";
        let parts: Vec<(String, String)> = elements(go, "Part")
            .into_iter()
            .map(|p| (unescape(elements(p, "PartNumber")[0]), unescape(elements(p, "ETag")[0])))
            .collect();
        assert_eq!(parts, [("1".into(), "\"abc\"".into()), ("2".into(), "\"d&e\"".into())]);
        let prefixed = "<s3:CompleteMultipartUpload xmlns:s3=\"x\"><s3:Part id=\"1\"><s3:PartNumber>3</s3:PartNumber></s3:Part></s3:CompleteMultipartUpload>";
        let part = elements(prefixed, "Part");
        assert_eq!(elements(part[0], "PartNumber"), ["3"]);
        assert_eq!(unescape("a &unknown; &#x41;&"), "a &unknown; A&");
    }
}

/// A numeric query parameter from 0 to 1000 (`default` when absent).
fn count_param(params: &BTreeMap<String, String>, name: &str, default: usize) -> Result<usize, S3Error> {
    match params.get(name) {
        None => Ok(default),
        Some(text) => text.parse::<usize>().map(|n| n.min(1000)).map_err(|_| {
            S3Error::new("InvalidArgument", 400, format!("Provided {name} not an integer or within integer range"))
        }),
    }
}

/// ListParts: an upload's parts in number order, after `part-number-marker`, at most `max-parts`.
async fn list_parts(
    store: &Arc<dyn ObjectStore>,
    bucket: &str,
    key: &str,
    id: &str,
    params: &BTreeMap<String, String>,
) -> Result<S3Answer, S3Error> {
    let max = count_param(params, "max-parts", 1000)?;
    // A marker is any part number (not capped as a count is).
    let marker: u32 = match params.get("part-number-marker") {
        None => 0,
        Some(text) => text.parse().map_err(|_| {
            S3Error::new("InvalidArgument", 400, "Provided part-number-marker not an integer or within integer range")
        })?,
    };
    let parts = store.list_parts(bucket, key, id).await?;
    let after: Vec<&PartMeta> = parts.iter().filter(|p| p.number > marker).collect();
    let shown = &after[..max.min(after.len())];
    let truncated = shown.len() < after.len();
    let mut body = format!(
        "<ListPartsResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Bucket>{}</Bucket><Key>{}</Key><UploadId>{}</UploadId><PartNumberMarker>{marker}</PartNumberMarker>",
        esc(bucket),
        esc(key),
        esc(id)
    );
    if let Some(last) = shown.last() {
        body.push_str(&format!("<NextPartNumberMarker>{}</NextPartNumberMarker>", last.number));
    }
    body.push_str(&format!(
        "<MaxParts>{max}</MaxParts><IsTruncated>{truncated}</IsTruncated><StorageClass>STANDARD</StorageClass>"
    ));
    for part in shown {
        body.push_str(&format!(
            "<Part><PartNumber>{}</PartNumber><LastModified>{}</LastModified><ETag>{}</ETag><Size>{}</Size></Part>",
            part.number,
            format_millis(part.last_modified),
            esc(&part.etag),
            part.size
        ));
    }
    body.push_str("</ListPartsResult>");
    Ok(xml(StatusCode::OK, body))
}

/// ListMultipartUploads: a bucket's uploads in progress, by key then start, after
/// `key-marker`, under `prefix`, at most `max-uploads`.
async fn list_uploads(
    store: &Arc<dyn ObjectStore>,
    bucket: &str,
    params: &BTreeMap<String, String>,
) -> Result<S3Answer, S3Error> {
    let max = count_param(params, "max-uploads", 1000)?;
    let prefix = params.get("prefix").map_or("", String::as_str);
    let key_marker = params.get("key-marker").map_or("", String::as_str);
    // With an upload-id-marker, the marker key's later uploads come too (S3's rule).
    let id_marker = params.get("upload-id-marker").filter(|m| !m.is_empty());
    let after =
        |key: &str, id: &str| key > key_marker || id_marker.is_some_and(|m| key == key_marker && id > m.as_str());
    let mut found: Vec<(String, i64, String)> = store
        .list_multipart_uploads(bucket)
        .await?
        .into_iter()
        .filter(|u| u.key.starts_with(prefix) && after(&u.key, &u.upload_id))
        .map(|u| (u.key, u.initiated, u.upload_id))
        .collect();
    found.sort();
    let truncated = found.len() > max;
    found.truncate(max);
    let mut body = format!(
        "<ListMultipartUploadsResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Bucket>{}</Bucket><KeyMarker>{}</KeyMarker><UploadIdMarker>{}</UploadIdMarker><Prefix>{}</Prefix>",
        esc(bucket),
        esc(key_marker),
        esc(id_marker.map_or("", String::as_str)),
        esc(prefix)
    );
    if let (true, Some((key, _, id))) = (truncated, found.last()) {
        body.push_str(&format!(
            "<NextKeyMarker>{}</NextKeyMarker><NextUploadIdMarker>{}</NextUploadIdMarker>",
            esc(key),
            esc(id)
        ));
    }
    body.push_str(&format!("<MaxUploads>{max}</MaxUploads><IsTruncated>{truncated}</IsTruncated>"));
    for (key, initiated, id) in &found {
        body.push_str(&format!(
            "<Upload><Key>{}</Key><UploadId>{}</UploadId><Initiated>{}</Initiated><StorageClass>STANDARD</StorageClass></Upload>",
            esc(key),
            esc(id),
            format_millis(*initiated)
        ));
    }
    body.push_str("</ListMultipartUploadsResult>");
    Ok(xml(StatusCode::OK, body))
}

/// The request's `x-amz-meta-*` headers.
fn user_metadata(headers: &HeaderMap) -> BTreeMap<String, String> {
    headers
        .iter()
        .filter_map(|(name, value)| {
            let key = name.as_str().strip_prefix("x-amz-meta-")?;
            Some((key.to_owned(), value.to_str().ok()?.to_owned()))
        })
        .collect()
}

/// A request body, its `aws-chunked` framing removed.
fn body_of(headers: &HeaderMap, body: Bytes) -> Result<Vec<u8>, S3Error> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let streaming = header("x-amz-content-sha256").is_some_and(|v| v.starts_with("STREAMING-"))
        || header("content-encoding").is_some_and(|v| v.contains("aws-chunked"));
    if streaming {
        dechunk(&body).ok_or_else(|| S3Error::new("IncompleteBody", 400, "The aws-chunked body is malformed"))
    } else {
        Ok(body.to_vec())
    }
}

async fn list_buckets(store: &Arc<dyn ObjectStore>) -> Result<S3Answer, S3Error> {
    let names = store.list_buckets().await?;
    let buckets: String = names
        .iter()
        .map(|n| format!("<Bucket><Name>{}</Name><CreationDate>{}</CreationDate></Bucket>", esc(n), format_millis(0)))
        .collect();
    Ok(xml(
        StatusCode::OK,
        format!(
            "<ListAllMyBucketsResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Owner><ID>sfnlite</ID><DisplayName>sfnlite</DisplayName></Owner><Buckets>{buckets}</Buckets></ListAllMyBucketsResult>"
        ),
    ))
}

async fn list_objects(
    store: &Arc<dyn ObjectStore>,
    bucket: &str,
    params: &BTreeMap<String, String>,
) -> Result<S3Answer, S3Error> {
    let max_keys = match params.get("max-keys") {
        None => 1000,
        Some(n) => {
            n.parse::<usize>().map_err(|_| S3Error::new("InvalidArgument", 400, "max-keys must be an integer"))?
        }
    };
    let request = ListRequest {
        bucket: bucket.to_owned(),
        prefix: params.get("prefix").cloned().unwrap_or_default(),
        delimiter: params.get("delimiter").cloned().filter(|d| !d.is_empty()),
        max_keys: max_keys.clamp(1, 1000),
        continuation_token: params.get("continuation-token").cloned(),
        // ListObjects (V1) pages by `marker`: the key to start after.
        start_after: params.get("start-after").or_else(|| params.get("marker")).cloned(),
    };
    let v1 = params.get("list-type").is_none_or(|t| t != "2");
    let page = if max_keys == 0 { Default::default() } else { store.list_objects(request.clone()).await? };
    let url = params.get("encoding-type").is_some_and(|e| e == "url");
    let name = |text: &str| if url { percent_encode(text) } else { esc(text) };
    let mut out = format!(
        "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>{}</Name><Prefix>{}</Prefix><KeyCount>{}</KeyCount><MaxKeys>{max_keys}</MaxKeys><IsTruncated>{}</IsTruncated>",
        esc(bucket),
        name(&request.prefix),
        page.contents.len() + page.common_prefixes.len(),
        page.next_continuation_token.is_some()
    );
    if let Some(delimiter) = &request.delimiter {
        out += &format!("<Delimiter>{}</Delimiter>", name(delimiter));
    }
    if url {
        out += "<EncodingType>url</EncodingType>";
    }
    for object in &page.contents {
        out += &format!(
            "<Contents><Key>{}</Key><LastModified>{}</LastModified><ETag>{}</ETag><Size>{}</Size><StorageClass>STANDARD</StorageClass></Contents>",
            name(&object.key),
            format_millis(object.last_modified),
            esc(&object.etag),
            object.size
        );
    }
    for prefix in &page.common_prefixes {
        out += &format!("<CommonPrefixes><Prefix>{}</Prefix></CommonPrefixes>", name(prefix));
    }
    if v1 {
        out += &format!("<Marker>{}</Marker>", name(params.get("marker").map_or("", String::as_str)));
        let last = page.contents.iter().map(|o| &o.key).chain(page.common_prefixes.iter()).max();
        if let (Some(last), true) = (last, page.next_continuation_token.is_some()) {
            out += &format!("<NextMarker>{}</NextMarker>", name(last));
        }
    } else {
        if let Some(token) = &request.continuation_token {
            out += &format!("<ContinuationToken>{}</ContinuationToken>", esc(token));
        }
        if let Some(token) = &page.next_continuation_token {
            out += &format!("<NextContinuationToken>{}</NextContinuationToken>", esc(token));
        }
        if let Some(after) = &request.start_after {
            out += &format!("<StartAfter>{}</StartAfter>", name(after));
        }
    }
    out += "</ListBucketResult>";
    Ok(xml(StatusCode::OK, out))
}

async fn get_object(
    store: &Arc<dyn ObjectStore>,
    bucket: &str,
    key: &str,
    headers: &HeaderMap,
) -> Result<S3Answer, S3Error> {
    let (bytes, meta) = store.get_object(bucket, key).await?;
    let mut answer = S3Answer { status: StatusCode::OK, headers: meta_headers(&meta), body: Bytes::from(bytes) };
    // A malformed or multi-part Range is ignored, as S3 does; one past the end is refused.
    let spec = headers.get("range").and_then(|r| r.to_str().ok()).filter(|s| well_formed_range(s));
    if let Some(spec) = spec {
        let size = answer.body.len();
        let Some((start, end)) = range(spec, size) else {
            return Err(S3Error::new("InvalidRange", 416, "The requested range is not satisfiable"));
        };
        answer.body = answer.body.slice(start..=end);
        answer.status = StatusCode::PARTIAL_CONTENT;
        answer.headers.push(("content-range".into(), format!("bytes {start}-{end}/{size}")));
    }
    Ok(answer)
}

async fn put_object(
    store: &Arc<dyn ObjectStore>,
    bucket: &str,
    key: &str,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<S3Answer, S3Error> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    if let Some(source) = header("x-amz-copy-source") {
        let source = percent_decode(source.split('?').next().unwrap_or_default().trim_start_matches('/'));
        let (source_bucket, source_key) = source
            .split_once('/')
            .ok_or_else(|| S3Error::new("InvalidArgument", 400, "x-amz-copy-source must be bucket/key"))?;
        let meta = store.copy_object(source_bucket, source_key, bucket, key).await?;
        return Ok(xml(
            StatusCode::OK,
            format!(
                "<CopyObjectResult><LastModified>{}</LastModified><ETag>{}</ETag></CopyObjectResult>",
                format_millis(meta.last_modified),
                esc(&meta.etag)
            ),
        ));
    }
    let body = body_of(headers, body)?;
    let metadata = user_metadata(headers);
    let meta = store
        .put_object(PutRequest {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            body,
            content_type: header("content-type"),
            metadata,
        })
        .await?;
    let mut answer = empty(StatusCode::OK);
    answer.headers.push(("etag".into(), meta.etag));
    Ok(answer)
}

async fn delete_objects(store: &Arc<dyn ObjectStore>, bucket: &str, body: &[u8]) -> Result<S3Answer, S3Error> {
    let text = String::from_utf8_lossy(body);
    let mut deleted = String::new();
    for part in text.split("<Key>").skip(1) {
        let key = part.split("</Key>").next().unwrap_or_default();
        let key = key.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&amp;", "&");
        match store.delete_object(bucket, &key).await {
            Ok(()) => deleted += &format!("<Deleted><Key>{}</Key></Deleted>", esc(&key)),
            Err(e) => {
                deleted += &format!(
                    "<Error><Key>{}</Key><Code>{}</Code><Message>{}</Message></Error>",
                    esc(&key),
                    esc(&e.code),
                    esc(&e.message)
                )
            }
        }
    }
    Ok(xml(
        StatusCode::OK,
        format!("<DeleteResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">{deleted}</DeleteResult>"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_chunks_and_dates() {
        assert_eq!(range("bytes=0-3", 10), Some((0, 3)));
        assert_eq!(range("bytes=7-", 10), Some((7, 9)));
        assert_eq!(range("bytes=-2", 10), Some((8, 9)));
        assert_eq!(range("bytes=12-", 10), None);
        assert_eq!(dechunk(b"5\r\nhello\r\n0\r\nx-amz-checksum-crc32:abc\r\n\r\n").as_deref(), Some(&b"hello"[..]));
        assert_eq!(
            dechunk(b"5;chunk-signature=ab\r\nhello\r\n0;chunk-signature=cd\r\n\r\n").as_deref(),
            Some(&b"hello"[..])
        );
        assert_eq!(format_http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(percent_decode("a%20b%2Fc"), "a b/c");
        assert_eq!(percent_encode("a b/c"), "a%20b/c");
    }
}
