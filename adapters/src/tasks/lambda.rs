//! Lambda task resources: the optimized integration (`arn:aws:states:::lambda:invoke`),
//! whose result is Lambda's Invoke response in the Java SDK's envelope, and a function ARN
//! as `Resource`, whose result is the bare payload.
//!
//! Errors as Step Functions reports them: a function error is named by the runtime's
//! `errorType` (not prefixed) with the runtime's error object as the cause; Lambda API
//! errors are `Lambda.<Code>` with the Java SDK's cause format.

use std::sync::Arc;

use serde_json::{Map, Value, json};
use sfnlite_engine::{HistoryStore, TaskAdapter, TaskRequest};
use sfnlite_states::resource::{IntegrationPattern, Resource};
use sfnlite_states::timestamp::format_http_date;
use sfnlite_states::{ErrorName, StatesError};

use super::{invocation_id, sdk_http_metadata};
use crate::BoxFuture;
use crate::lambda::{AwsCall, AwsLambda, Call, FunctionRef, Invocation, LocalLambda, MAX_RESPONSE_BYTES, Reply};
use crate::service;

/// Where invocation logs are kept: store documents of this kind, keyed by execution ARN
/// and the task's event id (`sfnlite logs` reads them).
pub const LOG_KIND: &str = "lambda-logs";

/// How a resource invokes a function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    /// `arn:aws:states:::lambda:invoke`: the envelope.
    Integration,
    /// `arn:aws:lambda:…:function:NAME`: the bare payload.
    FunctionArn,
}

fn form_of(resource: &Resource) -> Option<Form> {
    match resource {
        Resource::LambdaFunction(_) => Some(Form::FunctionArn),
        Resource::Integration(i)
            if i.service == "lambda"
                && !i.sdk
                && i.action == "invoke"
                && matches!(i.pattern, IntegrationPattern::RequestResponse | IntegrationPattern::WaitForTaskToken) =>
        {
            Some(Form::Integration)
        }
        _ => None,
    }
}

/// The function a task's resource and parameters name, if they name one statically
/// (`FunctionName` as a literal, or a function ARN as `Resource`): what `run` checks has
/// a handler before it starts.
pub fn static_function(resource: &Resource, parameters: Option<&Value>) -> Option<String> {
    match form_of(resource)? {
        Form::FunctionArn => match resource {
            Resource::LambdaFunction(f) => Some(f.name.clone()),
            _ => None,
        },
        Form::Integration => {
            let name = parameters?.get("FunctionName")?.as_str()?;
            // A JSONata expression is computed at run time.
            if name.trim_start().starts_with("{%") {
                return None;
            }
            FunctionRef::parse(name).map(|f| f.name)
        }
    }
}

/// Every Task of a definition (recursively into Parallel branches and Map processors)
/// whose function is named statically: (state name, resource, function name).
pub fn static_functions(definition: &Value) -> Vec<(String, Resource, String)> {
    let mut found = Vec::new();
    collect_functions(definition, &mut found);
    found
}

fn collect_functions(machine: &Value, found: &mut Vec<(String, Resource, String)>) {
    let Some(states) = machine.get("States").and_then(Value::as_object) else { return };
    for (name, state) in states {
        match state.get("Type").and_then(Value::as_str) {
            Some("Task") => {
                let resource = state.get("Resource").and_then(Value::as_str).and_then(|r| Resource::parse(r).ok());
                let arguments = state.get("Parameters").or_else(|| state.get("Arguments"));
                if let Some(resource) = resource
                    && let Some(function) = static_function(&resource, arguments)
                {
                    found.push((name.clone(), resource, function));
                }
            }
            Some("Parallel") => {
                for branch in state.get("Branches").and_then(Value::as_array).into_iter().flatten() {
                    collect_functions(branch, found);
                }
            }
            Some("Map") => {
                if let Some(processor) = state.get("ItemProcessor").or_else(|| state.get("Iterator")) {
                    collect_functions(processor, found);
                }
            }
            _ => {}
        }
    }
}

/// Lambda task resources, run by local handlers, or by Lambda on AWS.
pub struct LambdaTasks {
    lambda: Arc<LocalLambda>,
    logs: Option<Arc<dyn HistoryStore>>,
    aws: Option<Arc<AwsLambda>>,
}

