//! Nested executions: `arn:aws:states:::states:startExecution` (request-response, `.sync`,
//! `.sync:2`, `.waitForTaskToken`), run through this process's own Step Functions API, so
//! a child is an execution of its own in the store, started exactly as StartExecution
//! starts one.
//!
//! Output as Step Functions returns it: request-response (and `TaskSubmitted` of a
//! `.waitForTaskToken` task) gives `{ExecutionArn, StartDate, SdkHttpMetadata,
//! SdkResponseMetadata}`; `.sync` gives the child's description with `Input`/`Output` as
//! JSON text, `.sync:2` as JSON; dates are epoch milliseconds. A child that does not
//! succeed fails the task with `States.TaskFailed` and its description as the cause. A
//! `.sync` task that is stopped (timeout, abort, a failed sibling) stops its child.

use std::sync::{Arc, OnceLock, Weak};

use serde_json::{Map, Value, json};
use sfnlite_engine::clock::BoxFuture;
use sfnlite_engine::{ExecutionRecord, ExecutionStatus, StopRequest, TaskAdapter, TaskRequest};
use sfnlite_states::resource::{IntegrationPattern, Resource};
use sfnlite_states::timestamp::format_http_date;
use sfnlite_states::{ErrorName, StatesError};

use sfnlite_adapters::{invocation_id, sdk_http_metadata};

use crate::executor::Job;
use crate::sfn::Api;

/// Store documents linking a child execution (the key) to the execution that started it.
pub const PARENT_KIND: &str = "execution-parents";

/// Where the API is, once it exists (it owns the adapters that hold this, so the link is
/// weak), and how to make it exist (`run` starts its API server on first use).
#[derive(Clone, Default)]
pub struct ApiSlot {
    api: Arc<OnceLock<Weak<Api>>>,
    start: Option<Arc<dyn Fn() -> Result<(), String> + Send + Sync>>,
}

impl ApiSlot {
    /// An empty slot; `start` makes the API exist (and fill the slot).
    pub fn new(start: Option<Arc<dyn Fn() -> Result<(), String> + Send + Sync>>) -> ApiSlot {
        ApiSlot { api: Arc::default(), start }
    }

    /// The API is `api`.
    pub fn fill(&self, api: &Arc<Api>) {
        let _ = self.api.set(Arc::downgrade(api));
    }

    /// How many executions run on the API's execution thread (children a `run` started).
    pub fn running_children(&self) -> usize {
        self.api.get().and_then(Weak::upgrade).map_or(0, |api| api.executor.running_count())
    }

    /// Waits until no execution runs on the API's execution thread (children that a `run`
    /// started); returns how many there were.
    pub fn wait_for_children(&self) -> usize {
        let Some(api) = self.api.get().and_then(Weak::upgrade) else { return 0 };
        let running = api.executor.running_count();
        while api.executor.running_count() > 0 {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        running
    }

    fn get(&self) -> Result<Arc<Api>, String> {
        if self.api.get().is_none()
            && let Some(start) = &self.start
        {
            start()?;
        }
        self.api.get().and_then(Weak::upgrade).ok_or_else(|| "this process serves no Step Functions API".to_owned())
    }
}

/// How the resource waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wait {
    /// Request-response, or `.waitForTaskToken` (the token's answer is waited for by the engine).
    Started,
    /// `.sync`: the child's end, `Input`/`Output` as text.
    Sync,
    /// `.sync:2`: the same, as JSON.
    Sync2,
}

fn wait_of(resource: &Resource) -> Option<Wait> {
    let integration = resource.integration().filter(|i| i.service == "states" && !i.sdk)?;
    if integration.action != "startExecution" {
        return None;
    }
    Some(match integration.pattern {
        IntegrationPattern::RequestResponse | IntegrationPattern::WaitForTaskToken => Wait::Started,
        IntegrationPattern::Sync => Wait::Sync,
        IntegrationPattern::Sync2 => Wait::Sync2,
    })
}

/// The `states:startExecution` task adapter.
pub struct NestedExecutions {
    api: ApiSlot,
}

impl NestedExecutions {
    /// Children start through the API in `api`.
    pub fn new(api: ApiSlot) -> NestedExecutions {
        NestedExecutions { api }
    }

