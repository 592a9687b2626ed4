//! Task adapters: what runs a Task state's `Resource`.
//!
//! Every failure an adapter reports is ASL data ([`StatesError`]) that Retry and Catch see.
//! An adapter is cancelled by dropping its future (on timeout, or when a sibling Map
//! iteration or Parallel branch fails).

use sfnlite_states::history::Payload;
use std::sync::Arc;

use serde_json::Value;
use sfnlite_states::StatesError;
use sfnlite_states::resource::Resource;

use crate::clock::BoxFuture;

/// One invocation of a Task.
#[derive(Debug, Clone)]
pub struct TaskRequest {
    /// The Task state's name.
    pub state_name: String,
    /// The `Resource`, as parsed when the definition was read.
    pub resource: Arc<Resource>,
    /// The effective parameters (after `InputPath` and `Parameters`).
    pub parameters: Payload,
    /// The evaluated `Credentials`, when the state has them.
    pub credentials: Option<Value>,
    /// 0 for the first attempt, then 1, 2, … for retries.
    pub attempt: u64,
    /// When the task times out (epoch milliseconds), if it has a timeout.
    pub deadline_millis: Option<i64>,
    /// The execution's ARN.
    pub execution_arn: String,
    /// The id of the event that started this invocation (`TaskStarted` or
    /// `LambdaFunctionStarted`): unique within the execution and the same when a resumed
    /// execution runs the task again, so adapters derive request ids and log keys from it.
    pub event_id: u64,
    /// When the task started (epoch milliseconds, on the execution's clock).
    pub started_millis: i64,
}

/// Runs Task resources.
pub trait TaskAdapter: Send + Sync {
    /// A short name for messages (`mock`, `athena`, `s3`…).
    fn name(&self) -> &str;

    /// True when this adapter runs `resource` for the state named `state_name`.
    fn handles(&self, state_name: &str, resource: &Resource) -> bool;

    /// Runs the task. The result is the service response (before `ResultSelector`).
    fn invoke(&self, request: TaskRequest) -> BoxFuture<'_, Result<Value, StatesError>>;

    /// Told when a resumed execution takes this invocation's outcome from its stored
    /// history instead of invoking again, so that stateful adapters (mocks that answer
    /// by invocation number) stay in step. Does nothing by default.
    fn replayed(&self, _request: &TaskRequest) {}

    /// True when this adapter's result is a `.waitForTaskToken` task's final answer (a
    /// mock's `Return`), so the task does not wait for its token. False by default.
    fn completes_callbacks(&self) -> bool {
        false
    }
}

/// The adapters of an engine, tried in order.
#[derive(Default, Clone)]
pub struct Registry {
    adapters: Vec<Arc<dyn TaskAdapter>>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Registry {
        Registry::default()
    }

    /// Adds an adapter; earlier adapters win.
    pub fn register(&mut self, adapter: Arc<dyn TaskAdapter>) {
        self.adapters.push(adapter);
    }

    /// The adapter for a task, if any.
    pub fn find(&self, state_name: &str, resource: &Resource) -> Option<&Arc<dyn TaskAdapter>> {
        self.adapters.iter().find(|a| a.handles(state_name, resource))
    }
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.adapters.iter().map(|a| a.name())).finish()
    }
}