impl LambdaTasks {
    /// The tasks, on `lambda`; invocation logs go to `logs` when given.
    pub fn new(lambda: Arc<LocalLambda>, logs: Option<Arc<dyn HistoryStore>>) -> LambdaTasks {
        LambdaTasks { lambda, logs, aws: None }
    }

    /// Every function is invoked on AWS (`backend = "aws"`) instead of locally.
    pub fn on_aws(mut self, aws: Arc<AwsLambda>) -> LambdaTasks {
        self.aws = Some(aws);
        self
    }

    /// A function invoked through Lambda's Invoke API on AWS.
    async fn run_on_aws(&self, aws: Arc<AwsLambda>, request: TaskRequest) -> Result<Value, StatesError> {
        let form = form_of(&request.resource).expect("handles() checked the resource");
        let parameters = &*request.parameters;
        let (call, version_given) = match form {
            Form::FunctionArn => {
                let call = AwsCall {
                    function_name: request.resource.arn().to_owned(),
                    qualifier: None,
                    payload: parameters.to_string(),
                    event: false,
                    tail: false,
                    client_context: None,
                };
                (call, None)
            }
            Form::Integration => {
                let id = invocation_id(&request);
                let (function, payload, event, tail) = self::parameters(parameters, &id)?;
                let call = AwsCall {
                    function_name: parameters["FunctionName"].as_str().unwrap_or_default().to_owned(),
                    qualifier: parameters.get("Qualifier").and_then(Value::as_str).map(str::to_owned),
                    payload: payload.to_string(),
                    event,
                    tail,
                    client_context: parameters.get("ClientContext").and_then(Value::as_str).map(str::to_owned),
                };
                (call, Some(function.executed_version()))
            }
        };
        let answer = service::run(async move { aws.invoke(call).await }).await.map_err(|refusal| {
            let code = refusal.code.clone();
            match code {
                Some(code) => StatesError::new(
                    ErrorName::parse(&format!("Lambda.{code}")),
                    format!(
                        "{} (Service: AWSLambda; Status Code: {}; Error Code: {code}; Request ID: {}; Proxy: null)",
                        refusal.message,
                        refusal.status.unwrap_or(400),
                        refusal.request_id.as_deref().unwrap_or("")
                    ),
                ),
                None => StatesError::new(ErrorName::parse("Lambda.SdkClientException"), refusal.message),
            }
        })?;
        let text = String::from_utf8_lossy(&answer.payload).into_owned();
        if answer.function_error.is_some() {
            let object = serde_json::from_str::<Value>(&text).unwrap_or(Value::Null);
            let name = object.get("errorType").and_then(Value::as_str).unwrap_or("Lambda.Unknown").to_owned();
            return Err(StatesError::new(ErrorName::parse(&name), text));
        }
        let payload = if text.trim().is_empty() {
            if answer.status == 202 { Value::String(String::new()) } else { Value::Null }
        } else {
            serde_json::from_str(&text).map_err(|e| {
                StatesError::new(
                    ErrorName::parse("Lambda.SdkClientException"),
                    format!("the function's answer is not JSON: {e}"),
                )
            })?
        };
        Ok(match form {
            Form::FunctionArn => payload,
            Form::Integration => {
                let version = answer.executed_version.or(version_given).filter(|_| answer.status != 202);
                let mut out = envelope(
                    payload,
                    answer.status as u16,
                    version.as_deref(),
                    &answer.request_id,
                    request.started_millis,
                );
                if let (Some(log), Value::Object(o)) = (answer.log_result, &mut out) {
                    o.insert("LogResult".into(), Value::String(log));
                }
                out
            }
        })
    }

