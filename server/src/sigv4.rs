//! AWS Signature Version 4, both ways: `serve --require-auth` checks that a request was
//! signed with one of the configured secret keys (an `Authorization` header, or a
//! presigned URL's `X-Amz-*` query parameters), and sfnlite's own clients (the CLI going
//! through a running server, Lambda handlers) sign with the server's internal key.
//!
//! The rules are AWS's ("Create a signed AWS API request", "Authenticating requests:
//! using query parameters"): the canonical request (method, URI, sorted query, signed
//! headers with trimmed values, payload hash), the string to sign with the credential
//! scope, and the signing key derived by HMAC-SHA256 from `AWS4<secret>`, the date, the
//! region, the service and `aws4_request`. A header-signed request more than 15 minutes
//! from the server's clock is refused (`RequestTimeTooSkewed`), a presigned URL after its
//! `X-Amz-Expires`. Streaming uploads (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD`) are checked
//! by their seed signature; the chunk signatures are not checked.

use std::collections::HashMap;

use sfnlite_adapters::s3::{hex, percent_decode as decode, uri_encode as encode};
use sha2::{Digest, Sha256};

/// The longest a signed request may be from the server's clock.
const MAX_SKEW_SECONDS: i64 = 15 * 60;

/// Why a request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthFailure {
    /// No signature at all.
    Missing,
    /// The access key is not configured.
    UnknownKey(String),
    /// The signature does not match.
    BadSignature,
    /// The request's date is too far from now.
    Skewed,
    /// A presigned URL past its expiry.
    Expired,
    /// The signature's fields cannot be read, or do not cover what they must.
    Malformed(String),
    /// `x-amz-content-sha256` is not the body's hash.
    PayloadMismatch,
}

impl AuthFailure {
    /// The error code and message of the JSON services (Step Functions, Athena).
    pub fn json_error(&self) -> (&'static str, String) {
        match self {
            AuthFailure::Missing => ("MissingAuthenticationTokenException", "Missing Authentication Token".into()),
            AuthFailure::UnknownKey(_) => {
                ("UnrecognizedClientException", "The security token included in the request is invalid.".into())
            }
            AuthFailure::BadSignature => (
                "InvalidSignatureException",
                "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.".into(),
            ),
            AuthFailure::Skewed => ("InvalidSignatureException", "Signature expired: the request time is more than 15 minutes from the server time".into()),
            AuthFailure::Expired => ("InvalidSignatureException", "Signature expired".into()),
            AuthFailure::Malformed(detail) => ("IncompleteSignatureException", detail.clone()),
            AuthFailure::PayloadMismatch => (
                "InvalidSignatureException",
                "The provided 'x-amz-content-sha256' header does not match what was computed.".into(),
            ),
        }
    }

    /// S3's error code and message.
    pub fn s3_error(&self) -> (&'static str, String) {
        match self {
            AuthFailure::Missing => ("AccessDenied", "Access Denied".into()),
            AuthFailure::UnknownKey(_) => {
                ("InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.".into())
            }
            AuthFailure::BadSignature => (
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided. Check your key and signing method.".into(),
            ),
            AuthFailure::Skewed => {
                ("RequestTimeTooSkewed", "The difference between the request time and the current time is too large.".into())
            }
            AuthFailure::Expired => ("AccessDenied", "Request has expired".into()),
            AuthFailure::Malformed(detail) => ("AuthorizationQueryParametersError", detail.clone()),
            AuthFailure::PayloadMismatch => (
                "XAmzContentSHA256Mismatch",
                "The provided 'x-amz-content-sha256' header does not match what was computed.".into(),
            ),
        }
    }
}

/// The parts of a request a signature covers.
pub struct Signed<'a> {
    /// `GET`, `POST`…
    pub method: &'a str,
    /// The path as sent (percent-encoded).
    pub path: &'a str,
    /// The query string as sent, without `?`.
    pub query: &'a str,
    /// The headers (any case).
    pub headers: &'a [(String, String)],
    /// The body.
    pub body: &'a [u8],
}

/// The access keys a server accepts: access key id → secret access key.
#[derive(Debug, Clone, Default)]
pub struct Keys(pub HashMap<String, String>);

/// The longest a presigned URL may live (AWS: 7 days).
const MAX_EXPIRES_SECONDS: i64 = 604_800;

/// Headers a client may send unsigned (the SDKs leave them out of signatures).
const UNSIGNED_ALLOWED: &[&str] = &["x-amz-user-agent", "x-amzn-trace-id"];

