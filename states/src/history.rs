//! History events in the shape of AWS `GetExecutionHistory`.
//!
//! An event is `{"timestamp", "type", "id", "previousEventId", "<kind>EventDetails": {…}}`.
//! Payloads (`input`, `output`, `parameters`) are JSON *text* in AWS's format; here they are
//! kept as values and turned into text only when an event is rendered, so recording an
//! event on the hot path costs no serialization.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use serde::{Deserialize, Serialize};

pub use crate::definition::StateType;
use crate::timestamp::format_millis;

/// A payload carried by events (`input`, `output`, `parameters`): shared with the
/// running execution, so recording an event copies no JSON.
pub use crate::payload::Payload;

/// One history event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEvent {
    /// 1-based, consecutive within an execution.
    pub id: u64,
    /// The event this one follows from (0 for the first).
    pub previous_event_id: u64,
    /// Epoch milliseconds.
    pub timestamp: i64,
    /// The type and its details.
    pub details: EventDetails,
}

/// Where a task runs: the `resourceType` and `resource` of task events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskResource {
    /// e.g. `lambda`, `athena`, `aws-sdk:s3`.
    pub resource_type: String,
    /// e.g. `invoke`, `startQueryExecution.sync`, `getObject`.
    pub resource: String,
}

/// The event types and their details. Variant names are AWS's `type` values.
/// The serde form (used by stores) is internal and versioned by the store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum EventDetails {
    ExecutionStarted {
        input: Payload,
        role_arn: String,
    },
    ExecutionSucceeded {
        output: Payload,
    },
    ExecutionFailed {
        error: Option<String>,
        cause: Option<String>,
    },
    ExecutionTimedOut {
        error: Option<String>,
        cause: Option<String>,
    },
    ExecutionAborted {
        error: Option<String>,
        cause: Option<String>,
    },
    /// The execution was redriven (AWS RedriveExecution); `redrive_count` counts redrives so far.
    ExecutionRedriven {
        redrive_count: u32,
    },
    /// `<Type>StateEntered`, e.g. `TaskStateEntered`.
    StateEntered {
        state_type: StateType,
        name: Arc<str>,
        input: Payload,
    },
    /// `<Type>StateExited`; `assigned_variables` holds what the state's `Assign` set.
    StateExited {
        state_type: StateType,
        name: Arc<str>,
        output: Payload,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        assigned_variables: Option<Arc<Map<String, Value>>>,
    },
    TaskScheduled {
        resource: TaskResource,
        region: String,
        parameters: Payload,
        timeout_seconds: Option<u64>,
        heartbeat_seconds: Option<u64>,
    },
    TaskStarted {
        resource: TaskResource,
    },
    /// A `.waitForTaskToken` task's service call returned; the task now waits for its token.
    TaskSubmitted {
        resource: TaskResource,
        output: Payload,
    },
    TaskSucceeded {
        resource: TaskResource,
        output: Payload,
    },
    TaskFailed {
        resource: TaskResource,
        error: Option<String>,
        cause: Option<String>,
    },
    TaskTimedOut {
        resource: TaskResource,
        error: Option<String>,
        cause: Option<String>,
    },
    /// An activity task waits for a worker (GetActivityTask).
    ActivityScheduled {
        resource: String,
        input: Payload,
        timeout_seconds: Option<u64>,
        heartbeat_seconds: Option<u64>,
    },
    /// A worker took the activity task.
    ActivityStarted {
        worker_name: Option<String>,
    },
    ActivitySucceeded {
        output: Payload,
    },
    ActivityFailed {
        error: Option<String>,
        cause: Option<String>,
    },
    ActivityTimedOut {
        error: Option<String>,
        cause: Option<String>,
    },
    LambdaFunctionScheduled {
        resource: String,
        input: Payload,
        timeout_seconds: Option<u64>,
    },
    LambdaFunctionStarted,
    LambdaFunctionSucceeded {
        output: Payload,
    },
    LambdaFunctionFailed {
        error: Option<String>,
        cause: Option<String>,
    },
    LambdaFunctionTimedOut {
        error: Option<String>,
        cause: Option<String>,
    },
    MapStateStarted {
        length: usize,
    },
    MapStateSucceeded,
    MapStateFailed,
    MapStateAborted,
    /// A distributed Map's Map Run started: its child executions run.
    MapRunStarted {
        map_run_arn: String,
    },
    MapRunSucceeded,
    MapRunFailed {
        error: Option<String>,
        cause: Option<String>,
    },
    MapRunAborted,
    /// A redriven parent redrives its failed Map Run (the `redrive_count`-th time).
    MapRunRedriven {
        map_run_arn: String,
        redrive_count: u32,
    },
    MapIterationStarted {
        name: Arc<str>,
        index: usize,
    },
    MapIterationSucceeded {
        name: Arc<str>,
        index: usize,
    },
    MapIterationFailed {
        name: Arc<str>,
        index: usize,
    },
    MapIterationAborted {
        name: Arc<str>,
        index: usize,
    },
    ParallelStateStarted,
    ParallelStateSucceeded,
    ParallelStateFailed,
    ParallelStateAborted,
    WaitStateAborted {
        name: Arc<str>,
    },
}

