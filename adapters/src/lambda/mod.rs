//! Lambda functions run locally, with no Docker: each function maps to a handler
//! (Python, Node.js, or any program), run as the Lambda runtime runs it.
//!
//! - Python and Node.js handlers run in warm workers ([`worker`]): a process per
//!   concurrent invocation, started once (init) and reused, with Lambda's environment
//!   variables and context object.
//! - A `cmd:` handler is a process per invocation.
//! - Every handler reaches sfnlite's own S3, Athena and Step Functions endpoints through
//!   `AWS_ENDPOINT_URL_*` and placeholder credentials, so code written for AWS runs unchanged.
//!
//! [`LocalLambda`] holds the functions and their workers; `tasks::LambdaTasks` puts it
//! behind Task resources with Step Functions' envelopes and errors.

mod aws;
mod functions;
mod worker;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::Semaphore;

pub use self::aws::{AwsAnswer, AwsCall, AwsLambda, AwsRefusal};
pub use self::functions::{
    BadHandler, DEFAULT_CONCURRENCY, DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT, Entry, FunctionConfig, FunctionRef, Runtime,
};
pub use self::worker::groups::kill_all as kill_all_workers;
use self::worker::{Environment, Printed, Worker};
pub(crate) use self::worker::{MAX_RESPONSE_BYTES, Reply, exit_error};

/// The account in local ARNs (the one Step Functions Local and SAM use).
pub const ACCOUNT: &str = "123456789012";

/// `n` random bytes as hex (worker nonces, log stream names).
pub(crate) fn random_hex(n: usize) -> String {
    let mut out = String::with_capacity(n * 2);
    while out.len() < n * 2 {
        out.push_str(&sfnlite_engine::entropy::new_uuid().replace('-', ""));
    }
    out.truncate(n * 2);
    out
}

/// Where sfnlite's own AWS endpoints are, for handlers: the base URL of a loopback
/// server that serves S3, Athena and Step Functions (started on first use by `run`).
pub trait Endpoints: Send + Sync {
    /// The base URL (`http://127.0.0.1:PORT`), or why there is none.
    fn url(&self) -> Result<String, String>;

    /// The access key handlers sign with (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`):
    /// the server's own when it checks signatures, else a placeholder.
    fn credentials(&self) -> (String, String) {
        ("sfnlite".into(), "sfnlite".into())
    }
}

/// The starter of a [`LazyEndpoint`].
pub type Starter = Box<dyn FnOnce() -> Result<String, String> + Send>;

/// An endpoint known later: set when a server has bound its port (`serve`), or started
/// on first use by a starter (`run` starts a loopback server only when a handler runs).
#[derive(Default)]
pub struct LazyEndpoint {
    url: OnceLock<Result<String, String>>,
    starter: Mutex<Option<Starter>>,
    credentials: OnceLock<(String, String)>,
}

impl LazyEndpoint {
    /// An endpoint with neither a URL nor a starter yet.
    pub fn new() -> LazyEndpoint {
        LazyEndpoint::default()
    }

    /// The URL is known.
    pub fn set(&self, url: String) {
        let _ = self.url.set(Ok(url));
    }

    /// The access key handlers sign with (a server that checks signatures accepts it).
    pub fn set_credentials(&self, key: String, secret: String) {
        let _ = self.credentials.set((key, secret));
    }

    /// Starts a server the first time a handler needs one.
    pub fn start_with(&self, starter: Starter) {
        *self.starter.lock().unwrap_or_else(|e| e.into_inner()) = Some(starter);
    }
}

impl Endpoints for LazyEndpoint {
    fn credentials(&self) -> (String, String) {
        self.credentials.get().cloned().unwrap_or_else(|| ("sfnlite".into(), "sfnlite".into()))
    }

    fn url(&self) -> Result<String, String> {
        if let Some(url) = self.url.get() {
            return url.clone();
        }
        // One starter at a time; a failure is not kept, so a later call can still succeed
        // once `set` is called.
        let mut starter = self.starter.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(url) = self.url.get() {
            return url.clone();
        }
        match starter.take() {
            Some(start) => {
                let started = start();
                if started.is_ok() {
                    let _ = self.url.set(started.clone());
                }
                started
            }
            None => Err("sfnlite's endpoints for handlers are not available yet".to_owned()),
        }
    }
}

/// One function: its settings and its warm workers.
struct Function {
    config: FunctionConfig,
    idle: Mutex<Vec<Worker>>,
    permits: Arc<Semaphore>,
    /// The variables its workers start with, once they could be made (the endpoint may
    /// not be known yet when the first invocation comes).
    environment: Mutex<Option<Environment>>,
}

/// One invocation's request.
#[derive(Debug, Clone)]
pub struct Call {
    /// The function as named.
    pub function: FunctionRef,
    /// The event, as JSON text.
    pub event: String,
    /// The request id (`context.aws_request_id`).
    pub request_id: String,
    /// The decoded `ClientContext`, if any.
    pub client_context: Option<Value>,
    /// What remains of the Task state's `TimeoutSeconds`, when it is shorter than the
    /// function's own timeout: the invocation stops then (`States.Timeout`).
    pub state_timeout: Option<Duration>,
}

