//! The console's routes in `sfnlite serve`: a browser's page requests (`GET /`,
//! `/executions`, `/state-machines`, `/executions/<ARN>`, `/state-machines/<ARN>`) are told
//! apart from the S3 REST API that shares the port by what a browser's navigation sends
//! (`Accept: text/html`) and an SDK never does; signed or presigned requests, and requests
//! for a `bucket.localhost` host, always go to S3. Pages are built from the Step Functions
//! API's own answers, so they show what the API says.

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};
use sfnlite_adapters::s3::percent_decode;

use super::{Mode, Page, execution_data, page};
use crate::http::Services;
use crate::sfn::Api;
use crate::sfn::error::ApiError;

/// Whether a request is a browser asking for a console page: an unsigned GET (or HEAD)
/// accepting HTML, for the server's own host name, at one of the console's paths.
pub(crate) fn is_console_request(request: &Request<Incoming>) -> bool {
    let headers = request.headers();
    let html = headers.get("accept").and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/html"));
    let query = request.uri().query().unwrap_or_default();
    let signed = headers.contains_key("authorization")
        || ["X-Amz-Signature", "X-Amz-Credential", "Signature=", "AWSAccessKeyId="].iter().any(|k| query.contains(k));
    let host = headers.get("host").and_then(|v| v.to_str().ok()).unwrap_or_default().to_ascii_lowercase();
    let bucket_host = host.split(':').next().is_some_and(|name| name.ends_with(".localhost"));
    let path = request.uri().path();
    let console_path = matches!(path, "/" | "/executions" | "/state-machines")
        || path.starts_with("/executions/")
        || path.starts_with("/state-machines/");
    matches!(*request.method(), Method::GET | Method::HEAD) && html && !signed && !bucket_host && console_path
}

/// The page for a console request.
pub(crate) async fn answer(services: &Services, request: &Request<Incoming>) -> Response<Full<Bytes>> {
    if services.keys.is_some() {
        return html(
            StatusCode::FORBIDDEN,
            message_page("The console is off while the server requires signed requests (--require-auth)."),
        );
    }
    // Pages read the store: built on a blocking thread, so that the page of a long history
    // never holds up the API's answers.
    let path = request.uri().path().to_owned();
    let sfn = services.sfn.clone();
    let handle = tokio::runtime::Handle::current();
    let built = tokio::task::spawn_blocking(move || handle.block_on(build(&sfn, &path)))
        .await
        .unwrap_or_else(|e| Err(ApiError::new("InternalFailure", format!("the page could not be built: {e}"))));
    match built {
        Ok(body) => html(StatusCode::OK, body),
        Err(error) => {
            // What does not exist is a page not found, whatever the API's status for it.
            let missing = error.name.ends_with("DoesNotExist") || error.name == "ResourceNotFound";
            let status = if missing {
                StatusCode::NOT_FOUND
            } else {
                StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_REQUEST)
            };
            html(status, message_page(&format!("{}: {}", error.name, error.message)))
        }
    }
}

fn html(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "text/html; charset=utf-8")
        .header("cache-control", "no-store")
        .header("x-content-type-options", "nosniff")
        // The page runs its own inline script and talks to this server only.
        .header(
            "content-security-policy",
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        )
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

/// A page that says what went wrong (its script shows the message and polls nothing).
fn message_page(text: &str) -> String {
    page(
        Page::Executions,
        "sfnlite",
        json!({"mode": "live", "api": "/", "executions": [], "stateMachines": [], "message": text}),
    )
}

/// The page at `path`.
async fn build(sfn: &Api, path: &str) -> Result<String, ApiError> {
    match path {
        "/" | "/executions" => overview(sfn, Page::Executions).await,
        "/state-machines" => overview(sfn, Page::StateMachines).await,
        _ => {
            if let Some(arn) = path.strip_prefix("/executions/") {
                execution(sfn, &percent_decode(arn)).await
            } else if let Some(arn) = path.strip_prefix("/state-machines/") {
                state_machine(sfn, &percent_decode(arn)).await
            } else {
                Err(ApiError::resource_not_found(format!("no console page at {path}")))
            }
        }
    }
}

async fn call(sfn: &Api, operation: &str, body: Value) -> Result<Value, ApiError> {
    sfn.call(operation, body.to_string().as_bytes()).await
}

/// Every page of a paged operation's `key`, up to `limit` items.
async fn all_pages(
    sfn: &Api,
    operation: &str,
    mut body: Value,
    key: &str,
    limit: usize,
) -> Result<Vec<Value>, ApiError> {
    let mut items = Vec::new();
    loop {
        let mut answer = call(sfn, operation, body.clone()).await?;
        if let Some(Value::Array(page)) = answer.get_mut(key).map(Value::take) {
            items.extend(page);
        }
        match answer.get("nextToken").and_then(Value::as_str) {
            Some(token) if items.len() < limit => body["nextToken"] = json!(token),
            _ => return Ok(items),
        }
    }
}

async fn overview(sfn: &Api, which: Page) -> Result<String, ApiError> {
    let executions = call(sfn, "ListExecutions", json!({"maxResults": 1000})).await?;
    let machines = all_pages(sfn, "ListStateMachines", json!({"maxResults": 1000}), "stateMachines", 10_000).await?;
    let data = json!({
        "mode": "live",
        "api": "/",
        "executions": executions.get("executions").cloned().unwrap_or_else(|| json!([])),
        "nextToken": executions.get("nextToken").cloned().unwrap_or(Value::Null),
        "stateMachines": machines,
    });
    Ok(page(which, if which == Page::StateMachines { "State machines" } else { "Executions" }, data))
}

async fn execution(sfn: &Api, arn: &str) -> Result<String, ApiError> {
    let execution = call(sfn, "DescribeExecution", json!({"executionArn": arn})).await?;
    let machine = call(sfn, "DescribeStateMachineForExecution", json!({"executionArn": arn})).await?;
    let definition = machine
        .get("definition")
        .and_then(Value::as_str)
        .and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or(Value::Null);
    // Read once (paging through GetExecutionHistory would read the history once per page).
    let (events, virtual_clock) = sfn.whole_history(arn)?;
    let title = execution.get("name").and_then(Value::as_str).unwrap_or(arn).to_owned();
    let data = execution_data(Mode::Live, execution, definition, events, virtual_clock);
    Ok(page(Page::Execution, &title, data))
}

async fn state_machine(sfn: &Api, arn: &str) -> Result<String, ApiError> {
    let machine = call(sfn, "DescribeStateMachine", json!({"stateMachineArn": arn})).await?;
    let definition = machine
        .get("definition")
        .and_then(Value::as_str)
        .and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or(Value::Null);
    // EXPRESS machines keep no executions (ListExecutions refuses them).
    let executions = call(sfn, "ListExecutions", json!({"stateMachineArn": arn, "maxResults": 1000}))
        .await
        .ok()
        .and_then(|mut a| a.get_mut("executions").map(Value::take))
        .unwrap_or_else(|| json!([]));
    let title = machine.get("name").and_then(Value::as_str).unwrap_or(arn).to_owned();
    let data = json!({"mode": "live", "api": "/", "stateMachine": machine, "definition": definition, "executions": executions});
    Ok(page(Page::StateMachine, &title, data))
}
