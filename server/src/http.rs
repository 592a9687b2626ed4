//! The HTTP side: accept connections, read a request (bounded), route it by
//! `X-Amz-Target`, answer in awsJson1_0 with AWS's error shape, log one line.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;

use sfnlite_adapters::athena::AthenaApi;
use sfnlite_adapters::s3::ObjectStore;

use crate::sfn::Api;
use crate::sfn::error::ApiError;

/// Bounds on what a request may carry.
#[derive(Debug, Clone, Copy)]
pub struct ServerLimits {
    /// The largest API request body, in bytes (a definition is at most 1 MiB, an input 256 KiB).
    pub max_body: usize,
    /// The largest S3 object a PutObject may carry, in bytes.
    pub max_object: usize,
    /// Accept any `Host` (a server bound to a non-loopback address). Otherwise only
    /// loopback names and addresses are served, so that a web page cannot reach the
    /// server through a DNS name rebound to 127.0.0.1.
    pub any_host: bool,
}

impl Default for ServerLimits {
    fn default() -> ServerLimits {
        ServerLimits { max_body: 2 * 1024 * 1024, max_object: 256 * 1024 * 1024, any_host: false }
    }
}

/// A bound server.
pub struct Server {
    listener: TcpListener,
    services: Arc<Services>,
    limits: ServerLimits,
    requests: Arc<AtomicU64>,
}

/// What the server answers for: the Step Functions API, and the Athena and S3 APIs when given.
pub struct Services {
    /// The Step Functions API.
    pub sfn: Arc<Api>,
    /// The Athena behind the Athena API.
    pub athena: Option<Arc<dyn AthenaApi>>,
    /// The object store behind the S3 API.
    pub s3: Option<Arc<dyn ObjectStore>>,
    /// sfnlite's own commands that read the store, for another sfnlite process while this
    /// one holds the store (`X-Amz-Target: Sfnlite.ReadStore`).
    pub reader: Option<Arc<dyn StoreReader>>,
    /// With `--require-auth`: the access keys whose SigV4 signatures are accepted.
    pub keys: Option<Arc<crate::sigv4::Keys>>,
}

/// Runs a reading command (`executions list`, `describe`, `history`, `logs`) given as
/// sfnlite's arguments, against this process's store: `{"stdout", "stderr", "exitCode"}`.
pub trait StoreReader: Send + Sync {
    /// The command's output.
    fn read(&self, argv: &[String]) -> Value;
}

impl Server {
    /// Binds `address` (port 0: any free port).
    pub async fn bind(address: SocketAddr, services: Services, limits: ServerLimits) -> std::io::Result<Server> {
        let listener = TcpListener::bind(address).await?;
        let services = Arc::new(services);
        Ok(Server { listener, services, limits, requests: Arc::default() })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes; connections in flight finish their request.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> std::io::Result<()> {
        tokio::pin!(shutdown);
        loop {
            let (stream, peer) = tokio::select! {
                () = &mut shutdown => return Ok(()),
                accepted = self.listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        tracing::warn!("accept failed: {e}");
                        continue;
                    }
                },
            };
            let (api, limits, requests) = (self.services.clone(), self.limits, self.requests.clone());
            tokio::spawn(async move {
                let service = service_fn(move |request| {
                    let (api, requests) = (api.clone(), requests.clone());
                    async move { Ok::<_, Infallible>(answer(&api, request, limits, &requests).await) }
                });
                if let Err(e) = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await {
                    tracing::debug!(%peer, "connection ended: {e}");
                }
            });
        }
    }
}

/// `localhost`, `*.localhost` (virtual-host S3 buckets, `sync-` prefixes), a loopback
/// address, or no Host at all (HTTP/1.0 clients), with or without a port.
fn loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    let name = name.to_ascii_lowercase();
    let name = name.strip_prefix("sync-").unwrap_or(&name);
    name.is_empty()
        || name == "localhost"
        || name.ends_with(".localhost")
        || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// What a signature covers, of a request.
