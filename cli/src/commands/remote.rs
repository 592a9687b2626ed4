//! Reaching the process that holds a store: it advertises its API server in
//! `<store>/endpoint` (`serve` when it listens; `run` when its loopback server starts), and
//! commands that find the store busy send their request there instead, as the AWS CLI
//! would (awsJson1_0 over HTTP/1.1 on loopback).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, anyhow};
use serde_json::Value;

fn endpoint_file(store: &Path) -> PathBuf {
    store.join("endpoint")
}

/// Advertises `url` as the API of the process holding `store`. A server that checks
/// signatures advertises `http://KEY:SECRET@host:port`, its own access key, which this
/// module's client signs with; the file is then readable by its owner only.
pub(crate) fn advertise(store: &Path, url: &str, role: Role) {
    use std::os::unix::fs::OpenOptionsExt;
    // Written aside, then renamed into place: a reader never finds the file missing or half
    // written.
    let path = endpoint_file(store);
    let aside = store.join(format!("endpoint.{}.tmp", std::process::id()));
    let _ = std::fs::remove_file(&aside);
    let file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&aside);
    if let Ok(mut file) = file {
        let role = match role {
            Role::Serve => "serve",
            Role::Run => "run",
        };
        let _ = file.write_all(format!("{url}\n{}\n{role}\n", std::process::id()).as_bytes());
        let _ = std::fs::rename(&aside, &path);
    }
}

/// Which kind of process holds the store: a server runs any execution it is asked to; a
/// `run` serves only its own execution's handlers and children.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Serve,
    Run,
}

/// The API of a live `sfnlite serve` holding `store`, found without opening the store.
pub(crate) fn serving_endpoint(store: &Path) -> Option<String> {
    let text = std::fs::read_to_string(endpoint_file(store)).ok()?;
    let mut lines = text.lines();
    let url = lines.next().filter(|l| l.starts_with("http://"))?;
    let pid: i32 = lines.next()?.trim().parse().ok()?;
    // SAFETY: kill(2) with signal 0 only checks that the process exists.
    let alive = pid > 0 && unsafe { libc::kill(pid, 0) } == 0;
    if lines.next() != Some("serve") || !alive {
        return None;
    }
    // A stale file (the server was killed, and its pid reused): the store must be held.
    match super::setup::open_sled(store, Duration::ZERO) {
        Ok(_) => None,
        Err(_) => Some(url.to_owned()),
    }
}

/// Stops advertising (at the end of the process that holds the store).
pub(crate) fn withdraw(store: &Path) {
    let path = endpoint_file(store);
    let mine =
        std::fs::read_to_string(&path).ok().is_some_and(|t| t.lines().nth(1) == Some(&std::process::id().to_string()));
    if mine {
        let _ = std::fs::remove_file(path);
    }
}

/// The API of the process holding `store` (`holder`, its pid as the store records it), if
/// that process advertises one (a file left by an earlier holder is not it).
pub(crate) fn endpoint(store: &Path, holder: &str) -> Option<String> {
    let text = std::fs::read_to_string(endpoint_file(store)).ok()?;
    let mut lines = text.lines();
    let url = lines.next().filter(|l| l.starts_with("http://"))?;
    (lines.next() == Some(holder.trim())).then(|| url.to_owned())
}

/// An error the API answered with (`__type`, `message`).
#[derive(Debug)]
pub(crate) struct ApiRefusal {
    pub(crate) name: String,
    pub(crate) message: String,
}

/// Calls `AWSStepFunctions.<operation>` at `url`: the answer, or the API's refusal.
pub(crate) fn call(url: &str, operation: &str, body: &Value) -> anyhow::Result<Result<Value, ApiRefusal>> {
    call_target(url, &format!("AWSStepFunctions.{operation}"), body)
}

/// Calls the operation `target` (`X-Amz-Target`) at `url`.
pub(crate) fn call_target(url: &str, target: &str, body: &Value) -> anyhow::Result<Result<Value, ApiRefusal>> {
    call_target_within(url, target, body, Duration::from_secs(60))
}

/// [`call_target`], waiting at most `timeout` for the answer.
pub(crate) fn call_target_within(
    url: &str,
    target: &str,
    body: &Value,
    timeout: Duration,
) -> anyhow::Result<Result<Value, ApiRefusal>> {
    let address = url.strip_prefix("http://").unwrap_or(url).trim_end_matches('/');
    let (credentials, address) = match address.rsplit_once('@') {
        Some((userinfo, address)) => (userinfo.split_once(':'), address),
        None => (None, address),
    };
    let url = format!("http://{address}");
    let mut stream = TcpStream::connect(address).with_context(|| format!("cannot reach {url}"))?;
    stream.set_read_timeout(Some(timeout))?;
    let body = body.to_string();
    let mut headers = vec![
        ("host".to_owned(), address.to_owned()),
        ("content-type".to_owned(), "application/x-amz-json-1.0".to_owned()),
        ("x-amz-target".to_owned(), target.to_owned()),
    ];
    if let Some((key, secret)) = credentials {
        let request = sfnlite_server::sigv4::Signed {
            method: "POST",
            path: "/",
            query: "",
            headers: &headers,
            body: body.as_bytes(),
        };
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let signature = sfnlite_server::sigv4::sign(key, secret, "us-east-1", "states", &request, now as i64);
        headers.extend(signature);
    }
    let lines: String = headers.iter().map(|(name, value)| format!("{name}: {value}\r\n")).collect();
    let request =
        format!("POST / HTTP/1.1\r\n{lines}Content-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
    stream.write_all(request.as_bytes())?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let text = String::from_utf8_lossy(&response);
    let (head, payload) = text.split_once("\r\n\r\n").ok_or_else(|| anyhow!("{url} answered no HTTP response"))?;
    let status: u16 = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let value: Value = serde_json::from_str(payload).with_context(|| format!("{url} answered {payload:?}"))?;
    if status == 200 {
        Ok(Ok(value))
    } else {
        let field = |k: &str| value[k].as_str().unwrap_or_default().to_owned();
        Ok(Err(ApiRefusal { name: field("__type"), message: field("message") }))
    }
}
