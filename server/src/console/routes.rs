//! The console's routes in `sfnlite serve`: a browser's page requests (`GET /`,
//! `/executions/<ARN>`, `/state-machines/<ARN>`) are told apart from the S3 REST API that
//! shares the port by what a browser's navigation sends (`Accept: text/html`) and an SDK
//! never does; signed or presigned requests always go to S3. Pages are built from the
//! Step Functions API's own answers, so they show what the API says.

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};
use sfnlite_adapters::s3::percent_decode;

use super::{Mode, Page, execution_data, page};
use crate::http::Services;
use crate::sfn::error::ApiError;

/// How many events a page reads (AWS's 25,000-event quota, and EXPRESS runs beyond it).
const MAX_EVENTS: usize = 1_000_000;

/// Whether a request is a browser asking for a console page.
pub(crate) fn is_console_request(request: &Request<Incoming>) -> bool {
    let headers = request.headers();
    let html = headers.get("accept").and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/html"));
    let query = request.uri().query().unwrap_or_default();
    let signed = headers.contains_key("authorization")
        || query.contains("X-Amz-Signature")
        || query.contains("X-Amz-Credential");
    let path = request.uri().path();
    matches!(*request.method(), Method::GET | Method::HEAD)
        && html
        && !signed
        && (path == "/" || path.starts_with("/executions/") || path.starts_with("/state-machines/"))
}

/// The page for a console request.
pub(crate) async fn answer(services: &Services, request: &Request<Incoming>) -> Response<Full<Bytes>> {
    if services.keys.is_some() {
        return html(
            StatusCode::FORBIDDEN,
            message_page("The console is off while the server requires signed requests (--require-auth)."),
        );
    }
    let path = request.uri().path();
    let built = if path == "/" {
        overview(services).await
    } else if let Some(arn) = path.strip_prefix("/executions/") {
        execution(services, &percent_decode(arn)).await
    } else if let Some(arn) = path.strip_prefix("/state-machines/") {
        state_machine(services, &percent_decode(arn)).await
    } else {
        Err(ApiError::resource_not_found(format!("no console page at {path}")))
    };
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

fn message_page(text: &str) -> String {
    page(
        Page::Executions,
        "sfnlite",
        json!({"mode": "live", "api": "/", "executions": [], "stateMachines": [], "message": text}),
    )
}

async fn call(services: &Services, operation: &str, body: Value) -> Result<Value, ApiError> {
    services.sfn.call(operation, body.to_string().as_bytes()).await
}

/// Every page of a paged operation's `key`, up to `limit` items.
async fn all_pages(
    services: &Services,
    operation: &str,
    mut body: Value,
    key: &str,
    limit: usize,
) -> Result<Vec<Value>, ApiError> {
    let mut items = Vec::new();
    loop {
        let mut answer = call(services, operation, body.clone()).await?;
        if let Some(Value::Array(page)) = answer.get_mut(key).map(Value::take) {
            items.extend(page);
        }
        match answer.get("nextToken").and_then(Value::as_str) {
            Some(token) if items.len() < limit => body["nextToken"] = json!(token),
            _ => return Ok(items),
        }
    }
}

async fn overview(services: &Services) -> Result<String, ApiError> {
    let executions = call(services, "ListExecutions", json!({"maxResults": 1000})).await?;
    let machines =
        all_pages(services, "ListStateMachines", json!({"maxResults": 1000}), "stateMachines", 10_000).await?;
    let data = json!({
        "mode": "live",
        "api": "/",
        "executions": executions.get("executions").cloned().unwrap_or_else(|| json!([])),
        "nextToken": executions.get("nextToken").cloned().unwrap_or(Value::Null),
        "stateMachines": machines,
    });
    Ok(page(Page::Executions, "Executions", data))
}

async fn execution(services: &Services, arn: &str) -> Result<String, ApiError> {
    let execution = call(services, "DescribeExecution", json!({"executionArn": arn})).await?;
    let machine = call(services, "DescribeStateMachineForExecution", json!({"executionArn": arn})).await?;
    let definition = machine
        .get("definition")
        .and_then(Value::as_str)
        .and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or(Value::Null);
    let events = all_pages(
        services,
        "GetExecutionHistory",
        json!({"executionArn": arn, "maxResults": 1000}),
        "events",
        MAX_EVENTS,
    )
    .await?;
    let virtual_clock = services.sfn.store.execution(arn).ok().flatten().is_some_and(|r| r.virtual_clock);
    let title = execution.get("name").and_then(Value::as_str).unwrap_or(arn).to_owned();
    let data = execution_data(Mode::Live, execution, definition, events, virtual_clock);
    Ok(page(Page::Execution, &title, data))
}

async fn state_machine(services: &Services, arn: &str) -> Result<String, ApiError> {
    let machine = call(services, "DescribeStateMachine", json!({"stateMachineArn": arn})).await?;
    let definition = machine
        .get("definition")
        .and_then(Value::as_str)
        .and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or(Value::Null);
    // EXPRESS machines keep no executions (ListExecutions refuses them).
    let executions = call(services, "ListExecutions", json!({"stateMachineArn": arn, "maxResults": 1000}))
        .await
        .ok()
        .and_then(|mut a| a.get_mut("executions").map(Value::take))
        .unwrap_or_else(|| json!([]));
    let title = machine.get("name").and_then(Value::as_str).unwrap_or(arn).to_owned();
    let data = json!({"mode": "live", "api": "/", "stateMachine": machine, "definition": definition, "executions": executions});
    Ok(page(Page::StateMachine, &title, data))
}