/// How one invocation went.
#[derive(Debug)]
pub struct Invocation {
    /// The runtime's answer.
    pub(crate) reply: Reply,
    /// The log lines, as CloudWatch Logs would hold them (START, the function's lines,
    /// END, REPORT).
    pub log: Vec<String>,
    /// The function's timeout.
    pub timeout: Duration,
    /// True when the Task state's timeout, not the function's, stopped it.
    pub state_timed_out: bool,
}

/// The local Lambda service: functions by name.
pub struct LocalLambda {
    functions: HashMap<String, Arc<Function>>,
    region: String,
    endpoints: Arc<dyn Endpoints>,
    /// `Event` invocations still running.
    queued: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl LocalLambda {
    /// The functions, in `region`, whose handlers reach sfnlite at `endpoints`.
    pub fn new(functions: Vec<FunctionConfig>, region: &str, endpoints: Arc<dyn Endpoints>) -> LocalLambda {
        let functions = functions
            .into_iter()
            .map(|config| {
                let permits = Arc::new(Semaphore::new(config.concurrency.max(1)));
                let function =
                    Function { config, idle: Mutex::new(Vec::new()), permits, environment: Mutex::new(None) };
                (function.config.name.clone(), Arc::new(function))
            })
            .collect();
        LocalLambda { functions, region: region.to_owned(), endpoints, queued: Mutex::new(Vec::new()) }
    }

    /// Queues an `Event` invocation (it runs on the service runtime); `done` gets its outcome.
    pub fn queue(self: &Arc<Self>, call: Call, done: impl FnOnce(Invocation) + Send + 'static) {
        let lambda = self.clone();
        let handle = crate::service::handle().spawn(async move {
            if let Some(invocation) = lambda.invoke(&call).await {
                done(invocation);
            }
        });
        let mut queued = self.queued.lock().unwrap_or_else(|e| e.into_inner());
        queued.retain(|h| !h.is_finished());
        queued.push(handle);
    }

    /// Waits for the queued `Event` invocations to end (a process that exits would cut
    /// them short; on AWS they run on their own). Call outside any runtime.
    pub fn wait_for_queued(&self) {
        let queued = std::mem::take(&mut *self.queued.lock().unwrap_or_else(|e| e.into_inner()));
        for handle in queued {
            let _ = crate::service::handle().block_on(handle);
        }
    }

    /// True when a handler is mapped to `name`.
    pub fn has(&self, name: &str) -> bool {
        self.functions.contains_key(name)
    }

    /// The mapped function names, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.functions.keys().cloned().collect();
        names.sort();
        names
    }

    /// The region functions run in.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// Runs one invocation to its end; `None` when no handler is mapped to the function.
    /// Runs on the caller's runtime: use [`crate::service::run`] to keep virtual time still.
    pub async fn invoke(&self, call: &Call) -> Option<Invocation> {
        let function = self.functions.get(&call.function.name)?.clone();
        let config = &function.config;
        let failed = |why: String| Invocation {
            reply: Reply::Error(serde_json::json!({"errorType": "Runtime.ExitError", "errorMessage": why}).to_string()),
            log: vec![why],
            timeout: config.timeout,
            state_timed_out: false,
        };
        let environment = {
            let mut cached = function.environment.lock().unwrap_or_else(|e| e.into_inner());
            match &*cached {
                Some(environment) => environment.clone(),
                None => match self.environment(config) {
                    Ok(environment) => cached.insert(environment).clone(),
                    Err(why) => return Some(failed(why)),
                },
            }
        };
        let _permit = function.permits.clone().acquire_owned().await.ok()?;
        let version = call.function.executed_version();
        // The state's timeout stops the invocation when it comes first.
        let (limit, state_limited) = match call.state_timeout {
            Some(state) if state < config.timeout => (state, true),
            _ => (config.timeout, false),
        };
        let (reply, printed, init) = match config.runtime {
            Runtime::Command => {
                let (reply, printed) = worker::run_command(config, &environment, &call.event, limit).await;
                (reply, printed, None)
            }
            Runtime::Python | Runtime::Node => {
                let warm = {
                    let mut idle = function.idle.lock().unwrap_or_else(|e| e.into_inner());
                    std::iter::from_fn(|| idle.pop()).find_map(|mut w| w.alive().then_some(w))
                };
                let mut worker = match warm {
                    Some(worker) => worker,
                    None => match Worker::start(config, &environment).await {
                        Ok(worker) => worker,
                        Err(e) => return Some(failed(worker::exit_error(&call.request_id, &e.to_string()))),
                    },
                };
                let init = worker.init.take();
                // Built now, so that the remaining time does not count the init.
                let request = request_line(call, config.timeout, &self.region);
                let (reply, printed) = worker.invoke(&call.request_id, &request, limit).await;
                if matches!(reply, Reply::Result(_) | Reply::Error(_)) && worker.alive() {
                    function.idle.lock().unwrap_or_else(|e| e.into_inner()).push(worker);
                }
                (reply, printed, init)
            }
        };
        let state_timed_out = state_limited && matches!(reply, Reply::TimedOut);
        let timed_out = matches!(reply, Reply::TimedOut).then_some(limit);
        let log = cloudwatch_lines(&call.request_id, &version, config, printed, init, timed_out);
        Some(Invocation { reply, log, timeout: config.timeout, state_timed_out })
    }

