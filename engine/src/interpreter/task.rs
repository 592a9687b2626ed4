//! One attempt of a Task state: its input, its events (`Task*`, or `LambdaFunction*` for a
//! function ARN), the adapter's call under the task's timeout, and its result.

use std::sync::Arc;

use serde_json::Value;
use sfnlite_states::definition::TaskState;
use sfnlite_states::eval::fields::{error_text, millis, seconds};
use sfnlite_states::eval::{Env, Exit, arguments, shape_result};
use sfnlite_states::history::EventDetails;
use sfnlite_states::resource::Resource;
use sfnlite_states::{ErrorName, EvalError, StatesError};

use super::recovery::Entry;
use super::{Run, Thread};
use crate::adapter::TaskRequest;

impl<'a> Run<'a> {
    pub(super) async fn task_attempt(
        &self,
        task: &TaskState,
        entry: &Entry<'_>,
        env: &Env<'_>,
        retry_count: u64,
        thread: &mut Thread<'_, 'a>,
    ) -> Result<Exit, EvalError> {
        let scope = env.scope(&entry.effective);
        let parameters = arguments(entry.state, task.parameters.as_ref(), &entry.effective, env)?;
        let credentials = task.credentials.as_ref().map(|c| c.render(&scope, env.entropy)).transpose()?;
        let timeout = seconds(&task.timeout, &scope, env, "TimeoutSeconds")?;
        let heartbeat = seconds(&task.heartbeat, &scope, env, "HeartbeatSeconds")?;
        let lambda = matches!(*task.resource, Resource::LambdaFunction(_));
        let resource = task.resource.history_form();
        if lambda {
            thread.emit(EventDetails::LambdaFunctionScheduled {
                resource: task.resource.arn().to_owned(),
                input: parameters.clone(),
                timeout_seconds: timeout,
            });
            thread.emit(EventDetails::LambdaFunctionStarted);
        } else {
            thread.emit(EventDetails::TaskScheduled {
                resource: resource.clone(),
                region: task.resource.region().unwrap_or(&self.info.region).to_owned(),
                parameters: parameters.clone(),
                timeout_seconds: timeout,
                heartbeat_seconds: heartbeat,
            });
            thread.emit(EventDetails::TaskStarted { resource: resource.clone() });
        }
        let request = TaskRequest {
            state_name: entry.state.name.to_string(),
            resource: task.resource.clone(),
            parameters,
            credentials,
            attempt: retry_count,
            deadline_millis: timeout.map(|t| thread.last_time.saturating_add(millis(t))),
            execution_arn: self.info.arn.clone(),
            event_id: thread.last,
            started_millis: thread.last_time,
        };
        let outcome = self.invoke(request, thread.last).await?;
        match outcome {
            Ok(result) => {
                let result = Arc::new(result);
                thread.emit(if lambda {
                    EventDetails::LambdaFunctionSucceeded { output: result.clone() }
                } else {
                    EventDetails::TaskSucceeded { resource, output: result.clone() }
                });
                shape_result(entry.state, &task.handling, entry.raw.clone(), result, env)
            }
            Err(error) => {
                let (name, cause) = (error_text(&error.error), error.cause.clone());
                let timed_out = error.error == ErrorName::Timeout;
                thread.emit(match (lambda, timed_out) {
                    (true, true) => EventDetails::LambdaFunctionTimedOut { error: name, cause },
                    (true, false) => EventDetails::LambdaFunctionFailed { error: name, cause },
                    (false, true) => EventDetails::TaskTimedOut { resource, error: name, cause },
                    (false, false) => EventDetails::TaskFailed { resource, error: name, cause },
                });
                Err(EvalError::Raised(error))
            }
        }
    }

    /// The task's outcome: read back from the replayed history, or from the adapter (after
    /// the events announcing it are stored), under the task's deadline.
    async fn invoke(&self, request: TaskRequest, last: u64) -> Result<Result<Value, StatesError>, EvalError> {
        let replayed = self.replay.as_ref().and_then(|r| r.task_outcome(last));
        let adapter = self.registry.find(&request.state_name, &request.resource);
        if let Some(outcome) = replayed {
            if let Some(adapter) = adapter {
                adapter.replayed(&request);
            }
            return Ok(outcome);
        }
        let Some(adapter) = adapter else {
            return Ok(Err(StatesError::new(
                ErrorName::Runtime,
                format!(
                    "no task adapter runs the resource '{}' of state '{}' (mock it with --mock-config, or configure an adapter)",
                    request.resource, request.state_name
                ),
            )));
        };
        self.flush()?;
        let deadline = request.deadline_millis;
        let invocation = adapter.invoke(request);
        Ok(match deadline {
            Some(deadline) => tokio::select! {
                result = invocation => result,
                () = self.clock.sleep_until(deadline) => Err(StatesError { error: ErrorName::Timeout, cause: None }),
            },
            None => invocation.await,
        })
    }
}