/// The `x-amz-*` headers a signature must cover, and `host`: a header left unsigned could be
/// added to a captured request (`x-amz-target` turns an S3 URL into an API call,
/// `x-amz-copy-source` a PutObject into a copy).
fn check_signed_headers(request: &Signed<'_>, signed: &[String]) -> Result<(), AuthFailure> {
    let is_signed = |name: &str| signed.iter().any(|s| s.eq_ignore_ascii_case(name));
    if !is_signed("host") {
        return Err(AuthFailure::Malformed("the signature must cover the host header".into()));
    }
    for (name, _) in request.headers {
        let lower = name.to_ascii_lowercase();
        if lower.starts_with("x-amz-") && !UNSIGNED_ALLOWED.contains(&lower.as_str()) && !is_signed(&lower) {
            return Err(AuthFailure::Malformed(format!(
                "There were headers present in the request which were not signed: {lower}"
            )));
        }
    }
    Ok(())
}

/// The credential scope's service must be the one the request is for.
fn check_service(scope: &str, service: &str) -> Result<(), AuthFailure> {
    match scope.split('/').nth(2) {
        Some(signed) if signed == service => Ok(()),
        other => Err(AuthFailure::Malformed(format!(
            "Credential should be scoped to correct service: '{service}', not '{}'",
            other.unwrap_or_default()
        ))),
    }
}

impl Keys {
    /// Checks a request's signature at `now` (epoch seconds) for `service` (`states`,
    /// `athena`, `s3`). Query-string signatures (presigned URLs) are S3's only; so are
    /// unsigned and streaming payloads.
    pub fn verify(&self, request: &Signed<'_>, service: &str, now: i64) -> Result<(), AuthFailure> {
        let header =
            |name: &str| request.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str());
        let params = parse_query(request.query);
        let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        if let Some(authorization) = header("authorization") {
            let fields = authorization_fields(authorization)?;
            let date = header("x-amz-date").ok_or_else(|| AuthFailure::Malformed("x-amz-date is missing".into()))?;
            if (epoch_seconds(date)? - now).abs() > MAX_SKEW_SECONDS {
                return Err(AuthFailure::Skewed);
            }
            let secret = self.0.get(fields.key).ok_or_else(|| AuthFailure::UnknownKey(fields.key.into()))?;
            check_service(fields.scope, service)?;
            check_signed_headers(request, &fields.signed_headers)?;
            let actual = hex(&Sha256::digest(request.body));
            let payload = match header("x-amz-content-sha256") {
                Some(hash) if hash == actual => hash.to_owned(),
                Some(hash) if service == "s3" && (hash == "UNSIGNED-PAYLOAD" || hash.starts_with("STREAMING-")) => {
                    hash.to_owned()
                }
                Some(_) => return Err(AuthFailure::PayloadMismatch),
                None => actual,
            };
            let canonical = canonical_request(request, &fields.signed_headers, &payload, None)?;
            let expected = signature(secret, date, fields.scope, &canonical)?;
            return if constant_time_eq(&expected, fields.signature) { Ok(()) } else { Err(AuthFailure::BadSignature) };
        }
        if service != "s3" && (param("X-Amz-Algorithm").is_some() || param("Signature").is_some()) {
            return Err(AuthFailure::Malformed("only S3 accepts query-string (presigned) signatures".into()));
        }
        if param("X-Amz-Algorithm").is_some() {
            let missing = |name: &str| AuthFailure::Malformed(format!("Query-string authentication requires {name}"));
            let credential = param("X-Amz-Credential").ok_or_else(|| missing("X-Amz-Credential"))?;
            let date = param("X-Amz-Date").ok_or_else(|| missing("X-Amz-Date"))?;
            let expires: i64 =
                param("X-Amz-Expires").and_then(|e| e.parse().ok()).ok_or_else(|| missing("X-Amz-Expires"))?;
            let signed: Vec<String> = param("X-Amz-SignedHeaders")
                .ok_or_else(|| missing("X-Amz-SignedHeaders"))?
                .split(';')
                .map(str::to_owned)
                .collect();
            let given = param("X-Amz-Signature").ok_or_else(|| missing("X-Amz-Signature"))?;
            let (key, scope) = credential.split_once('/').ok_or_else(|| missing("a valid X-Amz-Credential"))?;
            if !(1..=MAX_EXPIRES_SECONDS).contains(&expires) {
                return Err(AuthFailure::Malformed(format!(
                    "X-Amz-Expires must be between 1 and {MAX_EXPIRES_SECONDS} seconds, not {expires}"
                )));
            }
            let start = epoch_seconds(date)?;
            if now > start.saturating_add(expires) || start.saturating_sub(now) > MAX_SKEW_SECONDS {
                return Err(AuthFailure::Expired);
            }
            let secret = self.0.get(key).ok_or_else(|| AuthFailure::UnknownKey(key.into()))?;
            check_service(scope, service)?;
            check_signed_headers(request, &signed)?;
            let canonical = canonical_request(request, &signed, "UNSIGNED-PAYLOAD", Some("X-Amz-Signature"))?;
            let expected = signature(secret, date, scope, &canonical)?;
            return if constant_time_eq(&expected, given) { Ok(()) } else { Err(AuthFailure::BadSignature) };
        }
        if let (Some(key), Some(given), Some(expires)) = (param("AWSAccessKeyId"), param("Signature"), param("Expires"))
        {
            return verify_v2_query(self, request, key, given, expires, now);
        }
        Err(AuthFailure::Missing)
    }
}