    async fn run(&self, request: TaskRequest) -> Result<Value, StatesError> {
        if let Some(aws) = &self.aws {
            return self.run_on_aws(aws.clone(), request).await;
        }
        let form = form_of(&request.resource).expect("handles() checked the resource");
        let id = invocation_id(&request);
        let (function, payload, event_invocation, tail) = match form {
            Form::FunctionArn => {
                let Resource::LambdaFunction(f) = &*request.resource else { unreachable!("checked by form_of") };
                let function = FunctionRef::parse(f.arn.as_str()).ok_or_else(|| not_found(&f.arn, &id))?;
                (function, (*request.parameters).clone(), false, false)
            }
            Form::Integration => parameters(&request.parameters, &id)?,
        };
        let region = self.lambda.region().to_owned();
        let call = Call {
            event: payload.to_string(),
            request_id: id.clone(),
            client_context: client_context(&request.parameters),
            function: function.clone(),
            state_timeout: request.deadline_millis.map(|deadline| {
                std::time::Duration::from_millis(deadline.saturating_sub(request.started_millis).max(0) as u64)
            }),
        };
        if !self.lambda.has(&function.name) {
            let mut unqualified = function.clone();
            unqualified.qualifier = Some(function.qualifier.clone().unwrap_or_else(|| "$LATEST".into()));
            return Err(not_found(&unqualified.arn(&region), &id));
        }
        if event_invocation {
            let (logs, queued, logged) = (self.logs.clone(), request.clone(), call.clone());
            self.lambda.queue(call, move |invocation| keep_log(logs.as_deref(), &queued, &logged, &invocation));
            return Ok(envelope(Value::String(String::new()), 202, None, &id, request.started_millis));
        }
        let lambda = self.lambda.clone();
        let invocation = service::run({
            let call = call.clone();
            async move { lambda.invoke(&call).await }
        })
        .await
        .expect("the function has a handler");
        keep_log(self.logs.as_deref(), &request, &call, &invocation);
        let payload = outcome(&invocation, &id)?;
        Ok(match form {
            Form::FunctionArn => payload,
            Form::Integration => {
                let mut out = envelope(payload, 200, Some(&function.executed_version()), &id, request.started_millis);
                if tail && let Value::Object(o) = &mut out {
                    o.insert("LogResult".into(), Value::String(log_tail(&invocation.log)));
                }
                out
            }
        })
    }
}

impl TaskAdapter for LambdaTasks {
    fn name(&self) -> &str {
        "lambda"
    }

    fn handles(&self, _state_name: &str, resource: &Resource) -> bool {
        form_of(resource).is_some()
    }

    fn invoke(&self, request: TaskRequest) -> BoxFuture<'_, Result<Value, StatesError>> {
        Box::pin(self.run(request))
    }
}

/// `FunctionName` (with `Qualifier`), `Payload`, whether `InvocationType` is `Event`, and
/// whether `LogType` is `Tail`.
fn parameters(parameters: &Value, id: &str) -> Result<(FunctionRef, Value, bool, bool), StatesError> {
    let invalid = |message: String| {
        StatesError::new(
            ErrorName::Custom("Lambda.InvalidParameterValueException".into()),
            format!(
                "{message} (Service: AWSLambda; Status Code: 400; Error Code: InvalidParameterValueException; Request ID: {id}; Proxy: null)"
            ),
        )
    };
    let name = parameters
        .get("FunctionName")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("FunctionName is required and must be a string".into()))?;
    let mut function = FunctionRef::parse(name).ok_or_else(|| {
        invalid(format!("1 validation error detected: Value '{name}' at 'functionName' failed to satisfy constraint"))
    })?;
    if let Some(qualifier) = parameters.get("Qualifier") {
        let qualifier = qualifier.as_str().ok_or_else(|| invalid("Qualifier must be a string".into()))?;
        if function.qualifier.as_deref().is_some_and(|q| q != qualifier) {
            return Err(invalid(
                "The derived qualifier from the function name does not match the specified qualifier.".into(),
            ));
        }
        function.qualifier = Some(qualifier.to_owned());
    }
    let event = match parameters.get("InvocationType").map(|t| t.as_str()) {
        None | Some(Some("RequestResponse")) => false,
        Some(Some("Event")) => true,
        Some(other) => {
            return Err(invalid(format!(
                "InvocationType {} is not one sfnlite runs (RequestResponse or Event)",
                other.map(str::to_owned).unwrap_or_else(|| "(not a string)".into())
            )));
        }
    };
    let tail = parameters.get("LogType").and_then(Value::as_str) == Some("Tail");
    // No Payload: the function gets an empty object, as from the Lambda console.
    let payload = parameters.get("Payload").cloned().unwrap_or_else(|| Value::Object(Map::new()));
    Ok((function, payload, event, tail))
}

