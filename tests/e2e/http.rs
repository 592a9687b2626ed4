//! The HTTP Task (`arn:aws:states:::http:invoke`) against a loopback server of the test's:
//! the request as built (method, query, headers, JSON and URL-encoded bodies), the
//! connection's authentication (secrets from the environment, never in the history), the
//! output, and AWS's errors.

use std::io::Write;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::{sfnlite, temp_file};

/// One request as the server saw it.
type Seen = crate::HttpRequest;

/// A server answering by path: `/token` (OAuth), `/missing` (404), anything else 200 JSON.
fn server() -> (String, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let seen = Seen::read(&stream);
            let (status, content_type, answer) = if seen.line.contains(" /token") {
                ("200 OK", "application/json", r#"{"access_token":"tok-123","token_type":"Bearer"}"#.to_owned())
            } else if seen.line.contains(" /missing") {
                ("404 Not Found", "text/plain", "nope".to_owned())
            } else {
                ("200 OK", "application/json", json!({"ok": true, "got": seen.body}).to_string())
            };
            log.lock().unwrap().push(seen);
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nX-Trace: abc\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                answer.len()
            );
        }
    });
    (url, seen)
}

fn config(dir: &tempfile::TempDir, token_url: &str) -> std::path::PathBuf {
    let text = format!(
        "[http.connections.orders]\nauth = \"api_key\"\nheader = \"x-api-key\"\nvalue_env = \"ORDERS_KEY\"\nbody = {{ tenant = \"acme\" }}\n\
         [http.connections.partner]\nauth = \"oauth\"\ntoken_url = \"{token_url}\"\nclient_id = \"sfn\"\nclient_secret_env = \"PARTNER_SECRET\"\n"
    );
    temp_file(dir, "sfnlite.toml", &text)
}

fn call(endpoint: String, connection: &str, extra: Value) -> Value {
    let mut parameters = json!({
        "ApiEndpoint": endpoint,
        "Method": "POST",
        "Authentication": {"ConnectionArn": format!("arn:aws:events:us-east-1:123456789012:connection/{connection}/0f1e2d3c")},
    });
    for (k, v) in extra.as_object().unwrap() {
        parameters[k] = v.clone();
    }
    json!({"Type": "Task", "Resource": "arn:aws:states:::http:invoke", "Parameters": parameters})
}

fn run(dir: &tempfile::TempDir, config: &std::path::Path, definition: Value) -> (Value, std::path::PathBuf) {
    let file = temp_file(dir, "http.asl.json", &definition.to_string());
    let store = tempfile::tempdir().unwrap().keep();
    let out = sfnlite()
        .env("ORDERS_KEY", "secret-value")
        .env("PARTNER_SECRET", "partner-secret")
        .arg("--config")
        .arg(config)
        .arg("--store")
        .arg(&store)
        .args(["run", file.to_str().unwrap(), "--format", "json", "--name", "h"])
        .output()
        .unwrap();
    let report =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    (report, store)
}