/// S3's older presigned URLs (Signature Version 2, which botocore still makes by default
/// for `generate_presigned_url`): HMAC-SHA1 of the verb, Content-MD5, Content-Type,
/// `Expires`, the `x-amz-*` headers and the resource (`/bucket/key` and its subresources).
fn verify_v2_query(
    keys: &Keys,
    request: &Signed<'_>,
    key: &str,
    given: &str,
    expires: &str,
    now: i64,
) -> Result<(), AuthFailure> {
    let expires: i64 =
        expires.parse().map_err(|_| AuthFailure::Malformed(format!("Expires '{expires}' is not a number")))?;
    if now > expires {
        return Err(AuthFailure::Expired);
    }
    let secret = keys.0.get(key).ok_or_else(|| AuthFailure::UnknownKey(key.into()))?;
    let header =
        |name: &str| request.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map_or("", |(_, v)| v.as_str());
    let mut amz: Vec<(String, String)> = request
        .headers
        .iter()
        .filter(|(n, _)| n.to_ascii_lowercase().starts_with("x-amz-"))
        .map(|(n, v)| (n.to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    amz.sort();
    let amz: String = amz.iter().map(|(n, v)| format!("{n}:{v}\n")).collect();
    // A virtual-hosted bucket (`bucket.localhost`) is part of the resource.
    let host = header("host");
    let bucket = host.split(':').next().and_then(|h| h.strip_suffix(".localhost")).filter(|b| !b.is_empty());
    let mut resource = match bucket {
        Some(bucket) => format!("/{bucket}{}", request.path),
        None => request.path.to_owned(),
    };
    const SUBRESOURCES: &[&str] = &["acl", "partNumber", "tagging", "uploadId", "uploads", "versionId", "versioning"];
    let mut subresources: Vec<(String, String)> = parse_query(request.query)
        .into_iter()
        .filter(|(k, _)| SUBRESOURCES.contains(&k.as_str()) || k.starts_with("response-"))
        .collect();
    subresources.sort();
    for (i, (k, v)) in subresources.iter().enumerate() {
        resource.push(if i == 0 { '?' } else { '&' });
        resource.push_str(k);
        if !v.is_empty() {
            resource.push('=');
            resource.push_str(v);
        }
    }
    let to_sign = format!(
        "{}\n{}\n{}\n{expires}\n{amz}{resource}",
        request.method,
        header("content-md5"),
        header("content-type")
    );
    let expected = sfnlite_states::base64::encode(&hmac::<sha1::Sha1>(secret.as_bytes(), to_sign.as_bytes()));
    if constant_time_eq(&expected, given) { Ok(()) } else { Err(AuthFailure::BadSignature) }
}

/// What an `Authorization: AWS4-HMAC-SHA256 …` header says.
struct AuthorizationFields<'a> {
    key: &'a str,
    scope: &'a str,
    signed_headers: Vec<String>,
    signature: &'a str,
}

fn authorization_fields(header: &str) -> Result<AuthorizationFields<'_>, AuthFailure> {
    let rest = header
        .strip_prefix("AWS4-HMAC-SHA256")
        .ok_or_else(|| AuthFailure::Malformed("only AWS4-HMAC-SHA256 signatures are accepted".into()))?;
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        match part.trim().split_once('=') {
            Some(("Credential", v)) => credential = Some(v),
            Some(("SignedHeaders", v)) => signed = Some(v),
            Some(("Signature", v)) => signature = Some(v),
            _ => {}
        }
    }
    let incomplete = || {
        AuthFailure::Malformed(format!(
            "Authorization header requires Credential, SignedHeaders and Signature: {header}"
        ))
    };
    let credential = credential.ok_or_else(incomplete)?;
    let (key, scope) = credential.split_once('/').ok_or_else(incomplete)?;
    Ok(AuthorizationFields {
        key,
        scope,
        signed_headers: signed.ok_or_else(incomplete)?.split(';').map(str::to_owned).collect(),
        signature: signature.ok_or_else(incomplete)?,
    })
}