/// `ClientContext` (base64 JSON) decoded, when it is.
fn client_context(parameters: &Value) -> Option<Value> {
    let text = parameters.get("ClientContext")?.as_str()?;
    serde_json::from_slice(&sfnlite_states::base64::decode_lenient(text)).ok()
}

/// `Lambda.ResourceNotFoundException`, as Step Functions reports an unknown function.
fn not_found(arn: &str, id: &str) -> StatesError {
    StatesError::new(
        ErrorName::Custom("Lambda.ResourceNotFoundException".into()),
        format!(
            "Function not found: {arn} (Service: AWSLambda; Status Code: 404; Error Code: ResourceNotFoundException; Request ID: {id}; Proxy: null)"
        ),
    )
}

/// The payload, or the function's error as Step Functions reports it.
pub fn outcome(invocation: &Invocation, id: &str) -> Result<Value, StatesError> {
    let function_error = |object: Value| {
        let name = object.get("errorType").and_then(Value::as_str).unwrap_or("Lambda.Unknown").to_owned();
        StatesError::new(ErrorName::parse(&name), object.to_string())
    };
    match &invocation.reply {
        Reply::Result(text) if text.len() > MAX_RESPONSE_BYTES => Err(function_error(json!({
            "errorMessage": format!("Response payload size exceeded maximum allowed payload size ({} bytes).", MAX_RESPONSE_BYTES + 100),
            "errorType": "Function.ResponseSizeTooLarge",
        }))),
        Reply::Result(text) if text.trim().is_empty() => Ok(Value::Null),
        Reply::Result(text) => serde_json::from_str(text).map_err(|e| {
            function_error(json!({
                "errorMessage": format!("Unable to marshal response: the handler's output is not JSON ({e})"),
                "errorType": "Runtime.MarshalError",
                "requestId": id,
                "stackTrace": [],
            }))
        }),
        Reply::Error(text) => Err(match serde_json::from_str::<Value>(text) {
            Ok(object @ Value::Object(_)) => function_error(object),
            _ => StatesError::new(ErrorName::Custom("Lambda.Unknown".into()), text.clone()),
        }),
        Reply::TimedOut if invocation.state_timed_out => Err(StatesError { error: ErrorName::Timeout, cause: None }),
        Reply::TimedOut => Err(function_error(json!({
            "errorType": "Sandbox.Timedout",
            "errorMessage": format!("RequestId: {id} Error: Task timed out after {:.2} seconds", invocation.timeout.as_secs_f64()),
        }))),
        Reply::Exited(how) => {
            Err(function_error(serde_json::from_str(&crate::lambda::exit_error(id, how)).unwrap_or(Value::Null)))
        }
    }
}

/// Lambda's Invoke response as the Java SDK renders it (what Step Functions returns).
fn envelope(payload: Value, status: u16, version: Option<&str>, id: &str, millis: i64) -> Value {
    let length = if status == 200 { payload.to_string().len() } else { 0 };
    let date = format_http_date(millis);
    let hex: String = id.chars().filter(char::is_ascii_hexdigit).take(24).collect();
    let trace = format!("root=1-{:08x}-{hex:0<24};sampled=0", millis / 1000);
    let mut headers: Vec<(&str, String)> = Vec::with_capacity(8);
    if let Some(version) = version {
        headers.push(("X-Amz-Executed-Version", version.to_owned()));
    }
    headers.extend([
        ("x-amzn-Remapped-Content-Length", "0".to_owned()),
        ("Connection", "keep-alive".to_owned()),
        ("x-amzn-RequestId", id.to_owned()),
        ("Content-Length", length.to_string()),
        ("Date", date),
        ("X-Amzn-Trace-Id", trace),
        ("Content-Type", "application/json".to_owned()),
    ]);
    let mut out = Map::new();
    if let Some(version) = version {
        out.insert("ExecutedVersion".into(), version.into());
    }
    out.insert("Payload".into(), payload);
    out.insert("SdkHttpMetadata".into(), sdk_http_metadata(&headers, status));
    out.insert("SdkResponseMetadata".into(), json!({ "RequestId": id }));
    out.insert("StatusCode".into(), status.into());
    Value::Object(out)
}

/// `LogResult`: the last 4 KB of the log, base64.
fn log_tail(log: &[String]) -> String {
    let text = log.join("\n") + "\n";
    let start = text.len().saturating_sub(4096);
    let start = (start..text.len()).find(|i| text.is_char_boundary(*i)).unwrap_or(text.len());
    sfnlite_states::base64::encode(&text.as_bytes()[start..])
}