impl EventDetails {
    /// The payloads the event carries (a store writes their large shared parts once).
    pub fn payloads_mut(&mut self) -> Vec<&mut Payload> {
        use EventDetails::*;
        match self {
            ExecutionStarted { input, .. }
            | StateEntered { input, .. }
            | ActivityScheduled { input, .. }
            | LambdaFunctionScheduled { input, .. } => vec![input],
            ExecutionSucceeded { output }
            | StateExited { output, .. }
            | TaskSubmitted { output, .. }
            | TaskSucceeded { output, .. }
            | ActivitySucceeded { output }
            | LambdaFunctionSucceeded { output } => vec![output],
            TaskScheduled { parameters, .. } => vec![parameters],
            _ => Vec::new(),
        }
    }

    /// The AWS `type` of the event.
    pub fn type_name(&self) -> String {
        use EventDetails::*;
        let fixed = match self {
            StateEntered { state_type, .. } => return format!("{}StateEntered", state_type.as_str()),
            StateExited { state_type, .. } => return format!("{}StateExited", state_type.as_str()),
            ExecutionStarted { .. } => "ExecutionStarted",
            ExecutionSucceeded { .. } => "ExecutionSucceeded",
            ExecutionFailed { .. } => "ExecutionFailed",
            ExecutionTimedOut { .. } => "ExecutionTimedOut",
            ExecutionAborted { .. } => "ExecutionAborted",
            ExecutionRedriven { .. } => "ExecutionRedriven",
            TaskScheduled { .. } => "TaskScheduled",
            TaskStarted { .. } => "TaskStarted",
            TaskSubmitted { .. } => "TaskSubmitted",
            TaskSucceeded { .. } => "TaskSucceeded",
            TaskFailed { .. } => "TaskFailed",
            TaskTimedOut { .. } => "TaskTimedOut",
            ActivityScheduled { .. } => "ActivityScheduled",
            ActivityStarted { .. } => "ActivityStarted",
            ActivitySucceeded { .. } => "ActivitySucceeded",
            ActivityFailed { .. } => "ActivityFailed",
            ActivityTimedOut { .. } => "ActivityTimedOut",
            LambdaFunctionScheduled { .. } => "LambdaFunctionScheduled",
            LambdaFunctionStarted => "LambdaFunctionStarted",
            LambdaFunctionSucceeded { .. } => "LambdaFunctionSucceeded",
            LambdaFunctionFailed { .. } => "LambdaFunctionFailed",
            LambdaFunctionTimedOut { .. } => "LambdaFunctionTimedOut",
            MapStateStarted { .. } => "MapStateStarted",
            MapStateSucceeded => "MapStateSucceeded",
            MapStateFailed => "MapStateFailed",
            MapStateAborted => "MapStateAborted",
            MapRunStarted { .. } => "MapRunStarted",
            MapRunSucceeded => "MapRunSucceeded",
            MapRunFailed { .. } => "MapRunFailed",
            MapRunAborted => "MapRunAborted",
            MapRunRedriven { .. } => "MapRunRedriven",
            MapIterationStarted { .. } => "MapIterationStarted",
            MapIterationSucceeded { .. } => "MapIterationSucceeded",
            MapIterationFailed { .. } => "MapIterationFailed",
            MapIterationAborted { .. } => "MapIterationAborted",
            ParallelStateStarted => "ParallelStateStarted",
            ParallelStateSucceeded => "ParallelStateSucceeded",
            ParallelStateFailed => "ParallelStateFailed",
            ParallelStateAborted => "ParallelStateAborted",
            WaitStateAborted { .. } => "WaitStateAborted",
        };
        fixed.to_owned()
    }

