//! The HTTP Task (`arn:aws:states:::http:invoke`): an HTTP(S) request built from
//! `ApiEndpoint`, `Method`, `Headers`, `QueryParameters`, `RequestBody` and `Transform`,
//! authenticated by a connection of the settings (`[http.connections.NAME]`: API key,
//! basic, or OAuth client credentials, secrets read from the environment when the request
//! is made, so they never reach a history). Output `{Headers, ResponseBody, StatusCode,
//! StatusText}`; a non-2xx status is `States.Http.StatusCode.NNN` (cause: that output, as
//! JSON); a connection failure or the 60 s timeout is `States.Http.Socket`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use serde_json::{Map, Value, json};
use sfnlite_engine::{TaskAdapter, TaskRequest};
use sfnlite_states::resource::{IntegrationPattern, Resource};
use sfnlite_states::{ErrorName, StatesError};

use crate::BoxFuture;
use crate::service;

/// AWS's limit on an HTTP Task's request, whatever `TimeoutSeconds` says.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// How a connection authenticates. Secrets are names of environment variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// A header carrying a key.
    ApiKey {
        /// The header's name.
        header: String,
        /// The variable holding the key.
        value_env: String,
    },
    /// HTTP Basic.
    Basic {
        /// The user name.
        username: String,
        /// The variable holding the password.
        password_env: String,
    },
    /// OAuth 2 client credentials: a token from `token_url`, sent as a Bearer token.
    OAuth {
        /// Where tokens come from.
        token_url: String,
        /// The client id.
        client_id: String,
        /// The variable holding the client secret.
        client_secret_env: String,
        /// The scope asked for, if any.
        scope: Option<String>,
    },
}

/// A connection (EventBridge's, on AWS): its name is the part of the `ConnectionArn` after
/// `connection/`.
#[derive(Debug, Clone)]
pub struct Connection {
    /// The connection's name.
    pub name: String,
    /// Its authentication.
    pub auth: Auth,
    /// Headers it adds (they win over the task's).
    pub headers: BTreeMap<String, String>,
    /// Query parameters it adds (they win).
    pub query: BTreeMap<String, String>,
    /// Body parameters it adds to an object body (they win).
    pub body: BTreeMap<String, String>,
}

type HttpsClient = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    Full<Bytes>,
>;

/// HTTP Task resources.
pub struct HttpTasks {
    connections: BTreeMap<String, Connection>,
    region: String,
    /// OAuth tokens by connection name, with when they expire (epoch seconds).
    tokens: Arc<Mutex<BTreeMap<String, (String, u64)>>>,
}

impl HttpTasks {
    /// The tasks, with these connections.
    pub fn new(connections: Vec<Connection>, region: &str) -> HttpTasks {
        let connections = connections.into_iter().map(|c| (c.name.clone(), c)).collect();
        HttpTasks { connections, region: region.to_owned(), tokens: Arc::default() }
    }

    async fn run(&self, request: TaskRequest) -> Result<Value, StatesError> {
        let call = Prepared::from(&request.parameters, &self.connections, &self.region)?;
        let tokens = self.tokens.clone();
        service::run(async move { call.send(&tokens).await }).await
    }
}

impl TaskAdapter for HttpTasks {
    fn name(&self) -> &str {
        "http"
    }

    fn handles(&self, _state_name: &str, resource: &Resource) -> bool {
        resource.integration().is_some_and(|i| {
            i.service == "http"
                && !i.sdk
                && i.action == "invoke"
                && matches!(i.pattern, IntegrationPattern::RequestResponse | IntegrationPattern::WaitForTaskToken)
        })
    }

    fn invoke(&self, request: TaskRequest) -> BoxFuture<'_, Result<Value, StatesError>> {
        Box::pin(self.run(request))
    }
}

fn runtime_error(message: impl Into<String>) -> StatesError {
    StatesError::new(ErrorName::Runtime, message)
}