/// Keeps an invocation's log in the store (a failure to keep it is reported, not fatal).
fn keep_log(store: Option<&dyn HistoryStore>, request: &TaskRequest, call: &Call, invocation: &Invocation) {
    let Some(store) = store else { return };
    let key = log_key(&request.execution_arn, request.event_id);
    let value = json!({
        "executionArn": request.execution_arn,
        "stateName": request.state_name,
        "eventId": request.event_id,
        "functionName": call.function.name,
        "requestId": call.request_id,
        "lines": invocation.log,
    });
    if let Err(e) = store.put_document(LOG_KIND, &key, &value) {
        tracing::warn!("cannot keep the log of {}: {e}", call.request_id);
    }
}

/// The key of an invocation's log: the execution, then the event id (zero-padded, so
/// keys sort in event order).
pub fn log_key(execution_arn: &str, event_id: u64) -> String {
    format!("{execution_arn}#{event_id:012}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_shape() {
        let out = envelope(json!({"a": 1}), 200, Some("$LATEST"), "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", 0);
        let keys: Vec<&String> = out.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["ExecutedVersion", "Payload", "SdkHttpMetadata", "SdkResponseMetadata", "StatusCode"]);
        assert_eq!(out["SdkHttpMetadata"]["HttpHeaders"]["Content-Length"], "7");
        assert_eq!(out["SdkHttpMetadata"]["AllHttpHeaders"]["Date"], json!(["Thu, 01 Jan 1970 00:00:00 GMT"]));
        assert_eq!(
            out["SdkHttpMetadata"]["HttpHeaders"]["X-Amzn-Trace-Id"],
            "root=1-00000000-0f1e2d3c4b5a69788796a5b4;sampled=0"
        );
        let headers: Vec<&String> = out["SdkHttpMetadata"]["HttpHeaders"].as_object().unwrap().keys().collect();
        assert_eq!(headers[0], "Connection");
        assert_eq!(headers.last().unwrap().as_str(), "X-Amzn-Trace-Id");
        let event = envelope(Value::String(String::new()), 202, None, "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", 0);
        assert!(event.get("ExecutedVersion").is_none());
        assert_eq!(event["StatusCode"], 202);
    }

    #[test]
    fn parameters_are_read_as_lambda_reads_them() {
        let (f, payload, event, tail) =
            parameters(&json!({"FunctionName": "f:live", "InvocationType": "Event", "LogType": "Tail"}), "id").unwrap();
        assert_eq!((f.name.as_str(), f.qualifier.as_deref(), event, tail), ("f", Some("live"), true, true));
        assert_eq!(payload, json!({}));
        let mismatch = parameters(&json!({"FunctionName": "f:1", "Qualifier": "2"}), "id").unwrap_err();
        assert_eq!(mismatch.error, ErrorName::Custom("Lambda.InvalidParameterValueException".into()));
        assert!(parameters(&json!({"Payload": {}}), "id").is_err());
    }

    #[test]
    fn static_names() {
        let invoke = Resource::parse("arn:aws:states:::lambda:invoke").unwrap();
        assert_eq!(
            static_function(&invoke, Some(&json!({"FunctionName": "arn:aws:lambda:us-east-1:1:function:p:$LATEST"}))),
            Some("p".into())
        );
        assert_eq!(static_function(&invoke, Some(&json!({"FunctionName.$": "$.f"}))), None);
        let arn = Resource::parse("arn:aws:lambda:us-east-1:123456789012:function:q").unwrap();
        assert_eq!(static_function(&arn, None), Some("q".into()));
        let machine = json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [
            {"StartAt": "M", "States": {"M": {"Type": "Map", "End": true, "ItemProcessor": {"StartAt": "T", "States": {
                "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Arguments": {"FunctionName": "inner"}, "End": true}}}}}},
            {"StartAt": "J", "States": {"J": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                "Arguments": {"FunctionName": "{% $f %}"}, "End": true}}}]}}});
        let found: Vec<(String, String)> = static_functions(&machine).into_iter().map(|(s, _, f)| (s, f)).collect();
        assert_eq!(found, [("T".to_owned(), "inner".to_owned())]);
    }
}