/// The canonical request: method, URI, query (without `skip`), signed headers, payload hash.
fn canonical_request(
    request: &Signed<'_>,
    signed_headers: &[String],
    payload: &str,
    skip: Option<&str>,
) -> Result<String, AuthFailure> {
    let path = if request.path.is_empty() {
        "/".to_owned()
    } else {
        request.path.split('/').map(|s| encode(&decode(s))).collect::<Vec<_>>().join("/")
    };
    let mut query: Vec<(String, String)> = parse_query(request.query)
        .into_iter()
        .filter(|(k, _)| Some(k.as_str()) != skip)
        .map(|(k, v)| (encode(&k), encode(&v)))
        .collect();
    query.sort();
    let query = query.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
    let mut headers = String::new();
    for name in signed_headers {
        let values: Vec<String> = request
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        if values.is_empty() {
            return Err(AuthFailure::Malformed(format!("the signed header '{name}' is missing")));
        }
        headers.push_str(&format!("{}:{}\n", name.to_ascii_lowercase(), values.join(",")));
    }
    Ok(format!("{}\n{path}\n{query}\n{headers}\n{}\n{payload}", request.method, signed_headers.join(";")))
}

/// The signature of a canonical request.
fn signature(secret: &str, date: &str, scope: &str, canonical: &str) -> Result<String, AuthFailure> {
    let mut parts = scope.split('/');
    let (Some(day), Some(region), Some(service), Some("aws4_request"), None) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AuthFailure::Malformed(format!(
            "the credential scope '{scope}' is not <date>/<region>/<service>/aws4_request"
        )));
    };
    let to_sign = format!("AWS4-HMAC-SHA256\n{date}\n{scope}\n{}", hex(&Sha256::digest(canonical.as_bytes())));
    let key = signing_key(secret, day, region, service);
    Ok(hex(&hmac_sha256(&key, to_sign.as_bytes())))
}

/// `AWS4<secret>` → date → region → service → `aws4_request`.
fn signing_key(secret: &str, day: &str, region: &str, service: &str) -> Vec<u8> {
    let date_key = hmac_sha256(format!("AWS4{secret}").as_bytes(), day.as_bytes());
    let region_key = hmac_sha256(&date_key, region.as_bytes());
    let service_key = hmac_sha256(&region_key, service.as_bytes());
    hmac_sha256(&service_key, b"aws4_request")
}

/// Signs a request with the `Authorization` header (what sfnlite's own clients send):
/// the headers to add (`x-amz-date`, `authorization`). `headers` must hold `host`.
pub fn sign(
    key: &str,
    secret: &str,
    region: &str,
    service: &str,
    request: &Signed<'_>,
    now: i64,
) -> Vec<(String, String)> {
    let date = amz_date(now);
    let mut headers = request.headers.to_vec();
    headers.push(("x-amz-date".into(), date.clone()));
    let mut names: Vec<String> = headers.iter().map(|(n, _)| n.to_ascii_lowercase()).collect();
    names.sort();
    names.dedup();
    let scope = format!("{}/{region}/{service}/aws4_request", &date[..8]);
    let with_date = Signed { headers: &headers, ..*request };
    let payload = hex(&Sha256::digest(request.body));
    let canonical = canonical_request(&with_date, &names, &payload, None).unwrap_or_default();
    let signature = signature(secret, &date, &scope, &canonical).unwrap_or_default();
    vec![
        ("x-amz-date".into(), date),
        (
            "authorization".into(),
            format!(
                "AWS4-HMAC-SHA256 Credential={key}/{scope}, SignedHeaders={}, Signature={signature}",
                names.join(";")
            ),
        ),
    ]
}

/// `YYYYMMDDTHHMMSSZ` of epoch seconds.
fn amz_date(now: i64) -> String {
    let text = sfnlite_states::timestamp::format_millis(now * 1000); // 2024-01-02T03:04:05.000Z
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    format!("{}T{}Z", &digits[..8], &digits[8..14])
}