/// Headers a task may not set (Step Functions refuses them).
fn forbidden(name: &str) -> bool {
    const NAMES: &[&str] = &[
        "a-im",
        "accept-charset",
        "accept-datetime",
        "accept-encoding",
        "authorization",
        "cache-control",
        "connection",
        "content-encoding",
        "content-md5",
        "date",
        "expect",
        "forwarded",
        "from",
        "host",
        "http2-settings",
        "if-match",
        "if-modified-since",
        "if-none-match",
        "if-range",
        "if-unmodified-since",
        "max-forwards",
        "origin",
        "pragma",
        "proxy-authorization",
        "referer",
        "server",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "via",
        "warning",
    ];
    let name = name.to_ascii_lowercase();
    NAMES.contains(&name.as_str())
        || name.starts_with("x-forwarded-")
        || name.starts_with("x-amz-")
        || name.starts_with("x-amzn-")
}

/// `application/x-www-form-urlencoded` / RFC 3986 escaping (spaces as `%20`, as AWS's example shows).
fn escape(text: &str) -> String {
    crate::s3::uri_encode(text)
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Flattens a JSON object into `key=value` pairs: nested objects as `a[b]`, arrays by
/// `ArrayFormat` (INDICES `a[0]`, REPEAT `a`, COMMAS `a=x,y`, BRACKETS `a[]`).
fn pairs(prefix: &str, value: &Value, format: &str, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}[{k}]") };
                pairs(&key, v, format, out);
            }
        }
        Value::Array(items) => match format {
            "COMMAS" => out.push((prefix.to_owned(), items.iter().map(scalar).collect::<Vec<_>>().join(","))),
            _ => {
                for (i, item) in items.iter().enumerate() {
                    let key = match format {
                        "REPEAT" => prefix.to_owned(),
                        "BRACKETS" => format!("{prefix}[]"),
                        _ => format!("{prefix}[{i}]"),
                    };
                    pairs(&key, item, format, out);
                }
            }
        },
        other => out.push((prefix.to_owned(), scalar(other))),
    }
}

fn encode(pairs: &[(String, String)]) -> String {
    pairs.iter().map(|(k, v)| format!("{}={}", escape(k), escape(v))).collect::<Vec<_>>().join("&")
}

/// A request ready to send.
struct Prepared {
    method: hyper::Method,
    url: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    auth: Auth,
    connection: String,
}