    /// The state name the event concerns, if any (for tables and filters).
    pub fn state_name(&self) -> Option<&str> {
        match self {
            EventDetails::StateEntered { name, .. }
            | EventDetails::StateExited { name, .. }
            | EventDetails::MapIterationStarted { name, .. }
            | EventDetails::MapIterationSucceeded { name, .. }
            | EventDetails::MapIterationFailed { name, .. }
            | EventDetails::MapIterationAborted { name, .. }
            | EventDetails::WaitStateAborted { name } => Some(name),
            _ => None,
        }
    }

    /// The details object and the key it goes under, e.g. `("taskFailedEventDetails", {...})`.
    fn details_json(&self) -> Option<(&'static str, Value)> {
        use EventDetails::*;
        let err = |error: &Option<String>, cause: &Option<String>| {
            let mut m = Map::new();
            if let Some(e) = error {
                m.insert("error".into(), json!(e));
            }
            if let Some(c) = cause {
                m.insert("cause".into(), json!(c));
            }
            m
        };
        let res = |r: &TaskResource| {
            let mut m = Map::new();
            m.insert("resourceType".into(), json!(r.resource_type));
            m.insert("resource".into(), json!(r.resource));
            m
        };
        let payload = |key: &str, value: &Payload, m: &mut Map<String, Value>| {
            m.insert(key.into(), json!(text(value)));
            m.insert(format!("{key}Details"), json!({"truncated": false}));
        };
        let out = match self {
            ExecutionStarted { input, role_arn } => {
                let mut m = Map::new();
                payload("input", input, &mut m);
                m.insert("roleArn".into(), json!(role_arn));
                ("executionStartedEventDetails", m)
            }
            ExecutionSucceeded { output } => {
                let mut m = Map::new();
                payload("output", output, &mut m);
                ("executionSucceededEventDetails", m)
            }
            ExecutionFailed { error, cause } => ("executionFailedEventDetails", err(error, cause)),
            ExecutionTimedOut { error, cause } => ("executionTimedOutEventDetails", err(error, cause)),
            ExecutionAborted { error, cause } => ("executionAbortedEventDetails", err(error, cause)),
            ExecutionRedriven { redrive_count } => {
                ("executionRedrivenEventDetails", json_map(json!({"redriveCount": redrive_count})))
            }
            StateEntered { name, input, .. } => {
                let mut m = Map::new();
                m.insert("name".into(), json!(&**name));
                payload("input", input, &mut m);
                ("stateEnteredEventDetails", m)
            }
            StateExited { name, output, assigned_variables, .. } => {
                let mut m = Map::new();
                m.insert("name".into(), json!(&**name));
                payload("output", output, &mut m);
                if let Some(assigned) = assigned_variables {
                    let texts: Map<String, Value> = assigned.iter().map(|(k, v)| (k.clone(), json!(text(v)))).collect();
                    m.insert("assignedVariables".into(), Value::Object(texts));
                    m.insert("assignedVariablesDetails".into(), json!({"truncated": false}));
                }
                ("stateExitedEventDetails", m)
            }
            TaskScheduled { resource, region, parameters, timeout_seconds, heartbeat_seconds } => {
                let mut m = res(resource);
                m.insert("region".into(), json!(region));
                m.insert("parameters".into(), json!(text(parameters)));
                if let Some(t) = timeout_seconds {
                    m.insert("timeoutInSeconds".into(), json!(t));
                }
                if let Some(h) = heartbeat_seconds {
                    m.insert("heartbeatInSeconds".into(), json!(h));
                }
                ("taskScheduledEventDetails", m)
            }
            TaskStarted { resource } => ("taskStartedEventDetails", res(resource)),
            TaskSubmitted { resource, output } => {
                let mut m = res(resource);
                payload("output", output, &mut m);
                ("taskSubmittedEventDetails", m)
            }
            TaskSucceeded { resource, output } => {
                let mut m = res(resource);
                payload("output", output, &mut m);
                ("taskSucceededEventDetails", m)
            }
            TaskFailed { resource, error, cause } => {
                let mut m = res(resource);
                m.extend(err(error, cause));
                ("taskFailedEventDetails", m)
            }
            TaskTimedOut { resource, error, cause } => {
                let mut m = res(resource);
                m.extend(err(error, cause));
                ("taskTimedOutEventDetails", m)
            }
            ActivityScheduled { resource, input, timeout_seconds, heartbeat_seconds } => {
                let mut m = Map::new();
                m.insert("resource".into(), json!(resource));
                payload("input", input, &mut m);
                if let Some(t) = timeout_seconds {
                    m.insert("timeoutInSeconds".into(), json!(t));
                }
                if let Some(h) = heartbeat_seconds {
                    m.insert("heartbeatInSeconds".into(), json!(h));
                }
                ("activityScheduledEventDetails", m)
            }
            ActivityStarted { worker_name } => {
                let mut m = Map::new();
                if let Some(name) = worker_name {
                    m.insert("workerName".into(), json!(name));
                }
                ("activityStartedEventDetails", m)
            }
            ActivitySucceeded { output } => {
                let mut m = Map::new();
                payload("output", output, &mut m);
                ("activitySucceededEventDetails", m)
            }
            ActivityFailed { error, cause } => ("activityFailedEventDetails", err(error, cause)),
            ActivityTimedOut { error, cause } => ("activityTimedOutEventDetails", err(error, cause)),
            LambdaFunctionScheduled { resource, input, timeout_seconds } => {
                let mut m = Map::new();
                m.insert("resource".into(), json!(resource));
                payload("input", input, &mut m);
                if let Some(t) = timeout_seconds {
                    m.insert("timeoutInSeconds".into(), json!(t));
                }
                ("lambdaFunctionScheduledEventDetails", m)
            }
            LambdaFunctionSucceeded { output } => {
                let mut m = Map::new();
                payload("output", output, &mut m);
                ("lambdaFunctionSucceededEventDetails", m)
            }
            LambdaFunctionFailed { error, cause } => ("lambdaFunctionFailedEventDetails", err(error, cause)),
            LambdaFunctionTimedOut { error, cause } => ("lambdaFunctionTimedOutEventDetails", err(error, cause)),
            MapStateStarted { length } => ("mapStateStartedEventDetails", json_map(json!({"length": length}))),
            MapRunStarted { map_run_arn } => ("mapRunStartedEventDetails", json_map(json!({"mapRunArn": map_run_arn}))),
            MapRunFailed { error, cause } => ("mapRunFailedEventDetails", err(error, cause)),
            MapRunRedriven { map_run_arn, redrive_count } => (
                "mapRunRedrivenEventDetails",
                json_map(json!({"mapRunArn": map_run_arn, "redriveCount": redrive_count})),
            ),
            MapIterationStarted { name, index } => ("mapIterationStartedEventDetails", iteration(name, *index)),
            MapIterationSucceeded { name, index } => ("mapIterationSucceededEventDetails", iteration(name, *index)),
            MapIterationFailed { name, index } => ("mapIterationFailedEventDetails", iteration(name, *index)),
            MapIterationAborted { name, index } => ("mapIterationAbortedEventDetails", iteration(name, *index)),
            LambdaFunctionStarted
            | MapRunSucceeded
            | MapRunAborted
            | MapStateSucceeded
            | MapStateFailed
            | MapStateAborted
            | ParallelStateStarted
            | ParallelStateSucceeded
            | ParallelStateFailed
            | ParallelStateAborted
            | WaitStateAborted { .. } => return None,
        };
        Some((out.0, Value::Object(out.1)))
    }
}