fn signed<'a>(parts: &'a hyper::http::request::Parts, body: &'a [u8]) -> OwnedSigned<'a> {
    let headers = parts
        .headers
        .iter()
        .filter_map(|(name, value)| Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned())))
        .collect();
    OwnedSigned { parts, headers, body }
}

/// A request's signed parts, with its headers as text.
struct OwnedSigned<'a> {
    parts: &'a hyper::http::request::Parts,
    headers: Vec<(String, String)>,
    body: &'a [u8],
}

impl OwnedSigned<'_> {
    fn view(&self) -> crate::sigv4::Signed<'_> {
        crate::sigv4::Signed {
            method: self.parts.method.as_str(),
            path: self.parts.uri.path(),
            query: self.parts.uri.query().unwrap_or_default(),
            headers: &self.headers,
            body: self.body,
        }
    }
}

/// The signing name of the service an `X-Amz-Target` is for.
fn service_of(target: &str) -> &'static str {
    if target.starts_with("AmazonAthena.") { "athena" } else { "states" }
}

fn now_seconds() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// The request id sent back (`x-amzn-RequestId`): unique within the server's life.
fn request_id(n: u64) -> String {
    format!("00000000-0000-4000-8000-{n:012x}")
}

async fn answer(
    services: &Services,
    request: Request<Incoming>,
    limits: ServerLimits,
    requests: &AtomicU64,
) -> Response<Full<Bytes>> {
    let started = Instant::now();
    let id = request_id(requests.fetch_add(1, Ordering::Relaxed) + 1);
    let target = request.headers().get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let host = request.headers().get("host").and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !limits.any_host && !loopback_host(host) {
        let error = ApiError::new("AccessDeniedException", format!("sfnlite serves loopback hosts only, not '{host}'"));
        return Response::builder()
            .status(StatusCode::FORBIDDEN)
            .header("content-type", "application/x-amz-json-1.0")
            .body(Full::new(Bytes::from(error.body().to_string())))
            .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())));
    }
    if target.is_empty() && crate::console::is_console_request(&request) {
        let response = crate::console::answer(services, &request).await;
        tracing::info!(path = request.uri().path(), status = response.status().as_u16(),
            ms = started.elapsed().as_millis() as u64, request_id = %id, "console page");
        return response;
    }
    if target.is_empty()
        && let Some(s3) = &services.s3
    {
        return s3_answer(s3, request, limits, services.keys.as_deref(), started, &id).await;
    }
    let (parts, body) = request.into_parts();
    let body = match Limited::new(body, limits.max_body).collect().await {
        Ok(body) => Ok(body.to_bytes()),
        Err(_) => Err(ApiError::validation(format!(
            "The request body is larger than {} bytes or could not be read",
            limits.max_body
        ))),
    };
    let body = match (body, &services.keys) {
        (Ok(body), Some(keys)) => {
            match keys.verify(&signed(&parts, &body).view(), service_of(&target), now_seconds()) {
                Ok(()) => Ok(body),
                Err(failure) => {
                    let (name, message) = failure.json_error();
                    Err(ApiError::new(name, message))
                }
            }
        }
        (body, _) => body,
    };
    let (status, body, content_type) = match (body, target.split_once('.')) {
        (Err(error), _) => (error.status, error.body(), "application/x-amz-json-1.0"),
        (Ok(body), Some(("AWSStepFunctions", operation))) => match services.sfn.call(operation, &body).await {
            Ok(value) => (200, value, "application/x-amz-json-1.0"),
            Err(error) => (error.status, error.body(), "application/x-amz-json-1.0"),
        },
        (Ok(body), Some(("Sfnlite", "ReadStore"))) if services.reader.is_some() => {
            let reader = services.reader.as_ref().expect("checked by the guard");
            let argv: Option<Vec<String>> = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| serde_json::from_value(v["argv"].clone()).ok());
            match argv {
                Some(argv) => (200, reader.read(&argv), "application/x-amz-json-1.0"),
                None => {
                    let error = ApiError::serialization("expected {\"argv\": [strings]}");
                    (error.status, error.body(), "application/x-amz-json-1.0")
                }
            }
        }
        (Ok(body), Some(("AmazonAthena", operation))) if services.athena.is_some() => {
            let athena = services.athena.as_ref().expect("checked by the guard");
            let (status, value) = crate::athena::call(athena, operation, &body).await;
            (status, value, "application/x-amz-json-1.1")
        }
        _ => {
            let error = ApiError::new(
                "UnknownOperationException",
                format!(
                    "sfnlite serves AWSStepFunctions.* and AmazonAthena.* requests; the target '{target}' is not one"
                ),
            );
            (error.status, error.body(), "application/x-amz-json-1.0")
        }
    };
    let operation = target.as_str();
    let error = body.get("__type").and_then(Value::as_str).unwrap_or("");
    tracing::info!(operation, status, error, ms = started.elapsed().as_millis() as u64, request_id = %id, "request");
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST))
        .header("content-type", content_type)
        .header("x-amzn-requestid", id)
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::from_static(b"{}"))))
}