impl Prepared {
    fn from(
        parameters: &Value,
        connections: &BTreeMap<String, Connection>,
        region: &str,
    ) -> Result<Prepared, StatesError> {
        let text = |name: &str| parameters.get(name).and_then(Value::as_str);
        let endpoint = text("ApiEndpoint")
            .ok_or_else(|| runtime_error("The field 'ApiEndpoint' is required and must be a string"))?;
        if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
            return Err(runtime_error(format!("ApiEndpoint '{endpoint}' is not an http(s) URL")));
        }
        let method_text =
            text("Method").ok_or_else(|| runtime_error("The field 'Method' is required and must be a string"))?;
        let method = match method_text.to_ascii_uppercase().as_str() {
            "GET" => hyper::Method::GET,
            "POST" => hyper::Method::POST,
            "PUT" => hyper::Method::PUT,
            "DELETE" => hyper::Method::DELETE,
            "PATCH" => hyper::Method::PATCH,
            "OPTIONS" => hyper::Method::OPTIONS,
            "HEAD" => hyper::Method::HEAD,
            other => {
                return Err(runtime_error(format!(
                    "Method '{other}' is not one of GET, POST, PUT, DELETE, PATCH, OPTIONS, HEAD"
                )));
            }
        };
        let arn = parameters
            .pointer("/Authentication/ConnectionArn")
            .or_else(|| parameters.pointer("/InvocationConfig/ConnectionArn"))
            .and_then(Value::as_str)
            .ok_or_else(|| {
                runtime_error("Authentication.ConnectionArn or InvocationConfig.ConnectionArn is required")
            })?;
        let name =
            arn.split_once(":connection/").map(|(_, rest)| rest.split('/').next().unwrap_or(rest)).unwrap_or(arn);
        let connection = connections.get(name).ok_or_else(|| {
            StatesError::new(
                ErrorName::parse("Events.ConnectionResource.ResourceNotFound"),
                format!("Connection '{name}' ({arn}) is not configured: add [http.connections.{name}] to sfnlite.toml"),
            )
        })?;
        let format = parameters
            .pointer("/Transform/RequestEncodingOptions/ArrayFormat")
            .and_then(Value::as_str)
            .unwrap_or("INDICES");
        let url_encoded =
            parameters.pointer("/Transform/RequestBodyEncoding").and_then(Value::as_str) == Some("URL_ENCODED");
        // Query: the task's, then the connection's (which win).
        let mut query = Vec::new();
        match parameters.get("QueryParameters") {
            None | Some(Value::Null) => {}
            Some(object @ Value::Object(_)) => pairs("", object, format, &mut query),
            Some(Value::Array(items)) => {
                for item in items {
                    pairs("", item, format, &mut query);
                }
            }
            // A string is a query string already (`a=1&b=2`).
            Some(Value::String(text)) => {
                for part in text.split('&').filter(|p| !p.is_empty()) {
                    let (k, v) = part.split_once('=').unwrap_or((part, ""));
                    query.push((k.to_owned(), v.to_owned()));
                }
            }
            Some(other) => {
                return Err(runtime_error(format!(
                    "QueryParameters must be an object, an array or a string, not {other}"
                )));
            }
        }
        query.retain(|(k, _)| !connection.query.contains_key(k));
        query.extend(connection.query.iter().map(|(k, v)| (k.clone(), v.clone())));
        let mut url = endpoint.to_owned();
        if !query.is_empty() {
            url.push(if url.contains('?') { '&' } else { '?' });
            url.push_str(&encode(&query));
        }
        // Headers: Step Functions' own, the task's, then the connection's (which win).
        let mut headers: Vec<(String, String)> = vec![
            ("User-Agent".into(), format!("Amazon|StepFunctions|HttpInvoke|{region}")),
            ("Range".into(), "bytes=0-262144".into()),
        ];
        match parameters.get("Headers") {
            None | Some(Value::Null) => {}
            Some(Value::Object(given)) => {
                for (k, v) in given {
                    if forbidden(k) {
                        return Err(runtime_error(format!("The header '{k}' is not allowed in an HTTP Task")));
                    }
                    headers.retain(|(h, _)| !h.eq_ignore_ascii_case(k));
                    headers.push((k.clone(), scalar(v)));
                }
            }
            Some(other) => return Err(runtime_error(format!("Headers must be an object, not {other}"))),
        }
        for (k, v) in &connection.headers {
            headers.retain(|(h, _)| !h.eq_ignore_ascii_case(k));
            headers.push((k.clone(), v.clone()));
        }
        // Body: JSON by default; URL-encoded with the Transform; the connection's fields win.
        let body = match parameters.get("RequestBody") {
            None | Some(Value::Null) if connection.body.is_empty() => Vec::new(),
            Some(Value::String(_)) if !connection.body.is_empty() => {
                return Err(runtime_error(
                    "A string RequestBody cannot be combined with the connection's body parameters",
                ));
            }
            Some(Value::String(text)) => text.clone().into_bytes(),
            Some(other @ (Value::Array(_) | Value::Number(_) | Value::Bool(_))) if connection.body.is_empty() => {
                other.to_string().into_bytes()
            }
            given => {
                let mut object = match given {
                    Some(Value::Object(map)) => map.clone(),
                    None | Some(Value::Null) => Map::new(),
                    Some(_) => {
                        return Err(runtime_error(
                            "RequestBody must be an object to take the connection's body parameters",
                        ));
                    }
                };
                for (k, v) in &connection.body {
                    object.insert(k.clone(), Value::String(v.clone()));
                }
                let object = Value::Object(object);
                if url_encoded {
                    let mut flat = Vec::new();
                    pairs("", &object, format, &mut flat);
                    encode(&flat).into_bytes()
                } else {
                    object.to_string().into_bytes()
                }
            }
        };
        if !body.is_empty() && !headers.iter().any(|(h, _)| h.eq_ignore_ascii_case("content-type")) {
            headers.push(("Content-Type".into(), "application/json; charset=UTF-8".into()));
        }
        Ok(Prepared { method, url, headers, body, auth: connection.auth.clone(), connection: connection.name.clone() })
    }
}