    async fn run(&self, request: TaskRequest) -> Result<Value, StatesError> {
        let wait = wait_of(&request.resource).expect("handles() checked the resource");
        let api = self.api.get().map_err(|e| StatesError::new(ErrorName::Runtime, e))?;
        let parameters = &*request.parameters;
        let mut body = Map::new();
        match parameters.get("StateMachineArn") {
            Some(Value::String(arn)) => body.insert("stateMachineArn".into(), json!(arn)),
            _ => {
                return Err(api_error(
                    "ValidationException",
                    "StateMachineArn is required and must be a string",
                    &request,
                ));
            }
        };
        // Without a Name, one derived from this task's invocation (AWS draws one): a resumed
        // parent that starts its child again finds the child it started before.
        let derived = !parameters.get("Name").is_some_and(Value::is_string);
        let name = match parameters.get("Name") {
            Some(Value::String(name)) => name.clone(),
            _ => invocation_id(&request),
        };
        body.insert("name".into(), json!(name));
        // Input: an object is passed as its JSON text; a string as it is.
        let input = match parameters.get("Input") {
            None => "{}".to_owned(),
            Some(Value::String(text)) => text.clone(),
            Some(other) => other.to_string(),
        };
        body.insert("input".into(), json!(input));
        let body = Value::Object(body).to_string();
        if wait != Wait::Started {
            // An EXPRESS child runs synchronously; a STANDARD machine refuses this call.
            match api.call("StartSyncExecution", body.as_bytes()).await {
                Ok(ended) => return express_description(&ended, wait == Wait::Sync2),
                Err(e) if e.name == "StateMachineTypeNotSupported" => {}
                Err(e) => return Err(api_error(e.name, &e.message, &request)),
            }
        }
        let arn = match api.call("StartExecution", body.as_bytes()).await {
            Ok(started) => started["executionArn"].as_str().unwrap_or_default().to_owned(),
            // Started by this task before (the parent was resumed): that child.
            Err(e) if derived && e.name == "ExecutionAlreadyExists" => {
                e.message.split('\'').nth(1).unwrap_or_default().to_owned()
            }
            Err(e) => return Err(api_error(e.name, &e.message, &request)),
        };
        // The link AWS shows in its console: which execution (and state) started the child.
        let link = json!({"parentArn": request.execution_arn, "stateName": request.state_name});
        if let Err(e) = api.store.put_document(PARENT_KIND, &arn, &link) {
            tracing::warn!("cannot record the parent of {arn}: {e}");
        }
        if wait == Wait::Started {
            let record = api.store.execution(&arn).ok().flatten();
            let start_millis = record.map_or(request.started_millis, |r| r.start_millis);
            return Ok(start_response(&arn, start_millis, &request));
        }
        let guard = StopChild { api: api.clone(), arn: arn.clone(), ended: false };
        let record = finished(&api, &arn).await?;
        let mut guard = guard;
        guard.ended = true;
        let described = description(&record, wait == Wait::Sync2);
        if record.status == ExecutionStatus::Succeeded {
            Ok(described)
        } else {
            Err(StatesError::new(ErrorName::TaskFailed, described.to_string()))
        }
    }
}

/// A `.sync` EXPRESS child's end (StartSyncExecution's answer) in the `.sync` shape.
fn express_description(ended: &Value, parsed: bool) -> Result<Value, StatesError> {
    let millis = |key: &str| ended[key].as_f64().map(|s| (s * 1000.0).round() as i64);
    let payload = |key: &str| match ended[key].as_str() {
        Some(text) if parsed => sfnlite_engine::json::from_slice_any_depth(text.as_bytes()).unwrap_or(Value::Null),
        Some(text) => json!(text),
        None => Value::Null,
    };
    let mut out = Map::new();
    if let Some(error) = ended.get("error") {
        out.insert("Cause".into(), ended.get("cause").cloned().unwrap_or(Value::Null));
        out.insert("Error".into(), error.clone());
    }
    out.insert("ExecutionArn".into(), ended["executionArn"].clone());
    out.insert("Input".into(), payload("input"));
    out.insert("InputDetails".into(), json!({"Included": true}));
    out.insert("Name".into(), ended["name"].clone());
    if ended.get("output").is_some() {
        out.insert("Output".into(), payload("output"));
        out.insert("OutputDetails".into(), json!({"Included": true}));
    }
    out.insert("StartDate".into(), json!(millis("startDate")));
    out.insert("StateMachineArn".into(), ended["stateMachineArn"].clone());
    out.insert("Status".into(), ended["status"].clone());
    out.insert("StopDate".into(), json!(millis("stopDate")));
    let described = Value::Object(out);
    if ended["status"] == "SUCCEEDED" {
        Ok(described)
    } else {
        Err(StatesError::new(ErrorName::TaskFailed, described.to_string()))
    }
}

impl TaskAdapter for NestedExecutions {
    fn name(&self) -> &str {
        "states"
    }

    fn handles(&self, _state_name: &str, resource: &Resource) -> bool {
        wait_of(resource).is_some()
    }