/// An S3 REST request (no `X-Amz-Target`): its body bounded by the object size limit.
async fn s3_answer(
    s3: &Arc<dyn ObjectStore>,
    request: Request<Incoming>,
    limits: ServerLimits,
    keys: Option<&crate::sigv4::Keys>,
    started: Instant,
    id: &str,
) -> Response<Full<Bytes>> {
    let (parts, body) = request.into_parts();
    // A browser page must not reach the local S3: its requests carry `Origin` (the JSON
    // APIs are safe from them, their X-Amz-Target header needs a preflight nobody answers).
    let answer = if parts.headers.contains_key("origin") {
        crate::s3::forbidden("requests from web pages (with an Origin header) are refused")
    } else {
        match Limited::new(body, limits.max_object).collect().await {
            Ok(body) => {
                let body = body.to_bytes();
                match keys.map(|keys| keys.verify(&signed(&parts, &body).view(), "s3", now_seconds())) {
                    Some(Err(failure)) => crate::s3::refused(&failure),
                    _ => {
                        let (method, uri, headers) = (&parts.method, &parts.uri, &parts.headers);
                        crate::s3::call(s3, limits.max_object, method, uri, headers, body).await
                    }
                }
            }
            Err(_) => crate::s3::too_large(limits.max_object),
        }
    };
    tracing::info!(method = %parts.method, path = parts.uri.path(), status = answer.status.as_u16(),
        ms = started.elapsed().as_millis() as u64, request_id = %id, "s3 request");
    let mut response = Response::builder().status(answer.status).header("x-amz-request-id", id);
    let mut missing = 0;
    for (name, value) in &answer.headers {
        // Stored metadata that is no valid header value is left out, as S3 counts it.
        match (hyper::header::HeaderName::from_bytes(name.as_bytes()), hyper::header::HeaderValue::from_str(value)) {
            (Ok(name), Ok(value)) => response = response.header(name, value),
            _ => missing += 1,
        }
    }
    if missing > 0 {
        response = response.header("x-amz-missing-meta", missing.to_string());
    }
    response.body(Full::new(answer.body)).unwrap_or_else(|_| {
        let mut failed = Response::new(Full::new(Bytes::from_static(b"<Error><Code>InternalError</Code></Error>")));
        *failed.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        failed
    })
}

#[cfg(test)]
mod tests {
    use super::loopback_host;

    #[test]
    fn loopback_hosts_only() {
        for host in [
            "localhost",
            "localhost:8083",
            "127.0.0.1:8083",
            "[::1]:8083",
            "bucket1.localhost:8083",
            "sync-localhost:8083",
            "sync-127.0.0.1:8083",
            "LOCALHOST",
            "",
        ] {
            assert!(loopback_host(host), "{host}");
        }
        for host in ["evil.example", "evil.example:8083", "10.0.0.1:8083", "localhost.evil.example", "[2001:db8::1]:80"]
        {
            assert!(!loopback_host(host), "{host}");
        }
    }
}