/// Epoch seconds of `YYYYMMDDTHHMMSSZ`.
fn epoch_seconds(date: &str) -> Result<i64, AuthFailure> {
    let bad = || AuthFailure::Malformed(format!("'{date}' is not a date in the form YYYYMMDDTHHMMSSZ"));
    if date.len() != 16 || date.as_bytes()[8] != b'T' || !date.ends_with('Z') {
        return Err(bad());
    }
    let number = |range: std::ops::Range<usize>| date.get(range).and_then(|t| t.parse::<i64>().ok()).ok_or_else(bad);
    let days = sfnlite_states::timestamp::days_from_civil(number(0..4)?, number(4..6)?, number(6..8)?);
    Ok(days * 86_400 + number(9..11)? * 3600 + number(11..13)? * 60 + number(13..15)?)
}

/// HMAC (RFC 2104) over a hash with 64-byte blocks (SHA-1, SHA-256).
fn hmac<D: Digest>(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        let digest = D::digest(key);
        block[..digest.len()].copy_from_slice(&digest);
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut inner = D::new();
    inner.update(block.map(|b| b ^ 0x36));
    inner.update(data);
    let mut outer = D::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().to_vec()
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    hmac::<Sha256>(key, data)
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `k=v` pairs of a query string, percent-decoded (`+` is a literal plus, as AWS signs it).
fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(pair), String::new()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS's published example (the "GET https://iam.amazonaws.com/?Action=ListUsers"
    /// request of the Signature Version 4 documentation's test suite).
    #[test]
    fn the_documented_example_signs_as_aws_says() {
        let headers = vec![
            ("Host".to_owned(), "iam.amazonaws.com".to_owned()),
            ("Content-Type".to_owned(), "application/x-www-form-urlencoded; charset=utf-8".to_owned()),
            ("X-Amz-Date".to_owned(), "20150830T123600Z".to_owned()),
        ];
        let request = Signed {
            method: "GET",
            path: "/",
            query: "Action=ListUsers&Version=2010-05-08",
            headers: &headers,
            body: b"",
        };
        let names = ["content-type", "host", "x-amz-date"].map(str::to_owned);
        let canonical = canonical_request(&request, &names, &hex(&Sha256::digest(b"")), None).unwrap();
        assert_eq!(
            hex(&Sha256::digest(canonical.as_bytes())),
            "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59"
        );
        let signature = signature(
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "20150830T123600Z",
            "20150830/us-east-1/iam/aws4_request",
            &canonical,
        )
        .unwrap();
        assert_eq!(signature, "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7");
    }

    #[test]
    fn signed_requests_verify_and_changed_ones_do_not() {
        let keys = Keys(HashMap::from([("AKID".to_owned(), "secret".to_owned())]));
        let headers = vec![("host".to_owned(), "127.0.0.1:8083".to_owned())];
        let body = br#"{"a":1}"#;
        let request = Signed { method: "POST", path: "/", query: "", headers: &headers, body };
        let now = 1_700_000_000;
        let mut all = headers.clone();
        all.extend(sign("AKID", "secret", "us-east-1", "states", &request, now));
        let signed = Signed { headers: &all, ..request };
        assert_eq!(keys.verify(&signed, "states", now + 60), Ok(()));
        assert_eq!(keys.verify(&signed, "states", now + 16 * 60), Err(AuthFailure::Skewed));
        assert_eq!(keys.verify(&Signed { body: b"{}", ..signed }, "states", now), Err(AuthFailure::BadSignature));
        let other = Keys(HashMap::from([("AKID".to_owned(), "other".to_owned())]));
        assert_eq!(other.verify(&signed, "states", now), Err(AuthFailure::BadSignature));
        assert_eq!(Keys::default().verify(&signed, "states", now), Err(AuthFailure::UnknownKey("AKID".into())));
        assert_eq!(keys.verify(&request, "states", now), Err(AuthFailure::Missing));
        assert!(matches!(keys.verify(&signed, "s3", now), Err(AuthFailure::Malformed(_))), "scoped to states");
        // A header added to a captured request is refused.
        let mut added = all.clone();
        added.push(("x-amz-target".into(), "AWSStepFunctions.DeleteStateMachine".into()));
        assert!(matches!(
            keys.verify(&Signed { headers: &added, ..request }, "states", now),
            Err(AuthFailure::Malformed(_))
        ));
    }
}