    fn invoke(&self, request: TaskRequest) -> BoxFuture<'_, Result<Value, StatesError>> {
        Box::pin(self.run(request))
    }
}

/// Stops a `.sync` child when the parent's task is dropped before the child ended.
struct StopChild {
    api: Arc<Api>,
    arn: String,
    ended: bool,
}

impl Drop for StopChild {
    fn drop(&mut self) {
        if !self.ended {
            self.api.executor.stop(&self.arn, StopRequest { error: None, cause: None });
        }
    }
}

/// Waits for a child's end: it runs on this process's execution thread (a child left
/// RUNNING by a process that died is resumed there first).
async fn finished(api: &Arc<Api>, arn: &str) -> Result<ExecutionRecord, StatesError> {
    let store_error = |e: sfnlite_engine::StoreError| StatesError::new(ErrorName::Runtime, e.to_string());
    let mut resumed = false;
    loop {
        let record = api.store.execution(arn).map_err(store_error)?.ok_or_else(|| {
            StatesError::new(ErrorName::Runtime, format!("the child execution {arn} is not recorded"))
        })?;
        if record.status != ExecutionStatus::Running {
            return Ok(record);
        }
        match api.executor.done(arn) {
            Some(mut done) => {
                // Waited for as a service call is: under the virtual clock, the parent's time
                // does not move while its child runs (children run on the real clock), so its
                // own deadlines (a year at most) do not pass meanwhile.
                sfnlite_adapters::service::run(async move {
                    let _ = done.wait_for(|ended| *ended).await;
                })
                .await;
            }
            None if resumed => {
                // Resumed once and not running, yet RUNNING in the store: it cannot go on here.
                return Err(StatesError::new(
                    ErrorName::Runtime,
                    format!("the child execution {arn} is RUNNING but this process cannot run it"),
                ));
            }
            None => {
                let engine = api
                    .engine(&record.state_machine_name, record.origin.test_case.as_deref())
                    .map_err(|e| StatesError::new(ErrorName::Runtime, e.message))?;
                api.executor.submit(Job::Resume { engine, arn: arn.to_owned() });
                resumed = true;
            }
        }
    }
}

/// The child as `.sync` returns it (the Java SDK's DescribeExecution shape).
fn description(record: &ExecutionRecord, parsed: bool) -> Value {
    let payload = |value: &Value| if parsed { value.clone() } else { json!(value.to_string()) };
    let mut out = Map::new();
    if let Some(error) = &record.error {
        out.insert("Cause".into(), json!(record.cause));
        out.insert("Error".into(), json!(error));
    }
    out.insert("ExecutionArn".into(), json!(record.arn));
    out.insert("Input".into(), payload(&record.input));
    out.insert("InputDetails".into(), json!({"Included": true}));
    out.insert("Name".into(), json!(record.name));
    if let Some(output) = &record.output {
        out.insert("Output".into(), payload(output));
        out.insert("OutputDetails".into(), json!({"Included": true}));
    }
    out.insert("RedriveCount".into(), json!(record.redrive_count));
    out.insert("StartDate".into(), json!(record.start_millis));
    out.insert("StateMachineArn".into(), json!(record.state_machine_arn));
    out.insert("Status".into(), json!(record.status.as_str()));
    if let Some(stop) = record.stop_millis {
        out.insert("StopDate".into(), json!(stop));
    }
    Value::Object(out)
}

/// StartExecution's response as the Java SDK renders it.
fn start_response(arn: &str, start_millis: i64, request: &TaskRequest) -> Value {
    let id = invocation_id(request);
    let headers = [
        ("Content-Type", "application/x-amz-json-1.0".to_owned()),
        ("Date", format_http_date(request.started_millis)),
        ("x-amzn-RequestId", id.clone()),
        ("Connection", "keep-alive".to_owned()),
    ];
    json!({
        "ExecutionArn": arn,
        "SdkHttpMetadata": sdk_http_metadata(&headers, 200),
        "SdkResponseMetadata": {"RequestId": id},
        "StartDate": start_millis,
    })
}

/// An API refusal as the optimized integration reports it (`StepFunctions.<Code>Exception`,
/// the Java SDK's cause).
fn api_error(name: &str, message: &str, request: &TaskRequest) -> StatesError {
    let class = if name.ends_with("Exception") { name.to_owned() } else { format!("{name}Exception") };
    StatesError::new(
        ErrorName::parse(&format!("StepFunctions.{class}")),
        format!(
            "{message} (Service: AWSStepFunctions; Status Code: 400; Error Code: {name}; Request ID: {}; Proxy: null)",
            invocation_id(request)
        ),
    )
}