#[test]
fn requests_are_built_authenticated_and_answered_as_on_aws() {
    let (url, seen) = server();
    let dir = tempfile::tempdir().unwrap();
    let config = config(&dir, &format!("{url}/token"));
    let mut json_call = call(
        format!("{url}/orders"),
        "orders",
        json!({"Headers": {"X-Request": "r1"}, "QueryParameters": {"q": "a b", "ids": [1, 2]}, "RequestBody": {"item": "pear"}}),
    );
    json_call["Next"] = json!("Form");
    let mut form = call(
        format!("{url}/form"),
        "partner",
        json!({"Headers": {"Content-Type": "application/x-www-form-urlencoded"}, "RequestBody": {"tags": ["x", "y"], "meta": {"k": "v w"}},
               "Transform": {"RequestBodyEncoding": "URL_ENCODED", "RequestEncodingOptions": {"ArrayFormat": "BRACKETS"}}}),
    );
    form["ResultPath"] = json!("$.form");
    form["Next"] = json!("Missing");
    let mut missing = call(format!("{url}/missing"), "orders", json!({}));
    missing["Catch"] =
        json!([{"ErrorEquals": ["States.Http.StatusCode.404"], "ResultPath": "$.missing", "Next": "Refused"}]);
    missing["Next"] = json!("Refused");
    let mut refused = call("http://127.0.0.1:9/nothing".to_owned(), "orders", json!({}));
    refused["Catch"] = json!([{"ErrorEquals": ["States.Http.Socket"], "ResultPath": "$.refused", "Next": "Done"}]);
    refused["Next"] = json!("Done");
    let definition = json!({"StartAt": "Json", "States": {"Json": json_call, "Form": form, "Missing": missing, "Refused": refused,
        "Done": {"Type": "Pass", "End": true}}});
    let (report, store) = run(&dir, &config, definition);
    assert_eq!(report["status"], "SUCCEEDED", "{report}");
    let output = &report["output"];
    // The output: lower-cased header names with arrays of values, the parsed body, the status.
    assert_eq!(output["StatusCode"], 200);
    assert_eq!(output["StatusText"], "OK");
    assert_eq!(output["Headers"]["x-trace"], json!(["abc"]));
    assert_eq!(output["ResponseBody"]["ok"], true);
    assert_eq!(output["missing"]["Error"], "States.Http.StatusCode.404");
    let cause: Value = serde_json::from_str(output["missing"]["Cause"].as_str().unwrap()).unwrap();
    assert_eq!((cause["StatusCode"].as_i64(), cause["ResponseBody"].as_str()), (Some(404), Some("nope")));
    assert_eq!(output["refused"]["Error"], "States.Http.Socket");

    let seen = seen.lock().unwrap().clone();
    let first = &seen[0];
    assert_eq!(first.line, "POST /orders?q=a%20b&ids%5B0%5D=1&ids%5B1%5D=2 HTTP/1.1");
    assert_eq!(first.header("x-api-key"), Some("secret-value"));
    assert_eq!(first.header("x-request"), Some("r1"));
    assert_eq!(first.header("user-agent"), Some("Amazon|StepFunctions|HttpInvoke|us-east-1"));
    assert_eq!(first.header("content-type"), Some("application/json; charset=UTF-8"));
    assert_eq!(serde_json::from_str::<Value>(&first.body).unwrap(), json!({"item": "pear", "tenant": "acme"}));
    // OAuth: a token from the token endpoint (client credentials), then a Bearer request.
    assert!(seen[1].line.starts_with("POST /token"), "{seen:?}");
    assert!(
        seen[1].body.contains("grant_type=client_credentials") && seen[1].body.contains("client_secret=partner-secret")
    );
    assert_eq!(seen[2].header("authorization"), Some("Bearer tok-123"));
    assert_eq!(seen[2].body, "tags%5B%5D=x&tags%5B%5D=y&meta%5Bk%5D=v%20w");
    // Secrets never reach the history.
    let history = sfnlite().arg("--store").arg(&store).args(["history", "h", "--format", "json"]).output().unwrap();
    let text = String::from_utf8_lossy(&history.stdout);
    assert!(
        text.contains("TaskSucceeded")
            && !text.contains("secret-value")
            && !text.contains("partner-secret")
            && !text.contains("tok-123")
    );
}

#[test]
fn forbidden_headers_and_unknown_connections_fail_as_on_aws() {
    let (url, _) = server();
    let dir = tempfile::tempdir().unwrap();
    let config = config(&dir, &format!("{url}/token"));
    let mut forbidden = call(format!("{url}/x"), "orders", json!({"Headers": {"Authorization": "Basic x"}}));
    forbidden["End"] = json!(true);
    let (report, _) = run(&dir, &config, json!({"StartAt": "F", "States": {"F": forbidden}}));
    assert_eq!(report["error"], "States.Runtime", "{report}");
    assert!(report["cause"].as_str().unwrap().contains("The header 'Authorization' is not allowed"));
    let mut unknown = call(format!("{url}/x"), "nobody", json!({}));
    unknown["End"] = json!(true);
    let (report, _) = run(&dir, &config, json!({"StartAt": "U", "States": {"U": unknown}}));
    assert_eq!(report["error"], "Events.ConnectionResource.ResourceNotFound", "{report}");
    assert!(report["cause"].as_str().unwrap().contains("[http.connections.nobody]"));
}
