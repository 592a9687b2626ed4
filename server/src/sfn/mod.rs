//! The Step Functions API (awsJson1_0, `X-Amz-Target: AWSStepFunctions.<Operation>`),
//! one file per family of operations, over the engine and the store.

mod activities;
pub mod arn;
mod callbacks;
pub mod error;
mod executions;
pub use executions::ExecutionRun;
mod machines;
mod map_runs;
pub mod model;
mod paging;
pub mod request;
mod tags;
mod test_state;
mod versions;

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use sfnlite_engine::{Callbacks, Clock, Engine, HistoryStore, Registry};

use self::error::ApiError;
use self::request::Request;
use crate::executor::Executor;

/// What runs a state machine's tasks: the caller's adapters (and mocks).
pub trait Adapters: Send + Sync {
    /// The adapters for an execution of `machine` (a MockConfigFile `test_case` when the
    /// execution was started on `<machine ARN>#<test case>`).
    fn registry(&self, machine: &str, test_case: Option<&str>) -> Result<Registry, String>;
}

/// The API's state: the store (the one truth), the execution thread, the adapters.
pub struct Api {
    pub(crate) store: Arc<dyn HistoryStore>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) region: String,
    pub(crate) adapters: Arc<dyn Adapters>,
    pub(crate) executor: Executor,
    /// Serializes changes to the API's documents (read-modify-write).
    pub(crate) changes: Mutex<()>,
    /// Where SendTask* answers go (shared with the engines, and with `run`'s own engine).
    pub(crate) callbacks: Arc<Callbacks>,
    /// Executions this process runs outside the execution thread (`run`'s own).
    pub(crate) local: Arc<LocalRuns>,
}

/// Executions a process runs outside the API's execution thread (the one `run`, `resume`
/// or `redrive` runs): StopExecution reaches them through their stop channel, never by
/// writing to their history from the side.
#[derive(Debug, Default)]
pub struct LocalRuns {
    runs: Mutex<std::collections::HashMap<String, LocalRun>>,
}

#[derive(Debug)]
struct LocalRun {
    stop: Option<tokio::sync::oneshot::Sender<sfnlite_engine::StopRequest>>,
    done: tokio::sync::watch::Receiver<bool>,
}

impl LocalRuns {
    /// Registers an execution: StopExecution sends to the receiver; the sender is to be
    /// told `true` when the execution has ended.
    pub fn register(
        &self,
        arn: &str,
    ) -> (tokio::sync::oneshot::Receiver<sfnlite_engine::StopRequest>, tokio::sync::watch::Sender<bool>) {
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let (ended, done) = tokio::sync::watch::channel(false);
        self.runs.lock().unwrap_or_else(|e| e.into_inner()).insert(arn.to_owned(), LocalRun { stop: Some(stop), done });
        (stopped, ended)
    }

    /// Asks a registered execution to stop; what completes when it has ended.
    pub(crate) fn stop(
        &self,
        arn: &str,
        request: sfnlite_engine::StopRequest,
    ) -> Option<tokio::sync::watch::Receiver<bool>> {
        let mut runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        let run = runs.get_mut(arn)?;
        if *run.done.borrow() {
            return None;
        }
        if let Some(stop) = run.stop.take() {
            let _ = stop.send(request);
        }
        Some(run.done.clone())
    }
}

/// Epoch milliseconds as the API's timestamps: epoch seconds, with milliseconds.
pub fn seconds(millis: i64) -> Value {
    json!(millis as f64 / 1000.0)
}

impl Api {
    /// The API over `store`, running executions on `executor`.
    pub fn new(
        store: Arc<dyn HistoryStore>,
        clock: Arc<dyn Clock>,
        region: &str,
        adapters: Arc<dyn Adapters>,
        executor: Executor,
    ) -> Api {
        Api {
            store,
            clock,
            region: region.to_owned(),
            adapters,
            executor,
            changes: Mutex::new(()),
            callbacks: Arc::default(),
            local: Arc::default(),
        }
    }

    /// Shares the executions this process runs outside the execution thread.
    pub fn with_local_runs(mut self, local: Arc<LocalRuns>) -> Api {
        self.local = local;
        self
    }