fn secret(variable: &str, connection: &str) -> Result<String, StatesError> {
    std::env::var(variable).map_err(|_| {
        StatesError::new(
            ErrorName::parse("Events.ConnectionResource.InvalidConnectionState"),
            format!("the connection '{connection}' reads its secret from the environment variable {variable}, which is not set"),
        )
    })
}

type PlainClient = hyper_util::client::legacy::Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

/// HTTPS with the machine's root certificates, or plain HTTP when it has none.
enum Client {
    Tls(HttpsClient),
    Plain(PlainClient),
}

fn client() -> Client {
    let builder = || hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new());
    match hyper_rustls::HttpsConnectorBuilder::new().with_native_roots() {
        Ok(roots) => Client::Tls(builder().build(roots.https_or_http().enable_http1().build())),
        Err(_) => Client::Plain(builder().build_http()),
    }
}

impl Client {
    async fn request(
        &self,
        request: hyper::Request<Full<Bytes>>,
    ) -> Result<hyper::Response<hyper::body::Incoming>, String> {
        match self {
            Client::Tls(c) => c.request(request).await.map_err(|e| e.to_string()),
            Client::Plain(_) if request.uri().scheme_str() == Some("https") => {
                Err("no TLS root certificates on this machine for an https:// endpoint".to_owned())
            }
            Client::Plain(c) => c.request(request).await.map_err(|e| e.to_string()),
        }
    }
}

/// The response as the task's output: lower-cased header names, each with its values.
struct Answer {
    status: u16,
    reason: String,
    headers: Map<String, Value>,
    body: Bytes,
    content_type: String,
}

async fn exchange(
    client: &Client,
    method: hyper::Method,
    url: &str,
    headers: &[(String, String)],
    body: Vec<u8>,
) -> Result<Answer, StatesError> {
    let socket = |message: String| StatesError::new(ErrorName::parse("States.Http.Socket"), message);
    let mut builder = hyper::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    let request =
        builder.body(Full::new(Bytes::from(body))).map_err(|e| runtime_error(format!("a bad request: {e}")))?;
    let response = tokio::time::timeout(REQUEST_TIMEOUT, async {
        let response = client.request(request).await.map_err(|e| socket(format!("{url}: {e}")))?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await.map_err(|e| socket(format!("{url}: {e}")))?.to_bytes();
        Ok::<_, StatesError>((parts, body))
    })
    .await
    .map_err(|_| socket(format!("{url}: no answer within 60 seconds")))??;
    let (parts, body) = response;
    let mut out = Map::new();
    for (name, value) in &parts.headers {
        let entry = out.entry(name.as_str().to_ascii_lowercase()).or_insert_with(|| json!([]));
        if let Value::Array(values) = entry {
            values.push(Value::String(String::from_utf8_lossy(value.as_bytes()).into_owned()));
        }
    }
    let content_type =
        parts.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_ascii_lowercase();
    Ok(Answer {
        status: parts.status.as_u16(),
        reason: parts.status.canonical_reason().unwrap_or_default().to_owned(),
        headers: out,
        body,
        content_type,
    })
}