fn iteration(name: &str, index: usize) -> Map<String, Value> {
    json_map(json!({"name": name, "index": index}))
}

fn json_map(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// Compact JSON text (a payload in the form it was made in: rendering builds no other).
fn text(value: &impl Serialize) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

impl HistoryEvent {
    /// The event as AWS `GetExecutionHistory` returns it (timestamps as ISO 8601 text).
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("timestamp".into(), json!(format_millis(self.timestamp)));
        m.insert("type".into(), json!(self.details.type_name()));
        m.insert("id".into(), json!(self.id));
        // AWS shows the first state's entry as following nothing, like ExecutionStarted.
        let previous = match self.details {
            EventDetails::StateEntered { .. } if self.previous_event_id == 1 => 0,
            _ => self.previous_event_id,
        };
        m.insert("previousEventId".into(), json!(previous));
        if let Some((key, details)) = self.details.details_json() {
            m.insert(key.into(), details);
        }
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_resources_split_like_aws() {
        let form = |arn: &str| crate::resource::Resource::parse(arn).unwrap().history_form();
        let r = form("arn:aws:states:::athena:startQueryExecution.sync");
        assert_eq!((r.resource_type.as_str(), r.resource.as_str()), ("athena", "startQueryExecution.sync"));
        let r = form("arn:aws:states:::aws-sdk:s3:getObject");
        assert_eq!((r.resource_type.as_str(), r.resource.as_str()), ("aws-sdk:s3", "getObject"));
        let r = form("arn:aws:states:::lambda:invoke");
        assert_eq!((r.resource_type.as_str(), r.resource.as_str()), ("lambda", "invoke"));
        let r = form("arn:aws:states:::states:startExecution.sync:2");
        assert_eq!((r.resource_type.as_str(), r.resource.as_str()), ("states", "startExecution.sync:2"));
    }

    #[test]
    fn events_render_in_aws_shape() {
        let event = HistoryEvent {
            id: 2,
            previous_event_id: 1,
            timestamp: 0,
            details: EventDetails::StateEntered {
                state_type: StateType::Pass,
                name: "P".into(),
                input: Payload::new(json!({"a": 1})),
            },
        };
        assert_eq!(
            event.to_json(),
            json!({
                // AWS (recorded): the first state's entry follows nothing, like ExecutionStarted.
                "timestamp": "1970-01-01T00:00:00.000Z", "type": "PassStateEntered", "id": 2, "previousEventId": 0,
                "stateEnteredEventDetails": {"name": "P", "input": "{\"a\":1}", "inputDetails": {"truncated": false}}
            })
        );
        // A payload made as a persistent value renders the same text, and rendering leaves
        // no `serde_json` copy in it (events share their payloads with the execution).
        let input = Payload::from_json(crate::json::Json::from(json!({"a": 1})));
        let shared = HistoryEvent {
            details: EventDetails::StateEntered { state_type: StateType::Pass, name: "P".into(), input: input.clone() },
            ..event.clone()
        };
        assert_eq!(shared.to_json(), event.to_json());
        assert!(input.value_if_made().is_none());
    }
}