    /// Shares the task tokens' answers with other engines of this process.
    pub fn with_callbacks(mut self, callbacks: Arc<Callbacks>) -> Api {
        self.callbacks = callbacks;
        self
    }

    /// An engine for an execution of `machine`, with its adapters.
    pub(crate) fn engine(&self, machine: &str, test_case: Option<&str>) -> Result<Engine, ApiError> {
        let registry = self.adapters.registry(machine, test_case).map_err(ApiError::validation)?;
        Ok(Engine::new(registry, self.clock.clone(), self.store.clone())
            .with_region(&self.region)
            .with_callbacks(self.callbacks.clone()))
    }

    /// An engine for an EXPRESS execution: its history is kept in a store of its own, as
    /// EXPRESS executions are not kept by the STANDARD APIs.
    pub(crate) fn express_engine(&self, machine: &str, test_case: Option<&str>) -> Result<Engine, ApiError> {
        let registry = self.adapters.registry(machine, test_case).map_err(ApiError::validation)?;
        let store = Arc::new(sfnlite_engine::MemoryStore::new());
        Ok(Engine::new(registry, self.clock.clone(), store)
            .with_region(&self.region)
            .with_callbacks(self.callbacks.clone()))
    }

    /// `arn:aws:states:<region>:<account>:<kind>:<name>`.
    pub(crate) fn arn(&self, kind: &str, name: &str) -> String {
        format!("arn:aws:states:{}:{}:{kind}:{name}", self.region, sfnlite_engine::ACCOUNT_ID)
    }

    pub(crate) fn now(&self) -> i64 {
        self.clock.now_millis()
    }

    /// Takes the lock that serializes document changes.
    pub(crate) fn changing(&self) -> std::sync::MutexGuard<'_, ()> {
        self.changes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Answers one operation.
    pub async fn call(&self, operation: &str, body: &[u8]) -> Result<Value, ApiError> {
        let request = Request::parse(body)?;
        match operation {
            "CreateStateMachine" => self.create_state_machine(&request),
            "DescribeStateMachine" => self.describe_state_machine(&request),
            "ListStateMachines" => self.list_state_machines(&request),
            "UpdateStateMachine" => self.update_state_machine(&request),
            "DeleteStateMachine" => self.delete_state_machine(&request),
            "ValidateStateMachineDefinition" => self.validate_definition(&request),
            "PublishStateMachineVersion" => self.publish_version(&request),
            "ListStateMachineVersions" => self.list_versions(&request),
            "DeleteStateMachineVersion" => self.delete_version(&request),
            "CreateStateMachineAlias" => self.create_alias(&request),
            "DescribeStateMachineAlias" => self.describe_alias(&request),
            "UpdateStateMachineAlias" => self.update_alias(&request),
            "ListStateMachineAliases" => self.list_aliases(&request),
            "DeleteStateMachineAlias" => self.delete_alias(&request),
            "StartExecution" => self.start_execution(&request).await,
            "StartSyncExecution" => self.start_sync_execution(&request).await,
            "DescribeExecution" => self.describe_execution(&request),
            "DescribeStateMachineForExecution" => self.describe_machine_for_execution(&request),
            "ListExecutions" => self.list_executions(&request),
            "GetExecutionHistory" => self.get_execution_history(&request),
            "StopExecution" => self.stop_execution(&request).await,
            "RedriveExecution" => self.redrive_execution(&request),
            "CreateActivity" => self.create_activity(&request),
            "DescribeActivity" => self.describe_activity(&request),
            "ListActivities" => self.list_activities(&request),
            "DeleteActivity" => self.delete_activity(&request),
            "GetActivityTask" => self.get_activity_task(&request).await,
            "SendTaskSuccess" => self.send_task_success(&request),
            "SendTaskFailure" => self.send_task_failure(&request),
            "SendTaskHeartbeat" => self.send_task_heartbeat(&request),
            "TagResource" => self.tag_resource(&request),
            "UntagResource" => self.untag_resource(&request),
            "ListTagsForResource" => self.list_tags(&request),
            "TestState" => self.test_state(&request).await,
            "ListMapRuns" => self.list_map_runs(&request),
            "DescribeMapRun" => self.describe_map_run(&request),
            other => Err(ApiError::new("UnknownOperationException", format!("Unknown operation {other}"))),
        }
    }
}