impl Prepared {
    async fn send(self, tokens: &Mutex<BTreeMap<String, (String, u64)>>) -> Result<Value, StatesError> {
        let client = client();
        let mut headers = self.headers.clone();
        match &self.auth {
            Auth::ApiKey { header, value_env } => {
                let value = secret(value_env, &self.connection)?;
                headers.retain(|(h, _)| !h.eq_ignore_ascii_case(header));
                headers.push((header.clone(), value));
            }
            Auth::Basic { username, password_env } => {
                let password = secret(password_env, &self.connection)?;
                let encoded = sfnlite_states::base64::encode(format!("{username}:{password}").as_bytes());
                headers.push(("Authorization".into(), format!("Basic {encoded}")));
            }
            Auth::OAuth { token_url, client_id, client_secret_env, scope } => {
                let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
                let cached = tokens
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get(&self.connection)
                    .filter(|(_, expires)| *expires > now + 5)
                    .map(|(token, _)| token.clone());
                let token = match cached {
                    Some(token) => token,
                    None => {
                        let secret = secret(client_secret_env, &self.connection)?;
                        let mut form = vec![
                            ("grant_type".to_owned(), "client_credentials".to_owned()),
                            ("client_id".to_owned(), client_id.clone()),
                            ("client_secret".to_owned(), secret),
                        ];
                        if let Some(scope) = scope {
                            form.push(("scope".to_owned(), scope.clone()));
                        }
                        let form_headers =
                            [("Content-Type".to_owned(), "application/x-www-form-urlencoded".to_owned())];
                        let answer = exchange(
                            &client,
                            hyper::Method::POST,
                            token_url,
                            &form_headers,
                            encode(&form).into_bytes(),
                        )
                        .await?;
                        let granted = serde_json::from_slice::<Value>(&answer.body).unwrap_or(Value::Null);
                        let lifetime = granted["expires_in"].as_u64().unwrap_or(3600);
                        let token = granted["access_token"]
                            .as_str()
                            .map(str::to_owned)
                            .filter(|_| (200..300).contains(&answer.status))
                            .ok_or_else(|| {
                                StatesError::new(
                                    ErrorName::parse("Events.ConnectionResource.AuthInProgress"),
                                    format!(
                                        "the OAuth token endpoint {token_url} answered {} without an access_token",
                                        answer.status
                                    ),
                                )
                            })?;
                        tokens
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .insert(self.connection.clone(), (token.clone(), now + lifetime));
                        token
                    }
                };
                headers.push(("Authorization".into(), format!("Bearer {token}")));
            }
        }
        let answer = exchange(&client, self.method, &self.url, &headers, self.body).await?;
        if answer.status == 401 && matches!(self.auth, Auth::OAuth { .. }) {
            // A token refused: the next request asks for a new one.
            tokens.lock().unwrap_or_else(|e| e.into_inner()).remove(&self.connection);
        }
        let binary = ["application/octet-stream", "image/", "video/", "audio/"];
        if binary.iter().any(|b| answer.content_type.starts_with(b)) {
            return Err(runtime_error(format!("the response's content type '{}' is not text", answer.content_type)));
        }
        let text =
            std::str::from_utf8(&answer.body).map_err(|_| runtime_error("the response body is not valid text"))?;
        // A JSON body is parsed; any other text stays a string.
        let body = match serde_json::from_str(text) {
            Ok(value) if answer.content_type.contains("json") => value,
            _ => Value::String(text.to_owned()),
        };
        let output = json!({
            "Headers": answer.headers,
            "ResponseBody": body,
            "StatusCode": answer.status,
            "StatusText": answer.reason,
        });
        if (200..300).contains(&answer.status) {
            Ok(output)
        } else {
            Err(StatesError::new(
                ErrorName::parse(&format!("States.Http.StatusCode.{}", answer.status)),
                output.to_string(),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_and_queries_are_encoded_as_aws_describes() {
        let body = json!({"description": "Monthly subscription", "metadata": {"order_details": "monthly report data"}, "customer": "1234567890"});
        let mut flat = Vec::new();
        pairs("", &body, "INDICES", &mut flat);
        assert_eq!(
            encode(&flat),
            "description=Monthly%20subscription&metadata%5Border_details%5D=monthly%20report%20data&customer=1234567890"
        );
        let arrays = json!({"a": ["x", "y"]});
        for (format, expected) in [
            ("INDICES", "a%5B0%5D=x&a%5B1%5D=y"),
            ("REPEAT", "a=x&a=y"),
            ("COMMAS", "a=x%2Cy"),
            ("BRACKETS", "a%5B%5D=x&a%5B%5D=y"),
        ] {
            let mut flat = Vec::new();
            pairs("", &arrays, format, &mut flat);
            assert_eq!(encode(&flat), expected, "{format}");
        }
        assert!(
            forbidden("Authorization")
                && forbidden("X-Amz-Date")
                && forbidden("x-forwarded-for")
                && !forbidden("X-Api-Key")
        );
    }
}