    /// The variables every worker of a function starts with.
    fn environment(&self, config: &FunctionConfig) -> Result<Environment, String> {
        let endpoint = self.endpoints.url()?;
        let (key, secret) = self.endpoints.credentials();
        let now = sfnlite_states::timestamp::format_millis(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or(0),
        );
        let day = now.get(..10).unwrap_or("1970-01-01").replace('-', "/");
        let mut env: Environment = vec![
            ("AWS_LAMBDA_FUNCTION_NAME".into(), config.name.clone()),
            ("AWS_LAMBDA_FUNCTION_VERSION".into(), "$LATEST".into()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE".into(), config.memory_mb.to_string()),
            ("AWS_LAMBDA_FUNCTION_TIMEOUT".into(), config.timeout.as_secs().to_string()),
            ("AWS_LAMBDA_FUNCTION_HANDLER".into(), config.handler_text()),
            ("_HANDLER".into(), config.handler_text()),
            ("AWS_LAMBDA_LOG_GROUP_NAME".into(), format!("/aws/lambda/{}", config.name)),
            // Each worker (sandbox) gets a stream of its own when it starts.
            ("AWS_LAMBDA_LOG_STREAM_NAME".into(), format!("{day}/[$LATEST]")),
            ("AWS_LAMBDA_INITIALIZATION_TYPE".into(), "on-demand".into()),
            ("AWS_EXECUTION_ENV".into(), config.runtime.execution_env().into()),
            ("LAMBDA_TASK_ROOT".into(), config.code_dir.display().to_string()),
            ("AWS_REGION".into(), self.region.clone()),
            ("AWS_DEFAULT_REGION".into(), self.region.clone()),
            ("AWS_ACCESS_KEY_ID".into(), key),
            ("AWS_SECRET_ACCESS_KEY".into(), secret),
            ("AWS_SESSION_TOKEN".into(), "sfnlite".into()),
            ("AWS_ENDPOINT_URL_S3".into(), endpoint.clone()),
            ("AWS_ENDPOINT_URL_ATHENA".into(), endpoint.clone()),
            ("AWS_ENDPOINT_URL_SFN".into(), endpoint),
            ("TZ".into(), ":UTC".into()),
        ];
        env.extend(config.environment.iter().map(|(k, v)| (k.clone(), v.clone())));
        Ok(env)
    }
}

/// The request line a worker reads; the event is embedded as it is (already JSON).
fn request_line(call: &Call, timeout: Duration, region: &str) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
    let deadline = now + timeout.as_millis();
    let arn = Value::String(call.function.arn(region));
    let context = call.client_context.as_ref().map(Value::to_string).unwrap_or_else(|| "null".into());
    format!(
        r#"{{"id":{},"deadline_ms":{deadline},"invoked_function_arn":{arn},"client_context":{context},"event":{}}}"#,
        Value::String(call.request_id.clone()),
        call.event
    )
}

/// The invocation's log as CloudWatch Logs shows it.
fn cloudwatch_lines(
    id: &str,
    version: &str,
    config: &FunctionConfig,
    printed: Printed,
    init: Option<Duration>,
    timed_out: Option<Duration>,
) -> Vec<String> {
    let mut lines = Vec::with_capacity(printed.lines.len() + 4);
    if init.is_some() {
        lines.push(format!(
            "INIT_START Runtime Version: sfnlite-{:?} Handler: {}",
            config.runtime,
            config.handler_text()
        ));
    }
    lines.push(format!("START RequestId: {id} Version: {version}"));
    lines.extend(printed.lines);
    if let Some(after) = timed_out {
        lines.push(format!("{id} Task timed out after {:.2} seconds", after.as_secs_f64()));
    }
    lines.push(format!("END RequestId: {id}"));
    let millis = printed.duration.as_secs_f64() * 1000.0;
    let mut report = format!(
        "REPORT RequestId: {id}\tDuration: {millis:.2} ms\tBilled Duration: {} ms\tMemory Size: {} MB",
        millis.ceil().max(1.0) as u64,
        config.memory_mb
    );
    if let Some(mb) = printed.max_memory_mb {
        report.push_str(&format!("\tMax Memory Used: {mb} MB"));
    }
    if let Some(init) = init {
        report.push_str(&format!("\tInit Duration: {:.2} ms", init.as_secs_f64() * 1000.0));
    }
    if timed_out.is_some() {
        report.push_str("\tStatus: timeout");
    }
    lines.push(report);
    lines
}
