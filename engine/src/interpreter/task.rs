//! One attempt of a Task state: its input, its events (`Task*`, or `LambdaFunction*` for a
//! function ARN), the adapter's call under the task's timeout, and its result. A
//! `.waitForTaskToken` task then records `TaskSubmitted` and waits for its token's answer
//! (or its heartbeat or timeout).

use sfnlite_states::history::Payload;

use serde_json::Value;
use sfnlite_states::definition::TaskState;
use sfnlite_states::eval::fields::{error_text, millis, seconds};
use sfnlite_states::eval::{Env, Exit, arguments, shape_result};
use sfnlite_states::history::EventDetails;
use sfnlite_states::resource::{IntegrationPattern, Resource};
use sfnlite_states::{ErrorName, EvalError, StatesError};

use super::recovery::Entry;
use super::tokens::CloseToken;
use super::{Run, Thread};
use crate::adapter::TaskRequest;
use crate::callbacks::{Ended, Opening};

/// What a `.waitForTaskToken` attempt waits with.
struct Waiting {
    token: String,
    /// The state's `Entered` event.
    entered: u64,
    heartbeat: Option<u64>,
    resource: sfnlite_states::history::TaskResource,
}

impl<'a> Run<'a> {
    pub(super) async fn task_attempt(
        &self,
        task: &TaskState,
        entry: &Entry<'_>,
        env: &Env<'_>,
        retry_count: u64,
        token: Option<String>,
        thread: &mut Thread<'_, 'a>,
    ) -> Result<Exit, EvalError> {
        let scope = env.payload_scope(&entry.effective);
        let parameters = arguments(entry.state, task.parameters.as_ref(), &entry.effective, env)?;
        let credentials =
            task.credentials.as_ref().map(|c| c.render_in(&scope, env.entropy).map(|c| c.to_value())).transpose()?;
        let timeout = seconds(&task.timeout, &scope, env, "TimeoutSeconds")?;
        let heartbeat = seconds(&task.heartbeat, &scope, env, "HeartbeatSeconds")?;
        if let Resource::Activity(activity) = &*task.resource {
            let call = super::activity::ActivityCall { activity, input: parameters, timeout, heartbeat, retry_count };
            return self.activity_attempt(task, entry, env, call, thread).await;
        }
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
        let outcome = match token {
            None => self.invoke(request, thread.last).await?,
            Some(token) => {
                let waiting = Waiting { token, entered: entry.entered, heartbeat, resource: resource.clone() };
                self.callback(request, waiting, thread).await?
            }
        };
        match outcome {
            Ok(result) => {
                let result = Payload::new(result);
                thread.emit(if lambda {
                    EventDetails::LambdaFunctionSucceeded { output: result.clone() }
                } else {
                    EventDetails::TaskSucceeded { resource, output: result.clone() }
                });
                shape_result(entry.state, &task.handling, entry.raw.clone(), result, env)
            }
            Err(error) => {
                let (name, cause) = (error_text(&error.error), error.cause.clone());
                let timed_out = matches!(error.error, ErrorName::Timeout | ErrorName::HeartbeatTimeout);
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

    /// True when `task` waits for a token: a `.waitForTaskToken` resource whose adapter
    /// does not answer it itself (a mock's answer is the task's result).
    pub(super) fn waits_for_token(&self, task: &TaskState, state_name: &str) -> bool {
        let callback = task.resource.integration().is_some_and(|i| i.pattern == IntegrationPattern::WaitForTaskToken);
        callback && self.registry.find(state_name, &task.resource).is_none_or(|a| !a.completes_callbacks())
    }

    /// A `.waitForTaskToken` task: opens its token, makes the service call (unless the
    /// replayed history shows it made, or the token was answered already), records
    /// `TaskSubmitted`, then waits for the answer under the task's heartbeat and timeout.
    /// However the wait ends (even cancelled), the token is closed.
    async fn callback(
        &self,
        request: TaskRequest,
        waiting: Waiting,
        thread: &mut Thread<'_, 'a>,
    ) -> Result<Result<Value, StatesError>, EvalError> {
        let replay = self.replay.as_ref();
        let store_failed = |e| self.store_failed(e);
        let (token, deadline) = (waiting.token.as_str(), request.deadline_millis);
        // Histories record a missed heartbeat as States.Timeout; the token knows which it was.
        let replayed = |outcome: Result<Value, StatesError>| match outcome {
            Err(e)
                if e.error == ErrorName::Timeout
                    && self.callbacks.missed_heartbeat(self.store, token).unwrap_or(false) =>
            {
                Err(StatesError { error: ErrorName::HeartbeatTimeout, cause: e.cause })
            }
            other => other,
        };
        if let Some(outcome) = replay.and_then(|r| r.task_outcome(thread.last)) {
            return Ok(replayed(outcome));
        }
        let opening = Opening {
            execution_arn: &self.info.arn,
            state_name: &request.state_name,
            entered: waiting.entered,
            deadline: deadline.filter(|_| !self.clock.is_virtual()),
        };
        self.callbacks.open(self.store, token, opening).map_err(store_failed)?;
        let mut guard = CloseToken::new(self, token);
        let answered = self.callbacks.recorded(self.store, token).map_err(store_failed)?.is_some();
        let submitted = match replay.and_then(|r| r.submitted(thread.last)) {
            Some(output) => output,
            // Answered already (the call was made before a crash, and its answer came): the
            // call is not made again.
            None if answered => Value::Null,
            None => match self.invoke(request, thread.last).await? {
                Ok(output) => output,
                Err(error) => return Ok(Err(error)),
            },
        };
        thread.emit(EventDetails::TaskSubmitted { resource: waiting.resource, output: Payload::new(submitted) });
        if let Some(outcome) = replay.and_then(|r| r.task_outcome(thread.last)) {
            return Ok(replayed(outcome));
        }
        self.flush()?;
        let answers = self.callbacks.listen(self.store, token).map_err(store_failed)?;
        let wait = self.answer(answers, waiting.heartbeat);
        let outcome = match deadline {
            Some(deadline) => tokio::select! {
                // An answer that is already there wins over a deadline that passed meanwhile.
                biased;
                outcome = wait => outcome,
                () = self.clock.sleep_until(deadline) => Err(StatesError { error: ErrorName::Timeout, cause: None }),
            },
            None => wait.await,
        };
        if matches!(&outcome, Err(e) if e.error == ErrorName::HeartbeatTimeout) {
            guard.ended = Ended::Heartbeat;
        }
        Ok(outcome)
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
